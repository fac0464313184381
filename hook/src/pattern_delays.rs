//! Per-pattern delays: a ranking's grouped design slows several candidates
//! in one window, each at its own delay per call (docs/ranking.md). The
//! settings carry one delay per include pattern; the fast path reads them
//! by segment pattern slot, the slot a function's counters point at.

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

/// Delays indexed by segment pattern slot, from the slot and the delay of
/// each include pattern (same order); empty when there are no delays.
pub fn by_slot(include_slots: &[u32], include_delays_ns: &[u64]) -> Vec<u64> {
    if include_delays_ns.is_empty() {
        return Vec::new();
    }
    let len = include_slots
        .iter()
        .map(|&s| s as usize + 1)
        .max()
        .unwrap_or(0);
    let mut table = vec![0; len];
    for (slot, delay) in include_slots.iter().zip(include_delays_ns) {
        if let Some(entry) = table.get_mut(*slot as usize) {
            *entry = *delay;
        }
    }
    table
}

/// The delay of pattern slot `slot` (0 when outside the table).
///
/// # Safety
/// GIL held; `hot.slot_delays` valid for `slot_delays_len` entries.
#[inline(always)]
pub unsafe fn delay_of_slot(hot: &Hot, slot: u32) -> u64 {
    if slot < hot.slot_delays_len {
        // SAFETY: bounds checked; the table outlives every callback (it is
        // replaced only while applying settings, with the GIL held).
        unsafe { *hot.slot_delays.add(slot as usize) }
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_get_their_patterns_delays() {
        assert_eq!(by_slot(&[3, 5], &[100, 200]), vec![0, 0, 0, 100, 0, 200]);
        assert!(by_slot(&[3, 5], &[]).is_empty());
        assert_eq!(largest(7, &[]), 7);
        assert_eq!(largest(7, &[1, 9, 0]), 9);
    }
}
