//! Policy files: errors point at the file, line and column (unknown types
//! and classes are errors, not silent allows), and the modules' modes.

use std::path::PathBuf;

use kmodel::kernel::KernelConfig;
use kmodel::model::ModelBackend;
use kmodel::scenario::{self, Backend, Outcome, Scenario, StepResult};

/// A fresh directory with `files` in it.
fn dir_with(files: &[(&str, &str)]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kmodel-policy-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&d).expect("temp dir");
    for (name, text) in files {
        std::fs::write(d.join(name), text).expect("write policy");
    }
    d
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn load(text: &str, files: &[(&str, &str)]) -> Result<Scenario, scenario::ParseError> {
    let d = dir_with(files);
    let mut s = scenario::parse("t.scenario", text)?;
    let r = scenario::load_policies(&mut s, &d).map(|()| s);
    let _ = std::fs::remove_dir_all(&d);
    r
}

fn run(s: &Scenario) -> Vec<String> {
    let mut b = ModelBackend::new(KernelConfig::default());
    let out = s
        .steps
        .iter()
        .map(|st| match b.step(s, st).expect("step") {
            StepResult::Done(o) => o.to_string(),
            StepResult::Blocked => "blocked".into(),
        })
        .collect();
    b.finish().expect("teardown");
    out
}

#[test]
fn bad_policy_file_is_rejected_with_file_line_and_column() {
    let cases = [
        ("apparmor", "p.profile", "/usr/bin/x {\n  /etc/** rq,\n}\n", (2, 12), "unknown permission 'q'"),
        ("selinux", "p.te", "type a_t;\nallow a_t b_t:file read;\n", (2, 11), "unknown type 'b_t'"),
        ("selinux", "p.te", "type a_t;\nallow a_t a_t:socket read;\n", (2, 15), "unknown class 'socket'"),
        ("selinux", "p.fc", "/etc(/.*)? system_u:object_r:etc_t:s0\n", (1, 30), "unknown type 'etc_t'"),
        ("landlock", "p.ll", "handled read_file\nallow /x read_file write\n", (2, 20), "unknown access 'write'"),
    ];
    for (module, file, text, (line, col), msg) in cases {
        let e = load(&format!("policy {module} {file}\n"), &[(file, text)]).expect_err("a bad policy");
        assert!(e.file.ends_with(file), "{module}: error names {}", e.file);
        assert_eq!((e.line, e.column), (line, col), "{module}: {e}");
        assert!(e.message.starts_with(msg), "{module}: {}", e.message);
    }
    let e = load("mkdir /a\npolicy apparmor missing.profile\n", &[]).expect_err("a missing file");
    assert_eq!((e.file.as_str(), e.line, e.column), ("t.scenario", 2, 17));
    assert!(e.message.starts_with("cannot read policy file"), "{}", e.message);
}

#[test]
fn file_contexts_may_only_name_types_loaded_before() {
    let te = ("a.te", "type etc_t;\n");
    let fc = ("a.fc", "/etc(/.*)? system_u:object_r:etc_t:s0\n");
    assert!(load("policy selinux a.te\npolicy selinux a.fc\n", &[te, fc]).is_ok());
    let e = load("policy selinux a.fc\npolicy selinux a.te\n", &[te, fc]).expect_err("fc before te");
    assert!(e.message.starts_with("unknown type 'etc_t'"), "{e}");
}

#[test]
fn complain_mode_allows_and_audits() {
    let profile = "profile c /bin/c flags=(complain) {\n  /tmp/** r,\n}\n";
    let s = load(
        "mkdir /bin\ncreate /bin/c\nchmod /bin/c 755\ncreate /secret\npolicy apparmor c.profile\n\
         process p\nexec /bin/c\nopen s /secret r\naudit\n",
        &[("c.profile", profile)],
    )
    .expect("loads");
    let out = run(&s);
    assert_eq!(out[7], "ok [apparmor complain r /secret | names built 1 (1 dentries)]");
    assert!(out[8].contains("apparmor=\"ALLOWED\" operation=\"open\" profile=\"c\" name=\"/secret\""), "{}", out[8]);
}

#[test]
fn permissive_domain_allows_and_audits_with_permissive_1() {
    let te = "type p_t;\ntype p_exec_t;\ntype_transition unconfined_t p_exec_t:process p_t;\n\
              allow p_t p_exec_t:file { entrypoint execute };\npermissive p_t;\n";
    let fc = "/bin/p -- system_u:object_r:p_exec_t:s0\n";
    let s = load(
        "mkdir /bin\ncreate /bin/p\nchmod /bin/p 755\ncreate /secret\npolicy selinux p.te\npolicy selinux p.fc\n\
         restorecon /\nprocess p\nexec /bin/p\nopen s /secret r\naudit\n",
        &[("p.te", te), ("p.fc", fc)],
    )
    .expect("loads");
    let out = run(&s);
    assert!(out[9].starts_with("ok [selinux complain { search } unlabeled_t"), "{}", out[9]);
    assert!(out[10].contains("permissive=1"), "{}", out[10]);
}

#[test]
fn landlock_needs_path_hooks_so_the_2006_table_lets_creation_through() {
    let ll = "handled make_reg read_file\nallow /tmp make_reg read_file\n";
    let text = "mkdir /tmp\nmkdir /etc\npolicy landlock s.ll\ncreate /etc/a\nhooks 2006\ncreate /etc/b\n";
    let s = load(text, &[("s.ll", ll)]).expect("loads");
    let out = run(&s);
    assert_eq!(out[3], "-EACCES [landlock deny fs.make_reg /etc | names built 1 (1 dentries)]");
    assert_eq!(out[5], "ok [landlock allow]");
}

#[test]
fn unloaded_policy_verbs_fail_cleanly_in_the_model() {
    // A scenario run without load_policies: the policy text is empty.
    let s = scenario::parse("t.scenario", "policy apparmor x.profile\npolicy landlock x.ll\n").expect("parses");
    let out = run(&s);
    assert_eq!(out[0], "ok", "an empty profile file loads no profile");
    assert_eq!(out[1], Outcome::Err(kmodel::kernel::Errno::EINVAL).to_string());
}
