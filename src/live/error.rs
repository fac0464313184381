//! What can go wrong when starting and steering a live session.

use std::io;
use std::path::PathBuf;

use crate::ipc::IpcError;

/// An engine error; the message says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A file-system operation on a path failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`create`, `write`, ...).
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// Session directory, control block or segment trouble.
    #[error(transparent)]
    Ipc(#[from] IpcError),
    /// The command line to run is empty.
    #[error(
        "no command to run; put it after `--` (e.g. speedbump run --pattern 'app:*' -- python app.py)"
    )]
    NoCommand,
    /// The program is not on PATH.
    #[error("{program}: command not found on PATH; give its path or fix PATH")]
    CommandNotFound {
        /// The program as given.
        program: String,
    },
    /// The workload could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program as given.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A helper thread or process could not be started.
    #[error("cannot start the {what}: {source}")]
    Helper {
        /// Which helper.
        what: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The session has finished; nothing can be changed any more.
    #[error("the session has already finished")]
    Finished,
    /// An experiment cannot run as configured; the message says why and
    /// what to change.
    #[error("{0}")]
    Experiment(String),
}

impl EngineError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn helper(what: &'static str, source: io::Error) -> Self {
        Self::Helper { what, source }
    }
}
