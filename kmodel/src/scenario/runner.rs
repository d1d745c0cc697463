//! The runner: one scenario, one backend, one result line per step.

use std::fmt;

use super::ast::{Scenario, Step};
use super::outcome::Outcome;

/// What a backend did with one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepResult {
    /// The operation finished with this result.
    Done(Outcome),
    /// The operation would block with nothing left to wake it: the run
    /// stops here (exit status 3).
    Blocked,
}

/// A failure of the backend itself (not of the operation): the host
/// refused a resource the runner needs, or the model found one of its own
/// invariants broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendError(pub String);

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BackendError {}

/// Something that can execute scenario steps: the model or the host kernel.
pub trait Backend {
    /// `model` or `linux`.
    fn name(&self) -> &'static str;

    /// Execute one step (declarations included) and report its result.
    ///
    /// # Errors
    /// A failure of the backend itself; the run stops.
    fn step(&mut self, scenario: &Scenario, step: &Step) -> Result<StepResult, BackendError>;

    /// Tear everything down after the last step (or after a block), and
    /// check what the backend can check at that point.
    ///
    /// # Errors
    /// A failure of the backend itself, e.g. pages leaked at teardown.
    fn finish(&mut self) -> Result<(), BackendError>;
}

/// One printed line of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultLine {
    /// 1-based line number.
    pub line: usize,
    /// The operation's folded text.
    pub text: String,
    /// Its result.
    pub outcome: Outcome,
    /// Whether the operation is model-only (ignored by `diff`).
    pub model_only: bool,
}

impl fmt::Display for ResultLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} => {}", self.line, self.text, self.outcome)
    }
}

/// Everything a run produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// One line per step that finished, in order.
    pub lines: Vec<ResultLine>,
    /// The line of the operation that blocked forever, if one did.
    pub blocked: Option<usize>,
}

impl Report {
    /// Whether any `expect` failed.
    pub fn expect_failed(&self) -> bool {
        self.lines.iter().any(|l| matches!(l.outcome, Outcome::Failed(_)))
    }

    /// The contract's exit status: 3 if the run blocked, 1 if an `expect`
    /// failed, else 0.
    pub fn exit_status(&self) -> i32 {
        if self.blocked.is_some() {
            3
        } else if self.expect_failed() {
            1
        } else {
            0
        }
    }

    /// The printed output: one line per step, each ending in a newline.
    pub fn output(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(&l.to_string());
            s.push('\n');
        }
        s
    }
}

/// Run every step of `scenario` on `backend`, stopping at a step that
/// blocks forever, then tear the backend down.
///
/// `on_line` sees each result line as soon as it is known (to print it
/// while a slow backend goes on).
///
/// # Errors
/// A backend failure; the lines produced so far are lost to the caller
/// only if it did not print them through `on_line`.
pub fn run(
    scenario: &Scenario,
    backend: &mut dyn Backend,
    mut on_line: impl FnMut(&ResultLine),
) -> Result<Report, BackendError> {
    let mut report = Report::default();
    for step in &scenario.steps {
        match backend.step(scenario, step)? {
            StepResult::Done(outcome) => {
                let line = ResultLine {
                    line: step.line,
                    text: step.text.clone(),
                    outcome,
                    model_only: scenario.is_model_only(step),
                };
                on_line(&line);
                report.lines.push(line);
            }
            StepResult::Blocked => {
                report.blocked = Some(step.line);
                break;
            }
        }
    }
    backend.finish()?;
    Ok(report)
}
