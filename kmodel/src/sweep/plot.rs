//! The sweep as an SVG plot (plotters' SVG backend, no fonts needed: the
//! viewer draws the text).
//!
//! The x axis is the first swept parameter; the y axis the buffer's time
//! until reusable. Each combination of the other parameters is one series:
//! its median as a line with points, its 10th to 90th percentile as a
//! translucent band.

use plotters::prelude::*;

use super::{Point, SweepConfig, display_value, unit};

const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
];

/// Draw `points` as an SVG document titled `title`.
///
/// # Errors
/// A drawing failure (plotters' message).
pub fn svg(title: &str, config: &SweepConfig, points: &[Point]) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (800, 500)).into_drawing_area();
        draw(&root, title, config, points).map_err(|e| format!("cannot draw the plot: {e}"))?;
        root.present().map_err(|e| format!("cannot draw the plot: {e}"))?;
    }
    Ok(out)
}

fn draw(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    title: &str,
    config: &SweepConfig,
    points: &[Point],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(erase)?;
    let x_name = config.params.first().map_or("run", |p| p.name.as_str());
    let x_of = |pt: &Point| -> f64 {
        match config.params.first() {
            Some(p) => display_value(&p.name, pt.values[0]).parse().unwrap_or(0.0),
            None => 0.0,
        }
    };
    let (mut x_lo, mut x_hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut y_hi: f64 = 0.0;
    for pt in points {
        x_lo = x_lo.min(x_of(pt));
        x_hi = x_hi.max(x_of(pt));
        if let Some(y) = pt.quantile(0.9) {
            y_hi = y_hi.max(y);
        }
    }
    if !x_lo.is_finite() {
        (x_lo, x_hi) = (0.0, 1.0);
    }
    if x_hi <= x_lo {
        x_hi = x_lo + 1.0;
    }
    let y_hi = if y_hi > 0.0 { y_hi * 1.1 } else { 1.0 };
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x_lo..x_hi, 0.0..y_hi)
        .map_err(erase)?;
    chart
        .configure_mesh()
        .x_desc(format!("{x_name} ({})", config.params.first().map_or("", |p| label_unit(&p.name))))
        .light_line_style(WHITE)
        .y_desc("time until reusable (ms)")
        .draw()
        .map_err(erase)?;
    // Series: points grouped by the values of the other parameters.
    let mut series: Vec<(Vec<u64>, Vec<&Point>)> = Vec::new();
    for pt in points {
        let key = pt.values.get(1..).unwrap_or(&[]).to_vec();
        match series.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(pt),
            None => series.push((key, vec![pt])),
        }
    }
    for (i, (key, pts)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let band: Vec<(f64, f64)> = pts
            .iter()
            .filter_map(|p| p.quantile(0.9).map(|y| (x_of(p), y)))
            .chain(pts.iter().rev().filter_map(|p| p.quantile(0.1).map(|y| (x_of(p), y))))
            .collect();
        if band.len() >= 3 {
            chart.draw_series(std::iter::once(Polygon::new(band, colour.mix(0.2).filled()))).map_err(erase)?;
        }
        let median: Vec<(f64, f64)> = pts.iter().filter_map(|p| p.quantile(0.5).map(|y| (x_of(p), y))).collect();
        let label = if key.is_empty() {
            "median (band: p10-p90)".to_string()
        } else {
            let parts: Vec<String> = config.params[1..]
                .iter()
                .zip(key)
                .map(|(p, &v)| format!("{}={}{}", p.name, display_value(&p.name, v), label_unit(&p.name)))
                .collect();
            format!("median (band: p10-p90), {}", parts.join(" "))
        };
        chart
            .draw_series(LineSeries::new(median.clone(), colour.stroke_width(2)))
            .map_err(erase)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart.draw_series(median.iter().map(|&(x, y)| Circle::new((x, y), 3, colour.filled()))).map_err(erase)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(erase)?;
    Ok(())
}

/// The unit as a label shows it (`%` rather than the CSV's `pct`).
fn label_unit(name: &str) -> &'static str {
    match unit(name) {
        "pct" => "%",
        u => u,
    }
}

fn erase(e: impl std::fmt::Display) -> String {
    e.to_string()
}
