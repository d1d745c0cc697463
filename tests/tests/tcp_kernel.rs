//! The kernel's sockets over simulated links: blocking calls let
//! simulated time pass, page references move from pipes into segments and
//! are released by ACKs, and the invariants hold after every call.

use kmodel::kernel::{BLOCKED, Errno, Kernel, KernelConfig, SendFlags, SpliceFlags, UserRange};
use page_refs::{HolderKind, PAGE_SIZE, Source};
use tcp_sim::{Duration, LinkParams, Mode};

fn link(rtt_ms: u64) -> Mode {
    Mode::Link(LinkParams { rtt: Duration::from_millis(rtt_ms), ..LinkParams::default() })
}

fn socket_refs(k: &Kernel, r: UserRange) -> usize {
    let buf = &k.process(k.init_pid()).unwrap().mm[&r.buffer];
    let kmodel::kernel::Pte::Page(p) = buf.pte(r.start / PAGE_SIZE) else { return 0 };
    k.pages().holders(p).iter().filter(|h| h.kind == HolderKind::Socket).count()
}

#[test]
fn spliced_page_moves_into_the_segment_and_the_ack_releases_it() {
    let mut k = Kernel::new(KernelConfig::default());
    let pid = k.init_pid();
    let (tx, rx) = k.tcp_pair(pid, link(40)).unwrap();
    let (pr, pw) = k.pipe2(pid).unwrap();
    let buf = k.mmap_anon(pid, 1).unwrap();
    let r = UserRange { buffer: buf, start: 0, len: PAGE_SIZE };
    k.user_fill(pid, r, b'A').unwrap();
    assert_eq!(k.vmsplice(pid, pw, &[r], SpliceFlags::default()), Ok(PAGE_SIZE));
    assert_eq!(k.splice(pid, pr, None, tx, None, 4096, SpliceFlags::default()), Ok(PAGE_SIZE));
    k.check_invariants().unwrap();
    assert_eq!(socket_refs(&k, r), 1, "the pipe's reference went into the send queue");
    assert!(k.pipe(kmodel::kernel::PipeId(2)).is_none_or(|p| p.is_empty()));
    k.advance_time(Duration::from_millis(39));
    k.check_invariants().unwrap();
    assert_eq!(socket_refs(&k, r), 1);
    k.advance_time(Duration::from_millis(1));
    assert_eq!(socket_refs(&k, r), 1, "3 segments of serialization at 1 gbit still to come");
    k.advance_time(Duration::from_micros(40));
    k.check_invariants().unwrap();
    assert_eq!(socket_refs(&k, r), 0, "released by the ACK one RTT (and 40 us of serialization) later");
    let mut out = Vec::new();
    assert_eq!(k.read(pid, rx, 8192, &mut out), Ok(4096));
    k.teardown_and_check().unwrap();
}

#[test]
fn blocking_read_lets_simulated_time_pass_until_data_arrives() {
    let mut k = Kernel::new(KernelConfig::default());
    let pid = k.init_pid();
    let (tx, rx) = k.tcp_pair(pid, link(100)).unwrap();
    k.write(pid, tx, Source::Fill { byte: b'x', len: 10 }).unwrap();
    let mut out = Vec::new();
    assert_eq!(k.read(pid, rx, 100, &mut out), Ok(10));
    assert_eq!(k.now().0, 50_000_000 + 496, "one way plus serialization of 62 bytes at 1 gbit");
    assert_eq!(k.read(pid, rx, 100, &mut out), Err(BLOCKED), "nothing else can come");
    k.check_invariants().unwrap();
    k.teardown_and_check().unwrap();
}

#[test]
fn blocking_write_waits_for_acks_to_free_the_send_buffer() {
    let mut k = Kernel::new(KernelConfig::default());
    let pid = k.init_pid();
    let (tx, rx) = k.tcp_pair(pid, link(10)).unwrap();
    // 6 MiB through a 4 MiB send buffer and a 128 KiB window: the write
    // only finishes once the reader... never reads: it blocks for good.
    assert_eq!(k.write(pid, tx, Source::Fill { byte: b'w', len: 6 << 20 }), Err(BLOCKED));
    k.check_invariants().unwrap();
    let mut out = Vec::new();
    assert_eq!(k.recv(pid, rx, 1 << 20, &mut out), Ok(1 << 20), "recv waits for the window to refill");
    assert!(k.now().0 > 0);
    k.teardown_and_check().unwrap();
}

#[test]
fn zerocopy_send_over_a_link_completes_after_the_ack() {
    let mut k = Kernel::new(KernelConfig::default());
    let pid = k.init_pid();
    let (tx, _rx) = k.tcp_pair(pid, link(20)).unwrap();
    let buf = k.mmap_anon(pid, 1).unwrap();
    let r = UserRange { buffer: buf, start: 0, len: 1000 };
    k.user_fill(pid, r, b'Z').unwrap();
    k.setsockopt_zerocopy(pid, tx, true).unwrap();
    let flags = SendFlags { zerocopy: true, ..SendFlags::default() };
    assert_eq!(k.send(pid, tx, r, flags), Ok(1000));
    assert_eq!(socket_refs(&k, r), 1, "the user's own page is in the send queue");
    assert_eq!(k.recv_errqueue(pid, tx), Err(Errno::EAGAIN));
    k.advance_time(Duration::from_millis(21));
    let c = k.recv_errqueue(pid, tx).unwrap();
    assert_eq!((c.lo, c.hi, c.copied), (0, 0, false));
    assert_eq!(socket_refs(&k, r), 0);
    k.check_invariants().unwrap();
    k.teardown_and_check().unwrap();
}

#[test]
fn teardown_settles_closed_connections_and_leaks_nothing() {
    let mut k = Kernel::new(KernelConfig::default());
    let pid = k.init_pid();
    let (tx, _rx) =
        k.tcp_pair(pid, Mode::Link(LinkParams { loss_ppm: 300_000, seed: 3, ..LinkParams::default() })).unwrap();
    let f = k.create_file(pid, 4, b'F').unwrap();
    assert_eq!(k.sendfile(pid, tx, f, None, 4 * PAGE_SIZE as u64), Ok(4 * PAGE_SIZE));
    k.check_invariants().unwrap();
    k.teardown_and_check().unwrap();
}

#[test]
fn splice_from_a_link_socket_puts_the_received_bytes_in_fresh_pipe_pages() {
    let mut k = Kernel::new(KernelConfig::default());
    let pid = k.init_pid();
    let (tx, rx) = k.tcp_pair(pid, link(10)).unwrap();
    let (pr, pw) = k.pipe2(pid).unwrap();
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
    assert_eq!(k.write(pid, tx, Source::Slice(&data)), Ok(10_000));
    let mut got = 0;
    while got < 10_000 {
        // Blocks (lets time pass) until something arrived.
        got += k.splice(pid, rx, None, pw, None, 100_000, SpliceFlags::default()).unwrap();
        k.check_invariants().unwrap();
    }
    let mut out = Vec::new();
    assert_eq!(k.read(pid, pr, 100_000, &mut out), Ok(10_000));
    assert_eq!(out, data);
    k.close(pid, tx).unwrap();
    assert_eq!(k.splice(pid, rx, None, pw, None, 100, SpliceFlags::default()), Ok(0), "end of file");
    k.teardown_and_check().unwrap();
}

#[test]
fn a_blocking_send_that_cannot_finish_blocks_instead_of_returning_its_progress() {
    let mut k = Kernel::new(KernelConfig::default());
    let pid = k.init_pid();
    let (tx, _rx) = k.tcp_pair(pid, Mode::Loopback).unwrap();
    let buf = k.mmap_anon(pid, 2048).unwrap();
    let r = UserRange { buffer: buf, start: 0, len: 2048 * PAGE_SIZE };
    assert_eq!(k.send(pid, tx, r, SendFlags::default()), Err(BLOCKED));
    let nonblock = SendFlags { nonblock: true, ..SendFlags::default() };
    assert_eq!(k.send(pid, tx, r, nonblock), Err(Errno::EAGAIN), "the buffers are full");
    k.teardown_and_check().unwrap();
}

/// Random syscalls on a TCP pair (loopback or a lossy link), pipes and a
/// buffer: after every call the kernel's invariants hold, and nothing is
/// leaked at teardown.
fn random_socket_calls(link: bool, seed: u64, ops: Vec<(u8, u16)>) -> quickcheck::TestResult {
    let mut k = Kernel::new(KernelConfig { event_log: false, ..KernelConfig::default() });
    let pid = k.init_pid();
    let mode = if link {
        Mode::Link(LinkParams { loss_ppm: 100_000, reorder_ppm: 100_000, seed, mss: 1000, ..LinkParams::default() })
    } else {
        Mode::Loopback
    };
    let (tx, rx) = k.tcp_pair(pid, mode).unwrap();
    let (pr, pw) = k.pipe2(pid).unwrap();
    let buf = k.mmap_anon(pid, 4).unwrap();
    let file = k.create_file(pid, 2, b'f').unwrap();
    let fds = [tx, rx];
    let nb = SpliceFlags { nonblock: true, ..SpliceFlags::default() };
    for (i, &(op, arg)) in ops.iter().take(60).enumerate() {
        let fd = fds[usize::from(arg) % 2];
        let len = u64::from(arg % 9000) + 1;
        let r = UserRange { buffer: buf, start: usize::from(arg) % (3 * PAGE_SIZE), len: PAGE_SIZE };
        let mut out = Vec::new();
        let _ = match op % 11 {
            0 => k.write(pid, fd, Source::Fill { byte: b'a' + (i % 26) as u8, len: len as usize }),
            1 => k.read(pid, fd, len, &mut out),
            2 => k.vmsplice(pid, pw, &[r], nb),
            3 => k.splice(pid, pr, None, fd, None, len, nb),
            4 => k.splice(pid, fd, None, pw, None, len, nb),
            5 => k.user_fill(pid, r, b'A' + (i % 26) as u8).map(|()| 0),
            6 => {
                k.advance_time(Duration::from_millis(u64::from(arg % 500)));
                Ok(0)
            }
            7 => k.sendfile(pid, fd, file, Some(&mut 0), len),
            8 => k.send(pid, fd, r, SendFlags { zerocopy: arg % 2 == 0, more: arg % 3 == 0, nonblock: true }),
            9 => k.setsockopt_zerocopy(pid, fd, true).and_then(|_| k.recv_errqueue(pid, fd).map(|_| 0)),
            _ => k.close(pid, fd),
        };
        if let Err(e) = k.check_invariants() {
            return quickcheck::TestResult::error(format!("after op {i} ({op}, {arg}): {e}"));
        }
    }
    match k.teardown_and_check() {
        Ok(()) => quickcheck::TestResult::passed(),
        Err(e) => quickcheck::TestResult::error(format!("teardown: {e}")),
    }
}

#[test]
fn random_socket_calls_keep_the_invariants() {
    quickcheck::QuickCheck::new()
        .tests(150)
        .quickcheck(random_socket_calls as fn(bool, u64, Vec<(u8, u16)>) -> quickcheck::TestResult);
}

#[test]
fn explorer_proves_waiting_for_the_ack_safe_and_finds_the_early_refill() {
    use kmodel::explore::{ExploreConfig, Violation, explore};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/explore_tcp_wait_for_ack.scenario");
    let text = std::fs::read_to_string(&path).unwrap();
    let config = ExploreConfig { bound: 2, ..ExploreConfig::default() };
    let safe = kmodel::scenario::parse("wait", &text).unwrap();
    let summary = explore(&safe, &config, &mut |_| {}).unwrap();
    assert!(summary.finding.is_none(), "{:?}", summary.finding.map(|f| f.violation));
    let early = kmodel::scenario::parse("early", &text.replace("wait reusable buf", "# no wait")).unwrap();
    let finding = explore(&early, &config, &mut |_| {}).unwrap().finding.expect("the early refill is a hazard");
    let Violation::Hazard { detail, .. } = &finding.violation else { panic!("got {:?}", finding.violation) };
    assert!(detail.contains("t.tx bytes 0..4096"), "{detail}");
}
