//! Where the TUI's engine comes from: the real experiment engine, or the
//! fake one (`--demo-fake`, tests). Integration with the real engine is the
//! one call in [`real`].

use anyhow::Result;

use crate::experiment::protocol::ExperimentConfig;
use crate::experiment::{EngineHandle, EngineOptions};

use super::fake::{self, FakeOptions};

/// Which engine to run.
#[derive(Debug, Clone)]
pub enum Source {
    /// The real engine on a real workload.
    Real(ExperimentConfig, EngineOptions),
    /// The fake engine on a simulated workload.
    Fake(FakeOptions),
}

/// Starts the engine.
pub fn connect(source: Source) -> Result<EngineHandle> {
    match source {
        Source::Real(config, options) => real(config, options),
        Source::Fake(options) => Ok(fake::spawn(options)),
    }
}

/// The real engine: launches the workload and runs commands on its thread.
fn real(config: ExperimentConfig, options: EngineOptions) -> Result<EngineHandle> {
    use anyhow::Context;
    crate::experiment::spawn_with(config, options).context("cannot start the experiment engine")
}
