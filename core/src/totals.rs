//! Totals of a run: every hooked process's segment in a session directory,
//! summed per function name, per pattern and per progress name.
//!
//! Used by the hook's exit summary (the root process of a run without a
//! launcher) and by the launcher. Segments that fail validation are skipped
//! and named in `warnings`, never fatal.

use std::collections::BTreeMap;
use std::path::Path;

use crate::ipc::{FunctionKind, SegmentView, flags, list_segments};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub calls: u64,
    pub delayed_calls: u64,
    pub injected_ns: u64,
}

impl Counts {
    fn add(&mut self, calls: u64, delayed_calls: u64, injected_ns: u64) {
        self.calls += calls;
        self.delayed_calls += delayed_calls;
        self.injected_ns += injected_ns;
    }
}

#[derive(Debug, Clone)]
pub struct ProcessTotals {
    pub pid: u32,
    pub parent_pid: u32,
    pub label: String,
    pub exited: bool,
    pub functions_matched: u64,
    pub counts: Counts,
}

#[derive(Debug, Clone)]
pub struct FunctionTotals {
    /// `module:qualname`, or `<other>` for counts beyond the function table.
    pub name: String,
    pub kind: FunctionKind,
    /// Text of the include pattern that matched it.
    pub pattern: String,
    /// How many processes ran it.
    pub processes: u32,
    pub counts: Counts,
}

#[derive(Debug, Clone)]
pub struct PatternTotals {
    pub pattern: String,
    pub exclude: bool,
    /// Distinct functions it matched, summed over processes.
    pub functions_matched: u64,
    pub counts: Counts,
}

#[derive(Debug, Clone, Default)]
pub struct RunTotals {
    pub processes: Vec<ProcessTotals>,
    pub functions: Vec<FunctionTotals>,
    pub patterns: Vec<PatternTotals>,
    /// (progress name, units); the default name is "".
    pub progress: Vec<(String, u64)>,
    pub warnings: Vec<String>,
}

impl RunTotals {
    /// Distinct function names matched in any process (the `<other>` bucket excluded).
    pub fn functions_matched(&self) -> usize {
        self.functions
            .iter()
            .filter(|f| f.kind != FunctionKind::Other)
            .count()
    }

    pub fn counts(&self) -> Counts {
        let mut total = Counts::default();
        for p in &self.processes {
            total.add(p.counts.calls, p.counts.delayed_calls, p.counts.injected_ns);
        }
        total
    }
}

/// Reads and sums every segment in `session_dir` owned by `uid`.
pub fn collect_session(session_dir: &Path, uid: u32) -> RunTotals {
    let mut totals = RunTotals::default();
    let paths = match list_segments(session_dir) {
        Ok(paths) => paths,
        // No process matched anything, so none created the directory.
        Err(_) if !session_dir.exists() => Vec::new(),
        Err(error) => {
            totals
                .warnings
                .push(format!("cannot list {}: {error}", session_dir.display()));
            return totals;
        }
    };
    let mut functions: BTreeMap<String, FunctionTotals> = BTreeMap::new();
    // In the order the segments list them (file order), merged by text.
    let mut patterns: Vec<PatternTotals> = Vec::new();
    let mut progress: BTreeMap<String, u64> = BTreeMap::new();
    for path in paths {
        let sampled = SegmentView::open(&path, uid).and_then(|mut view| {
            let header = view.header();
            view.sample().map(|sample| (header, sample))
        });
        let (header, sample) = match sampled {
            Ok(ok) => ok,
            Err(error) => {
                totals
                    .warnings
                    .push(format!("skipped {}: {error}", path.display()));
                continue;
            }
        };
        let pattern_text = |slot: u32| -> String {
            sample
                .patterns
                .iter()
                .find(|p| p.id == slot)
                .map(|p| p.name.to_string())
                .unwrap_or_default()
        };
        let mut process = ProcessTotals {
            pid: header.pid,
            parent_pid: header.parent_pid,
            label: header.label.clone(),
            exited: header.exited(),
            functions_matched: 0,
            counts: Counts::default(),
        };
        for f in &sample.functions {
            if f.kind != FunctionKind::Other {
                process.functions_matched += 1;
            } else if f.calls == 0 {
                continue;
            }
            process.counts.add(f.calls, f.delayed_calls, f.injected_ns);
            let entry = functions
                .entry(f.name.to_string())
                .or_insert_with(|| FunctionTotals {
                    name: f.name.to_string(),
                    kind: f.kind,
                    pattern: pattern_text(f.pattern_slot),
                    processes: 0,
                    counts: Counts::default(),
                });
            entry.processes += 1;
            entry.counts.add(f.calls, f.delayed_calls, f.injected_ns);
        }
        for p in &sample.patterns {
            if p.id == 0 && p.calls == 0 {
                continue;
            }
            let index = match patterns
                .iter()
                .position(|t| t.pattern == *p.name && t.exclude == p.exclude)
            {
                Some(index) => index,
                None => {
                    patterns.push(PatternTotals {
                        pattern: p.name.to_string(),
                        exclude: p.exclude,
                        functions_matched: 0,
                        counts: Counts::default(),
                    });
                    patterns.len() - 1
                }
            };
            let entry = &mut patterns[index];
            entry.functions_matched += p.matched_functions;
            entry.counts.add(p.calls, p.delayed_calls, p.injected_ns);
        }
        for p in &sample.progress {
            *progress.entry(p.name.to_string()).or_default() += p.units;
        }
        for (flag, what) in [
            (
                flags::FUNCTION_TABLE_FULL,
                "its function table is full: functions matched after \
              that are counted together under <other>",
            ),
            (
                flags::NAME_ARENA_FULL,
                "its name table is full: some names show as <name lost>",
            ),
            (
                flags::PROGRESS_TABLE_FULL,
                "its progress table is full: further progress names \
              count under the default one",
            ),
        ] {
            if sample.flags & flag != 0 {
                totals
                    .warnings
                    .push(format!("process {}: {what}", process.pid));
            }
        }
        totals.processes.push(process);
    }
    totals.processes.sort_by_key(|p| p.pid);
    let mut functions: Vec<FunctionTotals> = functions.into_values().collect();
    functions.sort_by(|a, b| {
        b.counts
            .calls
            .cmp(&a.counts.calls)
            .then(a.name.cmp(&b.name))
    });
    totals.functions = functions;
    totals.patterns = patterns;
    totals.progress = progress
        .into_iter()
        .filter(|(_, units)| *units > 0)
        .collect();
    totals
}
