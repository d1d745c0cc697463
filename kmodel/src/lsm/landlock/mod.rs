//! A sandbox in Landlock's image: unprivileged, self-imposed rulesets
//! stacked in layers, with rules bound to inodes ("path beneath" a
//! directory), checked by walking up from the object to the real root.
//!
//! ```text
//! # a ruleset: what this layer restricts, then what it allows where
//! handled read_file write_file read_dir make_reg make_dir remove_file refer
//! allow /usr read_file read_dir
//! allow /tmp read_file write_file make_reg remove_file refer
//! ```
//!
//! Loading a ruleset (`policy landlock FILE`) is `landlock_create_ruleset`,
//! `landlock_add_rule` for each `allow` (its path is opened now: the rule
//! belongs to that inode, so it follows bind mounts and survives renames),
//! and `landlock_restrict_self`: the calling process, and the processes it
//! starts afterwards, get one more layer. An access is allowed where every
//! layer that handles it has a rule granting it on the object or one of its
//! parents, walking up through mounts to the namespace's real root (a
//! chroot does not stop the walk). Moving a file to another directory
//! (link, rename) needs `refer` on both sides and must not gain access:
//! otherwise `EXDEV`, as Landlock answers so that `mv` falls back to a copy.
//! A sandboxed process may not mount (`EPERM`). Landlock needs the path
//! hooks: under the 2006 table only opens and execs are checked.

use std::collections::BTreeMap;

use super::policy::PolicyError;
use super::{Decision, HookCx, LabelObject, ModuleState, SecurityOps};
use crate::kernel::{Errno, File, InodeId, Pid};
use crate::vfs::{DentryId, InodeKind, Mask, Path, Vfs};

/// `LANDLOCK_ACCESS_FS_*`, in Landlock's bit order.
pub const ACCESSES: [&str; 15] = [
    "execute",
    "write_file",
    "read_file",
    "read_dir",
    "remove_dir",
    "remove_file",
    "make_char",
    "make_dir",
    "make_reg",
    "make_sock",
    "make_fifo",
    "make_block",
    "make_sym",
    "refer",
    "truncate",
];

/// The bit of access `name`.
pub fn access(name: &str) -> Option<u32> {
    ACCESSES.iter().position(|a| *a == name).map(|i| 1 << i)
}

fn bit(name: &str) -> u32 {
    access(name).expect("a known access")
}

fn names(mask: u32) -> String {
    ACCESSES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, a)| format!("fs.{a}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A parsed ruleset: what it handles, and its rules by path (not yet
/// opened).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ruleset {
    /// Handled accesses (`refer` is always handled, as in Landlock).
    pub handled: u32,
    /// `(path, accesses)` in file order.
    pub rules: Vec<(String, u32)>,
}

/// Parse a ruleset file.
///
/// # Errors
/// An unknown keyword or access, a rule granting an access the ruleset does
/// not handle (`landlock_add_rule` answers `EINVAL`), a missing path.
pub fn parse(text: &str) -> Result<Ruleset, PolicyError> {
    let mut handled = None;
    let mut rules = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let content = line.split('#').next().unwrap_or("");
        let words: Vec<(usize, &str)> = content
            .char_indices()
            .filter(|&(j, c)| !c.is_whitespace() && (j == 0 || content[..j].ends_with(char::is_whitespace)))
            .map(|(j, _)| (j, content[j..].split_whitespace().next().unwrap_or("")))
            .collect();
        let Some(&(kc, kw)) = words.first() else { continue };
        let at = |col: usize, message: String| PolicyError { line: i + 1, column: col + 1, message };
        let accesses = |ws: &[(usize, &str)]| -> Result<u32, PolicyError> {
            let mut m = 0;
            for &(c, w) in ws {
                m |= access(w)
                    .ok_or_else(|| at(c, format!("unknown access '{w}' (expected one of {})", ACCESSES.join(" "))))?;
            }
            if ws.is_empty() {
                return Err(at(content.len(), "expected at least one access like read_file".into()));
            }
            Ok(m)
        };
        match kw {
            "handled" => {
                if handled.is_some() {
                    return Err(at(kc, "a ruleset has one 'handled' line".into()));
                }
                handled = Some(accesses(&words[1..])? | bit("refer"));
            }
            "allow" => {
                let Some(h) = handled else {
                    return Err(at(kc, "'allow' before 'handled': say first what the ruleset handles".into()));
                };
                let Some(&(pc, path)) = words.get(1) else {
                    return Err(at(content.len(), "expected a path like /usr after 'allow'".into()));
                };
                if !path.starts_with('/') {
                    return Err(at(pc, format!("expected an absolute path like /usr, found '{path}'")));
                }
                let m = accesses(&words[2..])?;
                if m & !h != 0 {
                    let (c, w) =
                        words[2..].iter().find(|(_, w)| access(w).unwrap_or(0) & !h != 0).copied().unwrap_or((pc, ""));
                    return Err(at(
                        c,
                        format!("access '{w}' is not handled by this ruleset (landlock_add_rule: EINVAL)"),
                    ));
                }
                rules.push((path.to_owned(), m));
            }
            _ => return Err(at(kc, format!("expected 'handled' or 'allow', found '{kw}'"))),
        }
    }
    match handled {
        Some(handled) => Ok(Ruleset { handled, rules }),
        None => Err(PolicyError { line: 1, column: 1, message: "a ruleset needs a 'handled' line".into() }),
    }
}

/// One layer: a ruleset whose rules are bound to inodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Its domain number (for audit records).
    pub id: u32,
    /// Handled accesses.
    pub handled: u32,
    /// Accesses granted beneath each inode.
    pub rules: BTreeMap<InodeId, u32>,
}

/// Landlock's most layers.
pub const MAX_LAYERS: usize = 16;

/// The Landlock-like module.
#[derive(Clone, Debug, Default)]
pub struct Landlock {
    domains: BTreeMap<Pid, Vec<Layer>>,
    next: u32,
}

impl Landlock {
    /// `landlock_restrict_self`: `pid` gets one more layer.
    ///
    /// # Errors
    /// `E2BIG` past [`MAX_LAYERS`].
    pub fn restrict_self(&mut self, pid: Pid, handled: u32, rules: BTreeMap<InodeId, u32>) -> Result<(), Errno> {
        let layers = self.domains.entry(pid).or_default();
        if layers.len() >= MAX_LAYERS {
            return Err(Errno::E2BIG);
        }
        self.next += 1;
        layers.push(Layer { id: self.next, handled, rules });
        Ok(())
    }

    /// The layers confining `pid`.
    pub fn layers(&self, pid: Pid) -> &[Layer] {
        self.domains.get(&pid).map_or(&[], Vec::as_slice)
    }

    /// What each layer grants on `p`: rules met walking up to the real root
    /// (mountpoints hidden by a mount are skipped, as Landlock does).
    fn granted(vfs: &Vfs, layers: &[Layer], p: Path) -> Vec<u32> {
        let mut g = vec![0u32; layers.len()];
        let mut cur = p;
        'walk: loop {
            let ino = vfs.d(cur.dentry).inode;
            for (l, layer) in layers.iter().enumerate() {
                g[l] |= layer.rules.get(&ino).copied().unwrap_or(0);
            }
            loop {
                let m = &vfs.mounts[&cur.mnt];
                if cur.dentry != m.root {
                    break;
                }
                match m.parent {
                    Some(mp) => cur = mp,
                    None => break 'walk,
                }
            }
            if vfs.is_fs_root(cur.dentry) {
                break;
            }
            cur.dentry = vfs.d(cur.dentry).parent;
        }
        g
    }

    /// The accesses of `want` some layer denies on `p`.
    fn missing(vfs: &Vfs, layers: &[Layer], p: Path, want: u32) -> u32 {
        let g = Self::granted(vfs, layers, p);
        layers.iter().zip(g).fold(0, |m, (l, g)| m | (want & l.handled & !g))
    }

    fn deny(cx: &HookCx<'_>, layers: &[Layer], errno: Errno, missing: u32, path: Path) -> Decision {
        let name = cx.d_path(path).name;
        let domain = layers.last().map_or(0, |l| l.id);
        Decision::Deny {
            errno,
            why: format!("{} {name}", names(missing)),
            audit: format!(
                "landlock: denied blockers={} path=\"{name}\" domain={domain} pid={} comm=\"{}\"",
                names(missing),
                cx.pid.0,
                cx.comm
            ),
        }
    }

    fn check(&self, cx: &HookCx<'_>, p: Path, want: u32) -> Decision {
        let layers = self.layers(cx.pid);
        if layers.is_empty() {
            return Decision::Allow;
        }
        let missing = Self::missing(cx.vfs, layers, p, want);
        if missing == 0 { Decision::Allow } else { Self::deny(cx, layers, Errno::EACCES, missing, p) }
    }

    fn make_access(vfs: &Vfs, d: DentryId) -> u32 {
        match vfs.d_inode(d).kind {
            InodeKind::Regular => bit("make_reg"),
            InodeKind::Directory => bit("make_dir"),
            InodeKind::Symlink(_) => bit("make_sym"),
        }
    }

    fn remove_access(vfs: &Vfs, d: DentryId) -> u32 {
        if vfs.d_is_dir(d) { bit("remove_dir") } else { bit("remove_file") }
    }

    /// `current_check_refer_path`: a link or rename of `old` (in
    /// `old_dir`) into `new_dir`, replacing `target` if any.
    fn check_refer(
        &self,
        cx: &HookCx<'_>,
        old_dir: Path,
        old: DentryId,
        new_dir: Path,
        target: Option<DentryId>,
        removes: bool,
    ) -> Decision {
        let layers = self.layers(cx.pid);
        if layers.is_empty() {
            return Decision::Allow;
        }
        let vfs = cx.vfs;
        let want_old = if removes { Self::remove_access(vfs, old) } else { 0 };
        let mut want_new = Self::make_access(vfs, old);
        if let Some(t) = target {
            want_new |= Self::remove_access(vfs, t);
        }
        if old_dir.dentry == new_dir.dentry {
            return self.check(cx, new_dir, want_old | want_new);
        }
        let (g_old, g_new) = (Self::granted(vfs, layers, old_dir), Self::granted(vfs, layers, new_dir));
        let eacces_old = layers.iter().zip(&g_old).fold(0, |m, (l, g)| m | (want_old & l.handled & !g));
        let eacces_new = layers.iter().zip(&g_new).fold(0, |m, (l, g)| m | (want_new & l.handled & !g));
        if eacces_new != 0 {
            return Self::deny(cx, layers, Errno::EACCES, eacces_new, new_dir);
        }
        if eacces_old != 0 {
            return Self::deny(cx, layers, Errno::EACCES, eacces_old, old_dir);
        }
        // What the moved object may be used for must not grow: its own
        // accesses for a file, everything beneath it for a directory.
        let refer = bit("refer");
        let relevant = if vfs.d_is_dir(old) {
            !refer
        } else {
            bit("execute") | bit("write_file") | bit("read_file") | bit("truncate")
        };
        for ((l, go), gn) in layers.iter().zip(&g_old).zip(&g_new) {
            let widened = gn & l.handled & relevant & !go;
            if go & refer == 0 || gn & refer == 0 || widened != 0 {
                let missing = if go & refer == 0 || gn & refer == 0 { refer } else { widened };
                return Self::deny(cx, layers, Errno::EXDEV, missing, new_dir);
            }
        }
        Decision::Allow
    }
}

impl SecurityOps for Landlock {
    fn name(&self) -> &'static str {
        "landlock"
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn box_clone(&self) -> Box<dyn SecurityOps> {
        Box::new(self.clone())
    }
    /// Tasks: their layers, `;`-separated, each `DOMAIN HANDLED INO=ACCESS,...`
    /// (access masks as bits); counter `next_domain`.
    fn save_state(&self) -> Option<ModuleState> {
        let labels = self
            .domains
            .iter()
            .filter(|(_, l)| !l.is_empty())
            .map(|(p, layers)| {
                let l: Vec<String> = layers
                    .iter()
                    .map(|l| {
                        let r: Vec<String> = l.rules.iter().map(|(i, a)| format!("{}={a}", i.0)).collect();
                        format!("{} {} {}", l.id, l.handled, r.join(","))
                    })
                    .collect();
                (LabelObject::Task(*p), l.join(";"))
            })
            .collect();
        Some(ModuleState { labels, counters: vec![("next_domain".into(), u64::from(self.next))] })
    }

    fn restore_state(&mut self, state: &ModuleState) -> Result<(), String> {
        let mut domains = BTreeMap::new();
        for (obj, label) in &state.labels {
            let LabelObject::Task(pid) = obj else {
                return Err(format!("a label on {obj:?} (rulesets confine tasks)"));
            };
            let bad = |what: &str| format!("task {} layers '{label}': {what}", pid.0);
            let mut layers = Vec::new();
            for l in label.split(';') {
                let mut f = l.splitn(3, ' ');
                let (Some(id), Some(handled), Some(rules)) = (f.next(), f.next(), f.next()) else {
                    return Err(bad("expected DOMAIN HANDLED INO=ACCESS,..."));
                };
                let id = id.parse().map_err(|_| bad("bad domain id"))?;
                let handled = handled.parse().map_err(|_| bad("bad handled mask"))?;
                let mut map = BTreeMap::new();
                for r in rules.split(',').filter(|r| !r.is_empty()) {
                    let (i, a) = r.split_once('=').ok_or_else(|| bad("expected INO=ACCESS"))?;
                    let i = i.parse().map_err(|_| bad("bad inode number"))?;
                    map.insert(InodeId(i), a.parse().map_err(|_| bad("bad access mask"))?);
                }
                layers.push(Layer { id, handled, rules: map });
            }
            if layers.len() > MAX_LAYERS {
                return Err(bad(&format!("more than {MAX_LAYERS} layers")));
            }
            domains.insert(*pid, layers);
        }
        let mut next = None;
        for (c, v) in &state.counters {
            match c.as_str() {
                "next_domain" => next = Some(u32::try_from(*v).map_err(|_| format!("next_domain {v} is too large"))?),
                _ => return Err(format!("unknown counter '{c}'")),
            }
        }
        self.next = next.ok_or("counter next_domain missing")?;
        self.domains = domains;
        Ok(())
    }

    fn file_open(&mut self, cx: &HookCx<'_>, file: &File) -> Decision {
        let Some(op) = file.path else { return Decision::Allow };
        let dir = cx.vfs.d_is_dir(op.path.dentry);
        let mut want = 0;
        if file.readable {
            want |= if dir { bit("read_dir") } else { bit("read_file") };
        }
        if file.writable {
            want |= bit("write_file");
        }
        self.check(cx, op.path, want)
    }

    fn file_permission(&mut self, _: &HookCx<'_>, _: &File, _: Mask) -> Decision {
        // Landlock checks at open; an open file keeps what it was granted.
        Decision::Allow
    }

    fn bprm_check(&mut self, cx: &HookCx<'_>, path: Path) -> Decision {
        self.check(cx, path, bit("execute"))
    }

    fn path_mknod(&mut self, cx: &HookCx<'_>, dir: Path, _: &str, _: u32) -> Decision {
        self.check(cx, dir, bit("make_reg"))
    }

    fn path_mkdir(&mut self, cx: &HookCx<'_>, dir: Path, _: &str, _: u32) -> Decision {
        self.check(cx, dir, bit("make_dir"))
    }

    fn path_symlink(&mut self, cx: &HookCx<'_>, dir: Path, _: &str, _: &str) -> Decision {
        self.check(cx, dir, bit("make_sym"))
    }

    fn path_unlink(&mut self, cx: &HookCx<'_>, dir: Path, _: DentryId) -> Decision {
        self.check(cx, dir, bit("remove_file"))
    }

    fn path_rmdir(&mut self, cx: &HookCx<'_>, dir: Path, _: DentryId) -> Decision {
        self.check(cx, dir, bit("remove_dir"))
    }

    fn path_link(&mut self, cx: &HookCx<'_>, old: Path, new_dir: Path, _: &str) -> Decision {
        let old_dir = Path { mnt: old.mnt, dentry: cx.vfs.d(old.dentry).parent };
        self.check_refer(cx, old_dir, old.dentry, new_dir, None, false)
    }

    fn path_rename(
        &mut self,
        cx: &HookCx<'_>,
        old_dir: Path,
        old: DentryId,
        new_dir: Path,
        _: &str,
        target: Option<DentryId>,
    ) -> Decision {
        self.check_refer(cx, old_dir, old, new_dir, target, true)
    }

    fn path_truncate(&mut self, cx: &HookCx<'_>, path: Path) -> Decision {
        self.check(cx, path, bit("truncate"))
    }

    fn sb_mount(&mut self, cx: &HookCx<'_>, dev_name: &str, path: Path) -> Decision {
        if self.layers(cx.pid).is_empty() {
            return Decision::Allow;
        }
        let name = cx.d_path(path).name;
        Decision::Deny {
            errno: Errno::EPERM,
            why: format!("mount {dev_name} on {name}"),
            audit: format!(
                "landlock: denied blockers=fs.change_topology path=\"{name}\" pid={} comm=\"{}\"",
                cx.pid.0, cx.comm
            ),
        }
    }

    fn task_free(&mut self, pid: Pid) {
        self.domains.remove(&pid);
    }

    fn task_forked(&mut self, parent: Pid, child: Pid) {
        if let Some(d) = self.domains.get(&parent).cloned() {
            self.domains.insert(child, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rulesets_parse_and_errors_point_at_the_column() {
        let r = parse("handled read_file make_reg\nallow /usr read_file # comment\n\nallow /tmp make_reg read_file\n")
            .unwrap();
        assert_eq!(r.rules.len(), 2);
        assert_ne!(r.handled & bit("refer"), 0, "refer is always handled");
        for (text, line, col, msg) in [
            ("handled read_file\nallow /usr fly\n", 2, 12, "unknown access 'fly'"),
            ("handled read_file\nallow /usr write_file\n", 2, 12, "access 'write_file' is not handled"),
            ("allow /usr read_file\n", 1, 1, "'allow' before 'handled'"),
            ("handled read_file\nallow usr read_file\n", 2, 7, "expected an absolute path"),
            ("handled read_file\ndeny /usr read_file\n", 2, 1, "expected 'handled' or 'allow'"),
            ("# nothing\n", 1, 1, "a ruleset needs a 'handled' line"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!((e.line, e.column), (line, col), "{text}: {e}");
            assert!(e.message.starts_with(msg), "{text}: {}", e.message);
        }
    }
}
