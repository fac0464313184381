//! `run` (the live aggregator), `inspect` and the hook's exit summary (both
//! print `totals::collect_session`'s warnings) say the same thing for the
//! same segment flags: one table, `ipc::flags::WARNINGS`.

mod common;
use common::private_dir;

use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use speedbump::ipc::procfs::current_uid;
use speedbump::ipc::{Capacities, FunctionKind, ProcessInfo, SegmentView, SegmentWriter, flags};
use speedbump::live::aggregate::{Aggregator, ProcessKey, ProcessMeta};
use speedbump::totals::collect_session;

fn info(pid: u32, label: &str) -> ProcessInfo {
    ProcessInfo {
        pid,
        parent_pid: 1,
        uid: current_uid(),
        process_start_boottime_ns: 123_456_789,
        label: label.to_owned(),
    }
}

/// Process 4242: full function, pattern and progress tables.
fn write_full_tables(dir: &Path) -> SegmentWriter {
    let caps = Capacities {
        functions: 4,
        patterns: 3,
        progress: 3,
        name_arena_bytes: 256,
    };
    let mut w =
        SegmentWriter::create(&dir.join("p-4242-1.seg"), &info(4242, "python a.py"), caps).unwrap();
    for i in 0..5 {
        let id = w.add_function(&format!("m:f{i}"), FunctionKind::Python, 0);
        w.function(id).calls.fetch_add(10, Relaxed);
    }
    for i in 0..3 {
        w.add_pattern(1, &format!("p{i}"), false);
    }
    for i in 0..3 {
        w.add_progress(&format!("u{i}"));
    }
    w
}

/// Process 4343 (a label longer than messages show): a full name arena.
fn write_full_name_arena(dir: &Path) -> SegmentWriter {
    let caps = Capacities {
        functions: 4,
        patterns: 3,
        progress: 3,
        // "<other>" takes 7 of the 16 bytes.
        name_arena_bytes: 16,
    };
    let label = format!("python {}", "x".repeat(100));
    let mut w =
        SegmentWriter::create(&dir.join("p-4343-1.seg"), &info(4343, &label), caps).unwrap();
    let id = w.add_function("pkg.mod:too_long", FunctionKind::Python, 0);
    w.function(id).calls.fetch_add(3, Relaxed);
    w
}

#[test]
fn run_inspect_and_the_exit_summary_warn_alike_for_the_same_flags() {
    let dir = private_dir("segment-warnings");
    let _a = write_full_tables(dir.path());
    let _b = write_full_name_arena(dir.path());

    // `inspect` and the hook's exit summary.
    let mut summary = collect_session(dir.path(), current_uid()).warnings;

    // `run`: the live aggregator, fed the same segments.
    let mut agg = Aggregator::new(10);
    agg.begin_tick();
    for name in ["p-4242-1.seg", "p-4343-1.seg"] {
        let mut view = SegmentView::open(&dir.path().join(name), current_uid()).unwrap();
        let header = view.header();
        let mut sample = view.sample().unwrap();
        let meta = ProcessMeta {
            pid: header.pid,
            parent_pid: header.parent_pid,
            label: header.label.clone(),
        };
        let key = ProcessKey {
            pid: header.pid,
            start: 1,
        };
        agg.observe(key, &meta, &mut sample, true);
    }
    agg.end_tick(Instant::now());
    let mut run = agg.take_new_warnings();

    summary.sort();
    run.sort();
    assert_eq!(run, summary);
    // Every message of the table is there, once, for the process that raised it.
    assert_eq!(run.len(), flags::WARNINGS.len(), "{run:?}");
    for (flag, what) in flags::WARNINGS {
        let pid = if flag == flags::NAME_ARENA_FULL {
            4343
        } else {
            4242
        };
        assert_eq!(
            run.iter()
                .filter(|w| w.starts_with(&format!("process {pid} (")) && w.ends_with(what))
                .count(),
            1,
            "{what}: {run:?}"
        );
    }
    let long = run.iter().find(|w| w.starts_with("process 4343")).unwrap();
    assert!(
        long.contains(&format!("(python {}…)", "x".repeat(53))),
        "{long}"
    );
}
