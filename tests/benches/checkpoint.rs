//! Checkpoint and restore per MiB of container memory.
//!
//! A process maps `MIB` MiB and touches every page, either with one byte
//! per page (`uniform`: `page_refs` keeps such a page as one byte, and the
//! image stores it as one) or with two fills at a page-dependent split, so
//! that every page holds 4096 explicit bytes (`varied`: the image carries
//! them all; copying and CRC-32 cost the same whatever the values). Half
//! the pages are also vmspliced into pipes, so frames are shared.
//!
//! Measured: `checkpoint` (walk the kernel into an image and encode it to
//! bytes: `checkpoint_into`, reusing the output buffer of the previous
//! checkpoint, as the rounds of a migration do; `checkpoint_bytes` into a
//! fresh buffer is printed too, and costs the first-touch page faults of
//! 1 MiB of output per MiB) and `restore` (`restore_bytes`: decode,
//! validate, build the new kernel, check its invariants), and the image
//! size per MiB. The output ends with
//!
//! ```text
//! checkpoint GiB per second = X.XX
//! restore GiB per second = X.XX
//! ```
//!
//! measured on the varied pages (GiB of page bytes per second of wall time,
//! best of 3; 1 run under `--test`). Target: at least 1 each.

use std::time::Instant;

use criterion::{Criterion, Throughput};
use kmodel::container;
use kmodel::kernel::{Kernel, KernelConfig, Pid, UserRange};
use page_refs::PAGE_SIZE;
use tests::best_of;

/// Container memory in the headline measurement.
const MIB: usize = 64;

fn machine(mib: usize, varied: bool) -> Kernel {
    let mut k = Kernel::new(KernelConfig { event_log: false, ..KernelConfig::default() });
    let pid = k.init_pid();
    let pages = mib << 8;
    let buf = k.mmap_anon(pid, pages as u64).expect("mmap");
    for i in 0..pages {
        let start = i * PAGE_SIZE;
        if varied {
            let split = 1 + (i * 37) % (PAGE_SIZE - 1);
            k.user_fill(pid, UserRange { buffer: buf, start, len: split }, i as u8).expect("fill");
            let rest = UserRange { buffer: buf, start: start + split, len: PAGE_SIZE - split };
            k.user_fill(pid, rest, !(i as u8)).expect("fill");
        } else {
            k.user_fill(pid, UserRange { buffer: buf, start, len: PAGE_SIZE }, i as u8).expect("fill");
        }
    }
    // Share half the pages with pipes, 16 pages (one full pipe) each.
    for chunk in 0..pages / 32 {
        let (_, w) = k.pipe2(pid).expect("pipe");
        let r = UserRange { buffer: buf, start: chunk * 32 * PAGE_SIZE, len: 16 * PAGE_SIZE };
        k.vmsplice(pid, w, &[r], kmodel::kernel::SpliceFlags::default()).expect("vmsplice");
    }
    k
}

fn checkpoint(k: &Kernel) -> Vec<u8> {
    container::checkpoint_bytes(k, &[Pid(1)]).expect("checkpoint")
}

fn checkpoint_into(k: &Kernel, out: &mut Vec<u8>) {
    container::checkpoint_into(k, &[Pid(1)], out).expect("checkpoint");
}

fn restore(bytes: &[u8]) -> Kernel {
    let mut k = Kernel::default();
    container::restore_bytes(&mut k, bytes).expect("restore");
    k
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let test_mode = std::env::args().any(|a| a == "--test");
    for varied in [false, true] {
        let kind = if varied { "varied" } else { "uniform" };
        let k = machine(16, varied);
        let bytes = checkpoint(&k);
        let mut g = c.benchmark_group(format!("checkpoint_16MiB_{kind}"));
        g.throughput(Throughput::Bytes(16 << 20));
        g.sample_size(10);
        let mut out = Vec::new();
        g.bench_function("checkpoint_into", |b| b.iter(|| checkpoint_into(&k, &mut out)));
        g.bench_function("checkpoint_bytes_fresh", |b| b.iter(|| checkpoint(&k)));
        g.bench_function("decode_restore", |b| b.iter(|| restore(&bytes)));
        g.finish();
    }
    c.final_summary();
    let runs = if test_mode { 1 } else { 3 };
    let gib = (MIB as f64) / 1024.0;
    for varied in [false, true] {
        let kind = if varied { "varied" } else { "uniform" };
        let k = machine(MIB, varied);
        let (fresh, bytes) = best_of(runs, || checkpoint(&k));
        let mut out = Vec::new();
        let (ck, ()) = best_of(runs + 1, || checkpoint_into(&k, &mut out));
        assert_eq!(out, bytes, "both encoders write the same image");
        let (rs, restored) = best_of(runs, || restore(&bytes));
        assert_eq!(container::sharing(&restored), container::sharing(&k), "the restore is faithful");
        println!(
            "{kind}: {MIB} MiB of pages, image {:.1} KiB per MiB, checkpoint {:.2} ms/MiB ({:.2} into a fresh buffer), \
             restore {:.2} ms/MiB",
            bytes.len() as f64 / 1024.0 / MIB as f64,
            ck * 1e3 / MIB as f64,
            fresh * 1e3 / MIB as f64,
            rs * 1e3 / MIB as f64
        );
        if varied {
            // The graft: the same image into a host already running a
            // machine of the same size (its clone, the all-or-nothing
            // side copy, is part of the cost).
            let image = container::checkpoint_set(&k, &[Pid(1)], false).expect("checkpoint_set");
            let host = machine(MIB, varied);
            let mut gr = f64::MAX;
            for _ in 0..runs {
                let mut t = host.clone();
                let t0 = Instant::now();
                container::graft(&mut t, &image, None).expect("graft");
                gr = gr.min(t0.elapsed().as_secs_f64());
                std::hint::black_box(&t);
            }
            println!(
                "graft: {MIB} MiB image into a host running {MIB} MiB, {:.2} ms/MiB of image (the graft's own side copy of the host included)",
                gr * 1e3 / MIB as f64
            );
            println!("checkpoint GiB per second = {:.2}", gib / ck);
            println!("restore GiB per second = {:.2}", gib / rs);
        }
    }
}
