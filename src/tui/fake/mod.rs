//! A fake experiment engine: a thread that speaks the engine protocol
//! ([`Command`] in, [`Update`] out) over a simulated workload
//! ([`model::Model`]) with plausible, seeded timing and noise. It backs the
//! TUI's tests and `speedbump tui --demo-fake`; it launches no process.

pub mod model;
pub mod script;

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use crate::analysis::prng::SplitMix64;
use crate::analysis::{
    Candidate, Pair, RelativeThroughput, StopRule, SweepPoint, Verdict, relative_throughput,
};
use crate::experiment::{Command, EngineHandle, ExperimentKind, Mode, Update};
use crate::live::LiveSettings;
use crate::live::snapshot::{ApplyReport, ProcessApply};
use model::{Model, rank_result, stop_rule, sweep_result};

/// How the fake behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeOptions {
    /// Seed of the noise.
    pub seed: u64,
    /// Simulated seconds per real second (10 = ten times faster).
    pub speed: f64,
    /// Real time between live snapshots.
    pub live_interval: Duration,
    /// Simulated seconds per measurement window.
    pub window_s: f64,
    /// Target half-width of intervals.
    pub precision: f64,
    /// The workload crashes after this many simulated seconds.
    pub crash_after_s: Option<f64>,
    /// The command it pretends to run.
    pub command: Vec<String>,
    /// Mode it reports.
    pub mode: Mode,
}

impl Default for FakeOptions {
    fn default() -> FakeOptions {
        FakeOptions {
            seed: 7,
            speed: 1.0,
            live_interval: Duration::from_millis(100),
            window_s: 0.5,
            precision: 0.02,
            crash_after_s: None,
            command: vec!["python".into(), "examples/pipeline.py".into()],
            mode: Mode::Live,
        }
    }
}

/// Starts the fake engine on its own thread.
pub fn spawn(options: FakeOptions) -> EngineHandle {
    let (commands, command_rx) = mpsc::channel();
    let (update_tx, updates) = mpsc::channel();
    thread::Builder::new()
        .name("speedbump-fake-engine".into())
        .spawn(move || Fake::new(options, update_tx).run(command_rx))
        .map(|_| ())
        .unwrap_or_else(|e| eprintln!("speedbump: cannot start the fake engine: {e}"));
    EngineHandle { commands, updates }
}

/// An experiment in progress.
enum Job {
    Census {
        patterns: Vec<String>,
        window_s: f64,
        ends_s: f64,
    },
    Sweep {
        patterns: Vec<String>,
        delays_ns: Vec<u64>,
        pairing: Pairing,
    },
    Rank {
        candidates: Vec<Candidate>,
        delay_ns: u64,
        pairing: Pairing,
    },
}

/// What sweeps and rankings share: their settings measured round-robin,
/// one pair at a time, until each is final or the budget is spent.
struct Pairing {
    frequency: u64,
    budget_s: f64,
    pairs: Vec<Vec<Pair>>,
    verdicts: Vec<Verdict>,
    next: usize,
    spent_s: f64,
    pair_done_s: f64,
}

impl Pairing {
    fn new(settings: usize, frequency: u64, budget_s: f64, first_pair_done_s: f64) -> Pairing {
        Pairing {
            frequency,
            budget_s,
            pairs: vec![Vec::new(); settings],
            verdicts: pending(settings),
            next: 0,
            spent_s: 0.0,
            pair_done_s: first_pair_done_s,
        }
    }

    /// The setting whose pair has finished by `now` (the next one then
    /// takes `pair_s`), or `None` while it runs.
    fn due(&mut self, now: f64, pair_s: f64) -> Option<usize> {
        if now < self.pair_done_s {
            return None;
        }
        self.pair_done_s = now + pair_s;
        self.spent_s += pair_s;
        Some(self.next)
    }

    /// Adds setting `i`'s new pair and judges the setting again.
    fn record(&mut self, i: usize, pair: Pair, rule: &StopRule) -> Option<RelativeThroughput> {
        self.pairs[i].push(pair);
        let relative = relative_throughput(&self.pairs[i], 0.95);
        self.verdicts[i] = rule.judge(relative.as_ref(), self.spent_s >= self.budget_s);
        relative
    }

    fn progress(&self, kind: ExperimentKind) -> Update {
        Update::Progress {
            kind,
            spent_s: self.spent_s,
            budget_s: self.budget_s,
            pairs: self.pairs.iter().map(Vec::len).sum(),
        }
    }

    /// Moves on from setting `i`; true when the experiment is over.
    fn move_on(&mut self, i: usize) -> bool {
        self.next = next_open(&self.verdicts, i);
        self.spent_s >= self.budget_s || self.verdicts.iter().all(Verdict::is_final)
    }
}

struct Fake {
    options: FakeOptions,
    model: Model,
    rng: SplitMix64,
    tx: Sender<Update>,
    start: Instant,
    settings: LiveSettings,
    generation: u64,
    job: Option<Job>,
    next_live: Instant,
    next_output_s: f64,
    steps_printed: u64,
    exited: bool,
}

fn pending(n: usize) -> Vec<Verdict> {
    vec![
        Verdict::Continue {
            pairs_used: 0,
            half_width: None,
        };
        n
    ]
}

impl Fake {
    fn new(options: FakeOptions, tx: Sender<Update>) -> Fake {
        let rng = SplitMix64::new(options.seed);
        Fake {
            model: Model::pipeline(),
            rng,
            tx,
            start: Instant::now(),
            settings: LiveSettings {
                delay_ns: 0,
                patterns: vec!["*:*".into()],
                ..LiveSettings::default()
            },
            generation: 1,
            job: None,
            next_live: Instant::now(),
            next_output_s: 0.0,
            steps_printed: 0,
            exited: false,
            options,
        }
    }

    /// Simulated seconds since start.
    fn now_s(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * self.options.speed
    }

    fn send(&self, update: Update) -> bool {
        self.tx.send(update).is_ok()
    }

    fn run(mut self, commands: Receiver<Command>) {
        self.send(Update::Started {
            mode: self.options.mode,
            command: self.options.command.clone(),
        });
        self.send(Update::Output {
            line: "pipeline: regime python-bound (python 600 µs, kernel 150 µs, depth 3)".into(),
            stderr: false,
        });
        loop {
            let wait = self.next_live.saturating_duration_since(Instant::now());
            match commands.recv_timeout(wait.min(Duration::from_millis(20))) {
                Ok(Command::Shutdown) | Err(RecvTimeoutError::Disconnected) => {
                    self.send(Update::Output {
                        line: format!("Throughput: {:.1} steps/s", self.model.rate(&[], 0, 1)),
                        stderr: false,
                    });
                    self.send(Update::Finished { error: None });
                    return;
                }
                Ok(command) => self.on_command(command),
                Err(RecvTimeoutError::Timeout) => {}
            }
            if !self.tick() {
                return;
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        let now = self.now_s();
        let pair_s = 2.0 * self.options.window_s;
        match command {
            Command::Census { patterns, window_s } => {
                self.settings.patterns.clone_from(&patterns);
                self.settings.delay_ns = 0;
                self.job = Some(Job::Census {
                    patterns,
                    window_s,
                    ends_s: now + window_s,
                });
            }
            Command::Sweep {
                patterns,
                delays_ns,
                frequency,
                budget_s,
            } => {
                self.settings.patterns.clone_from(&patterns);
                let pairing = Pairing::new(delays_ns.len(), frequency, budget_s, now + pair_s);
                self.job = Some(Job::Sweep {
                    patterns,
                    delays_ns,
                    pairing,
                });
            }
            Command::Rank {
                candidates,
                delay_ns,
                frequency,
                budget_s,
            } => {
                let pairing = Pairing::new(candidates.len(), frequency, budget_s, now + pair_s);
                self.job = Some(Job::Rank {
                    candidates,
                    delay_ns,
                    pairing,
                });
            }
            Command::Apply(settings) => {
                self.settings = settings;
                self.generation += 1;
                self.send(Update::Applied(ApplyReport {
                    kind: "applied",
                    generation: self.generation,
                    elapsed_s: now,
                    published_monotonic_ns: 0,
                    processes: vec![
                        ProcessApply {
                            pid: 4242,
                            latency_ms: Some(2.1),
                        },
                        ProcessApply {
                            pid: 4243,
                            latency_ms: Some(3.4),
                        },
                    ],
                    max_latency_ms: Some(3.4),
                    timed_out: false,
                }));
            }
            Command::Cancel => self.finish_job(true),
            Command::Shutdown => {}
            #[allow(unreachable_patterns)]
            _ => {}
        }
        let empty = match &self.job {
            Some(Job::Sweep { delays_ns, .. }) => delays_ns.is_empty(),
            Some(Job::Rank { candidates, .. }) => candidates.is_empty(),
            _ => false,
        };
        if empty {
            self.finish_job(false);
        }
        if self.exited && self.job.is_some() {
            self.send(Update::Warning(
                "the workload has exited: nothing to measure".into(),
            ));
            self.finish_job(true);
        }
    }

    /// Advances time: live samples, output, crash, experiment pairs.
    fn tick(&mut self) -> bool {
        let now = self.now_s();
        if let Some(crash) = self.options.crash_after_s {
            if !self.exited && now >= crash {
                self.exited = true;
                let lines = vec![
                    "Traceback (most recent call last):".to_owned(),
                    "  File \"examples/pipeline.py\", line 212, in launch".to_owned(),
                    "BrokenPipeError: [Errno 32] Broken pipe".to_owned(),
                ];
                for line in &lines {
                    self.send(Update::Output {
                        line: line.clone(),
                        stderr: true,
                    });
                }
                self.send(Update::WorkloadExited {
                    status: Some(1),
                    signal: None,
                    last_lines: lines,
                });
                self.finish_job(true);
            }
        }
        if self.exited {
            return true;
        }
        if Instant::now() >= self.next_live {
            self.next_live += self.options.live_interval;
            if self.next_live < Instant::now() {
                self.next_live = Instant::now() + self.options.live_interval;
            }
            let snapshot = self
                .model
                .snapshot(&mut self.rng, now, &self.settings, self.generation);
            if !self.send(Update::Live(Box::new(snapshot))) {
                return false;
            }
        }
        if now >= self.next_output_s {
            self.next_output_s = now + 2.0;
            let rate = self
                .model
                .rate(&self.settings.patterns, self.settings.delay_ns, 1);
            self.steps_printed += (rate * 2.0) as u64;
            self.send(Update::Output {
                line: format!("step {}: {:.0} steps/s", self.steps_printed, rate),
                stderr: false,
            });
        }
        self.advance_job(now);
        true
    }

    fn advance_job(&mut self, now: f64) {
        let pair_s = 2.0 * self.options.window_s;
        let window_s = self.options.window_s;
        let rule = stop_rule(self.options.precision);
        let mut finished = false;
        match &mut self.job {
            None => {}
            Some(Job::Census { ends_s, .. }) => finished = now >= *ends_s,
            Some(Job::Sweep {
                patterns,
                delays_ns,
                pairing,
            }) => {
                let Some(i) = pairing.due(now, pair_s) else {
                    return;
                };
                let pair = self.model.pair(
                    &mut self.rng,
                    patterns,
                    delays_ns[i],
                    pairing.frequency,
                    window_s,
                );
                self.settings.delay_ns = delays_ns[i];
                pairing.record(i, pair, &rule);
                let _ = self.tx.send(Update::SweepPoint {
                    index: i,
                    point: SweepPoint::from_pairs(delays_ns[i], &pairing.pairs[i], 0.95),
                    verdict: pairing.verdicts[i].clone(),
                });
                let _ = self.tx.send(pairing.progress(ExperimentKind::Sweep));
                finished = pairing.move_on(i);
            }
            Some(Job::Rank {
                candidates,
                delay_ns,
                pairing,
            }) => {
                let Some(i) = pairing.due(now, pair_s) else {
                    return;
                };
                let pair = self.model.pair(
                    &mut self.rng,
                    &candidates[i].patterns,
                    *delay_ns,
                    pairing.frequency,
                    window_s,
                );
                self.settings.patterns.clone_from(&candidates[i].patterns);
                self.settings.delay_ns = *delay_ns;
                let relative = pairing.record(i, pair, &rule);
                let _ = self.tx.send(Update::CandidateUpdate {
                    index: i,
                    relative,
                    verdict: pairing.verdicts[i].clone(),
                });
                let _ = self.tx.send(pairing.progress(ExperimentKind::Rank));
                finished = pairing.move_on(i);
            }
        }
        if finished {
            self.finish_job(false);
        }
    }

    /// Reports the job's result (partial when cancelled or cut short).
    fn finish_job(&mut self, partial: bool) {
        let Some(job) = self.job.take() else {
            return;
        };
        let mode = self.options.mode;
        let update = match job {
            Job::Census {
                patterns, window_s, ..
            } => {
                let census = if self.exited && partial {
                    self.model.census(&[], window_s)
                } else {
                    self.model.census(&patterns, window_s)
                };
                Update::CensusDone(Box::new(census))
            }
            Job::Sweep {
                patterns,
                delays_ns,
                pairing,
            } => Update::SweepDone(Box::new(sweep_result(
                &patterns,
                &delays_ns,
                &pairing.pairs,
                pairing.verdicts,
                pairing.frequency,
                mode,
                pairing.spent_s,
                partial,
            ))),
            Job::Rank {
                candidates,
                delay_ns,
                pairing,
            } => {
                let under = common_parent(&candidates);
                Update::RankDone(Box::new(rank_result(
                    &under,
                    &candidates,
                    &pairing.pairs,
                    pairing.verdicts,
                    delay_ns,
                    pairing.frequency,
                    mode,
                    pairing.spent_s,
                    partial,
                )))
            }
        };
        self.settings.delay_ns = 0;
        self.send(update);
    }
}

/// The next setting after `i` that still needs pairs (round-robin).
fn next_open(verdicts: &[Verdict], i: usize) -> usize {
    let n = verdicts.len();
    (1..=n)
        .map(|k| (i + k) % n)
        .find(|&j| !verdicts[j].is_final())
        .unwrap_or(i)
}

/// The node the candidates are children of (`*` for top-level ones).
fn common_parent(candidates: &[Candidate]) -> String {
    let parent = |label: &str| -> String {
        if let Some((module, qualname)) = label.split_once(':') {
            match qualname.rsplit_once('.') {
                Some((class, _)) => format!("{module}:{class}"),
                None => module.to_owned(),
            }
        } else {
            label
                .rsplit_once('.')
                .map_or("*".to_owned(), |(p, _)| p.to_owned())
        }
    };
    let parents: Vec<String> = candidates.iter().map(|c| parent(&c.label)).collect();
    match parents.first() {
        Some(first) if parents.iter().all(|p| p == first) => first.clone(),
        _ => "*".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_of_candidates() {
        let c = |label: &str| Candidate {
            label: label.into(),
            kind: crate::analysis::NodeKind::Function,
            patterns: vec![],
            calls: 1,
            share: 0.5,
            functions: 1,
        };
        assert_eq!(
            common_parent(&[c("__main__:f"), c("__main__:g")]),
            "__main__"
        );
        assert_eq!(common_parent(&[c("__main__"), c("telemetry")]), "*");
        assert_eq!(common_parent(&[c("m:C.f"), c("m:C.g")]), "m:C");
        assert_eq!(common_parent(&[c("a.b"), c("a.c")]), "a");
    }
}
