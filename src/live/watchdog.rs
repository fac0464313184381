//! Clean-up when the launcher itself is killed (`kill -9`, OOM killer).
//!
//! Before the workload starts, the launcher starts a tiny watchdog process
//! (the `speedbump` binary again, `speedbump run --internal-watchdog DIR`)
//! in a process group of its own, whose stdin is the read end of a pipe.
//! Only the launcher holds the write end (close-on-exec, so the workload
//! never inherits it). The launcher writes `group PGID` once the workload
//! runs, and `done` when it has cleaned up itself. When the watchdog reads
//! end-of-file without `done`, the launcher died: it kills the workload's
//! process group with SIGKILL, waits (up to 5 s) until the group is empty,
//! and removes the session directory.
//!
//! The watchdog ignores SIGINT and SIGHUP (it is not in the terminal's
//! foreground group anyway), so only the end of the launcher ends it.

use std::fs::File;
use std::io::{BufRead, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::error::EngineError;
use super::launch::{group_alive, signal_group};
use crate::ipc::remove_session_dir;

/// The hidden option that turns `speedbump run` into a watchdog.
pub const WATCHDOG_FLAG: &str = "--internal-watchdog";

/// How long the watchdog waits for a killed group to be gone.
const GROUP_GONE_TIMEOUT: Duration = Duration::from_secs(5);

/// The launcher's handle on its watchdog.
#[derive(Debug)]
pub struct Watchdog {
    child: Child,
    pipe: Option<File>,
}

impl Watchdog {
    /// Starts `exe run --internal-watchdog session_dir`.
    pub fn spawn(exe: &Path, session_dir: &Path) -> Result<Self, EngineError> {
        let (read, write) = cloexec_pipe().map_err(|e| EngineError::helper("watchdog", e))?;
        let child = Command::new(exe)
            .arg("run")
            .arg(WATCHDOG_FLAG)
            .arg(session_dir)
            .stdin(Stdio::from(read))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .map_err(|e| EngineError::helper("watchdog", e))?;
        Ok(Self {
            child,
            pipe: Some(File::from(write)),
        })
    }

    /// Tells the watchdog which process group to kill if the launcher dies.
    pub fn watch_group(&mut self, pgid: u32) {
        self.send(&format!("group {pgid}\n"));
    }

    /// The launcher cleaned up itself: the watchdog exits without doing
    /// anything.
    pub fn disarm(mut self) {
        self.send("done\n");
        self.pipe = None;
        // It exits at once; reap it (give up quietly after a second).
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn send(&mut self, line: &str) {
        if let Some(pipe) = self.pipe.as_mut() {
            // A dead watchdog cannot be helped; the run goes on.
            let _ = pipe.write_all(line.as_bytes());
        }
    }
}

fn cloexec_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}

/// What the watchdog learned from the launcher.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WatchdogState {
    /// The workload's process group, once started.
    pub group: Option<u32>,
    /// The launcher finished its own clean-up.
    pub done: bool,
}

impl WatchdogState {
    /// Reads the launcher's messages until end of file.
    pub fn read_until_eof(input: impl BufRead) -> Self {
        let mut state = Self::default();
        for line in input.lines() {
            let Ok(line) = line else {
                break;
            };
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("group"), Some(pgid)) => state.group = pgid.parse().ok(),
                (Some("done"), _) => state.done = true,
                _ => {}
            }
        }
        state
    }
}

/// The watchdog process's body: waits for the launcher to go away, then
/// cleans up unless told it is done. Returns the exit status.
pub fn run_watchdog(session_dir: &Path, input: impl BufRead) -> i32 {
    // `libc`: rustix sets signal dispositions only in its `runtime` module,
    // which is meant for programs without a libc.
    // SAFETY: setting a signal to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    let state = WatchdogState::read_until_eof(input);
    if state.done {
        return 0;
    }
    clean_up(state.group, session_dir);
    0
}

/// Kills the group (if any of it is left) and removes the session directory.
pub fn clean_up(group: Option<u32>, session_dir: &Path) {
    if let Some(pgid) = group
        && group_alive(pgid)
    {
        signal_group(pgid, Signal::KILL);
        let deadline = Instant::now() + GROUP_GONE_TIMEOUT;
        while group_alive(pgid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            // Children forked meanwhile joined the group: kill them too.
            signal_group(pgid, Signal::KILL);
        }
    }
    let _ = remove_session_dir(session_dir);
    // A hooked process that was still exiting may have re-created it.
    std::thread::sleep(Duration::from_millis(200));
    let _ = remove_session_dir(session_dir);
}

/// The binary to run as watchdog: this one when it is `speedbump`.
pub fn default_watchdog_exe() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    (exe.file_name()? == "speedbump").then_some(exe)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_until_eof() {
        let state = WatchdogState::read_until_eof(&b"group 123\n"[..]);
        assert_eq!(
            state,
            WatchdogState {
                group: Some(123),
                done: false
            }
        );
        let state = WatchdogState::read_until_eof(&b"group 123\ngarbage\ndone\n"[..]);
        assert!(state.done);
        assert_eq!(
            WatchdogState::read_until_eof(&b""[..]),
            WatchdogState::default()
        );
    }

    #[test]
    fn clean_up_kills_the_group_and_removes_the_directory() {
        // Sessions live in a private base (0700, ours): the removal refuses
        // any other (a shared /tmp could be planted).
        let base = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let dir = base.path().join(format!("s-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("p-1-1.seg"), b"x").unwrap();
        let mut child = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id();
        let reaper = std::thread::spawn(move || child.wait().unwrap());
        clean_up(Some(pgid), &dir);
        let status = reaper.join().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(Signal::KILL.as_raw()));
        assert!(!dir.exists());
    }
}
