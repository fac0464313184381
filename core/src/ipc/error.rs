//! The one error type of the `ipc` module.
//!
//! Every message names the file (or process) concerned and says what to do,
//! because the launcher shows these to the user as warnings ("segment X
//! skipped: ...") and the hook reports them once on stderr.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while creating, reading or cleaning up
/// telemetry segments and session directories.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IpcError {
    /// A file-system or mapping operation failed.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "create segment file".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The requested table capacities cannot be laid out.
    #[error(
        "invalid segment capacities: {what} = {value} is outside {min}..={max}; \
         choose a value in that range"
    )]
    InvalidCapacities {
        /// Which capacity.
        what: &'static str,
        /// The value given.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },

    /// The segment exists but its writer has not finished initialising it.
    #[error(
        "segment {} is still being initialised by its process; sample it again shortly",
        path.display()
    )]
    NotReady {
        /// The segment file.
        path: PathBuf,
    },

    /// The path is not a regular file.
    #[error("{} is not a regular file; only speedbump segments belong in a session directory", path.display())]
    NotARegularFile {
        /// The offending path.
        path: PathBuf,
    },

    /// The file is smaller than a segment header.
    #[error(
        "segment {} is truncated: {size} bytes, a header needs at least {needed}; \
         the file is damaged or not a speedbump segment",
        path.display()
    )]
    Truncated {
        /// The segment file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The minimum size in bytes.
        needed: u64,
    },

    /// The file does not start with the segment magic.
    #[error(
        "{} is not a speedbump segment (magic {found:02x?}, expected \"SPDBUMP\\0\"); \
         remove it from the session directory",
        path.display()
    )]
    BadMagic {
        /// The segment file.
        path: PathBuf,
        /// The first eight bytes found.
        found: [u8; 8],
    },

    /// The segment uses a layout version this build cannot read.
    #[error(
        "segment {} has layout version {found}, this speedbump reads version {supported}; \
         use the same speedbump version for the launcher and the hook",
        path.display()
    )]
    UnsupportedVersion {
        /// The segment file.
        path: PathBuf,
        /// Version found in the header.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },

    /// `header_size` is impossible.
    #[error(
        "segment {} declares a header of {found} bytes (must be a multiple of 8, \
         at least {min} and within the file); the file is damaged",
        path.display()
    )]
    BadHeaderSize {
        /// The segment file.
        path: PathBuf,
        /// The declared header size.
        found: u32,
        /// The smallest valid header size.
        min: u32,
    },

    /// `segment_size` disagrees with the file size.
    #[error(
        "segment {} declares {declared} bytes but the file has {actual}; \
         the file was truncated or extended by something other than speedbump",
        path.display()
    )]
    SizeMismatch {
        /// The segment file.
        path: PathBuf,
        /// Size recorded in the header.
        declared: u64,
        /// Actual file size.
        actual: u64,
    },

    /// A capacity in the header is outside the supported range.
    #[error(
        "segment {} declares {what} = {value}, outside the supported {min}..={max}; the file is damaged",
        path.display()
    )]
    BadCapacity {
        /// The segment file.
        path: PathBuf,
        /// Which capacity.
        what: &'static str,
        /// The declared value.
        value: u64,
        /// Smallest supported value.
        min: u64,
        /// Largest supported value.
        max: u64,
    },

    /// A section does not lie inside the file, after the header, aligned.
    #[error(
        "segment {}: the {section} section ({len} bytes at offset {offset}) does not fit \
         between the header ({header_size} bytes) and the end of the segment ({segment_size} bytes) \
         on an 8-byte boundary; the file is damaged",
        path.display()
    )]
    SectionOutOfBounds {
        /// The segment file.
        path: PathBuf,
        /// Section name ("function table", ...).
        section: &'static str,
        /// Declared byte offset.
        offset: u64,
        /// Section length in bytes.
        len: u64,
        /// Header size in bytes.
        header_size: u64,
        /// Segment size in bytes.
        segment_size: u64,
    },

    /// A published count exceeds its table's capacity.
    #[error(
        "segment {}: {table} claims {count} published entries but holds only {capacity}; \
         the file is damaged",
        path.display()
    )]
    CountOverCapacity {
        /// The segment file.
        path: PathBuf,
        /// Which table (or "name arena" for bytes used).
        table: &'static str,
        /// The published count.
        count: u64,
        /// The capacity.
        capacity: u64,
    },

    /// A published count went down between two samples (counts only grow).
    #[error(
        "segment {}: {table} count went from {before} to {now}, but entries are never removed; \
         the file was rewritten by something other than its writer",
        path.display()
    )]
    CountWentBackwards {
        /// The segment file.
        path: PathBuf,
        /// Which table.
        table: &'static str,
        /// Count at the previous sample.
        before: u64,
        /// Count now.
        now: u64,
    },

    /// A table entry names bytes outside the used part of the name arena.
    #[error(
        "segment {}: {table} entry {index} names bytes {offset}..{offset}+{len}, \
         outside the {arena_used} used bytes of the name arena; the file is damaged",
        path.display()
    )]
    NameOutOfBounds {
        /// The segment file.
        path: PathBuf,
        /// Which table.
        table: &'static str,
        /// Entry index.
        index: u32,
        /// Name offset in the arena.
        offset: u32,
        /// Name length in bytes.
        len: u16,
        /// Arena bytes in use.
        arena_used: u32,
    },

    /// A function entry has an unknown kind byte.
    #[error(
        "segment {}: function entry {index} has kind {value}, expected 0 (Python), 1 (C) or 2 (other); \
         the file is damaged or written by a newer speedbump",
        path.display()
    )]
    InvalidFunctionKind {
        /// The segment file.
        path: PathBuf,
        /// Entry index.
        index: u32,
        /// The kind byte found.
        value: u8,
    },

    /// A checked read fell outside the mapping (defence in depth; validation
    /// should have caught the cause earlier).
    #[error(
        "segment {}: read of {len} bytes at offset {offset} is outside the {mapped} mapped bytes \
         or misaligned; the file is damaged",
        path.display()
    )]
    OutOfBounds {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the read.
        offset: u64,
        /// Bytes read.
        len: u64,
        /// Bytes mapped.
        mapped: u64,
    },

    /// A file or directory is owned by another user.
    #[error(
        "{} is owned by uid {owner}, not by uid {expected}; speedbump only trusts its own files — \
         remove it or point speedbump at another directory",
        path.display()
    )]
    WrongOwner {
        /// The path concerned.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The uid we expected.
        expected: u32,
    },

    /// A file or directory is accessible to group or others.
    #[error(
        "{} has mode {mode:04o}, which lets other users read or change it; \
         run `chmod go-rwx {}` or remove it",
        path.display(),
        path.display()
    )]
    InsecurePermissions {
        /// The path concerned.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// A path that must be a real directory is something else (e.g. a symlink).
    #[error(
        "{} must be a directory (not a symlink or file) for speedbump's private session data; \
         remove it or choose another base directory",
        path.display()
    )]
    NotADirectory {
        /// The path concerned.
        path: PathBuf,
    },

    /// The process does not exist (no `/proc/<pid>`).
    #[error("process {pid} does not exist")]
    ProcessNotFound {
        /// The process id.
        pid: u32,
    },

    /// `/proc/<pid>/stat` could not be parsed.
    #[error("could not parse /proc/{pid}/stat: {reason}; is /proc a Linux procfs?")]
    ProcStat {
        /// The process id.
        pid: u32,
        /// What was wrong.
        reason: &'static str,
    },

    /// `create_like` could not reproduce the ids of the original segment.
    #[error(
        "copying {table} into the new segment gave id {got} instead of {expected}; \
         this is a bug in speedbump, please report it"
    )]
    ReplayMismatch {
        /// Which table.
        table: &'static str,
        /// The id the entry had.
        expected: u32,
        /// The id it got.
        got: u32,
    },

    /// A unique session directory name could not be found.
    #[error(
        "could not create a unique session directory in {}; \
         remove stale `s-*` directories there",
        base.display()
    )]
    SessionNameExhausted {
        /// The base directory.
        base: PathBuf,
    },

    /// A control block of the wrong size.
    #[error(
        "{} is {size} bytes, not the {expected} of a speedbump control block; \
         is the launcher a different speedbump version?",
        path.display()
    )]
    ControlSize {
        /// The control file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The expected size.
        expected: u64,
    },

    /// A control block without the control magic.
    #[error("{} is not a speedbump control block (bad magic)", path.display())]
    ControlMagic {
        /// The control file.
        path: PathBuf,
    },

    /// A control block of another layout version.
    #[error(
        "{} has control layout version {found}; this speedbump reads version {supported} — \
         use the same speedbump version for the launcher and the hook",
        path.display()
    )]
    ControlVersion {
        /// The control file.
        path: PathBuf,
        /// Version found.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },

    /// The launcher kept the control block mid-write for too long.
    #[error("{} stayed mid-update for too long; settings not read", path.display())]
    ControlBusy {
        /// The control file.
        path: PathBuf,
    },

    /// Settings text too long for its area of the control block.
    #[error("the {what} text is {len} bytes; the control block holds at most {max}")]
    ControlTextTooLong {
        /// Which text.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The room for it.
        max: usize,
    },
}

impl IpcError {
    /// Shorthand for [`IpcError::Io`].
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// True when the error only means "not there (yet)": the file or process
    /// is gone, or the writer has not finished creating the segment. Callers
    /// that poll a session directory stay quiet about these.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::NotReady { .. } | Self::ProcessNotFound { .. } => true,
            Self::Io { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => false,
        }
    }
}
