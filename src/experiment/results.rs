//! `results.json`: the experiments of a session, accumulated, so that
//! `speedbump report` shows steps 1 to 4 together (schema in
//! docs/results-schema.md; fields are only ever added).
//!
//! Each `sweep` or `rank` command appends its experiments (a ranking that
//! discovers its candidates appends the census too) to the file named by
//! `--out`, creating it if needed; `--fresh` starts a new one. The file is
//! written atomically (a temporary file renamed into place), so a reader
//! never sees half of it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::protocol::{CensusResult, ExperimentKind, Mode, RankResult, SweepResult};

/// The schema name and version written into every file. Version 2 added
/// the ranking's equal dose, grouped design and per-candidate dose, own
/// time and gain (docs/results-schema.md).
pub const SCHEMA: &str = "speedbump.results/2";
/// Older schemas that read as this one (fields were only added).
const READABLE_SCHEMAS: [&str; 2] = [SCHEMA, "speedbump.results/1"];

/// What can go wrong with a results file.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// Reading or writing failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON of this schema.
    #[error("{} is not a speedbump results file", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The file has another schema.
    #[error("{} has schema '{found}', not '{SCHEMA}'{hint}", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// The schema it names.
        found: String,
        /// What to do, for the command at hand (starts with "; " or is
        /// empty).
        hint: &'static str,
    },
    /// A value no experiment can produce (an edited or damaged file).
    #[error("{} is damaged: {at} is {why}", path.display())]
    Impossible {
        /// The file.
        path: PathBuf,
        /// Where, as a JSON path (`experiments[0].sweep...`).
        at: String,
        /// What is wrong with it.
        why: String,
    },
}

/// Reads `path` (links followed) if it is a regular file; opened without
/// blocking, so that a FIFO is refused rather than waited on.
fn read_regular(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let nonblock = i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or(0);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nonblock)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a directory, FIFO or device)",
        ));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// What `sweep` suggests when it cannot append to a file.
const APPEND_HINT: &str = "; write to another file (--out) or start afresh (--fresh)";

/// The first value in `value` (at JSON path `at`) that no experiment can
/// produce: a relative throughput (the `relative` number beside a
/// `mean_log_ratio`) that is not a positive finite number, or an interval
/// (`low`, `high`) whose ends are reversed or not finite.
fn impossible_value(value: &serde_json::Value, at: &str) -> Option<(String, String)> {
    use serde_json::Value;
    match value {
        Value::Object(fields) => {
            let number = |key: &str| fields.get(key).and_then(Value::as_f64);
            if fields.contains_key("mean_log_ratio")
                && let Some(relative) = number("relative")
                && !(relative.is_finite() && relative > 0.0)
            {
                return Some((
                    format!("{at}.relative"),
                    format!("{relative} (a throughput ratio is above 0)"),
                ));
            }
            if let (Some(low), Some(high)) = (number("low"), number("high"))
                && !(low.is_finite() && high.is_finite() && low <= high)
            {
                return Some((
                    at.to_owned(),
                    format!("the interval [{low}, {high}] (low must not exceed high)"),
                ));
            }
            fields
                .iter()
                .find_map(|(key, field)| impossible_value(field, &format!("{at}.{key}")))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| impossible_value(item, &format!("{at}[{i}]"))),
        _ => None,
    }
}

/// One experiment with how it was run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentRecord {
    /// `census`, `sweep` or `rank`; the field of that name holds the result.
    pub kind: ExperimentKind,
    /// When it started, seconds since the Unix epoch.
    pub started_unix_s: f64,
    /// The workload's command line.
    pub command: Vec<String>,
    /// The mode asked for (`live`, `restart`, `auto`); the mode the
    /// windows actually ran in is in the result.
    pub mode: Mode,
    /// Seed of the randomised window order.
    pub seed: u64,
    /// Target half-width of the relative-throughput intervals (0.02 = ±2%).
    pub target_precision: f64,
    /// Seconds of warm-up after the first unit of progress.
    pub warmup_s: f64,
    /// Where the units of progress came from (`progress point
    /// bench:step`, ...), when known.
    #[serde(default)]
    pub progress: Option<String>,
    /// The census (`kind: census`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub census: Option<CensusResult>,
    /// The sweep (`kind: sweep`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepResult>,
    /// The ranking (`kind: rank`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<RankResult>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsFile {
    /// [`SCHEMA`].
    pub schema: String,
    /// Version of speedbump that last wrote the file.
    pub speedbump_version: String,
    /// Experiments, oldest first.
    pub experiments: Vec<ExperimentRecord>,
}

impl Default for ResultsFile {
    fn default() -> ResultsFile {
        ResultsFile {
            schema: SCHEMA.to_owned(),
            speedbump_version: env!("CARGO_PKG_VERSION").to_owned(),
            experiments: Vec::new(),
        }
    }
}

impl ResultsFile {
    /// Parses a results file's text (`path` names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<ResultsFile, ResultsError> {
        #[derive(Deserialize)]
        struct Head {
            schema: String,
        }
        let head: Head = serde_json::from_str(text).map_err(|source| ResultsError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        if !READABLE_SCHEMAS.contains(&head.schema.as_str()) {
            return Err(ResultsError::Schema {
                path: path.to_path_buf(),
                found: head.schema,
                hint: "",
            });
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| ResultsError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        if let Some((at, why)) = impossible_value(&value, "") {
            return Err(ResultsError::Impossible {
                path: path.to_path_buf(),
                at: at.trim_start_matches('.').to_owned(),
                why,
            });
        }
        let mut file: ResultsFile =
            serde_json::from_value(value).map_err(|source| ResultsError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        // Appending to an older file writes it in this schema.
        file.schema = SCHEMA.to_owned();
        Ok(file)
    }

    /// Loads `path`.
    /// Only a regular file is read: a FIFO or a device would block or
    /// never end.
    pub fn load(path: &Path) -> Result<ResultsFile, ResultsError> {
        let io = |source| ResultsError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        };
        let text = read_regular(path).map_err(io)?;
        ResultsFile::parse(path, &text)
    }

    /// Loads `path` to append to it; a new file when it does not exist or
    /// `fresh` is set.
    pub fn load_for_append(path: &Path, fresh: bool) -> Result<ResultsFile, ResultsError> {
        if fresh || !path.exists() {
            return Ok(ResultsFile::default());
        }
        ResultsFile::load(path).map_err(|error| match error {
            ResultsError::Schema { path, found, .. } => ResultsError::Schema {
                path,
                found,
                hint: APPEND_HINT,
            },
            other => other,
        })
    }

    /// The file as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Writes the file atomically (temporary file, then rename), safely in
    /// a shared directory (see [`crate::ipc::replace`]).
    pub fn save(&self, path: &Path) -> Result<(), ResultsError> {
        let io = |action, source| ResultsError::Io {
            action,
            path: path.to_path_buf(),
            source,
        };
        let mut text = self.to_json();
        text.push('\n');
        crate::ipc::replace::write_replacing(path, text.as_bytes()).map_err(|e| io("write", e))
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_unix_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
