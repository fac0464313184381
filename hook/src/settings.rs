//! The settings the hook applies, from either source: the environment
//! (docs/methodology.md's variables) or a launcher's control block (live), and
//! applying them to a running process.

use pyo3::prelude::*;
use speedbump_core::ipc::{ControlSettings, control_flags};
use speedbump_core::pattern::{Pattern, PatternSet, parse_pattern};
use speedbump_core::units::check_delay_ns;

use crate::calibrate;
use crate::config::Config;
use crate::hot::HOT;
use crate::mechanism::{self, Wanted};
use crate::state::HOOK;

/// One complete set of settings.
pub struct Settings {
    pub patterns: PatternSet,
    pub progress_points: Vec<Pattern>,
    pub delay_ns: u64,
    /// Delay per call of each include pattern (empty: `delay_ns` for all).
    pub pattern_delays_ns: Vec<u64>,
    pub frequency: u64,
    pub delay_resumes: bool,
    pub match_c_calls: bool,
    /// Measure the own time of matched code (control flag `OWN_TIME`; the
    /// environment never asks for it).
    pub own_time: bool,
    /// Control-block generation these come from (0 = environment).
    pub control_generation: u64,
}

impl Settings {
    pub fn from_config(config: &Config, patterns: PatternSet) -> Settings {
        Settings {
            patterns,
            progress_points: Vec::new(),
            delay_ns: config.delay_ns,
            pattern_delays_ns: Vec::new(),
            frequency: config.frequency,
            delay_resumes: config.delay_resumes,
            match_c_calls: config.match_c_calls,
            own_time: false,
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
            delay_ns: check_delay_ns(control.delay_ns)?,
            pattern_delays_ns: control.pattern_delays_ns.clone(),
            frequency: control.frequency.max(1),
            delay_resumes: control.flags & control_flags::DELAY_RESUMES != 0,
            match_c_calls: control.flags & control_flags::MATCH_C_CALLS != 0,
            own_time: control.flags & control_flags::OWN_TIME != 0,
            control_generation: generation,
        })
    }

    /// What the mechanism must report for these settings.
    pub fn wanted(&self) -> Wanted {
        Wanted {
            resumes: self.delay_resumes,
            c_calls: self.match_c_calls,
            returns: !self.progress_points.is_empty(),
            latency: false,
            own_time: self.own_time,
        }
    }
}

/// The probe spin a delay is calibrated with (see `calibrate`): delays that
/// share it share the measurement.
fn probe_delay(delay_ns: u64) -> u64 {
    calibrate::probe_spin_ns(delay_ns)
}

/// Makes `settings` the ones in force: every code object is decided again
/// (a new generation makes cached decisions stale; the mechanism brings
/// back code it stopped reporting), the delay is recalibrated if needed, and the
/// segment records the control generation now applied.
///
/// The calibration runs Python: no reference into the hook's state is held
/// across it, so callbacks and `progress()` in other threads see consistent
/// state.
pub fn apply(py: Python<'_>, settings: Settings) -> PyResult<()> {
    // With per-pattern delays, `delay_ns` in force is the largest: it gates
    // the fast path (0: never spin) and picks the calibration probe.
    let delay_ns = crate::pattern_delays::largest(settings.delay_ns, &settings.pattern_delays_ns);
    let probe = probe_delay(delay_ns);
    // SAFETY: GIL held; a copy, no reference kept.
    let Some(calibrated_for) = (unsafe { HOOK.get() }).as_ref().map(|h| h.calibrated_for) else {
        return Ok(());
    };
    let measured = if delay_ns > 0 && calibrated_for != Some(probe) {
        match calibrate::measure_fixed_cost(py, delay_ns) {
            Ok(Some(cost)) => Some(cost),
            Ok(None) => None, // another thread is measuring; keep the current cost
            Err(_) => Some(0),
        }
    } else {
        None
    };
    // SAFETY: GIL held; calibration is over.
    let Some(hook) = (unsafe { HOOK.get() }).as_mut() else {
        return Ok(());
    };
    if let Some(cost) = measured {
        hook.fixed_cost_ns = cost;
        hook.calibrated_for = Some(probe);
    }
    hook.generation = hook.generation.wrapping_add(1);
    // SAFETY: GIL held, and not inside a callback.
    let hot = unsafe { HOT.get() };
    hot.set_generation(hook.generation);
    hot.set_delay(delay_ns, hook.fixed_cost_ns);
    hot.frequency = settings.frequency;
    hot.calls_since_delay = 0;
    hot.debt_ns = 0;
    let mut wanted = settings.wanted();
    wanted.latency = !hook.latency_points.is_empty();
    // What the mechanism disabled depends only on the patterns, the
    // progress points (latency points are fixed for the process) and own
    // time: returns and yields of matched code disabled without it are
    // needed again once it is asked for.
    let restart = hot.settings_applied
        && (hook.patterns != settings.patterns
            || hook.progress_points != settings.progress_points
            || (settings.own_time && !hot.own_time));
    hot.own_time = settings.own_time;
    hot.count_resumes = wanted.resumes;
    hot.settings_applied = true;
    hook.stats.new_generation(settings.control_generation);
    hook.patterns = settings.patterns;
    hook.progress_points = settings.progress_points;
    hook.stats
        .record_patterns(&hook.patterns, &settings.pattern_delays_ns);
    hook.control_generation = settings.control_generation;
    hook.delay_ns = delay_ns;
    hook.frequency = settings.frequency;
    // A mechanism that no longer sees calls (said once) does not apply
    // them: the segment must not claim this generation in effect.
    if mechanism::select(py, &hook.mechanism, wanted, restart)? {
        hook.stats
            .set_settings_generation(settings.control_generation);
    }
    Ok(())
}
