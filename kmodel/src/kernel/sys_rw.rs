//! read, write, pwrite, fcntl, close (fs/read_write.c, fs/fcntl.c,
//! fs/open.c).

use page_refs::Source;

use super::file::{Fd, File, FileKind};
use super::pipe_ops::{pipe_read, pipe_write};
use super::{Errno, Kernel, MAX_RW_COUNT, Pid, pipe_errno, verify_area};
use crate::vfs::Mask;

/// The fcntl commands the model knows.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Fcntl {
    /// `F_GETFL`, reduced to `O_NONBLOCK` (answers 1 when set).
    GetNonblock,
    /// `F_SETFL` of `O_NONBLOCK` on or off.
    SetNonblock(bool),
    /// `F_GETPIPE_SZ`.
    GetPipeSz,
    /// `F_SETPIPE_SZ` with the caller's 64-bit argument (the kernel uses
    /// its low 32 bits).
    SetPipeSz(u64),
    /// The 2006 patch's `F_GETPSZ`: the pipe's size in pages.
    GetPsz,
    /// The 2006 patch's `F_SETPSZ`, which always answered `-EINVAL`.
    SetPsz(u64),
}

impl Kernel {
    /// read(2) of at most `len` bytes, appended to `out`; answers the count.
    ///
    /// # Errors
    /// `EBADF` (closed, or not open for reading), `EINVAL` (position
    /// overflow), `EAGAIN`, [`super::BLOCKED`].
    pub fn read(&mut self, pid: Pid, fd: Fd, len: u64, out: &mut Vec<u8>) -> Result<usize, Errno> {
        let (file, len) = self.read_prep(pid, fd, len)?;
        match file.kind {
            FileKind::Directory(_) => Err(Errno::EISDIR),
            FileKind::PipeRead(id) | FileKind::PipeWrite(id) => {
                let Kernel { pipes, pages, .. } = self;
                let pipe = pipes.get_mut(&id).expect("open pipe end without pipe");
                let n = pipe_read(pipe, pages, len, file.nonblock, out)?;
                self.copied += n as u64;
                Ok(n)
            }
            FileKind::Regular(ino) => {
                let n = self.inodes[&ino].read_at(&self.pages, file.pos, len, out);
                self.file_mut(pid, fd)?.pos += n as u64;
                self.copied += n as u64;
                Ok(n)
            }
            FileKind::Socket(s) => {
                let n = self.sock_read(s, len, file.nonblock, out)?;
                self.copied += n as u64;
                Ok(n)
            }
        }
    }

    /// read(2)'s checks before it looks at the file's contents (`fdget`,
    /// `FMODE_READ`, the `MAX_RW_COUNT` cap, `rw_verify_area`,
    /// `security_file_permission`): answers the open file and the length.
    pub(crate) fn read_prep(&mut self, pid: Pid, fd: Fd, len: u64) -> Result<(File, usize), Errno> {
        let file = self.file(pid, fd)?;
        if !file.readable {
            return Err(Errno::EBADF);
        }
        let len = len.min(MAX_RW_COUNT) as usize;
        if file.seekable() {
            verify_area(file.pos, len as u64)?;
        }
        self.security().file_permission(pid, &file, Mask::READ)?;
        Ok((file, len))
    }

    /// write(2) of `src`; answers the count.
    ///
    /// # Errors
    /// `EBADF`, `EINVAL`, `EPIPE`, `EAGAIN`, [`super::BLOCKED`].
    pub fn write(&mut self, pid: Pid, fd: Fd, src: Source<'_>) -> Result<usize, Errno> {
        self.write_progress(pid, fd, src).map_err(|(e, _)| e)
    }

    /// [`write`](Self::write), also telling how many bytes went in before
    /// an error: a blocking write into a pipe fills what room there is and
    /// then sleeps, so when it answers [`super::BLOCKED`] those bytes are
    /// already in the pipe and a waker resumes it with the rest
    /// (`pipe_write` after `wait_event`).
    ///
    /// # Errors
    /// As [`write`](Self::write), with the bytes written before it.
    pub fn write_progress(&mut self, pid: Pid, fd: Fd, src: Source<'_>) -> Result<usize, (Errno, usize)> {
        let r = self.write_progress_inner(pid, fd, src);
        self.copied += match r {
            Ok(n) | Err((_, n)) => n as u64,
        };
        r
    }

    fn write_progress_inner(&mut self, pid: Pid, fd: Fd, src: Source<'_>) -> Result<usize, (Errno, usize)> {
        let src = cap(src);
        let file = self.write_prep(pid, fd, src.len()).map_err(|e| (e, 0))?;
        match file.kind {
            FileKind::PipeRead(id) | FileKind::PipeWrite(id) => {
                let Kernel { pipes, pages, .. } = self;
                let pipe = pipes.get_mut(&id).expect("open pipe end without pipe");
                pipe_write(pipe, pages, src, file.nonblock)
            }
            FileKind::Directory(_) => unreachable!("directories are never open for writing"),
            FileKind::Regular(ino) => {
                let Kernel { inodes, pages, .. } = self;
                let n = inodes.get_mut(&ino).expect("open file without inode").write_at(pages, file.pos, src);
                self.file_mut(pid, fd).map_err(|e| (e, 0))?.pos += n as u64;
                Ok(n)
            }
            FileKind::Socket(s) => {
                self.security().socket_sendmsg(pid, &file, src.len()).map_err(|e| (e, 0))?;
                self.sock_write_progress(s, src, file.nonblock, false)
            }
        }
    }

    /// write(2)'s checks before it touches the file (`fdget`,
    /// `FMODE_WRITE`, `rw_verify_area`, `security_file_permission`) for a
    /// write of `len` bytes (already capped at `MAX_RW_COUNT`).
    pub(crate) fn write_prep(&mut self, pid: Pid, fd: Fd, len: usize) -> Result<File, Errno> {
        let file = self.file(pid, fd)?;
        if !file.writable {
            return Err(Errno::EBADF);
        }
        if file.seekable() {
            verify_area(file.pos, len as u64)?;
        }
        self.security().file_permission(pid, &file, Mask::WRITE)?;
        Ok(file)
    }

    /// pwrite(2) of `src` at `offset`; the file position does not move.
    ///
    /// # Errors
    /// `EINVAL` (negative or overflowing offset), `EBADF`, `ESPIPE` (not
    /// seekable: pipes).
    pub fn pwrite(&mut self, pid: Pid, fd: Fd, src: Source<'_>, offset: u64) -> Result<usize, Errno> {
        if offset > i64::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        let file = self.file(pid, fd)?;
        if !file.seekable() {
            return Err(Errno::ESPIPE);
        }
        if !file.writable {
            return Err(Errno::EBADF);
        }
        verify_area(offset, src.len() as u64)?;
        self.security().file_permission(pid, &file, Mask::WRITE)?;
        let src = cap(src);
        let FileKind::Regular(ino) = file.kind else { unreachable!("writable seekable files are regular") };
        let Kernel { inodes, pages, .. } = self;
        let n = inodes.get_mut(&ino).expect("open file without inode").write_at(pages, offset, src);
        self.copied += n as u64;
        Ok(n)
    }

    /// fcntl(2).
    ///
    /// # Errors
    /// `EBADF` (closed, or a pipe command on a non-pipe), and what
    /// [`pipe_buffer::PipeInodeInfo::set_size`] answers.
    pub fn fcntl(&mut self, pid: Pid, fd: Fd, cmd: Fcntl) -> Result<usize, Errno> {
        let file = self.file(pid, fd)?;
        self.security().file_fcntl(pid, &file)?;
        match cmd {
            Fcntl::GetNonblock => return Ok(usize::from(file.nonblock)),
            Fcntl::SetNonblock(on) => {
                self.file_mut(pid, fd)?.nonblock = on;
                return Ok(0);
            }
            _ => {}
        }
        // The 2006 kernel had neither F_GETPIPE_SZ nor F_SETPIPE_SZ (Linux
        // 2.6.35): fcntl's default case, -EINVAL, before any look at the file.
        // The 2006 patch answered its two commands in do_fcntl, for any
        // open descriptor: F_GETPSZ with the constant PIPE_BUFFERS (pipes
        // could not be resized), F_SETPSZ with -EINVAL.
        let y2006 = self.config.variant == super::KernelVariant::Y2006;
        match cmd {
            Fcntl::GetPipeSz | Fcntl::SetPipeSz(_) | Fcntl::SetPsz(_) if y2006 => return Err(Errno::EINVAL),
            Fcntl::GetPsz if y2006 => return Ok(pipe_buffer::PIPE_DEF_BUFFERS as usize),
            _ => {}
        }
        let id = file.pipe().ok_or(Errno::EBADF)?;
        if let Fcntl::SetPipeSz(n) = cmd {
            // pipe_set_size: growth over pipe-user-pages-hard is EPERM.
            let slots = (pipe_buffer::round_pipe_size(n as u32) / page_refs::PAGE_SIZE as u32) as u64;
            let now = self.pipes.get(&id).map_or(0, |p| u64::from(p.ring_size()));
            if slots > now && self.ub_over(pid, crate::container::Resource::Pipes, slots - now) {
                self.ub_fail(pid, crate::container::Resource::Pipes);
                return Err(Errno::EPERM);
            }
        }
        let limits = self.config.pipe_limits;
        let pipe = self.pipes.get_mut(&id).expect("open pipe end without pipe");
        match cmd {
            Fcntl::GetPipeSz => Ok(pipe.get_size()),
            Fcntl::SetPipeSz(n) => pipe.set_size(n as u32, limits).map_err(pipe_errno),
            Fcntl::GetPsz => Ok(pipe.get_psz()),
            Fcntl::SetPsz(_) => Err(Errno::EINVAL),
            Fcntl::GetNonblock | Fcntl::SetNonblock(_) => unreachable!("handled above"),
        }
    }

    /// Hand descriptor `fd` of process `from` to process `to` and close it
    /// in `from` (`sendmsg(SCM_RIGHTS)` then `close`): `to` gets the
    /// lowest free number for the same open file.
    ///
    /// # Errors
    /// `EBADF`, `ESRCH`, or `EMFILE` over `to`'s container's `files`
    /// limit (`scm_detach_fds` → `get_unused_fd_flags`).
    pub fn pass_fd(&mut self, from: Pid, fd: Fd, to: Pid) -> Result<Fd, Errno> {
        let file = self.file(from, fd)?;
        self.proc_ref(to)?;
        self.ub_charge(to, &[(crate::container::Resource::Files, 1)])?;
        self.proc_mut(from)?.fds.remove(fd);
        let new = self.proc_mut(to)?.fds.install(file);
        for pid in [from, to] {
            if let Some(ve) = self.ve_of(pid) {
                self.ub_refresh(ve);
            }
        }
        Ok(new)
    }

    /// close(2). Closing a pipe's last reader or writer changes what the
    /// other side sees (EPIPE, end of file); closing both frees the pipe and
    /// drops its page references.
    ///
    /// # Errors
    /// `EBADF`.
    pub fn close(&mut self, pid: Pid, fd: Fd) -> Result<usize, Errno> {
        let file = self.proc_mut(pid)?.fds.remove(fd).ok_or(Errno::EBADF)?;
        // The endpoint closes with its last descriptor (a forked copy
        // keeps it open, as the file's reference count does in Linux).
        if let Some(s) = file.socket()
            && !self.procs.values().any(|p| p.fds.iter().any(|(_, f)| f.socket() == Some(s)))
        {
            let Kernel { net, pages, .. } = self;
            net.close(pages, s);
        }
        if let Some(id) = file.pipe() {
            let pipe = self.pipes.get_mut(&id).expect("open pipe end without pipe");
            match file.kind {
                FileKind::PipeRead(_) => pipe.readers -= 1,
                _ => pipe.writers -= 1,
            }
            if pipe.readers == 0 && pipe.writers == 0 {
                let mut pipe = self.pipes.remove(&id).expect("just looked up");
                pipe.release_all(&mut self.pages);
            }
        }
        if let Some(op) = file.path {
            // The last descriptor of this open file (a fork shares it).
            let shared = self.procs.values().any(|p| p.fds.iter().any(|(_, f)| f.path.is_some_and(|o| o.id == op.id)));
            if !shared {
                self.lsm.file_free(&file);
                self.path_put(op.path);
            }
        }
        Ok(0)
    }
}

/// A read or write moves at most [`MAX_RW_COUNT`] bytes.
pub(crate) fn cap(src: Source<'_>) -> Source<'_> {
    if src.len() as u64 > MAX_RW_COUNT { src.split_at(MAX_RW_COUNT as usize).0 } else { src }
}
