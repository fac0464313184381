//! What the experiments have measured so far: the running experiment's
//! budget, step 1's sweep, the rankings of steps 3-4, and every finished
//! result (the report's content).

use crate::analysis::{Candidate, Interval, RelativeThroughput, SweepPoint, Verdict};
use crate::experiment::results::ExperimentRecord;
use crate::experiment::{CensusResult, ExperimentKind, RankResult, SweepResult};

/// The experiment in flight (one at a time).
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    /// Which.
    pub kind: ExperimentKind,
    /// Budget spent, seconds.
    pub spent_s: f64,
    /// The budget, seconds.
    pub budget_s: f64,
    /// Pairs measured so far.
    pub pairs: usize,
    /// Whether a cancel was sent.
    pub cancelling: bool,
    /// When it started, seconds since the Unix epoch (for results.json).
    pub started_unix_s: f64,
}

impl Running {
    /// An experiment of `kind` with `budget_s` starting now.
    pub fn new(kind: ExperimentKind, budget_s: f64) -> Running {
        Running {
            kind,
            spent_s: 0.0,
            budget_s,
            pairs: 0,
            cancelling: false,
            started_unix_s: crate::experiment::results::now_unix_s(),
        }
    }
}

/// Step 1 (and `s` in step 4): a sweep's settings and evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepState {
    /// The patterns slowed.
    pub patterns: Vec<String>,
    /// Delays as the user picked them (0 included: the baseline).
    pub delays_ns: Vec<u64>,
    /// The non-zero delays sent to the engine, in order (`SweepPoint`
    /// indices refer to these).
    pub sent: Vec<u64>,
    /// Evidence per sent delay.
    pub points: Vec<Option<SweepPoint>>,
    /// Verdict per sent delay.
    pub verdicts: Vec<Option<Verdict>>,
    /// The finished sweep.
    pub result: Option<SweepResult>,
}

impl SweepState {
    /// A sweep not run yet.
    pub fn new(patterns: Vec<String>, delays_ns: Vec<u64>) -> SweepState {
        SweepState {
            patterns,
            delays_ns,
            sent: Vec::new(),
            points: Vec::new(),
            verdicts: Vec::new(),
            result: None,
        }
    }

    /// Resets the evidence for a new run; returns the delays to send.
    pub fn restart(&mut self) -> Vec<u64> {
        self.sent = self.delays_ns.iter().copied().filter(|&d| d > 0).collect();
        self.points = vec![None; self.sent.len()];
        self.verdicts = vec![None; self.sent.len()];
        self.result = None;
        self.sent.clone()
    }
}

/// One candidate's evidence as it arrives.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evidence {
    /// Relative throughput so far.
    pub relative: Option<RelativeThroughput>,
    /// Whether it is done.
    pub verdict: Option<Verdict>,
}

/// One ranking: candidates under a node.
#[derive(Debug, Clone, PartialEq)]
pub struct RankEntry {
    /// The node (`*` for the top level).
    pub under: String,
    /// Candidates in the order sent.
    pub candidates: Vec<Candidate>,
    /// Evidence per candidate (order sent).
    pub evidence: Vec<Evidence>,
    /// The finished ranking.
    pub result: Option<RankResult>,
    /// Delay per call, ns.
    pub delay_ns: u64,
}

/// What is known about one candidate, live or final.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// Throughput drop (0.1 = 10% slower).
    pub drop: f64,
    /// Its interval.
    pub drop_interval: Option<Interval>,
    /// Criticality, when final and known.
    pub criticality: Option<f64>,
    /// Own time per unit of work, ns, when final and measured.
    pub own_ns_per_unit: Option<f64>,
    /// Rank (1-based), when final.
    pub rank: Option<usize>,
    /// Tied with a neighbour, when final.
    pub tied: bool,
    /// Latest verdict.
    pub verdict: Option<Verdict>,
    /// Delay per call it was measured at.
    pub delay_ns: u64,
}

impl RankEntry {
    /// The measure of candidate `label`, if this ranking has evidence.
    pub fn measure(&self, label: &str) -> Option<Measure> {
        if let Some(result) = &self.result {
            if let Some(r) = result.ranked.iter().find(|r| r.label == label) {
                let index = self.candidates.iter().position(|c| c.label == label);
                return Some(Measure {
                    drop: r.drop,
                    drop_interval: r.drop_interval,
                    criticality: r.criticality,
                    own_ns_per_unit: r.own_ns_per_unit,
                    rank: Some(crate::analysis::shown_rank(r, &result.ranked)),
                    tied: r.tied,
                    verdict: index.and_then(|i| result.verdicts.get(i).cloned()),
                    delay_ns: r.delay_ns,
                });
            }
        }
        let index = self.candidates.iter().position(|c| c.label == label)?;
        let evidence = self.evidence.get(index)?;
        let relative = evidence.relative?;
        Some(Measure {
            drop: relative.drop(),
            drop_interval: relative.interval.map(|i| i.map(|v| 1.0 - v)),
            criticality: None,
            own_ns_per_unit: None,
            rank: None,
            tied: false,
            verdict: evidence.verdict.clone(),
            delay_ns: self.delay_ns,
        })
    }
}

/// Everything finished, for the report and its export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Results {
    /// The latest census.
    pub census: Option<CensusResult>,
    /// Sweeps, in the order run.
    pub sweeps: Vec<SweepResult>,
    /// Rankings, most recent first (the deepest drill-down usually leads).
    pub rankings: Vec<RankResult>,
    /// Every experiment in the order finished, as `results.json` keeps them.
    pub records: Vec<ExperimentRecord>,
}

impl Results {
    /// Whether there is anything to report.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Adds a ranking in front, replacing an older one of the same node.
    pub fn add_ranking(&mut self, result: RankResult) {
        self.rankings.retain(|r| r.under != result.under);
        self.rankings.insert(0, result);
    }
}
