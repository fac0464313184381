//! The report, exported with one key into `--export-dir`:
//!
//! - `results.json`: the session's experiments in the engine's results
//!   schema (`speedbump.results/1`, docs/results-schema.md), so
//!   `speedbump report results.json` renders it again;
//! - `report.md`: the TUI's findings first (the candidate that costs most
//!   in the latest ranking leads), then the engine's report renderer's
//!   Markdown;
//! - the SVG plots that Markdown links (`sweep-N.svg`, `rank-N.svg`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::experiment::results::ResultsFile;
use crate::report::markdown::render;

use super::state::State;
use super::views::report::findings;

/// Writes every file into `state.options.export_dir`; returns their paths.
pub fn write_all(state: &State) -> Result<Vec<PathBuf>, String> {
    let dir = &state.options.export_dir;
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let file = results_file(state);
    let rendered = render(&file, true);
    let mut files = vec![
        write(dir, "report.md", &markdown(state, &rendered.markdown))?,
        write(dir, "results.json", &format!("{}\n", file.to_json()))?,
    ];
    for (name, svg) in &rendered.svgs {
        files.push(write(dir, name, svg)?);
    }
    Ok(files)
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf, String> {
    let path = dir.join(name);
    fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The session's experiments as the engine's results file.
pub fn results_file(state: &State) -> ResultsFile {
    ResultsFile {
        experiments: state.results.records.clone(),
        ..ResultsFile::default()
    }
}

/// `report.md`: the findings, then the engine's report (its title dropped).
pub fn markdown(state: &State, engine_markdown: &str) -> String {
    let command = if state.workload.command.is_empty() {
        &state.options.command
    } else {
        &state.workload.command
    };
    let mut md = format!(
        "# speedbump report\n\nWorkload: `{}`\n\n## Findings\n\n",
        command.join(" ")
    );
    let findings = findings(state);
    if findings.is_empty() {
        md.push_str("Nothing measured yet.\n");
    }
    for (i, f) in findings.iter().enumerate() {
        md.push_str(&format!("{}. {f}\n", i + 1));
    }
    md.push('\n');
    let body = engine_markdown
        .strip_prefix("# speedbump report\n")
        .unwrap_or(engine_markdown)
        .trim_start();
    md.push_str(body);
    md
}
