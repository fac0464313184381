//! What an experiment needs from a workload, as a trait: put settings in
//! force, measure a window, count calls per function, restart it.
//!
//! Three implementations: [`super::live::LiveTarget`] (one long-running
//! process, settings switched through the control block),
//! [`super::restart::RestartTarget`] (one run of the command per window, as
//! in docs/methodology.md) and [`super::fake::FakeTarget`] (a simulated workload
//! with a known answer, for testing the experiment logic without Python).
//! [`super::auto::AutoTarget`] switches from live to restart when the
//! workload exits on its own. The experiments ([`super::paired`],
//! [`super::sweep`], [`super::rank`], [`super::census`]) only see this
//! trait, so their scheduling and statistics are tested on the fake.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::analysis::{CensusEntry, Window};
use crate::live::{EngineError, LiveSettings};

use super::protocol::Mode;

/// How a workload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    /// Exit code, when it exited.
    pub status: Option<i32>,
    /// Signal number, when a signal ended it.
    pub signal: Option<i32>,
    /// Its last output lines (stdout and stderr, in order).
    pub last_lines: Vec<String>,
}

impl ExitInfo {
    /// Whether it exited with status 0.
    pub fn success(&self) -> bool {
        self.status == Some(0) && self.signal.is_none()
    }

    /// `exit status 1`, `killed by signal 11`.
    pub fn describe(&self) -> String {
        match (self.status, self.signal) {
            (_, Some(signal)) => format!("killed by signal {signal}"),
            (Some(code), None) => format!("exit status {code}"),
            (None, None) => "an unknown status".to_owned(),
        }
    }
}

/// Why a target could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The workload ended on its own (live mode), or a run failed (restart
    /// mode).
    #[error("the workload ended ({})", .0.describe())]
    Exited(ExitInfo),
    /// The experiment was cancelled while waiting.
    #[error("cancelled")]
    Cancelled,
    /// No throughput source produced any unit of progress.
    #[error("{0}")]
    NoProgress(String),
    /// Starting or steering the workload failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// One census window: calls per function, and the window itself (for the
/// throughput seen meanwhile).
#[derive(Debug, Clone, PartialEq)]
pub struct CensusWindow {
    /// Units, wall time and totals of the window.
    pub window: Window,
    /// Calls per function (`module:qualname`) in the window; functions that
    /// were not called in it are left out.
    pub functions: Vec<CensusEntry>,
}

impl CensusWindow {
    /// Whether the hook measured own time in this window (settings with
    /// `own_time`): some progress, and some own time. Hooks that predate
    /// it, or a census of C functions only, report none.
    pub fn own_time_measured(&self) -> bool {
        self.window.units > 0 && self.functions.iter().any(|f| f.own_ns > 0)
    }

    /// Calls and own time (ns) summed over every function counted.
    pub fn totals(&self) -> (u64, u64) {
        self.functions.iter().fold((0, 0), |(calls, own), f| {
            (calls.saturating_add(f.calls), own.saturating_add(f.own_ns))
        })
    }
}

/// The operations an experiment performs on a workload.
///
/// Settings are always applied before a window is measured; a window counts
/// only what happened under the settings last applied (live mode: only the
/// processes that report that settings generation at both window edges).
pub trait Target: Send {
    /// The mode the next window runs in: [`Mode::Live`] or
    /// [`Mode::Restart`].
    fn mode(&self) -> Mode;

    /// Seconds since the target was created, on its own clock (real time;
    /// simulated time for the fake). Budgets are measured on it.
    fn clock_s(&self) -> f64;

    /// Puts `settings` in force and returns once every running hooked
    /// process applies them (live), or records them for the next run
    /// (restart).
    fn apply(&mut self, settings: &LiveSettings, cancel: &Cancel) -> Result<(), TargetError>;

    /// Measures one window of about `window_s` seconds under the settings
    /// last applied. Warm-up is skipped before the first window (live) or in
    /// every run (restart).
    fn measure(&mut self, window_s: f64, cancel: &Cancel) -> Result<Window, TargetError>;

    /// Like [`Target::measure`], with calls per function.
    fn census(&mut self, window_s: f64, cancel: &Cancel) -> Result<CensusWindow, TargetError>;

    /// Seconds a window of `window_s` is expected to cost on the target's
    /// clock, everything included (settings change, start-up and warm-up in
    /// restart mode). Used to keep within the budget.
    fn window_cost_s(&self, window_s: f64) -> f64;

    /// How often the progress signal updates, seconds, when it comes in
    /// steps coarser than single units (output lines); `None` when unknown
    /// or when every unit is counted as it happens.
    fn signal_period_s(&self) -> Option<f64> {
        None
    }

    /// Counts units with these progress points from now on
    /// ([`super::Command::SetProgressPoints`]); the settings applied next
    /// carry them to the hook. A live target waits again for the first unit
    /// before its next window.
    fn set_progress_points(&mut self, points: &[String]);

    /// Whether the workload is running (restart mode: whether a run could
    /// be started; always true).
    fn is_running(&self) -> bool;

    /// Stops the workload's process group and waits for it; returns how it
    /// ended, if it ran.
    fn shutdown(&mut self) -> Option<ExitInfo>;
}

/// Cancellation: an experiment is cancelled when the engine's cancel epoch
/// moves past the one its command was received in (a `Cancel` or
/// `Shutdown` command bumps it).
#[derive(Debug, Clone)]
pub struct Cancel {
    epoch: Arc<AtomicU64>,
    mine: u64,
}

impl Cancel {
    /// A token that is cancelled once `epoch` differs from `mine`.
    pub fn new(epoch: Arc<AtomicU64>, mine: u64) -> Cancel {
        Cancel { epoch, mine }
    }

    /// A token that is never cancelled.
    pub fn never() -> Cancel {
        Cancel::new(Arc::new(AtomicU64::new(0)), 0)
    }

    /// Whether the experiment should stop.
    pub fn is_cancelled(&self) -> bool {
        self.epoch.load(Ordering::Acquire) != self.mine
    }

    /// Sleeps `duration` in slices of at most 20 ms; `Err(Cancelled)` as
    /// soon as cancelled.
    pub fn sleep(&self, duration: Duration) -> Result<(), TargetError> {
        let end = Instant::now() + duration;
        loop {
            if self.is_cancelled() {
                return Err(TargetError::Cancelled);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cancel_follows_the_epoch() {
        let epoch = Arc::new(AtomicU64::new(3));
        let token = Cancel::new(Arc::clone(&epoch), 3);
        assert!(!token.is_cancelled());
        epoch.fetch_add(1, Ordering::AcqRel);
        assert!(token.is_cancelled());
        assert!(matches!(
            token.sleep(Duration::from_secs(5)),
            Err(TargetError::Cancelled)
        ));
        assert!(!Cancel::never().is_cancelled());
    }

    #[test]
    fn exit_descriptions() {
        let exit = |status, signal| ExitInfo {
            status,
            signal,
            last_lines: Vec::new(),
        };
        assert!(exit(Some(0), None).success());
        assert!(!exit(Some(1), None).success());
        assert_eq!(exit(None, Some(11)).describe(), "killed by signal 11");
        assert_eq!(exit(Some(3), None).describe(), "exit status 3");
    }
}
