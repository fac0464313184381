//! `speedbump tui --demo-fake` and the TUI's tests: the real experiment
//! engine ([`spawn_on`]: the same runner, sweeps, rankings and census as
//! `speedbump tui` on a real workload) over the simulated workload of
//! [`crate::experiment::fake`], so that what the TUI shows is what
//! the engine computes. Nothing here measures or judges anything itself.
//!
//! [`spawn`] runs the simulation on the wall clock (sped up by
//! [`FakeOptions::speed`]), with live snapshots and output lines between
//! experiments, so the demo looks live. [`Script`] runs it on the virtual
//! clock and hands back, command by command, the updates the engine sent:
//! deterministic frames for the snapshot tests (the same seed gives the same
//! frames).

use std::sync::Arc;
use std::time::Duration;

use crate::experiment::fake::{FakeTarget, FakeWorkload, Pace, progress_line};
use crate::experiment::{
    Command, EngineHandle, EngineOptions, ExperimentConfig, Mode, Target, Update, spawn_on,
};
use crate::live::EngineError;
use crate::live::LiveSettings;
use crate::live::progress::RegexProgress;

/// How the demo behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeOptions {
    /// Seed of the noise and of the window order.
    pub seed: u64,
    /// Simulated seconds per real second (10 = ten times faster).
    pub speed: f64,
    /// Real time between live snapshots.
    pub live_interval: Duration,
    /// Target half-width of intervals (0.02 = ±2%).
    pub precision: f64,
    /// The workload crashes this many simulated seconds after it started.
    pub crash_after_s: Option<f64>,
    /// The command it pretends to run.
    pub command: Vec<String>,
}

impl Default for FakeOptions {
    fn default() -> FakeOptions {
        FakeOptions {
            seed: 7,
            speed: 1.0,
            live_interval: Duration::from_millis(100),
            precision: 0.02,
            crash_after_s: None,
            command: vec!["python".into(), "examples/pipeline.py".into()],
        }
    }
}

/// Warm-up skipped before the first window, simulated seconds.
const WARMUP_S: f64 = 0.5;

/// What a crash of the simulated pipeline prints.
fn crash_lines() -> Vec<String> {
    vec![
        "Traceback (most recent call last):".to_owned(),
        "  File \"examples/pipeline.py\", line 212, in launch".to_owned(),
        "BrokenPipeError: [Errno 32] Broken pipe".to_owned(),
    ]
}

/// The simulated workload the demo runs: [`FakeWorkload::pipeline`],
/// crashing after `crash_after_s` if given.
pub fn workload(crash_after_s: Option<f64>) -> FakeWorkload {
    let mut workload = FakeWorkload::pipeline();
    if let Some(after) = crash_after_s {
        workload.run_s = Some(after.max(0.0));
        workload.exit_status = 1;
        workload.last_lines = crash_lines();
    }
    workload
}

fn config(command: Vec<String>, seed: u64, precision: f64) -> ExperimentConfig {
    ExperimentConfig {
        mode: Mode::Live,
        seed,
        target_precision: precision,
        warmup_s: WARMUP_S,
        ..ExperimentConfig::new(command)
    }
}

/// Starts the real engine on the simulated workload, on the wall clock.
pub fn spawn(options: FakeOptions) -> Result<EngineHandle, EngineError> {
    let workload = workload(options.crash_after_s);
    let pace = Pace::Wall {
        speed: options.speed.max(0.01),
    };
    let interval = options.live_interval;
    let seed = options.seed;
    spawn_on(
        config(options.command, options.seed, options.precision),
        EngineOptions::default(),
        move |sink| {
            let mut target = FakeTarget::new(workload, Mode::Live, WARMUP_S, seed).paced(pace);
            target.report_to(sink, interval);
            Ok(Box::new(target) as Box<dyn Target>)
        },
    )
}

/// The engine on the simulated workload on the virtual clock: each
/// [`Script::run`] returns every update the engine sent for one command.
#[derive(Debug)]
pub struct Script {
    engine: EngineHandle,
    workload: FakeWorkload,
    seed: u64,
    /// Set by [`Command::SetProgressPoints`]; [`Script::live`] counts them.
    progress_points: Vec<String>,
    /// Set by [`Command::SetProgressRegex`] (which clears the points);
    /// [`Script::live`] reads the workload's rate lines with it.
    regex: Option<Arc<RegexProgress>>,
}

/// How long a command may take on the virtual clock (real time).
const PATIENCE: Duration = Duration::from_secs(60);

impl Script {
    /// The engine with seed `seed`, running the reference pipeline's
    /// command line.
    pub fn new(seed: u64) -> Script {
        Script::start(workload(None), seed)
    }

    /// The same, on a workload that crashes `after_s` simulated seconds
    /// after it started (the engine learns it in the first window after).
    pub fn crashing(seed: u64, after_s: f64) -> Script {
        Script::start(workload(Some(after_s)), seed)
    }

    /// The same, on a workload that does not call `speedbump.progress()`:
    /// no throughput until a progress point is set; it still prints its
    /// rate (`… steps/s`).
    pub fn without_progress_api(seed: u64) -> Script {
        let mut workload = workload(None);
        workload.api_progress = false;
        Script::start(workload, seed)
    }

    fn start(workload: FakeWorkload, seed: u64) -> Script {
        let command = ["python", "examples/pipeline.py", "--regime", "python-bound"]
            .map(String::from)
            .to_vec();
        let target_workload = workload.clone();
        let engine = spawn_on(
            config(command, seed, 0.02),
            EngineOptions::default(),
            move |sink| {
                let mut target = FakeTarget::new(target_workload, Mode::Live, WARMUP_S, seed);
                target.report_to(sink, Duration::ZERO);
                Ok(Box::new(target) as Box<dyn Target>)
            },
        )
        .unwrap_or_else(|e| panic!("the engine starts on the fake target: {e}"));
        Script {
            engine,
            workload,
            seed,
            progress_points: Vec::new(),
            regex: None,
        }
    }

    /// The first update: `Started`.
    pub fn started(&mut self) -> Update {
        self.next()
            .unwrap_or_else(|| panic!("the engine sends Started"))
    }

    fn next(&self) -> Option<Update> {
        self.engine.updates.recv_timeout(PATIENCE).ok()
    }

    /// Sends `command` and returns the updates up to its `CensusDone`,
    /// `SweepDone` or `RankDone` (`Apply`, `SetProgressPoints`, a valid
    /// `SetProgressRegex`: up to its `Applied`; an invalid regex: up to the
    /// warning that refuses it).
    pub fn run(&mut self, command: Command) -> Vec<Update> {
        let mut refused = false;
        match &command {
            Command::SetProgressPoints(points) => self.progress_points.clone_from(points),
            Command::SetProgressRegex { regex, kind } => match RegexProgress::new(regex, *kind) {
                Ok(regex) => {
                    self.progress_points.clear();
                    self.regex = Some(Arc::new(regex));
                }
                Err(_) => refused = true,
            },
            _ => {}
        }
        let apply = !refused
            && matches!(
                command,
                Command::Apply(_)
                    | Command::SetProgressPoints(_)
                    | Command::SetProgressRegex { .. }
            );
        self.engine
            .commands
            .send(command)
            .unwrap_or_else(|e| panic!("the engine takes commands: {e}"));
        let mut updates = Vec::new();
        while let Some(update) = self.next() {
            let done = match update {
                Update::CensusDone(_) | Update::SweepDone(_) | Update::RankDone(_) => true,
                Update::Applied(_) => apply,
                Update::Warning(_) => refused,
                Update::Started { .. }
                | Update::Live(_)
                | Update::Output { .. }
                | Update::Progress { .. }
                | Update::SweepPoint { .. }
                | Update::CandidateUpdate { .. }
                | Update::WorkloadExited { .. }
                | Update::Accepted(_)
                | Update::Refused { .. }
                | Update::Finished { .. } => false,
            };
            updates.push(update);
            if done {
                return updates;
            }
        }
        panic!("the engine did not finish the command: {updates:?}");
    }

    /// Live snapshots every 0.1 s from `from_s` to `to_s` under `*:*` (and
    /// the progress points or regex set), as the demo's sampler sends them.
    pub fn live(&self, from_s: f64, to_s: f64) -> Vec<Update> {
        let settings = LiveSettings {
            delay_ns: 0,
            patterns: vec!["*:*".into()],
            progress_points: self.progress_points.clone(),
            ..LiveSettings::default()
        };
        let mut out = Vec::new();
        let mut units = 0.0;
        let mut t = from_s;
        while t <= to_s + 1e-9 {
            let snapshot = self.workload.snapshot(
                &settings,
                self.regex.as_deref(),
                1,
                t,
                self.seed ^ (t * 1e3) as u64,
            );
            units += snapshot
                .primary_throughput()
                .and_then(|r| r.per_second)
                .unwrap_or(0.0)
                * 0.1;
            out.push(Update::Live(Box::new(snapshot)));
            if (t * 10.0).round() as u64 % 20 == 0 {
                let rate = self.workload.rate_per_s(&settings);
                out.push(Update::Output {
                    line: progress_line(&self.workload.unit, units, rate),
                    stderr: false,
                });
            }
            t += 0.1;
        }
        out
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.engine.commands.send(Command::Shutdown);
    }
}

/// The updates of `updates` up to and including the `n`th that `counts`
/// (e.g. the first round of a sweep's points).
pub fn first(updates: &[Update], n: usize, counts: impl Fn(&Update) -> bool) -> Vec<Update> {
    let mut seen = 0;
    let mut out = Vec::new();
    for u in updates {
        out.push(u.clone());
        if counts(u) {
            seen += 1;
            if seen == n {
                break;
            }
        }
    }
    out
}
