//! Page frames with reference counts, who holds each reference, their bytes,
//! and the moment the last reference drops.
//!
//! This crate models the part of Linux's `struct page` that matters to the
//! vmsplice debate of 2006: a page stays in use as long as anybody holds a
//! reference, and "anybody" is more than the pipe the program splice'd into.
//! A [`PageArena`] owns the frames. Every reference names its [`Holder`] (a
//! user mapping, a pipe, the page cache, a socket), so the model can always
//! answer "who still holds this page, and may the user overwrite it?".
//!
//! Pages carry their bytes ([`Content`]): untouched pages are zero, pages
//! filled with one byte stay small, and only mixed pages allocate 4096
//! bytes. Every change is an [`Event`] in the arena's log (and a `tracing`
//! event), which timelines read.
//!
//! What is left out: `struct folio`, LRU lists, mapcounts, memory cgroups,
//! pinning (FOLL_PIN) and page flags other than what the owners keep.
//!
//! ```
//! use page_refs::{Holder, PageArena, Source};
//! let mut pages = PageArena::new();
//! let page = pages.alloc(Holder::user(0, 0));
//! pages.write(page, 0, Source::Fill { byte: b'A', len: 4096 });
//! pages.get(page, Holder::pipe(1)); // vmsplice
//! assert!(pages.holders(page).iter().any(Holder::is_kernel)); // busy
//! pages.put(page, Holder::pipe(1)); // the reader consumed it
//! assert!(pages.put(page, Holder::user(0, 0))); // munmap frees it
//! pages.check_teardown().unwrap();
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod arena;
mod content;
mod event;
mod holder;
mod refcount;
pub mod sync;

pub use arena::{ArenaLayout, FrameLayout, InvariantError, PageArena};
pub use content::{Content, Source};
pub use event::{Event, EventKind, Stamp};
pub use holder::{Holder, HolderKind};
pub use refcount::RefCount;

/// Bytes per page frame (`PAGE_SIZE` on x86-64).
pub const PAGE_SIZE: usize = 4096;

/// A generation-checked page frame number: a slot of the arena and the
/// generation of the frame that occupied it when the id was handed out.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PageId {
    /// The arena slot.
    pub index: u32,
    /// The slot's generation when allocated.
    pub generation: u32,
}

impl std::fmt::Display for PageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pfn {}", self.index)?;
        if self.generation != 0 {
            write!(f, ".{}", self.generation)?;
        }
        Ok(())
    }
}
