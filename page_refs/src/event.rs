//! The event log: every alloc, get, put, write and free, with its time.

use crate::{Holder, PageId};

/// When an event happened: the operation (scenario step) and the simulated
/// time in nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    /// The operation that caused the event (a scenario's line number, or
    /// any counter the owner chooses).
    pub step: u32,
    /// Simulated nanoseconds (0 where no clock runs).
    pub time_ns: u64,
}

/// What happened to a page.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The frame was allocated with its first reference.
    Alloc,
    /// A reference was taken.
    Get,
    /// A reference was dropped.
    Put,
    /// Bytes `offset..offset+len` were written (a write of a whole page has
    /// `len` 4096, which does not fit `u16` only if it were larger).
    Write {
        /// First byte written.
        offset: u16,
        /// Bytes written.
        len: u16,
    },
    /// The last reference was dropped and the frame freed.
    Free,
}

/// One entry of the log.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// When.
    pub stamp: Stamp,
    /// Which page.
    pub page: PageId,
    /// What happened.
    pub kind: EventKind,
    /// Whose reference (for writes: [`Holder::KERNEL`], the writer is not
    /// recorded here).
    pub holder: Holder,
}
