//! Tests of the host backend against the real kernel, on hand-built
//! scenarios.

use std::time::{Duration, Instant};

use super::{LinuxBackend, LinuxOptions};
use crate::kernel::Errno;
use crate::scenario::{
    Backend, End, Expectation, FcntlCmd, Fd, FdArg, ObjId, ObjKind, Object, Op, Outcome, Range, Report, Scenario, Step,
    StepResult, run,
};

/// Builds a [`Scenario`] one line at a time.
pub(super) struct Builder {
    pub(super) sc: Scenario,
}

impl Builder {
    pub(super) fn new() -> Self {
        Builder { sc: Scenario { path: "test".into(), objects: Vec::new(), steps: Vec::new(), threads: Vec::new() } }
    }

    fn declare(&mut self, name: &str, kind: ObjKind, text: String) -> ObjId {
        let id = ObjId(self.sc.objects.len());
        let line = self.sc.steps.len() + 1;
        self.sc.objects.push(Object { name: name.into(), kind, line });
        self.op(&text, Op::Declare(id));
        id
    }

    pub(super) fn buffer(&mut self, name: &str, pages: u64) -> ObjId {
        self.declare(name, ObjKind::Buffer { pages }, format!("buffer {name} {pages}"))
    }

    pub(super) fn pipe(&mut self, name: &str) -> ObjId {
        self.declare(name, ObjKind::Pipe, format!("pipe {name}"))
    }

    pub(super) fn file(&mut self, name: &str, pages: u64, byte: u8) -> ObjId {
        self.declare(name, ObjKind::File { pages, byte }, format!("file {name} {pages} '{}'", byte as char))
    }

    pub(super) fn tcp(&mut self, name: &str) -> ObjId {
        self.declare(name, ObjKind::Tcp { link: None }, format!("tcp {name}"))
    }

    /// Append an operation line with its display text.
    pub(super) fn op(&mut self, text: &str, op: Op) {
        let line = self.sc.steps.len() + 1;
        self.sc.steps.push(Step { line, text: text.into(), op, after_model_only_change: false, within: None });
    }

    /// Run on a fresh backend with the given watchdog timeout.
    pub(super) fn run(&self, timeout: Duration) -> Report {
        let mut b = LinuxBackend::new(LinuxOptions { block_timeout: timeout, tmp_parent: None }).expect("backend");
        run(&self.sc, &mut b, |_| {}).expect("run")
    }

    /// Each line's outcome, in order.
    pub(super) fn outcomes(&self) -> Vec<Outcome> {
        let r = self.run(Duration::from_millis(200));
        assert_eq!(r.blocked, None, "blocked: {}", r.output());
        r.lines.into_iter().map(|l| l.outcome).collect()
    }
}

pub(super) fn r(o: ObjId) -> Fd {
    Fd { object: o, end: End::Read }
}

pub(super) fn w(o: ObjId) -> Fd {
    Fd { object: o, end: End::Write }
}

pub(super) fn f(o: ObjId) -> Fd {
    Fd { object: o, end: End::File }
}

pub(super) fn tx(o: ObjId) -> Fd {
    Fd { object: o, end: End::Tx }
}

pub(super) fn rx(o: ObjId) -> Fd {
    Fd { object: o, end: End::Rx }
}

pub(super) fn at(fd: Fd, off: Option<u64>) -> FdArg {
    FdArg { fd, offset: off }
}

pub(super) fn range(buffer: ObjId, start: u64, end: u64) -> Range {
    Range { buffer, start, end }
}

pub(super) fn write(fd: Fd, len: u64, byte: u8, nonblock: bool) -> Op {
    Op::Write { fd, len, byte, nonblock }
}

pub(super) fn read(fd: Fd, len: u64, nonblock: bool) -> Op {
    Op::Read { fd, len, nonblock }
}

pub(super) fn splice(input: FdArg, output: FdArg, len: u64, nonblock: bool) -> Op {
    Op::Splice { input, output, len, nonblock, mov: false, more: false }
}

pub(super) fn vmsplice(fd: Fd, ranges: Vec<Range>, nonblock: bool) -> Op {
    Op::Vmsplice { fd, ranges, gift: false, nonblock }
}

fn data(parts: &[(u8, usize)]) -> Outcome {
    let mut v = Vec::new();
    for &(b, n) in parts {
        v.extend(std::iter::repeat_n(b, n));
    }
    Outcome::Data(v)
}

const P: u64 = 4096;

#[test]
fn vmsplice_four_pages_then_read() {
    let mut s = Builder::new();
    let buf = s.buffer("buf", 4);
    let p = s.pipe("p");
    s.op("fill buf 'B'", Op::Fill { range: range(buf, 0, 4 * P), byte: b'B' });
    s.op("vmsplice", vmsplice(w(p), vec![range(buf, 0, 4 * P)], false));
    s.op("read", read(r(p), 4 * P, false));
    assert_eq!(
        s.outcomes(),
        vec![Outcome::Ok, Outcome::Ok, Outcome::Ok, Outcome::Count(16384), data(&[(b'B', 16384)]),]
    );
}

#[test]
fn nonblocking_write_into_full_pipe_is_eagain() {
    let mut s = Builder::new();
    let p = s.pipe("p");
    s.op("write", write(w(p), 16 * P, b'a', true));
    s.op("write", write(w(p), 1, b'x', true));
    // The flag was only for the call: the descriptor is blocking again.
    s.op("getfl", read(r(p), 1, false));
    assert_eq!(
        s.outcomes(),
        vec![Outcome::Ok, Outcome::Count(65536), Outcome::Err(Errno::EAGAIN), data(&[(b'a', 1)]),]
    );
}

#[test]
fn write_without_reader_is_epipe() {
    let mut s = Builder::new();
    let p = s.pipe("p");
    s.op("close", Op::Close { fd: r(p) });
    s.op("write", write(w(p), 10, b'a', false));
    assert_eq!(s.outcomes(), vec![Outcome::Ok, Outcome::Ok, Outcome::Err(Errno::EPIPE)]);
}

#[test]
fn read_of_empty_pipe_blocks() {
    let mut s = Builder::new();
    let p = s.pipe("p");
    s.op("read", read(r(p), 10, false));
    s.op("never", read(r(p), 10, false));
    let t = Instant::now();
    let rep = s.run(Duration::from_millis(200));
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(rep.blocked, Some(2));
    assert_eq!(rep.lines.len(), 1);
    assert_eq!(rep.exit_status(), 3);
}

#[test]
fn blocking_write_with_partial_count_is_blocked() {
    let mut s = Builder::new();
    let p = s.pipe("p");
    s.op("write", write(w(p), 100_000, b'a', false));
    let rep = s.run(Duration::from_millis(100));
    assert_eq!(rep.blocked, Some(2));
}

#[test]
fn closed_names_answer_ebadf() {
    let mut s = Builder::new();
    let p = s.pipe("p");
    let q = s.pipe("q");
    s.op("close p.r", Op::Close { fd: r(p) });
    s.op("close p.r", Op::Close { fd: r(p) });
    // The kernel will have reused p.r's number for this pipe.
    let p2 = s.pipe("p2");
    s.op("read p.r", read(r(p), 10, true));
    s.op("write p2.w", write(w(p2), 1, b'z', false));
    s.op("splice p.r q.w", splice(at(r(p), None), at(w(q), None), 10, true));
    s.op("splice len 0", splice(at(r(p), None), at(w(q), None), 0, true));
    s.op("fcntl", Op::Fcntl { fd: r(p), cmd: FcntlCmd::GetPipeSz });
    s.op("read p2.r", read(r(p2), 10, true));
    assert_eq!(
        s.outcomes(),
        vec![
            Outcome::Ok,
            Outcome::Ok,
            Outcome::Ok,
            Outcome::Err(Errno::EBADF),
            Outcome::Ok,
            Outcome::Err(Errno::EBADF),
            Outcome::Count(1),
            Outcome::Err(Errno::EBADF),
            Outcome::Count(0),
            Outcome::Err(Errno::EBADF),
            data(&[(b'z', 1)]),
        ]
    );
}

#[test]
fn model_only_ops_skip() {
    let mut s = Builder::new();
    let buf = s.buffer("buf", 1);
    let p = s.pipe("p");
    s.op("refs", Op::Refs { range: range(buf, 0, P) });
    s.op("expect", Op::Expect { what: Expectation::Busy, range: range(buf, 0, P) });
    s.op("advance", Op::Advance { ns: 1000 });
    s.op("getpsz", Op::Fcntl { fd: w(p), cmd: FcntlCmd::GetPsz });
    s.op("setpsz", Op::Fcntl { fd: w(p), cmd: FcntlCmd::SetPsz(3) });
    s.op("checkpoint x.img", Op::Checkpoint { file: "x.img".into() });
    s.op("restore x.img", Op::Restore { file: "x.img".into() });
    s.op("checkpoint c to x.img", Op::CheckpointContainer { name: "c".into(), file: "x.img".into() });
    s.op("restore x.img into local", Op::RestoreInto { file: "x.img".into(), host: "local".into() });
    let out = s.outcomes();
    assert_eq!(&out[2..], &[const { Outcome::Skip }; 9]);
}

#[test]
fn splice_from_file_at_offset() {
    let mut s = Builder::new();
    let file = s.file("f", 2, b'F');
    let p = s.pipe("p");
    s.op("pwrite", Op::Pwrite { fd: f(file), offset: P, len: 10, byte: b'G' });
    s.op("splice f@4090", splice(at(f(file), Some(P - 6)), at(w(p), None), 20, false));
    // The explicit offset left the file position at 0.
    s.op("splice f", splice(at(f(file), None), at(w(p), None), 2, false));
    s.op("splice p@0", splice(at(r(p), Some(0)), at(w(p), None), 2, false));
    s.op("read", read(r(p), 100, false));
    assert_eq!(
        s.outcomes(),
        vec![
            Outcome::Ok,
            Outcome::Ok,
            Outcome::Count(10),
            Outcome::Count(20),
            Outcome::Count(2),
            Outcome::Err(Errno::ESPIPE),
            data(&[(b'F', 6), (b'G', 10), (b'F', 4), (b'F', 2)]),
        ]
    );
}

#[test]
fn tcp_pair_write_then_read() {
    let mut s = Builder::new();
    let t = s.tcp("t");
    s.op("write", write(tx(t), 1000, b'T', false));
    s.op("recv", Op::Recv { fd: rx(t), len: 1000 });
    s.op("write back", write(rx(t), 3, b'R', false));
    s.op("read", read(tx(t), 10, false));
    assert_eq!(
        s.outcomes(),
        vec![Outcome::Ok, Outcome::Count(1000), data(&[(b'T', 1000)]), Outcome::Count(3), data(&[(b'R', 3)]),]
    );
}

#[test]
fn recv_on_pipe_is_enotsock() {
    let mut s = Builder::new();
    let p = s.pipe("p");
    s.op("recv", Op::Recv { fd: r(p), len: 1 });
    assert_eq!(s.outcomes(), vec![Outcome::Ok, Outcome::Err(Errno::ENOTSOCK)]);
}

#[test]
fn huge_lengths_and_buffers_do_not_panic() {
    let mut s = Builder::new();
    let big = s.buffer("big", 1 << 50);
    let huge = s.file("huge", 1 << 40, b'h');
    let none = s.buffer("none", 0);
    let p = s.pipe("p");
    s.op("fill big", Op::Fill { range: range(big, 0, 10), byte: b'x' });
    s.op("vmsplice big", vmsplice(w(p), vec![range(big, 0, P)], true));
    s.op("vmsplice none", vmsplice(w(p), vec![range(none, 0, 0)], true));
    s.op("write huge", write(w(p), i64::MAX as u64, b'h', true));
    s.op("read huge", read(r(p), i64::MAX as u64, true));
    s.op("write huge zero", write(w(p), i64::MAX as u64, 0, true));
    s.op("read huge", read(r(p), i64::MAX as u64, true));
    s.op("write closed huge", write(f(huge), 10, b'x', false));
    s.op("setpipe_sz", Op::Fcntl { fd: w(p), cmd: FcntlCmd::SetPipeSz((1 << 32) + 4096) });
    let out = s.outcomes();
    assert_eq!(
        out,
        vec![
            Outcome::Err(Errno::ENOMEM),
            Outcome::Err(Errno::ENOSPC),
            Outcome::Err(Errno::EINVAL),
            Outcome::Ok,
            Outcome::Err(Errno::EFAULT),
            Outcome::Err(Errno::EFAULT),
            Outcome::Count(0),
            Outcome::Count(65536),
            data(&[(b'h', 65536)]),
            Outcome::Count(65536),
            data(&[(0, 65536)]),
            Outcome::Err(Errno::EBADF),
            Outcome::Count(4096),
        ]
    );
}

#[test]
fn backend_is_send() {
    fn send<T: Send>() {}
    send::<LinuxBackend>();
}

#[test]
fn backends_run_in_parallel_threads() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = Builder::new();
                let p = s.pipe("p");
                if i % 2 == 0 {
                    s.op("read", read(r(p), 1, false));
                    let rep = s.run(Duration::from_millis(100 + 50 * i));
                    assert_eq!(rep.blocked, Some(2));
                } else {
                    s.op("write", write(w(p), 1, b'a', false));
                    s.op("read", read(r(p), 1, false));
                    let rep = s.run(Duration::from_millis(100));
                    assert_eq!(rep.blocked, None);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
}

#[test]
fn teardown_removes_temporary_directory() {
    let mut s = Builder::new();
    s.file("f", 1, b'a');
    let mut b = LinuxBackend::new(LinuxOptions::default()).expect("backend");
    assert_eq!(b.step(&s.sc, &s.sc.steps[0]).expect("step"), StepResult::Done(Outcome::Ok));
    let dir = b.tmp.as_ref().expect("dir").path().to_path_buf();
    assert!(dir.starts_with("/dev/shm"));
    assert!(dir.is_dir());
    b.finish().expect("finish");
    assert!(!dir.exists());
    // Drop without finish removes it too.
    let mut b = LinuxBackend::new(LinuxOptions::default()).expect("backend");
    b.step(&s.sc, &s.sc.steps[0]).expect("step");
    let dir = b.tmp.as_ref().expect("dir").path().to_path_buf();
    drop(b);
    assert!(!dir.exists());
}
