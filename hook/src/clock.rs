//! Clocks and the calibrated spin.
//!
//! CLOCK_MONOTONIC through the vDSO costs ~27 ns here. The hook's fixed cost
//! is measured at activation and subtracted (see `calibrate.rs`); a spin that
//! overshoots its deadline becomes a (capped) debt that later spins pay back
//! (see `hot::on_matched_call`), so the mean added time equals the request.

use rustix::time::{ClockId, clock_gettime};

#[inline(always)]
pub fn monotonic_ns() -> u64 {
    let t = clock_gettime(ClockId::Monotonic);
    (t.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(t.tv_nsec as u64)
}

pub fn boottime_ns() -> u64 {
    let t = clock_gettime(ClockId::Boottime);
    (t.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(t.tv_nsec as u64)
}

/// Busy-waits (holding the GIL, on purpose) until `deadline_ns` on the
/// monotonic clock; returns the time at exit.
///
/// No `spin_loop()` hint: PAUSE in a tight loop triggers pause-loop exiting
/// in virtual machines, which hands the vCPU to the hypervisor and overshot
/// 10 µs spins by ~0.8 µs on average here (vs ~0.2 µs without it).
#[inline(always)]
pub fn spin_until(deadline_ns: u64) -> u64 {
    loop {
        let now = monotonic_ns();
        if now >= deadline_ns {
            return now;
        }
    }
}
