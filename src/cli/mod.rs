//! Command-line front end: option parsing and one module per subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check;
mod inspect;
mod latency;
mod options;
mod rank;
mod report;
mod run;
#[cfg(feature = "tui")]
mod sessions;
mod sweep;
#[cfg(feature = "tui")]
pub(crate) mod tui;

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

/// Calls `on_signal` on a thread of its own for each SIGINT, SIGTERM or
/// SIGHUP: how `run` and the headless experiments stop on Ctrl-C.
fn on_stop_signals(mut on_signal: impl FnMut() + Send + 'static) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("speedbump-signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                on_signal();
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::Cli;

    /// The `speedbump ...` lines of every help text's examples, with `\`
    /// continuations joined and `# comments` dropped.
    fn help_examples() -> Vec<String> {
        let mut commands = vec![Cli::command()];
        let mut examples = Vec::new();
        while let Some(command) = commands.pop() {
            let help = command
                .get_after_help()
                .map(ToString::to_string)
                .unwrap_or_default();
            let mut lines = help.lines();
            while let Some(line) = lines.next() {
                let Some(rest) = line.trim().strip_prefix("speedbump ") else {
                    continue;
                };
                let mut example = format!("speedbump {rest}");
                while example.ends_with('\\') {
                    example.pop();
                    example.push_str(lines.next().unwrap_or_default().trim());
                }
                examples.push(example);
            }
            commands.extend(command.get_subcommands().cloned());
        }
        examples
    }

    #[test]
    fn every_help_example_parses() {
        let examples = help_examples();
        assert!(examples.len() >= 12, "{examples:#?}");
        for example in examples {
            let line = example.split(" # ").next().unwrap_or_default();
            let mut words = shlex::split(line).unwrap_or_else(|| panic!("cannot split {line}"));
            // The shell's part: redirections and pipes.
            if let Some(end) = words
                .iter()
                .position(|w| [">", ">>", "<", "|", "2>", "&&"].contains(&w.as_str()))
            {
                words.truncate(end);
            }
            if let Err(e) = Cli::try_parse_from(&words) {
                panic!("{example}\n{e}");
            }
        }
    }

    /// The values the issue named: one parser for budgets and precisions in
    /// every experiment command.
    #[test]
    fn experiment_commands_take_the_same_values() {
        let mut commands = vec!["sweep", "rank"];
        if cfg!(feature = "tui") {
            commands.push("tui");
        }
        for command in commands {
            for (option, value) in [
                ("--budget", "5min"),
                ("--budget", "2m"),
                ("--budget", "90s"),
                ("--precision", "2%"),
                ("--precision", "0.02"),
            ] {
                let words = ["speedbump", command, option, value, "--", "python", "x.py"];
                if let Err(e) = Cli::try_parse_from(words) {
                    panic!("{}\n{e}", words.join(" "));
                }
            }
            let words = ["speedbump", command, "--budget", "90", "--", "x"];
            let e = Cli::try_parse_from(words).unwrap_err().to_string();
            assert!(e.contains("no unit"), "{command}: {e}");
        }
    }

    #[cfg(feature = "tui")]
    #[test]
    fn the_tui_and_the_headless_commands_share_their_defaults() {
        use super::Command;
        let parse = |args: &[&str]| {
            let mut all = vec!["speedbump"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).unwrap().command
        };
        let Command::Tui(tui) = parse(&["tui", "x.py"]) else {
            panic!("tui")
        };
        let Command::Rank(rank) = parse(&["rank", "--", "python", "x.py"]) else {
            panic!("rank")
        };
        // Rankings give every candidate the same dose by default.
        assert_eq!(rank.delay, None);
        assert_eq!(rank.dose, crate::experiment::rank::DEFAULT_DOSE);
        assert_eq!(tui.census.census, rank.census.census);
        assert_eq!(
            tui.workload.experiment.budget,
            rank.common.workload.experiment.budget
        );
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
