//! The slow path: deciding once whether a code object (or a C callable)
//! matches the target patterns, and caching the answer.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use speedbump_core::ipc::FunctionKind;

#[cfg(Py_3_12)]
unsafe extern "C" {
    /// Bound methods' type (`types.MethodType`); pyo3-ffi does not declare it.
    static mut PyMethod_Type: ffi::PyTypeObject;
}

use crate::hot::{Decision, FUNCTION_ID_MASK, HOT, write_word};
use crate::latency::GENERATOR_LIKE_FLAGS;
#[cfg(Py_3_12)]
use crate::segment::CKey;
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

/// Name of the module whose code is starting: `__name__` of its frame's
/// globals.
fn module_of(globals: Option<&Bound<'_, PyDict>>) -> String {
    let Some(globals) = globals else {
        return String::from("<unknown>");
    };
    let py = globals.py();
    match globals.get_item(pyo3::intern!(py, "__name__")) {
        Ok(Some(name)) => name
            .cast_into::<PyString>()
            .ok()
            .and_then(|s| s.to_str().ok().map(str::to_owned))
            .unwrap_or_else(|| String::from("<unknown>")),
        _ => {
            // SAFETY: GIL held (`globals` is bound to it); clearing a possibly
            // absent error is always sound.
            unsafe { ffi::PyErr_Clear() };
            String::from("<unknown>")
        }
    }
}

/// The qualified name of a code object (`co_qualname`, 3.11+).
#[cfg(Py_3_11)]
fn qualname_of(code: &Bound<'_, PyAny>, _globals: Option<&Bound<'_, PyDict>>) -> Option<String> {
    string_attr(code, pyo3::intern!(code.py(), "co_qualname"))
}

/// Python 3.10's code objects have no `co_qualname`: see `qualname.rs`.
#[cfg(not(Py_3_11))]
fn qualname_of(code: &Bound<'_, PyAny>, globals: Option<&Bound<'_, PyDict>>) -> Option<String> {
    crate::qualname::of_code(code, globals)
}

/// Before 3.12, list, dict and set comprehensions are functions of their
/// own; 3.12 inlines them (PEP 709) into the function that holds them. They
/// are never matched, so that patterns select the same functions and their
/// time counts in the enclosing function, as on 3.12.
#[cfg(not(Py_3_12))]
fn is_inlined_on_3_12(qualname: &str) -> bool {
    ["<listcomp>", "<dictcomp>", "<setcomp>"]
        .iter()
        .any(|name| qualname.ends_with(name))
}

#[cfg(Py_3_12)]
fn is_inlined_on_3_12(_qualname: &str) -> bool {
    false
}

fn string_attr(object: &Bound<'_, PyAny>, name: &Bound<'_, PyString>) -> Option<String> {
    object.getattr(name).ok()?.extract::<String>().ok()
}

/// Decides a code object seen for the first time (or under an older
/// settings generation), stores the decision in its `co_extra`, and returns
/// the function id to count it under when it matches.
///
/// # Safety
/// GIL held; `code` is a live code object that is starting to run and
/// `globals` its frame's globals (or null).
pub unsafe fn decide_code(code: *mut ffi::PyObject, globals: *mut ffi::PyObject) -> Option<u32> {
    // SAFETY: the caller holds the GIL (this function's contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: `code` is a live object (contract); `Bound` takes its own reference.
    let code_obj = unsafe { Bound::from_borrowed_ptr(py, code) };
    // SAFETY: a borrowed reference, valid while the frame runs.
    let globals = (!globals.is_null())
        .then(|| unsafe { Bound::from_borrowed_ptr(py, globals) })
        .and_then(|g| g.cast_into::<PyDict>().ok());
    let qualname = qualname_of(&code_obj, globals.as_ref());
    let filename = string_attr(&code_obj, pyo3::intern!(py, "co_filename"));
    let module = module_of(globals.as_ref());
    let module = normalise_module(&module);
    // A child of a fork made from C moves to its own segment first.
    crate::activation::catch_up_after_c_fork();
    // SAFETY: GIL held; fetched after the Python calls above (no reference is
    // held across them); `co_flags` below is a plain attribute of a code
    // object, which runs no Python code.
    let hook = unsafe { HOOK.get() }.as_mut()?;
    let generation = hook.generation;
    let mut decision = Decision {
        function_id: None,
        progress_slot: 0,
        latency: None,
    };
    if let (Some(qualname), Some(filename)) = (qualname, filename)
        && !is_own_module(module)
        && !is_inlined_on_3_12(&qualname)
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
        if hook
            .latency_points
            .iter()
            .any(|p| p.matches(module, &filename, &qualname))
        {
            hook.stats.ensure_segment(&hook.patterns);
            let id = match decision.function_id {
                Some(id) => id,
                None => hook
                    .stats
                    .register_latency_function(&format!("{module}:{qualname}")),
            };
            let flags: u32 = code_obj
                .getattr(pyo3::intern!(py, "co_flags"))
                .and_then(|f| f.extract())
                .unwrap_or(0);
            if id <= FUNCTION_ID_MASK {
                decision.latency = Some((id, flags & GENERATOR_LIKE_FLAGS != 0));
            }
        }
    }
    // SAFETY: GIL held; `code` is a code object (contract). No Python code
    // runs while `hot` is used.
    let hot = unsafe { HOT.get() };
    #[cfg(Py_3_12)]
    // SAFETY: GIL held; `code` is a code object (contract).
    let was_matched = unsafe { crate::hot::read_word(code, hot.extra_index) }
        .is_some_and(|word| crate::hot::key_is_matched((word >> 32) as u32));
    #[cfg(Py_3_12)]
    let own_time = hot.own_time;
    // SAFETY: GIL held; `code` is a code object (contract).
    unsafe { write_word(code, hot.extra_index, decision.word(generation)) };
    #[cfg(Py_3_12)]
    // SAFETY: GIL held; `code` is a live code object. It runs Python code:
    // nothing of the hook's state is held across it.
    unsafe {
        crate::monitoring::own_time_events(
            code,
            own_time && decision.function_id.is_some(),
            was_matched,
        )
    };
    decision.function_id
}

/// Identity of a C callable seen at a call site: (module, qualname).
#[cfg(Py_3_12)]
unsafe fn c_callable_identity(
    py: Python<'_>,
    callable: *mut ffi::PyObject,
) -> Option<(String, String)> {
    // SAFETY: `callable` is a live object (contract); `Bound` takes its own reference.
    let object = unsafe { Bound::from_borrowed_ptr(py, callable) };
    let qualname = string_attr(&object, pyo3::intern!(py, "__qualname__"))
        .or_else(|| string_attr(&object, pyo3::intern!(py, "__name__")))?;
    // SAFETY: GIL held; `callable` is a live object.
    if unsafe { ffi::PyCFunction_Check(callable) } != 0 {
        let module = string_attr(&object, pyo3::intern!(py, "__module__")).or_else(|| {
            // A method bound to a C object: the module of its type.
            let owner = object.getattr(pyo3::intern!(py, "__self__")).ok()?;
            let owner_type = owner.get_type();
            string_attr(owner_type.as_any(), pyo3::intern!(py, "__module__"))
        })?;
        return Some((module, qualname));
    }
    let is_method_descriptor =
        // SAFETY: reading the type of a live object and the address of a static.
        unsafe { ffi::Py_TYPE(callable) == &raw mut ffi::PyMethodDescr_Type };
    if is_method_descriptor {
        let owner = object.getattr(pyo3::intern!(py, "__objclass__")).ok()?;
        let module = string_attr(&owner, pyo3::intern!(py, "__module__"))?;
        return Some((module, qualname));
    }
    // Other native callables (numpy ufuncs, C-implemented classes...): no
    // stable key, so they are decided at each call of a matching site.
    let module = string_attr(&object, pyo3::intern!(py, "__module__"))
        .or_else(|| string_attr(object.get_type().as_any(), pyo3::intern!(py, "__module__")))?;
    Some((module, qualname))
}

/// Decides a callable at a CALL event (option SPEED_BUMP_C_CALLS=1).
///
/// # Safety
/// GIL held; `callable` is a live object (an argument of the CALL event).
#[cfg(Py_3_12)]
pub unsafe fn decide_callable(callable: *mut ffi::PyObject) -> Option<u32> {
    // Python functions and bound methods are handled by PY_START.
    // SAFETY: GIL held; `callable` is a live object (contract).
    if unsafe { ffi::PyFunction_Check(callable) } != 0
        // SAFETY: reading the type of a live object and the address of a static.
        || unsafe { ffi::Py_TYPE(callable) == &raw mut PyMethod_Type }
    {
        return None;
    }
    // SAFETY: GIL held; `callable` is a live object.
    let is_type = unsafe { ffi::PyType_Check(callable) } != 0;
    if is_type {
        return None;
    }
    // SAFETY: GIL held; `callable` is a live object (contract).
    let cache = unsafe { c_cache_key(callable) };
    if let Some((key, _)) = cache {
        // SAFETY: GIL held; no Python code runs while `hook` is used.
        let hook = unsafe { HOOK.get() }.as_mut()?;
        if let Some(cached) = hook.stats.cached_c_decision(key) {
            return cached;
        }
    }
    // SAFETY: the caller holds the GIL (this function's contract).
    let py = unsafe { Python::assume_attached() };
    // SAFETY: GIL held; `callable` is a live object (contract).
    let identity = unsafe { c_callable_identity(py, callable) };
    // A child of a fork made from C moves to its own segment first.
    crate::activation::catch_up_after_c_fork();
    // SAFETY: GIL held; fetched after `c_callable_identity` ran Python code,
    // and no Python code runs while `hook` is used.
    let hook = unsafe { HOOK.get() }.as_mut()?;
    let Some((module, qualname)) = identity else {
        // SAFETY: GIL held.
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
    if let Some((key, keeper)) = cache {
        // SAFETY: GIL held; `keeper` is the callable, its descriptor or its
        // bound object's type: alive while the CALL event's callable is.
        let keeper = unsafe { Bound::from_borrowed_ptr(py, keeper) }.unbind();
        hook.stats.cache_c_decision(key, decision, keeper);
    }
    decision
}

/// The key a C callable's decision is cached under, and the object to hold
/// with it so that no address in the key can be freed and reused by another
/// callable while the decision is cached: pybind11 frees a function's
/// `PyMethodDef` with the function, and the next function it makes may get
/// the same address (and a different name).
///
/// - A C function bound to nothing, a module, a type or a capsule (pybind11
///   functions: their capsule owns the `PyMethodDef`): (def, self, or the
///   module name when unbound); the function itself is held. None of these
///   is the program's data.
/// - A method bound to an instance (`[].append`): (def, the instance's
///   type), whose method table holds the def; the type is held, never the
///   instance (that would change when the program's object is freed).
/// - A method descriptor (`list.append`): (def, 0); the descriptor, which
///   its type keeps anyway, is held.
///
/// Other native callables have none: they are decided at each call of a
/// matching site.
///
/// # Safety
/// GIL held; `callable` is a live object.
#[cfg(Py_3_12)]
unsafe fn c_cache_key(callable: *mut ffi::PyObject) -> Option<(CKey, *mut ffi::PyObject)> {
    // SAFETY: GIL held; `callable` is a live object (contract).
    if unsafe { ffi::PyCFunction_Check(callable) } != 0 {
        let function = callable as *mut ffi::PyCFunctionObject;
        // SAFETY: `PyCFunction_Check` passed: `callable` is a `PyCFunctionObject`.
        let (def, bound_to) = unsafe { ((*function).m_ml as usize, (*function).m_self) };
        if bound_to.is_null() {
            // SAFETY: as above.
            let module = unsafe { (*function).m_module } as usize;
            return Some(((def, module), callable));
        }
        // SAFETY: GIL held; `bound_to` is the function's `m_self`, a live
        // object the function holds a reference to.
        let owner_like = unsafe {
            ffi::PyModule_Check(bound_to) != 0
                || ffi::PyType_Check(bound_to) != 0
                || ffi::PyCapsule_CheckExact(bound_to) != 0
        };
        if owner_like {
            return Some(((def, bound_to as usize), callable));
        }
        // SAFETY: `bound_to` is live (above); reading its type.
        let owner_type = unsafe { ffi::Py_TYPE(bound_to) }.cast::<ffi::PyObject>();
        return Some(((def, owner_type as usize), owner_type));
    }
    // SAFETY: reading the type of a live object and the address of a static.
    if unsafe { ffi::Py_TYPE(callable) == &raw mut ffi::PyMethodDescr_Type } {
        // SAFETY: its type is exactly `PyMethodDescr_Type`: a `PyMethodDescrObject`.
        let def = unsafe { (*(callable as *mut ffi::PyMethodDescrObject)).d_method } as usize;
        return Some(((def, 0), callable));
    }
    None
}
