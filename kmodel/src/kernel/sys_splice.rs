//! vmsplice, splice, tee and sendfile (fs/splice.c, fs/read_write.c).

use page_refs::{Holder, PAGE_SIZE};
use pipe_buffer::{BufFlags, BufOrigin, PIPE_DEF_BUFFERS};

use super::file::{Fd, File, FileKind, PipeId};
use super::inode::InodeId;
use super::mm::{UserBuffer, UserRange};
use super::pipe_ops::{splice_pipes, tee_pipes};
use super::{Errno, Kernel, MAX_RW_COUNT, Pid, pipe_errno, verify_area};
use crate::vfs::Mask;

/// `UIO_MAXIOV`: the most iovecs one call takes.
const UIO_MAXIOV: usize = 1024;

/// The `SPLICE_F_*` flags.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SpliceFlags {
    /// `SPLICE_F_MOVE`: accepted, does nothing (as in Linux).
    pub mov: bool,
    /// `SPLICE_F_NONBLOCK`: do not wait on the pipe.
    pub nonblock: bool,
    /// `SPLICE_F_MORE`: more data follows (a hint for sockets).
    pub more: bool,
    /// `SPLICE_F_GIFT`: vmsplice gives the pages away.
    pub gift: bool,
}

impl Kernel {
    /// vmsplice(2): on a pipe's write end, add a reference to each user
    /// page piece of `iov` (one slot per piece, never merged); on a read
    /// end, copy from the pipe into user memory.
    ///
    /// # Errors
    /// `EBADF` (closed, or not a pipe), `EINVAL` (too many iovecs),
    /// `EPIPE`, `EAGAIN`, [`super::BLOCKED`].
    pub fn vmsplice(&mut self, pid: Pid, fd: Fd, iov: &[UserRange], flags: SpliceFlags) -> Result<usize, Errno> {
        let file = self.file(pid, fd)?;
        if !file.writable && !file.readable {
            return Err(Errno::EBADF);
        }
        if iov.len() > UIO_MAXIOV {
            return Err(Errno::EINVAL);
        }
        // import_iovec: a non-empty iovec outside the user's mappings faults.
        let mm = &self.proc_ref(pid)?.mm;
        for r in iov {
            let mapped = mm.get(&r.buffer).is_some_and(|b| r.start.checked_add(r.len).is_some_and(|e| e <= b.len()));
            if r.len > 0 && !mapped {
                return Err(Errno::EFAULT);
            }
        }
        // import_iovec: the total is capped at MAX_RW_COUNT. Only an iovec
        // array that reaches the cap needs a capped copy.
        let sum = iov.iter().try_fold(0u64, |t, r| t.checked_add(r.len as u64).filter(|&t| t <= MAX_RW_COUNT));
        let capped: Vec<UserRange>;
        let ranges: &[UserRange] = match sum {
            Some(0) => return Ok(0),
            Some(_) => iov,
            None => {
                let mut total = 0u64;
                capped = iov
                    .iter()
                    .map(|r| {
                        let len = (r.len as u64).min(MAX_RW_COUNT - total);
                        total += len;
                        UserRange { len: len as usize, ..*r }
                    })
                    .collect();
                &capped
            }
        };
        let id = file.pipe().ok_or(Errno::EBADF)?;
        let n = if file.writable {
            self.vmsplice_to_pipe(pid, id, ranges, flags)?
        } else {
            let n = self.vmsplice_to_user(pid, id, ranges, flags)?;
            self.copied += n as u64;
            n
        };
        Ok(n)
    }

    fn vmsplice_to_pipe(
        &mut self,
        pid: Pid,
        id: PipeId,
        iov: &[UserRange],
        flags: SpliceFlags,
    ) -> Result<usize, Errno> {
        let copy = self.config.variant == super::KernelVariant::Copy;
        let Kernel { pipes, pages, procs, copied, .. } = self;
        let pipe = pipes.get_mut(&id).expect("open pipe end without pipe");
        pipe.wait_for_space(flags.nonblock).map_err(pipe_errno)?;
        let mm = &mut procs.get_mut(&pid).ok_or(Errno::ESRCH)?.mm;
        let buf_flags = if flags.gift && !copy { BufFlags::GIFT } else { BufFlags::NONE };
        let mut total = 0usize;
        for r in iov {
            let buf = mm.get_mut(&r.buffer).ok_or(Errno::EFAULT)?;
            for (index, offset, len) in UserBuffer::pieces(r.start, r.len) {
                let user_page = buf.gup_read(pages, index);
                let added = if copy {
                    // The copy variant: a page of the kernel's own with a copy
                    // of the user's bytes; the pipe's reference is its only one.
                    let page = pages.alloc_copy(user_page, Holder::KERNEL);
                    let added = pipe.add_page(pages, page, offset, len, buf_flags, BufOrigin::Anon);
                    pages.put(page, Holder::KERNEL);
                    if let Ok(n) = added {
                        *copied += n as u64;
                    }
                    added
                } else {
                    pipe.add_page(pages, user_page, offset, len, buf_flags, BufOrigin::User)
                };
                match added {
                    Ok(n) => total += n,
                    Err(e) => {
                        return if total > 0 { Ok(total) } else { Err(pipe_errno(e)) };
                    }
                }
            }
        }
        Ok(total)
    }

    fn vmsplice_to_user(
        &mut self,
        pid: Pid,
        id: PipeId,
        iov: &[UserRange],
        flags: SpliceFlags,
    ) -> Result<usize, Errno> {
        let total: usize = iov.iter().map(|r| r.len).sum();
        let Kernel { pipes, pages, procs, .. } = self;
        let pipe = pipes.get_mut(&id).expect("open pipe end without pipe");
        let mm = &mut procs.get_mut(&pid).ok_or(Errno::ESRCH)?.mm;
        // The iovec cursor: which range, and how far into it.
        let (mut seg, mut seg_off) = (0usize, 0usize);
        pipe.read_with(pages, total, flags.nonblock, |pages, page, offset, len| {
            let mut done = 0;
            while done < len {
                while iov[seg].len == seg_off {
                    seg += 1;
                    seg_off = 0;
                }
                let r = iov[seg];
                let n = (len - done).min(r.len - seg_off);
                let buf = mm.get_mut(&r.buffer).expect("iovecs were checked at import");
                buf.copy_from_page(pages, r.start + seg_off, page, offset + done, n);
                done += n;
                seg_off += n;
            }
        })
        .map_err(pipe_errno)
    }

    /// splice(2) of up to `len` bytes from `fd_in` to `fd_out`, one of
    /// which must be a pipe. `off_in` / `off_out` are the `loff_t *`
    /// arguments: used instead of the file position, and updated.
    ///
    /// # Errors
    /// `EBADF`, `ESPIPE` (an offset on a pipe), `EINVAL` (same pipe, no
    /// pipe, offset overflow), `EPIPE`, `EAGAIN`, [`super::BLOCKED`].
    #[allow(clippy::too_many_arguments)] // splice(2)'s six arguments, plus the caller
    pub fn splice(
        &mut self,
        pid: Pid,
        fd_in: Fd,
        off_in: Option<&mut u64>,
        fd_out: Fd,
        off_out: Option<&mut u64>,
        len: u64,
        flags: SpliceFlags,
    ) -> Result<usize, Errno> {
        let (input, output, len) =
            match self.splice_prep(pid, fd_in, off_in.is_some(), fd_out, off_out.is_some(), len, flags)? {
                SpliceRoute::Zero => return Ok(0),
                SpliceRoute::Pipes { i, o, len, nonblock } => {
                    let (ip, op, pages) = self.two_pipes(i, o);
                    return splice_pipes(ip, op, pages, len, nonblock);
                }
                SpliceRoute::Other { input, output, len } => (input, output, len),
            };
        match (input.pipe(), output.pipe()) {
            (Some(i), None) => {
                if let FileKind::Socket(s) = output.kind {
                    if off_out.is_some() {
                        return Err(Errno::EINVAL);
                    }
                    let pipe_nonblock = flags.nonblock || input.nonblock;
                    let sock_nonblock = flags.nonblock || output.nonblock;
                    // splice_to_socket sends through sock_sendmsg.
                    self.security().socket_sendmsg(pid, &output, len)?;
                    return self.splice_pipe_to_socket(i, s, len, pipe_nonblock, sock_nonblock, flags.more);
                }
                let FileKind::Regular(ino) = output.kind else { unreachable!("not a pipe nor a socket: regular") };
                let pos = off_out.as_deref().copied().unwrap_or(output.pos);
                verify_area(pos, len as u64)?;
                self.security().file_permission(pid, &output, Mask::WRITE)?;
                let nonblock = flags.nonblock || input.nonblock;
                let Kernel { pipes, pages, inodes, .. } = self;
                let inode = inodes.get_mut(&ino).expect("inode");
                let mut at = pos;
                let n = pipes
                    .get_mut(&i)
                    .expect("pipe")
                    .read_with(pages, len, nonblock, |pages, page, offset, n| {
                        inode.copy_from_page(pages, at, page, offset, n);
                        at += n as u64;
                    })
                    .map_err(pipe_errno)?;
                self.copied += n as u64;
                self.advance(pid, fd_out, off_out, pos, n)?;
                Ok(n)
            }
            (None, Some(o)) => {
                if let FileKind::Socket(s) = input.kind {
                    if off_in.is_some() {
                        return Err(Errno::EINVAL);
                    }
                    let nonblock = flags.nonblock || input.nonblock || output.nonblock;
                    return self.splice_socket_to_pipe(s, o, len, nonblock);
                }
                let pos = off_in.as_deref().copied().unwrap_or(input.pos);
                verify_area(pos, len as u64)?;
                self.security().file_permission(pid, &input, Mask::READ)?;
                // A directory has no splice_read.
                let ino = regular(&input)?;
                let nonblock = flags.nonblock || output.nonblock;
                let n = self.splice_file_to_pipe(ino, pos, o, len, nonblock)?;
                self.advance(pid, fd_in, off_in, pos, n)?;
                Ok(n)
            }
            (None, None) => Err(Errno::EINVAL),
            (Some(_), Some(_)) => unreachable!("two pipes are routed by splice_prep"),
        }
    }

    /// splice(2)'s checks up to the point where it knows what it joins:
    /// `fdget` of both ends, offsets on pipes (`ESPIPE`), modes, one pipe
    /// twice (`EINVAL`). `has_off_in` / `has_off_out` say whether the
    /// caller passed offsets.
    #[allow(clippy::too_many_arguments)] // splice(2)'s arguments
    pub(crate) fn splice_prep(
        &mut self,
        pid: Pid,
        fd_in: Fd,
        has_off_in: bool,
        fd_out: Fd,
        has_off_out: bool,
        len: u64,
        flags: SpliceFlags,
    ) -> Result<SpliceRoute, Errno> {
        if len == 0 {
            return Ok(SpliceRoute::Zero);
        }
        let input = self.file(pid, fd_in)?;
        let output = self.file(pid, fd_out)?;
        let (ipipe, opipe) = (input.pipe(), output.pipe());
        if (ipipe.is_some() && has_off_in) || (opipe.is_some() && has_off_out) {
            return Err(Errno::ESPIPE);
        }
        if !input.readable || !output.writable {
            return Err(Errno::EBADF);
        }
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        match (ipipe, opipe) {
            (Some(i), Some(o)) => {
                if i == o {
                    return Err(Errno::EINVAL);
                }
                let nonblock = flags.nonblock || input.nonblock || output.nonblock;
                Ok(SpliceRoute::Pipes { i, o, len, nonblock })
            }
            _ => Ok(SpliceRoute::Other { input, output, len }),
        }
    }

    /// Move the file position (or the caller's offset) past `n` bytes.
    fn advance(&mut self, pid: Pid, fd: Fd, off: Option<&mut u64>, pos: u64, n: usize) -> Result<(), Errno> {
        match off {
            Some(o) => *o = pos + n as u64,
            None => self.file_mut(pid, fd)?.pos = pos + n as u64,
        }
        Ok(())
    }

    /// `splice_file_to_pipe`: wait for room, then put references to the
    /// file's page-cache pages into the pipe (`shmem_file_splice_read`: a
    /// hole goes in as the zero page), one slot per page piece, up to the
    /// room left, `len` and the end of the file.
    fn splice_file_to_pipe(
        &mut self,
        ino: InodeId,
        pos: u64,
        id: PipeId,
        len: usize,
        nonblock: bool,
    ) -> Result<usize, Errno> {
        let Kernel { pipes, pages, inodes, .. } = self;
        let pipe = pipes.get_mut(&id).expect("pipe");
        let inode = inodes.get_mut(&ino).expect("inode");
        pipe.wait_for_space(nonblock).map_err(pipe_errno)?;
        if len == 0 {
            return Ok(0);
        }
        let room = (pipe.max_usage() - pipe.occupancy()) as usize * PAGE_SIZE;
        let mut len = len.min(room).min(MAX_RW_COUNT as usize);
        let mut pos = pos;
        let mut total = 0usize;
        while len > 0 && pos < inode.size {
            let index = pos / PAGE_SIZE as u64;
            let offset = (pos % PAGE_SIZE as u64) as usize;
            let n = ((inode.size - pos).min(len as u64) as usize).min(PAGE_SIZE - offset);
            let page = inode.page_for_read(pages, index);
            pipe.add_page(pages, page, offset, n, BufFlags::NONE, BufOrigin::PageCache).map_err(pipe_errno)?;
            total += n;
            len -= n;
            pos += n as u64;
            if pipe.is_full() {
                break;
            }
        }
        Ok(total)
    }

    /// tee(2): duplicate up to `len` bytes of pipe `fd_in` into pipe
    /// `fd_out` without consuming them.
    ///
    /// # Errors
    /// `EBADF`, `EINVAL` (not two distinct pipes), `EPIPE`, `EAGAIN`,
    /// [`super::BLOCKED`].
    pub fn tee(&mut self, pid: Pid, fd_in: Fd, fd_out: Fd, len: u64, flags: SpliceFlags) -> Result<usize, Errno> {
        match self.tee_prep(pid, fd_in, fd_out, len, flags)? {
            None => Ok(0),
            Some((i, o, len, nonblock)) => {
                let (ip, op, pages) = self.two_pipes(i, o);
                tee_pipes(ip, op, pages, len, nonblock)
            }
        }
    }

    /// tee(2)'s checks: answers the two pipes, the length and whether not
    /// to wait, or `None` for a zero length.
    pub(crate) fn tee_prep(
        &mut self,
        pid: Pid,
        fd_in: Fd,
        fd_out: Fd,
        len: u64,
        flags: SpliceFlags,
    ) -> Result<Option<(PipeId, PipeId, usize, bool)>, Errno> {
        if len == 0 {
            return Ok(None);
        }
        let input = self.file(pid, fd_in)?;
        let output = self.file(pid, fd_out)?;
        if !input.readable || !output.writable {
            return Err(Errno::EBADF);
        }
        match (input.pipe(), output.pipe()) {
            (Some(i), Some(o)) if i != o => {
                let nonblock = flags.nonblock || input.nonblock || output.nonblock;
                Ok(Some((i, o, usize::try_from(len).unwrap_or(usize::MAX), nonblock)))
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// sendfile(2) of up to `count` bytes from `fd_in` (a regular file) to
    /// `fd_out`: into a pipe by page reference, into a file by copy.
    ///
    /// # Errors
    /// `EBADF`, `ESPIPE` (an offset on a pipe), `EINVAL` (input not a
    /// regular file, offset overflow), `EPIPE`, `EAGAIN`,
    /// [`super::BLOCKED`].
    pub fn sendfile(
        &mut self,
        pid: Pid,
        fd_out: Fd,
        fd_in: Fd,
        offset: Option<&mut u64>,
        count: u64,
    ) -> Result<usize, Errno> {
        let input = self.file(pid, fd_in)?;
        if !input.readable {
            return Err(Errno::EBADF);
        }
        if offset.is_some() && !input.seekable() {
            return Err(Errno::ESPIPE);
        }
        let pos = offset.as_deref().copied().unwrap_or(input.pos);
        verify_area(pos, count)?;
        self.security().file_permission(pid, &input, Mask::READ)?;
        let count = count.min(MAX_RW_COUNT) as usize;
        let output = self.file(pid, fd_out)?;
        if !output.writable {
            return Err(Errno::EBADF);
        }
        let n = match (output.pipe(), output.kind) {
            (Some(o), _) => {
                let nonblock = output.nonblock;
                self.pipes[&o].wait_for_space(nonblock).map_err(pipe_errno)?;
                // vfs_splice_read answers 0 for a zero length before it
                // looks for the input's ->splice_read.
                if count == 0 {
                    return Ok(0);
                }
                if let FileKind::Socket(s) = input.kind {
                    // The socket's splice_read; a socket has no position.
                    return self.splice_socket_to_pipe(s, o, count, nonblock || input.nonblock);
                }
                let ino = regular(&input)?;
                self.splice_file_to_pipe(ino, pos, o, count, nonblock)?
            }
            (None, FileKind::Socket(s)) => {
                let ino = regular(&input)?;
                // do_splice_direct -> splice_to_socket -> sock_sendmsg.
                self.security().socket_sendmsg(pid, &output, count)?;
                if count == 0 { 0 } else { self.sendfile_to_socket(ino, pos, s, count, output.nonblock)? }
            }
            (None, _) => {
                verify_area(output.pos, count as u64)?;
                self.security().file_permission(pid, &output, Mask::WRITE)?;
                let ino = regular(&input)?;
                let out_ino = regular(&output)?;
                let n = self.copy_file_range_locked(ino, pos, out_ino, output.pos, count);
                self.copied += n as u64;
                self.file_mut(pid, fd_out)?.pos += n as u64;
                n
            }
        };
        self.advance(pid, fd_in, offset, pos, n)?;
        Ok(n)
    }
}

impl Kernel {
    /// Copy up to `count` bytes of file `src` at `pos` into file `dst` at
    /// `out_pos`, as `splice_direct_to_actor` does: in rounds, each taking
    /// the source's page pieces from the current position up to a pipe's
    /// worth (16 slots) and the end of the file as it is when the round
    /// starts, then writing them out from the live pages. So a copy of a
    /// file onto its own end reads, in later rounds, what earlier rounds
    /// appended, and a copy within one page runs front to back.
    fn copy_file_range_locked(&mut self, src: InodeId, pos: u64, dst: InodeId, out_pos: u64, count: usize) -> usize {
        let mut total = 0usize;
        while total < count {
            let at = pos + total as u64;
            let size = self.inodes[&src].size;
            if at >= size {
                break;
            }
            let mut left = ((count - total) as u64).min(size - at) as usize;
            let mut round = Vec::with_capacity(PIPE_DEF_BUFFERS as usize);
            let mut p = at;
            while left > 0 && round.len() < PIPE_DEF_BUFFERS as usize {
                let index = p / PAGE_SIZE as u64;
                let offset = (p % PAGE_SIZE as u64) as usize;
                let k = left.min(PAGE_SIZE - offset);
                let Kernel { inodes, pages, .. } = self;
                let page = inodes.get_mut(&src).expect("inode").page_for_read(pages, index);
                round.push((page, offset, k));
                p += k as u64;
                left -= k;
            }
            for (page, offset, k) in round {
                let Kernel { inodes, pages, .. } = self;
                inodes.get_mut(&dst).expect("inode").copy_from_page(pages, out_pos + total as u64, page, offset, k);
                total += k;
            }
        }
        total
    }
}

/// What a splice joins, once its checks passed.
#[derive(Copy, Clone, Debug)]
pub(crate) enum SpliceRoute {
    /// A zero length: nothing to do.
    Zero,
    /// Two pipes (`splice_pipe_to_pipe`): all it needs are their locks.
    Pipes { i: PipeId, o: PipeId, len: usize, nonblock: bool },
    /// A pipe and a file or socket.
    Other { input: File, output: File, len: usize },
}

/// The inode of a regular file; anything else has no `splice_read` and
/// answers `-EINVAL`.
fn regular(file: &File) -> Result<InodeId, Errno> {
    match file.kind {
        FileKind::Regular(ino) => Ok(ino),
        _ => Err(Errno::EINVAL),
    }
}
