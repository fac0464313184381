//! The objects registered with `sys.monitoring`: instances of a minimal type
//! that CPython calls straight through their own vectorcall pointer.
//!
//! A builtin function object would be called through
//! `cfunction_vectorcall_FASTCALL`, which checks for keywords and the C
//! recursion limit before it reaches us, on every event (a few ns of a
//! matched call's ~30). A type with `Py_TPFLAGS_HAVE_VECTORCALL` and a
//! `__vectorcalloffset__` member is called directly: one indirect call.

use std::ffi::{CStr, c_int, c_uint, c_void};
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;

/// An instance: the object header and the function to call.
#[repr(C)]
struct VectorcallObject {
    ob_base: ffi::PyObject,
    vectorcall: ffi::vectorcallfunc,
}

/// The type, created once per process (activation runs once; fork children
/// keep it).
static CALLBACK_TYPE: AtomicPtr<ffi::PyTypeObject> = AtomicPtr::new(std::ptr::null_mut());

const TYPE_NAME: &CStr = c"speedbump._speedbump.Callback";

fn callback_type(py: Python<'_>) -> PyResult<*mut ffi::PyTypeObject> {
    let existing = CALLBACK_TYPE.load(Ordering::Acquire);
    if !existing.is_null() {
        return Ok(existing);
    }
    // CPython copies the members and reads the slots only while creating the
    // type; leaking these few bytes once keeps every pointer trivially valid.
    let members: &'static mut [ffi::PyMemberDef; 2] = Box::leak(Box::new([
        ffi::PyMemberDef {
            name: c"__vectorcalloffset__".as_ptr(),
            type_code: ffi::Py_T_PYSSIZET,
            offset: std::mem::offset_of!(VectorcallObject, vectorcall) as ffi::Py_ssize_t,
            flags: ffi::Py_READONLY,
            doc: std::ptr::null(),
        },
        ffi::PyMemberDef::default(),
    ]));
    let slots: &'static mut [ffi::PyType_Slot; 3] = Box::leak(Box::new([
        ffi::PyType_Slot {
            slot: ffi::Py_tp_call,
            pfunc: ffi::PyVectorcall_Call as *mut c_void,
        },
        ffi::PyType_Slot {
            slot: ffi::Py_tp_members,
            pfunc: members.as_mut_ptr().cast(),
        },
        ffi::PyType_Slot::default(),
    ]));
    let spec: &'static mut ffi::PyType_Spec = Box::leak(Box::new(ffi::PyType_Spec {
        name: TYPE_NAME.as_ptr(),
        basicsize: std::mem::size_of::<VectorcallObject>() as c_int,
        itemsize: 0,
        // No instantiation from Python: an instance without its pointer
        // set would crash when called.
        flags: (ffi::Py_TPFLAGS_DEFAULT
            | ffi::Py_TPFLAGS_HAVE_VECTORCALL
            | ffi::Py_TPFLAGS_IMMUTABLETYPE
            | ffi::Py_TPFLAGS_DISALLOW_INSTANTIATION) as c_uint,
        slots: slots.as_mut_ptr(),
    }));
    // SAFETY: GIL held; the spec is valid and 'static.
    let created = unsafe { ffi::PyType_FromSpec(spec) };
    if created.is_null() {
        return Err(PyErr::fetch(py));
    }
    let created = created.cast::<ffi::PyTypeObject>();
    CALLBACK_TYPE.store(created, Ordering::Release);
    Ok(created)
}

/// A new callable object that runs `function` when called.
pub fn new_callback<'py>(
    py: Python<'py>,
    function: ffi::vectorcallfunc,
) -> PyResult<Bound<'py, PyAny>> {
    let tp = callback_type(py)?;
    // SAFETY: GIL held; `tp` is a live heap type whose basic size is
    // `VectorcallObject`; GenericAlloc returns it zeroed with a reference to
    // its type, and the default dealloc of heap types releases both.
    unsafe {
        let object = ffi::PyType_GenericAlloc(tp, 0);
        if object.is_null() {
            return Err(PyErr::fetch(py));
        }
        (*object.cast::<VectorcallObject>()).vectorcall = function;
        Ok(Bound::from_owned_ptr(py, object))
    }
}

/// The positional argument count from a vectorcall `nargsf`.
#[inline(always)]
pub fn positional_count(nargsf: usize) -> ffi::Py_ssize_t {
    (nargsf & !ffi::PY_VECTORCALL_ARGUMENTS_OFFSET) as ffi::Py_ssize_t
}
