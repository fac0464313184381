//! The slow path: deciding once whether a code object (or a C callable)
//! matches the target patterns, and caching the answer.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use speedbump_core::ipc::FunctionKind;

unsafe extern "C" {
    /// Bound methods' type (`types.MethodType`); pyo3-ffi does not declare it.
    static mut PyMethod_Type: ffi::PyTypeObject;
}

use crate::hot::{Decision, HOT, write_word};
use crate::state::HOOK;

/// `__mp_main__` (the main module of multiprocessing spawn children) counts
/// as `__main__`, so one pattern targets the script in every process.
pub fn normalise_module(name: &str) -> &str {
    if name == "__mp_main__" {
        "__main__"
    } else {
        name
    }
}

/// The hook's own package is never slowed.
fn is_own_module(module: &str) -> bool {
    module == "speedbump" || module.starts_with("speedbump.")
}

/// Name of the module whose code is starting: `__name__` of the current
/// frame's globals (PY_START fires inside the new frame).
fn current_module(py: Python<'_>) -> String {
    // SAFETY: GIL held; a borrowed reference valid while the frame runs.
    let globals = unsafe { ffi::PyEval_GetGlobals() };
    if globals.is_null() {
        return String::from("<unknown>");
    }
    let globals = unsafe { Bound::from_borrowed_ptr(py, globals) };
    let Ok(globals) = globals.cast_into::<PyDict>() else {
        return String::from("<unknown>");
    };
    match globals.get_item(pyo3::intern!(py, "__name__")) {
        Ok(Some(name)) => name
            .cast_into::<PyString>()
            .ok()
            .and_then(|s| s.to_str().ok().map(str::to_owned))
            .unwrap_or_else(|| String::from("<unknown>")),
        _ => {
            unsafe { ffi::PyErr_Clear() };
            String::from("<unknown>")
        }
    }
}

fn string_attr(object: &Bound<'_, PyAny>, name: &Bound<'_, PyString>) -> Option<String> {
    object.getattr(name).ok()?.extract::<String>().ok()
}

/// Decides a code object seen for the first time (or under an older
/// settings generation), stores the decision in its `co_extra`, and returns
/// the function id to count it under when it matches.
///
/// # Safety
/// GIL held; `code` is a live code object (the first argument of PY_START).
pub unsafe fn decide_code(code: *mut ffi::PyObject) -> Option<u32> {
    let py = unsafe { Python::assume_attached() };
    let hook = unsafe { HOOK.get() }.as_mut()?;
    let code_obj = unsafe { Bound::from_borrowed_ptr(py, code) };
    let qualname = string_attr(&code_obj, pyo3::intern!(py, "co_qualname"));
    let filename = string_attr(&code_obj, pyo3::intern!(py, "co_filename"));
    let module = current_module(py);
    let module = normalise_module(&module);
    let generation = hook.generation;
    let mut decision = Decision {
        function_id: None,
        progress_slot: 0,
    };
    if let (Some(qualname), Some(filename)) = (qualname, filename)
        && !is_own_module(module)
    {
        hook.seen.record(module, &filename, &qualname);
        if let Some(pattern_index) = hook.patterns.decide(module, &filename, &qualname) {
            hook.stats.ensure_segment(&hook.patterns);
            decision.function_id = Some(hook.stats.register_function(
                &format!("{module}:{qualname}"),
                FunctionKind::Python,
                pattern_index,
            ));
        }
        if let Some(point) = hook
            .progress_points
            .iter()
            .find(|p| p.matches(module, &filename, &qualname))
        {
            hook.stats.ensure_segment(&hook.patterns);
            decision.progress_slot = hook.stats.progress_point_slot(point.text());
        }
    }
    unsafe { write_word(code, HOT.get().extra_index, decision.word(generation)) };
    decision.function_id
}

/// Identity of a C callable seen at a call site: (cache key, module, qualname).
/// The key is the callable's `PyMethodDef`, which is static and never
/// reused, unlike the callable's address.
unsafe fn c_callable_identity(
    py: Python<'_>,
    callable: *mut ffi::PyObject,
) -> Option<(Option<usize>, String, String)> {
    let object = unsafe { Bound::from_borrowed_ptr(py, callable) };
    let qualname = string_attr(&object, pyo3::intern!(py, "__qualname__"))
        .or_else(|| string_attr(&object, pyo3::intern!(py, "__name__")))?;
    if unsafe { ffi::PyCFunction_Check(callable) } != 0 {
        let function = callable as *mut ffi::PyCFunctionObject;
        let key = unsafe { (*function).m_ml } as usize;
        let module = string_attr(&object, pyo3::intern!(py, "__module__")).or_else(|| {
            // A method bound to a C object: the module of its type.
            let owner = object.getattr(pyo3::intern!(py, "__self__")).ok()?;
            let owner_type = owner.get_type();
            string_attr(owner_type.as_any(), pyo3::intern!(py, "__module__"))
        })?;
        return Some((Some(key), module, qualname));
    }
    let is_method_descriptor =
        unsafe { ffi::Py_TYPE(callable) == &raw mut ffi::PyMethodDescr_Type };
    if is_method_descriptor {
        let descriptor = callable as *mut ffi::PyMethodDescrObject;
        let key = unsafe { (*descriptor).d_method } as usize;
        let owner = object.getattr(pyo3::intern!(py, "__objclass__")).ok()?;
        let module = string_attr(&owner, pyo3::intern!(py, "__module__"))?;
        return Some((Some(key), module, qualname));
    }
    // Other native callables (numpy ufuncs, C-implemented classes...): no
    // stable key, so they are decided at each call of a matching site.
    let module = string_attr(&object, pyo3::intern!(py, "__module__"))
        .or_else(|| string_attr(object.get_type().as_any(), pyo3::intern!(py, "__module__")))?;
    Some((None, module, qualname))
}

/// Decides a callable at a CALL event (option SPEED_BUMP_C_CALLS=1).
///
/// # Safety
/// GIL held; `callable` is a live object (an argument of the CALL event).
pub unsafe fn decide_callable(callable: *mut ffi::PyObject) -> Option<u32> {
    // Python functions and bound methods are handled by PY_START.
    if unsafe { ffi::PyFunction_Check(callable) } != 0
        || unsafe { ffi::Py_TYPE(callable) == &raw mut PyMethod_Type }
    {
        return None;
    }
    let is_type = unsafe { ffi::PyType_Check(callable) } != 0;
    if is_type {
        return None;
    }
    if unsafe { ffi::PyCFunction_Check(callable) } != 0 {
        let key = unsafe { (*(callable as *mut ffi::PyCFunctionObject)).m_ml } as usize;
        let hook = unsafe { HOOK.get() }.as_mut()?;
        if let Some(cached) = hook.stats.cached_c_decision(key) {
            return cached;
        }
    }
    let py = unsafe { Python::assume_attached() };
    let identity = unsafe { c_callable_identity(py, callable) };
    let hook = unsafe { HOOK.get() }.as_mut()?;
    let Some((key, module, qualname)) = identity else {
        unsafe { ffi::PyErr_Clear() };
        return None;
    };
    let module = normalise_module(&module);
    let decision = if is_own_module(module) {
        None
    } else {
        hook.patterns
            .decide(module, "", &qualname)
            .filter(|&index| {
                hook.patterns
                    .includes()
                    .get(index)
                    .is_some_and(|p| !p.matches_path())
            })
            .map(|index| {
                hook.stats.ensure_segment(&hook.patterns);
                hook.stats.register_function(
                    &format!("{module}:{qualname}"),
                    FunctionKind::C,
                    index,
                )
            })
    };
    if let Some(key) = key {
        hook.stats.cache_c_decision(key, decision);
    }
    decision
}
