//! The `lsm` section: the security modules as [`crate::lsm::LsmState`]
//! turned into image records and back.
//!
//! An open file's label is saved under the first (pid, fd) of the image
//! that holds it and restored onto the open file that descriptor holds
//! (open file ids are kept by the image, so it is the same one). Every
//! process, inode and descriptor a label names is checked before use.

use std::collections::{BTreeMap, BTreeSet};

use super::checkpoint::CheckpointError;
use super::image::{LabelObjectRec, LabelRec, LsmRec, ModuleRec, PolicyRec, ProcessRec};
use super::restore::RestoreError;
use crate::kernel::{Fd, InodeId, Kernel, Pid};
use crate::lsm::{LabelObject, LoadedPolicy, Lsm, LsmState, ModuleState, StackMode};
use crate::vfs::OpenFileId;

const LSM_COUNTERS: [&str; 4] = ["calls", "rebuilds", "walked", "audit_shown"];

/// The section for `kernel`'s modules (`None` with none registered), for
/// an image of `pids` whose process records are `procs`.
pub(crate) fn lsm_rec(
    kernel: &Kernel,
    pids: &BTreeSet<Pid>,
    procs: &[ProcessRec],
) -> Result<Option<LsmRec>, CheckpointError> {
    let lsm = kernel.lsm();
    if lsm.names().is_empty() {
        return Ok(None);
    }
    let state = lsm.dump().map_err(|m| {
        CheckpointError::Unsupported(format!("security module {m}: it does not say how to save its state"))
    })?;
    let mut fds: BTreeMap<u64, (u32, i32)> = BTreeMap::new();
    for p in procs {
        for f in &p.fds {
            if let Some((_, id)) = f.path {
                fds.entry(id).or_insert((p.pid, f.fd));
            }
        }
    }
    let modules = state
        .modules
        .iter()
        .map(|(name, s)| ModuleRec {
            name: (*name).to_owned(),
            policies: state
                .policies
                .iter()
                .filter(|p| p.module == *name)
                .map(|p| PolicyRec { file: p.file.clone(), text: p.text.clone(), pid: p.pid.map(|p| p.0) })
                .collect(),
            labels: s
                .labels
                .iter()
                .filter_map(|(o, label)| {
                    let object = match *o {
                        LabelObject::Inode(i) => LabelObjectRec::Inode(i.0),
                        LabelObject::Task(p) if pids.contains(&p) => LabelObjectRec::Task(p.0),
                        LabelObject::Task(_) => return None,
                        // A file no saved descriptor holds is not in the image.
                        LabelObject::File(id) => fds.get(&id.0).map(|&(p, fd)| LabelObjectRec::File(p, fd))?,
                    };
                    Some(LabelRec { object, label: label.clone() })
                })
                .collect(),
            complain: false,
            counters: s.counters.clone(),
        })
        .collect();
    let (c, r, w) = state.counters;
    let shown = state.audit_shown as u64;
    Ok(Some(LsmRec {
        mode: match state.mode {
            StackMode::AskAll => 0,
            StackMode::FirstDenial => 1,
        },
        modules,
        audit: state.audit,
        counters: LSM_COUNTERS.iter().map(|n| (*n).to_owned()).zip([c, r, w, shown]).collect(),
    }))
}

fn invalid<T>(why: impl Into<String>) -> Result<T, RestoreError> {
    Err(RestoreError::Invalid(why.into()))
}

/// Rebuild `k`'s modules from `rec` (its processes and VFS are restored).
pub(crate) fn restore_lsm(k: &mut Kernel, rec: &LsmRec) -> Result<(), RestoreError> {
    let mode = match rec.mode {
        0 => StackMode::AskAll,
        1 => StackMode::FirstDenial,
        n => return invalid(format!("lsm: unknown stack mode {n}")),
    };
    let mut counters = [0u64; 4];
    for (name, v) in &rec.counters {
        match LSM_COUNTERS.iter().position(|n| n == name) {
            Some(i) => counters[i] = *v,
            None => return invalid(format!("lsm: unknown counter '{name}'")),
        }
    }
    let mut state = LsmState {
        mode,
        audit: rec.audit.clone(),
        audit_shown: usize::try_from(counters[3]).unwrap_or(usize::MAX),
        counters: (counters[0], counters[1], counters[2]),
        ..LsmState::default()
    };
    for m in &rec.modules {
        let Some(name) = ["apparmor", "selinux", "landlock", "deny_all"].into_iter().find(|n| *n == m.name) else {
            return invalid(format!("lsm: unknown security module '{}'", m.name));
        };
        if m.complain {
            return invalid(format!("lsm: module {name}: complain mode is a profile's or a type's, not a module's"));
        }
        for p in &m.policies {
            let pid = p.pid.map(Pid);
            state.policies.push(LoadedPolicy { module: name, file: p.file.clone(), text: p.text.clone(), pid });
        }
        let mut labels = Vec::with_capacity(m.labels.len());
        for l in &m.labels {
            let object = match l.object {
                LabelObjectRec::Inode(i) => {
                    if k.vfs.inode(InodeId(i)).is_none() {
                        return invalid(format!("lsm: module {name} labels inode {i}, not in the image"));
                    }
                    LabelObject::Inode(InodeId(i))
                }
                LabelObjectRec::Task(p) => {
                    if !k.procs.contains_key(&Pid(p)) {
                        return invalid(format!("lsm: module {name} labels process {p}, not in the image"));
                    }
                    LabelObject::Task(Pid(p))
                }
                LabelObjectRec::File(p, fd) => {
                    let id =
                        k.procs.get(&Pid(p)).and_then(|pr| pr.fds.get(Fd(fd))).and_then(|f| f.path.map(|op| op.id));
                    let Some(OpenFileId(id)) = id else {
                        return invalid(format!(
                            "lsm: module {name} labels fd {fd} of process {p}: no named open file"
                        ));
                    };
                    LabelObject::File(OpenFileId(id))
                }
            };
            labels.push((object, l.label.clone()));
        }
        state.modules.push((name, ModuleState { labels, counters: m.counters.clone() }));
    }
    let era = k.lsm.era();
    let mut lsm = Lsm::rebuild(&state).map_err(|e| RestoreError::Invalid(format!("lsm: {e}")))?;
    lsm.set_era(era);
    k.lsm = lsm;
    Ok(())
}
