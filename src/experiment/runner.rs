//! The engine thread: executes [`Command`]s in order on a [`Target`] and
//! sends [`Update`]s.
//!
//! Two threads: a forwarder that reads the front end's commands as they
//! come (so `Cancel` and `Shutdown` take effect while an experiment runs:
//! they advance the cancel epoch, which the running experiment watches
//! between and within windows), and the runner that executes them one
//! after the other. Every `Census`, `Sweep` and `Rank` command ends with
//! exactly one `CensusDone`, `SweepDone` or `RankDone` (partial, or empty,
//! when cancelled or cut short), preceded by `WorkloadExited` when the
//! workload ended and by a `Warning` when something else stopped it. The
//! thread ends after `Shutdown` (or when the front end drops its command
//! sender): it stops the workload and sends `Finished`.
//!
//! Every experiment ends in one place, [`Runner::experiment`]: however it
//! ended (done, budget, cancel, error, the workload exiting), the idle
//! settings are put back in force in every running process before its Done
//! update goes out, so a workload is never left slowed by an experiment. The
//! idle settings slow nothing: the patterns of the last census at delay 0
//! (so the live view keeps counting calls per function), or none before a
//! census.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};

use crate::analysis::CallTree;
use crate::live::progress::{RegexKind, RegexProgress, regex_error};
use crate::live::{EngineError, LiveSettings};

use super::census::run_census;
use super::context::{Context, UpdateSink, template};
use super::options::EngineOptions;
use super::paired::Interruption;
use super::protocol::{CensusResult, Command, EngineHandle, ExperimentConfig, Mode, Update};
use super::rank::{RankRequest, run_rank};
use super::sweep::{SweepRequest, run_sweep};
use super::target::{Cancel, Target, TargetError};

/// Starts the engine thread on a target made by `make_target` (which gets
/// the update sink, for targets that report on their own: runs started,
/// output lines, live snapshots). Errors of `make_target` (the workload
/// cannot start) are returned before any thread starts.
pub fn spawn_on(
    config: ExperimentConfig,
    options: EngineOptions,
    make_target: impl FnOnce(UpdateSink) -> Result<Box<dyn Target>, EngineError>,
) -> Result<EngineHandle, EngineError> {
    let (update_tx, updates) = mpsc::channel::<Update>();
    let update_tx = Mutex::new(update_tx);
    let sink: UpdateSink = Arc::new(move |update| {
        let _ = update_tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(update);
    });
    let target = make_target(Arc::clone(&sink))?;
    if target.mode() == Mode::Live {
        sink(Update::Started {
            mode: Mode::Live,
            command: config.command.clone(),
        });
    }
    let (commands, command_rx) = mpsc::channel::<Command>();
    let (queue_tx, queue_rx) = mpsc::channel::<(Command, u64)>();
    let epoch = Arc::new(AtomicU64::new(0));
    {
        let epoch = Arc::clone(&epoch);
        std::thread::Builder::new()
            .name("speedbump-commands".into())
            .spawn(move || forward_commands(&command_rx, &queue_tx, &epoch))
            .map_err(|e| EngineError::Helper {
                what: "command reader",
                source: e,
            })?;
    }
    std::thread::Builder::new()
        .name("speedbump-experiments".into())
        .spawn(move || {
            let idle = template(&config, &options, &[], 0, 1);
            let mut runner = Runner {
                target,
                config,
                options,
                sink: Arc::clone(&sink),
                epoch,
                idle,
            };
            let outcome = catch_unwind(AssertUnwindSafe(|| runner.run(&queue_rx)));
            let _ = catch_unwind(AssertUnwindSafe(|| runner.target.shutdown()));
            let error = outcome.err().map(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                format!("internal error in the experiment engine: {what}; please report it")
            });
            sink(Update::Finished { error });
        })
        .map_err(|e| EngineError::Helper {
            what: "experiment thread",
            source: e,
        })?;
    Ok(EngineHandle { commands, updates })
}

/// Reads commands as they come; `Cancel` and `Shutdown` advance the epoch
/// at once. Each command is queued with the epoch it arrived in. A closed
/// command channel means `Shutdown`.
fn forward_commands(
    commands: &Receiver<Command>,
    queue: &mpsc::Sender<(Command, u64)>,
    epoch: &AtomicU64,
) {
    loop {
        let command = commands.recv().unwrap_or(Command::Shutdown);
        let shutdown = command == Command::Shutdown;
        let now = if matches!(command, Command::Cancel | Command::Shutdown) {
            epoch.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            epoch.load(Ordering::Acquire)
        };
        if queue.send((command, now)).is_err() || shutdown {
            return;
        }
    }
}

struct Runner {
    target: Box<dyn Target>,
    config: ExperimentConfig,
    options: EngineOptions,
    sink: UpdateSink,
    epoch: Arc<AtomicU64>,
    /// The settings in force between experiments (see the module docs).
    idle: LiveSettings,
}

impl Runner {
    fn run(&mut self, queue: &Receiver<(Command, u64)>) {
        while let Ok((command, epoch)) = queue.recv() {
            let cancel = Cancel::new(Arc::clone(&self.epoch), epoch);
            match command {
                Command::Shutdown => return,
                Command::Cancel => {}
                Command::Apply(mut settings) => {
                    // Settings by hand keep counting the progress points.
                    if settings.progress_points.is_empty() {
                        settings
                            .progress_points
                            .clone_from(&self.config.progress_points);
                    }
                    if let Err(e) = self.target.apply(&settings, &cancel) {
                        (self.sink)(Update::Warning(format!(
                            "cannot apply the settings: {}",
                            crate::error::chain(&e)
                        )));
                    }
                }
                Command::SetProgressPoints(points) => self.set_progress_points(points, &cancel),
                Command::SetProgressRegex { regex, kind } => {
                    self.set_progress_regex(&regex, kind, &cancel);
                }
                Command::Census { patterns, window_s } => {
                    let done = self.experiment(&cancel, |ctx| {
                        let result = run_census(ctx, &patterns, window_s);
                        let idle = result.is_ok().then(|| ctx.settings(&patterns, 0, 1));
                        match result {
                            Ok(census) => (census, None, idle),
                            Err(interruption) => (empty_census(patterns), Some(interruption), None),
                        }
                    });
                    (self.sink)(Update::CensusDone(Box::new(done)));
                }
                Command::Sweep {
                    patterns,
                    delays_ns,
                    frequency,
                    budget_s,
                } => {
                    let request = SweepRequest {
                        patterns,
                        delays_ns,
                        frequency,
                        budget_s,
                    };
                    let done = self.experiment(&cancel, |ctx| {
                        let (result, interruption) = run_sweep(ctx, &request);
                        (result, interruption, None)
                    });
                    (self.sink)(Update::SweepDone(Box::new(done)));
                }
                Command::Rank {
                    candidates,
                    delay_ns,
                    dose,
                    frequency,
                    budget_s,
                } => {
                    let request = RankRequest {
                        candidates,
                        delay_ns,
                        dose,
                        frequency,
                        budget_s,
                    };
                    let done = self.experiment(&cancel, |ctx| {
                        let (result, interruption) = run_rank(ctx, &request);
                        (result, interruption, None)
                    });
                    (self.sink)(Update::RankDone(Box::new(done)));
                }
            }
        }
    }

    /// Runs one experiment and ends it, the one place every experiment ends
    /// through: reports why it stopped early (if it did) and puts the idle
    /// settings back in force, whatever happened, even if the experiment
    /// panicked (the panic then goes on to the thread's handler). `run`
    /// returns the result, why it was interrupted, and new idle settings
    /// (a census that completed).
    fn experiment<R>(
        &mut self,
        cancel: &Cancel,
        run: impl FnOnce(&mut Context<'_>) -> (R, Option<Interruption>, Option<LiveSettings>),
    ) -> R {
        let outcome = catch_unwind(AssertUnwindSafe(|| run(&mut self.context(cancel))));
        let (result, interruption, idle) = match outcome {
            Ok(outcome) => outcome,
            Err(panic) => {
                self.restore_idle();
                std::panic::resume_unwind(panic);
            }
        };
        if let Some(i) = &interruption {
            self.report(i);
        }
        if let Some(idle) = idle {
            self.idle = idle;
        }
        self.restore_idle();
        result
    }

    /// A new progress source: checked, then in the configuration (every
    /// later experiment's settings), the idle settings and the target, and
    /// put in force at once so the live view counts it.
    fn set_progress_points(&mut self, points: Vec<String>, cancel: &Cancel) {
        let points: Result<Vec<String>, _> = points
            .iter()
            .map(|p| crate::live::settings::normalise_progress_point("progress point", p))
            .collect();
        let points = match points {
            Ok(points) => points,
            Err(e) => {
                (self.sink)(Update::Warning(format!("progress point not changed: {e}")));
                return;
            }
        };
        self.config.progress_points.clone_from(&points);
        self.idle.progress_points.clone_from(&points);
        self.target.set_progress_points(&points);
        if self.target.is_running() {
            if let Err(e) = self.target.apply(&self.idle, cancel) {
                (self.sink)(Update::Warning(format!(
                    "cannot put the new progress point in force: {}",
                    crate::error::chain(&e)
                )));
            }
        }
    }

    /// A new output regex as the progress source: checked, then in the
    /// configuration, replacing the progress points there, in the idle
    /// settings and in the target (so the hook stops counting them), and put
    /// in force at once with a fresh series.
    fn set_progress_regex(&mut self, text: &str, kind: RegexKind, cancel: &Cancel) {
        let regex = match RegexProgress::new(text, kind) {
            Ok(regex) => Arc::new(regex),
            Err(_) => {
                let why = regex_error(text).unwrap_or_default();
                (self.sink)(Update::Warning(format!(
                    "progress regex not changed: '{text}' is not a regex: {why}"
                )));
                return;
            }
        };
        self.config.progress_regex = Some(text.to_owned());
        self.config.progress_regex_is_rate = regex.kind() == RegexKind::Rate;
        self.options.regex_kind = Some(regex.kind());
        self.config.progress_points.clear();
        self.idle.progress_points.clear();
        self.target.set_progress_points(&[]);
        self.target.set_progress_regex(regex);
        if self.target.is_running() {
            if let Err(e) = self.target.apply(&self.idle, cancel) {
                (self.sink)(Update::Warning(format!(
                    "cannot put the new progress regex in force: {}",
                    crate::error::chain(&e)
                )));
            }
        }
    }

    /// Puts the idle settings in force in every running process (not
    /// cancellable: a cancelled experiment must still leave nothing slowed).
    /// A workload that has ended has nothing left to restore.
    fn restore_idle(&mut self) {
        if !self.target.is_running() {
            return;
        }
        if let Err(e) = self.target.apply(&self.idle, &Cancel::never()) {
            if !matches!(e, TargetError::Exited(_)) {
                (self.sink)(Update::Warning(format!(
                    "cannot put the idle settings back after the experiment \
                     (the workload may still be slowed): {e}"
                )));
            }
        }
    }

    fn context<'a>(&'a mut self, cancel: &'a Cancel) -> Context<'a> {
        Context {
            target: self.target.as_mut(),
            config: &self.config,
            options: &self.options,
            cancel,
            sink: &self.sink,
        }
    }

    fn report(&self, interruption: &Interruption) {
        match interruption {
            Interruption::Cancelled => {}
            Interruption::Exited(info) => (self.sink)(Update::WorkloadExited {
                status: info.status,
                signal: info.signal,
                last_lines: info.last_lines.clone(),
            }),
            Interruption::Failed(message) => (self.sink)(Update::Warning(message.clone())),
        }
    }
}

fn empty_census(patterns: Vec<String>) -> CensusResult {
    let tree = CallTree::from_census(&[]);
    CensusResult {
        patterns,
        window_s: 0.0,
        throughput_per_s: None,
        top_level: tree.top_level_candidates(),
        tree,
    }
}
