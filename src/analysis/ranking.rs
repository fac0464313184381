//! Ranking candidates (subsystems, modules, functions) by what slowing them
//! did, with ties flagged.
//!
//! Two keys, both reported for every candidate:
//! - **throughput drop** at the common delay per call (docs/methodology.md step
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
//! neighbours. Ties do not chain: a tie group is its leader and the
//! neighbours after it that are tied with the leader, so two adjacent
//! groups stay two groups (as in [`order_by`]).

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
    /// Injected time per unit of work as a fraction of the baseline time
    /// per unit (the dose it received; equal for all under `--dose`).
    #[serde(default)]
    pub dose: Option<f64>,
    /// How its estimate was measured: `grouped` (least squares over the
    /// grouped design) or `alone` (paired windows, one at a time).
    #[serde(default)]
    pub measured: Option<String>,
    /// Whether its grouped and alone estimates disagree (intervals apart):
    /// its effect depends on what else is slowed.
    #[serde(default)]
    pub interaction: bool,
    /// Own (inclusive) time per unit of work, ns, when measured.
    #[serde(default)]
    pub own_ns_per_unit: Option<f64>,
    /// Criticality × own time per unit, ns per unit: the time per unit a
    /// user gains by removing it, first order (when own time is known).
    #[serde(default)]
    pub gain_ns_per_unit: Option<f64>,
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
    let mut leader = 0;
    for (i, (c, k)) in order.iter().enumerate() {
        let tied_with_leader = i > 0
            && match (order[leader].1, k) {
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
        if !tied_with_leader {
            group += 1;
            leader = i;
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
                dose: None,
                measured: None,
                interaction: false,
                own_ns_per_unit: None,
                gain_ns_per_unit: None,
            }
        })
        .collect()
}

/// The key a ranking orders by: gain (criticality × own time per unit)
/// when every measured candidate has own time, else criticality; with its
/// interval.
pub fn order_key(c: &RankedCandidate, by: OrderBy) -> Option<(f64, Option<Interval>)> {
    let by_gain = match by {
        OrderBy::Drop => {
            return (c.pairs_used > 0).then_some((c.drop, c.drop_interval));
        }
        OrderBy::Criticality => false,
        OrderBy::Gain => true,
    };
    let crit = c.criticality.filter(|v| v.is_finite())?;
    if by_gain {
        let own = c.own_ns_per_unit?;
        Some((
            crit * own,
            c.criticality_interval.map(|iv| iv.map(|v| v * own)),
        ))
    } else {
        Some((crit, c.criticality_interval))
    }
}

/// Orders candidates by what a user can gain (docs/ranking.md): by gain
/// when own time is known for all, else by criticality; best first,
/// unmeasured last. Neighbours whose intervals overlap share a tie group
/// (ties chain); `rank`, `tie_group`, `tied` and `gain_ns_per_unit` are
/// filled in.
pub fn order_by_gain(candidates: Vec<RankedCandidate>) -> Vec<RankedCandidate> {
    let by = gain_or_criticality(&candidates);
    order_by(candidates, by)
}

/// What an equal-dose ranking orders by: gain when own time is known for
/// every measured candidate, else criticality.
pub fn gain_or_criticality(candidates: &[RankedCandidate]) -> OrderBy {
    if candidates
        .iter()
        .filter(|c| c.criticality.is_some())
        .all(|c| c.own_ns_per_unit.is_some())
    {
        OrderBy::Gain
    } else {
        OrderBy::Criticality
    }
}

/// The sets of candidates that criticality alone cannot order (one tie
/// group when ordered by criticality: their intervals overlap) but that a
/// gain ordering puts in more than one tie group, by their own time per
/// unit. Each set lists its members in `ranked`'s order (best first); only
/// sets of two or more. Empty unless `ranked` is ordered by gain.
pub fn ordered_by_own_time(ranked: &[RankedCandidate]) -> Vec<Vec<&RankedCandidate>> {
    if gain_or_criticality(ranked) != OrderBy::Gain {
        return Vec::new();
    }
    let by_criticality = order_by(ranked.to_vec(), OrderBy::Criticality);
    let mut sets: Vec<Vec<&RankedCandidate>> = Vec::new();
    let mut groups: Vec<usize> = by_criticality
        .iter()
        .filter(|c| c.criticality.is_some())
        .map(|c| c.tie_group)
        .collect();
    groups.dedup();
    for group in groups {
        let members: Vec<&RankedCandidate> = ranked
            .iter()
            .filter(|c| {
                by_criticality
                    .iter()
                    .any(|b| b.tie_group == group && b.label == c.label && b.criticality.is_some())
            })
            .collect();
        let split = members.windows(2).any(|w| w[0].tie_group != w[1].tie_group);
        if members.len() > 1 && split {
            sets.push(members);
        }
    }
    sets
}

/// The rank to show for `c` among `ranked` (best first): the position of
/// its tie group's first member, so a group reads `1= 1= 1= 4`.
pub fn shown_rank(c: &RankedCandidate, ranked: &[RankedCandidate]) -> usize {
    ranked
        .iter()
        .find(|o| o.tie_group == c.tie_group)
        .map_or(c.rank, |o| o.rank)
}

/// What [`order_by`] sorts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderBy {
    /// Criticality × own time per unit.
    Gain,
    /// Criticality.
    Criticality,
    /// Throughput drop (docs/methodology.md's equal delay per call).
    Drop,
}

/// Orders candidates by `by`, best first, unmeasured last; neighbours whose
/// intervals overlap share a tie group.
pub fn order_by(mut candidates: Vec<RankedCandidate>, by: OrderBy) -> Vec<RankedCandidate> {
    for c in &mut candidates {
        c.gain_ns_per_unit = match (c.criticality, c.own_ns_per_unit) {
            (Some(k), Some(own)) => Some(k * own),
            _ => None,
        };
    }
    // Gain sorts by the lower end of its interval: own time multiplies the
    // criticality's uncertainty, so a large own time with a criticality
    // not told apart from 0 (a hidden stage) would otherwise outrank an
    // established gain of about the same size (docs/ranking.md, step 8).
    let sort_value = |key: (f64, Option<Interval>)| match (by, key.1) {
        (OrderBy::Gain, Some(iv)) => iv.low,
        _ => key.0,
    };
    candidates.sort_by(|a, b| match (order_key(a, by), order_key(b, by)) {
        (Some(x), Some(y)) => sort_value(y).total_cmp(&sort_value(x)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let keys: Vec<_> = candidates.iter().map(|c| order_key(c, by)).collect();
    let mut groups = Vec::with_capacity(candidates.len());
    let mut group = 0;
    // A group is its leader and the candidates after it whose intervals
    // overlap the leader's: ties do not chain, so two adjacent groups stay
    // two groups (a chain of pairwise overlaps would make one long tie).
    let mut leader = 0;
    for i in 0..keys.len() {
        let tied = i > 0
            && match (&keys[leader], &keys[i]) {
                (Some((_, Some(a))), Some((_, Some(b)))) => a.overlaps(b),
                (Some((_, None)), Some(_)) | (Some(_), Some((_, None))) => true,
                _ => false,
            };
        if !tied {
            group += 1;
            leader = i;
        }
        groups.push(group);
    }
    for (i, c) in candidates.iter_mut().enumerate() {
        c.rank = i + 1;
        c.tie_group = groups[i];
        c.tied = groups.iter().filter(|&&g| g == groups[i]).count() > 1;
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(label: &str, crit: f64, half: f64, own: Option<f64>) -> RankedCandidate {
        RankedCandidate {
            rank: 0,
            label: label.to_owned(),
            patterns: vec![],
            drop: 0.0,
            drop_interval: None,
            criticality: Some(crit),
            criticality_interval: Some(Interval::new(crit - half, crit + half)),
            calls_per_unit: 1.0,
            delay_ns: 1000,
            pairs_used: 6,
            tie_group: 0,
            tied: false,
            dose: Some(0.05),
            measured: None,
            interaction: false,
            own_ns_per_unit: own,
            gain_ns_per_unit: None,
        }
    }

    #[test]
    fn ordered_by_gain_when_own_time_is_known_and_ties_said() {
        // Three exactly critical stages: own time decides.
        let ranked = order_by_gain(vec![
            candidate("a", 1.0, 0.1, Some(100.0)),
            candidate("b", 0.95, 0.1, Some(300.0)),
            candidate("c", 0.0, 0.05, Some(900.0)),
            candidate("d", 1.02, 0.1, Some(200.0)),
        ]);
        let labels: Vec<&str> = ranked.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["b", "d", "a", "c"]);
        assert!((ranked[0].gain_ns_per_unit.unwrap() - 285.0).abs() < 1e-9);
        assert!(ranked.iter().all(|c| c.tie_group == c.rank));
        // Without own time: criticality; overlapping intervals tie.
        let ranked = order_by_gain(vec![
            candidate("hidden", 0.05, 0.1, None),
            candidate("critical", 0.9, 0.2, None),
            candidate("other", 0.1, 0.1, None),
        ]);
        assert_eq!(ranked[0].label, "critical");
        assert!(!ranked[0].tied);
        assert!(ranked[1].tied && ranked[2].tied);
        // A hidden stage with a large own time and a criticality not told
        // apart from 0: its point gain (0.29 × 500 = 143) is above the
        // critical stage's (0.91 × 150 = 137), its gain's lower bound is
        // not: the established gain comes first, and the two are said tied.
        let ranked = order_by_gain(vec![
            candidate("hidden", 0.29, 0.39, Some(500.0)),
            candidate("critical", 0.91, 0.15, Some(150.0)),
        ]);
        assert_eq!(ranked[0].label, "critical");
        assert!(ranked[0].gain_ns_per_unit.unwrap() < ranked[1].gain_ns_per_unit.unwrap());
        assert!(ranked[0].tied && ranked[1].tied);
    }

    #[test]
    fn equally_critical_stages_are_ordered_by_own_time_and_said() {
        // The demo's three critical stages, listed by calls per unit (the
        // profiler's order: 6, 3, 1): own time per unit puts the one-call
        // stage first; criticality alone ties all three.
        let ranked = order_by_gain(vec![
            candidate("busy", 1.01, 0.08, Some(120.0)),
            candidate("middle", 0.97, 0.08, Some(180.0)),
            candidate("quiet", 1.0, 0.08, Some(300.0)),
            candidate("hidden", 0.02, 0.05, Some(900.0)),
        ]);
        let labels: Vec<&str> = ranked.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["quiet", "middle", "busy", "hidden"]);
        assert!(ranked.iter().all(|c| !c.tied));
        let sets = ordered_by_own_time(&ranked);
        assert_eq!(sets.len(), 1);
        let set: Vec<&str> = sets[0].iter().map(|c| c.label.as_str()).collect();
        assert_eq!(set, ["quiet", "middle", "busy"]);
        // Own time that cannot separate them either: said as a tie, not as
        // an order by own time.
        let ranked = order_by_gain(vec![
            candidate("a", 1.0, 0.3, Some(100.0)),
            candidate("b", 1.0, 0.3, Some(110.0)),
        ]);
        assert!(ranked[0].tied && ranked[1].tied);
        assert!(ordered_by_own_time(&ranked).is_empty());
        // Without own time: nothing to say.
        let ranked = order_by_gain(vec![
            candidate("a", 1.0, 0.1, None),
            candidate("b", 1.0, 0.1, None),
        ]);
        assert!(ordered_by_own_time(&ranked).is_empty());
    }

    #[test]
    fn adjacent_tie_groups_stay_two_groups() {
        // Eight candidates in two clusters whose neighbours overlap across
        // the gap (each ±0.12): pairwise overlaps chain from the first to the
        // last, yet the first cluster's leader does not overlap the second.
        let crits = [1.0, 0.98, 0.96, 0.94, 0.74, 0.72, 0.70, 0.68];
        let ranked = order_by(
            crits
                .iter()
                .enumerate()
                .map(|(i, &k)| candidate(&format!("c{i}"), k, 0.12, None))
                .collect(),
            OrderBy::Criticality,
        );
        let groups: Vec<usize> = ranked.iter().map(|c| c.tie_group).collect();
        assert_eq!(groups, [1, 1, 1, 1, 2, 2, 2, 2]);
        let shown: Vec<usize> = ranked.iter().map(|c| shown_rank(c, &ranked)).collect();
        assert_eq!(shown, [1, 1, 1, 1, 5, 5, 5, 5]);
        assert!(ranked.iter().all(|c| c.tied));
    }

    #[test]
    fn welch_by_hand() {
        // Means 1.0 and 0.9, se 0.02 each, 10 pairs: t = 3.54, df = 18,
        // t(0.95, 18) = 2.101: distinct; at se 0.05: t = 1.41, tied.
        assert!(welch_distinct(1.0, 0.02, 10, 0.9, 0.02, 10, 0.95));
        assert!(!welch_distinct(1.0, 0.05, 10, 0.9, 0.05, 10, 0.95));
        assert!(!welch_distinct(1.0, 0.0, 1, 0.0, 0.0, 10, 0.95));
    }
}
