//! `explore`: how fast `kmodel explore` walks the double-buffer stories,
//! and how long each loom model takes in release mode.
//!
//! Criterion measures the exhaustive, preemption-bound-2 exploration of
//! `scenarios/explore_double_buffer_wait.scenario` (the safe version, three
//! threads: every schedule is explored, none is cut short by a violation),
//! with the state cache and without it, and the search that finds the
//! hazard in `explore_double_buffer_tee.scenario`. After criterion's groups
//! the benchmark times the exhaustive exploration itself (median of 5 runs
//! with the cache, 3 without, in this run) and prints schedules, states and
//! pruned states per second and the ratio, then the wall time of each loom
//! model when the loom test binaries are already built (`./check` builds
//! them in `target/loom`), and ends its output with the line
//!
//! ```text
//! explore double_buffer seconds = X.XX
//! ```
//!
//! In criterion's quick mode (`-- --test`) it runs each exploration once
//! and skips the loom timings.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use kmodel::explore::{ExploreConfig, explore};
use kmodel::scenario::{self, Scenario};

fn story(name: &str) -> Scenario {
    let path = root().join("scenarios").join(format!("{name}.scenario"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    scenario::parse(name, &text).unwrap_or_else(|e| panic!("{e}"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn quick_mode() -> bool {
    std::env::args().any(|a| a == "--test")
}

fn bound2() -> ExploreConfig {
    ExploreConfig { bound: 2, ..ExploreConfig::default() }
}

fn bound2_no_reduction() -> ExploreConfig {
    ExploreConfig { reduction: false, ..bound2() }
}

/// The median of `runs` exhaustive explorations of `sc` under `config`:
/// (seconds, schedules, states, pruned).
fn median(sc: &Scenario, config: &ExploreConfig, runs: usize) -> (f64, u64, u64, u64) {
    let mut times: Vec<(f64, u64, u64, u64)> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let s = explore(sc, config, &mut |_| {}).expect("explores");
            assert!(s.finding.is_none() && s.complete, "the wait story must be safe and fully explored");
            let p = s.progress;
            (start.elapsed().as_secs_f64(), p.schedules, p.states, p.pruned)
        })
        .collect();
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    times[times.len() / 2]
}

/// The loom test binaries under `target/loom/release/deps`, newest first
/// per name.
fn loom_binaries() -> Vec<(String, PathBuf)> {
    let deps = root().join("target/loom/release/deps");
    let mut found: Vec<(String, PathBuf, std::time::SystemTime)> = Vec::new();
    let Ok(entries) = std::fs::read_dir(&deps) else { return Vec::new() };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some((stem, _hash)) = name.split_once('-') else { continue };
        if !stem.starts_with("loom_") || name.contains('.') {
            continue;
        }
        let Ok(meta) = e.metadata() else { continue };
        let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
        match found.iter_mut().find(|(s, _, _)| s == stem) {
            Some(f) if f.2 < modified => *f = (stem.to_string(), e.path(), modified),
            Some(_) => {}
            None => found.push((stem.to_string(), e.path(), modified)),
        }
    }
    found.sort();
    found.into_iter().map(|(s, p, _)| (s, p)).collect()
}

/// Run one loom test binary (every model and twin in it) and time it.
fn time_loom(binary: &Path) -> Option<Duration> {
    let start = Instant::now();
    let status = Command::new(binary)
        .args(["--test-threads", "1", "-q"])
        .env("LOOM_MAX_PREEMPTIONS", "2")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then(|| start.elapsed())
}

fn main() {
    let wait = story("explore_double_buffer_wait");
    let tee = story("explore_double_buffer_tee");
    let mut c = Criterion::default().configure_from_args().sample_size(10).measurement_time(Duration::from_secs(3));
    let states = explore(&wait, &bound2(), &mut |_| {}).expect("explores").progress.states;
    {
        let mut g = c.benchmark_group("explore");
        g.throughput(Throughput::Elements(states));
        g.bench_function("double_buffer_wait_bound2_exhaustive", |b| {
            b.iter(|| black_box(explore(&wait, &bound2(), &mut |_| {}).expect("explores")))
        });
        let states = explore(&wait, &bound2_no_reduction(), &mut |_| {}).expect("explores").progress.states;
        g.throughput(Throughput::Elements(states));
        g.bench_function("double_buffer_wait_bound2_exhaustive_no_reduction", |b| {
            b.iter(|| black_box(explore(&wait, &bound2_no_reduction(), &mut |_| {}).expect("explores")))
        });
        g.throughput(Throughput::Elements(1));
        g.bench_function("double_buffer_tee_find_hazard", |b| {
            b.iter(|| black_box(explore(&tee, &bound2(), &mut |_| {}).expect("explores")))
        });
        g.finish();
    }
    c.final_summary();

    let quick = quick_mode();
    let (secs, schedules, states, pruned) = median(&wait, &bound2(), if quick { 1 } else { 5 });
    println!(
        "explore double_buffer: {schedules} schedules, {states} states, {pruned} pruned (state cache), \
         {:.0} schedules/s, {:.0} states/s",
        schedules as f64 / secs,
        states as f64 / secs
    );
    let (full, full_schedules, full_states, _) = median(&wait, &bound2_no_reduction(), if quick { 1 } else { 3 });
    println!(
        "explore double_buffer without state cache: {full_schedules} schedules, {full_states} states, {:.2} s, \
         {:.0} schedules/s, {:.0} states/s",
        full,
        full_schedules as f64 / full,
        full_states as f64 / full
    );
    println!(
        "explore double_buffer state cache: {:.1}x fewer states, {:.1}x faster",
        full_states as f64 / states as f64,
        full / secs
    );
    if quick_mode() {
        println!("loom models: skipped in quick mode");
    } else {
        let bins = loom_binaries();
        if bins.is_empty() {
            println!("loom models: not built (./check builds them in target/loom)");
        }
        for (name, path) in bins {
            match time_loom(&path) {
                Some(d) => println!("loom {name} seconds = {:.2} (release, LOOM_MAX_PREEMPTIONS=2)", d.as_secs_f64()),
                None => println!("loom {name}: failed to run"),
            }
        }
    }
    println!("explore double_buffer seconds = {secs:.2}");
}
