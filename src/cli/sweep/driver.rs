//! Running the engine for a headless command: a progress bar on stderr,
//! Ctrl-C to cancel, results recorded after every experiment, the exit
//! status.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::analysis::{Candidate, RelativeThroughput, SweepPoint, Verdict};
use crate::experiment::results::{ExperimentRecord, ResultsFile, now_unix_s};
use crate::experiment::{
    CensusResult, Command, EngineHandle, ExperimentKind, RankResult, SweepResult, Update,
    spawn_with,
};
use crate::report::text::{ratio, verdict_brief};

use super::args::HeadlessArgs;

/// How an experiment ended, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Every setting reached the precision.
    Conclusive = 0,
    /// Some setting is too noisy to conclude.
    TooNoisy = 1,
    /// The workload crashed or exited early.
    WorkloadEnded = 3,
    /// Ctrl-C.
    Interrupted = 130,
}

impl Outcome {
    /// The exit status.
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }

    /// Conclusive when every verdict is precise, else too noisy.
    pub fn from_verdicts(verdicts: &[Verdict]) -> Outcome {
        if verdicts
            .iter()
            .all(|v| matches!(v, Verdict::Precise { .. }))
        {
            Outcome::Conclusive
        } else {
            Outcome::TooNoisy
        }
    }
}

/// What [`Driver::next`] passes on to an experiment's loop: the updates that
/// carry evidence or a result. `next` matches every [`Update`], so a new
/// variant has to be placed here or handled there.
enum Step {
    Census(Box<CensusResult>),
    /// `Update::SweepPoint`'s index, point and verdict.
    SweepPoint(usize, Option<SweepPoint>, Verdict),
    SweepDone(Box<SweepResult>),
    /// `Update::CandidateUpdate`'s index, relative throughput and verdict.
    Candidate(usize, Option<RelativeThroughput>, Verdict),
    RankDone(Box<RankResult>),
    /// Nothing for the loop: the session server's own messages (a direct
    /// engine never sends them) or the engine's normal end.
    Nothing,
}

/// Runs the engine for a headless command: a progress bar on stderr,
/// Ctrl-C cancels the running experiment (a second one exits at once),
/// results appended to the results file after every experiment.
pub struct Driver {
    engine: EngineHandle,
    bar: ProgressBar,
    show_output: bool,
    interrupted: Arc<AtomicBool>,
    workload_ended: Option<String>,
    results: ResultsFile,
    out: PathBuf,
    record: ExperimentRecord,
}

impl Driver {
    /// Starts the engine (and the workload, in live and auto modes).
    pub fn start(args: &HeadlessArgs) -> anyhow::Result<Driver> {
        let (config, options) = args.setup()?;
        crate::live::interpreter::check_command(&args.command, "")?;
        let results = ResultsFile::load_for_append(&args.out, args.fresh)?;
        check_writable(&args.out)?;
        let record = ExperimentRecord {
            kind: ExperimentKind::Census,
            started_unix_s: now_unix_s(),
            command: config.command.clone(),
            mode: config.mode,
            seed: config.seed,
            target_precision: config.target_precision,
            warmup_s: config.warmup_s,
            progress: Some(args.workload.progress.source()),
            census: None,
            sweep: None,
            rank: None,
        };
        let engine = spawn_with(config, options)
            .with_context(|| format!("cannot start {}", record.command.join(" ")))?;
        let interrupted = Arc::new(AtomicBool::new(false));
        install_interrupt(engine.commands.clone(), Arc::clone(&interrupted))?;
        let bar = if args.quiet {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {prefix} [{elapsed_precise}] {bar:24} {pos}/{len} s {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        };
        Ok(Driver {
            engine,
            bar,
            show_output: args.show_output,
            interrupted,
            workload_ended: None,
            results,
            out: args.out.clone(),
            record,
        })
    }

    /// Whether Ctrl-C was pressed.
    pub fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::Acquire)
    }

    /// A line above the progress bar (or on stderr without one).
    pub fn note(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    fn send(&self, command: Command) -> anyhow::Result<()> {
        self.engine
            .commands
            .send(command)
            .map_err(|_| anyhow!("the experiment engine stopped unexpectedly"))
    }

    /// The next update an experiment cares about; the others (output,
    /// warnings, progress, exits) are handled here.
    fn next(&mut self) -> anyhow::Result<Step> {
        loop {
            let update = self
                .engine
                .updates
                .recv()
                .map_err(|_| anyhow!("the experiment engine stopped unexpectedly"))?;
            match update {
                Update::Output { line, .. } => {
                    if self.show_output {
                        self.note(&line);
                    }
                }
                Update::Warning(w) => self.note(&format!("speedbump: warning: {w}")),
                Update::Progress {
                    spent_s, budget_s, ..
                } => {
                    self.bar.set_length(budget_s.max(1.0).round() as u64);
                    self.bar.set_position(spent_s.max(0.0).round() as u64);
                }
                Update::WorkloadExited {
                    status,
                    signal,
                    last_lines,
                } => {
                    let how = match (status, signal) {
                        (_, Some(s)) => format!("was killed by signal {s}"),
                        (Some(c), None) => format!("exited with status {c}"),
                        _ => "ended".to_owned(),
                    };
                    let mut text = format!("speedbump: the workload {how}; its last lines:");
                    for line in &last_lines {
                        text.push_str("\n  | ");
                        text.push_str(line);
                    }
                    self.note(&text);
                    self.workload_ended = Some(how);
                }
                Update::Finished { error: Some(e) } => bail!("{e}"),
                Update::Started { .. } | Update::Live(_) | Update::Applied(_) => {}
                Update::CensusDone(census) => return Ok(Step::Census(census)),
                Update::SweepPoint {
                    index,
                    point,
                    verdict,
                } => return Ok(Step::SweepPoint(index, point, verdict)),
                Update::SweepDone(result) => return Ok(Step::SweepDone(result)),
                Update::CandidateUpdate {
                    index,
                    relative,
                    verdict,
                } => return Ok(Step::Candidate(index, relative, verdict)),
                Update::RankDone(result) => return Ok(Step::RankDone(result)),
                Update::Accepted(_) | Update::Refused { .. } | Update::Finished { error: None } => {
                    return Ok(Step::Nothing);
                }
            }
        }
    }

    /// Runs a census.
    pub fn census(&mut self, patterns: Vec<String>, window_s: f64) -> anyhow::Result<CensusResult> {
        self.bar.set_prefix("census");
        self.bar.set_length(window_s.ceil().max(1.0) as u64);
        self.bar
            .set_message(format!("counting calls of {}", patterns.join(" ")));
        self.send(Command::Census { patterns, window_s })?;
        loop {
            match self.next()? {
                Step::Census(census) => {
                    let census = *census;
                    self.record(ExperimentKind::Census, |r| r.census = Some(census.clone()))?;
                    return Ok(census);
                }
                Step::SweepPoint(..)
                | Step::SweepDone(_)
                | Step::Candidate(..)
                | Step::RankDone(_)
                | Step::Nothing => {}
            }
        }
    }

    /// Runs a sweep.
    pub fn sweep(
        &mut self,
        patterns: Vec<String>,
        delays_ns: Vec<u64>,
        frequency: u64,
        budget_s: f64,
    ) -> anyhow::Result<SweepResult> {
        self.bar.set_prefix("sweep");
        self.bar.set_length(budget_s.round().max(1.0) as u64);
        self.bar.set_position(0);
        self.send(Command::Sweep {
            patterns,
            delays_ns: delays_ns.clone(),
            frequency,
            budget_s,
        })?;
        loop {
            match self.next()? {
                Step::SweepPoint(index, point, verdict) => {
                    let d = crate::units::format_ns(delays_ns.get(index).copied().unwrap_or(0));
                    let text = point_text(point.as_ref(), &verdict);
                    if verdict.is_final() {
                        self.note(&format!("  {d}: {text}"));
                    } else {
                        self.bar.set_message(format!("{d}: {text}"));
                    }
                }
                Step::SweepDone(result) => {
                    let result = *result;
                    return Ok(result);
                }
                Step::Census(_) | Step::Candidate(..) | Step::RankDone(_) | Step::Nothing => {}
            }
        }
    }

    /// Runs a ranking; `labels` name the candidates in order.
    pub fn rank(
        &mut self,
        candidates: Vec<Candidate>,
        delay_ns: u64,
        dose: Option<f64>,
        frequency: u64,
        budget_s: f64,
    ) -> anyhow::Result<RankResult> {
        let labels: Vec<String> = candidates.iter().map(|c| c.label.clone()).collect();
        self.bar.set_prefix("rank");
        self.bar.set_length(budget_s.round().max(1.0) as u64);
        self.bar.set_position(0);
        self.send(Command::Rank {
            candidates,
            delay_ns,
            dose,
            frequency,
            budget_s,
        })?;
        loop {
            match self.next()? {
                Step::Candidate(index, relative, verdict) => {
                    let label = labels.get(index).map_or("?", String::as_str);
                    let text = match &relative {
                        Some(r) => format!("{} ({})", ratio(r.relative), verdict_brief(&verdict)),
                        None => verdict_brief(&verdict),
                    };
                    if verdict.is_final() {
                        self.note(&format!("  {label}: {text}"));
                    } else {
                        self.bar.set_message(format!("{label}: {text}"));
                    }
                }
                Step::RankDone(result) => return Ok(*result),
                Step::Census(_) | Step::SweepPoint(..) | Step::SweepDone(_) | Step::Nothing => {}
            }
        }
    }

    /// Appends an experiment to the results file and writes it.
    pub fn record(
        &mut self,
        kind: ExperimentKind,
        fill: impl FnOnce(&mut ExperimentRecord),
    ) -> anyhow::Result<()> {
        let mut record = ExperimentRecord {
            kind,
            started_unix_s: now_unix_s(),
            ..self.record.clone()
        };
        fill(&mut record);
        self.results.experiments.push(record);
        Ok(self.results.save(&self.out)?)
    }

    /// The outcome so far, given the experiment's verdicts.
    pub fn outcome(&self, verdicts: &[Verdict]) -> Outcome {
        if self.interrupted() {
            Outcome::Interrupted
        } else if self.workload_ended.is_some() {
            Outcome::WorkloadEnded
        } else {
            Outcome::from_verdicts(verdicts)
        }
    }

    /// Stops the workload and the engine, then prints `report` on stdout.
    pub fn finish(self, report: &str) -> anyhow::Result<()> {
        self.bar.finish_and_clear();
        let _ = self.engine.commands.send(Command::Shutdown);
        for update in &self.engine.updates {
            if let Update::Finished { error } = update {
                if let Some(e) = error {
                    eprintln!("speedbump: warning: {e}");
                }
                break;
            }
        }
        let mut out = std::io::stdout().lock();
        out.write_all(report.as_bytes())
            .and_then(|()| out.flush())
            .context("cannot write the results to stdout")?;
        if std::io::stderr().is_terminal() {
            eprintln!("speedbump: results in {}", self.out.display());
        }
        Ok(())
    }
}

/// Fails early when the results file cannot be written.
fn check_writable(path: &Path) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!(
            "cannot write {}: {} is not a directory",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

/// The first Ctrl-C (SIGINT, SIGTERM, SIGHUP) cancels the running
/// experiment, keeping what it measured; a second exits at once.
fn install_interrupt(
    commands: std::sync::mpsc::Sender<Command>,
    interrupted: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    crate::cli::on_stop_signals(move || {
        if interrupted.swap(true, Ordering::AcqRel) {
            eprintln!("speedbump: interrupted again; exiting now");
            std::process::exit(130);
        }
        eprintln!(
            "speedbump: interrupted; finishing with the pairs measured so far \
             (Ctrl-C again to exit at once)"
        );
        let _ = commands.send(Command::Cancel);
    })
}

fn point_text(point: Option<&SweepPoint>, verdict: &Verdict) -> String {
    match point {
        Some(p) => format!(
            "{} ({})",
            ratio(p.relative.relative),
            verdict_brief(verdict)
        ),
        None => verdict_brief(verdict),
    }
}
