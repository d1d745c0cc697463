//! Containers on one kernel: virtual pids, and one test per limit (the
//! errno, and the failure counted).

use super::*;
use crate::kernel::{Errno, Fcntl, Kernel, KernelConfig, UserRange};
use crate::vfs::OpenMode;

fn kernel() -> Kernel {
    Kernel::new(KernelConfig::default())
}

fn check(k: &Kernel) {
    k.check_invariants().unwrap();
}

fn failcnt(k: &mut Kernel, ve: VeId, r: Resource) -> u64 {
    k.beancounters(ve).unwrap().get(r).failcnt
}

#[test]
fn container_init_is_vpid_one_inside_and_global_outside() {
    let mut k = kernel();
    let (a, a_init) = k.create_container("a", &[]).unwrap();
    let (b, b_init) = k.create_container("b", &[]).unwrap();
    assert_eq!(k.getpid(a_init), 1);
    assert_eq!(k.getpid(b_init), 1);
    assert_ne!(a_init, b_init);
    assert_ne!(a_init.0, 1, "outside, the container's init has a global pid");
    let child = k.fork(a_init).unwrap();
    assert_eq!(k.getpid(child), 2);
    assert_eq!(k.container(a).unwrap().find_vpid(2), Some(child));
    assert_eq!(k.container(b).unwrap().find_vpid(2), None);
    assert_eq!(k.ve_of(child), Some(a));
    assert_eq!(k.getpid(k.init_pid()), 1, "the host's init is outside every container");
    assert_eq!(k.ve_of(k.init_pid()), None);
    check(&k);
    k.teardown_and_check().unwrap();
}

#[test]
fn container_has_private_mount_namespace() {
    let mut k = kernel();
    let (_, init) = k.create_container("a", &[]).unwrap();
    let host = k.init_pid();
    assert_ne!(k.process(init).unwrap().fs.ns, k.process(host).unwrap().fs.ns);
    k.mkdir(host, "/mnt", 0o755).unwrap();
    k.mkdir(host, "/src", 0o755).unwrap();
    k.bind_mount(init, "/src", "/mnt").unwrap();
    check(&k);
    k.teardown_and_check().unwrap();
}

#[test]
fn duplicate_container_name_is_eexist() {
    let mut k = kernel();
    k.create_container("a", &[]).unwrap();
    assert_eq!(k.create_container("a", &[]).unwrap_err(), Errno::EEXIST);
    check(&k);
}

#[test]
fn pages_over_limit_mmap_answers_enomem_and_counts() {
    let mut k = kernel();
    let (ve, init) = k.create_container("a", &[(Resource::Pages, 8)]).unwrap();
    k.mmap_anon(init, 6).unwrap();
    assert_eq!(k.mmap_anon(init, 3), Err(Errno::ENOMEM));
    k.mmap_anon(init, 2).unwrap();
    let c = k.beancounters(ve).unwrap().get(Resource::Pages);
    assert_eq!((c.held, c.maxheld, c.limit, c.failcnt), (8, 8, 8, 1));
    // The host is not limited.
    k.mmap_anon(k.init_pid(), 100).unwrap();
    check(&k);
    k.teardown_and_check().unwrap();
}

#[test]
fn pipes_over_limit_pipe2_answers_enfile_and_counts() {
    let mut k = kernel();
    let (ve, init) = k.create_container("a", &[(Resource::Pipes, 16)]).unwrap();
    let (r, w) = k.pipe2(init).unwrap();
    assert_eq!(k.pipe2(init), Err(Errno::ENFILE));
    assert_eq!(failcnt(&mut k, ve, Resource::Pipes), 1);
    // Closing both ends frees the pipe's buffers: a new pipe fits again.
    k.close(init, r).unwrap();
    k.close(init, w).unwrap();
    k.pipe2(init).unwrap();
    let c = k.beancounters(ve).unwrap().get(Resource::Pipes);
    assert_eq!((c.held, c.maxheld, c.failcnt), (16, 16, 1));
    check(&k);
    k.teardown_and_check().unwrap();
}

#[test]
fn pipe_growth_over_limit_answers_eperm_and_counts() {
    let mut k = kernel();
    let (ve, init) = k.create_container("a", &[(Resource::Pipes, 20)]).unwrap();
    let (_, w) = k.pipe2(init).unwrap();
    assert_eq!(k.fcntl(init, w, Fcntl::SetPipeSz(32 * 4096)), Err(Errno::EPERM));
    assert_eq!(failcnt(&mut k, ve, Resource::Pipes), 1);
    // Shrinking is always allowed.
    assert_eq!(k.fcntl(init, w, Fcntl::SetPipeSz(4 * 4096)), Ok(4 * 4096));
    assert_eq!(k.beancounters(ve).unwrap().get(Resource::Pipes).held, 4);
    check(&k);
    k.teardown_and_check().unwrap();
}

#[test]
fn sockets_over_limit_tcp_answers_enomem_and_counts() {
    let mut k = kernel();
    let (ve, init) = k.create_container("a", &[(Resource::Sockets, 3)]).unwrap();
    k.tcp_pair(init, tcp_sim::Mode::Loopback).unwrap();
    assert_eq!(k.tcp_pair(init, tcp_sim::Mode::Loopback), Err(Errno::ENOMEM));
    let c = k.beancounters(ve).unwrap().get(Resource::Sockets);
    assert_eq!((c.held, c.failcnt), (2, 1));
    check(&k);
    k.teardown_and_check().unwrap();
}

#[test]
fn files_over_limit_answer_emfile_and_count() {
    let mut k = kernel();
    let (ve, init) = k.create_container("a", &[(Resource::Files, 3)]).unwrap();
    k.pipe2(init).unwrap();
    assert_eq!(k.tcp_pair(init, tcp_sim::Mode::Loopback), Err(Errno::EMFILE));
    let f = k.create_file(init, 1, b'x').unwrap();
    assert_eq!(k.create_file(init, 1, b'x'), Err(Errno::EMFILE));
    // open checks the descriptor before the name (ENOENT would come later).
    assert_eq!(k.open(init, "/no/such/file", OpenMode::Read), Err(Errno::EMFILE));
    assert_eq!(failcnt(&mut k, ve, Resource::Files), 3);
    k.close(init, f).unwrap();
    assert_eq!(k.open(init, "/no/such/file", OpenMode::Read), Err(Errno::ENOENT));
    check(&k);
    k.teardown_and_check().unwrap();
}

#[test]
fn pipe_over_both_limits_answers_enfile_first() {
    // __do_pipe_flags: create_pipe_files (ENFILE) before get_unused_fd.
    let mut k = kernel();
    let (ve, init) = k.create_container("a", &[(Resource::Pipes, 0), (Resource::Files, 0)]).unwrap();
    assert_eq!(k.pipe2(init), Err(Errno::ENFILE));
    assert_eq!(failcnt(&mut k, ve, Resource::Pipes), 1);
    assert_eq!(failcnt(&mut k, ve, Resource::Files), 0);
}

#[test]
fn fork_inside_counts_inherited_descriptors_and_exit_releases() {
    let mut k = kernel();
    let (ve, init) = k.create_container("a", &[]).unwrap();
    k.pipe2(init).unwrap();
    let child = k.fork(init).unwrap();
    assert_eq!(k.beancounters(ve).unwrap().get(Resource::Files).held, 4);
    let buf = k.mmap_anon(child, 2).unwrap();
    k.user_fill(child, UserRange { buffer: buf, start: 0, len: 8192 }, b'q').unwrap();
    k.exit(child);
    let c = k.beancounters(ve).unwrap();
    assert_eq!(c.get(Resource::Files).held, 2);
    assert_eq!(c.get(Resource::Files).maxheld, 4);
    assert_eq!(c.get(Resource::Pages).held, 0);
    assert_eq!(k.container(ve).unwrap().find_vpid(2), None);
    check(&k);
    k.teardown_and_check().unwrap();
}

#[test]
fn destroy_container_frees_everything_it_held() {
    let mut k = kernel();
    let (ve, init) = k.create_container("a", &[]).unwrap();
    let b = k.mmap_anon(init, 4).unwrap();
    k.user_fill(init, UserRange { buffer: b, start: 0, len: 4 * 4096 }, b'z').unwrap();
    k.pipe2(init).unwrap();
    k.destroy_container(ve);
    assert!(k.container(ve).is_none());
    check(&k);
    k.teardown_and_check().unwrap();
}
