//! Engine updates folded into the state.

use crate::experiment::results::{ExperimentRecord, now_unix_s};
use crate::experiment::{CensusResult, Command, ExperimentKind, RankResult, SweepResult, Update};

use super::experiments::{Evidence, RankEntry, Running};
use super::live::Exit;
use super::tree::under_key;
use super::{State, Tone};
use crate::tui::msg::Effect;

impl State {
    pub(super) fn on_engine(&mut self, update: Update) -> Vec<Effect> {
        match update {
            Update::Started { mode, command } => {
                self.workload.starts += 1;
                self.workload.mode = Some(mode);
                self.workload.command = command;
                if self.workload.starts == 1 {
                    self.say(Tone::Info, "workload started");
                    if self.options.auto_census && self.census.is_none() {
                        return self.start_census();
                    }
                }
            }
            Update::Live(snapshot) => self.live.push(snapshot),
            Update::Output { line, stderr } => self.output.push(&line, stderr),
            Update::Applied(report) => {
                if report.timed_out {
                    self.say(
                        Tone::Warn,
                        format!(
                            "settings {} did not reach every process in time",
                            report.generation
                        ),
                    );
                } else if let Some(ms) = report.max_latency_ms.filter(|_| self.awaiting_apply) {
                    self.awaiting_apply = false;
                    self.say(
                        Tone::Good,
                        format!("settings {} applied in {ms:.1} ms", report.generation),
                    );
                }
            }
            Update::Progress {
                kind,
                spent_s,
                budget_s,
                pairs,
            } => {
                let running = self.running.get_or_insert(Running {
                    kind,
                    spent_s,
                    budget_s,
                    pairs,
                    cancelling: false,
                    started_unix_s: now_unix_s(),
                });
                running.kind = kind;
                running.spent_s = spent_s;
                running.budget_s = budget_s;
                running.pairs = pairs;
            }
            Update::CensusDone(census) => {
                self.record(ExperimentKind::Census, Some(&census), None, None);
                self.finish(ExperimentKind::Census);
                // Calls the tree could not place are said, never dropped.
                let other = census.tree.other_calls;
                let all = census.tree.root.calls.saturating_add(other);
                if other > 0 && all > 0 {
                    self.say(
                        Tone::Warn,
                        format!(
                            "census: {} functions in {} subsystems; {:.0}% of calls unnamed \
                             (<other>)",
                            census.tree.root.functions,
                            census.top_level.len(),
                            100.0 * other as f64 / all as f64
                        ),
                    );
                } else {
                    self.say(
                        Tone::Good,
                        format!(
                            "census: {} functions in {} subsystems",
                            census.tree.root.functions,
                            census.top_level.len()
                        ),
                    );
                }
                self.results.census = Some((*census).clone());
                self.census = Some(*census);
                if let Some(path) = self.pending_rank.take() {
                    return self.start_rank(&path);
                }
            }
            Update::SweepPoint {
                index,
                point,
                verdict,
            } => {
                if let Some(slot) = self.sweep.points.get_mut(index) {
                    *slot = point;
                }
                if let Some(slot) = self.sweep.verdicts.get_mut(index) {
                    *slot = Some(verdict);
                }
            }
            Update::SweepDone(result) => {
                self.record(ExperimentKind::Sweep, None, Some(&result), None);
                self.finish(ExperimentKind::Sweep);
                self.sweep.points = result.points.clone();
                self.sweep.verdicts = result.verdicts.iter().cloned().map(Some).collect();
                let partial = if result.partial { " (partial)" } else { "" };
                self.say(Tone::Good, format!("sweep done{partial}: see the verdict"));
                self.results.sweeps.push((*result).clone());
                self.sweep.result = Some(*result);
            }
            Update::CandidateUpdate {
                index,
                relative,
                verdict,
            } => {
                if let Some(entry) = self.rankings.last_mut() {
                    if entry.result.is_none() {
                        if let Some(e) = entry.evidence.get_mut(index) {
                            *e = Evidence {
                                relative,
                                verdict: Some(verdict),
                            };
                        }
                    }
                }
            }
            Update::RankDone(result) => {
                self.finish(ExperimentKind::Rank);
                let mut result = *result;
                if let Some(entry) = self.rankings.last_mut() {
                    if entry.result.is_none() {
                        // The engine may not know which node the candidates
                        // came from; the UI does.
                        if result.under.is_empty() {
                            result.under.clone_from(&entry.under);
                        }
                        entry.result = Some(result.clone());
                    }
                }
                self.record(ExperimentKind::Rank, None, None, Some(&result));
                let first = result
                    .ranked
                    .first()
                    .map(|r| format!(": {} first", r.label))
                    .unwrap_or_default();
                self.say(Tone::Good, format!("ranking done{first}"));
                self.results.add_ranking(result);
            }
            Update::Warning(text) => {
                self.say(Tone::Warn, text.clone());
                self.warnings.push(text);
            }
            Update::WorkloadExited {
                status,
                signal,
                last_lines,
            } => {
                let exit = Exit {
                    status,
                    signal,
                    last_lines,
                };
                let tone = if exit.failed() { Tone::Bad } else { Tone::Info };
                self.say(tone, format!("workload {}", exit.describe()));
                self.workload.exit = Some(exit);
            }
            Update::Accepted(command) => self.adopt(command),
            Update::Refused { command, reason } => {
                self.say(Tone::Warn, reason);
                match command {
                    // Only watching: `q` leaves without stopping anything.
                    Command::Shutdown => {
                        self.quitting = false;
                        return self.detach();
                    }
                    Command::Cancel => {
                        if let Some(running) = &mut self.running {
                            running.cancelling = false;
                        }
                    }
                    // The experiment this front end marked as started
                    // did not start.
                    Command::Census { .. } | Command::Sweep { .. } | Command::Rank { .. } => {
                        self.running = None;
                        self.pending_rank = None;
                    }
                    // Refused settings change nothing this front end set up.
                    Command::Apply(_)
                    | Command::SetProgressPoints(_)
                    | Command::SetProgressRegex { .. } => {}
                }
            }
            Update::Finished { error } => {
                self.running = None;
                if let Some(e) = &error {
                    self.say(Tone::Bad, format!("engine stopped: {e}"));
                }
                self.workload.finished = Some(error);
                if self.quitting {
                    return vec![Effect::Quit];
                }
            }
        }
        Vec::new()
    }

    /// Another front end of the session started `command` (the session
    /// server says so with `Update::Accepted`, also when replaying to a
    /// client that attaches later): set up as if this one had, so the
    /// updates that follow land where its own would.
    fn adopt(&mut self, command: Command) {
        let (kind, budget_s) = match command {
            Command::Census { window_s, .. } => (ExperimentKind::Census, window_s),
            Command::Sweep {
                patterns,
                delays_ns,
                budget_s,
                ..
            } => {
                self.sweep.patterns = patterns;
                self.sweep.delays_ns = std::iter::once(0).chain(delays_ns).collect();
                self.sweep.restart();
                (ExperimentKind::Sweep, budget_s)
            }
            Command::Rank {
                candidates,
                delay_ns,
                budget_s,
                ..
            } => {
                let path = self
                    .census
                    .as_ref()
                    .and_then(|c| parent_path(&c.tree.root, &c.top_level, &candidates))
                    .unwrap_or_default();
                self.drill.open.insert(path.clone());
                let entry = RankEntry {
                    under: under_key(&path),
                    evidence: vec![Evidence::default(); candidates.len()],
                    candidates,
                    result: None,
                    delay_ns,
                };
                self.rankings.retain(|r| r.under != entry.under);
                self.rankings.push(entry);
                (ExperimentKind::Rank, budget_s)
            }
            Command::SetProgressPoints(points) => {
                self.options.progress = Some(progress_source_words(&points, None));
                return;
            }
            Command::SetProgressRegex { regex, .. } => {
                self.options.progress = Some(progress_source_words(&[], Some(&regex)));
                return;
            }
            // Not an experiment: nothing runs that updates would land in.
            Command::Apply(_) | Command::Cancel | Command::Shutdown => return,
        };
        self.running = Some(Running::new(kind, budget_s));
    }

    /// Keeps a finished experiment for results.json.
    fn record(
        &mut self,
        kind: ExperimentKind,
        census: Option<&CensusResult>,
        sweep: Option<&SweepResult>,
        rank: Option<&RankResult>,
    ) {
        let started_unix_s = self
            .running
            .as_ref()
            .filter(|r| r.kind == kind)
            .map_or_else(now_unix_s, |r| r.started_unix_s);
        let command = if self.workload.command.is_empty() {
            self.options.command.clone()
        } else {
            self.workload.command.clone()
        };
        self.results.records.push(ExperimentRecord {
            kind,
            started_unix_s,
            command,
            mode: self.options.mode,
            seed: self.options.seed,
            target_precision: self.options.target_precision,
            warmup_s: self.options.warmup_s,
            progress: self.options.progress.clone(),
            census: census.cloned(),
            sweep: sweep.cloned(),
            rank: rank.cloned(),
        });
    }

    fn finish(&mut self, kind: ExperimentKind) {
        if self.running.as_ref().is_some_and(|r| r.kind == kind) {
            self.running = None;
        }
    }

    /// Whether an experiment is running or nothing can run; says so.
    fn busy(&mut self) -> bool {
        if let Some(running) = &self.running {
            let what = kind_name(running.kind);
            self.say(
                Tone::Warn,
                format!("the {what} is still running (c cancels it)"),
            );
            return true;
        }
        if self.workload.finished.is_some() {
            self.say(Tone::Bad, "the engine has stopped: nothing can run");
            return true;
        }
        false
    }

    /// Starts an experiment unless one is running.
    fn start(&mut self, kind: ExperimentKind, budget_s: f64, command: Command) -> Vec<Effect> {
        if self.busy() {
            return Vec::new();
        }
        self.running = Some(Running::new(kind, budget_s));
        vec![Effect::Engine(command)]
    }

    /// Counts what runs (`*:*`, or the user's patterns) at delay 0.
    pub(super) fn start_census(&mut self) -> Vec<Effect> {
        let command = Command::Census {
            patterns: self.options.patterns.clone(),
            window_s: self.options.census_window_s,
        };
        self.start(
            ExperimentKind::Census,
            self.options.census_window_s,
            command,
        )
    }

    /// Steps 1-2 on `self.sweep`'s patterns and delays.
    pub(super) fn start_sweep(&mut self) -> Vec<Effect> {
        if self.busy() {
            return Vec::new();
        }
        let delays_ns = self.sweep.restart();
        let command = Command::Sweep {
            patterns: self.sweep.patterns.clone(),
            delays_ns,
            frequency: self.options.frequency,
            budget_s: self.options.budget_s,
        };
        self.start(ExperimentKind::Sweep, self.options.budget_s, command)
    }

    /// Ranks the busiest children of the node at `path` (`""`: the top
    /// level); runs the census first when there is none.
    pub(super) fn start_rank(&mut self, path: &str) -> Vec<Effect> {
        let Some(census) = &self.census else {
            if self.busy() {
                return Vec::new();
            }
            self.pending_rank = Some(path.to_owned());
            self.say(Tone::Info, "counting what runs first (census)…");
            return self.start_census();
        };
        let Some(node) = census.tree.find(path) else {
            self.say(Tone::Warn, format!("'{path}' is not in the census"));
            return Vec::new();
        };
        let mut candidates = if path.is_empty() && !census.top_level.is_empty() {
            census.top_level.clone()
        } else {
            node.candidates()
        };
        // Every child that ran is a candidate under an equal dose (a quiet
        // child may be the critical one, docs/ranking.md); at an equal
        // delay per call, nodes with a tiny share of the calls cannot move
        // throughput and are left out.
        let equal_dose = self.options.rank_dose.is_some();
        candidates.retain(|c| c.calls > 0 && (equal_dose || c.share >= MIN_SHARE));
        candidates.truncate(self.options.max_candidates.max(1));
        if candidates.is_empty() {
            self.say(
                Tone::Warn,
                "this node has no children to rank: s sweeps it instead",
            );
            return Vec::new();
        }
        if self.busy() {
            return Vec::new();
        }
        self.drill.open.insert(path.to_owned());
        let entry = RankEntry {
            under: under_key(path),
            evidence: vec![Evidence::default(); candidates.len()],
            candidates: candidates.clone(),
            result: None,
            delay_ns: self.options.rank_delay_ns,
        };
        self.rankings.retain(|r| r.under != entry.under);
        self.rankings.push(entry);
        let command = Command::Rank {
            candidates,
            delay_ns: self.options.rank_delay_ns,
            dose: self.options.rank_dose,
            frequency: self.options.frequency,
            budget_s: self.options.budget_s,
        };
        self.start(ExperimentKind::Rank, self.options.budget_s, command)
    }
}

/// The path of the tree node whose children `candidates` are (`""` for the
/// census's top level), if any.
fn parent_path(
    node: &crate::analysis::TreeNode,
    top_level: &[crate::analysis::Candidate],
    candidates: &[crate::analysis::Candidate],
) -> Option<String> {
    let first = &candidates.first()?.label;
    if top_level.iter().any(|c| &c.label == first) {
        return Some(String::new());
    }
    if node.children.iter().any(|c| &c.path == first) {
        return Some(node.path.clone());
    }
    node.children
        .iter()
        .find_map(|c| parent_path(c, &[], candidates))
}

/// Least share of its parent's calls for a child to be ranked.
pub const MIN_SHARE: f64 = 0.001;

/// Where progress comes from once `points` or a `regex` are set at step 0,
/// in the command line's words (`progress point M:Q`, `output regex R`),
/// as results.json records it.
pub fn progress_source_words(points: &[String], regex: Option<&str>) -> String {
    crate::cli::tui::progress_description(points, regex)
        .unwrap_or_else(|| "speedbump.progress() (runs per second if none)".to_owned())
}

/// `census`, `sweep`, `ranking`.
pub fn kind_name(kind: ExperimentKind) -> &'static str {
    match kind {
        ExperimentKind::Census => "census",
        ExperimentKind::Sweep => "sweep",
        ExperimentKind::Rank => "ranking",
    }
}
