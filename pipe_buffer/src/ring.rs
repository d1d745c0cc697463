//! The ring of slots: `struct pipe_inode_info`.

use page_refs::{Holder, PageArena};

use crate::buf::PipeBuffer;

/// `PIPE_DEF_BUFFERS`: slots of a new pipe.
pub const PIPE_DEF_BUFFERS: u32 = 16;

/// Models `struct pipe_inode_info` (include/linux/pipe_fs_i.h): a ring of
/// [`PipeBuffer`] slots with free-running `head` and `tail`, and the counts
/// of open read and write ends.
///
/// I.e. the occupied slots are `tail..head` (mod 2^32), at most
/// `max_usage` of them, each holding one reference to its page for
/// [`holder`](Self::holder).
#[derive(Clone, Debug)]
pub struct PipeInodeInfo {
    id: u32,
    /// `ring_size` entries, a power of two; `bufs[i & mask]`.
    bufs: Vec<Option<PipeBuffer>>,
    /// Where the next buffer goes; free-running, wraps.
    pub(crate) head: u32,
    /// The oldest buffer; free-running, wraps.
    pub(crate) tail: u32,
    /// The most slots that may be in use (`max_usage`).
    pub(crate) max_usage: u32,
    /// Open read ends.
    pub readers: u32,
    /// Open write ends.
    pub writers: u32,
}

impl PipeInodeInfo {
    /// A new empty pipe with one reader and one writer (`pipe2`), its
    /// references recorded for holder `Holder::pipe(id)`.
    pub fn new(id: u32) -> Self {
        Self::with_start(id, 0)
    }

    /// A new pipe whose `head` and `tail` start at `start` (to test the
    /// wrap of the free-running indices).
    pub fn with_start(id: u32, start: u32) -> Self {
        PipeInodeInfo {
            id,
            bufs: vec![None; PIPE_DEF_BUFFERS as usize],
            head: start,
            tail: start,
            max_usage: PIPE_DEF_BUFFERS,
            readers: 1,
            writers: 1,
        }
    }

    /// A pipe rebuilt from its parts (checkpoint/restore): `ring_size`
    /// slots, `max_usage`, `head`, the open ends, and the occupied slots
    /// oldest first (they end at `head`). The caller has recorded one page
    /// reference per buffer for [`holder`](Self::holder).
    ///
    /// # Errors
    /// What is inconsistent: a ring size that is not a power of two, more
    /// buffers than slots, `max_usage` above the ring, an empty buffer or
    /// one running past its page.
    pub fn from_parts(
        id: u32,
        ring_size: u32,
        max_usage: u32,
        head: u32,
        readers: u32,
        writers: u32,
        bufs: Vec<PipeBuffer>,
    ) -> Result<Self, String> {
        if ring_size == 0 || !ring_size.is_power_of_two() || ring_size > 1 << 20 {
            return Err(format!("pipe {id}: ring size {ring_size} is not a power of two up to 2^20"));
        }
        if max_usage == 0 || max_usage > ring_size {
            return Err(format!("pipe {id}: max_usage {max_usage} outside 1..={ring_size}"));
        }
        if bufs.len() > ring_size as usize {
            return Err(format!("pipe {id}: {} buffers in {ring_size} slots", bufs.len()));
        }
        let mut pipe = PipeInodeInfo {
            id,
            bufs: vec![None; ring_size as usize],
            head: head.wrapping_sub(bufs.len() as u32),
            tail: head.wrapping_sub(bufs.len() as u32),
            max_usage,
            readers,
            writers,
        };
        for buf in bufs {
            if buf.len == 0 || buf.offset as usize + buf.len as usize > page_refs::PAGE_SIZE {
                return Err(format!("pipe {id}: buffer {}+{} outside its page", buf.offset, buf.len));
            }
            pipe.push_locked(buf);
        }
        Ok(pipe)
    }

    /// `head`: where the next buffer goes (free-running).
    pub fn head(&self) -> u32 {
        self.head
    }

    /// The pipe's id, as given at creation.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The holder its slots' page references are recorded under.
    #[inline]
    pub fn holder(&self) -> Holder {
        Holder::pipe(self.id)
    }

    /// `pipe_occupancy`: slots in use.
    #[inline]
    pub fn occupancy(&self) -> u32 {
        self.head.wrapping_sub(self.tail)
    }

    /// `pipe_empty`.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// `pipe_full`: as many slots in use as `max_usage`.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.occupancy() >= self.max_usage
    }

    /// `max_usage`: the most slots that may be in use.
    #[inline]
    pub fn max_usage(&self) -> u32 {
        self.max_usage
    }

    /// `ring_size`: slots allocated.
    #[inline]
    pub fn ring_size(&self) -> u32 {
        self.bufs.len() as u32
    }

    /// Bytes waiting to be read.
    pub fn len_bytes(&self) -> u64 {
        self.buffers().map(|b| u64::from(b.len)).sum()
    }

    /// The occupied slots, oldest first.
    pub fn buffers(&self) -> impl Iterator<Item = &PipeBuffer> + '_ {
        (0..self.occupancy()).map(move |i| self.slot(self.tail.wrapping_add(i)))
    }

    #[inline]
    pub(crate) fn mask(&self) -> u32 {
        self.ring_size() - 1
    }

    #[inline]
    pub(crate) fn slot(&self, index: u32) -> &PipeBuffer {
        self.bufs[(index & self.mask()) as usize].as_ref().expect("occupied pipe slot is empty")
    }

    #[inline]
    pub(crate) fn slot_mut(&mut self, index: u32) -> &mut PipeBuffer {
        let mask = self.mask();
        self.bufs[(index & mask) as usize].as_mut().expect("occupied pipe slot is empty")
    }

    /// Put `buf` at `head` and advance it; the caller made sure there is
    /// room and that the buffer's page reference is recorded for this pipe.
    #[inline]
    pub(crate) fn push_locked(&mut self, buf: PipeBuffer) {
        debug_assert!(!self.is_full() || self.occupancy() < self.ring_size(), "push into a full ring");
        let mask = self.mask();
        self.bufs[(self.head & mask) as usize] = Some(buf);
        self.head = self.head.wrapping_add(1);
    }

    /// Take the buffer at `tail` out of the ring and advance `tail`; the
    /// caller owns its page reference from now on.
    #[inline]
    pub(crate) fn pop_locked(&mut self) -> PipeBuffer {
        let mask = self.mask();
        let buf = self.bufs[(self.tail & mask) as usize].take().expect("pop from an empty pipe");
        self.tail = self.tail.wrapping_add(1);
        buf
    }

    /// Release the buffer at `tail` (`pipe_buf_release`): drop its page
    /// reference and advance `tail`.
    #[inline]
    pub(crate) fn release_tail_locked(&mut self, pages: &mut PageArena) {
        let buf = self.pop_locked();
        pages.put(buf.page, self.holder());
    }

    /// Drop every buffer's page reference (`free_pipe_info`, when the last
    /// end is closed).
    pub fn release_all(&mut self, pages: &mut PageArena) {
        while !self.is_empty() {
            self.release_tail_locked(pages);
        }
    }

    /// Replace the slot array with one of `nr_slots` entries
    /// (`pipe_resize_ring`), keeping the buffers in order.
    pub(crate) fn resize_ring(&mut self, nr_slots: u32) {
        let n = self.occupancy();
        let mut bufs = vec![None; nr_slots as usize];
        for (i, slot) in bufs.iter_mut().enumerate().take(n as usize) {
            let mask = self.mask();
            *slot = self.bufs[(self.tail.wrapping_add(i as u32) & mask) as usize].take();
        }
        self.bufs = bufs;
        self.tail = 0;
        self.head = n;
        self.max_usage = nr_slots;
    }

    /// Check the ring's own invariants: occupancy within `max_usage` and
    /// ring size, exactly the slots `tail..head` occupied, every occupied
    /// slot non-empty with its bytes inside its page and its page live.
    ///
    /// # Errors
    /// A description of the first broken invariant.
    pub fn check_invariants(&self, pages: &PageArena) -> Result<(), String> {
        let n = self.occupancy();
        if n > self.ring_size() {
            return Err(format!("pipe {}: occupancy {n} above ring size {}", self.id, self.ring_size()));
        }
        if !self.ring_size().is_power_of_two() {
            return Err(format!("pipe {}: ring size {} not a power of two", self.id, self.ring_size()));
        }
        let occupied = self.bufs.iter().filter(|b| b.is_some()).count() as u32;
        if occupied != n {
            return Err(format!("pipe {}: {occupied} filled slots but head-tail = {n}", self.id));
        }
        for buf in self.buffers() {
            if buf.len == 0 || buf.offset as usize + buf.len as usize > page_refs::PAGE_SIZE {
                return Err(format!("pipe {}: bad buffer {buf:?}", self.id));
            }
            if !pages.is_live(buf.page) {
                return Err(format!("pipe {}: buffer on freed page {}", self.id, buf.page));
            }
        }
        Ok(())
    }
}
