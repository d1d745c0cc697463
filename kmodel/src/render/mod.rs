//! Rendering runs for people: the page timeline.

mod timeline;

pub use timeline::{Timeline, TimelineStep, timeline};
