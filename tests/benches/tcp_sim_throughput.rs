//! `tcp_sim_throughput`: simulated TCP through a lossy link, against the
//! real kernel moving the same bytes over loopback TCP.
//!
//! The model sends 256 MiB of page fragments (the pages' contents are read
//! into every segment at each (re)transmission) through a link that loses
//! 1% of packets in each direction, and the receiver reads every byte; the
//! kernel moves 256 MiB over 127.0.0.1 with vmsplice + splice into the
//! socket and a reader thread. The criterion group measures 4 MiB transfers
//! of each; the final lines, measured in the same run, are:
//!
//! ```text
//! tcp_sim segments per second = N
//! tcp_sim ratio model/kernel bytes = X.XX
//! ```
//!
//! Targets: at least 2 million simulated segments per wall second, and the
//! model's bytes per wall second at least the kernel's.

use std::hint::black_box;
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use criterion::{Criterion, Throughput};
use page_refs::{Holder, PAGE_SIZE, PageArena, PageId, Source};
use tcp_sim::{Duration, LinkParams, Mode, Network, SockConfig, SockError};
use tests::best_of;

/// Bytes of the headline transfer.
const TOTAL: usize = 256 << 20;
/// Bytes per criterion iteration.
const SMALL: usize = 4 << 20;
/// Distinct user pages the sender cycles through (each held once by the
/// send queue at a time).
const RING: usize = 2048;

/// Move `total` bytes through a 1%-loss link; answers the data segments
/// sent (retransmissions included).
fn model_transfer(total: usize) -> u64 {
    let mut pages = PageArena::without_log();
    let ring: Vec<PageId> = (0..RING)
        .map(|i| {
            let p = pages.alloc(Holder::user(0, i as u32));
            pages.write(p, 0, Source::Fill { byte: b'a' + (i % 26) as u8, len: PAGE_SIZE });
            p
        })
        .collect();
    let mut net = Network::new();
    let params = LinkParams {
        rtt: Duration::from_millis(1),
        loss_ppm: 10_000,
        bandwidth: 10_000_000_000,
        mss: 1448,
        seed: 42,
        ..LinkParams::default()
    };
    let cfg = SockConfig { sndbuf: 4 << 20, rcvbuf: 4 << 20, isn: 0, retries: u32::MAX };
    let (tx, rx) = net.connect_with(Mode::Link(params), cfg, cfg);
    let (mut sent, mut got, mut next) = (0usize, 0usize, 0usize);
    let mut sink = Vec::with_capacity(8 << 20);
    while got < total {
        while sent < total {
            let n = (total - sent).min(PAGE_SIZE);
            match net.send_pages(&mut pages, tx, &[(ring[next % RING], 0, n)], false, false) {
                Ok(k) => {
                    sent += k;
                    next += 1;
                    if k < n {
                        break;
                    }
                }
                Err(SockError::WouldBlock) => break,
                Err(e) => panic!("send failed: {e:?}"),
            }
        }
        for _ in 0..256 {
            if !net.step(&mut pages) {
                break;
            }
        }
        while let Ok(n) = net.recv(&mut pages, rx, 8 << 20, &mut sink) {
            if n == 0 {
                break;
            }
            got += n;
            sink.clear();
        }
    }
    black_box(&sink);
    net.stats().segments
}

/// Move `total` bytes over loopback TCP with vmsplice + splice; answers
/// nothing, the caller times it.
fn kernel_transfer(total: usize) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1");
    let tx = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (mut rx, _) = listener.accept().expect("accept");
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0;
        while got < total {
            let n = rx.read(&mut buf).expect("read");
            assert!(n > 0, "early end of file at {got}");
            got += n;
        }
    });
    let mut fds = [0; 2];
    // SAFETY: fds is a valid int[2].
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    let (pr, pw) = (fds[0], fds[1]);
    let chunk = 64 << 10;
    let src = vec![b'k'; chunk];
    let mut sent = 0;
    while sent < total {
        let iov = libc::iovec { iov_base: src.as_ptr() as *mut libc::c_void, iov_len: chunk.min(total - sent) };
        // SAFETY: iov points at `src`, alive for the call.
        let n = unsafe { libc::vmsplice(pw, &iov, 1, 0) };
        assert!(n > 0, "vmsplice: {}", std::io::Error::last_os_error());
        let mut left = n as usize;
        while left > 0 {
            // SAFETY: no offsets; both descriptors are ours.
            let m = unsafe {
                libc::splice(
                    pr,
                    std::ptr::null_mut(),
                    tx.as_raw_fd(),
                    std::ptr::null_mut(),
                    left,
                    libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE,
                )
            };
            assert!(m > 0, "splice: {}", std::io::Error::last_os_error());
            left -= m as usize;
        }
        sent += n as usize;
    }
    reader.join().expect("reader");
    // SAFETY: our pipe's descriptors, closed once.
    unsafe {
        libc::close(pr);
        libc::close(pw);
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let test_mode = std::env::args().any(|a| a == "--test");
    {
        let mut g = c.benchmark_group("tcp_sim_throughput");
        g.throughput(Throughput::Bytes(SMALL as u64));
        g.sample_size(10);
        g.bench_function("model_4MiB_1pct_loss", |b| b.iter(|| model_transfer(SMALL)));
        g.bench_function("kernel_4MiB_loopback_vmsplice_splice", |b| b.iter(|| kernel_transfer(SMALL)));
        g.finish();
    }
    c.final_summary();
    let runs = if test_mode { 1 } else { 3 };
    let (model_secs, segments) = best_of(runs, || model_transfer(TOTAL));
    let (kernel_secs, ()) = best_of(runs, || kernel_transfer(TOTAL));
    let seg_rate = segments as f64 / model_secs;
    let model_bps = TOTAL as f64 / model_secs;
    let kernel_bps = TOTAL as f64 / kernel_secs;
    println!(
        "model: {} MiB in {model_secs:.3} s, {segments} segments ({:.0} MB/s); kernel: {kernel_secs:.3} s ({:.0} MB/s)",
        TOTAL >> 20,
        model_bps / 1e6,
        kernel_bps / 1e6
    );
    println!("tcp_sim segments per second = {seg_rate:.0}");
    println!("tcp_sim ratio model/kernel bytes = {:.2}", model_bps / kernel_bps);
}
