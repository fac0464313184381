//! The PEP 669 `sys.monitoring` mechanism (CPython 3.12+); see `mechanism.rs`.

use pyo3::prelude::*;

use crate::callable::new_callback;
use crate::callbacks::{
    on_call_event, on_code_event, on_resume_event, on_return_event, on_unwind_event,
};
use crate::hot::HOT;
use crate::mechanism::Wanted;

pub const NAME: &str = "sys.monitoring";

/// Tool ids we may take, in order of preference. Never PROFILER_ID (2): that
/// would stop cProfile from running beside speedbump. 0 and 1 belong to
/// debuggers and coverage tools, 5 to optimizers.
const TOOL_IDS: [u8; 2] = [4, 3];

/// sys.monitoring event bits, read once.
#[derive(Clone, Copy)]
struct Events {
    py_start: u32,
    py_resume: u32,
    py_return: u32,
    py_unwind: u32,
    call: u32,
}

impl Events {
    fn read(monitoring: &Bound<'_, PyAny>) -> PyResult<Events> {
        let events = monitoring.getattr("events")?;
        Ok(Events {
            py_start: events.getattr("PY_START")?.extract()?,
            py_resume: events.getattr("PY_RESUME")?.extract()?,
            py_return: events.getattr("PY_RETURN")?.extract()?,
            py_unwind: events.getattr("PY_UNWIND")?.extract()?,
            call: events.getattr("CALL")?.extract()?,
        })
    }

    fn mask(&self, wanted: Wanted) -> u32 {
        let mut mask = self.py_start;
        if wanted.resumes {
            mask |= self.py_resume;
        }
        if wanted.c_calls {
            mask |= self.call;
        }
        if wanted.returns {
            mask |= self.py_return;
        }
        if wanted.latency {
            mask |= self.py_return | self.py_unwind;
        }
        mask
    }
}

/// The tool id we hold and the event bits.
pub struct Mechanism {
    tool_id: u8,
    events: Events,
}

/// Takes a tool id, registers the callbacks and turns PY_START on (the
/// calibration of the first settings runs through it). An error is a
/// one-line reason.
pub fn install(py: Python<'_>) -> Result<Mechanism, String> {
    let failed = |e: PyErr| format!("could not start the hook: {e}");
    let monitoring = py
        .import("sys")
        .and_then(|sys| sys.getattr("monitoring"))
        .map_err(failed)?;
    let events = Events::read(&monitoring).map_err(failed)?;
    let tool_id = take_tool_id(&monitoring)?;
    let disable = monitoring.getattr("DISABLE").map_err(failed)?;
    // SAFETY: GIL held; no callback is registered yet.
    unsafe { HOT.get() }.disable = disable.into_ptr();
    let register = || -> PyResult<()> {
        let code_callback = new_callback(py, on_code_event)?;
        let resume_callback = new_callback(py, on_resume_event)?;
        let return_callback = new_callback(py, on_return_event)?;
        let unwind_callback = new_callback(py, on_unwind_event)?;
        let call_callback = new_callback(py, on_call_event)?;
        for (event, callback) in [
            (events.py_start, &code_callback),
            (events.py_resume, &resume_callback),
            (events.py_return, &return_callback),
            (events.py_unwind, &unwind_callback),
            (events.call, &call_callback),
        ] {
            monitoring.call_method1("register_callback", (tool_id, event, callback))?;
        }
        monitoring.call_method1("set_events", (tool_id, events.py_start))?;
        Ok(())
    };
    register().map_err(failed)?;
    Ok(Mechanism { tool_id, events })
}

/// Turns on the events `wanted` needs; with `restart`, brings back every
/// event that was DISABLEd under older settings.
///
/// `restart_events()` is global: it also brings back the events other tools
/// (coverage.py, debuggers) disabled. So the caller asks for it only when
/// what the hook disabled could now be decided differently: the patterns or
/// the progress points changed (docs/env.md, "Other tools"). Never at the
/// first settings (nothing was disabled before them: `Hot::settings_applied`)
/// nor for a change of delay or frequency, which DISABLE does not depend on.
pub fn select(
    py: Python<'_>,
    mechanism: &Mechanism,
    wanted: Wanted,
    restart: bool,
) -> PyResult<()> {
    let monitoring = py.import("sys")?.getattr("monitoring")?;
    monitoring.call_method1(
        "set_events",
        (mechanism.tool_id, mechanism.events.mask(wanted)),
    )?;
    if restart {
        monitoring.call_method0("restart_events")?;
    }
    Ok(())
}

/// sys.monitoring tool ids cannot be taken from us: nothing to report.
pub fn check_at_exit(_py: Python<'_>) -> Option<String> {
    None
}

fn take_tool_id(monitoring: &Bound<'_, PyAny>) -> Result<u8, String> {
    for id in TOOL_IDS {
        if monitoring
            .call_method1("use_tool_id", (id, "speedbump"))
            .is_ok()
        {
            return Ok(id);
        }
    }
    let holders: Vec<String> = TOOL_IDS
        .iter()
        .filter_map(|id| monitoring.call_method1("get_tool", (*id,)).ok())
        .map(|name| name.to_string())
        .collect();
    Err(format!(
        "sys.monitoring tool ids {TOOL_IDS:?} are taken (by {}); speedbump needs one of them",
        holders.join(", ")
    ))
}
