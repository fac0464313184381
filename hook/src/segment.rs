//! This process's statistics segment: created on the first match (so helper
//! processes that match nothing leave no file), replaced in fork children.

use speedbump_core::error::chain;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use speedbump_core::ipc::{
    Capacities, FunctionId, FunctionKind, PatternId, ProcessInfo, ProgressId, SegmentWriter,
    ensure_session_dir, image_segment_path, random_image_id,
};
use speedbump_core::pattern::PatternSet;

use pyo3::prelude::*;

use crate::failure::say_once;
use crate::hot::HOT;
use crate::pattern_delays::FunctionDelays;

static SEGMENT_FAILURE_REPORTED: AtomicBool = AtomicBool::new(false);
static GROWTH_FAILURE_REPORTED: AtomicBool = AtomicBool::new(false);

/// The file name of a segment path (made by `segment_path`, so it has one).
fn segment_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What a C callable's decision is cached under: the address of its
/// `PyMethodDef` and of the object it is bound to (or of that object's type;
/// 0 when none); see `decide::c_cache_key`.
pub type CKey = (usize, usize);

pub struct Stats {
    session_dir: PathBuf,
    writer: Option<SegmentWriter>,
    /// Segments this process moved away from when their function table
    /// filled (see `grow_function_table`). Kept mapped for the process's
    /// life: a pointer taken from one before the move stays valid.
    retired: Vec<SegmentWriter>,
    /// The function table could not grow (at its largest, or no room for a
    /// successor): later functions count as `<other>`, without retrying.
    growth_failed: bool,
    /// Function ids by `module:qualname`: one row per name, however many code
    /// objects share it.
    functions: HashMap<String, u32>,
    /// Segment pattern slot of each include pattern (same order), then excludes.
    include_slots: Vec<u32>,
    /// Per-pattern delays, by function id (what the fast path reads through
    /// `Hot::function_delays`); empty: one delay for all.
    delays: FunctionDelays,
    progress: HashMap<String, u32>,
    /// Decisions for C callables, by `CKey` (see `decide::c_cache_key`),
    /// each with a strong reference that keeps the key's `PyMethodDef` and
    /// owner alive, so their addresses cannot be reused by another callable
    /// while the entry exists.
    c_decisions: HashMap<CKey, (Option<u32>, Py<PyAny>)>,
    pub info: ProcessInfo,
    pub start_ticks: u64,
    /// Names this program image's segment apart from the one an earlier
    /// image of the same process (before `exec`) left in the session.
    image: u64,
    pub generation: u64,
    /// Set at exit, once the root removed the session directory (functions
    /// first seen while the interpreter finalizes must not create it again),
    /// and under a launcher, which owns the directory: a process that
    /// outlives the run must not rebuild it after the launcher's clean-up.
    files_closed: bool,
    /// Under a launcher: never create the session directory, only use it.
    launcher_owns_dir: bool,
}

impl Stats {
    pub fn new(session_dir: PathBuf, info: ProcessInfo, start_ticks: u64) -> Stats {
        Stats {
            session_dir,
            writer: None,
            retired: Vec::new(),
            growth_failed: false,
            functions: HashMap::new(),
            include_slots: Vec::new(),
            delays: FunctionDelays::default(),
            progress: HashMap::new(),
            c_decisions: HashMap::new(),
            info,
            start_ticks,
            image: random_image_id(),
            generation: 0,
            files_closed: false,
            launcher_owns_dir: false,
        }
    }

    /// Creates the segment if it does not exist yet and records `patterns`
    /// in it. A failure (no /dev/shm, no space) is reported once; counting
    /// then continues in private memory so delays still happen.
    pub fn ensure_segment(&mut self, patterns: &PatternSet) {
        if self.writer.is_some() {
            return;
        }
        let path = image_segment_path(
            &self.session_dir,
            self.info.pid,
            self.start_ticks,
            self.image,
        );
        if self.files_closed || (self.launcher_owns_dir && !self.session_dir.is_dir()) {
            match SegmentWriter::create_anonymous(&self.info, Capacities::default()) {
                Ok(writer) => self.install(writer, patterns),
                Err(_) => return,
            }
            return;
        }
        let name = segment_name(&path);
        let created = ensure_session_dir(&self.session_dir).and_then(|dir| {
            SegmentWriter::create_in(&dir, &name, &self.info, Capacities::default())
        });
        let writer = match created {
            Ok(writer) => writer,
            Err(error) => {
                say_once(
                    &SEGMENT_FAILURE_REPORTED,
                    &format!(
                        "cannot create the statistics segment {}: {}; delays go on, but other processes cannot see this one's counts",
                        path.display(),
                        chain(&error)
                    ),
                );
                match SegmentWriter::create_anonymous(&self.info, Capacities::default()) {
                    Ok(writer) => writer,
                    Err(_) => return,
                }
            }
        };
        self.install(writer, patterns);
    }

    fn install(&mut self, writer: SegmentWriter, patterns: &PatternSet) {
        writer.set_settings_generation(self.generation);
        self.writer = Some(writer);
        let delays = self.delays.include_delays_ns().to_vec();
        self.record_patterns(patterns, &delays);
        self.publish_pointers();
    }

    /// The session directory belongs to a launcher (see `launcher_owns_dir`).
    pub fn set_launcher_owns_dir(&mut self) {
        self.launcher_owns_dir = true;
    }

    /// No more files from this process (see `files_closed`).
    pub fn close_files(&mut self) {
        self.files_closed = true;
    }

    /// Records the patterns of the current generation in the segment, each
    /// include pattern with its delay (`include_delays_ns`, same order;
    /// empty: one delay for all).
    pub fn record_patterns(&mut self, patterns: &PatternSet, include_delays_ns: &[u64]) {
        self.delays.reset(include_delays_ns);
        self.publish_function_delays();
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        self.include_slots = patterns
            .includes()
            .iter()
            .map(|p| writer.add_pattern(self.generation, p.text(), false).0)
            .collect();
        for p in patterns.excludes() {
            writer.add_pattern(self.generation, p.text(), true);
        }
    }

    /// Points the fast path at the per-function delays (none when empty).
    fn publish_function_delays(&self) {
        // SAFETY: GIL held by every caller; the table lives in `self`
        // (inside HOOK) until the next change, which publishes again before
        // any callback can read it.
        let hot = unsafe { HOT.get() };
        (hot.function_delays, hot.function_delays_len) = self.delays.table();
    }

    /// Points the fast path at the current segment's tables.
    fn publish_pointers(&self) {
        // SAFETY: GIL held by every caller.
        let hot = unsafe { HOT.get() };
        match &self.writer {
            Some(w) => {
                hot.functions = w.function_slots_ptr();
                hot.function_capacity = w.function_capacity();
                hot.patterns = w.pattern_slots_ptr();
                hot.pattern_capacity = w.pattern_capacity();
                hot.progress = w.progress_slots_ptr();
                hot.progress_capacity = w.progress_capacity();
                hot.latency_ring = w.latency_producer();
            }
            None => {
                hot.functions = std::ptr::null();
                hot.function_capacity = 0;
                hot.patterns = std::ptr::null();
                hot.pattern_capacity = 0;
                hot.progress = std::ptr::null();
                hot.progress_capacity = 0;
                hot.latency_ring = None;
            }
        }
    }

    /// The id to count `name` under (registering it on first sight), with
    /// `include_index` the pattern that matched it.
    pub fn register_function(
        &mut self,
        name: &str,
        kind: FunctionKind,
        include_index: usize,
    ) -> u32 {
        let pattern_slot = self.include_slots.get(include_index).copied().unwrap_or(0);
        let Some(writer) = self.writer.as_ref() else {
            return u32::MAX;
        };
        let id = match self.functions.get(name) {
            Some(&id) => {
                writer
                    .function(FunctionId(id))
                    .pattern_slot
                    .store(pattern_slot, Relaxed);
                self.delays.assign(id, include_index);
                self.publish_function_delays();
                return id;
            }
            None => self.add_function(name, kind, pattern_slot),
        };
        let Some(writer) = self.writer.as_ref() else {
            return u32::MAX;
        };
        let pattern = writer.pattern(PatternId(pattern_slot));
        pattern
            .matched_functions
            .store(pattern.matched_functions.load(Relaxed) + 1, Relaxed);
        if id != 0 {
            self.functions.insert(name.to_owned(), id);
            self.delays.assign(id, include_index);
            self.publish_function_delays();
        }
        id
    }

    /// The id of a latency point that no target pattern matches (its calls
    /// are not counted, only its requests timed); `u32::MAX` without a
    /// segment.
    pub fn register_latency_function(&mut self, name: &str) -> u32 {
        if self.writer.is_none() {
            return u32::MAX;
        }
        if let Some(&id) = self.functions.get(name) {
            return id;
        }
        let id = self.add_function(name, FunctionKind::Python, u32::MAX);
        if id != 0 {
            self.functions.insert(name.to_owned(), id);
        }
        id
    }

    /// Adds a function not seen yet to the segment (there must be one) and
    /// returns its id. A full table first grows (`grow_function_table`), so
    /// a function first called after start-up filled the table (a long
    /// warm-up, a compiler) still gets its own row.
    fn add_function(&mut self, name: &str, kind: FunctionKind, pattern_slot: u32) -> u32 {
        if !self.growth_failed
            && self
                .writer
                .as_ref()
                .is_some_and(SegmentWriter::function_table_is_full)
        {
            self.grow_function_table();
        }
        match self.writer.as_mut() {
            Some(writer) => writer.add_function(name, kind, pattern_slot).0,
            None => u32::MAX,
        }
    }

    /// Moves counting to a successor segment with a larger function table:
    /// the same entries under the same ids (so every cached decision stays
    /// valid), counters from zero; then marks the old segment moved, which
    /// tells readers its counts are final (see "Growing the function table"
    /// in `speedbump_core::ipc::layout`). On failure the old table stays in
    /// use, and later functions count as `<other>` as before.
    fn grow_function_table(&mut self) {
        let Some(old) = self.writer.as_ref() else {
            return;
        };
        let Some(caps) = old.successor_capacities() else {
            self.growth_failed = true;
            return;
        };
        let private = old.path().as_os_str().is_empty()
            || self.files_closed
            || (self.launcher_owns_dir && !self.session_dir.is_dir());
        let image = random_image_id();
        let path = image_segment_path(&self.session_dir, self.info.pid, self.start_ticks, image);
        let next = if private {
            old.create_successor_anonymous(&self.info, caps)
        } else {
            ensure_session_dir(&self.session_dir).and_then(|dir| {
                old.create_successor_in(&dir, &segment_name(&path), &self.info, caps)
            })
        };
        let next = match next {
            Ok(next) => next,
            Err(error) => {
                self.growth_failed = true;
                say_once(
                    &GROWTH_FAILURE_REPORTED,
                    &format!(
                        "cannot grow the function table into {}: {}; further functions are counted together as <other>",
                        path.display(),
                        chain(&error)
                    ),
                );
                return;
            }
        };
        if !private {
            self.image = image;
        }
        let Some(old) = self.writer.replace(next) else {
            return;
        };
        self.publish_pointers();
        // Nothing counts into `old` any more: the fast path reads the new
        // tables from here on (the GIL is held).
        old.mark_moved();
        self.retired.push(old);
    }

    /// A new settings generation: patterns get new slots, C-call decisions
    /// are taken again.
    pub fn new_generation(&mut self, control_generation: u64) {
        self.generation = control_generation;
        self.c_decisions.clear();
    }

    /// Records in the segment which control generation is now applied.
    pub fn set_settings_generation(&self, control_generation: u64) {
        if let Some(writer) = &self.writer {
            writer.set_settings_generation(control_generation);
        }
    }

    #[cfg_attr(not(Py_3_12), allow(dead_code))] // C calls: sys.monitoring only
    pub fn cached_c_decision(&self, key: CKey) -> Option<Option<u32>> {
        self.c_decisions.get(&key).map(|(decision, _)| *decision)
    }

    /// Caches `decision` under `key`; `keeper` owns what the key's addresses
    /// point at (see `decide::c_cache_key`) and is held as long as the entry.
    #[cfg_attr(not(Py_3_12), allow(dead_code))]
    pub fn cache_c_decision(&mut self, key: CKey, decision: Option<u32>, keeper: Py<PyAny>) {
        self.c_decisions.insert(key, (decision, keeper));
    }

    /// Adds `units` to the progress counter `name`.
    pub fn progress(&mut self, name: &str, units: u64) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        let id = match self.progress.get(name) {
            Some(&id) => id,
            None => {
                let id = writer.add_progress(name).0;
                self.progress.insert(name.to_owned(), id);
                id
            }
        };
        let counter = &writer.progress(ProgressId(id)).units;
        counter.store(counter.load(Relaxed).wrapping_add(units), Relaxed);
    }

    /// The progress slot (1..=255, as a decision word holds it) that counts
    /// completed calls of the progress point `pattern`; 0 when the progress
    /// table has no room for it.
    pub fn progress_point_slot(&mut self, pattern: &str) -> u8 {
        let Some(writer) = self.writer.as_mut() else {
            return 0;
        };
        let id = match self.progress.get(pattern) {
            Some(&id) => id,
            None => {
                let id = writer.add_progress(pattern).0;
                self.progress.insert(pattern.to_owned(), id);
                id
            }
        };
        u8::try_from(id).unwrap_or(0)
    }

    /// In a fork child: the inherited mapping is the parent's, so counting
    /// moves to a fresh segment with the same ids and zeroed counters.
    pub fn reattach_after_fork(&mut self, info: ProcessInfo, start_ticks: u64) {
        self.info = info;
        self.start_ticks = start_ticks;
        let Some(parent) = self.writer.take() else {
            return;
        };
        let path = image_segment_path(
            &self.session_dir,
            self.info.pid,
            self.start_ticks,
            self.image,
        );
        let name = segment_name(&path);
        let child = ensure_session_dir(&self.session_dir)
            .and_then(|dir| parent.create_like_in(&dir, &name, &self.info))
            .or_else(|error| {
                say_once(
                    &SEGMENT_FAILURE_REPORTED,
                    &format!(
                        "cannot create the statistics segment {}: {}; delays go on, but other processes cannot see this one's counts",
                        path.display(),
                        chain(&error)
                    ),
                );
                parent.create_anonymous_like(&self.info)
            });
        // Dropping the parent's writer only unmaps it in this process.
        drop(parent);
        self.writer = child.ok();
        self.publish_pointers();
    }

    /// True when this process counts in private memory (its segment file
    /// could not be created): no other process, nor the exit summary, sees
    /// its counts.
    pub fn counts_are_private(&self) -> bool {
        self.writer
            .as_ref()
            .is_some_and(|w| w.path().as_os_str().is_empty())
    }

    pub fn mark_exited(&self) {
        if let Some(w) = &self.writer {
            w.mark_exited();
        }
    }
}
