//! `page_ops`: one vmsplice of a page into a pipe followed by one splice of
//! it out, on the model ([`kmodel::kernel::Kernel`]) and on the real kernel,
//! in one run.
//!
//! What one *operation* is, on each side (the ratio compares like with
//! like):
//!
//! - **Linux**: `vmsplice(p_w, {page, 4096}, 0)` then
//!   `splice(p_r, NULL, /dev/null, NULL, 4096, 0)`. Splicing into /dev/null
//!   releases the pipe buffer (`splice_write_null`), so its cost is part of
//!   every operation.
//! - **Model**: `Kernel::vmsplice(p_w, [one page])` then
//!   `Kernel::splice(p_r -> q_w, 4096)` (the model has no /dev/null, so the
//!   page goes to a second pipe `q`). Every 16 operations `q` is full and is
//!   drained, and that drain is timed as part of the 16 operations (its cost
//!   amortised over them, as /dev/null's is part of every Linux operation).
//!   The model thus makes three calls where Linux makes two.
//!
//! The drain is one `splice(q_r -> file, 64 KiB)` into a 16-page regular
//! file at offset 0 (made with `create_file`, rewritten by every drain): the
//! cheapest faithful consumer the model has. It consumes every buffer and
//! delivers the page's contents into the file's page cache, as the kernel's
//! page-cache write does, in the model's own representation of bytes, which
//! for a page filled with one byte is that byte. `read(q_r, 64 KiB)` into a
//! reused buffer is the other candidate; it must materialise 64 KiB in a
//! `Vec<u8>` (and, as `Kernel::read` is today, copies them twice), so it is
//! reported too, as information (`model (read drain)`), and not used for
//! the ratio.
//!
//! "Page contents on": the model kernel runs without its event log (as a
//! benchmark should) but with page contents: the user page is filled with a
//! byte through `user_fill`, and the drains carry those contents on.
//!
//! After criterion's groups, the benchmark times both sides itself, in this
//! run, in 15 interleaved rounds of 0.1 s per side (short rounds, so that
//! both sides see the same load on a shared machine), and prints the median
//! operations per second of each side (and of the model with the read
//! drain); the ratio is the model's median over the kernel's. The last two
//! lines of stdout are:
//!
//! ```text
//! page_ops ratio model/kernel = X.XX
//! page_ops bytes per page = N
//! ```
//!
//! Bytes per page is measured, not computed: the binary's global allocator
//! counts live heap bytes, and the model maps and fills 100 000 pages (see
//! [`bytes_per_page`]).
//!
//! `cargo bench -p tests --bench page_ops -- --test` (and `cargo test
//! --benches`) runs each criterion benchmark once and the self-timed
//! comparison in short rounds, so it finishes in a second or two.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use kmodel::kernel::{Fd, Kernel, KernelConfig, Pid, SpliceFlags, UserRange};
use page_refs::{Content, Holder, PAGE_SIZE, PageArena};

// ---------------------------------------------------------------------------
// A counting allocator: live heap bytes, counted only while `COUNTING` is on
// (so the timed loops pay one relaxed load per allocation, not an atomic
// read-modify-write).

/// Counts live bytes of every allocation made while [`COUNTING`] is set, and
/// separately the live allocations of exactly one page (a page's contents,
/// `Box<[u8; 4096]>`), which "bytes per page" excludes.
struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_PAGE_BLOCKS: AtomicIsize = AtomicIsize::new(0);

impl CountingAlloc {
    fn count(layout: Layout, sign: isize) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_add(sign * layout.size() as isize, Ordering::Relaxed);
            if layout.size() == PAGE_SIZE && layout.align() == 1 {
                LIVE_PAGE_BLOCKS.fetch_add(sign, Ordering::Relaxed);
            }
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; the counting touches only
// atomics and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which
        // is `System::alloc`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Self::count(layout, 1);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Self::count(layout, 1);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`,
        // with `layout` (the caller's contract).
        unsafe { System.dealloc(ptr, layout) };
        Self::count(layout, -1);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, which
        // is `System::realloc`'s.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            Self::count(layout, -1);
            // SAFETY: `new_size` is valid for `layout.align()` by the caller's
            // contract.
            Self::count(unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) }, 1);
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Live counted bytes, page-content blocks excluded.
fn live_bytes_without_contents() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed) - LIVE_PAGE_BLOCKS.load(Ordering::Relaxed) * PAGE_SIZE as isize
}

// ---------------------------------------------------------------------------
// The model side.

/// Operations per drain of the second pipe: its default capacity.
const DRAIN_EVERY: u32 = 16;

/// How the model empties `q` every [`DRAIN_EVERY`] operations.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Drain {
    /// `splice(q_r -> file, 64 KiB)` at offset 0 of a 16-page file (used for
    /// the ratio).
    SpliceToFile,
    /// `read(q_r, 64 KiB)` into a reused buffer (reported for information).
    Read,
}

/// A model kernel with one filled user page, the pipe `p` it is vmspliced
/// into and the pipe `q` it is spliced on to.
struct ModelBench {
    drain: Drain,
    k: Kernel,
    pid: Pid,
    page: [UserRange; 1],
    p_r: Fd,
    p_w: Fd,
    q_r: Fd,
    q_w: Fd,
    /// The regular file [`Drain::SpliceToFile`] writes into.
    file: Fd,
    /// Operations since `q` was last drained.
    pending: u32,
    /// The drain's destination, reused.
    sink: Vec<u8>,
}

impl ModelBench {
    fn new(drain: Drain) -> Self {
        let mut k = Kernel::new(KernelConfig { event_log: false, ..Default::default() });
        let pid = k.init_pid();
        let buffer = k.mmap_anon(pid, 1).expect("mmap");
        let page = UserRange { buffer, start: 0, len: PAGE_SIZE };
        k.user_fill(pid, page, b'x').expect("fill");
        let (p_r, p_w) = k.pipe2(pid).expect("pipe p");
        let (q_r, q_w) = k.pipe2(pid).expect("pipe q");
        let file = k.create_file(pid, u64::from(DRAIN_EVERY), 0).expect("drain file");
        let sink = Vec::with_capacity(DRAIN_EVERY as usize * PAGE_SIZE);
        ModelBench { drain, k, pid, page: [page], p_r, p_w, q_r, q_w, file, pending: 0, sink }
    }

    /// One operation: vmsplice the page into `p`, splice it on to `q`; every
    /// [`DRAIN_EVERY`] operations, drain `q`.
    #[inline]
    fn op(&mut self) {
        let flags = SpliceFlags::default();
        let n = self.k.vmsplice(self.pid, self.p_w, black_box(&self.page), flags);
        debug_assert_eq!(n, Ok(PAGE_SIZE));
        black_box(n.ok());
        let n = self.k.splice(self.pid, self.p_r, None, self.q_w, None, PAGE_SIZE as u64, flags);
        debug_assert_eq!(n, Ok(PAGE_SIZE));
        black_box(n.ok());
        self.pending += 1;
        if self.pending == DRAIN_EVERY {
            self.drain();
        }
    }

    fn drain(&mut self) {
        let len = (DRAIN_EVERY as usize * PAGE_SIZE) as u64;
        let n = match self.drain {
            Drain::SpliceToFile => {
                let mut off = 0u64;
                let flags = SpliceFlags::default();
                self.k.splice(self.pid, self.q_r, None, self.file, Some(&mut off), len, flags)
            }
            Drain::Read => {
                self.sink.clear();
                let n = self.k.read(self.pid, self.q_r, len, &mut self.sink);
                black_box(&self.sink);
                n
            }
        };
        assert_eq!(n, Ok(self.pending as usize * PAGE_SIZE), "drain of q");
        self.pending = 0;
    }

    /// Check that the last operations left nothing behind: the page is held
    /// by its mapping only once `q` is drained.
    fn finish(mut self) {
        if self.pending > 0 {
            self.drain();
        }
        for fd in [self.p_r, self.q_r] {
            assert!(self.k.pipe(pipe_of(&self.k, self.pid, fd)).is_some_and(|p| p.is_empty()), "pipes drained");
        }
        if self.drain == Drain::SpliceToFile {
            // The file's first page now carries the user page's contents.
            let mut head = Vec::new();
            let mut off = 0u64;
            let (r, w) = self.k.pipe2(self.pid).expect("check pipe");
            let n = self.k.splice(self.pid, self.file, Some(&mut off), w, None, 8, SpliceFlags::default());
            assert_eq!(n, Ok(8));
            assert_eq!(self.k.read(self.pid, r, 8, &mut head), Ok(8));
            assert_eq!(head, b"xxxxxxxx", "the drain carried the page's contents");
        }
        self.k.teardown();
        self.k.pages().check_teardown().expect("model leaked pages");
    }
}

/// The pipe behind descriptor `fd`.
fn pipe_of(k: &Kernel, pid: Pid, fd: Fd) -> kmodel::kernel::PipeId {
    k.process(pid).and_then(|p| p.fds.get(fd)).and_then(|f| f.pipe()).expect("a pipe end")
}

// ---------------------------------------------------------------------------
// The Linux side.

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::c_void;

    use page_refs::PAGE_SIZE;

    /// One anonymous page, filled, vmspliced into a pipe whose read end is
    /// spliced to /dev/null.
    pub struct KernelBench {
        page: *mut c_void,
        p_r: libc::c_int,
        p_w: libc::c_int,
        devnull: libc::c_int,
    }

    impl KernelBench {
        pub fn new() -> Self {
            // SAFETY: a fresh private anonymous mapping; no existing memory
            // is touched.
            let page = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    PAGE_SIZE,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(page, libc::MAP_FAILED, "mmap: {}", std::io::Error::last_os_error());
            // SAFETY: `page` is a writable mapping of PAGE_SIZE bytes that
            // nothing else references.
            unsafe { std::ptr::write_bytes(page.cast::<u8>(), b'x', PAGE_SIZE) };
            let mut fds = [0 as libc::c_int; 2];
            // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
            let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
            assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
            // SAFETY: a NUL-terminated path literal.
            let devnull = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
            assert!(devnull >= 0, "open /dev/null: {}", std::io::Error::last_os_error());
            KernelBench { page, p_r: fds[0], p_w: fds[1], devnull }
        }

        /// One operation: vmsplice the page into the pipe, splice it to
        /// /dev/null.
        #[inline]
        pub fn op(&mut self) {
            let iov = libc::iovec { iov_base: self.page, iov_len: PAGE_SIZE };
            // SAFETY: `iov` describes our live PAGE_SIZE mapping and `p_w` is
            // our open pipe write end; the pipe is empty (every op drains
            // it), so this does not block.
            let n = unsafe { libc::vmsplice(self.p_w, &iov, 1, 0) };
            debug_assert_eq!(n, PAGE_SIZE as isize, "vmsplice: {}", std::io::Error::last_os_error());
            std::hint::black_box(n);
            // SAFETY: both descriptors are ours and open; null offsets are
            // allowed for a pipe and for /dev/null.
            let n = unsafe {
                libc::splice(self.p_r, std::ptr::null_mut(), self.devnull, std::ptr::null_mut(), PAGE_SIZE, 0)
            };
            debug_assert_eq!(n, PAGE_SIZE as isize, "splice: {}", std::io::Error::last_os_error());
            std::hint::black_box(n);
        }

        /// Check once that the calls work (the timed loop only
        /// debug-asserts).
        pub fn check(&mut self) {
            let iov = libc::iovec { iov_base: self.page, iov_len: PAGE_SIZE };
            // SAFETY: as in `op`.
            let n = unsafe { libc::vmsplice(self.p_w, &iov, 1, 0) };
            assert_eq!(n, PAGE_SIZE as isize, "vmsplice: {}", std::io::Error::last_os_error());
            // SAFETY: as in `op`.
            let n = unsafe {
                libc::splice(self.p_r, std::ptr::null_mut(), self.devnull, std::ptr::null_mut(), PAGE_SIZE, 0)
            };
            assert_eq!(n, PAGE_SIZE as isize, "splice: {}", std::io::Error::last_os_error());
        }
    }

    impl Drop for KernelBench {
        fn drop(&mut self) {
            // SAFETY: closing and unmapping what `new` opened and mapped,
            // once; nothing uses them afterwards.
            unsafe {
                libc::close(self.p_r);
                libc::close(self.p_w);
                libc::close(self.devnull);
                libc::munmap(self.page, PAGE_SIZE);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Criterion groups.

fn bench_groups(c: &mut Criterion) {
    let mut g = c.benchmark_group("page_ops");
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    g.sample_size(50);
    g.bench_function("model", |b| {
        let mut m = ModelBench::new(Drain::SpliceToFile);
        b.iter(|| m.op());
        m.finish();
    });
    g.bench_function("model_read_drain", |b| {
        let mut m = ModelBench::new(Drain::Read);
        b.iter(|| m.op());
        m.finish();
    });
    #[cfg(target_os = "linux")]
    g.bench_function("kernel", |b| {
        let mut k = linux::KernelBench::new();
        k.check();
        b.iter(|| k.op());
    });
    g.finish();
}

// ---------------------------------------------------------------------------
// The self-timed comparison and the memory measurement.

/// Operations per timing batch: a multiple of [`DRAIN_EVERY`], so every
/// batch pays its full share of drains.
const BATCH: u32 = 64 * DRAIN_EVERY;

/// Run batches of `op` for about `dur`; answers operations per second.
fn ops_per_sec(dur: Duration, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut ops = 0u64;
    loop {
        for _ in 0..BATCH {
            op();
        }
        ops += u64::from(BATCH);
        let elapsed = start.elapsed();
        if elapsed >= dur {
            return ops as f64 / elapsed.as_secs_f64();
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// Medians of the self-timed comparison, in operations per second.
struct Rates {
    /// The model, [`Drain::SpliceToFile`].
    model: f64,
    /// The model, [`Drain::Read`].
    model_read: f64,
    /// Linux; `None` off Linux.
    kernel: Option<f64>,
}

/// Median ops/s of each side over `rounds` interleaved rounds of `dur`
/// each.
fn compare(rounds: usize, dur: Duration) -> Rates {
    let mut model = ModelBench::new(Drain::SpliceToFile);
    let mut model_read = ModelBench::new(Drain::Read);
    #[cfg(target_os = "linux")]
    let mut kernel = {
        let mut k = linux::KernelBench::new();
        k.check();
        k
    };
    // Warm both up (caches, branch predictors, page faults).
    ops_per_sec(dur / 4, || model.op());
    ops_per_sec(dur / 4, || model_read.op());
    #[cfg(target_os = "linux")]
    ops_per_sec(dur / 4, || kernel.op());
    let mut m = Vec::with_capacity(rounds);
    let mut mr = Vec::with_capacity(rounds);
    #[cfg_attr(not(target_os = "linux"), allow(unused_mut))]
    let mut k = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        m.push(ops_per_sec(dur, || model.op()));
        mr.push(ops_per_sec(dur, || model_read.op()));
        #[cfg(target_os = "linux")]
        k.push(ops_per_sec(dur, || kernel.op()));
    }
    model.finish();
    model_read.finish();
    Rates { model: median(m), model_read: median(mr), kernel: (!k.is_empty()).then(|| median(k)) }
}

/// Tracked pages in the memory measurement.
const MEM_PAGES: usize = 100_000;

/// Heap bytes per tracked page, page contents excluded, measured with the
/// counting allocator. Answers (whole model, arena alone):
///
/// - whole model: a [`Kernel`] maps [`MEM_PAGES`] pages and fills every
///   byte, so each page is a live frame of the arena held by its page table
///   entry. Counted: the arena's frame (slab entry, holders, content
///   descriptor, generation), the PTE, and the spare capacity the growing
///   vectors keep: everything the model spends per page except the page's
///   bytes. A page's bytes are a `Box<[u8; 4096]>` when they are mixed;
///   live allocations of exactly 4096 bytes are subtracted (filled pages are
///   uniform, so there are none here, but the figure would stay right with
///   mixed pages);
/// - arena alone: [`PageArena::alloc_with`] of [`MEM_PAGES`] uniform
///   frames, one holder each.
fn bytes_per_page() -> (f64, f64) {
    let mut k = Kernel::new(KernelConfig { event_log: false, ..Default::default() });
    let pid = k.init_pid();
    COUNTING.store(true, Ordering::SeqCst);
    let before = live_bytes_without_contents();
    let buffer = k.mmap_anon(pid, MEM_PAGES as u64).expect("mmap");
    k.user_fill(pid, UserRange { buffer, start: 0, len: MEM_PAGES * PAGE_SIZE }, b'm').expect("fill");
    let after = live_bytes_without_contents();
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(k.pages().live_pages(), MEM_PAGES + 1, "every page is a frame (plus the zero page)");
    let whole = (after - before) as f64 / MEM_PAGES as f64;
    k.teardown();
    drop(k);

    COUNTING.store(true, Ordering::SeqCst);
    let before = live_bytes_without_contents();
    let mut arena = PageArena::without_log();
    for i in 0..MEM_PAGES {
        arena.alloc_with(Holder::user(1, i as u32), Content::Uniform(b'm'));
    }
    let after = live_bytes_without_contents();
    COUNTING.store(false, Ordering::SeqCst);
    let arena_only = (after - before) as f64 / MEM_PAGES as f64;
    drop(arena);
    (whole, arena_only)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    // criterion's own rule: without `--bench` (cargo test --benches) or with
    // `--test`, run every benchmark once.
    let quick = !has("--bench") || has("--test");
    // Listing and `--profile-time` (a profiler drives the run) want
    // criterion's output only.
    let criterion_only = has("--list") || args.iter().any(|a| a.starts_with("--profile-time"));

    let mut c = Criterion::default().configure_from_args();
    bench_groups(&mut c);
    c.final_summary();
    if criterion_only {
        return;
    }

    let (whole, arena_only) = bytes_per_page();
    let (rounds, dur) = if quick { (3, Duration::from_millis(20)) } else { (15, Duration::from_millis(100)) };
    let Rates { model, model_read, kernel } = compare(rounds, dur);

    println!();
    println!("page_ops: one op = vmsplice of one page + splice of it out: Linux to /dev/null; the model to a second");
    println!("page_ops: pipe drained every {DRAIN_EVERY} ops, the drain's time included");
    println!("page_ops: medians of {rounds} interleaved rounds of {dur:?} per side");
    println!("page_ops model ops/s = {model:.0} ({:.1} ns/op; drain: splice to a file)", 1e9 / model);
    println!("page_ops model (read drain) ops/s = {model_read:.0} ({:.1} ns/op; information only)", 1e9 / model_read);
    match kernel {
        Some(k) => println!("page_ops kernel ops/s = {k:.0} ({:.1} ns/op)", 1e9 / k),
        None => println!("page_ops kernel ops/s = n/a (not Linux)"),
    }
    if let Some(k) = kernel {
        println!("page_ops ratio model (read drain)/kernel = {:.2} (information only)", model_read / k);
    }
    println!(
        "page_ops memory: {whole:.1} B/page for the whole model (frame + PTE + spare capacity), {arena_only:.1} B/page \
         for the arena alone ({} B static frame estimate); page contents excluded",
        PageArena::bookkeeping_bytes_per_page()
    );
    match kernel {
        Some(k) => println!("page_ops ratio model/kernel = {:.2}", model / k),
        None => println!("page_ops ratio model/kernel = n/a"),
    }
    println!("page_ops bytes per page = {}", whole.ceil() as u64);
}
