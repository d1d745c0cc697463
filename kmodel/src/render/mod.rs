//! Rendering runs for people and tools.
//!
//! - `view.rs`: the data model both renderers draw, recorded from a run of
//!   the model: lanes of pages with their holders over the steps, writes,
//!   hazards, and the trace records (syscalls and page events) that
//!   `--trace-json` writes and the HTML page embeds.
//! - `chart.rs`: the terminal timeline (`kmodel run --timeline`);
//!   `time_chart.rs` draws its lanes again in simulated milliseconds when
//!   the network is involved.
//! - `html.rs`: the self-contained interactive page (`kmodel run --html`).
//! - `timeline.rs`: the step-by-step log of lanes that changed (the story
//!   and the explorer's replays print it).

mod chart;
mod html;
mod time_chart;
mod timeline;
mod view;

pub use chart::{Style, chart, ms};
pub use html::html;
pub use timeline::{Timeline, TimelineStep, timeline};
pub use view::{
    HolderRef, LaneView, Mark, MarkKind, Phase, Row, RunView, SCHEMA_VERSION, Span, StepView, TraceEvent, record,
};
