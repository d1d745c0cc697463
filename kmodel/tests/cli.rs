//! The `kmodel` command as a user meets it: exit statuses, messages on
//! standard error, and no panic whatever the input or the reader.

use std::io::Write;
use std::process::{Command, Stdio};

mod common;

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
fn default_command_tells_the_story_with_its_page_chart_and_exits_0() {
    let out = kmodel().env_remove("COLUMNS").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("The 2006 story"), "the narrative first:\n{text}");
    // The result lines as `kmodel run` prints them: the second reader sees the refill.
    assert!(text.contains("37: read log.r 16p => 65536 'C'x65536"), "{text}");
    // The chart: a lane per half of each buffer, the hazard in the column of line 36.
    assert!(text.contains("timeline of scenarios/story_double_buffer.scenario: 4 lanes of pages, 24 operations"));
    for lane in ["one pages 0-15", "one pages 16-31", "two pages 16-31"] {
        assert_eq!(common::hazard_lines(&text, lane), Vec::<usize>::new(), "{lane}:\n{text}");
    }
    assert_eq!(common::hazard_lines(&text, "two pages 0-15"), [36], "{text}");
    assert_eq!(common::lane_cells(&text, "two pages 0-15"), "            WPPPPPPP!---", "{text}");
    assert_eq!(common::column_lines(&text, "two pages 0-15").len(), 24);
    assert!(text.contains("HAZARD at line 36: 'fill two[0..16p] 'C'' wrote to pages still in flight:"), "{text}");
    assert!(text.contains("two pages 0-15 are held by pipe log"), "{text}");
    assert!(text.contains("from 30: user, pipe p, pipe log"), "the holders over time:\n{text}");
    // What each kernel makes of it.
    assert!(text.contains("today  1 hazard (line 36)") && text.contains("copy   no hazard"), "{text}");
    assert!(!text.contains('\x1b'), "plain when standard output is not a terminal");
    assert!(text.lines().all(|l| l.chars().count() <= 100), "fits 100 columns:\n{text}");
    let narrow = kmodel().env("COLUMNS", "80").output().unwrap();
    let narrow = String::from_utf8_lossy(&narrow.stdout);
    let wide: Vec<&str> = narrow.lines().filter(|l| l.chars().count() > 80).collect();
    assert!(wide.is_empty(), "COLUMNS=80, lines wider: {wide:#?}");
    let forced = kmodel().env("CLICOLOR_FORCE", "1").env_remove("NO_COLOR").output().unwrap();
    assert!(String::from_utf8_lossy(&forced.stdout).contains("\x1b[1;37;41m!"), "the hazard in red when forced");
}

#[test]
fn explore_failure_shows_the_replay_chart_with_the_explored_lines() {
    let scenarios = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let out = kmodel().arg("explore").arg(scenarios.join("explore_double_buffer_tee.scenario")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("explore: ") && !err.contains("timeline"), "progress only on standard error:\n{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("replayable single-threaded scenario:"), "{text}");
    let chart = &text[text.find("timeline of the replay").unwrap_or_else(|| panic!("no chart:\n{text}"))..];
    // Columns are named by the explored file's lines, the order the schedule ran them.
    assert_eq!(common::column_lines(chart, "buf page 0"), [12, 13, 14, 15, 17, 18, 19, 24, 25, 20, 21], "{chart}");
    assert_eq!(common::hazard_lines(chart, "buf page 0"), [21], "{chart}");
    assert_eq!(common::hazard_lines(chart, "buf page 1"), Vec::<usize>::new(), "{chart}");
    assert!(chart.contains("HAZARD at line 21: 'fill buf[0..1p] 'C'' wrote to pages still in flight:"), "{chart}");
    assert!(chart.contains("buf page 0 is held by pipe log"), "{chart}");
    // A deadlock's replay has no pages, but says which line never returned.
    let out = kmodel().arg("explore").arg(scenarios.join("explore_opposite_splices.scenario")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("timeline of the replay (the explored file's lines): 0 lanes of pages"), "{text}");
    assert!(text.contains("line 12: 'splice p.r q.w 4096' blocked forever"), "{text}");
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
    assert!(json.contains("\"format_version\": 2") && json.contains("\"Uniform\": 65"), "{json}");
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
