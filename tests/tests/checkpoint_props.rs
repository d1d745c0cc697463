//! Properties of checkpoint and restore.
//!
//! - Equivalence: a random scenario cut at a random point gives the same
//!   result lines and the same page sharing at the end whether it runs on,
//!   or writes a checkpoint there and restores it (`checkpoint FILE` then
//!   `restore FILE`: encode, write, read, decode, a new kernel).
//! - Mutated images: any bytes changed in a valid image (with the
//!   checksums recomputed, so the changes reach the decoder and the
//!   validation behind it) are refused with an error or restore a kernel
//!   that passes its invariants; never a panic, never a half-restored
//!   kernel. This runs in `cargo test` in place of the fuzz target
//!   (`fuzz/`), which needs a nightly toolchain.

use kmodel::container::{self, Image, Sharing};
use kmodel::kernel::{Kernel, KernelConfig, KernelVariant};
use kmodel::model::ModelBackend;
use kmodel::scenario::{self, Backend, BackendError, Report, Scenario, Step, StepResult};
use quickcheck::{QuickCheck, TestResult};
use tests::Rng;
use tests::scenario_gen::{Options, scenario};

/// The model backend, remembering the page sharing just before teardown.
struct Recording {
    inner: ModelBackend,
    sharing: Sharing,
}

impl Backend for Recording {
    fn name(&self) -> &'static str {
        "model"
    }

    fn step(&mut self, scenario: &Scenario, step: &Step) -> Result<StepResult, BackendError> {
        self.inner.step(scenario, step)
    }

    fn finish(&mut self) -> Result<(), BackendError> {
        self.sharing = container::sharing(self.inner.kernel());
        self.inner.finish()
    }
}

fn run(text: &str, dir: &std::path::Path, variant: KernelVariant) -> Result<(Report, Sharing), String> {
    let s = scenario::parse("gen.scenario", text).map_err(|e| e.to_string())?;
    let config = KernelConfig { variant, ..KernelConfig::default() };
    let mut b = Recording { inner: ModelBackend::new(config).with_checkpoint_dir(dir), sharing: Vec::new() };
    let report = scenario::run(&s, &mut b, |_| {}).map_err(|e| e.to_string())?;
    Ok((report, b.sharing))
}

/// The result lines without line numbers and without the two lines the
/// cut added.
fn results(r: &Report) -> Vec<String> {
    r.lines
        .iter()
        .filter(|l| !l.text.starts_with("checkpoint ") && !l.text.starts_with("restore "))
        .map(|l| format!("{} => {}", l.text, l.outcome))
        .collect()
}

fn equivalent_at_cut(seed: u64, cut: u64) -> Result<(), String> {
    let g = scenario(seed, Options { blocking_per_mille: 15, avoid_known: false, ops: (5, 25) });
    // Every kernel variant: the image records which one runs.
    let variant = KernelVariant::ALL[(seed % 3) as usize];
    equivalent_at_cut_of(&g, seed, cut, variant)
}

/// Run `g` on, and with `checkpoint` + `restore` inserted before operation
/// `cut`: the same result lines, the same sharing at the end.
fn equivalent_at_cut_of(
    g: &tests::scenario_gen::GenText,
    seed: u64,
    cut: u64,
    variant: KernelVariant,
) -> Result<(), String> {
    let text = g.text();
    let cut = (cut % (g.ops.len() as u64 + 1)) as usize;
    let mut ops = g.ops.clone();
    ops.insert(cut, "restore cut.img".into());
    ops.insert(cut, "checkpoint cut.img".into());
    let cut_text = tests::scenario_gen::GenText { decls: g.decls.clone(), ops }.text();
    let dir = std::env::temp_dir().join(format!("kmodel-ckpt-prop-{}-{seed}-{cut}", std::process::id()));
    let plain = run(&text, &dir, variant)?;
    let with_cut = run(&cut_text, &dir, variant)?;
    let _ = std::fs::remove_dir_all(&dir);
    // The checkpoint and restore lines themselves must say ok (unless the
    // run blocked before reaching them).
    for l in with_cut.0.lines.iter().filter(|l| l.text.ends_with(" cut.img")) {
        if l.outcome != scenario::Outcome::Ok {
            return Err(format!("{} => {}\n{cut_text}", l.text, l.outcome));
        }
    }
    if results(&plain.0) != results(&with_cut.0) || plain.0.blocked.is_some() != with_cut.0.blocked.is_some() {
        return Err(format!(
            "seed {seed} cut {cut} ({variant:?}): results differ\n--- run on\n{}--- checkpoint + restore\n{}",
            plain.0.output(),
            with_cut.0.output()
        ));
    }
    if plain.1 != with_cut.1 {
        return Err(format!(
            "seed {seed} cut {cut}: page sharing at the end differs\n{:#?}\nvs\n{:#?}\n{cut_text}",
            plain.1, with_cut.1
        ));
    }
    Ok(())
}

#[test]
fn random_scenario_cut_anywhere_runs_on_the_same_after_restore() {
    fn prop(seed: u64, cut: u64) -> TestResult {
        match equivalent_at_cut(seed, cut) {
            Ok(()) => TestResult::passed(),
            Err(e) => TestResult::error(e),
        }
    }
    QuickCheck::new().tests(150).quickcheck(prop as fn(u64, u64) -> TestResult);
}

/// The same over TCP: a loopback pair and a pair over a link with loss,
/// reordering and delay, cut anywhere (with segments in flight, unacked
/// data, armed timers, out-of-order data at the receiver); the image holds
/// the endpoints in repair mode and the network around them, and the run
/// after the restore on a fresh kernel is the run without the cut.
#[test]
fn random_tcp_scenario_cut_anywhere_runs_on_the_same_after_restore() {
    fn prop(seed: u64, cut: u64) -> TestResult {
        let g = tests::tcp_gen::scenario(seed, (5, 30));
        let variant = KernelVariant::ALL[(seed % 3) as usize];
        match equivalent_at_cut_of(&g, seed, cut, variant) {
            Ok(()) => TestResult::passed(),
            Err(e) => TestResult::error(e),
        }
    }
    QuickCheck::new().tests(150).quickcheck(prop as fn(u64, u64) -> TestResult);
}

/// A small kernel with every kind of sharing the format must keep.
fn fixture() -> Kernel {
    let text = "buffer buf 3\npipe p\npipe q\nfile f 2 'F'\nfill buf[0..2p] 'A'\nfill buf[2p..2p+100] 'x'\n\
                vmsplice p.w buf[0..2p]\ntee p.r q.w 4096\nsplice f q.w 4096\nwrite q.w 10 'w'\n";
    let text = text.replace("2p+100", "8292");
    let s = scenario::parse("fixture", &text).expect("fixture parses");
    let mut b = Recording { inner: ModelBackend::new(KernelConfig::default()), sharing: Vec::new() };
    for step in &s.steps {
        b.step(&s, step).expect("fixture runs");
    }
    b.inner.kernel().clone()
}

fn image_bytes(k: &Kernel) -> Vec<u8> {
    let pids: Vec<_> = (1..=1).map(kmodel::kernel::Pid).collect();
    container::checkpoint(k, &pids).expect("checkpoint").encode()
}

thread_local! {
    static FIXTURE: (Kernel, Vec<u8>, Sharing) = {
        let k = fixture();
        let bytes = image_bytes(&k);
        let sharing = container::sharing(&k);
        (k, bytes, sharing)
    };
}

/// `seed` picks a mutation of the fixture's image: a few bits flipped, a
/// byte replaced, the image cut short, or bytes inserted.
fn mutated(good: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut bytes = good.to_vec();
    match rng.below(4) {
        0 => {
            for _ in 0..=rng.below(4) {
                let i = rng.below(bytes.len() as u64) as usize;
                bytes[i] ^= 1 << rng.below(8);
            }
        }
        1 => {
            let i = rng.below(bytes.len() as u64) as usize;
            bytes[i] = rng.next_u64() as u8;
        }
        2 => {
            let n = rng.below(bytes.len() as u64) as usize;
            bytes.truncate(n);
        }
        _ => {
            let i = rng.below(bytes.len() as u64) as usize;
            let extra: Vec<u8> = (0..rng.range(1, 8)).map(|_| rng.next_u64() as u8).collect();
            bytes.splice(i..i, extra);
        }
    }
    bytes
}

/// One mutated-image case over a fixture `(k, good, before)`: mutate
/// `good` by `seed` (and recompute its checksums if `reseal`), decode, and
/// restore into a clone of `k`. A refusal must leave the target as it was
/// (`before`'s sharing, and `unchanged`); a restore must leave a kernel
/// that `runs_on` (and keeps its invariants).
fn mutated_case(
    (k, good, before): &(Kernel, Vec<u8>, Sharing),
    seed: u64,
    reseal: bool,
    unchanged: impl Fn(&Kernel) -> bool,
    runs_on: impl FnOnce(&mut Kernel),
) -> TestResult {
    let mut bytes = mutated(good, seed);
    if reseal {
        container::image::reseal(&mut bytes);
    } else if Image::decode(&bytes).is_ok() && bytes != *good {
        return TestResult::error("a mutation passed the checksums");
    }
    let Ok(image) = Image::decode(&bytes) else { return TestResult::passed() };
    let mut target = k.clone();
    match container::restore(&mut target, &image) {
        Err(_) if container::sharing(&target) != *before => TestResult::error("refused but half-restored"),
        Err(_) if !unchanged(&target) => TestResult::error("refused but changed"),
        Err(_) => TestResult::passed(),
        Ok(_) => {
            runs_on(&mut target);
            TestResult::from_bool(target.check_invariants().is_ok())
        }
    }
}

#[test]
fn mutated_image_is_refused_or_restores_a_consistent_kernel() {
    fn prop(seed: u64, reseal: bool) -> TestResult {
        FIXTURE.with(|f| mutated_case(f, seed, reseal, |_| true, |_| ()))
    }
    QuickCheck::new().tests(3000).quickcheck(prop as fn(u64, bool) -> TestResult);
}

/// A kernel with TCP state: a user page spliced into a socket over a lossy,
/// reordering link, cut with segments in flight and unacknowledged.
fn tcp_fixture() -> Kernel {
    let text = "tcp t link rtt=20ms loss=30% reorder=20% seed=3\ntcp lo\nbuffer buf 2\npipe p\nfill buf 'A'\n\
                vmsplice p.w buf[0..6000]\nsplice p.r t.tx 6000\nsend lo.tx buf[0..5000]\nadvance 12ms\n";
    let s = scenario::parse("tcp fixture", text).expect("fixture parses");
    let mut b = ModelBackend::new(KernelConfig::default());
    for step in &s.steps {
        b.step(&s, step).expect("fixture runs");
    }
    b.kernel().clone()
}

thread_local! {
    static TCP_FIXTURE: (Kernel, Vec<u8>, Sharing) = {
        let k = tcp_fixture();
        let bytes = image_bytes(&k);
        let sharing = container::sharing(&k);
        (k, bytes, sharing)
    };
}

/// The same over an image with a `net` section: mutated TCP records are
/// refused or restore a consistent kernel that can run on (two simulated
/// seconds of the network); never a panic.
#[test]
fn mutated_tcp_image_is_refused_or_restores_a_kernel_that_runs_on() {
    fn prop(seed: u64, reseal: bool) -> TestResult {
        TCP_FIXTURE.with(|f| {
            mutated_case(
                f,
                seed,
                reseal,
                |_| true,
                |target| {
                    target.advance_time(tcp_sim::Duration(2_000_000_000));
                },
            )
        })
    }
    QuickCheck::new().tests(2000).quickcheck(prop as fn(u64, bool) -> TestResult);
}

// ---- with security modules loaded -----------------------------------------

/// A machine with the stories' three modules: their policies loaded, files
/// labeled, a reader confined at exec, a process sandboxed.
const LSM_SETUP: &str = "mkdir /etc\ncreate /etc/shadow\ncreate /etc/passwd\nmkdir /tmp\nmkdir /work\nmkdir /out\n\
    mkdir /usr\nmkdir /usr/bin\ncreate /usr/bin/reader\nchmod /usr/bin/reader 755\nchmod /tmp 777\nchmod /work 777\n\
    chmod /out 777\ncreate /tmp/a\nchown /tmp/a 1000 1000\ncreate /tmp/log\n\
    policy apparmor policies/reader.profile\npolicy selinux policies/base.te\npolicy selinux policies/base.fc\n\
    restorecon /\nprocess sandboxed\nsetuid 1000 1000\npolicy landlock policies/sandbox.landlock\n\
    process reader\nexec /usr/bin/reader\nopen log /tmp/log w\n";

/// Operations whose answers depend on the modules' policies and labels
/// (`N` makes the names each declares unique).
const LSM_MENU: &[&str] = &[
    "process reader",
    "process sandboxed",
    "process init",
    "process other",
    "open oN /etc/shadow r",
    "open oN /etc/passwd r",
    "open oN /tmp/log w",
    "open oN /tmp/a r",
    "write log 1p 'L'",
    "create /tmp/fN",
    "create /etc/fN",
    "create /work/fN",
    "mkdir /tmp/dN",
    "rename /tmp/a /work/a",
    "rename /tmp/a /tmp/b",
    "rename /tmp/b /tmp/a",
    "link /etc/shadow /tmp/lN",
    "restorecon /tmp",
    "label /tmp/log",
    "label",
    "stat /etc/shadow",
    "unlink /tmp/log",
    "exec /usr/bin/reader",
    "policy landlock policies/sandbox.landlock",
    "hooks 2006",
    "hooks today",
    "audit",
];

/// A random run of [`LSM_MENU`] after [`LSM_SETUP`], cut anywhere: the
/// same result lines (every module's decision side by side, the labels,
/// the audit records) with and without `checkpoint` + `restore`.
fn lsm_equivalent_at_cut(seed: u64, cut: u64) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let n = rng.range(3, 25) as usize;
    let ops: Vec<String> = (0..n).map(|i| rng.pick(LSM_MENU).replace('N', &i.to_string())).collect();
    let cut = (cut % (n as u64 + 1)) as usize;
    let mut cut_ops = ops.clone();
    cut_ops.insert(cut, "restore cut.img".into());
    cut_ops.insert(cut, "checkpoint cut.img".into());
    let dir = std::env::temp_dir().join(format!("kmodel-lsm-prop-{}-{seed}-{cut}", std::process::id()));
    let policies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let run = |ops: &[String]| -> Result<Report, String> {
        let text = format!("{LSM_SETUP}{}\n", ops.join("\n"));
        let mut s = scenario::parse("lsm.scenario", &text).map_err(|e| e.to_string())?;
        scenario::load_policies(&mut s, &policies).map_err(|e| e.to_string())?;
        let mut b = ModelBackend::new(KernelConfig::default()).with_checkpoint_dir(&dir);
        scenario::run(&s, &mut b, |_| {}).map_err(|e| e.to_string())
    };
    let plain = run(&ops)?;
    let with_cut = run(&cut_ops)?;
    let _ = std::fs::remove_dir_all(&dir);
    for l in with_cut.lines.iter().filter(|l| l.text.ends_with(" cut.img")) {
        if l.outcome != scenario::Outcome::Ok {
            return Err(format!("{} => {}\n{}", l.text, l.outcome, cut_ops.join("\n")));
        }
    }
    if results(&plain) != results(&with_cut) {
        return Err(format!(
            "seed {seed} cut {cut}: results differ\n--- run on\n{}--- checkpoint + restore\n{}",
            plain.output(),
            with_cut.output()
        ));
    }
    Ok(())
}

#[test]
fn random_lsm_scenario_cut_anywhere_decides_the_same_after_restore() {
    fn prop(seed: u64, cut: u64) -> TestResult {
        match lsm_equivalent_at_cut(seed, cut) {
            Ok(()) => TestResult::passed(),
            Err(e) => TestResult::error(e),
        }
    }
    QuickCheck::new().tests(30).quickcheck(prop as fn(u64, u64) -> TestResult);
}

/// The machine of [`LSM_SETUP`].
fn lsm_fixture() -> Kernel {
    let mut s = scenario::parse("lsm fixture", LSM_SETUP).expect("fixture parses");
    let policies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    scenario::load_policies(&mut s, &policies).expect("policies load");
    let mut b = ModelBackend::new(KernelConfig::default());
    for step in &s.steps {
        b.step(&s, step).expect("fixture runs");
    }
    b.kernel().clone()
}

fn live_pids(k: &Kernel) -> Vec<kmodel::kernel::Pid> {
    (1..64).map(kmodel::kernel::Pid).filter(|p| k.process(*p).is_some()).collect()
}

thread_local! {
    static LSM_FIXTURE: (Kernel, Vec<u8>, Sharing) = {
        let k = lsm_fixture();
        let bytes = container::checkpoint(&k, &live_pids(&k)).expect("checkpoint").encode();
        let sharing = container::sharing(&k);
        (k, bytes, sharing)
    };
}

/// The same over an image with an `lsm` section: mutated module records,
/// policies and labels are refused or restore a kernel whose modules then
/// answer hooks (a walk through every module, each process's labels);
/// never a panic.
#[test]
fn mutated_lsm_image_is_refused_or_restores_modules_that_answer() {
    fn prop(seed: u64, reseal: bool) -> TestResult {
        LSM_FIXTURE.with(|f| {
            let modules = f.0.lsm().dump();
            mutated_case(
                f,
                seed,
                reseal,
                |target| target.lsm().dump() == modules,
                |target| {
                    for pid in live_pids(target) {
                        let _ = target.security_context(pid, Some("/etc/shadow"));
                        let _ = target.security_context(pid, None);
                        let _ = target.apparmor_profile(pid);
                    }
                    let _ = target.lsm().dump();
                },
            )
        })
    }
    QuickCheck::new().tests(2000).quickcheck(prop as fn(u64, bool) -> TestResult);
}
