//! Waiting until every live hooked process applies a settings generation.
//!
//! A hooked process reports the generation it applies in its segment header
//! (`settings_generation`). [`wait_applied`] opens every segment of the
//! session whose process still runs (and every one that appears while it
//! waits), polls their headers (every 0.2 ms for the first 100 ms, then every
//! 2 ms) and records, per process, the time from publication to the first
//! poll that sees the generation (in its latest segment: one whose process
//! moved to a successor is not waited for). Processes that exit meanwhile are left out;
//! processes that match nothing have no segment and cannot be waited for.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::snapshot::{ApplyReport, ProcessApply};
use crate::ipc::procfs::{Liveness, process_liveness};
use crate::ipc::{SegmentView, flags, list_segments};

const FAST_POLL: Duration = Duration::from_micros(200);
const SLOW_POLL: Duration = Duration::from_millis(2);
const FAST_PHASE: Duration = Duration::from_millis(100);
const RESCAN_EVERY: Duration = Duration::from_millis(10);

struct Pending {
    view: SegmentView,
    pid: u32,
    start_ticks: Option<u64>,
}

/// Waits until every running hooked process in `dir` reports `generation`
/// (or a later one), at most `timeout` after `published_at`. Returns each
/// process's latency (`None`: not within the timeout) and whether any
/// process timed out.
pub fn wait_applied(
    dir: &Path,
    uid: u32,
    generation: u64,
    published_at: Instant,
    timeout: Duration,
) -> (Vec<ProcessApply>, bool) {
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut pending: BTreeMap<PathBuf, Pending> = BTreeMap::new();
    let mut results: Vec<ProcessApply> = Vec::new();
    let mut last_scan: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if last_scan.is_none_or(|t| now.saturating_duration_since(t) >= RESCAN_EVERY) {
            last_scan = Some(now);
            scan(dir, uid, &mut seen, &mut pending);
            pending.retain(|_, p| {
                p.start_ticks
                    .is_none_or(|ticks| process_liveness(p.pid, ticks) != Liveness::Gone)
            });
        }
        let now = Instant::now();
        pending.retain(|_, p| {
            // Polled every 0.2 ms: single loads, no header copy. A process
            // that moved to a successor segment (its function table grew)
            // reports there; the rescan finds it.
            if p.view.flags() & (flags::PROCESS_EXITED | flags::MOVED) != 0 {
                return false;
            }
            if p.view.settings_generation() >= generation {
                let latency = now.saturating_duration_since(published_at);
                results.push(ProcessApply {
                    pid: p.pid,
                    latency_ms: Some(latency.as_secs_f64() * 1e3),
                });
                return false;
            }
            true
        });
        let waited = now.saturating_duration_since(published_at);
        if pending.is_empty() || waited >= timeout {
            break;
        }
        std::thread::sleep(if waited < FAST_PHASE {
            FAST_POLL
        } else {
            SLOW_POLL
        });
    }
    let timed_out = !pending.is_empty();
    results.extend(pending.values().map(|p| ProcessApply {
        pid: p.pid,
        latency_ms: None,
    }));
    results.sort_by_key(|r| r.pid);
    (results, timed_out)
}

fn scan(
    dir: &Path,
    uid: u32,
    seen: &mut HashSet<PathBuf>,
    pending: &mut BTreeMap<PathBuf, Pending>,
) {
    let Ok(paths) = list_segments(dir) else {
        return;
    };
    for path in paths {
        if seen.contains(&path) {
            continue;
        }
        let Ok(view) = SegmentView::open(&path, uid) else {
            // Not ready yet, or not a segment: retried on the next scan only
            // if it was not ready (a bad one fails again, harmlessly).
            continue;
        };
        seen.insert(path.clone());
        let header = view.header();
        let start_ticks = super::sampler::start_ticks_from_name(&path);
        let running = !header.exited()
            && !header.moved()
            && start_ticks
                .is_none_or(|ticks| process_liveness(header.pid, ticks) != Liveness::Gone);
        if running {
            pending.insert(
                path,
                Pending {
                    pid: header.pid,
                    view,
                    start_ticks,
                },
            );
        }
    }
}

/// [`wait_applied`] as an [`ApplyReport`] (`started`: the workload's start).
pub fn measure_apply(
    dir: &Path,
    uid: u32,
    generation: u64,
    published_at: Instant,
    started: Instant,
    timeout: Duration,
) -> ApplyReport {
    let (processes, timed_out) = wait_applied(dir, uid, generation, published_at, timeout);
    let max_latency_ms = processes
        .iter()
        .filter_map(|p| p.latency_ms)
        .reduce(f64::max);
    ApplyReport {
        kind: "applied",
        generation,
        elapsed_s: published_at
            .saturating_duration_since(started)
            .as_secs_f64(),
        published_monotonic_ns: monotonic_ns_at(published_at),
        processes,
        max_latency_ms,
        timed_out,
    }
}

/// `CLOCK_MONOTONIC` in ns at `at` (Rust's `Instant` uses that clock on Linux).
pub fn monotonic_ns_at(at: Instant) -> u64 {
    let now = Instant::now();
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let now_ns = u64::try_from(ts.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(ts.tv_nsec).unwrap_or(0));
    let ago = u64::try_from(now.saturating_duration_since(at).as_nanos()).unwrap_or(u64::MAX);
    now_ns.saturating_sub(ago)
}
