//! Byte layout of a telemetry segment, version 2 (version 1 had no `own_ns`
//! counters: function slots of 40 bytes, pattern slots of 48).
//!
//! A segment is one file, mapped by its writer (the hook inside one Python
//! process) and by any number of readers. All structures are `#[repr(C)]` in
//! native endianness: writer and readers always run on the same machine. Every
//! field is naturally aligned (8-byte fields on 8-byte boundaries), so the
//! atomics can be used in place.
//!
//! ```text
//! offset 0                 Header (HEADER_RESERVED_BYTES reserved, 288 used)
//! function_table_offset    function_capacity × FunctionSlot (48 bytes)
//! pattern_table_offset     pattern_capacity  × PatternSlot  (56 bytes)
//! progress_table_offset    progress_capacity × ProgressSlot (16 bytes)
//! name_arena_offset        name_arena_bytes of UTF-8 names
//! latency_ring_offset      RingControl (128 bytes), then
//!                          latency_ring_records × LatencyRecord (24 bytes)
//! segment_size             end of file (page-aligned)
//! ```
//!
//! Sections start on page boundaries. The writer reserves the file's blocks
//! up front (`fallocate`; see `writer.rs`), so on tmpfs (`/dev/shm`,
//! `$XDG_RUNTIME_DIR`) a segment costs its full size in memory from the
//! start: default capacities stay modest, and a function table that fills
//! grows into a successor segment instead (below).
//!
//! # Publication protocol (append-only)
//!
//! Plain (non-atomic) fields are written exactly once, before the entry or
//! header that contains them is published, and never again:
//!
//! - the header is complete before [`Header::magic`] is stored with `Release`;
//!   a reader that loads the magic with `Acquire` and finds [`MAGIC`] sees
//!   every plain header field;
//! - a table entry (and its name bytes in the arena) is complete before the
//!   table's `*_published` count is stored with `Release`; a reader loads the
//!   count with `Acquire` and reads only entries below it.
//!
//! Atomic fields (counters, flags, `pattern_slot`, generations) change at any
//! time and are read with single loads. Counters only grow.
//!
//! The latency ring is the one section that is not append-only: it is a
//! single-producer/single-consumer queue of completed calls (see
//! [`super::ring`] for its protocol). A segment whose `latency_ring_records`
//! is 0 has no ring.
//!
//! # Growing the function table
//!
//! A table cannot grow in place (the sections are packed), so when a
//! process's function table fills, its hook moves to a *successor* segment:
//! a new file with a larger function table (and name arena), the same
//! entries replayed in the same order (every id the hook cached stays
//! valid) and counters starting at zero; its [`Header::table_epoch`] is its
//! predecessor's plus one. Once the hook counts only in the successor it
//! sets [`flags::MOVED`] in the predecessor, whose counters are final from
//! then on. A process's counts are the sum over all its segments: readers
//! that sum per segment (totals, edges) need nothing more than to count the
//! process once; readers that follow one segment per process (the live
//! sampler) read the predecessor until they see `MOVED`, once more, and then
//! continue with the successor from zero (ARCHITECTURE.md).

use std::mem::{align_of, offset_of, size_of};
use std::sync::atomic::{AtomicU32, AtomicU64};

use super::error::IpcError;

/// The first eight bytes of every segment.
pub const MAGIC: [u8; 8] = *b"SPDBUMP\0";
/// The layout version this build writes and reads.
pub const LAYOUT_VERSION: u32 = 2;
/// Bytes reserved for the header at the start of the segment; later fields
/// can be added inside this reservation without moving the tables.
pub const HEADER_RESERVED_BYTES: u32 = 4096;
/// Alignment of every section start (one page).
pub const SECTION_ALIGN: u64 = 4096;
/// Longest name stored, in bytes; longer names are cut on a char boundary.
pub const MAX_NAME_BYTES: usize = 1024;
/// Size of [`Header::label`] in bytes.
pub const LABEL_BYTES: usize = 128;
/// Name of the overflow buckets (function slot 0 and pattern slot 0).
pub const OTHER_NAME: &str = "<other>";
/// What readers show for an entry whose name did not fit in the arena.
pub const NAME_LOST: &str = "<name lost>";
/// `name_offset` of an entry whose name did not fit in the arena
/// (its `name_len` is 0).
pub const NAME_LOST_OFFSET: u32 = u32::MAX;

/// Largest supported function table, in slots.
pub const MAX_FUNCTION_CAPACITY: u32 = 1 << 22;
/// Largest supported pattern table, in slots.
pub const MAX_PATTERN_CAPACITY: u32 = 1 << 20;
/// Largest supported progress table, in slots.
pub const MAX_PROGRESS_CAPACITY: u32 = 1 << 16;
/// Largest supported name arena, in bytes (offsets must stay below
/// [`NAME_LOST_OFFSET`]).
pub const MAX_NAME_ARENA_BYTES: u32 = 1 << 30;

/// Bits of [`Header::flags`].
pub mod flags {
    /// `add_function` found the function table full; later functions are
    /// counted in slot 0 (`<other>`).
    pub const FUNCTION_TABLE_FULL: u32 = 1 << 0;
    /// A name did not fit in the name arena; its entry shows `<name lost>`.
    pub const NAME_ARENA_FULL: u32 = 1 << 1;
    /// `add_pattern` found the pattern table full; later patterns are
    /// counted in slot 0 (`<other>`).
    pub const PATTERN_TABLE_FULL: u32 = 1 << 2;
    /// `add_progress` found the progress table full; later progress names
    /// are counted in slot 0 (the default progress name).
    pub const PROGRESS_TABLE_FULL: u32 = 1 << 3;
    /// The writer's process exited cleanly (set at interpreter shutdown).
    pub const PROCESS_EXITED: u32 = 1 << 4;
    /// The writer moved to a successor segment with a larger function table
    /// (see "Growing the function table" above): this segment's counters
    /// are final.
    pub const MOVED: u32 = 1 << 5;

    /// What each flag worth a warning tells the user: the one table that
    /// `run`, `inspect` and the hook's exit summary all report from.
    pub const WARNINGS: [(u32, &str); 4] = [
        (
            FUNCTION_TABLE_FULL,
            "its function table is full; further functions are counted together as <other> \
             (counts are kept; narrow the patterns to see them by name)",
        ),
        (
            PATTERN_TABLE_FULL,
            "its pattern table is full; every function is still counted by name, but the \
             patterns past the table share one per-pattern row, <other>",
        ),
        (
            PROGRESS_TABLE_FULL,
            "its progress table is full; further progress names count under the default name",
        ),
        (
            NAME_ARENA_FULL,
            "its name area is full; further names show as <name lost>",
        ),
    ];

    /// The [`WARNINGS`] that `bits` raise, as (flag, message), in table order.
    pub fn warnings(bits: u32) -> impl Iterator<Item = (u32, &'static str)> {
        WARNINGS
            .into_iter()
            .filter(move |&(flag, _)| bits & flag != 0)
    }
}

/// Segment header at offset 0.
#[repr(C)]
#[derive(Debug)]
pub struct Header {
    /// The bytes of [`MAGIC`], stored as one native-endian `u64` so it can be
    /// published with `Release` after every other header field is written.
    /// Zero means "still being initialised".
    pub magic: AtomicU64,
    /// [`LAYOUT_VERSION`] of this segment.
    pub layout_version: u32,
    /// Bytes reserved for the header (sections start at or after it).
    pub header_size: u32,
    /// Total segment size in bytes; equals the file size.
    pub segment_size: u64,
    /// Process id of the writer.
    pub pid: u32,
    /// User id of the writer.
    pub uid: u32,
    /// Parent process id of the writer at creation.
    pub parent_pid: u32,
    /// Bit set of [`flags`]; only ever gains bits.
    pub flags: AtomicU32,
    /// When the writer's process started, in ns on `CLOCK_BOOTTIME`
    /// (from `/proc/<pid>/stat` field 22, so clock-tick resolution).
    pub process_start_boottime_ns: u64,
    /// When the segment was created, in ns since the Unix epoch.
    pub created_unix_ns: u64,
    /// Function table size, in slots.
    pub function_capacity: u32,
    /// Pattern table size, in slots.
    pub pattern_capacity: u32,
    /// Progress table size, in slots.
    pub progress_capacity: u32,
    /// Name arena size, in bytes.
    pub name_arena_bytes: u32,
    /// Byte offset of the function table from the segment start.
    pub function_table_offset: u64,
    /// Byte offset of the pattern table from the segment start.
    pub pattern_table_offset: u64,
    /// Byte offset of the progress table from the segment start.
    pub progress_table_offset: u64,
    /// Byte offset of the name arena from the segment start.
    pub name_arena_offset: u64,
    /// Function slots published (readable), stored with `Release`.
    pub functions_published: AtomicU32,
    /// Pattern slots published (readable), stored with `Release`.
    pub patterns_published: AtomicU32,
    /// Progress slots published (readable), stored with `Release`.
    pub progress_published: AtomicU32,
    /// Name arena bytes in use, in bytes.
    pub name_arena_used: AtomicU32,
    /// Generation of the live-control settings this process applies now;
    /// 0 means settings from the environment.
    pub settings_generation: AtomicU64,
    /// Last time the writer said it was alive, in ns since the Unix epoch
    /// (0 = never); readers show it as liveness.
    pub last_update_unix_ns: AtomicU64,
    /// Human label (script name, argv summary): UTF-8, NUL-padded, cut on a
    /// char boundary.
    pub label: [u8; LABEL_BYTES],
    /// Byte offset of the latency ring section (page-aligned; 0 = no ring).
    pub latency_ring_offset: u64,
    /// Records the latency ring holds (a power of two; 0 = no ring).
    pub latency_ring_records: u32,
    /// Size of one [`LatencyRecord`] in bytes (24), so a reader can refuse a
    /// ring it does not understand.
    pub latency_record_bytes: u32,
    /// 0 for a process's first segment; a successor made when the function
    /// table filled has its predecessor's epoch plus one (see "Growing the
    /// function table" above).
    pub table_epoch: u32,
    /// Zero; keeps the header a multiple of 8 bytes.
    pub reserved: u32,
}

/// What a function slot counts.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FunctionKind {
    /// A Python function (code object), seen through `PY_START`/`PY_RESUME`.
    Python = 0,
    /// A C function, seen through `CALL`.
    C = 1,
    /// The `<other>` overflow bucket.
    Other = 2,
}

impl FunctionKind {
    /// The byte stored in [`FunctionSlot::kind`].
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Decodes a stored kind byte; `None` for unknown values.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Python),
            1 => Some(Self::C),
            2 => Some(Self::Other),
            _ => None,
        }
    }
}

/// Ids compare with plain slot numbers (`id == 0`, `id == function.pattern_slot`).
macro_rules! id_eq_u32 {
    ($($id:ty),*) => {$(
        impl PartialEq<u32> for $id {
            fn eq(&self, other: &u32) -> bool {
                self.0 == *other
            }
        }
    )*};
}
id_eq_u32!(FunctionId, PatternId, ProgressId);

/// Index of a function slot. Slot 0 is the `<other>` overflow bucket.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FunctionId(pub u32);

impl FunctionId {
    /// The `<other>` overflow bucket.
    pub const OTHER: Self = Self(0);
}

/// Index of a pattern slot. Slot 0 is the `<other>` overflow bucket.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PatternId(pub u32);

impl PatternId {
    /// The `<other>` overflow bucket.
    pub const OTHER: Self = Self(0);
}

/// Index of a progress slot. Slot 0 is the default progress name `""`.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ProgressId(pub u32);

impl ProgressId {
    /// The default progress name `""` (shown as `progress`).
    pub const DEFAULT: Self = Self(0);
}

/// One function's counters (48 bytes). The three call counters come first
/// so a matched call touches the slot's first 24 bytes only.
#[repr(C)]
#[derive(Debug)]
pub struct FunctionSlot {
    /// Matching calls seen, delayed or not.
    pub calls: AtomicU64,
    /// Calls that got a delay (every Nth call, inside the time window).
    pub delayed_calls: AtomicU64,
    /// Delay actually spun for this function, in ns.
    pub injected_ns: AtomicU64,
    /// Own time (docs/ranking.md, "Own time per unit"), in ns: time spent
    /// inside the pattern this function matched, from an outermost entry
    /// into that pattern made through this function to its exit, on the
    /// same thread; suspended generators and coroutines excluded. Counted
    /// only while the settings ask for it (control flag `OWN_TIME`).
    pub own_ns: AtomicU64,
    /// Pattern slot that matched this function; rewritten when live control
    /// re-targets the process. May name a pattern a reader has not seen yet.
    pub pattern_slot: AtomicU32,
    /// Offset of the name (`module:qualname`) in the name arena, in bytes;
    /// [`NAME_LOST_OFFSET`] when the arena was full.
    pub name_offset: u32,
    /// Name length in bytes.
    pub name_len: u16,
    /// [`FunctionKind`] as a byte.
    pub kind: u8,
    _pad: [u8; 5],
}

impl FunctionSlot {
    /// A slot with zero counters and no name (for counters kept outside a
    /// segment, e.g. the hook's calibration probe).
    pub const fn zeroed() -> Self {
        Self {
            calls: AtomicU64::new(0),
            delayed_calls: AtomicU64::new(0),
            injected_ns: AtomicU64::new(0),
            own_ns: AtomicU64::new(0),
            pattern_slot: AtomicU32::new(0),
            name_offset: 0,
            name_len: 0,
            kind: 0,
            _pad: [0; 5],
        }
    }
}

/// One pattern's counters (56 bytes). Each (settings generation, pattern
/// text) gets its own slot, so counts from earlier settings stay readable.
#[repr(C)]
#[derive(Debug)]
pub struct PatternSlot {
    /// Matching calls seen, delayed or not.
    pub calls: AtomicU64,
    /// Calls that got a delay.
    pub delayed_calls: AtomicU64,
    /// Delay actually spun for this pattern, in ns.
    pub injected_ns: AtomicU64,
    /// Own time inside this pattern, in ns: outermost entries to their
    /// exits, per thread, suspended generators excluded (see
    /// [`FunctionSlot::own_ns`]).
    pub own_ns: AtomicU64,
    /// Distinct functions this pattern matched so far.
    pub matched_functions: AtomicU64,
    /// Settings generation the pattern belongs to (0 = environment).
    pub generation: u64,
    /// Offset of the pattern text in the name arena, in bytes;
    /// [`NAME_LOST_OFFSET`] when the arena was full.
    pub name_offset: u32,
    /// Pattern text length in bytes.
    pub name_len: u16,
    /// 1 for an exclusion pattern (`!pattern`), else 0.
    pub exclude: u8,
    _pad: u8,
}

impl PatternSlot {
    /// A slot with zero counters and no name.
    pub const fn zeroed() -> Self {
        Self {
            calls: AtomicU64::new(0),
            delayed_calls: AtomicU64::new(0),
            injected_ns: AtomicU64::new(0),
            own_ns: AtomicU64::new(0),
            matched_functions: AtomicU64::new(0),
            generation: 0,
            name_offset: 0,
            name_len: 0,
            exclude: 0,
            _pad: 0,
        }
    }
}

/// One progress name's counter (16 bytes).
#[repr(C)]
#[derive(Debug)]
pub struct ProgressSlot {
    /// Units of work reported (`speedbump.progress(n)` adds n).
    pub units: AtomicU64,
    /// Offset of the progress name in the name arena, in bytes;
    /// [`NAME_LOST_OFFSET`] when the arena was full.
    pub name_offset: u32,
    /// Name length in bytes.
    pub name_len: u16,
    _pad: [u8; 2],
}

/// Default number of records in a segment's latency ring (1.5 MiB; pages
/// are touched only once latency records are written).
pub const DEFAULT_LATENCY_RING_RECORDS: u32 = 1 << 16;
/// Largest supported latency ring, in records.
pub const MAX_LATENCY_RING_RECORDS: u32 = 1 << 24;
/// Size of [`RingControl`] in bytes; records follow it.
pub const RING_CONTROL_BYTES: u64 = 128;
/// Size of one [`LatencyRecord`] in bytes.
pub const LATENCY_RECORD_BYTES: u32 = 24;

/// Bits of [`LatencyRecord::flags`].
pub mod latency_flags {
    /// The call ended by an exception (`PY_UNWIND`, or an exception leaving
    /// a `speedbump.latency()` block): a request that failed.
    pub const ERROR: u32 = 1 << 0;
}

/// The head of the latency ring section. The producer's fields and the
/// consumer's `tail` live on different cache lines.
#[repr(C)]
#[derive(Debug)]
pub struct RingControl {
    /// Records written so far (the next record goes to `head % records`);
    /// stored with `Release` by the producer after the record is complete.
    pub head: AtomicU64,
    /// Completions not recorded because the ring was full (never blocks).
    pub dropped: AtomicU64,
    _producer_pad: [u64; 6],
    /// Records consumed so far; stored with `Release` by the single consumer
    /// (the launcher) after it has copied them out.
    pub tail: AtomicU64,
    _consumer_pad: [u64; 7],
}

/// One completed call of a latency point (24 bytes). Fields are atomics only
/// so that both sides access shared memory without data races in the Rust
/// memory model; they are written with `Relaxed` stores (plain moves) and
/// published by [`RingControl::head`].
#[repr(C)]
#[derive(Debug)]
pub struct LatencyRecord {
    /// Function id (slot in the function table) of the latency point.
    pub function: AtomicU32,
    /// Bit set of [`latency_flags`].
    pub flags: AtomicU32,
    /// When the call started, `CLOCK_MONOTONIC` ns.
    pub start_ns: AtomicU64,
    /// When the call completed, `CLOCK_MONOTONIC` ns.
    pub end_ns: AtomicU64,
}

// The layout is a file format: pin it.
const _: () = {
    assert!(size_of::<Header>() == 288);
    assert!(offset_of!(Header, latency_ring_offset) == 264);
    assert!(offset_of!(Header, table_epoch) == 280);
    assert!(size_of::<RingControl>() == RING_CONTROL_BYTES as usize);
    assert!(offset_of!(RingControl, tail) == 64);
    assert!(size_of::<LatencyRecord>() == LATENCY_RECORD_BYTES as usize);
    assert!(align_of::<LatencyRecord>() == 8);
    assert!(size_of::<Header>() <= HEADER_RESERVED_BYTES as usize);
    assert!(offset_of!(Header, functions_published) == 104);
    assert!(offset_of!(Header, settings_generation) == 120);
    assert!(offset_of!(Header, label) == 136);
    assert!(size_of::<FunctionSlot>() == 48);
    assert!(offset_of!(FunctionSlot, own_ns) == 24);
    assert!(size_of::<PatternSlot>() == 56);
    assert!(offset_of!(PatternSlot, own_ns) == 24);
    assert!(size_of::<ProgressSlot>() == 16);
    assert!(align_of::<Header>() == 8);
    assert!(align_of::<FunctionSlot>() == 8);
    assert!(align_of::<PatternSlot>() == 8);
    assert!(align_of::<ProgressSlot>() == 8);
    assert!(MAX_NAME_BYTES <= u16::MAX as usize);
};

/// Table sizes of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capacities {
    /// Function slots, including slot 0 (`<other>`).
    pub functions: u32,
    /// Pattern slots, including slot 0 (`<other>`).
    pub patterns: u32,
    /// Progress slots, including slot 0 (default name).
    pub progress: u32,
    /// Name arena size in bytes.
    pub name_arena_bytes: u32,
}

impl Default for Capacities {
    /// 16384 functions, 1024 patterns, 256 progress names, 4 MiB of names
    /// (about 5 MiB, reserved when the segment is created; a full function
    /// table grows into a successor segment).
    fn default() -> Self {
        Self {
            functions: 16384,
            patterns: 1024,
            progress: 256,
            name_arena_bytes: 4 << 20,
        }
    }
}

/// The allowed range of each capacity: (name, value, min, max).
fn capacity_bounds(caps: &Capacities) -> [(&'static str, u32, u32, u32); 4] {
    [
        (
            "function_capacity",
            caps.functions,
            1,
            MAX_FUNCTION_CAPACITY,
        ),
        ("pattern_capacity", caps.patterns, 1, MAX_PATTERN_CAPACITY),
        ("progress_capacity", caps.progress, 1, MAX_PROGRESS_CAPACITY),
        (
            "name_arena_bytes",
            caps.name_arena_bytes,
            0,
            MAX_NAME_ARENA_BYTES,
        ),
    ]
}

impl Capacities {
    /// Checks every capacity against its supported range.
    pub fn validate(&self) -> Result<(), IpcError> {
        for (what, value, min, max) in capacity_bounds(self) {
            if value < min || value > max {
                return Err(IpcError::InvalidCapacities {
                    what,
                    value: value.into(),
                    min: min.into(),
                    max: max.into(),
                });
            }
        }
        Ok(())
    }

    /// The first capacity outside its range, as (name, value, min, max).
    pub(crate) fn first_out_of_range(&self) -> Option<(&'static str, u32, u32, u32)> {
        capacity_bounds(self)
            .into_iter()
            .find(|&(_, value, min, max)| value < min || value > max)
    }
}

/// Where each section starts, as the writer lays them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionLayout {
    /// Byte offset of the function table.
    pub function_table_offset: u64,
    /// Byte offset of the pattern table.
    pub pattern_table_offset: u64,
    /// Byte offset of the progress table.
    pub progress_table_offset: u64,
    /// Byte offset of the name arena.
    pub name_arena_offset: u64,
    /// Byte offset of the latency ring (0 when it holds no records).
    pub latency_ring_offset: u64,
    /// Records in the latency ring (0 = none).
    pub latency_ring_records: u32,
    /// Total segment size in bytes (page-aligned).
    pub segment_size: u64,
}

impl SectionLayout {
    /// Lays out the sections for `caps` and the default latency ring, each
    /// on a page boundary.
    pub fn for_capacities(caps: &Capacities) -> Result<Self, IpcError> {
        Self::with_ring(caps, DEFAULT_LATENCY_RING_RECORDS)
    }

    /// Lays out the sections for `caps` and a latency ring of
    /// `latency_ring_records` (0, or a power of two up to
    /// [`MAX_LATENCY_RING_RECORDS`]).
    pub fn with_ring(caps: &Capacities, latency_ring_records: u32) -> Result<Self, IpcError> {
        caps.validate()?;
        if latency_ring_records > MAX_LATENCY_RING_RECORDS
            || (latency_ring_records != 0 && !latency_ring_records.is_power_of_two())
        {
            return Err(IpcError::InvalidCapacities {
                what: "latency_ring_records (0 or a power of two)",
                value: latency_ring_records.into(),
                min: 0,
                max: MAX_LATENCY_RING_RECORDS.into(),
            });
        }
        let overflow = || IpcError::InvalidCapacities {
            what: "total segment size",
            value: u64::MAX,
            min: 0,
            max: u64::MAX,
        };
        let after = |offset: u64, count: u32, slot: usize| -> Option<u64> {
            let bytes = u64::from(count).checked_mul(u64::try_from(slot).ok()?)?;
            align_up(offset.checked_add(bytes)?, SECTION_ALIGN)
        };
        let function_table_offset = u64::from(HEADER_RESERVED_BYTES);
        let pattern_table_offset = after(
            function_table_offset,
            caps.functions,
            size_of::<FunctionSlot>(),
        )
        .ok_or_else(overflow)?;
        let progress_table_offset = after(
            pattern_table_offset,
            caps.patterns,
            size_of::<PatternSlot>(),
        )
        .ok_or_else(overflow)?;
        let name_arena_offset = after(
            progress_table_offset,
            caps.progress,
            size_of::<ProgressSlot>(),
        )
        .ok_or_else(overflow)?;
        let arena_end = after(name_arena_offset, caps.name_arena_bytes, 1).ok_or_else(overflow)?;
        let (latency_ring_offset, segment_size) = if latency_ring_records == 0 {
            (0, arena_end)
        } else {
            let records = u64::from(latency_ring_records)
                .checked_mul(u64::from(LATENCY_RECORD_BYTES))
                .and_then(|bytes| bytes.checked_add(RING_CONTROL_BYTES))
                .ok_or_else(overflow)?;
            let end = arena_end
                .checked_add(records)
                .and_then(|end| align_up(end, SECTION_ALIGN))
                .ok_or_else(overflow)?;
            (arena_end, end)
        };
        Ok(Self {
            function_table_offset,
            pattern_table_offset,
            progress_table_offset,
            name_arena_offset,
            latency_ring_offset,
            latency_ring_records,
            segment_size,
        })
    }
}

/// Rounds `value` up to a multiple of `align` (a power of two).
fn align_up(value: u64, align: u64) -> Option<u64> {
    let mask = align.checked_sub(1)?;
    Some(value.checked_add(mask)? & !mask)
}

/// The longest prefix of `s` that is at most `max` bytes and ends on a char
/// boundary.
pub(crate) fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn default_layout_is_page_aligned_and_ordered() {
        let l = SectionLayout::for_capacities(&Capacities::default()).unwrap();
        assert_eq!(l.function_table_offset, 4096);
        assert_eq!(l.pattern_table_offset, 4096 + 16384 * 48);
        assert_eq!(l.progress_table_offset, l.pattern_table_offset + 1024 * 56);
        assert_eq!(l.name_arena_offset, l.progress_table_offset + 4096);
        assert_eq!(l.latency_ring_offset, l.name_arena_offset + (4 << 20));
        assert_eq!(l.latency_ring_records, DEFAULT_LATENCY_RING_RECORDS);
        assert_eq!(
            l.segment_size,
            l.latency_ring_offset + 128 + (24 << 16) + 4096 - 128
        );
    }

    #[test]
    fn ring_sizes_must_be_powers_of_two() {
        let caps = Capacities::default();
        let none = SectionLayout::with_ring(&caps, 0).unwrap();
        assert_eq!(none.latency_ring_offset, 0);
        let err = SectionLayout::with_ring(&caps, 1000).unwrap_err();
        assert!(err.to_string().contains("latency_ring_records"), "{err}");
        assert!(SectionLayout::with_ring(&caps, MAX_LATENCY_RING_RECORDS * 2).is_err());
    }

    #[test]
    fn zero_capacity_is_rejected_with_its_name() {
        let caps = Capacities {
            functions: 0,
            ..Capacities::default()
        };
        let err = SectionLayout::for_capacities(&caps).unwrap_err();
        assert!(err.to_string().contains("function_capacity = 0"), "{err}");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_utf8("abc", 5), "abc");
        assert_eq!(truncate_utf8("abc", 2), "ab");
        // 'é' is two bytes: cutting inside it drops it whole.
        assert_eq!(truncate_utf8("aé", 2), "a");
        assert_eq!(truncate_utf8("é", 0), "");
    }

    #[test]
    fn kind_round_trips() {
        for k in [FunctionKind::Python, FunctionKind::C, FunctionKind::Other] {
            assert_eq!(FunctionKind::from_u8(k.as_u8()), Some(k));
        }
        assert_eq!(FunctionKind::from_u8(3), None);
    }
}
