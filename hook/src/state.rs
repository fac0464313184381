//! The hook's cold state: configuration, patterns, statistics and what the
//! exit summary needs. Reached only on slow paths (first sight of a code
//! object, progress names, fork, exit).

use std::path::PathBuf;

use speedbump_core::pattern::{Pattern, PatternSet};

use speedbump_core::ipc::ControlReader;

use crate::config::Config;
use crate::gil::GilCell;
use crate::mechanism::Mechanism;
use crate::seen::SeenFunctions;
use crate::segment::Stats;
use crate::window::ProcessStart;

pub struct Hook {
    pub config: Config,
    pub patterns: PatternSet,
    /// Functions whose completed calls count as progress (control mode).
    pub progress_points: Vec<Pattern>,
    /// Internal generation of the settings in force (tags co_extra decisions).
    pub generation: u32,
    /// Control-block generation in force (0 = from the environment).
    pub control_generation: u64,
    pub delay_ns: u64,
    pub frequency: u64,
    pub stats: Stats,
    pub seen: SeenFunctions,
    pub start: ProcessStart,
    /// The hook's fixed cost per delayed call, subtracted from each spin.
    pub fixed_cost_ns: u64,
    /// Probe spin the fixed cost was measured with (None: not yet).
    pub calibrated_for: Option<u64>,
    /// The first hooked process of a run without a launcher: it owns the
    /// session directory, prints the summary for all processes and removes
    /// the directory at exit.
    pub root: bool,
    pub session_dir: PathBuf,
    /// How calls are seen (sys.monitoring, or frame evaluation before 3.12).
    pub mechanism: Mechanism,
    /// The launcher's control block, when there is one.
    pub control: Option<ControlReader>,
}

pub static HOOK: GilCell<Option<Hook>> = GilCell::new(None);
