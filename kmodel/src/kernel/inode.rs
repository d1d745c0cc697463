//! Regular files and their page cache (tmpfs-like: holes read as zero and
//! splice as the zero page).

use std::collections::BTreeMap;

use page_refs::{Content, Holder, PAGE_SIZE, PageArena, PageId, Source};

/// Identifies a regular file; also the `object` of its page-cache
/// references.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct InodeId(pub u32);

/// What backs one page of a file.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FilePage {
    /// A hole: no page; reads as zero.
    Hole,
    /// Written at creation with one byte value, not yet in the page cache
    /// as a frame of its own (materialised on first use).
    Initial(u8),
    /// A page-cache page; the page cache holds one reference.
    Cached(PageId),
}

/// A regular file: its size and page cache.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Inode {
    id: InodeId,
    /// `i_size`.
    pub size: u64,
    cache: BTreeMap<u64, PageId>,
    /// Pages `0..initial_pages` were written with `initial_byte` at creation.
    initial_pages: u64,
    initial_byte: u8,
}

impl Inode {
    /// A file of `pages` pages, every byte `byte` (written at creation).
    pub fn new(id: InodeId, pages: u64, byte: u8) -> Self {
        Inode { id, size: pages * PAGE_SIZE as u64, cache: BTreeMap::new(), initial_pages: pages, initial_byte: byte }
    }

    /// A file rebuilt from its parts (checkpoint/restore); the caller has
    /// recorded one page-cache reference per cached page.
    pub fn from_parts(
        id: InodeId,
        size: u64,
        initial_pages: u64,
        initial_byte: u8,
        cache: BTreeMap<u64, PageId>,
    ) -> Self {
        Inode { id, size, cache, initial_pages, initial_byte }
    }

    /// The pages written at creation that are not in the page cache yet:
    /// how many, and their byte.
    pub fn initial(&self) -> (u64, u8) {
        (self.initial_pages, self.initial_byte)
    }

    /// Its id.
    pub fn id(&self) -> InodeId {
        self.id
    }

    fn holder(&self, index: u64) -> Holder {
        Holder::page_cache(self.id.0, index.min(u64::from(u32::MAX)) as u32)
    }

    /// What backs page `index`.
    pub fn page(&self, index: u64) -> FilePage {
        match self.cache.get(&index) {
            Some(&p) => FilePage::Cached(p),
            None if index < self.initial_pages => FilePage::Initial(self.initial_byte),
            None => FilePage::Hole,
        }
    }

    /// The page-cache frame for `index`, creating it (from the initial
    /// contents, or zero for a hole) if needed.
    pub fn materialise(&mut self, pages: &mut PageArena, index: u64) -> PageId {
        match self.page(index) {
            FilePage::Cached(p) => p,
            FilePage::Initial(b) => self.insert(pages, index, Content::Uniform(b)),
            FilePage::Hole => self.insert(pages, index, Content::Uniform(0)),
        }
    }

    fn insert(&mut self, pages: &mut PageArena, index: u64, content: Content) -> PageId {
        let p = pages.alloc_with(self.holder(index), content);
        self.cache.insert(index, p);
        p
    }

    /// Read up to `len` bytes at `pos`, stopping at end of file.
    pub fn read_at(&self, pages: &PageArena, pos: u64, len: usize, out: &mut Vec<u8>) -> usize {
        if pos >= self.size {
            return 0;
        }
        let n = (len as u64).min(self.size - pos) as usize;
        let mut done = 0;
        while done < n {
            let at = pos + done as u64;
            let index = at / PAGE_SIZE as u64;
            let offset = (at % PAGE_SIZE as u64) as usize;
            let k = (n - done).min(PAGE_SIZE - offset);
            match self.page(index) {
                FilePage::Cached(p) => pages.read_into(p, offset, k, out),
                FilePage::Initial(b) => out.resize(out.len() + k, b),
                FilePage::Hole => out.resize(out.len() + k, 0),
            }
            done += k;
        }
        n
    }

    /// Write `src` at `pos` through the page cache, extending the file.
    pub fn write_at(&mut self, pages: &mut PageArena, pos: u64, src: Source<'_>) -> usize {
        let total = src.len();
        if total == 0 {
            return 0;
        }
        let mut rest = src;
        let mut at = pos;
        while !rest.is_empty() {
            let index = at / PAGE_SIZE as u64;
            let offset = (at % PAGE_SIZE as u64) as usize;
            let k = rest.len().min(PAGE_SIZE - offset);
            let (now, later) = rest.split_at(k);
            let page = self.materialise(pages, index);
            pages.write(page, offset, now);
            at += k as u64;
            rest = later;
        }
        self.size = self.size.max(pos + total as u64);
        total
    }

    /// Write `len` bytes of page `src` from `src_offset` at `pos` through
    /// the page cache, extending the file. When the destination includes
    /// the source page itself the copy runs front to back a byte at a time
    /// on the live page, as the host's does.
    pub fn copy_from_page(&mut self, pages: &mut PageArena, pos: u64, src: PageId, src_offset: usize, len: usize) {
        if len == 0 {
            return;
        }
        let first = pos / PAGE_SIZE as u64;
        let last = (pos + len as u64 - 1) / PAGE_SIZE as u64;
        let aliased = self.cache.range(first..=last).any(|(_, &p)| p == src);
        let block = if aliased { 1 } else { len };
        super::mm::copy_in_blocks(pages, src, src_offset, len, block, |pages, at, bytes| {
            self.write_at(pages, pos + at as u64, bytes);
        });
    }

    /// The page that backs file page `index` for a reader that takes a
    /// reference: the page-cache page (created for initial contents), or
    /// the zero page for a hole (tmpfs).
    pub fn page_for_read(&mut self, pages: &mut PageArena, index: u64) -> PageId {
        match self.page(index) {
            FilePage::Hole => pages.zero_page(),
            _ => self.materialise(pages, index),
        }
    }

    /// The page-cache frames, with their page index.
    pub fn cached(&self) -> impl Iterator<Item = (u64, PageId)> + '_ {
        self.cache.iter().map(|(&i, &p)| (i, p))
    }

    /// `truncate_setsize`: the file becomes `len` bytes long. Pages wholly
    /// past the end leave the page cache; the rest of a partial last page
    /// is zeroed (so growing the file later reads zeros there, as
    /// `truncate_pagecache` ensures).
    pub fn truncate(&mut self, pages: &mut PageArena, len: u64) {
        let keep = len.div_ceil(PAGE_SIZE as u64);
        let gone: Vec<u64> = self.cache.range(keep..).map(|(&i, _)| i).collect();
        for index in gone {
            let p = self.cache.remove(&index).expect("listed");
            pages.put(p, self.holder(index));
        }
        self.initial_pages = self.initial_pages.min(keep);
        let tail = (len % PAGE_SIZE as u64) as usize;
        if len < self.size && tail != 0 && self.page(len / PAGE_SIZE as u64) != FilePage::Hole {
            let page = self.materialise(pages, len / PAGE_SIZE as u64);
            pages.write(page, tail, Source::Fill { byte: 0, len: PAGE_SIZE - tail });
        }
        self.size = len;
    }

    /// Drop the page cache (the file is removed).
    pub fn evict(&mut self, pages: &mut PageArena) {
        for (index, p) in std::mem::take(&mut self.cache) {
            pages.put(p, self.holder(index));
        }
    }

    /// The holder recorded for page `index`.
    pub fn page_holder(&self, index: u64) -> Holder {
        self.holder(index)
    }
}
