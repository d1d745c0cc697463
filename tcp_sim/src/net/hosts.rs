//! One network shared by several hosts, each with its own page memory.
//!
//! On a link, packets carry bytes, never page references, and a receive
//! queue keeps bytes: the only pages an endpoint holds are its send
//! queue's, in the memory of the host it runs on. So every event touches
//! the memory of exactly one host: the host of the endpoint it is for.
//! Each endpoint is tagged with its host; the caller says whose memory it
//! passes ([`Network::set_local_host`]); an event for another host's
//! endpoint is not run: [`Network::step`] answers `false` and
//! [`Network::advance_to`] stops before it, and the owner of the hosts
//! runs it with that host's memory. Events still run in one global time
//! order, so no host ever sees a packet from the future.
//!
//! An endpoint migrates by [`Network::rehome`]: its send queue's pages
//! are copied into the target host's memory and its tag changes; around
//! that it is frozen ([`Network::freeze`], arrivals dropped, timers
//! stopped) and thawed ([`Network::thaw`], retransmission timer re-armed),
//! as CRIU's TCP repair mode does.

use std::collections::HashMap;

use page_refs::{Content, PageArena, PageId, Source};

use super::{Event, Network};
use crate::socket::SockId;
use crate::time::Instant;

impl Network {
    /// Say whose memory the calls that follow pass: host `h`.
    pub fn set_local_host(&mut self, h: u32) {
        self.local = h;
        if h != 0 {
            self.multi_host = true;
        }
    }

    /// The host whose memory the calls pass.
    pub fn local_host(&self) -> u32 {
        self.local
    }

    /// The host endpoint `s` runs on.
    pub fn host_of(&self, s: SockId) -> Option<u32> {
        self.sock(s).map(|k| k.host)
    }

    /// Endpoint `s` now runs on host `h` (a new endpoint made by another
    /// host's call; for a migration use [`rehome`](Self::rehome)).
    pub fn set_host(&mut self, s: SockId, h: u32) {
        if let Some(k) = self.sock_mut(s) {
            k.host = h;
        }
        if h != 0 {
            self.multi_host = true;
        }
    }

    fn event_host(&self, ev: &Event) -> u32 {
        let s = match ev {
            Event::Arrive(key) => self.wire.get(*key).map(|p| p.to),
            Event::Timer(s, _, _) => Some(*s),
        };
        // An event for an endpoint that is gone touches no memory.
        s.and_then(|s| self.sock(s)).map_or(self.local, |k| k.host)
    }

    /// The host of the next event that can make progress, and when it is
    /// due.
    pub fn next_event(&self) -> Option<(Instant, u32)> {
        if !self.can_progress() {
            return None;
        }
        self.events.peek().map(|(t, ev)| (t, self.event_host(ev)))
    }

    /// Whether the next event due by `t` (if any) is the local host's.
    pub(super) fn head_is_local(&self, t: Instant) -> bool {
        match self.events.peek() {
            Some((at, ev)) if at <= t => self.event_host(ev) == self.local,
            _ => true,
        }
    }

    /// Freeze endpoint `s`: packets for it are dropped, its timers stop.
    pub fn freeze(&mut self, s: SockId) {
        if let Some(k) = self.sock_mut(s) {
            k.freeze();
        }
    }

    /// Thaw endpoint `s` (its host's memory is `pages`): the
    /// retransmission timer is armed for what is outstanding, and unsent
    /// data goes out as the window allows.
    pub fn thaw(&mut self, pages: &mut PageArena, s: SockId) {
        let now = self.now();
        if let Some(k) = self.sock_mut(s) {
            k.thaw(now);
        }
        self.push(pages, s, false);
        self.after(pages, s);
    }

    /// Move endpoint `s` to host `to_host`: every page its send queue
    /// holds in `from` is copied into `to` (a page several fragments
    /// share stays shared; `map` carries pages already copied, so sharing
    /// with the host's other objects can be kept too) and released in
    /// `from`.
    ///
    /// # Errors
    /// A loopback endpoint (its peer's receive queue holds the same pages:
    /// it cannot leave its host alone).
    pub fn rehome(
        &mut self,
        s: SockId,
        from: &mut PageArena,
        to: &mut PageArena,
        to_host: u32,
        map: &mut HashMap<PageId, PageId>,
    ) -> Result<(), String> {
        let Some(k) = self.sock_mut(s) else { return Err(format!("socket {} does not exist", s.0)) };
        if k.loopback {
            return Err(format!("socket {} is on loopback: it cannot move to another host alone", s.0));
        }
        let mut tmp = Vec::new();
        let holders: Vec<_> = k.snd.frags().map(|f| k.snd.holder_of(f.seq)).collect();
        for (f, holder) in k.snd.frags_mut().zip(holders) {
            let new = match map.get(&f.page) {
                Some(&p) => {
                    to.get(p, holder);
                    p
                }
                None => {
                    let p = match *from.content(f.page) {
                        Content::Uniform(b) => to.alloc_with(holder, Content::Uniform(b)),
                        _ => {
                            tmp.clear();
                            from.read_into(f.page, 0, page_refs::PAGE_SIZE, &mut tmp);
                            let p = to.alloc(holder);
                            to.write(p, 0, Source::Slice(&tmp));
                            p
                        }
                    };
                    map.insert(f.page, p);
                    p
                }
            };
            from.put(f.page, holder);
            f.page = new;
            f.version = to.version(new);
        }
        k.host = to_host;
        self.multi_host = true;
        Ok(())
    }

    /// At a host's shutdown with other hosts on the network: reset its
    /// endpoints and drop their pages, leave the others' alone.
    pub(super) fn abort_local(&mut self, pages: &mut PageArena) {
        let local = self.local;
        for slot in &mut self.socks {
            if slot.as_ref().is_some_and(|s| s.host == local) {
                let mut s = slot.take().expect("checked");
                s.orphan = true;
                s.die(pages);
                s.rcv.purge(pages);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::{LinkParams, Mode};
    use crate::time::Duration;

    /// Run every event on its host's memory until `t`.
    fn run_until(net: &mut Network, arenas: &mut [PageArena; 2], t: Instant) {
        while let Some((at, h)) = net.next_event() {
            if at > t {
                break;
            }
            net.set_local_host(h);
            assert!(net.step(&mut arenas[h as usize]));
        }
        net.set_local_host(0);
        net.advance_to(&mut arenas[0], t);
    }

    #[test]
    fn endpoint_moves_to_other_host_mid_stream_and_every_byte_arrives_once_in_order() {
        let mut arenas = [PageArena::new(), PageArena::new()];
        let mut net = Network::new();
        let link = LinkParams { rtt: Duration::from_millis(10), bandwidth: 8_000_000, ..LinkParams::default() };
        let (tx, rx) = net.connect(Mode::Link(link));
        let mut sent = Vec::new();
        for (i, b) in [b'a', b'b', b'c', b'd'].into_iter().enumerate() {
            let n = net.send_copy(&mut arenas[0], tx, Source::Fill { byte: b, len: 16384 }, false).unwrap();
            assert_eq!(n, 16384, "chunk {i}");
            sent.extend(std::iter::repeat_n(b, n));
        }
        run_until(&mut net, &mut arenas, Instant(15_000_000));
        // Freeze, let the peer's ACKs hit the frozen endpoint, move it.
        net.freeze(tx);
        run_until(&mut net, &mut arenas, Instant(60_000_000));
        assert!(net.stats().dropped_frozen > 0, "ACKs reached the frozen endpoint");
        let [a, b] = &mut arenas;
        let mut map = HashMap::new();
        net.rehome(tx, a, b, 1, &mut map).unwrap();
        assert_eq!(net.host_of(tx), Some(1));
        a.check_teardown().unwrap();
        net.set_local_host(1);
        net.thaw(&mut arenas[1], tx);
        net.set_local_host(0);
        run_until(&mut net, &mut arenas, Instant(2_000_000_000));
        let mut got = Vec::new();
        net.recv(&mut arenas[0], rx, 1 << 20, &mut got).unwrap();
        assert_eq!(got, sent);
        assert!(net.info(tx).unwrap().stats.timeouts > 0, "the restored queue was retransmitted");
        // Each host's invariant: only its endpoints' pages are counted.
        net.set_local_host(1);
        assert_eq!(net.refs().count(), 0, "everything acknowledged and released");
        net.close(&mut arenas[1], tx);
        net.set_local_host(0);
        net.close(&mut arenas[0], rx);
        run_until(&mut net, &mut arenas, Instant(10_000_000_000));
        for a in &arenas {
            a.check_teardown().unwrap();
        }
    }

    #[test]
    fn loopback_endpoint_cannot_move_alone() {
        let (mut a, mut b) = (PageArena::new(), PageArena::new());
        let mut net = Network::new();
        let (tx, _rx) = net.connect(Mode::Loopback);
        let err = net.rehome(tx, &mut a, &mut b, 1, &mut HashMap::new()).unwrap_err();
        assert!(err.contains("loopback"), "{err}");
    }

    #[test]
    fn events_of_another_host_wait_for_it() {
        let mut arenas = [PageArena::new(), PageArena::new()];
        let mut net = Network::new();
        net.set_local_host(1);
        let (tx, rx) = net.connect(Mode::Link(LinkParams::default()));
        net.set_host(rx, 0);
        net.send_copy(&mut arenas[1], tx, Source::Fill { byte: 1, len: 100 }, false).unwrap();
        // Host 0 runs: the data's arrival is its own, the ACK's is host 1's.
        net.set_local_host(0);
        assert!(net.step(&mut arenas[0]), "the data arrives at host 0's endpoint");
        let (_, h) = net.next_event().unwrap();
        assert_eq!(h, 1);
        assert!(!net.step(&mut arenas[0]), "host 0 does not run host 1's event");
        net.set_local_host(1);
        assert!(net.step(&mut arenas[1]));
    }
}
