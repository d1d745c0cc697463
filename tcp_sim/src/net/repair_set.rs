//! TCP repair for a chosen set of endpoints: dump only them, and add them
//! to a running network under fresh ids (what a graft of a container's
//! loopback connections needs; [`super::repair`] does the whole network).
//!
//! A set is closed: every endpoint's peer and every packet in flight to or
//! from one of them stays inside it, so the dumped parts are a network of
//! their own ([`Network::from_repair`] accepts them) and adding them to
//! another network touches nothing already there.

use std::collections::{BTreeMap, BTreeSet};

use super::{Conn, Event, Network};
use crate::repair::{EventKind, EventParts, NetParts};
use crate::socket::{Packet, Payload, Sock, SockId, TimerKind};
use crate::time::Instant;

impl Network {
    /// The id the next endpoint made or grafted gets (ids are never
    /// reused): a graft's endpoint `i` becomes `endpoint_slots() + i`.
    pub fn endpoint_slots(&self) -> u32 {
        self.socks.len() as u32
    }

    /// The repair parts of only the endpoints `set` (Linux's `TCP_REPAIR`
    /// per socket, as CRIU dumps a process's sockets): a network of their
    /// own, endpoint `i` of the parts being the `i`-th of the returned
    /// (sorted) ids, with their connections, packets in flight, pending
    /// timers and scheduled drops; the network's counters are not theirs
    /// and start at zero.
    ///
    /// # Errors
    /// Naming the endpoint: one that does not exist, one whose peer is
    /// outside the set, a packet in flight between one inside and one
    /// outside.
    pub fn repair_dump_set(&self, set: &[SockId]) -> Result<(Vec<SockId>, NetParts), String> {
        let ids: Vec<SockId> = set.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
        let index: BTreeMap<SockId, SockId> = ids.iter().enumerate().map(|(i, s)| (*s, SockId(i as u32))).collect();
        let whole = self.repair_dump();
        let mut socks = Vec::with_capacity(ids.len());
        let mut conns = Vec::new();
        let mut conn_index: BTreeMap<u32, u32> = BTreeMap::new();
        let mut sock_conn = Vec::with_capacity(ids.len());
        for &s in &ids {
            let Some(Some(p)) = whole.socks.get(s.0 as usize) else {
                return Err(format!("endpoint {} does not exist", s.0));
            };
            let Some(&peer) = index.get(&p.peer) else {
                return Err(format!("endpoint {}: its peer, endpoint {}, is outside the set", s.0, p.peer.0));
            };
            let mut p = p.clone();
            p.peer = peer;
            socks.push(Some(p));
            let c = whole.sock_conn[s.0 as usize];
            let next = conn_index.len() as u32;
            let ci = *conn_index.entry(c).or_insert_with(|| {
                let mut conn = whole.conns[c as usize].clone();
                conn.ends = conn.ends.map(|e| index.get(&e).copied().unwrap_or(e));
                conns.push(conn);
                next
            });
            sock_conn.push(ci);
        }
        for (i, c) in conns.iter().enumerate() {
            if let Some(e) = c.ends.iter().find(|e| e.0 as usize >= ids.len()) {
                return Err(format!("connection {i}: endpoint {} is outside the set", e.0));
            }
        }
        let inside = |s: SockId| index.get(&s).copied();
        let mut wire = Vec::new();
        let mut kept = BTreeMap::new();
        for (key, p) in &whole.wire {
            match (inside(p.from), inside(p.to)) {
                (Some(from), Some(to)) => {
                    kept.insert(*key, wire.len() as u32);
                    let mut p = p.clone();
                    (p.from, p.to) = (from, to);
                    wire.push((wire.len() as u32, p));
                }
                (None, None) => {}
                _ => {
                    let (a, b) = (p.from.0, p.to.0);
                    return Err(format!("a packet in flight from endpoint {a} to endpoint {b} crosses the set"));
                }
            }
        }
        let mut events = Vec::new();
        for e in &whole.events {
            let kind = match e.kind {
                EventKind::Arrive(k) => match kept.get(&k) {
                    Some(&n) => EventKind::Arrive(n),
                    None => continue,
                },
                EventKind::Timer(s, k, t) => match inside(s) {
                    Some(n) => EventKind::Timer(n, k, t),
                    None => continue,
                },
            };
            events.push(EventParts { at: e.at, order: e.order, kind });
        }
        let drops = whole.drops.iter().filter_map(|&(s, n)| Some((inside(s)?, n))).collect();
        let parts = NetParts {
            now: whole.now,
            socks,
            sock_conn,
            conns,
            wire,
            events,
            event_seq: whole.event_seq,
            stats: Default::default(),
            step: whole.step,
            drops,
            local: whole.local,
            multi_host: whole.multi_host,
        };
        Ok((ids, parts))
    }

    /// Add the endpoints `parts` describe (a network of their own, as
    /// [`repair_dump_set`](Self::repair_dump_set) gives) to this running
    /// network under fresh ids: endpoint `i` of the parts becomes the
    /// `i`-th id returned. Times move by the difference of the clocks
    /// (a timer due in 3 ms on the source is due in 3 ms here); the
    /// endpoints live on this network's local host. Their page references
    /// are the caller's to take, for the new ids' `Holder::socket` objects.
    ///
    /// All or nothing: every id the parts name is checked (as
    /// [`from_repair`](Self::from_repair) does) before anything is added.
    ///
    /// # Errors
    /// What is inconsistent, naming the endpoint, connection or event; a
    /// destroyed endpoint among the parts.
    pub fn repair_graft(&mut self, mut parts: NetParts) -> Result<Vec<SockId>, String> {
        if let Some(i) = parts.socks.iter().position(Option::is_none) {
            return Err(format!("endpoint {i} of the set is destroyed"));
        }
        let here = self.now();
        let shift = |t: Instant| {
            Instant((t.0 as i128 + here.0 as i128 - parts.now.0 as i128).clamp(0, u64::MAX as i128) as u64)
        };
        for s in parts.socks.iter_mut().flatten() {
            for (deadline, scheduled) in &mut s.timers {
                *deadline = deadline.map(shift);
                *scheduled = scheduled.map(shift);
            }
            if let Some((seq, t)) = s.rto.timing {
                s.rto.timing = Some((seq, shift(t)));
            }
            s.host = self.local;
        }
        for c in &mut parts.conns {
            c.wire_free = c.wire_free.map(shift);
        }
        for e in &mut parts.events {
            e.at = shift(e.at);
            if let EventKind::Timer(_, _, t) = &mut e.kind {
                *t = shift(*t);
            }
        }
        parts.now = here;
        // Every check from_repair makes, on the set alone.
        let alone = Network::from_repair(parts.clone())?;
        let base = self.socks.len() as u32;
        let conn_base = self.conns.len() as u32;
        let new = |s: SockId| SockId(base + s.0);
        let mut socks = Vec::with_capacity(parts.socks.len());
        for (i, p) in parts.socks.into_iter().enumerate() {
            let mut p = p.expect("checked above");
            p.peer = new(p.peer);
            socks.push(Sock::from_parts(new(SockId(i as u32)), p)?);
        }
        let ids: Vec<SockId> = (0..socks.len() as u32).map(|i| SockId(base + i)).collect();
        // Nothing can fail from here on.
        self.socks.extend(socks.into_iter().map(Some));
        self.sock_conn.extend(parts.sock_conn.iter().map(|c| conn_base + c));
        for c in alone.conns {
            let Conn { mode, ends, rng, wire_free } = c;
            self.conns.push(Conn { mode, ends: ends.map(new), rng, wire_free });
        }
        let mut keys = BTreeMap::new();
        for (key, p) in &parts.wire {
            let payload = match &p.payload {
                crate::repair::PayloadParts::Empty => Payload::Empty,
                crate::repair::PayloadParts::Bytes(b) => Payload::Bytes(b.clone()),
                crate::repair::PayloadParts::Runs(r) => Payload::Runs(r.iter().copied().collect()),
            };
            let packet = Packet {
                from: new(p.from),
                to: new(p.to),
                seq: p.seq,
                ack: p.ack,
                wnd: p.wnd,
                flags: p.flags,
                payload,
                altered: p.altered,
            };
            keys.insert(*key, self.wire.insert(packet));
        }
        let mut events = parts.events;
        events.sort_by_key(|e| (e.at, e.order));
        for e in events {
            let event = match e.kind {
                EventKind::Arrive(k) => Event::Arrive(keys[&k]),
                EventKind::Timer(s, k, t) => {
                    let kind = match k {
                        0 => TimerKind::Rto,
                        1 => TimerKind::Delack,
                        _ => TimerKind::Persist,
                    };
                    Event::Timer(new(s), kind, t)
                }
            };
            self.events.schedule(e.at, event);
        }
        self.drops.extend(parts.drops.into_iter().map(|(s, n)| (new(s), n)));
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use page_refs::{Holder, HolderKind, PageArena, Source};

    use crate::link::{LinkParams, Mode};
    use crate::time::Instant;
    use crate::{Network, SockId};

    /// Move the arena's references of the old endpoints' queues to the new
    /// endpoints' (what the kernel's graft does with its frame table).
    fn rename_holders(pages: &mut PageArena, map: &BTreeMap<SockId, SockId>) {
        let moves: Vec<_> = pages
            .iter()
            .flat_map(|(id, hs)| hs.iter().map(move |h| (id, *h)))
            .filter(|(_, h)| h.kind == HolderKind::Socket)
            .collect();
        for (id, h) in moves {
            let (s, send) = SockId::from_object(h.object);
            if let Some(&n) = map.get(&s) {
                let object = if send { n.send_object() } else { n.recv_object() };
                pages.get(id, Holder { object, ..h });
                pages.put(id, h);
            }
        }
    }

    fn recv_all(net: &mut Network, pages: &mut PageArena, s: SockId) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = net.recv(pages, s, 1 << 20, &mut out);
        out
    }

    /// A loopback pair with unread data, dumped alone from a network with a
    /// link connection in flight and grafted into a busy network at another
    /// time: fresh ids, the same bytes read once in order, and both go on
    /// talking; the link connection is left out.
    #[test]
    fn loopback_pair_dumped_alone_grafts_into_running_network_and_reads_the_same_bytes() {
        let mut pages = PageArena::new();
        let mut src = Network::new();
        let (l0, l1) = src.connect(Mode::Link(LinkParams::default()));
        let (a, b) = src.connect(Mode::Loopback);
        src.send_copy(&mut pages, l0, Source::Fill { byte: b'l', len: 50_000 }, false).unwrap();
        src.send_copy(&mut pages, a, Source::Slice(b"hello, loopback"), false).unwrap();
        src.send_copy(&mut pages, b, Source::Fill { byte: b'z', len: 9000 }, false).unwrap();
        src.advance_to(&mut pages, Instant(2_000_000));
        let (ids, parts) = src.repair_dump_set(&[b, a]).expect("a closed set");
        assert_eq!(ids, vec![a, b]);
        assert!(src.repair_dump_set(&[l0]).unwrap_err().contains("peer"));

        let mut dst = Network::new();
        let mut dpages = pages.clone();
        let (x, y) = dst.connect(Mode::Loopback);
        dst.advance_to(&mut dpages, Instant(9_000_000));
        let new = dst.repair_graft(parts).expect("grafts");
        assert_eq!(new, vec![SockId(2), SockId(3)]);
        assert_eq!(dst.peer(new[0]), Some(new[1]));
        let map: BTreeMap<SockId, SockId> = ids.iter().copied().zip(new.iter().copied()).collect();
        rename_holders(&mut dpages, &map);
        // The source's other references are the source's: drop the link
        // pair's and the old ids' from the copy.
        let mut reference = src.clone();
        let mut rpages = pages.clone();
        let got = recv_all(&mut dst, &mut dpages, new[1]);
        assert_eq!(got, b"hello, loopback");
        assert_eq!(got, recv_all(&mut reference, &mut rpages, b));
        let got = recv_all(&mut dst, &mut dpages, new[0]);
        assert_eq!(got.len(), 9000);
        assert_eq!(got, recv_all(&mut reference, &mut rpages, a));
        dst.send_copy(&mut dpages, new[0], Source::Slice(b"more"), false).unwrap();
        assert_eq!(recv_all(&mut dst, &mut dpages, new[1]), b"more");
        dst.send_copy(&mut dpages, x, Source::Slice(b"host"), false).unwrap();
        assert_eq!(recv_all(&mut dst, &mut dpages, y), b"host");
        dst.check().unwrap();
        let _ = l1;
    }

    #[test]
    fn bad_parts_are_refused_and_the_network_is_untouched() {
        let mut pages = PageArena::new();
        let mut src = Network::new();
        let (a, b) = src.connect(Mode::Loopback);
        src.send_copy(&mut pages, a, Source::Slice(b"x"), false).unwrap();
        let (_, good) = src.repair_dump_set(&[a, b]).unwrap();
        let mut dst = Network::new();
        dst.connect(Mode::Loopback);
        let before = dst.repair_dump();
        let mut p = good.clone();
        p.conns[0].ends[1] = SockId(7);
        assert!(dst.repair_graft(p).unwrap_err().contains("endpoint 7"));
        let mut p = good.clone();
        p.socks[1] = None;
        assert!(dst.repair_graft(p).unwrap_err().contains("endpoint 1"));
        let mut p = good;
        p.socks[0].as_mut().unwrap().peer = SockId(5);
        assert!(dst.repair_graft(p).is_err());
        assert_eq!(dst.repair_dump(), before);
        assert!(src.repair_dump_set(&[SockId(4)]).unwrap_err().contains("endpoint 4 does not exist"));
    }

    /// A lossy link pair mid-transfer (packets in flight, RTO and delayed
    /// ACK timers pending) dumped as a set and grafted into a network 1 s
    /// later in its clock: run on by the same spans, it delivers the same
    /// bytes at the same relative times as the original.
    #[test]
    fn link_pair_in_flight_grafted_later_runs_on_like_the_original() {
        let link = LinkParams { loss_ppm: 50_000, seed: 3, ..LinkParams::default() };
        let mut pages = PageArena::new();
        let mut src = Network::new();
        let (tx, rx) = src.connect(Mode::Link(link));
        src.send_copy(&mut pages, tx, Source::Fill { byte: b'q', len: 120_000 }, false).unwrap();
        src.advance_to(&mut pages, Instant(4_000_000));
        let (ids, parts) = src.repair_dump_set(&[tx, rx]).unwrap();
        assert!(!parts.events.is_empty() && !parts.wire.is_empty(), "mid-transfer: something to carry");
        let mut dst = Network::new();
        let mut dpages = pages.clone();
        dst.advance_to(&mut dpages, Instant(1_000_000_000));
        let new = dst.repair_graft(parts).unwrap();
        let map: BTreeMap<SockId, SockId> = ids.iter().copied().zip(new.iter().copied()).collect();
        rename_holders(&mut dpages, &map);
        for step in 1..=30u64 {
            src.advance_to(&mut pages, Instant(4_000_000 + step * 10_000_000));
            dst.advance_to(&mut dpages, Instant(1_000_000_000 + step * 10_000_000));
            assert_eq!(src.readable(rx), dst.readable(map[&rx]), "{step} steps on");
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let n = src.readable(rx);
        assert_eq!(src.recv(&mut pages, rx, n, &mut a), dst.recv(&mut dpages, map[&rx], n, &mut b));
        assert_eq!(a, b);
        assert!(!a.is_empty());
        dst.check().unwrap();
    }
}
