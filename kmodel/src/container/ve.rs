//! A container (OpenVZ's virtual environment, `struct ve_struct`): a PID
//! namespace, a mount namespace, the network endpoints its processes hold,
//! and its beancounters. Several containers share one [`Kernel`].
//!
//! Inside, the first process is PID 1 and its children count on from there
//! (`alloc_pid` in the container's `pid_namespace`); outside, every process
//! keeps its global [`Pid`]. A process belongs to at most one container
//! and its children belong to the same one.

use std::collections::BTreeMap;

use super::beancounter::{Beancounters, Resource};
use crate::kernel::{Errno, FileKind, Kernel, Pid};

/// Identifies a container on its host (`veid`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct VeId(pub u32);

/// One container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// Its name (`container NAME`).
    pub name: String,
    /// Virtual pid → global pid. I.e. the container's PID namespace.
    vpids: BTreeMap<u32, Pid>,
    /// Global pid → virtual pid (the same map, backwards).
    by_pid: BTreeMap<Pid, u32>,
    /// The next virtual pid to hand out (`pid_namespace.last_pid + 1`).
    next_vpid: u32,
    /// The resource counters.
    pub(crate) ub: Beancounters,
}

impl Container {
    /// Its processes: (virtual pid, global pid), in virtual pid order.
    pub fn pids(&self) -> impl Iterator<Item = (u32, Pid)> + '_ {
        self.vpids.iter().map(|(v, p)| (*v, *p))
    }

    /// The global pid of virtual pid `vpid`.
    pub fn find_vpid(&self, vpid: u32) -> Option<Pid> {
        self.vpids.get(&vpid).copied()
    }

    /// The virtual pid of global pid `pid`, if it is inside.
    pub fn vpid_of(&self, pid: Pid) -> Option<u32> {
        self.by_pid.get(&pid).copied()
    }

    /// The counters as of the last charge or refresh.
    pub fn beancounters(&self) -> &Beancounters {
        &self.ub
    }

    fn attach(&mut self, pid: Pid) -> u32 {
        let v = self.next_vpid;
        self.next_vpid += 1;
        self.vpids.insert(v, pid);
        self.by_pid.insert(pid, v);
        v
    }

    /// Put `pid` in at virtual pid `vpid` (a restored or migrated process
    /// keeps the number it had).
    pub(crate) fn attach_at(&mut self, vpid: u32, pid: Pid) {
        self.vpids.insert(vpid, pid);
        self.by_pid.insert(pid, vpid);
        self.next_vpid = self.next_vpid.max(vpid + 1);
    }

    fn detach(&mut self, pid: Pid) {
        if let Some(v) = self.by_pid.remove(&pid) {
            self.vpids.remove(&v);
        }
    }

    /// A container as an image describes it (restore): `vpids` is its
    /// PID namespace, virtual pid → pid.
    pub(crate) fn restored(name: String, vpids: BTreeMap<u32, Pid>, next_vpid: u32, ub: Beancounters) -> Self {
        let by_pid = vpids.iter().map(|(v, p)| (*p, *v)).collect();
        Container { name, vpids, by_pid, next_vpid, ub }
    }

    /// The PID namespace's counter (for a migrated container).
    pub(crate) fn next_vpid(&self) -> u32 {
        self.next_vpid
    }

    pub(crate) fn set_next_vpid(&mut self, v: u32) {
        self.next_vpid = self.next_vpid.max(v);
    }
}

impl Kernel {
    /// Create container `name` with `limits`: its first process is a fork
    /// of the host's init that becomes PID 1 inside, named `init`, with a
    /// private copy of the mount namespace. Answers the container and the
    /// global pid of its init.
    ///
    /// # Errors
    /// `EEXIST` if a container has that name; what fork or unshare answer.
    pub fn create_container(&mut self, name: &str, limits: &[(Resource, u64)]) -> Result<(VeId, Pid), Errno> {
        if self.container_by_name(name).is_some() {
            return Err(Errno::EEXIST);
        }
        let init = self.init_pid();
        let child = self.fork(init)?;
        let ve = VeId(self.fresh_id());
        let mut c = Container {
            name: name.to_owned(),
            vpids: BTreeMap::new(),
            by_pid: BTreeMap::new(),
            next_vpid: 1,
            ub: Beancounters::with_limits(limits),
        };
        c.attach(child);
        self.containers.insert(ve, c);
        self.proc_mut(child)?.ve = Some(ve);
        // The forked init shares the host's descriptors: a container
        // starts with none of its own (as vzctl start execs a fresh init).
        let fds: Vec<_> = self.proc_ref(child)?.fds.iter().map(|(fd, _)| fd).collect();
        for fd in fds {
            let _ = self.close(child, fd);
        }
        self.set_comm(child, "init")?;
        if let Err(e) = self.unshare_mount(child) {
            self.exit(child);
            self.containers.remove(&ve);
            return Err(e);
        }
        self.ub_refresh(ve);
        Ok((ve, child))
    }

    /// The container called `name`.
    pub fn container_by_name(&self, name: &str) -> Option<VeId> {
        self.containers.iter().find(|(_, c)| c.name == name).map(|(id, _)| *id)
    }

    /// Container `ve`.
    pub fn container(&self, ve: VeId) -> Option<&Container> {
        self.containers.get(&ve)
    }

    /// Every container.
    pub fn containers(&self) -> impl Iterator<Item = (VeId, &Container)> + '_ {
        self.containers.iter().map(|(id, c)| (*id, c))
    }

    /// The container process `pid` belongs to.
    pub fn ve_of(&self, pid: Pid) -> Option<VeId> {
        self.procs.get(&pid).and_then(|p| p.ve)
    }

    /// `getpid()` as process `pid` sees it: its virtual pid inside a
    /// container, its global pid outside.
    pub fn getpid(&self, pid: Pid) -> u32 {
        self.ve_of(pid).and_then(|ve| self.containers.get(&ve)?.vpid_of(pid)).unwrap_or(pid.0)
    }

    /// What container `ve` holds of `r` now, counted from its processes.
    pub fn ub_held(&self, ve: VeId, r: Resource) -> u64 {
        let Some(c) = self.containers.get(&ve) else { return 0 };
        let procs = c.vpids.values().filter_map(|p| self.procs.get(p));
        match r {
            Resource::Pages => procs.flat_map(|p| p.mm.values()).map(|b| b.ptes().len() as u64).sum(),
            Resource::Files => procs.map(|p| p.fds.iter().count() as u64).sum(),
            Resource::Pipes => {
                let mut pipes: Vec<_> = procs.flat_map(|p| p.fds.iter().filter_map(|(_, f)| f.pipe())).collect();
                pipes.sort();
                pipes.dedup();
                pipes.iter().filter_map(|id| self.pipes.get(id)).map(|p| u64::from(p.ring_size())).sum()
            }
            Resource::Sockets => {
                let mut socks: Vec<_> = procs
                    .flat_map(|p| {
                        p.fds.iter().filter_map(|(_, f)| matches!(f.kind, FileKind::Socket(_)).then_some(f.kind))
                    })
                    .collect();
                socks.sort_by_key(|k| match k {
                    FileKind::Socket(s) => s.0,
                    _ => 0,
                });
                socks.dedup();
                socks.len() as u64
            }
        }
    }

    /// Container `ve`'s counters with `held` counted now.
    pub fn beancounters(&mut self, ve: VeId) -> Option<Beancounters> {
        self.ub_refresh(ve);
        self.containers.get(&ve).map(|c| c.ub.clone())
    }

    /// Recount what `ve` holds (after a fork, an exit, a close).
    pub(crate) fn ub_refresh(&mut self, ve: VeId) {
        let held: Vec<(Resource, u64)> = Resource::ALL.into_iter().map(|r| (r, self.ub_held(ve, r))).collect();
        if let Some(c) = self.containers.get_mut(&ve) {
            for (r, h) in held {
                c.ub.refresh(r, h);
            }
        }
    }

    /// Charge the caller's container for `wants`, in order (the order
    /// Linux's checks come in): the first resource over its limit counts a
    /// failure and its errno is the answer; nothing is charged unless
    /// everything fits. A process outside every container is never
    /// refused.
    pub(crate) fn ub_charge(&mut self, pid: Pid, wants: &[(Resource, u64)]) -> Result<(), Errno> {
        let Some(ve) = self.ve_of(pid) else { return Ok(()) };
        let held: Vec<u64> = wants.iter().map(|&(r, _)| self.ub_held(ve, r)).collect();
        let c = self.containers.get_mut(&ve).expect("a process's container exists");
        let mut trial = c.ub.clone();
        for (&(r, n), &h) in wants.iter().zip(&held) {
            if let Err(e) = trial.try_charge(r, h, n) {
                // Count the failure on the real counters too.
                let _ = c.ub.try_charge(r, h, n);
                return Err(e);
            }
        }
        c.ub = trial;
        Ok(())
    }

    /// Count a refusal of `r` for the caller's container (an operation
    /// that checks the limit itself and answers its own errno).
    pub(crate) fn ub_fail(&mut self, pid: Pid, r: Resource) {
        if let Some(c) = self.ve_of(pid).and_then(|ve| self.containers.get_mut(&ve)) {
            c.ub.count_failure(r);
        }
    }

    /// Would `n` more of `r` go over the caller's limit?
    pub(crate) fn ub_over(&self, pid: Pid, r: Resource, n: u64) -> bool {
        let Some(ve) = self.ve_of(pid) else { return false };
        let limit = self.containers.get(&ve).map_or(u64::MAX, |c| c.ub.get(r).limit);
        self.ub_held(ve, r).saturating_add(n) > limit
    }

    /// Fork bookkeeping: the child joins its parent's container with the
    /// next virtual pid, and the descriptors it inherited count.
    pub(crate) fn ve_forked(&mut self, parent: Pid, child: Pid) {
        let Some(ve) = self.ve_of(parent) else { return };
        if let Some(c) = self.containers.get_mut(&ve) {
            c.attach(child);
        }
        if let Some(p) = self.procs.get_mut(&child) {
            p.ve = Some(ve);
        }
        self.ub_refresh(ve);
    }

    /// Exit bookkeeping: the process leaves its PID namespace.
    pub(crate) fn ve_exited(&mut self, pid: Pid, ve: Option<VeId>) {
        if let Some(c) = ve.and_then(|ve| self.containers.get_mut(&ve)) {
            c.detach(pid);
        }
    }

    /// Put `pid` into container `ve` at virtual pid `vpid` (restore and
    /// migration).
    pub(crate) fn ve_attach_at(&mut self, ve: VeId, vpid: u32, pid: Pid) -> Result<(), Errno> {
        let c = self.containers.get_mut(&ve).ok_or(Errno::ESRCH)?;
        if c.vpids.contains_key(&vpid) {
            return Err(Errno::EEXIST);
        }
        c.attach_at(vpid, pid);
        self.proc_mut(pid)?.ve = Some(ve);
        Ok(())
    }

    /// Remove container `ve` and every process in it (`vzctl stop`,
    /// or the source side of a migration once the target runs).
    pub fn destroy_container(&mut self, ve: VeId) {
        let pids: Vec<Pid> = self.containers.get(&ve).map(|c| c.vpids.values().copied().collect()).unwrap_or_default();
        for pid in pids {
            self.exit(pid);
        }
        self.containers.remove(&ve);
    }

    /// The containers' half of [`Kernel::check_invariants`]: every process
    /// in a container's PID namespace exists and says it belongs there,
    /// every process that says it belongs to a container is in its
    /// namespace, and virtual pids are unique.
    pub(crate) fn check_container_invariants(&self) -> Result<(), String> {
        for (ve, c) in &self.containers {
            if c.vpids.len() != c.by_pid.len() {
                return Err(format!("container {}: {} vpids but {} pids", c.name, c.vpids.len(), c.by_pid.len()));
            }
            for (v, pid) in &c.vpids {
                if c.by_pid.get(pid) != Some(v) {
                    return Err(format!("container {}: vpid {v} maps to pid {} and back differently", c.name, pid.0));
                }
                if *v >= c.next_vpid {
                    return Err(format!("container {}: vpid {v} at or past next_vpid {}", c.name, c.next_vpid));
                }
                match self.procs.get(pid) {
                    None => return Err(format!("container {}: vpid {v} is pid {} that is gone", c.name, pid.0)),
                    Some(p) if p.ve != Some(*ve) => {
                        return Err(format!("container {}: pid {} does not say it is inside", c.name, pid.0));
                    }
                    Some(_) => {}
                }
            }
        }
        for (pid, p) in &self.procs {
            if let Some(ve) = p.ve
                && self.containers.get(&ve).and_then(|c| c.vpid_of(*pid)).is_none()
            {
                return Err(format!("pid {} says it is in container {} but is not in its namespace", pid.0, ve.0));
            }
        }
        Ok(())
    }
}
