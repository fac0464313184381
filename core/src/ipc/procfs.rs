//! Process facts from `/proc`: start time (to tell a live process from a
//! recycled pid) and ids of the current process.

use std::io;

use super::clock::boottime_ns_from_ticks;
use super::error::IpcError;

/// `/proc/<pid>/stat` field holding the start time (1-based numbering, as in
/// proc(5)): clock ticks since boot.
const STARTTIME_FIELD: usize = 22;
/// Fields up to and including `comm` (field 2), which ends at the last `)`.
const FIELDS_THROUGH_COMM: usize = 2;

/// Start time of process `pid` in clock ticks since boot (`/proc/<pid>/stat`
/// field 22). Together with the pid it names a process uniquely, even after
/// the pid is reused.
///
/// Errors: [`IpcError::ProcessNotFound`] when the process does not exist,
/// [`IpcError::ProcStat`] when the file cannot be parsed.
pub fn process_start_ticks(pid: u32) -> Result<u64, IpcError> {
    let path = format!("/proc/{pid}/stat");
    let stat = match std::fs::read_to_string(&path) {
        Ok(stat) => stat,
        // ESRCH: the process exited while we were reading.
        Err(e)
            if e.kind() == io::ErrorKind::NotFound
                || e.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error()) =>
        {
            return Err(IpcError::ProcessNotFound { pid });
        }
        Err(e) => return Err(IpcError::io("read", path, e)),
    };
    parse_start_ticks(&stat).ok_or(IpcError::ProcStat {
        pid,
        reason: "field 22 (starttime) is missing or not a number",
    })
}

/// Start time of process `pid` in ns on `CLOCK_BOOTTIME`.
pub fn process_start_boottime_ns(pid: u32) -> Result<u64, IpcError> {
    process_start_ticks(pid).map(boottime_ns_from_ticks)
}

/// Extracts field 22 from the text of `/proc/<pid>/stat`.
///
/// Field 2 (`comm`) is the executable name in parentheses and may itself
/// contain spaces and `)`, so fields are counted from the **last** `)`.
pub fn parse_start_ticks(stat: &str) -> Option<u64> {
    let (_, after_comm) = stat.rsplit_once(')')?;
    let index = STARTTIME_FIELD.checked_sub(FIELDS_THROUGH_COMM + 1)?;
    after_comm.split_ascii_whitespace().nth(index)?.parse().ok()
}

/// Whether a process identified by pid and start time still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// A process with this pid and start time exists.
    Alive,
    /// No such process: the pid is free or belongs to a newer process.
    Gone,
    /// `/proc` could not tell (unreadable, unparsable); treat as alive.
    Unknown,
}

/// Is the process `pid` that started at `start_ticks` still running?
pub fn process_liveness(pid: u32, start_ticks: u64) -> Liveness {
    if pid == 0 {
        return Liveness::Gone;
    }
    match process_start_ticks(pid) {
        Ok(ticks) if ticks == start_ticks => Liveness::Alive,
        Ok(_) | Err(IpcError::ProcessNotFound { .. }) => Liveness::Gone,
        Err(_) => Liveness::Unknown,
    }
}

/// Has the process `pid` that started at `start_ticks` ended? True when
/// the pid is free, belongs to a newer process, or is a zombie (dead, not
/// yet reaped by its parent: [`process_liveness`] still calls it alive,
/// since its segment may still be read). False when it runs or `/proc`
/// cannot tell.
pub fn process_ended(pid: u32, start_ticks: u64) -> bool {
    if pid == 0 {
        return true;
    }
    let stat = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat,
        Err(e) => {
            return e.kind() == io::ErrorKind::NotFound
                || e.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error());
        }
    };
    match (parse_start_ticks(&stat), parse_state(&stat)) {
        (Some(ticks), _) if ticks != start_ticks => true,
        (Some(_), Some(state)) => matches!(state, 'Z' | 'X' | 'x'),
        _ => false,
    }
}

/// Field 3 (state: R, S, D, Z, ...) of the text of `/proc/<pid>/stat`.
fn parse_state(stat: &str) -> Option<char> {
    let (_, after_comm) = stat.rsplit_once(')')?;
    after_comm.split_ascii_whitespace().next()?.chars().next()
}

/// Real user id of the current process.
pub fn current_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// Process id of the current process.
pub fn current_pid() -> u32 {
    std::process::id()
}

/// Parent process id of the current process (0 if it has none).
pub fn parent_pid() -> u32 {
    let raw = rustix::process::Pid::as_raw(rustix::process::getppid());
    u32::try_from(raw).unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn stat_line(comm: &str, starttime: u64) -> String {
        // Fields 3..=21 then 22 (starttime) and a few more.
        let middle = (3..=21)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        format!("4242 ({comm}) {middle} {starttime} 99 100 101\n")
    }

    #[test]
    fn parses_plain_comm() {
        assert_eq!(
            parse_start_ticks(&stat_line("python3", 123456)),
            Some(123456)
        );
    }

    #[test]
    fn parses_comm_with_spaces_and_parentheses() {
        assert_eq!(parse_start_ticks(&stat_line("a) b (c) d", 77)), Some(77));
        assert_eq!(parse_start_ticks(&stat_line(")", 78)), Some(78));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_start_ticks(""), None);
        assert_eq!(parse_start_ticks("1 (x) S 1 2"), None);
        assert_eq!(
            parse_start_ticks(&stat_line("x", 1).replace(" 1 99", " -1 99")),
            None
        );
    }

    #[test]
    fn own_process_is_alive_and_started_in_the_past() {
        let pid = current_pid();
        let ticks = process_start_ticks(pid).unwrap();
        assert_eq!(process_liveness(pid, ticks), Liveness::Alive);
        assert_eq!(process_liveness(pid, ticks.wrapping_add(1)), Liveness::Gone);
        let start_ns = process_start_boottime_ns(pid).unwrap();
        assert!(start_ns <= crate::ipc::clock::now_boottime_ns());
    }

    #[test]
    fn a_zombie_has_ended_and_a_running_process_has_not() {
        let me = current_pid();
        assert!(!process_ended(me, process_start_ticks(me).unwrap()));
        assert!(process_ended(u32::MAX / 2, 1));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let ticks = process_start_ticks(pid).unwrap_or(0);
        // Not reaped yet: a zombie once it exits.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !process_ended(pid, ticks) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(process_ended(pid, ticks));
        assert_eq!(parse_state(&format!("{pid} (a) b) Z 1 2")), Some('Z'));
        child.wait().unwrap();
        assert!(process_ended(pid, ticks));
    }

    #[test]
    fn missing_process_is_not_found() {
        // Above the kernel's PID_MAX_LIMIT (4194304), so never a real pid.
        let err = process_start_ticks(u32::MAX / 2).unwrap_err();
        assert!(matches!(err, IpcError::ProcessNotFound { .. }), "{err}");
    }
}
