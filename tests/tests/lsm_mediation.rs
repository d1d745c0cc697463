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
