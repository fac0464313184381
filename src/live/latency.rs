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
use std::sync::{Arc, Mutex, PoisonError};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::analysis::WindowLatency;
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

/// How experiments cut the request stream at their windows' edges.
///
/// The rings are drained at sampling ticks, but every record carries its
/// end time, so a window's requests are taken by that time, not by the
/// tick that drained them: the experiment asks for a *cut* at an instant
/// ([`SharedLatency::cut`]); the sampler's next tick (which starts after
/// that instant, so every request that ended before it is in a ring)
/// returns every request, all latency points merged, that ended before the
/// instant. A window's requests are its end cut minus its start cut.
#[derive(Debug, Clone, Default)]
pub struct SharedLatency(Arc<Mutex<CutBook>>);

#[derive(Debug, Default)]
struct CutBook {
    next_id: u64,
    /// Cuts asked for: (id, instant on CLOCK_MONOTONIC, ns).
    asked: Vec<(u64, u64)>,
    /// Cuts made, by id.
    made: HashMap<u64, LatencyCounts>,
}

/// A cut asked for, to collect with [`SharedLatency::collect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutId(u64);

/// Requests of the latency points that ended before an instant.
pub type Cut = LatencyCounts;

impl SharedLatency {
    fn book(&self) -> std::sync::MutexGuard<'_, CutBook> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks for a cut at the present instant.
    pub fn cut(&self) -> CutId {
        let at = monotonic_ns();
        let mut book = self.book();
        book.next_id += 1;
        let id = book.next_id;
        book.asked.push((id, at));
        CutId(id)
    }

    /// The cut, once a tick has made it (`None` until then).
    pub fn collect(&self, id: CutId) -> Option<Cut> {
        self.book().made.remove(&id.0)
    }

    /// The cuts asked for at or before `tick_ns` (the sampler, at the start
    /// of a tick, before draining the rings).
    pub fn take_asked(&self, tick_ns: u64) -> Vec<(u64, u64)> {
        let mut book = self.book();
        let (due, later): (Vec<_>, Vec<_>) = book.asked.iter().partition(|&&(_, at)| at <= tick_ns);
        book.asked = later;
        due
    }

    /// Hands made cuts over (the sampler, after the tick's drain).
    pub fn deliver(&self, cuts: Vec<(u64, Cut)>) {
        self.book().made.extend(cuts);
    }
}

/// CLOCK_MONOTONIC in ns: the clock of the hook's latency records.
pub fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

/// A window's requests from its two cuts; `None` when neither holds a
/// request (no latency point was called).
pub fn window_latency(start: &Cut, end: &Cut, span_s: f64) -> Option<WindowLatency> {
    let window = end.since(start);
    let requests = window.ok.len();
    if requests == 0 && window.errors == 0 {
        return None;
    }
    let at = |q: f64| {
        if requests > 0 {
            window.ok.value_at_quantile(q)
        } else {
            0
        }
    };
    Some(WindowLatency {
        requests,
        errors: window.errors,
        p50_ns: at(0.50),
        p99_ns: at(0.99),
        span_s,
    })
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
    /// Cuts being made this tick: (id, instant, requests that ended before it).
    cuts: Vec<(u64, u64, Cut)>,
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
            cuts: Vec::new(),
        }
    }

    /// Starts cuts at instants before this tick's drain: each begins with
    /// every request recorded so far (drained at earlier ticks, so ended
    /// before it) and takes this tick's records that ended before it.
    pub fn open_cuts(&mut self, asked: Vec<(u64, u64)>) {
        for (id, at) in asked {
            let mut counts = LatencyCounts::default();
            for row in &self.rows {
                counts.merge(&row.total);
            }
            self.cuts.push((id, at, counts));
        }
    }

    /// The cuts opened this tick, complete now that its drain is done.
    pub fn close_cuts(&mut self) -> Vec<(u64, Cut)> {
        self.cuts.drain(..).map(|(id, _, c)| (id, c)).collect()
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
        for (_, at, cut) in &mut self.cuts {
            if event.end_ns < *at {
                cut.record(event);
            }
        }
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
    fn a_cut_takes_the_requests_that_ended_before_it_whichever_tick_drains_them() {
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("m:a"), Arc::from("m:b"));
        let ended = |at: u64, latency: u64| LatencyEvent {
            function: FunctionId(1),
            flags: 0,
            start_ns: at - latency,
            end_ns: at,
        };
        let mut table = LatencyTable::new(1);
        for _ in 0..100 {
            table.record(&a, &ended(5_000_000, 1_000), 0);
        }
        // Cut at t = 10 ms, made by a tick that also drains requests that
        // ended after it: they are not in the cut.
        table.open_cuts(vec![(1, 10_000_000)]);
        for _ in 0..60 {
            table.record(&a, &ended(9_000_000, 10_000), 0);
        }
        for _ in 0..40 {
            table.record(&b, &ended(11_000_000, 20_000), 0);
        }
        let start = table.close_cuts();
        assert_eq!(start.len(), 1);
        assert_eq!(
            start[0].1.ok.len(),
            160,
            "the 100 earlier ones and the 60 before the cut"
        );
        // A cut at 20 ms.
        table.open_cuts(vec![(2, 20_000_000)]);
        table.record(&b, &ended(12_000_000, 5), 0);
        let end = table.close_cuts();
        let w = window_latency(&start[0].1, &end[0].1, 0.01).unwrap();
        assert_eq!(w.requests, 41, "only what ended between the cuts");
        assert!(within_1pct(Some(w.p50_ns), 20_000), "{w:?}");
        assert_eq!(window_latency(&end[0].1, &end[0].1, 0.0), None);
    }

    #[test]
    fn shared_cuts_are_made_at_the_first_tick_after_them() {
        let shared = SharedLatency::default();
        let id = shared.cut();
        assert!(
            shared.take_asked(0).is_empty(),
            "a tick before the cut does not make it"
        );
        let due = shared.take_asked(monotonic_ns());
        assert_eq!(due.len(), 1);
        assert!(shared.collect(id).is_none());
        shared.deliver(vec![(due[0].0, Cut::default())]);
        assert!(shared.collect(id).is_some());
        assert!(shared.collect(id).is_none(), "collected once");
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
