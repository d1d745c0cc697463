//! Real threads through blocking pipes ([`SharedPipe`]): every byte arrives
//! once and in order, and every page reference is given back.
//!
//! - `producers_tee_splice_consumers_deliver_every_message_once_in_order`:
//!   four producers write tagged messages of random sizes up to `PIPE_BUF`
//!   (so each write is atomic) into pipe `a`; a stage thread tees `a` into
//!   a log pipe `c` and splices the same bytes on into `b`, as the 2006
//!   double-pipe programs do; one consumer reads `b`, another `c`. Both
//!   must see every message exactly once, each producer's in its order,
//!   and the same stream. Small pipes (2 to 4 slots) keep every thread
//!   sleeping and waking.
//! - `reader_closes_mid_stream_every_writer_wakes_with_epipe_or_count`:
//!   writers blocked on a full pipe all wake when the last reader leaves.
//!
//! Both end with the page arena's invariants and its teardown check.
//! Not under loom (real threads, thousands of operations): the loom
//! models are `loom_*.rs`.

#![cfg(not(loom))]

use std::time::{Duration, Instant};

use page_refs::sync::{Arc, Mutex, thread};
use page_refs::{PAGE_SIZE, PageArena, Source};
use pipe_buffer::{PIPE_BUF, PipeError, PipeInodeInfo, SharedPipe, SizeLimits};
use tests::Rng;

const PRODUCERS: u8 = 4;
const MESSAGES: u32 = 1000;
/// Producer (1), sequence number (4), total length (2).
const HEADER: usize = 7;

/// A blocking pipe of `slots` slots.
fn pipe(id: u32, slots: u32) -> Arc<SharedPipe> {
    let mut ring = PipeInodeInfo::new(id);
    ring.set_size(slots * PAGE_SIZE as u32, SizeLimits::default()).unwrap();
    Arc::new(SharedPipe::new(ring))
}

/// Payload byte `i` of message `seq` of `producer`: a message read with
/// bytes of another one in it fails the check.
fn payload_byte(producer: u8, seq: u32, i: usize) -> u8 {
    (u32::from(producer) * 31 + seq * 7 + i as u32 * 13) as u8
}

fn message(producer: u8, seq: u32, len: usize) -> Vec<u8> {
    let mut m = Vec::with_capacity(len);
    m.push(producer);
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(&(len as u16).to_le_bytes());
    m.extend((HEADER..len).map(|i| payload_byte(producer, seq, i)));
    m
}

/// Split a byte stream into messages, checking each one's payload;
/// answers (producer, seq) in stream order.
fn parse(stream: &[u8], who: &str) -> Vec<(u8, u32)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        assert!(at + HEADER <= stream.len(), "{who}: stream ends inside a header at byte {at}");
        let producer = stream[at];
        let seq = u32::from_le_bytes(stream[at + 1..at + 5].try_into().unwrap());
        let len = usize::from(u16::from_le_bytes(stream[at + 5..at + 7].try_into().unwrap()));
        assert!(producer < PRODUCERS && (HEADER..=PIPE_BUF).contains(&len), "{who}: bad header at byte {at}");
        assert!(at + len <= stream.len(), "{who}: stream ends inside message ({producer}, {seq})");
        for i in HEADER..len {
            let (got, want) = (stream[at + i], payload_byte(producer, seq, i));
            assert_eq!(got, want, "{who}: message ({producer}, {seq}) byte {i}: got {got:#x}, want {want:#x}");
        }
        out.push((producer, seq));
        at += len;
    }
    out
}

/// Join `t`, failing instead of hanging if it is still blocked after 20 s.
fn join<T>(t: thread::JoinHandle<T>, what: &str) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !t.is_finished() {
        assert!(Instant::now() < deadline, "{what}: still blocked after 20 s (deadlock or lost wakeup)");
        thread::sleep(Duration::from_millis(1));
    }
    t.join().unwrap_or_else(|_| panic!("{what} panicked"))
}

/// Read `p` to end of file, checking the arena's invariants now and then
/// (the arena lock alone: no pipe lock is held, so the lock order holds).
fn drain(p: &SharedPipe, pages: &Mutex<PageArena>, chunk: usize) -> Vec<u8> {
    let mut stream = Vec::new();
    let mut reads = 0u32;
    while p.read_into(pages, chunk, &mut stream).unwrap() > 0 {
        reads += 1;
        if reads.is_multiple_of(64) {
            pages.lock().check_invariants().unwrap();
        }
    }
    p.close_reader(pages);
    stream
}

#[test]
fn producers_tee_splice_consumers_deliver_every_message_once_in_order() {
    let pages = Arc::new(Mutex::new(PageArena::without_log()));
    let (a, b, c) = (pipe(1, 4), pipe(2, 2), pipe(3, 2));

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let (a, pages) = (a.clone(), pages.clone());
            thread::spawn(move || {
                let mut rng = Rng::new(u64::from(producer) + 1);
                for seq in 0..MESSAGES {
                    // Mostly small messages (they merge into shared slots),
                    // some up to a whole page.
                    let len =
                        if rng.chance(1, 4) { rng.range(HEADER as u64, PIPE_BUF as u64) } else { rng.range(7, 300) };
                    let m = message(producer, seq, len as usize);
                    assert_eq!(a.write(&pages, Source::Slice(&m)), Ok(m.len()), "producer {producer} write {seq}");
                }
            })
        })
        .collect();

    let stage = thread::spawn({
        let (a, b, c, pages) = (a.clone(), b.clone(), c.clone(), pages.clone());
        move || {
            loop {
                let n = SharedPipe::tee(&a, &c, &pages, 3 * PAGE_SIZE).unwrap();
                if n == 0 {
                    break; // every producer is done and `a` is drained
                }
                // The stage is `a`'s only reader: the bytes just teed are
                // still at its front, and splice moves exactly those.
                let mut moved = 0;
                while moved < n {
                    let m = SharedPipe::splice(&a, &b, &pages, n - moved).unwrap();
                    assert!(m > 0, "splice: got EOF with {} teed bytes unmoved", n - moved);
                    moved += m;
                }
            }
            a.close_reader(&pages);
            b.close_writer(&pages);
            c.close_writer(&pages);
        }
    });

    let consumer = |p: &Arc<SharedPipe>, chunk: usize| {
        let (p, pages) = (p.clone(), pages.clone());
        thread::spawn(move || drain(&p, &pages, chunk))
    };
    let (from_b, from_c) = (consumer(&b, 3000), consumer(&c, 5000));

    for (i, t) in producers.into_iter().enumerate() {
        join(t, &format!("producer {i}"));
    }
    a.close_writer(&pages);
    join(stage, "tee/splice stage");
    let (stream_b, stream_c) = (join(from_b, "consumer of b"), join(from_c, "consumer of c"));

    let got_b = parse(&stream_b, "b");
    let got_c = parse(&stream_c, "c (tee log)");
    assert_eq!(got_b.len(), usize::from(PRODUCERS) * MESSAGES as usize, "b: message count");
    assert!(stream_b == stream_c, "the tee log and the spliced stream differ");
    for producer in 0..PRODUCERS {
        let seqs: Vec<u32> = got_b.iter().filter(|m| m.0 == producer).map(|m| m.1).collect();
        let want: Vec<u32> = (0..MESSAGES).collect();
        assert!(seqs == want, "producer {producer}: messages out of order, lost or repeated");
    }
    assert_eq!(got_c, got_b);

    for p in [&a, &b, &c] {
        let ring = p.lock();
        assert_eq!((ring.readers, ring.writers, ring.occupancy()), (0, 0, 0), "pipe {} not released", p.id());
    }
    pages.lock().check_teardown().unwrap();
}

#[test]
fn reader_closes_mid_stream_every_writer_wakes_with_epipe_or_count() {
    let pages = Arc::new(Mutex::new(PageArena::without_log()));
    let a = pipe(1, 2);
    let writers: Vec<_> = (0..3u8)
        .map(|w| {
            let (a, pages) = (a.clone(), pages.clone());
            thread::spawn(move || {
                let mut written = 0;
                loop {
                    match a.write(&pages, Source::Fill { byte: w, len: 3 * PAGE_SIZE }) {
                        Ok(n) => written += n,
                        Err(PipeError::Pipe) => return written,
                        Err(e) => panic!("writer {w}: got {e}, want a count or EPIPE"),
                    }
                }
            })
        })
        .collect();
    let mut read = 0;
    while read < 20 * PAGE_SIZE {
        read += a.read(&pages, PAGE_SIZE).unwrap().len();
    }
    a.close_reader(&pages);
    let written: usize = writers.into_iter().enumerate().map(|(i, t)| join(t, &format!("writer {i}"))).sum();
    let left = a.lock().len_bytes() as usize;
    assert_eq!(written, read + left, "bytes written = bytes read + bytes left in the pipe");
    a.close_writer(&pages);
    pages.lock().check_teardown().unwrap();
}

/// The same through the whole model kernel ([`kmodel::kernel::SharedKernel`]):
/// three writer threads write 100-byte messages (atomic) whose byte value
/// encodes writer and sequence; a stage thread tees the pipe into a log pipe
/// and splices it on into a second pipe; two readers drain the second and
/// the log pipe. Every message arrives once, each writer's in order, in
/// both streams, and the kernel's invariants hold at the end.
#[test]
fn kernel_threads_through_tee_and_splice_deliver_every_message_in_order() {
    use kmodel::kernel::{Kernel, KernelConfig, SharedKernel, SpliceFlags};

    const WRITERS: u8 = 3;
    const EACH: u8 = 60;
    const MSG: usize = 100;
    let k = SharedKernel::new(Kernel::new(KernelConfig::default()));
    let pid = k.with(|k| k.init_pid());
    let (ar, aw) = k.with(|k| k.pipe2(pid)).unwrap();
    let (br, bw) = k.with(|k| k.pipe2(pid)).unwrap();
    let (cr, cw) = k.with(|k| k.pipe2(pid)).unwrap();
    // Small pipes keep every thread sleeping and waking.
    for fd in [aw, bw, cw] {
        k.fcntl(pid, fd, kmodel::kernel::Fcntl::SetPipeSz(8192)).unwrap();
    }
    let total = WRITERS as usize * EACH as usize * MSG;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let k = k.clone();
            thread::spawn(move || {
                for seq in 0..EACH {
                    // Writer in the top two bits, sequence below.
                    assert_eq!(k.write(pid, aw, (w << 6) | seq, MSG), Ok(MSG));
                }
            })
        })
        .collect();
    let stage = {
        let k = k.clone();
        thread::spawn(move || {
            let mut moved = 0;
            while moved < total {
                let n = k.tee(pid, ar, cw, 4096, SpliceFlags::default()).unwrap();
                // A splice stops early once the output is full and it moved
                // something: move the teed bytes on in as many calls as it
                // takes.
                let mut left = n;
                while left > 0 {
                    let m = k.splice(pid, ar, bw, left as u64, SpliceFlags::default()).unwrap();
                    assert!(m > 0 && m <= left, "splice moved {m} of {left}");
                    left -= m;
                }
                moved += n;
            }
        })
    };
    let reader = |fd| {
        let k = k.clone();
        thread::spawn(move || {
            let mut got = Vec::new();
            while got.len() < total {
                got.extend(k.read(pid, fd, 10_000).unwrap());
            }
            got
        })
    };
    let (main, log) = (reader(br), reader(cr));
    for w in writers {
        w.join().unwrap();
    }
    stage.join().unwrap();
    let (main, log) = (main.join().unwrap(), log.join().unwrap());
    assert_eq!(main, log, "the log sees the same stream");
    let mut next = [0u8; WRITERS as usize];
    for msg in main.chunks(MSG) {
        assert!(msg.iter().all(|&b| b == msg[0]), "a message was split or interleaved");
        let (w, seq) = ((msg[0] >> 6) as usize, msg[0] & 0x3f);
        assert_eq!(seq, next[w], "writer {w}: got message {seq}, want {}", next[w]);
        next[w] += 1;
    }
    assert_eq!(next, [EACH; WRITERS as usize]);
    k.with(|k| k.teardown_and_check()).unwrap();
}

/// Several pipes at once through [`kmodel::kernel::SharedKernel`], whose
/// pipes each have their own lock: three chains, each a writer thread
/// writing 100-byte messages into its pipe `a`, a mover thread splicing `a`
/// into `b`, and a reader thread draining `b`; a fourth pair of threads
/// splices two more pipes into each other in opposite directions (the lock
/// order case), and a checker thread runs the invariant checker (which
/// locks every pipe) while they work. Every chain's reader gets its
/// writer's messages once and in order; the ping-pong pipes keep their
/// bytes; the invariants hold at the end and teardown is clean.
#[test]
fn kernel_many_pipes_at_once_every_byte_once_in_order() {
    use kmodel::kernel::{Fcntl, Kernel, KernelConfig, SharedKernel, SpliceFlags};

    const CHAINS: u8 = 3;
    const EACH: usize = 200;
    const MSG: usize = 100;
    let k = SharedKernel::new(Kernel::new(KernelConfig::default()));
    let pid = k.with(|k| k.init_pid());
    let chains: Vec<_> = (0..CHAINS)
        .map(|_| {
            let (ar, aw) = k.with(|k| k.pipe2(pid)).unwrap();
            let (br, bw) = k.with(|k| k.pipe2(pid)).unwrap();
            for fd in [aw, bw] {
                k.fcntl(pid, fd, Fcntl::SetPipeSz(8192)).unwrap();
            }
            (ar, aw, br, bw)
        })
        .collect();
    let mut threads = Vec::new();
    let mut readers = Vec::new();
    for (c, &(ar, aw, br, bw)) in chains.iter().enumerate() {
        let kw = k.clone();
        threads.push(thread::spawn(move || {
            for seq in 0..EACH {
                assert_eq!(kw.write(pid, aw, (c * 64 + seq % 64) as u8, MSG), Ok(MSG));
            }
            kw.close(pid, aw).unwrap();
        }));
        let km = k.clone();
        threads.push(thread::spawn(move || {
            // Until end of file on `a`: then close `b`'s write end.
            while km.splice(pid, ar, bw, 3000, SpliceFlags::default()).unwrap() > 0 {}
            km.close(pid, bw).unwrap();
        }));
        let kr = k.clone();
        readers.push(thread::spawn(move || {
            let mut got = Vec::new();
            loop {
                let data = kr.read(pid, br, 5000).unwrap();
                if data.is_empty() {
                    return got;
                }
                got.extend(data);
            }
        }));
    }
    // Opposite splices between x and y, each holding one 1-byte message.
    let (xr, xw) = k.with(|k| k.pipe2(pid)).unwrap();
    let (yr, yw) = k.with(|k| k.pipe2(pid)).unwrap();
    assert_eq!(k.write(pid, xw, b'x', 1), Ok(1));
    assert_eq!(k.write(pid, yw, b'y', 1), Ok(1));
    let nonblock = SpliceFlags { nonblock: true, ..SpliceFlags::default() };
    for (from, to) in [(xr, yw), (yr, xw)] {
        let k = k.clone();
        threads.push(thread::spawn(move || {
            for _ in 0..2000 {
                match k.splice(pid, from, to, 1, nonblock) {
                    Ok(1) | Err(nix::errno::Errno::EAGAIN) => {}
                    other => panic!("ping-pong splice answered {other:?}"),
                }
            }
        }));
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checker = {
        let (k, stop) = (k.clone(), stop.clone());
        thread::spawn(move || {
            let mut checks = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                k.with(|k| k.check_invariants()).unwrap();
                checks += 1;
                thread::sleep(Duration::from_millis(1));
            }
            checks
        })
    };
    for (i, t) in threads.into_iter().enumerate() {
        join(t, &format!("thread {i}"));
    }
    for (c, r) in readers.into_iter().enumerate() {
        let got = join(r, &format!("reader {c}"));
        assert_eq!(got.len(), EACH * MSG, "chain {c}: every byte once");
        for (seq, msg) in got.chunks(MSG).enumerate() {
            assert!(
                msg.iter().all(|&b| b == (c * 64 + seq % 64) as u8),
                "chain {c}: message {seq} out of order or split"
            );
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(join(checker, "checker") > 0);
    let mut left = Vec::new();
    for fd in [xr, yr] {
        k.fcntl(pid, fd, Fcntl::SetNonblock(true)).unwrap();
        left.extend(k.read(pid, fd, 10).unwrap_or_default());
    }
    left.sort_unstable();
    assert_eq!(left, b"xy", "the ping-pong bytes are conserved");
    k.with(|k| k.check_invariants()).unwrap();
    k.with(|k| k.teardown_and_check()).unwrap();
}

/// Per-pipe locks: while one thread holds pipe `a`'s lock (and another
/// sleeps on `a`, empty), writes, reads, splices and tees on pipes `b` and
/// `c` complete. With one lock for the whole kernel they would wait for the
/// holder, which gives up after ten seconds and fails the test.
#[test]
fn pipe_a_locked_calls_on_pipe_b_complete() {
    use kmodel::kernel::{Kernel, KernelConfig, SharedKernel, SpliceFlags};
    use std::sync::mpsc::channel;

    let k = SharedKernel::new(Kernel::new(KernelConfig::default()));
    let pid = k.with(|k| k.init_pid());
    let (ar, aw) = k.with(|k| k.pipe2(pid)).unwrap();
    let (br, bw) = k.with(|k| k.pipe2(pid)).unwrap();
    let (cr, cw) = k.with(|k| k.pipe2(pid)).unwrap();
    let a = k.with(|k| k.process(pid).and_then(|p| p.fds.get(ar)).and_then(|f| f.pipe())).unwrap();
    let sleeper = {
        let k = k.clone();
        thread::spawn(move || k.read(pid, ar, 10))
    };
    let (holding_tx, holding) = channel();
    let (done, done_rx) = channel::<()>();
    let holder = {
        let k = k.clone();
        thread::spawn(move || {
            k.with_pipe(a, |pipe| {
                assert!(pipe.is_some());
                holding_tx.send(()).unwrap();
                done_rx.recv_timeout(Duration::from_secs(10)).is_ok()
            })
        })
    };
    holding.recv().unwrap();
    assert_eq!(k.write(pid, bw, b'b', 300), Ok(300));
    assert_eq!(k.tee(pid, br, cw, 100, SpliceFlags::default()), Ok(100));
    assert_eq!(k.splice(pid, br, cw, 100, SpliceFlags::default()), Ok(100));
    assert_eq!(k.read(pid, br, 1000).map(|v| v.len()), Ok(200));
    assert_eq!(k.read(pid, cr, 1000).map(|v| v.len()), Ok(200));
    done.send(()).unwrap();
    assert!(join(holder, "holder"), "calls on pipe b waited for pipe a's lock");
    assert_eq!(k.write(pid, aw, b'a', 3), Ok(3));
    assert_eq!(join(sleeper, "sleeper"), Ok(b"aaa".to_vec()));
    k.with(|k| k.teardown_and_check()).unwrap();
}
