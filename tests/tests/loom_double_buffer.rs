//! Loom model of the seed's double buffer, at its smallest: the 2006
//! argument between Jens Axboe and Linus Torvalds, checked.
//!
//! A producer vmsplices the halves of a buffer twice the pipe's capacity
//! (a 1-slot pipe `p`, a 2-page buffer) into `p`, in turn. Axboe's pitch:
//! once the vmsplice of half 1 succeeds, half 0 has left the pipe, so the
//! producer may refill it. The consumer tees `p` into a log pipe, then
//! reads `p`, then reads the log. Linus's objection: "left the pipe" is
//! not "free", since the log still holds half 0 until it is read.
//!
//! - The producer that refills half 0 as soon as its second vmsplice
//!   succeeds is the broken twin: loom finds the interleaving where it
//!   overwrites half 0 while the log still holds it (the model asserts at
//!   the overwrite that no kernel object holds the page, and the consumer
//!   that the log carries what was spliced).
//! - The producer that first waits for half 0 to be reusable (only the
//!   user holds it), woken by the release notification, is safe in every
//!   interleaving.
//!
//! The release notification stands for the kernel telling the producer
//! that a page's last kernel reference went: here the consumer signals
//! `released` (paired with the arena lock) after each read that may have
//! dropped one.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p tests --release --test loom_double_buffer
//! ```

#![cfg(loom)]

mod loom_support;

use loom_support::{arena, expect_panic, model, page, pipe, teardown};
use page_refs::sync::{Arc, Condvar, thread};
use page_refs::{Holder, PAGE_SIZE, PageArena, PageId};
use pipe_buffer::{BufFlags, BufOrigin, SharedPipe};

/// The user's mapping of each half of the buffer.
const HALF0: Holder = Holder::user(0, 0);
const HALF1: Holder = Holder::user(0, 1);

/// Whether a kernel object (a pipe) still holds a reference to `page`:
/// the program may not overwrite it.
fn busy(pages: &PageArena, page: PageId) -> bool {
    pages.holders(page).iter().any(Holder::is_kernel)
}

/// The first byte of `data` if every byte is that one.
fn uniform(data: &[u8]) -> Option<u8> {
    data.iter().all(|&b| b == data[0]).then(|| data[0])
}

fn double_buffer(name: &str, wait_for_release: bool) {
    model(name, move || {
        let (p, log, pages) = (pipe(1, 1), pipe(2, 1), arena());
        // Paired with the arena lock: notified after page references drop.
        let released = Arc::new(Condvar::new());
        let (half0, half1) = {
            let mut a = pages.lock();
            let (half0, half1) = (a.alloc(HALF0), a.alloc(HALF1));
            a.write(half0, 0, page(b'A'));
            a.write(half1, 0, page(b'B'));
            (half0, half1)
        };

        let producer = thread::spawn({
            let (p, pages, released) = (p.clone(), pages.clone(), released.clone());
            move || {
                let vmsplice = |half| p.add_page(&pages, half, 0, PAGE_SIZE, BufFlags::NONE, BufOrigin::User);
                assert_eq!(vmsplice(half0), Ok(PAGE_SIZE), "vmsplice half 0");
                // Sleeps until half 0 has left the 1-slot pipe.
                assert_eq!(vmsplice(half1), Ok(PAGE_SIZE), "vmsplice half 1");
                let mut a = pages.lock();
                if wait_for_release {
                    while busy(&a, half0) {
                        a = released.wait(a);
                    }
                }
                assert!(!busy(&a, half0), "producer overwrote half 0 while busy: held by {:?}", a.holders(half0));
                a.write(half0, 0, page(b'C'));
            }
        });

        // The consumer: tee each page into the log, read `p`, read the log.
        for want in *b"AB" {
            assert_eq!(SharedPipe::tee(&p, &log, &pages, PAGE_SIZE), Ok(PAGE_SIZE), "tee");
            let data = p.read(&pages, PAGE_SIZE).unwrap();
            assert_eq!(uniform(&data), Some(want), "p: got {:?}, want {}", uniform(&data), want as char);
            let logged = log.read(&pages, PAGE_SIZE).unwrap();
            let got = uniform(&logged).map(char::from);
            assert_eq!(got, Some(want as char), "log: got {got:?}, want {}", want as char);
            let _a = pages.lock();
            released.notify_all();
        }
        producer.join().unwrap();

        {
            let mut a = pages.lock();
            let mut refilled = Vec::new();
            a.read_into(half0, 0, PAGE_SIZE, &mut refilled);
            assert_eq!(uniform(&refilled), Some(b'C'), "half 0 after the refill");
            assert!(a.put(half0, HALF0) && a.put(half1, HALF1), "the pipes still hold the halves");
        }
        teardown(&pages, &[&p, &log]);
    });
}

#[test]
fn double_buffer_producer_waiting_for_release_never_overwrites_a_busy_page() {
    double_buffer("double buffer, wait for release", true);
}

#[test]
fn twin_refill_after_second_vmsplice_overwrites_a_page_the_log_holds() {
    expect_panic("refill without waiting", &["overwrote half 0 while busy", "log: got"], || {
        double_buffer("double buffer, refill at once (twin)", false)
    });
}
