//! Writer → reader round trips of telemetry segments: exact counts, overflow
//! buckets, a full name arena, fork replay (`create_like`).

mod common;
use common::private_dir;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use speedbump::ipc::layout::{MAX_NAME_BYTES, NAME_LOST, OTHER_NAME};
use speedbump::ipc::procfs::current_uid;
use speedbump::ipc::{
    Capacities, FunctionId, FunctionKind, FunctionSample, IpcError, PatternId, PatternSample,
    ProcessInfo, ProgressId, ProgressSample, SegmentView, SegmentWriter, flags,
};

fn info(label: &str) -> ProcessInfo {
    ProcessInfo {
        pid: 4242,
        parent_pid: 4241,
        uid: current_uid(),
        process_start_boottime_ns: 123_456_789,
        label: label.to_owned(),
    }
}

fn small() -> Capacities {
    Capacities {
        functions: 4,
        patterns: 3,
        progress: 3,
        name_arena_bytes: 256,
    }
}

fn open(path: &Path) -> SegmentView {
    SegmentView::open(path, current_uid()).unwrap()
}

fn function(
    id: u32,
    name: &str,
    kind: FunctionKind,
    pattern_slot: u32,
    counts: [u64; 4],
) -> FunctionSample {
    FunctionSample {
        id: FunctionId(id),
        name: Arc::from(name),
        kind,
        pattern_slot,
        calls: counts[0],
        delayed_calls: counts[1],
        injected_ns: counts[2],
        own_ns: counts[3],
    }
}

#[test]
fn round_trip_gives_exact_counts_for_every_table() {
    let dir = private_dir("ipc-roundtrip");
    let path = dir.path().join("p-1-1.seg");
    let mut w = SegmentWriter::create(&path, &info("bench.py --fast"), small()).unwrap();

    let any = w.add_pattern(0, "m:*", false);
    let not_h = w.add_pattern(0, "m:h", true);
    let f = w.add_function("m:f", FunctionKind::Python, any.0);
    let g = w.add_function("math:sqrt", FunctionKind::C, any.0);
    let tokens = w.add_progress("tokens");
    assert_eq!((any, not_h), (PatternId(1), PatternId(2)));
    assert_eq!((f, g), (FunctionId(1), FunctionId(2)));
    assert_eq!(tokens, ProgressId(1));
    assert!(
        f == 1 && any == 1 && tokens == 1 && g != 1,
        "ids compare with slot numbers"
    );
    assert_eq!(w.add_progress(""), ProgressId::DEFAULT);

    let fs = w.function(f);
    fs.calls.fetch_add(5, Relaxed);
    fs.delayed_calls.fetch_add(2, Relaxed);
    fs.injected_ns.fetch_add(20_000, Relaxed);
    fs.own_ns.fetch_add(70_000, Relaxed);
    w.function(g).calls.fetch_add(7, Relaxed);
    let ps = w.pattern(any);
    ps.calls.fetch_add(12, Relaxed);
    ps.delayed_calls.fetch_add(2, Relaxed);
    ps.injected_ns.fetch_add(20_000, Relaxed);
    ps.own_ns.fetch_add(90_000, Relaxed);
    ps.matched_functions.fetch_add(2, Relaxed);
    w.progress(tokens).units.fetch_add(300, Relaxed);
    w.progress(ProgressId::DEFAULT).units.fetch_add(3, Relaxed);
    w.set_settings_generation(9);
    w.touch(1_700_000_000_000_000_000);

    let mut view = open(&path);
    let s = view.sample().unwrap();
    assert_eq!(
        s.functions,
        vec![
            function(0, OTHER_NAME, FunctionKind::Other, 0, [0, 0, 0, 0]),
            function(1, "m:f", FunctionKind::Python, 1, [5, 2, 20_000, 70_000]),
            function(2, "math:sqrt", FunctionKind::C, 1, [7, 0, 0, 0]),
        ]
    );
    let pattern = |id, text: &str, exclude, counts: [u64; 5]| PatternSample {
        id: PatternId(id),
        name: Arc::from(text),
        generation: 0,
        exclude,
        calls: counts[0],
        delayed_calls: counts[1],
        injected_ns: counts[2],
        matched_functions: counts[3],
        own_ns: counts[4],
    };
    assert_eq!(
        s.patterns,
        vec![
            pattern(0, OTHER_NAME, false, [0; 5]),
            pattern(1, "m:*", false, [12, 2, 20_000, 2, 90_000]),
            pattern(2, "m:h", true, [0; 5]),
        ]
    );
    let progress = |id, name: &str, units| ProgressSample {
        id: ProgressId(id),
        name: Arc::from(name),
        units,
    };
    assert_eq!(
        s.progress,
        vec![progress(0, "", 3), progress(1, "tokens", 300)]
    );
    assert_eq!(s.progress[0].display_name(), "progress");
    assert_eq!(s.progress[1].display_name(), "tokens");
    assert_eq!(s.generation, 9);
    assert_eq!(s.flags, 0);
    assert_eq!(s.last_update_unix_ns, 1_700_000_000_000_000_000);
    assert!(s.taken_unix_ns > 0);

    let h = view.header();
    assert_eq!((h.pid, h.parent_pid, h.uid), (4242, 4241, current_uid()));
    assert_eq!(h.process_start_boottime_ns, 123_456_789);
    assert_eq!(h.label, "bench.py --fast");
    assert_eq!(h.layout_version, 2);
    assert_eq!(h.capacities, small());
    assert_eq!(h.settings_generation, 9);
    assert!(h.created_unix_ns > 0);
    assert!(!h.exited());

    w.mark_exited();
    assert_eq!(view.header().flags, flags::PROCESS_EXITED);
    assert!(view.header().exited());
    assert_eq!(view.sample().unwrap().flags, flags::PROCESS_EXITED);
}

#[test]
fn counts_stay_readable_after_the_writer_is_gone_and_the_file_stays() {
    let dir = private_dir("ipc-roundtrip");
    let path = dir.path().join("p-1-1.seg");
    {
        let mut w = SegmentWriter::create(&path, &info("x"), small()).unwrap();
        let f = w.add_function("m:f", FunctionKind::Python, 0);
        w.function(f).calls.fetch_add(41, Relaxed);
        w.mark_exited();
    }
    assert!(path.exists(), "the writer must never delete its segment");
    let s = open(&path).sample().unwrap();
    assert_eq!(s.functions[1].calls, 41);
    assert_eq!(s.flags & flags::PROCESS_EXITED, flags::PROCESS_EXITED);
}

#[test]
fn full_tables_overflow_into_slot_zero_without_losing_counts() {
    let dir = private_dir("ipc-roundtrip");
    let path = dir.path().join("p-1-1.seg");
    let mut w = SegmentWriter::create(&path, &info("x"), small()).unwrap();
    let ids: Vec<_> = (0..5)
        .map(|i| w.add_function(&format!("m:f{i}"), FunctionKind::Python, 0))
        .collect();
    // Capacity 4: slot 0 plus three functions; the rest share `<other>`.
    assert_eq!(ids, [1, 2, 3, 0, 0].map(FunctionId));
    for id in &ids {
        w.function(*id).calls.fetch_add(10, Relaxed);
    }
    let patterns: Vec<_> = (0..3)
        .map(|i| w.add_pattern(1, &format!("p{i}"), false))
        .collect();
    assert_eq!(patterns, [1, 2, 0].map(PatternId));
    w.pattern(patterns[2]).calls.fetch_add(4, Relaxed);
    let progress: Vec<_> = (0..3).map(|i| w.add_progress(&format!("u{i}"))).collect();
    assert_eq!(progress, [1, 2, 0].map(ProgressId));

    let s = open(&path).sample().unwrap();
    assert_eq!(s.functions.len(), 4);
    assert_eq!(
        s.functions[0].calls, 20,
        "two overflowed functions × 10 calls"
    );
    assert_eq!(s.functions.iter().map(|f| f.calls).sum::<u64>(), 50);
    assert_eq!(s.patterns[0].calls, 4);
    let full = flags::FUNCTION_TABLE_FULL | flags::PATTERN_TABLE_FULL | flags::PROGRESS_TABLE_FULL;
    assert_eq!(s.flags, full);
    assert_eq!(w.flags(), full);
}

#[test]
fn unpublished_or_out_of_range_ids_count_in_slot_zero() {
    let dir = private_dir("ipc-roundtrip");
    let path = dir.path().join("p-1-1.seg");
    let mut w = SegmentWriter::create(&path, &info("x"), small()).unwrap();
    w.add_function("m:f", FunctionKind::Python, 0);
    w.function(FunctionId(2)).calls.fetch_add(1, Relaxed); // capacity 4, not published
    w.function(FunctionId(u32::MAX)).calls.fetch_add(1, Relaxed);
    w.pattern(PatternId(77)).calls.fetch_add(1, Relaxed);
    w.progress(ProgressId(77)).units.fetch_add(1, Relaxed);
    let s = open(&path).sample().unwrap();
    assert_eq!(s.functions[0].calls, 2);
    assert_eq!(s.functions[1].calls, 0);
    assert_eq!(s.patterns[0].calls, 1);
    assert_eq!(s.progress[0].units, 1);
}

#[test]
fn a_full_name_arena_loses_names_but_keeps_entries_and_counts() {
    let dir = private_dir("ipc-roundtrip");
    let path = dir.path().join("p-1-1.seg");
    // "<other>" takes 7 of the 16 bytes.
    let caps = Capacities {
        name_arena_bytes: 16,
        ..small()
    };
    let mut w = SegmentWriter::create(&path, &info("x"), caps).unwrap();
    let long = w.add_function("pkg.mod:too_long", FunctionKind::Python, 0);
    let short = w.add_function("m:x", FunctionKind::Python, 0);
    w.function(long).calls.fetch_add(3, Relaxed);
    w.function(short).calls.fetch_add(4, Relaxed);
    let s = open(&path).sample().unwrap();
    assert_eq!(&*s.functions[1].name, NAME_LOST);
    assert_eq!(s.functions[1].calls, 3);
    assert_eq!(
        &*s.functions[2].name, "m:x",
        "later names that fit are kept"
    );
    assert_eq!(s.functions[2].calls, 4);
    assert_eq!(s.flags, flags::NAME_ARENA_FULL);
}

#[test]
fn long_names_and_labels_are_cut_on_char_boundaries() {
    let dir = private_dir("ipc-roundtrip");
    let path = dir.path().join("p-1-1.seg");
    let label = format!("{}é", "a".repeat(127));
    let mut w = SegmentWriter::create(&path, &info(&label), Capacities::default()).unwrap();
    let name = format!("m:x{}", "é".repeat(600));
    w.add_function(&name, FunctionKind::Python, 0);
    let mut view = open(&path);
    let s = view.sample().unwrap();
    let stored = &s.functions[1].name;
    assert_eq!(stored.len(), MAX_NAME_BYTES - 1, "3 + 2×510 bytes");
    assert!(name.starts_with(&**stored));
    assert_eq!(view.header().label, "a".repeat(127));
}

#[test]
fn names_are_deduplicated_per_kind() {
    let dir = private_dir("ipc-roundtrip");
    let path = dir.path().join("p-1-1.seg");
    let mut w = SegmentWriter::create(&path, &info("x"), small()).unwrap();
    let a = w.add_function("m:f", FunctionKind::Python, 1);
    let b = w.add_function("m:f", FunctionKind::Python, 2);
    let c = w.add_function("m:f", FunctionKind::C, 1);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(
        w.function(a).pattern_slot.load(Relaxed),
        2,
        "latest pattern slot wins"
    );
    assert_eq!(
        w.add_pattern(3, "m:*", false),
        w.add_pattern(3, "m:*", false)
    );
    assert_ne!(
        w.add_pattern(3, "m:*", false),
        w.add_pattern(4, "m:*", false)
    );
    assert_eq!(w.add_progress("tok"), w.add_progress("tok"));
    assert_eq!(w.functions_published(), 3);
}

#[test]
fn create_like_keeps_ids_kinds_and_pattern_slots_and_zeroes_counters() {
    let dir = private_dir("ipc-roundtrip");
    let parent_path = dir.path().join("p-1-1.seg");
    let child_path = dir.path().join("p-2-2.seg");
    let mut parent = SegmentWriter::create(&parent_path, &info("parent"), small()).unwrap();
    let p = parent.add_pattern(5, "m:*", false);
    let f = parent.add_function("m:f", FunctionKind::Python, p.0);
    let g = parent.add_function("m:g", FunctionKind::C, p.0);
    let t = parent.add_progress("tokens");
    parent.function(f).calls.fetch_add(9, Relaxed);
    parent.pattern(p).calls.fetch_add(9, Relaxed);
    parent.progress(t).units.fetch_add(9, Relaxed);
    parent.function(g).pattern_slot.store(0, Relaxed); // re-targeted
    parent.set_settings_generation(5);

    let child_info = ProcessInfo {
        pid: 5000,
        ..info("child")
    };
    let mut child = parent.create_like(&child_path, &child_info).unwrap();
    let mut parent_view = open(&parent_path);
    let mut child_view = open(&child_path);
    let ps = parent_view.sample().unwrap();
    let cs = child_view.sample().unwrap();

    let shape = |s: &speedbump::ipc::Sample| {
        (
            s.functions
                .iter()
                .map(|f| (f.id, f.name.clone(), f.kind, f.pattern_slot))
                .collect::<Vec<_>>(),
            s.patterns
                .iter()
                .map(|p| (p.id, p.name.clone(), p.generation, p.exclude))
                .collect::<Vec<_>>(),
            s.progress
                .iter()
                .map(|p| (p.id, p.name.clone()))
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(shape(&ps), shape(&cs));
    assert_eq!(cs.functions[2].pattern_slot, 0);
    assert!(cs.functions.iter().all(|f| f.calls == 0));
    assert!(cs.patterns.iter().all(|p| p.calls == 0));
    assert!(cs.progress.iter().all(|p| p.units == 0));
    assert_eq!(cs.generation, 5);
    assert_eq!(child_view.header().pid, 5000);
    assert_eq!(ps.functions[1].calls, 9);

    // The child's counters are its own, and new ids continue after the replay.
    child.function(f).calls.fetch_add(1, Relaxed);
    assert_eq!(
        child.add_function("m:new", FunctionKind::Python, 0),
        FunctionId(3)
    );
    assert_eq!(parent_view.sample().unwrap().functions[1].calls, 9);
    assert_eq!(child_view.sample().unwrap().functions[1].calls, 1);

    drop(child);
    drop(parent);
    assert!(parent_path.exists() && child_path.exists());
}

#[test]
fn create_refuses_an_existing_file_and_bad_capacities() {
    let dir = private_dir("ipc-roundtrip");
    let path = dir.path().join("p-1-1.seg");
    std::fs::write(&path, b"someone else's").unwrap();
    let err = SegmentWriter::create(&path, &info("x"), small()).unwrap_err();
    assert!(
        matches!(&err, IpcError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");

    let caps = Capacities {
        progress: 0,
        ..small()
    };
    let err = SegmentWriter::create(&dir.path().join("p-2-2.seg"), &info("x"), caps).unwrap_err();
    assert!(
        matches!(
            err,
            IpcError::InvalidCapacities {
                what: "progress_capacity",
                ..
            }
        ),
        "{err}"
    );
    assert!(!dir.path().join("p-2-2.seg").exists());
}

#[test]
fn names_are_decoded_once_and_new_entries_appear_in_later_samples() {
    let dir = private_dir("ipc-roundtrip");
    let path = dir.path().join("p-1-1.seg");
    let mut w = SegmentWriter::create(&path, &info("x"), small()).unwrap();
    w.add_function("m:f", FunctionKind::Python, 0);
    let mut view = open(&path);
    let mut sample = view.sample().unwrap();
    let first_name = Arc::clone(&sample.functions[1].name);
    assert_eq!(sample.functions.len(), 2);

    w.add_function("m:g", FunctionKind::Python, 0);
    w.add_progress("rows");
    view.sample_into(&mut sample).unwrap();
    assert_eq!(sample.functions.len(), 3);
    assert_eq!(&*sample.functions[2].name, "m:g");
    assert_eq!(&*sample.progress[1].name, "rows");
    assert!(
        Arc::ptr_eq(&first_name, &sample.functions[1].name),
        "cached, not re-decoded"
    );
}

#[test]
fn writer_exposes_raw_tables_for_the_hook() {
    let dir = private_dir("ipc-roundtrip");
    let path = dir.path().join("p-1-1.seg");
    let mut w = SegmentWriter::create(&path, &info("x"), small()).unwrap();
    let f = w.add_function("m:f", FunctionKind::Python, 0);
    assert_eq!(w.function_capacity(), 4);
    assert_eq!(w.pattern_capacity(), 3);
    assert_eq!(w.progress_capacity(), 3);
    assert_eq!(w.path(), path.as_path());
    assert!(f.0 < w.function_capacity());
    // SAFETY: `f` came from add_function, so it is a published slot below the capacity.
    let slot = unsafe { &*w.function_slots_ptr().add(f.0 as usize) };
    slot.calls.fetch_add(6, Relaxed);
    assert!(std::ptr::eq(slot, w.function(f)));
    assert_eq!(open(&path).sample().unwrap().functions[1].calls, 6);
}

#[test]
fn process_info_describes_this_process() {
    let me = ProcessInfo::current("label").unwrap();
    assert_eq!(me.pid, std::process::id());
    assert_eq!(me.uid, current_uid());
    assert!(me.process_start_boottime_ns > 0);
    assert!(me.process_start_boottime_ns <= speedbump::ipc::clock::now_boottime_ns());
    assert_eq!(me.label, "label");
}

#[test]
fn writer_and_view_can_live_in_statics_and_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SegmentWriter>();
    send_sync::<SegmentView>();
    send_sync::<IpcError>();
}
