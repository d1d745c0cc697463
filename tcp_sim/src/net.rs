//! The network: every endpoint, the links between them, and the event
//! queue that drives them in simulated time.
//!
//! A [`Network`] owns the endpoints of any number of connections. The
//! program's calls (send, recv, close) act at the current simulated time;
//! on a loopback connection everything they cause (delivery, the ACK, the
//! window update) happens before the call returns, as on Linux's loopback.
//! On a link, packets become arrival events at a later time, and timers
//! (retransmission, delayed ACK, persist) become timer events; time moves
//! only when the owner calls [`Network::advance_to`], [`Network::step`] or
//! [`Network::settle`].

use std::collections::VecDeque;

use page_refs::{Holder, PageArena, PageId, Source, Stamp};

use crate::events::EventQueue;
use crate::link::{LinkParams, Mode};
use crate::rng::SimRng;
use crate::seq::{after, before, dist};
use crate::socket::{
    Altered, Completion, Packet, Payload, Piece, RST, Sock, SockConfig, SockError, SockId, SockStats, TimerKind,
};
use crate::time::{Duration, Instant};

/// What happens next on the network.
#[derive(Clone, Debug)]
enum Event {
    /// A packet (kept in [`Network::wire`]) reaches its destination.
    Arrive(usize),
    /// One of an endpoint's timers may be due; scheduled for this time.
    Timer(SockId, TimerKind, Instant),
}

/// A connection: how its two endpoints are joined.
#[derive(Clone, Debug)]
struct Conn {
    mode: Mode,
    ends: [SockId; 2],
    rng: SimRng,
    /// When each direction's transmitter is free again.
    wire_free: [Instant; 2],
}

/// Counters of the whole network.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Packets put on a link (data, ACKs, FINs, RSTs, probes).
    pub packets: u64,
    /// Data segments sent, retransmissions included.
    pub segments: u64,
    /// Packets the links lost.
    pub lost: u64,
    /// Packets the links held back (reordered).
    pub reordered: u64,
    /// Events processed.
    pub events: u64,
    /// Packets dropped because their endpoint was frozen (checkpoint or
    /// migration in progress).
    pub dropped_frozen: u64,
}

/// Where a page reference held by a socket is, as `refs` explains it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FragState {
    /// In the send queue, not yet transmitted (window, Nagle or cork).
    Unsent,
    /// Transmitted and a copy of it is in flight on the link right now.
    OnTheWire,
    /// Transmitted, not in flight, not yet covered by the cumulative ACK.
    Unacked,
    /// In the receiver's queue, not yet read (loopback).
    QueuedAtReceiver,
}

impl std::fmt::Display for FragState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FragState::Unsent => "unsent",
            FragState::OnTheWire => "on the wire",
            FragState::Unacked => "unacked",
            FragState::QueuedAtReceiver => "queued at receiver",
        })
    }
}

/// What a socket's page reference is for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct HolderInfo {
    /// The endpoint holding it.
    pub sock: SockId,
    /// Stream offsets (bytes since the connection's first byte in that
    /// direction) of the fragment: `start..end`.
    pub start: u64,
    /// One past the fragment's last byte.
    pub end: u64,
    /// Where it is.
    pub state: FragState,
}

/// What the model knows about one endpoint.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SockInfo {
    /// Bytes this endpoint sent that the peer acknowledged so far.
    pub acked: u64,
    /// Bytes queued to send and not acknowledged.
    pub queued: usize,
    /// Of those, not yet sent.
    pub unsent: usize,
    /// Bytes received in order, not yet read.
    pub readable: usize,
    /// Bytes delivered in order so far.
    pub delivered: u64,
    /// Bytes read by the program so far.
    pub read: u64,
    /// Delivered bytes that differ from what the sending program meant.
    pub altered: Altered,
    /// Counters.
    pub stats: SockStats,
    /// The current retransmission timeout.
    pub rto: Duration,
    /// Congestion window in bytes.
    pub cwnd: u64,
    /// The connection is over (reset, or closed and done).
    pub reset: bool,
    /// The peer's FIN was received.
    pub fin_rcvd: bool,
    /// Zerocopy sends not yet completed.
    pub zerocopy_pending: usize,
}

/// Every endpoint and link, and the clock.
#[derive(Clone, Debug, Default)]
pub struct Network {
    socks: Vec<Option<Sock>>,
    /// Connection index of every socket ever made (kept after it dies).
    sock_conn: Vec<u32>,
    conns: Vec<Conn>,
    events: EventQueue<Event>,
    /// Loopback packets not yet handed over (all within one call).
    immediate: VecDeque<Packet>,
    /// Packets on the links, by key; the event queue holds only their keys
    /// (small entries sift faster).
    wire: slab::Slab<Packet>,
    out: Vec<Packet>,
    stats: NetStats,
    /// The operation counter stamped on page events.
    step: u32,
    /// Data segments to drop, per sender: a deterministic fault for tests
    /// and stories.
    drops: Vec<(SockId, u32)>,
    /// The host whose pages the calls pass (see [`hosts`]).
    local: u32,
    /// Whether endpoints live on more than one host: only then do events
    /// wait for their host (the single-host path checks nothing more).
    multi_host: bool,
}

impl Network {
    /// An empty network at time 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no socket was ever made (the network is as `new` made it).
    pub fn is_unused(&self) -> bool {
        self.sock_conn.is_empty()
    }

    /// The current simulated time.
    pub fn now(&self) -> Instant {
        self.events.now()
    }

    /// Counters.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Stamp page events with this operation number (and the time).
    pub fn set_step(&mut self, step: u32) {
        self.step = step;
    }

    /// A connected pair with default buffers: `(connecting side, accepted
    /// side)`.
    pub fn connect(&mut self, mode: Mode) -> (SockId, SockId) {
        self.connect_with(mode, SockConfig::default(), SockConfig::default())
    }

    /// A connected pair with these buffer sizes and initial sequence
    /// numbers.
    pub fn connect_with(&mut self, mode: Mode, a: SockConfig, b: SockConfig) -> (SockId, SockId) {
        let conn = self.conns.len() as u32;
        let (ia, ib) = (SockId(self.socks.len() as u32), SockId(self.socks.len() as u32 + 1));
        let seed = match mode {
            Mode::Loopback => 0,
            Mode::Link(p) => p.seed,
        };
        let mut sa = Sock::new(ia, ib, &mode, a, b.isn);
        let mut sb = Sock::new(ib, ia, &mode, b, a.isn);
        sa.snd_wnd = b.rcvbuf.min(u32::MAX as usize) as u32;
        sb.snd_wnd = a.rcvbuf.min(u32::MAX as usize) as u32;
        // Both ends start on the host that made the call.
        (sa.host, sb.host) = (self.local, self.local);
        self.socks.push(Some(sa));
        self.socks.push(Some(sb));
        self.sock_conn.extend([conn, conn]);
        self.conns.push(Conn { mode, ends: [ia, ib], rng: SimRng::new(seed), wire_free: [Instant(0); 2] });
        (ia, ib)
    }

    fn sock(&self, s: SockId) -> Option<&Sock> {
        self.socks.get(s.0 as usize).and_then(Option::as_ref)
    }

    fn sock_mut(&mut self, s: SockId) -> Option<&mut Sock> {
        self.socks.get_mut(s.0 as usize).and_then(Option::as_mut)
    }

    /// Whether endpoint `s` still exists (it may outlive its descriptor
    /// until its data is acknowledged).
    pub fn exists(&self, s: SockId) -> bool {
        self.sock(s).is_some()
    }

    /// Every endpoint that still exists (open, or closed and finishing).
    pub fn sockets(&self) -> impl Iterator<Item = SockId> + '_ {
        self.socks.iter().enumerate().filter(|(_, s)| s.is_some()).map(|(i, _)| SockId(i as u32))
    }

    /// The connection mode of endpoint `s`.
    pub fn mode(&self, s: SockId) -> Option<Mode> {
        self.sock_conn.get(s.0 as usize).map(|&c| self.conns[c as usize].mode)
    }

    /// The other endpoint of `s`'s connection.
    pub fn peer(&self, s: SockId) -> Option<SockId> {
        let c = &self.conns[*self.sock_conn.get(s.0 as usize)? as usize];
        Some(if c.ends[0] == s { c.ends[1] } else { c.ends[0] })
    }

    fn stamp(&self, pages: &mut PageArena) {
        pages.set_stamp(Stamp { step: self.step, time_ns: self.now().0 });
    }

    // ---- the program's calls ----------------------------------------------

    /// The room for a send, or why it cannot start (a pending error is
    /// consumed, as `tcp_sendmsg` does).
    ///
    /// # Errors
    /// [`SockError::Pipe`], [`SockError::ConnReset`],
    /// [`SockError::TimedOut`], or [`SockError::WouldBlock`] when the send
    /// buffer is full.
    pub fn send_room(&mut self, s: SockId) -> Result<usize, SockError> {
        match self.sock_mut(s) {
            Some(sock) => sock.send_room(),
            None => Err(SockError::Pipe),
        }
    }

    /// Copy up to the room of `src` into the send queue (write(2) on a
    /// socket); answers the bytes queued. `more` holds a partial segment
    /// (`MSG_MORE`).
    ///
    /// # Errors
    /// As [`send_room`](Self::send_room).
    pub fn send_copy(
        &mut self,
        pages: &mut PageArena,
        s: SockId,
        src: Source<'_>,
        more: bool,
    ) -> Result<usize, SockError> {
        if src.is_empty() {
            return Ok(0);
        }
        let room = self.send_room(s)?;
        self.stamp(pages);
        let n = room.min(src.len());
        let sock = self.sock_mut(s).expect("room checked");
        sock.queue_copy(pages, src.split_at(n).0);
        self.push(pages, s, more);
        Ok(n)
    }

    /// Queue page pieces `(page, offset, len)` by reference, up to the
    /// room (splice, sendfile, zerocopy send): the queue takes its own
    /// reference to each. With `zerocopy` (and `SO_ZEROCOPY` set) the send
    /// gets the next completion counter. Answers the bytes queued.
    ///
    /// # Errors
    /// As [`send_room`](Self::send_room).
    pub fn send_pages(
        &mut self,
        pages: &mut PageArena,
        s: SockId,
        pieces: &[(PageId, usize, usize)],
        more: bool,
        zerocopy: bool,
    ) -> Result<usize, SockError> {
        let zc = if zerocopy && pieces.iter().any(|p| p.2 > 0) { self.zerocopy_start(s) } else { None };
        let r = self.send_pages_zc(pages, s, pieces, more, zc);
        if let Some(id) = zc {
            self.zerocopy_end(s, id);
        }
        r
    }

    /// A zerocopy send begins: its completion counter, if `SO_ZEROCOPY` is
    /// set (`None`: the flag is ignored and the bytes are copied).
    pub fn zerocopy_start(&mut self, s: SockId) -> Option<u32> {
        let sock = self.sock_mut(s)?;
        sock.zc.enabled.then(|| sock.zc.start())
    }

    /// The zerocopy send `id` returns to the program (a send that queued
    /// nothing gives its counter back).
    pub fn zerocopy_end(&mut self, s: SockId, id: u32) {
        if let Some(sock) = self.sock_mut(s) {
            sock.zc.end(id);
        }
    }

    /// [`send_pages`](Self::send_pages) as one round of a send whose
    /// zerocopy counter (from [`zerocopy_start`](Self::zerocopy_start)) is
    /// `zc`.
    ///
    /// # Errors
    /// As [`send_room`](Self::send_room).
    pub fn send_pages_zc(
        &mut self,
        pages: &mut PageArena,
        s: SockId,
        pieces: &[(PageId, usize, usize)],
        more: bool,
        zc: Option<u32>,
    ) -> Result<usize, SockError> {
        if pieces.iter().all(|p| p.2 == 0) {
            return Ok(0);
        }
        let mut room = self.send_room(s)?;
        self.stamp(pages);
        let sock = self.sock_mut(s).expect("room checked");
        let mut total = 0;
        for &(page, off, len) in pieces {
            let n = len.min(room);
            if n == 0 {
                continue;
            }
            sock.queue_page(pages, page, off, n, zc);
            room -= n;
            total += n;
            if room == 0 {
                break;
            }
        }
        self.push(pages, s, more);
        Ok(total)
    }

    /// Send what may go now (`tcp_push`), holding a partial segment if
    /// `more`; then let a loopback peer take it.
    pub fn push(&mut self, pages: &mut PageArena, s: SockId, more: bool) {
        let now = self.now();
        let mut out = std::mem::take(&mut self.out);
        if let Some(sock) = self.sock_mut(s) {
            sock.corked = more;
            sock.transmit(now, pages, &mut out);
            sock.corked = false;
        }
        self.out = out;
        self.after(pages, s);
        self.run_immediate(pages);
    }

    /// Read up to `len` bytes into `buf` (read(2) on a socket).
    ///
    /// # Errors
    /// A pending error once ([`SockError::ConnReset`], [`SockError::Pipe`],
    /// [`SockError::TimedOut`]), or [`SockError::WouldBlock`] when nothing
    /// is there yet and the connection is open.
    pub fn recv(
        &mut self,
        pages: &mut PageArena,
        s: SockId,
        len: usize,
        buf: &mut Vec<u8>,
    ) -> Result<usize, SockError> {
        self.stamp(pages);
        let now = self.now();
        let mut out = std::mem::take(&mut self.out);
        let r = match self.sock_mut(s) {
            Some(sock) => sock.recv(now, pages, len, buf, &mut out),
            None => Ok(0),
        };
        self.out = out;
        self.after(pages, s);
        self.run_immediate(pages);
        r
    }

    /// Hand up to `len` in-order bytes to `f` as they are held (page
    /// fragments on loopback, bytes from a link), for splice to a pipe:
    /// `f` answers how much of each piece it took.
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub fn splice_read(
        &mut self,
        pages: &mut PageArena,
        s: SockId,
        len: usize,
        f: impl FnMut(&mut PageArena, Piece<'_>) -> usize,
    ) -> Result<usize, SockError> {
        self.stamp(pages);
        let now = self.now();
        let mut out = std::mem::take(&mut self.out);
        let r = match self.sock_mut(s) {
            Some(_) if len == 0 => Ok(0),
            Some(sock) => {
                let n = sock.rcv.splice_out(pages, len, f);
                if n > 0 {
                    sock.after_read(now, &mut out);
                    Ok(n)
                } else {
                    sock.recv_empty()
                }
            }
            None => Ok(0),
        };
        self.out = out;
        self.after(pages, s);
        self.run_immediate(pages);
        r
    }

    /// Bytes waiting to be read on `s`.
    pub fn readable(&self, s: SockId) -> usize {
        self.sock(s).map_or(0, |k| k.rcv.queued)
    }

    /// close(2) of the endpoint's descriptor.
    pub fn close(&mut self, pages: &mut PageArena, s: SockId) {
        self.stamp(pages);
        let now = self.now();
        let mut out = std::mem::take(&mut self.out);
        if let Some(sock) = self.sock_mut(s) {
            sock.close(now, pages, &mut out);
        }
        self.out = out;
        self.after(pages, s);
        self.run_immediate(pages);
    }

    /// `setsockopt(SO_ZEROCOPY)`.
    pub fn set_zerocopy(&mut self, s: SockId, on: bool) {
        if let Some(sock) = self.sock_mut(s) {
            sock.zc.enabled = on;
        }
    }

    /// Whether `SO_ZEROCOPY` is set.
    pub fn zerocopy_enabled(&self, s: SockId) -> bool {
        self.sock(s).is_some_and(|k| k.zc.enabled)
    }

    /// `recvmsg(MSG_ERRQUEUE)`: the oldest zerocopy completion, if any.
    pub fn pop_completion(&mut self, s: SockId) -> Option<Completion> {
        self.sock_mut(s).and_then(|k| k.zc.pop())
    }

    /// Lose the next `n` data segments `from` sends on a link, whatever the
    /// link's loss probability (a deterministic fault).
    pub fn drop_next_segments(&mut self, from: SockId, n: u32) {
        self.drops.retain(|(s, _)| *s != from);
        self.drops.push((from, n));
    }

    // ---- time -----------------------------------------------------------

    /// Let time pass until `t`, processing every event due by then. Once
    /// nothing can make progress (only probes of windows that are still
    /// closed are left, which would change nothing), the clock jumps to `t`.
    pub fn advance_to(&mut self, pages: &mut PageArena, t: Instant) {
        while self.can_progress() {
            if self.multi_host && !self.head_is_local(t) {
                return;
            }
            match self.events.pop_until(t) {
                Some((_, ev)) => self.process(pages, ev),
                None => return,
            }
        }
        self.events.jump_to(t);
    }

    /// Let `d` of simulated time pass.
    pub fn advance(&mut self, pages: &mut PageArena, d: Duration) {
        let t = self.now() + d;
        self.advance_to(pages, t);
    }

    /// Process the next event, whatever its time; `false` if none is left.
    pub fn step(&mut self, pages: &mut PageArena) -> bool {
        let Some(t) = self.events.next_due() else { return false };
        if self.multi_host && !self.head_is_local(t) {
            return false;
        }
        match self.events.pop_until(t) {
            Some((_, ev)) => {
                self.process(pages, ev);
                true
            }
            None => false,
        }
    }

    /// Whether anything can still happen without the program acting: a
    /// packet in flight, a retransmission or delayed-ACK timer armed, or a
    /// persist timer whose probe would find the window open.
    pub fn can_progress(&self) -> bool {
        if !self.wire.is_empty() || !self.immediate.is_empty() {
            return true;
        }
        self.socks.iter().flatten().any(|s| {
            s.timers[TimerKind::Rto as usize].deadline.is_some()
                || s.timers[TimerKind::Delack as usize].deadline.is_some()
                || (s.timers[TimerKind::Persist as usize].deadline.is_some()
                    && self.sock(s.peer).is_none_or(|p| p.rcv.window() > 0))
        })
    }

    /// When the next event that can make progress is due, if any.
    pub fn next_due(&self) -> Option<Instant> {
        if self.can_progress() { self.events.next_due() } else { None }
    }

    /// Run until nothing can happen without the program: the network is
    /// quiet.
    pub fn settle(&mut self, pages: &mut PageArena) {
        while self.can_progress() {
            if !self.step(pages) {
                break;
            }
        }
    }

    /// Reset every connection and drop every page reference (the machine
    /// shuts down).
    pub fn abort_all(&mut self, pages: &mut PageArena) {
        if self.multi_host {
            self.abort_local(pages);
            return;
        }
        while let Some(p) = self.immediate.pop_front() {
            let to = p.to;
            p.payload.release(pages, to);
        }
        for slot in &mut self.socks {
            if let Some(mut s) = slot.take() {
                s.orphan = true;
                s.die(pages);
                s.rcv.purge(pages);
            }
        }
        // Packets in flight on links carry bytes, not references.
        let now = self.events.now();
        self.events = EventQueue::new();
        self.events.jump_to(now);
        self.wire.clear();
    }

    // ---- the machinery ----------------------------------------------------

    fn process(&mut self, pages: &mut PageArena, ev: Event) {
        self.stats.events += 1;
        self.stamp(pages);
        match ev {
            Event::Arrive(key) => {
                let pkt = self.wire.remove(key);
                self.deliver(pages, pkt);
            }
            Event::Timer(s, kind, at) => {
                let now = self.now();
                let mut out = std::mem::take(&mut self.out);
                if let Some(sock) = self.sock_mut(s).filter(|k| !k.frozen) {
                    let t = &mut sock.timers[kind as usize];
                    if t.scheduled == Some(at) {
                        t.scheduled = None;
                    }
                    if t.deadline.is_some_and(|d| d <= now) {
                        sock.on_timer(now, kind, pages, &mut out);
                    }
                }
                self.out = out;
                self.after(pages, s);
            }
        }
        self.run_immediate(pages);
    }

    fn run_immediate(&mut self, pages: &mut PageArena) {
        while let Some(p) = self.immediate.pop_front() {
            self.deliver(pages, p);
        }
    }

    /// Hand a packet to its endpoint; a packet for a socket that no longer
    /// exists is answered with a reset.
    fn deliver(&mut self, pages: &mut PageArena, pkt: Packet) {
        let to = pkt.to;
        let now = self.now();
        let mut out = std::mem::take(&mut self.out);
        match self.sock_mut(to) {
            Some(sock) if sock.frozen => {
                // Dropped, as the netfilter rule CRIU installs around a
                // dump and a restore drops it: the sender retransmits.
                self.stats.dropped_frozen += 1;
                pkt.payload.release(pages, to);
            }
            Some(sock) => sock.on_packet(now, pages, pkt, &mut out),
            None => {
                let answer = pkt.flags & RST == 0 && (pkt.payload.len() > 0 || pkt.flags & crate::socket::FIN != 0);
                let (from, ack) = (pkt.from, pkt.ack);
                pkt.payload.release(pages, to);
                if answer {
                    out.push(Packet {
                        from: to,
                        to: from,
                        seq: ack,
                        ack: 0,
                        wnd: 0,
                        flags: RST,
                        payload: Payload::Empty,
                        altered: 0,
                    });
                }
            }
        }
        self.out = out;
        self.after(pages, to);
    }

    /// After an endpoint acted: route what it sent, schedule its timers,
    /// and destroy it if it is done.
    fn after(&mut self, pages: &mut PageArena, s: SockId) {
        let mut out = std::mem::take(&mut self.out);
        for pkt in out.drain(..) {
            self.route(pkt);
        }
        self.out = out;
        let mut schedule = [None; 3];
        let mut done = false;
        if let Some(sock) = self.sock_mut(s) {
            for (k, t) in sock.timers.iter_mut().enumerate() {
                if let Some(d) = t.deadline
                    && t.scheduled.is_none_or(|x| d < x)
                {
                    t.scheduled = Some(d);
                    schedule[k] = Some(d);
                }
            }
            done = sock.is_done();
        }
        for (k, at) in schedule.into_iter().enumerate() {
            if let Some(at) = at {
                let kind = [TimerKind::Rto, TimerKind::Delack, TimerKind::Persist][k];
                self.events.schedule(at, Event::Timer(s, kind, at));
            }
        }
        if done && let Some(mut sock) = self.socks[s.0 as usize].take() {
            sock.die(pages);
            sock.rcv.purge(pages);
        }
    }

    /// Put a packet on its connection's link.
    fn route(&mut self, pkt: Packet) {
        let conn = &mut self.conns[self.sock_conn[pkt.from.0 as usize] as usize];
        let params: LinkParams = match conn.mode {
            Mode::Loopback => {
                self.immediate.push_back(pkt);
                return;
            }
            Mode::Link(p) => p,
        };
        self.stats.packets += 1;
        if pkt.payload.len() > 0 {
            self.stats.segments += 1;
        }
        let forced = pkt.payload.len() > 0
            && match self.drops.iter_mut().find(|(s, n)| *s == pkt.from && *n > 0) {
                Some((_, n)) => {
                    *n -= 1;
                    true
                }
                None => false,
            };
        let dir = usize::from(conn.ends[0] != pkt.from);
        let now = self.events.now();
        let depart = conn.wire_free[dir].max(now) + params.serialization(pkt.payload.len());
        conn.wire_free[dir] = depart;
        if forced || conn.rng.chance(params.loss_ppm) {
            self.stats.lost += 1;
            return;
        }
        let mut arrive = depart + params.one_way();
        if conn.rng.chance(params.reorder_ppm) {
            self.stats.reordered += 1;
            let most = params.one_way().0.max(Duration::from_millis(1).0);
            arrive = arrive + Duration(conn.rng.up_to(most));
        }
        let key = self.wire.insert(pkt);
        self.events.schedule(arrive, Event::Arrive(key));
    }

    // ---- inspection -------------------------------------------------------

    /// Every page reference the network holds, with its holder.
    pub fn refs(&self) -> impl Iterator<Item = (PageId, Holder)> + '_ {
        let (multi, local) = (self.multi_host, self.local);
        let queued = self.socks.iter().flatten().filter(move |s| !multi || s.host == local).flat_map(Sock::refs);
        let moving = self.immediate.iter().flat_map(|p| match &p.payload {
            Payload::Frags(f) => f.iter().map(|f| (f.page, Holder::socket(p.to.recv_object(), f.seq))).collect(),
            _ => Vec::new(),
        });
        queued.chain(moving)
    }

    /// Check every endpoint's shape.
    ///
    /// # Errors
    /// The first problem found.
    pub fn check(&self) -> Result<(), String> {
        for s in self.socks.iter().flatten() {
            s.check()?;
        }
        Ok(())
    }

    /// What endpoint `s` is doing.
    pub fn info(&self, s: SockId) -> Option<SockInfo> {
        let k = self.sock(s)?;
        Some(SockInfo {
            acked: k.acked_total,
            queued: k.snd.queued(),
            unsent: k.snd.unsent(),
            readable: k.rcv.queued,
            delivered: k.rcv.delivered,
            read: k.rcv.read,
            altered: k.rcv.altered,
            stats: k.stats,
            rto: k.rto.rto(),
            cwnd: k.cc.cwnd,
            reset: k.reset,
            fin_rcvd: k.fin_rcvd,
            zerocopy_pending: k.zc.outstanding(),
        })
    }

    /// What a `Holder::socket` reference is for: which endpoint, which
    /// bytes, and where they are.
    pub fn holder_info(&self, h: Holder) -> Option<HolderInfo> {
        let (s, send) = SockId::from_object(h.object);
        let k = self.sock(s)?;
        if send {
            let f = k.snd.frags().find(|f| f.seq == h.index)?;
            let start = dist(k.snd_isn(), f.seq) as u64;
            let end = start + u64::from(f.len);
            let state =
                if !before(f.seq, k.snd.snd_max) || (!before(f.seq, k.snd.snd_nxt) && k.snd.snd_nxt == k.snd.snd_una) {
                    FragState::Unsent
                } else if self.on_the_wire(s, f.seq, f.end()) {
                    FragState::OnTheWire
                } else {
                    FragState::Unacked
                };
            Some(HolderInfo { sock: s, start, end, state })
        } else {
            let (_, _, seq, end) = k.rcv.refs().find(|(_, hh, _, _)| *hh == h)?;
            let start = dist(k.rcv.irs, seq) as u64;
            Some(HolderInfo { sock: s, start, end: start + dist(seq, end) as u64, state: FragState::QueuedAtReceiver })
        }
    }

    /// Whether a packet from `s` carrying some of `seq..end` is in flight.
    fn on_the_wire(&self, s: SockId, seq: u32, end: u32) -> bool {
        self.wire.iter().any(|(_, p)| match p {
            p if p.from == s && p.payload.len() > 0 => {
                let pend = p.seq.wrapping_add(p.payload.len() as u32);
                before(p.seq, end) && after(pend, seq)
            }
            _ => false,
        })
    }
}

impl Sock {
    /// The first sequence number this endpoint ever sent.
    fn snd_isn(&self) -> u32 {
        self.snd.isn()
    }
}

mod hosts;
mod repair;
mod repair_set;

#[cfg(test)]
mod tests;
