//! When to stop measuring a setting: the interval is tight enough, or the
//! budget is spent.
//!
//! Sequential rule: after each pair, stop once the relative half-width of
//! the interval is at most the target (default ±2%) with at least 3 pairs
//! (with 2 pairs the t interval rests on one degree of freedom and a lucky
//! agreement of two pairs would stop too early). Looking at the interval
//! after every pair makes its nominal coverage slightly optimistic; the
//! minimum of 3 pairs and the heavy t tails at low degrees of freedom keep
//! that small, and the report always shows the pairs used.

use serde::{Deserialize, Serialize};

use super::stats::RelativeThroughput;

/// The stopping rule for one setting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StopRule {
    /// Target relative half-width of the interval (0.02 = ±2%).
    pub target_half_width: f64,
    /// Fewest usable pairs before stopping on precision.
    pub min_pairs: usize,
}

impl Default for StopRule {
    fn default() -> StopRule {
        StopRule {
            target_half_width: 0.02,
            min_pairs: 3,
        }
    }
}

/// What to do with a setting after its latest pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Measure another pair.
    Continue {
        /// Usable pairs so far.
        pairs_used: usize,
        /// Current relative half-width (`None` before two usable pairs).
        half_width: Option<f64>,
    },
    /// The interval is tight enough: stop.
    Precise {
        /// Usable pairs it took.
        pairs_used: usize,
        /// Relative half-width reached.
        half_width: f64,
    },
    /// The budget ended with the interval still wider than the target.
    TooNoisy {
        /// Usable pairs measured.
        pairs_used: usize,
        /// Relative half-width reached (`None` with fewer than two pairs).
        half_width: Option<f64>,
        /// Estimated usable pairs in total that would reach the target
        /// (`n · (half_width / target)²`: intervals narrow like `1/√n`).
        pairs_needed: Option<usize>,
        /// One plain sentence for the user: what happened and what to do.
        advice: String,
    },
    /// The setting's patterns matched no call while it was measured:
    /// nothing was slowed, so its figures say nothing (never "too noisy").
    NoCalls {
        /// Usable pairs measured all the same.
        pairs_used: usize,
    },
}

/// What to do about a setting whose patterns matched no call.
pub const NO_CALLS_ADVICE: &str = "matched no call while it was measured: nothing was slowed, so \
    its figures say nothing; check the pattern against the functions that run at steady state \
    (step 0, or `speedbump census`)";

impl Verdict {
    /// Whether measuring should stop (precise, or the budget is spent).
    pub fn is_final(&self) -> bool {
        !matches!(self, Verdict::Continue { .. })
    }

    /// The advice for a setting that did not conclude (too noisy, or
    /// matched no call); `None` for the others.
    pub fn advice(&self) -> Option<&str> {
        match self {
            Verdict::TooNoisy { advice, .. } => Some(advice),
            Verdict::NoCalls { .. } => Some(NO_CALLS_ADVICE),
            Verdict::Continue { .. } | Verdict::Precise { .. } => None,
        }
    }
}

impl StopRule {
    /// Judges a setting's estimate (`None` when no usable pair exists yet)
    /// given whether the time budget is spent.
    pub fn judge(&self, estimate: Option<&RelativeThroughput>, budget_spent: bool) -> Verdict {
        let pairs_used = estimate.map_or(0, |e| e.pairs_used);
        let half_width = estimate.and_then(RelativeThroughput::relative_half_width);
        if let Some(hw) = half_width.filter(|&hw| hw <= self.target_half_width) {
            if pairs_used >= self.min_pairs {
                return Verdict::Precise {
                    pairs_used,
                    half_width: hw,
                };
            }
        }
        if !budget_spent {
            return Verdict::Continue {
                pairs_used,
                half_width,
            };
        }
        let pairs_needed = half_width.map(|hw| {
            let n = pairs_used as f64 * (hw / self.target_half_width).powi(2);
            (n.ceil() as usize).max(self.min_pairs)
        });
        let advice = self.advice(estimate, half_width, pairs_needed);
        Verdict::TooNoisy {
            pairs_used,
            half_width,
            pairs_needed,
            advice,
        }
    }

    fn advice(
        &self,
        estimate: Option<&RelativeThroughput>,
        half_width: Option<f64>,
        pairs_needed: Option<usize>,
    ) -> String {
        let target = self.target_half_width * 100.0;
        let Some(e) = estimate else {
            return "too noisy to conclude: no window saw 5 units of progress; \
                    use longer windows or a larger budget, and check that the \
                    progress point is reached"
                .to_owned();
        };
        let Some(hw) = half_width else {
            return format!(
                "too noisy to conclude: only {} usable pair (target ±{target:.1}% needs at \
                 least {}); give it a larger budget or shorter warm-up",
                e.pairs_used, self.min_pairs
            );
        };
        let more = pairs_needed.map_or(0, |n| n.saturating_sub(e.pairs_used));
        let discarded = if e.pairs_discarded > 0 {
            format!(
                " ({} pairs discarded for windows under 5 units)",
                e.pairs_discarded
            )
        } else {
            String::new()
        };
        format!(
            "too noisy to conclude: relative throughput {:.3} ±{:.1}% after {} pairs{discarded}, \
             target ±{target:.1}%; about {more} more pairs would reach it: raise the budget, \
             use longer windows, or quiet the machine",
            e.relative,
            hw * 100.0,
            e.pairs_used
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stats::{Interval, IntervalMethod};

    fn estimate(pairs: usize, half_log: f64) -> RelativeThroughput {
        let mean = (0.9f64).ln();
        let log_interval = Interval::new(mean - half_log, mean + half_log);
        RelativeThroughput {
            pairs_used: pairs,
            pairs_discarded: 0,
            confidence: 0.95,
            method: IntervalMethod::StudentT,
            mean_log_ratio: mean,
            std_error_log: Some(half_log / 3.0),
            log_interval: Some(log_interval),
            relative: 0.9,
            interval: Some(log_interval.map(f64::exp)),
        }
    }

    #[test]
    fn stops_when_tight_with_enough_pairs() {
        let rule = StopRule::default();
        assert!(matches!(
            rule.judge(Some(&estimate(3, 0.01)), false),
            Verdict::Precise { pairs_used: 3, .. }
        ));
        assert!(matches!(
            rule.judge(Some(&estimate(2, 0.01)), false),
            Verdict::Continue { .. }
        ));
        assert!(matches!(
            rule.judge(Some(&estimate(8, 0.05)), false),
            Verdict::Continue { .. }
        ));
    }

    #[test]
    fn budget_end_with_wide_interval_says_so() {
        let v = StopRule::default().judge(Some(&estimate(4, 0.04)), true);
        let Verdict::TooNoisy {
            pairs_needed,
            advice,
            ..
        } = v
        else {
            panic!("{v:?}")
        };
        // ±4.08% relative (upper side) → (4.08/2)² × 4 ≈ 17 pairs.
        assert_eq!(pairs_needed, Some(17));
        assert!(advice.starts_with("too noisy to conclude"), "{advice}");
        assert!(advice.contains("longer windows"), "{advice}");
        let none = StopRule::default().judge(None, true);
        assert!(none.is_final());
    }
}
