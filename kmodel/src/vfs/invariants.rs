//! The VFS invariants, checked after every step with the page invariants.

use std::collections::{BTreeMap, BTreeSet};

use super::{DentryId, InodeKind, MntNsId, OpenFileId};
use crate::kernel::{InodeId, Kernel};

impl Kernel {
    /// Check the VFS: each dentry's reference count equals its holders
    /// (live children, open files, processes' roots and working
    /// directories, mounts); directory maps and parents agree; every
    /// inode's aliases are exactly its dentries and its link count is its
    /// names (for a directory, 2 + subdirectories); every regular inode has
    /// its page cache; mounts, mountpoints and namespaces agree.
    ///
    /// # Errors
    /// The first broken invariant, described.
    pub fn check_vfs_invariants(&self) -> Result<(), String> {
        let vfs = &self.vfs;
        let mut want: BTreeMap<DentryId, u32> = vfs.dentries.keys().map(|d| (*d, 0)).collect();
        let mut hold = |d: DentryId, why: &str| -> Result<(), String> {
            *want.get_mut(&d).ok_or_else(|| format!("{why} holds freed dentry {}", d.0))? += 1;
            Ok(())
        };
        for (id, d) in &vfs.dentries {
            if d.parent != *id {
                hold(d.parent, "a child")?;
                let p = &vfs.dentries[&d.parent];
                if !d.unhashed && p.children.get(&d.name) != Some(id) {
                    return Err(format!("dentry {} '{}' is hashed but not in its parent's names", id.0, d.name));
                }
            }
            for (name, c) in &d.children {
                let child = vfs.dentries.get(c).ok_or_else(|| format!("dentry {} lists freed child {}", id.0, c.0))?;
                if child.parent != *id || child.name != *name || child.unhashed {
                    return Err(format!("dentry {} lists '{name}' -> {} which disagrees", id.0, c.0));
                }
            }
            if !vfs.inodes.contains_key(&d.inode) {
                return Err(format!("dentry {} points at freed inode {}", id.0, d.inode.0));
            }
        }
        let mut files: BTreeSet<OpenFileId> = BTreeSet::new();
        let mut ns_users: BTreeMap<MntNsId, u32> = BTreeMap::new();
        for proc in self.procs.values() {
            hold(proc.fs.root.dentry, "a process root")?;
            hold(proc.fs.pwd.dentry, "a process cwd")?;
            *ns_users.entry(proc.fs.ns).or_default() += 1;
            for (_, f) in proc.fds.iter() {
                if let Some(op) = f.path
                    && files.insert(op.id)
                {
                    hold(op.path.dentry, "an open file")?;
                }
            }
        }
        for (id, m) in &vfs.mounts {
            hold(m.root, "a mount root")?;
            if let Some(p) = m.parent {
                hold(p.dentry, "a mountpoint")?;
                if vfs.mountpoints.get(&p) != Some(id) {
                    return Err(format!("mount {} is not listed at its mountpoint", id.0));
                }
                if vfs.mounts.get(&p.mnt).is_none_or(|pm| pm.ns != m.ns) {
                    return Err(format!("mount {} hangs off a mount of another namespace", id.0));
                }
            }
            if !vfs.namespaces.contains_key(&m.ns) {
                return Err(format!("mount {} is in freed namespace {}", id.0, m.ns.0));
            }
        }
        if vfs.mountpoints.len() != vfs.mounts.values().filter(|m| m.parent.is_some()).count() {
            return Err("a mountpoint lists a mount that is not there".into());
        }
        for (id, ns) in &vfs.namespaces {
            if ns_users.get(id).copied().unwrap_or(0) != ns.users {
                return Err(format!(
                    "namespace {} counts {} users, {:?} processes use it",
                    id.0,
                    ns.users,
                    ns_users.get(id)
                ));
            }
            if vfs.mounts.get(&ns.root).is_none_or(|m| m.ns != *id || m.parent.is_some()) {
                return Err(format!("namespace {} has a bad root mount", id.0));
            }
        }
        for (d, n) in want {
            let got = vfs.dentries[&d].refs;
            if got != n {
                return Err(format!("dentry {} '{}': refcount {got}, holders {n}", d.0, vfs.dentries[&d].name));
            }
        }
        let mut aliases: BTreeMap<InodeId, Vec<DentryId>> = BTreeMap::new();
        for (id, d) in &vfs.dentries {
            aliases.entry(d.inode).or_default().push(*id);
        }
        for (ino, inode) in &vfs.inodes {
            let mut got = inode.aliases.clone();
            got.sort();
            let want = aliases.get(ino).cloned().unwrap_or_default();
            if got != want {
                return Err(format!("inode {}: aliases {got:?}, dentries {want:?}", ino.0));
            }
            let hashed: Vec<DentryId> = want.iter().copied().filter(|d| !vfs.dentries[d].unhashed).collect();
            let links = match inode.kind {
                InodeKind::Directory if hashed.is_empty() => 0,
                InodeKind::Directory => {
                    let d = &vfs.dentries[&hashed[0]];
                    2 + d.children.values().filter(|c| vfs.d_is_dir(**c)).count() as u32
                }
                _ => hashed.len() as u32,
            };
            if inode.nlink != links {
                return Err(format!("inode {}: nlink {}, names {links}", ino.0, inode.nlink));
            }
            if inode.nlink == 0 && inode.aliases.is_empty() {
                return Err(format!("inode {} has no names and no dentries but was not freed", ino.0));
            }
            if (inode.kind == InodeKind::Regular) != self.inodes.contains_key(ino) && inode.kind == InodeKind::Regular {
                return Err(format!("regular inode {} has no page cache", ino.0));
            }
        }
        Ok(())
    }
}
