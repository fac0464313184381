//! results.json and the reports made from it: a session of experiments on
//! simulated workloads (deterministic), written, read back, rendered as
//! Markdown (snapshot), SVG (well-formed, with the expected marks) and CSV.

use std::sync::Arc;

use speedbump::analysis::Candidate;
use speedbump::experiment::census::{candidates_under, run_census};
use speedbump::experiment::context::Context;
use speedbump::experiment::fake::{FakeTarget, FakeWorkload};
use speedbump::experiment::rank::{RankRequest, run_rank};
use speedbump::experiment::results::{ExperimentRecord, ResultsFile, SCHEMA};
use speedbump::experiment::sweep::{SweepRequest, run_sweep};
use speedbump::experiment::{
    Cancel, EngineOptions, ExperimentConfig, ExperimentKind, Mode, UpdateSink,
};
use speedbump::report::csv::{COLUMNS, to_csv};
use speedbump::report::markdown::{plots, render};
use speedbump::report::svg::{rank_svg, sweep_svg};

fn record(kind: ExperimentKind) -> ExperimentRecord {
    ExperimentRecord {
        kind,
        started_unix_s: 1_700_000_000.0,
        command: vec!["python".into(), "examples/pipeline.py".into()],
        mode: Mode::Auto,
        seed: 1,
        target_precision: 0.02,
        warmup_s: 0.5,
        progress: Some("speedbump.progress(name='steps')".into()),
        census: None,
        sweep: None,
        rank: None,
    }
}

/// Steps 1 to 4 on the simulated pipelines: a sweep of the python-bound
/// one, a sweep of the gpu-bound one, a census and a ranking.
fn session() -> ResultsFile {
    let config = ExperimentConfig::new(vec!["fake".into()]);
    let options = EngineOptions::default();
    let sink: UpdateSink = Arc::new(|_| {});
    let cancel = Cancel::never();
    let mut results = ResultsFile {
        speedbump_version: "test".into(),
        ..ResultsFile::default()
    };
    for (workload, delays) in [
        (FakeWorkload::python_bound(), vec![10_000, 30_000, 100_000]),
        (
            FakeWorkload::gpu_bound(),
            vec![50_000, 100_000, 250_000, 500_000],
        ),
    ] {
        let mut target = FakeTarget::new(workload, Mode::Live, 0.5, 1);
        let mut ctx = Context {
            target: &mut target,
            config: &config,
            options: &options,
            cancel: &cancel,
            sink: &sink,
        };
        let request = SweepRequest {
            patterns: vec!["*:*".into()],
            delays_ns: delays,
            frequency: 1,
            budget_s: 120.0,
        };
        let (sweep, _) = run_sweep(&mut ctx, &request);
        results.experiments.push(ExperimentRecord {
            sweep: Some(sweep),
            ..record(ExperimentKind::Sweep)
        });
    }
    let mut target = FakeTarget::new(FakeWorkload::python_bound(), Mode::Live, 0.5, 2);
    let mut ctx = Context {
        target: &mut target,
        config: &config,
        options: &options,
        cancel: &cancel,
        sink: &sink,
    };
    let census = run_census(&mut ctx, &["*:*".into()], 1.0).unwrap();
    let candidates: Vec<Candidate> = candidates_under(&census, "__main__").unwrap();
    results.experiments.push(ExperimentRecord {
        census: Some(census),
        ..record(ExperimentKind::Census)
    });
    let request = RankRequest {
        candidates,
        delay_ns: 50_000,
        dose: None,
        frequency: 1,
        budget_s: 120.0,
    };
    let (rank, _) = run_rank(&mut ctx, &request);
    results.experiments.push(ExperimentRecord {
        rank: Some(rank),
        ..record(ExperimentKind::Rank)
    });
    results
}

#[test]
fn results_round_trip_through_the_file() {
    let results = session();
    let dir = std::env::temp_dir().join(format!("speedbump-results-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("results.json");
    results.save(&path).unwrap();
    let back = ResultsFile::load(&path).unwrap();
    assert_eq!(back, results);
    let text = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["schema"], SCHEMA);
    assert_eq!(json["experiments"][0]["kind"], "sweep");
    assert_eq!(
        json["experiments"][0]["sweep"]["shape"]["shape"]["kind"],
        "linear"
    );
    assert_eq!(json["experiments"][3]["rank"]["ranked"][0]["rank"], 1);
    // Appending keeps what was there.
    let mut more = ResultsFile::load_for_append(&path, false).unwrap();
    more.experiments.push(record(ExperimentKind::Census));
    more.save(&path).unwrap();
    assert_eq!(ResultsFile::load(&path).unwrap().experiments.len(), 5);
    assert!(
        ResultsFile::load_for_append(&path, true)
            .unwrap()
            .experiments
            .is_empty()
    );
    // A foreign or broken file is refused with the reason.
    std::fs::write(&path, r#"{"schema": "other/9", "experiments": []}"#).unwrap();
    let e = ResultsFile::load(&path).unwrap_err().to_string();
    // `report` has no --fresh: only the appending commands suggest it.
    assert!(
        e.contains("schema 'other/9'") && !e.contains("--fresh"),
        "{e}"
    );
    let e = ResultsFile::load_for_append(&path, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("schema 'other/9'") && e.contains("--fresh"),
        "{e}"
    );
    std::fs::write(&path, "{not json").unwrap();
    let e = ResultsFile::load(&path).unwrap_err().to_string();
    assert!(e.contains("not a speedbump results file"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn markdown_report_snapshot() {
    let rendered = render(&session(), true);
    insta::assert_snapshot!("markdown_report", rendered.markdown);
    let names: Vec<&str> = rendered.svgs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["sweep-1.svg", "sweep-2.svg", "rank-4.svg"]);
    assert!(!render(&session(), false).markdown.contains(".svg"));
}

fn parse_svg(svg: &str) -> roxmltree::Document<'_> {
    let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc
}

#[test]
fn svg_plots_are_well_formed_and_show_the_evidence() {
    let results = session();
    for (name, svg) in plots(&results) {
        parse_svg(&svg);
        assert!(svg.ends_with("</svg>\n"), "{name}");
    }
    let sweep = results.experiments[1].sweep.as_ref().unwrap();
    let svg = sweep_svg(sweep, "gpu-bound <pipeline> & co");
    let doc = parse_svg(&svg);
    let count = |tag: &str| doc.descendants().filter(|n| n.has_tag_name(tag)).count();
    assert_eq!(count("circle"), 4, "a point per delay");
    assert!(svg.contains("fit: threshold"), "the fitted shape is named");
    assert!(
        svg.contains("gpu-bound &lt;pipeline&gt; &amp; co"),
        "titles are escaped"
    );
    let rank = results.experiments[3].rank.as_ref().unwrap();
    let svg = rank_svg(rank, "rank");
    let doc = parse_svg(&svg);
    let bars = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") != Some("white"))
        .count();
    assert_eq!(bars, 3, "a bar per candidate");
}

#[test]
fn csv_has_a_row_per_setting() {
    let csv = to_csv(&session());
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], COLUMNS.join(","));
    let kinds: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "sweep").count(), 7);
    assert_eq!(kinds.iter().filter(|k| **k == "rank").count(), 3);
    assert_eq!(kinds.iter().filter(|k| **k == "census").count(), 2);
    assert!(
        lines
            .iter()
            .skip(1)
            .all(|l| l.split(',').count() == COLUMNS.len())
    );
}

/// The first object in `value` with key `key` (depth first).
fn first_with<'a>(
    value: &'a mut serde_json::Value,
    key: &str,
) -> Option<&'a mut serde_json::Value> {
    if value.get(key).is_some() {
        return Some(value);
    }
    match value {
        serde_json::Value::Object(fields) => fields.values_mut().find_map(|v| first_with(v, key)),
        serde_json::Value::Array(items) => items.iter_mut().find_map(|v| first_with(v, key)),
        _ => None,
    }
}

#[test]
fn impossible_values_and_non_regular_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    session().save(&path).unwrap();
    let good: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();

    let mut negative = good.clone();
    first_with(&mut negative, "mean_log_ratio").unwrap()["relative"] = (-5.0).into();
    std::fs::write(&path, negative.to_string()).unwrap();
    let e = ResultsFile::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("damaged") && e.contains(".relative is -5"),
        "{e}"
    );

    let mut reversed = good.clone();
    let interval = first_with(&mut reversed, "low").unwrap();
    interval["low"] = 2.0.into();
    interval["high"] = 1.0.into();
    std::fs::write(&path, reversed.to_string()).unwrap();
    let e = ResultsFile::load(&path).unwrap_err().to_string();
    assert!(e.contains("the interval [2, 1]"), "{e}");

    // A FIFO would block the reader forever.
    let fifo = dir.path().join("fifo.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let error = ResultsFile::load(&fifo).unwrap_err();
    let source = std::error::Error::source(&error).map(ToString::to_string);
    assert!(
        source
            .as_deref()
            .is_some_and(|s| s.contains("not a regular file")),
        "{error}: {source:?}"
    );
}
