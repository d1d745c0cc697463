//! Loom models of the model kernel itself ([`SharedKernel`]): the code that
//! `kmodel` runs for real threads, checked under every interleaving (within
//! the preemption bound).
//!
//! - a writer filling a one-slot pipe with two pages while a reader drains
//!   it: the write sleeps after the first page and resumes (no lost
//!   wakeup), every byte arrives once, in order;
//! - close of the read end racing a writer blocked on a full pipe: the
//!   writer wakes and answers the bytes it wrote (or EPIPE), never sleeps on.
//!
//! Their broken twins live with the `SharedPipe` models (`loom_pipe.rs`):
//! a wait with `if`, a close without wakeup, both rejected there.

#![cfg(loom)]

mod loom_support;

use kmodel::kernel::{Fcntl, Fd, Kernel, KernelConfig, Pid, SharedKernel};
use page_refs::sync::thread;

/// A kernel with a one-slot pipe and a thread writing two pages into it:
/// the kernel, the process, the read end and the writer.
fn writer_into_one_slot_pipe()
-> (page_refs::sync::Arc<SharedKernel>, Pid, Fd, thread::JoinHandle<Result<usize, nix::errno::Errno>>) {
    let k = SharedKernel::new(Kernel::new(KernelConfig { event_log: false, ..KernelConfig::default() }));
    let pid = k.with(|k| k.init_pid());
    let (r, w) = k.with(|k| k.pipe2(pid)).unwrap();
    k.fcntl(pid, w, Fcntl::SetPipeSz(4096)).unwrap();
    let k2 = k.clone();
    let writer = thread::spawn(move || k2.write(pid, w, b'x', 8192));
    (k, pid, r, writer)
}

#[test]
fn kernel_write_sleeps_and_resumes_while_reader_drains() {
    loom_support::model("kernel write/read, 1 slot, 2 pages", || {
        let (k, pid, r, writer) = writer_into_one_slot_pipe();
        let mut got = 0;
        while got < 8192 {
            let data = k.read(pid, r, 8192).unwrap();
            assert!(!data.is_empty(), "EOF before the writer finished");
            got += data.len();
        }
        assert_eq!(got, 8192);
        assert_eq!(writer.join().unwrap(), Ok(8192));
        k.with(|k| k.teardown_and_check()).unwrap();
    });
}

#[test]
fn kernel_close_wakes_a_blocked_writer() {
    loom_support::model("kernel close vs blocked writer", || {
        let (k, pid, r, writer) = writer_into_one_slot_pipe();
        k.close(pid, r).unwrap();
        let got = writer.join().unwrap();
        assert!(
            got == Ok(4096) || got == Err(nix::errno::Errno::EPIPE),
            "writer answered {got:?}: want the page it wrote, or EPIPE"
        );
        k.with(|k| k.teardown_and_check()).unwrap();
    });
}
