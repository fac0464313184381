//! A live session: one workload under the hook, observed and steered.
//!
//! [`LiveSession::start`] cleans stale sessions, creates a private session
//! directory with the control block (generation 1 = the starting
//! settings) and the hook injection, starts the watchdog, then the workload
//! (own process group), and the threads that read its output and sample its
//! segments. Everything it learns arrives as [`Event`]s through the sink
//! given to `start`; the caller steers with [`LiveSession::set_settings`],
//! [`LiveSession::stop`] and friends and ends with [`LiveSession::finish`],
//! which returns the [`RunSummary`] and removes the session directory.
//!
//! Threads: one starts the workload and waits for it (the workload's
//! `PR_SET_PDEATHSIG` is tied to this thread, which lives exactly as long as
//! the workload), one per captured output stream, one sampler, and short
//! ones that measure how a settings change spreads and escalate a stop.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, ChildStdout, ExitStatus};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::aggregate::{Aggregator, RateBasis};
use super::apply::measure_apply;
use super::environment::workload_env;
use super::error::EngineError;
use super::inject::{HOOK_DIR_VARIABLE, HookBuild, find_hook_builds, write_injection};
use super::latency::SharedLatency;
use super::launch::{
    LaunchSpec, StdinMode, group_alive, shell_status, signal_group, signal_name, spawn_workload,
};
use super::output::{OutputSink, Stream, spawn_pump};
use super::progress::RegexProgress;
use super::sampler::SegmentSet;
use super::settings::LiveSettings;
use super::snapshot::{ApplyReport, ExitReport, LiveSnapshot, RunSummary, SettingsChange};
use super::throughput::ThroughputSources;
use super::ticker::{SamplerContext, sampler_loop, window_ticks};
use super::watchdog::{Watchdog, default_watchdog_exe};
use crate::ipc::procfs::current_uid;
use crate::ipc::{
    ControlWriter, PrivateDir, Session, clean_stale_sessions, private_base, remove_session_dir,
};

/// Where the hook comes from.
#[derive(Debug, Clone, Default)]
pub enum HookSource {
    /// `$SPEEDBUMP_HOOK_DIR`, else next to the running binary; if none is
    /// found, the workload's own installation must do (a warning says so).
    #[default]
    Auto,
    /// These builds.
    Builds(Vec<HookBuild>),
    /// No injection: the workload's Python has speedbump installed.
    Off,
}

/// Everything a session needs to start.
#[derive(Clone)]
pub struct SessionConfig {
    /// The command to run.
    pub command: Vec<OsString>,
    /// The starting settings (generation 1).
    pub settings: LiveSettings,
    /// Base directory of sessions (`None`: the default, see `ipc::session`).
    pub base_dir: Option<PathBuf>,
    /// Hook injection.
    pub hook: HookSource,
    /// Also pass the starting settings as `SPEED_BUMP_*` variables, for a
    /// hook that does not follow the control block (live changes then do
    /// not reach it).
    pub env_fallback: bool,
    /// The binary run as watchdog (`None`: no watchdog; the workload's
    /// `PR_SET_PDEATHSIG` still stops its leader).
    pub watchdog_exe: Option<PathBuf>,
    /// The workload's stdin.
    pub stdin: StdinMode,
    /// Where the workload's output lines go (`None`: it inherits stdout and
    /// stderr, and no output regex can be used).
    pub output: Option<Arc<dyn OutputSink>>,
    /// Variables set for the workload after everything else.
    pub extra_env: Vec<(OsString, OsString)>,
    /// Sampling period.
    pub sample_interval: Duration,
    /// Live rates cover this much time.
    pub rate_window: Duration,
    /// Functions in each live snapshot.
    pub top_functions: usize,
    /// The output regex, if any.
    pub regex: Option<Arc<RegexProgress>>,
    /// `speedbump.progress()` name to report first.
    pub api_name: Option<String>,
    /// Units in flight (Little's law); 1 by default.
    pub concurrency: f64,
    /// Latency points (`module:qualname` patterns), passed to the hook as
    /// `SPEED_BUMP_LATENCY`; fixed for the run.
    pub latency_points: Vec<String>,
    /// Between SIGINT and SIGTERM, and between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("command", &self.command)
            .field("settings", &self.settings)
            .field("base_dir", &self.base_dir)
            .field("sample_interval", &self.sample_interval)
            .finish_non_exhaustive()
    }
}

impl SessionConfig {
    /// Defaults: 10 Hz sampling, 1 s rate window, top 20 functions, hook
    /// found automatically, watchdog when running as `speedbump`, 3 s
    /// grace, no env fallback.
    pub fn new(command: Vec<OsString>, settings: LiveSettings) -> Self {
        Self {
            command,
            settings,
            base_dir: None,
            hook: HookSource::Auto,
            env_fallback: false,
            watchdog_exe: default_watchdog_exe(),
            stdin: StdinMode::Null,
            output: None,
            extra_env: Vec::new(),
            sample_interval: Duration::from_millis(100),
            rate_window: Duration::from_secs(1),
            top_functions: 20,
            regex: None,
            api_name: None,
            concurrency: 1.0,
            latency_points: Vec::new(),
            stop_grace: Duration::from_secs(3),
        }
    }
}

/// What a session reports, through the sink given to `start`.
#[derive(Debug, Clone)]
pub enum Event {
    /// One sampling tick.
    Snapshot(Box<LiveSnapshot>),
    /// A settings change reached the processes (or timed out).
    Applied(ApplyReport),
    /// Something worth telling the user, once.
    Warning(String),
    /// The workload's leader process exited.
    Exited(ExitStatus),
}

/// Receives the session's events (from several threads).
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// Why the workload is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Ctrl-C, SIGTERM: the run counts as interrupted.
    Interrupt,
    /// A planned stop (`stop` in a schedule).
    Planned,
}

#[derive(Debug, Default)]
struct ExitState {
    status: Mutex<Option<(ExitStatus, Instant)>>,
    changed: Condvar,
}

#[derive(Debug, Clone)]
struct ChangeRecord {
    generation: u64,
    published_at: Instant,
    settings: LiveSettings,
    max_latency_ms: Option<f64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running workload under the hook; see the module docs.
pub struct LiveSession {
    dir: PathBuf,
    uid: u32,
    pgid: u32,
    started: Instant,
    command: Vec<String>,
    control: Mutex<ControlWriter>,
    settings: Mutex<LiveSettings>,
    history: Arc<Mutex<Vec<ChangeRecord>>>,
    sources: Arc<Mutex<ThroughputSources>>,
    /// Cuts of the latency points' request stream (experiments' windows).
    latency: SharedLatency,
    has_latency_points: bool,
    sample_interval: Duration,
    regex: Option<Arc<RegexProgress>>,
    exit: Arc<ExitState>,
    stop_reason: Mutex<Option<StopReason>>,
    stop_grace: Duration,
    sink: EventSink,
    sampler_stop: Option<Sender<()>>,
    sampler: Option<JoinHandle<(SegmentSet, Aggregator)>>,
    pumps: Vec<JoinHandle<()>>,
    appliers: Mutex<Vec<JoinHandle<()>>>,
    waiter: Option<JoinHandle<()>>,
    watchdog: Option<Watchdog>,
    warnings: Vec<String>,
    finished: bool,
}

impl std::fmt::Debug for LiveSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSession")
            .field("dir", &self.dir)
            .field("pgid", &self.pgid)
            .finish_non_exhaustive()
    }
}

/// Removes the session directory unless defused (start-up failures).
struct DirGuard(Option<PathBuf>);

impl Drop for DirGuard {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = remove_session_dir(&dir);
        }
    }
}

/// Kills a started workload's process group unless defused (start-up
/// failures after the workload started).
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.take() {
            signal_group(pgid, Signal::KILL);
        }
    }
}

impl LiveSession {
    /// Starts the workload; see the module docs. Warnings found while
    /// starting (stale sessions cleaned, no hook build found) are sent as
    /// events.
    pub fn start(config: SessionConfig, sink: EventSink) -> Result<LiveSession, EngineError> {
        if config.command.is_empty() {
            return Err(EngineError::NoCommand);
        }
        // A default base planted by another user is never used (nor
        // cleaned): another private one is chosen, and the user told.
        let base = match &config.base_dir {
            Some(base) => PrivateDir::open(base, true)?,
            None => {
                let choice = private_base()?;
                if let Some(note) = choice.note {
                    sink(Event::Warning(note));
                }
                choice.dir
            }
        };
        match clean_stale_sessions(base.path()) {
            Ok(removed) if !removed.is_empty() => sink(Event::Warning(format!(
                "removed {} stale session director{} of runs that were killed",
                removed.len(),
                if removed.len() == 1 { "y" } else { "ies" }
            ))),
            Ok(_) => {}
            Err(e) => sink(Event::Warning(format!(
                "could not clean stale sessions: {e}"
            ))),
        }
        let session = Session::create_in(&base)?;
        let dir = session.path().to_path_buf();
        let mut guard = DirGuard(Some(dir.clone()));
        let uid = current_uid();

        let control = ControlWriter::create(&dir, &config.settings.to_control())?;
        let inject = match &config.hook {
            HookSource::Off => None,
            HookSource::Builds(builds) => Some(write_injection(&dir, builds)?),
            HookSource::Auto => {
                let exe = std::env::current_exe().ok();
                let builds = find_hook_builds(std::env::var_os(HOOK_DIR_VARIABLE), exe.as_deref());
                if builds.is_empty() {
                    sink(Event::Warning(format!(
                        "no hook build found next to {} (set {HOOK_DIR_VARIABLE} to the \
                         installed `speedbump` package); the workload's Python must have \
                         speedbump installed",
                        exe.as_deref()
                            .map_or("this program".into(), |p| p.display().to_string())
                    )));
                    None
                } else {
                    Some(write_injection(&dir, &builds)?)
                }
            }
        };
        let env = workload_env(&config, &dir, inject.as_deref())?;

        let mut watchdog = match &config.watchdog_exe {
            Some(exe) => Some(Watchdog::spawn(exe, &dir)?),
            None => None,
        };

        let capture = config.output.is_some();
        let spec = LaunchSpec {
            command: config.command.clone(),
            env,
            stdin: config.stdin,
            capture_output: capture,
        };
        let exit = Arc::new(ExitState::default());
        let (started_tx, started_rx) = mpsc::channel();
        let waiter = {
            let exit = Arc::clone(&exit);
            let sink = Arc::clone(&sink);
            std::thread::Builder::new()
                .name("speedbump-workload".into())
                .spawn(move || run_workload(&spec, &started_tx, &exit, &sink))
                .map_err(|e| EngineError::helper("workload thread", e))?
        };
        let (pid, stdout, stderr, started) = match started_rx.recv() {
            Ok(Ok(started)) => started,
            Ok(Err(e)) => {
                let _ = waiter.join();
                if let Some(w) = watchdog.take() {
                    w.disarm();
                }
                return Err(e);
            }
            Err(_) => {
                return Err(EngineError::helper(
                    "workload thread",
                    std::io::Error::other("it ended before starting the workload"),
                ));
            }
        };
        if let Some(w) = watchdog.as_mut() {
            w.watch_group(pid);
        }
        // From here on, a failure must not leave the workload running.
        let mut group_guard = GroupGuard(Some(pid));

        let mut pumps = Vec::new();
        if let Some(output) = &config.output {
            let warn: Arc<dyn Fn(String) + Send + Sync> = {
                let sink = Arc::clone(&sink);
                Arc::new(move |w| sink(Event::Warning(w)))
            };
            let streams: [(Option<Box<dyn std::io::Read + Send>>, Stream); 2] = [
                (
                    stdout.map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
                    Stream::Stdout,
                ),
                (
                    stderr.map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
                    Stream::Stderr,
                ),
            ];
            for (reader, stream) in streams {
                if let Some(reader) = reader {
                    let pump = spawn_pump(
                        reader,
                        stream,
                        Arc::clone(output),
                        config.regex.clone(),
                        Arc::clone(&warn),
                    )
                    .map_err(|e| EngineError::helper("output reader", e))?;
                    pumps.push(pump);
                }
            }
        }

        let mut sources = ThroughputSources {
            points: Vec::new(),
            regex: config.regex.as_ref().map(|r| r.text().to_owned()),
            api_name: config.api_name.clone(),
            concurrency: config.concurrency,
        };
        sources.add_points(&config.settings.progress_points);
        let sources = Arc::new(Mutex::new(sources));
        let latency = SharedLatency::default();
        let (sampler_stop, stop_rx) = mpsc::channel();
        let sampler = {
            let ctx = SamplerContext {
                dir: dir.clone(),
                uid,
                interval: config.sample_interval.max(Duration::from_millis(1)),
                window_ticks: window_ticks(config.rate_window, config.sample_interval),
                rate_window: config.rate_window,
                top: config.top_functions,
                started,
                sources: Arc::clone(&sources),
                regex: config.regex.clone(),
                sink: Arc::clone(&sink),
                latency: latency.clone(),
            };
            std::thread::Builder::new()
                .name("speedbump-sampler".into())
                .spawn(move || sampler_loop(&ctx, &stop_rx))
                .map_err(|e| EngineError::helper("sampler", e))?
        };

        guard.0 = None;
        group_guard.0 = None;
        Ok(LiveSession {
            dir,
            uid,
            pgid: pid,
            started,
            command: config
                .command
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            control: Mutex::new(control),
            settings: Mutex::new(config.settings.clone()),
            history: Arc::new(Mutex::new(vec![ChangeRecord {
                generation: 1,
                published_at: started,
                settings: config.settings,
                max_latency_ms: None,
            }])),
            sources,
            latency,
            has_latency_points: !config.latency_points.is_empty(),
            sample_interval: config.sample_interval.max(Duration::from_millis(1)),
            regex: config.regex,
            exit,
            stop_reason: Mutex::new(None),
            stop_grace: config.stop_grace,
            sink,
            sampler_stop: Some(sampler_stop),
            sampler: Some(sampler),
            pumps,
            appliers: Mutex::new(Vec::new()),
            waiter: Some(waiter),
            watchdog,
            warnings: Vec::new(),
            finished: false,
        })
    }

    /// The session directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The workload's pid (also its process group).
    pub fn pid(&self) -> u32 {
        self.pgid
    }

    /// When the workload started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The settings in effect (last published).
    pub fn settings(&self) -> LiveSettings {
        lock(&self.settings).clone()
    }

    /// Publishes new settings; returns their generation. Every hooked
    /// process picks them up on its next poll of the control block.
    pub fn set_settings(&self, settings: LiveSettings) -> Result<u64, EngineError> {
        if self.finished {
            return Err(EngineError::Finished);
        }
        let control = settings.to_control();
        let mut writer = lock(&self.control);
        // Taken before the write: a hooked process can read the new
        // generation as soon as the write begins (a write in progress reads
        // as the generation it will publish), and writing a large pattern
        // text takes milliseconds, which must count in the apply latency.
        let published_at = Instant::now();
        let generation = writer.publish(&control)?;
        drop(writer);
        lock(&self.sources).add_points(&settings.progress_points);
        lock(&self.history).push(ChangeRecord {
            generation,
            published_at,
            settings: settings.clone(),
            max_latency_ms: None,
        });
        *lock(&self.settings) = settings;
        Ok(generation)
    }

    /// Publishes new settings and measures, on a thread of its own, how
    /// long each hooked process takes to apply them; the result arrives as
    /// [`Event::Applied`] (at most `timeout` later).
    pub fn set_settings_tracked(
        &self,
        settings: LiveSettings,
        timeout: Duration,
    ) -> Result<u64, EngineError> {
        let generation = self.set_settings(settings)?;
        let published_at = self.published_at(generation).unwrap_or_else(Instant::now);
        let dir = self.dir.clone();
        let uid = self.uid;
        let started = self.started;
        let history = Arc::clone(&self.history);
        let sink = Arc::clone(&self.sink);
        let watcher = std::thread::Builder::new()
            .name("speedbump-apply".into())
            .spawn(move || {
                let report = measure_apply(&dir, uid, generation, published_at, started, timeout);
                record_latency(&history, &report);
                sink(Event::Applied(report));
            })
            .map_err(|e| EngineError::helper("apply watcher", e))?;
        let mut appliers = lock(&self.appliers);
        appliers.retain(|h| !h.is_finished());
        appliers.push(watcher);
        Ok(generation)
    }

    /// Waits (blocking) until every running hooked process applies
    /// `generation`, at most `timeout` after it was published.
    pub fn wait_applied(&self, generation: u64, timeout: Duration) -> ApplyReport {
        let published_at = self.published_at(generation).unwrap_or_else(Instant::now);
        let report = measure_apply(
            &self.dir,
            self.uid,
            generation,
            published_at,
            self.started,
            timeout,
        );
        record_latency(&self.history, &report);
        report
    }

    fn published_at(&self, generation: u64) -> Option<Instant> {
        lock(&self.history)
            .iter()
            .find(|c| c.generation == generation)
            .map(|c| c.published_at)
    }

    /// Where experiments cut the latency points' request stream; `None`
    /// without latency points.
    pub fn latency_cuts(&self) -> Option<&SharedLatency> {
        self.has_latency_points.then_some(&self.latency)
    }

    /// The sampling period (a latency cut is made within one).
    pub fn sample_interval(&self) -> Duration {
        self.sample_interval
    }

    /// Whether the workload's leader has exited.
    pub fn has_exited(&self) -> bool {
        lock(&self.exit.status).is_some()
    }

    /// Waits up to `timeout` for the workload's leader to exit.
    pub fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let guard = lock(&self.exit.status);
        let (guard, _) = self
            .exit
            .changed
            .wait_timeout_while(guard, timeout, |s| s.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        guard.map(|(status, _)| status)
    }

    /// Stops the workload's process group: SIGINT, then SIGTERM after the
    /// grace period, then SIGKILL. Returns at once; a second call does
    /// nothing (use [`LiveSession::kill`] to hurry).
    pub fn stop(&self, reason: StopReason) {
        {
            let mut current = lock(&self.stop_reason);
            if current.is_some() {
                return;
            }
            *current = Some(reason);
        }
        let pgid = self.pgid;
        let grace = self.stop_grace;
        let escalate = move || {
            for signal in [Signal::INT, Signal::TERM, Signal::KILL] {
                if !signal_group(pgid, signal) {
                    return;
                }
                let deadline = Instant::now() + grace;
                while group_alive(pgid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if !group_alive(pgid) {
                    return;
                }
            }
        };
        if std::thread::Builder::new()
            .name("speedbump-stop".into())
            .spawn(escalate)
            .is_err()
        {
            signal_group(pgid, Signal::KILL);
        }
    }

    /// Kills the workload's process group now (SIGKILL).
    pub fn kill(&self) {
        let mut current = lock(&self.stop_reason);
        if current.is_none() {
            *current = Some(StopReason::Interrupt);
        }
        signal_group(self.pgid, Signal::KILL);
    }

    /// Waits for the workload to end, stops what it left running in its
    /// process group, takes the final samples, removes the session
    /// directory and returns the summary.
    pub fn finish(mut self) -> Result<RunSummary, EngineError> {
        let (status, ended) = loop {
            if let Some(done) = *lock(&self.exit.status) {
                break done;
            }
            self.wait_exit(Duration::from_millis(200));
        };
        self.stop_stragglers();
        // Output still in the pipes belongs to the run; a process that left
        // the group may hold them open, so do not wait for ever.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.pumps.iter().any(|p| !p.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        for pump in std::mem::take(&mut self.pumps) {
            if pump.is_finished() {
                let _ = pump.join();
            }
        }
        if let Some(waiter) = self.waiter.take() {
            let _ = waiter.join();
        }
        // Settings changes still being measured end within their timeout.
        for applier in std::mem::take(&mut *lock(&self.appliers)) {
            let _ = applier.join();
        }
        drop(self.sampler_stop.take());
        let joined = self.sampler.take().map(JoinHandle::join);
        let (mut set, mut agg) = match joined {
            Some(Ok(parts)) => parts,
            _ => (SegmentSet::new(&self.dir, self.uid), Aggregator::new(1)),
        };
        set.final_pass(&mut agg, Instant::now());
        for warning in agg.take_new_warnings() {
            (self.sink)(Event::Warning(warning));
        }
        let wall_s = ended.saturating_duration_since(self.started).as_secs_f64();
        let summary = self.summary(&agg, status, wall_s);
        self.finished = true;
        remove_session_dir(&self.dir)?;
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.disarm();
        }
        Ok(summary)
    }

    /// Processes left in the workload's group after its leader exited:
    /// given a second to end by themselves, then SIGTERM, then SIGKILL.
    fn stop_stragglers(&mut self) {
        let pgid = self.pgid;
        let wait_gone = |limit: Duration| {
            let deadline = Instant::now() + limit;
            while group_alive(pgid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            !group_alive(pgid)
        };
        if lock(&self.stop_reason).is_some() {
            // The stop thread is escalating already; give it its time.
            let escalation = self
                .stop_grace
                .saturating_mul(2)
                .saturating_add(Duration::from_secs(2));
            if !wait_gone(escalation) {
                signal_group(pgid, Signal::KILL);
                wait_gone(Duration::from_secs(2));
            }
            return;
        }
        if wait_gone(Duration::from_secs(1)) {
            return;
        }
        self.warnings.push(
            "processes of the workload were still running after it exited; stopped them \
             (SIGTERM, then SIGKILL)"
                .to_owned(),
        );
        signal_group(pgid, Signal::TERM);
        if !wait_gone(self.stop_grace) {
            signal_group(pgid, Signal::KILL);
            wait_gone(Duration::from_secs(2));
        }
    }

    fn summary(&self, agg: &Aggregator, status: ExitStatus, wall_s: f64) -> RunSummary {
        let basis = RateBasis::Wall(wall_s);
        let progress = agg.progress_readings(basis);
        let regex = self.regex.as_ref().map(|r| r.run_reading(self.started));
        let runs = (wall_s > 0.0).then(|| 1.0 / wall_s);
        let throughput = lock(&self.sources).readings(&progress, regex, runs);
        let stop = *lock(&self.stop_reason);
        let signal = status.signal();
        let mut warnings: Vec<String> = agg.warnings().to_vec();
        warnings.extend(self.warnings.iter().cloned());
        let changes = lock(&self.history)
            .iter()
            .map(|c| SettingsChange {
                generation: c.generation,
                elapsed_s: c
                    .published_at
                    .saturating_duration_since(self.started)
                    .as_secs_f64(),
                settings: c.settings.clone(),
                max_latency_ms: c.max_latency_ms,
            })
            .collect();
        RunSummary {
            kind: "summary",
            command: self.command.clone(),
            exit: ExitReport {
                code: status.code(),
                signal,
                signal_name: signal.map(signal_name),
                status: shell_status(status),
                interrupted: stop == Some(StopReason::Interrupt),
                stopped: stop == Some(StopReason::Planned),
            },
            wall_s,
            changes,
            processes: agg.process_reports(),
            patterns: agg.pattern_readings(basis),
            functions: agg.function_readings(basis, None).0,
            throughput,
            warnings,
            launcher_cpu_s: own_cpu_seconds(),
            latency: agg.latency_report(basis),
        }
    }
}

/// User + system CPU time of this process so far, all threads
/// (`CLOCK_PROCESS_CPUTIME_ID`).
fn own_cpu_seconds() -> Option<f64> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Some(t.tv_sec as f64 + t.tv_nsec as f64 / 1e9)
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Dropped without finish (an error in the caller): leave nothing.
        if group_alive(self.pgid) {
            signal_group(self.pgid, Signal::KILL);
        }
        drop(self.sampler_stop.take());
        let _ = remove_session_dir(&self.dir);
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.disarm();
        }
    }
}

type Started = (u32, Option<ChildStdout>, Option<ChildStderr>, Instant);

/// The workload thread: starts the workload, reports it, waits for it.
fn run_workload(
    spec: &LaunchSpec,
    started_tx: &Sender<Result<Started, EngineError>>,
    exit: &ExitState,
    sink: &EventSink,
) {
    let mut child = match spawn_workload(spec) {
        Ok(child) => child,
        Err(e) => {
            let _ = started_tx.send(Err(e));
            return;
        }
    };
    let started = Instant::now();
    let pid = child.id();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    if started_tx.send(Ok((pid, stdout, stderr, started))).is_err() {
        let _ = child.kill();
    }
    let status = loop {
        match child.wait() {
            Ok(status) => break status,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // Cannot happen for our own child; report it as a failure.
            Err(_) => break ExitStatus::from_raw(1 << 8),
        }
    };
    *lock(&exit.status) = Some((status, Instant::now()));
    exit.changed.notify_all();
    sink(Event::Exited(status));
}

fn record_latency(history: &Mutex<Vec<ChangeRecord>>, report: &ApplyReport) {
    if let Some(change) = lock(history)
        .iter_mut()
        .find(|c| c.generation == report.generation)
    {
        change.max_latency_ms = report.max_latency_ms;
    }
}
