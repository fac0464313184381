//! speedbump-core: what the hook links into the target Python process.
//!
//! `pattern` (the targeting grammar and matcher), `units` (durations, counts
//! and their parsers), `ipc` (the shared-memory segments and the live control
//! block) and `totals` (a session's segments summed). This crate has no
//! command-line, terminal or async dependencies, so a workspace build cannot
//! pull them into the hook through feature unification. The `speedbump` crate
//! re-exports these modules at its root. See ARCHITECTURE.md.

pub mod ipc;
pub mod pattern;
pub mod totals;
pub mod units;
