//! The grouped design of a ranking (docs/ranking.md): several candidates
//! slowed per window, their effects separated by least squares.
//!
//! Evidence comes in pairs, as everywhere (a baseline window with every
//! candidate counted at delay 0 next to a treatment window), but a
//! treatment slows a *group* of candidates at once, each at its own delay.
//! Groups come in blocks ([`design_block`]): a random partition of the
//! candidates, so each candidate is slowed exactly once per block and with
//! ever different companions. The model is additive on the log scale:
//!
//! ```text
//! y_j = ln(rate_treatment / rate_baseline) of pair j = Σ_i x_ji β_i + ε_j
//! ```
//!
//! with `x_ji = 1` when candidate `i` was slowed in pair `j`. No intercept:
//! the pair's baseline is the reference. `β` is the ordinary least squares
//! estimate, its covariance `σ̂² (XᵀX)⁻¹` with `σ̂² = RSS / (n - k)`, and
//! the intervals use Student t with `n - k` degrees of freedom.
//!
//! Additivity is checked with Tukey's one-degree-of-freedom test (Tukey
//! 1949): the squared fitted values are added as one more regressor; a
//! coefficient significantly different from zero says effects do not add
//! up (slowing two hidden stages together may use up the slack that hides
//! each alone). The engine then relies on the one-at-a-time confirmation of
//! the leaders, which this module compares with the grouped estimates.
//!
//! Why a grouped design: with `k` candidates and `N` pairs, one at a time
//! gives each candidate `N / k` pairs; a group of `m` gives each `N·m / k`
//! appearances, and least squares separates them at nearly the variance of
//! `N·m / k` pairs (exactly, for an orthogonal design), so the same budget
//! buys about `m` times the evidence per candidate.
//!
//! Solving: the normal equations are a `k × k` symmetric positive definite
//! system (k is at most a few dozen candidates), solved by Cholesky
//! factorisation below; a linear-algebra crate would add a large dependency
//! for forty lines.

use serde::{Deserialize, Serialize};

use super::prng::SplitMix64;
use super::stats::Interval;
use super::student::t_critical;
use super::window::Pair;

/// One block of the design: a random partition of `k` candidates into
/// groups of about `group_size` (sizes differ by at most one), each group
/// the treatment of one pair.
pub fn design_block(k: usize, group_size: usize, rng: &mut SplitMix64) -> Vec<Vec<usize>> {
    if k == 0 {
        return Vec::new();
    }
    let group_size = group_size.clamp(1, k);
    let groups = k.div_ceil(group_size);
    let mut order: Vec<usize> = (0..k).collect();
    rng.shuffle(&mut order);
    let mut out = vec![Vec::new(); groups];
    for (i, candidate) in order.into_iter().enumerate() {
        out[i % groups].push(candidate);
    }
    for group in &mut out {
        group.sort_unstable();
    }
    rng.shuffle(&mut out);
    out
}

/// The pairs of one block: two groups face each other in a pair (the
/// treatment window slows one, the reference window the other), so both
/// windows of a pair carry evidence; a group left over, and every other
/// block one more group, faces a baseline (nothing slowed), which anchors
/// the effects' common level (contrasts alone only see differences).
///
/// Why: with a baseline in every pair, half the windows slow nothing. Two
/// groups per pair give about twice the evidence per window for the same
/// drift protection (adjacent windows); docs/ranking.md has the figures.
pub fn block_pairs(
    groups: Vec<Vec<usize>>,
    block: usize,
    rng: &mut SplitMix64,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    let anchor = (block % 2 == 0 && groups.len() % 2 == 0 && !groups.is_empty())
        .then(|| groups[rng.below(groups.len() as u64) as usize].clone());
    let mut out = Vec::with_capacity(groups.len() / 2 + 2);
    let mut rest = groups.into_iter();
    while let Some(first) = rest.next() {
        out.push((first, rest.next().unwrap_or_default()));
    }
    out.extend(anchor.map(|group| (group, Vec::new())));
    rng.shuffle(&mut out);
    out
}

/// One pair of the grouped design: which candidates each window slowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupedPair {
    /// Indices of the candidates slowed in the treatment window.
    pub slowed: Vec<usize>,
    /// Indices of the candidates slowed in the other window (empty: a
    /// baseline, nothing slowed).
    #[serde(default)]
    pub reference: Vec<usize>,
    /// The two windows.
    pub pair: Pair,
}

/// One candidate's effect on the log rate ratio.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// `β_i`: ln(rate with the candidate slowed / rate without).
    pub log_ratio: f64,
    /// Its standard error.
    pub std_error: f64,
    /// Its Student t interval.
    pub interval: Interval,
    /// Pairs in which the candidate was slowed (in either window).
    pub appearances: usize,
}

/// Tukey's one-degree-of-freedom test for non-additivity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Additivity {
    /// Coefficient of the squared fitted value.
    pub coefficient: f64,
    /// Its t statistic.
    pub t: f64,
    /// Whether the effects add up (|t| below the critical value).
    pub additive: bool,
}

/// The least-squares fit of a grouped design.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupedFit {
    /// One effect per candidate, in candidate order.
    pub effects: Vec<Effect>,
    /// Usable pairs fitted.
    pub pairs_used: usize,
    /// Residual degrees of freedom (`n - k`).
    pub degrees_of_freedom: usize,
    /// Residual standard deviation of a pair's log ratio.
    pub residual_sd: f64,
    /// The additivity check (`None` without enough pairs for it).
    pub additivity: Option<Additivity>,
}

/// Fits the additive model to the usable pairs; `None` until every
/// candidate was slowed at least once and there are more pairs than
/// candidates (or the design is singular).
pub fn fit_effects(k: usize, pairs: &[GroupedPair], confidence: f64) -> Option<GroupedFit> {
    let rows: Vec<(Vec<f64>, f64)> = pairs
        .iter()
        .filter(|p| p.pair.is_usable() && p.slowed.iter().chain(&p.reference).all(|&i| i < k))
        .map(|p| {
            let mut x = vec![0.0; k];
            for &i in &p.slowed {
                x[i] += 1.0;
            }
            for &i in &p.reference {
                x[i] -= 1.0;
            }
            (x, p.pair.log_ratio())
        })
        .filter(|(_, y)| y.is_finite())
        .collect();
    let n = rows.len();
    if k == 0 || n <= k {
        return None;
    }
    let (beta, inverse, rss) = least_squares(&rows, k)?;
    let df = n - k;
    let sigma2 = rss / df as f64;
    let t = t_critical(confidence, df as f64);
    let effects = (0..k)
        .map(|i| {
            let se = (sigma2 * inverse[i][i]).max(0.0).sqrt();
            Effect {
                log_ratio: beta[i],
                std_error: se,
                interval: Interval::new(beta[i] - t * se, beta[i] + t * se),
                appearances: rows.iter().filter(|(x, _)| x[i] != 0.0).count(),
            }
        })
        .collect();
    Some(GroupedFit {
        effects,
        pairs_used: n,
        degrees_of_freedom: df,
        residual_sd: sigma2.sqrt(),
        additivity: tukey_additivity(&rows, &beta, confidence),
    })
}

/// Tukey's test: regress y on X plus (Xβ̂)²; the t of the last coefficient.
fn tukey_additivity(rows: &[(Vec<f64>, f64)], beta: &[f64], confidence: f64) -> Option<Additivity> {
    let k = beta.len();
    if rows.len() <= k + 2 {
        return None;
    }
    let extended: Vec<(Vec<f64>, f64)> = rows
        .iter()
        .map(|(x, y)| {
            let fitted: f64 = x.iter().zip(beta).map(|(a, b)| a * b).sum();
            let mut x = x.clone();
            x.push(fitted * fitted);
            (x, *y)
        })
        .collect();
    let (gamma, inverse, rss) = least_squares(&extended, k + 1)?;
    let df = rows.len() - k - 1;
    let se = (rss / df as f64 * inverse[k][k]).max(0.0).sqrt();
    if se <= 0.0 || !se.is_finite() {
        return None;
    }
    let t = gamma[k] / se;
    Some(Additivity {
        coefficient: gamma[k],
        t,
        additive: t.abs() <= t_critical(confidence, df as f64),
    })
}

/// Ordinary least squares: (β, (XᵀX)⁻¹, residual sum of squares).
fn least_squares(rows: &[(Vec<f64>, f64)], k: usize) -> Option<(Vec<f64>, Vec<Vec<f64>>, f64)> {
    let mut xtx = vec![vec![0.0; k]; k];
    let mut xty = vec![0.0; k];
    for (x, y) in rows {
        for a in 0..k {
            xty[a] += x[a] * y;
            for b in 0..k {
                xtx[a][b] += x[a] * x[b];
            }
        }
    }
    let l = cholesky(&xtx)?;
    let beta = cholesky_solve(&l, &xty);
    let inverse: Vec<Vec<f64>> = (0..k)
        .map(|i| {
            let mut e = vec![0.0; k];
            e[i] = 1.0;
            cholesky_solve(&l, &e)
        })
        .collect();
    let rss = rows
        .iter()
        .map(|(x, y)| {
            let fitted: f64 = x.iter().zip(&beta).map(|(a, b)| a * b).sum();
            (y - fitted).powi(2)
        })
        .sum();
    Some((beta, inverse, rss))
}

/// Lower-triangular `L` with `L Lᵀ = a`; `None` when `a` is not positive
/// definite (a candidate never slowed, or two always slowed together).
fn cholesky(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let k = a.len();
    let mut l = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = (0..j).map(|p| l[i][p] * l[j][p]).sum();
            if i == j {
                let d = a[i][i] - s;
                if d <= 1e-9 * a[i][i].abs().max(1.0) {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    Some(l)
}

fn cholesky_solve(l: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let k = l.len();
    let mut z = vec![0.0; k];
    for i in 0..k {
        let s: f64 = (0..i).map(|p| l[i][p] * z[p]).sum();
        z[i] = (b[i] - s) / l[i][i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        let s: f64 = (i + 1..k).map(|p| l[p][i] * x[p]).sum();
        x[i] = (z[i] - s) / l[i][i];
    }
    x
}

/// Criticality from a log rate ratio: the extra time per unit
/// `t0 · (e^{-β} - 1)` over the injected time per unit (both seconds).
pub fn criticality_of_effect(
    log_ratio: f64,
    time_per_unit_s: f64,
    injected_per_unit_s: f64,
) -> f64 {
    if injected_per_unit_s <= 0.0 {
        return f64::NAN;
    }
    time_per_unit_s * ((-log_ratio).exp() - 1.0) / injected_per_unit_s
}

/// Where a ranking stands (the stop rule of docs/ranking.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// The leader's interval lies above every other candidate's.
    Separated,
    /// Every interval is narrower than the target half-width: the order
    /// is as settled as the effects allow (ties among them are real).
    Narrow,
    /// Neither yet.
    Open,
}

/// Judges a ranking from each candidate's interval on the ranking key
/// (higher is better), `target_half_width` in the key's units.
pub fn standing(intervals: &[Interval], target_half_width: f64) -> Standing {
    let Some(leader) = intervals
        .iter()
        .enumerate()
        .max_by(|a, b| (a.1.low + a.1.high).total_cmp(&(b.1.low + b.1.high)))
        .map(|(i, _)| i)
    else {
        return Standing::Open;
    };
    if intervals.len() > 1
        && intervals
            .iter()
            .enumerate()
            .all(|(i, iv)| i == leader || iv.high < intervals[leader].low)
    {
        return Standing::Separated;
    }
    if intervals
        .iter()
        .all(|iv| iv.half_width() <= target_half_width)
    {
        return Standing::Narrow;
    }
    Standing::Open
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::analysis::window::Window;

    fn window(rate: f64) -> Window {
        Window {
            units: (rate * 10.0).round() as u64,
            wall_s: 10.0,
            injected_ns: 0,
            delayed_calls: 0,
            calls: 0,
            whole_run: false,
            latency: None,
        }
    }

    /// The candidate with the largest drop (most negative effect).
    fn leader(fit: &GroupedFit) -> usize {
        (0..fit.effects.len())
            .min_by(|&a, &b| {
                fit.effects[a]
                    .log_ratio
                    .total_cmp(&fit.effects[b].log_ratio)
            })
            .unwrap()
    }

    /// Pairs from a known additive model with seeded noise.
    fn simulate(
        effects: &[f64],
        group: usize,
        blocks: usize,
        noise: f64,
        seed: u64,
    ) -> Vec<GroupedPair> {
        let mut rng = SplitMix64::new(seed);
        let mut out = Vec::new();
        for _ in 0..blocks {
            for slowed in design_block(effects.len(), group, &mut rng) {
                let y: f64 =
                    slowed.iter().map(|&i| effects[i]).sum::<f64>() + noise * rng.gaussian();
                out.push(GroupedPair {
                    slowed,
                    reference: Vec::new(),
                    pair: Pair {
                        baseline: window(1000.0),
                        treatment: window(1000.0 * y.exp()),
                        baseline_first: true,
                    },
                });
            }
        }
        out
    }

    #[test]
    fn blocks_slow_every_candidate_once() {
        let mut rng = SplitMix64::new(1);
        for (k, m) in [(16, 8), (17, 5), (5, 3), (3, 1)] {
            let block = design_block(k, m, &mut rng);
            let mut seen: Vec<usize> = block.iter().flatten().copied().collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..k).collect::<Vec<_>>());
            let sizes: Vec<usize> = block.iter().map(Vec::len).collect();
            let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(hi - lo <= 1 && *hi <= m, "{sizes:?}");
        }
    }

    #[test]
    fn recovers_known_effects_with_honest_intervals() {
        let truth: Vec<f64> = (0..16)
            .map(|i| {
                if i == 3 {
                    -0.05
                } else if i == 9 {
                    -0.02
                } else {
                    0.0
                }
            })
            .collect();
        let mut covered = 0;
        let mut total = 0;
        let mut false_alarms = 0;
        for seed in 0..40 {
            let pairs = simulate(&truth, 4, 12, 0.01, seed);
            let fit = fit_effects(16, &pairs, 0.95).unwrap();
            assert_eq!(fit.pairs_used, 48);
            for (e, t) in fit.effects.iter().zip(&truth) {
                total += 1;
                covered += usize::from(e.interval.contains(*t));
            }
            // The leader comes out first.
            assert_eq!(leader(&fit), 3);
            false_alarms += usize::from(!fit.additivity.unwrap().additive);
        }
        // An additive truth: the check fires at about its 5% level.
        assert!(false_alarms <= 6, "{false_alarms}");
        let coverage = covered as f64 / total as f64;
        assert!((0.9..=0.99).contains(&coverage), "{coverage}");
    }

    #[test]
    fn block_pairs_use_every_group_once_and_anchor_the_level() {
        let mut rng = SplitMix64::new(3);
        for (k, m) in [(16, 4), (17, 5), (8, 4), (5, 3)] {
            let mut baselines = 0;
            for block in 0..4 {
                let groups = design_block(k, m, &mut rng);
                let n_groups = groups.len();
                let pairs = block_pairs(groups, block, &mut rng);
                let mut seen: Vec<usize> = pairs
                    .iter()
                    .flat_map(|(a, b)| a.iter().chain(b))
                    .copied()
                    .collect();
                seen.sort_unstable();
                seen.dedup();
                assert_eq!(seen, (0..k).collect::<Vec<_>>());
                for (a, b) in &pairs {
                    assert!(!a.is_empty() && a.iter().all(|i| !b.contains(i)));
                }
                baselines += pairs.iter().filter(|(_, b)| b.is_empty()).count();
                assert!(pairs.len() <= n_groups / 2 + 2);
            }
            // Every two blocks face a baseline at least once.
            assert!(baselines >= 2, "k={k}: {baselines}");
        }
    }

    #[test]
    fn contrasts_recover_known_effects_with_narrower_intervals_per_window() {
        // The truth of `recovers_known_effects_with_honest_intervals`, with
        // as many pairs (48): groups facing each other carry evidence in
        // both windows of a pair, so the intervals are narrower.
        let truth: Vec<f64> = (0..16)
            .map(|i| match i {
                3 => -0.05,
                9 => -0.02,
                _ => 0.0,
            })
            .collect();
        let (mut covered, mut total) = (0, 0);
        let (mut contrast_width, mut baseline_width) = (0.0, 0.0);
        for seed in 0..40 {
            let mut rng = SplitMix64::new(seed);
            let mut pairs = Vec::new();
            let mut block = 0;
            while pairs.len() < 48 {
                let groups = design_block(16, 4, &mut rng);
                for (slowed, reference) in block_pairs(groups, block, &mut rng) {
                    let effect = |g: &[usize]| g.iter().map(|&i| truth[i]).sum::<f64>();
                    let y = effect(&slowed) - effect(&reference) + 0.01 * rng.gaussian();
                    pairs.push(GroupedPair {
                        slowed,
                        reference,
                        pair: Pair {
                            baseline: window(1000.0),
                            treatment: window(1000.0 * y.exp()),
                            baseline_first: true,
                        },
                    });
                }
                block += 1;
            }
            pairs.truncate(48);
            let fit = fit_effects(16, &pairs, 0.95).unwrap();
            for (e, t) in fit.effects.iter().zip(&truth) {
                total += 1;
                covered += usize::from(e.interval.contains(*t));
                contrast_width += e.interval.half_width();
            }
            assert_eq!(leader(&fit), 3);
            let baseline_fit = fit_effects(16, &simulate(&truth, 4, 12, 0.01, seed), 0.95).unwrap();
            baseline_width += baseline_fit
                .effects
                .iter()
                .map(|e| e.interval.half_width())
                .sum::<f64>();
        }
        let coverage = covered as f64 / total as f64;
        assert!((0.9..=0.99).contains(&coverage), "{coverage}");
        // Variance about half: half-widths about 0.7x.
        assert!(
            contrast_width < 0.8 * baseline_width,
            "{contrast_width} vs {baseline_width}"
        );
    }

    #[test]
    fn interactions_are_detected() {
        // Effects that only show when many candidates are slowed together
        // (slack used up): y = -0.02 · (slowed count)², not additive.
        let mut rng = SplitMix64::new(5);
        let mut pairs = Vec::new();
        for _ in 0..30 {
            for group in [1usize, 2, 4, 6] {
                let mut slowed: Vec<usize> = (0..8).collect();
                rng.shuffle(&mut slowed);
                slowed.truncate(group);
                let y = -0.002 * (group * group) as f64 + 0.002 * rng.gaussian();
                pairs.push(GroupedPair {
                    slowed,
                    reference: Vec::new(),
                    pair: Pair {
                        baseline: window(1000.0),
                        treatment: window(1000.0 * y.exp()),
                        baseline_first: false,
                    },
                });
            }
        }
        let fit = fit_effects(8, &pairs, 0.95).unwrap();
        assert!(!fit.additivity.unwrap().additive, "{:?}", fit.additivity);
    }

    #[test]
    fn too_few_pairs_or_a_never_slowed_candidate_gives_no_fit() {
        let pairs = simulate(&[-0.1, 0.0, 0.0], 1, 1, 0.01, 1);
        assert!(fit_effects(3, &pairs, 0.95).is_none());
        let mut pairs = simulate(&[-0.1, 0.0], 1, 4, 0.01, 1);
        pairs.iter_mut().for_each(|p| p.slowed.retain(|&i| i == 0));
        assert!(fit_effects(2, &pairs, 0.95).is_none());
    }

    #[test]
    fn criticality_from_an_effect() {
        // 10 ms per unit, 0.5 ms injected, rate down to 1/1.05: all of it landed.
        let c = criticality_of_effect(-(1.05f64.ln()), 0.010, 0.0005);
        assert!((c - 1.0).abs() < 1e-9, "{c}");
        assert!(criticality_of_effect(-0.1, 0.01, 0.0).is_nan());
    }

    #[test]
    fn standings() {
        let iv = Interval::new;
        assert_eq!(
            standing(&[iv(0.8, 1.2), iv(-0.1, 0.3), iv(0.0, 0.5)], 0.05),
            Standing::Separated
        );
        assert_eq!(
            standing(&[iv(0.8, 1.2), iv(0.7, 0.9)], 0.05),
            Standing::Open
        );
        assert_eq!(
            standing(&[iv(0.48, 0.52), iv(0.47, 0.51)], 0.05),
            Standing::Narrow
        );
        assert_eq!(standing(&[], 0.05), Standing::Open);
    }
}
