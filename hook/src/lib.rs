//! The speedbump hook: a CPython extension that slows matched Python
//! functions by a precise, GIL-holding spin, injected through PEP 669
//! `sys.monitoring` (3.12+) or a PEP 523 frame-evaluation function (3.10,
//! 3.11; see `mechanism`), and counts what it did in shared memory.
//!
//! Loaded at interpreter start-up by `speedbump.pth` when `SPEED_BUMP_TARGETS`
//! (or a launcher's `SPEED_BUMP_SESSION`) is set; see `activate`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod activation;
mod calibrate;
#[cfg(Py_3_12)]
mod callable;
#[cfg(Py_3_12)]
mod callbacks;
mod clock;
mod config;
mod control;
mod decide;
mod exit;
mod failure;
#[cfg(not(Py_3_12))]
mod frame_eval;
mod gil;
mod hot;
mod mechanism;
#[cfg(Py_3_12)]
mod monitoring;
mod pattern_delays;
#[cfg(not(Py_3_11))]
mod qualname;
mod seen;
mod segment;
mod settings;
mod state;
mod window;

use pyo3::prelude::*;

use crate::state::HOOK;

/// Counts `n` units of work done by the program (throughput for speedbump's
/// experiments), under `name` (default: the unnamed progress counter). A
/// no-op when the hook is not active.
#[pyfunction]
#[pyo3(signature = (n = 1, name = None))]
fn progress(n: u64, name: Option<&str>) {
    // SAFETY: a #[pyfunction] runs with the GIL held.
    let Some(hook) = (unsafe { HOOK.get() }).as_mut() else {
        return;
    };
    hook.stats.ensure_segment(&hook.patterns);
    hook.stats.progress(name.unwrap_or(""), n);
}

/// True when the hook is active in this process.
#[pyfunction]
fn is_active() -> bool {
    // SAFETY: GIL held.
    unsafe { HOOK.get() }.is_some()
}

/// The hook's measured fixed cost per delayed call, in ns (None when the
/// hook is not active); for benches/hook_bench.py and bug reports.
#[pyfunction]
fn _fixed_cost_ns() -> Option<u64> {
    // SAFETY: GIL held.
    unsafe { HOOK.get() }
        .as_ref()
        .map(|hook| hook.fixed_cost_ns)
}

/// Measures the fixed cost again, now (for benches/hook_bench.py's
/// calibration check); does not change the one in use.
#[pyfunction]
fn _measure_fixed_cost_ns(py: Python<'_>) -> PyResult<Option<u64>> {
    // SAFETY: GIL held.
    let Some((generation, delay_ns)) = unsafe { HOOK.get() }
        .as_ref()
        .map(|h| (h.generation, h.delay_ns))
    else {
        return Ok(None);
    };
    calibrate::measure_fixed_cost(py, generation, delay_ns).map(Some)
}

/// How the hook sees calls in this interpreter (for benches/hook_bench.py
/// and bug reports): "sys.monitoring" (3.12+) or the frame-evaluation
/// function (3.10, 3.11).
#[pyfunction]
fn _mechanism() -> &'static str {
    mechanism::NAME
}

/// Activates the hook from the environment (called by `speedbump._boot`).
/// On a configuration error it prints one `speedbump:` line and ends the
/// process with status 2 before the program's own code runs.
#[pyfunction]
fn activate(py: Python<'_>) -> PyResult<()> {
    activation::activate(py)
}

#[pymodule]
fn _speedbump(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(progress, m)?)?;
    m.add_function(wrap_pyfunction!(is_active, m)?)?;
    m.add_function(wrap_pyfunction!(activate, m)?)?;
    m.add_function(wrap_pyfunction!(_fixed_cost_ns, m)?)?;
    m.add_function(wrap_pyfunction!(_measure_fixed_cost_ns, m)?)?;
    m.add_function(wrap_pyfunction!(_mechanism, m)?)?;
    m.add_function(wrap_pyfunction!(activation::after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(activation::at_exit, m)?)?;
    Ok(())
}
