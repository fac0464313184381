//! The settings the hook applies, from either source: the environment
//! (METHODOLOGY.md's variables) or a launcher's control block (live), and
//! applying them to a running process.

use pyo3::prelude::*;
use speedbump_core::ipc::{ControlSettings, control_flags};
use speedbump_core::pattern::{Pattern, PatternSet, parse_pattern};

use crate::calibrate;
use crate::config::Config;
use crate::hot::HOT;
use crate::state::Hook;

/// One complete set of settings.
pub struct Settings {
    pub patterns: PatternSet,
    pub progress_points: Vec<Pattern>,
    pub delay_ns: u64,
    pub frequency: u64,
    pub delay_resumes: bool,
    pub match_c_calls: bool,
    /// Control-block generation these come from (0 = environment).
    pub control_generation: u64,
}

impl Settings {
    pub fn from_config(config: &Config, patterns: PatternSet) -> Settings {
        Settings {
            patterns,
            progress_points: Vec::new(),
            delay_ns: config.delay_ns,
            frequency: config.frequency,
            delay_resumes: config.delay_resumes,
            match_c_calls: config.match_c_calls,
            control_generation: 0,
        }
    }

    /// Settings from a control block. Switched off means: no target patterns
    /// (every function runs untouched) but progress points still count.
    pub fn from_control(generation: u64, control: &ControlSettings) -> Result<Settings, String> {
        let patterns = if control.enabled() {
            PatternSet::parse_file_text("control block", &control.patterns)
                .map_err(|e| e.one_line())?
        } else {
            PatternSet::from_patterns(Vec::new())
        };
        let progress_points = control
            .progress_points
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| parse_pattern("progress point", line).map_err(|e| e.one_line()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Settings {
            patterns,
            progress_points,
            delay_ns: control.delay_ns,
            frequency: control.frequency.max(1),
            delay_resumes: control.flags & control_flags::DELAY_RESUMES != 0,
            match_c_calls: control.flags & control_flags::MATCH_C_CALLS != 0,
            control_generation: generation,
        })
    }

    /// The sys.monitoring events these settings need.
    pub fn event_mask(&self, events: &Events) -> u32 {
        let mut mask = events.py_start;
        if self.delay_resumes {
            mask |= events.py_resume;
        }
        if self.match_c_calls {
            mask |= events.call;
        }
        if !self.progress_points.is_empty() {
            mask |= events.py_return;
        }
        mask
    }
}

/// sys.monitoring event bits, read once.
#[derive(Clone, Copy)]
pub struct Events {
    pub py_start: u32,
    pub py_resume: u32,
    pub py_return: u32,
    pub call: u32,
}

impl Events {
    pub fn read(monitoring: &Bound<'_, PyAny>) -> PyResult<Events> {
        let events = monitoring.getattr("events")?;
        Ok(Events {
            py_start: events.getattr("PY_START")?.extract()?,
            py_resume: events.getattr("PY_RESUME")?.extract()?,
            py_return: events.getattr("PY_RETURN")?.extract()?,
            call: events.getattr("CALL")?.extract()?,
        })
    }
}

/// The probe spin a delay is calibrated with (see `calibrate`): delays that
/// share it share the measurement.
fn probe_delay(delay_ns: u64) -> u64 {
    calibrate::probe_spin_ns(delay_ns)
}

/// Makes `settings` the ones in force: every code object is decided again
/// (a new generation makes cached decisions stale; `restart_events` brings
/// back the ones disabled), the delay is recalibrated if needed, and the
/// segment records the control generation now applied.
pub fn apply(py: Python<'_>, hook: &mut Hook, settings: Settings) -> PyResult<()> {
    let monitoring = py.import("sys")?.getattr("monitoring")?;
    if settings.delay_ns > 0 && hook.calibrated_for != Some(probe_delay(settings.delay_ns)) {
        hook.fixed_cost_ns =
            calibrate::measure_fixed_cost(py, hook.generation, settings.delay_ns).unwrap_or(0);
        hook.calibrated_for = Some(probe_delay(settings.delay_ns));
    }
    hook.generation = hook.generation.wrapping_add(1);
    // SAFETY: GIL held, and not inside a callback.
    let hot = unsafe { HOT.get() };
    hot.set_generation(hook.generation);
    hot.set_delay(settings.delay_ns, hook.fixed_cost_ns);
    hot.frequency = settings.frequency;
    hot.calls_since_delay = 0;
    hot.debt_ns = 0;
    let mask = settings.event_mask(&hook.events);
    hook.stats.new_generation(settings.control_generation);
    hook.patterns = settings.patterns;
    hook.progress_points = settings.progress_points;
    hook.stats.record_patterns(&hook.patterns);
    hook.control_generation = settings.control_generation;
    hook.delay_ns = settings.delay_ns;
    hook.frequency = settings.frequency;
    monitoring.call_method1("set_events", (hook.tool_id, mask))?;
    monitoring.call_method0("restart_events")?;
    hook.stats
        .set_settings_generation(settings.control_generation);
    Ok(())
}
