//! The experiment engine end to end on simulated workloads with known
//! answers (experiment::fake), through the same commands and
//! updates a front end uses: ranking order, every shape, the stop rule and
//! the budget, cancellation, restart-mode accounting, the switch from live
//! to restart mode, crashes, and discovery (census → tree → candidates).

use std::time::Duration;

use speedbump::analysis::Window;
use speedbump::analysis::{Bottleneck, Candidate, Shape, Verdict};
use speedbump::experiment::auto::AutoTarget;
use speedbump::experiment::census::candidates_under;
use speedbump::experiment::fake::{FakeFunction, FakeTarget, FakeWorkload, Pace};
use speedbump::experiment::{
    Cancel, CensusResult, CensusWindow, Command, EngineHandle, EngineOptions, ExitInfo,
    ExperimentConfig, Mode, RankResult, SweepResult, Target, TargetError, Update, spawn_on,
};
use speedbump::live::LiveSettings;

fn config(seed: u64) -> ExperimentConfig {
    ExperimentConfig {
        seed,
        ..ExperimentConfig::new(vec!["fake".into()])
    }
}

fn start(target: FakeTarget, seed: u64) -> EngineHandle {
    spawn_on(config(seed), EngineOptions::default(), move |_| {
        Ok(Box::new(target) as Box<dyn Target>)
    })
    .unwrap()
}

/// Sends `command`, collects updates until its Done update.
fn run(engine: &EngineHandle, command: Command) -> Vec<Update> {
    engine.commands.send(command).unwrap();
    let mut updates = Vec::new();
    loop {
        let update = engine
            .updates
            .recv_timeout(Duration::from_secs(60))
            .expect("the engine answers within a minute");
        let done = matches!(
            update,
            Update::CensusDone(_) | Update::SweepDone(_) | Update::RankDone(_)
        );
        updates.push(update);
        if done {
            return updates;
        }
    }
}

fn sweep_of(updates: &[Update]) -> SweepResult {
    updates
        .iter()
        .find_map(|u| match u {
            Update::SweepDone(r) => Some((**r).clone()),
            _ => None,
        })
        .unwrap()
}

fn rank_of(updates: &[Update]) -> RankResult {
    updates
        .iter()
        .find_map(|u| match u {
            Update::RankDone(r) => Some((**r).clone()),
            _ => None,
        })
        .unwrap()
}

fn census_of(updates: &[Update]) -> CensusResult {
    updates
        .iter()
        .find_map(|u| match u {
            Update::CensusDone(r) => Some((**r).clone()),
            _ => None,
        })
        .unwrap()
}

fn sweep(patterns: &[&str], delays_ns: &[u64], budget_s: f64) -> Command {
    Command::Sweep {
        patterns: patterns.iter().map(|p| p.to_string()).collect(),
        delays_ns: delays_ns.to_vec(),
        frequency: 1,
        budget_s,
    }
}

fn shutdown(engine: EngineHandle) {
    engine.commands.send(Command::Shutdown).unwrap();
    for update in &engine.updates {
        if let Update::Finished { error } = update {
            assert_eq!(error, None);
            return;
        }
    }
    panic!("no Finished update");
}

fn census_then_rank(target: FakeTarget, seed: u64, under: &str, delay_ns: u64) -> RankResult {
    let engine = start(target, seed);
    let census = census_of(&run(
        &engine,
        Command::Census {
            patterns: vec!["*:*".into()],
            window_s: 1.0,
        },
    ));
    let candidates = candidates_under(&census, under).unwrap();
    let rank = rank_of(&run(
        &engine,
        Command::Rank {
            candidates,
            delay_ns,
            dose: None,
            frequency: 1,
            budget_s: 300.0,
        },
    ));
    shutdown(engine);
    rank
}

fn labels(r: &RankResult) -> Vec<&str> {
    r.ranked.iter().map(|c| c.label.as_str()).collect()
}

#[test]
fn census_builds_the_tree_and_its_candidates() {
    let engine = start(
        FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, 1),
        1,
    );
    let census = census_of(&run(
        &engine,
        Command::Census {
            patterns: vec!["*:*".into()],
            window_s: 1.0,
        },
    ));
    let top: Vec<&str> = census.top_level.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(top, ["__main__", "_util"]);
    assert!(census.throughput_per_s.unwrap() > 1000.0);
    let under_main: Vec<String> = candidates_under(&census, "__main__")
        .unwrap()
        .into_iter()
        .map(|c| c.label)
        .collect();
    assert_eq!(
        under_main,
        [
            "__main__:prepare_inputs",
            "__main__:schedule",
            "__main__:launch"
        ]
    );
    assert!(candidates_under(&census, "nosuch").is_none());
    shutdown(engine);
}

#[test]
fn ranks_the_pipeline_functions_in_the_known_order() {
    let rank = census_then_rank(
        FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, 2),
        2,
        "__main__",
        50_000,
    );
    assert_eq!(
        labels(&rank),
        [
            "__main__:prepare_inputs",
            "__main__:schedule",
            "__main__:launch"
        ]
    );
    assert_eq!(rank.under, "__main__");
    assert!(!rank.partial);
    assert!(rank.ranked.iter().all(|c| !c.tied), "{:?}", rank.ranked);
    // Equal criticality (≈ 1): the comparable measure.
    for c in &rank.ranked {
        let k = c.criticality.unwrap();
        assert!((0.85..1.15).contains(&k), "{} criticality {k}", c.label);
    }
    assert!(
        rank.verdicts
            .iter()
            .all(|v| matches!(v, Verdict::Precise { .. }))
    );
}

#[test]
fn off_path_work_ranks_below_the_quiet_critical_function() {
    let rank = census_then_rank(
        FakeTarget::new(FakeWorkload::offpath(), Mode::Live, 0.5, 3),
        3,
        "offpath_pkg",
        100_000,
    );
    assert_eq!(
        labels(&rank),
        ["offpath_pkg.dispatch", "offpath_pkg.telemetry"]
    );
    let telemetry = &rank.ranked[1];
    assert!(telemetry.drop.abs() < 0.02, "{telemetry:?}");
    assert!(telemetry.criticality.unwrap().abs() < 0.1, "{telemetry:?}");
}

#[test]
fn every_shape_with_its_verdict() {
    // Python-bound under *:*: linear, Python is the bottleneck.
    let engine = start(
        FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, 4),
        4,
    );
    let linear = sweep_of(&run(
        &engine,
        sweep(&["*:*"], &[10_000, 30_000, 100_000], 300.0),
    ));
    assert_eq!(linear.shape.shape, Shape::Linear, "{}", linear.shape.reason);
    assert_eq!(linear.python.bottleneck, Bottleneck::Yes);
    // Step 2: 10 µs per call faster over ~6 calls per ~660 µs unit.
    let p = &linear.predictions[0];
    assert_eq!(p.faster_ns_per_call, 10_000.0);
    assert!((0.08..0.12).contains(&p.gain), "{p:?}");
    shutdown(engine);

    // GPU-bound: flat until the knee (135 µs per call), then linear.
    let engine = start(
        FakeTarget::new(FakeWorkload::gpu_bound(), Mode::Live, 0.5, 5),
        5,
    );
    let threshold = sweep_of(&run(
        &engine,
        sweep(&["*:*"], &[50_000, 100_000, 250_000, 500_000], 300.0),
    ));
    let Shape::Threshold { knee_ns } = threshold.shape.shape else {
        panic!("{:?}: {}", threshold.shape.shape, threshold.shape.reason)
    };
    assert!((100_000.0..170_000.0).contains(&knee_ns), "knee {knee_ns}");
    assert_eq!(threshold.python.bottleneck, Bottleneck::NotYet);
    // Nothing to gain below the knee.
    assert!(threshold.predictions.iter().all(|p| p.gain == 0.0));

    // Below the knee: no effect; Python is not the bottleneck.
    let none = sweep_of(&run(
        &engine,
        sweep(&["*:*"], &[20_000, 40_000, 80_000], 300.0),
    ));
    assert_eq!(none.shape.shape, Shape::None, "{}", none.shape.reason);
    // "No" needs the slope's interval below 0.1; with ±2% points at these
    // loads it may only reach "inconclusive".
    assert!(
        matches!(
            none.python.bottleneck,
            Bottleneck::No | Bottleneck::Inconclusive
        ),
        "{}",
        none.python.message
    );
    shutdown(engine);
}

#[test]
fn the_answer_holds_for_nine_seeds_in_ten() {
    let mut right = 0;
    for seed in 100..110 {
        let rank = census_then_rank(
            FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, seed),
            seed,
            "__main__",
            50_000,
        );
        let engine = start(
            FakeTarget::new(FakeWorkload::gpu_bound(), Mode::Live, 0.5, seed),
            seed,
        );
        let threshold = sweep_of(&run(
            &engine,
            sweep(&["*:*"], &[50_000, 100_000, 250_000, 500_000], 120.0),
        ));
        let ordered = labels(&rank)
            == [
                "__main__:prepare_inputs",
                "__main__:schedule",
                "__main__:launch",
            ];
        let knee = matches!(threshold.shape.shape,
            Shape::Threshold { knee_ns } if (100_000.0..170_000.0).contains(&knee_ns));
        right += usize::from(ordered && knee);
        shutdown(engine);
    }
    assert!(right >= 9, "{right} of 10 seeds right");
}

#[test]
fn precise_settings_stop_and_the_budget_ends_noisy_ones() {
    // Quiet workload, generous budget: every delay precise, with ≥ 3 pairs.
    let engine = start(
        FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, 6),
        6,
    );
    let precise = sweep_of(&run(&engine, sweep(&["*:*"], &[10_000, 30_000], 300.0)));
    for v in &precise.verdicts {
        let Verdict::Precise {
            pairs_used,
            half_width,
        } = v
        else {
            panic!("{v:?}")
        };
        assert!(*pairs_used >= 3 && *half_width <= 0.02, "{v:?}");
    }
    assert!(precise.spent_s < 300.0);
    shutdown(engine);

    // Very noisy workload, small budget: too noisy, with advice, in budget.
    let noisy = FakeWorkload {
        noise: 0.3,
        ..FakeWorkload::python_bound()
    };
    let engine = start(FakeTarget::new(noisy, Mode::Live, 0.5, 7), 7);
    let updates = run(&engine, sweep(&["*:*"], &[1_000, 10_000], 8.0));
    let r = sweep_of(&updates);
    assert!(r.spent_s <= 8.0, "{}", r.spent_s);
    assert!(!r.partial);
    for v in &r.verdicts {
        let Verdict::TooNoisy { advice, .. } = v else {
            panic!("{v:?}")
        };
        assert!(advice.starts_with("too noisy to conclude"), "{advice}");
    }
    // A progress update per pair, within budget.
    let progress: Vec<f64> = updates
        .iter()
        .filter_map(|u| match u {
            Update::Progress { spent_s, .. } => Some(*spent_s),
            _ => None,
        })
        .collect();
    assert!(progress.len() >= 2 && progress.windows(2).all(|w| w[0] <= w[1]));
    shutdown(engine);
}

#[test]
fn same_seed_same_result() {
    let once = |seed| {
        let engine = start(
            FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, seed),
            seed,
        );
        let r = sweep_of(&run(&engine, sweep(&["*:*"], &[10_000, 30_000], 60.0)));
        shutdown(engine);
        r
    };
    assert_eq!(once(11), once(11));
    assert_ne!(once(11), once(12));
}

#[test]
fn cancel_keeps_the_pairs_measured_so_far() {
    let target = FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, 8)
        .paced(Pace::PerWindow(Duration::from_millis(20)));
    let engine = start(target, 8);
    engine
        .commands
        .send(sweep(&["*:*"], &[10_000, 30_000, 100_000], 600.0))
        .unwrap();
    let mut pairs_seen = 0;
    let result = loop {
        match engine
            .updates
            .recv_timeout(Duration::from_secs(60))
            .unwrap()
        {
            Update::SweepPoint { .. } => {
                pairs_seen += 1;
                if pairs_seen == 4 {
                    engine.commands.send(Command::Cancel).unwrap();
                }
            }
            Update::SweepDone(r) => break *r,
            _ => {}
        }
    };
    assert!(result.partial);
    let measured: usize = result
        .points
        .iter()
        .flatten()
        .map(|p| p.relative.pairs_used)
        .sum();
    assert!((4..=6).contains(&measured), "{measured} pairs kept");
    // The engine still answers after a cancel.
    let after = sweep_of(&run(&engine, sweep(&["*:*"], &[10_000], 30.0)));
    assert!(!after.partial);
    shutdown(engine);
}

#[test]
fn restart_mode_pays_the_start_up_for_every_window() {
    let slow_start = FakeWorkload {
        startup_s: 3.0,
        ..FakeWorkload::python_bound()
    };
    let engine = start(
        FakeTarget::new(slow_start.clone(), Mode::Restart, 0.5, 9),
        9,
    );
    let restart = sweep_of(&run(&engine, sweep(&["__main__:*"], &[30_000], 300.0)));
    shutdown(engine);
    assert_eq!(restart.mode, Mode::Restart);
    let pairs = restart.points[0].unwrap().relative.pairs_used;
    let windows = 2 * pairs;
    // Every window costs start-up + warm-up + the window itself.
    assert!(
        restart.spent_s >= windows as f64 * (3.0 + 0.5 + 0.3),
        "{} s for {windows} windows",
        restart.spent_s
    );
    // The windows themselves exclude the start-up: the baseline rate is the
    // workload's steady rate.
    let rate = 1.0 / restart.points[0].unwrap().baseline_time_per_unit_s;
    assert!((1300.0..1700.0).contains(&rate), "{rate}");

    let engine = engine_live(slow_start);
    let live = sweep_of(&run(&engine, sweep(&["__main__:*"], &[30_000], 300.0)));
    shutdown(engine);
    assert_eq!(live.mode, Mode::Live);
    assert!(
        live.spent_s * 5.0 < restart.spent_s,
        "live {} s, restart {} s",
        live.spent_s,
        restart.spent_s
    );
}

fn engine_live(workload: FakeWorkload) -> EngineHandle {
    start(FakeTarget::new(workload, Mode::Live, 0.5, 9), 9)
}

#[test]
fn auto_mode_continues_in_restart_mode_when_the_workload_exits() {
    let short = FakeWorkload {
        run_s: Some(6.0),
        ..FakeWorkload::python_bound()
    };
    let restart_workload = short.clone();
    let engine = spawn_on(config(10), EngineOptions::default(), move |sink| {
        let live = FakeTarget::new(short, Mode::Live, 0.5, 10);
        let factory = Box::new(move || {
            Ok(
                Box::new(FakeTarget::new(restart_workload, Mode::Restart, 0.5, 11))
                    as Box<dyn Target>,
            )
        });
        Ok(Box::new(AutoTarget::new(Box::new(live), factory, sink)) as Box<dyn Target>)
    })
    .unwrap();
    let updates = run(&engine, sweep(&["*:*"], &[10_000, 30_000], 300.0));
    let r = sweep_of(&updates);
    assert_eq!(r.mode, Mode::Auto, "windows ran in both modes");
    assert!(!r.partial);
    assert_eq!(r.shape.shape, Shape::Linear, "{}", r.shape.reason);
    assert!(
        updates
            .iter()
            .any(|u| matches!(u, Update::Warning(w) if w.contains("restart mode")))
    );
    assert!(
        !updates
            .iter()
            .any(|u| matches!(u, Update::WorkloadExited { .. }))
    );
    shutdown(engine);
}

#[test]
fn a_crash_is_reported_and_results_so_far_are_kept() {
    let crashing = FakeWorkload {
        run_s: Some(3.0),
        exit_status: 1,
        ..FakeWorkload::python_bound()
    };
    let restart_workload = crashing.clone();
    let engine = spawn_on(config(12), EngineOptions::default(), move |sink| {
        let live = FakeTarget::new(crashing, Mode::Live, 0.5, 12);
        let factory = Box::new(move || {
            Ok(
                Box::new(FakeTarget::new(restart_workload, Mode::Restart, 0.5, 13))
                    as Box<dyn Target>,
            )
        });
        Ok(Box::new(AutoTarget::new(Box::new(live), factory, sink)) as Box<dyn Target>)
    })
    .unwrap();
    let updates = run(&engine, sweep(&["*:*"], &[10_000, 30_000], 300.0));
    let r = sweep_of(&updates);
    assert!(r.partial);
    assert!(r.points.iter().flatten().any(|p| p.relative.pairs_used > 0));
    let exited = updates.iter().find_map(|u| match u {
        Update::WorkloadExited {
            status, last_lines, ..
        } => Some((*status, last_lines.clone())),
        _ => None,
    });
    let (status, lines) = exited.expect("WorkloadExited sent");
    assert_eq!(status, Some(1));
    assert!(!lines.is_empty());
    // A later experiment ends at once, empty and partial.
    let after = rank_of(&run(
        &engine,
        Command::Rank {
            candidates: Vec::<Candidate>::new(),
            delay_ns: 1_000,
            dose: None,
            frequency: 1,
            budget_s: 10.0,
        },
    ));
    assert!(after.ranked.is_empty());
    shutdown(engine);
}

/// A target that records the settings in force after every `apply`, and
/// can fail one window when the treatment is applied (an error mid-sweep).
struct Recording {
    inner: FakeTarget,
    in_force: std::sync::Arc<std::sync::Mutex<Vec<LiveSettings>>>,
    fail_window: Option<usize>,
    windows: usize,
}

impl Target for Recording {
    fn mode(&self) -> Mode {
        self.inner.mode()
    }
    fn clock_s(&self) -> f64 {
        self.inner.clock_s()
    }
    fn apply(&mut self, settings: &LiveSettings, cancel: &Cancel) -> Result<(), TargetError> {
        self.inner.apply(settings, cancel)?;
        self.in_force.lock().unwrap().push(settings.clone());
        Ok(())
    }
    fn measure(&mut self, window_s: f64, cancel: &Cancel) -> Result<Window, TargetError> {
        self.windows += 1;
        if self.fail_window == Some(self.windows) {
            return Err(TargetError::NoProgress(
                "the progress source went quiet".into(),
            ));
        }
        self.inner.measure(window_s, cancel)
    }
    fn census(&mut self, window_s: f64, cancel: &Cancel) -> Result<CensusWindow, TargetError> {
        self.inner.census(window_s, cancel)
    }
    fn window_cost_s(&self, window_s: f64) -> f64 {
        self.inner.window_cost_s(window_s)
    }
    fn set_progress_points(&mut self, points: &[String]) {
        self.inner.set_progress_points(points);
    }
    fn is_running(&self) -> bool {
        self.inner.is_running()
    }
    fn shutdown(&mut self) -> Option<ExitInfo> {
        self.inner.shutdown()
    }
}

type InForce = std::sync::Arc<std::sync::Mutex<Vec<LiveSettings>>>;

fn recording(seed: u64, fail_window: Option<usize>, pace_ms: u64) -> (EngineHandle, InForce) {
    let in_force = InForce::default();
    let mut inner = FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, seed);
    if pace_ms > 0 {
        inner = inner.paced(Pace::PerWindow(Duration::from_millis(pace_ms)));
    }
    let target = Recording {
        inner,
        in_force: std::sync::Arc::clone(&in_force),
        fail_window,
        windows: 0,
    };
    let engine = spawn_on(config(seed), EngineOptions::default(), move |_| {
        Ok(Box::new(target) as Box<dyn Target>)
    })
    .unwrap();
    (engine, in_force)
}

/// The settings in force now: nothing slowed, and the census's patterns
/// (or none before a census) still counted.
fn assert_idle(in_force: &InForce, patterns: &[&str], after: &str) {
    let last = in_force.lock().unwrap().last().cloned();
    let last = last.unwrap_or_else(|| panic!("nothing applied after {after}"));
    assert_eq!(last.delay_ns, 0, "still slowed after {after}: {last:?}");
    assert_eq!(last.patterns, patterns, "after {after}");
}

#[test]
fn every_ending_of_an_experiment_leaves_nothing_slowed() {
    // Done (every setting precise) and out of budget, on many seeds: the
    // last window is a treatment about half the time.
    for seed in 20..26 {
        let (engine, in_force) = recording(seed, None, 0);
        run(&engine, sweep(&["*:*"], &[10_000, 100_000], 600.0));
        assert_idle(&in_force, &[], &format!("a sweep (seed {seed})"));
        run(&engine, sweep(&["*:*"], &[10_000, 100_000], 3.0));
        assert_idle(
            &in_force,
            &[],
            &format!("a sweep out of budget (seed {seed})"),
        );
        let census = census_of(&run(
            &engine,
            Command::Census {
                patterns: vec!["*:*".into()],
                window_s: 1.0,
            },
        ));
        assert_idle(&in_force, &["*:*"], "a census");
        let candidates = candidates_under(&census, "").unwrap();
        run(
            &engine,
            Command::Rank {
                candidates,
                delay_ns: 100_000,
                dose: None,
                frequency: 1,
                budget_s: 120.0,
            },
        );
        assert_idle(&in_force, &["*:*"], &format!("a ranking (seed {seed})"));
        shutdown(engine);
    }
    // An error mid-sweep (the second window, a treatment or a baseline).
    for seed in 30..34 {
        let (engine, in_force) = recording(seed, Some(2), 0);
        let updates = run(&engine, sweep(&["*:*"], &[100_000], 600.0));
        assert!(sweep_of(&updates).partial);
        assert!(
            updates
                .iter()
                .any(|u| matches!(u, Update::Warning(w) if w.contains("went quiet")))
        );
        assert_idle(&in_force, &[], &format!("an error (seed {seed})"));
        shutdown(engine);
    }
}

#[test]
fn a_cancelled_experiment_leaves_nothing_slowed() {
    for (seed, after) in [(40, 3), (41, 4), (42, 5)] {
        let (engine, in_force) = recording(seed, None, 20);
        engine
            .commands
            .send(sweep(&["*:*"], &[10_000, 100_000], 600.0))
            .unwrap();
        let mut points = 0;
        loop {
            match engine
                .updates
                .recv_timeout(Duration::from_secs(60))
                .unwrap()
            {
                Update::SweepPoint { .. } => {
                    points += 1;
                    if points == after {
                        engine.commands.send(Command::Cancel).unwrap();
                    }
                }
                Update::SweepDone(r) => {
                    assert!(r.partial);
                    break;
                }
                _ => {}
            }
        }
        assert_idle(&in_force, &[], &format!("a cancel (seed {seed})"));
        shutdown(engine);
    }
}

/// A results file holding one ranking, for the Markdown report.
fn results_with_rank(rank: &RankResult) -> speedbump::experiment::results::ResultsFile {
    use speedbump::experiment::ExperimentKind;
    use speedbump::experiment::results::{ExperimentRecord, ResultsFile};
    ResultsFile {
        experiments: vec![ExperimentRecord {
            kind: ExperimentKind::Rank,
            started_unix_s: 0.0,
            command: vec!["fake".into()],
            mode: Mode::Live,
            seed: 1,
            target_precision: 0.02,
            warmup_s: 0.0,
            progress: None,
            census: None,
            sweep: None,
            rank: Some(rank.clone()),
        }],
        ..ResultsFile::default()
    }
}

#[test]
fn a_candidate_that_matched_no_call_is_said_so_by_name_never_too_noisy() {
    let engine = start(
        FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, 11),
        11,
    );
    let census = census_of(&run(
        &engine,
        Command::Census {
            patterns: vec!["*:*".into()],
            window_s: 1.0,
        },
    ));
    let mut candidates = candidates_under(&census, "__main__").unwrap();
    candidates.push(Candidate {
        label: "__main__:score_txt".into(),
        patterns: vec!["__main__:score_txt".into()],
        ..candidates[0].clone()
    });
    let rank = rank_of(&run(
        &engine,
        Command::Rank {
            candidates,
            delay_ns: 50_000,
            dose: None,
            frequency: 1,
            budget_s: 120.0,
        },
    ));
    shutdown(engine);
    let missing = rank.labels.iter().position(|l| l == "__main__:score_txt");
    assert_eq!(missing, Some(3), "{:?}", rank.labels);
    assert!(
        matches!(rank.verdicts[3], Verdict::NoCalls { .. }),
        "{:?}",
        rank.verdicts[3]
    );
    // The others ran and are judged as before.
    assert!(
        rank.verdicts[..3]
            .iter()
            .all(|v| !matches!(v, Verdict::NoCalls { .. })),
        "{:?}",
        rank.verdicts
    );
    let cli = speedbump::report::text::rank_lines(&rank).join("\n");
    assert!(cli.contains("__main__:score_txt: matched no call"), "{cli}");
    assert!(
        cli.lines()
            .filter(|l| l.contains("score_txt"))
            .all(|l| !l.contains("too noisy")),
        "{cli}"
    );
    // The Markdown report names it too (it once printed the advice alone).
    let md = speedbump::report::markdown::render(&results_with_rank(&rank), false).markdown;
    assert!(
        md.contains("\\_\\_main\\_\\_:score\\_txt: matched no call"),
        "{md}"
    );
    // Not conclusive: the exit status is 1, as for too noisy.
    assert!(
        rank.verdicts
            .iter()
            .any(|v| !matches!(v, Verdict::Precise { .. }))
    );
}

#[test]
fn a_sweep_whose_patterns_matched_no_call_says_so() {
    let engine = start(
        FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, 12),
        12,
    );
    let r = sweep_of(&run(
        &engine,
        sweep(&["__main__:score_txt"], &[1_000, 10_000], 30.0),
    ));
    shutdown(engine);
    assert!(
        r.verdicts
            .iter()
            .all(|v| matches!(v, Verdict::NoCalls { .. })),
        "{:?}",
        r.verdicts
    );
    let lines = speedbump::report::text::sweep_lines(&r).join("\n");
    assert!(
        lines.contains("step 1: the matched code (__main__:score_txt) matched no call"),
        "{lines}"
    );
    assert!(!lines.contains("too noisy"), "{lines}");
    assert!(!lines.contains("not on the critical path"), "{lines}");
}

/// A service whose matched code is quick (four 2.5 µs calls per 200 µs
/// unit, all critical): 10 µs less per call would be more than the code.
fn quick_parser() -> FakeWorkload {
    FakeWorkload {
        functions: vec![FakeFunction::critical("__main__:parse_event", 4.0, 2_500.0)],
        other_ns: 190_000.0,
        device_ns: 0.0,
        ..FakeWorkload::python_bound()
    }
}

#[test]
fn step_2_never_promises_a_saving_larger_than_the_code() {
    let engine = start(FakeTarget::new(quick_parser(), Mode::Live, 0.5, 21), 21);
    let r = sweep_of(&run(
        &engine,
        sweep(&["__main__:parse_event"], &[1_000, 10_000], 300.0),
    ));
    shutdown(engine);
    assert_eq!(r.shape.shape, Shape::Linear, "{}", r.shape.reason);
    // The sweep measured the code's own time before its windows.
    let own = r.own_time.expect("own time measured");
    assert!((own.ns_per_call - 2_500.0).abs() < 1.0, "{own:?}");
    assert!((own.calls_per_unit - 4.0).abs() < 0.01, "{own:?}");
    assert_eq!(r.own_time_note, None);
    // 1 µs per call is within the code: about 4 µs of a 200 µs unit.
    let small = &r.predictions[0];
    assert_eq!(small.faster_ns_per_call, 1_000.0);
    assert!(!small.capped, "{small:?}");
    assert!((0.01..0.03).contains(&small.gain), "{small:?}");
    // 10 µs per call is more than the 2.5 µs the code takes: without the
    // cap +25% (40 µs of 200), with it at most removing all 10 µs: +5.3%.
    let big = &r.predictions[1];
    assert_eq!(big.faster_ns_per_call, 10_000.0);
    assert!(big.capped, "{big:?}");
    assert!((0.04..0.07).contains(&big.gain), "{big:?}");
    assert!(big.gain_interval.unwrap().high < 0.1, "{big:?}");
    let lines = speedbump::report::text::sweep_lines(&r).join("\n");
    assert!(
        lines.contains("step 2: 10.0 µs per call faster → throughput at most +5."),
        "{lines}"
    );
    assert!(
        lines.contains(
            "all of this code takes 2.50 µs per call, so no speed-up of it can save more"
        ),
        "{lines}"
    );
    assert!(
        lines.contains("own time: all of the matched code takes 2.50 µs per call"),
        "{lines}"
    );
    // The own-time window is part of the budget and of the time spent.
    assert!(r.spent_s <= 300.0 + 5.0, "{}", r.spent_s);
}

#[test]
fn a_prediction_without_own_time_says_it_is_not_capped() {
    // C calls have no own time: nothing is measured, nothing guessed.
    let options = EngineOptions {
        match_c_calls: true,
        ..EngineOptions::default()
    };
    let target = FakeTarget::new(quick_parser(), Mode::Live, 0.5, 22);
    let engine = spawn_on(config(22), options, move |_| {
        Ok(Box::new(target) as Box<dyn Target>)
    })
    .unwrap();
    let r = sweep_of(&run(
        &engine,
        sweep(&["__main__:parse_event"], &[1_000, 10_000], 300.0),
    ));
    shutdown(engine);
    assert_eq!(r.own_time, None);
    assert!(
        r.own_time_note
            .as_deref()
            .is_some_and(|n| n.contains("C functions")),
        "{:?}",
        r.own_time_note
    );
    let big = &r.predictions[1];
    assert!(!big.capped && big.own_ns_per_call.is_none(), "{big:?}");
    assert!(big.gain > 0.15, "uncapped: {big:?}");
    let lines = speedbump::report::text::sweep_lines(&r).join("\n");
    assert!(
        lines.contains(
            "own time: not measured (C functions (--c-calls) have no own time), so step 2 does \
             not cap its speed-ups"
        ),
        "{lines}"
    );
}

#[test]
fn a_progress_point_set_without_a_restart_is_counted_by_every_later_setting() {
    let (engine, in_force) = recording(50, None, 0);
    let point = "__main__:launch".to_owned();
    // A bad point is refused with the reason; nothing changes.
    engine
        .commands
        .send(Command::SetProgressPoints(vec!["!__main__:launch".into()]))
        .unwrap();
    engine
        .commands
        .send(Command::SetProgressPoints(vec![point.clone()]))
        .unwrap();
    let census = run(
        &engine,
        Command::Census {
            patterns: vec!["*:*".into()],
            window_s: 1.0,
        },
    );
    assert!(
        census.iter().any(
            |u| matches!(u, Update::Warning(w) if w.contains("progress point not changed") && w.contains('!'))
        ),
        "{census:?}"
    );
    let applied = in_force.lock().unwrap().clone();
    // Put in force at once (the live view counts it), before the census.
    assert_eq!(applied[0].progress_points, [point.as_str()], "{applied:?}");
    assert_eq!(applied[0].delay_ns, 0);
    run(&engine, sweep(&["*:*"], &[100_000], 10.0));
    // Settings by hand keep counting it.
    engine
        .commands
        .send(Command::Apply(LiveSettings {
            patterns: vec!["__main__:*".into()],
            ..LiveSettings::default()
        }))
        .unwrap();
    run(&engine, sweep(&["*:*"], &[100_000], 10.0));
    let applied = in_force.lock().unwrap().clone();
    assert!(applied.len() > 4);
    for settings in &applied {
        assert_eq!(settings.progress_points, [point.as_str()], "{settings:?}");
    }
    assert!(applied.iter().any(|s| s.patterns == ["__main__:*"]));
    assert_idle(
        &in_force,
        &["*:*"],
        "a sweep after the progress point changed",
    );
    shutdown(engine);
}

fn census_then_dose_rank(workload: FakeWorkload, seed: u64, under: &str) -> RankResult {
    let engine = start(FakeTarget::new(workload, Mode::Live, 0.5, seed), seed);
    let census = census_of(&run(
        &engine,
        Command::Census {
            patterns: vec!["*:*".into()],
            window_s: 1.0,
        },
    ));
    let candidates = candidates_under(&census, under).unwrap();
    let rank = rank_of(&run(
        &engine,
        Command::Rank {
            candidates,
            delay_ns: 0,
            dose: Some(0.10),
            frequency: 1,
            budget_s: 300.0,
        },
    ));
    shutdown(engine);
    rank
}

#[test]
fn equally_critical_stages_are_ordered_by_own_time_and_the_report_says_why() {
    // The demo's pipeline: three stages, all exactly critical, with own
    // times per unit of 3 × 100 µs, 2 × 90 µs and 1 × 120 µs.
    let rank = census_then_dose_rank(FakeWorkload::python_bound(), 5, "__main__");
    assert_eq!(
        labels(&rank),
        [
            "__main__:prepare_inputs",
            "__main__:schedule",
            "__main__:launch"
        ]
    );
    let own: Vec<f64> = rank
        .ranked
        .iter()
        .map(|c| c.own_ns_per_unit.unwrap())
        .collect();
    for (got, truth) in own.iter().zip([300_000.0, 180_000.0, 120_000.0]) {
        assert!((got / truth - 1.0).abs() < 0.01, "{own:?}");
    }
    for c in &rank.ranked {
        let gain = c.gain_ns_per_unit.unwrap();
        assert!((gain - c.criticality.unwrap() * c.own_ns_per_unit.unwrap()).abs() < 1e-6);
    }
    let lines = speedbump::report::text::rank_lines(&rank).join("\n");
    assert!(
        lines.contains("ranked by gain (criticality × own time per unit)"),
        "{lines}"
    );
    assert!(
        lines.contains(
            "__main__:prepare_inputs, __main__:schedule, __main__:launch: equally critical"
        ) && lines.contains("ordered by own time per unit (300 µs, 180 µs, 120 µs)"),
        "{lines}"
    );

    // Call counts that point the other way: the busiest stage has the
    // least own time, and comes last.
    let mut workload = FakeWorkload::python_bound();
    workload.functions = vec![
        FakeFunction::critical("__main__:busy", 6.0, 20_000.0),
        FakeFunction::critical("__main__:quiet", 1.0, 300_000.0),
        FakeFunction::critical("__main__:middle", 3.0, 60_000.0),
    ];
    let rank = census_then_dose_rank(workload, 6, "__main__");
    assert_eq!(
        labels(&rank),
        ["__main__:quiet", "__main__:middle", "__main__:busy"]
    );
}
