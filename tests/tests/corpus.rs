//! The scenario corpus: every `scenarios/NAME.scenario` with its
//! `NAME.expected` (the exact output of `kmodel run` on the model, whose
//! non-model-only lines are what the real kernel printed) and, when the exit
//! status is not 0, `NAME.status`.
//!
//! * `model_matches_expected`: the model prints exactly `.expected` and
//!   exits with `.status`.
//! * `linux_matches_expected`: the host kernel agrees with every line of
//!   `.expected` that is not model-only, and blocks where `.status` says 3.
//! * `every_scenario_has_expected_output`: the corpus is complete and large
//!   enough.
//!
//! Each test collects every mismatch and fails once, listing them per file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use kmodel::kernel::KernelConfig;
use kmodel::model::ModelBackend;
use kmodel::scenario::{self, Backend, Report, Scenario};

/// The fewest scenarios the corpus may hold.
const MIN_SCENARIOS: usize = 30;

/// The corpus directory: `scenarios/` at the workspace root.
fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("scenarios")
}

/// One scenario of the corpus and what it should print.
struct Case {
    /// `NAME` of `NAME.scenario`.
    name: String,
    /// The parsed scenario.
    scenario: Scenario,
    /// The `.expected` text, if the file exists.
    expected: Option<String>,
    /// The `.status` number (0 without the file).
    status: i32,
}

/// The paths of every `*.scenario` in the corpus, sorted.
fn scenario_paths() -> Vec<PathBuf> {
    let dir = corpus_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).path())
        .filter(|p| p.extension().is_some_and(|x| x == "scenario"))
        .collect();
    paths.sort();
    paths
}

/// Load every case; a scenario that does not parse, or a `.status` that is
/// not a number, is a failure of its own (collected in `problems`).
fn load_cases(problems: &mut Vec<String>) -> Vec<Case> {
    let mut cases = Vec::new();
    for path in scenario_paths() {
        let name = path.file_stem().expect("a .scenario file has a stem").to_string_lossy().into_owned();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{name}: cannot read {}: {e}", path.display()));
                continue;
            }
        };
        let scenario = match scenario::parse(&format!("{name}.scenario"), &text)
            .and_then(|mut s| scenario::load_policies(&mut s, &corpus_dir()).map(|()| s))
        {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{name}: does not parse: {e}"));
                continue;
            }
        };
        let expected = std::fs::read_to_string(path.with_extension("expected")).ok();
        let status = match std::fs::read_to_string(path.with_extension("status")) {
            Err(_) => 0,
            Ok(s) => match s.trim().parse() {
                Ok(n) => n,
                Err(_) => {
                    problems.push(format!("{name}: {name}.status is not a number: {:?}", s.trim()));
                    continue;
                }
            },
        };
        cases.push(Case { name, scenario, expected, status });
    }
    cases
}

/// Run `scenario` on `backend`; a backend failure is an error message.
fn run_on(scenario: &Scenario, backend: &mut dyn Backend) -> Result<Report, String> {
    scenario::run(scenario, backend, |_| {}).map_err(|e| format!("{} backend failed: {e}", backend.name()))
}

/// Fail with every problem, one block per file, if there are any.
fn fail_if_any(what: &str, total: usize, problems: &[String]) {
    if !problems.is_empty() {
        let mut msg = format!("{what}: {} of {total} scenario(s) failed\n", problems.len());
        for p in problems {
            msg.push('\n');
            msg.push_str(p);
            if !p.ends_with('\n') {
                msg.push('\n');
            }
        }
        panic!("{msg}");
    }
}

/// A got/want listing of the lines that differ between two outputs, by
/// position; lines only in one of them show as `(none)`.
fn line_diff(got: &str, want: &str) -> String {
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    let mut out = String::new();
    for i in 0..g.len().max(w.len()) {
        let (a, b) = (g.get(i).copied(), w.get(i).copied());
        if a != b {
            let _ = writeln!(out, "    got:  {}", a.unwrap_or("(none)"));
            let _ = writeln!(out, "    want: {}", b.unwrap_or("(none)"));
        }
    }
    out
}

#[test]
fn every_scenario_has_expected_output() {
    let mut problems = Vec::new();
    let cases = load_cases(&mut problems);
    for c in &cases {
        if c.expected.is_none() {
            problems.push(format!("{0}: {0}.scenario has no {0}.expected", c.name));
        }
        if ![0, 1, 3].contains(&c.status) {
            problems.push(format!("{0}: {0}.status is {1}; a run exits with 0, 1 or 3", c.name, c.status));
        }
    }
    let total = scenario_paths().len();
    if total < MIN_SCENARIOS {
        problems.push(format!("the corpus holds {total} scenarios; it needs at least {MIN_SCENARIOS}"));
    }
    fail_if_any("corpus completeness", total, &problems);
}

#[test]
fn model_matches_expected() {
    let mut problems = Vec::new();
    let cases = load_cases(&mut problems);
    for c in &cases {
        let Some(want) = &c.expected else {
            continue; // every_scenario_has_expected_output reports it
        };
        let report = match run_on(&c.scenario, &mut ModelBackend::new(KernelConfig::default())) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{}: {e}", c.name));
                continue;
            }
        };
        let got = report.output();
        let mut p = String::new();
        if got != *want {
            let _ = write!(p, "  output differs from {}.expected:\n{}", c.name, line_diff(&got, want));
        }
        if report.exit_status() != c.status {
            let _ = writeln!(p, "  exit status: got {}, want {}", report.exit_status(), c.status);
        }
        if !p.is_empty() {
            problems.push(format!("{}:\n{p}", c.name));
        }
    }
    fail_if_any("model vs .expected", scenario_paths().len(), &problems);
}

/// `.expected` as a map from line number to the whole printed line.
#[cfg(target_os = "linux")]
fn expected_lines(want: &str) -> BTreeMap<usize, &str> {
    want.lines().filter_map(|l| Some((l.split_once(": ")?.0.parse().ok()?, l))).collect()
}

/// Compare a Linux run with `.expected`, ignoring model-only lines.
#[cfg(target_os = "linux")]
fn check_linux_run(c: &Case, want: &str, report: &Report) -> String {
    let all = expected_lines(want);
    let model_only: Vec<usize> =
        c.scenario.steps.iter().filter(|s| c.scenario.is_model_only(s)).map(|s| s.line).collect();
    let want: BTreeMap<usize, &str> =
        all.iter().filter(|(n, _)| !model_only.contains(n)).map(|(&n, &l)| (n, l)).collect();
    let got: BTreeMap<usize, String> =
        report.lines.iter().filter(|l| !l.model_only).map(|l| (l.line, l.to_string())).collect();
    let mut p = String::new();
    let lines: BTreeSet<usize> = want.keys().chain(got.keys()).copied().collect();
    for n in lines {
        let (g, w) = (got.get(&n).map(String::as_str), want.get(&n).copied());
        if g != w {
            let _ = writeln!(p, "    got:  {}", g.unwrap_or("(no such line)"));
            let _ = writeln!(p, "    want: {}", w.unwrap_or("(no such line)"));
        }
    }
    // With status 3 the run blocks on the first step after the last line
    // `.expected` prints; status 1 (a failed `expect`) is the model's alone.
    let last = all.keys().next_back().copied();
    let want_blocked = if c.status == 3 {
        c.scenario.steps.iter().map(|s| s.line).find(|&n| last.is_none_or(|m| n > m))
    } else {
        None
    };
    if report.blocked != want_blocked {
        let show = |b: Option<usize>| b.map_or("not blocked".to_string(), |n| format!("blocked at line {n}"));
        let _ = writeln!(p, "    got:  {}", show(report.blocked));
        let _ = writeln!(p, "    want: {} (status {})", show(want_blocked), c.status);
    }
    if p.is_empty() { p } else { format!("{}:\n{p}", c.name) }
}

#[cfg(target_os = "linux")]
#[test]
fn linux_matches_expected() {
    use std::time::Duration;

    use kmodel::linux::{LinuxBackend, LinuxOptions};

    let mut problems = Vec::new();
    let cases = load_cases(&mut problems);
    for c in &cases {
        let Some(want) = &c.expected else {
            continue;
        };
        // Threads run on the model only (`kmodel explore`): the Linux
        // runner refuses them.
        if !c.scenario.threads.is_empty() {
            continue;
        }
        let options = LinuxOptions { block_timeout: Duration::from_millis(500), ..Default::default() };
        let report = LinuxBackend::new(options)
            .map_err(|e| format!("linux backend: {e}"))
            .and_then(|mut b| run_on(&c.scenario, &mut b));
        match report {
            Ok(r) => {
                let p = check_linux_run(c, want, &r);
                if !p.is_empty() {
                    problems.push(p);
                }
            }
            Err(e) => problems.push(format!("{}: {e}", c.name)),
        }
    }
    fail_if_any("linux vs .expected", scenario_paths().len(), &problems);
}
