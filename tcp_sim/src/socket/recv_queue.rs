//! The receive queue: bytes in order waiting for the program, and
//! out-of-order segments waiting for the hole before them to fill
//! (`sk_receive_queue` and `out_of_order_queue` of `struct tcp_sock`).
//!
//! On a loopback connection the queue holds the sender's very page
//! fragments, each with its own page reference recorded as
//! `Holder::socket(recv_object, seq)`; on a link the receiver holds the
//! bytes that crossed the wire (they belong to another host's memory and
//! are kept out of the page arena).

use std::collections::VecDeque;
use std::sync::Arc;

use page_refs::{Content, Holder, PageArena, PageId};

use crate::seq::{after, before, before_eq, dist};

/// What a piece of received data is.
#[derive(Clone, Debug)]
pub(crate) enum Data {
    /// Bytes that crossed a link: `bytes[start..]` are still unread.
    Bytes { bytes: Vec<u8>, start: usize },
    /// `len` bytes of value `byte` that crossed a link (a run, kept short,
    /// as `page_refs::Content::Uniform` keeps a uniform page).
    Fill { byte: u8, len: usize },
    /// A page fragment shared with the sender (loopback): `len` bytes at
    /// `off`; the reference is held for `Holder::socket(object, holder)`.
    Page { page: PageId, off: usize, len: usize, holder: u32, meant: Option<(Arc<Content>, usize, u32)> },
}

impl Data {
    pub fn len(&self) -> usize {
        match self {
            Data::Bytes { bytes, start } => bytes.len() - start,
            Data::Fill { len, .. } | Data::Page { len, .. } => *len,
        }
    }

    /// Forget the first `n` bytes.
    fn trim_front(&mut self, n: usize) {
        match self {
            Data::Bytes { start, .. } => *start += n,
            Data::Fill { len, .. } => *len -= n,
            Data::Page { off, len, meant, .. } => {
                *off += n;
                *len -= n;
                if let Some((_, m, _)) = meant {
                    *m += n;
                }
            }
        }
    }

    /// Forget everything from byte `n` on.
    fn trim_back(&mut self, n: usize) {
        match self {
            Data::Bytes { bytes, start } => bytes.truncate(*start + n),
            Data::Fill { len, .. } | Data::Page { len, .. } => *len = n,
        }
    }
}

/// A run of received data: sequence numbers `seq..seq+data.len()`.
#[derive(Clone, Debug)]
pub(crate) struct Seg {
    pub seq: u32,
    pub data: Data,
}

impl Seg {
    pub fn end(&self) -> u32 {
        self.seq.wrapping_add(self.data.len() as u32)
    }
}

/// What a read found wrong: bytes delivered that differ from the bytes
/// the program meant to send.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Altered {
    /// How many bytes differ.
    pub bytes: u64,
    /// Stream offsets (from the first byte ever sent) of the first and
    /// one past the last differing byte.
    pub first: u64,
    /// One past the last differing byte's stream offset.
    pub end: u64,
}

impl Altered {
    /// Record that `n` bytes from stream offset `at` differ.
    pub fn add(&mut self, at: u64, n: u64) {
        if n == 0 {
            return;
        }
        if self.bytes == 0 {
            self.first = at;
            self.end = at + n;
        } else {
            self.first = self.first.min(at);
            self.end = self.end.max(at + n);
        }
        self.bytes += n;
    }
}

/// The receive side of a socket.
#[derive(Clone, Debug)]
pub(crate) struct RecvQueue {
    holder_object: u32,
    /// The peer's initial sequence number: stream offsets count from it.
    pub irs: u32,
    /// Next sequence number expected.
    pub rcv_nxt: u32,
    /// In-order data the program has not read.
    pub(crate) queue: VecDeque<Seg>,
    /// Bytes in `queue`.
    pub queued: usize,
    /// Out-of-order segments, sorted, not overlapping, all after `rcv_nxt`.
    pub(crate) ooo: VecDeque<Seg>,
    /// Bytes in `ooo`.
    pub ooo_bytes: usize,
    /// The most in-order bytes the queue may hold (`SO_RCVBUF`, counted in
    /// payload bytes).
    pub rcvbuf: usize,
    /// Bytes delivered in order so far.
    pub delivered: u64,
    /// Bytes read by the program so far.
    pub read: u64,
    /// Delivered bytes that differ from what the sender's program meant.
    pub altered: Altered,
}

impl RecvQueue {
    pub fn new(holder_object: u32, irs: u32, rcvbuf: usize) -> Self {
        RecvQueue {
            holder_object,
            irs,
            rcv_nxt: irs,
            queue: VecDeque::new(),
            queued: 0,
            ooo: VecDeque::new(),
            ooo_bytes: 0,
            rcvbuf,
            delivered: 0,
            read: 0,
            altered: Altered::default(),
        }
    }

    fn holder(&self, index: u32) -> Holder {
        Holder::socket(self.holder_object, index)
    }

    /// The window the receiver may advertise: room left for in-order data.
    pub fn window(&self) -> usize {
        self.rcvbuf.saturating_sub(self.queued)
    }

    /// Release a piece of data that will never be queued.
    fn drop_data(&self, pages: &mut PageArena, data: Data) {
        if let Data::Page { page, holder, .. } = data {
            pages.put(page, self.holder(holder));
        }
    }

    /// Accept segment `seg` (already trimmed to the window's right edge
    /// by the caller or not); answers what happened.
    pub fn accept(&mut self, pages: &mut PageArena, mut seg: Seg, right_edge: u32) -> Accepted {
        let len = seg.data.len();
        if len == 0 {
            self.drop_data(pages, seg.data);
            return Accepted::Nothing;
        }
        // Beyond the window: cut.
        if !before(seg.seq, right_edge) {
            self.drop_data(pages, seg.data);
            return Accepted::OutOfWindow;
        }
        if after(seg.end(), right_edge) {
            seg.data.trim_back(dist(seg.seq, right_edge));
        }
        // Already received: cut the old part.
        if before_eq(seg.end(), self.rcv_nxt) {
            self.drop_data(pages, seg.data);
            return Accepted::Duplicate;
        }
        if before(seg.seq, self.rcv_nxt) {
            let old = dist(seg.seq, self.rcv_nxt);
            seg.data.trim_front(old);
            seg.seq = self.rcv_nxt;
        }
        if seg.seq == self.rcv_nxt {
            let had_ooo = !self.ooo.is_empty();
            self.push_in_order(seg);
            self.pull_ooo(pages);
            if had_ooo { Accepted::FilledHole } else { Accepted::InOrder }
        } else {
            self.insert_ooo(pages, seg);
            Accepted::OutOfOrder
        }
    }

    fn push_in_order(&mut self, seg: Seg) {
        let n = seg.data.len();
        self.rcv_nxt = seg.end();
        self.queued += n;
        self.delivered += n as u64;
        // A run continuing the last one (the same uniform page, split over
        // two segments) joins it.
        if let (Some(Seg { data: Data::Fill { byte: last, len }, .. }), Data::Fill { byte, .. }) =
            (self.queue.back_mut(), &seg.data)
            && *last == *byte
        {
            *len += n;
            return;
        }
        self.queue.push_back(seg);
    }

    /// Move the out-of-order segments that now continue the stream.
    fn pull_ooo(&mut self, pages: &mut PageArena) {
        while let Some(first) = self.ooo.front() {
            if after(first.seq, self.rcv_nxt) {
                break;
            }
            let mut seg = self.ooo.pop_front().expect("peeked");
            self.ooo_bytes -= seg.data.len();
            if before_eq(seg.end(), self.rcv_nxt) {
                self.drop_data(pages, seg.data);
                continue;
            }
            let old = dist(seg.seq, self.rcv_nxt);
            seg.data.trim_front(old);
            seg.seq = self.rcv_nxt;
            self.push_in_order(seg);
        }
    }

    /// Keep an out-of-order segment, without the bytes already kept.
    fn insert_ooo(&mut self, pages: &mut PageArena, mut seg: Seg) {
        // Sorted by distance from rcv_nxt (all are after it).
        let key = |s: &Seg| dist(self.rcv_nxt, s.seq);
        let mut i = self.ooo.partition_point(|s| key(s) <= key(&seg));
        // Overlap with the one before: cut our front.
        if i > 0 {
            let prev_end = self.ooo[i - 1].end();
            if !before(seg.seq, prev_end) {
                // no overlap
            } else if before_eq(seg.end(), prev_end) {
                self.drop_data(pages, seg.data);
                return;
            } else {
                let old = dist(seg.seq, prev_end);
                seg.data.trim_front(old);
                seg.seq = prev_end;
            }
        }
        // Overlap with the ones after: keep only the part before the next,
        // and insert the rest piece by piece (segments that cover a later
        // one whole are cut there; the tail goes in after it).
        while i < self.ooo.len() {
            let next = &self.ooo[i];
            if before_eq(seg.end(), next.seq) {
                break;
            }
            if before(seg.seq, next.seq) {
                // A piece before `next`, the rest after it.
                let head_len = dist(seg.seq, next.seq);
                let next_end = next.end();
                let tail = self.split(pages, &mut seg, head_len, next_end);
                self.ooo_bytes += seg.data.len();
                self.ooo.insert(i, seg);
                i += 2;
                match tail {
                    Some(t) => seg = t,
                    None => return,
                }
            } else {
                // Starts inside `next`: skip what `next` has.
                let next_end = next.end();
                if before_eq(seg.end(), next_end) {
                    self.drop_data(pages, seg.data);
                    return;
                }
                let old = dist(seg.seq, next_end);
                seg.data.trim_front(old);
                seg.seq = next_end;
                i += 1;
            }
        }
        self.ooo_bytes += seg.data.len();
        self.ooo.insert(i, seg);
    }

    /// Cut `seg` to its first `head` bytes; answer the part of it that
    /// lies after `resume` (a copy of the bytes, or a second reference to
    /// the page), if any.
    fn split(&self, pages: &mut PageArena, seg: &mut Seg, head: usize, resume: u32) -> Option<Seg> {
        let tail = if after(seg.end(), resume) {
            let skip = dist(seg.seq, resume);
            let data = match &seg.data {
                Data::Bytes { bytes, start } => Data::Bytes { bytes: bytes[start + skip..].to_vec(), start: 0 },
                Data::Fill { byte, len } => Data::Fill { byte: *byte, len: len - skip },
                Data::Page { page, off, len, meant, .. } => {
                    pages.get(*page, self.holder(resume));
                    Data::Page {
                        page: *page,
                        off: off + skip,
                        len: len - skip,
                        holder: resume,
                        meant: meant.as_ref().map(|(c, m, v)| (c.clone(), m + skip, *v)),
                    }
                }
            };
            Some(Seg { seq: resume, data })
        } else {
            None
        };
        seg.data.trim_back(head);
        tail
    }

    /// Copy up to `len` in-order bytes into `out`, releasing what is fully
    /// read; answers the count. A page the program changed after it queued
    /// it counts the differing bytes in [`Self::altered`].
    pub fn read(&mut self, pages: &mut PageArena, len: usize, out: &mut Vec<u8>) -> usize {
        let mut done = 0;
        while done < len {
            let Some(seg) = self.queue.front_mut() else { break };
            let n = seg.data.len().min(len - done);
            let at = out.len();
            match &seg.data {
                Data::Bytes { bytes, start } => out.extend_from_slice(&bytes[*start..start + n]),
                Data::Fill { byte, .. } => out.resize(out.len() + n, *byte),
                Data::Page { page, off, meant, .. } => {
                    pages.read_into(*page, *off, n, out);
                    if let Some((content, m, version)) = meant
                        && pages.version(*page) != *version
                    {
                        let stream_at = self.read;
                        let differ = count_differing(content, *m, &out[at..at + n]);
                        self.altered.add(stream_at, differ);
                    }
                }
            }
            seg.data.trim_front(n);
            seg.seq = seg.seq.wrapping_add(n as u32);
            self.queued -= n;
            self.read += n as u64;
            done += n;
            if seg.data.len() == 0 {
                let seg = self.queue.pop_front().expect("front");
                self.drop_data(pages, seg.data);
            }
        }
        done
    }

    /// Visit the first up to `len` in-order bytes as they are held, for
    /// splicing into a pipe: `f` answers how many bytes of each piece it
    /// took (fewer stops the walk). Answers the count taken.
    pub fn splice_out(
        &mut self,
        pages: &mut PageArena,
        len: usize,
        mut f: impl FnMut(&mut PageArena, Piece<'_>) -> usize,
    ) -> usize {
        let mut done = 0;
        while done < len {
            let Some(seg) = self.queue.front_mut() else { break };
            let n = seg.data.len().min(len - done);
            let took = match &seg.data {
                Data::Bytes { bytes, start } => f(pages, Piece::Bytes(&bytes[*start..start + n])),
                Data::Fill { byte, .. } => f(pages, Piece::Fill { byte: *byte, len: n }),
                Data::Page { page, off, .. } => f(pages, Piece::Page { page: *page, off: *off, len: n }),
            };
            let took = took.min(n);
            seg.data.trim_front(took);
            seg.seq = seg.seq.wrapping_add(took as u32);
            self.queued -= took;
            self.read += took as u64;
            done += took;
            if seg.data.len() == 0 {
                let seg = self.queue.pop_front().expect("front");
                self.drop_data(pages, seg.data);
            }
            if took < n {
                break;
            }
        }
        done
    }

    /// Drop everything (close with unread data, or destruction).
    pub fn purge(&mut self, pages: &mut PageArena) {
        while let Some(seg) = self.queue.pop_front() {
            self.drop_data(pages, seg.data);
        }
        for seg in std::mem::take(&mut self.ooo) {
            self.drop_data(pages, seg.data);
        }
        self.queued = 0;
        self.ooo_bytes = 0;
    }

    /// Every page reference held, with its holder.
    pub fn refs(&self) -> impl Iterator<Item = (PageId, Holder, u32, u32)> + '_ {
        self.queue.iter().chain(self.ooo.iter()).filter_map(|s| match &s.data {
            Data::Page { page, holder, .. } => Some((*page, self.holder(*holder), s.seq, s.end())),
            Data::Bytes { .. } | Data::Fill { .. } => None,
        })
    }

    /// Check the queue's shape: in-order data ends at `rcv_nxt`, the
    /// out-of-order segments are sorted, disjoint and after it, and the
    /// byte counts add up.
    pub fn check(&self, fin_rcvd: bool) -> Result<(), String> {
        // The peer's FIN takes one sequence number after the data.
        let data_end = if fin_rcvd { self.rcv_nxt.wrapping_sub(1) } else { self.rcv_nxt };
        let mut expect = self.queue.front().map(|s| s.seq);
        let mut sum = 0;
        for s in &self.queue {
            if Some(s.seq) != expect || s.data.len() == 0 {
                return Err(format!("receive queue segment at {} is misplaced or empty", s.seq));
            }
            sum += s.data.len();
            expect = Some(s.end());
        }
        if expect.is_some_and(|e| e != data_end) || sum != self.queued {
            return Err(format!("receive queue ends at {expect:?} with {sum} bytes; data ends at {data_end}"));
        }
        let mut prev: Option<u32> = None;
        let mut ooo = 0;
        for s in &self.ooo {
            let misplaced = match prev {
                None => !after(s.seq, data_end),
                Some(p) => before(s.seq, p),
            };
            if misplaced || s.data.len() == 0 {
                return Err(format!("out-of-order segment at {} overlaps or precedes {prev:?}", s.seq));
            }
            prev = Some(s.end());
            ooo += s.data.len();
        }
        if ooo != self.ooo_bytes {
            return Err(format!("out-of-order bytes {ooo}, counted {}", self.ooo_bytes));
        }
        Ok(())
    }
}

/// A piece of received data offered to [`RecvQueue::splice_out`].
#[derive(Clone, Debug)]
pub enum Piece<'a> {
    /// Bytes that crossed a link.
    Bytes(&'a [u8]),
    /// A run of one byte value that crossed a link.
    Fill {
        /// The value.
        byte: u8,
        /// How many.
        len: usize,
    },
    /// A page fragment the queue holds.
    Page {
        /// The page.
        page: PageId,
        /// Offset in the page.
        off: usize,
        /// Bytes.
        len: usize,
    },
}

/// How many of `n` bytes of value `byte` differ from `content` at `off..`.
pub(crate) fn count_differing_fill(content: &Content, off: usize, n: usize, byte: u8) -> u64 {
    match content {
        Content::Uniform(b) => {
            if *b == byte {
                0
            } else {
                n as u64
            }
        }
        Content::Bytes(bytes) => bytes[off..off + n].iter().filter(|&&x| x != byte).count() as u64,
    }
}

/// How many of `got` differ from `content` at `off..`.
pub(crate) fn count_differing(content: &Content, off: usize, got: &[u8]) -> u64 {
    match content {
        Content::Uniform(b) => got.iter().filter(|&&x| x != *b).count() as u64,
        Content::Bytes(bytes) => got.iter().zip(&bytes[off..off + got.len()]).filter(|(a, b)| a != b).count() as u64,
    }
}

/// What [`RecvQueue::accept`] did with a segment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Accepted {
    /// No payload.
    Nothing,
    /// Appended in order.
    InOrder,
    /// Appended, and it filled the hole before out-of-order data.
    FilledHole,
    /// Kept out of order.
    OutOfOrder,
    /// All of it was already received.
    Duplicate,
    /// All of it lies beyond the window.
    OutOfWindow,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(seq: u32, b: &[u8]) -> Seg {
        Seg { seq, data: Data::Bytes { bytes: b.to_vec(), start: 0 } }
    }

    #[test]
    fn out_of_order_overlaps_are_trimmed_and_pulled_in_order() {
        let mut pages = PageArena::new();
        let isn = u32::MAX - 3;
        let mut q = RecvQueue::new(1, isn, 1 << 20);
        let edge = isn.wrapping_add(1 << 20);
        let s = |k: u32| isn.wrapping_add(k);
        assert_eq!(q.accept(&mut pages, bytes(s(4), b"efgh"), edge), Accepted::OutOfOrder);
        assert_eq!(q.accept(&mut pages, bytes(s(10), b"kl"), edge), Accepted::OutOfOrder);
        assert_eq!(q.accept(&mut pages, bytes(s(2), b"cdefghijklm"), edge), Accepted::OutOfOrder);
        q.check(false).unwrap();
        assert_eq!(q.ooo_bytes, 11);
        assert_eq!(q.accept(&mut pages, bytes(s(0), b"ab"), edge), Accepted::FilledHole);
        assert_eq!(q.accept(&mut pages, bytes(s(1), b"bc"), edge), Accepted::Duplicate);
        q.check(false).unwrap();
        let mut out = Vec::new();
        assert_eq!(q.read(&mut pages, 100, &mut out), 13);
        assert_eq!(out, b"abcdefghijklm");
        assert_eq!(q.rcv_nxt, s(13));
    }

    #[test]
    fn window_edge_cuts_the_segment() {
        let mut pages = PageArena::new();
        let mut q = RecvQueue::new(1, 0, 4);
        assert_eq!(q.accept(&mut pages, bytes(0, b"abcdef"), 4), Accepted::InOrder);
        assert_eq!(q.queued, 4);
        assert_eq!(q.window(), 0);
        assert_eq!(q.accept(&mut pages, bytes(4, b"ef"), 4), Accepted::OutOfWindow);
    }
}
