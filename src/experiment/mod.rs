//! The experiment engine: docs/methodology.md's five steps, automated.
//!
//! [`protocol`] is the contract with the front ends (headless commands,
//! TUI): [`spawn`] launches the workload and starts a thread that executes
//! [`Command`]s in order and sends [`Update`]s.
//!
//! | module | concern |
//! |---|---|
//! | [`protocol`] | commands, updates, results (the results.json schema) |
//! | [`runner`] | the engine thread: commands in, updates out, cancellation |
//! | [`target`] | the [`Target`] trait: what an experiment needs from a workload |
//! | [`live`], [`restart`], [`auto`] | live mode, restart mode, and the switch between them |
//! | [`fake`] | a simulated workload with a known answer (tests without Python) |
//! | [`workload`] | one run under a live session: output, edges, warm-up, stop |
//! | [`edges`] | cumulative counters at window edges, per settings generation |
//! | [`source`] | which units of progress a window counts |
//! | [`paired`] | paired, interleaved, randomised windows until precise or out of budget |
//! | [`census`], [`sweep`], [`rank`] | the experiments (steps 3, 1-2, 3-4) |
//! | [`context`], [`options`] | what experiments share; engine tuning |
//! | [`results`] | the results.json file: experiments of a session, accumulated |
//! | [`crate::report`] | (a sibling) Markdown, SVG, CSV and text tables from results |
//!
//! ```no_run
//! use speedbump::experiment::{spawn, Command, ExperimentConfig, Update};
//!
//! let config = ExperimentConfig::new(vec!["python".into(), "bench.py".into()]);
//! let engine = spawn(config)?;
//! engine.commands.send(Command::Sweep {
//!     patterns: vec!["*:*".into()],
//!     delays_ns: vec![1_000, 10_000, 100_000],
//!     frequency: 1,
//!     budget_s: 90.0,
//! }).ok();
//! for update in &engine.updates {
//!     if let Update::SweepDone(result) = update {
//!         println!("{}", result.python.message);
//!         break;
//!     }
//! }
//! engine.commands.send(Command::Shutdown).ok();
//! # Ok::<(), speedbump::live::EngineError>(())
//! ```

pub mod auto;
pub mod census;
pub mod context;
mod edges;
pub mod fake;
mod live;
pub(crate) mod options;
mod paired;
pub(crate) mod protocol;
pub mod rank;
mod restart;
pub mod results;
mod runner;
mod source;
pub mod sweep;
mod target;
mod workload;

pub use context::UpdateSink;
pub use options::EngineOptions;
pub use protocol::{
    CensusResult, Command, EngineHandle, ExperimentConfig, ExperimentKind, Mode, RankResult,
    SweepResult, Update,
};
pub use runner::spawn_on;
pub use target::{Cancel, CensusWindow, ExitInfo, Target, TargetError};

use crate::live::EngineError;

use auto::AutoTarget;
use live::LiveTarget;
use restart::RestartTarget;

/// Launches the workload of `config` (live and auto modes; restart mode
/// only checks that the command exists) and starts the engine thread with
/// default [`EngineOptions`].
pub fn spawn(config: ExperimentConfig) -> Result<EngineHandle, EngineError> {
    spawn_with(config, EngineOptions::default())
}

/// [`spawn`] with options.
pub fn spawn_with(
    config: ExperimentConfig,
    options: EngineOptions,
) -> Result<EngineHandle, EngineError> {
    let target_config = config.clone();
    let target_options = options.clone();
    spawn_on(config, options, move |sink| {
        make_target(&target_config, &target_options, &sink)
    })
}

/// The target for the config's mode.
pub fn make_target(
    config: &ExperimentConfig,
    options: &EngineOptions,
    sink: &UpdateSink,
) -> Result<Box<dyn Target>, EngineError> {
    if config.command.is_empty() {
        return Err(EngineError::NoCommand);
    }
    Ok(match config.mode {
        Mode::Live => Box::new(LiveTarget::start(config, options, sink).map_err(engine_error)?),
        Mode::Restart => Box::new(RestartTarget::new(config, options, sink)?),
        Mode::Auto => {
            let live = LiveTarget::start(config, options, sink).map_err(engine_error)?;
            let (config, options, restart_sink) =
                (config.clone(), options.clone(), std::sync::Arc::clone(sink));
            let factory: auto::RestartFactory = Box::new(move || {
                RestartTarget::new(&config, &options, &restart_sink)
                    .map(|t| Box::new(t) as Box<dyn Target>)
            });
            Box::new(AutoTarget::new(
                Box::new(live),
                factory,
                std::sync::Arc::clone(sink),
            ))
        }
    })
}

fn engine_error(e: TargetError) -> EngineError {
    match e {
        TargetError::Engine(e) => e,
        other => EngineError::Experiment(Box::new(other)),
    }
}
