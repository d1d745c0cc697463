//! Rendering runs for people and tools.
//!
//! - `view.rs`: the data model both renderers draw, recorded from a run of
//!   the model: lanes of pages with their holders over the steps, writes,
//!   hazards, and the trace records (syscalls and page events) that
//!   `--trace-json` writes and the HTML page embeds.
//! - `chart.rs`: the terminal timeline (`kmodel run --timeline` on
//!   standard error; `kmodel`, `kmodel story` and `kmodel explore`'s
//!   replay on standard output); `time_chart.rs` draws its lanes again in
//!   simulated milliseconds when the network is involved.
//! - `html.rs`: the self-contained interactive page (`kmodel run --html`).

mod chart;
mod html;
mod time_chart;
mod view;

pub use chart::{Style, chart, ms};
pub use html::html;
pub use view::{
    HolderRef, LaneView, Mark, MarkKind, Phase, Row, RunView, SCHEMA_VERSION, Span, StepView, TraceEvent, record,
};
