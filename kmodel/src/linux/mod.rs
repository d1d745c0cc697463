//! The host-kernel backend: `kmodel run --on linux`.
//!
//! Every scenario operation is exactly one real syscall on the host kernel,
//! as the contract (`shared/spec/scenario-format.md`) lists them; the kernel's
//! answer is reported as is. Nothing here second-guesses the kernel's
//! argument checks: a closed name is passed as descriptor `-1` (which the
//! kernel answers `EBADF` to, in its own order of checks), never
//! short-circuited.
//!
//! Operations that can sleep run under a [`watchdog`]: if the call is still
//! asleep after [`LinuxOptions::block_timeout`], it is interrupted and the
//! step reports [`StepResult::Blocked`].

mod memory;
mod objects;
mod vfs;
mod watchdog;

#[cfg(test)]
mod probe;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::Duration;

use memory::{Mapping, Source};
use objects::{BufState, TempDir};
use watchdog::Watchdog;

use crate::kernel::{Errno, MAX_RW_COUNT};
use crate::scenario::{
    Access, Backend, BackendError, End, FcntlCmd, Fd, FdArg, ObjId, ObjKind, Op, Outcome, Range, Scenario, Step,
    StepResult,
};

/// How the host backend runs.
#[derive(Clone, Debug)]
pub struct LinuxOptions {
    /// How long a call may sleep before it counts as blocked for good
    /// (the contract says 10 s).
    pub block_timeout: Duration,
    /// Where the run's temporary directory is created; `None`: `/dev/shm`
    /// (tmpfs) if it is a directory, else the system's temporary directory.
    pub tmp_parent: Option<PathBuf>,
}

impl Default for LinuxOptions {
    fn default() -> Self {
        LinuxOptions { block_timeout: Duration::from_secs(10), tmp_parent: None }
    }
}

/// An address no user pointer can have (the top of the kernel half): the
/// memory behind a buffer whose `mmap` failed, so the kernel answers
/// `EFAULT` as it would for any unmapped user memory.
const NO_MEMORY: usize = 0xffff_ffff_ffff_0000;

/// The host kernel as a scenario [`Backend`].
#[derive(Debug)]
pub struct LinuxBackend {
    options: LinuxOptions,
    /// Open descriptors by (object, end). A closed end (or one whose object
    /// failed to be created) is absent and is passed to the kernel as `-1`,
    /// so a descriptor number the kernel reuses is never touched.
    fds: HashMap<(ObjId, End), OwnedFd>,
    /// Buffers' memory.
    buffers: HashMap<ObjId, BufState>,
    /// The source bytes of the last write/pwrite, kept for the next one.
    source: Option<Source>,
    /// Created at the first `file` or name operation.
    tmp: Option<TempDir>,
    /// The worker rooted in the scenario's `/`, started at the first name
    /// operation.
    fs: Option<vfs::Worker>,
    watchdog: Watchdog,
}

/// What a syscall under the watchdog did: `None` if it blocked.
type Call = Option<Result<usize, Errno>>;

impl LinuxBackend {
    /// A backend with nothing created yet. Installs the process-wide
    /// `SIGALRM` handler of the watchdog and ignores `SIGPIPE`.
    ///
    /// # Errors
    /// The host refused the signal handlers or too many backends exist.
    pub fn new(options: LinuxOptions) -> Result<Self, BackendError> {
        let watchdog = Watchdog::new(options.block_timeout)?;
        Ok(LinuxBackend {
            options,
            fds: HashMap::new(),
            buffers: HashMap::new(),
            source: None,
            tmp: None,
            fs: None,
            watchdog,
        })
    }

    /// The descriptor number to pass for `fd`: `-1` if it is closed.
    fn raw(&self, fd: Fd) -> RawFd {
        self.fds.get(&(fd.object, fd.end)).map_or(-1, AsRawFd::as_raw_fd)
    }

    /// Run `f` (one syscall answering a count or -1 with errno) under the
    /// watchdog, with `O_NONBLOCK` set on `nonblock` for the call.
    fn call(&mut self, nonblock: &[RawFd], f: impl FnOnce() -> isize) -> Result<Call, BackendError> {
        let guard = NonblockGuard::set(nonblock);
        let (r, fired) = self.watchdog.run(|| {
            let n = f();
            // errno is read before anything else can change it.
            usize::try_from(n).map_err(|_| Errno::last())
        })?;
        drop(guard);
        Ok(if fired { None } else { Some(r) })
    }

    /// The `iovec` of a buffer range.
    fn iovec(&self, r: &Range) -> Result<libc::iovec, BackendError> {
        let bad = || BackendError(format!("range {}..{} outside buffer #{}", r.start, r.end, r.buffer.0));
        if r.start > r.end {
            return Err(bad());
        }
        let len = usize::try_from(r.end - r.start).map_err(|_| bad())?;
        let base = match self.buffers.get(&r.buffer) {
            Some(BufState::Mapped(m)) => {
                let start = usize::try_from(r.start).map_err(|_| bad())?;
                if start.checked_add(len).is_none_or(|e| e > m.len()) {
                    return Err(bad());
                }
                // SAFETY: start + len <= m.len(): inside the mapping.
                unsafe { m.ptr().add(start) }.cast()
            }
            // No memory behind the name: an empty range is a null iovec (the
            // kernel skips it), any other points at memory the kernel
            // refuses.
            _ if len == 0 => std::ptr::null_mut(),
            Some(BufState::Failed) | None => NO_MEMORY as *mut libc::c_void,
        };
        Ok(libc::iovec { iov_base: base, iov_len: len })
    }

    /// Source memory holding `len` bytes of `byte` (`len` > 0).
    fn source(&mut self, byte: u8, len: usize) -> Result<*const u8, BackendError> {
        if let Some(s) = &self.source
            && s.serves(byte, len)
        {
            return Ok(s.ptr());
        }
        self.source = None;
        let s =
            Source::new(byte, len).map_err(|e| BackendError(format!("cannot map {len} source bytes: {}", e.desc())))?;
        Ok(self.source.insert(s).ptr())
    }

    /// The run's temporary directory, created if needed.
    fn tmp_dir(&mut self) -> Result<&std::path::Path, BackendError> {
        if self.tmp.is_none() {
            self.tmp = Some(TempDir::new(self.options.tmp_parent.as_deref())?);
        }
        self.tmp.as_ref().map(TempDir::path).ok_or_else(|| BackendError("no temporary directory".into()))
    }

    /// Run `f` on the worker rooted in the scenario's `/`.
    fn in_root<R: Send + 'static>(&mut self, f: impl FnOnce() -> R + Send + 'static) -> Result<R, BackendError> {
        if self.fs.is_none() {
            let root = vfs::root_dir(self.tmp_dir()?)?;
            self.fs = Some(vfs::Worker::new(&root)?);
        }
        self.fs.as_ref().ok_or_else(|| BackendError("no filesystem worker".into()))?.run(f)
    }

    /// A name operation answering nothing on success.
    fn name_op(&mut self, f: impl FnOnce() -> Result<(), Errno> + Send + 'static) -> Result<StepResult, BackendError> {
        Ok(StepResult::Done(Outcome::from_unit(self.in_root(f)?)))
    }

    fn declare(&mut self, scenario: &Scenario, id: ObjId) -> Result<StepResult, BackendError> {
        let obj = scenario.objects.get(id.0).ok_or_else(|| BackendError(format!("no object #{}", id.0)))?;
        let r = match obj.kind {
            ObjKind::Buffer { pages } => {
                let (state, r) = objects::buffer(pages);
                self.buffers.insert(id, state);
                r
            }
            ObjKind::Pipe => objects::pipe().map(|(r, w)| {
                self.fds.insert((id, End::Read), r);
                self.fds.insert((id, End::Write), w);
            }),
            // A simulated link is model-only: `step` skips its declaration.
            ObjKind::Tcp { .. } => objects::tcp().map(|(tx, rx)| {
                self.fds.insert((id, End::Tx), tx);
                self.fds.insert((id, End::Rx), rx);
            }),
            // Declared by `open`, which runs the call itself.
            ObjKind::Opened => Err(Errno::EBADF),
            ObjKind::File { pages, byte } => {
                let dir = self.tmp_dir()?;
                // The parser only allows [a-z][a-z0-9_]* names; keep any
                // other (hand-built) name from escaping the directory.
                let safe: String =
                    obj.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
                let name = format!("{}-{safe}", id.0);
                objects::file(dir, &name, pages, byte).map(|f| {
                    self.fds.insert((id, End::File), f);
                })
            }
        };
        Ok(StepResult::Done(Outcome::from_unit(r)))
    }

    fn fill(&mut self, range: &Range, byte: u8) -> Result<StepResult, BackendError> {
        let outcome = match self.buffers.get_mut(&range.buffer) {
            _ if range.is_empty() => Outcome::Ok,
            Some(BufState::Mapped(m)) => {
                let start = usize::try_from(range.start).unwrap_or(usize::MAX);
                let end = usize::try_from(range.end).unwrap_or(usize::MAX);
                m.fill(start, end, byte).ok_or_else(|| {
                    BackendError(format!("range {}..{} outside buffer #{}", range.start, range.end, range.buffer.0))
                })?;
                Outcome::Ok
            }
            // A C program storing into memory it failed to map would fault.
            Some(BufState::Failed) | None => Outcome::Err(Errno::EFAULT),
        };
        Ok(StepResult::Done(outcome))
    }

    fn write(&mut self, fd: Fd, len: u64, byte: u8, nonblock: bool) -> Result<Call, BackendError> {
        let fd = self.raw(fd);
        let n = clamp(len);
        let src =
            if n == 0 { std::ptr::NonNull::<u8>::dangling().as_ptr().cast_const() } else { self.source(byte, n)? };
        let nb = if nonblock { vec![fd] } else { vec![] };
        self.call(&nb, || {
            // SAFETY: src points to n readable bytes (or n is 0).
            unsafe { libc::write(fd, src.cast(), n) }
        })
    }

    fn pwrite(&mut self, fd: Fd, off: u64, len: u64, byte: u8) -> Result<Call, BackendError> {
        let fd = self.raw(fd);
        let n = clamp(len);
        let src =
            if n == 0 { std::ptr::NonNull::<u8>::dangling().as_ptr().cast_const() } else { self.source(byte, n)? };
        // The contract's numbers stop at 2^63-1; a larger (hand-built) one
        // wraps negative and the kernel answers EINVAL.
        let off = off as libc::off_t;
        self.call(&[], || {
            // SAFETY: src points to n readable bytes (or n is 0).
            unsafe { libc::pwrite(fd, src.cast(), n, off) }
        })
    }

    /// `read` or `recv(MSG_WAITALL)` into fresh scratch memory.
    fn read(&mut self, fd: Fd, len: u64, nonblock: bool, recv: bool) -> Result<StepResult, BackendError> {
        let fd = self.raw(fd);
        let n = clamp(len);
        // Untouched pages of the scratch cost nothing.
        let scratch = if n == 0 {
            None
        } else {
            Some(
                Mapping::anonymous(n, true)
                    .map_err(|e| BackendError(format!("cannot map {n} bytes to read into: {}", e.desc())))?,
            )
        };
        let dst: *mut u8 = scratch.as_ref().map_or(std::ptr::NonNull::dangling().as_ptr(), Mapping::ptr);
        let nb = if nonblock { vec![fd] } else { vec![] };
        let r = self.call(&nb, || {
            if recv {
                // SAFETY: dst points to n writable bytes of our scratch
                // mapping (or n is 0).
                unsafe { libc::recv(fd, dst.cast(), n, libc::MSG_WAITALL) }
            } else {
                // SAFETY: as above.
                unsafe { libc::read(fd, dst.cast(), n) }
            }
        })?;
        Ok(match r {
            None => StepResult::Blocked,
            Some(Err(e)) => StepResult::Done(Outcome::Err(e)),
            Some(Ok(0)) => StepResult::Done(Outcome::Data(Vec::new())),
            Some(Ok(k)) => {
                let data = scratch
                    .as_ref()
                    .and_then(|s| s.copy_prefix(k))
                    .ok_or_else(|| BackendError(format!("cannot allocate {k} bytes read")))?;
                StepResult::Done(Outcome::Data(data))
            }
        })
    }

    fn vmsplice(&mut self, fd: Fd, ranges: &[Range], gift: bool, nonblock: bool) -> Result<Call, BackendError> {
        let fd = self.raw(fd);
        let iov = ranges.iter().map(|r| self.iovec(r)).collect::<Result<Vec<_>, _>>()?;
        let mut flags = 0;
        if gift {
            flags |= libc::SPLICE_F_GIFT;
        }
        let nb = if nonblock {
            flags |= libc::SPLICE_F_NONBLOCK;
            vec![fd]
        } else {
            vec![]
        };
        self.call(&nb, || {
            // SAFETY: iov is a live array of iov.len() iovecs, each pointing
            // into a buffer mapping of ours (or at memory the kernel will
            // refuse with EFAULT).
            unsafe { libc::vmsplice(fd, iov.as_ptr(), iov.len(), flags) }
        })
    }

    fn splice(
        &mut self,
        input: FdArg,
        output: FdArg,
        len: u64,
        nonblock: bool,
        mov: bool,
        more: bool,
    ) -> Result<Call, BackendError> {
        let (fd_in, fd_out) = (self.raw(input.fd), self.raw(output.fd));
        let mut off_in = input.offset.map(|o| o as libc::loff_t);
        let mut off_out = output.offset.map(|o| o as libc::loff_t);
        let p_in = off_in.as_mut().map_or(std::ptr::null_mut(), std::ptr::from_mut);
        let p_out = off_out.as_mut().map_or(std::ptr::null_mut(), std::ptr::from_mut);
        let mut flags = 0;
        if mov {
            flags |= libc::SPLICE_F_MOVE;
        }
        if more {
            flags |= libc::SPLICE_F_MORE;
        }
        let nb = if nonblock {
            flags |= libc::SPLICE_F_NONBLOCK;
            vec![fd_in, fd_out]
        } else {
            vec![]
        };
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.call(&nb, || {
            // SAFETY: p_in/p_out are null or point to live loff_t locals.
            unsafe { libc::splice(fd_in, p_in, fd_out, p_out, len, flags) }
        })
    }

    fn tee(&mut self, input: Fd, output: Fd, len: u64, nonblock: bool) -> Result<Call, BackendError> {
        let (fd_in, fd_out) = (self.raw(input), self.raw(output));
        let (flags, nb) = if nonblock { (libc::SPLICE_F_NONBLOCK, vec![fd_in, fd_out]) } else { (0, vec![]) };
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.call(&nb, || {
            // SAFETY: tee takes no pointers.
            unsafe { libc::tee(fd_in, fd_out, len, flags) }
        })
    }

    fn sendfile(&mut self, output: Fd, input: FdArg, len: u64) -> Result<Call, BackendError> {
        let (fd_out, fd_in) = (self.raw(output), self.raw(input.fd));
        let mut off = input.offset.map(|o| o as libc::off_t);
        let p = off.as_mut().map_or(std::ptr::null_mut(), std::ptr::from_mut);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.call(&[], || {
            // SAFETY: p is null or points to a live off_t local.
            unsafe { libc::sendfile(fd_out, fd_in, p, len) }
        })
    }

    /// One `send(2)` of a buffer range with `MSG_ZEROCOPY`, `MSG_MORE`,
    /// `MSG_DONTWAIT` as asked.
    fn send(
        &mut self,
        fd: Fd,
        range: &Range,
        zerocopy: bool,
        more: bool,
        nonblock: bool,
    ) -> Result<Call, BackendError> {
        let fd = self.raw(fd);
        let iov = self.iovec(range)?;
        let mut flags = 0;
        if zerocopy {
            flags |= libc::MSG_ZEROCOPY;
        }
        if more {
            flags |= libc::MSG_MORE;
        }
        if nonblock {
            flags |= libc::MSG_DONTWAIT;
        }
        self.call(&[], || {
            // SAFETY: iov points into a buffer mapping of ours (or at memory
            // the kernel refuses with EFAULT), iov_len bytes long.
            unsafe { libc::send(fd, iov.iov_base, iov.iov_len, flags) }
        })
    }

    /// `setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)`.
    fn set_zerocopy(&mut self, fd: Fd) -> Outcome {
        let fd = self.raw(fd);
        let one: libc::c_int = 1;
        // SAFETY: a valid int option value of its size.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ZEROCOPY,
                std::ptr::from_ref(&one).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r < 0 { Outcome::Err(Errno::last()) } else { Outcome::Ok }
    }

    /// One `recvmsg(MSG_ERRQUEUE)`: a zerocopy completion as
    /// `zerocopy [LO,HI]` (plus ` copied` for `SO_EE_CODE_ZEROCOPY_COPIED`).
    fn errqueue(&mut self, fd: Fd) -> Outcome {
        let fd = self.raw(fd);
        // Room for one cmsg carrying a sock_extended_err and an address.
        let mut control = [0u64; 16];
        // SAFETY: a zeroed msghdr is valid; the fields are set below.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: msg points at our control buffer of msg_controllen bytes;
        // no iovec (the error queue's payload is not wanted).
        let r = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
        if r < 0 {
            return Outcome::Err(Errno::last());
        }
        // SAFETY: CMSG_FIRSTHDR/CMSG_NXTHDR walk the control buffer the
        // kernel filled, within msg_controllen.
        let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        while !cmsg.is_null() {
            // SAFETY: cmsg points at a header inside the control buffer.
            let h = unsafe { &*cmsg };
            let recverr = (h.cmsg_level == libc::SOL_IP && h.cmsg_type == libc::IP_RECVERR)
                || (h.cmsg_level == libc::SOL_IPV6 && h.cmsg_type == libc::IPV6_RECVERR);
            if recverr {
                // SAFETY: IP_RECVERR data is a struct sock_extended_err.
                let ee = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::sock_extended_err>()) };
                return Outcome::Text(crate::scenario::describe_errqueue(
                    ee.ee_origin,
                    ee.ee_errno,
                    ee.ee_code,
                    ee.ee_info,
                    ee.ee_data,
                ));
            }
            // SAFETY: as above.
            cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
        }
        Outcome::Text("no notification".into())
    }

    fn fcntl(&mut self, fd: Fd, cmd: FcntlCmd) -> Outcome {
        let fd = self.raw(fd);
        let r = match cmd {
            // SAFETY: F_GETPIPE_SZ takes no argument.
            FcntlCmd::GetPipeSz => unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) },
            // The full 64-bit value, as a C program passing an unsigned
            // long would: the kernel does its own truncation.
            // SAFETY: F_SETPIPE_SZ takes an integer argument.
            FcntlCmd::SetPipeSz(n) => unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, n as libc::c_ulong) },
            // Model-only; never reaches here (see step).
            FcntlCmd::GetPsz | FcntlCmd::SetPsz(_) => return Outcome::Skip,
        };
        if r < 0 { Outcome::Err(Errno::last()) } else { Outcome::Count(r as u64) }
    }

    fn close(&mut self, fd: Fd) -> Outcome {
        // Forgotten even if close fails: Linux frees the descriptor anyway.
        let raw = self.fds.remove(&(fd.object, fd.end)).map_or(-1, IntoRawFd::into_raw_fd);
        // SAFETY: raw is -1 or a descriptor we owned and now give up.
        if unsafe { libc::close(raw) } == 0 { Outcome::Ok } else { Outcome::Err(Errno::last()) }
    }

    /// Close every descriptor, unmap every buffer, remove the temporary
    /// directory.
    fn teardown(&mut self) -> Result<(), BackendError> {
        self.fds.clear();
        self.buffers.clear();
        self.source = None;
        self.watchdog.delete_timer();
        self.fs = None;
        match self.tmp.take() {
            Some(t) => t.remove(),
            None => Ok(()),
        }
    }
}

/// A scenario length as a syscall count: the kernel moves at most
/// `MAX_RW_COUNT` bytes per read or write anyway.
fn clamp(len: u64) -> usize {
    usize::try_from(len.min(MAX_RW_COUNT)).unwrap_or(0)
}

/// The outcome of a count-answering call.
fn counted(c: Call) -> StepResult {
    match c {
        None => StepResult::Blocked,
        Some(r) => StepResult::Done(Outcome::from_count(r)),
    }
}

impl Backend for LinuxBackend {
    fn name(&self) -> &'static str {
        "linux"
    }

    fn step(&mut self, scenario: &Scenario, step: &Step) -> Result<StepResult, BackendError> {
        if scenario.is_model_only(step) {
            return Ok(StepResult::Done(Outcome::Skip));
        }
        Ok(match &step.op {
            Op::Declare(id) => return self.declare(scenario, *id),
            Op::Fill { range, byte } => return self.fill(range, *byte),
            Op::Write { fd, len, byte, nonblock } => counted(self.write(*fd, *len, *byte, *nonblock)?),
            Op::Read { fd, len, nonblock } => return self.read(*fd, *len, *nonblock, false),
            Op::Recv { fd, len } => return self.read(*fd, *len, false, true),
            Op::Vmsplice { fd, ranges, gift, nonblock } => counted(self.vmsplice(*fd, ranges, *gift, *nonblock)?),
            Op::Splice { input, output, len, nonblock, mov, more } => {
                counted(self.splice(*input, *output, *len, *nonblock, *mov, *more)?)
            }
            Op::Tee { input, output, len, nonblock } => counted(self.tee(*input, *output, *len, *nonblock)?),
            Op::Sendfile { output, input, len } => counted(self.sendfile(*output, *input, *len)?),
            Op::Pwrite { fd, offset, len, byte } => counted(self.pwrite(*fd, *offset, *len, *byte)?),
            Op::Fcntl { fd, cmd } => StepResult::Done(self.fcntl(*fd, *cmd)),
            Op::Close { fd } => StepResult::Done(self.close(*fd)),
            Op::Send { fd, range, zerocopy, more, nonblock } => {
                counted(self.send(*fd, range, *zerocopy, *more, *nonblock)?)
            }
            Op::SetZerocopy { fd } => StepResult::Done(self.set_zerocopy(*fd)),
            Op::Errqueue { fd } => StepResult::Done(self.errqueue(*fd)),
            Op::Mkdir { path, mode } => {
                let (path, mode) = (path.clone(), *mode);
                return self.name_op(move || vfs::mkdir(&path, mode));
            }
            Op::Rmdir { path } => {
                let path = path.clone();
                return self.name_op(move || vfs::rmdir(&path));
            }
            Op::Create { path } => {
                let path = path.clone();
                return self.name_op(move || vfs::create(&path));
            }
            Op::Unlink { path } => {
                let path = path.clone();
                return self.name_op(move || vfs::unlink(&path));
            }
            Op::Link { old: a, new: b } | Op::Symlink { target: a, new: b } | Op::Rename { old: a, new: b } => {
                let call = match &step.op {
                    Op::Link { .. } => "link",
                    Op::Symlink { .. } => "symlink",
                    _ => "rename",
                };
                let (a, b) = (a.clone(), b.clone());
                return self.name_op(move || vfs::two(call, &a, &b));
            }
            Op::Chmod { path, mode } => {
                let (path, mode) = (path.clone(), *mode);
                return self.name_op(move || vfs::chmod(&path, mode));
            }
            Op::Truncate { path, len } => {
                let (path, len) = (path.clone(), *len);
                return self.name_op(move || vfs::truncate(&path, len));
            }
            Op::Chown { path, uid, gid } => {
                let (path, uid, gid) = (path.clone(), *uid, *gid);
                return self.name_op(move || vfs::chown(&path, uid, gid));
            }
            Op::Stat { path } => {
                let path = path.clone();
                StepResult::Done(match self.in_root(move || vfs::stat(&path))? {
                    Ok(s) => Outcome::Text(s),
                    Err(e) => Outcome::Err(e),
                })
            }
            Op::Open { name, path, access } => {
                let flags = match access {
                    Access::Read => libc::O_RDONLY,
                    Access::Write => libc::O_WRONLY,
                    Access::ReadWrite => libc::O_RDWR,
                };
                let path = path.clone();
                match self.in_root(move || vfs::open(&path, flags))? {
                    Ok(fd) => {
                        self.fds.insert((*name, End::File), fd);
                        StepResult::Done(Outcome::Ok)
                    }
                    Err(e) => StepResult::Done(Outcome::Err(e)),
                }
            }
            Op::Chdir { path } => {
                let path = path.clone();
                return self.name_op(move || vfs::chdir(&path));
            }
            Op::Chroot { path } => {
                let path = path.clone();
                return self.name_op(move || vfs::chroot(&path));
            }
            Op::Bind { src, dst } => {
                let (src, dst) = (src.clone(), dst.clone());
                return self.name_op(move || vfs::bind(&src, &dst));
            }
            Op::Unshare => return self.name_op(vfs::unshare_mount),
            Op::Setuid { uid, gid } => {
                let (uid, gid) = (*uid, *gid);
                return self.name_op(move || vfs::setuid(uid, gid));
            }
            Op::Refs { .. }
            | Op::Expect { .. }
            | Op::ExpectIntact { .. }
            | Op::WaitReusable { .. }
            | Op::Advance { .. }
            | Op::Checkpoint { .. }
            | Op::Restore { .. }
            | Op::CheckpointContainer { .. }
            | Op::RestoreInto { .. }
            | Op::Process { .. }
            | Op::Exec { .. }
            | Op::Hooks { .. }
            | Op::Audit
            | Op::Policy { .. }
            | Op::Restorecon { .. }
            | Op::Label { .. }
            | Op::Container { .. }
            | Op::Beancounters { .. }
            | Op::Ps { .. }
            | Op::Host { .. }
            | Op::Migrate { .. } => StepResult::Done(Outcome::Skip),
        })
    }

    fn finish(&mut self) -> Result<(), BackendError> {
        self.teardown()
    }
}

impl Drop for LinuxBackend {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}

/// `O_NONBLOCK` set on some descriptors for one call; the previous flags
/// come back on drop (in reverse order, so a descriptor listed twice ends
/// with its original flags).
struct NonblockGuard {
    saved: Vec<(RawFd, libc::c_int)>,
}

impl NonblockGuard {
    fn set(fds: &[RawFd]) -> Self {
        let mut saved = Vec::new();
        for &fd in fds {
            if fd < 0 {
                continue;
            }
            // SAFETY: F_GETFL on a descriptor we own.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
            if flags < 0 {
                continue;
            }
            // SAFETY: F_SETFL with an int argument on a descriptor we own.
            unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) };
            saved.push((fd, flags));
        }
        NonblockGuard { saved }
    }
}

impl Drop for NonblockGuard {
    fn drop(&mut self) {
        for &(fd, flags) in self.saved.iter().rev() {
            // SAFETY: F_SETFL with an int argument on a descriptor we own.
            unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
        }
    }
}
