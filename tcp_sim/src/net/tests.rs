//! Protocol traces: one behaviour per test, on loopback and on links.

use std::collections::HashMap;

use page_refs::{Holder, HolderKind, PAGE_SIZE, PageArena, PageId, Source};

use super::*;
use crate::socket::{RTO_INIT, SockError};

/// A user page filled with `byte`, held by the test as `user(0, n)`.
fn user_page(pages: &mut PageArena, n: u32, byte: u8) -> PageId {
    let p = pages.alloc(Holder::user(0, n));
    pages.write(p, 0, Source::Fill { byte, len: PAGE_SIZE });
    p
}

/// The arena's holders are exactly the network's references plus the
/// test's own user references.
fn sane(net: &Network, pages: &PageArena) {
    pages.check_invariants().unwrap();
    net.check().unwrap();
    let mut want: HashMap<PageId, Vec<Holder>> = HashMap::new();
    for (p, h) in net.refs() {
        want.entry(p).or_default().push(h);
    }
    for (p, holders) in pages.iter() {
        let mut got: Vec<Holder> =
            holders.iter().copied().filter(|h| !matches!(h.kind, HolderKind::User | HolderKind::Kernel)).collect();
        let mut w = want.remove(&p).unwrap_or_default();
        got.sort();
        w.sort();
        assert_eq!(got, w, "page {p}: arena holders vs network references");
    }
    assert!(want.is_empty(), "network holds freed pages: {want:?}");
}

fn socket_holders(pages: &PageArena, p: PageId) -> Vec<Holder> {
    pages.holders(p).iter().copied().filter(|h| h.kind == HolderKind::Socket).collect()
}

fn link(f: impl FnOnce(&mut LinkParams)) -> Mode {
    let mut p = LinkParams::default();
    f(&mut p);
    Mode::Link(p)
}

fn read_all(net: &mut Network, pages: &mut PageArena, s: SockId) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(n) = net.recv(pages, s, 1 << 20, &mut out) {
        if n == 0 {
            break;
        }
    }
    out
}

#[test]
fn loopback_receiver_queues_the_senders_very_page_until_read() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let (tx, rx) = net.connect(Mode::Loopback);
    let p = user_page(&mut pages, 0, b'A');
    assert_eq!(net.send_pages(&mut pages, tx, &[(p, 0, PAGE_SIZE)], false, false), Ok(PAGE_SIZE));
    sane(&net, &pages);
    let h = socket_holders(&pages, p);
    assert_eq!(h, vec![Holder::socket(rx.recv_object(), 0)], "the receiver holds it, the sender is acked");
    let info = net.holder_info(h[0]).unwrap();
    assert_eq!((info.sock, info.start, info.end, info.state), (rx, 0, 4096, FragState::QueuedAtReceiver));
    assert_eq!(net.now(), Instant(0), "loopback takes no time");
    let mut got = Vec::new();
    assert_eq!(net.recv(&mut pages, rx, 100, &mut got), Ok(100));
    assert_eq!(socket_holders(&pages, p).len(), 1, "a partly read fragment stays");
    assert_eq!(net.recv(&mut pages, rx, 10_000, &mut got), Ok(3996));
    assert!(socket_holders(&pages, p).is_empty());
    assert_eq!(got, vec![b'A'; 4096]);
    sane(&net, &pages);
}

#[test]
fn link_page_is_held_until_the_ack_a_full_rtt_later() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let (tx, rx) = net.connect(link(|p| {
        p.rtt = Duration::from_millis(50);
        p.bandwidth = 0;
    }));
    let p = user_page(&mut pages, 0, b'A');
    net.send_pages(&mut pages, tx, &[(p, 0, 1000)], false, false).unwrap();
    let h = socket_holders(&pages, p);
    assert_eq!(h, vec![Holder::socket(tx.send_object(), 0)]);
    assert_eq!(net.holder_info(h[0]).unwrap().state, FragState::OnTheWire);
    net.advance(&mut pages, Duration::from_millis(25));
    assert_eq!(net.readable(rx), 1000, "arrived after one way");
    assert_eq!(net.holder_info(h[0]).unwrap().state, FragState::Unacked, "the ACK is on its way back");
    net.advance(&mut pages, Duration(Duration::from_millis(25).0 - 1));
    assert_eq!(socket_holders(&pages, p).len(), 1, "still held 1 ns before a full RTT");
    net.advance(&mut pages, Duration(1));
    assert!(socket_holders(&pages, p).is_empty(), "released by the ACK at exactly one RTT");
    assert_eq!(net.info(tx).unwrap().acked, 1000);
    sane(&net, &pages);
}

#[test]
fn lost_segment_is_retransmitted_after_rto_with_backoff() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let (tx, rx) = net.connect(link(|p| {
        p.rtt = Duration::from_millis(10);
        p.bandwidth = 0;
    }));
    net.drop_next_segments(tx, 2);
    let p = user_page(&mut pages, 0, b'A');
    net.send_pages(&mut pages, tx, &[(p, 0, 100)], false, false).unwrap();
    // First transmission at 0 lost; RTO 1 s: retransmission lost; backoff
    // to 2 s: the third transmission at 3 s arrives at 3.005 s.
    net.advance(&mut pages, Duration::from_millis(2999));
    assert_eq!(net.readable(rx), 0);
    assert_eq!(net.info(tx).unwrap().stats.timeouts, 1);
    assert_eq!(net.info(tx).unwrap().rto, Duration(2 * RTO_INIT.0), "doubled once");
    net.advance(&mut pages, Duration::from_millis(1));
    assert_eq!(net.info(tx).unwrap().stats.timeouts, 2);
    assert_eq!(net.info(tx).unwrap().rto, Duration(4 * RTO_INIT.0), "doubled twice");
    assert_eq!(socket_holders(&pages, p).len(), 1);
    net.advance(&mut pages, Duration::from_millis(5));
    assert_eq!(net.readable(rx), 100);
    net.advance(&mut pages, Duration::from_millis(5));
    assert!(socket_holders(&pages, p).is_empty());
    // Karn: the only ACK was for a retransmission, so no RTT sample: the
    // backed-off RTO stays until a fresh segment is timed.
    assert_eq!(net.info(tx).unwrap().rto, Duration(4 * RTO_INIT.0));
    net.send_copy(&mut pages, tx, Source::Fill { byte: b'b', len: 10 }, false).unwrap();
    net.settle(&mut pages);
    assert!(net.info(tx).unwrap().rto < RTO_INIT, "a fresh sample ends the backoff");
    sane(&net, &pages);
}

#[test]
fn third_duplicate_ack_triggers_fast_retransmit() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let (tx, rx) = net.connect(link(|p| {
        p.mss = 1000;
        p.bandwidth = 0;
    }));
    net.send_copy(&mut pages, tx, Source::Fill { byte: b'x', len: 1000 }, false).unwrap();
    net.settle(&mut pages);
    net.drop_next_segments(tx, 1);
    net.send_copy(&mut pages, tx, Source::Fill { byte: b'y', len: 8000 }, false).unwrap();
    net.advance(&mut pages, Duration::from_millis(30));
    let st = net.info(tx).unwrap().stats;
    assert_eq!((st.fast_retransmits, st.timeouts), (1, 0), "{st:?}");
    assert_eq!(net.readable(rx), 9000);
    let mut got = Vec::new();
    net.recv(&mut pages, rx, 9000, &mut got).unwrap();
    assert_eq!(&got[..1000], &[b'x'; 1000][..]);
    assert!(got[1000..].iter().all(|&b| b == b'y'));
    sane(&net, &pages);
}

#[test]
fn after_quickacks_a_lone_segment_waits_for_the_delayed_ack() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let (tx, _rx) = net.connect(link(|p| {
        p.rtt = Duration::from_millis(10);
        p.bandwidth = 0;
        p.delack = Duration::from_millis(40);
    }));
    for _ in 0..16 {
        net.send_copy(&mut pages, tx, Source::Fill { byte: b'q', len: 10 }, false).unwrap();
        net.settle(&mut pages);
    }
    let t0 = net.now();
    let p = user_page(&mut pages, 0, b'A');
    net.send_pages(&mut pages, tx, &[(p, 0, 10)], false, false).unwrap();
    net.advance(&mut pages, Duration::from_millis(49));
    assert_eq!(socket_holders(&pages, p).len(), 1, "5 ms out + 40 ms delayed ACK + 5 ms back");
    net.advance(&mut pages, Duration::from_millis(1));
    assert!(socket_holders(&pages, p).is_empty());
    assert_eq!(net.now() - t0, Duration::from_millis(50));
    sane(&net, &pages);
}

#[test]
fn two_full_segments_are_acked_at_once() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let (tx, rx) = net.connect(link(|p| {
        p.mss = 1000;
        p.bandwidth = 0;
    }));
    for _ in 0..16 {
        net.send_copy(&mut pages, tx, Source::Fill { byte: b'q', len: 10 }, false).unwrap();
        net.settle(&mut pages);
    }
    let acks = net.info(rx).unwrap().stats.acks;
    net.send_copy(&mut pages, tx, Source::Fill { byte: b'q', len: 2000 }, false).unwrap();
    net.advance(&mut pages, Duration::from_millis(10));
    assert_eq!(net.info(tx).unwrap().queued, 0, "acked within one RTT, no 40 ms wait");
    assert_eq!(net.info(rx).unwrap().stats.acks, acks + 1, "one ACK for two segments");
}

#[test]
fn nagle_holds_small_segments_while_data_is_in_flight() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let (tx, rx) = net.connect(link(|p| p.bandwidth = 0));
    net.send_copy(&mut pages, tx, Source::Fill { byte: b'a', len: 10 }, false).unwrap();
    net.send_copy(&mut pages, tx, Source::Fill { byte: b'b', len: 10 }, false).unwrap();
    net.send_copy(&mut pages, tx, Source::Fill { byte: b'c', len: 10 }, false).unwrap();
    assert_eq!(net.info(tx).unwrap().unsent, 20);
    net.settle(&mut pages);
    assert_eq!(net.info(tx).unwrap().stats.segments, 2, "the held bytes go together");
    assert_eq!(read_all(&mut net, &mut pages, rx), [[b'a'; 10], [b'b'; 10], [b'c'; 10]].concat());
}

#[test]
fn more_corks_a_partial_segment_until_the_next_send() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let (tx, rx) = net.connect(Mode::Loopback);
    net.send_copy(&mut pages, tx, Source::Fill { byte: b'a', len: 100 }, true).unwrap();
    assert_eq!(net.readable(rx), 0, "corked");
    net.send_copy(&mut pages, tx, Source::Fill { byte: b'b', len: 100 }, false).unwrap();
    assert_eq!(net.readable(rx), 200);
    // A corked remainder goes when an ACK arrives and Nagle allows it.
    net.send_copy(&mut pages, tx, Source::Fill { byte: b'c', len: 70_000 }, true).unwrap();
    assert_eq!(net.readable(rx), 70_200, "full segment acked at once, then the tail");
}

#[test]
fn full_receive_window_then_full_send_buffer_would_block() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let small = SockConfig { sndbuf: 10_000, rcvbuf: 5_000, ..SockConfig::default() };
    let (tx, rx) = net.connect_with(Mode::Loopback, small, small);
    assert_eq!(net.send_copy(&mut pages, tx, Source::Fill { byte: b'a', len: 100_000 }, false), Ok(10_000));
    assert_eq!(net.readable(rx), 5_000);
    assert_eq!(net.info(tx).unwrap().queued, 5_000);
    assert_eq!(net.send_room(tx), Ok(5_000));
    assert_eq!(net.send_copy(&mut pages, tx, Source::Fill { byte: b'a', len: 5_000 }, false), Ok(5_000));
    assert_eq!(net.send_room(tx), Err(SockError::WouldBlock));
    let mut got = Vec::new();
    net.recv(&mut pages, rx, 5_000, &mut got).unwrap();
    assert_eq!(net.readable(rx), 5_000, "the window update pulled more");
    assert_eq!(net.send_room(tx), Ok(5_000));
    sane(&net, &pages);
}

#[test]
fn lost_window_update_is_recovered_by_the_persist_probe() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let small = SockConfig { sndbuf: 10_000, rcvbuf: 2_000, ..SockConfig::default() };
    let (tx, rx) = net.connect_with(link(|p| p.bandwidth = 0), small, small);
    net.send_copy(&mut pages, tx, Source::Fill { byte: b'a', len: 6_000 }, false).unwrap();
    net.settle(&mut pages);
    assert_eq!(net.readable(rx), 2_000);
    assert!(!net.can_progress(), "a closed window with a probe that would find it closed is quiet");
    let mut got = Vec::new();
    net.drop_next_segments(rx, 0);
    net.recv(&mut pages, rx, 2_000, &mut got).unwrap();
    net.settle(&mut pages);
    assert_eq!(net.readable(rx), 2_000, "window update received, more data came");
    assert_eq!(net.info(tx).unwrap().queued, 2_000);
}

#[test]
fn close_sends_fin_and_the_peer_reads_end_of_file() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let (tx, rx) = net.connect(link(|_| {}));
    net.send_copy(&mut pages, tx, Source::Fill { byte: b'a', len: 3000 }, false).unwrap();
    net.close(&mut pages, tx);
    assert!(net.exists(tx), "the closed socket lives on until its data is acked");
    net.settle(&mut pages);
    assert!(!net.exists(tx));
    let mut got = Vec::new();
    assert_eq!(net.recv(&mut pages, rx, 10_000, &mut got), Ok(3000));
    assert_eq!(net.recv(&mut pages, rx, 10_000, &mut got), Ok(0));
    // Writing to a peer that closed: accepted, then the reset answers EPIPE.
    assert_eq!(net.send_copy(&mut pages, rx, Source::Fill { byte: b'x', len: 5 }, false), Ok(5));
    net.settle(&mut pages);
    assert_eq!(net.send_room(rx), Err(SockError::Pipe));
    assert_eq!(net.send_room(rx), Err(SockError::Pipe));
    net.close(&mut pages, rx);
    net.settle(&mut pages);
    pages.check_teardown().unwrap();
}

#[test]
fn close_with_unread_data_resets_the_peer() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let (tx, rx) = net.connect(Mode::Loopback);
    let p = user_page(&mut pages, 0, b'A');
    net.send_pages(&mut pages, tx, &[(p, 0, 4096)], false, false).unwrap();
    net.close(&mut pages, rx);
    assert!(socket_holders(&pages, p).is_empty(), "the unread page was dropped");
    assert_eq!(net.send_room(tx), Err(SockError::ConnReset));
    assert_eq!(net.send_room(tx), Err(SockError::Pipe));
    let mut got = Vec::new();
    assert_eq!(net.recv(&mut pages, tx, 10, &mut got), Ok(0));
    sane(&net, &pages);
}

#[test]
fn zerocopy_on_a_link_completes_when_acked_and_on_loopback_is_copied() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let (tx, _rx) = net.connect(link(|p| {
        p.rtt = Duration::from_millis(20);
        p.bandwidth = 0;
    }));
    net.set_zerocopy(tx, true);
    let p = user_page(&mut pages, 0, b'Z');
    net.send_pages(&mut pages, tx, &[(p, 0, 4096)], false, true).unwrap();
    net.send_pages(&mut pages, tx, &[(p, 0, 100)], false, true).unwrap();
    assert_eq!(net.pop_completion(tx), None);
    net.advance(&mut pages, Duration::from_millis(20));
    assert_eq!(net.pop_completion(tx), Some(Completion { lo: 0, hi: 0, copied: false }));
    assert_eq!(net.pop_completion(tx), None, "Nagle held the second send behind the small tail");
    net.advance(&mut pages, Duration::from_millis(20));
    assert_eq!(net.pop_completion(tx), Some(Completion { lo: 1, hi: 1, copied: false }));
    assert!(socket_holders(&pages, p).is_empty());

    let (a, b) = net.connect(Mode::Loopback);
    net.set_zerocopy(a, true);
    net.send_pages(&mut pages, a, &[(p, 0, 4096)], false, true).unwrap();
    assert_eq!(net.pop_completion(a), Some(Completion { lo: 0, hi: 0, copied: true }));
    assert!(socket_holders(&pages, p).is_empty(), "the receiver holds a copy, not the user's page");
    assert_eq!(net.readable(b), 4096);
    // Without SO_ZEROCOPY the flag is ignored: no counter, no completion.
    net.send_pages(&mut pages, b, &[(p, 0, 10)], false, true).unwrap();
    assert_eq!(net.pop_completion(b), None);
    sane(&net, &pages);
}

#[test]
fn page_changed_before_retransmission_is_reported_as_altered() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let (tx, rx) = net.connect(link(|p| {
        p.mss = 1448;
        p.bandwidth = 0;
    }));
    let p = user_page(&mut pages, 0, b'A');
    net.drop_next_segments(tx, 1);
    net.send_pages(&mut pages, tx, &[(p, 0, 4096)], false, false).unwrap();
    net.advance(&mut pages, Duration::from_millis(100));
    pages.write(p, 0, Source::Fill { byte: b'B', len: PAGE_SIZE });
    net.settle(&mut pages);
    let got = read_all(&mut net, &mut pages, rx);
    // Segment 1 lost, 2 and 3 went out at once: only the retransmission
    // of 1 read 'B'.
    let runs = |v: &[u8]| v.chunk_by(|a, b| a == b).map(|r| (r[0], r.len())).collect::<Vec<_>>();
    assert_eq!(runs(&got), vec![(b'B', 1448), (b'A', 2648)], "a stream that matches neither version");
    let alt = net.info(rx).unwrap().altered;
    assert_eq!((alt.bytes, alt.first, alt.end), (1448, 0, 1448));
}

#[test]
fn sequence_numbers_wrap_without_harm() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let cfg = SockConfig { isn: u32::MAX - 3000, ..SockConfig::default() };
    let (tx, rx) = net.connect_with(link(|p| p.loss_ppm = 100_000), cfg, cfg);
    let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let n = net.send_copy(&mut pages, tx, Source::Slice(&data), false).unwrap();
    assert_eq!(n, data.len());
    net.settle(&mut pages);
    assert_eq!(read_all(&mut net, &mut pages, rx), data);
    sane(&net, &pages);
}

#[test]
fn total_loss_gives_up_after_the_retries() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let (tx, _rx) = net.connect(link(|p| p.loss_ppm = 1_000_000));
    net.send_copy(&mut pages, tx, Source::Fill { byte: b'a', len: 10 }, false).unwrap();
    net.settle(&mut pages);
    assert_eq!(net.send_room(tx), Err(SockError::TimedOut));
    assert!(net.now().0 > 100 * 1_000_000_000, "minutes of backoff: {}", net.now());
}

#[test]
fn timers_still_fire_after_the_clock_jumped_over_stale_events() {
    let mut pages = PageArena::new();
    let mut net = Network::new();
    let (tx, rx) = net.connect(link(|p| p.bandwidth = 0));
    for _ in 0..20 {
        net.send_copy(&mut pages, tx, Source::Fill { byte: b'q', len: 10 }, false).unwrap();
        net.settle(&mut pages);
    }
    // Quiet: the clock jumps an hour, past any stale timer event.
    net.advance(&mut pages, Duration::from_millis(3_600_000));
    net.send_copy(&mut pages, tx, Source::Fill { byte: b'q', len: 10 }, false).unwrap();
    net.advance(&mut pages, Duration::from_millis(5));
    assert_eq!(net.info(rx).unwrap().readable, 210);
    net.advance(&mut pages, Duration::from_millis(45));
    assert_eq!(net.info(tx).unwrap().queued, 0, "the delayed ACK fired 40 ms after arrival");
}
