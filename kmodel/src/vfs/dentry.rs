//! Dentries: names in directories, and the names a path gets back
//! (`d_path`, `dentry_path`, `d_find_alias`; fs/dcache.c, fs/d_path.c).

use std::collections::BTreeMap;

use super::{Path, Vfs};
use crate::kernel::InodeId;

/// Identifies a dentry.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct DentryId(pub u32);

/// Models `struct dentry`: one name of an inode in a directory.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Dentry {
    /// `d_name` (`/` for a filesystem root).
    pub name: String,
    /// `d_parent` (itself for a filesystem root).
    pub parent: DentryId,
    /// `d_inode` (the model has no negative dentries).
    pub inode: InodeId,
    /// The names in this directory (`d_children`), hashed dentries only.
    pub children: BTreeMap<String, DentryId>,
    /// `d_unhashed`: removed from its directory (unlinked, or replaced by
    /// a rename) but still referenced.
    pub unhashed: bool,
    /// `d_lockref.count`, less the directory's own hold: open files,
    /// processes' roots and working directories, and mounts (as their root
    /// or their mountpoint).
    pub refs: u32,
}

impl Dentry {
    /// A filesystem's root dentry.
    pub fn root(inode: InodeId, refs: u32) -> Self {
        Dentry { name: "/".into(), parent: super::ROOT_DENTRY, inode, children: BTreeMap::new(), unhashed: false, refs }
    }
}

/// A name built for a security module, and what building it cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltName {
    /// The name.
    pub name: String,
    /// Dentries visited to build it.
    pub walked: u64,
    /// Whether the path is not reachable from the root it was built
    /// against (a file outside a chroot, or on a detached mount).
    pub disconnected: bool,
}

impl Vfs {
    /// `IS_ROOT`: the root of its filesystem.
    pub fn is_fs_root(&self, d: DentryId) -> bool {
        self.d(d).parent == d
    }

    /// `d_path`: the name of `path` as seen from `root` (a process's root):
    /// walk dentries up to each mount's root, cross to its mountpoint in the
    /// parent mount, stop at `root`. An unlinked dentry ends in
    /// ` (deleted)`. A path not under `root` is named from its namespace's
    /// root and flagged disconnected.
    pub fn d_path(&self, path: Path, root: Path) -> BuiltName {
        let mut parts: Vec<&str> = Vec::new();
        let mut cur = path;
        let mut walked = 0u64;
        let mut disconnected = false;
        loop {
            if cur == root {
                break;
            }
            walked += 1;
            let mount = &self.mounts[&cur.mnt];
            if cur.dentry == mount.root {
                match mount.parent {
                    Some(mp) => {
                        cur = mp;
                        continue;
                    }
                    None => {
                        disconnected = true;
                        break;
                    }
                }
            }
            let d = self.d(cur.dentry);
            if d.parent == cur.dentry {
                // A filesystem root that is not its mount's root: a mount
                // of a detached subtree.
                disconnected = true;
                break;
            }
            parts.push(&d.name);
            cur.dentry = d.parent;
        }
        let mut name = join(&parts);
        if self.d(path.dentry).unhashed {
            name.push_str(" (deleted)");
        }
        BuiltName { name, walked, disconnected }
    }

    /// `dentry_path_raw`: the name of dentry `d` from its filesystem's root,
    /// blind to mounts, chroots and namespaces: all a hook that gets no
    /// mount can build.
    pub fn dentry_path(&self, d: DentryId) -> BuiltName {
        let mut parts: Vec<&str> = Vec::new();
        let mut cur = d;
        let mut walked = 0u64;
        while !self.is_fs_root(cur) {
            walked += 1;
            let den = self.d(cur);
            parts.push(&den.name);
            cur = den.parent;
        }
        walked += 1;
        let mut name = join(&parts);
        if self.d(d).unhashed {
            name.push_str(" (deleted)");
        }
        BuiltName { name, walked, disconnected: false }
    }

    /// `d_find_alias`: a hashed dentry of `ino` (the oldest), else any.
    pub fn d_find_alias(&self, ino: InodeId) -> Option<DentryId> {
        let inode = self.inodes.get(&ino)?;
        inode.aliases.iter().copied().find(|d| !self.d(*d).unhashed).or_else(|| inode.aliases.first().copied())
    }

    /// Whether `a` is `d` or one of its ancestors (`is_subdir(d, a)`).
    pub fn is_subdir(&self, d: DentryId, a: DentryId) -> bool {
        let mut cur = d;
        loop {
            if cur == a {
                return true;
            }
            let p = self.d(cur).parent;
            if p == cur {
                return false;
            }
            cur = p;
        }
    }

    /// Whether dentry `d` is empty (`simple_empty`).
    pub fn is_empty_dir(&self, d: DentryId) -> bool {
        self.d(d).children.is_empty()
    }

    /// The size `stat` reports for the inode of `d` (tmpfs's).
    pub fn size_of(&self, d: DentryId, file_size: impl Fn(InodeId) -> u64) -> u64 {
        let den = self.d(d);
        match &self.i(den.inode).kind {
            super::InodeKind::Directory => super::inode::BOGO_DIRENT_SIZE * (2 + den.children.len() as u64),
            super::InodeKind::Symlink(t) => t.len() as u64,
            super::InodeKind::Regular => file_size(den.inode),
        }
    }
}

/// `/a/b` from `["b", "a"]` (leaf first); `/` from nothing.
fn join(leaf_first: &[&str]) -> String {
    if leaf_first.is_empty() {
        return "/".into();
    }
    let mut s = String::new();
    for p in leaf_first.iter().rev() {
        s.push('/');
        s.push_str(p);
    }
    s
}
