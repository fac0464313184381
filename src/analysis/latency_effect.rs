//! What a setting did to request latency (`--latency`, docs/latency.md):
//! the change in p50 and p99 between the paired windows, and the latency
//! criticality (ns of percentile added per ns injected per request).
//!
//! Each window carries the percentiles of the requests that completed in it
//! ([`WindowLatency`], all latency points merged). A pair is evidence about
//! a percentile when both of its windows hold enough requests for that
//! percentile to be more than their slowest few: [`MIN_REQUESTS_P50`] and
//! [`MIN_REQUESTS_P99`]. As for throughput, the change is the mean over
//! pairs of `ln(treatment / baseline)` with a Student t interval, reported
//! as a ratio; the criticality is the mean over pairs of
//! `(treatment − baseline) / delay requested per request` with its t
//! interval.

use serde::{Deserialize, Serialize};

use super::stats::{Interval, MeanEstimate, mean_with_t_interval};
use super::window::Pair;

/// Requests a window needs for its p50 to count.
pub const MIN_REQUESTS_P50: u64 = 20;
/// Requests a window needs for its p99 to count: with fewer, the p99 is
/// one of the slowest one or two requests, not a percentile.
pub const MIN_REQUESTS_P99: u64 = 200;

/// Requests of the latency points completed in one window (every latency
/// point merged), as percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowLatency {
    /// Requests that returned (the percentiles rest on them).
    pub requests: u64,
    /// Requests that raised (not in the percentiles).
    pub errors: u64,
    /// Median latency, ns (0 without requests).
    pub p50_ns: u64,
    /// 99th percentile latency, ns (0 without requests).
    pub p99_ns: u64,
    /// Seconds between the two drains of the rings that bound these
    /// requests (about the window's length; 0 when unknown).
    #[serde(default)]
    pub span_s: f64,
}

/// One percentile's change at a setting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PercentileChange {
    /// Pairs whose two windows both held enough requests.
    pub pairs_used: usize,
    /// Mean baseline value over those pairs, ns.
    pub baseline_ns: f64,
    /// Treatment / baseline (1.05: 5% slower requests).
    pub relative: f64,
    /// Its interval (None with a single pair).
    pub interval: Option<Interval>,
    /// Ns of this percentile added per ns of delay requested per request,
    /// with its interval (None when nothing was delayed).
    pub criticality: Option<MeanEstimate>,
}

impl PercentileChange {
    /// Whether the interval excludes "no change".
    pub fn significant(&self) -> bool {
        self.interval.is_some_and(|i| !i.contains(1.0))
    }
}

/// What a setting did to latency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencyEffect {
    /// Mean requests per window over the pairs with requests on both sides.
    pub requests_per_window: f64,
    /// Change of the median (None: too few requests per window).
    pub p50: Option<PercentileChange>,
    /// Change of the 99th percentile (None: too few requests per window).
    pub p99: Option<PercentileChange>,
}

impl LatencyEffect {
    /// Summarises the latency of `pairs` measured at `delay_ns` per delayed
    /// call; `None` when no window recorded a request (no latency point, or
    /// none was called).
    pub fn from_pairs(pairs: &[Pair], delay_ns: u64, confidence: f64) -> Option<LatencyEffect> {
        let both: Vec<(WindowLatency, WindowLatency, f64)> = pairs
            .iter()
            .filter_map(|p| {
                let (b, t) = (p.baseline.latency?, p.treatment.latency?);
                Some((b, t, delay_per_request_ns(p, delay_ns)))
            })
            .filter(|(b, t, _)| b.requests > 0 && t.requests > 0)
            .collect();
        if both.is_empty() {
            return None;
        }
        let requests_per_window = both
            .iter()
            .map(|(b, t, _)| (b.requests + t.requests) as f64 / 2.0)
            .sum::<f64>()
            / both.len() as f64;
        Some(LatencyEffect {
            requests_per_window,
            p50: change(&both, MIN_REQUESTS_P50, |w| w.p50_ns, confidence),
            p99: change(&both, MIN_REQUESTS_P99, |w| w.p99_ns, confidence),
        })
    }
}

/// Delay requested per request in the treatment window beyond the
/// baseline's: the delay per call times the delayed calls per request.
/// The requested delay, not the measured spin: a spin that a preemption
/// stretched adds to the mean but not to the median request, and the
/// percentiles' criticality asks what each requested nanosecond does.
/// Requests are counted between the cuts, calls between the edges: both
/// are turned into rates over their own spans.
fn delay_per_request_ns(pair: &Pair, delay_ns: u64) -> f64 {
    let per_request = |w: &super::window::Window| match w.latency {
        Some(l) if l.requests > 0 && w.wall_s > 0.0 => {
            let span_s = if l.span_s > 0.0 { l.span_s } else { w.wall_s };
            delay_ns as f64 * (w.delayed_calls as f64 / w.wall_s) * span_s / l.requests as f64
        }
        _ => 0.0,
    };
    (per_request(&pair.treatment) - per_request(&pair.baseline)).max(0.0)
}

fn change(
    pairs: &[(WindowLatency, WindowLatency, f64)],
    min_requests: u64,
    value: impl Fn(&WindowLatency) -> u64,
    confidence: f64,
) -> Option<PercentileChange> {
    let usable: Vec<&(WindowLatency, WindowLatency, f64)> = pairs
        .iter()
        .filter(|(b, t, _)| {
            b.requests >= min_requests && t.requests >= min_requests && value(b) > 0 && value(t) > 0
        })
        .collect();
    let logs: Vec<f64> = usable
        .iter()
        .map(|(b, t, _)| (value(t) as f64 / value(b) as f64).ln())
        .collect();
    let estimate = mean_with_t_interval(&logs, confidence)?;
    let added_per_injected: Vec<f64> = usable
        .iter()
        .filter(|(_, _, injected)| *injected > 0.0)
        .map(|(b, t, injected)| (value(t) as f64 - value(b) as f64) / injected)
        .collect();
    Some(PercentileChange {
        pairs_used: usable.len(),
        baseline_ns: usable.iter().map(|(b, _, _)| value(b) as f64).sum::<f64>()
            / usable.len() as f64,
        relative: estimate.mean.exp(),
        interval: estimate.interval.map(|i| i.map(f64::exp)),
        criticality: if added_per_injected.len() == usable.len() {
            mean_with_t_interval(&added_per_injected, confidence)
        } else {
            None
        },
    })
}

/// A one-second window of `requests` requests with the given percentiles,
/// `delayed_calls` of them delayed by 100 µs (for tests).
#[cfg(test)]
pub(crate) fn test_window(
    requests: u64,
    p50_ns: u64,
    p99_ns: u64,
    delayed_calls: u64,
) -> super::window::Window {
    super::window::Window {
        units: requests,
        wall_s: 1.0,
        injected_ns: delayed_calls * 100_000,
        delayed_calls,
        calls: requests,
        whole_run: false,
        latency: Some(WindowLatency {
            requests,
            errors: 0,
            p50_ns,
            p99_ns,
            span_s: 1.0,
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Requests of 1 ms at p50 and 3 ms at p99; the treatment injects
    /// 100 µs per request, adding `p50_added` and `p99_added` ns.
    fn pairs(requests: u64, p50_added: u64, p99_added: u64) -> Vec<Pair> {
        let noise = [0i64, 7_000, -5_000, 3_000, -2_000, 4_000];
        noise
            .iter()
            .map(|&n| Pair {
                baseline: test_window(requests, 1_000_000, 3_000_000, 0),
                treatment: test_window(
                    requests,
                    (1_000_000 + p50_added as i64 + n) as u64,
                    (3_000_000 + p99_added as i64 + 3 * n) as u64,
                    requests,
                ),
                baseline_first: true,
            })
            .collect()
    }

    #[test]
    fn a_delay_on_every_request_moves_p50_and_p99_by_what_was_injected() {
        let effect =
            LatencyEffect::from_pairs(&pairs(1_000, 100_000, 100_000), 100_000, 0.95).unwrap();
        let p50 = effect.p50.unwrap();
        assert_eq!(p50.pairs_used, 6);
        assert!((p50.relative - 1.1).abs() < 0.005, "{p50:?}");
        assert!(p50.significant());
        assert!(p50.interval.unwrap().contains(1.1));
        let k = p50.criticality.unwrap();
        assert!((k.mean - 1.0).abs() < 0.05, "{k:?}");
        let p99 = effect.p99.unwrap();
        assert!(
            (p99.relative - 100_000.0 / 3_000_000.0 - 1.0).abs() < 0.005,
            "{p99:?}"
        );
        assert!((effect.requests_per_window - 1_000.0).abs() < 1e-9);
    }

    #[test]
    fn a_tail_only_effect_shows_in_p99_and_not_in_p50() {
        let effect = LatencyEffect::from_pairs(&pairs(1_000, 0, 900_000), 100_000, 0.95).unwrap();
        assert!(!effect.p50.unwrap().significant());
        let p99 = effect.p99.unwrap();
        assert!(p99.significant());
        let k = p99.criticality.unwrap();
        assert!((k.mean - 9.0).abs() < 0.5, "{k:?}");
    }

    #[test]
    fn too_few_requests_give_no_p99_and_no_requests_no_effect() {
        let effect =
            LatencyEffect::from_pairs(&pairs(50, 100_000, 100_000), 100_000, 0.95).unwrap();
        assert!(effect.p50.is_some());
        assert!(
            effect.p99.is_none(),
            "50 requests per window: p99 is the max"
        );
        let mut none = pairs(1_000, 0, 0);
        for p in &mut none {
            p.baseline.latency = None;
        }
        assert!(LatencyEffect::from_pairs(&none, 100_000, 0.95).is_none());
    }
}
