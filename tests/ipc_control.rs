//! The control block: settings published by a launcher, read by hooks.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use speedbump::ipc::{
    ControlReader, ControlSettings, ControlWriter, IpcError, PATTERNS_BYTES, control_flags,
    control_path,
};

fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

fn settings(n: u64) -> ControlSettings {
    ControlSettings {
        delay_ns: n * 1000,
        frequency: n + 1,
        flags: control_flags::ENABLED,
        patterns: format!("mod{n}.*:*\n# generation {n}\n"),
        pattern_delays_ns: (0..n % 4).map(|i| i * 100 + n).collect(),
        progress_points: format!("bench:step{n}\n"),
    }
}

fn session() -> tempfile_dir::Dir {
    tempfile_dir::Dir::new()
}

mod tempfile_dir {
    /// A private temporary directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let path = std::env::temp_dir().join(format!(
                "sb-control-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ));
            std::fs::create_dir(&path).unwrap();
            Dir(path)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn publish_and_read_round_trip() {
    let dir = session();
    let mut writer = ControlWriter::create(&dir.0, &settings(1)).unwrap();
    let reader = ControlReader::open(&control_path(&dir.0), uid()).unwrap();
    assert_eq!(reader.generation(), 1);
    assert_eq!(reader.read().unwrap(), (1, settings(1)));
    assert_eq!(writer.publish(&settings(2)).unwrap(), 2);
    assert_eq!(reader.generation(), 2);
    assert_eq!(reader.read().unwrap(), (2, settings(2)));
    let mode = std::fs::metadata(control_path(&dir.0))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn shorter_text_replaces_longer() {
    let dir = session();
    let mut writer = ControlWriter::create(&dir.0, &settings(123456)).unwrap();
    let short = ControlSettings {
        patterns: "*:*".into(),
        ..settings(7)
    };
    writer.publish(&short).unwrap();
    let reader = ControlReader::open(&control_path(&dir.0), uid()).unwrap();
    assert_eq!(reader.read().unwrap().1.patterns, "*:*");
}

#[test]
fn a_target_file_of_a_hundred_thousand_patterns_fits() {
    // The environment-variable workflow reads target files of any size;
    // `run` passes them through the control block (64 KiB before).
    let dir = session();
    let mut writer = ControlWriter::create(&dir.0, &settings(1)).unwrap();
    let patterns: String = (0..100_000)
        .map(|i| format!("package{i}.module{i}:Class{i}.method\n"))
        .collect();
    assert!(patterns.len() > 3_000_000);
    let big = ControlSettings {
        patterns,
        ..settings(2)
    };
    let generation = writer.publish(&big).unwrap();
    let reader = ControlReader::open(&control_path(&dir.0), uid()).unwrap();
    assert_eq!(reader.read().unwrap(), (generation, big));
}

#[test]
fn too_long_text_is_refused_and_nothing_changes() {
    let dir = session();
    let mut writer = ControlWriter::create(&dir.0, &settings(1)).unwrap();
    let huge = ControlSettings {
        patterns: "x".repeat(PATTERNS_BYTES as usize + 1),
        ..settings(2)
    };
    assert!(matches!(
        writer.publish(&huge),
        Err(IpcError::ControlTextTooLong { .. })
    ));
    let reader = ControlReader::open(&control_path(&dir.0), uid()).unwrap();
    assert_eq!(reader.read().unwrap(), (1, settings(1)));
}

#[test]
fn readers_never_see_a_half_written_update() {
    let dir = session();
    let mut writer = ControlWriter::create(&dir.0, &settings(1)).unwrap();
    let reader = ControlReader::open(&control_path(&dir.0), uid()).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let checker = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut reads = 0u64;
            let mut last = 0;
            while !done.load(Ordering::Relaxed) {
                let (generation, s) = reader.read().unwrap();
                assert!(generation >= last, "generation went back");
                last = generation;
                let n = s.delay_ns / 1000;
                assert_eq!(s, settings(n), "torn read");
                reads += 1;
            }
            reads
        })
    };
    for n in 2..3_000 {
        writer.publish(&settings(n)).unwrap();
        // A launcher publishes now and then, not in a tight loop (which
        // would starve readers by design of the sequence lock).
        std::thread::sleep(std::time::Duration::from_micros(20));
    }
    done.store(true, Ordering::Relaxed);
    assert!(checker.join().unwrap() > 0);
}

#[test]
fn reader_refuses_foreign_or_damaged_blocks() {
    let dir = session();
    let path = control_path(&dir.0);
    ControlWriter::create(&dir.0, &settings(1)).unwrap();
    assert!(matches!(
        ControlReader::open(&path, uid() + 1),
        Err(IpcError::WrongOwner { .. })
    ));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        ControlReader::open(&path, uid()),
        Err(IpcError::InsecurePermissions { .. })
    ));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] = b'X';
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        ControlReader::open(&path, uid()),
        Err(IpcError::ControlMagic { .. })
    ));
    std::fs::write(&path, &bytes[..100]).unwrap();
    assert!(matches!(
        ControlReader::open(&path, uid()),
        Err(IpcError::ControlSize { .. })
    ));
    assert!(matches!(
        ControlReader::open(&dir.0.join("missing"), uid()),
        Err(IpcError::Io { .. })
    ));
}

#[test]
fn a_second_writer_cannot_take_over() {
    let dir = session();
    let _first = ControlWriter::create(&dir.0, &settings(1)).unwrap();
    assert!(ControlWriter::create(&dir.0, &settings(2)).is_err());
}

/// A launcher preempted mid-publish (sequence odd) for 50 ms: the reader
/// waits for it instead of giving up (it used to give up after 1,000 yields,
/// well under a millisecond, and a child starting then exited with status 2).
#[test]
fn a_reader_waits_out_a_launcher_preempted_mid_update() {
    use std::os::unix::fs::FileExt;
    let dir = session();
    let _writer = ControlWriter::create(&dir.0, &settings(1)).unwrap();
    let path = control_path(&dir.0);
    let reader = ControlReader::open(&path, uid()).unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut sequence = [0u8; 8];
    file.read_at(&mut sequence, 16).unwrap();
    let even = u64::from_ne_bytes(sequence);
    assert_eq!(even % 2, 0);
    file.write_at(&(even + 1).to_ne_bytes(), 16).unwrap();
    let finisher = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        file.write_at(&even.to_ne_bytes(), 16).unwrap();
    });
    let started = std::time::Instant::now();
    let read = reader.read();
    finisher.join().unwrap();
    assert_eq!(read.unwrap(), (1, settings(1)));
    assert!(started.elapsed() >= std::time::Duration::from_millis(40));
}
