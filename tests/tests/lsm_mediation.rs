//! Complete mediation: with a module that denies every hook, every
//! operation of the scenario language that reaches an object fails with
//! `EACCES` or `EPERM` — under today's hook table and under 2006's — and the
//! operations that Linux itself does not mediate are listed here, each with
//! the reason, and shown to go through.
//!
//! The verbs come from the parser itself (its "unknown verb" message lists
//! them all), so a verb added without a probe here fails
//! `every_verb_is_probed`; and [`expected`] matches every `Op` variant
//! without a wildcard, so a new operation does not compile until it is
//! classified.

use std::collections::BTreeSet;

use kmodel::container::{
    self,
    image::{LabelObjectRec, LabelRec},
};
use kmodel::kernel::{Errno, KernelConfig};
use kmodel::lsm::deny_all::DenyAll;
use kmodel::lsm::{Decision, Era, HookCx, SecurityOps, StackMode};
use kmodel::model::ModelBackend;
use kmodel::scenario::{self, Backend, Op, Outcome, StepResult};
use kmodel::vfs::Mask;

/// Objects and names the probes use, made before the module is loaded.
const SETUP: &str = "\
buffer buf 2
pipe p
pipe q
file f 1 'a'
mkdir /d
create /d/x
chmod /d/x 755
symlink /d/x /d/l
mkdir /mnt
open o /d/x rw
open dd /d r
write p.w 10 'a'
process child
process init
";

/// One line per verb (several for verbs whose mediation depends on the
/// objects), run with every hook denying.
const PROBES: &str = "\
buffer b2 1
pipe p2
file f2 1 'b'
tcp t
fill buf 'x'
write o 1 'a'
write p.w 1 'a'
write f 1 'a'
read o 1
read p.r 1
read dd 1
recv o 1
vmsplice p.w buf
splice o p.w 1
splice p.r o 1
splice p.r q.w 1
tee p.r q.w 1
sendfile p.w o 1
sendfile o f 1
pwrite o 0 1 'a'
fcntl p.w getpipe_sz
fcntl p.w getpsz
setsockopt t.tx zerocopy
write t.tx 1 'a'
sendfile t.tx f 1
send t.tx buf[0..1] zerocopy nonblock
errqueue t.tx
expect intact t.rx
refs buf
expect busy buf
wait reusable buf
advance 1ms
mkdir /d/n
rmdir /mnt
create /d/y
link /d/x /d/z
symlink /d/x /d/s
rename /d/x /d/w
unlink /d/x
open o2 /d/x r
stat /d/x
chmod /d/x 700
truncate /d/x 10
chown /d/x 1 1
chdir /d
bind /d /mnt
unshare mount
chroot /d
exec /d/x
setuid 0 0
process newproc
process child
hooks today
audit
policy apparmor m.profile
policy landlock m.ll
restorecon /d
label /d/x
label
checkpoint m.img
restore m.img
container box
host far
in box
ps box
end
beancounters box
migrate box to far
close q.r
";

/// What a probe must answer with every hook denying.
#[derive(Debug, PartialEq, Eq)]
enum Want {
    /// Denied by a hook: `EACCES` or `EPERM`, and the module says so.
    Denied,
    /// Linux calls no hook here; the probe must not be denied. The reason
    /// is the source of that fact.
    Unmediated(&'static str),
    /// Linux mediates it, the model does not yet: a known gap, listed so
    /// that it stays visible (and the probe must not be denied, since no
    /// hook runs).
    Gap(&'static str),
}

/// The classification of every operation. No wildcard: a new `Op` does not
/// compile until it is placed here.
fn expected(op: &Op, probe: &str) -> Want {
    use Want::{Denied, Gap, Unmediated};
    match op {
        Op::Declare(_) if probe.starts_with("pipe ") => Unmediated("pipe2 calls no LSM hook (fs/pipe.c)"),
        Op::Declare(_) if probe.starts_with("tcp ") => {
            Gap("socket_create/socket_connect/socket_accept: the model's hook table has no socket hooks yet")
        }
        Op::SetZerocopy { .. } | Op::Errqueue { .. } => {
            Gap("socket_setsockopt/socket_recvmsg: the model has socket_sendmsg only")
        }
        Op::ExpectIntact { .. } => Unmediated("a model-only observation, not a syscall"),
        Op::Declare(_) => Denied,
        // Its first process is a fork (security_task_alloc).
        Op::Container { .. } => Denied,
        Op::Fill { .. } => Unmediated("a store to the process's own memory is not a syscall"),
        Op::Recv { .. } => Unmediated("recv on a non-socket answers ENOTSOCK before any hook"),
        Op::Vmsplice { .. } => Unmediated("vmsplice_to_pipe/vmsplice_to_user call no hook (fs/splice.c)"),
        Op::Splice { .. } if probe == "splice p.r q.w 1" => {
            Unmediated("splice_pipe_to_pipe calls no hook (fs/splice.c)")
        }
        Op::Tee { .. } => Unmediated("link_pipe calls no hook (fs/splice.c)"),
        Op::Close { .. } => Unmediated("close has no hook that can refuse (file_free is a notification)"),
        Op::Refs { .. } | Op::Expect { .. } | Op::WaitReusable { .. } | Op::Advance { .. } | Op::Audit => {
            Unmediated("a model-only observation, not a syscall")
        }
        Op::Hooks { .. } => Unmediated("switches the model's hook table, not a syscall"),
        Op::Checkpoint { .. } | Op::Restore { .. } => {
            Unmediated("the model's image of the whole machine, taken from outside it (no LSM hook in CRIU's path)")
        }
        Op::Label { path: None } => Unmediated("a model-only observation of the process's contexts"),
        Op::Host { .. } => Unmediated("declares another machine of the model, not a syscall"),
        Op::Ps { .. } | Op::Beancounters { .. } => Unmediated("a model-only observation of a container"),
        Op::Migrate { .. } | Op::CheckpointContainer { .. } | Op::RestoreInto { .. } => {
            Gap("CRIU's dump and restore go through ptrace_may_access (security_ptrace_access_check): \
             the model's migration calls no hook yet")
        }
        Op::Policy { module, .. } if *module != kmodel::lsm::PolicyModule::Landlock => {
            Unmediated("loading a module's policy is the administrator's act on the module (securityfs)")
        }
        Op::Unshare => Unmediated("unshare(CLONE_NEWNS) calls no LSM hook (kernel/fork.c)"),
        Op::Process { name } if name == "child" => Unmediated("switching to a running process is not a syscall"),
        Op::Send { .. }
        | Op::Write { .. }
        | Op::Read { .. }
        | Op::Splice { .. }
        | Op::Sendfile { .. }
        | Op::Pwrite { .. }
        | Op::Fcntl { .. }
        | Op::Mkdir { .. }
        | Op::Rmdir { .. }
        | Op::Create { .. }
        | Op::Link { .. }
        | Op::Symlink { .. }
        | Op::Rename { .. }
        | Op::Unlink { .. }
        | Op::Open { .. }
        | Op::Stat { .. }
        | Op::Chmod { .. }
        | Op::Truncate { .. }
        | Op::Chown { .. }
        | Op::Chdir { .. }
        | Op::Bind { .. }
        | Op::Chroot { .. }
        | Op::Process { .. }
        | Op::Setuid { .. }
        | Op::Exec { .. }
        | Op::Policy { .. }
        | Op::Restorecon { .. }
        | Op::Label { .. } => Denied,
    }
}

/// Run the setup with no module, register `DenyAll`, run every probe;
/// answer each probe's text and outcome.
fn run_probes(era: Era) -> Vec<(String, Op, Outcome)> {
    let text = format!("{SETUP}{PROBES}");
    let mut sc = scenario::parse("mediation.scenario", &text).expect("the probes parse");
    let dir = std::env::temp_dir().join(format!("kmodel-mediation-{}-{era:?}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("m.profile"), "/bin/m {\n  /** r,\n}\n").expect("write");
    std::fs::write(dir.join("m.ll"), "handled read_file\nallow /d read_file\n").expect("write");
    scenario::load_policies(&mut sc, &dir).expect("the probes' policies load");
    let _ = std::fs::remove_dir_all(&dir);
    let setup_lines = SETUP.lines().count();
    let mut b = ModelBackend::new(KernelConfig::default());
    let mut out = Vec::new();
    for step in &sc.steps {
        if step.line == setup_lines + 1 {
            b.kernel_mut().lsm_mut().set_era(era);
            b.kernel_mut().lsm_mut().register(Box::new(DenyAll::default()));
        }
        let r = b.step(&sc, step).unwrap_or_else(|e| panic!("{}: {e}", step.text));
        // A `wait reusable` that can never be satisfied blocks.
        let o = match r {
            StepResult::Done(o) => o,
            StepResult::Blocked => Outcome::Err(Errno::EDEADLK),
        };
        if step.line <= setup_lines {
            assert!(!matches!(o, Outcome::Err(_)), "setup line '{}' failed: {o}", step.text);
            continue;
        }
        out.push((step.text.clone(), step.op.clone(), o));
    }
    b.finish().expect("teardown");
    out
}

fn check(era: Era) {
    let mut problems = Vec::new();
    for (text, op, outcome) in run_probes(era) {
        let denied_by_hook = matches!(
            &outcome,
            Outcome::Decided(inner, who)
                if matches!(**inner, Outcome::Err(Errno::EACCES | Errno::EPERM)) && who.contains("deny_all deny")
        );
        match expected(&op, &text) {
            Want::Denied if !denied_by_hook => problems.push(format!("{text}: got {outcome}, want a denial")),
            Want::Unmediated(why) | Want::Gap(why) if denied_by_hook => {
                problems.push(format!("{text}: denied ({outcome}) but listed as unmediated: {why}"))
            }
            _ => {}
        }
    }
    assert!(problems.is_empty(), "under {era:?}:\n{}", problems.join("\n"));
}

#[test]
fn deny_all_denies_every_mediated_operation_today() {
    check(Era::Today);
}

#[test]
fn deny_all_denies_every_mediated_operation_under_2006_hooks() {
    check(Era::Y2006);
}

#[test]
fn every_verb_is_probed() {
    let e = scenario::parse("v.scenario", "frobnicate\n").expect_err("an unknown verb");
    let list = e.message.split("expected one of ").nth(1).expect("the verbs are listed");
    let verbs: BTreeSet<&str> = list.split(", ").collect();
    let probed: BTreeSet<&str> =
        PROBES.lines().chain(SETUP.lines()).filter_map(|l| l.split_whitespace().next()).collect();
    // `thread NAME` ... `end` only group lines.
    let missing: Vec<&&str> =
        verbs.iter().filter(|v| !probed.contains(**v) && !["thread", "end"].contains(v)).collect();
    assert!(missing.is_empty(), "verbs without a mediation probe: {missing:?}");
    assert!(verbs.len() > 30, "the verb list looks wrong: {verbs:?}");
}

/// A module that allows everything except read access to inodes.
#[derive(Clone, Debug, Default)]
struct NoReads;

impl SecurityOps for NoReads {
    fn name(&self) -> &'static str {
        "noreads"
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
    fn box_clone(&self) -> Box<dyn SecurityOps> {
        Box::new(self.clone())
    }
    fn inode_permission(&mut self, _: &HookCx<'_>, _: kmodel::kernel::InodeId, mask: Mask) -> Decision {
        if mask.contains(Mask::READ) {
            Decision::Deny { errno: Errno::EPERM, why: "read".into(), audit: "noreads: denied read".into() }
        } else {
            Decision::Allow
        }
    }
}

fn stacked(mode: StackMode) -> (Outcome, Vec<String>) {
    let sc = scenario::parse("s.scenario", "create /f\nopen x /f r\n").expect("parses");
    let mut b = ModelBackend::new(KernelConfig::default());
    b.kernel_mut().lsm_mut().register(Box::new(NoReads));
    b.kernel_mut().lsm_mut().register(Box::new(DenyAll::default()));
    b.kernel_mut().lsm_mut().set_stack_mode(mode);
    let _ = b.step(&sc, &sc.steps[0]);
    let StepResult::Done(o) = b.step(&sc, &sc.steps[1]).expect("runs") else { panic!("blocked") };
    let audit = b.kernel().lsm().audit_log().to_vec();
    (o, audit)
}

#[test]
fn stacked_modules_are_all_asked_and_the_first_denial_wins() {
    let (o, audit) = stacked(StackMode::AskAll);
    // `/` is searched first: noreads allows MAY_EXEC, deny_all denies.
    assert_eq!(o.to_string(), "-EACCES [noreads allow | deny_all deny inode_permission]");
    assert!(audit.iter().any(|l| l.starts_with("deny_all")));
    let (o, _) = stacked(StackMode::FirstDenial);
    assert_eq!(o.to_string(), "-EACCES [noreads allow | deny_all deny inode_permission]");
}

#[test]
fn a_module_with_only_defaults_allows_everything() {
    let sc = scenario::parse("s.scenario", "create /f\nopen x /f w\nwrite x 3 'a'\nopen y /f r\n").expect("parses");
    let mut b = ModelBackend::new(KernelConfig::default());
    b.kernel_mut().lsm_mut().register(Box::new(NoReads));
    let outs: Vec<String> = sc
        .steps
        .iter()
        .map(|s| match b.step(&sc, s).expect("runs") {
            StepResult::Done(o) => o.to_string(),
            StepResult::Blocked => "blocked".into(),
        })
        .collect();
    assert_eq!(outs[..3], ["ok [noreads allow]", "ok [noreads allow]", "3 [noreads allow]"]);
    assert_eq!(outs[3], "-EPERM [noreads deny read]");
    assert!(b.kernel().lsm().calls() > 4);
}

// ---- checkpoint and restore with modules loaded ---------------------------

/// A machine for the checkpoint tests: files, the stories' policies for
/// `modules` (`apparmor`, `selinux`, `landlock`), a reader confined at exec
/// and a sandboxed process.
fn lsm_setup(modules: &[&str]) -> String {
    let mut s = String::from(
        "mkdir /etc\ncreate /etc/shadow\ncreate /etc/passwd\nmkdir /tmp\nmkdir /work\nmkdir /out\nmkdir /usr\n\
         mkdir /usr/bin\ncreate /usr/bin/reader\nchmod /usr/bin/reader 755\nchmod /tmp 777\nchmod /work 777\n\
         chmod /out 777\ncreate /tmp/a\nchown /tmp/a 1000 1000\ncreate /tmp/log\n",
    );
    for m in modules {
        match *m {
            "apparmor" => s.push_str("policy apparmor policies/reader.profile\n"),
            "selinux" => s.push_str("policy selinux policies/base.te\npolicy selinux policies/base.fc\nrestorecon /\n"),
            _ => {}
        }
    }
    s.push_str("process sandboxed\nsetuid 1000 1000\n");
    if modules.contains(&"landlock") {
        s.push_str("policy landlock policies/sandbox.landlock\n");
    }
    s.push_str("process reader\nexec /usr/bin/reader\nopen log /tmp/log w\n");
    s
}

/// The operations asked after the checkpoint and again after the restore
/// (`N` makes the names each declares unique).
const LSM_OPS: &str = "process reader\nlabel\nopen sN /etc/shadow r\nopen pN /etc/passwd r\nwrite log 1p 'L'\n\
    create /tmp/nN\nlabel /tmp/nN\nstat /etc/shadow\nprocess sandboxed\ncreate /etc/xN\ncreate /tmp/yN\n\
    rename /tmp/a /work/a\nopen qN /etc/passwd w\naudit\n";

/// Run `setup`, register `deny_all` if asked, checkpoint, run the
/// operations, restore, run them again: the two runs' outcomes (and the
/// kernel's LSM state right after the checkpoint and right after the
/// restore).
fn lsm_round_trip(modules: &[&str]) -> (Vec<String>, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("kmodel-lsm-ckpt-{}-{}", std::process::id(), modules.join("-")));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let img = dir.join("m.img");
    let setup = lsm_setup(modules);
    let text = format!(
        "{setup}checkpoint {img}\n{}restore {img}\n{}",
        LSM_OPS.replace('N', "1"),
        LSM_OPS.replace('N', "2"),
        img = img.display()
    );
    let mut sc = scenario::parse("ckpt.scenario", &text).expect("parses");
    let policies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    scenario::load_policies(&mut sc, &policies).expect("the stories' policies load");
    let mut b = ModelBackend::new(KernelConfig::default());
    let setup_lines = setup.lines().count();
    let ops = LSM_OPS.lines().count();
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for step in &sc.steps {
        if step.line == setup_lines + 1 && modules.contains(&"deny_all") {
            b.kernel_mut().lsm_mut().register(Box::new(DenyAll::default()));
        }
        let StepResult::Done(o) = b.step(&sc, step).unwrap_or_else(|e| panic!("{}: {e}", step.text)) else {
            panic!("{} blocked", step.text)
        };
        let o = o.to_string();
        if step.line <= setup_lines {
            continue;
        }
        let at = step.line - setup_lines;
        if at == 1 || at == ops + 2 {
            assert_eq!(o, "ok", "{}", step.text);
        } else if (2..ops + 2).contains(&at) {
            first.push(o.replace("s1", "sN").replace("p1", "pN"));
        } else if at > ops + 2 {
            second.push(o.replace("s2", "sN").replace("p2", "pN"));
        }
    }
    b.finish().expect("teardown");
    let _ = std::fs::remove_dir_all(&dir);
    (first, second)
}

fn check_round_trip(modules: &[&str], denier: &str) {
    let (first, second) = lsm_round_trip(modules);
    assert_eq!(first.len(), LSM_OPS.lines().count());
    assert_eq!(first, second, "decisions after the restore differ from those after the checkpoint");
    let denied = first.iter().filter(|o| o.contains(&format!("{denier} deny")) || o.starts_with("-E")).count();
    assert!(denied > 0, "{denier} denies nothing: {first:#?}");
}

#[test]
fn apparmor_checkpointed_restored_same_decisions() {
    check_round_trip(&["apparmor"], "apparmor");
}

#[test]
fn selinux_checkpointed_restored_same_decisions() {
    check_round_trip(&["selinux"], "selinux");
}

#[test]
fn landlock_checkpointed_restored_same_decisions() {
    check_round_trip(&["landlock"], "landlock");
}

#[test]
fn deny_all_checkpointed_restored_same_decisions() {
    check_round_trip(&["deny_all"], "deny_all");
}

#[test]
fn stacked_modules_checkpointed_restored_same_decisions() {
    let (first, second) = lsm_round_trip(&["apparmor", "selinux", "landlock"]);
    assert_eq!(first, second);
    let all = first.join("\n");
    for m in ["apparmor deny", "selinux deny", "landlock deny", "-EXDEV"] {
        assert!(all.contains(m), "no '{m}' in {all}");
    }
}

/// The machine of [`lsm_setup`] with every module (`deny_all` last).
fn lsm_machine() -> kmodel::kernel::Kernel {
    let setup = lsm_setup(&["apparmor", "selinux", "landlock"]);
    let mut sc = scenario::parse("m.scenario", &setup).expect("parses");
    let policies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    scenario::load_policies(&mut sc, &policies).expect("the stories' policies load");
    let mut b = ModelBackend::new(KernelConfig::default());
    for step in &sc.steps {
        b.step(&sc, step).unwrap_or_else(|e| panic!("{}: {e}", step.text));
    }
    let mut k = b.kernel().clone();
    k.lsm_mut().register(Box::new(DenyAll::default()));
    k.lsm_mut().set_stack_mode(StackMode::FirstDenial);
    k
}

fn pids_of(k: &kmodel::kernel::Kernel) -> Vec<kmodel::kernel::Pid> {
    (1..64).map(kmodel::kernel::Pid).filter(|p| k.process(*p).is_some()).collect()
}

#[test]
fn lsm_state_checkpointed_restored_on_a_fresh_kernel_is_the_same() {
    let k = lsm_machine();
    let bytes = container::checkpoint_bytes(&k, &pids_of(&k)).expect("checkpoint with modules");
    let mut fresh = kmodel::kernel::Kernel::default();
    container::restore_bytes(&mut fresh, &bytes).expect("restore");
    assert_eq!(fresh.lsm().names(), ["apparmor", "selinux", "landlock", "deny_all"]);
    let (a, b) = (k.lsm().dump().expect("saveable"), fresh.lsm().dump().expect("saveable"));
    assert!(a.modules.iter().all(|(n, s)| *n == "deny_all" || !s.labels.is_empty()), "{a:#?}");
    assert_eq!(a, b);
    // And the image of the restored machine is the same image.
    assert_eq!(container::checkpoint_bytes(&fresh, &pids_of(&fresh)).expect("again"), bytes);
}

#[test]
fn lsm_internal_serializer_refuses_modules_by_name() {
    let k = lsm_machine();
    let e = container::internal::encode(&k, &pids_of(&k)).unwrap_err().to_string();
    assert!(e.contains("security module apparmor with the internal serializer"), "{e}");
}

#[test]
fn lsm_bad_records_refused_with_a_message() {
    let k = lsm_machine();
    let good = container::checkpoint(&k, &pids_of(&k)).expect("checkpoint");
    type Edit = fn(&mut container::image::LsmRec);
    let cases: &[(&str, Edit)] = &[
        ("unknown security module 'tomoyo'", |l| l.modules[0].name = "tomoyo".into()),
        ("registered twice", |l| l.modules[1].name = "apparmor".into()),
        ("unknown stack mode 7", |l| l.mode = 7),
        ("complain mode", |l| l.modules[0].complain = true),
        ("unknown counter 'x'", |l| l.counters.push(("x".into(), 1))),
        ("no profile named 'nobody'", |l| {
            let t = l.modules[0].labels.iter_mut().find(|x| matches!(x.object, LabelObjectRec::Task(_))).unwrap();
            t.label = "nobody".into();
        }),
        ("labels inode 999", |l| l.modules[1].labels[0].object = LabelObjectRec::Inode(999)),
        ("labels process 999", |l| l.modules[1].labels[0].object = LabelObjectRec::Task(999)),
        ("labels fd 77 of process", |l| {
            l.modules[0].labels.push(LabelRec { object: LabelObjectRec::File(1, 77), label: "1".into() })
        }),
        ("expected a context", |l| l.modules[1].labels[0].label = "garbage".into()),
        ("(policies/base.te) for selinux: 1:7: expected a type", |l| l.modules[1].policies[0].text = "allow (".into()),
        ("bad inode number", |l| l.modules[2].labels[0].label = "1 3 x=1".into()),
        ("counter next_domain missing", |l| l.modules[2].counters.clear()),
        ("unknown hook 'nope'", |l| l.modules[3].counters.push(("nope".into(), 1))),
        ("audit lines shown", |l| l.counters.iter_mut().for_each(|c| c.1 = 1 << 40)),
    ];
    for (want, edit) in cases {
        let mut image = good.clone();
        edit(image.lsm.as_mut().expect("the lsm section"));
        // Through the bytes, as a file would come.
        let decoded = container::Image::decode(&image.encode()).expect("decodes");
        let mut fresh = kmodel::kernel::Kernel::default();
        let e = container::restore(&mut fresh, &decoded).expect_err(want).to_string();
        assert!(e.contains(want), "want '{want}', got: {e}");
        assert!(fresh.lsm().names().is_empty(), "a refused restore leaves the target alone");
    }
}
