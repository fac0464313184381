//! The shape of throughput against delay (docs/methodology.md, "Interpreting
//! Results"): none, linear, sub-linear, or a threshold with its knee.
//!
//! Works on sweep points in relative terms (see [`crate::analysis::fit`]):
//! load `x` (injected per unit ÷ baseline time per unit) and slowdown `y`
//! (`1/relative - 1`). The full-criticality line is `y = x`.
//!
//! Decision rule, in order ([`ShapeTolerances`] holds the numbers):
//!
//! 1. A point **drops** when its whole interval of relative throughput lies
//!    below 1 and the drop is at least `min_drop` (1%; smaller drops are
//!    within what a busy machine does to a ratio even when significant).
//! 2. **None**: no point drops.
//! 3. **Threshold**: a flat start that is real, not just too small to see.
//!    Splitting the points (by load) into a start and a tail that holds a
//!    dropping point, the last point of the start sits clearly below the
//!    line through the origin fitted to the tail: the line's prediction there
//!    exceeds the point's interval by more than `flat_margin` (0.5% of a
//!    unit's time) *and* is more than twice the point's own slowdown. The
//!    latest such split wins. (A point just before the knee may drop a
//!    little by noise; it still belongs to the flat start. Under a truly
//!    proportional slowdown no point lies half-way below the line by more
//!    than its interval, whatever the split.) The knee lies between the last
//!    start point that does not drop (or 0) and the first tail point: where
//!    the straight line through the tail (weighted, with intercept: the
//!    second segment of a two-segment fit whose first segment is `y = 0`)
//!    crosses `y = 0`, clamped to that range; with a one-point tail, the
//!    geometric midpoint (delays are usually spaced by factors).
//! 4. Otherwise the slowdown is taken as proportional, `y = c·x`, fitted
//!    through the origin over all points. **None** again when the slope's
//!    interval includes 0 (an isolated drop that does not grow with injected
//!    time is noise or drift). **Linear** when the slope's upper bound reaches
//!    `full_slope` (0.9; criticality ≈ 1, every injected ns on the critical
//!    path; slopes above 1 are linear too), **SubLinear** when the whole
//!    interval of the slope is below it (some calls hidden behind other
//!    work). A poor fit (`χ²/dof > 4`) is mentioned in the reason.
//!
//! A knee below the smallest delay tried is still found when the points
//! clearly miss the origin (the first sits well below the line through the
//! others); when the offset is within the noise, the sweep reads as linear
//! or sub-linear: add a smaller delay.

use serde::{Deserialize, Serialize};

use super::fit::{SlopeFit, SweepPoint, fit_line, fit_through_origin};
use super::stats::Interval;

/// The classification.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    /// No delay lowered throughput: the matched code is off the critical
    /// path.
    None,
    /// Time per unit grows with injected time per unit at criticality ≈ 1.
    Linear,
    /// Time per unit grows, clearly slower than the injected time.
    SubLinear,
    /// Flat, then dropping.
    Threshold {
        /// Estimated delay per call at which throughput starts to drop,
        /// nanoseconds.
        knee_ns: f64,
    },
}

/// Tolerances of the decision rule (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ShapeTolerances {
    /// Smallest drop that counts, as a fraction (0.01 = 1%).
    pub min_drop: f64,
    /// Slope upper bound at or above which the shape is linear.
    pub full_slope: f64,
    /// How far (fraction of a unit's time) a flat point must sit below the
    /// proportional prediction for a flat start to be real.
    pub flat_margin: f64,
}

impl Default for ShapeTolerances {
    fn default() -> ShapeTolerances {
        ShapeTolerances {
            min_drop: 0.01,
            full_slope: 0.9,
            flat_margin: 0.005,
        }
    }
}

/// Where a threshold's knee lies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    /// Estimated delay per call at the knee, nanoseconds.
    pub knee_ns: f64,
    /// Delays between which the knee lies, nanoseconds: the last point of
    /// the flat start that does not drop (0 if none) and the first point
    /// after the start.
    pub range_ns: Interval,
    /// Slack: injected delay per unit the workload absorbs before
    /// throughput drops, seconds (knee load × baseline time per unit).
    pub slack_per_unit_s: f64,
}

/// The shape of a sweep with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeAnalysis {
    /// The classification.
    pub shape: Shape,
    /// Proportional fit `slowdown = c · load`: over every point, or over the
    /// dropping points for a threshold. `None` when no point has two pairs.
    pub fit: Option<SlopeFit>,
    /// The fit over the segment that contains delay 0 (every point; the
    /// flat points for a threshold): the local criticality that step 2's
    /// extrapolation uses.
    pub slope_at_zero: Option<SlopeFit>,
    /// The knee, for a threshold.
    pub knee: Option<Knee>,
    /// Points with load used by the rule.
    pub points: usize,
    /// One sentence saying why.
    pub reason: String,
}

fn drops(p: &SweepPoint, tol: &ShapeTolerances) -> bool {
    p.relative.significantly_below_one() && p.relative.drop() >= tol.min_drop
}

/// Classifies a sweep (points in any order; points with no injected time
/// are ignored). Confidence levels are those the points were estimated with.
pub fn classify(points: &[SweepPoint], tol: &ShapeTolerances) -> ShapeAnalysis {
    let mut pts: Vec<&SweepPoint> = points.iter().filter(|p| p.load() > 0.0).collect();
    pts.sort_by(|a, b| a.load().total_cmp(&b.load()));
    let confidence = pts.first().map_or(0.95, |p| p.relative.confidence);
    let all_fit = fit_through_origin(pts.iter().copied(), confidence);
    let n = pts.len();

    if !pts.iter().any(|p| drops(p, tol)) {
        let largest = pts
            .iter()
            .map(|p| p.relative.drop())
            .fold(f64::NEG_INFINITY, f64::max);
        let reason = if n == 0 {
            "no point with injected delay: the patterns matched no call".to_owned()
        } else {
            format!(
                "no delay lowered throughput significantly by {:.0}% or more (largest drop {:.1}%)",
                tol.min_drop * 100.0,
                largest * 100.0
            )
        };
        return ShapeAnalysis {
            shape: Shape::None,
            fit: all_fit,
            slope_at_zero: all_fit,
            knee: None,
            points: n,
            reason,
        };
    }
    if let Some(analysis) = threshold(&pts, tol, confidence) {
        return analysis;
    }
    if let Some(fit) = all_fit.filter(|f| f.interval.low <= 0.0) {
        let reason = format!(
            "a drop, but it does not grow with injected time (criticality {:.2} [{:.2}, {:.2}] \
             includes 0): noise or drift",
            fit.slope, fit.interval.low, fit.interval.high
        );
        return ShapeAnalysis {
            shape: Shape::None,
            fit: all_fit,
            slope_at_zero: all_fit,
            knee: None,
            points: n,
            reason,
        };
    }

    let (shape, reason) = match all_fit {
        Some(fit) if fit.interval.high >= tol.full_slope => (
            Shape::Linear,
            format!(
                "time per unit grows in proportion to injected time, criticality {:.2} [{:.2}, {:.2}]",
                fit.slope, fit.interval.low, fit.interval.high
            ),
        ),
        Some(fit) => (
            Shape::SubLinear,
            format!(
                "time per unit grows more slowly than injected time, criticality {:.2} [{:.2}, {:.2}] < {:.2}",
                fit.slope, fit.interval.low, fit.interval.high, tol.full_slope
            ),
        ),
        None => (
            Shape::Linear,
            "throughput drops, but single-pair points cannot tell linear from sub-linear"
                .to_owned(),
        ),
    };
    let reason = match all_fit.and_then(|f| f.reduced_chi2()) {
        Some(r) if r > 4.0 => format!("{reason}; the proportional fit is poor (χ²/dof = {r:.1})"),
        _ => reason,
    };
    ShapeAnalysis {
        shape,
        fit: all_fit,
        slope_at_zero: all_fit,
        knee: None,
        points: n,
        reason,
    }
}

/// Step 3 of the rule: a real flat start followed by drops.
fn threshold(pts: &[&SweepPoint], tol: &ShapeTolerances, confidence: f64) -> Option<ShapeAnalysis> {
    let last_drop = pts.iter().rposition(|p| drops(p, tol))?;
    // The latest split whose last flat point sits clearly below the line
    // that the points after it imply.
    let split = (0..last_drop).rev().find(|&j| {
        let (p, tail) = (pts[j], &pts[j + 1..]);
        let slope = match fit_through_origin(tail.iter().copied(), confidence) {
            Some(f) => f.slope,
            // Single-pair tail: its own ratios.
            None => tail.iter().map(|q| q.slowdown() / q.load()).sum::<f64>() / tail.len() as f64,
        };
        let predicted = slope * p.load();
        let high = p.slowdown_interval().map_or(p.slowdown(), |i| i.high);
        predicted > high + tol.flat_margin && predicted > 2.0 * p.slowdown()
    })?;
    let (flat, tail) = pts.split_at(split + 1);
    let last_flat = flat.last()?;
    // The knee lies above the last start point that does not drop (0 when
    // they all drop a little: a knee below the smallest delay)...
    let floor = flat.iter().rev().find(|p| !drops(p, tol));
    let (x_floor, delay_floor) = floor.map_or((0.0, 0.0), |p| (p.load(), p.delay_ns as f64));
    // ...and is where the line through every dropping point above it
    // crosses zero. Fitting only the points after the split would miss the
    // knee whenever the first dropping point sits close above it (it drops
    // less than the line through later points implies, so the split counts
    // it as part of the start).
    let dropping: Vec<&SweepPoint> = pts
        .iter()
        .copied()
        .filter(|p| p.load() > x_floor && drops(p, tol))
        .collect();
    let first_drop = *dropping.first()?;
    let x_drop = first_drop.load();
    let knee_load = match fit_line(dropping.iter().copied()) {
        Some((a, b)) if b > 0.0 => (-a / b).clamp(x_floor, x_drop),
        _ if x_floor > 0.0 => (x_floor * x_drop).sqrt(),
        _ => x_drop / 2.0,
    };
    let scales: Vec<f64> = pts.iter().filter_map(|p| p.delay_ns_per_load()).collect();
    let ns_per_load = scales.iter().sum::<f64>() / scales.len().max(1) as f64;
    let t0 = pts.iter().map(|p| p.baseline_time_per_unit_s).sum::<f64>() / pts.len() as f64;
    let knee = Knee {
        knee_ns: knee_load * ns_per_load,
        range_ns: Interval::new(delay_floor, first_drop.delay_ns as f64),
        slack_per_unit_s: knee_load * t0,
    };
    let reason = format!(
        "throughput holds up to {} ns per call ({} flat point{}) and drops from {} ns; \
         knee ≈ {:.0} ns per call, slack ≈ {:.1} µs per unit",
        last_flat.delay_ns,
        flat.len(),
        if flat.len() == 1 { "" } else { "s" },
        first_drop.delay_ns,
        knee.knee_ns,
        knee.slack_per_unit_s * 1e6
    );
    Some(ShapeAnalysis {
        shape: Shape::Threshold {
            knee_ns: knee.knee_ns,
        },
        fit: fit_through_origin(tail.iter().copied(), confidence),
        slope_at_zero: fit_through_origin(flat.iter().copied(), confidence),
        knee: Some(knee),
        points: pts.len(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stats::{IntervalMethod, RelativeThroughput};
    use crate::analysis::student::t_critical;

    /// A point at `delay_ns` (1 µs per call = load 0.004) with slowdown `y`
    /// measured to a log standard error `se` over 6 pairs.
    fn point(delay_ns: u64, y: f64, se: f64) -> SweepPoint {
        let mean = -(1.0 + y).ln();
        let half = t_critical(0.95, 5.0) * se;
        let log_interval = Interval::new(mean - half, mean + half);
        SweepPoint {
            delay_ns,
            relative: RelativeThroughput {
                pairs_used: 6,
                pairs_discarded: 0,
                confidence: 0.95,
                method: IntervalMethod::StudentT,
                mean_log_ratio: mean,
                std_error_log: Some(se),
                log_interval: Some(log_interval),
                relative: mean.exp(),
                interval: Some(log_interval.map(f64::exp)),
            },
            baseline_time_per_unit_s: 1e-3,
            injected_per_unit_s: 4.0 * delay_ns as f64 * 1e-9,
            calls_per_unit: 4.0,
            delayed_calls_per_unit: 4.0,
            criticality: None,
        }
    }

    fn sweep(f: impl Fn(f64) -> f64) -> Vec<SweepPoint> {
        [1_000, 10_000, 100_000, 1_000_000]
            .into_iter()
            .map(|d| point(d, f(4.0 * d as f64 * 1e-6), 0.004))
            .collect()
    }

    fn shape(points: &[SweepPoint]) -> Shape {
        classify(points, &ShapeTolerances::default()).shape
    }

    #[test]
    fn the_four_shapes() {
        assert_eq!(shape(&sweep(|x| x)), Shape::Linear);
        assert_eq!(shape(&sweep(|x| 1.2 * x)), Shape::Linear);
        assert_eq!(shape(&sweep(|x| 0.4 * x)), Shape::SubLinear);
        assert_eq!(shape(&sweep(|_| 0.0)), Shape::None);
        let Shape::Threshold { knee_ns } = shape(&sweep(|x| (x - 0.1).max(0.0))) else {
            panic!("not a threshold")
        };
        // Slack 0.1 of a 1 ms unit at 4 calls per unit: 25 µs per call.
        assert!((knee_ns - 25_000.0).abs() < 100.0, "{knee_ns}");
    }

    #[test]
    fn an_isolated_drop_is_not_a_slope() {
        // One point drops (noise or drift), the others sit at 0: the slope's
        // interval includes 0.
        let mut points = sweep(|_| 0.0);
        points[1] = point(10_000, 0.03, 0.004);
        points[3] = point(1_000_000, -0.01, 0.004);
        let analysis = classify(&points, &ShapeTolerances::default());
        assert_eq!(analysis.shape, Shape::None, "{}", analysis.reason);
    }

    #[test]
    fn a_tiny_first_delay_is_not_a_flat_start() {
        // Linear, but the first delay is too small to show a drop: that
        // must not read as a threshold.
        let mut points = sweep(|x| x);
        points[0] = point(1_000, 0.0, 0.004);
        assert_eq!(shape(&points), Shape::Linear);
    }

    #[test]
    fn a_knee_below_the_smallest_delay() {
        // Slack 0.3 (75 µs per call): every point drops, but they miss the
        // origin clearly.
        let hinge = |d: u64| (4.0 * d as f64 * 1e-6 - 0.3).max(0.0);
        let points: Vec<SweepPoint> = [100_000, 200_000, 400_000]
            .into_iter()
            .map(|d| point(d, hinge(d), 0.004))
            .collect();
        let Shape::Threshold { knee_ns } = shape(&points) else {
            panic!("not a threshold")
        };
        assert!((knee_ns - 75_000.0).abs() < 1_000.0, "{knee_ns}");
        // A barely visible offset (slack 0.004) stays linear.
        let points: Vec<SweepPoint> = [100_000, 200_000, 400_000]
            .into_iter()
            .map(|d| point(d, 4.0 * d as f64 * 1e-6 - 0.004, 0.004))
            .collect();
        assert_eq!(shape(&points), Shape::Linear);
    }
}
