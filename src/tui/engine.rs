//! Where the TUI's engine comes from: the experiment engine on a real
//! workload, or on the simulated one (`--demo-fake`, tests). Integration
//! with the engine is the one call in [`connect`].

use anyhow::{Context, Result};

use crate::experiment::protocol::ExperimentConfig;
use crate::experiment::{EngineHandle, EngineOptions};

use super::fake::{self, FakeOptions};

/// Which workload the engine runs.
#[derive(Debug, Clone)]
pub enum Source {
    /// A real workload.
    Real(Box<(ExperimentConfig, EngineOptions)>),
    /// The simulated workload.
    Fake(FakeOptions),
}

/// Starts the engine.
pub fn connect(source: Source) -> Result<EngineHandle> {
    match source {
        Source::Real(real) => {
            let (config, options) = *real;
            crate::experiment::spawn_with(config, options)
        }
        Source::Fake(options) => fake::spawn(options),
    }
    .context("cannot start the experiment engine")
}
