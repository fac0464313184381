//! `speedbump rank [OPTIONS] -- COMMAND...`: steps 3 and 4 of
//! METHODOLOGY.md. Which subsystem, module, class or function limits
//! throughput: a census (`*:*` at delay 0) finds what runs under a node of
//! the call tree, then each child is slowed by the same delay per call in
//! paired windows and ranked by throughput drop, with criticality beside.
//! Candidates may also come from pattern files (one file, one candidate).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::Args;

use crate::analysis::{Candidate, NodeKind};
use crate::experiment::ExperimentKind;
use crate::experiment::RankResult;
use crate::experiment::census::{candidates_under, normalise_node};
use crate::live::settings::set_lines;
use crate::pattern::PatternSet;
use crate::report::text::{census_table, rank_lines, rank_table};
use crate::units::{format_ns, parse_duration_ns};

use super::sweep::{Driver, ExperimentArgs, Outcome, parse_frequency, parse_seconds};

const AFTER_HELP: &str = "\
Examples:
  speedbump rank --under '*' --delay 10us -- python bench.py              # step 3: which subsystem
  speedbump rank --under 'vllm.worker' --delay 10us -- python bench.py    # step 4: narrow down
  speedbump rank --candidates numpy.txt zmq.txt model.txt --delay 10us -- python bench.py

--under takes a node of the call tree the census builds: '*' (top-level packages and
modules), a package or module ('vllm.worker'), a class or function ('pkg.mod:Engine').
Its children are ranked by throughput drop at --delay per call; candidates marked '='
share a tie group (their difference is not significant). Results are appended to --out.

Exit status: 0 every candidate measured to the precision; 1 some too noisy to conclude;
2 speedbump failed (bad options, command not found, no such node); 3 the workload crashed
or exited before the ranking ended (partial results kept); 130 interrupted.";

/// Steps 3-4: rank subsystems, modules or functions by what slowing them costs.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct RankArgs {
    /// Node of the call tree whose children are ranked: '*', 'vllm.worker',
    /// 'pkg.mod:Class'.
    #[arg(
        long,
        value_name = "NODE",
        default_value = "*",
        conflicts_with = "candidates"
    )]
    pub under: String,
    /// Pattern files, one candidate each (instead of discovering them).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub candidates: Vec<PathBuf>,
    /// Delay per call of each candidate.
    #[arg(long, value_name = "DURATION", default_value = "10us", value_parser = parse_delay)]
    pub delay: u64,
    /// Delay every Nth matching call.
    #[arg(long, value_name = "N", default_value = "1", value_parser = parse_frequency)]
    pub frequency: u64,
    /// Rank at most this many children (the busiest by calls).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub top: usize,
    /// Leave out children with less than this share of the node's calls: at
    /// the same delay per call they cannot cost much throughput.
    #[arg(long, value_name = "FRACTION", default_value = "1%", value_parser = parse_share)]
    pub min_share: f64,
    /// Length of the census window that discovers the candidates.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_seconds)]
    pub census: f64,
    #[command(flatten)]
    pub common: ExperimentArgs,
}

fn parse_delay(s: &str) -> Result<u64, String> {
    match parse_duration_ns(s) {
        Ok(0) => Err("a ranking needs a delay above 0, e.g. 10us".to_owned()),
        Ok(ns) => Ok(ns),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_share(s: &str) -> Result<f64, String> {
    let text = s.trim();
    let value = match text.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => text.parse::<f64>(),
    };
    match value {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a share; write e.g. 1% or 0.01")),
    }
}

/// One candidate per pattern file, named after the file.
fn candidates_from_files(files: &[PathBuf]) -> anyhow::Result<Vec<Candidate>> {
    files
        .iter()
        .map(|path| {
            let set = PatternSet::load(path).map_err(|e| anyhow!("{e}"))?;
            if set.is_empty() {
                bail!(
                    "{}: no include pattern, so nothing would be slowed; add one (e.g. 'numpy.*:*')",
                    path.display()
                );
            }
            let label = path
                .file_stem()
                .map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into_owned());
            Ok(Candidate {
                label,
                kind: NodeKind::Module,
                patterns: set_lines(&set),
                calls: 0,
                share: 0.0,
                functions: 0,
            })
        })
        .collect()
}

/// Runs `speedbump rank`.
pub fn run(args: &RankArgs) -> anyhow::Result<ExitCode> {
    let from_files = if args.candidates.is_empty() {
        None
    } else {
        Some(candidates_from_files(&args.candidates)?)
    };
    let census_patterns = args.common.patterns(&["*:*"])?;
    let mut driver = Driver::start(&args.common)?;
    let (candidates, under) = match from_files {
        Some(candidates) => {
            let names: Vec<String> = args
                .candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            (candidates, format!("candidate files: {}", names.join(", ")))
        }
        None => {
            driver.note(&format!(
                "speedbump: census of {} for {:.1} s",
                census_patterns.join(" "),
                args.census
            ));
            let census = driver.census(census_patterns, args.census)?;
            let node = normalise_node(&args.under);
            let Some(all) = candidates_under(&census, &node) else {
                let top: Vec<String> = census.top_level.iter().map(|c| c.label.clone()).collect();
                bail!(
                    "no node '{}' ran during the census; top-level nodes: {}",
                    args.under,
                    if top.is_empty() {
                        "none (did the workload run any Python in the window?)".to_owned()
                    } else {
                        top.join(", ")
                    }
                );
            };
            if let Some(tree_node) = census.tree.find(&node) {
                driver.note(&census_table(&census, tree_node, args.top).plain());
            }
            if all.is_empty() {
                bail!(
                    "nothing under '{}' was called during the census; rank its parent instead",
                    args.under
                );
            }
            let under = if node.is_empty() {
                "*".to_owned()
            } else {
                node
            };
            let (kept, small): (Vec<Candidate>, Vec<Candidate>) =
                all.into_iter().partition(|c| c.share >= args.min_share);
            if !small.is_empty() {
                driver.note(&format!(
                    "speedbump: leaving out {} candidate{} under {:.1}% of the calls ({}); \
                     --min-share 0 keeps them",
                    small.len(),
                    if small.len() == 1 { "" } else { "s" },
                    args.min_share * 100.0,
                    small
                        .iter()
                        .take(5)
                        .map(|c| c.label.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if kept.is_empty() {
                bail!(
                    "no child of '{}' has {:.1}% of its calls; lower --min-share",
                    args.under,
                    args.min_share * 100.0
                );
            }
            (kept.into_iter().take(args.top.max(1)).collect(), under)
        }
    };
    if driver.interrupted() {
        driver.finish("")?;
        return Ok(Outcome::Interrupted.exit_code());
    }
    let labels: Vec<String> = candidates.iter().map(|c| c.label.clone()).collect();
    driver.note(&format!(
        "speedbump: ranking {} candidates under {under} at {} per call (budget {:.0} s)",
        candidates.len(),
        format_ns(args.delay),
        args.common.budget
    ));
    let mut result = driver.rank(candidates, args.delay, args.frequency, args.common.budget)?;
    result.under = under;
    driver.record(ExperimentKind::Rank, |r| r.rank = Some(result.clone()))?;
    let outcome = driver.outcome(&result.verdicts);
    driver.finish(&rank_report(&result, &labels))?;
    Ok(outcome.exit_code())
}

/// Prints a ranking (table and sentences).
pub fn rank_report(result: &RankResult, labels: &[String]) -> String {
    let mut report = rank_table(result).plain();
    report.push('\n');
    for line in rank_lines(result, labels) {
        report.push_str(&line);
        report.push('\n');
    }
    report
}
