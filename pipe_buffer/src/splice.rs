//! Zero-copy transfers: adding page references (vmsplice, splice from a
//! file), splice between pipes and tee (fs/splice.c).

use page_refs::{PageArena, PageId};

use crate::buf::{BufFlags, BufOrigin, PipeBuffer};
use crate::error::PipeError;
use crate::ring::PipeInodeInfo;

impl PipeInodeInfo {
    /// `wait_for_space`: may a producer add a buffer now?
    ///
    /// # Errors
    /// [`PipeError::Pipe`] with no reader; when full, [`PipeError::Again`]
    /// if nonblocking, else [`PipeError::WouldBlock`].
    #[inline]
    pub fn wait_for_space(&self, nonblock: bool) -> Result<(), PipeError> {
        if self.readers == 0 {
            Err(PipeError::Pipe)
        } else if !self.is_full() {
            Ok(())
        } else if nonblock {
            Err(PipeError::Again)
        } else {
            Err(PipeError::WouldBlock { done: 0 })
        }
    }

    /// `add_to_pipe`: put bytes `offset..offset+len` of `page` in a new
    /// slot, taking a reference to the page for this pipe. The slot is
    /// never merged into (its flags come from the caller: none, or
    /// [`BufFlags::GIFT`]).
    ///
    /// # Errors
    /// [`PipeError::Pipe`] with no reader, [`PipeError::Again`] when full;
    /// no reference is taken then.
    #[inline]
    pub fn add_page(
        &mut self,
        pages: &mut PageArena,
        page: PageId,
        offset: usize,
        len: usize,
        flags: BufFlags,
        origin: BufOrigin,
    ) -> Result<usize, PipeError> {
        debug_assert!(len > 0 && offset + len <= page_refs::PAGE_SIZE);
        if self.readers == 0 {
            return Err(PipeError::Pipe);
        }
        if self.is_full() {
            return Err(PipeError::Again);
        }
        pages.get(page, self.holder());
        self.push_locked(PipeBuffer { page, offset: offset as u32, len: len as u32, flags, origin });
        Ok(len)
    }

    /// `ipipe_prep`: wait for input unless there is some or no writer.
    fn ipipe_prep(&self, nonblock: bool) -> Result<(), PipeError> {
        if !self.is_empty() || self.writers == 0 {
            Ok(())
        } else if nonblock {
            Err(PipeError::Again)
        } else {
            Err(PipeError::WouldBlock { done: 0 })
        }
    }

    /// `opipe_prep`: wait for room unless there is some.
    fn opipe_prep(&self, nonblock: bool) -> Result<(), PipeError> {
        if !self.is_full() {
            Ok(())
        } else if self.readers == 0 {
            Err(PipeError::Pipe)
        } else if nonblock {
            Err(PipeError::Again)
        } else {
            Err(PipeError::WouldBlock { done: 0 })
        }
    }

    /// splice(2) from this pipe into `out` (`splice_pipe_to_pipe`).
    ///
    /// Whole buffers move with their page reference and flags; when `len`
    /// ends inside a buffer, `out` gets a new reference to the page for the
    /// first part (without `CAN_MERGE` and `GIFT`) and this pipe keeps the
    /// rest. Stops at `len`, at an empty input or a full output once
    /// something moved.
    ///
    /// # Errors
    /// [`PipeError::Pipe`] when `out` has no reader (before anything
    /// moved), [`PipeError::Again`] / [`PipeError::WouldBlock`] when nothing
    /// can move.
    pub fn splice_to(
        &mut self,
        out: &mut PipeInodeInfo,
        pages: &mut PageArena,
        len: usize,
        nonblock: bool,
    ) -> Result<usize, PipeError> {
        self.ipipe_prep(nonblock)?;
        out.opipe_prep(nonblock)?;
        let mut len = len;
        let mut ret = 0usize;
        loop {
            if out.readers == 0 {
                return if ret > 0 { Ok(ret) } else { Err(PipeError::Pipe) };
            }
            if self.is_empty() && self.writers == 0 {
                break;
            }
            if self.is_empty() || out.is_full() {
                if ret > 0 {
                    break;
                }
                return Err(if nonblock { PipeError::Again } else { PipeError::WouldBlock { done: 0 } });
            }
            let ibuf = *self.slot(self.tail);
            let o_len = if len >= ibuf.len as usize {
                let buf = self.pop_locked();
                pages.transfer(buf.page, self.holder(), out.holder());
                out.push_locked(buf);
                buf.len as usize
            } else {
                pages.get(ibuf.page, out.holder());
                out.push_locked(PipeBuffer {
                    len: len as u32,
                    flags: ibuf.flags.without(BufFlags::GIFT).without(BufFlags::CAN_MERGE),
                    ..ibuf
                });
                let tail = self.tail;
                let slot = self.slot_mut(tail);
                slot.offset += len as u32;
                slot.len -= len as u32;
                len
            };
            ret += o_len;
            len -= o_len;
            if len == 0 {
                break;
            }
        }
        Ok(ret)
    }

    /// tee(2) from this pipe into `out` (`link_pipe`): `out` gets new
    /// references to the pages of this pipe's buffers, oldest first, the
    /// last one cut at `len`; this pipe is not consumed.
    ///
    /// # Errors
    /// [`PipeError::Pipe`] when `out` has no reader, [`PipeError::Again`] /
    /// [`PipeError::WouldBlock`] when the input is empty with a writer or
    /// the output full with a reader.
    pub fn tee_to(
        &self,
        out: &mut PipeInodeInfo,
        pages: &mut PageArena,
        len: usize,
        nonblock: bool,
    ) -> Result<usize, PipeError> {
        self.ipipe_prep(nonblock)?;
        out.opipe_prep(nonblock)?;
        let mut len = len;
        let mut ret = 0usize;
        let mut i_tail = self.tail;
        loop {
            if out.readers == 0 {
                return if ret > 0 { Ok(ret) } else { Err(PipeError::Pipe) };
            }
            if i_tail == self.head || out.is_full() {
                break;
            }
            let ibuf = *self.slot(i_tail);
            pages.get(ibuf.page, out.holder());
            let mut obuf =
                PipeBuffer { flags: ibuf.flags.without(BufFlags::GIFT).without(BufFlags::CAN_MERGE), ..ibuf };
            if obuf.len as usize > len {
                obuf.len = len as u32;
            }
            out.push_locked(obuf);
            ret += obuf.len as usize;
            len -= obuf.len as usize;
            i_tail = i_tail.wrapping_add(1);
            if len == 0 {
                break;
            }
        }
        Ok(ret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use page_refs::{Holder, Source};

    /// An arena and two empty pipes, ids 1 and 2.
    fn two_pipes() -> (PageArena, PipeInodeInfo, PipeInodeInfo) {
        (PageArena::new(), PipeInodeInfo::new(1), PipeInodeInfo::new(2))
    }

    /// Close both pipes and check that no page is left behind.
    fn tear_down(mut pages: PageArena, mut p: PipeInodeInfo, mut q: PipeInodeInfo) {
        p.release_all(&mut pages);
        q.release_all(&mut pages);
        pages.check_teardown().unwrap();
    }

    fn fill(byte: u8, len: usize) -> Source<'static> {
        Source::Fill { byte, len }
    }

    #[test]
    fn splice_moves_whole_buffers_with_their_reference() {
        let (mut pages, mut p, mut q) = two_pipes();
        p.write(&mut pages, fill(b'a', 8192), true).unwrap();
        let page = p.buffers().next().unwrap().page;
        assert_eq!(p.splice_to(&mut q, &mut pages, 4096, true), Ok(4096));
        assert_eq!(pages.holders(page), &[Holder::pipe(2)]);
        assert!(q.buffers().next().unwrap().flags.contains(BufFlags::CAN_MERGE), "whole move keeps flags");
        tear_down(pages, p, q);
    }

    #[test]
    fn splice_splits_the_last_buffer_sharing_its_page() {
        let (mut pages, mut p, mut q) = two_pipes();
        p.write(&mut pages, fill(b'a', 4096), true).unwrap();
        assert_eq!(p.splice_to(&mut q, &mut pages, 100, true), Ok(100));
        let page = p.buffers().next().unwrap().page;
        assert_eq!(pages.refcount(page), 2);
        assert_eq!(p.len_bytes(), 3996);
        assert!(!q.buffers().next().unwrap().flags.contains(BufFlags::CAN_MERGE));
        tear_down(pages, p, q);
    }

    #[test]
    fn tee_duplicates_without_consuming_and_cuts_at_len() {
        let (mut pages, mut p, mut q) = two_pipes();
        p.write(&mut pages, fill(b'a', 8192), true).unwrap();
        assert_eq!(p.tee_to(&mut q, &mut pages, 5000, true), Ok(5000));
        assert_eq!(p.len_bytes(), 8192);
        let lens: Vec<u32> = q.buffers().map(|b| b.len).collect();
        assert_eq!(lens, vec![4096, 904]);
        tear_down(pages, p, q);
    }

    #[test]
    fn splice_into_pipe_without_reader_is_epipe_but_empty_input_is_eagain_first() {
        let (mut pages, mut p, mut q) = two_pipes();
        q.readers = 0;
        assert_eq!(p.splice_to(&mut q, &mut pages, 10, true), Err(PipeError::Again));
        p.write(&mut pages, fill(b'a', 10), true).unwrap();
        assert_eq!(p.splice_to(&mut q, &mut pages, 10, true), Err(PipeError::Pipe));
        p.release_all(&mut pages);
    }

    #[test]
    fn splice_from_empty_pipe_without_writer_is_zero() {
        let (mut pages, mut p, mut q) = two_pipes();
        p.writers = 0;
        assert_eq!(p.splice_to(&mut q, &mut pages, 10, false), Ok(0));
        assert_eq!(p.tee_to(&mut q, &mut pages, 10, false), Ok(0));
    }

    #[test]
    fn add_page_refuses_when_full_without_taking_a_reference() {
        let mut pages = PageArena::new();
        let user = pages.alloc(Holder::user(0, 0));
        let mut p = PipeInodeInfo::new(1);
        for _ in 0..16 {
            p.add_page(&mut pages, user, 0, 4096, BufFlags::NONE, BufOrigin::User).unwrap();
        }
        assert_eq!(p.add_page(&mut pages, user, 0, 1, BufFlags::NONE, BufOrigin::User), Err(PipeError::Again));
        assert_eq!(pages.refcount(user), 17);
        p.release_all(&mut pages);
        pages.put(user, Holder::user(0, 0));
        pages.check_teardown().unwrap();
    }
}
