//! What a client that attaches late is sent first: the session's updates
//! so far, compacted so that replaying them rebuilds the same state
//! (finished and running experiments, the drill tree, the live view) in
//! bounded memory:
//!
//! - only the latest `Live` snapshot, `Progress` and `Applied` are kept
//!   (each replaces the previous one);
//! - a sweep's or ranking's per-pair evidence is dropped once its
//!   `SweepDone`/`RankDone` (which carries all of it) arrives;
//! - the last [`MAX_OUTPUT`] output lines and [`MAX_WARNINGS`] warnings.

use crate::experiment::Update;

/// Output lines kept for replay.
pub const MAX_OUTPUT: usize = 500;
/// Warnings kept for replay.
pub const MAX_WARNINGS: usize = 50;

/// The compacted log.
#[derive(Debug, Default)]
pub struct Replay {
    log: Vec<Update>,
}

impl Replay {
    /// Adds `update`, dropping what it supersedes.
    pub fn push(&mut self, update: &Update) {
        match update {
            Update::Live(_) => self.log.retain(|u| !matches!(u, Update::Live(_))),
            Update::Progress { .. } => self.log.retain(|u| !matches!(u, Update::Progress { .. })),
            Update::Applied(_) => self.log.retain(|u| !matches!(u, Update::Applied(_))),
            Update::SweepDone(_) => self
                .log
                .retain(|u| !matches!(u, Update::SweepPoint { .. } | Update::Progress { .. })),
            Update::RankDone(_) => self
                .log
                .retain(|u| !matches!(u, Update::CandidateUpdate { .. } | Update::Progress { .. })),
            Update::CensusDone(_) => self.log.retain(|u| !matches!(u, Update::Progress { .. })),
            Update::Output { .. } => {
                self.keep_last(|u| matches!(u, Update::Output { .. }), MAX_OUTPUT - 1);
            }
            Update::Warning(_) => {
                self.keep_last(|u| matches!(u, Update::Warning(_)), MAX_WARNINGS - 1);
            }
            // Nothing later supersedes these: a late client needs each one.
            Update::Started { .. }
            | Update::SweepPoint { .. }
            | Update::CandidateUpdate { .. }
            | Update::WorkloadExited { .. }
            | Update::Accepted(_)
            | Update::Refused { .. }
            | Update::Finished { .. } => {}
        }
        self.log.push(update.clone());
    }

    /// The updates to send, in order.
    pub fn updates(&self) -> &[Update] {
        &self.log
    }

    /// Drops the oldest entries matching `is_kind` beyond `keep`.
    fn keep_last(&mut self, is_kind: impl Fn(&Update) -> bool, keep: usize) {
        let count = self.log.iter().filter(|u| is_kind(u)).count();
        let mut excess = count.saturating_sub(keep);
        if excess > 0 {
            self.log.retain(|u| {
                if excess > 0 && is_kind(u) {
                    excess -= 1;
                    false
                } else {
                    true
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Verdict;
    use crate::experiment::ExperimentKind;

    fn progress(pairs: usize) -> Update {
        Update::Progress {
            kind: ExperimentKind::Sweep,
            spent_s: pairs as f64,
            budget_s: 60.0,
            pairs,
        }
    }

    #[test]
    fn superseded_updates_are_dropped_and_the_rest_kept_in_order() {
        let mut replay = Replay::default();
        replay.push(&Update::Started {
            mode: crate::experiment::Mode::Live,
            command: vec!["python".into()],
        });
        for i in 0..3 {
            replay.push(&progress(i));
            replay.push(&Update::SweepPoint {
                index: 0,
                point: None,
                verdict: Verdict::Continue {
                    pairs_used: i,
                    half_width: None,
                },
            });
        }
        let kinds = |r: &Replay| -> Vec<&'static str> {
            r.updates()
                .iter()
                .map(|u| match u {
                    Update::Started { .. } => "started",
                    Update::Progress { .. } => "progress",
                    Update::SweepPoint { .. } => "point",
                    Update::Output { .. } => "output",
                    _ => "other",
                })
                .collect()
        };
        assert_eq!(
            kinds(&replay),
            ["started", "point", "point", "progress", "point"]
        );
        assert!(matches!(
            replay.updates()[3],
            Update::Progress { pairs: 2, .. }
        ));
        for i in 0..MAX_OUTPUT + 10 {
            replay.push(&Update::Output {
                line: i.to_string(),
                stderr: false,
            });
        }
        let outputs: Vec<&str> = replay
            .updates()
            .iter()
            .filter_map(|u| match u {
                Update::Output { line, .. } => Some(line.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(outputs.len(), MAX_OUTPUT);
        assert_eq!(outputs[0], "10");
        assert_eq!(kinds(&replay)[0], "started");
    }
}
