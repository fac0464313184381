//! How the hook sees Python calls: the one seam between the rest of the hook
//! and the interpreter's call events.
//!
//! - CPython 3.12+: PEP 669 `sys.monitoring` (`monitoring.rs`): PY_START,
//!   PY_RESUME, PY_RETURN and CALL callbacks; code that does not match is
//!   DISABLEd and costs nothing afterwards.
//! - CPython 3.10 and 3.11: a PEP 523 frame-evaluation function
//!   (`frame_eval.rs`) that sees every frame start and resume, looks the
//!   cached decision up in `co_extra`, and calls the evaluation function
//!   installed before it. C functions are not visible there.
//!
//! Both share the decision word (`hot.rs`), the pattern matching
//! (`decide.rs`), the counters, the spin and the calibration
//! (`calibrate.rs`, which measures the fixed cost through the mechanism in
//! use). docs/python-versions.md compares them.
//!
//! The interface each provides: `Mechanism` (kept in the hook's state),
//! `install` (once, at activation, before the first settings), `select`
//! (which events the settings in force need; also brings back code that
//! was switched off under older settings when asked; false when the
//! mechanism was taken from us and the settings are not in effect),
//! `check_at_exit` (whether another tool took our place or the program
//! freed ours; may run Python code) and `describe` (its name, and how it
//! runs in this process).

#[cfg(not(Py_3_12))]
pub use crate::frame_eval::{Mechanism, check_at_exit, describe, install, select};
#[cfg(Py_3_12)]
pub use crate::monitoring::{Mechanism, check_at_exit, describe, install, select};

/// What the settings in force ask the mechanism to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    /// Resumes of generators and coroutines (SPEED_BUMP_RESUME).
    pub resumes: bool,
    /// Calls of C functions (SPEED_BUMP_C_CALLS).
    pub c_calls: bool,
    /// Completed calls (returns) of progress points.
    pub returns: bool,
    /// Ends of latency points' calls: returns and unwinds (3.12+ only).
    pub latency: bool,
}
