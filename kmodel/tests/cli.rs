//! The `kmodel` command as a user meets it: exit statuses, messages on
//! standard error, and no panic whatever the input or the reader.

use std::io::Write;
use std::process::{Command, Stdio};

fn kmodel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kmodel"))
}

fn scenario(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kmodel-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
    path
}

#[test]
fn default_command_tells_the_story_and_exits_0() {
    let out = kmodel().output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("HAZARD"), "the story shows the hazard:\n{text}");
}

#[test]
fn malformed_scenario_exits_2_naming_file_line_and_expectation() {
    let path = scenario("bad.scenario", "pipe p\nwrite p.w 10 AB\n");
    let out = kmodel().arg("run").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing runs before the file parses");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.scenario:2:14: expected a byte value"), "{err}");
}

#[test]
fn missing_file_and_bad_arguments_exit_2() {
    let out = kmodel().args(["run", "/nonexistent/x.scenario"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = kmodel().args(["run", "x", "--on", "mars"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = kmodel().args(["explore", "x", "--bound", "99"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn blocked_run_exits_3_and_failed_expect_exits_1() {
    let path = scenario("block.scenario", "pipe p\nread p.r 10\n");
    let out = kmodel().arg("run").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains(":2: 'read p.r 10' would block forever"));
    let path = scenario("expect.scenario", "buffer b 1\npipe p\nfill b 'a'\nvmsplice p.w b\nexpect reusable b\n");
    let out = kmodel().arg("run").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("5: expect reusable b => FAILED: b page 0 is held by pipe p")
    );
}

#[test]
fn a_reader_that_goes_away_ends_kmodel_quietly() {
    let mut child = kmodel().stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(matches!(out.status.code(), Some(0 | 141)), "{:?}", out.status);
}

#[test]
fn run_writes_checkpoints_in_the_current_directory_and_image_show_reads_them() {
    let path = scenario("ck.scenario", "buffer b 1\npipe p\nfill b 'A'\nvmsplice p.w b\ncheckpoint ck.img\n");
    let dir = path.parent().unwrap();
    let out = kmodel().current_dir(dir).arg("run").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("5: checkpoint ck.img => ok"));
    let image = dir.join("ck.img");
    let out = kmodel().args(["image", "show"]).arg(&image).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: String = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(json.contains("\"format_version\": 1") && json.contains("\"Uniform\": 65"), "{json}");
    // A damaged image: exit 2, the error names the damage, no panic.
    let mut bytes = std::fs::read(&image).unwrap();
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&image, &bytes).unwrap();
    let out = kmodel().args(["image", "show"]).arg(&image).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ck.img: truncated image") || err.contains("ck.img: corrupted image"), "{err}");
    let out = kmodel().args(["image", "show", "/nonexistent.img"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.img: cannot read"));
    std::fs::remove_file(&image).unwrap();
}
