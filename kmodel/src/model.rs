//! The model backend: runs scenario steps on a [`Kernel`].

mod checkpoint;

use std::collections::HashMap;
use std::fmt::Write as _;

use page_refs::{Holder, HolderKind, PAGE_SIZE, Source, Stamp};

use tcp_sim::{Duration, Mode, SockId};

use crate::kernel::{
    BLOCKED, BufferId, Errno, Fcntl, Fd, InodeId, Kernel, KernelConfig, Pid, PipeId, Pte, SendFlags, SpliceFlags,
    UserRange,
};
use crate::lsm::Era;
use crate::scenario::{
    Access, Backend, BackendError, End, Expectation, FcntlCmd, HookEra, ObjKind, Op, Outcome, Range, Scenario, Step,
    StepResult,
};
use crate::vfs::OpenMode;

/// A descriptor number that is never open: operations on a closed name
/// pass it, so the kernel answers exactly as it does for a closed
/// descriptor (`EBADF`, or 0 where Linux looks at the length first).
const CLOSED: Fd = Fd(-1);

/// A mapping id that is never mapped (a buffer whose mmap failed).
const UNMAPPED: BufferId = BufferId(u32::MAX);

/// What a scenario object became in the kernel.
#[derive(Copy, Clone, Debug)]
enum Handle {
    Buffer(BufferId),
    Pipe {
        id: PipeId,
        r: Option<Fd>,
        w: Option<Fd>,
    },
    File {
        ino: InodeId,
        fd: Option<Fd>,
    },
    Tcp {
        tx: Option<Fd>,
        rx: Option<Fd>,
        socks: (SockId, SockId),
    },
    /// Creation failed (or the kind is not modelled yet): every use of the
    /// name answers as for a closed descriptor or an unmapped address.
    Failed,
}

/// Runs scenarios on the model.
#[derive(Clone, Debug)]
pub struct ModelBackend {
    /// Bytes a blocked write already put in its pipe, by step line: when
    /// the write is resumed, it writes the rest and answers the total.
    partial: std::collections::HashMap<usize, usize>,
    /// Bytes a blocked `recv` (MSG_WAITALL) already took, by step line:
    /// when it is resumed, it waits for the rest and answers them all.
    partial_recv: std::collections::HashMap<usize, Vec<u8>>,
    kernel: Kernel,
    pid: Pid,
    handles: Vec<Option<Handle>>,
    /// The scenario's processes by name (`init` is the first).
    processes: HashMap<String, Pid>,
    /// Check the page invariants after every step.
    check_each_step: bool,
    /// Containers and hosts (`container`, `host`, `in`, `migrate`).
    place: Place,
    /// Where `checkpoint FILE` / `restore FILE` resolve relative names.
    checkpoint_dir: std::path::PathBuf,
}

/// Where the scenario's containers run, and the hosts besides the one
/// running now: `ModelBackend::kernel` is always the machine of the
/// current step's context (the scenario's own machine, `local`, outside
/// every `in` block).
#[derive(Clone, Debug, Default)]
struct Place {
    /// Host 0 is `local`; a host's kernel is `None` while it is the
    /// backend's `kernel`.
    hosts: Vec<HostSlot>,
    /// The host whose kernel is `ModelBackend::kernel`.
    current: usize,
    /// The containers by name.
    containers: HashMap<String, Ct>,
    /// The container the current step runs in.
    within: Option<String>,
    /// The process outside containers that ran last.
    outside_pid: Option<Pid>,
    /// The container each object was declared in (by object index).
    owner: HashMap<usize, String>,
}

#[derive(Clone, Debug)]
struct HostSlot {
    name: String,
    uplink: tcp_sim::LinkParams,
    kernel: Option<Kernel>,
}

/// A container of the scenario.
#[derive(Clone, Debug)]
struct Ct {
    host: usize,
    ve: crate::container::VeId,
    /// The process inside that ran last (its init at first).
    pid: Pid,
}

impl ModelBackend {
    /// A fresh kernel with `config`; invariants are checked after every step.
    pub fn new(config: KernelConfig) -> Self {
        Self::with_kernel(Kernel::new(config))
    }

    /// Run on `kernel` (for instance one with security modules registered).
    pub fn with_kernel(kernel: Kernel) -> Self {
        let pid = kernel.init_pid();
        let processes = HashMap::from([("init".to_owned(), pid)]);
        ModelBackend {
            partial: Default::default(),
            partial_recv: Default::default(),
            processes,
            kernel,
            pid,
            handles: Vec::new(),
            check_each_step: true,
            place: Place::default(),
            checkpoint_dir: checkpoint::default_dir(),
        }
    }

    /// Resolve the image files of `checkpoint FILE` and `restore FILE` in
    /// `dir` (the default is a per-process directory under the temporary
    /// directory).
    #[must_use]
    pub fn with_checkpoint_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.checkpoint_dir = dir.into();
        self
    }

    /// A canonical fingerprint of the whole machine as future steps see it
    /// (the kernel's, see `Kernel::fingerprint`, and the backend's own
    /// handles and partial progress), or `None` when it cannot be made.
    pub fn fingerprint(&self) -> Option<u64> {
        // Other hosts' machines are not part of the kernel's fingerprint.
        if !self.place.hosts.is_empty() {
            return None;
        }
        let mut partial: Vec<_> = self.partial.iter().collect();
        partial.sort_unstable();
        let mut recv: Vec<_> = self.partial_recv.iter().collect();
        recv.sort_unstable();
        let mut procs: Vec<_> = self.processes.iter().collect();
        procs.sort_unstable();
        let mut place: Vec<_> = self.place.containers.iter().map(|(n, c)| (n, c.ve, c.pid)).collect();
        place.sort_unstable();
        let mut owner: Vec<_> = self.place.owner.iter().collect();
        owner.sort_unstable();
        let context = (&self.place.within, self.place.outside_pid, place, owner);
        self.kernel.fingerprint(&(partial, recv, &self.handles, self.pid, procs, context))
    }

    /// The kernel, to register security modules or change tunables.
    pub fn kernel_mut(&mut self) -> &mut Kernel {
        &mut self.kernel
    }

    /// The process running now.
    pub fn current(&self) -> Pid {
        self.pid
    }

    /// Turn the per-step invariant check off (benchmarks, long runs).
    #[must_use]
    pub fn without_step_checks(mut self) -> Self {
        self.check_each_step = false;
        self
    }

    /// The kernel, for inspection after a run.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    fn handle(&self, id: crate::scenario::ObjId) -> Handle {
        self.handles.get(id.0).copied().flatten().unwrap_or(Handle::Failed)
    }

    fn fd(&self, fd: crate::scenario::Fd) -> Fd {
        match (self.handle(fd.object), fd.end) {
            (Handle::Pipe { r, .. }, End::Read) => r.unwrap_or(CLOSED),
            (Handle::Pipe { w, .. }, End::Write) => w.unwrap_or(CLOSED),
            (Handle::File { fd, .. }, End::File) => fd.unwrap_or(CLOSED),
            (Handle::Tcp { tx, .. }, End::Tx) => tx.unwrap_or(CLOSED),
            (Handle::Tcp { rx, .. }, End::Rx) => rx.unwrap_or(CLOSED),
            _ => CLOSED,
        }
    }

    /// The endpoint behind a descriptor operand, open or not.
    fn sock_of(&self, fd: crate::scenario::Fd) -> Option<SockId> {
        match (self.handle(fd.object), fd.end) {
            (Handle::Tcp { socks, .. }, End::Tx) => Some(socks.0),
            (Handle::Tcp { socks, .. }, End::Rx) => Some(socks.1),
            _ => None,
        }
    }

    /// `t.tx` / `t.rx`: the scenario's name of an endpoint.
    fn sock_name(&self, scenario: &Scenario, s: SockId) -> String {
        for (i, h) in self.handles.iter().enumerate() {
            if let Some(Handle::Tcp { socks, .. }) = h {
                let end = if socks.0 == s {
                    "tx"
                } else if socks.1 == s {
                    "rx"
                } else {
                    continue;
                };
                return format!("{}.{end}", scenario.objects[i].name);
            }
        }
        format!("socket #{}", s.0)
    }

    /// The iovec for `r`; a buffer whose mmap failed maps nowhere, so the
    /// kernel answers `EFAULT` for a non-empty range of it.
    fn user_range(&self, r: &Range) -> UserRange {
        let buffer = match self.handle(r.buffer) {
            Handle::Buffer(b) => b,
            _ => UNMAPPED,
        };
        UserRange { buffer, start: r.start as usize, len: r.len() as usize }
    }

    /// Run `f` with O_NONBLOCK set on `fds` when `nonblock`, restoring the
    /// previous flags after, as the Linux runner does with F_SETFL.
    fn with_nonblock<T>(&mut self, fds: &[Fd], nonblock: bool, f: impl FnOnce(&mut Kernel, Pid) -> T) -> T {
        let pid = self.pid;
        let mut saved = Vec::new();
        if nonblock {
            for &fd in fds {
                if let Ok(old) = self.kernel.fcntl(pid, fd, Fcntl::GetNonblock) {
                    saved.push((fd, old != 0));
                    let _ = self.kernel.fcntl(pid, fd, Fcntl::SetNonblock(true));
                }
            }
        }
        let out = f(&mut self.kernel, pid);
        // In reverse: a descriptor named twice was saved twice, and its
        // first save holds the flags from before the call.
        for (fd, old) in saved.into_iter().rev() {
            let _ = self.kernel.fcntl(pid, fd, Fcntl::SetNonblock(old));
        }
        out
    }

    fn declare(&mut self, scenario: &Scenario, id: crate::scenario::ObjId) -> Outcome {
        let pid = self.pid;
        let (handle, outcome) = match scenario.object(id).kind {
            ObjKind::Buffer { pages } => match self.kernel.mmap_anon(pid, pages) {
                Ok(b) => (Handle::Buffer(b), Outcome::Ok),
                Err(e) => (Handle::Failed, Outcome::Err(e)),
            },
            ObjKind::Pipe => match self.kernel.pipe2(pid) {
                Ok((r, w)) => {
                    let id = match self.kernel.process(pid).and_then(|p| p.fds.get(r)).map(|f| f.kind) {
                        Some(crate::kernel::FileKind::PipeRead(id)) => id,
                        _ => unreachable!("pipe2 installs a read end"),
                    };
                    (Handle::Pipe { id, r: Some(r), w: Some(w) }, Outcome::Ok)
                }
                Err(e) => (Handle::Failed, Outcome::Err(e)),
            },
            ObjKind::File { pages, byte } => match self.kernel.create_file(pid, pages, byte) {
                Ok(fd) => {
                    let ino = match self.kernel.process(pid).and_then(|p| p.fds.get(fd)).map(|f| f.kind) {
                        Some(crate::kernel::FileKind::Regular(ino)) => ino,
                        _ => unreachable!("create_file installs a regular file"),
                    };
                    (Handle::File { ino, fd: Some(fd) }, Outcome::Ok)
                }
                Err(e) => (Handle::Failed, Outcome::Err(e)),
            },
            ObjKind::Tcp { link } => {
                let mode = link.map_or(Mode::Loopback, Mode::Link);
                match self.kernel.tcp_pair(pid, mode) {
                    Ok((tx, rx)) => {
                        let sock = |fd| match self.kernel.process(pid).and_then(|p| p.fds.get(fd)).map(|f| f.kind) {
                            Some(crate::kernel::FileKind::Socket(s)) => s,
                            _ => unreachable!("tcp_pair installs sockets"),
                        };
                        let socks = (sock(tx), sock(rx));
                        // Declared inside a container: the accepted end
                        // belongs to the host outside (a client of the
                        // container's server), as if passed over a unix
                        // socket (SCM_RIGHTS) and closed inside.
                        let rx = match (self.place.within.is_some(), self.place.outside_pid) {
                            (true, Some(outside)) => self.kernel.pass_fd(pid, rx, outside).ok(),
                            _ => Some(rx),
                        };
                        (Handle::Tcp { tx: Some(tx), rx, socks }, Outcome::Ok)
                    }
                    Err(e) => (Handle::Failed, Outcome::Err(e)),
                }
            }
            // Declared by `open`, which makes its handle itself.
            ObjKind::Opened => (Handle::Failed, Outcome::Err(Errno::EBADF)),
        };
        if self.handles.len() <= id.0 {
            self.handles.resize(id.0 + 1, None);
        }
        self.handles[id.0] = Some(handle);
        outcome
    }

    fn exec(&mut self, scenario: &Scenario, line: usize, op: &Op) -> Result<Outcome, Errno> {
        let pid = self.pid;
        Ok(match op {
            Op::Declare(id) => self.declare(scenario, *id),
            Op::Fill { range, byte } => Outcome::from_unit(self.kernel.user_fill(pid, self.user_range(range), *byte)),
            Op::Write { fd, len, byte, nonblock } => {
                let fd = self.fd(*fd);
                let before = self.partial.remove(&line).unwrap_or(0);
                let len = usize::try_from(*len).unwrap_or(usize::MAX) - before;
                let src = Source::Fill { byte: *byte, len };
                match self.with_nonblock(&[fd], *nonblock, |k, pid| k.write_progress(pid, fd, src)) {
                    Ok(n) => Outcome::Count((before + n) as u64),
                    Err((e, done)) if e == BLOCKED => {
                        self.partial.insert(line, before + done);
                        Outcome::Err(e)
                    }
                    Err((_, _)) if before > 0 => Outcome::Count(before as u64),
                    Err((e, _)) => Outcome::Err(e),
                }
            }
            Op::Read { fd, len, nonblock } => {
                let fd = self.fd(*fd);
                let mut out = Vec::new();
                match self.with_nonblock(&[fd], *nonblock, |k, pid| k.read(pid, fd, *len, &mut out)) {
                    Ok(_) => Outcome::Data(out),
                    Err(e) => Outcome::Err(e),
                }
            }
            Op::Recv { fd, len } => {
                let fd = self.fd(*fd);
                let mut out = self.partial_recv.remove(&line).unwrap_or_default();
                let have = out.len() as u64;
                match self.kernel.recv(pid, fd, len.saturating_sub(have), &mut out) {
                    Ok(_) => Outcome::Data(out),
                    Err(e) if e == BLOCKED => {
                        if !out.is_empty() {
                            self.partial_recv.insert(line, out);
                        }
                        Outcome::Err(e)
                    }
                    Err(_) if have > 0 => Outcome::Data(out),
                    Err(e) => Outcome::Err(e),
                }
            }
            Op::Vmsplice { fd, ranges, gift, nonblock } => {
                let fd = self.fd(*fd);
                let iov: Vec<UserRange> = ranges.iter().map(|r| self.user_range(r)).collect();
                let flags = SpliceFlags { gift: *gift, nonblock: *nonblock, ..SpliceFlags::default() };
                Outcome::from_count(self.with_nonblock(&[fd], *nonblock, |k, pid| k.vmsplice(pid, fd, &iov, flags)))
            }
            Op::Splice { input, output, len, nonblock, mov, more } => {
                let (fi, fo) = (self.fd(input.fd), self.fd(output.fd));
                let (mut oi, mut oo) = (input.offset, output.offset);
                let flags = SpliceFlags { mov: *mov, more: *more, nonblock: *nonblock, gift: false };
                Outcome::from_count(self.with_nonblock(&[fi, fo], *nonblock, |k, pid| {
                    k.splice(pid, fi, oi.as_mut(), fo, oo.as_mut(), *len, flags)
                }))
            }
            Op::Tee { input, output, len, nonblock } => {
                let (fi, fo) = (self.fd(*input), self.fd(*output));
                let flags = SpliceFlags { nonblock: *nonblock, ..SpliceFlags::default() };
                Outcome::from_count(self.with_nonblock(&[fi, fo], *nonblock, |k, pid| k.tee(pid, fi, fo, *len, flags)))
            }
            Op::Sendfile { output, input, len } => {
                let (fo, fi) = (self.fd(*output), self.fd(input.fd));
                let mut off = input.offset;
                Outcome::from_count(self.kernel.sendfile(pid, fo, fi, off.as_mut(), *len))
            }
            Op::Pwrite { fd, offset, len, byte } => {
                let fd = self.fd(*fd);
                let len = usize::try_from(*len).unwrap_or(usize::MAX);
                Outcome::from_count(self.kernel.pwrite(pid, fd, Source::Fill { byte: *byte, len }, *offset))
            }
            Op::Fcntl { fd, cmd } => {
                let fd = self.fd(*fd);
                let cmd = match *cmd {
                    FcntlCmd::GetPipeSz => Fcntl::GetPipeSz,
                    FcntlCmd::SetPipeSz(n) => Fcntl::SetPipeSz(n),
                    FcntlCmd::GetPsz => Fcntl::GetPsz,
                    FcntlCmd::SetPsz(n) => Fcntl::SetPsz(n),
                };
                Outcome::from_count(self.kernel.fcntl(pid, fd, cmd))
            }
            Op::Close { fd: sfd } => {
                let fd = self.fd(*sfd);
                let r = self.kernel.close(pid, fd);
                if r.is_ok() {
                    self.forget(*sfd);
                }
                match r {
                    Ok(_) => Outcome::Ok,
                    Err(e) => Outcome::Err(e),
                }
            }
            Op::Refs { range } => Outcome::Text(self.refs(scenario, range)),
            Op::Expect { what, range } => self.expect(scenario, *what, range),
            // Pages a socket holds are released by the network: let
            // simulated time pass while it can make progress.
            Op::WaitReusable { range } => loop {
                if self.busy_pages(scenario, range).is_empty() {
                    break Outcome::Ok;
                }
                if !self.kernel.run_network_event() {
                    break Outcome::Err(BLOCKED);
                }
            },
            Op::Advance { ns } => {
                crate::container::world::advance(self, Duration(*ns));
                Outcome::Ok
            }
            Op::Checkpoint { file } => self.checkpoint_op(file),
            Op::Restore { file } => self.restore_op(file),
            Op::CheckpointContainer { name, file } => self.checkpoint_container_op(name, file),
            Op::RestoreInto { file, host } => self.restore_into_op(file, host),
            Op::Send { fd, range, zerocopy, more, nonblock } => {
                let fd = self.fd(*fd);
                let r = self.user_range(range);
                let flags = SendFlags { zerocopy: *zerocopy, more: *more, nonblock: *nonblock };
                Outcome::from_count(self.kernel.send(pid, fd, r, flags))
            }
            Op::SetZerocopy { fd } => {
                let fd = self.fd(*fd);
                Outcome::from_count(self.kernel.setsockopt_zerocopy(pid, fd, true)).map_count_to_ok()
            }
            Op::Errqueue { fd } => {
                let fd = self.fd(*fd);
                match self.kernel.recv_errqueue(pid, fd) {
                    Ok(c) => Outcome::Text(crate::scenario::describe_errqueue(
                        crate::scenario::SO_EE_ORIGIN_ZEROCOPY,
                        0,
                        if c.copied { crate::scenario::SO_EE_CODE_ZEROCOPY_COPIED } else { 0 },
                        c.lo,
                        c.hi,
                    )),
                    Err(e) => Outcome::Err(e),
                }
            }
            Op::ExpectIntact { fd } => self.expect_intact(scenario, *fd),
            Op::Mkdir { path, mode } => unit(self.kernel.mkdir(pid, path, *mode)),
            Op::Rmdir { path } => unit(self.kernel.rmdir(pid, path)),
            Op::Create { path } => unit(self.kernel.create(pid, path)),
            Op::Link { old, new } => unit(self.kernel.link(pid, old, new)),
            Op::Symlink { target, new } => unit(self.kernel.symlink(pid, target, new)),
            Op::Rename { old, new } => unit(self.kernel.rename(pid, old, new)),
            Op::Unlink { path } => unit(self.kernel.unlink(pid, path)),
            Op::Open { name, path, access } => self.open(*name, path, *access),
            Op::Stat { path } => match self.kernel.stat(pid, path) {
                Ok(st) => Outcome::Text(st.to_string()),
                Err(e) => Outcome::Err(e),
            },
            Op::Chmod { path, mode } => unit(self.kernel.chmod(pid, path, *mode)),
            Op::Truncate { path, len } => unit(self.kernel.truncate(pid, path, *len)),
            Op::Chown { path, uid, gid } => unit(self.kernel.chown(pid, path, *uid, *gid)),
            Op::Chdir { path } => unit(self.kernel.chdir(pid, path)),
            Op::Bind { src, dst } => unit(self.kernel.bind_mount(pid, src, dst)),
            Op::Unshare => unit(self.kernel.unshare_mount(pid)),
            Op::Chroot { path } => unit(self.kernel.chroot(pid, path)),
            Op::Setuid { uid, gid } => unit(self.kernel.setuid(pid, *uid, *gid)),
            Op::Exec { path } => unit(self.kernel.exec(pid, path)),
            Op::Process { name } => match self.process_by_name(name) {
                Some(p) => {
                    self.pid = p;
                    Outcome::Ok
                }
                None => match self.kernel.fork(pid) {
                    Ok(child) => {
                        // The scenario names the new process's program.
                        let _ = self.kernel.set_comm(child, name);
                        let key = self.process_key(name);
                        self.processes.insert(key, child);
                        self.pid = child;
                        Outcome::Ok
                    }
                    Err(e) => Outcome::Err(e),
                },
            },
            Op::Policy { module, file, text, .. } => unit(self.kernel.load_policy(pid, *module, file, text)),
            Op::Restorecon { path } => unit(self.kernel.restorecon(pid, path)),
            Op::Label { path: Some(path) } => match self.kernel.security_context(pid, Some(path)) {
                Ok(c) => Outcome::Text(c.to_string()),
                Err(e) => Outcome::Err(e),
            },
            Op::Label { path: None } => {
                let mut s = format!("apparmor {}", self.kernel.apparmor_profile(pid));
                if let Ok(c) = self.kernel.security_context(pid, None) {
                    let _ = write!(s, " | selinux {c}");
                }
                let _ = write!(s, " | uid {}", self.kernel.process(pid).map_or(0, |p| p.cred.uid));
                Outcome::Text(s)
            }
            Op::Container { name, limits } => match self.kernel.create_container(name, limits) {
                Ok((ve, init)) => {
                    let host = self.place.current;
                    self.place.containers.insert(name.clone(), Ct { host, ve, pid: init });
                    Outcome::Ok
                }
                Err(e) => Outcome::Err(e),
            },
            Op::Beancounters { name } => match self.container_kernel(name) {
                Some((k, ve)) => match k.beancounters(ve) {
                    Some(b) => Outcome::Text(b.to_string()),
                    None => Outcome::Err(Errno::ESRCH),
                },
                None => Outcome::Err(Errno::ESRCH),
            },
            Op::Ps { name } => match self.container_kernel(name) {
                Some((k, ve)) => {
                    let c = k.container(ve).expect("container exists");
                    let list: Vec<String> = c
                        .pids()
                        .map(|(v, p)| {
                            let comm = k.process(p).map_or("?", |x| x.comm.as_str());
                            format!("{v} {comm} (pid {} outside)", p.0)
                        })
                        .collect();
                    Outcome::Text(list.join("; "))
                }
                None => Outcome::Err(Errno::ESRCH),
            },
            Op::Host { name, link } => {
                self.place.ensure_local();
                let kernel = Kernel::new(*self.kernel.config());
                self.place.hosts.push(HostSlot { name: name.clone(), uplink: *link, kernel: Some(kernel) });
                Outcome::Ok
            }
            Op::Migrate { name, host, strategy, dirty, into } => {
                let into = into.map(|b| match self.handle(b) {
                    Handle::Buffer(b) => b,
                    _ => UNMAPPED,
                });
                self.migrate(name, host, *strategy, *dirty, into)
            }
            Op::Hooks { era } => {
                self.kernel.lsm_mut().set_era(match era {
                    HookEra::Y2006 => Era::Y2006,
                    HookEra::Today => Era::Today,
                });
                Outcome::Ok
            }
            Op::Audit => {
                let lines = self.kernel.lsm_mut().take_new_audit();
                if lines.is_empty() {
                    Outcome::Text("no new audit records".into())
                } else {
                    let n = lines.len();
                    let mut s = format!("{n} record{}", if n == 1 { "" } else { "s" });
                    for l in lines {
                        s.push_str("\n    ");
                        s.push_str(l);
                    }
                    Outcome::Text(s)
                }
            }
        })
    }

    /// `expect intact FD`: the bytes delivered to the endpoint are the
    /// bytes the sending program meant to send.
    fn expect_intact(&self, scenario: &Scenario, fd: crate::scenario::Fd) -> Outcome {
        let name = format!("{}.{}", scenario.name(fd.object), if fd.end == End::Tx { "tx" } else { "rx" });
        let Some(s) = self.sock_of(fd) else {
            return Outcome::Failed(format!("{} is not a tcp endpoint", scenario.name(fd.object)));
        };
        let Some(info) = self.kernel.network().info(s) else {
            return Outcome::Failed(format!("{name} no longer exists"));
        };
        let a = info.altered;
        if a.bytes == 0 {
            Outcome::Ok
        } else {
            Outcome::Failed(format!(
                "{} of the bytes delivered to {name} differ from what the program sent (stream bytes {}..{}): \
                 the page changed after the send, before it was (re)transmitted or read",
                a.bytes, a.first, a.end
            ))
        }
    }

    /// `open NAME PATH MODE`: the name becomes a descriptor (or, if the
    /// open fails, a name every use of which answers `EBADF`).
    fn open(&mut self, name: crate::scenario::ObjId, path: &str, access: Access) -> Outcome {
        let mode = match access {
            Access::Read => OpenMode::Read,
            Access::Write => OpenMode::Write,
            Access::ReadWrite => OpenMode::ReadWrite,
        };
        let (handle, outcome) = match self.kernel.open(self.pid, path, mode) {
            Ok(fd) => {
                let ino = match self.kernel.process(self.pid).and_then(|p| p.fds.get(fd)).map(|f| f.kind) {
                    Some(crate::kernel::FileKind::Regular(ino) | crate::kernel::FileKind::Directory(ino)) => ino,
                    _ => unreachable!("open installs a file or a directory"),
                };
                (Handle::File { ino, fd: Some(fd) }, Outcome::Ok)
            }
            Err(e) => (Handle::Failed, Outcome::Err(e)),
        };
        if self.handles.len() <= name.0 {
            self.handles.resize(name.0 + 1, None);
        }
        self.handles[name.0] = Some(handle);
        outcome
    }

    /// With several security modules stacked, the stack stops at the first
    /// hook that denies, so a later module may never see the check it
    /// would have made. To show every module's own decision side by side,
    /// run the step on a copy of the machine with each module alone.
    fn each_module_alone(&self, scenario: &Scenario, step: &Step) -> Option<Vec<String>> {
        let names = self.kernel.lsm().names();
        if names.len() < 2 || matches!(step.op, Op::Audit | Op::Process { .. } | Op::Label { .. }) {
            return None;
        }
        let mut parts = Vec::new();
        for name in names {
            let mut b = self.clone();
            b.check_each_step = false;
            b.kernel.lsm_mut().keep_only(name);
            b.kernel.lsm_mut().begin_op();
            let _ = b.exec(scenario, step.line, &step.op);
            parts.push(format!("{name} {}", b.kernel.lsm().op_verdict(name).unwrap_or_else(|| "-".into())));
        }
        Some(parts)
    }

    /// After a successful close, the name refers to a closed descriptor.
    fn forget(&mut self, fd: crate::scenario::Fd) {
        if let Some(Some(h)) = self.handles.get_mut(fd.object.0) {
            match (h, fd.end) {
                (Handle::Pipe { r, .. }, End::Read) => *r = None,
                (Handle::Pipe { w, .. }, End::Write) => *w = None,
                (Handle::File { fd, .. }, End::File) => *fd = None,
                (Handle::Tcp { tx, .. }, End::Tx) => *tx = None,
                (Handle::Tcp { rx, .. }, End::Rx) => *rx = None,
                _ => {}
            }
        }
    }

    /// The page table entries of the pages `range` touches.
    fn range_ptes(&self, range: &Range) -> Vec<(usize, Pte)> {
        let r = self.user_range(range);
        let Some((k, pid)) = self.owner_of(range.buffer.0) else { return Vec::new() };
        let Some(buf) = k.process(pid).and_then(|p| p.mm.get(&r.buffer)) else {
            return Vec::new();
        };
        if r.len == 0 {
            return Vec::new();
        }
        let (first, last) = (r.start / PAGE_SIZE, (r.start + r.len - 1) / PAGE_SIZE);
        (first..=last).map(|i| (i, buf.pte(i))).collect()
    }

    /// Name a holder the way the scenario names its objects.
    fn holder_name(&self, scenario: &Scenario, h: Holder) -> String {
        let find = |pred: &dyn Fn(&Handle) -> bool| {
            self.handles
                .iter()
                .position(|x| x.as_ref().is_some_and(pred))
                .map(|i| scenario.objects[i].name.clone())
                .unwrap_or_else(|| format!("#{}", h.object))
        };
        match h.kind {
            HolderKind::User => {
                let name = find(&|x| matches!(x, Handle::Buffer(b) if b.0 == h.object));
                format!("{name} page {} (user)", h.index)
            }
            HolderKind::Pipe => format!("pipe {}", find(&|x| matches!(x, Handle::Pipe { id, .. } if id.0 == h.object))),
            HolderKind::PageCache => {
                let name = find(&|x| matches!(x, Handle::File { ino, .. } if ino.0 == h.object));
                format!("page cache of {name} page {}", h.index)
            }
            HolderKind::Socket => match self.kernel.network().holder_info(h) {
                Some(i) => format!("{} bytes {}..{} {}", self.sock_name(scenario, i.sock), i.start, i.end, i.state),
                None => format!("socket object {} entry {}", h.object, h.index),
            },
            HolderKind::Kernel => "kernel".into(),
        }
    }

    /// The holders of `page`, grouped: `pipe p x2, page cache of f page 0`.
    fn describe_holders(&self, scenario: &Scenario, holders: &[Holder], skip_user: Option<Holder>) -> String {
        let mut names: Vec<(String, usize)> = Vec::new();
        for h in holders {
            if Some(*h) == skip_user || h.kind == HolderKind::Kernel {
                continue;
            }
            let n = self.holder_name(scenario, *h);
            match names.iter_mut().find(|(x, _)| *x == n) {
                Some((_, c)) => *c += 1,
                None => names.push((n, 1)),
            }
        }
        names.into_iter().map(|(n, c)| if c > 1 { format!("{n} x{c}") } else { n }).collect::<Vec<_>>().join(", ")
    }

    fn refs(&self, scenario: &Scenario, range: &Range) -> String {
        let pages = self.owner_of(range.buffer.0).map_or(self.kernel.pages(), |(k, _)| k.pages());
        let name = scenario.name(range.buffer);
        let mut out = String::new();
        for (i, pte) in self.range_ptes(range) {
            if !out.is_empty() {
                out.push_str("; ");
            }
            let _ = write!(out, "{name} page {i}: ");
            match pte {
                Pte::None => out.push_str("untouched (no page)"),
                Pte::Zero => {
                    let others = self.describe_holders(scenario, pages.holders(pages.zero_page()), None);
                    out.push_str("zero page, a write copies it");
                    if !others.is_empty() {
                        let _ = write!(out, " (zero page also in {others})");
                    }
                }
                Pte::Page(p) => {
                    let user = pages.holders(p).iter().copied().find(|h| h.kind == HolderKind::User);
                    let kernel = self.describe_holders(scenario, pages.holders(p), user);
                    let _ = write!(out, "{p}, {} refs: user", pages.refcount(p));
                    if kernel.is_empty() {
                        out.push_str(" only (reusable)");
                    } else {
                        let _ = write!(out, ", {kernel} (busy)");
                    }
                }
            }
        }
        if out.is_empty() { format!("{name}: no pages in range") } else { out }
    }

    /// The kernel holders keeping pages of `range` busy, by run of pages
    /// with the same holders: `buf pages 0-15 are held by pipe log`.
    fn busy_pages(&self, scenario: &Scenario, range: &Range) -> Vec<String> {
        let pages = self.owner_of(range.buffer.0).map_or(self.kernel.pages(), |(k, _)| k.pages());
        let name = scenario.name(range.buffer);
        let mut runs: Vec<(usize, usize, String)> = Vec::new();
        for (i, pte) in self.range_ptes(range) {
            let Pte::Page(p) = pte else { continue };
            if !pages.holders(p).iter().any(Holder::is_kernel) {
                continue;
            }
            let user = pages.holders(p).iter().copied().find(|h| h.kind == HolderKind::User);
            let who = self.describe_holders(scenario, pages.holders(p), user);
            match runs.last_mut() {
                Some((_, last, w)) if *last + 1 == i && *w == who => *last = i,
                _ => runs.push((i, i, who)),
            }
        }
        runs.into_iter()
            .map(|(a, b, who)| {
                if a == b {
                    format!("{name} page {a} is held by {who}")
                } else {
                    format!("{name} pages {a}-{b} are held by {who}")
                }
            })
            .collect()
    }

    fn expect(&self, scenario: &Scenario, what: Expectation, range: &Range) -> Outcome {
        let busy = self.busy_pages(scenario, range);
        match what {
            Expectation::Reusable if busy.is_empty() => Outcome::Ok,
            Expectation::Reusable => Outcome::Failed(busy.join("; ")),
            Expectation::Busy if !busy.is_empty() => Outcome::Ok,
            Expectation::Busy => Outcome::Failed(format!(
                "no kernel object holds any page of {}[{}..{}]",
                scenario.name(range.buffer),
                range.start,
                range.end
            )),
        }
    }
}

impl Backend for ModelBackend {
    fn name(&self) -> &'static str {
        "model"
    }

    fn step(&mut self, scenario: &Scenario, step: &Step) -> Result<StepResult, BackendError> {
        self.enter(step.within.as_deref());
        if let Op::Declare(id) | Op::Open { name: id, .. } = step.op
            && let Some(c) = &step.within
        {
            self.place.owner.insert(id.0, c.clone());
        }
        self.kernel.set_stamp(Stamp { step: step.line as u32, time_ns: 0 });
        let alone = self.each_module_alone(scenario, step);
        self.kernel.lsm_mut().begin_op();
        let mut outcome = match self.exec(scenario, step.line, &step.op) {
            Ok(o) => o,
            Err(e) => Outcome::Err(e),
        };
        // A call waiting for an event of another host's endpoint: run it
        // there, and try again.
        while outcome == Outcome::Err(BLOCKED) && crate::container::world::step_other(self) {
            outcome = match self.exec(scenario, step.line, &step.op) {
                Ok(o) => o,
                Err(e) => Outcome::Err(e),
            };
        }
        let summary = match alone {
            Some(mut parts) if self.kernel.lsm().op_summary().is_some() => {
                let (r, w) = self.kernel.lsm().op_cost();
                if r > 0 {
                    parts.push(format!("names built {r} ({w} dentries)"));
                }
                Some(parts.join(" | "))
            }
            _ => self.kernel.lsm().op_summary(),
        };
        let outcome = match summary {
            Some(modules) if !matches!(step.op, Op::Audit) => Outcome::Decided(Box::new(outcome), modules),
            _ => outcome,
        };
        if self.check_each_step {
            self.kernel
                .check_invariants()
                .map_err(|e| BackendError(format!("{}:{}: after this step: {e}", scenario.path, step.line)))?;
        }
        // Between steps the backend is on the scenario's own machine, outside
        // every container: `kernel()` is always that machine's (its page log
        // is the one timelines read), and the next step enters its own
        // context again.
        self.enter(None);
        Ok(match outcome {
            Outcome::Err(e) if e == BLOCKED => StepResult::Blocked,
            Outcome::Decided(o, _) if *o == Outcome::Err(BLOCKED) => StepResult::Blocked,
            o => StepResult::Done(o),
        })
    }

    fn supports_threads(&self) -> bool {
        true
    }

    fn finish(&mut self) -> Result<(), BackendError> {
        crate::container::world::teardown_all(self).map_err(|(h, e)| match h {
            0 => BackendError(format!("at teardown: {e}")),
            h => BackendError(format!("at teardown of host {}: {e}", self.place.hosts[h].name)),
        })
    }
}

/// The outcome of a syscall that answers 0 on success.
fn unit(r: Result<usize, Errno>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(e) => Outcome::Err(e),
    }
}

/// Pages of one buffer that share a state (the quiz's answers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    /// The buffer's name.
    pub buffer: String,
    /// First page of the run.
    pub first: usize,
    /// Last page of the run (inclusive).
    pub last: usize,
    /// Who holds these pages: `user only`, `user + pipe p`, `untouched`...
    pub state: String,
    /// Whether a kernel object holds them.
    pub busy: bool,
}

impl ModelBackend {
    /// The state of every page of every buffer, runs of equal state merged.
    pub fn lanes(&self, scenario: &Scenario) -> Vec<Lane> {
        let mut lanes: Vec<Lane> = Vec::new();
        for (idx, obj) in scenario.objects.iter().enumerate() {
            let Handle::Buffer(b) = self.handle(crate::scenario::ObjId(idx)) else { continue };
            let Some((k, pid)) = self.owner_of(idx) else { continue };
            let pages = k.pages();
            let Some(buf) = k.process(pid).and_then(|p| p.mm.get(&b)) else { continue };
            for (i, pte) in buf.ptes().iter().enumerate() {
                let (state, busy) = match *pte {
                    Pte::None => ("untouched".to_string(), false),
                    Pte::Zero => ("zero page (a write copies it)".to_string(), false),
                    Pte::Page(p) => {
                        let user = pages.holders(p).iter().copied().find(|h| h.kind == HolderKind::User);
                        let kernel = self.describe_holders(scenario, pages.holders(p), user);
                        if kernel.is_empty() {
                            ("user only".to_string(), false)
                        } else {
                            (format!("user + {kernel}"), true)
                        }
                    }
                };
                match lanes.last_mut() {
                    Some(l) if l.buffer == obj.name && l.state == state && l.last + 1 == i => l.last = i,
                    _ => lanes.push(Lane { buffer: obj.name.clone(), first: i, last: i, state, busy }),
                }
            }
        }
        lanes
    }

    /// If `op` stores into user memory that a kernel object still holds,
    /// say which pages and who holds them: the hazard of the 2006 debate.
    pub fn hazard(&self, scenario: &Scenario, op: &Op) -> Option<String> {
        let ranges: Vec<&Range> = match op {
            Op::Fill { range, .. } => vec![range],
            Op::Vmsplice { fd, ranges, .. } if fd.end == End::Read => ranges.iter().collect(),
            _ => return None,
        };
        let busy: Vec<String> = ranges.iter().flat_map(|r| self.busy_pages(scenario, r)).collect();
        if busy.is_empty() { None } else { Some(busy.join("; ")) }
    }
}

impl ModelBackend {
    /// The mapping id of each of the scenario's buffers that was mapped, by
    /// name: the `object` of its pages' [`Holder::user`] references.
    pub fn buffer_ids(&self, scenario: &Scenario) -> Vec<(String, u32)> {
        (0..scenario.objects.len())
            .filter(|&i| self.host_of_object(i) == self.place.current)
            .filter_map(|i| match self.handle(crate::scenario::ObjId(i)) {
                Handle::Buffer(b) if b != UNMAPPED => Some((scenario.objects[i].name.clone(), b.0)),
                _ => None,
            })
            .collect()
    }
}

impl ModelBackend {
    /// What each of the scenario's pipes holds, slot by slot from the
    /// tail: `pipe p: 2 slots, 4196 bytes: [4096 bytes of buf page 0:
    /// 'A'x4096] [100 bytes: 'x'x100]` (a slot names the user page it
    /// holds; pages the pipe or a file owns are shown by their bytes).
    pub fn pipe_contents(&self, scenario: &Scenario) -> Vec<String> {
        let pages = self.kernel.pages();
        let buffers = self.buffer_ids(scenario);
        let mut out = Vec::new();
        for i in 0..scenario.objects.len() {
            let Handle::Pipe { id, .. } = self.handle(crate::scenario::ObjId(i)) else { continue };
            let name = &scenario.objects[i].name;
            let Some(pipe) = self.kernel.pipe(id) else {
                out.push(format!("pipe {name}: closed"));
                continue;
            };
            let slots = pipe.occupancy();
            let mut line =
                format!("pipe {name}: {slots} slot{}, {} bytes", if slots == 1 { "" } else { "s" }, pipe.len_bytes());
            // Consecutive slots that read alike are shown once, with a count.
            let mut shown: Vec<(String, usize)> = Vec::new();
            for b in pipe.buffers() {
                let mut bytes = Vec::new();
                pages.read_into(b.page, b.offset as usize, b.len as usize, &mut bytes);
                let mut runs = String::new();
                crate::scenario::write_runs(&mut runs, &bytes);
                let user = pages.holders(b.page).iter().find(|h| h.kind == HolderKind::User).and_then(|h| {
                    buffers.iter().find(|(_, id)| *id == h.object).map(|(n, _)| format!(" of {n} page {}", h.index))
                });
                let of = if b.page == pages.zero_page() {
                    " of the zero page".to_string()
                } else {
                    user.unwrap_or_default()
                };
                let slot = format!("[{} bytes{of}: {runs}]", b.len);
                match shown.last_mut() {
                    Some((last, n)) if *last == slot => *n += 1,
                    _ => shown.push((slot, 1)),
                }
            }
            for (slot, n) in shown {
                let _ = if n > 1 { write!(line, " {slot} x{n}") } else { write!(line, " {slot}") };
            }
            out.push(line);
        }
        out
    }
}

impl ModelBackend {
    /// Bytes a write at `line` has put in its pipe (or a `recv` has taken
    /// from its socket) so far while it waits to go on (0 when none is
    /// waiting).
    pub fn partial_progress(&self, line: usize) -> usize {
        self.partial.get(&line).copied().unwrap_or(0) + self.partial_recv.get(&line).map_or(0, Vec::len)
    }
}

impl Place {
    /// Host 0, `local`, exists once any host is declared.
    fn ensure_local(&mut self) {
        if self.hosts.is_empty() {
            // The scenario's machine: the path to a host is that host's link.
            let uplink = tcp_sim::LinkParams { rtt: Duration(0), bandwidth: 0, ..tcp_sim::LinkParams::default() };
            self.hosts.push(HostSlot { name: "local".into(), uplink, kernel: None });
        }
    }

    fn host_index(&self, name: &str) -> Option<usize> {
        if name == "local" {
            return Some(0);
        }
        self.hosts.iter().position(|h| h.name == name)
    }
}

impl ModelBackend {
    /// Make the backend's kernel and current process those of `within`
    /// (a container, or the scenario's machine outside every container).
    fn enter(&mut self, within: Option<&str>) {
        if self.place.within.as_deref() == within {
            return;
        }
        match self.place.within.take() {
            None => self.place.outside_pid = Some(self.pid),
            Some(c) => {
                if let Some(ct) = self.place.containers.get_mut(&c) {
                    ct.pid = self.pid;
                }
            }
        }
        let (host, pid) = match within {
            None => (0, self.place.outside_pid.unwrap_or(self.pid)),
            Some(c) => match self.place.containers.get(c) {
                Some(ct) => (ct.host, ct.pid),
                // Its creation failed: every call answers ESRCH.
                None => (self.place.current, Pid(u32::MAX)),
            },
        };
        self.switch_host(host);
        self.pid = pid;
        self.place.within = within.map(str::to_owned);
    }

    /// `process NAME`'s key: inside a container, its processes have their
    /// own names (`init` is the container's first process).
    fn process_key(&self, name: &str) -> String {
        match &self.place.within {
            Some(c) => format!("{c}/{name}"),
            None => name.to_owned(),
        }
    }

    fn process_by_name(&self, name: &str) -> Option<Pid> {
        if let (Some(c), "init") = (&self.place.within, name) {
            let ct = self.place.containers.get(c)?;
            let k =
                if ct.host == self.place.current { &self.kernel } else { self.place.hosts[ct.host].kernel.as_ref()? };
            return k.container(ct.ve)?.find_vpid(1);
        }
        self.processes.get(&self.process_key(name)).copied()
    }

    /// Make host `i`'s kernel the backend's (the network goes with it).
    fn switch_host(&mut self, i: usize) {
        if i == self.place.current {
            return;
        }
        let mut k = self.place.hosts[i].kernel.take().expect("a host that is not current keeps its kernel");
        crate::container::world::hand_over(&mut self.kernel, &mut k, i);
        let old = std::mem::replace(&mut self.kernel, k);
        self.place.hosts[self.place.current].kernel = Some(old);
        self.place.current = i;
    }

    /// The kernel container `name` runs on, and its id there.
    fn container_kernel(&mut self, name: &str) -> Option<(&mut Kernel, crate::container::VeId)> {
        let ct = self.place.containers.get(name)?.clone();
        let k =
            if ct.host == self.place.current { &mut self.kernel } else { self.place.hosts[ct.host].kernel.as_mut()? };
        Some((k, ct.ve))
    }

    /// The host object `obj` lives on: its container's, or the scenario's
    /// own machine.
    fn host_of_object(&self, obj: usize) -> usize {
        self.place.owner.get(&obj).and_then(|c| self.place.containers.get(c)).map_or(0, |ct| ct.host)
    }

    /// The kernel and process whose memory object `obj` is, now: its
    /// container's current process on that container's host, or the
    /// current process outside containers on the scenario's machine.
    fn owner_of(&self, obj: usize) -> Option<(&Kernel, Pid)> {
        match self.place.owner.get(&obj) {
            None => {
                let pid = if self.place.within.is_none() { self.pid } else { self.place.outside_pid? };
                Some((self.kernel_of(0), pid))
            }
            Some(c) => {
                let ct = self.place.containers.get(c)?;
                let pid = if self.place.within.as_deref() == Some(c.as_str()) { self.pid } else { ct.pid };
                Some((self.kernel_of(ct.host), pid))
            }
        }
    }

    /// Host `i`'s kernel, current or parked.
    fn kernel_of(&self, i: usize) -> &Kernel {
        if i == self.place.current { &self.kernel } else { self.place.hosts[i].kernel.as_ref().expect("parked host") }
    }

    /// `migrate NAME to HOST STRATEGY dirty=N`: the report, or why not.
    fn migrate(
        &mut self,
        name: &str,
        host: &str,
        strategy: crate::container::Strategy,
        dirty: u64,
        into: Option<BufferId>,
    ) -> Outcome {
        use crate::container::migrate::{Dirtier, MigrateError, MigrationConfig};
        self.place.ensure_local();
        let (Some(ct), Some(to)) = (self.place.containers.get(name).cloned(), self.place.host_index(host)) else {
            return Outcome::Err(Errno::ESRCH);
        };
        if ct.host == to {
            return Outcome::Text(format!("refused: {name} already runs on {host}"));
        }
        let path = crate::container::world::path(self.place.hosts[ct.host].uplink, self.place.hosts[to].uplink);
        let mut load = Dirtier::new(dirty);
        if let Some(b) = into {
            let src = self.kernel_of(ct.host);
            let owner = src.container(ct.ve).and_then(|c| {
                c.pids().map(|(_, p)| p).find(|p| src.process(*p).is_some_and(|x| x.mm.contains_key(&b)))
            });
            match owner {
                Some(pid) => load = load.into_buffer(src, ct.ve, pid, b),
                None => return Outcome::Text(format!("refused: the load's buffer is not {name}'s memory")),
            }
        }
        let moved =
            crate::container::world::migrate(self, ct.host, ct.ve, to, path, MigrationConfig::new(strategy), &mut load);
        match moved {
            Err(e @ MigrateError::Broken(_)) => Outcome::Failed(e.to_string()),
            Err(e) => Outcome::Text(format!("refused: {e}")),
            Ok(moved) => {
                let (m, dropped) = (moved.migrated, moved.dropped_while_frozen);
                let pid = m.pids.get(&ct.pid).copied().unwrap_or(Pid(u32::MAX));
                self.place.containers.insert(name.to_owned(), Ct { host: to, ve: m.ve, pid });
                for (i, h) in self.handles.iter_mut().enumerate() {
                    if self.place.owner.get(&i).map(String::as_str) != Some(name) {
                        continue;
                    }
                    match h {
                        Some(Handle::Buffer(b)) => {
                            if let Some(nb) = m.maps.get(b) {
                                *b = *nb;
                            }
                        }
                        Some(Handle::Pipe { id, .. }) => {
                            if let Some(n) = m.pipes.get(id) {
                                *id = *n;
                            }
                        }
                        Some(Handle::File { ino, .. }) => {
                            if let Some(n) = m.inodes.get(ino) {
                                *ino = *n;
                            }
                        }
                        _ => {}
                    }
                }
                let prefix = format!("{name}/");
                for (key, p) in self.processes.iter_mut() {
                    if let (true, Some(np)) = (key.starts_with(&prefix), m.pids.get(p)) {
                        *p = *np;
                    }
                }
                let mut text = m.report.to_string();
                if !m.sockets.is_empty() {
                    let n = m.sockets.len();
                    let _ = write!(
                        text,
                        "; {n} TCP endpoint{} moved, {dropped} packet{} dropped while frozen",
                        if n == 1 { "" } else { "s" },
                        if dropped == 1 { "" } else { "s" }
                    );
                }
                Outcome::Text(text)
            }
        }
    }

    /// Hosts `a` and `b`'s kernels, mutably (`a != b`).
    fn two_kernels(&mut self, a: usize, b: usize) -> (&mut Kernel, &mut Kernel) {
        let cur = self.place.current;
        let hosts = &mut self.place.hosts;
        if a == cur {
            (&mut self.kernel, hosts[b].kernel.as_mut().expect("parked host"))
        } else if b == cur {
            (hosts[a].kernel.as_mut().expect("parked host"), &mut self.kernel)
        } else {
            let (lo, hi) = (a.min(b), a.max(b));
            let (x, y) = hosts.split_at_mut(hi);
            let (p, q) = (x[lo].kernel.as_mut().expect("parked host"), y[0].kernel.as_mut().expect("parked host"));
            if a < b { (p, q) } else { (q, p) }
        }
    }
}

impl crate::container::world::Hosts for ModelBackend {
    fn host_count(&self) -> usize {
        self.place.hosts.len().max(1)
    }

    fn current_host(&self) -> usize {
        self.place.current
    }

    fn switch_host(&mut self, h: usize) {
        ModelBackend::switch_host(self, h);
    }

    fn current_kernel(&mut self) -> &mut Kernel {
        &mut self.kernel
    }

    fn two_kernels(&mut self, a: usize, b: usize) -> (&mut Kernel, &mut Kernel) {
        ModelBackend::two_kernels(self, a, b)
    }
}

/// What a page reference is, in the scenario's names: for the renderers
/// (`render/`), which draw one row per kind of holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HolderLabel {
    /// The scenario object (`buf`, `p`, `f`, `t.tx`), or `#N` if none.
    pub object: String,
    /// A page index (user mapping, page cache), else `None`.
    pub page: Option<u32>,
    /// The whole description, as `refs` prints it.
    pub text: String,
}

impl ModelBackend {
    /// Name `h` as the scenario names its objects (socket states are read
    /// from the network now, so call it while the reference is held).
    pub fn holder_label(&self, scenario: &Scenario, h: Holder) -> HolderLabel {
        let find = |pred: &dyn Fn(&Handle) -> bool| {
            self.handles
                .iter()
                .position(|x| x.as_ref().is_some_and(pred))
                .map(|i| scenario.objects[i].name.clone())
                .unwrap_or_else(|| format!("#{}", h.object))
        };
        let (object, page) = match h.kind {
            HolderKind::User => (find(&|x| matches!(x, Handle::Buffer(b) if b.0 == h.object)), Some(h.index)),
            HolderKind::Pipe => (find(&|x| matches!(x, Handle::Pipe { id, .. } if id.0 == h.object)), None),
            HolderKind::PageCache => {
                (find(&|x| matches!(x, Handle::File { ino, .. } if ino.0 == h.object)), Some(h.index))
            }
            HolderKind::Socket => (self.sock_name(scenario, SockId::from_object(h.object).0), None),
            HolderKind::Kernel => ("kernel".into(), None),
        };
        HolderLabel { object, page, text: self.holder_name(scenario, h) }
    }
}
