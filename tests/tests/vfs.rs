//! The VFS through the kernel's API: names, open files that outlive their
//! names, mounts, namespaces, chroot, credentials, and the names security
//! modules get back (`d_path`, `dentry_path`). The kernel's invariants
//! (dentry reference counts equal their holders, link counts equal names,
//! page references) are checked after every call.

use kmodel::kernel::{Errno, Kernel, KernelConfig, Pid};
use kmodel::vfs::OpenMode;
use page_refs::Source;

/// Run a call and check every invariant after it.
macro_rules! call {
    ($k:expr, $e:expr) => {{
        let r = $e;
        if let Err(e) = $k.check_invariants() {
            panic!("after {}: {e}", stringify!($e));
        }
        r
    }};
}

fn kernel() -> (Kernel, Pid) {
    let k = Kernel::new(KernelConfig::default());
    let pid = k.init_pid();
    (k, pid)
}

#[test]
fn unlinked_open_file_keeps_its_pages_until_the_last_close() {
    let (mut k, p) = kernel();
    call!(k, k.create(p, "/f")).unwrap();
    let fd = call!(k, k.open(p, "/f", OpenMode::ReadWrite)).unwrap();
    call!(k, k.write(p, fd, Source::Fill { byte: b'x', len: 8192 })).unwrap();
    let live = k.pages().iter().count();
    call!(k, k.unlink(p, "/f")).unwrap();
    assert_eq!(k.stat(p, "/f"), Err(Errno::ENOENT));
    assert_eq!(k.pages().iter().count(), live, "unlink of an open file freed pages");
    let mut out = Vec::new();
    call!(k, k.pwrite(p, fd, Source::Fill { byte: b'y', len: 1 }, 0)).unwrap();
    assert_eq!(call!(k, k.read(p, fd, 10, &mut out)), Ok(0), "read at the end of the file");
    call!(k, k.close(p, fd)).unwrap();
    assert_eq!(k.pages().iter().count(), live - 2, "the two page-cache pages go at the last close");
    assert!(k.vfs().d_find_alias(kmodel::kernel::InodeId(1)).is_none());
    k.teardown_and_check().unwrap();
}

#[test]
fn forked_process_shares_open_file_which_survives_until_both_close() {
    let (mut k, p) = kernel();
    call!(k, k.mkdir(p, "/d", 0o755)).unwrap();
    call!(k, k.create(p, "/d/f")).unwrap();
    let fd = call!(k, k.open(p, "/d/f", OpenMode::Write)).unwrap();
    call!(k, k.write(p, fd, Source::Fill { byte: b'a', len: 10 })).unwrap();
    let child = call!(k, k.fork(p)).unwrap();
    call!(k, k.unlink(p, "/d/f")).unwrap();
    call!(k, k.rmdir(p, "/d")).unwrap();
    call!(k, k.close(p, fd)).unwrap();
    // The child's copy still holds the file, and its deleted directory.
    assert_eq!(call!(k, k.write(child, fd, Source::Fill { byte: b'b', len: 5 })), Ok(5));
    call!(k, k.close(child, fd)).unwrap();
    assert_eq!(call!(k, k.write(child, fd, Source::Fill { byte: b'b', len: 5 })), Err(Errno::EBADF));
    k.teardown_and_check().unwrap();
}

#[test]
fn bind_mount_is_another_path_to_the_same_dentries() {
    let (mut k, p) = kernel();
    call!(k, k.mkdir(p, "/etc", 0o755)).unwrap();
    call!(k, k.create(p, "/etc/shadow")).unwrap();
    call!(k, k.mkdir(p, "/mnt", 0o755)).unwrap();
    call!(k, k.bind_mount(p, "/etc", "/mnt")).unwrap();
    assert_eq!(call!(k, k.rename(p, "/mnt/shadow", "/etc/x")), Err(Errno::EXDEV));
    assert_eq!(call!(k, k.link(p, "/mnt/shadow", "/etc/x")), Err(Errno::EXDEV));
    let fd = call!(k, k.open(p, "/mnt/shadow", OpenMode::Read)).unwrap();
    let file = *k.process(p).unwrap().fds.get(fd).unwrap();
    let path = file.path.unwrap().path;
    let root = k.process(p).unwrap().fs.root;
    // d_path names it as the process reached it; dentry_path, blind to
    // mounts, names it from the filesystem's root.
    assert_eq!(k.vfs().d_path(path, root).name, "/mnt/shadow");
    assert_eq!(k.vfs().dentry_path(path.dentry).name, "/etc/shadow");
    assert_eq!(call!(k, k.rmdir(p, "/mnt")), Err(Errno::EBUSY));
    k.teardown_and_check().unwrap();
}

#[test]
fn unshared_namespace_sees_its_own_mounts_only() {
    let (mut k, p) = kernel();
    for d in ["/a", "/b"] {
        call!(k, k.mkdir(p, d, 0o755)).unwrap();
    }
    call!(k, k.create(p, "/a/in_a")).unwrap();
    let c = call!(k, k.fork(p)).unwrap();
    call!(k, k.unshare_mount(c)).unwrap();
    call!(k, k.bind_mount(c, "/a", "/b")).unwrap();
    assert!(call!(k, k.stat(c, "/b/in_a")).is_ok());
    assert_eq!(call!(k, k.stat(p, "/b/in_a")), Err(Errno::ENOENT));
    // A mount made by the parent now is not seen by the child either.
    call!(k, k.bind_mount(p, "/a", "/b")).unwrap();
    assert!(call!(k, k.stat(p, "/b/in_a")).is_ok());
    k.teardown_and_check().unwrap();
}

#[test]
fn chroot_stops_dotdot_and_absolute_symlinks_and_leaves_cwd() {
    let (mut k, p) = kernel();
    call!(k, k.mkdir(p, "/jail", 0o755)).unwrap();
    call!(k, k.create(p, "/secret")).unwrap();
    call!(k, k.create(p, "/jail/inside")).unwrap();
    call!(k, k.symlink(p, "/secret", "/jail/abs")).unwrap();
    call!(k, k.chroot(p, "/jail")).unwrap();
    assert_eq!(call!(k, k.stat(p, "/../../secret")), Err(Errno::ENOENT));
    assert_eq!(call!(k, k.stat(p, "/abs")), Err(Errno::ENOENT));
    assert!(call!(k, k.stat(p, "/inside")).is_ok());
    // chroot does not move the working directory: the classic escape.
    assert!(call!(k, k.stat(p, "secret")).is_ok(), "cwd is still the old root");
    call!(k, k.chdir(p, "/")).unwrap();
    assert_eq!(call!(k, k.stat(p, "../secret")), Err(Errno::ENOENT));
    k.teardown_and_check().unwrap();
}

#[test]
fn mode_bits_decide_for_an_unprivileged_process() {
    let (mut k, p) = kernel();
    call!(k, k.mkdir(p, "/priv", 0o700)).unwrap();
    call!(k, k.create(p, "/priv/f")).unwrap();
    call!(k, k.create(p, "/pub")).unwrap();
    let u = call!(k, k.fork(p)).unwrap();
    call!(k, k.setuid(u, 1000, 1000)).unwrap();
    // Search permission is checked before the name is looked at.
    assert_eq!(call!(k, k.stat(u, "/priv/f")), Err(Errno::EACCES));
    assert_eq!(call!(k, k.stat(u, "/priv/nope")), Err(Errno::EACCES));
    assert_eq!(call!(k, k.open(u, "/pub", OpenMode::Write)), Err(Errno::EACCES));
    assert!(call!(k, k.open(u, "/pub", OpenMode::Read)).is_ok());
    assert_eq!(call!(k, k.chmod(u, "/pub", 0o777)), Err(Errno::EPERM));
    // protected_hardlinks: no link to a file one could not write.
    call!(k, k.mkdir(p, "/tmp", 0o777)).unwrap();
    call!(k, k.chmod(p, "/tmp", 0o1777)).unwrap();
    assert_eq!(call!(k, k.link(u, "/pub", "/tmp/mine")), Err(Errno::EPERM));
    k.vfs_mut().protected_hardlinks = false;
    assert_eq!(call!(k, k.link(u, "/pub", "/tmp/mine")), Ok(0));
    // Root may do anything but execute what nobody may execute.
    assert_eq!(call!(k, k.exec(p, "/pub")), Err(Errno::EACCES));
    call!(k, k.chmod(p, "/pub", 0o100)).unwrap();
    assert_eq!(call!(k, k.exec(p, "/pub")), Ok(0));
    k.teardown_and_check().unwrap();
}

/// Paths random operations use: nested names, `..`, symlinks, trailing
/// slashes, and names that do not exist.
const PATHS: [&str; 14] =
    ["/a", "/a/b", "/a/b/c", "/d", "/d/e", "/a/../d", "/l", "/l/x", "/a/b/", "/m", "/m/b", "x", "../a", "/"];

/// One random name operation, by kind and operand indices.
#[derive(Clone, Debug)]
struct RandomOp(u8, usize, usize);

impl quickcheck::Arbitrary for RandomOp {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        RandomOp(u8::arbitrary(g) % 20, usize::arbitrary(g) % PATHS.len(), usize::arbitrary(g) % PATHS.len())
    }
}

/// Random histories of every name operation, across three processes (one
/// unprivileged), never panic and keep every invariant; teardown frees all.
#[test]
fn random_name_operations_keep_the_invariants() {
    fn prop(ops: Vec<RandomOp>) -> bool {
        let (mut k, init) = kernel();
        let other = k.fork(init).expect("fork");
        let user = k.fork(init).expect("fork");
        k.setuid(user, 1000, 1000).expect("setuid");
        let procs = [init, other, user];
        let mut fds = Vec::new();
        for (i, RandomOp(kind, a, b)) in ops.iter().enumerate() {
            let p = procs[i % 3];
            let (a, b) = (PATHS[*a], PATHS[*b]);
            let _ = match kind {
                0 | 1 => k.mkdir(p, a, 0o777),
                2 => k.create(p, a),
                3 => k.link(p, a, b),
                4 => k.symlink(p, b, a),
                5 | 6 => k.rename(p, a, b),
                7 => k.unlink(p, a),
                8 => k.rmdir(p, a),
                9 => k.open(p, a, OpenMode::ReadWrite).map(|fd| {
                    fds.push((p, fd));
                    0
                }),
                10 => k.stat(p, a).map(|_| 0),
                11 => k.chdir(p, a),
                12 => k.chroot(p, a),
                13 => k.bind_mount(p, a, b),
                14 => k.unshare_mount(p),
                15 => k.chmod(p, a, 0o700),
                16 => k.truncate(p, a, 5000),
                17 => match fds.pop() {
                    Some((q, fd)) => k.close(q, fd),
                    None => Ok(0),
                },
                18 => match fds.last() {
                    Some(&(q, fd)) => k.write(q, fd, Source::Fill { byte: b'z', len: 4097 }),
                    None => Ok(0),
                },
                _ => k.exec(p, a),
            };
            if let Err(e) = k.check_invariants() {
                eprintln!("after {:?} as {}: {e}", ops[i], p.0);
                return false;
            }
        }
        k.teardown_and_check().is_ok()
    }
    quickcheck::QuickCheck::new().tests(2000).quickcheck(prop as fn(Vec<RandomOp>) -> bool);
}
