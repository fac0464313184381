//! The sys.monitoring callbacks, written against the raw C API.
//!
//! They are vectorcall functions behind `callable::new_callback` objects,
//! registered with `sys.monitoring.register_callback`: no argument tuple, no
//! PyO3 trampoline (that alone costs ~16 ns per call here), no builtin
//! function wrapper. Each body is guarded by
//! `catch_unwind`: a panic is reported once by `failure::report` and the hook
//! turns itself off; the program runs on.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::ffi;

use crate::callable::positional_count;
use crate::decide;
use crate::failure;
use crate::hot::{
    FUNCTION_ID_MASK, HOT, Hot, PROBE_HIT_KEY, PROBE_MISS_KEY, key_is_matched, on_matched_call,
    on_probe_call, on_progress_point, probe_word, progress_slot_of, read_word,
};
use crate::latency;
use crate::own_time;

/// `None`, as a new reference.
#[inline(always)]
unsafe fn none() -> *mut ffi::PyObject {
    // SAFETY: callers hold the GIL (every callback runs with it); `Py_None()` is
    // always a valid object.
    unsafe { ffi::Py_NewRef(ffi::Py_None()) }
}

/// What a callback returns: keep the event (`None`) or drop it for this code
/// object or call site (`DISABLE`).
pub enum Verdict {
    Continue,
    Disable,
}

#[inline(always)]
unsafe fn verdict_object(verdict: Verdict) -> *mut ffi::PyObject {
    match verdict {
        // SAFETY: GIL held (callers are callbacks).
        Verdict::Continue => unsafe { none() },
        // SAFETY: GIL held; `disable` is null or a strong reference to
        // `sys.monitoring.DISABLE`, kept for the process lifetime.
        Verdict::Disable => unsafe {
            let disable = HOT.get().disable;
            if disable.is_null() {
                none()
            } else {
                ffi::Py_NewRef(disable)
            }
        },
    }
}

/// Runs a callback's body and turns its verdict into the object CPython
/// expects; a panic is reported once (the hook turns itself off) and the
/// event disabled.
#[inline(always)]
unsafe fn respond(what: &str, body: impl FnOnce() -> Verdict) -> *mut ffi::PyObject {
    match catch_unwind(AssertUnwindSafe(body)) {
        // SAFETY: GIL held (callers are callbacks).
        Ok(verdict) => unsafe { verdict_object(verdict) },
        Err(panic) => {
            failure::report_panic(what, &panic);
            // SAFETY: GIL held (callers are callbacks).
            unsafe { verdict_object(Verdict::Disable) }
        }
    }
}

/// PY_START(code, instruction_offset).
pub unsafe extern "C" fn on_code_event(
    _callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    _kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let nargs = positional_count(nargsf);
    // SAFETY: CPython calls callbacks with the GIL held and `args` valid for
    // `nargs` arguments; the body checks `nargs` before reading them.
    unsafe { respond("PY_START callback", || code_event(args, nargs, true)) }
}

/// PY_RESUME(code, instruction_offset), when resumes are delayed: as
/// PY_START, except that a resume never starts a request.
pub unsafe extern "C" fn on_resume_event(
    _callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    _kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let nargs = positional_count(nargsf);
    // SAFETY: CPython calls callbacks with the GIL held and `args` valid for
    // `nargs` arguments; the body checks `nargs` before reading them.
    unsafe { respond("PY_RESUME callback", || code_event(args, nargs, false)) }
}

/// A latency point starts (or resumes): start its request, then count and
/// delay it if it also matches the targets (so the delay is part of the
/// request's latency).
#[inline(always)]
unsafe fn latency_point_event(
    hot: &mut Hot,
    code: *mut ffi::PyObject,
    word: usize,
    is_start: bool,
) -> Verdict {
    let key = (word >> 32) as u32;
    if is_start {
        // SAFETY: GIL held, inside the PY_START callback for `code`.
        unsafe { latency::on_start(code, key) };
    }
    if key_is_matched(key) {
        let function_id = word as u32 & FUNCTION_ID_MASK;
        if is_start || hot.count_resumes {
            // SAFETY: GIL held; `hot.functions` is valid for `function_capacity` slots
            // (the id is bounds-checked inside).
            unsafe { on_matched_call(hot, function_id) };
        }
        if hot.own_time {
            own_time::enter(hot, function_id);
        }
        Verdict::Continue
    } else if is_start {
        Verdict::Continue
    } else {
        Verdict::Disable
    }
}

#[inline(always)]
unsafe fn code_event(
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    is_start: bool,
) -> Verdict {
    // SAFETY: GIL held inside a callback; no Python code runs before we return
    // or reach `decide` (which re-fetches the state).
    let hot = unsafe { HOT.get() };
    if !hot.enabled || nargs < 1 {
        return Verdict::Disable;
    }
    // SAFETY: `nargs >= 1`, so `args[0]` (the code object) is readable.
    let code = unsafe { *args };
    // SAFETY: GIL held; `code` is the event's code object.
    let Some(word) = (unsafe { read_word(code, hot.extra_index) }) else {
        return Verdict::Continue;
    };
    let key = (word >> 32) as u32;
    if key == hot.matched_key {
        let function_id = word as u32 & FUNCTION_ID_MASK;
        if is_start || hot.count_resumes {
            // SAFETY: GIL held; `hot.functions` is valid for `function_capacity` slots
            // (the id is bounds-checked inside).
            unsafe { on_matched_call(hot, function_id) };
        } else if !hot.own_time {
            return Verdict::Disable;
        }
        // After the delay: own time is the code's, not the injected time.
        if hot.own_time {
            own_time::enter(hot, function_id);
        }
        return Verdict::Continue;
    }
    if key == hot.unmatched_key {
        return Verdict::Disable;
    }
    if key == PROBE_HIT_KEY {
        // SAFETY: GIL held; the probe's pointers are null or point at its static
        // slots (see `calibrate`).
        unsafe { on_probe_call(hot) };
        return Verdict::Continue;
    }
    if key == PROBE_MISS_KEY {
        return Verdict::Disable;
    }
    if hot.is_current_latency_key(key) {
        // SAFETY: GIL held; `code` is the event's code object.
        return unsafe { latency_point_event(hot, code, word, is_start) };
    }
    // PY_START fires inside the new frame: its globals are the current ones.
    // SAFETY: GIL held; a borrowed reference to the running frame's globals.
    let globals = unsafe { ffi::PyEval_GetGlobals() };
    // SAFETY: GIL held; `code` is starting and `globals` are its frame's.
    // `hot` is not used again: it is re-fetched below.
    let matched = unsafe { decide::decide_code(code, globals) };
    // SAFETY: GIL held; re-fetched after `decide_code` ran Python code.
    let hot = unsafe { HOT.get() };
    // SAFETY: GIL held; `code` is the event's code object.
    if let Some(word) = unsafe { read_word(code, hot.extra_index) }
        && hot.is_current_latency_key((word >> 32) as u32)
    {
        // SAFETY: GIL held; `code` is the event's code object.
        return unsafe { latency_point_event(hot, code, word, is_start) };
    }
    match matched {
        // Just decided: own time's local events were turned on inside
        // `decide_code`, perhaps too late for this call's exit, so this
        // entry is not timed (an exit without an entry is ignored).
        Some(_) if !is_start && !hot.count_resumes => Verdict::Continue,
        Some(function_id) => {
            // SAFETY: GIL held; `hot.functions` is valid for `function_capacity` slots
            // (the id is bounds-checked inside).
            unsafe { on_matched_call(hot, function_id) };
            Verdict::Continue
        }
        // Decided before the first settings (no patterns yet): seen again
        // once they apply, without a restart_events().
        None if !hot.settings_applied => Verdict::Continue,
        None => Verdict::Disable,
    }
}

/// PY_RETURN(code, instruction_offset, retval), enabled only when progress
/// or latency points are set: counts one unit for each completed call of a
/// progress point, ends the request of a latency point, and disables every
/// other return site for good.
pub unsafe extern "C" fn on_return_event(
    _callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    _kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let nargs = positional_count(nargsf);
    // SAFETY: CPython calls callbacks with the GIL held and `args` valid for
    // `nargs` arguments; the body checks `nargs` before reading them.
    unsafe { respond("PY_RETURN callback", || return_event(args, nargs)) }
}

unsafe fn return_event(args: *const *mut ffi::PyObject, nargs: ffi::Py_ssize_t) -> Verdict {
    // SAFETY: GIL held inside a callback; not used after `current_word`,
    // which can run Python code (it is re-fetched below).
    let hot = unsafe { HOT.get() };
    if !hot.enabled || nargs < 1 {
        return Verdict::Disable;
    }
    // SAFETY: `nargs >= 1`, so `args[0]` (the code object) is readable.
    let code = unsafe { *args };
    // SAFETY: GIL held; `code` is the event's code object.
    if let Some(raw) = unsafe { read_word(code, hot.extra_index) }
        && raw >> 32 >= probe_word(PROBE_HIT_KEY) >> 32
    {
        return Verdict::Disable; // the calibration probe's code
    }
    // SAFETY: GIL held; `code` is the returning frame's live code object.
    let Some(word) = (unsafe { current_word(code) }) else {
        return Verdict::Continue;
    };
    // SAFETY: GIL held; re-fetched after `current_word` ran.
    let hot = unsafe { HOT.get() };
    let timed = own_time_exit(hot, word);
    let latency_point = hot.is_current_latency_key((word >> 32) as u32);
    if latency_point {
        // SAFETY: GIL held, inside the PY_RETURN callback for `code`.
        unsafe { latency::on_end(hot, code, word, false) };
    }
    match progress_slot_of(word) {
        0 if latency_point || timed => Verdict::Continue,
        0 => Verdict::Disable,
        slot => {
            // SAFETY: GIL held; `hot.progress` is valid for `progress_capacity` slots
            // (the slot is bounds-checked inside).
            unsafe { on_progress_point(HOT.get(), slot) };
            Verdict::Continue
        }
    }
}

/// Whether `word` is matched code under the current generation while own
/// time is asked for; if so, closes its interval (a return, a yield or an
/// unwind).
#[inline(always)]
fn own_time_exit(hot: &Hot, word: usize) -> bool {
    let key = (word >> 32) as u32;
    let timed = hot.own_time
        && key_is_matched(key)
        && hot.generation_of(word) == Some(hot.current_generation());
    if timed {
        own_time::exit(hot, word as u32 & FUNCTION_ID_MASK);
    }
    timed
}

/// PY_YIELD(code, instruction_offset, retval), a local event of matched
/// code while own time is asked for: the generator or coroutine is
/// suspended, its interval closes.
pub unsafe extern "C" fn on_yield_event(
    _callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    _kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let nargs = positional_count(nargsf);
    // SAFETY: CPython calls callbacks with the GIL held and `args` valid for
    // `nargs` arguments; the body checks `nargs` before reading them.
    unsafe { respond("PY_YIELD callback", || yield_event(args, nargs)) }
}

unsafe fn yield_event(args: *const *mut ffi::PyObject, nargs: ffi::Py_ssize_t) -> Verdict {
    // SAFETY: GIL held inside a callback; no Python code runs while it is used.
    let hot = unsafe { HOT.get() };
    if !hot.enabled || nargs < 1 {
        return Verdict::Disable;
    }
    // SAFETY: `nargs >= 1`, so `args[0]` (the code object) is readable.
    let code = unsafe { *args };
    // SAFETY: GIL held; `code` is the event's code object.
    match unsafe { read_word(code, hot.extra_index) } {
        Some(word) if own_time_exit(hot, word) => Verdict::Continue,
        _ => Verdict::Disable,
    }
}

/// PY_THROW(code, instruction_offset, exception), on while own time is
/// asked for (not a local event: it fires for every generator thrown
/// into): a matched generator or coroutine resumes by an exception.
/// Never disabled (not a per-location event): returns `None` always.
pub unsafe extern "C" fn on_throw_event(
    _callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    _kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let nargs = positional_count(nargsf);
    // SAFETY: CPython calls callbacks with the GIL held and `args` valid for
    // `nargs` arguments; the body checks `nargs` before reading them.
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| unsafe { throw_event(args, nargs) })) {
        failure::report_panic("PY_THROW callback", &panic);
    }
    // SAFETY: GIL held (a callback).
    unsafe { none() }
}

unsafe fn throw_event(args: *const *mut ffi::PyObject, nargs: ffi::Py_ssize_t) {
    // SAFETY: GIL held inside a callback; no Python code runs while it is used.
    let hot = unsafe { HOT.get() };
    if !hot.enabled || !hot.own_time || nargs < 1 {
        return;
    }
    // SAFETY: `nargs >= 1`, so `args[0]` (the code object) is readable.
    let code = unsafe { *args };
    // SAFETY: GIL held; `code` is the event's code object.
    if let Some(word) = unsafe { read_word(code, hot.extra_index) }
        && key_is_matched((word >> 32) as u32)
        && hot.generation_of(word) == Some(hot.current_generation())
    {
        own_time::enter(hot, word as u32 & FUNCTION_ID_MASK);
    }
}

/// `code`'s decision word under the current settings generation (deciding
/// it again when it is stale); `None` when CPython refuses to read it.
///
/// # Safety
/// GIL held; `code` is a live code object.
unsafe fn current_word(code: *mut ffi::PyObject) -> Option<usize> {
    // SAFETY: GIL held (contract); no Python code runs before the re-fetch.
    let hot = unsafe { HOT.get() };
    // SAFETY: GIL held; `code` is the event's code object.
    let word = unsafe { read_word(code, hot.extra_index) }?;
    if hot.generation_of(word) == Some(hot.current_generation()) {
        return Some(word);
    }
    // SAFETY: GIL held; `code` is the returning frame's code and
    // `PyEval_GetGlobals` that frame's globals.
    unsafe { decide::decide_code(code, ffi::PyEval_GetGlobals()) };
    // SAFETY: GIL held; re-fetched after `decide_code` ran Python code.
    let hot = unsafe { HOT.get() };
    // SAFETY: GIL held; `code` is the event's code object.
    unsafe { read_word(code, hot.extra_index) }
}

/// PY_UNWIND(code, instruction_offset, exception), enabled only when
/// latency points are set or own time is asked for: a latency point's call
/// that ends by an exception is a request that raised; matched code's own
/// time interval closes. PY_UNWIND is not a per-location event, so it can
/// never be disabled: the callback returns `None` always, panics included.
pub unsafe extern "C" fn on_unwind_event(
    _callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    _kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let nargs = positional_count(nargsf);
    // SAFETY: CPython calls callbacks with the GIL held and `args` valid for
    // `nargs` arguments; the body checks `nargs` before reading them.
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| unsafe { unwind_event(args, nargs) })) {
        failure::report_panic("PY_UNWIND callback", &panic);
    }
    // SAFETY: GIL held (a callback).
    unsafe { none() }
}

unsafe fn unwind_event(args: *const *mut ffi::PyObject, nargs: ffi::Py_ssize_t) {
    // SAFETY: GIL held inside a callback; no Python code runs while it is used.
    let hot = unsafe { HOT.get() };
    if !hot.enabled || nargs < 1 {
        return;
    }
    // SAFETY: `nargs >= 1`, so `args[0]` (the code object) is readable.
    let code = unsafe { *args };
    // SAFETY: GIL held; `code` is the event's code object.
    let Some(word) = (unsafe { read_word(code, hot.extra_index) }) else {
        return;
    };
    own_time_exit(hot, word);
    if hot.is_current_latency_key((word >> 32) as u32) {
        // SAFETY: GIL held, inside the PY_UNWIND callback for `code`.
        unsafe { latency::on_end(hot, code, word, true) };
    }
}

/// CALL(code, instruction_offset, callable, arg0): matches C functions by the
/// callable. A call site whose callable is a Python function (PY_START covers
/// it) or a non-matching C function is disabled for good: decisions are per
/// call site, the documented limit of this option.
pub unsafe extern "C" fn on_call_event(
    _callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    _kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let nargs = positional_count(nargsf);
    // SAFETY: CPython calls callbacks with the GIL held and `args` valid for
    // `nargs` arguments; the body checks `nargs` before reading them.
    unsafe { respond("CALL callback", || call_event(args, nargs)) }
}

unsafe fn call_event(args: *const *mut ffi::PyObject, nargs: ffi::Py_ssize_t) -> Verdict {
    // SAFETY: GIL held inside a callback; no Python code runs while it is used.
    let hot = unsafe { HOT.get() };
    if !hot.enabled || nargs < 3 {
        return Verdict::Disable;
    }
    // SAFETY: `nargs >= 3`, so `args[2]` (the callable) is readable.
    let callable = unsafe { *args.add(2) };
    // SAFETY: GIL held; `callable` is the CALL event's argument, alive for the call.
    match unsafe { decide::decide_callable(callable) } {
        Some(function_id) => {
            // SAFETY: GIL held; `hot.functions` is valid for `function_capacity` slots
            // (the id is bounds-checked inside).
            unsafe { on_matched_call(HOT.get(), function_id) };
            Verdict::Continue
        }
        None => Verdict::Disable,
    }
}
