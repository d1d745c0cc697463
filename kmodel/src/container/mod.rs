//! Containers, checkpoint and restore.
//!
//! OpenVZ's 2006 release could freeze a container, write everything it
//! owned to a file, and bring it back on the same or another machine. Its
//! image was the kernel's own structures, dumped field by field, so any
//! change to one of them broke every image: LWN called the code brittle.
//! CRIU (2012 on) answered by saving only what system calls can observe
//! and restoring through (mostly) ordinary system calls, plus a few
//! interfaces made for it (TCP repair mode, `/proc/PID/map_files`).
//!
//! This folder gives the model both, side by side:
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
//! - [`internal`]: the other serializer, the model's structs via serde
//!   derives (OpenVZ's way), kept to show why the versioned format is not
//!   built that way.
//!
//! What is not saved yet: TCP endpoints (and the network's packets,
//! timers and generators) and registered security modules; a checkpoint
//! that would need them answers [`CheckpointError::Unsupported`] naming
//! them rather than writing an image that would restore differently.

mod checkpoint;
pub mod image;
pub mod internal;
mod restore;

pub use checkpoint::{CheckpointError, Sharing, checkpoint, checkpoint_bytes, checkpoint_into, sharing};
pub use image::{HostInfo, Image, ImageError, Mismatch};
pub use restore::{RestoreError, RestoreReport, build, build_with, restore, restore_bytes, restore_on};
