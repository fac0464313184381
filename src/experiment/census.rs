//! Discovery (docs/methodology.md step 3): a census window at delay 0 that
//! counts every function the patterns match (usually `*:*`), turned into
//! the call tree whose nodes are the candidates of steps 3 and 4.

use crate::analysis::{CallTree, Candidate};
use crate::live::LiveSettings;

use super::context::Context;
use super::options::EngineOptions;
use super::paired::Interruption;
use super::protocol::CensusResult;
use super::target::{CensusWindow, TargetError};

/// Seconds of an own-time census (the ranking's dosing census, the sweep's
/// own-time window): four of the shortest windows, at least 1 s.
pub fn own_time_window_s(options: &EngineOptions) -> f64 {
    (4.0 * options.min_window_s).max(1.0)
}

/// Counts calls and measures the own time of the code `settings` match
/// (docs/ranking.md, "Own time per unit") for [`own_time_window_s`]: the
/// settings are applied with own time on, then counted. Own time costs
/// 220-430 ns per matched call while on, so it is on here only: the
/// windows measured afterwards apply settings without it.
pub fn own_time_census(
    ctx: &mut Context<'_>,
    settings: &LiveSettings,
) -> Result<CensusWindow, TargetError> {
    let settings = LiveSettings {
        own_time: true,
        ..settings.clone()
    };
    let window_s = own_time_window_s(ctx.options);
    ctx.target
        .apply(&settings, ctx.cancel)
        .and_then(|()| ctx.target.census(window_s, ctx.cancel))
}

/// Counts calls under `patterns` for `window_s` seconds (after warm-up);
/// `Err` tells why there is no census.
pub fn run_census(
    ctx: &mut Context<'_>,
    patterns: &[String],
    window_s: f64,
) -> Result<CensusResult, Interruption> {
    let settings = ctx.settings(patterns, 0, 1);
    let census = ctx
        .target
        .apply(&settings, ctx.cancel)
        .and_then(|()| ctx.target.census(window_s, ctx.cancel))
        .map_err(Interruption::from)?;
    let tree = CallTree::from_census(&census.functions);
    let top_level = tree.top_level_candidates();
    let w = census.window;
    Ok(CensusResult {
        patterns: patterns.to_vec(),
        window_s: w.wall_s,
        throughput_per_s: (w.units > 0 && w.wall_s > 0.0).then(|| w.rate_per_s()),
        tree,
        top_level,
    })
}

/// The candidates below `node` (a tree path; `*` or empty for the top
/// level), by calls, without the ones the census saw no call of; `None`
/// when the census has no such node.
pub fn candidates_under(census: &CensusResult, node: &str) -> Option<Vec<Candidate>> {
    let path = normalise_node(node);
    census
        .tree
        .candidates(&path)
        .map(|all| all.into_iter().filter(|c| c.calls > 0).collect())
}

/// A node as a user writes it: `*`, `vllm.worker`, `vllm.worker.*`,
/// `vllm.worker:*`, `pkg.mod:Class` → the tree path (`vllm.worker`,
/// `pkg.mod:Class`).
pub fn normalise_node(node: &str) -> String {
    let node = node.trim();
    let node = node.strip_suffix(":*").unwrap_or(node);
    let node = node.strip_suffix(".*").unwrap_or(node);
    if node == "*" {
        String::new()
    } else {
        node.to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn nodes_as_users_write_them() {
        assert_eq!(normalise_node("*"), "");
        assert_eq!(normalise_node("*:*"), "");
        assert_eq!(normalise_node("vllm.worker.*"), "vllm.worker");
        assert_eq!(normalise_node("vllm.worker:*"), "vllm.worker");
        assert_eq!(normalise_node("pkg.mod:Class"), "pkg.mod:Class");
    }
}
