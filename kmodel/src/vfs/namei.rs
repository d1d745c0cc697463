//! The path walk (fs/namei.c): from a name to a [`Path`], with Linux's
//! errors in Linux's order.
//!
//! `link_path_walk` checks search permission on each directory it passes
//! (`may_lookup`, before looking at the next name, so a missing name in an
//! unsearchable directory answers `EACCES`, not `ENOENT`), crosses into
//! mounts, climbs `..` to the parent mount at a mount's root and never
//! above the process's root, and follows symlinks met in the middle of a
//! path (at most [`MAXSYMLINKS`] in one walk, then `ELOOP`). Whether the
//! last component is followed, and whether it must exist, is the caller's
//! business (`open` follows, `unlink` does not).

use super::{Cred, InodeKind, Mask, Path};
use crate::kernel::{Errno, InodeId, Kernel, Pid};

/// `MAXSYMLINKS`: the most symlinks one path walk follows.
pub const MAXSYMLINKS: u32 = 40;
/// `PATH_MAX`, counting the terminating NUL.
pub const PATH_MAX: usize = 4096;
/// `NAME_MAX`.
pub const NAME_MAX: usize = 255;

/// `LAST_NORM`, `LAST_ROOT`, `LAST_DOT`, `LAST_DOTDOT`: what the last
/// component of a name is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LastType {
    /// An ordinary name.
    Norm,
    /// The name was `/` (only slashes).
    Root,
    /// `.`.
    Dot,
    /// `..`.
    DotDot,
}

/// Models `struct nameidata`'s state across one walk.
#[derive(Debug)]
pub(crate) struct Nameidata {
    pub(crate) pid: Pid,
    /// `nd->root`.
    pub(crate) root: Path,
    /// `nd->path` at the start of a relative walk.
    pub(crate) pwd: Path,
    /// `nd->total_link_count`.
    pub(crate) links: u32,
}

/// What `filename_parentat` answers: the directory, the last component and
/// what kind of name it is.
#[derive(Clone, Debug)]
pub(crate) struct Parent {
    pub(crate) path: Path,
    pub(crate) last: String,
    pub(crate) kind: LastType,
    /// The name ended in `/`.
    pub(crate) trailing: bool,
}

impl Kernel {
    pub(crate) fn nameidata(&self, pid: Pid) -> Result<Nameidata, Errno> {
        let fs = self.proc_ref(pid)?.fs;
        Ok(Nameidata { pid, root: fs.root, pwd: fs.pwd, links: 0 })
    }

    pub(crate) fn cred(&self, pid: Pid) -> Result<&Cred, Errno> {
        Ok(&self.proc_ref(pid)?.cred)
    }

    /// `inode_permission`: the DAC bits, then the security modules
    /// (`security_inode_permission`).
    ///
    /// # Errors
    /// `EACCES`, or what a module answers.
    pub(crate) fn inode_permission(&mut self, pid: Pid, ino: InodeId, mask: Mask) -> Result<(), Errno> {
        super::generic_permission(self.cred(pid)?, self.vfs.i(ino), mask)?;
        self.security().inode_permission(pid, ino, mask)
    }

    fn may_lookup(&mut self, nd: &Nameidata, dir: Path) -> Result<(), Errno> {
        let ino = self.vfs.d(dir.dentry).inode;
        self.inode_permission(nd.pid, ino, Mask::EXEC)
    }

    /// Cross into whatever is mounted on `p` (`traverse_mounts`).
    pub(crate) fn follow_mounts(&self, mut p: Path) -> Path {
        while let Some(&m) = self.vfs.mountpoints.get(&p) {
            p = Path { mnt: m, dentry: self.vfs.mounts[&m].root };
        }
        p
    }

    /// `follow_dotdot`: the parent, crossing to the mountpoint at a mount's
    /// root, staying put at the process's root or the namespace's root.
    fn follow_dotdot(&self, nd: &Nameidata, dir: Path) -> Path {
        let mut cur = dir;
        loop {
            if cur == nd.root {
                return self.follow_mounts(cur);
            }
            let m = &self.vfs.mounts[&cur.mnt];
            if cur.dentry != m.root {
                break;
            }
            match m.parent {
                Some(mp) => cur = mp,
                None => return self.follow_mounts(cur),
            }
        }
        let parent = Path { mnt: cur.mnt, dentry: self.vfs.d(cur.dentry).parent };
        self.follow_mounts(parent)
    }

    /// `filename_parentat`: walk all but the last component of `name`.
    pub(crate) fn path_parentat(&mut self, pid: Pid, name: &str) -> Result<Parent, Errno> {
        let mut nd = self.nameidata(pid)?;
        self.walk_parent(&mut nd, name, None)
    }

    /// `path_lookupat`: the whole of `name`; the last component is followed
    /// if it is a symlink and `follow` (or the name ends in `/`), and must be
    /// a directory if `directory` (or the name ends in `/`).
    pub(crate) fn path_lookupat(&mut self, pid: Pid, name: &str, follow: bool, directory: bool) -> Result<Path, Errno> {
        let mut nd = self.nameidata(pid)?;
        let parent = self.walk_parent(&mut nd, name, None)?;
        self.lookup_last(&mut nd, &parent, follow, directory)
    }

    /// `link_path_walk`, starting at `start` (default: the cwd) for a
    /// relative name.
    fn walk_parent(&mut self, nd: &mut Nameidata, name: &str, start: Option<Path>) -> Result<Parent, Errno> {
        if name.is_empty() {
            return Err(Errno::ENOENT);
        }
        if name.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let (mut cur, rest) = match name.strip_prefix('/') {
            Some(_) => (nd.root, name.trim_start_matches('/')),
            None => (start.unwrap_or(nd.pwd), name),
        };
        let trailing = rest.ends_with('/');
        let comps: Vec<&str> = rest.split('/').filter(|c| !c.is_empty()).collect();
        let Some((last, inner)) = comps.split_last() else {
            return Ok(Parent { path: cur, last: "/".into(), kind: LastType::Root, trailing: false });
        };
        for c in inner {
            self.may_lookup(nd, cur)?;
            cur = self.walk_component(nd, cur, c, true)?;
            if !self.vfs.d_is_dir(cur.dentry) {
                return Err(Errno::ENOTDIR);
            }
        }
        self.may_lookup(nd, cur)?;
        let kind = match *last {
            "." => LastType::Dot,
            ".." => LastType::DotDot,
            _ => LastType::Norm,
        };
        Ok(Parent { path: cur, last: (*last).to_owned(), kind, trailing })
    }

    /// `walk_component`: one step from directory `dir`.
    fn walk_component(&mut self, nd: &mut Nameidata, dir: Path, name: &str, follow: bool) -> Result<Path, Errno> {
        match name {
            "." => Ok(dir),
            ".." => Ok(self.follow_dotdot(nd, dir)),
            _ => {
                let Some(&child) = self.vfs.d(dir.dentry).children.get(name) else {
                    return Err(if name.len() > NAME_MAX { Errno::ENAMETOOLONG } else { Errno::ENOENT });
                };
                let p = self.follow_mounts(Path { mnt: dir.mnt, dentry: child });
                if follow && self.vfs.d_inode(p.dentry).is_symlink() {
                    return self.follow_link(nd, p, dir);
                }
                Ok(p)
            }
        }
    }

    /// `lookup_last` of a walked name.
    pub(crate) fn lookup_last(
        &mut self,
        nd: &mut Nameidata,
        parent: &Parent,
        follow: bool,
        directory: bool,
    ) -> Result<Path, Errno> {
        let p = match parent.kind {
            LastType::Root | LastType::Dot => parent.path,
            LastType::DotDot => self.follow_dotdot(nd, parent.path),
            LastType::Norm => self.walk_component(nd, parent.path, &parent.last, follow || parent.trailing)?,
        };
        if (directory || parent.trailing) && !self.vfs.d_is_dir(p.dentry) {
            return Err(Errno::ENOTDIR);
        }
        Ok(p)
    }

    /// `pick_link` + the walk of its body: where symlink `link` (found in
    /// `dir`) leads.
    fn follow_link(&mut self, nd: &mut Nameidata, link: Path, dir: Path) -> Result<Path, Errno> {
        nd.links += 1;
        if nd.links > MAXSYMLINKS {
            return Err(Errno::ELOOP);
        }
        self.security().inode_follow_link(nd.pid, link.dentry)?;
        let InodeKind::Symlink(target) = &self.vfs.d_inode(link.dentry).kind else {
            unreachable!("follow_link of a non-symlink");
        };
        let target = target.clone();
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        let parent = self.walk_parent(nd, &target, Some(dir))?;
        self.lookup_last(nd, &parent, true, false)
    }
}
