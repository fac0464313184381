//! The options `sweep` and `rank` share: targeting, progress and the
//! experiment (declared once in [`crate::cli::options`], as for `run` and
//! `tui`), the results file and the terminal output.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;

use crate::cli::options::{WorkloadArgs, engine_setup, utf8_command};
use crate::experiment::{EngineOptions, ExperimentConfig};

/// Options of the headless experiment commands (`sweep`, `rank`).
#[derive(Debug, Args)]
pub struct HeadlessArgs {
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Results file; experiments are appended to it.
    #[arg(long, value_name = "FILE", default_value = "results.json")]
    pub out: PathBuf,
    /// Start a new results file instead of appending.
    #[arg(long)]
    pub fresh: bool,
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

impl HeadlessArgs {
    /// The engine's configuration and options.
    pub(crate) fn setup(&self) -> anyhow::Result<(ExperimentConfig, EngineOptions)> {
        let command = utf8_command(self.command.iter().cloned())?;
        let (config, mut options) = engine_setup(&self.workload, command)?;
        options.forward_output = self.show_output;
        Ok((config, options))
    }
}
