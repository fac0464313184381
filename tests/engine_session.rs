//! A live session driven headless, with shell workloads standing in for
//! Python (the hook is tested from Python in tests/python/test_run*.py):
//! lifecycle, output, regex progress, settings, stopping, clean-up.

mod common;
use common::private_dir;

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use speedbump::experiment::{
    Cancel, EngineOptions, ExperimentConfig, Mode, Target, UpdateSink, make_target,
};
use speedbump::ipc::procfs::{current_uid, process_start_ticks};
use speedbump::ipc::{
    Capacities, ControlReader, FunctionKind, ProcessInfo, SegmentWriter, control_path, segment_path,
};
use speedbump::live::output::{OutputSink, Stream};
use speedbump::live::progress::{RegexKind, RegexProgress};
use speedbump::live::snapshot::SourceKind;
use speedbump::live::watchdog::Watchdog;
use speedbump::live::{
    Event, EventSink, HookSource, LiveSession, LiveSettings, SessionConfig, StopReason,
};

const SPEEDBUMP: &str = env!("CARGO_BIN_EXE_speedbump");

#[derive(Default)]
struct Collected {
    events: Mutex<Vec<Event>>,
    stdout: Mutex<Vec<u8>>,
    stderr: Mutex<Vec<u8>>,
}

impl OutputSink for Collected {
    fn lines(&self, stream: Stream, lines: &[&[u8]]) {
        let target = match stream {
            Stream::Stdout => &self.stdout,
            Stream::Stderr => &self.stderr,
        };
        let mut out = target.lock().unwrap();
        for line in lines {
            out.extend_from_slice(line);
        }
    }
}

fn config(base: &Path, script: &str, collected: &Arc<Collected>) -> SessionConfig {
    let command: Vec<OsString> = vec!["sh".into(), "-c".into(), script.into()];
    let settings = LiveSettings {
        patterns: vec!["app.*:*".into()],
        ..LiveSettings::default()
    };
    let mut config = SessionConfig::new(command, settings);
    config.base_dir = Some(base.to_path_buf());
    config.hook = HookSource::Off;
    config.env_fallback = false;
    config.watchdog_exe = Some(PathBuf::from(SPEEDBUMP));
    config.output = Some(Arc::clone(collected) as Arc<dyn OutputSink>);
    config.sample_interval = Duration::from_millis(20);
    config.stop_grace = Duration::from_millis(500);
    config
}

fn sink(collected: &Arc<Collected>) -> EventSink {
    let collected = Arc::clone(collected);
    Arc::new(move |e| collected.events.lock().unwrap().push(e))
}

fn sessions_left(base: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(base)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn a_run_shows_output_reports_status_and_leaves_nothing() {
    let base = private_dir("session-run");
    let collected = Arc::new(Collected::default());
    let script = "echo out; echo err >&2; printf 'no newline'; \
                  test -n \"$SPEED_BUMP_SESSION\" && echo session ok; \
                  case \"$SPEED_BUMP_START_AT\" in $$:*) echo start ok;; esac; exit 3";
    let session =
        LiveSession::start(config(base.path(), script, &collected), sink(&collected)).unwrap();
    let dir = session.dir().to_path_buf();
    assert!(dir.starts_with(base.path()));
    let summary = session.finish().unwrap();
    assert_eq!(summary.exit.code, Some(3));
    assert_eq!(summary.exit.status, 3);
    assert!(!summary.exit.interrupted);
    assert_eq!(
        String::from_utf8_lossy(&collected.stdout.lock().unwrap()),
        "out\nno newlinesession ok\nstart ok\n"
    );
    assert_eq!(&*collected.stderr.lock().unwrap(), b"err\n");
    assert!(!dir.exists(), "session directory removed");
    assert!(sessions_left(base.path()).is_empty());
    assert_eq!(summary.throughput.len(), 1);
    assert_eq!(summary.throughput[0].source, SourceKind::Runs);
    let events = collected.events.lock().unwrap();
    assert!(events.iter().any(|e| matches!(e, Event::Exited(_))));
}

#[test]
fn inherited_speed_bump_variables_are_removed() {
    let base = private_dir("session-env");
    let collected = Arc::new(Collected::default());
    let mut cfg = config(
        base.path(),
        "env | grep '^SPEED_BUMP_' | cut -d= -f1 | sort",
        &collected,
    );
    cfg.extra_env = vec![];
    // SAFETY: the test sets a variable before starting threads of its own;
    // other tests do not read it.
    unsafe { std::env::set_var("SPEED_BUMP_DELAY_NS", "5") };
    let session = LiveSession::start(cfg, sink(&collected)).unwrap();
    session.finish().unwrap();
    // SAFETY: as above; no other test reads or writes this variable.
    unsafe { std::env::remove_var("SPEED_BUMP_DELAY_NS") };
    assert_eq!(
        String::from_utf8_lossy(&collected.stdout.lock().unwrap()),
        "SPEED_BUMP_SESSION\nSPEED_BUMP_START_AT\n"
    );
}

#[test]
fn throughput_from_output_lines() {
    let base = private_dir("session-regex");
    let collected = Arc::new(Collected::default());
    let mut cfg = config(
        base.path(),
        "for v in 10 20 30; do echo \"Throughput: $v.0 tok/s\"; sleep 0.05; done",
        &collected,
    );
    cfg.regex = Some(Arc::new(
        RegexProgress::new(r"Throughput: ([0-9.]+)", RegexKind::Rate).unwrap(),
    ));
    let session = LiveSession::start(cfg, sink(&collected)).unwrap();
    let summary = session.finish().unwrap();
    let first = &summary.throughput[0];
    assert_eq!(first.source, SourceKind::Regex);
    assert_eq!(first.per_second, Some(20.0));
    assert_eq!(first.seconds_per_unit, Some(0.05));
    assert_eq!(
        String::from_utf8_lossy(&collected.stdout.lock().unwrap())
            .lines()
            .count(),
        3,
        "the lines are still shown"
    );
}

/// `set_regex` while the workload runs: the output readers, the sampler
/// and the summary all take the new regex, which counts only the lines
/// after the swap (a fresh series: the 100/s printed before it are not mixed
/// with its 40/s) and leads the progress points set so far.
#[test]
fn an_output_regex_swapped_in_counts_from_the_swap_and_leads_the_points() {
    let base = private_dir("session-regex-swap");
    let gate_dir = private_dir("session-regex-gate");
    let gate = gate_dir.path().join("go");
    let collected = Arc::new(Collected::default());
    let script = format!(
        "for v in 1 2 3; do echo 'Throughput: 100.0 tok/s'; done; \
         while [ ! -e '{}' ]; do sleep 0.01; done; \
         for v in 1 2 3; do echo 'Throughput: 40.0 tok/s'; sleep 0.02; done",
        gate.display()
    );
    let mut cfg = config(base.path(), &script, &collected);
    cfg.settings.progress_points = vec!["app:step".into()];
    cfg.regex = Some(Arc::new(
        RegexProgress::new(r"Throughput: ([0-9.]+)", RegexKind::Rate).unwrap(),
    ));
    let session = LiveSession::start(cfg, sink(&collected)).unwrap();
    let first = session.regex().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while first.run_reading(session.started()).matches < 3 {
        assert!(Instant::now() < deadline, "the first lines were not read");
        std::thread::sleep(Duration::from_millis(10));
    }
    let swapped = r"Throughput: ([0-9.]+) tok/s";
    session
        .set_regex(Some(Arc::new(
            RegexProgress::new(swapped, RegexKind::Rate).unwrap(),
        )))
        .unwrap();
    assert_eq!(session.regex().unwrap().text(), swapped);
    std::fs::write(&gate, b"").unwrap();
    let summary = session.finish().unwrap();
    assert_eq!(first.run_reading(Instant::now()).matches, 3);
    let names: Vec<(SourceKind, &str)> = summary
        .throughput
        .iter()
        .map(|t| (t.source, t.name.as_str()))
        .collect();
    assert_eq!(
        names[..2],
        [
            (SourceKind::Regex, swapped),
            (SourceKind::Point, "app:step")
        ],
        "{names:?}"
    );
    assert_eq!(summary.throughput[0].per_second, Some(40.0));
}

/// The experiment engine's live target on a workload that prints two
/// rates: windows measured after `set_progress_regex` count the new regex's
/// units (40/s), those before it the old one's (100/s), without a restart.
#[test]
fn a_live_target_measures_with_a_regex_swapped_in() {
    let base = private_dir("target-regex-swap");
    let script = "while :; do echo 'a: 100.0/s'; echo 'b: 40.0/s'; sleep 0.1; done";
    let config = ExperimentConfig {
        mode: Mode::Live,
        progress_regex: Some("a: ([0-9.]+)".into()),
        warmup_s: 0.2,
        ..ExperimentConfig::new(vec!["sh".into(), "-c".into(), script.into()])
    };
    let options = EngineOptions {
        hook: HookSource::Off,
        base_dir: Some(base.path().to_path_buf()),
        forward_output: false,
        ..EngineOptions::default()
    };
    let sink: UpdateSink = Arc::new(|_| {});
    let mut target = make_target(&config, &options, &sink).unwrap();
    let cancel = Cancel::never();
    let rate = |target: &mut Box<dyn Target>| {
        let w = target.measure(1.0, &cancel).unwrap();
        w.units as f64 / w.wall_s
    };
    let before = rate(&mut target);
    assert!((before / 100.0 - 1.0).abs() < 0.05, "{before}");
    target.set_progress_points(&[]);
    target.set_progress_regex(Arc::new(
        RegexProgress::new("b: ([0-9.]+)", RegexKind::Rate).unwrap(),
    ));
    let after = rate(&mut target);
    assert!((after / 40.0 - 1.0).abs() < 0.05, "{after}");
    assert!(target.is_running(), "the same process, never restarted");
    target.shutdown();
    assert!(sessions_left(base.path()).is_empty());
}

#[test]
fn settings_are_published_and_their_spread_measured() {
    let base = private_dir("session-settings");
    let collected = Arc::new(Collected::default());
    let session = LiveSession::start(
        config(base.path(), "sleep 30", &collected),
        sink(&collected),
    )
    .unwrap();
    let dir = session.dir().to_path_buf();
    let reader = ControlReader::open(&control_path(&dir), current_uid()).unwrap();
    assert_eq!(reader.generation(), 1);

    // A stand-in hooked process: our own pid, applying each generation
    // 5 ms after it appears.
    let me = std::process::id();
    let ticks = process_start_ticks(me).unwrap();
    let info = ProcessInfo {
        pid: me,
        parent_pid: 1,
        uid: current_uid(),
        process_start_boottime_ns: 1,
        label: "stand-in".into(),
    };
    let caps = Capacities {
        functions: 8,
        patterns: 4,
        progress: 4,
        name_arena_bytes: 4096,
    };
    let mut writer = SegmentWriter::create(&segment_path(&dir, me, ticks), &info, caps).unwrap();
    let slot = writer.add_pattern(1, "app.*:*", false);
    let f = writer.add_function("app.x:f", FunctionKind::Python, slot.0);
    writer.function(f).calls.store(12, Relaxed);
    writer.set_settings_generation(1);
    let follower = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut applied = 1;
        while applied < 3 && Instant::now() < deadline {
            let now = reader.generation();
            if now > applied {
                std::thread::sleep(Duration::from_millis(5));
                writer.set_settings_generation(now);
                applied = now;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        writer
    });

    let mut slower = session.settings();
    slower.delay_ns = 10_000;
    slower.progress_points = vec!["app:Engine.step".into()];
    let generation = session.set_settings(slower.clone()).unwrap();
    assert_eq!(generation, 2);
    let report = session.wait_applied(2, Duration::from_secs(5));
    assert!(!report.timed_out, "{report:?}");
    assert_eq!(report.processes.len(), 1);
    let latency = report.max_latency_ms.unwrap();
    assert!((4.0..1000.0).contains(&latency), "{latency} ms");
    let generation = session
        .set_settings_tracked(
            LiveSettings {
                enabled: false,
                ..slower
            },
            Duration::from_secs(5),
        )
        .unwrap();
    assert_eq!(generation, 3);
    let _writer = follower.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline
        && !collected
            .events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Applied(_)))
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100)); // a few sampling ticks
    session.stop(StopReason::Planned);
    let summary = session.finish().unwrap();
    assert!(summary.exit.stopped && !summary.exit.interrupted);
    assert_eq!(summary.changes.len(), 3);
    assert_eq!(summary.changes[1].settings.delay_ns, 10_000);
    assert!(summary.changes[1].max_latency_ms.is_some());
    assert!(!summary.changes[2].settings.enabled);
    assert_eq!(summary.totals().calls, 12);
    // The progress point is listed (no units: no hook counted it).
    assert_eq!(summary.throughput[0].source, SourceKind::Point);
    assert_eq!(summary.throughput[0].units, Some(0.0));
    let events = collected.events.lock().unwrap();
    let applied: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Applied(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].generation, 3);
    assert!(!applied[0].timed_out);
    let snapshots = events
        .iter()
        .filter(|e| matches!(e, Event::Snapshot(_)))
        .count();
    assert!(snapshots > 0);
}

#[test]
fn stop_escalates_to_kill_for_a_workload_that_ignores_sigint() {
    let base = private_dir("session-stop");
    let collected = Arc::new(Collected::default());
    // The shell ignores INT and TERM; its child sleep inherits that.
    let script = "trap '' INT TERM; sleep 30 & wait; wait";
    let session =
        LiveSession::start(config(base.path(), script, &collected), sink(&collected)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = session.pid();
    let t0 = Instant::now();
    session.stop(StopReason::Interrupt);
    let status = session.wait_exit(Duration::from_secs(10)).expect("stopped");
    let waited = t0.elapsed();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "SIGKILL after two grace periods");
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    let summary = session.finish().unwrap();
    assert!(summary.exit.interrupted);
    assert_eq!(summary.exit.signal_name.as_deref(), Some("SIGKILL"));
    assert!(!speedbump::live::launch::group_alive(pid));
    assert!(sessions_left(base.path()).is_empty());
}

#[test]
fn dropping_a_session_kills_the_workload_and_removes_the_directory() {
    let base = private_dir("session-drop");
    let collected = Arc::new(Collected::default());
    let session = LiveSession::start(
        config(base.path(), "sleep 30", &collected),
        sink(&collected),
    )
    .unwrap();
    let pid = session.pid();
    drop(session);
    let deadline = Instant::now() + Duration::from_secs(5);
    while speedbump::live::launch::group_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!speedbump::live::launch::group_alive(pid));
    assert!(sessions_left(base.path()).is_empty());
}

#[test]
fn a_command_that_cannot_start_leaves_nothing() {
    let base = private_dir("session-nostart");
    let collected = Arc::new(Collected::default());
    let mut cfg = config(base.path(), "", &collected);
    cfg.command = vec!["no-such-program-xyz".into()];
    let error = LiveSession::start(cfg, sink(&collected)).unwrap_err();
    assert!(error.to_string().contains("command not found"), "{error}");
    assert!(sessions_left(base.path()).is_empty());
}

#[test]
fn the_watchdog_cleans_up_when_the_launcher_is_gone() {
    let base = private_dir("session-watchdog");
    let session_dir = base.path().join("s-1-2-3");
    std::fs::create_dir(&session_dir).unwrap();
    std::fs::write(session_dir.join("p-1-1.seg"), b"x").unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .process_group(0)
        .spawn()
        .unwrap();
    let mut watchdog = Watchdog::spawn(Path::new(SPEEDBUMP), &session_dir).unwrap();
    watchdog.watch_group(child.id());
    // The launcher "dies": the pipe closes without `done`.
    drop(watchdog);
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9));
    let deadline = Instant::now() + Duration::from_secs(5);
    while session_dir.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!session_dir.exists());
}

#[test]
fn a_disarmed_watchdog_does_nothing() {
    let base = private_dir("session-disarm");
    let session_dir = base.path().join("s-1-2-4");
    std::fs::create_dir(&session_dir).unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("0.5")
        .process_group(0)
        .spawn()
        .unwrap();
    let mut watchdog = Watchdog::spawn(Path::new(SPEEDBUMP), &session_dir).unwrap();
    watchdog.watch_group(child.id());
    watchdog.disarm();
    assert!(child.wait().unwrap().success());
    assert!(session_dir.exists());
}
