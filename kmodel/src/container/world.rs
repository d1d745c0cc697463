//! Several hosts, each a whole [`Kernel`], joined by one simulated
//! network.
//!
//! Every host has an uplink ([`tcp_sim::LinkParams`]: its round trip to
//! one switch, its bandwidth); the path between two hosts goes up one
//! uplink and down the other: its round trip is the sum of the two uplinks'
//! and its bandwidth the slower one. Migration traffic takes that path.
//!
//! The hosts share one [`tcp_sim::Network`] (each endpoint tagged with
//! its host, see `tcp_sim`'s `net::hosts`), so a TCP connection can span
//! two hosts and follow a migrated container. The network lives in the
//! *current* host's kernel (`Kernel::net`, where its syscalls find it);
//! the others hold an empty one until they become current
//! ([`Hosts::switch_host`] moves it). A single host is exactly the
//! machine it was before hosts existed.
//!
//! [`Hosts`] is that discipline; [`World`] is one owner of hosts, the
//! scenario backend (`kmodel::model::ModelBackend`) another, and the
//! functions here ([`advance`], [`step_other`], [`migrate`],
//! [`check_all`], [`teardown_all`]) work for both.

use tcp_sim::{Duration, LinkParams};

use super::migrate::{self, Dirtier, MigrateError, Migrated, MigrationConfig};
use super::ve::VeId;
use crate::kernel::Kernel;

/// Hosts sharing one network that lives in the current host's kernel.
pub trait Hosts {
    /// How many hosts (at least one).
    fn host_count(&self) -> usize;
    /// The host whose kernel holds the network now.
    fn current_host(&self) -> usize;
    /// Make host `h` current: the network moves into its kernel (see
    /// [`hand_over`]).
    fn switch_host(&mut self, h: usize);
    /// The current host's kernel.
    fn current_kernel(&mut self) -> &mut Kernel;
    /// Hosts `a` and `b`'s kernels (`a != b`).
    fn two_kernels(&mut self, a: usize, b: usize) -> (&mut Kernel, &mut Kernel);
}

/// Move the shared network from `from`'s kernel into `to`'s, which is
/// host `to_host`: its calls pass `to`'s memory from now on.
pub fn hand_over(from: &mut Kernel, to: &mut Kernel, to_host: usize) {
    std::mem::swap(&mut from.net, &mut to.net);
    to.net.set_local_host(to_host as u32);
}

/// Let `d` of simulated time pass on every host: each network event runs
/// on its endpoint's host, in one time order.
pub fn advance<H: Hosts + ?Sized>(w: &mut H, d: Duration) {
    if w.host_count() < 2 {
        w.current_kernel().advance_time(d);
        return;
    }
    let home = w.current_host();
    let t = w.current_kernel().now() + d;
    while let Some((at, h)) = w.current_kernel().network().next_event() {
        if at > t {
            break;
        }
        w.switch_host(h as usize);
        if !w.current_kernel().run_network_event() {
            break;
        }
    }
    w.switch_host(home);
    let Kernel { net, pages, .. } = w.current_kernel();
    net.advance_to(pages, t);
}

/// Run the next network event if it belongs to another host than the
/// current one (a call there waits for it); `false` if there is none.
pub fn step_other<H: Hosts + ?Sized>(w: &mut H) -> bool {
    if w.host_count() < 2 {
        return false;
    }
    let home = w.current_host();
    let Some((_, h)) = w.current_kernel().network().next_event() else { return false };
    if h as usize == home {
        return false;
    }
    w.switch_host(h as usize);
    let ran = w.current_kernel().run_network_event();
    w.switch_host(home);
    ran
}

/// Check every host's invariants, each with the network in hand (its
/// endpoints' pages are in its memory).
///
/// # Errors
/// The first host whose invariants fail, and how.
pub fn check_all<H: Hosts + ?Sized>(w: &mut H) -> Result<(), (usize, page_refs::InvariantError)> {
    let home = w.current_host();
    let mut result = Ok(());
    for h in 0..w.host_count() {
        w.switch_host(h);
        if let Err(e) = w.current_kernel().check_invariants() {
            result = Err((h, e));
            break;
        }
    }
    w.switch_host(home);
    result
}

/// Shut every host down and check that nothing leaked: the other hosts
/// first, host 0 last, each with the network in hand.
///
/// # Errors
/// The first host that leaked, and what.
pub fn teardown_all<H: Hosts + ?Sized>(w: &mut H) -> Result<(), (usize, page_refs::InvariantError)> {
    for h in (1..w.host_count()).rev() {
        w.switch_host(h);
        w.current_kernel().teardown_and_check().map_err(|e| (h, e))?;
    }
    w.switch_host(0);
    w.current_kernel().teardown_and_check().map_err(|e| (0, e))
}

/// What a migration did, with the network's side.
#[derive(Clone, Debug)]
pub struct Moved {
    /// The memory side: report, new ids.
    pub migrated: Migrated,
    /// Packets dropped because they reached a frozen endpoint.
    pub dropped_while_frozen: u64,
}

/// Migrate container `ve` from host `from` to host `to` over `path`
/// (see [`migrate::migrate`]), then move its TCP endpoints: they run on
/// the source until the freeze, are frozen for the downtime (packets for
/// them are dropped), move into the target's memory (sharing the target's
/// copies of the user's pages), thaw there (retransmission timer
/// re-armed), and the rest of the migration's time passes. Every host's
/// invariants are checked after.
///
/// # Errors
/// What [`migrate::migrate`] answers (nothing changed), or
/// [`MigrateError::Broken`] if an endpoint could not move or a host's
/// invariants broke (a bug of the model).
pub fn migrate<H: Hosts + ?Sized>(
    w: &mut H,
    from: usize,
    ve: VeId,
    to: usize,
    path: LinkParams,
    config: MigrationConfig,
    load: &mut Dirtier,
) -> Result<Moved, MigrateError> {
    if from == to {
        return Err(MigrateError::Incompatible(vec!["source and target are the same host".into()]));
    }
    // The source runs: it holds the network.
    let home = w.current_host();
    w.switch_host(from);
    let (src, dst) = w.two_kernels(from, to);
    let config = MigrationConfig { shared_net_host: Some(to as u32), ..config };
    let result = migrate::migrate(src, ve, dst, path, config, load);
    w.switch_host(home);
    let m = result?;
    let r = m.report.clone();
    let dropped = w.current_kernel().network().stats().dropped_frozen;
    advance(w, r.frozen_at);
    for &s in &m.sockets {
        w.current_kernel().net.freeze(s);
    }
    advance(w, r.downtime);
    let cur = w.current_host();
    let mut net = std::mem::take(&mut w.current_kernel().net);
    let mut frames = m.frames.clone();
    let moved = {
        let (src, dst) = w.two_kernels(from, to);
        let mut moved = Ok(());
        for &s in &m.sockets {
            if let Err(e) = net.rehome(s, &mut src.pages, &mut dst.pages, to as u32, &mut frames) {
                moved = Err(e);
            }
        }
        net.set_local_host(to as u32);
        for &s in &m.sockets {
            net.thaw(&mut dst.pages, s);
        }
        moved
    };
    net.set_local_host(cur as u32);
    w.current_kernel().net = net;
    moved.map_err(MigrateError::Broken)?;
    advance(w, Duration(r.total.0.saturating_sub(r.frozen_at.0 + r.downtime.0)));
    check_all(w).map_err(|(h, e)| MigrateError::Broken(format!("host {h}: {e}")))?;
    let dropped = w.current_kernel().network().stats().dropped_frozen - dropped;
    Ok(Moved { migrated: m, dropped_while_frozen: dropped })
}

/// A host of a [`World`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(pub usize);

/// One machine of the world.
#[derive(Clone, Debug)]
pub struct Host {
    /// Its name (`host NAME`).
    pub name: String,
    /// The machine.
    pub kernel: Kernel,
    /// Its link to the switch.
    pub uplink: LinkParams,
}

/// The hosts and the network between them.
#[derive(Clone, Debug, Default)]
pub struct World {
    hosts: Vec<Host>,
    current: usize,
}

impl World {
    /// No hosts yet.
    pub fn new() -> Self {
        World::default()
    }

    /// Add host `name` running `kernel`, joined by `uplink`. The first
    /// host's network becomes the world's.
    ///
    /// # Panics
    /// If a host after the first comes with endpoints of its own network
    /// (hosts share one network: make its connections after adding it).
    pub fn add_host(&mut self, name: &str, kernel: Kernel, uplink: LinkParams) -> HostId {
        assert!(
            self.hosts.is_empty() || kernel.network().sockets().next().is_none(),
            "host {name} has TCP endpoints of its own network: the world's hosts share one"
        );
        self.hosts.push(Host { name: name.to_owned(), kernel, uplink });
        HostId(self.hosts.len() - 1)
    }

    /// The host called `name`.
    pub fn host_by_name(&self, name: &str) -> Option<HostId> {
        self.hosts.iter().position(|h| h.name == name).map(HostId)
    }

    /// Host `id` (its kernel holds the network only while it is current:
    /// see [`World::kernel`]).
    pub fn host(&self, id: HostId) -> &Host {
        &self.hosts[id.0]
    }

    /// Host `id`'s kernel, made current (with the network in hand), to
    /// run its syscalls.
    pub fn kernel(&mut self, id: HostId) -> &mut Kernel {
        self.switch_host(id.0);
        &mut self.hosts[id.0].kernel
    }

    /// Every host.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The path from `a` to `b` (see the module's description).
    pub fn path(&self, a: HostId, b: HostId) -> LinkParams {
        path(self.hosts[a.0].uplink, self.hosts[b.0].uplink)
    }

    /// Migrate container `ve` from host `from` to host `to` (see
    /// [`migrate()`]).
    ///
    /// # Errors
    /// What [`migrate()`] answers.
    pub fn migrate(
        &mut self,
        from: HostId,
        ve: VeId,
        to: HostId,
        config: MigrationConfig,
        load: &mut Dirtier,
    ) -> Result<Migrated, MigrateError> {
        let p = self.path(from, to);
        migrate(self, from.0, ve, to.0, p, config, load).map(|m| m.migrated)
    }

    /// Let `d` of simulated time pass everywhere (see [`advance`]).
    pub fn advance(&mut self, d: Duration) {
        advance(self, d);
    }

    /// Check every host (see [`check_all`]).
    ///
    /// # Errors
    /// The first host that fails, named.
    pub fn check(&mut self) -> Result<(), String> {
        check_all(self).map_err(|(h, e)| format!("host {}: {e}", self.hosts[h].name))
    }

    /// Shut every host down (see [`teardown_all`]).
    ///
    /// # Errors
    /// The first host that leaked, named.
    pub fn teardown(&mut self) -> Result<(), String> {
        teardown_all(self).map_err(|(h, e)| format!("host {}: {e}", self.hosts[h].name))
    }
}

impl Hosts for World {
    fn host_count(&self) -> usize {
        self.hosts.len()
    }

    fn current_host(&self) -> usize {
        self.current
    }

    fn switch_host(&mut self, h: usize) {
        if h == self.current {
            return;
        }
        let (a, b) = self.two_kernels(self.current, h);
        hand_over(a, b, h);
        self.current = h;
    }

    fn current_kernel(&mut self) -> &mut Kernel {
        &mut self.hosts[self.current].kernel
    }

    fn two_kernels(&mut self, a: usize, b: usize) -> (&mut Kernel, &mut Kernel) {
        assert_ne!(a, b, "two_kernels of one host");
        let (lo, hi) = (a.min(b), a.max(b));
        let (x, y) = self.hosts.split_at_mut(hi);
        let (p, q) = (&mut x[lo].kernel, &mut y[0].kernel);
        if a < b { (p, q) } else { (q, p) }
    }
}

/// The path through two uplinks: the sum of their round trips, the slower
/// bandwidth (0 means unlimited).
pub fn path(a: LinkParams, b: LinkParams) -> LinkParams {
    let bandwidth = match (a.bandwidth, b.bandwidth) {
        (0, x) | (x, 0) => x,
        (x, y) => x.min(y),
    };
    LinkParams { rtt: Duration(a.rtt.0 + b.rtt.0), bandwidth, ..a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_sums_round_trips_and_takes_slower_bandwidth() {
        let a = LinkParams { rtt: Duration::from_millis(1), bandwidth: 1_000_000_000, ..LinkParams::default() };
        let b = LinkParams { rtt: Duration::from_millis(4), bandwidth: 100_000_000, ..LinkParams::default() };
        let p = path(a, b);
        assert_eq!((p.rtt, p.bandwidth), (Duration::from_millis(5), 100_000_000));
        let local = LinkParams { rtt: Duration(0), bandwidth: 0, ..LinkParams::default() };
        assert_eq!(path(local, b).rtt, b.rtt);
        assert_eq!(path(local, b).bandwidth, b.bandwidth);
    }
}
