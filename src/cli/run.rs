//! `speedbump run [OPTIONS] -- COMMAND...`: run a command under the hook,
//! show live throughput and hit counts, change settings on a schedule, and
//! print a summary. A thin layer over [`crate::live`]; see docs/run.md.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;

use super::latency::LatencyArgs;
use super::options::{self, ProgressArgs, TargetArgs};
use crate::live::launch::{StdinMode, signal_group};
use crate::live::output::{OutputSink, Passthrough, Stream, write_all_lines};
use crate::live::progress::RegexProgress;
use crate::live::settings::{DEFAULT_DELAY_NS, LiveSettings};
use crate::live::settings_script::{ControlCommand, Schedule, ScheduleCursor, parse_command};
use crate::live::suggest::RateWatch;
use crate::live::watchdog::run_watchdog;
use crate::live::{Event, EventSink, LiveSession, LiveSnapshot, SessionConfig, StopReason};
use crate::report::live::{describe_apply, status_block, status_line, summary_text};

const AFTER_HELP: &str = "\
Examples:
  speedbump run --targets t.txt --delay 10us --progress 'bench:Engine.step' -- python bench.py
  speedbump run --pattern 'vllm.*:*' --delay 0 \\
      --progress-regex 'Throughput: ([0-9.]+)' -- python -m vllm.entrypoints.openai.api_server
  speedbump run --pattern 'app.*:*' --schedule steps.txt --json run.jsonl -- python app.py

Schedule file (--schedule; the same commands, without 'at', on stdin with --control-stdin):
  at 2s delay 10us          at +1s off          at 5s patterns numpy.*:* !numpy.testing.*:*
  at 6s add-pattern zmq.*:* at 7s frequency 10  at 8s progress bench:Engine.step
  at 9s on                  at 10s stop

Throughput: the first of --progress points, --progress-regex, speedbump.progress() counters
(--progress-name first), and runs per second is \"the\" throughput; latency per unit is
concurrency / throughput (Little's law, --concurrency, default 1).

Exit status: the workload's (128 + N when signal N ended it); 130 after Ctrl-C or SIGTERM;
0 after a scheduled 'stop'; 2 when speedbump itself fails. See docs/run.md.";

/// Run a command under the hook and watch throughput and hit counts live.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct RunArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Delay per selected call: 10us, 1.5ms, 10000 (ns). 0 counts calls only.
    #[arg(long, value_name = "DURATION", value_parser = options::delay)]
    pub delay: Option<u64>,
    #[command(flatten)]
    pub progress: ProgressArgs,
    #[command(flatten)]
    pub latency: LatencyArgs,
    /// Units of work in flight, for latency per unit by Little's law.
    #[arg(long, value_name = "N", default_value_t = 1.0, value_parser = parse_concurrency)]
    pub concurrency: f64,
    /// Sampling period: live view, --json samples and rates.
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = parse_interval)]
    pub interval: Duration,
    /// Live rates cover this much time.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub rate_window: Duration,
    /// Write JSON lines: a sample per interval, one per settings change, and a
    /// final summary (- = stdout; the workload's stdout then goes to stderr).
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<PathBuf>,
    /// Settings changes over time (see below and docs/run.md).
    #[arg(long, value_name = "FILE")]
    pub schedule: Option<PathBuf>,
    /// Read settings commands from stdin while the workload runs (its stdin is
    /// then /dev/null).
    #[arg(long)]
    pub control_stdin: bool,
    /// No live status; a one-line summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Functions shown live and in the summary table.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Also pass the starting settings as SPEED_BUMP_* variables, for a hook
    /// older than live control (live changes then do not reach it).
    #[arg(long, hide = true)]
    pub env_fallback: bool,
    /// Internal: run as the watchdog of session DIR.
    #[arg(long = "internal-watchdog", hide = true, value_name = "DIR")]
    pub internal_watchdog: Option<PathBuf>,
    /// Start a session that runs on without this terminal, print its id
    /// and return: watch it with `speedbump tui --attach ID`, end it with
    /// `speedbump stop ID` (see docs/sessions.md).
    #[cfg(feature = "tui")]
    #[arg(long, conflicts_with_all = ["json", "schedule", "control_stdin"])]
    pub detach: bool,
    /// With --detach: how long the session keeps its workload once nobody
    /// is attached and no experiment runs.
    #[cfg(feature = "tui")]
    #[arg(long, value_name = "DURATION", default_value = "600s", value_parser = parse_linger)]
    pub linger: Duration,
    /// The command to run, after `--`.
    #[arg(
        last = true,
        value_name = "COMMAND",
        required_unless_present = "internal_watchdog"
    )]
    pub command: Vec<OsString>,
}

fn parse_concurrency(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a positive number (e.g. 1, 32)")),
    }
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = Duration::from_secs_f64(options::seconds(s)?);
    if d < Duration::from_millis(1) || d > Duration::from_secs(60) {
        return Err(format!("'{s}' is out of range; use 1ms to 60s"));
    }
    Ok(d)
}

/// Runs `speedbump run`.
pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.internal_watchdog {
        let code = run_watchdog(dir, io::stdin().lock());
        return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
    }
    let plan = Plan::from_args(args)?;
    #[cfg(feature = "tui")]
    if args.detach {
        return detach(args);
    }
    execute(args, plan)
}

#[cfg(feature = "tui")]
fn parse_linger(s: &str) -> Result<Duration, String> {
    crate::units::parse_duration_ns(s)
        .map(Duration::from_nanos)
        .map_err(|e| e.to_string())
}

/// `run --detach`: a session server runs the workload; this returns once
/// it is ready.
#[cfg(feature = "tui")]
fn detach(args: &RunArgs) -> anyhow::Result<ExitCode> {
    if matches!(
        args.progress.progress_regex_kind,
        crate::live::progress::RegexKind::Units
    ) {
        bail!("--detach takes --progress-regex-kind rate or count");
    }
    // The server parses the same arguments (everything after `speedbump`).
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let dir = crate::server::process::start(args.linger, &argv)?;
    let id = crate::server::registry::session_id(&dir).unwrap_or_default();
    println!("{id}");
    eprintln!(
        "speedbump: session {id} runs the workload; watch: speedbump tui --attach {id} · \
         stop: speedbump stop {id}"
    );
    Ok(ExitCode::SUCCESS)
}

/// The engine of a `run --detach` session (in the server process): the
/// workload in live mode with `run`'s settings in force from the start, and
/// TUI options matching them for clients that attach.
#[cfg(feature = "tui")]
pub fn detached_engine(
    args: &RunArgs,
) -> anyhow::Result<(crate::experiment::EngineHandle, crate::tui::state::Options)> {
    use crate::experiment::{Command, ExperimentConfig, Mode};
    let plan = Plan::from_args(args)?;
    let command = args
        .command
        .iter()
        .map(|a| {
            a.clone()
                .into_string()
                .map_err(|a| anyhow::anyhow!("argument {a:?} is not valid UTF-8"))
        })
        .collect::<anyhow::Result<Vec<String>>>()?;
    let settings = plan.settings;
    let config = ExperimentConfig {
        command: command.clone(),
        mode: Mode::Live,
        progress_points: settings.progress_points.clone(),
        latency_points: plan.latency_points.clone(),
        progress_regex: args.progress.progress_regex.clone(),
        progress_regex_is_rate: !matches!(
            args.progress.progress_regex_kind,
            crate::live::progress::RegexKind::Count
        ),
        ..ExperimentConfig::default()
    };
    let progress = super::tui::progress_description(
        &settings.progress_points,
        args.progress.progress_regex.as_deref(),
    );
    let options = crate::tui::state::Options {
        command,
        mode: Mode::Live,
        patterns: if settings.has_includes() {
            settings.patterns.clone()
        } else {
            vec!["*:*".into()]
        },
        frequency: settings.frequency,
        auto_census: false,
        progress,
        ..crate::tui::state::Options::default()
    };
    let engine = crate::experiment::spawn(config)?;
    if settings.has_includes() && settings.delay_ns > 0 {
        let _ = engine.commands.send(Command::Apply(settings));
    }
    Ok((engine, options))
}

/// Everything checked before the workload starts.
struct Plan {
    settings: LiveSettings,
    latency_points: Vec<String>,
    schedule: Option<Schedule>,
    regex: Option<Arc<RegexProgress>>,
}

impl Plan {
    fn from_args(args: &RunArgs) -> anyhow::Result<Plan> {
        let patterns = args.targets.patterns()?;
        let progress_points = args.progress.points()?;
        let settings = LiveSettings {
            enabled: true,
            delay_ns: args.delay.unwrap_or(DEFAULT_DELAY_NS),
            frequency: args.targets.frequency,
            delay_resumes: args.targets.resume,
            match_c_calls: args.targets.c_calls,
            patterns,
            pattern_delays_ns: Vec::new(),
            progress_points,
            own_time: false,
        };
        let schedule = match &args.schedule {
            Some(path) => {
                let schedule = Schedule::load(path)?;
                schedule.check(&settings)?;
                Some(schedule)
            }
            None => None,
        };
        let changes_later = schedule.is_some() || args.control_stdin;
        if !settings.has_includes() && settings.delay_ns > 0 && !changes_later {
            bail!(
                "nothing to slow down: give --targets FILE or --pattern 'module:function' \
                 (or --delay 0 to measure throughput only)"
            );
        }
        let regex = match &args.progress.progress_regex {
            Some(text) => Some(Arc::new(
                RegexProgress::new(text, args.progress.progress_regex_kind)
                    .context("--progress-regex")?,
            )),
            None => None,
        };
        Ok(Plan {
            settings,
            latency_points: args.latency.points()?,
            schedule,
            regex,
        })
    }
}

/// Messages into the main loop.
enum Msg {
    Engine(Event),
    Signal,
    Command(u32, String),
}

fn execute(args: &RunArgs, plan: Plan) -> anyhow::Result<ExitCode> {
    crate::live::interpreter::check_command(&args.command, "")?;
    let json_to_stdout = args.json.as_deref() == Some(Path::new("-"));
    let mut json = match &args.json {
        None => None,
        Some(p) if p == Path::new("-") => Some(JsonLines::new(Box::new(io::stdout()))),
        Some(p) => Some(JsonLines::new(Box::new(File::create(p).with_context(
            || format!("cannot create --json file {}", p.display()),
        )?))),
    };
    let live_terminal = !args.quiet && io::stderr().is_terminal();
    let view = Arc::new(View::new(live_terminal, json_to_stdout));
    let output: Arc<dyn OutputSink> = if live_terminal {
        Arc::clone(&view) as Arc<dyn OutputSink>
    } else {
        Arc::new(Passthrough::new(json_to_stdout))
    };
    // Without a progress source, the output's own rate lines are watched
    // to suggest one at the end.
    let no_progress = plan.settings.progress_points.is_empty() && plan.regex.is_none();
    let watch = no_progress.then(|| Arc::new(RateWatch::new(Arc::clone(&output))));
    let output = watch
        .as_ref()
        .map_or(output, |w| Arc::clone(w) as Arc<dyn OutputSink>);

    let (tx, rx) = mpsc::channel::<Msg>();
    let sink: EventSink = {
        let tx = Mutex::new(tx.clone());
        Arc::new(move |event| {
            let _ = tx
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .send(Msg::Engine(event));
        })
    };
    let mut config = SessionConfig::new(args.command.clone(), plan.settings.clone());
    config.env_fallback = args.env_fallback;
    config.output = Some(output);
    config.sample_interval = args.interval;
    config.rate_window = args.rate_window.max(args.interval);
    config.top_functions = args.top;
    config.regex = plan.regex.clone();
    config.api_name = args.progress.progress_name.clone();
    config.concurrency = args.concurrency;
    config.latency_points = plan.latency_points.clone();
    config.stdin = if args.control_stdin || io::stdin().is_terminal() {
        StdinMode::Null
    } else {
        StdinMode::Inherit
    };

    let pgid = Arc::new(Mutex::new(None::<u32>));
    install_signal_thread(tx.clone(), Arc::clone(&pgid))?;
    let session = LiveSession::start(config, sink)?;
    *pgid.lock().unwrap_or_else(PoisonError::into_inner) = Some(session.pid());
    if args.control_stdin {
        spawn_stdin_reader(tx.clone())?;
    }
    drop(tx);

    let schedule = plan.schedule.unwrap_or_default();
    let mut cursor = ScheduleCursor::default();
    let mut settings = plan.settings;
    let status_every = Duration::from_secs(2);
    let mut last_status = Instant::now();
    let mut latest: Option<Box<LiveSnapshot>> = None;
    let started = session.started();
    let apply_timeout = Duration::from_secs(1);
    loop {
        let elapsed = started.elapsed();
        for step in cursor.due(&schedule, elapsed) {
            apply_command(&session, &mut settings, &step.command, &view, apply_timeout);
        }
        let until_step = cursor
            .next_at(&schedule)
            .map_or(Duration::from_millis(250), |at| {
                at.saturating_sub(started.elapsed())
            });
        let wait = until_step.min(Duration::from_millis(250));
        match rx.recv_timeout(wait) {
            Ok(Msg::Engine(Event::Snapshot(snapshot))) => {
                if let Some(json) = json.as_mut() {
                    json.write(&*snapshot);
                }
                if live_terminal {
                    view.update(&snapshot, &settings);
                } else if !args.quiet && last_status.elapsed() >= status_every {
                    last_status = Instant::now();
                    view.message(&status_line(&snapshot));
                }
                latest = Some(snapshot);
            }
            Ok(Msg::Engine(Event::Applied(report))) => {
                if let Some(json) = json.as_mut() {
                    json.write(&report);
                }
                if !args.quiet || report.timed_out {
                    view.message(&describe_apply(&report));
                }
            }
            Ok(Msg::Engine(Event::Warning(warning))) => {
                view.message(&format!("speedbump: warning: {warning}"));
            }
            Ok(Msg::Engine(Event::Exited(_))) => break,
            Ok(Msg::Signal) => session.stop(StopReason::Interrupt),
            Ok(Msg::Command(line, text)) => {
                let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                match parse_command("stdin", line, &text, &base) {
                    Ok(Some(command)) => {
                        apply_command(&session, &mut settings, &command, &view, apply_timeout);
                    }
                    Ok(None) => {}
                    Err(e) => view.message(&format!("speedbump: {e}")),
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(latest);
    let summary = session.finish()?;
    view.clear();
    // Events sent while finishing (warnings from the last samples).
    while let Ok(msg) = rx.try_recv() {
        match msg {
            Msg::Engine(Event::Warning(warning)) => {
                view.message(&format!("speedbump: warning: {warning}"));
            }
            Msg::Engine(Event::Applied(report)) => {
                if let Some(json) = json.as_mut() {
                    json.write(&report);
                }
                if !args.quiet || report.timed_out {
                    view.message(&describe_apply(&report));
                }
            }
            // The run is over: no status to draw, nothing left to stop or apply.
            Msg::Engine(Event::Snapshot(_) | Event::Exited(_)) | Msg::Signal | Msg::Command(..) => {
            }
        }
    }
    if let Some(json) = json.as_mut() {
        json.write(&summary);
        json.flush()?;
    }
    // Fitted to the terminal (80 columns when stderr is not one), so no
    // table row wraps.
    // A terminal that reports no size (0 columns) counts as 80.
    let width = match terminal_size().0 {
        0 => 80,
        columns => columns.saturating_sub(1),
    };
    let text = summary_text(&summary, args.top, width);
    let text = if args.quiet {
        text.lines().next().unwrap_or_default().to_owned() + "\n"
    } else {
        text
    };
    let _ = io::stderr().lock().write_all(text.as_bytes());
    if let Some(watch) = &watch
        && !args.quiet
        && summary
            .throughput
            .iter()
            .all(|t| t.source == crate::live::snapshot::SourceKind::Runs || t.per_second.is_none())
    {
        for line in crate::live::suggest::for_run(&summary, watch.rate_line().as_ref()) {
            eprintln!("speedbump: no progress source given; {line}");
        }
    }
    let code = if summary.exit.interrupted {
        130
    } else if summary.exit.stopped {
        0
    } else {
        summary.exit.status
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// Applies one command: new settings are published (and their spread
/// measured), `stop` stops the workload.
fn apply_command(
    session: &LiveSession,
    settings: &mut LiveSettings,
    command: &ControlCommand,
    view: &View,
    timeout: Duration,
) {
    if command.is_stop() {
        view.message("speedbump: stopping the workload (schedule)");
        session.stop(StopReason::Planned);
        return;
    }
    let mut next = settings.clone();
    if let Err(message) = command.apply(&mut next) {
        view.message(&format!("speedbump: {message}"));
        return;
    }
    if next == *settings {
        return;
    }
    match session.set_settings_tracked(next.clone(), timeout) {
        Ok(_) => *settings = next,
        Err(e) => view.message(&format!(
            "speedbump: cannot change settings: {}",
            crate::error::chain(&e)
        )),
    }
}

/// SIGINT, SIGTERM, SIGHUP: the first asks the main loop to stop the
/// workload gracefully; a second one kills its process group at once.
fn install_signal_thread(
    tx: mpsc::Sender<Msg>,
    pgid: Arc<Mutex<Option<u32>>>,
) -> anyhow::Result<()> {
    let mut count = 0u32;
    super::on_stop_signals(move || {
        count = count.saturating_add(1);
        if count > 1
            && let Some(pgid) = *pgid.lock().unwrap_or_else(PoisonError::into_inner)
        {
            signal_group(pgid, rustix::process::Signal::KILL);
        }
        let _ = tx.send(Msg::Signal);
    })
}

fn spawn_stdin_reader(tx: mpsc::Sender<Msg>) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name("speedbump-stdin".into())
        .spawn(move || {
            for (index, line) in io::stdin().lock().lines().enumerate() {
                let Ok(line) = line else {
                    break;
                };
                let number = u32::try_from(index.saturating_add(1)).unwrap_or(u32::MAX);
                if tx.send(Msg::Command(number, line)).is_err() {
                    break;
                }
            }
        })
        .context("cannot start the stdin reader")?;
    Ok(())
}

/// `--json` output: one object per line, flushed per line.
struct JsonLines {
    out: BufWriter<Box<dyn Write + Send>>,
    failed: bool,
}

impl JsonLines {
    fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: BufWriter::new(out),
            failed: false,
        }
    }

    fn write(&mut self, value: &impl Serialize) {
        if self.failed {
            return;
        }
        let result = serde_json::to_writer(&mut self.out, value)
            .map_err(io::Error::other)
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| self.out.flush());
        if let Err(e) = result {
            self.failed = true;
            let _ = writeln!(
                io::stderr(),
                "speedbump: warning: --json output stopped: {e}"
            );
        }
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.out.flush().context("cannot write the --json output")
    }
}

/// The terminal: the workload's lines scroll above a status block that is
/// redrawn in place (at most 4 times a second). Without a terminal it only
/// writes messages.
struct View {
    live: bool,
    stdout_to_stderr: bool,
    stdout_is_terminal: bool,
    state: Mutex<ViewState>,
}

#[derive(Default)]
struct ViewState {
    /// Lines of the block now on screen.
    drawn: usize,
    block: Vec<String>,
    /// The last `\r`-terminated piece (a progress bar), shown in the block.
    partial: Option<String>,
    last_draw: Option<Instant>,
}

const REDRAW_EVERY: Duration = Duration::from_millis(250);

impl View {
    fn new(live: bool, stdout_to_stderr: bool) -> Self {
        Self {
            live,
            stdout_to_stderr,
            stdout_is_terminal: io::stdout().is_terminal(),
            state: Mutex::new(ViewState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ViewState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// New status from a snapshot.
    fn update(&self, snapshot: &LiveSnapshot, settings: &LiveSettings) {
        let (width, height) = terminal_size();
        let rows = (height / 2).clamp(4, 16);
        let mut state = self.lock();
        state.block = status_block(snapshot, settings, width.saturating_sub(1), rows);
        if state.last_draw.is_none_or(|t| t.elapsed() >= REDRAW_EVERY) {
            let mut err = io::stderr().lock();
            let _ = self.erase(&mut state, &mut err);
            let _ = self.draw(&mut state, &mut err, width);
        }
    }

    /// A line of ours (warnings, changes), above the block.
    fn message(&self, line: &str) {
        let mut state = self.lock();
        let mut err = io::stderr().lock();
        let _ = self.erase(&mut state, &mut err);
        let _ = writeln!(err, "{line}");
        if self.live {
            let _ = self.draw(&mut state, &mut err, terminal_size().0);
        }
        let _ = err.flush();
    }

    /// Removes the block for good (before the summary).
    fn clear(&self) {
        let mut state = self.lock();
        let mut err = io::stderr().lock();
        let _ = self.erase(&mut state, &mut err);
        state.block.clear();
        state.partial = None;
        let _ = err.flush();
    }

    fn erase(&self, state: &mut ViewState, err: &mut impl Write) -> io::Result<()> {
        if state.drawn > 0 {
            write!(err, "\x1b[{}A\r\x1b[J", state.drawn)?;
            state.drawn = 0;
        }
        Ok(())
    }

    fn draw(&self, state: &mut ViewState, err: &mut impl Write, width: usize) -> io::Result<()> {
        if !self.live {
            return Ok(());
        }
        let mut lines = 0;
        if let Some(partial) = &state.partial {
            let shown: String = partial.chars().take(width.saturating_sub(1)).collect();
            writeln!(err, "{shown}")?;
            lines += 1;
        }
        for line in &state.block {
            writeln!(err, "\x1b[2m{line}\x1b[0m")?;
            lines += 1;
        }
        err.flush()?;
        state.drawn = lines;
        state.last_draw = Some(Instant::now());
        Ok(())
    }
}

impl OutputSink for View {
    fn lines(&self, stream: Stream, lines: &[&[u8]]) {
        let to_stdout = stream == Stream::Stdout && !self.stdout_to_stderr;
        let mut state = self.lock();
        let mut full: Vec<&[u8]> = Vec::with_capacity(lines.len());
        for line in lines {
            if line.ends_with(b"\r") {
                let text = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line));
                state.partial = Some(text.trim().to_owned());
            } else {
                full.push(line);
            }
        }
        if !full.is_empty() {
            state.partial = None;
        }
        let mut err = io::stderr().lock();
        let touches_terminal = !to_stdout || self.stdout_is_terminal;
        if touches_terminal || full.is_empty() {
            let _ = self.erase(&mut state, &mut err);
        }
        if !full.is_empty() {
            let _ = if to_stdout {
                write_all_lines(&mut io::stdout().lock(), &full)
            } else {
                write_all_lines(&mut err, &full)
            };
        }
        if state.drawn == 0 {
            let _ = self.draw(&mut state, &mut err, terminal_size().0);
        }
    }
}

fn terminal_size() -> (usize, usize) {
    terminal_size::terminal_size_of(io::stderr())
        .map_or((80, 24), |(w, h)| (usize::from(w.0), usize::from(h.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("run").chain(args.iter().copied())).map(|c| c.run)
    }

    #[test]
    fn options_parse() {
        let a = parse(&[
            "--pattern",
            "a.*:*",
            "--delay",
            "10us",
            "--frequency",
            "3",
            "--progress",
            "m:C.step",
            "--progress-regex",
            "T: ([0-9.]+)",
            "--progress-regex-kind",
            "count",
            "--interval",
            "50ms",
            "--",
            "python",
            "-u",
            "x.py",
        ])
        .unwrap();
        assert_eq!(a.delay, Some(10_000));
        assert_eq!(a.targets.frequency, 3);
        assert_eq!(
            a.progress.progress_regex_kind,
            crate::live::progress::RegexKind::Count
        );
        assert_eq!(a.interval, Duration::from_millis(50));
        assert_eq!(a.command, ["python", "-u", "x.py"]);
        let plan = Plan::from_args(&a).unwrap();
        assert_eq!(plan.settings.patterns, ["a.*:*"]);
        assert_eq!(plan.settings.progress_points, ["m:C.step"]);
        assert!(plan.regex.is_some());
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        let e = parse(&["--delay", "10 parsecs", "--", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a duration"), "{e}");
        let e = parse(&["--interval", "100", "--", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no unit"), "{e}");
        let e = parse(&["--frequency", "0", "--", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("zero"), "{e}");
        assert!(
            parse(&["--pattern", "a:*"]).is_err(),
            "a command is required"
        );
    }

    #[test]
    fn nothing_to_slow_is_an_error_unless_only_measuring() {
        let a = parse(&["--", "python", "x.py"]).unwrap();
        let e = Plan::from_args(&a).err().unwrap().to_string();
        assert!(e.contains("nothing to slow down"), "{e}");
        let a = parse(&["--delay", "0", "--", "python", "x.py"]).unwrap();
        assert!(Plan::from_args(&a).is_ok());
        let a = parse(&["--pattern", "a.[b:*", "--", "x"]).unwrap();
        let e = Plan::from_args(&a).err().unwrap().to_string();
        assert!(e.starts_with("--pattern:1:3: "), "{e}");
        assert!(e.contains('^'), "{e}");
        let a = parse(&["--pattern", "a:*", "--progress-regex", "(", "--", "x"]).unwrap();
        let e = format!("{:#}", Plan::from_args(&a).err().unwrap());
        assert!(e.starts_with("--progress-regex: "), "{e}");
        assert!(e.contains("unclosed group"), "{e}");
    }
}
