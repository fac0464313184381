//! `speedbump tui`: the five steps of docs/methodology.md at the keyboard, live,
//! over SSH. The Elm Architecture (ratatui's application patterns): one
//! message type ([`msg::Msg`]: keys, ticks, engine updates), one `update`
//! ([`state::State::update`]), pure views (`impl Widget for &State`), and a
//! loop ([`app::run`]) that takes its terminal backend and its engine handle
//! as arguments. The TUI never touches processes or shared memory: it
//! speaks the engine protocol ([`crate::experiment::protocol`]).
//!
//! | module | concern |
//! |---|---|
//! | [`app`] | the loop: messages, effects, redraw pacing, input and signal threads |
//! | [`state`] | the state and `update` |
//! | [`views`] | one view per step, the frame, help |
//! | [`step`] | the wizard's steps and panes |
//! | [`keys`] | the key table (also the help) |
//! | [`editor`] | one-line text fields |
//! | [`theme`] | themes by meaning, theme files, `NO_COLOR` |
//! | [`format`] | numbers, intervals, bars |
//! | [`export`] | report.md, results.json, SVG |
//! | [`engine`] | the engine on a real workload or the simulated one |
//! | [`fake`] | the engine on a simulated workload (`--demo-fake`, tests) |
//! | [`terminal`] | raw mode, alternate screen, restoring on every exit |

pub mod app;
mod editor;
pub(crate) mod engine;
pub mod export;
pub mod fake;
pub(crate) mod format;
pub mod keys;
pub mod msg;
pub mod state;
mod step;
mod terminal;
pub mod theme;
pub mod views;

use std::sync::mpsc;

use anyhow::Result;

pub use app::{Stats, Timing};
pub use msg::{Effect, Msg};
pub use state::{Options, State};
pub use step::Step;
pub use theme::Theme;

/// Runs the TUI on the real terminal with `engine` (a session server's
/// client, see [`crate::server::attach`]), draws, returns when the user
/// quits or detaches. The terminal is restored on every path.
pub fn run_interactive(engine: crate::experiment::EngineHandle, state: State) -> Result<State> {
    let (tx, rx) = mpsc::channel();
    app::spawn_signal_watcher(tx.clone())?;
    let (mut terminal, guard) = terminal::TerminalGuard::enter()?;
    app::spawn_input_reader(tx.clone());
    let outcome = app::run(&mut terminal, engine, tx, rx, state, Timing::default());
    drop(guard);
    outcome.map(|(state, _)| state)
}
