//! Progress sources to suggest when a workload runs without one
//! (docs/run.md, docs/tui.md): an output line that prints a rate by itself
//! (`Throughput: 9265.0 events/s`, a progress bar's `12.5it/s`) becomes a
//! `--progress-regex`, and functions called about once per unit of that
//! rate become `--progress` points.

use std::collections::VecDeque;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use regex::Regex;

use super::output::{OutputSink, Stream};
use super::snapshot::RunSummary;

/// A number, then a unit per second: `9265.0 events/s`, `12.5it/s`,
/// `300/s`.
static RATE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(\d+(?:\.\d+)?)(\s?)([A-Za-z_]*)/s\b").ok());

/// Lines a rate regex must match before it is suggested (one line could
/// be a one-off message).
const MIN_LINES: usize = 2;

/// A call rate within this factor of the unit rate is "about once per
/// unit".
const ONCE_PER_UNIT: f64 = 0.15;

/// Progress points suggested at most.
const MAX_POINTS: usize = 3;

/// The regex that reads the rate a line prints, with the value it reads:
/// the label just before the number (letters, spaces, `:`, `=`, `-`) is
/// kept so other numbers on the line do not match
/// (`Throughput: ([0-9.]+) events/s`).
pub fn rate_regex(line: &str) -> Option<(String, f64)> {
    let rate = RATE.as_ref()?;
    let caps = rate.captures_iter(line).last()?;
    let number = caps.get(1)?;
    let before = &line[..number.start()];
    let label_start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphabetic() || matches!(c, ' ' | ':' | '=' | '-' | '_'))
        .last()
        .map_or(before.len(), |(i, _)| i);
    let label = before[label_start..].trim_start();
    let text = format!(
        "{}([0-9.]+){}{}/s",
        regex::escape(label),
        regex::escape(caps.get(2).map_or("", |m| m.as_str())),
        regex::escape(caps.get(3).map_or("", |m| m.as_str())),
    );
    let value = Regex::new(&text)
        .ok()?
        .captures(line)?
        .get(1)?
        .as_str()
        .parse::<f64>()
        .ok()?;
    Some((text, value))
}

/// An output line's rate, found in several lines.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLine {
    /// The `--progress-regex` (its group is the rate).
    pub regex: String,
    /// Lines it matched.
    pub lines: usize,
    /// The latest value it read, units per second.
    pub per_s: f64,
}

/// The rate regex that most of `lines` match (at least two), the latest
/// value it read; ties go to the most recent.
pub fn rate_line<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<RateLine> {
    let mut found: Vec<RateLine> = Vec::new();
    for line in lines {
        let Some((regex, per_s)) = rate_regex(line) else {
            continue;
        };
        match found.iter_mut().find(|f| f.regex == regex) {
            Some(f) => {
                f.lines += 1;
                f.per_s = per_s;
            }
            None => found.push(RateLine {
                regex,
                lines: 1,
                per_s,
            }),
        }
    }
    found
        .into_iter()
        .filter(|f| f.lines >= MIN_LINES && f.per_s > 0.0)
        .max_by_key(|f| f.lines)
}

/// Functions called about once per unit at `units_per_s` (`(name, calls
/// per second)`), nearest first: each is a progress point that counts the
/// same units. Module-level code, lambdas, comprehensions and the
/// `<other>` rows are left out.
pub fn once_per_unit<'a>(
    functions: impl IntoIterator<Item = (&'a str, f64)>,
    units_per_s: f64,
) -> Vec<String> {
    if !(units_per_s.is_finite() && units_per_s > 0.0) {
        return Vec::new();
    }
    let mut near: Vec<(f64, &str)> = functions
        .into_iter()
        .filter(|(name, _)| {
            name.contains(':')
                && !name.starts_with('<')
                && !name.contains(":<")
                && !name.contains(".<")
        })
        .map(|(name, calls_per_s)| ((calls_per_s / units_per_s - 1.0).abs(), name))
        .filter(|(off, _)| *off <= ONCE_PER_UNIT)
        .collect();
    near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
    near.into_iter()
        .take(MAX_POINTS)
        .map(|(_, name)| name.to_owned())
        .collect()
}

/// The suggestions in words, one per line, with options ready to paste;
/// empty when there is nothing to suggest.
pub fn suggestion_lines(rate: Option<&RateLine>, points: &[String]) -> Vec<String> {
    let quote = |s: &str| shlex::try_quote(s).map_or_else(|_| s.to_owned(), |q| q.into_owned());
    let mut out = Vec::new();
    if let Some(r) = rate {
        out.push(format!(
            "the output prints a rate ({} lines): --progress-regex {}",
            r.lines,
            quote(&r.regex)
        ));
    }
    for p in points {
        out.push(format!(
            "called about once per unit: --progress {}",
            quote(p)
        ));
    }
    out
}

/// Output lines kept by [`RateWatch`] (the latest).
const WATCHED_LINES: usize = 200;

/// An output sink that passes every line on and keeps the latest that
/// print a rate, to suggest a progress regex at the end of a run.
pub struct RateWatch {
    inner: Arc<dyn OutputSink>,
    lines: Mutex<VecDeque<String>>,
}

impl RateWatch {
    /// Watches what goes to `inner`.
    pub fn new(inner: Arc<dyn OutputSink>) -> RateWatch {
        RateWatch {
            inner,
            lines: Mutex::new(VecDeque::new()),
        }
    }

    /// The rate line the output printed most, if any.
    pub fn rate_line(&self) -> Option<RateLine> {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        rate_line(lines.iter().map(String::as_str))
    }
}

impl OutputSink for RateWatch {
    fn lines(&self, stream: Stream, lines: &[&[u8]]) {
        self.inner.lines(stream, lines);
        let mut kept = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        for line in lines {
            // Only lines that may print a rate are kept (cheap test first).
            if line.windows(2).any(|w| w == b"/s") {
                if kept.len() == WATCHED_LINES {
                    kept.pop_front();
                }
                kept.push_back(String::from_utf8_lossy(line).trim_end().to_owned());
            }
        }
    }
}

/// The suggestions for a run that had no progress source: its output's rate
/// line, and the functions called about once per unit of it (their rate
/// over the last window, else over the run).
pub fn for_run(summary: &RunSummary, rate: Option<&RateLine>) -> Vec<String> {
    let points = rate.map_or_else(Vec::new, |r| {
        once_per_unit(
            summary.functions.iter().map(|f| {
                (
                    f.name.as_str(),
                    f.rates.map_or_else(
                        || f.counts.calls as f64 / summary.wall_s.max(f64::MIN_POSITIVE),
                        |r| r.calls_per_s,
                    ),
                )
            }),
            r.per_s,
        )
    });
    suggestion_lines(rate, &points)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_line_that_prints_a_rate_becomes_a_progress_regex() {
        assert_eq!(
            rate_regex("Throughput: 9265.0 events/s"),
            Some(("Throughput: ([0-9.]+) events/s".to_owned(), 9265.0))
        );
        assert_eq!(
            rate_regex("12.5 it/s"),
            Some(("([0-9.]+) it/s".to_owned(), 12.5))
        );
        // A progress bar: the numbers before it are not its label.
        let (re, v) = rate_regex(" 45%|████▌     | 450/1000 [00:36<00:44, 12.50it/s]").unwrap();
        assert_eq!((re.as_str(), v), ("([0-9.]+)it/s", 12.5));
        assert_eq!(rate_regex("loaded 3 files in 2.1 s"), None);
        // The suggestion is a regex the session reads as a rate.
        let p = crate::live::progress::RegexProgress::new(
            "Throughput: ([0-9.]+) events/s",
            crate::live::progress::RegexKind::Rate,
        );
        assert!(p.is_ok());
    }

    #[test]
    fn the_most_frequent_rate_line_is_suggested_with_the_functions_once_per_unit() {
        let lines = [
            "starting 4 workers",
            "Throughput: 9265.0 events/s",
            "queue depth 3",
            "Throughput: 9301.5 events/s",
            "done 12.0 it/s",
        ];
        let r = rate_line(lines).unwrap();
        assert_eq!(r.regex, "Throughput: ([0-9.]+) events/s");
        assert_eq!((r.lines, r.per_s), (2, 9301.5));
        assert_eq!(rate_line(["only once 3.0 it/s"]), None);
        let functions = [
            ("__main__:parse_event", 9150.0),
            ("json.decoder:JSONDecoder.decode", 9290.0),
            ("__main__:<module>", 9300.0),
            ("__main__:<lambda>", 9300.0),
            ("<other>", 9300.0),
            ("__main__:hash_batch", 290.0),
            ("queue:Queue.get", 18_600.0),
        ];
        assert_eq!(
            once_per_unit(functions, r.per_s),
            ["json.decoder:JSONDecoder.decode", "__main__:parse_event"]
        );
        let lines = suggestion_lines(Some(&r), &["__main__:parse_event".to_owned()]);
        assert_eq!(
            lines,
            [
                "the output prints a rate (2 lines): --progress-regex 'Throughput: ([0-9.]+) events/s'",
                "called about once per unit: --progress __main__:parse_event",
            ]
        );
    }
}
