//! `lsm`: what security modules cost.
//!
//! * `hooks/*`: hook calls per second (criterion's elements/s) for a confined
//!   process that opens a file three directories deep, reads it and closes
//!   it (7 hook calls: a search permission per directory, the open's
//!   permission, `file_open`, `file_permission`), with no module, each
//!   module, and the pathname and label modules stacked.
//! * `names/*`: path rebuilds per second (elements/s) of a file 16
//!   directories deep: `d_path` through the mounts, as today's path hooks
//!   allow, against `d_find_alias` + `dentry_path`, all a 2006 inode hook
//!   could do.
//! * `open_read_16/*`: a confined open and 4 reads of that file under each
//!   table: today the name is built once, at open; in 2006 at open and at
//!   every read.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use kmodel::kernel::{Kernel, KernelConfig, Pid};
use kmodel::lsm::{Era, PolicyModule};
use kmodel::vfs::OpenMode;

const PROFILE: &str = "profile reader /bin/reader {\n  /** r,\n}\n";
const TE: &str = "type any_t;\ntype reader_exec_t;\ntype reader_t;\n\
    type_transition unconfined_t reader_exec_t:process reader_t;\n\
    allow reader_t reader_exec_t:file { entrypoint execute };\n\
    allow reader_t any_t:dir { search };\nallow reader_t any_t:file { read open };\n";
const FC: &str = "/.* system_u:object_r:any_t:s0\n/bin/reader -- system_u:object_r:reader_exec_t:s0\n";

/// A machine with `/d1/.../dN/f` and a reader confined by `modules`.
fn machine(depth: usize, modules: &[PolicyModule]) -> (Kernel, Pid, String) {
    let config = KernelConfig { event_log: false, ..KernelConfig::default() };
    let mut k = Kernel::new(config);
    let p = k.init_pid();
    let mut path = String::new();
    for i in 0..depth {
        path.push_str(&format!("/d{i}"));
        k.mkdir(p, &path, 0o755).expect("mkdir");
    }
    path.push_str("/f");
    k.create(p, &path).expect("create");
    k.mkdir(p, "/bin", 0o755).expect("mkdir");
    k.create(p, "/bin/reader").expect("create");
    k.chmod(p, "/bin/reader", 0o755).expect("chmod");
    for m in modules {
        match m {
            PolicyModule::AppArmor => k.load_policy(p, *m, "r.profile", PROFILE).expect("profile"),
            PolicyModule::SeLinux => {
                k.load_policy(p, *m, "b.te", TE).expect("te");
                k.load_policy(p, *m, "b.fc", FC).expect("fc")
            }
            PolicyModule::Landlock => unreachable!("not measured here"),
        };
    }
    if modules.contains(&PolicyModule::SeLinux) {
        k.restorecon(p, "/").expect("restorecon");
    }
    let r = k.fork(p).expect("fork");
    k.exec(r, "/bin/reader").expect("exec");
    (k, r, path)
}

fn open_read_close(k: &mut Kernel, r: Pid, path: &str, reads: usize) {
    let fd = k.open(r, path, OpenMode::Read).expect("open");
    let mut out = Vec::new();
    for _ in 0..reads {
        black_box(k.read(r, fd, 1, &mut out).expect("read"));
    }
    k.close(r, fd).expect("close");
}

fn hooks(c: &mut Criterion) {
    let mut g = c.benchmark_group("hooks");
    let cases: [(&str, &[PolicyModule]); 4] = [
        ("none", &[]),
        ("apparmor", &[PolicyModule::AppArmor]),
        ("selinux", &[PolicyModule::SeLinux]),
        ("apparmor+selinux", &[PolicyModule::AppArmor, PolicyModule::SeLinux]),
    ];
    for (name, modules) in cases {
        let (mut k, r, path) = machine(3, modules);
        let before = k.lsm().calls();
        open_read_close(&mut k, r, &path, 1);
        let per_op = k.lsm().calls() - before;
        g.throughput(Throughput::Elements(per_op));
        g.bench_function(name, |b| b.iter(|| open_read_close(&mut k, r, &path, 1)));
    }
    g.finish();
}

fn names(c: &mut Criterion) {
    let (mut k, r, path) = machine(16, &[]);
    let fd = k.open(r, &path, OpenMode::Read).expect("open");
    let p = k.process(r).expect("reader").fds.get(fd).expect("fd").path.expect("a named file").path;
    let root = k.process(r).expect("reader").fs.root;
    let ino = k.vfs().dentry(p.dentry).expect("dentry").inode;
    let mut g = c.benchmark_group("names");
    g.throughput(Throughput::Elements(1));
    g.bench_function("d_path_16_deep (path hooks)", |b| b.iter(|| black_box(k.vfs().d_path(p, root))));
    g.bench_function("d_find_alias+dentry_path_16_deep (inode hooks)", |b| {
        b.iter(|| black_box(k.vfs().d_find_alias(ino).map(|d| k.vfs().dentry_path(d))))
    });
    g.finish();
}

fn open_read_16(c: &mut Criterion) {
    let mut g = c.benchmark_group("open_read_16");
    for (name, era) in [("today", Era::Today), ("2006", Era::Y2006)] {
        let (mut k, r, path) = machine(16, &[PolicyModule::AppArmor]);
        k.lsm_mut().set_era(era);
        let (r0, _) = k.lsm().cost();
        open_read_close(&mut k, r, &path, 4);
        let (r1, _) = k.lsm().cost();
        g.throughput(Throughput::Elements(r1 - r0));
        eprintln!("open_read_16/{name}: {} names built per open + 4 reads", r1 - r0);
        g.bench_function(name, |b| b.iter(|| open_read_close(&mut k, r, &path, 4)));
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    hooks(&mut c);
    names(&mut c);
    open_read_16(&mut c);
    c.final_summary();
}
