//! The `speedbump` command: parse options, run one subcommand, print one
//! `Error:` line with context and exit non-zero on failure.

use std::process::ExitCode;

use clap::Parser;
use speedbump::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("speedbump: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
