//! The command-line options more than one subcommand takes, each declared
//! once with its value parser, and flattened into `run`, `sweep`, `rank`
//! and `tui` (`#[command(flatten)]`). Their defaults are the defaults of
//! every front end: the TUI's [`Options::default`](crate::tui::Options)
//! is checked against them by a test.
//!
//! Values are parsed by [`crate::units`]: durations with a unit (`300ms`,
//! `90s`, `2m`), fractions as `2%` or `0.02`.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};

use crate::experiment::options::defaults;
use crate::experiment::{EngineOptions, ExperimentConfig, Mode};
use crate::live::progress::RegexKind;
use crate::live::settings::{normalise_pattern, normalise_progress_point, set_lines};
use crate::pattern::PatternSet;
use crate::units::{parse_fraction, parse_positive_count, parse_seconds};

/// What is slowed: patterns and which calls of them.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Target file: one pattern per line (as for SPEED_BUMP_TARGETS).
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// A pattern, MODULE_GLOB:QUALNAME_GLOB (repeatable; added after --targets).
    #[arg(long = "pattern", value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// Delay every Nth matching call (1 = every call).
    #[arg(long, value_name = "N", default_value = "1", value_parser = count)]
    pub frequency: u64,
    /// Also delay each resume of generators and coroutines (asyncio servers).
    #[arg(long)]
    pub resume: bool,
    /// Also match C functions at Python call sites (numpy, math).
    #[arg(long)]
    pub c_calls: bool,
}

impl TargetArgs {
    /// The patterns of --targets then --pattern, normalised (possibly none).
    pub fn patterns(&self) -> anyhow::Result<Vec<String>> {
        let mut patterns = Vec::new();
        if let Some(path) = &self.targets {
            let set = PatternSet::load(path)?;
            if set.is_empty() && self.patterns.is_empty() {
                bail!(
                    "{}: no include pattern, so nothing would be slowed; add one (e.g. '*:*')",
                    path.display()
                );
            }
            patterns.extend(set_lines(&set));
        }
        for text in &self.patterns {
            patterns.push(normalise_pattern("--pattern", text)?);
        }
        Ok(patterns)
    }

    /// [`Self::patterns`], or all of Python (`*:*`) when none is given; at
    /// least one must include something.
    pub fn patterns_or_all(&self) -> anyhow::Result<Vec<String>> {
        let mut patterns = self.patterns()?;
        if patterns.is_empty() {
            patterns.push("*:*".to_owned());
        }
        if !patterns.iter().any(|p| !p.starts_with('!')) {
            bail!("no include pattern, so nothing would be slowed; add one (e.g. --pattern '*:*')");
        }
        Ok(patterns)
    }
}

/// Where the units of work (throughput) come from.
#[derive(Debug, Args)]
pub struct ProgressArgs {
    /// Progress point: completed calls of MODULE:QUALNAME are the units of
    /// work (repeatable; the first is the throughput).
    #[arg(long = "progress", value_name = "MOD:QUALNAME")]
    pub progress_points: Vec<String>,
    /// Read throughput from the workload's output lines: group 1 is a number.
    #[arg(long, value_name = "REGEX")]
    pub progress_regex: Option<String>,
    /// What group 1 of --progress-regex is: rate (units/s, used as is), count
    /// (running total) or units (units since the last such line).
    #[arg(long, value_name = "KIND", default_value = "rate", value_parser = regex_kind)]
    pub progress_regex_kind: RegexKind,
    /// The speedbump.progress() name to count (default: the unnamed one, else
    /// the busiest).
    #[arg(long, value_name = "NAME")]
    pub progress_name: Option<String>,
}

impl ProgressArgs {
    /// The --progress points, normalised.
    pub fn points(&self) -> anyhow::Result<Vec<String>> {
        self.progress_points
            .iter()
            .map(|text| Ok(normalise_progress_point("--progress", text)?))
            .collect()
    }

    /// Checks --progress-regex compiles.
    pub fn check_regex(&self) -> anyhow::Result<()> {
        if let Some(re) = &self.progress_regex {
            regex::Regex::new(re).with_context(|| format!("--progress-regex '{re}'"))?;
        }
        Ok(())
    }

    /// Where the units of progress come from, in words.
    pub fn source(&self) -> String {
        if let Some(p) = self.progress_points.first() {
            format!("progress point {p}")
        } else if let Some(re) = &self.progress_regex {
            format!("--progress-regex '{re}'")
        } else if let Some(name) = &self.progress_name {
            format!("speedbump.progress(name='{name}')")
        } else {
            "speedbump.progress() (runs per second if none)".to_owned()
        }
    }
}

/// How an experiment (sweep, census, ranking) is run and when it stops.
#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// Wall-clock budget of each experiment: 90s, 5m, 1.5min.
    #[arg(long, value_name = "DURATION", default_value = defaults::BUDGET, value_parser = long_seconds)]
    pub budget: f64,
    /// live (one long run, settings switched live), restart (one run per
    /// window), auto (live; restart if the workload exits by itself).
    #[arg(long, value_enum, default_value = "auto")]
    pub mode: ModeArg,
    /// Seed of the randomised window order.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Warm-up skipped after the first unit of progress (live: once;
    /// restart: every run). Start-up before the first unit is always skipped.
    #[arg(long, value_name = "DURATION", default_value = defaults::WARMUP, value_parser = seconds)]
    pub warmup: f64,
    /// Target half-width of each 95% interval: 2% (or 0.02).
    #[arg(long, value_name = "FRACTION", default_value = "2%", value_parser = precision)]
    pub precision: f64,
    /// First window length; windows grow to hold 20 units of progress.
    #[arg(long, value_name = "DURATION", default_value = "300ms", value_parser = long_seconds)]
    pub window: f64,
}

/// Step 1's delays per call.
#[derive(Debug, Args)]
pub struct DelaysArgs {
    /// Delays per call to measure, comma-separated: 0,1us,10us,100us (0, the
    /// baseline, is always measured).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = defaults::DELAYS,
        value_parser = delay
    )]
    pub delays: Vec<u64>,
}

impl DelaysArgs {
    /// The delays above 0, sorted, without repeats; at least one.
    pub fn above_zero(&self) -> anyhow::Result<Vec<u64>> {
        let mut delays: Vec<u64> = self.delays.iter().copied().filter(|&d| d > 0).collect();
        delays.sort_unstable();
        delays.dedup();
        if delays.is_empty() {
            bail!("--delays needs at least one delay above 0 (0 is the baseline, always measured)");
        }
        Ok(delays)
    }
}

/// The census (steps 3-4): what runs, counted at delay 0.
#[derive(Debug, Args)]
pub struct CensusArgs {
    /// Length of the census window that discovers the candidates.
    #[arg(long, value_name = "DURATION", default_value = defaults::CENSUS, value_parser = long_seconds)]
    pub census: f64,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// One long-running process; settings switched live.
    Live,
    /// One run of the command per window.
    Restart,
    /// Live; restart mode if the workload exits by itself.
    Auto,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Mode {
        match m {
            ModeArg::Live => Mode::Live,
            ModeArg::Restart => Mode::Restart,
            ModeArg::Auto => Mode::Auto,
        }
    }
}

/// What every experiment command takes: targeting, progress, experiment.
#[derive(Debug, Args)]
pub struct WorkloadArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    #[command(flatten)]
    pub progress: ProgressArgs,
    #[command(flatten)]
    pub experiment: ExperimentArgs,
    #[command(flatten)]
    pub latency: super::latency::LatencyArgs,
}

/// The engine's configuration and options for these options and `command`.
pub fn engine_setup(
    workload: &WorkloadArgs,
    command: Vec<String>,
) -> anyhow::Result<(ExperimentConfig, EngineOptions)> {
    let WorkloadArgs {
        targets,
        progress,
        experiment,
        latency,
    } = workload;
    let progress_points = progress.points()?;
    progress.check_regex()?;
    let config = ExperimentConfig {
        command,
        mode: experiment.mode.into(),
        progress_points,
        latency_points: latency.points()?,
        progress_regex: progress.progress_regex.clone(),
        progress_regex_is_rate: progress.progress_regex_kind == RegexKind::Rate,
        warmup_s: experiment.warmup,
        seed: experiment.seed,
        target_precision: experiment.precision,
    };
    let options = EngineOptions {
        min_window_s: experiment.window,
        progress_name: progress.progress_name.clone(),
        regex_kind: Some(progress.progress_regex_kind),
        delay_resumes: targets.resume,
        match_c_calls: targets.c_calls,
        ..EngineOptions::default()
    };
    Ok((config, options))
}

/// The command line as UTF-8 text (the engine and results.json keep text).
pub fn utf8_command(command: impl IntoIterator<Item = OsString>) -> anyhow::Result<Vec<String>> {
    command
        .into_iter()
        .map(|a| {
            a.into_string().map_err(|a| {
                anyhow::anyhow!("{}: arguments must be UTF-8 text", a.to_string_lossy())
            })
        })
        .collect()
}

// Value parsers: one per kind of value, all on top of crate::units.

/// A delay per call (`10us`, `1.5ms`, `10000` ns; 0 allowed).
pub(crate) fn delay(s: &str) -> Result<u64, String> {
    crate::units::parse_delay_ns(s).map_err(|e| e.to_string())
}

/// A delay per call above 0.
pub(crate) fn rank_delay(s: &str) -> Result<u64, String> {
    match delay(s)? {
        0 => Err("a ranking needs a delay above 0 (e.g. 10us)".to_owned()),
        ns => Ok(ns),
    }
}

/// A whole number of 1 or more.
pub(crate) fn count(s: &str) -> Result<u64, String> {
    parse_positive_count(s).map_err(|e| e.to_string())
}

/// A duration with a unit, in seconds (0 allowed).
pub(crate) fn seconds(s: &str) -> Result<f64, String> {
    parse_seconds(s).map_err(|e| e.to_string())
}

/// A duration of at least 100 ms, in seconds (windows, budgets).
pub(crate) fn long_seconds(s: &str) -> Result<f64, String> {
    match seconds(s)? {
        v if v < 0.1 => Err(format!("'{s}' is too short; give at least 100ms")),
        v => Ok(v),
    }
}

/// A dose: a share of the time per unit above 0 and at most 50%: `5%`.
pub(crate) fn dose(s: &str) -> Result<f64, String> {
    match share(s)? {
        v if v > 0.0 && v <= 0.5 => Ok(v),
        _ => Err(format!(
            "a dose of '{s}' is out of range; write a share of the time per unit between 0 and 50%, e.g. 5%"
        )),
    }
}

/// A fraction from 0 up to (not including) 1: `1%`, `0.01`.
pub(crate) fn share(s: &str) -> Result<f64, String> {
    match parse_fraction(s).map_err(|e| e.to_string())? {
        v if v < 1.0 => Ok(v),
        _ => Err(format!("'{s}' is the whole; give a share below 100%")),
    }
}

/// A precision: a fraction above 0 and below 1: `2%`, `0.02`.
pub(crate) fn precision(s: &str) -> Result<f64, String> {
    match parse_fraction(s).map_err(|e| e.to_string())? {
        v if v > 0.0 && v < 1.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not a precision; write a percentage above 0 and below 100 (e.g. 2% or 0.02)"
        )),
    }
}

fn regex_kind(s: &str) -> Result<RegexKind, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_parsers() {
        assert_eq!(seconds("0"), Ok(0.0));
        assert_eq!(long_seconds("2m"), Ok(120.0));
        assert!(long_seconds("10ms").unwrap_err().contains("at least 100ms"));
        assert!(long_seconds("10").unwrap_err().contains("no unit"));
        assert_eq!(precision("2%"), Ok(0.02));
        assert_eq!(precision("0.02"), Ok(0.02));
        assert!(precision("0").is_err());
        assert!(precision("2").unwrap_err().contains("2%"));
        assert_eq!(share("0"), Ok(0.0));
        assert!(share("100%").is_err());
        assert!(rank_delay("0").unwrap_err().contains("above 0"));
        assert_eq!(delay("0"), Ok(0));
    }
}
