//! Analysis of experiments: pure functions from measured windows to
//! estimates, shapes, predictions, candidate trees and rankings. No I/O, no
//! Python, no clock: the engine measures, this module judges.
//!
//! | module | concern |
//! |---|---|
//! | [`window`] | windows and pairs (the evidence); Coz's window sizing |
//! | [`stats`] | relative throughput from pairs: mean log ratio, Student t or bootstrap interval |
//! | [`stop`] | when a setting is measured precisely enough, or too noisy to conclude |
//! | [`schedule`] | randomised interleaved order of windows |
//! | [`criticality`](mod@criticality) | extra time per unit ÷ injected time per unit |
//! | [`grouped`] | a ranking's grouped design: balanced random blocks, effects by least squares, additivity, the stop rule about the ranking |
//! | [`fit`] | sweep points; weighted least squares of time against injected time |
//! | [`shape`] | none / linear / sub-linear / threshold with its knee |
//! | [`extrapolate`] | step 2's predicted gain; step 1's "is Python the bottleneck" |
//! | [`tree`] | census → package/module/class/function tree, patterns per node |
//! | [`ranking`] | candidates by throughput drop or criticality, ties flagged |
//! | [`student`], [`prng`] | Student t quantiles; a seeded SplitMix64 |
//!
//! Units are in the names: `_s` seconds, `_ns` nanoseconds, `_per_unit` per
//! unit of progress; ratios and fractions are plain `f64` (0.1 = 10%).

pub(crate) mod criticality;
pub mod extrapolate;
mod fit;
pub(crate) mod grouped;
pub(crate) mod latency_effect;
pub mod prng;
pub mod ranking;
mod schedule;
pub mod shape;
pub mod stats;
pub mod stop;
pub(crate) mod student;
pub mod tree;
mod window;

pub use criticality::{Criticality, criticality};
pub use extrapolate::{
    Bottleneck, GainPrediction, OwnTime, PythonVerdict, predict_gain, python_verdict,
};
pub use fit::{SlopeFit, SweepPoint, fit_through_origin};
pub use grouped::{
    Additivity, Effect, GroupedFit, GroupedPair, Standing, block_pairs, design_block, fit_effects,
    standing,
};
pub use latency_effect::{
    LatencyEffect, MIN_REQUESTS_P50, MIN_REQUESTS_P99, PercentileChange, WindowLatency,
};
pub use ranking::{
    CandidateMeasurement, OrderBy, RankBy, RankedCandidate, gain_or_criticality, order_by,
    order_by_gain, order_key, rank, shown_rank,
};
pub use schedule::{InterleavedSchedule, PairSlot};
pub use shape::{Shape, ShapeAnalysis, ShapeTolerances, classify};
pub use stats::{DEFAULT_CONFIDENCE, Interval, RelativeThroughput, relative_throughput};
pub use stop::{StopRule, Verdict};
pub use tree::{CallTree, Candidate, CensusEntry, NodeKind, TreeNode};
pub use window::{Pair, Window, next_window_s};
