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
    FUNCTION_ID_MASK, HOT, on_matched_call, on_progress_point, progress_slot_of, read_word,
};

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

/// PY_START(code, instruction_offset) and, when enabled, PY_RESUME with the
/// same arguments.
pub unsafe extern "C" fn on_code_event(
    _callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    _kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let nargs = positional_count(nargsf);
    unsafe { respond("PY_START callback", || code_event(args, nargs)) }
}

#[inline(always)]
unsafe fn code_event(args: *const *mut ffi::PyObject, nargs: ffi::Py_ssize_t) -> Verdict {
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
    // PY_START fires inside the new frame: its globals are the current ones.
    let globals = unsafe { ffi::PyEval_GetGlobals() };
    match unsafe { decide::decide_code(code, globals) } {
        Some(function_id) => {
            let hot = unsafe { HOT.get() };
            unsafe { on_matched_call(hot, function_id) };
            Verdict::Continue
        }
        None => Verdict::Disable,
    }
}

/// PY_RETURN(code, instruction_offset, retval), enabled only when progress
/// points are set: counts one unit for each completed call of a progress
/// point, and disables every other return site for good.
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
    let Some(mut word) = (unsafe { read_word(code, hot.extra_index) }) else {
        return Verdict::Continue;
    };
    if hot.generation_of(word) != Some(hot.current_generation()) {
        unsafe { decide::decide_code(code, ffi::PyEval_GetGlobals()) };
        let hot = unsafe { HOT.get() };
        let Some(decided) = (unsafe { read_word(code, hot.extra_index) }) else {
            return Verdict::Continue;
        };
        word = decided;
    }
    match progress_slot_of(word) {
        0 => Verdict::Disable,
        slot => {
            unsafe { on_progress_point(HOT.get(), slot) };
            Verdict::Continue
        }
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
