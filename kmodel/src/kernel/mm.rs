//! User memory: anonymous private mappings and their page table entries.

use page_refs::{Holder, PAGE_SIZE, PageArena, PageId, Source};

/// Identifies a user mapping (a scenario's `buffer`); also the `object` of
/// its pages' [`Holder::user`] references.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct BufferId(pub u32);

/// A byte range of a mapping: one iovec.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct UserRange {
    /// The mapping.
    pub buffer: BufferId,
    /// First byte, from the mapping's start.
    pub start: usize,
    /// Bytes.
    pub len: usize,
}

/// A page table entry of an anonymous private mapping.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Pte {
    /// Never touched: reads as zero, no page behind it.
    None,
    /// Read-faulted: maps the shared zero page read-only; a write replaces
    /// it with a private page (copy-on-write).
    Zero,
    /// A private page, mapped writable; the mapping holds one reference.
    Page(PageId),
}

/// One `mmap(MAP_PRIVATE | MAP_ANONYMOUS)` region.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct UserBuffer {
    id: BufferId,
    ptes: Vec<Pte>,
    /// One bit per page: written since the last
    /// [`clear_soft_dirty`](Self::clear_soft_dirty) (`_PAGE_SOFT_DIRTY`,
    /// cleared by `echo 4 > /proc/PID/clear_refs`; live migration's
    /// pre-copy resends exactly these pages).
    soft_dirty: Vec<u64>,
}

impl UserBuffer {
    /// A fresh mapping of `pages` untouched pages.
    pub fn new(id: BufferId, pages: usize) -> Self {
        UserBuffer { id, ptes: vec![Pte::None; pages], soft_dirty: vec![0; pages.div_ceil(64)] }
    }

    /// Whether page `index` was written since the soft-dirty bits were
    /// last cleared (a page never cleared counts as dirty once written).
    pub fn is_soft_dirty(&self, index: usize) -> bool {
        self.soft_dirty.get(index / 64).is_some_and(|w| w >> (index % 64) & 1 == 1)
    }

    /// The pages written since the bits were last cleared, in order.
    pub fn soft_dirty_pages(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.ptes.len()).filter(|&i| self.is_soft_dirty(i))
    }

    /// How many pages are soft-dirty.
    pub fn soft_dirty_count(&self) -> usize {
        self.soft_dirty.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// `clear_refs` 4: start tracking writes afresh.
    pub fn clear_soft_dirty(&mut self) {
        self.soft_dirty.iter_mut().for_each(|w| *w = 0);
    }

    fn mark_soft_dirty(&mut self, index: usize) {
        if let Some(w) = self.soft_dirty.get_mut(index / 64) {
            *w |= 1 << (index % 64);
        }
    }

    /// A mapping rebuilt from its page table (checkpoint/restore); the
    /// caller has recorded one reference per present page.
    pub fn from_ptes(id: BufferId, ptes: Vec<Pte>) -> Self {
        let soft_dirty = vec![0; ptes.len().div_ceil(64)];
        UserBuffer { id, ptes, soft_dirty }
    }

    /// Its id.
    pub fn id(&self) -> BufferId {
        self.id
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.ptes.len() * PAGE_SIZE
    }

    /// Whether it has no pages.
    pub fn is_empty(&self) -> bool {
        self.ptes.is_empty()
    }

    /// The entry of page `index`.
    pub fn pte(&self, index: usize) -> Pte {
        self.ptes[index]
    }

    /// Every entry.
    pub fn ptes(&self) -> &[Pte] {
        &self.ptes
    }

    fn holder(&self, index: usize) -> Holder {
        Holder::user(self.id.0, index as u32)
    }

    /// The page a kernel reference to page `index` would take, as
    /// get_user_pages without FOLL_WRITE finds it: an untouched page is
    /// read-faulted to the zero page first.
    pub fn gup_read(&mut self, pages: &PageArena, index: usize) -> PageId {
        match self.ptes[index] {
            Pte::None => {
                self.ptes[index] = Pte::Zero;
                pages.zero_page()
            }
            Pte::Zero => pages.zero_page(),
            Pte::Page(p) => p,
        }
    }

    /// A user store (or a kernel copy_to_user) of `src` at byte `start`:
    /// write-faults each page in (a fresh page for an untouched one, a copy
    /// for the zero page) and writes in place — also into a page a kernel
    /// object still holds, which is exactly the hazard of the vmsplice
    /// debate.
    pub fn store(&mut self, pages: &mut PageArena, start: usize, src: Source<'_>) {
        if src.is_empty() {
            return;
        }
        let mut pos = start;
        let mut rest = src;
        while !rest.is_empty() {
            let index = pos / PAGE_SIZE;
            let offset = pos % PAGE_SIZE;
            let n = rest.len().min(PAGE_SIZE - offset);
            let (now, later) = rest.split_at(n);
            let page = match self.ptes[index] {
                Pte::Page(p) => p,
                Pte::None | Pte::Zero => {
                    let p = pages.alloc(self.holder(index));
                    self.ptes[index] = Pte::Page(p);
                    p
                }
            };
            pages.write(page, offset, now);
            self.mark_soft_dirty(index);
            pos += n;
            rest = later;
        }
    }

    /// The kernel copying `len` bytes of page `src` from `src_offset` into
    /// this mapping at byte `start` (`copy_page_to_iter` → `copy_to_user`),
    /// write-faulting as [`store`](Self::store) does. When the destination
    /// includes the source page itself, the copy reads and writes live, in
    /// blocks of [`COPY_TO_USER_BLOCK`] bytes, as the host's does.
    pub fn copy_from_page(&mut self, pages: &mut PageArena, start: usize, src: PageId, src_offset: usize, len: usize) {
        let aliased = Self::pieces(start, len).any(|(i, _, _)| self.ptes[i] == Pte::Page(src));
        let block = if aliased { COPY_TO_USER_BLOCK } else { len };
        copy_in_blocks(pages, src, src_offset, len, block, |pages, at, bytes| self.store(pages, start + at, bytes));
    }

    /// Drop every page reference (munmap).
    pub fn unmap(&mut self, pages: &mut PageArena) {
        for index in 0..self.ptes.len() {
            if let Pte::Page(p) = self.ptes[index] {
                pages.put(p, self.holder(index));
            }
            self.ptes[index] = Pte::None;
        }
    }

    /// The (page index, offset in page, length) pieces of `start..start+len`.
    pub fn pieces(start: usize, len: usize) -> impl Iterator<Item = (usize, usize, usize)> {
        let end = start + len;
        let mut pos = start;
        std::iter::from_fn(move || {
            if pos >= end {
                return None;
            }
            let offset = pos % PAGE_SIZE;
            let n = (end - pos).min(PAGE_SIZE - offset);
            let piece = (pos / PAGE_SIZE, offset, n);
            pos += n;
            Some(piece)
        })
    }
}

/// How `copy_to_user` moves bytes on x86-64, as observed on the host kernel
/// (6.18) when source and destination overlap: blocks of 64 bytes from the
/// start of the copy, each read whole before it is written. (Copies into
/// the page cache behave as a byte-by-byte forward copy: blocks of 1.)
pub const COPY_TO_USER_BLOCK: usize = 64;

/// Copy `len` bytes of page `src` from `src_offset` through `write(pages,
/// offset_in_copy, bytes)`, in blocks of `block` bytes, each read from the
/// live page just before it is written: where the destination overlaps the
/// source, later blocks read what earlier ones wrote, as a forward copy
/// loop does.
pub fn copy_in_blocks(
    pages: &mut PageArena,
    src: PageId,
    src_offset: usize,
    len: usize,
    block: usize,
    mut write: impl FnMut(&mut PageArena, usize, Source<'_>),
) {
    let block = block.max(1);
    let mut tmp = Vec::new();
    let mut done = 0;
    while done < len {
        let n = block.min(len - done);
        if let page_refs::Content::Uniform(byte) = *pages.content(src) {
            write(pages, done, Source::Fill { byte, len: n });
        } else {
            tmp.clear();
            pages.read_into(src, src_offset + done, n, &mut tmp);
            write(pages, done, Source::Slice(&tmp));
        }
        done += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_at_page_boundaries() {
        let p: Vec<_> = UserBuffer::pieces(100, 8192).collect();
        assert_eq!(p, vec![(0, 100, 3996), (1, 0, 4096), (2, 0, 100)]);
        assert_eq!(UserBuffer::pieces(5, 0).count(), 0);
    }

    #[test]
    fn read_fault_maps_zero_page_and_store_copies_on_write() {
        let mut pages = PageArena::new();
        let mut b = UserBuffer::new(BufferId(1), 2);
        assert_eq!(b.gup_read(&pages, 0), pages.zero_page());
        assert_eq!(b.pte(0), Pte::Zero);
        b.store(&mut pages, 10, Source::Fill { byte: 7, len: 4100 });
        let Pte::Page(p0) = b.pte(0) else { panic!("not faulted in") };
        assert_ne!(p0, pages.zero_page());
        assert_eq!(pages.content(p0).byte(9), 0);
        assert_eq!(pages.content(p0).byte(10), 7);
        b.unmap(&mut pages);
        pages.check_teardown().unwrap();
    }

    #[test]
    fn store_marks_soft_dirty_until_cleared() {
        let mut pages = PageArena::new();
        let mut b = UserBuffer::new(BufferId(1), 70);
        assert_eq!(b.soft_dirty_count(), 0);
        b.store(&mut pages, 4095, Source::Fill { byte: 1, len: 2 });
        b.store(&mut pages, 69 * PAGE_SIZE, Source::Fill { byte: 1, len: 1 });
        assert_eq!(b.soft_dirty_pages().collect::<Vec<_>>(), vec![0, 1, 69]);
        b.clear_soft_dirty();
        assert_eq!(b.soft_dirty_count(), 0);
        b.gup_read(&pages, 5);
        assert!(!b.is_soft_dirty(5), "a read fault does not dirty");
        b.store(&mut pages, 5 * PAGE_SIZE, Source::Fill { byte: 2, len: 1 });
        assert_eq!(b.soft_dirty_pages().collect::<Vec<_>>(), vec![5]);
        b.unmap(&mut pages);
        pages.check_teardown().unwrap();
    }
}
