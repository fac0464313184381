//! The sampling thread: every tick it looks for new segments, samples them
//! all into the aggregator and sends a [`LiveSnapshot`].

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::aggregate::{Aggregator, RateBasis};
use super::latency::{SharedLatency, monotonic_ns};
use super::progress::RegexProgress;
use super::sampler::SegmentSet;
use super::session::{Event, EventSink};
use super::snapshot::LiveSnapshot;
use super::throughput::ThroughputSources;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the sampling thread needs.
pub struct SamplerContext {
    /// The session directory.
    pub dir: PathBuf,
    /// Owner expected of every segment.
    pub uid: u32,
    /// Sampling period.
    pub interval: Duration,
    /// Ticks in the rate window.
    pub window_ticks: usize,
    /// The rate window (for the output regex).
    pub rate_window: Duration,
    /// Functions per snapshot.
    pub top: usize,
    /// When the workload started.
    pub started: Instant,
    /// The progress sources (points change with the settings).
    pub sources: Arc<Mutex<ThroughputSources>>,
    /// The output regex, if any.
    pub regex: Option<Arc<RegexProgress>>,
    /// Where snapshots and warnings go.
    pub sink: EventSink,
    /// The cuts of the request stream experiments ask for.
    pub latency: SharedLatency,
}

/// New segments are looked for at every tick when the directory changed,
/// and in any case this often; liveness is checked every `LIVENESS_EVERY`.
const FULL_SCAN_EVERY: Duration = Duration::from_secs(1);
const LIVENESS_EVERY: Duration = Duration::from_secs(1);

/// Samples every `ctx.interval` until `stop` gets a message or is dropped;
/// returns the segments and sums for the final pass.
pub fn sampler_loop(ctx: &SamplerContext, stop: &Receiver<()>) -> (SegmentSet, Aggregator) {
    let mut set = SegmentSet::new(&ctx.dir, ctx.uid);
    let mut agg = Aggregator::new(ctx.window_ticks);
    let mut next = Instant::now() + ctx.interval;
    let mut last_liveness = Instant::now();
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        match stop.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => break,
        }
        let now = Instant::now();
        next += ctx.interval;
        if next < now {
            next = now + ctx.interval;
        }
        set.scan_if_changed(&mut agg, now, FULL_SCAN_EVERY);
        let liveness = now.saturating_duration_since(last_liveness) >= LIVENESS_EVERY;
        if liveness {
            last_liveness = now;
        }
        agg.begin_tick();
        // Cuts asked for before this tick's drain take the requests that
        // ended before them (see `SharedLatency`).
        agg.open_latency_cuts(ctx.latency.take_asked(monotonic_ns()));
        set.sample_all(&mut agg, liveness);
        agg.end_tick(now);
        ctx.latency.deliver(agg.close_latency_cuts());
        for warning in agg.take_new_warnings() {
            (ctx.sink)(Event::Warning(warning));
        }
        let snapshot = live_snapshot(ctx, &agg, now);
        (ctx.sink)(Event::Snapshot(Box::new(snapshot)));
    }
    (set, agg)
}

fn live_snapshot(ctx: &SamplerContext, agg: &Aggregator, now: Instant) -> LiveSnapshot {
    let basis = RateBasis::Window;
    let progress = agg.progress_readings(basis);
    let regex = ctx.regex.as_ref().map(|r| r.reading(now, ctx.rate_window));
    let throughput = lock(&ctx.sources).readings(&progress, regex, None);
    let (functions, functions_total) = agg.function_readings(basis, Some(ctx.top));
    LiveSnapshot {
        kind: "sample",
        elapsed_s: now.saturating_duration_since(ctx.started).as_secs_f64(),
        rate_window_s: agg.window_seconds(),
        generations: agg.generations(),
        complete: agg.last_tick_complete(),
        processes: agg.process_counts(),
        throughput,
        patterns: agg.pattern_readings(basis),
        functions,
        functions_total,
        latency: agg.latency_report(basis),
    }
}

/// Ticks in a rate window of `window` at one tick per `interval` (at least 1).
pub fn window_ticks(window: Duration, interval: Duration) -> usize {
    let interval = interval.as_secs_f64().max(1e-3);
    let ticks = (window.as_secs_f64() / interval).round();
    if ticks.is_finite() && ticks >= 1.0 {
        ticks.min(10_000.0) as usize
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_a_whole_number_of_ticks() {
        assert_eq!(
            window_ticks(Duration::from_secs(1), Duration::from_millis(100)),
            10
        );
        assert_eq!(
            window_ticks(Duration::from_millis(10), Duration::from_millis(100)),
            1
        );
        assert_eq!(window_ticks(Duration::ZERO, Duration::ZERO), 1);
    }
}
