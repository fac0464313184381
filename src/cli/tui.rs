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

use super::options::{self, CensusArgs, DelaysArgs, WorkloadArgs, engine_setup};
use crate::server::{process, registry};
use crate::tui::engine::Source;
use crate::tui::fake::FakeOptions;
use crate::tui::{Options, State, Theme};

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
    #[command(flatten)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    pub delays: DelaysArgs,
    #[command(flatten)]
    pub census: CensusArgs,
    /// Delay per call for `a` (default 10us). Given, rankings (steps 3-4)
    /// also slow every candidate by this delay per call, as `rank --delay`
    /// does; without it they give every candidate an equal dose
    /// (docs/ranking.md).
    #[arg(long, value_name = "DURATION", value_parser = options::rank_delay)]
    pub delay: Option<u64>,
    /// Most candidates ranked at once (the busiest children of a node;
    /// the default keeps every child, docs/ranking.md).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_candidates: usize,
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
    #[arg(long, value_name = "DURATION", default_value = "600s", value_parser = options::seconds)]
    pub linger: f64,
    /// The command to run, after `--` (or the script's arguments).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
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
    let patterns = args.workload.targets.patterns_or_all()?;
    let (config, engine_options) = engine_setup(&args.workload, command.clone())?;
    if !args.demo_fake {
        let command: Vec<OsString> = command.iter().map(OsString::from).collect();
        let hint = if args.script.is_some() {
            " (a script runs with $SPEEDBUMP_PYTHON, else the `python` beside speedbump, else python3)"
        } else {
            ""
        };
        crate::live::interpreter::check_command(&command, hint)?;
    }
    let mut delays = args.delays.above_zero()?;
    delays.insert(0, 0);
    let options = Options {
        command: command.clone(),
        mode: config.mode,
        patterns,
        delays_ns: delays,
        rank_delay_ns: args.delay.unwrap_or(Options::default().rank_delay_ns),
        // `--delay` asks for the methodology's equal delay per call.
        rank_dose: match args.delay {
            Some(_) => None,
            None => Some(crate::experiment::rank::DEFAULT_DOSE),
        },
        frequency: args.workload.targets.frequency,
        budget_s: args.workload.experiment.budget,
        census_window_s: args.census.census,
        max_candidates: args.max_candidates.max(1),
        export_dir: args.export_dir.clone(),
        auto_census: true,
        seed: config.seed,
        target_precision: config.target_precision,
        warmup_s: config.warmup_s,
        progress: Some(args.workload.progress.source()),
    };
    let source = if args.demo_fake {
        Source::Fake(FakeOptions {
            speed: args.demo_speed.max(0.01),
            crash_after_s: args.demo_crash_after,
            precision: config.target_precision,
            seed: config.seed,
            command: command.clone(),
            ..FakeOptions::default()
        })
    } else {
        Source::Real(Box::new((config, engine_options)))
    };
    Ok((source, options))
}

/// Runs `speedbump tui`: starts a session server for the workload (or
/// finds the one to attach to) and runs the TUI as its client.
pub fn run(args: &TuiArgs) -> anyhow::Result<ExitCode> {
    let theme = Theme::resolve(args.theme.as_deref(), Theme::no_color_from_env())?;
    let (dir, options) = if let Some(id) = args.attach.as_deref() {
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
    use clap::Parser;

    /// The defaults of `speedbump tui` are the TUI's own defaults.
    #[test]
    fn tui_defaults_are_the_option_defaults() {
        let cli = crate::cli::Cli::try_parse_from(["speedbump", "tui", "x.py"]).unwrap();
        let crate::cli::Command::Tui(args) = cli.command else {
            panic!("not tui")
        };
        let defaults = Options::default();
        assert_eq!(args.workload.experiment.budget, defaults.budget_s);
        assert_eq!(args.workload.experiment.warmup, defaults.warmup_s);
        assert_eq!(
            args.workload.experiment.precision,
            defaults.target_precision
        );
        assert_eq!(args.workload.experiment.seed, defaults.seed);
        assert_eq!(
            crate::experiment::Mode::from(args.workload.experiment.mode),
            defaults.mode
        );
        assert_eq!(args.delay, None);
        assert_eq!(
            options::rank_delay(crate::experiment::options::defaults::RANK_DELAY),
            Ok(defaults.rank_delay_ns)
        );
        assert_eq!(args.census.census, defaults.census_window_s);
        assert_eq!(args.workload.targets.frequency, defaults.frequency);
        assert_eq!(args.delays.above_zero().unwrap(), defaults.delays_ns[1..]);
        assert_eq!(args.export_dir, defaults.export_dir);
    }
}
