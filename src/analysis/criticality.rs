//! Criticality: the share of injected delay that lands on the critical path.
//!
//! For one pair, with time per unit `t0 = 1/rate_baseline`, `t1 =
//! 1/rate_treatment` and injected delay per unit `i = injected_ns /
//! units` (treatment window, seconds):
//!
//! ```text
//! criticality = (t1 - t0) / i
//! ```
//!
//! 1 means every injected nanosecond lengthened the critical path (the
//! matched code is on it, serially); 0 means none did (it runs in the
//! shadow of something slower). Dividing by injected time per unit makes
//! candidates with very different call counts comparable, which a raw
//! throughput drop does not (ARCHITECTURE.md). It is computed per pair and then
//! averaged with a Student t interval over pairs, so the interval carries
//! the pair-to-pair noise of both numerator and denominator. Values a little
//! outside `[0, 1]` are noise and kept as measured; only displays clamp.

use serde::{Deserialize, Serialize};

use super::stats::{Interval, mean_with_t_interval};
use super::window::Pair;

/// Criticality above which a measurement cannot be true: slowing a
/// function by `d` per call cannot cost much more than `d` per call (1 is
/// all of it), so a value far above 1 means the progress signal or the
/// windows misled the measurement.
pub const IMPLAUSIBLE_CRITICALITY: f64 = 2.0;

/// Whether a candidate's measured cost cannot be true (see
/// [`IMPLAUSIBLE_CRITICALITY`]).
pub fn implausible(c: &super::RankedCandidate) -> bool {
    c.criticality.is_some_and(|k| k > IMPLAUSIBLE_CRITICALITY)
}

/// Criticality of a setting, estimated from its pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Criticality {
    /// Mean over pairs of `(t1 - t0) / i` (dimensionless).
    pub criticality: f64,
    /// Standard error of the mean over pairs; `None` with a single pair.
    pub std_error: Option<f64>,
    /// Student t interval over pairs; `None` with a single pair.
    pub interval: Option<Interval>,
    /// Pairs used (usable and with injected time).
    pub pairs_used: usize,
    /// Mean over pairs of `t1 - t0`: extra wall time per unit, seconds.
    pub extra_time_per_unit_s: f64,
    /// Mean over pairs of injected delay per unit, seconds.
    pub injected_per_unit_s: f64,
}

impl Criticality {
    /// The value clamped to `[0, 1]`, for display only.
    pub fn display_value(&self) -> f64 {
        self.criticality.clamp(0.0, 1.0)
    }
}

/// One pair's criticality, or `None` when a window is unusable or nothing
/// was injected (the patterns matched no call in the treatment window).
pub fn pair_criticality(pair: &Pair) -> Option<f64> {
    if !pair.is_usable() {
        return None;
    }
    let injected = pair.injected_per_unit_s();
    if injected <= 0.0 {
        return None;
    }
    let extra = pair.treatment.time_per_unit_s() - pair.baseline.time_per_unit_s();
    Some(extra / injected)
}

/// Criticality over `pairs` with a Student t interval at `confidence`.
/// `None` when no pair has usable windows and injected time.
pub fn criticality(pairs: &[Pair], confidence: f64) -> Option<Criticality> {
    let used: Vec<(&Pair, f64)> = pairs
        .iter()
        .filter_map(|p| pair_criticality(p).map(|c| (p, c)))
        .collect();
    let values: Vec<f64> = used.iter().map(|(_, c)| *c).collect();
    let estimate = mean_with_t_interval(&values, confidence)?;
    let n = used.len() as f64;
    let extra = used
        .iter()
        .map(|(p, _)| p.treatment.time_per_unit_s() - p.baseline.time_per_unit_s())
        .sum::<f64>()
        / n;
    let injected = used
        .iter()
        .map(|(p, _)| p.injected_per_unit_s())
        .sum::<f64>()
        / n;
    Some(Criticality {
        criticality: estimate.mean,
        std_error: estimate.std_error,
        interval: estimate.interval,
        pairs_used: used.len(),
        extra_time_per_unit_s: extra,
        injected_per_unit_s: injected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::window::Window;

    fn pair(t0: f64, t1: f64, injected_per_unit_s: f64) -> Pair {
        let units = 100;
        let w = |t: f64, inj: f64| Window {
            units,
            wall_s: t * units as f64,
            injected_ns: (inj * 1e9 * units as f64).round() as u64,
            delayed_calls: units,
            calls: units,
            whole_run: false,
            latency: None,
        };
        Pair {
            baseline: w(t0, 0.0),
            treatment: w(t1, injected_per_unit_s),
            baseline_first: true,
        }
    }

    #[test]
    fn full_half_and_none() {
        let full =
            criticality(&[pair(1e-3, 1.1e-3, 1e-4), pair(1e-3, 1.1e-3, 1e-4)], 0.95).unwrap();
        assert!((full.criticality - 1.0).abs() < 1e-9);
        let half = criticality(&[pair(1e-3, 1.05e-3, 1e-4)], 0.95).unwrap();
        assert!((half.criticality - 0.5).abs() < 1e-9 && half.interval.is_none());
        let none =
            criticality(&[pair(1e-3, 1e-3, 1e-4), pair(1e-3, 1.0001e-3, 1e-4)], 0.95).unwrap();
        assert!(none.criticality.abs() < 0.01);
        assert!(none.interval.unwrap().contains(0.0));
    }

    #[test]
    fn noise_outside_unit_range_is_kept() {
        let c = criticality(&[pair(1e-3, 1.12e-3, 1e-4)], 0.95).unwrap();
        assert!((c.criticality - 1.2).abs() < 1e-9);
        assert_eq!(c.display_value(), 1.0);
    }

    #[test]
    fn no_injection_means_no_estimate() {
        assert!(criticality(&[pair(1e-3, 1e-3, 0.0)], 0.95).is_none());
    }
}
