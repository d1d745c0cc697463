//! Properties of the simulated TCP, over many seeds (quickcheck):
//!
//! * with the program not touching sent pages, every byte arrives exactly
//!   once and in order under any loss and reordering below 50%;
//! * no page is released before every segment covering it is ACKed;
//! * every page is released once the connection is quiet and closed;
//! * the page invariants hold after every event.

use std::collections::HashMap;

use page_refs::{Holder, HolderKind, PAGE_SIZE, PageArena, PageId, Source};
use quickcheck::{QuickCheck, TestResult};
use tcp_sim::{Duration, LinkParams, Mode, Network, SockConfig, SockError, SockId};

/// The byte at stream offset `i`: distinct enough that a misplaced,
/// duplicated or lost byte shows.
fn byte_at(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

/// The page invariants: the arena's socket holders are exactly the
/// network's references; counts equal holders.
fn check_pages(net: &Network, pages: &PageArena) -> Result<(), String> {
    pages.check_invariants().map_err(|e| e.to_string())?;
    net.check()?;
    let mut want: HashMap<PageId, Vec<Holder>> = HashMap::new();
    for (p, h) in net.refs() {
        want.entry(p).or_default().push(h);
    }
    for (p, holders) in pages.iter() {
        let mut got: Vec<Holder> = holders.iter().copied().filter(|h| h.kind == HolderKind::Socket).collect();
        let mut w = want.remove(&p).unwrap_or_default();
        got.sort();
        w.sort();
        if got != w {
            return Err(format!("page {p}: arena says {got:?}, network holds {w:?}"));
        }
    }
    if !want.is_empty() {
        return Err(format!("network holds freed pages {want:?}"));
    }
    Ok(())
}

/// A page the program handed to the socket, and the stream bytes it
/// carries.
struct Sent {
    page: PageId,
    end: u64,
}

struct Run {
    pages: PageArena,
    net: Network,
    tx: SockId,
    rx: SockId,
    sent: Vec<Sent>,
    stream: u64,
    got: Vec<u8>,
    events: u64,
}

impl Run {
    /// After every event: page invariants, and every page whose bytes
    /// are not all acknowledged is still held by the sender.
    fn check(&self) -> Result<(), String> {
        check_pages(&self.net, &self.pages)?;
        let acked = self.net.info(self.tx).map_or(u64::MAX, |i| i.acked);
        for s in &self.sent {
            if s.end > acked
                && !self.pages.holders(s.page).iter().any(|h| *h == Holder::socket(self.tx.send_object(), h.index))
            {
                return Err(format!("page {} released with bytes up to {} unacked (acked {acked})", s.page, s.end));
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Result<bool, String> {
        let did = self.net.step(&mut self.pages);
        self.events += 1;
        self.check()?;
        Ok(did)
    }

    fn read_some(&mut self, n: usize) -> Result<(), String> {
        match self.net.recv(&mut self.pages, self.rx, n, &mut self.got) {
            Ok(_) | Err(SockError::WouldBlock) => Ok(()),
            Err(e) => Err(format!("recv: {e:?}")),
        }
    }

    /// Send `len` bytes, by page reference or by copy, waiting for room.
    fn send(&mut self, len: usize, by_page: bool) -> Result<(), String> {
        let mut left = len;
        while left > 0 {
            let n = if by_page {
                let off = (self.stream % PAGE_SIZE as u64) as usize;
                let n = left.min(PAGE_SIZE - off);
                let p = self.pages.alloc(Holder::user(0, self.sent.len() as u32));
                let bytes: Vec<u8> = (0..PAGE_SIZE as u64).map(|i| byte_at(self.stream - off as u64 + i)).collect();
                self.pages.write(p, 0, Source::Slice(&bytes));
                let r = self.net.send_pages(&mut self.pages, self.tx, &[(p, off, n)], false, false);
                let q = r.as_ref().copied().unwrap_or(0);
                if q > 0 {
                    self.sent.push(Sent { page: p, end: self.stream + q as u64 });
                } else {
                    self.pages.put(p, Holder::user(0, self.sent.len() as u32));
                }
                r
            } else {
                let bytes: Vec<u8> = (0..left as u64).map(|i| byte_at(self.stream + i)).collect();
                self.net.send_copy(&mut self.pages, self.tx, Source::Slice(&bytes), false)
            };
            match n {
                Ok(n) => {
                    self.stream += n as u64;
                    left -= n;
                }
                Err(SockError::WouldBlock) => {
                    // Make room: the receiver reads, the network runs.
                    self.read_some(1 << 16)?;
                    if !self.step()? {
                        return Err("send blocked with nothing left to run".into());
                    }
                }
                Err(e) => return Err(format!("send: {e:?}")),
            }
            self.check()?;
        }
        Ok(())
    }

    /// Close the sender, read to end of file, close the receiver, let the
    /// network go quiet; then nothing but the program's own references may
    /// be left.
    fn finish(mut self) -> Result<(), String> {
        self.net.close(&mut self.pages, self.tx);
        loop {
            let before = self.got.len();
            match self.net.recv(&mut self.pages, self.rx, 1 << 20, &mut self.got) {
                Ok(0) => break,
                Ok(_) => {}
                Err(SockError::WouldBlock) => {}
                Err(e) => return Err(format!("recv: {e:?} after {} bytes", self.got.len())),
            }
            self.check()?;
            if self.got.len() == before && !self.step()? {
                return Err(format!("stalled at {} of {} bytes", self.got.len(), self.stream));
            }
        }
        let want: Vec<u8> = (0..self.stream).map(byte_at).collect();
        if self.got != want {
            let at = self.got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(self.got.len().min(want.len()));
            return Err(format!("received {} bytes, sent {}; first difference at {at}", self.got.len(), want.len()));
        }
        self.net.close(&mut self.pages, self.rx);
        while self.net.can_progress() {
            self.step()?;
        }
        if self.net.exists(self.tx) || self.net.exists(self.rx) {
            return Err("sockets outlive a quiet, closed connection".into());
        }
        for (i, s) in self.sent.iter().enumerate() {
            self.pages.put(s.page, Holder::user(0, i as u32));
        }
        self.pages.check_teardown().map_err(|e| e.to_string())
    }
}

/// One transfer over a link with these (shrinkable) parameters.
fn transfer(seed: u64, loss: u8, reorder: u8, mss: u16, rcv_kib: u8, writes: Vec<(u16, bool, u8)>) -> TestResult {
    let (loss, reorder) = (u32::from(loss % 50), u32::from(reorder % 50));
    let params = LinkParams {
        loss_ppm: loss * 10_000,
        reorder_ppm: reorder * 10_000,
        mss: u32::from(mss % 3000).max(64),
        seed,
        rtt: Duration::from_millis(1 + seed % 40),
        bandwidth: [0, 10_000_000, 1_000_000_000][(seed % 3) as usize],
        ..LinkParams::default()
    };
    let cfg = SockConfig {
        sndbuf: 32 << 10,
        rcvbuf: (usize::from(rcv_kib % 64) + 1) << 10,
        isn: (seed as u32).wrapping_mul(0x9e37_79b9),
        retries: u32::MAX,
    };
    let mut net = Network::new();
    let (tx, rx) = net.connect_with(Mode::Link(params), cfg, cfg);
    let mut run =
        Run { pages: PageArena::without_log(), net, tx, rx, sent: Vec::new(), stream: 0, got: Vec::new(), events: 0 };
    let result = (|| {
        for &(len, by_page, pause) in writes.iter().take(12) {
            run.send(usize::from(len % 12_000), by_page)?;
            for _ in 0..pause % 8 {
                run.step()?;
            }
            if pause % 3 == 0 {
                run.read_some(usize::from(len % 5_000) + 1)?;
            }
        }
        let events = run.events;
        run.finish().map(|()| events)
    })();
    match result {
        Ok(_) => TestResult::passed(),
        Err(e) => TestResult::error(format!("loss {loss}% reorder {reorder}% {params:?}: {e}")),
    }
}

#[test]
fn lossy_reordering_link_delivers_every_byte_once_in_order_and_releases_pages() {
    QuickCheck::new().tests(100).quickcheck(transfer as fn(u64, u8, u8, u16, u8, Vec<(u16, bool, u8)>) -> TestResult);
}

#[test]
fn heavy_loss_just_below_half_still_delivers() {
    for seed in 0..4 {
        let writes = vec![(12_000, true, 0), (5_000, false, 3), (9_000, true, 1)];
        let r = transfer(seed, 49, 49, 1448, 16, writes);
        assert!(!r.is_failure(), "seed {seed}: {r:?}");
    }
}

/// Loopback: the receiver holds the very pages; every byte in order; all
/// released after close.
fn loopback(writes: Vec<(u16, bool, u8)>) -> TestResult {
    let mut net = Network::new();
    let cfg = SockConfig { sndbuf: 40_000, rcvbuf: 20_000, ..SockConfig::default() };
    let (tx, rx) = net.connect_with(Mode::Loopback, cfg, cfg);
    let mut run =
        Run { pages: PageArena::without_log(), net, tx, rx, sent: Vec::new(), stream: 0, got: Vec::new(), events: 0 };
    let result = (|| {
        for &(len, by_page, pause) in writes.iter().take(30) {
            let len = usize::from(len % 30_000);
            let room = run.net.send_room(run.tx).unwrap_or(0);
            run.send(len.min(room), by_page)?;
            if pause % 2 == 0 {
                run.read_some(usize::from(pause) * 200 + 1)?;
            }
        }
        run.finish()
    })();
    match result {
        Ok(()) => TestResult::passed(),
        Err(e) => TestResult::error(e),
    }
}

#[test]
fn loopback_delivers_in_order_and_releases_every_page() {
    QuickCheck::new().tests(200).quickcheck(loopback as fn(Vec<(u16, bool, u8)>) -> TestResult);
}
