//! `checkpoint FILE` and `restore FILE` on the model backend.
//!
//! The image holds the kernel (every process the scenario declared: there
//! are no containers yet, so that is all of them) and, in its bindings
//! section, the backend's own state: which kernel object each scenario
//! name is, which process runs the lines, and the progress of blocked
//! writes and receives. A restore replaces both, so the lines after it
//! run exactly as they would have without the checkpoint.
//!
//! Relative file names resolve in the backend's checkpoint directory: the
//! current directory for `kmodel run` and `kmodel diff`, a per-process
//! directory under the system's temporary directory otherwise (so tests do
//! not write into the source tree).

use std::path::{Path, PathBuf};

use super::{Handle, ModelBackend};
use crate::container::image::{BindingsRec, HandleRec, RunnerCtRec, RunnerRec};
use crate::container::{Image, checkpoint};
use crate::kernel::{BufferId, Errno, Fd, InodeId, Pid, PipeId};
use crate::scenario::Outcome;

/// The default checkpoint directory: one per process under the temporary
/// directory.
pub(super) fn default_dir() -> PathBuf {
    std::env::temp_dir().join(format!("kmodel-checkpoints-{}", std::process::id()))
}

fn io_errno(e: &std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}

fn fd_rec(fd: Option<Fd>) -> Option<i32> {
    fd.map(|f| f.0)
}

impl ModelBackend {
    /// Resolve `file` in the checkpoint directory.
    pub(super) fn image_path(&self, file: &str) -> PathBuf {
        let p = Path::new(file);
        if p.is_absolute() { p.to_path_buf() } else { self.checkpoint_dir.join(p) }
    }

    /// `checkpoint FILE`.
    pub(super) fn checkpoint_op(&mut self, file: &str) -> Outcome {
        if !self.place.hosts.is_empty() {
            return Outcome::Failed(
                "cannot checkpoint a scenario with several hosts: an image holds one machine".to_owned(),
            );
        }
        let pids: Vec<Pid> = self.kernel.procs.keys().copied().collect();
        let mut image = match checkpoint(&self.kernel, &pids) {
            Ok(i) => i,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        image.bindings = Some(self.bindings());
        image.runner = Some(self.runner_rec());
        let path = self.image_path(file);
        if let Some(dir) = path.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            return Outcome::Err(io_errno(&e));
        }
        match std::fs::write(&path, image.encode()) {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Err(io_errno(&e)),
        }
    }

    /// `restore FILE`.
    pub(super) fn restore_op(&mut self, file: &str) -> Outcome {
        let bytes = match std::fs::read(self.image_path(file)) {
            Ok(b) => b,
            Err(e) => return Outcome::Err(io_errno(&e)),
        };
        let (image, pages) = match Image::decode_borrowed(&bytes) {
            Ok(i) => i,
            Err(e) => return Outcome::Failed(format!("{file}: {e}")),
        };
        match self.restore_parts(&image, &pages) {
            Ok(()) => Outcome::Ok,
            Err(why) => Outcome::Failed(format!("{file}: {why}")),
        }
    }

    /// Replace the kernel and the bindings with the image's; nothing
    /// changes if either is refused.
    ///
    /// # Errors
    /// Why the image cannot be restored here.
    pub fn restore_image(&mut self, image: &Image) -> Result<(), String> {
        self.restore_parts(image, &image.page_data)
    }

    fn restore_parts(&mut self, image: &Image, page_data: &[u8]) -> Result<(), String> {
        let b = image.bindings.as_ref().ok_or("the image has no scenario bindings (it was not written by a run)")?;
        let compat = crate::container::image::compat(&image.meta, &crate::container::HostInfo::this());
        if !compat.is_empty() {
            return Err(crate::container::RestoreError::Incompatible(compat).to_string());
        }
        let (kernel, _) = crate::container::build_with(image, page_data).map_err(|e| e.to_string())?;
        if kernel.process(Pid(b.current)).is_none() {
            return Err(format!("the bindings' current process {} is not in the image", b.current));
        }
        let mut handles = Vec::with_capacity(b.handles.len());
        for h in &b.handles {
            handles.push(match h {
                None => None,
                Some(HandleRec::Buffer(id)) => Some(Handle::Buffer(BufferId(*id))),
                Some(HandleRec::Pipe { id, r, w }) => {
                    Some(Handle::Pipe { id: PipeId(*id), r: r.map(Fd), w: w.map(Fd) })
                }
                Some(HandleRec::File { ino, fd }) => Some(Handle::File { ino: InodeId(*ino), fd: fd.map(Fd) }),
                Some(HandleRec::Tcp { tx, rx, socks }) => {
                    let socks = (tcp_sim::SockId(socks.0), tcp_sim::SockId(socks.1));
                    for s in [socks.0, socks.1] {
                        if kernel.net.mode(s).is_none() {
                            return Err(format!("the bindings name TCP endpoint {}, which is not in the image", s.0));
                        }
                    }
                    Some(Handle::Tcp { tx: tx.map(Fd), rx: rx.map(Fd), socks })
                }
                Some(HandleRec::Failed) => Some(Handle::Failed),
            });
        }
        let mut containers = std::collections::HashMap::new();
        let mut owner = std::collections::HashMap::new();
        let mut outside_pid = None;
        if let Some(r) = &image.runner {
            for ct in &r.containers {
                let ve = crate::container::VeId(ct.ve);
                let inside = kernel.containers().find(|(id, _)| *id == ve).map(|(_, c)| c.name == ct.name);
                if inside != Some(true) || kernel.process(Pid(ct.pid)).is_none() {
                    return Err(format!("the runner's container {} ({}) is not in the image", ct.name, ct.ve));
                }
                containers.insert(ct.name.clone(), super::Ct { host: 0, ve, pid: Pid(ct.pid) });
            }
            for (i, name) in &r.owner {
                owner.insert(*i as usize, name.clone());
            }
            outside_pid = r.outside_pid.map(Pid);
        }
        // Everything checked: commit. The run's page history goes on in the
        // new kernel (timelines read the swap as events).
        let mut kernel = kernel;
        kernel.set_stamp(self.kernel.pages().stamp());
        kernel.continue_log_from(&mut self.kernel);
        self.kernel = kernel;
        self.handles = handles;
        self.pid = Pid(b.current);
        self.processes = b.processes.iter().map(|(n, p)| (n.clone(), Pid(*p))).collect();
        self.partial = b.partial.iter().map(|&(l, n)| (l as usize, n as usize)).collect();
        self.partial_recv = b.partial_recv.iter().map(|(l, d)| (*l as usize, d.clone())).collect();
        self.place.containers = containers;
        self.place.owner = owner;
        self.place.outside_pid = outside_pid;
        self.place.within = None;
        Ok(())
    }

    /// The runner's containers, as the image's runner section.
    fn runner_rec(&self) -> RunnerRec {
        let mut containers: Vec<RunnerCtRec> = self
            .place
            .containers
            .iter()
            .map(|(name, ct)| RunnerCtRec { name: name.clone(), ve: ct.ve.0, pid: ct.pid.0 })
            .collect();
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        let mut owner: Vec<(u64, String)> = self.place.owner.iter().map(|(i, n)| (*i as u64, n.clone())).collect();
        owner.sort();
        RunnerRec { containers, outside_pid: self.place.outside_pid.map(|p| p.0), owner }
    }

    /// The backend's names, as the image's bindings section.
    fn bindings(&self) -> BindingsRec {
        let mut processes: Vec<(String, u32)> = self.processes.iter().map(|(n, p)| (n.clone(), p.0)).collect();
        processes.sort();
        let mut partial: Vec<(u64, u64)> = self.partial.iter().map(|(&l, &n)| (l as u64, n as u64)).collect();
        partial.sort();
        let mut partial_recv: Vec<(u64, Vec<u8>)> =
            self.partial_recv.iter().map(|(&l, d)| (l as u64, d.clone())).collect();
        partial_recv.sort();
        BindingsRec {
            current: self.pid.0,
            processes,
            handles: self
                .handles
                .iter()
                .map(|h| {
                    h.map(|h| match h {
                        Handle::Buffer(id) => HandleRec::Buffer(id.0),
                        Handle::Pipe { id, r, w } => HandleRec::Pipe { id: id.0, r: fd_rec(r), w: fd_rec(w) },
                        Handle::File { ino, fd } => HandleRec::File { ino: ino.0, fd: fd_rec(fd) },
                        Handle::Tcp { tx, rx, socks } => {
                            HandleRec::Tcp { tx: fd_rec(tx), rx: fd_rec(rx), socks: (socks.0.0, socks.1.0) }
                        }
                        Handle::Failed => HandleRec::Failed,
                    })
                })
                .collect(),
            partial,
            partial_recv,
        }
    }
}

/// `checkpoint NAME to FILE` and `restore FILE into HOST`: one container's
/// image, grafted into a running host (see `container::graft`).
impl ModelBackend {
    /// `checkpoint NAME to FILE`: the image of container NAME (format
    /// version 2, with its container record), then the container stops.
    pub(super) fn checkpoint_container_op(&mut self, name: &str, file: &str) -> Outcome {
        let Some(ct) = self.place.containers.get(name).cloned() else {
            return Outcome::Failed(format!("container {name} is not running"));
        };
        let home = self.place.current;
        self.switch_host(ct.host);
        let pids: Vec<Pid> =
            self.kernel.container(ct.ve).map(|c| c.pids().map(|(_, p)| p).collect()).unwrap_or_default();
        let image = crate::container::checkpoint_set(&self.kernel, &pids, false);
        let out = match image {
            Err(e) => Outcome::Failed(e.to_string()),
            Ok(image) => {
                let path = self.image_path(file);
                let written = match path.parent() {
                    Some(dir) => std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, image.encode())),
                    None => std::fs::write(&path, image.encode()),
                };
                match written {
                    Ok(()) => {
                        // `vzctl chkpnt`: dumped, then stopped.
                        self.kernel.destroy_container(ct.ve);
                        self.place.containers.remove(name);
                        Outcome::Ok
                    }
                    Err(e) => Outcome::Err(io_errno(&e)),
                }
            }
        };
        self.switch_host(home);
        out
    }

    /// `restore FILE into HOST`: graft the image's container into HOST.
    pub(super) fn restore_into_op(&mut self, file: &str, host: &str) -> Outcome {
        let bytes = match std::fs::read(self.image_path(file)) {
            Ok(b) => b,
            Err(e) => return Outcome::Err(io_errno(&e)),
        };
        let image = match Image::decode(&bytes) {
            Ok(i) => i,
            Err(e) => return Outcome::Failed(format!("{file}: {e}")),
        };
        let spec = match crate::container::ContainerSpec::from_image(&image) {
            Ok(s) => s,
            Err(e) => return Outcome::Failed(format!("{file}: {e}")),
        };
        let name = spec.name.clone();
        if let Some(ct) = self.place.containers.get(&name) {
            let at = self.place.hosts.get(ct.host).map_or("local", |h| h.name.as_str());
            return Outcome::Text(format!("refused: container {name} still runs on {at}"));
        }
        self.place.ensure_local();
        let Some(to) = self.place.host_index(host) else {
            return Outcome::Failed(format!("no host {host}"));
        };
        let home = self.place.current;
        self.switch_host(to);
        let grafted = crate::container::graft(&mut self.kernel, &image, Some(&spec));
        self.switch_host(home);
        let g = match grafted {
            Ok(g) => g,
            Err(e) => return Outcome::Text(format!("refused: {file}: {e}")),
        };
        let (Some(ve), Some(init)) = (g.ve, spec.vpids.iter().find(|(_, v)| **v == 1).map(|(p, _)| Pid(*p))) else {
            return Outcome::Failed(format!("{file}: the container has no init"));
        };
        let pid = g.pids.get(&init).copied().unwrap_or(Pid(u32::MAX));
        self.place.containers.insert(name.clone(), super::Ct { host: to, ve, pid });
        // The scenario's names of the container's objects follow it.
        for (i, h) in self.handles.iter_mut().enumerate() {
            if self.place.owner.get(&i) != Some(&name) {
                continue;
            }
            match h {
                Some(Handle::Buffer(b)) => {
                    if let Some(n) = g.maps.get(b) {
                        *b = *n;
                    }
                }
                Some(Handle::Pipe { id, .. }) => {
                    if let Some(n) = g.pipes.get(id) {
                        *id = *n;
                    }
                }
                Some(Handle::File { ino, .. }) => {
                    if let Some(n) = g.inodes.get(ino) {
                        *ino = *n;
                    }
                }
                _ => {}
            }
        }
        let prefix = format!("{name}/");
        for (key, p) in self.processes.iter_mut() {
            if let (true, Some(np)) = (key.starts_with(&prefix), g.pids.get(p)) {
                *p = *np;
            }
        }
        Outcome::Ok
    }
}
