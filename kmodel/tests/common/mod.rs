//! Reading the terminal timeline the way a person does: a lane's row by
//! its name, and the line number stacked above each of its columns.

/// Where the cells of a lane's row start (after its ` |`).
fn cells_start(row: &str) -> usize {
    row.find(" |").unwrap() + 2
}

/// The indices of the rows of lane `label`, one per block of the chart
/// (the chart in simulated time, drawn after it, is not read).
fn lane_rows(lines: &[&str], label: &str) -> Vec<usize> {
    let end = lines.iter().position(|l| l.starts_with("the same lanes in simulated time")).unwrap_or(lines.len());
    (0..end)
        .filter(|&i| {
            let l = lines[i];
            l.ends_with('|') && l.contains(" |") && l.split(" |").next().unwrap().trim_end() == label
        })
        .collect()
}

/// The cells of the lane named `label` in the chart's first block: what
/// lies between its `|`s.
pub fn lane_cells<'a>(chart: &'a str, label: &str) -> &'a str {
    let lines: Vec<&str> = chart.lines().collect();
    let i = *lane_rows(&lines, label).first().unwrap_or_else(|| panic!("no lane '{label}' in:\n{chart}"));
    let row = chart.lines().nth(i).unwrap();
    &row[cells_start(row)..row.len() - 1]
}

/// The line numbers stacked in the ruler above the columns of row `i`.
fn ruler_lines(lines: &[&str], i: usize) -> Vec<usize> {
    let row = lines[i];
    let (start, cells) = (cells_start(row), row.len() - 1 - cells_start(row));
    let mut first = i;
    while first > 0 && lines[first - 1].ends_with('|') {
        first -= 1;
    }
    // The ruler: digit rows right above the block's first lane (or above
    // its simulated time), the last one titled `line`.
    if first > 0 && lines[first - 1].trim_start().starts_with("time ") {
        first -= 1;
    }
    let mut top = first;
    while top > 0 && {
        let l = lines[top - 1].trim_start();
        let l = l.strip_prefix("line").unwrap_or(l);
        !l.trim().is_empty() && l.chars().all(|c| c.is_ascii_digit() || c == ' ')
    } {
        top -= 1;
    }
    assert!(top < first, "no ruler above row {i}: {row}");
    (0..cells)
        .map(|c| {
            let digits: String = lines[top..first]
                .iter()
                .filter_map(|r| r.as_bytes().get(start + c).map(|&b| b as char))
                .filter(char::is_ascii_digit)
                .collect();
            digits.parse().unwrap_or_else(|_| panic!("column {c} above row {i} has no line number"))
        })
        .collect()
}

/// The line numbers of every column of lane `label`, over all blocks.
pub fn column_lines(chart: &str, label: &str) -> Vec<usize> {
    let lines: Vec<&str> = chart.lines().collect();
    let rows = lane_rows(&lines, label);
    assert!(!rows.is_empty(), "no lane '{label}' in:\n{chart}");
    rows.into_iter().flat_map(|i| ruler_lines(&lines, i)).collect()
}

/// The line numbers of the columns where lane `label` shows a hazard
/// (`!`), over all blocks.
pub fn hazard_lines(chart: &str, label: &str) -> Vec<usize> {
    let lines: Vec<&str> = chart.lines().collect();
    let rows = lane_rows(&lines, label);
    assert!(!rows.is_empty(), "no lane '{label}' in:\n{chart}");
    let mut out = Vec::new();
    for i in rows {
        let row = lines[i];
        let numbers = ruler_lines(&lines, i);
        let cells = &row[cells_start(row)..row.len() - 1];
        out.extend(cells.char_indices().filter(|(_, c)| *c == '!').map(|(k, _)| numbers[k]));
    }
    out
}
