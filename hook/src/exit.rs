//! What a run leaves at exit: the one-line summary, the no-match warning with
//! a suggested fix, the JSON report, and no session files.
//!
//! Only the root process (the first hooked process of a run without a
//! launcher) does this, for all processes of the run; the others only mark
//! their segment as exited. Under `speedbump run` the launcher reports.

use speedbump_core::error::chain;
use std::path::Path;

use serde::Serialize;
use speedbump_core::ipc::FunctionKind;
use speedbump_core::ipc::layout::OTHER_NAME;
use speedbump_core::pattern::suggest_relaxation;
use speedbump_core::totals::{Counts, RunTotals, collect_session};
use speedbump_core::units::{format_count, format_ns};

use crate::config::Config;
use crate::failure::say;
use crate::state::Hook;

/// Runs at interpreter exit (atexit) in every hooked process.
pub fn at_exit(hook: &mut Hook) {
    hook.stats.mark_exited();
    if !hook.root {
        return;
    }
    let uid = rustix::process::getuid().as_raw();
    let totals = collect_session(&hook.session_dir, uid);
    let warnings = if hook.stats.counts_are_private() {
        // Its counts are in private memory, not in the session: saying that
        // nothing matched would be false.
        let mut warnings = totals.warnings.clone();
        let base = hook.session_dir.parent().unwrap_or(&hook.session_dir);
        warnings.push(format!(
            "these totals leave out this process's own calls: its statistics segment could \
             not be created (see above); make room in {} (each hooked process needs a few \
             MiB there) and run again for complete counts",
            base.display()
        ));
        warnings
    } else {
        no_match_warnings(hook, &totals)
    };
    if !hook.config.quiet {
        say(&summary_line(&hook.config, &totals));
    }
    for warning in &warnings {
        say(&format!("warning: {warning}"));
    }
    if let Some(path) = &hook.config.report
        && let Err(error) = write_report(path, &hook.config, &totals, &warnings)
    {
        say(&format!(
            "cannot write the report {}: {}",
            path.display(),
            chain(&error)
        ));
    }
    hook.stats.close_files();
    let _ = speedbump_core::ipc::remove_session_dir(&hook.session_dir);
}

fn summary_line(config: &Config, totals: &RunTotals) -> String {
    let counts = totals.counts();
    let functions = totals.functions_matched();
    let processes = totals.processes.len().max(1);
    let process_text = if processes == 1 {
        String::new()
    } else {
        format!(" in {processes} processes")
    };
    let mut line = format!(
        "{} function{} matched{process_text}; ",
        format_count(functions as u64),
        if functions == 1 { "" } else { "s" },
    );
    if config.delay_ns == 0 {
        line.push_str(&format!(
            "{} calls counted, none delayed (delay 0)",
            format_count(counts.calls)
        ));
    } else {
        let every = if config.frequency > 1 {
            format!(", every {}th call", config.frequency)
        } else {
            String::new()
        };
        line.push_str(&format!(
            "{} of {} calls delayed by {}{every}; {} injected",
            format_count(counts.delayed_calls),
            format_count(counts.calls),
            format_ns(config.delay_ns),
            format_ns(counts.injected_ns),
        ));
    }
    line
}

const MODULE_CODE: &str = ":<module>";

/// Patterns that selected nothing worth measuring: nothing at all, or only
/// module-level code (which runs once, at import; `vllm.worker:*` when the
/// code lives in `vllm.worker.*`). Each gets a warning with a pattern that
/// would have matched functions this process saw, up to
/// [`MAX_PATTERN_WARNINGS`]; the rest are counted in one line.
fn no_match_warnings(hook: &Hook, totals: &RunTotals) -> Vec<String> {
    let mut warnings: Vec<String> = totals.warnings.clone();
    let functions_seen = || {
        hook.seen
            .iter()
            .filter(|(_, _, qualname)| *qualname != "<module>")
    };
    if totals.functions_matched() == 0 {
        let source = hook.config.targets.as_ref().map_or_else(
            || "the target patterns".to_owned(),
            |p| p.display().to_string(),
        );
        warnings.push(format!(
            "no function matched the patterns in {source} ({} functions seen)",
            format_count(hook.seen.len() as u64)
        ));
    }
    // Functions counted under a pattern past the segment's pattern table
    // carry `<other>` as their pattern: which pattern matched them is found
    // again by matching (module, filename, qualname).
    let overflowed = overflowed_functions(hook, totals);
    let mut unmatched = 0usize;
    for pattern in hook.patterns.includes() {
        let text = pattern.text();
        let mut matched: Vec<&str> = totals
            .functions
            .iter()
            .filter(|f| f.pattern == text && f.counts.calls > 0)
            .map(|f| f.name.as_str())
            .collect();
        matched.extend(
            overflowed
                .iter()
                .filter(|(module, filename, qualname, _)| {
                    pattern.matches(module, filename, qualname)
                })
                .map(|(_, _, _, name)| *name),
        );
        let only_module_code =
            !text.contains("<module>") && matched.iter().all(|name| name.ends_with(MODULE_CODE));
        if !matched.is_empty() && !only_module_code {
            continue;
        }
        unmatched += 1;
        if unmatched > MAX_PATTERN_WARNINGS {
            continue;
        }
        let what = if matched.is_empty() {
            "matched nothing"
        } else {
            "matched only module-level code, which runs once at import"
        };
        let advice = match suggest_relaxation(pattern, functions_seen()) {
            Some((suggestion, count)) => format!(
                "'{suggestion}' would match {count} function{}",
                if count == 1 { "" } else { "s" }
            ),
            None => "no similar name was seen; check the module name (the summary of a run \
                     with '*:*' lists what runs)"
                .to_owned(),
        };
        warnings.push(format!("'{text}' {what}; {advice}"));
    }
    if unmatched > MAX_PATTERN_WARNINGS {
        warnings.push(format!(
            "{} more patterns matched nothing or only module-level code (`speedbump check` \
             and a run with '*:*' show what runs)",
            unmatched - MAX_PATTERN_WARNINGS
        ));
    }
    warnings
}

/// Most patterns named one by one in the exit warnings: a targets file of
/// thousands of patterns gets a count for the rest, not a line each.
const MAX_PATTERN_WARNINGS: usize = 20;

/// (module, filename, qualname, name) of each called function whose
/// pattern is `<other>` (its pattern was past the pattern table), as this
/// process saw it.
fn overflowed_functions<'a>(
    hook: &'a Hook,
    totals: &'a RunTotals,
) -> Vec<(&'a str, &'a str, &'a str, &'a str)> {
    let names: std::collections::HashSet<&str> = totals
        .functions
        .iter()
        .filter(|f| f.pattern == OTHER_NAME && f.name != OTHER_NAME && f.counts.calls > 0)
        .map(|f| f.name.as_str())
        .collect();
    if names.is_empty() {
        return Vec::new();
    }
    hook.seen
        .iter()
        .filter_map(|(module, filename, qualname)| {
            let name = names.get(format!("{module}:{qualname}").as_str())?;
            Some((module, filename, qualname, *name))
        })
        .collect()
}

/// The JSON report (SPEED_BUMP_REPORT); schema documented in docs/report-schema.md.
#[derive(Serialize)]
struct Report<'a> {
    schema: &'static str,
    settings: Settings<'a>,
    totals: Counts,
    functions_matched: usize,
    processes: Vec<ProcessJson<'a>>,
    patterns: Vec<PatternJson<'a>>,
    functions: Vec<FunctionJson<'a>>,
    progress: Vec<ProgressJson<'a>>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct Settings<'a> {
    targets: Option<&'a Path>,
    delay_ns: u64,
    frequency: u64,
    start_ms: u64,
    duration_ms: Option<u64>,
    delay_resumes: bool,
    match_c_calls: bool,
}

#[derive(Serialize)]
struct ProcessJson<'a> {
    pid: u32,
    parent_pid: u32,
    label: &'a str,
    exited: bool,
    functions_matched: u64,
    #[serde(flatten)]
    counts: Counts,
}

#[derive(Serialize)]
struct PatternJson<'a> {
    pattern: &'a str,
    exclude: bool,
    functions_matched: u64,
    #[serde(flatten)]
    counts: Counts,
}

#[derive(Serialize)]
struct FunctionJson<'a> {
    name: &'a str,
    kind: &'static str,
    pattern: &'a str,
    processes: u32,
    #[serde(flatten)]
    counts: Counts,
}

#[derive(Serialize)]
struct ProgressJson<'a> {
    name: &'a str,
    units: u64,
}

fn kind_name(kind: FunctionKind) -> &'static str {
    match kind {
        FunctionKind::Python => "python",
        FunctionKind::C => "c",
        FunctionKind::Other => "other",
    }
}

fn write_report(
    path: &Path,
    config: &Config,
    totals: &RunTotals,
    warnings: &[String],
) -> std::io::Result<()> {
    let report = Report {
        schema: "speedbump.hook-report/1",
        settings: Settings {
            targets: config.targets.as_deref(),
            delay_ns: config.delay_ns,
            frequency: config.frequency,
            start_ms: config.start_ms,
            duration_ms: config.duration_ms,
            delay_resumes: config.delay_resumes,
            match_c_calls: config.match_c_calls,
        },
        totals: totals.counts(),
        functions_matched: totals.functions_matched(),
        processes: totals
            .processes
            .iter()
            .map(|p| ProcessJson {
                pid: p.pid,
                parent_pid: p.parent_pid,
                label: &p.label,
                exited: p.exited,
                functions_matched: p.functions_matched,
                counts: p.counts,
            })
            .collect(),
        patterns: totals
            .patterns
            .iter()
            .map(|p| PatternJson {
                pattern: &p.pattern,
                exclude: p.exclude,
                functions_matched: p.functions_matched,
                counts: p.counts,
            })
            .collect(),
        functions: totals
            .functions
            .iter()
            .map(|f| FunctionJson {
                name: &f.name,
                kind: kind_name(f.kind),
                pattern: &f.pattern,
                processes: f.processes,
                counts: f.counts,
            })
            .collect(),
        progress: totals
            .progress
            .iter()
            .map(|(name, units)| ProgressJson {
                name,
                units: *units,
            })
            .collect(),
        warnings,
    };
    let json = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
    // Beside, then renamed: a reader never sees half a report; created
    // exclusively, so a link planted in a shared directory is never followed.
    speedbump_core::ipc::replace::write_replacing(path, (json + "\n").as_bytes())
}
