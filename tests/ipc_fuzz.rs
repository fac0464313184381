//! Property tests: whatever bytes a segment file holds, `open` + `sample`
//! return `Ok` or `Err` and never panic or touch memory outside the mapping
//! (an out-of-bounds read of a mapping would crash this test process).

mod common;
use common::private_dir;

use std::fs::OpenOptions;
use std::io::Write;
use std::mem::offset_of;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::sync::atomic::Ordering::Relaxed;

use proptest::prelude::*;
use speedbump::ipc::layout::{MAGIC, SectionLayout};
use speedbump::ipc::procfs::current_uid;
use speedbump::ipc::{Capacities, FunctionKind, Header, ProcessInfo, SegmentView, SegmentWriter};

fn caps() -> Capacities {
    Capacities {
        functions: 4,
        patterns: 3,
        progress: 3,
        name_arena_bytes: 64,
    }
}

/// Bytes of a valid segment with a few entries of every kind.
fn valid_bytes() -> Vec<u8> {
    let dir = private_dir("ipc-fuzz");
    let path = dir.path().join("p-1-1.seg");
    let info = ProcessInfo {
        pid: 1,
        parent_pid: 0,
        uid: current_uid(),
        process_start_boottime_ns: 1,
        label: "fuzz".into(),
    };
    let mut w = SegmentWriter::create(&path, &info, caps()).unwrap();
    let p = w.add_pattern(0, "m:*", false);
    let f = w.add_function("m:f", FunctionKind::Python, p.0);
    w.add_function("m:g", FunctionKind::C, p.0);
    w.add_progress("tokens");
    w.function(f).calls.fetch_add(3, Relaxed);
    drop(w);
    std::fs::read(&path).unwrap()
}

/// Writes `bytes` to a fresh 0600 file and runs the reader over it twice.
fn read_back(bytes: &[u8]) {
    let dir = private_dir("ipc-fuzz");
    let path = dir.path().join("p-9-9.seg");
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    file.write_all(bytes).unwrap();
    drop(file);
    if let Ok(mut view) = SegmentView::open(&path, current_uid()) {
        let _ = view.header();
        let _ = view.sample();
        let _ = view.sample();
    }
}

/// Byte ranges worth mutating: the header and the used start of each table.
fn interesting_offset() -> impl Strategy<Value = usize> {
    let l = SectionLayout::for_capacities(&caps()).unwrap();
    let at = |o: u64| o as usize;
    prop_oneof![
        0..size_of::<Header>(),
        at(l.function_table_offset)..at(l.function_table_offset) + 4 * 40,
        at(l.pattern_table_offset)..at(l.pattern_table_offset) + 3 * 48,
        at(l.progress_table_offset)..at(l.progress_table_offset) + 3 * 16,
        at(l.name_arena_offset)..at(l.name_arena_offset) + 64,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
        read_back(&bytes);
    }

    #[test]
    fn random_bytes_behind_a_valid_magic_never_panic(
        mut bytes in proptest::collection::vec(any::<u8>(), 264..9000),
    ) {
        bytes[..8].copy_from_slice(&MAGIC);
        bytes[8..12].copy_from_slice(&1u32.to_ne_bytes());
        let len = bytes.len() as u64;
        let at = offset_of!(Header, segment_size);
        bytes[at..at + 8].copy_from_slice(&len.to_ne_bytes());
        read_back(&bytes);
    }

    #[test]
    fn flipped_bytes_in_a_valid_segment_never_panic(
        flips in proptest::collection::vec((interesting_offset(), 1u8..=255), 1..8),
    ) {
        let mut bytes = valid_bytes();
        for (offset, mask) in flips {
            bytes[offset] ^= mask;
        }
        read_back(&bytes);
    }

    #[test]
    fn random_header_words_never_panic(
        words in proptest::collection::vec((0usize..33, any::<u64>()), 1..6),
    ) {
        // Overwrite whole 8-byte words of the header (offsets, counts,
        // capacities) while keeping the magic, so validation runs deep.
        let mut bytes = valid_bytes();
        for (word, value) in words {
            let at = 8 + word * 8;
            bytes[at..at + 8].copy_from_slice(&value.to_ne_bytes());
        }
        read_back(&bytes);
    }
}

#[test]
fn a_segment_changing_under_an_open_view_is_rechecked_on_every_sample() {
    let bytes = valid_bytes();
    let dir = private_dir("ipc-fuzz");
    let path = dir.path().join("p-9-9.seg");
    std::fs::write(&path, &bytes).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut view = SegmentView::open(&path, current_uid()).unwrap();
    view.sample().unwrap();
    let file = OpenOptions::new().write(true).open(&path).unwrap();

    // Published counts are re-validated on every sample.
    for field in [
        offset_of!(Header, functions_published),
        offset_of!(Header, patterns_published),
        offset_of!(Header, progress_published),
        offset_of!(Header, name_arena_used),
    ] {
        let original = &bytes[field..field + 4];
        file.write_all_at(&u32::MAX.to_ne_bytes(), field as u64)
            .unwrap();
        assert!(view.sample().is_err(), "count at {field} not re-checked");
        file.write_all_at(original, field as u64).unwrap();
        view.sample().unwrap();
    }

    // Section offsets and capacities are copied at open: rewriting them
    // later cannot move the view's bounds.
    let field = offset_of!(Header, function_table_offset) as u64;
    file.write_all_at(&u64::MAX.to_ne_bytes(), field).unwrap();
    let field = offset_of!(Header, function_capacity) as u64;
    file.write_all_at(&u32::MAX.to_ne_bytes(), field).unwrap();
    let s = view.sample().unwrap();
    assert_eq!(s.functions[1].calls, 3);
    assert!(SegmentView::open(&path, current_uid()).is_err());
}
