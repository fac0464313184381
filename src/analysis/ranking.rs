//! Ranking candidates (subsystems, modules, functions) by what slowing them
//! did, with ties flagged.
//!
//! Two keys, both reported for every candidate:
//! - **throughput drop** at the common delay per call (METHODOLOGY.md step
//!   3: "the subsystem with the largest throughput drop"): the answer to
//!   "where does a nanosecond per call cost most", which grows with calls
//!   per unit;
//! - **criticality**: the share of injected time that reached the critical
//!   path, comparable across call counts.
//!
//! Neighbours in the order are *tied* when Welch's unequal-variance t test
//! (Welch 1947, Satterthwaite degrees of freedom) cannot tell their keys
//! apart at the estimates' confidence level: the difference of the two means
//! over `√(se₁² + se₂²)`, against the two-sided t critical value. Welch and
//! not an overlap of intervals, which is needlessly conservative (two 95%
//! intervals may overlap while the difference is significant at 99%). A
//! candidate with a single pair has no standard error and ties with its
//! neighbours. Ties chain: a tie group is a run of neighbours each tied to
//! the next.

use serde::{Deserialize, Serialize};

use super::fit::SweepPoint;
use super::stats::Interval;
use super::student::t_critical;

/// A candidate and what was measured for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateMeasurement {
    /// The candidate's name (`vllm.worker`, `pkg.mod:Class.f`).
    pub label: String,
    /// The patterns that selected it.
    pub patterns: Vec<String>,
    /// Its pairs at the common delay, summarised.
    pub point: SweepPoint,
}

/// The key to rank by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// Largest throughput drop first.
    ThroughputDrop,
    /// Highest criticality first.
    Criticality,
}

/// One line of the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedCandidate {
    /// Position, 1-based.
    pub rank: usize,
    /// The candidate's name.
    pub label: String,
    /// The patterns that selected it.
    pub patterns: Vec<String>,
    /// Throughput drop as a fraction (0.1 = 10% slower).
    pub drop: f64,
    /// Its interval (from the relative throughput's).
    pub drop_interval: Option<Interval>,
    /// Criticality (dimensionless), when anything was injected.
    pub criticality: Option<f64>,
    /// Its interval.
    pub criticality_interval: Option<Interval>,
    /// Matched calls per unit of progress.
    pub calls_per_unit: f64,
    /// Delay per call, nanoseconds.
    pub delay_ns: u64,
    /// Usable pairs behind the estimate.
    pub pairs_used: usize,
    /// Tie group, 1-based: candidates sharing it cannot be told apart.
    pub tie_group: usize,
    /// Whether another candidate shares the tie group.
    pub tied: bool,
}

/// A key with its standard error and sample size.
#[derive(Clone, Copy)]
struct Key {
    value: f64,
    std_error: Option<f64>,
    n: usize,
}

fn key(m: &CandidateMeasurement, by: RankBy) -> Option<Key> {
    match by {
        // Rank on the log scale, where the estimate and its error live:
        // a larger drop is a more negative mean log ratio.
        RankBy::ThroughputDrop => Some(Key {
            value: -m.point.relative.mean_log_ratio,
            std_error: m.point.relative.std_error_log,
            n: m.point.relative.pairs_used,
        }),
        RankBy::Criticality => m.point.criticality.map(|c| Key {
            value: c.criticality,
            std_error: c.std_error,
            n: c.pairs_used,
        }),
    }
}

/// Whether Welch's t test tells two keys apart at `confidence`.
pub fn welch_distinct(
    mean_a: f64,
    se_a: f64,
    n_a: usize,
    mean_b: f64,
    se_b: f64,
    n_b: usize,
    confidence: f64,
) -> bool {
    if n_a < 2 || n_b < 2 {
        return false;
    }
    let (va, vb) = (se_a * se_a, se_b * se_b);
    let pooled = va + vb;
    if pooled <= 0.0 {
        return mean_a != mean_b;
    }
    let df = pooled * pooled / (va * va / (n_a - 1) as f64 + vb * vb / (n_b - 1) as f64);
    let t = (mean_a - mean_b).abs() / pooled.sqrt();
    t > t_critical(confidence, df.max(1.0))
}

/// Ranks candidates by `by` (descending), flags ties (see the module
/// documentation). Candidates without the key (no injected time, for
/// criticality) come last, each in its own group.
pub fn rank(candidates: &[CandidateMeasurement], by: RankBy) -> Vec<RankedCandidate> {
    let mut order: Vec<(&CandidateMeasurement, Option<Key>)> =
        candidates.iter().map(|c| (c, key(c, by))).collect();
    order.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => y.value.total_cmp(&x.value),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let mut groups = Vec::with_capacity(order.len());
    let mut group = 0;
    for (i, (c, k)) in order.iter().enumerate() {
        let tied_with_previous = i > 0
            && match (order[i - 1].1, k) {
                (Some(a), Some(b)) => !welch_distinct(
                    a.value,
                    a.std_error.unwrap_or(f64::INFINITY),
                    a.n,
                    b.value,
                    b.std_error.unwrap_or(f64::INFINITY),
                    b.n,
                    c.point.relative.confidence,
                ),
                _ => false,
            };
        if !tied_with_previous {
            group += 1;
        }
        groups.push(group);
    }
    order
        .iter()
        .zip(&groups)
        .enumerate()
        .map(|(i, ((c, _), &g))| {
            let r = &c.point.relative;
            RankedCandidate {
                rank: i + 1,
                label: c.label.clone(),
                patterns: c.patterns.clone(),
                drop: r.drop(),
                drop_interval: r.interval.map(|iv| iv.map(|v| 1.0 - v)),
                criticality: c.point.criticality.map(|k| k.criticality),
                criticality_interval: c.point.criticality.and_then(|k| k.interval),
                calls_per_unit: c.point.calls_per_unit,
                delay_ns: c.point.delay_ns,
                pairs_used: r.pairs_used,
                tie_group: g,
                tied: groups.iter().filter(|&&x| x == g).count() > 1,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_by_hand() {
        // Means 1.0 and 0.9, se 0.02 each, 10 pairs: t = 3.54, df = 18,
        // t(0.95, 18) = 2.101: distinct; at se 0.05: t = 1.41, tied.
        assert!(welch_distinct(1.0, 0.02, 10, 0.9, 0.02, 10, 0.95));
        assert!(!welch_distinct(1.0, 0.05, 10, 0.9, 0.05, 10, 0.95));
        assert!(!welch_distinct(1.0, 0.0, 1, 0.0, 0.0, 10, 0.95));
    }
}
