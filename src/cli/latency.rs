//! `--latency MOD:QUALNAME`, declared once and flattened into `run`,
//! `sweep`, `rank` and `tui`.

use anyhow::anyhow;
use clap::Args;

use crate::live::settings::normalise_progress_point;

/// Latency points: request latency beside throughput.
#[derive(Debug, Clone, Default, Args)]
pub struct LatencyArgs {
    /// Latency point: each completed call of MOD:QUALNAME is a request, timed
    /// from its start to its return (for coroutines and generators: first
    /// start to final return, awaits included); p50/p90/p99/max are shown
    /// beside throughput (repeatable; Python >= 3.12).
    #[arg(long = "latency", value_name = "MOD:QUALNAME")]
    pub latency: Vec<String>,
}

impl LatencyArgs {
    /// The latency points, checked and normalised.
    pub fn points(&self) -> anyhow::Result<Vec<String>> {
        self.latency
            .iter()
            .map(|text| normalise_latency_point(text))
            .collect()
    }
}

/// One latency point, checked: a pattern without `!` (as for `--progress`).
pub fn normalise_latency_point(text: &str) -> anyhow::Result<String> {
    normalise_progress_point("--latency", text).map_err(|e| {
        anyhow!(
            "{}",
            e.to_string().replace("progress point", "latency point")
        )
    })
}
