//! Inodes: what a name points at (`struct inode`'s metadata).

use super::DentryId;
use crate::kernel::InodeId;

/// What kind of object an inode is (`S_IFMT`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum InodeKind {
    /// `S_IFREG`: bytes in the page cache.
    Regular,
    /// `S_IFDIR`: names.
    Directory,
    /// `S_IFLNK`: a path, resolved when walked through.
    Symlink(String),
}

/// tmpfs's `BOGO_DIRENT_SIZE`: a directory's size grows by this much per
/// entry, from twice this when empty.
pub const BOGO_DIRENT_SIZE: u64 = 20;

/// The set-user-id bit.
pub const S_ISUID: u32 = 0o4000;
/// The set-group-id bit.
pub const S_ISGID: u32 = 0o2000;
/// The sticky bit (`S_ISVTX`): in a directory, only a file's owner, the
/// directory's owner or `CAP_FOWNER` may remove or rename it.
pub const S_ISVTX: u32 = 0o1000;
/// Any execute bit.
pub const S_IXUGO: u32 = 0o111;

/// Models the metadata of `struct inode` for the VFS.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct VInode {
    /// `i_ino`; for a regular file, also its page-cache inode.
    pub ino: InodeId,
    /// File type and, for a symlink, its target.
    pub kind: InodeKind,
    /// Permission bits, `07777`.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// `i_nlink`: names of a file; 2 + subdirectories for a directory; 0
    /// once removed.
    pub nlink: u32,
    /// `i_dentry`: every dentry of this inode, hashed or not, oldest first
    /// (`d_find_alias` answers the first hashed one).
    pub aliases: Vec<DentryId>,
}

impl VInode {
    /// A new inode with one name (or, for a directory, its `.` and its
    /// name).
    pub fn new(ino: InodeId, kind: InodeKind, mode: u32, uid: u32, gid: u32) -> Self {
        let nlink = if kind == InodeKind::Directory { 2 } else { 1 };
        VInode { ino, kind, mode: mode & 0o7777, uid, gid, nlink, aliases: Vec::new() }
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == InodeKind::Directory
    }

    /// Whether it is a symlink.
    pub fn is_symlink(&self) -> bool {
        matches!(self.kind, InodeKind::Symlink(_))
    }

    /// `ls -l`'s name for the file type.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            InodeKind::Regular => "file",
            InodeKind::Directory => "dir",
            InodeKind::Symlink(_) => "symlink",
        }
    }
}

/// What `stat(2)` answers, as far as the model and the host agree on it
/// (no inode numbers, devices or times).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// `file`, `dir` or `symlink`.
    pub kind: &'static str,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Link count.
    pub nlink: u32,
    /// Size in bytes (tmpfs: a directory counts 20 per entry, plus 40).
    pub size: u64,
}

impl std::fmt::Display for Stat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:04o} uid {} gid {} nlink {} size {}",
            self.kind, self.mode, self.uid, self.gid, self.nlink, self.size
        )
    }
}
