//! Loom model of a page lookup racing the final put ([`RefCount`]), next to
//! the broken twin that loom must reject.
//!
//! A page-cache lookup finds a page without holding a reference (under RCU
//! in Linux), so the owner's final `put_page` may run at the same moment.
//! `get_page_unless_zero` takes a reference only if the count is not yet
//! zero, in one compare-and-swap; the twin checks the count, then
//! increments it, and loom finds the interleaving where the page is freed
//! in between and comes back to life (`RefCount::get` refuses a zero count
//! and says so).
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p tests --release --test loom_pages
//! ```

#![cfg(loom)]

mod loom_support;

use loom_support::{expect_panic, model};
use page_refs::RefCount;
use page_refs::sync::{Arc, AtomicBool, Ordering, thread};

/// A page frame as a lockless lookup sees it: its count, and whether it
/// went back to the allocator.
struct Page {
    refs: RefCount,
    /// Set by whoever drops the last reference.
    freed: AtomicBool,
}

impl Page {
    /// `put_page`: the last reference frees the page, exactly once.
    fn put(&self) {
        if self.refs.put() {
            let was_freed = self.freed.swap(true, Ordering::AcqRel);
            assert!(!was_freed, "page freed twice");
        }
    }
}

type Lookup = fn(&RefCount) -> bool;

/// The owner holds the only reference and drops it, while two lookups
/// (three threads, so the compare-and-swap also races with itself) try to
/// take one with `lookup` and drop it again.
fn lookups_race_final_put(name: &str, lookup: Lookup) {
    model(name, move || {
        let page = Arc::new(Page { refs: RefCount::new(1), freed: AtomicBool::new(false) });
        let lookups: Vec<_> = (0..2)
            .map(|_| {
                let page = page.clone();
                thread::spawn(move || {
                    if lookup(&page.refs) {
                        assert!(!page.freed.load(Ordering::Acquire), "lookup holds a reference to a freed page");
                        page.put();
                    }
                })
            })
            .collect();
        page.put(); // the owner's last reference: the page leaves the cache
        for l in lookups {
            l.join().unwrap();
        }
        assert_eq!(page.refs.load(), 0, "references left after every holder put its own");
        assert!(page.freed.load(Ordering::Acquire), "every reference dropped, but the page was never freed");
    });
}

/// Broken twin of [`RefCount::get_unless_zero`]: checks the count, then
/// increments it; the final put can run in between.
fn check_then_increment(refs: &RefCount) -> bool {
    if refs.load() == 0 {
        return false;
    }
    refs.get(); // BROKEN: the count may have reached zero since the check
    true
}

#[test]
fn lookups_racing_final_put_never_resurrect_a_freed_page() {
    lookups_race_final_put("lookups vs final put, get_unless_zero", RefCount::get_unless_zero);
}

#[test]
fn twin_check_then_increment_resurrects_a_freed_page() {
    expect_panic("check then increment", &["resurrected", "freed page", "freed twice"], || {
        lookups_race_final_put("lookups vs final put, check then increment (twin)", check_then_increment)
    });
}
