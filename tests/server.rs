//! The session server over a real Unix socket, on the fake target (no
//! Python): two clients see the same updates, only one sends commands, a
//! late client's replay rebuilds the whole state, an idle detached session
//! stops after its linger time, `sessions`' listing and `stop`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use speedbump::experiment::fake::{FakeTarget, FakeWorkload, Pace};
use speedbump::experiment::{
    Command, EngineOptions, ExperimentConfig, Mode, Target, Update, spawn_on,
};
use speedbump::ipc::Session;
use speedbump::live::progress::RegexKind;
use speedbump::server::client::{query, stop};
use speedbump::server::registry::{list_in, session_id};
use speedbump::server::wire::{ClientMsg, ServerMsg, SessionInfo};
use speedbump::server::{Server, attach};
use speedbump::tui::msg::Msg;
use speedbump::tui::state::{Options, State};
use speedbump::tui::theme::Theme;

const WAIT: Duration = Duration::from_secs(60);

struct Running {
    dir: PathBuf,
    server: JoinHandle<anyhow::Result<State>>,
    _base: tempfile::TempDir,
    _export: tempfile::TempDir,
}

fn options(export: &Path) -> Options {
    Options {
        command: vec!["fake".into()],
        export_dir: export.to_path_buf(),
        census_window_s: 1.0,
        ..Options::default()
    }
}

/// A server on the fake target in a fresh session directory.
fn start(linger: Duration) -> Running {
    let base = common::private_dir("server");
    let export = common::private_dir("server-export");
    let session = Session::create(Some(base.path())).unwrap();
    let dir = session.path().to_path_buf();
    let config = ExperimentConfig {
        seed: 3,
        ..ExperimentConfig::new(vec!["fake".into()])
    };
    let engine = spawn_on(config, EngineOptions::default(), |_| {
        // Real time per window, so a sweep is still running when asked.
        let target = FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, 3)
            .paced(Pace::PerWindow(Duration::from_millis(5)));
        Ok(Box::new(target) as Box<dyn Target>)
    })
    .unwrap();
    let options = options(export.path());
    let info = SessionInfo {
        id: session_id(&dir).unwrap(),
        pid: std::process::id(),
        command: options.command.clone(),
        started_unix_s: 0.0,
        linger_s: linger.as_secs_f64(),
        options: serde_json::to_value(&options).unwrap(),
    };
    let state = State::new(options, Theme::resolve(None, true).unwrap());
    let server = Server::bind(&dir, info, linger, state, false).unwrap();
    let server = std::thread::spawn(move || server.run(engine));
    Running {
        dir,
        server,
        _base: base,
        _export: export,
    }
}

/// Updates until one matches `done` (all of them, that one last).
fn until(updates: &Receiver<Update>, done: impl Fn(&Update) -> bool) -> Vec<Update> {
    let mut seen = Vec::new();
    loop {
        let update = updates
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no awaited update; saw {} others", seen.len()));
        let stop = done(&update);
        seen.push(update);
        if stop {
            return seen;
        }
    }
}

fn is_census_done(u: &Update) -> bool {
    matches!(u, Update::CensusDone(_))
}

fn is_sweep_done(u: &Update) -> bool {
    matches!(u, Update::SweepDone(_))
}

fn census() -> Command {
    Command::Census {
        patterns: vec!["*:*".into()],
        window_s: 1.0,
    }
}

fn sweep() -> Command {
    Command::Sweep {
        patterns: vec!["*:*".into()],
        delays_ns: vec![1_000, 10_000],
        frequency: 1,
        budget_s: 20.0,
    }
}

#[test]
fn clients_share_updates_one_controls_and_a_late_one_gets_the_whole_state() {
    let running = start(Duration::from_secs(600));
    let a = attach(&running.dir).unwrap();
    let b = attach(&running.dir).unwrap();
    assert!(a.control && !b.control);
    assert_eq!(a.info.command, ["fake"]);
    // The replay starts with the workload's start.
    assert!(matches!(
        a.engine.updates.recv_timeout(WAIT).unwrap(),
        Update::Started { .. }
    ));

    a.engine.commands.send(census()).unwrap();
    let seen_by_b = until(&b.engine.updates, is_census_done);
    assert!(
        seen_by_b
            .iter()
            .any(|u| matches!(u, Update::Accepted(Command::Census { .. }))),
        "the watcher is told what the controller started"
    );
    until(&a.engine.updates, is_census_done);

    // The watcher may not send commands, and is told why.
    b.engine.commands.send(sweep()).unwrap();
    let refused = until(&b.engine.updates, |u| matches!(u, Update::Refused { .. }));
    let Some(Update::Refused { command, reason }) = refused.last() else {
        unreachable!()
    };
    assert_eq!(command, &sweep());
    assert!(reason.contains("another terminal has control"), "{reason}");

    a.engine.commands.send(sweep()).unwrap();
    let by_a = until(&a.engine.updates, is_sweep_done);
    let by_b = until(&b.engine.updates, is_sweep_done);
    let points = |updates: &[Update]| {
        updates
            .iter()
            .filter(|u| matches!(u, Update::SweepPoint { .. }))
            .count()
    };
    assert!(points(&by_a) > 0);
    assert_eq!(points(&by_a), points(&by_b), "both see the same evidence");

    // results.json accumulates in the session directory.
    let results = std::fs::read_to_string(running.dir.join("results.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&results).unwrap();
    assert_eq!(results["experiments"].as_array().unwrap().len(), 2);

    // A late client's replay rebuilds the state: census, drill tree root,
    // finished sweep, results; without the per-pair evidence.
    let c = attach(&running.dir).unwrap();
    let mut options: Options = serde_json::from_value(c.info.options.clone()).unwrap();
    options.auto_census = false;
    let mut state = State::new(options, Theme::resolve(None, true).unwrap());
    let replay = until(&c.engine.updates, is_sweep_done);
    assert_eq!(points(&replay), 0, "superseded evidence is not replayed");
    for update in replay {
        assert!(
            state.update(Msg::Engine(update)).is_empty(),
            "replaying sends no command"
        );
    }
    assert!(state.census.is_some());
    let sweep = state.sweep.result.as_ref().expect("the finished sweep");
    assert_eq!(sweep.points.len(), 2);
    assert_eq!(state.results.records.len(), 2);
    assert!(state.running.is_none());

    // The controller leaves: the next client gets control and may stop it.
    drop(a);
    let told = until(&b.engine.updates, |u| matches!(u, Update::Warning(_)));
    assert!(matches!(told.last(), Some(Update::Warning(w)) if w.contains("has control")));
    b.engine.commands.send(Command::Shutdown).unwrap();
    until(&b.engine.updates, |u| matches!(u, Update::Finished { .. }));
    let state = running.server.join().unwrap().unwrap();
    assert_eq!(state.results.records.len(), 2);
    // Quit from a terminal: exporting is that terminal's `x`.
    assert!(!running._export.path().join("results.json").exists());
}

#[test]
fn a_running_experiment_is_replayed_and_followed() {
    let running = start(Duration::from_secs(600));
    let a = attach(&running.dir).unwrap();
    a.engine.commands.send(census()).unwrap();
    until(&a.engine.updates, is_census_done);
    a.engine.commands.send(sweep()).unwrap();
    until(&a.engine.updates, |u| {
        matches!(u, Update::SweepPoint { .. })
    });
    // Attach mid-sweep: the replay says a sweep runs; the rest follows live.
    let b = attach(&running.dir).unwrap();
    let mut options: Options = serde_json::from_value(b.info.options.clone()).unwrap();
    options.auto_census = false;
    let mut state = State::new(options, Theme::resolve(None, true).unwrap());
    let mut saw_running = false;
    for update in until(&b.engine.updates, is_sweep_done) {
        state.update(Msg::Engine(update));
        saw_running |= state.running.is_some();
    }
    assert!(saw_running, "the attached client showed the running sweep");
    assert!(state.sweep.result.is_some() && state.running.is_none());
    stop(&running.dir, WAIT).unwrap();
    running.server.join().unwrap().unwrap();
}

/// An output regex chosen by the controlling terminal (`R` at step 0): the
/// watcher and a late client are told, and their state says it is the
/// progress source; so does the server's own (results.json).
#[test]
fn a_progress_regex_chosen_by_the_controller_reaches_every_client() {
    let running = start(Duration::from_secs(600));
    let a = attach(&running.dir).unwrap();
    let b = attach(&running.dir).unwrap();
    let set = Command::SetProgressRegex {
        regex: "([0-9.]+) steps/s".into(),
        kind: RegexKind::Rate,
    };
    let accepted = |u: &Update| matches!(u, Update::Accepted(c) if *c == set);
    a.engine.commands.send(set.clone()).unwrap();
    let words = Some("output regex ([0-9.]+) steps/s");
    let state_of = |info: &SessionInfo, updates: Vec<Update>| {
        let mut options: Options = serde_json::from_value(info.options.clone()).unwrap();
        options.auto_census = false;
        let mut state = State::new(options, Theme::resolve(None, true).unwrap());
        for update in updates {
            state.update(Msg::Engine(update));
        }
        state
    };
    let watcher = state_of(&b.info, until(&b.engine.updates, accepted));
    assert_eq!(watcher.options.progress.as_deref(), words);
    let c = attach(&running.dir).unwrap();
    let late = state_of(&c.info, until(&c.engine.updates, accepted));
    assert_eq!(late.options.progress.as_deref(), words);
    stop(&running.dir, WAIT).unwrap();
    let state = running.server.join().unwrap().unwrap();
    assert_eq!(state.options.progress.as_deref(), words);
}

#[test]
fn an_idle_detached_session_stops_after_its_linger_time_only() {
    let linger = Duration::from_millis(400);
    let running = start(linger);
    let a = attach(&running.dir).unwrap();
    a.engine.commands.send(census()).unwrap();
    until(&a.engine.updates, is_census_done);
    std::thread::sleep(linger * 3);
    assert!(
        !running.server.is_finished(),
        "a session with a client stays"
    );
    let started = Instant::now();
    drop(a);
    let state = running.server.join().unwrap().unwrap();
    assert!(state.workload.finished.is_some(), "the engine was stopped");
    assert!(started.elapsed() >= linger);
    assert!(started.elapsed() < WAIT);
    // Nobody saw the end: the results were written where `x` writes them.
    let results = std::fs::read_to_string(running._export.path().join("results.json")).unwrap();
    assert!(results.contains("\"census\""), "{results}");
}

#[test]
fn sessions_are_listed_queried_and_stopped() {
    let running = start(Duration::from_secs(600));
    let base = running.dir.parent().unwrap();
    let listed = list_in(base).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].dir, running.dir);
    let a = attach(&running.dir).unwrap();
    let status = query(&running.dir, &ClientMsg::Status, WAIT).unwrap();
    let Some(ServerMsg::Status { status }) = status else {
        panic!("no status: {status:?}")
    };
    assert_eq!(status.clients, 1, "a query is not a client");
    assert_eq!(status.state, "idle");
    stop(&running.dir, WAIT).unwrap();
    let updates = until(&a.engine.updates, |u| matches!(u, Update::Finished { .. }));
    assert!(!updates.is_empty());
    running.server.join().unwrap().unwrap();
}

#[test]
fn a_refused_front_end_shows_what_really_runs() {
    use speedbump::experiment::ExperimentKind;
    use speedbump::tui::msg::Effect;
    use speedbump::tui::state::experiments::Running;
    let export = common::private_dir("server-refused");
    let mut state = State::new(options(export.path()), Theme::resolve(None, true).unwrap());
    let refused = |command| {
        Msg::Engine(Update::Refused {
            command,
            reason: "another terminal has control".into(),
        })
    };
    state.running = Some(Running::new(ExperimentKind::Sweep, 20.0));
    state.update(refused(sweep()));
    assert!(state.running.is_none(), "the refused sweep did not start");
    assert!(state.notice.as_ref().unwrap().text.contains("has control"));
    // q on a watcher: leaves, the session runs on.
    assert_eq!(
        state.quit(),
        [Effect::Engine(Command::Shutdown)],
        "it asks first"
    );
    assert_eq!(state.update(refused(Command::Shutdown)), [Effect::Quit]);
    assert!(state.detached);
}

#[test]
fn bad_clients_are_refused_and_the_server_serves_on() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::os::unix::net::UnixStream;
    let running = start(Duration::from_secs(600));
    let socket = running.dir.join("server.sock");
    // Another protocol version: refused with words, then closed.
    let mut old = UnixStream::connect(&socket).unwrap();
    old.set_read_timeout(Some(WAIT)).unwrap();
    old.write_all(b"{\"type\":\"hello\",\"version\":999,\"role\":\"attach\"}\n")
        .unwrap();
    let mut answer = String::new();
    BufReader::new(&old).read_line(&mut answer).unwrap();
    assert!(
        answer.contains("refused") && answer.contains("protocol 1"),
        "{answer}"
    );
    // A line without end: disconnected after the limit, nothing else.
    let mut flood = UnixStream::connect(&socket).unwrap();
    flood.set_read_timeout(Some(WAIT)).unwrap();
    let chunk = vec![b'x'; 64 << 10];
    for _ in 0..((2 << 20) / chunk.len()) {
        if flood.write_all(&chunk).is_err() {
            break;
        }
    }
    let mut rest = Vec::new();
    let _ = flood.read_to_end(&mut rest);
    assert!(rest.is_empty());
    // The session still answers.
    let a = attach(&running.dir).unwrap();
    assert!(a.control);
    stop(&running.dir, WAIT).unwrap();
    running.server.join().unwrap().unwrap();
}
