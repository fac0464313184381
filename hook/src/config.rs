//! Settings read from `SPEED_BUMP_*` environment variables at activation.
//!
//! Every problem becomes a `ConfigError` naming the variable, so the hook can
//! print one `speedbump:` line and exit with status 2 before the program's own
//! code runs (see `lib.rs::activate`).

use std::path::PathBuf;

use speedbump_core::units::{parse_duration_ns, parse_flag, parse_ms, parse_positive_count};

/// Every variable the hook understands; anything else that starts with
/// `SPEED_BUMP_` is a typo worth stopping for.
pub const KNOWN_VARIABLES: &[&str] = &[
    "SPEED_BUMP_TARGETS",
    "SPEED_BUMP_DELAY_NS",
    "SPEED_BUMP_FREQUENCY",
    "SPEED_BUMP_START_MS",
    "SPEED_BUMP_DURATION_MS",
    "SPEED_BUMP_RESUME",
    "SPEED_BUMP_C_CALLS",
    "SPEED_BUMP_QUIET",
    "SPEED_BUMP_REPORT",
    "SPEED_BUMP_SESSION",
    "SPEED_BUMP_START_AT",
];

/// Delay applied when `SPEED_BUMP_DELAY_NS` is unset (METHODOLOGY.md).
pub const DEFAULT_DELAY_NS: u64 = 1000;

#[derive(Debug, Clone)]
pub struct Config {
    /// Target file (made absolute, so children with another cwd find it).
    pub targets: Option<PathBuf>,
    pub delay_ns: u64,
    /// Delay every Nth matching call (1 = every call).
    pub frequency: u64,
    /// Delays begin this long after process start.
    pub start_ms: u64,
    /// Delays stop this long after they began (None = until exit).
    pub duration_ms: Option<u64>,
    /// Also delay each resume of a generator or coroutine (PY_RESUME).
    pub delay_resumes: bool,
    /// Also match C functions at Python call sites (CALL events).
    pub match_c_calls: bool,
    pub quiet: bool,
    pub report: Option<PathBuf>,
    /// Session directory inherited from the root process or a launcher.
    pub session: Option<PathBuf>,
    /// Exact process start passed by a launcher: (pid, CLOCK_MONOTONIC ns).
    pub start_at: Option<(u32, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{variable}: {reason}")]
    BadValue {
        variable: &'static str,
        value: String,
        reason: String,
    },
    #[error("unknown variable {name}{hint}; known: {known}", known = KNOWN_VARIABLES.join(", "))]
    UnknownVariable { name: String, hint: String },
}

fn bad(variable: &'static str, value: &str, reason: impl ToString) -> ConfigError {
    ConfigError::BadValue {
        variable,
        value: value.to_owned(),
        reason: reason.to_string(),
    }
}

impl Config {
    /// Reads the configuration from `vars` (the process environment in
    /// production; a plain list in tests).
    pub fn from_vars<I>(vars: I, cwd: Option<PathBuf>) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut config = Config {
            targets: None,
            delay_ns: DEFAULT_DELAY_NS,
            frequency: 1,
            start_ms: 0,
            duration_ms: None,
            delay_resumes: false,
            match_c_calls: false,
            quiet: false,
            report: None,
            session: None,
            start_at: None,
        };
        let mut vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, _)| name.starts_with("SPEED_BUMP_"))
            .collect();
        vars.sort();
        for (name, value) in &vars {
            let v = value.as_str();
            match name.as_str() {
                "SPEED_BUMP_TARGETS" => {
                    if v.trim().is_empty() {
                        return Err(bad(
                            "SPEED_BUMP_TARGETS",
                            v,
                            "empty; give the path of a target file (e.g. echo '*:*' > /tmp/all.txt)",
                        ));
                    }
                    config.targets = Some(absolute(v, cwd.as_ref()));
                }
                "SPEED_BUMP_DELAY_NS" => {
                    config.delay_ns =
                        parse_duration_ns(v).map_err(|e| bad("SPEED_BUMP_DELAY_NS", v, e))?;
                }
                "SPEED_BUMP_FREQUENCY" => {
                    config.frequency =
                        parse_positive_count(v).map_err(|e| bad("SPEED_BUMP_FREQUENCY", v, e))?;
                }
                "SPEED_BUMP_START_MS" => {
                    config.start_ms = parse_ms(v).map_err(|e| bad("SPEED_BUMP_START_MS", v, e))?;
                }
                "SPEED_BUMP_DURATION_MS" => {
                    config.duration_ms =
                        Some(parse_ms(v).map_err(|e| bad("SPEED_BUMP_DURATION_MS", v, e))?);
                }
                "SPEED_BUMP_RESUME" => {
                    config.delay_resumes =
                        parse_flag(v).map_err(|e| bad("SPEED_BUMP_RESUME", v, e))?;
                }
                "SPEED_BUMP_C_CALLS" => {
                    config.match_c_calls =
                        parse_flag(v).map_err(|e| bad("SPEED_BUMP_C_CALLS", v, e))?;
                }
                "SPEED_BUMP_QUIET" => {
                    config.quiet = parse_flag(v).map_err(|e| bad("SPEED_BUMP_QUIET", v, e))?;
                }
                "SPEED_BUMP_REPORT" => {
                    if v.trim().is_empty() {
                        return Err(bad(
                            "SPEED_BUMP_REPORT",
                            v,
                            "empty; give a path for the JSON report (e.g. /tmp/speedbump.json)",
                        ));
                    }
                    config.report = Some(absolute(v, cwd.as_ref()));
                }
                "SPEED_BUMP_SESSION" => {
                    if !v.is_empty() {
                        config.session = Some(PathBuf::from(v));
                    }
                }
                "SPEED_BUMP_START_AT" => {
                    config.start_at = Some(parse_start_at(v).ok_or_else(|| {
                        bad(
                            "SPEED_BUMP_START_AT",
                            v,
                            "expected PID:MONOTONIC_NS (set by a launcher)",
                        )
                    })?);
                }
                other => {
                    return Err(ConfigError::UnknownVariable {
                        name: other.to_owned(),
                        hint: did_you_mean(other),
                    });
                }
            }
        }
        Ok(config)
    }
}

fn absolute(path: &str, cwd: Option<&PathBuf>) -> PathBuf {
    let p = PathBuf::from(path);
    match cwd {
        Some(cwd) if p.is_relative() => cwd.join(p),
        _ => p,
    }
}

fn parse_start_at(v: &str) -> Option<(u32, u64)> {
    let (pid, ns) = v.split_once(':')?;
    Some((pid.trim().parse().ok()?, ns.trim().parse().ok()?))
}

/// Suggests the known variable closest to a misspelt one.
fn did_you_mean(name: &str) -> String {
    let best = KNOWN_VARIABLES
        .iter()
        .map(|known| (edit_distance(name, known), *known))
        .min();
    match best {
        Some((distance, known)) if distance <= 4 || known.starts_with(name) => {
            format!(" (did you mean {known}?)")
        }
        _ => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            Some(PathBuf::from("/work")),
        )
    }

    #[test]
    fn defaults_follow_the_methodology() {
        let c = parse(&[("SPEED_BUMP_TARGETS", "t.txt")]).unwrap();
        assert_eq!(c.delay_ns, 1000);
        assert_eq!(c.frequency, 1);
        assert_eq!(c.targets, Some(PathBuf::from("/work/t.txt")));
    }

    #[test]
    fn units_and_window() {
        let c = parse(&[
            ("SPEED_BUMP_DELAY_NS", "10us"),
            ("SPEED_BUMP_START_MS", "5000"),
            ("SPEED_BUMP_DURATION_MS", "30000"),
            ("SPEED_BUMP_FREQUENCY", "10"),
        ])
        .unwrap();
        assert_eq!(c.delay_ns, 10_000);
        assert_eq!(
            (c.start_ms, c.duration_ms, c.frequency),
            (5000, Some(30000), 10)
        );
    }

    #[test]
    fn errors_name_the_variable() {
        let e = parse(&[("SPEED_BUMP_FREQUENCY", "0")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("SPEED_BUMP_FREQUENCY: "), "{e}");
        let e = parse(&[("SPEED_BUMP_DELAY", "10")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean SPEED_BUMP_DELAY_NS?"), "{e}");
    }
}
