//! Process start and the timing window (SPEED_BUMP_START_MS/_DURATION_MS).
//!
//! The window is measured from process start, not from the hook's import, so
//! a program's warm-up is counted the same however long Python's start-up
//! took. The kernel records a process's start in clock ticks (10 ms at
//! USER_HZ=100); we take the middle of that tick, which bounds the error to
//! half a tick. A launcher that knows the exact start passes it in
//! SPEED_BUMP_START_AT=PID:MONOTONIC_NS.

use crate::clock::{boottime_ns, monotonic_ns};

/// When this process started, on the monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct ProcessStart {
    pub monotonic_ns: u64,
    /// As recorded by the kernel (clock ticks since boot); names segments.
    pub ticks: u64,
    pub boottime_ns: u64,
}

impl ProcessStart {
    /// Reads this process's start from /proc (or the launcher's exact value).
    pub fn of_this_process(start_at: Option<(u32, u64)>) -> ProcessStart {
        let pid = std::process::id();
        let now_mono = monotonic_ns();
        let now_boot = boottime_ns();
        let ticks = speedbump_core::ipc::process_start_ticks(pid).unwrap_or(0);
        let tick_ns = speedbump_core::ipc::boottime_ns_from_ticks(1).max(1);
        let recorded_boot = speedbump_core::ipc::boottime_ns_from_ticks(ticks);
        let boot = if ticks == 0 {
            now_boot
        } else {
            (recorded_boot + tick_ns / 2).min(now_boot)
        };
        let mut mono = now_mono.saturating_sub(now_boot.saturating_sub(boot));
        if let Some((launcher_pid, launcher_mono)) = start_at
            && launcher_pid == pid
            && launcher_mono <= now_mono
        {
            mono = launcher_mono;
        }
        ProcessStart {
            monotonic_ns: mono,
            ticks,
            boottime_ns: boot,
        }
    }
}

/// The interval of monotonic time in which delays happen, or None when no
/// window was asked for.
pub fn delay_window(
    start: &ProcessStart,
    start_ms: u64,
    duration_ms: Option<u64>,
) -> Option<(u64, u64)> {
    if start_ms == 0 && duration_ms.is_none() {
        return None;
    }
    let begin = start
        .monotonic_ns
        .saturating_add(start_ms.saturating_mul(1_000_000));
    let end = match duration_ms {
        Some(d) => begin.saturating_add(d.saturating_mul(1_000_000)),
        None => u64::MAX,
    };
    Some((begin, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_relative_to_process_start() {
        let start = ProcessStart {
            monotonic_ns: 1_000_000_000,
            ticks: 0,
            boottime_ns: 0,
        };
        assert_eq!(delay_window(&start, 0, None), None);
        assert_eq!(
            delay_window(&start, 5000, Some(30000)),
            Some((6_000_000_000, 36_000_000_000))
        );
        assert_eq!(
            delay_window(&start, 0, Some(10)),
            Some((1_000_000_000, 1_010_000_000))
        );
        assert_eq!(
            delay_window(&start, 10, None),
            Some((1_010_000_000, u64::MAX))
        );
    }
}
