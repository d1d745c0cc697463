//! The runner: one scenario, one backend, one result line per step.

use std::fmt;

use super::ast::{Op, Scenario, Step};
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

    /// Whether the backend can run scenarios with threads. A step that
    /// answers [`StepResult::Blocked`] must then have no effect other than
    /// progress it remembers and resumes when the step is retried.
    fn supports_threads(&self) -> bool {
        false
    }

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

/// One step, announced to `tracing` (target `kmodel::syscall`, level
/// DEBUG: `kmodel run --trace`, or `RUST_LOG=kmodel::syscall=debug`) with
/// its line, text and result; the page events it causes (target
/// `page_refs`, TRACE) follow inside its span.
fn traced_step(backend: &mut dyn Backend, scenario: &Scenario, step: &Step) -> Result<StepResult, BackendError> {
    let span = tracing::debug_span!(target: "kmodel::syscall", "step", line = step.line);
    let _enter = span.enter();
    let result = backend.step(scenario, step)?;
    if tracing::enabled!(target: "kmodel::syscall", tracing::Level::DEBUG) {
        let verb = step.text.split_whitespace().next().unwrap_or("");
        let result = match &result {
            StepResult::Done(o) => o.to_string(),
            StepResult::Blocked => "BLOCKED".to_string(),
        };
        tracing::debug!(target: "kmodel::syscall", backend = backend.name(), line = step.line, op = verb,
            text = %step.text, result = %result, "syscall");
    }
    Ok(result)
}

/// Run every step of `scenario` on `backend`, stopping at a step that
/// blocks forever, then tear the backend down.
///
/// Steps outside every thread run first, in file order. Threads then run
/// on one deterministic schedule: the first thread (in file order) that can
/// go runs its next step; a thread whose step blocks waits until another
/// step has run. When every thread left is blocked, a `wait reusable`
/// answers `-EDEADLK` (nothing can release its pages any more); otherwise
/// the run is blocked at the first blocked thread's step.
///
/// `on_line` sees each result line as soon as it is known (to print it
/// while a slow backend goes on).
///
/// # Errors
/// A backend failure (or threads on a backend without them); the lines
/// produced so far are lost to the caller only if it did not print them
/// through `on_line`.
pub fn run(
    scenario: &Scenario,
    backend: &mut dyn Backend,
    mut on_line: impl FnMut(&ResultLine),
) -> Result<Report, BackendError> {
    if !scenario.threads.is_empty() && !backend.supports_threads() {
        return Err(BackendError(format!(
            "{}: threads run on the model only (kmodel run, kmodel explore); the {} backend runs one thread",
            scenario.path,
            backend.name()
        )));
    }
    let mut report = Report::default();
    let mut emit = |report: &mut Report, step: &Step, outcome: Outcome| {
        let line =
            ResultLine { line: step.line, text: step.text.clone(), outcome, model_only: scenario.is_model_only(step) };
        on_line(&line);
        report.lines.push(line);
    };
    for i in scenario.main_steps() {
        let step = &scenario.steps[i];
        match traced_step(backend, scenario, step)? {
            StepResult::Done(outcome) => emit(&mut report, step, outcome),
            StepResult::Blocked if matches!(step.op, Op::WaitReusable { .. }) => {
                emit(&mut report, step, Outcome::Err(crate::kernel::Errno::EDEADLK));
            }
            StepResult::Blocked => {
                report.blocked = Some(step.line);
                backend.finish()?;
                return Ok(report);
            }
        }
    }
    // pc[t]: the next step of thread t; blocked_at[t]: the count of steps
    // run when t last blocked (it may go again once another step has run).
    let threads = &scenario.threads;
    let mut pc = vec![0usize; threads.len()];
    let mut blocked_at: Vec<Option<usize>> = vec![None; threads.len()];
    let mut ran = 0usize;
    loop {
        let live = |t: usize| pc[t] < threads[t].steps.len();
        let Some(t) = (0..threads.len()).find(|&t| live(t) && blocked_at[t].is_none_or(|b| b < ran)) else {
            let stuck: Vec<usize> = (0..threads.len()).filter(|&t| live(t)).collect();
            let Some(&first) = stuck.first() else { break };
            let waiting = stuck
                .iter()
                .copied()
                .find(|&t| matches!(scenario.steps[threads[t].steps[pc[t]]].op, Op::WaitReusable { .. }));
            match waiting {
                Some(t) => {
                    let step = &scenario.steps[threads[t].steps[pc[t]]];
                    emit(&mut report, step, Outcome::Err(crate::kernel::Errno::EDEADLK));
                    pc[t] += 1;
                    blocked_at[t] = None;
                    ran += 1;
                    continue;
                }
                None => {
                    report.blocked = Some(scenario.steps[threads[first].steps[pc[first]]].line);
                    break;
                }
            }
        };
        let step = &scenario.steps[threads[t].steps[pc[t]]];
        match traced_step(backend, scenario, step)? {
            StepResult::Done(outcome) => {
                emit(&mut report, step, outcome);
                pc[t] += 1;
                blocked_at[t] = None;
                ran += 1;
            }
            StepResult::Blocked => blocked_at[t] = Some(ran),
        }
    }
    backend.finish()?;
    Ok(report)
}
