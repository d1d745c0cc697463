//! TCP endpoints and the simulated network to and from the image's v2
//! records: [`tcp_sim::repair`] parts with page ids on one side, records
//! with frame-table indexes on the other.

use page_refs::{Content, PAGE_SIZE, PageId};
use tcp_sim::repair::{
    CongestionParts, ConnParts, EventKind, EventParts, FragParts, NetParts, PacketParts, PayloadParts, RecvParts,
    RtoParts, SegData, SegParts, SendParts, SockParts, ZeroCopyParts,
};
use tcp_sim::{Altered, Completion, Duration, Instant, LinkParams, NetStats, SockError, SockId, SockStats};

use super::image::{
    BytesRec, CongestionRec, ConnRec, EventKindRec, EventRec, FragRec, LinkRec, NetRec, NetStatsRec, PacketRec,
    PayloadRec, RecvRec, RtoRec, SegDataRec, SegRec, SendRec, SockRec, ZeroCopyRec,
};

fn bytes_rec(c: &Content) -> BytesRec {
    match c {
        Content::Uniform(b) => BytesRec::Uniform(*b),
        Content::Bytes(b) => BytesRec::Page(b.to_vec()),
    }
}

fn content(b: &BytesRec) -> Result<Content, String> {
    match b {
        BytesRec::Uniform(v) => Ok(Content::Uniform(*v)),
        BytesRec::Page(v) => {
            let page: Box<[u8; PAGE_SIZE]> = v
                .clone()
                .into_boxed_slice()
                .try_into()
                .map_err(|v: Box<[u8]>| format!("a saved page of {} bytes, not {PAGE_SIZE}", v.len()))?;
            Ok(Content::Bytes(page))
        }
    }
}

fn err_code(e: Option<SockError>) -> u8 {
    match e {
        None => 0,
        Some(SockError::Pipe) => 1,
        Some(SockError::ConnReset) => 2,
        Some(SockError::TimedOut) => 3,
        Some(SockError::WouldBlock) => 4,
    }
}

fn err_of(c: u8) -> Result<Option<SockError>, String> {
    Ok(match c {
        0 => None,
        1 => Some(SockError::Pipe),
        2 => Some(SockError::ConnReset),
        3 => Some(SockError::TimedOut),
        4 => Some(SockError::WouldBlock),
        n => return Err(format!("unknown socket error {n}")),
    })
}

fn seg_rec(s: &SegParts, frame: &mut impl FnMut(PageId) -> u32) -> SegRec {
    let data = match &s.data {
        SegData::Bytes(b) => SegDataRec::Bytes(b.clone()),
        SegData::Fill { byte, len } => SegDataRec::Fill { byte: *byte, len: *len as u64 },
        SegData::Page { page, off, len, holder, meant } => SegDataRec::Page {
            frame: frame(*page),
            off: *off as u32,
            len: *len as u32,
            holder: *holder,
            meant: meant.as_ref().map(|(c, o, v)| (bytes_rec(c), *o as u32, *v)),
        },
    };
    SegRec { seq: s.seq, data }
}

fn seg_parts(s: &SegRec, page: &impl Fn(u32) -> Result<PageId, String>) -> Result<SegParts, String> {
    let data = match &s.data {
        SegDataRec::Bytes(b) => SegData::Bytes(b.clone()),
        SegDataRec::Fill { byte, len } => {
            SegData::Fill { byte: *byte, len: usize::try_from(*len).map_err(|_| "a run too long".to_owned())? }
        }
        SegDataRec::Page { frame, off, len, holder, meant } => SegData::Page {
            page: page(*frame)?,
            off: *off as usize,
            len: *len as usize,
            holder: *holder,
            meant: match meant {
                Some((c, o, v)) => Some((content(c)?, *o as usize, *v)),
                None => None,
            },
        },
    };
    Ok(SegParts { seq: s.seq, data })
}

fn sock_rec(p: &SockParts, frame: &mut impl FnMut(PageId) -> u32) -> SockRec {
    let SockStats { segments, retransmits, timeouts, fast_retransmits, acks } = p.stats;
    SockRec {
        peer: p.peer.0,
        loopback: p.loopback,
        mss: p.mss,
        delack_ns: p.delack.0,
        sndbuf: p.sndbuf as u64,
        max_retries: p.max_retries,
        probes_out: p.probes_out,
        snd: SendRec {
            isn: p.snd.isn,
            popped: p.snd.popped,
            snd_una: p.snd.snd_una,
            snd_nxt: p.snd.snd_nxt,
            snd_max: p.snd.snd_max,
            write_seq: p.snd.write_seq,
            frags: p
                .snd
                .frags
                .iter()
                .map(|f| FragRec {
                    frame: frame(f.page),
                    off: f.off,
                    len: f.len,
                    seq: f.seq,
                    zc: f.zc,
                    own: f.own,
                    meant: f.meant.as_ref().map(bytes_rec),
                    version: f.version,
                })
                .collect(),
        },
        snd_wnd: p.snd_wnd,
        cc: CongestionRec {
            cwnd: p.cc.cwnd,
            ssthresh: p.cc.ssthresh,
            dupacks: p.cc.dupacks,
            recover: p.cc.recover,
            mss: p.cc.mss,
        },
        rto: RtoRec {
            srtt_ns: p.rto.srtt.map(|d| d.0),
            rttvar_ns: p.rto.rttvar.0,
            base_ns: p.rto.base.0,
            backoff: p.rto.backoff,
            retries: p.rto.retries,
            timing: p.rto.timing.map(|(s, t)| (s, t.0)),
        },
        rcv: RecvRec {
            irs: p.rcv.irs,
            rcv_nxt: p.rcv.rcv_nxt,
            queue: p.rcv.queue.iter().map(|s| seg_rec(s, frame)).collect(),
            ooo: p.rcv.ooo.iter().map(|s| seg_rec(s, frame)).collect(),
            rcvbuf: p.rcv.rcvbuf as u64,
            delivered: p.rcv.delivered,
            read: p.rcv.read,
            altered: (p.rcv.altered.bytes, p.rcv.altered.first, p.rcv.altered.end),
        },
        adv_edge: p.adv_edge,
        unacked: p.unacked as u64,
        quickack: p.quickack,
        peer_fin: p.peer_fin,
        fin_queued: p.fin_queued,
        fin_acked: p.fin_acked,
        fin_rcvd: p.fin_rcvd,
        reset: p.reset,
        err: err_code(p.err),
        orphan: p.orphan,
        corked: p.corked,
        snd_sml: p.snd_sml,
        zc: ZeroCopyRec {
            enabled: p.zc.enabled,
            next_id: p.zc.next_id,
            pending: p.zc.pending.clone(),
            errqueue: p.zc.errqueue.iter().map(|c| (c.lo, c.hi, c.copied)).collect(),
        },
        timers: p.timers.map(|(d, s)| (d.map(|i| i.0), s.map(|i| i.0))),
        persist_backoff: p.persist_backoff,
        stats: [segments, retransmits, timeouts, fast_retransmits, acks],
        acked_total: p.acked_total,
        host: p.host,
        frozen: p.frozen,
    }
}

fn usize_of(n: u64, what: &str) -> Result<usize, String> {
    usize::try_from(n).map_err(|_| format!("{what} {n} is too large"))
}

fn sock_parts(r: &SockRec, page: &impl Fn(u32) -> Result<PageId, String>) -> Result<SockParts, String> {
    let [segments, retransmits, timeouts, fast_retransmits, acks] = r.stats;
    let mut frags = Vec::with_capacity(r.snd.frags.len());
    for f in &r.snd.frags {
        frags.push(FragParts {
            page: page(f.frame)?,
            off: f.off,
            len: f.len,
            seq: f.seq,
            zc: f.zc,
            own: f.own,
            meant: f.meant.as_ref().map(content).transpose()?,
            version: f.version,
        });
    }
    let segs = |v: &[SegRec]| v.iter().map(|s| seg_parts(s, page)).collect::<Result<Vec<_>, _>>();
    Ok(SockParts {
        peer: SockId(r.peer),
        loopback: r.loopback,
        mss: r.mss,
        delack: Duration(r.delack_ns),
        sndbuf: usize_of(r.sndbuf, "send buffer")?,
        max_retries: r.max_retries,
        probes_out: r.probes_out,
        snd: SendParts {
            isn: r.snd.isn,
            popped: r.snd.popped,
            snd_una: r.snd.snd_una,
            snd_nxt: r.snd.snd_nxt,
            snd_max: r.snd.snd_max,
            write_seq: r.snd.write_seq,
            frags,
        },
        snd_wnd: r.snd_wnd,
        cc: CongestionParts {
            cwnd: r.cc.cwnd,
            ssthresh: r.cc.ssthresh,
            dupacks: r.cc.dupacks,
            recover: r.cc.recover,
            mss: r.cc.mss,
        },
        rto: RtoParts {
            srtt: r.rto.srtt_ns.map(Duration),
            rttvar: Duration(r.rto.rttvar_ns),
            base: Duration(r.rto.base_ns),
            backoff: r.rto.backoff,
            retries: r.rto.retries,
            timing: r.rto.timing.map(|(s, t)| (s, Instant(t))),
        },
        rcv: RecvParts {
            irs: r.rcv.irs,
            rcv_nxt: r.rcv.rcv_nxt,
            queue: segs(&r.rcv.queue)?,
            ooo: segs(&r.rcv.ooo)?,
            rcvbuf: usize_of(r.rcv.rcvbuf, "receive buffer")?,
            delivered: r.rcv.delivered,
            read: r.rcv.read,
            altered: Altered { bytes: r.rcv.altered.0, first: r.rcv.altered.1, end: r.rcv.altered.2 },
        },
        adv_edge: r.adv_edge,
        unacked: usize_of(r.unacked, "unacknowledged bytes")?,
        quickack: r.quickack,
        peer_fin: r.peer_fin,
        fin_queued: r.fin_queued,
        fin_acked: r.fin_acked,
        fin_rcvd: r.fin_rcvd,
        reset: r.reset,
        err: err_of(r.err)?,
        orphan: r.orphan,
        corked: r.corked,
        snd_sml: r.snd_sml,
        zc: ZeroCopyParts {
            enabled: r.zc.enabled,
            next_id: r.zc.next_id,
            pending: r.zc.pending.clone(),
            errqueue: r.zc.errqueue.iter().map(|&(lo, hi, copied)| Completion { lo, hi, copied }).collect(),
        },
        timers: r.timers.map(|(d, s)| (d.map(Instant), s.map(Instant))),
        persist_backoff: r.persist_backoff,
        stats: SockStats { segments, retransmits, timeouts, fast_retransmits, acks },
        acked_total: r.acked_total,
        host: r.host,
        frozen: r.frozen,
    })
}

/// The network's records; `frame` gives the frame-table index of a page.
pub(crate) fn net_rec(net: &tcp_sim::Network, frame: impl FnMut(PageId) -> u32) -> NetRec {
    parts_rec(net.repair_dump(), frame)
}

/// The records of repair parts (a whole network's or a set's);
/// `frame` gives the frame-table index of a page.
pub(crate) fn parts_rec(p: NetParts, mut frame: impl FnMut(PageId) -> u32) -> NetRec {
    let NetStats { packets, segments, lost, reordered, events, dropped_frozen } = p.stats;
    NetRec {
        now_ns: p.now.0,
        socks: p.socks.iter().map(|s| s.as_ref().map(|s| sock_rec(s, &mut frame))).collect(),
        sock_conn: p.sock_conn,
        conns: p
            .conns
            .iter()
            .map(|c| ConnRec {
                link: c.link.map(|l| LinkRec {
                    rtt_ns: l.rtt.0,
                    loss_ppm: l.loss_ppm,
                    reorder_ppm: l.reorder_ppm,
                    bandwidth: l.bandwidth,
                    mss: l.mss,
                    seed: l.seed,
                    delack_ns: l.delack.0,
                }),
                ends: (c.ends[0].0, c.ends[1].0),
                rng: c.rng,
                wire_free: (c.wire_free[0].0, c.wire_free[1].0),
            })
            .collect(),
        wire: p
            .wire
            .iter()
            .map(|(k, w)| {
                let payload = match &w.payload {
                    PayloadParts::Empty => PayloadRec::Empty,
                    PayloadParts::Bytes(b) => PayloadRec::Bytes(b.clone()),
                    PayloadParts::Runs(r) => PayloadRec::Runs(r.clone()),
                };
                let rec = PacketRec {
                    from: w.from.0,
                    to: w.to.0,
                    seq: w.seq,
                    ack: w.ack,
                    wnd: w.wnd,
                    flags: w.flags,
                    payload,
                    altered: w.altered,
                };
                (*k, rec)
            })
            .collect(),
        events: p
            .events
            .iter()
            .map(|e| EventRec {
                at_ns: e.at.0,
                order: e.order,
                kind: match e.kind {
                    EventKind::Arrive(k) => EventKindRec::Arrive(k),
                    EventKind::Timer(s, k, t) => EventKindRec::Timer(s.0, k, t.0),
                },
            })
            .collect(),
        event_seq: p.event_seq,
        stats: NetStatsRec { packets, segments, lost, reordered, events, dropped_frozen },
        step: p.step,
        drops: p.drops.iter().map(|(s, n)| (s.0, *n)).collect(),
        local: p.local,
        multi_host: p.multi_host,
    }
}

/// The network the records describe; `page` gives the page of a frame.
///
/// # Errors
/// What is inconsistent.
pub(crate) fn network(r: &NetRec, page: impl Fn(u32) -> Result<PageId, String>) -> Result<tcp_sim::Network, String> {
    tcp_sim::Network::from_repair(net_parts(r, page)?)
}

/// The repair parts the records describe (unchecked: the network checks
/// them); `page` gives the page of a frame.
///
/// # Errors
/// An endpoint's records that do not decode.
pub(crate) fn net_parts(r: &NetRec, page: impl Fn(u32) -> Result<PageId, String>) -> Result<NetParts, String> {
    let mut socks = Vec::with_capacity(r.socks.len());
    for (i, s) in r.socks.iter().enumerate() {
        socks.push(match s {
            Some(s) => Some(sock_parts(s, &page).map_err(|e| format!("endpoint {i}: {e}"))?),
            None => None,
        });
    }
    let conns = r
        .conns
        .iter()
        .map(|c| ConnParts {
            link: c.link.map(|l| LinkParams {
                rtt: Duration(l.rtt_ns),
                loss_ppm: l.loss_ppm,
                reorder_ppm: l.reorder_ppm,
                bandwidth: l.bandwidth,
                mss: l.mss,
                seed: l.seed,
                delack: Duration(l.delack_ns),
            }),
            ends: [SockId(c.ends.0), SockId(c.ends.1)],
            rng: c.rng,
            wire_free: [Instant(c.wire_free.0), Instant(c.wire_free.1)],
        })
        .collect();
    let wire = r
        .wire
        .iter()
        .map(|(k, w)| {
            let payload = match &w.payload {
                PayloadRec::Empty => PayloadParts::Empty,
                PayloadRec::Bytes(b) => PayloadParts::Bytes(b.clone()),
                PayloadRec::Runs(r) => PayloadParts::Runs(r.clone()),
            };
            let p = PacketParts {
                from: SockId(w.from),
                to: SockId(w.to),
                seq: w.seq,
                ack: w.ack,
                wnd: w.wnd,
                flags: w.flags,
                payload,
                altered: w.altered,
            };
            (*k, p)
        })
        .collect();
    let events = r
        .events
        .iter()
        .map(|e| EventParts {
            at: Instant(e.at_ns),
            order: e.order,
            kind: match e.kind {
                EventKindRec::Arrive(k) => EventKind::Arrive(k),
                EventKindRec::Timer(s, k, t) => EventKind::Timer(SockId(s), k, Instant(t)),
            },
        })
        .collect();
    let s = r.stats;
    Ok(NetParts {
        now: Instant(r.now_ns),
        socks,
        sock_conn: r.sock_conn.clone(),
        conns,
        wire,
        events,
        event_seq: r.event_seq,
        stats: NetStats {
            packets: s.packets,
            segments: s.segments,
            lost: s.lost,
            reordered: s.reordered,
            events: s.events,
            dropped_frozen: s.dropped_frozen,
        },
        step: r.step,
        drops: r.drops.iter().map(|(s, n)| (SockId(*s), *n)).collect(),
        local: r.local,
        multi_host: r.multi_host,
    })
}
