//! One TCP endpoint (`struct tcp_sock`): the send queue with its
//! congestion control and retransmission timer, the receive queue with its
//! window and delayed ACKs, the connection's end (FIN, RST), and
//! `MSG_ZEROCOPY` completions.
//!
//! An endpoint never touches the network itself: every handler takes the
//! current time and pushes the packets it wants sent onto an output list,
//! which the [`crate::Network`] routes over the connection's link. Timers
//! are deadlines the network turns into events.

mod congestion;
mod recv_queue;
mod repair;
mod send_queue;
mod zerocopy;

use std::sync::Arc;

use page_refs::{Content, Holder, PageArena, PageId, Source};
use smallvec::SmallVec;

pub use congestion::{INIT_CWND, MAX_RETRIES, RTO_INIT, RTO_MAX, RTO_MIN};
pub(crate) use congestion::{Reno, RtoEstimator};
pub(crate) use recv_queue::{Accepted, Data, RecvQueue, Seg};
pub use recv_queue::{Altered, Piece};
pub(crate) use send_queue::SendQueue;
pub use zerocopy::Completion;
pub(crate) use zerocopy::ZeroCopy;

use crate::seq::{after, before, dist, max_seq};
use crate::time::{Duration, Instant};

/// Identifies an endpoint within its [`crate::Network`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SockId(pub u32);

impl SockId {
    /// The `Holder::socket` object of this endpoint's send queue.
    pub fn send_object(self) -> u32 {
        self.0 << 1
    }

    /// The `Holder::socket` object of this endpoint's receive queue.
    pub fn recv_object(self) -> u32 {
        (self.0 << 1) | 1
    }

    /// The endpoint and queue a `Holder::socket` object names: `(socket,
    /// true)` for a send queue, `(socket, false)` for a receive queue.
    pub fn from_object(object: u32) -> (SockId, bool) {
        (SockId(object >> 1), object & 1 == 0)
    }
}

/// Why a send failed, named for the errno it becomes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SockError {
    /// `EPIPE`: the connection is closed for sending.
    Pipe,
    /// `ECONNRESET`: the peer reset the connection.
    ConnReset,
    /// `ETIMEDOUT`: retransmissions gave up.
    TimedOut,
    /// The call must wait for the network: `EAGAIN` for a nonblocking
    /// caller; a blocking caller lets simulated time pass and retries.
    WouldBlock,
}

/// Packet flags.
pub(crate) const FIN: u8 = 1;
pub(crate) const RST: u8 = 2;
/// A zero-window probe: the receiver answers with an ACK at once.
pub(crate) const PROBE: u8 = 4;

/// Runs of one byte value: `(byte, count)`, a segment's worth.
pub(crate) type Runs = SmallVec<[(u8, u32); 4]>;

/// A page fragment travelling to a loopback receiver; its reference is
/// already held for the receiver (`Holder::socket(peer recv, seq)`).
#[derive(Clone, Debug)]
pub(crate) struct LoopFrag {
    pub page: PageId,
    pub off: usize,
    pub len: usize,
    pub seq: u32,
    pub meant: Option<(Arc<Content>, usize, u32)>,
}

/// What a packet carries.
#[derive(Clone, Debug)]
pub(crate) enum Payload {
    /// Nothing (ACK, FIN, RST, probe).
    Empty,
    /// Bytes read from the pages when the segment was (re)transmitted.
    Bytes(Vec<u8>),
    /// The same, when every page read was uniform: `(byte, count)` runs.
    Runs(Runs),
    /// Loopback: the sender's page fragments themselves.
    Frags(Vec<LoopFrag>),
}

impl Payload {
    pub fn len(&self) -> usize {
        match self {
            Payload::Empty => 0,
            Payload::Bytes(b) => b.len(),
            Payload::Runs(r) => r.iter().map(|&(_, n)| n as usize).sum(),
            Payload::Frags(f) => f.iter().map(|f| f.len).sum(),
        }
    }

    /// Release the references a loopback payload holds for `to`.
    pub fn release(self, pages: &mut PageArena, to: SockId) {
        if let Payload::Frags(frags) = self {
            for f in frags {
                pages.put(f.page, Holder::socket(to.recv_object(), f.seq));
            }
        }
    }
}

/// A TCP segment between two endpoints of one connection.
#[derive(Clone, Debug)]
pub(crate) struct Packet {
    pub from: SockId,
    pub to: SockId,
    pub seq: u32,
    pub ack: u32,
    pub wnd: u32,
    pub flags: u8,
    pub payload: Payload,
    /// Payload bytes that differ from what the sending program meant.
    pub altered: u32,
}

/// One of an endpoint's timers: the deadline it wants, and the earliest
/// event the network has scheduled for it.
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct Timer {
    pub deadline: Option<Instant>,
    pub scheduled: Option<Instant>,
}

/// The timers of an endpoint.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum TimerKind {
    Rto = 0,
    Delack = 1,
    Persist = 2,
}

/// Counters of one endpoint.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SockStats {
    /// Data segments sent, retransmissions included.
    pub segments: u64,
    /// Data segments retransmitted.
    pub retransmits: u64,
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// Fast retransmits (third duplicate ACK).
    pub fast_retransmits: u64,
    /// Pure ACKs sent.
    pub acks: u64,
}

/// Sizes of an endpoint's buffers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SockConfig {
    /// Payload bytes the send queue may hold (`SO_SNDBUF`).
    pub sndbuf: usize,
    /// Payload bytes the receive queue may hold (`SO_RCVBUF`).
    pub rcvbuf: usize,
    /// Initial sequence number of data this endpoint sends.
    pub isn: u32,
    /// Consecutive retransmission timeouts (or unanswered window probes)
    /// before the connection is given up (`tcp_retries2`).
    pub retries: u32,
}

impl Default for SockConfig {
    /// 4 MiB send buffer (`tcp_wmem[2]`), 128 KiB receive buffer
    /// (`tcp_rmem[1]`), ISN 0, 15 retries.
    fn default() -> Self {
        SockConfig { sndbuf: 4 << 20, rcvbuf: 128 << 10, isn: 0, retries: MAX_RETRIES }
    }
}

/// Linux's quick ACKs at the start of a connection (`TCP_MAX_QUICKACKS`).
const QUICKACKS: u32 = 16;

/// One endpoint.
#[derive(Clone, Debug)]
pub(crate) struct Sock {
    pub id: SockId,
    pub peer: SockId,
    pub loopback: bool,
    pub mss: u32,
    pub delack: Duration,
    pub sndbuf: usize,
    max_retries: u32,
    /// Window probes sent without an answer.
    probes_out: u32,
    pub snd: SendQueue,
    /// The peer's last advertised window.
    pub snd_wnd: u32,
    pub cc: Reno,
    pub rto: RtoEstimator,
    pub rcv: RecvQueue,
    /// The right edge of the window last advertised.
    adv_edge: u32,
    /// In-order bytes received since the last ACK sent.
    unacked: usize,
    quickack: u32,
    /// The peer's FIN, once seen (it may come out of order).
    peer_fin: Option<u32>,
    /// The program closed: a FIN follows the queued data.
    pub fin_queued: bool,
    /// Our FIN was acknowledged.
    pub fin_acked: bool,
    /// The peer's FIN was received in order (`SOCK_DONE`).
    pub fin_rcvd: bool,
    /// The connection is dead (`tcp_done`): reads see end of file, writes
    /// `EPIPE`.
    pub reset: bool,
    /// The pending error (`sk_err`), consumed by the next call that
    /// reports it.
    pub err: Option<SockError>,
    /// No descriptor refers to it any more.
    pub orphan: bool,
    /// `MSG_MORE` / `SPLICE_F_MORE` on the last send: hold a partial
    /// segment.
    pub corked: bool,
    /// End of the last segment sent shorter than the MSS (`snd_sml`, for
    /// Minshall's Nagle).
    snd_sml: u32,
    pub zc: ZeroCopy,
    pub timers: [Timer; 3],
    persist_backoff: u32,
    pub stats: SockStats,
    /// Bytes of ours the peer acknowledged, in all.
    pub acked_total: u64,
    /// Reused buffer for released zerocopy ids.
    zc_scratch: Vec<u32>,
    /// The host whose memory holds this endpoint's pages (0 unless
    /// several hosts share the network).
    pub host: u32,
    /// Frozen for a checkpoint or a migration: arriving packets are
    /// dropped and timers do not fire.
    pub frozen: bool,
}

impl Sock {
    pub fn new(id: SockId, peer: SockId, mode: &crate::link::Mode, cfg: SockConfig, peer_isn: u32) -> Self {
        let (loopback, mss, delack) = match mode {
            crate::link::Mode::Loopback => (true, crate::link::LOOPBACK_MSS, Duration(0)),
            crate::link::Mode::Link(p) => (false, p.mss, p.delack),
        };
        let rcv = RecvQueue::new(id.recv_object(), peer_isn, cfg.rcvbuf);
        let adv_edge = peer_isn.wrapping_add(cfg.rcvbuf as u32);
        Sock {
            id,
            peer,
            loopback,
            mss,
            delack,
            sndbuf: cfg.sndbuf,
            max_retries: cfg.retries,
            probes_out: 0,
            snd: SendQueue::new(id.send_object(), cfg.isn),
            snd_wnd: 0,
            cc: Reno::new(mss, loopback),
            rto: RtoEstimator::default(),
            rcv,
            adv_edge,
            unacked: 0,
            quickack: QUICKACKS,
            peer_fin: None,
            fin_queued: false,
            fin_acked: false,
            fin_rcvd: false,
            reset: false,
            err: None,
            orphan: false,
            corked: false,
            snd_sml: cfg.isn,
            zc: ZeroCopy::default(),
            timers: [Timer::default(); 3],
            persist_backoff: 0,
            stats: SockStats::default(),
            acked_total: 0,
            zc_scratch: Vec::new(),
            host: 0,
            frozen: false,
        }
    }

    /// Stop: drop what arrives, fire no timer (the endpoint is being
    /// checkpointed or migrated).
    pub fn freeze(&mut self) {
        self.frozen = true;
        for t in &mut self.timers {
            t.deadline = None;
        }
    }

    /// Go on after a freeze (a restore leaving repair mode): the
    /// retransmission timer is armed afresh for whatever is outstanding
    /// (`tcp_rearm_rto`), so unacknowledged data goes out again from the
    /// restored queue.
    pub fn thaw(&mut self, now: Instant) {
        self.frozen = false;
        self.arm_after_send(now);
    }

    fn set_timer(&mut self, kind: TimerKind, at: Option<Instant>) {
        self.timers[kind as usize].deadline = at;
    }

    fn timer_armed(&self, kind: TimerKind) -> bool {
        self.timers[kind as usize].deadline.is_some()
    }

    /// Whether the socket has nothing left to do and nobody can use it:
    /// it may be destroyed.
    pub fn is_done(&self) -> bool {
        self.orphan && (self.reset || (self.fin_acked && self.snd.queued() == 0))
    }

    // ---- the program's side -------------------------------------------

    /// The room for new bytes, or why no send can start
    /// (`tcp_sendmsg_locked`'s checks; a pending error is consumed).
    pub fn send_room(&mut self) -> Result<usize, SockError> {
        if self.err.is_some() || self.reset || self.fin_queued {
            return Err(self.err.take().unwrap_or(SockError::Pipe));
        }
        let room = self.sndbuf.saturating_sub(self.snd.queued());
        if room == 0 { Err(SockError::WouldBlock) } else { Ok(room) }
    }

    /// Queue copied bytes (the caller checked the room).
    pub fn queue_copy(&mut self, pages: &mut PageArena, src: Source<'_>) {
        self.snd.push_copy(pages, src);
    }

    /// Queue a page fragment the caller holds; the queue takes its own
    /// reference.
    pub fn queue_page(&mut self, pages: &mut PageArena, page: PageId, off: usize, len: usize, zc: Option<u32>) {
        let snapshot = !pages.is_zero_page(page);
        self.snd.push_page(pages, page, off, len, zc, snapshot);
        if let Some(id) = zc {
            self.zc.add_frag(id);
        }
    }

    /// Read up to `len` bytes (`tcp_recvmsg`): data first, then end of
    /// file, a pending error, or the need to wait.
    pub fn recv(
        &mut self,
        now: Instant,
        pages: &mut PageArena,
        len: usize,
        buf: &mut Vec<u8>,
        out: &mut Vec<Packet>,
    ) -> Result<usize, SockError> {
        if len == 0 {
            return Ok(0);
        }
        let n = self.rcv.read(pages, len, buf);
        if n > 0 {
            self.after_read(now, out);
            return Ok(n);
        }
        self.recv_empty()
    }

    /// What a read of an empty queue answers.
    pub fn recv_empty(&mut self) -> Result<usize, SockError> {
        if self.fin_rcvd {
            return Ok(0);
        }
        if let Some(e) = self.err.take() {
            return Err(e);
        }
        if self.reset { Ok(0) } else { Err(SockError::WouldBlock) }
    }

    /// The program consumed bytes: advertise the opened window if it at
    /// least doubled (`tcp_cleanup_rbuf`).
    pub fn after_read(&mut self, now: Instant, out: &mut Vec<Packet>) {
        if self.reset || self.fin_rcvd {
            return;
        }
        let current = if after(self.adv_edge, self.rcv.rcv_nxt) { dist(self.rcv.rcv_nxt, self.adv_edge) } else { 0 };
        let new = self.rcv.window();
        if 2 * current <= self.rcv.rcvbuf && new > 0 && new >= 2 * current {
            self.send_ack(now, 0, out);
        }
    }

    /// close(2) of the last descriptor (`tcp_close`): unread data resets
    /// the connection; otherwise a FIN follows what is queued and the
    /// socket lives on until it is acknowledged.
    pub fn close(&mut self, now: Instant, pages: &mut PageArena, out: &mut Vec<Packet>) {
        self.orphan = true;
        if self.reset {
            return;
        }
        if self.rcv.queued > 0 {
            out.push(self.packet(self.snd.snd_nxt, RST, Payload::Empty));
            self.die(pages);
            return;
        }
        self.fin_queued = true;
        self.corked = false;
        self.transmit(now, pages, out);
    }

    /// The connection is over (`tcp_done`): purge the send queue, stop the
    /// timers.
    pub fn die(&mut self, pages: &mut PageArena) {
        self.reset = true;
        let mut ids = std::mem::take(&mut self.zc_scratch);
        self.snd.purge(pages, &mut ids);
        for id in ids.drain(..) {
            self.zc.release(id);
        }
        self.zc_scratch = ids;
        if self.orphan {
            self.rcv.purge(pages);
        }
        for t in &mut self.timers {
            t.deadline = None;
        }
    }

    // ---- sending ------------------------------------------------------

    fn packet(&self, seq: u32, flags: u8, payload: Payload) -> Packet {
        Packet {
            from: self.id,
            to: self.peer,
            seq,
            ack: self.rcv.rcv_nxt,
            wnd: self.rcv.window().min(u32::MAX as usize) as u32,
            flags,
            payload,
            altered: 0,
        }
    }

    /// Whatever we send carries an ACK: nothing is pending any more.
    fn acked_now(&mut self) {
        self.unacked = 0;
        self.adv_edge = self.rcv.rcv_nxt.wrapping_add(self.rcv.window() as u32);
        self.set_timer(TimerKind::Delack, None);
    }

    /// A pure ACK (or probe answer).
    fn send_ack(&mut self, _now: Instant, flags: u8, out: &mut Vec<Packet>) {
        let seq = self.snd.snd_nxt;
        out.push(self.packet(seq, flags, Payload::Empty));
        self.stats.acks += 1;
        self.acked_now();
    }

    /// Send what the windows, Nagle and the cork allow (`tcp_write_xmit`).
    pub fn transmit(&mut self, now: Instant, pages: &mut PageArena, out: &mut Vec<Packet>) {
        if self.reset {
            return;
        }
        loop {
            let unsent = self.snd.unsent();
            if unsent == 0 {
                if self.fin_queued && self.snd.snd_nxt == self.snd.write_seq {
                    self.send_segment(now, pages, self.snd.snd_nxt, 0, true, out);
                }
                break;
            }
            let limit = u64::from(self.snd_wnd).min(self.cc.cwnd);
            let edge = self.snd.snd_una.wrapping_add(limit.min(u64::from(u32::MAX / 2)) as u32);
            let usable = if after(edge, self.snd.snd_nxt) { dist(self.snd.snd_nxt, edge) } else { 0 };
            let len = (self.mss as usize).min(unsent).min(usable);
            if len == 0 {
                break;
            }
            let in_flight = self.snd.snd_nxt != self.snd.snd_una;
            if len < self.mss as usize {
                // A partial segment: held by the cork; by Nagle (Minshall's
                // variant, `tcp_nagle_check`) while an earlier small segment
                // is unacknowledged; and, limited by the window, while
                // anything is in flight.
                if len == unsent && self.corked {
                    break;
                }
                let small_unacked = after(self.snd_sml, self.snd.snd_una) && !after(self.snd_sml, self.snd.snd_nxt);
                if len == unsent && in_flight && small_unacked {
                    break;
                }
                if len < unsent && in_flight {
                    break;
                }
            }
            let fin = self.fin_queued && len == unsent;
            self.send_segment(now, pages, self.snd.snd_nxt, len, fin, out);
        }
        self.arm_after_send(now);
    }

    /// Arm the retransmission timer if data is outstanding, or the persist
    /// timer if a closed window holds data back.
    fn arm_after_send(&mut self, now: Instant) {
        if self.loopback || self.reset {
            return;
        }
        if self.snd.snd_una != self.snd.snd_max {
            if !self.timer_armed(TimerKind::Rto) {
                self.set_timer(TimerKind::Rto, Some(now + self.rto.rto()));
            }
            self.set_timer(TimerKind::Persist, None);
        } else if self.snd.unsent() > 0 && !self.timer_armed(TimerKind::Persist) {
            let d = Duration(self.rto.rto().0.saturating_mul(1 << self.persist_backoff.min(10)).min(RTO_MAX.0));
            self.set_timer(TimerKind::Persist, Some(now + d));
        }
    }

    /// Put one segment `seq..seq+len` (plus a FIN) on the wire.
    fn send_segment(
        &mut self,
        now: Instant,
        pages: &mut PageArena,
        seq: u32,
        len: usize,
        fin: bool,
        out: &mut Vec<Packet>,
    ) {
        let retransmit = before(seq, self.snd.snd_max);
        if len > 0 {
            self.stats.segments += 1;
        }
        if retransmit {
            self.stats.retransmits += u64::from(len > 0);
            self.rto.timing = None;
        } else if self.rto.timing.is_none() && !self.loopback {
            self.rto.timing = Some((seq.wrapping_add(len as u32), now));
        }
        let (payload, altered) = if len == 0 {
            (Payload::Empty, 0)
        } else if self.loopback {
            (self.loop_payload(pages, seq, len), 0)
        } else {
            self.wire_payload(pages, seq, len)
        };
        let mut p = self.packet(seq, if fin { FIN } else { 0 }, payload);
        p.altered = altered;
        out.push(p);
        self.acked_now();
        let end = seq.wrapping_add(len as u32 + u32::from(fin));
        if len > 0 && len < self.mss as usize {
            self.snd_sml = seq.wrapping_add(len as u32);
        }
        if after(end, self.snd.snd_nxt) {
            self.snd.snd_nxt = end;
        }
        self.snd.snd_max = max_seq(self.snd.snd_max, end);
    }

    /// The bytes of `seq..seq+len` as the pages hold them now, and how many
    /// of them differ from what the program meant to send.
    fn wire_payload(&self, pages: &PageArena, seq: u32, len: usize) -> (Payload, u32) {
        // Pieces of uniform pages travel as runs, as the pages store them;
        // only a piece of a page with mixed bytes makes the segment carry
        // its bytes one by one.
        let mut runs: Runs = SmallVec::new();
        let mut altered = 0u64;
        let mut uniform = true;
        self.snd.pieces(seq, len, |f, within, n| {
            if !uniform {
                return;
            }
            let Content::Uniform(byte) = *pages.content(f.page) else {
                uniform = false;
                return;
            };
            if let Some(meant) = &f.meant
                && pages.version(f.page) != f.version
            {
                altered += recv_queue::count_differing_fill(meant, f.off as usize + within, n, byte);
            }
            match runs.last_mut() {
                Some((b, l)) if *b == byte => *l += n as u32,
                _ => runs.push((byte, n as u32)),
            }
        });
        if uniform {
            return (Payload::Runs(runs), altered.min(u64::from(u32::MAX)) as u32);
        }
        let mut bytes = Vec::with_capacity(len);
        let mut altered = 0u64;
        self.snd.pieces(seq, len, |f, within, n| {
            let at = bytes.len();
            pages.read_into(f.page, f.off as usize + within, n, &mut bytes);
            if let Some(meant) = &f.meant
                && pages.version(f.page) != f.version
            {
                altered += recv_queue::count_differing(meant, f.off as usize + within, &bytes[at..]);
            }
        });
        (Payload::Bytes(bytes), altered.min(u64::from(u32::MAX)) as u32)
    }

    /// Loopback: the fragments themselves, with a reference each for the
    /// receiver; zerocopy fragments are copied instead
    /// (`skb_orphan_frags_rx`), and their send reports `COPIED`.
    fn loop_payload(&mut self, pages: &mut PageArena, seq: u32, len: usize) -> Payload {
        let to = self.peer.recv_object();
        let mut frags = Vec::new();
        let mut at = seq;
        let mut copied = Vec::new();
        self.snd.pieces(seq, len, |f, within, n| {
            let off = f.off as usize + within;
            let holder = Holder::socket(to, at);
            if let Some(id) = f.zc {
                let page = pages.alloc(holder);
                let mut tmp = Vec::with_capacity(n);
                pages.read_into(f.page, off, n, &mut tmp);
                pages.write(page, 0, Source::Slice(&tmp));
                frags.push(LoopFrag { page, off: 0, len: n, seq: at, meant: None });
                copied.push(id);
            } else {
                pages.get(f.page, holder);
                let meant = f.meant.as_ref().map(|m| (m.clone(), off, f.version));
                frags.push(LoopFrag { page: f.page, off, len: n, seq: at, meant });
            }
            at = at.wrapping_add(n as u32);
        });
        for id in copied {
            self.zc.mark_copied(id);
        }
        Payload::Frags(frags)
    }

    /// Retransmit the oldest unacknowledged segment.
    fn retransmit_head(&mut self, now: Instant, pages: &mut PageArena, out: &mut Vec<Packet>) {
        let seq = self.snd.snd_una;
        let data_end = if after(self.snd.snd_max, self.snd.write_seq) { self.snd.write_seq } else { self.snd.snd_max };
        let len = if before(seq, data_end) { dist(seq, data_end).min(self.mss as usize) } else { 0 };
        let fin = self.fin_queued
            && after(self.snd.snd_max, self.snd.write_seq)
            && seq.wrapping_add(len as u32) == self.snd.write_seq;
        if len == 0 && !fin {
            return;
        }
        self.send_segment(now, pages, seq, len, fin, out);
    }

    // ---- receiving ------------------------------------------------------

    /// A packet arrived for this endpoint.
    pub fn on_packet(&mut self, now: Instant, pages: &mut PageArena, pkt: Packet, out: &mut Vec<Packet>) {
        if pkt.flags & RST != 0 {
            pkt.payload.release(pages, self.id);
            self.on_reset(pages);
            return;
        }
        let len = pkt.payload.len();
        let has_fin = pkt.flags & FIN != 0;
        self.probes_out = 0;
        if self.reset {
            // A closed socket answers data with a reset.
            pkt.payload.release(pages, self.id);
            if len > 0 || has_fin {
                out.push(self.packet(pkt.ack, RST, Payload::Empty));
            }
            return;
        }
        self.on_ack(now, pages, pkt.ack, pkt.wnd, len > 0 || has_fin, out);
        if self.reset {
            pkt.payload.release(pages, self.id);
            return;
        }
        if len > 0 && self.orphan {
            // Data for a socket the program closed: reset (tcp_rcv_state_process).
            pkt.payload.release(pages, self.id);
            out.push(self.packet(pkt.ack, RST, Payload::Empty));
            self.die(pages);
            return;
        }
        if len > 0 || has_fin {
            self.on_data(now, pages, pkt, out);
        } else if pkt.flags & PROBE != 0 {
            self.send_ack(now, 0, out);
        }
        self.transmit(now, pages, out);
    }

    /// The peer reset the connection (`tcp_reset`).
    fn on_reset(&mut self, pages: &mut PageArena) {
        if self.reset {
            return;
        }
        if !self.orphan {
            self.err = Some(if self.fin_rcvd { SockError::Pipe } else { SockError::ConnReset });
        }
        self.die(pages);
    }

    /// The ACK part of an incoming packet (`tcp_ack`).
    fn on_ack(
        &mut self,
        now: Instant,
        pages: &mut PageArena,
        ack: u32,
        wnd: u32,
        carries: bool,
        out: &mut Vec<Packet>,
    ) {
        let snd = &self.snd;
        if after(ack, snd.snd_max) || before(ack, snd.snd_una) {
            return;
        }
        let acked = dist(snd.snd_una, ack) as u64;
        if acked > 0 {
            let data_acked = if after(ack, self.snd.write_seq) {
                dist(self.snd.snd_una, self.snd.write_seq)
            } else {
                acked as usize
            };
            self.acked_total += data_acked as u64;
            self.snd.snd_una = ack;
            if before(self.snd.snd_nxt, ack) {
                self.snd.snd_nxt = ack;
            }
            if self.fin_queued && ack == self.snd.write_seq.wrapping_add(1) {
                self.fin_acked = true;
            }
            let mut ids = std::mem::take(&mut self.zc_scratch);
            self.snd.release_acked(pages, &mut ids);
            for id in ids.drain(..) {
                self.zc.release(id);
            }
            self.zc_scratch = ids;
            if let Some((end, sent)) = self.rto.timing
                && !before(ack, end)
            {
                self.rto.sample(now - sent);
                self.rto.timing = None;
            }
            self.rto.retries = 0;
            self.persist_backoff = 0;
            match self.cc.recover {
                Some(high) if before(ack, high) => {
                    self.cc.partial_ack(acked);
                    self.snd_wnd = wnd;
                    self.retransmit_head(now, pages, out);
                }
                Some(_) => self.cc.exit_recovery(),
                None => {
                    self.cc.dupacks = 0;
                    self.cc.on_ack(acked);
                }
            }
            let rearm = (self.snd.snd_una != self.snd.snd_max && !self.loopback).then(|| now + self.rto.rto());
            self.set_timer(TimerKind::Rto, rearm);
        } else if !carries && wnd == self.snd_wnd && self.snd.snd_una != self.snd.snd_max && !self.loopback {
            self.cc.dupacks += 1;
            if self.cc.recover.is_some() {
                self.cc.inflate();
            } else if self.cc.dupacks == 3 {
                let flight = dist(self.snd.snd_una, self.snd.snd_max) as u64;
                self.cc.enter_recovery(flight, self.snd.snd_max);
                self.stats.fast_retransmits += 1;
                self.retransmit_head(now, pages, out);
            }
        }
        self.snd_wnd = wnd;
    }

    /// The data and FIN of an incoming packet.
    fn on_data(&mut self, now: Instant, pages: &mut PageArena, pkt: Packet, out: &mut Vec<Packet>) {
        let len = pkt.payload.len();
        if pkt.flags & FIN != 0 {
            self.peer_fin = Some(pkt.seq.wrapping_add(len as u32));
        }
        let right_edge = max_seq(self.adv_edge, self.rcv.rcv_nxt.wrapping_add(self.rcv.window() as u32));
        let before_nxt = self.rcv.rcv_nxt;
        let stream_at = self.rcv.delivered;
        let mut how = Accepted::Nothing;
        match pkt.payload {
            Payload::Empty => {}
            Payload::Bytes(bytes) => {
                how = self.rcv.accept(pages, Seg { seq: pkt.seq, data: Data::Bytes { bytes, start: 0 } }, right_edge);
            }
            Payload::Runs(runs) => {
                let mut at = pkt.seq;
                for (byte, n) in runs {
                    let data = Data::Fill { byte, len: n as usize };
                    let h = self.rcv.accept(pages, Seg { seq: at, data }, right_edge);
                    if how == Accepted::Nothing || h != Accepted::InOrder {
                        how = h;
                    }
                    at = at.wrapping_add(n);
                }
            }
            Payload::Frags(frags) => {
                for f in frags {
                    let data = Data::Page { page: f.page, off: f.off, len: f.len, holder: f.seq, meant: f.meant };
                    let h = self.rcv.accept(pages, Seg { seq: f.seq, data }, right_edge);
                    if how == Accepted::Nothing || h != Accepted::InOrder {
                        how = h;
                    }
                }
            }
        }
        if pkt.altered > 0 && matches!(how, Accepted::InOrder | Accepted::FilledHole | Accepted::OutOfOrder) {
            self.rcv.altered.add(stream_at, u64::from(pkt.altered));
        }
        let mut ack_now = !matches!(how, Accepted::InOrder | Accepted::Nothing);
        if let Some(fin) = self.peer_fin
            && fin == self.rcv.rcv_nxt
            && !self.fin_rcvd
        {
            self.rcv.rcv_nxt = self.rcv.rcv_nxt.wrapping_add(1);
            self.fin_rcvd = true;
            ack_now = true;
        }
        if self.fin_rcvd && pkt.flags & FIN != 0 {
            ack_now = true;
        }
        self.unacked += dist(before_nxt, self.rcv.rcv_nxt);
        if self.loopback {
            ack_now = true;
        } else if !ack_now && how == Accepted::InOrder {
            if self.quickack > 0 {
                self.quickack -= 1;
                ack_now = true;
            } else if self.unacked > self.mss as usize {
                ack_now = true;
            }
        }
        if ack_now {
            self.send_ack(now, 0, out);
        } else if !self.timer_armed(TimerKind::Delack) {
            self.set_timer(TimerKind::Delack, Some(now + self.delack));
        }
    }

    // ---- timers ---------------------------------------------------------

    /// A timer's deadline passed.
    pub fn on_timer(&mut self, now: Instant, kind: TimerKind, pages: &mut PageArena, out: &mut Vec<Packet>) {
        self.set_timer(kind, None);
        match kind {
            TimerKind::Delack => {
                if self.unacked > 0 && !self.reset {
                    self.send_ack(now, 0, out);
                }
            }
            TimerKind::Rto => self.on_rto(now, pages, out),
            TimerKind::Persist => {
                if self.reset || self.snd.unsent() == 0 || self.snd.snd_una != self.snd.snd_max {
                    return;
                }
                self.persist_backoff += 1;
                self.probes_out += 1;
                if self.probes_out > self.max_retries {
                    if !self.orphan {
                        self.err = Some(SockError::TimedOut);
                    }
                    self.die(pages);
                    return;
                }
                out.push(self.packet(self.snd.snd_una.wrapping_sub(1), PROBE, Payload::Empty));
                self.arm_after_send(now);
            }
        }
    }

    /// The retransmission timer fired: back off, go back to `snd_una` and
    /// resend from there (`tcp_retransmit_timer`).
    fn on_rto(&mut self, now: Instant, pages: &mut PageArena, out: &mut Vec<Packet>) {
        if self.reset || self.snd.snd_una == self.snd.snd_max {
            return;
        }
        self.rto.retries += 1;
        self.stats.timeouts += 1;
        if self.rto.retries > self.max_retries {
            if !self.orphan {
                self.err = Some(SockError::TimedOut);
            }
            self.die(pages);
            return;
        }
        let flight = dist(self.snd.snd_una, self.snd.snd_max) as u64;
        self.cc.on_timeout(flight);
        self.rto.backoff += 1;
        self.rto.timing = None;
        self.snd.snd_nxt = self.snd.snd_una;
        self.retransmit_head(now, pages, out);
        self.set_timer(TimerKind::Rto, Some(now + self.rto.rto()));
    }

    /// Every page reference the endpoint holds, with its holder.
    pub fn refs(&self) -> impl Iterator<Item = (PageId, Holder)> + '_ {
        self.snd.refs().chain(self.rcv.refs().map(|(p, h, _, _)| (p, h)))
    }

    /// Check the endpoint's own shape.
    pub fn check(&self) -> Result<(), String> {
        self.snd.check().map_err(|e| format!("socket {} send queue: {e}", self.id.0))?;
        self.rcv.check(self.fin_rcvd).map_err(|e| format!("socket {} receive queue: {e}", self.id.0))?;
        if self.snd.queued() > self.sndbuf && !self.reset {
            return Err(format!("socket {} queues {} bytes, sndbuf {}", self.id.0, self.snd.queued(), self.sndbuf));
        }
        Ok(())
    }
}
