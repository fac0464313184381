//! Sweep points and the weighted least-squares fits of a sweep.
//!
//! A sweep point summarises one setting's pairs. In relative terms (each
//! point against its own baselines, which cancels drift between settings):
//!
//! ```text
//! load     x = injected delay per unit / baseline time per unit
//! slowdown y = treatment time per unit / baseline time per unit - 1 = 1/relative - 1
//! ```
//!
//! so the model `t(d) = t0 + c · i(d)` (docs/methodology.md step 2; ARCHITECTURE.md
//! criticality) reads `y = c · x`, with `c` the criticality. The fit is
//! weighted least squares through the origin with weights `1/se(y)²`
//! (Aitken's generalised least squares for independent points); `se(y)`
//! comes from the point's log-ratio standard error by the delta method
//! (`se(y) = e^{-r} · se(r)`), floored at 1e-4 so a noiseless point cannot
//! take all the weight. When the points scatter more than their errors say
//! (`χ²/dof > 1`) the slope's standard error is scaled by `√(χ²/dof)`
//! (the Birge ratio), and the interval uses Student t with the smallest
//! per-point degrees of freedom (conservative: every point's error is itself
//! estimated from few pairs).

use serde::{Deserialize, Serialize};

use super::criticality::{Criticality, criticality};
use super::stats::{Interval, RelativeThroughput, relative_throughput};
use super::student::t_critical;
use super::window::Pair;

/// Smallest standard error a point's slowdown is given (relative, 0.01%).
pub const SLOWDOWN_SE_FLOOR: f64 = 1e-4;

/// One setting of a sweep (a delay; or a candidate at a fixed delay).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// Delay per delayed call, nanoseconds.
    pub delay_ns: u64,
    /// Relative throughput at this setting.
    pub relative: RelativeThroughput,
    /// Mean baseline wall time per unit of progress over the usable pairs,
    /// seconds.
    pub baseline_time_per_unit_s: f64,
    /// Mean injected delay per unit over the usable pairs, seconds.
    pub injected_per_unit_s: f64,
    /// Matched calls per unit (baseline windows; treatment windows when the
    /// baseline recorded none).
    pub calls_per_unit: f64,
    /// Delayed calls per unit (treatment windows).
    pub delayed_calls_per_unit: f64,
    /// Criticality from the same pairs (`None` when nothing was injected).
    pub criticality: Option<Criticality>,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

impl SweepPoint {
    /// Summarises the pairs measured at `delay_ns`. `None` when no pair is
    /// usable.
    pub fn from_pairs(delay_ns: u64, pairs: &[Pair], confidence: f64) -> Option<SweepPoint> {
        let relative = relative_throughput(pairs, confidence)?;
        let usable: Vec<&Pair> = pairs.iter().filter(|p| p.is_usable()).collect();
        let baseline_calls = mean(usable.iter().map(|p| p.baseline.calls_per_unit()));
        let calls_per_unit = if baseline_calls > 0.0 {
            baseline_calls
        } else {
            mean(usable.iter().map(|p| p.treatment.calls_per_unit()))
        };
        Some(SweepPoint {
            delay_ns,
            relative,
            baseline_time_per_unit_s: mean(usable.iter().map(|p| p.baseline.time_per_unit_s())),
            injected_per_unit_s: mean(usable.iter().map(|p| p.injected_per_unit_s())),
            calls_per_unit,
            delayed_calls_per_unit: mean(
                usable.iter().map(|p| p.treatment.delayed_calls_per_unit()),
            ),
            criticality: criticality(pairs, confidence),
        })
    }

    /// Load `x`: injected delay per unit as a fraction of the baseline time
    /// per unit (0.1 = the spin alone would make each unit 10% longer if it
    /// all landed on the critical path).
    pub fn load(&self) -> f64 {
        if self.baseline_time_per_unit_s > 0.0 {
            self.injected_per_unit_s / self.baseline_time_per_unit_s
        } else {
            0.0
        }
    }

    /// Slowdown `y = 1/relative - 1`: extra time per unit as a fraction of
    /// the baseline time per unit.
    pub fn slowdown(&self) -> f64 {
        (-self.relative.mean_log_ratio).exp() - 1.0
    }

    /// The interval of the slowdown (from the relative throughput's).
    pub fn slowdown_interval(&self) -> Option<Interval> {
        self.relative
            .log_interval
            .map(|i| i.map(|r| (-r).exp() - 1.0))
    }

    /// Standard error of the slowdown (delta method), floored at
    /// [`SLOWDOWN_SE_FLOOR`]; `None` with a single pair.
    pub fn slowdown_std_error(&self) -> Option<f64> {
        self.relative
            .std_error_log
            .map(|se| ((-self.relative.mean_log_ratio).exp() * se).max(SLOWDOWN_SE_FLOOR))
    }

    /// Delay per call, nanoseconds, per unit of load at this point
    /// (`delay_ns / load`), to turn a load back into a delay.
    pub fn delay_ns_per_load(&self) -> Option<f64> {
        let load = self.load();
        (load > 0.0 && self.delay_ns > 0).then(|| self.delay_ns as f64 / load)
    }
}

/// A slope fitted through the origin: `slowdown = slope · load`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SlopeFit {
    /// The fitted slope: criticality `c` (dimensionless).
    pub slope: f64,
    /// Its interval at the confidence the points were estimated with.
    pub interval: Interval,
    /// Standard error of the slope (after the Birge scaling).
    pub std_error: f64,
    /// Weighted residual sum of squares, `Σ ((y - c x) / se)²`.
    pub chi2: f64,
    /// Degrees of freedom of `chi2`: points - 1.
    pub dof: usize,
    /// Points in the fit.
    pub points: usize,
}

impl SlopeFit {
    /// `χ²/dof`: about 1 when the points scatter as their errors say,
    /// much larger when the proportional model does not fit. `None` with a
    /// single point.
    pub fn reduced_chi2(&self) -> Option<f64> {
        (self.dof > 0).then(|| self.chi2 / self.dof as f64)
    }
}

/// The points a fit can use: positive load and a standard error (two or
/// more pairs).
fn fit_data<'a>(points: impl IntoIterator<Item = &'a SweepPoint>) -> Vec<(f64, f64, f64, usize)> {
    points
        .into_iter()
        .filter(|p| p.load() > 0.0)
        .filter_map(|p| {
            p.slowdown_std_error()
                .map(|se| (p.load(), p.slowdown(), se, p.relative.degrees_of_freedom()))
        })
        .collect()
}

/// Weighted least squares of slowdown on load through the origin (see the
/// module documentation), with an interval at `confidence`. Points with no
/// load or a single pair are left out; `None` when none is left.
pub fn fit_through_origin<'a>(
    points: impl IntoIterator<Item = &'a SweepPoint>,
    confidence: f64,
) -> Option<SlopeFit> {
    let data = fit_data(points);
    if data.is_empty() {
        return None;
    }
    let sxx: f64 = data.iter().map(|&(x, _, se, _)| x * x / (se * se)).sum();
    let sxy: f64 = data.iter().map(|&(x, y, se, _)| x * y / (se * se)).sum();
    let slope = sxy / sxx;
    let chi2: f64 = data
        .iter()
        .map(|&(x, y, se, _)| ((y - slope * x) / se).powi(2))
        .sum();
    let dof = data.len() - 1;
    let birge = if dof > 0 {
        (chi2 / dof as f64).max(1.0).sqrt()
    } else {
        1.0
    };
    let std_error = birge / sxx.sqrt();
    let min_df = data.iter().map(|d| d.3).min().unwrap_or(1).max(1);
    let half = t_critical(confidence, min_df as f64) * std_error;
    Some(SlopeFit {
        slope,
        interval: Interval::new(slope - half, slope + half),
        std_error,
        chi2,
        dof,
        points: data.len(),
    })
}

/// Weighted least squares of slowdown on load with an intercept, `y = a + b
/// x`; returns `(a, b)`. `None` with fewer than two distinct loads.
pub fn fit_line<'a>(points: impl IntoIterator<Item = &'a SweepPoint>) -> Option<(f64, f64)> {
    let data = fit_data(points);
    let w = |se: f64| 1.0 / (se * se);
    let sw: f64 = data.iter().map(|d| w(d.2)).sum();
    let sx: f64 = data.iter().map(|d| w(d.2) * d.0).sum();
    let sy: f64 = data.iter().map(|d| w(d.2) * d.1).sum();
    let sxx: f64 = data.iter().map(|d| w(d.2) * d.0 * d.0).sum();
    let sxy: f64 = data.iter().map(|d| w(d.2) * d.0 * d.1).sum();
    let det = sw * sxx - sx * sx;
    if data.len() < 2 || det <= f64::EPSILON * sw * sxx {
        return None;
    }
    let b = (sw * sxy - sx * sy) / det;
    let a = (sy - b * sx) / sw;
    Some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::window::Window;

    /// Pairs at one delay for a workload of `t0` s per unit, `calls` delayed
    /// calls per unit, criticality `c`, with multiplicative noise `noise`.
    fn point(delay_ns: u64, c: f64, noise: &[f64]) -> SweepPoint {
        let (t0, calls, units) = (1e-3, 2.0, 1000u64);
        let inj = calls * delay_ns as f64 * 1e-9;
        let pairs: Vec<Pair> = noise
            .iter()
            .map(|n| {
                let t1 = (t0 + c * inj) * (1.0 + n);
                let w = |t: f64, inj_ns: f64| Window {
                    units,
                    wall_s: t * units as f64,
                    injected_ns: inj_ns as u64,
                    delayed_calls: (calls * units as f64) as u64,
                    calls: (calls * units as f64) as u64,
                    whole_run: false,
                    latency: None,
                };
                Pair {
                    baseline: w(t0, 0.0),
                    treatment: w(t1, inj * 1e9 * units as f64),
                    baseline_first: true,
                }
            })
            .collect();
        SweepPoint::from_pairs(delay_ns, &pairs, 0.95).unwrap()
    }

    #[test]
    fn loads_and_slowdowns() {
        let p = point(50_000, 1.0, &[0.0, 0.0, 0.0]);
        assert!((p.load() - 0.1).abs() < 1e-9);
        assert!((p.slowdown() - 0.1).abs() < 1e-9);
        assert!((p.delay_ns_per_load().unwrap() - 500_000.0).abs() < 1e-3);
        assert!((p.calls_per_unit - 2.0).abs() < 1e-12);
    }

    #[test]
    fn slope_through_origin_recovers_criticality() {
        let noise = [0.004, -0.003, 0.001, -0.002];
        let pts = [
            point(10_000, 0.6, &noise),
            point(50_000, 0.6, &noise),
            point(200_000, 0.6, &noise),
        ];
        let fit = fit_through_origin(&pts, 0.95).unwrap();
        assert!((fit.slope - 0.6).abs() < 0.03, "{fit:?}");
        assert!(fit.interval.contains(0.6));
        let (a, b) = fit_line(&pts).unwrap();
        assert!(a.abs() < 0.01 && (b - 0.6).abs() < 0.05, "{a} {b}");
    }
}
