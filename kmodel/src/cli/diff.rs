//! `kmodel diff`: the model against the host kernel, line by line.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::linux::{LinuxBackend, LinuxOptions};
use crate::model::ModelBackend;
use crate::scenario::{self, Report, ResultLine};

use super::{EXIT_BACKEND, EXIT_BAD_INPUT, host_config, load};

/// One difference between the two runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// Line number.
    pub line: usize,
    /// The operation.
    pub text: String,
    /// The model's result (or how its run ended).
    pub model: String,
    /// The kernel's result (or how its run ended).
    pub linux: String,
}

fn index(report: &Report) -> Vec<(usize, &ResultLine)> {
    report.lines.iter().filter(|l| !l.model_only).map(|l| (l.line, l)).collect()
}

/// Compare two runs of one scenario: every line that both printed and is
/// not model-only must agree, both runs must have the same lines, and both
/// must block (or not) at the same line.
pub fn compare(model: &Report, linux: &Report) -> Vec<Difference> {
    let (m, l) = (index(model), index(linux));
    let mut out = Vec::new();
    let mut lines: Vec<usize> = m.iter().chain(l.iter()).map(|(n, _)| *n).collect();
    lines.sort_unstable();
    lines.dedup();
    let show = |r: Option<&&ResultLine>, rep: &Report, n: usize| match r {
        Some(x) => x.outcome.to_string(),
        None if rep.blocked == Some(n) => "BLOCKED".into(),
        None => "(not reached)".into(),
    };
    for n in lines {
        let a = m.iter().find(|(x, _)| *x == n).map(|(_, r)| r);
        let b = l.iter().find(|(x, _)| *x == n).map(|(_, r)| r);
        let same = matches!((a, b), (Some(x), Some(y)) if x.outcome == y.outcome);
        if !same {
            let text = a.or(b).map(|r| r.text.clone()).unwrap_or_default();
            out.push(Difference { line: n, text, model: show(a, model, n), linux: show(b, linux, n) });
        }
    }
    if model.blocked != linux.blocked {
        for n in [model.blocked, linux.blocked].into_iter().flatten() {
            if !out.iter().any(|d| d.line == n) {
                let text = String::new();
                let describe =
                    |r: &Report| if r.blocked == Some(n) { "BLOCKED".into() } else { "(not blocked)".into() };
                out.push(Difference { line: n, text, model: describe(model), linux: describe(linux) });
            }
        }
    }
    out
}

pub(super) fn cmd_diff(files: &[PathBuf], options: &LinuxOptions) -> ExitCode {
    let mut scenarios = Vec::new();
    for f in files {
        match load(f) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("kmodel: {e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        }
    }
    let mut differing = 0usize;
    let mut compared = 0usize;
    for s in &scenarios {
        if !s.threads.is_empty() {
            eprintln!("kmodel diff: {}: skipped: threads run on the model only (kmodel explore)", s.path);
            continue;
        }
        let model = scenario::run(s, &mut ModelBackend::new(host_config()).with_checkpoint_dir("."), |_| {});
        let linux = LinuxBackend::new(options.clone()).and_then(|mut b| scenario::run(s, &mut b, |_| {}));
        let (model, linux) = match (model, linux) {
            (Ok(m), Ok(l)) => (m, l),
            (Err(e), _) => {
                eprintln!("kmodel: {}: model backend failed: {e}", s.path);
                return ExitCode::from(EXIT_BACKEND);
            }
            (_, Err(e)) => {
                eprintln!("kmodel: {}: linux backend failed: {e}", s.path);
                return ExitCode::from(EXIT_BACKEND);
            }
        };
        compared += model.lines.iter().filter(|l| !l.model_only).count();
        for d in compare(&model, &linux) {
            differing += 1;
            outln!("{}:{}: {}", s.path, d.line, d.text);
            outln!("    model: {}", d.model);
            outln!("    linux: {}", d.linux);
        }
    }
    let skipped = scenarios.iter().filter(|s| !s.threads.is_empty()).count();
    let note = if skipped > 0 { format!(", {skipped} threaded scenario(s) skipped") } else { String::new() };
    eprintln!(
        "kmodel diff: {} scenario(s), {compared} line(s) compared, {differing} difference(s){note}",
        scenarios.len() - skipped
    );
    if differing > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
