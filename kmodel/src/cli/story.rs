//! `kmodel stories` and `kmodel story NAME`: the catalogue.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::explore::{self, ExploreConfig};
use crate::kernel::{KernelConfig, KernelVariant};
use crate::render::{RunView, record};
use crate::scenario::Scenario;
use crate::stories::{self, TOPICS};
use crate::sweep::measure;

use super::{EXIT_BACKEND, EXIT_BAD_INPUT, load};

#[derive(Debug, clap::Args)]
pub(super) struct StoriesArgs {
    /// Where the stories are (default: ./scenarios, else the source tree's).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(super) struct StoryArgs {
    /// The story (`kmodel stories` lists them); none: the built-in story.
    name: Option<String>,
    /// Which kernel tells it: today, 2006 or copy.
    #[arg(long, default_value = "today")]
    kernel: KernelVariant,
    /// Where the stories are (default: ./scenarios, else the source tree's).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn catalogue(dir: &Option<PathBuf>) -> Result<Vec<stories::Story>, String> {
    stories::catalogue(&dir.clone().unwrap_or_else(stories::default_dir))
}

pub(super) fn cmd_stories(args: &StoriesArgs) -> ExitCode {
    let cat = match catalogue(&args.dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kmodel: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let width = cat.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in &cat {
        outln!("{:<width$}  {}", s.name, s.summary);
    }
    outln!();
    outln!("The claims of the 2006 page, and the stories that show them:");
    for t in TOPICS {
        let names: Vec<&str> = t.matches(&cat).iter().map(|s| s.name.as_str()).collect();
        let shown = if names.is_empty() { "(pending: no story yet)".to_string() } else { names.join(", ") };
        outln!("  - {}: {shown}", t.claim);
    }
    outln!();
    outln!("kmodel story NAME [--kernel today|2006|copy] tells one.");
    ExitCode::SUCCESS
}

pub(super) fn cmd_story(args: &StoryArgs) -> ExitCode {
    let Some(name) = &args.name else { return super::cmd_builtin_story(args.kernel) };
    let cat = match catalogue(&args.dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kmodel: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let story = match stories::find(&cat, name) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kmodel: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let scenario = match load(&story.path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kmodel: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    outln!("story {} ({}), kernel {}: {}", story.name, story.path.display(), args.kernel, args.kernel.summary());
    outln!();
    for line in &story.narrative {
        outln!("  {line}");
    }
    outln!();
    let config = KernelConfig { variant: args.kernel, ..KernelConfig::default() };
    if story.threaded {
        return tell_threaded(&scenario, config);
    }
    let source = std::fs::read(&story.path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let view = match show_run(&scenario, &source, config) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let has_buffer = scenario.objects.iter().any(|o| matches!(o.kind, crate::scenario::ObjKind::Buffer { .. }));
    if has_buffer {
        variants(&scenario);
    }
    outln!("Run it: kmodel run {} --timeline", story.path.display());
    outln!("Compare with the real kernel: kmodel diff {}", story.path.display());
    ExitCode::from(view.report.exit_status() as u8)
}

/// Run `scenario` on the model, recording its pages, and print its result
/// lines (as `kmodel run` prints them) and then its timeline.
///
/// # Errors
/// The exit status when the model failed (said on standard error).
pub(super) fn show_run(scenario: &Scenario, source: &str, config: KernelConfig) -> Result<RunView, ExitCode> {
    let view = record(scenario, source, config).map_err(|e| {
        eprintln!("kmodel: {}: model backend failed: {e}", scenario.path);
        ExitCode::from(EXIT_BACKEND)
    })?;
    outln!("Each operation and its result, as `kmodel run` prints them:");
    outln!();
    out!("{}", view.report.output());
    outln!();
    outln!("Who holds the pages after each operation (one column each, line number above):");
    outln!();
    super::view::print_chart(&view);
    outln!();
    Ok(view)
}

/// What each kernel variant makes of the story: hazards and copies.
pub(super) fn variants(scenario: &Scenario) {
    outln!("Under each kernel (--kernel; today's expects may fail under another):");
    for v in KernelVariant::ALL {
        match measure(scenario, KernelConfig { variant: v, ..KernelConfig::default() }) {
            Ok(m) => {
                let hazards = match m.hazard_lines.as_slice() {
                    [] => "no hazard".to_string(),
                    l => format!(
                        "{} hazard{} (line {})",
                        l.len(),
                        if l.len() == 1 { "" } else { "s" },
                        l.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
                    ),
                };
                let expects = if m.report.expect_failed() { ", an expect failed" } else { "" };
                outln!("  {:<6} {hazards}, {} bytes copied by the kernel{expects}", v.name(), m.copied_bytes);
            }
            Err(e) => outln!("  {:<6} the model failed: {e}", v.name()),
        }
    }
    outln!();
}

/// A threaded story: explore its schedules and show the shortest
/// violation with its timeline, or say that there is none.
fn tell_threaded(scenario: &crate::scenario::Scenario, kernel: KernelConfig) -> ExitCode {
    let config = ExploreConfig { bound: 2, random: None, max_schedules: Some(200_000), kernel, reduction: true };
    outln!("Its threads, under every schedule with at most 2 preemptions (kmodel explore):");
    outln!();
    match explore::explore(scenario, &config, &mut |_| {}) {
        Ok(summary) => match summary.finding {
            Some(f) => {
                let code = super::explore::print_finding(scenario, &f.violation, &f.trace, kernel);
                outln!();
                outln!("Explore it: kmodel explore {}", scenario.path);
                code
            }
            None => {
                let p = summary.progress;
                outln!(
                    "no violation in {} schedules ({} states, {} pruned as already explored): no hazard, no failed \
                     expect, no deadlock, invariants hold",
                    p.schedules,
                    p.states,
                    p.pruned
                );
                outln!();
                outln!("Explore it: kmodel explore {}", scenario.path);
                ExitCode::SUCCESS
            }
        },
        Err(e) => {
            eprintln!("kmodel: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
