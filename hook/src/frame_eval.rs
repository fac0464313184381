//! The PEP 523 frame-evaluation mechanism (CPython 3.10 and 3.11, which have
//! no `sys.monitoring`); see `mechanism.rs` and docs/python-versions.md.
//!
//! CPython calls the interpreter's frame-evaluation function for every
//! Python frame it runs: each call of a function, and each resume of a
//! generator or coroutine. Ours reads the frame's code object, looks its
//! cached decision word up in `co_extra` (the same word as on 3.12, see
//! `hot.rs`), counts and delays a matched start (and a resume, with
//! SPEED_BUMP_RESUME), then calls the evaluation function that was
//! installed before it (CPython's own, or another tool's: TorchDynamo and
//! debuggers install one on these versions). Unlike `sys.monitoring` there
//! is no DISABLE: every call pays the lookup (measured in
//! docs/python-versions.md), matched or not.
//!
//! Why not `PyEval_SetProfile`: on 3.11 it makes CPython create a frame
//! object for every call (+~400 ns per call measured here), and it
//! replaces the profiler slot that cProfile needs.
//!
//! What the evaluation function cannot see: calls of C functions (no frame
//! is evaluated for them), so SPEED_BUMP_C_CALLS matches nothing here and
//! says so once.
//!
//! The frame layouts below mirror CPython's internal headers for exactly the
//! versions this module is built for (3.10: `cpython/frameobject.h`; 3.11:
//! `internal/pycore_frame.h`, `cpython/genobject.h`, `cpython/code.h`); the
//! compile-time checks pin the offsets measured with those headers.

use std::ffi::{c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::AtomicBool;

use pyo3::ffi;
use pyo3::prelude::*;

use crate::decide;
use crate::failure::{self, say_once};
use crate::gil::GilCell;
use crate::hot::{
    FUNCTION_ID_MASK, HOT, PROBE_HIT_KEY, PROBE_MISS_KEY, on_matched_call, on_probe_call,
    on_progress_point, progress_slot_of, read_word,
};
use crate::mechanism::Wanted;
use crate::own_time;

pub const NAME: &str = "a PEP 523 frame-evaluation function";

/// `NAME`, and how code objects' words are read when that is not the
/// fast way (`_speedbump._mechanism()`, printed by benches/hook_bench.py
/// and checked by tests/python/test_frame_eval.py).
pub fn describe() -> String {
    // SAFETY: called with the GIL held (a pyfunction); plain reads.
    let (direct, active) = unsafe { (STATE.get().direct_extra, HOT.get().enabled) };
    if direct || !active {
        NAME.to_owned()
    } else {
        format!(
            "{NAME}, reading co_extra through CPython's accessor (the code object's layout \
             is not the one this build expects)"
        )
    }
}

/// The frame the evaluation function receives.
#[cfg(Py_3_11)]
type Frame = ffi::_PyInterpreterFrame;
#[cfg(not(Py_3_11))]
type Frame = ffi::PyFrameObject;

type EvalFrame = ffi::_PyFrameEvalFunction;

unsafe extern "C" {
    /// The evaluation function installed now. Declared here with a
    /// nullable result: CPython may keep NULL for "the default", and
    /// pyo3-ffi's 3.11 declaration says it never returns NULL.
    #[link_name = "_PyInterpreterState_GetEvalFrameFunc"]
    fn installed_eval_frame(interp: *mut ffi::PyInterpreterState) -> Option<EvalFrame>;

    /// CPython's own frame evaluation (exported by libpython 3.10/3.11;
    /// pyo3-ffi leaves private functions out).
    fn _PyEval_EvalFrameDefault(
        tstate: *mut ffi::PyThreadState,
        frame: *mut Frame,
        throwflag: c_int,
    ) -> *mut ffi::PyObject;
}

/// `struct _PyInterpreterFrame`'s leading fields (3.11.x; stable across
/// its patch releases).
#[cfg(Py_3_11)]
#[repr(C)]
struct InterpreterFrame {
    f_func: *mut ffi::PyObject,
    f_globals: *mut ffi::PyObject,
    f_builtins: *mut ffi::PyObject,
    f_locals: *mut ffi::PyObject,
    f_code: *mut ffi::PyObject,
    frame_obj: *mut ffi::PyObject,
    previous: *mut InterpreterFrame,
    /// The code unit before the next instruction to run.
    prev_instr: *const u16,
    stacktop: c_int,
    is_entry: bool,
    owner: c_char,
}

#[cfg(Py_3_11)]
const _: () = {
    assert!(std::mem::offset_of!(InterpreterFrame, f_globals) == 8);
    assert!(std::mem::offset_of!(InterpreterFrame, f_code) == 32);
    assert!(std::mem::offset_of!(InterpreterFrame, prev_instr) == 56);
    assert!(std::mem::offset_of!(InterpreterFrame, owner) == 69);
};

/// `FRAME_OWNED_BY_GENERATOR`: the frame lives inside a generator or
/// coroutine object (`gi_iframe`).
#[cfg(Py_3_11)]
const OWNED_BY_GENERATOR: c_char = 1;

/// `RETURN_GENERATOR`: a generator's frame is created by running it, so a
/// frame that has not yet run past it is starting, not resuming.
#[cfg(Py_3_11)]
const RETURN_GENERATOR: u16 = 75;

/// `PyGenObject` (also coroutines and async generators) up to its frame.
#[cfg(Py_3_11)]
#[repr(C)]
struct GenObject {
    ob_base: ffi::PyObject,
    gi_code: *mut ffi::PyObject,
    gi_weakreflist: *mut ffi::PyObject,
    gi_name: *mut ffi::PyObject,
    gi_qualname: *mut ffi::PyObject,
    /// `_PyErr_StackItem`: exc_value, previous_item.
    gi_exc_state: [*mut ffi::PyObject; 2],
    gi_origin_or_finalizer: *mut ffi::PyObject,
    gi_hooks_inited: c_char,
    gi_closed: c_char,
    gi_running_async: c_char,
    gi_frame_state: i8,
    gi_iframe: [*mut ffi::PyObject; 1],
}

#[cfg(Py_3_11)]
const _: () = {
    assert!(std::mem::offset_of!(GenObject, gi_frame_state) == 75);
    assert!(std::mem::offset_of!(GenObject, gi_iframe) == 80);
};

/// `PyCodeObject` (3.11) up to `co_flags`.
#[cfg(Py_3_11)]
#[repr(C)]
struct CodePrefix {
    ob_base: ffi::PyVarObject,
    co_consts: *mut ffi::PyObject,
    co_names: *mut ffi::PyObject,
    co_exceptiontable: *mut ffi::PyObject,
    co_flags: c_int,
}

#[cfg(Py_3_11)]
const _: () = assert!(std::mem::offset_of!(CodePrefix, co_flags) == 48);

/// `FRAME_SUSPENDED` (3.10 `f_state`, 3.11 `gi_frame_state`): the state
/// of a generator that yielded. One that returned is still marked
/// executing (3.11) or returned (3.10) when the evaluation ends.
const FRAME_SUSPENDED: i8 = -1;

/// `PyFrameObject` (3.10.x) up to `f_state`.
#[cfg(not(Py_3_11))]
#[repr(C)]
struct FrameObject {
    ob_base: ffi::PyVarObject,
    f_back: *mut ffi::PyObject,
    f_code: *mut ffi::PyObject,
    f_builtins: *mut ffi::PyObject,
    f_globals: *mut ffi::PyObject,
    f_locals: *mut ffi::PyObject,
    f_valuestack: *mut *mut ffi::PyObject,
    f_trace: *mut ffi::PyObject,
    f_stackdepth: c_int,
    f_trace_lines: c_char,
    f_trace_opcodes: c_char,
    f_gen: *mut ffi::PyObject,
    /// -1 until the frame first runs.
    f_lasti: c_int,
    f_lineno: c_int,
    f_iblock: c_int,
    /// `PyFrameState`: a signed char.
    f_state: i8,
}

#[cfg(not(Py_3_11))]
const _: () = {
    assert!(std::mem::offset_of!(FrameObject, f_code) == 32);
    assert!(std::mem::offset_of!(FrameObject, f_globals) == 48);
    assert!(std::mem::offset_of!(FrameObject, f_lasti) == 96);
    assert!(std::mem::offset_of!(FrameObject, f_state) == 108);
};

/// `offsetof(PyCodeObject, co_extra)`, measured with each version's
/// headers (`cpython/code.h`). Checked against CPython's own accessor at
/// install (`direct_extra_read_works`); a mismatch falls back to it.
#[cfg(Py_3_11)]
const CO_EXTRA_OFFSET: usize = 176;
#[cfg(not(Py_3_11))]
const CO_EXTRA_OFFSET: usize = 144;

/// `_PyCodeObjectExtra` (3.10: `Objects/codeobject.c`; 3.11:
/// `internal/pycore_code.h`): the array `co_extra` points to.
#[repr(C)]
struct CodeExtra {
    ce_size: ffi::Py_ssize_t,
    ce_extras: [*mut std::ffi::c_void; 0],
}

/// The code object's decision word, read from `co_extra` directly: what
/// `PyUnstable_Code_GetExtra` does without its call and type check, on the
/// path every Python call of the program takes (the unmatched cost, issue
/// 12). 0 (undecided) when the slot was never set.
///
/// # Safety
/// GIL held; `code` is a code object of this interpreter's version, and
/// `index` an index this process requested.
#[inline(always)]
unsafe fn word_in_extra(code: *mut ffi::PyObject, index: ffi::Py_ssize_t) -> usize {
    // SAFETY: `co_extra` is a pointer field at CO_EXTRA_OFFSET of every code
    // object of this version (checked at install), null or pointing at a
    // `CodeExtra` of `ce_size` slots; `index` is in range when below it.
    unsafe {
        let extra = *code
            .cast::<u8>()
            .add(CO_EXTRA_OFFSET)
            .cast::<*const CodeExtra>();
        if extra.is_null() || index < 0 || (*extra).ce_size <= index {
            return 0;
        }
        *(*extra).ce_extras.as_ptr().add(index as usize) as usize
    }
}

/// Whether `word_in_extra` reads what CPython's accessor reads, on a fresh
/// code object given a test word (the layout above is this version's).
fn direct_extra_read_works(index: ffi::Py_ssize_t) -> bool {
    const TEST_WORD: usize = 0x5eed_0000_0000_0001;
    // SAFETY: GIL held (install's caller); the empty code object is ours
    // until released below, and the word is a plain integer (the slot's
    // free function ignores it).
    unsafe {
        let code = ffi::PyCode_NewEmpty(c"<speedbump>".as_ptr(), c"probe".as_ptr(), 1);
        if code.is_null() {
            ffi::PyErr_Clear();
            return false;
        }
        let code = code.cast::<ffi::PyObject>();
        let before = word_in_extra(code, index);
        crate::hot::write_word(code, index, TEST_WORD);
        let works = before == 0
            && word_in_extra(code, index) == TEST_WORD
            && read_word(code, index) == Some(TEST_WORD);
        crate::hot::write_word(code, index, 0);
        ffi::Py_DECREF(code);
        works
    }
}

/// The mechanism's state, read on every frame.
struct State {
    /// The evaluation function we call (the one installed before us).
    previous: EvalFrame,
    /// SPEED_BUMP_RESUME: count and delay resumes too.
    delay_resumes: bool,
    /// Progress points are set: count their completed calls.
    count_returns: bool,
    /// Frames seen that were not decided-unmatched (wrapping): tells
    /// whether a tool installed after us still calls us (at exit, a fresh
    /// probe function's frame is counted). Not counted on the unmatched
    /// path, every call's.
    frames: u64,
    /// `co_extra` is read directly (`word_in_extra`), not through
    /// `PyUnstable_Code_GetExtra`: the layout check passed at install.
    direct_extra: bool,
    /// A decision is being made (it may run Python code, e.g. a finalizer,
    /// which must not decide again while the hook's state is borrowed).
    deciding: bool,
    /// Function id of the matched frame `before` just saw while own time
    /// is asked for ([`NOT_TIMED`] otherwise): `eval_frame` times its
    /// evaluation (`own_time.rs`).
    timed: u32,
}

/// [`State::timed`] when the frame being entered is not timed.
const NOT_TIMED: u32 = u32::MAX;

static STATE: GilCell<State> = GilCell::new(State {
    previous: _PyEval_EvalFrameDefault,
    delay_resumes: false,
    count_returns: false,
    frames: 0,
    direct_extra: false,
    deciding: false,
    timed: NOT_TIMED,
});

static C_CALLS_REPORTED: AtomicBool = AtomicBool::new(false);
static LATENCY_REPORTED: AtomicBool = AtomicBool::new(false);

/// Nothing to hold: the interpreter state is looked up when needed.
pub struct Mechanism {
    _private: (),
}

fn interpreter() -> *mut ffi::PyInterpreterState {
    // SAFETY: called with the GIL held, so a current interpreter exists.
    unsafe { ffi::PyInterpreterState_Get() }
}

/// The evaluation function installed now.
fn current() -> EvalFrame {
    // SAFETY: GIL held (callers); the interpreter is alive.
    unsafe { installed_eval_frame(interpreter()) }.unwrap_or(_PyEval_EvalFrameDefault)
}

/// Installs our evaluation function in front of the current one.
pub fn install(_py: Python<'_>) -> Result<Mechanism, String> {
    #[cfg(not(Py_3_11))]
    crate::qualname::init()?;
    let previous = current();
    if previous as usize == eval_frame as EvalFrame as usize {
        return Ok(Mechanism { _private: () });
    }
    // SAFETY: GIL held; no Python code runs while `HOT` is read.
    let direct_extra = direct_extra_read_works(unsafe { HOT.get() }.extra_index);
    // SAFETY: GIL held; nothing evaluates a frame while we switch.
    unsafe {
        STATE.get().direct_extra = direct_extra;
        STATE.get().previous = previous;
        ffi::_PyInterpreterState_SetEvalFrameFunc(interpreter(), Some(eval_frame));
    }
    Ok(Mechanism { _private: () })
}

/// Records what the settings need. Every frame is looked at anyway, so a
/// new generation alone brings back code decided under older settings:
/// `_restart` has nothing to do here. Always in effect (true): nothing can
/// take the evaluation function from us without `check_at_exit` noticing.
pub fn select(
    _py: Python<'_>,
    _mechanism: &Mechanism,
    wanted: Wanted,
    _restart: bool,
) -> PyResult<bool> {
    // SAFETY: GIL held, outside the evaluation function's own code.
    let state = unsafe { STATE.get() };
    state.delay_resumes = wanted.resumes;
    state.count_returns = wanted.returns;
    if wanted.c_calls {
        say_once(
            &C_CALLS_REPORTED,
            "C function calls cannot be seen on Python 3.10/3.11 (no sys.monitoring): \
             SPEED_BUMP_C_CALLS matches nothing here; only Python functions are slowed",
        );
    }
    if wanted.latency {
        say_once(
            &LATENCY_REPORTED,
            "latency points are measured through sys.monitoring (Python 3.12+); \
             on Python 3.10/3.11 they record no requests",
        );
    }
    Ok(true)
}

/// Another tool replaced our evaluation function without calling it: say
/// that calls after that point were not seen. A tool that installed its
/// own after us and calls ours (the previous one) is fine: a probe call
/// tells them apart.
pub fn check_at_exit(py: Python<'_>) -> Option<String> {
    if current() as usize == eval_frame as EvalFrame as usize {
        return None;
    }
    let probe = py.eval(c"lambda: None", None, None).ok()?;
    // SAFETY: GIL held; no reference is kept across the call below. The
    // probe is not decided (not a function of the program).
    let before = unsafe { STATE.get() }.frames;
    // SAFETY: GIL held; no reference is kept across the call below.
    unsafe { STATE.get() }.deciding = true;
    let called = probe.call0();
    // SAFETY: GIL held; re-fetched after the probe's Python code ran.
    let state = unsafe { STATE.get() };
    state.deciding = false;
    called.ok()?;
    let after = state.frames;
    (after == before).then(|| {
        "another tool replaced speedbump's frame-evaluation function (PEP 523) and does not \
         call it: calls made after that were neither counted nor delayed"
            .to_owned()
    })
}

/// How a frame enters evaluation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// A call starts (or a generator's first `next()`): PY_START on 3.12.
    Start,
    /// A generator or coroutine resumes after a yield or await: PY_RESUME.
    Resume,
    /// 3.11 runs a generator function's frame once to create the generator
    /// (no event on 3.12: PY_START fires at the first `next()`).
    Creation,
    /// An exception thrown into a generator (no PY_START/PY_RESUME on 3.12).
    Throw,
}

/// What to do once the frame has been evaluated.
enum After {
    Nothing,
    /// Count a completed call of this progress point, unless the frame only
    /// yielded. `generator`: where to read whether it completed (3.11).
    ProgressPoint {
        slot: u32,
        #[cfg(Py_3_11)]
        generator: *const GenObject,
    },
}

#[cfg(Py_3_11)]
#[inline(always)]
unsafe fn code_and_globals(frame: *mut Frame) -> (*mut ffi::PyObject, *mut ffi::PyObject) {
    let frame = frame.cast::<InterpreterFrame>();
    // SAFETY: `frame` is a live interpreter frame (contract of the callers).
    unsafe { ((*frame).f_code, (*frame).f_globals) }
}

#[cfg(not(Py_3_11))]
#[inline(always)]
unsafe fn code_and_globals(frame: *mut Frame) -> (*mut ffi::PyObject, *mut ffi::PyObject) {
    let frame = frame.cast::<FrameObject>();
    // SAFETY: `frame` is a live frame object (contract of the callers).
    unsafe { ((*frame).f_code, (*frame).f_globals) }
}

#[cfg(Py_3_11)]
#[inline(always)]
unsafe fn entry_of(frame: *mut Frame, code: *mut ffi::PyObject, throwflag: c_int) -> Entry {
    const GENERATOR_FLAGS: c_int = ffi::CO_GENERATOR | ffi::CO_COROUTINE | ffi::CO_ASYNC_GENERATOR;
    if throwflag != 0 {
        return Entry::Throw;
    }
    let frame = frame.cast::<InterpreterFrame>();
    // SAFETY: a live frame being entered; `prev_instr` points into its code
    // (at RETURN_GENERATOR, the last instruction run) once it ran.
    unsafe {
        if (*frame).owner == OWNED_BY_GENERATOR {
            if *(*frame).prev_instr & 0xff == RETURN_GENERATOR {
                Entry::Start
            } else {
                Entry::Resume
            }
        } else if (*code.cast::<CodePrefix>()).co_flags & GENERATOR_FLAGS != 0 {
            Entry::Creation
        } else {
            Entry::Start
        }
    }
}

#[cfg(not(Py_3_11))]
#[inline(always)]
unsafe fn entry_of(frame: *mut Frame, _code: *mut ffi::PyObject, throwflag: c_int) -> Entry {
    if throwflag != 0 {
        return Entry::Throw;
    }
    // SAFETY: a live frame being entered. 3.10 creates generators without
    // evaluating their frame, so the first `next()` is the start.
    if unsafe { (*frame.cast::<FrameObject>()).f_lasti } < 0 {
        Entry::Start
    } else {
        Entry::Resume
    }
}

#[cfg(Py_3_11)]
#[inline(always)]
unsafe fn progress_point(frame: *mut Frame, slot: u32) -> After {
    let frame_ptr = frame.cast::<InterpreterFrame>();
    // SAFETY: a live frame; a generator's frame lives inside its generator
    // object, at `gi_iframe`.
    let generator = if unsafe { (*frame_ptr).owner } == OWNED_BY_GENERATOR {
        // SAFETY: owned by a generator: the frame is embedded in it at
        // `gi_iframe`, so stepping back by that offset stays in the object.
        unsafe {
            frame
                .cast::<u8>()
                .sub(std::mem::offset_of!(GenObject, gi_iframe))
                .cast::<GenObject>()
        }
    } else {
        std::ptr::null()
    };
    After::ProgressPoint { slot, generator }
}

#[cfg(not(Py_3_11))]
#[inline(always)]
unsafe fn progress_point(_frame: *mut Frame, slot: u32) -> After {
    After::ProgressPoint { slot }
}

/// Whether the frame returned (rather than yielded), after a successful
/// evaluation.
///
/// # Safety
/// `frame` was just evaluated; its caller still holds it (3.10: the frame
/// object; 3.11: the generator whose frame it is).
#[cfg(Py_3_11)]
#[inline(always)]
unsafe fn returned(_frame: *mut Frame, after: &After) -> bool {
    match after {
        // SAFETY: `generator` is the frame's generator, which its caller still
        // holds (see this function's contract).
        After::ProgressPoint { generator, .. } if !generator.is_null() => unsafe {
            (**generator).gi_frame_state != FRAME_SUSPENDED
        },
        _ => true,
    }
}

#[cfg(not(Py_3_11))]
#[inline(always)]
unsafe fn returned(frame: *mut Frame, _after: &After) -> bool {
    // SAFETY: the frame object is still held by its caller (contract).
    unsafe { (*frame.cast::<FrameObject>()).f_state != FRAME_SUSPENDED }
}

/// Our evaluation function.
///
/// Every Python call of the program comes through here, so the common case
/// (code decided not to match) is kept to a few loads and a compare ending
/// in a tail call of the previous function: no stack frame of ours stays
/// under the program's frames (measured in docs/python-versions.md).
/// Everything else goes to `evaluate_counted`.
///
/// # Safety
/// Called by CPython with the GIL held, for a live frame of this thread.
unsafe extern "C" fn eval_frame(
    tstate: *mut ffi::PyThreadState,
    frame: *mut Frame,
    throwflag: c_int,
) -> *mut ffi::PyObject {
    // SAFETY: GIL held; only read here, and nothing runs in between.
    let (state, hot) = unsafe { (STATE.get(), HOT.get()) };
    let mut word = None;
    if state.direct_extra {
        // SAFETY: `frame` is the live frame being evaluated; its code object
        // is of this version, whose layout was checked at install.
        let read = unsafe { word_in_extra(code_and_globals(frame).0, hot.extra_index) };
        if read == (hot.unmatched_key as usize) << 32 {
            let previous = state.previous;
            // SAFETY: the arguments CPython gave us, for the function it
            // would have called had we not been installed.
            return unsafe { previous(tstate, frame, throwflag) };
        }
        word = Some(read);
    }
    // SAFETY: the same contract as ours.
    unsafe { evaluate_counted(tstate, frame, throwflag, word) }
}

/// The evaluation of a frame that may need counting, a delay, a decision
/// or a progress point (not decided-unmatched). `word`: its code's word
/// when already read.
///
/// # Safety
/// Called with the GIL held, for a live frame of this thread.
#[inline(never)]
unsafe fn evaluate_counted(
    tstate: *mut ffi::PyThreadState,
    frame: *mut Frame,
    throwflag: c_int,
    word: Option<usize>,
) -> *mut ffi::PyObject {
    // SAFETY: GIL held; read before anything can change it.
    let previous = unsafe { STATE.get() }.previous;
    // SAFETY: GIL held; `frame` is the live frame CPython is evaluating.
    let after = match catch_unwind(AssertUnwindSafe(|| unsafe {
        before(frame, throwflag, word)
    })) {
        Ok(after) => after,
        Err(panic) => {
            failure::report_panic("frame-evaluation function", &panic);
            After::Nothing
        }
    };
    // SAFETY: GIL held; `before` has returned, nothing else holds the state.
    let state = unsafe { STATE.get() };
    let timed = state.timed;
    if timed != NOT_TIMED {
        state.timed = NOT_TIMED;
        // SAFETY: GIL held; no Python code runs while it is used.
        own_time::enter(unsafe { HOT.get() }, timed);
    }
    // SAFETY: the arguments CPython gave us, for the function it would have
    // called had we not been installed.
    let result = unsafe { previous(tstate, frame, throwflag) };
    if timed != NOT_TIMED {
        // SAFETY: GIL held (the evaluation returned); no Python code runs
        // while it is used. A generator's frame returns here at each yield,
        // so its suspended time is not counted.
        own_time::exit(unsafe { HOT.get() }, timed);
    }
    if let After::ProgressPoint { slot, .. } = after
        && !result.is_null()
        // SAFETY: see `returned`.
        && unsafe { returned(frame, &after) }
    {
        // SAFETY: GIL held; the frame's own code has finished.
        unsafe { on_progress_point(HOT.get(), slot) };
    }
    result
}

/// Counts and delays the frame when it is a matched call; says what to do
/// after it.
#[inline(always)]
unsafe fn before(frame: *mut Frame, throwflag: c_int, known_word: Option<usize>) -> After {
    // SAFETY: GIL held; no Python code runs until `decide`, which re-fetches.
    let hot = unsafe { HOT.get() };
    // SAFETY: GIL held; nothing else holds the state now.
    let state = unsafe { STATE.get() };
    // SAFETY: `frame` is the live frame being evaluated.
    let (code, globals) = unsafe { code_and_globals(frame) };
    let mut word = match known_word {
        Some(word) => word,
        // SAFETY: GIL held; `code` is the frame's code object.
        None => match unsafe { read_word(code, hot.extra_index) } {
            Some(word) => word,
            None => return After::Nothing,
        },
    };
    // Decided, does not match, no progress point (when read here: with
    // `known_word`, `eval_frame` took that case already).
    if word == (hot.unmatched_key as usize) << 32 {
        return After::Nothing;
    }
    state.frames = state.frames.wrapping_add(1);
    if !hot.enabled {
        return After::Nothing;
    }
    // The calibration probe's code: its own slots, never the live ones.
    match (word >> 32) as u32 {
        PROBE_MISS_KEY => return After::Nothing,
        PROBE_HIT_KEY => {
            // SAFETY: `frame` is live and `code` its code object.
            if unsafe { entry_of(frame, code, throwflag) } == Entry::Start {
                // SAFETY: GIL held; the probe's pointers are null or point at its static
                // slots (see `calibrate`).
                unsafe { on_probe_call(hot) };
            }
            return After::Nothing;
        }
        _ => {}
    }
    if hot.generation_of(word) != Some(hot.current_generation()) {
        // SAFETY: GIL held; `code` and `globals` are the live frame's.
        word = match unsafe { decide(code, globals) } {
            Some(word) => word,
            None => return After::Nothing,
        };
    }
    // SAFETY: GIL held; re-fetched after `decide`, which can run Python code.
    let hot = unsafe { HOT.get() };
    // SAFETY: GIL held; no Python code runs while `state` is used.
    let state = unsafe { STATE.get() };
    // SAFETY: `frame` is live and `code` its code object.
    let entry = unsafe { entry_of(frame, code, throwflag) };
    if (word >> 32) as u32 == hot.matched_key {
        if entry == Entry::Start || (entry == Entry::Resume && state.delay_resumes) {
            // SAFETY: GIL held; `hot.functions` is valid for `function_capacity` slots
            // (the id is bounds-checked inside).
            unsafe { on_matched_call(hot, word as u32 & FUNCTION_ID_MASK) };
        }
        // After the delay: own time is the code's, not the injected time.
        if hot.own_time && entry != Entry::Creation {
            state.timed = word as u32 & FUNCTION_ID_MASK;
        }
    }
    let slot = progress_slot_of(word);
    if slot != 0 && state.count_returns && entry != Entry::Creation {
        // SAFETY: `frame` is the live frame being evaluated.
        return unsafe { progress_point(frame, slot) };
    }
    After::Nothing
}

/// Decides `code` (first sight, or settings changed) and returns its new
/// word; None while another decision is under way on this interpreter.
#[cold]
unsafe fn decide(code: *mut ffi::PyObject, globals: *mut ffi::PyObject) -> Option<usize> {
    // SAFETY: GIL held; the flag is cleared before returning.
    let state = unsafe { STATE.get() };
    if state.deciding {
        return None;
    }
    state.deciding = true;
    // SAFETY: GIL held; `code` and `globals` are a live frame's; `state` is
    // not used again (re-fetched below).
    unsafe { decide::decide_code(code, globals) };
    // SAFETY: GIL held; re-fetched after `decide_code` ran Python code.
    unsafe { STATE.get() }.deciding = false;
    // SAFETY: GIL held; no Python code runs while `hot` is used.
    let hot = unsafe { HOT.get() };
    // SAFETY: GIL held; `code` is a code object.
    let word = unsafe { read_word(code, hot.extra_index) }?;
    (hot.generation_of(word) == Some(hot.current_generation())).then_some(word)
}
