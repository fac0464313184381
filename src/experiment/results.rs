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
    #[error("cannot {action} {}: {source}", path.display())]
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
    #[error("{} is not a speedbump results file: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The file has another schema.
    #[error(
        "{} has schema '{found}', not '{SCHEMA}'; write to another file (--out) or start afresh (--fresh)",
        path.display()
    )]
    Schema {
        /// The file.
        path: PathBuf,
        /// The schema it names.
        found: String,
    },
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
            });
        }
        let mut file: ResultsFile =
            serde_json::from_str(text).map_err(|source| ResultsError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        // Appending to an older file writes it in this schema.
        file.schema = SCHEMA.to_owned();
        Ok(file)
    }

    /// Loads `path`.
    pub fn load(path: &Path) -> Result<ResultsFile, ResultsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        ResultsFile::parse(path, &text)
    }

    /// Loads `path` to append to it; a new file when it does not exist or
    /// `fresh` is set.
    pub fn load_for_append(path: &Path, fresh: bool) -> Result<ResultsFile, ResultsError> {
        if fresh || !path.exists() {
            return Ok(ResultsFile::default());
        }
        ResultsFile::load(path)
    }

    /// The file as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Writes the file atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), ResultsError> {
        let io = |action, source| ResultsError::Io {
            action,
            path: path.to_path_buf(),
            source,
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp-{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let mut text = self.to_json();
        text.push('\n');
        std::fs::write(&tmp, text).map_err(|e| io("write", e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io("write", e)
        })
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_unix_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
