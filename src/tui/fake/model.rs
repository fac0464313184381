//! A simulated workload with a known answer, for the fake engine: the
//! reference pipeline in its python-bound regime (docs/examples.md:
//! `prepare_inputs` 3 calls per step, `schedule` 2, `launch` 1, all on the
//! critical path) plus a busy telemetry subsystem that is off it. Pure and
//! seeded: the same seed gives the same windows.

use crate::analysis::prng::SplitMix64;
use crate::analysis::{
    CallTree, CandidateMeasurement, CensusEntry, Pair, RankBy, ShapeTolerances, StopRule,
    SweepPoint, Verdict, Window, classify, predict_gain, python_verdict, rank,
};
use crate::experiment::{CensusResult, Mode, RankResult, SweepResult};
use crate::live::snapshot::{
    Counts, FunctionReading, PatternReading, ProcessCounts, Rates, SourceKind, ThroughputReading,
};
use crate::live::{LiveSettings, LiveSnapshot};
use crate::pattern::PatternSet;

/// One simulated function.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeFunction {
    /// `module:qualname`.
    pub name: &'static str,
    /// Calls per unit of progress.
    pub calls_per_unit: f64,
    /// Calls once at start-up (the module body, `main`).
    pub fixed_calls: u64,
    /// Whether its time is on the critical path.
    pub on_path: bool,
}

/// The simulated workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Its functions.
    pub functions: Vec<FakeFunction>,
    /// Wall time per unit without delays, seconds.
    pub time_per_unit_s: f64,
    /// Name of the unit.
    pub unit: &'static str,
    /// Relative noise of a window's rate (standard deviation of its log).
    pub noise: f64,
}

const fn f(
    name: &'static str,
    calls_per_unit: f64,
    fixed_calls: u64,
    on_path: bool,
) -> FakeFunction {
    FakeFunction {
        name,
        calls_per_unit,
        fixed_calls,
        on_path,
    }
}

impl Model {
    /// The reference pipeline, python-bound (≈1590 steps/s).
    pub fn pipeline() -> Model {
        Model {
            functions: vec![
                f("__main__:prepare_inputs", 3.0, 0, true),
                f("__main__:schedule", 2.0, 0, true),
                f("__main__:launch", 1.0, 0, true),
                f("__main__:main", 0.0, 1, true),
                f("__main__:<module>", 0.0, 1, true),
                f("_util:progress", 1.0, 0, true),
                f("_util:Calibration.tick", 0.0125, 4, true),
                f("telemetry.exporter:Exporter.record", 4.0, 0, false),
                f("telemetry.exporter:Exporter.flush", 0.05, 0, false),
                f("telemetry.format:format_line", 4.0, 0, false),
                f("json.encoder:JSONEncoder.encode", 4.0, 0, false),
            ],
            time_per_unit_s: 630e-6,
            unit: "steps",
            noise: 0.006,
        }
    }

    /// The functions `patterns` select.
    pub fn matched(&self, patterns: &[String]) -> Vec<&FakeFunction> {
        let Ok(set) = PatternSet::parse_file_text("patterns", &patterns.join("\n")) else {
            return Vec::new();
        };
        self.functions
            .iter()
            .filter(|func| {
                let (module, qualname) = func.name.split_once(':').unwrap_or((func.name, ""));
                set.decide(module, "", qualname).is_some()
            })
            .collect()
    }

    /// Units per second with `delay_ns` on every `frequency`th matched call.
    pub fn rate(&self, patterns: &[String], delay_ns: u64, frequency: u64) -> f64 {
        let extra_s: f64 = self
            .matched(patterns)
            .iter()
            .filter(|f| f.on_path)
            .map(|f| f.calls_per_unit * delay_ns as f64 * 1e-9 / frequency.max(1) as f64)
            .sum();
        1.0 / (self.time_per_unit_s + extra_s)
    }

    /// One measured window of `wall_s` seconds.
    pub fn window(
        &self,
        rng: &mut SplitMix64,
        patterns: &[String],
        delay_ns: u64,
        frequency: u64,
        wall_s: f64,
    ) -> Window {
        let rate = self.rate(patterns, delay_ns, frequency) * (self.noise * rng.gaussian()).exp();
        let units = (rate * wall_s).round().max(0.0) as u64;
        let calls_per_unit: f64 = self
            .matched(patterns)
            .iter()
            .map(|f| f.calls_per_unit)
            .sum();
        let calls = (calls_per_unit * units as f64).round() as u64;
        let delayed = if delay_ns > 0 {
            calls / frequency.max(1)
        } else {
            0
        };
        Window {
            units,
            wall_s,
            injected_ns: delayed.saturating_mul(delay_ns),
            delayed_calls: delayed,
            calls,
            whole_run: false,
        }
    }

    /// A pair: baseline at delay 0 and treatment at `delay_ns`, random order.
    pub fn pair(
        &self,
        rng: &mut SplitMix64,
        patterns: &[String],
        delay_ns: u64,
        frequency: u64,
        wall_s: f64,
    ) -> Pair {
        Pair {
            baseline: self.window(rng, patterns, 0, frequency, wall_s),
            treatment: self.window(rng, patterns, delay_ns, frequency, wall_s),
            baseline_first: rng.coin(),
        }
    }

    /// A census of `window_s` seconds under `patterns`.
    pub fn census(&self, patterns: &[String], window_s: f64) -> CensusResult {
        let rate = self.rate(patterns, 0, 1);
        let entries: Vec<CensusEntry> = self
            .matched(patterns)
            .iter()
            .map(|f| CensusEntry {
                name: f.name.into(),
                calls: (f.calls_per_unit * rate * window_s).round() as u64 + f.fixed_calls,
                injected_ns: 0,
            })
            .collect();
        let tree = CallTree::from_census(&entries);
        CensusResult {
            patterns: patterns.to_vec(),
            window_s,
            throughput_per_s: Some(rate),
            top_level: tree.top_level_candidates(),
            tree,
        }
    }

    /// A live snapshot at `elapsed_s` under `settings`.
    pub fn snapshot(
        &self,
        rng: &mut SplitMix64,
        elapsed_s: f64,
        settings: &LiveSettings,
        generation: u64,
    ) -> LiveSnapshot {
        let (patterns, delay) = if settings.enabled {
            (settings.patterns.as_slice(), settings.delay_ns)
        } else {
            (&[][..], 0)
        };
        let rate =
            self.rate(patterns, delay, settings.frequency) * (self.noise * rng.gaussian()).exp();
        let per_call = |f: &FakeFunction| f.calls_per_unit * rate;
        let delayed_share = if delay > 0 {
            1.0 / settings.frequency.max(1) as f64
        } else {
            0.0
        };
        let counts = |per_s: f64| Counts {
            calls: (per_s * elapsed_s) as u64,
            delayed_calls: (per_s * elapsed_s * delayed_share) as u64,
            injected_ns: (per_s * elapsed_s * delayed_share * delay as f64) as u64,
        };
        let rates = |per_s: f64| Rates {
            calls_per_s: per_s,
            delayed_calls_per_s: per_s * delayed_share,
            injected_ns_per_s: per_s * delayed_share * delay as f64,
        };
        let matched = self.matched(patterns);
        let pattern_readings = patterns
            .iter()
            .map(|p| {
                let mine = self.matched(std::slice::from_ref(p));
                let per_s: f64 = mine.iter().map(|f| per_call(f)).sum();
                PatternReading {
                    pattern: p.trim_start_matches('!').to_owned(),
                    exclude: p.starts_with('!'),
                    generations: vec![generation],
                    functions_matched: mine.len() as u64,
                    counts: counts(per_s),
                    rates: Some(rates(per_s)),
                }
            })
            .collect();
        let mut functions: Vec<FunctionReading> = matched
            .iter()
            .map(|f| FunctionReading {
                name: f.name.into(),
                kind: "python",
                pattern: patterns.first().cloned().unwrap_or_default(),
                processes: 1,
                counts: counts(per_call(f)),
                rates: Some(rates(per_call(f))),
            })
            .collect();
        functions.sort_by(|a, b| {
            let rate = |r: &FunctionReading| r.rates.map_or(0.0, |r| r.calls_per_s);
            rate(b)
                .total_cmp(&rate(a))
                .then_with(|| a.name.cmp(&b.name))
        });
        let functions_total = functions.len();
        functions.truncate(10);
        LiveSnapshot {
            kind: "sample",
            elapsed_s,
            rate_window_s: elapsed_s.min(1.0),
            generations: vec![generation],
            complete: true,
            processes: ProcessCounts {
                live: 2,
                exited: 0,
                total: 2,
            },
            throughput: vec![ThroughputReading {
                source: SourceKind::Api,
                name: self.unit.into(),
                units: Some((rate * elapsed_s).floor()),
                per_second: Some(rate),
                seconds_per_unit: Some(1.0 / rate),
            }],
            patterns: pattern_readings,
            functions,
            functions_total,
        }
    }
}

/// Builds a sweep's result from its pairs per delay.
#[allow(clippy::too_many_arguments)]
pub fn sweep_result(
    patterns: &[String],
    delays_ns: &[u64],
    pairs: &[Vec<Pair>],
    verdicts: Vec<Verdict>,
    frequency: u64,
    mode: Mode,
    spent_s: f64,
    partial: bool,
) -> SweepResult {
    let points: Vec<Option<SweepPoint>> = delays_ns
        .iter()
        .zip(pairs)
        .map(|(&d, p)| SweepPoint::from_pairs(d, p, 0.95))
        .collect();
    let flat: Vec<SweepPoint> = points.iter().flatten().copied().collect();
    let shape = classify(&flat, &ShapeTolerances::default());
    let python = python_verdict(&shape);
    let predictions = [1_000.0, 5_000.0, 10_000.0]
        .iter()
        .filter_map(|&x| predict_gain(&shape, &flat, x))
        .collect();
    SweepResult {
        patterns: patterns.to_vec(),
        frequency,
        mode,
        points,
        verdicts,
        shape,
        python,
        predictions,
        spent_s,
        partial,
    }
}

/// Builds a ranking's result from its pairs per candidate.
#[allow(clippy::too_many_arguments)]
pub fn rank_result(
    under: &str,
    candidates: &[crate::analysis::Candidate],
    pairs: &[Vec<Pair>],
    verdicts: Vec<Verdict>,
    delay_ns: u64,
    frequency: u64,
    mode: Mode,
    spent_s: f64,
    partial: bool,
) -> RankResult {
    let measurements: Vec<CandidateMeasurement> = candidates
        .iter()
        .zip(pairs)
        .filter_map(|(c, p)| {
            SweepPoint::from_pairs(delay_ns, p, 0.95).map(|point| CandidateMeasurement {
                label: c.label.clone(),
                patterns: c.patterns.clone(),
                point,
            })
        })
        .collect();
    RankResult {
        under: under.to_owned(),
        delay_ns,
        frequency,
        mode,
        ranked: rank(&measurements, RankBy::ThroughputDrop),
        verdicts,
        spent_s,
        partial,
    }
}

/// The stopping rule at `precision` (half-width, 0.02 = ±2%).
pub fn stop_rule(precision: f64) -> StopRule {
    StopRule {
        target_half_width: precision,
        ..StopRule::default()
    }
}
