//! The Markdown report: a summary of the session's verdicts (steps 1 to 4),
//! then one section per experiment with its table, its sentences and its
//! plot.

use std::fmt::Write;

use super::svg::{rank_svg, sweep_svg};
use super::text::{
    census_table, delay, md_escape, percent, rank_lines, rank_table, shape_name, step1_sentence,
    sweep_lines, sweep_table,
};
use crate::experiment::protocol::{CensusResult, RankResult, SweepResult};
use crate::experiment::results::{ExperimentRecord, ResultsFile};

/// A report: Markdown, and the SVG files it links to (name, content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The Markdown text.
    pub markdown: String,
    /// SVG plots, by file name (`sweep-1.svg`).
    pub svgs: Vec<(String, String)>,
}

/// The SVG plots of every experiment, by file name.
pub fn plots(results: &ResultsFile) -> Vec<(String, String)> {
    let mut svgs = Vec::new();
    for (i, record) in results.experiments.iter().enumerate() {
        let n = i + 1;
        if let Some(s) = &record.sweep {
            svgs.push((format!("sweep-{n}.svg"), sweep_svg(s, &sweep_title(s))));
        }
        if let Some(r) = &record.rank {
            svgs.push((format!("rank-{n}.svg"), rank_svg(r, &rank_title(r))));
        }
    }
    svgs
}

fn sweep_title(s: &SweepResult) -> String {
    format!(
        "Throughput against delay per call: {}",
        s.patterns.join(" ")
    )
}

fn rank_title(r: &RankResult) -> String {
    format!(
        "Candidates under {} at {} per call",
        if r.under.is_empty() { "*" } else { &r.under },
        delay(r.delay_ns)
    )
}

/// Renders the report; `images`: link the plots (written beside it).
pub fn render(results: &ResultsFile, images: bool) -> Rendered {
    let mut md = String::from("# speedbump report\n\n");
    let _ = writeln!(
        md,
        "{} experiment{} from results written by speedbump {}.\n",
        results.experiments.len(),
        if results.experiments.len() == 1 {
            ""
        } else {
            "s"
        },
        results.speedbump_version
    );
    if !results.experiments.is_empty() {
        md.push_str("## Summary\n\n");
        for (i, record) in results.experiments.iter().enumerate() {
            let _ = writeln!(md, "{}. {}", i + 1, md_escape(&summary_line(record)));
        }
        md.push('\n');
    }
    for (i, record) in results.experiments.iter().enumerate() {
        section(&mut md, i + 1, record, images);
    }
    Rendered {
        markdown: md,
        svgs: if images { plots(results) } else { Vec::new() },
    }
}

fn summary_line(record: &ExperimentRecord) -> String {
    if let Some(s) = &record.sweep {
        return format!(
            "Sweep of {}: {} ({}).",
            s.patterns.join(" "),
            step1_sentence(s),
            shape_name(&s.shape.shape)
        );
    }
    if let Some(r) = &record.rank {
        return match r.ranked.first() {
            Some(best) => format!(
                "Ranking under {} at {} per call: first {} (drop {}{}).",
                if r.under.is_empty() { "*" } else { &r.under },
                delay(r.delay_ns),
                best.label,
                percent(best.drop, false),
                if best.tied { ", tied" } else { "" }
            ),
            None => "Ranking: no candidate measured.".to_owned(),
        };
    }
    if let Some(c) = &record.census {
        let top: Vec<String> = c
            .top_level
            .iter()
            .take(3)
            .map(|t| format!("{} ({})", t.label, percent(t.share, false)))
            .collect();
        return format!(
            "Census: {} functions seen; top level by calls: {}.",
            c.tree.root.functions,
            top.join(", ")
        );
    }
    "Unknown experiment.".to_owned()
}

fn about(md: &mut String, record: &ExperimentRecord, mode_used: Option<crate::experiment::Mode>) {
    let _ = writeln!(
        md,
        "Command: `{}`; mode {}{}; seed {}; target precision ±{:.1}%; warm-up {:.1} s{}.\n",
        record.command.join(" "),
        format!("{:?}", record.mode).to_lowercase(),
        mode_used.map_or(String::new(), |m| format!(
            " (windows ran {})",
            format!("{m:?}").to_lowercase()
        )),
        record.seed,
        record.target_precision * 100.0,
        record.warmup_s,
        record
            .progress
            .as_ref()
            .map_or(String::new(), |p| format!("; progress from {p}"))
    );
}

fn section(md: &mut String, n: usize, record: &ExperimentRecord, images: bool) {
    if let Some(s) = &record.sweep {
        let _ = writeln!(
            md,
            "## {n}. Sweep of `{}` (steps 1-2)\n",
            s.patterns.join(" ")
        );
        about(md, record, Some(s.mode));
        md.push_str(&sweep_table(s).markdown());
        md.push('\n');
        for line in sweep_lines(s) {
            let _ = writeln!(md, "- {}", md_escape(&line));
        }
        md.push('\n');
        if images {
            let _ = writeln!(md, "![{}](sweep-{n}.svg)\n", sweep_title(s));
        }
    }
    if let Some(r) = &record.rank {
        let _ = writeln!(
            md,
            "## {n}. Ranking under `{}` (steps 3-4)\n",
            if r.under.is_empty() { "*" } else { &r.under }
        );
        about(md, record, Some(r.mode));
        md.push_str(&rank_table(r).markdown());
        md.push('\n');
        for line in rank_lines(r) {
            let _ = writeln!(md, "- {}", md_escape(&line));
        }
        md.push('\n');
        if images {
            let _ = writeln!(md, "![{}](rank-{n}.svg)\n", rank_title(r));
        }
    }
    if let Some(c) = &record.census {
        census_section(md, n, record, c);
    }
}

fn census_section(md: &mut String, n: usize, record: &ExperimentRecord, c: &CensusResult) {
    let _ = writeln!(
        md,
        "## {n}. Census of `{}` (step 3)\n",
        c.patterns.join(" ")
    );
    about(md, record, None);
    let _ = writeln!(
        md,
        "{} functions seen in {:.1} s{}.\n",
        c.tree.root.functions,
        c.window_s,
        c.throughput_per_s
            .map_or(String::new(), |t| format!(" at {}", super::text::rate(t)))
    );
    md.push_str(&census_table(c, &c.tree.root, 12).markdown());
    md.push('\n');
    if let Some(other) = super::text::census_other(c) {
        let _ = writeln!(md, "{}\n", md_escape(&other));
    }
}
