//! Graft: an image of some processes (a container's) restored INTO a
//! running kernel, next to what already runs there.
//!
//! [`restore`](super::restore()) replaces a whole machine; a graft adds to
//! one. Every object of the image gets a fresh id on the target (pids,
//! mappings, pipes, files: the kernel's one id counter hands them out, so
//! nothing the host runs is renamed), every reference is remapped through
//! those maps (descriptors, page holders, pipe slots, page caches), and
//! page frames are allocated fresh, once per image frame, so the sharing
//! inside the image (a pipe and a user buffer after vmsplice, two pipes
//! after tee, a page-cache page spliced into a pipe) holds again.
//! Descriptor numbers stay: descriptor tables are per process. Virtual
//! pids stay too when the graft makes a container ([`ContainerSpec`]):
//! the global pids differ, which is what a PID namespace is for.
//!
//! All or nothing: the graft is built on a copy of the target, validated
//! record by record, charged against the container's beancounters and
//! checked with [`Kernel::check_invariants`]; only then does the copy
//! replace the target. On any error the target is untouched.
//!
//! **What an image may reference.** Only itself. [`checkpoint_set`] takes
//! the image of a set of processes and refuses ([`CheckpointError::Shared`])
//! one whose objects are shared with processes outside the set: a pipe or
//! a file one of them also has open, a page another object also holds (a
//! host pipe holding a page vmspliced from the container's memory). On the
//! graft side a record naming something not in the image is
//! [`GraftError::Invalid`]; state the graft cannot bring yet (files opened
//! by name, directories) is [`GraftError::Unsupported`], naming the
//! descriptor.
//!
//! **TCP.** A loopback connection with both ends inside the set is saved
//! as TCP repair records of those endpoints alone
//! (`tcp_sim::Network::repair_dump_set`, numbered 0..n in the image) and
//! grafted into the target's network under fresh endpoint ids
//! (`repair_graft`); descriptors and the queues' `Holder::socket` page
//! holders are renamed to them, so a page vmspliced and spliced into the
//! connection is still shared with the mapping. Endpoints on links are a
//! migration's to move (the hosts share one network).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use page_refs::{Content, Holder, HolderKind, PAGE_SIZE, PageId};
use pipe_buffer::{BufFlags, BufOrigin, PipeBuffer, PipeInodeInfo};

use super::beancounter::{BeanCounter, Beancounters, Resource};
use super::checkpoint::{CheckpointError, Frames, containers_rec, inode_rec, meta, pipe_rec, process_rec, vfs_rec};
use super::image::{BeanCounterRec, ContentRec, FileKindRec, HostInfo, Image, Mismatch, PteRec, Serializer, compat};
use super::ve::VeId;
use crate::kernel::{
    BufferId, Fd, FdTable, File, FileKind, Inode, InodeId, Kernel, KernelVariant, Pid, PipeId, Process, Pte, UserBuffer,
};
use crate::vfs::Cred;

/// The largest descriptor number a graft accepts.
const MAX_FD: i32 = 1 << 20;

/// The container a graft makes on the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Its name (no container of that name may run on the target).
    pub name: String,
    /// Image pid → virtual pid, for every process of the image.
    pub vpids: BTreeMap<u32, u32>,
    /// The PID namespace's counter (at least one above every vpid).
    pub next_vpid: u32,
    /// Its counters: the limits apply, `maxheld` and `failcnt` carry over,
    /// `held` is recounted from the grafted processes.
    pub ub: Beancounters,
}

/// Why a graft was refused. The target is unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GraftError {
    /// The host cannot run the image: every reason.
    Incompatible(Vec<Mismatch>),
    /// The records do not describe a consistent set of processes.
    Invalid(String),
    /// State the graft cannot bring into a running kernel yet, named.
    Unsupported(String),
    /// The container would hold more than its limit: which resource,
    /// how much, the limit.
    OverLimit {
        /// The resource.
        resource: Resource,
        /// What the grafted processes hold.
        held: u64,
        /// Its limit.
        limit: u64,
    },
    /// A container of that name already runs on the target.
    NameTaken(String),
}

impl fmt::Display for GraftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraftError::Incompatible(m) => {
                let m: Vec<String> = m.iter().map(|m| m.to_string()).collect();
                write!(f, "image incompatible with this host: {}", m.join("; "))
            }
            GraftError::Invalid(why) => write!(f, "inconsistent image: {why}"),
            GraftError::Unsupported(why) => write!(f, "cannot graft {why}"),
            GraftError::OverLimit { resource, held, limit } => {
                write!(f, "the container would hold {held} {} over its limit {limit}", resource.name())
            }
            GraftError::NameTaken(n) => write!(f, "a container named {n} already runs on this host"),
        }
    }
}

impl std::error::Error for GraftError {}

fn invalid<T>(why: impl Into<String>) -> Result<T, GraftError> {
    Err(GraftError::Invalid(why.into()))
}

/// Where the image's objects went on the target.
#[derive(Clone, Debug, Default)]
pub struct Grafted {
    /// The container made, if one was asked for.
    pub ve: Option<VeId>,
    /// Image pid → target pid.
    pub pids: BTreeMap<Pid, Pid>,
    /// Image mapping → target mapping.
    pub maps: BTreeMap<BufferId, BufferId>,
    /// Image pipe → target pipe.
    pub pipes: BTreeMap<PipeId, PipeId>,
    /// Image file → target file.
    pub inodes: BTreeMap<InodeId, InodeId>,
    /// The image's frames (as the source numbered them) → target frames.
    pub frames: HashMap<PageId, PageId>,
    /// Frames allocated on the target (the zero page excluded).
    pub frames_allocated: usize,
    /// Page references taken on the target.
    pub references: usize,
    /// The image's TCP endpoints (image endpoint `i` at index `i`) on the
    /// target's network.
    pub sockets: Vec<tcp_sim::SockId>,
}

/// Checkpoint the processes `pids` of `kernel` as a set to be grafted
/// elsewhere: only the pipes and files they hold, only the frames those
/// reach, no allocator state. Descriptors of TCP endpoints on links are
/// left out when `skip_link_sockets` (a migration moves them itself).
///
/// # Errors
/// An unknown pid; [`CheckpointError::Shared`] when a pipe, a file or a
/// page they hold is also held from outside the set (named);
/// [`CheckpointError::Shared`] for a loopback TCP socket whose peer is
/// outside the set; [`CheckpointError::Unsupported`] for a link socket
/// unless `skip_link_sockets`, or registered security modules.
pub fn checkpoint_set(kernel: &Kernel, pids: &[Pid], skip_link_sockets: bool) -> Result<Image, CheckpointError> {
    if pids.is_empty() {
        return Err(CheckpointError::NoProcesses);
    }
    let modules = kernel.lsm().names();
    if !modules.is_empty() {
        return Err(CheckpointError::Unsupported(format!(
            "security module(s) {} with a graft: it does not merge labels and profiles into a running kernel (a checkpoint of the whole machine saves them)",
            modules.join(", ")
        )));
    }
    let set: BTreeSet<Pid> = pids.iter().copied().collect();
    let pages = kernel.pages();
    let mut frames = Frames::default();
    let mut pipes = BTreeSet::new();
    let mut files = BTreeSet::new();
    let mut processes = Vec::new();
    // Loopback TCP endpoints held inside the set: (endpoint, who holds it).
    let mut socks: BTreeMap<tcp_sim::SockId, (u32, i32)> = BTreeMap::new();
    for &pid in &set {
        let proc = kernel.process(pid).ok_or(CheckpointError::NoSuchProcess(pid.0))?;
        let vpid = kernel.getpid(pid);
        for (fd, f) in proc.fds.iter() {
            match f.kind {
                FileKind::Socket(s) => {
                    let link = matches!(kernel.network().mode(s), Some(tcp_sim::Mode::Link(_)));
                    if link && !skip_link_sockets {
                        return Err(CheckpointError::Unsupported(format!(
                            "pid {vpid} descriptor {} (a link TCP socket): a graft restores loopback endpoints only",
                            fd.0
                        )));
                    }
                    if !link {
                        socks.entry(s).or_insert((vpid, fd.0));
                    }
                }
                FileKind::Regular(i) => {
                    files.insert(i);
                }
                _ => {}
            }
        }
        let mut rec = process_rec(pid, proc, pages, &mut frames, &mut pipes);
        rec.fds.retain(|f| match f.kind {
            FileKindRec::Socket(s) => socks.contains_key(&tcp_sim::SockId(s)),
            _ => true,
        });
        processes.push(rec);
    }
    // Both ends of every loopback connection inside the set.
    for (&s, &(vpid, fd)) in &socks {
        let peer = kernel.network().peer(s);
        if let Some(p) = peer.filter(|p| !socks.contains_key(p)) {
            return Err(CheckpointError::Shared(format!(
                "pid {vpid} descriptor {fd} (a loopback TCP socket, endpoint {}): its peer, endpoint {}, \
                 is outside the set",
                s.0, p.0
            )));
        }
    }
    // Nothing of the set may be held from outside it.
    for (&other, proc) in &kernel.procs {
        if set.contains(&other) {
            continue;
        }
        for (fd, f) in proc.fds.iter() {
            let what = match f.kind {
                FileKind::PipeRead(p) | FileKind::PipeWrite(p) if pipes.contains(&p) => format!("pipe {}", p.0),
                FileKind::Socket(s) if socks.contains_key(&s) => format!("TCP endpoint {}", s.0),
                FileKind::Regular(i) if files.contains(&i) => format!("file {}", i.0),
                _ => continue,
            };
            return Err(CheckpointError::Shared(format!(
                "{what} is also open in process {} (descriptor {}), outside the set",
                other.0, fd.0
            )));
        }
    }
    let pipes = pipes
        .into_iter()
        .map(|id| {
            let pipe = kernel.pipe(id).expect("an open pipe descriptor's pipe exists");
            pipe_rec(id, pipe.ring_size(), pipe.max_usage(), pipe.head(), pipe.buffers(), pages, &mut frames)
        })
        .collect();
    let inodes = files.iter().filter_map(|i| kernel.inodes.get(i)).map(|i| inode_rec(i, &mut frames, pages)).collect();
    // The endpoints as a network of their own (endpoint i of the image is
    // the i-th of `ids`), their queues' pages among the frames, each held
    // by the image's endpoint.
    let net = if socks.is_empty() {
        None
    } else {
        let set: Vec<tcp_sim::SockId> = socks.keys().copied().collect();
        let (ids, parts) = kernel.network().repair_dump_set(&set).map_err(CheckpointError::Shared)?;
        let index: BTreeMap<tcp_sim::SockId, u32> = ids.iter().enumerate().map(|(i, s)| (*s, i as u32)).collect();
        let rec = super::net_image::parts_rec(parts, |page| frames.enter(pages, page));
        for f in &mut frames.frames {
            let id = PageId { index: f.pfn, generation: f.generation };
            if pages.is_zero_page(id) {
                continue;
            }
            for h in pages.holders(id) {
                let (s, send) = tcp_sim::SockId::from_object(h.object);
                if h.kind != HolderKind::Socket {
                    continue;
                }
                if let Some(&i) = index.get(&s) {
                    let object = if send { tcp_sim::SockId(i).send_object() } else { tcp_sim::SockId(i).recv_object() };
                    f.holders.push(super::checkpoint::holder_rec(Holder { object, ..*h }));
                }
            }
        }
        for p in &mut processes {
            for f in &mut p.fds {
                if let FileKindRec::Socket(s) = &mut f.kind {
                    *s = index[&tcp_sim::SockId(*s)];
                }
            }
        }
        Some((rec, index))
    };
    for f in &frames.frames {
        let id = PageId { index: f.pfn, generation: f.generation };
        if pages.is_zero_page(id) {
            continue;
        }
        let all = pages.holders(id);
        if all.len() != f.holders.len() {
            let mine: Vec<Holder> = f.holders.iter().map(|h| super::restore::holder(h).expect("own record")).collect();
            // Socket holders are recorded under the image's endpoint ids.
            let index = net.as_ref().map(|(_, i)| i);
            let renamed = |h: &Holder| match (h.kind, index) {
                (HolderKind::Socket, Some(index)) => {
                    let (s, send) = tcp_sim::SockId::from_object(h.object);
                    index.get(&s).map_or(*h, |&i| {
                        let i = tcp_sim::SockId(i);
                        Holder { object: if send { i.send_object() } else { i.recv_object() }, ..*h }
                    })
                }
                _ => *h,
            };
            let other = all.iter().find(|h| !mine.contains(&renamed(h))).copied().unwrap_or(all[0]);
            return Err(CheckpointError::Shared(format!(
                "page frame {} is also held by {other:?}, outside the set",
                f.pfn
            )));
        }
    }
    let meta = meta(kernel, &set);
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
        arena: None,
        net: net.map(|(rec, _)| rec),
        lsm: None,
        containers: containers_rec(kernel, &set),
        runner: None,
    };
    image.require_features();
    Ok(image)
}

impl ContainerSpec {
    /// The spec an image's container record gives (format version 2): the
    /// image must hold exactly one container and nothing outside it.
    ///
    /// # Errors
    /// [`GraftError::Invalid`]: no container record, several, or a process
    /// of the image without a virtual pid; counters not one per resource.
    pub fn from_image(image: &Image) -> Result<ContainerSpec, GraftError> {
        let [c] = image.containers.as_slice() else {
            return invalid(format!("the image holds {} containers, a graft takes one", image.containers.len()));
        };
        let vpids: BTreeMap<u32, u32> = c.vpids.iter().map(|&(v, p)| (p, v)).collect();
        if let Some(p) = image.processes.iter().find(|p| !vpids.contains_key(&p.pid)) {
            return invalid(format!("process {} is not in container {}", p.pid, c.name));
        }
        if vpids.len() != image.processes.len() || c.vpids.iter().any(|&(v, _)| v == 0 || v >= c.next_vpid) {
            return invalid(format!("container {}: its virtual pids do not match the image's processes", c.name));
        }
        let Ok(counters): Result<[BeanCounterRec; 4], _> = c.counters.clone().try_into() else {
            return invalid(format!("container {}: {} counters, not 4", c.name, c.counters.len()));
        };
        let counters = counters.map(|BeanCounterRec { held, maxheld, limit, failcnt }| BeanCounter {
            held,
            maxheld,
            limit,
            failcnt,
        });
        Ok(ContainerSpec {
            name: c.name.clone(),
            vpids,
            next_vpid: c.next_vpid,
            ub: Beancounters::from_counters(counters),
        })
    }
}

/// The spec of container `ve` of `kernel` for a graft of its image: its
/// name, virtual pids, counter and beancounters.
pub fn container_spec(kernel: &Kernel, ve: VeId) -> Option<ContainerSpec> {
    let c = kernel.container(ve)?;
    Some(ContainerSpec {
        name: c.name.clone(),
        vpids: c.pids().map(|(v, p)| (p.0, v)).collect(),
        next_vpid: c.next_vpid(),
        ub: c.ub.clone(),
    })
}

/// Processes already on the target that a graft fills in (a migration's
/// skeleton: the container with its virtual pids, its mappings with the
/// pages already copied): the image's processes and mappings map onto
/// them, and a frame of the image held by a mapping is the page already
/// there, so the pipes and files grafted share it as on the source.
#[derive(Clone, Debug)]
pub struct Onto {
    /// The container they are in.
    pub ve: VeId,
    /// Image pid → target pid (every process of the image).
    pub pids: BTreeMap<Pid, Pid>,
    /// Image mapping → target mapping (every mapping of the image).
    pub maps: BTreeMap<BufferId, BufferId>,
}

/// Graft `image` onto the processes `onto` of `target`: their
/// descriptors, the pipes and files behind them and the pages those hold
/// come from the image; their memory is the target's already (checked
/// against the image, page by page).
///
/// # Errors
/// [`GraftError`]; `target` is then unchanged.
///
/// `net_in_hand` says whether `target` holds the shared network now (a
/// migration's target does not: its socket invariants are checked by the
/// world once the network is back).
pub fn graft_onto(target: &mut Kernel, image: &Image, onto: &Onto, net_in_hand: bool) -> Result<Grafted, GraftError> {
    precheck(target, image)?;
    let mut k = target.clone();
    let out = build(&mut k, image, None, Some(onto))?;
    let checked = if net_in_hand { k.check_invariants() } else { k.check_invariants_without_net() };
    checked.map_err(|e| GraftError::Invalid(format!("after the graft: {e}")))?;
    *target = k;
    Ok(out)
}

/// What of `image` no graft can bring (files opened by name, directories,
/// a TCP endpoint not in its `net` section): checked before a migration
/// starts.
///
/// # Errors
/// [`GraftError::Unsupported`] naming the first such descriptor.
pub fn graftable(image: &Image) -> Result<(), GraftError> {
    for rec in &image.processes {
        for f in &rec.fds {
            let what = match f.kind {
                _ if f.path.is_some() => {
                    "a file opened by name (the image's names are not merged into the host's tree)"
                }
                FileKindRec::Directory(_) => "a directory",
                FileKindRec::Socket(_) if image.net.is_none() => "a TCP endpoint not in the image",
                _ => continue,
            };
            return Err(GraftError::Unsupported(format!("process {} descriptor {}: {what}", rec.pid, f.fd)));
        }
    }
    Ok(())
}

fn precheck(target: &Kernel, image: &Image) -> Result<(), GraftError> {
    if image.lsm.is_some() {
        return Err(GraftError::Unsupported("security modules (the image's lsm section)".into()));
    }
    let mismatches = compat(&image.meta, &HostInfo::this());
    if !mismatches.is_empty() {
        return Err(GraftError::Incompatible(mismatches));
    }
    let variant = match image.meta.config.variant {
        0 => KernelVariant::Today,
        1 => KernelVariant::Y2006,
        2 => KernelVariant::Copy,
        n => return invalid(format!("unknown kernel variant {n}")),
    };
    if variant != target.config().variant {
        return Err(GraftError::Incompatible(vec![Mismatch::Feature(format!(
            "kernel variant {variant:?} (this host runs {:?})",
            target.config().variant
        ))]));
    }
    Ok(())
}

/// Graft `image` into the running `target`, in container `spec` if given
/// (else as host processes, children of nothing, with the host init's
/// root and working directory).
///
/// # Errors
/// [`GraftError`]; `target` is then unchanged.
pub fn graft(target: &mut Kernel, image: &Image, spec: Option<&ContainerSpec>) -> Result<Grafted, GraftError> {
    precheck(target, image)?;
    let mut k = target.clone();
    let out = build(&mut k, image, spec, None)?;
    k.check_invariants().map_err(|e| GraftError::Invalid(format!("after the graft: {e}")))?;
    *target = k;
    Ok(out)
}

/// The graft onto `k` (a copy of the target: an error leaves it half
/// built, and the caller drops it).
fn build(
    k: &mut Kernel,
    image: &Image,
    spec: Option<&ContainerSpec>,
    onto: Option<&Onto>,
) -> Result<Grafted, GraftError> {
    let mut out = Grafted::default();
    // The image's TCP endpoints (loopback pairs, a network of their own)
    // join the target's network after its endpoints: endpoint i becomes
    // `sock_base + i`.
    let nsocks = image.net.as_ref().map_or(0, |r| r.socks.len() as u32);
    let sock_base = k.net.endpoint_slots();
    let sock = |s: u32| (s < nsocks).then(|| tcp_sim::SockId(sock_base + s));
    // Fresh ids for every object, checked for repeats.
    let fresh = |k: &mut Kernel| loop {
        let id = k.fresh_id();
        if !k.procs.contains_key(&Pid(id)) {
            break id;
        }
    };
    for p in &image.pipes {
        let id = fresh(k);
        if out.pipes.insert(PipeId(p.id), PipeId(id)).is_some() {
            return invalid(format!("pipe {} saved twice", p.id));
        }
    }
    for i in &image.inodes {
        let id = fresh(k);
        if out.inodes.insert(InodeId(i.id), InodeId(id)).is_some() {
            return invalid(format!("file {} saved twice", i.id));
        }
    }
    for p in &image.processes {
        for b in &p.buffers {
            let id = match onto {
                Some(o) => {
                    let Some(&id) = o.maps.get(&BufferId(b.id)) else {
                        return invalid(format!("mapping {} has no counterpart on the target", b.id));
                    };
                    let dpid = o.pids.get(&Pid(p.pid)).copied();
                    let there = dpid.and_then(|d| k.procs.get(&d)).and_then(|x| x.mm.get(&id));
                    if there.is_none_or(|m| m.ptes().len() != b.ptes.len()) {
                        return invalid(format!("mapping {} differs from its counterpart on the target", b.id));
                    }
                    id.0
                }
                None => fresh(k),
            };
            if out.maps.insert(BufferId(b.id), BufferId(id)).is_some() {
                return invalid(format!("mapping {} saved twice", b.id));
            }
        }
    }
    // Onto existing mappings: where each mapped page already is.
    let mut present: HashMap<Holder, PageId> = HashMap::new();
    let mut zero_fixes = Vec::new();
    let proc_pid = |o: &Onto, pid: u32| o.pids[&Pid(pid)];
    if let Some(o) = onto {
        for p in &image.processes {
            let Some(proc) = o.pids.get(&Pid(p.pid)).and_then(|d| k.procs.get(d)) else {
                return invalid(format!("process {} has no counterpart on the target", p.pid));
            };
            for b in &p.buffers {
                let id = out.maps[&BufferId(b.id)];
                let m = &proc.mm[&id];
                for (i, pte) in b.ptes.iter().enumerate() {
                    match (*pte, m.pte(i)) {
                        (PteRec::Page(_), Pte::Page(d)) => {
                            present.insert(Holder::user(id.0, i as u32), d);
                        }
                        (PteRec::None, Pte::None) | (PteRec::Zero, Pte::Zero) => {}
                        // A page read-faulted to the zero page: mapped so
                        // on the target too (no reference: a zero PTE
                        // holds none).
                        (PteRec::Zero, Pte::None) => zero_fixes.push((proc_pid(o, p.pid), id, i)),
                        _ => return invalid(format!("page {i} of mapping {} did not arrive as saved", b.id)),
                    }
                }
            }
        }
        for (pid, id, i) in zero_fixes {
            if let Some(m) = k.procs.get_mut(&pid).and_then(|p| p.mm.get_mut(&id)) {
                let mut ptes = m.ptes().to_vec();
                ptes[i] = Pte::Zero;
                *m = UserBuffer::from_ptes(id, ptes);
            }
        }
    }
    // The frames: each allocated once, referenced by every holder the
    // image names, remapped.
    let mut ids = Vec::with_capacity(image.frames.len());
    let mut at = 0usize;
    let mut zero_seen = false;
    for (i, f) in image.frames.iter().enumerate() {
        let mut holders = Vec::with_capacity(f.holders.len());
        for h in &f.holders {
            let h = super::restore::holder(h).map_err(|e| GraftError::Invalid(format!("frame {i}: {e}")))?;
            let object = match h.kind {
                HolderKind::User => out.maps.get(&BufferId(h.object)).map(|b| b.0),
                HolderKind::Pipe => out.pipes.get(&PipeId(h.object)).map(|p| p.0),
                HolderKind::PageCache => out.inodes.get(&InodeId(h.object)).map(|p| p.0),
                HolderKind::Kernel if f.content == ContentRec::Zero => continue,
                HolderKind::Kernel => return invalid(format!("frame {i} is held by the kernel")),
                HolderKind::Socket => {
                    let (s, send) = tcp_sim::SockId::from_object(h.object);
                    sock(s.0).map(|n| if send { n.send_object() } else { n.recv_object() })
                }
            };
            let Some(object) = object else {
                return invalid(format!("frame {i} is held by {h:?}, which is not in the image"));
            };
            holders.push(Holder { object, ..h });
        }
        let mapped = holders.iter().find_map(|h| present.get(h).copied());
        let id = match f.content {
            _ if mapped.is_some() => {
                // Already on the target, held by its mapping: the other
                // holders take references to it, after a look that its
                // bytes are the image's.
                let id = mapped.expect("checked");
                let want = match f.content {
                    ContentRec::Uniform(b) => Content::Uniform(b),
                    ContentRec::Zero => Content::Uniform(0),
                    ContentRec::Bytes => {
                        let Some(page) = image.page_data.get(at..at + PAGE_SIZE) else {
                            return invalid(format!("frame {i}: page data ends at {}", image.page_data.len()));
                        };
                        at += PAGE_SIZE;
                        Content::Bytes(page.to_vec().into_boxed_slice().try_into().expect("one page"))
                    }
                };
                let mut a = Vec::with_capacity(PAGE_SIZE);
                let mut b = Vec::with_capacity(PAGE_SIZE);
                k.pages.read_into(id, 0, PAGE_SIZE, &mut a);
                want.read_into(0, PAGE_SIZE, &mut b);
                if a != b {
                    return invalid(format!("frame {i}: the target's copy of the page differs from the image"));
                }
                for h in &holders {
                    match present.get(h) {
                        Some(d) if *d == id => {}
                        Some(_) => return invalid(format!("frame {i}: its mappings disagree on the target")),
                        None => k.pages.get(id, *h),
                    }
                }
                id
            }
            ContentRec::Zero => {
                // A zero PTE holds no reference: a mapping holding the
                // zero page would write into it in place.
                if holders.iter().any(|h| h.kind == HolderKind::User) {
                    return invalid(format!("frame {i}: a mapping holds the zero page"));
                }
                if std::mem::replace(&mut zero_seen, true) {
                    return invalid("two zero pages");
                }
                let z = k.pages.zero_page();
                for h in &holders {
                    k.pages.get(z, *h);
                }
                z
            }
            ContentRec::Uniform(_) | ContentRec::Bytes => {
                let content = match f.content {
                    ContentRec::Uniform(b) => Content::Uniform(b),
                    _ => {
                        let Some(page) = image.page_data.get(at..at + PAGE_SIZE) else {
                            return invalid(format!("frame {i}: page data ends at {}", image.page_data.len()));
                        };
                        at += PAGE_SIZE;
                        Content::Bytes(page.to_vec().into_boxed_slice().try_into().expect("one page"))
                    }
                };
                let Some((first, rest)) = holders.split_first() else {
                    return invalid(format!("frame {i} is held by nothing"));
                };
                let id = k.pages.alloc_with(*first, content);
                for h in rest {
                    k.pages.get(id, *h);
                }
                out.frames_allocated += 1;
                id
            }
        };
        out.references += holders.len();
        out.frames.insert(PageId { index: f.pfn, generation: f.generation }, id);
        ids.push(id);
    }
    if at != image.page_data.len() {
        return invalid(format!("page data holds {} bytes, the frames need {at}", image.page_data.len()));
    }
    if let Some(rec) = &image.net {
        let page = |f: u32| ids.get(f as usize).copied().ok_or_else(|| format!("frame {f} not in the image"));
        let parts = super::net_image::net_parts(rec, page).map_err(|e| GraftError::Invalid(format!("network: {e}")))?;
        let new = k.net.repair_graft(parts).map_err(|e| GraftError::Invalid(format!("network: {e}")))?;
        if new.len() as u32 != nsocks || new.iter().enumerate().any(|(i, s)| sock(i as u32) != Some(*s)) {
            return invalid("network: the endpoints did not get the ids their pages are held under");
        }
        out.sockets = new;
    }
    let frame = |f: u32, who: fmt::Arguments<'_>| match ids.get(f as usize) {
        Some(id) => Ok(*id),
        None => invalid(format!("{who} refers to frame {f}, the image has {}", ids.len())),
    };

    for rec in &image.inodes {
        let id = out.inodes[&InodeId(rec.id)];
        let mut cache = BTreeMap::new();
        for &(index, f) in &rec.cache {
            if cache.insert(index, frame(f, format_args!("page {index} of file {}", rec.id))?).is_some() {
                return invalid(format!("file {}: page {index} cached twice", rec.id));
            }
        }
        k.inodes.insert(id, Inode::from_parts(id, rec.size, rec.initial_pages, rec.initial_byte, cache));
    }

    // The container, if asked: made on the copy with the host's init
    // forked as its PID 1 (reused for the image's vpid 1).
    let mut dinit = None;
    if let Some(spec) = spec {
        if k.container_by_name(&spec.name).is_some() {
            return Err(GraftError::NameTaken(spec.name.clone()));
        }
        let limits: Vec<(Resource, u64)> = Resource::ALL.iter().map(|&r| (r, spec.ub.get(r).limit)).collect();
        let (ve, init) = k
            .create_container(&spec.name, &limits)
            .map_err(|e| GraftError::Invalid(format!("creating container {}: {e}", spec.name)))?;
        out.ve = Some(ve);
        dinit = Some(init);
        let mut seen = BTreeSet::new();
        for p in &image.processes {
            let Some(&v) = spec.vpids.get(&p.pid) else {
                return invalid(format!("process {} has no virtual pid", p.pid));
            };
            if v == 0 || !seen.insert(v) {
                return invalid(format!("virtual pid {v} is zero or given twice"));
            }
        }
    }
    let host_fs = k.proc_ref(dinit.unwrap_or(k.init_pid())).map(|p| p.fs).map_err(|_| {
        GraftError::Invalid("the target has no init process".into()) // a kernel always has one
    })?;

    let mut ends: HashMap<PipeId, (u32, u32)> = HashMap::new();
    for rec in &image.processes {
        let vpid = spec.and_then(|s| s.vpids.get(&rec.pid).copied()).or_else(|| {
            let o = onto?;
            k.getpid(*o.pids.get(&Pid(rec.pid))?).into()
        });
        let who = |fd: i32| format!("process {} descriptor {fd}", vpid.unwrap_or(rec.pid));
        let mut fds = FdTable::default();
        let mut seen = BTreeSet::new();
        for f in &rec.fds {
            if !(3..MAX_FD).contains(&f.fd) || !seen.insert(f.fd) {
                return invalid(format!("{}: out of range or repeated", who(f.fd)));
            }
            if f.path.is_some() {
                return Err(GraftError::Unsupported(format!(
                    "{}: a file opened by name (the image's names are not merged into this host's tree)",
                    who(f.fd)
                )));
            }
            let kind = match f.kind {
                FileKindRec::PipeRead(p) | FileKindRec::PipeWrite(p) => {
                    let Some(&np) = out.pipes.get(&PipeId(p)) else {
                        return invalid(format!("{} refers to pipe {p}, not in the image", who(f.fd)));
                    };
                    let e = ends.entry(np).or_default();
                    if matches!(f.kind, FileKindRec::PipeRead(_)) {
                        e.0 += 1;
                        FileKind::PipeRead(np)
                    } else {
                        e.1 += 1;
                        FileKind::PipeWrite(np)
                    }
                }
                FileKindRec::Regular(i) => match out.inodes.get(&InodeId(i)) {
                    Some(&ni) => FileKind::Regular(ni),
                    None => return invalid(format!("{} refers to file {i}, not in the image", who(f.fd))),
                },
                FileKindRec::Directory(_) => {
                    return Err(GraftError::Unsupported(format!("{}: a directory", who(f.fd))));
                }
                FileKindRec::Socket(s) => match sock(s) {
                    Some(n) => FileKind::Socket(n),
                    None => return invalid(format!("{} refers to TCP endpoint {s}, not in the image", who(f.fd))),
                },
            };
            fds.install_at(
                Fd(f.fd),
                File { kind, readable: f.readable, writable: f.writable, nonblock: f.nonblock, pos: f.pos, path: None },
            );
        }
        if let Some(o) = onto {
            let pid = o.pids[&Pid(rec.pid)];
            let p = k.proc_mut(pid).map_err(|_| GraftError::Invalid(format!("process {} is gone", rec.pid)))?;
            if let Some((fd, _)) = p.fds.iter().find(|(fd, _)| fds.get(*fd).is_some()) {
                return invalid(format!("process {} already has descriptor {} on the target", rec.pid, fd.0));
            }
            for (fd, f) in fds.iter() {
                p.fds.install_at(fd, *f);
            }
            out.pids.insert(Pid(rec.pid), pid);
            continue;
        }
        let mut mm = BTreeMap::new();
        for b in &rec.buffers {
            let id = out.maps[&BufferId(b.id)];
            let mut ptes = Vec::with_capacity(b.ptes.len());
            for (i, pte) in b.ptes.iter().enumerate() {
                ptes.push(match *pte {
                    PteRec::None => Pte::None,
                    PteRec::Zero => Pte::Zero,
                    PteRec::Page(f) => Pte::Page(frame(f, format_args!("page {i} of mapping {}", b.id))?),
                });
            }
            mm.insert(id, UserBuffer::from_ptes(id, ptes));
        }
        let cred = Cred { uid: rec.uid, gid: rec.gid, groups: rec.groups.clone() };
        let ve = out.ve;
        let process = Process { fds, mm, cred, fs: host_fs, comm: rec.comm.clone(), exe: rec.exe.clone(), ve };
        let pid = match (vpid, dinit) {
            (Some(1), Some(init)) => {
                // The container's init: its forked skeleton takes the
                // image's state.
                let p = k.proc_mut(init).expect("just created");
                p.fds = process.fds;
                p.mm = process.mm;
                p.cred = process.cred;
                p.comm = process.comm;
                p.exe = process.exe;
                init
            }
            _ => {
                let pid = Pid(fresh(k));
                k.procs.insert(pid, process);
                if let (Some(ve), Some(v)) = (ve, vpid) {
                    k.ve_attach_at(ve, v, pid)
                        .map_err(|_| GraftError::Invalid(format!("virtual pid {v} given twice")))?;
                }
                // The namespace the process lives in counts it.
                if let Some(ns) = k.vfs.namespaces.get_mut(&host_fs.ns) {
                    ns.users += 1;
                }
                for d in [host_fs.root.dentry, host_fs.pwd.dentry] {
                    if let Some(d) = k.vfs.dentries.get_mut(&d) {
                        d.refs += 1;
                    }
                }
                pid
            }
        };
        if out.pids.insert(Pid(rec.pid), pid).is_some() {
            return invalid(format!("process {} saved twice", rec.pid));
        }
    }
    if let (Some(spec), Some(ve), Some(init)) = (spec, out.ve, dinit)
        && !spec.vpids.values().any(|v| *v == 1)
    {
        // No init in the image: the forked one goes again.
        k.exit(init);
        let _ = ve;
    }

    for rec in &image.pipes {
        let id = out.pipes[&PipeId(rec.id)];
        let mut bufs = Vec::with_capacity(rec.bufs.len());
        for b in &rec.bufs {
            let flags = BufFlags::from_bits(b.flags)
                .ok_or_else(|| GraftError::Invalid(format!("pipe {}: unknown buffer flags {:#x}", rec.id, b.flags)))?;
            let origin = match b.origin {
                0 => BufOrigin::Anon,
                1 => BufOrigin::User,
                2 => BufOrigin::PageCache,
                n => return invalid(format!("pipe {}: unknown buffer origin {n}", rec.id)),
            };
            let page = frame(b.frame, format_args!("a buffer of pipe {}", rec.id))?;
            bufs.push(PipeBuffer { page, offset: b.offset, len: b.len, flags, origin });
        }
        let (r, w) = ends.get(&id).copied().unwrap_or_default();
        let pipe = PipeInodeInfo::from_parts(id.0, rec.ring_size, rec.max_usage, rec.head, r, w, bufs)
            .map_err(|e| GraftError::Invalid(format!("pipe {}: {e}", rec.id)))?;
        k.pipes.insert(id, pipe);
    }

    if let Some(o) = onto {
        out.ve = Some(o.ve);
        k.ub_refresh(o.ve);
        for r in Resource::ALL {
            let (held, limit) = (k.ub_held(o.ve, r), k.container(o.ve).map_or(u64::MAX, |c| c.ub.get(r).limit));
            if held > limit {
                return Err(GraftError::OverLimit { resource: r, held, limit });
            }
        }
    }
    if let (Some(spec), Some(ve)) = (spec, out.ve) {
        // The counters: limits and history from the spec, held recounted,
        // and every resource within its limit.
        for r in Resource::ALL {
            let held = k.ub_held(ve, r);
            let limit = spec.ub.get(r).limit;
            if held > limit {
                return Err(GraftError::OverLimit { resource: r, held, limit });
            }
        }
        if let Some(c) = k.containers.get_mut(&ve) {
            c.ub = spec.ub.clone();
            c.set_next_vpid(spec.next_vpid);
        }
        k.ub_refresh(ve);
    }
    Ok(out)
}
