//! Shared-memory telemetry between hooked Python processes and the launcher.
//!
//! Every hooked process owns one **segment**: a file in a private session
//! directory, mapped `MAP_SHARED` by the process (the writer, see
//! [`SegmentWriter`]) and read-only by any number of readers ([`SegmentView`]),
//! which may attach late or after the process has exited.
//!
//! # Why append-only and lock-free
//!
//! The writer runs inside somebody else's Python program, on the hot path of
//! every matched call, so it can neither block on a reader nor trust one.
//! Everything in a segment is therefore append-only: counters are `AtomicU64`s
//! that only grow, and tables grow by filling the next slot and then
//! publishing the new entry count with `Release`. A reader loads the count
//! with `Acquire` and reads only the entries below it, which the writer never
//! rewrites. No locks, no sequence numbers, no retries.
//!
//! # Trust
//!
//! Readers treat a segment as untrusted input: [`SegmentView::open`] checks the
//! owner, the permissions, the magic, the version and every section bound,
//! and [`SegmentView::sample`] re-checks every published count and every name
//! reference before it reads, so a corrupt or foreign segment is an
//! [`IpcError`] (skip it with a warning), never a crash or an out-of-bounds read.
//!
//! # Files
//!
//! - [`layout`]: the version-1 byte layout shared by both sides.
//! - [`writer`]: [`SegmentWriter`], used by the hook.
//! - [`reader`]: [`SegmentView`], used by the launcher.
//! - [`ring`]: the latency ring, one record per completed call of a latency
//!   point: [`RingProducer`] (hook) and [`RingConsumer`] (launcher). It is the
//!   one part of a segment that is a queue rather than append-only.
//! - [`session`]: the private session directory and stale-session cleanup.
//! - [`replace`]: replacing report files safely in shared directories.
//! - [`procfs`] and [`clock`]: process start times and clocks from the kernel.
//!
//! Live control (the `control` block that re-targets running processes) is
//! not part of this module yet; [`session::CONTROL_FILE_NAME`] reserves its
//! name inside the session directory.

#![deny(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented,
    clippy::unreachable,
    clippy::arithmetic_side_effects,
    clippy::undocumented_unsafe_blocks,
    clippy::print_stdout,
    clippy::print_stderr
)]

pub mod clock;
mod control;
mod error;
pub mod layout;
pub mod procfs;
mod reader;
mod region;
pub mod replace;
mod ring;
pub mod session;
mod writer;

pub use clock::boottime_ns_from_ticks;
pub use control::{
    CONTROL_SIZE, ControlReader, ControlSettings, ControlWriter, MAX_PATTERN_DELAYS,
    PATTERNS_BYTES, control_flags, control_path,
};
pub use error::IpcError;
pub use layout::{
    Capacities, DEFAULT_LATENCY_RING_RECORDS, FunctionId, FunctionKind, FunctionSlot, Header,
    PatternId, PatternSlot, ProgressId, ProgressSlot, flags, latency_flags,
};
pub use procfs::{current_uid, process_ended, process_start_ticks};
pub use reader::{FunctionSample, HeaderInfo, PatternSample, ProgressSample, Sample, SegmentView};
pub use ring::{DrainReport, LatencyEvent, RingConsumer, RingProducer};
pub use session::{
    BaseChoice, PrivateDir, Session, clean_stale_sessions, default_base_dir, ensure_session_dir,
    image_segment_path, list_segments, new_session_path, private_base, private_base_at,
    random_image_id, remove_session_dir, segment_path, session_owner,
};
pub use writer::{ProcessInfo, SegmentWriter};
