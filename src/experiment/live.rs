//! Live mode: one long-running workload; settings switched between windows
//! through the control block, without a restart (DESIGN.md, "Servers").
//!
//! Each window: publish the settings, wait until every running hooked
//! process applies them, let work in flight drain (`settle`), read the
//! counters (edge), wait the window, read them again. Only processes that
//! report the window's settings generation at both edges count. Warm-up:
//! before the first window, the engine waits for the first unit of progress
//! (so a start-up of any length is skipped) and then `warmup_s` more.

use std::time::{Duration, Instant};

use crate::analysis::{CensusEntry, Window};
use crate::live::LiveSettings;

use super::context::{UpdateSink, template};
use super::options::EngineOptions;
use super::protocol::{ExperimentConfig, Mode};
use super::source::{NO_PROGRESS_ADVICE, ProgressSource};
use super::target::{Cancel, CensusWindow, ExitInfo, Target, TargetError};
use super::workload::{Run, Waited, make_regex, seconds_between};

/// A [`Target`] over one long-running workload.
#[derive(Debug)]
pub struct LiveTarget {
    run: Run,
    source: ProgressSource,
    options: EngineOptions,
    warmup_s: f64,
    generation: u64,
    warmed_up: bool,
    created: Instant,
    exit: Option<ExitInfo>,
    stopped: bool,
}

impl LiveTarget {
    /// Starts the workload with the progress points and no patterns.
    pub fn start(
        config: &ExperimentConfig,
        options: &EngineOptions,
        sink: &UpdateSink,
    ) -> Result<LiveTarget, TargetError> {
        let regex = make_regex(config, options).map_err(TargetError::NoProgress)?;
        let settings = template(config, options, &[], 0, 1);
        let run = Run::start(config, options, settings, sink, regex.clone())?;
        Ok(LiveTarget {
            source: ProgressSource::choose(
                &config.progress_points,
                regex,
                options.progress_name.clone(),
            ),
            run,
            options: options.clone(),
            warmup_s: config.warmup_s.max(0.0),
            generation: 1,
            warmed_up: false,
            created: Instant::now(),
            exit: None,
            stopped: false,
        })
    }

    /// The workload ended by itself: finish the run and report how.
    fn exited(&mut self) -> TargetError {
        if self.exit.is_none() {
            self.exit = self.run.finish(false);
        }
        TargetError::Exited(self.exit.clone().unwrap_or(ExitInfo {
            status: None,
            signal: None,
            last_lines: Vec::new(),
        }))
    }

    fn warm_up(&mut self, cancel: &Cancel) -> Result<(), TargetError> {
        if self.warmed_up {
            return Ok(());
        }
        if self
            .run
            .wait_first_unit(&mut self.source, cancel)?
            .is_none()
        {
            return Err(self.exited());
        }
        if self
            .run
            .wait(Duration::from_secs_f64(self.warmup_s), cancel)?
            == Waited::Exited
        {
            return Err(self.exited());
        }
        self.warmed_up = true;
        Ok(())
    }

    fn window(
        &mut self,
        window_s: f64,
        functions: bool,
        cancel: &Cancel,
    ) -> Result<CensusWindow, TargetError> {
        if self.exit.is_some() || self.run.has_exited() {
            return Err(self.exited());
        }
        self.warm_up(cancel)?;
        let (start, regex_start) = self.run.edge(functions, &self.source);
        let waited = self
            .run
            .wait(Duration::from_secs_f64(window_s.max(0.0)), cancel)?;
        if waited == Waited::Exited {
            return Err(self.exited());
        }
        let (end, regex_end) = self.run.edge(functions, &self.source);
        let d = self.run.delta(&start, &end, Some(self.generation));
        let wall_s = seconds_between(start.at, end.at);
        let units = self
            .source
            .units(&d, regex_start.zip(regex_end), wall_s)
            .ok_or_else(|| {
                TargetError::NoProgress(format!(
                    "{} counted nothing: {NO_PROGRESS_ADVICE}",
                    self.source.describe()
                ))
            })?;
        let window = Window {
            units,
            wall_s,
            injected_ns: d.counts.injected_ns,
            delayed_calls: d.counts.delayed_calls,
            calls: d.counts.calls,
            whole_run: false,
        };
        let functions = d
            .functions
            .into_iter()
            .map(|(name, c)| CensusEntry {
                name,
                calls: c.calls,
                injected_ns: c.injected_ns,
            })
            .collect();
        Ok(CensusWindow { window, functions })
    }
}

impl Target for LiveTarget {
    fn mode(&self) -> Mode {
        Mode::Live
    }

    fn clock_s(&self) -> f64 {
        self.created.elapsed().as_secs_f64()
    }

    fn apply(&mut self, settings: &LiveSettings, cancel: &Cancel) -> Result<(), TargetError> {
        if self.exit.is_some() || self.run.has_exited() {
            return Err(self.exited());
        }
        self.generation = self
            .run
            .apply(settings.clone(), self.options.apply_timeout)?;
        if self.run.wait(self.options.settle, cancel)? == Waited::Exited {
            return Err(self.exited());
        }
        Ok(())
    }

    fn measure(&mut self, window_s: f64, cancel: &Cancel) -> Result<Window, TargetError> {
        self.window(window_s, false, cancel).map(|c| c.window)
    }

    fn census(&mut self, window_s: f64, cancel: &Cancel) -> Result<CensusWindow, TargetError> {
        self.window(window_s, true, cancel)
    }

    fn window_cost_s(&self, window_s: f64) -> f64 {
        // Publication and application take ~15 ms on this project's machine
        // (docs/run.md, "Measured").
        window_s + self.options.settle.as_secs_f64() + 0.02
    }

    fn is_running(&self) -> bool {
        self.exit.is_none() && !self.run.has_exited()
    }

    fn shutdown(&mut self) -> Option<ExitInfo> {
        if self.stopped {
            return None;
        }
        self.stopped = true;
        if self.exit.is_some() {
            return self.exit.clone();
        }
        self.run.finish(true)
    }
}
