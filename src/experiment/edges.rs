//! Cumulative counters of every hooked process at one instant (a window
//! edge), and what happened between two edges.
//!
//! A window is measured as the difference of two edges, never from rates:
//! counters only grow, so the difference is exact whatever the sampling
//! period. Per process, the difference counts only if the process applied
//! the window's settings generation at both edges (a process that was late
//! to apply a change would mix two settings; it is left out and named). A
//! process whose segment appeared during the window (created after the
//! first edge) counts from zero. Segments stay mapped once opened, so a
//! process that exits during the window keeps its final counts.
//!
//! A process whose function table grew has several segments (see "Growing
//! the function table" in `speedbump_core::ipc::layout`): each holds the
//! counts it got, so its edge is their sum, under the settings generation
//! of the latest one (the others stopped counting).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::ipc::clock::now_unix_ns;
use crate::ipc::{IpcError, Sample, SegmentView, list_segments};
use crate::live::snapshot::Counts;

/// One process at an edge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessEdge {
    /// Process id.
    pub pid: u32,
    /// Settings generation it applied when sampled.
    pub generation: u64,
    /// When its segment was created, ns since the Unix epoch.
    pub created_unix_ns: u64,
    /// Calls, delayed calls and injected ns over all its functions.
    pub counts: Counts,
    /// Units per progress name (`""`: the unnamed counter; a progress
    /// point's name is its pattern text).
    pub progress: BTreeMap<Arc<str>, u64>,
    /// Counts per function (`module:qualname`), when asked for.
    pub functions: Vec<(Arc<str>, Counts)>,
}

/// Every hooked process's counters at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// When the edge was read.
    pub at: Instant,
    /// The same, in ns since the Unix epoch (to compare with segment
    /// creation times).
    pub unix_ns: u64,
    /// Processes by (pid, start time).
    pub processes: BTreeMap<(u32, u64), ProcessEdge>,
}

/// What happened between two edges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta {
    /// Totals over the processes counted.
    pub counts: Counts,
    /// Units per progress name over the processes counted.
    pub progress: BTreeMap<String, u64>,
    /// Counts per function over the processes counted (when read).
    pub functions: BTreeMap<String, Counts>,
    /// Processes counted.
    pub processes: usize,
    /// Pids left out because they did not apply the window's generation
    /// at both edges.
    pub left_out: Vec<u32>,
}

struct Tracked {
    view: SegmentView,
    key: (u32, u64),
    created_unix_ns: u64,
    table_epoch: u32,
    scratch: Sample,
}

/// Reads edges of one session directory.
pub struct EdgeReader {
    dir: PathBuf,
    uid: u32,
    tracked: BTreeMap<PathBuf, Tracked>,
    skipped: HashSet<PathBuf>,
}

impl std::fmt::Debug for EdgeReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeReader")
            .field("dir", &self.dir)
            .field("segments", &self.tracked.len())
            .finish_non_exhaustive()
    }
}

impl EdgeReader {
    /// A reader of the segments in `dir` written by user `uid`.
    pub fn new(dir: &Path, uid: u32) -> EdgeReader {
        EdgeReader {
            dir: dir.to_path_buf(),
            uid,
            tracked: BTreeMap::new(),
            skipped: HashSet::new(),
        }
    }

    /// Looks for new segments and samples every one. `functions`: also keep
    /// counts per function (a census). Returns the edge and warnings about
    /// segments that failed validation (each named once, then skipped).
    pub fn read(&mut self, functions: bool) -> (Edge, Vec<String>) {
        let mut warnings = self.scan();
        let at = Instant::now();
        let unix_ns = now_unix_ns();
        let mut processes: BTreeMap<(u32, u64), ProcessEdge> = BTreeMap::new();
        // The latest table epoch read per process.
        let mut epochs: BTreeMap<(u32, u64), u32> = BTreeMap::new();
        let mut failed = Vec::new();
        for (path, t) in &mut self.tracked {
            if let Err(e) = t.view.sample_into(&mut t.scratch) {
                warnings.push(format!("skipped segment {}: {e}", path.display()));
                failed.push(path.clone());
                continue;
            }
            let edge = process_edge(t, functions);
            match processes.get_mut(&t.key) {
                Some(earlier) => {
                    let latest = epochs.entry(t.key).or_insert(0);
                    let newer = t.table_epoch > *latest;
                    *latest = (*latest).max(t.table_epoch);
                    merge_segment(earlier, edge, newer);
                }
                None => {
                    epochs.insert(t.key, t.table_epoch);
                    processes.insert(t.key, edge);
                }
            }
        }
        for path in failed {
            self.tracked.remove(&path);
            self.skipped.insert(path);
        }
        (
            Edge {
                at,
                unix_ns,
                processes,
            },
            warnings,
        )
    }

    fn scan(&mut self) -> Vec<String> {
        let mut warnings = Vec::new();
        let Ok(paths) = list_segments(&self.dir) else {
            return warnings;
        };
        for path in paths {
            if self.tracked.contains_key(&path) || self.skipped.contains(&path) {
                continue;
            }
            match SegmentView::open(&path, self.uid) {
                Ok(view) => {
                    let header = view.header();
                    let tracked = Tracked {
                        key: (header.pid, header.process_start_boottime_ns),
                        created_unix_ns: header.created_unix_ns,
                        table_epoch: header.table_epoch,
                        view,
                        scratch: Sample::default(),
                    };
                    self.tracked.insert(path, tracked);
                }
                // Still being created: the next edge will find it.
                Err(IpcError::NotReady { .. }) => {}
                Err(e) => {
                    warnings.push(format!("skipped segment {}: {e}", path.display()));
                    self.skipped.insert(path);
                }
            }
        }
        warnings
    }
}

fn process_edge(t: &Tracked, functions: bool) -> ProcessEdge {
    let sample = &t.scratch;
    let mut counts = Counts::default();
    let mut per_function = Vec::new();
    for f in &sample.functions {
        let c = Counts::from(f);
        counts.add(c);
        if functions {
            per_function.push((Arc::clone(&f.name), c));
        }
    }
    let mut progress: BTreeMap<Arc<str>, u64> = BTreeMap::new();
    for p in &sample.progress {
        let units = progress.entry(Arc::clone(&p.name)).or_insert(0);
        *units = units.saturating_add(p.units);
    }
    ProcessEdge {
        pid: t.key.0,
        generation: sample.generation,
        created_unix_ns: t.created_unix_ns,
        counts,
        progress,
        functions: per_function,
    }
}

/// Adds the edge of another segment of the same process to `into`;
/// `newer`: it is the process's latest segment, whose settings generation
/// is the process's.
fn merge_segment(into: &mut ProcessEdge, other: ProcessEdge, newer: bool) {
    into.counts.add(other.counts);
    for (name, units) in other.progress {
        let total = into.progress.entry(name).or_insert(0);
        *total = total.saturating_add(units);
    }
    if !other.functions.is_empty() {
        let mut by_name: BTreeMap<Arc<str>, Counts> =
            std::mem::take(&mut into.functions).into_iter().collect();
        for (name, counts) in other.functions {
            by_name.entry(name).or_default().add(counts);
        }
        into.functions = by_name.into_iter().collect();
    }
    into.created_unix_ns = into.created_unix_ns.min(other.created_unix_ns);
    if newer {
        into.generation = other.generation;
    }
}

/// What happened between `start` and `end`, over the processes that
/// applied `generation` at both edges (`None`: every process counts).
pub fn delta(start: &Edge, end: &Edge, generation: Option<u64>) -> Delta {
    let empty = ProcessEdge::default();
    let mut out = Delta::default();
    for (key, last) in &end.processes {
        let first = match start.processes.get(key) {
            Some(first) => first,
            // Appeared during the window: its counters started at zero.
            None if last.created_unix_ns >= start.unix_ns => &empty,
            None => {
                out.left_out.push(last.pid);
                continue;
            }
        };
        let same = |p: &ProcessEdge| generation.is_none_or(|g| p.generation == g);
        let first_ok = std::ptr::eq(first, &empty) || same(first);
        if !first_ok || !same(last) {
            out.left_out.push(last.pid);
            continue;
        }
        out.processes += 1;
        out.counts.add(last.counts.since(first.counts));
        for (name, &units) in &last.progress {
            let before = first.progress.get(name).copied().unwrap_or(0);
            let total = out.progress.entry(name.to_string()).or_insert(0);
            *total = total.saturating_add(units.saturating_sub(before));
        }
        if !last.functions.is_empty() {
            let before: BTreeMap<&str, Counts> = first
                .functions
                .iter()
                .map(|(n, c)| (n.as_ref(), *c))
                .collect();
            for (name, c) in &last.functions {
                let d = c.since(before.get(name.as_ref()).copied().unwrap_or_default());
                if !d.is_zero() {
                    out.functions.entry(name.to_string()).or_default().add(d);
                }
            }
        }
    }
    out.left_out.sort_unstable();
    out.left_out.dedup();
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn process(pid: u32, generation: u64, created: u64, calls: u64, units: u64) -> ProcessEdge {
        ProcessEdge {
            pid,
            generation,
            created_unix_ns: created,
            counts: Counts {
                calls,
                delayed_calls: calls,
                injected_ns: calls * 1000,
                own_ns: 0,
            },
            progress: [(Arc::from("steps"), units)].into_iter().collect(),
            functions: vec![(
                Arc::from("m:f"),
                Counts {
                    calls,
                    delayed_calls: calls,
                    injected_ns: calls * 1000,
                    own_ns: 0,
                },
            )],
        }
    }

    fn edge(unix_ns: u64, processes: Vec<ProcessEdge>) -> Edge {
        Edge {
            at: Instant::now(),
            unix_ns,
            processes: processes.into_iter().map(|p| ((p.pid, 0), p)).collect(),
        }
    }

    #[test]
    fn a_process_in_two_segments_counts_once_with_their_sum() {
        // Its table grew between the edges: the old segment froze at 16
        // calls (generation 5), the successor counted 7 more and then
        // applied generation 6.
        let start = edge(100, vec![process(1, 5, 10, 10, 2)]);
        let mut end_edge = process(1, 5, 10, 16, 3);
        merge_segment(&mut end_edge, process(1, 6, 50, 7, 1), true);
        assert_eq!(end_edge.generation, 6, "the latest segment's settings");
        assert_eq!(end_edge.created_unix_ns, 10);
        assert_eq!(end_edge.functions.len(), 1, "one row per name");
        let end = edge(200, vec![end_edge]);
        let d = delta(&start, &end, Some(6));
        assert_eq!(d.left_out, [1], "generation 5 at the start: left out");
        let d = delta(&start, &end, None);
        assert_eq!(d.processes, 1);
        assert_eq!(d.counts.calls, 16 + 7 - 10);
        assert_eq!(d.functions["m:f"].calls, 13);
        assert_eq!(d.progress["steps"], 2);
    }

    #[test]
    fn counts_processes_on_the_generation_and_newcomers() {
        let start = edge(100, vec![process(1, 5, 10, 10, 2), process(2, 4, 10, 0, 0)]);
        let end = edge(
            200,
            vec![
                process(1, 5, 10, 30, 7),
                process(2, 5, 10, 50, 9),  // late: generation 4 at the start
                process(3, 5, 150, 4, 1),  // appeared during the window
                process(4, 5, 50, 99, 99), // existed before, never seen: left out
            ],
        );
        let d = delta(&start, &end, Some(5));
        assert_eq!(d.processes, 2);
        assert_eq!(d.counts.calls, 20 + 4);
        assert_eq!(d.counts.injected_ns, 24_000);
        assert_eq!(d.progress["steps"], 5 + 1);
        assert_eq!(d.functions["m:f"].calls, 24);
        assert_eq!(d.left_out, [2, 4]);
        let all = delta(&start, &end, None);
        assert_eq!(all.processes, 3);
    }
}
