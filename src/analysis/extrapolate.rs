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
//! monotone). No speed-up can remove more than the code's own time: when
//! the matched code's own time per call is known ([`OwnTime`], measured by
//! the hook in a short window at delay 0 before the sweep's windows), `x` is
//! capped at it and the prediction says so ([`GainPrediction::capped`]);
//! when it is not known the prediction is not capped, and the front ends
//! say so. The slope used is the local one at delay 0: for a threshold
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

/// The matched code's own time (docs/ranking.md, "Own time per unit"):
/// the time threads spend inside it, nested entries counted once, measured
/// by the hook in a short census window at delay 0 before a sweep's
/// windows. What a speed-up can remove at most.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OwnTime {
    /// Own time per matched call, ns.
    pub ns_per_call: f64,
    /// Own time per unit of progress, ns.
    pub ns_per_unit: f64,
    /// Matched calls per unit in that window.
    pub calls_per_unit: f64,
    /// Seconds measured.
    pub window_s: f64,
}

impl OwnTime {
    /// Own time from a census window's totals under the sweep's patterns:
    /// `units` of progress, matched `calls` and their `own_ns`, over
    /// `window_s` seconds. `Err` says why there is none, in words for the
    /// user.
    pub fn from_totals(
        units: u64,
        calls: u64,
        own_ns: u64,
        window_s: f64,
    ) -> Result<OwnTime, String> {
        if units == 0 {
            return Err("no unit of progress while it was measured".to_owned());
        }
        if calls == 0 {
            return Err("the patterns matched no call while it was measured".to_owned());
        }
        if own_ns == 0 {
            return Err("the hook reported none".to_owned());
        }
        Ok(OwnTime {
            ns_per_call: own_ns as f64 / calls as f64,
            ns_per_unit: own_ns as f64 / units as f64,
            calls_per_unit: calls as f64 / units as f64,
            window_s,
        })
    }
}

/// The predicted effect of making the matched code faster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GainPrediction {
    /// Speed-up per matched call asked for, nanoseconds (the figures use
    /// at most `own_ns_per_call` of it: see `capped`).
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
    /// The matched code's own time per call, ns, when it was measured
    /// ([`OwnTime`]); `None`: not measured, and the prediction is not
    /// capped.
    #[serde(default)]
    pub own_ns_per_call: Option<f64>,
    /// Whether `faster_ns_per_call` is more than the code's own time per
    /// call: the figures are then those of removing all of it, the most
    /// any speed-up of this code can gain.
    #[serde(default)]
    pub capped: bool,
}

fn gain_at(c: f64, t0: f64, saving_per_c: f64) -> Option<f64> {
    let t = t0 - c.max(0.0) * saving_per_c;
    (t > 0.0).then(|| t0 / t - 1.0)
}

/// Predicts the gain of making the matched code `faster_ns_per_call` ns
/// faster, from a criticality (dimensionless) with its interval, the
/// baseline time per unit (seconds), matched calls per unit and the code's
/// own time per call (ns; the speed-up is capped at it, `None`: not
/// measured, not capped). `None` when the predicted time per unit is not
/// positive (the speed-up would remove more than the whole unit: far
/// outside the model).
pub fn predict_gain_from(
    criticality: f64,
    criticality_interval: Option<Interval>,
    baseline_time_per_unit_s: f64,
    calls_per_unit: f64,
    own_ns_per_call: Option<f64>,
    faster_ns_per_call: f64,
) -> Option<GainPrediction> {
    let t0 = baseline_time_per_unit_s;
    if t0 <= 0.0 || !t0.is_finite() {
        return None;
    }
    let c = criticality.max(0.0);
    let own_ns_per_call = own_ns_per_call.filter(|o| o.is_finite() && *o > 0.0);
    let capped = own_ns_per_call.is_some_and(|own| faster_ns_per_call > own);
    let removed_ns_per_call = match own_ns_per_call {
        Some(own) if capped => own,
        _ => faster_ns_per_call,
    };
    let saving_per_c = calls_per_unit * removed_ns_per_call * 1e-9;
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
        own_ns_per_call,
        capped,
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
/// segment's fit then only widens the interval upward), the sweep's
/// baseline (seconds per unit, calls per unit) and the code's own time per
/// call, which caps the speed-up (`None`: not measured, not capped).
pub fn predict_gain(
    analysis: &ShapeAnalysis,
    points: &[SweepPoint],
    own_ns_per_call: Option<f64>,
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
    predict_gain_from(c, interval, t0, calls, own_ns_per_call, faster_ns_per_call)
}

/// Step 2's predictions for each speed-up per call (ns) above 0, in
/// order, capped at the code's own time when it was measured
/// ([`predict_gain`]).
pub fn predictions(
    analysis: &ShapeAnalysis,
    points: &[SweepPoint],
    own_time: Option<&OwnTime>,
    speedups_ns: impl IntoIterator<Item = f64>,
) -> Vec<GainPrediction> {
    speedups_ns
        .into_iter()
        .filter(|&x| x > 0.0)
        .filter_map(|x| predict_gain(analysis, points, own_time.map(|o| o.ns_per_call), x))
        .collect()
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
        let p = predict_gain_from(
            1.0,
            Some(Interval::new(0.9, 1.1)),
            1e-3,
            10.0,
            None,
            10_000.0,
        )
        .unwrap();
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
        let p = predict_gain_from(-0.05, None, 1e-3, 10.0, None, 10_000.0).unwrap();
        assert_eq!(p.gain, 0.0);
        let far = predict_gain_from(1.0, None, 1e-3, 10.0, None, 80_000.0).unwrap();
        assert!(!far.within_first_order && far.caveat.contains("beyond"));
        assert!(predict_gain_from(1.0, None, 1e-3, 10.0, None, 100_000.0).is_none());
    }

    #[test]
    fn a_speedup_is_capped_at_the_codes_own_time() {
        // The issue's case: 1 ms per unit, 20 calls per unit of 2.5 µs each
        // (50 µs per unit in all), fully critical. 10 µs less per call
        // would remove 200 µs per unit (+25%); the code itself is only
        // 50 µs per unit, so at most +5.26%.
        let iv = Some(Interval::new(0.9, 1.1));
        let uncapped = predict_gain_from(1.0, iv, 1e-3, 20.0, None, 10_000.0).unwrap();
        assert!((uncapped.gain - 0.25).abs() < 1e-9);
        assert!(!uncapped.capped && uncapped.own_ns_per_call.is_none());
        let p = predict_gain_from(1.0, iv, 1e-3, 20.0, Some(2_500.0), 10_000.0).unwrap();
        assert!(p.capped);
        assert_eq!(p.faster_ns_per_call, 10_000.0);
        assert_eq!(p.own_ns_per_call, Some(2_500.0));
        assert!((p.gain - (1.0 / 0.95 - 1.0)).abs() < 1e-9, "{p:?}");
        let i = p.gain_interval.unwrap();
        assert!((i.high - (1.0 / (1.0 - 1.1 * 0.05) - 1.0)).abs() < 1e-9);
        assert!((p.predicted_throughput_per_s - 1000.0 / 0.95).abs() < 1e-6);
        // Within the own time: not capped, the same figure as without it.
        let small = predict_gain_from(1.0, iv, 1e-3, 20.0, Some(2_500.0), 1_000.0).unwrap();
        assert!(!small.capped);
        let plain = predict_gain_from(1.0, iv, 1e-3, 20.0, None, 1_000.0).unwrap();
        assert_eq!(small.gain, plain.gain);
        // A speed-up that would remove more than the whole unit without the
        // cap has a figure with it (all of the code removed).
        assert!(predict_gain_from(1.0, iv, 1e-3, 20.0, None, 60_000.0).is_none());
        assert!(
            predict_gain_from(1.0, iv, 1e-3, 20.0, Some(2_500.0), 60_000.0)
                .is_some_and(|p| p.capped && p.within_first_order)
        );
    }

    #[test]
    fn own_time_from_a_census_window() {
        let own = OwnTime::from_totals(100, 4_000, 10_000_000, 1.2).unwrap();
        assert_eq!(own.ns_per_call, 2_500.0);
        assert_eq!(own.ns_per_unit, 100_000.0);
        assert_eq!(own.calls_per_unit, 40.0);
        assert!(
            OwnTime::from_totals(0, 4_000, 10, 1.0)
                .unwrap_err()
                .contains("progress")
        );
        assert!(
            OwnTime::from_totals(100, 0, 0, 1.0)
                .unwrap_err()
                .contains("matched no call")
        );
        assert!(
            OwnTime::from_totals(100, 10, 0, 1.0)
                .unwrap_err()
                .contains("reported none")
        );
    }
}
