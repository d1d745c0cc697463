//! The interactive page (`kmodel run FILE --html OUT.html`): one
//! self-contained HTML file, no network fetches. The [`RunView`] goes into
//! the page as JSON (`<script type="application/json" id="kmodel-data">`,
//! the schema of `docs/trace-schema.md`); a small inline script draws the
//! SVG timeline from it (a lane per page run, a row per kind of holder,
//! hazards as red triangles), steps a cursor through the operations
//! (Left/Right arrows, `j`/`k`, Home/End, the slider, or a click on a line
//! or a column) highlighting the current line, and shows the page under the
//! pointer in a details panel. For network runs, `t` lays the columns out
//! by simulated time, placing a lane's changes inside a step at the time of
//! its page events.
//!
//! The browser test (`tests/tests/browser.rs`) loads such a page in
//! headless Chromium and counts what it drew.

use super::view::RunView;

const TEMPLATE: &str = include_str!("assets/page.html");
const CSS: &str = include_str!("assets/page.css");
const JS: &str = include_str!("assets/page.js");

/// JSON that is safe inside a `<script>` element: no `<` at all (so no
/// `</script>` or `<!--`), and the two line separators JavaScript once
/// refused in strings escaped too.
fn script_safe_json(view: &RunView) -> String {
    let json = serde_json::to_string(view).expect("a run view serializes");
    let mut out = String::with_capacity(json.len() + json.len() / 64);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The page for `view`.
pub fn html(view: &RunView) -> String {
    let data = script_safe_json(view);
    let mut out = String::with_capacity(TEMPLATE.len() + CSS.len() + JS.len() + data.len());
    let mut rest = TEMPLATE;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        match &after[..j] {
            "TITLE" => out.push_str(&escape_text(&view.path)),
            "CSS" => out.push_str(CSS),
            "JS" => out.push_str(JS),
            "DATA" => out.push_str(&data),
            other => {
                out.push_str("{{");
                out.push_str(other);
                out.push_str("}}");
            }
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KernelConfig;
    use crate::render::record;

    fn page(text: &str) -> (RunView, String) {
        let s = crate::scenario::parse("t.scenario", text).unwrap();
        let v = record(&s, text, KernelConfig::default()).unwrap();
        let h = html(&v);
        (v, h)
    }

    #[test]
    fn page_embeds_the_view_and_no_external_resource() {
        let (v, h) = page("buffer b 2\npipe p\nfill b 'x'\nvmsplice p.w b\nfill b 'y'\n");
        assert!(h.starts_with("<!DOCTYPE html>"));
        for bad in ["http://", "https://", "src=", "href=", "@import", "{{"] {
            let outside_svg_ns = h.replace("http://www.w3.org/2000/svg", "");
            assert!(!outside_svg_ns.contains(bad), "the page must not fetch anything: found {bad}");
        }
        let start = h.find("id=\"kmodel-data\">").unwrap() + "id=\"kmodel-data\">".len();
        let end = start + h[start..].find("</script>").unwrap();
        let back: RunView = serde_json::from_str(&h[start..end]).unwrap();
        assert_eq!(back.lanes, v.lanes);
        assert_eq!(back.steps, v.steps);
        assert_eq!(v.hazard_marks(), 1);
    }

    #[test]
    fn scenario_text_with_script_end_tag_stays_inside_the_data() {
        let text = "pipe p # </script><script>alert(1)</script>\n";
        let (_, h) = page(text);
        assert_eq!(h.matches("</script>").count(), 2, "only the page's own two script elements end");
        assert!(h.contains("\\u003c/script\\u003e"));
    }
}
