//! Resource limits in the spirit of OpenVZ's user beancounters
//! (`kernel/ub/`, `/proc/user_beancounters`): per container and per
//! resource, what it holds now, the most it ever held, its limit, and how
//! many times an operation was refused for going over it.
//!
//! A refused operation answers the errno Linux (or OpenVZ) answers for that
//! resource:
//!
//! | resource | counts | refused operation | errno | origin |
//! |---|---|---|---|---|
//! | `pages` | pages of anonymous mappings | `mmap` | `ENOMEM` | `privvmpages`, charged at mmap (`ub_memory_charge`); `security_vm_enough_memory` |
//! | `pipes` | pipe buffers (ring slots) | `pipe2`, `F_SETPIPE_SZ` growth | `ENFILE`, `EPERM` | fs/pipe.c: `alloc_pipe_info` over `pipe-user-pages-hard` returns NULL and `create_pipe_files` answers `-ENFILE`; `pipe_set_size` answers `-EPERM` |
//! | `sockets` | TCP endpoints | `socket` (a `tcp` pair) | `ENOMEM` | `numtcpsock`: `__sock_charge` returns `-ENOMEM` (kernel/ub/ub_net.c) |
//! | `files` | open descriptors | `open`, `pipe2`, `socket`, a new file | `EMFILE` | `RLIMIT_NOFILE`: `get_unused_fd_flags` answers `-EMFILE` |
//!
//! `held` is not a separate running total that could drift: it is counted
//! from the container's processes when asked ([`crate::kernel::Kernel`]'s
//! `ub_held`), so what the counters say is always what the container owns.

use std::fmt;

use crate::kernel::Errno;

/// A resource a container is charged for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// Pages of anonymous memory mapped (OpenVZ's `privvmpages`).
    Pages,
    /// Pipe buffers: ring slots of the pipes its processes have open
    /// (Linux's `pipe-user-pages`).
    Pipes,
    /// TCP endpoints (OpenVZ's `numtcpsock`).
    Sockets,
    /// Open descriptors (`RLIMIT_NOFILE`, OpenVZ's `numfile`).
    Files,
}

impl Resource {
    /// Every resource, in the order `/proc/user_beancounters`-style output
    /// lists them.
    pub const ALL: [Resource; 4] = [Resource::Pages, Resource::Pipes, Resource::Sockets, Resource::Files];

    /// The name a scenario uses (`container c pages=16`).
    pub fn name(self) -> &'static str {
        match self {
            Resource::Pages => "pages",
            Resource::Pipes => "pipes",
            Resource::Sockets => "sockets",
            Resource::Files => "files",
        }
    }

    /// The resource named `name`.
    pub fn from_name(name: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.name() == name)
    }

    /// What an operation that would go over the limit answers (see the
    /// module's table; `pipe_set_size` answers `EPERM` instead, see
    /// [`Beancounters::try_charge`]'s callers).
    pub fn errno(self) -> Errno {
        match self {
            Resource::Pages => Errno::ENOMEM,
            Resource::Pipes => Errno::ENFILE,
            Resource::Sockets => Errno::ENOMEM,
            Resource::Files => Errno::EMFILE,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One line of `/proc/user_beancounters`: `held maxheld barrier limit
/// failcnt` (barrier = limit here: the model's limits are hard).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BeanCounter {
    /// Held when last charged or refreshed.
    pub held: u64,
    /// The most ever held.
    pub maxheld: u64,
    /// The limit; `u64::MAX` for none.
    pub limit: u64,
    /// Operations refused for going over the limit.
    pub failcnt: u64,
}

impl Default for BeanCounter {
    fn default() -> Self {
        BeanCounter { held: 0, maxheld: 0, limit: UNLIMITED, failcnt: 0 }
    }
}

/// No limit.
pub const UNLIMITED: u64 = u64::MAX;

/// A container's counters, one per [`Resource`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Beancounters {
    counters: [BeanCounter; 4],
}

impl Beancounters {
    /// Counters with `limits` (resources not named are unlimited).
    pub fn with_limits(limits: &[(Resource, u64)]) -> Self {
        let mut b = Beancounters::default();
        for &(r, l) in limits {
            b.counters[r.index()].limit = l;
        }
        b
    }

    /// Counters as saved (restore), in [`Resource::ALL`] order.
    pub fn from_counters(counters: [BeanCounter; 4]) -> Self {
        Beancounters { counters }
    }

    /// The counter of `r`.
    pub fn get(&self, r: Resource) -> BeanCounter {
        self.counters[r.index()]
    }

    /// Charge `n` more of `r` to a container that holds `held` now
    /// (`charge_beancounter(ub, res, n, UB_HARD)`): over the limit, count
    /// the failure and answer the resource's errno; otherwise note the new
    /// maximum.
    ///
    /// # Errors
    /// [`Resource::errno`] when `held + n` exceeds the limit.
    pub fn try_charge(&mut self, r: Resource, held: u64, n: u64) -> Result<(), Errno> {
        let c = &mut self.counters[r.index()];
        let want = held.saturating_add(n);
        if want > c.limit {
            c.held = held;
            c.maxheld = c.maxheld.max(held);
            c.failcnt += 1;
            return Err(r.errno());
        }
        c.held = want;
        c.maxheld = c.maxheld.max(want);
        Ok(())
    }

    /// Record that the container holds `held` of `r` now (after a fork
    /// copied descriptors, an exit, a close).
    pub fn refresh(&mut self, r: Resource, held: u64) {
        let c = &mut self.counters[r.index()];
        c.held = held;
        c.maxheld = c.maxheld.max(held);
    }

    /// Count one refusal of `r` without a charge (`F_SETPIPE_SZ` growth
    /// over the limit answers `EPERM` itself).
    pub fn count_failure(&mut self, r: Resource) {
        self.counters[r.index()].failcnt += 1;
    }
}

impl fmt::Display for Beancounters {
    /// `pages held 3 maxheld 4 limit 4 failcnt 1; pipes ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in Resource::ALL.into_iter().enumerate() {
            let c = self.get(r);
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{} held {} maxheld {} limit ", r.name(), c.held, c.maxheld)?;
            if c.limit == UNLIMITED {
                f.write_str("unlimited")?;
            } else {
                write!(f, "{}", c.limit)?;
            }
            write!(f, " failcnt {}", c.failcnt)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charge_within_limit_raises_maxheld() {
        let mut b = Beancounters::with_limits(&[(Resource::Pages, 8)]);
        b.try_charge(Resource::Pages, 0, 5).unwrap();
        b.try_charge(Resource::Pages, 5, 3).unwrap();
        let c = b.get(Resource::Pages);
        assert_eq!((c.held, c.maxheld, c.limit, c.failcnt), (8, 8, 8, 0));
    }

    #[test]
    fn charge_over_limit_counts_failure_and_answers_errno() {
        let mut b = Beancounters::with_limits(&[(Resource::Files, 4), (Resource::Pipes, 16)]);
        assert_eq!(b.try_charge(Resource::Files, 3, 2), Err(Errno::EMFILE));
        assert_eq!(b.try_charge(Resource::Pipes, 16, 16), Err(Errno::ENFILE));
        assert_eq!(b.get(Resource::Files).failcnt, 1);
        assert_eq!(b.get(Resource::Files).held, 3);
        assert_eq!(b.get(Resource::Pipes).failcnt, 1);
        assert_eq!(b.get(Resource::Sockets).failcnt, 0);
    }

    #[test]
    fn unlimited_resource_never_fails() {
        let mut b = Beancounters::default();
        b.try_charge(Resource::Sockets, u64::MAX - 1, 10).unwrap();
        assert_eq!(b.get(Resource::Sockets).failcnt, 0);
    }

    #[test]
    fn display_lists_every_resource() {
        let mut b = Beancounters::with_limits(&[(Resource::Pages, 4)]);
        let _ = b.try_charge(Resource::Pages, 4, 1);
        assert_eq!(
            b.to_string(),
            "pages held 4 maxheld 4 limit 4 failcnt 1; pipes held 0 maxheld 0 limit unlimited failcnt 0; \
             sockets held 0 maxheld 0 limit unlimited failcnt 0; files held 0 maxheld 0 limit unlimited failcnt 0"
        );
    }
}
