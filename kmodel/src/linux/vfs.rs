//! The scenario's filesystem on the host: a directory of the run's
//! temporary directory serves as `/`, and every name operation runs on a
//! worker thread that has its own root there.
//!
//! The worker calls `unshare(CLONE_FS | CLONE_NEWNS)` (so its root, working
//! directory, umask and mounts are its own, not the process's), makes every
//! mount private (nothing it mounts propagates to the host), bind-mounts the
//! scenario's root on itself and makes it the root of its namespace
//! (`pivot_root(".", ".")`, then detaching the old root), `chdir("/")` and
//! sets umask 022. The scenario's `/` is then a namespace root as in the
//! model: `..` stops there even from a working directory left outside a
//! later chroot. The scenario's
//! `chdir`, `chroot`, `bind`, `unshare mount` and `setuid` then run on it
//! for real (`setuid` with the raw syscalls, which change this thread's
//! credentials only). Absolute paths, absolute symlink
//! targets and `..` then resolve inside the run's root exactly as the host
//! kernel resolves them for a chrooted process, with the host's own errno
//! in the host's own order. Descriptors it opens belong to the whole
//! process, so the main thread reads and writes them like any other.

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::kernel::Errno;
use crate::scenario::BackendError;

type Job = Box<dyn FnOnce() + Send>;

/// The thread that runs name operations inside the scenario's root.
#[derive(Debug)]
pub(super) struct Worker {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Start a worker rooted at `root` (which must exist).
    pub(super) fn new(root: &Path) -> Result<Self, BackendError> {
        let root = cstring(&root.to_string_lossy());
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let thread = std::thread::Builder::new()
            .name("kmodel-vfs".into())
            .spawn(move || {
                let setup = (|| {
                    // SAFETY: unshare of CLONE_FS and CLONE_NEWNS only affects
                    // this thread's fs_struct and mount namespace.
                    if unsafe { libc::unshare(libc::CLONE_FS | libc::CLONE_NEWNS) } != 0 {
                        return Err(format!("unshare(CLONE_NEWNS) (needs CAP_SYS_ADMIN): {}", Errno::last().desc()));
                    }
                    // SAFETY: NUL-terminated literal paths, null data.
                    let r = unsafe {
                        libc::mount(
                            c"none".as_ptr(),
                            c"/".as_ptr(),
                            std::ptr::null(),
                            libc::MS_REC | libc::MS_PRIVATE,
                            std::ptr::null(),
                        )
                    };
                    if r != 0 {
                        return Err(format!("making mounts private: {}", Errno::last().desc()));
                    }
                    let step = |what: &str, r: libc::c_long| {
                        if r == 0 { Ok(()) } else { Err(format!("{what}: {}", Errno::last().desc())) }
                    };
                    // SAFETY: NUL-terminated paths, no type or data.
                    step("bind-mounting the root on itself", unsafe {
                        libc::c_long::from(libc::mount(
                            root.as_ptr(),
                            root.as_ptr(),
                            std::ptr::null(),
                            libc::MS_BIND,
                            std::ptr::null(),
                        ))
                    })?;
                    // SAFETY: a NUL-terminated path.
                    step("chdir to the root", unsafe { libc::c_long::from(libc::chdir(root.as_ptr())) })?;
                    // SAFETY: pivot_root(".", "."): the old root is stacked on
                    // the new one, in this thread's private namespace.
                    step("pivot_root", unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) })?;
                    // SAFETY: detach the old root, now on top of the new one.
                    step("detaching the old root", unsafe {
                        libc::c_long::from(libc::umount2(c".".as_ptr(), libc::MNT_DETACH))
                    })?;
                    // SAFETY: a NUL-terminated literal path.
                    step("chdir /", unsafe { libc::c_long::from(libc::chdir(c"/".as_ptr())) })?;
                    // SAFETY: umask cannot fail.
                    unsafe { libc::umask(0o022) };
                    Ok(())
                })();
                let ok = setup.is_ok();
                let _ = ready_tx.send(setup);
                if ok {
                    for job in rx {
                        job();
                    }
                }
            })
            .map_err(|e| BackendError(format!("cannot start the filesystem worker: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Worker { jobs: Some(jobs), thread: Some(thread) }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(BackendError(format!("cannot root the scenario's filesystem: {e}")))
            }
            Err(_) => Err(BackendError("the filesystem worker died while starting".into())),
        }
    }

    /// Run `f` on the worker and wait for its answer.
    pub(super) fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> Result<R, BackendError> {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs
            .as_ref()
            .ok_or_else(|| BackendError("the filesystem worker is gone".into()))?
            .send(job)
            .map_err(|_| BackendError("the filesystem worker is gone".into()))?;
        rx.recv().map_err(|_| BackendError("the filesystem worker died".into()))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A path as C sees it: up to its first NUL byte.
pub(super) fn cstring(path: &str) -> CString {
    let bytes: Vec<u8> = path.bytes().take_while(|&b| b != 0).collect();
    CString::new(bytes).unwrap_or_default()
}

/// `0` or the errno of a libc call answering -1.
fn check(r: libc::c_int) -> Result<(), Errno> {
    if r == 0 { Ok(()) } else { Err(Errno::last()) }
}

/// `mkdir(path, mode)`.
pub(super) fn mkdir(path: &str, mode: u32) -> Result<(), Errno> {
    let p = cstring(path);
    // SAFETY: p is NUL-terminated.
    check(unsafe { libc::mkdir(p.as_ptr(), mode) })
}

/// `rmdir(path)`.
pub(super) fn rmdir(path: &str) -> Result<(), Errno> {
    let p = cstring(path);
    // SAFETY: p is NUL-terminated.
    check(unsafe { libc::rmdir(p.as_ptr()) })
}

/// `mknod(path, S_IFREG | 0666, 0)`.
pub(super) fn create(path: &str) -> Result<(), Errno> {
    let p = cstring(path);
    // SAFETY: p is NUL-terminated.
    check(unsafe { libc::mknod(p.as_ptr(), libc::S_IFREG | 0o666, 0) })
}

/// `link`, `symlink` or `rename` of two paths.
pub(super) fn two(call: &str, a: &str, b: &str) -> Result<(), Errno> {
    let (a, b) = (cstring(a), cstring(b));
    // SAFETY: a and b are NUL-terminated.
    check(unsafe {
        match call {
            "link" => libc::link(a.as_ptr(), b.as_ptr()),
            "symlink" => libc::symlink(a.as_ptr(), b.as_ptr()),
            _ => libc::rename(a.as_ptr(), b.as_ptr()),
        }
    })
}

/// `unlink(path)`.
pub(super) fn unlink(path: &str) -> Result<(), Errno> {
    let p = cstring(path);
    // SAFETY: p is NUL-terminated.
    check(unsafe { libc::unlink(p.as_ptr()) })
}

/// `truncate(path, len)` (a length past 2^63-1 wraps negative: `EINVAL`).
pub(super) fn truncate(path: &str, len: u64) -> Result<(), Errno> {
    let p = cstring(path);
    // SAFETY: p is NUL-terminated.
    check(unsafe { libc::truncate(p.as_ptr(), len as libc::off_t) })
}

/// `chdir(path)`.
pub(super) fn chdir(path: &str) -> Result<(), Errno> {
    let p = cstring(path);
    // SAFETY: p is NUL-terminated; this thread's cwd is its own.
    check(unsafe { libc::chdir(p.as_ptr()) })
}

/// `chroot(path)`.
pub(super) fn chroot(path: &str) -> Result<(), Errno> {
    let p = cstring(path);
    // SAFETY: p is NUL-terminated; this thread's root is its own.
    check(unsafe { libc::chroot(p.as_ptr()) })
}

/// `mount(src, dst, NULL, MS_BIND, NULL)`, in this thread's namespace.
pub(super) fn bind(src: &str, dst: &str) -> Result<(), Errno> {
    let (s, d) = (cstring(src), cstring(dst));
    // SAFETY: s and d are NUL-terminated; no filesystem type or data.
    check(unsafe { libc::mount(s.as_ptr(), d.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()) })
}

/// `unshare(CLONE_NEWNS)`.
pub(super) fn unshare_mount() -> Result<(), Errno> {
    // SAFETY: only this thread's mount namespace changes.
    check(unsafe { libc::unshare(libc::CLONE_NEWNS) })
}

/// `setgroups(0, NULL)` (if root), `setresgid`, `setresuid`: the raw
/// syscalls, which change this thread's credentials only (glibc's wrappers
/// would change every thread's).
pub(super) fn setuid(uid: u32, gid: u32) -> Result<(), Errno> {
    let raw = |r: libc::c_long| if r == 0 { Ok(()) } else { Err(Errno::last()) };
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        // SAFETY: an empty group list.
        raw(unsafe { libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) })?;
    }
    // SAFETY: plain integer arguments.
    raw(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })?;
    // SAFETY: plain integer arguments.
    raw(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) })
}

/// `chmod(path, mode)`.
pub(super) fn chmod(path: &str, mode: u32) -> Result<(), Errno> {
    let p = cstring(path);
    // SAFETY: p is NUL-terminated.
    check(unsafe { libc::chmod(p.as_ptr(), mode) })
}

/// `chown(path, uid, gid)`.
pub(super) fn chown(path: &str, uid: u32, gid: u32) -> Result<(), Errno> {
    let p = cstring(path);
    // SAFETY: p is NUL-terminated.
    check(unsafe { libc::chown(p.as_ptr(), uid, gid) })
}

/// `open(path, flags | O_CLOEXEC)`.
pub(super) fn open(path: &str, flags: libc::c_int) -> Result<OwnedFd, Errno> {
    let p = cstring(path);
    // SAFETY: p is NUL-terminated.
    let fd = unsafe { libc::open(p.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: open answered a new descriptor, now ours.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `stat(path)`, printed as the model prints [`crate::vfs::Stat`].
pub(super) fn stat(path: &str) -> Result<String, Errno> {
    let p = cstring(path);
    // SAFETY: a zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: p is NUL-terminated and st a valid stat.
    check(unsafe { libc::stat(p.as_ptr(), &mut st) })?;
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => "file",
        libc::S_IFDIR => "dir",
        libc::S_IFLNK => "symlink",
        _ => "other",
    };
    Ok(crate::vfs::Stat {
        kind,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        nlink: st.st_nlink as u32,
        size: st.st_size as u64,
    }
    .to_string())
}

/// The scenario's root inside the run's temporary directory.
pub(super) fn root_dir(tmp: &Path) -> Result<PathBuf, BackendError> {
    use std::os::unix::fs::PermissionsExt;
    let root = tmp.join("root");
    std::fs::create_dir(&root)
        .and_then(|()| std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)))
        .map_err(|e| BackendError(format!("cannot create the scenario's root {}: {e}", root.display())))?;
    Ok(root)
}
