//! A module that denies every hook: with it loaded, every operation that
//! reaches an object must fail, which is how the complete mediation test
//! finds a syscall without a hook.

use super::{Decision, Hook, HookCx, ModuleState, SecurityOps};
use crate::kernel::{Errno, File, InodeId, Pid};
use crate::vfs::{Cred, DentryId, Mask, Path};

/// Denies everything with `EACCES` and counts the denials per hook.
#[derive(Clone, Debug, Default)]
pub struct DenyAll {
    /// Denials per hook.
    pub denied: std::collections::BTreeMap<Hook, u64>,
}

impl DenyAll {
    fn deny(&mut self, hook: Hook) -> Decision {
        *self.denied.entry(hook).or_default() += 1;
        Decision::Deny {
            errno: Errno::EACCES,
            why: hook.name().to_owned(),
            audit: format!("deny_all: denied hook={}", hook.name()),
        }
    }
}

impl SecurityOps for DenyAll {
    fn name(&self) -> &'static str {
        "deny_all"
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
    fn box_clone(&self) -> Box<dyn SecurityOps> {
        Box::new(self.clone())
    }
    /// No labels; a counter per hook: its denials.
    fn save_state(&self) -> Option<ModuleState> {
        let counters = self.denied.iter().map(|(h, n)| (h.name().to_owned(), *n)).collect();
        Some(ModuleState { labels: Vec::new(), counters })
    }

    fn restore_state(&mut self, state: &ModuleState) -> Result<(), String> {
        if let Some((o, _)) = state.labels.first() {
            return Err(format!("a label on {o:?} (this module labels nothing)"));
        }
        let mut denied = std::collections::BTreeMap::new();
        for (c, n) in &state.counters {
            let h = Hook::ALL.iter().find(|h| h.name() == c).ok_or_else(|| format!("unknown hook '{c}'"))?;
            denied.insert(*h, *n);
        }
        self.denied = denied;
        Ok(())
    }
    fn inode_permission(&mut self, _: &HookCx<'_>, _: InodeId, _: Mask) -> Decision {
        self.deny(Hook::inode_permission)
    }
    fn inode_follow_link(&mut self, _: &HookCx<'_>, _: DentryId) -> Decision {
        self.deny(Hook::inode_follow_link)
    }
    fn inode_create(&mut self, _: &HookCx<'_>, _: DentryId, _: &str, _: u32) -> Decision {
        self.deny(Hook::inode_create)
    }
    fn inode_mkdir(&mut self, _: &HookCx<'_>, _: DentryId, _: &str, _: u32) -> Decision {
        self.deny(Hook::inode_mkdir)
    }
    fn inode_symlink(&mut self, _: &HookCx<'_>, _: DentryId, _: &str, _: &str) -> Decision {
        self.deny(Hook::inode_symlink)
    }
    fn inode_link(&mut self, _: &HookCx<'_>, _: DentryId, _: DentryId, _: &str) -> Decision {
        self.deny(Hook::inode_link)
    }
    fn inode_unlink(&mut self, _: &HookCx<'_>, _: DentryId, _: DentryId) -> Decision {
        self.deny(Hook::inode_unlink)
    }
    fn inode_rmdir(&mut self, _: &HookCx<'_>, _: DentryId, _: DentryId) -> Decision {
        self.deny(Hook::inode_rmdir)
    }
    fn inode_rename(
        &mut self,
        _: &HookCx<'_>,
        _: DentryId,
        _: DentryId,
        _: DentryId,
        _: &str,
        _: Option<DentryId>,
    ) -> Decision {
        self.deny(Hook::inode_rename)
    }
    fn inode_setattr(&mut self, _: &HookCx<'_>, _: DentryId) -> Decision {
        self.deny(Hook::inode_setattr)
    }
    fn inode_getattr(&mut self, _: &HookCx<'_>, _: Path) -> Decision {
        self.deny(Hook::inode_getattr)
    }
    fn inode_init_security(&mut self, _: &HookCx<'_>, _: DentryId, _: DentryId) -> Decision {
        self.deny(Hook::inode_init_security)
    }
    fn inode_setsecurity(&mut self, _: &HookCx<'_>, _: DentryId, _: &str) -> Decision {
        self.deny(Hook::inode_setsecurity)
    }
    fn file_permission(&mut self, _: &HookCx<'_>, _: &File, _: Mask) -> Decision {
        self.deny(Hook::file_permission)
    }
    fn file_open(&mut self, _: &HookCx<'_>, _: &File) -> Decision {
        self.deny(Hook::file_open)
    }
    fn file_fcntl(&mut self, _: &HookCx<'_>, _: &File) -> Decision {
        self.deny(Hook::file_fcntl)
    }
    fn socket_sendmsg(&mut self, _: &HookCx<'_>, _: &File, _: usize) -> Decision {
        self.deny(Hook::socket_sendmsg)
    }
    fn mmap_file(&mut self, _: &HookCx<'_>, _: Option<&File>) -> Decision {
        self.deny(Hook::mmap_file)
    }
    fn bprm_check(&mut self, _: &HookCx<'_>, _: Path) -> Decision {
        self.deny(Hook::bprm_check)
    }
    fn sb_mount(&mut self, _: &HookCx<'_>, _: &str, _: Path) -> Decision {
        self.deny(Hook::sb_mount)
    }
    fn task_alloc(&mut self, _: &HookCx<'_>, _: Pid) -> Decision {
        self.deny(Hook::task_alloc)
    }
    fn task_fix_setuid(&mut self, _: &HookCx<'_>, _: &Cred) -> Decision {
        self.deny(Hook::task_fix_setuid)
    }
    fn path_mknod(&mut self, _: &HookCx<'_>, _: Path, _: &str, _: u32) -> Decision {
        self.deny(Hook::path_mknod)
    }
    fn path_mkdir(&mut self, _: &HookCx<'_>, _: Path, _: &str, _: u32) -> Decision {
        self.deny(Hook::path_mkdir)
    }
    fn path_symlink(&mut self, _: &HookCx<'_>, _: Path, _: &str, _: &str) -> Decision {
        self.deny(Hook::path_symlink)
    }
    fn path_link(&mut self, _: &HookCx<'_>, _: Path, _: Path, _: &str) -> Decision {
        self.deny(Hook::path_link)
    }
    fn path_unlink(&mut self, _: &HookCx<'_>, _: Path, _: DentryId) -> Decision {
        self.deny(Hook::path_unlink)
    }
    fn path_rmdir(&mut self, _: &HookCx<'_>, _: Path, _: DentryId) -> Decision {
        self.deny(Hook::path_rmdir)
    }
    fn path_rename(&mut self, _: &HookCx<'_>, _: Path, _: DentryId, _: Path, _: &str, _: Option<DentryId>) -> Decision {
        self.deny(Hook::path_rename)
    }
    fn path_truncate(&mut self, _: &HookCx<'_>, _: Path) -> Decision {
        self.deny(Hook::path_truncate)
    }
    fn path_chmod(&mut self, _: &HookCx<'_>, _: Path, _: u32) -> Decision {
        self.deny(Hook::path_chmod)
    }
    fn path_chown(&mut self, _: &HookCx<'_>, _: Path, _: u32, _: u32) -> Decision {
        self.deny(Hook::path_chown)
    }
    fn path_chroot(&mut self, _: &HookCx<'_>, _: Path) -> Decision {
        self.deny(Hook::path_chroot)
    }
}
