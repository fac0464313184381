//! What a live session reports: a [`LiveSnapshot`] per sampling tick, an
//! [`ApplyReport`] per settings change, and a [`RunSummary`] at the end.
//!
//! These are also the JSON-lines schema of `speedbump run --json` (one
//! object per line, told apart by `type`; see docs/run.md). Fields are only
//! ever added, never renamed or removed.

use serde::{Deserialize, Serialize};

use super::latency::LatencyReport;
use super::settings::LiveSettings;

/// Calls, delayed calls and injected time: the one type every summary sums
/// (see `crate::totals`).
pub use crate::totals::Counts;

/// Rates of [`Counts`] over the rate window (live) or the whole run (summary).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Matching calls per second.
    pub calls_per_s: f64,
    /// Delayed calls per second.
    pub delayed_calls_per_s: f64,
    /// Injected ns per second of wall time: the share of wall time spent
    /// in injected delays, summed over processes (1e9 = one process-second
    /// per second).
    pub injected_ns_per_s: f64,
}

impl Rates {
    /// `counts` over `seconds` (`None` when `seconds` is not positive).
    pub fn of(counts: Counts, seconds: f64) -> Option<Rates> {
        (seconds > 0.0).then(|| Rates {
            calls_per_s: counts.calls as f64 / seconds,
            delayed_calls_per_s: counts.delayed_calls as f64 / seconds,
            injected_ns_per_s: counts.injected_ns as f64 / seconds,
        })
    }

    /// Injected time as a fraction of wall time (0.25 = 25 %).
    pub fn injected_share(&self) -> f64 {
        self.injected_ns_per_s / 1e9
    }
}

/// Hooked processes: those that created a segment (processes that match
/// nothing and report no progress have none and are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessCounts {
    /// Still running.
    pub live: u32,
    /// Exited (cleanly, or killed).
    pub exited: u32,
    /// All seen so far (`live + exited`).
    pub total: u32,
}

/// One pattern, summed over processes and settings generations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternReading {
    /// Pattern text as written, without `!`; `<other>` counts calls of
    /// patterns that did not fit a full pattern table.
    pub pattern: String,
    /// Whether it is an exclusion (`!pattern`).
    pub exclude: bool,
    /// Settings generations in which the pattern was in effect.
    pub generations: Vec<u64>,
    /// Distinct functions it matched, summed over processes.
    pub functions_matched: u64,
    /// Totals so far.
    #[serde(flatten)]
    pub counts: Counts,
    /// Rates (live: over the rate window; summary: over the run's wall
    /// time); `null` until known.
    pub rates: Option<Rates>,
}

/// One function (`module:qualname`), summed over processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionReading {
    /// `module:qualname`; `<other>` counts functions that did not fit a
    /// full function table; `<name lost>` one whose name did not fit.
    pub name: String,
    /// `python`, `c` (C function seen at call sites) or `other`.
    #[serde(deserialize_with = "known_str")]
    pub kind: Word,
    /// Text of the pattern that matched it (latest seen).
    pub pattern: String,
    /// Processes in which it was called.
    pub processes: u32,
    /// Totals so far.
    #[serde(flatten)]
    pub counts: Counts,
    /// Rates, as for patterns.
    pub rates: Option<Rates>,
}

/// Where a throughput figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A progress point (`--progress MOD:QUALNAME`): completed calls.
    Point,
    /// `--progress-regex` over the workload's output lines.
    Regex,
    /// `speedbump.progress(n, name=...)` called by the workload.
    Api,
    /// Whole runs of a command that does fixed work and exits.
    Runs,
}

/// One throughput source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThroughputReading {
    /// Where the figure comes from.
    pub source: SourceKind,
    /// The progress name (`api`; `progress` for the default name), the
    /// pattern (`point`), the regex (`regex`) or `runs`.
    pub name: String,
    /// Units counted so far; `null` for a regex of kind `rate`.
    pub units: Option<f64>,
    /// Units per second (live: over the rate window; summary: over the
    /// run); `null` until known.
    pub per_second: Option<f64>,
    /// Latency per unit in seconds by Little's law, `concurrency /
    /// per_second` (with `--concurrency 1`, the default, simply the
    /// inverse of the throughput); `null` when the throughput is unknown or 0.
    pub seconds_per_unit: Option<f64>,
}

/// A live sample, once per sampling tick (`"type": "sample"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSnapshot {
    /// `"sample"`.
    #[serde(rename = "type", deserialize_with = "known_str")]
    pub kind: Word,
    /// Seconds since the workload started.
    pub elapsed_s: f64,
    /// Seconds of data behind the rates (at most the rate window; 0 while
    /// there is none).
    pub rate_window_s: f64,
    /// Settings generations the running hooked processes apply (one value
    /// when all agree; 0 = settings from environment variables).
    pub generations: Vec<u64>,
    /// False when this tick's interval was left out of the rates because a
    /// process changed settings generation during it.
    pub complete: bool,
    /// Hooked processes.
    pub processes: ProcessCounts,
    /// Throughput sources; the first is "the" throughput.
    pub throughput: Vec<ThroughputReading>,
    /// Every pattern, by call rate.
    pub patterns: Vec<PatternReading>,
    /// The top functions by call rate.
    pub functions: Vec<FunctionReading>,
    /// How many functions there are in all.
    pub functions_total: usize,
    /// Request latency of the latency points (`--latency`) over the rate
    /// window; empty `points` when there are none.
    pub latency: LatencyReport,
}

impl LiveSnapshot {
    /// The first throughput source, if any.
    pub fn primary_throughput(&self) -> Option<&ThroughputReading> {
        self.throughput.first()
    }
}

/// One process's share of a settings change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessApply {
    /// Process id.
    pub pid: u32,
    /// Time from publication to the process reporting the generation in its
    /// segment, in ms; `null` if it did not within the timeout.
    pub latency_ms: Option<f64>,
}

/// How a settings change reached the processes (`"type": "applied"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyReport {
    /// `"applied"`.
    #[serde(rename = "type", deserialize_with = "known_str")]
    pub kind: Word,
    /// The settings generation published.
    pub generation: u64,
    /// When it was published, in seconds since the workload started.
    pub elapsed_s: f64,
    /// When it was published, on `CLOCK_MONOTONIC` in ns (comparable with
    /// `time.monotonic_ns()` in the workload).
    pub published_monotonic_ns: u64,
    /// Every running hooked process and its latency.
    pub processes: Vec<ProcessApply>,
    /// Largest latency of the processes that applied it, in ms.
    pub max_latency_ms: Option<f64>,
    /// True when some process did not apply it within the timeout.
    pub timed_out: bool,
}

/// One settings change of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingsChange {
    /// Its generation (1 = the settings the run started with).
    pub generation: u64,
    /// When it was published, in seconds since the workload started.
    pub elapsed_s: f64,
    /// The settings.
    pub settings: LiveSettings,
    /// Largest latency to apply it across processes, in ms (`null`: not
    /// measured or nobody applied it).
    pub max_latency_ms: Option<f64>,
}

/// One hooked process over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessReport {
    /// Process id.
    pub pid: u32,
    /// Parent process id when it started.
    pub parent_pid: u32,
    /// Its command line (cut to 127 bytes).
    pub label: String,
    /// `running`, `exited` (marked its clean exit) or `gone` (ended without
    /// that mark: killed, crashed, `os._exit`).
    pub status: &'static str,
    /// Functions it matched.
    pub functions_matched: u64,
    /// Its totals.
    #[serde(flatten)]
    pub counts: Counts,
}

/// How the workload ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExitReport {
    /// Exit code, when it exited.
    pub code: Option<i32>,
    /// Signal number, when a signal ended it.
    pub signal: Option<i32>,
    /// `SIGSEGV` etc., when a signal ended it.
    pub signal_name: Option<String>,
    /// Shell-style status: the code, or 128 + the signal.
    pub status: i32,
    /// True when the run was interrupted (Ctrl-C, SIGTERM, SIGHUP).
    pub interrupted: bool,
    /// True when a `stop` command (schedule or stdin) ended the run.
    pub stopped: bool,
}

/// The end of a run (`"type": "summary"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// `"summary"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The command that ran.
    pub command: Vec<String>,
    /// How it ended.
    pub exit: ExitReport,
    /// Seconds from start to the end of the workload.
    pub wall_s: f64,
    /// Every settings change, the starting settings first.
    pub changes: Vec<SettingsChange>,
    /// Hooked processes, by pid.
    pub processes: Vec<ProcessReport>,
    /// Pattern totals; rates are over `wall_s`.
    pub patterns: Vec<PatternReading>,
    /// Every function, by calls; rates are over `wall_s`.
    pub functions: Vec<FunctionReading>,
    /// Throughput over the run: `api` and `point` units over `wall_s`,
    /// `regex` as described for its kind, and `runs`: 1 / `wall_s`. The
    /// first is "the" throughput.
    pub throughput: Vec<ThroughputReading>,
    /// Warnings, each once.
    pub warnings: Vec<String>,
    /// CPU time the launcher itself used (user + system, all its threads),
    /// in seconds; `null` if unknown.
    pub launcher_cpu_s: Option<f64>,
    /// Request latency of the latency points over the whole run.
    pub latency: LatencyReport,
}

impl RunSummary {
    /// Totals over every process.
    pub fn totals(&self) -> Counts {
        let mut total = Counts::default();
        for p in &self.processes {
            total.add(p.counts);
        }
        total
    }
}

/// A fixed word (`kind`/`type` fields). An alias, so serde does not take
/// `&'static str` for a borrow from the input (which would tie
/// deserialisation to `'static` input); [`known_str`] reads it back.
pub type Word = &'static str;

/// The fixed words of `kind`/`type` fields, read back (the session server's
/// clients receive snapshots as JSON; see `crate::server`).
const KNOWN_WORDS: [&str; 6] = ["sample", "applied", "summary", "python", "c", "other"];

fn known_str<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<&'static str, D::Error> {
    let word = String::deserialize(deserializer)?;
    KNOWN_WORDS
        .iter()
        .find(|k| **k == word)
        .copied()
        .ok_or_else(|| serde::de::Error::unknown_variant(&word, &KNOWN_WORDS))
}
