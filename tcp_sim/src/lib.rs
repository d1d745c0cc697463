//! Simulated TCP over a simulated link, whose send queue holds page
//! references until the peer ACKs them.
//!
//! Linus's second objection to the vmsplice double-buffering pitch of 2006
//! was that a page spliced into a TCP socket stays in use until the remote
//! host acknowledges it, long after it left the pipe. This crate is where
//! that happens in the model, in simulated time:
//!
//! - [`time`] and [`events`]: simulated time ([`Instant`], [`Duration`]),
//!   passed in and never read from a wall clock, and a deterministic
//!   [`EventQueue`] of packet arrivals and timers;
//! - [`rng`]: the seeded generator every loss and reordering comes from;
//! - [`link`]: how two endpoints are joined: [`Mode::Loopback`] (what
//!   Linux does on 127.0.0.1: the receiver queues the sender's very page
//!   fragments and ACKs at once) or [`Mode::Link`] (delay, bandwidth,
//!   loss, reordering, MSS; the bytes on the wire are read from the pages
//!   at each (re)transmission);
//! - [`socket`]: the endpoint: a send queue of page fragments
//!   (`Holder::socket`, one reference per fragment) between `snd_una` and
//!   `write_seq`, a send buffer limit, cumulative ACKs, the retransmission
//!   timer with exponential backoff and Karn's rule, fast retransmit on
//!   three duplicate ACKs with NewReno recovery, Reno slow start and
//!   congestion avoidance, a receive queue with out-of-order segments and
//!   a window, delayed ACKs (16 quick ACKs first, then every second full
//!   segment or the delayed-ACK timer), Nagle and `MSG_MORE` corking, FIN,
//!   RST and close, and `MSG_ZEROCOPY` completions;
//! - [`net`]: the [`Network`] of endpoints and links that routes packets
//!   and runs the events.
//!
//! What it leaves out: the handshake (connections start established),
//! SACK, timestamps, window scaling (windows are plain byte counts),
//! TIME_WAIT, keepalive, urgent data, path MTU, Linux's buffer autotuning
//! and its truesize accounting (buffers count payload bytes), pacing and
//! TSO/GSO (a segment is at most one MSS).
//!
//! ```
//! use page_refs::{PageArena, Source};
//! use tcp_sim::{LinkParams, Mode, Network};
//! let mut pages = PageArena::new();
//! let mut net = Network::new();
//! let (tx, rx) = net.connect(Mode::Link(LinkParams::default()));
//! net.send_copy(&mut pages, tx, Source::Fill { byte: b'x', len: 3000 }, false).unwrap();
//! net.settle(&mut pages); // 10 ms RTT: delivered and acknowledged
//! let mut got = Vec::new();
//! assert_eq!(net.recv(&mut pages, rx, 5000, &mut got), Ok(3000));
//! assert!(net.now().0 >= 5_000_000);
//! net.close(&mut pages, tx);
//! net.close(&mut pages, rx);
//! net.settle(&mut pages);
//! pages.check_teardown().unwrap(); // every page released
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod events;
pub mod link;
pub mod net;
pub mod repair;
pub mod rng;
pub mod seq;
pub mod socket;
pub mod time;

pub use events::EventQueue;
pub use link::{LinkParams, Mode};
pub use net::{FragState, HolderInfo, NetStats, Network, SockInfo};
pub use socket::{Altered, Completion, Piece, SockConfig, SockError, SockId, SockStats};
pub use time::{Duration, Instant};
