//! `kmodel run` with something to look at: `--timeline` (the terminal
//! timeline, on standard error), `--html OUT.html` (the interactive page),
//! `--trace-json FILE` (the trace records, one JSON object per line), and
//! `--trace` / `RUST_LOG` (the `tracing` events on standard error).
//!
//! Standard output keeps exactly the contract's result lines.

use std::fs::File;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::kernel::{KernelConfig, KernelVariant};
use crate::render::{RunView, Style, chart, html, record};

use super::{EXIT_BACKEND, EXIT_BAD_INPUT, On, blocked_message, load};

/// What to show of a run besides its result lines.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct ViewArgs {
    /// Also draw the timeline of the pages on standard error: a lane per
    /// run of pages that moves together, a column per operation, who holds
    /// them, the user's writes and the hazards (model only).
    #[arg(long)]
    pub timeline: bool,
    /// Write an interactive page (one self-contained HTML file) showing the
    /// scenario beside its page timeline (model only).
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
    /// Write the trace (every syscall and page get/put/write/free) as JSON
    /// lines, the schema of docs/trace-schema.md (model only).
    #[arg(long, value_name = "FILE")]
    pub trace_json: Option<PathBuf>,
    /// Print `tracing` events on standard error: every syscall (DEBUG) and
    /// every page event (TRACE); `RUST_LOG` chooses other filters.
    #[arg(long)]
    pub trace: bool,
}

impl ViewArgs {
    /// Whether a run needs the recording model.
    pub fn wants_view(&self) -> bool {
        self.timeline || self.html.is_some() || self.trace_json.is_some()
    }
}

/// Whether ANSI colours suit standard error: `anstream`'s choice
/// (`NO_COLOR`, `CLICOLOR`, `CLICOLOR_FORCE`, `TERM=dumb`, a terminal),
/// and standard output a terminal too unless colour is forced.
pub(crate) fn stderr_color() -> bool {
    let choice = anstream::AutoStream::choice(&std::io::stderr());
    let forced = std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0");
    choice != anstream::ColorChoice::Never && (forced || std::io::stdout().is_terminal())
}

/// Whether ANSI colours suit standard output (`anstream`'s choice:
/// `NO_COLOR`, `CLICOLOR`, `CLICOLOR_FORCE`, `TERM=dumb`, a terminal).
fn stdout_color() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
}

/// The timeline of `view` on standard output, for the commands whose
/// output is for people (`kmodel`, `story`, `explore`'s finding):
/// coloured and as wide as standard output's terminal.
pub(crate) fn print_chart(view: &RunView) {
    out!("{}", chart(view, Style { color: stdout_color(), width: terminal_width(libc::STDOUT_FILENO) }));
}

/// The width of the terminal on `fd` (`COLUMNS`, else the window size,
/// else 100).
fn terminal_width(fd: libc::c_int) -> usize {
    if let Some(w) = std::env::var("COLUMNS").ok().and_then(|v| v.parse::<usize>().ok()).filter(|&w| w >= 20) {
        return w;
    }
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one `winsize` into `ws`, which lives for the call.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    if r == 0 && ws.ws_col >= 20 { usize::from(ws.ws_col) } else { 100 }
}

/// Install the `tracing` subscriber (standard error) when `--trace` or
/// `RUST_LOG` asks for one.
///
/// # Errors
/// A `RUST_LOG` that does not parse.
pub(crate) fn init_tracing(trace: bool) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v).map_err(|e| format!("RUST_LOG='{v}': {e}"))?,
        _ if trace => EnvFilter::new("page_refs=trace,kmodel::syscall=debug"),
        _ => return Ok(()),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(stderr_color())
        .without_time()
        .try_init();
    Ok(())
}

/// Create an output file, or say which one cannot be written.
fn create(path: &Path) -> Result<File, String> {
    File::create(path).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

fn write_all(path: &Path, mut file: File, text: &str) -> Result<(), String> {
    file.write_all(text.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// `kmodel run FILE` with `--timeline`, `--html` or `--trace-json`.
pub(crate) fn cmd_run_view(file: &Path, on: On, args: &ViewArgs, variant: KernelVariant) -> ExitCode {
    if on == On::Linux {
        eprintln!("kmodel: --timeline, --html and --trace-json show the model's pages: run them with --on model");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let scenario = match load(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kmodel: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let source = std::fs::read(file).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    if let (Some(h), Some(j)) = (&args.html, &args.trace_json)
        && h == j
    {
        eprintln!("kmodel: {}: --html and --trace-json name the same file", h.display());
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    // Refuse an unwritable output before anything runs.
    let mut outputs = Vec::new();
    for path in [&args.html, &args.trace_json].into_iter().flatten() {
        match create(path) {
            Ok(f) => outputs.push((path.clone(), f)),
            Err(e) => {
                eprintln!("kmodel: {e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        }
    }
    let view = match record(&scenario, &source, KernelConfig { variant, ..KernelConfig::default() }) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("kmodel: {}: model backend failed: {e}", scenario.path);
            return ExitCode::from(EXIT_BACKEND);
        }
    };
    out!("{}", view.report.output());
    if args.timeline {
        let style = Style { color: stderr_color(), width: terminal_width(libc::STDERR_FILENO) };
        eprint!("{}", chart(&view, style));
    }
    let mut outputs = outputs.into_iter();
    let written = [args.html.as_ref().map(|_| html(&view)), args.trace_json.as_ref().map(|_| view.trace_json_lines())];
    for text in written.into_iter().flatten() {
        let (path, f) = outputs.next().expect("one file per output");
        if let Err(e) = write_all(&path, f, &text) {
            eprintln!("kmodel: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    blocked_message(&scenario, &view.report);
    ExitCode::from(view.report.exit_status() as u8)
}
