//! Measuring the hook's own fixed cost per delayed call, so that the time a
//! delayed call gains equals the requested delay.
//!
//! A delayed call costs more than its spin: CPython dispatching the event to
//! the callback, the decision lookup, the clock reads and the spin's overshoot
//! past its deadline. That cost depends on the CPU and the Python version, so
//! it is measured here, in this process, with this interpreter: a probe
//! function is called N times undelayed (its PY_START disabled) and N times
//! delayed by a known spin; the difference per call minus the spin is the
//! fixed cost. The median over alternating pairs of rounds discards
//! preemptions and drift.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;
use pyo3::types::PyDict;
use speedbump_core::ipc::{FunctionSlot, PatternSlot};

use crate::clock::monotonic_ns;
use crate::gil::GilCell;
use crate::hot::{HOT, PROBE_HIT_KEY, PROBE_MISS_KEY, probe_word, write_word};

/// The probe spins like the delay it calibrates (within these bounds): the
/// fixed cost measured with 500 ns spins fell ~35 ns short of the one seen
/// at 1 µs.
const PROBE_SPIN_MIN_NS: u64 = 500;
const PROBE_SPIN_MAX_NS: u64 = 2_000;
const PROBE_CALLS: u64 = 60;
const ROUNDS: usize = 11;
/// Anything outside this range is a measurement gone wrong (a busy machine):
/// fall back to no correction rather than a wrong one.
const MAX_PLAUSIBLE_COST_NS: u64 = 1_000;

const PROBE_SOURCE: &str = "
def probe_hit():
    pass

def probe_miss():
    pass

def run(f, n):
    for _ in range(n):
        f()
";

/// Counter slots the probe counts into while no segment exists yet.
static PROBE_FUNCTION: GilCell<[FunctionSlot; 1]> = GilCell::new([FunctionSlot::zeroed()]);
static PROBE_PATTERN: GilCell<[PatternSlot; 1]> = GilCell::new([PatternSlot::zeroed()]);

fn set_extra(code: &Bound<'_, PyAny>, word: usize) {
    // SAFETY: GIL held (`code` is bound); it is the probe's code object.
    unsafe { write_word(code.as_ptr(), HOT.get().extra_index, word) }
}

/// The spin the probe uses to calibrate `delay_ns`.
pub fn probe_spin_ns(delay_ns: u64) -> u64 {
    delay_ns.clamp(PROBE_SPIN_MIN_NS, PROBE_SPIN_MAX_NS)
}

/// Set while a measurement runs: the probe's slots serve one at a time (a
/// second request meanwhile, from another thread, gets `None`).
static MEASURING: AtomicBool = AtomicBool::new(false);

/// Returns the measured fixed cost in ns, or `None` when a measurement is
/// already running. Needs the callbacks registered and PY_START on; runs
/// Python, so the caller must hold no reference into the hook's state.
///
/// The probe's code carries its own decision keys (`PROBE_HIT_KEY`,
/// `PROBE_MISS_KEY`), and its delayed calls spin and count in the probe's
/// own slots: the live settings, counters and segment are never swapped,
/// so other threads' calls (and a fork child) see the live ones throughout.
pub fn measure_fixed_cost(py: Python<'_>, delay_ns: u64) -> PyResult<Option<u64>> {
    if MEASURING.swap(true, Ordering::Acquire) {
        return Ok(None);
    }
    let result = measure(py, probe_spin_ns(delay_ns));
    MEASURING.store(false, Ordering::Release);
    result.map(Some)
}

fn measure(py: Python<'_>, probe_spin_ns: u64) -> PyResult<u64> {
    let globals = PyDict::new(py);
    let builtins = py.import("builtins")?;
    // Compiled first so that its module code, too, is marked as the probe's
    // (it would otherwise be decided like a user module, `<unknown>:<module>`).
    let module_code =
        builtins.call_method1("compile", (PROBE_SOURCE, "<speedbump-probe>", "exec"))?;
    set_extra(&module_code, probe_word(PROBE_MISS_KEY));
    builtins.call_method1("exec", (&module_code, &globals))?;
    let get = |name: &str| -> PyResult<Bound<'_, PyAny>> {
        globals
            .get_item(name)?
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("probe missing"))
    };
    let (hit, miss, run) = (get("probe_hit")?, get("probe_miss")?, get("run")?);
    let code = pyo3::intern!(py, "__code__");
    set_extra(&hit.getattr(code)?, probe_word(PROBE_HIT_KEY));
    set_extra(&miss.getattr(code)?, probe_word(PROBE_MISS_KEY));
    set_extra(&run.getattr(code)?, probe_word(PROBE_MISS_KEY));

    // SAFETY: GIL held; the reference is dropped before Python runs.
    let probe = &mut unsafe { HOT.get() }.probe;
    probe.spin_ns = probe_spin_ns;
    // SAFETY: GIL held; only the static slot's address is kept, not the reference.
    probe.functions = unsafe { PROBE_FUNCTION.get() }.as_ptr();
    // SAFETY: as above.
    probe.patterns = unsafe { PROBE_PATTERN.get() }.as_ptr();

    let time = |f: &Bound<'_, PyAny>| -> PyResult<i64> {
        // Each round starts debt-free: debt carried in from an earlier round
        // would shorten this one's spins.
        // SAFETY: GIL held; no reference kept.
        unsafe { HOT.get() }.probe.debt_ns = 0;
        let start = monotonic_ns();
        run.call1((f, PROBE_CALLS))?;
        Ok((monotonic_ns() - start) as i64)
    };
    // Adjacent undelayed and delayed rounds form a pair; the median of the
    // pairs' differences resists both slow drift and the odd interrupted
    // round (minimums of each side, tried first, scattered by ±30 ns here).
    let mut differences: Vec<i64> = Vec::with_capacity(ROUNDS);
    time(&miss)?; // first call of each: decisions and DISABLE settle
    time(&hit)?;
    for _ in 0..ROUNDS {
        let miss_ns = time(&miss)?;
        let hit_ns = time(&hit)?;
        differences.push(hit_ns - miss_ns);
    }

    differences.sort_unstable();
    let median = differences.get(differences.len() / 2).copied().unwrap_or(0);
    let per_call_extra = (median.max(0) as u64) / PROBE_CALLS;
    let fixed = per_call_extra.saturating_sub(probe_spin_ns);
    Ok(if fixed > MAX_PLAUSIBLE_COST_NS {
        0
    } else {
        fixed
    })
}
