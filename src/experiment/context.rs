//! What every experiment works with: the target, the settings template, the
//! configuration, cancellation and where updates go.

use std::sync::Arc;

use crate::analysis::{DEFAULT_CONFIDENCE, StopRule};
use crate::live::LiveSettings;

use super::options::EngineOptions;
use super::paired::PairedPlan;
use super::protocol::{ExperimentConfig, Update};
use super::target::{Cancel, Target};

/// Where updates go (the engine thread's channel; a closure in tests).
pub type UpdateSink = Arc<dyn Fn(Update) + Send + Sync>;

/// One experiment's view of the engine.
pub struct Context<'a> {
    /// The workload.
    pub target: &'a mut dyn Target,
    /// The configuration the engine was started with.
    pub config: &'a ExperimentConfig,
    /// Engine tuning.
    pub options: &'a EngineOptions,
    /// Cancellation of this experiment.
    pub cancel: &'a Cancel,
    /// Where updates go.
    pub sink: &'a UpdateSink,
}

impl Context<'_> {
    /// Settings with `patterns` at `delay_ns`, every `frequency`th call,
    /// plus what every window shares (progress points, resume and C-call
    /// options).
    pub fn settings(&self, patterns: &[String], delay_ns: u64, frequency: u64) -> LiveSettings {
        template(self.config, self.options, patterns, delay_ns, frequency)
    }

    /// The paired-window plan for these treatments within `budget_s`.
    pub fn plan(&self, treatments: Vec<LiveSettings>, budget_s: f64) -> PairedPlan {
        PairedPlan {
            treatments,
            budget_s,
            stop: self.stop_rule(),
            seed: self.config.seed,
            confidence: DEFAULT_CONFIDENCE,
            min_window_s: self.options.min_window_s,
            max_window_s: self.options.max_window_s.max(self.options.min_window_s),
        }
    }

    /// The stop rule at the configured precision.
    pub fn stop_rule(&self) -> StopRule {
        let target = self.config.target_precision;
        StopRule {
            target_half_width: if target.is_finite() && target > 0.0 {
                target
            } else {
                StopRule::default().target_half_width
            },
            min_pairs: self.options.min_pairs.max(StopRule::default().min_pairs),
        }
    }

    /// Sends an update.
    pub fn send(&self, update: Update) {
        (self.sink)(update);
    }
}

/// See [`Context::settings`].
pub fn template(
    config: &ExperimentConfig,
    options: &EngineOptions,
    patterns: &[String],
    delay_ns: u64,
    frequency: u64,
) -> LiveSettings {
    LiveSettings {
        enabled: true,
        delay_ns,
        frequency: frequency.max(1),
        delay_resumes: options.delay_resumes,
        match_c_calls: options.match_c_calls,
        patterns: patterns.to_vec(),
        pattern_delays_ns: Vec::new(),
        progress_points: config.progress_points.clone(),
        own_time: false,
    }
}
