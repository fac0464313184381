//! Engine options beyond [`ExperimentConfig`](super::protocol::ExperimentConfig):
//! what the headless commands and tests tune, with defaults that suit a
//! front end that sets none of them.

use std::path::PathBuf;
use std::time::Duration;

use crate::live::HookSource;
use crate::live::progress::RegexKind;

/// The defaults the headless commands and the TUI share, as their options
/// take them (one definition, documented once in docs/experiments.md).
pub(crate) mod defaults {
    /// Budget of each experiment (sweep, ranking).
    pub const BUDGET: &str = "90s";
    /// Step 1's delays (the baseline at 0 is implied).
    pub const DELAYS: &str = "1us,10us,100us";
    /// Delay per call of rankings (steps 3-4): the text form of
    /// `Options::rank_delay_ns`, which a test checks it against.
    #[cfg_attr(not(test), allow(dead_code))]
    pub const RANK_DELAY: &str = "10us";
    /// Warm-up skipped before measuring.
    pub const WARMUP: &str = "0.5s";
    /// Census window.
    pub const CENSUS: &str = "2s";
}

/// Tuning of the engine; [`EngineOptions::default`] is what
/// [`spawn`](super::spawn) uses.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// First window length of every setting, seconds; windows then grow to
    /// hold at least 20 units of progress (Coz's rule,
    /// [`crate::analysis::next_window_s`]). Long enough to dwarf the
    /// settings change (~15 ms) and the edge effects of a few in-flight
    /// units.
    pub min_window_s: f64,
    /// Fewest usable pairs before a setting may stop on precision. The
    /// stop rule looks at the interval after every pair; with few pairs a
    /// lucky agreement gives a narrow interval that misses the truth (the
    /// sample standard deviation of 3 log ratios is below half the true one
    /// about 1 time in 8), so the engine asks for more than the analysis
    /// minimum of 3.
    pub min_pairs: usize,
    /// Longest window, seconds (a window that keeps doubling because
    /// progress is rare stops growing here).
    pub max_window_s: f64,
    /// Wait after every process applied a new setting, before a window
    /// starts: work in flight under the old setting drains.
    pub settle: Duration,
    /// How long a settings change may take to reach every process before
    /// the window starts anyway (with a warning; late processes are left
    /// out of the window).
    pub apply_timeout: Duration,
    /// `speedbump.progress()` name to use as throughput (default: the
    /// unnamed counter if the workload uses it, else the busiest name).
    pub progress_name: Option<String>,
    /// What group 1 of the progress regex is; overrides
    /// `progress_regex_is_rate` of the config when set.
    pub regex_kind: Option<RegexKind>,
    /// Also delay each resume of generators and coroutines.
    pub delay_resumes: bool,
    /// Also match C functions at Python call sites.
    pub match_c_calls: bool,
    /// Where the hook comes from.
    pub hook: HookSource,
    /// Base directory of sessions (`None`: the default).
    pub base_dir: Option<PathBuf>,
    /// Sampling period of the live snapshots sent as `Update::Live`.
    pub sample_interval: Duration,
    /// Between SIGINT and SIGTERM (and SIGTERM and SIGKILL) when a run is
    /// stopped.
    pub stop_grace: Duration,
    /// Output lines kept for a crash report.
    pub last_lines: usize,
    /// Send every output line of the workload as `Update::Output` (restart
    /// mode repeats the workload's start-up lines for every run).
    pub forward_output: bool,
    /// Rankings of 4 candidates or more use the grouped design
    /// (docs/ranking.md); `false`: one candidate at a time (for
    /// benches/rank_bench comparisons).
    pub grouped_ranking: bool,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            min_window_s: 0.3,
            max_window_s: 30.0,
            min_pairs: 6,
            settle: Duration::from_millis(30),
            apply_timeout: Duration::from_secs(2),
            progress_name: None,
            regex_kind: None,
            delay_resumes: false,
            match_c_calls: false,
            hook: HookSource::Auto,
            base_dir: None,
            sample_interval: Duration::from_millis(250),
            stop_grace: Duration::from_secs(3),
            last_lines: 20,
            forward_output: true,
            grouped_ranking: true,
        }
    }
}
