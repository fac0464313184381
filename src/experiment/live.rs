//! Live mode: one long-running workload; settings switched between windows
//! through the control block, without a restart (ARCHITECTURE.md, "Servers").
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
use super::edges::delta;
use super::options::EngineOptions;
use super::protocol::{ExperimentConfig, Mode};
use super::source::{NO_PROGRESS_ADVICE, ProgressSource};
use super::target::{Cancel, CensusWindow, ExitInfo, Target, TargetError};
use super::workload::{Run, Waited, make_regex, seconds_between};

/// Longest wait for a steady call rate before a census.
pub const STEADY_TIMEOUT: Duration = Duration::from_secs(30);
/// One slice of the steady-rate detection.
const STEADY_SLICE: Duration = Duration::from_millis(500);

/// Whether the last three rates are steady: within ±15% of their mean,
/// which is above 0.
pub fn steady(rates: &[f64]) -> bool {
    let Some(last) = rates
        .get(rates.len().saturating_sub(3)..)
        .filter(|r| r.len() == 3)
    else {
        return false;
    };
    let mean = last.iter().sum::<f64>() / 3.0;
    mean > 0.0 && last.iter().all(|r| (r / mean - 1.0).abs() <= 0.15)
}

/// A [`Target`] over one long-running workload.
#[derive(Debug)]
pub struct LiveTarget {
    run: Run,
    source: ProgressSource,
    /// The output regex, kept to rebuild the source when the progress
    /// points change.
    regex: Option<std::sync::Arc<crate::live::progress::RegexProgress>>,
    options: EngineOptions,
    warmup_s: f64,
    generation: u64,
    warmed_up: bool,
    created: Instant,
    exit: Option<ExitInfo>,
    stopped: bool,
    /// The settings last applied measure own time: a census under them is
    /// an own-time census (the ranking's dosing census, a sweep's own-time
    /// window), which measures per unit of progress.
    own_time: bool,
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
                regex.clone(),
                options.progress_name.clone(),
            ),
            regex,
            run,
            options: options.clone(),
            warmup_s: config.warmup_s.max(0.0),
            generation: 1,
            warmed_up: false,
            created: Instant::now(),
            exit: None,
            stopped: false,
            own_time: false,
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

    /// Before a census: no throughput is needed (it counts calls), so
    /// instead of the first unit of progress it waits for the matched calls'
    /// rate to be steady (three half-second slices within ±15% of their
    /// mean, at most [`STEADY_TIMEOUT`]), so that it does not count a
    /// start-up or a compilation phase.
    fn census_warm_up(&mut self, cancel: &Cancel) -> Result<(), TargetError> {
        if self.warmed_up {
            return Ok(());
        }
        let give_up = Instant::now() + STEADY_TIMEOUT;
        let (mut previous, _) = self.run.edge(false, &self.source);
        let mut rates: Vec<f64> = Vec::new();
        while Instant::now() < give_up {
            if self.run.wait(STEADY_SLICE, cancel)? == Waited::Exited {
                return Err(self.exited());
            }
            let (now, _) = self.run.edge(false, &self.source);
            let d = delta(&previous, &now, None);
            let wall_s = seconds_between(previous.at, now.at);
            previous = now;
            if wall_s > 0.0 {
                rates.push(d.counts.calls as f64 / wall_s);
            }
            if steady(&rates) {
                break;
            }
        }
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
        // A census counts calls and needs no throughput: it waits for a
        // steady call rate. An own-time census measures per unit (own time
        // per unit, the dose's time per unit): it warms up as a window does,
        // and never waits out the steady-rate timeout when its patterns
        // match nothing.
        if functions && !self.own_time {
            self.census_warm_up(cancel)?;
        } else {
            self.warm_up(cancel)?;
        }
        self.await_fresh_line(cancel)?;
        let (start, regex_start) = self.run.edge(functions, &self.source);
        let latency_start = self.run.latency_cut();
        let waited = self
            .run
            .wait(Duration::from_secs_f64(window_s.max(0.0)), cancel)?;
        if waited == Waited::Exited {
            return Err(self.exited());
        }
        let (end, regex_end) = self.run.edge(functions, &self.source);
        let latency_end = self.run.latency_cut();
        self.await_covering_line(end.at, cancel)?;
        let d = self.run.delta(&start, &end, Some(self.generation));
        let wall_s = seconds_between(start.at, end.at);
        let units = self.source.units(&d, regex_start.zip(regex_end), wall_s);
        // A census counts calls; its throughput is a bonus.
        let units = if functions {
            Some(units.unwrap_or(0))
        } else {
            units
        };
        let units = units.ok_or_else(|| {
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
            latency: self.run.window_latency(latency_start, latency_end, wall_s),
        };
        let functions = d
            .functions
            .into_iter()
            .map(|(name, c)| CensusEntry {
                name,
                calls: c.calls,
                injected_ns: c.injected_ns,
                own_ns: c.own_ns,
            })
            .collect();
        Ok(CensusWindow { window, functions })
    }
}

impl LiveTarget {
    /// A `rate` regex line describes the interval before it, so the line
    /// printed just after a settings change mixes the old settings with the
    /// new: wait for the next line (at most three periods) before the window
    /// starts, so every line inside it describes the window's settings only.
    fn await_fresh_line(&mut self, cancel: &Cancel) -> Result<(), TargetError> {
        self.await_covering_line(Instant::now(), cancel)
    }

    /// A `rate` regex line describes the interval before it: wait (under
    /// the same settings) for the line that covers the window's end, at
    /// most three periods of the signal.
    fn await_covering_line(&mut self, end: Instant, cancel: &Cancel) -> Result<(), TargetError> {
        let Some(period) = self.source.period() else {
            return Ok(());
        };
        let give_up = Instant::now() + 3 * period;
        while self.source.awaits_line_after(end) && Instant::now() < give_up {
            if self.run.wait(Duration::from_millis(10), cancel)? == Waited::Exited {
                return Err(self.exited());
            }
        }
        Ok(())
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
        self.own_time = settings.own_time;
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
        // (docs/run.md, "Measured"); a rate regex waits about half a period
        // for a fresh line at the start and as much for the one that covers
        // the window's end.
        let covering = self.source.period().map_or(0.0, |p| p.as_secs_f64());
        window_s + self.options.settle.as_secs_f64() + 0.02 + covering
    }

    fn signal_period_s(&self) -> Option<f64> {
        self.source.period().map(|p| p.as_secs_f64())
    }

    fn set_progress_points(&mut self, points: &[String]) {
        self.source = ProgressSource::choose(
            points,
            self.regex.clone(),
            self.options.progress_name.clone(),
        );
        // Warm-up waits for the new source's first unit.
        self.warmed_up = false;
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

#[cfg(test)]
mod tests {
    use super::steady;

    #[test]
    fn a_rate_is_steady_when_three_slices_agree() {
        assert!(!steady(&[]));
        assert!(!steady(&[100.0, 100.0]));
        assert!(steady(&[5.0, 100.0, 104.0, 96.0]));
        // A compilation phase: the rate still climbs.
        assert!(!steady(&[15.0, 400.0, 1200.0]));
        assert!(!steady(&[1000.0, 1400.0, 2100.0]));
        assert!(!steady(&[0.0, 0.0, 0.0]));
    }
}
