//! The latency ring: one record per completed call of a latency point,
//! from the hook (the single producer, serialised by the GIL) to the
//! launcher (the single consumer), through the segment file: the producer
//! writes it through its mapping, the consumer reads and writes it at
//! positions (`pread`/`pwrite`), so a file shrunk under the launcher cannot
//! raise SIGBUS there.
//!
//! # Why not the `ringbuf` crate
//!
//! `ringbuf`'s storage is a heap allocation owned by Rust values (`Arc`ed
//! shared state with pointers inside): it cannot live in a file mapped at
//! different addresses by two processes, and neither side could validate
//! the other's indices. This ring is a `#[repr(C)]` block of plain atomics
//! at a fixed offset in the segment ([`RingControl`], then the
//! [`LatencyRecord`]s) in the segment file; indices are free-running
//! `u64` counts, so no pointer ever crosses the process boundary.
//!
//! # Protocol
//!
//! - The producer writes record `head % records`, then stores `head + 1`
//!   with `Release`. Before writing it checks for room against a cached
//!   `tail`; only when the ring looks full does it reload `tail` (`Acquire`).
//!   A full ring **drops** the record and bumps `dropped`: the program never
//!   waits for the launcher.
//! - The consumer loads `head` (`Acquire`), copies the records in
//!   `[tail, head)`, then stores `tail` (`Release`), which hands the slots
//!   back to the producer.
//!
//! The consumer trusts nothing it reads: a `head` behind its `tail` or more
//! than a ring ahead of it is a corrupt ring (reported, then skipped by
//! jumping to `head`), and a record naming a function outside the table or
//! ending before it starts is counted as invalid and skipped. The producer
//! only ever writes at `head % records`, so whatever the consumer's `tail`
//! says, it stays inside the ring.

use std::fs::File;
use std::mem::offset_of;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{Ordering, fence};

use rustix::fs::OFlags;

use super::error::IpcError;
use super::layout::{
    FunctionId, LATENCY_RECORD_BYTES, LatencyRecord, RING_CONTROL_BYTES, RingControl, latency_flags,
};
use super::reader::open_private_segment;

/// The producer side of a latency ring, held by the hook.
///
/// It holds raw pointers into the writer's mapping; see [`Self::push`] for
/// when they may be used.
#[derive(Debug)]
pub struct RingProducer {
    control: *const RingControl,
    records: *const LatencyRecord,
    mask: u64,
    capacity: u64,
    /// The consumer's `tail` as last loaded: room is checked against it and
    /// reloaded only when the ring looks full, so a push does not touch the
    /// consumer's cache line.
    cached_tail: u64,
}

// SAFETY: the pointers target a shared mapping, not thread-local data; the
// hook moves the producer between threads only with the GIL, which
// serialises every use (single producer).
unsafe impl Send for RingProducer {}

impl RingProducer {
    /// `records` must be a power of two; `control` and `first` must point
    /// into a live mapping holding the ring (see
    /// [`super::SegmentWriter::latency_producer`]).
    pub(crate) fn new(
        control: *const RingControl,
        first: *const LatencyRecord,
        records: u32,
    ) -> Self {
        let capacity = u64::from(records);
        // SAFETY: `control` points at the ring's control block inside the
        // writer's live mapping (caller's contract), aligned (page start).
        let cached_tail = unsafe { (*control).tail.load(Ordering::Acquire) };
        Self {
            control,
            records: first,
            mask: capacity.saturating_sub(1),
            capacity,
            cached_tail,
        }
    }

    /// Records one completed call; returns `false` (and counts a drop) when
    /// the ring is full. Never blocks.
    ///
    /// # Safety
    /// The [`super::SegmentWriter`] that made this producer is still alive
    /// (its mapping is not unmapped), and no other thread pushes at the same
    /// time (the hook holds the GIL).
    #[inline(always)]
    pub unsafe fn push(
        &mut self,
        function: FunctionId,
        flags: u32,
        start_ns: u64,
        end_ns: u64,
    ) -> bool {
        // SAFETY: the control block lies in the live mapping (contract).
        let control = unsafe { &*self.control };
        let head = control.head.load(Ordering::Relaxed);
        if head.wrapping_sub(self.cached_tail) >= self.capacity {
            self.cached_tail = control.tail.load(Ordering::Acquire);
            if head.wrapping_sub(self.cached_tail) >= self.capacity {
                control.dropped.store(
                    control.dropped.load(Ordering::Relaxed).wrapping_add(1),
                    Ordering::Relaxed,
                );
                return false;
            }
        }
        let index = usize::try_from(head & self.mask).unwrap_or(0);
        // SAFETY: index <= mask < capacity records, all inside the mapping;
        // the slot is free (head - tail < capacity: the consumer is done
        // with it), and the fields are atomics.
        let record = unsafe { &*self.records.wrapping_add(index) };
        record.function.store(function.0, Ordering::Relaxed);
        record.flags.store(flags, Ordering::Relaxed);
        record.start_ns.store(start_ns, Ordering::Relaxed);
        record.end_ns.store(end_ns, Ordering::Relaxed);
        control.head.store(head.wrapping_add(1), Ordering::Release);
        true
    }

    /// Records that did not fit so far (this process's drops).
    ///
    /// # Safety
    /// As for [`Self::push`].
    pub unsafe fn dropped(&self) -> u64 {
        // SAFETY: as in `push`.
        unsafe { (*self.control).dropped.load(Ordering::Relaxed) }
    }
}

/// One completed call read from a ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyEvent {
    /// The latency point (function id in the segment's function table).
    pub function: FunctionId,
    /// Bit set of [`latency_flags`].
    pub flags: u32,
    /// Start, `CLOCK_MONOTONIC` ns.
    pub start_ns: u64,
    /// Completion, `CLOCK_MONOTONIC` ns (`>= start_ns`).
    pub end_ns: u64,
}

impl LatencyEvent {
    /// End minus start, in ns.
    pub fn latency_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    /// Whether the call raised ([`latency_flags::ERROR`]).
    pub fn is_error(&self) -> bool {
        self.flags & latency_flags::ERROR != 0
    }
}

/// What one [`RingConsumer::drain`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Valid records passed to the callback.
    pub records: u64,
    /// Records skipped as invalid (unknown function, end before start).
    pub invalid: u64,
    /// The producer's cumulative drop count (ring full), as read now.
    pub dropped_total: u64,
    /// `Some(head)` when the ring's head was impossible (behind the tail or
    /// more than a ring ahead): nothing was read and the consumer jumped to
    /// it. Report it once; later drains continue from there.
    pub corrupt_head: Option<u64>,
    /// The segment file no longer covers the ring (shrunk by `ftruncate`):
    /// nothing was read (the reads came back short). The segment's sampling
    /// reports the damaged file.
    pub shrunk: bool,
}

impl DrainReport {
    /// Adds the report of a later drain of the same ring: records and
    /// invalid ones add up; the drop count, a corrupt head and a shrunk file
    /// are the latest known.
    pub fn merge(&mut self, later: DrainReport) {
        self.records = self.records.saturating_add(later.records);
        self.invalid = self.invalid.saturating_add(later.invalid);
        self.dropped_total = self.dropped_total.max(later.dropped_total);
        self.corrupt_head = later.corrupt_head.or(self.corrupt_head);
        self.shrunk |= later.shrunk;
    }
}

/// The consumer side of one segment's latency ring, held by the launcher.
/// Exactly one consumer may drain a ring (the session's launcher).
#[derive(Debug)]
pub struct RingConsumer {
    /// The segment file, read and written at positions (`pread`/`pwrite`),
    /// never mapped: a file shrunk under the consumer (`ftruncate` by the
    /// same user) gives a short read, not a SIGBUS in the launcher.
    file: File,
    /// Where the ring section starts in the file.
    base: u64,
    path: PathBuf,
    capacity: u64,
    mask: u64,
    /// Our own copy of `tail` (the shared one could be scribbled on).
    tail: u64,
    function_capacity: u32,
    /// Records copied out of the file by the last drain.
    buffer: Vec<u8>,
}

impl RingConsumer {
    /// Opens the ring section `[offset, offset + RING_CONTROL_BYTES +
    /// records × 24)` of the segment at `path` for reading and writing (the
    /// consumer publishes `tail`). `offset`, `records` and
    /// `function_capacity` come from a validated header
    /// ([`super::SegmentView::latency_ring`]); the file is checked again
    /// here (regular, owner, mode, size).
    pub fn open(
        path: &Path,
        expected_uid: u32,
        offset: u64,
        records: u32,
        function_capacity: u32,
    ) -> Result<Self, IpcError> {
        let capacity = u64::from(records);
        let len = capacity
            .checked_mul(u64::from(LATENCY_RECORD_BYTES))
            .and_then(|b| b.checked_add(RING_CONTROL_BYTES));
        let (file, meta) = open_private_segment(
            path,
            OFlags::RDWR,
            "open segment for its latency ring",
            expected_uid,
        )?;
        let fits = records.is_power_of_two()
            && offset % 4096 == 0
            && len
                .and_then(|len| offset.checked_add(len))
                .is_some_and(|end| end <= meta.len());
        let out_of_bounds = || IpcError::SectionOutOfBounds {
            path: path.to_path_buf(),
            section: "latency ring",
            offset,
            len: len.unwrap_or(u64::MAX),
            header_size: 0,
            segment_size: meta.len(),
        };
        if !fits {
            return Err(out_of_bounds());
        }
        let mut consumer = Self {
            file,
            base: offset,
            path: path.to_path_buf(),
            capacity,
            mask: capacity.saturating_sub(1),
            tail: 0,
            function_capacity,
            buffer: Vec::new(),
        };
        // Start where a previous consumer (if any) stopped, but never more
        // than one ring behind the head. The file may have shrunk since the
        // fstat above: then the words cannot be read.
        let (Some(tail), Some(head)) = (consumer.word(TAIL), consumer.word(HEAD)) else {
            return Err(out_of_bounds());
        };
        consumer.tail = if head.wrapping_sub(tail) <= capacity {
            tail
        } else {
            head
        };
        Ok(consumer)
    }

    /// The segment file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records in the ring.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The producer's cumulative drop count (0 when it cannot be read).
    pub fn dropped(&self) -> u64 {
        self.word(DROPPED).unwrap_or(0)
    }

    /// Passes every record published since the last drain to `each`, then
    /// hands their slots back to the producer.
    pub fn drain(&mut self, mut each: impl FnMut(LatencyEvent)) -> DrainReport {
        let shrunk = DrainReport {
            shrunk: true,
            ..DrainReport::default()
        };
        let Some(head) = self.word(HEAD) else {
            return shrunk;
        };
        // The records read below were complete before the producer's
        // `Release` store of `head`.
        fence(Ordering::Acquire);
        let mut report = DrainReport {
            dropped_total: self.dropped(),
            ..DrainReport::default()
        };
        let pending = head.wrapping_sub(self.tail);
        if pending > self.capacity {
            report.corrupt_head = Some(head);
            self.tail = head;
            self.publish_tail();
            return report;
        }
        if !self.copy_records(self.tail, pending) {
            return shrunk;
        }
        for record in self.buffer.chunks_exact(RECORD) {
            let event = decode(record);
            let valid = event.function.0 < self.function_capacity && event.end_ns >= event.start_ns;
            if valid {
                report.records = report.records.wrapping_add(1);
                each(event);
            } else {
                report.invalid = report.invalid.wrapping_add(1);
            }
        }
        self.tail = head;
        self.publish_tail();
        report
    }

    /// The control word at byte `offset` of the ring section, read from the
    /// file now; `None` when the file no longer holds it.
    fn word(&self, offset: usize) -> Option<u64> {
        let mut bytes = [0u8; 8];
        let at = self.base.checked_add(u64::try_from(offset).ok()?)?;
        self.file.read_exact_at(&mut bytes, at).ok()?;
        Some(u64::from_ne_bytes(bytes))
    }

    /// Stores our `tail` in the shared control block: one aligned 8-byte
    /// write, which the kernel copies whole (x86-64, aarch64), read by the
    /// producer with an atomic load. A file that shrank takes nothing.
    fn publish_tail(&self) {
        if let Some(at) = self.base.checked_add(TAIL as u64) {
            let _ = self.file.write_all_at(&self.tail.to_ne_bytes(), at);
        }
    }

    /// Copies `count` (≤ capacity) records from index `from` on into
    /// `buffer`, in order, in at most two reads (the ring wraps once);
    /// false when the file no longer holds them.
    fn copy_records(&mut self, from: u64, count: u64) -> bool {
        self.buffer.clear();
        let first = from & self.mask;
        let contiguous = count.min(self.capacity.saturating_sub(first));
        for (index, n) in [(first, contiguous), (0, count.saturating_sub(contiguous))] {
            if n == 0 {
                continue;
            }
            let start = self.buffer.len();
            let (Some(at), Ok(len)) = (
                index
                    .checked_mul(u64::from(LATENCY_RECORD_BYTES))
                    .and_then(|o| o.checked_add(RING_CONTROL_BYTES))
                    .and_then(|o| o.checked_add(self.base)),
                usize::try_from(n.saturating_mul(u64::from(LATENCY_RECORD_BYTES))),
            ) else {
                return false;
            };
            self.buffer.resize(start.saturating_add(len), 0);
            let Some(out) = self.buffer.get_mut(start..) else {
                return false;
            };
            if self.file.read_exact_at(out, at).is_err() {
                self.buffer.clear();
                return false;
            }
        }
        true
    }
}

/// Bytes of one record in the file.
const RECORD: usize = LATENCY_RECORD_BYTES as usize;

/// A record's fields from its bytes in the file (`LatencyRecord`'s layout,
/// native endian: the producer is on this machine).
fn decode(record: &[u8]) -> LatencyEvent {
    let u32_at = |at: usize| {
        record
            .get(at..at.saturating_add(4))
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_ne_bytes)
    };
    let u64_at = |at: usize| {
        record
            .get(at..at.saturating_add(8))
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_ne_bytes)
    };
    LatencyEvent {
        function: FunctionId(u32_at(offset_of!(LatencyRecord, function))),
        flags: u32_at(offset_of!(LatencyRecord, flags)),
        start_ns: u64_at(offset_of!(LatencyRecord, start_ns)),
        end_ns: u64_at(offset_of!(LatencyRecord, end_ns)),
    }
}

const HEAD: usize = std::mem::offset_of!(RingControl, head);
const DROPPED: usize = std::mem::offset_of!(RingControl, dropped);
const TAIL: usize = std::mem::offset_of!(RingControl, tail);
