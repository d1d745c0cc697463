//! Sweeps, the story catalogue and the kernel variants, as a user meets
//! them and through the library.

use std::path::{Path, PathBuf};
use std::process::Command;

use kmodel::kernel::{KernelConfig, KernelVariant};
use kmodel::scenario::{Outcome, Report};
use kmodel::stories::{self, TOPICS};
use kmodel::sweep::{self, ParamRange, SweepConfig, measure};

mod common;

fn kmodel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kmodel"))
}

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn load(name: &str) -> kmodel::scenario::Scenario {
    kmodel::cli::load(&scenarios().join(name)).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kmodel-stories-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn result(report: &Report, line: usize) -> &Outcome {
    &report.lines.iter().find(|l| l.line == line).unwrap_or_else(|| panic!("no line {line}")).outcome
}

// ---- sweep ------------------------------------------------------------------

#[test]
fn tcp_story_sweep_rtt_median_reusable_grows() {
    let sc = load("story_tcp_held_until_ack.scenario");
    let config = SweepConfig {
        params: vec![ParamRange::parse("rtt=10ms..200ms", 4).unwrap()],
        seeds: 2,
        buffer: "buf".into(),
        kernel: KernelConfig::default(),
        threads: 2,
    };
    let points = sweep::sweep(&sc, &config, &|_| {}).unwrap();
    let medians: Vec<f64> = points.iter().map(|p| p.quantile(0.5).unwrap()).collect();
    assert_eq!(medians.len(), 4);
    for w in medians.windows(2) {
        assert!(w[0] < w[1], "the median time until reusable grows with the RTT: {medians:?}");
    }
    // A page held until the ACK: at least one round trip, and not much more.
    for (p, m) in points.iter().zip(&medians) {
        let rtt_ms = p.values[0] as f64 / 1e6;
        assert!(*m >= rtt_ms && *m < rtt_ms + 5.0, "rtt {rtt_ms} ms: median {m} ms");
    }
}

#[test]
fn sweep_parallel_same_as_one_thread() {
    let sc = load("story_tcp_wait_reusable.scenario");
    let mut config = SweepConfig {
        params: vec![ParamRange::parse("loss=0..4%", 3).unwrap()],
        seeds: 4,
        buffer: "buf".into(),
        kernel: KernelConfig::default(),
        threads: 1,
    };
    let one = sweep::sweep(&sc, &config, &|_| {}).unwrap();
    config.threads = 3;
    assert_eq!(one, sweep::sweep(&sc, &config, &|_| {}).unwrap());
}

#[test]
fn sweep_cli_csv_and_svg_shape() {
    let (csv, svg) = (tmp("grid.csv"), tmp("grid.svg"));
    let out = kmodel()
        .arg("sweep")
        .arg(scenarios().join("story_tcp_wait_reusable.scenario"))
        .args(["--param", "rtt=10ms..100ms", "--param", "loss=0..2%", "--steps", "3", "--seeds", "3", "--quiet"])
        .arg("--csv")
        .arg(&csv)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 1 + 9, "a header and 3 x 3 points:\n{text}");
    assert_eq!(rows[0][..3], ["rtt_ms", "loss_pct", "runs"]);
    assert!(rows.iter().all(|r| r.len() == rows[0].len()), "every row has every column:\n{text}");
    let median = rows[0].iter().position(|c| *c == "reusable_median_ms").unwrap();
    assert!(rows[1..].iter().all(|r| r[median].parse::<f64>().is_ok_and(|m| m > 0.0)), "{text}");
    assert_eq!(rows[1][..3], ["10", "0", "3"]);
    assert_eq!(rows[9][..2], ["100", "2"]);
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg") && plot.contains("time until reusable") && plot.contains("<polygon"), "{plot}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("median ms"));
}

fn sweep_fails(args: &[&str], file: &Path, want: &str) {
    let out = kmodel().arg("sweep").arg(file).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(want), "{args:?}: expected '{want}' in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn sweep_bad_input_clear_errors() {
    let story = scenarios().join("story_tcp_held_until_ack.scenario");
    sweep_fails(&["--param", "jitter=1ms..2ms"], &story, "unknown parameter 'jitter': expected one of rtt, loss");
    sweep_fails(&["--param", "rtt=5ms..5ms"], &story, "empty range");
    sweep_fails(&["--param", "rtt=.."], &story, "empty range");
    sweep_fails(&["--param", "rtt=200ms..1ms"], &story, "reversed range");
    sweep_fails(&["--param", "loss=0..200%"], &story, "cannot be above 100%");
    sweep_fails(&["--param", "rtt=1ms..2ms", "--param", "rtt=3ms"], &story, "given twice");
    sweep_fails(&["--param", "rtt=1ms..2ms", "--buffer", "nope"], &story, "no buffer named 'nope' (buffers: buf)");
    sweep_fails(&["--param", "rtt=1ms..2ms", "--csv", "/nonexistent/dir/out.csv"], &story, "cannot write the CSV to");
    sweep_fails(&["--param", "rtt=1ms..2ms", "--svg", "/nonexistent/dir/out.svg"], &story, "cannot write the plot to");
    sweep_fails(
        &["--param", "rtt=1ms..200ms", "--param", "loss=0..5%", "--param", "mss=100..1000", "--steps", "1000"],
        &story,
        "more than 1000000 runs",
    );
    sweep_fails(&["--param", "seed=1..5"], &story, "the seed varies with --seeds");
    let loopback = scenarios().join("story_double_buffer.scenario");
    sweep_fails(&["--param", "rtt=1ms..2ms"], &loopback, "no simulated link to sweep");
    sweep_fails(&["--param", "rtt=1ms..2ms"], Path::new("/nonexistent.scenario"), "cannot read");
}

// ---- the catalogue ------------------------------------------------------------

#[test]
fn catalogue_every_topic_has_a_story() {
    let cat = stories::catalogue(&scenarios()).unwrap();
    for t in TOPICS {
        let found = t.matches(&cat);
        // Checkpoint and migration stories are written elsewhere; until they
        // land (story_*checkpoint*, story_*migrat*) the topic is pending.
        let elsewhere = t.stories.iter().any(|p| p.contains("checkpoint") || p.contains("migrat"));
        assert!(!found.is_empty() || elsewhere, "no story for '{}'", t.claim);
        for s in found {
            assert!(!s.summary.is_empty() && s.summary.len() < 400, "{}: summary '{}'", s.name, s.summary);
        }
    }
    // Every named story of a topic exists (a typo would leave a claim bare).
    for t in TOPICS {
        for name in t.stories.iter().filter(|n| !n.contains('*')) {
            assert!(stories::find(&cat, name).is_ok(), "topic '{}' names a missing story {name}", t.claim);
        }
    }
}

#[test]
fn catalogue_every_story_has_expected_output() {
    for s in stories::catalogue(&scenarios()).unwrap() {
        assert!(s.path.with_extension("expected").is_file(), "{} has no .expected", s.path.display());
        assert!(!s.narrative.is_empty(), "{}: a story opens with its narrative", s.path.display());
    }
}

#[test]
fn stories_cli_lists_names_and_topics() {
    let out = kmodel().arg("stories").arg("--dir").arg(scenarios()).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("double_buffer ") && text.contains("explore_double_buffer_tee "), "{text}");
    assert!(text.contains("F_GETPSZ and the F_SETPSZ that said EINVAL") && text.contains(": pipe_size"), "{text}");
}

#[test]
fn story_cli_unknown_name_lists_names() {
    let out = kmodel().args(["story", "no_such_story", "--dir"]).arg(scenarios()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown story 'no_such_story': the stories are") && err.contains("double_buffer"), "{err}");
}

#[test]
fn story_cli_tells_narrative_results_chart_and_variants() {
    let out = kmodel().args(["story", "pipe_in_series", "--dir"]).arg(scenarios()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Another pipe in series keeps the page."), "{text}");
    assert!(text.contains("17: read q.r 4096 => 4096 'B'x4096"), "{text}");
    // The chart: both pages named, the hazard on page 0 in line 16's column.
    assert!(
        text.contains("story_pipe_in_series.scenario: 2 lanes of pages,") && text.contains("14 operations"),
        "{text}"
    );
    assert_eq!(common::column_lines(&text, "buf page 0"), (7..=20).collect::<Vec<_>>(), "{text}");
    assert_eq!(common::lane_cells(&text, "buf page 0"), "   WPPPPP!----", "{text}");
    assert_eq!(common::lane_cells(&text, "buf page 1"), "   W---PPPPP--", "{text}");
    assert_eq!(common::hazard_lines(&text, "buf page 0"), [16]);
    assert!(text.contains("from 12: user, pipe q"), "pipe q holds page 0 after the splice:\n{text}");
    assert!(text.contains("HAZARD at line 16: 'fill buf[0..1p] 'B'' wrote to pages still in flight:"), "{text}");
    assert!(text.contains("buf page 0 is held by pipe q"), "{text}");
    assert!(text.contains("today  1 hazard (line 16), 8192 bytes copied by the kernel"), "{text}");
    assert!(text.contains("copy   no hazard, 16384 bytes copied by the kernel"), "{text}");
    // A threaded story is explored, and its replay charted.
    let out = kmodel().args(["story", "explore_double_buffer_tee", "--dir"]).arg(scenarios()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("timeline of the replay"), "{text}");
    assert_eq!(common::hazard_lines(&text, "buf page 0"), [21], "{text}");
}

/// Every story that runs on one thread tells its run as a chart whose
/// hazard columns are exactly the lines the model calls hazards.
#[test]
fn every_story_chart_marks_each_hazard_at_its_line() {
    let cat = stories::catalogue(&scenarios()).unwrap();
    for s in cat.iter().filter(|s| !s.threaded) {
        let out = kmodel().args(["story", &s.name, "--dir"]).arg(scenarios()).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", s.name);
        let m = measure(&kmodel::cli::load(&s.path).unwrap(), KernelConfig::default()).unwrap();
        for line in &m.hazard_lines {
            assert!(text.contains(&format!("HAZARD at line {line}: ")), "{}: hazard {line}:\n{text}", s.name);
        }
        let labels: Vec<&str> = text
            .lines()
            .filter(|l| l.ends_with('|') && l.contains(" |"))
            .map(|l| l.split(" |").next().unwrap().trim_end())
            .collect();
        let mut marked: Vec<usize> = labels.iter().flat_map(|l| common::hazard_lines(&text, l)).collect();
        marked.sort_unstable();
        marked.dedup();
        let mut want = m.hazard_lines.clone();
        want.sort_unstable();
        want.dedup();
        assert_eq!(marked, want, "{}: hazard columns:\n{text}", s.name);
    }
}

// ---- kernel variants ------------------------------------------------------------

fn on(variant: KernelVariant, name: &str) -> kmodel::sweep::Measurement {
    measure(&load(name), KernelConfig { variant, ..KernelConfig::default() }).unwrap()
}

#[test]
fn double_buffer_today_hazard_log_reads_refill() {
    let m = on(KernelVariant::Today, "story_double_buffer.scenario");
    assert_eq!(m.hazard_lines, [36], "the refill of half A while the log pipe holds it");
    assert_eq!(result(&m.report, 37).to_string(), "65536 'C'x65536", "the logger sees the refill");
    assert!(!m.report.expect_failed());
    // Five reads of 16 pages; vmsplice and tee copy nothing.
    assert_eq!(m.copied_bytes, 5 * 65536);
}

#[test]
fn double_buffer_2006_same_pages_as_today() {
    let today = on(KernelVariant::Today, "story_double_buffer.scenario");
    let y2006 = on(KernelVariant::Y2006, "story_double_buffer.scenario");
    assert_eq!(y2006.hazard_lines, today.hazard_lines, "the 2006 vmsplice already took page references");
    assert_eq!(y2006.report.output(), today.report.output());
    assert_eq!(y2006.copied_bytes, today.copied_bytes);
}

#[test]
fn double_buffer_copy_no_hazard_costs_copies() {
    let m = on(KernelVariant::Copy, "story_double_buffer.scenario");
    assert!(m.hazard_lines.is_empty(), "the pipes hold copies, never the program's pages");
    assert_eq!(result(&m.report, 37).to_string(), "65536 'A'x65536", "the logger gets what was sent");
    // `expect busy two[0..16p]` no longer holds: nothing of the buffer is held.
    assert!(result(&m.report, 35).to_string().starts_with("FAILED"), "{}", result(&m.report, 35));
    // Four vmsplices of 16 pages are now copies too.
    assert_eq!(m.copied_bytes, (5 + 4) * 65536);
}

#[test]
fn pipe_size_2006_byte_fcntls_einval() {
    let today = on(KernelVariant::Today, "story_pipe_size.scenario");
    let y2006 = on(KernelVariant::Y2006, "story_pipe_size.scenario");
    assert_eq!(result(&today.report, 13).to_string(), "65536");
    assert_eq!(result(&y2006.report, 13).to_string(), "-EINVAL", "no F_GETPIPE_SZ before 2.6.35");
    assert_eq!(result(&y2006.report, 18).to_string(), "-EINVAL", "no F_SETPIPE_SZ: no resizing");
    assert_eq!(result(&y2006.report, 19).to_string(), "16", "F_GETPSZ: still 16 pages");
    assert_eq!(result(&y2006.report, 15).to_string(), "-EINVAL", "F_SETPSZ");
    // do_fcntl answered for any descriptor: a file too.
    let path = tmp("psz.scenario");
    std::fs::write(&path, "file f 1 'a'\nfcntl f getpsz\nfcntl f setpsz 4\n").unwrap();
    let sc = kmodel::cli::load(&path).unwrap();
    let y2006 = measure(&sc, KernelConfig { variant: KernelVariant::Y2006, ..Default::default() }).unwrap();
    assert_eq!(
        (result(&y2006.report, 2).to_string(), result(&y2006.report, 3).to_string()),
        ("16".into(), "-EINVAL".into())
    );
    let today = measure(&sc, KernelConfig::default()).unwrap();
    assert_eq!(result(&today.report, 2).to_string(), "-EBADF", "today's model-only F_GETPSZ is for pipes");
}

#[test]
fn run_cli_kernel_variant_flag() {
    let story = scenarios().join("story_vmsplice_into_pipe.scenario");
    let out = kmodel().arg("run").arg(&story).args(["--kernel", "copy"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("15: read p.r 4096 => 4096 'A'x4096"), "a copy is immune to the late store:\n{text}");
    let out = kmodel().arg("run").arg(&story).args(["--kernel", "1999"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected one of today, 2006, copy"));
    let out = kmodel().arg("run").arg(&story).args(["--kernel", "copy", "--on", "linux"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// ---- quiz ---------------------------------------------------------------------

use kmodel::quiz::{self, QuizTopic};

#[test]
fn quiz_same_seed_same_questions_and_answers() {
    for topic in QuizTopic::ALL {
        let (a, b) = (quiz::generate(42, topic), quiz::generate(42, topic));
        assert_eq!(a, b);
        let (x, y) = (a.answer(KernelConfig::default()).unwrap(), b.answer(KernelConfig::default()).unwrap());
        assert_eq!(quiz::question(&a, &x, false), quiz::question(&b, &y, false));
        assert_eq!(quiz::answer_text(&a, &x, true), quiz::answer_text(&b, &y, true));
    }
}

#[test]
fn quiz_many_seeds_every_marked_line_answered_by_model() {
    for topic in QuizTopic::ALL {
        for seed in 0..40 {
            let q = quiz::generate(seed, topic);
            assert!(!q.marked.is_empty(), "{topic:?} seed {seed}: nothing asked");
            // The model runs it with invariants after every step and a
            // clean teardown; no line blocks.
            let a = q.answer(KernelConfig::default()).unwrap_or_else(|e| panic!("{topic:?} seed {seed}: {e}"));
            assert_eq!(a.lines.iter().map(|l| l.line).collect::<Vec<_>>(), q.marked, "{topic:?} seed {seed}");
            assert_eq!(a.all.len(), q.text.lines().count());
            if topic != QuizTopic::Lsm {
                let busy = a.busy.as_deref().unwrap();
                assert!(busy.starts_with("buf page 0:"), "{busy}");
                for l in &a.lines {
                    assert!(!l.reasons.is_empty(), "{topic:?} seed {seed} line {}: a reason", l.line);
                }
            }
        }
    }
}

#[test]
fn quiz_pipes_and_tee_answers_agree_with_linux() {
    use kmodel::linux::{LinuxBackend, LinuxOptions};
    use kmodel::model::ModelBackend;
    let mut compared = 0;
    for topic in [QuizTopic::Pipes, QuizTopic::Tee, QuizTopic::Tcp] {
        for seed in 0..20 {
            let q = quiz::generate(seed, topic);
            let sc = q.scenario().unwrap();
            let model = kmodel::scenario::run(&sc, &mut ModelBackend::new(kmodel::cli::host_config()), |_| {}).unwrap();
            let mut linux = LinuxBackend::new(LinuxOptions::default()).unwrap();
            let real = kmodel::scenario::run(&sc, &mut linux, |_| {}).unwrap();
            assert_eq!(model.lines.len(), real.lines.len(), "{topic:?} seed {seed}");
            for (m, r) in model.lines.iter().zip(&real.lines) {
                if !m.model_only {
                    assert_eq!(m.outcome, r.outcome, "{topic:?} seed {seed} line {}: {}", m.line, m.text);
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 200, "{compared} lines compared");
}

#[test]
fn quiz_cli_prints_seed_and_answers() {
    let out = kmodel().args(["quiz", "--seed", "9", "--topic", "tee"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("seed 9") && text.contains("# (a) ?") && text.contains("--answers"), "{text}");
    let out = kmodel().args(["quiz", "--seed", "9", "--topic", "tee", "--answers"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(a) line") && text.contains("at the end: buf page 0"), "{text}");
    let out = kmodel().args(["quiz", "--seed", "9", "--reverse"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Which operations"));
    let out = kmodel().args(["quiz", "--topic", "lsm", "--reverse"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = kmodel().args(["quiz", "--topic", "ipc"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected one of pipes, tee, tcp, lsm"));
    let out = kmodel().args(["quiz"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("seed "), "a run without --seed prints the one it drew");
}

#[test]
fn measure_reusable_from_first_kernel_reference_to_last_release() {
    // Held from the splice at 0 ms until the ACK a round trip later.
    let m = on(KernelVariant::Today, "story_tcp_held_until_ack.scenario");
    let (_, t) = &m.reusable_ns[0];
    let ms = t.unwrap() as f64 / 1e6;
    assert!((50.0..51.0).contains(&ms), "{ms} ms");
    // An untouched buffer vmspliced is the zero page: the buffer itself is
    // never held. A touched one is held by the pipe (no clock runs: 0 ns).
    let path = tmp("zero.scenario");
    std::fs::write(&path, "pipe p\nbuffer z 1\nbuffer a 1\nvmsplice p.w z\nfill a 'a'\nvmsplice p.w a\n").unwrap();
    let m = measure(&kmodel::cli::load(&path).unwrap(), KernelConfig::default()).unwrap();
    assert_eq!(m.reusable_ns, [("z".to_string(), None), ("a".to_string(), Some(0))]);
    // Under the copy variant no pipe ever holds the program's page.
    let m = measure(
        &kmodel::cli::load(&path).unwrap(),
        KernelConfig { variant: KernelVariant::Copy, ..Default::default() },
    )
    .unwrap();
    assert_eq!(m.reusable_ns, [("z".to_string(), None), ("a".to_string(), None)]);
}

#[test]
fn every_scenario_runs_under_every_variant_with_invariants() {
    let mut ran = 0;
    for entry in std::fs::read_dir(scenarios()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "scenario") {
            continue;
        }
        let sc = kmodel::cli::load(&path).unwrap();
        for variant in KernelVariant::ALL {
            // Invariants after every step (including the copy variant's: no
            // user page in a pipe), a clean teardown at the end.
            let mut model = kmodel::model::ModelBackend::new(KernelConfig { variant, ..KernelConfig::default() });
            kmodel::scenario::run(&sc, &mut model, |_| {})
                .unwrap_or_else(|e| panic!("{} under {variant}: {e}", path.display()));
        }
        ran += 1;
    }
    assert!(ran > 50, "{ran} scenarios");
}
