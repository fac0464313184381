//! The loop: messages in (keys, ticks, engine updates), `State::update`,
//! effects out, redraws. Generic over the terminal backend and handed its
//! engine (bandwhich's `start(backend, os_io, opts)`), so tests drive it
//! with a `TestBackend`, the fake engine and scripted keys.
//!
//! Bandwidth: ratatui sends only changed cells; the loop redraws at once on
//! a key (the user waits for it) and otherwise at most every
//! [`Timing::redraw`] while updates arrive, and not at all when nothing
//! changes (a quiet tick is not a redraw).

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;
use ratatui::Terminal;
use ratatui::backend::Backend;

use crate::experiment::{Command, EngineHandle};

use super::export;
use super::msg::{Effect, Msg};
use super::state::State;

/// How often the loop does things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Least time between two redraws caused by engine updates.
    pub redraw: Duration,
    /// Tick period (spinners, notices).
    pub tick: Duration,
    /// After `q`, how long to wait for the engine to stop the workload.
    pub quit_grace: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            redraw: Duration::from_millis(200),
            tick: Duration::from_millis(250),
            quit_grace: Duration::from_secs(8),
        }
    }
}

/// Forwards engine updates into the message channel, then `EngineGone`.
fn forward_updates(updates: Receiver<crate::experiment::Update>, tx: Sender<Msg>) {
    let _ = thread::Builder::new()
        .name("speedbump-tui-updates".into())
        .spawn(move || {
            for update in updates {
                if tx.send(Msg::Engine(update)).is_err() {
                    return;
                }
            }
            let _ = tx.send(Msg::EngineGone);
        });
}

/// What the loop counted (for tests and the bench).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames drawn.
    pub draws: u64,
    /// Messages handled.
    pub messages: u64,
}

/// Runs until the user quits (and the engine stopped the workload, or the
/// grace time ran out). `tx`/`rx` is the message channel: the caller feeds
/// input into `tx` (crossterm reader, or a test script); engine updates are
/// forwarded into it here. Returns the final state.
pub fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    engine: EngineHandle,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    mut state: State,
    timing: Timing,
) -> Result<(State, Stats)>
where
    B::Error: Send + Sync + 'static,
{
    let EngineHandle { commands, updates } = engine;
    forward_updates(updates, tx.clone());
    let mut stats = Stats::default();
    let draw = |terminal: &mut Terminal<B>, state: &State, stats: &mut Stats| -> Result<()> {
        terminal.draw(|frame| frame.render_widget(state, frame.area()))?;
        stats.draws += 1;
        Ok(())
    };
    draw(terminal, &state, &mut stats)?;
    let mut last_draw = Instant::now();
    let mut dirty = false;
    let mut next_tick = Instant::now() + timing.tick;
    let mut quit_deadline: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let mut wake = next_tick;
        if dirty {
            wake = wake.min(last_draw + timing.redraw);
        }
        if let Some(deadline) = quit_deadline {
            wake = wake.min(deadline);
        }
        let mut immediate = false;
        match rx.recv_timeout(wake.saturating_duration_since(now)) {
            Ok(msg) => {
                stats.messages += 1;
                immediate = matches!(msg, Msg::Key(_) | Msg::Resize | Msg::Exported(_));
                let effects = state.update(msg);
                dirty = true;
                for effect in effects {
                    match effect {
                        Effect::Engine(command) => {
                            let shutdown = command == Command::Shutdown;
                            if commands.send(command).is_err() && shutdown {
                                return Ok((state, stats));
                            }
                        }
                        Effect::Export => {
                            let _ = tx.send(Msg::Exported(export::write_all(&state)));
                        }
                        Effect::Quit => {
                            draw(terminal, &state, &mut stats)?;
                            return Ok((state, stats));
                        }
                    }
                }
                if state.quitting && quit_deadline.is_none() {
                    quit_deadline = Some(Instant::now() + timing.quit_grace);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok((state, stats)),
        }
        let now = Instant::now();
        if now >= next_tick {
            next_tick = now + timing.tick;
            if state.tick_changes_screen() {
                dirty = true;
            }
            state.update(Msg::Tick);
        }
        if dirty && (immediate || now >= last_draw + timing.redraw) {
            draw(terminal, &state, &mut stats)?;
            last_draw = now;
            dirty = false;
        }
        if quit_deadline.is_some_and(|d| now >= d) {
            return Ok((state, stats));
        }
    }
}

/// Reads the real terminal's input into `tx` (keys and resizes), forever.
pub fn spawn_input_reader(tx: Sender<Msg>) {
    let _ = thread::Builder::new()
        .name("speedbump-tui-input".into())
        .spawn(move || {
            use crossterm::event::{Event, read};
            while let Ok(event) = read() {
                let msg = match event {
                    Event::Key(key) => Msg::Key(key),
                    Event::Resize(..) => Msg::Resize,
                    _ => continue,
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
        });
}

/// Turns SIGTERM and SIGINT into [`Msg::Signal`] (leave like `q`: the
/// workload is stopped and the terminal restored), SIGHUP into
/// [`Msg::Hangup`] (detach: the session server keeps the workload).
pub fn spawn_signal_watcher(tx: Sender<Msg>) -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT])?;
    thread::Builder::new()
        .name("speedbump-tui-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let msg = if signal == SIGHUP {
                    Msg::Hangup
                } else {
                    Msg::Signal
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}
