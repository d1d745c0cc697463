//! An endpoint to and from its repair parts ([`crate::repair`]).

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Arc;

use page_refs::PAGE_SIZE;

use super::send_queue::Frag;
use super::{Data, RecvQueue, Reno, RtoEstimator, Seg, SendQueue, Sock, SockId, Timer, ZeroCopy};
use crate::repair::ZeroCopyParts;
use crate::repair::{CongestionParts, FragParts, RecvParts, RtoParts, SegData, SegParts, SendParts, SockParts};

fn seg_parts(s: &Seg) -> SegParts {
    let data = match &s.data {
        Data::Bytes { bytes, start } => SegData::Bytes(bytes[*start..].to_vec()),
        Data::Fill { byte, len } => SegData::Fill { byte: *byte, len: *len },
        Data::Page { page, off, len, holder, meant } => SegData::Page {
            page: *page,
            off: *off,
            len: *len,
            holder: *holder,
            meant: meant.as_ref().map(|(c, o, v)| ((**c).clone(), *o, *v)),
        },
    };
    SegParts { seq: s.seq, data }
}

fn seg_from(p: SegParts) -> Result<Seg, String> {
    let data = match p.data {
        SegData::Bytes(bytes) if !bytes.is_empty() => Data::Bytes { bytes, start: 0 },
        SegData::Fill { byte, len } if len > 0 && len <= u32::MAX as usize => Data::Fill { byte, len },
        SegData::Page { page, off, len, holder, meant }
            if len > 0 && off.checked_add(len).is_some_and(|e| e <= PAGE_SIZE) =>
        {
            if meant.as_ref().is_some_and(|(_, o, _)| o.checked_add(len).is_none_or(|e| e > PAGE_SIZE)) {
                return Err(format!("received segment at {}: meant bytes run past the page", p.seq));
            }
            Data::Page { page, off, len, holder, meant: meant.map(|(c, o, v)| (Arc::new(c), o, v)) }
        }
        _ => return Err(format!("received segment at {}: empty, or past the end of its page", p.seq)),
    };
    Ok(Seg { seq: p.seq, data })
}

impl Sock {
    /// This endpoint's repair parts.
    pub(crate) fn to_parts(&self) -> SockParts {
        let snd = &self.snd;
        let frags = snd
            .frags
            .iter()
            .map(|f| FragParts {
                page: f.page,
                off: f.off,
                len: f.len,
                seq: f.seq,
                zc: f.zc,
                own: f.own,
                meant: f.meant.as_ref().map(|c| (**c).clone()),
                version: f.version,
            })
            .collect();
        let rcv = &self.rcv;
        SockParts {
            peer: self.peer,
            loopback: self.loopback,
            mss: self.mss,
            delack: self.delack,
            sndbuf: self.sndbuf,
            max_retries: self.max_retries,
            probes_out: self.probes_out,
            snd: SendParts {
                isn: snd.isn,
                popped: snd.popped,
                snd_una: snd.snd_una,
                snd_nxt: snd.snd_nxt,
                snd_max: snd.snd_max,
                write_seq: snd.write_seq,
                frags,
            },
            snd_wnd: self.snd_wnd,
            cc: CongestionParts {
                cwnd: self.cc.cwnd,
                ssthresh: self.cc.ssthresh,
                dupacks: self.cc.dupacks,
                recover: self.cc.recover,
                mss: self.cc.mss,
            },
            rto: RtoParts {
                srtt: self.rto.srtt,
                rttvar: self.rto.rttvar,
                base: self.rto.base,
                backoff: self.rto.backoff,
                retries: self.rto.retries,
                timing: self.rto.timing,
            },
            rcv: RecvParts {
                irs: rcv.irs,
                rcv_nxt: rcv.rcv_nxt,
                queue: rcv.queue.iter().map(seg_parts).collect(),
                ooo: rcv.ooo.iter().map(seg_parts).collect(),
                rcvbuf: rcv.rcvbuf,
                delivered: rcv.delivered,
                read: rcv.read,
                altered: rcv.altered,
            },
            adv_edge: self.adv_edge,
            unacked: self.unacked,
            quickack: self.quickack,
            peer_fin: self.peer_fin,
            fin_queued: self.fin_queued,
            fin_acked: self.fin_acked,
            fin_rcvd: self.fin_rcvd,
            reset: self.reset,
            err: self.err,
            orphan: self.orphan,
            corked: self.corked,
            snd_sml: self.snd_sml,
            zc: ZeroCopyParts {
                enabled: self.zc.enabled,
                next_id: self.zc.next_id,
                pending: self.zc.pending.iter().map(|(id, (n, c, a))| (*id, *n, *c, *a)).collect(),
                errqueue: self.zc.errqueue.iter().copied().collect(),
            },
            timers: self.timers.map(|t| (t.deadline, t.scheduled)),
            persist_backoff: self.persist_backoff,
            stats: self.stats,
            acked_total: self.acked_total,
            host: self.host,
            frozen: self.frozen,
        }
    }

    /// The endpoint `id` the parts describe. Checks what would break the
    /// endpoint's own code (fragments inside their pages, non-empty
    /// segments, a positive MSS); the queues' order and sequence numbers
    /// are checked by the owner's invariant check (`check`).
    pub(crate) fn from_parts(id: SockId, p: SockParts) -> Result<Sock, String> {
        let at = |what: String| format!("endpoint {}: {what}", id.0);
        if p.mss == 0 || p.cc.mss == 0 {
            return Err(at("MSS 0".into()));
        }
        if p.snd.popped > u64::MAX / 4 {
            return Err(at(format!("{} fragments released: more than a connection can send", p.snd.popped)));
        }
        let mut frags = VecDeque::with_capacity(p.snd.frags.len());
        for f in p.snd.frags {
            if f.len == 0 || usize::from(f.off) + usize::from(f.len) > PAGE_SIZE {
                return Err(at(format!("send fragment at {} is empty or runs past its page", f.seq)));
            }
            frags.push_back(Frag {
                page: f.page,
                off: f.off,
                len: f.len,
                seq: f.seq,
                zc: f.zc,
                own: f.own,
                meant: f.meant.map(Arc::new),
                version: f.version,
            });
        }
        let snd = SendQueue {
            frags,
            isn: p.snd.isn,
            popped: p.snd.popped,
            hint: Cell::new(p.snd.popped),
            holder_object: id.send_object(),
            snd_una: p.snd.snd_una,
            snd_nxt: p.snd.snd_nxt,
            snd_max: p.snd.snd_max,
            write_seq: p.snd.write_seq,
        };
        let queue = p.rcv.queue.into_iter().map(seg_from).collect::<Result<VecDeque<_>, _>>().map_err(at)?;
        let ooo = p.rcv.ooo.into_iter().map(seg_from).collect::<Result<VecDeque<_>, _>>().map_err(at)?;
        let mut rcv = RecvQueue::new(id.recv_object(), p.rcv.irs, p.rcv.rcvbuf);
        rcv.rcv_nxt = p.rcv.rcv_nxt;
        rcv.queued = queue.iter().map(|s| s.data.len()).sum();
        rcv.ooo_bytes = ooo.iter().map(|s| s.data.len()).sum();
        rcv.queue = queue;
        rcv.ooo = ooo;
        rcv.delivered = p.rcv.delivered;
        rcv.read = p.rcv.read;
        rcv.altered = p.rcv.altered;
        let mut zc = ZeroCopy { enabled: p.zc.enabled, next_id: p.zc.next_id, ..ZeroCopy::default() };
        zc.pending = p.zc.pending.into_iter().map(|(id, n, c, a)| (id, (n, c, a))).collect();
        zc.errqueue = p.zc.errqueue.into_iter().collect();
        Ok(Sock {
            id,
            peer: p.peer,
            loopback: p.loopback,
            mss: p.mss,
            delack: p.delack,
            sndbuf: p.sndbuf,
            max_retries: p.max_retries,
            probes_out: p.probes_out,
            snd,
            snd_wnd: p.snd_wnd,
            cc: Reno {
                cwnd: p.cc.cwnd,
                ssthresh: p.cc.ssthresh,
                dupacks: p.cc.dupacks,
                recover: p.cc.recover,
                mss: p.cc.mss,
            },
            rto: RtoEstimator {
                srtt: p.rto.srtt,
                rttvar: p.rto.rttvar,
                base: p.rto.base,
                backoff: p.rto.backoff,
                retries: p.rto.retries,
                timing: p.rto.timing,
            },
            rcv,
            adv_edge: p.adv_edge,
            unacked: p.unacked,
            quickack: p.quickack,
            peer_fin: p.peer_fin,
            fin_queued: p.fin_queued,
            fin_acked: p.fin_acked,
            fin_rcvd: p.fin_rcvd,
            reset: p.reset,
            err: p.err,
            orphan: p.orphan,
            corked: p.corked,
            snd_sml: p.snd_sml,
            zc,
            timers: p.timers.map(|(deadline, scheduled)| Timer { deadline, scheduled }),
            persist_backoff: p.persist_backoff,
            stats: p.stats,
            acked_total: p.acked_total,
            zc_scratch: Vec::new(),
            host: p.host,
            frozen: p.frozen,
        })
    }
}
