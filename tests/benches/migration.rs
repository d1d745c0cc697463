//! `migration`: live migration of a container between two hosts, against
//! the rate at which the container dirties its memory.
//!
//! The container: one process with 4096 pages (16 MiB), every page
//! written; the path: two 1 gbit/s uplinks of 0.5 ms round trip (1 ms) (a page
//! costs about 33 µs on the wire: about 30 000 pages a second). The load
//! writes one byte into page after page, cycling, at each rate of
//! [`RATES`] (pages per second of simulated time).
//!
//! Criterion times one whole migration (wall time: copying the pages
//! between the hosts' arenas, the soft-dirty scans, the load). Then the
//! benchmark prints, for each strategy and each rate, what the migration
//! reports in simulated time (deterministic: one run is the answer):
//! rounds, pages sent, pages fetched on fault, downtime, total time. The
//! last lines are `migration STRATEGY dirty=RATE: downtime X ms, pages
//! sent N, ...`, one per pair: the curve of downtime and pages sent
//! against the dirtying rate, for each strategy.

use std::hint::black_box;

use criterion::{Criterion, criterion_group};
use kmodel::container::migrate::{Dirtier, MigrationConfig, show_time};
use kmodel::container::{HostId, Resource, Strategy, World};
use kmodel::kernel::{Kernel, KernelConfig, UserRange};
use tcp_sim::{Duration, LinkParams};

const PAGES: u64 = 4096;

/// Page writes per second of simulated time.
const RATES: [u64; 6] = [0, 1_000, 5_000, 15_000, 30_000, 100_000];

const STRATEGIES: [Strategy; 3] = [Strategy::PreCopy, Strategy::PostCopy, Strategy::Hybrid];

fn world() -> (World, kmodel::container::VeId) {
    let mut w = World::new();
    let link = LinkParams { rtt: Duration::from_micros(500), ..LinkParams::default() };
    let config = KernelConfig { event_log: false, ..KernelConfig::default() };
    let a = w.add_host("a", Kernel::new(config), link);
    w.add_host("b", Kernel::new(config), link);
    let k = w.kernel(a);
    let (ve, init) = k.create_container("bench", &[(Resource::Pages, PAGES)]).expect("container");
    let buf = k.mmap_anon(init, PAGES).expect("mmap");
    k.user_fill(init, UserRange { buffer: buf, start: 0, len: (PAGES * 4096) as usize }, b'm').expect("fill");
    (w, ve)
}

fn migrate_once(strategy: Strategy, rate: u64) -> kmodel::container::MigrationReport {
    let (mut w, ve) = world();
    let m =
        w.migrate(HostId(0), ve, HostId(1), MigrationConfig::new(strategy), &mut Dirtier::new(rate)).expect("migrate");
    m.report
}

fn wall(c: &mut Criterion) {
    let mut g = c.benchmark_group("migrate_16MiB");
    g.sample_size(10);
    for s in STRATEGIES {
        for rate in [0, 15_000] {
            g.bench_function(format!("{} dirty={rate}", s.name()), |b| {
                b.iter_batched(
                    world,
                    |(mut w, ve)| {
                        black_box(
                            w.migrate(HostId(0), ve, HostId(1), MigrationConfig::new(s), &mut Dirtier::new(rate))
                                .expect("migrate"),
                        )
                    },
                    criterion::BatchSize::LargeInput,
                )
            });
        }
    }
    g.finish();
}

criterion_group!(benches, wall);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    for s in STRATEGIES {
        for rate in RATES {
            let r = migrate_once(s, rate);
            println!(
                "migration {} dirty={rate}: downtime {}, total {}, rounds {}, pages sent {}, fetched on fault {}, \
                 dirty at freeze {}",
                s.name(),
                show_time(r.downtime),
                show_time(r.total),
                r.rounds,
                r.pages_sent,
                r.pages_fetched_on_fault,
                r.dirty_at_freeze
            );
        }
    }
}
