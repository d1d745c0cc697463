//! Probes of the host kernel's behaviour that the model must match.
//!
//! Not assertions: each probe prints its scenario's result lines. Run with
//! `cargo test -p kmodel linux::probe -- --ignored --nocapture`.

use std::time::Duration;

use super::tests::{Builder, at, f, r, range, read, splice, vmsplice, w, write};
use crate::scenario::{FcntlCmd, Op};

const P: u64 = 4096;

fn show(title: &str, s: &Builder) {
    let rep = s.run(Duration::from_millis(300));
    println!("== {title}");
    print!("{}", rep.output());
    if let Some(line) = rep.blocked {
        let text = s.sc.steps.iter().find(|st| st.line == line).map_or("?", |st| st.text.as_str());
        println!("{line}: {text} => BLOCKED");
    }
}

fn fill(s: &mut Builder, buf: crate::scenario::ObjId, start: u64, end: u64, byte: u8) {
    s.op(&format!("fill buf[{start}..{end}] '{}'", byte as char), Op::Fill { range: range(buf, start, end), byte });
}

fn fcntl(s: &mut Builder, text: &str, fd: crate::scenario::Fd, cmd: FcntlCmd) {
    s.op(text, Op::Fcntl { fd, cmd });
}

#[test]
#[ignore = "prints host behaviour; run by hand"]
fn q01_vmsplice_then_fill() {
    for (pre, gift) in [(None, false), (Some(b'A'), false), (None, true), (Some(b'A'), true)] {
        let mut s = Builder::new();
        let buf = s.buffer("buf", 1);
        let p = s.pipe("p");
        if let Some(b) = pre {
            fill(&mut s, buf, 0, P, b);
        }
        s.op(
            &format!("vmsplice p.w buf{}", if gift { " gift" } else { "" }),
            Op::Vmsplice { fd: w(p), ranges: vec![range(buf, 0, P)], gift, nonblock: false },
        );
        fill(&mut s, buf, 0, P, b'X');
        s.op("read p.r 4096", read(r(p), P, false));
        show(&format!("Q1 pre={pre:?} gift={gift}"), &s);
    }
}

#[test]
#[ignore = "prints host behaviour; run by hand"]
fn q02_sendfile_from_pipe() {
    let mut s = Builder::new();
    let p = s.pipe("p");
    let q = s.pipe("q");
    let file = s.file("f", 1, b'f');
    s.op("write q.w 10 'q'", write(w(q), 10, b'q', false));
    s.op("sendfile p.w q.r 10", Op::Sendfile { output: w(p), input: at(r(q), None), len: 10 });
    s.op("sendfile f q.r 10", Op::Sendfile { output: f(file), input: at(r(q), None), len: 10 });
    s.op("sendfile p.w q.r@0 10", Op::Sendfile { output: w(p), input: at(r(q), Some(0)), len: 10 });
    s.op("sendfile p.w f 10", Op::Sendfile { output: w(p), input: at(f(file), None), len: 10 });
    s.op("read p.r 100", read(r(p), 100, true));
    s.op("read q.r 100", read(r(q), 100, true));
    show("Q2 sendfile with a pipe as input", &s);
}

#[test]
#[ignore = "prints host behaviour; run by hand"]
fn q03_setpipe_sz() {
    let ns: [u64; 12] =
        [0, 1, 4096, 4097, 1 << 20, (1 << 20) + 1, 1 << 31, (1 << 31) + 1, 1 << 28, 1 << 29, (1 << 32) + 4096, 1 << 32];
    for n in ns {
        let mut s = Builder::new();
        let p = s.pipe("p");
        fcntl(&mut s, &format!("fcntl p.w setpipe_sz {n}"), w(p), FcntlCmd::SetPipeSz(n));
        fcntl(&mut s, "fcntl p.r getpipe_sz", r(p), FcntlCmd::GetPipeSz);
        show(&format!("Q3 setpipe_sz {n}"), &s);
    }
}

#[test]
#[ignore = "prints host behaviour; run by hand"]
fn q04_len_zero_on_closed() {
    let mut s = Builder::new();
    let file = s.file("f", 1, b'f');
    let p = s.pipe("p");
    let q = s.pipe("q");
    s.op("close f", Op::Close { fd: f(file) });
    s.op("splice f@0 p.w 0", splice(at(f(file), Some(0)), at(w(p), None), 0, false));
    s.op("splice f@0 p.w 1", splice(at(f(file), Some(0)), at(w(p), None), 1, false));
    s.op("close p.w", Op::Close { fd: w(p) });
    s.op("close q.r", Op::Close { fd: r(q) });
    s.op("tee p.w q.r 0", Op::Tee { input: w(p), output: r(q), len: 0, nonblock: false });
    s.op("tee p.r q.w 0 (open fds)", Op::Tee { input: r(p), output: w(q), len: 0, nonblock: false });
    s.op("close p.r", Op::Close { fd: r(p) });
    s.op("close q.w", Op::Close { fd: w(q) });
    s.op("tee p.r q.w 0 (all closed)", Op::Tee { input: r(p), output: w(q), len: 0, nonblock: false });
    s.op("tee p.r q.w 1 (all closed)", Op::Tee { input: r(p), output: w(q), len: 1, nonblock: false });
    show("Q4 len 0 with closed descriptors", &s);
}

#[test]
#[ignore = "prints host behaviour; run by hand"]
fn q05_splice_hole_then_pwrite() {
    let mut s = Builder::new();
    let file = s.file("f", 1, b'a');
    let p = s.pipe("p");
    s.op("pwrite f 3p 10 'b'", Op::Pwrite { fd: f(file), offset: 3 * P, len: 10, byte: b'b' });
    s.op("splice f@4096 p.w 4096", splice(at(f(file), Some(P)), at(w(p), None), P, false));
    s.op("pwrite f 4096 10 'Z'", Op::Pwrite { fd: f(file), offset: P, len: 10, byte: b'Z' });
    s.op("read p.r 4096", read(r(p), P, false));
    s.op("splice f@4096 p.w 20", splice(at(f(file), Some(P)), at(w(p), None), 20, false));
    s.op("read p.r 4096", read(r(p), P, false));
    show("Q5 splice of a hole, then pwrite into it", &s);

    // Control: the same with a page that exists.
    let mut s = Builder::new();
    let file = s.file("f", 2, b'a');
    let p = s.pipe("p");
    s.op("splice f@4096 p.w 4096", splice(at(f(file), Some(P)), at(w(p), None), P, false));
    s.op("pwrite f 4096 10 'Z'", Op::Pwrite { fd: f(file), offset: P, len: 10, byte: b'Z' });
    s.op("read p.r 4096", read(r(p), P, false));
    show("Q5 control: splice of a real page, then pwrite into it", &s);
}

#[test]
#[ignore = "prints host behaviour; run by hand"]
fn q06_vmsplice_read_side() {
    let mut s = Builder::new();
    let buf = s.buffer("buf", 1);
    let p = s.pipe("p");
    let q = s.pipe("q");
    s.op("write p.w 10 'a'", write(w(p), 10, b'a', false));
    s.op("vmsplice p.r buf[0..100]", vmsplice(r(p), vec![range(buf, 0, 100)], false));
    s.op("vmsplice q.w buf[0..100]", vmsplice(w(q), vec![range(buf, 0, 100)], false));
    s.op("read q.r 100", read(r(q), 100, false));
    s.op("read p.r 100 nonblock", read(r(p), 100, true));
    s.op("vmsplice p.r buf[0..100] nonblock (empty)", vmsplice(r(p), vec![range(buf, 0, 100)], true));
    show("Q6 vmsplice on the read side", &s);
}

#[test]
#[ignore = "prints host behaviour; run by hand"]
fn q07_splice_pipe_to_readerless_pipe() {
    for nonblock in [true, false] {
        let mut s = Builder::new();
        let p = s.pipe("p");
        let q = s.pipe("q");
        s.op("close q.r", Op::Close { fd: r(q) });
        s.op(
            &format!("splice p.r q.w 100 (p empty) nonblock={nonblock}"),
            splice(at(r(p), None), at(w(q), None), 100, nonblock),
        );
        s.op("write p.w 10 'a'", write(w(p), 10, b'a', false));
        s.op(
            &format!("splice p.r q.w 100 (p has data) nonblock={nonblock}"),
            splice(at(r(p), None), at(w(q), None), 100, nonblock),
        );
        s.op("read p.r 100 nonblock", read(r(p), 100, true));
        show(&format!("Q7 nonblock={nonblock}"), &s);
    }
    let mut s = Builder::new();
    let p = s.pipe("p");
    let q = s.pipe("q");
    s.op("close q.r", Op::Close { fd: r(q) });
    s.op("write p.w 10 'a'", write(w(p), 10, b'a', false));
    s.op("splice p.r q.w 100 (p has data)", splice(at(r(p), None), at(w(q), None), 100, false));
    s.op("close p.w", Op::Close { fd: w(p) });
    s.op("splice p.r q.w 100 (p has data, no writer)", splice(at(r(p), None), at(w(q), None), 100, false));
    s.op("read p.r 100", read(r(p), 100, false));
    s.op("splice p.r q.w 100 (p empty, no writer)", splice(at(r(p), None), at(w(q), None), 100, false));
    show("Q7 blocking, p holds data", &s);
}

#[test]
#[ignore = "prints host behaviour; run by hand"]
fn q08_wrong_kinds() {
    let mut s = Builder::new();
    let buf = s.buffer("buf", 1);
    let file = s.file("f", 1, b'f');
    let g = s.file("g", 1, b'g');
    let p = s.pipe("p");
    let q = s.pipe("q");
    s.op("close q.r", Op::Close { fd: r(q) });
    s.op("write q.w 0 'a'", write(w(q), 0, b'a', false));
    s.op("read p.w 10", read(w(p), 10, false));
    s.op("vmsplice f buf", vmsplice(f(file), vec![range(buf, 0, P)], false));
    s.op("tee f p.w 10", Op::Tee { input: f(file), output: w(p), len: 10, nonblock: false });
    s.op("splice f g 10", splice(at(f(file), None), at(f(g), None), 10, false));
    s.op("pwrite p.w 0 1 'a'", Op::Pwrite { fd: w(p), offset: 0, len: 1, byte: b'a' });
    fcntl(&mut s, "fcntl f getpipe_sz", f(file), FcntlCmd::GetPipeSz);
    fcntl(&mut s, "fcntl f setpipe_sz 4096", f(file), FcntlCmd::SetPipeSz(4096));
    s.op("write p.r 1 'a'", write(r(p), 1, b'a', false));
    s.op("vmsplice p.w buf[0..0]", vmsplice(w(p), vec![range(buf, 0, 0)], false));
    s.op("read p.r 0", read(r(p), 0, false));
    show("Q8 operations on the wrong kind of descriptor", &s);
}

#[test]
#[ignore = "prints host behaviour; run by hand"]
fn q09_merging_and_ebusy() {
    let mut s = Builder::new();
    let p = s.pipe("p");
    s.op("write p.w 1 'a'", write(w(p), 1, b'a', false));
    s.op("write p.w 4097 'b'", write(w(p), 4097, b'b', false));
    fcntl(&mut s, "fcntl p.w setpipe_sz 4096", w(p), FcntlCmd::SetPipeSz(4096));
    fcntl(&mut s, "fcntl p.w setpipe_sz 8192", w(p), FcntlCmd::SetPipeSz(8192));
    fcntl(&mut s, "fcntl p.w setpipe_sz 12288", w(p), FcntlCmd::SetPipeSz(12288));
    s.op("read p.r 5000", read(r(p), 5000, false));
    show("Q9a 1 + 4097 bytes", &s);

    let mut s = Builder::new();
    let p = s.pipe("p");
    s.op("write p.w 100 'a'", write(w(p), 100, b'a', false));
    s.op("write p.w 100 'b'", write(w(p), 100, b'b', false));
    fcntl(&mut s, "fcntl p.w setpipe_sz 4096", w(p), FcntlCmd::SetPipeSz(4096));
    s.op("read p.r 300", read(r(p), 300, false));
    show("Q9b 100 + 100 bytes", &s);

    let mut s = Builder::new();
    let buf = s.buffer("buf", 1);
    let p = s.pipe("p");
    s.op("vmsplice p.w buf[0..100]", vmsplice(w(p), vec![range(buf, 0, 100)], false));
    s.op("write p.w 100 'b'", write(w(p), 100, b'b', false));
    fcntl(&mut s, "fcntl p.w setpipe_sz 4096", w(p), FcntlCmd::SetPipeSz(4096));
    show("Q9c vmsplice 100 then write 100", &s);
}

#[test]
#[ignore = "prints host behaviour; run by hand"]
fn q10_blocking_write() {
    let mut s = Builder::new();
    let p = s.pipe("p");
    s.op("write p.w 70000 'a'", write(w(p), 70000, b'a', false));
    show("Q10 blocking write of 70000", &s);
}
