//! The name syscalls (fs/namei.c, fs/open.c, fs/stat.c, fs/attr.c): create,
//! mkdir, symlink, link, unlink, rmdir, rename, open, stat, chmod, chown,
//! each with its checks in Linux's order and its security hooks at Linux's
//! call points.

use super::inode::{S_ISGID, S_ISUID, S_ISVTX, S_IXUGO};
use super::namei::{LastType, NAME_MAX, PATH_MAX, Parent};
use super::{Dentry, DentryId, InodeKind, Mask, OpenPath, Path, Stat, VInode};
use crate::kernel::{Errno, Fd, File, FileKind, Inode, InodeId, Kernel, Pid};

/// The access mode of `open NAME PATH r|w|rw`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// `O_RDONLY`.
    Read,
    /// `O_WRONLY`.
    Write,
    /// `O_RDWR`.
    ReadWrite,
}

impl OpenMode {
    /// `MAY_READ` / `MAY_WRITE` for `inode_permission`.
    pub fn mask(self) -> Mask {
        match self {
            OpenMode::Read => Mask::READ,
            OpenMode::Write => Mask::WRITE,
            OpenMode::ReadWrite => Mask::READ | Mask::WRITE,
        }
    }
}

impl Kernel {
    /// `filename_create`: the directory and name for a new object.
    ///
    /// # Errors
    /// What the walk answers; `EEXIST` (the name exists, or is `/`, `.`,
    /// `..`); `ENOENT` (a trailing `/` on a name that is not to be a
    /// directory); `ENAMETOOLONG`.
    fn filename_create(&mut self, pid: Pid, name: &str, want_dir: bool) -> Result<(Path, String), Errno> {
        let parent = self.path_parentat(pid, name)?;
        if parent.kind != LastType::Norm {
            return Err(Errno::EEXIST);
        }
        if self.is_deaddir(parent.path.dentry) {
            return Err(Errno::ENOENT);
        }
        if parent.last.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if self.vfs.d(parent.path.dentry).children.contains_key(&parent.last) {
            return Err(Errno::EEXIST);
        }
        if parent.trailing && !want_dir {
            return Err(Errno::ENOENT);
        }
        Ok((parent.path, parent.last))
    }

    /// `IS_DEADDIR`: a removed directory (a lookup in it finds nothing and
    /// creates nothing).
    fn is_deaddir(&self, d: DentryId) -> bool {
        let inode = self.vfs.d_inode(d);
        inode.is_dir() && inode.nlink == 0
    }

    /// `may_create`: the directory is alive and writable and searchable.
    fn may_create(&mut self, pid: Pid, dir: DentryId) -> Result<(), Errno> {
        if self.is_deaddir(dir) {
            return Err(Errno::ENOENT);
        }
        let ino = self.vfs.d(dir).inode;
        self.inode_permission(pid, ino, Mask::WRITE | Mask::EXEC)
    }

    /// `check_sticky`: in a sticky directory only the file's owner, the
    /// directory's owner or `CAP_FOWNER` may remove or replace a name.
    fn check_sticky(&self, pid: Pid, dir: DentryId, victim: DentryId) -> Result<bool, Errno> {
        let cred = self.cred(pid)?;
        let (d, v) = (self.vfs.d_inode(dir), self.vfs.d_inode(victim));
        Ok(d.mode & S_ISVTX != 0 && cred.uid != v.uid && cred.uid != d.uid && !cred.capable())
    }

    /// `may_delete`: may `victim` be removed from `dir`?
    fn may_delete(&mut self, pid: Pid, dir: DentryId, victim: DentryId, isdir: bool) -> Result<(), Errno> {
        let ino = self.vfs.d(dir).inode;
        self.inode_permission(pid, ino, Mask::WRITE | Mask::EXEC)?;
        if self.check_sticky(pid, dir, victim)? {
            return Err(Errno::EPERM);
        }
        let victim_dir = self.vfs.d_is_dir(victim);
        if isdir {
            if !victim_dir {
                return Err(Errno::ENOTDIR);
            }
            if self.vfs.is_fs_root(victim) {
                return Err(Errno::EBUSY);
            }
        } else if victim_dir {
            return Err(Errno::EISDIR);
        }
        Ok(())
    }

    /// Whether `d` is a mountpoint in `pid`'s namespace (`is_local_mountpoint`).
    fn is_local_mountpoint(&self, pid: Pid, d: DentryId) -> Result<bool, Errno> {
        let ns = self.proc_ref(pid)?.fs.ns;
        Ok(self.vfs.mountpoints.iter().any(|(p, m)| p.dentry == d && self.vfs.mounts[m].ns == ns))
    }

    /// A new inode and its dentry `name` in `dir`.
    fn d_instantiate(
        &mut self,
        pid: Pid,
        dir: DentryId,
        name: &str,
        kind: InodeKind,
        mode: u32,
    ) -> Result<DentryId, Errno> {
        let cred = self.cred(pid)?.clone();
        let dir_inode = self.vfs.d_inode(dir);
        // A set-group-id directory gives new names its group.
        let (gid, sgid_dir) = if dir_inode.mode & S_ISGID != 0 { (dir_inode.gid, true) } else { (cred.gid, false) };
        let ino = InodeId(self.fresh_id());
        let is_dir = kind == InodeKind::Directory;
        let mode = if sgid_dir && is_dir { mode | S_ISGID } else { mode };
        if kind == InodeKind::Regular {
            self.inodes.insert(ino, Inode::new(ino, 0, 0));
        }
        self.vfs.inodes.insert(ino, VInode::new(ino, kind, mode, cred.uid, gid));
        let d = self.vfs.d_alloc(dir, name, ino);
        if is_dir {
            let parent = self.vfs.d(dir).inode;
            self.vfs.i_mut(parent).nlink += 1;
        }
        Ok(d)
    }

    /// `security_inode_init_security` for the new `d`; a refusal undoes the
    /// creation, as the filesystem's create does.
    fn init_security(&mut self, pid: Pid, dir: DentryId, d: DentryId) -> Result<(), Errno> {
        let r = self.security().inode_init_security(pid, dir, d);
        if r.is_err() {
            self.d_unlink(d);
        }
        r
    }

    /// `mknod(PATH, S_IFREG | 0666)`: a new empty regular file (the umask
    /// applies).
    ///
    /// # Errors
    /// See [`Kernel::mkdir`].
    pub fn create(&mut self, pid: Pid, name: &str) -> Result<usize, Errno> {
        let (dir, last) = self.filename_create(pid, name, false)?;
        let mode = 0o666 & !self.proc_ref(pid)?.fs.umask;
        self.security().path_mknod(pid, dir, &last, mode)?;
        self.may_create(pid, dir.dentry)?;
        self.security().inode_create(pid, dir.dentry, &last, mode)?;
        let d = self.d_instantiate(pid, dir.dentry, &last, InodeKind::Regular, mode)?;
        self.init_security(pid, dir.dentry, d)?;
        Ok(0)
    }

    /// `mkdir(PATH, mode)` (the umask applies).
    ///
    /// # Errors
    /// `ENOENT`, `ENOTDIR`, `ELOOP`, `ENAMETOOLONG` (the walk), `EEXIST`,
    /// `EACCES`, or a security module's answer.
    pub fn mkdir(&mut self, pid: Pid, name: &str, mode: u32) -> Result<usize, Errno> {
        let (dir, last) = self.filename_create(pid, name, true)?;
        let mode = mode & 0o1777 & !self.proc_ref(pid)?.fs.umask;
        self.security().path_mkdir(pid, dir, &last, mode)?;
        self.may_create(pid, dir.dentry)?;
        self.security().inode_mkdir(pid, dir.dentry, &last, mode)?;
        let d = self.d_instantiate(pid, dir.dentry, &last, InodeKind::Directory, mode)?;
        self.init_security(pid, dir.dentry, d)?;
        Ok(0)
    }

    /// `symlink(TARGET, PATH)`.
    ///
    /// # Errors
    /// `ENOENT` (empty target), `ENAMETOOLONG`, and as [`Kernel::mkdir`].
    pub fn symlink(&mut self, pid: Pid, target: &str, name: &str) -> Result<usize, Errno> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let (dir, last) = self.filename_create(pid, name, false)?;
        self.security().path_symlink(pid, dir, &last, target)?;
        self.may_create(pid, dir.dentry)?;
        self.security().inode_symlink(pid, dir.dentry, &last, target)?;
        let d = self.d_instantiate(pid, dir.dentry, &last, InodeKind::Symlink(target.to_owned()), 0o777)?;
        self.init_security(pid, dir.dentry, d)?;
        Ok(0)
    }

    /// `link(OLD, NEW)` (`linkat` without `AT_SYMLINK_FOLLOW`: a symlink is
    /// linked, not followed).
    ///
    /// # Errors
    /// `EXDEV` (different mounts, even of one filesystem), `EPERM` (a
    /// directory; or `protected_hardlinks` and a file the caller does not
    /// own and could not read and write), and as [`Kernel::mkdir`].
    pub fn link(&mut self, pid: Pid, old: &str, new: &str) -> Result<usize, Errno> {
        let old_path = self.path_lookupat(pid, old, false, false)?;
        let (dir, last) = self.filename_create(pid, new, false)?;
        if old_path.mnt != dir.mnt {
            return Err(Errno::EXDEV);
        }
        self.may_linkat(pid, old_path.dentry)?;
        self.security().path_link(pid, old_path, dir, &last)?;
        self.may_create(pid, dir.dentry)?;
        if self.vfs.d_is_dir(old_path.dentry) {
            return Err(Errno::EPERM);
        }
        self.security().inode_link(pid, old_path.dentry, dir.dentry, &last)?;
        let ino = self.vfs.d(old_path.dentry).inode;
        if self.vfs.i(ino).nlink == 0 {
            return Err(Errno::ENOENT);
        }
        self.vfs.i_mut(ino).nlink += 1;
        self.vfs.d_alloc(dir.dentry, &last, ino);
        Ok(0)
    }

    /// `may_linkat`: `fs.protected_hardlinks`.
    fn may_linkat(&mut self, pid: Pid, d: DentryId) -> Result<(), Errno> {
        if !self.vfs.protected_hardlinks {
            return Ok(());
        }
        let inode = self.vfs.d_inode(d).clone();
        if self.cred(pid)?.owner_or_capable(&inode) {
            return Ok(());
        }
        let safe = inode.kind == InodeKind::Regular
            && inode.mode & S_ISUID == 0
            && inode.mode & (S_ISGID | 0o010) != (S_ISGID | 0o010)
            && super::generic_permission(self.cred(pid)?, &inode, Mask::READ | Mask::WRITE).is_ok();
        if safe { Ok(()) } else { Err(Errno::EPERM) }
    }

    /// The dentry `parent.last` names, which must exist, for the removing
    /// syscalls; a trailing `/` on a non-directory is `ENOTDIR`.
    fn lookup_victim(&self, parent: &Parent) -> Result<DentryId, Errno> {
        let victim = *self.vfs.d(parent.path.dentry).children.get(&parent.last).ok_or(Errno::ENOENT)?;
        Ok(victim)
    }

    /// `unlink(PATH)`. An open file survives its last name.
    ///
    /// # Errors
    /// `EISDIR` (a directory, or `/`, `.`, `..`), `ENOENT`, `ENOTDIR` (a
    /// trailing `/`), `EACCES`, `EPERM` (sticky directory), `EBUSY` (a
    /// mountpoint), or a security module's answer.
    pub fn unlink(&mut self, pid: Pid, name: &str) -> Result<usize, Errno> {
        let parent = self.path_parentat(pid, name)?;
        if parent.kind != LastType::Norm {
            return Err(Errno::EISDIR);
        }
        let victim = self.lookup_victim(&parent)?;
        if parent.trailing {
            return Err(if self.vfs.d_is_dir(victim) { Errno::EISDIR } else { Errno::ENOTDIR });
        }
        let dir = parent.path;
        self.security().path_unlink(pid, dir, victim)?;
        self.may_delete(pid, dir.dentry, victim, false)?;
        if self.is_local_mountpoint(pid, victim)? {
            return Err(Errno::EBUSY);
        }
        self.security().inode_unlink(pid, dir.dentry, victim)?;
        self.d_unlink(victim);
        Ok(0)
    }

    /// `rmdir(PATH)`.
    ///
    /// # Errors
    /// `ENOTEMPTY` (not empty, or `..`), `EINVAL` (`.`), `EBUSY` (`/`, a
    /// mountpoint), `ENOTDIR`, `ENOENT`, `EACCES`, `EPERM`, or a security
    /// module's answer.
    pub fn rmdir(&mut self, pid: Pid, name: &str) -> Result<usize, Errno> {
        let parent = self.path_parentat(pid, name)?;
        match parent.kind {
            LastType::DotDot => return Err(Errno::ENOTEMPTY),
            LastType::Dot => return Err(Errno::EINVAL),
            LastType::Root => return Err(Errno::EBUSY),
            LastType::Norm => {}
        }
        let victim = self.lookup_victim(&parent)?;
        let dir = parent.path;
        self.security().path_rmdir(pid, dir, victim)?;
        self.may_delete(pid, dir.dentry, victim, true)?;
        if self.is_local_mountpoint(pid, victim)? {
            return Err(Errno::EBUSY);
        }
        self.security().inode_rmdir(pid, dir.dentry, victim)?;
        if !self.vfs.is_empty_dir(victim) {
            return Err(Errno::ENOTEMPTY);
        }
        self.d_unlink(victim);
        Ok(0)
    }

    /// `rename(OLD, NEW)`: replaces NEW if it exists (a file by a file, a
    /// directory by a directory if NEW is empty). Renaming a name onto
    /// another name of the same inode does nothing and succeeds.
    ///
    /// # Errors
    /// `EXDEV` (different mounts), `EBUSY` (`/`, `.`, `..`, a mountpoint),
    /// `ENOENT`, `ENOTDIR`, `EISDIR`, `EINVAL` (a directory into itself),
    /// `ENOTEMPTY`, `EACCES`, `EPERM`, or a security module's answer.
    pub fn rename(&mut self, pid: Pid, old: &str, new: &str) -> Result<usize, Errno> {
        let op = self.path_parentat(pid, old)?;
        let np = self.path_parentat(pid, new)?;
        if op.path.mnt != np.path.mnt {
            return Err(Errno::EXDEV);
        }
        if op.kind != LastType::Norm || np.kind != LastType::Norm {
            return Err(Errno::EBUSY);
        }
        let (old_dir, new_dir) = (op.path, np.path);
        let source = *self.vfs.d(old_dir.dentry).children.get(&op.last).ok_or(Errno::ENOENT)?;
        if self.is_deaddir(new_dir.dentry) {
            return Err(Errno::ENOENT);
        }
        if np.last.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let target = self.vfs.d(new_dir.dentry).children.get(&np.last).copied();
        let is_dir = self.vfs.d_is_dir(source);
        if !is_dir && (op.trailing || np.trailing) {
            return Err(Errno::ENOTDIR);
        }
        // lock_rename's trap: the source may not be an ancestor of the new
        // directory, nor the target an ancestor of the old one.
        if old_dir.dentry != new_dir.dentry {
            if self.vfs.is_subdir(new_dir.dentry, source) {
                return Err(Errno::EINVAL);
            }
            if let Some(t) = target
                && self.vfs.is_subdir(old_dir.dentry, t)
            {
                return Err(Errno::ENOTEMPTY);
            }
        }
        self.security().path_rename(pid, old_dir, source, new_dir, &np.last, target)?;
        // vfs_rename.
        let (src_ino, tgt_ino) = (self.vfs.d(source).inode, target.map(|t| self.vfs.d(t).inode));
        if Some(src_ino) == tgt_ino {
            return Ok(0);
        }
        self.may_delete(pid, old_dir.dentry, source, is_dir)?;
        match target {
            None => self.may_create(pid, new_dir.dentry)?,
            Some(t) => self.may_delete(pid, new_dir.dentry, t, is_dir)?,
        }
        if new_dir.dentry != old_dir.dentry && is_dir {
            // `..` changes: the moved directory must be writable.
            self.inode_permission(pid, src_ino, Mask::WRITE)?;
        }
        self.security().inode_rename(pid, old_dir.dentry, source, new_dir.dentry, &np.last, target)?;
        if self.is_local_mountpoint(pid, source)?
            || target.map(|t| self.is_local_mountpoint(pid, t)).transpose()? == Some(true)
        {
            return Err(Errno::EBUSY);
        }
        if let Some(t) = target {
            if is_dir && !self.vfs.is_empty_dir(t) {
                return Err(Errno::ENOTEMPTY);
            }
            // shmem_rename2: the replaced name goes as if unlinked (a
            // replaced directory takes its parent's link with it).
            self.d_unlink(t);
        }
        if is_dir && old_dir.dentry != new_dir.dentry {
            let (od, nd) = (self.vfs.d(old_dir.dentry).inode, self.vfs.d(new_dir.dentry).inode);
            self.vfs.i_mut(od).nlink -= 1;
            self.vfs.i_mut(nd).nlink += 1;
        }
        self.vfs.d_move(source, new_dir.dentry, &np.last);
        Ok(0)
    }

    /// `open(PATH, O_RDONLY|O_WRONLY|O_RDWR)` of an existing file or
    /// directory; symlinks are followed.
    ///
    /// # Errors
    /// `EISDIR` (a directory opened for writing), `EACCES`, what the walk
    /// answers, or a security module's answer.
    pub fn open(&mut self, pid: Pid, name: &str, mode: OpenMode) -> Result<Fd, Errno> {
        // do_sys_openat2: get_unused_fd_flags (EMFILE) before the walk.
        self.proc_ref(pid)?;
        self.ub_charge(pid, &[(crate::container::Resource::Files, 1)])?;
        let path = self.path_lookupat(pid, name, true, false)?;
        let inode = self.vfs.d_inode(path.dentry);
        let ino = inode.ino;
        let kind = match inode.kind {
            InodeKind::Symlink(_) => return Err(Errno::ELOOP),
            InodeKind::Directory if mode != OpenMode::Read => return Err(Errno::EISDIR),
            InodeKind::Directory => FileKind::Directory(ino),
            InodeKind::Regular => FileKind::Regular(ino),
        };
        self.inode_permission(pid, ino, Mask::OPEN | mode.mask())?;
        let id = self.vfs.fresh_file();
        let file = File {
            kind,
            readable: mode != OpenMode::Write,
            writable: mode != OpenMode::Read,
            nonblock: false,
            pos: 0,
            path: Some(OpenPath { path, id }),
        };
        self.security().file_open(pid, &file)?;
        self.vfs.path_get(path);
        Ok(self.proc_mut(pid)?.fds.install(file))
    }

    /// `stat(PATH)` (symlinks followed).
    ///
    /// # Errors
    /// What the walk answers, or a security module's answer.
    pub fn stat(&mut self, pid: Pid, name: &str) -> Result<Stat, Errno> {
        let path = self.path_lookupat(pid, name, true, false)?;
        self.security().inode_getattr(pid, path)?;
        let inode = self.vfs.d_inode(path.dentry);
        let size = self.vfs.size_of(path.dentry, |ino| self.inodes.get(&ino).map_or(0, |i| i.size));
        Ok(Stat { kind: inode.type_name(), mode: inode.mode, uid: inode.uid, gid: inode.gid, nlink: inode.nlink, size })
    }

    /// `truncate(PATH, LEN)` (symlinks followed): the file's size becomes
    /// LEN; bytes past it are gone, a longer file reads zeros.
    ///
    /// # Errors
    /// `EINVAL` (LEN past 2^63-1, or not a regular file), `EISDIR`,
    /// `EACCES`, what the walk answers, or a security module's answer.
    pub fn truncate(&mut self, pid: Pid, name: &str, len: u64) -> Result<usize, Errno> {
        if len > i64::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        let path = self.path_lookupat(pid, name, true, false)?;
        let inode = self.vfs.d_inode(path.dentry);
        let ino = inode.ino;
        match inode.kind {
            InodeKind::Directory => return Err(Errno::EISDIR),
            InodeKind::Regular => {}
            InodeKind::Symlink(_) => return Err(Errno::EINVAL),
        }
        self.inode_permission(pid, ino, Mask::WRITE)?;
        self.security().path_truncate(pid, path)?;
        self.security().inode_setattr(pid, path.dentry)?;
        let Kernel { inodes, pages, .. } = self;
        inodes.get_mut(&ino).expect("a regular inode has its page cache").truncate(pages, len);
        Ok(0)
    }

    /// `chmod(PATH, MODE)` (symlinks followed).
    ///
    /// # Errors
    /// `EPERM` (not the owner and not root), what the walk answers, or a
    /// security module's answer.
    pub fn chmod(&mut self, pid: Pid, name: &str, mode: u32) -> Result<usize, Errno> {
        let path = self.path_lookupat(pid, name, true, false)?;
        self.security().path_chmod(pid, path, mode)?;
        let inode = self.vfs.d_inode(path.dentry).clone();
        let cred = self.cred(pid)?.clone();
        if !cred.owner_or_capable(&inode) {
            return Err(Errno::EPERM);
        }
        self.security().inode_setattr(pid, path.dentry)?;
        // setattr_prepare: a non-member without CAP_FSETID loses S_ISGID.
        let mut mode = mode & 0o7777;
        if !cred.in_group(inode.gid) && !cred.capable() {
            mode &= !S_ISGID;
        }
        self.vfs.i_mut(inode.ino).mode = mode;
        Ok(0)
    }

    /// `chown(PATH, UID, GID)` (symlinks followed).
    ///
    /// # Errors
    /// `EPERM` (changing the owner without `CAP_CHOWN`, or a group the
    /// caller is not in), what the walk answers, or a security module's
    /// answer.
    pub fn chown(&mut self, pid: Pid, name: &str, uid: u32, gid: u32) -> Result<usize, Errno> {
        let path = self.path_lookupat(pid, name, true, false)?;
        self.security().path_chown(pid, path, uid, gid)?;
        let inode = self.vfs.d_inode(path.dentry).clone();
        let cred = self.cred(pid)?.clone();
        let uid_ok = uid == inode.uid || cred.capable();
        let gid_ok = gid == inode.gid && cred.uid == inode.uid
            || cred.capable()
            || (cred.uid == inode.uid && cred.in_group(gid));
        if !uid_ok || !gid_ok {
            return Err(Errno::EPERM);
        }
        self.security().inode_setattr(pid, path.dentry)?;
        let i = self.vfs.i_mut(inode.ino);
        i.uid = uid;
        i.gid = gid;
        // Changing the owner of an executable clears set-id bits.
        if i.kind == InodeKind::Regular && i.mode & S_IXUGO != 0 {
            i.mode &= !(S_ISUID | S_ISGID);
        }
        Ok(0)
    }
}

impl super::Vfs {
    /// `d_alloc` + `d_add`: a hashed dentry `name` in `dir` for `ino`.
    pub(crate) fn d_alloc(&mut self, dir: DentryId, name: &str, ino: InodeId) -> DentryId {
        let d = DentryId(self.fresh());
        self.dentries.insert(
            d,
            Dentry {
                name: name.to_owned(),
                parent: dir,
                inode: ino,
                children: Default::default(),
                unhashed: false,
                refs: 0,
            },
        );
        let parent = self.d_mut(dir);
        parent.children.insert(name.to_owned(), d);
        parent.refs += 1;
        self.i_mut(ino).aliases.push(d);
        d
    }

    /// `d_move`: `d` becomes `name` in `dir`.
    pub(crate) fn d_move(&mut self, d: DentryId, dir: DentryId, name: &str) {
        let old_parent = self.d(d).parent;
        let old_name = std::mem::replace(&mut self.d_mut(d).name, name.to_owned());
        let op = self.d_mut(old_parent);
        op.children.remove(&old_name);
        op.refs -= 1;
        let np = self.d_mut(dir);
        np.children.insert(name.to_owned(), d);
        np.refs += 1;
        self.d_mut(d).parent = dir;
    }

    /// Take a reference to `path`'s dentry (`path_get`; the model counts
    /// references on dentries only).
    pub(crate) fn path_get(&mut self, path: Path) {
        self.d_mut(path.dentry).refs += 1;
    }
}

impl Kernel {
    /// Remove the name `d` (unlink, rmdir, or replaced by a rename): its
    /// inode loses a link (a directory all of its links, and its parent the
    /// one for `..`); the dentry goes at once if nothing holds it.
    pub(crate) fn d_unlink(&mut self, d: DentryId) {
        let (parent, ino) = (self.vfs.d(d).parent, self.vfs.d(d).inode);
        let name = self.vfs.d(d).name.clone();
        self.vfs.d_mut(parent).children.remove(&name);
        self.vfs.d_mut(d).unhashed = true;
        let is_dir = self.vfs.i(ino).is_dir();
        if is_dir {
            self.vfs.i_mut(ino).nlink = 0;
            let pino = self.vfs.d(parent).inode;
            self.vfs.i_mut(pino).nlink -= 1;
        } else {
            self.vfs.i_mut(ino).nlink -= 1;
        }
        self.d_free_if_unused(d);
    }

    /// Drop a reference to `path`'s dentry (`path_put`).
    pub(crate) fn path_put(&mut self, path: Path) {
        self.dput(path.dentry);
    }

    /// `dput`.
    pub(crate) fn dput(&mut self, d: DentryId) {
        let den = self.vfs.d_mut(d);
        den.refs = den.refs.checked_sub(1).unwrap_or_else(|| panic!("dentry {} refcount underflow", d.0));
        self.d_free_if_unused(d);
    }

    /// Free `d` if it is unhashed and unreferenced, then its inode if that
    /// has no links and no dentries left (evicting its page cache), then
    /// its parent if that was only held by `d`.
    fn d_free_if_unused(&mut self, d: DentryId) {
        let mut cur = d;
        loop {
            let den = self.vfs.d(cur);
            if !den.unhashed || den.refs > 0 {
                return;
            }
            let (parent, ino) = (den.parent, den.inode);
            self.vfs.dentries.remove(&cur);
            let inode = self.vfs.i_mut(ino);
            inode.aliases.retain(|a| *a != cur);
            if inode.nlink == 0 && inode.aliases.is_empty() {
                self.vfs.inodes.remove(&ino);
                self.lsm.inode_free(ino);
                if let Some(mut page_cache) = self.inodes.remove(&ino) {
                    page_cache.evict(&mut self.pages);
                }
            }
            if parent == cur {
                return;
            }
            let p = self.vfs.d_mut(parent);
            p.refs -= 1;
            cur = parent;
        }
    }
}
