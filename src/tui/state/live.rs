//! The workload as it runs: its start and exit, live throughput history and
//! the latest snapshot, and its output lines.

use std::collections::VecDeque;

use crate::experiment::Mode;
use crate::live::LiveSnapshot;
use crate::live::snapshot::SourceKind;

/// Samples of throughput kept for the live chart (at 10 Hz: a minute).
pub const HISTORY: usize = 600;
/// Output lines kept.
pub const OUTPUT_LINES: usize = 1000;

/// How the workload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// Exit status, when it exited.
    pub status: Option<i32>,
    /// Signal, when one killed it.
    pub signal: Option<i32>,
    /// Its last lines of output.
    pub last_lines: Vec<String>,
}

impl Exit {
    /// `exited with status 1`, `killed by signal 9`.
    pub fn describe(&self) -> String {
        match (self.status, self.signal) {
            (_, Some(sig)) => format!("killed by signal {sig}"),
            (Some(code), None) => format!("exited with status {code}"),
            (None, None) => "exited".into(),
        }
    }

    /// Whether it ended badly (non-zero or a signal).
    pub fn failed(&self) -> bool {
        self.signal.is_some() || self.status.is_some_and(|s| s != 0)
    }
}

/// The workload and the engine's life.
#[derive(Debug, Clone, Default)]
pub struct Workload {
    /// The command line, as the engine reported it.
    pub command: Vec<String>,
    /// Mode in use, once started.
    pub mode: Option<Mode>,
    /// Times it started (restart mode: one per run).
    pub starts: u32,
    /// The latest exit, if it exited.
    pub exit: Option<Exit>,
    /// The engine ended: `Some(None)` cleanly, `Some(Some(error))` on error.
    pub finished: Option<Option<String>>,
}

/// Live throughput and counters.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// `(seconds since start, units per second)` of the first throughput
    /// source, oldest first.
    pub history: VecDeque<(f64, f64)>,
    /// The latest snapshot.
    pub last: Option<Box<LiveSnapshot>>,
}

impl Live {
    /// Folds in a snapshot.
    pub fn push(&mut self, snapshot: Box<LiveSnapshot>) {
        if let Some(rate) = snapshot.primary_throughput().and_then(|t| t.per_second) {
            if rate.is_finite() {
                if self.history.len() == HISTORY {
                    self.history.pop_front();
                }
                self.history.push_back((snapshot.elapsed_s, rate));
            }
        }
        self.last = Some(snapshot);
    }

    /// The unit of throughput (`steps`, `tokens`), or `units`: a progress
    /// name, or for an output regex the word after its number (`([0-9.]+)
    /// tokens/s` → `tokens`), never the regex itself.
    pub fn unit(&self) -> &str {
        let Some(t) = self.last.as_ref().and_then(|s| s.primary_throughput()) else {
            return "units";
        };
        match t.source {
            SourceKind::Regex => regex_unit(&t.name).unwrap_or("units"),
            _ => match t.name.as_str() {
                "" | "progress" => "units",
                name => name,
            },
        }
    }

    /// Which kind of source the throughput comes from, when it was chosen
    /// rather than reported by the workload itself: `from output` (an
    /// output regex), `by point` (the unit is then the point).
    pub fn source_words(&self) -> Option<&'static str> {
        let t = self.last.as_ref().and_then(|s| s.primary_throughput())?;
        match t.source {
            SourceKind::Regex => Some("from output"),
            SourceKind::Point => Some("by point"),
            SourceKind::Api | SourceKind::Runs => None,
        }
    }

    /// Calls per second being slowed now, summed over every pattern and
    /// process (measured, not what was asked for: a process that missed a
    /// settings change shows here too); `None` before any rate is known.
    pub fn slowed_per_s(&self) -> Option<f64> {
        let snapshot = self.last.as_ref()?;
        let rates: Vec<f64> = snapshot
            .patterns
            .iter()
            .filter(|p| !p.exclude)
            .filter_map(|p| p.rates.map(|r| r.delayed_calls_per_s))
            .collect();
        (!rates.is_empty()).then(|| rates.iter().sum())
    }

    /// Whether anything is being slowed now.
    pub fn slowing(&self) -> bool {
        self.slowed_per_s().is_some_and(|r| r > 0.0)
    }

    /// The current throughput.
    pub fn rate(&self) -> Option<f64> {
        self.last
            .as_ref()
            .and_then(|s| s.primary_throughput())
            .and_then(|t| t.per_second)
    }
}

/// The word right after a regex's first group (`Throughput: ([0-9.]+)
/// tokens/s` → `tokens`), if it is a plain word.
pub(crate) fn regex_unit(regex: &str) -> Option<&str> {
    let open = regex.find('(')?;
    let close = open + regex.get(open..)?.find(')')?;
    let mut after = regex.get(close + 1..)?;
    for prefix in ["\\s*", "\\s+", " "] {
        after = after.strip_prefix(prefix).unwrap_or(after);
    }
    let end = after
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(after.len());
    let word = after.get(..end)?;
    (word.len() >= 2).then_some(word)
}

/// The workload's output lines.
#[derive(Debug, Clone, Default)]
pub struct OutputLog {
    /// `(line, from stderr)`, oldest first.
    pub lines: VecDeque<(String, bool)>,
    /// Lines dropped off the front so far.
    pub dropped: u64,
}

impl OutputLog {
    /// Adds a line (control characters are shown as `?`: a line must never
    /// move the cursor or change the terminal's state).
    pub fn push(&mut self, line: &str, stderr: bool) {
        let clean: String = line
            .chars()
            .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
            .map(|c| if c == '\t' { ' ' } else { c })
            .collect();
        if self.lines.len() == OUTPUT_LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back((clean, stderr));
    }
}

/// Progress sources to suggest while the workload reports no throughput
/// (`crate::live::suggest`): the output's rate line, and the functions
/// called about once per unit of it (their rate now).
pub fn progress_suggestions(live: &Live, output: &OutputLog) -> Vec<String> {
    use crate::live::suggest::{rate_line, suggestion_lines};
    let rate = rate_line(output.lines.iter().map(|(line, _)| line.as_str()));
    suggestion_lines(rate.as_ref(), &points_near(rate.as_ref(), live))
}

/// The progress points to suggest: the functions called about once per
/// unit of the output's rate line (`p` at step 0 takes them in turn).
pub fn suggested_points(live: &Live, output: &OutputLog) -> Vec<String> {
    let rate = crate::live::suggest::rate_line(output.lines.iter().map(|(line, _)| line.as_str()));
    points_near(rate.as_ref(), live)
}

fn points_near(rate: Option<&crate::live::suggest::RateLine>, live: &Live) -> Vec<String> {
    use crate::live::suggest::once_per_unit;
    match (rate, &live.last) {
        (Some(r), Some(snapshot)) => once_per_unit(
            snapshot
                .functions
                .iter()
                .filter_map(|f| Some((f.name.as_str(), f.rates?.calls_per_s))),
            r.per_s,
        ),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_bounded_and_sanitised() {
        let mut log = OutputLog::default();
        for i in 0..OUTPUT_LINES + 5 {
            log.push(&format!("line {i}\x1b[2J"), false);
        }
        assert_eq!(log.lines.len(), OUTPUT_LINES);
        assert_eq!(log.dropped, 5);
        assert_eq!(log.lines[0].0, "line 5?[2J");
    }

    #[test]
    fn a_regex_is_never_the_unit_name() {
        assert_eq!(regex_unit(r"([0-9.]+) steps/s"), Some("steps"));
        assert_eq!(
            regex_unit(r"Throughput: ([0-9.]+)\s*tokens/s"),
            Some("tokens")
        );
        assert_eq!(regex_unit(r"Throughput: ([0-9.]+)/s"), None);
        assert_eq!(regex_unit("no group"), None);
        let mut live = Live::default();
        assert_eq!(live.unit(), "units");
        let reading = |source, name: &str| crate::live::snapshot::ThroughputReading {
            source,
            name: name.into(),
            units: None,
            per_second: Some(8420.0),
            seconds_per_unit: None,
        };
        let snapshot = |t| LiveSnapshot {
            kind: "sample",
            elapsed_s: 1.0,
            rate_window_s: 1.0,
            generations: vec![1],
            complete: true,
            processes: Default::default(),
            throughput: vec![t],
            patterns: Vec::new(),
            functions: Vec::new(),
            functions_total: 0,
            latency: crate::live::latency::LatencyReport::default(),
        };
        live.push(Box::new(snapshot(reading(
            SourceKind::Regex,
            r"Throughput: ([0-9.]+)/s",
        ))));
        assert_eq!(live.unit(), "units");
        live.push(Box::new(snapshot(reading(
            SourceKind::Regex,
            r"([0-9.]+) events/s",
        ))));
        assert_eq!(live.unit(), "events");
        live.push(Box::new(snapshot(reading(SourceKind::Api, "tokens"))));
        assert_eq!(live.unit(), "tokens");
    }
}
