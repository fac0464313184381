//! The latency ring over a real shared mapping: a producer thread pushes
//! while a consumer thread drains (every record arrives once, in order, or is
//! counted as dropped); a full ring drops without blocking; corrupt heads and
//! records are skipped, never trusted; any bytes in the ring fields of a
//! header give `Ok` or `Err`, never a crash.

mod common;
use common::private_dir;

use std::mem::offset_of;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use proptest::prelude::*;
use speedbump::ipc::layout::{RingControl, SectionLayout};
use speedbump::ipc::procfs::current_uid;
use speedbump::ipc::{
    Capacities, FunctionId, FunctionKind, Header, LatencyEvent, ProcessInfo, SegmentView,
    SegmentWriter, latency_flags,
};

fn info() -> ProcessInfo {
    ProcessInfo {
        pid: 1,
        parent_pid: 0,
        uid: current_uid(),
        process_start_boottime_ns: 1,
        label: "ring".into(),
    }
}

fn small() -> Capacities {
    Capacities {
        functions: 8,
        patterns: 4,
        progress: 4,
        name_arena_bytes: 256,
    }
}

const PUSHES: u64 = 300_000;

#[test]
fn concurrent_producer_and_consumer_lose_nothing_they_do_not_count() {
    let dir = private_dir("ipc-ring");
    let path = dir.path().join("p-1-1.seg");
    let mut writer = SegmentWriter::create_with_ring(&path, &info(), small(), 1024).unwrap();
    let f = writer.add_function("m:handle", FunctionKind::Python, 0);
    let view = SegmentView::open(&path, current_uid()).unwrap();
    assert_eq!(view.latency_ring_records(), 1024);
    let mut consumer = view.latency_ring(current_uid()).unwrap().unwrap();
    let mut producer = writer.latency_producer().unwrap();
    let done = AtomicBool::new(false);

    let (pushed, dropped_by_producer) = thread::scope(|scope| {
        let done = &done;
        let handle = scope.spawn(move || {
            let mut ok = 0u64;
            for i in 0..PUSHES {
                let flags = if i % 7 == 0 { latency_flags::ERROR } else { 0 };
                // SAFETY: `writer` outlives this scope; one producer thread.
                if unsafe { producer.push(f, flags, i, i + 1000 + i % 13) } {
                    ok += 1;
                }
            }
            done.store(true, Ordering::Release);
            // SAFETY: as above.
            (ok, unsafe { producer.dropped() })
        });
        let mut next_start: Option<u64> = None;
        let mut received = 0u64;
        loop {
            let finished = done.load(Ordering::Acquire);
            let report = consumer.drain(|event: LatencyEvent| {
                // Records arrive in push order; a gap means drops, which
                // the producer counted.
                if let Some(expected) = next_start {
                    assert!(event.start_ns >= expected, "out of order: {event:?}");
                }
                next_start = Some(event.start_ns + 1);
                assert_eq!(event.function, f);
                assert_eq!(event.latency_ns(), 1000 + event.start_ns % 13);
                assert_eq!(event.is_error(), event.start_ns % 7 == 0);
                received += 1;
            });
            assert_eq!(report.invalid, 0);
            assert_eq!(report.corrupt_head, None);
            if finished {
                break;
            }
        }
        let (ok, dropped) = handle.join().unwrap();
        assert_eq!(received, ok, "every record pushed was drained once");
        (ok, dropped)
    });
    assert_eq!(pushed + dropped_by_producer, PUSHES);
    assert_eq!(consumer.dropped(), dropped_by_producer);
}

#[test]
fn a_full_ring_drops_and_counts_without_blocking() {
    let dir = private_dir("ipc-ring");
    let path = dir.path().join("p-1-1.seg");
    let writer = SegmentWriter::create_with_ring(&path, &info(), small(), 64).unwrap();
    let view = SegmentView::open(&path, current_uid()).unwrap();
    let mut consumer = view.latency_ring(current_uid()).unwrap().unwrap();
    let mut producer = writer.latency_producer().unwrap();
    let mut accepted = 0;
    for i in 0..100u64 {
        // SAFETY: writer alive; single thread.
        accepted += u64::from(unsafe { producer.push(FunctionId(1), 0, i, i + 5) });
    }
    assert_eq!(accepted, 64);
    let mut seen = Vec::new();
    let report = consumer.drain(|e| seen.push(e.start_ns));
    assert_eq!(report.records, 64);
    assert_eq!(report.dropped_total, 36);
    assert_eq!(
        seen,
        (0..64).collect::<Vec<_>>(),
        "the oldest records are kept"
    );
    // Drained slots are handed back: the ring accepts again.
    // SAFETY: as above.
    assert!(unsafe { producer.push(FunctionId(1), 0, 500, 501) });
    let report = consumer.drain(|e| assert_eq!(e.start_ns, 500));
    assert_eq!(report.records, 1);
}

#[test]
fn a_segment_without_a_ring_has_no_consumer() {
    let dir = private_dir("ipc-ring");
    let path = dir.path().join("p-1-1.seg");
    let writer = SegmentWriter::create_with_ring(&path, &info(), small(), 0).unwrap();
    assert!(writer.latency_producer().is_none());
    let view = SegmentView::open(&path, current_uid()).unwrap();
    assert!(view.latency_ring(current_uid()).unwrap().is_none());
}

/// Byte offset of the ring's control block in a segment of `small()` caps.
fn ring_offset(records: u32) -> u64 {
    SectionLayout::with_ring(&small(), records)
        .unwrap()
        .latency_ring_offset
}

#[test]
fn a_corrupt_head_is_reported_and_skipped() {
    let dir = private_dir("ipc-ring");
    let path = dir.path().join("p-1-1.seg");
    let writer = SegmentWriter::create_with_ring(&path, &info(), small(), 64).unwrap();
    let view = SegmentView::open(&path, current_uid()).unwrap();
    let mut consumer = view.latency_ring(current_uid()).unwrap().unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let head_at = ring_offset(64) + offset_of!(RingControl, head) as u64;
    file.write_all_at(&1_000_000u64.to_ne_bytes(), head_at)
        .unwrap();
    let report = consumer.drain(|_| panic!("nothing may be read from a corrupt ring"));
    assert_eq!(report.corrupt_head, Some(1_000_000));
    assert_eq!(report.records, 0);
    // The consumer resynchronised: records pushed after it are read.
    let mut producer = writer.latency_producer().unwrap();
    // SAFETY: writer alive; single thread.
    assert!(unsafe { producer.push(FunctionId(1), 0, 7, 9) });
    let report = consumer.drain(|e| assert_eq!(e.latency_ns(), 2));
    assert_eq!((report.records, report.corrupt_head), (1, None));
}

#[test]
fn invalid_records_are_counted_and_skipped() {
    let dir = private_dir("ipc-ring");
    let path = dir.path().join("p-1-1.seg");
    let writer = SegmentWriter::create_with_ring(&path, &info(), small(), 64).unwrap();
    let view = SegmentView::open(&path, current_uid()).unwrap();
    let mut consumer = view.latency_ring(current_uid()).unwrap().unwrap();
    let mut producer = writer.latency_producer().unwrap();
    // SAFETY: writer alive; single thread.
    unsafe {
        producer.push(FunctionId(99), 0, 1, 2); // no such function (capacity 8)
        producer.push(FunctionId(1), 0, 10, 5); // ends before it starts
        producer.push(FunctionId(1), 0, 10, 15);
    }
    let mut got = Vec::new();
    let report = consumer.drain(|e| got.push(e.latency_ns()));
    assert_eq!((report.records, report.invalid), (1, 2));
    assert_eq!(got, vec![5]);
}

fn write_header_field(path: &std::path::Path, offset: usize, bytes: &[u8]) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, offset as u64).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any ring offset, record count and record size in the header: `open`
    /// refuses it or the consumer drains inside the mapping.
    #[test]
    fn any_ring_fields_are_refused_or_drained_safely(
        offset in prop_oneof![Just(0u64), any::<u64>(), (0u64..64).prop_map(|p| p * 4096)],
        records in prop_oneof![Just(0u32), any::<u32>(), (0u32..20).prop_map(|b| 1u32 << b)],
        record_bytes in prop_oneof![Just(24u32), any::<u32>()],
        head in any::<u64>(),
    ) {
        let dir = private_dir("ipc-ring-fuzz");
        let path = dir.path().join("p-1-1.seg");
        let writer = SegmentWriter::create_with_ring(&path, &info(), small(), 64).unwrap();
        let control = ring_offset(64);
        write_header_field(&path, control as usize, &head.to_ne_bytes());
        write_header_field(&path, offset_of!(Header, latency_ring_offset), &offset.to_ne_bytes());
        write_header_field(&path, offset_of!(Header, latency_ring_records), &records.to_ne_bytes());
        write_header_field(&path, offset_of!(Header, latency_record_bytes), &record_bytes.to_ne_bytes());
        if let Ok(view) = SegmentView::open(&path, current_uid())
            && let Ok(Some(mut consumer)) = view.latency_ring(current_uid())
        {
            for _ in 0..2 {
                let _ = consumer.drain(|e| assert!(e.end_ns >= e.start_ns));
            }
        }
        drop(writer);
    }
}

#[test]
fn a_ring_whose_file_shrank_is_not_read() {
    // Before: the drain read past the file's new end and died of SIGBUS.
    let dir = private_dir("ipc-ring");
    let path = dir.path().join("p-1-1.seg");
    let _writer = SegmentWriter::create_with_ring(&path, &info(), small(), 64).unwrap();
    let view = SegmentView::open(&path, current_uid()).unwrap();
    let mut consumer = view.latency_ring(current_uid()).unwrap().unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(ring_offset(64)).unwrap();
    let report = consumer.drain(|_| panic!("nothing may be read from a shrunk ring"));
    assert!(report.shrunk);
    assert_eq!(report.records, 0);
}

#[test]
fn a_ring_shrinking_and_regrowing_while_it_is_drained_never_kills_the_reader() {
    // Before (records loaded from a mapping, size checked first): a shrink
    // between the check and the loads raised SIGBUS in the launcher.
    use std::time::{Duration, Instant};
    let dir = private_dir("ipc-ring");
    let path = dir.path().join("p-1-1.seg");
    let writer = SegmentWriter::create_with_ring(&path, &info(), small(), 64).unwrap();
    let mut producer = writer.latency_producer().unwrap();
    for i in 0..40u64 {
        // SAFETY: writer alive; single thread.
        assert!(unsafe { producer.push(FunctionId(1), 0, i, i + 5) });
    }
    let view = SegmentView::open(&path, current_uid()).unwrap();
    let mut consumer = view.latency_ring(current_uid()).unwrap().unwrap();
    let content = std::fs::read(&path).unwrap();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let churn = {
        let stop = std::sync::Arc::clone(&stop);
        thread::spawn(move || {
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                file.set_len(ring_offset(64)).unwrap();
                file.write_all_at(&content, 0).unwrap();
                rounds += 1;
            }
            rounds
        })
    };
    let (mut drains, mut shrunk) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        let report = consumer.drain(|e| assert!(e.end_ns >= e.start_ns));
        drains += 1;
        shrunk += u64::from(report.shrunk);
        let _ = consumer.dropped();
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = churn.join().unwrap();
    drop(writer);
    assert!(
        rounds > 10,
        "the file was shrunk and regrown {rounds} times"
    );
    assert!(
        drains > 10,
        "{drains} drains, {shrunk} found the file shrunk"
    );
}
