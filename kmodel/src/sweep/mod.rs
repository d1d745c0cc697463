//! `kmodel sweep`: one scenario over a grid of link parameters.
//!
//! A sweep takes a scenario with at least one simulated link (`tcp NAME
//! link ...`) and a range per parameter (`rtt=1ms..200ms`,
//! `loss=0..5%`), cuts each range into `steps` evenly spaced values, and
//! runs the scenario on the model at every point of the grid, once per
//! seed (seed `k` adds `k` to every link's `seed`). The runs are
//! independent, so they go in parallel on every core
//! (`std::thread::scope`, a shared atomic cursor over the jobs).
//!
//! Each run is [`measure`]d: the number of hazards (stores into pages a
//! kernel object still held) and the buffer's **time until reusable**:
//! the simulated time from the first moment a kernel object (pipe slot,
//! socket queue, page cache) took a reference to one of the buffer's own
//! pages, normally its first `vmsplice` or `send`, until the moment no
//! kernel object holds any of them any more (read from the page event
//! log, so it includes the end of the run, when the descriptors close and
//! the network settles). Per point the seeds give a distribution, reported
//! by its quantiles ([`Point`]), written as CSV ([`to_csv`]) and drawn as
//! SVG ([`plot::svg`]: the median as a line, the 10th to 90th percentile
//! as a band).

mod measure;
pub mod plot;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use measure::{Measurement, measure, time_until_reusable};

use crate::kernel::KernelConfig;
use crate::scenario::{ObjKind, Scenario};

/// The link parameters a sweep can vary (`seed` is varied by `--seeds`).
pub const PARAMS: [&str; 6] = ["rtt", "loss", "reorder", "bw", "mss", "delack"];

/// A swept parameter and its values, in the link's own units (ns for
/// times, parts per million for probabilities, bit/s, bytes).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamRange {
    /// `rtt`, `loss`...
    pub name: String,
    /// The values, ascending.
    pub values: Vec<u64>,
}

impl ParamRange {
    /// Parse `NAME=LO..HI` (or `NAME=VALUE`, a single point) into `steps`
    /// evenly spaced values. A bound without a unit takes the other's
    /// (`loss=0..5%`).
    ///
    /// # Errors
    /// An unknown parameter, a value the link would refuse, an empty or
    /// reversed range, fewer than 2 steps for a range.
    pub fn parse(text: &str, steps: usize) -> Result<ParamRange, String> {
        let (name, range) = text
            .split_once('=')
            .ok_or_else(|| format!("--param {text}: expected NAME=LO..HI, like rtt=1ms..200ms or loss=0..5%"))?;
        if !PARAMS.contains(&name) {
            let hint = if name == "seed" { " (the seed varies with --seeds)" } else { "" };
            return Err(format!(
                "--param {text}: unknown parameter '{name}': expected one of {}{hint}",
                PARAMS.join(", ")
            ));
        }
        let value = |v: &str| -> Result<u64, String> {
            if v.is_empty() {
                return Err(format!("--param {text}: empty range: expected NAME=LO..HI with both bounds"));
            }
            read_param(name, v).map_err(|e| format!("--param {text}: {e}"))
        };
        let Some((lo, hi)) = range.split_once("..") else {
            return Ok(ParamRange { name: name.into(), values: vec![value(range)?] });
        };
        let (lo, hi) = (with_unit_of(lo, hi), with_unit_of(hi, lo));
        let (lo, hi) = (value(&lo)?, value(&hi)?);
        if lo == hi {
            return Err(format!("--param {text}: empty range: both bounds are equal (give one value: {name}=VALUE)"));
        }
        if lo > hi {
            return Err(format!("--param {text}: reversed range: the first bound must be below the second"));
        }
        if steps < 2 {
            return Err(format!("--steps {steps}: a range needs at least 2 steps"));
        }
        let values = (0..steps)
            .map(|i| lo + (u128::from(hi - lo) * i as u128 / (steps - 1) as u128) as u64)
            .collect::<Vec<u64>>();
        let mut values = values;
        values.dedup();
        Ok(ParamRange { name: name.into(), values })
    }
}

/// `lo` with `other`'s unit when `lo` is a bare number and `other` is not.
fn with_unit_of(lo: &str, other: &str) -> String {
    let unit = |s: &str| s.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.').to_string();
    if !lo.is_empty() && unit(lo).is_empty() && !unit(other).is_empty() {
        format!("{lo}{}", unit(other))
    } else {
        lo.to_string()
    }
}

/// Parse one value of parameter `name` as the link does, into its units.
fn read_param(name: &str, v: &str) -> Result<u64, String> {
    let mut p = tcp_sim::LinkParams::default();
    p.set(name, v)?;
    Ok(get_param(&p, name))
}

fn get_param(p: &tcp_sim::LinkParams, name: &str) -> u64 {
    match name {
        "rtt" => p.rtt.0,
        "delack" => p.delack.0,
        "loss" => u64::from(p.loss_ppm),
        "reorder" => u64::from(p.reorder_ppm),
        "bw" => p.bandwidth,
        "mss" => u64::from(p.mss),
        _ => unreachable!("checked against PARAMS"),
    }
}

fn set_param(p: &mut tcp_sim::LinkParams, name: &str, v: u64) {
    match name {
        "rtt" => p.rtt = tcp_sim::Duration(v),
        "delack" => p.delack = tcp_sim::Duration(v),
        "loss" => p.loss_ppm = v as u32,
        "reorder" => p.reorder_ppm = v as u32,
        "bw" => p.bandwidth = v,
        "mss" => p.mss = v as u32,
        _ => unreachable!("checked against PARAMS"),
    }
}

/// A parameter's value for people, and its column's unit.
pub fn display_value(name: &str, v: u64) -> String {
    match name {
        "rtt" | "delack" => trim(v as f64 / 1e6),
        "loss" | "reorder" => trim(v as f64 / 1e4),
        "bw" => trim(v as f64 / 1e6),
        _ => v.to_string(),
    }
}

/// The unit [`display_value`] uses for `name`.
pub fn unit(name: &str) -> &'static str {
    match name {
        "rtt" | "delack" => "ms",
        "loss" | "reorder" => "pct",
        "bw" => "mbit",
        _ => "bytes",
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// What to sweep.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    /// The parameters, in the order given; the grid is their product.
    pub params: Vec<ParamRange>,
    /// Runs per point; run `k` adds `k` to each link's seed.
    pub seeds: u64,
    /// The buffer whose time until reusable is measured.
    pub buffer: String,
    /// The kernel to run.
    pub kernel: KernelConfig,
    /// Worker threads (at least 1).
    pub threads: usize,
}

/// One point of the grid and what its runs measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The parameters' values, in [`SweepConfig::params`] order.
    pub values: Vec<u64>,
    /// Time until reusable of each run where a kernel object held the
    /// buffer, in ms, sorted.
    pub reusable_ms: Vec<f64>,
    /// Runs where no kernel object ever held the buffer.
    pub never_held: usize,
    /// Hazards over all the point's runs.
    pub hazards: usize,
    /// Runs with a failed `expect`.
    pub expect_failed: usize,
    /// Runs that blocked forever.
    pub blocked: usize,
    /// Bytes the kernel copied, over all the point's runs.
    pub copied_bytes: u64,
}

impl Point {
    /// The `q` quantile (0..=1) of the times, linearly interpolated.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        quantile(&self.reusable_ms, q)
    }
}

/// The `q` quantile of sorted `v`, linearly interpolated.
pub fn quantile(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    let next = v.get(i + 1).copied().unwrap_or(v[i]);
    Some(v[i] + (next - v[i]) * frac)
}

/// Check that `scenario` can be swept: it has a link and the buffer.
///
/// # Errors
/// What is missing, naming the file.
pub fn check(scenario: &Scenario, buffer: &str) -> Result<(), String> {
    if !scenario.objects.iter().any(|o| matches!(o.kind, ObjKind::Tcp { link: Some(_) })) {
        return Err(format!(
            "{}: no simulated link to sweep: declare one with 'tcp NAME link rtt=...' (loopback pairs have no parameters)",
            scenario.path
        ));
    }
    if !scenario.objects.iter().any(|o| o.name == buffer && matches!(o.kind, ObjKind::Buffer { .. })) {
        let names: Vec<&str> = scenario
            .objects
            .iter()
            .filter(|o| matches!(o.kind, ObjKind::Buffer { .. }))
            .map(|o| o.name.as_str())
            .collect();
        return Err(format!("{}: no buffer named '{buffer}' (buffers: {})", scenario.path, names.join(", ")));
    }
    Ok(())
}

/// The first buffer the scenario declares.
pub fn first_buffer(scenario: &Scenario) -> Option<String> {
    scenario.objects.iter().find(|o| matches!(o.kind, ObjKind::Buffer { .. })).map(|o| o.name.clone())
}

/// The most runs (points x seeds) one sweep may ask for.
pub const MAX_RUNS: u64 = 1_000_000;

/// The number of runs `params` x `seeds` asks for.
///
/// # Errors
/// More than [`MAX_RUNS`].
pub fn runs(params: &[ParamRange], seeds: u64) -> Result<u64, String> {
    params
        .iter()
        .try_fold(seeds, |n, p| n.checked_mul(p.values.len() as u64))
        .filter(|&n| n <= MAX_RUNS)
        .ok_or_else(|| {
            let sizes: Vec<String> = params.iter().map(|p| p.values.len().to_string()).collect();
            format!(
                "the grid ({} points) x {seeds} seeds is more than {MAX_RUNS} runs: use fewer --steps, parameters or --seeds",
                sizes.join(" x ")
            )
        })
}

/// Every point of the grid, in row-major order (the last parameter varies
/// fastest).
pub fn grid(params: &[ParamRange]) -> Vec<Vec<u64>> {
    let mut points = vec![Vec::new()];
    for p in params {
        points =
            points.into_iter().flat_map(|pt| p.values.iter().map(move |&v| [pt.clone(), vec![v]].concat())).collect();
    }
    points
}

/// The scenario with every link's parameters set to `values` and its seed
/// moved by `seed`.
fn configure(scenario: &Scenario, params: &[ParamRange], values: &[u64], seed: u64) -> Scenario {
    let mut s = scenario.clone();
    for o in &mut s.objects {
        if let ObjKind::Tcp { link: Some(p) } = &mut o.kind {
            for (param, &v) in params.iter().zip(values) {
                set_param(p, &param.name, v);
            }
            p.seed = p.seed.wrapping_add(seed);
        }
    }
    s
}

/// Run the sweep; `progress` is called after each run (from the worker
/// threads) with the runs done so far.
///
/// # Errors
/// The first model failure, naming the point and seed.
pub fn sweep(
    scenario: &Scenario,
    config: &SweepConfig,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Point>, String> {
    check(scenario, &config.buffer)?;
    runs(&config.params, config.seeds)?;
    let points = grid(&config.params);
    let jobs: Vec<(usize, u64)> = (0..points.len()).flat_map(|p| (0..config.seeds).map(move |s| (p, s))).collect();
    let results: Mutex<Vec<Option<Result<Measurement, String>>>> = Mutex::new(vec![None; jobs.len()]);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..config.threads.max(1) {
            scope.spawn(|| {
                loop {
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(p, seed)) = jobs.get(j) else { break };
                    let sc = configure(scenario, &config.params, &points[p], seed);
                    let r = measure(&sc, config.kernel).map_err(|e| {
                        let at: Vec<String> = config
                            .params
                            .iter()
                            .zip(&points[p])
                            .map(|(pr, &v)| format!("{}={}{}", pr.name, display_value(&pr.name, v), unit(&pr.name)))
                            .collect();
                        format!("{}: at {} seed +{seed}: {e}", scenario.path, at.join(" "))
                    });
                    results.lock().unwrap_or_else(|e| e.into_inner())[j] = Some(r);
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut out: Vec<Point> = points
        .iter()
        .map(|v| Point {
            values: v.clone(),
            reusable_ms: Vec::new(),
            never_held: 0,
            hazards: 0,
            expect_failed: 0,
            blocked: 0,
            copied_bytes: 0,
        })
        .collect();
    for (&(p, _), r) in jobs.iter().zip(results) {
        let m = r.expect("every job ran")?;
        let pt = &mut out[p];
        match m.reusable_ns.iter().find(|(n, _)| *n == config.buffer).and_then(|(_, t)| *t) {
            Some(ns) => pt.reusable_ms.push(ns as f64 / 1e6),
            None => pt.never_held += 1,
        }
        pt.hazards += m.hazards;
        pt.expect_failed += usize::from(m.report.expect_failed());
        pt.blocked += usize::from(m.report.blocked.is_some());
        pt.copied_bytes += m.copied_bytes;
    }
    for pt in &mut out {
        pt.reusable_ms.sort_by(f64::total_cmp);
    }
    Ok(out)
}

/// The sweep as CSV: one row per point.
pub fn to_csv(config: &SweepConfig, points: &[Point]) -> String {
    let mut head: Vec<String> = config.params.iter().map(|p| format!("{}_{}", p.name, unit(&p.name))).collect();
    head.extend(
        [
            "runs",
            "never_held",
            "reusable_min_ms",
            "reusable_p10_ms",
            "reusable_median_ms",
            "reusable_p90_ms",
            "reusable_max_ms",
            "hazards",
            "expect_failed",
            "blocked",
            "copied_bytes_per_run",
        ]
        .map(String::from),
    );
    let mut out = head.join(",") + "\n";
    let q = |pt: &Point, q: f64| pt.quantile(q).map(|x| format!("{x:.3}")).unwrap_or_default();
    for pt in points {
        let mut row: Vec<String> =
            config.params.iter().zip(&pt.values).map(|(p, &v)| display_value(&p.name, v)).collect();
        row.push(config.seeds.to_string());
        row.push(pt.never_held.to_string());
        for x in [0.0, 0.1, 0.5, 0.9, 1.0] {
            row.push(q(pt, x));
        }
        row.push(pt.hazards.to_string());
        row.push(pt.expect_failed.to_string());
        row.push(pt.blocked.to_string());
        row.push((pt.copied_bytes / config.seeds.max(1)).to_string());
        out += &(row.join(",") + "\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_range_rtt_cut_into_steps() {
        let r = ParamRange::parse("rtt=10ms..50ms", 5).unwrap();
        assert_eq!(r.values, [10, 20, 30, 40, 50].map(|ms| ms * 1_000_000));
    }

    #[test]
    fn param_range_bare_bound_takes_unit_of_other() {
        let r = ParamRange::parse("loss=0..5%", 3).unwrap();
        assert_eq!(r.values, [0, 25_000, 50_000]);
    }

    #[test]
    fn param_range_bad_input_clear_errors() {
        let e = ParamRange::parse("jitter=1..2ms", 3).unwrap_err();
        assert!(e.contains("unknown parameter 'jitter'") && e.contains("rtt, loss"), "{e}");
        let e = ParamRange::parse("rtt=200ms..1ms", 3).unwrap_err();
        assert!(e.contains("reversed range"), "{e}");
        let e = ParamRange::parse("rtt=5ms..5ms", 3).unwrap_err();
        assert!(e.contains("empty range"), "{e}");
        let e = ParamRange::parse("rtt=..", 3).unwrap_err();
        assert!(e.contains("empty range"), "{e}");
        let e = ParamRange::parse("loss=0..150%", 3).unwrap_err();
        assert!(e.contains("above 100%"), "{e}");
        let e = ParamRange::parse("rtt", 3).unwrap_err();
        assert!(e.contains("expected NAME=LO..HI"), "{e}");
    }

    #[test]
    fn grid_product_last_fastest() {
        let a = ParamRange { name: "rtt".into(), values: vec![1, 2] };
        let b = ParamRange { name: "loss".into(), values: vec![7, 8, 9] };
        let g = grid(&[a, b]);
        assert_eq!(g.len(), 6);
        assert_eq!(g[0], [1, 7]);
        assert_eq!(g[1], [1, 8]);
        assert_eq!(g[5], [2, 9]);
    }

    #[test]
    fn quantile_interpolates() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert_eq!(quantile(&v, 0.1), Some(1.4));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
