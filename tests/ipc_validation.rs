//! The reader refuses damaged, foreign and unsafe segments, each with its
//! own error variant, and names the file in the message.

mod common;
use common::private_dir;
use tempfile::TempDir;

use std::fs::OpenOptions;
use std::mem::offset_of;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

use speedbump::ipc::procfs::current_uid;
use speedbump::ipc::{
    Capacities, FunctionKind, FunctionSlot, Header, IpcError, ProcessInfo, SegmentView,
    SegmentWriter,
};

/// A valid, closed segment with two named functions, in its own directory.
fn valid_segment() -> (TempDir, PathBuf) {
    let dir = private_dir("ipc-validation");
    let path = dir.path().join("p-1-1.seg");
    let info = ProcessInfo {
        pid: 1,
        parent_pid: 0,
        uid: current_uid(),
        process_start_boottime_ns: 1,
        label: "t".into(),
    };
    let caps = Capacities {
        functions: 4,
        patterns: 3,
        progress: 3,
        name_arena_bytes: 64,
    };
    let mut w = SegmentWriter::create(&path, &info, caps).unwrap();
    w.add_function("m:f", FunctionKind::Python, 0);
    w.add_function("m:g", FunctionKind::C, 0);
    w.add_pattern(0, "m:*", false);
    w.add_progress("tokens");
    (dir, path)
}

fn poke(path: &Path, offset: usize, bytes: &[u8]) {
    let file = OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, offset as u64).unwrap();
}

fn open_err(path: &Path) -> IpcError {
    let err = SegmentView::open(path, current_uid()).unwrap_err();
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "message must name the file: {err}"
    );
    err
}

fn sample_err(path: &Path) -> IpcError {
    let mut view = SegmentView::open(path, current_uid()).unwrap();
    view.sample().unwrap_err()
}

const FUNCTION_TABLE: usize = 4096;

#[test]
fn the_valid_segment_is_accepted() {
    let (_dir, path) = valid_segment();
    let s = SegmentView::open(&path, current_uid())
        .unwrap()
        .sample()
        .unwrap();
    assert_eq!(s.functions.len(), 3);
}

#[test]
fn wrong_magic() {
    let (_dir, path) = valid_segment();
    poke(&path, 0, b"NOTASEG\0");
    let err = open_err(&path);
    assert!(
        matches!(err, IpcError::BadMagic { found, .. } if &found == b"NOTASEG\0"),
        "{err}"
    );
}

#[test]
fn zero_magic_or_empty_file_is_not_ready_yet() {
    let (_dir, path) = valid_segment();
    poke(&path, 0, &[0; 8]);
    let err = open_err(&path);
    assert!(matches!(err, IpcError::NotReady { .. }), "{err}");
    assert!(err.is_transient());

    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let err = open_err(&path);
    assert!(matches!(err, IpcError::NotReady { .. }), "{err}");
}

#[test]
fn wrong_version() {
    let (_dir, path) = valid_segment();
    poke(
        &path,
        offset_of!(Header, layout_version),
        &1u32.to_ne_bytes(),
    );
    // A segment of layout 1 (a hook from before own time): refused, named.
    let err = open_err(&path);
    assert!(
        matches!(
            err,
            IpcError::UnsupportedVersion {
                found: 1,
                supported: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn truncated_file() {
    let (_dir, path) = valid_segment();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(100)
        .unwrap();
    let err = open_err(&path);
    assert!(
        matches!(err, IpcError::Truncated { size: 100, .. }),
        "{err}"
    );
}

#[test]
fn segment_size_mismatch() {
    let (_dir, path) = valid_segment();
    let len = std::fs::metadata(&path).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 4096)
        .unwrap();
    let err = open_err(&path);
    assert!(
        matches!(err, IpcError::SizeMismatch { declared, actual, .. } if declared == len && actual == len - 4096),
        "{err}"
    );
}

#[test]
fn bad_header_size() {
    let (_dir, path) = valid_segment();
    poke(&path, offset_of!(Header, header_size), &12u32.to_ne_bytes());
    let err = open_err(&path);
    assert!(
        matches!(err, IpcError::BadHeaderSize { found: 12, .. }),
        "{err}"
    );
}

#[test]
fn capacity_out_of_range() {
    let (_dir, path) = valid_segment();
    poke(
        &path,
        offset_of!(Header, function_capacity),
        &0u32.to_ne_bytes(),
    );
    let err = open_err(&path);
    assert!(
        matches!(
            err,
            IpcError::BadCapacity {
                what: "function_capacity",
                value: 0,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn published_count_over_capacity() {
    let (_dir, path) = valid_segment();
    poke(
        &path,
        offset_of!(Header, functions_published),
        &5u32.to_ne_bytes(),
    );
    let err = open_err(&path);
    assert!(
        matches!(
            err,
            IpcError::CountOverCapacity {
                table: "function table",
                count: 5,
                capacity: 4,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn arena_use_over_capacity() {
    let (_dir, path) = valid_segment();
    poke(
        &path,
        offset_of!(Header, name_arena_used),
        &65u32.to_ne_bytes(),
    );
    let err = open_err(&path);
    assert!(
        matches!(
            err,
            IpcError::CountOverCapacity {
                count: 65,
                capacity: 64,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn section_offset_out_of_bounds() {
    let (_dir, path) = valid_segment();
    let len = std::fs::metadata(&path).unwrap().len();
    poke(
        &path,
        offset_of!(Header, pattern_table_offset),
        &len.to_ne_bytes(),
    );
    let err = open_err(&path);
    assert!(
        matches!(
            err,
            IpcError::SectionOutOfBounds {
                section: "pattern table",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn section_overlapping_the_header_or_misaligned() {
    let (_dir, path) = valid_segment();
    poke(
        &path,
        offset_of!(Header, name_arena_offset),
        &8u64.to_ne_bytes(),
    );
    let err = open_err(&path);
    assert!(
        matches!(
            err,
            IpcError::SectionOutOfBounds {
                section: "name arena",
                ..
            }
        ),
        "{err}"
    );

    let (_dir, path) = valid_segment();
    poke(
        &path,
        offset_of!(Header, function_table_offset),
        &4100u64.to_ne_bytes(),
    );
    let err = open_err(&path);
    assert!(
        matches!(
            err,
            IpcError::SectionOutOfBounds {
                section: "function table",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn name_offset_outside_the_arena() {
    let (_dir, path) = valid_segment();
    let slot1 = FUNCTION_TABLE + size_of::<FunctionSlot>();
    poke(
        &path,
        slot1 + offset_of!(FunctionSlot, name_offset),
        &60u32.to_ne_bytes(),
    );
    let err = sample_err(&path);
    assert!(
        matches!(
            err,
            IpcError::NameOutOfBounds {
                table: "function table",
                index: 1,
                offset: 60,
                ..
            }
        ),
        "{err}"
    );

    // A huge offset with a non-zero length is not the "name lost" marker.
    let (_dir, path) = valid_segment();
    poke(
        &path,
        slot1 + offset_of!(FunctionSlot, name_offset),
        &u32::MAX.to_ne_bytes(),
    );
    let err = sample_err(&path);
    assert!(matches!(err, IpcError::NameOutOfBounds { .. }), "{err}");
}

#[test]
fn unknown_function_kind() {
    let (_dir, path) = valid_segment();
    let slot2 = FUNCTION_TABLE + 2 * size_of::<FunctionSlot>();
    poke(&path, slot2 + offset_of!(FunctionSlot, kind), &[9]);
    let err = sample_err(&path);
    assert!(
        matches!(
            err,
            IpcError::InvalidFunctionKind {
                index: 2,
                value: 9,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn count_going_backwards_between_samples() {
    let (_dir, path) = valid_segment();
    let mut view = SegmentView::open(&path, current_uid()).unwrap();
    view.sample().unwrap();
    poke(
        &path,
        offset_of!(Header, functions_published),
        &1u32.to_ne_bytes(),
    );
    let err = view.sample().unwrap_err();
    assert!(
        matches!(
            err,
            IpcError::CountWentBackwards {
                before: 3,
                now: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn wrong_owner() {
    let (_dir, path) = valid_segment();
    let other = current_uid().wrapping_add(1);
    let err = SegmentView::open(&path, other).unwrap_err();
    assert!(
        matches!(err, IpcError::WrongOwner { owner, expected, .. } if owner == current_uid() && expected == other),
        "{err}"
    );
}

#[test]
fn group_or_other_access() {
    for mode in [0o640, 0o604, 0o660] {
        let (_dir, path) = valid_segment();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = open_err(&path);
        assert!(
            matches!(err, IpcError::InsecurePermissions { mode: m, .. } if m == mode),
            "{err}"
        );
        assert!(err.to_string().contains(&format!("{mode:04o}")), "{err}");
    }
}

#[test]
fn symlinks_and_directories_are_not_followed() {
    let (dir, path) = valid_segment();
    let link = dir.path().join("link.seg");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let err = open_err(&link);
    assert!(matches!(err, IpcError::Io { .. }), "{err}");

    let err = open_err(dir.path());
    assert!(matches!(err, IpcError::NotARegularFile { .. }), "{err}");
}

#[test]
fn missing_file_is_transient() {
    let dir = private_dir("ipc-validation");
    let err = open_err(&dir.path().join("gone.seg"));
    assert!(err.is_transient(), "{err}");
}

#[test]
fn a_segment_shrunk_under_the_reader_is_an_error_not_a_sigbus() {
    // Before: the reads past the new end of the file raised SIGBUS and
    // killed the reader (the launcher), and no summary was written.
    let (_dir, path) = valid_segment();
    let mut view = SegmentView::open(&path, current_uid()).unwrap();
    view.sample().unwrap();
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    for size in [4096, 0] {
        file.set_len(size).unwrap();
        let err = view.sample().unwrap_err();
        assert!(
            matches!(err, IpcError::SizeMismatch { actual, .. } if actual == size),
            "{err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
        // Header fields read as 0 rather than faulting.
        assert_eq!(view.settings_generation(), 0);
        assert_eq!(view.header().flags, 0);
    }
}

#[test]
fn a_shrunk_segment_is_skipped_and_the_totals_are_still_collected() {
    let (dir, path) = valid_segment();
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(4096).unwrap();
    let totals = speedbump::totals::collect_session(dir.path(), current_uid());
    assert_eq!(totals.warnings.len(), 1, "{:?}", totals.warnings);
    assert!(
        totals.warnings[0].contains("skipped"),
        "{:?}",
        totals.warnings
    );
}

#[test]
fn a_segment_shrinking_and_regrowing_while_it_is_sampled_never_kills_the_reader() {
    // Before (loads from a mapping, size checked first): a shrink between
    // the check and the loads raised SIGBUS and killed this test process.
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let (_dir, path) = valid_segment();
    let content = std::fs::read(&path).unwrap();
    let mut view = SegmentView::open(&path, current_uid()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    let churn = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                file.set_len(0).unwrap();
                file.write_all_at(&content, 0).unwrap();
                rounds += 1;
            }
            rounds
        })
    };
    let (mut good, mut refused) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        match view.sample() {
            Ok(sample) => {
                good += 1;
                assert!(sample.functions.len() <= 3, "{:?}", sample.functions);
            }
            Err(_) => refused += 1,
        }
        let _ = view.settings_generation();
        let _ = view.header();
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = churn.join().unwrap();
    assert!(
        rounds > 10,
        "the file was shrunk and regrown {rounds} times"
    );
    assert!(good + refused > 10, "{good} samples, {refused} refused");
}
