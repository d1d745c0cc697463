//! User memory for the host backend: scenario buffers, read scratch space
//! and the source bytes of `write`/`pwrite`, all `mmap`ed.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::kernel::Errno;

/// The page size the contract assumes.
pub(super) const PAGE: usize = 4096;

/// A private anonymous mapping, unmapped on drop.
///
/// The address is kept as an integer so the backend owning it stays `Send`
/// (the mapping belongs to the process, not to a thread).
#[derive(Debug)]
pub(super) struct Mapping {
    addr: usize,
    len: usize,
}

impl Mapping {
    /// `mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
    /// [|MAP_NORESERVE])`. `len` must not be 0.
    pub(super) fn anonymous(len: usize, noreserve: bool) -> Result<Self, Errno> {
        let mut flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        if noreserve {
            flags |= libc::MAP_NORESERVE;
        }
        Self::map(len, libc::PROT_READ | libc::PROT_WRITE, flags)
    }

    fn map(len: usize, prot: libc::c_int, flags: libc::c_int) -> Result<Self, Errno> {
        // SAFETY: a fresh anonymous mapping at an address the kernel
        // chooses cannot alias any Rust object.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, -1, 0) };
        if p == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        Ok(Mapping { addr: p as usize, len })
    }

    /// The first byte.
    pub(super) fn ptr(&self) -> *mut u8 {
        self.addr as *mut u8
    }

    /// Length in bytes.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Store `byte` into `[start, end)`; `None` if that is not inside the
    /// mapping.
    pub(super) fn fill(&mut self, start: usize, end: usize, byte: u8) -> Option<()> {
        if start > end || end > self.len {
            return None;
        }
        // SAFETY: [start, end) lies inside this read-write mapping, which
        // no Rust reference points into.
        unsafe { std::ptr::write_bytes(self.ptr().add(start), byte, end - start) };
        Some(())
    }

    /// A copy of the first `n` bytes (`n <= len`), or `None` if the host
    /// cannot allocate it.
    pub(super) fn copy_prefix(&self, n: usize) -> Option<Vec<u8>> {
        let n = n.min(self.len);
        let mut v = Vec::new();
        v.try_reserve_exact(n).ok()?;
        // SAFETY: the first n bytes of the mapping are readable and were
        // written by the kernel (or are zero pages); no Rust reference
        // aliases them mutably.
        v.extend_from_slice(unsafe { std::slice::from_raw_parts(self.ptr(), n) });
        Some(v)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: [addr, addr+len) is exactly the region this value mapped
        // and nothing else refers to it any more.
        unsafe { libc::munmap(self.addr as *mut libc::c_void, self.len) };
    }
}

/// Read-only memory holding `len` bytes of `byte`: the source of `write`
/// and `pwrite`.
///
/// A write may be up to `MAX_RW_COUNT` (almost 2 GiB) long. Rather than
/// touching that much memory, a source longer than [`TILE`] is a `TILE`-byte
/// memfd filled once with the byte and mapped again and again (shared,
/// read-only) over a reserved region: the kernel copies the same bytes, at a
/// cost of `TILE` bytes of memory and `len / TILE` mappings (2048 at most).
/// A zero byte needs nothing at all: untouched anonymous pages read as zero.
#[derive(Debug)]
pub(super) struct Source {
    byte: u8,
    region: Mapping,
}

/// The tile size of a long [`Source`].
const TILE: usize = 1 << 20;

impl Source {
    /// Source bytes for at least `len > 0` bytes of `byte`.
    pub(super) fn new(byte: u8, len: usize) -> Result<Self, Errno> {
        let len = len.checked_next_multiple_of(PAGE).ok_or(Errno::ENOMEM)?;
        if byte == 0 {
            let region = Mapping::anonymous(len, true)?;
            return Ok(Source { byte, region });
        }
        if len <= TILE {
            let mut region = Mapping::anonymous(len, false)?;
            let _ = region.fill(0, len, byte);
            return Ok(Source { byte, region });
        }
        let tiles = len.div_ceil(TILE);
        let total = tiles.checked_mul(TILE).ok_or(Errno::ENOMEM)?;
        // SAFETY: the name is a NUL-terminated string literal.
        let raw = unsafe { libc::memfd_create(c"kmodel-source".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(Errno::last());
        }
        // SAFETY: raw is a descriptor memfd_create just returned to us.
        let memfd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: ftruncate on our own memfd.
        if unsafe { libc::ftruncate(memfd.as_raw_fd(), TILE as libc::off_t) } != 0 {
            return Err(Errno::last());
        }
        {
            // SAFETY: a fresh shared mapping of our memfd, at an address the
            // kernel chooses.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    TILE,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    memfd.as_raw_fd(),
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(Errno::last());
            }
            let tile = Mapping { addr: p as usize, len: TILE };
            // SAFETY: the tile is TILE writable bytes; unmapped when `tile`
            // drops at the end of this block.
            unsafe { std::ptr::write_bytes(tile.ptr(), byte, TILE) };
        }
        // Reserve the whole region, then map the tile over every TILE
        // bytes of it; dropping `region` unmaps all the tiles at once.
        let region =
            Mapping::map(total, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE)?;
        for i in 0..tiles {
            // SAFETY: MAP_FIXED replaces part of our own PROT_NONE
            // reservation (inside [region, region+total)), which no Rust
            // object refers to.
            let p = unsafe {
                libc::mmap(
                    region.ptr().add(i * TILE).cast(),
                    TILE,
                    libc::PROT_READ,
                    libc::MAP_SHARED | libc::MAP_FIXED,
                    memfd.as_raw_fd(),
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(Errno::last());
            }
        }
        Ok(Source { byte, region })
    }

    /// Whether this source can serve `len` bytes of `byte`.
    pub(super) fn serves(&self, byte: u8, len: usize) -> bool {
        self.byte == byte && self.region.len() >= len
    }

    /// The first source byte.
    pub(super) fn ptr(&self) -> *const u8 {
        self.region.ptr()
    }
}
