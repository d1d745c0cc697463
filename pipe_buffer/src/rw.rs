//! read(2) and write(2) on a pipe: `pipe_read` and `pipe_write` of
//! fs/pipe.c.

use page_refs::{PAGE_SIZE, PageArena, PageId, Source};

use crate::buf::{BufFlags, BufOrigin, PipeBuffer};
use crate::error::PipeError;
use crate::ring::PipeInodeInfo;

/// `PIPE_BUF`: writes of at most this many bytes are atomic.
pub const PIPE_BUF: usize = PAGE_SIZE;

impl PipeInodeInfo {
    /// write(2) of `src` (`pipe_write`).
    ///
    /// The tail of the write that does not fill a whole page
    /// (`len % PAGE_SIZE` bytes) is first appended to the last buffer if
    /// that buffer is [`BufFlags::CAN_MERGE`] and has room for all of it;
    /// everything else goes into fresh pages, one slot each, until the ring
    /// is full. So a write of at most [`PIPE_BUF`] bytes is never split.
    ///
    /// # Errors
    /// [`PipeError::Pipe`] with no reader (before any byte), [`PipeError::Again`]
    /// when nonblocking and nothing fit, [`PipeError::WouldBlock`] when
    /// blocking and the ring filled before the end of `src` (with the bytes
    /// written so far). A nonblocking write that fit only partly answers the
    /// partial count.
    pub fn write(&mut self, pages: &mut PageArena, src: Source<'_>, nonblock: bool) -> Result<usize, PipeError> {
        let total_len = src.len();
        if total_len == 0 {
            return Ok(0);
        }
        if self.readers == 0 {
            return Err(PipeError::Pipe);
        }
        let mut rest = src;
        let mut ret = 0usize;
        let chars = total_len & (PAGE_SIZE - 1);
        if chars != 0 && !self.is_empty() {
            let last = self.head.wrapping_sub(1);
            let buf = *self.slot(last);
            let offset = buf.offset as usize + buf.len as usize;
            if buf.flags.contains(BufFlags::CAN_MERGE) && offset + chars <= PAGE_SIZE {
                let (now, later) = rest.split_at(chars);
                pages.write(buf.page, offset, now);
                self.slot_mut(last).len += chars as u32;
                ret = chars;
                rest = later;
                if rest.is_empty() {
                    return Ok(ret);
                }
            }
        }
        loop {
            if self.readers == 0 {
                return if ret > 0 { Ok(ret) } else { Err(PipeError::Pipe) };
            }
            if !self.is_full() {
                let page = pages.alloc(self.holder());
                let n = rest.len().min(PAGE_SIZE);
                let (now, later) = rest.split_at(n);
                pages.write(page, 0, now);
                self.push_locked(PipeBuffer {
                    page,
                    offset: 0,
                    len: n as u32,
                    flags: BufFlags::CAN_MERGE,
                    origin: BufOrigin::Anon,
                });
                ret += n;
                rest = later;
                if rest.is_empty() {
                    return Ok(ret);
                }
                continue;
            }
            if nonblock {
                return if ret > 0 { Ok(ret) } else { Err(PipeError::Again) };
            }
            return Err(PipeError::WouldBlock { done: ret });
        }
    }

    /// read(2) of at most `len` bytes (`pipe_read`), also the consumer side
    /// of vmsplice to user memory and of splice to a file
    /// (`__splice_from_pipe`), which follow the same rules.
    ///
    /// Copies from the oldest buffers, splitting the last one read; a
    /// buffer emptied is released (its page reference dropped). Returns an
    /// empty vector at end of file (empty pipe, no writer) or for `len` 0.
    ///
    /// # Errors
    /// [`PipeError::Again`] when empty with a writer and nonblocking,
    /// [`PipeError::WouldBlock`] (with `done` 0) when blocking.
    pub fn read(&mut self, pages: &mut PageArena, len: usize, nonblock: bool) -> Result<Vec<u8>, PipeError> {
        let mut out = Vec::new();
        self.read_into(pages, len, nonblock, &mut out)?;
        Ok(out)
    }

    /// [`read`](Self::read), appending to `out` (a buffer the caller
    /// reuses) and answering the count.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn read_into(
        &mut self,
        pages: &mut PageArena,
        len: usize,
        nonblock: bool,
        out: &mut Vec<u8>,
    ) -> Result<usize, PipeError> {
        // At most `len` bytes and at most a page per occupied slot: grow
        // `out` once instead of page by page.
        out.reserve(len.min(self.occupancy() as usize * PAGE_SIZE));
        self.read_with(pages, len, nonblock, |pages, page, offset, n| pages.read_into(page, offset, n, out))
    }

    /// [`read`](Self::read), handing each piece to `copy` as
    /// `(pages, page, offset, len)` while the pipe still holds the page, so
    /// the caller copies from the live page (as `copy_page_to_iter` does)
    /// before the buffer is released. Answers the bytes consumed.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn read_with(
        &mut self,
        pages: &mut PageArena,
        len: usize,
        nonblock: bool,
        mut copy: impl FnMut(&mut PageArena, PageId, usize, usize),
    ) -> Result<usize, PipeError> {
        if len == 0 {
            return Ok(0);
        }
        let mut total_len = len;
        let mut ret = 0;
        while !self.is_empty() {
            let tail = self.tail;
            let buf = *self.slot(tail);
            let chars = (buf.len as usize).min(total_len);
            copy(pages, buf.page, buf.offset as usize, chars);
            let slot = self.slot_mut(tail);
            slot.offset += chars as u32;
            slot.len -= chars as u32;
            if slot.len == 0 {
                self.release_tail_locked(pages);
            }
            ret += chars;
            total_len -= chars;
            if total_len == 0 {
                break;
            }
        }
        if ret > 0 || self.writers == 0 {
            return Ok(ret);
        }
        if nonblock { Err(PipeError::Again) } else { Err(PipeError::WouldBlock { done: 0 }) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use page_refs::PageArena;

    fn fill(byte: u8, len: usize) -> Source<'static> {
        Source::Fill { byte, len }
    }

    #[test]
    fn small_writes_merge_into_one_slot() {
        let mut pages = PageArena::new();
        let mut p = PipeInodeInfo::new(1);
        assert_eq!(p.write(&mut pages, fill(b'a', 100), true), Ok(100));
        assert_eq!(p.write(&mut pages, fill(b'b', 100), true), Ok(100));
        assert_eq!(p.occupancy(), 1, "merged");
        let got = p.read(&mut pages, 300, true).unwrap();
        assert_eq!(got.len(), 200);
        assert_eq!(&got[99..101], b"ab");
        assert!(p.is_empty());
        pages.check_teardown().unwrap();
    }

    #[test]
    fn page_multiple_write_never_merges() {
        let mut pages = PageArena::new();
        let mut p = PipeInodeInfo::new(1);
        p.write(&mut pages, fill(b'a', 1), true).unwrap();
        p.write(&mut pages, fill(b'b', 4096), true).unwrap();
        assert_eq!(p.occupancy(), 2);
        p.release_all(&mut pages);
        pages.check_teardown().unwrap();
    }

    #[test]
    fn remainder_of_a_long_write_merges_first() {
        let mut pages = PageArena::new();
        let mut p = PipeInodeInfo::new(1);
        p.write(&mut pages, fill(b'a', 1), true).unwrap();
        // 4097 = 1 byte merged into the first slot, then one full page.
        p.write(&mut pages, fill(b'b', 4097), true).unwrap();
        let lens: Vec<u32> = p.buffers().map(|b| b.len).collect();
        assert_eq!(lens, vec![2, 4096]);
        p.release_all(&mut pages);
    }

    #[test]
    fn merge_needs_room_for_the_whole_remainder() {
        let mut pages = PageArena::new();
        let mut p = PipeInodeInfo::new(1);
        p.write(&mut pages, fill(b'a', 4000), true).unwrap();
        p.write(&mut pages, fill(b'b', 200), true).unwrap();
        let lens: Vec<u32> = p.buffers().map(|b| b.len).collect();
        assert_eq!(lens, vec![4000, 200], "PIPE_BUF atomicity: not split across slots");
        p.release_all(&mut pages);
    }

    #[test]
    fn full_pipe_nonblocking_write_returns_eagain_and_partial() {
        let mut pages = PageArena::new();
        let mut p = PipeInodeInfo::new(1);
        assert_eq!(p.write(&mut pages, fill(b'a', 70000), true), Ok(65536));
        assert_eq!(p.write(&mut pages, fill(b'a', 1), true), Err(PipeError::Again));
        assert_eq!(p.write(&mut pages, fill(b'a', 1), false), Err(PipeError::WouldBlock { done: 0 }));
        p.release_all(&mut pages);
    }

    #[test]
    fn blocking_write_that_overflows_would_block_after_partial() {
        let mut pages = PageArena::new();
        let mut p = PipeInodeInfo::new(1);
        assert_eq!(p.write(&mut pages, fill(b'a', 70000), false), Err(PipeError::WouldBlock { done: 65536 }));
        p.release_all(&mut pages);
    }

    #[test]
    fn write_without_reader_is_epipe() {
        let mut pages = PageArena::new();
        let mut p = PipeInodeInfo::new(1);
        p.readers = 0;
        assert_eq!(p.write(&mut pages, fill(b'a', 1), true), Err(PipeError::Pipe));
        assert_eq!(p.write(&mut pages, fill(b'a', 0), true), Ok(0));
    }

    #[test]
    fn read_splits_a_slot_and_merge_appends_after_it() {
        let mut pages = PageArena::new();
        let mut p = PipeInodeInfo::new(1);
        p.write(&mut pages, fill(b'a', 10), true).unwrap();
        assert_eq!(p.read(&mut pages, 4, true).unwrap(), b"aaaa");
        p.write(&mut pages, fill(b'b', 2), true).unwrap();
        assert_eq!(p.occupancy(), 1);
        assert_eq!(p.read(&mut pages, 100, true).unwrap(), b"aaaaaabb");
        pages.check_teardown().unwrap();
    }

    #[test]
    fn empty_pipe_read_eof_eagain_or_block() {
        let mut pages = PageArena::new();
        let mut p = PipeInodeInfo::new(1);
        assert_eq!(p.read(&mut pages, 1, true), Err(PipeError::Again));
        assert_eq!(p.read(&mut pages, 1, false), Err(PipeError::WouldBlock { done: 0 }));
        p.writers = 0;
        assert_eq!(p.read(&mut pages, 1, false), Ok(vec![]));
    }

    #[test]
    fn read_into_appends_and_answers_the_count() {
        let mut pages = PageArena::new();
        let mut p = PipeInodeInfo::new(1);
        p.write(&mut pages, fill(b'a', 5000), true).unwrap();
        let mut out = b"xy".to_vec();
        assert_eq!(p.read_into(&mut pages, 4097, true, &mut out), Ok(4097));
        assert_eq!(out.len(), 2 + 4097);
        assert_eq!(&out[..3], b"xya");
        assert_eq!(p.read_into(&mut pages, 0, true, &mut out), Ok(0));
        assert_eq!(p.read_into(&mut pages, 10_000, true, &mut out), Ok(903));
        assert_eq!(p.read_into(&mut pages, 1, true, &mut out), Err(PipeError::Again));
        assert_eq!(out.len(), 2 + 5000, "unchanged by the error");
        p.writers = 0;
        assert_eq!(p.read_into(&mut pages, 1, false, &mut out), Ok(0));
        pages.check_teardown().unwrap();
    }

    #[test]
    fn indices_wrap_around_u32() {
        let mut pages = PageArena::new();
        let mut p = PipeInodeInfo::with_start(1, u32::MAX - 2);
        for round in 0..4u8 {
            assert_eq!(p.write(&mut pages, fill(b'a' + round, 8192), true), Ok(8192));
            assert_eq!(p.occupancy(), 2);
            let got = p.read(&mut pages, 8192, true).unwrap();
            assert!(got.iter().all(|&b| b == b'a' + round));
            p.check_invariants(&pages).unwrap();
        }
        pages.check_teardown().unwrap();
    }
}
