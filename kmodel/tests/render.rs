//! `kmodel run` with `--timeline`, `--html`, `--trace` and `--trace-json`,
//! as a user meets them: the result lines on standard output unchanged, the
//! timeline on standard error (plain unless colour suits), the files
//! written, the trace one record per page event, and clear errors.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

const STORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/story_double_buffer.scenario");
const TCP_STORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/story_tcp_held_until_ack.scenario");

fn kmodel() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kmodel"));
    for v in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "RUST_LOG", "COLUMNS"] {
        c.env_remove(v);
    }
    c
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("kmodel-render-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn scenario(name: &str, text: &str) -> PathBuf {
    let path = dir().join(name);
    std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
    path
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(args: &[&str]) -> Output {
    kmodel().args(args).output().unwrap()
}

#[test]
fn timeline_keeps_stdout_to_the_contract_and_draws_lanes_on_stderr() {
    let plain = run(&["run", STORY]);
    let drawn = run(&["run", STORY, "--timeline"]);
    assert_eq!(drawn.status.code(), Some(0), "{}", text(&drawn.stderr));
    assert_eq!(plain.stdout, drawn.stdout, "the result lines do not change");
    let err = text(&drawn.stderr);
    for lane in ["one pages 0-15", "one pages 16-31", "two pages 0-15", "two pages 16-31"] {
        assert!(err.lines().any(|l| l.starts_with(lane) && l.contains('|')), "lane {lane}:\n{err}");
    }
    let hazard_lane = err.lines().find(|l| l.starts_with("two pages 0-15")).unwrap();
    assert_eq!(hazard_lane.matches('!').count(), 1, "one hazard mark: {hazard_lane}");
    assert!(err.contains("HAZARD at line 36: 'fill two[0..16p] 'C'' wrote to pages still in flight"), "{err}");
    assert!(!err.contains('\x1b'), "plain when standard error is not a terminal");
}

#[test]
fn timeline_colour_is_forced_by_clicolor_force_and_refused_by_no_color() {
    let forced = kmodel().args(["run", STORY, "--timeline"]).env("CLICOLOR_FORCE", "1").output().unwrap();
    assert!(text(&forced.stderr).contains("\x1b["), "CLICOLOR_FORCE gives colour");
    assert!(!text(&forced.stdout).contains('\x1b'), "never on standard output");
    let refused =
        kmodel().args(["run", STORY, "--timeline"]).env("CLICOLOR_FORCE", "1").env("NO_COLOR", "1").output().unwrap();
    assert!(!text(&refused.stderr).contains('\x1b'), "NO_COLOR wins");
}

#[test]
fn network_timeline_shows_simulated_milliseconds_and_socket_rows() {
    let out = run(&["run", TCP_STORY, "--timeline"]);
    assert_eq!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(err.lines().any(|l| l.trim_start().starts_with("time") && l.contains("ms")), "{err}");
    assert!(err.contains("A socket unacked") && err.contains("~ on the wire"), "{err}");
    let lane = err.lines().find(|l| l.starts_with("buf page 0")).unwrap();
    assert!(lane.contains('A') && lane.contains('~'), "{lane}");
}

#[test]
fn wide_runs_wrap_then_summarise_within_the_terminal_width() {
    let mut s = String::from("buffer b 4\npipe p\n");
    for _ in 0..30 {
        s.push_str("fill b[0..1p] 'x'\nvmsplice p.w b[0..1p]\nread p.r 4096\n");
    }
    let wrap = scenario("wrap.scenario", &s);
    let out = kmodel().arg("run").arg(&wrap).arg("--timeline").env("COLUMNS", "60").output().unwrap();
    let err = text(&out.stderr);
    assert!(err.lines().filter(|l| l.trim_start().starts_with("line")).count() >= 2, "wrapped in blocks:\n{err}");
    assert!(!err.contains("summarises"));
    for _ in 0..200 {
        s.push_str("fill b[0..1p] 'x'\nvmsplice p.w b[0..1p]\nread p.r 4096\n");
    }
    let wide = scenario("wide.scenario", &s);
    let out = kmodel().arg("run").arg(&wide).arg("--timeline").env("COLUMNS", "60").output().unwrap();
    let err = text(&out.stderr);
    assert!(err.contains("each column summarises"), "{err}");
    for l in err.lines().filter(|l| l.contains('|') && !l.starts_with("key")) {
        assert!(l.chars().count() <= 60, "fits 60 columns: {l}");
    }
}

#[test]
fn html_and_trace_json_are_written_and_agree_with_the_tracing_events() {
    let html = dir().join("story.html");
    let json = dir().join("story.jsonl");
    let out =
        kmodel().args(["run", STORY, "--trace", "--html"]).arg(&html).arg("--trace-json").arg(&json).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, run(&["run", STORY]).stdout, "the result lines do not change");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=\"kmodel-data\"") && page.contains("story_double_buffer"));
    // The JSON: every line parses; one page record per tracing page event.
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let pages = records.iter().filter(|r| r["type"] == "page").count();
    let syscalls = records.iter().filter(|r| r["type"] == "syscall").count();
    let err = text(&out.stderr);
    let traced_pages = err.lines().filter(|l| l.contains("page event")).count();
    let traced_syscalls = err.lines().filter(|l| l.contains(" syscall ")).count();
    assert_eq!(pages, traced_pages, "one JSON record per page event");
    assert_eq!(syscalls, traced_syscalls, "one JSON record per syscall");
    assert_eq!(syscalls, run(&["run", STORY]).stdout.iter().filter(|&&b| b == b'\n').count());
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["seq"], i, "records in order");
    }
    let kinds: std::collections::BTreeSet<&str> =
        records.iter().filter(|r| r["type"] == "page").map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), ["alloc", "free", "get", "put", "write"]);
    let teardown = records.iter().filter(|r| r["phase"] == "teardown").count();
    assert!(teardown > 0, "teardown's puts and frees are traced");
}

#[test]
fn unwritable_output_exits_2_naming_it_before_running() {
    for flag in ["--html", "--trace-json"] {
        let out = run(&["run", STORY, flag, "/nonexistent-dir/out.file"]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let err = text(&out.stderr);
        assert!(err.contains("/nonexistent-dir/out.file: cannot write"), "{flag}: {err}");
        assert!(!err.contains("panicked"));
        assert!(out.stdout.is_empty(), "nothing ran");
    }
    let out = run(&["run", STORY, "--html", dir().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "a directory is not a file");
    let same = dir().join("same.out");
    let same = same.to_str().unwrap();
    let out = run(&["run", STORY, "--html", same, "--trace-json", same]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("name the same file"));
}

#[test]
fn model_views_refuse_the_linux_backend_and_bad_rust_log() {
    let out = run(&["run", STORY, "--on", "linux", "--timeline"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--on model"));
    let out = kmodel().args(["run", STORY, "--trace"]).env("RUST_LOG", "page_refs=loud").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("RUST_LOG"), "{}", text(&out.stderr));
}

#[test]
fn bad_scenario_with_views_exits_2_and_writes_nothing() {
    let bad = scenario("bad.scenario", "pipe p\nwrite p.w 10 AB\n");
    let html = dir().join("bad.html");
    let out = kmodel().arg("run").arg(&bad).arg("--html").arg(&html).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("bad.scenario:2:14"));
    assert!(!html.exists(), "no page for a file that does not parse");
}

#[test]
fn blocked_run_with_timeline_exits_3_and_draws_the_block() {
    let path =
        scenario("block.scenario", "buffer b 1\npipe p\nfill b 'a'\nvmsplice p.w b\nread p.r 4096\nread p.r 1\n");
    let out = run(&["run", path.to_str().unwrap(), "--timeline"]);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(err.contains("line 6: 'read p.r 1' blocked forever"), "{err}");
    assert!(err.contains("would block forever"));
}

#[test]
fn copy_variant_timeline_shows_the_pipes_own_pages_and_no_hazard() {
    let out = run(&["run", STORY, "--timeline", "--kernel", "copy"]);
    let err = text(&out.stderr);
    assert!(!err.contains("HAZARD at"), "vmsplice copies: the refill is safe:\n{err}");
    assert!(err.lines().any(|l| l.starts_with("pipe p pages")), "the copies are the pipe's pages:\n{err}");
    let lane = err.lines().find(|l| l.starts_with("two pages 0-15")).unwrap();
    assert!(!lane.contains('P') && !lane.contains('!'), "the program's pages never enter the pipe: {lane}");
}

/// Recording changes nothing: on every scenario of the corpus the recorded
/// run's report is the plain run's, and the trace has one record per page
/// event of the log and one per step.
#[test]
fn recorded_run_equals_the_plain_run_on_every_corpus_scenario() {
    use kmodel::kernel::KernelConfig;
    use kmodel::model::ModelBackend;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("scenario") {
            continue;
        }
        let Ok(scenario) = kmodel::cli::load(&path) else { continue };
        let source = std::fs::read_to_string(&path).unwrap();
        let mut model = ModelBackend::new(KernelConfig::default());
        let Ok(plain) = kmodel::scenario::run(&scenario, &mut model, |_| {}) else { continue };
        let view = kmodel::render::record(&scenario, &source, KernelConfig::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(view.report, plain, "{}", path.display());
        // `run` tore the plain model down: its log is complete.
        assert_eq!(view.page_events(), model.kernel().pages().events().len(), "{}", path.display());
        let chart = kmodel::render::chart(&view, kmodel::render::Style { color: false, width: 100 });
        assert!(chart.is_ascii(), "{}: plain ASCII", path.display());
        assert!(kmodel::render::html(&view).contains("kmodel-data"));
        let syscalls = view.events.len() - view.page_events();
        assert_eq!(syscalls, view.steps.len(), "{}", path.display());
        checked += 1;
    }
    assert!(checked > 50, "the corpus was found: {checked}");
}
