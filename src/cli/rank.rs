//! `speedbump rank [OPTIONS] -- COMMAND...`: steps 3 and 4 of
//! docs/methodology.md. Which subsystem, module, class or function limits
//! throughput: a census (`*:*` at delay 0) finds what runs under a node of
//! the call tree; every child is a candidate, each receives the same dose
//! (injected time per unit of work), several are slowed per window in a
//! grouped design and the leaders are confirmed alone (docs/ranking.md).
//! Candidates may also come from pattern files (one file, one candidate).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use crate::analysis::{Candidate, NodeKind};
use crate::experiment::ExperimentKind;
use crate::experiment::RankResult;
use crate::experiment::census::{candidates_under, normalise_node};
use crate::live::settings::set_lines;
use crate::pattern::PatternSet;
use crate::report::text::{census_table, rank_lines, rank_table};
use crate::units::format_ns;

use super::options::{self, CensusArgs};
use super::sweep::{Driver, HeadlessArgs, Outcome};

const AFTER_HELP: &str = "\
Examples:
  speedbump rank --under '*' -- python bench.py                           # step 3: which subsystem
  speedbump rank --under 'vllm.worker' -- python bench.py                 # step 4: narrow down
  speedbump rank --candidates numpy.txt zmq.txt model.txt -- python bench.py
  speedbump rank --under 'pkg' --delay 10us -- python bench.py            # docs/methodology.md's equal delay

--under takes a node of the call tree the census builds: '*' (top-level packages and
modules), a package or module ('vllm.worker'), a class or function ('pkg.mod:Engine').
Every child is a candidate. Each gets the same --dose of injected time per unit of work
(its delay per call follows from its calls per unit), so a quiet function on the
critical path counts as much as a busy one. Candidates are ranked by criticality (share
of injected time that reached the critical path); candidates marked '=' share a tie
group (intervals overlap). See docs/ranking.md. Results are appended to --out.

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
    /// Injected time per unit of work each candidate receives, as a share
    /// of the baseline time per unit (each candidate's delay per call =
    /// dose × time per unit / its calls per unit, clamped to 200ns..1s).
    #[arg(long, value_name = "FRACTION", default_value_t = crate::experiment::rank::DEFAULT_DOSE, value_parser = options::dose, conflicts_with = "delay")]
    pub dose: f64,
    /// The same delay per call for every candidate instead of an equal dose
    /// (the drop then also grows with call counts).
    #[arg(long, value_name = "DURATION", value_parser = options::rank_delay)]
    pub delay: Option<u64>,
    /// Rank only the N busiest children by calls (opt-in: quiet children on
    /// the critical path are then never measured).
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Leave out children under this share of the node's calls (opt-in, off
    /// by default: a quiet child may be the one on the critical path).
    #[arg(long, value_name = "FRACTION", default_value = "0", value_parser = options::share)]
    pub min_share: f64,
    #[command(flatten)]
    pub census: CensusArgs,
    #[command(flatten)]
    pub common: HeadlessArgs,
}

/// One candidate per pattern file, named after the file.
fn candidates_from_files(files: &[PathBuf]) -> anyhow::Result<Vec<Candidate>> {
    files
        .iter()
        .map(|path| {
            let set = PatternSet::load(path)?;
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
    let census_patterns = args.common.workload.targets.patterns_or_all()?;
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
                args.census.census
            ));
            let census = driver.census(census_patterns, args.census.census)?;
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
                driver.note(
                    &census_table(&census, tree_node, args.top.unwrap_or(usize::MAX)).plain(),
                );
            }
            if let Some(other) = crate::report::text::census_other(&census) {
                driver.note(&format!("speedbump: warning: {other}"));
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
                    "speedbump: leaving out {} candidate{} under {:.1}% of the calls ({}), \
                     as --min-share asks",
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
            (
                kept.into_iter()
                    .take(args.top.unwrap_or(usize::MAX).max(1))
                    .collect(),
                under,
            )
        }
    };
    if driver.interrupted() {
        driver.finish("")?;
        return Ok(Outcome::Interrupted.exit_code());
    }
    let dose = match args.delay {
        Some(_) => None,
        None => Some(args.dose),
    };
    driver.note(&format!(
        "speedbump: ranking {} candidates under {under} {} (budget {:.0} s)",
        candidates.len(),
        match args.delay {
            Some(ns) => format!("at {} per call", format_ns(ns)),
            None => format!(
                "at an equal dose of {:.1}% of the time per unit",
                args.dose * 100.0
            ),
        },
        args.common.workload.experiment.budget
    ));
    let mut result = driver.rank(
        candidates,
        args.delay.unwrap_or(0),
        dose,
        args.common.workload.targets.frequency,
        args.common.workload.experiment.budget,
    )?;
    result.under = under;
    driver.record(ExperimentKind::Rank, |r| r.rank = Some(result.clone()))?;
    let outcome = driver.outcome(&result.verdicts);
    driver.finish(&rank_report(&result))?;
    Ok(outcome.exit_code())
}

/// Prints a ranking (table and sentences).
pub fn rank_report(result: &RankResult) -> String {
    let mut report = rank_table(result).plain();
    report.push('\n');
    for line in rank_lines(result) {
        report.push_str(&line);
        report.push('\n');
    }
    report
}
