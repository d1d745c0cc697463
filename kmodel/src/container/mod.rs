//! Containers: virtual environments that share one [`Kernel`], and hosts
//! that migrate them live.
//!
//! OpenVZ's 2006 release grouped processes into *virtual environments*:
//! each has its own PID numbering (its first process is PID 1), its own
//! view of the mounts, its network endpoints, and *beancounters* that
//! limit what it may hold (memory pages, pipe buffers, sockets, open
//! files) and count every refusal. Here:
//!
//! - [`beancounter`]: the counters (`held`, `maxheld`, `limit`, `failcnt`)
//!   and which errno each resource's refusal answers;
//! - [`ve`]: [`Container`], its PID namespace and the kernel's side
//!   (creation, `getpid` inside and outside, charging at the syscalls);
//! - [`world`]: several hosts (each a [`Kernel`]) joined by one simulated
//!   network, the link migration traffic crosses;
//! - [`migrate`]: live migration between two hosts: iterative pre-copy
//!   over soft-dirty pages, post-copy with faults fetched from the source,
//!   and the hybrid; each reports rounds, pages sent, pages fetched on
//!   fault, downtime and total time in simulated time.
//!
//! [`Kernel`]: crate::kernel::Kernel

pub mod beancounter;
pub mod migrate;
pub mod ve;
pub mod world;

pub use beancounter::{BeanCounter, Beancounters, Resource, UNLIMITED};
pub use migrate::{MigrationReport, Strategy};
pub use ve::{Container, VeId};
pub use world::{HostId, World};

#[cfg(test)]
mod tests;
