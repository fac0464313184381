//! Totals of a run: every hooked process's segment in a session directory,
//! summed per function name, per pattern and per progress name.
//!
//! Used by the hook's exit summary (the root process of a run without a
//! launcher) and by `inspect`; `run`'s live aggregation sums the same
//! [`Counts`] and warns with the same [`segment_warning`]s. Segments that
//! fail validation are skipped and named in `warnings`, never fatal.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use crate::ipc::{FunctionKind, FunctionSample, PatternSample, SegmentView, flags, list_segments};

/// Calls, delayed calls and injected time: what a segment counts per
/// function and per pattern, and what every summary sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Counts {
    /// Matching calls seen, delayed or not.
    pub calls: u64,
    /// Calls that got a delay.
    pub delayed_calls: u64,
    /// Delay actually spun, in ns (as the hook measured it).
    pub injected_ns: u64,
    /// Own time, in ns: time inside the matched pattern, outermost entries
    /// only, suspended generators excluded; 0 unless the settings asked for
    /// it (docs/ranking.md, "Own time per unit").
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "crate::totals::is_zero")
    )]
    pub own_ns: u64,
}

/// Whether a count is 0 (`own_ns` is left out of JSON while unmeasured).
pub fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl Counts {
    /// Adds `other` (saturating).
    pub fn add(&mut self, other: Counts) {
        self.calls = self.calls.saturating_add(other.calls);
        self.delayed_calls = self.delayed_calls.saturating_add(other.delayed_calls);
        self.injected_ns = self.injected_ns.saturating_add(other.injected_ns);
        self.own_ns = self.own_ns.saturating_add(other.own_ns);
    }

    /// `self - earlier`, per field, never below 0.
    pub fn since(self, earlier: Counts) -> Counts {
        Counts {
            calls: self.calls.saturating_sub(earlier.calls),
            delayed_calls: self.delayed_calls.saturating_sub(earlier.delayed_calls),
            injected_ns: self.injected_ns.saturating_sub(earlier.injected_ns),
            own_ns: self.own_ns.saturating_sub(earlier.own_ns),
        }
    }

    /// True when every field is 0.
    pub fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
}

impl From<&FunctionSample> for Counts {
    fn from(f: &FunctionSample) -> Self {
        Counts {
            calls: f.calls,
            delayed_calls: f.delayed_calls,
            injected_ns: f.injected_ns,
            own_ns: f.own_ns,
        }
    }
}

impl From<&PatternSample> for Counts {
    fn from(p: &PatternSample) -> Self {
        Counts {
            calls: p.calls,
            delayed_calls: p.delayed_calls,
            injected_ns: p.injected_ns,
            own_ns: p.own_ns,
        }
    }
}

/// The warnings a process's segment flags raise ([`flags::WARNINGS`]), as
/// every summary words them: `process <pid> (<label>): <what>`.
pub fn segment_warnings(pid: u32, label: &str, bits: u32) -> impl Iterator<Item = (u32, String)> {
    let label = short_label(label);
    flags::warnings(bits).map(move |(flag, what)| (flag, segment_warning(pid, &label, what)))
}

fn segment_warning(pid: u32, short_label: &str, what: &str) -> String {
    format!("process {pid} ({short_label}): {what}")
}

/// A label cut to 60 characters for messages.
fn short_label(label: &str) -> String {
    const MAX: usize = 60;
    if label.chars().count() <= MAX {
        label.to_owned()
    } else {
        let cut: String = label.chars().take(MAX).collect();
        format!("{cut}…")
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
            total.add(p.counts);
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
    // A process has several segments when its function table grew (see
    // "Growing the function table" in `ipc::layout`): each holds the counts
    // it got, so they add up, but the process and each function it ran
    // count once.
    let mut process_index: HashMap<(u32, u64), usize> = HashMap::new();
    let mut ran: HashSet<(Arc<str>, (u32, u64))> = HashSet::new();
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
        let key = (header.pid, header.process_start_boottime_ns);
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
            process.counts.add(Counts::from(f));
            let first_segment_to_run_it = ran.insert((Arc::clone(&f.name), key));
            let entry = functions
                .entry(f.name.to_string())
                .or_insert_with(|| FunctionTotals {
                    name: f.name.to_string(),
                    kind: f.kind,
                    pattern: pattern_text(f.pattern_slot),
                    processes: 0,
                    counts: Counts::default(),
                });
            if first_segment_to_run_it {
                entry.processes += 1;
            }
            entry.counts.add(Counts::from(f));
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
            entry.counts.add(Counts::from(p));
        }
        for p in &sample.progress {
            *progress.entry(p.name.to_string()).or_default() += p.units;
        }
        totals
            .warnings
            .extend(segment_warnings(process.pid, &process.label, sample.flags).map(|(_, w)| w));
        match process_index
            .get(&key)
            .and_then(|&i| totals.processes.get_mut(i))
        {
            Some(earlier) => {
                earlier.exited |= process.exited;
                // A successor lists its predecessor's functions again.
                earlier.functions_matched =
                    earlier.functions_matched.max(process.functions_matched);
                earlier.counts.add(process.counts);
            }
            None => {
                process_index.insert(key, totals.processes.len());
                totals.processes.push(process);
            }
        }
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
