//! The VFS: inodes, dentries, mounts, mount namespaces and the path walk.
//!
//! This models the part of Linux's `fs/` that decides what a name means:
//! `fs/namei.c` (the path walk, with its errno), `fs/dcache.c` (dentries,
//! aliases, `d_path`), `fs/namespace.c` (mounts, bind mounts, per-process
//! mount namespaces) and `fs/open.c` (open, chroot, chdir), over one
//! tmpfs-like filesystem whose regular files keep their bytes in the
//! kernel's page cache ([`crate::kernel::Inode`]).
//!
//! * An inode ([`VInode`]) is a regular file, a directory or a symlink, with
//!   Linux's mode bits, owner and link count. Regular files share their id
//!   with their page-cache [`crate::kernel::Inode`].
//! * A dentry ([`Dentry`]) is a name in a directory. Hard links are several
//!   dentries of one inode (its aliases). An unlinked dentry that an open
//!   file, a process's root or cwd, or a mount still holds is unhashed and
//!   lives on until its last reference goes: the open file survives its
//!   last name, exactly as on Linux.
//! * A mount ([`Mount`]) shows a dentry tree at a mountpoint; a bind mount
//!   shows a subtree a second time. A mount namespace is a set of mounts;
//!   `unshare mount` copies the caller's.
//! * A [`Path`] is `struct path`: (mount, dentry). Two paths to one dentry
//!   through different mounts are different paths, which is why a rename
//!   between them answers `EXDEV`.
//!
//! Left out: other filesystem types, `umount`, mount propagation, O_CREAT
//! opens, ACLs, xattrs other than the security modules' labels, and time
//! stamps.

mod cred;
pub(crate) mod dentry;
mod inode;
mod invariants;
mod mount;
mod namei;
mod ops;
mod task;

use std::collections::{BTreeMap, HashMap};

pub use cred::{Cred, Mask, generic_permission};
pub use dentry::{BuiltName, Dentry, DentryId};
pub use inode::{InodeKind, Stat, VInode};
pub use mount::{MntNamespace, MntNsId, Mount, MountId};
pub use namei::{LastType, MAXSYMLINKS};
pub use ops::OpenMode;

use crate::kernel::InodeId;

/// Models `struct path`: a dentry as reached through one mount.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Path {
    /// The mount (`path.mnt`).
    pub mnt: MountId,
    /// The dentry (`path.dentry`).
    pub dentry: DentryId,
}

/// Models `struct fs_struct` and the task's `nsproxy->mnt_ns`: where a
/// process's absolute and relative paths start, and which mounts it sees.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FsStruct {
    /// `fs->root`: where `/` and `..` stop (chroot moves it).
    pub root: Path,
    /// `fs->pwd`: where relative paths start.
    pub pwd: Path,
    /// `fs->umask`.
    pub umask: u32,
    /// The mount namespace.
    pub ns: MntNsId,
}

impl Default for FsStruct {
    fn default() -> Self {
        let root = Path { mnt: ROOT_MOUNT, dentry: ROOT_DENTRY };
        FsStruct { root, pwd: root, umask: 0o022, ns: ROOT_NS }
    }
}

/// Identifies an open `struct file` reached by a path (several descriptors
/// share one after a fork).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct OpenFileId(pub u64);

/// The `f_path` of a file opened by name, and which `struct file` it is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpenPath {
    /// Where it was opened.
    pub path: Path,
    /// Which open file it is.
    pub id: OpenFileId,
}

/// The root directory's inode (the first filesystem's root).
pub const ROOT_INO: InodeId = InodeId(0);
/// The root directory's dentry.
pub const ROOT_DENTRY: DentryId = DentryId(0);
/// The initial namespace's root mount.
pub const ROOT_MOUNT: MountId = MountId(0);
/// The initial mount namespace.
pub const ROOT_NS: MntNsId = MntNsId(0);

/// Every inode, dentry, mount and mount namespace of one kernel.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Vfs {
    pub(crate) inodes: BTreeMap<InodeId, VInode>,
    pub(crate) dentries: BTreeMap<DentryId, Dentry>,
    pub(crate) mounts: BTreeMap<MountId, Mount>,
    /// `lookup_mnt`: the mount on top of each (parent mount, mountpoint).
    pub(crate) mountpoints: HashMap<Path, MountId>,
    pub(crate) namespaces: BTreeMap<MntNsId, MntNamespace>,
    pub(crate) next: u32,
    pub(crate) next_file: u64,
    /// `fs.protected_hardlinks`: only an owner (or `CAP_FOWNER`) may hard
    /// link a file it could not read and write.
    pub protected_hardlinks: bool,
}

impl Default for Vfs {
    fn default() -> Self {
        Self::new()
    }
}

impl Vfs {
    /// One tmpfs-like filesystem mounted at `/` of the initial namespace,
    /// with an empty root directory (mode 0755, owned by root). The root
    /// dentry's references (the initial process's root and cwd) are taken
    /// by the kernel when it creates that process.
    pub fn new() -> Self {
        let mut vfs = Vfs {
            inodes: BTreeMap::new(),
            dentries: BTreeMap::new(),
            mounts: BTreeMap::new(),
            mountpoints: HashMap::new(),
            namespaces: BTreeMap::new(),
            next: 1,
            next_file: 1,
            protected_hardlinks: true,
        };
        let mut root = VInode::new(ROOT_INO, InodeKind::Directory, 0o755, 0, 0);
        root.aliases.push(ROOT_DENTRY);
        vfs.inodes.insert(ROOT_INO, root);
        // The mount holds its root dentry.
        vfs.dentries.insert(ROOT_DENTRY, Dentry::root(ROOT_INO, 1));
        vfs.mounts.insert(ROOT_MOUNT, Mount { root: ROOT_DENTRY, parent: None, ns: ROOT_NS });
        vfs.namespaces.insert(ROOT_NS, MntNamespace { root: ROOT_MOUNT, users: 0 });
        vfs
    }

    pub(crate) fn fresh(&mut self) -> u32 {
        let id = self.next;
        self.next += 1;
        id
    }

    pub(crate) fn fresh_file(&mut self) -> OpenFileId {
        let id = OpenFileId(self.next_file);
        self.next_file += 1;
        id
    }

    /// The inode `ino`, if it exists.
    pub fn inode(&self, ino: InodeId) -> Option<&VInode> {
        self.inodes.get(&ino)
    }

    /// The dentry `d`, if it exists.
    pub fn dentry(&self, d: DentryId) -> Option<&Dentry> {
        self.dentries.get(&d)
    }

    /// The mount `m`, if it exists.
    pub fn mount(&self, m: MountId) -> Option<&Mount> {
        self.mounts.get(&m)
    }

    pub(crate) fn d(&self, d: DentryId) -> &Dentry {
        self.dentries.get(&d).unwrap_or_else(|| panic!("dentry {} freed while in use", d.0))
    }

    pub(crate) fn d_mut(&mut self, d: DentryId) -> &mut Dentry {
        self.dentries.get_mut(&d).unwrap_or_else(|| panic!("dentry {} freed while in use", d.0))
    }

    pub(crate) fn i(&self, ino: InodeId) -> &VInode {
        self.inodes.get(&ino).unwrap_or_else(|| panic!("inode {} freed while in use", ino.0))
    }

    pub(crate) fn i_mut(&mut self, ino: InodeId) -> &mut VInode {
        self.inodes.get_mut(&ino).unwrap_or_else(|| panic!("inode {} freed while in use", ino.0))
    }

    /// The inode behind dentry `d`.
    pub fn d_inode(&self, d: DentryId) -> &VInode {
        self.i(self.d(d).inode)
    }

    /// Whether dentry `d` is a directory (`d_can_lookup`).
    pub fn d_is_dir(&self, d: DentryId) -> bool {
        self.d_inode(d).kind == InodeKind::Directory
    }

    /// Whether `p` is the root of its mount.
    pub fn is_mnt_root(&self, p: Path) -> bool {
        self.mounts.get(&p.mnt).is_some_and(|m| m.root == p.dentry)
    }
}
