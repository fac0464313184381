//! The experiment engine: METHODOLOGY.md's five steps, automated.
//!
//! [`protocol`] is the contract with the front ends (headless commands, TUI).

pub mod protocol;

pub use protocol::{CensusResult, Command, ExperimentKind, Mode, RankResult, SweepResult, Update};
