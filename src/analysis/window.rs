//! The raw evidence: measurement windows and the pairs they form.
//!
//! A window is a stretch of wall time at one setting, summarised by what the
//! hooks and the progress counter recorded in it. A pair is a baseline window
//! (the same patterns at delay 0: the hook counts but does not spin, so its
//! own per-call cost is on both sides and cancels) next to a treatment window,
//! in random order. Adjacent windows see the same machine, so pairing cancels
//! slow drift from other tenants (ARCHITECTURE.md, "Experiments and analysis").

use serde::{Deserialize, Serialize};

use super::latency_effect::WindowLatency;

/// Coz (Curtsinger & Berger, SOSP 2015, §3.3) discards experiments that saw
/// fewer than 5 progress points: the rate of a window with fewer units is
/// dominated by where the window edges fall between units.
pub const MIN_UNITS_PER_WINDOW: u64 = 5;

/// Units of progress a window should aim for: at 20 units the edge effect
/// is at most ~5% of a single window and averages out over pairs.
pub const TARGET_UNITS_PER_WINDOW: u64 = 20;

/// What one window measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Units of progress completed in the window (tokens, steps, requests).
    pub units: u64,
    /// Wall-clock length of the window, seconds.
    pub wall_s: f64,
    /// Time the hooks actually spun in the window, nanoseconds, summed over
    /// every hooked process (0 in a baseline window).
    pub injected_ns: u64,
    /// Calls that were delayed in the window (0 in a baseline window).
    pub delayed_calls: u64,
    /// Calls of the matched functions in the window, delayed or not (with
    /// `SPEED_BUMP_FREQUENCY=N`, about `N × delayed_calls`).
    pub calls: u64,
    /// The window is exactly one whole run of a workload that does fixed
    /// work and exits (restart mode, "runs per second"): its rate has no
    /// window-edge error, so the 5-unit minimum does not apply.
    #[serde(default)]
    pub whole_run: bool,
    /// Requests of the latency points completed in the window, when the
    /// run has latency points (`--latency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<WindowLatency>,
}

impl Window {
    /// Whether the window counts as evidence: at least
    /// [`MIN_UNITS_PER_WINDOW`] units (one, for a whole run) over a
    /// positive, finite wall time.
    pub fn is_usable(&self) -> bool {
        let min_units = if self.whole_run {
            1
        } else {
            MIN_UNITS_PER_WINDOW
        };
        self.units >= min_units && self.wall_s.is_finite() && self.wall_s > 0.0
    }

    /// Throughput, units per second.
    pub fn rate_per_s(&self) -> f64 {
        self.units as f64 / self.wall_s
    }

    /// Wall time per unit of progress, seconds (Little's law latency for a
    /// closed loop; the inverse of the rate).
    pub fn time_per_unit_s(&self) -> f64 {
        self.wall_s / self.units as f64
    }

    /// Injected delay per unit of progress, seconds.
    pub fn injected_per_unit_s(&self) -> f64 {
        self.injected_ns as f64 * 1e-9 / self.units as f64
    }

    /// Matched calls per unit of progress.
    pub fn calls_per_unit(&self) -> f64 {
        self.calls as f64 / self.units as f64
    }

    /// Delayed calls per unit of progress.
    pub fn delayed_calls_per_unit(&self) -> f64 {
        self.delayed_calls as f64 / self.units as f64
    }
}

/// A baseline window and a treatment window taken next to each other.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    /// The same patterns at delay 0.
    pub baseline: Window,
    /// The setting under test.
    pub treatment: Window,
    /// Whether the baseline window ran first (the order is randomised, see
    /// [`crate::analysis::schedule`]).
    pub baseline_first: bool,
}

impl Pair {
    /// Whether both windows count as evidence ([`Window::is_usable`]).
    pub fn is_usable(&self) -> bool {
        self.baseline.is_usable() && self.treatment.is_usable()
    }

    /// `ln(rate_treatment / rate_baseline)`: the pair's evidence about
    /// relative throughput (dimensionless; -0.01 ≈ a 1% drop). The log
    /// makes a ratio's errors symmetric and averages of ratios unbiased
    /// with respect to which side is the denominator.
    pub fn log_ratio(&self) -> f64 {
        (self.treatment.rate_per_s() / self.baseline.rate_per_s()).ln()
    }

    /// Injected delay per unit of progress in excess of the baseline's,
    /// seconds (the baseline injects nothing at delay 0; should it record
    /// some, it is subtracted).
    pub fn injected_per_unit_s(&self) -> f64 {
        (self.treatment.injected_per_unit_s() - self.baseline.injected_per_unit_s()).max(0.0)
    }
}

/// The window length, seconds, to use for the next pair at a setting.
///
/// Coz's rule: when a window of the last pair saw fewer than
/// [`MIN_UNITS_PER_WINDOW`] units (so the pair was discarded), double the
/// window. Otherwise, grow the window (never shrink it) so that the slower
/// of the two windows' rates gives at least [`TARGET_UNITS_PER_WINDOW`].
pub fn next_window_s(current_s: f64, last: &Pair) -> f64 {
    if !last.is_usable() {
        return current_s * 2.0;
    }
    let slower = last.baseline.rate_per_s().min(last.treatment.rate_per_s());
    current_s.max(window_for_units_s(slower, TARGET_UNITS_PER_WINDOW))
}

/// Seconds needed to see `units` units at `rate_per_s` units per second
/// (infinite when the rate is not positive).
pub fn window_for_units_s(rate_per_s: f64, units: u64) -> f64 {
    if rate_per_s > 0.0 {
        units as f64 / rate_per_s
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(units: u64, wall_s: f64) -> Window {
        Window {
            units,
            wall_s,
            injected_ns: 0,
            delayed_calls: 0,
            calls: 0,
            whole_run: false,
            latency: None,
        }
    }

    #[test]
    fn a_whole_run_is_one_usable_unit() {
        let run = Window {
            whole_run: true,
            latency: None,
            ..window(1, 2.5)
        };
        assert!(run.is_usable() && !window(1, 2.5).is_usable());
    }

    #[test]
    fn discarded_pair_doubles_the_window() {
        let pair = Pair {
            baseline: window(4, 1.0),
            treatment: window(30, 1.0),
            baseline_first: true,
        };
        assert!(!pair.is_usable());
        assert_eq!(next_window_s(1.5, &pair), 3.0);
    }

    #[test]
    fn window_grows_to_target_units() {
        let pair = Pair {
            baseline: window(10, 1.0),
            treatment: window(8, 1.0),
            baseline_first: false,
        };
        assert!((next_window_s(1.0, &pair) - 2.5).abs() < 1e-12);
        let fast = Pair {
            baseline: window(1000, 1.0),
            treatment: window(900, 1.0),
            baseline_first: true,
        };
        assert_eq!(next_window_s(1.0, &fast), 1.0);
    }

    #[test]
    fn log_ratio_and_injection() {
        let mut treatment = window(90, 1.0);
        treatment.injected_ns = 90_000_000;
        let pair = Pair {
            baseline: window(100, 1.0),
            treatment,
            baseline_first: true,
        };
        assert!((pair.log_ratio() - 0.9f64.ln()).abs() < 1e-12);
        assert!((pair.injected_per_unit_s() - 0.001).abs() < 1e-12);
    }
}
