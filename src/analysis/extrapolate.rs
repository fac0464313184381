//! Step 2 of docs/methodology.md: what would faster Python buy, and step 1's
//! verdict, "is Python the bottleneck at all?".
//!
//! First-order extrapolation (the slope of time per unit against injected
//! time per unit is the criticality `c`, fitted by weighted least squares;
//! see [`crate::analysis::fit`]): with `t0` the baseline time per unit and `k`
//! matched calls per unit, making the matched code `x` ns per call faster
//! predicts
//!
//! ```text
//! t(x) = t0 - c · k · x        gain = t0 / t(x) - 1
//! ```
//!
//! with the interval of `gain` from the interval of `c` (the map is
//! monotone). The slope used is the local one at delay 0: for a threshold
//! shape that is the flat segment (slack absorbs a speed-up exactly as it
//! absorbed a slowdown). Negative slopes are clamped to 0: a slowdown that
//! sped the program up is noise, and a speed-up cannot cost throughput to
//! first order. Coz makes the same "virtual speedup" argument in reverse
//! (Curtsinger & Berger 2015, §2); like Coz's, the estimate cannot see
//! another path becoming critical once this one is faster.

use serde::{Deserialize, Serialize};

use super::fit::SweepPoint;
use super::shape::{Shape, ShapeAnalysis};
use super::stats::Interval;

/// The caveat every prediction carries.
pub const FIRST_ORDER_CAVEAT: &str = "first-order estimate: it assumes each nanosecond removed \
from the matched code shortens the critical path as much as an added nanosecond lengthened it; \
a slowdown cannot see where another path becomes critical once this one is faster, so the real \
gain can be smaller; valid only while x is small compared with the matched code's own time per call";

/// Predicted saving above which a prediction is flagged as beyond first
/// order: half the baseline time per unit.
pub const FIRST_ORDER_LIMIT: f64 = 0.5;

/// The predicted effect of making the matched code faster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GainPrediction {
    /// Speed-up per matched call, nanoseconds.
    pub faster_ns_per_call: f64,
    /// Matched calls per unit of progress.
    pub calls_per_unit: f64,
    /// Criticality used (local slope at delay 0, clamped at 0).
    pub criticality: f64,
    /// Its interval, when known.
    pub criticality_interval: Option<Interval>,
    /// Baseline throughput, units per second.
    pub baseline_throughput_per_s: f64,
    /// Predicted throughput, units per second.
    pub predicted_throughput_per_s: f64,
    /// Predicted gain as a fraction (0.05 = 5% more throughput).
    pub gain: f64,
    /// Interval of the gain (from the criticality's interval); `None` when
    /// the criticality has none or its upper end saves the whole unit.
    pub gain_interval: Option<Interval>,
    /// Whether the predicted saving stays under [`FIRST_ORDER_LIMIT`] of
    /// the time per unit (at the criticality's upper end).
    pub within_first_order: bool,
    /// [`FIRST_ORDER_CAVEAT`], plus a note when outside first order.
    pub caveat: String,
}

fn gain_at(c: f64, t0: f64, saving_per_c: f64) -> Option<f64> {
    let t = t0 - c.max(0.0) * saving_per_c;
    (t > 0.0).then(|| t0 / t - 1.0)
}

/// Predicts the gain of making the matched code `faster_ns_per_call` ns
/// faster, from a criticality (dimensionless) with its interval, the
/// baseline time per unit (seconds) and matched calls per unit. `None` when
/// the predicted time per unit is not positive (the speed-up would remove
/// more than the whole unit: far outside the model).
pub fn predict_gain_from(
    criticality: f64,
    criticality_interval: Option<Interval>,
    baseline_time_per_unit_s: f64,
    calls_per_unit: f64,
    faster_ns_per_call: f64,
) -> Option<GainPrediction> {
    let t0 = baseline_time_per_unit_s;
    if t0 <= 0.0 || !t0.is_finite() {
        return None;
    }
    let c = criticality.max(0.0);
    let saving_per_c = calls_per_unit * faster_ns_per_call * 1e-9;
    let gain = gain_at(c, t0, saving_per_c)?;
    let gain_interval = criticality_interval.and_then(|i| {
        Some(Interval::new(
            gain_at(i.low, t0, saving_per_c)?,
            gain_at(i.high, t0, saving_per_c)?,
        ))
    });
    let c_high = criticality_interval.map_or(c, |i| i.high.max(c));
    let within_first_order = c_high * saving_per_c <= FIRST_ORDER_LIMIT * t0;
    let caveat = if within_first_order {
        FIRST_ORDER_CAVEAT.to_owned()
    } else {
        format!(
            "{FIRST_ORDER_CAVEAT}; this speed-up would remove over {:.0}% of each unit's time, \
             well beyond what a first-order estimate supports",
            FIRST_ORDER_LIMIT * 100.0
        )
    };
    Some(GainPrediction {
        faster_ns_per_call,
        calls_per_unit,
        criticality: c,
        criticality_interval: criticality_interval.map(|i| i.map(|v| v.max(0.0))),
        baseline_throughput_per_s: 1.0 / t0,
        predicted_throughput_per_s: (1.0 + gain) / t0,
        gain,
        gain_interval,
        within_first_order,
        caveat,
    })
}

/// Mean baseline time per unit (seconds) and matched calls per unit over a
/// sweep's points, weighted by their pairs.
pub fn sweep_baseline(points: &[SweepPoint]) -> Option<(f64, f64)> {
    let weight: f64 = points.iter().map(|p| p.relative.pairs_used as f64).sum();
    if weight <= 0.0 {
        return None;
    }
    let avg = |f: fn(&SweepPoint) -> f64| {
        points
            .iter()
            .map(|p| f(p) * p.relative.pairs_used as f64)
            .sum::<f64>()
            / weight
    };
    Some((
        avg(|p| p.baseline_time_per_unit_s),
        avg(|p| p.calls_per_unit),
    ))
}

/// Predicts the gain of making the matched code `faster_ns_per_call` ns per
/// call faster from a classified sweep: the local slope at delay 0
/// ([`ShapeAnalysis::slope_at_zero`]; exactly 0 for a threshold, whose flat
/// segment's fit then only widens the interval upward) and the sweep's
/// baseline (seconds per unit, calls per unit).
pub fn predict_gain(
    analysis: &ShapeAnalysis,
    points: &[SweepPoint],
    faster_ns_per_call: f64,
) -> Option<GainPrediction> {
    let (t0, calls) = sweep_baseline(points)?;
    let (c, interval) = match (analysis.shape, analysis.slope_at_zero) {
        // The flat segment is flat by classification: its fit only bounds
        // how much could hide in the noise.
        (Shape::Threshold { .. }, fit) => (
            0.0,
            Some(fit.map_or(Interval::new(0.0, 0.0), |f| {
                Interval::new(0.0, f.interval.high.max(0.0))
            })),
        ),
        (_, Some(fit)) => (fit.slope, Some(fit.interval)),
        (Shape::None, None) => (0.0, None),
        (_, None) => return None,
    };
    predict_gain_from(c, interval, t0, calls, faster_ns_per_call)
}

/// Step 1's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bottleneck {
    /// Slowing Python slows the program: proceed to step 2.
    Yes,
    /// Throughput did not move, and the data rules out a criticality of
    /// `NOT_CRITICAL` or more: look at kernels, memory bandwidth, I/O.
    No,
    /// Throughput holds up to a knee, then drops: not the bottleneck at
    /// today's speed, but the headroom is finite.
    NotYet,
    /// The intervals are too wide to tell.
    Inconclusive,
}

/// Upper bound of the criticality below which Python is "not the
/// bottleneck": less than a tenth of injected time reaches the critical
/// path.
pub const NOT_CRITICAL: f64 = 0.1;

/// Step 1's verdict with the sentence to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PythonVerdict {
    /// The answer.
    pub bottleneck: Bottleneck,
    /// For `NotYet`: delay per call Python can absorb before throughput
    /// drops, nanoseconds.
    pub headroom_ns: Option<f64>,
    /// What to tell the user.
    pub message: String,
}

/// Step 1's verdict from a sweep with every Python function matched
/// (`*:*`) and its shape.
pub fn python_verdict(analysis: &ShapeAnalysis) -> PythonVerdict {
    let verdict = |bottleneck, headroom_ns, message: String| PythonVerdict {
        bottleneck,
        headroom_ns,
        message,
    };
    match analysis.shape {
        Shape::Linear | Shape::SubLinear => {
            let c = analysis.fit.map_or(String::new(), |f| {
                format!(
                    " (criticality {:.2} [{:.2}, {:.2}])",
                    f.slope, f.interval.low, f.interval.high
                )
            });
            verdict(
                Bottleneck::Yes,
                None,
                format!(
                    "Python is your bottleneck: slowing it slows the program{c}; go on to step 2"
                ),
            )
        }
        Shape::Threshold { knee_ns } => verdict(
            Bottleneck::NotYet,
            Some(knee_ns),
            format!(
                "Python is not your bottleneck at its current speed: throughput holds until \
                 ≈{:.1} µs of extra time per call, then drops; that is its headroom",
                knee_ns / 1000.0
            ),
        ),
        Shape::None => match analysis.fit {
            Some(fit) if fit.interval.high < NOT_CRITICAL => verdict(
                Bottleneck::No,
                None,
                format!(
                    "Python is not your bottleneck: throughput did not move (criticality below \
                     {:.2}); focus on GPU kernels, memory bandwidth or I/O",
                    fit.interval.high.max(0.0)
                ),
            ),
            _ => verdict(
                Bottleneck::Inconclusive,
                None,
                "too noisy to conclude whether Python matters: no significant drop, but the \
                 intervals do not rule one out; use larger delays, longer windows or more pairs"
                    .to_owned(),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example() {
        // 1 ms per unit, 10 calls per unit, fully critical, 10 µs faster per
        // call: 0.9 ms per unit, +11.1%.
        let p =
            predict_gain_from(1.0, Some(Interval::new(0.9, 1.1)), 1e-3, 10.0, 10_000.0).unwrap();
        assert!((p.gain - 1.0 / 9.0).abs() < 1e-9);
        let i = p.gain_interval.unwrap();
        assert!(
            (i.low - (1.0 / 0.91 - 1.0)).abs() < 1e-9 && (i.high - (1.0 / 0.89 - 1.0)).abs() < 1e-9
        );
        assert!(p.within_first_order);
        assert!((p.predicted_throughput_per_s - 1000.0 / 0.9).abs() < 1e-6);
    }

    #[test]
    fn off_path_gains_nothing_and_big_speedups_are_flagged() {
        let p = predict_gain_from(-0.05, None, 1e-3, 10.0, 10_000.0).unwrap();
        assert_eq!(p.gain, 0.0);
        let far = predict_gain_from(1.0, None, 1e-3, 10.0, 80_000.0).unwrap();
        assert!(!far.within_first_order && far.caveat.contains("beyond"));
        assert!(predict_gain_from(1.0, None, 1e-3, 10.0, 100_000.0).is_none());
    }
}
