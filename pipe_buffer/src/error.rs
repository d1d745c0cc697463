//! What a pipe operation can answer besides a count.

use std::fmt;

/// A pipe operation's failure, named for the errno it becomes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PipeError {
    /// `-EAGAIN`: nonblocking and no progress possible now.
    Again,
    /// `-EPIPE`: no reader is left.
    Pipe,
    /// `-EBUSY`: the pipe holds more than the requested size.
    Busy,
    /// `-EINVAL`: an impossible size.
    Inval,
    /// `-EPERM`: a size above the limit without `CAP_SYS_RESOURCE`.
    Perm,
    /// `-ENOMEM`: the slot array would be larger than one allocation may be.
    NoMem,
    /// The operation must sleep until another party acts (a blocking call on
    /// an empty or full pipe). `done` bytes were already moved before it had
    /// to sleep; a single-threaded caller with nobody to wake it reports the
    /// call as blocked forever.
    WouldBlock {
        /// Progress made before sleeping.
        done: usize,
    },
}

impl fmt::Display for PipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipeError::Again => f.write_str("EAGAIN"),
            PipeError::Pipe => f.write_str("EPIPE"),
            PipeError::Busy => f.write_str("EBUSY"),
            PipeError::Inval => f.write_str("EINVAL"),
            PipeError::Perm => f.write_str("EPERM"),
            PipeError::NoMem => f.write_str("ENOMEM"),
            PipeError::WouldBlock { done } => write!(f, "would block after {done} bytes"),
        }
    }
}

impl std::error::Error for PipeError {}
