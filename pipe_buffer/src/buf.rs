//! One slot of the ring: `struct pipe_buffer`.

use page_refs::PageId;

/// Models the `PIPE_BUF_FLAG_*` bits of `struct pipe_buffer`
/// (include/linux/pipe_fs_i.h).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BufFlags(u8);

impl BufFlags {
    /// No flags: a buffer nobody may append to (vmsplice'd user pages,
    /// page-cache pages).
    pub const NONE: BufFlags = BufFlags(0);
    /// `PIPE_BUF_FLAG_CAN_MERGE`: an anonymous pipe page that a later
    /// write(2) may append to.
    pub const CAN_MERGE: BufFlags = BufFlags(1 << 0);
    /// `PIPE_BUF_FLAG_GIFT`: the page was gifted with `SPLICE_F_GIFT`.
    pub const GIFT: BufFlags = BufFlags(1 << 1);

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: BufFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// These flags without `other`'s bits.
    #[must_use]
    pub fn without(self, other: BufFlags) -> BufFlags {
        BufFlags(self.0 & !other.0)
    }

    /// These flags with `other`'s bits.
    #[must_use]
    pub fn with(self, other: BufFlags) -> BufFlags {
        BufFlags(self.0 | other.0)
    }

    /// The raw bits.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Flags from raw bits; `None` if an unknown bit is set.
    pub fn from_bits(bits: u8) -> Option<BufFlags> {
        (bits & !(Self::CAN_MERGE.0 | Self::GIFT.0) == 0).then_some(BufFlags(bits))
    }
}

/// Where a buffer's page came from; decides nothing in the ring, but tells
/// a reader of `refs` what the slot holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum BufOrigin {
    /// A page the pipe allocated for write(2) (`anon_pipe_buf_ops`).
    Anon,
    /// A user page taken by vmsplice (`user_page_pipe_buf_ops`).
    User,
    /// A page-cache page spliced from a file (`page_cache_pipe_buf_ops`).
    PageCache,
}

/// Models `struct pipe_buffer` (include/linux/pipe_fs_i.h): a reference to
/// a page and the bytes `offset..offset+len` of it that the pipe carries.
///
/// I.e. the pipe holds exactly one page reference per occupied slot.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PipeBuffer {
    /// The page; the slot owns one reference to it.
    pub page: PageId,
    /// First byte of the page that belongs to the pipe.
    pub offset: u32,
    /// How many bytes from `offset`; never 0 in an occupied slot.
    pub len: u32,
    /// `PIPE_BUF_FLAG_*`.
    pub flags: BufFlags,
    /// The buffer's operations (`ops`), reduced to where the page came from.
    pub origin: BufOrigin,
}
