//! The kernel for real threads: blocking syscalls that sleep on the wait
//! queue of the pipe they wait for, as Linux's do.
//!
//! [`SharedKernel`] wraps one [`Kernel`] in a lock (from the `sync` shim,
//! so loom can check it too) and gives each pipe two wait queues: `rd_wait`
//! (readers wait while it is empty) and `wr_wait` (writers wait while it is
//! full). A call that answers [`BLOCKED`] sleeps on the right queue and
//! tries again when woken; every call that changes a pipe wakes the queue
//! whose sleepers it may have unblocked, as fs/pipe.c does: a read (or a
//! splice out of it) wakes writers, a write (or a splice into it) wakes
//! readers, a close wakes both. A write that filled the pipe before it had
//! to sleep keeps what it wrote and goes on with the rest. Sockets share one
//! wait queue, the network's: a read, write or close on any socket wakes
//! every thread waiting on one (a socket call that must wait for the peer
//! first lets simulated time run, inside the kernel, while the network can
//! still make progress).
//!
//! The single lock stands for the kernel's per-object locks: the lock
//! order between pipes that `SharedPipe` and the loom models check
//! (`pipe_buffer::lock_two`) is not needed here, as one call holds the
//! whole kernel.

use std::collections::HashMap;

use page_refs::Source;
use page_refs::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::{BLOCKED, Errno, Fcntl, Fd, Kernel, Pid, PipeId, SpliceFlags, UserRange};

/// The wait queue of the network: a socket call that must wait (no data,
/// no room) sleeps here until another call on any socket changes the
/// network.
#[derive(Debug, Default)]
struct NetWait {
    changed: Condvar,
}

/// A pipe's two wait queues.
#[derive(Debug, Default)]
struct Waits {
    /// Readers sleep here while the pipe is empty.
    rd_wait: Condvar,
    /// Writers sleep here while the pipe is full.
    wr_wait: Condvar,
}

/// Which queue a blocked call sleeps on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Queue {
    Rd(PipeId),
    Wr(PipeId),
    /// Any socket: the network changed.
    Net,
}

/// A [`Kernel`] shared by threads.
#[derive(Debug)]
pub struct SharedKernel {
    kernel: Mutex<Kernel>,
    /// Wait queues by pipe. Protected by its own lock, taken after the
    /// kernel's and never held while sleeping.
    waits: Mutex<HashMap<PipeId, Arc<Waits>>>,
    net: NetWait,
}

impl SharedKernel {
    /// Share `kernel` between threads.
    pub fn new(kernel: Kernel) -> Arc<Self> {
        Arc::new(SharedKernel {
            kernel: Mutex::new(kernel),
            waits: Mutex::new(HashMap::new()),
            net: NetWait::default(),
        })
    }

    /// Run `f` with the kernel locked (for calls that never sleep, and for
    /// inspection).
    pub fn with<T>(&self, f: impl FnOnce(&mut Kernel) -> T) -> T {
        let mut k = self.kernel.lock();
        f(&mut k)
    }

    fn waits(&self, id: PipeId) -> Arc<Waits> {
        self.waits.lock().entry(id).or_default().clone()
    }

    fn wake(&self, q: Queue) {
        match q {
            Queue::Rd(id) => self.waits(id).rd_wait.notify_all(),
            Queue::Wr(id) => self.waits(id).wr_wait.notify_all(),
            Queue::Net => self.net.changed.notify_all(),
        }
    }

    fn sleep<'a>(&self, guard: MutexGuard<'a, Kernel>, q: Queue) -> MutexGuard<'a, Kernel> {
        match q {
            Queue::Rd(id) => self.waits(id).rd_wait.wait(guard),
            Queue::Wr(id) => self.waits(id).wr_wait.wait(guard),
            Queue::Net => self.net.changed.wait(guard),
        }
    }

    fn is_socket(k: &Kernel, pid: Pid, fd: Fd) -> bool {
        k.file(pid, fd).is_ok_and(|f| f.socket().is_some())
    }

    fn pipe_of(k: &Kernel, pid: Pid, fd: Fd) -> Option<PipeId> {
        k.file(pid, fd).ok().and_then(|f| f.pipe())
    }

    /// Call `attempt` until it does not answer [`BLOCKED`], sleeping on
    /// `queue(kernel)` in between; then wake `after` (queues of pipes the
    /// call changed).
    fn blocking<T>(
        &self,
        mut attempt: impl FnMut(&mut Kernel) -> Result<T, Errno>,
        queue: impl Fn(&Kernel) -> Option<Queue>,
        after: impl Fn(&Kernel) -> Vec<Queue>,
    ) -> Result<T, Errno> {
        let mut k = self.kernel.lock();
        loop {
            match attempt(&mut k) {
                Err(e) if e == BLOCKED => match queue(&k) {
                    Some(q) => k = self.sleep(k, q),
                    None => return Err(e),
                },
                r => {
                    let wake = after(&k);
                    drop(k);
                    for q in wake {
                        self.wake(q);
                    }
                    return r;
                }
            }
        }
    }

    /// read(2), sleeping while the pipe is empty and has a writer.
    ///
    /// # Errors
    /// As [`Kernel::read`], never [`BLOCKED`].
    pub fn read(&self, pid: Pid, fd: Fd, len: u64) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        self.blocking(
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
        let mut k = self.kernel.lock();
        loop {
            let r = k.write_progress(pid, fd, Source::Fill { byte, len: len - done });
            // Who waits for this write, and where it waits itself.
            let (readers, room) = if Self::is_socket(&k, pid, fd) {
                (Some(Queue::Net), Some(Queue::Net))
            } else {
                let pipe = Self::pipe_of(&k, pid, fd);
                (pipe.map(Queue::Rd), pipe.map(Queue::Wr))
            };
            match r {
                Ok(n) => {
                    drop(k);
                    if let Some(q) = readers {
                        self.wake(q);
                    }
                    return Ok(done + n);
                }
                Err((e, n)) if e == BLOCKED && room.is_some() => {
                    done += n;
                    if let (true, Some(q)) = (n > 0, readers) {
                        self.wake(q);
                    }
                    k = self.sleep(k, room.expect("checked"));
                }
                Err((e, n)) => {
                    drop(k);
                    return if done + n > 0 { Ok(done + n) } else { Err(e) };
                }
            }
        }
    }

    /// vmsplice(2), sleeping as [`Kernel::vmsplice`] would.
    ///
    /// # Errors
    /// As [`Kernel::vmsplice`], never [`BLOCKED`].
    pub fn vmsplice(&self, pid: Pid, fd: Fd, iov: &[UserRange], flags: SpliceFlags) -> Result<usize, Errno> {
        let to_pipe = |k: &Kernel| k.file(pid, fd).is_ok_and(|f| f.writable);
        self.blocking(
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
        self.blocking(
            |k| k.splice(pid, fd_in, None, fd_out, None, len, flags),
            |k| Self::two_pipe_queue(k, pid, fd_in, fd_out),
            |k| Self::both_sides(k, pid, fd_in, fd_out),
        )
    }

    /// tee(2), sleeping as splice does.
    ///
    /// # Errors
    /// As [`Kernel::tee`], never [`BLOCKED`].
    pub fn tee(&self, pid: Pid, fd_in: Fd, fd_out: Fd, len: u64, flags: SpliceFlags) -> Result<usize, Errno> {
        self.blocking(
            |k| k.tee(pid, fd_in, fd_out, len, flags),
            |k| Self::two_pipe_queue(k, pid, fd_in, fd_out),
            |k| Self::pipe_of(k, pid, fd_out).map(Queue::Rd).into_iter().collect(),
        )
    }

    /// close(2); closing a pipe end wakes both its queues (sleepers then see
    /// end of file or EPIPE).
    ///
    /// # Errors
    /// As [`Kernel::close`].
    pub fn close(&self, pid: Pid, fd: Fd) -> Result<usize, Errno> {
        let mut k = self.kernel.lock();
        let pipe = Self::pipe_of(&k, pid, fd);
        let socket = Self::is_socket(&k, pid, fd);
        let r = k.close(pid, fd);
        drop(k);
        if let Some(id) = pipe {
            self.wake(Queue::Rd(id));
            self.wake(Queue::Wr(id));
        }
        if socket {
            self.wake(Queue::Net);
        }
        r
    }

    /// fcntl(2) (a larger pipe wakes its writers).
    ///
    /// # Errors
    /// As [`Kernel::fcntl`].
    pub fn fcntl(&self, pid: Pid, fd: Fd, cmd: Fcntl) -> Result<usize, Errno> {
        let mut k = self.kernel.lock();
        let pipe = Self::pipe_of(&k, pid, fd);
        let r = k.fcntl(pid, fd, cmd);
        drop(k);
        if let Some(id) = pipe {
            self.wake(Queue::Wr(id));
        }
        r
    }

    /// Where a blocked splice or tee between `fd_in` and `fd_out` sleeps:
    /// on the input while it is empty, else on the output.
    fn two_pipe_queue(k: &Kernel, pid: Pid, fd_in: Fd, fd_out: Fd) -> Option<Queue> {
        let input = Self::pipe_of(k, pid, fd_in);
        if let Some(id) = input
            && k.pipe(id).is_some_and(|p| p.is_empty())
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
}
