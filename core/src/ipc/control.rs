//! The control block: the settings a launcher publishes and every hooked
//! process of its session follows, live.
//!
//! One file, `<session>/control`, written only by the launcher
//! ([`ControlWriter`]) and mapped read-only by each hooked process
//! ([`ControlReader`]). Settings change as a whole under a sequence lock:
//! `sequence` is odd while the launcher writes and even (twice the settings
//! generation) when the settings are complete, so a reader copies them and
//! keeps the copy only if `sequence` was the same even value before and
//! after. Hooked processes poll `generation()` (one load) every few
//! milliseconds and report the generation they apply in their segment's
//! `settings_generation`, which is how a reader knows which settings each
//! counter sample belongs to.
//!
//! ```text
//! offset  field
//!      0  magic "SPDBCTL\0" (stored last, Release)
//!      8  layout_version: u32, size: u32
//!     16  sequence: u64            (odd while writing)
//!     24  delay_ns: u64
//!     32  frequency: u64
//!     40  flags: u32               (ENABLED, DELAY_RESUMES, MATCH_C_CALLS, OWN_TIME)
//!     44  patterns_len: u32        (bytes of target-file text)
//!     48  progress_points_len: u32 (bytes: one `module:qualname` per line)
//!     52  pattern_delays_len: u32  (entries; 0: every pattern at delay_ns)
//!     56  reserved
//!     64  pattern_delays: [u64]    (MAX_PATTERN_DELAYS; ns per call of each include pattern)
//!   4096  patterns text            (PATTERNS_BYTES)
//! 16781312  progress points text   (PROGRESS_POINTS_BYTES)
//!
//! The file is sparse: only the pages the texts use take memory.
//! ```

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering, fence};

use memmap2::{MmapOptions, MmapRaw};

use super::error::IpcError;
use super::region::Region;
use super::session::CONTROL_FILE_NAME;

/// Magic of a control block (`SPDBCTL\0`).
pub const CONTROL_MAGIC: [u8; 8] = *b"SPDBCTL\0";
/// Layout version of the control block.
pub const CONTROL_VERSION: u32 = 3;
/// Room for the target-file text (patterns), in bytes: as large as target
/// files are in practice (100,000 patterns take ~4 MB), since the
/// environment-variable workflow reads files of any size and `run` must
/// accept the same ones. Version 2 held 64 KiB.
pub const PATTERNS_BYTES: u32 = 16 * 1024 * 1024;
/// Room for the progress points text, in bytes.
pub const PROGRESS_POINTS_BYTES: u32 = 4 * 1024;

const OFFSET_MAGIC: u64 = 0;
const OFFSET_VERSION: u64 = 8;
const OFFSET_SIZE: u64 = 12;
const OFFSET_SEQUENCE: u64 = 16;
const OFFSET_DELAY: u64 = 24;
const OFFSET_FREQUENCY: u64 = 32;
const OFFSET_FLAGS: u64 = 40;
const OFFSET_PATTERNS_LEN: u64 = 44;
const OFFSET_PROGRESS_LEN: u64 = 48;
const OFFSET_PATTERN_DELAYS_LEN: u64 = 52;
const OFFSET_PATTERN_DELAYS: u64 = 64;
const OFFSET_PATTERNS: u64 = 4096;
/// Most per-pattern delays the control block holds (the header page after
/// the fixed fields).
pub const MAX_PATTERN_DELAYS: usize = ((OFFSET_PATTERNS - OFFSET_PATTERN_DELAYS) / 8) as usize;
const OFFSET_PROGRESS: u64 = OFFSET_PATTERNS + PATTERNS_BYTES as u64;
/// Size of the control file in bytes.
pub const CONTROL_SIZE: u64 = OFFSET_PROGRESS + PROGRESS_POINTS_BYTES as u64;
/// How long a reader waits for a launcher that is mid-update (preempted
/// on a busy machine, it can stay so for many milliseconds) before giving
/// up; it yields a few times first, then sleeps with a doubling backoff.
const READ_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);
const READ_YIELDS: u32 = 100;
const READ_FIRST_SLEEP: std::time::Duration = std::time::Duration::from_micros(20);
const READ_MAX_SLEEP: std::time::Duration = std::time::Duration::from_millis(10);
/// Offset of the `i`th per-pattern delay (`i < MAX_PATTERN_DELAYS`, so
/// inside the header page; saturates rather than wraps otherwise).
fn pattern_delay_offset(i: usize) -> u64 {
    OFFSET_PATTERN_DELAYS.saturating_add((i as u64).saturating_mul(8))
}

/// Bits of the control block's `flags`.
pub mod control_flags {
    /// Delays and counting are on (off: every hooked function runs untouched).
    pub const ENABLED: u32 = 1 << 0;
    /// Also delay each resume of generators and coroutines.
    pub const DELAY_RESUMES: u32 = 1 << 1;
    /// Also match C functions at call sites.
    pub const MATCH_C_CALLS: u32 = 1 << 2;
    /// Also measure the own time of matched code (the `own_ns` counters of
    /// the segment; docs/ranking.md, "Own time per unit"). A census asks
    /// for it (the ranking's, and a sweep's own-time window); it costs on
    /// matched code only.
    pub const OWN_TIME: u32 = 1 << 3;
}

/// One complete set of live settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ControlSettings {
    /// Delay per selected call, in ns (0: count only).
    pub delay_ns: u64,
    /// Delay every Nth matching call (>= 1).
    pub frequency: u64,
    /// `control_flags` bits.
    pub flags: u32,
    /// Target-file text: the patterns, one per line (the grammar of
    /// `crate::pattern`).
    pub patterns: String,
    /// Delay per selected call of each include pattern, in the order the
    /// include lines appear in `patterns` (excludes have none); empty: every
    /// pattern at `delay_ns`. A ranking's grouped design slows several
    /// candidates at once, each at its own delay (docs/ranking.md).
    pub pattern_delays_ns: Vec<u64>,
    /// Progress points: `module:qualname` patterns, one per line; each
    /// completed call of a matching function counts one unit of progress
    /// named after the pattern.
    pub progress_points: String,
}

impl ControlSettings {
    /// True when delays and counting are on.
    pub fn enabled(&self) -> bool {
        self.flags & control_flags::ENABLED != 0
    }

    /// Delay per selected call of the `include_index`th include pattern.
    pub fn delay_of_pattern(&self, include_index: usize) -> u64 {
        if self.pattern_delays_ns.is_empty() {
            self.delay_ns
        } else {
            self.pattern_delays_ns
                .get(include_index)
                .copied()
                .unwrap_or(0)
        }
    }
}

/// Path of the control block in a session directory.
pub fn control_path(session_dir: &Path) -> PathBuf {
    session_dir.join(CONTROL_FILE_NAME)
}

/// The launcher's side: creates the control block and publishes settings.
#[derive(Debug)]
pub struct ControlWriter {
    map: MmapRaw,
    path: PathBuf,
    sequence: u64,
}

impl ControlWriter {
    /// Creates `<session_dir>/control` (must not exist), mode 0600, and
    /// publishes `initial` as generation 1.
    pub fn create(session_dir: &Path, initial: &ControlSettings) -> Result<Self, IpcError> {
        let path = control_path(session_dir);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| IpcError::io("create control block", &path, e))?;
        let result = Self::init(file, &path, initial);
        if result.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        result
    }

    fn init(file: File, path: &Path, initial: &ControlSettings) -> Result<Self, IpcError> {
        file.set_len(CONTROL_SIZE)
            .map_err(|e| IpcError::io("size control block", path, e))?;
        let map = MmapOptions::new()
            .len(CONTROL_SIZE as usize)
            .map_raw(&file)
            .map_err(|e| IpcError::io("map control block", path, e))?;
        let mut writer = ControlWriter {
            map,
            path: path.to_path_buf(),
            sequence: 0,
        };
        writer.write_u32(OFFSET_VERSION, CONTROL_VERSION);
        writer.write_u32(OFFSET_SIZE, CONTROL_SIZE as u32);
        writer.publish(initial)?;
        writer
            .atomic(OFFSET_MAGIC)
            .store(u64::from_ne_bytes(CONTROL_MAGIC), Ordering::Release);
        Ok(writer)
    }

    fn atomic(&self, offset: u64) -> &AtomicU64 {
        // SAFETY: offset is one of the fixed 8-aligned header offsets or an
        // 8-aligned entry of the pattern delays (bounded by
        // MAX_PATTERN_DELAYS, inside the header page), inside the
        // page-aligned mapping, which lives as long as self; only this
        // process writes the file.
        unsafe { AtomicU64::from_ptr(self.map.as_mut_ptr().add(offset as usize).cast()) }
    }

    fn write_u32(&mut self, offset: u64, value: u32) {
        // SAFETY: fixed 4-aligned offsets inside the mapping.
        unsafe {
            self.map
                .as_mut_ptr()
                .add(offset as usize)
                .cast::<u32>()
                .write_volatile(value)
        };
    }

    fn write_bytes(&mut self, offset: u64, bytes: &[u8]) {
        for (i, byte) in bytes.iter().enumerate() {
            // SAFETY: callers check that offset + bytes.len() lies inside
            // the text area of the mapping.
            unsafe {
                self.map
                    .as_mut_ptr()
                    .add((offset as usize).wrapping_add(i))
                    .write_volatile(*byte)
            };
        }
    }

    /// Publishes `settings` as the next generation and returns it. Texts
    /// larger than their area are refused (nothing changes).
    pub fn publish(&mut self, settings: &ControlSettings) -> Result<u64, IpcError> {
        let too_long = |what: &'static str, len: usize, max: u32| IpcError::ControlTextTooLong {
            what,
            len,
            max: max as usize,
        };
        if settings.patterns.len() > PATTERNS_BYTES as usize {
            return Err(too_long(
                "patterns",
                settings.patterns.len(),
                PATTERNS_BYTES,
            ));
        }
        if settings.progress_points.len() > PROGRESS_POINTS_BYTES as usize {
            return Err(too_long(
                "progress points",
                settings.progress_points.len(),
                PROGRESS_POINTS_BYTES,
            ));
        }
        if settings.pattern_delays_ns.len() > MAX_PATTERN_DELAYS {
            return Err(IpcError::ControlTextTooLong {
                what: "per-pattern delays",
                len: settings.pattern_delays_ns.len(),
                max: MAX_PATTERN_DELAYS,
            });
        }
        let sequence = self.atomic(OFFSET_SEQUENCE);
        let odd = self.sequence.wrapping_add(1);
        sequence.store(odd, Ordering::Relaxed);
        fence(Ordering::Release);
        self.atomic(OFFSET_DELAY)
            .store(settings.delay_ns, Ordering::Relaxed);
        self.atomic(OFFSET_FREQUENCY)
            .store(settings.frequency.max(1), Ordering::Relaxed);
        self.write_u32(OFFSET_FLAGS, settings.flags);
        self.write_u32(OFFSET_PATTERNS_LEN, settings.patterns.len() as u32);
        self.write_u32(OFFSET_PROGRESS_LEN, settings.progress_points.len() as u32);
        self.write_u32(
            OFFSET_PATTERN_DELAYS_LEN,
            settings.pattern_delays_ns.len() as u32,
        );
        for (i, delay) in settings.pattern_delays_ns.iter().enumerate() {
            self.atomic(pattern_delay_offset(i))
                .store(*delay, Ordering::Relaxed);
        }
        self.write_bytes(OFFSET_PATTERNS, settings.patterns.as_bytes());
        self.write_bytes(OFFSET_PROGRESS, settings.progress_points.as_bytes());
        self.sequence = odd.wrapping_add(1);
        self.atomic(OFFSET_SEQUENCE)
            .store(self.sequence, Ordering::Release);
        Ok(self.sequence / 2)
    }

    /// The generation last published.
    pub fn generation(&self) -> u64 {
        self.sequence / 2
    }

    /// The control file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A hooked process's side: validates the control block once, then polls
/// its generation and copies complete settings.
#[derive(Debug)]
pub struct ControlReader {
    region: Region,
}

impl ControlReader {
    /// Maps `path` read-only after checking its owner (`expected_uid`), mode
    /// (no group/other access), size, magic and version.
    pub fn open(path: &Path, expected_uid: u32) -> Result<Self, IpcError> {
        let file = File::open(path).map_err(|e| IpcError::io("open control block", path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| IpcError::io("inspect control block", path, e))?;
        if meta.uid() != expected_uid {
            return Err(IpcError::WrongOwner {
                path: path.to_path_buf(),
                owner: meta.uid(),
                expected: expected_uid,
            });
        }
        if meta.mode() & 0o077 != 0 {
            return Err(IpcError::InsecurePermissions {
                path: path.to_path_buf(),
                mode: meta.mode() & 0o7777,
            });
        }
        if meta.len() != CONTROL_SIZE {
            return Err(IpcError::ControlSize {
                path: path.to_path_buf(),
                size: meta.len(),
                expected: CONTROL_SIZE,
            });
        }
        let region = Region::new(CONTROL_SIZE, file, path);
        let magic: u64 = region.read_acquire(OFFSET_MAGIC)?;
        if magic.to_ne_bytes() != CONTROL_MAGIC {
            return Err(IpcError::ControlMagic {
                path: path.to_path_buf(),
            });
        }
        let version: u32 = region.read(OFFSET_VERSION)?;
        if version != CONTROL_VERSION {
            return Err(IpcError::ControlVersion {
                path: path.to_path_buf(),
                found: version,
                supported: CONTROL_VERSION,
            });
        }
        Ok(ControlReader { region })
    }

    /// The generation of the settings now published (one load; a write in
    /// progress reads as the generation it will publish).
    /// 0 when the file shrank under the mapping (see `Region::check_size`).
    pub fn generation(&self) -> u64 {
        if self.region.check_size().is_err() {
            return 0;
        }
        self.region
            .read_acquire::<u64>(OFFSET_SEQUENCE)
            .map_or(0, |sequence| sequence.div_ceil(2))
    }

    /// Copies the current settings and their generation, retrying while the
    /// launcher is writing: a few yields, then sleeps with a doubling
    /// backoff, for up to two seconds in all (then [`IpcError::ControlBusy`]).
    pub fn read(&self) -> Result<(u64, ControlSettings), IpcError> {
        let mut patterns = Vec::new();
        let mut progress = Vec::new();
        let deadline = std::time::Instant::now().checked_add(READ_PATIENCE);
        let mut attempts: u32 = 0;
        let mut sleep = READ_FIRST_SLEEP;
        let mut wait = || {
            attempts = attempts.saturating_add(1);
            if attempts <= READ_YIELDS {
                std::thread::yield_now();
                return true;
            }
            if deadline.is_none_or(|deadline| std::time::Instant::now() >= deadline) {
                return false;
            }
            std::thread::sleep(sleep);
            sleep = sleep.saturating_mul(2).min(READ_MAX_SLEEP);
            true
        };
        loop {
            // A shrunk file is an error here, not a SIGBUS in the program.
            self.region.check_size()?;
            let before: u64 = self.region.read_acquire(OFFSET_SEQUENCE)?;
            if before % 2 == 1 {
                if wait() {
                    continue;
                }
                break;
            }
            let delay_ns: u64 = self.region.read(OFFSET_DELAY)?;
            let frequency: u64 = self.region.read(OFFSET_FREQUENCY)?;
            let flags: u32 = self.region.read(OFFSET_FLAGS)?;
            let patterns_len: u32 = self.region.read(OFFSET_PATTERNS_LEN)?;
            let progress_len: u32 = self.region.read(OFFSET_PROGRESS_LEN)?;
            let delays_len: u32 = self.region.read(OFFSET_PATTERN_DELAYS_LEN)?;
            let delays_len = (delays_len as usize).min(MAX_PATTERN_DELAYS);
            let mut pattern_delays_ns = Vec::with_capacity(delays_len);
            for i in 0..delays_len {
                pattern_delays_ns.push(self.region.read::<u64>(pattern_delay_offset(i))?);
            }
            let patterns_len = patterns_len.min(PATTERNS_BYTES);
            let progress_len = progress_len.min(PROGRESS_POINTS_BYTES);
            self.region
                .copy_bytes(OFFSET_PATTERNS, u64::from(patterns_len), &mut patterns)?;
            self.region
                .copy_bytes(OFFSET_PROGRESS, u64::from(progress_len), &mut progress)?;
            fence(Ordering::Acquire);
            let after: u64 = self.region.read_fresh(OFFSET_SEQUENCE)?;
            if after != before {
                if wait() {
                    continue;
                }
                break;
            }
            let settings = ControlSettings {
                delay_ns,
                frequency: frequency.max(1),
                flags,
                patterns: String::from_utf8_lossy(&patterns).into_owned(),
                pattern_delays_ns,
                progress_points: String::from_utf8_lossy(&progress).into_owned(),
            };
            return Ok((before / 2, settings));
        }
        Err(IpcError::ControlBusy {
            path: self.region.path().to_path_buf(),
        })
    }
}
