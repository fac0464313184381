//! Restart mode: one run of the command per window, as docs/methodology.md does
//! by hand ("restart server, benchmark"), for workloads that do fixed work
//! and exit.
//!
//! Each window: start the workload with the settings as its first
//! generation, skip its start-up (until the first unit of progress) and
//! `warmup_s` more, read the counters, wait the window (or until the
//! workload exits by itself, whichever comes first), read them again, stop
//! the workload. A window lasts at least as long as the run's own overhead
//! (start-up, warm-up, stop) as last measured: the run is paid for anyway,
//! and on a shared machine whole runs differ by 15% and more, so a longer
//! window buys precision almost for free (a run twice as long as its
//! overhead spends two thirds of its time measuring). A workload without
//! any unit of progress that exits by itself is measured in runs per second: the whole run is the window
//! (`whole_run`). A run that ends with a failure status before its window
//! ended is reported as [`TargetError::Exited`].

use std::time::{Duration, Instant};

use crate::analysis::{CensusEntry, Window};
use crate::live::launch::resolve_program;
use crate::live::progress::RegexKind;
use crate::live::{EngineError, LiveSettings};

use super::context::{UpdateSink, template};
use super::edges::Edge;
use super::options::EngineOptions;
use super::protocol::{ExperimentConfig, Mode, Update};
use super::source::{NO_PROGRESS_ADVICE, ProgressSource, RegexEdge};
use super::target::{Cancel, CensusWindow, ExitInfo, Target, TargetError};
use super::workload::{Run, Waited, make_regex, seconds_between};

/// A [`Target`] that starts the workload for every window.
pub struct RestartTarget {
    config: ExperimentConfig,
    options: EngineOptions,
    sink: UpdateSink,
    settings: LiveSettings,
    /// Kept across runs: the `speedbump.progress()` name chosen once.
    api_name: Option<String>,
    created: Instant,
    /// Seconds a run spends outside its window (start-up, warm-up, stop),
    /// as last measured.
    overhead_s: f64,
    /// Runs started.
    pub runs: usize,
}

impl std::fmt::Debug for RestartTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestartTarget")
            .field("command", &self.config.command)
            .field("runs", &self.runs)
            .finish_non_exhaustive()
    }
}

impl RestartTarget {
    /// A restart-mode target; checks that the command exists (nothing runs
    /// until the first window).
    pub fn new(
        config: &ExperimentConfig,
        options: &EngineOptions,
        sink: &UpdateSink,
    ) -> Result<RestartTarget, EngineError> {
        let program = config.command.first().ok_or(EngineError::NoCommand)?;
        if resolve_program(program.as_ref(), std::env::var_os("PATH").as_deref()).is_none() {
            return Err(EngineError::CommandNotFound {
                program: program.clone(),
            });
        }
        Ok(RestartTarget {
            config: config.clone(),
            options: options.clone(),
            sink: std::sync::Arc::clone(sink),
            settings: template(config, options, &[], 0, 1),
            api_name: options.progress_name.clone(),
            created: Instant::now(),
            overhead_s: 1.0 + config.warmup_s.max(0.0),
            runs: 0,
        })
    }

    /// The window a run measures: at least its overhead (module docs),
    /// at most the longest window.
    fn window_s(&self, asked_s: f64) -> f64 {
        asked_s
            .max(self.overhead_s.min(self.options.max_window_s))
            .max(0.0)
    }

    /// One run, one window.
    fn run_window(
        &mut self,
        window_s: f64,
        functions: bool,
        cancel: &Cancel,
    ) -> Result<CensusWindow, TargetError> {
        if cancel.is_cancelled() {
            return Err(TargetError::Cancelled);
        }
        let began = Instant::now();
        let regex = make_regex(&self.config, &self.options).map_err(TargetError::NoProgress)?;
        let mut source = ProgressSource::choose(
            &self.config.progress_points,
            regex.clone(),
            self.api_name.clone(),
        );
        let mut run = Run::start(
            &self.config,
            &self.options,
            self.settings.clone(),
            &self.sink,
            regex.clone(),
        )?;
        self.runs += 1;
        (self.sink)(Update::Started {
            mode: Mode::Restart,
            command: self.config.command.clone(),
        });
        let measured = self.measure_run(&mut run, &mut source, window_s, functions, cancel);
        let stop = !run.has_exited();
        let exit = run.finish(true);
        if let ProgressSource::Api(Some(name)) = &source {
            self.api_name = Some(name.clone());
        }
        let (mut window, function_counts) = match measured {
            Ok(parts) => parts,
            Err(TargetError::Cancelled) => return Err(TargetError::Cancelled),
            Err(e) => {
                return Err(match (e, exit) {
                    (TargetError::Exited(_), Some(info)) => TargetError::Exited(info),
                    (other, _) => other,
                });
            }
        };
        if !stop {
            if let Some(info) = exit.filter(|i| !i.success()) {
                return Err(TargetError::Exited(info));
            }
        }
        // A rate printed only at the end of the run (`Throughput: ...`).
        if window.units == 0 && !window.whole_run {
            if let Some(r) = regex.filter(|r| r.kind() == RegexKind::Rate) {
                let rate = r.run_reading(began).per_second.unwrap_or(0.0);
                window.units = (rate * window.wall_s).round().max(0.0) as u64;
            }
        }
        self.overhead_s = (began.elapsed().as_secs_f64() - window.wall_s).max(0.0);
        Ok(CensusWindow {
            window,
            functions: function_counts,
        })
    }

    /// Warm-up, then the window (which ends early when the workload exits
    /// by itself). Returns the window and the census counts.
    fn measure_run(
        &mut self,
        run: &mut Run,
        source: &mut ProgressSource,
        window_s: f64,
        functions: bool,
        cancel: &Cancel,
    ) -> Result<(Window, Vec<CensusEntry>), TargetError> {
        let (zero, _) = run.edge(functions, source);
        let Some(first) = run.wait_first_unit(source, cancel)? else {
            // Exited before any unit: runs per second over the whole run.
            let (end, _) = run.edge(functions, source);
            let wall_s = seconds_between(run.started, end.at);
            let d = run.delta(&zero, &end, None);
            if !matches!(source, ProgressSource::Api(_)) {
                return Err(TargetError::NoProgress(format!(
                    "the run ended before {} counted a unit: {NO_PROGRESS_ADVICE}",
                    source.describe()
                )));
            }
            let window = Window {
                units: 1,
                wall_s,
                injected_ns: d.counts.injected_ns,
                delayed_calls: d.counts.delayed_calls,
                calls: d.counts.calls,
                whole_run: true,
                latency: None,
            };
            return Ok((window, census_entries(&d)));
        };
        let warmup = Duration::from_secs_f64(self.config.warmup_s.max(0.0));
        let (start, regex_start): (Edge, Option<RegexEdge>) =
            if run.wait(warmup, cancel)? == Waited::Exited {
                // Shorter than its warm-up: measure from the first unit.
                first
            } else {
                run.edge(functions, source)
            };
        let latency_start = run.latency_cut();
        run.wait(Duration::from_secs_f64(window_s.max(0.0)), cancel)?;
        let (end, regex_end) = run.edge(functions, source);
        let latency_end = run.latency_cut();
        let d = run.delta(&start, &end, None);
        let wall_s = seconds_between(start.at, end.at);
        let units = source
            .units(&d, regex_start.zip(regex_end), wall_s)
            .unwrap_or(0);
        let window = Window {
            units,
            wall_s,
            injected_ns: d.counts.injected_ns,
            delayed_calls: d.counts.delayed_calls,
            calls: d.counts.calls,
            whole_run: false,
            latency: run.window_latency(latency_start, latency_end, wall_s),
        };
        Ok((window, census_entries(&d)))
    }
}

fn census_entries(d: &super::edges::Delta) -> Vec<CensusEntry> {
    d.functions
        .iter()
        .map(|(name, c)| CensusEntry {
            name: name.clone(),
            calls: c.calls,
            injected_ns: c.injected_ns,
            own_ns: c.own_ns,
        })
        .collect()
}

impl Target for RestartTarget {
    fn mode(&self) -> Mode {
        Mode::Restart
    }

    fn clock_s(&self) -> f64 {
        self.created.elapsed().as_secs_f64()
    }

    fn apply(&mut self, settings: &LiveSettings, cancel: &Cancel) -> Result<(), TargetError> {
        if cancel.is_cancelled() {
            return Err(TargetError::Cancelled);
        }
        self.settings = settings.clone();
        Ok(())
    }

    fn measure(&mut self, window_s: f64, cancel: &Cancel) -> Result<Window, TargetError> {
        let window_s = self.window_s(window_s);
        self.run_window(window_s, false, cancel).map(|c| c.window)
    }

    fn census(&mut self, window_s: f64, cancel: &Cancel) -> Result<CensusWindow, TargetError> {
        self.run_window(window_s, true, cancel)
    }

    fn window_cost_s(&self, window_s: f64) -> f64 {
        self.window_s(window_s) + self.overhead_s
    }

    fn set_progress_points(&mut self, points: &[String]) {
        // Each run chooses its source from the configuration.
        self.config.progress_points = points.to_vec();
    }

    fn is_running(&self) -> bool {
        true
    }

    fn shutdown(&mut self) -> Option<ExitInfo> {
        None
    }
}
