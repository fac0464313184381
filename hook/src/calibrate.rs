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

use std::ffi::CString;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use speedbump_core::ipc::{FunctionSlot, PatternSlot};

use crate::clock::monotonic_ns;
use crate::gil::GilCell;
use crate::hot::{HOT, matched_word, unmatched_word, write_word};

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

/// Returns the measured fixed cost in ns. Must run with the callbacks
/// registered and events on, before any segment exists, outside a callback.
/// The spin the probe uses to calibrate `delay_ns`.
pub fn probe_spin_ns(delay_ns: u64) -> u64 {
    delay_ns.clamp(PROBE_SPIN_MIN_NS, PROBE_SPIN_MAX_NS)
}

pub fn measure_fixed_cost(py: Python<'_>, generation: u32, delay_ns: u64) -> PyResult<u64> {
    let probe_spin_ns = probe_spin_ns(delay_ns);
    let globals = PyDict::new(py);
    let source = CString::new(PROBE_SOURCE).unwrap_or_default();
    py.run(&source, Some(&globals), None)?;
    let get = |name: &str| -> PyResult<Bound<'_, PyAny>> {
        globals
            .get_item(name)?
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("probe missing"))
    };
    let (hit, miss, run) = (get("probe_hit")?, get("probe_miss")?, get("run")?);
    let code = pyo3::intern!(py, "__code__");
    set_extra(&hit.getattr(code)?, matched_word(generation, 0));
    set_extra(&miss.getattr(code)?, unmatched_word(generation));
    set_extra(&run.getattr(code)?, unmatched_word(generation));

    // SAFETY: GIL held; no callback is running (we are in activation).
    let hot = unsafe { HOT.get() };
    let saved = (
        hot.functions,
        hot.function_capacity,
        hot.patterns,
        hot.pattern_capacity,
    );
    let saved_delay = (hot.delay_ns, hot.spin_ns, hot.frequency, hot.window);
    hot.functions = unsafe { PROBE_FUNCTION.get() }.as_ptr();
    hot.function_capacity = 1;
    hot.patterns = unsafe { PROBE_PATTERN.get() }.as_ptr();
    hot.pattern_capacity = 1;
    hot.delay_ns = probe_spin_ns;
    hot.spin_ns = probe_spin_ns;
    hot.frequency = 1;
    hot.window = None;

    let time = |f: &Bound<'_, PyAny>| -> PyResult<i64> {
        // Each round starts debt-free: debt carried in from an earlier round
        // would shorten this one's spins.
        unsafe { HOT.get() }.debt_ns = 0;
        let start = monotonic_ns();
        run.call1((f, PROBE_CALLS))?;
        Ok((monotonic_ns() - start) as i64)
    };
    // Adjacent undelayed and delayed rounds form a pair; the median of the
    // pairs' differences resists both slow drift and the odd interrupted
    // round (minimums of each side, tried first, scattered by ±30 ns here).
    let mut differences: Vec<i64> = Vec::with_capacity(ROUNDS);
    let result = (|| -> PyResult<()> {
        time(&miss)?; // first call of each: decisions and DISABLE settle
        time(&hit)?;
        for _ in 0..ROUNDS {
            let miss_ns = time(&miss)?;
            let hit_ns = time(&hit)?;
            differences.push(hit_ns - miss_ns);
        }
        Ok(())
    })();

    let hot = unsafe { HOT.get() };
    (
        hot.functions,
        hot.function_capacity,
        hot.patterns,
        hot.pattern_capacity,
    ) = saved;
    (hot.delay_ns, hot.spin_ns, hot.frequency, hot.window) = saved_delay;
    hot.calls_since_delay = 0;
    hot.debt_ns = 0;
    result?;

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
