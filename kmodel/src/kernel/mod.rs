//! The kernel: processes, descriptors, files, memory and syscalls.
//!
//! A [`Kernel`] value owns one simulated machine: the page arena, every
//! pipe, every regular file with its page cache, and the processes with
//! their descriptor tables and user mappings. Nothing is global, so a test
//! can hold several kernels at once.
//!
//! Syscalls are methods taking the calling process and answering
//! `Result<usize, Errno>` with the errno Linux answers, checked in the order
//! Linux checks them (fs/read_write.c, fs/pipe.c, fs/splice.c). The model is
//! single-threaded for now: a call that would sleep with nobody left to wake
//! it answers [`BLOCKED`].

mod errno;
mod file;
mod fingerprint;
mod inode;
mod invariants;
mod mm;
mod pipe_ops;
mod sys_net;
mod sys_rw;
mod sys_splice;
mod threaded;
mod variant;

use std::collections::BTreeMap;

use page_refs::{PAGE_SIZE, PageArena, Stamp};
use pipe_buffer::{PipeError, PipeInodeInfo, SizeLimits};

pub use errno::{Errno, MAX_RW_COUNT};
pub use file::{Fd, FdTable, File, FileKind, PipeId};
pub use inode::{FilePage, Inode, InodeId};
pub use mm::{BufferId, Pte, UserBuffer, UserRange};
pub use sys_net::SendFlags;
pub use sys_rw::Fcntl;
pub use sys_splice::SpliceFlags;
pub use threaded::SharedKernel;
pub use variant::KernelVariant;

/// The answer of a call that would sleep forever: in a single-threaded
/// kernel nobody can wake it. Linux would hang; the scenario runner reports
/// the step as blocked (exit status 3).
pub const BLOCKED: Errno = Errno::EDEADLK;

/// A process id.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Pid(pub u32);

/// A process: its descriptors, its user mappings, its credentials and its
/// view of the filesystem.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Process {
    /// The descriptor table.
    pub fds: FdTable,
    /// The anonymous mappings, by id.
    pub mm: BTreeMap<BufferId, UserBuffer>,
    /// Credentials (uid, gid, groups).
    pub cred: crate::vfs::Cred,
    /// Root, working directory, umask and mount namespace.
    pub fs: crate::vfs::FsStruct,
    /// `comm`: the program's name (set by exec).
    pub comm: String,
    /// The path of the program it runs, as exec was given it.
    pub exe: Option<String>,
    /// The container it runs in (`task->ve`), if any.
    pub ve: Option<crate::container::VeId>,
}

/// Tunables that Linux reads from the system or the caller's credentials.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct KernelConfig {
    /// Pipe size limits and `CAP_SYS_RESOURCE`.
    pub pipe_limits: SizeLimits,
    /// The largest anonymous mapping, in pages (Linux's overcommit
    /// heuristic refuses a mapping larger than RAM + swap with `-ENOMEM`).
    pub max_map_pages: u64,
    /// Whether page events are logged (timelines need it; benchmarks turn
    /// it off).
    pub event_log: bool,
    /// Which kernel: today's, the 2006 patch, or vmsplice as a copy
    /// (`--kernel`).
    pub variant: KernelVariant,
}

impl Default for KernelConfig {
    fn default() -> Self {
        KernelConfig {
            pipe_limits: SizeLimits::default(),
            max_map_pages: 1 << 22,
            event_log: true,
            variant: KernelVariant::Today,
        }
    }
}

/// One simulated machine.
#[derive(Clone, Debug)]
pub struct Kernel {
    pub(crate) pages: PageArena,
    pub(crate) pipes: PipeMap,
    pub(crate) inodes: BTreeMap<InodeId, Inode>,
    pub(crate) procs: BTreeMap<Pid, Process>,
    pub(crate) config: KernelConfig,
    /// Every TCP endpoint and link, and simulated time.
    pub(crate) net: tcp_sim::Network,
    /// Inodes, dentries, mounts, namespaces.
    pub(crate) vfs: crate::vfs::Vfs,
    /// The security modules.
    pub(crate) lsm: crate::lsm::Lsm,
    /// Bytes the kernel copied (see [`Kernel::copied_bytes`]).
    pub(crate) copied: u64,
    /// The containers running on this machine.
    pub(crate) containers: BTreeMap<crate::container::VeId, crate::container::Container>,
    pub(crate) next_id: u32,
}

impl Default for Kernel {
    fn default() -> Self {
        Self::new(KernelConfig::default())
    }
}

impl Kernel {
    /// A kernel with one process, [`Kernel::init_pid`].
    pub fn new(config: KernelConfig) -> Self {
        let pages = if config.event_log { PageArena::new() } else { PageArena::without_log() };
        let mut procs = BTreeMap::new();
        procs.insert(Pid(1), Process { comm: "init".into(), ..Process::default() });
        let mut vfs = crate::vfs::Vfs::new();
        // The first process's root and working directory, in the first
        // namespace.
        let fs = crate::vfs::FsStruct::default();
        vfs.path_get(fs.root);
        vfs.path_get(fs.pwd);
        vfs.namespaces.get_mut(&fs.ns).expect("the first namespace").users += 1;
        let mut lsm = crate::lsm::Lsm::default();
        if config.variant == KernelVariant::Y2006 {
            lsm.set_era(crate::lsm::Era::Y2006);
        }
        Kernel {
            pages,
            pipes: PipeMap::default(),
            inodes: BTreeMap::new(),
            procs,
            config,
            net: tcp_sim::Network::new(),
            vfs,
            lsm,
            copied: 0,
            containers: BTreeMap::new(),
            next_id: 1,
        }
    }

    /// The first process.
    pub fn init_pid(&self) -> Pid {
        Pid(1)
    }

    /// The page arena (read-only: every change goes through a syscall).
    pub fn pages(&self) -> &PageArena {
        &self.pages
    }

    /// The configuration.
    pub fn config(&self) -> &KernelConfig {
        &self.config
    }

    /// Bytes the kernel has copied between user memory and kernel pages or
    /// between kernel pages (read, write, pwrite, recv, send without
    /// zero-copy, vmsplice to user memory, vmsplice under
    /// [`KernelVariant::Copy`], splice into a file, sendfile between files);
    /// passing page references (vmsplice today, splice between pipes and
    /// into sockets, tee) copies nothing.
    pub fn copied_bytes(&self) -> u64 {
        self.copied
    }

    /// Stamp the page events that follow with `stamp` (the scenario step).
    pub fn set_stamp(&mut self, stamp: Stamp) {
        self.net.set_step(stamp.step);
        self.pages.set_stamp(Stamp { time_ns: self.net.now().0, ..stamp });
    }

    /// The pipe `id`, if it still exists.
    pub fn pipe(&self, id: PipeId) -> Option<&PipeInodeInfo> {
        self.pipes.get(&id)
    }

    /// The file `id`.
    pub fn inode(&self, id: InodeId) -> Option<&Inode> {
        self.inodes.get(&id)
    }

    /// Process `pid`.
    pub fn process(&self, pid: Pid) -> Option<&Process> {
        self.procs.get(&pid)
    }

    /// The VFS (read-only).
    pub fn vfs(&self) -> &crate::vfs::Vfs {
        &self.vfs
    }

    /// The VFS, to set its tunables (`protected_hardlinks`).
    pub fn vfs_mut(&mut self) -> &mut crate::vfs::Vfs {
        &mut self.vfs
    }

    /// The security modules.
    pub fn lsm(&self) -> &crate::lsm::Lsm {
        &self.lsm
    }

    /// The security modules, to register one or load a policy.
    pub fn lsm_mut(&mut self) -> &mut crate::lsm::Lsm {
        &mut self.lsm
    }

    pub(crate) fn fresh_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(crate) fn proc_mut(&mut self, pid: Pid) -> Result<&mut Process, Errno> {
        self.procs.get_mut(&pid).ok_or(Errno::ESRCH)
    }

    pub(crate) fn proc_ref(&self, pid: Pid) -> Result<&Process, Errno> {
        self.procs.get(&pid).ok_or(Errno::ESRCH)
    }

    /// `fdget`: a copy of the open file behind `fd`.
    pub(crate) fn file(&self, pid: Pid, fd: Fd) -> Result<File, Errno> {
        self.proc_ref(pid)?.fds.get(fd).copied().ok_or(Errno::EBADF)
    }

    pub(crate) fn file_mut(&mut self, pid: Pid, fd: Fd) -> Result<&mut File, Errno> {
        self.proc_mut(pid)?.fds.get_mut(fd).ok_or(Errno::EBADF)
    }

    /// `pipe2(2)`: a new pipe; answers (read end, write end).
    ///
    /// # Errors
    /// `ESRCH` for an unknown process.
    pub fn pipe2(&mut self, pid: Pid) -> Result<(Fd, Fd), Errno> {
        use crate::container::Resource;
        self.proc_ref(pid)?;
        // create_pipe_files (ENFILE over pipe-user-pages-hard), then two
        // get_unused_fd_flags (EMFILE).
        self.ub_charge(pid, &[(Resource::Pipes, u64::from(pipe_buffer::PIPE_DEF_BUFFERS)), (Resource::Files, 2)])?;
        let id = PipeId(self.fresh_id());
        self.pipes.insert(id, PipeInodeInfo::new(id.0));
        let fds = &mut self.proc_mut(pid)?.fds;
        let r = fds.install(File {
            kind: FileKind::PipeRead(id),
            readable: true,
            writable: false,
            nonblock: false,
            pos: 0,
            path: None,
        });
        let w = fds.install(File {
            kind: FileKind::PipeWrite(id),
            readable: false,
            writable: true,
            nonblock: false,
            pos: 0,
            path: None,
        });
        Ok((r, w))
    }

    /// `mmap(MAP_PRIVATE | MAP_ANONYMOUS)` of `pages` pages.
    ///
    /// # Errors
    /// `EINVAL` for 0 pages, `ENOMEM` above [`KernelConfig::max_map_pages`]
    /// or over the container's `pages` limit.
    pub fn mmap_anon(&mut self, pid: Pid, pages: u64) -> Result<BufferId, Errno> {
        self.security().mmap_file(pid, None)?;
        if pages == 0 {
            return Err(Errno::EINVAL);
        }
        if pages > self.config.max_map_pages {
            return Err(Errno::ENOMEM);
        }
        self.proc_ref(pid)?;
        self.ub_charge(pid, &[(crate::container::Resource::Pages, pages)])?;
        let id = BufferId(self.fresh_id());
        self.proc_mut(pid)?.mm.insert(id, UserBuffer::new(id, pages as usize));
        Ok(id)
    }

    /// A new regular file of `pages` pages, every byte `byte`, opened
    /// read-write at position 0 (creat + write + open in the run's
    /// temporary directory).
    ///
    /// # Errors
    /// `EFBIG` if the size cannot be represented; `EMFILE` over the
    /// container's `files` limit.
    pub fn create_file(&mut self, pid: Pid, pages: u64, byte: u8) -> Result<Fd, Errno> {
        self.proc_ref(pid)?;
        self.ub_charge(pid, &[(crate::container::Resource::Files, 1)])?;
        if pages.checked_mul(PAGE_SIZE as u64).is_none_or(|s| s > i64::MAX as u64) {
            return Err(Errno::EFBIG);
        }
        let id = InodeId(self.fresh_id());
        let file =
            File { kind: FileKind::Regular(id), readable: true, writable: true, nonblock: false, pos: 0, path: None };
        self.security().file_open(pid, &file)?;
        self.inodes.insert(id, Inode::new(id, pages, byte));
        let fds = &mut self.proc_mut(pid)?.fds;
        Ok(fds.install(file))
    }

    /// A user store of `len` copies of `byte` at `range` (the program
    /// writing its own memory: no syscall, no error).
    ///
    /// # Errors
    /// `EFAULT` if the range is outside the mapping.
    pub fn user_fill(&mut self, pid: Pid, range: UserRange, byte: u8) -> Result<(), Errno> {
        let Kernel { pages, procs, .. } = self;
        if range.len == 0 {
            return Ok(());
        }
        let buf = procs.get_mut(&pid).ok_or(Errno::ESRCH)?.mm.get_mut(&range.buffer).ok_or(Errno::EFAULT)?;
        if range.start.checked_add(range.len).is_none_or(|e| e > buf.len()) {
            return Err(Errno::EFAULT);
        }
        buf.store(pages, range.start, page_refs::Source::Fill { byte, len: range.len });
        Ok(())
    }

    /// Two distinct pipes, mutably (`pipe_double_lock`'s job: one fixed
    /// order whatever the argument order).
    pub(crate) fn two_pipes(
        &mut self,
        a: PipeId,
        b: PipeId,
    ) -> (&mut PipeInodeInfo, &mut PipeInodeInfo, &mut PageArena) {
        assert_ne!(a, b, "two_pipes of one pipe");
        match self.pipes.slots.get_disjoint_mut([a.0 as usize, b.0 as usize]) {
            Ok([Some(x), Some(y)]) => (x, y, &mut self.pages),
            _ => panic!("two_pipes of pipes {} and {} that do not both exist", a.0, b.0),
        }
    }

    /// The machine shuts down: every process exits (its descriptors close,
    /// its memory is unmapped, it leaves its namespace) and the filesystem
    /// goes away. Afterwards only the zero page may remain.
    pub fn teardown(&mut self) {
        let pids: Vec<Pid> = self.procs.keys().copied().collect();
        for pid in pids {
            self.exit(pid);
        }
        // Closed sockets finish sending (FIN, last ACKs); whatever cannot
        // finish is reset.
        self.net.settle(&mut self.pages);
        self.net.abort_all(&mut self.pages);
        self.kill_sb();
        let Kernel { pages, inodes, .. } = self;
        for inode in inodes.values_mut() {
            inode.evict(pages);
        }
        inodes.clear();
    }
}

/// The errno a pipe operation's failure becomes.
pub(crate) fn pipe_errno(e: PipeError) -> Errno {
    match e {
        PipeError::Again => Errno::EAGAIN,
        PipeError::Pipe => Errno::EPIPE,
        PipeError::Busy => Errno::EBUSY,
        PipeError::Inval => Errno::EINVAL,
        PipeError::Perm => Errno::EPERM,
        PipeError::NoMem => Errno::ENOMEM,
        PipeError::WouldBlock { .. } => BLOCKED,
    }
}

/// `rw_verify_area`'s overflow check: `pos + count` must stay a valid
/// `loff_t`.
pub(crate) fn verify_area(pos: u64, count: u64) -> Result<(), Errno> {
    if pos > i64::MAX as u64 || count > i64::MAX as u64 || pos.checked_add(count).is_none_or(|e| e > i64::MAX as u64) {
        Err(Errno::EINVAL)
    } else {
        Ok(())
    }
}

/// The pipes, indexed by id: ids are small and dense (one counter hands
/// out every object id), so a vector beats a map on the syscall path.
#[derive(Clone, Debug, Default)]
pub(crate) struct PipeMap {
    slots: Vec<Option<PipeInodeInfo>>,
}

impl PipeMap {
    pub(crate) fn get(&self, id: &PipeId) -> Option<&PipeInodeInfo> {
        self.slots.get(id.0 as usize)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: &PipeId) -> Option<&mut PipeInodeInfo> {
        self.slots.get_mut(id.0 as usize)?.as_mut()
    }

    pub(crate) fn insert(&mut self, id: PipeId, pipe: PipeInodeInfo) {
        let i = id.0 as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some(pipe);
    }

    pub(crate) fn remove(&mut self, id: &PipeId) -> Option<PipeInodeInfo> {
        self.slots.get_mut(id.0 as usize)?.take()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &PipeInodeInfo> {
        self.slots.iter().flatten()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (PipeId, &PipeInodeInfo)> {
        self.slots.iter().enumerate().filter_map(|(i, p)| p.as_ref().map(|p| (PipeId(i as u32), p)))
    }
}

impl std::ops::Index<&PipeId> for PipeMap {
    type Output = PipeInodeInfo;

    fn index(&self, id: &PipeId) -> &PipeInodeInfo {
        self.get(id).expect("pipe exists")
    }
}
