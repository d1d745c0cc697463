//! Error numbers: Linux's own, by name.

/// Linux's errno values with their real names (`Errno::EAGAIN`), the error
/// half of every syscall's `Result<usize, Errno>`.
///
/// This is nix's enum: the same type names the model's answers and the host
/// kernel's, so the two backends can be compared without a mapping table.
pub use nix::errno::Errno;

/// `MAX_RW_COUNT`: the most one read or write moves (`INT_MAX & PAGE_MASK`).
pub const MAX_RW_COUNT: u64 = (i32::MAX as u64) & !(page_refs::PAGE_SIZE as u64 - 1);
