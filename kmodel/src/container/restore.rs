//! Restore: a kernel rebuilt from an image, all or nothing.
//!
//! The image is checked against the host first (page size, model version,
//! features: every mismatch named), then a whole new [`Kernel`] is built
//! from the records on the side: frames are allocated the first time a
//! holder names them and referenced again by every later holder, so the
//! sharing of the checkpointed kernel holds again; every id a record names
//! is checked before it is used. The new kernel must pass
//! [`Kernel::check_invariants`]; only then does it replace the target. A
//! refused image leaves the target exactly as it was.
//!
//! Counts that follow from the objects (pipe readers and writers, dentry
//! references, namespace users) are recomputed from the objects restored,
//! as CRIU recreates them by reopening, so an image of some processes only
//! restores consistently.
//!
//! Object ids (pids, pipes, mappings, files, dentries, mounts) are kept, so
//! the page holders, and the scenario runner's bindings, mean the same
//! after a restore. Page frame numbers are not kept: nothing observable
//! depends on them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use page_refs::{ArenaLayout, Content, FrameLayout, Holder, HolderKind, PAGE_SIZE, PageArena, PageId};
use pipe_buffer::{BufFlags, BufOrigin, PipeBuffer, PipeInodeInfo, SizeLimits};

use super::image::{
    ContainerRec, ContentRec, FileKindRec, HolderRec, HostInfo, Image, InodeKindRec, Mismatch, PathRec, PteRec, compat,
};
use crate::kernel::{
    BufferId, Fd, FdTable, File, FileKind, Inode, InodeId, Kernel, KernelConfig, KernelVariant, Pid, PipeId, Process,
    Pte, UserBuffer,
};
use crate::lsm::Era;
use crate::vfs::{Cred, Dentry, DentryId, FsStruct, InodeKind, MntNamespace, MntNsId, Mount, MountId, Path, VInode};

/// The largest object id restore accepts for a pipe (the kernel keeps
/// pipes in a table indexed by id).
const MAX_PIPE_ID: u32 = 1 << 22;
/// The largest descriptor number restore accepts.
const MAX_FD: i32 = 1 << 20;

/// Why an image was not restored. The target kernel is unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreError {
    /// The host cannot run the image: every reason.
    Incompatible(Vec<Mismatch>),
    /// The records do not describe a consistent machine.
    Invalid(String),
    /// The bytes are not an image ([`restore_bytes`]).
    Image(super::ImageError),
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestoreError::Incompatible(m) => {
                write!(f, "image incompatible with this host: ")?;
                for (i, m) in m.iter().enumerate() {
                    if i > 0 {
                        write!(f, "; ")?;
                    }
                    write!(f, "{m}")?;
                }
                Ok(())
            }
            RestoreError::Invalid(why) => write!(f, "inconsistent image: {why}"),
            RestoreError::Image(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RestoreError {}

/// What a restore brought back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Processes.
    pub processes: usize,
    /// Pipes.
    pub pipes: usize,
    /// Regular files.
    pub files: usize,
    /// Page frames (each once, however many holders).
    pub frames: usize,
    /// Frames with more than one holder.
    pub shared_frames: usize,
    /// Page references re-taken (holders).
    pub references: usize,
}

fn invalid<T>(why: impl Into<String>) -> Result<T, RestoreError> {
    Err(RestoreError::Invalid(why.into()))
}

/// Replace `kernel`'s state with the image's, on this host.
///
/// # Errors
/// An incompatible host or an inconsistent image; `kernel` is then
/// unchanged.
pub fn restore(kernel: &mut Kernel, image: &Image) -> Result<RestoreReport, RestoreError> {
    restore_on(kernel, image, &HostInfo::this())
}

/// [`restore`] on a host described by `host` (for compatibility tests).
///
/// # Errors
/// As [`restore`].
pub fn restore_on(kernel: &mut Kernel, image: &Image, host: &HostInfo) -> Result<RestoreReport, RestoreError> {
    let mismatches = compat(&image.meta, host);
    if !mismatches.is_empty() {
        return Err(RestoreError::Incompatible(mismatches));
    }
    let (new, report) = build(image)?;
    *kernel = new;
    Ok(report)
}

/// Decode `bytes` and restore them onto `kernel` (the pages are copied
/// once, from the bytes into the new kernel's frames).
///
/// # Errors
/// Bytes that are not an image ([`RestoreError::Image`]), or as
/// [`restore`]; `kernel` is then unchanged.
pub fn restore_bytes(kernel: &mut Kernel, bytes: &[u8]) -> Result<RestoreReport, RestoreError> {
    let (image, pages) = Image::decode_borrowed(bytes).map_err(RestoreError::Image)?;
    let mismatches = compat(&image.meta, &HostInfo::this());
    if !mismatches.is_empty() {
        return Err(RestoreError::Incompatible(mismatches));
    }
    let (new, report) = build_with(&image, &pages)?;
    *kernel = new;
    Ok(report)
}

/// A kernel built from `image`, checked.
///
/// # Errors
/// As [`restore`].
pub fn build(image: &Image) -> Result<(Kernel, RestoreReport), RestoreError> {
    build_with(image, &image.page_data)
}

/// [`build`] with the page data given apart (`image.page_data` is
/// ignored): see [`Image::decode_borrowed`].
///
/// # Errors
/// As [`restore`].
pub fn build_with(image: &Image, page_data: &[u8]) -> Result<(Kernel, RestoreReport), RestoreError> {
    if image.meta.page_size as usize != PAGE_SIZE {
        return invalid(format!("page size {} is not this host's {PAGE_SIZE}", image.meta.page_size));
    }
    if image.net.is_some() && image.arena.is_none() {
        return invalid("TCP endpoints in an image of some processes (the network is saved with a whole machine)");
    }
    let m = &image.meta;
    let config = KernelConfig {
        pipe_limits: SizeLimits { pipe_max_size: m.config.pipe_max_size, cap_sys_resource: m.config.cap_sys_resource },
        max_map_pages: m.config.max_map_pages,
        event_log: m.config.event_log,
        variant: match m.config.variant {
            0 => KernelVariant::Today,
            1 => KernelVariant::Y2006,
            2 => KernelVariant::Copy,
            n => return invalid(format!("unknown kernel variant {n}")),
        },
    };
    let mut k = Kernel::new(config);
    k.procs.clear();
    k.next_id = m.next_id;
    k.copied = m.copied_bytes;
    k.lsm.set_era(match m.lsm_era {
        0 => Era::Today,
        1 => Era::Y2006,
        n => return invalid(format!("unknown security hook table {n}")),
    });
    {
        let Kernel { net, pages, .. } = &mut k;
        net.advance_to(pages, tcp_sim::Instant(m.now_ns));
    }
    let (pages, frames) = FrameTable::build(image, page_data, m.config.event_log)?;
    k.pages = pages;
    if let Some(rec) = &image.net {
        if rec.now_ns != m.now_ns {
            return invalid(format!("the network's time {} ns is not the machine's {} ns", rec.now_ns, m.now_ns));
        }
        let page = |f: u32| frames.id(f, "a socket's queue").map_err(|e| e.to_string());
        k.net = super::net_image::network(rec, page).map_err(|e| RestoreError::Invalid(format!("network: {e}")))?;
    }
    k.vfs = vfs(&image.vfs)?;
    let known = Known::of(image, &k.vfs)?;

    for rec in &image.inodes {
        let id = InodeId(rec.id);
        let mut cache = BTreeMap::new();
        for &(index, frame) in &rec.cache {
            let id = frames.id(frame, format_args!("page {index} of file {}", rec.id))?;
            if cache.insert(index, id).is_some() {
                return invalid(format!("file {}: page {index} cached twice", rec.id));
            }
        }
        k.inodes.insert(id, Inode::from_parts(id, rec.size, rec.initial_pages, rec.initial_byte, cache));
    }

    let mut ends: HashMap<u32, (u32, u32)> = HashMap::new();
    let mut buffer_ids = BTreeSet::new();
    for rec in &image.processes {
        let pid = Pid(rec.pid);
        if k.procs.contains_key(&pid) {
            return invalid(format!("process {} saved twice", rec.pid));
        }
        let mut fds = FdTable::default();
        let mut seen = BTreeSet::new();
        for f in &rec.fds {
            if !(3..MAX_FD).contains(&f.fd) || !seen.insert(f.fd) {
                return invalid(format!("process {}: descriptor {} out of range or repeated", rec.pid, f.fd));
            }
            let kind = match f.kind {
                FileKindRec::PipeRead(p) => {
                    known.pipe(p)?;
                    ends.entry(p).or_default().0 += 1;
                    FileKind::PipeRead(PipeId(p))
                }
                FileKindRec::PipeWrite(p) => {
                    known.pipe(p)?;
                    ends.entry(p).or_default().1 += 1;
                    FileKind::PipeWrite(PipeId(p))
                }
                FileKindRec::Regular(i) => {
                    if !k.inodes.contains_key(&InodeId(i)) {
                        return invalid(format!("descriptor {} refers to file {i}, which is not in the image", f.fd));
                    }
                    FileKind::Regular(InodeId(i))
                }
                FileKindRec::Directory(i) => {
                    if k.vfs.inode(InodeId(i)).is_none_or(|v| v.kind != InodeKind::Directory) {
                        return invalid(format!("descriptor {} refers to directory {i}, which is not one", f.fd));
                    }
                    FileKind::Directory(InodeId(i))
                }
                FileKindRec::Socket(s) => {
                    if k.net.mode(tcp_sim::SockId(s)).is_none() {
                        return invalid(format!("descriptor {} is TCP endpoint {s}, which is not in the image", f.fd));
                    }
                    FileKind::Socket(tcp_sim::SockId(s))
                }
            };
            let path = match f.path {
                Some((p, id)) => Some(crate::vfs::OpenPath { path: known.path(p)?, id: crate::vfs::OpenFileId(id) }),
                None => None,
            };
            fds.install_at(
                Fd(f.fd),
                File { kind, readable: f.readable, writable: f.writable, nonblock: f.nonblock, pos: f.pos, path },
            );
        }
        let mut mm = BTreeMap::new();
        for b in &rec.buffers {
            if !buffer_ids.insert(b.id) {
                return invalid(format!("mapping {} saved twice", b.id));
            }
            let mut ptes = Vec::with_capacity(b.ptes.len());
            for (i, pte) in b.ptes.iter().enumerate() {
                ptes.push(match *pte {
                    PteRec::None => Pte::None,
                    PteRec::Zero => Pte::Zero,
                    PteRec::Page(f) => Pte::Page(frames.id(f, format_args!("page {i} of mapping {}", b.id))?),
                });
            }
            mm.insert(BufferId(b.id), UserBuffer::from_ptes(BufferId(b.id), ptes));
        }
        if !k.vfs.namespaces.contains_key(&MntNsId(rec.ns)) {
            return invalid(format!("process {}: mount namespace {} is not in the image", rec.pid, rec.ns));
        }
        let fs =
            FsStruct { root: known.path(rec.root)?, pwd: known.path(rec.pwd)?, umask: rec.umask, ns: MntNsId(rec.ns) };
        let cred = Cred { uid: rec.uid, gid: rec.gid, groups: rec.groups.clone() };
        k.procs.insert(pid, Process { fds, mm, cred, fs, comm: rec.comm.clone(), exe: rec.exe.clone(), ve: None });
    }

    for rec in &image.pipes {
        let mut bufs = Vec::with_capacity(rec.bufs.len());
        for b in &rec.bufs {
            let flags = BufFlags::from_bits(b.flags).ok_or_else(|| {
                RestoreError::Invalid(format!("pipe {}: unknown buffer flags {:#x}", rec.id, b.flags))
            })?;
            let origin = match b.origin {
                0 => BufOrigin::Anon,
                1 => BufOrigin::User,
                2 => BufOrigin::PageCache,
                n => return invalid(format!("pipe {}: unknown buffer origin {n}", rec.id)),
            };
            let page = frames.id(b.frame, format_args!("a buffer of pipe {}", rec.id))?;
            bufs.push(PipeBuffer { page, offset: b.offset, len: b.len, flags, origin });
        }
        let (r, w) = ends.get(&rec.id).copied().unwrap_or_default();
        let pipe = PipeInodeInfo::from_parts(rec.id, rec.ring_size, rec.max_usage, rec.head, r, w, bufs)
            .map_err(RestoreError::Invalid)?;
        k.pipes.insert(PipeId(rec.id), pipe);
    }

    containers(&mut k, &image.containers)?;
    if let Some(rec) = &image.lsm {
        super::lsm_image::restore_lsm(&mut k, rec)?;
    }
    recount_vfs(&mut k);
    k.check_invariants().map_err(|e| RestoreError::Invalid(e.to_string()))?;
    let report = RestoreReport {
        processes: image.processes.len(),
        pipes: image.pipes.len(),
        files: image.inodes.len(),
        frames: image.frames.len(),
        shared_frames: frames.holders.iter().filter(|n| **n > 1).count(),
        references: frames.holders.iter().sum(),
    };
    Ok((k, report))
}

/// The containers: each PID namespace over the restored processes, its
/// counters as saved, each process told which container it is in.
fn containers(k: &mut Kernel, recs: &[ContainerRec]) -> Result<(), RestoreError> {
    use super::beancounter::{BeanCounter, Beancounters};
    use super::ve::{Container, VeId};
    let mut names = BTreeSet::new();
    for rec in recs {
        let id = VeId(rec.id);
        if k.containers.contains_key(&id) || !names.insert(rec.name.as_str()) {
            return invalid(format!("container {} ({}) saved twice", rec.id, rec.name));
        }
        if rec.name.is_empty() {
            return invalid(format!("container {} has no name", rec.id));
        }
        let counters: [BeanCounter; 4] = rec
            .counters
            .iter()
            .map(|c| BeanCounter { held: c.held, maxheld: c.maxheld, limit: c.limit, failcnt: c.failcnt })
            .collect::<Vec<_>>()
            .try_into()
            .map_err(|v: Vec<_>| {
                RestoreError::Invalid(format!("container {}: {} counters, not 4", rec.name, v.len()))
            })?;
        let mut vpids = BTreeMap::new();
        for &(v, p) in &rec.vpids {
            if v == 0 || v >= rec.next_vpid {
                return invalid(format!("container {}: virtual pid {v} not in 1..{}", rec.name, rec.next_vpid));
            }
            let proc = k.procs.get_mut(&Pid(p)).ok_or_else(|| {
                RestoreError::Invalid(format!("container {}: process {p} is not in the image", rec.name))
            })?;
            if proc.ve.replace(id).is_some() || vpids.insert(v, Pid(p)).is_some() {
                return invalid(format!("container {}: process {p} or virtual pid {v} twice", rec.name));
            }
            if v == 1 && rec.mnt_ns != Some(proc.fs.ns.0) {
                return invalid(format!(
                    "container {}: its init is in mount namespace {}, the record says {:?}",
                    rec.name, proc.fs.ns.0, rec.mnt_ns
                ));
            }
        }
        let c = Container::restored(rec.name.clone(), vpids, rec.next_vpid, Beancounters::from_counters(counters));
        k.containers.insert(id, c);
    }
    Ok(())
}

/// The frames brought back: an arena with every frame of the image, and
/// each frame's id in it.
struct FrameTable {
    ids: Vec<PageId>,
    holders: Vec<usize>,
}

pub(crate) fn holder(h: &HolderRec) -> Result<Holder, RestoreError> {
    let kind = match h.kind {
        0 => HolderKind::User,
        1 => HolderKind::Pipe,
        2 => HolderKind::PageCache,
        3 => HolderKind::Socket,
        4 => HolderKind::Kernel,
        n => return invalid(format!("unknown holder kind {n}")),
    };
    Ok(Holder { kind, object: h.object, index: h.index })
}

impl FrameTable {
    /// The arena: with the image's allocator state when it has one (the
    /// same frame numbers as before), else fresh frames.
    fn build(image: &Image, page_data: &[u8], log: bool) -> Result<(PageArena, FrameTable), RestoreError> {
        let mut at = 0;
        let mut contents = Vec::with_capacity(image.frames.len());
        let mut zero = None;
        for (i, f) in image.frames.iter().enumerate() {
            contents.push(match f.content {
                ContentRec::Zero => {
                    if zero.replace(i).is_some() {
                        return invalid("two zero pages");
                    }
                    Content::Uniform(0)
                }
                ContentRec::Uniform(b) => Content::Uniform(b),
                ContentRec::Bytes => {
                    let Some(page) = page_data.get(at..at + PAGE_SIZE) else {
                        return invalid(format!("frame {i}: page data ends at {}", page_data.len()));
                    };
                    at += PAGE_SIZE;
                    let bytes: Box<[u8; PAGE_SIZE]> = page.to_vec().into_boxed_slice().try_into().expect("one page");
                    Content::Bytes(bytes)
                }
            });
            if f.holders.is_empty() {
                return invalid(format!("frame {i} is held by nothing"));
            }
            // A zero PTE holds no reference: a mapping holding the zero
            // page would write into it in place.
            if f.content == ContentRec::Zero && f.holders.iter().any(|h| h.kind == 0) {
                return invalid(format!("frame {i}: a mapping holds the zero page"));
            }
        }
        if at != page_data.len() {
            return invalid(format!("page data holds {} bytes, the frames need {at}", page_data.len()));
        }
        let holders: Vec<usize> = image.frames.iter().map(|f| f.holders.len()).collect();
        if let Some(arena) = &image.arena {
            let Some(z) = zero else { return invalid("the image of a whole machine has no zero page") };
            let zf = &image.frames[z];
            let layout = ArenaLayout {
                generations: arena.generations.clone(),
                free: arena.free.clone(),
                freed: arena.freed,
                zero: PageId { index: zf.pfn, generation: zf.generation },
            };
            let mut frames = Vec::with_capacity(image.frames.len());
            let mut ids = Vec::with_capacity(image.frames.len());
            for (f, content) in image.frames.iter().zip(contents) {
                let id = PageId { index: f.pfn, generation: f.generation };
                let holders = f.holders.iter().map(holder).collect::<Result<Vec<_>, _>>()?;
                frames.push(FrameLayout { id, holders, content, version: f.version });
                ids.push(id);
            }
            let pages = PageArena::from_layout(layout, frames, log).map_err(RestoreError::Invalid)?;
            return Ok((pages, FrameTable { ids, holders }));
        }
        let mut pages = if log { PageArena::new() } else { PageArena::without_log() };
        let mut ids = Vec::with_capacity(image.frames.len());
        for (f, content) in image.frames.iter().zip(contents) {
            let hs = f.holders.iter().map(holder).collect::<Result<Vec<_>, _>>()?;
            let id = if f.content == ContentRec::Zero {
                let z = pages.zero_page();
                for h in hs.into_iter().filter(|h| *h != Holder::KERNEL) {
                    pages.get(z, h);
                }
                z
            } else {
                let id = pages.alloc_with(hs[0], content);
                for h in &hs[1..] {
                    pages.get(id, *h);
                }
                id
            };
            ids.push(id);
        }
        Ok((pages, FrameTable { ids, holders }))
    }

    /// The id of frame `i`.
    fn id(&self, i: u32, who: impl fmt::Display) -> Result<PageId, RestoreError> {
        match self.ids.get(i as usize) {
            Some(id) => Ok(*id),
            None => invalid(format!("{who} refers to frame {i}, the image has {}", self.ids.len())),
        }
    }
}

/// The ids the records may refer to, checked once.
struct Known<'a> {
    pipes: BTreeSet<u32>,
    vfs: &'a crate::vfs::Vfs,
}

impl<'a> Known<'a> {
    fn of(image: &Image, vfs: &'a crate::vfs::Vfs) -> Result<Self, RestoreError> {
        let mut pipes = BTreeSet::new();
        for p in &image.pipes {
            if p.id >= MAX_PIPE_ID || !pipes.insert(p.id) {
                return invalid(format!("pipe id {} repeated or above {MAX_PIPE_ID}", p.id));
            }
        }
        Ok(Known { pipes, vfs })
    }

    fn pipe(&self, id: u32) -> Result<(), RestoreError> {
        if self.pipes.contains(&id) {
            Ok(())
        } else {
            invalid(format!("a descriptor refers to pipe {id}, not in the image"))
        }
    }

    fn path(&self, p: PathRec) -> Result<Path, RestoreError> {
        let path = Path { mnt: MountId(p.mnt), dentry: DentryId(p.dentry) };
        if self.vfs.mount(path.mnt).is_none() || self.vfs.dentry(path.dentry).is_none() {
            return invalid(format!("path (mount {}, dentry {}) is not in the image", p.mnt, p.dentry));
        }
        Ok(path)
    }
}

/// The VFS from its records, every id checked.
fn vfs(rec: &super::image::VfsRec) -> Result<crate::vfs::Vfs, RestoreError> {
    let mut v = crate::vfs::Vfs::new();
    v.inodes.clear();
    v.dentries.clear();
    v.mounts.clear();
    v.mountpoints.clear();
    v.namespaces.clear();
    v.next = rec.next;
    v.next_file = rec.next_file;
    v.protected_hardlinks = rec.protected_hardlinks;
    for i in &rec.inodes {
        let kind = match &i.kind {
            InodeKindRec::Regular => InodeKind::Regular,
            InodeKindRec::Directory => InodeKind::Directory,
            InodeKindRec::Symlink(t) => InodeKind::Symlink(t.clone()),
        };
        let inode = VInode {
            ino: InodeId(i.ino),
            kind,
            mode: i.mode,
            uid: i.uid,
            gid: i.gid,
            nlink: i.nlink,
            aliases: i.aliases.iter().map(|d| DentryId(*d)).collect(),
        };
        if v.inodes.insert(InodeId(i.ino), inode).is_some() {
            return invalid(format!("inode {} saved twice", i.ino));
        }
    }
    for d in &rec.dentries {
        let dentry = Dentry {
            name: d.name.clone(),
            parent: DentryId(d.parent),
            inode: InodeId(d.inode),
            children: d.children.iter().map(|(n, c)| (n.clone(), DentryId(*c))).collect(),
            unhashed: d.unhashed,
            refs: d.refs,
        };
        if v.dentries.insert(DentryId(d.id), dentry).is_some() {
            return invalid(format!("dentry {} saved twice", d.id));
        }
    }
    for m in &rec.mounts {
        let parent = m.parent.map(|p| Path { mnt: MountId(p.mnt), dentry: DentryId(p.dentry) });
        if v.mounts.insert(MountId(m.id), Mount { root: DentryId(m.root), parent, ns: MntNsId(m.ns) }).is_some() {
            return invalid(format!("mount {} saved twice", m.id));
        }
    }
    for (p, m) in &rec.mountpoints {
        let path = Path { mnt: MountId(p.mnt), dentry: DentryId(p.dentry) };
        if v.mountpoints.insert(path, MountId(*m)).is_some() {
            return invalid(format!("mountpoint (mount {}, dentry {}) saved twice", p.mnt, p.dentry));
        }
    }
    for n in &rec.namespaces {
        if v.namespaces.insert(MntNsId(n.id), MntNamespace { root: MountId(n.root), users: n.users }).is_some() {
            return invalid(format!("namespace {} saved twice", n.id));
        }
    }
    // Every id named must exist, so that the invariant checker (which
    // trusts the ids) can run.
    let dentry = |d: &DentryId, who: &str| {
        if v.dentries.contains_key(d) {
            Ok(())
        } else {
            invalid(format!("{who} names dentry {}, not in the image", d.0))
        }
    };
    let mount = |m: &MountId, who: &str| {
        if v.mounts.contains_key(m) { Ok(()) } else { invalid(format!("{who} names mount {}, not in the image", m.0)) }
    };
    for (id, i) in &v.inodes {
        for a in &i.aliases {
            dentry(a, &format!("inode {}", id.0))?;
        }
    }
    for (id, d) in &v.dentries {
        let who = format!("dentry {}", id.0);
        dentry(&d.parent, &who)?;
        if !v.inodes.contains_key(&d.inode) {
            return invalid(format!("{who} names inode {}, not in the image", d.inode.0));
        }
        for c in d.children.values() {
            dentry(c, &who)?;
        }
    }
    for (id, m) in &v.mounts {
        let who = format!("mount {}", id.0);
        dentry(&m.root, &who)?;
        if let Some(p) = m.parent {
            mount(&p.mnt, &who)?;
            dentry(&p.dentry, &who)?;
        }
        if !v.namespaces.contains_key(&m.ns) {
            return invalid(format!("{who} is in namespace {}, not in the image", m.ns.0));
        }
    }
    for (p, m) in &v.mountpoints {
        mount(&p.mnt, "a mountpoint")?;
        dentry(&p.dentry, "a mountpoint")?;
        mount(m, "a mountpoint")?;
    }
    for (id, n) in &v.namespaces {
        mount(&n.root, &format!("namespace {}", id.0))?;
    }
    if !v.dentries.contains_key(&crate::vfs::ROOT_DENTRY) || !v.mounts.contains_key(&crate::vfs::ROOT_MOUNT) {
        return invalid("the root dentry or root mount is missing");
    }
    Ok(v)
}

/// Dentry reference counts and namespace user counts follow from the
/// objects restored (children, roots and working directories, open files,
/// mounts), not from the image: an image of some processes only leaves out
/// the references of the others.
fn recount_vfs(k: &mut Kernel) {
    let Kernel { vfs, procs, .. } = k;
    let mut refs: BTreeMap<DentryId, u32> = vfs.dentries.keys().map(|d| (*d, 0)).collect();
    let mut hold = |d: DentryId| {
        if let Some(n) = refs.get_mut(&d) {
            *n += 1;
        }
    };
    for (id, d) in &vfs.dentries {
        if d.parent != *id {
            hold(d.parent);
        }
    }
    let mut files = BTreeSet::new();
    let mut users: BTreeMap<MntNsId, u32> = BTreeMap::new();
    for p in procs.values() {
        hold(p.fs.root.dentry);
        hold(p.fs.pwd.dentry);
        *users.entry(p.fs.ns).or_default() += 1;
        for (_, f) in p.fds.iter() {
            if let Some(op) = f.path
                && files.insert(op.id)
            {
                hold(op.path.dentry);
            }
        }
    }
    for m in vfs.mounts.values() {
        hold(m.root);
        if let Some(p) = m.parent {
            hold(p.dentry);
        }
    }
    for (d, n) in refs {
        if let Some(dentry) = vfs.dentries.get_mut(&d) {
            dentry.refs = n;
        }
    }
    for (id, ns) in &mut vfs.namespaces {
        ns.users = users.get(id).copied().unwrap_or(0);
    }
}

impl Kernel {
    /// Carry on `older`'s page event log (see
    /// [`PageArena::continue_log`]): the scenario runner's `restore`
    /// replaces the machine but not the run's history.
    pub fn continue_log_from(&mut self, older: &mut Kernel) {
        self.pages.continue_log(&mut older.pages);
    }
}
