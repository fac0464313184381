//! Live status and the end-of-run summary as plain text (no terminal
//! control here: the caller decides where the lines go).

use std::fmt::Write as _;

use crate::live::latency::{LatencyReading, LatencyReport};
use crate::live::settings::LiveSettings;
use crate::live::snapshot::{
    ApplyReport, FunctionReading, LiveSnapshot, PatternReading, Rates, RunSummary,
    ThroughputReading,
};
use crate::units::{format_count, format_ns, format_rate};

/// Processes listed in the summary (the busiest).
const PROCESSES_SHOWN: usize = 5;

/// Seconds as a duration (`812 µs`, `1.20 s`).
pub fn format_seconds(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "-".to_owned();
    }
    let ns = (seconds * 1e9).round();
    if ns >= u64::MAX as f64 {
        return "∞".to_owned();
    }
    format_ns(ns as u64)
}

/// Injected time as a percentage of wall time.
pub fn format_share(rates: Option<Rates>) -> String {
    rates.map_or_else(
        || "-".to_owned(),
        |r| format!("{:.1}%", r.injected_share() * 100.0),
    )
}

fn rate_or_dash(rates: Option<Rates>, pick: fn(&Rates) -> f64) -> String {
    rates.map_or_else(|| "-".to_owned(), |r| format_rate(pick(&r)))
}

/// `1.23k/s progress (812 µs/unit)`, or `- progress` before the first figure.
pub fn describe_throughput(t: &ThroughputReading) -> String {
    let mut text = match t.per_second {
        Some(rate) => format!("{}/s {}", format_rate(rate), t.name),
        None => format!("-/s {}", t.name),
    };
    if let Some(latency) = t.seconds_per_unit {
        let _ = write!(text, " ({}/unit)", format_seconds(latency));
    }
    text
}

/// `m:handle p50 1.20 ms  p90 …  p99 …  max … (812 requests, 3 errors)`.
pub fn describe_latency(r: &LatencyReading) -> String {
    let ns = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), format_ns);
    let mut text = format!(
        "{} p50 {}  p90 {}  p99 {}  max {} ({} requests",
        r.name,
        ns(r.p50_ns),
        ns(r.p90_ns),
        ns(r.p99_ns),
        ns(r.max_ns),
        format_count(r.samples)
    );
    if r.errors > 0 {
        let _ = write!(text, ", {} raised", format_count(r.errors));
    }
    text.push(')');
    text
}

/// `; 12 completions dropped (ring full)` when some were, else nothing.
fn describe_dropped(report: &LatencyReport) -> String {
    if report.dropped == 0 {
        String::new()
    } else {
        format!(
            "; {} completions dropped (ring full, not in the percentiles)",
            format_count(report.dropped)
        )
    }
}

/// The settings in a few words: `delay 10.0 µs, every 10th call, 2 patterns`.
pub fn describe_settings(settings: &LiveSettings) -> String {
    if !settings.enabled {
        return "off".to_owned();
    }
    let mut parts = Vec::new();
    if settings.delay_ns == 0 {
        parts.push("counting only (delay 0)".to_owned());
    } else {
        parts.push(format!("delay {}", format_ns(settings.delay_ns)));
    }
    if settings.frequency > 1 {
        parts.push(format!("every {}th call", settings.frequency));
    }
    let n = settings.patterns.len();
    parts.push(match n {
        0 => "no patterns".to_owned(),
        1 => format!("pattern {}", settings.patterns.join("")),
        _ => format!("{n} patterns"),
    });
    parts.join(", ")
}

fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let keep = width.saturating_sub(1);
    let mut out: String = text.chars().take(keep).collect();
    out.push('…');
    out
}

/// One status line (for logs: no terminal, printed every few seconds).
pub fn status_line(s: &LiveSnapshot) -> String {
    let mut line = format!(
        "speedbump: {:.1} s, {}/{} processes",
        s.elapsed_s, s.processes.live, s.processes.total
    );
    if let Some(t) = s.primary_throughput() {
        let _ = write!(line, ", {}", describe_throughput(t));
    }
    let mut calls = 0.0;
    let mut delayed = 0.0;
    let mut injected = 0.0;
    let mut any = false;
    for p in s.patterns.iter().filter(|p| !p.exclude) {
        if let Some(r) = p.rates {
            any = true;
            calls += r.calls_per_s;
            delayed += r.delayed_calls_per_s;
            injected += r.injected_ns_per_s;
        }
    }
    if any {
        let _ = write!(
            line,
            ", {} calls/s, {} delayed/s, {:.1}% injected",
            format_rate(calls),
            format_rate(delayed),
            injected / 1e7
        );
    }
    if let Some(point) = s.latency.points.first() {
        let _ = write!(line, ", latency {}", describe_latency(point));
        line.push_str(&describe_dropped(&s.latency));
    }
    line
}

/// The status block for a terminal: at most `height` lines of at most
/// `width` characters.
pub fn status_block(
    s: &LiveSnapshot,
    settings: &LiveSettings,
    width: usize,
    height: usize,
) -> Vec<String> {
    let width = width.max(40);
    let mut lines = Vec::new();
    let generation = match s.generations.as_slice() {
        [] => String::new(),
        [g] => format!("  gen {g}"),
        many => format!(
            "  gens {}",
            many.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
    };
    lines.push(format!(
        "── speedbump {:.1} s  processes {}/{}{generation}  {}",
        s.elapsed_s,
        s.processes.live,
        s.processes.total,
        describe_settings(settings)
    ));
    let throughput: Vec<String> = s
        .throughput
        .iter()
        .take(3)
        .map(describe_throughput)
        .collect();
    if throughput.is_empty() {
        lines.push("throughput: no progress source yet".to_owned());
    } else {
        lines.push(format!("throughput: {}", throughput.join("  ·  ")));
    }
    for point in s.latency.points.iter().take(3) {
        lines.push(format!("latency: {}", describe_latency(point)));
    }
    if s.latency.dropped > 0 {
        lines.push(format!(
            "latency: {} completions dropped (ring full)",
            format_count(s.latency.dropped)
        ));
    }
    let name_width = width.saturating_sub(33).clamp(10, 60);
    let budget = height.saturating_sub(lines.len());
    let patterns: Vec<&PatternReading> = s
        .patterns
        .iter()
        .take(budget.min(6).saturating_sub(1))
        .collect();
    if !patterns.is_empty() {
        lines.push(format!(
            "{:<name_width$} {:>9} {:>10} {:>9}",
            "pattern", "calls/s", "delayed/s", "injected"
        ));
        for p in patterns {
            let name = if p.exclude {
                format!("!{}", p.pattern)
            } else {
                p.pattern.clone()
            };
            lines.push(row(&name, p.rates, name_width));
        }
    }
    let budget = height.saturating_sub(lines.len());
    let functions: Vec<&FunctionReading> =
        s.functions.iter().take(budget.saturating_sub(1)).collect();
    if !functions.is_empty() {
        lines.push(format!(
            "{:<name_width$} {:>9} {:>10} {:>9}",
            format!("function ({} seen)", s.functions_total),
            "calls/s",
            "delayed/s",
            "injected"
        ));
        for f in functions {
            lines.push(row(&f.name, f.rates, name_width));
        }
    }
    lines.truncate(height.max(1));
    lines.iter().map(|l| cut(l, width)).collect()
}

fn row(name: &str, rates: Option<Rates>, name_width: usize) -> String {
    format!(
        "{:<name_width$} {:>9} {:>10} {:>9}",
        cut(name, name_width),
        rate_or_dash(rates, |r| r.calls_per_s),
        rate_or_dash(rates, |r| r.delayed_calls_per_s),
        format_share(rates)
    )
}

/// One line about a settings change reaching the processes.
pub fn describe_apply(report: &ApplyReport) -> String {
    let applied = report
        .processes
        .iter()
        .filter(|p| p.latency_ms.is_some())
        .count();
    let total = report.processes.len();
    if total == 0 {
        return format!(
            "speedbump: settings generation {} published (no hooked process running to apply it)",
            report.generation
        );
    }
    let mut line = format!(
        "speedbump: settings generation {} in effect in {applied}/{total} processes",
        report.generation
    );
    if let Some(max) = report.max_latency_ms {
        let _ = write!(line, " after at most {max:.1} ms");
    }
    if report.timed_out {
        line.push_str(
            "; the others did not apply it in time (is their speedbump hook older than \
             live control?)",
        );
    }
    line
}

/// The narrowest a name column of the end-of-run summary gets.
pub const MIN_NAME_WIDTH: usize = 16;

/// The end-of-run summary, every line at most `width` characters (the
/// terminal's, 80 when it is not one) where the names leave room: name
/// columns shrink to fit, down to [`MIN_NAME_WIDTH`].
pub fn summary_text(s: &RunSummary, top_functions: usize, width: usize) -> String {
    // Room for a name column beside `fixed` characters of figures.
    let name_room =
        |fixed: usize, most: usize| width.saturating_sub(fixed).clamp(MIN_NAME_WIDTH, most);
    let mut out = String::new();
    let command = s
        .command
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let how = match (&s.exit.signal_name, s.exit.code) {
        (Some(name), _) => format!("was killed by {name} (status {})", s.exit.status),
        (None, Some(code)) => format!("exited with status {code}"),
        (None, None) => format!("ended (status {})", s.exit.status),
    };
    let interrupted = if s.exit.interrupted {
        " (interrupted)"
    } else if s.exit.stopped {
        " (stopped by the schedule)"
    } else {
        ""
    };
    let ended = format!("{how} after {:.2} s{interrupted}", s.wall_s);
    let hooked = format!(
        "{} hooked process{}",
        s.processes.len(),
        if s.processes.len() == 1 { "" } else { "es" }
    );
    let outcome = format!("{ended}; {hooked}");
    // "speedbump: `COMMAND` OUTCOME" on one line when the command fits in
    // it, else the outcome first (what `--quiet` keeps) and the command
    // on a line of its own.
    let fixed = "speedbump: `` ".len() + outcome.chars().count();
    if fixed + command.chars().count().min(MIN_NAME_WIDTH) <= width {
        let _ = writeln!(
            out,
            "speedbump: `{}` {outcome}",
            cut(&command, name_room(fixed, 60))
        );
    } else if "speedbump: ".len() + outcome.chars().count() <= width {
        let _ = writeln!(out, "speedbump: {outcome}");
        let _ = writeln!(
            out,
            "  command: `{}`",
            cut(&command, name_room("  command: ``".len(), 60))
        );
    } else {
        let _ = writeln!(out, "speedbump: {ended};");
        let _ = writeln!(
            out,
            "  {hooked}; command: `{}`",
            cut(
                &command,
                name_room(hooked.len() + "  ; command: ``".len(), 60)
            )
        );
    }
    if let Some(last) = s.changes.last() {
        let changes = s.changes.len().saturating_sub(1);
        let _ = write!(out, "settings: {}", describe_settings(&last.settings));
        if changes > 0 {
            let _ = write!(
                out,
                " (after {changes} change{})",
                if changes == 1 { "" } else { "s" }
            );
        }
        out.push('\n');
    }
    if !s.throughput.is_empty() {
        let _ = writeln!(out, "throughput over the run:");
        let n = name_room(55, 34);
        for t in &s.throughput {
            let units = t.units.map_or_else(|| "-".to_owned(), format_rate);
            let _ = writeln!(
                out,
                "  {:<6} {:<n$} {:>9} units  {:>9}/s  {:>10}/unit",
                source_name(t),
                cut(&t.name, n),
                units,
                t.per_second.map_or_else(|| "-".to_owned(), format_rate),
                t.seconds_per_unit
                    .map_or_else(|| "-".to_owned(), format_seconds)
            );
        }
    }
    if !s.latency.points.is_empty() {
        let _ = writeln!(out, "latency over the run{}:", describe_dropped(&s.latency));
        // Durations (`format_ns`) are at most 9 characters: "1000.0 ms".
        let n = name_room(2 + 9 + 8 + 4 * 10, 34);
        let _ = writeln!(
            out,
            "  {:<n$} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9}",
            "latency point", "requests", "raised", "p50", "p90", "p99", "max"
        );
        let ns = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), format_ns);
        for r in &s.latency.points {
            let _ = writeln!(
                out,
                "  {:<n$} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9}",
                cut(&r.name, n),
                format_count(r.samples),
                format_count(r.errors),
                ns(r.p50_ns),
                ns(r.p90_ns),
                ns(r.p99_ns),
                ns(r.max_ns)
            );
        }
    }
    let totals = s.totals();
    // Name, calls, delayed, injected, share/processes; a wide terminal
    // shows the longest name whole.
    let longest = s
        .patterns
        .iter()
        .map(|p| p.pattern.chars().count() + 1)
        .chain(
            s.functions
                .iter()
                .take(top_functions)
                .map(|f| f.name.chars().count()),
        )
        .max()
        .unwrap_or(0);
    let n = name_room(4 * 10 + 1, longest.max(40));
    if !s.patterns.is_empty() {
        let _ = writeln!(
            out,
            "{:<n$} {:>9} {:>9} {:>10} {:>9}",
            "pattern", "calls", "delayed", "injected", "share"
        );
        for p in &s.patterns {
            let name = if p.exclude {
                format!("!{}", p.pattern)
            } else {
                p.pattern.clone()
            };
            let _ = writeln!(
                out,
                "{:<n$} {:>9} {:>9} {:>10} {:>9}",
                cut(&name, n),
                format_count(p.counts.calls),
                format_count(p.counts.delayed_calls),
                format_ns(p.counts.injected_ns),
                format_share(p.rates)
            );
        }
    }
    if !s.functions.is_empty() {
        let shown = s.functions.len().min(top_functions);
        let _ = writeln!(
            out,
            "{:<n$} {:>9} {:>9} {:>10} {:>9}",
            format!("top functions ({shown} of {})", s.functions.len()),
            "calls",
            "delayed",
            "injected",
            "processes"
        );
        for f in s.functions.iter().take(shown) {
            let _ = writeln!(
                out,
                "{:<n$} {:>9} {:>9} {:>10} {:>9}",
                cut(&f.name, n),
                format_count(f.counts.calls),
                format_count(f.counts.delayed_calls),
                format_ns(f.counts.injected_ns),
                f.processes
            );
        }
    }
    if s.processes.len() > 1 {
        let mut busiest: Vec<&crate::live::snapshot::ProcessReport> = s.processes.iter().collect();
        busiest.sort_by(|a, b| b.counts.calls.cmp(&a.counts.calls).then(a.pid.cmp(&b.pid)));
        let shown = busiest.len().min(PROCESSES_SHOWN);
        let _ = writeln!(
            out,
            "{:<8} {:<8} {:>9} {:>10}  command (busiest {shown} of {})",
            "pid",
            "status",
            "calls",
            "injected",
            busiest.len()
        );
        for p in busiest.iter().take(shown) {
            let _ = writeln!(
                out,
                "{:<8} {:<8} {:>9} {:>10}  {}",
                p.pid,
                p.status,
                format_count(p.counts.calls),
                format_ns(p.counts.injected_ns),
                cut(&p.label, name_room(8 + 1 + 8 + 1 + 9 + 1 + 10 + 2, 50))
            );
        }
    }
    let _ = writeln!(
        out,
        "total: {} calls, {} delayed, {} injected",
        format_count(totals.calls),
        format_count(totals.delayed_calls),
        format_ns(totals.injected_ns)
    );
    if !s.warnings.is_empty() {
        let n = s.warnings.len();
        let _ = writeln!(
            out,
            "{n} warning{} (shown above; also in --json)",
            if n == 1 { "" } else { "s" }
        );
    }
    out
}

fn source_name(t: &ThroughputReading) -> &'static str {
    match t.source {
        crate::live::snapshot::SourceKind::Point => "point",
        crate::live::snapshot::SourceKind::Regex => "regex",
        crate::live::snapshot::SourceKind::Api => "api",
        crate::live::snapshot::SourceKind::Runs => "runs",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::live::snapshot::{Counts, ProcessCounts, SourceKind};

    #[test]
    fn seconds_read_as_durations() {
        assert_eq!(format_seconds(0.000_812), "812 µs");
    }

    fn snapshot() -> LiveSnapshot {
        let rates = Some(Rates {
            calls_per_s: 1000.0,
            delayed_calls_per_s: 500.0,
            injected_ns_per_s: 0.25e9,
        });
        LiveSnapshot {
            kind: "sample",
            elapsed_s: 3.25,
            rate_window_s: 1.0,
            generations: vec![2],
            complete: true,
            processes: ProcessCounts {
                live: 3,
                exited: 1,
                total: 4,
            },
            throughput: vec![ThroughputReading {
                source: SourceKind::Api,
                name: "progress".into(),
                units: Some(10.0),
                per_second: Some(100.0),
                seconds_per_unit: Some(0.01),
            }],
            patterns: vec![PatternReading {
                pattern: "bench.*:*".into(),
                exclude: false,
                generations: vec![2],
                functions_matched: 3,
                counts: Counts::default(),
                rates,
            }],
            functions: vec![FunctionReading {
                name: "bench:Engine.step".into(),
                kind: "python",
                pattern: "bench.*:*".into(),
                processes: 3,
                counts: Counts::default(),
                rates,
            }],
            functions_total: 7,
            latency: LatencyReport::default(),
        }
    }

    #[test]
    fn latency_shows_percentiles_samples_errors_and_drops() {
        let mut s = snapshot();
        s.latency = LatencyReport {
            points: vec![LatencyReading {
                name: "app:handle".into(),
                samples: 1234,
                errors: 5,
                p50_ns: Some(1_200_000),
                p90_ns: Some(3_000_000),
                p99_ns: Some(9_800_000),
                max_ns: Some(41_000_000),
                mean_ns: Some(1.5e6),
            }],
            dropped: 12,
            invalid: 0,
        };
        let line = status_line(&s);
        assert!(
            line.ends_with(
                ", latency app:handle p50 1.20 ms  p90 3.00 ms  p99 9.80 ms  max 41.0 ms \
                 (1.23k requests, 5 raised); 12 completions dropped (ring full, not in the \
                 percentiles)"
            ),
            "{line}"
        );
        let block = status_block(&s, &LiveSettings::default(), 120, 20);
        assert!(
            block
                .iter()
                .any(|l| l.starts_with("latency: app:handle p50 1.20 ms")),
            "{block:?}"
        );
    }

    #[test]
    fn status_line_says_the_essentials() {
        let line = status_line(&snapshot());
        assert_eq!(
            line,
            "speedbump: 3.2 s, 3/4 processes, 100/s progress (10.0 ms/unit), \
             1.00k calls/s, 500 delayed/s, 25.0% injected"
        );
    }

    #[test]
    fn summary_names_the_exit_and_lists_the_busiest() {
        use crate::live::snapshot::{ExitReport, ProcessReport, RunSummary};
        let process = |pid, calls| ProcessReport {
            pid,
            parent_pid: 1,
            label: format!("python worker {pid}"),
            status: "exited",
            functions_matched: 1,
            counts: Counts {
                calls,
                delayed_calls: calls,
                injected_ns: calls * 1000,
                own_ns: 0,
            },
        };
        let s = snapshot();
        let summary = RunSummary {
            kind: "summary",
            command: vec!["python".into(), "-c".into(), "a\n  b".into()],
            exit: ExitReport {
                code: None,
                signal: Some(11),
                signal_name: Some("SIGSEGV".into()),
                status: 139,
                interrupted: false,
                stopped: false,
            },
            wall_s: 2.5,
            changes: Vec::new(),
            processes: vec![process(7, 10), process(8, 30)],
            patterns: s.patterns.clone(),
            functions: s.functions.clone(),
            throughput: s.throughput.clone(),
            warnings: vec!["something".into()],
            launcher_cpu_s: Some(0.01),
            latency: LatencyReport::default(),
        };
        let text = summary_text(&summary, 10, 120);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "speedbump: `python -c a b` was killed by SIGSEGV (status 139) after 2.50 s; \
             2 hooked processes"
        );
        let busiest = lines.iter().position(|l| l.starts_with("pid")).unwrap();
        assert!(lines[busiest + 1].starts_with("8 "), "{text}");
        assert!(lines[busiest + 2].starts_with("7 "), "{text}");
        assert!(
            text.contains("total: 40 calls, 40 delayed, 40.0 µs injected"),
            "{text}"
        );
        assert!(
            text.ends_with("1 warning (shown above; also in --json)\n"),
            "{text}"
        );
    }

    #[test]
    fn the_summary_fits_80_columns_without_losing_a_figure() {
        use crate::live::snapshot::{ExitReport, ProcessReport, RunSummary};
        let s = snapshot();
        let long = "telemetry.exporters.opentelemetry:BatchSpanProcessor.on_end";
        let mut functions = s.functions.clone();
        functions[0].name = long.into();
        let summary = RunSummary {
            kind: "summary",
            command: vec![
                "python".into(),
                "/srv/app/services/ingest/service.py".into(),
            ],
            exit: ExitReport {
                code: Some(0),
                signal: None,
                signal_name: None,
                status: 0,
                interrupted: true,
                stopped: false,
            },
            wall_s: 1234.5,
            changes: Vec::new(),
            processes: (0..3)
                .map(|i| ProcessReport {
                    pid: 4_000_000 + i,
                    parent_pid: 1,
                    label: "python -m multiprocessing.spawn --multiprocessing-fork".into(),
                    status: "exited",
                    functions_matched: 1,
                    counts: Counts {
                        calls: 123_456_789,
                        delayed_calls: 123_456_789,
                        injected_ns: 7_199_000_000_000,
                        own_ns: 0,
                    },
                })
                .collect(),
            patterns: s.patterns.clone(),
            functions,
            throughput: s.throughput.clone(),
            warnings: Vec::new(),
            launcher_cpu_s: None,
            latency: s.latency.clone(),
        };
        let text = summary_text(&summary, 10, 80);
        let long_lines: Vec<&str> = text.lines().filter(|l| l.chars().count() > 80).collect();
        assert!(long_lines.is_empty(), "{long_lines:#?}\n{text}");
        // Names are cut, never the figures after them.
        let row = text
            .lines()
            .find(|l| l.starts_with("telemetry.exporters"))
            .unwrap();
        let processes = summary.functions[0].processes.to_string();
        assert!(
            row.contains('…') && row.split_whitespace().last() == Some(processes.as_str()),
            "{row}"
        );
        assert!(
            text.starts_with(
                "speedbump: exited with status 0 after 1234.50 s (interrupted);\n  \
                 3 hooked processes; command: `python /srv/app/services/ingest/service.py`\n"
            ),
            "{text}"
        );
        // A wide terminal keeps the names whole.
        let wide = summary_text(&summary, 10, 200);
        assert!(wide.contains(long), "{wide}");
    }

    #[test]
    fn status_block_fits_the_terminal() {
        let settings = LiveSettings {
            patterns: vec!["bench.*:*".into()],
            delay_ns: 10_000,
            ..LiveSettings::default()
        };
        let block = status_block(&snapshot(), &settings, 60, 10);
        assert!(block.len() <= 10);
        assert!(block.iter().all(|l| l.chars().count() <= 60), "{block:#?}");
        assert!(
            block[0].contains("processes 3/4  gen 2  delay 10.0 µs"),
            "{block:#?}"
        );
        assert!(
            block.iter().any(|l| l.starts_with("bench:Engine.step")),
            "{block:#?}"
        );
        assert!(block.iter().any(|l| l.contains("25.0%")), "{block:#?}");
        let tiny = status_block(&snapshot(), &settings, 60, 2);
        assert_eq!(tiny.len(), 2);
    }
}
