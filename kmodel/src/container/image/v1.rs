//! Format version 1: the records of every section.
//!
//! These types ARE the format: postcard writes them positionally, so any
//! change to a field, a variant or their order changes what the bytes mean.
//! Never edit them in place once released: freeze them (copy this file to
//! `vN.rs`), make the change in a new version, and add a migration
//! (`migrate.rs`). `tests/images.rs` holds a golden encoding of every record
//! and fails when they change without that decision.
//!
//! The records describe what a program can observe through system calls
//! (CRIU's way), not the model's structs: a pipe is its buffers as a
//! non-destructive `tee` would see them plus its size, a mapping its page
//! table, an open file its kind, mode bits and position.

use serde::{Deserialize, Serialize};

/// What the image needs of the host that restores it, and where it came
/// from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// `PAGE_SIZE` of the host that wrote it.
    pub page_size: u32,
    /// The model's version (`kmodel` crate version) that wrote it.
    pub model_version: String,
    /// The model features the image uses (a restoring host must enable
    /// every one).
    pub features: Vec<String>,
    /// The kernel's tunables.
    pub config: ConfigRec,
    /// The next object id the kernel hands out (pipes, mappings, files).
    pub next_id: u32,
    /// Simulated time, in nanoseconds.
    pub now_ns: u64,
    /// The security hook table: 0 today's, 1 the 2006 one.
    pub lsm_era: u8,
    /// The processes the checkpoint was asked for.
    pub pids: Vec<u32>,
}

/// [`crate::kernel::KernelConfig`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigRec {
    /// `/proc/sys/fs/pipe-max-size`.
    pub pipe_max_size: u32,
    /// `CAP_SYS_RESOURCE`.
    pub cap_sys_resource: bool,
    /// The largest anonymous mapping, in pages.
    pub max_map_pages: u64,
    /// Whether page events are logged.
    pub event_log: bool,
}

/// One page frame, stored once whoever holds it; holders refer to it by
/// its position in the frame table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRec {
    /// Its frame number (slab key) in the writing kernel; kept on restore
    /// when the image has an [`ArenaRec`].
    pub pfn: u32,
    /// Its generation.
    pub generation: u32,
    /// Its holders, in the order the references were taken (`refs` prints
    /// them in that order).
    pub holders: Vec<HolderRec>,
    /// Its bytes.
    pub content: ContentRec,
    /// Writes it has seen (TCP compares versions to tell a page changed).
    pub version: u32,
}

/// A frame's bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContentRec {
    /// The shared zero page.
    Zero,
    /// Every byte this value.
    Uniform(u8),
    /// Arbitrary bytes: the next `PAGE_SIZE` bytes of the page-data section.
    Bytes,
}

/// One page reference's holder.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderRec {
    /// 0 user mapping, 1 pipe, 2 page cache, 3 socket, 4 kernel.
    pub kind: u8,
    /// Which object.
    pub object: u32,
    /// Position within it.
    pub index: u32,
}

/// The page allocator's state, saved when the image holds the whole
/// machine: restore then hands out the same frame numbers, before and
/// after, as the checkpointed kernel would have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArenaRec {
    /// Next generation of every frame number ever used.
    pub generations: Vec<u32>,
    /// Vacant frame numbers, the next to be reused last.
    pub free: Vec<u32>,
    /// Frames freed so far.
    pub freed: u64,
}

/// A process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRec {
    /// Its pid.
    pub pid: u32,
    /// `comm`.
    pub comm: String,
    /// The program it runs.
    pub exe: Option<String>,
    /// Credentials.
    pub uid: u32,
    /// Credentials.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Root directory.
    pub root: PathRec,
    /// Working directory.
    pub pwd: PathRec,
    /// umask.
    pub umask: u32,
    /// Mount namespace.
    pub ns: u32,
    /// Open descriptors, ascending.
    pub fds: Vec<FdRec>,
    /// Anonymous mappings, by id.
    pub buffers: Vec<BufferRec>,
}

/// A (mount, dentry) pair.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PathRec {
    /// Mount id.
    pub mnt: u32,
    /// Dentry id.
    pub dentry: u32,
}

/// An open descriptor and its file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdRec {
    /// The number.
    pub fd: i32,
    /// What it is.
    pub kind: FileKindRec,
    /// `FMODE_READ`.
    pub readable: bool,
    /// `FMODE_WRITE`.
    pub writable: bool,
    /// `O_NONBLOCK`.
    pub nonblock: bool,
    /// `f_pos`.
    pub pos: u64,
    /// `f_path` and the open file's id, for a file opened by name.
    pub path: Option<(PathRec, u64)>,
}

/// What an open file is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileKindRec {
    /// Read end of pipe N.
    PipeRead(u32),
    /// Write end of pipe N.
    PipeWrite(u32),
    /// Regular file N.
    Regular(u32),
    /// TCP endpoint N.
    Socket(u32),
    /// Directory N.
    Directory(u32),
}

/// An anonymous mapping: its page table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BufferRec {
    /// Mapping id.
    pub id: u32,
    /// One entry per page.
    pub ptes: Vec<PteRec>,
}

/// A page table entry.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PteRec {
    /// Never touched.
    None,
    /// Maps the zero page read-only.
    Zero,
    /// A private page: frame N of the frame table.
    Page(u32),
}

/// A pipe: its size and its buffers, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipeRec {
    /// Pipe id.
    pub id: u32,
    /// Slots allocated.
    pub ring_size: u32,
    /// `max_usage`.
    pub max_usage: u32,
    /// `head` (free-running; the buffers end there).
    pub head: u32,
    /// The buffers, oldest first.
    pub bufs: Vec<PipeBufRec>,
}

/// One pipe buffer.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipeBufRec {
    /// Frame N of the frame table.
    pub frame: u32,
    /// First byte.
    pub offset: u32,
    /// Bytes.
    pub len: u32,
    /// `PIPE_BUF_FLAG_*` bits (CAN_MERGE = 1, GIFT = 2).
    pub flags: u8,
    /// Where the page came from: 0 anonymous, 1 user (vmsplice), 2 page cache.
    pub origin: u8,
}

/// A regular file's data: size, page cache, pages still as created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InodeRec {
    /// Inode id.
    pub id: u32,
    /// `i_size`.
    pub size: u64,
    /// Pages `0..initial_pages` not in the cache read as `initial_byte`.
    pub initial_pages: u64,
    /// Their byte.
    pub initial_byte: u8,
    /// Cached pages: (page index, frame).
    pub cache: Vec<(u64, u32)>,
}

/// The names: inodes, dentries, mounts, namespaces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VfsRec {
    /// Every inode's metadata.
    pub inodes: Vec<VInodeRec>,
    /// Every dentry.
    pub dentries: Vec<DentryRec>,
    /// Every mount.
    pub mounts: Vec<MountRec>,
    /// (parent mount, mountpoint) → the mount on top.
    pub mountpoints: Vec<(PathRec, u32)>,
    /// Every mount namespace.
    pub namespaces: Vec<NamespaceRec>,
    /// Next dentry/inode/mount id.
    pub next: u32,
    /// Next open-file id.
    pub next_file: u64,
    /// `fs.protected_hardlinks`.
    pub protected_hardlinks: bool,
}

/// An inode's metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VInodeRec {
    /// `i_ino`.
    pub ino: u32,
    /// Regular, directory or symlink (with its target).
    pub kind: InodeKindRec,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// `i_nlink`.
    pub nlink: u32,
    /// Its dentries, oldest first.
    pub aliases: Vec<u32>,
}

/// `S_IFMT`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InodeKindRec {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symlink and its target.
    Symlink(String),
}

/// A dentry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DentryRec {
    /// Its id.
    pub id: u32,
    /// `d_name`.
    pub name: String,
    /// `d_parent`.
    pub parent: u32,
    /// `d_inode`.
    pub inode: u32,
    /// Hashed children by name.
    pub children: Vec<(String, u32)>,
    /// Removed but referenced.
    pub unhashed: bool,
    /// References (open files, roots, cwds, mounts).
    pub refs: u32,
}

/// A mount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRec {
    /// Its id.
    pub id: u32,
    /// Root dentry.
    pub root: u32,
    /// Where it is mounted.
    pub parent: Option<PathRec>,
    /// Its namespace.
    pub ns: u32,
}

/// A mount namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceRec {
    /// Its id.
    pub id: u32,
    /// Root mount.
    pub root: u32,
    /// Processes in it.
    pub users: u32,
}

/// The scenario runner's own state: names → kernel objects, so that a
/// scenario goes on after `restore FILE` with the same names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingsRec {
    /// The process running the scenario's lines.
    pub current: u32,
    /// The scenario's processes by name.
    pub processes: Vec<(String, u32)>,
    /// One entry per scenario object, in declaration order.
    pub handles: Vec<Option<HandleRec>>,
    /// Bytes a blocked write already wrote, by line.
    pub partial: Vec<(u64, u64)>,
    /// Bytes a blocked recv already took, by line.
    pub partial_recv: Vec<(u64, Vec<u8>)>,
}

/// What a scenario object is in the kernel.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HandleRec {
    /// A mapping.
    Buffer(u32),
    /// A pipe and its ends (`None` once closed).
    Pipe {
        /// Pipe id.
        id: u32,
        /// Read end.
        r: Option<i32>,
        /// Write end.
        w: Option<i32>,
    },
    /// A file and its descriptor.
    File {
        /// Inode id.
        ino: u32,
        /// Descriptor.
        fd: Option<i32>,
    },
    /// A TCP pair.
    Tcp {
        /// Connecting end.
        tx: Option<i32>,
        /// Accepted end.
        rx: Option<i32>,
        /// Endpoints.
        socks: (u32, u32),
    },
    /// Creation failed.
    Failed,
}
