//! The terminal timeline (`kmodel run FILE --timeline`): one row per lane
//! of pages, one column per operation, a letter for who holds the pages
//! after it, the user's writes and the hazards marked, the operations'
//! line numbers (and simulated milliseconds, when the network is involved)
//! in a ruler above.
//!
//! Wide runs wrap into blocks of columns while that stays readable (up to
//! [`MAX_BLOCKS`] blocks), and beyond that each column summarises several
//! operations, showing the most telling thing that happened in them
//! (hazard, then write, then the busiest holder). Many lanes are cut to
//! [`MAX_LANES`], lanes with hazards first. Colour (ANSI) is the caller's
//! choice ([`Style`]): `cli` picks it with `anstream`, which honours
//! `NO_COLOR`, `CLICOLOR_FORCE` and whether the stream is a terminal.

use std::fmt::Write as _;

use super::view::{LaneView, MarkKind, Row, RunView, Span};

/// Blocks a wide run may wrap into before columns summarise operations.
pub const MAX_BLOCKS: usize = 4;
/// Lanes drawn at most.
pub const MAX_LANES: usize = 48;
/// Hazards described at most below the chart.
pub const MAX_HAZARD_LINES: usize = 10;

/// How to draw.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Style {
    /// ANSI colours.
    pub color: bool,
    /// Columns of the terminal.
    pub width: usize,
}

impl Default for Style {
    fn default() -> Self {
        Style { color: false, width: 100 }
    }
}

/// What one cell shows, by rank: a higher rank wins when a column
/// summarises several operations.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Cell {
    Absent,
    Kernel,
    User,
    /// A kernel holder: its rank (what a summarising column prefers),
    /// then its letter.
    Busy(u8, char),
    KernelWrite(char),
    UserWrite,
    Hazard,
}

pub(super) const RESET: &str = "\x1b[0m";

impl Cell {
    pub(super) fn glyph(self) -> char {
        match self {
            Cell::Absent => ' ',
            Cell::Kernel => 'z',
            Cell::User => '-',
            Cell::Busy(_, c) | Cell::KernelWrite(c) => c,
            Cell::UserWrite => 'W',
            Cell::Hazard => '!',
        }
    }

    pub(super) fn color(self) -> &'static str {
        match self {
            Cell::Absent => "",
            Cell::Kernel | Cell::User => "\x1b[32m",
            Cell::Busy(..) => "\x1b[33m",
            Cell::KernelWrite(_) => "\x1b[33;4m",
            Cell::UserWrite => "\x1b[1;36m",
            Cell::Hazard => "\x1b[1;37;41m",
        }
    }
}

/// The cell for a busy letter, ranked: a column that summarises several
/// operations shows several holders over one, the network over a pipe,
/// a pipe over a page cache.
pub(super) fn busy(c: char) -> Cell {
    let rank = match c {
        'C' => 1,
        'P' => 2,
        'S' | 'R' => 3,
        '~' | 'A' => 4,
        _ => 5,
    };
    Cell::Busy(rank, c)
}

/// The letter for a set of holders: the busy kind, `*` for several (a
/// page cache, which always holds its file's pages, is named only alone).
pub(super) fn busy_letter(rows: &[Row]) -> Option<char> {
    let mut busy: Vec<Row> = rows.iter().copied().filter(|r| r.is_busy()).collect();
    if busy.len() > 1 {
        busy.retain(|r| *r != Row::PageCache);
    }
    match busy.as_slice() {
        [] => None,
        [r] => Some(match r {
            Row::Pipe => 'P',
            Row::PageCache => 'C',
            Row::Unsent => 'S',
            Row::OnTheWire => '~',
            Row::Unacked => 'A',
            Row::Receiver => 'R',
            Row::User | Row::Kernel => '?',
        }),
        _ => Some('*'),
    }
}

fn span_cell(s: &Span) -> Cell {
    match busy_letter(&s.rows) {
        Some(c) => busy(c),
        None if s.rows.contains(&Row::User) => Cell::User,
        None => Cell::Kernel,
    }
}

/// The cells of a lane, one per step.
fn lane_cells(lane: &LaneView, steps: usize) -> Vec<Cell> {
    let mut cells = vec![Cell::Absent; steps];
    for s in &lane.spans {
        let c = span_cell(s);
        for cell in &mut cells[s.from.min(steps)..s.to.min(steps)] {
            *cell = c;
        }
    }
    for m in &lane.marks {
        if m.step < steps {
            let under = cells[m.step];
            cells[m.step] = match m.kind {
                MarkKind::Hazard => Cell::Hazard,
                MarkKind::UserWrite => Cell::UserWrite,
                MarkKind::KernelWrite => Cell::KernelWrite(match under {
                    Cell::Busy(_, c) => c,
                    _ => 'w',
                }),
            }
            .max(under);
        }
    }
    cells
}

/// Milliseconds with up to three decimals, trailing zeros dropped.
pub fn ms(ns: u64) -> String {
    let s = format!("{:.3}", ns as f64 / 1e6);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}ms")
}

/// The lanes to draw: those with hazards first, then in order, at most
/// [`MAX_LANES`]; in lane order.
pub(super) fn shown_lanes(view: &RunView) -> Vec<usize> {
    let mut shown: Vec<usize> =
        (0..view.lanes.len()).filter(|&i| view.lanes[i].marks.iter().any(|m| m.kind == MarkKind::Hazard)).collect();
    shown.truncate(MAX_LANES);
    for i in 0..view.lanes.len() {
        if shown.len() >= MAX_LANES {
            break;
        }
        if !shown.contains(&i) {
            shown.push(i);
        }
    }
    shown.sort_unstable();
    shown
}

/// Draw the timeline of `view`.
pub fn chart(view: &RunView, style: Style) -> String {
    let mut out = String::new();
    let steps = view.steps.len();
    let axis = if view.time_axis == "ms" { "operations, with simulated time" } else { "operations" };
    let lanes = match view.lanes.len() {
        1 => "1 lane".to_string(),
        n => format!("{n} lanes"),
    };
    let head = format!("timeline of {}: ", view.path);
    wrap(
        &mut out,
        &head,
        &plain_items([format!("{lanes} of pages,").as_str(), &format!("{steps} {axis}")]),
        " ",
        style.width,
    );
    if steps == 0 || view.lanes.is_empty() {
        let _ = writeln!(out, "(no pages: nothing to draw)");
        blocked(&mut out, view);
        return out;
    }
    let shown = shown_lanes(view);
    let label_w = shown.iter().map(|&i| view.lanes[i].label.chars().count()).max().unwrap_or(4).clamp(8, 28);
    let avail = style.width.saturating_sub(label_w + 3).max(10);
    let (per_col, blocks) =
        if steps <= avail * MAX_BLOCKS { (1, steps.div_ceil(avail)) } else { (steps.div_ceil(avail), 1) };
    let cols = steps.div_ceil(per_col);
    if per_col > 1 {
        let _ = writeln!(out, "(each column summarises {per_col} operations; --html shows every one)");
    }
    let cells: Vec<Vec<Cell>> = shown
        .iter()
        .map(|&i| {
            let c = lane_cells(&view.lanes[i], steps);
            c.chunks(per_col).map(|ch| ch.iter().copied().max().unwrap_or(Cell::Absent)).collect()
        })
        .collect();
    let col_w = cols.div_ceil(blocks);
    for b in 0..blocks {
        let (c0, c1) = (b * col_w, ((b + 1) * col_w).min(cols));
        if c0 >= c1 {
            break;
        }
        if b > 0 {
            out.push('\n');
        }
        ruler(&mut out, view, style, label_w, per_col, c0, c1);
        for (k, &i) in shown.iter().enumerate() {
            let label: String = view.lanes[i].label.chars().take(label_w).collect();
            let _ = write!(out, "{label:<label_w$} |");
            let mut current = "";
            for &c in &cells[k][c0..c1] {
                if style.color && c.color() != current {
                    out.push_str(RESET);
                    out.push_str(c.color());
                    current = c.color();
                }
                out.push(c.glyph());
            }
            if style.color && !current.is_empty() {
                out.push_str(RESET);
            }
            out.push_str("|\n");
        }
    }
    if shown.len() < view.lanes.len() {
        let _ =
            writeln!(out, "... and {} more lanes not drawn (--html draws them all)", view.lanes.len() - shown.len());
    }
    legend(&mut out, view, style);
    holders(&mut out, view, &shown, style.width);
    if view.time_axis == "ms" {
        out.push_str(&super::time_chart::time_chart(view, style, &shown));
    }
    hazards(&mut out, view, style);
    out
}

/// Line numbers stacked vertically above each column, and simulated
/// milliseconds every ten columns when the network is involved.
fn ruler(out: &mut String, view: &RunView, style: Style, label_w: usize, per_col: usize, c0: usize, c1: usize) {
    let lines: Vec<String> = (c0..c1).map(|c| view.steps[c * per_col].line.to_string()).collect();
    let digits = lines.iter().map(String::len).max().unwrap_or(1);
    let dim = if style.color { "\x1b[2m" } else { "" };
    let reset = if style.color { RESET } else { "" };
    for d in 0..digits {
        let title = if d + 1 == digits { "line" } else { "" };
        let _ = write!(out, "{dim}{title:>label_w$}  ");
        for l in &lines {
            let pad = digits - l.len();
            out.push(if d < pad { ' ' } else { l.as_bytes()[d - pad] as char });
        }
        let _ = writeln!(out, "{reset}");
    }
    if view.time_axis == "ms" {
        let mut row = vec![' '; c1 - c0];
        let mut c = 0;
        while c < row.len() {
            let t = format!("|{}", ms(view.steps[(c0 + c) * per_col].time_ns));
            if c + t.len() > row.len() {
                break;
            }
            for (k, ch) in t.chars().enumerate() {
                row[c + k] = ch;
            }
            c += t.len().max(10) + 1;
        }
        let row: String = row.into_iter().collect();
        let _ = writeln!(out, "{dim}{:>label_w$}  {row}{reset}", "time");
    }
}

fn legend(out: &mut String, view: &RunView, style: Style) {
    let mut items = vec![(Cell::User, "user only (reusable)")];
    let used = |r: Row| view.lanes.iter().any(|l| l.rows.contains(&r));
    for (r, what) in [
        (Row::Pipe, "pipe"),
        (Row::PageCache, "page cache"),
        (Row::Unsent, "socket unsent"),
        (Row::OnTheWire, "on the wire"),
        (Row::Unacked, "socket unacked"),
        (Row::Receiver, "receiver queue"),
    ] {
        if used(r) {
            items.push((busy(busy_letter(&[r]).unwrap_or('?')), what));
        }
    }
    if used(Row::Kernel) {
        items.push((Cell::Kernel, "zero page"));
    }
    items.push((busy('*'), "several kinds (besides a page cache)"));
    items.push((Cell::UserWrite, "user write"));
    items.push((Cell::Hazard, "HAZARD: user write to a busy page"));
    let mut parts: Vec<(String, usize)> = items
        .into_iter()
        .map(|(c, what)| {
            let plain = format!("{} {what}", c.glyph());
            let shown = if style.color { format!("{}{}{RESET} {what}", c.color(), c.glyph()) } else { plain.clone() };
            (shown, plain.chars().count())
        })
        .collect();
    parts.push(("blank: no page".to_string(), 14));
    wrap(out, "key: ", &parts, ", ", style.width);
}

/// Write `head` then `items` separated by `sep`, starting a new line
/// (indented by four spaces) before an item that would pass `width`
/// columns. Items are `(text, visible width)`: the text may hold colours.
pub(super) fn wrap(out: &mut String, head: &str, items: &[(String, usize)], sep: &str, width: usize) {
    const INDENT: &str = "    ";
    out.push_str(head);
    let mut col = head.chars().count();
    for (k, (text, w)) in items.iter().enumerate() {
        let last = k + 1 == items.len();
        let tail = if last { 0 } else { sep.trim_end().len() };
        if k > 0 {
            if col + sep.len() + w + tail > width && col > INDENT.len() {
                out.push_str(sep.trim_end());
                out.push('\n');
                out.push_str(INDENT);
                col = INDENT.len();
            } else {
                out.push_str(sep);
                col += sep.len();
            }
        }
        out.push_str(text);
        col += w;
    }
    out.push('\n');
}

pub(super) fn plain_items<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<(String, usize)> {
    items.into_iter().map(|s| (s.to_string(), s.chars().count())).collect()
}

/// For each drawn lane, who held it from which line on.
fn holders(out: &mut String, view: &RunView, shown: &[usize], width: usize) {
    if shown.len() > 12 {
        return;
    }
    out.push_str("holders:\n");
    for &i in shown {
        let lane = &view.lanes[i];
        let parts: Vec<String> =
            lane.spans.iter().map(|s| format!("from {}: {}", view.steps[s.from].line, s.holders)).collect();
        wrap(out, &format!("  {}: ", lane.label), &plain_items(parts.iter().map(String::as_str)), "; ", width);
    }
}

fn hazards(out: &mut String, view: &RunView, style: Style) {
    let (red, reset) = if style.color { ("\x1b[1;31m", RESET) } else { ("", "") };
    let all: Vec<_> = view.steps.iter().filter(|s| s.hazard.is_some()).collect();
    for s in all.iter().take(MAX_HAZARD_LINES) {
        let head = format!("{red}HAZARD{reset} at line {}: '{}' wrote to pages still in flight:", s.line, s.text);
        let visible = head.chars().count() - red.len() - reset.len();
        let mut items = vec![(head, visible)];
        let clauses: Vec<&str> = s.hazard.as_deref().unwrap_or("").split("; ").collect();
        let n = clauses.len();
        items.extend(clauses.iter().enumerate().map(|(k, c)| {
            let c = if k + 1 < n { format!("{c};") } else { (*c).to_string() };
            let w = c.chars().count();
            (c, w)
        }));
        wrap(out, "", &items, " ", style.width);
    }
    if all.len() > MAX_HAZARD_LINES {
        let _ = writeln!(out, "... and {} more hazards (--html lists them all)", all.len() - MAX_HAZARD_LINES);
    }
    blocked(out, view);
}

fn blocked(out: &mut String, view: &RunView) {
    if let Some(s) = view.steps.last().filter(|s| s.blocked) {
        let _ = writeln!(out, "line {}: '{}' blocked forever", s.line, s.text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KernelConfig;
    use crate::render::record;

    fn view(text: &str) -> RunView {
        let s = crate::scenario::parse("t.scenario", text).unwrap();
        record(&s, text, KernelConfig::default()).unwrap()
    }

    #[test]
    fn lane_row_shows_write_busy_hazard_and_free_in_order() {
        let v = view("buffer b 1\npipe p\nfill b 'x'\nvmsplice p.w b\nfill b 'y'\nread p.r 4096\n");
        let c = chart(&v, Style::default());
        let lane = c.lines().find(|l| l.starts_with("b page 0")).unwrap();
        assert!(lane.ends_with("|  WP!-|"), "{lane}");
        assert!(c.contains("HAZARD at line 5"));
        assert!(!c.contains('\x1b'));
        let coloured = chart(&v, Style { color: true, width: 100 });
        assert!(coloured.contains("\x1b[1;37;41m!"), "the hazard in red");
    }

    #[test]
    fn long_run_summarises_columns_keeping_the_hazard_visible() {
        let mut text = String::from("buffer b 1\npipe p\n");
        for _ in 0..300 {
            text.push_str("fill b 'x'\nvmsplice p.w b\nread p.r 4096\n");
        }
        text.push_str("vmsplice p.w b\nfill b 'z'\n");
        let v = view(&text);
        let c = chart(&v, Style { color: false, width: 80 });
        assert!(c.contains("each column summarises"), "{c}");
        let lane = c.lines().find(|l| l.starts_with("b page 0")).unwrap();
        assert!(lane.chars().count() <= 80 && lane.trim_end_matches('|').ends_with('!'), "{lane}");
    }

    #[test]
    fn narrow_width_wraps_key_holders_and_hazard_between_items() {
        let v =
            view("buffer b 2\npipe p\npipe q\nfill b 'x'\nvmsplice p.w b\ntee p.r q.w 2p\nread p.r 2p\nfill b 'y'\n");
        let c = chart(&v, Style { color: false, width: 70 });
        let wide: Vec<&str> = c.lines().filter(|l| l.chars().count() > 70).collect();
        assert!(wide.is_empty(), "{wide:#?}\n{c}");
        // Breaks fall between items, each continuation indented.
        assert!(c.contains("\n    W user write,") || c.contains(", W user write,"), "{c}");
        assert!(c.contains("\n    ! HAZARD: user write to a busy page,"), "{c}");
        assert!(
            c.contains("HAZARD at line 8: 'fill b 'y'' wrote to pages still in flight:\n    b pages 0-1 are held"),
            "{c}"
        );
        let unwrapped = chart(&v, Style { color: false, width: 200 });
        assert!(unwrapped.contains("busy page, blank: no page\n"), "{unwrapped}");
        // Colour codes do not count as columns.
        let coloured = chart(&v, Style { color: true, width: 70 });
        assert_eq!(coloured.lines().count(), c.lines().count(), "{coloured}");
    }

    #[test]
    fn empty_run_says_there_is_nothing_to_draw() {
        let c = chart(&view("pipe p\n"), Style::default());
        assert!(c.contains("no pages"));
    }

    #[test]
    fn ms_drops_trailing_zeros() {
        assert_eq!(ms(0), "0ms");
        assert_eq!(ms(26_500_000), "26.5ms");
        assert_eq!(ms(1_234_567), "1.235ms");
    }
}
