//! Clocks used in segment headers and timing windows.
//!
//! Process start times come from `/proc/<pid>/stat` in clock ticks since
//! boot, and boot time keeps running while the machine is suspended, so the
//! matching clock is `CLOCK_BOOTTIME` (not `CLOCK_MONOTONIC`).

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::time::{ClockId, clock_gettime};

/// `AT_CLKTCK` in the ELF auxiliary vector: the kernel's `USER_HZ`.
const AT_CLKTCK: usize = 17;
/// `USER_HZ` on every mainstream Linux architecture; used when the
/// auxiliary vector cannot be read.
const FALLBACK_TICKS_PER_SECOND: u64 = 100;
const NS_PER_SECOND: u64 = 1_000_000_000;

/// Now, in ns since the Unix epoch (0 if the clock is before 1970).
pub fn now_unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Now, in ns on `CLOCK_BOOTTIME` (the clock of process start times).
pub fn now_boottime_ns() -> u64 {
    let ts = clock_gettime(ClockId::Boottime);
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(NS_PER_SECOND).saturating_add(nanos)
}

/// Clock ticks per second used by `/proc/<pid>/stat` (`sysconf(_SC_CLK_TCK)`).
///
/// Read once from `/proc/self/auxv` (`AT_CLKTCK`, which is exactly what libc's
/// `sysconf` returns) so no libc binding is needed; 100 if that fails.
pub fn clock_ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::fs::read("/proc/self/auxv")
            .ok()
            .and_then(|auxv| clock_ticks_from_auxv(&auxv))
            .unwrap_or(FALLBACK_TICKS_PER_SECOND)
    })
}

/// Finds a non-zero `AT_CLKTCK` in a raw auxiliary vector (native-endian
/// pairs of machine words).
fn clock_ticks_from_auxv(auxv: &[u8]) -> Option<u64> {
    const WORD: usize = size_of::<usize>();
    let word =
        |bytes: &[u8]| -> Option<usize> { Some(usize::from_ne_bytes(bytes.try_into().ok()?)) };
    auxv.chunks_exact(2 * WORD).find_map(|pair| {
        let key = word(pair.get(..WORD)?)?;
        let value = word(pair.get(WORD..)?)?;
        (key == AT_CLKTCK && value != 0).then(|| u64::try_from(value).ok())?
    })
}

/// Converts clock ticks since boot (as in `/proc/<pid>/stat`) to ns on
/// `CLOCK_BOOTTIME`. Saturates instead of overflowing.
pub fn boottime_ns_from_ticks(ticks: u64) -> u64 {
    let ns = u128::from(ticks)
        .saturating_mul(u128::from(NS_PER_SECOND))
        .checked_div(u128::from(clock_ticks_per_second()))
        .unwrap_or(u128::MAX);
    u64::try_from(ns).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn auxv(pairs: &[(usize, usize)]) -> Vec<u8> {
        pairs
            .iter()
            .flat_map(|&(k, v)| k.to_ne_bytes().into_iter().chain(v.to_ne_bytes()))
            .collect()
    }

    #[test]
    fn auxv_lookup_finds_clktck() {
        assert_eq!(
            clock_ticks_from_auxv(&auxv(&[(6, 4096), (17, 250), (0, 0)])),
            Some(250)
        );
        assert_eq!(clock_ticks_from_auxv(&auxv(&[(6, 4096), (0, 0)])), None);
        assert_eq!(clock_ticks_from_auxv(&auxv(&[(17, 0)])), None);
        assert_eq!(clock_ticks_from_auxv(&[1, 2, 3]), None);
    }

    #[test]
    fn ticks_convert_with_the_system_rate() {
        let hz = clock_ticks_per_second();
        assert!(hz > 0);
        assert_eq!(boottime_ns_from_ticks(hz * 3), 3 * NS_PER_SECOND);
        // Saturates instead of overflowing.
        assert_eq!(boottime_ns_from_ticks(u64::MAX), u64::MAX);
    }

    #[test]
    fn boottime_advances() {
        let a = now_boottime_ns();
        let b = now_boottime_ns();
        assert!(a > 0 && b >= a);
        assert!(now_unix_ns() > 1_600_000_000 * NS_PER_SECOND);
    }
}
