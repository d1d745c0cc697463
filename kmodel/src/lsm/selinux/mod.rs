//! A label module in SELinux's image: contexts `user:role:type:level` on
//! processes and inodes, type enforcement (`allow` rules, `type_transition`
//! for new files and domain transitions at exec), `file_contexts` applied
//! by `restorecon`, and `avc: denied` audit records.
//!
//! A decision looks at the labels of the process and of the inode, never at
//! a name: a file reached by any name, through any mount, in any namespace,
//! gets the same answer. A label is kept across rename and link (the inode
//! keeps it); a new file gets the type a `type_transition` names, else its
//! directory's. Files nothing labeled are `unlabeled_t`; `restorecon`
//! relabels a tree from `file_contexts`. Until a policy is loaded the
//! module allows everything. Objects with no inode in the model's tree
//! (pipes, the scenario's `file` objects) are not checked. Each check
//! happens on every call (no AVC cache is modelled): a policy change takes
//! effect at once.

mod policy;

use std::collections::BTreeMap;

pub use policy::{Class, Context, FileKind, Policy};

use super::policy::PolicyError;
use super::{Decision, HookCx, LabelObject, ModuleState, SecurityOps};
use crate::kernel::{Errno, File, InodeId, Pid};
use crate::vfs::{DentryId, InodeKind, Mask, Path, Vfs};

/// The SELinux-like module.
#[derive(Clone, Debug)]
pub struct SeLinux {
    policy: Policy,
    loaded: bool,
    tasks: BTreeMap<Pid, Context>,
    inodes: BTreeMap<InodeId, Context>,
    pending: BTreeMap<Pid, Context>,
    initial: Context,
    unlabeled: Context,
}

impl Default for SeLinux {
    fn default() -> Self {
        SeLinux {
            policy: Policy::default(),
            loaded: false,
            tasks: BTreeMap::new(),
            inodes: BTreeMap::new(),
            pending: BTreeMap::new(),
            initial: Context::initial_process(),
            unlabeled: Context::unlabeled(),
        }
    }
}

impl SeLinux {
    /// Load a policy file: `file_contexts` if `fc`, else type enforcement.
    ///
    /// # Errors
    /// A syntax error or an unknown name.
    pub fn load(&mut self, text: &str, fc: bool) -> Result<(), PolicyError> {
        if fc { self.policy.load_fc(text) } else { self.policy.load_te(text) }?;
        self.loaded = true;
        Ok(())
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The context of process `pid`.
    pub fn task_context(&self, pid: Pid) -> &Context {
        self.tasks.get(&pid).unwrap_or(&self.initial)
    }

    /// The context of inode `ino`.
    pub fn inode_context(&self, ino: InodeId) -> &Context {
        self.inodes.get(&ino).unwrap_or(&self.unlabeled)
    }

    fn class_of(vfs: &Vfs, ino: InodeId) -> Option<Class> {
        Some(match vfs.inode(ino)?.kind {
            InodeKind::Regular => Class::File,
            InodeKind::Directory => Class::Dir,
            InodeKind::Symlink(_) => Class::LnkFile,
        })
    }

    /// `avc_has_perm`: may `cx`'s domain use `perms` of `class` on an object
    /// labeled `tcon` (named `name` in the audit record)?
    fn has_perm(
        &self,
        cx: &HookCx<'_>,
        tcon: &Context,
        class: Class,
        perms: &[&str],
        name: &str,
        ino: Option<InodeId>,
    ) -> Decision {
        if !self.loaded {
            return Decision::Allow;
        }
        let scon = self.task_context(cx.pid);
        let allowed = self.policy.allowed(&scon.ty, &tcon.ty, class);
        let want: u32 = perms.iter().filter_map(|p| class.bit(p)).fold(0, |a, b| a | b);
        let missing = want & !allowed;
        if missing == 0 {
            return Decision::Allow;
        }
        let names = class.names(missing).join(" ");
        let permissive = self.policy.is_permissive(&scon.ty);
        let ino = ino.map(|i| format!(" ino={}", i.0)).unwrap_or_default();
        let audit = format!(
            "avc:  denied  {{ {names} }} for  pid={} comm=\"{}\" name=\"{name}\"{ino} scontext={scon} tcontext={tcon} \
             tclass={} permissive={}",
            cx.pid.0,
            cx.comm,
            class.name(),
            u8::from(permissive)
        );
        let why = format!("{{ {names} }} {}", tcon.ty);
        if permissive { Decision::Complain { why, audit } } else { Decision::Deny { errno: Errno::EACCES, why, audit } }
    }

    /// `has_perm` on the inode of dentry `d`.
    fn dentry_has_perm(&self, cx: &HookCx<'_>, d: DentryId, perms: &[&str]) -> Decision {
        let Some(den) = cx.vfs.dentry(d) else { return Decision::Allow };
        let Some(class) = Self::class_of(cx.vfs, den.inode) else { return Decision::Allow };
        self.has_perm(cx, self.inode_context(den.inode), class, perms, &den.name, Some(den.inode))
    }

    fn first(decisions: impl IntoIterator<Item = Decision>) -> Decision {
        decisions.into_iter().find(|d| *d != Decision::Allow).unwrap_or(Decision::Allow)
    }

    /// The label of a new `class` object `name` made by `pid` in `dir`.
    fn new_label(&self, pid: Pid, dir: InodeId, class: Class, name: &str) -> Context {
        let scon = self.task_context(pid);
        let dcon = self.inode_context(dir);
        let ty = self.policy.transition(&scon.ty, &dcon.ty, class, name).map_or(dcon.ty.clone(), str::to_owned);
        Context { user: scon.user.clone(), role: "object_r".into(), ty, level: scon.level.clone() }
    }

    fn create_check(&self, cx: &HookCx<'_>, dir: DentryId, name: &str, class: Class) -> Decision {
        let d = self.dentry_has_perm(cx, dir, &["search", "add_name"]);
        if d != Decision::Allow {
            return d;
        }
        let Some(dino) = cx.vfs.dentry(dir).map(|x| x.inode) else { return Decision::Allow };
        let label = self.new_label(cx.pid, dino, class, name);
        self.has_perm(cx, &label, class, &["create"], name, None)
    }

    /// `restorecon` of one file: relabel it from `file_contexts` if a line
    /// matches `path` (relabelfrom the old type, relabelto the new one).
    fn restore(&mut self, cx: &HookCx<'_>, d: DentryId, path: &str) -> Decision {
        let Some(den) = cx.vfs.dentry(d) else { return Decision::Allow };
        let ino = den.inode;
        let kind = match cx.vfs.inode(ino).map(|i| &i.kind) {
            Some(InodeKind::Regular) => FileKind::Regular,
            Some(InodeKind::Directory) => FileKind::Dir,
            Some(InodeKind::Symlink(_)) => FileKind::Symlink,
            None => return Decision::Allow,
        };
        let Some(Some(new)) = self.policy.file_context(path, kind).map(|c| c.cloned()) else {
            return Decision::Allow;
        };
        let old = self.inode_context(ino).clone();
        if old == new {
            return Decision::Allow;
        }
        let class = Self::class_of(cx.vfs, ino).unwrap_or(Class::File);
        let d = Self::first([
            self.has_perm(cx, &old, class, &["relabelfrom"], &den.name, Some(ino)),
            self.has_perm(cx, &new, class, &["relabelto"], &den.name, Some(ino)),
        ]);
        if !matches!(d, Decision::Deny { .. }) {
            self.inodes.insert(ino, new);
        }
        d
    }
}

impl SecurityOps for SeLinux {
    fn name(&self) -> &'static str {
        "selinux"
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn box_clone(&self) -> Box<dyn SecurityOps> {
        Box::new(self.clone())
    }
    /// Inodes and tasks: their contexts (`system_u:object_r:etc_t:s0`).
    fn save_state(&self) -> Option<ModuleState> {
        let mut labels: Vec<_> = self.inodes.iter().map(|(i, c)| (LabelObject::Inode(*i), c.to_string())).collect();
        labels.extend(self.tasks.iter().map(|(p, c)| (LabelObject::Task(*p), c.to_string())));
        Some(ModuleState { labels, counters: Vec::new() })
    }

    fn restore_state(&mut self, state: &ModuleState) -> Result<(), String> {
        let (mut inodes, mut tasks) = (BTreeMap::new(), BTreeMap::new());
        for (obj, label) in &state.labels {
            let c = Context::parse(label)?;
            match obj {
                LabelObject::Inode(i) => inodes.insert(*i, c),
                LabelObject::Task(p) => tasks.insert(*p, c),
                LabelObject::File(id) => return Err(format!("a label on open file {} (contexts label inodes)", id.0)),
            };
        }
        if let Some((c, _)) = state.counters.first() {
            return Err(format!("unknown counter '{c}'"));
        }
        (self.inodes, self.tasks) = (inodes, tasks);
        Ok(())
    }

    fn inode_permission(&mut self, cx: &HookCx<'_>, ino: InodeId, mask: Mask) -> Decision {
        let Some(class) = Self::class_of(cx.vfs, ino) else { return Decision::Allow };
        let mut perms = Vec::new();
        if mask.contains(Mask::READ) {
            perms.push("read");
        }
        if mask.contains(Mask::WRITE) {
            perms.push(if mask.contains(Mask::APPEND) { "append" } else { "write" });
        }
        if mask.contains(Mask::EXEC) {
            perms.push(if class == Class::Dir { "search" } else { "execute" });
        }
        if perms.is_empty() {
            return Decision::Allow;
        }
        // The avc record names the dentry (its last component), no path.
        let name = cx.vfs.d_find_alias(ino).and_then(|d| cx.vfs.dentry(d)).map_or("", |d| d.name.as_str());
        self.has_perm(cx, self.inode_context(ino), class, &perms, name, Some(ino))
    }

    fn inode_follow_link(&mut self, cx: &HookCx<'_>, link: DentryId) -> Decision {
        self.dentry_has_perm(cx, link, &["read"])
    }

    fn inode_create(&mut self, cx: &HookCx<'_>, dir: DentryId, name: &str, _: u32) -> Decision {
        self.create_check(cx, dir, name, Class::File)
    }

    fn inode_mkdir(&mut self, cx: &HookCx<'_>, dir: DentryId, name: &str, _: u32) -> Decision {
        self.create_check(cx, dir, name, Class::Dir)
    }

    fn inode_symlink(&mut self, cx: &HookCx<'_>, dir: DentryId, name: &str, _: &str) -> Decision {
        self.create_check(cx, dir, name, Class::LnkFile)
    }

    fn inode_link(&mut self, cx: &HookCx<'_>, old: DentryId, dir: DentryId, _: &str) -> Decision {
        Self::first([self.dentry_has_perm(cx, dir, &["search", "add_name"]), self.dentry_has_perm(cx, old, &["link"])])
    }

    fn inode_unlink(&mut self, cx: &HookCx<'_>, dir: DentryId, victim: DentryId) -> Decision {
        Self::first([
            self.dentry_has_perm(cx, dir, &["search", "remove_name"]),
            self.dentry_has_perm(cx, victim, &["unlink"]),
        ])
    }

    fn inode_rmdir(&mut self, cx: &HookCx<'_>, dir: DentryId, victim: DentryId) -> Decision {
        Self::first([
            self.dentry_has_perm(cx, dir, &["search", "remove_name"]),
            self.dentry_has_perm(cx, victim, &["rmdir"]),
        ])
    }

    fn inode_rename(
        &mut self,
        cx: &HookCx<'_>,
        old_dir: DentryId,
        old: DentryId,
        new_dir: DentryId,
        _: &str,
        target: Option<DentryId>,
    ) -> Decision {
        let mut ds = vec![
            self.dentry_has_perm(cx, old_dir, &["search", "remove_name"]),
            self.dentry_has_perm(cx, old, &["rename"]),
        ];
        if cx.vfs.d_is_dir(old) && old_dir != new_dir {
            ds.push(self.dentry_has_perm(cx, old, &["reparent"]));
        }
        ds.push(self.dentry_has_perm(cx, new_dir, &["search", "add_name"]));
        if let Some(t) = target {
            ds.push(self.dentry_has_perm(cx, new_dir, &["remove_name"]));
            ds.push(self.dentry_has_perm(cx, t, if cx.vfs.d_is_dir(t) { &["rmdir"] } else { &["unlink"] }));
        }
        Self::first(ds)
    }

    fn inode_setattr(&mut self, cx: &HookCx<'_>, dentry: DentryId) -> Decision {
        self.dentry_has_perm(cx, dentry, &["setattr"])
    }

    fn inode_getattr(&mut self, cx: &HookCx<'_>, path: Path) -> Decision {
        self.dentry_has_perm(cx, path.dentry, &["getattr"])
    }

    fn inode_init_security(&mut self, cx: &HookCx<'_>, dir: DentryId, dentry: DentryId) -> Decision {
        if !self.loaded {
            return Decision::Allow;
        }
        let (Some(dd), Some(d)) = (cx.vfs.dentry(dir), cx.vfs.dentry(dentry)) else { return Decision::Allow };
        let Some(class) = Self::class_of(cx.vfs, d.inode) else { return Decision::Allow };
        let label = self.new_label(cx.pid, dd.inode, class, &d.name);
        self.inodes.insert(d.inode, label);
        Decision::Allow
    }

    fn inode_setsecurity(&mut self, cx: &HookCx<'_>, dentry: DentryId, path: &str) -> Decision {
        self.restore(cx, dentry, path)
    }

    fn file_open(&mut self, cx: &HookCx<'_>, file: &File) -> Decision {
        let Some(op) = file.path else { return Decision::Allow };
        self.dentry_has_perm(cx, op.path.dentry, &["open"])
    }

    fn file_permission(&mut self, cx: &HookCx<'_>, file: &File, mask: Mask) -> Decision {
        let Some(op) = file.path else { return Decision::Allow };
        let mut perms = Vec::new();
        if mask.contains(Mask::READ) {
            perms.push("read");
        }
        if mask.contains(Mask::WRITE) {
            perms.push("write");
        }
        self.dentry_has_perm(cx, op.path.dentry, &perms)
    }

    fn bprm_check(&mut self, cx: &HookCx<'_>, path: Path) -> Decision {
        if !self.loaded {
            return Decision::Allow;
        }
        let Some(den) = cx.vfs.dentry(path.dentry) else { return Decision::Allow };
        let exe = self.inode_context(den.inode).clone();
        let scon = self.task_context(cx.pid).clone();
        let execute = self.has_perm(cx, &exe, Class::File, &["execute"], &den.name, Some(den.inode));
        if execute != Decision::Allow {
            return execute;
        }
        let Some(new_ty) = self.policy.transition(&scon.ty, &exe.ty, Class::Process, "").map(str::to_owned) else {
            return Decision::Allow;
        };
        let new = Context { ty: new_ty, ..scon.clone() };
        let d = Self::first([
            self.has_perm(cx, &new, Class::Process, &["transition"], &den.name, None),
            // entrypoint is checked for the new domain on the program.
            {
                let allowed = self.policy.allowed(&new.ty, &exe.ty, Class::File);
                if allowed & Class::File.bit("entrypoint").unwrap_or(0) != 0 {
                    Decision::Allow
                } else {
                    let audit = format!(
                        "avc:  denied  {{ entrypoint }} for  pid={} comm=\"{}\" name=\"{}\" ino={} scontext={new} \
                         tcontext={exe} tclass=file permissive=0",
                        cx.pid.0, cx.comm, den.name, den.inode.0
                    );
                    Decision::Deny { errno: Errno::EACCES, why: format!("{{ entrypoint }} {}", exe.ty), audit }
                }
            },
        ]);
        if d == Decision::Allow {
            self.pending.insert(cx.pid, new);
        }
        d
    }

    fn sb_mount(&mut self, cx: &HookCx<'_>, _: &str, path: Path) -> Decision {
        self.dentry_has_perm(cx, path.dentry, &["mounton"])
    }

    fn bprm_committing_creds(&mut self, pid: Pid, _: Path, _: &Vfs) {
        if let Some(c) = self.pending.remove(&pid) {
            self.tasks.insert(pid, c);
        }
    }

    fn inode_free(&mut self, ino: InodeId) {
        self.inodes.remove(&ino);
    }

    fn task_free(&mut self, pid: Pid) {
        self.tasks.remove(&pid);
        self.pending.remove(&pid);
    }

    fn task_forked(&mut self, parent: Pid, child: Pid) {
        if let Some(c) = self.tasks.get(&parent).cloned() {
            self.tasks.insert(child, c);
        }
    }
}
