//! Open files and descriptor tables.

use super::inode::InodeId;
use crate::vfs::OpenPath;

/// Identifies a pipe; also the `object` of its slots' page references.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct PipeId(pub u32);

/// A descriptor number.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Fd(pub i32);

/// What an open file is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FileKind {
    /// A pipe's read end.
    PipeRead(PipeId),
    /// A pipe's write end.
    PipeWrite(PipeId),
    /// A regular file.
    Regular(InodeId),
    /// One end of a TCP connection (`tcp_sim` endpoint).
    Socket(tcp_sim::SockId),
    /// A directory opened by name (read-only; reads answer `EISDIR`).
    Directory(InodeId),
}

/// Models the parts of `struct file` that the syscalls look at.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct File {
    /// What it is.
    pub kind: FileKind,
    /// `FMODE_READ`.
    pub readable: bool,
    /// `FMODE_WRITE`.
    pub writable: bool,
    /// `O_NONBLOCK` in `f_flags`.
    pub nonblock: bool,
    /// `f_pos`.
    pub pos: u64,
    /// `f_path`, for a file opened by name (`None` for pipes and the
    /// scenario's `file` objects, which have no name in the model's tree).
    pub path: Option<OpenPath>,
}

impl File {
    /// The pipe behind the file, if it is one (`get_pipe_info`).
    pub fn pipe(&self) -> Option<PipeId> {
        match self.kind {
            FileKind::PipeRead(p) | FileKind::PipeWrite(p) => Some(p),
            FileKind::Regular(_) | FileKind::Socket(_) | FileKind::Directory(_) => None,
        }
    }

    /// The socket behind the file, if it is one.
    pub fn socket(&self) -> Option<tcp_sim::SockId> {
        match self.kind {
            FileKind::Socket(s) => Some(s),
            _ => None,
        }
    }

    /// Whether pread/pwrite and explicit offsets work (`FMODE_PREAD` /
    /// `FMODE_PWRITE`): regular files yes, pipes no.
    pub fn seekable(&self) -> bool {
        matches!(self.kind, FileKind::Regular(_) | FileKind::Directory(_))
    }
}

/// A process's descriptor table: the lowest free number is used first,
/// starting at 3 (0, 1, 2 are the standard streams the model does not
/// model).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FdTable {
    files: Vec<Option<File>>,
}

/// The first descriptor number handed out.
const FIRST_FD: usize = 3;

impl FdTable {
    /// Install `file` at the lowest free number.
    pub fn install(&mut self, file: File) -> Fd {
        let slot = self.files.iter().position(Option::is_none).unwrap_or_else(|| {
            self.files.push(None);
            self.files.len() - 1
        });
        self.files[slot] = Some(file);
        Fd((slot + FIRST_FD) as i32)
    }

    fn index(fd: Fd) -> Option<usize> {
        usize::try_from(fd.0).ok()?.checked_sub(FIRST_FD)
    }

    /// The open file behind `fd` (`fdget`).
    pub fn get(&self, fd: Fd) -> Option<&File> {
        self.files.get(Self::index(fd)?)?.as_ref()
    }

    /// The open file behind `fd`, mutable.
    pub fn get_mut(&mut self, fd: Fd) -> Option<&mut File> {
        self.files.get_mut(Self::index(fd)?)?.as_mut()
    }

    /// Install `file` at `fd` (a forked child's copy of its parent's table).
    pub fn install_at(&mut self, fd: Fd, file: File) {
        let Some(i) = Self::index(fd) else { return };
        if self.files.len() <= i {
            self.files.resize(i + 1, None);
        }
        self.files[i] = Some(file);
    }

    /// Remove `fd` from the table.
    pub fn remove(&mut self, fd: Fd) -> Option<File> {
        self.files.get_mut(Self::index(fd)?)?.take()
    }

    /// Every open descriptor.
    pub fn iter(&self) -> impl Iterator<Item = (Fd, &File)> + '_ {
        self.files.iter().enumerate().filter_map(|(i, f)| f.as_ref().map(|f| (Fd((i + FIRST_FD) as i32), f)))
    }
}
