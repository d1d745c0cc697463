//! The security modules' state as plain data, for checkpoint images: which
//! modules are registered and in what order, the policies they loaded (as
//! text, in load order, kept by the dispatcher when `load_policy`
//! succeeds), the labels each module attaches to inodes, tasks and open
//! files (as text each module writes and parses itself), its counters, and
//! the dispatcher's audit log and counters.
//!
//! `container::checkpoint` turns an [`LsmState`] into the image's `lsm`
//! section; restore reloads each module's policies through the module's own
//! loader (so the parsed policy is exactly what a load builds), then hands
//! it its labels and counters ([`SecurityOps::restore_state`]), which it
//! checks and refuses with a message naming what is wrong.

use super::{Cost, Lsm, OpState, SecurityOps, StackMode};
use crate::kernel::{InodeId, Pid};
use crate::vfs::OpenFileId;

/// A policy file as loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedPolicy {
    /// The module it was loaded into.
    pub module: &'static str,
    /// Its file name (decides `.te` or `file_contexts` for the label module).
    pub file: String,
    /// Its text.
    pub text: String,
    /// The process that loaded it (the one a Landlock ruleset confines).
    pub pid: Option<Pid>,
}

/// What a label is attached to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LabelObject {
    /// An inode (`i_security`).
    Inode(InodeId),
    /// A task (`cred->security`).
    Task(Pid),
    /// An open file (`f_security`).
    File(OpenFileId),
}

/// One module's labels and counters (its policies are kept by the
/// dispatcher).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleState {
    /// Labels, each as the module writes it.
    pub labels: Vec<(LabelObject, String)>,
    /// Named counters (Landlock's next domain id, `deny_all`'s denials).
    pub counters: Vec<(String, u64)>,
}

/// The registered modules and the dispatcher's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LsmState {
    /// How stacked modules are asked.
    pub mode: StackMode,
    /// The modules in registration order: name and state.
    pub modules: Vec<(&'static str, ModuleState)>,
    /// Every policy loaded, in load order.
    pub policies: Vec<LoadedPolicy>,
    /// The audit log.
    pub audit: Vec<String>,
    /// How many of its lines the `audit` verb has shown.
    pub audit_shown: usize,
    /// Hook calls made, names built, dentries walked building them.
    pub counters: (u64, u64, u64),
}

impl Lsm {
    /// Remember a policy loaded into `module` (for checkpoint images).
    pub(crate) fn note_policy(&mut self, p: LoadedPolicy) {
        self.policies.push(p);
    }

    /// The policies loaded so far, in load order.
    pub fn policies(&self) -> &[LoadedPolicy] {
        &self.policies
    }

    /// How stacked modules are asked.
    pub fn stack_mode(&self) -> StackMode {
        self.mode
    }

    /// The whole state as plain data.
    ///
    /// # Errors
    /// The name of a module that cannot be saved (one registered by a test).
    pub fn dump(&self) -> Result<LsmState, &'static str> {
        let modules = self
            .modules
            .iter()
            .map(|m| m.save_state().map(|s| (m.name(), s)).ok_or(m.name()))
            .collect::<Result<_, _>>()?;
        let (rebuilds, walked) = self.cost();
        // Grouped by module in registration order (modules load their
        // policies independently; the image keeps them per module).
        let mut policies = self.policies.clone();
        policies.sort_by_key(|p| self.modules.iter().position(|m| m.name() == p.module));
        Ok(LsmState {
            mode: self.mode,
            modules,
            policies,
            audit: self.audit.clone(),
            audit_shown: self.audit_shown,
            counters: (self.calls, rebuilds, walked),
        })
    }

    /// Rebuild the modules from `state` (the hook table is the kernel's
    /// and set apart): register each, reload its policies in order, then
    /// give it its labels and counters. `known` names the modules this
    /// build has.
    ///
    /// # Errors
    /// An unknown or repeated module, a policy that does not load, a label
    /// or counter the module refuses.
    pub fn from_state(
        state: &LsmState,
        new: impl Fn(&str) -> Option<Box<dyn SecurityOps>>,
        load: impl Fn(&mut dyn SecurityOps, &LoadedPolicy) -> Result<(), String>,
    ) -> Result<Lsm, String> {
        let mut lsm = Lsm { mode: state.mode, ..Lsm::default() };
        for (name, _) in &state.modules {
            if lsm.modules.iter().any(|m| m.name() == *name) {
                return Err(format!("module {name} is registered twice"));
            }
            lsm.modules.push(new(name).ok_or_else(|| format!("unknown security module '{name}'"))?);
            lsm.op.push(OpState::default());
        }
        for (i, p) in state.policies.iter().enumerate() {
            let m = lsm
                .module_mut(p.module)
                .ok_or_else(|| format!("policy {i} ({}) is for module {}, not registered", p.file, p.module))?;
            load(m, p).map_err(|e| format!("policy {i} ({}) for {}: {e}", p.file, p.module))?;
        }
        for (m, (name, s)) in lsm.modules.iter_mut().zip(&state.modules) {
            m.restore_state(s).map_err(|e| format!("module {name}: {e}"))?;
        }
        lsm.policies = state.policies.clone();
        lsm.audit = state.audit.clone();
        if state.audit_shown > lsm.audit.len() {
            return Err(format!("{} audit lines shown of {}", state.audit_shown, lsm.audit.len()));
        }
        lsm.audit_shown = state.audit_shown;
        lsm.calls = state.counters.0;
        lsm.cost = Cost::default();
        lsm.cost.rebuilds.set(state.counters.1);
        lsm.cost.walked.set(state.counters.2);
        Ok(lsm)
    }
}
