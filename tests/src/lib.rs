//! Shared helpers of the cross-crate tests: a small deterministic random
//! number generator, a generator of random scenario *text* (so the parser
//! is exercised as well as the backends), and the differential check that
//! runs one scenario text on the model and on the host kernel.
//!
//! The generators take a seed rather than a `quickcheck::Gen` so that this
//! library needs no test-only dependency and so that any case can be
//! replayed from its seed alone.

use std::fmt::Write as _;
use std::time::Duration;

use kmodel::linux::{LinuxBackend, LinuxOptions};
use kmodel::model::ModelBackend;
use kmodel::scenario::{self, Report, ResultLine};

/// SplitMix64: small, fast, good enough to drive test generators, and
/// reproducible from a seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// An index chosen with the given relative weights.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// Random scenario text over small objects, using only contract verbs
/// (no `tcp`), for the differential test against the host kernel.
pub mod scenario_gen {
    use std::fmt::Write as _;

    use super::Rng;

    const PAGE: u64 = 4096;

    /// The declarations and operations of a generated scenario, kept apart
    /// so a shrinker can drop operations and keep every declaration.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct GenText {
        /// `buffer`, `pipe` and `file` lines.
        pub decls: Vec<String>,
        /// Operation lines.
        pub ops: Vec<String>,
    }

    impl GenText {
        /// The scenario file: declarations, then operations, one a line.
        pub fn text(&self) -> String {
            let mut s = String::new();
            for l in self.decls.iter().chain(&self.ops) {
                s.push_str(l);
                s.push('\n');
            }
            s
        }
    }

    struct Ctx<'a> {
        rng: &'a mut Rng,
        /// (name, pages)
        bufs: Vec<(String, u64)>,
        pipes: Vec<String>,
        files: Vec<String>,
        opts: Options,
    }

    /// Lengths around the interesting boundaries.
    const LENS: &[u64] = &[0, 1, 100, 4095, 4096, 4097, 8192, 70000];
    /// Pipe sizes for `setpipe_sz`.
    const PIPE_SIZES: &[u64] = &[0, 4096, 8192, 12288, 65536, 1048576, 1048577];
    /// Byte values.
    const BYTES: &[u8] = b"ABCxz\x00\xff#'\\";

    impl Ctx<'_> {
        fn byte(&mut self) -> String {
            let b = self.rng.pick(BYTES);
            let mut s = String::new();
            if b.is_ascii_graphic() && b != b'\'' && b != b'\\' && b != b'#' {
                let _ = write!(s, "'{}'", b as char);
            } else {
                let _ = write!(s, "'\\x{b:02x}'");
            }
            s
        }

        /// A number, sometimes with a `k` or `p` suffix when exact.
        fn num(&mut self, n: u64) -> String {
            if n > 0 && n.is_multiple_of(PAGE) && self.rng.chance(1, 3) {
                format!("{}p", n / PAGE)
            } else if n > 0 && n.is_multiple_of(1024) && self.rng.chance(1, 4) {
                format!("{}k", n / 1024)
            } else {
                n.to_string()
            }
        }

        fn len(&mut self) -> String {
            let n = if self.rng.chance(1, 8) { self.rng.range(0, 3 * PAGE) } else { self.rng.pick(LENS) };
            self.num(n)
        }

        /// A length for calls that pipes bound (splice, tee): sometimes
        /// huge, up to the contract's 2^63-1.
        fn big_len(&mut self) -> String {
            if self.rng.chance(1, 25) {
                self.rng.pick(&[1u64 << 31, 1 << 32, 1 << 62, i64::MAX as u64]).to_string()
            } else {
                self.len()
            }
        }

        fn nonblock(&mut self) -> bool {
            !self.rng.chance(self.opts.blocking_per_mille, 1000)
        }

        fn pipe(&mut self) -> String {
            self.rng.pick(&self.pipes.iter().map(String::as_str).collect::<Vec<_>>()).to_owned()
        }

        fn pipe_w(&mut self) -> String {
            format!("{}.w", self.pipe())
        }

        fn pipe_r(&mut self) -> String {
            format!("{}.r", self.pipe())
        }

        fn file(&mut self) -> Option<String> {
            if self.files.is_empty() {
                None
            } else {
                Some(self.rng.pick(&self.files.iter().map(String::as_str).collect::<Vec<_>>()).to_owned())
            }
        }

        /// A pipe's write end (weight `w`), read end (`r`) or a file (`f`).
        fn fd(&mut self, w: u64, r: u64, f: u64) -> String {
            let f = if self.files.is_empty() { 0 } else { f };
            match self.rng.weighted(&[w, r, f]) {
                0 => self.pipe_w(),
                1 => self.pipe_r(),
                _ => self.file().expect("weight 0 without files"),
            }
        }

        fn offset(&mut self) -> u64 {
            match self.rng.below(20) {
                0 => 1 << 40,
                1 => i64::MAX as u64 - 1,
                2 => i64::MAX as u64,
                3..=6 => self.rng.range(0, 4 * PAGE),
                _ => self.rng.pick(&[0, 1, 100, 4095, 4096, 4097, 8192, 12288, 16384, 20000]),
            }
        }

        /// `FD` or, for a file mostly and a pipe rarely, `FD@OFF`.
        fn with_offset(&mut self, fd: String) -> String {
            let is_pipe = fd.contains('.');
            let p = if is_pipe { 1 } else { 8 };
            if self.rng.chance(p, 20) {
                let off = self.offset();
                let off = self.num(off);
                format!("{fd}@{off}")
            } else {
                fd
            }
        }

        fn range(&mut self) -> String {
            let i = self.rng.below(self.bufs.len() as u64) as usize;
            self.range_of(i)
        }

        /// A range of buffer number `i`.
        fn range_of(&mut self, i: usize) -> String {
            let (name, pages) = self.bufs[i].clone();
            let size = pages * PAGE;
            match self.rng.below(20) {
                0 | 1 => name,
                2 => {
                    let at = self.rng.range(0, size);
                    let at = self.num(at);
                    format!("{name}[{at}..{at}]")
                }
                3..=10 => {
                    let a = self.rng.range(0, pages);
                    let b = self.rng.range(a, pages);
                    let (a, b) = (self.num(a * PAGE), self.num(b * PAGE));
                    format!("{name}[{a}..{b}]")
                }
                _ => {
                    let near = |rng: &mut Rng| {
                        let p = rng.range(0, pages);
                        let d = rng.pick(&[0i64, 1, -1, 100, -100, 2048]);
                        (p * PAGE).saturating_add_signed(d).min(size)
                    };
                    let x = if self.rng.chance(1, 2) { near(self.rng) } else { self.rng.range(0, size) };
                    let y = if self.rng.chance(1, 2) { near(self.rng) } else { self.rng.range(0, size) };
                    let (a, b) = (x.min(y), x.max(y));
                    let (a, b) = (self.num(a), self.num(b));
                    format!("{name}[{a}..{b}]")
                }
            }
        }

        /// Two descriptors of any kind for splice or tee. Known bug: the
        /// model leaves a descriptor given twice nonblocking after a
        /// `nonblock` call; avoided by never giving the same one twice.
        fn two_fds(&mut self) -> (String, String) {
            let i = self.fd(3, 3, 2);
            let mut o = self.fd(3, 3, 2);
            while self.opts.avoid_known && o == i {
                o = self.fd(3, 3, 2);
            }
            (i, o)
        }

        fn flag(s: &mut String, on: bool, word: &str) {
            if on {
                s.push(' ');
                s.push_str(word);
            }
        }

        fn op(&mut self) -> String {
            // fill write read vmsplice splice tee sendfile pwrite fcntl close model-only
            let weights = [12, 14, 14, 16, 16, 7, 4, 5, 7, 3, 2];
            match self.rng.weighted(&weights) {
                0 => {
                    let r = self.range();
                    let b = self.byte();
                    format!("fill {r} {b}")
                }
                1 => {
                    let fd = self.fd(16, 2, 2);
                    let (len, b) = (self.len(), self.byte());
                    let mut s = format!("write {fd} {len} {b}");
                    let nb = self.nonblock();
                    Self::flag(&mut s, nb, "nonblock");
                    s
                }
                2 => {
                    let fd = self.fd(2, 16, 2);
                    let len = self.len();
                    let mut s = format!("read {fd} {len}");
                    let nb = self.nonblock();
                    Self::flag(&mut s, nb, "nonblock");
                    s
                }
                3 => {
                    let fd = self.fd(30, 6, 2);
                    let mut s = format!("vmsplice {fd}");
                    for _ in 0..self.rng.range(1, 3) {
                        s.push(' ');
                        s.push_str(&self.range());
                    }
                    let gift = self.rng.chance(1, 5);
                    let nb = self.nonblock();
                    let mut flags = vec![];
                    if gift {
                        flags.push("gift");
                    }
                    if nb {
                        flags.push("nonblock");
                    }
                    if flags.len() == 2 && self.rng.chance(1, 2) {
                        flags.reverse();
                    }
                    for f in flags {
                        Self::flag(&mut s, true, f);
                    }
                    s
                }
                4 => {
                    let has_files = !self.files.is_empty();
                    let kind = self.rng.weighted(&[8, if has_files { 5 } else { 0 }, if has_files { 5 } else { 0 }, 2]);
                    let (i, o) = match kind {
                        1 => (self.file().expect("files"), self.pipe_w()),
                        2 => (self.pipe_r(), self.file().expect("files")),
                        3 => self.two_fds(),
                        _ => (self.pipe_r(), self.pipe_w()),
                    };
                    let (i, o) = (self.with_offset(i), self.with_offset(o));
                    let len = self.big_len();
                    let mut s = format!("splice {i} {o} {len}");
                    let nb = self.nonblock();
                    Self::flag(&mut s, nb, "nonblock");
                    let mv = self.rng.chance(1, 6);
                    Self::flag(&mut s, mv, "move");
                    let more = self.rng.chance(1, 6);
                    Self::flag(&mut s, more, "more");
                    s
                }
                5 => {
                    let (i, o) = if self.rng.chance(8, 10) { (self.pipe_r(), self.pipe_w()) } else { self.two_fds() };
                    let len = self.big_len();
                    let mut s = format!("tee {i} {o} {len}");
                    let nb = self.nonblock();
                    Self::flag(&mut s, nb, "nonblock");
                    s
                }
                6 => {
                    // sendfile has no nonblock: into a full pipe it sleeps.
                    // Mostly file to file; into a pipe only as often as
                    // the other blocking ops.
                    let o = if self.rng.chance(self.opts.blocking_per_mille * 4, 1000) {
                        self.pipe_w()
                    } else {
                        self.fd(0, 1, 12)
                    };
                    let i = self.fd(0, 1, 8);
                    let mut o = o;
                    let mut len = self.len();
                    if self.opts.avoid_known {
                        // Known bugs: sendfile of 0 bytes from a pipe, and
                        // sendfile from a file to itself.
                        while len == "0" {
                            len = self.len();
                        }
                        if o == i {
                            o = match self.files.iter().find(|f| **f != i) {
                                Some(f) => f.clone(),
                                None => self.pipe_r(),
                            };
                        }
                    }
                    let i = self.with_offset(i);
                    format!("sendfile {o} {i} {len}")
                }
                7 => {
                    let fd = self.fd(1, 1, 16);
                    let off = self.offset();
                    let off = self.num(off);
                    let len = self.rng.pick(&[0, 1, 100, 4096, 5000]);
                    let len = self.num(len);
                    let b = self.byte();
                    format!("pwrite {fd} {off} {len} {b}")
                }
                8 => {
                    let fd = self.fd(4, 4, 1);
                    if self.rng.chance(2, 5) {
                        format!("fcntl {fd} getpipe_sz")
                    } else {
                        let n = self.rng.pick(PIPE_SIZES);
                        let n = self.num(n);
                        format!("fcntl {fd} setpipe_sz {n}")
                    }
                }
                9 => {
                    let fd = self.fd(3, 3, 2);
                    format!("close {fd}")
                }
                _ => {
                    let r = self.range();
                    match self.rng.below(3) {
                        0 => format!("refs {r}"),
                        1 => format!("expect busy {r}"),
                        _ => format!("expect reusable {r}"),
                    }
                }
            }
        }
    }

    /// How [`scenario`] generates.
    #[derive(Copy, Clone, Debug)]
    pub struct Options {
        /// Out of 1000: how often an operation that may sleep is generated
        /// without `nonblock` (and sendfile aimed at a pipe).
        pub blocking_per_mille: u64,
        /// Stay clear of the model bugs already reported (see
        /// tests/tests/differential.rs, `known_*`), to look for new ones:
        /// no sendfile of 0 bytes, no sendfile from a file to itself, no
        /// splice or tee with one descriptor on both sides.
        pub avoid_known: bool,
        /// How many operations: uniform in this range (inclusive).
        pub ops: (u64, u64),
    }

    impl Default for Options {
        /// The brief's shape: 5-25 operations, blocking ops rare (15 in
        /// 1000), known bugs not avoided.
        fn default() -> Self {
            Options { blocking_per_mille: 15, avoid_known: false, ops: (5, 25) }
        }
    }

    /// A random scenario for seed `seed`: 1-2 buffers of 1-4 pages, 1-3
    /// pipes, 0-2 files of 0-3 pages, then `opts.ops` operations.
    pub fn scenario(seed: u64, opts: Options) -> GenText {
        let mut rng = Rng::new(seed);
        let mut decls = Vec::new();
        let mut bufs = Vec::new();
        for i in 0..rng.range(1, 2) {
            let pages = rng.range(1, 4);
            let name = format!("buf{i}");
            decls.push(format!("buffer {name} {pages}"));
            bufs.push((name, pages));
        }
        let mut pipes = Vec::new();
        for i in 0..rng.range(1, 3) {
            let name = format!("p{i}");
            decls.push(format!("pipe {name}"));
            pipes.push(name);
        }
        let mut files = Vec::new();
        let nfiles = rng.range(0, 2);
        let mut ctx = Ctx { rng: &mut rng, bufs, pipes, files: Vec::new(), opts };
        for i in 0..nfiles {
            let name = format!("f{i}");
            let pages = ctx.rng.range(0, 3);
            let b = ctx.byte();
            decls.push(format!("file {name} {pages} {b}"));
            files.push(name);
        }
        ctx.files = files;
        // Shuffle the declarations a little: any order is valid as long
        // as they come before the operations.
        if decls.len() > 1 && ctx.rng.chance(1, 3) {
            let a = ctx.rng.below(decls.len() as u64) as usize;
            let b = ctx.rng.below(decls.len() as u64) as usize;
            decls.swap(a, b);
        }
        let n = ctx.rng.range(opts.ops.0, opts.ops.1);
        let ops = (0..n).map(|_| ctx.op()).collect();
        GenText { decls, ops }
    }
}

/// Random TCP scenarios for the model (links are model-only): a user
/// buffer, a pipe, a loopback pair and a pair over a link with loss,
/// reordering and delay, then sends from user memory (copied or
/// zerocopy), splices of user pages into sockets, nonblocking reads,
/// refills of the buffer, `advance`, `refs` and `expect`. Every call that
/// could wait is nonblocking, so no run hangs.
pub mod tcp_gen {
    use super::Rng;
    use super::scenario_gen::GenText;

    /// A random TCP scenario for `seed` with `ops` operations (inclusive
    /// range).
    pub fn scenario(seed: u64, ops: (u64, u64)) -> GenText {
        let mut rng = Rng::new(seed);
        let pages = rng.range(1, 3);
        let loss = rng.pick(&[0u64, 5, 20, 40]);
        let reorder = rng.pick(&[0u64, 10, 30]);
        let rtt = rng.pick(&[1u64, 10, 40]);
        let link_seed = rng.below(1000);
        let decls = vec![
            format!("buffer buf {pages}"),
            "pipe p".to_owned(),
            "tcp lo".to_owned(),
            format!("tcp net link rtt={rtt}ms loss={loss}% reorder={reorder}% seed={link_seed}"),
        ];
        let socks = ["lo", "net"];
        let size = pages * 4096;
        let n = rng.range(ops.0, ops.1);
        let mut out = Vec::new();
        for _ in 0..n {
            let t = rng.pick(&socks);
            let a = rng.below(size);
            let b = rng.range(a + 1, size);
            let line = match rng.weighted(&[3, 3, 2, 3, 2, 4, 4, 1, 1, 1, 1]) {
                0 => format!("fill buf[{a}..{b}] '{}'", rng.pick(b"ABCxyz") as char),
                1 => {
                    let zc = if rng.chance(1, 2) { " zerocopy" } else { "" };
                    format!("send {t}.tx buf[{a}..{b}]{zc} nonblock")
                }
                2 => format!("vmsplice p.w buf[{a}..{b}] nonblock"),
                3 => format!("splice p.r {t}.tx {} nonblock", rng.range(1, 3 * 4096)),
                4 => format!("write {t}.tx {} '{}' nonblock", rng.range(1, 9000), rng.pick(b"wq") as char),
                5 => format!("read {t}.rx {} nonblock", rng.pick(&[1u64, 100, 4096, 20000])),
                6 => format!("advance {}ms", rng.pick(&[1u64, 5, 20, 100, 400, 1500])),
                7 => "refs buf".to_owned(),
                8 => {
                    if rng.chance(1, 2) {
                        "expect busy buf".to_owned()
                    } else {
                        "expect reusable buf".to_owned()
                    }
                }
                9 => format!("setsockopt {t}.tx zerocopy"),
                _ => format!("errqueue {t}.tx"),
            };
            out.push(line);
        }
        GenText { decls, ops: out }
    }
}

/// One line on which the two runs differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// Line number.
    pub line: usize,
    /// The operation.
    pub text: String,
    /// The model's result (or how its run ended).
    pub model: String,
    /// The kernel's result (or how its run ended).
    pub linux: String,
}

/// Compare two runs of one scenario as `kmodel diff` does (its `compare`
/// is private to the binary's module): every line that is not model-only
/// must be printed by both runs with the same result, and both runs must
/// block at the same line or not at all.
pub fn compare(model: &Report, linux: &Report) -> Vec<Difference> {
    let index = |r: &Report| -> Vec<(usize, ResultLine)> {
        r.lines.iter().filter(|l| !l.model_only).map(|l| (l.line, l.clone())).collect()
    };
    let (m, l) = (index(model), index(linux));
    let mut lines: Vec<usize> = m.iter().chain(&l).map(|(n, _)| *n).collect();
    lines.sort_unstable();
    lines.dedup();
    let show = |x: Option<&ResultLine>, rep: &Report, n: usize| match x {
        Some(x) => x.outcome.to_string(),
        None if rep.blocked == Some(n) => "BLOCKED".into(),
        None => "(not reached)".into(),
    };
    let mut out = Vec::new();
    for n in lines {
        let a = m.iter().find(|(x, _)| *x == n).map(|(_, r)| r);
        let b = l.iter().find(|(x, _)| *x == n).map(|(_, r)| r);
        if !matches!((a, b), (Some(x), Some(y)) if x.outcome == y.outcome) {
            let text = a.or(b).map(|r| r.text.clone()).unwrap_or_default();
            out.push(Difference { line: n, text, model: show(a, model, n), linux: show(b, linux, n) });
        }
    }
    if model.blocked != linux.blocked {
        for n in [model.blocked, linux.blocked].into_iter().flatten() {
            if !out.iter().any(|d| d.line == n) {
                let describe = |r: &Report| if r.blocked == Some(n) { "BLOCKED" } else { "(not blocked)" };
                out.push(Difference {
                    line: n,
                    text: String::new(),
                    model: describe(model).into(),
                    linux: describe(linux).into(),
                });
            }
        }
    }
    out
}

/// What one differential run found.
#[derive(Debug)]
pub struct DiffRun {
    /// The model's report.
    pub model: Report,
    /// The host kernel's report.
    pub linux: Report,
    /// Their differences (empty when they agree).
    pub differences: Vec<Difference>,
}

/// Parse `text` and run it on the model (configured like the host, as
/// `kmodel diff` does) and on the host kernel with `block_timeout`.
///
/// # Errors
/// A parse error or a backend failure (the model's invariant checks
/// included), as a message.
pub fn diff_text(name: &str, text: &str, block_timeout: Duration) -> Result<DiffRun, String> {
    let s = scenario::parse(name, text).map_err(|e| format!("parse error: {e}"))?;
    let model = scenario::run(&s, &mut ModelBackend::new(kmodel::cli::host_config()), |_| {})
        .map_err(|e| format!("model backend failed: {e}"))?;
    let options = LinuxOptions { block_timeout, ..LinuxOptions::default() };
    let linux = LinuxBackend::new(options)
        .and_then(|mut b| scenario::run(&s, &mut b, |_| {}))
        .map_err(|e| format!("linux backend failed: {e}"))?;
    let differences = compare(&model, &linux);
    Ok(DiffRun { model, linux, differences })
}

/// A human-readable account of a differential failure: the scenario, the
/// differing lines, and both full outputs.
pub fn explain(text: &str, run: &DiffRun) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "--- scenario ---\n{text}--- differences ---");
    for d in &run.differences {
        let _ = writeln!(s, "{}: {}\n    model: {}\n    linux: {}", d.line, d.text, d.model, d.linux);
    }
    let _ = writeln!(s, "--- model ---\n{}--- linux ---\n{}", run.model.output(), run.linux.output());
    s
}

/// The best of `runs` wall times of `f`, in seconds, and its last answer
/// (for the benchmarks' summary lines).
pub fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = std::time::Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    (best, last.expect("at least one run"))
}

/// Shrink candidates of a list: drop halves, quarters, ... then single
/// elements.
pub fn drop_chunks<T: Clone + 'static>(v: &[T]) -> Box<dyn Iterator<Item = Vec<T>>> {
    let v = v.to_vec();
    let n = v.len();
    let mut cuts = Vec::new();
    let mut chunk = n / 2;
    while chunk >= 2 {
        let mut at = 0;
        while at < n {
            cuts.push((at, (at + chunk).min(n)));
            at += chunk;
        }
        chunk /= 2;
    }
    cuts.extend((0..n).map(|i| (i, i + 1)));
    Box::new(cuts.into_iter().map(move |(a, b)| {
        let mut w = v.clone();
        w.drain(a..b);
        w
    }))
}
