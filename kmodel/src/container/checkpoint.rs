//! Checkpoint: the kernel's state as the interface serializer saves it.
//!
//! Walks the given processes and everything they reach (descriptor tables,
//! the pipes and files behind them, mappings), plus the machine-wide state
//! they use (the VFS, every regular file's data, simulated time), and
//! writes records (`image/v1.rs`). Every page frame is entered once in the
//! frame table, the first time any holder names it; later holders name the
//! same index, so sharing (tee, vmsplice, splice from the page cache) is in
//! the image as it is in the kernel.
//!
//! The model's structs are destructured without `..`: a field added to
//! one of them stops this file from compiling until someone decides
//! whether and how the image saves it (then, if the records change, bump
//! the format version and add a migration).

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use page_refs::{Content, Holder, HolderKind, PAGE_SIZE, PageArena, PageId};
use pipe_buffer::{BufOrigin, PipeBuffer};

use super::beancounter::{BeanCounter, Resource};
use super::image::{
    ArenaRec, BeanCounterRec, BufferRec, ConfigRec, ContainerRec, ContentRec, DentryRec, FdRec, FileKindRec, FrameRec,
    HolderRec, Image, InodeKindRec, InodeRec, Meta, MountRec, NamespaceRec, PathRec, PipeBufRec, PipeRec, ProcessRec,
    PteRec, Serializer, VInodeRec, VfsRec,
};
use crate::kernel::{File, FileKind, Kernel, KernelConfig, KernelVariant, Pid, PipeId, Process, Pte};
use crate::lsm::Era;
use crate::vfs::{Cred, FsStruct, InodeKind, Path};

/// Why a checkpoint could not be taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckpointError {
    /// A pid that is not a process.
    NoSuchProcess(u32),
    /// No process was named.
    NoProcesses,
    /// State the image format cannot hold yet.
    Unsupported(String),
    /// An object of the set is also held from outside it (see
    /// [`checkpoint_set`](super::checkpoint_set)): named.
    Shared(String),
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::NoSuchProcess(p) => write!(f, "no process {p} to checkpoint"),
            CheckpointError::NoProcesses => write!(f, "no process to checkpoint"),
            CheckpointError::Unsupported(what) => write!(f, "cannot checkpoint {what}"),
            CheckpointError::Shared(what) => write!(f, "cannot checkpoint the set alone: {what}"),
        }
    }
}

impl std::error::Error for CheckpointError {}

/// Where page contents come from: the live arena, or the frames of a
/// decoded internal image.
pub(crate) trait PageSource {
    fn is_zero_page(&self, id: PageId) -> bool;
    fn content(&self, id: PageId) -> Option<&Content>;
    fn version(&self, id: PageId) -> u32;
}

impl PageSource for PageArena {
    fn is_zero_page(&self, id: PageId) -> bool {
        PageArena::is_zero_page(self, id)
    }

    fn content(&self, id: PageId) -> Option<&Content> {
        self.is_live(id).then(|| PageArena::content(self, id))
    }

    fn version(&self, id: PageId) -> u32 {
        if self.is_live(id) { PageArena::version(self, id) } else { 0 }
    }
}

/// A multiplicative hash for page ids (SipHash cost a tenth of a
/// checkpoint): ids are not attacker-chosen, the kernel hands them out.
#[derive(Default, Clone, Copy)]
pub(crate) struct PageIdHasher(u64);

impl std::hash::Hasher for PageIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u8(*b);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0.rotate_left(32) ^ u64::from(n)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type PageIdMap = HashMap<PageId, u32, std::hash::BuildHasherDefault<PageIdHasher>>;

/// The frame table under construction: each live page once.
#[derive(Default)]
pub(crate) struct Frames {
    index: PageIdMap,
    pub(crate) frames: Vec<FrameRec>,
    pub(crate) page_data: Vec<u8>,
    /// CRC-32 of the page bytes gathered, computed while they are in cache.
    pub(crate) page_crc: crc32fast::Hasher,
    /// A page some holder names but the source does not have.
    pub(crate) missing: Option<PageId>,
}

pub(crate) fn holder_rec(h: Holder) -> HolderRec {
    let kind = match h.kind {
        HolderKind::User => 0,
        HolderKind::Pipe => 1,
        HolderKind::PageCache => 2,
        HolderKind::Socket => 3,
        HolderKind::Kernel => 4,
    };
    HolderRec { kind, object: h.object, index: h.index }
}

impl Frames {
    /// The index of `page`'s frame, entering it on first sight.
    pub(crate) fn enter(&mut self, pages: &impl PageSource, page: PageId) -> u32 {
        if let Some(&i) = self.index.get(&page) {
            return i;
        }
        let i = self.frames.len() as u32;
        let content = if pages.is_zero_page(page) {
            ContentRec::Zero
        } else {
            match pages.content(page) {
                Some(Content::Uniform(b)) => ContentRec::Uniform(*b),
                Some(Content::Bytes(bytes)) => {
                    self.page_data.extend_from_slice(&bytes[..]);
                    self.page_crc.update(&bytes[..]);
                    ContentRec::Bytes
                }
                None => {
                    self.missing.get_or_insert(page);
                    ContentRec::Uniform(0)
                }
            }
        };
        let holders = if pages.is_zero_page(page) { vec![holder_rec(Holder::KERNEL)] } else { Vec::new() };
        let version = pages.version(page);
        self.frames.push(FrameRec { pfn: page.index, generation: page.generation, holders, content, version });
        self.index.insert(page, i);
        i
    }

    /// The index of `page`'s frame, with `holder` added to its holders.
    pub(crate) fn of(&mut self, pages: &impl PageSource, page: PageId, holder: Holder) -> u32 {
        let i = self.enter(pages, page);
        self.frames[i as usize].holders.push(holder_rec(holder));
        i
    }
}

/// Save `pids` and everything they reach.
///
/// # Errors
/// An unknown pid, or state the format cannot hold yet
/// ([`CheckpointError::Unsupported`] names which).
pub fn checkpoint(kernel: &Kernel, pids: &[Pid]) -> Result<Image, CheckpointError> {
    capture(kernel, pids, Vec::new()).map(|(image, _)| image)
}

/// [`checkpoint`] straight to bytes: the same bytes as
/// `checkpoint(..)?.encode()`, with the pages copied once, from the
/// kernel into the output.
///
/// # Errors
/// As [`checkpoint`].
pub fn checkpoint_bytes(kernel: &Kernel, pids: &[Pid]) -> Result<Vec<u8>, CheckpointError> {
    let (image, crc) = capture(kernel, pids, vec![0; super::image::PAGE_DATA_PREFIX])?;
    Ok(image.into_bytes_prefixed(crc))
}

/// [`checkpoint_bytes`] into `out` (cleared first), reusing its memory: a
/// migration that checkpoints again and again does not pay for fresh
/// pages of output each time.
///
/// # Errors
/// As [`checkpoint`]; `out` is then empty.
pub fn checkpoint_into(kernel: &Kernel, pids: &[Pid], out: &mut Vec<u8>) -> Result<(), CheckpointError> {
    let mut buf = std::mem::take(out);
    buf.clear();
    buf.resize(super::image::PAGE_DATA_PREFIX, 0);
    let (image, crc) = capture(kernel, pids, buf)?;
    *out = image.into_bytes_prefixed(crc);
    Ok(())
}

/// The image, its page data gathered after `page_data`'s first bytes, and
/// the CRC-32 of the page bytes.
fn capture(kernel: &Kernel, pids: &[Pid], page_data: Vec<u8>) -> Result<(Image, u32), CheckpointError> {
    if pids.is_empty() {
        return Err(CheckpointError::NoProcesses);
    }
    let pages = kernel.pages();
    let mut frames = Frames { page_data, ..Frames::default() };
    let pids: BTreeSet<Pid> = pids.iter().copied().collect();
    // The whole machine: every frame, in frame-number order, with its
    // holders as the arena records them, and the allocator's state, so a
    // restore hands out the very same frame numbers.
    let whole = kernel.procs.keys().all(|p| pids.contains(p));
    if whole {
        let with_bytes = pages.iter().filter(|(id, _)| matches!(pages.content(*id), Content::Bytes(_))).count();
        frames.page_data.reserve_exact(with_bytes * PAGE_SIZE);
        for (id, _) in pages.iter() {
            frames.enter(pages, id);
        }
    }
    let mut processes = Vec::new();
    let mut pipes: BTreeSet<PipeId> = BTreeSet::new();
    for &pid in &pids {
        let proc = kernel.process(pid).ok_or(CheckpointError::NoSuchProcess(pid.0))?;
        processes.push(process_rec(pid, proc, pages, &mut frames, &mut pipes));
    }
    let pipes = pipes
        .into_iter()
        .map(|id| {
            let pipe = kernel.pipe(id).expect("an open pipe descriptor's pipe exists");
            pipe_rec(id, pipe.ring_size(), pipe.max_usage(), pipe.head(), pipe.buffers(), pages, &mut frames)
        })
        .collect();
    let inodes = kernel.inodes.values().map(|inode| inode_rec(inode, &mut frames, pages)).collect();
    let arena = whole.then(|| {
        for (f, (_, holders)) in frames.frames.iter_mut().zip(pages.iter()) {
            f.holders = holders.iter().copied().map(holder_rec).collect();
        }
        let page_refs::ArenaLayout { generations, free, freed, zero: _ } = pages.layout();
        ArenaRec { generations, free, freed }
    });
    // The network is one for the whole machine: saved with an image of the
    // whole machine (its queues' pages are among the frames already).
    let net = if kernel.net.is_unused() {
        None
    } else if whole {
        Some(super::net_image::net_rec(&kernel.net, |page| frames.enter(pages, page)))
    } else {
        let s = kernel.net.sockets().next().map_or(0, |s| s.0);
        return Err(CheckpointError::Unsupported(format!(
            "TCP endpoint {s} in an image of some processes: the network is saved with the whole machine"
        )));
    };
    let containers = containers_rec(kernel, &pids);
    let lsm = super::lsm_image::lsm_rec(kernel, &pids, &processes)?;
    let meta = meta(kernel, &pids);
    let mut image = Image {
        serializer: Serializer::Interface,
        meta,
        frames: frames.frames,
        page_data: frames.page_data,
        processes,
        pipes,
        inodes,
        vfs: vfs_rec(kernel.vfs()),
        bindings: None,
        arena,
        net,
        lsm,
        containers,
        runner: None,
    };
    image.require_features();
    Ok((image, frames.page_crc.finalize()))
}

/// The containers that hold some of `pids`, with those of their processes
/// (an image of one container holds its whole PID namespace).
pub(crate) fn containers_rec(kernel: &Kernel, pids: &BTreeSet<Pid>) -> Vec<ContainerRec> {
    let mut out = Vec::new();
    for (id, c) in kernel.containers() {
        let vpids: Vec<(u32, u32)> = c.pids().filter(|(_, p)| pids.contains(p)).map(|(v, p)| (v, p.0)).collect();
        if vpids.is_empty() {
            continue;
        }
        let ub = c.beancounters();
        let counters = Resource::ALL
            .iter()
            .map(|r| {
                let BeanCounter { held, maxheld, limit, failcnt } = ub.get(*r);
                BeanCounterRec { held, maxheld, limit, failcnt }
            })
            .collect();
        let mnt_ns = c.find_vpid(1).and_then(|p| kernel.process(p)).map(|p| p.fs.ns.0);
        out.push(ContainerRec { id: id.0, name: c.name.clone(), vpids, next_vpid: c.next_vpid(), counters, mnt_ns });
    }
    out
}

pub(crate) fn meta(kernel: &Kernel, pids: &BTreeSet<Pid>) -> Meta {
    let KernelConfig { pipe_limits, max_map_pages, event_log, variant } = *kernel.config();
    let pipe_buffer::SizeLimits { pipe_max_size, cap_sys_resource } = pipe_limits;
    let mut features = vec!["pages".to_owned(), "files".to_owned(), "vfs".to_owned()];
    if kernel.pipes.values().next().is_some() {
        features.insert(1, "pipes".to_owned());
    }
    Meta {
        page_size: PAGE_SIZE as u32,
        model_version: env!("CARGO_PKG_VERSION").to_owned(),
        features,
        config: ConfigRec {
            pipe_max_size,
            cap_sys_resource,
            max_map_pages,
            event_log,
            variant: match variant {
                KernelVariant::Today => 0,
                KernelVariant::Y2006 => 1,
                KernelVariant::Copy => 2,
            },
        },
        next_id: kernel.next_id,
        now_ns: kernel.net.now().0,
        copied_bytes: kernel.copied_bytes(),
        lsm_era: match kernel.lsm().era() {
            Era::Today => 0,
            Era::Y2006 => 1,
        },
        pids: pids.iter().map(|p| p.0).collect(),
    }
}

pub(crate) fn path_rec(p: Path) -> PathRec {
    PathRec { mnt: p.mnt.0, dentry: p.dentry.0 }
}

pub(crate) fn process_rec(
    pid: Pid,
    proc: &Process,
    pages: &impl PageSource,
    frames: &mut Frames,
    pipes: &mut BTreeSet<PipeId>,
) -> ProcessRec {
    let Process { fds, mm, cred, fs, comm, exe, ve: _ } = proc;
    let Cred { uid, gid, groups } = cred.clone();
    let FsStruct { root, pwd, umask, ns } = *fs;
    let fds = fds
        .iter()
        .map(|(fd, file)| {
            let File { kind, readable, writable, nonblock, pos, path } = *file;
            if let Some(p) = file.pipe() {
                pipes.insert(p);
            }
            let kind = match kind {
                FileKind::PipeRead(p) => FileKindRec::PipeRead(p.0),
                FileKind::PipeWrite(p) => FileKindRec::PipeWrite(p.0),
                FileKind::Regular(i) => FileKindRec::Regular(i.0),
                FileKind::Socket(s) => FileKindRec::Socket(s.0),
                FileKind::Directory(i) => FileKindRec::Directory(i.0),
            };
            let path = path.map(|crate::vfs::OpenPath { path, id }| (path_rec(path), id.0));
            FdRec { fd: fd.0, kind, readable, writable, nonblock, pos, path }
        })
        .collect();
    let buffers = mm
        .iter()
        .map(|(id, buf)| BufferRec {
            id: id.0,
            ptes: buf
                .ptes()
                .iter()
                .enumerate()
                .map(|(i, pte)| match *pte {
                    Pte::None => PteRec::None,
                    Pte::Zero => PteRec::Zero,
                    Pte::Page(p) => PteRec::Page(frames.of(pages, p, Holder::user(id.0, i as u32))),
                })
                .collect(),
        })
        .collect();
    ProcessRec {
        pid: pid.0,
        comm: comm.clone(),
        exe: exe.clone(),
        uid,
        gid,
        groups,
        root: path_rec(root),
        pwd: path_rec(pwd),
        umask,
        ns: ns.0,
        fds,
        buffers,
    }
}

pub(crate) fn pipe_rec<'a>(
    id: PipeId,
    ring_size: u32,
    max_usage: u32,
    head: u32,
    bufs: impl Iterator<Item = &'a PipeBuffer>,
    pages: &impl PageSource,
    frames: &mut Frames,
) -> PipeRec {
    let bufs = bufs
        .map(|b| {
            let PipeBuffer { page, offset, len, flags, origin } = *b;
            PipeBufRec {
                frame: frames.of(pages, page, Holder::pipe(id.0)),
                offset,
                len,
                flags: flags.bits(),
                origin: match origin {
                    BufOrigin::Anon => 0,
                    BufOrigin::User => 1,
                    BufOrigin::PageCache => 2,
                },
            }
        })
        .collect();
    PipeRec { id: id.0, ring_size, max_usage, head, bufs }
}

pub(crate) fn inode_rec(inode: &crate::kernel::Inode, frames: &mut Frames, pages: &impl PageSource) -> InodeRec {
    let (initial_pages, initial_byte) = inode.initial();
    InodeRec {
        id: inode.id().0,
        size: inode.size,
        initial_pages,
        initial_byte,
        cache: inode.cached().map(|(i, p)| (i, frames.of(pages, p, inode.page_holder(i)))).collect(),
    }
}

pub(crate) fn vfs_rec(vfs: &crate::vfs::Vfs) -> VfsRec {
    let crate::vfs::Vfs { inodes, dentries, mounts, mountpoints, namespaces, next, next_file, protected_hardlinks } =
        vfs;
    let mut mountpoints: Vec<(PathRec, u32)> = mountpoints.iter().map(|(p, m)| (path_rec(*p), m.0)).collect();
    mountpoints.sort();
    VfsRec {
        inodes: inodes
            .values()
            .map(|i| {
                let crate::vfs::VInode { ino, kind, mode, uid, gid, nlink, aliases } = i;
                VInodeRec {
                    ino: ino.0,
                    kind: match kind {
                        InodeKind::Regular => InodeKindRec::Regular,
                        InodeKind::Directory => InodeKindRec::Directory,
                        InodeKind::Symlink(t) => InodeKindRec::Symlink(t.clone()),
                    },
                    mode: *mode,
                    uid: *uid,
                    gid: *gid,
                    nlink: *nlink,
                    aliases: aliases.iter().map(|d| d.0).collect(),
                }
            })
            .collect(),
        dentries: dentries
            .iter()
            .map(|(id, d)| {
                let crate::vfs::Dentry { name, parent, inode, children, unhashed, refs } = d;
                DentryRec {
                    id: id.0,
                    name: name.clone(),
                    parent: parent.0,
                    inode: inode.0,
                    children: children.iter().map(|(n, c)| (n.clone(), c.0)).collect(),
                    unhashed: *unhashed,
                    refs: *refs,
                }
            })
            .collect(),
        mounts: mounts
            .iter()
            .map(|(id, m)| {
                let crate::vfs::Mount { root, parent, ns } = m;
                MountRec { id: id.0, root: root.0, parent: parent.map(path_rec), ns: ns.0 }
            })
            .collect(),
        mountpoints,
        namespaces: namespaces
            .iter()
            .map(|(id, n)| {
                let crate::vfs::MntNamespace { root, users } = n;
                NamespaceRec { id: id.0, root: root.0, users: *users }
            })
            .collect(),
        next: *next,
        next_file: *next_file,
        protected_hardlinks: *protected_hardlinks,
    }
}

/// [`sharing`]'s answer: per frame, its sorted holders and its bytes.
pub type Sharing = Vec<(Vec<Holder>, String)>;

/// A canonical description of page sharing: for every live frame, its
/// holders (sorted) and its bytes as runs, the frames sorted. Object ids
/// survive a restore, page ids need not, so two kernels with the same
/// sharing structure give equal descriptions.
pub fn sharing(kernel: &Kernel) -> Sharing {
    let pages = kernel.pages();
    let mut out: Sharing = pages
        .iter()
        .map(|(id, holders)| {
            let mut h = holders.to_vec();
            h.sort();
            let mut bytes = Vec::new();
            pages.read_into(id, 0, PAGE_SIZE, &mut bytes);
            let mut runs = if pages.is_zero_page(id) { "zero page ".to_owned() } else { String::new() };
            crate::scenario::write_runs(&mut runs, &bytes);
            (h, runs)
        })
        .collect();
    out.sort();
    out
}
