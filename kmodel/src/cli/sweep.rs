//! `kmodel sweep`: a scenario over a grid of link parameters.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::kernel::{KernelConfig, KernelVariant};
use crate::sweep::{self, ParamRange, SweepConfig, display_value, unit};

use super::{EXIT_BACKEND, EXIT_BAD_INPUT, load};

#[derive(Debug, clap::Args)]
pub(super) struct SweepArgs {
    /// The scenario file (with at least one `tcp NAME link ...`).
    file: PathBuf,
    /// A link parameter and its range, `NAME=LO..HI` (or `NAME=VALUE`):
    /// rtt, loss, reorder, bw, mss, delack, in the link's notation
    /// (`rtt=1ms..200ms`, `loss=0..5%`). Repeat for a grid.
    #[arg(long = "param", required = true)]
    params: Vec<String>,
    /// Values per range, evenly spaced, bounds included.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(2..=1000))]
    steps: u64,
    /// Runs per point; run k adds k to every link's seed.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    seeds: u64,
    /// The buffer whose time until reusable is measured (default: the
    /// first one the scenario declares).
    #[arg(long)]
    buffer: Option<String>,
    /// Write the results as CSV to this file.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Write the plot (median, p10-p90 band) as SVG to this file.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Which kernel runs it: today, 2006 or copy.
    #[arg(long, default_value = "today")]
    kernel: KernelVariant,
    /// Worker threads (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    jobs: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Open `path` for writing now, so a bad path fails before the sweep runs.
fn create(path: &Path, what: &str) -> Result<std::fs::File, String> {
    std::fs::File::create(path).map_err(|e| format!("cannot write the {what} to {}: {e}", path.display()))
}

pub(super) fn cmd_sweep(args: &SweepArgs) -> ExitCode {
    match run(args) {
        Ok(code) => code,
        Err((code, e)) => {
            eprintln!("kmodel: {e}");
            ExitCode::from(code)
        }
    }
}

fn run(args: &SweepArgs) -> Result<ExitCode, (u8, String)> {
    let bad = |e: String| (EXIT_BAD_INPUT, e);
    let scenario = load(&args.file).map_err(bad)?;
    let params = args
        .params
        .iter()
        .map(|p| ParamRange::parse(p, args.steps as usize))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    for (i, p) in params.iter().enumerate() {
        if params[..i].iter().any(|q| q.name == p.name) {
            return Err(bad(format!("--param {}: given twice", p.name)));
        }
    }
    let buffer = match &args.buffer {
        Some(b) => b.clone(),
        None => {
            sweep::first_buffer(&scenario).ok_or_else(|| bad(format!("{}: no buffer to measure", scenario.path)))?
        }
    };
    sweep::check(&scenario, &buffer).map_err(bad)?;
    let total = sweep::runs(&params, args.seeds).map_err(bad)?;
    let csv_file = args.csv.as_deref().map(|p| create(p, "CSV")).transpose().map_err(bad)?;
    let svg_file = args.svg.as_deref().map(|p| create(p, "plot")).transpose().map_err(bad)?;
    let threads = args.jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), |j| j as usize);
    let config = SweepConfig {
        params,
        seeds: args.seeds,
        buffer,
        kernel: KernelConfig { variant: args.kernel, ..KernelConfig::default() },
        threads,
    };
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("sweep {bar:40} {pos}/{len} runs, {elapsed} elapsed, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let points = sweep::sweep(&scenario, &config, &|n| bar.set_position(n as u64)).map_err(|e| (EXIT_BACKEND, e))?;
    bar.finish_and_clear();
    eprintln!(
        "sweep: {} points x {} seeds = {total} runs on {threads} threads in {:.2} s (kernel {})",
        points.len(),
        config.seeds,
        started.elapsed().as_secs_f64(),
        config.kernel.variant
    );
    print_table(&config, &points);
    if let Some(mut f) = csv_file {
        let path = args.csv.as_deref().unwrap_or(Path::new(""));
        f.write_all(sweep::to_csv(&config, &points).as_bytes())
            .map_err(|e| (EXIT_BACKEND, format!("cannot write the CSV to {}: {e}", path.display())))?;
    }
    if let Some(mut f) = svg_file {
        let path = args.svg.as_deref().unwrap_or(Path::new(""));
        let name = args.file.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let title = format!("{name}: time until '{}' is reusable", config.buffer);
        let svg = sweep::plot::svg(&title, &config, &points).map_err(|e| (EXIT_BACKEND, e))?;
        f.write_all(svg.as_bytes())
            .map_err(|e| (EXIT_BACKEND, format!("cannot write the plot to {}: {e}", path.display())))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(config: &SweepConfig, points: &[sweep::Point]) {
    let mut head: Vec<String> = config.params.iter().map(|p| format!("{} ({})", p.name, unit(&p.name))).collect();
    head.extend(["p10 ms", "median ms", "p90 ms", "hazards", "never held"].map(String::from));
    outln!("{}", head.iter().map(|h| format!("{h:>12}")).collect::<String>());
    for pt in points {
        let mut row: Vec<String> =
            config.params.iter().zip(&pt.values).map(|(p, &v)| display_value(&p.name, v)).collect();
        for q in [0.1, 0.5, 0.9] {
            row.push(pt.quantile(q).map_or_else(|| "-".into(), |x| format!("{x:.2}")));
        }
        row.push(pt.hazards.to_string());
        row.push(pt.never_held.to_string());
        outln!("{}", row.iter().map(|c| format!("{c:>12}")).collect::<String>());
    }
}
