//! Live migration of a container from one host to another.
//!
//! Three strategies, as QEMU and CRIU's `lazy-pages` name them:
//!
//! - **pre-copy**: send every page while the container runs, then the
//!   pages it dirtied meanwhile (the soft-dirty bits of
//!   [`UserBuffer`](crate::kernel::UserBuffer), cleared at each round's
//!   start), round after round, until the dirty set is small
//!   ([`MigrationConfig::stop_pages`]), stops shrinking, or the round
//!   budget is spent; then freeze, send the last dirty set and the
//!   processes' state, and resume on the target. Downtime is that last
//!   step.
//! - **post-copy**: freeze at once, send only the processes' state, resume
//!   on the target; the source pushes every page in the background, and a
//!   page the container touches before it arrived faults: the target
//!   fetches it (a request, one page back) while the process waits.
//! - **hybrid**: one pre-copy round of every page, then post-copy for the
//!   pages dirtied during it.
//!
//! Time is simulated from the path's parameters ([`tcp_sim::LinkParams`]):
//! a page costs `(4096 + headers) * 8 / bandwidth` on the wire, pages of a
//! batch are pipelined, and a batch arrives one one-way delay (`rtt / 2`)
//! after it left; a fault costs a round trip plus a page. The migration
//! stream is modelled as a dedicated, lossless stream (no slow start, no
//! retransmission).
//!
//! The container's load is a [`Dirtier`]: it writes one byte into one
//! page after another, in a fixed scattered order (a stride coprime with
//! the page count, so each lap touches every page once, far from the
//! order the pages are pushed in), at a fixed rate, on the source before
//! the freeze and on the target after.
//! Pages move for real: the target's pages get the source's bytes, so a
//! test can check that the memory arrived whole.
//!
//! What moves: processes with their virtual pids, credentials, names and
//! memory, the beancounters, TCP endpoints on links (at the same
//! descriptor numbers; the endpoint itself moves on the shared network:
//! see [`MigrationReport::frozen_at`] and `tcp_sim::Network::rehome`),
//! and, through the final copy's image grafted onto the skeleton
//! ([`graft_onto`](super::graft::graft_onto)), descriptors, pipes with
//! their slots in flight and the files the container uses, sharing the
//! pages already copied, and its loopback TCP connections (both ends
//! inside), grafted into the shared network on the target host
//! ([`MigrationConfig::shared_net_host`]). A container holding what no
//! graft can bring (a loopback socket whose peer is outside, a file opened
//! by name, a directory) or sharing an
//! object with a process outside is refused before anything moves, named.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use page_refs::{PAGE_SIZE, PageId, Source};
use tcp_sim::{Duration, LinkParams};

use super::beancounter::Resource;
use super::ve::VeId;
use crate::kernel::{BufferId, Kernel, Pid, Pte};

/// Which migration algorithm.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Iterative pre-copy, then stop-and-copy.
    PreCopy,
    /// Stop, move the state, fetch pages on fault, push the rest.
    PostCopy,
    /// One pre-copy round, then post-copy.
    Hybrid,
}

impl Strategy {
    /// The scenario's word for it.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::PreCopy => "precopy",
            Strategy::PostCopy => "postcopy",
            Strategy::Hybrid => "hybrid",
        }
    }
}

/// Tunables of a migration.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MigrationConfig {
    /// The algorithm.
    pub strategy: Strategy,
    /// Pre-copy stops iterating once at most this many pages are dirty.
    pub stop_pages: u64,
    /// Pre-copy stops after this many rounds whatever the dirty set.
    pub max_rounds: u32,
    /// Pages of process state (registers, descriptor table, vpids) sent
    /// while frozen, per process.
    pub state_pages_per_process: u64,
    /// When source and target share one network (a world's hosts): the
    /// target's host number. The container's loopback connections are
    /// grafted into that network, on that host; otherwise into the
    /// target's own.
    pub shared_net_host: Option<u32>,
}

impl MigrationConfig {
    /// QEMU-like defaults for `strategy`: stop at 16 dirty pages or after
    /// 30 rounds; one page of state per process.
    pub fn new(strategy: Strategy) -> Self {
        MigrationConfig { strategy, stop_pages: 16, max_rounds: 30, state_pages_per_process: 1, shared_net_host: None }
    }
}

/// What a migration did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationReport {
    /// The algorithm.
    pub strategy: Strategy,
    /// Pre-copy rounds run while the container ran (0 for post-copy).
    pub rounds: u32,
    /// Pages sent in all, pre-copy rounds, stop-and-copy, pushes and
    /// fetches included.
    pub pages_sent: u64,
    /// Pages the target fetched because the container touched them before
    /// they arrived.
    pub pages_fetched_on_fault: u64,
    /// Pages dirty at the freeze (sent while frozen for pre-copy, left for
    /// post-copy).
    pub dirty_at_freeze: u64,
    /// How long the container ran nowhere.
    pub downtime: Duration,
    /// From the start to the last page's arrival.
    pub total: Duration,
    /// Why pre-copy stopped iterating.
    pub stop_reason: &'static str,
    /// When the container was frozen, from the start: its endpoints run on
    /// the source until then, are frozen for [`downtime`](Self::downtime),
    /// and run on the target after.
    pub frozen_at: Duration,
    /// Pages of the container's image sent while frozen besides its
    /// memory: pipe buffers and page-cache pages of the files it uses
    /// (counted in [`pages_sent`](Self::pages_sent) too).
    pub state_pages: u64,
}

impl fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.strategy.name())?;
        if self.strategy != Strategy::PostCopy {
            write!(f, "{} round{} ({}), ", self.rounds, if self.rounds == 1 { "" } else { "s" }, self.stop_reason)?;
        }
        write!(
            f,
            "{} pages sent, {} fetched on fault, downtime {}, total {}",
            self.pages_sent,
            self.pages_fetched_on_fault,
            show_time(self.downtime),
            show_time(self.total)
        )?;
        if self.state_pages > 0 {
            write!(f, ", {} pages of pipes and files in the image", self.state_pages)?;
        }
        Ok(())
    }
}

/// `1.234ms`.
pub fn show_time(d: Duration) -> String {
    format!("{}.{:03}ms", d.0 / 1_000_000, (d.0 / 1_000) % 1_000)
}

/// Why a migration was refused. Nothing has changed on either host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MigrateError {
    /// No such container on the source.
    NoContainer,
    /// The target cannot run the container: each mismatch, named.
    Incompatible(Vec<String>),
    /// The container holds state this migration cannot move yet.
    Unsupported(Vec<String>),
    /// The target refused a step of the restore (out of memory...); what
    /// was built there is gone again.
    Restore(String),
    /// A broken model invariant after the container moved (a bug of the
    /// model, not of the input).
    Broken(String),
}

impl fmt::Display for MigrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MigrateError::NoContainer => f.write_str("no such container on the source host"),
            MigrateError::Incompatible(m) => write!(f, "target host is incompatible: {}", m.join("; ")),
            MigrateError::Unsupported(m) => write!(f, "cannot migrate yet: {}", m.join("; ")),
            MigrateError::Restore(m) => write!(f, "restore on the target failed: {m}"),
            MigrateError::Broken(m) => write!(f, "after migrating: {m}"),
        }
    }
}

impl std::error::Error for MigrateError {}

/// The container's load: it writes one byte into page after page of its
/// memory (every buffer of every process, in virtual pid and mapping
/// order), cycling, `pages_per_sec` pages a second of simulated time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dirtier {
    /// Pages written per simulated second.
    pub pages_per_sec: u64,
    /// The next page (index into the container's page order).
    cursor: u64,
    /// Nanoseconds not yet worth a page.
    carry_ns: u128,
    /// The byte written (changes each lap, so a resent page differs).
    byte: u8,
    /// Only these pages of the order (`start..end`), if given: a working
    /// set, one mapping say.
    span: Option<(u64, u64)>,
}

impl Dirtier {
    /// A load of `pages_per_sec` page writes per second.
    pub fn new(pages_per_sec: u64) -> Self {
        Dirtier { pages_per_sec, cursor: 0, carry_ns: 0, byte: b'a', span: None }
    }

    /// A load that writes only into mapping `buffer` of process `pid` (of
    /// `kernel`'s container `ve`): its working set.
    pub fn into_buffer(mut self, kernel: &Kernel, ve: VeId, pid: Pid, buffer: BufferId) -> Self {
        let layout = Layout::of(kernel, ve);
        let mut base = 0;
        for &(p, b, n) in &layout.maps {
            if (p, b) == (pid, buffer) {
                self.span = Some((base, base + n));
            }
            base += n;
        }
        self
    }

    /// How many page writes `d` of running makes.
    fn writes_in(&mut self, d: Duration) -> u64 {
        let total = self.carry_ns + u128::from(d.0) * u128::from(self.pages_per_sec);
        self.carry_ns = total % 1_000_000_000;
        (total / 1_000_000_000) as u64
    }

    /// The next page to write, and the byte.
    fn next(&mut self, pages: u64) -> Option<(u64, u8)> {
        let (base, pages) = match self.span {
            Some((start, end)) if end <= pages => (start, end - start),
            _ => (0, pages),
        };
        if pages == 0 {
            return None;
        }
        let stride = if pages.is_multiple_of(STRIDE) { 1 } else { STRIDE };
        let at = base + (self.cursor % pages) * stride % pages;
        self.cursor += 1;
        if self.cursor.is_multiple_of(pages) {
            self.byte = if self.byte == b'z' { b'a' } else { self.byte + 1 };
        }
        Some((at, self.byte))
    }

    /// Run on `kernel`'s container `ve` for `d`: answers the writes made.
    pub fn run(&mut self, kernel: &mut Kernel, ve: VeId, d: Duration) -> u64 {
        let n = self.writes_in(d);
        let layout = Layout::of(kernel, ve);
        for _ in 0..n {
            let Some((at, byte)) = self.next(layout.pages) else { break };
            layout.write(kernel, at, byte);
        }
        n
    }
}

/// The load's step through the pages: a prime, so that it is coprime with
/// any page count that is not a multiple of it (for those, the order is
/// sequential).
const STRIDE: u64 = 7919;

/// A container's memory in a fixed order: (pid, mapping, pages) by
/// virtual pid, then by mapping.
struct Layout {
    maps: Vec<(Pid, BufferId, u64)>,
    pages: u64,
}

impl Layout {
    fn of(kernel: &Kernel, ve: VeId) -> Layout {
        let mut maps = Vec::new();
        if let Some(c) = kernel.container(ve) {
            for (_, pid) in c.pids() {
                if let Some(p) = kernel.process(pid) {
                    for (id, b) in &p.mm {
                        maps.push((pid, *id, b.ptes().len() as u64));
                    }
                }
            }
        }
        let pages = maps.iter().map(|m| m.2).sum();
        Layout { maps, pages }
    }

    /// (pid, mapping, page index) of page `at` of the order.
    fn locate(&self, mut at: u64) -> Option<(Pid, BufferId, usize)> {
        for &(pid, b, n) in &self.maps {
            if at < n {
                return Some((pid, b, at as usize));
            }
            at -= n;
        }
        None
    }

    fn write(&self, kernel: &mut Kernel, at: u64, byte: u8) {
        if let Some((pid, b, i)) = self.locate(at) {
            let range = crate::kernel::UserRange { buffer: b, start: i * PAGE_SIZE, len: 1 };
            let _ = kernel.user_fill(pid, range, byte);
        }
    }

    /// Soft-dirty pages, as positions in the order; clears the bits.
    fn take_dirty(&self, kernel: &mut Kernel) -> Vec<u64> {
        let mut out = Vec::new();
        let mut base = 0;
        for &(pid, b, n) in &self.maps {
            if let Some(buf) = kernel.procs.get_mut(&pid).and_then(|p| p.mm.get_mut(&b)) {
                out.extend(buf.soft_dirty_pages().map(|i| base + i as u64));
                buf.clear_soft_dirty();
            }
            base += n;
        }
        out
    }

    /// Positions of the pages that hold bytes (untouched and zero-page
    /// entries travel as a flag, as QEMU's zero-page detection sends them).
    fn present(&self, kernel: &Kernel) -> Vec<u64> {
        let mut out = Vec::new();
        let mut base = 0;
        for &(pid, b, n) in &self.maps {
            if let Some(buf) = kernel.process(pid).and_then(|p| p.mm.get(&b)) {
                out.extend(
                    buf.ptes()
                        .iter()
                        .enumerate()
                        .filter(|(_, p)| matches!(p, Pte::Page(_)))
                        .map(|(i, _)| base + i as u64),
                );
            }
            base += n;
        }
        out
    }
}

/// The wire: what a batch of pages costs on the path.
#[derive(Copy, Clone, Debug)]
struct Wire {
    one_way: u64,
    page_ns: u64,
}

impl Wire {
    fn new(path: LinkParams) -> Wire {
        let bits = (PAGE_SIZE as u64 + tcp_sim::link::HEADER_BYTES) * 8;
        let page_ns = if path.bandwidth == 0 { 0 } else { (bits * 1_000_000_000).div_ceil(path.bandwidth) };
        Wire { one_way: path.rtt.0 / 2, page_ns }
    }

    /// `n` pages sent back to back, until the last arrives.
    fn batch(&self, n: u64) -> Duration {
        Duration(self.one_way + n * self.page_ns)
    }
}

/// What the target host lacks to run a container from `src`: each
/// mismatch named (empty: compatible). Checked before anything moves.
pub fn compatibility(src: &Kernel, dst: &Kernel, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (a, b) = (src.config(), dst.config());
    if a.pipe_limits != b.pipe_limits {
        out.push(format!("pipe limits differ (source {:?}, target {:?})", a.pipe_limits, b.pipe_limits));
    }
    if b.max_map_pages < a.max_map_pages {
        out.push(format!("target maps at most {} pages per mapping, source {}", b.max_map_pages, a.max_map_pages));
    }
    for m in src.lsm().names() {
        if !dst.lsm().names().contains(&m) {
            out.push(format!("security module {m} is not enabled on the target"));
        }
    }
    if dst.container_by_name(name).is_some() {
        out.push(format!("a container named {name} already runs on the target"));
    }
    out
}

/// The image of the container's state that is not its memory (the
/// descriptors, the pipes with their slots, the files it uses), as the
/// graft takes it: refused, each reason named, if the container holds
/// what no graft can bring (a loopback TCP socket, a file opened by name,
/// a directory) or shares objects with processes outside it.
fn state_image(src: &Kernel, ve: VeId) -> Result<super::Image, MigrateError> {
    let pids: Vec<Pid> = src.container(ve).map(|c| c.pids().map(|(_, p)| p).collect()).unwrap_or_default();
    let image = super::checkpoint_set(src, &pids, true).map_err(|e| MigrateError::Unsupported(vec![e.to_string()]))?;
    super::graft::graftable(&image).map_err(|e| MigrateError::Unsupported(vec![e.to_string()]))?;
    Ok(image)
}

/// The container's skeleton on the target: same name, limits, counters,
/// virtual pids, credentials, names and mappings (empty pages), frozen
/// until the pages are in. Answers the mapping of old to new mappings
/// and pids.
struct Skeleton {
    ve: VeId,
    pids: BTreeMap<Pid, Pid>,
    maps: BTreeMap<BufferId, BufferId>,
}

fn build_skeleton(src: &Kernel, ve: VeId, dst: &mut Kernel) -> Result<Skeleton, MigrateError> {
    let c = src.container(ve).ok_or(MigrateError::NoContainer)?;
    let limits: Vec<(Resource, u64)> = Resource::ALL.iter().map(|&r| (r, c.beancounters().get(r).limit)).collect();
    let (dve, dinit) = dst.create_container(&c.name, &limits).map_err(|e| MigrateError::Restore(format!("{e}")))?;
    fill_skeleton(src, ve, dst, dve, dinit).inspect_err(|_| dst.destroy_container(dve))
}

/// The processes and mappings of the skeleton (see [`build_skeleton`]).
fn fill_skeleton(src: &Kernel, ve: VeId, dst: &mut Kernel, dve: VeId, dinit: Pid) -> Result<Skeleton, MigrateError> {
    let c = src.container(ve).ok_or(MigrateError::NoContainer)?;
    let mut pids = BTreeMap::new();
    let mut maps = BTreeMap::new();
    let fail = |e: crate::kernel::Errno, what: &str| MigrateError::Restore(format!("{what}: {e}"));
    for (vpid, spid) in c.pids() {
        let sp = src.process(spid).expect("container pid exists");
        let dpid = if vpid == 1 {
            dinit
        } else {
            let child = dst.fork(dinit).map_err(|e| fail(e, "fork"))?;
            dst.ve_exited(child, Some(dve));
            dst.ve_attach_at(dve, vpid, child).map_err(|e| fail(e, "vpid"))?;
            child
        };
        {
            let dp = dst.proc_mut(dpid).map_err(|e| fail(e, "process"))?;
            dp.cred = sp.cred.clone();
            dp.comm = sp.comm.clone();
            dp.exe = sp.exe.clone();
        }
        pids.insert(spid, dpid);
        for (id, b) in &sp.mm {
            let nb = dst.mmap_anon(dpid, b.ptes().len() as u64).map_err(|e| fail(e, "mmap"))?;
            maps.insert(*id, nb);
        }
    }
    let ub = c.ub.clone();
    let next = c.next_vpid();
    if let Some(dc) = dst.containers.get_mut(&dve) {
        dc.ub = ub;
        dc.set_next_vpid(next);
    }
    dst.ub_refresh(dve);
    Ok(Skeleton { ve: dve, pids, maps })
}

/// Copy page `at` (a position in the source layout) to the target;
/// `frames` learns which target frame holds which source frame (so an
/// endpoint's send queue moved later shares it as on the source).
fn copy_page(
    src: &Kernel,
    sl: &Layout,
    dst: &mut Kernel,
    sk: &Skeleton,
    at: u64,
    frames: &mut HashMap<PageId, PageId>,
) {
    let Some((spid, sb, i)) = sl.locate(at) else { return };
    let Some(Pte::Page(p)) = src.process(spid).and_then(|x| x.mm.get(&sb)).map(|b| b.pte(i)) else { return };
    let (dpid, db) = (sk.pids[&spid], sk.maps[&sb]);
    let Kernel { pages, procs, .. } = dst;
    let Some(buf) = procs.get_mut(&dpid).and_then(|x| x.mm.get_mut(&db)) else { return };
    match *src.pages().content(p) {
        page_refs::Content::Uniform(byte) => buf.store(pages, i * PAGE_SIZE, Source::Fill { byte, len: PAGE_SIZE }),
        _ => {
            let mut tmp = Vec::with_capacity(PAGE_SIZE);
            src.pages().read_into(p, 0, PAGE_SIZE, &mut tmp);
            buf.store(pages, i * PAGE_SIZE, Source::Slice(&tmp));
        }
    }
    if let Pte::Page(d) = buf.pte(i) {
        frames.insert(p, d);
    }
}

/// The result of a migration: the report, and where things went.
#[derive(Clone, Debug)]
pub struct Migrated {
    /// Rounds, pages, times.
    pub report: MigrationReport,
    /// The container on the target.
    pub ve: VeId,
    /// Source pid → target pid.
    pub pids: BTreeMap<Pid, Pid>,
    /// Source mapping → target mapping.
    pub maps: BTreeMap<BufferId, BufferId>,
    /// Source pipe → target pipe (grafted from the final image).
    pub pipes: BTreeMap<crate::kernel::PipeId, crate::kernel::PipeId>,
    /// Source file → target file (grafted from the final image).
    pub inodes: BTreeMap<crate::kernel::InodeId, crate::kernel::InodeId>,
    /// The TCP endpoints that moved with it (same ids on the shared
    /// network; still on the source host's memory until the caller
    /// rehomes them at the freeze).
    pub sockets: Vec<tcp_sim::SockId>,
    /// Source frame → target frame of every page copied: a send queue
    /// moved with `tcp_sim::Network::rehome` given this map keeps sharing
    /// the user's pages (a zero-copy send, a vmspliced page spliced on).
    pub frames: HashMap<PageId, PageId>,
}

/// Migrate container `ve` from `src` to `dst` over `path` with `load`
/// running: see the module's description. On success the container runs
/// on `dst` (same name, virtual pids, memory bytes, counters) and is gone
/// from `src`; on error neither host changed (except that the load ran
/// on the source until the error).
///
/// # Errors
/// [`MigrateError`]: no such container, an incompatible target (every
/// mismatch named), state that cannot move yet, or a refused restore step.
pub fn migrate(
    src: &mut Kernel,
    ve: VeId,
    dst: &mut Kernel,
    path: LinkParams,
    config: MigrationConfig,
    load: &mut Dirtier,
) -> Result<Migrated, MigrateError> {
    let name = src.container(ve).ok_or(MigrateError::NoContainer)?.name.clone();
    let mismatches = compatibility(src, dst, &name);
    if !mismatches.is_empty() {
        return Err(MigrateError::Incompatible(mismatches));
    }
    // What cannot move is refused before anything does.
    state_image(src, ve)?;
    let wire = Wire::new(path);
    let sk = build_skeleton(src, ve, dst)?;
    let mut frames = HashMap::new();
    let layout = Layout::of(src, ve);
    let processes = sk.pids.len() as u64;
    let state = Duration(processes * config.state_pages_per_process * wire.page_ns);
    let mut report = MigrationReport {
        strategy: config.strategy,
        rounds: 0,
        pages_sent: 0,
        pages_fetched_on_fault: 0,
        dirty_at_freeze: 0,
        downtime: Duration(0),
        total: Duration(0),
        stop_reason: "",
        frozen_at: Duration(0),
        state_pages: 0,
    };
    let mut elapsed = 0u64;
    // Pre-copy rounds (every one for pre-copy, the first for hybrid).
    let _ = layout.take_dirty(src);
    let mut to_send = layout.present(src);
    let mut missing: Vec<u64> = Vec::new();
    match config.strategy {
        Strategy::PostCopy => {
            missing = to_send.clone();
        }
        Strategy::PreCopy | Strategy::Hybrid => loop {
            let t = wire.batch(to_send.len() as u64);
            for &at in &to_send {
                copy_page(src, &layout, dst, &sk, at, &mut frames);
            }
            report.pages_sent += to_send.len() as u64;
            report.rounds += 1;
            load.run(src, ve, t);
            elapsed += t.0;
            let dirty = layout.take_dirty(src);
            let done = if config.strategy == Strategy::Hybrid {
                Some("one round, then post-copy")
            } else if dirty.len() as u64 <= config.stop_pages {
                Some("dirty set small")
            } else if dirty.len() * 8 > to_send.len() * 7 {
                // Shrank by less than an eighth: more rounds would only
                // resend the same pages.
                Some("dirty set stopped shrinking")
            } else if report.rounds >= config.max_rounds {
                Some("round limit")
            } else {
                None
            };
            if let Some(why) = done {
                report.stop_reason = why;
                if config.strategy == Strategy::Hybrid {
                    missing = dirty;
                } else {
                    to_send = dirty;
                }
                break;
            }
            to_send = dirty;
        },
    }
    // Freeze. The image of the frozen container's other state goes with
    // the final copy: its pages that no mapping holds (pipe buffers,
    // page-cache pages) cost a page each on the wire.
    report.frozen_at = Duration(elapsed);
    let image = state_image(src, ve).inspect_err(|_| dst.destroy_container(sk.ve))?;
    report.state_pages = image
        .frames
        .iter()
        .filter(|f| f.content != super::image::ContentRec::Zero && f.holders.iter().all(|h| h.kind != 0))
        .count() as u64;
    report.pages_sent += report.state_pages;
    let state = Duration(state.0 + report.state_pages * wire.page_ns);
    if config.strategy == Strategy::PreCopy {
        report.dirty_at_freeze = to_send.len() as u64;
        for &at in &to_send {
            copy_page(src, &layout, dst, &sk, at, &mut frames);
        }
        report.pages_sent += to_send.len() as u64;
        let down = Duration(wire.batch(to_send.len() as u64).0 + state.0);
        report.downtime = down;
        elapsed += down.0;
        report.total = Duration(elapsed);
    } else {
        report.dirty_at_freeze = missing.len() as u64;
        let down = Duration(wire.one_way + state.0);
        report.downtime = down;
        elapsed += down.0;
        // The frozen source's bytes are final: put them in now (the
        // timing below says when each would have arrived).
        for &at in &missing {
            copy_page(src, &layout, dst, &sk, at, &mut frames);
        }
        let (fetched, push_end) = post_copy_timeline(&wire, &missing, load, layout.pages);
        report.pages_fetched_on_fault = fetched;
        report.pages_sent += missing.len() as u64;
        report.total = Duration(elapsed + push_end);
    }
    // The final restore: the image grafted onto the skeleton, its pipes
    // and files sharing the pages already copied into its mappings.
    let onto = super::graft::Onto { ve: sk.ve, pids: sk.pids.clone(), maps: sk.maps.clone() };
    // Its loopback connections (in the image) join the network the
    // target will run them on: the shared one, held for the graft.
    let shared = config.shared_net_host.filter(|_| image.net.is_some());
    if shared.is_some() {
        std::mem::swap(&mut src.net, &mut dst.net);
    }
    let grafted = super::graft::graft_onto(dst, &image, &onto, false);
    if let (Some(h), Ok(g)) = (shared, &grafted) {
        for &s in &g.sockets {
            dst.net.set_host(s, h);
        }
    }
    if shared.is_some() {
        std::mem::swap(&mut src.net, &mut dst.net);
    }
    let grafted = grafted.map_err(|e| {
        dst.destroy_container(sk.ve);
        MigrateError::Restore(e.to_string())
    })?;
    frames.extend(grafted.frames);
    // The container now runs on the target, its TCP endpoints at the same
    // descriptor numbers; it goes from the source (without closing them).
    let mut sockets = Vec::new();
    for (&spid, &dpid) in &sk.pids {
        let socks: Vec<_> = src
            .process(spid)
            .map(|p| {
                // Endpoints on links; the loopback ones came with the image
                // (the source's copies close with the container).
                let link = |s| matches!(src.network().mode(s), Some(tcp_sim::Mode::Link(_)));
                p.fds.iter().filter(|(_, f)| f.socket().is_some_and(link)).map(|(fd, f)| (fd, *f)).collect()
            })
            .unwrap_or_default();
        for (fd, f) in socks {
            if let Ok(p) = src.proc_mut(spid) {
                p.fds.remove(fd);
            }
            if let Ok(p) = dst.proc_mut(dpid) {
                p.fds.install_at(fd, f);
            }
            if let Some(s) = f.socket()
                && !sockets.contains(&s)
            {
                sockets.push(s);
            }
        }
    }
    dst.ub_refresh(sk.ve);
    src.destroy_container(ve);
    let dl = Layout::of(dst, sk.ve);
    let _ = dl.take_dirty(dst);
    // The load goes on where the container now runs: the post-copy
    // phase's writes land on the target.
    if config.strategy != Strategy::PreCopy {
        let post = Duration(report.total.0 - elapsed);
        load.run(dst, sk.ve, post);
    }
    Ok(Migrated {
        report,
        ve: sk.ve,
        pids: sk.pids,
        maps: sk.maps,
        pipes: grafted.pipes,
        inodes: grafted.inodes,
        sockets,
        frames,
    })
}

/// The post-copy phase after the target resumed: the source pushes the
/// `missing` pages in order, back to back; the load touches one page
/// every `1 / rate`; a touch of a page not yet arrived faults and waits a
/// round trip plus a page (the load stalls meanwhile), and the push skips
/// what a fault fetched. Answers (pages fetched on fault, time from the
/// resume until the last page arrived). The load's own cursor is not
/// moved (its writes are replayed on the target afterwards).
fn post_copy_timeline(wire: &Wire, missing: &[u64], load: &Dirtier, pages: u64) -> (u64, u64) {
    if missing.is_empty() {
        return (0, 0);
    }
    // A fetched page leaves the push queue but takes the link for a page
    // too, so the push ends when it would have anyway.
    let push_end = wire.one_way + missing.len() as u64 * wire.page_ns;
    let arrival: BTreeMap<u64, u64> =
        missing.iter().enumerate().map(|(k, &at)| (at, wire.one_way + (k as u64 + 1) * wire.page_ns)).collect();
    let mut probe = load.clone();
    let mut fetched = std::collections::BTreeSet::new();
    let mut last_fetch = 0u64;
    if probe.pages_per_sec == 0 {
        return (0, push_end);
    }
    let step = (1_000_000_000 / probe.pages_per_sec).max(1);
    let mut t = 0u64;
    loop {
        t += step;
        if t >= push_end {
            break;
        }
        let Some((at, _)) = probe.next(pages) else { break };
        if arrival.get(&at).is_some_and(|&arr| arr > t) && fetched.insert(at) {
            t += 2 * wire.one_way + wire.page_ns;
            last_fetch = last_fetch.max(t);
        }
    }
    (fetched.len() as u64, push_end.max(last_fetch))
}

#[cfg(test)]
mod tests;
