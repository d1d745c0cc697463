//! Linux Security Modules: the hook table, its dispatcher, and the modules.
//!
//! The kernel calls a hook at each point Linux does (see
//! [`hooks`](self::Hook) and ARCHITECTURE.md's "VFS and LSM"). Modules
//! register in order and stack: every module is asked, the first denial's
//! errno is the syscall's answer, and each denial (or, in complain mode, each
//! would-be denial) is written to the audit log. (Linux's `call_int_hook`
//! stops at the first denial; [`StackMode::FirstDenial`] does that.)
//!
//! Two hook tables can be switched ([`Era`]): the 2006 table, where hooks
//! see inodes and dentries but never the mount a name was reached through,
//! and today's, with the path hooks added for AppArmor and TOMOYO. A
//! pathname module under the 2006 table must rebuild names from dentries
//! (`dentry_path`, `d_find_alias`), blind to mounts, chroots and
//! namespaces; [`HookCx`] counts every name it builds and the dentries it
//! walks, so the cost argued about in 2006 is a number.
//!
//! Modules: [`deny_all::DenyAll`] (denies everything; the complete
//! mediation test), and the pathname, label and sandbox modules.

pub mod apparmor;
pub mod deny_all;
mod hooks;
pub mod landlock;
mod load;
pub mod policy;
pub mod selinux;
mod state;

use std::cell::Cell;

pub use hooks::{Hook, SecurityOps};
pub use load::{PolicyModule, check_policies, is_file_contexts};
pub use state::{LabelObject, LoadedPolicy, LsmState, ModuleState};

use crate::kernel::{Errno, File, InodeId, Pid, Process};
use crate::vfs::BuiltName;
use crate::vfs::{Cred, DentryId, FsStruct, Path, Vfs};

/// What a module answers for one hook call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Denied with `errno`; `why` is a short reason for the side-by-side
    /// display, `audit` the audit line.
    Deny {
        /// The syscall's answer.
        errno: Errno,
        /// A few words: `r /etc/shadow`, `{ read } shadow_t`.
        why: String,
        /// The audit record.
        audit: String,
    },
    /// Would be denied, but the module only complains (AppArmor's
    /// complain mode, SELinux's permissive): allowed and audited.
    Complain {
        /// A few words.
        why: String,
        /// The audit record.
        audit: String,
    },
}

/// Which hook table the kernel calls.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Era {
    /// The 2006 table: inode hooks only, no mount passed.
    Y2006,
    /// Today's table: inode hooks and path hooks.
    #[default]
    Today,
}

/// How stacked modules are asked.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum StackMode {
    /// Every module is asked and each denial audited; the first denial's
    /// errno wins (what the side-by-side display needs).
    #[default]
    AskAll,
    /// Stop at the first denial, as Linux's `call_int_hook` does.
    FirstDenial,
}

/// What building names cost, counted while hooks run.
#[derive(Clone, Debug, Default)]
pub struct Cost {
    /// Names built (`d_path`, `dentry_path`).
    pub rebuilds: Cell<u64>,
    /// Dentries visited building them.
    pub walked: Cell<u64>,
}

impl Cost {
    fn add(&self, n: &BuiltName) {
        self.rebuilds.set(self.rebuilds.get() + 1);
        self.walked.set(self.walked.get() + n.walked);
    }
}

/// What a hook sees besides its arguments: the calling process and the
/// VFS, read-only, and the means to name things (counted).
#[derive(Debug)]
pub struct HookCx<'a> {
    /// The calling process.
    pub pid: Pid,
    /// Its credentials.
    pub cred: &'a Cred,
    /// Its command name (`comm`).
    pub comm: &'a str,
    /// Its root, working directory and namespace.
    pub fs: FsStruct,
    /// The VFS.
    pub vfs: &'a Vfs,
    /// The hook table in force.
    pub era: Era,
    pub(crate) cost: Cost,
}

impl<'a> HookCx<'a> {
    pub(crate) fn new(pid: Pid, proc: &'a Process, vfs: &'a Vfs, era: Era) -> Self {
        HookCx { pid, cred: &proc.cred, comm: &proc.comm, fs: proc.fs, vfs, era, cost: Cost::default() }
    }

    /// `d_path` from the process's root (counted).
    pub fn d_path(&self, path: Path) -> BuiltName {
        let n = self.vfs.d_path(path, self.fs.root);
        self.cost.add(&n);
        n
    }

    /// `d_path` from the root of the process's mount namespace, not its
    /// chroot (AppArmor's default, `d_namespace_path`) (counted).
    pub fn ns_path(&self, path: Path) -> BuiltName {
        let root = match self.vfs.namespaces.get(&self.fs.ns) {
            Some(ns) => Path { mnt: ns.root, dentry: self.vfs.mounts[&ns.root].root },
            None => self.fs.root,
        };
        let n = self.vfs.d_path(path, root);
        self.cost.add(&n);
        n
    }

    /// `dentry_path`: a dentry's name from its filesystem's root, the most
    /// a 2006 hook can build (counted).
    pub fn dentry_path(&self, d: DentryId) -> BuiltName {
        let n = self.vfs.dentry_path(d);
        self.cost.add(&n);
        n
    }

    /// An inode's name for a hook that got only the inode: `d_find_alias`
    /// then `dentry_path` (counted); `None` for an inode with no dentry.
    pub fn inode_path(&self, ino: InodeId) -> Option<BuiltName> {
        self.vfs.d_find_alias(ino).map(|d| self.dentry_path(d))
    }

    /// A file's name: `d_path` of its `f_path` today, `dentry_path` under
    /// the 2006 table; `None` for a file with no name (a pipe, a scenario
    /// `file` object).
    pub fn file_path(&self, file: &File) -> Option<BuiltName> {
        let op = file.path?;
        Some(match self.era {
            Era::Today => self.d_path(op.path),
            Era::Y2006 => self.dentry_path(op.path.dentry),
        })
    }
}

/// One module's decisions during the current operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct OpState {
    asked: bool,
    denied: Option<String>,
    complained: Option<String>,
}

/// The registered modules and the dispatcher's state (a clone is a
/// snapshot: the explorer copies whole kernels).
#[derive(Clone, Debug, Default)]
pub struct Lsm {
    modules: Vec<Box<dyn SecurityOps>>,
    era: Era,
    mode: StackMode,
    cost: Cost,
    /// Hook calls made (every hook, whether or not a module is loaded).
    calls: u64,
    audit: Vec<String>,
    audit_shown: usize,
    op: Vec<OpState>,
    op_cost: (u64, u64),
    /// Policies loaded, in order (what a checkpoint saves).
    policies: Vec<LoadedPolicy>,
}

impl Lsm {
    /// Register `module` after the others.
    pub fn register(&mut self, module: Box<dyn SecurityOps>) {
        self.modules.push(module);
        self.op.push(OpState::default());
    }

    /// The registered modules' names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.modules.iter().map(|m| m.name()).collect()
    }

    /// Unregister every module but `name` (to ask one module alone).
    pub fn keep_only(&mut self, name: &str) {
        let keep: Vec<bool> = self.modules.iter().map(|m| m.name() == name).collect();
        let mut it = keep.iter();
        self.modules.retain(|_| *it.next().unwrap_or(&false));
        let mut it = keep.iter();
        self.op.retain(|_| *it.next().unwrap_or(&false));
    }

    /// The registered module called `name`, to reach its state.
    pub fn module_mut(&mut self, name: &str) -> Option<&mut (dyn SecurityOps + 'static)> {
        self.modules.iter_mut().find(|m| m.name() == name).map(|m| &mut **m)
    }

    /// The hook table in force.
    pub fn era(&self) -> Era {
        self.era
    }

    /// Switch hook tables.
    pub fn set_era(&mut self, era: Era) {
        self.era = era;
    }

    /// How stacked modules are asked.
    pub fn set_stack_mode(&mut self, mode: StackMode) {
        self.mode = mode;
    }

    pub(crate) fn add_cost(&mut self, c: &Cost) {
        self.cost.rebuilds.set(self.cost.rebuilds.get() + c.rebuilds.get());
        self.cost.walked.set(self.cost.walked.get() + c.walked.get());
    }

    /// Hook calls so far.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Names built so far and dentries walked building them.
    pub fn cost(&self) -> (u64, u64) {
        (self.cost.rebuilds.get(), self.cost.walked.get())
    }

    /// Every audit line so far.
    pub fn audit_log(&self) -> &[String] {
        &self.audit
    }

    /// The audit lines not yet taken by this call.
    pub fn take_new_audit(&mut self) -> &[String] {
        let from = self.audit_shown;
        self.audit_shown = self.audit.len();
        &self.audit[from..]
    }

    /// Append a line to the audit log (a module's own records, such as a
    /// policy load).
    pub fn audit(&mut self, line: String) {
        self.audit.push(line);
    }

    /// Start recording the decisions of one operation.
    pub fn begin_op(&mut self) {
        for s in &mut self.op {
            *s = OpState::default();
        }
        self.op_cost = self.cost();
    }

    /// Module `name`'s decision in the operation since [`Lsm::begin_op`]:
    /// `allow`, `deny WHY`, `complain WHY`, or `-` if it was not asked.
    pub fn op_verdict(&self, name: &str) -> Option<String> {
        let (_, s) = self.modules.iter().zip(&self.op).find(|(m, _)| m.name() == name)?;
        Some(match (s.asked, &s.denied, &s.complained) {
            (false, _, _) => "-".to_owned(),
            (_, Some(why), _) => format!("deny {why}"),
            (_, None, Some(why)) => format!("complain {why}"),
            (_, None, None) => "allow".to_owned(),
        })
    }

    /// The names built and dentries walked since [`Lsm::begin_op`].
    pub fn op_cost(&self) -> (u64, u64) {
        let (r, w) = self.cost();
        (r - self.op_cost.0, w - self.op_cost.1)
    }

    /// Every module's decision in the operation since [`Lsm::begin_op`],
    /// side by side (`apparmor deny r /etc/shadow | selinux allow`), with
    /// the names built if any; `None` if no module was asked anything.
    pub fn op_summary(&self) -> Option<String> {
        if !self.op.iter().any(|s| s.asked) {
            return None;
        }
        let mut parts: Vec<String> = self
            .modules
            .iter()
            .zip(&self.op)
            .map(|(m, s)| {
                let d = match (s.asked, &s.denied, &s.complained) {
                    (false, _, _) => "-".to_owned(),
                    (_, Some(why), _) => format!("deny {why}"),
                    (_, None, Some(why)) => format!("complain {why}"),
                    (_, None, None) => "allow".to_owned(),
                };
                format!("{} {d}", m.name())
            })
            .collect();
        let (r, w) = self.cost();
        let (r0, w0) = self.op_cost;
        if r > r0 {
            parts.push(format!("names built {} ({} dentries)", r - r0, w - w0));
        }
        Some(parts.join(" | "))
    }

    fn dispatch(
        &mut self,
        hook: Hook,
        cx: &HookCx<'_>,
        mut ask: impl FnMut(&mut dyn SecurityOps, &HookCx<'_>) -> Decision,
    ) -> Result<(), Errno> {
        if self.era == Era::Y2006 && hook.is_path_hook() {
            return Ok(());
        }
        self.calls += 1;
        let mut first = None;
        for (m, st) in self.modules.iter_mut().zip(self.op.iter_mut()) {
            st.asked = true;
            match ask(&mut **m, cx) {
                Decision::Allow => {}
                Decision::Deny { errno, why, audit } => {
                    self.audit.push(audit);
                    st.denied.get_or_insert(why);
                    first.get_or_insert(errno);
                    if self.mode == StackMode::FirstDenial {
                        break;
                    }
                }
                Decision::Complain { why, audit } => {
                    self.audit.push(audit);
                    st.complained.get_or_insert(why);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}
