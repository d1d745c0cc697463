//! Containers, hosts and live migration through scenarios: the verbs'
//! parse errors, limits with their errno and failure counts, and a TCP
//! connection that follows a migrated container (every byte once and in
//! order, invariants checked after every step and at teardown by the
//! model backend).

use kmodel::kernel::KernelConfig;
use kmodel::model::ModelBackend;
use kmodel::scenario::{self, Report, parse};

fn run(text: &str) -> Report {
    let s = parse("c.scn", text).unwrap_or_else(|e| panic!("{e}"));
    scenario::run(&s, &mut ModelBackend::new(KernelConfig::default()), |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

/// The result of line `n`, as printed after `=> `.
fn result(r: &Report, n: usize) -> String {
    let l = r.lines.iter().find(|l| l.line == n).unwrap_or_else(|| panic!("no line {n}"));
    l.to_string().split_once(" => ").map(|(_, x)| x.to_owned()).unwrap_or_default()
}

fn parse_err(text: &str) -> String {
    match parse("c.scn", text) {
        Ok(_) => panic!("parsed: {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn container_verbs_parse_errors_name_line_column_and_expectation() {
    let cases: &[(&str, &str)] = &[
        ("container c mem=4\n", "c.scn:1:13: unknown resource 'mem': expected pages, pipes, sockets or files"),
        ("container c pages=4 pages=5\n", "c.scn:1:21: limit 'pages' given twice"),
        (
            "container c pages\n",
            "c.scn:1:13: expected a limit like pages=16 (pages=, pipes=, sockets=, files=) or end of line, found 'pages'",
        ),
        ("container c pages=x\n", "c.scn:1:13: expected a limit like 16, found 'x'"),
        ("in nowhere\nend\n", "c.scn:1:4: unknown container 'nowhere' (declare it with 'container NAME' first)"),
        (
            "container c\nin c\nbuffer b 1\n",
            "c.scn:2:1: 'in c' has no 'end': expected a line 'end' after its operations",
        ),
        (
            "container c\nin c\ncontainer d\nend\n",
            "c.scn:3:1: 'container' inside 'in c' (line 2): close the block with 'end' first",
        ),
        (
            "container c\nin c\nmigrate c to local\nend\n",
            "c.scn:3:1: 'migrate' inside 'in c' (line 2): close the block with 'end' first",
        ),
        ("container c\nthread t\nin c\nend\n", "c.scn:3:1: 'in' inside thread 't' (line 2): close it with 'end' first"),
        ("container c\nmigrate c far\n", "c.scn:2:11: expected 'to', found 'far'"),
        (
            "container c\nmigrate c to far\n",
            "c.scn:2:14: unknown host 'far' (declare it with 'host NAME' first, or use local)",
        ),
        (
            "container c\nhost h\nmigrate c to h fast\n",
            "c.scn:3:16: expected 'precopy', 'postcopy', 'hybrid', dirty=N, into=BUF or end of line, found 'fast'",
        ),
        ("container c\nhost h\nmigrate c to h precopy hybrid\n", "c.scn:3:24: the strategy is given twice"),
        (
            "container c\nhost h\npipe p\nmigrate c to h into=p\n",
            "c.scn:4:16: 'p' is a pipe, not a buffer: expected into=BUF",
        ),
        (
            "container c\nhost h\nmigrate c to h dirty=many\n",
            "c.scn:3:16: expected a number of page writes per second like 5000 or 10k, found 'many'",
        ),
        ("host local\n", "c.scn:1:6: host 'local' is the scenario's own machine: choose another name"),
        ("buffer c 1\ncontainer c\n", "c.scn:2:11: name 'c' is already declared on line 1"),
        ("container c\nhost c\n", "c.scn:2:6: name 'c' is already declared on line 1"),
        ("container c\nbuffer c 1\n", "c.scn:2:8: name 'c' is already declared on line 1"),
        ("beancounters\n", "c.scn:1:13: expected a container declared by 'container NAME', found end of line"),
        ("ps x\n", "c.scn:1:4: unknown container 'x' (declare it with 'container NAME' first)"),
        ("checkpoint x to a.img\n", "c.scn:1:12: unknown container 'x' (declare it with 'container NAME' first)"),
        ("container c\ncheckpoint c to\n", "c.scn:2:16: expected an image file name like mid.img, found end of line"),
        ("restore a.img into\n", "c.scn:1:19: expected a host declared by 'host NAME', or local, found end of line"),
        (
            "restore a.img into far\n",
            "c.scn:1:20: unknown host 'far' (declare it with 'host NAME' first, or use local)",
        ),
        ("restore a.img into local now\n", "c.scn:1:26: expected end of line, found 'now'"),
        (
            "container c\nin c\ncheckpoint c to a.img\nend\n",
            "c.scn:3:1: 'checkpoint' inside 'in c' (line 2): close the block with 'end' first",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&parse_err(text), want, "{text:?}");
    }
}

#[test]
fn each_limit_answers_its_errno_and_counts_the_failure() {
    let r = run("container c pages=4 pipes=16 sockets=1 files=2
in c
buffer a 3
buffer b 2
pipe p
pipe q
fcntl p.w setpipe_sz 32p
tcp t
open f /etc r
end
beancounters c
");
    assert_eq!(result(&r, 4), "-ENOMEM");
    assert_eq!(result(&r, 6), "-ENFILE");
    assert_eq!(result(&r, 7), "-EPERM");
    assert_eq!(result(&r, 8), "-ENOMEM");
    assert_eq!(result(&r, 9), "-EMFILE");
    assert_eq!(
        result(&r, 11),
        "pages held 3 maxheld 3 limit 4 failcnt 1; pipes held 16 maxheld 16 limit 16 failcnt 2; \
         sockets held 0 maxheld 0 limit 1 failcnt 1; files held 2 maxheld 2 limit 2 failcnt 1"
    );
}

#[test]
fn virtual_pids_start_at_one_in_each_container() {
    let r = run("container a
container b
in a
process w
end
in b
process x
process y
end
ps a
ps b
");
    let a = result(&r, 10);
    let b = result(&r, 11);
    assert!(a.starts_with("1 init (pid ") && a.contains("; 2 w (pid "), "{a}");
    assert!(b.starts_with("1 init (pid ") && b.contains("; 2 x (pid ") && b.contains("; 3 y (pid "), "{b}");
    assert_ne!(a, b, "different global pids");
}

/// A stream of distinct bytes from a container to a client outside, over
/// a slow link, with the container migrated away and back while bytes
/// are in flight: what the client reads is every byte once, in order.
#[test]
fn migrated_connection_continues_and_bytes_arrive_once_in_order() {
    for strategy in ["precopy", "postcopy", "hybrid"] {
        let text = format!(
            "container web
host far link rtt=30ms bw=1gbit
in web
buffer data 32
fill data[0..8p] 'a'
fill data[8p..16p] 'b'
fill data[16p..24p] 'c'
fill data[24p..32p] 'd'
buffer heap 256
tcp conn link rtt=20ms bw=2mbit
send conn.tx data
end
recv conn.rx 4k
migrate web to far {strategy} dirty=20000 into=heap
recv conn.rx 124k
expect intact conn.rx
migrate web to local {strategy} dirty=20000 into=heap
in web
send conn.tx data
end
recv conn.rx 128k
expect intact conn.rx
"
        );
        let r = run(&text);
        assert_eq!(result(&r, 13), "4096 'a'x4096", "{strategy}");
        let m1 = result(&r, 14);
        assert!(m1.contains("1 TCP endpoint moved"), "{strategy}: {m1}");
        assert_eq!(result(&r, 15), "126976 'a'x28672 'b'x32768 'c'x32768 'd'x32768", "{strategy}");
        assert_eq!(result(&r, 16), "ok");
        let m2 = result(&r, 17);
        assert!(m2.starts_with(strategy), "{m2}");
        assert_eq!(result(&r, 21), "131072 'a'x32768 'b'x32768 'c'x32768 'd'x32768", "{strategy}");
        assert_eq!(result(&r, 22), "ok");
    }
}

/// The client's ACKs that reach the frozen endpoint are dropped; the
/// restored endpoint retransmits from its queue and the client still gets
/// everything.
#[test]
fn packets_dropped_while_frozen_are_recovered_by_retransmission() {
    let r = run("container web
host far link rtt=60ms bw=100mbit
in web
buffer data 64
fill data 'z'
tcp conn link rtt=10ms bw=4mbit
send conn.tx data[0..128k]
end
recv conn.rx 1k
migrate web to far precopy
recv conn.rx 127k
expect intact conn.rx
");
    let m = result(&r, 10);
    let dropped: u64 = m
        .split("moved, ")
        .nth(1)
        .and_then(|x| x.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{m}"));
    assert!(dropped > 0, "the freeze should drop the client's packets: {m}");
    assert_eq!(result(&r, 11), "130048 'z'x130048");
    assert_eq!(result(&r, 12), "ok");
}

/// A container with a vmspliced pipe, a slot of written bytes and a
/// page-cache page in flight migrates: the final copy grafts its image
/// on the target, and every line after the migration prints what it
/// prints without it (the double-buffer hazard included).
#[test]
fn pipes_and_files_migrate_and_the_hazard_behaves_the_same() {
    let body = "container c
host h link rtt=2ms
in c
buffer buf 2
fill buf 'A'
pipe p
vmsplice p.w buf[0..1p]
write p.w 3 'x'
file f 1 'F'
splice f p.w 4096
end
MIGRATE
in c
refs buf
fill buf[0..1p] 'B'
read p.r 4096
read p.r 3
read p.r 4096
refs buf
close p.w
read p.r 1
end
";
    for strategy in ["precopy", "postcopy", "hybrid"] {
        let moved = run(&body.replace("MIGRATE", &format!("migrate c to h {strategy}")));
        let stayed = run(&body.replace("MIGRATE", "in c\nend"));
        let m = result(&moved, 12);
        assert!(m.starts_with(strategy) && m.ends_with("2 pages of pipes and files in the image"), "{m}");
        for n in 14..=21 {
            let d = n + 1; // the two-line stand-in shifts the lines by one
            assert_eq!(result(&moved, n), result(&stayed, d), "{strategy}: line {n}");
        }
        assert_eq!(result(&moved, 16), "4096 'B'x4096", "the hazard on the target");
        assert!(result(&moved, 14).contains("2 refs: user, pipe p (busy)"), "{}", result(&moved, 14));
    }
}

/// What no graft can bring is refused before anything moves, named; the
/// container runs on where it was.
#[test]
fn migration_refuses_a_loopback_socket_whose_peer_is_outside_and_names_it() {
    let r = run("container c
host h
in c
pipe p
tcp s
end
migrate c to h
in c
write p.w 3 'x'
read p.r 3
end
");
    assert_eq!(
        result(&r, 7),
        "refused: cannot migrate yet: cannot checkpoint the set alone: pid 1 descriptor 5 (a loopback TCP socket, \
         endpoint 0): its peer, endpoint 1, is outside the set"
    );
    assert_eq!(result(&r, 10), "3 'x'x3", "the container runs on where it was");
}

#[test]
fn lines_outside_containers_still_run_on_linux() {
    let s = parse("c.scn", "container c\nin c\nprocess w\nexec /bin/x\nend\npipe p\n").unwrap();
    let p = s.steps.iter().find(|st| st.line == 6).unwrap();
    assert!(!s.is_model_only(p));
    assert!(s.steps.iter().filter(|st| st.within.is_some()).all(|st| s.is_model_only(st)));
}

/// A zero-copy send leaves the user's pages in the send queue; after the
/// migration the target's send queue shares the target's copies of those
/// pages with the user's mapping, as on the source.
#[test]
fn zero_copy_pages_stay_shared_after_migration() {
    let r = run("container web
host far link rtt=40ms
in web
buffer data 2
fill data 'q'
tcp conn link rtt=20ms bw=1mbit
setsockopt conn.tx zerocopy
send conn.tx data zerocopy
refs data
end
migrate web to far precopy
in web
refs data
end
recv conn.rx 8k
");
    let before = result(&r, 9);
    let after = result(&r, 13);
    for refs in [&before, &after] {
        assert!(refs.contains("data page 0: pfn") && refs.contains("2 refs: user, conn.tx bytes 0..4096"), "{refs}");
        assert!(refs.contains("2 refs: user, conn.tx bytes 4096..8192"), "{refs}");
    }
    assert_eq!(result(&r, 15), "8192 'q'x8192");
}

/// `checkpoint NAME to FILE` stops the container after writing its image;
/// `restore FILE into HOST` grafts it into a running host next to what
/// runs there (the host's own pipe untouched), with its virtual pids,
/// beancounters, sharing and in-flight slots; a second restore of the
/// same name is refused, and a checkpoint again moves it elsewhere.
#[test]
fn container_checkpointed_and_restored_into_a_running_host_keeps_its_state() {
    let r = run("container app pipes=64
host far
in app
buffer buf 2
fill buf 'A'
pipe p
vmsplice p.w buf[0..1p]
write p.w 3 'x'
end
pipe hostpipe
write hostpipe.w 5 'h'
checkpoint app to graft-app.img
in app
read p.r 3
end
restore graft-app.img into local
restore graft-app.img into far
in app
refs buf
beancounters app
end
checkpoint app to graft-app2.img
restore graft-app2.img into far
in app
fill buf[0..1p] 'B'
read p.r 4096
read p.r 3
end
read hostpipe.r 5
restore graft-nothing.img into far
");
    assert_eq!(result(&r, 12), "ok");
    assert_eq!(result(&r, 14), "-ESRCH", "a stopped container runs nothing");
    assert_eq!(result(&r, 16), "ok");
    assert_eq!(result(&r, 17), "refused: container app still runs on local");
    assert!(result(&r, 19).contains("2 refs: user, pipe p (busy); buf page 1"), "{}", result(&r, 19));
    assert!(result(&r, 20).starts_with("pages held 2 maxheld 2 limit unlimited failcnt 0; pipes held 16"));
    assert!(result(&r, 20).contains("limit 64"), "the limits travel: {}", result(&r, 20));
    assert_eq!(result(&r, 22), "ok");
    assert_eq!(result(&r, 23), "ok");
    assert_eq!(result(&r, 26), "4096 'B'x4096", "the hazard after two grafts");
    assert_eq!(result(&r, 27), "3 'x'x3");
    assert_eq!(result(&r, 29), "5 'h'x5", "the host's pipe is untouched");
    assert_eq!(result(&r, 30), "-ENOENT");
}
