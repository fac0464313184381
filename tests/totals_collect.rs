//! Summing a session's segments: what the exit summary and the report show.

use std::sync::atomic::Ordering::Relaxed;

use speedbump::ipc::{Capacities, FunctionKind, ProcessInfo, SegmentWriter, segment_path};
use speedbump::totals::collect_session;

fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

fn private_dir(name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::env::temp_dir().join(format!("sb-totals-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
    dir
}

fn writer(dir: &std::path::Path, pid: u32, caps: Capacities) -> SegmentWriter {
    let info = ProcessInfo {
        pid,
        parent_pid: 1,
        uid: uid(),
        process_start_boottime_ns: 0,
        label: format!("worker {pid}"),
    };
    SegmentWriter::create(&segment_path(dir, pid, 7), &info, caps).unwrap()
}

fn add_calls(w: &SegmentWriter, id: u32, calls: u64, delayed: u64, injected: u64) {
    let slot = w.function(speedbump::ipc::FunctionId(id));
    slot.calls.fetch_add(calls, Relaxed);
    slot.delayed_calls.fetch_add(delayed, Relaxed);
    slot.injected_ns.fetch_add(injected, Relaxed);
}

#[test]
fn sums_functions_patterns_and_progress_over_processes() {
    let dir = private_dir("sums");
    let mut a = writer(&dir, 101, Capacities::default());
    let mut b = writer(&dir, 102, Capacities::default());
    for w in [&mut a, &mut b] {
        let p1 = w.add_pattern(0, "pkg.*:*", false).0;
        w.add_pattern(0, "__main__:*", false);
        w.add_pattern(0, "*:<module>", true);
        let f = w.add_function("pkg.mod:f", FunctionKind::Python, p1).0;
        add_calls(w, f, 10, 5, 5_000);
        w.pattern(speedbump::ipc::PatternId(p1))
            .calls
            .fetch_add(10, Relaxed);
        w.progress(speedbump::ipc::ProgressId(0))
            .units
            .fetch_add(3, Relaxed);
    }
    let g = b.add_function("pkg.mod:g", FunctionKind::Python, 1).0;
    add_calls(&b, g, 1, 0, 0);
    a.mark_exited();

    let totals = collect_session(&dir, uid());
    assert!(totals.warnings.is_empty(), "{:?}", totals.warnings);
    assert_eq!(totals.processes.len(), 2);
    assert!(totals.processes[0].exited && !totals.processes[1].exited);
    assert_eq!(totals.functions_matched(), 2);
    let f = &totals.functions[0];
    assert_eq!(
        (f.name.as_str(), f.processes, f.counts.calls),
        ("pkg.mod:f", 2, 20)
    );
    assert_eq!(f.counts.injected_ns, 10_000);
    assert_eq!(f.pattern, "pkg.*:*");
    // Patterns keep file order, excludes included.
    let patterns: Vec<(&str, bool)> = totals
        .patterns
        .iter()
        .map(|p| (p.pattern.as_str(), p.exclude))
        .collect();
    assert_eq!(
        patterns,
        [
            ("pkg.*:*", false),
            ("__main__:*", false),
            ("*:<module>", true)
        ]
    );
    assert_eq!(totals.patterns[0].counts.calls, 20);
    assert_eq!(totals.progress, [(String::new(), 6)]);
    assert_eq!(totals.counts().calls, 21);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_full_function_table_keeps_counts_under_other_and_warns() {
    let dir = private_dir("full");
    let caps = Capacities {
        functions: 2,
        ..Capacities::default()
    };
    let mut w = writer(&dir, 201, caps);
    let first = w.add_function("m:first", FunctionKind::Python, 0).0;
    let overflow = w.add_function("m:second", FunctionKind::Python, 0).0;
    assert_eq!(overflow, 0, "no room: the <other> bucket");
    add_calls(&w, first, 1, 0, 0);
    add_calls(&w, overflow, 4, 0, 0);
    let totals = collect_session(&dir, uid());
    assert_eq!(totals.counts().calls, 5, "no count lost");
    assert_eq!(
        totals
            .functions
            .iter()
            .find(|f| f.name == "<other>")
            .unwrap()
            .counts
            .calls,
        4
    );
    assert!(
        totals
            .warnings
            .iter()
            .any(|w| w.starts_with("process 201 (") && w.contains("its function table is full")),
        "{:?}",
        totals.warnings
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_corrupt_segment_is_skipped_with_a_warning() {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = private_dir("corrupt");
    let w = writer(&dir, 301, Capacities::default());
    add_calls(&w, 0, 2, 0, 0);
    let bad = segment_path(&dir, 302, 7);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&bad)
        .unwrap();
    std::fs::write(&bad, vec![0xAB; 8192]).unwrap();
    let totals = collect_session(&dir, uid());
    assert_eq!(totals.processes.len(), 1);
    assert_eq!(totals.warnings.len(), 1);
    assert!(totals.warnings[0].starts_with(&format!("skipped {}", bad.display())));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_session_nobody_created_is_empty() {
    let totals = collect_session(std::path::Path::new("/nonexistent/s-1-2-3"), uid());
    assert!(totals.processes.is_empty() && totals.warnings.is_empty());
}

#[test]
fn a_process_whose_table_grew_is_summed_over_its_segments_and_counted_once() {
    use speedbump::ipc::{SegmentView, image_segment_path};
    let dir = private_dir("grew");
    let caps = Capacities {
        functions: 2,
        ..Capacities::default()
    };
    let mut old = writer(&dir, 301, caps);
    let pattern = old.add_pattern(0, "m:*", false).0;
    let first = old.add_function("m:first", FunctionKind::Python, pattern).0;
    add_calls(&old, first, 5, 1, 100);
    assert!(old.function_table_is_full());
    let grown = old.successor_capacities().unwrap();
    assert_eq!(grown.functions, 8);
    let info = ProcessInfo {
        pid: 301,
        parent_pid: 1,
        uid: uid(),
        process_start_boottime_ns: 0,
        label: "worker 301".into(),
    };
    let mut new = old
        .create_successor(&image_segment_path(&dir, 301, 7, 1), &info, grown)
        .unwrap();
    // Same ids for what the old segment named; room for more.
    assert_eq!(
        new.add_function("m:first", FunctionKind::Python, pattern).0,
        first
    );
    let second = new
        .add_function("m:second", FunctionKind::Python, pattern)
        .0;
    assert_eq!(second, 2);
    add_calls(&new, first, 2, 0, 0);
    add_calls(&new, second, 3, 0, 0);
    old.mark_moved();

    // A reader sees the epochs and the move.
    let old_view = SegmentView::open(old.path(), uid()).unwrap();
    let new_view = SegmentView::open(new.path(), uid()).unwrap();
    assert!(old_view.header().moved());
    assert_eq!(old_view.header().table_epoch, 0);
    assert!(!new_view.header().moved());
    assert_eq!(new_view.header().table_epoch, 1);

    let totals = collect_session(&dir, uid());
    assert_eq!(totals.processes.len(), 1, "{:?}", totals.processes);
    assert_eq!(totals.processes[0].counts.calls, 10);
    assert_eq!(totals.processes[0].functions_matched, 2);
    let calls = |name: &str| {
        let f = totals.functions.iter().find(|f| f.name == name).unwrap();
        (f.counts.calls, f.processes)
    };
    assert_eq!(calls("m:first"), (7, 1));
    assert_eq!(calls("m:second"), (3, 1));
    assert!(
        totals
            .functions
            .iter()
            .all(|f| f.name != "<other>" || f.counts.calls == 0),
        "nothing fell into <other>"
    );
    assert!(totals.warnings.is_empty(), "{:?}", totals.warnings);
    std::fs::remove_dir_all(&dir).unwrap();
}
