//! The kernel: processes, descriptors, files, memory and syscalls.

mod errno;

pub use errno::{Errno, MAX_RW_COUNT};
