//! kmodel: a userspace model of Linux's pages, pipes and splice, faithful
//! enough to be checked against the real kernel.
//!
//! The [`kernel::Kernel`] value owns every process, descriptor, pipe, file
//! and page of one simulated machine; its syscalls answer
//! `Result<usize, Errno>` as Linux does. Scenarios (see
//! `shared/spec/scenario-format.md` and the README) drive it one operation
//! at a time through the [`scenario`] runner, which can drive the host
//! kernel ([`linux`]) through the very same steps, so the two can be
//! compared line by line.
//!
//! The [`vfs`] gives files names (dentries, hard links, symlinks, mounts,
//! mount namespaces, chroot, credentials), and [`lsm`] is Linux's security
//! hook table with a pathname module, a label module and a sandbox, so the
//! 2006 argument between AppArmor and SELinux can be run and measured.

pub mod cli;
pub mod container;
pub mod explore;
pub mod kernel;
pub mod linux;
pub mod lsm;
pub mod model;
pub mod quiz;
pub mod render;
pub mod scenario;
pub mod stories;
pub mod sweep;
pub mod vfs;
