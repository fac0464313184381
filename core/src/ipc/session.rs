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

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};

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
    ///
    /// With `None`, a default base that another user planted (or made
    /// public, or replaced by a link) is not used: another private base is
    /// created beside it (see [`private_base`]).
    pub fn create(base: Option<&Path>) -> Result<Self, IpcError> {
        let base = match base {
            Some(base) => PrivateDir::open(base, true)?,
            None => private_base()?.dir,
        };
        Self::create_in(&base)
    }

    /// Creates a new session directory in the opened private `base`.
    pub fn create_in(base: &PrivateDir) -> Result<Self, IpcError> {
        let pid = current_pid();
        let start_ticks = process_start_ticks(pid)?;
        for attempt in 0..NAME_ATTEMPTS {
            let suffix = random_suffix(attempt);
            let name = format!("{SESSION_PREFIX}{pid}-{start_ticks}-{suffix:016x}");
            match base.make_child_dir(&name, true) {
                Ok(dir) => return Ok(Self { path: dir.path }),
                Err(IpcError::Io { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        Err(IpcError::SessionNameExhausted {
            base: base.path.clone(),
        })
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
///
/// The base is opened and checked now (see [`private_base`]); the returned
/// note says why another base than the default was chosen, for the caller to
/// print once.
pub fn new_session_path(pid: u32, start_ticks: u64) -> Result<(PathBuf, Option<String>), IpcError> {
    let base = private_base()?;
    let suffix = random_suffix(0);
    let path = base
        .dir
        .path
        .join(format!("{SESSION_PREFIX}{pid}-{start_ticks}-{suffix:016x}"));
    Ok((path, base.note))
}

/// A private base directory chosen for new sessions, and why it is not the
/// default one (when it is not).
#[derive(Debug)]
pub struct BaseChoice {
    /// The opened, checked base.
    pub dir: PrivateDir,
    /// Set when the default base was unsafe and another was created: one
    /// line saying so, for the user.
    pub note: Option<String>,
}

/// Opens the default base ([`default_base_dir`]), creating it if missing.
/// When it exists but is not a private directory of ours (another local
/// user planted it, it is a link, or it is open to others), nothing in it
/// is touched: a fresh private base `<default>-<random>` is created beside
/// it (exclusively, mode 0700) and used instead, so a planted base can
/// neither redirect our files nor lock us out.
pub fn private_base() -> Result<BaseChoice, IpcError> {
    private_base_at(&default_base_dir()?)
}

/// [`private_base`] with `default` as the default base.
pub fn private_base_at(default: &Path) -> Result<BaseChoice, IpcError> {
    let default = default.to_path_buf();
    let error = match PrivateDir::open(&default, true) {
        Ok(dir) => return Ok(BaseChoice { dir, note: None }),
        Err(error) if error.is_unsafe_directory() => error,
        Err(error) => return Err(error),
    };
    let parent = default.parent().unwrap_or(Path::new("/"));
    let stem = default.file_name().unwrap_or(OsStr::new("speedbump"));
    for attempt in 0..NAME_ATTEMPTS {
        let mut name = stem.to_os_string();
        name.push(format!("-{:016x}", random_suffix(attempt)));
        let path = parent.join(&name);
        match rustix::fs::mkdir(&path, Mode::from_raw_mode(0o700)) {
            Ok(()) => {
                let dir = PrivateDir::open(&path, false)?;
                let note = format!(
                    "not using the session base {}: {error}; using the private directory {} instead",
                    default.display(),
                    path.display()
                );
                return Ok(BaseChoice {
                    dir,
                    note: Some(note),
                });
            }
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => {
                return Err(IpcError::io(
                    "create session base directory",
                    path,
                    e.into(),
                ));
            }
        }
    }
    Err(IpcError::SessionNameExhausted { base: default })
}

/// A directory opened without following a link at its last component and
/// checked to be ours with no group or other access. Everything inside it is
/// created and removed relative to the open descriptor (`openat`,
/// `unlinkat`), so renaming or replacing the path afterwards cannot redirect
/// us.
#[derive(Debug)]
pub struct PrivateDir {
    path: PathBuf,
    fd: OwnedFd,
}

impl PrivateDir {
    /// Opens `path` (created 0700 first if missing and `create`) and checks
    /// it; see the type docs.
    pub fn open(path: &Path, create: bool) -> Result<Self, IpcError> {
        if create {
            match rustix::fs::mkdir(path, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(IpcError::io("create directory", path, e.into())),
            }
        }
        let fd = rustix::fs::open(path, dir_flags(), Mode::empty())
            .map_err(|e| open_dir_error(path, e))?;
        verify_private_fd(&fd, path)?;
        Ok(Self {
            path: path.to_path_buf(),
            fd,
        })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the subdirectory `name` (created 0700 first when `create`;
    /// with `exclusive`, an existing one is an `AlreadyExists` error) and
    /// checks it like [`PrivateDir::open`].
    fn make_child_dir(&self, name: &str, exclusive: bool) -> Result<PrivateDir, IpcError> {
        let path = self.path.join(name);
        match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            Err(rustix::io::Errno::EXIST) if !exclusive => {}
            Err(e) => return Err(IpcError::io("create session directory", path, e.into())),
        }
        self.child_dir(name, true)
    }

    /// Opens the existing subdirectory `name` (never through a link),
    /// checked to be ours and, if `private`, closed to others.
    fn child_dir(&self, name: &str, private: bool) -> Result<PrivateDir, IpcError> {
        let path = self.path.join(name);
        let fd = rustix::fs::openat(&self.fd, name, dir_flags(), Mode::empty())
            .map_err(|e| open_dir_error(&path, e))?;
        match verify_private_fd(&fd, &path) {
            Err(IpcError::InsecurePermissions { .. }) if !private => {}
            result => result?,
        }
        Ok(PrivateDir { path, fd })
    }

    /// Creates the file `name` in this directory, exclusively (an existing
    /// file or link is an error), never following a link, with `mode`.
    pub fn create_file(&self, name: &str, mode: u32) -> Result<std::fs::File, IpcError> {
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(mode))
            .map(std::fs::File::from)
            .map_err(|e| IpcError::io("create file", self.path.join(name), e.into()))
    }

    /// Removes `file` from this directory (never through a link: the entry
    /// itself goes). Missing is fine.
    pub fn remove_file(&self, name: &str) {
        let _ = rustix::fs::unlinkat(&self.fd, name, AtFlags::empty());
    }

    /// Removes the session directory `name` below this one: its entries
    /// first, through a descriptor of the directory, then the directory,
    /// after checking that the entry still names the directory we emptied.
    /// Missing is fine.
    fn remove_child_dir(&self, name: &str) -> Result<(), IpcError> {
        let path = self.path.join(name);
        // Ours, though maybe not private (made by hand): safe to empty,
        // since this directory (its parent) is private.
        let dir = match self.child_dir(name, false) {
            Ok(dir) => dir,
            Err(IpcError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        dir.remove_entries()?;
        let opened = rustix::fs::fstat(&dir.fd)
            .map_err(|e| IpcError::io("inspect session directory", &path, e.into()))?;
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(now) if same_file(&now, &opened) => {}
            Ok(_) => return Err(IpcError::NotADirectory { path }),
            Err(rustix::io::Errno::NOENT) => return Ok(()),
            Err(e) => return Err(IpcError::io("inspect session directory", path, e.into())),
        }
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(IpcError::io("remove session directory", path, e.into())),
        }
    }

    /// Unlinks every entry of this directory (segments, the control block,
    /// the launcher's `inject/` folder, emptied first); links are removed,
    /// never followed.
    fn remove_entries(&self) -> Result<(), IpcError> {
        self.remove_entries_below(MAX_REMOVE_DEPTH)
    }

    /// [`Self::remove_entries`], emptying subdirectories of ours (the
    /// launcher's `inject/` folder) down to `depth` levels first. A
    /// subdirectory is opened through this one's descriptor without
    /// following links and must be ours; any other stays (and so does this
    /// directory, whose removal then says it is not empty).
    fn remove_entries_below(&self, depth: u32) -> Result<(), IpcError> {
        let listing = rustix::fs::openat(&self.fd, ".", dir_flags(), Mode::empty())
            .map_err(|e| IpcError::io("list session directory", &self.path, e.into()))?;
        let dir = Dir::read_from(&listing)
            .map_err(|e| IpcError::io("list session directory", &self.path, e.into()))?;
        for entry in dir {
            let entry =
                entry.map_err(|e| IpcError::io("list session directory", &self.path, e.into()))?;
            let name = entry.file_name();
            if matches!(name.to_bytes(), b"." | b"..") {
                continue;
            }
            let flags = if entry.file_type() == FileType::Directory {
                if depth > 0
                    && let Ok(text) = std::str::from_utf8(name.to_bytes())
                    && let Ok(child) = self.child_dir(text, false)
                {
                    child.remove_entries_below(depth.saturating_sub(1))?;
                }
                AtFlags::REMOVEDIR // only an empty one goes
            } else {
                AtFlags::empty()
            };
            match rustix::fs::unlinkat(&self.fd, name, flags) {
                Ok(()) | Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTEMPTY) => {}
                Err(e) => {
                    let path = self.path.join(OsStr::from_bytes(name.to_bytes()));
                    return Err(IpcError::io("remove", path, e.into()));
                }
            }
        }
        Ok(())
    }
}

/// How deep [`PrivateDir::remove_entries`] goes into subdirectories (the
/// launcher's `inject/` folder holds a package two levels down).
const MAX_REMOVE_DEPTH: u32 = 8;

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// A link or a non-directory at the last component is "not a directory".
fn open_dir_error(path: &Path, errno: rustix::io::Errno) -> IpcError {
    match errno {
        rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => IpcError::NotADirectory {
            path: path.to_path_buf(),
        },
        e => IpcError::io("open directory", path, e.into()),
    }
}

fn same_file(a: &Stat, b: &Stat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

/// An opened directory owned by us with no group/other access.
fn verify_private_fd(fd: &OwnedFd, path: &Path) -> Result<(), IpcError> {
    let stat = rustix::fs::fstat(fd.as_fd())
        .map_err(|e| IpcError::io("inspect directory", path, e.into()))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
        return Err(IpcError::NotADirectory {
            path: path.to_path_buf(),
        });
    }
    let uid = current_uid();
    if stat.st_uid != uid {
        return Err(IpcError::WrongOwner {
            path: path.to_path_buf(),
            owner: stat.st_uid,
            expected: uid,
        });
    }
    let mode = stat.st_mode & 0o7777;
    if mode & 0o077 != 0 {
        return Err(IpcError::InsecurePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
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

/// Path of the segment of one program image of process `pid`:
/// `<session_dir>/p-<pid>-<start_ticks>-<image:016x>.seg`. `exec` keeps the
/// pid and the start time, so a process that execs (a fork child running
/// `execv`, a root that execs itself) would otherwise collide with its own
/// earlier segment; `image` is a random number drawn once per image (see
/// [`random_image_id`]).
pub fn image_segment_path(session_dir: &Path, pid: u32, start_ticks: u64, image: u64) -> PathBuf {
    session_dir.join(format!(
        "p-{pid}-{start_ticks}-{image:016x}.{SEGMENT_EXTENSION}"
    ))
}

/// A random number naming this program image's segments (see
/// [`image_segment_path`]).
pub fn random_image_id() -> u64 {
    random_suffix(0)
}

/// The owner (pid, start ticks) named by a session path
/// (`s-<pid>-<ticks>-<suffix>`), if it is one.
pub fn session_owner(session_dir: &Path) -> Option<(u32, u64)> {
    session_dir
        .file_name()
        .and_then(OsStr::to_str)
        .and_then(parse_session_name)
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
///
/// The base (the parent) must itself be a private directory of ours; the
/// session is created and checked relative to a descriptor of it, never
/// through a link. The opened session directory is returned so that files
/// are created in it with [`PrivateDir::create_file`].
pub fn ensure_session_dir(path: &Path) -> Result<PrivateDir, IpcError> {
    let (base, name) = split_session_path(path)?;
    let base = PrivateDir::open(base, true)?;
    base.make_child_dir(name, false)
}

/// Base directory and (UTF-8) name of a session path.
fn split_session_path(path: &Path) -> Result<(&Path, &str), IpcError> {
    match (path.parent(), path.file_name().and_then(OsStr::to_str)) {
        (Some(base), Some(name)) if !base.as_os_str().is_empty() => Ok((base, name)),
        _ => Err(IpcError::NotADirectory {
            path: path.to_path_buf(),
        }),
    }
}

/// Removes the session directories under `base` whose owner is gone (its pid
/// is free, or reused by a process with another start time) and none of
/// whose segment writers still runs; returns the removed paths. A missing
/// `base` has nothing to clean.
///
/// Owners that `/proc` cannot vouch for either way are kept. If `/proc` does
/// not even show this process, nothing is removed (liveness cannot be told).
///
/// The base must be a private directory of ours (checked through a
/// descriptor, never through a link); otherwise nothing is touched and the
/// check's error is returned.
pub fn clean_stale_sessions(base: &Path) -> Result<Vec<PathBuf>, IpcError> {
    let base_dir = match PrivateDir::open(base, false) {
        Ok(dir) => dir,
        Err(IpcError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    let entries = match std::fs::read_dir(base) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(IpcError::io("list session base directory", base, e)),
    };
    // Without a working /proc every process would look dead.
    process_start_ticks(current_pid())?;
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| IpcError::io("list session base directory", base, e))?;
        let path = entry.path();
        let Some((pid, start_ticks)) = entry.file_name().to_str().and_then(parse_session_name)
        else {
            continue;
        };
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Ok(session) = base_dir.child_dir(&name, false) else {
            continue; // not a private directory of ours: not ours to remove
        };
        drop(session);
        if process_liveness(pid, start_ticks) != Liveness::Gone || any_writer_alive(&path) {
            continue;
        }
        base_dir.remove_child_dir(&name)?;
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
pub fn parse_segment_name(name: &str) -> Option<(u32, u64)> {
    let stem = name
        .strip_prefix("p-")?
        .strip_suffix(SEGMENT_EXTENSION)?
        .strip_suffix('.')?;
    let mut parts = stem.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    let ticks = parts.next()?.parse().ok()?;
    if let Some(image) = parts.next()
        && u64::from_str_radix(image, 16).is_err()
    {
        return None;
    }
    Some((pid, ticks))
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

/// Removes the files in the session directory `dir` and then `dir`;
/// NotFound is success.
///
/// Safe against another user's links and renames: the base (the parent)
/// must be a private directory of ours, the session is opened through it
/// without following links, emptied through its descriptor, and removed
/// only if the name still refers to the directory that was emptied. A base
/// created beside a planted default (see [`private_base`]) is removed too
/// once empty.
pub fn remove_session_dir(dir: &Path) -> Result<(), IpcError> {
    let (base, name) = split_session_path(dir)?;
    let base_dir = match PrivateDir::open(base, false) {
        Ok(base_dir) => base_dir,
        Err(IpcError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    base_dir.remove_child_dir(name)?;
    remove_fallback_base(&base_dir);
    Ok(())
}

/// Removes a base made by [`private_base`] (`<default>-<16 hex digits>`)
/// when it is empty; never the default base, which stays for later runs.
fn remove_fallback_base(base: &PrivateDir) {
    let Ok(default) = default_base_dir() else {
        return;
    };
    let (Some(parent), Some(stem)) = (default.parent(), default.file_name()) else {
        return;
    };
    let is_fallback = base.path.parent() == Some(parent)
        && base.path.file_name().is_some_and(|name| {
            name.as_bytes()
                .strip_prefix(stem.as_bytes())
                .and_then(|rest| rest.strip_prefix(b"-"))
                .is_some_and(|hex| hex.len() == 16 && hex.iter().all(u8::is_ascii_hexdigit))
        });
    if is_fallback {
        // rmdir never follows a link and fails on a non-empty directory.
        let _ = rustix::fs::rmdir(&base.path);
    }
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
        let path = image_segment_path(Path::new("/x"), 7, 99, 0xab);
        assert_eq!(path, Path::new("/x/p-7-99-00000000000000ab.seg"));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_segment_name(name), Some((7, 99)));
        assert_eq!(parse_segment_name("p-7-99-zz.seg"), None);
        assert_eq!(
            session_owner(Path::new("/b/s-12-345-00ff")),
            Some((12, 345))
        );
    }

    #[test]
    fn random_suffixes_differ() {
        assert_ne!(random_suffix(0), random_suffix(1));
    }
}
