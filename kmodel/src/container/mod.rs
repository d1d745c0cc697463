//! Containers, checkpoint and restore, and live migration.
//!
//! OpenVZ's 2006 release grouped processes into *virtual environments*:
//! each has its own PID numbering (its first process is PID 1), its own
//! view of the mounts, its network endpoints, and *beancounters* that
//! limit what it may hold (memory pages, pipe buffers, sockets, open
//! files) and count every refusal. It could freeze a container, write
//! everything it owned to a file, and bring it back on the same or another
//! machine, or migrate it live. Its image was the kernel's own structures,
//! dumped field by field, so any change to one of them broke every image:
//! LWN called the code brittle. CRIU (2012 on) answered by saving only what
//! system calls can observe and restoring through (mostly) ordinary system
//! calls, plus a few interfaces made for it (TCP repair mode,
//! `/proc/PID/map_files`).
//!
//! Containers and hosts:
//!
//! - [`beancounter`]: the counters (`held`, `maxheld`, `limit`, `failcnt`)
//!   and which errno each resource's refusal answers;
//! - [`ve`]: [`Container`], its PID namespace and the kernel's side
//!   (creation, `getpid` inside and outside, charging at the syscalls);
//! - [`world`]: several hosts (each a [`Kernel`]) and the paths between
//!   them; one `tcp_sim::Network` shared by hosts (see
//!   `tcp_sim::net::hosts`);
//! - [`migrate`]: live migration between two hosts: iterative pre-copy
//!   over soft-dirty pages, post-copy with faults fetched from the source,
//!   and the hybrid; each reports rounds, pages sent, pages fetched on
//!   fault, downtime and total time in simulated time.
//!
//! Checkpoint and restore, both ways side by side:
//!
//! - [`image`]: the versioned format (header, typed sections, CRC-32 per
//!   section and over the whole, postcard bodies, migrations between format
//!   versions) and its records, which describe observable state (CRIU's
//!   way). `kmodel image show FILE` prints one as JSON.
//! - [`checkpoint()`]: the kernel → records; every page frame stored once,
//!   so sharing (tee, vmsplice, splice from the page cache) survives.
//!   [`checkpoint_bytes`] / [`checkpoint_into`] go straight to bytes,
//!   copying each page once.
//! - [`restore()`]: records → a new kernel, validated in full and checked
//!   against the invariants before it replaces the target (all or nothing),
//!   after a compatibility check that names every mismatch.
//!   [`restore_bytes`] decodes with the page data borrowed from the input.
//! - [`graft()`]: an image of some processes (a container's, from
//!   [`checkpoint_set`]) into a running kernel: fresh ids, remapped
//!   references, sharing kept, virtual pids and beancounters, all or
//!   nothing. Migration's final copy uses [`graft::graft_onto`].
//! - [`internal`]: the other serializer, the model's structs via serde
//!   derives (OpenVZ's way), kept to show why the versioned format is not
//!   built that way.
//!
//! The security modules travel in the `lsm` section (`lsm_image.rs`): the
//! modules in order, their policies as loaded, their labels and counters.
//! What is not saved (a scenario with several hosts, a module registered by
//! a test) answers [`CheckpointError::Unsupported`] naming it rather than
//! writing an image that would restore differently.
//!
//! [`Kernel`]: crate::kernel::Kernel

pub mod beancounter;
mod checkpoint;
pub mod graft;
pub mod image;
pub mod internal;
mod lsm_image;
pub mod migrate;
mod net_image;
mod restore;
pub mod ve;
pub mod world;

pub use beancounter::{BeanCounter, Beancounters, Resource, UNLIMITED};
pub use checkpoint::{CheckpointError, Sharing, checkpoint, checkpoint_bytes, checkpoint_into, sharing};
pub use graft::{ContainerSpec, GraftError, Grafted, checkpoint_set, container_spec, graft};
pub use image::{HostInfo, Image, ImageError, Mismatch};
pub use migrate::{MigrationReport, Strategy};
pub use restore::{RestoreError, RestoreReport, build, build_with, restore, restore_bytes, restore_on};
pub use ve::{Container, VeId};
pub use world::{HostId, World};

#[cfg(test)]
mod tests;
