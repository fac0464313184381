//! Steps 1-2 (docs/methodology.md): throughput against delay for one set of
//! patterns, its shape, step 1's verdict and step 2's predictions.
//!
//! Before its windows, a sweep measures the matched code's own time in a
//! short census at delay 0 ([`own_time_census`], the ranking's): no
//! speed-up can save more than the code takes, so step 2's predictions are
//! capped at it (docs/experiments.md, "Step 2's cap").

use crate::analysis::extrapolate::predictions;
use crate::analysis::{
    DEFAULT_CONFIDENCE, LatencyEffect, OwnTime, ShapeTolerances, SweepPoint, Verdict, classify,
    python_verdict,
};

use super::census::own_time_census;
use super::context::Context;
use super::paired::{Interruption, run_pairs};
use super::protocol::{ExperimentKind, SweepResult, Update};

/// A sweep to run (the fields of `Command::Sweep`).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRequest {
    /// Pattern lines to slow.
    pub patterns: Vec<String>,
    /// Delays, ns, in the order to report them.
    pub delays_ns: Vec<u64>,
    /// Delay every Nth matching call.
    pub frequency: u64,
    /// Budget, seconds.
    pub budget_s: f64,
}

/// Runs the sweep; returns its result and why it ended early, if it did.
pub fn run_sweep(ctx: &mut Context<'_>, req: &SweepRequest) -> (SweepResult, Option<Interruption>) {
    let start_s = ctx.target.clock_s();
    let own_time = measure_own_time(ctx, req);
    let census_s = ctx.target.clock_s() - start_s;
    let budget_s = req.budget_s;
    ctx.send(Update::Progress {
        kind: ExperimentKind::Sweep,
        spent_s: census_s,
        budget_s,
        pairs: 0,
    });
    let treatments = req
        .delays_ns
        .iter()
        .map(|&d| ctx.settings(&req.patterns, d, req.frequency))
        .collect();
    let plan = ctx.plan(treatments, (budget_s - census_s).max(0.0));
    let sink = ctx.sink.clone();
    let delays = req.delays_ns.clone();
    let outcome = run_pairs(ctx.target, &plan, ctx.cancel, |event| {
        let point = SweepPoint::from_pairs(delays[event.setting], event.pairs, DEFAULT_CONFIDENCE);
        sink(Update::SweepPoint {
            index: event.setting,
            point,
            verdict: event.verdict.clone(),
        });
        sink(Update::Progress {
            kind: ExperimentKind::Sweep,
            spent_s: census_s + event.spent_s,
            budget_s,
            pairs: event.total_pairs,
        });
    });
    for warning in &outcome.warnings {
        sink(Update::Warning(warning.clone()));
    }
    let points: Vec<Option<SweepPoint>> = req
        .delays_ns
        .iter()
        .zip(&outcome.pairs)
        .map(|(&d, pairs)| SweepPoint::from_pairs(d, pairs, DEFAULT_CONFIDENCE))
        .collect();
    // A delay whose patterns matched no call slowed nothing: say so rather
    // than judge its noise.
    let verdicts = outcome
        .verdicts
        .iter()
        .zip(&points)
        .map(|(v, p)| match p {
            Some(p) if p.calls_per_unit <= 0.0 => Verdict::NoCalls {
                pairs_used: p.relative.pairs_used,
            },
            _ => v.clone(),
        })
        .collect();
    let measured: Vec<SweepPoint> = points.iter().flatten().copied().collect();
    let shape = classify(&measured, &ShapeTolerances::default());
    let python = python_verdict(&shape);
    let predictions = predictions(
        &shape,
        &measured,
        own_time.as_ref().ok(),
        speedups(&req.delays_ns),
    );
    let latency = req
        .delays_ns
        .iter()
        .zip(&outcome.pairs)
        .map(|(&d, pairs)| LatencyEffect::from_pairs(pairs, d, DEFAULT_CONFIDENCE))
        .collect();
    let partial = outcome.partial();
    let result = SweepResult {
        patterns: req.patterns.clone(),
        frequency: req.frequency.max(1),
        mode: outcome.mode,
        points,
        verdicts,
        shape,
        python,
        predictions,
        latency,
        own_time_note: own_time.as_ref().err().cloned(),
        own_time: own_time.ok(),
        spent_s: census_s + outcome.spent_s,
        partial,
    };
    (result, outcome.interruption)
}

/// The matched code's own time, from a short census at delay 0 with own
/// time on; `Err` says why there is none. A failed census is not the
/// sweep's end: its windows meet the same trouble and report it as they
/// always do.
fn measure_own_time(ctx: &mut Context<'_>, req: &SweepRequest) -> Result<OwnTime, String> {
    if ctx.options.match_c_calls {
        return Err("C functions (--c-calls) have no own time".to_owned());
    }
    let settings = ctx.settings(&req.patterns, 0, req.frequency);
    let census = own_time_census(ctx, &settings).map_err(|e| format!("it failed: {e}"))?;
    let (calls, own_ns) = census.totals();
    OwnTime::from_totals(census.window.units, calls, own_ns, census.window.wall_s)
}

/// The speed-ups step 2 predicts by default: each delay tried, per call
/// (distinct, ascending, zero left out).
pub fn speedups(delays_ns: &[u64]) -> Vec<f64> {
    let mut xs: Vec<u64> = delays_ns.iter().copied().filter(|&d| d > 0).collect();
    xs.sort_unstable();
    xs.dedup();
    xs.into_iter().map(|d| d as f64).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn speedups_are_the_delays() {
        assert_eq!(speedups(&[10_000, 0, 1_000, 10_000]), [1_000.0, 10_000.0]);
    }
}
