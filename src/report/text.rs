//! Tables and verdict sentences for experiments, as plain text (terminal)
//! or Markdown: one [`Table`] model, two renderings.

use crate::analysis::{
    Bottleneck, GainPrediction, Interval, LatencyEffect, MIN_REQUESTS_P50, MIN_REQUESTS_P99,
    PercentileChange, RankedCandidate, Shape, SweepPoint, TreeNode, Verdict, shown_rank,
};
use crate::units::{format_ns, format_rate};

use crate::experiment::protocol::{CensusResult, RankResult, SweepResult};

/// Rows of cells under headers; the first column is left-aligned, the
/// others right-aligned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Column titles.
    pub headers: Vec<String>,
    /// Rows, each as many cells as headers.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headers.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Aligned plain text, two spaces between columns.
    pub fn plain(&self) -> String {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|c| {
                std::iter::once(&self.headers[c])
                    .chain(self.rows.iter().filter_map(|r| r.get(c)))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (c, width) in widths.iter().enumerate() {
                let cell = cells.get(c).map_or("", String::as_str);
                let pad = width.saturating_sub(cell.chars().count());
                if c > 0 {
                    out.push_str("  ");
                }
                if c == 0 {
                    out.push_str(cell);
                    out.push_str(&" ".repeat(pad));
                } else {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(cell);
                }
            }
            out.trim_end().to_owned()
        };
        let mut out = line(&self.headers);
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }

    /// A Markdown table (cells escaped, see [`md_escape`]).
    pub fn markdown(&self) -> String {
        let escape = |s: &str| md_escape(s);
        let mut out = format!(
            "| {} |\n|{}\n",
            self.headers
                .iter()
                .map(|h| escape(h))
                .collect::<Vec<_>>()
                .join(" | "),
            self.headers
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
                .collect::<String>()
        );
        for row in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                row.iter()
                    .map(|c| escape(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
        out
    }
}

/// Escapes Markdown's inline markup (`__main__` would read as bold):
/// backslash, `_`, `*`, `|`, `<`, backtick.
pub fn md_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '_' | '*' | '|' | '<' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `0.912`.
pub fn ratio(x: f64) -> String {
    format!("{x:.3}")
}

/// `[0.905, 0.920]`, or empty.
pub fn interval(i: Option<Interval>, digits: usize) -> String {
    i.map_or(String::new(), |i| {
        format!("[{:.*}, {:.*}]", digits, i.low, digits, i.high)
    })
}

/// `12.3%` (signed with `+` when `signed`).
pub fn percent(x: f64, signed: bool) -> String {
    if signed {
        format!("{:+.1}%", x * 100.0)
    } else {
        format!("{:.1}%", x * 100.0)
    }
}

/// Units per second with three significant digits: `1.52k/s`, `953/s`.
pub fn rate(per_s: f64) -> String {
    format!("{}/s", format_rate(per_s))
}

/// A delay per call: `10.0 µs`.
pub fn delay(ns: u64) -> String {
    format_ns(ns)
}

/// A verdict in a few words: `±0.8%, 6 pairs`, `too noisy: ±4.1%, 8 pairs`.
pub fn verdict_brief(v: &Verdict) -> String {
    match v {
        Verdict::Precise {
            pairs_used,
            half_width,
        } => format!("±{:.1}%, {pairs_used} pairs", half_width * 100.0),
        Verdict::Continue { pairs_used, .. } => format!("measuring, {pairs_used} pairs"),
        Verdict::TooNoisy {
            pairs_used,
            half_width,
            ..
        } => match half_width {
            Some(hw) => format!("too noisy: ±{:.1}%, {pairs_used} pairs", hw * 100.0),
            None => format!("too noisy: {pairs_used} pairs"),
        },
        Verdict::NoCalls { .. } => "matched no call".to_owned(),
    }
}

/// The shape in words: `linear`, `threshold, knee ≈ 134 µs per call`.
pub fn shape_name(shape: &Shape) -> String {
    match shape {
        Shape::None => "none".to_owned(),
        Shape::Linear => "linear".to_owned(),
        Shape::SubLinear => "sub-linear".to_owned(),
        Shape::Threshold { knee_ns } => {
            format!(
                "threshold, knee ≈ {} per call",
                format_ns(knee_ns.max(0.0) as u64)
            )
        }
    }
}

/// Absolute throughput of a point: relative ÷ baseline time per unit.
pub fn point_rate(p: &SweepPoint) -> Option<f64> {
    (p.baseline_time_per_unit_s > 0.0).then(|| p.relative.relative / p.baseline_time_per_unit_s)
}

/// The sweep's table: one row per delay.
pub fn sweep_table(r: &SweepResult) -> Table {
    let mut t = Table::new(&[
        "delay/call",
        "relative",
        "95% interval",
        "throughput",
        "criticality",
        "95% interval",
        "calls/unit",
        "evidence",
    ]);
    let baseline = r
        .points
        .iter()
        .flatten()
        .map(|p| p.baseline_time_per_unit_s)
        .filter(|t| *t > 0.0)
        .fold((0.0, 0usize), |(s, n), t| (s + t, n + 1));
    if baseline.1 > 0 {
        t.rows.push(vec![
            "0 (baseline)".to_owned(),
            "1".to_owned(),
            String::new(),
            rate(baseline.1 as f64 / baseline.0),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    for (i, point) in r.points.iter().enumerate() {
        let verdict = r.verdicts.get(i).map_or(String::new(), verdict_brief);
        let Some(p) = point else {
            t.rows.push(vec![
                "?".to_owned(),
                "-".to_owned(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                verdict,
            ]);
            continue;
        };
        let crit = p.criticality;
        t.rows.push(vec![
            delay(p.delay_ns),
            ratio(p.relative.relative),
            interval(p.relative.interval, 3),
            point_rate(p).map_or(String::new(), rate),
            crit.map_or("-".to_owned(), |c| format!("{:.2}", c.criticality)),
            interval(crit.and_then(|c| c.interval), 2),
            format!("{:.2}", p.calls_per_unit),
            verdict,
        ]);
    }
    t
}

fn matches_everything(patterns: &[String]) -> bool {
    patterns.len() == 1 && patterns[0] == "*:*"
}

/// Step 1's sentence: Python as a whole for `*:*`, the matched code
/// otherwise.
pub fn step1_sentence(r: &SweepResult) -> String {
    let what = format!("the matched code ({})", r.patterns.join(" "));
    if !r.verdicts.is_empty()
        && r.verdicts
            .iter()
            .all(|v| matches!(v, Verdict::NoCalls { .. }))
    {
        return format!(
            "{} matched no call during the sweep: nothing was slowed, so it says nothing about \
             the code; check the patterns against the functions that run at steady state",
            if matches_everything(&r.patterns) {
                "*:*"
            } else {
                &what
            }
        );
    }
    if matches_everything(&r.patterns) {
        return r.python.message.clone();
    }
    let c = r.shape.fit.map_or(String::new(), |f| {
        format!(
            " (criticality {:.2} [{:.2}, {:.2}])",
            f.slope, f.interval.low, f.interval.high
        )
    });
    match r.python.bottleneck {
        Bottleneck::Yes => {
            format!("{what} is on the critical path: slowing it slows the program{c}")
        }
        Bottleneck::No => format!("{what} is not on the critical path: throughput did not move"),
        Bottleneck::NotYet => format!(
            "{what} is not on the critical path at its current speed: throughput holds until \
             ≈{} of extra time per call, then drops",
            format_ns(r.python.headroom_ns.unwrap_or(0.0).max(0.0) as u64)
        ),
        Bottleneck::Inconclusive => format!(
            "too noisy to conclude whether {what} matters: no significant drop, but the intervals \
             do not rule one out; use larger delays, longer windows or more pairs"
        ),
    }
}

/// Step 2's sentence for one prediction, the same in the CLI, the TUI and
/// the reports: `10 µs per call faster → throughput +5.2% [+3.9%, +6.5%]
/// (1.00k/s → 1.05k/s)`; beyond first order or with an interval spanning 0
/// it says so instead of printing a figure that reads as a promise, and a
/// speed-up larger than the code's own time says the figure is the most
/// removing all of the code can gain ([`cap_clause`]).
pub fn step2_sentence(p: &GainPrediction) -> String {
    let faster = format_ns(p.faster_ns_per_call.max(0.0) as u64);
    let at_most = if p.capped { "at most " } else { "" };
    let cap = cap_clause(p).map_or(String::new(), |c| format!(": {c}"));
    if !p.within_first_order {
        return format!(
            "{faster} per call faster → beyond first order: that would remove over half of each \
             unit's time, where a slowdown says nothing (first-order figure {at_most}{}){cap}",
            percent(p.gain, true)
        );
    }
    let i = p.gain_interval.map_or(String::new(), |i| {
        format!(" [{}, {}]", percent(i.low, true), percent(i.high, true))
    });
    if p.gain_interval
        .is_some_and(|i| i.low <= 0.0 && i.high >= 0.0)
    {
        return format!(
            "{faster} per call faster → no measurable gain (throughput {at_most}{}{i} spans 0){cap}",
            percent(p.gain, true)
        );
    }
    format!(
        "{faster} per call faster → throughput {at_most}{}{i} ({} → {}){cap}",
        percent(p.gain, true),
        rate(p.baseline_throughput_per_s),
        rate(p.predicted_throughput_per_s),
    )
}

/// Why a prediction's figure is a ceiling: the speed-up asked for is more
/// than the code's own time per call, so the figure is that of removing
/// all of it. `None` when it was not capped.
pub fn cap_clause(p: &GainPrediction) -> Option<String> {
    let own = p.own_ns_per_call.filter(|_| p.capped)?;
    Some(format!(
        "all of this code takes {} per call, so no speed-up of it can save more",
        format_ns(own.max(0.0).round() as u64)
    ))
}

/// What the sweep measured of the matched code's own time, which caps step
/// 2's speed-ups, or why it measured none (the predictions are then not
/// capped): the same words in the CLI, the TUI and the reports.
pub fn own_time_sentence(r: &SweepResult) -> String {
    match &r.own_time {
        Some(o) => format!(
            "all of the matched code takes {} per call ({} per unit, {:.1} calls per unit; \
             measured for {:.1} s at delay 0 before the sweep); step 2 caps each speed-up at it",
            format_ns(o.ns_per_call.max(0.0).round() as u64),
            format_ns(o.ns_per_unit.max(0.0).round() as u64),
            o.calls_per_unit,
            o.window_s
        ),
        None => format!(
            "not measured ({}), so step 2 does not cap its speed-ups",
            r.own_time_note
                .as_deref()
                .unwrap_or("results of a version that did not measure it")
        ),
    }
}

/// Why a sweep has no step-2 prediction, in the same words everywhere.
pub fn no_prediction_reason(r: &SweepResult) -> String {
    format!(
        "no prediction: step 2 extrapolates the slope of a linear or plateau-then-linear \
         sweep, and this one is {} ({})",
        shape_name(&r.shape.shape),
        r.shape.reason
    )
}

/// What a setting did to request latency, in the same words in the CLI,
/// the TUI and the reports: `latency at 100 µs/call (840 requests per
/// window): p50 1.20 ms +8.3% [+6.1%, +10.5%]; p99 2.40 ms +12.0% [+3.1%,
/// +21.5%], 1.10 [0.40, 1.80] ns per ns of delay per request`. A
/// percentile resting on too few requests per window says so instead.
pub fn latency_sentence(delay_ns: u64, effect: &LatencyEffect) -> String {
    let part = |name: &str, change: Option<PercentileChange>, min: u64| match change {
        None => {
            format!("{name}: fewer than {min} requests in some window of every pair, no figure")
        }
        Some(c) => {
            let i = c.interval.map_or(String::new(), |i| {
                format!(
                    " [{}, {}]",
                    percent(i.low - 1.0, true),
                    percent(i.high - 1.0, true)
                )
            });
            let crit = c.criticality.map_or(String::new(), |k| {
                let ki = k
                    .interval
                    .map_or(String::new(), |i| format!(" [{:.2}, {:.2}]", i.low, i.high));
                format!(", {:.2}{ki} ns per ns of delay per request", k.mean)
            });
            format!(
                "{name} {} {}{i}{crit}",
                format_ns(c.baseline_ns.max(0.0) as u64),
                percent(c.relative - 1.0, true)
            )
        }
    };
    format!(
        "latency at {}/call ({:.0} requests per window): {}; {}",
        delay(delay_ns),
        effect.requests_per_window,
        part("p50", effect.p50, MIN_REQUESTS_P50),
        part("p99", effect.p99, MIN_REQUESTS_P99),
    )
}

/// The sweep's verdicts, one sentence each: shape, step 1, step 2 (with
/// the caveat once), noisy settings, partial results.
pub fn sweep_lines(r: &SweepResult) -> Vec<String> {
    let mut lines = vec![
        format!("shape: {} — {}", shape_name(&r.shape.shape), r.shape.reason),
        format!("step 1: {}", step1_sentence(r)),
    ];
    for p in &r.predictions {
        lines.push(format!("step 2: {}", step2_sentence(p)));
    }
    if r.predictions.is_empty() {
        lines.push(format!("step 2: {}", no_prediction_reason(r)));
    }
    if !r.predictions.is_empty() {
        lines.push(format!("own time: {}", own_time_sentence(r)));
        lines.push(format!(
            "caveat: {}",
            crate::analysis::extrapolate::FIRST_ORDER_CAVEAT
        ));
    }
    lines.extend(
        r.points
            .iter()
            .zip(&r.latency)
            .filter_map(|(p, l)| Some(latency_sentence(p.as_ref()?.delay_ns, l.as_ref()?))),
    );
    for (i, v) in r.verdicts.iter().enumerate() {
        if let Some(advice) = v.advice() {
            let at = r
                .points
                .get(i)
                .and_then(|p| p.as_ref())
                .map_or(String::new(), |p| format!(" at {}", delay(p.delay_ns)));
            lines.push(format!("{advice}{at}"));
        }
    }
    if r.partial {
        lines.push(partial_note("sweep", r.spent_s));
    }
    lines
}

/// The note under an experiment cut short after `spent_s` seconds.
fn partial_note(experiment: &str, spent_s: f64) -> String {
    format!(
        "partial: the {experiment} was cut short after {spent_s:.0} s; the figures above use the \
         pairs measured until then"
    )
}

/// A candidate's rank among `ranked`: `1=` for every member of a tie group
/// that starts at 1 ([`shown_rank`]).
pub fn rank_cell(c: &RankedCandidate, ranked: &[RankedCandidate]) -> String {
    let rank = shown_rank(c, ranked);
    if c.tied {
        format!("{rank}=")
    } else {
        rank.to_string()
    }
}

/// The ranking's table, best first.
pub fn rank_table(r: &RankResult) -> Table {
    if r.dose.is_some() {
        return dose_rank_table(r);
    }
    let mut t = Table::new(&[
        "rank",
        "candidate",
        "drop",
        "95% interval",
        "criticality",
        "95% interval",
        "calls/unit",
        "pairs",
    ]);
    for c in &r.ranked {
        t.rows.push(vec![
            rank_cell(c, &r.ranked),
            c.label.clone(),
            percent(c.drop, false),
            c.drop_interval.map_or(String::new(), |i| {
                format!("[{}, {}]", percent(i.low, false), percent(i.high, false))
            }),
            c.criticality.map_or("-".to_owned(), |k| format!("{k:.2}")),
            interval(c.criticality_interval, 2),
            format!("{:.2}", c.calls_per_unit),
            c.pairs_used.to_string(),
        ]);
    }
    // The first column is the rank: left-aligned looks odd; keep it short.
    t
}

/// One line per candidate that did not conclude (too noisy, or matched no
/// call), naming it: `parse: matched no call …`.
fn unsettled_lines(r: &RankResult) -> Vec<String> {
    r.verdicts
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let advice = v.advice()?;
            Some(match r.labels.get(i) {
                Some(label) => format!("{label}: {advice}"),
                None => advice.to_owned(),
            })
        })
        .collect()
}

/// Why candidates that criticality alone cannot order are ordered as they
/// are: one sentence per set that own time per unit separates. Only for a
/// ranking at an equal dose (one at an equal delay is ordered by drop).
pub fn own_time_order_lines(r: &RankResult) -> Vec<String> {
    if r.dose.is_none() {
        return Vec::new();
    }
    crate::analysis::ranking::ordered_by_own_time(&r.ranked)
        .into_iter()
        .map(|set| {
            format!(
                "{}: equally critical (their criticality intervals overlap); ordered by own time \
                 per unit ({}): the same share of each one's time reaches the critical path, so \
                 making the one with more own time faster gains more",
                set.iter()
                    .map(|c| c.label.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                set.iter()
                    .map(|c| c
                        .own_ns_per_unit
                        .map_or("-".to_owned(), |ns| delay(ns.round() as u64)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect()
}

/// The sentences of a ranking at an equal dose.
fn dose_rank_lines(r: &RankResult, dose: f64) -> Vec<String> {
    let by_gain = r.ranked.iter().any(|c| c.gain_ns_per_unit.is_some());
    let mut lines = vec![format!(
        "ranked by {} under {}: every candidate got the same dose, {} of the time per unit{} \
         (its delay per call = dose / its calls per unit), so call counts do not decide the \
         order; criticality is the share of injected time that reached the critical path \
         (1: all of it, 0: none); candidates marked = have overlapping intervals",
        if by_gain {
            "gain (criticality × own time per unit)"
        } else {
            "criticality"
        },
        if r.under.is_empty() { "*" } else { &r.under },
        percent(dose, false),
        r.time_per_unit_s.map_or(String::new(), |t| format!(
            " ({})",
            delay((t * dose * 1e9).round() as u64)
        ))
    )];
    if let Some(d) = &r.design {
        lines.push(format!(
            "grouped design: {} pairs in {} blocks, {} candidates slowed per window; effects {}; \
             confirmed alone: {}",
            d.grouped_pairs,
            d.blocks,
            d.group_size,
            match d.additivity {
                Some(a) if a.additive => "add up (Tukey check passed)".to_owned(),
                Some(_) =>
                    "do not fully add up (Tukey check failed): trust the confirmed ones".to_owned(),
                None => "not checked for additivity (too few pairs)".to_owned(),
            },
            if d.confirmed.is_empty() {
                "none".to_owned()
            } else {
                d.confirmed.join(", ")
            }
        ));
    }
    if let Some(best) = r.ranked.first() {
        let tied: Vec<&str> = r
            .ranked
            .iter()
            .filter(|c| c.tie_group == best.tie_group)
            .map(|c| c.label.as_str())
            .collect();
        if tied.len() > 1 {
            lines.push(format!(
                "top: {} — tied: their intervals overlap, so their order is not established",
                tied.join(", ")
            ));
        } else if let Some(k) = best.criticality {
            lines.push(format!(
                "top: {} — criticality {k:.2} {}: {}",
                best.label,
                interval(best.criticality_interval, 2),
                if by_gain {
                    "the most time per unit to gain by making it faster"
                } else {
                    "time removed from it shortens the unit of work the most per nanosecond"
                }
            ));
        }
    }
    lines.extend(own_time_order_lines(r));
    lines.extend(unsettled_lines(r));
    if r.partial {
        lines.push("partial: the ranking was cut short".to_owned());
    }
    lines
}

/// A ranking at an equal dose: criticality first (the order), with the
/// dose, per-call delay and drop beside (docs/ranking.md).
fn dose_rank_table(r: &RankResult) -> Table {
    let mut t = Table::new(&[
        "rank",
        "candidate",
        "criticality",
        "95% interval",
        "own/unit",
        "gain/unit",
        "dose",
        "delay/call",
        "calls/unit",
        "drop",
        "measured",
    ]);
    for c in &r.ranked {
        t.rows.push(vec![
            rank_cell(c, &r.ranked),
            c.label.clone(),
            c.criticality.map_or("-".to_owned(), |k| format!("{k:.2}")),
            interval(c.criticality_interval, 2),
            c.own_ns_per_unit
                .map_or("-".to_owned(), |ns| delay(ns.round() as u64)),
            c.gain_ns_per_unit
                .map_or("-".to_owned(), |ns| delay(ns.max(0.0).round() as u64)),
            c.dose.map_or("-".to_owned(), |d| percent(d, false)),
            delay(c.delay_ns),
            format!("{:.2}", c.calls_per_unit),
            percent(c.drop, false),
            format!(
                "{}{}",
                c.measured.as_deref().unwrap_or("-"),
                if c.interaction { " (interacts)" } else { "" }
            ),
        ]);
    }
    t
}

/// The ranking's sentences: what was ranked, ties, candidates that did not
/// conclude (named), partial.
pub fn rank_lines(r: &RankResult) -> Vec<String> {
    if let Some(dose) = r.dose {
        return dose_rank_lines(r, dose);
    }
    let mut lines = vec![format!(
        "ranked by throughput drop with {} per call{} under {}; candidates marked = in the \
         same tie group cannot be told apart (Welch t test, 95%)",
        delay(r.delay_ns),
        if r.frequency > 1 {
            format!(" (every {}th call)", r.frequency)
        } else {
            String::new()
        },
        if r.under.is_empty() { "*" } else { &r.under }
    )];
    if let Some(best) = r.ranked.first() {
        let tied: Vec<&str> = r
            .ranked
            .iter()
            .filter(|c| c.tie_group == best.tie_group)
            .map(|c| c.label.as_str())
            .collect();
        if tied.len() > 1 {
            lines.push(format!("top: {} (tied)", tied.join(", ")));
        } else if best.drop_interval.is_some_and(|i| i.low > 0.0) {
            lines.push(format!(
                "top: {} — slowing it by {} per call costs {} of throughput",
                best.label,
                delay(r.delay_ns),
                percent(best.drop, false)
            ));
        }
    }
    lines.extend(unsettled_lines(r));
    if r.partial {
        lines.push(partial_note("ranking", r.spent_s));
    }
    lines
}

/// What the census could not place in its tree (calls counted as
/// `<other>` by a full function table), as a share of all calls, with what
/// to do; `None` when every call was placed.
pub fn census_other(c: &CensusResult) -> Option<String> {
    let other = c.tree.other_calls;
    if other == 0 {
        return None;
    }
    let all = c.tree.root.calls.saturating_add(other) as f64;
    Some(format!(
        "{} of the calls ({}) were in <other>: functions the full function table could not \
         name, so they are not in the tree; narrow the patterns (leave out start-up code) or \
         run the census once the workload is warm",
        percent(other as f64 / all, false),
        rate(other as f64 / c.window_s.max(f64::MIN_POSITIVE)),
    ))
}

/// The census's table: the children of `node` (the root's for the top
/// level), by calls.
pub fn census_table(c: &CensusResult, node: &TreeNode, top: usize) -> Table {
    let mut t = Table::new(&["node", "kind", "calls/s", "share", "functions", "pattern"]);
    let window = c.window_s.max(f64::MIN_POSITIVE);
    for child in node.children.iter().take(top) {
        t.rows.push(vec![
            if child.path.is_empty() {
                "*".to_owned()
            } else {
                child.path.clone()
            },
            format!("{:?}", child.kind).to_lowercase(),
            rate(child.calls as f64 / window)
                .trim_end_matches("/s")
                .to_owned(),
            if node.calls > 0 {
                percent(child.calls as f64 / node.calls as f64, false)
            } else {
                String::new()
            },
            child.functions.to_string(),
            child.patterns.join(" "),
        ]);
    }
    t
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn step_2_never_promises_what_it_cannot() {
        let mut p = GainPrediction {
            faster_ns_per_call: 10_000.0,
            calls_per_unit: 3.0,
            criticality: 0.5,
            criticality_interval: None,
            baseline_throughput_per_s: 1000.0,
            predicted_throughput_per_s: 1052.0,
            gain: 0.052,
            gain_interval: Some(Interval::new(0.039, 0.065)),
            within_first_order: true,
            caveat: String::new(),
            own_ns_per_call: None,
            capped: false,
        };
        let s = step2_sentence(&p);
        assert!(s.contains("throughput +5.2% [+3.9%, +6.5%]"), "{s}");
        p.gain_interval = Some(Interval::new(-0.01, 0.065));
        let s = step2_sentence(&p);
        assert!(s.contains("no measurable gain"), "{s}");
        p.within_first_order = false;
        assert!(step2_sentence(&p).contains("beyond first order"));
    }

    #[test]
    fn a_speedup_larger_than_the_code_says_at_most() {
        // The case: "+5.2% [+3.9, +6.5]" for 10 µs less per call
        // where all of that Python takes 2.5 µs per call.
        let faster = |ns| {
            crate::analysis::extrapolate::predict_gain_from(
                1.0,
                Some(Interval::new(0.9, 1.1)),
                1e-3,
                20.0,
                Some(2_500.0),
                ns,
            )
            .unwrap()
        };
        let s = step2_sentence(&faster(10_000.0));
        assert_eq!(
            s,
            "10.0 µs per call faster → throughput at most +5.3% [+4.7%, +5.8%] \
             (1.00k/s → 1.05k/s): all of this code takes 2.50 µs per call, so no speed-up of it \
             can save more"
        );
        // Within the code's own time: the plain sentence.
        let small = faster(1_000.0);
        let s = step2_sentence(&small);
        assert!(
            !s.contains("at most") && !s.contains("all of this code"),
            "{s}"
        );
    }

    #[test]
    fn calls_in_other_are_said_never_dropped() {
        let e = |name: &str, calls| crate::analysis::CensusEntry {
            name: name.into(),
            calls,
            injected_ns: 0,
            own_ns: 0,
        };
        let tree =
            crate::analysis::CallTree::from_census(&[e("__main__:handle", 600), e("<other>", 400)]);
        assert_eq!((tree.root.calls, tree.other_calls), (600, 400));
        let mut c = CensusResult {
            patterns: vec!["*:*".into()],
            window_s: 2.0,
            throughput_per_s: None,
            tree,
            top_level: vec![],
        };
        let said = census_other(&c).unwrap();
        assert!(
            said.starts_with("40.0% of the calls (200/s) were in <other>"),
            "{said}"
        );
        c.tree.other_calls = 0;
        assert_eq!(census_other(&c), None);
    }

    #[test]
    fn tables_align_and_escape() {
        let mut t = Table::new(&["a", "long header"]);
        t.rows.push(vec!["x|y".into(), "1".into()]);
        assert_eq!(t.plain(), "a    long header\nx|y            1\n");
        assert!(t.markdown().contains("x\\|y"));
        assert_eq!(md_escape("__main__:f*"), "\\_\\_main\\_\\_:f\\*");
        assert!(
            t.markdown()
                .starts_with("| a | long header |\n|---|---:|\n")
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(rate(1523.4), "1.52k/s");
        assert_eq!(rate(953.0), "953/s");
        assert_eq!(rate(12.345), "12.3/s");
        assert_eq!(percent(0.1234, true), "+12.3%");
        assert_eq!(percent(-0.05, false), "-5.0%");
    }

    #[test]
    fn the_latency_sentence_gives_each_percentile_its_change_or_says_why_not() {
        use crate::analysis::Pair;
        use crate::analysis::latency_effect::test_window;
        let window = |requests: u64, p50_ns: u64, delayed_calls: u64| {
            test_window(requests, p50_ns, 2 * p50_ns, delayed_calls)
        };
        let pairs: Vec<Pair> = [0u64, 2_000, 4_000]
            .iter()
            .map(|&n| Pair {
                baseline: window(100, 1_000_000, 0),
                treatment: window(100, 1_100_000 + n, 100),
                baseline_first: true,
            })
            .collect();
        let effect = LatencyEffect::from_pairs(&pairs, 100_000, 0.95).unwrap();
        let said = latency_sentence(100_000, &effect);
        assert!(
            said.starts_with(
                "latency at 100 µs/call (100 requests per window): p50 1.00 ms +10.2%"
            ),
            "{said}"
        );
        assert!(said.contains("1.02 ["), "criticality of the p50: {said}");
        assert!(
            said.contains("p99: fewer than 200 requests in some window"),
            "{said}"
        );
    }
}
