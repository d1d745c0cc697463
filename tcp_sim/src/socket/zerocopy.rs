//! `MSG_ZEROCOPY` completions (net/core/skbuff.c: `msg_zerocopy_*`,
//! `__msg_zerocopy_callback`).
//!
//! With `SO_ZEROCOPY` set, each `send(MSG_ZEROCOPY)` that queues bytes gets
//! the next counter of the socket. The sender's fragments of that send hold
//! the program's pages; when the last of them is released (the cumulative
//! ACK covered them, or the connection died) a completion `[id, id]` is
//! queued on the socket's error queue. A completion that continues the one
//! at the tail of the queue (`hi + 1 == id`) extends it instead
//! (`skb_zerocopy_notify_extend`). A send whose bytes had to be copied
//! (delivered to a local socket: `skb_orphan_frags_rx`) reports
//! `SO_EE_CODE_ZEROCOPY_COPIED`; the code of an extended completion is the
//! code of the first one.

use std::collections::{BTreeMap, VecDeque};

/// One completion read from the error queue: sends `lo..=hi` are done.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// `ee_info`: the first send completed.
    pub lo: u32,
    /// `ee_data`: the last send completed.
    pub hi: u32,
    /// `SO_EE_CODE_ZEROCOPY_COPIED`: the kernel copied the bytes after all.
    pub copied: bool,
}

/// A socket's zerocopy state.
#[derive(Clone, Debug, Default)]
pub(crate) struct ZeroCopy {
    /// `SO_ZEROCOPY`.
    pub enabled: bool,
    /// The next send's counter (`sk_zckey`).
    pub next_id: u32,
    /// Sends not yet complete: references left (one per fragment held,
    /// plus one while the send call runs), whether some bytes were copied,
    /// and whether any fragment was queued at all.
    pub(crate) pending: BTreeMap<u32, (u32, bool, bool)>,
    /// The error queue.
    pub(crate) errqueue: VecDeque<Completion>,
}

impl ZeroCopy {
    /// A new send's counter (`msg_zerocopy_realloc`); the send call holds
    /// a reference until [`end`](Self::end).
    pub fn start(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.pending.insert(id, (1, false, false));
        id
    }

    /// Send `id` queued one more fragment.
    pub fn add_frag(&mut self, id: u32) {
        if let Some((n, _, any)) = self.pending.get_mut(&id) {
            *n += 1;
            *any = true;
        }
    }

    /// The send call of `id` returns: a send that queued nothing gives its
    /// counter back (`net_zcopy_put_abort`); otherwise the call's reference
    /// goes and the send completes with its last fragment.
    pub fn end(&mut self, id: u32) {
        match self.pending.get(&id) {
            Some(&(_, _, false)) => {
                self.pending.remove(&id);
                if self.next_id == id.wrapping_add(1) {
                    self.next_id = id;
                }
            }
            Some(_) => self.release(id),
            None => {}
        }
    }

    /// Send `id`'s bytes were copied for a local receiver.
    pub fn mark_copied(&mut self, id: u32) {
        if let Some((_, c, _)) = self.pending.get_mut(&id) {
            *c = true;
        }
    }

    /// One fragment of send `id` was released; the send completes with
    /// its last one.
    pub fn release(&mut self, id: u32) {
        let done = match self.pending.get_mut(&id) {
            Some((n, _, _)) => {
                *n = n.saturating_sub(1);
                *n == 0
            }
            None => false,
        };
        if done {
            let (_, copied, _) = self.pending.remove(&id).expect("present");
            self.complete(id, copied);
        }
    }

    fn complete(&mut self, id: u32, copied: bool) {
        if let Some(tail) = self.errqueue.back_mut()
            && tail.hi.wrapping_add(1) == id
        {
            tail.hi = id;
            return;
        }
        self.errqueue.push_back(Completion { lo: id, hi: id, copied });
    }

    /// `recvmsg(MSG_ERRQUEUE)`: the oldest completion.
    pub fn pop(&mut self) -> Option<Completion> {
        self.errqueue.pop_front()
    }

    /// Sends not yet completed.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_completions_coalesce() {
        let mut z = ZeroCopy { enabled: true, ..Default::default() };
        let a = z.start();
        z.add_frag(a);
        z.release(a);
        assert_eq!(z.pop(), None, "the send call still holds it");
        z.end(a);
        let b = z.start();
        z.add_frag(b);
        z.add_frag(b);
        z.end(b);
        z.release(b);
        assert_eq!(z.outstanding(), 1);
        z.release(b);
        assert_eq!(z.pop(), Some(Completion { lo: 0, hi: 1, copied: false }));
        assert_eq!(z.pop(), None);
        let c = z.start();
        z.end(c);
        assert_eq!(z.start(), 2, "an empty send takes no counter");
    }
}
