//! The Linux pipe, as fs/pipe.c and fs/splice.c have it in 6.x.
//!
//! A pipe is a ring of [`PipeBuffer`] slots ([`PipeInodeInfo`]), each a
//! reference to a page and the bytes of it that the pipe carries. The
//! rules reproduced here are the ones a program can observe:
//!
//! - write(2) appends a short tail to the last slot when that slot is an
//!   anonymous page with room ([`BufFlags::CAN_MERGE`]), otherwise takes a
//!   fresh page per slot; writes of at most [`PIPE_BUF`] bytes are atomic;
//! - vmsplice and splice from a file add references to pages the pipe does
//!   not own ([`PipeInodeInfo::add_page`]): never merged into, one slot per
//!   page piece;
//! - splice between pipes moves whole slots and splits the last one;
//!   tee duplicates references without consuming;
//! - capacity is `max_usage` slots (16 by default), changed by
//!   `F_SETPIPE_SZ` to a power of two ([`PipeInodeInfo::set_size`]).
//!
//! Blocking is reported, not performed: an operation that must sleep
//! answers [`PipeError::WouldBlock`], and the caller (the kernel model)
//! decides whether anybody can ever wake it.
//!
//! Left out: packet mode (O_DIRECT pipes), watch queues, the per-user pipe
//! page accounting, `tmp_page` caching, and page stealing (SPLICE_F_MOVE
//! is accepted and does nothing, as in Linux since 2.6.21 for most paths).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod buf;
mod error;
mod ring;
mod rw;
mod shared;
mod size;
mod splice;

pub use buf::{BufFlags, BufOrigin, PipeBuffer};
pub use error::PipeError;
pub use ring::{PIPE_DEF_BUFFERS, PipeInodeInfo};
pub use rw::PIPE_BUF;
pub use shared::{SharedPipe, TwoRings, lock_two};
pub use size::{SizeLimits, round_pipe_size};
