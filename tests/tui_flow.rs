//! The TUI's state and loop against the experiment engine on the simulated
//! workload (`tui::fake`: the real runner, sweeps and rankings over the
//! fake target, simulated time ×50 on the wall clock): steps 1-5 at the
//! keyboard from `*:*` down to the reference pipeline's critical function,
//! the export, a crash, and the loop's redraw pacing and quitting. Waits
//! are on conditions (with generous time-outs), never on fixed sleeps.

#![cfg(feature = "tui")]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use speedbump::experiment::{Command, EngineHandle};
use speedbump::tui::fake::{self, FakeOptions};
use speedbump::tui::{Effect, Msg, Options, State, Step, Theme, Timing, app};

const PATIENCE: Duration = Duration::from_secs(60);

struct Driver {
    state: State,
    engine: EngineHandle,
    quit: bool,
}

impl Driver {
    fn new(options: FakeOptions, export_dir: &std::path::Path) -> Driver {
        let state = State::new(
            Options {
                rank_delay_ns: 100_000,
                export_dir: export_dir.to_path_buf(),
                ..Options::default()
            },
            Theme::monochrome(),
        );
        Driver {
            state,
            engine: fake::spawn(options).unwrap(),
            quit: false,
        }
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Engine(command) => self.engine.commands.send(command).unwrap(),
                Effect::Export => {
                    let result = speedbump::tui::export::write_all(&self.state);
                    let more = self.state.update(Msg::Exported(result));
                    self.apply(more);
                }
                Effect::Quit => self.quit = true,
            }
        }
    }

    fn key(&mut self, code: KeyCode) {
        let effects = self
            .state
            .update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        self.apply(effects);
    }

    /// Folds engine updates in until `done(state)`.
    fn until(&mut self, what: &str, done: impl Fn(&State) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(&self.state) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting for {what}");
            if let Ok(update) = self
                .engine
                .updates
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                let effects = self.state.update(Msg::Engine(update));
                self.apply(effects);
            }
        }
    }
}

fn fast() -> FakeOptions {
    FakeOptions {
        speed: 50.0,
        live_interval: Duration::from_millis(20),
        ..FakeOptions::default()
    }
}

#[test]
fn keyboard_from_everything_to_the_critical_function_and_the_report() {
    let dir = tempdir("flow");
    let mut d = Driver::new(fast(), &dir);
    d.until("the census", |s| s.census.is_some());
    // Step 1: sweep *:*, read the verdict.
    d.key(KeyCode::Right);
    d.key(KeyCode::Enter);
    d.until("the sweep", |s| s.sweep.result.is_some());
    let sweep = d.state.sweep.result.clone().unwrap();
    assert_eq!(sweep.points.len(), 3);
    assert_eq!(
        sweep.python.bottleneck,
        speedbump::analysis::Bottleneck::Yes,
        "{}",
        sweep.python.message
    );
    // Step 2 has predictions.
    d.key(KeyCode::Right);
    assert!(!sweep.predictions.is_empty());
    // Step 3: rank the subsystems; __main__ first.
    d.key(KeyCode::Right);
    d.key(KeyCode::Enter);
    d.until("the top-level ranking", |s| {
        s.ranking("*").is_some_and(|r| r.result.is_some())
    });
    assert_eq!(d.state.subsystem_rows()[0].label, "__main__");
    // Enter opens it in step 4; r ranks its functions.
    d.key(KeyCode::Enter);
    assert_eq!(
        (d.state.step, d.state.drill.cursor.as_str()),
        (Step::DrillDown, "__main__")
    );
    d.key(KeyCode::Char('r'));
    d.until("the ranking under __main__", |s| {
        s.ranking("__main__").is_some_and(|r| r.result.is_some())
    });
    d.key(KeyCode::Down);
    assert_eq!(d.state.drill.cursor, "__main__:prepare_inputs");
    let m = d.state.measure("__main__:prepare_inputs").unwrap();
    assert_eq!(m.rank, Some(1), "{m:?}");
    // Step 5: export; the report names it first.
    d.key(KeyCode::Char('5'));
    d.key(KeyCode::Char('x'));
    assert!(d.state.exported.len() >= 3, "{:?}", d.state.notice);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let first = report.find("__main__:prepare_inputs").unwrap();
    for other in ["__main__:schedule", "__main__:launch", "telemetry"] {
        assert!(
            report.find(other).is_none_or(|i| first < i),
            "{other} before it:\n{report}"
        );
    }
    let json = std::fs::read_to_string(dir.join("results.json")).unwrap();
    let file = speedbump::experiment::results::ResultsFile::parse(&dir, &json).unwrap();
    assert_eq!(file.experiments.len(), 4, "census, sweep, two rankings");
    // q: the engine stops the workload, then the app leaves.
    d.key(KeyCode::Char('q'));
    d.until("the engine to finish", |s| s.workload.finished.is_some());
    assert!(d.quit);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cancel_keeps_a_partial_result_and_a_crash_is_reported() {
    let dir = tempdir("crash");
    let mut d = Driver::new(
        FakeOptions {
            crash_after_s: Some(40.0),
            ..fast()
        },
        &dir,
    );
    d.until("the census", |s| s.census.is_some());
    d.key(KeyCode::Char('1'));
    d.key(KeyCode::Enter);
    d.until("a first point", |s| {
        s.sweep.points.iter().any(Option::is_some)
    });
    d.key(KeyCode::Char('c'));
    d.until("the partial sweep", |s| s.sweep.result.is_some());
    assert!(d.state.sweep.result.as_ref().unwrap().partial);
    assert!(d.state.running.is_none());
    // The workload crashes while idle: its output says so; the engine
    // learns it at the next experiment, which ends at once.
    d.until("the traceback", |s| {
        s.output
            .lines
            .iter()
            .any(|(line, _)| line.contains("BrokenPipeError"))
    });
    d.key(KeyCode::Enter);
    d.until("the crash", |s| s.workload.exit.is_some());
    let exit = d.state.workload.exit.clone().unwrap();
    assert_eq!(exit.status, Some(1));
    assert!(
        exit.last_lines
            .iter()
            .any(|l| l.contains("BrokenPipeError"))
    );
    d.until("the second sweep's end", |s| s.running.is_none());
    assert!(
        d.state.results.sweeps.first().is_some_and(|s| s.partial),
        "results so far are kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_loop_paces_redraws_and_quits_through_the_engine() {
    let engine = fake::spawn(FakeOptions {
        live_interval: Duration::from_millis(20),
        ..FakeOptions::default()
    })
    .unwrap();
    let (tx, rx) = mpsc::channel();
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let state = State::new(Options::default(), Theme::monochrome());
    let keys = tx.clone();
    let script = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        for c in ['?', 'j', '1', 'q'] {
            keys.send(Msg::Key(KeyEvent::new(
                KeyCode::Char(c),
                KeyModifiers::NONE,
            )))
            .unwrap();
        }
    });
    let started = Instant::now();
    let timing = Timing {
        redraw: Duration::from_millis(200),
        ..Timing::default()
    };
    let (state, stats) = app::run(&mut terminal, engine, tx, rx, state, timing).unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    script.join().unwrap();
    assert!(state.quitting && state.workload.finished.is_some());
    assert_eq!(state.step, Step::Impact);
    // Updates arrive at 50 Hz, the screen is redrawn at most 5 times a
    // second (plus once per key and at the start and end).
    assert!(stats.messages > stats.draws, "{stats:?}");
    let most = (elapsed / 0.2).ceil() as u64 + 4 + 2;
    assert!(
        stats.draws <= most,
        "{stats:?} in {elapsed:.2} s (at most {most})"
    );
    let text = terminal.backend().to_string();
    assert!(text.contains("1 Impact"), "{text}");
}

#[test]
fn shutdown_is_sent_once_and_a_dead_engine_does_not_hang_the_quit() {
    let (commands, command_rx) = mpsc::channel();
    let (update_tx, updates) = mpsc::channel();
    drop(update_tx); // the engine is gone at once
    let engine = EngineHandle { commands, updates };
    let (tx, rx) = mpsc::channel();
    tx.send(Msg::Key(KeyEvent::new(
        KeyCode::Char('q'),
        KeyModifiers::NONE,
    )))
    .unwrap();
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let state = State::new(Options::default(), Theme::monochrome());
    let (state, _) = app::run(&mut terminal, engine, tx, rx, state, Timing::default()).unwrap();
    assert!(state.workload.finished.is_some());
    let sent: Vec<Command> = command_rx.try_iter().collect();
    assert!(sent.len() <= 1, "{sent:?}");
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("speedbump-tui-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
