//! The writer side of a segment, used by the hook inside a Python process.
//!
//! The hot path is one `fetch_add(…, Relaxed)` on a slot the hook already
//! holds ([`SegmentWriter::function`], or [`SegmentWriter::function_slots_ptr`]
//! plus an id the hook validated itself). Adding entries (`add_*`) is the cold
//! path: it takes `&mut self`, so the caller serialises it (the GIL or a
//! mutex), and follows the publication protocol in [`super::layout`].
//!
//! The writer never deletes its file, not even on drop: after `fork` the
//! child holds a copy of its parent's writer, and dropping that copy must not
//! remove the parent's live segment. Sessions remove files
//! ([`super::session::Session::remove`]).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use super::clock::now_unix_ns;
use super::error::IpcError;
use super::layout::{
    Capacities, DEFAULT_LATENCY_RING_RECORDS, FunctionId, FunctionKind, FunctionSlot,
    HEADER_RESERVED_BYTES, Header, LABEL_BYTES, LATENCY_RECORD_BYTES, LAYOUT_VERSION, MAGIC,
    MAX_FUNCTION_CAPACITY, MAX_NAME_ARENA_BYTES, MAX_NAME_BYTES, NAME_LOST_OFFSET, OTHER_NAME,
    PatternId, PatternSlot, ProgressId, ProgressSlot, RING_CONTROL_BYTES, SECTION_ALIGN,
    SectionLayout, flags, truncate_utf8,
};
use super::procfs::{current_pid, current_uid, parent_pid, process_start_boottime_ns};
use super::ring::RingProducer;
use super::session::PrivateDir;

/// Identity of the process that owns a segment, written into its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub parent_pid: u32,
    /// Real user id.
    pub uid: u32,
    /// Process start on `CLOCK_BOOTTIME`, in ns.
    pub process_start_boottime_ns: u64,
    /// Human label (script name, argv summary); cut to 128 bytes.
    pub label: String,
}

impl ProcessInfo {
    /// The current process, with `label`. Call it again in a fork child: the
    /// pid, parent and start time change.
    pub fn current(label: impl Into<String>) -> Result<Self, IpcError> {
        let pid = current_pid();
        Ok(Self {
            pid,
            parent_pid: parent_pid(),
            uid: current_uid(),
            process_start_boottime_ns: process_start_boottime_ns(pid)?,
            label: label.into(),
        })
    }
}

/// What `create_like` needs to replay a function entry.
#[derive(Debug)]
struct FunctionRecord {
    name: Arc<str>,
    kind: FunctionKind,
}

/// What `create_like` needs to replay a pattern entry.
#[derive(Debug)]
struct PatternRecord {
    generation: u64,
    text: Arc<str>,
    exclude: bool,
}

/// The writable side of one segment.
///
/// Entry ids are dense and stable: the n-th published function is
/// `FunctionId(n)`. The writer keeps its own copy of every published name
/// (never read back from the shared mapping, which another process could
/// have scribbled on) to deduplicate and to replay them in [`Self::create_like`].
#[derive(Debug)]
pub struct SegmentWriter {
    map: MmapRaw,
    path: PathBuf,
    caps: Capacities,
    sections: SectionLayout,
    arena_used: u32,
    /// Index = function id; index 0 is `<other>`.
    functions: Vec<FunctionRecord>,
    /// Function ids by name, one map per [`FunctionKind`].
    function_ids: [HashMap<Arc<str>, u32>; 3],
    /// Index = pattern id; index 0 is `<other>`.
    patterns: Vec<PatternRecord>,
    /// Pattern ids by (generation, exclude, text): a targets file of many
    /// thousands of patterns is recorded without a scan per pattern.
    pattern_ids: HashMap<(u64, bool, Arc<str>), u32>,
    /// Index = progress id; index 0 is `""`.
    progress: Vec<Arc<str>>,
    progress_ids: HashMap<Arc<str>, u32>,
    /// [`Header::table_epoch`] of this segment.
    table_epoch: u32,
}

/// Sizes the segment file and reserves its blocks now. A segment file is
/// written through a shared mapping, and a page that a full filesystem (a
/// small tmpfs /dev/shm, e.g. Docker's 64 MB default) cannot back raises
/// SIGBUS in the program when first touched; with the blocks reserved up
/// front, a full filesystem is an error here instead, and the hook falls
/// back to private memory. Filesystems without `fallocate` get a plain
/// (sparse) size.
fn reserve(file: &File, size: u64) -> std::io::Result<()> {
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, size) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS) => file.set_len(size),
        Err(e) => Err(e.into()),
    }
}

/// `O_NOFOLLOW` for `OpenOptions::custom_flags`.
fn libc_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

fn segment_len(sections: &SectionLayout) -> Result<usize, IpcError> {
    usize::try_from(sections.segment_size).map_err(|_| IpcError::InvalidCapacities {
        what: "total segment size",
        value: sections.segment_size,
        min: 0,
        max: usize::MAX as u64,
    })
}

impl SegmentWriter {
    /// Creates the segment file at `path` (which must not exist), mode 0600,
    /// sized for `caps`, mapped shared, with the header and the three slot-0
    /// entries published.
    ///
    /// Ordering: the file is sized before anything is written, so a reader
    /// sees either an empty file or a full-size one; every header field is
    /// written before [`Header::magic`] is stored with `Release`, so a reader
    /// that sees the magic sees a complete header ([`IpcError::NotReady`]
    /// before that). If creation fails the half-made file is removed.
    pub fn create(path: &Path, info: &ProcessInfo, caps: Capacities) -> Result<Self, IpcError> {
        Self::create_with_ring(path, info, caps, DEFAULT_LATENCY_RING_RECORDS)
    }

    /// [`Self::create`] with a latency ring of `latency_ring_records` (0 for
    /// none, else a power of two).
    pub fn create_with_ring(
        path: &Path,
        info: &ProcessInfo,
        caps: Capacities,
        latency_ring_records: u32,
    ) -> Result<Self, IpcError> {
        Self::create_at(path, info, caps, latency_ring_records, 0)
    }

    fn create_at(
        path: &Path,
        info: &ProcessInfo,
        caps: Capacities,
        latency_ring_records: u32,
        table_epoch: u32,
    ) -> Result<Self, IpcError> {
        let sections = SectionLayout::with_ring(&caps, latency_ring_records)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc_nofollow())
            .open(path)
            .map_err(|e| IpcError::io("create segment file", path, e))?;
        match Self::init(file, path, info, caps, sections, table_epoch) {
            Ok(writer) => Ok(writer),
            Err(e) => {
                // Ours alone (O_EXCL): do not leave a file readers would
                // report as damaged.
                let _ = std::fs::remove_file(path);
                Err(e)
            }
        }
    }

    /// [`Self::create`] for the file `name` in the opened private session
    /// directory `dir`: created exclusively through the directory's
    /// descriptor, never through a link.
    pub fn create_in(
        dir: &PrivateDir,
        name: &str,
        info: &ProcessInfo,
        caps: Capacities,
    ) -> Result<Self, IpcError> {
        Self::create_in_epoch(dir, name, info, caps, 0)
    }

    fn create_in_epoch(
        dir: &PrivateDir,
        name: &str,
        info: &ProcessInfo,
        caps: Capacities,
        table_epoch: u32,
    ) -> Result<Self, IpcError> {
        let sections = SectionLayout::for_capacities(&caps)?;
        let file = dir.create_file(name, 0o600)?;
        let path = dir.path().join(name);
        match Self::init(file, &path, info, caps, sections, table_epoch) {
            Ok(writer) => Ok(writer),
            Err(e) => {
                dir.remove_file(name);
                Err(e)
            }
        }
    }

    /// [`Self::create_like`] into `dir` (see [`Self::create_in`]).
    pub fn create_like_in(
        &self,
        dir: &PrivateDir,
        name: &str,
        info: &ProcessInfo,
    ) -> Result<Self, IpcError> {
        let mut child = Self::create_in(dir, name, info, self.caps)?;
        match self.replay_into(&mut child) {
            Ok(()) => Ok(child),
            Err(e) => {
                drop(child);
                dir.remove_file(name);
                Err(e)
            }
        }
    }

    /// A segment in private anonymous memory, for when no file can be
    /// created (no /dev/shm, a full disk): the hook keeps counting and
    /// delaying, though no other process can read the counts. `path()` is
    /// empty.
    pub fn create_anonymous(info: &ProcessInfo, caps: Capacities) -> Result<Self, IpcError> {
        Self::create_anonymous_with_ring(info, caps, DEFAULT_LATENCY_RING_RECORDS)
    }

    /// [`Self::create_anonymous`] with a latency ring of
    /// `latency_ring_records` (0 for none, else a power of two).
    pub fn create_anonymous_with_ring(
        info: &ProcessInfo,
        caps: Capacities,
        latency_ring_records: u32,
    ) -> Result<Self, IpcError> {
        Self::create_anonymous_epoch(info, caps, latency_ring_records, 0)
    }

    fn create_anonymous_epoch(
        info: &ProcessInfo,
        caps: Capacities,
        latency_ring_records: u32,
        table_epoch: u32,
    ) -> Result<Self, IpcError> {
        let sections = SectionLayout::with_ring(&caps, latency_ring_records)?;
        let len = segment_len(&sections)?;
        let map = MmapOptions::new()
            .len(len)
            .map_anon()
            .map_err(|e| IpcError::io("map anonymous segment", Path::new(""), e))?;
        Self::init_mapped(
            MmapRaw::from(map),
            Path::new(""),
            info,
            caps,
            sections,
            table_epoch,
        )
    }

    /// [`Self::create_like`] into anonymous memory (see [`Self::create_anonymous`]).
    pub fn create_anonymous_like(&self, info: &ProcessInfo) -> Result<Self, IpcError> {
        let mut child =
            Self::create_anonymous_with_ring(info, self.caps, self.sections.latency_ring_records)?;
        self.replay_into(&mut child)?;
        Ok(child)
    }

    fn init(
        file: File,
        path: &Path,
        info: &ProcessInfo,
        caps: Capacities,
        sections: SectionLayout,
        table_epoch: u32,
    ) -> Result<Self, IpcError> {
        reserve(&file, sections.segment_size)
            .map_err(|e| IpcError::io("reserve space for segment file", path, e))?;
        let len = segment_len(&sections)?;
        let map = MmapOptions::new()
            .len(len)
            .map_raw(&file)
            .map_err(|e| IpcError::io("map segment file", path, e))?;
        Self::init_mapped(map, path, info, caps, sections, table_epoch)
    }

    fn init_mapped(
        map: MmapRaw,
        path: &Path,
        info: &ProcessInfo,
        caps: Capacities,
        sections: SectionLayout,
        table_epoch: u32,
    ) -> Result<Self, IpcError> {
        let mut label = [0u8; LABEL_BYTES];
        let label_text = truncate_utf8(&info.label, LABEL_BYTES).as_bytes();
        for (dst, src) in label.iter_mut().zip(label_text) {
            *dst = *src;
        }
        let header = Header {
            magic: AtomicU64::new(0),
            layout_version: LAYOUT_VERSION,
            header_size: HEADER_RESERVED_BYTES,
            segment_size: sections.segment_size,
            pid: info.pid,
            uid: info.uid,
            parent_pid: info.parent_pid,
            flags: AtomicU32::new(0),
            process_start_boottime_ns: info.process_start_boottime_ns,
            created_unix_ns: now_unix_ns(),
            function_capacity: caps.functions,
            pattern_capacity: caps.patterns,
            progress_capacity: caps.progress,
            name_arena_bytes: caps.name_arena_bytes,
            function_table_offset: sections.function_table_offset,
            pattern_table_offset: sections.pattern_table_offset,
            progress_table_offset: sections.progress_table_offset,
            name_arena_offset: sections.name_arena_offset,
            functions_published: AtomicU32::new(0),
            patterns_published: AtomicU32::new(0),
            progress_published: AtomicU32::new(0),
            name_arena_used: AtomicU32::new(0),
            settings_generation: AtomicU64::new(0),
            last_update_unix_ns: AtomicU64::new(0),
            label,
            latency_ring_offset: sections.latency_ring_offset,
            latency_ring_records: sections.latency_ring_records,
            latency_record_bytes: LATENCY_RECORD_BYTES,
            table_epoch,
            reserved: 0,
        };
        // SAFETY: the mapping is at least HEADER_RESERVED_BYTES long (the
        // function table starts there), page-aligned (so aligned for Header),
        // writable, and nothing else references it yet.
        unsafe { map.as_mut_ptr().cast::<Header>().write(header) };

        let mut writer = Self {
            map,
            path: path.to_path_buf(),
            caps,
            sections,
            arena_used: 0,
            functions: Vec::new(),
            function_ids: Default::default(),
            patterns: Vec::new(),
            pattern_ids: HashMap::new(),
            progress: Vec::new(),
            progress_ids: HashMap::new(),
            table_epoch,
        };
        writer.publish_slot_zeros();
        writer
            .header()
            .magic
            .store(u64::from_ne_bytes(MAGIC), Ordering::Release);
        Ok(writer)
    }

    /// Publishes function 0 and pattern 0 (`<other>`, sharing one name) and
    /// progress 0 (`""`). Capacities are at least 1, so these always fit.
    fn publish_slot_zeros(&mut self) {
        let (offset, len) = self.append_name(OTHER_NAME);
        if let Some(slot) = self.function_ptr(0) {
            // SAFETY: slot 0 is inside the table and not yet published, so
            // no reference to its plain fields exists.
            unsafe {
                (&raw mut (*slot).name_offset).write(offset);
                (&raw mut (*slot).name_len).write(len);
                (&raw mut (*slot).kind).write(FunctionKind::Other.as_u8());
            }
        }
        if let Some(slot) = self.pattern_ptr(0) {
            // SAFETY: as above, for pattern slot 0.
            unsafe {
                (&raw mut (*slot).name_offset).write(offset);
                (&raw mut (*slot).name_len).write(len);
            }
        }
        let header = self.header();
        header.functions_published.store(1, Ordering::Release);
        header.patterns_published.store(1, Ordering::Release);
        // Progress slot 0 is all zeros: name "" at offset 0.
        header.progress_published.store(1, Ordering::Release);
        self.functions.push(FunctionRecord {
            name: Arc::from(OTHER_NAME),
            kind: FunctionKind::Other,
        });
        self.patterns.push(PatternRecord {
            generation: 0,
            text: Arc::from(OTHER_NAME),
            exclude: false,
        });
        self.progress.push(Arc::from(""));
    }

    /// Creates a fresh segment at `path` for another process (a fork child)
    /// with the same capacities, and re-adds every name this writer published,
    /// in the same order, so every id the hook holds stays valid. Kinds,
    /// current pattern slots and the settings generation are copied; counters
    /// start at zero.
    ///
    /// The names come from this writer's private records, which in a fork
    /// child reflect the moment of the fork, exactly like the hook's cached
    /// ids.
    pub fn create_like(&self, path: &Path, info: &ProcessInfo) -> Result<Self, IpcError> {
        let mut child =
            Self::create_with_ring(path, info, self.caps, self.sections.latency_ring_records)?;
        match self.replay_into(&mut child) {
            Ok(()) => Ok(child),
            Err(e) => {
                drop(child);
                let _ = std::fs::remove_file(path);
                Err(e)
            }
        }
    }

    /// The capacities of a successor to this segment (see "Growing the
    /// function table" in [`super::layout`]): four times the function slots
    /// (at most [`MAX_FUNCTION_CAPACITY`]) and a name arena scaled with them
    /// from the bytes names took so far (never smaller than this one's);
    /// `None` when the table is already as large as supported.
    pub fn successor_capacities(&self) -> Option<Capacities> {
        let functions = self
            .caps
            .functions
            .saturating_mul(4)
            .min(MAX_FUNCTION_CAPACITY);
        if functions <= self.caps.functions {
            return None;
        }
        let growth = u64::from(functions)
            .checked_div(u64::from(self.caps.functions))
            .unwrap_or(1);
        // A quarter more than the names' share, so that the arena fills
        // after the table does, not before.
        let scaled = u64::from(self.arena_used)
            .saturating_mul(growth)
            .saturating_mul(5)
            .checked_div(4)
            .unwrap_or(u64::MAX);
        let name_arena_bytes = u32::try_from(scaled.next_multiple_of(SECTION_ALIGN))
            .unwrap_or(u32::MAX)
            .clamp(self.caps.name_arena_bytes, MAX_NAME_ARENA_BYTES);
        Some(Capacities {
            functions,
            name_arena_bytes,
            ..self.caps
        })
    }

    /// Creates this segment's successor, file `name` in `dir`, with `caps`
    /// (see [`Self::successor_capacities`]): every entry replayed in the same
    /// order, so every id stays valid, counters at zero, and a table epoch
    /// one higher. The caller moves counting to it and then calls
    /// [`Self::mark_moved`] on this one.
    pub fn create_successor_in(
        &self,
        dir: &PrivateDir,
        name: &str,
        info: &ProcessInfo,
        caps: Capacities,
    ) -> Result<Self, IpcError> {
        let epoch = self.table_epoch.saturating_add(1);
        let mut next = Self::create_in_epoch(dir, name, info, caps, epoch)?;
        match self.replay_into(&mut next) {
            Ok(()) => Ok(next),
            Err(e) => {
                drop(next);
                dir.remove_file(name);
                Err(e)
            }
        }
    }

    /// [`Self::create_successor_in`] at `path` (which must not exist).
    pub fn create_successor(
        &self,
        path: &Path,
        info: &ProcessInfo,
        caps: Capacities,
    ) -> Result<Self, IpcError> {
        let epoch = self.table_epoch.saturating_add(1);
        let mut next =
            Self::create_at(path, info, caps, self.sections.latency_ring_records, epoch)?;
        match self.replay_into(&mut next) {
            Ok(()) => Ok(next),
            Err(e) => {
                drop(next);
                let _ = std::fs::remove_file(path);
                Err(e)
            }
        }
    }

    /// [`Self::create_successor_in`] into anonymous memory, for a writer
    /// that counts in private memory already.
    pub fn create_successor_anonymous(
        &self,
        info: &ProcessInfo,
        caps: Capacities,
    ) -> Result<Self, IpcError> {
        let epoch = self.table_epoch.saturating_add(1);
        let mut next =
            Self::create_anonymous_epoch(info, caps, self.sections.latency_ring_records, epoch)?;
        self.replay_into(&mut next)?;
        Ok(next)
    }

    /// Whether the function table has no free slot (the next new function
    /// would be counted as `<other>`).
    pub fn function_table_is_full(&self) -> bool {
        usize::try_from(self.caps.functions).is_ok_and(|cap| self.functions.len() >= cap)
    }

    /// This segment's [`Header::table_epoch`].
    pub fn table_epoch(&self) -> u32 {
        self.table_epoch
    }

    /// Marks that the writer moved to a successor ([`flags::MOVED`]): every
    /// count this segment will ever get is in it. Call it after the last
    /// write here.
    pub fn mark_moved(&self) {
        self.set_flag(flags::MOVED);
    }

    fn replay_into(&self, child: &mut Self) -> Result<(), IpcError> {
        let check = |table: &'static str, expected: usize, got: u32| {
            let expected = u32::try_from(expected).unwrap_or(u32::MAX);
            if expected == got {
                Ok(())
            } else {
                Err(IpcError::ReplayMismatch {
                    table,
                    expected,
                    got,
                })
            }
        };
        for (index, record) in self.functions.iter().enumerate().skip(1) {
            let id = FunctionId(u32::try_from(index).unwrap_or(u32::MAX));
            let pattern_slot = self.function(id).pattern_slot.load(Ordering::Relaxed);
            let got = child.add_function(&record.name, record.kind, pattern_slot);
            check("the function table", index, got.0)?;
        }
        for (index, record) in self.patterns.iter().enumerate().skip(1) {
            let got = child.add_pattern(record.generation, &record.text, record.exclude);
            check("the pattern table", index, got.0)?;
        }
        for (index, name) in self.progress.iter().enumerate().skip(1) {
            let got = child.add_progress(name);
            check("the progress table", index, got.0)?;
        }
        child.set_settings_generation(self.header().settings_generation.load(Ordering::Relaxed));
        Ok(())
    }

    /// Adds a function (`module:qualname`, cut to 1024 bytes) and returns its
    /// id; `pattern_slot` is the pattern that matched it.
    ///
    /// Names are deduplicated per kind: adding a name again returns the
    /// existing id (and stores the new `pattern_slot`), so two code objects
    /// with the same qualified name (a reloaded module, several lambdas) share
    /// one row. When the table is full this returns [`FunctionId::OTHER`] and
    /// sets [`flags::FUNCTION_TABLE_FULL`]: counts are aggregated, never lost.
    pub fn add_function(
        &mut self,
        name: &str,
        kind: FunctionKind,
        pattern_slot: u32,
    ) -> FunctionId {
        let name = truncate_utf8(name, MAX_NAME_BYTES);
        let kind_index = usize::from(kind.as_u8());
        if let Some(&id) = self
            .function_ids
            .get(kind_index)
            .and_then(|ids| ids.get(name))
        {
            let id = FunctionId(id);
            self.function(id)
                .pattern_slot
                .store(pattern_slot, Ordering::Relaxed);
            return id;
        }
        let index = self.functions.len();
        let Some(slot) = self.function_ptr(index) else {
            self.set_flag(flags::FUNCTION_TABLE_FULL);
            return FunctionId::OTHER;
        };
        let Ok(id) = u32::try_from(index) else {
            return FunctionId::OTHER;
        };
        let (offset, len) = self.append_name(name);
        // SAFETY: `slot` is inside the table (function_ptr checked) and not
        // yet published: no reference to it exists and no reader reads it.
        unsafe {
            (&raw mut (*slot).name_offset).write(offset);
            (&raw mut (*slot).name_len).write(len);
            (&raw mut (*slot).kind).write(kind.as_u8());
            (*slot).pattern_slot.store(pattern_slot, Ordering::Relaxed);
        }
        let name: Arc<str> = Arc::from(name);
        self.functions.push(FunctionRecord {
            name: Arc::clone(&name),
            kind,
        });
        if let Some(ids) = self.function_ids.get_mut(kind_index) {
            ids.insert(name, id);
        }
        self.header()
            .functions_published
            .store(id.saturating_add(1), Ordering::Release);
        FunctionId(id)
    }

    /// Adds a pattern of settings generation `generation` and returns its id.
    /// The same (generation, text, exclude) returns the same id. When the table
    /// is full this returns [`PatternId::OTHER`] and sets
    /// [`flags::PATTERN_TABLE_FULL`].
    pub fn add_pattern(&mut self, generation: u64, text: &str, exclude: bool) -> PatternId {
        let text = truncate_utf8(text, MAX_NAME_BYTES);
        if let Some(&id) = self
            .pattern_ids
            .get(&(generation, exclude, Arc::<str>::from(text)))
        {
            return PatternId(id);
        }
        let index = self.patterns.len();
        let Some(slot) = self.pattern_ptr(index) else {
            self.set_flag(flags::PATTERN_TABLE_FULL);
            return PatternId::OTHER;
        };
        let Ok(id) = u32::try_from(index) else {
            return PatternId::OTHER;
        };
        let (offset, len) = self.append_name(text);
        // SAFETY: inside the table and not yet published (see add_function).
        unsafe {
            (&raw mut (*slot).generation).write(generation);
            (&raw mut (*slot).name_offset).write(offset);
            (&raw mut (*slot).name_len).write(len);
            (&raw mut (*slot).exclude).write(u8::from(exclude));
        }
        let text: Arc<str> = Arc::from(text);
        self.pattern_ids
            .insert((generation, exclude, Arc::clone(&text)), id);
        self.patterns.push(PatternRecord {
            generation,
            text,
            exclude,
        });
        self.header()
            .patterns_published
            .store(id.saturating_add(1), Ordering::Release);
        PatternId(id)
    }

    /// Adds a progress name and returns its id; `""` is always slot 0 and a
    /// known name returns its existing id. When the table is full this returns
    /// [`ProgressId::DEFAULT`] and sets [`flags::PROGRESS_TABLE_FULL`].
    pub fn add_progress(&mut self, name: &str) -> ProgressId {
        let name = truncate_utf8(name, MAX_NAME_BYTES);
        if name.is_empty() {
            return ProgressId::DEFAULT;
        }
        if let Some(&id) = self.progress_ids.get(name) {
            return ProgressId(id);
        }
        let index = self.progress.len();
        let Some(slot) = self.progress_ptr(index) else {
            self.set_flag(flags::PROGRESS_TABLE_FULL);
            return ProgressId::DEFAULT;
        };
        let Ok(id) = u32::try_from(index) else {
            return ProgressId::DEFAULT;
        };
        let (offset, len) = self.append_name(name);
        // SAFETY: inside the table and not yet published (see add_function).
        unsafe {
            (&raw mut (*slot).name_offset).write(offset);
            (&raw mut (*slot).name_len).write(len);
        }
        let name: Arc<str> = Arc::from(name);
        self.progress.push(Arc::clone(&name));
        self.progress_ids.insert(name, id);
        self.header()
            .progress_published
            .store(id.saturating_add(1), Ordering::Release);
        ProgressId(id)
    }

    /// The slot of function `id`; an id that is not published yet (or out of
    /// range) gives slot 0 (`<other>`), so a bad id costs accuracy, never
    /// memory safety.
    pub fn function(&self, id: FunctionId) -> &FunctionSlot {
        let index = self.published_index(id.0, self.functions.len());
        let ptr = self.function_ptr(index).unwrap_or(self.function_table());
        // SAFETY: `ptr` is a published slot inside the mapping, which lives
        // as long as `self`; published slots' plain fields are never written
        // again and the rest are atomics, so a shared reference is sound.
        unsafe { &*ptr }
    }

    /// The slot of pattern `id`; unpublished or out-of-range ids give slot 0.
    pub fn pattern(&self, id: PatternId) -> &PatternSlot {
        let index = self.published_index(id.0, self.patterns.len());
        let ptr = self.pattern_ptr(index).unwrap_or(self.pattern_table());
        // SAFETY: as in `function`.
        unsafe { &*ptr }
    }

    /// The slot of progress `id`; unpublished or out-of-range ids give slot 0.
    pub fn progress(&self, id: ProgressId) -> &ProgressSlot {
        let index = self.published_index(id.0, self.progress.len());
        let ptr = self.progress_ptr(index).unwrap_or(self.progress_table());
        // SAFETY: as in `function`.
        unsafe { &*ptr }
    }

    /// Base of the function table, for hooks that index it themselves.
    /// Valid while `self` lives; only ids returned by [`Self::add_function`]
    /// (always `< function_capacity()`) may be dereferenced.
    pub fn function_slots_ptr(&self) -> *const FunctionSlot {
        self.function_table()
    }

    /// Base of the pattern table (see [`Self::function_slots_ptr`]).
    pub fn pattern_slots_ptr(&self) -> *const PatternSlot {
        self.pattern_table()
    }

    /// Base of the progress table (see [`Self::function_slots_ptr`]).
    pub fn progress_slots_ptr(&self) -> *const ProgressSlot {
        self.progress_table()
    }

    /// Function table size, in slots.
    pub fn function_capacity(&self) -> u32 {
        self.caps.functions
    }

    /// Pattern table size, in slots.
    pub fn pattern_capacity(&self) -> u32 {
        self.caps.patterns
    }

    /// Progress table size, in slots.
    pub fn progress_capacity(&self) -> u32 {
        self.caps.progress
    }

    /// All capacities of this segment.
    pub fn capacities(&self) -> Capacities {
        self.caps
    }

    /// Functions published so far, including slot 0.
    pub fn functions_published(&self) -> u32 {
        u32::try_from(self.functions.len()).unwrap_or(u32::MAX)
    }

    /// Records the live-control settings generation this process now applies.
    pub fn set_settings_generation(&self, generation: u64) {
        self.header()
            .settings_generation
            .store(generation, Ordering::Release);
    }

    /// Marks the process as cleanly exited ([`flags::PROCESS_EXITED`]).
    /// Call it at interpreter shutdown; dropping the writer does not.
    pub fn mark_exited(&self) {
        self.set_flag(flags::PROCESS_EXITED);
    }

    /// Records that the writer is alive at `now_unix_ns` (ns since the epoch).
    pub fn touch(&self, now_unix_ns: u64) {
        self.header()
            .last_update_unix_ns
            .store(now_unix_ns, Ordering::Relaxed);
    }

    /// The producer side of this segment's latency ring (`None` when the
    /// segment has none). Its control block starts zeroed (the file is new),
    /// so the ring starts empty.
    ///
    /// The producer points into this writer's mapping: it may be used only
    /// while `self` lives (see [`RingProducer::push`]).
    pub fn latency_producer(&self) -> Option<RingProducer> {
        let records = self.sections.latency_ring_records;
        if records == 0 {
            return None;
        }
        let control = self.at(self.sections.latency_ring_offset);
        let first = control.wrapping_add(usize::try_from(RING_CONTROL_BYTES).ok()?);
        Some(RingProducer::new(control.cast(), first.cast(), records))
    }

    /// Records in this segment's latency ring (0 = none).
    pub fn latency_ring_records(&self) -> u32 {
        self.sections.latency_ring_records
    }

    /// Current [`flags`] bits.
    pub fn flags(&self) -> u32 {
        self.header().flags.load(Ordering::Relaxed)
    }

    /// The segment file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    // ---- internals -------------------------------------------------------

    fn header(&self) -> &Header {
        // SAFETY: the header was written in `init` before `self` existed; its
        // plain fields are never written again and the rest are atomics.
        // The mapping is page-aligned and outlives the reference.
        unsafe { &*self.map.as_ptr().cast::<Header>() }
    }

    fn set_flag(&self, bit: u32) {
        self.header().flags.fetch_or(bit, Ordering::Release);
    }

    /// `id` if it is published (`< published`), else 0.
    fn published_index(&self, id: u32, published: usize) -> usize {
        match usize::try_from(id) {
            Ok(index) if index < published => index,
            _ => 0,
        }
    }

    /// Pointer `offset` bytes into the mapping. Callers pass offsets from
    /// `self.sections`, which lie inside the mapping.
    fn at(&self, offset: u64) -> *mut u8 {
        let offset = usize::try_from(offset).unwrap_or(0);
        self.map.as_mut_ptr().wrapping_add(offset)
    }

    fn function_table(&self) -> *mut FunctionSlot {
        self.at(self.sections.function_table_offset).cast()
    }

    fn pattern_table(&self) -> *mut PatternSlot {
        self.at(self.sections.pattern_table_offset).cast()
    }

    fn progress_table(&self) -> *mut ProgressSlot {
        self.at(self.sections.progress_table_offset).cast()
    }

    /// Slot `index` of the function table, or `None` past its capacity.
    fn function_ptr(&self, index: usize) -> Option<*mut FunctionSlot> {
        slot_ptr(self.function_table(), index, self.caps.functions)
    }

    fn pattern_ptr(&self, index: usize) -> Option<*mut PatternSlot> {
        slot_ptr(self.pattern_table(), index, self.caps.patterns)
    }

    fn progress_ptr(&self, index: usize) -> Option<*mut ProgressSlot> {
        slot_ptr(self.progress_table(), index, self.caps.progress)
    }

    /// Appends `name` (already cut to [`MAX_NAME_BYTES`]) to the arena and
    /// returns its (offset, length). A name that does not fit is lost
    /// ([`NAME_LOST_OFFSET`], [`flags::NAME_ARENA_FULL`]); later, shorter
    /// names may still fit. Bytes are written before `name_arena_used`
    /// grows, and both before the entry is published.
    fn append_name(&mut self, name: &str) -> (u32, u16) {
        let bytes = name.as_bytes();
        let (Ok(len), Ok(len16)) = (u32::try_from(bytes.len()), u16::try_from(bytes.len())) else {
            self.set_flag(flags::NAME_ARENA_FULL);
            return (NAME_LOST_OFFSET, 0);
        };
        let start = self.arena_used;
        let end = match start.checked_add(len) {
            Some(end) if end <= self.caps.name_arena_bytes => end,
            _ => {
                self.set_flag(flags::NAME_ARENA_FULL);
                return (NAME_LOST_OFFSET, 0);
            }
        };
        let dst = self
            .at(self.sections.name_arena_offset)
            .wrapping_add(usize::try_from(start).unwrap_or(0));
        // SAFETY: start..end lies inside the arena (end <= name_arena_bytes,
        // the arena lies inside the mapping) and above `name_arena_used`, so
        // no published entry names these bytes and nothing references them.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len()) };
        self.arena_used = end;
        self.header().name_arena_used.store(end, Ordering::Release);
        (start, len16)
    }
}

/// Pointer to slot `index` of a table of `capacity` slots at `base`, or
/// `None` when `index` is past the end.
fn slot_ptr<T>(base: *mut T, index: usize, capacity: u32) -> Option<*mut T> {
    let capacity = usize::try_from(capacity).ok()?;
    (index < capacity).then(|| base.wrapping_add(index))
}
