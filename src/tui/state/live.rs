//! The workload as it runs: its start and exit, live throughput history and
//! the latest snapshot, and its output lines.

use std::collections::VecDeque;

use crate::experiment::Mode;
use crate::live::LiveSnapshot;

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

    /// The unit of throughput (`steps`, `tokens`), or `units`.
    pub fn unit(&self) -> &str {
        self.last
            .as_ref()
            .and_then(|s| s.primary_throughput())
            .map_or("units", |t| match t.name.as_str() {
                "" | "progress" => "units",
                name => name,
            })
    }

    /// The current throughput.
    pub fn rate(&self) -> Option<f64> {
        self.last
            .as_ref()
            .and_then(|s| s.primary_throughput())
            .and_then(|t| t.per_second)
    }
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
}
