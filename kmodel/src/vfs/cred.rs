//! Credentials and the DAC check (`struct cred`, `generic_permission`).

use super::inode::{S_IXUGO, VInode};

/// Models the `MAY_*` mask of `inode_permission` (include/linux/fs.h).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mask(pub u32);

impl Mask {
    /// `MAY_EXEC` (search, for a directory).
    pub const EXEC: Mask = Mask(0x1);
    /// `MAY_WRITE`.
    pub const WRITE: Mask = Mask(0x2);
    /// `MAY_READ`.
    pub const READ: Mask = Mask(0x4);
    /// `MAY_APPEND`.
    pub const APPEND: Mask = Mask(0x8);
    /// `MAY_OPEN`.
    pub const OPEN: Mask = Mask(0x20);
    /// `MAY_CHDIR`.
    pub const CHDIR: Mask = Mask(0x40);

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Mask) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    pub fn intersects(self, other: Mask) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOr for Mask {
    type Output = Mask;
    fn bitor(self, rhs: Mask) -> Mask {
        Mask(self.0 | rhs.0)
    }
}

/// Models the DAC part of `struct cred`: the filesystem ids and groups. The
/// superuser (uid 0) has every capability, as root does on this host
/// (`CAP_DAC_OVERRIDE`, `CAP_FOWNER`, `CAP_CHOWN`, `CAP_SYS_ADMIN`,
/// `CAP_SYS_CHROOT`, ...); anyone else has none.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cred {
    /// `fsuid` (the model keeps uid = euid = fsuid).
    pub uid: u32,
    /// `fsgid`.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

impl Cred {
    /// `capable(cap)`: the model's only privileged user is root.
    pub fn capable(&self) -> bool {
        self.uid == 0
    }

    /// `in_group_p`.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    /// `inode_owner_or_capable`: the owner, or `CAP_FOWNER`.
    pub fn owner_or_capable(&self, inode: &VInode) -> bool {
        self.uid == inode.uid || self.capable()
    }
}

/// `generic_permission` (fs/namei.c): the owner/group/other bits, then
/// `CAP_DAC_OVERRIDE` and `CAP_DAC_READ_SEARCH`.
///
/// # Errors
/// `EACCES`.
pub fn generic_permission(cred: &Cred, inode: &VInode, mask: Mask) -> Result<(), nix::errno::Errno> {
    let rwx = mask.0 & 0o7;
    let mode = if cred.uid == inode.uid {
        inode.mode >> 6
    } else if cred.in_group(inode.gid) {
        inode.mode >> 3
    } else {
        inode.mode
    };
    if rwx & !mode & 0o7 == 0 {
        return Ok(());
    }
    if cred.capable() {
        if inode.is_dir() {
            // CAP_DAC_OVERRIDE: anything on a directory.
            return Ok(());
        }
        // CAP_DAC_OVERRIDE executes only what someone may execute.
        if rwx & Mask::EXEC.0 == 0 || inode.mode & S_IXUGO != 0 {
            return Ok(());
        }
    }
    Err(nix::errno::Errno::EACCES)
}
