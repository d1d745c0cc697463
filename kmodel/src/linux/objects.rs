//! The scenario's objects on the host: buffers, pipes, files, TCP pairs,
//! and the run's temporary directory.

use std::fs;
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::memory::{Mapping, PAGE};
use crate::kernel::Errno;
use crate::scenario::BackendError;

/// A buffer object's memory.
#[derive(Debug)]
pub(super) enum BufState {
    /// Mapped.
    Mapped(Mapping),
    /// The `mmap` failed: there is no memory behind the name.
    Failed,
}

/// `buffer NAME PAGES`.
pub(super) fn buffer(pages: u64) -> (BufState, Result<(), Errno>) {
    if pages == 0 {
        // mmap of length 0 answers EINVAL.
        return (BufState::Failed, Err(Errno::EINVAL));
    }
    // A length that does not even fit the address space: mmap would say
    // ENOMEM for any length it cannot place.
    let Some(len) = pages.checked_mul(PAGE as u64).and_then(|l| usize::try_from(l).ok()) else {
        return (BufState::Failed, Err(Errno::ENOMEM));
    };
    match Mapping::anonymous(len, false) {
        Ok(m) => (BufState::Mapped(m), Ok(())),
        Err(e) => (BufState::Failed, Err(e)),
    }
}

/// `pipe NAME`: `(read end, write end)`.
pub(super) fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    let mut fds = [-1; 2];
    // SAFETY: fds is a valid int[2] for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Errno::last());
    }
    // SAFETY: pipe2 succeeded: both descriptors are new and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `tcp NAME`: `(tx, rx)`, the connecting and the accepted side.
pub(super) fn tcp() -> Result<(OwnedFd, OwnedFd), Errno> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(errno_of)?;
    let addr = listener.local_addr().map_err(errno_of)?;
    let tx = TcpStream::connect(addr).map_err(errno_of)?;
    let (rx, _) = listener.accept().map_err(errno_of)?;
    drop(listener);
    Ok((tx.into(), rx.into()))
}

/// `file NAME PAGES BYTE` in `dir`: a new file of PAGES pages of BYTE,
/// opened read-write at position 0.
pub(super) fn file(dir: &Path, name: &str, pages: u64, byte: u8) -> Result<OwnedFd, Errno> {
    // Past the largest file size a loop of writes could reach.
    let size = pages.checked_mul(PAGE as u64).ok_or(Errno::EFBIG)?;
    let path = dir.join(name);
    let mut f = fs::File::create_new(&path).map_err(errno_of)?;
    let filled = (|| {
        // A file larger than the filesystem's free space would end in
        // ENOSPC anyway, after filling all of it (on tmpfs: the host's
        // memory); answer that up front.
        // SAFETY: a zeroed statvfs is a valid out-parameter.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: f is an open descriptor and st a valid statvfs.
        if unsafe { libc::fstatvfs(f.as_raw_fd(), &mut st) } == 0 {
            let free = st.f_bavail.saturating_mul(st.f_frsize);
            if size > free {
                return Err(Errno::ENOSPC);
            }
        }
        let chunk = vec![byte; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
            f.write_all(&chunk[..n]).map_err(errno_of)?;
            left -= n as u64;
        }
        Ok(())
    })();
    drop(f);
    if let Err(e) = filled {
        let _ = fs::remove_file(&path);
        return Err(e);
    }
    // A fresh descriptor: position 0 and no state left by the writes.
    let f = fs::File::options().read(true).write(true).open(&path).map_err(errno_of)?;
    Ok(f.into())
}

/// The errno behind an I/O error (`EIO` if it has none).
fn errno_of(e: io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}

/// The run's temporary directory, removed on drop.
#[derive(Debug)]
pub(super) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A fresh directory under `parent`, or under `/dev/shm` (tmpfs) if
    /// that is a directory, else under the system's temporary directory.
    pub(super) fn new(parent: Option<&Path>) -> Result<Self, BackendError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let parent = match parent {
            Some(p) => p.to_path_buf(),
            None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
            None => std::env::temp_dir(),
        };
        let pid = std::process::id();
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = parent.join(format!("kmodel-linux-{pid}-{n}"));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(BackendError(format!(
                        "cannot create a temporary directory in {}: {e}",
                        parent.display()
                    )));
                }
            }
        }
        Err(BackendError(format!("cannot create a temporary directory in {}: names all taken", parent.display())))
    }

    /// Its path.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Remove it and everything in it.
    pub(super) fn remove(mut self) -> Result<(), BackendError> {
        // Taken: Drop then has nothing left to remove.
        let path = std::mem::take(&mut self.path);
        fs::remove_dir_all(&path)
            .map_err(|e| BackendError(format!("cannot remove temporary directory {}: {e}", path.display())))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}
