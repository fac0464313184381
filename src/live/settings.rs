//! The live settings of a session in structured form, and their conversion
//! to the control block's [`ControlSettings`].
//!
//! Patterns are kept as normalised lines (`numpy.*:*`, `!numpy.testing.*:*`)
//! so that schedule commands can add and remove single patterns; the control
//! block receives them as target-file text, one per line.

use std::path::Path;

use crate::ipc::{ControlSettings, control_flags};
use crate::pattern::{PatternError, PatternSet, parse_pattern};

/// Delay per selected call when none is given (docs/methodology.md: 1 µs).
pub const DEFAULT_DELAY_NS: u64 = 1_000;

/// What every hooked process of a session does, as one value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LiveSettings {
    /// Delays and counting on (`false`: every function runs untouched).
    pub enabled: bool,
    /// Delay per selected call, in ns (0: count only).
    pub delay_ns: u64,
    /// Delay every Nth matching call (1 = every call).
    pub frequency: u64,
    /// Also delay each resume of generators and coroutines.
    pub delay_resumes: bool,
    /// Also match C functions at Python call sites.
    pub match_c_calls: bool,
    /// Pattern lines, `module_glob:qualname_glob`, excludes with a leading `!`.
    pub patterns: Vec<String>,
    /// Delay per selected call of each line of `patterns` (same order and
    /// length; excludes' entries are ignored), overriding `delay_ns`; empty:
    /// every pattern at `delay_ns`. A ranking's grouped design slows several
    /// candidates per window, each at its own delay (docs/ranking.md).
    pub pattern_delays_ns: Vec<u64>,
    /// Progress points, `module_glob:qualname_glob`: each completed call of a
    /// matching function counts one unit of progress named after the point.
    pub progress_points: Vec<String>,
    /// Also measure the own time of matched code (a census: the ranking's
    /// own time per unit, docs/ranking.md). Costs on matched code only.
    #[serde(default)]
    pub own_time: bool,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            delay_ns: DEFAULT_DELAY_NS,
            frequency: 1,
            delay_resumes: false,
            match_c_calls: false,
            patterns: Vec::new(),
            pattern_delays_ns: Vec::new(),
            progress_points: Vec::new(),
            own_time: false,
        }
    }
}

impl LiveSettings {
    /// The control-block form of these settings.
    pub fn to_control(&self) -> ControlSettings {
        let mut flags = 0;
        if self.enabled {
            flags |= control_flags::ENABLED;
        }
        if self.delay_resumes {
            flags |= control_flags::DELAY_RESUMES;
        }
        if self.match_c_calls {
            flags |= control_flags::MATCH_C_CALLS;
        }
        if self.own_time {
            flags |= control_flags::OWN_TIME;
        }
        ControlSettings {
            delay_ns: self.delay_ns,
            frequency: self.frequency.max(1),
            flags,
            patterns: self.pattern_text(),
            pattern_delays_ns: self.include_delays_ns(),
            progress_points: join_lines(&self.progress_points),
        }
    }

    /// The delay of each include pattern, in order (the control block's
    /// form of `pattern_delays_ns`); empty when there are none.
    pub fn include_delays_ns(&self) -> Vec<u64> {
        if self.pattern_delays_ns.is_empty() {
            return Vec::new();
        }
        self.patterns
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.starts_with('!'))
            .map(|(i, _)| self.pattern_delays_ns.get(i).copied().unwrap_or(0))
            .collect()
    }

    /// The largest delay any pattern has (what a window injects at most per
    /// call; 0 when nothing is delayed).
    pub fn max_delay_ns(&self) -> u64 {
        if self.pattern_delays_ns.is_empty() {
            self.delay_ns
        } else {
            self.pattern_delays_ns.iter().copied().max().unwrap_or(0)
        }
    }

    /// The same patterns, counted but never delayed (a pair's baseline).
    pub fn counting_only(&self) -> LiveSettings {
        LiveSettings {
            delay_ns: 0,
            pattern_delays_ns: Vec::new(),
            ..self.clone()
        }
    }

    /// The patterns as target-file text (one per line).
    pub fn pattern_text(&self) -> String {
        join_lines(&self.patterns)
    }

    /// True when at least one include pattern is set.
    pub fn has_includes(&self) -> bool {
        self.patterns.iter().any(|p| !p.starts_with('!'))
    }

    /// The patterns as a checked [`PatternSet`] (`source` names them in errors).
    pub fn pattern_set(&self, source: &str) -> Result<PatternSet, PatternError> {
        PatternSet::parse_file_text(source, &self.pattern_text())
    }
}

fn join_lines(lines: &[String]) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// One pattern line in its normal form (`!` + text for excludes), checked.
pub fn normalise_pattern(source: &str, text: &str) -> Result<String, PatternError> {
    let pattern = parse_pattern(source, text)?;
    Ok(pattern_line(pattern.is_exclude(), pattern.text()))
}

/// A progress point, checked: a pattern without `!`.
pub fn normalise_progress_point(source: &str, text: &str) -> Result<String, PatternError> {
    let pattern = parse_pattern(source, text)?;
    if pattern.is_exclude() {
        return Err(PatternError {
            source: source.to_owned(),
            line: 1,
            column: 1,
            line_text: text.to_owned(),
            message: "a progress point cannot be an exclusion; drop the '!'".to_owned(),
        });
    }
    Ok(pattern.text().to_owned())
}

/// The pattern lines of a target file, normalised (comments and blank lines
/// dropped), in file order.
pub fn load_target_file(path: &Path) -> Result<Vec<String>, PatternError> {
    let set = PatternSet::load(path)?;
    Ok(set_lines(&set))
}

/// The pattern lines of a parsed set, in source order.
pub fn set_lines(set: &PatternSet) -> Vec<String> {
    set.lines()
        .map(|(_, p)| pattern_line(p.is_exclude(), p.text()))
        .collect()
}

fn pattern_line(exclude: bool, text: &str) -> String {
    if exclude {
        format!("!{text}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn control_form_carries_every_field() {
        let settings = LiveSettings {
            enabled: true,
            delay_ns: 10_000,
            frequency: 3,
            delay_resumes: true,
            match_c_calls: false,
            patterns: vec!["a.*:*".into(), "!a.b:*".into(), "c:*".into()],
            pattern_delays_ns: vec![5, 0, 7],
            progress_points: vec!["bench:Engine.step".into()],
            own_time: true,
        };
        let control = settings.to_control();
        // One delay per include line, excludes skipped.
        assert_eq!(control.pattern_delays_ns, vec![5, 7]);
        assert_eq!(settings.max_delay_ns(), 7);
        assert!(settings.counting_only().pattern_delays_ns.is_empty());
        assert_eq!(control.delay_ns, 10_000);
        assert_eq!(control.frequency, 3);
        assert_eq!(
            control.flags,
            control_flags::ENABLED | control_flags::DELAY_RESUMES | control_flags::OWN_TIME
        );
        assert_eq!(control.patterns, "a.*:*\n!a.b:*\nc:*\n");
        assert_eq!(control.progress_points, "bench:Engine.step\n");
        let set = settings.pattern_set("test").unwrap();
        assert_eq!(set.includes().len(), 2);
        assert_eq!(set.excludes().len(), 1);
    }

    #[test]
    fn off_clears_enabled_and_frequency_is_at_least_one() {
        let settings = LiveSettings {
            enabled: false,
            frequency: 0,
            ..LiveSettings::default()
        };
        let control = settings.to_control();
        assert_eq!(control.flags & control_flags::ENABLED, 0);
        assert_eq!(control.frequency, 1);
        assert!(!settings.has_includes());
    }

    #[test]
    fn patterns_are_normalised_and_checked() {
        assert_eq!(normalise_pattern("x", " !a.*:f ").unwrap(), "!a.*:f");
        assert!(normalise_pattern("x", "a.[b:*").is_err());
        assert_eq!(
            normalise_progress_point("x", "m:C.step").unwrap(),
            "m:C.step"
        );
        let e = normalise_progress_point("x", "!m:C.step").unwrap_err();
        assert!(e.message.contains("drop the '!'"), "{e}");
    }
}
