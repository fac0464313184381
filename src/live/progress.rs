//! Throughput read from the workload's output lines (`--progress-regex`).
//!
//! The regex is applied to every line of the workload's stdout and stderr
//! (a line ends at `\n` or `\r`, so progress bars count too). What the first
//! capture group means is chosen with [`RegexKind`]:
//!
//! - `rate` (default): the number *is* the throughput, as the workload
//!   computed it (`Throughput: 123.4 tokens/s`). The live figure is the mean
//!   of the values printed within the rate window (the last value if none);
//!   the run's figure is the mean of every value printed.
//! - `count`: the number is a running total (`processed 12800 samples`). The
//!   rate is the increase between lines over time; a total that goes down
//!   starts a new series (the workload restarted its counter).
//! - `units`: the number is the units done since the previous such line
//!   (`batch of 32 done`); they are summed.
//!
//! A regex without a capture group counts one unit per matching line
//! (`units` of 1). For `count` and `units`, the run's rate is the total over
//! the time from the workload's start to the last matching line.

use std::collections::VecDeque;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use regex::Regex;

/// What the captured number means; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegexKind {
    /// A rate, used as the throughput directly.
    #[default]
    Rate,
    /// A running total.
    Count,
    /// Units done since the previous matching line.
    Units,
}

impl FromStr for RegexKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rate" => Ok(Self::Rate),
            "count" => Ok(Self::Count),
            "units" => Ok(Self::Units),
            other => Err(format!("'{other}' is not a kind; use rate, count or units")),
        }
    }
}

impl RegexKind {
    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rate => "rate",
            Self::Count => "count",
            Self::Units => "units",
        }
    }
}

/// A throughput reading from the output lines.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RegexReading {
    /// Units counted so far (`count`, `units`); `None` for `rate`.
    pub units: Option<f64>,
    /// Units per second; `None` until known.
    pub per_second: Option<f64>,
    /// Matching lines so far.
    pub matches: u64,
}

/// The `--progress-regex` source: shared by the output threads (which feed
/// it lines) and the sampler (which reads it).
#[derive(Debug)]
pub struct RegexProgress {
    regex: Regex,
    text: String,
    kind: RegexKind,
    has_group: bool,
    series: Mutex<RegexSeries>,
}

impl RegexProgress {
    /// Compiles `pattern`. `kind` is ignored when it has no capture group
    /// (each matching line is then one unit).
    pub fn new(pattern: &str, kind: RegexKind) -> Result<Self, regex::Error> {
        let regex = Regex::new(pattern)?;
        let has_group = regex.captures_len() > 1;
        let kind = if has_group { kind } else { RegexKind::Units };
        Ok(Self {
            regex,
            text: pattern.to_owned(),
            kind,
            has_group,
            series: Mutex::new(RegexSeries::new(kind)),
        })
    }

    /// The regex as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The kind in effect.
    pub fn kind(&self) -> RegexKind {
        self.kind
    }

    /// What one line says: `None` when the regex does not match it, else
    /// group 1 as a number (1 without a group), or `Err` with the text
    /// group 1 captured when that is not a number.
    fn value(&self, line: &str) -> Option<Result<f64, String>> {
        let captures = self.regex.captures(line)?;
        if !self.has_group {
            return Some(Ok(1.0));
        }
        let text = captures.get(1)?.as_str();
        Some(parse_number(text).ok_or_else(|| text.to_owned()))
    }

    /// The number one line gives, without counting it (`None`: the regex
    /// does not match it, or group 1 is not a number).
    pub fn value_in(&self, line: &str) -> Option<f64> {
        self.value(line)?.ok()
    }

    /// Scans one line (without its terminator). Returns a warning the
    /// first time group 1 is not a number.
    pub fn observe_line(&self, line: &str, at: Instant) -> Option<String> {
        let value = match self.value(line)? {
            Ok(value) => value,
            Err(text) => {
                let mut series = self.series.lock().ok()?;
                if series.bad_number_warned {
                    return None;
                }
                series.bad_number_warned = true;
                return Some(format!(
                    "--progress-regex: group 1 captured '{text}', which is not a number; \
                     make group 1 match only the number (e.g. '([0-9.]+)')"
                ));
            }
        };
        if let Ok(mut series) = self.series.lock() {
            series.observe(value, at);
        }
        None
    }

    /// The live reading over the last `window`.
    pub fn reading(&self, now: Instant, window: Duration) -> RegexReading {
        self.series
            .lock()
            .map(|s| s.reading(now, window))
            .unwrap_or_default()
    }

    /// The reading over the whole run (the workload started at `start`).
    pub fn run_reading(&self, start: Instant) -> RegexReading {
        self.series
            .lock()
            .map(|s| s.run_reading(start))
            .unwrap_or_default()
    }

    /// Units from `from` to `to` of a `rate` series, each line's rate
    /// spread over the interval it describes; see
    /// [`RegexSeries::rate_units_between`].
    pub fn rate_units_between(&self, from: Instant, to: Instant) -> Option<f64> {
        self.series
            .lock()
            .ok()
            .and_then(|s| s.rate_units_between(from, to))
    }

    /// Whether a matching line came at or after `at`.
    pub fn has_line_after(&self, at: Instant) -> bool {
        self.series
            .lock()
            .is_ok_and(|s| s.last_at.is_some_and(|t| t >= at))
    }

    /// How often matching lines come: the median gap between the recent
    /// ones; `None` before three lines.
    pub fn period(&self) -> Option<Duration> {
        self.series.lock().ok().and_then(|s| s.period())
    }
}

/// Why `pattern` is not a regex, in one line (the regex crate's message
/// draws the pattern over several): `unclosed group at 12`.
pub fn regex_error(pattern: &str) -> Option<String> {
    let error = Regex::new(pattern).err()?;
    let text = error.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let reason = last.trim().trim_start_matches("error:").trim();
    let at = text
        .lines()
        .find(|l| l.trim_start().starts_with('^'))
        .and_then(|l| l.find('^'))
        .zip(text.lines().nth(1).map(|l| l.len() - l.trim_start().len()))
        .map(|(caret, indent)| format!(" at character {}", caret.saturating_sub(indent) + 1));
    Some(format!("{reason}{}", at.unwrap_or_default()))
}

/// The output regex in force, one slot shared by the output readers (which
/// feed it lines), the sampler (live readings) and the session (the run's
/// reading): [`RegexSlot::swap`] puts another one in force while the
/// workload runs. Each [`RegexProgress`] keeps its own series, so a new one
/// starts a fresh measurement: units counted before a swap never mix with
/// the new regex's.
#[derive(Debug, Clone, Default)]
pub struct RegexSlot(Arc<RwLock<Option<Arc<RegexProgress>>>>);

impl RegexSlot {
    /// A slot holding `regex`.
    pub fn new(regex: Option<Arc<RegexProgress>>) -> RegexSlot {
        RegexSlot(Arc::new(RwLock::new(regex)))
    }

    /// The regex in force now.
    pub fn get(&self) -> Option<Arc<RegexProgress>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `regex` in force (none: output lines are no longer scanned);
    /// returns the one it replaces.
    pub fn swap(&self, regex: Option<Arc<RegexProgress>>) -> Option<Arc<RegexProgress>> {
        std::mem::replace(
            &mut *self.0.write().unwrap_or_else(PoisonError::into_inner),
            regex,
        )
    }
}

/// A number as printed: `123`, `1.5e3`, `1,234.5` (commas dropped).
fn parse_number(text: &str) -> Option<f64> {
    let cleaned: String = text.chars().filter(|c| *c != ',' && *c != '_').collect();
    cleaned
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

/// The values seen, and what they mean.
#[derive(Debug)]
pub struct RegexSeries {
    kind: RegexKind,
    /// Recent (time, value-or-cumulative) points, oldest first.
    recent: VecDeque<(Instant, f64)>,
    /// Total of the cumulative series (count: last value, units: sum).
    cumulative: f64,
    /// Offset added after a running total went down.
    carried: f64,
    last_at: Option<Instant>,
    sum_of_rates: f64,
    matches: u64,
    bad_number_warned: bool,
}

/// Points kept for live rates at most (a workload printing very often).
const MAX_RECENT: usize = 4096;

impl RegexSeries {
    /// An empty series of `kind`.
    pub fn new(kind: RegexKind) -> Self {
        Self {
            kind,
            recent: VecDeque::new(),
            cumulative: 0.0,
            carried: 0.0,
            last_at: None,
            sum_of_rates: 0.0,
            matches: 0,
            bad_number_warned: false,
        }
    }

    /// One number from one matching line.
    pub fn observe(&mut self, value: f64, at: Instant) {
        self.matches = self.matches.saturating_add(1);
        self.last_at = Some(at);
        let point = match self.kind {
            RegexKind::Rate => {
                self.sum_of_rates += value;
                value
            }
            RegexKind::Count => {
                let total = value + self.carried;
                if total < self.cumulative {
                    // The workload's counter restarted: keep what it had
                    // counted and start a new series for rates.
                    self.carried = self.cumulative;
                    self.recent.clear();
                    self.cumulative += value;
                } else {
                    self.cumulative = total;
                }
                self.cumulative
            }
            RegexKind::Units => {
                self.cumulative += value;
                self.cumulative
            }
        };
        self.recent.push_back((at, point));
        while self.recent.len() > MAX_RECENT {
            self.recent.pop_front();
        }
    }

    /// Reading over the last `window` before `now`.
    pub fn reading(&self, now: Instant, window: Duration) -> RegexReading {
        let since = now.checked_sub(window);
        let in_window = |t: &Instant| since.is_none_or(|s| *t >= s);
        let per_second = match self.kind {
            RegexKind::Rate => {
                let (sum, n) = self
                    .recent
                    .iter()
                    .filter(|(t, _)| in_window(t))
                    .fold((0.0, 0u32), |(sum, n), (_, v)| (sum + v, n + 1));
                if n > 0 {
                    Some(sum / f64::from(n))
                } else {
                    self.recent.back().map(|(_, v)| *v)
                }
            }
            RegexKind::Count | RegexKind::Units => {
                let last = self.recent.back();
                // The oldest point inside the window, or the one just before
                // the last when the workload prints less often than that.
                let first = self
                    .recent
                    .iter()
                    .find(|(t, _)| in_window(t))
                    .filter(|p| Some(*p) != last)
                    .or_else(|| self.recent.iter().rev().nth(1));
                match (first, last) {
                    (Some((t0, v0)), Some((t1, v1))) if t1 > t0 => {
                        Some((v1 - v0) / t1.duration_since(*t0).as_secs_f64())
                    }
                    _ => None,
                }
            }
        };
        RegexReading {
            units: self.units(),
            per_second,
            matches: self.matches,
        }
    }

    /// Reading over the whole run (the workload started at `start`).
    pub fn run_reading(&self, start: Instant) -> RegexReading {
        let per_second = match self.kind {
            RegexKind::Rate => (self.matches > 0).then(|| self.sum_of_rates / self.matches as f64),
            RegexKind::Count | RegexKind::Units => self.last_at.and_then(|t| {
                let secs = t.saturating_duration_since(start).as_secs_f64();
                (secs > 0.0).then(|| self.cumulative / secs)
            }),
        };
        RegexReading {
            units: self.units(),
            per_second,
            matches: self.matches,
        }
    }

    /// Units from `from` to `to` of a `rate` series. A rate line describes
    /// the interval since the previous line (a workload prints the rate of
    /// the work it just did), so line `i`'s value counts over
    /// `(t[i-1], t[i]]`; the first line's interval is taken as long as the
    /// gap after it. `None` unless lines cover the whole span (a line at or
    /// after `to`, and one before `from` or the first line's interval
    /// reaching back to it), or for other kinds.
    pub fn rate_units_between(&self, from: Instant, to: Instant) -> Option<f64> {
        if self.kind != RegexKind::Rate || to <= from {
            return None;
        }
        let points: Vec<(Instant, f64)> = self.recent.iter().copied().collect();
        let (&(last_t, _), &(first_t, _)) = (points.last()?, points.first()?);
        if last_t < to {
            return None;
        }
        let first_gap = points
            .get(1)
            .map(|(t, _)| t.saturating_duration_since(first_t))?;
        let mut begin = first_t.checked_sub(first_gap)?;
        if begin > from {
            return None;
        }
        let mut units = 0.0;
        for &(t, value) in &points {
            let lo = begin.max(from);
            let hi = t.min(to);
            if hi > lo {
                units += value * hi.duration_since(lo).as_secs_f64();
            }
            begin = t;
            if t >= to {
                break;
            }
        }
        Some(units)
    }

    /// The median gap between the last (up to 32) points; `None` before
    /// three points.
    pub fn period(&self) -> Option<Duration> {
        let recent: Vec<Instant> = self.recent.iter().rev().take(33).map(|(t, _)| *t).collect();
        if recent.len() < 3 {
            return None;
        }
        let mut gaps: Vec<Duration> = recent
            .windows(2)
            .map(|w| w[0].saturating_duration_since(w[1]))
            .collect();
        gaps.sort_unstable();
        gaps.get(gaps.len() / 2).copied()
    }

    fn units(&self) -> Option<f64> {
        match self.kind {
            RegexKind::Rate => None,
            RegexKind::Count | RegexKind::Units => Some(self.cumulative),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn secs(start: Instant, s: f64) -> Instant {
        start + Duration::from_secs_f64(s)
    }

    #[test]
    fn rate_lines_are_used_directly() {
        let p = RegexProgress::new(r"Throughput: ([0-9.]+) tokens/s", RegexKind::Rate).unwrap();
        let t0 = Instant::now();
        assert_eq!(p.observe_line("loading model", secs(t0, 0.1)), None);
        p.observe_line("Throughput: 100.0 tokens/s", secs(t0, 1.0));
        p.observe_line("Throughput: 120 tokens/s", secs(t0, 2.0));
        p.observe_line("Throughput: 140 tokens/s", secs(t0, 2.5));
        let live = p.reading(secs(t0, 2.6), Duration::from_secs(1));
        assert_eq!(live.per_second, Some(130.0));
        assert_eq!(live.units, None);
        assert_eq!(live.matches, 3);
        // Nothing printed lately: the last value stands.
        let stale = p.reading(secs(t0, 9.0), Duration::from_secs(1));
        assert_eq!(stale.per_second, Some(140.0));
        let run = p.run_reading(t0);
        assert_eq!(run.per_second, Some(120.0));
    }

    #[test]
    fn running_totals_give_rates_and_survive_restarts() {
        let p = RegexProgress::new(r"processed (\d+)", RegexKind::Count).unwrap();
        let t0 = Instant::now();
        p.observe_line("processed 100", secs(t0, 1.0));
        p.observe_line("processed 300", secs(t0, 2.0));
        let live = p.reading(secs(t0, 2.0), Duration::from_millis(500));
        assert_eq!(live.per_second, Some(200.0));
        assert_eq!(live.units, Some(300.0));
        // The counter restarts: 300 already counted are kept.
        p.observe_line("processed 50", secs(t0, 3.0));
        assert_eq!(
            p.reading(secs(t0, 3.0), Duration::from_secs(1)).units,
            Some(350.0)
        );
        // One point in the new series: no rate yet.
        assert_eq!(
            p.reading(secs(t0, 3.0), Duration::from_secs(1)).per_second,
            None
        );
        p.observe_line("processed 150", secs(t0, 4.0));
        assert_eq!(
            p.reading(secs(t0, 4.0), Duration::from_secs(1)).per_second,
            Some(100.0)
        );
        assert_eq!(p.run_reading(t0).per_second, Some(450.0 / 4.0));
    }

    #[test]
    fn units_are_summed_and_lines_without_group_count_one() {
        let p = RegexProgress::new(r"batch of (\d+) done", RegexKind::Units).unwrap();
        let t0 = Instant::now();
        for i in 1..=4 {
            p.observe_line("batch of 32 done", secs(t0, f64::from(i)));
        }
        let live = p.reading(secs(t0, 4.0), Duration::from_millis(2500));
        assert_eq!(live.units, Some(128.0));
        assert_eq!(live.per_second, Some(32.0));

        let p = RegexProgress::new(r"request done", RegexKind::Rate).unwrap();
        assert_eq!(p.kind(), RegexKind::Units);
        p.observe_line("request done", secs(t0, 1.0));
        p.observe_line("request done", secs(t0, 2.0));
        assert_eq!(p.run_reading(t0).units, Some(2.0));
        assert_eq!(p.run_reading(t0).per_second, Some(1.0));
    }

    #[test]
    fn a_non_number_warns_once() {
        let p = RegexProgress::new(r"speed: (\S+)", RegexKind::Rate).unwrap();
        let t0 = Instant::now();
        let w = p.observe_line("speed: fast", t0).unwrap();
        assert!(w.contains("'fast'"), "{w}");
        assert_eq!(p.observe_line("speed: slow", t0), None);
        p.observe_line("speed: 1,234.5", t0);
        assert_eq!(p.run_reading(t0).per_second, Some(1234.5));
    }

    #[test]
    fn a_rate_line_counts_for_the_interval_before_it() {
        // Once a second, each line the rate of the second before it: 100/s
        // until t=5, then 50/s. A window [5, 8] under the slower settings.
        let p = RegexProgress::new(r"([0-9.]+) events/s", RegexKind::Rate).unwrap();
        let t0 = Instant::now();
        for i in 1..=9 {
            let rate = if i <= 5 { 100 } else { 50 };
            p.observe_line(&format!("{rate} events/s"), secs(t0, f64::from(i)));
        }
        let units = p.rate_units_between(secs(t0, 5.0), secs(t0, 8.0)).unwrap();
        assert!((units - 150.0).abs() < 1e-6, "{units}");
        // Half a line's interval at each edge.
        let units = p.rate_units_between(secs(t0, 4.5), secs(t0, 6.5)).unwrap();
        assert!((units - (50.0 + 50.0 + 25.0)).abs() < 1e-6, "{units}");
        // Not covered yet: no line at or after the end.
        assert_eq!(p.rate_units_between(secs(t0, 8.0), secs(t0, 9.5)), None);
        assert!(p.has_line_after(secs(t0, 9.0)));
        assert!(!p.has_line_after(secs(t0, 9.5)));
        assert_eq!(p.period(), Some(Duration::from_secs(1)));
        // What the mean of the lines inside the window said (the old way):
        // lines at 6, 7, 8 read 50/s, but the line at 6 is the 5-6 s
        // interval; at 5 (inside [5, 8] too) 100/s from the faster settings.
        let count = RegexProgress::new(r"n=(\d+)", RegexKind::Count).unwrap();
        assert_eq!(count.rate_units_between(t0, secs(t0, 1.0)), None);
    }

    #[test]
    fn a_bad_regex_is_said_in_one_line() {
        assert_eq!(regex_error("([0-9.]+) steps/s"), None);
        assert_eq!(
            regex_error("([0-9.]+ steps/s").as_deref(),
            Some("unclosed group at character 1")
        );
        let why = regex_error("rate: [0-9").unwrap();
        assert!(
            !why.contains('\n') && why.contains("unclosed character class"),
            "{why}"
        );
    }

    #[test]
    fn a_swapped_regex_starts_a_fresh_series() {
        let old = Arc::new(RegexProgress::new(r"n=(\d+)", RegexKind::Units).unwrap());
        let slot = RegexSlot::new(Some(Arc::clone(&old)));
        let t0 = Instant::now();
        slot.get().unwrap().observe_line("n=5", t0);
        let new = Arc::new(RegexProgress::new(r"n=(\d+)", RegexKind::Units).unwrap());
        let replaced = slot.swap(Some(Arc::clone(&new))).unwrap();
        assert!(Arc::ptr_eq(&replaced, &old));
        slot.get().unwrap().observe_line("n=7", secs(t0, 1.0));
        assert_eq!(new.run_reading(t0).units, Some(7.0));
        assert_eq!(old.run_reading(t0).units, Some(5.0));
        assert!(slot.swap(None).is_some() && slot.get().is_none());
    }

    #[test]
    fn kinds_parse() {
        assert_eq!("count".parse::<RegexKind>(), Ok(RegexKind::Count));
        assert!("speed".parse::<RegexKind>().is_err());
    }
}
