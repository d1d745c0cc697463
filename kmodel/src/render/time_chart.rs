//! The terminal timeline in simulated milliseconds, drawn under the
//! operations chart when the network is involved: the same lanes, but a
//! column is a slice of simulated time, so an RTT, a delayed ACK or a
//! retransmission timeout has its true length. The holders come from the
//! trace's page events, which carry their own time (an ACK that arrives
//! during `advance 100ms` releases the page at 40 ms, not at the end of the
//! step); events only tell a socket's send queue (`S`) from its receive
//! queue (`R`), not whether a packet is on the wire.

use std::fmt::Write as _;

use super::chart::{Cell, RESET, busy, busy_letter, ms};
use super::view::{MarkKind, Row, RunView, TraceEvent};

/// The row an event's holder occupies.
fn row_of(kind: &str, object: u32) -> Row {
    match kind {
        "user" => Row::User,
        "pipe" => Row::Pipe,
        "page_cache" => Row::PageCache,
        "socket" if object % 2 == 1 => Row::Receiver,
        "socket" => Row::Unsent,
        _ => Row::Kernel,
    }
}

/// The cell for a set of holder rows (counts per row, [`Row::ALL`] order).
fn cell_of(counts: &[u32; 8]) -> Cell {
    let rows: Vec<Row> = Row::ALL.iter().copied().zip(counts).filter(|(_, c)| **c > 0).map(|(r, _)| r).collect();
    match busy_letter(&rows) {
        _ if rows.is_empty() => Cell::Absent,
        Some(c) => busy(c),
        None if rows.contains(&Row::User) => Cell::User,
        None => Cell::Kernel,
    }
}

/// The smallest of 1, 2, 5 x 10^k nanoseconds at least `min`.
fn nice_step(min: u64) -> u64 {
    let mut p = 1u64;
    loop {
        for m in [1, 2, 5] {
            if m * p >= min {
                return m * p;
            }
        }
        p = p.saturating_mul(10);
    }
}

fn row_index(r: Row) -> usize {
    Row::ALL.iter().position(|x| *x == r).unwrap_or(0)
}

/// The chart of `shown` lanes against simulated time; empty if no time
/// passed.
pub(super) fn time_chart(view: &RunView, style: super::Style, shown: &[usize]) -> String {
    let end = view.steps.last().map_or(0, |s| s.time_ns);
    if end == 0 || shown.is_empty() {
        return String::new();
    }
    let label_w = shown.iter().map(|&i| view.lanes[i].label.chars().count()).max().unwrap_or(4).clamp(8, 28);
    let cols = style.width.saturating_sub(label_w + 3).clamp(10, 200);
    // Nanoseconds per column: the smallest 1, 2 or 5 times a power of ten
    // that fits the run in `cols` columns.
    let per = nice_step(end / cols as u64 + 1);
    let col = |t: u64| ((t / per) as usize).min(cols - 1);
    let mut out = String::new();
    let _ = writeln!(out, "\nthe same lanes in simulated time (one column = {}):", ms(per));
    // Ruler: time every 12 columns or so, then the first line started in
    // each stretch.
    let mut times = vec![' '; cols];
    let mut lines = vec![' '; cols];
    let put = |row: &mut Vec<char>, c: usize, text: &str| {
        if c + text.len() <= row.len() && row[c..c + text.len()].iter().all(|ch| *ch == ' ') {
            for (k, ch) in text.chars().enumerate() {
                row[c + k] = ch;
            }
            true
        } else {
            false
        }
    };
    let last = col(end);
    let every = (1..).map(|k| [1, 2, 5][k % 3] * 10usize.pow(k as u32 / 3)).find(|&e| e >= 12).unwrap_or(12);
    for c in (0..=last).step_by(every) {
        let _ = put(&mut times, c, &format!("|{}", ms(c as u64 * per)));
    }
    let mut start = 0u64;
    for s in &view.steps {
        let _ = put(&mut lines, col(start), &format!("^{}", s.line));
        start = s.time_ns;
    }
    let (dim, reset) = if style.color { ("\x1b[2m", RESET) } else { ("", "") };
    let _ = writeln!(out, "{dim}{:>label_w$}  {}{reset}", "time", times.iter().collect::<String>());
    let _ = writeln!(out, "{dim}{:>label_w$}  {}{reset}", "line", lines.iter().collect::<String>());
    for &li in shown {
        let lane = &view.lanes[li];
        // Holders per frame, replayed from the lane's page events.
        let mut frames: Vec<(String, [u32; 8])> = Vec::new();
        let mut cells = vec![Cell::Absent; cols];
        let mut current = Cell::Absent;
        let mut at = 0usize;
        for e in &view.events {
            let TraceEvent::Page { lane: Some(l), page, event, holder, time_ns, .. } = e else { continue };
            if *l != li {
                continue;
            }
            let c = col(*time_ns);
            while at < c {
                cells[at] = cells[at].max(current);
                at += 1;
                cells[at] = current;
            }
            let f = match frames.iter().position(|(p, _)| p == page) {
                Some(f) => f,
                None => {
                    frames.push((page.clone(), [0; 8]));
                    frames.len() - 1
                }
            };
            if let Some(h) = holder {
                let r = row_index(row_of(&h.kind, h.object));
                match event.as_str() {
                    "alloc" | "get" => frames[f].1[r] += 1,
                    "put" => frames[f].1[r] = frames[f].1[r].saturating_sub(1),
                    _ => {}
                }
            }
            // Frames that move together share a state: show the busiest.
            current = frames.iter().map(|(_, counts)| cell_of(counts)).max().unwrap_or(Cell::Absent);
            cells[c] = cells[c].max(current);
        }
        while at + 1 < cols && at < col(end) {
            at += 1;
            cells[at] = current;
        }
        for m in &lane.marks {
            let t = if m.step == 0 { 0 } else { view.steps[m.step - 1].time_ns };
            let cell = match m.kind {
                MarkKind::Hazard => Cell::Hazard,
                MarkKind::UserWrite => Cell::UserWrite,
                MarkKind::KernelWrite => continue,
            };
            cells[col(t)] = cells[col(t)].max(cell);
        }
        let label: String = lane.label.chars().take(label_w).collect();
        let _ = write!(out, "{label:<label_w$} |");
        let mut cur = "";
        for c in &cells[..=last] {
            if style.color && c.color() != cur {
                out.push_str(RESET);
                out.push_str(c.color());
                cur = c.color();
            }
            out.push(c.glyph());
        }
        if style.color && !cur.is_empty() {
            out.push_str(RESET);
        }
        out.push_str("|\n");
    }
    let key = ["S: in a socket's send queue, unsent or unacknowledged;", "R: in the receiver's queue"];
    super::chart::wrap(&mut out, "key: ", &super::chart::plain_items(key), " ", style.width);
    out
}

#[cfg(test)]
mod tests {
    use crate::kernel::KernelConfig;
    use crate::render::{Style, chart, record};

    #[test]
    fn page_held_until_the_ack_spans_one_rtt_of_columns() {
        let text = "tcp t link rtt=50ms\nbuffer b 1\npipe p\nfill b 'A'\nvmsplice p.w b\nsplice p.r t.tx 4096\n\
                    advance 80ms\n";
        let s = crate::scenario::parse("t.scenario", text).unwrap();
        let v = record(&s, text, KernelConfig::default()).unwrap();
        let c = chart(&v, Style { color: false, width: 120 });
        let (_, timed) = c.split_once("in simulated time (one column = 1ms)").expect("1 ms columns for 80 ms");
        let lane = timed.lines().find(|l| l.starts_with("b page 0")).unwrap();
        let held = lane.matches('S').count();
        assert!((48..=53).contains(&held), "held for about one RTT (50 ms): {held} columns in {lane}");
        assert!(lane.trim_end_matches('|').ends_with('-'), "free after the ACK: {lane}");
        assert!(timed.contains("|0ms") && timed.contains("|20ms"), "{timed}");
    }

    #[test]
    fn run_without_time_has_no_time_chart() {
        let text = "buffer b 1\npipe p\nfill b 'A'\nvmsplice p.w b\n";
        let s = crate::scenario::parse("t.scenario", text).unwrap();
        let v = record(&s, text, KernelConfig::default()).unwrap();
        assert!(!chart(&v, Style::default()).contains("simulated time"));
    }
}
