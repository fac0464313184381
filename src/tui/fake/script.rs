//! Scripted, deterministic update frames from the simulated workload, with
//! no thread and no clock: what the snapshot tests and the render bench
//! feed the state. The same seed gives the same frames.

use crate::analysis::prng::SplitMix64;
use crate::analysis::{Candidate, Pair, SweepPoint, Verdict, relative_throughput};
use crate::experiment::{ExperimentKind, Mode, Update};
use crate::live::LiveSettings;

use super::model::{Model, rank_result, stop_rule, sweep_result};

/// A seeded source of frames.
#[derive(Debug, Clone)]
pub struct Script {
    /// The simulated workload.
    pub model: Model,
    rng: SplitMix64,
    /// Seconds per window.
    pub window_s: f64,
}

impl Script {
    /// Frames from seed `seed`.
    pub fn new(seed: u64) -> Script {
        Script {
            model: Model::pipeline(),
            rng: SplitMix64::new(seed),
            window_s: 0.5,
        }
    }

    /// `Started` for the reference pipeline.
    pub fn started(&self) -> Update {
        Update::Started {
            mode: Mode::Live,
            command: vec![
                "python".into(),
                "examples/pipeline.py".into(),
                "--regime".into(),
                "python-bound".into(),
            ],
        }
    }

    /// Live samples every 0.1 s from `from_s` to `to_s` under `*:*`.
    pub fn live(&mut self, from_s: f64, to_s: f64) -> Vec<Update> {
        let settings = LiveSettings {
            delay_ns: 0,
            patterns: vec!["*:*".into()],
            ..LiveSettings::default()
        };
        let mut out = Vec::new();
        let mut t = from_s;
        while t <= to_s + 1e-9 {
            let snapshot = self.model.snapshot(&mut self.rng, t, &settings, 1);
            out.push(Update::Live(Box::new(snapshot)));
            t += 0.1;
        }
        out
    }

    /// Output lines as the pipeline prints them.
    pub fn output(&self, lines: usize) -> Vec<Update> {
        (1..=lines)
            .map(|i| Update::Output {
                line: format!("step {}: 1587 steps/s", i * 3174),
                stderr: false,
            })
            .collect()
    }

    /// A finished census under `*:*`.
    pub fn census(&self) -> Update {
        Update::CensusDone(Box::new(self.model.census(&["*:*".into()], 2.0)))
    }

    /// A sweep's updates: `rounds` pairs per delay (round-robin), then
    /// `SweepDone` when `finish`.
    pub fn sweep(&mut self, delays_ns: &[u64], rounds: usize, finish: bool) -> Vec<Update> {
        let patterns = vec!["*:*".to_owned()];
        let rule = stop_rule(0.02);
        let mut pairs: Vec<Vec<Pair>> = vec![Vec::new(); delays_ns.len()];
        let mut verdicts = vec![
            Verdict::Continue {
                pairs_used: 0,
                half_width: None
            };
            delays_ns.len()
        ];
        let mut out = Vec::new();
        for round in 0..rounds {
            for (i, &d) in delays_ns.iter().enumerate() {
                let pair = self
                    .model
                    .pair(&mut self.rng, &patterns, d, 1, self.window_s);
                pairs[i].push(pair);
                verdicts[i] = rule.judge(relative_throughput(&pairs[i], 0.95).as_ref(), false);
                out.push(Update::SweepPoint {
                    index: i,
                    point: SweepPoint::from_pairs(d, &pairs[i], 0.95),
                    verdict: verdicts[i].clone(),
                });
                out.push(Update::Progress {
                    kind: ExperimentKind::Sweep,
                    spent_s: (round * delays_ns.len() + i + 1) as f64 * 2.0 * self.window_s,
                    budget_s: 60.0,
                    pairs: round * delays_ns.len() + i + 1,
                });
            }
        }
        if finish {
            let spent = (rounds * delays_ns.len()) as f64 * 2.0 * self.window_s;
            out.push(Update::SweepDone(Box::new(sweep_result(
                &patterns,
                delays_ns,
                &pairs,
                verdicts,
                1,
                Mode::Live,
                spent,
                false,
            ))));
        }
        out
    }

    /// A ranking's updates for `candidates` under `under`.
    pub fn rank(
        &mut self,
        under: &str,
        candidates: &[Candidate],
        delay_ns: u64,
        rounds: usize,
        finish: bool,
    ) -> Vec<Update> {
        let rule = stop_rule(0.02);
        let mut pairs: Vec<Vec<Pair>> = vec![Vec::new(); candidates.len()];
        let mut verdicts = vec![
            Verdict::Continue {
                pairs_used: 0,
                half_width: None
            };
            candidates.len()
        ];
        let mut out = Vec::new();
        for _ in 0..rounds {
            for (i, c) in candidates.iter().enumerate() {
                let pair = self
                    .model
                    .pair(&mut self.rng, &c.patterns, delay_ns, 1, self.window_s);
                pairs[i].push(pair);
                let relative = relative_throughput(&pairs[i], 0.95);
                verdicts[i] = rule.judge(relative.as_ref(), false);
                out.push(Update::CandidateUpdate {
                    index: i,
                    relative,
                    verdict: verdicts[i].clone(),
                });
            }
        }
        if finish {
            let spent = (rounds * candidates.len()) as f64 * 2.0 * self.window_s;
            out.push(Update::RankDone(Box::new(rank_result(
                under,
                candidates,
                &pairs,
                verdicts,
                delay_ns,
                1,
                Mode::Live,
                spent,
                false,
            ))));
        }
        out
    }
}
