//! Sums the samples of every hooked process into totals and rates: per
//! function name, per pattern, per progress name.
//!
//! # Totals
//!
//! Counters in a segment only grow, so each new sample of a process adds its
//! increase over the process's previous sample to the totals. Totals are
//! therefore exactly the sum of every process's latest sample, and a
//! process that exits (or whose file vanishes) keeps its final counts in
//! them.
//!
//! # Rates, and settings generations
//!
//! Rates come from a ring of the last `window` sampling ticks. A tick's
//! increase counts towards the rates only if, for every process sampled in
//! it, the previous and the current sample belong to the same settings
//! generation (and the generation did not change while either was taken):
//! a rate never mixes two settings of one process. When a process changes
//! generation, the tick is left out (`complete: false`) and the whole
//! window is forgotten: rates start afresh from the new settings (the
//! process's next interval is its new baseline), so neither one process's
//! rate nor an aggregate ever mixes old and new behaviour.
//! A process's first sample is a baseline too; what it did before it is in
//! the totals, not in the rates.
//!
//! # A process that moves to a successor segment
//!
//! When a process's function table fills, its hook moves to a successor
//! segment with the same ids and counters from zero (a higher
//! [`Sample::table_epoch`]; see "Growing the function table" in
//! `speedbump_core::ipc::layout`). The sampler hands over the predecessor's
//! final sample first; the successor's first sample then counts from a
//! zeroed copy of the previous one, so totals and rates go on as if the
//! process had one segment.
//!
//! Each aggregated tick costs one pass over the rows (to reset their ring
//! slot) and one pass over each sampled process's entries; names are hashed
//! only when an entry is first seen.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use super::latency::{Cut, LatencyCounts, LatencyReport, LatencyTable};
use super::snapshot::{
    Counts, FunctionReading, PatternReading, ProcessCounts, ProcessReport, Rates,
};
use crate::ipc::{DrainReport, FunctionKind, LatencyEvent, Sample, flags};
use crate::totals::segment_warnings;

/// One hooked process: its pid and start time (so a reused pid is another
/// process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessKey {
    /// Process id.
    pub pid: u32,
    /// Process start (any unit, e.g. boot-time ns from the segment header).
    pub start: u64,
}

/// Where a process stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessStatus {
    /// Still running.
    Running,
    /// Marked its clean exit in its segment.
    Exited,
    /// Ended without that mark (killed, crashed, `os._exit`).
    Gone,
}

impl ProcessStatus {
    /// `running`, `exited` or `gone`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Exited => "exited",
            Self::Gone => "gone",
        }
    }
}

/// What is known about a process besides its counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessMeta {
    /// Process id.
    pub pid: u32,
    /// Parent process id when it started.
    pub parent_pid: u32,
    /// Command line.
    pub label: String,
}

/// How rates are computed for readings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateBasis {
    /// Over the ring of recent ticks.
    Window,
    /// Totals over this many seconds (the run's wall time).
    Wall(f64),
}

/// Totals and recent per-tick increases of one row.
#[derive(Debug, Clone)]
struct Series {
    totals: Counts,
    ring: Box<[Counts]>,
}

impl Series {
    fn new(window: usize) -> Self {
        Self {
            totals: Counts::default(),
            ring: vec![Counts::default(); window].into_boxed_slice(),
        }
    }

    fn add(&mut self, delta: Counts, slot: Option<usize>) {
        self.totals.add(delta);
        if let Some(counts) = slot.and_then(|s| self.ring.get_mut(s)) {
            counts.add(delta);
        }
    }

    fn clear_slot(&mut self, slot: usize) {
        if let Some(counts) = self.ring.get_mut(slot) {
            *counts = Counts::default();
        }
    }

    fn window_sum(&self) -> Counts {
        let mut sum = Counts::default();
        for counts in self.ring.iter() {
            sum.add(*counts);
        }
        sum
    }
}

#[derive(Debug)]
struct FunctionRow {
    name: Arc<str>,
    kind: FunctionKind,
    pattern: Arc<str>,
    processes: u32,
    series: Series,
}

#[derive(Debug)]
struct PatternRow {
    text: Arc<str>,
    exclude: bool,
    generations: Vec<u64>,
    functions_matched: u64,
    series: Series,
}

#[derive(Debug)]
struct ProgressRow {
    name: Arc<str>,
    /// Units are kept in `calls`.
    series: Series,
}

#[derive(Debug)]
struct ProcessEntry {
    meta: ProcessMeta,
    status: ProcessStatus,
    last: Sample,
    has_last: bool,
    last_tick: u64,
    last_stable: bool,
    /// Per function id: row index, and whether this process has called it.
    function_rows: Vec<(usize, bool)>,
    pattern_rows: Vec<usize>,
    progress_rows: Vec<usize>,
    totals: Counts,
    functions_matched: u64,
    warned: u32,
    /// Latency records its ring dropped: in segments it moved away from,
    /// and (table epoch, count) in the latest one.
    dropped_before: u64,
    dropped_latest: (u32, u64),
}

impl ProcessEntry {
    fn new(meta: ProcessMeta) -> Self {
        Self {
            meta,
            status: ProcessStatus::Running,
            last: Sample::default(),
            has_last: false,
            last_tick: 0,
            last_stable: false,
            function_rows: Vec::new(),
            pattern_rows: Vec::new(),
            progress_rows: Vec::new(),
            totals: Counts::default(),
            functions_matched: 0,
            warned: 0,
            dropped_before: 0,
            dropped_latest: (0, 0),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct TickState {
    complete: bool,
    intervals: u32,
    new_processes: u32,
    /// A process changed settings generation: rates start afresh.
    generation_changed: bool,
}

/// The running sums over every process; see the module docs.
#[derive(Debug)]
pub struct Aggregator {
    window: usize,
    tick: u64,
    slot: usize,
    durations: Box<[f64]>,
    last_tick_at: Option<Instant>,
    state: TickState,
    last_complete: bool,
    processes: BTreeMap<ProcessKey, ProcessEntry>,
    functions: Vec<FunctionRow>,
    function_index: HashMap<(Arc<str>, FunctionKind), usize>,
    patterns: Vec<PatternRow>,
    pattern_index: HashMap<(Arc<str>, bool), usize>,
    progress: Vec<ProgressRow>,
    progress_index: HashMap<Arc<str>, usize>,
    warnings: Vec<String>,
    warnings_taken: usize,
    latency: LatencyTable,
}

impl Aggregator {
    /// An aggregator whose rates cover the last `window_ticks` ticks (at
    /// least 1).
    pub fn new(window_ticks: usize) -> Self {
        let window = window_ticks.max(1);
        Self {
            window,
            tick: 0,
            slot: 0,
            durations: vec![0.0; window].into_boxed_slice(),
            last_tick_at: None,
            state: TickState::default(),
            last_complete: true,
            processes: BTreeMap::new(),
            functions: Vec::new(),
            function_index: HashMap::new(),
            patterns: Vec::new(),
            pattern_index: HashMap::new(),
            progress: Vec::new(),
            progress_index: HashMap::new(),
            warnings: Vec::new(),
            warnings_taken: 0,
            latency: LatencyTable::new(window),
        }
    }

    /// Starts a sampling tick: the oldest ring slot is reused.
    pub fn begin_tick(&mut self) {
        self.tick = self.tick.saturating_add(1);
        self.slot = usize::try_from(self.tick % self.window as u64).unwrap_or(0);
        self.clear_slot();
        self.state = TickState {
            complete: true,
            intervals: 0,
            new_processes: 0,
            generation_changed: false,
        };
    }

    /// Forgets every tick of the window (after a generation change, rates
    /// start again from the new settings only).
    fn clear_window(&mut self) {
        let slot = self.slot;
        for i in 0..self.window {
            self.slot = i;
            self.clear_slot();
        }
        self.slot = slot;
    }

    fn clear_slot(&mut self) {
        let slot = self.slot;
        if let Some(d) = self.durations.get_mut(slot) {
            *d = 0.0;
        }
        for row in &mut self.functions {
            row.series.clear_slot(slot);
        }
        for row in &mut self.patterns {
            row.series.clear_slot(slot);
        }
        for row in &mut self.progress {
            row.series.clear_slot(slot);
        }
        self.latency.clear_slot(slot);
    }

    /// Adds the latency records drained from one process's ring in this
    /// tick. Call it after [`Self::observe`] of the same process's sample
    /// taken after the drain, so every function id is named.
    pub fn observe_latency(
        &mut self,
        key: ProcessKey,
        events: &[LatencyEvent],
        report: DrainReport,
    ) {
        let slot = self.slot;
        let mut dropped = report.dropped_total;
        if let Some(entry) = self.processes.get_mut(&key) {
            // Each segment's ring counts its drops from zero.
            let epoch = entry.last.table_epoch;
            if epoch > entry.dropped_latest.0 {
                entry.dropped_before = entry.dropped_before.saturating_add(entry.dropped_latest.1);
            }
            entry.dropped_latest = (epoch, report.dropped_total);
            dropped = entry.dropped_before.saturating_add(report.dropped_total);
        }
        let entry = self.processes.get(&key);
        let mut unnamed = 0u64;
        for event in events {
            let name = entry.and_then(|e| {
                usize::try_from(event.function.0)
                    .ok()
                    .and_then(|i| e.last.functions.get(i))
                    .map(|f| &f.name)
            });
            match name {
                Some(name) => self.latency.record(name, event, slot),
                None => unnamed = unnamed.saturating_add(1),
            }
        }
        self.latency
            .add_invalid(report.invalid.saturating_add(unnamed));
        self.latency.set_dropped((key.pid, key.start), dropped);
        if let Some(head) = report.corrupt_head {
            let pid = key.pid;
            self.warn(format!(
                "process {pid}: its latency ring was corrupt (head {head}); its pending records \
                 were skipped"
            ));
        }
    }

    /// Latency figures: over the rate window ([`RateBasis::Window`]) or the
    /// whole run.
    pub fn latency_report(&self, basis: RateBasis) -> LatencyReport {
        self.latency.report(matches!(basis, RateBasis::Window))
    }

    /// Opens the latency cuts asked for before this tick's drain
    /// ([`LatencyTable::open_cuts`]).
    pub fn open_latency_cuts(&mut self, asked: Vec<(u64, u64)>) {
        self.latency.open_cuts(asked);
    }

    /// The cuts opened this tick, complete after its drain.
    pub fn close_latency_cuts(&mut self) -> Vec<(u64, Cut)> {
        self.latency.close_cuts()
    }

    /// The run's cumulative latency counts per latency point.
    pub fn latency_totals(&self) -> Vec<(Arc<str>, LatencyCounts)> {
        self.latency.totals()
    }

    /// Adds one process's sample taken in this tick. `stable` is false when
    /// the process's settings generation changed while the sample was
    /// taken. `sample` is swapped with the process's previous sample (so the
    /// caller can reuse its allocations for the next one).
    pub fn observe(
        &mut self,
        key: ProcessKey,
        meta: &ProcessMeta,
        sample: &mut Sample,
        stable: bool,
    ) {
        let tick = self.tick;
        let slot = self.slot;
        let window = self.window;
        let entry = self
            .processes
            .entry(key)
            .or_insert_with(|| ProcessEntry::new(meta.clone()));
        if entry.has_last && sample.table_epoch != entry.last.table_epoch {
            if sample.table_epoch < entry.last.table_epoch {
                // A segment the process already moved away from: its final
                // counts are in (the sampler reads a successor only after
                // them).
                return;
            }
            // The process moved to a successor segment (its function table
            // grew): the same ids, counters from zero again.
            entry.last.zero_counters();
            entry.last.table_epoch = sample.table_epoch;
        }
        let valid = entry.has_last
            && entry.last_stable
            && stable
            && entry.last.generation == sample.generation
            && entry.last_tick.checked_add(1) == Some(tick);
        if entry.has_last && (!stable || entry.last.generation != sample.generation) {
            self.state.generation_changed = true;
        }
        if !entry.has_last {
            self.state.new_processes = self.state.new_processes.saturating_add(1);
        } else if valid {
            self.state.intervals = self.state.intervals.saturating_add(1);
        } else {
            self.state.complete = false;
        }
        let ring_slot = valid.then_some(slot);

        let mut matched = 0u64;
        for (index, f) in sample.functions.iter().enumerate() {
            let before = entry
                .last
                .functions
                .get(index)
                .filter(|p| p.id == f.id)
                .map(Counts::from)
                .unwrap_or_default();
            let delta = Counts::from(f).since(before);
            if f.kind != FunctionKind::Other {
                matched = matched.saturating_add(1);
            }
            let row_index = match entry.function_rows.get(index) {
                Some(&(row, _)) => row,
                None => {
                    let key = (Arc::clone(&f.name), f.kind);
                    let row = *self.function_index.entry(key).or_insert_with(|| {
                        self.functions.push(FunctionRow {
                            name: Arc::clone(&f.name),
                            kind: f.kind,
                            pattern: Arc::from(""),
                            processes: 0,
                            series: Series::new(window),
                        });
                        self.functions.len().saturating_sub(1)
                    });
                    entry.function_rows.push((row, false));
                    row
                }
            };
            let Some(row) = self.functions.get_mut(row_index) else {
                continue;
            };
            if let Some(called) = entry.function_rows.get_mut(index).map(|r| &mut r.1)
                && !*called
                && f.calls > 0
            {
                *called = true;
                row.processes = row.processes.saturating_add(1);
            }
            if delta.calls > 0 || row.pattern.is_empty() {
                let pattern_slot = usize::try_from(f.pattern_slot).unwrap_or(usize::MAX);
                if let Some(p) = sample.patterns.get(pattern_slot) {
                    row.pattern = Arc::clone(&p.name);
                }
            }
            row.series.add(delta, ring_slot);
            entry.totals.add(delta);
        }
        entry.functions_matched = matched;

        for (index, p) in sample.patterns.iter().enumerate() {
            let before = entry.last.patterns.get(index).filter(|q| q.id == p.id);
            let delta = Counts::from(p).since(before.map(Counts::from).unwrap_or_default());
            let matched_delta = p
                .matched_functions
                .saturating_sub(before.map_or(0, |q| q.matched_functions));
            let row_index = match entry.pattern_rows.get(index) {
                Some(&row) => row,
                None => {
                    let key = (Arc::clone(&p.name), p.exclude);
                    let row = *self.pattern_index.entry(key).or_insert_with(|| {
                        self.patterns.push(PatternRow {
                            text: Arc::clone(&p.name),
                            exclude: p.exclude,
                            generations: Vec::new(),
                            functions_matched: 0,
                            series: Series::new(window),
                        });
                        self.patterns.len().saturating_sub(1)
                    });
                    entry.pattern_rows.push(row);
                    row
                }
            };
            if let Some(row) = self.patterns.get_mut(row_index) {
                if !row.generations.contains(&p.generation) {
                    row.generations.push(p.generation);
                    row.generations.sort_unstable();
                }
                row.functions_matched = row.functions_matched.saturating_add(matched_delta);
                row.series.add(delta, ring_slot);
            }
        }

        for (index, p) in sample.progress.iter().enumerate() {
            let before = entry
                .last
                .progress
                .get(index)
                .filter(|q| q.id == p.id)
                .map_or(0, |q| q.units);
            let delta = Counts {
                calls: p.units.saturating_sub(before),
                ..Counts::default()
            };
            let row_index = match entry.progress_rows.get(index) {
                Some(&row) => row,
                None => {
                    let key = Arc::clone(&p.name);
                    let row = *self.progress_index.entry(key).or_insert_with(|| {
                        self.progress.push(ProgressRow {
                            name: Arc::clone(&p.name),
                            series: Series::new(window),
                        });
                        self.progress.len().saturating_sub(1)
                    });
                    entry.progress_rows.push(row);
                    row
                }
            };
            if let Some(row) = self.progress.get_mut(row_index) {
                row.series.add(delta, ring_slot);
            }
        }

        for (flag, warning) in segment_warnings(entry.meta.pid, &entry.meta.label, sample.flags) {
            if entry.warned & flag == 0 {
                entry.warned |= flag;
                self.warnings.push(warning);
            }
        }
        if sample.flags & flags::PROCESS_EXITED != 0 && entry.status == ProcessStatus::Running {
            entry.status = ProcessStatus::Exited;
        }

        std::mem::swap(&mut entry.last, sample);
        entry.has_last = true;
        entry.last_tick = tick;
        entry.last_stable = stable;
    }

    /// Records that a process ended (or is known to run).
    pub fn set_status(&mut self, key: ProcessKey, status: ProcessStatus) {
        if let Some(entry) = self.processes.get_mut(&key) {
            // A clean-exit mark is not undone by the process then vanishing.
            if !(entry.status == ProcessStatus::Exited && status == ProcessStatus::Gone) {
                entry.status = status;
            }
        }
    }

    /// Adds a warning (shown once).
    pub fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    /// Ends the tick at `now`; returns whether it counts towards the rates.
    pub fn end_tick(&mut self, now: Instant) -> bool {
        let seconds = self
            .last_tick_at
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
        let mut state = self.state;
        // A running process that was not sampled in this tick: its next
        // interval spans two ticks, and this tick lacks its share.
        let tick = self.tick;
        if self
            .processes
            .values()
            .any(|p| p.status == ProcessStatus::Running && p.has_last && p.last_tick != tick)
        {
            state.complete = false;
        }
        let only_baselines = state.intervals == 0 && state.new_processes > 0;
        let counts = state.complete && seconds > 0.0 && !only_baselines;
        if state.generation_changed {
            self.clear_window();
        } else if counts {
            if let Some(d) = self.durations.get_mut(self.slot) {
                *d = seconds;
            }
        } else {
            self.clear_slot();
        }
        self.last_complete = state.complete;
        self.last_tick_at = Some(now);
        counts
    }

    /// Whether the last tick changed no process's generation.
    pub fn last_tick_complete(&self) -> bool {
        self.last_complete
    }

    /// Seconds of data behind the window rates.
    pub fn window_seconds(&self) -> f64 {
        self.durations.iter().sum()
    }

    /// Settings generations of the running processes, sorted.
    pub fn generations(&self) -> Vec<u64> {
        let mut generations: Vec<u64> = self
            .processes
            .values()
            .filter(|p| p.status == ProcessStatus::Running && p.has_last)
            .map(|p| p.last.generation)
            .collect();
        generations.sort_unstable();
        generations.dedup();
        generations
    }

    /// Live and exited processes.
    pub fn process_counts(&self) -> ProcessCounts {
        let total = u32::try_from(self.processes.len()).unwrap_or(u32::MAX);
        let live = u32::try_from(
            self.processes
                .values()
                .filter(|p| p.status == ProcessStatus::Running)
                .count(),
        )
        .unwrap_or(u32::MAX);
        ProcessCounts {
            live,
            exited: total.saturating_sub(live),
            total,
        }
    }

    /// The status of one process, if seen.
    pub fn status(&self, key: &ProcessKey) -> Option<ProcessStatus> {
        self.processes.get(key).map(|p| p.status)
    }

    /// Every process, by pid.
    pub fn process_reports(&self) -> Vec<ProcessReport> {
        let mut reports: Vec<ProcessReport> = self
            .processes
            .values()
            .map(|p| ProcessReport {
                pid: p.meta.pid,
                parent_pid: p.meta.parent_pid,
                label: p.meta.label.clone(),
                status: p.status.as_str(),
                functions_matched: p.functions_matched,
                counts: p.totals,
            })
            .collect();
        reports.sort_by_key(|r| r.pid);
        reports
    }

    fn rates(&self, series: &Series, basis: RateBasis) -> Option<Rates> {
        match basis {
            RateBasis::Window => Rates::of(series.window_sum(), self.window_seconds()),
            RateBasis::Wall(seconds) => Rates::of(series.totals, seconds),
        }
    }

    /// Every pattern with calls (the `<other>` bucket only when it has
    /// some), by call rate, then calls.
    pub fn pattern_readings(&self, basis: RateBasis) -> Vec<PatternReading> {
        let mut readings: Vec<PatternReading> = self
            .patterns
            .iter()
            .filter(|row| {
                !(row.text.as_ref() == crate::ipc::layout::OTHER_NAME
                    && row.series.totals.calls == 0)
            })
            .map(|row| PatternReading {
                pattern: row.text.to_string(),
                exclude: row.exclude,
                generations: row.generations.clone(),
                functions_matched: row.functions_matched,
                counts: row.series.totals,
                rates: self.rates(&row.series, basis),
            })
            .collect();
        readings.sort_by(|a, b| by_rate_then_calls(a.rates, a.counts, b.rates, b.counts));
        readings
    }

    /// The `top` functions (all when `None`) by call rate, then calls; and
    /// how many there are. `<other>` is left out while it has no calls.
    pub fn function_readings(
        &self,
        basis: RateBasis,
        top: Option<usize>,
    ) -> (Vec<FunctionReading>, usize) {
        let mut rows: Vec<(Option<Rates>, &FunctionRow)> = self
            .functions
            .iter()
            .filter(|row| !(row.kind == FunctionKind::Other && row.series.totals.calls == 0))
            .map(|row| (self.rates(&row.series, basis), row))
            .collect();
        let total = rows.len();
        let order = |a: &(Option<Rates>, &FunctionRow), b: &(Option<Rates>, &FunctionRow)| {
            by_rate_then_calls(a.0, a.1.series.totals, b.0, b.1.series.totals)
                .then_with(|| a.1.name.cmp(&b.1.name))
        };
        if let Some(top) = top
            && top < rows.len()
        {
            if top == 0 {
                rows.clear();
            } else {
                rows.select_nth_unstable_by(top - 1, order);
                rows.truncate(top);
            }
        }
        rows.sort_by(order);
        let readings = rows
            .into_iter()
            .map(|(rates, row)| FunctionReading {
                name: row.name.to_string(),
                kind: kind_name(row.kind),
                pattern: row.pattern.to_string(),
                processes: row.processes,
                counts: row.series.totals,
                rates,
            })
            .collect();
        (readings, total)
    }

    /// Progress names with their units so far and units per second.
    pub fn progress_readings(&self, basis: RateBasis) -> Vec<(Arc<str>, u64, Option<f64>)> {
        self.progress
            .iter()
            .filter(|row| !(row.name.is_empty() && row.series.totals.calls == 0))
            .map(|row| {
                let rate = self.rates(&row.series, basis).map(|r| r.calls_per_s);
                (Arc::clone(&row.name), row.series.totals.calls, rate)
            })
            .collect()
    }

    /// Totals over every process.
    pub fn totals(&self) -> Counts {
        let mut total = Counts::default();
        for p in self.processes.values() {
            total.add(p.totals);
        }
        total
    }

    /// Warnings added since the last call.
    pub fn take_new_warnings(&mut self) -> Vec<String> {
        let new = self
            .warnings
            .get(self.warnings_taken..)
            .unwrap_or_default()
            .to_vec();
        self.warnings_taken = self.warnings.len();
        new
    }

    /// Every warning so far.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

fn by_rate_then_calls(
    a_rates: Option<Rates>,
    a: Counts,
    b_rates: Option<Rates>,
    b: Counts,
) -> std::cmp::Ordering {
    let rate = |r: Option<Rates>| r.map_or(0.0, |r| r.calls_per_s);
    rate(b_rates)
        .total_cmp(&rate(a_rates))
        .then(b.calls.cmp(&a.calls))
}

/// `python`, `c`, `other`.
pub fn kind_name(kind: FunctionKind) -> &'static str {
    match kind {
        FunctionKind::Python => "python",
        FunctionKind::C => "c",
        FunctionKind::Other => "other",
    }
}
