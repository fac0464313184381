//! `speedbump report RESULTS [--format md|json|svg|csv] [--out DIR]`: step
//! 5, the session's experiments (results.json) as Markdown with SVG plots,
//! JSON, SVG plots alone, or CSV.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::{Args, ValueEnum};

use crate::experiment::results::ResultsFile;
use crate::report::csv::to_csv;
use crate::report::markdown::{plots, render};

const AFTER_HELP: &str = "\
Examples:
  speedbump report results.json                       # Markdown on stdout
  speedbump report results.json --format md --out report/   # report/report.md + plots
  speedbump report results.json --format svg --out plots/
  speedbump report results.json --format csv > results.csv

Exit status: 0 written; 2 the results file is missing or not valid (the message says why).";

/// Step 5: the session's results as Markdown with plots, JSON, SVG or CSV.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ReportArgs {
    /// The results file written by `speedbump sweep` and `speedbump rank`.
    #[arg(value_name = "RESULTS", default_value = "results.json")]
    pub results: PathBuf,
    /// What to write.
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Directory to write into (created if needed): report.md with its
    /// plots, the plots alone (svg), results.csv or results.json; without it,
    /// Markdown (without plots), CSV and JSON go to stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Markdown with tables, verdicts and SVG plots.
    Md,
    /// The results, validated, as pretty JSON.
    Json,
    /// SVG plots only (needs --out).
    Svg,
    /// One row per measured setting.
    Csv,
}

fn write(dir: &Path, name: &str, text: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to stdout")
}

/// Runs `speedbump report`.
pub fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let results = ResultsFile::load(&args.results).map_err(|e| anyhow!("{e}"))?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }
    let mut written = Vec::new();
    match (args.format, &args.out) {
        (Format::Md, Some(dir)) => {
            let rendered = render(&results, true);
            written.push(write(dir, "report.md", &rendered.markdown)?);
            for (name, svg) in &rendered.svgs {
                written.push(write(dir, name, svg)?);
            }
        }
        (Format::Md, None) => stdout(&render(&results, false).markdown)?,
        (Format::Svg, Some(dir)) => {
            for (name, svg) in plots(&results) {
                written.push(write(dir, &name, &svg)?);
            }
        }
        (Format::Svg, None) => bail!("--format svg writes files: give --out DIR"),
        (Format::Csv, Some(dir)) => written.push(write(dir, "results.csv", &to_csv(&results))?),
        (Format::Csv, None) => stdout(&to_csv(&results))?,
        (Format::Json, Some(dir)) => {
            written.push(write(dir, "results.json", &(results.to_json() + "\n"))?);
        }
        (Format::Json, None) => stdout(&(results.to_json() + "\n"))?,
    }
    for path in written {
        eprintln!("speedbump: wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
