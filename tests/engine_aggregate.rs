//! The aggregation over processes, with fake samples: exact totals, rates
//! that never mix settings generations, exited processes, full tables.

use std::sync::Arc;
use std::time::{Duration, Instant};

use speedbump::ipc::{
    FunctionId, FunctionKind, FunctionSample, PatternId, PatternSample, ProgressId, ProgressSample,
    Sample, flags,
};
use speedbump::live::aggregate::{Aggregator, ProcessKey, ProcessMeta, ProcessStatus, RateBasis};

fn key(pid: u32) -> ProcessKey {
    ProcessKey { pid, start: 7 }
}

fn meta(pid: u32) -> ProcessMeta {
    ProcessMeta {
        pid,
        parent_pid: 1,
        label: format!("python worker {pid}"),
    }
}

/// A sample with one pattern (`app.*:*`, generation `generation`), the
/// `<other>` function slot and the given functions (name, calls), each call
/// delayed 1 µs; and `units` of default progress.
fn sample(generation: u64, functions: &[(&str, u64)], units: u64) -> Sample {
    let mut fs = vec![FunctionSample {
        id: FunctionId(0),
        name: Arc::from("<other>"),
        kind: FunctionKind::Other,
        pattern_slot: 0,
        calls: 0,
        delayed_calls: 0,
        injected_ns: 0,
        own_ns: 0,
    }];
    for (i, (name, calls)) in functions.iter().enumerate() {
        fs.push(FunctionSample {
            id: FunctionId(i as u32 + 1),
            name: Arc::from(*name),
            kind: FunctionKind::Python,
            pattern_slot: 1,
            calls: *calls,
            delayed_calls: *calls,
            injected_ns: calls * 1000,
            own_ns: 0,
        });
    }
    let total: u64 = functions.iter().map(|(_, c)| c).sum();
    Sample {
        generation,
        flags: 0,
        last_update_unix_ns: 0,
        functions: fs,
        patterns: vec![
            PatternSample {
                id: PatternId(0),
                name: Arc::from("<other>"),
                generation: 0,
                exclude: false,
                calls: 0,
                delayed_calls: 0,
                injected_ns: 0,
                own_ns: 0,
                matched_functions: 0,
            },
            PatternSample {
                id: PatternId(1),
                name: Arc::from("app.*:*"),
                generation,
                exclude: false,
                calls: total,
                delayed_calls: total,
                injected_ns: total * 1000,
                own_ns: 0,
                matched_functions: functions.len() as u64,
            },
        ],
        progress: vec![ProgressSample {
            id: ProgressId(0),
            name: Arc::from(""),
            units,
        }],
        taken_unix_ns: 0,
        table_epoch: 0,
    }
}

/// Drives ticks 100 ms apart.
struct Clock {
    now: Instant,
}

impl Clock {
    fn new() -> Self {
        Self {
            now: Instant::now(),
        }
    }
    fn tick(&mut self) -> Instant {
        self.now += Duration::from_millis(100);
        self.now
    }
}

fn assert_rate(agg: &Aggregator, name: &str, expected: f64) {
    let rate = calls_rate(agg, name).unwrap_or(f64::NAN);
    assert!(
        (rate - expected).abs() < 1e-6 * expected,
        "{name}: {rate} calls/s, expected {expected}"
    );
}

fn observe(agg: &mut Aggregator, pid: u32, mut s: Sample) {
    agg.observe(key(pid), &meta(pid), &mut s, true);
}

fn calls_rate(agg: &Aggregator, name: &str) -> Option<f64> {
    let (functions, _) = agg.function_readings(RateBasis::Window, None);
    functions
        .iter()
        .find(|f| f.name == name)
        .and_then(|f| f.rates)
        .map(|r| r.calls_per_s)
}

#[test]
fn totals_are_exact_sums_and_survive_exits() {
    let mut agg = Aggregator::new(10);
    let mut clock = Clock::new();
    for step in 1..=5u64 {
        agg.begin_tick();
        for pid in [10, 11, 12, 13] {
            let n = step * 100 * u64::from(pid - 9);
            observe(
                &mut agg,
                pid,
                sample(1, &[("app:step", n), ("app:other", step)], n),
            );
        }
        agg.end_tick(clock.tick());
    }
    // Process 13 exits; its final counts stay.
    agg.set_status(key(13), ProcessStatus::Gone);
    agg.begin_tick();
    for pid in [10, 11, 12] {
        let n = 600 * u64::from(pid - 9);
        observe(
            &mut agg,
            pid,
            sample(1, &[("app:step", n), ("app:other", 6)], n),
        );
    }
    agg.end_tick(clock.tick());

    let (functions, total) = agg.function_readings(RateBasis::Window, None);
    assert_eq!(total, 2, "<other> without calls is left out");
    let step = functions.iter().find(|f| f.name == "app:step").unwrap();
    assert_eq!(step.counts.calls, 600 + 1200 + 1800 + 500 * 4);
    assert_eq!(step.counts.delayed_calls, step.counts.calls);
    assert_eq!(step.counts.injected_ns, step.counts.calls * 1000);
    assert_eq!(step.processes, 4);
    assert_eq!(step.pattern, "app.*:*");
    let other = functions.iter().find(|f| f.name == "app:other").unwrap();
    assert_eq!(other.counts.calls, 6 * 3 + 5);
    let patterns = agg.pattern_readings(RateBasis::Window);
    assert_eq!(patterns.len(), 1);
    assert_eq!(
        patterns[0].counts.calls,
        step.counts.calls + other.counts.calls
    );
    assert_eq!(patterns[0].generations, vec![1]);
    assert_eq!(patterns[0].functions_matched, 2 * 4);
    let progress = agg.progress_readings(RateBasis::Window);
    assert_eq!(progress.len(), 1);
    assert_eq!(progress[0].1, step.counts.calls);
    let counts = agg.process_counts();
    assert_eq!((counts.live, counts.exited, counts.total), (3, 1, 4));
    let reports = agg.process_reports();
    assert_eq!(reports.iter().find(|p| p.pid == 13).unwrap().status, "gone");
    assert_eq!(
        reports.iter().find(|p| p.pid == 13).unwrap().counts.calls,
        2000 + 5
    );
    assert_eq!(agg.totals().calls, step.counts.calls + other.counts.calls);
}

#[test]
fn rates_sum_processes_over_the_window() {
    let mut agg = Aggregator::new(5);
    let mut clock = Clock::new();
    for step in 0..=8u64 {
        agg.begin_tick();
        // 1000 calls per tick (100 ms) in each of two processes: 20k/s.
        observe(&mut agg, 1, sample(1, &[("app:f", step * 1000)], 0));
        observe(&mut agg, 2, sample(1, &[("app:f", step * 1000)], 0));
        let counted = agg.end_tick(clock.tick());
        assert_eq!(counted, step > 0, "the first tick only sets baselines");
    }
    let rate = calls_rate(&agg, "app:f").unwrap();
    assert!((rate - 20_000.0).abs() < 1e-6, "{rate}");
    assert!((agg.window_seconds() - 0.5).abs() < 1e-9);
    // The whole run on wall time instead.
    let (functions, _) = agg.function_readings(RateBasis::Wall(2.0), None);
    assert_eq!(functions[0].rates.unwrap().calls_per_s, 8000.0);
}

#[test]
fn no_rate_before_a_second_sample() {
    let mut agg = Aggregator::new(10);
    let mut clock = Clock::new();
    agg.begin_tick();
    observe(&mut agg, 1, sample(1, &[("app:f", 1_000_000)], 0));
    clock.tick();
    assert!(!agg.end_tick(clock.tick()));
    assert_eq!(calls_rate(&agg, "app:f"), None);
    // A process that appears later does not put its earlier calls in a rate.
    agg.begin_tick();
    observe(&mut agg, 1, sample(1, &[("app:f", 1_000_100)], 0));
    observe(&mut agg, 2, sample(1, &[("app:f", 5_000_000)], 0));
    assert!(agg.end_tick(clock.tick()));
    assert_rate(&agg, "app:f", 1000.0);
}

#[test]
fn a_generation_change_restarts_the_rates() {
    let mut agg = Aggregator::new(10);
    let mut clock = Clock::new();
    let mut calls = 0;
    // Generation 1: 10k calls per tick.
    for _ in 0..5 {
        agg.begin_tick();
        observe(&mut agg, 1, sample(1, &[("app:f", calls)], 0));
        agg.end_tick(clock.tick());
        calls += 10_000;
    }
    assert_rate(&agg, "app:f", 100_000.0);
    assert_eq!(agg.generations(), vec![1]);
    // The process switches to generation 2 (10 calls per tick) between two
    // samples: that interval is left out and the window forgotten.
    calls += 10;
    agg.begin_tick();
    observe(&mut agg, 1, sample(2, &[("app:f", calls)], 0));
    assert!(!agg.end_tick(clock.tick()));
    assert!(!agg.last_tick_complete());
    assert_eq!(
        calls_rate(&agg, "app:f"),
        None,
        "nothing of generation 1 is left"
    );
    assert_eq!(agg.generations(), vec![2]);
    for _ in 0..3 {
        calls += 10;
        agg.begin_tick();
        observe(&mut agg, 1, sample(2, &[("app:f", calls)], 0));
        assert!(agg.end_tick(clock.tick()));
    }
    assert_rate(&agg, "app:f", 100.0);
    // Totals still count everything.
    let (functions, _) = agg.function_readings(RateBasis::Window, None);
    assert_eq!(functions[0].counts.calls, calls);
    // The pattern of each generation is listed under one text.
    let patterns = agg.pattern_readings(RateBasis::Window);
    assert_eq!(patterns.len(), 1);
    assert_eq!(patterns[0].generations, vec![1, 2]);
}

#[test]
fn a_sample_taken_during_a_change_is_only_a_baseline() {
    let mut agg = Aggregator::new(10);
    let mut clock = Clock::new();
    agg.begin_tick();
    observe(&mut agg, 1, sample(1, &[("app:f", 0)], 0));
    agg.end_tick(clock.tick());
    // The generation moved from 1 to 2 while this sample was read.
    agg.begin_tick();
    let mut s = sample(2, &[("app:f", 5000)], 0);
    agg.observe(key(1), &meta(1), &mut s, false);
    assert!(!agg.end_tick(clock.tick()));
    // The next interval starts from an unstable sample: also left out.
    agg.begin_tick();
    observe(&mut agg, 1, sample(2, &[("app:f", 5010)], 0));
    assert!(!agg.end_tick(clock.tick()));
    agg.begin_tick();
    observe(&mut agg, 1, sample(2, &[("app:f", 5020)], 0));
    assert!(agg.end_tick(clock.tick()));
    assert_rate(&agg, "app:f", 100.0);
}

#[test]
fn a_missed_tick_is_not_one_interval() {
    let mut agg = Aggregator::new(10);
    let mut clock = Clock::new();
    for calls in [0, 100] {
        agg.begin_tick();
        observe(&mut agg, 1, sample(1, &[("app:f", calls)], 0));
        agg.end_tick(clock.tick());
    }
    // Process 1 could not be sampled in this tick.
    agg.begin_tick();
    agg.end_tick(clock.tick());
    agg.begin_tick();
    observe(&mut agg, 1, sample(1, &[("app:f", 10_000)], 0));
    assert!(
        !agg.end_tick(clock.tick()),
        "two ticks' calls in one interval"
    );
    assert_rate(&agg, "app:f", 1000.0);
}

#[test]
fn a_full_function_table_warns_once_and_keeps_counts_in_other() {
    let mut agg = Aggregator::new(10);
    let mut clock = Clock::new();
    for step in 1..=3u64 {
        agg.begin_tick();
        let mut s = sample(1, &[("app:f", step)], 0);
        s.flags |= flags::FUNCTION_TABLE_FULL;
        s.functions[0].calls = step * 7;
        observe(&mut agg, 1, s);
        agg.end_tick(clock.tick());
    }
    let warnings = agg.take_new_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("function table is full"),
        "{warnings:?}"
    );
    assert!(
        warnings[0].contains("process 1 (python worker 1)"),
        "{warnings:?}"
    );
    assert!(agg.take_new_warnings().is_empty());
    let (functions, _) = agg.function_readings(RateBasis::Window, None);
    let other = functions.iter().find(|f| f.name == "<other>").unwrap();
    assert_eq!(other.counts.calls, 21);
    assert_eq!(other.kind, "other");
    assert_eq!(agg.totals().calls, 21 + 3);
}

#[test]
fn exited_mark_is_kept_and_top_lists_are_ordered() {
    let mut agg = Aggregator::new(10);
    let mut clock = Clock::new();
    for step in 0..3u64 {
        agg.begin_tick();
        let mut s = sample(
            1,
            &[("app:a", step), ("app:b", step * 3), ("app:c", step * 2)],
            0,
        );
        if step == 2 {
            s.flags |= flags::PROCESS_EXITED;
        }
        observe(&mut agg, 1, s);
        agg.end_tick(clock.tick());
    }
    assert_eq!(agg.status(&key(1)), Some(ProcessStatus::Exited));
    agg.set_status(key(1), ProcessStatus::Gone);
    assert_eq!(
        agg.status(&key(1)),
        Some(ProcessStatus::Exited),
        "a clean exit stays clean"
    );
    let (top, total) = agg.function_readings(RateBasis::Window, Some(2));
    assert_eq!(total, 3);
    let names: Vec<&str> = top.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["app:b", "app:c"]);
}
