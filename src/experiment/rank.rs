//! Steps 3-4 (docs/methodology.md): which candidate limits throughput, and how
//! much a user gains by speeding it up (docs/ranking.md).
//!
//! 1. **Dosing census**: every candidate counted at delay 0 for a window;
//!    the baseline time per unit and each candidate's calls per unit give
//!    its per-call delay: under `dose` every candidate receives the same
//!    injected time per unit (`dose × time per unit`), so a quiet function
//!    gets a long delay per call and a busy one a short one.
//! 2. **Grouped design** (4 candidates or more): blocks of pairs, each
//!    treatment slowing a random group of candidates at their own delays
//!    ([`crate::analysis::grouped`]); effects by least squares, criticality
//!    per candidate, additivity checked; it stops when the leader's
//!    interval separates from the rest or every interval is narrow
//!    ([`standing`]), or at 70% of the budget.
//! 3. **Confirmation**: the leader and its contenders (intervals touching
//!    the leader's) one at a time in paired windows with the rest of the
//!    budget; with fewer than 4 candidates, all of them.
//! 4. **Order**: by criticality × own time per unit when own time is known,
//!    else by criticality ([`order_by_gain`]), ties where intervals overlap.

use crate::analysis::grouped::{criticality_of_effect, standing};
use crate::analysis::prng::SplitMix64;
use crate::analysis::student::t_critical;
use crate::analysis::{
    Additivity, Candidate, DEFAULT_CONFIDENCE, GroupedPair, OrderBy, PairSlot, RankedCandidate,
    Standing, StopRule, Verdict, block_pairs, criticality, design_block, fit_effects,
    next_window_s, order_by, order_by_gain, relative_throughput,
};
use crate::live::LiveSettings;
use crate::pattern::PatternSet;

use super::census::own_time_census;
use super::context::Context;
use super::paired::{Interruption, measure_pair, run_pairs};
use super::protocol::{ExperimentKind, RankResult, Update};

/// Default dose: injected time per unit as a fraction of the time per unit.
/// 10%: on this project's shared 2-core machine a pair's log ratio varies
/// by ~0.1, so a 5% dose needs several minutes to tell criticality 1 from 0
/// (docs/ranking.md); hidden stages keep their slack at 10% unless it was
/// already thin.
pub const DEFAULT_DOSE: f64 = 0.10;
/// Shortest per-call delay a dose may ask for: below it the hook's clock
/// reads dominate the spin (the dose then comes out larger, and says so).
pub const MIN_DOSE_DELAY_NS: u64 = 200;
/// Longest per-call delay a dose may ask for.
pub const MAX_DOSE_DELAY_NS: u64 = 1_000_000_000;
/// Most injected time per unit in one grouped window, as a fraction of the
/// time per unit: groups are no larger (nor than half the candidates), so
/// that slowing several hidden stages together rarely uses up their slack.
pub const MAX_WINDOW_DOSE: f64 = 0.5;
/// Fewest candidates for the grouped design (fewer: one at a time).
pub const MIN_GROUPED: usize = 4;
/// Share of the budget the grouped design may use before confirmation.
const GROUPED_SHARE: f64 = 0.7;
/// Share of the budget the confirmation of a settled ranking may use.
const CONFIRM_SHARE: f64 = 0.2;
/// At most this many leaders are confirmed one at a time.
const MAX_CONFIRMED: usize = 3;
/// Target half-width of a criticality interval for the stop rule.
pub const CRITICALITY_TARGET: f64 = 0.15;

/// A ranking to run (the fields of `Command::Rank`).
#[derive(Debug, Clone, PartialEq)]
pub struct RankRequest {
    /// What to compare.
    pub candidates: Vec<Candidate>,
    /// Delay per call, ns, when `dose` is `None`.
    pub delay_ns: u64,
    /// Equal dose: injected time per unit as a fraction of the baseline
    /// time per unit (0.05 = 5%); `None`: `delay_ns` per call for all.
    pub dose: Option<f64>,
    /// Delay every Nth matching call.
    pub frequency: u64,
    /// Budget, seconds.
    pub budget_s: f64,
}

/// What the dosing census found for one candidate.
#[derive(Debug, Clone, Copy)]
struct Dosed {
    calls_per_unit: f64,
    delay_ns: u64,
    /// Planned injected time per unit, seconds.
    injected_per_unit_s: f64,
}

/// The per-call delay that gives `calls_per_unit` calls (every
/// `frequency`th delayed) `dose × time_per_unit_s` of injected time per
/// unit, clamped to [`MIN_DOSE_DELAY_NS`, `MAX_DOSE_DELAY_NS`]; a candidate
/// not called in the census gets the delay of one call per unit.
pub fn dose_delay_ns(dose: f64, time_per_unit_s: f64, calls_per_unit: f64, frequency: u64) -> u64 {
    let delayed_per_unit = (calls_per_unit / frequency.max(1) as f64).max(0.0);
    let per_call_s = if delayed_per_unit > 0.0 {
        dose * time_per_unit_s / delayed_per_unit
    } else {
        dose * time_per_unit_s
    };
    let ns = (per_call_s * 1e9).round();
    if ns.is_finite() {
        (ns as u64).clamp(MIN_DOSE_DELAY_NS, MAX_DOSE_DELAY_NS)
    } else {
        MIN_DOSE_DELAY_NS
    }
}

/// Every candidate's patterns in one list, and which candidate each line
/// belongs to.
fn combined_patterns(candidates: &[Candidate]) -> (Vec<String>, Vec<usize>) {
    let mut lines = Vec::new();
    let mut owner = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        for p in &c.patterns {
            lines.push(p.clone());
            owner.push(i);
        }
    }
    (lines, owner)
}

/// Settings counting every candidate, with `slowed` candidates at their
/// delays and the rest at 0.
fn group_settings(
    base: &LiveSettings,
    owner: &[usize],
    dosed: &[Dosed],
    slowed: &[usize],
) -> LiveSettings {
    let delays: Vec<u64> = owner
        .iter()
        .map(|&i| {
            if slowed.contains(&i) {
                dosed[i].delay_ns
            } else {
                0
            }
        })
        .collect();
    LiveSettings {
        delay_ns: delays.iter().copied().max().unwrap_or(0),
        pattern_delays_ns: delays,
        ..base.clone()
    }
}

/// Runs the ranking; returns its result and why it ended early, if it did.
pub fn run_rank(ctx: &mut Context<'_>, req: &RankRequest) -> (RankResult, Option<Interruption>) {
    let k = req.candidates.len();
    let frequency = req.frequency.max(1);
    let start_s = ctx.target.clock_s();
    let (lines, owner) = combined_patterns(&req.candidates);
    let counting = ctx.settings(&lines, 0, frequency);
    let mut result = RankResult {
        under: common_parent(&req.candidates),
        delay_ns: req.delay_ns,
        dose: req.dose,
        frequency,
        mode: ctx.target.mode(),
        ranked: Vec::new(),
        verdicts: Vec::new(),
        labels: req.candidates.iter().map(|c| c.label.clone()).collect(),
        spent_s: 0.0,
        partial: false,
        time_per_unit_s: None,
        design: None,
    };
    let budget_s = req.budget_s;
    let sink = ctx.sink.clone();
    let progress = |spent_s: f64, pairs: usize| {
        sink(Update::Progress {
            kind: ExperimentKind::Rank,
            spent_s,
            budget_s,
            pairs,
        });
    };

    // 1. Dosing census. It also measures each candidate's own time (the
    // windows after it do not: it costs on matched code).
    let census = match own_time_census(ctx, &counting) {
        Ok(c) => c,
        Err(e) => {
            result.partial = true;
            result.spent_s = ctx.target.clock_s() - start_s;
            return (result, Some(Interruption::from(e)));
        }
    };
    let units = census.window.units.max(1) as f64;
    let time_per_unit_s = census.window.time_per_unit_s();
    result.time_per_unit_s = (census.window.units > 0).then_some(time_per_unit_s);
    let sets: Vec<Option<PatternSet>> = req
        .candidates
        .iter()
        .map(|c| PatternSet::parse_file_text("candidate", &c.patterns.join("\n")).ok())
        .collect();
    let mut calls = vec![0u64; k];
    let mut own_ns = vec![0u64; k];
    let census_saw_calls = census.functions.iter().any(|f| f.calls > 0);
    let own_time_known = census.own_time_measured();
    for entry in &census.functions {
        let Some((module, qualname)) = entry.name.split_once(':') else {
            continue;
        };
        if let Some(i) = sets.iter().position(|s| {
            s.as_ref()
                .is_some_and(|s| s.decide(module, "", qualname).is_some())
        }) {
            calls[i] += entry.calls;
            own_ns[i] += entry.own_ns;
        }
    }
    let dosed: Vec<Dosed> = calls
        .iter()
        .map(|&c| {
            let calls_per_unit = c as f64 / units;
            let delay_ns = match req.dose {
                Some(dose) => dose_delay_ns(dose, time_per_unit_s, calls_per_unit, frequency),
                None => req.delay_ns,
            };
            Dosed {
                calls_per_unit,
                delay_ns,
                injected_per_unit_s: delay_ns as f64 * 1e-9 * calls_per_unit / frequency as f64,
            }
        })
        .collect();
    let dose_of =
        |d: &Dosed| (time_per_unit_s > 0.0).then(|| d.injected_per_unit_s / time_per_unit_s);

    // 2. Grouped design.
    let mut grouped_pairs: Vec<GroupedPair> = Vec::new();
    let mut fit = None;
    let mut grouped_crit: Vec<Option<(f64, crate::analysis::Interval)>> = vec![None; k];
    let mut standing_now = Standing::Open;
    let mut group_size = 1;
    let mut blocks = 0;
    let mut regrouped = 0;
    let mut interruption = None;
    if k >= MIN_GROUPED && ctx.options.grouped_ranking {
        let mean_dose = dosed.iter().filter_map(dose_of).sum::<f64>() / k as f64;
        group_size = if mean_dose > 0.0 {
            ((MAX_WINDOW_DOSE / mean_dose).floor() as usize).clamp(1, k.div_ceil(2))
        } else {
            k.div_ceil(2)
        };
        let mut rng = SplitMix64::new(ctx.config.seed ^ 0x6A0F);
        let mut window_s = ctx.options.min_window_s;
        let grouped_budget = GROUPED_SHARE * budget_s;
        'blocks: loop {
            let groups = design_block(k, group_size, &mut rng);
            for (slowed, reference) in block_pairs(groups, blocks, &mut rng) {
                let spent = ctx.target.clock_s() - start_s;
                if spent + 2.0 * ctx.target.window_cost_s(window_s) > grouped_budget {
                    break 'blocks;
                }
                let treatment = group_settings(&counting, &owner, &dosed, &slowed);
                let other = if reference.is_empty() {
                    counting.clone()
                } else {
                    group_settings(&counting, &owner, &dosed, &reference)
                };
                let slot = PairSlot {
                    setting: 0,
                    baseline_first: rng.coin(),
                };
                match measure_pair(ctx.target, &other, &treatment, window_s, slot, ctx.cancel) {
                    Ok((pair, mode)) => {
                        result.mode = mode;
                        window_s = next_window_s(window_s, &pair)
                            .clamp(ctx.options.min_window_s, ctx.options.max_window_s);
                        grouped_pairs.push(GroupedPair {
                            slowed,
                            reference,
                            pair,
                        });
                    }
                    Err(e) => {
                        interruption = Some(Interruption::from(e));
                        break 'blocks;
                    }
                }
                progress(ctx.target.clock_s() - start_s, grouped_pairs.len());
            }
            blocks += 1;
            fit = fit_effects(k, &grouped_pairs, DEFAULT_CONFIDENCE);
            if let Some(f) = &fit
                && group_size > 1
                && f.additivity.is_some_and(|a| {
                    // At 99.9%: a false alarm throws pairs away.
                    a.t.abs()
                        > t_critical(0.999, f.degrees_of_freedom.saturating_sub(1).max(1) as f64)
                })
            {
                // Effects do not add up at this group size (slowing several
                // hidden stages together used up their slack): smaller
                // groups, and the pairs so far are set aside.
                group_size = (group_size / 2).max(1);
                regrouped += 1;
                grouped_pairs.clear();
                fit = None;
                blocks = 0;
                continue;
            }
            if let Some(f) = &fit {
                grouped_crit = grouped_criticality(f, &grouped_pairs, &dosed);
                let intervals: Vec<_> = grouped_crit.iter().flatten().map(|(_, iv)| *iv).collect();
                standing_now = standing(&intervals, CRITICALITY_TARGET);
                if blocks >= 3 && standing_now != Standing::Open {
                    break;
                }
            }
        }
    }

    // 3. Confirmation, one at a time.
    let confirm: Vec<usize> = if fit.is_none() {
        (0..k).collect()
    } else {
        contenders(&grouped_crit)
    };
    let mut alone: Vec<Option<Vec<crate::analysis::Pair>>> = vec![None; k];
    let mut alone_verdicts: Vec<Option<Verdict>> = vec![None; k];
    if interruption.is_none() && !confirm.is_empty() {
        let treatments: Vec<LiveSettings> = confirm
            .iter()
            .map(|&i| group_settings(&counting, &owner, &dosed, &[i]))
            .collect();
        // A settled grouped ranking only needs its leader checked alone.
        let left = budget_s - (ctx.target.clock_s() - start_s);
        let left = if standing_now == Standing::Open {
            left
        } else {
            left.min(CONFIRM_SHARE * budget_s)
        };
        let mut plan = ctx.plan(treatments, left.max(0.0));
        if let Some(dose) = req.dose {
            // Precise enough when the criticality interval is about
            // ±CRITICALITY_TARGET: relative throughput within dose × that.
            plan.stop = StopRule {
                target_half_width: (dose * CRITICALITY_TARGET).max(0.002),
                min_pairs: plan.stop.min_pairs,
            };
        }
        let done = grouped_pairs.len();
        let sink = ctx.sink.clone();
        let outcome = run_pairs(ctx.target, &plan, ctx.cancel, |event| {
            sink(Update::CandidateUpdate {
                index: confirm[event.setting],
                relative: relative_throughput(event.pairs, DEFAULT_CONFIDENCE),
                verdict: event.verdict.clone(),
            });
            sink(Update::Progress {
                kind: ExperimentKind::Rank,
                spent_s: (budget_s - left).max(0.0) + event.spent_s,
                budget_s,
                pairs: done + event.total_pairs,
            });
        });
        for warning in &outcome.warnings {
            sink(Update::Warning(warning.clone()));
        }
        if grouped_pairs.is_empty() {
            result.mode = outcome.mode;
        }
        for (j, &i) in confirm.iter().enumerate() {
            alone[i] = Some(outcome.pairs[j].clone());
            alone_verdicts[i] = Some(outcome.verdicts[j].clone());
        }
        interruption = outcome.interruption;
    }

    // 4. Per candidate: the best estimate, then the order.
    let mut ranked = Vec::with_capacity(k);
    let mut verdicts = Vec::with_capacity(k);
    for (i, c) in req.candidates.iter().enumerate() {
        let d = dosed[i];
        let mut line = RankedCandidate {
            rank: 0,
            label: c.label.clone(),
            patterns: c.patterns.clone(),
            drop: 0.0,
            drop_interval: None,
            criticality: None,
            criticality_interval: None,
            calls_per_unit: d.calls_per_unit,
            delay_ns: d.delay_ns,
            pairs_used: 0,
            tie_group: 0,
            tied: false,
            dose: dose_of(&d),
            measured: None,
            interaction: false,
            own_ns_per_unit: own_time_known.then(|| own_ns[i] as f64 / units),
            gain_ns_per_unit: None,
        };
        let solo = alone[i].as_deref().and_then(|pairs| {
            Some((
                relative_throughput(pairs, DEFAULT_CONFIDENCE)?,
                criticality(pairs, DEFAULT_CONFIDENCE),
            ))
        });
        if let Some((rel, crit)) = solo {
            line.measured = Some("alone".to_owned());
            line.drop = rel.drop();
            line.drop_interval = rel.interval.map(|iv| iv.map(|v| 1.0 - v));
            line.pairs_used = rel.pairs_used;
            line.criticality = crit.map(|c| c.criticality);
            line.criticality_interval = crit.and_then(|c| c.interval);
            if let (Some(a), Some((_, g))) = (line.criticality_interval, grouped_crit[i]) {
                line.interaction = !a.overlaps(&g);
            }
            verdicts.push(alone_verdicts[i].clone().unwrap_or(Verdict::Continue {
                pairs_used: 0,
                half_width: None,
            }));
        } else if let (Some(f), Some((value, iv))) = (&fit, grouped_crit[i]) {
            let e = f.effects[i];
            line.measured = Some("grouped".to_owned());
            line.drop = 1.0 - e.log_ratio.exp();
            line.drop_interval = Some(e.interval.map(|v| 1.0 - v.exp()));
            line.pairs_used = e.appearances;
            line.criticality = Some(value);
            line.criticality_interval = Some(iv);
            verdicts.push(grouped_verdict(
                e.appearances,
                iv,
                standing_now,
                interruption.is_some(),
            ));
        } else {
            verdicts.push(Verdict::TooNoisy {
                pairs_used: 0,
                half_width: None,
                pairs_needed: None,
                advice: "not measured: the budget ended before this candidate had a usable pair; \
                         raise --budget"
                    .to_owned(),
            });
        }
        if census_saw_calls && calls[i] == 0 {
            // Nothing of it ran while others did: its figures are noise.
            if let Some(v) = verdicts.last_mut() {
                *v = Verdict::NoCalls {
                    pairs_used: line.pairs_used,
                };
            }
        }
        ranked.push(line);
    }
    // An equal delay per call (docs/methodology.md) ranks by drop, as that
    // method does; an equal dose by what a user gains.
    result.ranked = if req.dose.is_some() {
        order_by_gain(ranked)
    } else {
        order_by(ranked, OrderBy::Drop)
    };
    result.verdicts = verdicts;
    result.design = (!grouped_pairs.is_empty()).then(|| RankDesign {
        group_size,
        blocks,
        grouped_pairs: grouped_pairs.len(),
        residual_sd: fit.as_ref().map(|f| f.residual_sd),
        additivity: fit.as_ref().and_then(|f| f.additivity),
        standing: standing_now,
        regrouped,
        confirmed: confirm
            .iter()
            .map(|&i| req.candidates[i].label.clone())
            .collect(),
    });
    result.spent_s = ctx.target.clock_s() - start_s;
    result.partial = interruption.is_some();
    (result, interruption)
}

/// How the grouped design went (results.json `design`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RankDesign {
    /// Candidates slowed per treatment window.
    pub group_size: usize,
    /// Blocks measured (each slows every candidate once).
    pub blocks: usize,
    /// Pairs of the grouped design.
    pub grouped_pairs: usize,
    /// Residual standard deviation of a pair's log ratio.
    pub residual_sd: Option<f64>,
    /// Tukey's additivity check.
    pub additivity: Option<Additivity>,
    /// Where the ranking stood when the grouped design stopped.
    pub standing: Standing,
    /// Times the additivity check failed and the group size was halved
    /// (the pairs before each were set aside).
    #[serde(default)]
    pub regrouped: usize,
    /// Candidates confirmed one at a time.
    pub confirmed: Vec<String>,
}

/// Criticality and its interval per candidate from the grouped fit; the
/// injected time per unit is the planned one scaled by what the hook
/// reported over the design's windows, and the time per unit is the
/// baselines' (windows with nothing slowed).
fn grouped_criticality(
    fit: &crate::analysis::GroupedFit,
    pairs: &[GroupedPair],
    dosed: &[Dosed],
) -> Vec<Option<(f64, crate::analysis::Interval)>> {
    let usable: Vec<&GroupedPair> = pairs.iter().filter(|p| p.pair.is_usable()).collect();
    let (mut measured, mut planned) = (0.0, 0.0);
    for p in &usable {
        measured += p.pair.treatment.injected_per_unit_s() + p.pair.baseline.injected_per_unit_s();
        planned += p
            .slowed
            .iter()
            .chain(&p.reference)
            .map(|&i| dosed[i].injected_per_unit_s)
            .sum::<f64>();
    }
    // Baselines are the reference windows that slowed nothing (every block
    // has some; without any, every reference window).
    let baselines: Vec<&GroupedPair> = usable
        .iter()
        .copied()
        .filter(|p| p.reference.is_empty())
        .collect();
    let baselines = if baselines.is_empty() {
        usable
    } else {
        baselines
    };
    let scale = if planned > 0.0 && measured > 0.0 {
        measured / planned
    } else {
        1.0
    };
    let t0 = if baselines.is_empty() {
        0.0
    } else {
        baselines
            .iter()
            .map(|p| p.pair.baseline.time_per_unit_s())
            .sum::<f64>()
            / baselines.len() as f64
    };
    fit.effects
        .iter()
        .zip(dosed)
        .map(|(e, d)| {
            let injected = d.injected_per_unit_s * scale;
            let value = criticality_of_effect(e.log_ratio, t0, injected);
            value.is_finite().then(|| {
                (
                    value,
                    e.interval.map(|b| criticality_of_effect(b, t0, injected)),
                )
            })
        })
        .collect()
}

/// The leader and every candidate whose interval reaches the leader's
/// (at most [`MAX_CONFIRMED`]), leader first.
fn contenders(crit: &[Option<(f64, crate::analysis::Interval)>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..crit.len()).filter(|&i| crit[i].is_some()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (
            crit[a].map_or(f64::MIN, |c| c.0),
            crit[b].map_or(f64::MIN, |c| c.0),
        );
        y.total_cmp(&x)
    });
    let Some(&leader) = order.first() else {
        return Vec::new();
    };
    let Some((_, lead_iv)) = crit[leader] else {
        return Vec::new();
    };
    order
        .into_iter()
        .filter(|&i| i == leader || crit[i].is_some_and(|(_, iv)| iv.high >= lead_iv.low))
        .take(MAX_CONFIRMED)
        .collect()
}

/// A grouped-only candidate's verdict: precise when its criticality
/// interval is narrow or the ranking is settled without it.
fn grouped_verdict(
    appearances: usize,
    interval: crate::analysis::Interval,
    standing: Standing,
    cut_short: bool,
) -> Verdict {
    let hw = interval.half_width();
    if hw <= CRITICALITY_TARGET || standing == Standing::Separated {
        return Verdict::Precise {
            pairs_used: appearances,
            half_width: hw,
        };
    }
    Verdict::TooNoisy {
        pairs_used: appearances,
        half_width: Some(hw),
        pairs_needed: None,
        advice: format!(
            "criticality known to ±{hw:.2} only{}; raise --budget or --dose for a sharper ranking",
            if cut_short {
                " (the ranking was cut short)"
            } else {
                ""
            }
        ),
    }
}

/// The tree node the candidates hang under: the parent path they all
/// share (`pkg.mod` for `pkg.mod:f` and `pkg.mod:g`; `pkg` for `pkg.a` and
/// `pkg.b`), `*` for top-level nodes or candidates from elsewhere.
pub fn common_parent(candidates: &[Candidate]) -> String {
    let parents: Vec<String> = candidates.iter().map(|c| parent_path(&c.label)).collect();
    match parents.split_first() {
        Some((first, rest)) if !first.is_empty() && rest.iter().all(|p| p == first) => {
            first.clone()
        }
        _ => "*".to_owned(),
    }
}

/// The parent of a tree path: `pkg.mod:C.f` → `pkg.mod:C`, `pkg.mod:f` →
/// `pkg.mod`, `pkg.mod` → `pkg`, `pkg` → `` (the root).
fn parent_path(path: &str) -> String {
    match path.split_once(':') {
        Some((module, qualname)) => match qualname.rsplit_once('.') {
            Some((outer, _)) => {
                let outer = outer.strip_suffix(".<locals>").unwrap_or(outer);
                format!("{module}:{outer}")
            }
            None => module.to_owned(),
        },
        None => path
            .rsplit_once('.')
            .map_or(String::new(), |(p, _)| p.to_owned()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::analysis::NodeKind;

    fn candidate(label: &str) -> Candidate {
        Candidate {
            label: label.to_owned(),
            kind: NodeKind::Function,
            patterns: vec![label.to_owned()],
            calls: 1,
            share: 0.5,
            functions: 1,
        }
    }

    #[test]
    fn parents() {
        assert_eq!(parent_path("a.b:C.f"), "a.b:C");
        assert_eq!(parent_path("a.b:f.<locals>.g"), "a.b:f");
        assert_eq!(parent_path("a.b:f"), "a.b");
        assert_eq!(parent_path("a.b"), "a");
        assert_eq!(parent_path("a"), "");
        let under = |labels: &[&str]| {
            common_parent(&labels.iter().map(|l| candidate(l)).collect::<Vec<_>>())
        };
        assert_eq!(under(&["__main__:a", "__main__:b"]), "__main__");
        assert_eq!(under(&["__main__", "numpy"]), "*");
        assert_eq!(under(&["a.x:f", "b.y:g"]), "*");
    }
}
