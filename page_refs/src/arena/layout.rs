//! The arena's layout, for checkpoint and restore.
//!
//! A restored arena must be the same arena: the same frame numbers for the
//! same pages (the `refs` lines print them), the same holders in the same
//! order (they print in that order), the same write versions, and the same
//! frame numbers for the pages allocated afterwards, which needs the slab's
//! vacant keys in their reuse order and the generation counters.

use slab::Slab;
use smallvec::SmallVec;

use super::{Frame, PageArena};
use crate::refcount::RefCount;
use crate::{Content, Holder, PageId};

/// One live frame as saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameLayout {
    /// Its number and generation.
    pub id: PageId,
    /// Its holders, in the order the references were taken.
    pub holders: Vec<Holder>,
    /// Its bytes.
    pub content: Content,
    /// Its write version.
    pub version: u32,
}

/// Everything about the arena but the frames: what allocation depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArenaLayout {
    /// The next generation of each slab key ever used.
    pub generations: Vec<u32>,
    /// The vacant keys, the next one to be reused last.
    pub free: Vec<u32>,
    /// Frames freed so far.
    pub freed: u64,
    /// The zero page.
    pub zero: PageId,
}

impl PageArena {
    /// The layout (the frames are read with [`iter`](Self::iter),
    /// [`content`](Self::content) and [`version`](Self::version)).
    pub fn layout(&self) -> ArenaLayout {
        ArenaLayout {
            generations: self.generations.clone(),
            free: self.free.clone(),
            freed: self.freed,
            zero: self.zero,
        }
    }

    /// An arena with exactly these frames and this layout; `log` as in
    /// [`new`](Self::new) / [`without_log`](Self::without_log) (the log
    /// starts empty).
    ///
    /// # Errors
    /// What is inconsistent: a frame key outside the generations, a key
    /// both live and vacant or neither, a generation not handed out yet, a
    /// frame without holders, a zero page that is not a live frame held by
    /// the kernel.
    pub fn from_layout(layout: ArenaLayout, frames: Vec<FrameLayout>, log: bool) -> Result<PageArena, String> {
        let n = layout.generations.len();
        // Each key: 0 unseen, 1 live, 2 vacant.
        let mut state = vec![0u8; n];
        for f in &frames {
            let k = f.id.index as usize;
            if k >= n {
                return Err(format!("frame {} beyond the {n} keys ever used", f.id));
            }
            if state[k] != 0 {
                return Err(format!("frame key {k} saved twice"));
            }
            state[k] = 1;
            // The live frame at a key is the last one allocated there.
            if f.id.generation.wrapping_add(1) != layout.generations[k] {
                return Err(format!("frame {}: generation {} is not the key's latest", f.id, f.id.generation));
            }
            if f.holders.is_empty() {
                return Err(format!("frame {} has no holders", f.id));
            }
        }
        for &k in &layout.free {
            let k = k as usize;
            if k >= n || state[k] != 0 {
                return Err(format!("vacant key {k} is live, repeated or beyond the {n} keys ever used"));
            }
            state[k] = 2;
        }
        if let Some(k) = state.iter().position(|s| *s == 0) {
            return Err(format!("key {k} is neither live nor vacant"));
        }
        let zero_ok = frames.iter().any(|f| f.id == layout.zero && f.holders.contains(&Holder::KERNEL));
        if !zero_ok {
            return Err(format!("the zero page {} is not a live frame held by the kernel", layout.zero));
        }
        let mut by_key: Vec<Option<FrameLayout>> = vec![None; n];
        for f in frames {
            let k = f.id.index as usize;
            by_key[k] = Some(f);
        }
        let mut slab = Slab::with_capacity(n);
        for f in by_key {
            let frame = match f {
                Some(f) => Frame {
                    generation: f.id.generation,
                    refcount: RefCount::new(f.holders.len() as u32),
                    holders: SmallVec::from_vec(f.holders),
                    content: f.content,
                    version: f.version,
                },
                None => Frame {
                    generation: 0,
                    refcount: RefCount::new(0),
                    holders: SmallVec::new(),
                    content: Content::default(),
                    version: 0,
                },
            };
            slab.insert(frame);
        }
        // Vacate in reuse order: the slab's vacant list is LIFO, so the
        // last key vacated is the first reused, as in `free`.
        for &k in &layout.free {
            slab.remove(k as usize);
        }
        Ok(PageArena {
            frames: slab,
            generations: layout.generations,
            free: layout.free,
            zero: layout.zero,
            log: log.then(Vec::new),
            now: crate::Stamp::default(),
            freed: layout.freed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;

    #[test]
    fn arena_from_its_layout_allocates_the_same_frame_numbers() {
        let mut a = PageArena::new();
        let ids: Vec<PageId> = (0..6).map(|i| a.alloc(Holder::user(1, i))).collect();
        a.write(ids[2], 0, Source::Fill { byte: b'x', len: 10 });
        a.get(ids[2], Holder::pipe(7));
        for i in [4, 1, 3] {
            a.put(ids[i], Holder::user(1, i as u32));
        }
        let frames = a
            .iter()
            .map(|(id, h)| FrameLayout {
                id,
                holders: h.to_vec(),
                content: a.content(id).clone(),
                version: a.version(id),
            })
            .collect();
        let mut b = PageArena::from_layout(a.layout(), frames, true).unwrap();
        b.check_invariants().unwrap();
        assert_eq!(b.holders(ids[2]), a.holders(ids[2]));
        assert_eq!(b.version(ids[2]), 1);
        for i in 0..5 {
            assert_eq!(a.alloc(Holder::user(2, i)), b.alloc(Holder::user(2, i)), "allocation {i}");
        }
    }

    #[test]
    fn layout_with_a_key_both_live_and_vacant_is_refused() {
        let a = PageArena::new();
        let mut l = a.layout();
        l.free.push(0);
        let frames = vec![FrameLayout {
            id: a.zero_page(),
            holders: vec![Holder::KERNEL],
            content: Content::default(),
            version: 0,
        }];
        assert!(PageArena::from_layout(l, frames, false).unwrap_err().contains("vacant key 0"));
    }
}
