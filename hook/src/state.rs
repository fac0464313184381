//! The hook's cold state: configuration, patterns, statistics and what the
//! exit summary needs. Reached only on slow paths (first sight of a code
//! object, progress names, fork, exit).

use std::path::PathBuf;

use speedbump::pattern::PatternSet;

use crate::config::Config;
use crate::gil::GilCell;
use crate::seen::SeenFunctions;
use crate::stats::Stats;
use crate::window::ProcessStart;

pub struct Hook {
    pub config: Config,
    pub patterns: PatternSet,
    /// Settings generation (0 = from the environment).
    pub generation: u32,
    pub stats: Stats,
    pub seen: SeenFunctions,
    pub start: ProcessStart,
    /// The hook's fixed cost per delayed call, subtracted from each spin.
    pub fixed_cost_ns: u64,
    /// The first hooked process of a run without a launcher: it owns the
    /// session directory, prints the summary for all processes and removes
    /// the directory at exit.
    pub root: bool,
    pub session_dir: PathBuf,
    /// sys.monitoring tool id in use.
    pub tool_id: u8,
}

pub static HOOK: GilCell<Option<Hook>> = GilCell::new(None);
