//! A page reference count that other threads may race with: `_refcount`
//! of `struct page` and the `page_ref_*` helpers of
//! include/linux/page_ref.h.
//!
//! Two ways to take a reference, as in Linux:
//!
//! - [`RefCount::get`] (`get_page`) when the caller already holds a
//!   reference, or holds a lock that keeps one alive: the count cannot be
//!   zero, and a zero is a broken model invariant;
//! - [`RefCount::get_unless_zero`] (`get_page_unless_zero`,
//!   `folio_try_get`) when the caller found the page without holding a
//!   reference (a page-cache lookup under RCU): the final
//!   [`put`](RefCount::put) may be racing with it, and a count that has
//!   reached zero must stay zero, or a freed page comes back to life.
//!
//! The race is checked under loom in `tests/tests/loom_pages.rs`, with the
//! broken check-then-increment twin that loom must reject.

use crate::sync::{AtomicU32, Ordering};

/// Models a page's `_refcount`: an atomic count whose last
/// [`put`](Self::put) frees the page.
///
/// I.e. once the count is zero no operation makes it positive again.
#[derive(Debug)]
pub struct RefCount {
    /// Atomic. Increments that may race with the final put are
    /// compare-and-swap loops that refuse zero; decrements are `AcqRel`
    /// so that everything done under a reference happens before the free.
    count: AtomicU32,
}

impl RefCount {
    /// A count of `n` (`set_page_count`; a new page starts at 1).
    pub fn new(n: u32) -> Self {
        RefCount { count: AtomicU32::new(n) }
    }

    /// Take a reference unless the count is already zero
    /// (`get_page_unless_zero`); `false` if it was, and the count stays 0.
    ///
    /// A successful increment is an `Acquire`, pairing with the `Release`
    /// of every earlier [`put`](Self::put): the caller sees what the
    /// previous holders wrote.
    ///
    /// # Panics
    /// If the count would overflow (`u32::MAX` references): a broken model
    /// invariant.
    pub fn get_unless_zero(&self) -> bool {
        let mut old = self.count.load(Ordering::Relaxed);
        loop {
            if old == 0 {
                return false;
            }
            let new = old.checked_add(1).unwrap_or_else(|| refcount_overflow());
            match self.count.compare_exchange_weak(old, new, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => {
                    old = now;
                    // Another thread changed the count between the load and
                    // the swap. Under loom a retry loop must yield, or the
                    // model checker explores it forever.
                    #[cfg(loom)]
                    crate::sync::thread::yield_now();
                    #[cfg(not(loom))]
                    std::hint::spin_loop();
                }
            }
        }
    }

    /// Take another reference (`get_page`): the caller already holds one,
    /// so the count is not zero.
    ///
    /// # Panics
    /// If the count was zero (taking a reference to a freed page) or would
    /// overflow: a broken model invariant.
    pub fn get(&self) {
        // Relaxed, as Linux's `page_ref_inc`: the caller's own reference
        // already orders its accesses to the page.
        let old = self.count.fetch_add(1, Ordering::Relaxed);
        assert!(old != 0, "page refcount: get of a page whose count is 0 (a freed page resurrected)");
        assert!(old != u32::MAX, "page refcount overflow");
    }

    /// Drop a reference (`put_page_testzero`); `true` if it was the last
    /// one, and the caller now frees the page.
    ///
    /// `AcqRel`: the `Release` half orders this holder's accesses before the
    /// free, the `Acquire` half lets the freeing caller see every other
    /// holder's accesses.
    ///
    /// # Panics
    /// If the count was already zero: a broken model invariant.
    pub fn put(&self) -> bool {
        let old = self.count.fetch_sub(1, Ordering::AcqRel);
        assert!(old != 0, "page refcount underflow: put of a page whose count is 0");
        old == 1
    }

    /// The count now (`page_count`); only a hint while other threads may
    /// change it.
    pub fn load(&self) -> u32 {
        self.count.load(Ordering::Acquire)
    }

    /// Add `delta` through exclusive access, answering the old count: no
    /// other thread can see the count, so a plain load and store replace
    /// the locked read-modify-write (for an arena that changes counts only
    /// through `&mut`). Wraps like `fetch_add`.
    #[inline]
    pub fn add_exclusive(&mut self, delta: i32) -> u32 {
        let old = self.count.load(Ordering::Relaxed);
        self.count.store(old.wrapping_add_signed(delta), Ordering::Relaxed);
        old
    }
}

impl Clone for RefCount {
    /// A count with the same value (for snapshots of a whole arena).
    fn clone(&self) -> Self {
        RefCount::new(self.count.load(Ordering::Relaxed))
    }
}

#[cold]
#[inline(never)]
fn refcount_overflow() -> ! {
    panic!("page refcount overflow")
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::{Arc, thread};

    #[test]
    fn live_count_get_unless_zero_takes_a_reference() {
        let r = RefCount::new(1);
        assert!(r.get_unless_zero());
        assert_eq!(r.load(), 2);
    }

    #[test]
    fn zero_count_get_unless_zero_refuses_and_stays_zero() {
        let r = RefCount::new(1);
        assert!(r.put(), "the only reference was the last");
        assert!(!r.get_unless_zero());
        assert_eq!(r.load(), 0, "a refused lookup must not resurrect the page");
    }

    #[test]
    fn put_answers_true_only_for_the_last_reference() {
        let r = RefCount::new(1);
        r.get();
        r.get();
        assert!(!r.put());
        assert!(!r.put());
        assert!(r.put());
    }

    #[test]
    #[should_panic(expected = "resurrected")]
    fn zero_count_get_panics() {
        let r = RefCount::new(0);
        r.get();
    }

    #[test]
    #[should_panic(expected = "underflow")]
    fn zero_count_put_panics() {
        let r = RefCount::new(0);
        r.put();
    }

    #[test]
    #[should_panic(expected = "overflow")]
    fn max_count_get_unless_zero_panics() {
        let r = RefCount::new(u32::MAX);
        r.get_unless_zero();
    }

    #[test]
    fn exclusive_add_answers_old_count_and_clone_copies() {
        let mut r = RefCount::new(3);
        assert_eq!(r.add_exclusive(-1), 3);
        assert_eq!(r.add_exclusive(2), 2);
        assert_eq!(r.clone().load(), 4);
    }

    #[test]
    fn racing_lookups_and_puts_free_exactly_once() {
        // Four threads each take a reference with get_unless_zero and drop
        // it while the owner drops the original one: exactly one put frees,
        // and a lookup after the free is refused.
        for _ in 0..50 {
            let r = Arc::new(RefCount::new(1));
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let r = Arc::clone(&r);
                    thread::spawn(move || {
                        let mut frees = 0;
                        for _ in 0..100 {
                            if r.get_unless_zero() && r.put() {
                                frees += 1;
                            }
                        }
                        frees
                    })
                })
                .collect();
            let mut frees = usize::from(r.put());
            frees += threads.into_iter().map(|t| t.join().unwrap()).sum::<usize>();
            assert_eq!(frees, 1, "got {frees} frees, want 1");
            assert_eq!(r.load(), 0);
            assert!(!r.get_unless_zero());
        }
    }
}
