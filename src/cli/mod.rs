//! Command-line front end: option parsing and one module per subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod check;
pub mod inspect;
pub mod rank;
pub mod report;
pub mod run;
#[cfg(feature = "tui")]
pub mod sessions;
pub mod sweep;
#[cfg(feature = "tui")]
pub mod tui;

const AFTER_HELP: &str = "\
Examples:
  echo '*:*' > /tmp/all.txt
  SPEED_BUMP_TARGETS=/tmp/all.txt SPEED_BUMP_DELAY_NS=10000 python benchmark.py
  speedbump check /tmp/all.txt

The hook is configured by environment variables: `speedbump env` lists them.";

/// Find the Python code that limits your program's throughput, by slowing it
/// down on purpose and measuring how much throughput drops.
#[derive(Debug, Parser)]
#[command(name = "speedbump", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a target file and print what each line means.
    Check(check::CheckArgs),
    /// Run a command under the hook and watch throughput and hit counts live.
    Run(Box<run::RunArgs>),
    /// Show what the hooked processes of a session counted (or list sessions).
    Inspect(inspect::InspectArgs),
    /// Describe the SPEED_BUMP_* environment variables the hook reads.
    #[command(after_help = "Example:\n  speedbump env | less\n\nThe same text is docs/env.md.")]
    Env,
    /// Steps 1-2: throughput against delay; is Python the bottleneck?
    Sweep(Box<sweep::SweepArgs>),
    /// Steps 3-4: rank subsystems or functions by what slowing them costs.
    Rank(Box<rank::RankArgs>),
    /// Step 5: the session's results as Markdown with plots, JSON, SVG or CSV.
    Report(report::ReportArgs),
    /// The interactive wizard: the five steps at the keyboard, live.
    #[cfg(feature = "tui")]
    Tui(Box<tui::TuiArgs>),
    /// List this user's TUI sessions (running on after their terminal left).
    #[cfg(feature = "tui")]
    Sessions(sessions::SessionsArgs),
    /// Stop a TUI session: its workload, its experiments; results are written.
    #[cfg(feature = "tui")]
    Stop(sessions::StopArgs),
    /// The session server's process (started by `tui` and `run --detach`).
    #[cfg(feature = "tui")]
    #[command(name = "__serve", hide = true)]
    Serve(sessions::ServeArgs),
}

/// Runs the chosen subcommand and returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Sweep(args) => sweep::run(&args),
        Command::Rank(args) => rank::run(&args),
        Command::Report(args) => report::run(&args),
        #[cfg(feature = "tui")]
        Command::Tui(args) => tui::run(&args),
        #[cfg(feature = "tui")]
        Command::Sessions(args) => sessions::sessions(&args),
        #[cfg(feature = "tui")]
        Command::Stop(args) => sessions::stop_session(&args),
        #[cfg(feature = "tui")]
        Command::Serve(args) => sessions::serve(&args),
        Command::Env => {
            print!("{}", include_str!("../../docs/env.md"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
