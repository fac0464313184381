//! The app's state and its one `update` function (The Elm Architecture):
//! a [`Msg`] comes in, the state changes, [`Effect`]s go out. No I/O here,
//! so every screen can be reached in a test by feeding messages.
//!
//! | module | concern |
//! |---|---|
//! | [`live`] | the workload, live throughput history, output lines |
//! | [`experiments`] | the running experiment, sweep and ranking evidence, results |
//! | [`tree`] | step 4's open nodes, cursor and visible rows |
//! | `input` | keys → state changes and commands |
//! | `updates` | engine updates → state |

pub mod experiments;
mod input;
pub(crate) mod live;
pub(crate) mod tree;
mod updates;

pub use updates::{kind_name, progress_source_words};

use std::path::PathBuf;

use crate::experiment::{CensusResult, Mode};

use super::editor::Editor;
use super::msg::{Effect, Msg};
use super::step::{Pane, Step};
use super::theme::Theme;
use experiments::{RankEntry, Results, Running, SweepState};
use live::{Live, OutputLog, Workload};
use tree::Drill;

/// Step 1's delays when none are given (docs/methodology.md: 0, 1 µs, 10 µs, 100 µs).
pub const DEFAULT_DELAYS_NS: [u64; 4] = [0, 1_000, 10_000, 100_000];

/// What the user chose on the command line (also sent by the session
/// server to clients that attach later).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Options {
    /// The workload's command line (for display until it starts).
    pub command: Vec<String>,
    /// Live, restart or auto.
    pub mode: Mode,
    /// Step 1's patterns (`*:*` unless `--targets`/`--pattern`).
    pub patterns: Vec<String>,
    /// Step 1's delays (0 included).
    pub delays_ns: Vec<u64>,
    /// Delay per call for rankings and apply.
    pub rank_delay_ns: u64,
    /// Equal dose of a ranking (fraction of the time per unit); `None`:
    /// `rank_delay_ns` per call (docs/ranking.md).
    pub rank_dose: Option<f64>,
    /// Delay every Nth call.
    pub frequency: u64,
    /// Budget per experiment, seconds.
    pub budget_s: f64,
    /// Census window, seconds.
    pub census_window_s: f64,
    /// Most candidates ranked at once (the busiest children).
    pub max_candidates: usize,
    /// Where `x` writes the report.
    pub export_dir: PathBuf,
    /// Count what runs (`*:*` census) as soon as the workload starts.
    pub auto_census: bool,
    /// Seed of the window order (recorded in results.json).
    pub seed: u64,
    /// Target half-width of intervals (recorded in results.json).
    pub target_precision: f64,
    /// Warm-up, seconds (recorded in results.json).
    pub warmup_s: f64,
    /// Where progress comes from, in words (recorded in results.json).
    pub progress: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            command: Vec::new(),
            mode: Mode::Auto,
            patterns: vec!["*:*".into()],
            delays_ns: DEFAULT_DELAYS_NS.to_vec(),
            rank_delay_ns: 10_000,
            rank_dose: Some(crate::experiment::rank::DEFAULT_DOSE),
            frequency: 1,
            budget_s: 90.0,
            census_window_s: 2.0,
            max_candidates: 8,
            export_dir: PathBuf::from("speedbump-report"),
            auto_census: true,
            seed: 1,
            target_precision: 0.02,
            warmup_s: 0.5,
            progress: None,
        }
    }
}

/// How a notice reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Plain information.
    Info,
    /// Something went well.
    Good,
    /// Worth a look.
    Warn,
    /// Something failed.
    Bad,
}

/// A one-line message in the status bar, for a few seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The text.
    pub text: String,
    /// How it reads.
    pub tone: Tone,
    /// Ticks left before it goes.
    pub ticks_left: u32,
}

/// Ticks a notice stays (at 4 ticks a second: 6 s).
pub const NOTICE_TICKS: u32 = 24;

/// The whole app.
#[derive(Debug, Clone)]
pub struct State {
    /// The user's choices.
    pub options: Options,
    /// Colours by meaning.
    pub theme: Theme,
    /// The step on screen.
    pub step: Step,
    /// Focused pane per step (index into `step.panes()`).
    pub focus: [usize; 6],
    /// Cursor or scroll position per pane.
    pub cursors: [usize; Pane::COUNT],
    /// The help is shown.
    pub help: bool,
    /// A field being edited.
    pub editor: Option<Editor>,
    /// The list filter (`/`).
    pub filter: String,
    /// The workload and engine.
    pub workload: Workload,
    /// Live throughput and counters.
    pub live: Live,
    /// The workload's output.
    pub output: OutputLog,
    /// The experiment in flight.
    pub running: Option<Running>,
    /// Step 1's sweep.
    pub sweep: SweepState,
    /// The latest census (steps 3-4).
    pub census: Option<CensusResult>,
    /// Rankings, oldest first.
    pub rankings: Vec<RankEntry>,
    /// Ranking to start when the census it waits for is done (node path).
    pub pending_rank: Option<String>,
    /// Step 4's tree.
    pub drill: Drill,
    /// Finished results (report, export).
    pub results: Results,
    /// Warnings from the engine, latest last.
    pub warnings: Vec<String>,
    /// The status-bar message.
    pub notice: Option<Notice>,
    /// Files of the last export.
    pub exported: Vec<PathBuf>,
    /// `q` was pressed: waiting for the engine to stop the workload.
    pub quitting: bool,
    /// `a` was pressed: the next `Applied` is the user's (experiments'
    /// own settings changes are not announced).
    pub awaiting_apply: bool,
    /// How many times `p` took a suggested progress point (the next `p`
    /// takes the next suggestion).
    pub progress_pick: usize,
    /// Ticks so far (spinners).
    pub ticks: u64,
    /// `d` or SIGHUP: left without stopping the session.
    pub detached: bool,
}

impl State {
    /// The state before anything happened.
    pub fn new(options: Options, theme: Theme) -> State {
        let sweep = SweepState::new(options.patterns.clone(), options.delays_ns.clone());
        State {
            options,
            theme,
            step: Step::Live,
            focus: [0; 6],
            cursors: [0; Pane::COUNT],
            help: false,
            editor: None,
            filter: String::new(),
            workload: Workload::default(),
            live: Live::default(),
            output: OutputLog::default(),
            running: None,
            sweep,
            census: None,
            rankings: Vec::new(),
            pending_rank: None,
            drill: Drill::default(),
            results: Results::default(),
            warnings: Vec::new(),
            notice: None,
            exported: Vec::new(),
            quitting: false,
            awaiting_apply: false,
            progress_pick: 0,
            ticks: 0,
            detached: false,
        }
    }

    /// Folds one message in; returns what the loop must do. The loop
    /// redraws after every message but a quiet tick (see
    /// [`State::tick_changes_screen`]).
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(key) => self.on_key(&key),
            Msg::Resize => Vec::new(),
            Msg::Tick => {
                self.ticks = self.ticks.wrapping_add(1);
                if let Some(notice) = &mut self.notice {
                    notice.ticks_left = notice.ticks_left.saturating_sub(1);
                    if notice.ticks_left == 0 {
                        self.notice = None;
                    }
                }
                Vec::new()
            }
            Msg::Engine(update) => self.on_engine(update),
            Msg::EngineGone => {
                if self.workload.finished.is_none() {
                    self.workload.finished = Some(Some("the engine stopped unexpectedly".into()));
                }
                self.running = None;
                if self.quitting {
                    vec![Effect::Quit]
                } else {
                    Vec::new()
                }
            }
            Msg::Exported(Ok(files)) => {
                let names: Vec<String> = files
                    .iter()
                    .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect();
                self.say(
                    Tone::Good,
                    format!(
                        "exported to {}/: {}",
                        self.options.export_dir.display(),
                        names.join(" ")
                    ),
                );
                self.exported = files;
                Vec::new()
            }
            Msg::Exported(Err(e)) => {
                self.say(
                    Tone::Bad,
                    format!("export failed: {}", crate::error::chain(&e)),
                );
                Vec::new()
            }
            Msg::Signal => self.quit(),
            Msg::Hangup => self.detach(),
        }
    }

    /// Whether a tick changes what is on screen (a spinner turns while an
    /// experiment runs, a notice expires). Quiet ticks are not redrawn.
    pub fn tick_changes_screen(&self) -> bool {
        self.running.is_some() || self.notice.as_ref().is_some_and(|n| n.ticks_left <= 1)
    }

    /// Shows a notice.
    pub fn say(&mut self, tone: Tone, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            tone,
            ticks_left: NOTICE_TICKS,
        });
    }

    /// The focused pane.
    pub fn pane(&self) -> Pane {
        let panes = self.step.panes();
        panes[self.focus[self.step.index()].min(panes.len() - 1)]
    }

    /// Whether `pane` has the focus.
    pub fn focused(&self, pane: Pane) -> bool {
        self.pane() == pane
    }

    /// The cursor of `pane`.
    pub fn cursor(&self, pane: Pane) -> usize {
        self.cursors[pane.index()]
    }

    /// The ranking of `under` (`*` or a node path), latest.
    pub fn ranking(&self, under: &str) -> Option<&RankEntry> {
        self.rankings.iter().rev().find(|r| r.under == under)
    }

    /// Step 3's rows: the top-level ranking's candidates (ranked ones in
    /// rank order once it is done), or the census's top level, filtered.
    pub fn subsystem_rows(&self) -> Vec<crate::analysis::Candidate> {
        let mut rows = match self.ranking("*") {
            Some(r) => r.candidates.clone(),
            None => self
                .census
                .as_ref()
                .map(|c| c.top_level.clone())
                .unwrap_or_default(),
        };
        if let Some(result) = self.ranking("*").and_then(|r| r.result.as_ref()) {
            let rank_of = |label: &str| {
                result
                    .ranked
                    .iter()
                    .find(|r| r.label == label)
                    .map_or(usize::MAX, |r| r.rank)
            };
            rows.sort_by_key(|c| rank_of(&c.label));
        }
        let filter = self.filter.to_lowercase();
        rows.retain(|c| filter.is_empty() || c.label.to_lowercase().contains(&filter));
        rows
    }

    /// The latest measure of candidate `label` in any ranking.
    pub fn measure(&self, label: &str) -> Option<experiments::Measure> {
        self.rankings.iter().rev().find_map(|r| r.measure(label))
    }

    /// `d` or SIGHUP: leave, the session keeps running.
    pub fn detach(&mut self) -> Vec<Effect> {
        self.detached = true;
        vec![Effect::Quit]
    }

    /// `q`: ask the engine to stop the workload, then leave.
    pub fn quit(&mut self) -> Vec<Effect> {
        if self.workload.finished.is_some() {
            return vec![Effect::Quit];
        }
        if !self.quitting {
            self.quitting = true;
            self.say(Tone::Info, "stopping the workload…");
        }
        vec![Effect::Engine(crate::experiment::Command::Shutdown)]
    }
}
