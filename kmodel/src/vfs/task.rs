//! Processes' view of the VFS: fork, credentials, chdir, chroot, bind
//! mounts, `unshare(CLONE_NEWNS)`, exec and exit (kernel/fork.c,
//! fs/open.c, fs/namespace.c, fs/exec.c).

use std::collections::BTreeMap;

use super::inode::S_IXUGO;
use super::{Cred, InodeKind, Mask, MntNamespace, MntNsId, Mount, MountId, Path};
use crate::kernel::{Errno, FileKind, Kernel, Pid, Process};

impl Kernel {
    /// A new process (fork): it shares the caller's open files (same
    /// descriptor numbers), mount namespace, root, working directory,
    /// credentials and security contexts, and starts with no memory of its
    /// own.
    ///
    /// # Errors
    /// `ESRCH`, or a security module's answer (`security_task_alloc`).
    pub fn fork(&mut self, pid: Pid) -> Result<Pid, Errno> {
        let parent = self.proc_ref(pid)?;
        let (cred, fs, comm, exe) = (parent.cred.clone(), parent.fs, parent.comm.clone(), parent.exe.clone());
        let files: Vec<(crate::kernel::Fd, crate::kernel::File)> = parent.fds.iter().map(|(f, x)| (f, *x)).collect();
        // Ids are shared with other objects; the first process is Pid(1).
        let child = loop {
            let id = Pid(self.fresh_id());
            if !self.procs.contains_key(&id) {
                break id;
            }
        };
        self.security().task_alloc(pid, child)?;
        self.lsm.task_forked(pid, child);
        let mut proc = Process { cred, fs, comm, exe, ..Process::default() };
        for (fd, file) in files {
            proc.fds.install_at(fd, file);
            match file.kind {
                FileKind::PipeRead(p) => self.pipes.get_mut(&p).expect("open pipe").readers += 1,
                FileKind::PipeWrite(p) => self.pipes.get_mut(&p).expect("open pipe").writers += 1,
                _ => {}
            }
        }
        self.vfs.path_get(fs.root);
        self.vfs.path_get(fs.pwd);
        self.vfs.namespaces.get_mut(&fs.ns).expect("namespace").users += 1;
        self.procs.insert(child, proc);
        self.ve_forked(pid, child);
        Ok(child)
    }

    /// Name the program process `pid` runs (`comm`, as `prctl(PR_SET_NAME)`).
    ///
    /// # Errors
    /// `ESRCH`.
    pub fn set_comm(&mut self, pid: Pid, comm: &str) -> Result<(), Errno> {
        self.proc_mut(pid)?.comm = comm.chars().take(15).collect();
        Ok(())
    }

    /// `setresuid` + `setresgid` + `setgroups([])`: only root may change
    /// identity.
    ///
    /// # Errors
    /// `EPERM`, or a security module's answer.
    pub fn setuid(&mut self, pid: Pid, uid: u32, gid: u32) -> Result<usize, Errno> {
        let old = self.cred(pid)?.clone();
        if !old.capable() && (uid != old.uid || gid != old.gid) {
            return Err(Errno::EPERM);
        }
        let new = Cred { uid, gid, groups: Vec::new() };
        self.security().task_fix_setuid(pid, &new)?;
        self.proc_mut(pid)?.cred = new;
        Ok(0)
    }

    /// `chdir(PATH)`.
    ///
    /// # Errors
    /// `ENOTDIR`, `EACCES`, what the walk answers.
    pub fn chdir(&mut self, pid: Pid, name: &str) -> Result<usize, Errno> {
        let path = self.path_lookupat(pid, name, true, true)?;
        let ino = self.vfs.d(path.dentry).inode;
        self.inode_permission(pid, ino, Mask::EXEC | Mask::CHDIR)?;
        self.vfs.path_get(path);
        let old = std::mem::replace(&mut self.proc_mut(pid)?.fs.pwd, path);
        self.path_put(old);
        Ok(0)
    }

    /// `chroot(PATH)`: `/` and `..` now stop at PATH; the working directory
    /// does not move (so it may lie outside the new root, as on Linux).
    ///
    /// # Errors
    /// `EPERM` (no `CAP_SYS_CHROOT`), `ENOTDIR`, `EACCES`, what the walk
    /// answers, or a security module's answer.
    pub fn chroot(&mut self, pid: Pid, name: &str) -> Result<usize, Errno> {
        let path = self.path_lookupat(pid, name, true, true)?;
        let ino = self.vfs.d(path.dentry).inode;
        self.inode_permission(pid, ino, Mask::EXEC | Mask::CHDIR)?;
        if !self.cred(pid)?.capable() {
            return Err(Errno::EPERM);
        }
        self.security().path_chroot(pid, path)?;
        self.vfs.path_get(path);
        let old = std::mem::replace(&mut self.proc_mut(pid)?.fs.root, path);
        self.path_put(old);
        Ok(0)
    }

    /// `mount(SRC, DST, NULL, MS_BIND)`: show SRC's subtree at DST too
    /// (non-recursive: mounts below SRC are not copied).
    ///
    /// # Errors
    /// What the walks answer, `EPERM` (no `CAP_SYS_ADMIN`), `ENOTDIR` (a
    /// directory over a non-directory or the reverse), or a security
    /// module's answer (`security_sb_mount`).
    pub fn bind_mount(&mut self, pid: Pid, src: &str, dst: &str) -> Result<usize, Errno> {
        let dst_path = self.path_lookupat(pid, dst, true, false)?;
        self.security().sb_mount(pid, src, dst_path)?;
        if !self.cred(pid)?.capable() {
            return Err(Errno::EPERM);
        }
        let src_path = self.path_lookupat(pid, src, true, false)?;
        if self.vfs.d_is_dir(src_path.dentry) != self.vfs.d_is_dir(dst_path.dentry) {
            return Err(Errno::ENOTDIR);
        }
        // lock_mount: a new mount goes on top of whatever is mounted there
        // already (a walk that ends at `/` or `..` has not crossed it).
        let dst_path = self.follow_mounts(dst_path);
        let ns = self.proc_ref(pid)?.fs.ns;
        let m = MountId(self.vfs.fresh());
        self.vfs.mounts.insert(m, Mount { root: src_path.dentry, parent: Some(dst_path), ns });
        self.vfs.mountpoints.insert(dst_path, m);
        self.vfs.path_get(src_path);
        self.vfs.path_get(dst_path);
        Ok(0)
    }

    /// `unshare(CLONE_NEWNS)`: the caller gets a private copy of its mount
    /// namespace; later mounts on either side are not seen by the other.
    ///
    /// # Errors
    /// `EPERM` (no `CAP_SYS_ADMIN`).
    pub fn unshare_mount(&mut self, pid: Pid) -> Result<usize, Errno> {
        if !self.cred(pid)?.capable() {
            return Err(Errno::EPERM);
        }
        let fs = self.proc_ref(pid)?.fs;
        let new_ns = MntNsId(self.vfs.fresh());
        // copy_tree: every mount of the namespace, parents before children.
        let mut order: Vec<MountId> = Vec::new();
        let old_root = self.vfs.namespaces[&fs.ns].root;
        order.push(old_root);
        let mut i = 0;
        while i < order.len() {
            let m = order[i];
            let mut children: Vec<MountId> = self
                .vfs
                .mounts
                .iter()
                .filter(|(_, x)| x.parent.is_some_and(|p| p.mnt == m))
                .map(|(id, _)| *id)
                .collect();
            children.sort();
            order.extend(children);
            i += 1;
        }
        let mut map: BTreeMap<MountId, MountId> = BTreeMap::new();
        for old in order {
            let new = MountId(self.vfs.fresh());
            map.insert(old, new);
            let m = self.vfs.mounts[&old].clone();
            let parent = m.parent.map(|p| Path { mnt: map[&p.mnt], dentry: p.dentry });
            self.vfs.mounts.insert(new, Mount { root: m.root, parent, ns: new_ns });
            self.vfs.d_mut(m.root).refs += 1;
            if let Some(p) = parent {
                self.vfs.mountpoints.insert(p, new);
                self.vfs.d_mut(p.dentry).refs += 1;
            }
        }
        self.vfs.namespaces.insert(new_ns, MntNamespace { root: map[&old_root], users: 1 });
        let remap = |p: Path| Path { mnt: map.get(&p.mnt).copied().unwrap_or(p.mnt), dentry: p.dentry };
        let proc = self.proc_mut(pid)?;
        proc.fs.root = remap(fs.root);
        proc.fs.pwd = remap(fs.pwd);
        proc.fs.ns = new_ns;
        self.put_mnt_ns(fs.ns);
        Ok(0)
    }

    /// One process fewer in namespace `ns`; the last one out unmounts
    /// everything in it.
    pub(crate) fn put_mnt_ns(&mut self, ns: MntNsId) {
        let n = self.vfs.namespaces.get_mut(&ns).expect("namespace");
        n.users -= 1;
        if n.users > 0 {
            return;
        }
        self.vfs.namespaces.remove(&ns);
        let mounts: Vec<MountId> = self.vfs.mounts.iter().filter(|(_, m)| m.ns == ns).map(|(id, _)| *id).collect();
        for m in mounts {
            let mount = self.vfs.mounts.remove(&m).expect("listed");
            if let Some(p) = mount.parent {
                self.vfs.mountpoints.remove(&p);
                self.dput(p.dentry);
            }
            self.dput(mount.root);
        }
    }

    /// `execve(PATH)` as far as the model goes: the program is looked up
    /// and checked like Linux's `do_open_execat` (a regular file with an
    /// execute bit the caller may use), the security modules attach their
    /// new contexts (`bprm_check` and friends), and the process now runs
    /// it (its `comm` becomes the file's name). No code is loaded.
    ///
    /// # Errors
    /// `EACCES` (not a regular file, or no execute permission), what the
    /// walk answers, or a security module's answer.
    pub fn exec(&mut self, pid: Pid, name: &str) -> Result<usize, Errno> {
        let path = self.path_lookupat(pid, name, true, false)?;
        let inode = self.vfs.d_inode(path.dentry).clone();
        if inode.kind != InodeKind::Regular {
            return Err(Errno::EACCES);
        }
        self.inode_permission(pid, inode.ino, Mask::EXEC | Mask::OPEN)?;
        if inode.mode & S_IXUGO == 0 {
            return Err(Errno::EACCES);
        }
        self.security().bprm_check(pid, path)?;
        let Kernel { lsm, vfs, .. } = self;
        lsm.bprm_committing_creds(pid, path, vfs);
        let comm: String = self.vfs.d(path.dentry).name.chars().take(15).collect();
        let proc = self.proc_mut(pid)?;
        proc.comm = comm;
        proc.exe = Some(name.to_owned());
        Ok(0)
    }

    /// The process exits: its descriptors close, its memory goes, it
    /// leaves its root, working directory and mount namespace.
    pub(crate) fn exit(&mut self, pid: Pid) {
        let fds: Vec<crate::kernel::Fd> = self.procs[&pid].fds.iter().map(|(fd, _)| fd).collect();
        for fd in fds {
            let _ = self.close(pid, fd);
        }
        let Kernel { pages, procs, .. } = self;
        let proc = procs.get_mut(&pid).expect("pid listed");
        for buf in proc.mm.values_mut() {
            buf.unmap(pages);
        }
        proc.mm.clear();
        let proc = self.procs.remove(&pid).expect("pid listed");
        self.ve_exited(pid, proc.ve);
        self.lsm.task_free(pid);
        self.path_put(proc.fs.root);
        self.path_put(proc.fs.pwd);
        self.put_mnt_ns(proc.fs.ns);
    }

    /// The filesystem goes away (`kill_sb`) once every process has exited:
    /// every remaining inode and dentry is freed, page caches evicted.
    pub(crate) fn kill_sb(&mut self) {
        let inos: Vec<_> = self.vfs.inodes.keys().copied().collect();
        for ino in inos {
            self.lsm.inode_free(ino);
            if let Some(mut page_cache) = self.inodes.remove(&ino) {
                page_cache.evict(&mut self.pages);
            }
        }
        self.vfs.inodes.clear();
        self.vfs.dentries.clear();
        self.vfs.mounts.clear();
        self.vfs.mountpoints.clear();
        self.vfs.namespaces.clear();
    }
}
