//! A simulated workload with a known answer, for testing the experiment
//! logic (scheduling, statistics, stop rule, budget, cancel, mode switches)
//! deterministically and without Python.
//!
//! The model is the reference pipeline of docs/examples.md: a host spends
//! its time per unit in named functions (each with calls per unit and a cost
//! per call) plus some other work; a device needs `device_ns` per unit and
//! overlaps with the host, so
//!
//! ```text
//! time per unit = max(host, device) · noise
//! host          = other + Σ critical functions: calls · (cost + hook + delay / frequency)
//! ```
//!
//! where `hook` is the hook's own cost per matched call (on both sides of a
//! pair) and functions marked off the critical path (a telemetry process)
//! add nothing. `noise` is log-normal with a seeded generator. The clock is
//! simulated: a window of 0.3 s advances it by 0.3 s plus the cost of the
//! settings change (live) or of a whole run (restart), and nothing sleeps.

use crate::analysis::prng::SplitMix64;
use crate::analysis::{CensusEntry, Window};
use crate::live::LiveSettings;
use crate::pattern::PatternSet;

use super::protocol::Mode;
use super::target::{Cancel, CensusWindow, ExitInfo, Target, TargetError};

/// One simulated function.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeFunction {
    /// `module:qualname`.
    pub name: String,
    /// Calls per unit of progress.
    pub calls_per_unit: f64,
    /// Its own cost per call, ns.
    pub cost_ns: f64,
    /// Whether its time is on the critical path (false: another process
    /// whose work never holds the units up).
    pub critical: bool,
}

impl FakeFunction {
    /// A function on the critical path.
    pub fn critical(name: &str, calls_per_unit: f64, cost_ns: f64) -> FakeFunction {
        FakeFunction {
            name: name.to_owned(),
            calls_per_unit,
            cost_ns,
            critical: true,
        }
    }

    /// A function off the critical path.
    pub fn off_path(name: &str, calls_per_unit: f64, cost_ns: f64) -> FakeFunction {
        FakeFunction {
            critical: false,
            ..FakeFunction::critical(name, calls_per_unit, cost_ns)
        }
    }
}

/// The simulated workload.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeWorkload {
    /// Its functions.
    pub functions: Vec<FakeFunction>,
    /// Host time per unit outside the functions, ns.
    pub other_ns: f64,
    /// Device time per unit, ns (0: no device).
    pub device_ns: f64,
    /// The hook's own cost per matched call, ns.
    pub hook_ns: f64,
    /// Relative standard deviation of the time per unit of a 0.3 s window
    /// (longer windows: smaller, as `1/√length`).
    pub noise: f64,
    /// Seconds from a process's start to its first unit.
    pub startup_s: f64,
    /// The workload ends by itself this long after it starts (`None`:
    /// never; it runs until stopped).
    pub run_s: Option<f64>,
    /// Its exit status when it ends by itself (non-zero: it crashed).
    pub exit_status: i32,
}

impl FakeWorkload {
    /// `pipeline.py --regime python-bound`: P = 600 µs in prepare_inputs
    /// (3 × 100 µs), schedule (2 × 90 µs), launch (1 × 120 µs), o = 30 µs,
    /// K = 150 µs: throughput 1/(P + o), linear, criticality 1.
    pub fn python_bound() -> FakeWorkload {
        FakeWorkload {
            functions: vec![
                FakeFunction::critical("__main__:prepare_inputs", 3.0, 100_000.0),
                FakeFunction::critical("__main__:schedule", 2.0, 90_000.0),
                FakeFunction::critical("__main__:launch", 1.0, 120_000.0),
                FakeFunction::critical("_util:Calibration.refresh", 0.06, 500_000.0),
            ],
            other_ns: 30_000.0,
            device_ns: 150_000.0,
            hook_ns: 60.0,
            noise: 0.02,
            startup_s: 0.2,
            run_s: None,
            exit_status: 0,
        }
    }

    /// `pipeline.py --regime gpu-bound`: P = 150 µs, K = 1000 µs, o = 40 µs:
    /// flat until 6 calls × d reach the slack K - P - o = 810 µs, so the knee
    /// is at 135 µs per call under `*:*`.
    pub fn gpu_bound() -> FakeWorkload {
        FakeWorkload {
            functions: vec![
                FakeFunction::critical("__main__:prepare_inputs", 3.0, 25_000.0),
                FakeFunction::critical("__main__:schedule", 2.0, 22_500.0),
                FakeFunction::critical("__main__:launch", 1.0, 30_000.0),
            ],
            other_ns: 40_000.0,
            device_ns: 1_000_000.0,
            ..FakeWorkload::python_bound()
        }
    }

    /// `offpath.py`: dispatch (1 call, 40 µs, critical) then a 300 µs device
    /// wait; telemetry (5 calls, 150 µs in all) in another process, off the
    /// critical path.
    pub fn offpath() -> FakeWorkload {
        FakeWorkload {
            functions: vec![
                FakeFunction::critical("offpath_pkg.dispatch:dispatch", 1.0, 40_000.0),
                FakeFunction::off_path("offpath_pkg.telemetry:record", 1.0, 30_000.0),
                FakeFunction::off_path("offpath_pkg.telemetry:parse_event", 1.0, 30_000.0),
                FakeFunction::off_path("offpath_pkg.telemetry:update_histogram", 2.0, 30_000.0),
                FakeFunction::off_path("offpath_pkg.telemetry:format_line", 1.0, 30_000.0),
            ],
            other_ns: 300_000.0 + 20_000.0,
            device_ns: 0.0,
            ..FakeWorkload::python_bound()
        }
    }

    /// Time per unit, seconds, under `settings` (without noise).
    pub fn time_per_unit_s(&self, settings: &LiveSettings) -> f64 {
        let matcher = Matcher::new(settings);
        let host_ns: f64 = self.other_ns
            + self
                .functions
                .iter()
                .filter(|f| f.critical)
                .map(|f| {
                    let extra = if matcher.matches(&f.name) {
                        self.hook_ns + matcher.delay_per_call_ns()
                    } else {
                        0.0
                    };
                    f.calls_per_unit * (f.cost_ns + extra)
                })
                .sum::<f64>();
        host_ns.max(self.device_ns) * 1e-9
    }
}

/// Which functions the settings match, and the delay per matched call.
struct Matcher {
    set: Option<PatternSet>,
    delay_ns: u64,
    frequency: u64,
    enabled: bool,
}

impl Matcher {
    fn new(settings: &LiveSettings) -> Matcher {
        Matcher {
            set: settings.pattern_set("fake").ok(),
            delay_ns: settings.delay_ns,
            frequency: settings.frequency.max(1),
            enabled: settings.enabled,
        }
    }

    fn matches(&self, name: &str) -> bool {
        let Some((module, qualname)) = name.split_once(':') else {
            return false;
        };
        self.enabled
            && self
                .set
                .as_ref()
                .is_some_and(|s| s.decide(module, "", qualname).is_some())
    }

    fn delay_per_call_ns(&self) -> f64 {
        self.delay_ns as f64 / self.frequency as f64
    }
}

/// The window length `noise` refers to, seconds.
const NOISE_WINDOW_S: f64 = 0.3;

/// Costs of the simulated clock.
const APPLY_S: f64 = 0.02;
const PROCESS_START_S: f64 = 0.05;
const STOP_S: f64 = 0.05;

/// A [`Target`] over a [`FakeWorkload`].
#[derive(Debug, Clone)]
pub struct FakeTarget {
    workload: FakeWorkload,
    mode: Mode,
    warmup_s: f64,
    rng: SplitMix64,
    clock_s: f64,
    /// Clock time at which the live process started.
    process_start_s: f64,
    warmed_up: bool,
    running: bool,
    settings: LiveSettings,
    /// Windows measured, census windows included.
    pub windows: usize,
    /// Runs started (restart mode), the live process included.
    pub runs: usize,
    /// The settings of every window, in order.
    pub history: Vec<LiveSettings>,
    /// Real time each window takes (default none: the simulation runs as
    /// fast as it can), so that commands can arrive mid-experiment in tests.
    pub pace: Option<std::time::Duration>,
}

impl FakeTarget {
    /// A target running `workload` in `mode` (Live or Restart), skipping
    /// `warmup_s` after the first unit, with noise seeded by `seed`.
    pub fn new(workload: FakeWorkload, mode: Mode, warmup_s: f64, seed: u64) -> FakeTarget {
        let mode = if mode == Mode::Restart {
            Mode::Restart
        } else {
            Mode::Live
        };
        FakeTarget {
            workload,
            mode,
            warmup_s,
            rng: SplitMix64::new(seed ^ 0xFA4E),
            clock_s: if mode == Mode::Live {
                PROCESS_START_S
            } else {
                0.0
            },
            process_start_s: 0.0,
            warmed_up: false,
            running: true,
            settings: LiveSettings {
                delay_ns: 0,
                ..LiveSettings::default()
            },
            windows: 0,
            runs: 1,
            history: Vec::new(),
            pace: None,
        }
    }

    /// The workload it simulates.
    pub fn workload(&self) -> &FakeWorkload {
        &self.workload
    }

    fn exit_info(&self) -> ExitInfo {
        ExitInfo {
            status: Some(self.workload.exit_status),
            signal: None,
            last_lines: vec![format!(
                "fake workload ended with status {}",
                self.workload.exit_status
            )],
        }
    }

    /// Simulates one window: advances the clock, returns the window and
    /// the units' count.
    fn window(&mut self, window_s: f64, cancel: &Cancel) -> Result<Window, TargetError> {
        if cancel.is_cancelled() {
            return Err(TargetError::Cancelled);
        }
        if !self.running {
            return Err(TargetError::Exited(self.exit_info()));
        }
        let mut window_s = window_s;
        match self.mode {
            Mode::Restart => {
                self.runs += 1;
                self.clock_s += PROCESS_START_S + self.workload.startup_s + self.warmup_s;
                let used = self.workload.startup_s + self.warmup_s;
                if let Some(run_s) = self.workload.run_s {
                    let left = run_s - used;
                    if left <= 0.0 || (self.workload.exit_status != 0 && left < window_s) {
                        self.clock_s += left.max(0.0) + STOP_S;
                        return Err(TargetError::Exited(self.exit_info()));
                    }
                    window_s = window_s.min(left);
                }
                self.clock_s += window_s + STOP_S;
            }
            _ => {
                if !self.warmed_up {
                    self.clock_s += self.workload.startup_s + self.warmup_s;
                    self.warmed_up = true;
                }
                if let Some(run_s) = self.workload.run_s {
                    let ends_at = self.process_start_s + run_s;
                    if self.clock_s + window_s > ends_at {
                        self.clock_s = self.clock_s.max(ends_at);
                        self.running = false;
                        return Err(TargetError::Exited(self.exit_info()));
                    }
                }
                self.clock_s += window_s;
            }
        }
        self.windows += 1;
        self.history.push(self.settings.clone());
        if let Some(pace) = self.pace {
            cancel.sleep(pace)?;
        }
        // Noise averages out over longer windows (white noise: sd ∝ 1/√w).
        let sd = self.workload.noise * (NOISE_WINDOW_S / window_s.max(1e-3)).sqrt();
        let t = self.workload.time_per_unit_s(&self.settings) * (sd * self.rng.gaussian()).exp();
        // Whole units, the fraction decided by chance (a unit straddling
        // the window edge).
        let exact = window_s / t;
        let units = exact.floor() as u64 + u64::from(self.rng.next_f64() < exact.fract());
        let matcher = Matcher::new(&self.settings);
        let matched_calls: f64 = self
            .workload
            .functions
            .iter()
            .filter(|f| matcher.matches(&f.name))
            .map(|f| f.calls_per_unit * units as f64)
            .sum();
        let delayed = if self.settings.delay_ns > 0 {
            matched_calls / matcher.frequency as f64
        } else {
            0.0
        };
        Ok(Window {
            units,
            wall_s: window_s,
            injected_ns: (delayed * self.settings.delay_ns as f64).round() as u64,
            delayed_calls: delayed.round() as u64,
            calls: matched_calls.round() as u64,
            whole_run: false,
        })
    }
}

impl Target for FakeTarget {
    fn mode(&self) -> Mode {
        self.mode
    }

    fn clock_s(&self) -> f64 {
        self.clock_s
    }

    fn apply(&mut self, settings: &LiveSettings, cancel: &Cancel) -> Result<(), TargetError> {
        if cancel.is_cancelled() {
            return Err(TargetError::Cancelled);
        }
        if self.mode == Mode::Live {
            if !self.running {
                return Err(TargetError::Exited(self.exit_info()));
            }
            self.clock_s += APPLY_S;
        }
        self.settings = settings.clone();
        Ok(())
    }

    fn measure(&mut self, window_s: f64, cancel: &Cancel) -> Result<Window, TargetError> {
        self.window(window_s, cancel)
    }

    fn census(&mut self, window_s: f64, cancel: &Cancel) -> Result<CensusWindow, TargetError> {
        let window = self.window(window_s, cancel)?;
        let matcher = Matcher::new(&self.settings);
        let functions = self
            .workload
            .functions
            .iter()
            .filter(|f| matcher.matches(&f.name))
            .map(|f| CensusEntry {
                name: f.name.clone(),
                calls: (f.calls_per_unit * window.units as f64).round() as u64,
                injected_ns: 0,
            })
            .filter(|e| e.calls > 0)
            .collect();
        Ok(CensusWindow { window, functions })
    }

    fn window_cost_s(&self, window_s: f64) -> f64 {
        match self.mode {
            Mode::Restart => {
                PROCESS_START_S + self.workload.startup_s + self.warmup_s + window_s + STOP_S
            }
            _ => window_s + APPLY_S,
        }
    }

    fn is_running(&self) -> bool {
        self.running
    }

    fn shutdown(&mut self) -> Option<ExitInfo> {
        if self.mode == Mode::Live && self.running {
            self.running = false;
            self.clock_s += STOP_S;
            return Some(ExitInfo {
                status: None,
                signal: Some(2),
                last_lines: Vec::new(),
            });
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings(patterns: &[&str], delay_ns: u64) -> LiveSettings {
        LiveSettings {
            delay_ns,
            patterns: patterns.iter().map(|p| p.to_string()).collect(),
            ..LiveSettings::default()
        }
    }

    #[test]
    fn the_model_has_the_documented_answers() {
        let gpu = FakeWorkload::gpu_bound();
        // Flat below the knee (135 µs per call), then 6 µs per µs.
        assert_eq!(gpu.time_per_unit_s(&settings(&["*:*"], 100_000)), 1e-3);
        let t = gpu.time_per_unit_s(&settings(&["*:*"], 200_000));
        assert!((t - (190e-6 + 6.0 * (200e-6 + 60e-9))).abs() < 1e-9, "{t}");
        let py = FakeWorkload::python_bound();
        let base = py.time_per_unit_s(&settings(&["__main__:prepare_inputs"], 0));
        let slow = py.time_per_unit_s(&settings(&["__main__:prepare_inputs"], 10_000));
        assert!((slow - base - 30e-6).abs() < 1e-12);
        let off = FakeWorkload::offpath();
        assert_eq!(
            off.time_per_unit_s(&settings(&["offpath_pkg.telemetry:*"], 0)),
            off.time_per_unit_s(&settings(&["offpath_pkg.telemetry:*"], 100_000))
        );
    }

    #[test]
    fn windows_count_units_and_injection() {
        let mut target = FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, 1);
        let cancel = Cancel::never();
        target
            .apply(&settings(&["__main__:launch"], 10_000), &cancel)
            .unwrap();
        let w = target.measure(1.0, &cancel).unwrap();
        assert!((1200..1800).contains(&w.units), "{w:?}");
        assert_eq!(w.calls, w.units);
        assert_eq!(w.injected_ns, w.units * 10_000);
        // Warm-up and start-up were paid once, before the first window.
        assert!((target.clock_s() - (0.05 + 0.02 + 0.2 + 0.5 + 1.0)).abs() < 1e-9);
    }
}
