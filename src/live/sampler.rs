//! Finds the segments of a session as processes appear, and samples them.
//!
//! [`SegmentSet`] rescans the session directory when its modification time
//! changes (one `stat` per tick) and at least once a second (a process's
//! first counts wait in its segment until found), opens
//! each new `*.seg` file with [`SegmentView::open`], and feeds one sample of
//! every tracked segment per tick to an [`Aggregator`]. A segment that fails
//! validation, now or later, is skipped with one warning naming the file and
//! the problem, and never retried; one still being created (all-zero magic)
//! is retried quietly for a while.
//!
//! A process whose function table filled moves to a successor segment (see
//! "Growing the function table" in `speedbump_core::ipc::layout`). Its
//! predecessor is read until it says so (`MOVED`), once more for its final
//! counts, and then no more; the successor is read only from the next tick
//! on, so the aggregator always gets a process's samples in order.
//!
//! Liveness: a segment's process is looked up in `/proc` (pid and start
//! time from the file name) about once a second. A process that is gone gets
//! one last sample and its mapping is dropped; the mapping stays readable
//! even when the file is removed, so a vanished file loses nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::aggregate::{Aggregator, ProcessKey, ProcessMeta, ProcessStatus};
use crate::ipc::procfs::{Liveness, process_liveness};
use crate::ipc::{
    DrainReport, HeaderInfo, IpcError, LatencyEvent, RingConsumer, Sample, SegmentView,
    list_segments,
};

/// How long a segment may stay "not ready" before it is reported.
const NOT_READY_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Tracked {
    key: ProcessKey,
    meta: ProcessMeta,
    start_ticks: Option<u64>,
    view: Option<SegmentView>,
    scratch: Sample,
    /// The consumer side of the segment's latency ring (this launcher is
    /// the ring's one consumer).
    ring: Option<RingConsumer>,
    events: Vec<LatencyEvent>,
    /// The segment's table epoch (0: the process's first segment).
    table_epoch: u32,
}

/// The segments of one session directory.
#[derive(Debug)]
pub struct SegmentSet {
    dir: PathBuf,
    uid: u32,
    tracked: BTreeMap<PathBuf, Tracked>,
    skipped: HashSet<PathBuf>,
    not_ready: BTreeMap<PathBuf, Instant>,
    dir_warned: bool,
    dir_mtime: Option<(i64, i64)>,
    last_full_scan: Option<Instant>,
}

impl SegmentSet {
    /// Segments of `dir` written by user `uid`.
    pub fn new(dir: &Path, uid: u32) -> Self {
        Self {
            dir: dir.to_path_buf(),
            uid,
            tracked: BTreeMap::new(),
            skipped: HashSet::new(),
            not_ready: BTreeMap::new(),
            dir_warned: false,
            dir_mtime: None,
            last_full_scan: None,
        }
    }

    /// Scans when the directory changed since the last scan (one `stat`),
    /// when segments wait to become ready, and at least every `full_every`.
    pub fn scan_if_changed(&mut self, agg: &mut Aggregator, now: Instant, full_every: Duration) {
        use std::os::unix::fs::MetadataExt;
        let mtime = std::fs::metadata(&self.dir)
            .ok()
            .map(|m| (m.mtime(), m.mtime_nsec()));
        let due = self
            .last_full_scan
            .is_none_or(|t| now.saturating_duration_since(t) >= full_every);
        if due || mtime != self.dir_mtime || !self.not_ready.is_empty() {
            self.dir_mtime = mtime;
            self.last_full_scan = Some(now);
            self.scan(agg, now);
        }
    }

    /// Opens the segments that appeared since the last scan; problems go to
    /// `agg`'s warnings (once per file).
    pub fn scan(&mut self, agg: &mut Aggregator, now: Instant) {
        let paths = match list_segments(&self.dir) {
            Ok(paths) => paths,
            Err(e) => {
                if !self.dir_warned && !e.is_transient() {
                    self.dir_warned = true;
                    agg.warn(format!(
                        "cannot list the session directory: {}",
                        crate::error::chain(&e)
                    ));
                }
                return;
            }
        };
        for path in paths {
            if self.tracked.contains_key(&path) || self.skipped.contains(&path) {
                continue;
            }
            match SegmentView::open(&path, self.uid) {
                Ok(view) => {
                    self.not_ready.remove(&path);
                    let ring = match view.latency_ring(self.uid) {
                        Ok(ring) => ring,
                        Err(e) => {
                            agg.warn(format!(
                                "cannot read a latency ring (its process's request latencies \
                                 are missing): {e}"
                            ));
                            None
                        }
                    };
                    let header = view.header();
                    let tracked = Tracked {
                        key: key_of(&header),
                        meta: ProcessMeta {
                            pid: header.pid,
                            parent_pid: header.parent_pid,
                            label: header.label.clone(),
                        },
                        start_ticks: start_ticks_from_name(&path),
                        view: Some(view),
                        scratch: Sample::default(),
                        ring,
                        events: Vec::new(),
                        table_epoch: header.table_epoch,
                    };
                    self.tracked.insert(path, tracked);
                }
                Err(e) if matches!(e, IpcError::NotReady { .. }) => {
                    let first = *self.not_ready.entry(path.clone()).or_insert(now);
                    if now.saturating_duration_since(first) > NOT_READY_GRACE {
                        self.skip(agg, path, &e);
                    }
                }
                // Vanished between listing and opening.
                Err(e) if e.is_transient() => {}
                Err(e) => self.skip(agg, path, &e),
            }
        }
    }

    fn skip(&mut self, agg: &mut Aggregator, path: PathBuf, error: &IpcError) {
        self.not_ready.remove(&path);
        agg.warn(format!("skipped a segment: {}", crate::error::chain(error)));
        self.skipped.insert(path);
    }

    /// Samples every tracked segment into `agg` (within a tick). With
    /// `check_liveness`, processes are also looked up in `/proc`; those that
    /// are gone get a last sample and are no longer sampled. Returns true
    /// when a successor segment waited for its predecessor's final sample
    /// (it is read on the next call).
    pub fn sample_all(&mut self, agg: &mut Aggregator, check_liveness: bool) -> bool {
        let mut failed: Vec<(PathBuf, IpcError)> = Vec::new();
        // The lowest table epoch still read per process: a successor waits
        // until every earlier segment of its process gave its final counts.
        let mut reading: HashMap<ProcessKey, u32> = HashMap::new();
        for t in self.tracked.values().filter(|t| t.view.is_some()) {
            let lowest = reading.entry(t.key).or_insert(t.table_epoch);
            *lowest = (*lowest).min(t.table_epoch);
        }
        let mut waited = false;
        for (path, t) in &mut self.tracked {
            let Some(view) = t.view.as_mut() else {
                continue;
            };
            if reading
                .get(&t.key)
                .is_some_and(|&lowest| lowest < t.table_epoch)
            {
                waited = true;
                continue;
            }
            let alive = !check_liveness || is_alive(t.meta.pid, t.start_ticks);
            // Drain before sampling: every function id in a record was
            // published before the record, so the sample names them all.
            t.events.clear();
            let mut drained = drain(t.ring.as_mut(), &mut t.events);
            let before = view.settings_generation();
            let mut sampled = view.sample_into(&mut t.scratch);
            let moved = sampled.is_ok() && t.scratch.moved();
            if moved {
                // The counters were read before the flag that says they are
                // final: read them (and the ring) once more, after it.
                let more = drain(t.ring.as_mut(), &mut t.events);
                if let (Some(first), Some(more)) = (drained.as_mut(), more) {
                    first.merge(more);
                }
                sampled = view.sample_into(&mut t.scratch);
            }
            match sampled {
                Ok(()) => {
                    let stable = before == t.scratch.generation;
                    agg.observe(t.key, &t.meta, &mut t.scratch, stable);
                    if let Some(report) = drained {
                        agg.observe_latency(t.key, &t.events, report);
                    }
                }
                Err(e) => {
                    failed.push((path.clone(), e));
                    t.view = None;
                    continue;
                }
            }
            if moved {
                // The process counts in its successor from now on.
                t.view = None;
                t.ring = None;
                continue;
            }
            if !alive {
                t.view = None;
                let status = agg.status(&t.key);
                if status == Some(ProcessStatus::Running) {
                    agg.set_status(t.key, ProcessStatus::Gone);
                }
            }
        }
        for (path, e) in failed {
            agg.warn(format!(
                "stopped reading a segment (its last counts are kept): {e}"
            ));
            if let Some(t) = self.tracked.get(&path)
                && agg.status(&t.key) == Some(ProcessStatus::Running)
            {
                agg.set_status(t.key, ProcessStatus::Gone);
            }
        }
        waited
    }

    /// After the workload ended: finds the last segments, samples all once
    /// more and marks every process that is not running any more.
    /// Successors waiting for their predecessor are read in further passes
    /// (one per table epoch).
    pub fn final_pass(&mut self, agg: &mut Aggregator, now: Instant) {
        self.scan(agg, now);
        for _ in 0..=MAX_FINAL_PASSES {
            agg.begin_tick();
            let waited = self.sample_all(agg, true);
            agg.end_tick(now);
            if !waited {
                break;
            }
        }
    }

    /// Tracked segments (readable or not).
    pub fn len(&self) -> usize {
        self.tracked.len()
    }

    /// True when no segment is tracked.
    pub fn is_empty(&self) -> bool {
        self.tracked.is_empty()
    }
}

/// Extra passes the final pass makes for successor segments (a process's
/// table grows at most this many times: 16k to 4M functions, by 4).
const MAX_FINAL_PASSES: usize = 5;

/// Drains `ring` (if any) into `events`.
fn drain(ring: Option<&mut RingConsumer>, events: &mut Vec<LatencyEvent>) -> Option<DrainReport> {
    ring.map(|ring| ring.drain(|e| events.push(e)))
}

/// The process key of a segment: pid and start time from its header.
fn key_of(header: &HeaderInfo) -> ProcessKey {
    ProcessKey {
        pid: header.pid,
        start: header.process_start_boottime_ns,
    }
}

/// Start ticks from `p-<pid>-<ticks>.seg`.
pub(crate) fn start_ticks_from_name(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_prefix("p-")?.strip_suffix(".seg")?;
    let (_, ticks) = stem.split_once('-')?;
    ticks.parse().ok()
}

fn is_alive(pid: u32, start_ticks: Option<u64>) -> bool {
    match start_ticks {
        Some(ticks) => process_liveness(pid, ticks) != Liveness::Gone,
        None => {
            let Some(pid) = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            else {
                return false;
            };
            rustix::process::test_kill_process(pid).is_ok()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ticks_come_from_the_file_name() {
        assert_eq!(
            start_ticks_from_name(Path::new("/s/p-12-345.seg")),
            Some(345)
        );
        assert_eq!(start_ticks_from_name(Path::new("/s/junk.seg")), None);
    }
}
