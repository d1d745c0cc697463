//! Telling a user what the explorer found: the violation, the schedule,
//! and the schedule replayed as a single-threaded scenario.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{Executed, Violation};
use crate::scenario::{Op, Outcome, Scenario};

fn thread_name(scenario: &Scenario, t: Option<usize>) -> &str {
    t.map_or("main", |t| scenario.threads[t].name.as_str())
}

/// The thread a step belongs to (`None`: outside threads).
fn thread_of(scenario: &Scenario, step: usize) -> Option<usize> {
    scenario.threads.iter().position(|t| t.steps.contains(&step))
}

fn where_(scenario: &Scenario, step: usize) -> String {
    let s = &scenario.steps[step];
    format!("line {} (thread {}): '{}'", s.line, thread_name(scenario, thread_of(scenario, step)), s.text)
}

/// One paragraph saying what went wrong.
pub fn describe(scenario: &Scenario, violation: &Violation) -> String {
    match violation {
        Violation::Hazard { step, detail } => format!(
            "HAZARD at {}: the program stores into pages a kernel object still holds ({detail}); \
             whoever consumes them afterwards sees the new bytes",
            where_(scenario, *step)
        ),
        Violation::ExpectFailed { step, detail } => {
            format!("EXPECT FAILED at {}: {detail}", where_(scenario, *step))
        }
        Violation::Invariant(e) => format!("MODEL INVARIANT BROKEN: {e}"),
        Violation::Deadlock { waiting } => {
            let w: Vec<String> = waiting.iter().map(|&s| where_(scenario, s)).collect();
            format!("DEADLOCK: every thread left is blocked: {}", w.join("; "))
        }
    }
}

/// The threads in the order the trace ran them, then (for a deadlock) the
/// threads that blocked: a `--schedule` that reproduces it.
pub fn schedule_names(scenario: &Scenario, violation: &Violation, trace: &[Executed]) -> Vec<String> {
    let mut names: Vec<String> =
        trace.iter().filter_map(|e| e.thread).map(|t| scenario.threads[t].name.clone()).collect();
    if let Violation::Deadlock { waiting } = violation {
        names.extend(waiting.iter().filter_map(|&s| thread_of(scenario, s)).map(|t| scenario.threads[t].name.clone()));
    }
    names
}

/// The trace as a single-threaded scenario that `kmodel run` replays step
/// for step: the steps in the order they ran, each with its thread in a
/// comment. A write that filled its pipe and blocked appears as two
/// writes: what went in before it slept, and the rest after.
pub fn replay_text(scenario: &Scenario, violation: &Violation, trace: &[Executed]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Replay of {}: one schedule of its threads, as a single-threaded scenario.", scenario.path);
    let _ = writeln!(out, "# Run it with: kmodel run FILE --timeline");
    let mut written: HashMap<usize, u64> = HashMap::new();
    for e in trace {
        let step = &scenario.steps[e.step];
        let mut text = step.text.clone();
        if let (Op::Write { .. }, Outcome::Count(n)) = (&step.op, &e.outcome) {
            let before = written.get(&e.step).copied().unwrap_or(0);
            let part = if e.partial { *n } else { n.saturating_sub(before) };
            if e.partial || before > 0 {
                let mut toks: Vec<&str> = text.split(' ').collect();
                let len = part.to_string();
                if toks.len() > 2 {
                    toks[2] = &len;
                }
                text = toks.join(" ");
            }
            if e.partial {
                *written.entry(e.step).or_default() += n;
            }
        }
        let who = match e.thread {
            Some(t) => format!("thread {}, line {}", scenario.threads[t].name, step.line),
            None => format!("line {}", step.line),
        };
        let suffix = if e.partial { ", then it blocked" } else { "" };
        let _ = writeln!(out, "{text:<40} # {who}{suffix}");
    }
    if let Violation::Deadlock { waiting } = violation {
        for &w in waiting {
            let step = &scenario.steps[w];
            let t = thread_name(scenario, thread_of(scenario, w));
            let _ = writeln!(out, "{:<40} # thread {t}, line {}: blocks forever", step.text, step.line);
        }
    }
    out
}
