//! Auto mode: live while the workload keeps running; when it exits by
//! itself (status 0) before the experiments are done, continue in restart
//! mode, one run per window. A workload that fails (non-zero status,
//! killed by a signal) is not restarted: that is a crash to report.
//!
//! The switch happens inside `apply`, `measure` or `census`: the settings
//! last applied are applied to the restart target and the window is
//! measured there. The paired loop notices the change of mode and measures
//! that pair again, so both windows of a pair always share a mode. The
//! clock runs on across the switch.

use std::sync::Arc;

use crate::analysis::Window;
use crate::live::progress::RegexProgress;
use crate::live::{EngineError, LiveSettings};

use super::context::UpdateSink;
use super::protocol::{Mode, Update};
use super::target::{Cancel, CensusWindow, ExitInfo, Target, TargetError};

/// Makes the restart-mode target when needed.
pub type RestartFactory = Box<dyn FnOnce() -> Result<Box<dyn Target>, EngineError> + Send>;

/// A live target that turns into a restart target; see the module docs.
pub struct AutoTarget {
    current: Box<dyn Target>,
    restart: Option<RestartFactory>,
    settings: Option<LiveSettings>,
    /// Progress points set since the start (carried across the switch).
    progress_points: Option<Vec<String>>,
    /// The output regex set since the start (carried across the switch).
    progress_regex: Option<Arc<RegexProgress>>,
    offset_s: f64,
    sink: UpdateSink,
    live_exit: Option<ExitInfo>,
}

impl std::fmt::Debug for AutoTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoTarget")
            .field("mode", &self.current.mode())
            .finish_non_exhaustive()
    }
}

impl AutoTarget {
    /// Starts on `live`; `restart` makes the restart target on the switch.
    pub fn new(live: Box<dyn Target>, restart: RestartFactory, sink: UpdateSink) -> AutoTarget {
        AutoTarget {
            current: live,
            restart: Some(restart),
            settings: None,
            progress_points: None,
            progress_regex: None,
            offset_s: 0.0,
            sink,
            live_exit: None,
        }
    }

    /// Switches to restart mode if `error` is a clean exit of the live
    /// workload; otherwise hands the error back.
    fn switch_on(&mut self, error: TargetError, cancel: &Cancel) -> Result<(), TargetError> {
        let info = match error {
            TargetError::Exited(info) if info.success() && self.restart.is_some() => info,
            other => return Err(other),
        };
        let Some(factory) = self.restart.take() else {
            return Err(TargetError::Exited(info));
        };
        self.offset_s += self.current.clock_s();
        self.current = factory()?;
        (self.sink)(Update::Warning(
            "the workload exited by itself (status 0) before the experiments were done; \
             continuing in restart mode: one run per window"
                .to_owned(),
        ));
        self.live_exit = Some(info);
        if let Some(points) = &self.progress_points {
            self.current.set_progress_points(points);
        }
        if let Some(regex) = &self.progress_regex {
            self.current.set_progress_regex(Arc::clone(regex));
        }
        if let Some(settings) = &self.settings {
            self.current.apply(settings, cancel)?;
        }
        Ok(())
    }

    fn with_switch<T>(
        &mut self,
        cancel: &Cancel,
        mut op: impl FnMut(&mut dyn Target) -> Result<T, TargetError>,
    ) -> Result<T, TargetError> {
        match op(self.current.as_mut()) {
            Err(e) => {
                self.switch_on(e, cancel)?;
                op(self.current.as_mut())
            }
            ok => ok,
        }
    }
}

impl Target for AutoTarget {
    fn mode(&self) -> Mode {
        self.current.mode()
    }

    fn clock_s(&self) -> f64 {
        self.offset_s + self.current.clock_s()
    }

    fn apply(&mut self, settings: &LiveSettings, cancel: &Cancel) -> Result<(), TargetError> {
        self.settings = Some(settings.clone());
        self.with_switch(cancel, |t| t.apply(settings, cancel))
    }

    fn measure(&mut self, window_s: f64, cancel: &Cancel) -> Result<Window, TargetError> {
        self.with_switch(cancel, |t| t.measure(window_s, cancel))
    }

    fn census(&mut self, window_s: f64, cancel: &Cancel) -> Result<CensusWindow, TargetError> {
        self.with_switch(cancel, |t| t.census(window_s, cancel))
    }

    fn window_cost_s(&self, window_s: f64) -> f64 {
        self.current.window_cost_s(window_s)
    }

    fn signal_period_s(&self) -> Option<f64> {
        self.current.signal_period_s()
    }

    fn set_progress_points(&mut self, points: &[String]) {
        self.progress_points = Some(points.to_vec());
        self.current.set_progress_points(points);
    }

    fn set_progress_regex(&mut self, regex: Arc<RegexProgress>) {
        self.progress_regex = Some(Arc::clone(&regex));
        self.current.set_progress_regex(regex);
    }

    fn is_running(&self) -> bool {
        self.current.is_running()
    }

    fn shutdown(&mut self) -> Option<ExitInfo> {
        self.current.shutdown().or_else(|| self.live_exit.take())
    }
}
