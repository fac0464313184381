//! `speedbump inspect`: what the hooked processes of a session have counted,
//! read from their segments (live, or after they exited). Handy when a run
//! looks wrong, and for scripts (`--json`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use crate::ipc::session::{CONTROL_FILE_NAME, parse_segment_name};
use crate::ipc::{current_uid, default_base_dir};
use crate::totals::{RunTotals, collect_session};
use crate::units::{format_count, format_ns};

const AFTER_HELP: &str = "\
Examples:
  speedbump inspect                      # list the sessions of this user
  speedbump inspect /dev/shm/speedbump-1000/s-4242-1234-0a1b2c3d4e5f6789
  speedbump inspect SESSION_DIR --json   # for scripts";

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct InspectArgs {
    /// A session directory (`SPEED_BUMP_SESSION` of a run); without it, the
    /// sessions under the default base directory are listed.
    pub session: Option<PathBuf>,
    /// Print the totals as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let Some(session) = &args.session else {
        return list_sessions();
    };
    anyhow::ensure!(
        session.is_dir() && looks_like_session(session),
        "{} is not a session directory (see `speedbump inspect` for the list)",
        session.display()
    );
    let totals = collect_session(session, current_uid());
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&TotalsJson::from(&totals))?
        );
    } else {
        print_totals(&totals);
    }
    Ok(ExitCode::SUCCESS)
}

/// A session directory: named like one (`s-...`), or holding a segment or
/// a control block (a session given its name by hand, as tests do).
fn looks_like_session(dir: &Path) -> bool {
    let named = dir
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with("s-"));
    named
        || std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().any(|entry| {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                name == CONTROL_FILE_NAME || parse_segment_name(&name).is_some()
            })
        })
}

fn list_sessions() -> anyhow::Result<ExitCode> {
    let base = default_base_dir()?;
    let mut sessions: Vec<PathBuf> = match std::fs::read_dir(&base) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => return Err(error).with_context(|| format!("listing {}", base.display())),
    };
    sessions.sort();
    if sessions.is_empty() {
        println!("no sessions under {}", base.display());
    }
    for session in sessions {
        let totals = collect_session(&session, current_uid());
        println!(
            "{}  {} processes, {} functions matched",
            session.display(),
            totals.processes.len(),
            totals.functions_matched()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_totals(totals: &RunTotals) {
    for warning in &totals.warnings {
        eprintln!("speedbump: warning: {warning}");
    }
    println!(
        "{:>8}  {:>10}  {:>10}  {:>10}  command",
        "pid", "calls", "delayed", "injected"
    );
    for p in &totals.processes {
        println!(
            "{:>8}  {:>10}  {:>10}  {:>10}  {}{}",
            p.pid,
            format_count(p.counts.calls),
            format_count(p.counts.delayed_calls),
            format_ns(p.counts.injected_ns),
            p.label,
            if p.exited { " (exited)" } else { "" }
        );
    }
    println!();
    println!(
        "{:>10}  {:>10}  {:>10}  pattern",
        "calls", "delayed", "injected"
    );
    for p in &totals.patterns {
        println!(
            "{:>10}  {:>10}  {:>10}  {}{}",
            format_count(p.counts.calls),
            format_count(p.counts.delayed_calls),
            format_ns(p.counts.injected_ns),
            if p.exclude { "!" } else { "" },
            p.pattern
        );
    }
    println!();
    println!(
        "{:>10}  {:>10}  {:>10}  function",
        "calls", "delayed", "injected"
    );
    for f in totals.functions.iter().take(30) {
        println!(
            "{:>10}  {:>10}  {:>10}  {}",
            format_count(f.counts.calls),
            format_count(f.counts.delayed_calls),
            format_ns(f.counts.injected_ns),
            f.name
        );
    }
    if !totals.progress.is_empty() {
        println!();
        for (name, units) in &totals.progress {
            let name = if name.is_empty() { "progress" } else { name };
            println!("{:>10}  {name}", format_count(*units));
        }
    }
}

/// `speedbump inspect --json`: the totals of a session.
#[derive(Serialize)]
struct TotalsJson {
    /// One entry per hooked process (segment).
    processes: Vec<ProcessJson>,
    /// Per pattern, summed over processes.
    patterns: Vec<CountsRow>,
    /// Per `module:qualname`, summed over processes, most calls first.
    functions: Vec<CountsRow>,
    /// Units of progress per progress name ("" = `speedbump.progress()`'s default).
    progress: Vec<ProgressJson>,
    /// Segments skipped, and why.
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct ProcessJson {
    pid: u32,
    parent_pid: u32,
    label: String,
    exited: bool,
    calls: u64,
    delayed_calls: u64,
    injected_ns: u64,
}

#[derive(Serialize)]
struct CountsRow {
    name: String,
    calls: u64,
    delayed_calls: u64,
    injected_ns: u64,
    /// Own time in ns (docs/ranking.md); left out while unmeasured (0).
    #[serde(skip_serializing_if = "crate::totals::is_zero")]
    own_ns: u64,
}

#[derive(Serialize)]
struct ProgressJson {
    name: String,
    units: u64,
}

impl From<&RunTotals> for TotalsJson {
    fn from(t: &RunTotals) -> Self {
        TotalsJson {
            processes: t
                .processes
                .iter()
                .map(|p| ProcessJson {
                    pid: p.pid,
                    parent_pid: p.parent_pid,
                    label: p.label.clone(),
                    exited: p.exited,
                    calls: p.counts.calls,
                    delayed_calls: p.counts.delayed_calls,
                    injected_ns: p.counts.injected_ns,
                })
                .collect(),
            patterns: t
                .patterns
                .iter()
                .map(|p| CountsRow {
                    name: format!("{}{}", if p.exclude { "!" } else { "" }, p.pattern),
                    calls: p.counts.calls,
                    delayed_calls: p.counts.delayed_calls,
                    injected_ns: p.counts.injected_ns,
                    own_ns: p.counts.own_ns,
                })
                .collect(),
            functions: t
                .functions
                .iter()
                .map(|f| CountsRow {
                    name: f.name.clone(),
                    calls: f.counts.calls,
                    delayed_calls: f.counts.delayed_calls,
                    injected_ns: f.counts.injected_ns,
                    own_ns: f.counts.own_ns,
                })
                .collect(),
            progress: t
                .progress
                .iter()
                .map(|(name, units)| ProgressJson {
                    name: name.clone(),
                    units: *units,
                })
                .collect(),
            warnings: t.warnings.clone(),
        }
    }
}
