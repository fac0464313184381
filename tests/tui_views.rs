//! Every view of `speedbump tui` rendered against ratatui's TestBackend at
//! fixed sizes (80×24, the smallest supported, and larger), fed scripted key
//! presses and the updates the experiment engine sends for the commands the
//! TUI gives (`tui::fake::Script`: the real runner over the simulated
//! workload on the virtual clock, so the frames are deterministic).
//! Snapshots live in tests/snapshots/ (`cargo insta review` to update).

#![cfg(feature = "tui")]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use speedbump::analysis::Candidate;
use speedbump::experiment::{Command, Update};
use speedbump::tui::fake::{Script, first};
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
        // Equal delay per call: with an equal dose, `_util` (critical, rarely
        // called) ties with `__main__` until own time per unit orders them.
        rank_dose: None,
        ..Options::default()
    }
}

/// The command of the only effect, sent to the engine: its updates.
fn run(script: &mut Script, effects: Vec<Effect>) -> Vec<Update> {
    match <[Effect; 1]>::try_from(effects) {
        Ok([Effect::Engine(command)]) => script.run(command),
        Ok(other) => panic!("expected an engine command, got {other:?}"),
        Err(effects) => panic!("expected one engine command, got {effects:?}"),
    }
}

/// The workload started, ran 12 s, printed lines; the census is done.
fn started() -> (State, Script) {
    started_on(Script::new(11))
}

fn started_on(mut script: Script) -> (State, Script) {
    let mut state = State::new(options(), Theme::monochrome());
    let effects = state.update(Msg::Engine(script.started()));
    assert!(matches!(
        effects[..],
        [Effect::Engine(Command::Census { .. })]
    ));
    feed(&mut state, script.live(0.0, 12.0));
    let census = run(&mut script, effects);
    feed(&mut state, census);
    (state, script)
}

/// The progress update the engine sends after each pair.
fn is_pair(u: &Update) -> bool {
    matches!(u, Update::Progress { .. })
}

fn sweep_updates(state: &mut State, script: &mut Script) -> Vec<Update> {
    key(state, KeyCode::Char('1'));
    let effects = key(state, KeyCode::Enter);
    let Some(Effect::Engine(Command::Sweep { delays_ns, .. })) = effects.first() else {
        panic!("Enter in step 1 runs a sweep: {effects:?}");
    };
    assert_eq!(delays_ns, &[1_000, 10_000, 100_000]);
    run(script, effects)
}

fn swept() -> (State, Script) {
    swept_on(Script::new(11))
}

fn swept_on(script: Script) -> (State, Script) {
    let (mut state, mut script) = started_on(script);
    let updates = sweep_updates(&mut state, &mut script);
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
    let effects = key(&mut state, KeyCode::Enter);
    let updates = run(&mut script, effects);
    feed(&mut state, updates);
    (state, script)
}

fn drilled() -> (State, Script) {
    let (mut state, mut script) = ranked();
    // Step 3, Enter on the first-ranked row opens it in step 4.
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.step, Step::DrillDown);
    assert_eq!(state.drill.cursor, "__main__");
    let effects = key(&mut state, KeyCode::Char('r'));
    let candidates = rank_effect(&effects);
    let labels: Vec<&str> = candidates.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "__main__:prepare_inputs",
            "__main__:schedule",
            "__main__:launch"
        ]
    );
    let updates = run(&mut script, effects);
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
    // The sweep ends about 28 s into the run; the crash at 40 s cuts the
    // ranking that follows.
    let (mut state, mut script) = swept_on(Script::crashing(11, 40.0));
    key(&mut state, KeyCode::Char('3'));
    let effects = key(&mut state, KeyCode::Enter);
    let updates = run(&mut script, effects);
    assert!(
        updates.iter().any(|u| matches!(
            u,
            Update::WorkloadExited {
                status: Some(1),
                ..
            }
        )),
        "{updates:?}"
    );
    feed(&mut state, updates);
    key(&mut state, KeyCode::Char('0'));
    let text = screen(&state, 80, 24);
    assert!(text.contains("workload exited with status 1"), "{text}");
    assert!(text.contains("BrokenPipeError"), "{text}");
    snap("live_crashed", &state, 80, 24);
    key(&mut state, KeyCode::Char('1'));
    assert!(
        screen(&state, 80, 24).contains("Verdict:"),
        "the sweep is kept"
    );
    key(&mut state, KeyCode::Char('3'));
    let ranking = state.ranking("*").and_then(|r| r.result.clone());
    assert!(
        ranking.is_some_and(|r| r.partial),
        "the partial ranking is kept"
    );
}

#[test]
fn impact_step() {
    let (mut state, mut script) = started();
    key(&mut state, KeyCode::Right);
    assert_eq!(state.step, Step::Impact);
    snap("impact_idle", &state, 80, 24);
    let updates = sweep_updates(&mut state, &mut script);
    // Two rounds of the three delays' pairs.
    feed(&mut state, first(&updates, 6, is_pair));
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
    let effects = key(&mut state, KeyCode::Enter);
    let candidates = rank_effect(&effects);
    let updates = run(&mut script, effects);
    // One pair per candidate so far.
    let head = first(&updates, candidates.len(), is_pair);
    let rest = updates[head.len()..].to_vec();
    feed(&mut state, head);
    snap("subsystems_measuring", &state, 80, 24);
    feed(&mut state, rest);
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

#[test]
fn step_0_and_the_status_say_plainly_when_anything_is_slowed() {
    let (mut state, _) = started();
    let text = screen(&state, 100, 30);
    assert!(!text.contains("SLOW"), "nothing is slowed:\n{text}");
    // A process still slowing calls while no experiment runs.
    let mut snapshot = state.live.last.clone().unwrap();
    let rates = snapshot.patterns[0].rates.as_mut().unwrap();
    rates.delayed_calls_per_s = 514_000.0;
    feed(&mut state, vec![Update::Live(snapshot)]);
    assert!(state.running.is_none());
    for (w, h) in [(80, 24), (100, 30)] {
        let text = screen(&state, w, h);
        let status = text.lines().rev().nth(1).unwrap();
        assert!(status.contains("idle · SLOWING 514k calls/s"), "{status}");
        assert!(text.contains("SLOWED 514k calls/s"), "{text}");
    }
}

#[test]
fn findings_cover_every_ranking_and_never_headline_a_cost_that_may_be_zero() {
    use speedbump::analysis::Interval;
    use speedbump::tui::views::report::findings;
    let (mut state, _) = drilled();
    assert_eq!(state.results.rankings.len(), 2);
    let text = findings(&state);
    // One sentence per ranking, the drill-down's and the top level's.
    assert!(text[0].starts_with("Under __main__, slowing "), "{text:?}");
    assert!(
        text[1].starts_with("At the top level, slowing "),
        "{text:?}"
    );
    // The drill-down's best now spans 0 and the next is implausible.
    let ranking = &mut state.results.rankings[0];
    ranking.ranked[0].drop = 0.099;
    ranking.ranked[0].drop_interval = Some(Interval::new(-0.101, 0.263));
    ranking.ranked[1].criticality = Some(22.72);
    let text = findings(&state);
    assert!(
        text[0].starts_with("Under __main__, slowing __main__:launch costs the most"),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|f| f.contains("criticality of 22.72, which cannot be true")),
        "{text:?}"
    );
    for c in &mut state.results.rankings[0].ranked {
        c.drop_interval = Some(Interval::new(-0.1, 0.2));
    }
    let text = findings(&state);
    assert!(
        text[0].starts_with("Under __main__, no candidate measurably costs throughput"),
        "{text:?}"
    );
}

#[test]
fn step_0_without_throughput_suggests_a_progress_source_from_the_output_and_the_census() {
    let (mut state, _) = started();
    // The workload reports no throughput (no progress source given), but
    // its output prints `N steps done, 1514 steps/s` and it calls
    // `__main__:launch` once per step.
    let mut snapshot = state.live.last.clone().unwrap();
    snapshot.throughput.clear();
    feed(&mut state, vec![Update::Live(snapshot)]);
    state.live.history.clear();
    for (w, h) in [(100, 30), (80, 24)] {
        let text = screen(&state, w, h);
        // Pane rows, borders cut off, joined: a wrapped line reads whole.
        let joined: String = text
            .lines()
            .map(|l| {
                l.trim_matches(|c: char| matches!(c, '"' | '┃' | '│'))
                    .trim_end()
            })
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            joined.contains("steps 1-4 need a progress source:"),
            "{text}"
        );
        assert!(
            joined.contains("p takes the suggested progress point now, without a restart"),
            "{text}"
        );
        assert!(
            joined.contains("--progress-regex '([0-9.]+) steps/s'"),
            "{text}"
        );
        assert!(joined.contains("--progress __main__:launch"), "{text}");
    }
}

#[test]
fn a_census_with_calls_in_other_says_so_in_the_status_bar() {
    let (mut state, _) = started();
    let mut census = state.census.clone().unwrap();
    // A quarter of all calls went to functions a full table could not name.
    census.tree.other_calls = census.tree.root.calls / 3;
    feed(&mut state, vec![Update::CensusDone(Box::new(census))]);
    let text = screen(&state, 80, 24);
    let status = text.lines().last().unwrap();
    assert!(
        status.contains("census: 8 functions in 4 subsystems; 25% of calls unnamed (<other>)"),
        "{text}"
    );
}

/// Where a figure was cut on `text` (rows of a screen): a digit, `.`,
/// `[`, `,`, `+` or `-` against a pane's right border or the screen's
/// edge (a chart's axis label, alone between its pane's border and the
/// axis, is not one), a number ending in `.`, or intervals that open and
/// never close anywhere on the screen (a wrapped one closes on the next
/// row). `(row, row text)` of each.
fn cut_figures(text: &str) -> Vec<(usize, String)> {
    let border = |c: char| matches!(c, '│' | '┃');
    // `%` ends a figure: one that touches the border is whole.
    let figure = |c: char| c.is_ascii_digit() || matches!(c, '.' | '[' | ',' | '+' | '-');
    let mut cuts = Vec::new();
    let (mut open, mut close) = (0, 0);
    for (row, line) in text.lines().enumerate() {
        let chars: Vec<char> = line.trim_matches('"').chars().collect();
        let mut segment_start = 0;
        for (col, pair) in chars.windows(2).enumerate() {
            if border(pair[0]) {
                segment_start = col + 1;
            }
            if figure(pair[0]) && border(pair[1]) {
                let segment: String = chars[segment_start..=col].iter().collect();
                if segment.trim().parse::<f64>().is_err() {
                    cuts.push((row, line.to_owned()));
                }
            }
        }
        if chars
            .last()
            .is_some_and(|&c| c.is_ascii_digit() || c == '.')
        {
            cuts.push((row, line.to_owned()));
        }
        open += chars.iter().filter(|&&c| c == '[').count();
        close += chars.iter().filter(|&&c| c == ']').count();
        let text: String = chars.iter().collect();
        for word in text.split(|c: char| c.is_whitespace() || border(c)) {
            if word.len() > 1
                && word.ends_with('.')
                && word[..word.len() - 1].ends_with(|c: char| c.is_ascii_digit())
            {
                cuts.push((row, line.to_owned()));
            }
        }
    }
    if open != close {
        cuts.push((usize::MAX, format!("{open} [ but {close} ]")));
    }
    cuts
}

#[test]
fn at_80x24_no_view_cuts_a_number() {
    // The detector finds the cuts the first-hour report saw.
    assert!(!cut_figures("│drop [0.001,527.27│").is_empty());
    assert!(!cut_figures("│gain +33267. │").is_empty());
    assert!(cut_figures("│1.05│   ⢀   │ [0.32,\n│0.35] ok   │").is_empty());
    let (mut state, _) = drilled();
    // Figures as wide as a noisy real session gives (`[-99.8, +33267.1]%`).
    let wide = speedbump::analysis::Interval::new(-0.998, 332.671);
    for ranking in &mut state.results.rankings {
        for c in &mut ranking.ranked {
            c.drop_interval = Some(wide);
            c.criticality_interval = Some(speedbump::analysis::Interval::new(-123.45, 527.27));
        }
    }
    for entry in &mut state.rankings {
        for c in entry.result.iter_mut().flat_map(|r| r.ranked.iter_mut()) {
            c.drop_interval = Some(wide);
        }
    }
    for p in state.sweep.points.iter_mut().flatten() {
        p.relative.interval = Some(speedbump::analysis::Interval::new(0.001, 527.27));
    }
    let mut cut = Vec::new();
    for step in ['0', '1', '2', '3', '4', '5'] {
        key(&mut state, KeyCode::Char(step));
        let text = screen(&state, 80, 24);
        for c in cut_figures(&text) {
            cut.push((step, c, text.clone()));
        }
    }
    // The export's message names the directory and every file, whole.
    state.options.export_dir = "/home/someone/projects/ingest-service/speedbump-2026-12-03".into();
    let names = [
        "report.md",
        "results.json",
        "rankings.csv",
        "sweep.svg",
        "rank.svg",
    ];
    let files = names
        .iter()
        .map(|n| state.options.export_dir.join(n))
        .collect();
    state.update(Msg::Exported(Ok(files)));
    let text = screen(&state, 80, 24);
    let joined = text
        .lines()
        .map(|l| l.trim_matches('"').trim_end())
        .collect::<Vec<_>>()
        .join(" ");
    for name in names {
        assert!(joined.contains(name), "{name} is not on screen:\n{text}");
    }
    assert!(
        joined.contains("/home/someone/projects/ingest-service/speedbump-2026-12-03/"),
        "{text}"
    );
    for c in cut_figures(&text) {
        cut.push(('x', c, text.clone()));
    }
    assert!(
        cut.is_empty(),
        "{:?}\n{}",
        cut.iter().map(|c| (c.0, &c.1)).collect::<Vec<_>>(),
        cut.first().map_or("", |c| c.2.as_str())
    );
}

/// Every cell every view draws, in every built-in theme, is readable: its
/// colours have a fixed RGB (nothing left to the terminal's palette) and
/// reach WCAG contrast, 4.5:1 for text and 3:1 for borders, bars and chart
/// points (box drawing, block elements, braille).
#[test]
fn every_theme_draws_every_view_readably() {
    use speedbump::tui::theme::{GRAPHIC_CONTRAST, TEXT_CONTRAST, contrast};
    fn graphic(symbol: &str) -> bool {
        symbol.chars().all(|c| {
            matches!(c, '\u{2500}'..='\u{259F}' | '\u{2800}'..='\u{28FF}' | '·' | '•' | '»' | '«')
        })
    }
    for name in ["dark", "light", "high-contrast"] {
        let (mut state, _) = drilled();
        state.theme = Theme::resolve(Some(name), false).unwrap();
        let mut bad = Vec::new();
        for (what, keys_pressed) in [
            ("0", "0"),
            ("1", "1"),
            ("2", "2"),
            ("3", "3"),
            ("4", "4"),
            ("5", "5"),
            ("help", "?"),
        ] {
            keys(&mut state, keys_pressed);
            for (w, h) in [(80, 24), (120, 36)] {
                let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
                terminal
                    .draw(|f| f.render_widget(&state, f.area()))
                    .unwrap();
                let buffer = terminal.backend().buffer();
                for y in 0..h {
                    for x in 0..w {
                        let cell = buffer.cell((x, y)).unwrap();
                        if cell.symbol().trim().is_empty() {
                            continue;
                        }
                        let need = if graphic(cell.symbol()) {
                            GRAPHIC_CONTRAST
                        } else {
                            TEXT_CONTRAST
                        };
                        let ratio = contrast(cell.fg, cell.bg);
                        if ratio.is_none_or(|r| r < need) {
                            bad.push(format!(
                                "{name} view {what} {w}×{h} at ({x},{y}) {:?}: {:?} on {:?} = {ratio:?}, needs {need}",
                                cell.symbol(),
                                cell.fg,
                                cell.bg
                            ));
                        }
                    }
                }
            }
            if keys_pressed == "?" {
                key(&mut state, KeyCode::Esc);
            }
        }
        assert!(
            bad.is_empty(),
            "{} cells:\n{}",
            bad.len(),
            bad[..bad.len().min(20)].join("\n")
        );
    }
}

/// The screen's rows joined with single spaces: text as read, whatever
/// wrapped where.
fn read(text: &str) -> String {
    text.lines()
        .map(|l| {
            l.trim_matches('"')
                .trim_matches(|c: char| "│┃ ".contains(c))
        })
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn at_80x24_step_2_s_caveat_is_read_whole_with_what_the_marks_mean() {
    let (mut state, _) = swept();
    key(&mut state, KeyCode::Char('2'));
    let caveat = read(speedbump::analysis::extrapolate::FIRST_ORDER_CAVEAT);
    let result = state.sweep.result.clone().unwrap();
    // The fake's 100 µs per call is more than its matched code takes (own
    // time ≈ 45 µs per call): capped, marked ≤, and said why.
    let capped = result.predictions.iter().find(|p| p.capped).unwrap();
    let cap = speedbump::report::text::cap_clause(capped).unwrap();
    for (w, h) in [(80, 24), (120, 36)] {
        let text = screen(&state, w, h);
        let seen = read(&text);
        assert!(seen.contains(&format!("Caveat: {caveat}")), "{text}");
        assert!(seen.contains(&format!("≤ {cap}.")), "{text}");
        assert!(seen.contains("≤+"), "{text}");
        assert!(seen.contains("own 45."), "{text}");
        for p in &result.predictions {
            let per_call = speedbump::units::format_ns(p.faster_ns_per_call as u64);
            assert!(seen.contains(&format!("{per_call} faster")), "{text}");
        }
    }
    // Without own time (a hook that predates it) nothing is capped: the
    // 100 µs row is beyond first order (marked !), and the pane says both.
    let points: Vec<_> = result.points.iter().flatten().copied().collect();
    let uncapped = speedbump::experiment::SweepResult {
        own_time: None,
        own_time_note: Some("the hook reported none".to_owned()),
        predictions: speedbump::analysis::extrapolate::predictions(
            &result.shape,
            &points,
            None,
            result.predictions.iter().map(|p| p.faster_ns_per_call),
        ),
        ..result
    };
    assert!(uncapped.predictions.iter().any(|p| !p.within_first_order));
    let own = speedbump::report::text::own_time_sentence(&uncapped);
    assert!(own.contains("does not cap"), "{own}");
    state.sweep.result = Some(uncapped.clone());
    for (w, h) in [(80, 24), (120, 36)] {
        let text = screen(&state, w, h);
        let seen = read(&text);
        assert!(seen.contains(&format!("Caveat: {caveat}")), "{text}");
        assert!(
            seen.contains(
                "! this speed-up would remove over 50% of each unit's time, \
                 well beyond what a first-order estimate supports."
            ),
            "{text}"
        );
        assert!(
            seen.contains(&format!("Caveat: {caveat}. Own time: {own}.")),
            "{text}"
        );
        assert!(seen.contains("own time not measured"), "{text}");
        for p in &uncapped.predictions {
            let per_call = speedbump::units::format_ns(p.faster_ns_per_call as u64);
            assert!(seen.contains(&format!("{per_call} faster")), "{text}");
        }
    }
}

#[test]
fn step_0_says_what_its_counts_are_and_what_sets_the_patterns() {
    let (mut state, mut script) = swept();
    key(&mut state, KeyCode::Char('3'));
    let effects = key(&mut state, KeyCode::Enter);
    let updates = run(&mut script, effects);
    let done = updates
        .iter()
        .position(|u| matches!(u, Update::RankDone(_)))
        .unwrap();
    let mut updates = updates.into_iter();
    feed(&mut state, updates.by_ref().take(done).collect());
    feed(&mut state, script.live(12.0, 12.5));
    key(&mut state, KeyCode::Char('0'));
    let patterns_title = |state: &State| {
        screen(state, 80, 24)
            .lines()
            .find(|l| l.contains(" Patterns "))
            .unwrap()
            .to_owned()
    };
    // During the ranking the pane says who set its patterns.
    assert!(
        patterns_title(&state).contains("Patterns set by the ranking"),
        "{}",
        screen(&state, 80, 24)
    );
    // After it, the idle settings only count: said so, never a leftover
    // candidate shown as if it were still tried.
    feed(&mut state, updates.collect());
    feed(&mut state, script.live(12.6, 13.0));
    let text = screen(&state, 80, 24);
    assert!(
        patterns_title(&state).contains("Patterns counting only"),
        "{text}"
    );
    // What step 0's function count counts, against step 3's census.
    let functions_total = state.live.last.as_ref().unwrap().functions_total;
    assert!(
        text.contains(&format!("of {functions_total} since start")),
        "{text}"
    );
    key(&mut state, KeyCode::Char('3'));
    let census_functions = state.census.as_ref().unwrap().tree.root.functions;
    let text = screen(&state, 80, 24);
    assert!(
        text.contains(&format!(
            "census: {census_functions} functions at steady state"
        )),
        "{text}"
    );
    // Idle yet slowing (a process that kept old settings): said in the
    // pane's title too.
    let mut slowed = script.live(13.1, 13.1);
    for u in &mut slowed {
        if let Update::Live(s) = u {
            for p in &mut s.patterns {
                if let Some(r) = &mut p.rates {
                    r.delayed_calls_per_s = r.calls_per_s;
                }
            }
        }
    }
    feed(&mut state, slowed);
    key(&mut state, KeyCode::Char('0'));
    assert!(
        patterns_title(&state).contains("Patterns SLOWING"),
        "{}",
        screen(&state, 80, 24)
    );
}

/// A workload that reports no throughput (no `speedbump.progress()`), at
/// step 0: `p` takes the suggested progress point, Enter puts it in force
/// without a restart, and the throughput appears.
#[test]
fn step_0_takes_a_suggested_progress_point_and_the_throughput_appears() {
    let (mut state, mut script) = started_on(Script::without_progress_api(11));
    let text = screen(&state, 80, 24);
    assert!(text.contains("no throughput yet"), "{text}");
    assert!(
        text.contains("p takes the suggested progress point now"),
        "{text}"
    );
    assert!(text.contains("--progress __main__:launch"), "{text}");
    assert!(key(&mut state, KeyCode::Char('p')).is_empty());
    let editor = state.editor.as_ref().expect("p opens the progress point");
    assert_eq!(editor.text, "__main__:launch");
    let effects = key(&mut state, KeyCode::Enter);
    assert!(
        matches!(&effects[..], [Effect::Engine(Command::SetProgressPoints(p))] if p == &["__main__:launch"]),
        "{effects:?}"
    );
    assert_eq!(
        state.options.progress.as_deref(),
        Some("progress point __main__:launch")
    );
    let applied = run(&mut script, effects);
    assert!(
        applied.iter().any(|u| matches!(u, Update::Applied(_))),
        "{applied:?}"
    );
    feed(&mut state, applied);
    feed(&mut state, script.live(12.1, 14.0));
    let text = screen(&state, 80, 24);
    assert!(!text.contains("no throughput yet"), "{text}");
    let title = text.lines().find(|l| l.contains("Throughput")).unwrap();
    // The pipeline calls launch once per step: ~1.5k a second.
    assert!(title.contains("1.5") && title.contains("k"), "{title}");
    // A typed point that is not one is refused in the editor, with why.
    key(&mut state, KeyCode::Char('p'));
    let editor = state.editor.as_mut().unwrap();
    editor.text = "!__main__:launch".into();
    editor.cursor = editor.text.len();
    assert!(key(&mut state, KeyCode::Enter).is_empty());
    let error = state.editor.as_ref().and_then(|e| e.error.clone());
    assert!(
        error.is_some_and(|e| e.contains("cannot be an exclusion")),
        "{:?}",
        state.editor
    );
}
