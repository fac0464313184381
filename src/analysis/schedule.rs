//! The randomised, interleaved order of windows.
//!
//! Work proceeds in rounds; each round measures one pair for every setting
//! still running, settings in a fresh random order, and within each pair a
//! coin decides whether the baseline or the treatment window comes first.
//! Interleaving spreads every setting over the whole run, so slow drift
//! (another tenant, thermal throttling, a cache warming up) hits all of
//! them alike; randomising the order within a pair keeps a systematic
//! first-window effect (e.g. the settle time after a live settings change)
//! out of the ratio's mean (randomised block design: Fisher 1935; Coz does
//! the same with its randomly chosen experiments).

use serde::{Deserialize, Serialize};

use super::prng::SplitMix64;

/// One pair to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairSlot {
    /// Index of the setting (delay, candidate) the treatment window uses.
    pub setting: usize,
    /// Whether the baseline window runs first.
    pub baseline_first: bool,
}

/// An endless, seeded stream of rounds over `settings` settings.
#[derive(Debug, Clone)]
pub struct InterleavedSchedule {
    rng: SplitMix64,
    settings: usize,
}

impl InterleavedSchedule {
    /// A schedule over settings `0..settings`, reproducible from `seed`.
    pub fn new(settings: usize, seed: u64) -> InterleavedSchedule {
        InterleavedSchedule {
            rng: SplitMix64::new(seed),
            settings,
        }
    }

    /// The next round: every setting for which `still_running(setting)` is
    /// true, once, in random order, each with a random window order.
    pub fn next_round(&mut self, still_running: impl Fn(usize) -> bool) -> Vec<PairSlot> {
        let mut order: Vec<usize> = (0..self.settings).filter(|&s| still_running(s)).collect();
        self.rng.shuffle(&mut order);
        order
            .into_iter()
            .map(|setting| PairSlot {
                setting,
                baseline_first: self.rng.coin(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_cover_running_settings_once() {
        let mut schedule = InterleavedSchedule::new(5, 42);
        let round = schedule.next_round(|s| s != 3);
        let mut settings: Vec<usize> = round.iter().map(|p| p.setting).collect();
        settings.sort_unstable();
        assert_eq!(settings, [0, 1, 2, 4]);
    }

    #[test]
    fn seeded_and_balanced() {
        let rounds = |seed| {
            let mut s = InterleavedSchedule::new(3, seed);
            (0..400)
                .flat_map(|_| s.next_round(|_| true))
                .collect::<Vec<_>>()
        };
        assert_eq!(rounds(1), rounds(1));
        assert_ne!(rounds(1), rounds(2));
        let all = rounds(1);
        let first = all.iter().filter(|p| p.baseline_first).count();
        assert!(
            (540..660).contains(&first),
            "{first} of 1200 baseline-first"
        );
        let leading: Vec<usize> = (0..3)
            .map(|s| all.chunks(3).filter(|r| r[0].setting == s).count())
            .collect();
        assert!(
            leading.iter().all(|&n| (100..170).contains(&n)),
            "{leading:?}"
        );
    }
}
