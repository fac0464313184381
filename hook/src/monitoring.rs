//! The PEP 669 `sys.monitoring` mechanism (CPython 3.12+); see `mechanism.rs`.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use pyo3::prelude::*;

use crate::callable::new_callback;
use crate::callbacks::{
    on_call_event, on_code_event, on_resume_event, on_return_event, on_unwind_event,
};
use crate::failure::say_once;
use crate::hot::HOT;
use crate::mechanism::Wanted;

pub const NAME: &str = "sys.monitoring";

/// The name we take our tool id under (what `get_tool` says while it is ours).
const TOOL_NAME: &str = "speedbump";

/// `NAME` (the same seam as `frame_eval::describe`).
pub fn describe() -> String {
    NAME.to_owned()
}

/// The tool id taken at install (0 before), for the check at exit.
static TOOL_ID: AtomicU8 = AtomicU8::new(0);
/// Whether the loss of our tool id was said (once per process).
static TOOL_LOST_REPORTED: AtomicBool = AtomicBool::new(false);

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
    TOOL_ID.store(tool_id, Ordering::Relaxed);
    Ok(Mechanism { tool_id, events })
}

/// Who holds `tool_id` now, when it is no longer us: the program freed it
/// (`sys.monitoring.free_tool_id`; 3.14 drops our callbacks and events with
/// it, 3.12/3.13 keep them until another tool registers its own) and
/// perhaps gave it to another tool; `set_events` fails from then on.
/// `None` while it is ours.
fn lost_tool(monitoring: &Bound<'_, PyAny>, tool_id: u8) -> Option<String> {
    let holder = monitoring.call_method1("get_tool", (tool_id,)).ok()?;
    if holder
        .extract::<String>()
        .is_ok_and(|name| name == TOOL_NAME)
    {
        return None;
    }
    Some(if holder.is_none() {
        "nobody".to_owned()
    } else {
        holder.to_string()
    })
}

fn lost_tool_warning(tool_id: u8, holder: &str) -> String {
    format!(
        "the program freed sys.monitoring tool id {tool_id} (now held by {holder}): \
         the hook may have stopped seeing calls from then on, and settings changes after \
         it were not applied"
    )
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
///
/// Returns false, and says so once, when our tool id is no longer ours (the
/// program freed it): the settings are then not in effect.
pub fn select(
    py: Python<'_>,
    mechanism: &Mechanism,
    wanted: Wanted,
    restart: bool,
) -> PyResult<bool> {
    let monitoring = py.import("sys")?.getattr("monitoring")?;
    if let Some(holder) = lost_tool(&monitoring, mechanism.tool_id) {
        say_once(
            &TOOL_LOST_REPORTED,
            &format!("warning: {}", lost_tool_warning(mechanism.tool_id, &holder)),
        );
        return Ok(false);
    }
    monitoring.call_method1(
        "set_events",
        (mechanism.tool_id, mechanism.events.mask(wanted)),
    )?;
    if restart {
        monitoring.call_method0("restart_events")?;
    }
    Ok(true)
}

/// Whether the program freed our tool id (said once: not again when a
/// settings change already said it).
pub fn check_at_exit(py: Python<'_>) -> Option<String> {
    let tool_id = TOOL_ID.load(Ordering::Relaxed);
    let monitoring = py.import("sys").ok()?.getattr("monitoring").ok()?;
    let holder = lost_tool(&monitoring, tool_id)?;
    (!TOOL_LOST_REPORTED.swap(true, Ordering::Relaxed)).then(|| lost_tool_warning(tool_id, &holder))
}

fn take_tool_id(monitoring: &Bound<'_, PyAny>) -> Result<u8, String> {
    for id in TOOL_IDS {
        if monitoring
            .call_method1("use_tool_id", (id, TOOL_NAME))
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
