//! The arena of page frames.

mod layout;

pub use layout::{ArenaLayout, FrameLayout};

use slab::Slab;
use smallvec::SmallVec;

use crate::PageId;
use crate::content::{Content, Source};
use crate::event::{Event, EventKind, Stamp};
use crate::holder::Holder;
use crate::refcount::RefCount;

/// One page frame: its reference count, the holders behind that count, its
/// bytes and how often they changed.
#[derive(Debug)]
struct Frame {
    /// Generation of the slab slot when this frame was allocated.
    generation: u32,
    /// Models `struct page`'s `_refcount`.
    ///
    /// Atomic so that a lookup racing with the final put can use
    /// get-unless-zero; every change also goes through `holders`, so
    /// I.e. `refcount == holders.len()` between operations.
    refcount: RefCount,
    /// One entry per reference, in the order they were taken.
    holders: SmallVec<[Holder; 2]>,
    content: Content,
    /// Incremented by every write: a reader can tell that bytes changed
    /// under it.
    version: u32,
}

impl Frame {
    /// Add `delta` to the reference count; answers the old count.
    ///
    /// Every change to a frame goes through `&mut PageArena`, so nothing can
    /// race with it: a plain load and store is enough, and avoids the
    /// locked read-modify-write (a full barrier on x86) that `fetch_add`
    /// costs on every get and put. Wraps like `fetch_add` / `fetch_sub`.
    #[inline]
    fn add_ref(&mut self, delta: i32) -> u32 {
        self.refcount.add_exclusive(delta)
    }
}

/// Why a page invariant does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantError(pub String);

impl std::fmt::Display for InvariantError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "page invariant broken: {}", self.0)
    }
}

impl std::error::Error for InvariantError {}

/// A slab of page frames with generation-checked ids, holders and an
/// event log.
///
/// Every reference is taken with [`get`](Self::get) (or allocated with
/// [`alloc`](Self::alloc)) and dropped with [`put`](Self::put), naming its
/// holder; the last put frees the frame. The frame's slot may be reused, but
/// with a new generation, so an id kept past the free is refused.
///
/// The zero page is a frame of the arena that is never freed: it holds a
/// permanent [`Holder::KERNEL`] reference and may never be written.
#[derive(Clone, Debug)]
pub struct PageArena {
    frames: Slab<Frame>,
    /// Next generation per slab key; survives the frame.
    generations: Vec<u32>,
    /// The vacant slab keys, the next one to be reused last (the slab's
    /// own vacant list, kept so that a restored arena hands out the same
    /// frame numbers as the original would).
    free: Vec<u32>,
    zero: PageId,
    log: Option<Vec<Event>>,
    now: Stamp,
    freed: u64,
}

impl Default for PageArena {
    fn default() -> Self {
        Self::new()
    }
}

impl PageArena {
    /// An arena with the zero page and an event log.
    pub fn new() -> Self {
        Self::build(true)
    }

    /// An arena that keeps no event log (for benchmarks and long runs); the
    /// `tracing` events are still emitted.
    pub fn without_log() -> Self {
        Self::build(false)
    }

    fn build(log: bool) -> Self {
        let mut arena = PageArena {
            frames: Slab::new(),
            generations: Vec::new(),
            free: Vec::new(),
            zero: PageId { index: 0, generation: 0 },
            log: log.then(Vec::new),
            now: Stamp::default(),
            freed: 0,
        };
        arena.zero = arena.alloc_with(Holder::KERNEL, Content::Uniform(0));
        arena
    }

    /// The shared zero page (`ZERO_PAGE(0)`).
    pub fn zero_page(&self) -> PageId {
        self.zero
    }

    /// Whether `id` is the zero page.
    pub fn is_zero_page(&self, id: PageId) -> bool {
        id == self.zero
    }

    /// Set the time stamp of the events that follow.
    pub fn set_stamp(&mut self, stamp: Stamp) {
        self.now = stamp;
    }

    /// The current time stamp.
    pub fn stamp(&self) -> Stamp {
        self.now
    }

    /// A new zero-filled frame with one reference, held by `holder`.
    pub fn alloc(&mut self, holder: Holder) -> PageId {
        self.alloc_with(holder, Content::default())
    }

    /// A new frame with these contents and one reference, held by `holder`.
    pub fn alloc_with(&mut self, holder: Holder, content: Content) -> PageId {
        let entry = self.frames.vacant_entry();
        let key = entry.key();
        if key >= self.generations.len() {
            self.generations.resize(key + 1, 0);
        } else {
            let reused = self.free.pop();
            debug_assert_eq!(reused, Some(key as u32), "the slab reuses its last vacated key");
        }
        let generation = self.generations[key];
        self.generations[key] = generation.wrapping_add(1);
        let mut holders = SmallVec::new();
        holders.push(holder);
        entry.insert(Frame { generation, refcount: RefCount::new(1), holders, content, version: 0 });
        let id = PageId { index: key as u32, generation };
        self.record(id, EventKind::Alloc, holder);
        id
    }

    /// A new frame holding a copy of `src`'s bytes (copy-on-write), held by
    /// `holder`.
    pub fn alloc_copy(&mut self, src: PageId, holder: Holder) -> PageId {
        let content = self.frame(src).content.clone();
        self.alloc_with(holder, content)
    }

    // `get`, `try_get`, `put` and `transfer` are `inline(always)`: a `Holder`
    // passed to an outlined call goes through memory, and reloading the
    // twelve bytes the caller stored field by field stalls on store
    // forwarding, which cost more than the rest of the call.

    /// Take a reference to a live page for `holder` (`get_page`).
    ///
    /// # Panics
    /// If `id` is not live: taking a reference to a freed page is a broken
    /// model invariant.
    #[inline(always)]
    pub fn get(&mut self, id: PageId, holder: Holder) {
        assert!(self.try_get(id, holder), "get of freed page {id} for {holder}");
    }

    /// Take a reference unless the page is already freed
    /// (`get_page_unless_zero`); `false` if it was.
    #[inline(always)]
    pub fn try_get(&mut self, id: PageId, holder: Holder) -> bool {
        let Some(frame) = self.frame_mut(id) else {
            return false;
        };
        let old = frame.add_ref(1);
        debug_assert!(old > 0, "live frame {id} with refcount 0");
        frame.holders.push(holder);
        self.record(id, EventKind::Get, holder);
        true
    }

    /// Drop `holder`'s reference (`put_page`); `true` if that freed the page.
    ///
    /// # Panics
    /// If the page is not live or `holder` holds no reference to it.
    #[inline(always)]
    pub fn put(&mut self, id: PageId, holder: Holder) -> bool {
        let Some(frame) = self.frame_mut(id) else { put_of_freed_page(id, holder) };
        // The newest reference of `holder` goes (`rposition`); it is usually
        // the newest reference of all (a pipe consuming what it was given
        // last), which is popped without a search.
        if frame.holders.last() == Some(&holder) {
            frame.holders.pop();
        } else {
            remove_older_holder(&mut frame.holders, id, &holder);
        }
        let old = frame.add_ref(-1);
        assert!(old > 0, "page refcount underflow: page {id}, holder {holder}");
        self.record(id, EventKind::Put, holder);
        if old == 1 {
            self.free(id, holder);
            true
        } else {
            false
        }
    }

    /// Free the frame whose last reference `holder` just dropped (out of
    /// line: [`put`](Self::put) is inlined into its callers).
    #[inline(never)]
    fn free(&mut self, id: PageId, holder: Holder) {
        assert!(id != self.zero, "the zero page was freed");
        self.frames.remove(id.index as usize);
        self.free.push(id.index);
        self.freed += 1;
        self.record(id, EventKind::Free, holder);
    }

    /// Hand `from`'s reference to `to` without changing the count (a
    /// `pipe_buffer` moved between pipes).
    ///
    /// # Panics
    /// If the page is not live or `from` holds no reference.
    #[inline(always)]
    pub fn transfer(&mut self, id: PageId, from: Holder, to: Holder) {
        let Some(frame) = self.frame_mut(id) else { transfer_of_freed_page(id) };
        // `from`'s newest reference, as in `put`: usually the newest of all.
        match frame.holders.last_mut() {
            Some(last) if *last == from => *last = to,
            _ => replace_older_holder(&mut frame.holders, id, &from, to),
        }
        self.record(id, EventKind::Put, from);
        self.record(id, EventKind::Get, to);
    }

    /// Store `src` at `offset` of page `id`.
    ///
    /// # Panics
    /// If the page is not live, is the zero page, or the write passes the
    /// page's end.
    #[inline]
    pub fn write(&mut self, id: PageId, offset: usize, src: Source<'_>) {
        assert!(id != self.zero, "write to the zero page");
        let len = src.len();
        let frame = self.frame_mut(id).unwrap_or_else(|| panic!("write to freed page {id}"));
        frame.content.write(offset, src);
        frame.version = frame.version.wrapping_add(1);
        self.record(id, EventKind::Write { offset: offset as u16, len: len as u16 }, Holder::KERNEL);
    }

    /// Append `len` bytes of page `id` from `offset` to `out`.
    #[inline]
    pub fn read_into(&self, id: PageId, offset: usize, len: usize, out: &mut Vec<u8>) {
        self.frame(id).content.read_into(offset, len, out);
    }

    /// The page's contents.
    #[inline]
    pub fn content(&self, id: PageId) -> &Content {
        &self.frame(id).content
    }

    /// The recorded holders, one per reference.
    pub fn holders(&self, id: PageId) -> &[Holder] {
        &self.frame(id).holders
    }

    /// The reference count (`page_count`).
    pub fn refcount(&self, id: PageId) -> u32 {
        self.frame(id).refcount.load()
    }

    /// How many writes the page has seen.
    pub fn version(&self, id: PageId) -> u32 {
        self.frame(id).version
    }

    /// Whether `id` names a live frame (not freed, not a stale generation).
    #[inline]
    pub fn is_live(&self, id: PageId) -> bool {
        self.frames.get(id.index as usize).is_some_and(|f| f.generation == id.generation)
    }

    /// Live frames, the zero page included.
    pub fn live_pages(&self) -> usize {
        self.frames.len()
    }

    /// Frames freed so far.
    pub fn freed_pages(&self) -> u64 {
        self.freed
    }

    /// Every live page with its holders.
    pub fn iter(&self) -> impl Iterator<Item = (PageId, &[Holder])> + '_ {
        self.frames.iter().map(|(k, f)| (PageId { index: k as u32, generation: f.generation }, &f.holders[..]))
    }

    /// The event log (empty for an arena made [`without_log`](Self::without_log)).
    pub fn events(&self) -> &[Event] {
        self.log.as_deref().unwrap_or(&[])
    }

    /// Check the arena's own invariants: each live frame's count equals its
    /// recorded holders and is positive, and the zero page is live and held
    /// by the kernel.
    ///
    /// # Errors
    /// The first invariant found broken.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        for (id, frame) in self.frames.iter() {
            let count = frame.refcount.load() as usize;
            if count == 0 {
                return Err(InvariantError(format!("live page {id} has refcount 0")));
            }
            if count != frame.holders.len() {
                return Err(InvariantError(format!(
                    "page {id}: refcount {count} but {} recorded holders {:?}",
                    frame.holders.len(),
                    frame.holders
                )));
            }
        }
        if !self.is_live(self.zero) || !self.holders(self.zero).contains(&Holder::KERNEL) {
            return Err(InvariantError("the zero page lost its kernel reference".into()));
        }
        Ok(())
    }

    /// Check that nothing is left but the zero page with its permanent
    /// reference: to be called after every object was torn down.
    ///
    /// # Errors
    /// The leaked pages and their holders.
    pub fn check_teardown(&self) -> Result<(), InvariantError> {
        self.check_invariants()?;
        let leaked: Vec<String> =
            self.iter().filter(|(_, h)| *h != [Holder::KERNEL]).map(|(id, h)| format!("{id} held by {h:?}")).collect();
        if leaked.is_empty() {
            Ok(())
        } else {
            Err(InvariantError(format!("pages leaked at teardown: {}", leaked.join("; "))))
        }
    }

    /// Approximate bytes of bookkeeping per live frame, its 4096 content
    /// bytes excluded (slab entry and generation counter).
    pub fn bookkeeping_bytes_per_page() -> usize {
        // A slab entry is the frame plus its Occupied/Vacant tag, word-aligned.
        std::mem::size_of::<Frame>() + std::mem::size_of::<usize>() + std::mem::size_of::<u32>()
    }

    #[inline]
    fn frame(&self, id: PageId) -> &Frame {
        match self.frames.get(id.index as usize) {
            Some(f) if f.generation == id.generation => f,
            _ => panic!("use of freed page {id}"),
        }
    }

    #[inline]
    fn frame_mut(&mut self, id: PageId) -> Option<&mut Frame> {
        match self.frames.get_mut(id.index as usize) {
            Some(f) if f.generation == id.generation => Some(f),
            _ => None,
        }
    }

    /// Log the event and emit it to `tracing`. Inlined down to two cheap
    /// checks (a log? `TRACE` on?); the work is out of line.
    #[inline]
    fn record(&mut self, page: PageId, kind: EventKind, holder: Holder) {
        use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
        // The test `tracing::trace!` starts with: with `TRACE` off it does
        // nothing else.
        let trace_on = tracing::Level::TRACE <= STATIC_MAX_LEVEL && tracing::Level::TRACE <= LevelFilter::current();
        if trace_on || self.log.is_some() {
            self.record_slow(page, kind, holder);
        }
    }

    #[cold]
    #[inline(never)]
    fn record_slow(&mut self, page: PageId, kind: EventKind, holder: Holder) {
        tracing::trace!(target: "page_refs", %page, ?kind, %holder, step = self.now.step, time_ns = self.now.time_ns, "page event");
        if let Some(log) = &mut self.log {
            log.push(Event { stamp: self.now, page, kind, holder });
        }
    }
}

/// The rest of [`PageArena::put`] when `holder`'s reference is not the
/// newest: remove its newest one.
#[inline(never)]
fn remove_older_holder(holders: &mut SmallVec<[Holder; 2]>, id: PageId, holder: &Holder) {
    let pos = holders
        .iter()
        .rposition(|h| h == holder)
        .unwrap_or_else(|| panic!("put of page {id} by {holder}, which holds no reference"));
    holders.remove(pos);
}

/// The rest of [`PageArena::transfer`] when `from`'s reference is not the
/// newest: hand its newest one to `to`.
#[inline(never)]
fn replace_older_holder(holders: &mut SmallVec<[Holder; 2]>, id: PageId, from: &Holder, to: Holder) {
    let pos = holders
        .iter()
        .rposition(|h| h == from)
        .unwrap_or_else(|| panic!("transfer of page {id} from {from}, which holds no reference"));
    holders[pos] = to;
}

#[cold]
#[inline(never)]
fn put_of_freed_page(id: PageId, holder: Holder) -> ! {
    panic!("put of freed page {id} by {holder}")
}

#[cold]
#[inline(never)]
fn transfer_of_freed_page(id: PageId) -> ! {
    panic!("transfer of freed page {id}")
}

impl Clone for Frame {
    /// A copy of the frame, for snapshots of a whole arena (the explorer
    /// backtracks by cloning): same count, holders and bytes.
    fn clone(&self) -> Self {
        Frame {
            generation: self.generation,
            refcount: self.refcount.clone(),
            holders: self.holders.clone(),
            content: self.content.clone(),
            version: self.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const U0: Holder = Holder::user(0, 0);
    const P1: Holder = Holder::pipe(1);

    #[test]
    fn last_put_frees_and_stale_id_is_refused() {
        let mut a = PageArena::new();
        let p = a.alloc(U0);
        a.get(p, P1);
        assert_eq!(a.refcount(p), 2);
        assert!(!a.put(p, U0));
        assert!(a.put(p, P1));
        assert!(!a.is_live(p));
        let q = a.alloc(U0);
        assert_eq!(q.index, p.index, "slot reused");
        assert!(!a.try_get(p, P1), "stale id must not resurrect the new frame");
        assert_eq!(a.refcount(q), 1);
        a.put(q, U0);
        a.check_teardown().unwrap();
    }

    #[test]
    #[should_panic(expected = "holds no reference")]
    fn put_by_non_holder_panics() {
        let mut a = PageArena::new();
        let p = a.alloc(U0);
        a.put(p, P1);
    }

    #[test]
    #[should_panic(expected = "write to the zero page")]
    fn zero_page_is_never_written() {
        let mut a = PageArena::new();
        let z = a.zero_page();
        a.write(z, 0, Source::Slice(b"x"));
    }

    #[test]
    fn transfer_keeps_count_and_changes_holder() {
        let mut a = PageArena::new();
        let p = a.alloc(P1);
        a.transfer(p, P1, Holder::pipe(2));
        assert_eq!(a.holders(p), &[Holder::pipe(2)]);
        assert_eq!(a.refcount(p), 1);
        a.check_invariants().unwrap();
        a.put(p, Holder::pipe(2));
        a.check_teardown().unwrap();
    }

    #[test]
    fn teardown_reports_leaks() {
        let mut a = PageArena::new();
        let _p = a.alloc(P1);
        let err = a.check_teardown().unwrap_err();
        assert!(err.0.contains("leaked"), "{err}");
    }

    #[test]
    fn event_log_records_get_put_write_free() {
        let mut a = PageArena::new();
        a.set_stamp(Stamp { step: 7, time_ns: 0 });
        let p = a.alloc(U0);
        a.write(p, 0, Source::Fill { byte: 1, len: 10 });
        a.put(p, U0);
        let kinds: Vec<_> = a.events().iter().filter(|e| e.page == p).map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![EventKind::Alloc, EventKind::Write { offset: 0, len: 10 }, EventKind::Put, EventKind::Free]
        );
        assert!(a.events().iter().filter(|e| e.page == p).all(|e| e.stamp.step == 7));
    }

    #[test]
    fn version_counts_writes() {
        let mut a = PageArena::without_log();
        let p = a.alloc(U0);
        a.write(p, 0, Source::Slice(b"a"));
        a.write(p, 1, Source::Slice(b"b"));
        assert_eq!(a.version(p), 2);
        assert!(a.events().is_empty());
        let mut out = Vec::new();
        a.read_into(p, 0, 3, &mut out);
        assert_eq!(out, b"ab\0");
    }

    #[test]
    fn frame_bookkeeping_is_small() {
        assert!(PageArena::bookkeeping_bytes_per_page() < 128, "{}", PageArena::bookkeeping_bytes_per_page());
    }
}
