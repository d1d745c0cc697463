//! A pathname module in AppArmor's image: profiles attached to programs by
//! their path, rules on file names with globs, enforce and complain modes,
//! and AppArmor's audit records.
//!
//! Names are what the process would type: under today's hook table, the
//! path hooks and `file_open` give a `struct path`, and the name is built
//! with `d_path` from the root of the process's mount namespace (not its
//! chroot: AppArmor's default). Under the 2006 table the module has only
//! dentries and inodes, so it names objects from their filesystem's root,
//! blind to mounts (`dentry_path`), and finds a name for a bare inode with
//! `d_find_alias` — any of its hard links. It then has to build a name on
//! every `file_permission`, where today's module checks once at open and
//! keeps the permissions it granted with the open file.
//!
//! What a rule says is all it knows: a file reached by another name (a hard
//! link, a bind mount, a renamed parent, another namespace) is judged by
//! that name. A directory's name ends in `/`. A deleted file's checks are
//! delegated to what was granted when it was opened. Unconfined processes
//! are not checked; a confined one may mount nothing.

mod profile;

use std::collections::BTreeMap;

pub use profile::{ExecMode, Perms, Profile, Rule, glob_regex, parse};

use super::policy::PolicyError;
use super::{Decision, Era, HookCx, LabelObject, ModuleState, SecurityOps};
use crate::kernel::{Errno, File, InodeId, Pid};
use crate::vfs::{BuiltName, DentryId, Mask, OpenFileId, Path, Vfs};

/// What today's module keeps with an open file (`struct aa_file_ctx`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct FileCtx {
    /// The profile that opened it (`None`: unconfined).
    profile: Option<usize>,
    /// What it was granted.
    allowed: Perms,
}

/// The AppArmor-like module.
#[derive(Clone, Debug, Default)]
pub struct AppArmor {
    profiles: Vec<Profile>,
    /// Confined processes and their profile.
    tasks: BTreeMap<Pid, usize>,
    /// The profile an exec in progress will attach (`None`: unconfined).
    pending: BTreeMap<Pid, Option<usize>>,
    files: BTreeMap<OpenFileId, FileCtx>,
}

impl AppArmor {
    /// Load profiles; one with the name of a loaded profile replaces it
    /// (processes confined by it now follow the new rules).
    ///
    /// # Errors
    /// The file does not parse.
    pub fn load(&mut self, text: &str) -> Result<usize, PolicyError> {
        let new = parse(text)?;
        let n = new.len();
        for p in new {
            match self.profiles.iter().position(|q| q.name == p.name) {
                Some(i) => self.profiles[i] = p,
                None => self.profiles.push(p),
            }
        }
        Ok(n)
    }

    /// The profile confining `pid`, if any.
    pub fn profile_of(&self, pid: Pid) -> Option<&Profile> {
        self.tasks.get(&pid).map(|&i| &self.profiles[i])
    }

    /// The permissions profile `prof` grants for `name`, for a task that
    /// owns the file or not.
    pub fn perms_for(prof: &Profile, name: &str, owner: bool) -> Perms {
        let (mut allow, mut deny) = (Perms::default(), Perms::default());
        for r in prof.rules.iter().filter(|r| (!r.owner || owner) && r.matches(name)) {
            if r.deny {
                deny = deny.or(r.perms);
            } else {
                allow = allow.or(r.perms);
            }
        }
        allow.granted().minus(deny.granted())
    }

    /// Check `req` on `name` for the calling task.
    fn check(&self, cx: &HookCx<'_>, op: &str, name: &BuiltName, ouid: u32, req: Perms) -> Decision {
        let Some(&idx) = self.tasks.get(&cx.pid) else {
            return Decision::Allow;
        };
        let prof = &self.profiles[idx];
        if name.disconnected {
            return Self::verdict(
                cx,
                op,
                prof,
                &name.name,
                ouid,
                req,
                req,
                " info=\"Failed name lookup - disconnected path\"",
            );
        }
        let missing = req.minus(Self::perms_for(prof, &name.name, cx.cred.uid == ouid));
        if missing.is_empty() {
            return Decision::Allow;
        }
        Self::verdict(cx, op, prof, &name.name, ouid, req, missing, "")
    }

    /// A denial (or, in complain mode, a complaint) with its audit record.
    #[allow(clippy::too_many_arguments)] // the fields of one audit record
    fn verdict(
        cx: &HookCx<'_>,
        op: &str,
        prof: &Profile,
        name: &str,
        ouid: u32,
        req: Perms,
        missing: Perms,
        info: &str,
    ) -> Decision {
        let verdict = if prof.complain { "ALLOWED" } else { "DENIED" };
        let audit = format!(
            "apparmor=\"{verdict}\" operation=\"{op}\" profile=\"{}\" name=\"{name}\" pid={} comm=\"{}\" \
             requested_mask=\"{}\" denied_mask=\"{}\" fsuid={} ouid={ouid}{info}",
            prof.name,
            cx.pid.0,
            cx.comm,
            req.letters(),
            missing.letters(),
            cx.cred.uid,
        );
        let why = format!("{} {name}", missing.letters());
        if prof.complain {
            Decision::Complain { why, audit }
        } else {
            Decision::Deny { errno: Errno::EACCES, why, audit }
        }
    }

    /// The first of `decisions` that is not an allow.
    fn first(decisions: impl IntoIterator<Item = Decision>) -> Decision {
        decisions.into_iter().find(|d| *d != Decision::Allow).unwrap_or(Decision::Allow)
    }

    /// The name of a dentry in `dir`'s directory: today from the namespace
    /// root, in 2006 from the filesystem root.
    fn child_name(cx: &HookCx<'_>, dir: BuiltName, name: &str, is_dir: bool) -> BuiltName {
        let mut full = if dir.name == "/" { format!("/{name}") } else { format!("{}/{name}", dir.name) };
        if is_dir {
            full.push('/');
        }
        let _ = cx;
        BuiltName { name: full, ..dir }
    }

    fn dir_slash(vfs: &Vfs, d: DentryId, mut n: BuiltName) -> BuiltName {
        if vfs.d_is_dir(d) && !n.name.ends_with('/') {
            n.name.push('/');
        }
        n
    }

    fn uid_of(vfs: &Vfs, d: DentryId) -> u32 {
        vfs.d_inode(d).uid
    }

    /// A new link must not grant more than its target (AppArmor's link
    /// subset rule).
    fn link_check(&self, cx: &HookCx<'_>, old: &BuiltName, new: &BuiltName, ouid: u32) -> Decision {
        let d = self.check(cx, "link", new, ouid, Perms::LINK);
        if d != Decision::Allow {
            return d;
        }
        let Some(&idx) = self.tasks.get(&cx.pid) else { return Decision::Allow };
        let prof = &self.profiles[idx];
        let owner = cx.cred.uid == ouid;
        let (target, link) = (Self::perms_for(prof, &old.name, owner), Self::perms_for(prof, &new.name, owner));
        if link.minus(Perms::LINK).minus(target).is_empty() {
            return Decision::Allow;
        }
        let audit = format!(
            "apparmor=\"{}\" operation=\"link\" profile=\"{}\" name=\"{}\" pid={} comm=\"{}\" requested_mask=\"l\" \
             denied_mask=\"l\" fsuid={} ouid={ouid} target=\"{}\" info=\"link grants more than its target\"",
            if prof.complain { "ALLOWED" } else { "DENIED" },
            prof.name,
            new.name,
            cx.pid.0,
            cx.comm,
            cx.cred.uid,
            old.name
        );
        let why = format!("l {} (more than {})", new.name, old.name);
        if prof.complain {
            Decision::Complain { why, audit }
        } else {
            Decision::Deny { errno: Errno::EACCES, why, audit }
        }
    }

    fn open_perms(file: &File) -> Perms {
        let mut p = Perms::default();
        if file.readable {
            p = p.or(Perms::READ);
        }
        if file.writable {
            p = p.or(Perms::WRITE);
        }
        p
    }

    fn mask_perms(mask: Mask) -> Perms {
        let mut p = Perms::default();
        if mask.contains(Mask::READ) {
            p = p.or(Perms::READ);
        }
        if mask.contains(Mask::WRITE) {
            p = p.or(Perms::WRITE);
        }
        if mask.contains(Mask::APPEND) {
            p = p.or(Perms::APPEND);
        }
        p
    }
}

impl SecurityOps for AppArmor {
    fn name(&self) -> &'static str {
        "apparmor"
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn box_clone(&self) -> Box<dyn SecurityOps> {
        Box::new(self.clone())
    }
    /// Tasks: the profile's name; open files: the granted permissions' bits
    /// and the profile that opened it, if any (`"3 /usr/bin/cat"`).
    fn save_state(&self) -> Option<ModuleState> {
        let mut labels: Vec<_> =
            self.tasks.iter().map(|(p, &i)| (LabelObject::Task(*p), self.profiles[i].name.clone())).collect();
        labels.extend(self.files.iter().map(|(id, fc)| {
            let l = match fc.profile {
                Some(i) => format!("{} {}", fc.allowed.0, self.profiles[i].name),
                None => fc.allowed.0.to_string(),
            };
            (LabelObject::File(*id), l)
        }));
        Some(ModuleState { labels, counters: Vec::new() })
    }

    fn restore_state(&mut self, state: &ModuleState) -> Result<(), String> {
        let find = |name: &str| {
            self.profiles
                .iter()
                .position(|p| p.name == name)
                .ok_or_else(|| format!("no profile named '{name}' is loaded"))
        };
        let (mut tasks, mut files) = (BTreeMap::new(), BTreeMap::new());
        for (obj, label) in &state.labels {
            match obj {
                LabelObject::Task(p) => {
                    tasks.insert(*p, find(label)?);
                }
                LabelObject::File(id) => {
                    let (bits, name) = label.split_once(' ').map_or((label.as_str(), None), |(b, n)| (b, Some(n)));
                    let bits =
                        bits.parse().map_err(|_| format!("open file label '{label}': expected BITS [PROFILE]"))?;
                    files.insert(*id, FileCtx { profile: name.map(find).transpose()?, allowed: Perms(bits) });
                }
                LabelObject::Inode(i) => {
                    return Err(format!("a label on inode {} (profiles do not label inodes)", i.0));
                }
            }
        }
        if let Some((c, _)) = state.counters.first() {
            return Err(format!("unknown counter '{c}'"));
        }
        (self.tasks, self.files) = (tasks, files);
        Ok(())
    }

    // Today's table: path hooks, file_open, cached file_permission.

    fn path_mknod(&mut self, cx: &HookCx<'_>, dir: Path, name: &str, _: u32) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        let n = Self::child_name(cx, cx.ns_path(dir), name, false);
        self.check(cx, "mknod", &n, cx.cred.uid, Perms::CREATE)
    }

    fn path_mkdir(&mut self, cx: &HookCx<'_>, dir: Path, name: &str, _: u32) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        let n = Self::child_name(cx, cx.ns_path(dir), name, true);
        self.check(cx, "mkdir", &n, cx.cred.uid, Perms::CREATE)
    }

    fn path_symlink(&mut self, cx: &HookCx<'_>, dir: Path, name: &str, _: &str) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        let n = Self::child_name(cx, cx.ns_path(dir), name, false);
        self.check(cx, "symlink", &n, cx.cred.uid, Perms::CREATE)
    }

    fn path_link(&mut self, cx: &HookCx<'_>, old: Path, new_dir: Path, new_name: &str) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        let o = cx.ns_path(old);
        let n = Self::child_name(cx, cx.ns_path(new_dir), new_name, false);
        self.link_check(cx, &o, &n, Self::uid_of(cx.vfs, old.dentry))
    }

    fn path_unlink(&mut self, cx: &HookCx<'_>, dir: Path, victim: DentryId) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        let n = cx.ns_path(Path { mnt: dir.mnt, dentry: victim });
        self.check(cx, "unlink", &n, Self::uid_of(cx.vfs, victim), Perms::DELETE)
    }

    fn path_rmdir(&mut self, cx: &HookCx<'_>, dir: Path, victim: DentryId) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        let n = Self::dir_slash(cx.vfs, victim, cx.ns_path(Path { mnt: dir.mnt, dentry: victim }));
        self.check(cx, "rmdir", &n, Self::uid_of(cx.vfs, victim), Perms::DELETE)
    }

    fn path_rename(
        &mut self,
        cx: &HookCx<'_>,
        old_dir: Path,
        old: DentryId,
        new_dir: Path,
        new_name: &str,
        _: Option<DentryId>,
    ) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        let is_dir = cx.vfs.d_is_dir(old);
        let o = Self::dir_slash(cx.vfs, old, cx.ns_path(Path { mnt: old_dir.mnt, dentry: old }));
        let n = Self::child_name(cx, cx.ns_path(new_dir), new_name, is_dir);
        let ouid = Self::uid_of(cx.vfs, old);
        Self::first([
            self.check(cx, "rename_src", &o, ouid, Perms::READ.or(Perms::WRITE)),
            self.check(cx, "rename_dest", &n, ouid, Perms::WRITE.or(Perms::CREATE)),
        ])
    }

    fn path_truncate(&mut self, cx: &HookCx<'_>, path: Path) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        let n = cx.ns_path(path);
        self.check(cx, "truncate", &n, Self::uid_of(cx.vfs, path.dentry), Perms::WRITE)
    }

    fn path_chmod(&mut self, cx: &HookCx<'_>, path: Path, _: u32) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        let n = Self::dir_slash(cx.vfs, path.dentry, cx.ns_path(path));
        self.check(cx, "chmod", &n, Self::uid_of(cx.vfs, path.dentry), Perms::WRITE)
    }

    fn path_chown(&mut self, cx: &HookCx<'_>, path: Path, _: u32, _: u32) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        let n = Self::dir_slash(cx.vfs, path.dentry, cx.ns_path(path));
        self.check(cx, "chown", &n, Self::uid_of(cx.vfs, path.dentry), Perms::WRITE)
    }

    fn file_open(&mut self, cx: &HookCx<'_>, file: &File) -> Decision {
        let Some(op) = file.path else { return Decision::Allow };
        if cx.era != Era::Today {
            return Decision::Allow;
        }
        let req = Self::open_perms(file);
        if !self.tasks.contains_key(&cx.pid) {
            self.files.insert(op.id, FileCtx { profile: None, allowed: req });
            return Decision::Allow;
        }
        let n = Self::dir_slash(cx.vfs, op.path.dentry, cx.ns_path(op.path));
        let d = self.check(cx, "open", &n, Self::uid_of(cx.vfs, op.path.dentry), req);
        if !matches!(d, Decision::Deny { .. }) {
            self.files.insert(op.id, FileCtx { profile: self.tasks.get(&cx.pid).copied(), allowed: req });
        }
        d
    }

    fn file_permission(&mut self, cx: &HookCx<'_>, file: &File, mask: Mask) -> Decision {
        let Some(op) = file.path else { return Decision::Allow };
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        let req = Self::mask_perms(mask);
        let current = self.tasks.get(&cx.pid).copied();
        if cx.era == Era::Today
            && let Some(fc) = self.files.get(&op.id)
            && fc.profile == current
            && fc.allowed.granted().contains(req)
        {
            return Decision::Allow;
        }
        if cx.vfs.d(op.path.dentry).unhashed {
            // PATH_DELEGATE_DELETED: no name to check; what the open was
            // granted stands.
            return Decision::Allow;
        }
        let n = match cx.era {
            Era::Today => cx.ns_path(op.path),
            Era::Y2006 => cx.dentry_path(op.path.dentry),
        };
        self.check(cx, "file_perm", &n, Self::uid_of(cx.vfs, op.path.dentry), req)
    }

    fn bprm_check(&mut self, cx: &HookCx<'_>, path: Path) -> Decision {
        let n = match cx.era {
            Era::Today => cx.ns_path(path),
            Era::Y2006 => cx.dentry_path(path.dentry),
        };
        let attached =
            |s: &Self| s.profiles.iter().position(|p| p.attach.as_ref().is_some_and(|(_, re)| re.is_match(&n.name)));
        let Some(&idx) = self.tasks.get(&cx.pid) else {
            self.pending.insert(cx.pid, attached(self));
            return Decision::Allow;
        };
        let prof = &self.profiles[idx];
        let owner = cx.cred.uid == Self::uid_of(cx.vfs, path.dentry);
        let denied = prof.rules.iter().any(|r| r.deny && r.perms.contains(Perms::EXEC) && r.matches(&n.name));
        let rule = prof.rules.iter().find(|r| !r.deny && r.exec.is_some() && (!r.owner || owner) && r.matches(&n.name));
        let target = match (denied, rule.and_then(|r| r.exec)) {
            (false, Some(ExecMode::Inherit)) => Some(Some(idx)),
            (false, Some(ExecMode::Unconfined)) => Some(None),
            (false, Some(ExecMode::Profile)) => attached(self).map(Some),
            _ => None,
        };
        match target {
            Some(t) => {
                self.pending.insert(cx.pid, t);
                Decision::Allow
            }
            None => {
                let d = Self::verdict(
                    cx,
                    "exec",
                    prof,
                    &n.name,
                    Self::uid_of(cx.vfs, path.dentry),
                    Perms::EXEC,
                    Perms::EXEC,
                    "",
                );
                if matches!(d, Decision::Complain { .. }) {
                    self.pending.insert(cx.pid, Some(idx));
                }
                d
            }
        }
    }

    fn sb_mount(&mut self, cx: &HookCx<'_>, dev_name: &str, path: Path) -> Decision {
        let Some(&idx) = self.tasks.get(&cx.pid) else { return Decision::Allow };
        let n = cx.ns_path(path);
        match Self::verdict(
            cx,
            "mount",
            &self.profiles[idx],
            &n.name,
            0,
            Perms::WRITE,
            Perms::WRITE,
            " info=\"no mount rules\"",
        ) {
            Decision::Deny { errno, audit, .. } => {
                Decision::Deny { errno, why: format!("mount {dev_name} on {}", n.name), audit }
            }
            other => other,
        }
    }

    // The 2006 table: inode hooks, names rebuilt from dentries.

    fn inode_permission(&mut self, cx: &HookCx<'_>, ino: InodeId, mask: Mask) -> Decision {
        if cx.era == Era::Today || !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        let Some(inode) = cx.vfs.inode(ino) else { return Decision::Allow };
        let req = Self::mask_perms(mask);
        if inode.is_dir() && !mask.intersects(Mask::READ | Mask::WRITE) || req.is_empty() {
            // Searching a directory: no rule governs it.
            return Decision::Allow;
        }
        let uid = inode.uid;
        let Some(mut n) = cx.inode_path(ino) else { return Decision::Allow };
        if inode.is_dir() {
            n.name.push('/');
        }
        self.check(cx, "inode_permission", &n, uid, req)
    }

    fn inode_create(&mut self, cx: &HookCx<'_>, dir: DentryId, name: &str, _: u32) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        if cx.era == Era::Today {
            return Decision::Allow;
        }
        let n = Self::child_name(cx, cx.dentry_path(dir), name, false);
        self.check(cx, "mknod", &n, cx.cred.uid, Perms::CREATE)
    }

    fn inode_mkdir(&mut self, cx: &HookCx<'_>, dir: DentryId, name: &str, _: u32) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        if cx.era == Era::Today {
            return Decision::Allow;
        }
        let n = Self::child_name(cx, cx.dentry_path(dir), name, true);
        self.check(cx, "mkdir", &n, cx.cred.uid, Perms::CREATE)
    }

    fn inode_symlink(&mut self, cx: &HookCx<'_>, dir: DentryId, name: &str, _: &str) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        if cx.era == Era::Today {
            return Decision::Allow;
        }
        let n = Self::child_name(cx, cx.dentry_path(dir), name, false);
        self.check(cx, "symlink", &n, cx.cred.uid, Perms::CREATE)
    }

    fn inode_link(&mut self, cx: &HookCx<'_>, old: DentryId, dir: DentryId, name: &str) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        if cx.era == Era::Today {
            return Decision::Allow;
        }
        let o = cx.dentry_path(old);
        let n = Self::child_name(cx, cx.dentry_path(dir), name, false);
        self.link_check(cx, &o, &n, Self::uid_of(cx.vfs, old))
    }

    fn inode_unlink(&mut self, cx: &HookCx<'_>, _: DentryId, victim: DentryId) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        if cx.era == Era::Today {
            return Decision::Allow;
        }
        let n = cx.dentry_path(victim);
        self.check(cx, "unlink", &n, Self::uid_of(cx.vfs, victim), Perms::DELETE)
    }

    fn inode_rmdir(&mut self, cx: &HookCx<'_>, _: DentryId, victim: DentryId) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        if cx.era == Era::Today {
            return Decision::Allow;
        }
        let n = Self::dir_slash(cx.vfs, victim, cx.dentry_path(victim));
        self.check(cx, "rmdir", &n, Self::uid_of(cx.vfs, victim), Perms::DELETE)
    }

    fn inode_rename(
        &mut self,
        cx: &HookCx<'_>,
        _: DentryId,
        old: DentryId,
        new_dir: DentryId,
        new_name: &str,
        _: Option<DentryId>,
    ) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        if cx.era == Era::Today {
            return Decision::Allow;
        }
        let is_dir = cx.vfs.d_is_dir(old);
        let o = Self::dir_slash(cx.vfs, old, cx.dentry_path(old));
        let n = Self::child_name(cx, cx.dentry_path(new_dir), new_name, is_dir);
        let ouid = Self::uid_of(cx.vfs, old);
        Self::first([
            self.check(cx, "rename_src", &o, ouid, Perms::READ.or(Perms::WRITE)),
            self.check(cx, "rename_dest", &n, ouid, Perms::WRITE.or(Perms::CREATE)),
        ])
    }

    fn inode_setattr(&mut self, cx: &HookCx<'_>, dentry: DentryId) -> Decision {
        if !self.tasks.contains_key(&cx.pid) {
            return Decision::Allow;
        }
        if cx.era == Era::Today {
            return Decision::Allow;
        }
        let n = Self::dir_slash(cx.vfs, dentry, cx.dentry_path(dentry));
        self.check(cx, "setattr", &n, Self::uid_of(cx.vfs, dentry), Perms::WRITE)
    }

    // Notifications.

    fn bprm_committing_creds(&mut self, pid: Pid, _: Path, _: &Vfs) {
        if let Some(p) = self.pending.remove(&pid) {
            match p {
                Some(i) => self.tasks.insert(pid, i),
                None => self.tasks.remove(&pid),
            };
        }
    }

    fn file_free(&mut self, file: &File) {
        if let Some(op) = file.path {
            self.files.remove(&op.id);
        }
    }

    fn task_free(&mut self, pid: Pid) {
        self.tasks.remove(&pid);
        self.pending.remove(&pid);
    }

    fn task_forked(&mut self, parent: Pid, child: Pid) {
        if let Some(&i) = self.tasks.get(&parent) {
            self.tasks.insert(child, i);
        }
    }
}
