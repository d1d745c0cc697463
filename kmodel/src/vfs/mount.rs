//! Mounts and mount namespaces (fs/namespace.c).

use super::{DentryId, Path};

/// Identifies a mount.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct MountId(pub u32);

/// Identifies a mount namespace.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct MntNsId(pub u32);

/// Models `struct mount`: a dentry subtree shown somewhere.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mount {
    /// `mnt_root`: the top of the subtree it shows.
    pub root: DentryId,
    /// `(mnt_parent, mnt_mountpoint)`; `None` for a namespace's root.
    pub parent: Option<Path>,
    /// The namespace it belongs to.
    pub ns: MntNsId,
}

/// Models `struct mnt_namespace`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MntNamespace {
    /// Its root mount.
    pub root: MountId,
    /// Processes in it.
    pub users: u32,
}
