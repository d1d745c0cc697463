//! TCP sockets: a connected pair, read/write/recv/send on it, splice and
//! sendfile into and out of it, `SO_ZEROCOPY` and its error queue, and
//! simulated time (net/ipv4/tcp.c, net/socket.c, fs/splice.c).
//!
//! The endpoints, links and timers live in a [`tcp_sim::Network`] the
//! kernel owns. A call that must wait for the network (a full send buffer,
//! an empty receive queue) lets simulated time pass, one event at a time,
//! while the network can still make progress by itself; when it cannot,
//! nothing is left to wake the caller and it answers [`super::BLOCKED`].

use page_refs::{Holder, PAGE_SIZE, PageId, Source};
use pipe_buffer::{BufFlags, BufOrigin};
use tcp_sim::{Completion, Duration, Instant, Mode, Network, Piece, SockError, SockId};

use super::file::{Fd, File, FileKind, PipeId};
use super::inode::InodeId;
use super::mm::{Pte, UserBuffer, UserRange};
use super::{BLOCKED, Errno, Kernel, MAX_RW_COUNT, Pid, pipe_errno};

/// The `MSG_*` flags of [`Kernel::send`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SendFlags {
    /// `MSG_ZEROCOPY`: send the user's pages themselves (with
    /// `SO_ZEROCOPY` set; otherwise ignored, as Linux does).
    pub zerocopy: bool,
    /// `MSG_MORE`: hold a partial segment, more follows.
    pub more: bool,
    /// `MSG_DONTWAIT`.
    pub nonblock: bool,
}

/// The errno a socket failure becomes.
fn sock_errno(e: SockError) -> Errno {
    match e {
        SockError::Pipe => Errno::EPIPE,
        SockError::ConnReset => Errno::ECONNRESET,
        SockError::TimedOut => Errno::ETIMEDOUT,
        SockError::WouldBlock => Errno::EAGAIN,
    }
}

/// At most this many pipe buffers go into one sendmsg (`splice_to_socket`'s
/// `bvec[16]`).
const SPLICE_BVECS: usize = 16;

impl Kernel {
    /// A connected TCP pair joined by `mode`: `(connecting side, accepted
    /// side)` (socket + connect + accept over loopback, or over a
    /// simulated link).
    ///
    /// # Errors
    /// `ESRCH` for an unknown process; over the container's limits
    /// `ENOMEM` (sockets) or `EMFILE` (files).
    pub fn tcp_pair(&mut self, pid: Pid, mode: Mode) -> Result<(Fd, Fd), Errno> {
        use crate::container::Resource;
        self.proc_ref(pid)?;
        // socket() charges the socket (__sock_charge), then its descriptor.
        self.ub_charge(pid, &[(Resource::Sockets, 2), (Resource::Files, 2)])?;
        let (a, b) = self.net.connect(mode);
        let fds = &mut self.proc_mut(pid)?.fds;
        let file =
            |s| File { kind: FileKind::Socket(s), readable: true, writable: true, nonblock: false, pos: 0, path: None };
        Ok((fds.install(file(a)), fds.install(file(b))))
    }

    /// The network: endpoints, links, simulated time.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The simulated time.
    pub fn now(&self) -> Instant {
        self.net.now()
    }

    /// Let `d` of simulated time pass: packets arrive, ACKs come back,
    /// timers fire.
    pub fn advance_time(&mut self, d: Duration) {
        let Kernel { net, pages, .. } = self;
        net.advance(pages, d);
    }

    /// Let time pass until the network is quiet.
    pub fn settle(&mut self) {
        let Kernel { net, pages, .. } = self;
        net.settle(pages);
    }

    /// Run the network's next event if it can make progress by itself;
    /// `false` if it cannot (nothing it does can change anything).
    pub fn run_network_event(&mut self) -> bool {
        let Kernel { net, pages, .. } = self;
        net.can_progress() && net.step(pages)
    }

    /// Wait for the network: run its next event, or answer
    /// [`BLOCKED`] if it cannot make progress by itself.
    fn net_wait(&mut self) -> Result<(), Errno> {
        let Kernel { net, pages, .. } = self;
        if net.can_progress() && net.step(pages) { Ok(()) } else { Err(BLOCKED) }
    }

    /// read(2) on a socket (`tcp_recvmsg` without flags).
    pub(crate) fn sock_read(
        &mut self,
        s: SockId,
        len: usize,
        nonblock: bool,
        out: &mut Vec<u8>,
    ) -> Result<usize, Errno> {
        if len == 0 {
            return Ok(0);
        }
        loop {
            let Kernel { net, pages, .. } = self;
            match net.recv(pages, s, len, out) {
                Ok(n) => return Ok(n),
                Err(SockError::WouldBlock) if nonblock => return Err(Errno::EAGAIN),
                Err(SockError::WouldBlock) => self.net_wait()?,
                Err(e) => return Err(sock_errno(e)),
            }
        }
    }

    /// write(2) on a socket (`tcp_sendmsg`): copy into the socket's pages;
    /// a blocking call waits until every byte is queued.
    pub(crate) fn sock_write(
        &mut self,
        s: SockId,
        src: Source<'_>,
        nonblock: bool,
        more: bool,
    ) -> Result<usize, Errno> {
        self.sock_write_progress(s, src, nonblock, more).map_err(|(e, _)| e)
    }

    /// [`sock_write`](Self::sock_write), also telling how many bytes were
    /// queued before it had to sleep for good (a waker resumes it with the
    /// rest).
    pub(crate) fn sock_write_progress(
        &mut self,
        s: SockId,
        src: Source<'_>,
        nonblock: bool,
        more: bool,
    ) -> Result<usize, (Errno, usize)> {
        if src.is_empty() {
            // Only the connection's state is checked.
            return match self.net.send_room(s) {
                Ok(_) | Err(SockError::WouldBlock) => Ok(0),
                Err(e) => Err((sock_errno(e), 0)),
            };
        }
        let mut done = 0;
        let mut rest = src;
        loop {
            let Kernel { net, pages, .. } = self;
            match net.send_copy(pages, s, rest, more) {
                Ok(n) => {
                    done += n;
                    rest = rest.split_at(n).1;
                    if rest.is_empty() {
                        return Ok(done);
                    }
                }
                Err(SockError::WouldBlock) if nonblock => {
                    return if done > 0 { Ok(done) } else { Err((Errno::EAGAIN, 0)) };
                }
                Err(SockError::WouldBlock) => {
                    net.push(pages, s, false);
                    self.net_wait().map_err(|e| (e, done))?;
                }
                Err(e) => return if done > 0 { Ok(done) } else { Err((sock_errno(e), 0)) },
            }
        }
    }

    /// Queue page pieces by reference (sendmsg with `MSG_SPLICE_PAGES`, or
    /// `MSG_ZEROCOPY`), waiting for room unless `nonblock`; answers the
    /// bytes queued.
    fn sock_send_pages(
        &mut self,
        s: SockId,
        mut pieces: Vec<(PageId, usize, usize)>,
        more: bool,
        zc: Option<u32>,
        nonblock: bool,
    ) -> Result<usize, Errno> {
        let mut done = 0;
        loop {
            let Kernel { net, pages, .. } = self;
            match net.send_pages_zc(pages, s, &pieces, more, zc) {
                Ok(mut n) => {
                    done += n;
                    while n > 0 {
                        let first = &mut pieces[0];
                        let k = n.min(first.2);
                        first.1 += k;
                        first.2 -= k;
                        n -= k;
                        if first.2 == 0 {
                            pieces.remove(0);
                        }
                    }
                    if pieces.is_empty() {
                        return Ok(done);
                    }
                }
                Err(SockError::WouldBlock) if nonblock => return if done > 0 { Ok(done) } else { Err(Errno::EAGAIN) },
                Err(SockError::WouldBlock) => {
                    net.push(pages, s, false);
                    self.net_wait()?;
                }
                Err(e) => return if done > 0 { Ok(done) } else { Err(sock_errno(e)) },
            }
        }
    }

    /// recv(2) with `MSG_WAITALL`: read until `len` bytes arrived, the
    /// peer closed, or an error (which, after some data, returns the data).
    ///
    /// # Errors
    /// `EBADF`, `ENOTSOCK` (not a socket), `ECONNRESET`, `EPIPE`,
    /// `ETIMEDOUT`, [`BLOCKED`].
    pub fn recv(&mut self, pid: Pid, fd: Fd, len: u64, out: &mut Vec<u8>) -> Result<usize, Errno> {
        let n = self.recv_inner(pid, fd, len, out)?;
        self.copied += n as u64;
        Ok(n)
    }

    fn recv_inner(&mut self, pid: Pid, fd: Fd, len: u64, out: &mut Vec<u8>) -> Result<usize, Errno> {
        let file = self.file(pid, fd)?;
        let s = file.socket().ok_or(Errno::ENOTSOCK)?;
        let len = len.min(MAX_RW_COUNT) as usize;
        let mut done = 0;
        while done < len {
            let Kernel { net, pages, .. } = self;
            match net.recv(pages, s, len - done, out) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(SockError::WouldBlock) if file.nonblock => {
                    return if done > 0 { Ok(done) } else { Err(Errno::EAGAIN) };
                }
                Err(SockError::WouldBlock) => self.net_wait()?,
                Err(e) => return if done > 0 { Ok(done) } else { Err(sock_errno(e)) },
            }
        }
        Ok(done)
    }

    /// send(2) of user memory `range` with `flags`: copied into socket
    /// pages, or with `MSG_ZEROCOPY` (and `SO_ZEROCOPY` set) the user's
    /// pages themselves, each such send taking the next completion counter.
    ///
    /// # Errors
    /// `EBADF`, `ENOTSOCK`, `EFAULT` (range outside the mappings), `EPIPE`,
    /// `ECONNRESET`, `EAGAIN`, [`BLOCKED`].
    pub fn send(&mut self, pid: Pid, fd: Fd, range: UserRange, flags: SendFlags) -> Result<usize, Errno> {
        let file = self.file(pid, fd)?;
        let s = file.socket().ok_or(Errno::ENOTSOCK)?;
        let nonblock = flags.nonblock || file.nonblock;
        let len = (range.len as u64).min(MAX_RW_COUNT) as usize;
        self.security().socket_sendmsg(pid, &file, len)?;
        if len == 0 {
            return self.sock_write(s, Source::Slice(&[]), nonblock, flags.more);
        }
        let mapped = self.proc_ref(pid)?.mm.get(&range.buffer).is_some_and(|b| range.start + len <= b.len());
        if !mapped {
            return Err(Errno::EFAULT);
        }
        let zc = if flags.zerocopy { self.net.zerocopy_start(s) } else { None };
        if let Some(id) = zc {
            let Kernel { pages, procs, .. } = self;
            let buf = procs.get_mut(&pid).ok_or(Errno::ESRCH)?.mm.get_mut(&range.buffer).ok_or(Errno::EFAULT)?;
            let pieces: Vec<(PageId, usize, usize)> =
                UserBuffer::pieces(range.start, len).map(|(i, off, n)| (buf.gup_read(pages, i), off, n)).collect();
            let r = self.sock_send_pages(s, pieces, flags.more, Some(id), nonblock);
            self.net.zerocopy_end(s, id);
            return r;
        }
        // Copied a chunk at a time, so a huge send of a buffer that cannot
        // all fit never materialises its bytes at once.
        const CHUNK: usize = 256 << 10;
        let mut done = 0;
        while done < len {
            let n = CHUNK.min(len - done);
            let bytes = self.user_bytes(pid, range.buffer, range.start + done, n)?;
            let more = flags.more || done + n < len;
            match self.sock_write(s, Source::Slice(&bytes), nonblock, more) {
                Ok(k) => {
                    done += k;
                    self.copied += k as u64;
                    if k < n {
                        break;
                    }
                }
                // Waiting forever is not an error that returns the progress.
                Err(e) => return if done > 0 && e != BLOCKED { Ok(done) } else { Err(e) },
            }
        }
        Ok(done)
    }

    /// The bytes of user memory `start..start+len` of `buffer` (untouched
    /// pages read as zero).
    fn user_bytes(&self, pid: Pid, buffer: super::BufferId, start: usize, len: usize) -> Result<Vec<u8>, Errno> {
        let buf = self.proc_ref(pid)?.mm.get(&buffer).ok_or(Errno::EFAULT)?;
        let mut out = Vec::with_capacity(len);
        for (i, off, n) in UserBuffer::pieces(start, len) {
            match buf.pte(i) {
                Pte::Page(p) => self.pages.read_into(p, off, n, &mut out),
                Pte::None | Pte::Zero => out.resize(out.len() + n, 0),
            }
        }
        Ok(out)
    }

    /// `setsockopt(SOL_SOCKET, SO_ZEROCOPY, on)`.
    ///
    /// # Errors
    /// `EBADF`, `ENOTSOCK`.
    pub fn setsockopt_zerocopy(&mut self, pid: Pid, fd: Fd, on: bool) -> Result<usize, Errno> {
        let s = self.file(pid, fd)?.socket().ok_or(Errno::ENOTSOCK)?;
        self.net.set_zerocopy(s, on);
        Ok(0)
    }

    /// `recvmsg(MSG_ERRQUEUE)`: the oldest zerocopy completion.
    ///
    /// # Errors
    /// `EBADF`, `ENOTSOCK`, `EAGAIN` when the error queue is empty (it
    /// never blocks).
    pub fn recv_errqueue(&mut self, pid: Pid, fd: Fd) -> Result<Completion, Errno> {
        let s = self.file(pid, fd)?.socket().ok_or(Errno::ENOTSOCK)?;
        self.net.pop_completion(s).ok_or(Errno::EAGAIN)
    }

    /// splice(2) from pipe `id` into socket `s` (`splice_to_socket`): wait
    /// for pipe data unless some moved already, hand the pipe's pages to the
    /// socket (it takes a reference to each, the pipe drops its own), and
    /// go on while `len` and the pipe last.
    pub(crate) fn splice_pipe_to_socket(
        &mut self,
        id: PipeId,
        s: SockId,
        len: usize,
        pipe_nonblock: bool,
        sock_nonblock: bool,
        more: bool,
    ) -> Result<usize, Errno> {
        let mut left = len;
        let mut spliced = 0;
        while left > 0 {
            let pipe = &self.pipes[&id];
            if pipe.is_empty() {
                if pipe.writers == 0 || spliced > 0 {
                    break;
                }
                return Err(if pipe_nonblock { Errno::EAGAIN } else { BLOCKED });
            }
            let mut pieces = Vec::new();
            let mut remain = left;
            let mut taken = 0;
            for buf in pipe.buffers() {
                let n = (buf.len as usize).min(remain);
                pieces.push((buf.page, buf.offset as usize, n));
                remain -= n;
                taken += 1;
                if remain == 0 || pieces.len() >= SPLICE_BVECS {
                    break;
                }
            }
            let more = more || (remain > 0 && pipe.occupancy() as usize > taken);
            let offered: usize = pieces.iter().map(|p| p.2).sum();
            let r = self.sock_send_pages(s, pieces, more, None, sock_nonblock);
            let n = match r {
                Ok(n) => n,
                Err(e) => return if spliced > 0 && e != BLOCKED { Ok(spliced) } else { Err(e) },
            };
            let Kernel { pipes, pages, .. } = self;
            let consumed = pipes.get_mut(&id).expect("pipe").read_with(pages, n, true, |_, _, _, _| {});
            debug_assert_eq!(consumed, Ok(n));
            spliced += n;
            left -= n;
            if n < offered {
                break;
            }
        }
        Ok(spliced)
    }

    /// splice(2) from socket `s` into pipe `id` (`tcp_splice_read`): the
    /// pipe gets references to the received page fragments themselves
    /// (loopback), or fresh pages holding the bytes that crossed a link.
    pub(crate) fn splice_socket_to_pipe(
        &mut self,
        s: SockId,
        id: PipeId,
        len: usize,
        nonblock: bool,
    ) -> Result<usize, Errno> {
        self.pipes[&id].wait_for_space(nonblock).map_err(pipe_errno)?;
        if len == 0 {
            return Ok(0);
        }
        let len = len.min(MAX_RW_COUNT as usize);
        loop {
            let Kernel { net, pages, pipes, .. } = self;
            let pipe = pipes.get_mut(&id).expect("pipe");
            let r = net.splice_read(pages, s, len, |pages, piece| match piece {
                Piece::Page { page, off, len } => {
                    pipe.add_page(pages, page, off, len, BufFlags::NONE, BufOrigin::Anon).unwrap_or(0)
                }
                Piece::Bytes(_) | Piece::Fill { .. } => {
                    let total = match piece {
                        Piece::Bytes(b) => b.len(),
                        Piece::Fill { len, .. } => len,
                        Piece::Page { .. } => 0,
                    };
                    let mut took = 0;
                    while took < total && !pipe.is_full() {
                        let n = (total - took).min(PAGE_SIZE);
                        let page = pages.alloc(Holder::KERNEL);
                        let src = match piece {
                            Piece::Bytes(b) => Source::Slice(&b[took..took + n]),
                            Piece::Fill { byte, .. } => Source::Fill { byte, len: n },
                            Piece::Page { .. } => Source::Fill { byte: 0, len: 0 },
                        };
                        pages.write(page, 0, src);
                        let added = pipe.add_page(pages, page, 0, n, BufFlags::NONE, BufOrigin::Anon).unwrap_or(0);
                        pages.put(page, Holder::KERNEL);
                        took += added;
                        if added == 0 {
                            break;
                        }
                    }
                    took
                }
            });
            match r {
                Ok(n) => return Ok(n),
                Err(SockError::WouldBlock) if nonblock => return Err(Errno::EAGAIN),
                Err(SockError::WouldBlock) => self.net_wait()?,
                Err(e) => return Err(sock_errno(e)),
            }
        }
    }

    /// sendfile(2) from file `ino` at `pos` to socket `s`
    /// (`splice_direct_to_actor` through an internal pipe of 16 pages):
    /// page-cache pages go into the socket by reference, chunk by chunk,
    /// until `count`, the end of the file, or a full socket when
    /// nonblocking.
    pub(crate) fn sendfile_to_socket(
        &mut self,
        ino: InodeId,
        pos: u64,
        s: SockId,
        count: usize,
        nonblock: bool,
    ) -> Result<usize, Errno> {
        const CHUNK_PAGES: usize = 16;
        let mut total = 0usize;
        while total < count {
            let at = pos + total as u64;
            let Kernel { inodes, pages, .. } = self;
            let inode = inodes.get_mut(&ino).expect("inode");
            if at >= inode.size {
                break;
            }
            let chunk = ((count - total) as u64).min(inode.size - at).min((CHUNK_PAGES * PAGE_SIZE) as u64) as usize;
            let mut pieces = Vec::new();
            let mut done = 0;
            while done < chunk {
                let p = at + done as u64;
                let (index, off) = (p / PAGE_SIZE as u64, (p % PAGE_SIZE as u64) as usize);
                let n = (chunk - done).min(PAGE_SIZE - off);
                pieces.push((inode.page_for_read(pages, index), off, n));
                done += n;
            }
            let more = total + chunk < count && at + (chunk as u64) < inode.size;
            match self.sock_send_pages(s, pieces, more, None, nonblock) {
                Ok(n) => {
                    total += n;
                    if n < chunk {
                        break;
                    }
                }
                Err(e) => return if total > 0 && e != BLOCKED { Ok(total) } else { Err(e) },
            }
        }
        Ok(total)
    }
}
