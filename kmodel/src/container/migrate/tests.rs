use super::*;
use crate::container::World;
use crate::kernel::{KernelConfig, UserRange};

/// A world of two hosts on 1 gbit/s, 1 ms uplinks, with container `web`
/// on the first: one process with `pages` pages, every one written.
fn world(pages: u64) -> (World, VeId) {
    let mut w = World::new();
    let link = LinkParams { rtt: Duration::from_micros(500), ..LinkParams::default() };
    let a = w.add_host("a", Kernel::new(KernelConfig::default()), link);
    w.add_host("b", Kernel::new(KernelConfig::default()), link);
    let k = &mut w.host_mut(a).kernel;
    let (ve, init) = k.create_container("web", &[(Resource::Pages, 4096)]).unwrap();
    let buf = k.mmap_anon(init, pages).unwrap();
    for i in 0..pages as usize {
        k.user_fill(init, UserRange { buffer: buf, start: i * PAGE_SIZE, len: PAGE_SIZE }, b'0' + (i % 10) as u8)
            .unwrap();
    }
    (w, ve)
}

/// Every page's bytes of the container's memory, in layout order.
fn memory(k: &Kernel, ve: VeId) -> Vec<Vec<u8>> {
    let l = Layout::of(k, ve);
    (0..l.pages)
        .map(|at| {
            let (pid, b, i) = l.locate(at).unwrap();
            let mut out = Vec::new();
            match k.process(pid).unwrap().mm[&b].pte(i) {
                Pte::Page(p) => k.pages().read_into(p, 0, PAGE_SIZE, &mut out),
                _ => out.resize(PAGE_SIZE, 0),
            }
            out
        })
        .collect()
}

fn both_check(w: &mut World) {
    for h in [HostId(0), HostId(1)] {
        w.host(h).kernel.check_invariants().unwrap();
    }
    for h in [HostId(0), HostId(1)] {
        w.host_mut(h).kernel.teardown_and_check().unwrap();
    }
}

use crate::container::HostId;

#[test]
fn precopy_without_load_moves_memory_in_one_round() {
    let (mut w, ve) = world(64);
    let before = memory(&w.host(HostId(0)).kernel, ve);
    let m = w.migrate(HostId(0), ve, HostId(1), MigrationConfig::new(Strategy::PreCopy), &mut Dirtier::new(0)).unwrap();
    assert_eq!(m.report.rounds, 1);
    assert_eq!(m.report.pages_sent, 64);
    assert_eq!(m.report.dirty_at_freeze, 0);
    assert_eq!(memory(&w.host(HostId(1)).kernel, m.ve), before);
    assert!(w.host(HostId(0)).kernel.container(ve).is_none(), "gone from the source");
    let dst = &w.host(HostId(1)).kernel;
    let c = dst.container(m.ve).unwrap();
    assert_eq!(c.name, "web");
    assert_eq!(dst.getpid(c.find_vpid(1).unwrap()), 1);
    assert_eq!(c.beancounters().get(Resource::Pages).limit, 4096);
    both_check(&mut w);
}

#[test]
fn precopy_with_slow_dirtying_converges_and_memory_arrives_whole() {
    let (mut w, ve) = world(512);
    let src0 = w.host(HostId(0)).kernel.clone();
    let mut load = Dirtier::new(2_000);
    let m = w.migrate(HostId(0), ve, HostId(1), MigrationConfig::new(Strategy::PreCopy), &mut load).unwrap();
    let r = &m.report;
    assert_eq!(r.stop_reason, "dirty set small", "{r}");
    assert!(r.rounds >= 2 && r.rounds < 10, "{r}");
    assert!(r.pages_sent > 512 && r.pages_sent < 600, "{r}");
    assert!(r.downtime < r.total, "{r}");
    // The target holds what the source held at the freeze: replay the
    // same load for the time the container ran on the source.
    let mut replay = src0;
    Dirtier::new(2_000).run(&mut replay, ve, Duration(r.total.0 - r.downtime.0));
    assert_eq!(memory(&w.host(HostId(1)).kernel, m.ve), memory(&replay, ve));
    both_check(&mut w);
}

#[test]
fn precopy_with_fast_dirtying_stops_when_dirty_set_stops_shrinking() {
    let (mut w, ve) = world(512);
    // 1 gbit/s moves about 30000 pages a second: dirty faster than that.
    let mut load = Dirtier::new(200_000);
    let m = w.migrate(HostId(0), ve, HostId(1), MigrationConfig::new(Strategy::PreCopy), &mut load).unwrap();
    assert_eq!(m.report.stop_reason, "dirty set stopped shrinking", "{}", m.report);
    assert_eq!(m.report.dirty_at_freeze, 512);
    both_check(&mut w);
}

#[test]
fn postcopy_has_short_downtime_and_faults_under_load() {
    let (mut w, ve) = world(512);
    let pre = {
        let (mut w2, ve2) = world(512);
        w2.migrate(HostId(0), ve2, HostId(1), MigrationConfig::new(Strategy::PreCopy), &mut Dirtier::new(5_000))
            .unwrap()
            .report
    };
    let m = w
        .migrate(HostId(0), ve, HostId(1), MigrationConfig::new(Strategy::PostCopy), &mut Dirtier::new(5_000))
        .unwrap();
    let r = &m.report;
    assert_eq!(r.rounds, 0);
    assert_eq!(r.pages_sent, 512);
    assert!(r.pages_fetched_on_fault > 0, "{r}");
    assert!(r.downtime < pre.downtime, "post {r} vs pre {pre}");
    both_check(&mut w);
}

#[test]
fn hybrid_runs_one_round_then_fetches_only_dirtied_pages() {
    let (mut w, ve) = world(512);
    let m =
        w.migrate(HostId(0), ve, HostId(1), MigrationConfig::new(Strategy::Hybrid), &mut Dirtier::new(5_000)).unwrap();
    let r = &m.report;
    assert_eq!(r.rounds, 1);
    assert!(r.pages_sent > 512, "{r}");
    assert!(r.pages_fetched_on_fault <= r.dirty_at_freeze, "{r}");
    both_check(&mut w);
}

#[test]
fn incompatible_target_names_each_mismatch_and_changes_nothing() {
    let (mut w, ve) = world(4);
    let mut cfg = KernelConfig::default();
    cfg.pipe_limits.pipe_max_size = 4096;
    cfg.max_map_pages = 2;
    let mut other = Kernel::new(cfg);
    other.create_container("web", &[]).unwrap();
    let c = w.add_host("c", other, LinkParams::default());
    let err = w.migrate(HostId(0), ve, c, MigrationConfig::new(Strategy::PreCopy), &mut Dirtier::new(0)).unwrap_err();
    let MigrateError::Incompatible(m) = &err else { panic!("{err}") };
    assert_eq!(m.len(), 3, "{err}");
    assert!(m[0].contains("pipe limits"), "{err}");
    assert!(m[1].contains("at most 2 pages"), "{err}");
    assert!(m[2].contains("named web already runs"), "{err}");
    assert!(w.host(HostId(0)).kernel.container(ve).is_some());
    both_check(&mut w);
}

#[test]
fn container_with_descriptors_is_refused_naming_them() {
    let (mut w, ve) = world(4);
    let k = &mut w.host_mut(HostId(0)).kernel;
    let init = k.container(ve).unwrap().find_vpid(1).unwrap();
    k.pipe2(init).unwrap();
    let err =
        w.migrate(HostId(0), ve, HostId(1), MigrationConfig::new(Strategy::PreCopy), &mut Dirtier::new(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot migrate yet: pid 1 holds descriptor 3 (a pipe), which needs the checkpoint image; \
         pid 1 holds descriptor 4 (a pipe), which needs the checkpoint image"
    );
    assert!(w.host(HostId(1)).kernel.containers().next().is_none(), "nothing built on the target");
    both_check(&mut w);
}

#[test]
fn migration_keeps_virtual_pids_of_every_process() {
    let (mut w, ve) = world(2);
    let k = &mut w.host_mut(HostId(0)).kernel;
    let init = k.container(ve).unwrap().find_vpid(1).unwrap();
    let c2 = k.fork(init).unwrap();
    let c3 = k.fork(init).unwrap();
    k.exit(c2);
    k.mmap_anon(c3, 3).unwrap();
    let m = w.migrate(HostId(0), ve, HostId(1), MigrationConfig::new(Strategy::PreCopy), &mut Dirtier::new(0)).unwrap();
    let dst = &mut w.host_mut(HostId(1)).kernel;
    let vp: Vec<u32> = dst.container(m.ve).unwrap().pids().map(|(v, _)| v).collect();
    assert_eq!(vp, vec![1, 3]);
    let new3 = dst.container(m.ve).unwrap().find_vpid(3).unwrap();
    assert_eq!(dst.process(new3).unwrap().mm.len(), 1);
    // The PID namespace counts on from where it was.
    let c4 = dst.fork(new3).unwrap();
    assert_eq!(dst.getpid(c4), 4);
    both_check(&mut w);
}
