//! Where the TUI's engine comes from: the real experiment engine, or the
//! fake one (`--demo-fake`, tests). Integration with the real engine is the
//! one call in [`real`].

use anyhow::Result;

use crate::experiment::EngineHandle;
use crate::experiment::protocol::ExperimentConfig;

use super::fake::{self, FakeOptions};

/// Which engine to run.
#[derive(Debug, Clone)]
pub enum Source {
    /// The real engine on a real workload.
    Real(ExperimentConfig),
    /// The fake engine on a simulated workload.
    Fake(FakeOptions),
}

/// Starts the engine.
pub fn connect(source: Source) -> Result<EngineHandle> {
    match source {
        Source::Real(config) => real(config),
        Source::Fake(options) => Ok(fake::spawn(options)),
    }
}

/// The real engine: launches the workload and runs commands on its thread.
fn real(config: ExperimentConfig) -> Result<EngineHandle> {
    use anyhow::Context;
    crate::experiment::spawn(config).context("cannot start the experiment engine")
}
