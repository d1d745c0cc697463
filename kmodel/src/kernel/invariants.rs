//! The page invariants, checked across every object of the kernel.

use std::collections::HashMap;

use page_refs::{Holder, InvariantError, PageId};

use super::Kernel;
use super::mm::Pte;

impl Kernel {
    /// Check that every page reference is accounted for: the holders the
    /// arena recorded for each live page are exactly the references the
    /// objects hold (user page tables, pipe slots, page caches, the zero
    /// page's permanent one), no object points at a freed page, every pipe
    /// ring is well formed, each pipe's reader and writer counts match
    /// the open descriptors, and under [`super::KernelVariant::Copy`] no
    /// pipe slot holds a user page taken by vmsplice.
    ///
    /// Tests call this after every step.
    ///
    /// # Errors
    /// The first broken invariant.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        self.check_invariants_with(true)
    }

    /// [`check_invariants`](Self::check_invariants) of a host that does not
    /// hold the shared network now (hosts hand it to each other): the
    /// network's own checks, its page references and its endpoints are
    /// left out, everything else is checked (a graft during a migration).
    ///
    /// # Errors
    /// The first broken invariant.
    pub fn check_invariants_without_net(&self) -> Result<(), InvariantError> {
        self.check_invariants_with(false)
    }

    fn check_invariants_with(&self, net: bool) -> Result<(), InvariantError> {
        self.pages.check_invariants()?;
        let mut want: HashMap<PageId, Vec<Holder>> = HashMap::new();
        want.entry(self.pages.zero_page()).or_default().push(Holder::KERNEL);
        for proc in self.procs.values() {
            for buf in proc.mm.values() {
                for (i, pte) in buf.ptes().iter().enumerate() {
                    if let Pte::Page(p) = pte {
                        want.entry(*p).or_default().push(Holder::user(buf.id().0, i as u32));
                    }
                }
            }
        }
        let copy = self.config.variant == super::KernelVariant::Copy;
        for pipe in self.pipes.values() {
            pipe.check_invariants(&self.pages).map_err(InvariantError)?;
            for buf in pipe.buffers() {
                // Under the copy variant vmsplice never gives a pipe the
                // program's page: only kernel copies are in pipes.
                if copy && buf.origin == pipe_buffer::BufOrigin::User {
                    return Err(InvariantError(format!(
                        "kernel variant copy: a pipe slot holds a user page ({})",
                        buf.page
                    )));
                }
                want.entry(buf.page).or_default().push(pipe.holder());
            }
        }
        for inode in self.inodes.values() {
            for (index, p) in inode.cached() {
                want.entry(p).or_default().push(inode.page_holder(index));
            }
        }
        if net {
            self.net.check().map_err(InvariantError)?;
            for (page, holder) in self.net.refs() {
                want.entry(page).or_default().push(holder);
            }
        }
        let ours = |h: &&Holder| net || h.kind != page_refs::HolderKind::Socket;
        for (page, holders) in &mut want {
            if !self.pages.is_live(*page) {
                return Err(InvariantError(format!("{page} is freed but still held by {holders:?}")));
            }
            let mut got: Vec<Holder> = self.pages.holders(*page).iter().filter(ours).copied().collect();
            got.sort();
            holders.sort();
            if got != *holders {
                return Err(InvariantError(format!("{page}: recorded holders {got:?}, objects hold {holders:?}")));
            }
        }
        for (page, holders) in self.pages.iter() {
            if !want.contains_key(&page) && holders.iter().any(|h| ours(&h)) {
                return Err(InvariantError(format!("{page} held by {holders:?} but no object refers to it")));
            }
        }
        let mut ends: HashMap<super::PipeId, (u32, u32)> = HashMap::new();
        for proc in self.procs.values() {
            for (_, f) in proc.fds.iter() {
                match f.kind {
                    super::FileKind::PipeRead(p) => ends.entry(p).or_default().0 += 1,
                    super::FileKind::PipeWrite(p) => ends.entry(p).or_default().1 += 1,
                    super::FileKind::Regular(_) | super::FileKind::Directory(_) => {}
                    super::FileKind::Socket(s) => {
                        if net && !self.net.exists(s) {
                            return Err(InvariantError(format!(
                                "an open descriptor refers to socket {} that is gone",
                                s.0
                            )));
                        }
                    }
                }
            }
        }
        for (id, pipe) in self.pipes.iter() {
            let (r, w) = ends.get(&id).copied().unwrap_or_default();
            if (pipe.readers, pipe.writers) != (r, w) {
                return Err(InvariantError(format!(
                    "pipe {}: readers/writers {}/{} but {r}/{w} open ends",
                    id.0, pipe.readers, pipe.writers
                )));
            }
        }
        self.check_vfs_invariants().map_err(InvariantError)?;
        self.check_container_invariants().map_err(InvariantError)
    }

    /// Tear down and check that nothing is left but the zero page.
    ///
    /// # Errors
    /// The leaked pages.
    pub fn teardown_and_check(&mut self) -> Result<(), InvariantError> {
        self.teardown();
        self.check_invariants()?;
        self.pages.check_teardown()
    }
}
