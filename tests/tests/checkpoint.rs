//! Checkpoint images: bad input, compatibility, the two serializers, and
//! the images every format version wrote (`tests/images/`).

use std::path::{Path, PathBuf};

use kmodel::container::image::{
    ArenaRec, BeanCounterRec, BindingsRec, BufferRec, BytesRec, ConfigRec, CongestionRec, ConnRec, ContainerRec,
    ContentRec, DentryRec, EventKindRec, EventRec, FORMAT_VERSION, FdRec, FileKindRec, FragRec, FrameRec, HEADER_LEN,
    HandleRec, HolderRec, InodeKindRec, InodeRec, LabelObjectRec, LabelRec, LinkRec, LsmRec, Meta, ModuleRec, MountRec,
    NamespaceRec, NetRec, NetStatsRec, PacketRec, PathRec, PayloadRec, PipeBufRec, PipeRec, PolicyRec, ProcessRec,
    PteRec, RecvRec, RtoRec, RunnerCtRec, RunnerRec, SegDataRec, SegRec, SendRec, Serializer, SockRec, VInodeRec,
    VfsRec, ZeroCopyRec, reseal,
};
use kmodel::container::{self, HostInfo, Image, ImageError, Mismatch, RestoreError};
use kmodel::kernel::{Kernel, KernelConfig, Pid};
use kmodel::model::ModelBackend;
use kmodel::scenario::{self, Backend, StepResult};

/// A kernel with every kind of sharing: a user page in two pipes (tee), a
/// user page in a pipe (vmsplice), a page-cache page in a pipe (splice), a
/// pipe page with bytes (write), a page of mixed bytes.
const FIXTURE: &str = "buffer buf 3\npipe p\npipe q\nfile f 2 'F'\nfill buf[0..2p] 'A'\nfill buf[8192..8292] 'x'\n\
                       vmsplice p.w buf[0..2p]\ntee p.r q.w 4096\nsplice f q.w 4096\nwrite q.w 10 'w'\n";

fn fixture_backend() -> ModelBackend {
    let s = scenario::parse("fixture", FIXTURE).expect("fixture parses");
    let mut b = ModelBackend::new(KernelConfig::default());
    for step in &s.steps {
        b.step(&s, step).expect("fixture runs");
    }
    b
}

fn fixture() -> Kernel {
    fixture_backend().kernel().clone()
}

fn image_of(k: &Kernel) -> Image {
    container::checkpoint(k, &[Pid(1)]).expect("checkpoint")
}

fn images_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("images")
}

#[test]
fn fixture_image_round_trips_and_restores_the_same_sharing() {
    let k = fixture();
    let image = image_of(&k);
    let decoded = Image::decode(&image.encode()).expect("decodes");
    assert_eq!(decoded, image);
    let mut fresh = Kernel::default();
    let report = container::restore(&mut fresh, &decoded).expect("restores");
    assert_eq!(container::sharing(&fresh), container::sharing(&k));
    assert!(report.shared_frames >= 3, "{report:?}");
    fresh.teardown_and_check().expect("a restored kernel tears down clean");
}

#[test]
fn checkpoint_bytes_and_restore_bytes_agree_with_the_image_path() {
    let k = fixture();
    let bytes = container::checkpoint_bytes(&k, &[Pid(1)]).expect("checkpoint");
    assert_eq!(bytes, image_of(&k).encode(), "the direct encoder writes the same bytes");
    let mut fresh = Kernel::default();
    container::restore_bytes(&mut fresh, &bytes).expect("restores");
    assert_eq!(container::sharing(&fresh), container::sharing(&k));
    let e = container::restore_bytes(&mut fresh, &bytes[..bytes.len() - 1]).unwrap_err();
    assert!(matches!(e, RestoreError::Image(ImageError::Truncated { .. } | ImageError::ImageChecksum { .. })), "{e}");
}

#[test]
fn every_byte_flipped_in_turn_is_refused_with_an_error() {
    let good = image_of(&fixture()).encode();
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x5a;
        let e = Image::decode(&bad).expect_err(&format!("byte {i} flipped was accepted"));
        assert!(!e.to_string().is_empty());
    }
}

/// The TCP image with each byte flipped in turn and the checksums
/// recomputed, so the change reaches the decoder and restore: refused with
/// an error, or restored to a machine that passes its invariants and runs
/// on; never a panic.
#[test]
fn every_byte_of_a_tcp_image_flipped_and_resealed_never_panics() {
    let good = image_of(tcp_fixture_backend().kernel()).encode();
    let (mut refused, mut restored) = (0, 0);
    for i in HEADER_LEN..good.len() - 4 {
        let mut bad = good.clone();
        bad[i] ^= 0x5a;
        reseal(&mut bad);
        let mut k = Kernel::default();
        match container::restore_bytes(&mut k, &bad) {
            Err(e) => {
                assert!(!e.to_string().is_empty());
                refused += 1;
            }
            Ok(_) => {
                k.advance_time(tcp_sim::Duration(3_000_000_000));
                restored += 1;
            }
        }
    }
    assert!(refused > 0 && restored > 0, "{refused} refused, {restored} restored");
}

#[test]
fn every_truncation_is_refused_as_truncated_or_corrupted() {
    let good = image_of(&fixture()).encode();
    for n in 0..good.len() {
        match Image::decode(&good[..n]) {
            Err(
                ImageError::Truncated { .. } | ImageError::ImageChecksum { .. } | ImageError::SectionChecksum { .. },
            ) => {}
            Err(ImageError::BadMagic(_)) if n == 0 => {}
            other => panic!("cut at {n}: {other:?}"),
        }
    }
    let e = Image::decode(&good[..100]).unwrap_err().to_string();
    assert!(e.starts_with("truncated image:"), "{e}");
}

/// Found by the fuzz target: a section length near 2^64 overflowed the
/// "needs N bytes" arithmetic of the truncation error.
#[test]
fn section_length_near_two_to_the_64_is_truncation_not_overflow() {
    let mut bad = image_of(&fixture()).encode();
    bad[HEADER_LEN + 8..HEADER_LEN + 16].copy_from_slice(&u64::MAX.to_le_bytes());
    reseal(&mut bad);
    match Image::decode(&bad) {
        Err(ImageError::Truncated { needed, .. }) => assert_eq!(needed, u64::MAX),
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_version_and_wrong_magic_are_named() {
    let good = image_of(&fixture()).encode();
    for v in [0u16, FORMAT_VERSION + 1, 0xffff] {
        let mut bad = good.clone();
        bad[8..10].copy_from_slice(&v.to_le_bytes());
        reseal(&mut bad);
        let e = Image::decode(&bad).unwrap_err();
        assert_eq!(e, ImageError::UnsupportedVersion { found: v, newest: FORMAT_VERSION });
        assert!(e.to_string().contains(&format!("version {v} is not supported")), "{e}");
    }
    let mut bad = good.clone();
    bad[..8].copy_from_slice(b"CRIUIMG!");
    assert_eq!(
        Image::decode(&bad).unwrap_err().to_string(),
        "not a kmodel image: magic \"CRIUIMG!\", expected \"KMODELIM\""
    );
    assert!(matches!(Image::decode(b"\x7fELF"), Err(ImageError::BadMagic(_))));
}

#[test]
fn inconsistent_image_is_refused_and_the_target_is_untouched() {
    let k = fixture();
    let mut image = image_of(&k);
    // A pipe buffer naming a frame the image does not have.
    image.pipes[0].bufs[0].frame = 999;
    let mut target = fixture();
    // Make the target differ from the image, to see that it is kept.
    let before = container::sharing(&target);
    let e = container::restore(&mut target, &image).unwrap_err();
    assert!(e.to_string().contains("frame 999"), "{e}");
    assert_eq!(container::sharing(&target), before);

    // A frame whose holders do not match the objects: the invariants
    // refuse it after the whole kernel was built aside.
    let mut image = image_of(&k);
    let f = image.frames.iter_mut().find(|f| f.holders.len() == 3).expect("the teed page");
    f.holders.pop();
    let e = container::restore(&mut target, &image).unwrap_err();
    assert!(matches!(e, RestoreError::Invalid(_)), "{e}");
    assert_eq!(container::sharing(&target), before);
}

#[test]
fn incompatible_host_names_each_mismatch() {
    let image = image_of(&fixture());
    let host = HostInfo { page_size: 16384, model_version: "0.2.0".into(), features: vec!["pages".into()] };
    let mut target = Kernel::default();
    let e = container::restore_on(&mut target, &image, &host).unwrap_err();
    let RestoreError::Incompatible(m) = &e else { panic!("{e}") };
    assert!(m.contains(&Mismatch::PageSize { image: 4096, host: 16384 }), "{m:?}");
    assert!(m.iter().any(|m| matches!(m, Mismatch::ModelVersion { .. })), "{m:?}");
    assert!(m.contains(&Mismatch::Feature("pipes".into())), "{m:?}");
    let text = e.to_string();
    assert!(text.contains("page size 4096 in the image, 16384 on this host"), "{text}");
    assert!(text.contains("feature 'vfs' is used by the image but not enabled on this host"), "{text}");
    // A newer patch release restores it; an image from a newer model does not.
    let patch = HostInfo { model_version: "0.1.9".into(), ..HostInfo::this() };
    assert!(container::restore_on(&mut Kernel::default(), &image, &patch).is_ok());
    let mut newer = image.clone();
    newer.meta.model_version = "0.1.99".into();
    assert!(container::restore_on(&mut Kernel::default(), &newer, &HostInfo::this()).is_err());
}

/// A TCP transfer over a lossy link, cut with a segment lost and
/// unacknowledged: the user page is held by the mapping and the send
/// queue, the retransmission timer armed, packets in flight.
const TCP_FIXTURE: &str = "tcp t link rtt=20ms loss=30% seed=5\nbuffer buf 2\npipe p\nfill buf 'A'\n\
                           vmsplice p.w buf[0..6000]\nsplice p.r t.tx 6000\nadvance 15ms\n";

fn tcp_fixture_backend() -> ModelBackend {
    let s = scenario::parse("tcp", TCP_FIXTURE).expect("fixture parses");
    let mut b = ModelBackend::new(KernelConfig::default());
    for step in &s.steps {
        b.step(&s, step).expect("fixture runs");
    }
    b
}

#[test]
fn tcp_in_an_image_of_some_processes_is_refused_by_name() {
    let text = format!("{TCP_FIXTURE}process child\n");
    let s = scenario::parse("tcp", &text).unwrap();
    let mut b = ModelBackend::new(KernelConfig::default());
    for step in &s.steps {
        b.step(&s, step).unwrap();
    }
    let e = container::checkpoint(b.kernel(), &[Pid(1)]).unwrap_err().to_string();
    assert!(e.contains("TCP endpoint 0 in an image of some processes"), "{e}");
}

#[test]
fn tcp_image_round_trips_and_runs_on_as_the_original() {
    let b = tcp_fixture_backend();
    let k = b.kernel().clone();
    let image = image_of(&k);
    let net = image.net.as_ref().expect("the network is saved");
    let tx = net.socks[0].as_ref().unwrap();
    assert!(!tx.snd.frags.is_empty() && tx.snd.snd_una != tx.snd.write_seq, "unacked data at the cut");
    assert!(tx.timers[0].0.is_some(), "the retransmission timer is armed");
    assert!(image.meta.features.iter().any(|f| f == "tcp"));
    let e = container::internal::encode(&k, &[Pid(1)]).unwrap_err().to_string();
    assert!(e.contains("TCP endpoint 0 with the internal serializer"), "{e}");
    let decoded = Image::decode(&image.encode()).expect("decodes");
    assert_eq!(decoded, image);
    let mut fresh = Kernel::default();
    container::restore(&mut fresh, &decoded).expect("restores");
    assert_eq!(container::sharing(&fresh), container::sharing(&k));
    // Both run on: the same bytes at the same times, the same state.
    let mut a = k;
    for t in 1..=400u64 {
        a.advance_time(tcp_sim::Duration(25_000_000));
        fresh.advance_time(tcp_sim::Duration(25_000_000));
        assert_eq!(image_of(&a), image_of(&fresh), "{t} steps after the restore");
    }
    let rx = tcp_sim::SockId(1);
    assert_eq!(a.network().info(rx), fresh.network().info(rx));
    let info = a.network().info(rx).unwrap();
    assert!(info.delivered > 0, "{info:?} {:?}", a.network().info(tcp_sim::SockId(0)));
    a.teardown_and_check().unwrap();
    fresh.teardown_and_check().unwrap();
}

/// A container with a limit hit, a process forked inside, a pipe and a
/// socket: its PID namespace, counters and mount namespace are saved.
const CONTAINER_FIXTURE: &str = "container tenant pages=8 pipes=16 sockets=2 files=4\nin tenant\nprocess worker\n\
                                 buffer heap 6\nbuffer more 4\npipe p\ntcp conn\nend\n";

#[test]
fn container_image_keeps_virtual_pids_counters_and_namespace() {
    let s = scenario::parse("ct", CONTAINER_FIXTURE).unwrap();
    let mut b = ModelBackend::new(KernelConfig::default());
    for step in &s.steps {
        b.step(&s, step).unwrap();
    }
    let k = b.kernel().clone();
    let pids: Vec<Pid> = (1..64).map(Pid).filter(|p| k.process(*p).is_some()).collect();
    let image = container::checkpoint(&k, &pids).expect("checkpoint");
    assert_eq!(image.containers.len(), 1);
    let ct = &image.containers[0];
    assert_eq!((ct.name.as_str(), ct.vpids.len(), ct.counters[0].failcnt), ("tenant", 2, 1));
    let decoded = Image::decode(&image.encode()).unwrap();
    assert_eq!(decoded, image);
    let mut fresh = Kernel::default();
    container::restore(&mut fresh, &decoded).expect("restores");
    let (a, b) = (k.containers().next().unwrap(), fresh.containers().next().unwrap());
    assert_eq!(a, b, "the same container: name, PID namespace, counters");
    // A record naming a process the image lacks is refused, the target
    // untouched.
    let mut bad = image.clone();
    bad.containers[0].vpids.push((7, 999));
    bad.containers[0].next_vpid = 8;
    let e = container::restore(&mut fresh, &bad).unwrap_err().to_string();
    assert!(e.contains("process 999 is not in the image"), "{e}");
    let mut bad = image.clone();
    bad.containers[0].mnt_ns = Some(12345);
    let e = container::restore(&mut fresh, &bad).unwrap_err().to_string();
    assert!(e.contains("mount namespace"), "{e}");
    assert_eq!(fresh.containers().next().unwrap(), a);
    fresh.teardown_and_check().unwrap();
}

/// `PipeBuffer` as a later model might have it: one field more.
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct PipeBufferV2 {
    page: page_refs::PageId,
    offset: u32,
    len: u32,
    flags: pipe_buffer::BufFlags,
    origin: pipe_buffer::BufOrigin,
    /// The new field (`private` in `struct pipe_buffer`).
    private: u64,
}

#[test]
fn internal_image_breaks_when_a_struct_grows_and_the_interface_image_does_not() {
    let k = fixture();
    let internal = container::internal::encode(&k, &[Pid(1)]).expect("internal image");
    let interface = image_of(&k).encode();
    // Today both restore to the same machine.
    let from_internal = Image::decode(&internal).expect("internal decodes with today's structs");
    assert_eq!(from_internal.serializer, Serializer::Internal);
    let mut a = Kernel::default();
    container::restore(&mut a, &from_internal).expect("internal restores");
    assert_eq!(container::sharing(&a), container::sharing(&k));
    // The model's PipeBuffer gains a field: the internal image no longer
    // decodes, with an error saying why, and nothing can migrate it.
    let e = container::internal::decode_as::<PipeBufferV2>(&internal).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("section 'pipes' does not decode"), "{text}");
    assert!(text.contains("internal images cannot be migrated"), "{text}");
    // The interface image never held a PipeBuffer: it still restores.
    let mut b = Kernel::default();
    container::restore(&mut b, &Image::decode(&interface).unwrap()).expect("interface restores");
    assert_eq!(container::sharing(&b), container::sharing(&k));
}

/// A fixed image with every record, every variant and every optional part
/// set: its encoding is the format version's schema, byte for byte.
fn schema_sample() -> Image {
    let path = PathRec { mnt: 0, dentry: 2 };
    Image {
        serializer: Serializer::Interface,
        meta: Meta {
            page_size: 4096,
            model_version: "0.1.0".into(),
            features: vec!["pages".into()],
            config: ConfigRec {
                pipe_max_size: 1 << 20,
                cap_sys_resource: true,
                max_map_pages: 7,
                event_log: false,
                variant: 2,
            },
            next_id: 9,
            now_ns: 1_000_000,
            copied_bytes: 12345,
            lsm_era: 1,
            pids: vec![1, 2],
        },
        frames: vec![
            FrameRec {
                pfn: 0,
                generation: 0,
                holders: vec![HolderRec { kind: 4, object: 0, index: 0 }],
                content: ContentRec::Zero,
                version: 0,
            },
            FrameRec {
                pfn: 3,
                generation: 2,
                holders: vec![HolderRec { kind: 0, object: 5, index: 1 }, HolderRec { kind: 1, object: 6, index: 0 }],
                content: ContentRec::Uniform(b'A'),
                version: 4,
            },
            FrameRec { pfn: 4, generation: 0, holders: vec![], content: ContentRec::Bytes, version: 1 },
        ],
        page_data: (0..4096u32).map(|i| i as u8).collect(),
        processes: vec![ProcessRec {
            pid: 1,
            comm: "init".into(),
            exe: Some("/bin/sh".into()),
            uid: 1000,
            gid: 100,
            groups: vec![4, 5],
            root: path,
            pwd: path,
            umask: 0o22,
            ns: 0,
            fds: vec![
                FdRec {
                    fd: 3,
                    kind: FileKindRec::PipeRead(6),
                    readable: true,
                    writable: false,
                    nonblock: true,
                    pos: 0,
                    path: None,
                },
                FdRec {
                    fd: 4,
                    kind: FileKindRec::Regular(7),
                    readable: true,
                    writable: true,
                    nonblock: false,
                    pos: 123,
                    path: Some((path, 77)),
                },
                FdRec {
                    fd: 5,
                    kind: FileKindRec::PipeWrite(6),
                    readable: false,
                    writable: true,
                    nonblock: false,
                    pos: 0,
                    path: None,
                },
                FdRec {
                    fd: 6,
                    kind: FileKindRec::Socket(2),
                    readable: true,
                    writable: true,
                    nonblock: false,
                    pos: 0,
                    path: None,
                },
                FdRec {
                    fd: 7,
                    kind: FileKindRec::Directory(0),
                    readable: true,
                    writable: false,
                    nonblock: false,
                    pos: 0,
                    path: None,
                },
            ],
            buffers: vec![BufferRec { id: 5, ptes: vec![PteRec::None, PteRec::Page(1), PteRec::Zero] }],
        }],
        pipes: vec![PipeRec {
            id: 6,
            ring_size: 16,
            max_usage: 16,
            head: u32::MAX,
            bufs: vec![PipeBufRec { frame: 1, offset: 10, len: 20, flags: 3, origin: 1 }],
        }],
        inodes: vec![InodeRec { id: 7, size: 8192, initial_pages: 2, initial_byte: b'F', cache: vec![(1, 2)] }],
        vfs: VfsRec {
            inodes: vec![
                VInodeRec {
                    ino: 0,
                    kind: InodeKindRec::Directory,
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                    nlink: 2,
                    aliases: vec![0],
                },
                VInodeRec {
                    ino: 7,
                    kind: InodeKindRec::Regular,
                    mode: 0o644,
                    uid: 1,
                    gid: 1,
                    nlink: 1,
                    aliases: vec![2],
                },
                VInodeRec {
                    ino: 8,
                    kind: InodeKindRec::Symlink("/x".into()),
                    mode: 0o777,
                    uid: 0,
                    gid: 0,
                    nlink: 1,
                    aliases: vec![],
                },
            ],
            dentries: vec![DentryRec {
                id: 2,
                name: "f".into(),
                parent: 0,
                inode: 7,
                children: vec![("c".into(), 3)],
                unhashed: true,
                refs: 1,
            }],
            mounts: vec![
                MountRec { id: 0, root: 0, parent: None, ns: 0 },
                MountRec { id: 1, root: 0, parent: Some(path), ns: 1 },
            ],
            mountpoints: vec![(path, 1)],
            namespaces: vec![NamespaceRec { id: 0, root: 0, users: 1 }],
            next: 10,
            next_file: 78,
            protected_hardlinks: false,
        },
        bindings: Some(BindingsRec {
            current: 2,
            processes: vec![("init".into(), 1)],
            handles: vec![
                Some(HandleRec::Buffer(5)),
                Some(HandleRec::Pipe { id: 6, r: Some(3), w: None }),
                Some(HandleRec::File { ino: 7, fd: Some(4) }),
                Some(HandleRec::Tcp { tx: Some(6), rx: None, socks: (2, 3) }),
                Some(HandleRec::Failed),
                None,
            ],
            partial: vec![(12, 4096)],
            partial_recv: vec![(13, vec![1, 2, 3])],
        }),
        arena: Some(ArenaRec { generations: vec![1, 1, 1, 3, 1], free: vec![2, 1], freed: 5 }),
        net: Some(net_sample()),
        lsm: Some(LsmRec {
            mode: 1,
            modules: vec![ModuleRec {
                name: "selinux".into(),
                policies: vec![PolicyRec { file: "a.te".into(), text: "allow a b file read\n".into(), pid: Some(2) }],
                labels: vec![
                    LabelRec { object: LabelObjectRec::Inode(7), label: "u:r:a".into() },
                    LabelRec { object: LabelObjectRec::Task(2), label: "b".into() },
                    LabelRec { object: LabelObjectRec::File(2, 4), label: "rw".into() },
                ],
                complain: true,
                counters: vec![("next_domain".into(), 3)],
            }],
            audit: vec!["denied".into()],
            counters: vec![("calls".into(), 9)],
        }),
        containers: vec![ContainerRec {
            id: 11,
            name: "web".into(),
            vpids: vec![(1, 2)],
            next_vpid: 2,
            counters: vec![BeanCounterRec { held: 1, maxheld: 2, limit: u64::MAX, failcnt: 3 }],
            mnt_ns: Some(1),
        }],
        runner: Some(RunnerRec {
            containers: vec![RunnerCtRec { name: "web".into(), ve: 11, pid: 2 }],
            outside_pid: Some(1),
            owner: vec![(3, "web".into())],
        }),
    }
}

/// The network part of [`schema_sample`]: every TCP record and variant.
fn net_sample() -> NetRec {
    let sock = SockRec {
        peer: 1,
        loopback: false,
        mss: 1448,
        delack_ns: 40_000_000,
        sndbuf: 4 << 20,
        max_retries: 15,
        probes_out: 1,
        snd: SendRec {
            isn: 100,
            popped: 2,
            snd_una: 110,
            snd_nxt: 120,
            snd_max: 130,
            write_seq: 140,
            frags: vec![FragRec {
                frame: 0,
                off: 1,
                len: 30,
                seq: 110,
                zc: Some(4),
                own: false,
                meant: Some(BytesRec::Uniform(b'A')),
                version: 3,
            }],
        },
        snd_wnd: 65535,
        cc: CongestionRec { cwnd: 14480, ssthresh: u64::MAX, dupacks: 2, recover: Some(125), mss: 1448 },
        rto: RtoRec {
            srtt_ns: Some(10_000_000),
            rttvar_ns: 5_000_000,
            base_ns: 200_000_000,
            backoff: 1,
            retries: 2,
            timing: Some((120, 7)),
        },
        rcv: RecvRec {
            irs: 500,
            rcv_nxt: 510,
            queue: vec![
                SegRec { seq: 500, data: SegDataRec::Bytes(vec![1, 2]) },
                SegRec { seq: 502, data: SegDataRec::Fill { byte: b'z', len: 8 } },
            ],
            ooo: vec![SegRec {
                seq: 520,
                data: SegDataRec::Page {
                    frame: 1,
                    off: 0,
                    len: 4,
                    holder: 520,
                    meant: Some((BytesRec::Page(vec![7; 4096]), 0, 1)),
                },
            }],
            rcvbuf: 131072,
            delivered: 10,
            read: 0,
            altered: (1, 2, 3),
        },
        adv_edge: 131582,
        unacked: 10,
        quickack: 15,
        peer_fin: Some(600),
        fin_queued: true,
        fin_acked: false,
        fin_rcvd: false,
        reset: false,
        err: 2,
        orphan: false,
        corked: true,
        snd_sml: 110,
        zc: ZeroCopyRec { enabled: true, next_id: 5, pending: vec![(4, 1, true, false)], errqueue: vec![(0, 3, true)] },
        timers: [(Some(210_000_000), Some(210_000_000)), (None, Some(5)), (None, None)],
        persist_backoff: 0,
        stats: [1, 2, 3, 4, 5],
        acked_total: 10,
        host: 0,
        frozen: false,
    };
    NetRec {
        now_ns: 1_000_000,
        socks: vec![Some(sock), None],
        sock_conn: vec![0, 0],
        conns: vec![ConnRec {
            link: Some(LinkRec {
                rtt_ns: 10_000_000,
                loss_ppm: 10_000,
                reorder_ppm: 0,
                bandwidth: 0,
                mss: 1448,
                seed: 42,
                delack_ns: 40_000_000,
            }),
            ends: (0, 1),
            rng: [1, 2, 3, 4],
            wire_free: (5, 6),
        }],
        wire: vec![
            (
                0,
                PacketRec {
                    from: 0,
                    to: 1,
                    seq: 110,
                    ack: 500,
                    wnd: 100,
                    flags: 1,
                    payload: PayloadRec::Empty,
                    altered: 0,
                },
            ),
            (
                1,
                PacketRec {
                    from: 0,
                    to: 1,
                    seq: 111,
                    ack: 500,
                    wnd: 100,
                    flags: 0,
                    payload: PayloadRec::Bytes(vec![9]),
                    altered: 1,
                },
            ),
            (
                2,
                PacketRec {
                    from: 1,
                    to: 0,
                    seq: 500,
                    ack: 112,
                    wnd: 100,
                    flags: 4,
                    payload: PayloadRec::Runs(vec![(b'q', 9)]),
                    altered: 0,
                },
            ),
        ],
        events: vec![
            EventRec { at_ns: 6_000_000, order: 3, kind: EventKindRec::Arrive(0) },
            EventRec { at_ns: 7_000_000, order: 4, kind: EventKindRec::Timer(0, 1, 7_000_000) },
        ],
        event_seq: 9,
        stats: NetStatsRec { packets: 1, segments: 2, lost: 3, reordered: 4, events: 5, dropped_frozen: 6 },
        step: 12,
        drops: vec![(0, 1)],
        local: 0,
        multi_host: false,
    }
}

fn bless() -> bool {
    std::env::var_os("KMODEL_BLESS").is_some()
}

/// The committed encoding of `schema_sample()` for the current version.
/// It changes only when the records change, and then the format must
/// change version.
#[test]
fn image_schema_is_unchanged_for_this_format_version() {
    let path = images_dir().join(format!("v{FORMAT_VERSION}-schema.golden"));
    let bytes = schema_sample().encode();
    if bless() {
        std::fs::write(&path, &bytes).unwrap();
    }
    let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (KMODEL_BLESS=1 writes it)", path.display()));
    assert!(
        bytes == golden,
        "the records of image format version {FORMAT_VERSION} changed (their encoding differs from {}).\n\
         An image schema change needs a format decision: bump FORMAT_VERSION, freeze the old records as \
         kmodel/src/container/image/vN.rs, add a migration vN -> vN+1 in image/migrate.rs, commit an image \
         written by the new version under tests/images/, then re-bless with KMODEL_BLESS=1.",
        path.display()
    );
    assert_eq!(Image::decode(&golden).expect("the golden sample decodes"), schema_sample());
}

/// The schema golden of every earlier version still decodes, migrated to
/// the current version: the v1 sample becomes the current sample without
/// the sections version 2 added.
#[test]
fn earlier_schema_goldens_migrate_to_the_current_version() {
    let v1 = std::fs::read(images_dir().join("v1-schema.golden")).unwrap();
    let migrated = Image::decode(&v1).expect("the v1 golden decodes and migrates");
    let want = Image { net: None, lsm: None, containers: Vec::new(), runner: None, ..schema_sample() };
    assert_eq!(migrated, want);
    // A v1 image may not carry a section version 2 introduced.
    let mut with_net = schema_sample().encode();
    with_net[8..10].copy_from_slice(&1u16.to_le_bytes());
    reseal(&mut with_net);
    assert_eq!(Image::decode(&with_net).unwrap_err(), ImageError::UnknownSection(10));
}

/// Every image kept under `tests/images/` (one per format version at
/// least, written by that version) decodes, migrates to the current
/// version and restores to the sharing recorded beside it.
#[test]
fn images_written_by_every_format_version_restore() {
    let current = images_dir().join(format!("v{FORMAT_VERSION}-fixture.kmi"));
    if bless() {
        std::fs::write(&current, image_of(&fixture()).encode()).unwrap();
        let sharing = format!("{:#?}\n", container::sharing(&fixture()));
        std::fs::write(current.with_extension("sharing"), sharing).unwrap();
        let tcp = images_dir().join(format!("v{FORMAT_VERSION}-tcp.kmi"));
        let k = tcp_fixture_backend().kernel().clone();
        std::fs::write(&tcp, image_of(&k).encode()).unwrap();
        std::fs::write(tcp.with_extension("sharing"), format!("{:#?}\n", container::sharing(&k))).unwrap();
        let lsm = images_dir().join(format!("v{FORMAT_VERSION}-lsm.kmi"));
        let k = lsm_fixture();
        std::fs::write(&lsm, container::checkpoint(&k, &live_pids(&k)).unwrap().encode()).unwrap();
        std::fs::write(lsm.with_extension("sharing"), format!("{:#?}\n", container::sharing(&k))).unwrap();
    }
    let mut seen = 0;
    let mut versions = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(images_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "kmi") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        versions.insert(u16::from_le_bytes([bytes[8], bytes[9]]));
        let image = Image::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut k = Kernel::default();
        container::restore(&mut k, &image).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let want = std::fs::read_to_string(path.with_extension("sharing")).unwrap();
        assert_eq!(format!("{:#?}\n", container::sharing(&k)), want, "{}", path.display());
        k.teardown_and_check().unwrap();
        seen += 1;
    }
    assert!(seen > 0, "no images under {}", images_dir().display());
    let want: std::collections::BTreeSet<u16> = (1..=FORMAT_VERSION).collect();
    assert_eq!(versions, want, "tests/images/ must hold an image written by every format version");
}

#[test]
fn restore_verb_refuses_a_corrupted_file_and_runs_on_unchanged() {
    let dir = std::env::temp_dir().join(format!("kmodel-ckpt-verb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut bytes = image_of(&fixture()).encode();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(dir.join("bad.img"), &bytes).unwrap();
    let text = "buffer b 1\npipe p\nfill b 'A'\nvmsplice p.w b\nrestore bad.img\nrestore missing.img\nread p.r 10\n";
    let s = scenario::parse("verb", text).unwrap();
    let mut b = ModelBackend::new(KernelConfig::default()).with_checkpoint_dir(&dir);
    let r = scenario::run(&s, &mut b, |_| {}).unwrap();
    let out = r.output();
    assert!(out.contains("5: restore bad.img => FAILED: bad.img: corrupted image: section"), "{out}");
    assert!(out.contains("6: restore missing.img => -ENOENT"), "{out}");
    assert!(out.contains("7: read p.r 10 => 10 'A'x10"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn image_of_one_process_restores_without_the_others() {
    let text = "buffer buf 2\npipe p\nfill buf 'A'\nvmsplice p.w buf\nprocess child\nbuffer cb 1\npipe cp\nfill cb 'C'\n\
                vmsplice cp.w cb\ntee p.r cp.w 4096\n";
    let s = scenario::parse("two", text).unwrap();
    let mut b = ModelBackend::new(KernelConfig::default());
    for step in &s.steps {
        b.step(&s, step).unwrap();
    }
    let child = b.current();
    assert_ne!(child, Pid(1));
    let image = container::checkpoint(b.kernel(), &[child]).expect("checkpoint of the child");
    assert!(image.arena.is_none(), "not the whole machine");
    let mut host = Kernel::default();
    let report = container::restore(&mut host, &Image::decode(&image.encode()).unwrap()).expect("restores");
    assert_eq!(report.processes, 1);
    assert!(host.process(child).is_some() && host.process(Pid(1)).is_none());
    // The teed page is held by the child's pipes only now: the parent's
    // mapping is not in the image.
    host.teardown_and_check().unwrap();
}

// ---- Graft: an image restored into a running kernel ----

use container::{ContainerSpec, GraftError, Grafted};
use kmodel::kernel::{Fd, SpliceFlags, UserRange};
use page_refs::{Holder, HolderKind};

/// A holder of the image's objects as the graft renamed it.
fn remapped(h: Holder, g: &Grafted) -> Holder {
    let object = match h.kind {
        HolderKind::User => g.maps[&kmodel::kernel::BufferId(h.object)].0,
        HolderKind::Pipe => g.pipes[&kmodel::kernel::PipeId(h.object)].0,
        HolderKind::PageCache => g.inodes[&kmodel::kernel::InodeId(h.object)].0,
        _ => h.object,
    };
    Holder { object, ..h }
}

fn spec(name: &str, pid: u32) -> ContainerSpec {
    ContainerSpec {
        name: name.into(),
        vpids: [(pid, 1)].into_iter().collect(),
        next_vpid: 2,
        ub: container::Beancounters::with_limits(&[]),
    }
}

#[test]
fn graft_onto_a_busy_host_remaps_ids_keeps_sharing_and_disturbs_nothing() {
    let src = fixture();
    let image = container::checkpoint_set(&src, &[Pid(1)], false).expect("checkpoint_set");
    // The target already runs the same kind of objects, at the same ids.
    let mut target = fixture();
    let before = target.clone();
    let g = container::graft(&mut target, &image, Some(&spec("g", 1))).expect("graft");
    target.check_invariants().expect("invariants after the graft");
    // Fresh ids: nothing of the image took an id the host used.
    let (new_pid, ve) = (g.pids[&Pid(1)], g.ve.expect("a container"));
    assert!(before.process(new_pid).is_none(), "pid {new_pid:?} was the host's");
    for p in g.pipes.values() {
        assert!(before.pipe(*p).is_none(), "pipe {p:?} was the host's");
    }
    assert_eq!(target.getpid(new_pid), 1, "the virtual pid stays");
    assert_eq!(target.container(ve).map(|c| c.name.as_str()), Some("g"));
    // The host's own state is as it was: its frames, holders and bytes.
    let host: Vec<_> = container::sharing(&before).into_iter().filter(|(_, b)| !b.starts_with("zero page")).collect();
    let after = container::sharing(&target);
    for f in &host {
        assert!(after.contains(f), "host frame changed: {f:?}");
    }
    assert_eq!(format!("{:?}", before.process(Pid(1))), format!("{:?}", target.process(Pid(1))));
    // Sharing inside the image holds on the target, under the new names.
    for (holders, bytes) in container::sharing(&src) {
        if bytes.starts_with("zero page") {
            continue;
        }
        let mut want: Vec<Holder> = holders.iter().map(|h| remapped(*h, &g)).collect();
        want.sort();
        assert!(after.contains(&(want.clone(), bytes.clone())), "grafted frame {want:?} {bytes} missing");
    }
    // The double-buffer hazard behaves the same on both: the program
    // rewrites its buffer, the pipe shows the new bytes.
    let read_after_rewrite = |k: &mut Kernel, pid: Pid, buf: kmodel::kernel::BufferId| {
        k.user_fill(pid, UserRange { buffer: buf, start: 0, len: 4096 }, b'Z').unwrap();
        let mut out = Vec::new();
        k.read(pid, Fd(3), 4096, &mut out).unwrap();
        out
    };
    let mut s = src.clone();
    let sbuf = *src.process(Pid(1)).unwrap().mm.keys().next().unwrap();
    let on_src = read_after_rewrite(&mut s, Pid(1), sbuf);
    let on_target = read_after_rewrite(&mut target, new_pid, g.maps[&sbuf]);
    assert_eq!(on_src, on_target);
    assert_eq!(on_src, vec![b'Z'; 4096], "the hazard: the pipe shows the rewritten page");
    target.check_invariants().unwrap();
    target.teardown_and_check().expect("clean teardown");
}

#[test]
fn graft_refusals_are_named_and_leave_the_target_untouched() {
    let src = fixture();
    let image = container::checkpoint_set(&src, &[Pid(1)], false).unwrap();
    let mut target = fixture();
    target.create_container("g", &[]).unwrap();
    let before = format!("{target:?}");
    let err = container::graft(&mut target, &image, Some(&spec("g", 1))).unwrap_err();
    assert_eq!(err, GraftError::NameTaken("g".into()));
    assert_eq!(before, format!("{target:?}"));
    // Over a limit: the pipes would need 32 pages of pipe buffers.
    let mut tight = spec("h", 1);
    tight.ub = container::Beancounters::with_limits(&[(container::Resource::Pipes, 16)]);
    let err = container::graft(&mut target, &image, Some(&tight)).unwrap_err();
    assert!(matches!(err, GraftError::OverLimit { resource: container::Resource::Pipes, .. }), "{err}");
    assert!(err.to_string().contains("over its limit 16"), "{err}");
    assert_eq!(before, format!("{target:?}"));
    // A record naming an object outside the image.
    let mut bad = image.clone();
    bad.processes[0].fds[0].kind = FileKindRec::PipeRead(999_999);
    let err = container::graft(&mut target, &bad, None).unwrap_err();
    assert!(err.to_string().contains("pipe 999999, not in the image"), "{err}");
    assert_eq!(before, format!("{target:?}"));
    // A holder naming an object outside the image.
    let mut bad = image.clone();
    let f = bad.frames.iter_mut().find(|f| f.content != ContentRec::Zero).unwrap();
    f.holders[0].object = 777_777;
    let err = container::graft(&mut target, &bad, None).unwrap_err();
    assert!(err.to_string().contains("not in the image"), "{err}");
    assert_eq!(before, format!("{target:?}"));
}

#[test]
fn checkpoint_of_a_set_refuses_objects_shared_with_processes_outside() {
    // A pipe open in a process outside the set.
    let mut k = fixture();
    let child = k.fork(Pid(1)).unwrap();
    let err = container::checkpoint_set(&k, &[child], false).unwrap_err();
    assert!(err.to_string().contains("is also open in process 1"), "{err}");
    // A page of the set's pipe held by a mapping outside it: the parent
    // vmspliced, forked, and closed its ends.
    let mut k = Kernel::new(KernelConfig::default());
    let p = k.init_pid();
    let buf = k.mmap_anon(p, 1).unwrap();
    k.user_fill(p, UserRange { buffer: buf, start: 0, len: 4096 }, b'v').unwrap();
    let (r, w) = k.pipe2(p).unwrap();
    k.vmsplice(p, w, &[UserRange { buffer: buf, start: 0, len: 4096 }], SpliceFlags::default()).unwrap();
    let child = k.fork(p).unwrap();
    k.close(p, r).unwrap();
    k.close(p, w).unwrap();
    let err = container::checkpoint_set(&k, &[child], false).unwrap_err();
    assert!(err.to_string().contains("is also held by"), "{err}");
}

/// Mutated images (ids, kinds, frames, holders, pipe heads, vpids) never
/// panic the graft: each is either grafted whole (and the invariants hold)
/// or refused with the target exactly as it was.
#[test]
fn mutated_images_graft_whole_or_leave_the_target_untouched() {
    let src = fixture();
    let image = container::checkpoint_set(&src, &[Pid(1)], false).unwrap();
    let target = fixture();
    let before = format!("{target:?}");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n.max(1) as u64) as usize
    };
    let (mut grafted, mut refused) = (0, 0);
    for _ in 0..400 {
        let mut im = image.clone();
        let small = [0u32, 1, 2, 3, 7, 1000, u32::MAX][next(7)];
        match next(8) {
            0 => {
                let p = &mut im.processes[0];
                let i = next(p.fds.len());
                p.fds[i].kind = [
                    FileKindRec::PipeRead(small),
                    FileKindRec::PipeWrite(small),
                    FileKindRec::Regular(small),
                    FileKindRec::Socket(small),
                    FileKindRec::Directory(small),
                ][next(5)];
            }
            1 => {
                let p = &mut im.processes[0];
                let i = next(p.fds.len());
                p.fds[i].fd = [-1, 0, 3, 4, 5, 1 << 21][next(6)];
            }
            2 => {
                let f = next(im.frames.len());
                let h = next(im.frames[f].holders.len());
                im.frames[f].holders[h] = HolderRec { kind: next(6) as u8, object: small, index: small };
            }
            3 => {
                let f = next(im.frames.len());
                im.frames[f].holders.clear();
            }
            4 => {
                let b = &mut im.processes[0].buffers[0];
                let i = next(b.ptes.len());
                b.ptes[i] = [PteRec::None, PteRec::Zero, PteRec::Page(small)][next(3)];
            }
            5 => {
                let p = next(im.pipes.len());
                im.pipes[p].head = small;
            }
            6 => {
                let p = next(im.pipes.len());
                if let Some(b) = im.pipes[p].bufs.first_mut() {
                    b.frame = small;
                }
            }
            _ => {
                let f = next(im.frames.len());
                im.frames[f].content = [ContentRec::Zero, ContentRec::Uniform(7), ContentRec::Bytes][next(3)].clone();
            }
        }
        let mut t = target.clone();
        let vpid = [0u32, 1, 2][next(3)];
        let mut s = spec("m", 1);
        if next(4) == 0 {
            s.vpids.insert(1, vpid);
        }
        match container::graft(&mut t, &im, Some(&s)) {
            Ok(_) => {
                t.check_invariants().expect("a grafted image passes the invariants");
                grafted += 1;
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                assert_eq!(before, format!("{t:?}"), "refused ({e}) but the target changed");
                refused += 1;
            }
        }
    }
    assert!(grafted > 0 && refused > 0, "grafted {grafted}, refused {refused}");
}

/// An image whose mapping holds the zero page as its own page (a user
/// holder on the zero frame) is refused by restore and by the graft: it
/// was accepted, and the next write into the mapping panicked ("write to
/// the zero page").
#[test]
fn image_mapping_the_zero_page_is_refused_not_a_later_panic() {
    let mut k = Kernel::new(KernelConfig::default());
    let p = k.init_pid();
    let buf = k.mmap_anon(p, 1).unwrap();
    k.user_fill(p, kmodel::kernel::UserRange { buffer: buf, start: 0, len: 10 }, b'a').unwrap();
    let mut im = container::checkpoint(&k, &[p]).unwrap();
    let zi = im.frames.iter().position(|f| f.content == ContentRec::Zero).unwrap();
    let ui = im.frames.iter().position(|f| f.content != ContentRec::Zero).unwrap();
    assert!(zi < ui, "the zero page comes first in a whole-machine image");
    let uh = im.frames[ui].holders[0];
    im.frames[zi].holders.push(uh);
    im.processes[0].buffers[0].ptes[0] = PteRec::Page(zi as u32);
    im.frames.remove(ui);
    im.page_data.clear();
    for arena in [im.arena.clone(), None] {
        let mut im = im.clone();
        im.arena = arena;
        let mut t = Kernel::default();
        let err = container::restore(&mut t, &im).unwrap_err();
        assert!(err.to_string().contains("a mapping holds the zero page"), "{err}");
    }
    let mut t = Kernel::default();
    let err = container::graft(&mut t, &im, None).unwrap_err();
    assert!(err.to_string().contains("a mapping holds the zero page"), "{err}");
}

/// A machine with the three policy modules loaded, files labeled, a
/// process confined at exec by a profile and a domain, one sandboxed.
fn lsm_fixture() -> Kernel {
    let text = "mkdir /etc\ncreate /etc/shadow\nmkdir /tmp\nmkdir /work\nmkdir /out\nmkdir /usr\nmkdir /usr/bin\ncreate /usr/bin/reader\n\
                chmod /usr/bin/reader 755\nchmod /tmp 777\ncreate /tmp/log\npolicy apparmor policies/reader.profile\n\
                policy selinux policies/base.te\npolicy selinux policies/base.fc\nrestorecon /\nprocess sandboxed\n\
                policy landlock policies/sandbox.landlock\nprocess reader\nexec /usr/bin/reader\nopen log /tmp/log w\n";
    let mut s = scenario::parse("lsm", text).expect("fixture parses");
    scenario::load_policies(&mut s, &Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")).expect("policies");
    let mut b = ModelBackend::new(KernelConfig::default());
    for step in &s.steps {
        let r = b.step(&s, step).expect("fixture runs");
        assert!(!matches!(r, StepResult::Done(scenario::Outcome::Err(_))), "{}: {r:?}", step.text);
    }
    b.kernel().clone()
}

fn live_pids(k: &Kernel) -> Vec<Pid> {
    (1..64).map(Pid).filter(|p| k.process(*p).is_some()).collect()
}

/// The committed image with an `lsm` section restores the modules, their
/// policies and labels as the fixture has them now.
#[test]
fn kept_lsm_image_restores_modules_policies_and_labels() {
    let bytes = std::fs::read(images_dir().join(format!("v{FORMAT_VERSION}-lsm.kmi"))).expect("v2-lsm.kmi");
    let mut k = Kernel::default();
    container::restore_bytes(&mut k, &bytes).expect("restores");
    let want = lsm_fixture();
    assert_eq!(k.lsm().names(), ["apparmor", "selinux", "landlock"]);
    assert_eq!(k.lsm().dump(), want.lsm().dump());
    let reader = live_pids(&k).into_iter().find(|p| k.process(*p).is_some_and(|p| p.comm == "reader")).unwrap();
    assert_eq!(k.apparmor_profile(reader), "reader");
    assert_eq!(k.security_context(reader, None).unwrap().ty, "reader_t");
    assert_eq!(k.security_context(reader, Some("/etc/shadow")).unwrap().ty, "shadow_t");
}

// ---- Graft of a container's loopback TCP connections ----

/// One process with a loopback pair: a page of its buffer vmspliced into
/// a pipe and spliced on into the connection (shared by the mapping and
/// the receive queue), then bytes written; nothing read yet.
fn loopback_kernel() -> (Kernel, Pid, Fd, Fd, kmodel::kernel::BufferId) {
    let mut k = Kernel::new(KernelConfig::default());
    let p = k.init_pid();
    let buf = k.mmap_anon(p, 2).unwrap();
    k.user_fill(p, UserRange { buffer: buf, start: 0, len: 8192 }, b'v').unwrap();
    let (a, b) = k.tcp_pair(p, tcp_sim::Mode::Loopback).unwrap();
    let (r, w) = k.pipe2(p).unwrap();
    k.vmsplice(p, w, &[UserRange { buffer: buf, start: 0, len: 4096 }], SpliceFlags::default()).unwrap();
    k.splice(p, r, None, a, None, 4096, SpliceFlags::default()).unwrap();
    k.write(p, a, page_refs::Source::Slice(b"tail")).unwrap();
    k.write(p, b, page_refs::Source::Slice(b"back")).unwrap();
    k.advance_time(tcp_sim::Duration::from_millis(1));
    k.check_invariants().unwrap();
    (k, p, a, b, buf)
}

#[test]
fn container_with_loopback_pair_grafts_into_busy_host_and_reads_the_same_bytes() {
    let (src, p, a, b, buf) = loopback_kernel();
    let image = container::checkpoint_set(&src, &[p], false).expect("both ends inside");
    assert!(image.net.as_ref().is_some_and(|n| n.socks.len() == 2));
    let image = Image::decode(&image.encode()).expect("round trip");
    // A busy target: its own loopback pair, data in flight.
    let mut target = fixture();
    let (ta, tb) = target.tcp_pair(Pid(1), tcp_sim::Mode::Loopback).unwrap();
    target.write(Pid(1), ta, page_refs::Source::Slice(b"host")).unwrap();
    let g = container::graft(&mut target, &image, Some(&spec("lo", p.0))).expect("graft");
    target.check_invariants().expect("invariants after the graft");
    assert_eq!(g.sockets.len(), 2);
    let np = g.pids[&p];
    // The same later lines on both: the rewritten buffer shows through the
    // received page (the sharing kept), then the written bytes, once, in order.
    let mut s = src.clone();
    let run = |k: &mut Kernel, pid: Pid, buf| {
        k.user_fill(pid, UserRange { buffer: buf, start: 0, len: 4096 }, b'Z').unwrap();
        k.check_invariants().unwrap();
        let mut out = Vec::new();
        let n = k.recv(pid, b, 4100, &mut out).unwrap();
        let mut back = Vec::new();
        let back_n = k.recv(pid, a, 4, &mut back).unwrap();
        k.write(pid, a, page_refs::Source::Slice(b"after")).unwrap();
        let mut more = Vec::new();
        k.recv(pid, b, 5, &mut more).unwrap();
        k.check_invariants().unwrap();
        (n, out, back_n, back, more)
    };
    let on_src = run(&mut s, p, buf);
    let on_target = run(&mut target, np, g.maps[&buf]);
    assert_eq!(on_src, on_target);
    let mut want = vec![b'Z'; 4096];
    want.extend_from_slice(b"tail");
    assert_eq!(
        (on_src.0, &on_src.1, on_src.2, &on_src.3[..], &on_src.4[..]),
        (4100, &want, 4, &b"back"[..], &b"after"[..])
    );
    // The host's pair is untouched.
    let mut out = Vec::new();
    target.recv(Pid(1), tb, 4, &mut out).unwrap();
    assert_eq!(out, b"host");
    target.teardown_and_check().expect("clean teardown");
}

#[test]
fn loopback_pair_with_one_end_outside_is_refused_by_name_and_bad_net_records_leave_target_untouched() {
    // The peer's descriptor lives in another process only.
    let (mut k, p, a, b, _) = loopback_kernel();
    let child = k.fork(p).unwrap();
    k.close(child, a).unwrap();
    k.close(p, b).unwrap();
    let err = container::checkpoint_set(&k, &[p], false).unwrap_err();
    let peer = k.process(child).unwrap().fds.get(b).and_then(|f| f.socket()).unwrap();
    assert!(err.to_string().contains(&format!("its peer, endpoint {}, is outside the set", peer.0)), "{err}");
    // The same endpoint open in a process outside.
    let (mut k, p, _, _, _) = loopback_kernel();
    k.fork(p).unwrap();
    let err = container::checkpoint_set(&k, &[p], false).unwrap_err();
    assert!(err.to_string().contains("TCP endpoint") && err.to_string().contains("outside the set"), "{err}");
    // Records naming what the image lacks: refused, the target unchanged.
    let (k, p, _, _, _) = loopback_kernel();
    let image = container::checkpoint_set(&k, &[p], false).unwrap();
    let mut target = fixture();
    target.tcp_pair(Pid(1), tcp_sim::Mode::Loopback).unwrap();
    let before = format!("{target:?}");
    let mut bad = image.clone();
    bad.net.as_mut().unwrap().conns[0].ends.1 = 9;
    let err = container::graft(&mut target, &bad, None).unwrap_err();
    assert!(err.to_string().contains("endpoint 9"), "{err}");
    assert_eq!(before, format!("{target:?}"));
    let mut bad = image.clone();
    let fd = bad.processes[0].fds.iter_mut().find(|f| matches!(f.kind, FileKindRec::Socket(_))).unwrap();
    fd.kind = FileKindRec::Socket(5);
    let err = container::graft(&mut target, &bad, None).unwrap_err();
    assert!(err.to_string().contains("TCP endpoint 5, not in the image"), "{err}");
    assert_eq!(before, format!("{target:?}"));
    let mut bad = image;
    let f = bad.frames.iter_mut().find(|f| f.holders.iter().any(|h| h.kind == 3)).unwrap();
    f.holders.retain(|h| h.kind != 3);
    assert!(container::graft(&mut target, &bad, None).is_err());
    assert_eq!(before, format!("{target:?}"));
}
