//! The page timeline: after each operation, who holds each run of pages,
//! and the writes that hit pages still in flight.

use std::fmt;

use crate::kernel::KernelConfig;
use crate::model::{Lane, ModelBackend};
use crate::scenario::{Backend, BackendError, Outcome, Report, ResultLine, Scenario, StepResult};

/// One operation of a timeline.
#[derive(Clone, Debug)]
pub struct TimelineStep {
    /// The result line as the contract prints it (`None` if it blocked).
    pub line: Option<ResultLine>,
    /// The step's line number and text.
    pub at: (usize, String),
    /// Lanes whose state changed at this step.
    pub changed: Vec<Lane>,
    /// The hazard the step caused: a store into pages a kernel object holds.
    pub hazard: Option<String>,
}

/// A run of the model with the page state after every step.
#[derive(Clone, Debug)]
pub struct Timeline {
    /// The steps, in order.
    pub steps: Vec<TimelineStep>,
    /// The contract's report of the same run.
    pub report: Report,
}

/// Run `scenario` on the model and record its timeline.
///
/// # Errors
/// A broken model invariant.
pub fn timeline(scenario: &Scenario, config: KernelConfig) -> Result<Timeline, BackendError> {
    let mut model = ModelBackend::new(config);
    let mut steps = Vec::new();
    let mut report = Report::default();
    let mut before: Vec<Lane> = Vec::new();
    for step in &scenario.steps {
        let hazard = model.hazard(scenario, &step.op);
        let result = model.step(scenario, step)?;
        let after = model.lanes(scenario);
        let changed = after.iter().filter(|l| !before.contains(l)).cloned().collect();
        before = after;
        let line = match result {
            StepResult::Done(outcome) => {
                Some(ResultLine { line: step.line, text: step.text.clone(), outcome, model_only: step.model_only() })
            }
            StepResult::Blocked => None,
        };
        if let Some(l) = &line {
            report.lines.push(l.clone());
        } else {
            report.blocked = Some(step.line);
        }
        steps.push(TimelineStep { line, at: (step.line, step.text.clone()), changed, hazard });
        if report.blocked.is_some() {
            break;
        }
    }
    model.finish()?;
    Ok(Timeline { steps, report })
}

fn pages_label(l: &Lane) -> String {
    if l.first == l.last {
        format!("{} page {}", l.buffer, l.first)
    } else {
        format!("{} pages {}-{}", l.buffer, l.first, l.last)
    }
}

impl fmt::Display for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            match &s.line {
                Some(l) => writeln!(f, "{l}")?,
                None => writeln!(f, "{}: {} => BLOCKED forever (nothing can wake it)", s.at.0, s.at.1)?,
            }
            if let Some(h) = &s.hazard {
                writeln!(f, "    !! HAZARD: the program wrote to pages still in flight: {h}")?;
            }
            for l in &s.changed {
                let mark = if l.busy { "busy" } else { "free" };
                writeln!(f, "    [{mark}] {:<22} {}", pages_label(l), l.state)?;
            }
            if let Some(ResultLine { outcome: Outcome::Failed(_), .. }) = &s.line {
                writeln!(f, "    !! expectation failed")?;
            }
        }
        Ok(())
    }
}
