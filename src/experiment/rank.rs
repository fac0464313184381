//! Steps 3-4 (METHODOLOGY.md): candidates slowed one at a time by the same
//! delay per call, ranked by throughput drop (ties flagged), with their
//! criticality beside.

use crate::analysis::{
    Candidate, CandidateMeasurement, DEFAULT_CONFIDENCE, RankBy, SweepPoint, rank,
    relative_throughput,
};

use super::context::Context;
use super::paired::{Interruption, run_pairs};
use super::protocol::{ExperimentKind, RankResult, Update};

/// A ranking to run (the fields of `Command::Rank`).
#[derive(Debug, Clone, PartialEq)]
pub struct RankRequest {
    /// What to compare.
    pub candidates: Vec<Candidate>,
    /// Delay per call, ns.
    pub delay_ns: u64,
    /// Delay every Nth matching call.
    pub frequency: u64,
    /// Budget, seconds.
    pub budget_s: f64,
}

/// Runs the ranking; returns its result and why it ended early, if it did.
pub fn run_rank(ctx: &mut Context<'_>, req: &RankRequest) -> (RankResult, Option<Interruption>) {
    let treatments = req
        .candidates
        .iter()
        .map(|c| ctx.settings(&c.patterns, req.delay_ns, req.frequency))
        .collect();
    let plan = ctx.plan(treatments, req.budget_s);
    let sink = ctx.sink.clone();
    let budget_s = req.budget_s;
    let outcome = run_pairs(ctx.target, &plan, ctx.cancel, |event| {
        sink(Update::CandidateUpdate {
            index: event.setting,
            relative: relative_throughput(event.pairs, DEFAULT_CONFIDENCE),
            verdict: event.verdict.clone(),
        });
        sink(Update::Progress {
            kind: ExperimentKind::Rank,
            spent_s: event.spent_s,
            budget_s,
            pairs: event.total_pairs,
        });
    });
    let measurements: Vec<CandidateMeasurement> = req
        .candidates
        .iter()
        .zip(&outcome.pairs)
        .filter_map(|(c, pairs)| {
            SweepPoint::from_pairs(req.delay_ns, pairs, DEFAULT_CONFIDENCE).map(|point| {
                CandidateMeasurement {
                    label: c.label.clone(),
                    patterns: c.patterns.clone(),
                    point,
                }
            })
        })
        .collect();
    let partial = outcome.partial();
    let result = RankResult {
        under: common_parent(&req.candidates),
        delay_ns: req.delay_ns,
        frequency: req.frequency.max(1),
        mode: outcome.mode,
        ranked: rank(&measurements, RankBy::ThroughputDrop),
        verdicts: outcome.verdicts,
        spent_s: outcome.spent_s,
        partial,
    };
    (result, outcome.interruption)
}

/// The tree node the candidates hang under: the parent path they all
/// share (`pkg.mod` for `pkg.mod:f` and `pkg.mod:g`; `pkg` for `pkg.a` and
/// `pkg.b`), `*` for top-level nodes or candidates from elsewhere.
pub fn common_parent(candidates: &[Candidate]) -> String {
    let parents: Vec<String> = candidates.iter().map(|c| parent_path(&c.label)).collect();
    match parents.split_first() {
        Some((first, rest)) if !first.is_empty() && rest.iter().all(|p| p == first) => {
            first.clone()
        }
        _ => "*".to_owned(),
    }
}

/// The parent of a tree path: `pkg.mod:C.f` → `pkg.mod:C`, `pkg.mod:f` →
/// `pkg.mod`, `pkg.mod` → `pkg`, `pkg` → `` (the root).
fn parent_path(path: &str) -> String {
    match path.split_once(':') {
        Some((module, qualname)) => match qualname.rsplit_once('.') {
            Some((outer, _)) => {
                let outer = outer.strip_suffix(".<locals>").unwrap_or(outer);
                format!("{module}:{outer}")
            }
            None => module.to_owned(),
        },
        None => path
            .rsplit_once('.')
            .map_or(String::new(), |(p, _)| p.to_owned()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::analysis::NodeKind;

    fn candidate(label: &str) -> Candidate {
        Candidate {
            label: label.to_owned(),
            kind: NodeKind::Function,
            patterns: vec![label.to_owned()],
            calls: 1,
            share: 0.5,
            functions: 1,
        }
    }

    #[test]
    fn parents() {
        assert_eq!(parent_path("a.b:C.f"), "a.b:C");
        assert_eq!(parent_path("a.b:f.<locals>.g"), "a.b:f");
        assert_eq!(parent_path("a.b:f"), "a.b");
        assert_eq!(parent_path("a.b"), "a");
        assert_eq!(parent_path("a"), "");
        let under = |labels: &[&str]| {
            common_parent(&labels.iter().map(|l| candidate(l)).collect::<Vec<_>>())
        };
        assert_eq!(under(&["__main__:a", "__main__:b"]), "__main__");
        assert_eq!(under(&["__main__", "numpy"]), "*");
        assert_eq!(under(&["a.x:f", "b.y:g"]), "*");
    }
}
