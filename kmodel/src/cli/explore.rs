//! `kmodel explore`: schedules of a threaded scenario.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::explore::{self, ExploreConfig, MAX_BOUND, Progress, describe, replay_text, schedule_names};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::kernel::{KernelConfig, KernelVariant};
use crate::render::record;
use crate::scenario;

use super::{EXIT_BACKEND, EXIT_BAD_INPUT, load};

#[derive(Debug, clap::Args)]
pub(super) struct ExploreArgs {
    /// The scenario file (with threads).
    file: PathBuf,
    /// Most preemptions per schedule in the exhaustive search.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=MAX_BOUND as u64))]
    bound: u64,
    /// Run this many random schedules instead of the exhaustive search.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    random: Option<u64>,
    /// Seed of the random schedules.
    #[arg(long, default_value_t = 1, requires = "random")]
    seed: u64,
    /// Stop the exhaustive search after this many schedules.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_schedules: Option<u64>,
    /// Run one schedule: the threads to run, in order, comma-separated
    /// (as printed after a violation).
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["random", "max_schedules"])]
    schedule: Option<Vec<String>>,
    /// No progress on standard error.
    #[arg(long)]
    quiet: bool,
    /// Run every interleaving: no state caching (the verdict is the same,
    /// only slower; for checking the reduction).
    #[arg(long)]
    no_reduction: bool,
    /// Which kernel runs it: today, 2006 or copy.
    #[arg(long, default_value = "today")]
    kernel: KernelVariant,
}

pub(super) fn print_finding(
    sc: &scenario::Scenario,
    violation: &explore::Violation,
    trace: &[explore::Executed],
    kernel: KernelConfig,
) -> ExitCode {
    outln!("{}", describe(sc, violation));
    let names = schedule_names(sc, violation, trace);
    outln!();
    outln!("schedule ({} thread steps): --schedule {}", names.len(), names.join(","));
    outln!();
    outln!("replayable single-threaded scenario:");
    let replay = replay_text(sc, violation, trace);
    for line in replay.lines() {
        outln!("    {line}");
    }
    outln!();
    match scenario::parse("replay", &replay).map(|r| record(&r, &replay, kernel)) {
        Ok(Ok(mut view)) => {
            // Name each column by the line of the explored file, as the
            // replay's comments and the finding above do.
            for s in &mut view.steps {
                s.line = replayed_line(&replay, s.line).unwrap_or(s.line);
            }
            view.path = "the replay (the explored file's lines)".to_string();
            super::view::print_chart(&view);
        }
        Ok(Err(e)) => outln!("(no chart of the replay: the model failed: {e})"),
        Err(e) => outln!("(no chart of the replay: {e})"),
    }
    ExitCode::from(1)
}

/// The explored file's line that line `n` of a replay came from (its
/// `# thread T, line N[: ...]` comment).
fn replayed_line(replay: &str, n: usize) -> Option<usize> {
    let comment = replay.lines().nth(n.checked_sub(1)?)?.rsplit_once('#')?.1;
    let after = comment.rsplit_once("line ")?.1;
    after[..after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len())].parse().ok()
}

pub(super) fn cmd_explore(args: &ExploreArgs) -> ExitCode {
    let sc = match load(&args.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kmodel: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let config = ExploreConfig {
        bound: args.bound as usize,
        random: args.random.map(|n| (n, args.seed)),
        max_schedules: args.max_schedules,
        kernel: KernelConfig { variant: args.kernel, ..KernelConfig::default() },
        reduction: !args.no_reduction,
    };
    if let Some(names) = &args.schedule {
        return match explore::run_schedule(&sc, &config, names) {
            Ok(run) => match run.violation {
                Some(v) => print_finding(&sc, &v, &run.trace, config.kernel),
                None => {
                    outln!("no violation in this schedule ({} steps)", run.trace.len());
                    ExitCode::SUCCESS
                }
            },
            Err(e) => {
                eprintln!("kmodel: {}: {e}", sc.path);
                ExitCode::from(EXIT_BAD_INPUT)
            }
        };
    }
    // A spinner (or a bar for --random N) when standard error is a
    // terminal; a progress line per report otherwise.
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = match (args.quiet, tty) {
        (true, _) | (false, false) => ProgressBar::hidden(),
        (false, true) => ProgressBar::with_draw_target(config.random.map(|(n, _)| n), ProgressDrawTarget::stderr()),
    };
    let template = if config.random.is_some() {
        "explore {bar:30} {pos}/{len} schedules, {msg}"
    } else {
        "explore {spinner} {pos} schedules, {msg}"
    };
    bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()));
    if !args.quiet && tty {
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
    }
    let lines = !args.quiet && !tty;
    let mut report = |p: &Progress| {
        let secs = p.elapsed.as_secs_f64().max(1e-9);
        let rate = p.states as f64 / secs;
        if lines {
            eprintln!(
                "explore: {} schedules, {} states ({rate:.0} states/s), {} pruned, deepest {} steps, {secs:.1} s",
                p.schedules, p.states, p.pruned, p.max_depth
            );
        }
        bar.set_message(format!(
            "{} states ({rate:.0}/s), {} pruned, deepest {} steps",
            p.states, p.pruned, p.max_depth
        ));
        bar.set_position(p.schedules);
    };
    let summary = match explore::explore(&sc, &config, &mut report) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kmodel: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    bar.finish_and_clear();
    let p = summary.progress;
    let mode = match config.random {
        Some((n, seed)) => format!("{n} random schedules, seed {seed}"),
        None if summary.complete => format!("exhaustive under preemption bound {}", config.bound),
        None => format!("stopped early, preemption bound {}", config.bound),
    };
    eprintln!(
        "explore: {} schedules, {} states, {} pruned (state cache{}) in {:.2} s ({mode})",
        p.schedules,
        p.states,
        p.pruned,
        if config.reduction { "" } else { " off" },
        p.elapsed.as_secs_f64()
    );
    match summary.finding {
        Some(f) => {
            if let explore::Violation::Invariant(_) = f.violation {
                let _ = print_finding(&sc, &f.violation, &f.trace, config.kernel);
                return ExitCode::from(EXIT_BACKEND);
            }
            print_finding(&sc, &f.violation, &f.trace, config.kernel)
        }
        None => {
            let pruned = if p.pruned > 0 {
                format!(", {} states pruned as already explored (state cache)", p.pruned)
            } else {
                String::new()
            };
            outln!(
                "no violation: {} schedules, {} states{pruned} ({mode}): no hazard, no failed expect, no deadlock, \
                 invariants hold",
                p.schedules,
                p.states
            );
            ExitCode::SUCCESS
        }
    }
}
