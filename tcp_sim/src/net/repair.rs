//! The network to and from its repair parts ([`crate::repair`]).

use super::{Conn, Event, Network};
use crate::events::EventQueue;
use crate::link::Mode;
use crate::repair::{ConnParts, EventKind, EventParts, NetParts, PacketParts, PayloadParts};
use crate::rng::SimRng;
use crate::socket::{Packet, Payload, Sock, SockId, TimerKind};

fn timer_kind(k: u8) -> Option<TimerKind> {
    match k {
        0 => Some(TimerKind::Rto),
        1 => Some(TimerKind::Delack),
        2 => Some(TimerKind::Persist),
        _ => None,
    }
}

fn packet_parts(p: &Packet) -> PacketParts {
    let payload = match &p.payload {
        Payload::Empty => PayloadParts::Empty,
        Payload::Bytes(b) => PayloadParts::Bytes(b.clone()),
        Payload::Runs(r) => PayloadParts::Runs(r.to_vec()),
        Payload::Frags(_) => unreachable!("page fragments travel on loopback only, within one call"),
    };
    PacketParts {
        from: p.from,
        to: p.to,
        seq: p.seq,
        ack: p.ack,
        wnd: p.wnd,
        flags: p.flags,
        payload,
        altered: p.altered,
    }
}

impl Network {
    /// Everything the network holds, between two calls (TCP repair for the
    /// whole simulated network: endpoints, links and their generators,
    /// packets in flight, pending events, time).
    pub fn repair_dump(&self) -> NetParts {
        debug_assert!(self.immediate.is_empty() && self.out.is_empty(), "loopback packets live within one call");
        let (entries, event_seq) = self.events.entries();
        // Packets are numbered by the order they arrive in, not by their
        // slab keys (which depend on the slab's history, not the network's
        // state): the same state dumps the same parts.
        let mut wire = Vec::with_capacity(self.wire.len());
        let mut events = Vec::with_capacity(entries.len());
        for (at, order, e) in entries {
            let kind = match e {
                Event::Arrive(key) => {
                    let n = wire.len() as u32;
                    wire.push((n, packet_parts(&self.wire[*key])));
                    EventKind::Arrive(n)
                }
                Event::Timer(s, k, t) => EventKind::Timer(*s, *k as u8, *t),
            };
            events.push(EventParts { at, order, kind });
        }
        NetParts {
            now: self.now(),
            socks: self.socks.iter().map(|s| s.as_ref().map(Sock::to_parts)).collect(),
            sock_conn: self.sock_conn.clone(),
            conns: self
                .conns
                .iter()
                .map(|c| ConnParts {
                    link: match c.mode {
                        Mode::Loopback => None,
                        Mode::Link(p) => Some(p),
                    },
                    ends: c.ends,
                    rng: c.rng.state(),
                    wire_free: c.wire_free,
                })
                .collect(),
            wire,
            events,
            event_seq,
            stats: self.stats,
            step: self.step,
            drops: self.drops.clone(),
            local: self.local,
            multi_host: self.multi_host,
        }
    }

    /// The network `parts` describe, going on exactly where the dumped one
    /// was. Every id the parts name (endpoints, connections, packets,
    /// timers) is checked; the page references the queues hold are the
    /// caller's to restore.
    ///
    /// # Errors
    /// What is inconsistent, naming the endpoint, connection or event.
    pub fn from_repair(parts: NetParts) -> Result<Network, String> {
        let n = parts.socks.len();
        let sock = |s: SockId, what: &str| {
            if (s.0 as usize) < n { Ok(s) } else { Err(format!("{what} names endpoint {} of {n}", s.0)) }
        };
        if parts.sock_conn.len() != n {
            return Err(format!("{} connection indexes for {n} endpoints", parts.sock_conn.len()));
        }
        if let Some(c) = parts.sock_conn.iter().find(|c| **c as usize >= parts.conns.len()) {
            return Err(format!("an endpoint names connection {c} of {}", parts.conns.len()));
        }
        let mut conns = Vec::with_capacity(parts.conns.len());
        for (i, c) in parts.conns.into_iter().enumerate() {
            for e in c.ends {
                sock(e, &format!("connection {i}"))?;
            }
            let rng = SimRng::from_state(c.rng).ok_or_else(|| format!("connection {i}: generator state all zero"))?;
            let mode = c.link.map_or(Mode::Loopback, Mode::Link);
            if let Mode::Link(p) = mode
                && p.mss == 0
            {
                return Err(format!("connection {i}: MSS 0"));
            }
            conns.push(Conn { mode, ends: c.ends, rng, wire_free: c.wire_free });
        }
        let mut socks = Vec::with_capacity(n);
        for (i, s) in parts.socks.into_iter().enumerate() {
            let id = SockId(i as u32);
            socks.push(match s {
                None => None,
                Some(p) => {
                    sock(p.peer, &format!("endpoint {i}'s peer"))?;
                    Some(Sock::from_parts(id, p)?)
                }
            });
        }
        let mut wire = slab::Slab::new();
        let mut keys = std::collections::BTreeMap::new();
        for (key, p) in parts.wire {
            sock(p.from, &format!("packet {key}"))?;
            sock(p.to, &format!("packet {key}"))?;
            let payload = match p.payload {
                PayloadParts::Empty => Payload::Empty,
                PayloadParts::Bytes(b) => Payload::Bytes(b),
                PayloadParts::Runs(r) => Payload::Runs(r.into_iter().collect()),
            };
            let packet = Packet {
                from: p.from,
                to: p.to,
                seq: p.seq,
                ack: p.ack,
                wnd: p.wnd,
                flags: p.flags,
                payload,
                altered: p.altered,
            };
            if keys.insert(key, wire.insert(packet)).is_some() {
                return Err(format!("packet key {key} twice"));
            }
        }
        let mut arrivals = std::collections::BTreeSet::new();
        let mut entries = Vec::with_capacity(parts.events.len());
        for e in parts.events {
            let event = match e.kind {
                EventKind::Arrive(key) => {
                    let k = *keys.get(&key).ok_or_else(|| format!("an arrival names packet {key}, not on the wire"))?;
                    if !arrivals.insert(k) {
                        return Err(format!("packet {key} arrives twice"));
                    }
                    Event::Arrive(k)
                }
                EventKind::Timer(s, k, at) => {
                    sock(s, "a timer event")?;
                    let kind =
                        timer_kind(k).ok_or_else(|| format!("timer kind {k} (0 RTO, 1 delayed ACK, 2 persist)"))?;
                    Event::Timer(s, kind, at)
                }
            };
            entries.push((e.at, e.order, event));
        }
        if arrivals.len() != wire.len() {
            return Err(format!("{} packets on the wire, {} arrivals", wire.len(), arrivals.len()));
        }
        let events = EventQueue::from_entries(parts.now, parts.event_seq, entries)
            .ok_or_else(|| "events share a schedule number or one is not below the next".to_owned())?;
        for (s, _) in &parts.drops {
            sock(*s, "a drop")?;
        }
        Ok(Network {
            socks,
            sock_conn: parts.sock_conn,
            conns,
            events,
            immediate: Default::default(),
            wire,
            out: Vec::new(),
            stats: parts.stats,
            step: parts.step,
            drops: parts.drops,
            local: parts.local,
            multi_host: parts.multi_host,
        })
    }
}

#[cfg(test)]
mod tests {
    use page_refs::{PageArena, Source};

    use crate::Network;
    use crate::link::{LinkParams, Mode};
    use crate::time::Instant;

    /// Cut a lossy transfer anywhere, rebuild the network from its parts
    /// (on a copy of the memory: the same page ids), run both on: the same
    /// state at every later cut and the same bytes delivered.
    #[test]
    fn network_rebuilt_from_its_parts_mid_transfer_runs_on_identically() {
        let link = LinkParams { loss_ppm: 50_000, reorder_ppm: 50_000, seed: 7, ..LinkParams::default() };
        for cut_ms in [0u64, 3, 7, 12, 25, 60] {
            let mut pages = PageArena::new();
            let mut net = Network::new();
            let (tx, rx) = net.connect(Mode::Link(link));
            net.send_copy(&mut pages, tx, Source::Fill { byte: b'x', len: 200_000 }, false).unwrap();
            net.advance_to(&mut pages, Instant(cut_ms * 1_000_000));
            let parts = net.repair_dump();
            let mut copy = Network::from_repair(parts.clone()).expect("rebuilds");
            assert_eq!(copy.repair_dump(), parts);
            let mut pages2 = pages.clone();
            for t in 1..40u64 {
                let at = Instant((cut_ms + t * 5) * 1_000_000);
                net.advance_to(&mut pages, at);
                copy.advance_to(&mut pages2, at);
                assert_eq!(net.repair_dump(), copy.repair_dump(), "cut at {cut_ms} ms, {t} steps on");
            }
            let (mut a, mut b) = (Vec::new(), Vec::new());
            assert_eq!(net.recv(&mut pages, rx, 1 << 20, &mut a), copy.recv(&mut pages2, rx, 1 << 20, &mut b));
            assert_eq!(a, b);
        }
    }

    #[test]
    fn parts_naming_missing_objects_are_refused() {
        let mut net = Network::new();
        net.connect(Mode::Link(LinkParams::default()));
        let good = net.repair_dump();
        let mut p = good.clone();
        p.conns[0].ends[1] = crate::SockId(9);
        assert!(Network::from_repair(p).unwrap_err().contains("endpoint 9"));
        let mut p = good.clone();
        p.conns[0].rng = [0; 4];
        assert!(Network::from_repair(p).is_err());
        let mut p = good;
        p.sock_conn.pop();
        assert!(Network::from_repair(p).is_err());
    }
}
