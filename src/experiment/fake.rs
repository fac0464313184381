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
//! add nothing. `noise` is log-normal with a seeded generator.
//!
//! The clock ([`Pace`]) is simulated by default: a window of 0.3 s advances
//! it by 0.3 s plus the cost of the settings change (live) or of a whole run
//! (restart), and nothing sleeps, so tests are fast and deterministic. On
//! the wall clock (`Pace::Wall`, `speedbump tui --demo-fake`) the same
//! windows take real time and time passes between experiments too; with
//! [`FakeTarget::report_to`] the target then also reports what a real
//! workload's session does: live snapshots, output lines, settings applied.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::analysis::prng::SplitMix64;
use crate::analysis::{CensusEntry, Window};
use crate::live::snapshot::{
    ApplyReport, Counts, FunctionReading, PatternReading, ProcessApply, ProcessCounts, Rates,
    SourceKind, ThroughputReading,
};
use crate::live::{LiveSettings, LiveSnapshot};
use crate::pattern::PatternSet;

use super::context::UpdateSink;
use super::protocol::{Mode, Update};
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
    /// What it prints (stderr) when it ends by itself; empty: one line
    /// naming the status.
    pub last_lines: Vec<String>,
    /// Name of its unit of progress (`speedbump.progress(name=...)`).
    pub unit: String,
    /// Whether it counts its units with `speedbump.progress()`; without,
    /// the live view has no throughput until a progress point is set (one
    /// of its functions, counted once per call).
    pub api_progress: bool,
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
            last_lines: Vec::new(),
            unit: "steps".to_owned(),
            api_progress: true,
        }
    }

    /// The python-bound pipeline inside a program with more subsystems:
    /// `__main__` (the critical stages above), `_util` (critical but rarely
    /// called) and a busy `telemetry` package with `json` beneath it, both
    /// off the critical path (another thread's work). What
    /// `speedbump tui --demo-fake` and the TUI's tests run: rankings must
    /// put `__main__` first at the top level and `prepare_inputs` first in
    /// it, though telemetry makes the most calls.
    pub fn pipeline() -> FakeWorkload {
        let mut workload = FakeWorkload::python_bound();
        workload.functions.extend([
            FakeFunction::off_path("telemetry.exporter:Exporter.record", 4.0, 20_000.0),
            FakeFunction::off_path("telemetry.exporter:Exporter.flush", 0.05, 200_000.0),
            FakeFunction::off_path("telemetry.format:format_line", 4.0, 15_000.0),
            FakeFunction::off_path("json.encoder:JSONEncoder.encode", 4.0, 10_000.0),
        ]);
        workload
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

    /// A serving loop with `children` modules under `serve`: one quiet
    /// critical stage (`serve.sched:pick`, one 150 µs call per unit while
    /// the device is idle) and `children - 1` busy stages hidden behind
    /// the device (hundreds of short calls per unit, off the critical
    /// path); 2 ms per unit in all.
    pub fn serving_loop(children: usize) -> FakeWorkload {
        let mut functions = vec![FakeFunction::critical("serve.sched:pick", 1.0, 150_000.0)];
        for i in 1..children {
            functions.push(FakeFunction::off_path(
                &format!("serve.post{i}:step"),
                100.0 + 50.0 * i as f64,
                2_000.0,
            ));
        }
        FakeWorkload {
            functions,
            other_ns: 1_850_000.0,
            device_ns: 0.0,
            noise: 0.02,
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
                    let extra = matcher
                        .delay_per_call_ns(&f.name)
                        .map_or(0.0, |d| self.hook_ns + d);
                    f.calls_per_unit * (f.cost_ns + extra)
                })
                .sum::<f64>();
        host_ns.max(self.device_ns) * 1e-9
    }

    /// What a session's sampler would report `elapsed_s` into the run under
    /// `settings` (generation `generation`): the throughput with noise
    /// drawn from `noise_seed`, calls per pattern and the busiest
    /// functions (cumulative counts as if the rate had held since the
    /// start).
    pub fn snapshot(
        &self,
        settings: &LiveSettings,
        generation: u64,
        elapsed_s: f64,
        noise_seed: u64,
    ) -> LiveSnapshot {
        let noise = (self.noise * SplitMix64::new(noise_seed).gaussian()).exp();
        let rate = self.rate_per_s(settings) / noise;
        let matcher = Matcher::new(settings);
        let delayed_share = if settings.delay_ns > 0 {
            1.0 / matcher.frequency as f64
        } else {
            0.0
        };
        let delay_ns = settings.delay_ns as f64;
        let counts = |per_s: f64| Counts {
            calls: (per_s * elapsed_s) as u64,
            delayed_calls: (per_s * elapsed_s * delayed_share) as u64,
            injected_ns: (per_s * elapsed_s * delayed_share * delay_ns) as u64,
            own_ns: 0,
        };
        let rates = |per_s: f64| Rates {
            calls_per_s: per_s,
            delayed_calls_per_s: per_s * delayed_share,
            injected_ns_per_s: per_s * delayed_share * delay_ns,
        };
        let patterns = settings
            .patterns
            .iter()
            .map(|p| {
                let one = Matcher::new(&LiveSettings {
                    patterns: vec![p.clone()],
                    ..settings.clone()
                });
                let mine: Vec<&FakeFunction> = self
                    .functions
                    .iter()
                    .filter(|f| one.matches(&f.name))
                    .collect();
                let per_s: f64 = mine.iter().map(|f| f.calls_per_unit * rate).sum();
                PatternReading {
                    pattern: p.trim_start_matches('!').to_owned(),
                    exclude: p.starts_with('!'),
                    generations: vec![generation],
                    functions_matched: mine.len() as u64,
                    counts: counts(per_s),
                    rates: Some(rates(per_s)),
                }
            })
            .collect();
        let mut functions: Vec<FunctionReading> = self
            .functions
            .iter()
            .filter(|f| matcher.matches(&f.name))
            .map(|f| FunctionReading {
                name: f.name.clone(),
                kind: "python",
                pattern: settings.patterns.first().cloned().unwrap_or_default(),
                processes: 1,
                counts: counts(f.calls_per_unit * rate),
                rates: Some(rates(f.calls_per_unit * rate)),
            })
            .collect();
        let per_s = |r: &FunctionReading| r.rates.map_or(0.0, |r| r.calls_per_s);
        functions.sort_by(|a, b| per_s(b).total_cmp(&per_s(a)).then(a.name.cmp(&b.name)));
        let functions_total = functions.len();
        functions.truncate(10);
        LiveSnapshot {
            kind: "sample",
            elapsed_s,
            rate_window_s: elapsed_s.min(1.0),
            generations: vec![generation],
            complete: true,
            processes: ProcessCounts {
                live: 1,
                exited: 0,
                total: 1,
            },
            throughput: self.throughput(settings, rate, elapsed_s),
            patterns,
            functions,
            functions_total,
            latency: crate::live::latency::LatencyReport::default(),
        }
    }

    /// The throughput readings, in the live session's order: the progress
    /// points of `settings` (a point counts the calls of the function it
    /// names), then `speedbump.progress()` when the workload calls it.
    fn throughput(
        &self,
        settings: &LiveSettings,
        rate: f64,
        elapsed_s: f64,
    ) -> Vec<ThroughputReading> {
        let reading = |source, name: &str, per_s: Option<f64>| ThroughputReading {
            source,
            name: name.to_owned(),
            units: Some(per_s.map_or(0.0, |r| (r * elapsed_s).floor())),
            per_second: per_s,
            seconds_per_unit: per_s.filter(|r| *r > 0.0).map(|r| 1.0 / r),
        };
        let mut out: Vec<ThroughputReading> = settings
            .progress_points
            .iter()
            .map(|point| {
                let per_s = self
                    .functions
                    .iter()
                    .find(|f| f.name == *point)
                    .map(|f| f.calls_per_unit * rate);
                reading(SourceKind::Point, point, per_s)
            })
            .collect();
        if self.api_progress {
            out.push(reading(SourceKind::Api, &self.unit, Some(rate)));
        }
        out
    }

    /// Units per second under `settings` (without noise).
    pub fn rate_per_s(&self, settings: &LiveSettings) -> f64 {
        1.0 / self.time_per_unit_s(settings)
    }

    /// What it prints when it ends by itself.
    fn exit_lines(&self) -> Vec<String> {
        if self.last_lines.is_empty() {
            vec![format!(
                "fake workload ended with status {}",
                self.exit_status
            )]
        } else {
            self.last_lines.clone()
        }
    }
}

/// Which functions the settings match, and the delay per matched call.
struct Matcher {
    set: Option<PatternSet>,
    delays_ns: Vec<u64>,
    delay_ns: u64,
    frequency: u64,
    enabled: bool,
}

impl Matcher {
    fn new(settings: &LiveSettings) -> Matcher {
        Matcher {
            set: settings.pattern_set("fake").ok(),
            delays_ns: settings.include_delays_ns(),
            delay_ns: settings.delay_ns,
            frequency: settings.frequency.max(1),
            enabled: settings.enabled,
        }
    }

    fn matches(&self, name: &str) -> bool {
        self.delay_per_call_ns(name).is_some()
    }

    /// The mean delay per call of `name` (`None`: not matched).
    fn delay_per_call_ns(&self, name: &str) -> Option<f64> {
        let (module, qualname) = name.split_once(':')?;
        if !self.enabled {
            return None;
        }
        let index = self.set.as_ref()?.decide(module, "", qualname)?;
        let delay = if self.delays_ns.is_empty() {
            self.delay_ns
        } else {
            self.delays_ns.get(index).copied().unwrap_or(0)
        };
        Some(delay as f64 / self.frequency as f64)
    }
}

/// The window length `noise` refers to, seconds.
const NOISE_WINDOW_S: f64 = 0.3;

/// Costs of the simulated clock.
const APPLY_S: f64 = 0.02;
const PROCESS_START_S: f64 = 0.05;
const STOP_S: f64 = 0.05;

/// How the fake's clock runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Simulated time only: nothing sleeps and nothing happens between
    /// experiments (tests).
    Virtual,
    /// Simulated time, and each window also takes this much real time, so
    /// that commands can arrive mid-experiment in tests.
    PerWindow(Duration),
    /// Simulated seconds are real seconds divided by `speed` (10: ten times
    /// faster than real time): windows take real time and time passes
    /// between experiments too (the TUI's demo).
    Wall {
        /// Simulated seconds per real second.
        speed: f64,
    },
}

/// The wall clock of a [`Pace::Wall`] target.
#[derive(Debug, Clone, Copy)]
struct WallClock {
    start: Instant,
    speed: f64,
    offset_s: f64,
}

impl WallClock {
    fn now_s(&self) -> f64 {
        self.offset_s + self.start.elapsed().as_secs_f64() * self.speed
    }
}

/// What the sampler thread of a reporting target shares with it.
#[derive(Debug)]
struct Feed {
    settings: LiveSettings,
    generation: u64,
}

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
    /// How the clock runs (default [`Pace::Virtual`]).
    pace: Pace,
    wall: Option<WallClock>,
    seed: u64,
    generation: u64,
    /// Where applied settings are reported, once [`FakeTarget::report_to`]
    /// was called.
    reporter: Option<Reporter>,
    stop: Arc<AtomicBool>,
    /// How often the simulated progress signal updates (a workload that
    /// prints its rate every so often), seconds; `None`: every unit counts.
    pub signal_period_s: Option<f64>,
}

/// Where a reporting target sends updates, and what its sampler reads.
#[derive(Clone)]
struct Reporter {
    sink: UpdateSink,
    feed: Arc<Mutex<Feed>>,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter")
            .field("feed", &self.feed)
            .finish_non_exhaustive()
    }
}

/// The line a simulated workload prints every 2 seconds:
/// `6350 steps done, 1515 steps/s`.
pub fn progress_line(unit: &str, units: f64, rate: f64) -> String {
    format!("{units:.0} {unit} done, {rate:.0} {unit}/s")
}

/// The pid the fake reports for its one process.
const FAKE_PID: u32 = 4242;

/// The thread of a reporting target on the wall clock: live snapshots and
/// output lines, as a session's sampler and output capture send them.
struct Sampler {
    workload: FakeWorkload,
    ends_at_s: Option<f64>,
    seed: u64,
    clock: WallClock,
    interval: Duration,
    feed: Arc<Mutex<Feed>>,
    stop: Arc<AtomicBool>,
    sink: UpdateSink,
}

impl Sampler {
    fn run(self) {
        let unit = &self.workload.unit;
        let (mut units, mut last_s, mut next_line_s) = (0.0, self.clock.now_s(), 0.0);
        while !self.stop.load(Ordering::Acquire) {
            let now = self.clock.now_s();
            if self.ends_at_s.is_some_and(|end| now >= end) {
                for line in self.workload.exit_lines() {
                    (self.sink)(Update::Output { line, stderr: true });
                }
                return;
            }
            let (settings, generation) = {
                let feed = self.feed.lock().unwrap_or_else(PoisonError::into_inner);
                (feed.settings.clone(), feed.generation)
            };
            let noise_seed = self.seed ^ (now * 1e3) as u64;
            let snapshot = self
                .workload
                .snapshot(&settings, generation, now, noise_seed);
            let rate = snapshot
                .primary_throughput()
                .and_then(|t| t.per_second)
                .unwrap_or(0.0);
            units += rate * (now - last_s);
            last_s = now;
            (self.sink)(Update::Live(Box::new(snapshot)));
            if now >= next_line_s {
                next_line_s = now + 2.0;
                (self.sink)(Update::Output {
                    line: progress_line(unit, units, rate),
                    stderr: false,
                });
            }
            std::thread::sleep(self.interval.max(Duration::from_millis(10)));
        }
    }
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
            pace: Pace::Virtual,
            wall: None,
            seed,
            generation: 1,
            reporter: None,
            stop: Arc::new(AtomicBool::new(false)),
            signal_period_s: None,
        }
    }

    /// The same target with its clock run by `pace`.
    pub fn paced(mut self, pace: Pace) -> FakeTarget {
        self.wall = match pace {
            Pace::Wall { speed } => Some(WallClock {
                start: Instant::now(),
                speed: speed.max(1e-3),
                offset_s: self.clock_s,
            }),
            _ => None,
        };
        self.pace = pace;
        self
    }

    /// Reports to `sink` what a live session reports: every settings change
    /// applied, and (on the wall clock) a live snapshot every `interval`
    /// of real time and an output line every 2 simulated seconds, until the
    /// workload ends (then its last lines) or the target shuts down.
    pub fn report_to(&mut self, sink: UpdateSink, interval: Duration) {
        let feed = Arc::new(Mutex::new(Feed {
            settings: self.settings.clone(),
            generation: self.generation,
        }));
        self.reporter = Some(Reporter {
            sink: Arc::clone(&sink),
            feed: Arc::clone(&feed),
        });
        let Some(clock) = self.wall else {
            return;
        };
        let sampler = Sampler {
            workload: self.workload.clone(),
            ends_at_s: self.workload.run_s.map(|r| self.process_start_s + r),
            seed: self.seed,
            clock,
            interval,
            feed,
            stop: Arc::clone(&self.stop),
            sink,
        };
        let started = std::thread::Builder::new()
            .name("speedbump-fake-sampler".into())
            .spawn(move || sampler.run());
        if let Err(e) = started {
            if let Some(r) = &self.reporter {
                (r.sink)(Update::Warning(format!(
                    "cannot start the fake sampler: {e}"
                )));
            }
        }
    }

    /// Seconds on the target's clock.
    fn now_s(&self) -> f64 {
        self.wall.map_or(self.clock_s, |w| w.now_s())
    }

    /// Lets `s` seconds of simulated time pass (on the wall clock: sleeps
    /// them, `Err(Cancelled)` as soon as cancelled).
    fn advance(&mut self, s: f64, cancel: &Cancel) -> Result<(), TargetError> {
        match self.wall {
            Some(w) if s > 0.0 => cancel.sleep(Duration::from_secs_f64(s / w.speed)),
            Some(_) => Ok(()),
            None => {
                self.clock_s += s;
                Ok(())
            }
        }
    }

    /// The live process ended by itself: it is no longer running, and what
    /// it printed last is reported (on the wall clock the sampler does
    /// that, when the time comes).
    fn ended(&mut self) -> TargetError {
        if self.running {
            self.running = false;
            if let (Some(r), None) = (&self.reporter, self.wall) {
                for line in self.workload.exit_lines() {
                    (r.sink)(Update::Output { line, stderr: true });
                }
            }
        }
        TargetError::Exited(self.exit_info())
    }

    /// Whether the live process has reached the end of its run.
    fn past_end(&self) -> bool {
        self.mode == Mode::Live
            && self
                .workload
                .run_s
                .is_some_and(|run_s| self.now_s() >= self.process_start_s + run_s)
    }

    /// The workload it simulates.
    pub fn workload(&self) -> &FakeWorkload {
        &self.workload
    }

    fn exit_info(&self) -> ExitInfo {
        ExitInfo {
            status: Some(self.workload.exit_status),
            signal: None,
            last_lines: self.workload.exit_lines(),
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
                let used = self.workload.startup_s + self.warmup_s;
                self.advance(PROCESS_START_S + used, cancel)?;
                if let Some(run_s) = self.workload.run_s {
                    let left = run_s - used;
                    if left <= 0.0 || (self.workload.exit_status != 0 && left < window_s) {
                        self.advance(left.max(0.0) + STOP_S, cancel)?;
                        return Err(TargetError::Exited(self.exit_info()));
                    }
                    window_s = window_s.min(left);
                }
                self.advance(window_s + STOP_S, cancel)?;
            }
            _ => {
                if !self.warmed_up {
                    self.advance(self.workload.startup_s + self.warmup_s, cancel)?;
                    self.warmed_up = true;
                }
                if let Some(run_s) = self.workload.run_s {
                    let ends_at = self.process_start_s + run_s;
                    let now = self.now_s();
                    if now + window_s > ends_at {
                        self.advance((ends_at - now).max(0.0), cancel)?;
                        return Err(self.ended());
                    }
                }
                self.advance(window_s, cancel)?;
            }
        }
        self.windows += 1;
        self.history.push(self.settings.clone());
        if let Pace::PerWindow(pace) = self.pace {
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
        let (mut matched_calls, mut delayed, mut injected) = (0.0, 0.0, 0.0);
        for f in &self.workload.functions {
            if let Some(d) = matcher.delay_per_call_ns(&f.name) {
                let calls = f.calls_per_unit * units as f64;
                matched_calls += calls;
                if d > 0.0 {
                    delayed += calls / matcher.frequency as f64;
                    injected += calls * d;
                }
            }
        }
        Ok(Window {
            units,
            wall_s: window_s,
            injected_ns: injected.round() as u64,
            delayed_calls: delayed.round() as u64,
            calls: matched_calls.round() as u64,
            whole_run: false,
            latency: None,
        })
    }
}

impl Target for FakeTarget {
    fn mode(&self) -> Mode {
        self.mode
    }

    fn set_progress_points(&mut self, points: &[String]) {
        // The simulated units do not depend on the source; the points go to
        // the live view with the settings applied next.
        self.settings.progress_points = points.to_vec();
    }

    fn clock_s(&self) -> f64 {
        self.now_s()
    }

    fn signal_period_s(&self) -> Option<f64> {
        self.signal_period_s
    }

    fn apply(&mut self, settings: &LiveSettings, cancel: &Cancel) -> Result<(), TargetError> {
        if cancel.is_cancelled() {
            return Err(TargetError::Cancelled);
        }
        if self.mode == Mode::Live {
            if !self.running || self.past_end() {
                return Err(self.ended());
            }
            self.advance(APPLY_S, cancel)?;
            self.generation += 1;
        }
        self.settings = settings.clone();
        if let (Some(r), Mode::Live) = (&self.reporter, self.mode) {
            {
                let mut feed = r.feed.lock().unwrap_or_else(PoisonError::into_inner);
                feed.settings = settings.clone();
                feed.generation = self.generation;
            }
            let latency_ms = Some(APPLY_S * 1e3);
            (r.sink)(Update::Applied(ApplyReport {
                kind: "applied",
                generation: self.generation,
                elapsed_s: self.now_s(),
                published_monotonic_ns: 0,
                processes: vec![ProcessApply {
                    pid: FAKE_PID,
                    latency_ms,
                }],
                max_latency_ms: latency_ms,
                timed_out: false,
            }));
        }
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
            .filter(|f| matcher.delay_per_call_ns(&f.name).is_some())
            .map(|f| {
                let calls = (f.calls_per_unit * window.units as f64).round() as u64;
                CensusEntry {
                    name: f.name.clone(),
                    calls,
                    injected_ns: 0,
                    // Each fake function is its own leaf (no nesting): its
                    // own time is its cost per call, every call.
                    own_ns: if self.settings.own_time {
                        (calls as f64 * f.cost_ns).round() as u64
                    } else {
                        0
                    },
                }
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
        self.running && !self.past_end()
    }

    fn shutdown(&mut self) -> Option<ExitInfo> {
        self.stop.store(true, Ordering::Release);
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
    fn off_path_subsystems_cost_nothing_but_are_seen() {
        let pipeline = FakeWorkload::pipeline();
        let py = FakeWorkload::python_bound();
        for s in [settings(&["*:*"], 0), settings(&["telemetry.*:*"], 100_000)] {
            assert_eq!(pipeline.time_per_unit_s(&s), py.time_per_unit_s(&s));
        }
        let snapshot = pipeline.snapshot(&settings(&["*:*"], 0), 3, 10.0, 1);
        assert_eq!(snapshot.functions_total, pipeline.functions.len());
        assert_eq!(snapshot.generations, [3]);
        let rate = snapshot.throughput[0].per_second.unwrap();
        let calls: f64 = pipeline.functions.iter().map(|f| f.calls_per_unit).sum();
        let per_s = snapshot.patterns[0].rates.unwrap().calls_per_s;
        assert!((per_s - calls * rate).abs() < 1e-6 * per_s, "{per_s}");
        assert_eq!(snapshot.patterns[0].rates.unwrap().delayed_calls_per_s, 0.0);
        let slowed = pipeline.snapshot(&settings(&["__main__:launch"], 10_000), 4, 10.0, 1);
        let r = slowed.patterns[0].rates.unwrap();
        assert_eq!(r.delayed_calls_per_s, r.calls_per_s);
        assert_eq!(slowed.functions.len(), 1);
    }

    #[test]
    fn on_the_wall_clock_windows_take_time_and_the_target_reports() {
        let crashing = FakeWorkload {
            run_s: Some(2.0),
            exit_status: 1,
            last_lines: vec!["Boom".to_owned()],
            ..FakeWorkload::pipeline()
        };
        let mut target =
            FakeTarget::new(crashing, Mode::Live, 0.1, 1).paced(Pace::Wall { speed: 10.0 });
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink: UpdateSink = {
            let seen = Arc::clone(&seen);
            Arc::new(move |u| seen.lock().unwrap().push(u))
        };
        target.report_to(sink, Duration::from_millis(10));
        let cancel = Cancel::never();
        let begun = Instant::now();
        target.apply(&settings(&["*:*"], 0), &cancel).unwrap();
        target.measure(0.5, &cancel).unwrap();
        // Start-up, warm-up, the change and the window: 0.82 simulated s.
        let real = begun.elapsed().as_secs_f64();
        assert!(real >= 0.08, "{real}");
        assert!(target.clock_s() >= 0.05 + 0.82 - 1e-9);
        // The crash at 2 s: the next window reports it, the sampler prints
        // the last lines and stops.
        let err = target.measure(5.0, &cancel).unwrap_err();
        assert!(matches!(err, TargetError::Exited(ref e) if e.last_lines == ["Boom"]));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !seen
            .lock()
            .unwrap()
            .iter()
            .any(|u| matches!(u, Update::Output { line, stderr: true } if line == "Boom"))
        {
            assert!(Instant::now() < deadline, "no last lines");
            std::thread::sleep(Duration::from_millis(10));
        }
        let seen = seen.lock().unwrap();
        let live = seen.iter().filter(|u| matches!(u, Update::Live(_))).count();
        assert!(live >= 2, "{live} snapshots");
        assert!(
            seen.iter()
                .any(|u| matches!(u, Update::Applied(a) if a.generation == 2))
        );
        assert!(
            seen.iter()
                .any(|u| matches!(u, Update::Output { stderr: false, .. }))
        );
        assert!(!target.is_running());
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
