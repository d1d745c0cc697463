//! Who holds a reference to a page.

use std::fmt;

/// The kind of object that holds a page reference.
///
/// `page_refs` knows these only as labels: what a pipe or a socket does with
/// its reference is the business of the crates that model them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HolderKind {
    /// A present page table entry of a user mapping: `object` is the
    /// mapping (buffer), `index` the page within it. The only holder that is
    /// not a kernel object.
    User,
    /// A `pipe_buffer` slot of pipe `object`.
    Pipe,
    /// The page cache of file `object`, page `index`.
    PageCache,
    /// A socket `object`; `index` is free for the socket's use (a segment).
    Socket,
    /// The kernel's own permanent reference (the zero page).
    Kernel,
}

/// One recorded reference: kind, object and index within the object.
///
/// Twelve bytes, so a page's holders fit inline in the common case.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Holder {
    /// What kind of object holds the reference.
    pub kind: HolderKind,
    /// Which object of that kind (an id chosen by the owner).
    pub object: u32,
    /// A position within the object (page index, slot or segment); 0 when
    /// the kind has no use for it.
    pub index: u32,
}

impl Holder {
    /// The user mapping `buffer`, page `page`.
    pub const fn user(buffer: u32, page: u32) -> Self {
        Self { kind: HolderKind::User, object: buffer, index: page }
    }

    /// A slot of pipe `pipe`.
    pub const fn pipe(pipe: u32) -> Self {
        Self { kind: HolderKind::Pipe, object: pipe, index: 0 }
    }

    /// The page cache of file `file`, page `page`.
    pub const fn page_cache(file: u32, page: u32) -> Self {
        Self { kind: HolderKind::PageCache, object: file, index: page }
    }

    /// Socket `socket`, segment or queue entry `index`.
    pub const fn socket(socket: u32, index: u32) -> Self {
        Self { kind: HolderKind::Socket, object: socket, index }
    }

    /// The kernel's permanent reference to the zero page.
    pub const KERNEL: Holder = Holder { kind: HolderKind::Kernel, object: 0, index: 0 };

    /// Whether this is a kernel object (anything but a user mapping).
    pub fn is_kernel(&self) -> bool {
        self.kind != HolderKind::User
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            HolderKind::User => write!(f, "user mapping {} page {}", self.object, self.index),
            HolderKind::Pipe => write!(f, "pipe {}", self.object),
            HolderKind::PageCache => {
                write!(f, "page cache of file {} page {}", self.object, self.index)
            }
            HolderKind::Socket => write!(f, "socket {} entry {}", self.object, self.index),
            HolderKind::Kernel => write!(f, "kernel"),
        }
    }
}
