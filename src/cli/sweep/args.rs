//! The options `sweep` and `rank` share: targeting and progress (as for
//! `speedbump run`), budget, mode, precision and the results file; and
//! turning them into the engine's configuration.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{anyhow, bail};
use clap::{Args, ValueEnum};

use crate::experiment::{EngineOptions, ExperimentConfig, Mode};
use crate::live::progress::RegexKind;
use crate::live::settings::{normalise_pattern, normalise_progress_point, set_lines};
use crate::pattern::PatternSet;
use crate::units::{parse_duration_ns, parse_positive_count};

/// Options `sweep` and `rank` share with `speedbump run` (targeting,
/// progress) and each other (budget, mode, output).
#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// Target file: one pattern per line (as for SPEED_BUMP_TARGETS).
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// A pattern, MODULE_GLOB:QUALNAME_GLOB (repeatable; added after --targets).
    #[arg(long = "pattern", value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// Progress point: completed calls of MODULE:QUALNAME are the units of work.
    #[arg(long = "progress", value_name = "MOD:QUALNAME")]
    pub progress_points: Vec<String>,
    /// Read throughput from the workload's output lines: group 1 is a number.
    #[arg(long, value_name = "REGEX")]
    pub progress_regex: Option<String>,
    /// What group 1 of --progress-regex is: rate, count or units.
    #[arg(long, value_name = "KIND", default_value = "rate", value_parser = parse_regex_kind)]
    pub progress_regex_kind: RegexKind,
    /// The speedbump.progress() name to count (default: the unnamed one, else
    /// the busiest).
    #[arg(long, value_name = "NAME")]
    pub progress_name: Option<String>,
    /// Also delay each resume of generators and coroutines (asyncio servers).
    #[arg(long)]
    pub resume: bool,
    /// Also match C functions at Python call sites.
    #[arg(long)]
    pub c_calls: bool,
    /// Wall-clock budget of the experiment: 90s, 5m.
    #[arg(long, value_name = "DURATION", default_value = "90s", value_parser = parse_seconds)]
    pub budget: f64,
    /// live (one long run, settings switched live), restart (one run per
    /// window), auto (live; restart if the workload exits by itself).
    #[arg(long, value_enum, default_value = "auto")]
    pub mode: ModeArg,
    /// Seed of the randomised window order.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Results file; experiments are appended to it.
    #[arg(long, value_name = "FILE", default_value = "results.json")]
    pub out: PathBuf,
    /// Start a new results file instead of appending.
    #[arg(long)]
    pub fresh: bool,
    /// Warm-up skipped after the first unit of progress (live: once;
    /// restart: every run). Start-up before the first unit is always skipped.
    #[arg(long, value_name = "DURATION", default_value = "0.5s", value_parser = parse_seconds)]
    pub warmup: f64,
    /// Target half-width of each 95% interval: 2% (or 0.02).
    #[arg(long, value_name = "FRACTION", default_value = "2%", value_parser = parse_precision)]
    pub precision: f64,
    /// First window length; windows grow to hold 20 units of progress.
    #[arg(long, value_name = "DURATION", default_value = "300ms", value_parser = parse_seconds)]
    pub window: f64,
    /// Show the workload's output lines.
    #[arg(long)]
    pub show_output: bool,
    /// No progress bar; only the results.
    #[arg(long, short)]
    pub quiet: bool,
    /// The command to run, after `--`.
    #[arg(last = true, value_name = "COMMAND", required = true)]
    pub command: Vec<OsString>,
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

pub(crate) fn parse_delay(s: &str) -> Result<u64, String> {
    parse_duration_ns(s).map_err(|e| e.to_string())
}

pub(crate) fn parse_frequency(s: &str) -> Result<u64, String> {
    parse_positive_count(s).map_err(|e| e.to_string())
}

fn parse_regex_kind(s: &str) -> Result<RegexKind, String> {
    s.parse()
}

/// A duration with a unit, as seconds: `90s`, `300ms`, `2m` (minutes).
pub(crate) fn parse_seconds(s: &str) -> Result<f64, String> {
    let input = s.trim();
    if !input.is_empty() && input.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("'{s}' has no unit; write e.g. {input}s"));
    }
    let input = input
        .strip_suffix('m')
        .filter(|n| !n.ends_with('m') && !n.ends_with('u') && !n.ends_with('n'))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .map_or_else(
            || input.to_owned(),
            |minutes| format!("{}ms", (minutes * 60_000.0).round()),
        );
    parse_duration_ns(&input)
        .map(|ns| ns as f64 / 1e9)
        .map_err(|e| e.to_string())
}

fn parse_precision(s: &str) -> Result<f64, String> {
    let text = s.trim();
    let value = match text.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => text.parse::<f64>(),
    };
    match value {
        Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
        _ => Err(format!("'{s}' is not a precision; write e.g. 2% or 0.02")),
    }
}

impl ExperimentArgs {
    /// The patterns of --targets and --pattern, normalised; `default` when
    /// none is given.
    pub fn patterns(&self, default: &[&str]) -> anyhow::Result<Vec<String>> {
        let mut patterns = Vec::new();
        if let Some(path) = &self.targets {
            let set = PatternSet::load(path).map_err(|e| anyhow!("{e}"))?;
            patterns.extend(set_lines(&set));
        }
        for text in &self.patterns {
            patterns.push(normalise_pattern("--pattern", text).map_err(|e| anyhow!("{e}"))?);
        }
        if patterns.is_empty() {
            patterns = default.iter().map(|p| (*p).to_owned()).collect();
        }
        if !patterns.iter().any(|p| !p.starts_with('!')) {
            bail!("no include pattern, so nothing would be slowed; add one (e.g. --pattern '*:*')");
        }
        Ok(patterns)
    }

    pub(crate) fn config(&self) -> anyhow::Result<ExperimentConfig> {
        let mut progress_points = Vec::new();
        for text in &self.progress_points {
            progress_points
                .push(normalise_progress_point("--progress", text).map_err(|e| anyhow!("{e}"))?);
        }
        if let Some(re) = &self.progress_regex {
            regex::Regex::new(re).map_err(|e| anyhow!("--progress-regex: {e}"))?;
        }
        let command = self
            .command
            .iter()
            .map(|a| {
                a.to_str()
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("{}: arguments must be UTF-8 text", a.to_string_lossy()))
            })
            .collect::<anyhow::Result<Vec<String>>>()?;
        Ok(ExperimentConfig {
            command,
            mode: self.mode.into(),
            progress_points,
            progress_regex: self.progress_regex.clone(),
            progress_regex_is_rate: self.progress_regex_kind == RegexKind::Rate,
            warmup_s: self.warmup,
            seed: self.seed,
            target_precision: self.precision,
        })
    }

    pub(crate) fn options(&self) -> EngineOptions {
        EngineOptions {
            min_window_s: self.window,
            progress_name: self.progress_name.clone(),
            regex_kind: Some(self.progress_regex_kind),
            delay_resumes: self.resume,
            match_c_calls: self.c_calls,
            forward_output: self.show_output,
            ..EngineOptions::default()
        }
    }

    /// Where the units of progress come from, in words.
    pub(crate) fn progress_source(&self) -> String {
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
