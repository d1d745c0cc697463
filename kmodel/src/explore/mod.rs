//! `kmodel explore`: every schedule of a threaded scenario, checked.
//!
//! A threaded scenario (`thread NAME` ... `end`) leaves open in which order
//! its threads' operations happen. The explorer runs the steps outside
//! threads, then enumerates interleavings of the threads' operations, each
//! operation atomic, on the model. After every step it checks:
//!
//! - **hazards**: a store (`fill`, or vmsplice to user memory) into pages a
//!   kernel object still holds, which is the bug the 2006 thread was about;
//! - failed `expect` lines;
//! - the page invariants (`Kernel::check_invariants`) and, at the end of
//!   each schedule, that teardown leaks nothing;
//! - **deadlock**: every thread left is blocked and none is a `wait
//!   reusable` (which answers `-EDEADLK` instead).
//!
//! A blocked operation makes its thread wait; it is tried again once some
//! other step has run. A write that filled the pipe before blocking keeps
//! what it wrote and resumes with the rest, as `pipe_write` does.
//!
//! Exhaustive mode is a depth-first search bounded by preemptions (a switch
//! away from a thread that could have gone on), with branch-and-bound on
//! the length of the shortest violation found so far, so the schedule
//! reported is the shortest within the bound. Random mode runs N schedules
//! chosen by a seeded RNG.
//!
//! **State caching** (on unless `ExploreConfig::reduction` is off): many
//! interleavings reach the same state (two steps on different objects in
//! either order). Each state the search enters is keyed by the machine's
//! canonical fingerprint (`ModelBackend::fingerprint`: no event log or
//! stamps, pages named by first appearance) with each thread's next step
//! and whether it waits, and the thread that ran last (it decides what a
//! switch costs). The cache keeps, per key, the (preemptions used, depth)
//! pairs it was entered with; a state entered again with no fewer
//! preemptions used and no smaller depth is pruned: everything below it
//! was explored from the earlier visit with at least the same budget and at
//! most the same length, so the shortest violation and the verdict are
//! unchanged. Machines that cannot be fingerprinted (sockets, security
//! modules) are never cached.

mod report;

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::kernel::{Errno, KernelConfig};
use crate::model::ModelBackend;
use crate::scenario::{Backend, BackendError, Op, Outcome, Scenario, StepResult};

pub use report::{describe, replay_text, schedule_names};

/// The largest preemption bound accepted.
pub const MAX_BOUND: usize = 8;

/// How to explore.
#[derive(Clone, Debug)]
pub struct ExploreConfig {
    /// Exhaustive search under this many preemptions.
    pub bound: usize,
    /// Instead: this many random schedules from this seed.
    pub random: Option<(u64, u64)>,
    /// Stop after this many complete schedules (exhaustive mode).
    pub max_schedules: Option<u64>,
    /// The model's configuration.
    pub kernel: KernelConfig,
    /// Prune states already explored with at least the same budget (state
    /// caching, exhaustive mode only). Off: every interleaving is run.
    pub reduction: bool,
}

impl Default for ExploreConfig {
    fn default() -> Self {
        ExploreConfig { bound: 2, random: None, max_schedules: None, kernel: KernelConfig::default(), reduction: true }
    }
}

/// What went wrong in a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A store into pages a kernel object still held.
    Hazard {
        /// The step that stored (index into the scenario's steps).
        step: usize,
        /// Which pages, held by whom.
        detail: String,
    },
    /// An `expect` line failed.
    ExpectFailed {
        /// The step.
        step: usize,
        /// Why.
        detail: String,
    },
    /// A page invariant broke (a model bug, not a scenario bug).
    Invariant(String),
    /// Every thread left is blocked.
    Deadlock {
        /// The step each blocked thread waits in.
        waiting: Vec<usize>,
    },
}

/// One executed step of a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executed {
    /// The thread, `None` for a step outside threads.
    pub thread: Option<usize>,
    /// Index into the scenario's steps.
    pub step: usize,
    /// What it answered (for a write that blocked after filling the pipe:
    /// the bytes it wrote so far, with `partial` set).
    pub outcome: Outcome,
    /// The step blocked after writing `outcome` bytes and resumes later.
    pub partial: bool,
}

/// A violation and the schedule that reaches it.
#[derive(Clone, Debug)]
pub struct Finding {
    /// What went wrong.
    pub violation: Violation,
    /// The steps, in the order they ran (blocked attempts left out).
    pub trace: Vec<Executed>,
}

/// Where an exploration stands (for progress output).
#[derive(Copy, Clone, Debug, Default)]
pub struct Progress {
    /// Complete schedules.
    pub schedules: u64,
    /// Steps executed (states visited).
    pub states: u64,
    /// The deepest schedule so far, in steps.
    pub max_depth: usize,
    /// States pruned by the state cache (already explored with at least
    /// this budget).
    pub pruned: u64,
    /// Since the start.
    pub elapsed: Duration,
}

/// The result of an exploration.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The counts at the end.
    pub progress: Progress,
    /// The shortest violation found, if any.
    pub finding: Option<Finding>,
    /// Whether every schedule within the bound was explored.
    pub complete: bool,
}

/// An exploration that could not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExploreError(pub String);

impl std::fmt::Display for ExploreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExploreError {}

/// The state of one schedule in progress.
#[derive(Clone)]
struct State {
    model: ModelBackend,
    /// Next step of each thread (index into its `steps`).
    pc: Vec<usize>,
    /// `Some(ran)` when the thread blocked after `ran` steps had run.
    blocked_at: Vec<Option<usize>>,
    /// Steps (and partial progress) so far.
    ran: usize,
    preemptions: usize,
    last: Option<usize>,
    trace: Vec<Executed>,
}

/// What happened when a thread was given the CPU.
enum Moved {
    /// It ran a step, blocked or made partial progress: go on.
    Ok,
    /// A violation.
    Bad(Violation),
}

struct Explorer<'a> {
    scenario: &'a Scenario,
    config: &'a ExploreConfig,
    progress: Progress,
    best: Option<Finding>,
    start: Instant,
    last_report: Instant,
    on_progress: &'a mut dyn FnMut(&Progress),
    stopped: bool,
    /// The state cache: key -> (preemptions, depth) pairs it was entered
    /// with, none dominating another.
    seen: HashMap<u64, Vec<(usize, usize)>>,
}

impl<'a> Explorer<'a> {
    fn new(scenario: &'a Scenario, config: &'a ExploreConfig, on_progress: &'a mut dyn FnMut(&Progress)) -> Self {
        let start = Instant::now();
        Explorer {
            scenario,
            config,
            progress: Progress::default(),
            best: None,
            start,
            last_report: start,
            on_progress,
            stopped: false,
            seen: HashMap::new(),
        }
    }

    fn live(&self, s: &State, t: usize) -> bool {
        s.pc[t] < self.scenario.threads[t].steps.len()
    }

    fn enabled(&self, s: &State, t: usize) -> bool {
        self.live(s, t) && s.blocked_at[t].is_none_or(|b| b < s.ran)
    }

    fn step_of(&self, s: &State, t: usize) -> usize {
        self.scenario.threads[t].steps[s.pc[t]]
    }

    /// Give thread `t` the CPU for one step.
    fn run_thread(&mut self, s: &mut State, t: usize) -> Moved {
        let idx = self.step_of(s, t);
        let step = &self.scenario.steps[idx];
        self.progress.states += 1;
        if let Some(detail) = s.model.hazard(self.scenario, &step.op) {
            s.trace.push(Executed { thread: Some(t), step: idx, outcome: Outcome::Ok, partial: false });
            return Moved::Bad(Violation::Hazard { step: idx, detail });
        }
        let before = s.model.partial_progress(step.line);
        let result = match s.model.step(self.scenario, step) {
            Ok(r) => r,
            Err(BackendError(e)) => return Moved::Bad(Violation::Invariant(e)),
        };
        s.last = Some(t);
        match result {
            StepResult::Done(outcome) => {
                let failed = match &outcome {
                    Outcome::Failed(why) => Some(why.clone()),
                    _ => None,
                };
                s.trace.push(Executed { thread: Some(t), step: idx, outcome, partial: false });
                s.pc[t] += 1;
                s.blocked_at[t] = None;
                s.ran += 1;
                if let Some(detail) = failed {
                    return Moved::Bad(Violation::ExpectFailed { step: idx, detail });
                }
            }
            StepResult::Blocked => {
                let after = s.model.partial_progress(step.line);
                if after > before {
                    let n = (after - before) as u64;
                    s.trace.push(Executed { thread: Some(t), step: idx, outcome: Outcome::Count(n), partial: true });
                    s.ran += 1;
                }
                s.blocked_at[t] = Some(s.ran);
            }
        }
        Moved::Ok
    }

    /// With nothing enabled: release a `wait reusable` with `-EDEADLK`, or
    /// report the deadlock; `None` when every thread is done.
    fn stuck(&mut self, s: &mut State) -> Option<Moved> {
        let stuck: Vec<usize> = (0..self.scenario.threads.len()).filter(|&t| self.live(s, t)).collect();
        if stuck.is_empty() {
            return None;
        }
        let waiting = stuck
            .iter()
            .copied()
            .find(|&t| matches!(self.scenario.steps[self.step_of(s, t)].op, Op::WaitReusable { .. }));
        Some(match waiting {
            Some(t) => {
                let idx = self.step_of(s, t);
                s.trace.push(Executed {
                    thread: Some(t),
                    step: idx,
                    outcome: Outcome::Err(Errno::EDEADLK),
                    partial: false,
                });
                s.pc[t] += 1;
                s.blocked_at[t] = None;
                s.ran += 1;
                Moved::Ok
            }
            None => Moved::Bad(Violation::Deadlock { waiting: stuck.iter().map(|&t| self.step_of(s, t)).collect() }),
        })
    }

    fn found(&mut self, s: &State, violation: Violation) {
        if self.best.as_ref().is_none_or(|b| s.trace.len() < b.trace.len()) {
            self.best = Some(Finding { violation, trace: s.trace.clone() });
        }
    }

    fn schedule_done(&mut self, s: &State) {
        self.progress.schedules += 1;
        self.progress.max_depth = self.progress.max_depth.max(s.trace.len());
        let mut end = s.model.clone();
        if let Err(BackendError(e)) = end.finish() {
            self.found(s, Violation::Invariant(e));
        }
        if self.config.max_schedules.is_some_and(|m| self.progress.schedules >= m) {
            self.stopped = true;
        }
        if self.last_report.elapsed() >= Duration::from_secs(1) {
            self.last_report = Instant::now();
            self.progress.elapsed = self.start.elapsed();
            (self.on_progress)(&self.progress);
        }
    }

    /// The state cache's key for `s`: the machine's fingerprint, each
    /// thread's next step and whether it waits, and the last thread.
    fn key(&self, s: &State) -> Option<u64> {
        let machine = s.model.fingerprint()?;
        let mut h = DefaultHasher::new();
        machine.hash(&mut h);
        s.pc.hash(&mut h);
        for t in 0..s.pc.len() {
            self.enabled(s, t).hash(&mut h);
        }
        s.last.hash(&mut h);
        Some(h.finish())
    }

    /// Whether `s` was explored before with no more preemptions used and
    /// no greater depth; otherwise remember it.
    fn seen_before(&mut self, s: &State) -> bool {
        let Some(key) = self.key(s) else { return false };
        let here = (s.preemptions, s.trace.len());
        let entry = self.seen.entry(key).or_default();
        if entry.iter().any(|&(p, d)| p <= here.0 && d <= here.1) {
            return true;
        }
        entry.retain(|&(p, d)| !(here.0 <= p && here.1 <= d));
        entry.push(here);
        false
    }

    /// Depth-first search from `s`.
    fn dfs(&mut self, s: State) {
        if self.stopped {
            return;
        }
        // Branch and bound: a schedule as long as the shortest violation
        // found cannot yield a shorter one.
        if self.best.as_ref().is_some_and(|b| s.trace.len() + 1 >= b.trace.len()) {
            return;
        }
        if self.config.reduction && self.seen_before(&s) {
            self.progress.pruned += 1;
            return;
        }
        let n = self.scenario.threads.len();
        let enabled: Vec<usize> = (0..n).filter(|&t| self.enabled(&s, t)).collect();
        if enabled.is_empty() {
            let mut s = s;
            match self.stuck(&mut s) {
                None => self.schedule_done(&s),
                Some(Moved::Ok) => self.dfs(s),
                Some(Moved::Bad(v)) => {
                    self.schedule_done(&s);
                    self.found(&s, v);
                }
            }
            return;
        }
        // The running thread first: schedules without preemption come first.
        let mut order = enabled.clone();
        if let Some(last) = s.last
            && let Some(pos) = order.iter().position(|&t| t == last)
        {
            order.remove(pos);
            order.insert(0, last);
        }
        for t in order {
            let preempt = s.last.is_some_and(|l| l != t && enabled.contains(&l));
            let cost = usize::from(preempt);
            if s.preemptions + cost > self.config.bound {
                continue;
            }
            let mut next = s.clone();
            next.preemptions += cost;
            match self.run_thread(&mut next, t) {
                Moved::Ok => self.dfs(next),
                Moved::Bad(v) => {
                    self.schedule_done(&next);
                    self.found(&next, v);
                }
            }
            if self.stopped {
                return;
            }
        }
    }

    /// One schedule chosen at random.
    fn random_schedule(&mut self, mut s: State, rng: &mut StdRng) {
        loop {
            let enabled: Vec<usize> = (0..self.scenario.threads.len()).filter(|&t| self.enabled(&s, t)).collect();
            let moved = if enabled.is_empty() {
                match self.stuck(&mut s) {
                    None => {
                        self.schedule_done(&s);
                        return;
                    }
                    Some(m) => m,
                }
            } else {
                let t = enabled[rng.random_range(0..enabled.len())];
                self.run_thread(&mut s, t)
            };
            if let Moved::Bad(v) = moved {
                self.schedule_done(&s);
                self.found(&s, v);
                return;
            }
        }
    }
}

/// The state after the steps outside threads.
fn initial_state(scenario: &Scenario, config: &ExploreConfig) -> Result<Result<State, Finding>, ExploreError> {
    let mut model = ModelBackend::new(config.kernel);
    let mut trace = Vec::new();
    for idx in scenario.main_steps() {
        let step = &scenario.steps[idx];
        let result = model.step(scenario, step).map_err(|e| ExploreError(e.to_string()))?;
        match result {
            StepResult::Done(outcome) => {
                let failed = matches!(outcome, Outcome::Failed(_));
                trace.push(Executed { thread: None, step: idx, outcome: outcome.clone(), partial: false });
                if let (true, Outcome::Failed(detail)) = (failed, outcome) {
                    return Ok(Err(Finding { violation: Violation::ExpectFailed { step: idx, detail }, trace }));
                }
            }
            StepResult::Blocked => {
                return Err(ExploreError(format!(
                    "{}:{}: '{}' blocks before the threads start: nothing can wake it",
                    scenario.path, step.line, step.text
                )));
            }
        }
    }
    let n = scenario.threads.len();
    Ok(Ok(State { model, pc: vec![0; n], blocked_at: vec![None; n], ran: 0, preemptions: 0, last: None, trace }))
}

/// Explore `scenario`'s schedules.
///
/// # Errors
/// A scenario without threads, a bound out of range, or steps outside
/// threads that cannot run.
pub fn explore(
    scenario: &Scenario,
    config: &ExploreConfig,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<Summary, ExploreError> {
    if scenario.threads.is_empty() {
        return Err(ExploreError(format!(
            "{}: no threads to explore: declare them with 'thread NAME' ... 'end'",
            scenario.path
        )));
    }
    if config.bound > MAX_BOUND {
        return Err(ExploreError(format!("preemption bound {} is out of range 0..={MAX_BOUND}", config.bound)));
    }
    let mut ex = Explorer::new(scenario, config, on_progress);
    let initial = match initial_state(scenario, config)? {
        Ok(s) => s,
        Err(finding) => {
            return Ok(Summary { progress: ex.progress, finding: Some(finding), complete: true });
        }
    };
    let complete = match config.random {
        Some((runs, seed)) => {
            let mut rng = StdRng::seed_from_u64(seed);
            for _ in 0..runs {
                ex.random_schedule(initial.clone(), &mut rng);
            }
            false
        }
        None => {
            ex.dfs(initial);
            !ex.stopped
        }
    };
    ex.progress.elapsed = ex.start.elapsed();
    Ok(Summary { progress: ex.progress, finding: ex.best, complete })
}

/// A schedule given by the user, run.
#[derive(Clone, Debug)]
pub struct ScheduleRun {
    /// The steps that ran.
    pub trace: Vec<Executed>,
    /// The violation it reached, if any.
    pub violation: Option<Violation>,
}

/// Run one given schedule: `names` lists the thread to run at each step
/// (a thread whose step blocks just waits, as in the explorer).
///
/// # Errors
/// An unknown thread name, or a name whose thread has finished.
pub fn run_schedule(
    scenario: &Scenario,
    config: &ExploreConfig,
    names: &[String],
) -> Result<ScheduleRun, ExploreError> {
    let mut s = match initial_state(scenario, config)? {
        Ok(s) => s,
        Err(f) => return Ok(ScheduleRun { trace: f.trace, violation: Some(f.violation) }),
    };
    let mut nothing = |_: &Progress| {};
    let mut ex = Explorer::new(scenario, config, &mut nothing);
    for (i, name) in names.iter().enumerate() {
        let Some(t) = scenario.threads.iter().position(|t| &t.name == name) else {
            let known: Vec<&str> = scenario.threads.iter().map(|t| t.name.as_str()).collect();
            return Err(ExploreError(format!(
                "schedule entry {}: unknown thread '{name}' (threads: {})",
                i + 1,
                known.join(", ")
            )));
        };
        if !ex.live(&s, t) {
            return Err(ExploreError(format!("schedule entry {}: thread '{name}' has no steps left", i + 1)));
        }
        if let Moved::Bad(v) = ex.run_thread(&mut s, t) {
            return Ok(ScheduleRun { trace: s.trace, violation: Some(v) });
        }
    }
    Ok(ScheduleRun { trace: s.trace, violation: None })
}
