//! A canonical fingerprint of the kernel's state, for the explorer's state
//! cache.
//!
//! Two states that differ only in what no future step can observe hash
//! equal: the page event log, stamps and the copied-bytes statistic are
//! left out, and page frames are
//! named by their order of first appearance (in a fixed walk over pipes,
//! processes, files and the VFS), not by their slot in the arena, so two
//! schedules that allocated the same pages in another order meet again.
//! Each page's contents, count, holders and write version are part of the
//! fingerprint. Object ids (pipes, files, buffers) are kept as they are:
//! scenarios create their objects before the threads start, so their ids
//! agree across schedules.
//!
//! Kernels with state this walk does not canonicalise answer `None` (never
//! cached): any socket ever made (the network's queues and clock), or a
//! registered security module (its labels and decisions).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};

use page_refs::{Content, PageId};

use super::Kernel;

impl Kernel {
    /// The fingerprint of this kernel together with `extra` (the caller's
    /// own state, by its `Debug` form), or `None` when the kernel holds
    /// state that cannot be canonicalised (see the module doc).
    pub fn fingerprint(&self, extra: &dyn std::fmt::Debug) -> Option<u64> {
        if !self.net.is_unused() || !self.lsm.names().is_empty() {
            return None;
        }
        let mut text = String::with_capacity(4096);
        let pipes: Vec<_> = self.pipes.iter().collect();
        let _ = write!(
            text,
            "{pipes:?}|{:?}|{:?}|{:?}|{:?}|{}|{extra:?}",
            self.procs, self.inodes, self.vfs, self.containers, self.next_id
        );
        let mut h = DefaultHasher::new();
        let mut names: HashMap<(u32, u32), u32> = HashMap::new();
        let mut order: Vec<PageId> = Vec::new();
        // `PageId { index: I, generation: G }` becomes `#N`, N its order
        // of first appearance.
        const OPEN: &str = "PageId { index: ";
        let mut rest = text.as_str();
        while let Some(at) = rest.find(OPEN) {
            rest[..at].hash(&mut h);
            let tail = &rest[at + OPEN.len()..];
            let (index, tail) = number(tail);
            let tail = tail.strip_prefix(", generation: ").unwrap_or(tail);
            let (generation, tail) = number(tail);
            rest = tail.strip_prefix(" }").unwrap_or(tail);
            let next = names.len() as u32;
            let name = *names.entry((index, generation)).or_insert_with(|| {
                order.push(PageId { index, generation });
                next
            });
            ('#', name).hash(&mut h);
        }
        rest.hash(&mut h);
        self.pages.live_pages().hash(&mut h);
        for id in order {
            if !self.pages.is_live(id) {
                "freed".hash(&mut h);
                continue;
            }
            match self.pages.content(id) {
                Content::Uniform(b) => (0u8, *b).hash(&mut h),
                Content::Bytes(bytes) => (1u8, &bytes[..]).hash(&mut h),
            }
            (self.pages.refcount(id), self.pages.version(id), self.pages.holders(id)).hash(&mut h);
        }
        Some(h.finish())
    }
}

/// The decimal number at the start of `s`, and what follows it.
fn number(s: &str) -> (u32, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (s[..end].parse().unwrap_or(u32::MAX), &s[end..])
}
