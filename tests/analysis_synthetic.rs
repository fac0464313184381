//! The analysis on synthetic sweeps with known answers: a simulated workload
//! whose time per unit is a known function of injected time per unit, with
//! seeded noise (per-pair drift, per-window jitter, whole units), measured
//! through the same windows and pairs the engine records.

use speedbump::analysis::extrapolate::{Bottleneck, predict_gain, python_verdict};
use speedbump::analysis::prng::SplitMix64;
use speedbump::analysis::ranking::{CandidateMeasurement, RankBy, rank, shown_rank};
use speedbump::analysis::shape::{Shape, ShapeTolerances, classify};
use speedbump::analysis::stats::relative_throughput;
use speedbump::analysis::stop::{StopRule, Verdict};
use speedbump::analysis::{InterleavedSchedule, Pair, SweepPoint, Window};

const T0_S: f64 = 1e-3;
const CALLS_PER_UNIT: f64 = 4.0;
const WINDOW_S: f64 = 0.5;
const DELAYS_NS: [u64; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// A simulated workload: time per unit as a function of the undisturbed
/// time per unit and the injected time per unit (seconds → seconds), and
/// window-to-window noise (relative sd). Drift and jitter slow the
/// workload's own work, not the spin (the hook spins in wall time and pays
/// back overshoot).
struct Workload<'a> {
    time_per_unit: &'a dyn Fn(f64, f64) -> f64,
    calls_per_unit: f64,
    jitter: f64,
}

impl Workload<'_> {
    fn window(&self, rng: &mut SplitMix64, delay_ns: u64, drift: f64) -> Window {
        let injected = self.calls_per_unit * delay_ns as f64 * 1e-9;
        let t0 = T0_S * drift * (1.0 + self.jitter * rng.gaussian());
        let t = (self.time_per_unit)(t0, injected);
        let units = (WINDOW_S / t).round() as u64;
        let calls = (units as f64 * self.calls_per_unit).round() as u64;
        let delayed = if delay_ns > 0 { calls } else { 0 };
        Window {
            units,
            wall_s: WINDOW_S,
            injected_ns: delayed * delay_ns,
            delayed_calls: delayed,
            calls,
            whole_run: false,
            latency: None,
        }
    }

    fn pair(&self, rng: &mut SplitMix64, delay_ns: u64, baseline_first: bool) -> Pair {
        // Slow drift (another tenant): common to both windows of a pair.
        let drift = 1.0 + 0.05 * rng.gaussian().abs();
        let a = self.window(rng, 0, drift);
        let b = self.window(rng, delay_ns, drift);
        Pair {
            baseline: a,
            treatment: b,
            baseline_first,
        }
    }

    fn sweep(&self, seed: u64, delays: &[u64], pairs: usize) -> Vec<SweepPoint> {
        let mut rng = SplitMix64::new(seed);
        let mut schedule = InterleavedSchedule::new(delays.len(), seed ^ 0x5eed);
        let mut by_setting: Vec<Vec<Pair>> = vec![Vec::new(); delays.len()];
        for _ in 0..pairs {
            for slot in schedule.next_round(|_| true) {
                by_setting[slot.setting].push(self.pair(
                    &mut rng,
                    delays[slot.setting],
                    slot.baseline_first,
                ));
            }
        }
        delays
            .iter()
            .zip(&by_setting)
            .map(|(&d, p)| SweepPoint::from_pairs(d, p, 0.95).unwrap())
            .collect()
    }
}

fn linear(t0: f64, i: f64) -> f64 {
    t0 + i
}
fn sublinear(t0: f64, i: f64) -> f64 {
    t0 + 0.5 * i
}
fn flat(t0: f64, _: f64) -> f64 {
    t0
}
/// A device-bound pipeline with 100 µs of slack per unit: the host's
/// Python takes `t0 - 100 µs`, the device `t0`; t = max(host + i, device).
fn threshold(t0: f64, i: f64) -> f64 {
    (t0 - 100e-6 + i).max(t0)
}

type Model = dyn Fn(f64, f64) -> f64;

fn workload(f: &Model, jitter: f64) -> Workload<'_> {
    Workload {
        time_per_unit: f,
        calls_per_unit: CALLS_PER_UNIT,
        jitter,
    }
}

fn same_shape(a: Shape, b: Shape) -> bool {
    std::mem::discriminant(&a) == std::mem::discriminant(&b)
}

#[test]
fn known_shapes_are_classified_over_many_seeds() {
    let cases: [(&str, &Model, Shape); 4] = [
        ("linear", &linear, Shape::Linear),
        ("sub-linear", &sublinear, Shape::SubLinear),
        ("none", &flat, Shape::None),
        (
            "threshold",
            &threshold,
            Shape::Threshold { knee_ns: 25_000.0 },
        ),
    ];
    for (name, f, expected) in cases {
        let mut right = 0;
        for seed in 0..40 {
            let points = workload(f, 0.01).sweep(seed, &DELAYS_NS, 6);
            let analysis = classify(&points, &ShapeTolerances::default());
            if same_shape(analysis.shape, expected) {
                right += 1;
            } else {
                eprintln!(
                    "{name} seed {seed}: {:?} ({})",
                    analysis.shape, analysis.reason
                );
            }
        }
        assert!(right >= 38, "{name}: {right} of 40 right");
    }
}

#[test]
fn threshold_knee_is_where_the_slack_runs_out() {
    // Slack 100 µs per unit, 4 calls per unit: the knee is 25 µs per call.
    let points = workload(&threshold, 0.01).sweep(7, &[5_000, 12_500, 50_000, 100_000, 200_000], 6);
    let analysis = classify(&points, &ShapeTolerances::default());
    let Shape::Threshold { knee_ns } = analysis.shape else {
        panic!("{analysis:?}")
    };
    assert!((20_000.0..30_000.0).contains(&knee_ns), "knee {knee_ns} ns");
    let knee = analysis.knee.unwrap();
    assert!(knee.range_ns.contains(knee_ns));
    assert!((80e-6..120e-6).contains(&knee.slack_per_unit_s), "{knee:?}");
    let verdict = python_verdict(&analysis);
    assert_eq!(verdict.bottleneck, Bottleneck::NotYet);
    assert!(
        verdict
            .headroom_ns
            .is_some_and(|h| (20_000.0..30_000.0).contains(&h))
    );
}

#[test]
fn knee_just_below_the_first_dropping_delay_is_found() {
    // Knee 25 µs per call; the first dropping delay (30 µs) sits close above
    // it, so it drops much less than the line through later points implies.
    // The knee must come from all dropping points, not be reported at 30 µs.
    for seed in 0..20 {
        let points = workload(&threshold, 0.005).sweep(seed, &[5_000, 20_000, 30_000, 60_000], 6);
        let analysis = classify(&points, &ShapeTolerances::default());
        let Shape::Threshold { knee_ns } = analysis.shape else {
            panic!("seed {seed}: {analysis:?}")
        };
        assert!(
            (21_000.0..29_000.0).contains(&knee_ns),
            "seed {seed}: knee {knee_ns} ns"
        );
    }
}

#[test]
fn criticality_and_fit_recover_the_truth() {
    for (f, c) in [(&linear as &Model, 1.0), (&sublinear, 0.5)] {
        let points = workload(f, 0.01).sweep(3, &DELAYS_NS, 8);
        let fit = classify(&points, &ShapeTolerances::default()).fit.unwrap();
        assert!(
            (fit.slope - c).abs() < 0.05 && fit.interval.contains(c),
            "{fit:?}"
        );
        // Per-point criticality at the largest delay.
        let k = points[3].criticality.unwrap();
        assert!((k.criticality - c).abs() < 0.05, "{k:?}");
    }
}

#[test]
fn extrapolated_gain_matches_a_true_speedup() {
    // Making the matched code 50 µs per call faster removes 200 µs of each
    // 1 ms unit at criticality 1 (+25%), 100 µs at 0.5 (+11.1%), and
    // nothing with 100 µs of slack.
    for (f, truth) in [
        (&linear as &Model, 0.25),
        (&sublinear, 1.0 / 0.9 - 1.0),
        (&threshold, 0.0),
    ] {
        let points = workload(f, 0.01).sweep(11, &DELAYS_NS, 8);
        let analysis = classify(&points, &ShapeTolerances::default());
        let p = predict_gain(&analysis, &points, None, 50_000.0).unwrap();
        assert!(
            (p.gain - truth).abs() <= 0.25 * truth + 0.01,
            "{:?}: {p:?}",
            analysis.shape
        );
        assert!((p.calls_per_unit - CALLS_PER_UNIT).abs() < 0.01);
        assert!(p.caveat.contains("first-order"));
    }
}

#[test]
fn step_one_verdicts() {
    let yes = classify(
        &workload(&linear, 0.01).sweep(1, &DELAYS_NS, 6),
        &ShapeTolerances::default(),
    );
    assert_eq!(python_verdict(&yes).bottleneck, Bottleneck::Yes);
    let no = classify(
        &workload(&flat, 0.01).sweep(1, &DELAYS_NS, 6),
        &ShapeTolerances::default(),
    );
    let v = python_verdict(&no);
    assert_eq!(v.bottleneck, Bottleneck::No, "{v:?}");
    assert!(v.message.contains("not your bottleneck"));
    // Flat but measured only at tiny delays with a noisy machine: cannot
    // rule out that Python matters.
    let noisy = workload(&flat, 0.08).sweep(1, &[100, 1_000], 3);
    let v = python_verdict(&classify(&noisy, &ShapeTolerances::default()));
    assert_eq!(v.bottleneck, Bottleneck::Inconclusive, "{v:?}");
    assert!(v.message.contains("too noisy to conclude"));
}

#[test]
fn stop_rule_converges_on_quiet_data_and_gives_up_on_noise() {
    let rule = StopRule::default();
    let mut rng = SplitMix64::new(5);
    let quiet = workload(&linear, 0.005);
    let mut pairs = Vec::new();
    let verdict = loop {
        let first = rng.coin();
        pairs.push(quiet.pair(&mut rng, 10_000, first));
        let v = rule.judge(
            relative_throughput(&pairs, 0.95).as_ref(),
            pairs.len() >= 30,
        );
        if v.is_final() {
            break v;
        }
    };
    let Verdict::Precise {
        pairs_used,
        half_width,
    } = verdict
    else {
        panic!("{verdict:?}")
    };
    assert!(
        (3..30).contains(&pairs_used) && half_width <= 0.02,
        "{verdict:?}"
    );

    let noisy = workload(&linear, 0.15);
    let pairs: Vec<Pair> = (0..5).map(|_| noisy.pair(&mut rng, 10_000, true)).collect();
    let v = rule.judge(relative_throughput(&pairs, 0.95).as_ref(), true);
    let Verdict::TooNoisy {
        pairs_needed,
        advice,
        ..
    } = &v
    else {
        panic!("{v:?}")
    };
    assert!(pairs_needed.is_some_and(|n| n > 5), "{v:?}");
    assert!(
        advice.contains("too noisy to conclude") && advice.contains("more pairs"),
        "{advice}"
    );
}

#[test]
fn ranking_orders_by_drop_and_ties_equal_criticalities() {
    // Three fully critical functions called 3, 2 and 1 times per unit and
    // an off-path one called 10 times, all delayed 20 µs per call.
    let mut rng = SplitMix64::new(9);
    let measure = |label: &str, k: f64, c: f64, rng: &mut SplitMix64| {
        let f = move |t0: f64, i: f64| t0 + c * i;
        let w = Workload {
            time_per_unit: &f,
            calls_per_unit: k,
            jitter: 0.005,
        };
        let pairs: Vec<Pair> = (0..10).map(|_| w.pair(rng, 20_000, true)).collect();
        CandidateMeasurement {
            label: label.into(),
            patterns: vec![format!("{label}:*")],
            point: SweepPoint::from_pairs(20_000, &pairs, 0.95).unwrap(),
        }
    };
    let candidates = vec![
        measure("launch", 1.0, 1.0, &mut rng),
        measure("telemetry", 10.0, 0.0, &mut rng),
        measure("prepare_inputs", 3.0, 1.0, &mut rng),
        measure("schedule", 2.0, 1.0, &mut rng),
    ];
    let by_drop = rank(&candidates, RankBy::ThroughputDrop);
    let labels: Vec<&str> = by_drop.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        ["prepare_inputs", "schedule", "launch", "telemetry"]
    );
    assert!(by_drop.iter().all(|r| !r.tied), "{by_drop:#?}");
    assert!((by_drop[0].drop - (1.0 - 1.0 / 1.06)).abs() < 0.01);

    let by_criticality = rank(&candidates, RankBy::Criticality);
    assert_eq!(by_criticality[3].label, "telemetry");
    assert!(!by_criticality[3].tied);
    let group = by_criticality[0].tie_group;
    assert!(
        by_criticality[..3]
            .iter()
            .all(|r| r.tied && r.tie_group == group),
        "{by_criticality:#?}"
    );
}

#[test]
fn adjacent_tie_groups_are_not_one_tie() {
    // Eight candidates 0.05 apart in criticality, each ±0.04 (standard
    // error): every neighbour is tied with the next, so chained ties would
    // make one eight-way tie (`1=` … `8=`); tied with its group's leader
    // instead, they are three groups.
    let mut rng = SplitMix64::new(3);
    let f = |t0: f64, i: f64| t0 + i;
    let w = Workload {
        time_per_unit: &f,
        calls_per_unit: 1.0,
        jitter: 0.005,
    };
    let pairs: Vec<Pair> = (0..10).map(|_| w.pair(&mut rng, 20_000, true)).collect();
    let point = SweepPoint::from_pairs(20_000, &pairs, 0.95).unwrap();
    let candidates: Vec<CandidateMeasurement> = [1.0, 0.95, 0.90, 0.85, 0.80, 0.75, 0.70, 0.65]
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let mut point = point;
            let k = point.criticality.as_mut().unwrap();
            k.criticality = c;
            k.std_error = Some(0.04);
            k.pairs_used = 10;
            CandidateMeasurement {
                label: format!("c{i}"),
                patterns: vec![format!("c{i}:*")],
                point,
            }
        })
        .collect();
    let ranked = rank(&candidates, RankBy::Criticality);
    let groups: Vec<usize> = ranked.iter().map(|r| r.tie_group).collect();
    assert_eq!(groups, [1, 1, 1, 2, 2, 2, 3, 3], "{ranked:#?}");
    let shown: Vec<usize> = ranked.iter().map(|r| shown_rank(r, &ranked)).collect();
    assert_eq!(shown, [1, 1, 1, 4, 4, 4, 7, 7]);
}

#[test]
fn results_round_trip_through_json() {
    let points = workload(&threshold, 0.01).sweep(2, &DELAYS_NS, 4);
    let analysis = classify(&points, &ShapeTolerances::default());
    let json = serde_json::to_string(&(&points, &analysis)).unwrap();
    assert!(json.contains("\"kind\":\"threshold\""), "{json}");
    let back: (Vec<SweepPoint>, speedbump::analysis::ShapeAnalysis) =
        serde_json::from_str(&json).unwrap();
    // serde_json parses floats to within an ulp (no `float_roundtrip`).
    assert!(same_shape(back.1.shape, analysis.shape));
    assert_eq!(back.0.len(), points.len());
    assert_eq!(back.0[2].relative.pairs_used, points[2].relative.pairs_used);
    assert!((back.0[2].relative.mean_log_ratio - points[2].relative.mean_log_ratio).abs() < 1e-12);
    assert_eq!(back.1.reason, analysis.reason);
}
