//! The reader side of a segment, used by the launcher (several readers may
//! attach to the same segment, late or after its process exited).
//!
//! A segment is untrusted input. [`SegmentView::open`] validates the file and
//! the header once and keeps private copies of the values that never change
//! (capacities, section offsets), so a writer that later scribbles on its
//! header cannot move the reader's bounds. [`SegmentView::sample`] re-reads
//! and re-checks the published counts on every call and reads every value
//! through bounds-checked accessors ([`super::region`]).
//!
//! Names are decoded once per entry (lossy UTF-8) and cached as `Arc<str>`:
//! entries are append-only, so a name below the published count never
//! changes. A 10 Hz sample of 16k functions then costs a few loads per
//! function and no allocation when [`SegmentView::sample_into`] reuses the
//! previous [`Sample`].

use std::fs::File;
use std::mem::{offset_of, size_of};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use rustix::fs::{Mode, OFlags};

use super::clock::now_unix_ns;
use super::error::IpcError;
use super::layout::{
    Capacities, FunctionId, FunctionKind, FunctionSlot, Header, LABEL_BYTES, LATENCY_RECORD_BYTES,
    LAYOUT_VERSION, MAGIC, MAX_LATENCY_RING_RECORDS, NAME_LOST, NAME_LOST_OFFSET, PatternId,
    PatternSlot, ProgressId, ProgressSlot, RING_CONTROL_BYTES, SECTION_ALIGN, flags,
};
use super::region::{Region, Scalar};
use super::ring::RingConsumer;

/// Header values of a segment, copied out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderInfo {
    /// Layout version.
    pub layout_version: u32,
    /// Writer's process id.
    pub pid: u32,
    /// Writer's parent process id at creation.
    pub parent_pid: u32,
    /// Writer's user id as recorded in the header.
    pub uid: u32,
    /// Writer's process start on `CLOCK_BOOTTIME`, in ns.
    pub process_start_boottime_ns: u64,
    /// Segment creation, in ns since the Unix epoch.
    pub created_unix_ns: u64,
    /// Label (script name, argv summary), lossy UTF-8.
    pub label: String,
    /// [`super::flags`] bits now.
    pub flags: u32,
    /// Live-control settings generation the process applies now
    /// (0 = environment).
    pub settings_generation: u64,
    /// Writer's last liveness mark, in ns since the Unix epoch (0 = never).
    pub last_update_unix_ns: u64,
    /// Table capacities.
    pub capacities: Capacities,
    /// 0 for a process's first segment, n for its n-th successor (see
    /// "Growing the function table" in [`super::layout`]).
    pub table_epoch: u32,
}

impl HeaderInfo {
    /// Whether the process marked its clean exit ([`flags::PROCESS_EXITED`]).
    pub fn exited(&self) -> bool {
        self.flags & flags::PROCESS_EXITED != 0
    }

    /// Whether the process moved on to a successor segment
    /// ([`flags::MOVED`]): this segment's counts are final.
    pub fn moved(&self) -> bool {
        self.flags & flags::MOVED != 0
    }
}

/// One function's counters at sample time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSample {
    /// Function id (slot index).
    pub id: FunctionId,
    /// `module:qualname`, `<other>` for slot 0, `<name lost>` if the arena
    /// was full.
    pub name: Arc<str>,
    /// What kind of function.
    pub kind: FunctionKind,
    /// Pattern slot that matched it (may be newer than the sampled patterns).
    pub pattern_slot: u32,
    /// Matching calls.
    pub calls: u64,
    /// Delayed calls.
    pub delayed_calls: u64,
    /// Delay actually injected, in ns.
    pub injected_ns: u64,
    /// Own time, in ns (see [`super::layout::FunctionSlot::own_ns`]).
    pub own_ns: u64,
}

/// One pattern's counters at sample time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternSample {
    /// Pattern id (slot index).
    pub id: PatternId,
    /// Pattern text, `<other>` for slot 0, `<name lost>` if the arena was full.
    pub name: Arc<str>,
    /// Settings generation the pattern belongs to.
    pub generation: u64,
    /// Whether it is an exclusion pattern.
    pub exclude: bool,
    /// Matching calls.
    pub calls: u64,
    /// Delayed calls.
    pub delayed_calls: u64,
    /// Delay actually injected, in ns.
    pub injected_ns: u64,
    /// Own time, in ns (see [`super::layout::PatternSlot::own_ns`]).
    pub own_ns: u64,
    /// Distinct functions matched.
    pub matched_functions: u64,
}

/// One progress counter at sample time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressSample {
    /// Progress id (slot index).
    pub id: ProgressId,
    /// Progress name; `""` is the default name.
    pub name: Arc<str>,
    /// Units of work reported.
    pub units: u64,
}

impl ProgressSample {
    /// The name to show: the default name `""` is shown as `progress`.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            "progress"
        } else {
            &self.name
        }
    }
}

/// Every published entry of a segment at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    /// Settings generation the process applies.
    pub generation: u64,
    /// [`super::flags`] bits.
    pub flags: u32,
    /// Writer's last liveness mark, in ns since the Unix epoch (0 = never).
    pub last_update_unix_ns: u64,
    /// Published functions, by id.
    pub functions: Vec<FunctionSample>,
    /// Published patterns, by id.
    pub patterns: Vec<PatternSample>,
    /// Published progress counters, by id.
    pub progress: Vec<ProgressSample>,
    /// When the sample was taken, in ns since the Unix epoch.
    pub taken_unix_ns: u64,
    /// The segment's table epoch ([`HeaderInfo::table_epoch`]): a sample
    /// with a higher epoch than the process's previous one comes from its
    /// successor segment, whose counters started again from zero.
    pub table_epoch: u32,
}

impl Sample {
    /// Whether the writer had moved to a successor segment when the sample
    /// was taken ([`flags::MOVED`]). The flags are read after the counters,
    /// so only a sample taken after one that says so is certainly final.
    pub fn moved(&self) -> bool {
        self.flags & flags::MOVED != 0
    }

    /// Sets every counter to zero, keeping ids and names: the baseline a
    /// successor segment's counters grow from.
    pub fn zero_counters(&mut self) {
        for f in &mut self.functions {
            (f.calls, f.delayed_calls, f.injected_ns, f.own_ns) = (0, 0, 0, 0);
        }
        for p in &mut self.patterns {
            (p.calls, p.delayed_calls, p.injected_ns, p.own_ns) = (0, 0, 0, 0);
            p.matched_functions = 0;
        }
        for p in &mut self.progress {
            p.units = 0;
        }
    }
}

/// Header values that never change after publication, copied at `open`.
#[derive(Debug, Clone)]
struct FixedHeader {
    layout_version: u32,
    pid: u32,
    parent_pid: u32,
    uid: u32,
    process_start_boottime_ns: u64,
    created_unix_ns: u64,
    label: String,
    caps: Capacities,
    function_table_offset: u64,
    pattern_table_offset: u64,
    progress_table_offset: u64,
    name_arena_offset: u64,
    /// Latency ring section (offset, records); `None` when there is none.
    latency_ring: Option<(u64, u32)>,
    table_epoch: u32,
}

/// Published counts loaded (with acquire) and checked for one sample.
#[derive(Debug, Clone, Copy)]
struct Published {
    functions: u32,
    patterns: u32,
    progress: u32,
    arena_used: u32,
}

/// Cached, never-changing part of a pattern entry.
#[derive(Debug, Clone)]
struct PatternMeta {
    name: Arc<str>,
    generation: u64,
    exclude: bool,
}

/// A validated, read-only view of one segment.
#[derive(Debug)]
pub struct SegmentView {
    region: Region,
    fixed: FixedHeader,
    functions: Vec<(Arc<str>, FunctionKind)>,
    patterns: Vec<PatternMeta>,
    progress: Vec<Arc<str>>,
    name_lost: Arc<str>,
    scratch: Vec<u8>,
}

/// Byte offset of a header field.
fn header_field(offset: usize) -> u64 {
    u64::try_from(offset).unwrap_or(u64::MAX)
}

impl SegmentView {
    /// Opens and validates the segment at `path`.
    ///
    /// Checks, in order: a regular file (symlinks are not followed) owned by
    /// `expected_uid` with no group/other permission bits; not empty and not
    /// all-zero magic ([`IpcError::NotReady`]: the writer is still creating
    /// it); at least a header long; magic; layout version; header size;
    /// `segment_size` equal to the file size; capacities in range; every
    /// section inside the segment after the header, 8-byte aligned; published
    /// counts within capacities.
    pub fn open(path: &Path, expected_uid: u32) -> Result<Self, IpcError> {
        let (file, meta) =
            open_private_segment(path, OFlags::RDONLY, "open segment", expected_uid)?;
        let size = meta.len();
        if size == 0 {
            return Err(IpcError::NotReady {
                path: path.to_path_buf(),
            });
        }
        let header_len = u64::try_from(size_of::<Header>()).unwrap_or(u64::MAX);
        if size < header_len {
            return Err(IpcError::Truncated {
                path: path.to_path_buf(),
                size,
                needed: header_len,
            });
        }
        let region = Region::new(size, file, path);
        let fixed = validate_header(&region, size)?;
        let view = Self {
            region,
            fixed,
            functions: Vec::new(),
            patterns: Vec::new(),
            progress: Vec::new(),
            name_lost: Arc::from(NAME_LOST),
            scratch: Vec::new(),
        };
        view.published()?;
        Ok(view)
    }

    /// The segment file.
    pub fn path(&self) -> &Path {
        self.region.path()
    }

    /// Header values now (the fixed ones as validated at `open`, the live
    /// ones — flags, generation, last update — loaded now).
    pub fn header(&self) -> HeaderInfo {
        let f = &self.fixed;
        HeaderInfo {
            layout_version: f.layout_version,
            pid: f.pid,
            parent_pid: f.parent_pid,
            uid: f.uid,
            process_start_boottime_ns: f.process_start_boottime_ns,
            created_unix_ns: f.created_unix_ns,
            label: f.label.clone(),
            flags: self.live(offset_of!(Header, flags)),
            settings_generation: self.live(offset_of!(Header, settings_generation)),
            last_update_unix_ns: self.live(offset_of!(Header, last_update_unix_ns)),
            capacities: f.caps,
            table_epoch: f.table_epoch,
        }
    }

    /// The settings generation the writer applies now (one load, no
    /// allocation: for polling).
    pub fn settings_generation(&self) -> u64 {
        self.live(offset_of!(Header, settings_generation))
    }

    /// The header's flags now (one load; see `layout::flags`).
    pub fn flags(&self) -> u32 {
        self.live(offset_of!(Header, flags))
    }

    /// Table capacities as validated at `open`.
    pub fn capacities(&self) -> Capacities {
        self.fixed.caps
    }

    /// Records in the segment's latency ring (0 = none).
    pub fn latency_ring_records(&self) -> u32 {
        self.fixed.latency_ring.map_or(0, |(_, records)| records)
    }

    /// Opens the consumer side of the segment's latency ring (`None` when the
    /// segment has none). Only the session's launcher may drain a ring: the
    /// consumer maps it writable to hand slots back to the producer.
    pub fn latency_ring(&self, expected_uid: u32) -> Result<Option<RingConsumer>, IpcError> {
        let Some((offset, records)) = self.fixed.latency_ring else {
            return Ok(None);
        };
        RingConsumer::open(
            self.path(),
            expected_uid,
            offset,
            records,
            self.fixed.caps.functions,
        )
        .map(Some)
    }

    /// Samples every published entry into a new [`Sample`].
    pub fn sample(&mut self) -> Result<Sample, IpcError> {
        let mut out = Sample::default();
        self.sample_into(&mut out)?;
        Ok(out)
    }

    /// Samples every published entry into `out`, reusing its vectors. On
    /// error `out` holds a partial sample and should be discarded.
    pub fn sample_into(&mut self, out: &mut Sample) -> Result<(), IpcError> {
        let published = self.published()?;
        self.decode_new_entries(published)?;

        out.functions.clear();
        for (index, (name, kind)) in (0u32..).zip(&self.functions) {
            let slot = slot_offset::<FunctionSlot>(self.fixed.function_table_offset, index);
            out.functions.push(FunctionSample {
                id: FunctionId(index),
                name: Arc::clone(name),
                kind: *kind,
                pattern_slot: self.field(slot, offset_of!(FunctionSlot, pattern_slot))?,
                calls: self.field(slot, offset_of!(FunctionSlot, calls))?,
                delayed_calls: self.field(slot, offset_of!(FunctionSlot, delayed_calls))?,
                injected_ns: self.field(slot, offset_of!(FunctionSlot, injected_ns))?,
                own_ns: self.field(slot, offset_of!(FunctionSlot, own_ns))?,
            });
        }
        out.patterns.clear();
        for (index, meta) in (0u32..).zip(&self.patterns) {
            let slot = slot_offset::<PatternSlot>(self.fixed.pattern_table_offset, index);
            out.patterns.push(PatternSample {
                id: PatternId(index),
                name: Arc::clone(&meta.name),
                generation: meta.generation,
                exclude: meta.exclude,
                calls: self.field(slot, offset_of!(PatternSlot, calls))?,
                delayed_calls: self.field(slot, offset_of!(PatternSlot, delayed_calls))?,
                injected_ns: self.field(slot, offset_of!(PatternSlot, injected_ns))?,
                own_ns: self.field(slot, offset_of!(PatternSlot, own_ns))?,
                matched_functions: self.field(slot, offset_of!(PatternSlot, matched_functions))?,
            });
        }
        out.progress.clear();
        for (index, name) in (0u32..).zip(&self.progress) {
            let slot = slot_offset::<ProgressSlot>(self.fixed.progress_table_offset, index);
            out.progress.push(ProgressSample {
                id: ProgressId(index),
                name: Arc::clone(name),
                units: self.field(slot, offset_of!(ProgressSlot, units))?,
            });
        }
        out.generation = self.live(offset_of!(Header, settings_generation));
        out.flags = self.live(offset_of!(Header, flags));
        out.last_update_unix_ns = self.live(offset_of!(Header, last_update_unix_ns));
        out.taken_unix_ns = now_unix_ns();
        out.table_epoch = self.fixed.table_epoch;
        Ok(())
    }

    // ---- internals -------------------------------------------------------

    /// A live header field (validated to be in bounds at `open`; 0 if not,
    /// or if the file shrank since: see `Region::check_size`).
    fn live<T: Scalar + Default>(&self, offset: usize) -> T {
        if self.region.check_size().is_err() {
            return T::default();
        }
        self.region
            .read_fresh(header_field(offset))
            .unwrap_or_default()
    }

    /// A field of the slot at byte offset `slot`.
    fn field<T: Scalar>(&self, slot: u64, field: usize) -> Result<T, IpcError> {
        let offset = slot.saturating_add(header_field(field));
        self.region.read(offset)
    }

    /// Loads the published counts (acquire) and checks them against the
    /// capacities validated at `open` and against the previous sample.
    fn published(&self) -> Result<Published, IpcError> {
        // Every sample starts here: a file shrunk under the mapping is an
        // error now, not a SIGBUS in the reads that follow.
        self.region.check_size()?;
        let caps = self.fixed.caps;
        let count = |field: usize, table: &'static str, capacity: u32, seen: usize| {
            let count: u32 = self.region.read_acquire(header_field(field))?;
            if count > capacity {
                return Err(IpcError::CountOverCapacity {
                    path: self.path().to_path_buf(),
                    table,
                    count: count.into(),
                    capacity: capacity.into(),
                });
            }
            let before = u64::try_from(seen).unwrap_or(u64::MAX);
            if u64::from(count) < before {
                return Err(IpcError::CountWentBackwards {
                    path: self.path().to_path_buf(),
                    table,
                    before,
                    now: count.into(),
                });
            }
            Ok(count)
        };
        // The arena count is loaded last: the writer grows it before it
        // publishes an entry, so it covers every name of the entries counted.
        Ok(Published {
            functions: count(
                offset_of!(Header, functions_published),
                "function table",
                caps.functions,
                self.functions.len(),
            )?,
            patterns: count(
                offset_of!(Header, patterns_published),
                "pattern table",
                caps.patterns,
                self.patterns.len(),
            )?,
            progress: count(
                offset_of!(Header, progress_published),
                "progress table",
                caps.progress,
                self.progress.len(),
            )?,
            arena_used: count(
                offset_of!(Header, name_arena_used),
                "name arena (bytes used)",
                caps.name_arena_bytes,
                0,
            )?,
        })
    }

    /// Decodes and caches the entries published since the last sample.
    fn decode_new_entries(&mut self, published: Published) -> Result<(), IpcError> {
        let base = self.fixed.function_table_offset;
        for index in cached_len(&self.functions)..published.functions {
            let slot = slot_offset::<FunctionSlot>(base, index);
            let kind_byte: u8 = self.field(slot, offset_of!(FunctionSlot, kind))?;
            let kind =
                FunctionKind::from_u8(kind_byte).ok_or_else(|| IpcError::InvalidFunctionKind {
                    path: self.path().to_path_buf(),
                    index,
                    value: kind_byte,
                })?;
            let name = self.name(
                "function table",
                index,
                slot,
                offset_of!(FunctionSlot, name_offset),
                offset_of!(FunctionSlot, name_len),
                published.arena_used,
            )?;
            self.functions.push((name, kind));
        }
        let base = self.fixed.pattern_table_offset;
        for index in cached_len(&self.patterns)..published.patterns {
            let slot = slot_offset::<PatternSlot>(base, index);
            let generation = self.field(slot, offset_of!(PatternSlot, generation))?;
            let exclude: u8 = self.field(slot, offset_of!(PatternSlot, exclude))?;
            let name = self.name(
                "pattern table",
                index,
                slot,
                offset_of!(PatternSlot, name_offset),
                offset_of!(PatternSlot, name_len),
                published.arena_used,
            )?;
            self.patterns.push(PatternMeta {
                name,
                generation,
                exclude: exclude != 0,
            });
        }
        let base = self.fixed.progress_table_offset;
        for index in cached_len(&self.progress)..published.progress {
            let slot = slot_offset::<ProgressSlot>(base, index);
            let name = self.name(
                "progress table",
                index,
                slot,
                offset_of!(ProgressSlot, name_offset),
                offset_of!(ProgressSlot, name_len),
                published.arena_used,
            )?;
            self.progress.push(name);
        }
        Ok(())
    }

    /// Reads and decodes the name of one entry, checking that it lies inside
    /// the used part of the arena.
    fn name(
        &mut self,
        table: &'static str,
        index: u32,
        slot: u64,
        offset_field: usize,
        len_field: usize,
        arena_used: u32,
    ) -> Result<Arc<str>, IpcError> {
        let offset: u32 = self.field(slot, offset_field)?;
        let len: u16 = self.field(slot, len_field)?;
        if offset == NAME_LOST_OFFSET && len == 0 {
            return Ok(Arc::clone(&self.name_lost));
        }
        let end = u64::from(offset).saturating_add(u64::from(len));
        if end > u64::from(arena_used) {
            return Err(IpcError::NameOutOfBounds {
                path: self.path().to_path_buf(),
                table,
                index,
                offset,
                len,
                arena_used,
            });
        }
        let start = self
            .fixed
            .name_arena_offset
            .saturating_add(u64::from(offset));
        let mut bytes = std::mem::take(&mut self.scratch);
        let copied = self.region.copy_bytes(start, u64::from(len), &mut bytes);
        let name = copied.map(|()| Arc::from(String::from_utf8_lossy(&bytes)));
        self.scratch = bytes;
        name
    }
}

/// Opens a segment file without following links (`access`: `RDONLY` or
/// `RDWR`) and checks that it is a regular file owned by `expected_uid`
/// with no group/other permission bits.
pub(crate) fn open_private_segment(
    path: &Path,
    access: OFlags,
    what: &'static str,
    expected_uid: u32,
) -> Result<(File, std::fs::Metadata), IpcError> {
    let fd = rustix::fs::open(
        path,
        access | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| IpcError::io(what, path, e.into()))?;
    let file = File::from(fd);
    let meta = file
        .metadata()
        .map_err(|e| IpcError::io("inspect segment", path, e))?;
    if !meta.file_type().is_file() {
        return Err(IpcError::NotARegularFile {
            path: path.to_path_buf(),
        });
    }
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
    Ok((file, meta))
}

/// Number of cached entries as a table index.
fn cached_len<T>(cache: &[T]) -> u32 {
    u32::try_from(cache.len()).unwrap_or(u32::MAX)
}

/// Byte offset of slot `index` of a table of `T` starting at `base`
/// (saturating: an impossible offset fails the region's bounds check).
fn slot_offset<T>(base: u64, index: u32) -> u64 {
    let size = u64::try_from(size_of::<T>()).unwrap_or(u64::MAX);
    base.saturating_add(u64::from(index).saturating_mul(size))
}

/// Checks the header of a freshly mapped segment of `size` bytes and copies
/// its fixed values.
fn validate_header(region: &Region, size: u64) -> Result<FixedHeader, IpcError> {
    let path = || region.path().to_path_buf();
    let read_u32 = |offset: usize| region.read::<u32>(header_field(offset));
    let read_u64 = |offset: usize| region.read::<u64>(header_field(offset));

    let magic: u64 = region.read_acquire(header_field(offset_of!(Header, magic)))?;
    if magic == 0 {
        return Err(IpcError::NotReady { path: path() });
    }
    if magic.to_ne_bytes() != MAGIC {
        return Err(IpcError::BadMagic {
            path: path(),
            found: magic.to_ne_bytes(),
        });
    }
    let layout_version = read_u32(offset_of!(Header, layout_version))?;
    if layout_version != LAYOUT_VERSION {
        return Err(IpcError::UnsupportedVersion {
            path: path(),
            found: layout_version,
            supported: LAYOUT_VERSION,
        });
    }
    let header_size = read_u32(offset_of!(Header, header_size))?;
    let min_header = u32::try_from(size_of::<Header>()).unwrap_or(u32::MAX);
    if header_size < min_header || header_size % 8 != 0 || u64::from(header_size) > size {
        return Err(IpcError::BadHeaderSize {
            path: path(),
            found: header_size,
            min: min_header,
        });
    }
    let segment_size = read_u64(offset_of!(Header, segment_size))?;
    if segment_size != size {
        return Err(IpcError::SizeMismatch {
            path: path(),
            declared: segment_size,
            actual: size,
        });
    }
    let caps = Capacities {
        functions: read_u32(offset_of!(Header, function_capacity))?,
        patterns: read_u32(offset_of!(Header, pattern_capacity))?,
        progress: read_u32(offset_of!(Header, progress_capacity))?,
        name_arena_bytes: read_u32(offset_of!(Header, name_arena_bytes))?,
    };
    if let Some((what, value, min, max)) = caps.first_out_of_range() {
        return Err(IpcError::BadCapacity {
            path: path(),
            what,
            value: value.into(),
            min: min.into(),
            max: max.into(),
        });
    }
    let sections = [
        (
            "function table",
            offset_of!(Header, function_table_offset),
            caps.functions,
            size_of::<FunctionSlot>(),
        ),
        (
            "pattern table",
            offset_of!(Header, pattern_table_offset),
            caps.patterns,
            size_of::<PatternSlot>(),
        ),
        (
            "progress table",
            offset_of!(Header, progress_table_offset),
            caps.progress,
            size_of::<ProgressSlot>(),
        ),
        (
            "name arena",
            offset_of!(Header, name_arena_offset),
            caps.name_arena_bytes,
            1,
        ),
    ];
    let mut offsets = [0u64; 4];
    for ((section, field, count, slot_size), out) in sections.into_iter().zip(&mut offsets) {
        let offset = read_u64(field)?;
        let len = u64::from(count).saturating_mul(u64::try_from(slot_size).unwrap_or(u64::MAX));
        let fits = offset >= u64::from(header_size)
            && offset % 8 == 0
            && offset
                .checked_add(len)
                .is_some_and(|end| end <= segment_size);
        if !fits {
            return Err(IpcError::SectionOutOfBounds {
                path: path(),
                section,
                offset,
                len,
                header_size: header_size.into(),
                segment_size,
            });
        }
        *out = offset;
    }
    let [
        function_table_offset,
        pattern_table_offset,
        progress_table_offset,
        name_arena_offset,
    ] = offsets;

    let latency_ring = validate_latency_ring(region, header_size, segment_size)?;

    let mut label_bytes = Vec::with_capacity(LABEL_BYTES);
    region.copy_bytes(
        header_field(offset_of!(Header, label)),
        u64::try_from(LABEL_BYTES).unwrap_or(0),
        &mut label_bytes,
    )?;
    let label_end = label_bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(label_bytes.len());
    let label =
        String::from_utf8_lossy(label_bytes.get(..label_end).unwrap_or_default()).into_owned();

    Ok(FixedHeader {
        layout_version,
        pid: read_u32(offset_of!(Header, pid))?,
        parent_pid: read_u32(offset_of!(Header, parent_pid))?,
        uid: read_u32(offset_of!(Header, uid))?,
        process_start_boottime_ns: read_u64(offset_of!(Header, process_start_boottime_ns))?,
        created_unix_ns: read_u64(offset_of!(Header, created_unix_ns))?,
        label,
        caps,
        function_table_offset,
        pattern_table_offset,
        progress_table_offset,
        name_arena_offset,
        latency_ring,
        table_epoch: read_u32(offset_of!(Header, table_epoch))?,
    })
}

/// Checks the latency ring fields: none (both zero), or a power-of-two
/// count of 24-byte records in a page-aligned section inside the segment.
fn validate_latency_ring(
    region: &Region,
    header_size: u32,
    segment_size: u64,
) -> Result<Option<(u64, u32)>, IpcError> {
    let offset: u64 = region.read(header_field(offset_of!(Header, latency_ring_offset)))?;
    let records: u32 = region.read(header_field(offset_of!(Header, latency_ring_records)))?;
    let record_bytes: u32 = region.read(header_field(offset_of!(Header, latency_record_bytes)))?;
    if offset == 0 && records == 0 {
        return Ok(None);
    }
    let len = u64::from(records)
        .saturating_mul(u64::from(LATENCY_RECORD_BYTES))
        .saturating_add(RING_CONTROL_BYTES);
    let fits = record_bytes == LATENCY_RECORD_BYTES
        && records.is_power_of_two()
        && records <= MAX_LATENCY_RING_RECORDS
        && offset >= u64::from(header_size)
        && offset % SECTION_ALIGN == 0
        && offset
            .checked_add(len)
            .is_some_and(|end| end <= segment_size);
    if !fits {
        return Err(IpcError::SectionOutOfBounds {
            path: region.path().to_path_buf(),
            section: "latency ring",
            offset,
            len,
            header_size: header_size.into(),
            segment_size,
        });
    }
    Ok(Some((offset, records)))
}
