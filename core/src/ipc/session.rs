//! The private directory that holds one run's segments.
//!
//! ```text
//! <base>/                                  0700, ours
//!   s-<owner pid>-<owner start ticks>-<random>/   0700: one session (run)
//!     p-<pid>-<start ticks>.seg            0600: one hooked process
//!     control                              reserved for live control
//! ```
//!
//! `<base>` is `$XDG_RUNTIME_DIR/speedbump` when that directory exists and
//! is ours, else `/dev/shm/speedbump-<uid>`, else
//! `<temp dir>/speedbump-<uid>`. Base and session directories must be real
//! directories owned by us with no group/other access; anything else is
//! refused, because a directory another user can write lets them swap
//! segments under us.
//!
//! Names embed the process start time (clock ticks since boot) next to each
//! pid, so a recycled pid is never mistaken for the original process.

use std::fs::{DirBuilder, Metadata};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::clock::now_boottime_ns;
use super::error::IpcError;
use super::procfs::{Liveness, current_pid, current_uid, process_liveness, process_start_ticks};

/// File name reserved for the live-control block in a session directory
/// (added by the live re-targeting work; nothing here creates it).
pub const CONTROL_FILE_NAME: &str = "control";
/// Extension of segment files.
pub const SEGMENT_EXTENSION: &str = "seg";
/// Prefix of session directory names.
const SESSION_PREFIX: &str = "s-";
/// Attempts at finding an unused random session name.
const NAME_ATTEMPTS: u32 = 16;

/// A session directory created by this process (its owner).
///
/// Dropping a `Session` does **not** remove the directory: readers may still
/// be reading segments of exited processes, hooked children may outlive a
/// hooked owner, and after `fork` a child holds a copy of this value whose
/// drop must not delete the parent's live session. The owner calls
/// [`Session::remove`] when the run ends (also on Ctrl-C); runs killed before
/// that are found later by [`clean_stale_sessions`].
#[derive(Debug)]
pub struct Session {
    path: PathBuf,
}

impl Session {
    /// Creates a new session directory (0700) under `base`, or under the
    /// default base ([`default_base_dir`]) when `base` is `None`. The base is
    /// created (0700) if missing and must be ours and private.
    pub fn create(base: Option<&Path>) -> Result<Self, IpcError> {
        let base = match base {
            Some(base) => base.to_path_buf(),
            None => default_base_dir()?,
        };
        ensure_private_dir(&base)?;
        let pid = current_pid();
        let start_ticks = process_start_ticks(pid)?;
        for attempt in 0..NAME_ATTEMPTS {
            let suffix = random_suffix(attempt);
            let path = base.join(format!("{SESSION_PREFIX}{pid}-{start_ticks}-{suffix:016x}"));
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    verify_private_dir(&path)?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(IpcError::io("create session directory", path, e)),
            }
        }
        Err(IpcError::SessionNameExhausted { base })
    }

    /// The session directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes every file in the session directory and the directory itself.
    /// Entries already gone are ignored.
    pub fn remove(self) -> Result<(), IpcError> {
        remove_session_dir(&self.path)
    }
}

/// A fresh session path under the default base for the process `pid`
/// started at `start_ticks`, **not created**: a hooked root process announces
/// it to its children at start-up, and whichever process matches first
/// creates it with [`ensure_session_dir`] (so a run that matches nothing
/// leaves no directory).
pub fn new_session_path(pid: u32, start_ticks: u64) -> Result<PathBuf, IpcError> {
    let base = default_base_dir()?;
    let suffix = random_suffix(0);
    Ok(base.join(format!("{SESSION_PREFIX}{pid}-{start_ticks}-{suffix:016x}")))
}

/// The default base directory (not created; see the module docs).
pub fn default_base_dir() -> Result<PathBuf, IpcError> {
    let uid = current_uid();
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        let usable = runtime.is_absolute()
            && std::fs::metadata(&runtime).is_ok_and(|m| m.is_dir() && m.uid() == uid);
        if usable {
            return Ok(runtime.join("speedbump"));
        }
    }
    let shm = Path::new("/dev/shm");
    if std::fs::metadata(shm).is_ok_and(|m| m.is_dir()) {
        return Ok(shm.join(format!("speedbump-{uid}")));
    }
    Ok(std::env::temp_dir().join(format!("speedbump-{uid}")))
}

/// Path of the segment of process `pid` started at `start_ticks` (clock ticks
/// since boot): `<session_dir>/p-<pid>-<start_ticks>.seg`.
pub fn segment_path(session_dir: &Path, pid: u32, start_ticks: u64) -> PathBuf {
    session_dir.join(format!("p-{pid}-{start_ticks}.{SEGMENT_EXTENSION}"))
}

/// The segment files (`*.seg`) in a session directory, sorted by path.
pub fn list_segments(session_dir: &Path) -> Result<Vec<PathBuf>, IpcError> {
    let entries = std::fs::read_dir(session_dir)
        .map_err(|e| IpcError::io("list session directory", session_dir, e))?;
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| IpcError::io("list session directory", session_dir, e))?;
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == SEGMENT_EXTENSION) {
            segments.push(path);
        }
    }
    segments.sort();
    Ok(segments)
}

/// Makes sure the session directory `path` exists and is private; used by a
/// hooked process that found the session path in its environment. Creates it
/// (and missing parents) with mode 0700, or verifies the owner and mode of
/// an existing one. Safe against other processes doing the same at once.
pub fn ensure_session_dir(path: &Path) -> Result<(), IpcError> {
    ensure_private_dir(path)
}

/// Removes the session directories under `base` whose owner is gone (its pid
/// is free, or reused by a process with another start time) and none of
/// whose segment writers still runs; returns the removed paths. A missing
/// `base` has nothing to clean.
///
/// Owners that `/proc` cannot vouch for either way are kept. If `/proc` does
/// not even show this process, nothing is removed (liveness cannot be told).
pub fn clean_stale_sessions(base: &Path) -> Result<Vec<PathBuf>, IpcError> {
    let entries = match std::fs::read_dir(base) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(IpcError::io("list session base directory", base, e)),
    };
    // Without a working /proc every process would look dead.
    process_start_ticks(current_pid())?;
    let uid = current_uid();
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| IpcError::io("list session base directory", base, e))?;
        let path = entry.path();
        let Some((pid, start_ticks)) = entry.file_name().to_str().and_then(parse_session_name)
        else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        if process_liveness(pid, start_ticks) != Liveness::Gone || any_writer_alive(&path) {
            continue;
        }
        remove_session_dir(&path)?;
        removed.push(path);
    }
    Ok(removed)
}

/// Owner pid and start ticks from `s-<pid>-<ticks>-<suffix>`.
fn parse_session_name(name: &str) -> Option<(u32, u64)> {
    let mut parts = name.strip_prefix(SESSION_PREFIX)?.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    let ticks = parts.next()?.parse().ok()?;
    parts.next()?;
    Some((pid, ticks))
}

/// Writer pid and start ticks from `p-<pid>-<ticks>.seg`.
fn parse_segment_name(name: &str) -> Option<(u32, u64)> {
    let stem = name
        .strip_prefix("p-")?
        .strip_suffix(SEGMENT_EXTENSION)?
        .strip_suffix('.')?;
    let (pid, ticks) = stem.split_once('-')?;
    Some((pid.parse().ok()?, ticks.parse().ok()?))
}

/// Does any segment in `session_dir` belong to a process that may still run?
/// (A hooked process can be the owner and exit before its children.)
fn any_writer_alive(session_dir: &Path) -> bool {
    let Ok(segments) = list_segments(session_dir) else {
        return true; // cannot tell: keep it
    };
    segments.iter().any(|path| {
        path.file_name()
            .and_then(|name| name.to_str())
            .and_then(parse_segment_name)
            .is_some_and(|(pid, ticks)| process_liveness(pid, ticks) != Liveness::Gone)
    })
}

/// Removes the files in `dir` and then `dir`; NotFound is success.
pub fn remove_session_dir(dir: &Path) -> Result<(), IpcError> {
    let ignore_missing = |result: io::Result<()>, action, path: &Path| match result {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(IpcError::io(action, path, e)),
        _ => Ok(()),
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(IpcError::io("list session directory", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| IpcError::io("list session directory", dir, e))?;
        let path = entry.path();
        // Never follow links: only the entry itself is removed.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let result = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        ignore_missing(result, "remove", &path)?;
    }
    ignore_missing(std::fs::remove_dir(dir), "remove session directory", dir)
}

/// Creates `path` (and missing parents) with mode 0700 if needed, then
/// checks that it is a private directory of ours.
fn ensure_private_dir(path: &Path) -> Result<(), IpcError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| IpcError::io("create directory", path, e))?;
    verify_private_dir(path)
}

/// A real directory (not a symlink), owned by us, no group/other access.
fn verify_private_dir(path: &Path) -> Result<(), IpcError> {
    let meta: Metadata =
        std::fs::symlink_metadata(path).map_err(|e| IpcError::io("inspect directory", path, e))?;
    if !meta.is_dir() {
        return Err(IpcError::NotADirectory {
            path: path.to_path_buf(),
        });
    }
    let uid = current_uid();
    if meta.uid() != uid {
        return Err(IpcError::WrongOwner {
            path: path.to_path_buf(),
            owner: meta.uid(),
            expected: uid,
        });
    }
    if meta.mode() & 0o077 != 0 {
        return Err(IpcError::InsecurePermissions {
            path: path.to_path_buf(),
            mode: meta.mode() & 0o7777,
        });
    }
    Ok(())
}

/// 64 unpredictable bits for a session name, from the kernel's random pool;
/// falls back to mixing the clock, pid and attempt number (uniqueness, not
/// secrecy, is what matters: the directory is private and created with
/// `mkdir`, which fails rather than reuses).
fn random_suffix(attempt: u32) -> u64 {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    let from_kernel =
        std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if from_kernel.is_ok() {
        return u64::from_ne_bytes(bytes);
    }
    // splitmix64 finaliser over the mixed inputs.
    let mut z = now_boottime_ns()
        ^ u64::from(current_pid()).rotate_left(32)
        ^ u64::from(attempt).rotate_left(48);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn session_names_parse() {
        assert_eq!(parse_session_name("s-12-345-00ff"), Some((12, 345)));
        assert_eq!(parse_session_name("s-12-345"), None);
        assert_eq!(parse_session_name("x-12-345-00ff"), None);
        assert_eq!(parse_session_name("s-a-345-00ff"), None);
    }

    #[test]
    fn segment_names_parse() {
        assert_eq!(parse_segment_name("p-12-345.seg"), Some((12, 345)));
        assert_eq!(parse_segment_name("p-12-345seg"), None);
        assert_eq!(parse_segment_name("p-12.seg"), None);
        let path = segment_path(Path::new("/x"), 7, 99);
        assert_eq!(path, Path::new("/x/p-7-99.seg"));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_segment_name(name), Some((7, 99)));
    }

    #[test]
    fn random_suffixes_differ() {
        assert_ne!(random_suffix(0), random_suffix(1));
    }
}
