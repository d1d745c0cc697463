//! kmodel: a userspace model of Linux's pages, pipes and splice, faithful
//! enough to be checked against the real kernel.
//!
//! The [`kernel::Kernel`] value owns every process, descriptor, pipe, file
//! and page of one simulated machine; its syscalls answer
//! `Result<usize, Errno>` as Linux does. Scenarios (see
//! `shared/spec/scenario-format.md` and the README) drive it one operation
//! at a time through the [`scenario`] runner, which can drive the host
//! kernel ([`linux`]) through the very same steps, so the two can be
//! compared line by line.

pub mod cli;
pub mod explore;
pub mod kernel;
pub mod linux;
pub mod lsm;
pub mod model;
pub mod render;
pub mod scenario;
pub mod vfs;
