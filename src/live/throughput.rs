//! Putting the progress sources together into throughput figures.
//!
//! Order (the first is "the" throughput of the run):
//! 1. progress points (`--progress MOD:QUALNAME`), in the order given;
//! 2. the output regex (`--progress-regex`);
//! 3. `speedbump.progress()` names: the one chosen with `--progress-name`
//!    first, then the default name, then the others by name;
//! 4. runs per second (summary only): 1 / wall time, for a command that
//!    does fixed work and exits.
//!
//! Latency per unit is reported beside each figure by Little's law,
//! `L = λ·W`: with `concurrency` units in flight (`--concurrency`, default
//! 1), a unit takes `W = concurrency / throughput` seconds. With the
//! default that is simply the inverse of the throughput.

use std::sync::Arc;

use super::progress::RegexReading;
use super::snapshot::{SourceKind, ThroughputReading};

/// The progress sources of a session.
#[derive(Debug, Clone, Default)]
pub struct ThroughputSources {
    /// Every progress point configured so far, in order.
    pub points: Vec<String>,
    /// The output regex leads the points: it was chosen after them.
    pub regex_leads: bool,
    /// The `speedbump.progress()` name to put first.
    pub api_name: Option<String>,
    /// Units in flight, for latency (Little's law); 1 by default.
    pub concurrency: f64,
}

impl ThroughputSources {
    /// Adds the points of new settings (live changes keep the old ones
    /// listed, after them).
    pub fn add_points(&mut self, points: &[String]) {
        if !points.is_empty() {
            self.regex_leads = false;
        }
        // The points of the settings in force lead, in their order (the
        // first is "the" throughput, so a point chosen later takes over),
        // then those of earlier settings.
        let mut ordered: Vec<String> = Vec::with_capacity(points.len() + self.points.len());
        for point in points.iter().chain(&self.points) {
            if !ordered.contains(point) {
                ordered.push(point.clone());
            }
        }
        self.points = ordered;
    }

    /// An output regex was put in force while the workload runs: it is the
    /// throughput from now on, before the points listed so far.
    pub fn regex_chosen(&mut self) {
        self.regex_leads = true;
    }

    /// The readings in order; `progress` is the aggregated progress table
    /// (name, units, units/s), `regex` the output regex in force (its text)
    /// and its reading, and `runs` the runs per second (summary only).
    pub fn readings(
        &self,
        progress: &[(Arc<str>, u64, Option<f64>)],
        regex: Option<(&str, RegexReading)>,
        runs: Option<f64>,
    ) -> Vec<ThroughputReading> {
        let concurrency = if self.concurrency > 0.0 {
            self.concurrency
        } else {
            1.0
        };
        let reading =
            |source, name: String, units: Option<f64>, per_second: Option<f64>| ThroughputReading {
                source,
                name,
                units,
                per_second,
                seconds_per_unit: per_second.filter(|r| *r > 0.0).map(|r| concurrency / r),
            };
        let regex = regex
            .map(|(text, r)| reading(SourceKind::Regex, text.to_owned(), r.units, r.per_second));
        let (mut out, regex_after) = match regex {
            Some(r) if self.regex_leads => (vec![r], None),
            other => (Vec::new(), other),
        };
        for point in &self.points {
            let row = progress.iter().find(|(name, _, _)| name.as_ref() == point);
            let (units, rate) = row.map_or((0, None), |(_, units, rate)| (*units, *rate));
            out.push(reading(
                SourceKind::Point,
                point.clone(),
                Some(units as f64),
                rate,
            ));
        }
        out.extend(regex_after);
        let mut api: Vec<&(Arc<str>, u64, Option<f64>)> = progress
            .iter()
            .filter(|(name, _, _)| !self.points.iter().any(|p| p.as_str() == name.as_ref()))
            .collect();
        let rank = |name: &str| {
            if self.api_name.as_deref() == Some(name) {
                0
            } else if name.is_empty() {
                1
            } else {
                2
            }
        };
        api.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(a.0.cmp(&b.0)));
        for (name, units, rate) in api {
            let shown = if name.is_empty() {
                "progress".to_owned()
            } else {
                name.to_string()
            };
            out.push(reading(SourceKind::Api, shown, Some(*units as f64), *rate));
        }
        if let Some(runs) = runs {
            out.push(reading(
                SourceKind::Runs,
                "runs".to_owned(),
                Some(1.0),
                Some(runs),
            ));
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sources_come_in_order_with_latency() {
        let mut sources = ThroughputSources {
            points: vec!["bench:Engine.step".into()],
            regex_leads: false,
            api_name: Some("tokens".into()),
            concurrency: 4.0,
        };
        let progress: Vec<(Arc<str>, u64, Option<f64>)> = vec![
            (Arc::from(""), 10, Some(5.0)),
            (Arc::from("bench:Engine.step"), 100, Some(50.0)),
            (Arc::from("tokens"), 1000, Some(0.0)),
            (Arc::from("alpha"), 1, None),
        ];
        let regex = RegexReading {
            units: None,
            per_second: Some(8.0),
            matches: 3,
        };
        let r = sources.readings(&progress, Some(("T: ([0-9.]+)", regex)), Some(0.5));
        let names: Vec<&str> = r.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "bench:Engine.step",
                "T: ([0-9.]+)",
                "tokens",
                "progress",
                "alpha",
                "runs"
            ]
        );
        assert_eq!(r[0].source, SourceKind::Point);
        assert_eq!(r[0].seconds_per_unit, Some(4.0 / 50.0));
        assert_eq!(r[1].seconds_per_unit, Some(0.5));
        assert_eq!(
            r[2].seconds_per_unit, None,
            "zero throughput has no latency"
        );
        assert_eq!(r[5].per_second, Some(0.5));
        assert_eq!(r[5].seconds_per_unit, Some(8.0));
        // A regex chosen while the workload runs leads the points so far;
        // a point chosen after it leads again.
        sources.regex_chosen();
        let r = sources.readings(&progress, Some(("T: ([0-9.]+)", regex)), None);
        assert_eq!(r[0].source, SourceKind::Regex);
        assert_eq!(r[1].name, "bench:Engine.step");
        sources.add_points(&[]);
        let r = sources.readings(&progress, Some(("T: ([0-9.]+)", regex)), None);
        assert_eq!(r[0].source, SourceKind::Regex, "idle settings keep it");
        sources.add_points(&["bench:Engine.step".into()]);
        let r = sources.readings(&progress, Some(("T: ([0-9.]+)", regex)), None);
        assert_eq!(r[0].source, SourceKind::Point);
        assert_eq!(r[1].source, SourceKind::Regex);
    }

    #[test]
    fn a_point_not_seen_yet_reads_zero() {
        let mut sources = ThroughputSources::default();
        sources.add_points(&["m:f".into(), "m:f".into()]);
        let r = sources.readings(&[], None, None);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].units, Some(0.0));
        assert_eq!(r[0].per_second, None);
    }
}
