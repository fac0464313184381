//! Request latency of latency points (`--latency MOD:QUALNAME`): the
//! records drained from every process's ring, as HDR histograms.
//!
//! Each latency point (by `module:qualname`, merged over processes) keeps
//! a histogram of the whole run and one per sampling tick of the rate
//! window; the live interval is the merge of the window's ticks. Histograms
//! are mergeable and subtractable, so an experiment's window is the run's
//! histogram at its end minus the one at its start ([`LatencyTable::totals`]).
//!
//! Calls that raised (the ring's error flag) are requests too, but they are
//! counted apart (`errors`) and left out of the percentiles, which describe
//! completed requests; the percentiles always say how many samples they rest
//! on, and the ring's drops (records the hook could not queue because the
//! launcher was behind) are reported beside them.
//!
//! Precision: two significant digits (a value is known to within 1 %),
//! from 1 ns to one hour; that keeps one histogram at ~30 KiB so merging a
//! window's ticks 10 times a second costs little.

use std::collections::HashMap;
use std::sync::Arc;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::ipc::LatencyEvent;

/// Largest latency tracked (one hour, in ns); longer ones are clamped.
const HIGHEST_NS: u64 = 3_600_000_000_000;
/// Significant decimal digits kept.
const SIGNIFICANT_DIGITS: u8 = 2;

/// An empty histogram with the table's bounds.
// The bounds are constants that satisfy hdrhistogram's requirements
// (low >= 1, high >= 2 * low, sigfig <= 5): this cannot fail (tested below).
#[allow(clippy::expect_used)]
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_NS, SIGNIFICANT_DIGITS).expect("constant, valid bounds")
}

/// Completed requests of one latency point, over some span.
#[derive(Debug, Clone)]
pub struct LatencyCounts {
    /// Latencies of requests that returned, in ns.
    pub ok: Histogram<u64>,
    /// Requests that raised.
    pub errors: u64,
}

impl Default for LatencyCounts {
    fn default() -> Self {
        Self {
            ok: new_histogram(),
            errors: 0,
        }
    }
}

impl LatencyCounts {
    /// Records one completed call.
    pub fn record(&mut self, event: &LatencyEvent) {
        if event.is_error() {
            self.errors = self.errors.saturating_add(1);
        } else {
            self.ok.saturating_record(event.latency_ns().max(1));
        }
    }

    /// Adds `other`'s requests.
    pub fn merge(&mut self, other: &LatencyCounts) {
        // Same bounds on both sides, so `add` cannot fail; a failure would
        // only lose this merge's samples.
        let _ = self.ok.add(&other.ok);
        self.errors = self.errors.saturating_add(other.errors);
    }

    /// `self - earlier` (`earlier` an earlier copy of the same cumulative
    /// counts): the requests completed in between.
    pub fn since(&self, earlier: &LatencyCounts) -> LatencyCounts {
        let mut ok = self.ok.clone();
        if ok.subtract(&earlier.ok).is_err() {
            // `earlier` is not a prefix of `self` (another run's counts):
            // nothing can be said about the span.
            ok.reset();
        }
        LatencyCounts {
            ok,
            errors: self.errors.saturating_sub(earlier.errors),
        }
    }

    /// Forgets every request.
    pub fn reset(&mut self) {
        self.ok.reset();
        self.errors = 0;
    }

    /// The figures of these requests under `name`.
    pub fn reading(&self, name: &str) -> LatencyReading {
        let h = &self.ok;
        let samples = h.len();
        let at = |q: f64| (samples > 0).then(|| h.value_at_quantile(q));
        LatencyReading {
            name: name.to_owned(),
            samples,
            errors: self.errors,
            p50_ns: at(0.50),
            p90_ns: at(0.90),
            p99_ns: at(0.99),
            max_ns: (samples > 0).then(|| h.max()),
            mean_ns: (samples > 0).then(|| h.mean()),
        }
    }
}

/// One latency point's figures (live: over the rate window; summary: over
/// the run; experiments: over a window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyReading {
    /// The latency point, `module:qualname`.
    pub name: String,
    /// Requests the percentiles rest on (calls that returned).
    pub samples: u64,
    /// Requests that raised, counted apart (not in the percentiles).
    pub errors: u64,
    /// Median latency in ns; `null` without samples.
    pub p50_ns: Option<u64>,
    /// 90th percentile in ns.
    pub p90_ns: Option<u64>,
    /// 99th percentile in ns.
    pub p99_ns: Option<u64>,
    /// Largest latency in ns.
    pub max_ns: Option<u64>,
    /// Mean latency in ns.
    pub mean_ns: Option<f64>,
}

/// Every latency point, plus what the rings could not deliver.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyReport {
    /// One entry per latency point that completed a request, by name.
    pub points: Vec<LatencyReading>,
    /// Completions the hooks could not queue (a ring was full: the
    /// launcher fell behind), summed over processes, over the run. They are
    /// in no percentile; with many, percentiles describe a sample.
    pub dropped: u64,
    /// Records skipped as invalid or lost to a corrupt ring, over the run.
    pub invalid: u64,
}

#[derive(Debug)]
struct Row {
    name: Arc<str>,
    total: LatencyCounts,
    ring: Box<[LatencyCounts]>,
}

/// The latency histograms of a session.
#[derive(Debug)]
pub struct LatencyTable {
    window: usize,
    rows: Vec<Row>,
    index: HashMap<Arc<str>, usize>,
    /// Latest cumulative drop count per process (by an opaque key).
    dropped: HashMap<(u32, u64), u64>,
    invalid: u64,
}

impl LatencyTable {
    /// A table whose live figures cover `window` ticks.
    pub fn new(window: usize) -> Self {
        Self {
            window: window.max(1),
            rows: Vec::new(),
            index: HashMap::new(),
            dropped: HashMap::new(),
            invalid: 0,
        }
    }

    /// Records one event of latency point `name` in tick slot `slot`.
    pub fn record(&mut self, name: &Arc<str>, event: &LatencyEvent, slot: usize) {
        let window = self.window;
        let row = *self.index.entry(Arc::clone(name)).or_insert_with(|| {
            self.rows.push(Row {
                name: Arc::clone(name),
                total: LatencyCounts::default(),
                ring: (0..window).map(|_| LatencyCounts::default()).collect(),
            });
            self.rows.len().saturating_sub(1)
        });
        if let Some(row) = self.rows.get_mut(row) {
            row.total.record(event);
            if let Some(tick) = row.ring.get_mut(slot) {
                tick.record(event);
            }
        }
    }

    /// A process's cumulative drop count (`process` = pid, start).
    pub fn set_dropped(&mut self, process: (u32, u64), dropped_total: u64) {
        self.dropped.insert(process, dropped_total);
    }

    /// Counts records lost as invalid.
    pub fn add_invalid(&mut self, n: u64) {
        self.invalid = self.invalid.saturating_add(n);
    }

    /// Forgets tick slot `slot` (it is about to be reused).
    pub fn clear_slot(&mut self, slot: usize) {
        for row in &mut self.rows {
            if let Some(tick) = row.ring.get_mut(slot) {
                tick.reset();
            }
        }
    }

    /// Cumulative counts of every latency point, by name (copy them at a
    /// window's edges; [`LatencyCounts::since`] gives the window).
    pub fn totals(&self) -> Vec<(Arc<str>, LatencyCounts)> {
        self.rows
            .iter()
            .map(|r| (Arc::clone(&r.name), r.total.clone()))
            .collect()
    }

    /// Figures over the window's ticks (`live`) or the whole run.
    pub fn report(&self, live: bool) -> LatencyReport {
        let mut points: Vec<LatencyReading> = self
            .rows
            .iter()
            .map(|row| {
                if live {
                    let mut merged = LatencyCounts::default();
                    for tick in row.ring.iter() {
                        merged.merge(tick);
                    }
                    merged.reading(&row.name)
                } else {
                    row.total.reading(&row.name)
                }
            })
            .collect();
        points.sort_by(|a, b| a.name.cmp(&b.name));
        LatencyReport {
            points,
            dropped: self
                .dropped
                .values()
                .fold(0u64, |a, &b| a.saturating_add(b)),
            invalid: self.invalid,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ipc::{FunctionId, latency_flags};

    fn event(latency_ns: u64, flags: u32) -> LatencyEvent {
        LatencyEvent {
            function: FunctionId(1),
            flags,
            start_ns: 1_000,
            end_ns: 1_000 + latency_ns,
        }
    }

    fn within_1pct(got: Option<u64>, want: u64) -> bool {
        got.is_some_and(|g| (g as f64 - want as f64).abs() <= want as f64 * 0.01)
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        // 1..=10_000 µs, uniform: p50 = 5 ms, p90 = 9 ms, p99 = 9.9 ms.
        let mut counts = LatencyCounts::default();
        for us in 1..=10_000u64 {
            counts.record(&event(us * 1_000, 0));
        }
        counts.record(&event(123, latency_flags::ERROR));
        let r = counts.reading("m:f");
        assert_eq!((r.samples, r.errors), (10_000, 1));
        assert!(within_1pct(r.p50_ns, 5_000_000), "{r:?}");
        assert!(within_1pct(r.p90_ns, 9_000_000), "{r:?}");
        assert!(within_1pct(r.p99_ns, 9_900_000), "{r:?}");
        assert!(within_1pct(r.max_ns, 10_000_000), "{r:?}");
    }

    #[test]
    fn a_window_is_the_difference_of_cumulative_counts() {
        let mut counts = LatencyCounts::default();
        for _ in 0..100 {
            counts.record(&event(1_000, 0));
        }
        let start = counts.clone();
        for _ in 0..100 {
            counts.record(&event(50_000, 0));
        }
        counts.record(&event(7, latency_flags::ERROR));
        let window = counts.since(&start).reading("m:f");
        assert_eq!((window.samples, window.errors), (100, 1));
        assert!(within_1pct(window.p50_ns, 50_000), "{window:?}");
    }

    #[test]
    fn live_figures_cover_the_window_only() {
        let mut table = LatencyTable::new(2);
        let name: Arc<str> = Arc::from("m:f");
        table.record(&name, &event(1_000, 0), 0);
        table.record(&name, &event(2_000, 0), 1);
        table.clear_slot(0);
        table.record(&name, &event(3_000, 0), 0);
        table.set_dropped((1, 1), 5);
        table.set_dropped((2, 1), 2);
        let live = table.report(true);
        assert_eq!(live.points[0].samples, 2);
        assert!(within_1pct(live.points[0].max_ns, 3_000));
        assert_eq!(table.report(false).points[0].samples, 3);
        assert_eq!(live.dropped, 7);
    }
}
