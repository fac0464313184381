//! Paired-window estimation of relative throughput.
//!
//! Each usable pair gives `r = ln(rate_treatment / rate_baseline)`. The
//! estimate is the mean of `r` over pairs with a Student t interval (pairs are
//! the independent replicates; the t distribution is exact for normal `r` and
//! honest with 2 to 5 pairs, where a normal interval would be far too narrow).
//! Relative throughput is `exp(mean)`, its interval `exp` of the interval's
//! ends. A percentile bootstrap over pairs is offered as an alternative for
//! skewed `r` (Efron & Tibshirani 1993, ch. 13); with few pairs it is too
//! narrow, so Student t is the default.

use serde::{Deserialize, Serialize};

use super::prng::SplitMix64;
use super::student::t_critical;
use super::window::Pair;

/// The confidence level used unless a caller asks for another.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;

/// A closed interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

impl Interval {
    /// An interval from its ends, in either order.
    pub fn new(a: f64, b: f64) -> Interval {
        Interval {
            low: a.min(b),
            high: a.max(b),
        }
    }

    /// Whether `value` lies inside (ends included).
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }

    /// Whether the two intervals share at least one point.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.low <= other.high && other.low <= self.high
    }

    /// Half the width.
    pub fn half_width(&self) -> f64 {
        (self.high - self.low) / 2.0
    }

    /// The interval mapped through a monotone function (ends re-ordered
    /// when it is decreasing).
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Interval {
        Interval::new(f(self.low), f(self.high))
    }
}

/// A mean with its Student t interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanEstimate {
    /// The sample mean.
    pub mean: f64,
    /// Number of values averaged.
    pub n: usize,
    /// Standard error of the mean (`s / √n`); `None` with one value.
    pub std_error: Option<f64>,
    /// `mean ± t(confidence, n-1) · std_error`; `None` with one value.
    pub interval: Option<Interval>,
}

/// The mean of `values` with a two-sided Student t interval at
/// `confidence` (e.g. 0.95). `None` when `values` is empty or holds a
/// non-finite value.
pub fn mean_with_t_interval(values: &[f64], confidence: f64) -> Option<MeanEstimate> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return Some(MeanEstimate {
            mean,
            n,
            std_error: None,
            interval: None,
        });
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let std_error = (variance / n as f64).sqrt();
    let half = t_critical(confidence, (n - 1) as f64) * std_error;
    Some(MeanEstimate {
        mean,
        n,
        std_error: Some(std_error),
        interval: Some(Interval::new(mean - half, mean + half)),
    })
}

/// How an interval was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalMethod {
    /// Student t over pairs (the default).
    StudentT,
    /// Percentile bootstrap over pairs.
    Bootstrap {
        /// Number of resamples.
        resamples: u32,
        /// Seed of the resampling generator.
        seed: u64,
    },
}

/// Relative throughput at one setting (treatment ÷ baseline), estimated from
/// pairs of windows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RelativeThroughput {
    /// Pairs that entered the estimate.
    pub pairs_used: usize,
    /// Pairs discarded because a window saw fewer than 5 units of progress.
    pub pairs_discarded: usize,
    /// Confidence level of the intervals (e.g. 0.95).
    pub confidence: f64,
    /// How the intervals were computed.
    pub method: IntervalMethod,
    /// Mean over pairs of `ln(rate_treatment / rate_baseline)`.
    pub mean_log_ratio: f64,
    /// Standard error of `mean_log_ratio`; `None` with a single pair.
    pub std_error_log: Option<f64>,
    /// Interval of `mean_log_ratio`; `None` with a single pair.
    pub log_interval: Option<Interval>,
    /// `exp(mean_log_ratio)`: 0.9 means throughput is 90% of the baseline.
    pub relative: f64,
    /// `exp` of `log_interval`.
    pub interval: Option<Interval>,
}

impl RelativeThroughput {
    /// The interval's half-width in relative terms: the larger of
    /// `high/relative - 1` and `1 - low/relative` (0.02 = ±2%). `None` with
    /// a single pair.
    pub fn relative_half_width(&self) -> Option<f64> {
        self.log_interval.map(|i| {
            let up = (i.high - self.mean_log_ratio).exp() - 1.0;
            let down = 1.0 - (i.low - self.mean_log_ratio).exp();
            up.max(down)
        })
    }

    /// `1 - relative`: the throughput drop as a fraction (0.1 = 10% slower).
    pub fn drop(&self) -> f64 {
        1.0 - self.relative
    }

    /// Whether throughput is significantly below the baseline (the whole
    /// interval lies below 1).
    pub fn significantly_below_one(&self) -> bool {
        self.interval.is_some_and(|i| i.high < 1.0)
    }

    /// Degrees of freedom behind the interval (`pairs_used - 1`).
    pub fn degrees_of_freedom(&self) -> usize {
        self.pairs_used.saturating_sub(1)
    }
}

fn usable_log_ratios(pairs: &[Pair]) -> (Vec<f64>, usize) {
    let ratios: Vec<f64> = pairs
        .iter()
        .filter(|p| p.is_usable())
        .map(Pair::log_ratio)
        .filter(|r| r.is_finite())
        .collect();
    let discarded = pairs.len() - ratios.len();
    (ratios, discarded)
}

/// Relative throughput from `pairs` with a Student t interval at
/// `confidence`. Pairs with a window of fewer than 5 units are discarded
/// (and counted). `None` when no pair is usable.
pub fn relative_throughput(pairs: &[Pair], confidence: f64) -> Option<RelativeThroughput> {
    let (ratios, discarded) = usable_log_ratios(pairs);
    let estimate = mean_with_t_interval(&ratios, confidence)?;
    Some(RelativeThroughput {
        pairs_used: ratios.len(),
        pairs_discarded: discarded,
        confidence,
        method: IntervalMethod::StudentT,
        mean_log_ratio: estimate.mean,
        std_error_log: estimate.std_error,
        log_interval: estimate.interval,
        relative: estimate.mean.exp(),
        interval: estimate.interval.map(|i| i.map(f64::exp)),
    })
}

/// Relative throughput from `pairs` with a percentile bootstrap interval:
/// `resamples` resamplings of the pairs with replacement (seeded), the
/// interval between the `(1-confidence)/2` and `(1+confidence)/2` quantiles
/// of the resampled means. `None` when no pair is usable.
pub fn relative_throughput_bootstrap(
    pairs: &[Pair],
    confidence: f64,
    resamples: u32,
    seed: u64,
) -> Option<RelativeThroughput> {
    let (ratios, discarded) = usable_log_ratios(pairs);
    let estimate = mean_with_t_interval(&ratios, confidence)?;
    let log_interval = if ratios.len() < 2 || resamples < 2 {
        None
    } else {
        let mut rng = SplitMix64::new(seed);
        let n = ratios.len();
        let mut means: Vec<f64> = (0..resamples)
            .map(|_| {
                (0..n)
                    .map(|_| ratios[rng.below(n as u64) as usize])
                    .sum::<f64>()
                    / n as f64
            })
            .collect();
        means.sort_by(f64::total_cmp);
        let alpha = (1.0 - confidence) / 2.0;
        let at =
            |q: f64| means[((q * (means.len() - 1) as f64).round() as usize).min(means.len() - 1)];
        Some(Interval::new(at(alpha), at(1.0 - alpha)))
    };
    Some(RelativeThroughput {
        pairs_used: ratios.len(),
        pairs_discarded: discarded,
        confidence,
        method: IntervalMethod::Bootstrap { resamples, seed },
        mean_log_ratio: estimate.mean,
        std_error_log: estimate.std_error,
        log_interval,
        relative: estimate.mean.exp(),
        interval: log_interval.map(|i| i.map(f64::exp)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::window::Window;

    fn pair(base: u64, treat: u64) -> Pair {
        let w = |units| Window {
            units,
            wall_s: 1.0,
            injected_ns: 0,
            delayed_calls: 0,
            calls: 0,
            whole_run: false,
            latency: None,
        };
        Pair {
            baseline: w(base),
            treatment: w(treat),
            baseline_first: true,
        }
    }

    #[test]
    fn t_interval_by_hand() {
        // values 1, 2, 3: mean 2, s = 1, se = 1/√3, t(0.95, 2) = 4.3027.
        let e = mean_with_t_interval(&[1.0, 2.0, 3.0], 0.95).unwrap();
        let half = 4.302_653 / 3f64.sqrt();
        let i = e.interval.unwrap();
        assert!((e.mean - 2.0).abs() < 1e-12);
        assert!((i.high - (2.0 + half)).abs() < 1e-5 && (i.low - (2.0 - half)).abs() < 1e-5);
    }

    #[test]
    fn discards_thin_windows_and_reports_ratio() {
        let pairs = [pair(100, 90), pair(100, 90), pair(3, 2), pair(200, 180)];
        let e = relative_throughput(&pairs, 0.95).unwrap();
        assert_eq!((e.pairs_used, e.pairs_discarded), (3, 1));
        assert!((e.relative - 0.9).abs() < 1e-12);
        assert!(e.relative_half_width().unwrap() < 1e-9);
        assert!(relative_throughput(&[pair(2, 2)], 0.95).is_none());
    }

    #[test]
    fn single_pair_has_no_interval() {
        let e = relative_throughput(&[pair(100, 95)], 0.95).unwrap();
        assert!(e.interval.is_none() && e.relative_half_width().is_none());
        assert!(!e.significantly_below_one());
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_mean() {
        let pairs: Vec<Pair> = (0..12).map(|i| pair(1000, 900 + 7 * (i % 5))).collect();
        let a = relative_throughput_bootstrap(&pairs, 0.95, 2000, 9).unwrap();
        let b = relative_throughput_bootstrap(&pairs, 0.95, 2000, 9).unwrap();
        assert_eq!(a, b);
        assert!(a.interval.unwrap().contains(a.relative));
        assert!(a.significantly_below_one());
    }
}
