//! CSV: one row per measured setting (sweep delay, ranked candidate) and
//! per top-level census node, for spreadsheets. Columns are only ever
//! added at the end.

use crate::analysis::{Interval, Verdict};

use super::text::point_rate;
use crate::experiment::results::ResultsFile;

/// The header row.
pub const COLUMNS: &[&str] = &[
    "experiment",
    "kind",
    "label",
    "delay_ns",
    "frequency",
    "relative",
    "relative_low",
    "relative_high",
    "drop",
    "criticality",
    "criticality_low",
    "criticality_high",
    "calls_per_unit",
    "pairs_used",
    "throughput_per_s",
    "status",
    "rank",
    "tie_group",
    "calls",
    "share",
];

fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn num(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map_or(String::new(), |v| format!("{v}"))
}

fn ends(i: Option<Interval>) -> (String, String) {
    (num(i.map(|i| i.low)), num(i.map(|i| i.high)))
}

fn status(v: Option<&Verdict>) -> String {
    match v {
        Some(Verdict::Precise { .. }) => "precise".to_owned(),
        Some(Verdict::TooNoisy { .. }) => "too_noisy".to_owned(),
        Some(Verdict::NoCalls { .. }) => "no_calls".to_owned(),
        Some(Verdict::Continue { .. }) => "unfinished".to_owned(),
        None => String::new(),
    }
}

/// The CSV text of every experiment in `results`.
pub fn to_csv(results: &ResultsFile) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    let mut push = |cells: Vec<String>| {
        out.push_str(&cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    };
    for (n, record) in results.experiments.iter().enumerate() {
        let id = (n + 1).to_string();
        if let Some(sweep) = &record.sweep {
            let label = sweep.patterns.join(" ");
            for (i, point) in sweep.points.iter().enumerate() {
                let Some(p) = point else { continue };
                let (rl, rh) = ends(p.relative.interval);
                let (cl, ch) = ends(p.criticality.and_then(|c| c.interval));
                push(vec![
                    id.clone(),
                    "sweep".into(),
                    label.clone(),
                    p.delay_ns.to_string(),
                    sweep.frequency.to_string(),
                    num(Some(p.relative.relative)),
                    rl,
                    rh,
                    num(Some(p.relative.drop())),
                    num(p.criticality.map(|c| c.criticality)),
                    cl,
                    ch,
                    num(Some(p.calls_per_unit)),
                    p.relative.pairs_used.to_string(),
                    num(point_rate(p)),
                    status(sweep.verdicts.get(i)),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
        }
        if let Some(rank) = &record.rank {
            for c in &rank.ranked {
                let (dl, dh) = ends(c.drop_interval);
                let (cl, ch) = ends(c.criticality_interval);
                push(vec![
                    id.clone(),
                    "rank".into(),
                    c.label.clone(),
                    c.delay_ns.to_string(),
                    rank.frequency.to_string(),
                    num(Some(1.0 - c.drop)),
                    num(dh.parse::<f64>().ok().map(|h| 1.0 - h)),
                    num(dl.parse::<f64>().ok().map(|l| 1.0 - l)),
                    num(Some(c.drop)),
                    num(c.criticality),
                    cl,
                    ch,
                    num(Some(c.calls_per_unit)),
                    c.pairs_used.to_string(),
                    String::new(),
                    String::new(),
                    c.rank.to_string(),
                    c.tie_group.to_string(),
                    String::new(),
                    String::new(),
                ]);
            }
        }
        if let Some(census) = &record.census {
            for c in &census.top_level {
                let mut row = vec![id.clone(), "census".into(), c.label.clone()];
                row.extend(std::iter::repeat_n(String::new(), 15));
                row.push(c.calls.to_string());
                row.push(num(Some(c.share)));
                push(row);
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_needed() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(field("plain"), "plain");
        assert_eq!(to_csv(&ResultsFile::default()), COLUMNS.join(",") + "\n");
    }
}
