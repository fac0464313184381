//! Qualified names of code objects on Python 3.10, whose code objects have
//! no `co_qualname` (3.11 added it) and whose frames do not know their
//! function.
//!
//! The compiler derives a function's `__qualname__` from where its code
//! object sits: a code object's nested functions and classes are constants
//! of its own code (`co_consts`), and their qualname is the parent's plus
//! `.` (inside a class body) or `.<locals>.` (inside a function); at module
//! level it is the bare name. A parent always runs before its children are
//! called (it defines them), so when the hook first sees a code object it
//! names the code objects nested in it, in a second `co_extra` slot that
//! holds a reference to the name and dies with the code.
//!
//! Code of modules that ran before the hook activated (the few imported
//! while Python starts) has no name waiting: its functions are then looked
//! up in the module's globals (functions, and functions in classes), and
//! failing that the bare `co_name` stands. Differs from 3.11+ only for a
//! function declared `global` inside another (the compiler then uses the
//! bare name; here it gets the `.<locals>.` form).

use std::ffi::c_void;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::gil::GilCell;

/// Our second `co_extra` slot (the qualname objects), -1 until `init`.
static INDEX: GilCell<ffi::Py_ssize_t> = GilCell::new(-1);

/// `CO_OPTIMIZED`: set on function code, not on module or class bodies.
const CO_OPTIMIZED: i32 = 0x0001;

/// How many objects a search of a module's globals may look at: it runs
/// once per code object and must stay cheap on huge modules.
const SEARCH_LIMIT: usize = 20_000;

/// Drops the name a code object held, when the code object dies.
unsafe extern "C" fn release(extra: *mut c_void) {
    if !extra.is_null() {
        // SAFETY: called by the code object's deallocator (GIL held) with
        // the reference `store` gave the slot.
        unsafe { ffi::Py_DecRef(extra.cast()) };
    }
}

/// Takes the co_extra slot; once per process, at activation.
pub fn init() -> Result<(), String> {
    // SAFETY: GIL held (activation).
    let index = unsafe { ffi::PyUnstable_Eval_RequestCodeExtraIndex(release) };
    if index < 0 {
        return Err("could not start the hook: no code-object extra slot left".into());
    }
    // SAFETY: GIL held.
    unsafe { *INDEX.get() = index };
    Ok(())
}

fn is_code(object: &Bound<'_, PyAny>) -> bool {
    // SAFETY: reading the type of a live object.
    unsafe { ffi::Py_TYPE(object.as_ptr()) == &raw mut ffi::PyCode_Type }
}

/// The name stored on `code`, if any.
fn stored<'py>(code: &Bound<'py, PyAny>) -> Option<Bound<'py, PyString>> {
    // SAFETY: GIL held (`code` is bound).
    let index = unsafe { *INDEX.get() };
    if index < 0 {
        return None;
    }
    let mut extra: *mut c_void = std::ptr::null_mut();
    // SAFETY: GIL held; `code` is a code object.
    if unsafe { ffi::PyUnstable_Code_GetExtra(code.as_ptr(), index, &mut extra) } != 0 {
        // SAFETY: GIL held.
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    if extra.is_null() {
        return None;
    }
    // SAFETY: the slot holds a strong reference to a str (see `store`).
    let name = unsafe { Bound::from_borrowed_ptr(code.py(), extra.cast()) };
    name.cast_into::<PyString>().ok()
}

/// Stores `name` on `code`; the slot owns a new reference to it.
fn store(code: &Bound<'_, PyAny>, name: &Bound<'_, PyString>) {
    // SAFETY: GIL held.
    let index = unsafe { *INDEX.get() };
    if index < 0 {
        return;
    }
    let owned = name.clone().into_ptr();
    // SAFETY: GIL held; `code` is a code object; on success the slot owns
    // `owned` (released by `release`); on failure we drop it ourselves.
    if unsafe { ffi::PyUnstable_Code_SetExtra(code.as_ptr(), index, owned.cast()) } != 0 {
        // SAFETY: GIL held; the slot refused `owned`, so we still own it.
        unsafe {
            ffi::PyErr_Clear();
            ffi::Py_DecRef(owned);
        }
    }
}

fn str_attr(object: &Bound<'_, PyAny>, name: &str) -> Option<String> {
    object.getattr(name).ok()?.extract::<String>().ok()
}

/// The qualname of `code`, a code object about to run with `globals`; also
/// names the functions and classes defined in it.
pub fn of_code(code: &Bound<'_, PyAny>, globals: Option<&Bound<'_, PyDict>>) -> Option<String> {
    let py = code.py();
    let qualname = match stored(code) {
        Some(name) => name.to_str().ok()?.to_owned(),
        None => {
            let co_name = str_attr(code, "co_name")?;
            let found = globals.and_then(|g| search_globals(code, &co_name, g));
            let qualname = found.unwrap_or(co_name);
            store(code, &PyString::new(py, &qualname));
            qualname
        }
    };
    name_children(code, &qualname);
    Some(qualname)
}

/// Names the code objects defined directly in `code` that have no name yet.
fn name_children(code: &Bound<'_, PyAny>, qualname: &str) {
    let py = code.py();
    let flags: i32 = code
        .getattr("co_flags")
        .and_then(|f| f.extract())
        .unwrap_or(0);
    let prefix = if flags & CO_OPTIMIZED != 0 {
        format!("{qualname}.<locals>.")
    } else if qualname == "<module>" {
        String::new()
    } else {
        format!("{qualname}.")
    };
    let Ok(consts) = code.getattr("co_consts") else {
        // SAFETY: GIL held (`code` is bound to it).
        unsafe { ffi::PyErr_Clear() };
        return;
    };
    let Ok(consts) = consts.cast_into::<PyTuple>() else {
        return;
    };
    for child in consts.iter().filter(is_code) {
        if stored(&child).is_some() {
            continue;
        }
        if let Some(name) = str_attr(&child, "co_name") {
            store(&child, &PyString::new(py, &format!("{prefix}{name}")));
        }
    }
}

/// Looks for the function whose code is `code` among a module's globals
/// and the members of its classes (two levels of nesting). Only C-level
/// lookups: no user code runs (no `__getattr__`, no descriptors).
fn search_globals(
    code: &Bound<'_, PyAny>,
    co_name: &str,
    globals: &Bound<'_, PyDict>,
) -> Option<String> {
    let mut budget = SEARCH_LIMIT;
    globals
        .values()
        .iter()
        .find_map(|value| search_in(code, co_name, &value, 0, &mut budget))
}

fn search_in(
    code: &Bound<'_, PyAny>,
    co_name: &str,
    object: &Bound<'_, PyAny>,
    depth: u32,
    budget: &mut usize,
) -> Option<String> {
    if *budget == 0 {
        return None;
    }
    *budget -= 1;
    let pointer = object.as_ptr();
    // SAFETY: type checks and field reads of live objects, GIL held.
    unsafe {
        if ffi::PyFunction_Check(pointer) != 0 {
            if ffi::PyFunction_GetCode(pointer) != code.as_ptr() {
                return None;
            }
            // A wrapper made by functools.wraps carries the wrapped
            // function's qualname: only a name that ends in the code's own
            // name is the code's.
            let qualname = str_attr(object, "__qualname__")?;
            let last = qualname.rsplit('.').next().unwrap_or_default();
            return (last == co_name).then_some(qualname);
        }
        let type_name = object.get_type().name().ok()?;
        let type_name = type_name.to_str().ok()?;
        if type_name == "staticmethod" || type_name == "classmethod" {
            let function = object.getattr("__func__").ok()?;
            return search_in(code, co_name, &function, depth, budget);
        }
        if ffi::PyType_Check(pointer) != 0 && depth < 2 {
            let dict = (*pointer.cast::<ffi::PyTypeObject>()).tp_dict;
            if dict.is_null() {
                return None;
            }
            let dict = Bound::from_borrowed_ptr(object.py(), dict)
                .cast_into::<PyDict>()
                .ok()?;
            return dict
                .values()
                .iter()
                .find_map(|value| search_in(code, co_name, &value, depth + 1, budget));
        }
    }
    None
}
