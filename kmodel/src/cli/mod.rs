//! The `kmodel` command.

/// `println!` to standard output, ending the process quietly (status 141,
/// as a SIGPIPE death would) when the reader has gone, as with
/// `kmodel diff ... | head`, instead of panicking.
macro_rules! outln {
    () => {
        $crate::cli::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` to standard output, as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!($($arg)*))
    };
}

mod diff;
mod explore;
mod image;
mod quiz;
mod story;
mod sweep;
mod view;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::kernel::{KernelConfig, KernelVariant};
use crate::linux::{LinuxBackend, LinuxOptions};
use crate::model::ModelBackend;
use crate::scenario::{self, Backend, Report, Scenario};

/// The built-in story that `kmodel` with no arguments tells.
pub const STORY: &str = include_str!("../../../scenarios/story_double_buffer.scenario");
/// Where the built-in story lives in the source tree.
const STORY_PATH: &str = "scenarios/story_double_buffer.scenario";

/// Exit status for bad input (unreadable or malformed scenario).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit status when the backend itself failed.
pub const EXIT_BACKEND: u8 = 4;

/// A model of Linux pages, pipes and splice, checked against the real kernel.
///
/// With no command, runs the built-in story of 2006 (double buffering with
/// vmsplice, safe with one pipe, unsafe with a tee into a second) and shows
/// the timeline of each page's holders.
#[derive(Debug, Parser)]
#[command(name = "kmodel", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario and print one result line per operation.
    ///
    /// Exit status: 0 ok, 1 an `expect` failed, 2 the file does not parse
    /// (or an output file cannot be written), 3 an operation blocked
    /// forever, 4 the backend failed.
    Run {
        /// The scenario file.
        file: PathBuf,
        /// Where to run it.
        #[arg(long, value_enum, default_value_t = On::Model)]
        on: On,
        #[command(flatten)]
        view: view::ViewArgs,
        /// Which kernel the model plays (model only): today's, the 2006
        /// patch (F_GETPSZ/F_SETPSZ, no F_SETPIPE_SZ), or vmsplice as a copy.
        #[arg(long, default_value = "today")]
        kernel: KernelVariant,
        #[command(flatten)]
        linux: LinuxArgs,
    },
    /// Run scenarios on the model and on the host kernel and print every
    /// line whose results differ (model-only lines are ignored).
    ///
    /// Exit status: 0 no difference, 1 some difference, 2 a file does not
    /// parse, 4 a backend failed.
    Diff {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        linux: LinuxArgs,
    },
    /// Explore every schedule of a threaded scenario (`thread NAME` ...
    /// `end`) on the model, checking hazards (stores into pages a kernel
    /// object holds), `expect` lines, the page invariants and deadlock.
    ///
    /// Exit status: 0 no violation within the bound, 1 a violation (the
    /// shortest schedule found is printed as a replayable single-threaded
    /// scenario with its page timeline), 2 bad input, 4 the model failed.
    Explore(explore::ExploreArgs),
    /// Read checkpoint images (written by a scenario's `checkpoint FILE`).
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Tell a story of the catalogue: its narrative, its run with the page
    /// timeline, and what each kernel variant makes of it. With no name,
    /// the built-in story (the default command).
    ///
    /// Exit status: the run's (0 ok, 1 an `expect` failed or a threaded
    /// story has a violation, 3 blocked), 2 an unknown story.
    Story(story::StoryArgs),
    /// List the stories in scenarios/ with one line each, and the claims of
    /// the 2006 page each one shows.
    Stories(story::StoriesArgs),
    /// Run a scenario with simulated links over a grid of link parameters
    /// (in parallel) and report each point's distribution of the buffer's
    /// time until reusable and its hazards; CSV and an SVG plot on request.
    ///
    /// Exit status: 0 ok, 2 bad input (file, parameter, range, output
    /// path), 4 the model failed.
    Sweep(sweep::SweepArgs),
    /// An exercise: a small random scenario (same seed, same quiz) asking
    /// what marked lines return and which pages are busy at the end;
    /// `--answers` gives the model's answers with the reasons, `--reverse`
    /// asks for the operations behind a final state.
    Quiz(quiz::QuizArgs),
}

#[derive(Debug, clap::Args)]
struct LinuxArgs {
    /// Seconds the Linux runner waits before it calls an operation blocked.
    #[arg(long, default_value_t = 10.0, value_parser = parse_timeout)]
    block_timeout: f64,
}

impl LinuxArgs {
    fn options(&self) -> LinuxOptions {
        LinuxOptions { block_timeout: Duration::from_secs_f64(self.block_timeout), ..LinuxOptions::default() }
    }
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("expected a number of seconds, found '{s}'"))?;
    if v.is_finite() && (0.001..=3600.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("expected between 0.001 and 3600 seconds, found {s}"))
    }
}

/// Where a scenario runs.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum On {
    /// The model.
    Model,
    /// The host Linux kernel.
    Linux,
}

/// Write to standard output; a closed reader ends the process quietly.
pub(crate) fn write_out(args: std::fmt::Arguments<'_>) {
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("kmodel: cannot write to standard output: {e}");
        std::process::exit(i32::from(EXIT_BACKEND));
    }
}

/// Read and parse a scenario file; on failure, the message to print.
pub fn load(path: &Path) -> Result<Scenario, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut s = scenario::parse(&path.display().to_string(), &text).map_err(|e| e.to_string())?;
    let dir = path.parent().unwrap_or(Path::new("."));
    scenario::load_policies(&mut s, dir).map_err(|e| e.to_string())?;
    Ok(s)
}

/// The model's configuration matched to the host, so that `diff` compares
/// like with like: the pipe size limit and whether this process has
/// `CAP_SYS_RESOURCE`.
pub fn host_config() -> KernelConfig {
    let mut config = KernelConfig::default();
    if let Ok(s) = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        && let Ok(v) = s.trim().parse()
    {
        config.pipe_limits.pipe_max_size = v;
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("CapEff:"))
        && let Ok(caps) = u64::from_str_radix(line["CapEff:".len()..].trim(), 16)
    {
        const CAP_SYS_RESOURCE: u32 = 24;
        config.pipe_limits.cap_sys_resource = caps & (1 << CAP_SYS_RESOURCE) != 0;
    }
    config
}

/// Run `scenario` on a backend, printing each result line as it comes.
fn run_on(scenario: &Scenario, backend: &mut dyn Backend) -> Result<Report, String> {
    let stdout = std::io::stdout();
    let report = scenario::run(scenario, backend, |l| {
        let mut out = stdout.lock();
        let _ = writeln!(out, "{l}");
    })
    .map_err(|e| format!("{}: {} backend failed: {e}", scenario.path, backend.name()))?;
    Ok(report)
}

fn blocked_message(scenario: &Scenario, report: &Report) {
    if let Some(line) = report.blocked {
        let text = scenario.steps.iter().find(|s| s.line == line).map(|s| s.text.as_str()).unwrap_or("");
        eprintln!("{}:{line}: '{text}' would block forever: nothing is left to wake it", scenario.path);
    }
}

fn cmd_run(file: &Path, on: On, view: &view::ViewArgs, variant: KernelVariant, linux: &LinuxArgs) -> ExitCode {
    if view.wants_view() {
        return view::cmd_run_view(file, on, view, variant);
    }
    let scenario = match load(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kmodel: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    if on == On::Linux && variant != KernelVariant::Today {
        eprintln!("kmodel: --kernel {variant} plays a kernel variant on the model; the host runs only itself");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let config = KernelConfig { variant, ..KernelConfig::default() };
    let result = match on {
        On::Model => run_on(&scenario, &mut ModelBackend::new(config).with_checkpoint_dir(".")),
        On::Linux => {
            LinuxBackend::new(linux.options()).map_err(|e| e.to_string()).and_then(|mut b| run_on(&scenario, &mut b))
        }
    };
    match result {
        Ok(report) => {
            blocked_message(&scenario, &report);
            ExitCode::from(report.exit_status() as u8)
        }
        Err(e) => {
            eprintln!("kmodel: {e}");
            ExitCode::from(EXIT_BACKEND)
        }
    }
}

fn cmd_builtin_story(variant: KernelVariant) -> ExitCode {
    let scenario = match scenario::parse(STORY_PATH, STORY) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kmodel: built-in story: {e}");
            return ExitCode::from(EXIT_BACKEND);
        }
    };
    for line in STORY.lines().take_while(|l| l.starts_with('#')) {
        outln!("{}", line.trim_start_matches('#').trim_start());
    }
    outln!();
    if variant != KernelVariant::Today {
        outln!("Told by the kernel variant '{variant}': {}", variant.summary());
        outln!();
    }
    let view = match story::show_run(&scenario, STORY, KernelConfig { variant, ..KernelConfig::default() }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if let Some(h) = view.steps.iter().find(|s| s.hazard.is_some()) {
        outln!("The hazard is line {}: '{}'", h.line, h.text);
        outln!("stored into pages a kernel object still held, so whoever consumes them");
        outln!("afterwards sees bytes written after the send. \"Left the pipe\" is not");
        outln!("\"free\": only the last kernel reference makes a page reusable.");
        outln!();
    }
    story::variants(&scenario);
    outln!("Run it yourself: kmodel run {STORY_PATH} --timeline");
    outln!("Compare with the real kernel: kmodel diff {STORY_PATH}");
    ExitCode::from(view.report.exit_status() as u8)
}

/// Parse the command line and run; the process's exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let trace = matches!(&cli.command, Some(Command::Run { view, .. }) if view.trace);
    if let Err(e) = view::init_tracing(trace) {
        eprintln!("kmodel: {e}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    match cli.command {
        None => cmd_builtin_story(KernelVariant::Today),
        Some(Command::Story(args)) => story::cmd_story(&args),
        Some(Command::Stories(args)) => story::cmd_stories(&args),
        Some(Command::Sweep(args)) => sweep::cmd_sweep(&args),
        Some(Command::Quiz(args)) => quiz::cmd_quiz(&args),
        Some(Command::Run { file, on, view, kernel, linux }) => cmd_run(&file, on, &view, kernel, &linux),
        Some(Command::Diff { files, linux }) => diff::cmd_diff(&files, &linux.options()),
        Some(Command::Explore(args)) => explore::cmd_explore(&args),
        Some(Command::Image(cmd)) => image::cmd_image(&cmd),
    }
}
