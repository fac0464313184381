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

/// `None`, as a new reference.
#[inline(always)]
unsafe fn none() -> *mut ffi::PyObject {
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
        Verdict::Continue => unsafe { none() },
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
        Ok(verdict) => unsafe { verdict_object(verdict) },
        Err(panic) => {
            failure::report_panic(what, &panic);
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
        unsafe { latency::on_start(code, key) };
    }
    if key_is_matched(key) {
        unsafe { on_matched_call(hot, word as u32 & FUNCTION_ID_MASK) };
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
    let code = unsafe { *args };
    let Some(word) = (unsafe { read_word(code, hot.extra_index) }) else {
        return Verdict::Continue;
    };
    let key = (word >> 32) as u32;
    if key == hot.matched_key {
        unsafe { on_matched_call(hot, word as u32 & FUNCTION_ID_MASK) };
        return Verdict::Continue;
    }
    if key == hot.unmatched_key {
        return Verdict::Disable;
    }
    if key == PROBE_HIT_KEY {
        unsafe { on_probe_call(hot) };
        return Verdict::Continue;
    }
    if key == PROBE_MISS_KEY {
        return Verdict::Disable;
    }
    if hot.is_current_latency_key(key) {
        return unsafe { latency_point_event(hot, code, word, is_start) };
    }
    // PY_START fires inside the new frame: its globals are the current ones.
    let globals = unsafe { ffi::PyEval_GetGlobals() };
    let matched = unsafe { decide::decide_code(code, globals) };
    let hot = unsafe { HOT.get() };
    if let Some(word) = unsafe { read_word(code, hot.extra_index) }
        && hot.is_current_latency_key((word >> 32) as u32)
    {
        return unsafe { latency_point_event(hot, code, word, is_start) };
    }
    match matched {
        Some(function_id) => {
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
    unsafe { respond("PY_RETURN callback", || return_event(args, nargs)) }
}

unsafe fn return_event(args: *const *mut ffi::PyObject, nargs: ffi::Py_ssize_t) -> Verdict {
    let hot = unsafe { HOT.get() };
    if !hot.enabled || nargs < 1 {
        return Verdict::Disable;
    }
    let code = unsafe { *args };
    if let Some(raw) = unsafe { read_word(code, hot.extra_index) }
        && raw >> 32 >= probe_word(PROBE_HIT_KEY) >> 32
    {
        return Verdict::Disable; // the calibration probe's code
    }
    let Some(word) = (unsafe { current_word(code) }) else {
        return Verdict::Continue;
    };
    let hot = unsafe { HOT.get() };
    let latency_point = hot.is_current_latency_key((word >> 32) as u32);
    if latency_point {
        unsafe { latency::on_end(hot, code, word, false) };
    }
    match progress_slot_of(word) {
        0 if latency_point => Verdict::Continue,
        0 => Verdict::Disable,
        slot => {
            unsafe { on_progress_point(HOT.get(), slot) };
            Verdict::Continue
        }
    }
}

/// `code`'s decision word under the current settings generation (deciding
/// it again when it is stale); `None` when CPython refuses to read it.
///
/// # Safety
/// GIL held; `code` is a live code object.
unsafe fn current_word(code: *mut ffi::PyObject) -> Option<usize> {
    let hot = unsafe { HOT.get() };
    let word = unsafe { read_word(code, hot.extra_index) }?;
    if hot.generation_of(word) == Some(hot.current_generation()) {
        return Some(word);
    }
    unsafe { decide::decide_code(code, ffi::PyEval_GetGlobals()) };
    let hot = unsafe { HOT.get() };
    unsafe { read_word(code, hot.extra_index) }
}

/// PY_UNWIND(code, instruction_offset, exception), enabled only when
/// latency points are set: a latency point's call that ends by an exception
/// is a request that raised. PY_UNWIND is not a per-location event, so it can
/// never be disabled: the callback returns `None` always, panics included.
pub unsafe extern "C" fn on_unwind_event(
    _callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    _kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let nargs = positional_count(nargsf);
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| unsafe { unwind_event(args, nargs) })) {
        failure::report_panic("PY_UNWIND callback", &panic);
    }
    unsafe { none() }
}

unsafe fn unwind_event(args: *const *mut ffi::PyObject, nargs: ffi::Py_ssize_t) {
    let hot = unsafe { HOT.get() };
    if !hot.enabled || nargs < 1 {
        return;
    }
    let code = unsafe { *args };
    let Some(word) = (unsafe { read_word(code, hot.extra_index) }) else {
        return;
    };
    if hot.is_current_latency_key((word >> 32) as u32) {
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
    unsafe { respond("CALL callback", || call_event(args, nargs)) }
}

unsafe fn call_event(args: *const *mut ffi::PyObject, nargs: ffi::Py_ssize_t) -> Verdict {
    let hot = unsafe { HOT.get() };
    if !hot.enabled || nargs < 3 {
        return Verdict::Disable;
    }
    let callable = unsafe { *args.add(2) };
    match unsafe { decide::decide_callable(callable) } {
        Some(function_id) => {
            unsafe { on_matched_call(HOT.get(), function_id) };
            Verdict::Continue
        }
        None => Verdict::Disable,
    }
}
