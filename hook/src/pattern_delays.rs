//! Per-pattern delays: a ranking's grouped design slows several candidates
//! in one window, each at its own delay per call (docs/ranking.md). The
//! settings carry one delay per include pattern; when a function is decided
//! its pattern's delay is stored under its function id, and the fast path
//! reads it there.
//!
//! Why by function id and not by segment pattern slot: each settings
//! generation adds its patterns to the segment's pattern table, and a
//! ranking changes settings every window. Once the table is full every new
//! pattern shares the overflow slot, and a table keyed by slot would give
//! all of them one delay. Function ids are stable across generations (one
//! row per name) and the table is rebuilt as functions are decided again.

use crate::hot::Hot;

/// The delay in force for the fast path's gate and the calibration: the
/// largest per-pattern delay, or `delay_ns` when there are none.
pub fn largest(delay_ns: u64, pattern_delays_ns: &[u64]) -> u64 {
    if pattern_delays_ns.is_empty() {
        delay_ns
    } else {
        pattern_delays_ns.iter().copied().max().unwrap_or(0)
    }
}

/// Delays by function id, for the functions of the current generation.
#[derive(Default)]
pub struct FunctionDelays {
    /// Delay per call of each include pattern (same order); empty: one delay
    /// for all, and the table below stays empty.
    include_delays_ns: Vec<u64>,
    /// Indexed by function id; 0 for a function not decided yet under the
    /// current generation (it is decided again before its next call counts).
    /// Never empty while there are per-pattern delays: an empty table means
    /// "one delay for all" to the fast path.
    by_function_ns: Vec<u64>,
}

impl FunctionDelays {
    /// A new generation's delays: every function starts at 0 until decided.
    pub fn reset(&mut self, include_delays_ns: &[u64]) {
        self.include_delays_ns = include_delays_ns.to_vec();
        self.by_function_ns.clear();
        if !self.include_delays_ns.is_empty() {
            // Id 0 is the overflow row: never slowed on its own.
            self.by_function_ns.push(0);
        }
    }

    pub fn include_delays_ns(&self) -> &[u64] {
        &self.include_delays_ns
    }

    /// Function `id` was matched by include pattern `include_index`.
    pub fn assign(&mut self, id: u32, include_index: usize) {
        if self.include_delays_ns.is_empty() {
            return;
        }
        let delay = self
            .include_delays_ns
            .get(include_index)
            .copied()
            .unwrap_or(0);
        let index = id as usize;
        if self.by_function_ns.len() <= index {
            self.by_function_ns.resize(index + 1, 0);
        }
        self.by_function_ns[index] = delay;
    }

    /// The table the fast path reads: (pointer, length); length 0 means
    /// every function at the single delay in force.
    pub fn table(&self) -> (*const u64, u32) {
        if self.by_function_ns.is_empty() {
            (std::ptr::null(), 0)
        } else {
            (
                self.by_function_ns.as_ptr(),
                u32::try_from(self.by_function_ns.len()).unwrap_or(u32::MAX),
            )
        }
    }
}

/// The delay of function `id` (0 when outside the table).
///
/// # Safety
/// GIL held; `hot.function_delays` valid for `function_delays_len` entries.
#[inline(always)]
pub unsafe fn delay_of_function(hot: &Hot, id: u32) -> u64 {
    if id < hot.function_delays_len {
        // SAFETY: bounds checked; the table outlives every callback (it is
        // replaced only while deciding or applying settings, with the GIL
        // held, and republished at once).
        unsafe { *hot.function_delays.add(id as usize) }
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_get_their_patterns_delays() {
        let mut delays = FunctionDelays::default();
        delays.reset(&[100, 200]);
        delays.assign(5, 1);
        delays.assign(3, 0);
        assert_eq!(delays.by_function_ns, vec![0, 0, 0, 100, 0, 200]);
        // A new generation: nothing decided yet, all at 0.
        delays.reset(&[7, 0]);
        assert_eq!(delays.by_function_ns, vec![0]);
        assert_eq!(delays.table().1, 1);
        delays.assign(5, 0);
        assert_eq!(delays.by_function_ns[5], 7);
        // No per-pattern delays: no table at all.
        delays.reset(&[]);
        delays.assign(2, 0);
        assert_eq!(delays.table().1, 0);
        assert_eq!(largest(7, &[]), 7);
        assert_eq!(largest(7, &[1, 9, 0]), 9);
    }
}
