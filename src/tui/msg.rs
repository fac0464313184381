//! The one message type the app loop folds into its state (input, ticks,
//! engine updates, export results), and the effects `update` asks the loop
//! to carry out. `update` itself never does I/O.

use std::path::PathBuf;

use crossterm::event::KeyEvent;

use crate::experiment::results::ResultsError;
use crate::experiment::{Command, Update};

/// Everything that can happen to the app. (`Engine` is large; boxing it
/// would add an allocation per update for nothing: a few dozen a second.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Msg {
    /// A key press.
    Key(KeyEvent),
    /// The terminal changed size (redraw).
    Resize,
    /// A timer tick (a few per second): spinners, notices expire.
    Tick,
    /// Something the engine reported.
    Engine(Update),
    /// The engine's update channel closed.
    EngineGone,
    /// An export finished: the files written, or why not.
    Exported(Result<Vec<PathBuf>, ResultsError>),
    /// SIGTERM or SIGINT reached the TUI: leave like `q`.
    Signal,
    /// SIGHUP (the terminal went away): detach; the session keeps running.
    Hangup,
}

/// What `update` asks the loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send a command to the engine.
    Engine(Command),
    /// Write the report files (results in [`Msg::Exported`]).
    Export,
    /// Leave the loop now.
    Quit,
}
