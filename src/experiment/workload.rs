//! One run of the workload under a [`LiveSession`], as the live and restart
//! targets use it: started with settings, its output captured (kept for a
//! crash report, forwarded as updates), its counters read at window edges,
//! warm-up detected, stopped and reported.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::analysis::WindowLatency;
use crate::ipc::procfs::current_uid;
use crate::live::latency::{CutId, SharedLatency, window_latency};
use crate::live::output::{OutputSink, Stream, strip_terminator};
use crate::live::progress::{RegexKind, RegexProgress};
use crate::live::{Event, EventSink, LiveSession, LiveSettings, SessionConfig, StopReason};

use super::context::UpdateSink;

/// Sampling period of a session with latency points (see `window_latency`).
const LATENCY_SAMPLE_INTERVAL: Duration = Duration::from_millis(50);
use super::edges::{Delta, Edge, EdgeReader, delta};
use super::options::EngineOptions;
use super::protocol::{ExperimentConfig, Update};
use super::source::{NO_PROGRESS_ADVICE, ProgressSource, RegexEdge};
use super::target::{Cancel, ExitInfo, TargetError};

/// How often a run is looked at while waiting (exit, first unit).
const POLL: Duration = Duration::from_millis(20);

/// Longest wait for the first unit of progress before giving up.
pub const FIRST_UNIT_TIMEOUT: Duration = Duration::from_secs(120);

/// Keeps the last output lines and forwards each as an update.
pub struct OutputCapture {
    sink: UpdateSink,
    forward: bool,
    capacity: usize,
    last: Mutex<VecDeque<String>>,
}

impl OutputCapture {
    /// A capture keeping `capacity` lines.
    pub fn new(sink: UpdateSink, forward: bool, capacity: usize) -> OutputCapture {
        OutputCapture {
            sink,
            forward,
            capacity: capacity.max(1),
            last: Mutex::new(VecDeque::new()),
        }
    }

    /// The lines kept, oldest first.
    pub fn last_lines(&self) -> Vec<String> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

impl OutputSink for OutputCapture {
    fn lines(&self, stream: Stream, lines: &[&[u8]]) {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        for line in lines {
            let text = String::from_utf8_lossy(strip_terminator(line)).into_owned();
            if last.len() == self.capacity {
                last.pop_front();
            }
            last.push_back(text.clone());
            if self.forward {
                (self.sink)(Update::Output {
                    line: text,
                    stderr: stream == Stream::Stderr,
                });
            }
        }
    }
}

/// The regex of the config (fresh state: one per run).
pub fn make_regex(
    config: &ExperimentConfig,
    options: &EngineOptions,
) -> Result<Option<Arc<RegexProgress>>, String> {
    let Some(text) = &config.progress_regex else {
        return Ok(None);
    };
    let kind = options
        .regex_kind
        .unwrap_or(if config.progress_regex_is_rate {
            RegexKind::Rate
        } else {
            RegexKind::Count
        });
    RegexProgress::new(text, kind)
        .map(|r| Some(Arc::new(r)))
        .map_err(|e| format!("--progress-regex: {e}"))
}

/// A running workload.
pub struct Run {
    session: Option<LiveSession>,
    edges: EdgeReader,
    capture: Arc<OutputCapture>,
    sink: UpdateSink,
    /// When the run started.
    pub started: Instant,
    warned_late: HashSet<u32>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// What waiting found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// The time passed; the workload runs.
    Elapsed,
    /// The workload's leader exited meanwhile.
    Exited,
}

impl Run {
    /// Starts the workload with `settings` as generation 1.
    pub fn start(
        config: &ExperimentConfig,
        options: &EngineOptions,
        settings: LiveSettings,
        sink: &UpdateSink,
        regex: Option<Arc<RegexProgress>>,
    ) -> Result<Run, TargetError> {
        let capture = Arc::new(OutputCapture::new(
            Arc::clone(sink),
            options.forward_output,
            options.last_lines,
        ));
        let mut session_config =
            SessionConfig::new(config.command.iter().map(Into::into).collect(), settings);
        session_config.base_dir = options.base_dir.clone();
        session_config.hook = options.hook.clone();
        session_config.output = Some(Arc::clone(&capture) as Arc<dyn OutputSink>);
        session_config.sample_interval = if config.latency_points.is_empty() {
            options.sample_interval
        } else {
            // Each window's end waits for the tick that cuts the request
            // stream there: sample often enough that it comes soon.
            options.sample_interval.min(LATENCY_SAMPLE_INTERVAL)
        };
        session_config.rate_window = options.sample_interval.max(Duration::from_secs(1));
        session_config.regex = regex;
        session_config.api_name = options.progress_name.clone();
        session_config.latency_points = config.latency_points.clone();
        session_config.stop_grace = options.stop_grace;
        let events: EventSink = {
            let sink = Arc::clone(sink);
            Arc::new(move |event| match event {
                Event::Snapshot(s) => sink(Update::Live(s)),
                Event::Applied(report) => sink(Update::Applied(report)),
                Event::Warning(w) => sink(Update::Warning(w)),
                Event::Exited(_) => {}
            })
        };
        let session = LiveSession::start(session_config, events)?;
        let edges = EdgeReader::new(session.dir(), current_uid());
        Ok(Run {
            started: session.started(),
            session: Some(session),
            edges,
            capture,
            sink: Arc::clone(sink),
            warned_late: HashSet::new(),
        })
    }

    fn session(&self) -> Result<&LiveSession, TargetError> {
        self.session
            .as_ref()
            .ok_or(TargetError::Engine(crate::live::EngineError::Finished))
    }

    /// Whether the workload's leader has exited.
    pub fn has_exited(&self) -> bool {
        self.session.as_ref().is_none_or(LiveSession::has_exited)
    }

    /// Publishes `settings` and waits until every running hooked process
    /// applies them (at most `timeout`; late ones are named in a warning and
    /// left out of windows). Returns the generation.
    pub fn apply(&self, settings: LiveSettings, timeout: Duration) -> Result<u64, TargetError> {
        let session = self.session()?;
        let generation = session.set_settings(settings)?;
        let report = session.wait_applied(generation, timeout);
        if report.timed_out {
            let late: Vec<String> = report
                .processes
                .iter()
                .filter(|p| p.latency_ms.is_none())
                .map(|p| p.pid.to_string())
                .collect();
            (self.sink)(Update::Warning(format!(
                "settings generation {generation} did not reach process {} within {} ms; \
                 its counts are left out of the windows until it applies it",
                late.join(", "),
                timeout.as_millis()
            )));
        }
        (self.sink)(Update::Applied(report));
        Ok(generation)
    }

    /// Puts another output regex in force in the running session (see
    /// [`LiveSession::set_regex`]).
    pub fn set_regex(&self, regex: Option<Arc<RegexProgress>>) -> Result<(), TargetError> {
        Ok(self.session()?.set_regex(regex)?)
    }

    /// Reads an edge (and the regex's state), forwarding warnings.
    pub fn edge(&mut self, functions: bool, source: &ProgressSource) -> (Edge, Option<RegexEdge>) {
        let (edge, warnings) = self.edges.read(functions);
        for w in warnings {
            (self.sink)(Update::Warning(w));
        }
        (edge, source.regex_edge())
    }

    /// Cuts the latency points' request stream now (a window's edge);
    /// `None` without latency points.
    pub fn latency_cut(&self) -> Option<CutId> {
        self.session
            .as_ref()?
            .latency_cuts()
            .map(SharedLatency::cut)
    }

    /// The requests of the window between two cuts, waiting for the
    /// sampler to make the end cut (within about one sampling period).
    pub fn window_latency(
        &self,
        start: Option<CutId>,
        end: Option<CutId>,
        span_s: f64,
    ) -> Option<WindowLatency> {
        let session = self.session.as_ref()?;
        let cuts = session.latency_cuts()?;
        let give_up = Instant::now() + 3 * session.sample_interval() + Duration::from_millis(100);
        let wait = |id: CutId| loop {
            if let Some(cut) = cuts.collect(id) {
                return Some(cut);
            }
            if Instant::now() >= give_up {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let start = wait(start?)?;
        let end = wait(end?)?;
        window_latency(&start, &end, span_s)
    }

    /// The difference of two edges under `generation`, warning once per
    /// process left out.
    pub fn delta(&mut self, start: &Edge, end: &Edge, generation: Option<u64>) -> Delta {
        let d = delta(start, end, generation);
        for &pid in &d.left_out {
            if self.warned_late.insert(pid) {
                (self.sink)(Update::Warning(format!(
                    "process {pid} did not apply the window's settings in time; its counts \
                     are left out of that window"
                )));
            }
        }
        d
    }

    /// Waits `duration`, or until the workload exits or the experiment is
    /// cancelled.
    pub fn wait(&self, duration: Duration, cancel: &Cancel) -> Result<Waited, TargetError> {
        let end = Instant::now() + duration;
        loop {
            if cancel.is_cancelled() {
                return Err(TargetError::Cancelled);
            }
            if self.has_exited() {
                return Ok(Waited::Exited);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Waited::Elapsed);
            }
            std::thread::sleep(left.min(POLL));
        }
    }

    /// Waits for the first unit of progress from `source` (reading edges
    /// every 50 ms). Returns the edge at which it was seen, or `None` when
    /// the workload exited first; `NoProgress` after
    /// [`FIRST_UNIT_TIMEOUT`] without one (with a warning at 10 s).
    pub fn wait_first_unit(
        &mut self,
        source: &mut ProgressSource,
        cancel: &Cancel,
    ) -> Result<Option<(Edge, Option<RegexEdge>)>, TargetError> {
        let (mut first, mut first_regex) = self.edge(false, source);
        let begun = Instant::now();
        let mut warned = false;
        loop {
            let waited = self.wait(Duration::from_millis(50), cancel)?;
            let (now, now_regex) = self.edge(false, source);
            let d = delta(&first, &now, None);
            let wall_s = now.at.saturating_duration_since(first.at).as_secs_f64();
            let regex = first_regex.zip(now_regex);
            if source.units(&d, regex, wall_s).is_some_and(|u| u > 0) {
                return Ok(Some((now, now_regex)));
            }
            if !d.left_out.is_empty() {
                // A process whose segment existed before the first edge but
                // was first read after it: its counts cannot be told apart
                // from before. Count from this edge instead (else it would
                // be left out, and its units unseen, for ever).
                (first, first_regex) = (now, now_regex);
            }
            if waited == Waited::Exited {
                return Ok(None);
            }
            let waiting = begun.elapsed();
            if waiting >= FIRST_UNIT_TIMEOUT {
                return Err(TargetError::NoProgress(format!(
                    "{} s without a unit of progress from {}: {NO_PROGRESS_ADVICE}",
                    waiting.as_secs(),
                    source.describe()
                )));
            }
            if !warned && waiting >= Duration::from_secs(10) {
                warned = true;
                (self.sink)(Update::Warning(format!(
                    "waiting for the first unit of progress from {} (10 s so far); is the \
                     workload serving load?",
                    source.describe()
                )));
            }
        }
    }

    /// Stops the workload (if `stop` and it still runs), waits for it,
    /// cleans up, and says how it ended.
    pub fn finish(&mut self, stop: bool) -> Option<ExitInfo> {
        let session = self.session.take()?;
        if stop && !session.has_exited() {
            session.stop(StopReason::Planned);
        }
        let exit = match session.finish() {
            Ok(summary) => (summary.exit.code, summary.exit.signal),
            Err(e) => {
                (self.sink)(Update::Warning(format!(
                    "cleaning up the run: {}",
                    crate::error::chain(&e)
                )));
                (None, None)
            }
        };
        Some(ExitInfo {
            status: exit.0,
            signal: exit.1,
            last_lines: self.capture.last_lines(),
        })
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            session.stop(StopReason::Planned);
            let _ = session.finish();
        }
    }
}

/// Seconds from `a` to `b`.
pub fn seconds_between(a: Instant, b: Instant) -> f64 {
    b.saturating_duration_since(a).as_secs_f64()
}
