//! The one place that names a synchronisation primitive.
//!
//! Under `cfg(loom)` everything here is loom's model-checked twin; otherwise
//! it is `parking_lot` for locks and `std` for atomics and threads. Calling
//! code is identical in both builds: [`Mutex::lock`] returns the guard
//! directly and [`Condvar::wait`] takes the guard by value and gives it back.

#[cfg(loom)]
pub use loom::model;
#[cfg(loom)]
pub use loom::sync::Arc;
#[cfg(loom)]
pub use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub use loom::thread;

#[cfg(not(loom))]
pub use std::sync::Arc;
#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub use std::thread;

/// A mutex whose `lock` cannot fail (poisoning is not modelled).
#[derive(Debug, Default)]
pub struct Mutex<T> {
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
    #[cfg(not(loom))]
    inner: parking_lot::Mutex<T>,
}

/// The guard of a [`Mutex`].
#[cfg(loom)]
pub type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;
/// The guard of a [`Mutex`].
#[cfg(not(loom))]
pub type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub fn new(value: T) -> Self {
        Self {
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
            #[cfg(not(loom))]
            inner: parking_lot::Mutex::new(value),
        }
    }

    /// Lock, blocking the thread until the lock is free.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(loom)]
        {
            self.inner.lock().expect("loom mutex poisoned")
        }
        #[cfg(not(loom))]
        {
            self.inner.lock()
        }
    }
}

/// A condition variable paired with [`Mutex`].
#[derive(Debug, Default)]
pub struct Condvar {
    #[cfg(loom)]
    inner: loom::sync::Condvar,
    #[cfg(not(loom))]
    inner: parking_lot::Condvar,
}

impl Condvar {
    /// A new condition variable with no waiters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Release the guard's lock, sleep until notified, and lock again.
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        #[cfg(loom)]
        {
            self.inner.wait(guard).expect("loom mutex poisoned")
        }
        #[cfg(not(loom))]
        {
            let mut guard = guard;
            self.inner.wait(&mut guard);
            guard
        }
    }

    /// Wake every waiter.
    pub fn notify_all(&self) {
        self.inner.notify_all();
    }

    /// Wake one waiter.
    pub fn notify_one(&self) {
        self.inner.notify_one();
    }
}
