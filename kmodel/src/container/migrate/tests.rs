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
    let k = w.kernel(a);
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
    w.check().unwrap();
    w.teardown().unwrap();
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
fn container_sharing_a_pipe_with_the_host_is_refused_naming_it() {
    let (mut w, ve) = world(4);
    let k = w.kernel(HostId(0));
    let init = k.container(ve).unwrap().find_vpid(1).unwrap();
    let (r, _) = k.pipe2(init).unwrap();
    // The host's init holds the read end too (as if passed over a socket).
    let f = *k.process(init).unwrap().fds.get(r).unwrap();
    let host = k.init_pid();
    let id = f.pipe().unwrap();
    k.proc_mut(host).unwrap().fds.install_at(crate::kernel::Fd(9), f);
    k.pipes.get_mut(&id).unwrap().readers += 1;
    let err =
        w.migrate(HostId(0), ve, HostId(1), MigrationConfig::new(Strategy::PreCopy), &mut Dirtier::new(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot migrate yet: cannot checkpoint the set alone: pipe {} is also open in process {} (descriptor 9), \
             outside the set",
            id.0, host.0
        )
    );
    assert!(w.host(HostId(1)).kernel.containers().next().is_none(), "nothing built on the target");
    both_check(&mut w);
}

#[test]
fn container_with_a_pipe_migrates_with_its_slots() {
    let (mut w, ve) = world(4);
    let k = w.kernel(HostId(0));
    let init = k.container(ve).unwrap().find_vpid(1).unwrap();
    let (r, wr) = k.pipe2(init).unwrap();
    k.write(init, wr, page_refs::Source::Fill { byte: b'q', len: 10 }).unwrap();
    let m =
        w.migrate(HostId(0), ve, HostId(1), MigrationConfig::new(Strategy::PostCopy), &mut Dirtier::new(0)).unwrap();
    assert_eq!(m.report.state_pages, 1, "{}", m.report);
    let k = w.kernel(HostId(1));
    let pid = k.container(m.ve).unwrap().find_vpid(1).unwrap();
    let mut out = Vec::new();
    assert_eq!(k.read(pid, r, 100, &mut out), Ok(10));
    assert_eq!(out, vec![b'q'; 10]);
    both_check(&mut w);
}

#[test]
fn migration_keeps_virtual_pids_of_every_process() {
    let (mut w, ve) = world(2);
    let k = w.kernel(HostId(0));
    let init = k.container(ve).unwrap().find_vpid(1).unwrap();
    let c2 = k.fork(init).unwrap();
    let c3 = k.fork(init).unwrap();
    k.exit(c2);
    k.mmap_anon(c3, 3).unwrap();
    let m = w.migrate(HostId(0), ve, HostId(1), MigrationConfig::new(Strategy::PreCopy), &mut Dirtier::new(0)).unwrap();
    let dst = w.kernel(HostId(1));
    let vp: Vec<u32> = dst.container(m.ve).unwrap().pids().map(|(v, _)| v).collect();
    assert_eq!(vp, vec![1, 3]);
    let new3 = dst.container(m.ve).unwrap().find_vpid(3).unwrap();
    assert_eq!(dst.process(new3).unwrap().mm.len(), 1);
    // The PID namespace counts on from where it was.
    let c4 = dst.fork(new3).unwrap();
    assert_eq!(dst.getpid(c4), 4);
    both_check(&mut w);
}

/// A connection from the container to its host's init over a link: the
/// container migrates with bytes in flight, and the client reads every
/// byte once and in order.
#[test]
fn world_migration_moves_tcp_endpoint_and_stream_continues() {
    let (mut w, ve) = world(8);
    let link = LinkParams { rtt: Duration::from_millis(20), bandwidth: 2_000_000, ..LinkParams::default() };
    let k = w.kernel(HostId(0));
    let init = k.container(ve).unwrap().find_vpid(1).unwrap();
    let host = k.init_pid();
    let (tx, rx) = k.tcp_pair(init, tcp_sim::Mode::Link(link)).unwrap();
    let rx = k.pass_fd(init, rx, host).unwrap();
    let mut sent = Vec::new();
    for b in [b'a', b'b', b'c', b'd'] {
        assert_eq!(k.write(init, tx, Source::Fill { byte: b, len: 16384 }), Ok(16384));
        sent.extend(std::iter::repeat_n(b, 16384));
    }
    w.advance(Duration::from_millis(30));
    let m = w.migrate(HostId(0), ve, HostId(1), MigrationConfig::new(Strategy::PreCopy), &mut Dirtier::new(0)).unwrap();
    assert_eq!(m.sockets.len(), 1);
    w.advance(Duration::from_millis(2_000));
    let k = w.kernel(HostId(0));
    let mut got = Vec::new();
    k.read(host, rx, 1 << 20, &mut got).unwrap();
    assert_eq!(got, sent);
    // The endpoint is on host 1 now, at the same descriptor number.
    let dst = w.kernel(HostId(1));
    let new_init = dst.container(m.ve).unwrap().find_vpid(1).unwrap();
    assert!(dst.process(new_init).unwrap().fds.get(tx).is_some_and(|f| f.socket().is_some()));
    assert_eq!(dst.network().host_of(m.sockets[0]), Some(1));
    both_check(&mut w);
}

/// A container talking to itself over loopback TCP, a page of its buffer
/// vmspliced and spliced into the connection and bytes behind it, nothing
/// read: after a pre-copy migration the pair runs on the target under
/// fresh endpoint ids, the received page is the target's copy of the
/// buffer page (rewriting the buffer shows through, as on the source), and
/// every later read answers what the same run without the migration does.
#[test]
fn world_migration_carries_loopback_pair_with_unread_data_and_shared_page() {
    use crate::container::world::Hosts;
    use crate::kernel::SpliceFlags;
    let (mut w, ve) = world(4);
    let k = w.kernel(HostId(0));
    let init = k.container(ve).unwrap().find_vpid(1).unwrap();
    let buf = *k.process(init).unwrap().mm.keys().next().unwrap();
    let (tx, rx) = k.tcp_pair(init, tcp_sim::Mode::Loopback).unwrap();
    let (r, wr) = k.pipe2(init).unwrap();
    let page = UserRange { buffer: buf, start: 0, len: PAGE_SIZE };
    k.vmsplice(init, wr, &[page], SpliceFlags::default()).unwrap();
    k.splice(init, r, None, tx, None, PAGE_SIZE as u64, SpliceFlags::default()).unwrap();
    k.write(init, tx, Source::Fill { byte: b'x', len: 3 }).unwrap();
    k.write(init, rx, Source::Fill { byte: b'r', len: 2 }).unwrap();
    w.check().unwrap();
    let mut reference = w.clone();
    let m = w.migrate(HostId(0), ve, HostId(1), MigrationConfig::new(Strategy::PreCopy), &mut Dirtier::new(0)).unwrap();
    assert!(m.sockets.is_empty(), "no link endpoint to rehome");
    w.check().unwrap();
    // The later lines, on whichever host runs the container.
    let later = |w: &mut World, h: usize, pid: Pid, buf: BufferId| {
        w.switch_host(h);
        let k = w.current_kernel();
        k.user_fill(pid, UserRange { buffer: buf, start: 0, len: PAGE_SIZE }, b'B').unwrap();
        let mut lines = Vec::new();
        for (fd, n) in [(rx, PAGE_SIZE + 3), (tx, 2)] {
            let mut out = Vec::new();
            let got = k.recv(pid, fd, n as u64, &mut out);
            lines.push((got, out));
        }
        k.write(pid, tx, Source::Fill { byte: b'y', len: 5 }).unwrap();
        let mut out = Vec::new();
        lines.push((k.recv(pid, rx, 5, &mut out), out));
        w.check().unwrap();
        lines
    };
    let want = later(&mut reference, 0, init, buf);
    let mut page = vec![b'B'; PAGE_SIZE];
    page.extend_from_slice(b"xxx");
    assert_eq!(want[0], (Ok(PAGE_SIZE + 3), page), "the hazard: the queued page shows the rewrite");
    let dst = w.kernel(HostId(1));
    let new_init = dst.container(m.ve).unwrap().find_vpid(1).unwrap();
    let sock = dst.process(new_init).unwrap().fds.get(tx).and_then(|f| f.socket()).unwrap();
    assert_eq!(w.kernel(HostId(0)).network().host_of(sock), Some(1));
    let got = later(&mut w, 1, new_init, m.maps[&buf]);
    assert_eq!(got, want);
    both_check(&mut w);
    both_check(&mut reference);
}
