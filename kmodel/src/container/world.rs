//! Several hosts, each a whole [`Kernel`], joined by one simulated
//! network.
//!
//! Every host has an uplink ([`tcp_sim::LinkParams`]: its round trip to
//! one switch, its bandwidth); the path between two hosts goes up one
//! uplink and down the other: its round trip is the sum of the two uplinks'
//! and its bandwidth the slower one. Migration traffic takes that path.
//!
//! A `World` keeps each host's own [`tcp_sim::Network`]: it migrates
//! memory, processes and counters. The scenario backend
//! (`kmodel::model::ModelBackend`) goes further: its hosts share one
//! network (each endpoint tagged with its host, see `tcp_sim`'s
//! `net::hosts`), so a TCP connection can span two hosts and follow a
//! migrated container.

use tcp_sim::{Duration, LinkParams};

use super::migrate::{self, Dirtier, MigrateError, Migrated, MigrationConfig};
use super::ve::VeId;
use crate::kernel::Kernel;

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
}

impl World {
    /// No hosts yet.
    pub fn new() -> Self {
        World::default()
    }

    /// Add host `name` running `kernel`, joined by `uplink`.
    pub fn add_host(&mut self, name: &str, kernel: Kernel, uplink: LinkParams) -> HostId {
        self.hosts.push(Host { name: name.to_owned(), kernel, uplink });
        HostId(self.hosts.len() - 1)
    }

    /// The host called `name`.
    pub fn host_by_name(&self, name: &str) -> Option<HostId> {
        self.hosts.iter().position(|h| h.name == name).map(HostId)
    }

    /// Host `id`.
    pub fn host(&self, id: HostId) -> &Host {
        &self.hosts[id.0]
    }

    /// Host `id`, mutably.
    pub fn host_mut(&mut self, id: HostId) -> &mut Host {
        &mut self.hosts[id.0]
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
    /// [`migrate::migrate`]).
    ///
    /// # Errors
    /// What [`migrate::migrate`] answers; `from == to` is
    /// [`MigrateError::Incompatible`].
    pub fn migrate(
        &mut self,
        from: HostId,
        ve: VeId,
        to: HostId,
        config: MigrationConfig,
        load: &mut Dirtier,
    ) -> Result<Migrated, MigrateError> {
        if from == to {
            return Err(MigrateError::Incompatible(vec!["source and target are the same host".into()]));
        }
        let p = self.path(from, to);
        let (a, b) = if from.0 < to.0 {
            let (x, y) = self.hosts.split_at_mut(to.0);
            (&mut x[from.0], &mut y[0])
        } else {
            let (x, y) = self.hosts.split_at_mut(from.0);
            (&mut y[0], &mut x[to.0])
        };
        migrate::migrate(&mut a.kernel, ve, &mut b.kernel, p, config, load)
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
