//! What the experiment engine and its front ends (the headless commands and
//! the TUI) say to each other: one [`Command`] type in, one [`Update`] type
//! out, over channels. The engine runs on its own thread; a front end sends
//! commands and renders updates, and never touches processes or shared
//! memory itself. The result types are also the schema of `results.json`
//! (see docs/results-schema.md): stable, fields only ever added.

use std::sync::mpsc::{Receiver, Sender};

use serde::{Deserialize, Serialize};

use crate::analysis::{
    CallTree, Candidate, GainPrediction, LatencyEffect, OwnTime, PythonVerdict, RankedCandidate,
    RelativeThroughput, ShapeAnalysis, SweepPoint, Verdict,
};
use crate::live::{ApplyReport, LiveSettings, LiveSnapshot};

/// How windows are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One long-running process; settings switched live through the control
    /// block between windows (servers, long benchmarks).
    Live,
    /// One run of the command per window (workloads that do fixed work and
    /// exit), as in docs/methodology.md.
    Restart,
    /// Live while the workload keeps running; restart when it exits on its
    /// own before the experiment is done.
    Auto,
}

/// Everything the engine needs to run experiments on a workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// The workload's command line (`python bench.py ...`).
    pub command: Vec<String>,
    /// Live, restart or automatic.
    pub mode: Mode,
    /// Progress points, `module:qualname` (units = completed calls).
    pub progress_points: Vec<String>,
    /// Latency points, `module:qualname`: each completed call is a request
    /// whose latency the hook streams through the ring.
    pub latency_points: Vec<String>,
    /// Regex over the workload's output lines; capture group 1 is the value.
    pub progress_regex: Option<String>,
    /// Whether the regex's value is a rate (`true`) or a running count.
    pub progress_regex_is_rate: bool,
    /// Seconds of warm-up skipped before the first window (live mode), or at
    /// the start of each run (restart mode; docs/methodology.md "Using Timing
    /// Windows"), counted from the first unit of progress: a start-up before
    /// it is always skipped, however long.
    pub warmup_s: f64,
    /// Seed of the randomised window order (same seed, same schedule).
    pub seed: u64,
    /// Target half-width of relative-throughput intervals (0.02 = ±2%).
    pub target_precision: f64,
}

impl ExperimentConfig {
    /// A configuration for `command` with the defaults below.
    pub fn new(command: Vec<String>) -> ExperimentConfig {
        ExperimentConfig {
            command,
            ..ExperimentConfig::default()
        }
    }
}

impl Default for ExperimentConfig {
    /// Auto mode, no progress point or regex (`speedbump.progress()` is
    /// then the throughput), 0.5 s of warm-up after the first unit of
    /// progress, seed 1, intervals of ±2%.
    fn default() -> ExperimentConfig {
        ExperimentConfig {
            command: Vec::new(),
            mode: Mode::Auto,
            progress_points: Vec::new(),
            latency_points: Vec::new(),
            progress_regex: None,
            progress_regex_is_rate: true,
            warmup_s: 0.5,
            seed: 1,
            target_precision: 0.02,
        }
    }
}

/// A running engine, as a front end holds it.
#[derive(Debug)]
pub struct EngineHandle {
    /// Requests to the engine.
    pub commands: Sender<Command>,
    /// What the engine reports, in order.
    pub updates: Receiver<Update>,
}

/// Which experiment an update belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentKind {
    /// Which functions run and how often (delay 0).
    Census,
    /// Steps 1-2: throughput against delay for one set of patterns.
    Sweep,
    /// Steps 3-4: candidates ranked at one delay.
    Rank,
}

/// A request from a front end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Census window(s) at delay 0 with `patterns` (e.g. `*:*`), building the
    /// call tree of what runs.
    Census {
        /// Pattern lines to count under.
        patterns: Vec<String>,
        /// How long to count, seconds.
        window_s: f64,
    },
    /// Steps 1-2: paired windows (baseline at delay 0 with the same
    /// patterns, treatment at each delay), interleaved and randomised, until
    /// every interval is tight enough or the budget ends.
    Sweep {
        /// Pattern lines to slow.
        patterns: Vec<String>,
        /// Delays to measure, ns (0 is implied by the baselines).
        delays_ns: Vec<u64>,
        /// Delay every Nth matching call.
        frequency: u64,
        /// Wall-clock budget for the whole sweep, seconds.
        budget_s: f64,
    },
    /// Steps 3-4: candidates ranked by what slowing them costs
    /// (docs/ranking.md): equal dose, grouped design, leaders confirmed.
    Rank {
        /// What to compare (children of a tree node, or pattern files).
        candidates: Vec<Candidate>,
        /// Delay per call, ns, when `dose` is `None`.
        delay_ns: u64,
        /// Equal dose: injected time per unit as a fraction of the time
        /// per unit (0.05 = 5%), each candidate's per-call delay from its
        /// calls per unit; `None`: `delay_ns` per call for every candidate.
        dose: Option<f64>,
        /// Delay every Nth matching call.
        frequency: u64,
        /// Wall-clock budget for the whole ranking, seconds.
        budget_s: f64,
    },
    /// Put settings in force now, outside any experiment (TUI: edit a
    /// pattern, change delay and frequency by hand).
    Apply(LiveSettings),
    /// Count units of progress with these progress points from now on,
    /// without restarting the workload (the TUI at step 0, when the
    /// workload was started without a progress source): the first is the
    /// throughput of every later window, of the idle settings and of the
    /// live view. An empty list goes back to the other sources.
    SetProgressPoints(Vec<String>),
    /// Stop the current experiment; what it measured so far is kept and
    /// reported as a partial result.
    Cancel,
    /// Stop the workload's process group and end the engine thread.
    Shutdown,
}

/// Something the engine reports. Front ends fold these into their state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Update {
    /// The workload started (again, in restart mode) with this mode.
    Started {
        /// The mode in use.
        mode: Mode,
        /// Processes' command line.
        command: Vec<String>,
    },
    /// Live counters and throughput, a few times a second.
    Live(Box<LiveSnapshot>),
    /// A line the workload printed (kept for display; never painted over).
    Output {
        /// The line, without its newline.
        line: String,
        /// True for stderr.
        stderr: bool,
    },
    /// A settings change reached the processes (or some timed out).
    Applied(ApplyReport),
    /// Budget and evidence so far of the running experiment.
    Progress {
        /// Which experiment.
        kind: ExperimentKind,
        /// Seconds of budget spent.
        spent_s: f64,
        /// The budget, seconds.
        budget_s: f64,
        /// Pairs of windows measured so far, over all settings.
        pairs: usize,
    },
    /// The census finished: what runs, as a tree.
    CensusDone(Box<CensusResult>),
    /// New evidence for one delay of a sweep (sent after each pair).
    SweepPoint {
        /// Index into the sweep's delays.
        index: usize,
        /// The point so far (None while no usable pair exists).
        point: Option<SweepPoint>,
        /// Whether this delay is done, and why.
        verdict: Verdict,
    },
    /// The sweep finished (or was cancelled: `partial`).
    SweepDone(Box<SweepResult>),
    /// New evidence for one candidate of a ranking (sent after each pair).
    CandidateUpdate {
        /// Index into the ranking's candidates.
        index: usize,
        /// Relative throughput so far.
        relative: Option<RelativeThroughput>,
        /// Whether this candidate is done, and why.
        verdict: Verdict,
    },
    /// The ranking finished (or was cancelled: `partial`).
    RankDone(Box<RankResult>),
    /// Something the user should know (skipped segment, noisy window...).
    Warning(String),
    /// The workload exited on its own (live mode) or a run failed (restart
    /// mode); results so far are kept.
    WorkloadExited {
        /// Exit status (None when killed by a signal).
        status: Option<i32>,
        /// Signal number when killed by one.
        signal: Option<i32>,
        /// Its last output lines.
        last_lines: Vec<String>,
    },
    /// A front end started this (sent by the session server to its other
    /// clients, and replayed to clients that attach later, so every client
    /// knows what runs; the engine itself never sends it).
    Accepted(Command),
    /// The session server did not pass this front end's command on (another
    /// front end has control), and why; the engine itself never sends it.
    Refused {
        /// The command refused.
        command: Command,
        /// Words for the user.
        reason: String,
    },
    /// The engine thread ended (after `Shutdown`, or a fatal error).
    Finished {
        /// Why, when it was an error.
        error: Option<String>,
    },
}

/// A census: what ran under `patterns` at delay 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CensusResult {
    /// The patterns counted under.
    pub patterns: Vec<String>,
    /// Seconds counted.
    pub window_s: f64,
    /// Throughput during the census, units per second (None without progress).
    pub throughput_per_s: Option<f64>,
    /// The tree of functions seen, with calls.
    pub tree: CallTree,
    /// Step 3's candidates: top-level packages (and `__main__`) by calls.
    pub top_level: Vec<Candidate>,
}

/// Steps 1-2 for one set of patterns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    /// The patterns slowed.
    pub patterns: Vec<String>,
    /// Delay every Nth matching call.
    pub frequency: u64,
    /// Mode the windows ran in.
    pub mode: Mode,
    /// One point per delay, in the order asked (None: no usable pair).
    pub points: Vec<Option<SweepPoint>>,
    /// Per delay: whether it reached the target precision.
    pub verdicts: Vec<Verdict>,
    /// Shape of throughput against delay, with the fit.
    pub shape: ShapeAnalysis,
    /// Step 1's verdict: is Python the bottleneck?
    pub python: PythonVerdict,
    /// Step 2: gain if the matched code were faster, for a few speed-ups
    /// (ns per call), each first-order with its interval and caveat, and
    /// capped at `own_time` when it was measured.
    pub predictions: Vec<GainPrediction>,
    /// The matched code's own time, measured at delay 0 before the sweep's
    /// windows: the most a speed-up can remove. `None`: not measured
    /// (`own_time_note` says why; absent in results of older versions).
    #[serde(default)]
    pub own_time: Option<OwnTime>,
    /// Why `own_time` was not measured, in words for the user.
    #[serde(default)]
    pub own_time_note: Option<String>,
    /// Per delay, in the order asked: what it did to request latency
    /// (`None` without latency points or requests; docs/latency.md).
    #[serde(default)]
    pub latency: Vec<Option<LatencyEffect>>,
    /// Seconds of wall time used.
    pub spent_s: f64,
    /// True when cancelled or cut short by the workload's exit.
    pub partial: bool,
}

/// Steps 3-4: candidates ranked at one delay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankResult {
    /// The node the candidates are children of (`*` for the top level), or
    /// the pattern files they came from.
    pub under: String,
    /// Delay per call, ns, when every candidate had the same (`dose`
    /// absent); each candidate's own is in `ranked`.
    pub delay_ns: u64,
    /// The equal dose asked for (fraction of the time per unit), if any.
    #[serde(default)]
    pub dose: Option<f64>,
    /// Baseline time per unit of work in the dosing census, seconds.
    #[serde(default)]
    pub time_per_unit_s: Option<f64>,
    /// The grouped design, when one ran.
    #[serde(default)]
    pub design: Option<super::rank::RankDesign>,
    /// Delay every Nth matching call.
    pub frequency: u64,
    /// Mode the windows ran in.
    pub mode: Mode,
    /// The candidates, best first (ties flagged).
    pub ranked: Vec<RankedCandidate>,
    /// Per candidate (in the order asked): whether it reached the target
    /// precision.
    pub verdicts: Vec<Verdict>,
    /// The candidates' labels in the order asked (as `verdicts`), so a
    /// verdict can name its candidate.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Seconds of wall time used.
    pub spent_s: f64,
    /// True when cancelled or cut short by the workload's exit.
    pub partial: bool,
}
