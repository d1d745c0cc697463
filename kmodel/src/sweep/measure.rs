//! One measured run: the report, the hazards, the bytes copied, and each
//! buffer's time until reusable.

use std::collections::{HashMap, HashSet};

use page_refs::{Event, EventKind, HolderKind, PageId};

use crate::kernel::KernelConfig;
use crate::model::ModelBackend;
use crate::scenario::{self, Backend, BackendError, Report, Scenario, Step, StepResult};

/// What one run of a scenario on the model measured.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// The contract's report (result lines, blocked, failed expects).
    pub report: Report,
    /// Steps that stored into pages a kernel object still held (the
    /// hazard of the 2006 debate: `fill`, or `vmsplice` to user memory).
    pub hazards: usize,
    /// The line of each hazard, in order.
    pub hazard_lines: Vec<usize>,
    /// Bytes the kernel copied ([`crate::kernel::Kernel::copied_bytes`]).
    pub copied_bytes: u64,
    /// Each mapped buffer by name with its time until reusable in
    /// simulated nanoseconds (`None`: no kernel object ever held its pages).
    pub reusable_ns: Vec<(String, Option<u64>)>,
}

/// The model backend, counting hazards before each step.
struct Counting<'a> {
    model: &'a mut ModelBackend,
    hazard_lines: Vec<usize>,
}

impl Backend for Counting<'_> {
    fn name(&self) -> &'static str {
        "model"
    }

    fn step(&mut self, scenario: &Scenario, step: &Step) -> Result<StepResult, BackendError> {
        let hazard = self.model.hazard(scenario, &step.op).is_some();
        let r = self.model.step(scenario, step)?;
        if hazard && matches!(r, StepResult::Done(_)) {
            self.hazard_lines.push(step.line);
        }
        Ok(r)
    }

    fn supports_threads(&self) -> bool {
        true
    }

    fn finish(&mut self) -> Result<(), BackendError> {
        self.model.finish()
    }
}

/// Run `scenario` on the model with `config` (its page event log on) and
/// measure it. The run includes the end of the scenario: descriptors
/// closed, the network left to settle, every page released.
///
/// # Errors
/// A broken model invariant or a leak at teardown.
pub fn measure(scenario: &Scenario, config: KernelConfig) -> Result<Measurement, BackendError> {
    let config = KernelConfig { event_log: true, ..config };
    let mut model = ModelBackend::new(config).without_step_checks();
    let mut counting = Counting { model: &mut model, hazard_lines: Vec::new() };
    let report = scenario::run(scenario, &mut counting, |_| {})?;
    let hazard_lines = counting.hazard_lines;
    let events = model.kernel().pages().events();
    let reusable_ns =
        model.buffer_ids(scenario).into_iter().map(|(name, id)| (name, time_until_reusable(events, id))).collect();
    Ok(Measurement {
        report,
        hazards: hazard_lines.len(),
        hazard_lines,
        copied_bytes: model.kernel().copied_bytes(),
        reusable_ns,
    })
}

/// The time until reusable of user mapping `buffer`, from the page event
/// log: the simulated time from the first moment a kernel object (pipe
/// slot, page cache, socket queue) took a reference to one of the
/// buffer's own pages (those its page table mapped: the zero page, which
/// a write copies, does not count) to the moment the last such kernel
/// reference was dropped, after which no kernel object holds any of them.
/// `None` when no kernel object ever did.
pub fn time_until_reusable(events: &[Event], buffer: u32) -> Option<u64> {
    let mut owned: HashSet<PageId> = HashSet::new();
    let mut kernel_refs: HashMap<PageId, u32> = HashMap::new();
    let mut first: Option<u64> = None;
    let mut last: Option<u64> = None;
    for e in events {
        let t = e.stamp.time_ns;
        let kernel_holder = !matches!(e.holder.kind, HolderKind::User | HolderKind::Kernel);
        match e.kind {
            EventKind::Alloc | EventKind::Get => {
                if e.holder.kind == HolderKind::User && e.holder.object == buffer {
                    owned.insert(e.page);
                } else if kernel_holder {
                    *kernel_refs.entry(e.page).or_default() += 1;
                    if owned.contains(&e.page) && first.is_none() {
                        first = Some(t);
                    }
                }
            }
            EventKind::Put if kernel_holder => {
                let n = kernel_refs.entry(e.page).or_default();
                *n = n.saturating_sub(1);
                if *n == 0 && owned.contains(&e.page) {
                    last = Some(t);
                }
            }
            EventKind::Free => {
                owned.remove(&e.page);
                kernel_refs.remove(&e.page);
            }
            EventKind::Put | EventKind::Write { .. } => {}
        }
    }
    first.map(|f| last.unwrap_or(f).saturating_sub(f))
}
