//! What the loom models share: tiny pipes and arenas, and the two ways a
//! test shows that loom rejects a broken twin.
//!
//! A twin that breaks an assertion makes loom panic: [`expect_panic`]
//! catches it. A twin that deadlocks makes loom abort the whole process:
//! [`expect_child_failure`] runs the twin, an `#[ignore]`d test of the same
//! binary, in a child process and checks how it died.

#![allow(dead_code)] // each model file uses part of it

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Command;
use std::time::Instant;

use page_refs::sync::{Arc, Mutex};
use page_refs::{PAGE_SIZE, PageArena, Source};
use pipe_buffer::{PipeInodeInfo, SharedPipe, SizeLimits};

/// `loom::model`, reporting on stderr how many interleavings it explored
/// and how long that took (`--nocapture` shows it).
pub fn model<F: Fn() + Sync + Send + 'static>(name: &str, f: F) {
    // Counts runs from outside the model, so std's atomics, not the shim's:
    // loom's types exist only inside `loom::model`.
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = runs.clone();
    let start = Instant::now();
    page_refs::sync::model(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f();
    });
    let runs = runs.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("loom model {name}: {runs} interleavings in {:.3} s", start.elapsed().as_secs_f64());
}

/// A blocking pipe of `slots` slots (1 or 2 under loom).
pub fn pipe(id: u32, slots: u32) -> Arc<SharedPipe> {
    let mut ring = PipeInodeInfo::new(id);
    ring.set_size(slots * PAGE_SIZE as u32, SizeLimits::default()).unwrap();
    Arc::new(SharedPipe::new(ring))
}

/// A page arena without an event log, shared by the model's threads.
pub fn arena() -> Arc<Mutex<PageArena>> {
    Arc::new(Mutex::new(PageArena::without_log()))
}

/// A whole page of `byte`: one slot per write.
pub fn page(byte: u8) -> Source<'static> {
    Source::Fill { byte, len: PAGE_SIZE }
}

/// Close every end still open of each pipe, then check that no page is
/// left but the zero page.
pub fn teardown(pages: &Mutex<PageArena>, pipes: &[&SharedPipe]) {
    for p in pipes {
        let ring = p.lock();
        let (readers, writers) = (ring.readers, ring.writers);
        drop(ring);
        (0..readers).for_each(|_| p.close_reader(pages));
        (0..writers).for_each(|_| p.close_writer(pages));
    }
    pages.lock().check_teardown().unwrap();
}

/// Run `model` (a broken twin) and assert that loom found an interleaving
/// where it panics with a message containing one of `want`.
pub fn expect_panic(twin: &str, want: &[&str], model: impl FnOnce()) {
    let Err(payload) = catch_unwind(AssertUnwindSafe(model)) else {
        panic!("{twin}: loom found no failing interleaving; want a panic with one of {want:?}");
    };
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_default();
    assert!(want.iter().any(|w| msg.contains(w)), "{twin}: got panic {msg:?}, want one containing one of {want:?}");
}

/// Run the `#[ignore]`d test `twin` of this test binary in a child process
/// (loom aborts the process on a deadlock) and assert that it failed with
/// `want` in its output.
pub fn expect_child_failure(twin: &str, want: &str) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args(["--exact", twin, "--ignored", "--nocapture", "--test-threads=1"])
        .output()
        .expect("re-run the test binary");
    let output = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(output.contains("running 1 test"), "{twin}: the child did not run exactly that test:\n{output}");
    assert!(!out.status.success(), "{twin}: loom found no failing interleaving (the child passed):\n{output}");
    assert!(output.contains(want), "{twin}: the child failed, but not with {want:?}:\n{output}");
}
