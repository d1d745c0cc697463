//! Random syscall sequences, straight on [`Kernel`], never break the page
//! invariants, never panic, and answer only real errnos; and bytes are
//! conserved through pipes.
//!
//! - `random_calls_keep_invariants`: random arguments, bad and closed
//!   descriptors, huge lengths and offsets; `check_invariants` after every
//!   call, `teardown_and_check` at the end.
//! - `bytes_are_conserved_through_pipes`: a shadow queue per pipe; every
//!   byte that leaves a pipe (read, vmsplice to user memory, splice to a
//!   file) is the next byte that went in (write, vmsplice of user memory,
//!   splice or sendfile from a file, splice or tee from another pipe), as
//!   long as nobody stores into memory or files that pipes hold pages of.
//!
//! `KMODEL_INV_TESTS=N` changes the number of cases of each property
//! (default 600; the bad-memory variant runs half as many).

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use kmodel::kernel::{
    BLOCKED, BufferId, Errno, Fcntl, Fd, FileKind, InodeId, Kernel, KernelConfig, MAX_RW_COUNT, Pid, Pte, SpliceFlags,
    UserRange,
};
use page_refs::{PAGE_SIZE, Source};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use tests::{Rng, drop_chunks};

const PAGE: u64 = PAGE_SIZE as u64;

/// Counters, printed at the end of each property (`--nocapture`), to show
/// that the calls do something besides failing.
static CALLS: AtomicU64 = AtomicU64::new(0);
static CALLS_OK: AtomicU64 = AtomicU64::new(0);
static CALLS_MOVED: AtomicU64 = AtomicU64::new(0);
static FLOW_OPS_OK: AtomicU64 = AtomicU64::new(0);
static BYTES_CHECKED: AtomicU64 = AtomicU64::new(0);
static FLOW_BLOCKED: AtomicU64 = AtomicU64::new(0);

fn cases() -> u64 {
    std::env::var("KMODEL_INV_TESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(600)
}

// ---------------------------------------------------------------------------
// Random calls
// ---------------------------------------------------------------------------

/// A user range as the test asks for it: which mapping (an index into the
/// mappings made so far, or a bogus id), start and length in bytes.
#[derive(Clone, Debug)]
struct URange {
    buf: u8,
    start: u64,
    len: u64,
}

/// One syscall with raw arguments. Descriptors are raw numbers (the
/// lowest free number is 3, so small numbers mostly name something; -1,
/// 0..2 and large ones never do).
#[derive(Clone, Debug)]
enum Call {
    Pipe2,
    Mmap {
        pages: u64,
    },
    CreateFile {
        pages: u64,
        byte: u8,
    },
    Fill {
        range: URange,
        byte: u8,
    },
    Write {
        fd: i32,
        len: u64,
        byte: u8,
    },
    Read {
        fd: i32,
        len: u64,
    },
    Vmsplice {
        fd: i32,
        iov: Vec<URange>,
        flags: SpliceFlags,
    },
    Splice {
        fd_in: i32,
        off_in: Option<u64>,
        fd_out: i32,
        off_out: Option<u64>,
        len: u64,
        flags: SpliceFlags,
    },
    Tee {
        fd_in: i32,
        fd_out: i32,
        len: u64,
        flags: SpliceFlags,
    },
    Sendfile {
        fd_out: i32,
        fd_in: i32,
        off: Option<u64>,
        len: u64,
    },
    Pwrite {
        fd: i32,
        off: u64,
        len: u64,
        byte: u8,
    },
    Fcntl {
        fd: i32,
        cmd: Fcntl,
    },
    Close {
        fd: i32,
    },
    /// A call from a process that does not exist.
    NoSuchProcess {
        fd: i32,
    },
}

/// Lengths: boundaries of pages, pipes and `MAX_RW_COUNT`, and huge ones.
fn length(rng: &mut Rng) -> u64 {
    match rng.below(12) {
        0 => 0,
        1 => 1,
        2..=4 => rng.range(0, 3 * PAGE),
        5 => rng.pick(&[PAGE - 1, PAGE, PAGE + 1, 2 * PAGE, 65536, 70000]),
        6 => rng.pick(&[1 << 20, MAX_RW_COUNT, MAX_RW_COUNT + 1, 1 << 31, 1 << 32]),
        7 => rng.pick(&[1 << 62, (1 << 62) + 1, i64::MAX as u64, 1 << 63, u64::MAX]),
        _ => rng.pick(&[100, 4096, 5000, 8192, 12288]),
    }
}

fn offset(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0 => rng.pick(&[1 << 40, 1 << 62, i64::MAX as u64 - 1, i64::MAX as u64, 1 << 63, u64::MAX]),
        1..=3 => rng.range(0, 5 * PAGE),
        _ => rng.pick(&[0, 1, 100, PAGE - 1, PAGE, PAGE + 1, 3 * PAGE]),
    }
}

/// A descriptor argument: mostly "the k-th open descriptor" (resolved
/// when the call runs), sometimes a raw number: never open (-1, 0..2,
/// huge) or whatever happens to be at 3..14 (maybe closed).
fn fd_as(rng: &mut Rng, role: i32) -> i32 {
    match rng.below(10) {
        0 => rng.pick(&[-1, 0, 1, 2, 1000, i32::MAX, i32::MIN]),
        1 => rng.range(3, 14) as i32,
        2 => OPEN_FD_BASE + rng.below(16) as i32,
        _ => OPEN_FD_BASE + role * ROLE + rng.below(16) as i32,
    }
}

fn fd(rng: &mut Rng) -> i32 {
    fd_as(rng, 0)
}

/// A descriptor that is mostly open for reading.
fn rfd(rng: &mut Rng) -> i32 {
    fd_as(rng, 1)
}

/// A descriptor that is mostly open for writing.
fn wfd(rng: &mut Rng) -> i32 {
    fd_as(rng, 2)
}

/// Descriptor arguments from `OPEN_FD_BASE` up name an open descriptor:
/// `OPEN_FD_BASE + role * ROLE + k` is the k-th (modulo) of those open
/// for reading (role 1), for writing (role 2) or of all (role 0).
const OPEN_FD_BASE: i32 = 1 << 20;
const ROLE: i32 = 1 << 10;

fn urange(rng: &mut Rng, huge: bool) -> URange {
    // Mostly one of the mappings made so far (modulo), rarely a bogus one.
    let buf = if rng.chance(1, 12) { BOGUS_BUF } else { rng.below(8) as u8 };
    let (start, len) = match rng.below(16) {
        0 if huge => (rng.range(0, 4 * PAGE), rng.pick(&[1 << 32, 1 << 62, u64::MAX - 5])),
        1 if huge => (rng.pick(&[u64::MAX - 10, 1 << 62, 9 * PAGE]), rng.range(0, 2 * PAGE)),
        2 => (rng.range(0, 4 * PAGE), 0),
        _ => {
            let start = rng.range(0, 4 * PAGE);
            (start, rng.range(0, 4 * PAGE))
        }
    };
    URange { buf, start, len }
}

fn flags(rng: &mut Rng) -> SpliceFlags {
    SpliceFlags { mov: rng.chance(1, 5), nonblock: rng.chance(3, 4), more: rng.chance(1, 5), gift: rng.chance(1, 4) }
}

fn opt_offset(rng: &mut Rng) -> Option<u64> {
    if rng.chance(1, 5) { Some(offset(rng)) } else { None }
}

/// A mapping selector that names no mapping.
const BOGUS_BUF: u8 = u8::MAX;

/// Options of the generator of [`Call`]s.
#[derive(Copy, Clone, Debug)]
struct CallOptions {
    /// Pass user ranges outside their mapping, or of huge lengths, to
    /// vmsplice (Linux answers EFAULT; see the report).
    bad_user_ranges: bool,
}

fn call(rng: &mut Rng, o: CallOptions) -> Call {
    // pipe mmap file fill write read vmsplice splice tee sendfile pwrite fcntl close nosuchproc
    let w = [5, 3, 3, 6, 12, 12, 12, 14, 6, 5, 5, 8, 4, 1];
    match rng.weighted(&w) {
        0 => Call::Pipe2,
        1 => Call::Mmap {
            pages: if rng.chance(1, 10) { rng.pick(&[(1 << 22) + 1, 1 << 40, u64::MAX]) } else { rng.range(0, 5) },
        },
        2 => Call::CreateFile {
            pages: if rng.chance(1, 10) { rng.pick(&[1 << 40, 1 << 51, 1 << 52, u64::MAX]) } else { rng.range(0, 4) },
            byte: rng.next_u64() as u8,
        },
        3 => {
            let range = urange(rng, true);
            Call::Fill { range, byte: rng.next_u64() as u8 }
        }
        4 => Call::Write { fd: wfd(rng), len: length(rng), byte: rng.next_u64() as u8 },
        5 => Call::Read { fd: rfd(rng), len: length(rng) },
        6 => {
            let n = if rng.chance(1, 20) { rng.pick(&[0, 1025, 1100]) } else { rng.range(1, 4) };
            let iov = (0..n).map(|_| urange(rng, o.bad_user_ranges)).collect();
            Call::Vmsplice { fd: fd(rng), iov, flags: flags(rng) }
        }
        7 => Call::Splice {
            fd_in: rfd(rng),
            off_in: opt_offset(rng),
            fd_out: wfd(rng),
            off_out: opt_offset(rng),
            len: length(rng),
            flags: flags(rng),
        },
        8 => Call::Tee { fd_in: rfd(rng), fd_out: wfd(rng), len: length(rng), flags: flags(rng) },
        9 => Call::Sendfile { fd_out: wfd(rng), fd_in: rfd(rng), off: opt_offset(rng), len: length(rng) },
        10 => Call::Pwrite { fd: wfd(rng), off: offset(rng), len: length(rng), byte: rng.next_u64() as u8 },
        11 => {
            let cmd = match rng.below(7) {
                0 => Fcntl::GetNonblock,
                1 | 2 => Fcntl::SetNonblock(rng.chance(1, 2)),
                3 => Fcntl::GetPipeSz,
                4 | 5 => Fcntl::SetPipeSz(rng.pick(&[
                    0,
                    1,
                    4096,
                    8192,
                    12288,
                    65536,
                    1 << 20,
                    (1 << 20) + 1,
                    1 << 31,
                    (1 << 31) + 1,
                    1 << 32,
                    (1 << 32) + 4096,
                    u64::MAX,
                ])),
                _ => {
                    if rng.chance(1, 2) {
                        Fcntl::GetPsz
                    } else {
                        Fcntl::SetPsz(rng.range(0, 20))
                    }
                }
            };
            Call::Fcntl { fd: fd(rng), cmd }
        }
        12 => Call::Close { fd: fd(rng) },
        _ => Call::NoSuchProcess { fd: fd(rng) },
    }
}

/// A sequence of calls, shrinking by dropping calls.
#[derive(Clone)]
struct Calls(Vec<Call>);

impl fmt::Debug for Calls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} calls:", self.0.len())?;
        for (i, c) in self.0.iter().enumerate() {
            writeln!(f, "  {i}: {c:?}")?;
        }
        Ok(())
    }
}

fn gen_calls(g: &mut Gen, o: CallOptions) -> Vec<Call> {
    let mut rng = Rng::new(u64::arbitrary(g));
    // Start with a few objects so most descriptors name something.
    let mut calls = vec![Call::Pipe2, Call::Mmap { pages: rng.range(1, 4) }, Call::CreateFile { pages: 2, byte: b'F' }];
    if rng.chance(1, 2) {
        calls.push(Call::Pipe2);
    }
    let n = rng.range(10, 60);
    calls.extend((0..n).map(|_| call(&mut rng, o)));
    calls
}

impl Arbitrary for Calls {
    fn arbitrary(g: &mut Gen) -> Self {
        Calls(gen_calls(g, CallOptions { bad_user_ranges: false }))
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        Box::new(drop_chunks(&self.0).map(Calls))
    }
}

/// Like [`Calls`], but passing user ranges outside their mappings too.
#[derive(Clone, Debug)]
struct CallsBadMemory(Calls);

impl Arbitrary for CallsBadMemory {
    fn arbitrary(g: &mut Gen) -> Self {
        CallsBadMemory(Calls(gen_calls(g, CallOptions { bad_user_ranges: true })))
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        Box::new(drop_chunks(&self.0.0).map(|v| CallsBadMemory(Calls(v))))
    }
}

/// Lengths that could make the model (or a host) copy gigabytes in and
/// out of a regular file are cut down: the model holds file data in
/// memory. Pipes bound every other transfer by their capacity.
const FILE_IO_CAP: u64 = 1 << 18;

struct Machine {
    k: Kernel,
    pid: Pid,
    bufs: Vec<BufferId>,
    /// Cut user ranges down to their mapping (when false, they go to the
    /// kernel as generated).
    clamp_user: bool,
}

impl Machine {
    fn new(clamp_user: bool) -> Self {
        let k = Kernel::new(KernelConfig { event_log: false, ..KernelConfig::default() });
        let pid = k.init_pid();
        Machine { k, pid, bufs: Vec::new(), clamp_user }
    }

    /// `c` with its "k-th open descriptor" arguments made real numbers.
    fn resolve(&self, c: &Call) -> Call {
        let open = |role: i32| -> Vec<i32> {
            let Some(p) = self.k.process(self.pid) else { return Vec::new() };
            p.fds
                .iter()
                .filter(|(_, f)| match role {
                    1 => f.readable,
                    2 => f.writable,
                    _ => true,
                })
                .map(|(fd, _)| fd.0)
                .collect()
        };
        let fd = |x: i32| {
            if x < OPEN_FD_BASE {
                return x;
            }
            let (role, k) = ((x - OPEN_FD_BASE) / ROLE, ((x - OPEN_FD_BASE) % ROLE) as usize);
            let fds = open(role);
            if fds.is_empty() { -1 } else { fds[k % fds.len()] }
        };
        let mut c = c.clone();
        match &mut c {
            Call::Write { fd: a, .. }
            | Call::Read { fd: a, .. }
            | Call::Vmsplice { fd: a, .. }
            | Call::Pwrite { fd: a, .. }
            | Call::Fcntl { fd: a, .. }
            | Call::Close { fd: a }
            | Call::NoSuchProcess { fd: a } => *a = fd(*a),
            Call::Splice { fd_in: a, fd_out: b, .. }
            | Call::Tee { fd_in: a, fd_out: b, .. }
            | Call::Sendfile { fd_out: b, fd_in: a, .. } => {
                *a = fd(*a);
                *b = fd(*b);
            }
            Call::Pipe2 | Call::Mmap { .. } | Call::CreateFile { .. } | Call::Fill { .. } => {}
        }
        c
    }

    fn is_regular(&self, fd: i32) -> bool {
        matches!(self.k.process(self.pid).and_then(|p| p.fds.get(Fd(fd))).map(|f| f.kind), Some(FileKind::Regular(_)))
    }

    fn urange(&self, r: &URange) -> UserRange {
        let buffer = match r.buf {
            BOGUS_BUF => BufferId(0xdead),
            _ if self.bufs.is_empty() => BufferId(0xdead),
            b => self.bufs[b as usize % self.bufs.len()],
        };
        let size = self.k.process(self.pid).and_then(|p| p.mm.get(&buffer)).map(|b| b.len() as u64);
        match size {
            Some(size) if self.clamp_user => {
                let start = r.start.min(size);
                UserRange { buffer, start: start as usize, len: r.len.min(size - start) as usize }
            }
            _ => UserRange { buffer, start: r.start as usize, len: r.len as usize },
        }
    }

    /// Run one call; the result and the errnos it may answer.
    fn run(&mut self, c: &Call) -> (Result<usize, Errno>, &'static [Errno]) {
        use Errno::*;
        let pid = self.pid;
        let c = &self.resolve(c);
        match c {
            Call::Pipe2 => (self.k.pipe2(pid).map(|_| 0), &[EMFILE, ENFILE]),
            Call::Mmap { pages } => {
                let r = self.k.mmap_anon(pid, *pages);
                if let Ok(b) = r {
                    self.bufs.push(b);
                }
                (r.map(|_| 0), &[ENOMEM, EINVAL])
            }
            Call::CreateFile { pages, byte } => (self.k.create_file(pid, *pages, *byte).map(|_| 0), &[EFBIG, ENOSPC]),
            Call::Fill { range, byte } => (self.k.user_fill(pid, self.urange(range), *byte).map(|()| 0), &[EFAULT]),
            Call::Write { fd, len, byte } => {
                let len = if self.is_regular(*fd) { (*len).min(FILE_IO_CAP) } else { *len };
                let src = Source::Fill { byte: *byte, len: len as usize };
                (check_count(self.k.write(pid, Fd(*fd), src), len), &[EBADF, EINVAL, EPIPE, EAGAIN, EFBIG, BLOCKED])
            }
            Call::Read { fd, len } => {
                let len = if self.is_regular(*fd) { (*len).min(FILE_IO_CAP) } else { *len };
                let mut out = Vec::new();
                let r = self.k.read(pid, Fd(*fd), len, &mut out);
                let r = match r {
                    Ok(n) if n != out.len() => Err(format!("read answered {n} but gave {} bytes", out.len())),
                    r => Ok(r),
                };
                match r {
                    Ok(r) => (check_count(r, len), &[EBADF, EINVAL, EAGAIN, BLOCKED]),
                    Err(e) => panic!("{e}"),
                }
            }
            Call::Vmsplice { fd, iov, flags } => {
                let iov: Vec<UserRange> = iov.iter().map(|r| self.urange(r)).collect();
                let total = iov.iter().fold(0u64, |a, r| a.saturating_add(r.len as u64));
                (
                    check_count(self.k.vmsplice(pid, Fd(*fd), &iov, *flags), total),
                    &[EBADF, EINVAL, EFAULT, EPIPE, EAGAIN, ENOMEM, BLOCKED],
                )
            }
            Call::Splice { fd_in, off_in, fd_out, off_out, len, flags } => {
                let (mut oi, mut oo) = (*off_in, *off_out);
                let r = self.k.splice(pid, Fd(*fd_in), oi.as_mut(), Fd(*fd_out), oo.as_mut(), *len, *flags);
                (check_count(r, *len), &[EBADF, ESPIPE, EINVAL, EPIPE, EAGAIN, EFBIG, ENOMEM, BLOCKED])
            }
            Call::Tee { fd_in, fd_out, len, flags } => (
                check_count(self.k.tee(pid, Fd(*fd_in), Fd(*fd_out), *len, *flags), *len),
                &[EBADF, EINVAL, EPIPE, EAGAIN, ENOMEM, BLOCKED],
            ),
            Call::Sendfile { fd_out, fd_in, off, len } => {
                let len = if self.is_regular(*fd_out) { (*len).min(FILE_IO_CAP) } else { *len };
                let mut off = *off;
                (
                    check_count(self.k.sendfile(pid, Fd(*fd_out), Fd(*fd_in), off.as_mut(), len), len),
                    &[EBADF, ESPIPE, EINVAL, EPIPE, EAGAIN, EOVERFLOW, EFBIG, ENOMEM, BLOCKED],
                )
            }
            Call::Pwrite { fd, off, len, byte } => {
                let len = (*len).min(FILE_IO_CAP);
                let src = Source::Fill { byte: *byte, len: len as usize };
                (check_count(self.k.pwrite(pid, Fd(*fd), src, *off), len), &[EBADF, EINVAL, ESPIPE, EFBIG])
            }
            Call::Fcntl { fd, cmd } => (self.k.fcntl(pid, Fd(*fd), *cmd), &[EBADF, EINVAL, EBUSY, EPERM, ENOMEM]),
            Call::Close { fd } => (self.k.close(pid, Fd(*fd)), &[EBADF]),
            Call::NoSuchProcess { fd } => {
                let nobody = Pid(4242);
                let r = self
                    .k
                    .close(nobody, Fd(*fd))
                    .and_then(|_| self.k.write(nobody, Fd(*fd), Source::Fill { byte: 0, len: 1 }));
                (r, &[ESRCH])
            }
        }
    }
}

/// A count larger than what was asked for is a bug: make it an error the
/// errno check rejects.
fn check_count(r: Result<usize, Errno>, asked: u64) -> Result<usize, Errno> {
    match r {
        Ok(n) if n as u64 > asked => panic!("answered {n} bytes for a request of {asked}"),
        r => r,
    }
}

fn run_calls(calls: &[Call], clamp_user: bool) -> TestResult {
    let mut m = Machine::new(clamp_user);
    for (i, c) in calls.iter().enumerate() {
        let (r, allowed) = m.run(c);
        CALLS.fetch_add(1, Relaxed);
        if let Ok(n) = r {
            CALLS_OK.fetch_add(1, Relaxed);
            if n > 0 && !matches!(c, Call::Fcntl { .. }) {
                CALLS_MOVED.fetch_add(1, Relaxed);
            }
        }
        if let Err(e) = r
            && (!allowed.contains(&e) || e == Errno::UnknownErrno)
        {
            return TestResult::error(format!("call {i} {c:?} answered {e:?} ({}), not one of {allowed:?}", e as i32));
        }
        if let Err(e) = m.k.check_invariants() {
            return TestResult::error(format!("after call {i} {c:?} -> {r:?}: {e}"));
        }
    }
    match m.k.teardown_and_check() {
        Ok(()) => TestResult::passed(),
        Err(e) => TestResult::error(format!("at teardown: {e}")),
    }
}

#[test]
fn random_calls_keep_invariants() {
    fn prop(c: Calls) -> TestResult {
        run_calls(&c.0, true)
    }
    QuickCheck::new()
        .tests(cases())
        .max_tests(cases() * 2)
        .rng(Gen::new(40))
        .quickcheck(prop as fn(Calls) -> TestResult);
    eprintln!(
        "random calls: {} cases; in this binary so far {} calls, {} succeeded, {} moved data",
        cases(),
        CALLS.load(Relaxed),
        CALLS_OK.load(Relaxed),
        CALLS_MOVED.load(Relaxed),
    );
}

/// Memory the caller does not have (outside its mapping, or lengths that
/// wrap) must answer EFAULT, as Linux does, never panic.
#[test]
fn random_calls_with_bad_user_memory_keep_invariants() {
    fn prop(c: CallsBadMemory) -> TestResult {
        run_calls(&c.0.0, false)
    }
    QuickCheck::new()
        .tests(cases() / 2)
        .max_tests(cases())
        .rng(Gen::new(40))
        .quickcheck(prop as fn(CallsBadMemory) -> TestResult);
}

// ---------------------------------------------------------------------------
// Byte conservation
// ---------------------------------------------------------------------------

/// Which pipe, by index into the pipes made at setup.
type PipeSel = u8;

/// One operation of the conservation property.
#[derive(Clone, Debug)]
enum Flow {
    /// `write(p.w, len bytes of a fresh value)`.
    Write { p: PipeSel, len: u64 },
    /// `vmsplice(p.w, ranges of the source buffers)`.
    VmspliceIn { p: PipeSel, iov: Vec<(u8, u64, u64)>, gift: bool },
    /// `splice(source file [@off] -> p.w)`.
    SpliceIn { p: PipeSel, off: Option<u64>, len: u64 },
    /// `sendfile(p.w, source file [@off])`.
    SendfileIn { p: PipeSel, off: Option<u64>, len: u64 },
    /// `read(p.r)`.
    Read { p: PipeSel, len: u64 },
    /// `vmsplice(p.r, disjoint ranges of the sink buffer, in order)`.
    VmspliceOut { p: PipeSel, iov: Vec<(u64, u64)> },
    /// `splice(p.r -> sink file [@off])`.
    SpliceOut { p: PipeSel, off: Option<u64>, len: u64 },
    /// `splice(a.r -> b.w)`.
    Splice { a: PipeSel, b: PipeSel, len: u64 },
    /// `tee(a.r -> b.w)`.
    Tee { a: PipeSel, b: PipeSel, len: u64 },
    /// `F_SETPIPE_SZ`.
    Resize { p: PipeSel, size: u64 },
    /// `close` of one end.
    Close { p: PipeSel, read_end: bool },
}

/// The setup of a conservation case plus its operations.
#[derive(Clone)]
struct FlowCase {
    seed: u64,
    ops: Vec<Flow>,
}

impl fmt::Debug for FlowCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "setup seed {:#x}, {} ops:", self.seed, self.ops.len())?;
        for (i, o) in self.ops.iter().enumerate() {
            writeln!(f, "  {i}: {o:?}")?;
        }
        Ok(())
    }
}

const NPIPES: u64 = 3;
/// Sizes in pages of the two source buffers and the sink buffer.
const SRC_PAGES: u64 = 4;
const SINK_PAGES: u64 = 5;

fn flow_len(rng: &mut Rng) -> u64 {
    match rng.below(8) {
        0 => rng.pick(&[0, 1, PAGE - 1, PAGE, PAGE + 1]),
        1 => rng.pick(&[65536, 70000, 1 << 20, 1 << 62]),
        _ => rng.range(1, 3 * PAGE),
    }
}

fn flow(rng: &mut Rng) -> Flow {
    let p = rng.below(NPIPES) as u8;
    let off = |rng: &mut Rng| if rng.chance(1, 3) { Some(rng.range(0, 4 * PAGE)) } else { None };
    match rng.weighted(&[10, 10, 6, 3, 10, 6, 6, 8, 5, 3, 1]) {
        0 => Flow::Write { p, len: flow_len(rng) },
        1 => {
            let n = rng.range(1, 3);
            let iov = (0..n)
                .map(|_| {
                    let b = rng.below(2) as u8;
                    let start = rng.range(0, SRC_PAGES * PAGE);
                    let len = rng.range(0, SRC_PAGES * PAGE - start).min(if rng.chance(1, 2) { 200 } else { u64::MAX });
                    (b, start, len)
                })
                .collect();
            Flow::VmspliceIn { p, iov, gift: rng.chance(1, 4) }
        }
        2 => Flow::SpliceIn { p, off: off(rng), len: flow_len(rng) },
        3 => Flow::SendfileIn { p, off: off(rng), len: flow_len(rng) },
        4 => Flow::Read { p, len: flow_len(rng) },
        5 => {
            // Disjoint, increasing ranges of the sink buffer.
            let mut iov = Vec::new();
            let mut at = rng.range(0, 200);
            for _ in 0..rng.range(1, 3) {
                let end = SINK_PAGES * PAGE;
                if at >= end {
                    break;
                }
                let len = rng.range(0, (end - at).min(2 * PAGE));
                iov.push((at, len));
                at += len + rng.range(0, 300);
            }
            Flow::VmspliceOut { p, iov }
        }
        6 => Flow::SpliceOut { p, off: off(rng), len: flow_len(rng) },
        7 => Flow::Splice { a: p, b: rng.below(NPIPES) as u8, len: flow_len(rng) },
        8 => Flow::Tee { a: p, b: rng.below(NPIPES) as u8, len: flow_len(rng) },
        9 => Flow::Resize { p, size: rng.pick(&[4096, 8192, 16384, 65536, 1 << 18]) },
        _ => Flow::Close { p, read_end: rng.chance(1, 2) },
    }
}

impl Arbitrary for FlowCase {
    fn arbitrary(g: &mut Gen) -> Self {
        let seed = u64::arbitrary(g);
        let mut rng = Rng::new(seed ^ 0x5eed);
        let n = rng.range(5, 60);
        FlowCase { seed, ops: (0..n).map(|_| flow(&mut rng)).collect() }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let seed = self.seed;
        Box::new(drop_chunks(&self.ops).map(move |ops| FlowCase { seed, ops }))
    }
}

/// One pipe and what the test expects to come out of it.
struct ShadowPipe {
    r: Option<Fd>,
    w: Option<Fd>,
    queue: VecDeque<u8>,
}

/// A regular file and its expected contents and position.
struct ShadowFile {
    fd: Fd,
    ino: InodeId,
    data: Vec<u8>,
    pos: u64,
}

struct Flows {
    k: Kernel,
    pid: Pid,
    pipes: Vec<ShadowPipe>,
    src: [(BufferId, Vec<u8>); 2],
    sink: BufferId,
    src_file: ShadowFile,
    sink_file: ShadowFile,
    next_byte: u8,
}

const CLOSED: Fd = Fd(-1);

fn ino_of(k: &Kernel, pid: Pid, fd: Fd) -> InodeId {
    match k.process(pid).and_then(|p| p.fds.get(fd)).map(|f| f.kind) {
        Some(FileKind::Regular(ino)) => ino,
        other => panic!("{fd:?} is not a regular file: {other:?}"),
    }
}

impl Flows {
    /// Pipes, two source buffers filled with a position-dependent pattern
    /// (some pages left untouched: they splice as the zero page), an
    /// untouched sink buffer, a source file with a pattern, an empty sink
    /// file; every descriptor nonblocking half of the time.
    fn setup(seed: u64) -> Result<Self, String> {
        let mut rng = Rng::new(seed);
        let mut k = Kernel::new(KernelConfig { event_log: false, ..KernelConfig::default() });
        let pid = k.init_pid();
        let e = |what: &str, e: Errno| format!("setup: {what}: {e:?}");
        let mut pipes = Vec::new();
        for _ in 0..NPIPES {
            let (r, w) = k.pipe2(pid).map_err(|x| e("pipe2", x))?;
            pipes.push(ShadowPipe { r: Some(r), w: Some(w), queue: VecDeque::new() });
        }
        let mut src = Vec::new();
        for b in 0..2u64 {
            let id = k.mmap_anon(pid, SRC_PAGES).map_err(|x| e("mmap", x))?;
            let mut shadow = vec![0u8; (SRC_PAGES * PAGE) as usize];
            let skip = rng.below(SRC_PAGES + 2); // maybe one page stays untouched
            let mut at = 0u64;
            let mut chunk = 0u64;
            while at < SRC_PAGES * PAGE {
                let len = 97.min(SRC_PAGES * PAGE - at);
                let byte = (1 + (chunk * 37 + b * 101).wrapping_add(seed) % 251) as u8;
                if at / PAGE != skip || (at + len - 1) / PAGE != skip {
                    for i in at..at + len {
                        if i / PAGE != skip {
                            shadow[i as usize] = byte;
                        }
                    }
                    // Fill piecewise so the skipped page stays untouched.
                    for (s, l) in split_at_page(at, len) {
                        if s / PAGE != skip {
                            let r = UserRange { buffer: id, start: s as usize, len: l as usize };
                            k.user_fill(pid, r, byte).map_err(|x| e("fill", x))?;
                        }
                    }
                }
                at += len;
                chunk += 1;
            }
            src.push((id, shadow));
        }
        let sink = k.mmap_anon(pid, SINK_PAGES).map_err(|x| e("mmap", x))?;
        let src_pages = rng.range(0, 3);
        let fd = k.create_file(pid, src_pages, b'S').map_err(|x| e("create", x))?;
        let mut data = vec![b'S'; (src_pages * PAGE) as usize];
        // A few patterned pwrites, some past the end (leaving holes).
        for i in 0..rng.range(0, 4) {
            let off = rng.range(0, 5 * PAGE);
            let len = rng.range(1, 2 * PAGE);
            let byte = 0x80 + i as u8;
            k.pwrite(pid, fd, Source::Fill { byte, len: len as usize }, off).map_err(|x| e("pwrite", x))?;
            let end = (off + len) as usize;
            if data.len() < end {
                data.resize(end, 0);
            }
            data[off as usize..end].fill(byte);
        }
        let src_file = ShadowFile { fd, ino: ino_of(&k, pid, fd), data, pos: 0 };
        let sfd = k.create_file(pid, 0, 0).map_err(|x| e("create", x))?;
        let sink_file = ShadowFile { fd: sfd, ino: ino_of(&k, pid, sfd), data: Vec::new(), pos: 0 };
        for p in &pipes {
            for fd in [p.r, p.w].into_iter().flatten() {
                if rng.chance(9, 10) {
                    k.fcntl(pid, fd, Fcntl::SetNonblock(true)).map_err(|x| e("fcntl", x))?;
                }
            }
        }
        let [a, b]: [(BufferId, Vec<u8>); 2] = src.try_into().map_err(|_| "two buffers".to_string())?;
        Ok(Flows { k, pid, pipes, src: [a, b], sink, src_file, sink_file, next_byte: 1 })
    }

    fn r(&self, p: PipeSel) -> Fd {
        self.pipes[p as usize].r.unwrap_or(CLOSED)
    }

    fn w(&self, p: PipeSel) -> Fd {
        self.pipes[p as usize].w.unwrap_or(CLOSED)
    }

    /// Take `n` expected bytes out of pipe `p`'s queue.
    fn pop(&mut self, p: PipeSel, n: usize) -> Result<Vec<u8>, String> {
        BYTES_CHECKED.fetch_add(n as u64, Relaxed);
        let q = &mut self.pipes[p as usize].queue;
        if q.len() < n {
            return Err(format!("pipe {p} gave {n} bytes but only {} went in", q.len()));
        }
        Ok(q.drain(..n).collect())
    }

    /// The bytes of the sink buffer at `start..start+len`, as the model's
    /// memory has them.
    fn sink_bytes(&self, start: u64, len: u64) -> Vec<u8> {
        let buf = &self.k.process(self.pid).expect("process").mm[&self.sink];
        let mut out = Vec::new();
        for (s, l) in split_at_page(start, len) {
            match buf.pte((s / PAGE) as usize) {
                Pte::Page(pg) => self.k.pages().read_into(pg, (s % PAGE) as usize, l as usize, &mut out),
                Pte::None | Pte::Zero => out.resize(out.len() + l as usize, 0),
            }
        }
        out
    }

    /// The `n` bytes of the source file at `off` (or its position, which
    /// then advances).
    fn file_in(&mut self, off: Option<u64>, n: usize) -> Result<Vec<u8>, String> {
        let f = &mut self.src_file;
        let pos = off.unwrap_or(f.pos) as usize;
        if n > 0 && pos + n > f.data.len() {
            return Err(format!("{n} bytes at {pos} came out of a file of {} bytes", f.data.len()));
        }
        if off.is_none() {
            f.pos += n as u64;
        }
        Ok(f.data[pos.min(f.data.len())..(pos + n).min(f.data.len())].to_vec())
    }

    fn step(&mut self, op: &Flow) -> Result<(), Halt> {
        let pid = self.pid;
        let nb = SpliceFlags { nonblock: true, ..SpliceFlags::default() };
        let nbg = |gift| SpliceFlags { gift, ..nb };
        // Errors move nothing; only successful counts are checked. A call
        // that would sleep forever ends the run (it may have moved part of
        // its data first, as Linux does before it sleeps).
        let ok = |r: Result<usize, Errno>| -> Result<Option<usize>, Halt> {
            match r {
                Ok(n) => {
                    if n > 0 {
                        FLOW_OPS_OK.fetch_add(1, Relaxed);
                    }
                    Ok(Some(n))
                }
                Err(e) if e == BLOCKED => Err(Halt::Blocked),
                Err(e) if e == Errno::UnknownErrno => Err(Halt::Fail(format!("unknown errno {e:?}"))),
                Err(_) => Ok(None),
            }
        };
        match *op {
            Flow::Write { p, len } => {
                let byte = self.next_byte;
                self.next_byte = self.next_byte.wrapping_add(1).max(1);
                let src = Source::Fill { byte, len: len as usize };
                if let Some(n) = ok(self.k.write(pid, self.w(p), src))? {
                    self.pipes[p as usize].queue.extend(std::iter::repeat_n(byte, n));
                }
            }
            Flow::VmspliceIn { p, ref iov, gift } => {
                let ranges: Vec<UserRange> = iov
                    .iter()
                    .map(|&(b, s, l)| UserRange { buffer: self.src[b as usize].0, start: s as usize, len: l as usize })
                    .collect();
                if let Some(n) = ok(self.k.vmsplice(pid, self.w(p), &ranges, nbg(gift)))? {
                    let all: Vec<u8> = iov
                        .iter()
                        .flat_map(|&(b, s, l)| self.src[b as usize].1[s as usize..(s + l) as usize].iter().copied())
                        .collect();
                    if n > all.len() {
                        return Err(format!("vmsplice answered {n} for {} bytes", all.len()).into());
                    }
                    self.pipes[p as usize].queue.extend(&all[..n]);
                }
            }
            Flow::SpliceIn { p, off, len } => {
                let mut o = off;
                let r = self.k.splice(pid, self.src_file.fd, o.as_mut(), self.w(p), None, len, nb);
                if let Some(n) = ok(r)? {
                    let bytes = self.file_in(off, n)?;
                    if let (Some(before), Some(after)) = (off, o)
                        && after != before + n as u64
                    {
                        return Err(format!("splice moved the offset from {before} to {after} for {n} bytes").into());
                    }
                    self.pipes[p as usize].queue.extend(bytes);
                }
            }
            Flow::SendfileIn { p, off, len } => {
                let mut o = off;
                let r = self.k.sendfile(pid, self.w(p), self.src_file.fd, o.as_mut(), len);
                if let Some(n) = ok(r)? {
                    let bytes = self.file_in(off, n)?;
                    self.pipes[p as usize].queue.extend(bytes);
                }
            }
            Flow::Read { p, len } => {
                let mut out = Vec::new();
                if let Some(n) = ok(self.k.read(pid, self.r(p), len, &mut out))? {
                    if n != out.len() {
                        return Err(format!("read answered {n} and gave {} bytes", out.len()).into());
                    }
                    let want = self.pop(p, n)?;
                    if out != want {
                        return Err(format!("read gave {} but {} went in", runs(&out), runs(&want)).into());
                    }
                }
            }
            Flow::VmspliceOut { p, ref iov } => {
                let ranges: Vec<UserRange> = iov
                    .iter()
                    .map(|&(s, l)| UserRange { buffer: self.sink, start: s as usize, len: l as usize })
                    .collect();
                if let Some(n) = ok(self.k.vmsplice(pid, self.r(p), &ranges, nb))? {
                    let mut got = Vec::new();
                    let mut left = n as u64;
                    for &(s, l) in iov {
                        let k = l.min(left);
                        got.extend(self.sink_bytes(s, k));
                        left -= k;
                    }
                    if left > 0 {
                        return Err(format!("vmsplice to user answered {n}, more than the iovecs hold").into());
                    }
                    let want = self.pop(p, n)?;
                    if got != want {
                        return Err(
                            format!("vmsplice to user stored {} but {} went in", runs(&got), runs(&want)).into()
                        );
                    }
                }
            }
            Flow::SpliceOut { p, off, len } => {
                let mut o = off;
                let r = self.k.splice(pid, self.r(p), None, self.sink_file.fd, o.as_mut(), len, nb);
                if let Some(n) = ok(r)? {
                    let want = self.pop(p, n)?;
                    let f = &mut self.sink_file;
                    let pos = off.unwrap_or(f.pos) as usize;
                    if n > 0 {
                        if f.data.len() < pos + n {
                            f.data.resize(pos + n, 0);
                        }
                        f.data[pos..pos + n].copy_from_slice(&want);
                    }
                    if off.is_none() {
                        f.pos += n as u64;
                    }
                    self.check_sink_file()?;
                }
            }
            Flow::Splice { a, b, len } => {
                let r = self.k.splice(pid, self.r(a), None, self.w(b), None, len, nb);
                if let Some(n) = ok(r)? {
                    if a == b && n > 0 {
                        return Err(format!("splice of pipe {a} into itself moved {n} bytes").into());
                    }
                    let moved = self.pop(a, n)?;
                    self.pipes[b as usize].queue.extend(moved);
                }
            }
            Flow::Tee { a, b, len } => {
                let r = self.k.tee(pid, self.r(a), self.w(b), len, nb);
                if let Some(n) = ok(r)? {
                    if a == b && n > 0 {
                        return Err(format!("tee of pipe {a} into itself copied {n} bytes").into());
                    }
                    let q = &self.pipes[a as usize].queue;
                    if q.len() < n {
                        return Err(format!("tee copied {n} bytes out of pipe {a}, which holds {}", q.len()).into());
                    }
                    let copied: Vec<u8> = q.iter().take(n).copied().collect();
                    self.pipes[b as usize].queue.extend(copied);
                }
            }
            Flow::Resize { p, size } => {
                let fd = if self.pipes[p as usize].r.is_some() { self.r(p) } else { self.w(p) };
                ok(self.k.fcntl(pid, fd, Fcntl::SetPipeSz(size)))?;
            }
            Flow::Close { p, read_end } => {
                let sp = &mut self.pipes[p as usize];
                let end = if read_end { &mut sp.r } else { &mut sp.w };
                if let Some(fd) = end.take() {
                    self.k.close(pid, fd).map_err(|e| format!("close of an open end: {e:?}"))?;
                    if sp.r.is_none() && sp.w.is_none() {
                        sp.queue.clear();
                    }
                }
            }
        }
        Ok(())
    }

    fn check_sink_file(&self) -> Result<(), String> {
        let f = &self.sink_file;
        let inode = self.k.inode(f.ino).ok_or("sink file gone")?;
        if inode.size != f.data.len() as u64 {
            return Err(format!("sink file is {} bytes, expected {}", inode.size, f.data.len()));
        }
        let mut got = Vec::new();
        inode.read_at(self.k.pages(), 0, f.data.len(), &mut got);
        if got != f.data {
            return Err(format!("sink file holds {} but {} came out of pipes", runs(&got), runs(&f.data)));
        }
        Ok(())
    }

    /// Everything left in each pipe comes out in order.
    fn drain(&mut self) -> Result<(), String> {
        for p in 0..NPIPES as u8 {
            let Some(r) = self.pipes[p as usize].r else { continue };
            self.k.fcntl(self.pid, r, Fcntl::SetNonblock(true)).map_err(|e| format!("fcntl: {e:?}"))?;
            let mut out = Vec::new();
            loop {
                match self.k.read(self.pid, r, 1 << 20, &mut out) {
                    Ok(0) | Err(Errno::EAGAIN) => break,
                    Ok(_) => {}
                    Err(e) => return Err(format!("draining pipe {p}: {e:?}")),
                }
            }
            let want: Vec<u8> = self.pipes[p as usize].queue.drain(..).collect();
            if out != want {
                return Err(format!("pipe {p} finally held {} but {} went in", runs(&out), runs(&want)));
            }
        }
        Ok(())
    }
}

/// Why a conservation run stops early.
enum Halt {
    /// A call would sleep forever: the rest of the run cannot happen.
    Blocked,
    /// The property failed.
    Fail(String),
}

impl From<String> for Halt {
    fn from(s: String) -> Self {
        Halt::Fail(s)
    }
}

impl From<&str> for Halt {
    fn from(s: &str) -> Self {
        Halt::Fail(s.to_owned())
    }
}

/// `(start, len)` pieces of a byte range, split at page boundaries.
fn split_at_page(start: u64, len: u64) -> Vec<(u64, u64)> {
    let mut v = Vec::new();
    let mut at = start;
    let end = start + len;
    while at < end {
        let l = (PAGE - at % PAGE).min(end - at);
        v.push((at, l));
        at += l;
    }
    v
}

/// A short description of bytes: `5x'A' 3x0x00 ...`.
fn runs(d: &[u8]) -> String {
    let mut s = String::new();
    let mut i = 0;
    let mut n = 0;
    while i < d.len() {
        let b = d[i];
        let k = d[i..].iter().take_while(|&&c| c == b).count();
        if n == 12 {
            s.push_str(" ...");
            break;
        }
        s.push_str(&format!("{}{k}x{b:#04x}", if n > 0 { " " } else { "" }));
        i += k;
        n += 1;
    }
    format!("[{} bytes: {s}]", d.len())
}

fn run_flows(case: &FlowCase) -> TestResult {
    let mut f = match Flows::setup(case.seed) {
        Ok(f) => f,
        Err(e) => return TestResult::error(e),
    };
    let mut blocked = false;
    for (i, op) in case.ops.iter().enumerate() {
        match f.step(op) {
            Ok(()) => {}
            Err(Halt::Blocked) => {
                FLOW_BLOCKED.fetch_add(1, Relaxed);
                blocked = true;
            }
            Err(Halt::Fail(e)) => return TestResult::error(format!("op {i} {op:?}: {e}")),
        }
        if let Err(e) = f.k.check_invariants() {
            return TestResult::error(format!("after op {i} {op:?}: {e}"));
        }
        if blocked {
            break;
        }
    }
    if !blocked && let Err(e) = f.drain().and_then(|()| f.check_sink_file()) {
        return TestResult::error(e);
    }
    match f.k.teardown_and_check() {
        Ok(()) => TestResult::passed(),
        Err(e) => TestResult::error(format!("at teardown: {e}")),
    }
}

#[test]
fn bytes_are_conserved_through_pipes() {
    fn prop(c: FlowCase) -> TestResult {
        run_flows(&c)
    }
    QuickCheck::new()
        .tests(cases())
        .max_tests(cases() * 2)
        .rng(Gen::new(40))
        .quickcheck(prop as fn(FlowCase) -> TestResult);
    eprintln!(
        "conservation: {} cases, {} operations moved data, {} bytes checked on the way out, {} runs ended blocked",
        cases(),
        FLOW_OPS_OK.load(Relaxed),
        BYTES_CHECKED.load(Relaxed),
        FLOW_BLOCKED.load(Relaxed)
    );
}

/// Exploration aid: how often each call succeeds or fails with what, to
/// keep the generator useful. `cargo test -p tests --test invariants --
/// --ignored --nocapture call_outcome_breakdown`
#[test]
#[ignore = "exploration aid; prints a table"]
fn call_outcome_breakdown() {
    use std::collections::BTreeMap;
    let mut stats: BTreeMap<String, u64> = BTreeMap::new();
    let mut g = Gen::new(40);
    for _ in 0..300 {
        let c = Calls::arbitrary(&mut g);
        let mut m = Machine::new(true);
        for call in &c.0 {
            let (r, _) = m.run(call);
            let name = format!("{call:?}").split([' ', '{']).next().unwrap().to_string();
            let key = match r {
                Ok(0) => format!("{name} ok0"),
                Ok(_) => format!("{name} ok"),
                Err(e) => format!("{name} {e:?}"),
            };
            *stats.entry(key).or_default() += 1;
        }
    }
    for (k, v) in stats {
        println!("{v:6} {k}");
    }
}
