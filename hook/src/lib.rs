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
mod latency;
mod mechanism;
#[cfg(Py_3_12)]
mod monitoring;
mod own_time;
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
    activation::catch_up_after_c_fork();
    // SAFETY: a #[pyfunction] runs with the GIL held.
    let Some(hook) = (unsafe { HOOK.get() }).as_mut() else {
        return;
    };
    hook.stats.ensure_segment(&hook.patterns);
    hook.stats.progress(name.unwrap_or(""), n);
}

/// Start of a `speedbump.latency()` block: now on the monotonic clock, in
/// ns (0 when the hook is not active, which makes the end a no-op).
#[pyfunction]
fn _latency_begin() -> u64 {
    // SAFETY: GIL held.
    if unsafe { HOOK.get() }.is_none() {
        return 0;
    }
    clock::monotonic_ns()
}

/// End of a `speedbump.latency(name)` block begun at `start_ns`: one
/// request of the latency point `name`, flagged when the block raised.
#[pyfunction]
fn _latency_end(name: &str, start_ns: u64, raised: bool) {
    let end = clock::monotonic_ns();
    activation::catch_up_after_c_fork();
    // SAFETY: GIL held.
    let Some(hook) = (unsafe { HOOK.get() }).as_mut() else {
        return;
    };
    if start_ns == 0 || end < start_ns {
        return;
    }
    hook.stats.ensure_segment(&hook.patterns);
    let id = match hook.latency_blocks.get(name) {
        Some(&id) => id,
        None => {
            let id = hook.stats.register_latency_function(name);
            if id != u32::MAX {
                hook.latency_blocks.insert(name.to_owned(), id);
            }
            id
        }
    };
    if id != u32::MAX {
        // SAFETY: GIL held; no Python code runs before this returns.
        unsafe { latency::record(hot::HOT.get(), id, start_ns, end, raised) };
    }
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
    let Some(delay_ns) = unsafe { HOOK.get() }.as_ref().map(|h| h.delay_ns) else {
        return Ok(None);
    };
    calibrate::measure_fixed_cost(py, delay_ns)
}

/// How the hook sees calls in this interpreter (for benches/hook_bench.py
/// and bug reports): "sys.monitoring" (3.12+) or the frame-evaluation
/// function (3.10, 3.11).
#[pyfunction]
fn _mechanism() -> String {
    mechanism::describe()
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
    m.add_function(wrap_pyfunction!(_latency_begin, m)?)?;
    m.add_function(wrap_pyfunction!(_latency_end, m)?)?;
    m.add_function(wrap_pyfunction!(activate, m)?)?;
    m.add_function(wrap_pyfunction!(_fixed_cost_ns, m)?)?;
    m.add_function(wrap_pyfunction!(_measure_fixed_cost_ns, m)?)?;
    m.add_function(wrap_pyfunction!(_mechanism, m)?)?;
    m.add_function(wrap_pyfunction!(activation::before_fork, m)?)?;
    m.add_function(wrap_pyfunction!(activation::after_fork_in_parent, m)?)?;
    m.add_function(wrap_pyfunction!(activation::after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(activation::at_exit, m)?)?;
    Ok(())
}
