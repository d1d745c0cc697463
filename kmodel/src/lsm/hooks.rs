//! The hook table: one list, one line per hook, that generates the
//! [`SecurityOps`] trait (every hook allows by default), the [`Hook`] enum,
//! the [`Lsm`] dispatcher and the kernel's `security_*` call sites, as
//! Linux's `lsm_hook_defs.h` generates `security_hook_heads` and
//! `call_int_hook`.
//!
//! Each hook is tagged with its table: `inode` hooks are the 2006 table
//! (they see inodes, dentries and files, never the mount a name was reached
//! through, except `sb_mount` and `inode_getattr` whose arguments carried
//! it then too); `path` hooks are the ones Linux added in 2008 for
//! AppArmor and TOMOYO (`security_path_*`): they get a `struct path`, so a
//! pathname module can name the object as the process sees it. Under the
//! 2006 table ([`Era::Y2006`]) the path hooks are never called.

use super::{Decision, HookCx, Lsm};
use crate::kernel::{Errno, File, InodeId, Kernel, Pid};
use crate::vfs::{Cred, DentryId, Mask, Path};

macro_rules! lsm_hooks {
    (
        hooks { $( $(#[$doc:meta])* [$table:ident] $hook:ident ( $($arg:ident : $ty:ty),* ); )* }
        notify { $( $(#[$ndoc:meta])* $note:ident ( $($narg:ident : $nty:ty),* ); )* }
    ) => {
        /// A security module: one method per hook, each allowing by default
        /// (Linux's `struct security_hook_list` entries), plus notifications
        /// that cannot fail.
        pub trait SecurityOps: std::fmt::Debug + Send {
            /// The module's name (`apparmor`, `selinux`, ...).
            fn name(&self) -> &'static str;

            /// The module itself, to reach its own state (policies, labels).
            fn as_any_mut(&mut self) -> &mut dyn std::any::Any;

            /// A copy of the module and its state (a kernel snapshot).
            fn box_clone(&self) -> Box<dyn SecurityOps>;

            /// Its labels and counters for a checkpoint image; `None` for a
            /// module that cannot be saved (the checkpoint is refused).
            fn save_state(&self) -> Option<super::ModuleState> {
                None
            }

            /// Take back what [`SecurityOps::save_state`] gave, after the
            /// module's policies were reloaded.
            ///
            /// # Errors
            /// A label or counter the module cannot take, named.
            fn restore_state(&mut self, state: &super::ModuleState) -> Result<(), String> {
                let _ = state;
                Err(format!("module {} cannot be restored", self.name()))
            }

            $(
                $(#[$doc])*
                #[allow(unused_variables)]
                fn $hook(&mut self, cx: &HookCx<'_>, $($arg: $ty),*) -> Decision {
                    Decision::Allow
                }
            )*

            $(
                $(#[$ndoc])*
                #[allow(unused_variables)]
                fn $note(&mut self, $($narg: $nty),*) {}
            )*
        }

        /// Every hook that can deny, by name.
        #[allow(non_camel_case_types)]
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Hook {
            $( $(#[$doc])* $hook, )*
        }

        impl Hook {
            /// Every hook, in table order.
            pub const ALL: &'static [Hook] = &[ $( Hook::$hook, )* ];

            /// Its name in Linux (`inode_permission`, `path_link`, ...).
            pub fn name(self) -> &'static str {
                match self { $( Hook::$hook => stringify!($hook), )* }
            }

            /// Whether it is one of the path hooks added after 2006 (absent
            /// from the 2006 table).
            pub fn is_path_hook(self) -> bool {
                match self { $( Hook::$hook => stringify!($table) == "path", )* }
            }
        }

        impl Lsm {
            $(
                $(#[$doc])*
                ///
                /// # Errors
                /// The first denial's errno.
                pub fn $hook(&mut self, cx: &HookCx<'_>, $($arg: $ty),*) -> Result<(), Errno> {
                    self.dispatch(Hook::$hook, cx, |m, cx| m.$hook(cx, $($arg),*))
                }
            )*
            $(
                $(#[$ndoc])*
                pub fn $note(&mut self, $($narg: $nty),*) {
                    for m in &mut self.modules {
                        m.$note($($narg),*);
                    }
                }
            )*
        }

        impl Security<'_> {
            $(
                $(#[$doc])*
                pub(crate) fn $hook(self, pid: Pid, $($arg: $ty),*) -> Result<(), Errno> {
                    let Kernel { lsm, vfs, procs, .. } = self.0;
                    let Some(proc) = procs.get(&pid) else { return Err(Errno::ESRCH) };
                    let cx = HookCx::new(pid, proc, vfs, lsm.era());
                    let r = lsm.$hook(&cx, $($arg),*);
                    lsm.add_cost(&cx.cost);
                    r
                }
            )*
        }
    };
}

impl Clone for Box<dyn SecurityOps> {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}

/// The kernel's call sites: `kernel.security().HOOK(pid, args)` builds the
/// hook's context from the calling process and asks every module.
pub(crate) struct Security<'k>(pub(crate) &'k mut Kernel);

impl Kernel {
    /// The security call sites (`security_*` in Linux).
    pub(crate) fn security(&mut self) -> Security<'_> {
        Security(self)
    }
}

lsm_hooks! {
    hooks {
        /// `security_inode_permission`: after the DAC check passed, on every
        /// directory a walk searches (`MAY_EXEC`) and on the object an open,
        /// exec, chdir or chroot reaches.
        [inode] inode_permission(ino: InodeId, mask: Mask);
        /// `security_inode_follow_link`: a walk follows symlink `link`.
        [inode] inode_follow_link(link: DentryId);
        /// `security_inode_create`: a regular file `name` is created in `dir`.
        [inode] inode_create(dir: DentryId, name: &str, mode: u32);
        /// `security_inode_mkdir`.
        [inode] inode_mkdir(dir: DentryId, name: &str, mode: u32);
        /// `security_inode_symlink`.
        [inode] inode_symlink(dir: DentryId, name: &str, target: &str);
        /// `security_inode_link`: a new name `name` in `dir` for `old`.
        [inode] inode_link(old: DentryId, dir: DentryId, name: &str);
        /// `security_inode_unlink`.
        [inode] inode_unlink(dir: DentryId, victim: DentryId);
        /// `security_inode_rmdir`.
        [inode] inode_rmdir(dir: DentryId, victim: DentryId);
        /// `security_inode_rename`: `old` (in `old_dir`) becomes `new_name`
        /// in `new_dir`, replacing `target` if there is one.
        [inode] inode_rename(old_dir: DentryId, old: DentryId, new_dir: DentryId, new_name: &str, target: Option<DentryId>);
        /// `security_inode_setattr`: chmod or chown of `dentry`.
        [inode] inode_setattr(dentry: DentryId);
        /// `security_inode_getattr`: stat (it was given the mount in 2006
        /// too).
        [inode] inode_getattr(path: Path);
        /// `security_inode_init_security`: label a new inode (`dentry`, in
        /// `dir`) before it is used.
        [inode] inode_init_security(dir: DentryId, dentry: DentryId);
        /// `security_inode_setsecurity`: relabel the file at `dentry`, named
        /// `path`, from the label module's file contexts (the model's
        /// `restorecon`).
        [inode] inode_setsecurity(dentry: DentryId, path: &str);
        /// `security_file_permission`: from `rw_verify_area`, on every read,
        /// write, pwrite, and on the file side of splice and sendfile.
        /// (Linux calls no hook for vmsplice, tee, or a pipe-to-pipe splice.)
        [inode] file_permission(file: &File, mask: Mask);
        /// `security_file_open`.
        [inode] file_open(file: &File);
        /// `security_file_fcntl`.
        [inode] file_fcntl(file: &File);
        /// `security_socket_sendmsg`: from `sock_sendmsg`, on every write,
        /// send, splice and sendfile into socket `file`, of `size` bytes.
        [inode] socket_sendmsg(file: &File, size: usize);
        /// `security_mmap_file`: an anonymous mapping (`file` is `None`).
        [inode] mmap_file(file: Option<&File>);
        /// `security_bprm_check`: exec of the program at `path`.
        [inode] bprm_check(path: Path);
        /// `security_sb_mount`: mount (bind) of `dev_name` on `path`.
        [inode] sb_mount(dev_name: &str, path: Path);
        /// `security_task_alloc`: fork of a new process `child`.
        [inode] task_alloc(child: Pid);
        /// `security_task_fix_setuid`.
        [inode] task_fix_setuid(new: &Cred);
        /// `security_path_mknod`.
        [path] path_mknod(dir: Path, name: &str, mode: u32);
        /// `security_path_mkdir`.
        [path] path_mkdir(dir: Path, name: &str, mode: u32);
        /// `security_path_symlink`.
        [path] path_symlink(dir: Path, name: &str, target: &str);
        /// `security_path_link`.
        [path] path_link(old: Path, new_dir: Path, new_name: &str);
        /// `security_path_unlink`.
        [path] path_unlink(dir: Path, victim: DentryId);
        /// `security_path_rmdir`.
        [path] path_rmdir(dir: Path, victim: DentryId);
        /// `security_path_rename`.
        [path] path_rename(old_dir: Path, old: DentryId, new_dir: Path, new_name: &str, target: Option<DentryId>);
        /// `security_path_truncate`.
        [path] path_truncate(path: Path);
        /// `security_path_chmod`.
        [path] path_chmod(path: Path, mode: u32);
        /// `security_path_chown`.
        [path] path_chown(path: Path, uid: u32, gid: u32);
        /// `security_path_chroot`.
        [path] path_chroot(path: Path);
    }
    notify {
        /// `security_bprm_committing_creds`: exec of `path` by `pid` went
        /// through: commit the new contexts.
        bprm_committing_creds(pid: Pid, path: Path, vfs: &crate::vfs::Vfs);
        /// `security_file_free`: the last descriptor of an open file closed.
        file_free(file: &File);
        /// `security_inode_free`.
        inode_free(ino: InodeId);
        /// `security_task_free`: process `pid` exited.
        task_free(pid: Pid);
        /// A new process `child` of `parent` (`cred_prepare`): copy the
        /// parent's contexts.
        task_forked(parent: Pid, child: Pid);
    }
}
