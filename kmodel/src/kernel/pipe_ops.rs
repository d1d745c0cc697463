//! The pipe half of the pipe syscalls: what read, write, splice and tee do
//! once their descriptors are resolved and checked.
//!
//! Each function takes the pipe (or the two pipes) and the page arena it
//! needs, nothing else, so the single-threaded [`Kernel`](super::Kernel)
//! (which borrows them out of itself) and the threaded
//! [`SharedKernel`](super::SharedKernel) (which locks exactly those: the
//! pipe locks, then the arena's) run the same code. The checks before them
//! (`fdget`, modes, `rw_verify_area`, security hooks) are the `*_prep`
//! methods of `Kernel`, run under the descriptor-table lock.

use page_refs::{PageArena, Source};
use pipe_buffer::{PipeError, PipeInodeInfo};

use super::{Errno, pipe_errno};

/// `pipe_read`: at most `len` bytes appended to `out`.
pub(crate) fn pipe_read(
    pipe: &mut PipeInodeInfo,
    pages: &mut PageArena,
    len: usize,
    nonblock: bool,
    out: &mut Vec<u8>,
) -> Result<usize, Errno> {
    pipe.read_into(pages, len, nonblock, out).map_err(pipe_errno)
}

/// `pipe_write`: answers the count, or the error with the bytes written
/// before it (a blocking write that filled the pipe answers
/// [`BLOCKED`](super::BLOCKED) with what went in).
pub(crate) fn pipe_write(
    pipe: &mut PipeInodeInfo,
    pages: &mut PageArena,
    src: Source<'_>,
    nonblock: bool,
) -> Result<usize, (Errno, usize)> {
    pipe.write(pages, src, nonblock).map_err(|e| {
        let done = match e {
            PipeError::WouldBlock { done } => done,
            _ => 0,
        };
        (pipe_errno(e), done)
    })
}

/// `splice_pipe_to_pipe`: move up to `len` bytes of buffers.
pub(crate) fn splice_pipes(
    ipipe: &mut PipeInodeInfo,
    opipe: &mut PipeInodeInfo,
    pages: &mut PageArena,
    len: usize,
    nonblock: bool,
) -> Result<usize, Errno> {
    ipipe.splice_to(opipe, pages, len, nonblock).map_err(pipe_errno)
}

/// `link_pipe` (tee): duplicate up to `len` bytes of buffers.
pub(crate) fn tee_pipes(
    ipipe: &mut PipeInodeInfo,
    opipe: &mut PipeInodeInfo,
    pages: &mut PageArena,
    len: usize,
    nonblock: bool,
) -> Result<usize, Errno> {
    ipipe.tee_to(opipe, pages, len, nonblock).map_err(pipe_errno)
}
