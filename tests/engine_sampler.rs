//! Finding and sampling real segment files: corrupt and foreign files are
//! skipped with one warning each, vanished files and dead processes keep
//! their last counts.

mod common;
use common::private_dir;

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use speedbump::ipc::procfs::{current_pid, current_uid, process_start_ticks};
use speedbump::ipc::{Capacities, FunctionKind, ProcessInfo, SegmentWriter, segment_path};
use speedbump::live::aggregate::{Aggregator, ProcessKey, ProcessStatus, RateBasis};
use speedbump::live::sampler::SegmentSet;

fn small() -> Capacities {
    Capacities {
        functions: 8,
        patterns: 4,
        progress: 4,
        name_arena_bytes: 4096,
    }
}

/// Process `pid`, started at `ticks`.
fn info(pid: u32, ticks: u64) -> ProcessInfo {
    ProcessInfo {
        pid,
        parent_pid: 1,
        uid: current_uid(),
        process_start_boottime_ns: ticks * 10_000_000,
        label: format!("worker {pid}"),
    }
}

/// A segment of a process `pid` started at `ticks` with `f` called `calls` times.
fn writer(dir: &Path, pid: u32, ticks: u64, calls: u64) -> SegmentWriter {
    let info = info(pid, ticks);
    let mut w = SegmentWriter::create(&segment_path(dir, pid, ticks), &info, small()).unwrap();
    let pattern = w.add_pattern(1, "app:*", false);
    let id = w.add_function("app:f", FunctionKind::Python, pattern.0);
    w.function(id).calls.store(calls, Relaxed);
    w.pattern(pattern).calls.store(calls, Relaxed);
    w.set_settings_generation(1);
    w
}

fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, bytes))
        .unwrap();
}

fn tick(set: &mut SegmentSet, agg: &mut Aggregator, liveness: bool) {
    let now = Instant::now();
    set.scan(agg, now);
    agg.begin_tick();
    set.sample_all(agg, liveness);
    agg.end_tick(now);
}

fn calls_of(agg: &Aggregator, name: &str) -> u64 {
    let (functions, _) = agg.function_readings(RateBasis::Window, None);
    functions
        .iter()
        .find(|f| f.name == name)
        .map_or(0, |f| f.counts.calls)
}

#[test]
fn corrupt_segments_are_skipped_with_one_warning_each() {
    let dir = private_dir("sampler-corrupt");
    let me = current_pid();
    let ticks = process_start_ticks(me).unwrap();
    let _good = writer(dir.path(), me, ticks, 42);
    write_file(&dir.path().join("p-1-1.seg"), &[0xAB; 8192]);
    write_file(&dir.path().join("p-2-2.seg"), b"short");
    // Readable by others: refused, whatever it holds.
    let loose = dir.path().join("p-3-3.seg");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&loose)
        .unwrap();
    std::fs::write(&loose, [1u8; 8192]).unwrap();
    // Still being created (all zero): quiet for now.
    write_file(&dir.path().join("p-4-4.seg"), &[0; 8192]);

    let mut set = SegmentSet::new(dir.path(), current_uid());
    let mut agg = Aggregator::new(10);
    for _ in 0..5 {
        tick(&mut set, &mut agg, true);
    }
    let warnings = agg.take_new_warnings();
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("p-1-1.seg") && w.contains("magic")),
        "{warnings:#?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("p-2-2.seg")),
        "{warnings:#?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("p-3-3.seg")),
        "{warnings:#?}"
    );
    assert_eq!(calls_of(&agg, "app:f"), 42);
    assert_eq!(set.len(), 1);
    assert_eq!(agg.process_counts().live, 1);
}

#[test]
fn a_vanished_file_or_dead_process_keeps_its_last_counts() {
    let dir = private_dir("sampler-vanish");
    let me = current_pid();
    let ticks = process_start_ticks(me).unwrap();
    let alive = writer(dir.path(), me, ticks, 10);
    // A pid above the kernel's limit: never running.
    let dead_pid = 4_194_305 + 7;
    let dead = writer(dir.path(), dead_pid, 5, 7);
    let mut set = SegmentSet::new(dir.path(), current_uid());
    let mut agg = Aggregator::new(10);
    tick(&mut set, &mut agg, false);
    assert_eq!(calls_of(&agg, "app:f"), 17);

    // The live one counts on after its file is removed (the mapping stays).
    std::fs::remove_file(alive.path()).unwrap();
    alive
        .function(speedbump::ipc::FunctionId(1))
        .calls
        .store(25, Relaxed);
    dead.function(speedbump::ipc::FunctionId(1))
        .calls
        .store(9, Relaxed);
    tick(&mut set, &mut agg, true);
    assert_eq!(
        calls_of(&agg, "app:f"),
        25 + 9,
        "the dead one's last sample counts"
    );
    let reports = agg.process_reports();
    let status = |pid| reports.iter().find(|p| p.pid == pid).unwrap().status;
    assert_eq!(status(dead_pid), "gone");
    assert_eq!(status(me), "running");

    // No more samples of the dead one; the vanished file's process runs on.
    dead.function(speedbump::ipc::FunctionId(1))
        .calls
        .store(1000, Relaxed);
    alive
        .function(speedbump::ipc::FunctionId(1))
        .calls
        .store(30, Relaxed);
    tick(&mut set, &mut agg, true);
    assert_eq!(calls_of(&agg, "app:f"), 30 + 9);

    // A clean exit mark shows as exited.
    alive.mark_exited();
    tick(&mut set, &mut agg, false);
    let reports = agg.process_reports();
    assert_eq!(
        reports.iter().find(|p| p.pid == me).unwrap().status,
        "exited"
    );
    let key = ProcessKey {
        pid: me,
        start: ticks * 10_000_000,
    };
    assert_eq!(agg.status(&key), Some(ProcessStatus::Exited));
    assert!(agg.take_new_warnings().is_empty());
}

#[test]
fn new_segments_are_found_when_the_directory_changes() {
    let dir = private_dir("sampler-scan");
    let me = current_pid();
    let ticks = process_start_ticks(me).unwrap();
    let mut set = SegmentSet::new(dir.path(), current_uid());
    let mut agg = Aggregator::new(10);
    let now = Instant::now();
    set.scan_if_changed(&mut agg, now, Duration::from_secs(3600));
    assert!(set.is_empty());
    let _w = writer(dir.path(), me, ticks, 3);
    set.scan_if_changed(&mut agg, now, Duration::from_secs(3600));
    assert_eq!(set.len(), 1, "a new file changes the directory's mtime");
}

/// Moves `old`'s process to a successor segment the way the hook does when
/// its function table is full: same ids, counters from zero.
fn successor(dir: &Path, old: &SegmentWriter, pid: u32, ticks: u64) -> SegmentWriter {
    use speedbump::ipc::image_segment_path;
    let path = image_segment_path(dir, pid, ticks, 0xfeed);
    let caps = old.successor_capacities().unwrap();
    assert_eq!(caps.functions, 4 * old.function_capacity());
    old.create_successor(&path, &info(pid, ticks), caps)
        .unwrap()
}

#[test]
fn a_process_that_moves_to_a_successor_segment_keeps_its_totals_and_counts_once() {
    let dir = private_dir("sampler-successor");
    let me = current_pid();
    let ticks = process_start_ticks(me).unwrap();
    let old = writer(dir.path(), me, ticks, 10);
    let f = speedbump::ipc::FunctionId(1);
    let mut set = SegmentSet::new(dir.path(), current_uid());
    let mut agg = Aggregator::new(8);
    tick(&mut set, &mut agg, true);
    old.function(f).calls.store(15, Relaxed);
    tick(&mut set, &mut agg, true);
    assert_eq!(calls_of(&agg, "app:f"), 15);

    // The successor exists, but the process still counts in the old one:
    // the successor waits, and nothing is counted twice.
    let mut new = successor(dir.path(), &old, me, ticks);
    assert_eq!(new.table_epoch(), 1);
    assert_eq!(new.add_function("app:f", FunctionKind::Python, 1), f);
    let g = new.add_function("app:g", FunctionKind::Python, 1);
    new.function(f).calls.store(7, Relaxed);
    new.function(g).calls.store(3, Relaxed);
    let now = Instant::now();
    set.scan(&mut agg, now);
    agg.begin_tick();
    assert!(set.sample_all(&mut agg, true), "the successor waits");
    agg.end_tick(now);
    assert_eq!(calls_of(&agg, "app:f"), 15);
    assert_eq!(calls_of(&agg, "app:g"), 0);

    // The old segment's last calls, then the move.
    old.function(f).calls.store(16, Relaxed);
    old.mark_moved();
    tick(&mut set, &mut agg, true);
    assert_eq!(
        calls_of(&agg, "app:f"),
        16,
        "the old segment's final counts"
    );
    tick(&mut set, &mut agg, true);
    assert_eq!(calls_of(&agg, "app:f"), 16 + 7);
    assert_eq!(calls_of(&agg, "app:g"), 3);
    new.function(f).calls.store(9, Relaxed);
    tick(&mut set, &mut agg, true);
    assert_eq!(calls_of(&agg, "app:f"), 16 + 9);
    assert_eq!(agg.totals().calls, 16 + 9 + 3);
    let counts = agg.process_counts();
    assert_eq!((counts.live, counts.total), (1, 1), "{counts:?}");
    let reports = agg.process_reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].counts.calls, 16 + 9 + 3);
    let (functions, _) = agg.function_readings(RateBasis::Window, None);
    let f_row = functions.iter().find(|r| &*r.name == "app:f").unwrap();
    assert_eq!(f_row.processes, 1);
    assert!(
        functions.iter().all(|r| r.counts.calls <= 16 + 9),
        "no row counts the move twice"
    );
}

#[test]
fn the_final_pass_reads_a_successor_that_waited() {
    let dir = private_dir("sampler-successor-final");
    let me = current_pid();
    let ticks = process_start_ticks(me).unwrap();
    let old = writer(dir.path(), me, ticks, 10);
    let mut set = SegmentSet::new(dir.path(), current_uid());
    let mut agg = Aggregator::new(8);
    tick(&mut set, &mut agg, true);
    let mut new = successor(dir.path(), &old, me, ticks);
    let g = new.add_function("app:g", FunctionKind::Python, 1);
    new.function(g).calls.store(5, Relaxed);
    old.mark_moved();
    set.final_pass(&mut agg, Instant::now());
    assert_eq!(calls_of(&agg, "app:f"), 10);
    assert_eq!(calls_of(&agg, "app:g"), 5);
}
