//! The paired-window loop shared by sweeps and rankings (DESIGN.md,
//! "Experiments and analysis").
//!
//! Every setting (a delay; a candidate's patterns at one delay) is measured
//! in pairs of adjacent windows: a baseline with the same patterns at delay
//! 0 (the hook counts but does not spin, so its own per-call cost is on both
//! sides and cancels) and the treatment, in random order. Work goes in
//! rounds ([`InterleavedSchedule`]): each round measures one pair for every
//! setting still open, settings in random order, so drift hits all of them
//! alike. After each pair the setting's relative throughput is estimated
//! (mean log ratio, Student t) and judged ([`StopRule`]): it closes once its
//! interval is tight enough. The loop ends when every setting is closed, the
//! budget cannot hold another pair, or the experiment is cancelled or the
//! workload ends; open settings are then judged with the budget spent
//! (precise, or "too noisy" with advice).
//!
//! Window length per setting starts at the minimum and grows by Coz's rule
//! ([`next_window_s`]): doubled after a pair with a window of fewer than 5
//! units, else long enough for 20 units at the slower rate. It also doubles
//! while a setting's interval stays more than twice as wide as the target
//! after the minimum pairs: on a shared machine the noise between windows
//! comes in bursts of other programs' work lasting up to seconds, so short
//! windows differ by 15-30% and longer ones average the bursts out (measured:
//! 6 pairs of 4 s windows reached ±5% where 0.3 s windows needed over 100).

use crate::analysis::{
    InterleavedSchedule, Pair, StopRule, Verdict, next_window_s, relative_throughput,
};
use crate::live::LiveSettings;

use super::protocol::Mode;
use super::target::{Cancel, ExitInfo, Target, TargetError};

/// What to measure.
#[derive(Debug, Clone)]
pub struct PairedPlan {
    /// The treatment settings, one per setting; each baseline is the same
    /// at delay 0.
    pub treatments: Vec<LiveSettings>,
    /// Wall-clock budget (target clock), seconds.
    pub budget_s: f64,
    /// When a setting is precise enough.
    pub stop: StopRule,
    /// Seed of the window order.
    pub seed: u64,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// First window length, seconds.
    pub min_window_s: f64,
    /// Longest window, seconds.
    pub max_window_s: f64,
}

/// How the loop ended early, if it did.
#[derive(Debug, Clone, PartialEq)]
pub enum Interruption {
    /// `Cancel` (or `Shutdown`) arrived.
    Cancelled,
    /// The workload ended (live mode) or a run failed (restart mode).
    Exited(ExitInfo),
    /// Something else stopped the experiment; the message says what.
    Failed(String),
}

impl From<TargetError> for Interruption {
    fn from(e: TargetError) -> Interruption {
        match e {
            TargetError::Cancelled => Interruption::Cancelled,
            TargetError::Exited(info) => Interruption::Exited(info),
            other => Interruption::Failed(other.to_string()),
        }
    }
}

/// Everything the loop measured.
#[derive(Debug, Clone)]
pub struct PairedOutcome {
    /// Pairs per setting, in the order measured.
    pub pairs: Vec<Vec<Pair>>,
    /// Final verdict per setting.
    pub verdicts: Vec<Verdict>,
    /// Target-clock seconds used.
    pub spent_s: f64,
    /// Why it ended early (`None`: every setting closed, or the budget).
    pub interruption: Option<Interruption>,
    /// The modes windows ran in: `Live`, `Restart`, or `Auto` for both.
    pub mode: Mode,
}

impl PairedOutcome {
    /// Whether the results are partial (cancelled, or cut short by the
    /// workload).
    pub fn partial(&self) -> bool {
        self.interruption.is_some()
    }
}

/// Reported after each pair.
#[derive(Debug)]
pub struct PairEvent<'a> {
    /// Index of the setting.
    pub setting: usize,
    /// Its pairs so far.
    pub pairs: &'a [Pair],
    /// Its verdict now.
    pub verdict: &'a Verdict,
    /// Budget spent so far, seconds.
    pub spent_s: f64,
    /// Pairs measured over all settings.
    pub total_pairs: usize,
}

/// Whether a setting still measuring is so far from its target that its
/// window should double: with at least the minimum pairs, its interval is
/// more than twice as wide as the target (about 4 times the pairs so far
/// still needed).
fn far_from_target(verdict: &Verdict, stop: &StopRule) -> bool {
    match verdict {
        Verdict::Continue {
            pairs_used,
            half_width: Some(hw),
        } => *pairs_used >= stop.min_pairs && *hw > 2.0 * stop.target_half_width,
        _ => false,
    }
}

/// The baseline of a treatment: the same settings at delay 0.
pub fn baseline_of(treatment: &LiveSettings) -> LiveSettings {
    treatment.counting_only()
}

fn merge_mode(seen: Option<Mode>, now: Mode) -> Mode {
    match seen {
        Some(m) if m != now => Mode::Auto,
        _ => now,
    }
}

/// Runs the plan on `target`; `on_pair` hears about every pair.
pub fn run_pairs(
    target: &mut dyn Target,
    plan: &PairedPlan,
    cancel: &Cancel,
    mut on_pair: impl FnMut(PairEvent<'_>),
) -> PairedOutcome {
    let n = plan.treatments.len();
    let start_s = target.clock_s();
    let mut schedule = InterleavedSchedule::new(n, plan.seed);
    let mut pairs: Vec<Vec<Pair>> = vec![Vec::new(); n];
    let mut windows = vec![plan.min_window_s; n];
    let mut verdicts: Vec<Verdict> = (0..n).map(|_| plan.stop.judge(None, false)).collect();
    let mut mode_seen: Option<Mode> = None;
    let mut total_pairs = 0;
    let mut interruption = None;
    'rounds: loop {
        let round = schedule.next_round(|s| !verdicts[s].is_final());
        if round.is_empty() {
            break;
        }
        for slot in round {
            let s = slot.setting;
            let spent = target.clock_s() - start_s;
            let cost = 2.0 * target.window_cost_s(windows[s]);
            if spent + cost > plan.budget_s {
                break 'rounds;
            }
            let treatment = &plan.treatments[s];
            let baseline = baseline_of(treatment);
            let pair = match measure_pair(target, &baseline, treatment, windows[s], slot, cancel) {
                Ok((pair, mode)) => {
                    mode_seen = Some(merge_mode(mode_seen, mode));
                    pair
                }
                Err(e) => {
                    interruption = Some(Interruption::from(e));
                    break 'rounds;
                }
            };
            pairs[s].push(pair);
            total_pairs += 1;
            let estimate = relative_throughput(&pairs[s], plan.confidence);
            verdicts[s] = plan.stop.judge(estimate.as_ref(), false);
            let grown = next_window_s(windows[s], &pair);
            let grown = if far_from_target(&verdicts[s], &plan.stop) {
                grown.max(2.0 * windows[s])
            } else {
                grown
            };
            windows[s] = grown.clamp(plan.min_window_s, plan.max_window_s);
            on_pair(PairEvent {
                setting: s,
                pairs: &pairs[s],
                verdict: &verdicts[s],
                spent_s: target.clock_s() - start_s,
                total_pairs,
            });
        }
    }
    for (s, verdict) in verdicts.iter_mut().enumerate() {
        if !verdict.is_final() {
            let estimate = relative_throughput(&pairs[s], plan.confidence);
            *verdict = plan.stop.judge(estimate.as_ref(), true);
        }
    }
    PairedOutcome {
        pairs,
        verdicts,
        spent_s: target.clock_s() - start_s,
        interruption,
        mode: mode_seen.unwrap_or_else(|| target.mode()),
    }
}

/// One pair in the slot's order. If the target changed mode between the
/// windows (auto mode switched to restart), the pair is measured again so
/// both windows share a mode.
pub(crate) fn measure_pair(
    target: &mut dyn Target,
    baseline: &LiveSettings,
    treatment: &LiveSettings,
    window_s: f64,
    slot: crate::analysis::PairSlot,
    cancel: &Cancel,
) -> Result<(Pair, Mode), TargetError> {
    for _ in 0..2 {
        let mode = target.mode();
        let order = if slot.baseline_first {
            [baseline, treatment]
        } else {
            [treatment, baseline]
        };
        let mut windows = Vec::with_capacity(2);
        for settings in order {
            target.apply(settings, cancel)?;
            windows.push(target.measure(window_s, cancel)?);
        }
        if target.mode() != mode {
            continue;
        }
        let (first, second) = (windows[0], windows[1]);
        let (b, t) = if slot.baseline_first {
            (first, second)
        } else {
            (second, first)
        };
        return Ok((
            Pair {
                baseline: b,
                treatment: t,
                baseline_first: slot.baseline_first,
            },
            mode,
        ));
    }
    Err(TargetError::NoProgress(
        "the workload kept changing mode between windows".to_owned(),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::experiment::fake::{FakeTarget, FakeWorkload};

    fn plan(patterns: &[&str], delays: &[u64], budget_s: f64) -> PairedPlan {
        PairedPlan {
            treatments: delays
                .iter()
                .map(|&d| LiveSettings {
                    delay_ns: d,
                    patterns: patterns.iter().map(|p| p.to_string()).collect(),
                    ..LiveSettings::default()
                })
                .collect(),
            budget_s,
            stop: StopRule::default(),
            seed: 7,
            confidence: 0.95,
            min_window_s: 0.3,
            max_window_s: 30.0,
        }
    }

    #[test]
    fn stops_every_setting_when_precise() {
        let mut target = FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, 3);
        let p = plan(&["*:*"], &[10_000, 30_000], 600.0);
        let mut events = 0;
        let out = run_pairs(&mut target, &p, &Cancel::never(), |_| events += 1);
        assert!(
            out.verdicts
                .iter()
                .all(|v| matches!(v, Verdict::Precise { .. }))
        );
        assert_eq!(events, out.pairs.iter().map(Vec::len).sum::<usize>());
        assert!(out.pairs.iter().all(|p| p.len() >= 3));
        assert_eq!(out.mode, Mode::Live);
        assert!(!out.partial());
        // Baseline and treatment alternate in both orders.
        let firsts = out
            .pairs
            .iter()
            .flatten()
            .filter(|p| p.baseline_first)
            .count();
        assert!(firsts > 0 && firsts < out.pairs.iter().flatten().count());
    }

    #[test]
    fn noisy_settings_get_longer_windows() {
        let noisy = FakeWorkload {
            noise: 0.3,
            ..FakeWorkload::python_bound()
        };
        let mut target = FakeTarget::new(noisy, Mode::Live, 0.5, 5);
        let p = plan(&["*:*"], &[10_000], 60.0);
        let out = run_pairs(&mut target, &p, &Cancel::never(), |_| {});
        let walls: Vec<f64> = out.pairs[0].iter().map(|p| p.baseline.wall_s).collect();
        assert_eq!(walls[0], 0.3);
        assert!(walls.iter().any(|&w| w >= 2.4), "{walls:?}");
        let quiet = FakeWorkload::python_bound();
        let mut target = FakeTarget::new(quiet, Mode::Live, 0.5, 5);
        let out = run_pairs(&mut target, &p, &Cancel::never(), |_| {});
        let longest = out.pairs[0]
            .iter()
            .map(|p| p.baseline.wall_s)
            .fold(0.0, f64::max);
        assert!(longest <= 0.6, "{longest}");
    }

    #[test]
    fn windows_of_one_pair_share_the_patterns() {
        let mut target = FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, 3);
        let p = plan(&["__main__:launch"], &[50_000], 5.0);
        run_pairs(&mut target, &p, &Cancel::never(), |_| {});
        for pair in target.history.chunks(2) {
            assert_eq!(pair[0].patterns, pair[1].patterns);
            assert_eq!(pair[0].delay_ns + pair[1].delay_ns, 50_000);
        }
    }
}
