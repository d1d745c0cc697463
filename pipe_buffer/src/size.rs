//! Pipe capacity: `F_GETPIPE_SZ` / `F_SETPIPE_SZ` (fs/pipe.c), and the 2006
//! proposal's `F_GETPSZ` / `F_SETPSZ`.

use page_refs::PAGE_SIZE;

use crate::error::PipeError;
use crate::ring::PipeInodeInfo;

/// `sizeof(struct pipe_buffer)` on x86-64: what the slot array costs.
const PIPE_BUFFER_STRUCT_SIZE: u64 = 40;
/// `KMALLOC_MAX_SIZE` on x86-64 (`1 << (MAX_PAGE_ORDER + PAGE_SHIFT)`): a
/// larger slot array cannot be allocated and resizing answers `-ENOMEM`.
const KMALLOC_MAX_SIZE: u64 = 1 << (10 + 12);

/// Who asks for a size, and the system's limit.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SizeLimits {
    /// `/proc/sys/fs/pipe-max-size` (default 1 MiB).
    pub pipe_max_size: u32,
    /// Whether the caller has `CAP_SYS_RESOURCE`, which lifts that limit.
    /// Off by default: an ordinary process, and also root in a container
    /// whose capability set lacks it (as on the machines kmodel is tested
    /// on).
    pub cap_sys_resource: bool,
}

impl Default for SizeLimits {
    fn default() -> Self {
        SizeLimits { pipe_max_size: 1 << 20, cap_sys_resource: false }
    }
}

/// `round_pipe_size`: at least a page, a power of two, 0 above 2^31.
pub fn round_pipe_size(size: u32) -> u32 {
    if size > 1 << 31 {
        0
    } else if (size as usize) < PAGE_SIZE {
        PAGE_SIZE as u32
    } else {
        size.next_power_of_two()
    }
}

impl PipeInodeInfo {
    /// `F_GETPIPE_SZ`: capacity in bytes.
    pub fn get_size(&self) -> usize {
        self.max_usage as usize * PAGE_SIZE
    }

    /// `F_SETPIPE_SZ` with its argument as the kernel sees it (the low 32
    /// bits of the caller's value): rounds up to a power of two pages and
    /// answers the new capacity in bytes (`pipe_set_size`).
    ///
    /// # Errors
    /// [`PipeError::Inval`] above 2^31 bytes, [`PipeError::Perm`] when
    /// growing above `pipe_max_size` without `CAP_SYS_RESOURCE`,
    /// [`PipeError::NoMem`] when the slot array would be too large to
    /// allocate, [`PipeError::Busy`] when more slots are in use than the new
    /// size has.
    pub fn set_size(&mut self, arg: u32, limits: SizeLimits) -> Result<usize, PipeError> {
        let size = round_pipe_size(arg);
        let nr_slots = size / PAGE_SIZE as u32;
        if nr_slots == 0 {
            return Err(PipeError::Inval);
        }
        if nr_slots > self.max_usage && size > limits.pipe_max_size && !limits.cap_sys_resource {
            return Err(PipeError::Perm);
        }
        if u64::from(nr_slots) * PIPE_BUFFER_STRUCT_SIZE > KMALLOC_MAX_SIZE {
            return Err(PipeError::NoMem);
        }
        if nr_slots < self.occupancy() {
            return Err(PipeError::Busy);
        }
        self.resize_ring(nr_slots);
        Ok(self.get_size())
    }

    /// The 2006 patch's `F_GETPSZ`: the most pages the pipe holds.
    pub fn get_psz(&self) -> usize {
        self.max_usage as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use page_refs::{PageArena, Source};

    #[test]
    fn rounds_to_power_of_two_pages() {
        assert_eq!(round_pipe_size(0), 4096);
        assert_eq!(round_pipe_size(1), 4096);
        assert_eq!(round_pipe_size(4097), 8192);
        assert_eq!(round_pipe_size(1 << 31), 1 << 31);
        assert_eq!(round_pipe_size((1 << 31) + 1), 0);
    }

    #[test]
    fn shrinking_below_use_is_ebusy() {
        let mut pages = PageArena::new();
        let mut p = PipeInodeInfo::new(1);
        p.write(&mut pages, Source::Fill { byte: 1, len: 8192 }, true).unwrap();
        assert_eq!(p.set_size(4096, SizeLimits::default()), Err(PipeError::Busy));
        assert_eq!(p.set_size(8192, SizeLimits::default()), Ok(8192));
        assert!(p.is_full());
        assert_eq!(p.read(&mut pages, 8192, true).unwrap().len(), 8192);
        pages.check_teardown().unwrap();
    }

    #[test]
    fn unprivileged_growth_above_max_is_eperm() {
        let mut p = PipeInodeInfo::new(1);
        let user = SizeLimits { cap_sys_resource: false, ..SizeLimits::default() };
        assert_eq!(p.set_size(2 << 20, user), Err(PipeError::Perm));
        assert_eq!(p.set_size(1 << 20, user), Ok(1 << 20));
    }

    #[test]
    fn huge_ring_is_enomem_with_the_capability() {
        let mut p = PipeInodeInfo::new(1);
        let root = SizeLimits { cap_sys_resource: true, ..SizeLimits::default() };
        assert_eq!(p.set_size(1 << 28, root), Ok(1 << 28));
        assert_eq!(p.set_size(1 << 29, root), Err(PipeError::NoMem));
        assert_eq!(p.set_size(1 << 31, root), Err(PipeError::NoMem));
        assert_eq!(p.set_size(1 << 29, SizeLimits::default()), Err(PipeError::Perm));
    }
}
