//! The per-call fast path: cached decisions and the delay itself.
//!
//! A code object's decision lives in its `co_extra` slot as one word, so a
//! matched call costs one `PyUnstable_Code_GetExtra`, a compare and two
//! counter bumps. Code objects compare by value and `id()`s are reused, so no
//! dict keyed by them could do this safely; `co_extra` dies with its code.
//!
//! Word layout: bits 0..24 the function id in the statistics segment; bits
//! 24..32 the progress slot of a progress point (0: not one); bits 32..64 a
//! key = tags | settings generation. Tags: matched (bit 31) or unmatched
//! (bit 30), plus latency point (bit 29) and, for a latency point that is a
//! generator or coroutine, "key its start by frame" (bit 28; see
//! `latency.rs`). A stale generation (after a live settings change) does not
//! equal the current key and sends the code object back through `decide`.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use pyo3::ffi;
use speedbump_core::ipc::{FunctionSlot, PatternSlot, ProgressSlot, RingProducer};

use crate::clock::{monotonic_ns, spin_until};
use crate::gil::GilCell;

const MATCHED_TAG: u32 = 1 << 31;
const UNMATCHED_TAG: u32 = 1 << 30;
/// A latency point: each completed call is a request (see `latency.rs`).
pub const LATENCY_TAG: u32 = 1 << 29;
/// A latency point whose code is a generator or coroutine: its start is
/// keyed by its frame, not kept on the thread's call stack.
pub const LATENCY_FRAME_TAG: u32 = 1 << 28;
const GENERATION_MASK: u32 = LATENCY_FRAME_TAG - 1;
/// Function ids fit in 24 bits (segments hold at most 2^22 functions).
pub const FUNCTION_ID_MASK: u32 = (1 << 24) - 1;
const PROGRESS_SHIFT: u32 = 24;

/// A code object's cached decision, as stored in its `co_extra` slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Function id to count it under, when it matches the targets.
    pub function_id: Option<u32>,
    /// Progress slot (1..=255) when it is a progress point.
    pub progress_slot: u8,
    /// Function id of the latency point it is (the same id as
    /// `function_id` when both: one name, one row), and whether its start
    /// is keyed by frame (generators, coroutines).
    pub latency: Option<(u32, bool)>,
}

impl Decision {
    pub fn word(self, generation: u32) -> usize {
        let generation = generation & GENERATION_MASK;
        let (mut tag, mut id) = match self.function_id {
            Some(id) => (MATCHED_TAG, id & FUNCTION_ID_MASK),
            None => (UNMATCHED_TAG, 0),
        };
        if let Some((latency_id, by_frame)) = self.latency {
            tag |= LATENCY_TAG;
            if by_frame {
                tag |= LATENCY_FRAME_TAG;
            }
            if self.function_id.is_none() {
                id = latency_id & FUNCTION_ID_MASK;
            }
        }
        (((tag | generation) as usize) << 32)
            | ((self.progress_slot as usize) << PROGRESS_SHIFT)
            | id as usize
    }
}

/// The decision word cached in `code`'s `co_extra` slot (0 while none is);
/// `None` when CPython refuses to read it (the error is cleared).
///
/// # Safety
/// GIL held; `code` is a code object.
#[inline(always)]
pub unsafe fn read_word(code: *mut ffi::PyObject, extra_index: ffi::Py_ssize_t) -> Option<usize> {
    let mut extra: *mut c_void = std::ptr::null_mut();
    // SAFETY: GIL held and `code` a code object (contract); `extra` is a
    // valid out-pointer. An unrequested index reads as null.
    if unsafe { ffi::PyUnstable_Code_GetExtra(code, extra_index, &mut extra) } != 0 {
        // SAFETY: GIL held.
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    Some(extra as usize)
}

/// Caches `word` in `code`'s `co_extra` slot. A refusal (the error is
/// cleared) leaves the code undecided: it is decided again on its next call.
///
/// # Safety
/// GIL held; `code` is a code object.
pub unsafe fn write_word(code: *mut ffi::PyObject, extra_index: ffi::Py_ssize_t, word: usize) {
    // SAFETY: GIL held and `code` a code object (contract); the word is a
    // plain integer, and the slot's free function does nothing with it.
    if unsafe { ffi::PyUnstable_Code_SetExtra(code, extra_index, word as *mut c_void) } != 0 {
        // SAFETY: GIL held.
        unsafe { ffi::PyErr_Clear() };
    }
}

/// Whether a word's key (upper half) says "matched the target patterns".
#[inline(always)]
#[cfg_attr(not(Py_3_12), allow(dead_code))] // latency points: sys.monitoring only
pub fn key_is_matched(key: u32) -> bool {
    key & MATCHED_TAG != 0
}

/// Progress slot stored in a decision word.
#[inline(always)]
pub fn progress_slot_of(word: usize) -> u32 {
    (word as u32) >> PROGRESS_SHIFT
}

/// Key of the calibration probe's delayed function: both tags set, which no
/// settings generation produces. Its calls count and spin in the probe's
/// own slots ([`Probe`]), never in the live ones.
pub const PROBE_HIT_KEY: u32 = MATCHED_TAG | UNMATCHED_TAG;
/// Key of the probe's other code (its loop, its module): never counted.
pub const PROBE_MISS_KEY: u32 = MATCHED_TAG | UNMATCHED_TAG | 1;

/// A decision word with `key` (one of the probe keys).
pub fn probe_word(key: u32) -> usize {
    (key as usize) << 32
}

/// Overshoot of a spin past its deadline (clock granularity, an interrupt,
/// the hypervisor taking the vCPU for a moment: tens of µs happen here
/// several times a second) becomes a debt that later spins pay back, so
/// that the mean added time equals the request. The debt is capped so that
/// a long stall (a preemption on a busy machine) cannot cancel the delays of
/// the next many calls; and a spin pays back at most half its length, so
/// every delayed call still gets at least half its delay.
const MAX_DEBT_NS: u64 = 500_000;

/// Everything the callbacks read on every call, in one place.
pub struct Hot {
    /// False until activation succeeds, and again after an internal failure.
    pub enabled: bool,
    /// Progress units per progress slot live here (the segment's table).
    pub progress: *const ProgressSlot,
    pub progress_capacity: u32,
    pub extra_index: ffi::Py_ssize_t,
    pub matched_key: u32,
    pub unmatched_key: u32,
    /// Requested delay; 0 = count only, never spin.
    pub delay_ns: u64,
    /// What the spin itself waits: the request minus the hook's measured fixed cost.
    pub spin_ns: u64,
    pub frequency: u64,
    /// Matching calls since the last delayed one (per process, all threads).
    pub calls_since_delay: u64,
    /// Overshoot of earlier spins not yet paid back by shortening later ones.
    pub debt_ns: u64,
    /// Delays happen only while monotonic time lies in [start, end).
    pub window: Option<(u64, u64)>,
    pub functions: *const FunctionSlot,
    pub function_capacity: u32,
    pub patterns: *const PatternSlot,
    pub pattern_capacity: u32,
    /// Delay per call by function id, when patterns have their own delays
    /// (a ranking's grouped design); `function_delays_len == 0`: every
    /// function at `delay_ns`. Owned by the segment statistics
    /// (`segment.rs`, `pattern_delays.rs`).
    pub function_delays: *const u64,
    pub function_delays_len: u32,
    /// `sys.monitoring.DISABLE` (a strong reference held for the process lifetime).
    #[cfg_attr(not(Py_3_12), allow(dead_code))]
    pub disable: *mut ffi::PyObject,
    /// This process's latency ring (None before the segment exists).
    pub latency_ring: Option<RingProducer>,
    /// The calibration probe's own spin and slots (see `calibrate`).
    pub probe: Probe,
    /// False until the first settings are applied. Code that starts before
    /// them (the first calibration) is not DISABLEd, so that the first
    /// settings need no `restart_events()` (see `monitoring::select`).
    pub settings_applied: bool,
    /// The settings ask for own time (`own_time.rs`): entries into and exits
    /// from matched code are timed.
    pub own_time: bool,
    /// Resumes of matched generators and coroutines count (and may be
    /// delayed) as calls (SPEED_BUMP_RESUME); own time alone also reports
    /// resumes, which then only time.
    #[cfg_attr(not(Py_3_12), allow(dead_code))]
    pub count_resumes: bool,
}

/// What the calibration probe's delayed calls use instead of the live
/// settings, so that calibrating never changes what other threads' calls
/// (or a fork child) see.
pub struct Probe {
    pub spin_ns: u64,
    pub debt_ns: u64,
    pub functions: *const FunctionSlot,
    pub patterns: *const PatternSlot,
}

pub static HOT: GilCell<Hot> = GilCell::new(Hot {
    enabled: false,
    progress: std::ptr::null(),
    progress_capacity: 0,
    extra_index: -1,
    matched_key: MATCHED_TAG,
    unmatched_key: UNMATCHED_TAG,
    delay_ns: 0,
    spin_ns: 0,
    frequency: 1,
    calls_since_delay: 0,
    debt_ns: 0,
    window: None,
    functions: std::ptr::null(),
    function_capacity: 0,
    patterns: std::ptr::null(),
    pattern_capacity: 0,
    function_delays: std::ptr::null(),
    function_delays_len: 0,
    disable: std::ptr::null_mut(),
    latency_ring: None,
    probe: Probe {
        spin_ns: 0,
        debt_ns: 0,
        functions: std::ptr::null(),
        patterns: std::ptr::null(),
    },
    settings_applied: false,
    own_time: false,
    count_resumes: false,
});

impl Hot {
    pub fn set_generation(&mut self, generation: u32) {
        self.matched_key = MATCHED_TAG | (generation & GENERATION_MASK);
        self.unmatched_key = UNMATCHED_TAG | (generation & GENERATION_MASK);
    }

    pub fn generation_of(&self, word: usize) -> Option<u32> {
        let key = (word >> 32) as u32;
        (key & (MATCHED_TAG | UNMATCHED_TAG) != 0).then_some(key & GENERATION_MASK)
    }

    pub fn current_generation(&self) -> u32 {
        self.matched_key & GENERATION_MASK
    }

    /// Whether `key` (a word's upper half) is a latency point's under the
    /// current generation.
    #[inline(always)]
    #[cfg_attr(not(Py_3_12), allow(dead_code))] // latency points: sys.monitoring only
    pub fn is_current_latency_key(&self, key: u32) -> bool {
        key & LATENCY_TAG != 0 && key & GENERATION_MASK == self.current_generation()
    }

    pub fn set_delay(&mut self, delay_ns: u64, fixed_cost_ns: u64) {
        self.delay_ns = delay_ns;
        self.spin_ns = delay_ns.saturating_sub(fixed_cost_ns);
    }
}

/// Adds to a counter that only this process writes. Writers are serialised by
/// the GIL, so a plain load+store (no locked instruction) is enough; readers
/// in other processes still see whole values.
#[inline(always)]
pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
}

/// Counts one call of a matched function and delays it when frequency and
/// window say so.
///
/// # Safety
/// GIL held; `hot.functions` valid for `function_capacity` slots.
#[inline(always)]
pub unsafe fn on_matched_call(hot: &mut Hot, function_id: u32) {
    if function_id >= hot.function_capacity {
        // SAFETY: GIL held; `hot` is not used after this.
        unsafe { crate::activation::matched_call_after_c_fork(function_id) };
        return;
    }
    // SAFETY: bounds checked above; the mapping lives as long as the writer,
    // which is only replaced with the GIL held outside any callback.
    let function = unsafe { &*hot.functions.add(function_id as usize) };
    bump(&function.calls, 1);
    let pattern_id = function.pattern_slot.load(Relaxed);
    let pattern = if pattern_id < hot.pattern_capacity {
        // SAFETY: bounds checked.
        Some(unsafe { &*hot.patterns.add(pattern_id as usize) })
    } else {
        None
    };
    if let Some(p) = pattern {
        bump(&p.calls, 1);
    }
    if hot.delay_ns == 0 {
        return;
    }
    let (delay_ns, spin_ns) = if hot.function_delays_len == 0 {
        (hot.delay_ns, hot.spin_ns)
    } else {
        // SAFETY: the table is valid for function_delays_len entries (see Hot).
        match unsafe { crate::pattern_delays::delay_of_function(hot, function_id) } {
            0 => return,
            d => (d, d.saturating_sub(hot.delay_ns - hot.spin_ns)),
        }
    };
    hot.calls_since_delay += 1;
    if hot.calls_since_delay < hot.frequency {
        return;
    }
    hot.calls_since_delay = 0;
    let start = monotonic_ns();
    if let Some((window_start, window_end)) = hot.window
        && (start < window_start || start >= window_end)
    {
        return;
    }
    let fixed_cost_ns = delay_ns - spin_ns;
    spin_and_record(
        start,
        spin_ns,
        fixed_cost_ns,
        &mut hot.debt_ns,
        function,
        pattern,
    );
}

/// Spins `spin_ns` from `start` (less a payback of `debt_ns`) and records
/// the delayed call in `function` and `pattern`.
#[inline(always)]
fn spin_and_record(
    start: u64,
    spin_ns: u64,
    fixed_cost_ns: u64,
    debt_ns: &mut u64,
    function: &FunctionSlot,
    pattern: Option<&PatternSlot>,
) {
    // Pay back earlier overshoot first, then carry this spin's overshoot:
    // over many calls the added time averages exactly to the request.
    let payback = (*debt_ns).min(spin_ns / 2);
    *debt_ns -= payback;
    let deadline = start.wrapping_add(spin_ns - payback);
    let end = spin_until(deadline);
    *debt_ns = (*debt_ns + end.wrapping_sub(deadline)).min(MAX_DEBT_NS);
    // What was added: the spin as measured plus the fixed cost it stood in for.
    let injected = end.wrapping_sub(start) + fixed_cost_ns;
    bump(&function.delayed_calls, 1);
    bump(&function.injected_ns, injected);
    if let Some(p) = pattern {
        bump(&p.delayed_calls, 1);
        bump(&p.injected_ns, injected);
    }
}

/// A call of the calibration probe's delayed function: the same counting
/// and spin as a matched call, in the probe's own slots and with its own
/// spin and debt.
///
/// # Safety
/// GIL held; `hot.probe`'s pointers are null or valid for one slot each.
pub unsafe fn on_probe_call(hot: &mut Hot) {
    let probe = &mut hot.probe;
    if probe.functions.is_null() || probe.patterns.is_null() {
        return;
    }
    // SAFETY: non-null pointers to the probe's static one-slot tables.
    let (function, pattern) = unsafe { (&*probe.functions, &*probe.patterns) };
    bump(&function.calls, 1);
    bump(&pattern.calls, 1);
    let start = monotonic_ns();
    spin_and_record(
        start,
        probe.spin_ns,
        0,
        &mut probe.debt_ns,
        function,
        Some(pattern),
    );
}

/// Counts one completed call of a progress point.
///
/// # Safety
/// GIL held; `hot.progress` valid for `progress_capacity` slots.
#[inline(always)]
pub unsafe fn on_progress_point(hot: &Hot, slot: u32) {
    if slot < hot.progress_capacity {
        // SAFETY: bounds checked; the mapping lives as long as the writer.
        let units = unsafe { &(*hot.progress.add(slot as usize)).units };
        bump(units, 1);
    } else {
        // SAFETY: GIL held; `hot` is not used after this.
        unsafe { crate::activation::progress_point_after_c_fork(slot) };
    }
}
