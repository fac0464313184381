//! Which units of progress a window counts, in the order of `speedbump run`
//! (docs/run.md, "Throughput and latency"): the first progress point, else
//! the output regex, else a `speedbump.progress()` counter, else whole runs
//! (restart mode only).

use std::sync::Arc;
use std::time::Instant;

use crate::live::progress::{RegexKind, RegexProgress};

use super::edges::Delta;

/// The regex's state at one edge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegexEdge {
    /// When it was read.
    pub at: Instant,
    /// Matching lines so far.
    pub matches: u64,
    /// Units so far (`count`, `units` kinds).
    pub units: Option<f64>,
}

/// Where the units of a window come from.
#[derive(Debug, Clone)]
pub enum ProgressSource {
    /// A progress point (its pattern text is its progress name).
    Point(String),
    /// The workload's output lines.
    Regex(Arc<RegexProgress>),
    /// `speedbump.progress()`: the given name, or chosen from the first
    /// window that saw any (the unnamed counter first, else the busiest).
    Api(Option<String>),
}

impl ProgressSource {
    /// The source for these options: points first, then the regex, then
    /// the API.
    pub fn choose(
        points: &[String],
        regex: Option<Arc<RegexProgress>>,
        api_name: Option<String>,
    ) -> ProgressSource {
        if let Some(point) = points.first() {
            ProgressSource::Point(point.clone())
        } else if let Some(regex) = regex {
            ProgressSource::Regex(regex)
        } else {
            ProgressSource::Api(api_name)
        }
    }

    /// The regex's state now, when the source is a regex.
    pub fn regex_edge(&self) -> Option<RegexEdge> {
        let ProgressSource::Regex(regex) = self else {
            return None;
        };
        let at = Instant::now();
        let reading = regex.run_reading(at);
        Some(RegexEdge {
            at,
            matches: reading.matches,
            units: reading.units,
        })
    }

    /// Units between two edges; `None` when the source has produced
    /// nothing at all yet (so there may be no source).
    pub fn units(
        &mut self,
        delta: &Delta,
        regex: Option<(RegexEdge, RegexEdge)>,
        wall_s: f64,
    ) -> Option<u64> {
        match self {
            ProgressSource::Point(point) => delta.progress.get(point.as_str()).copied(),
            ProgressSource::Api(name) => {
                if name.is_none() {
                    *name = pick_api_name(delta);
                }
                name.as_ref()
                    .map(|n| delta.progress.get(n.as_str()).copied().unwrap_or(0))
            }
            ProgressSource::Regex(regex_progress) => {
                let (start, end) = regex?;
                let matches = end.matches.saturating_sub(start.matches);
                if end.matches == 0 {
                    return None;
                }
                if matches == 0 {
                    return Some(0);
                }
                let units = match regex_progress.kind() {
                    RegexKind::Rate => {
                        let window = end.at.saturating_duration_since(start.at);
                        let per_second = regex_progress
                            .reading(end.at, window)
                            .per_second
                            .unwrap_or(0.0);
                        per_second * wall_s
                    }
                    RegexKind::Count | RegexKind::Units => {
                        end.units.unwrap_or(0.0) - start.units.unwrap_or(0.0)
                    }
                };
                Some(units.max(0.0).round() as u64)
            }
        }
    }

    /// What the source is, for messages.
    pub fn describe(&self) -> String {
        match self {
            ProgressSource::Point(point) => format!("progress point {point}"),
            ProgressSource::Regex(r) => format!("--progress-regex '{}'", r.text()),
            ProgressSource::Api(Some(name)) if name.is_empty() => {
                "speedbump.progress() (unnamed)".to_owned()
            }
            ProgressSource::Api(Some(name)) => format!("speedbump.progress(name='{name}')"),
            ProgressSource::Api(None) => "speedbump.progress()".to_owned(),
        }
    }
}

/// The API counter to follow: the unnamed one if it counted, else the one
/// that counted most; `None` when none counted.
fn pick_api_name(delta: &Delta) -> Option<String> {
    if delta.progress.get("").is_some_and(|&u| u > 0) {
        return Some(String::new());
    }
    delta
        .progress
        .iter()
        .filter(|(_, u)| **u > 0)
        .max_by_key(|(_, u)| **u)
        .map(|(n, _)| n.clone())
}

/// The advice when no source produced anything.
pub const NO_PROGRESS_ADVICE: &str = "no unit of progress was counted: give --progress \
MODULE:QUALNAME (a function that completes once per unit of work), --progress-regex with a \
line the workload prints, or call speedbump.progress() in the workload; in restart mode a \
workload that exits by itself is measured in runs per second";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn delta(pairs: &[(&str, u64)]) -> Delta {
        Delta {
            progress: pairs.iter().map(|(n, u)| (n.to_string(), *u)).collect(),
            ..Delta::default()
        }
    }

    #[test]
    fn api_name_prefers_the_unnamed_counter_then_the_busiest() {
        let mut source = ProgressSource::choose(&[], None, None);
        assert_eq!(source.units(&delta(&[]), None, 1.0), None);
        assert_eq!(
            source.units(&delta(&[("a", 5), ("b", 9)]), None, 1.0),
            Some(9)
        );
        // Once chosen, it stays.
        assert_eq!(
            source.units(&delta(&[("", 50), ("b", 2)]), None, 1.0),
            Some(2)
        );
        let mut unnamed = ProgressSource::choose(&[], None, None);
        assert_eq!(
            unnamed.units(&delta(&[("", 7), ("b", 9)]), None, 1.0),
            Some(7)
        );
    }

    #[test]
    fn points_come_first() {
        let mut source = ProgressSource::choose(&["m:step".into()], None, Some("x".into()));
        assert_eq!(
            source.units(&delta(&[("m:step", 4), ("x", 100)]), None, 1.0),
            Some(4)
        );
        assert_eq!(source.describe(), "progress point m:step");
    }

    #[test]
    fn regex_units_between_edges() {
        let regex = Arc::new(RegexProgress::new("done ([0-9]+)", RegexKind::Count).unwrap());
        let mut source = ProgressSource::choose(&[], Some(Arc::clone(&regex)), None);
        let t0 = Instant::now();
        regex.observe_line("done 10", t0);
        let a = source.regex_edge().unwrap();
        regex.observe_line("done 25", Instant::now());
        let b = source.regex_edge().unwrap();
        assert_eq!(source.units(&Delta::default(), Some((a, b)), 1.0), Some(15));
        assert_eq!(source.units(&Delta::default(), Some((b, b)), 1.0), Some(0));
    }
}
