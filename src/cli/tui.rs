//! `speedbump tui [SCRIPT] [OPTIONS] [-- COMMAND...]`: the interactive
//! wizard (see docs/tui.md). Parses options into the engine's
//! [`ExperimentConfig`] and the TUI's [`Options`], then hands over to
//! [`crate::tui`].

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;

use crate::experiment::Mode;
use crate::experiment::protocol::ExperimentConfig;
use crate::live::settings::{load_target_file, normalise_pattern, normalise_progress_point};
use crate::server::{process, registry};
use crate::tui::engine::Source;
use crate::tui::fake::FakeOptions;
use crate::tui::format::parse_delays;
use crate::tui::{Options, State, Theme};
use crate::units::{parse_duration_ns, parse_positive_count};

const AFTER_HELP: &str = "\
Examples:
  speedbump tui benchmark.py
  speedbump tui examples/pipeline.py -- --regime python-bound
  speedbump tui --progress 'server:Engine.step' -- python -m myserver --port 8000
  speedbump tui --progress-regex 'Throughput: ([0-9.]+)' --mode restart -- python bench.py

A SCRIPT runs with the Python that has speedbump: $SPEEDBUMP_PYTHON, else the
`python` next to this speedbump binary (a venv's bin/), else python3. Its
arguments go after `--`. Without SCRIPT, the command after `--` runs as is.

Keys: ? lists every key; q quits and stops the workload. Themes: dark, light,
high-contrast or a .toml file (themes/dark.toml lists the keys); NO_COLOR is
honoured. See docs/tui.md.";

/// The interactive wizard: find the Python that limits throughput, live.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct TuiArgs {
    /// A Python script to run (its arguments after `--`).
    #[arg(value_name = "SCRIPT")]
    pub script: Option<PathBuf>,
    /// Target file for step 1 and the census (default: everything, `*:*`).
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// A pattern, MODULE_GLOB:QUALNAME_GLOB (repeatable; added after --targets).
    #[arg(long = "pattern", value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// Progress point: completed calls of MODULE:QUALNAME are the units of
    /// work (repeatable; the first is the throughput).
    #[arg(long = "progress", value_name = "MOD:QUALNAME")]
    pub progress_points: Vec<String>,
    /// Throughput from the workload's output lines: group 1 is a number.
    #[arg(long, value_name = "REGEX")]
    pub progress_regex: Option<String>,
    /// What group 1 of --progress-regex is: rate (units/s) or count (a
    /// running total).
    #[arg(long, value_name = "KIND", default_value = "rate", value_parser = ["rate", "count"])]
    pub progress_regex_kind: String,
    /// live (one process, settings switched live), restart (one run per
    /// window, for workloads that exit) or auto.
    #[arg(long, value_name = "MODE", default_value = "auto", value_parser = parse_mode)]
    pub mode: Mode,
    /// Time budget per experiment (sweep, ranking): 60s, 5min.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_seconds)]
    pub budget: f64,
    /// Step 1's delays per call.
    #[arg(long, value_name = "LIST", default_value = "0,1us,10us,100us")]
    pub delays: String,
    /// Delay per call for rankings (steps 3-4) and `a`.
    #[arg(long, value_name = "DURATION", default_value = "10us", value_parser = parse_delay)]
    pub delay: u64,
    /// Delay every Nth matching call.
    #[arg(long, value_name = "N", default_value = "1", value_parser = parse_frequency)]
    pub frequency: u64,
    /// Warm-up skipped before measuring (each run, in restart mode).
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_seconds_or_zero)]
    pub warmup: f64,
    /// Target half-width of intervals, in percent.
    #[arg(long, value_name = "PERCENT", default_value_t = 2.0)]
    pub precision: f64,
    /// Census window (what runs, at delay 0).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_seconds)]
    pub census: f64,
    /// Most candidates ranked at once (the busiest children of a node;
    /// the default keeps every child, docs/ranking.md).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_candidates: usize,
    /// Seed of the randomised window order.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Theme: dark, light, high-contrast, or a .toml file.
    #[arg(long, value_name = "NAME|FILE")]
    pub theme: Option<String>,
    /// Where `x` writes report.md, results.json and SVG plots.
    #[arg(long, value_name = "DIR", default_value = "speedbump-report")]
    pub export_dir: PathBuf,
    /// Run on a simulated workload (no Python): a demo, and the TUI's tests.
    #[arg(long, hide = true)]
    pub demo_fake: bool,
    /// Simulated seconds per real second for --demo-fake.
    #[arg(long, hide = true, default_value_t = 1.0)]
    pub demo_speed: f64,
    /// The simulated workload crashes after this many simulated seconds.
    #[arg(long, hide = true)]
    pub demo_crash_after: Option<f64>,
    /// Re-attach to a session that runs on (`speedbump sessions` lists
    /// them; the only one when ID is omitted).
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "")]
    pub attach: Option<String>,
    /// How long a detached session keeps its workload after its last
    /// experiment ends with no terminal attached (then it writes its
    /// results and stops).
    #[arg(long, value_name = "DURATION", default_value = "600s", value_parser = parse_seconds_or_zero)]
    pub linger: f64,
    /// The command to run, after `--` (or the script's arguments).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    match s {
        "live" => Ok(Mode::Live),
        "restart" => Ok(Mode::Restart),
        "auto" => Ok(Mode::Auto),
        _ => Err(format!("'{s}' is not a mode: use live, restart or auto")),
    }
}

fn parse_delay(s: &str) -> Result<u64, String> {
    match parse_duration_ns(s) {
        Ok(0) => Err("a ranking needs a delay above 0 (e.g. 10us)".into()),
        Ok(ns) => Ok(ns),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_frequency(s: &str) -> Result<u64, String> {
    parse_positive_count(s).map_err(|e| e.to_string())
}

fn parse_seconds_or_zero(s: &str) -> Result<f64, String> {
    let input = s.trim();
    if !input.is_empty() && input != "0" && input.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{s}' has no unit; write e.g. {input}s"));
    }
    parse_duration_ns(input)
        .map(|ns| Duration::from_nanos(ns).as_secs_f64())
        .map_err(|e| e.to_string())
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match parse_seconds_or_zero(s)? {
        v if v < 0.1 => Err(format!("'{s}' is too short; give at least 100ms")),
        v => Ok(v),
    }
}

/// The Python that runs a script: `$SPEEDBUMP_PYTHON`, the `python` next to
/// this binary (a venv's `bin/`), or `python3`.
pub fn script_python() -> OsString {
    if let Some(python) = std::env::var_os("SPEEDBUMP_PYTHON").filter(|p| !p.is_empty()) {
        return python;
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("python")))
        .filter(|p| p.is_file());
    match beside {
        Some(p) => p.into_os_string(),
        None => "python3".into(),
    }
}

fn command_line(args: &TuiArgs) -> anyhow::Result<Vec<String>> {
    let mut command: Vec<OsString> = Vec::new();
    if let Some(script) = &args.script {
        if !args.demo_fake && !script.is_file() {
            bail!(
                "{}: no such script (to run a command, put it after `--`: speedbump tui -- python -m app)",
                script.display()
            );
        }
        command.push(script_python());
        command.push(script.clone().into_os_string());
    }
    command.extend(args.command.iter().cloned());
    if command.is_empty() {
        if args.demo_fake {
            return Ok(vec!["python".into(), "examples/pipeline.py".into()]);
        }
        bail!(
            "give a script (speedbump tui bench.py) or a command after `--` (speedbump tui -- python -m app)"
        );
    }
    command
        .into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|a| anyhow!("argument {a:?} is not valid UTF-8"))
        })
        .collect()
}

fn patterns(args: &TuiArgs) -> anyhow::Result<Vec<String>> {
    let mut patterns = Vec::new();
    if let Some(path) = &args.targets {
        patterns.extend(load_target_file(path).map_err(|e| anyhow!("{e}"))?);
    }
    for text in &args.patterns {
        patterns.push(normalise_pattern("--pattern", text).map_err(|e| anyhow!("{e}"))?);
    }
    if patterns.is_empty() {
        patterns.push("*:*".into());
    } else if !patterns.iter().any(|p| !p.starts_with('!')) {
        bail!("no include pattern, so nothing would be slowed; add one (e.g. --pattern '*:*')");
    }
    Ok(patterns)
}

/// Where throughput comes from, in words (for results.json).
pub fn progress_description(points: &[String], regex: Option<&str>) -> Option<String> {
    match (points.first(), regex) {
        (Some(point), _) => Some(format!("progress point {point}")),
        (None, Some(re)) => Some(format!("output regex {re}")),
        (None, None) => None,
    }
}

/// The engine source and the TUI options of `args` (checked: every error
/// here is the user's to fix). The session server calls it again on the
/// same arguments to start the engine.
pub fn prepare(args: &TuiArgs) -> anyhow::Result<(Source, Options)> {
    let command = command_line(args)?;
    let patterns = patterns(args)?;
    let mut progress_points = Vec::new();
    for text in &args.progress_points {
        progress_points
            .push(normalise_progress_point("--progress", text).map_err(|e| anyhow!("{e}"))?);
    }
    if let Some(re) = &args.progress_regex {
        regex::Regex::new(re).with_context(|| format!("--progress-regex '{re}'"))?;
    }
    if !(args.precision > 0.0 && args.precision < 100.0) {
        bail!(
            "--precision {}: give a percentage between 0 and 100 (e.g. 2)",
            args.precision
        );
    }
    let mut delays = parse_delays(&args.delays).map_err(|e| anyhow!("--delays: {e}"))?;
    if !delays.contains(&0) {
        delays.insert(0, 0);
    }
    let options = Options {
        command: command.clone(),
        mode: args.mode,
        patterns,
        delays_ns: delays,
        rank_delay_ns: args.delay,
        rank_dose: Some(crate::experiment::rank::DEFAULT_DOSE),
        frequency: args.frequency,
        budget_s: args.budget,
        census_window_s: args.census,
        max_candidates: args.max_candidates.max(1),
        export_dir: args.export_dir.clone(),
        auto_census: true,
        seed: args.seed,
        target_precision: args.precision / 100.0,
        warmup_s: args.warmup,
        progress: progress_description(&progress_points, args.progress_regex.as_deref()),
    };
    let source = if args.demo_fake {
        Source::Fake(FakeOptions {
            speed: args.demo_speed.max(0.01),
            crash_after_s: args.demo_crash_after,
            precision: args.precision / 100.0,
            seed: args.seed,
            command: command.clone(),
            ..FakeOptions::default()
        })
    } else {
        Source::Real(ExperimentConfig {
            command,
            mode: args.mode,
            progress_points,
            progress_regex: args.progress_regex.clone(),
            progress_regex_is_rate: args.progress_regex_kind == "rate",
            warmup_s: args.warmup,
            seed: args.seed,
            target_precision: args.precision / 100.0,
        })
    };
    Ok((source, options))
}

/// Runs `speedbump tui`: starts a session server for the workload (or
/// finds the one to attach to) and runs the TUI as its client.
pub fn run(args: &TuiArgs) -> anyhow::Result<ExitCode> {
    let theme = Theme::resolve(args.theme.as_deref(), Theme::no_color_from_env())
        .map_err(|e| anyhow!("{e}"))?;
    let attach_to = args.attach.as_deref();
    let (dir, options) = if let Some(id) = attach_to {
        need_terminal()?;
        let sessions = registry::list()?;
        let session = registry::find(&sessions, Some(id).filter(|id| !id.is_empty()))?;
        (session.dir, None)
    } else {
        let (_, options) = prepare(args)?;
        need_terminal()?;
        // The server parses the same arguments (everything after `speedbump`).
        let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
        let linger = Duration::try_from_secs_f64(args.linger)
            .map_err(|_| anyhow!("--linger: not a duration"))?;
        (process::start(linger, &argv)?, Some(options))
    };
    let attached = crate::server::attach(&dir)?;
    let options = match options {
        Some(options) => options,
        None => {
            let mut options: Options = serde_json::from_value(attached.info.options.clone())
                .context("the session's options are not this version's")?;
            // The census (if any) was started by the terminal that started
            // the session; the replay brings it.
            options.auto_census = false;
            options
        }
    };
    let id = attached.info.id.clone();
    let state = crate::tui::run_interactive(attached.engine, State::new(options, theme))?;
    if state.detached {
        println!(
            "speedbump: detached; session {id} keeps running. \
             Re-attach: speedbump tui --attach {id} · stop: speedbump stop {id}"
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(Some(error)) = &state.workload.finished {
        eprintln!("speedbump: the engine stopped: {error}");
    }
    if let Some(first) = crate::tui::views::report::findings(&state).first() {
        println!("speedbump: {first}");
    }
    if let Some(report) = state.exported.first() {
        println!("speedbump: report in {}", report.display());
    }
    Ok(
        if state
            .workload
            .finished
            .as_ref()
            .is_some_and(Option::is_some)
        {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}

fn need_terminal() -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!(
            "speedbump tui needs a terminal; in scripts use `speedbump run` and the headless \
             commands (`speedbump run --detach` starts a session to attach to later)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_parsers() {
        assert_eq!(parse_mode("restart"), Ok(Mode::Restart));
        assert!(
            parse_mode("fast")
                .unwrap_err()
                .contains("live, restart or auto")
        );
        assert_eq!(parse_seconds("90s"), Ok(90.0));
        assert!(parse_seconds("10").unwrap_err().contains("no unit"));
        assert_eq!(parse_seconds_or_zero("0"), Ok(0.0));
        assert!(parse_delay("0").is_err());
        use clap::CommandFactory;
        crate::cli::Cli::command().debug_assert();
    }
}
