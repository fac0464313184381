//! Latency points (`SPEED_BUMP_LATENCY`, `--latency`): each completed call
//! of a matching function is a request, written to this process's latency
//! ring as (function id, start, end, flags).
//!
//! A request starts at the function's `PY_START` and ends at its final
//! `PY_RETURN` (or `PY_UNWIND`: the request raised, flagged as an error).
//! For a generator or coroutine, `PY_START` fires once, at its first start;
//! suspensions (`await`, `yield`) fire `PY_YIELD`/`PY_RESUME`, which are not
//! ends: a coroutine's latency includes its awaits.
//!
//! Where the start waits for its end:
//!
//! - Plain functions: on a per-thread stack of (code object, start). Calls
//!   on one thread nest, so the end of a call is the latest start of the same
//!   code on that thread (recursion included); entries above it belong to
//!   calls whose end was never seen (events switched off mid-call) and are
//!   dropped with it.
//! - Generators and coroutines: in a map keyed by the frame object
//!   (`PyEval_GetFrame()` inside the callback, which runs in the function's
//!   own frame). Many coroutines of one function are in flight at once on one
//!   thread, interleaved by the event loop, so the thread's stack cannot
//!   pair them; each coroutine owns its frame for its whole life, so the
//!   frame's address identifies the call from first start to final return.
//!   Materialising the frame object costs ~100 ns, paid only by generator
//!   and coroutine latency points.
//!
//! Both stores are bounded: a store that fills up (requests that never end)
//! is cleared rather than grown. Everything here runs with the GIL held.
//!
//! The clock: two reads per request, so their cost is most of a latency
//! point's. `CLOCK_MONOTONIC` through the vDSO costs ~25 ns here; `rdtsc`
//! ~8 ns. When the kernel itself keeps time with the TSC (clocksource `tsc`:
//! invariant and synchronised across CPUs), [`LatencyClock`] reads the TSC
//! and converts it to monotonic ns with a ratio measured against
//! `CLOCK_MONOTONIC` over the first 50 ms after activation (until then, and
//! on other machines, it reads `CLOCK_MONOTONIC`). Records stay in monotonic
//! ns either way.

// Before 3.12 the frame-evaluation mechanism does not measure latency
// points (see docs/python-versions.md): the request code is unused there.
#![cfg_attr(not(Py_3_12), allow(dead_code))]

use std::cell::RefCell;
use std::collections::HashMap;

use pyo3::ffi;
use speedbump_core::ipc::{FunctionId, latency_flags};

use crate::clock::monotonic_ns;
use crate::gil::GilCell;
use crate::hot::{FUNCTION_ID_MASK, Hot, LATENCY_FRAME_TAG};

/// In-flight calls kept per thread (deeper recursion loses the oldest).
const MAX_STACK: usize = 4096;
/// In-flight generator/coroutine calls kept per process.
const MAX_FRAMES: usize = 1 << 16;

/// `co_flags` bits of generator-like code: generator, coroutine, iterable
/// coroutine, async generator.
pub const GENERATOR_LIKE_FLAGS: u32 = 0x20 | 0x80 | 0x100 | 0x200;

/// Monotonic ns, from the TSC when the kernel trusts it (see module docs).
pub struct LatencyClock {
    /// The TSC may be used (x86_64, clocksource `tsc`).
    tsc_usable: bool,
    /// The ratio is known: convert TSC readings.
    calibrated: bool,
    base_ns: u64,
    base_tsc: u64,
    /// ns per TSC tick, as a 32.32 fixed-point number.
    ns_per_tick_q32: u64,
}

/// How long the TSC is compared with `CLOCK_MONOTONIC` before it is used.
const CALIBRATION_NS: u64 = 50_000_000;

static CLOCK: GilCell<LatencyClock> = GilCell::new(LatencyClock {
    tsc_usable: false,
    calibrated: false,
    base_ns: 0,
    base_tsc: 0,
    ns_per_tick_q32: 0,
});

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn read_tsc() -> u64 {
    // SAFETY: `rdtsc` has no preconditions on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn read_tsc() -> u64 {
    0
}

/// Prepares the clock at activation (reads the kernel's clocksource once).
/// Call it with the GIL held, before latency points can fire.
pub fn init_clock() {
    let tsc_usable = cfg!(target_arch = "x86_64")
        && std::fs::read_to_string(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .is_ok_and(|s| s.trim() == "tsc");
    // SAFETY: GIL held (caller's contract).
    let clock = unsafe { CLOCK.get() };
    clock.tsc_usable = tsc_usable;
    clock.calibrated = false;
    clock.base_ns = monotonic_ns();
    clock.base_tsc = read_tsc();
}

/// Now, in monotonic ns.
///
/// # Safety
/// GIL held.
#[inline(always)]
unsafe fn now_ns() -> u64 {
    // SAFETY: GIL held (caller's contract); nothing else borrows CLOCK.
    let clock = unsafe { CLOCK.get() };
    if clock.calibrated {
        let ticks = read_tsc().wrapping_sub(clock.base_tsc);
        let ns = (u128::from(ticks) * u128::from(clock.ns_per_tick_q32)) >> 32;
        return clock.base_ns.wrapping_add(ns as u64);
    }
    let now = monotonic_ns();
    if clock.tsc_usable && now.wrapping_sub(clock.base_ns) >= CALIBRATION_NS {
        let tsc = read_tsc();
        let ticks = tsc.wrapping_sub(clock.base_tsc);
        if ticks > 0 {
            let elapsed = now.wrapping_sub(clock.base_ns);
            clock.ns_per_tick_q32 = ((u128::from(elapsed) << 32) / u128::from(ticks)) as u64;
            clock.calibrated = clock.ns_per_tick_q32 > 0;
        } else {
            clock.tsc_usable = false;
        }
    }
    now
}

thread_local! {
    static CALLS: RefCell<Vec<(usize, u64)>> = const { RefCell::new(Vec::new()) };
}

static FRAMES: GilCell<Option<HashMap<usize, u64>>> = GilCell::new(None);

/// Records the start of a call of a latency point (at its `PY_START`).
///
/// # Safety
/// GIL held, inside a `PY_START` callback for `code`.
#[inline(always)]
pub unsafe fn on_start(code: *mut ffi::PyObject, key: u32) {
    // SAFETY: GIL held (caller's contract).
    let now = unsafe { now_ns() };
    if key & LATENCY_FRAME_TAG != 0 {
        // SAFETY: GIL held; a borrowed reference to the running frame.
        let frame = unsafe { ffi::PyEval_GetFrame() } as usize;
        if frame == 0 {
            return;
        }
        // SAFETY: GIL held; no Python code runs while the map is borrowed.
        let frames = unsafe { FRAMES.get() }.get_or_insert_with(HashMap::new);
        if frames.len() >= MAX_FRAMES {
            frames.clear();
        }
        frames.insert(frame, now);
    } else {
        let _ = CALLS.try_with(|calls| {
            if let Ok(mut calls) = calls.try_borrow_mut() {
                if calls.len() >= MAX_STACK {
                    calls.remove(0);
                }
                calls.push((code as usize, now));
            }
        });
    }
}

/// Records the end of a call of a latency point (its `PY_RETURN`, or its
/// `PY_UNWIND` with `raised`) and queues the request in the ring.
///
/// # Safety
/// GIL held, inside a `PY_RETURN`/`PY_UNWIND` callback for `code`.
#[inline(always)]
pub unsafe fn on_end(hot: &mut Hot, code: *mut ffi::PyObject, word: usize, raised: bool) {
    // SAFETY: GIL held (caller's contract).
    let end = unsafe { now_ns() };
    let key = (word >> 32) as u32;
    let start = if key & LATENCY_FRAME_TAG != 0 {
        // SAFETY: GIL held; the returning frame is still the current one.
        let frame = unsafe { ffi::PyEval_GetFrame() } as usize;
        // SAFETY: GIL held.
        unsafe { FRAMES.get() }
            .as_mut()
            .and_then(|frames| frames.remove(&frame))
    } else {
        CALLS
            .try_with(|calls| {
                let mut calls = calls.try_borrow_mut().ok()?;
                let at = calls.iter().rposition(|&(c, _)| c == code as usize)?;
                let start = calls.get(at).map(|&(_, start)| start);
                calls.truncate(at);
                start
            })
            .ok()
            .flatten()
    };
    let Some(start) = start else {
        return;
    };
    // The clock may switch to the TSC between start and end: never let the
    // conversion's last nanosecond make a request end before it started.
    let end = end.max(start);
    let flags = if raised { latency_flags::ERROR } else { 0 };
    if let Some(ring) = hot.latency_ring.as_mut() {
        let id = FunctionId(word as u32 & FUNCTION_ID_MASK);
        // SAFETY: the producer was made from the segment writer in force,
        // which stays alive while it is installed (`Stats` replaces both
        // together, with the GIL held); the GIL makes this the one producer.
        unsafe { ring.push(id, flags, start, end) };
    }
}

/// Queues one request timed outside a function (`speedbump.latency()`).
///
/// # Safety
/// GIL held.
pub unsafe fn record(hot: &mut Hot, function_id: u32, start: u64, end: u64, raised: bool) {
    let flags = if raised { latency_flags::ERROR } else { 0 };
    if let Some(ring) = hot.latency_ring.as_mut() {
        // SAFETY: as in `on_end`.
        unsafe { ring.push(FunctionId(function_id), flags, start, end) };
    }
}
