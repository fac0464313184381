//! The live session: runs a workload under the hook and observes and steers
//! it live, with no user interface (the command line and the TUI sit on top;
//! the experiments in [`crate::experiment`] drive it; [`crate::report::live`]
//! formats what it reports).
//!
//! | module | concern |
//! |---|---|
//! | [`session`] | [`LiveSession`]: start, steer, stop, finish; the [`Event`]s it sends |
//! | [`launch`] | the workload in its own process group, exact start time, signals |
//! | [`inject`] | loading the hook into a Python that lacks speedbump |
//! | [`watchdog`] | clean-up when the launcher itself is killed |
//! | [`environment`] | the workload's environment variables |
//! | [`sampler`] | finding and sampling the segments of the session |
//! | [`ticker`] | the sampling thread: a snapshot per tick |
//! | [`aggregate`] | totals and rates over processes, generation-safe |
//! | [`latency`] | request latency of latency points: HDR histograms from the rings |
//! | [`apply`] | how long a settings change takes to reach every process |
//! | [`output`] | the workload's output lines: shown and scanned |
//! | [`progress`] | throughput from output lines (`--progress-regex`) |
//! | [`throughput`] | the progress sources together, latency per unit |
//! | [`settings`] | [`LiveSettings`] and their control-block form |
//! | [`settings_script`] | scripted settings changes (`--schedule`, stdin) |
//! | [`snapshot`] | what is reported: samples, changes, the summary (JSON schema) |
//!
//! Only `session` starts threads and processes; the other modules are plain
//! functions and types, tested on their own.
//!
//! ```no_run
//! use std::sync::Arc;
//! use speedbump::live::{Event, LiveSession, LiveSettings, SessionConfig};
//!
//! let settings = LiveSettings { patterns: vec!["bench:*".into()], ..LiveSettings::default() };
//! let config = SessionConfig::new(vec!["python".into(), "bench.py".into()], settings);
//! let sink = Arc::new(|event: Event| {
//!     if let Event::Snapshot(s) = event {
//!         eprintln!("{} processes", s.processes.live);
//!     }
//! });
//! let session = LiveSession::start(config, sink)?;
//! let mut slower = session.settings();
//! slower.delay_ns = 10_000;
//! let generation = session.set_settings(slower)?;
//! let report = session.wait_applied(generation, std::time::Duration::from_millis(500));
//! eprintln!("applied in {:?} ms", report.max_latency_ms);
//! let summary = session.finish()?;
//! eprintln!("{} calls", summary.totals().calls);
//! # Ok::<(), speedbump::live::EngineError>(())
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod aggregate;
mod apply;
mod environment;
mod error;
mod inject;
pub mod interpreter;
pub(crate) mod latency;
pub mod launch;
pub mod output;
pub mod progress;
pub mod sampler;
mod session;
pub(crate) mod settings;
pub(crate) mod settings_script;
pub mod snapshot;
pub(crate) mod suggest;
mod throughput;
mod ticker;
pub mod watchdog;

pub use error::EngineError;
pub use session::{Event, EventSink, HookSource, LiveSession, SessionConfig, StopReason};
pub use settings::LiveSettings;
pub use snapshot::{ApplyReport, LiveSnapshot, RunSummary};
