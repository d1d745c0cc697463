//! The two sides of the 2006 debate, as properties over random histories of
//! links, renames, bind mounts and private mount namespaces:
//!
//! * the label module's decision for an inode never depends on the name a
//!   process used to reach it;
//! * the pathname module's decision depends on nothing but the name: two
//!   opens of the same name get the same answer, whatever inode is behind
//!   it, in whatever namespace.
//!
//! Each module is asked alone (on its own copy of the machine). The test
//! also counts the cases that make the properties bite: an inode reached by
//! names the pathname module judged differently (the bypass), and a name
//! that reached inodes the label module judged differently.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use kmodel::kernel::{Errno, FileKind, InodeId, Kernel, KernelConfig, Pid};
use kmodel::lsm::PolicyModule;
use kmodel::vfs::OpenMode;
use quickcheck::{Arbitrary, Gen, QuickCheck};

const DIRS: [&str; 5] = ["a", "b", "c", "m", "n"];
const FILES: [&str; 4] = ["f0", "f1", "f2", "f3"];

const PROFILE: &str = "profile reader /bin/reader {\n  /a/** r,\n  /m/** r,\n  deny /b/f1 r,\n  /b/** r,\n}\n";
const TE: &str = "type a_t;\ntype b_t;\ntype c_t;\ntype bin_t;\ntype reader_exec_t;\ntype reader_t;\n\
    type_transition unconfined_t reader_exec_t:process reader_t;\n\
    allow reader_t reader_exec_t:file { entrypoint execute };\n\
    allow reader_t { a_t b_t c_t bin_t unlabeled_t }:dir search;\n\
    allow reader_t { a_t c_t }:file { read open };\n";
const FC: &str = "/a(/.*)? system_u:object_r:a_t:s0\n/b(/.*)? system_u:object_r:b_t:s0\n\
    /c(/.*)? system_u:object_r:c_t:s0\n/bin(/.*)? system_u:object_r:bin_t:s0\n\
    /bin/reader -- system_u:object_r:reader_exec_t:s0\n";

/// One step of a history.
#[derive(Clone, Debug)]
enum Step {
    /// `link /D/F /D2/F2`.
    Link(usize, usize, usize, usize),
    /// `rename /D/F /D2/F2`.
    Rename(usize, usize, usize, usize),
    /// `rename /D /D2` (top-level directories).
    RenameDir(usize, usize),
    /// `bind /D /D2` in namespace N (0: the first; k: the k-th helper's).
    Bind(usize, usize, usize),
    /// A helper process unshares its own mount namespace.
    Unshare,
}

impl Arbitrary for Step {
    fn arbitrary(g: &mut Gen) -> Self {
        let d = |g: &mut Gen| usize::arbitrary(g) % DIRS.len();
        let f = |g: &mut Gen| usize::arbitrary(g) % FILES.len();
        match u8::arbitrary(g) % 10 {
            0..=1 => Step::Link(d(g), f(g), d(g), f(g)),
            2..=3 => Step::Rename(d(g), f(g), d(g), f(g)),
            4 => Step::RenameDir(d(g), d(g)),
            5..=7 => Step::Bind(d(g), d(g), usize::arbitrary(g) % 3),
            _ => Step::Unshare,
        }
    }
}

/// A machine with /a /b /c (files f0-f2 in each, labeled a_t, b_t, c_t), empty
/// /m /n, and the reader program; both modules loaded.
fn machine() -> (Kernel, Pid) {
    let mut k = Kernel::new(KernelConfig::default());
    let p = k.init_pid();
    k.vfs_mut().protected_hardlinks = false;
    for d in DIRS.iter().chain(&["bin"]) {
        k.mkdir(p, &format!("/{d}"), 0o755).expect("mkdir");
    }
    for d in ["a", "b", "c"] {
        for f in &FILES[..3] {
            k.create(p, &format!("/{d}/{f}")).expect("create");
        }
    }
    k.create(p, "/bin/reader").expect("create");
    k.chmod(p, "/bin/reader", 0o755).expect("chmod");
    k.load_policy(p, PolicyModule::AppArmor, "r.profile", PROFILE).expect("profile");
    k.load_policy(p, PolicyModule::SeLinux, "p.te", TE).expect("te");
    k.load_policy(p, PolicyModule::SeLinux, "p.fc", FC).expect("fc");
    k.restorecon(p, "/").expect("restorecon");
    (k, p)
}

/// Apply a history; answer the readers (confined processes, one per
/// namespace used).
fn apply(k: &mut Kernel, init: Pid, steps: &[Step]) -> Vec<Pid> {
    let mut helpers = vec![init];
    for s in steps {
        // Failures (ENOENT, EEXIST, EXDEV...) are part of the history.
        let _ = match *s {
            Step::Link(d, f, d2, f2) => {
                k.link(init, &format!("/{}/{}", DIRS[d], FILES[f]), &format!("/{}/{}", DIRS[d2], FILES[f2]))
            }
            Step::Rename(d, f, d2, f2) => {
                k.rename(init, &format!("/{}/{}", DIRS[d], FILES[f]), &format!("/{}/{}", DIRS[d2], FILES[f2]))
            }
            Step::RenameDir(d, d2) => k.rename(init, &format!("/{}", DIRS[d]), &format!("/{}", DIRS[d2])),
            Step::Bind(d, d2, n) => {
                k.bind_mount(helpers[n % helpers.len()], &format!("/{}", DIRS[d]), &format!("/{}", DIRS[d2]))
            }
            Step::Unshare => {
                let h = k.fork(init).expect("fork");
                helpers.push(h);
                k.unshare_mount(h)
            }
        };
        k.check_invariants().expect("invariants after a history step");
    }
    helpers
        .into_iter()
        .map(|h| {
            let r = k.fork(h).expect("fork");
            k.exec(r, "/bin/reader").expect("exec");
            r
        })
        .collect()
}

/// Open `name` for reading as `pid` with only `module` loaded: the inode
/// reached and whether the module allowed it (`None` if the name leads
/// nowhere).
fn ask(k: &Kernel, module: &str, pid: Pid, name: &str) -> Option<(InodeId, bool)> {
    let mut alone = k.clone();
    alone.lsm_mut().keep_only(module);
    let ino = {
        let mut free = k.clone();
        free.lsm_mut().keep_only("none");
        let fd = free.open(pid, name, OpenMode::Read).ok()?;
        match free.process(pid)?.fds.get(fd)?.kind {
            FileKind::Regular(ino) => ino,
            _ => return None,
        }
    };
    match alone.open(pid, name, OpenMode::Read) {
        Ok(_) => Some((ino, true)),
        Err(Errno::EACCES) => Some((ino, false)),
        Err(e) => panic!("{module}: open {name}: unexpected {e}"),
    }
}

/// What one name gave: (name, label decision, pathname decision).
type Seen = (String, bool, bool);

static BYPASSES: AtomicUsize = AtomicUsize::new(0);
static RELABELED_NAMES: AtomicUsize = AtomicUsize::new(0);
static CASES: AtomicUsize = AtomicUsize::new(0);

fn names() -> Vec<String> {
    DIRS.iter().flat_map(|d| FILES.iter().map(move |f| format!("/{d}/{f}"))).collect()
}

fn property(steps: Vec<Step>) -> bool {
    let (mut k, init) = machine();
    let readers = apply(&mut k, init, &steps);
    // inode -> label decisions, per reader; name -> path decisions (and
    // the label decisions of what it reached, over every reader).
    let mut by_inode: BTreeMap<(Pid, InodeId), Vec<Seen>> = BTreeMap::new();
    let mut by_name: BTreeMap<String, Vec<(InodeId, bool, bool)>> = BTreeMap::new();
    for &r in &readers {
        for n in names() {
            let Some((ino, label)) = ask(&k, "selinux", r, &n) else { continue };
            let (ino2, path) = ask(&k, "apparmor", r, &n).expect("the same name opens");
            assert_eq!(ino, ino2, "one name, one inode, for one process at one time");
            by_inode.entry((r, ino)).or_default().push((n.clone(), label, path));
            by_name.entry(n).or_default().push((ino, label, path));
        }
    }
    let mut ok = true;
    for ((r, ino), seen) in &by_inode {
        if seen.iter().any(|s| s.1 != seen[0].1) {
            eprintln!("label decision for inode {} (reader {}) depends on the name: {seen:?}", ino.0, r.0);
            ok = false;
        }
        if seen.iter().any(|s| s.2 != seen[0].2) {
            BYPASSES.fetch_add(1, Ordering::Relaxed);
        }
    }
    for (name, seen) in &by_name {
        if seen.iter().any(|s| s.2 != seen[0].2) {
            eprintln!("pathname decision for {name} depends on more than the name: {seen:?}");
            ok = false;
        }
        if seen.iter().any(|s| s.1 != seen[0].1) {
            RELABELED_NAMES.fetch_add(1, Ordering::Relaxed);
        }
    }
    CASES.fetch_add(1, Ordering::Relaxed);
    k.teardown_and_check().expect("teardown");
    ok
}

#[test]
fn label_decisions_follow_inodes_and_pathname_decisions_follow_names() {
    QuickCheck::new().tests(60).rng(Gen::new(12)).quickcheck(property as fn(Vec<Step>) -> bool);
    let (b, r, c) =
        (BYPASSES.load(Ordering::Relaxed), RELABELED_NAMES.load(Ordering::Relaxed), CASES.load(Ordering::Relaxed));
    eprintln!(
        "{c} histories: {b} inodes the pathname module judged differently by name, {r} names that reached differently labeled inodes"
    );
    assert!(b > 0, "no history showed the pathname module's bypass: the generator is too weak");
    assert!(r > 0, "no history showed a name reaching differently labeled inodes: the generator is too weak");
}

#[test]
fn hard_link_is_the_minimal_bypass() {
    let (mut k, init) = machine();
    // /b/f1 is denied by name and unreadable by label (b_t).
    let readers = apply(&mut k, init, &[Step::Link(1, 1, 0, 3)]);
    let r = readers[0];
    assert_eq!(ask(&k, "apparmor", r, "/b/f1").map(|x| x.1), Some(false));
    assert_eq!(ask(&k, "apparmor", r, "/a/f3").map(|x| x.1), Some(true), "the link's name is allowed");
    assert_eq!(ask(&k, "selinux", r, "/b/f1").map(|x| x.1), Some(false));
    assert_eq!(ask(&k, "selinux", r, "/a/f3").map(|x| x.1), Some(false), "the label goes with the inode");
    k.teardown_and_check().expect("teardown");
}
