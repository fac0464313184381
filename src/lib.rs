//! speedbump: find the Python code that limits a program's throughput by
//! slowing chosen functions on purpose and measuring the drop.
//!
//! `ipc`, `pattern`, `totals` and `units` are the shared core: they live in
//! the `speedbump-core` crate (core/), which the hook links into the target
//! Python process without any command-line dependency, and are re-exported
//! here so `speedbump::ipc::...` keeps working. See ARCHITECTURE.md.

pub use speedbump_core::{error, ipc, pattern, totals, units};

#[cfg(feature = "cli")]
pub mod analysis;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cli")]
pub mod experiment;
#[cfg(feature = "cli")]
pub mod live;
#[cfg(feature = "cli")]
pub mod report;
#[cfg(feature = "tui")]
pub mod server;
#[cfg(feature = "tui")]
pub mod tui;
