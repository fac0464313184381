//! speedbump: find the Python code that limits a program's throughput by
//! slowing chosen functions on purpose and measuring the drop.
//!
//! The modules below `pattern`, `units` and `ipc` are the shared core: they
//! build without the command-line dependencies because the hook crate links
//! them into the target Python process. See ARCHITECTURE.md.

pub mod ipc;
pub mod pattern;
pub mod totals;
pub mod units;

#[cfg(feature = "cli")]
pub mod analysis;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cli")]
pub mod engine;
#[cfg(feature = "tui")]
pub mod server;
#[cfg(feature = "tui")]
pub mod tui;
