//! The send queue: page fragments in sequence order, from `snd_una` (the
//! oldest byte not yet acknowledged) to `write_seq` (the end of what the
//! program has queued).
//!
//! Models the write queue and retransmit queue of `struct tcp_sock`
//! (`sk_write_queue`, `tcp_rtx_queue`) reduced to what holds pages: every
//! fragment holds one page reference, recorded as
//! `Holder::socket(send_object, seq)` where `seq` is the fragment's first
//! sequence number. I.e. a cumulative ACK of `snd_una` releases the
//! reference of every fragment that ends at or before `snd_una`, and of no
//! other.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Arc;

use page_refs::{Content, Holder, PAGE_SIZE, PageArena, PageId, Source};

use crate::seq::{after, before_eq, dist};

/// One page fragment of the send queue: `len` bytes at `off` of `page`,
/// carrying sequence numbers `seq..seq+len`.
#[derive(Clone, Debug)]
pub(crate) struct Frag {
    pub page: PageId,
    pub off: u16,
    pub len: u16,
    /// First sequence number; also the index of the page reference's
    /// holder.
    pub seq: u32,
    /// The zerocopy send this fragment belongs to (`MSG_ZEROCOPY`).
    pub zc: Option<u32>,
    /// A page the socket allocated for copied bytes: the tail fragment may
    /// grow into the rest of it.
    pub own: bool,
    /// For a page the program can still write (a user page, a pipe's or a
    /// file's page): its bytes when they were queued, to tell whether what
    /// goes on the wire is what the program meant to send.
    pub meant: Option<Arc<Content>>,
    /// The page's write version when queued: while it is unchanged, the
    /// bytes are what the program meant (no comparison needed).
    pub version: u32,
}

impl Frag {
    /// One past the last sequence number.
    pub fn end(&self) -> u32 {
        self.seq.wrapping_add(u32::from(self.len))
    }
}

/// The bytes a sender queued and has not had acknowledged.
#[derive(Clone, Debug)]
pub(crate) struct SendQueue {
    pub(crate) frags: VecDeque<Frag>,
    /// The first sequence number ever queued.
    pub(crate) isn: u32,
    /// Fragments released from the front so far: `popped + i` is the
    /// absolute number of fragment `i`.
    pub(crate) popped: u64,
    /// Absolute number of the fragment the last lookup found (segments
    /// are mostly sent in order, so the next lookup is there or next).
    pub(crate) hint: Cell<u64>,
    /// `Holder::socket` object of this queue's references.
    pub(crate) holder_object: u32,
    /// Oldest unacknowledged sequence number.
    pub snd_una: u32,
    /// Next sequence number to send (moves back to `snd_una` after a
    /// retransmission timeout).
    pub snd_nxt: u32,
    /// Highest sequence number ever sent, plus one.
    pub snd_max: u32,
    /// One past the last byte queued by the program.
    pub write_seq: u32,
}

impl SendQueue {
    pub fn new(holder_object: u32, isn: u32) -> Self {
        SendQueue {
            frags: VecDeque::new(),
            isn,
            popped: 0,
            hint: Cell::new(0),
            holder_object,
            snd_una: isn,
            snd_nxt: isn,
            snd_max: isn,
            write_seq: isn,
        }
    }

    /// The first sequence number ever queued.
    pub fn isn(&self) -> u32 {
        self.isn
    }

    fn holder(&self, seq: u32) -> Holder {
        Holder::socket(self.holder_object, seq)
    }

    /// Bytes queued and not yet acknowledged (`write_seq - snd_una`).
    pub fn queued(&self) -> usize {
        // After our FIN is acknowledged, snd_una is one past write_seq.
        if after(self.snd_una, self.write_seq) { 0 } else { dist(self.snd_una, self.write_seq) }
    }

    /// Bytes not yet sent (`write_seq - snd_nxt`), 0 when everything went
    /// out (or more: after a FIN `snd_nxt` is past `write_seq`).
    pub fn unsent(&self) -> usize {
        if after(self.snd_nxt, self.write_seq) { 0 } else { dist(self.snd_nxt, self.write_seq) }
    }

    /// The fragments, oldest first.
    pub fn frags(&self) -> impl Iterator<Item = &Frag> + '_ {
        self.frags.iter()
    }

    /// The fragments, mutably (moving them to another host's memory).
    pub fn frags_mut(&mut self) -> impl Iterator<Item = &mut Frag> + '_ {
        self.frags.iter_mut()
    }

    /// The holder of fragment `seq`'s page reference.
    pub fn holder_of(&self, seq: u32) -> Holder {
        self.holder(seq)
    }

    /// Queue `src`, copied into pages the socket owns: the tail fragment's
    /// page is filled first if the socket owns it, then new pages.
    pub fn push_copy(&mut self, pages: &mut PageArena, src: Source<'_>) {
        let mut rest = src;
        while !rest.is_empty() {
            let (page, off) = match self.frags.back() {
                Some(t) if t.own && usize::from(t.off + t.len) < PAGE_SIZE => (t.page, (t.off + t.len) as usize),
                _ => {
                    let seq = self.write_seq;
                    let page = pages.alloc(self.holder(seq));
                    self.frags.push_back(Frag {
                        page,
                        off: 0,
                        len: 0,
                        seq,
                        zc: None,
                        own: true,
                        meant: None,
                        version: 0,
                    });
                    (page, 0)
                }
            };
            let n = rest.len().min(PAGE_SIZE - off);
            let (now, later) = rest.split_at(n);
            pages.write(page, off, now);
            let tail = self.frags.back_mut().expect("just ensured a tail");
            tail.len += n as u16;
            self.write_seq = self.write_seq.wrapping_add(n as u32);
            rest = later;
        }
    }

    /// Queue `len` bytes at `off` of a page the caller holds: the queue
    /// takes its own reference (`skb_append_pagefrags` → `get_page`).
    /// `snapshot` keeps the bytes as they are now, for a page the program
    /// may write again.
    pub fn push_page(
        &mut self,
        pages: &mut PageArena,
        page: PageId,
        off: usize,
        len: usize,
        zc: Option<u32>,
        snapshot: bool,
    ) {
        debug_assert!(len > 0 && off + len <= PAGE_SIZE, "fragment {off}+{len} outside its page");
        let seq = self.write_seq;
        pages.get(page, self.holder(seq));
        let meant = snapshot.then(|| Arc::new(pages.content(page).clone()));
        let version = pages.version(page);
        self.frags.push_back(Frag { page, off: off as u16, len: len as u16, seq, zc, own: false, meant, version });
        self.write_seq = self.write_seq.wrapping_add(len as u32);
    }

    /// The index of the fragment holding sequence number `seq`.
    fn find(&self, seq: u32) -> Option<usize> {
        let contains = |i: usize| self.frags.get(i).is_some_and(|f| before_eq(f.seq, seq) && after(f.end(), seq));
        if let Some(h) = self.hint.get().checked_sub(self.popped).and_then(|h| usize::try_from(h).ok()) {
            for i in [h, h + 1] {
                if contains(i) {
                    self.hint.set(self.popped + i as u64);
                    return Some(i);
                }
            }
        }
        let i = self.frags.partition_point(|f| before_eq(f.end(), seq));
        let found = (i < self.frags.len() && before_eq(self.frags[i].seq, seq)).then_some(i);
        if let Some(i) = found {
            self.hint.set(self.popped + i as u64);
        }
        found
    }

    /// Visit the fragment pieces carrying `seq..seq+len`, in order, as
    /// `(fragment, offset within the fragment, bytes)`.
    pub fn pieces(&self, seq: u32, len: usize, mut f: impl FnMut(&Frag, usize, usize)) {
        let Some(mut i) = self.find(seq) else { return };
        let mut at = seq;
        let mut left = len;
        while left > 0 && i < self.frags.len() {
            let frag = &self.frags[i];
            let within = dist(frag.seq, at);
            let n = (frag.len as usize - within).min(left);
            f(frag, within, n);
            left -= n;
            at = at.wrapping_add(n as u32);
            i += 1;
        }
    }

    /// Release every fragment that `snd_una` now fully covers; answers
    /// the zerocopy ids of the fragments released, in order.
    pub fn release_acked(&mut self, pages: &mut PageArena, released_zc: &mut Vec<u32>) {
        while let Some(f) = self.frags.front() {
            if after(f.end(), self.snd_una) {
                break;
            }
            let f = self.frags.pop_front().expect("peeked");
            self.popped += 1;
            pages.put(f.page, self.holder(f.seq));
            if let Some(id) = f.zc {
                released_zc.push(id);
            }
        }
    }

    /// Drop every fragment (a reset, or the socket's destruction); answers
    /// the zerocopy ids released.
    pub fn purge(&mut self, pages: &mut PageArena, released_zc: &mut Vec<u32>) {
        while let Some(f) = self.frags.pop_front() {
            self.popped += 1;
            pages.put(f.page, self.holder(f.seq));
            if let Some(id) = f.zc {
                released_zc.push(id);
            }
        }
        self.snd_una = self.write_seq;
        self.snd_nxt = self.write_seq;
        self.snd_max = self.write_seq;
    }

    /// Every page reference the queue holds, with its holder.
    pub fn refs(&self) -> impl Iterator<Item = (PageId, Holder)> + '_ {
        self.frags.iter().map(|f| (f.page, self.holder(f.seq)))
    }

    /// Check the queue's shape: fragments contiguous from at most
    /// `snd_una` to `write_seq`, inside their pages, the cursors ordered.
    pub fn check(&self) -> Result<(), String> {
        if !(before_eq(self.snd_una, self.snd_max) && before_eq(self.snd_nxt, self.snd_max)) {
            return Err(format!(
                "snd_una {} snd_nxt {} snd_max {} out of order",
                self.snd_una, self.snd_nxt, self.snd_max
            ));
        }
        let mut expect = self.frags.front().map_or(self.write_seq, |f| f.seq);
        if after(expect, self.snd_una) {
            return Err(format!("first fragment starts at {expect}, after snd_una {}", self.snd_una));
        }
        for f in &self.frags {
            if f.seq != expect {
                return Err(format!("fragment at {} where {expect} was expected", f.seq));
            }
            if f.len == 0 || f.off as usize + f.len as usize > PAGE_SIZE {
                return Err(format!("fragment at {} has {}+{} outside its page", f.seq, f.off, f.len));
            }
            expect = f.end();
        }
        if expect != self.write_seq {
            return Err(format!("fragments end at {expect}, write_seq is {}", self.write_seq));
        }
        if let Some(f) = self.frags.front()
            && before_eq(f.end(), self.snd_una)
        {
            return Err(format!("fragment {}..{} is fully acknowledged but still held", f.seq, f.end()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_fill_the_tail_page_then_new_pages() {
        let mut pages = PageArena::new();
        let mut q = SendQueue::new(2, u32::MAX - 10);
        q.push_copy(&mut pages, Source::Fill { byte: b'a', len: 100 });
        q.push_copy(&mut pages, Source::Fill { byte: b'b', len: 4000 });
        assert_eq!(q.frags().count(), 2, "4096 in the first page, 4 in a second");
        assert_eq!(q.queued(), 4100);
        let mut got = Vec::new();
        q.pieces(q.snd_una.wrapping_add(95), 10, |f, within, n| {
            pages.read_into(f.page, f.off as usize + within, n, &mut got);
        });
        assert_eq!(got, b"aaaaabbbbb");
        q.check().unwrap();
        q.snd_una = q.snd_una.wrapping_add(4096);
        q.snd_nxt = q.snd_una;
        q.snd_max = q.snd_una;
        let mut zc = Vec::new();
        q.release_acked(&mut pages, &mut zc);
        assert_eq!(q.frags().count(), 1, "the page fully acked across the wrap is released");
        q.purge(&mut pages, &mut zc);
        pages.check_teardown().unwrap();
    }
}
