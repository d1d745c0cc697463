//! The kernel for real threads: each pipe its own lock and wait queues,
//! blocking syscalls that sleep on the queue of the pipe they wait for, as
//! Linux's do.
//!
//! [`SharedKernel`] splits one [`Kernel`] into three kinds of lock (all from
//! the `sync` shim, so loom checks them too):
//!
//! - the **kernel lock** (`inner`): descriptor tables, processes and their
//!   memory, files, sockets, the VFS and the security modules, plus the
//!   registry of pipes by id; held briefly to resolve descriptors;
//! - one **pipe lock** per pipe (`pipe->mutex`), around its ring, paired
//!   with its two wait queues: `rd_wait` (readers wait while it is empty)
//!   and `wr_wait` (writers wait while it is full);
//! - the **arena lock** around the [`PageArena`], always taken last.
//!
//! Pipe syscalls between pipes (read, write, splice and tee between two
//! pipes) take the kernel lock only to resolve and check their descriptors
//! (the `Kernel::*_prep` methods), drop it, lock the pipe (two pipes in id
//! order, as `pipe_double_lock` does), then the arena, and run the same pipe
//! functions as the single-threaded kernel (`kernel/pipe_ops.rs`). So calls
//! on different pipes run concurrently. Everything else (vmsplice, which
//! reads the caller's page tables; splice and tee with a file or a
//! socket; close, fcntl, sockets; [`SharedKernel::with`]) takes the coarse
//! path: the pipe locks of the pipes its descriptors name, in id order, then
//! the kernel lock, then the arena lock; it moves those pipes and the arena
//! into the `Kernel` value, runs the `Kernel` method itself, and moves them
//! back out. Lock order, everywhere: pipe locks in id order, then the
//! kernel lock, then the arena lock (the kernel lock is never held while
//! waiting for a pipe lock: a coarse call resolves first, drops it, locks
//! the pipes, takes it again and checks that the descriptors still name
//! the same pipes).
//!
//! A call that answers [`BLOCKED`] sleeps holding nothing but the lock of
//! the one pipe it waits for (its wait queue's mutex), or, for a socket,
//! the kernel lock (the network's one wait queue), and starts over
//! (resolving its descriptors again) when woken. Wakeups are fs/pipe.c's:
//! a read or a splice out of a pipe wakes its writers, a write, vmsplice,
//! splice or tee into it wakes its readers, a close wakes both (sleepers
//! then see end of file or EPIPE). A write that filled the pipe keeps what
//! it wrote, wakes the readers, and goes on with the rest.
//!
//! A pipe freed by its last close while another thread was between
//! resolving a descriptor and locking the pipe answers `EBADF` there (the
//! model has no `fdget` reference to keep it alive). Not modelled: signals.

use std::collections::BTreeMap;

use page_refs::sync::{Arc, Condvar, Mutex, MutexGuard};
use page_refs::{PageArena, Source};
use pipe_buffer::PipeInodeInfo;

use super::pipe_ops::{pipe_read, pipe_write, splice_pipes, tee_pipes};
use super::sys_rw::cap;
use super::sys_splice::SpliceRoute;
use super::{BLOCKED, Errno, Fcntl, Fd, Kernel, Pid, PipeId, SpliceFlags, UserRange};

/// A pipe of the shared kernel: its ring behind `pipe->mutex` (`None` once
/// the last close freed it, or while a coarse call has moved it into the
/// `Kernel`), and its two wait queues, paired with that mutex.
#[derive(Debug)]
struct KPipe {
    ring: Mutex<Option<PipeInodeInfo>>,
    /// Readers sleep here while the pipe is empty (`pipe->rd_wait`).
    rd_wait: Condvar,
    /// Writers sleep here while the pipe is full (`pipe->wr_wait`).
    wr_wait: Condvar,
}

type Ring<'a> = MutexGuard<'a, Option<PipeInodeInfo>>;

/// What the kernel lock protects.
#[derive(Debug)]
struct Inner {
    /// Everything but the pipes and the arena, which live in `pipes` and
    /// `SharedKernel::pages` except while a coarse call holds their locks.
    kernel: Kernel,
    /// Every live pipe, by id.
    pipes: BTreeMap<PipeId, Arc<KPipe>>,
}

/// Which queue a blocked call sleeps on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Queue {
    Rd(PipeId),
    Wr(PipeId),
    /// Any socket: the network changed.
    Net,
}

/// What a coarse call asks for once it ran.
enum Next<T> {
    /// Finished: the answer, and the queues to wake.
    Done(T, Vec<Queue>),
    /// Sleep on this queue, then start over.
    Sleep(Queue),
}

/// A [`Kernel`] shared by threads.
#[derive(Debug)]
pub struct SharedKernel {
    inner: Mutex<Inner>,
    pages: Mutex<PageArena>,
    /// The network's wait queue, paired with the kernel lock: a socket call
    /// that must wait sleeps here until a call on any socket changes it.
    net: Condvar,
    /// Bytes the pipe calls on the fine path copied (read, write), not yet
    /// added to `Kernel::copied_bytes` (the coarse path adds them, under
    /// the kernel lock). A statistic: std's atomic, outside loom's model.
    copied: std::sync::atomic::AtomicU64,
    /// The broken twin of the loom models: two pipes locked in argument
    /// order instead of id order.
    #[cfg(loom)]
    argument_order: bool,
}

impl SharedKernel {
    /// Share `kernel` between threads.
    pub fn new(kernel: Kernel) -> Arc<Self> {
        Arc::new(Self::build(kernel))
    }

    fn build(mut kernel: Kernel) -> Self {
        let mut pages = PageArena::without_log();
        std::mem::swap(&mut pages, &mut kernel.pages);
        let mut inner = Inner { kernel, pipes: BTreeMap::new() };
        inner.adopt_new_pipes();
        SharedKernel {
            inner: Mutex::new(inner),
            pages: Mutex::new(pages),
            net: Condvar::new(),
            copied: std::sync::atomic::AtomicU64::new(0),
            #[cfg(loom)]
            argument_order: false,
        }
    }

    /// The broken twin for loom: splice and tee lock two pipes in argument
    /// order. Two opposite splices can then deadlock.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn new_locking_in_argument_order(kernel: Kernel) -> Arc<Self> {
        Arc::new(SharedKernel { argument_order: true, ..Self::build(kernel) })
    }

    /// Run `f` with the whole kernel locked (every pipe, the kernel, the
    /// arena): for calls that never sleep, and for inspection.
    pub fn with<T>(&self, f: impl FnOnce(&mut Kernel) -> T) -> T {
        let mut f = Some(f);
        self.coarse(
            |inner| inner.pipes.keys().copied().collect(),
            |k| Next::Done((f.take().expect("runs once"))(k), vec![]),
        )
    }

    /// Run `f` on pipe `id` holding its lock only (`None` if no such pipe
    /// lives): inspection that must not stop calls on other pipes.
    pub fn with_pipe<T>(&self, id: PipeId, f: impl FnOnce(Option<&mut PipeInodeInfo>) -> T) -> T {
        let pipe = self.inner.lock().pipes.get(&id).cloned();
        match pipe {
            Some(p) => f(p.ring.lock().as_mut()),
            None => f(None),
        }
    }

    fn wake(&self, inner_pipes: &[(PipeId, Arc<KPipe>)], qs: &[Queue]) {
        for q in qs {
            match q {
                Queue::Net => self.net.notify_all(),
                Queue::Rd(id) | Queue::Wr(id) => {
                    let Some((_, p)) = inner_pipes.iter().find(|(i, _)| i == id) else { continue };
                    match q {
                        Queue::Rd(_) => p.rd_wait.notify_all(),
                        _ => p.wr_wait.notify_all(),
                    }
                }
            }
        }
    }

    fn count_copied(&self, n: usize) {
        self.copied.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Lock two pipes: in id order (`pipe_double_lock`), whatever the
    /// argument order; answers the guards in argument order.
    fn lock_two<'a>(&self, a: (PipeId, &'a KPipe), b: (PipeId, &'a KPipe)) -> (Ring<'a>, Ring<'a>) {
        #[cfg(loom)]
        if self.argument_order {
            let ga = a.1.ring.lock();
            return (ga, b.1.ring.lock());
        }
        if a.0 < b.0 {
            let ga = a.1.ring.lock();
            (ga, b.1.ring.lock())
        } else {
            let gb = b.1.ring.lock();
            (a.1.ring.lock(), gb)
        }
    }

    /// The coarse path: lock the pipes `peek` names (in id order), then the
    /// kernel, then the arena; move them into the `Kernel`, run `attempt`,
    /// move them back; sleep or answer as it asks.
    fn coarse<T>(&self, peek: impl Fn(&Inner) -> Vec<PipeId>, mut attempt: impl FnMut(&mut Kernel) -> Next<T>) -> T {
        loop {
            let inner = self.inner.lock();
            let mut ids = peek(&inner);
            ids.sort_unstable();
            ids.dedup();
            let held: Vec<(PipeId, Arc<KPipe>)> = ids.iter().map(|id| (*id, inner.pipes[id].clone())).collect();
            drop(inner);
            let mut rings: Vec<Ring<'_>> = held.iter().map(|(_, p)| p.ring.lock()).collect();
            let mut inner = self.inner.lock();
            let mut again = peek(&inner);
            again.sort_unstable();
            again.dedup();
            if again != ids {
                // A descriptor changed between the two looks: start over.
                continue;
            }
            let mut pages = self.pages.lock();
            let k = &mut inner.kernel;
            k.copied += self.copied.swap(0, std::sync::atomic::Ordering::Relaxed);
            std::mem::swap(&mut k.pages, &mut *pages);
            for ((id, _), ring) in held.iter().zip(rings.iter_mut()) {
                k.pipes.insert(*id, ring.take().expect("a registered pipe is live"));
            }
            let next = attempt(k);
            std::mem::swap(&mut k.pages, &mut *pages);
            drop(pages);
            for ((id, _), ring) in held.iter().zip(rings.iter_mut()) {
                **ring = inner.kernel.pipes.remove(id);
                if ring.is_none() {
                    inner.pipes.remove(id);
                }
            }
            inner.adopt_new_pipes();
            match next {
                Next::Done(v, wake) => {
                    drop(inner);
                    drop(rings);
                    self.wake(&held, &wake);
                    return v;
                }
                Next::Sleep(Queue::Net) => {
                    drop(rings);
                    drop(self.net.wait(inner));
                }
                Next::Sleep(q @ (Queue::Rd(id) | Queue::Wr(id))) => {
                    drop(inner);
                    let at = held.iter().position(|(i, _)| *i == id).expect("sleeps on a pipe it locked");
                    let ring = rings.swap_remove(at);
                    drop(rings);
                    let p = &held[at].1;
                    drop(if matches!(q, Queue::Rd(_)) { p.rd_wait.wait(ring) } else { p.wr_wait.wait(ring) });
                }
            }
        }
    }

    /// [`coarse`](Self::coarse) for a `Kernel` call answering
    /// [`BLOCKED`] when it must wait: sleep on `queue(kernel)` and retry,
    /// or wake `after(kernel)` once it answered.
    fn blocking<T>(
        &self,
        peek: impl Fn(&Inner) -> Vec<PipeId>,
        mut attempt: impl FnMut(&mut Kernel) -> Result<T, Errno>,
        queue: impl Fn(&Kernel) -> Option<Queue>,
        after: impl Fn(&Kernel) -> Vec<Queue>,
    ) -> Result<T, Errno> {
        self.coarse(peek, |k| match attempt(k) {
            Err(e) if e == BLOCKED => match queue(k) {
                Some(q) => Next::Sleep(q),
                None => Next::Done(Err(e), vec![]),
            },
            r => Next::Done(r, after(k)),
        })
    }

    fn is_socket(k: &Kernel, pid: Pid, fd: Fd) -> bool {
        k.file(pid, fd).is_ok_and(|f| f.socket().is_some())
    }

    fn pipe_of(k: &Kernel, pid: Pid, fd: Fd) -> Option<PipeId> {
        k.file(pid, fd).ok().and_then(|f| f.pipe())
    }

    /// The pipes behind descriptors, for [`coarse`](Self::coarse).
    fn pipes_of(pid: Pid, fds: &[Fd]) -> impl Fn(&Inner) -> Vec<PipeId> + '_ {
        move |inner| fds.iter().filter_map(|&fd| Self::pipe_of(&inner.kernel, pid, fd)).collect()
    }

    /// read(2), sleeping while the pipe is empty and has a writer.
    ///
    /// # Errors
    /// As [`Kernel::read`], never [`BLOCKED`].
    pub fn read(&self, pid: Pid, fd: Fd, len: u64) -> Result<Vec<u8>, Errno> {
        loop {
            let mut inner = self.inner.lock();
            let Some(id) = Self::pipe_of(&inner.kernel, pid, fd) else {
                drop(inner);
                return self.read_coarse(pid, fd, len);
            };
            let (file, len) = inner.kernel.read_prep(pid, fd, len)?;
            let p = inner.pipes[&id].clone();
            drop(inner);
            let mut ring = p.ring.lock();
            let Some(pipe) = ring.as_mut() else { return Err(Errno::EBADF) };
            let mut out = Vec::new();
            let r = pipe_read(pipe, &mut self.pages.lock(), len, file.nonblock, &mut out);
            if let Ok(n) = r {
                self.count_copied(n);
            }
            match r {
                Err(e) if e == BLOCKED => drop(p.rd_wait.wait(ring)),
                r => {
                    drop(ring);
                    p.wr_wait.notify_all();
                    return r.map(|_| out);
                }
            }
        }
    }

    fn read_coarse(&self, pid: Pid, fd: Fd, len: u64) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        self.blocking(
            Self::pipes_of(pid, &[fd]),
            |k| {
                out.clear();
                k.read(pid, fd, len, &mut out)
            },
            |k| if Self::is_socket(k, pid, fd) { Some(Queue::Net) } else { Self::pipe_of(k, pid, fd).map(Queue::Rd) },
            |k| {
                if Self::is_socket(k, pid, fd) {
                    vec![Queue::Net]
                } else {
                    Self::pipe_of(k, pid, fd).map(Queue::Wr).into_iter().collect()
                }
            },
        )?;
        Ok(out)
    }

    /// write(2), sleeping while the pipe is full and has a reader, and
    /// resuming with the rest after a partial fill.
    ///
    /// # Errors
    /// As [`Kernel::write`], never [`BLOCKED`]; an error after some bytes
    /// went in answers those bytes.
    pub fn write(&self, pid: Pid, fd: Fd, byte: u8, len: usize) -> Result<usize, Errno> {
        let mut done = 0usize;
        loop {
            let mut inner = self.inner.lock();
            let Some(id) = Self::pipe_of(&inner.kernel, pid, fd) else {
                drop(inner);
                return self.write_coarse(pid, fd, byte, len, done);
            };
            let src = cap(Source::Fill { byte, len: len - done });
            let file = match inner.kernel.write_prep(pid, fd, src.len()) {
                Ok(file) => file,
                Err(e) => return if done > 0 { Ok(done) } else { Err(e) },
            };
            let p = inner.pipes[&id].clone();
            drop(inner);
            let mut ring = p.ring.lock();
            let Some(pipe) = ring.as_mut() else { return if done > 0 { Ok(done) } else { Err(Errno::EBADF) } };
            let r = pipe_write(pipe, &mut self.pages.lock(), src, file.nonblock);
            self.count_copied(match r {
                Ok(n) | Err((_, n)) => n,
            });
            match r {
                Err((e, n)) if e == BLOCKED => {
                    done += n;
                    if n > 0 {
                        p.rd_wait.notify_all();
                    }
                    drop(p.wr_wait.wait(ring));
                }
                r => {
                    drop(ring);
                    let n = match r {
                        Ok(n) | Err((_, n)) => n,
                    };
                    if n > 0 {
                        p.rd_wait.notify_all();
                    }
                    return match r {
                        Ok(n) => Ok(done + n),
                        Err((e, n)) => {
                            if done + n > 0 {
                                Ok(done + n)
                            } else {
                                Err(e)
                            }
                        }
                    };
                }
            }
        }
    }

    /// A write to a socket or a file: the coarse path.
    fn write_coarse(&self, pid: Pid, fd: Fd, byte: u8, len: usize, mut done: usize) -> Result<usize, Errno> {
        self.coarse(Self::pipes_of(pid, &[fd]), |k| {
            let r = k.write_progress(pid, fd, Source::Fill { byte, len: len - done });
            // Who waits for this write, and where it waits itself.
            let (readers, room) = if Self::is_socket(k, pid, fd) {
                (Some(Queue::Net), Some(Queue::Net))
            } else {
                let pipe = Self::pipe_of(k, pid, fd);
                (pipe.map(Queue::Rd), pipe.map(Queue::Wr))
            };
            match r {
                Ok(n) => Next::Done(Ok(done + n), readers.into_iter().collect()),
                Err((e, n)) if e == BLOCKED && room.is_some() => {
                    done += n;
                    // The network's queue is one: whoever changes it wakes it.
                    Next::Sleep(room.expect("checked"))
                }
                Err((e, n)) => Next::Done(if done + n > 0 { Ok(done + n) } else { Err(e) }, vec![]),
            }
        })
    }

    /// vmsplice(2), sleeping as [`Kernel::vmsplice`] would. It reads the
    /// caller's page tables, so it runs under the kernel lock too (after
    /// the pipe's, as Linux takes `mmap_lock` inside `pipe_lock`).
    ///
    /// # Errors
    /// As [`Kernel::vmsplice`], never [`BLOCKED`].
    pub fn vmsplice(&self, pid: Pid, fd: Fd, iov: &[UserRange], flags: SpliceFlags) -> Result<usize, Errno> {
        let to_pipe = |k: &Kernel| k.file(pid, fd).is_ok_and(|f| f.writable);
        self.blocking(
            Self::pipes_of(pid, &[fd]),
            |k| k.vmsplice(pid, fd, iov, flags),
            |k| Self::pipe_of(k, pid, fd).map(|id| if to_pipe(k) { Queue::Wr(id) } else { Queue::Rd(id) }),
            |k| {
                Self::pipe_of(k, pid, fd)
                    .map(|id| if to_pipe(k) { Queue::Rd(id) } else { Queue::Wr(id) })
                    .into_iter()
                    .collect()
            },
        )
    }

    /// splice(2) without explicit offsets, sleeping on the input's queue
    /// while it is empty or the output's while it is full.
    ///
    /// # Errors
    /// As [`Kernel::splice`], never [`BLOCKED`].
    pub fn splice(&self, pid: Pid, fd_in: Fd, fd_out: Fd, len: u64, flags: SpliceFlags) -> Result<usize, Errno> {
        self.between_pipes(pid, fd_in, fd_out, true, |k| k.splice_prep(pid, fd_in, false, fd_out, false, len, flags))
            .unwrap_or_else(|| {
                self.blocking(
                    Self::pipes_of(pid, &[fd_in, fd_out]),
                    |k| k.splice(pid, fd_in, None, fd_out, None, len, flags),
                    |k| Self::two_pipe_queue(k, pid, fd_in, fd_out),
                    |k| Self::both_sides(k, pid, fd_in, fd_out),
                )
            })
    }

    /// tee(2), sleeping as splice does.
    ///
    /// # Errors
    /// As [`Kernel::tee`], never [`BLOCKED`].
    pub fn tee(&self, pid: Pid, fd_in: Fd, fd_out: Fd, len: u64, flags: SpliceFlags) -> Result<usize, Errno> {
        let route = |k: &mut Kernel| {
            Ok(match k.tee_prep(pid, fd_in, fd_out, len, flags)? {
                None => SpliceRoute::Zero,
                Some((i, o, len, nonblock)) => SpliceRoute::Pipes { i, o, len, nonblock },
            })
        };
        // tee refuses anything but two pipes in tee_prep, under the
        // coarse path's locks if the descriptors are not two pipes.
        self.between_pipes(pid, fd_in, fd_out, false, route).unwrap_or_else(|| {
            self.blocking(
                Self::pipes_of(pid, &[fd_in, fd_out]),
                |k| k.tee(pid, fd_in, fd_out, len, flags),
                |k| Self::two_pipe_queue(k, pid, fd_in, fd_out),
                |k| Self::pipe_of(k, pid, fd_out).map(Queue::Rd).into_iter().collect(),
            )
        })
    }

    /// splice (`moves`) or tee between two pipes, on the fine path: `None`
    /// when the descriptors are not two pipes (the caller takes the coarse
    /// path).
    fn between_pipes(
        &self,
        pid: Pid,
        fd_in: Fd,
        fd_out: Fd,
        moves: bool,
        prep: impl Fn(&mut Kernel) -> Result<SpliceRoute, Errno>,
    ) -> Option<Result<usize, Errno>> {
        loop {
            let mut inner = self.inner.lock();
            Self::pipe_of(&inner.kernel, pid, fd_in)?;
            Self::pipe_of(&inner.kernel, pid, fd_out)?;
            let (i, o, len, nonblock) = match prep(&mut inner.kernel) {
                Err(e) => return Some(Err(e)),
                Ok(SpliceRoute::Pipes { i, o, len, nonblock }) => (i, o, len, nonblock),
                Ok(SpliceRoute::Zero) => return Some(Ok(0)),
                Ok(SpliceRoute::Other { .. }) => unreachable!("two pipes route as pipes"),
            };
            let (pi, po) = (inner.pipes[&i].clone(), inner.pipes[&o].clone());
            drop(inner);
            let (mut ri, mut ro) = self.lock_two((i, &pi), (o, &po));
            let (Some(ip), Some(op)) = (ri.as_mut(), ro.as_mut()) else { return Some(Err(Errno::EBADF)) };
            let r = {
                let pages = &mut self.pages.lock();
                if moves { splice_pipes(ip, op, pages, len, nonblock) } else { tee_pipes(ip, op, pages, len, nonblock) }
            };
            match r {
                Err(e) if e == BLOCKED => {
                    // ipipe_prep waits while the input is empty and has a
                    // writer; else opipe_prep waits for room (even at end
                    // of input, as Linux does). Sleep holding one lock only.
                    if ip.is_empty() && ip.writers > 0 {
                        drop(ro);
                        drop(pi.rd_wait.wait(ri));
                    } else {
                        drop(ri);
                        drop(po.wr_wait.wait(ro));
                    }
                }
                r => {
                    drop((ri, ro));
                    if moves {
                        pi.wr_wait.notify_all();
                    }
                    po.rd_wait.notify_all();
                    return Some(r);
                }
            }
        }
    }

    /// close(2); closing a pipe end wakes both its queues (sleepers then see
    /// end of file or EPIPE).
    ///
    /// # Errors
    /// As [`Kernel::close`].
    pub fn close(&self, pid: Pid, fd: Fd) -> Result<usize, Errno> {
        self.coarse(Self::pipes_of(pid, &[fd]), |k| {
            let pipe = Self::pipe_of(k, pid, fd);
            let socket = Self::is_socket(k, pid, fd);
            let r = k.close(pid, fd);
            let mut wake: Vec<Queue> = pipe.into_iter().flat_map(|id| [Queue::Rd(id), Queue::Wr(id)]).collect();
            if socket {
                wake.push(Queue::Net);
            }
            Next::Done(r, wake)
        })
    }

    /// fcntl(2) (a larger pipe wakes its writers).
    ///
    /// # Errors
    /// As [`Kernel::fcntl`].
    pub fn fcntl(&self, pid: Pid, fd: Fd, cmd: Fcntl) -> Result<usize, Errno> {
        self.coarse(Self::pipes_of(pid, &[fd]), |k| {
            let pipe = Self::pipe_of(k, pid, fd);
            Next::Done(k.fcntl(pid, fd, cmd), pipe.map(Queue::Wr).into_iter().collect())
        })
    }

    /// Where a blocked splice or tee between `fd_in` and `fd_out` sleeps:
    /// on the input while it is empty and has a writer, else on the output.
    fn two_pipe_queue(k: &Kernel, pid: Pid, fd_in: Fd, fd_out: Fd) -> Option<Queue> {
        let input = Self::pipe_of(k, pid, fd_in);
        if let Some(id) = input
            && k.pipe(id).is_some_and(|p| p.is_empty() && p.writers > 0)
        {
            return Some(Queue::Rd(id));
        }
        if Self::is_socket(k, pid, fd_in) || Self::is_socket(k, pid, fd_out) {
            return Some(Queue::Net);
        }
        match Self::pipe_of(k, pid, fd_out) {
            Some(id) => Some(Queue::Wr(id)),
            None => input.map(Queue::Rd),
        }
    }

    fn both_sides(k: &Kernel, pid: Pid, fd_in: Fd, fd_out: Fd) -> Vec<Queue> {
        let mut q = Vec::new();
        if let Some(id) = Self::pipe_of(k, pid, fd_in) {
            q.push(Queue::Wr(id));
        }
        if let Some(id) = Self::pipe_of(k, pid, fd_out) {
            q.push(Queue::Rd(id));
        }
        if Self::is_socket(k, pid, fd_in) || Self::is_socket(k, pid, fd_out) {
            q.push(Queue::Net);
        }
        q
    }
}

impl Inner {
    /// Move every pipe the `Kernel` value holds (new ones a call created,
    /// or all of them at the start) out to its own lock.
    fn adopt_new_pipes(&mut self) {
        let ids: Vec<PipeId> = self.kernel.pipes.iter().map(|(id, _)| id).collect();
        for id in ids {
            let ring = self.kernel.pipes.remove(&id);
            self.pipes.insert(
                id,
                Arc::new(KPipe { ring: Mutex::new(ring), rd_wait: Condvar::new(), wr_wait: Condvar::new() }),
            );
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::kernel::KernelConfig;
    use page_refs::sync::thread;

    #[test]
    fn socket_reader_sleeps_until_the_peer_writes() {
        let k = SharedKernel::new(Kernel::new(KernelConfig::default()));
        let pid = k.with(|k| k.init_pid());
        let (tx, rx) = k.with(|k| k.tcp_pair(pid, tcp_sim::Mode::Loopback)).unwrap();
        let k2 = k.clone();
        let reader = thread::spawn(move || k2.read(pid, rx, 100));
        thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(k.write(pid, tx, b's', 5), Ok(5));
        assert_eq!(reader.join().unwrap(), Ok(b"sssss".to_vec()));
        let k3 = k.clone();
        let reader = thread::spawn(move || k3.read(pid, rx, 100));
        thread::sleep(std::time::Duration::from_millis(20));
        k.close(pid, tx).unwrap();
        assert_eq!(reader.join().unwrap(), Ok(vec![]), "end of file once the peer closed");
        k.with(|k| k.teardown_and_check()).unwrap();
    }

    #[test]
    fn reader_sleeps_until_a_writer_writes() {
        let k = SharedKernel::new(Kernel::new(KernelConfig::default()));
        let pid = k.with(|k| k.init_pid());
        let (r, w) = k.with(|k| k.pipe2(pid)).unwrap();
        let k2 = k.clone();
        let reader = thread::spawn(move || k2.read(pid, r, 10));
        thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(k.write(pid, w, b'x', 3), Ok(3));
        assert_eq!(reader.join().unwrap(), Ok(b"xxx".to_vec()));
    }

    #[test]
    fn long_write_fills_sleeps_and_finishes_as_the_reader_drains() {
        let k = SharedKernel::new(Kernel::new(KernelConfig::default()));
        let pid = k.with(|k| k.init_pid());
        let (r, w) = k.with(|k| k.pipe2(pid)).unwrap();
        let k2 = k.clone();
        let writer = thread::spawn(move || k2.write(pid, w, b'y', 300_000));
        let mut got = 0;
        while got < 300_000 {
            let data = k.read(pid, r, 70_000).unwrap();
            assert!(data.iter().all(|&b| b == b'y'));
            got += data.len();
        }
        assert_eq!(writer.join().unwrap(), Ok(300_000));
        k.with(|k| k.check_invariants()).unwrap();
    }

    #[test]
    fn close_wakes_a_blocked_writer_with_epipe_and_a_reader_with_eof() {
        let k = SharedKernel::new(Kernel::new(KernelConfig::default()));
        let pid = k.with(|k| k.init_pid());
        let (r, w) = k.with(|k| k.pipe2(pid)).unwrap();
        let k2 = k.clone();
        let writer = thread::spawn(move || k2.write(pid, w, b'z', 70_000));
        // Close only once the writer has filled the pipe (and so sleeps).
        let id = k.with(|k| k.file(pid, w).ok().and_then(|f| f.pipe())).unwrap();
        while !k.with(|k| k.pipe(id).is_some_and(|p| p.is_full())) {
            thread::yield_now();
        }
        k.close(pid, r).unwrap();
        assert_eq!(writer.join().unwrap(), Ok(65536), "the bytes written before EPIPE");
        let (r2, w2) = k.with(|k| k.pipe2(pid)).unwrap();
        let k3 = k.clone();
        let reader = thread::spawn(move || k3.read(pid, r2, 1));
        thread::sleep(std::time::Duration::from_millis(20));
        k.close(pid, w2).unwrap();
        assert_eq!(reader.join().unwrap(), Ok(vec![]));
        k.with(|k| k.teardown_and_check()).unwrap();
    }

    #[test]
    fn splice_at_end_of_input_into_a_full_pipe_sleeps_on_the_output_and_wakes_when_it_drains() {
        let k = SharedKernel::new(Kernel::new(KernelConfig::default()));
        let pid = k.with(|k| k.init_pid());
        let (ar, aw) = k.with(|k| k.pipe2(pid)).unwrap();
        let (br, bw) = k.with(|k| k.pipe2(pid)).unwrap();
        k.fcntl(pid, bw, Fcntl::SetPipeSz(4096)).unwrap();
        assert_eq!(k.write(pid, bw, b'b', 4096), Ok(4096));
        k.close(pid, aw).unwrap();
        // Input at end of file, output full: opipe_prep waits for room
        // first, as Linux does, on the output's queue.
        let k2 = k.clone();
        let splicer = thread::spawn(move || k2.splice(pid, ar, bw, 10, SpliceFlags::default()));
        thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(k.read(pid, br, 4096).map(|v| v.len()), Ok(4096));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !splicer.is_finished() {
            assert!(std::time::Instant::now() < deadline, "the splice slept on the wrong queue");
            thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(splicer.join().unwrap(), Ok(0));
        k.with(|k| k.teardown_and_check()).unwrap();
    }
}
