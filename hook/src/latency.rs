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
    let now = monotonic_ns();
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
    let end = monotonic_ns();
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
