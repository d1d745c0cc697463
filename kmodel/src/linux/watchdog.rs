//! The watchdog: notices that a host syscall blocked for good.
//!
//! Before each call that can sleep, the backend arms a one-shot POSIX timer
//! (`timer_create` with `SIGEV_THREAD_ID`, so the signal goes to the very
//! thread making the call, whichever thread that is). When it expires, the
//! kernel sends `SIGALRM` to that thread; the handler is installed without
//! `SA_RESTART`, so the sleeping syscall returns (`-EINTR` or a partial
//! count) and the handler records that the timer fired. After the call the
//! timer is disarmed; if it fired, the operation blocked.
//!
//! # Which flag the handler sets
//!
//! Several backends may run at once on different threads (tests do), each
//! with its own timer, so the handler must find the flag of the backend
//! whose timer fired. A `thread_local!` is no good in a signal handler (its
//! lazy initialisation and destructor registration are not
//! async-signal-safe), and a map keyed by thread id needs a lock. Instead
//! every backend claims a *slot*: an index into the static array
//! [`FIRED`], claimed with a compare-and-swap on [`IN_USE`] and released
//! when the backend is dropped. The timer carries the slot number in its
//! `sigev_value` (tagged with [`TAG`] so stray `SIGALRM`s from elsewhere are
//! ignored), and the kernel hands it back to the handler in
//! `siginfo_t::si_value`. The handler does one bounds-checked atomic store:
//! async-signal-safe, lock-free, and correct for any number of threads.
//!
//! A signal can never outlive its slot: the timer is disarmed right after
//! each call, and a signal already queued to this thread is delivered (the
//! handler runs) on the return to user space of that very disarming
//! `timer_settime`, before the flag is read. Nothing is left pending when
//! the slot is released.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::kernel::Errno;
use crate::scenario::BackendError;

/// How many backends may exist at the same time.
const SLOTS: usize = 256;

/// Marks a timer's `sigev_value` as ours; the low 16 bits are the slot.
const TAG: usize = 0x6b6d_6f64_0000;

/// `FIRED[slot]`: the timer of the backend owning `slot` expired.
static FIRED: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];

/// `IN_USE[slot]`: some backend owns `slot`.
static IN_USE: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];

/// The `SIGALRM` handler: set the flag of the slot the timer names.
extern "C" fn on_alarm(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    if info.is_null() {
        return;
    }
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler;
    // reading si_code and the sigval union is plain memory access.
    let (code, value) = unsafe { ((*info).si_code, (*info).si_value().sival_ptr as usize) };
    if code != libc::SI_TIMER || value & !0xffff != TAG {
        return;
    }
    if let Some(flag) = FIRED.get(value & 0xffff) {
        flag.store(true, Ordering::SeqCst);
    }
}

/// Install the handler (once per process) and ignore `SIGPIPE`.
fn install_handlers() -> Result<(), BackendError> {
    static INSTALLED: OnceLock<Result<(), Errno>> = OnceLock::new();
    let r = INSTALLED.get_or_init(|| {
        // SAFETY: a zeroed sigaction is a valid "no handler, empty mask"
        // value; we then fill in the handler and flags.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_alarm as *const () as libc::sighandler_t;
        // SA_SIGINFO for si_value; deliberately no SA_RESTART, so the
        // interrupted syscall returns instead of sleeping again.
        sa.sa_flags = libc::SA_SIGINFO;
        // SAFETY: sa.sa_mask is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&mut sa.sa_mask) };
        // SAFETY: installing an async-signal-safe handler (one atomic
        // store) for SIGALRM with a fully initialised sigaction.
        if unsafe { libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut()) } != 0 {
            return Err(Errno::last());
        }
        // SAFETY: setting SIGPIPE's disposition to SIG_IGN has no memory
        // safety implications; writes without a reader then answer EPIPE.
        if unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) } == libc::SIG_ERR {
            return Err(Errno::last());
        }
        Ok(())
    });
    r.map_err(|e| BackendError(format!("cannot install signal handlers: {e}")))
}

/// A POSIX timer aimed at one thread.
#[derive(Debug)]
struct Timer {
    /// The `timer_t` (an integer handle on Linux), kept as an integer so
    /// the backend stays `Send`.
    id: usize,
    /// The thread it signals.
    tid: libc::pid_t,
}

impl Timer {
    fn handle(&self) -> libc::timer_t {
        self.id as libc::timer_t
    }
}

/// One backend's watchdog: its slot, and a timer aimed at the thread that
/// last made a call.
#[derive(Debug)]
pub(super) struct Watchdog {
    slot: usize,
    timer: Option<Timer>,
    timeout: Duration,
}

impl Watchdog {
    /// Claim a slot and install the process-wide handlers.
    pub(super) fn new(timeout: Duration) -> Result<Self, BackendError> {
        install_handlers()?;
        let slot = IN_USE
            .iter()
            .position(|s| s.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed).is_ok())
            .ok_or_else(|| BackendError(format!("more than {SLOTS} Linux backends at once")))?;
        FIRED[slot].store(false, Ordering::SeqCst);
        Ok(Watchdog { slot, timer: None, timeout })
    }

    /// A timer aimed at the calling thread (re-created if the backend moved
    /// to another thread since the last call).
    fn timer(&mut self) -> Result<libc::timer_t, BackendError> {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        if let Some(t) = &self.timer
            && t.tid == tid
        {
            return Ok(t.handle());
        }
        self.delete_timer();
        // SIGALRM may be blocked in a thread we did not create; the
        // watchdog needs it delivered here.
        // SAFETY: building a one-signal set in a local sigset_t and
        // unblocking it for this thread only.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGALRM);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
        // SAFETY: a zeroed sigevent is valid; the fields we need are set
        // below (the rest of the union stays zero).
        let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
        sev.sigev_notify = libc::SIGEV_THREAD_ID;
        sev.sigev_signo = libc::SIGALRM;
        sev.sigev_notify_thread_id = tid;
        sev.sigev_value = libc::sigval { sival_ptr: (TAG | self.slot) as *mut libc::c_void };
        let mut id: libc::timer_t = std::ptr::null_mut();
        // SAFETY: sev and id are valid for the call; the timer is deleted
        // in delete_timer (Drop at the latest).
        if unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut sev, &mut id) } != 0 {
            return Err(BackendError(format!("timer_create: {}", Errno::last().desc())));
        }
        self.timer = Some(Timer { id: id as usize, tid });
        Ok(id)
    }

    fn set(timer: libc::timer_t, d: Duration) -> Result<(), BackendError> {
        let spec = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(d.subsec_nanos()),
            },
        };
        // SAFETY: timer is a live timer of ours, spec is a valid itimerspec.
        if unsafe { libc::timer_settime(timer, 0, &spec, std::ptr::null_mut()) } != 0 {
            return Err(BackendError(format!("timer_settime: {}", Errno::last().desc())));
        }
        Ok(())
    }

    /// Run `call` (one syscall that may sleep) under the watchdog. Answers
    /// what `call` returned, and whether the timer fired during it (the
    /// call blocked for good).
    pub(super) fn run<T>(&mut self, call: impl FnOnce() -> T) -> Result<(T, bool), BackendError> {
        let timer = self.timer()?;
        FIRED[self.slot].store(false, Ordering::SeqCst);
        // A zero it_value would disarm instead of firing at once.
        Self::set(timer, self.timeout.max(Duration::from_nanos(1)))?;
        let r = call();
        // Disarming: a signal already queued is handled on this syscall's
        // return to user space, before FIRED is read below.
        Self::set(timer, Duration::ZERO)?;
        let fired = FIRED[self.slot].swap(false, Ordering::SeqCst);
        Ok((r, fired))
    }

    /// Delete the timer, if any.
    pub(super) fn delete_timer(&mut self) {
        if let Some(t) = self.timer.take() {
            // SAFETY: t is a live timer of ours, deleted once (taken).
            unsafe { libc::timer_delete(t.handle()) };
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.delete_timer();
        FIRED[self.slot].store(false, Ordering::SeqCst);
        IN_USE[self.slot].store(false, Ordering::Release);
    }
}
