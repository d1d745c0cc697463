//! Loading policies into the kernel's modules, checking policy files before
//! a scenario runs, and the label module's `restorecon`.

use std::collections::BTreeMap;

use super::apparmor::AppArmor;
use super::deny_all::DenyAll;
use super::landlock::{self, Landlock};
use super::policy::PolicyError;
use super::selinux::{Context, Policy, SeLinux};
use super::{LoadedPolicy, Lsm, LsmState, SecurityOps};
use crate::kernel::{Errno, Kernel, Pid};

/// Which module a policy file is for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PolicyModule {
    /// AppArmor-like profiles.
    AppArmor,
    /// SELinux-like type enforcement (`.te`) or file contexts (`.fc`).
    SeLinux,
    /// A Landlock-like ruleset for the calling process.
    Landlock,
}

impl PolicyModule {
    /// The module's name (`apparmor`, `selinux`, `landlock`).
    pub fn name(self) -> &'static str {
        match self {
            PolicyModule::AppArmor => "apparmor",
            PolicyModule::SeLinux => "selinux",
            PolicyModule::Landlock => "landlock",
        }
    }
}

/// Whether a label-module policy file is a `file_contexts` list.
pub fn is_file_contexts(file: &str) -> bool {
    file.ends_with(".fc") || file.ends_with("file_contexts")
}

/// Check a scenario's policy files, in order, as the kernel will load them
/// (a `file_contexts` list may only name types of the rules loaded before
/// it).
///
/// # Errors
/// The index of the first bad file and its error.
pub fn check_policies<'a>(
    files: impl IntoIterator<Item = (PolicyModule, &'a str, &'a str)>,
) -> Result<(), (usize, PolicyError)> {
    let mut te = Policy::default();
    for (i, (module, file, text)) in files.into_iter().enumerate() {
        let r = match module {
            PolicyModule::AppArmor => super::apparmor::parse(text).map(drop),
            PolicyModule::SeLinux if is_file_contexts(file) => te.load_fc(text),
            PolicyModule::SeLinux => te.load_te(text),
            PolicyModule::Landlock => landlock::parse(text).map(drop),
        };
        r.map_err(|e| (i, e))?;
    }
    Ok(())
}

/// A fresh module of this build named `name`.
fn new_module(name: &str) -> Option<Box<dyn SecurityOps>> {
    Some(match name {
        "apparmor" => Box::new(AppArmor::default()),
        "selinux" => Box::new(SeLinux::default()),
        "landlock" => Box::new(Landlock::default()),
        "deny_all" => Box::new(DenyAll::default()),
        _ => return None,
    })
}

/// Reload a saved policy into module `m` as `load_policy` loaded it (a
/// Landlock ruleset's layer was bound to inodes then: it comes back with
/// the task's labels, not from its text).
fn reload(m: &mut dyn SecurityOps, p: &LoadedPolicy) -> Result<(), String> {
    let any = m.as_any_mut();
    if let Some(a) = any.downcast_mut::<AppArmor>() {
        a.load(&p.text).map(drop).map_err(|e| e.to_string())
    } else if let Some(s) = any.downcast_mut::<SeLinux>() {
        s.load(&p.text, is_file_contexts(&p.file)).map_err(|e| e.to_string())
    } else if any.is::<Landlock>() {
        landlock::parse(&p.text).map(drop).map_err(|e| e.to_string())
    } else {
        Err("this module loads no policy".into())
    }
}

impl Lsm {
    /// [`Lsm::from_state`] with this build's modules.
    ///
    /// # Errors
    /// As [`Lsm::from_state`].
    pub fn rebuild(state: &LsmState) -> Result<Lsm, String> {
        Lsm::from_state(state, new_module, reload)
    }
}

impl Kernel {
    /// The registered module `M` named `name`, registered now (after the
    /// others) if it is not yet.
    fn module<M: SecurityOps + Default + 'static>(&mut self, name: &str) -> &mut M {
        if self.lsm.module_mut(name).is_none() {
            self.lsm.register(Box::new(M::default()));
        }
        self.lsm
            .module_mut(name)
            .and_then(|m| m.as_any_mut().downcast_mut::<M>())
            .unwrap_or_else(|| panic!("module {name} is registered with another type"))
    }

    /// Load a policy file for `module` (the `policy` verb): AppArmor
    /// profiles, SELinux rules or file contexts (by the file's name), or a
    /// Landlock ruleset that now confines process `pid`. A module is
    /// registered at its first policy, after those already registered.
    ///
    /// # Errors
    /// `EINVAL` for a file that does not parse (scenarios check theirs
    /// before running); for Landlock, what opening a rule's path answers
    /// (`ENOENT`, `EACCES`, ...) and `E2BIG` past 16 layers.
    pub fn load_policy(&mut self, pid: Pid, module: PolicyModule, file: &str, text: &str) -> Result<usize, Errno> {
        self.proc_ref(pid)?;
        match module {
            PolicyModule::AppArmor => self.module::<AppArmor>("apparmor").load(text).map_err(|_| Errno::EINVAL)?,
            PolicyModule::SeLinux => {
                self.module::<SeLinux>("selinux").load(text, is_file_contexts(file)).map_err(|_| Errno::EINVAL)?;
                0
            }
            PolicyModule::Landlock => {
                let ruleset = landlock::parse(text).map_err(|_| Errno::EINVAL)?;
                let mut rules = BTreeMap::new();
                for (path, access) in &ruleset.rules {
                    let p = self.path_lookupat(pid, path, true, false)?;
                    *rules.entry(self.vfs.d(p.dentry).inode).or_insert(0) |= access;
                }
                self.module::<Landlock>("landlock").restrict_self(pid, ruleset.handled, rules)?;
                0
            }
        };
        let (file, text) = (file.to_owned(), text.to_owned());
        self.lsm.note_policy(LoadedPolicy { module: module.name(), file, text, pid: Some(pid) });
        Ok(0)
    }

    /// `restorecon -R PATH`: relabel PATH and everything beneath it (not
    /// crossing into mounts) from the label module's file contexts, through
    /// `security_inode_setsecurity` for each file.
    ///
    /// # Errors
    /// What the walk answers; the first refusal (the rest are still tried).
    pub fn restorecon(&mut self, pid: Pid, name: &str) -> Result<usize, Errno> {
        let path = self.path_lookupat(pid, name, false, false)?;
        let root = self.proc_ref(pid)?.fs.root;
        let mut todo = vec![(path.dentry, self.vfs.d_path(path, root).name)];
        let mut first_err = None;
        while let Some((d, n)) = todo.pop() {
            if let Err(e) = self.security().inode_setsecurity(pid, d, &n) {
                first_err.get_or_insert(e);
            }
            for (child, c) in self.vfs.d(d).children.iter().rev() {
                let cn = if n == "/" { format!("/{child}") } else { format!("{n}/{child}") };
                todo.push((*c, cn));
            }
        }
        first_err.map_or(Ok(0), Err)
    }

    /// The label module's context of the file at `name` (`ls -Z`; symlinks
    /// not followed), or of the current process if `name` is `None`.
    ///
    /// # Errors
    /// What the walk answers; `ENODATA` with no label module loaded.
    pub fn security_context(&mut self, pid: Pid, name: Option<&str>) -> Result<Context, Errno> {
        let ino = match name {
            Some(n) => {
                let p = self.path_lookupat(pid, n, false, false)?;
                Some(self.vfs.d(p.dentry).inode)
            }
            None => None,
        };
        let m = self.lsm.module_mut("selinux").and_then(|m| m.as_any_mut().downcast_mut::<SeLinux>());
        let m = m.ok_or(Errno::ENODATA)?;
        Ok(match ino {
            Some(ino) => m.inode_context(ino).clone(),
            None => m.task_context(pid).clone(),
        })
    }

    /// The AppArmor profile confining `pid` (`unconfined` if none).
    pub fn apparmor_profile(&mut self, pid: Pid) -> String {
        let m = self.lsm.module_mut("apparmor").and_then(|m| m.as_any_mut().downcast_mut::<AppArmor>());
        m.and_then(|m| m.profile_of(pid).map(|p| p.name.clone())).unwrap_or_else(|| "unconfined".into())
    }
}
