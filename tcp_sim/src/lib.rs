//! Simulated TCP over a simulated link, whose send queue holds page
//! references until the peer ACKs them.
//!
//! Linus's second objection to the vmsplice double-buffering pitch of 2006
//! was that a page spliced into a TCP socket stays in use until the remote
//! host acknowledges it, long after it left the pipe. This crate is where
//! that happens in the model. So far it holds the foundations that the
//! rest is built on:
//!
//! - [`time`]: simulated time ([`Instant`], [`Duration`]), passed in and
//!   never read from a wall clock, with the `us`/`ms`/`s` notation of the
//!   scenario format;
//! - [`events`]: a deterministic [`EventQueue`] (segment arrivals, ACKs,
//!   timers): same inputs and seed, same run.
//!
//! The endpoints (send queue of page fragments, `snd_una`/`snd_nxt`,
//! retransmission, congestion control, delayed ACKs), the links (delay,
//! bandwidth, loss, reordering) and zero-copy completions are the subject
//! of the TCP issue; like `pipe_buffer`, this crate depends on `page_refs`
//! alone and speaks its [`page_refs::Holder::socket`] holders.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod events;
pub mod time;

pub use events::EventQueue;
pub use time::{Duration, Instant};
