//! Loom models of the blocking pipe ([`SharedPipe`]), each next to a
//! broken twin that loom must reject, so the check is shown able to fail.
//!
//! | model | property | broken twin | how it fails |
//! |---|---|---|---|
//! | one producer, one consumer, 2-slot pipe, 3 pages and a close | no lost wakeup, no deadlock, FIFO, EOF | - | - |
//! | one producer, two consumers, 2 pages | each consumer wakes to a page | waits with `if` instead of `while` | a consumer woken by the other's page reads an empty pipe |
//! | splice A to B and B to A at once | no deadlock | locks in argument order | deadlock |
//! | the last reader closes while a writer sleeps on a full pipe | the writer wakes with EPIPE | close without wakeup | deadlock |
//! | the last writer closes while a reader sleeps on an empty pipe | the reader wakes to end of file | - | - |
//!
//! Run alone, in release, with a preemption bound (a bounded run is
//! preemption-bounded, not exhaustive):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p tests --release --test loom_pipe
//! ```
//!
//! The `#[ignore]`d `twin_*_model` tests deadlock on purpose: the
//! `twin_*` tests run them in a child process. Do not run them with
//! `--ignored` directly.

#![cfg(loom)]

mod loom_support;

use loom_support::{arena, expect_child_failure, expect_panic, model, page, pipe, teardown};
use page_refs::sync::{Mutex, thread};
use page_refs::{PAGE_SIZE, PageArena};
use pipe_buffer::{PipeError, SharedPipe, lock_two};

type Read = fn(&SharedPipe, &Mutex<PageArena>, usize) -> Result<Vec<u8>, PipeError>;
type Splice = fn(&SharedPipe, &SharedPipe, &Mutex<PageArena>, usize) -> Result<usize, PipeError>;
type Close = fn(&SharedPipe, &Mutex<PageArena>);

// One producer, one consumer.

#[test]
fn two_slot_pipe_producer_consumer_deliver_every_page_once_in_order() {
    model("producer/consumer, 2 slots, 3 pages", || {
        let (p, pages) = (pipe(1, 2), arena());
        let producer = thread::spawn({
            let (p, pages) = (p.clone(), pages.clone());
            move || {
                // The third write sleeps on a full pipe.
                for b in *b"abc" {
                    assert_eq!(p.write(&pages, page(b)), Ok(PAGE_SIZE), "producer: write {}", b as char);
                }
                p.close_writer(&pages);
            }
        });
        let mut got = Vec::new();
        loop {
            let data = p.read(&pages, PAGE_SIZE).unwrap();
            if data.is_empty() {
                break; // end of file: the producer closed
            }
            assert_eq!(data.len(), PAGE_SIZE, "consumer: a page-sized write is one slot");
            got.push(data[0]);
        }
        producer.join().unwrap();
        assert!(got == b"abc", "consumer: got {:?}, want \"abc\"", String::from_utf8_lossy(&got));
        teardown(&pages, &[&p]);
    });
}

// One producer, two consumers: where `if` instead of `while` shows.

/// One consumer is the model's main thread, the other and the producer are
/// spawned; the producer writes pages `a` and `b`, and each consumer reads
/// one page with `read`. (With the main thread a consumer, the `if` bug
/// needs a single preemption: the producer's, right after its wakeup.)
fn two_consumers(name: &str, read: Read) {
    model(name, move || {
        let (p, pages) = (pipe(1, 2), arena());
        let consume = move |p: &SharedPipe, pages: &Mutex<PageArena>| match read(p, pages, PAGE_SIZE) {
            Ok(data) if data.len() == PAGE_SIZE => data[0],
            Ok(data) => panic!("consumer: got {} bytes, want a page", data.len()),
            Err(e) => panic!("consumer: got {e}, want a page"),
        };
        let other = thread::spawn({
            let (p, pages) = (p.clone(), pages.clone());
            move || consume(&p, &pages)
        });
        let producer = thread::spawn({
            let (p, pages) = (p.clone(), pages.clone());
            move || {
                for b in *b"ab" {
                    assert_eq!(p.write(&pages, page(b)), Ok(PAGE_SIZE), "producer: write {}", b as char);
                }
            }
        });
        let mut got = vec![consume(&p, &pages), other.join().unwrap()];
        producer.join().unwrap();
        got.sort_unstable();
        assert!(got == b"ab", "consumers: got {:?}, want one page each", String::from_utf8_lossy(&got));
        teardown(&pages, &[&p]);
    });
}

/// Broken twin of [`SharedPipe::read`]: sleeps with `if` instead of
/// `while`, so a consumer woken by a write whose page another consumer
/// took reads an empty pipe.
fn read_waiting_with_if(p: &SharedPipe, pages: &Mutex<PageArena>, len: usize) -> Result<Vec<u8>, PipeError> {
    let mut ring = p.lock();
    if ring.is_empty() && ring.writers > 0 {
        ring = p.rd_wait().wait(ring); // BROKEN: the condition is not checked again
    }
    let before = ring.occupancy();
    let got = ring.read(&mut pages.lock(), len, false);
    if ring.occupancy() < before {
        p.wr_wait().notify_all();
    }
    got
}

#[test]
fn two_consumers_one_producer_each_consumer_wakes_to_a_page() {
    two_consumers("two consumers, while", SharedPipe::read);
}

#[test]
fn twin_wait_with_if_consumer_wakes_to_an_empty_pipe() {
    expect_panic("wait with if", &["want a page"], || two_consumers("two consumers, if (twin)", read_waiting_with_if));
}

// Opposite splices.

/// Pipes A and B (2 slots, one page each); one thread splices a page from
/// A to B while the other splices one from B to A.
fn opposite_splices(name: &str, splice: Splice) {
    model(name, move || {
        let (a, b, pages) = (pipe(1, 2), pipe(2, 2), arena());
        assert_eq!(a.write(&pages, page(b'a')), Ok(PAGE_SIZE));
        assert_eq!(b.write(&pages, page(b'b')), Ok(PAGE_SIZE));
        let there = thread::spawn({
            let (a, b, pages) = (a.clone(), b.clone(), pages.clone());
            move || splice(&a, &b, &pages, PAGE_SIZE)
        });
        let back = splice(&b, &a, &pages, PAGE_SIZE);
        assert_eq!(there.join().unwrap(), Ok(PAGE_SIZE), "splice A to B");
        assert_eq!(back, Ok(PAGE_SIZE), "splice B to A");
        let (ring_a, ring_b) = lock_two(&a, &b).unwrap();
        assert_eq!(ring_a.len_bytes() + ring_b.len_bytes(), 2 * PAGE_SIZE as u64, "bytes conserved");
        drop((ring_a, ring_b));
        teardown(&pages, &[&a, &b]);
    });
}

/// Broken twin of [`SharedPipe::splice`]: locks the input, then the
/// output, whatever their ids.
fn splice_locking_in_argument_order(
    input: &SharedPipe,
    output: &SharedPipe,
    pages: &Mutex<PageArena>,
    len: usize,
) -> Result<usize, PipeError> {
    let mut ipipe = input.lock();
    let mut opipe = output.lock(); // BROKEN: A then B here, B then A in the other thread
    let moved = ipipe.splice_to(&mut opipe, &mut pages.lock(), len, false);
    if matches!(moved, Ok(n) if n > 0) {
        output.rd_wait().notify_all();
        input.wr_wait().notify_all();
    }
    moved
}

#[test]
fn opposite_splices_lock_in_id_order_and_never_deadlock() {
    opposite_splices("opposite splices, id order", SharedPipe::splice);
}

#[test]
#[ignore = "broken twin: deadlocks, and loom aborts the process; run by twin_lock_in_argument_order_deadlocks"]
fn twin_lock_in_argument_order_model() {
    opposite_splices("opposite splices, argument order (twin)", splice_locking_in_argument_order);
}

#[test]
fn twin_lock_in_argument_order_deadlocks() {
    expect_child_failure("twin_lock_in_argument_order_model", "deadlock");
}

// Close racing a blocked writer.

/// A full 1-slot pipe; one thread writes a page (and sleeps), the other
/// closes the only read end with `close_reader`.
fn close_races_blocked_writer(name: &str, close_reader: Close) {
    model(name, move || {
        let (p, pages) = (pipe(1, 1), arena());
        assert_eq!(p.write(&pages, page(b'x')), Ok(PAGE_SIZE));
        let writer = thread::spawn({
            let (p, pages) = (p.clone(), pages.clone());
            move || p.write(&pages, page(b'y'))
        });
        close_reader(&p, &pages);
        let got = writer.join().unwrap();
        assert_eq!(got, Err(PipeError::Pipe), "blocked writer: got {got:?}, want EPIPE");
        teardown(&pages, &[&p]);
    });
}

/// Broken twin of [`SharedPipe::close_reader`]: drops the read end
/// without waking the writers.
fn close_reader_without_wakeup(p: &SharedPipe, _pages: &Mutex<PageArena>) {
    p.lock().readers -= 1; // BROKEN: no notify_all, a sleeping writer never learns
}

#[test]
fn close_racing_blocked_writer_wakes_it_with_epipe() {
    close_races_blocked_writer("close vs blocked writer", SharedPipe::close_reader);
}

#[test]
#[ignore = "broken twin: deadlocks, and loom aborts the process; run by twin_close_without_wakeup_deadlocks"]
fn twin_close_without_wakeup_model() {
    close_races_blocked_writer("close without wakeup (twin)", close_reader_without_wakeup);
}

#[test]
fn twin_close_without_wakeup_deadlocks() {
    expect_child_failure("twin_close_without_wakeup_model", "deadlock");
}

#[test]
fn close_racing_blocked_reader_wakes_it_with_eof() {
    model("close vs blocked reader", || {
        let (p, pages) = (pipe(1, 1), arena());
        let reader = thread::spawn({
            let (p, pages) = (p.clone(), pages.clone());
            move || p.read(&pages, PAGE_SIZE)
        });
        p.close_writer(&pages);
        let got = reader.join().unwrap();
        assert_eq!(got, Ok(vec![]), "blocked reader: got {got:?}, want end of file");
        teardown(&pages, &[&p]);
    });
}
