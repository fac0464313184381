//! Every view of `speedbump tui` rendered against ratatui's TestBackend at
//! fixed sizes (80×24, the smallest supported, and larger), fed scripted key
//! presses and deterministic update frames from the fake engine's model.
//! Snapshots live in tests/snapshots/ (`cargo insta review` to update).

#![cfg(feature = "tui")]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use speedbump::analysis::Candidate;
use speedbump::engine::experiment::{Command, Update};
use speedbump::tui::fake::script::Script;
use speedbump::tui::{Effect, Msg, Options, State, Step, Theme};

fn screen(state: &State, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| frame.render_widget(state, frame.area()))
        .unwrap();
    terminal.backend().to_string()
}

fn snap(name: &str, state: &State, width: u16, height: u16) {
    insta::with_settings!({snapshot_path => "snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, screen(state, width, height));
    });
}

fn key(state: &mut State, code: KeyCode) -> Vec<Effect> {
    state.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn keys(state: &mut State, text: &str) {
    for c in text.chars() {
        key(state, KeyCode::Char(c));
    }
}

fn feed(state: &mut State, updates: Vec<Update>) {
    for u in updates {
        state.update(Msg::Engine(u));
    }
}

fn options() -> Options {
    Options {
        command: vec!["python".into(), "examples/pipeline.py".into()],
        rank_delay_ns: 100_000,
        ..Options::default()
    }
}

/// The workload started, ran 12 s, printed lines; the census is done.
fn started() -> (State, Script) {
    let mut state = State::new(options(), Theme::monochrome());
    let mut script = Script::new(11);
    let effects = state.update(Msg::Engine(script.started()));
    assert!(matches!(
        effects[..],
        [Effect::Engine(Command::Census { .. })]
    ));
    let (output, live) = (script.output(6), script.live(0.0, 12.0));
    feed(&mut state, output);
    feed(&mut state, live);
    let census = script.census();
    feed(&mut state, vec![census]);
    (state, script)
}

fn swept() -> (State, Script) {
    let (mut state, mut script) = started();
    key(&mut state, KeyCode::Char('1'));
    let effects = key(&mut state, KeyCode::Enter);
    let Some(Effect::Engine(Command::Sweep { delays_ns, .. })) = effects.first() else {
        panic!("Enter in step 1 runs a sweep: {effects:?}");
    };
    assert_eq!(delays_ns, &[1_000, 10_000, 100_000]);
    let updates = script.sweep(delays_ns, 4, true);
    feed(&mut state, updates);
    (state, script)
}

fn rank_effect(effects: &[Effect]) -> Vec<Candidate> {
    match effects.first() {
        Some(Effect::Engine(Command::Rank { candidates, .. })) => candidates.clone(),
        other => panic!("expected a ranking, got {other:?}"),
    }
}

fn ranked() -> (State, Script) {
    let (mut state, mut script) = swept();
    key(&mut state, KeyCode::Char('3'));
    let candidates = rank_effect(&key(&mut state, KeyCode::Enter));
    let updates = script.rank("*", &candidates, 100_000, 4, true);
    feed(&mut state, updates);
    (state, script)
}

fn drilled() -> (State, Script) {
    let (mut state, mut script) = ranked();
    // Step 3, Enter on the first-ranked row opens it in step 4.
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.step, Step::DrillDown);
    assert_eq!(state.drill.cursor, "__main__");
    let candidates = rank_effect(&key(&mut state, KeyCode::Char('r')));
    let labels: Vec<&str> = candidates.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "__main__:prepare_inputs",
            "__main__:schedule",
            "__main__:launch"
        ]
    );
    let updates = script.rank("__main__", &candidates, 100_000, 4, true);
    feed(&mut state, updates);
    key(&mut state, KeyCode::Down);
    (state, script)
}

#[test]
fn live_view() {
    let (state, _) = started();
    snap("live_80x24", &state, 80, 24);
    snap("live_120x36", &state, 120, 36);
}

#[test]
fn live_view_before_the_workload_starts() {
    let state = State::new(options(), Theme::monochrome());
    snap("live_starting", &state, 80, 24);
}

#[test]
fn crashed_workload_keeps_results_and_shows_its_end() {
    let (mut state, _) = swept();
    feed(
        &mut state,
        vec![
            Update::Output {
                line: "Traceback (most recent call last):".into(),
                stderr: true,
            },
            Update::Output {
                line: "ZeroDivisionError: division by zero".into(),
                stderr: true,
            },
            Update::WorkloadExited {
                status: Some(1),
                signal: None,
                last_lines: vec![
                    "Traceback (most recent call last):".into(),
                    "ZeroDivisionError: division by zero".into(),
                ],
            },
        ],
    );
    key(&mut state, KeyCode::Char('0'));
    let text = screen(&state, 80, 24);
    assert!(text.contains("workload exited with status 1"), "{text}");
    assert!(text.contains("ZeroDivisionError"), "{text}");
    snap("live_crashed", &state, 80, 24);
    key(&mut state, KeyCode::Char('1'));
    assert!(
        screen(&state, 80, 24).contains("Verdict:"),
        "the sweep is kept"
    );
}

#[test]
fn impact_step() {
    let (mut state, mut script) = started();
    key(&mut state, KeyCode::Right);
    assert_eq!(state.step, Step::Impact);
    snap("impact_idle", &state, 80, 24);
    let effects = key(&mut state, KeyCode::Enter);
    assert_eq!(effects.len(), 1);
    let updates = script.sweep(&[1_000, 10_000, 100_000], 2, false);
    feed(&mut state, updates);
    snap("impact_measuring", &state, 80, 24);
}

#[test]
fn impact_verdict_and_gain() {
    let (mut state, _) = swept();
    snap("impact_done", &state, 80, 24);
    key(&mut state, KeyCode::Char('l'));
    assert_eq!(state.step, Step::Gain);
    snap("gain_80x24", &state, 80, 24);
    snap("gain_120x36", &state, 120, 36);
}

#[test]
fn gain_before_a_sweep() {
    let (mut state, _) = started();
    key(&mut state, KeyCode::Char('2'));
    snap("gain_empty", &state, 80, 24);
}

#[test]
fn subsystems_fill_in_as_evidence_arrives() {
    let (mut state, mut script) = swept();
    key(&mut state, KeyCode::Char('3'));
    snap("subsystems_census", &state, 80, 24);
    let candidates = rank_effect(&key(&mut state, KeyCode::Enter));
    let updates = script.rank("*", &candidates, 100_000, 1, false);
    feed(&mut state, updates);
    snap("subsystems_measuring", &state, 80, 24);
    let updates = script.rank("*", &candidates, 100_000, 4, true);
    feed(&mut state, updates);
    snap("subsystems_ranked", &state, 80, 24);
}

#[test]
fn drill_down_to_one_function() {
    let (state, _) = drilled();
    assert_eq!(state.drill.cursor, "__main__:prepare_inputs");
    snap("drill_80x24", &state, 80, 24);
    snap("drill_120x36", &state, 120, 36);
}

#[test]
fn drill_edit_pattern_and_settings() {
    let (mut state, _) = drilled();
    key(&mut state, KeyCode::Char('e'));
    snap("drill_editing", &state, 80, 24);
    key(&mut state, KeyCode::Char(':'));
    let effects = key(&mut state, KeyCode::Enter);
    assert!(effects.is_empty());
    let error = state.editor.as_ref().and_then(|e| e.error.clone());
    assert!(
        error.is_some(),
        "a bad pattern is refused and the editor stays"
    );
    // Ctrl-U clears; type a good one.
    state.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    )));
    keys(&mut state, "__main__:prep*");
    key(&mut state, KeyCode::Enter);
    assert!(state.editor.is_none());
    key(&mut state, KeyCode::Char('D'));
    state.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    )));
    keys(&mut state, "50us");
    key(&mut state, KeyCode::Enter);
    key(&mut state, KeyCode::Char('f'));
    key(&mut state, KeyCode::Backspace);
    keys(&mut state, "10");
    key(&mut state, KeyCode::Enter);
    assert_eq!(
        (state.options.rank_delay_ns, state.options.frequency),
        (50_000, 10)
    );
    let effects = key(&mut state, KeyCode::Char('a'));
    match &effects[..] {
        [Effect::Engine(Command::Apply(settings))] => {
            assert_eq!(settings.patterns, ["__main__:prep*"]);
            assert_eq!((settings.delay_ns, settings.frequency), (50_000, 10));
        }
        other => panic!("a applies the edited pattern: {other:?}"),
    }
    let effects = key(&mut state, KeyCode::Char('s'));
    match &effects[..] {
        [
            Effect::Engine(Command::Sweep {
                patterns,
                frequency,
                ..
            }),
        ] => {
            assert_eq!(patterns, &["__main__:prep*"]);
            assert_eq!(*frequency, 10);
        }
        other => panic!("s sweeps the node: {other:?}"),
    }
    assert_eq!(state.step, Step::Impact);
    snap("impact_sweeping_edited_pattern", &state, 80, 24);
}

#[test]
fn report_step() {
    let (mut state, _) = drilled();
    key(&mut state, KeyCode::Char('5'));
    let text = screen(&state, 80, 24);
    let first = text.find("__main__:prepare_inputs").expect("named");
    assert!(
        text.find("__main__ ").is_none_or(|main| first < main),
        "{text}"
    );
    snap("report_80x24", &state, 80, 24);
}

#[test]
fn help_lists_every_key_at_80x24() {
    let (mut state, _) = started();
    key(&mut state, KeyCode::Char('?'));
    let text = screen(&state, 80, 24);
    for binding in speedbump::tui::keys::BINDINGS {
        assert!(
            text.contains(binding.help),
            "help misses '{}'\n{text}",
            binding.help
        );
    }
    snap("help_80x24", &state, 80, 24);
    key(&mut state, KeyCode::Char('j'));
    assert!(!state.help, "any key closes the help");
}

#[test]
fn filter_narrows_the_lists() {
    let (mut state, _) = drilled();
    key(&mut state, KeyCode::Char('/'));
    keys(&mut state, "sched");
    let text = screen(&state, 80, 24);
    assert!(
        text.contains("schedule") && !text.contains("launch"),
        "{text}"
    );
    snap("drill_filtered", &state, 80, 24);
    key(&mut state, KeyCode::Esc);
    assert!(state.filter.is_empty());
}

#[test]
fn a_too_small_terminal_gets_a_message() {
    let (state, _) = started();
    snap("too_small", &state, 50, 12);
}

#[test]
fn no_panic_on_any_key_in_any_step_at_any_size() {
    let (mut state, _) = drilled();
    let codes = [
        KeyCode::Left,
        KeyCode::Right,
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::Enter,
        KeyCode::Esc,
        KeyCode::Tab,
        KeyCode::BackTab,
        KeyCode::PageUp,
        KeyCode::PageDown,
        KeyCode::Home,
        KeyCode::End,
        KeyCode::Backspace,
        KeyCode::Delete,
        KeyCode::F(5),
    ];
    for step in 0..6 {
        key(&mut state, KeyCode::Char(char::from(b'0' + step)));
        for code in codes {
            key(&mut state, code);
            for (w, h) in [(80, 24), (60, 16), (200, 60), (20, 5)] {
                screen(&state, w, h);
            }
        }
        for c in "hjklgG[]/x?".chars() {
            key(&mut state, KeyCode::Char(c));
            key(&mut state, KeyCode::Esc);
            screen(&state, 80, 24);
        }
    }
}

#[test]
fn colours_come_from_the_theme_and_no_color_removes_them() {
    let (mut state, _) = started();
    state.theme = Theme::resolve(Some("dark"), false).unwrap();
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|f| f.render_widget(&state, f.area()))
        .unwrap();
    let buffer = terminal.backend().buffer();
    // The active tab ("0 Live") is drawn with the theme's tab colours.
    let active = buffer.cell((13, 0)).unwrap();
    assert_eq!(active.bg, state.theme.palette.tab_active_bg);
    state.theme = Theme::resolve(Some("dark"), true).unwrap();
    terminal
        .draw(|f| f.render_widget(&state, f.area()))
        .unwrap();
    let active = terminal.backend().buffer().cell((13, 0)).unwrap().clone();
    assert_eq!(active.bg, ratatui::style::Color::Reset);
    assert!(active.modifier.contains(ratatui::style::Modifier::REVERSED));
}
