//! A writer thread counts and publishes entries while a reader samples:
//! every counter the reader sees only grows, entries only appear, and the
//! final sample is exact.

mod common;
use common::private_dir;

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use speedbump::ipc::procfs::current_uid;
use speedbump::ipc::{
    Capacities, FunctionId, FunctionKind, ProcessInfo, Sample, SegmentView, SegmentWriter,
};

const ROUNDS: u64 = 200_000;
const NEW_FUNCTION_EVERY: u64 = 2_000;

#[test]
fn reader_sees_monotonic_counts_and_the_exact_final_count() {
    let dir = private_dir("ipc-concurrency");
    let path = dir.path().join("p-1-1.seg");
    let info = ProcessInfo {
        pid: 1,
        parent_pid: 0,
        uid: current_uid(),
        process_start_boottime_ns: 1,
        label: "concurrency".into(),
    };
    let caps = Capacities {
        functions: 64,
        ..Capacities::default()
    };
    let mut writer = SegmentWriter::create(&path, &info, caps).unwrap();
    let mut view = SegmentView::open(&path, current_uid()).unwrap();
    let done = AtomicBool::new(false);

    thread::scope(|scope| {
        let done = &done;
        scope.spawn(move || {
            let pattern = writer.add_pattern(0, "m:*", false);
            let tokens = writer.add_progress("tokens");
            let mut current = FunctionId::OTHER;
            for round in 0..ROUNDS {
                if round % NEW_FUNCTION_EVERY == 0 {
                    // Publishing while the reader samples; past the capacity
                    // of 64 this keeps returning slot 0.
                    current = writer.add_function(
                        &format!("m:f{}", round / NEW_FUNCTION_EVERY),
                        FunctionKind::Python,
                        pattern.0,
                    );
                }
                let slot = writer.function(current);
                slot.calls.fetch_add(1, Ordering::Relaxed);
                slot.injected_ns.fetch_add(10, Ordering::Relaxed);
                writer
                    .pattern(pattern)
                    .calls
                    .fetch_add(1, Ordering::Relaxed);
                writer
                    .progress(tokens)
                    .units
                    .fetch_add(2, Ordering::Relaxed);
            }
            done.store(true, Ordering::Release);
        });

        let mut previous = Sample::default();
        let mut sample = Sample::default();
        let mut samples = 0u32;
        while !done.load(Ordering::Acquire) || samples == 0 {
            view.sample_into(&mut sample).unwrap();
            assert_monotonic(&previous, &sample);
            std::mem::swap(&mut previous, &mut sample);
            samples += 1;
        }
        assert!(
            samples > 1,
            "the reader should sample while the writer runs"
        );
    });

    let last = view.sample().unwrap();
    let calls: u64 = last.functions.iter().map(|f| f.calls).sum();
    let injected: u64 = last.functions.iter().map(|f| f.injected_ns).sum();
    assert_eq!(calls, ROUNDS);
    assert_eq!(injected, ROUNDS * 10);
    assert_eq!(last.functions.len(), 64);
    assert_eq!(last.functions[1].calls, NEW_FUNCTION_EVERY);
    assert_eq!(last.patterns[1].calls, ROUNDS);
    assert_eq!(last.progress[1].units, 2 * ROUNDS);
}

fn assert_monotonic(before: &Sample, now: &Sample) {
    assert!(now.functions.len() >= before.functions.len());
    assert!(now.patterns.len() >= before.patterns.len());
    assert!(now.progress.len() >= before.progress.len());
    for (b, n) in before.functions.iter().zip(&now.functions) {
        assert_eq!((b.id, &b.name), (n.id, &n.name), "entries never change");
        assert!(n.calls >= b.calls, "calls went down: {b:?} -> {n:?}");
        assert!(n.injected_ns >= b.injected_ns);
    }
    for (b, n) in before.patterns.iter().zip(&now.patterns) {
        assert!(n.calls >= b.calls);
    }
    for (b, n) in before.progress.iter().zip(&now.progress) {
        assert!(n.units >= b.units);
    }
}
