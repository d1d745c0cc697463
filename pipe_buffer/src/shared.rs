//! A pipe that real threads share: the mutex and the two wait queues of
//! `struct pipe_inode_info` (fs/pipe.c), around the single-threaded ring.
//!
//! [`PipeInodeInfo`] answers [`PipeError::WouldBlock`] where Linux would
//! sleep; [`SharedPipe`] sleeps there instead, as `pipe_read`,
//! `pipe_write`, `vmsplice_to_pipe` and `splice_pipe_to_pipe` do:
//!
//! - a reader sleeps on `rd_wait` while the pipe is empty and has a
//!   writer; a writer sleeps on `wr_wait` while it is full and has a
//!   reader; every wait is a `while` loop that re-checks its condition;
//! - whatever adds bytes (write, vmsplice, splice or tee into the pipe)
//!   wakes the readers; whatever frees a slot (read, splice out of the
//!   pipe) wakes the writers; a writer that filled the pipe wakes the
//!   readers before it sleeps;
//! - the close that leaves a pipe without readers or without writers wakes
//!   both queues, so sleepers see EOF (`Ok(0)`) or EPIPE;
//! - splice and tee between two pipes take both locks through
//!   [`lock_two`], which orders them by pipe id whatever the argument
//!   order, and sleep holding one lock at a time (`ipipe_prep`,
//!   `opipe_prep`).
//!
//! Lock order: pipe locks first, two of them only in id order, then the
//! page arena's lock; the arena lock is never held while taking a pipe
//! lock, and no lock is held while sleeping but the one the wait releases.
//!
//! Everything blocks: the nonblocking flavours are [`PipeInodeInfo`]'s
//! own, under [`SharedPipe::lock`]. Wakeups are `notify_all`, where Linux
//! wakes one exclusive reader or writer and lets it pass the wakeup on: the
//! same states are reached, with more threads woken. Not modelled: signals
//! (`-ERESTARTSYS`), SIGPIPE, `pipe->poll_usage`, fasync. Loom checks the
//! wakeups and the lock order in `tests/tests/loom_pipe.rs`.

use std::cmp::Ordering;

use page_refs::sync::{Condvar, Mutex, MutexGuard};
use page_refs::{PageArena, PageId, Source};

use crate::buf::{BufFlags, BufOrigin};
use crate::error::PipeError;
use crate::ring::PipeInodeInfo;

/// A [`PipeInodeInfo`] behind its mutex, with the two wait queues
/// (`pipe->mutex`, `pipe->rd_wait`, `pipe->wr_wait`), used with a page
/// arena shared as `Mutex<PageArena>`.
///
/// Lock order: this pipe's lock, then the arena's. Two pipes are locked
/// only through [`lock_two`].
#[derive(Debug)]
pub struct SharedPipe {
    /// The ring's id. Immutable after creation; orders the locks of two
    /// pipes.
    id: u32,
    /// The ring and its reader and writer counts. Protected by this mutex
    /// (`pipe->mutex`).
    ring: Mutex<PipeInodeInfo>,
    /// Readers sleep here while the pipe is empty and has a writer
    /// (`pipe->rd_wait`). Paired with `ring`.
    rd_wait: Condvar,
    /// Writers sleep here while the pipe is full and has a reader
    /// (`pipe->wr_wait`). Paired with `ring`.
    wr_wait: Condvar,
}

impl SharedPipe {
    /// Share `ring` between threads; its id must differ from every other
    /// shared pipe's (the id orders their locks).
    pub fn new(ring: PipeInodeInfo) -> Self {
        SharedPipe { id: ring.id(), ring: Mutex::new(ring), rd_wait: Condvar::new(), wr_wait: Condvar::new() }
    }

    /// The pipe's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Lock the ring (`pipe_lock`), for inspection or an operation built
    /// outside this module. Such an operation must take the arena lock
    /// only after this one and wake the queues as the module doc says.
    pub fn lock(&self) -> MutexGuard<'_, PipeInodeInfo> {
        self.ring.lock()
    }

    /// The queue readers sleep on (`pipe->rd_wait`), paired with
    /// [`lock`](Self::lock).
    pub fn rd_wait(&self) -> &Condvar {
        &self.rd_wait
    }

    /// The queue writers sleep on (`pipe->wr_wait`), paired with
    /// [`lock`](Self::lock).
    pub fn wr_wait(&self) -> &Condvar {
        &self.wr_wait
    }

    /// Blocking write(2) (`pipe_write`): write what fits, wake the readers,
    /// sleep while the pipe is full and has a reader, go on with the rest.
    /// A write of at most [`PIPE_BUF`](crate::PIPE_BUF) bytes is never split;
    /// a longer one may interleave with other writers' while it sleeps.
    ///
    /// # Errors
    /// [`PipeError::Pipe`] if there is no reader before any byte was
    /// written; once some were, losing the last reader answers their count.
    pub fn write(&self, pages: &Mutex<PageArena>, src: Source<'_>) -> Result<usize, PipeError> {
        let mut ring = self.ring.lock();
        let mut done = 0;
        loop {
            let (_, rest) = src.split_at(done);
            let result = ring.write(&mut pages.lock(), rest, false);
            let (n, blocked) = match result {
                Ok(n) => (n, false),
                Err(PipeError::WouldBlock { done: n }) => (n, true),
                Err(PipeError::Pipe) if done > 0 => return Ok(done),
                Err(e) => return Err(e),
            };
            done += n;
            if n > 0 {
                self.rd_wait.notify_all();
            }
            if !blocked {
                return Ok(done);
            }
            ring = self.wait_writable_locked(ring);
        }
    }

    /// Blocking read(2) of at most `len` bytes (`pipe_read`): sleep while
    /// the pipe is empty and has a writer, then read what is there; wakes
    /// the writers if a slot was freed. An empty vector is end of file (no
    /// writer left) or `len` 0.
    ///
    /// # Errors
    /// None in practice: the ring's errors are passed on.
    pub fn read(&self, pages: &Mutex<PageArena>, len: usize) -> Result<Vec<u8>, PipeError> {
        let mut out = Vec::new();
        self.read_into(pages, len, &mut out)?;
        Ok(out)
    }

    /// [`read`](Self::read), appending to `out` and answering the count
    /// (0 at end of file).
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn read_into(&self, pages: &Mutex<PageArena>, len: usize, out: &mut Vec<u8>) -> Result<usize, PipeError> {
        let mut ring = self.ring.lock();
        loop {
            let before = ring.occupancy();
            // Bound first: a guard made in a `match` scrutinee would live
            // through the arms, and the wait would hold the arena lock.
            let result = ring.read_into(&mut pages.lock(), len, false, out);
            match result {
                Err(PipeError::WouldBlock { .. }) => ring = self.wait_readable_locked(ring),
                result => {
                    if ring.occupancy() < before {
                        self.wr_wait.notify_all();
                    }
                    return result;
                }
            }
        }
    }

    /// Blocking vmsplice(2) of one piece of a user page
    /// (`vmsplice_to_pipe`): sleep while the pipe is full and has a reader
    /// (`wait_for_space`), then add a slot with a new reference to `page`
    /// (`add_to_pipe`) and wake the readers.
    ///
    /// # Errors
    /// [`PipeError::Pipe`] when there is no reader; no reference is taken.
    pub fn add_page(
        &self,
        pages: &Mutex<PageArena>,
        page: PageId,
        offset: usize,
        len: usize,
        flags: BufFlags,
        origin: BufOrigin,
    ) -> Result<usize, PipeError> {
        let mut ring = self.ring.lock();
        loop {
            let result = ring.add_page(&mut pages.lock(), page, offset, len, flags, origin);
            match result {
                Ok(n) => {
                    self.rd_wait.notify_all();
                    return Ok(n);
                }
                Err(PipeError::Again) => ring = self.wait_writable_locked(ring),
                Err(e) => return Err(e),
            }
        }
    }

    /// Close one read end (`pipe_release`). The last one wakes everybody:
    /// writers then fail with EPIPE. When no end is left, the pipe drops
    /// its page references (`free_pipe_info`).
    ///
    /// # Panics
    /// If no read end is open: the caller closed one twice.
    pub fn close_reader(&self, pages: &Mutex<PageArena>) {
        let mut ring = self.ring.lock();
        assert!(ring.readers > 0, "close of a read end of pipe {}, which has none open", self.id);
        ring.readers -= 1;
        self.release_locked(&mut ring, pages);
    }

    /// Close one write end (`pipe_release`). The last one wakes everybody:
    /// readers of an empty pipe then see end of file. When no end is left,
    /// the pipe drops its page references (`free_pipe_info`).
    ///
    /// # Panics
    /// If no write end is open: the caller closed one twice.
    pub fn close_writer(&self, pages: &Mutex<PageArena>) {
        let mut ring = self.ring.lock();
        assert!(ring.writers > 0, "close of a write end of pipe {}, which has none open", self.id);
        ring.writers -= 1;
        self.release_locked(&mut ring, pages);
    }

    /// The rest of `pipe_release`, with the ring locked.
    fn release_locked(&self, ring: &mut PipeInodeInfo, pages: &Mutex<PageArena>) {
        if ring.readers == 0 && ring.writers == 0 {
            ring.release_all(&mut pages.lock());
        }
        if ring.readers == 0 || ring.writers == 0 {
            self.rd_wait.notify_all();
            self.wr_wait.notify_all();
        }
    }

    /// Sleep while the pipe is empty and has a writer (`pipe_readable`).
    fn wait_readable_locked<'a>(&self, mut ring: MutexGuard<'a, PipeInodeInfo>) -> MutexGuard<'a, PipeInodeInfo> {
        while ring.is_empty() && ring.writers > 0 {
            ring = self.rd_wait.wait(ring);
        }
        ring
    }

    /// Sleep while the pipe is full and has a reader (`pipe_writable`).
    fn wait_writable_locked<'a>(&self, mut ring: MutexGuard<'a, PipeInodeInfo>) -> MutexGuard<'a, PipeInodeInfo> {
        while ring.is_full() && ring.readers > 0 {
            ring = self.wr_wait.wait(ring);
        }
        ring
    }

    /// Blocking splice(2) of at most `len` bytes from `input` to `output`
    /// (`splice_pipe_to_pipe`): whole buffers move with their page
    /// reference, the last one may be split. Sleeps while `input` is empty
    /// with a writer or `output` full with a reader.
    ///
    /// # Errors
    /// [`PipeError::Inval`] when both are the same pipe, [`PipeError::Pipe`]
    /// when `output` has no reader. `Ok(0)`: `len` 0, or end of file on
    /// `input`.
    pub fn splice(
        input: &SharedPipe,
        output: &SharedPipe,
        pages: &Mutex<PageArena>,
        len: usize,
    ) -> Result<usize, PipeError> {
        splice_or_tee(input, output, pages, len, true)
    }

    /// Blocking tee(2) of at most `len` bytes from `input` to `output`
    /// (`link_pipe`): `output` gets new references to `input`'s pages,
    /// `input` keeps its bytes. Sleeps as [`splice`](Self::splice) does.
    ///
    /// # Errors
    /// As [`splice`](Self::splice).
    pub fn tee(
        input: &SharedPipe,
        output: &SharedPipe,
        pages: &Mutex<PageArena>,
        len: usize,
    ) -> Result<usize, PipeError> {
        splice_or_tee(input, output, pages, len, false)
    }
}

/// The two guards of a [`lock_two`], in argument order.
pub type TwoRings<'a> = (MutexGuard<'a, PipeInodeInfo>, MutexGuard<'a, PipeInodeInfo>);

/// Lock two pipes in id order, whatever the argument order
/// (`pipe_double_lock`; gVisor's `lockTwoPipes`), and answer the guards in
/// argument order. Every operation on two pipes goes through here, so two
/// threads splicing A to B and B to A cannot deadlock.
///
/// # Errors
/// [`PipeError::Inval`] when `a` and `b` are the same pipe (as splice and
/// tee answer for a pipe to itself).
pub fn lock_two<'a>(a: &'a SharedPipe, b: &'a SharedPipe) -> Result<TwoRings<'a>, PipeError> {
    match a.id.cmp(&b.id) {
        Ordering::Equal => Err(PipeError::Inval),
        Ordering::Less => {
            let ring_a = a.ring.lock();
            let ring_b = b.ring.lock();
            Ok((ring_a, ring_b))
        }
        Ordering::Greater => {
            let ring_b = b.ring.lock();
            let ring_a = a.ring.lock();
            Ok((ring_a, ring_b))
        }
    }
}

/// splice and tee between two pipes: one path, `remove_from_src` telling
/// them apart (gVisor's `spliceOrTee`).
fn splice_or_tee(
    input: &SharedPipe,
    output: &SharedPipe,
    pages: &Mutex<PageArena>,
    len: usize,
    remove_from_src: bool,
) -> Result<usize, PipeError> {
    if len == 0 {
        return Ok(0);
    }
    loop {
        {
            let (mut ipipe, mut opipe) = lock_two(input, output)?;
            let before = ipipe.occupancy();
            let result = if remove_from_src {
                ipipe.splice_to(&mut opipe, &mut pages.lock(), len, false)
            } else {
                ipipe.tee_to(&mut opipe, &mut pages.lock(), len, false)
            };
            match result {
                Err(PipeError::WouldBlock { .. }) => {}
                result => {
                    if matches!(result, Ok(n) if n > 0) {
                        output.rd_wait.notify_all();
                    }
                    if ipipe.occupancy() < before {
                        input.wr_wait.notify_all();
                    }
                    return result;
                }
            }
        }
        // Nothing could move. Sleep holding one lock at a time, as
        // `ipipe_prep` and `opipe_prep` do, then take both again.
        drop(input.wait_readable_locked(input.ring.lock()));
        drop(output.wait_writable_locked(output.ring.lock()));
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::time::{Duration, Instant};

    use page_refs::sync::{Arc, thread};
    use page_refs::{Holder, PAGE_SIZE};

    use super::*;
    use crate::size::SizeLimits;

    /// A pipe of `slots` slots with id `id`.
    fn pipe(id: u32, slots: u32) -> Arc<SharedPipe> {
        let mut ring = PipeInodeInfo::new(id);
        ring.set_size(slots * PAGE_SIZE as u32, SizeLimits::default()).unwrap();
        Arc::new(SharedPipe::new(ring))
    }

    fn arena() -> Arc<Mutex<PageArena>> {
        Arc::new(Mutex::new(PageArena::new()))
    }

    fn page(byte: u8) -> Source<'static> {
        Source::Fill { byte, len: PAGE_SIZE }
    }

    /// Join `t`, failing the test instead of hanging if it is still blocked
    /// after five seconds.
    fn join<T>(t: thread::JoinHandle<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !t.is_finished() {
            assert!(Instant::now() < deadline, "thread still blocked after 5 s");
            thread::sleep(Duration::from_millis(1));
        }
        t.join().unwrap()
    }

    /// Give a thread time to reach its sleep (the tests pass either way).
    fn pause() {
        thread::sleep(Duration::from_millis(30));
    }

    fn teardown(pages: &Mutex<PageArena>, pipes: &[&SharedPipe]) {
        for p in pipes {
            let ring = p.lock();
            let (readers, writers) = (ring.readers, ring.writers);
            drop(ring);
            (0..readers).for_each(|_| p.close_reader(pages));
            (0..writers).for_each(|_| p.close_writer(pages));
        }
        pages.lock().check_teardown().unwrap();
    }

    #[test]
    fn empty_pipe_blocking_read_wakes_on_write() {
        let (p, pages) = (pipe(1, 2), arena());
        let reader = thread::spawn({
            let (p, pages) = (p.clone(), pages.clone());
            move || p.read(&pages, 100)
        });
        pause();
        assert_eq!(p.write(&pages, Source::Slice(b"hello")), Ok(5));
        assert_eq!(join(reader), Ok(b"hello".to_vec()));
        teardown(&pages, &[&p]);
    }

    #[test]
    fn full_pipe_blocking_write_resumes_after_reads_in_order() {
        let (p, pages) = (pipe(1, 2), arena());
        let writer = thread::spawn({
            let (p, pages) = (p.clone(), pages.clone());
            move || p.write(&pages, Source::Fill { byte: b'a', len: 5 * PAGE_SIZE })
        });
        let mut got = Vec::new();
        while got.len() < 5 * PAGE_SIZE {
            let n = p.read_into(&pages, PAGE_SIZE, &mut got).unwrap();
            assert!(n > 0, "read: got EOF with a writer open");
            assert!(p.lock().occupancy() <= 2);
        }
        assert_eq!(join(writer), Ok(5 * PAGE_SIZE));
        assert!(got.iter().all(|&b| b == b'a'));
        teardown(&pages, &[&p]);
    }

    #[test]
    fn blocked_writer_of_nothing_yet_last_reader_closes_epipe() {
        let (p, pages) = (pipe(1, 1), arena());
        p.write(&pages, page(b'x')).unwrap();
        let writer = thread::spawn({
            let (p, pages) = (p.clone(), pages.clone());
            move || p.write(&pages, page(b'y'))
        });
        pause();
        p.close_reader(&pages);
        assert_eq!(join(writer), Err(PipeError::Pipe));
        teardown(&pages, &[&p]);
    }

    #[test]
    fn blocked_writer_with_partial_write_last_reader_closes_answers_count() {
        let (p, pages) = (pipe(1, 1), arena());
        let writer = thread::spawn({
            let (p, pages) = (p.clone(), pages.clone());
            move || p.write(&pages, Source::Fill { byte: b'a', len: 3 * PAGE_SIZE })
        });
        // Wait for the first page to be in: the writer then sleeps on a full pipe.
        while p.lock().is_empty() {
            thread::yield_now();
        }
        p.close_reader(&pages);
        assert_eq!(join(writer), Ok(PAGE_SIZE));
        teardown(&pages, &[&p]);
    }

    #[test]
    fn blocked_reader_last_writer_closes_eof() {
        let (p, pages) = (pipe(1, 2), arena());
        let reader = thread::spawn({
            let (p, pages) = (p.clone(), pages.clone());
            move || p.read(&pages, 10)
        });
        pause();
        p.close_writer(&pages);
        assert_eq!(join(reader), Ok(vec![]));
        teardown(&pages, &[&p]);
    }

    #[test]
    fn blocked_vmsplice_resumes_after_read_and_pipe_holds_the_user_page() {
        let (p, pages) = (pipe(1, 1), arena());
        let user = {
            let mut a = pages.lock();
            let user = a.alloc(Holder::user(0, 0));
            a.write(user, 0, page(b'u'));
            user
        };
        p.write(&pages, page(b'w')).unwrap();
        let producer = thread::spawn({
            let (p, pages) = (p.clone(), pages.clone());
            move || p.add_page(&pages, user, 0, PAGE_SIZE, BufFlags::NONE, BufOrigin::User)
        });
        pause();
        assert_eq!(p.read(&pages, PAGE_SIZE).unwrap(), vec![b'w'; PAGE_SIZE]);
        assert_eq!(join(producer), Ok(PAGE_SIZE));
        assert_eq!(pages.lock().holders(user), &[Holder::user(0, 0), Holder::pipe(1)]);
        assert_eq!(p.read(&pages, PAGE_SIZE).unwrap(), vec![b'u'; PAGE_SIZE]);
        assert!(pages.lock().put(user, Holder::user(0, 0)));
        teardown(&pages, &[&p]);
    }

    #[test]
    fn splice_or_tee_of_a_pipe_to_itself_is_einval_and_len_zero_is_zero() {
        let (p, q, pages) = (pipe(1, 2), pipe(2, 2), arena());
        assert_eq!(SharedPipe::splice(&p, &p, &pages, 10), Err(PipeError::Inval));
        assert_eq!(SharedPipe::tee(&p, &p, &pages, 10), Err(PipeError::Inval));
        assert!(lock_two(&p, &p).is_err());
        assert_eq!(SharedPipe::splice(&p, &q, &pages, 0), Ok(0), "len 0 answers 0 without blocking");
        teardown(&pages, &[&p, &q]);
    }

    #[test]
    fn lock_two_answers_guards_in_argument_order() {
        let (p, q) = (pipe(1, 2), pipe(2, 2));
        let (a, b) = lock_two(&q, &p).unwrap();
        assert_eq!((a.id(), b.id()), (2, 1));
    }

    #[test]
    fn splice_from_empty_pipe_sleeps_until_a_write_then_wakes_the_output_reader() {
        let (p, q, pages) = (pipe(1, 2), pipe(2, 2), arena());
        let reader = thread::spawn({
            let (q, pages) = (q.clone(), pages.clone());
            move || q.read(&pages, 100)
        });
        let splicer = thread::spawn({
            let (p, q, pages) = (p.clone(), q.clone(), pages.clone());
            move || SharedPipe::splice(&p, &q, &pages, 100)
        });
        pause();
        p.write(&pages, Source::Slice(b"spliced")).unwrap();
        assert_eq!(join(splicer), Ok(7));
        assert_eq!(join(reader), Ok(b"spliced".to_vec()));
        teardown(&pages, &[&p, &q]);
    }

    #[test]
    fn tee_into_full_pipe_sleeps_until_a_read_frees_a_slot() {
        let (p, q, pages) = (pipe(1, 2), pipe(2, 1), arena());
        p.write(&pages, page(b'a')).unwrap();
        q.write(&pages, page(b'q')).unwrap();
        let teer = thread::spawn({
            let (p, q, pages) = (p.clone(), q.clone(), pages.clone());
            move || SharedPipe::tee(&p, &q, &pages, PAGE_SIZE)
        });
        pause();
        assert_eq!(q.read(&pages, PAGE_SIZE).unwrap(), vec![b'q'; PAGE_SIZE]);
        assert_eq!(join(teer), Ok(PAGE_SIZE));
        assert_eq!(q.read(&pages, PAGE_SIZE).unwrap(), vec![b'a'; PAGE_SIZE]);
        assert_eq!(p.read(&pages, PAGE_SIZE).unwrap(), vec![b'a'; PAGE_SIZE], "tee does not consume");
        teardown(&pages, &[&p, &q]);
    }

    #[test]
    fn splice_into_pipe_without_reader_is_epipe() {
        let (p, q, pages) = (pipe(1, 2), pipe(2, 2), arena());
        p.write(&pages, Source::Slice(b"x")).unwrap();
        q.close_reader(&pages);
        assert_eq!(SharedPipe::splice(&p, &q, &pages, 1), Err(PipeError::Pipe));
        teardown(&pages, &[&p, &q]);
    }

    #[test]
    fn opposite_splices_in_a_loop_never_deadlock_and_conserve_bytes() {
        let (p, q, pages) = (pipe(1, 2), pipe(2, 2), arena());
        p.write(&pages, page(b'p')).unwrap();
        q.write(&pages, page(b'q')).unwrap();
        let spawn = |from: &Arc<SharedPipe>, to: &Arc<SharedPipe>| {
            let (from, to, pages) = (from.clone(), to.clone(), pages.clone());
            thread::spawn(move || {
                for _ in 0..2000 {
                    // Never blocks forever: 2 pages in 4 slots, and each
                    // side moves one page at a time.
                    assert_eq!(SharedPipe::splice(&from, &to, &pages, PAGE_SIZE), Ok(PAGE_SIZE));
                }
            })
        };
        let (t1, t2) = (spawn(&p, &q), spawn(&q, &p));
        join(t1);
        join(t2);
        let (a, b) = lock_two(&p, &q).unwrap();
        assert_eq!(a.len_bytes() + b.len_bytes(), 2 * PAGE_SIZE as u64);
        drop((a, b));
        teardown(&pages, &[&p, &q]);
    }
}
