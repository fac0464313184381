//! Following a launcher's control block: a native thread polls its
//! generation every few milliseconds and, when it changes, takes the GIL and
//! applies the new settings (see `settings::apply`).
//!
//! Why a thread: a change must reach every process within 50 ms even when
//! none of its matched code runs (all other code is DISABLEd and never calls
//! back) and its main thread sits in C (a GPU wait, a `join()`), where
//! pending calls would not run. The thread is stopped at exit before the
//! interpreter finalizes, and started again in fork children (threads do not
//! survive `fork`).
//!
//! In a single-threaded program it is also stopped for each `os.fork()`
//! (started again in the child, and in the parent once its main thread runs
//! Python code again): CPython 3.12+ warns ("This process is
//! multi-threaded, use of fork() may lead to deadlocks") when the kernel
//! counts more than one thread at a fork, and a single-threaded program
//! must not see that because of us.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use pyo3::prelude::*;
use rustix::process::Signal;
use speedbump_core::error::chain;
use speedbump_core::ipc::{
    ControlReader, ControlSettings, control_path, process_ended, session_owner,
};

use crate::failure::{say, say_once};
use crate::settings::{self, Settings};
use crate::state::HOOK;

const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// The launcher's liveness is checked every this many polls (50 ms).
const LAUNCHER_CHECK_POLLS: u32 = 10;

static STOP: AtomicBool = AtomicBool::new(false);
static POLLER: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);
/// The polling thread's kernel id (0 before it starts), so that a fork can
/// wait until the kernel no longer counts it.
static POLLER_TID: AtomicI32 = AtomicI32::new(0);
/// Set while the thread is stopped for a fork (see the module comment).
static PAUSED_FOR_FORK: AtomicBool = AtomicBool::new(false);
/// How long a fork waits for the kernel to forget the stopped thread.
const THREAD_GONE_PATIENCE: Duration = Duration::from_millis(50);

/// Starts the polling thread (GIL held by the caller).
pub fn start_polling() {
    // SAFETY: GIL held.
    let Some(hook) = (unsafe { HOOK.get() }).as_ref() else {
        return;
    };
    let path = control_path(&hook.session_dir);
    let applied = hook.control_generation;
    let launcher = LauncherWatch::new(&hook.session_dir, hook.config.start_at);
    let uid = rustix::process::getuid().as_raw();
    let reader = match ControlReader::open(&path, uid) {
        Ok(reader) => reader,
        Err(error) => {
            say(&format!(
                "cannot follow the launcher's settings: {}; current settings stay",
                chain(&error)
            ));
            return;
        }
    };
    STOP.store(false, Ordering::Relaxed);
    let spawned = std::thread::Builder::new()
        .name("speedbump-control".into())
        .spawn(move || poll(reader, applied, launcher));
    match spawned {
        Ok(handle) => {
            if let Ok(mut poller) = POLLER.lock() {
                *poller = Some(handle);
            }
        }
        Err(error) => say(&format!(
            "cannot start the settings thread: {error}; current settings stay"
        )),
    }
}

/// os.register_at_fork(before=...): when our polling thread is the only
/// thread besides the main one (a single-threaded program: the only case
/// where the warning would be ours alone), stops it and waits until the
/// kernel has forgotten it, so that the fork sees one thread. Python 3.12+
/// only (older ones do not warn).
pub fn pause_for_fork(py: Python<'_>) {
    if !cfg!(Py_3_12) || !POLLER.lock().is_ok_and(|poller| poller.is_some()) {
        return;
    }
    let tid = POLLER_TID.load(Ordering::Relaxed);
    if tid <= 0 || threads_in_process() != Some(2) {
        return;
    }
    stop_polling(py);
    PAUSED_FOR_FORK.store(true, Ordering::Relaxed);
    // `join` returns when the thread has cleared its id, a little before
    // the kernel stops counting it (its /proc/self/task entry goes last).
    let task = format!("/proc/self/task/{tid}");
    let deadline = std::time::Instant::now().checked_add(THREAD_GONE_PATIENCE);
    while std::path::Path::new(&task).exists()
        && deadline.is_some_and(|deadline| std::time::Instant::now() < deadline)
    {
        std::thread::yield_now();
    }
}

/// Threads of this process, as the kernel counts them.
fn threads_in_process() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/task").ok()?.count())
}

/// os.register_at_fork(after_in_parent=...): the thread stopped for the
/// fork starts again, but not from here: CPython counts threads for its
/// warning after these handlers. A pending call starts it once the main
/// thread runs Python code again (its next function call or loop
/// iteration). Until then no Python code runs in this single-threaded
/// process, so nothing is slowed or counted meanwhile; only a settings
/// change published while the parent sits in a C call (`os.waitpid` right
/// after the fork) is applied when that call returns.
pub fn resume_after_fork_in_parent() {
    if !PAUSED_FOR_FORK.load(Ordering::Relaxed) {
        return;
    }
    // SAFETY: called with the GIL held (a fork handler); the callback is a
    // plain function that lives as long as the process.
    if unsafe { pyo3::ffi::Py_AddPendingCall(Some(resume_pending), std::ptr::null_mut()) } != 0 {
        resume_pending(std::ptr::null_mut()); // the queue is full: now, then
    }
}

/// The pending call of `resume_after_fork_in_parent` (main thread, GIL
/// held). Never unwinds into the interpreter.
extern "C" fn resume_pending(_: *mut std::ffi::c_void) -> std::ffi::c_int {
    if PAUSED_FOR_FORK.swap(false, Ordering::Relaxed) {
        let _ = std::panic::catch_unwind(start_polling);
    }
    0
}

/// In a fork child: the parent's thread is not here; start our own.
pub fn restart_polling_after_fork() {
    PAUSED_FOR_FORK.store(false, Ordering::Relaxed);
    if let Ok(mut poller) = POLLER.lock() {
        // The handle names a thread of the parent: forget it, never join it.
        std::mem::forget(poller.take());
    }
    start_polling();
}

/// Stops the polling thread and waits for it, with the GIL released so that
/// a thread waiting for the GIL can finish.
pub fn stop_polling(py: Python<'_>) {
    STOP.store(true, Ordering::Relaxed);
    let handle = POLLER.lock().ok().and_then(|mut poller| poller.take());
    if let Some(handle) = handle {
        handle.thread().unpark(); // out of its wait between polls
        py.detach(|| {
            let _ = handle.join();
        });
    }
}

/// The launcher this process belongs to, watched so that nothing of a run
/// outlives it: when the launcher and its watchdog are both killed (`kill
/// -9`), the workload's leader dies of `PR_SET_PDEATHSIG`, but its children
/// would go on. See docs/sessions.md, "When the launcher is killed".
struct LauncherWatch {
    /// The launcher: the owner named by the session directory
    /// (`s-<pid>-<start ticks>-…`, created by the launcher); `None` when the
    /// directory is not named so (a hand-made control block).
    launcher: Option<(u32, u64)>,
    /// The workload's process group: the launcher starts the workload as
    /// the leader of a group of its own and tells it its pid in
    /// `SPEED_BUMP_START_AT`, which its descendants inherit.
    workload_group: Option<u32>,
}

impl LauncherWatch {
    fn new(session_dir: &std::path::Path, start_at: Option<(u32, u64)>) -> LauncherWatch {
        LauncherWatch {
            launcher: session_owner(session_dir),
            workload_group: start_at.map(|(pid, _)| pid),
        }
    }

    /// Ends this process when its launcher is gone (exited, killed, or a
    /// zombie): with the rest of the workload's process group when this
    /// process is still in it (which also ends the group's non-Python
    /// processes), else alone. Never returns in that case.
    fn end_if_launcher_gone(&self) {
        let Some((pid, ticks)) = self.launcher else {
            return;
        };
        if !process_ended(pid, ticks) {
            return;
        }
        let in_workload_group = self.workload_group.is_some_and(|group| {
            rustix::process::getpgid(None)
                .is_ok_and(|own| u32::try_from(own.as_raw_nonzero().get()) == Ok(group))
        });
        if in_workload_group
            && let Some(group) = self
                .workload_group
                .and_then(|g| i32::try_from(g).ok())
                .and_then(rustix::process::Pid::from_raw)
        {
            // SIGKILL, as the watchdog would have sent: this process too.
            let _ = rustix::process::kill_process_group(group, Signal::KILL);
        }
        let _ = rustix::process::kill_process(rustix::process::getpid(), Signal::KILL);
        // SIGKILL cannot be caught or ignored; it arrives before this ends.
        loop {
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

fn poll(reader: ControlReader, mut applied: u64, launcher: LauncherWatch) {
    POLLER_TID.store(
        rustix::thread::gettid().as_raw_nonzero().get(),
        Ordering::Relaxed,
    );
    let mut polls: u32 = 0;
    while !STOP.load(Ordering::Relaxed) {
        // Woken early by `stop_polling` (or spuriously: then it polls early).
        std::thread::park_timeout(POLL_INTERVAL);
        if STOP.load(Ordering::Relaxed) {
            break;
        }
        polls = polls.wrapping_add(1);
        if polls % LAUNCHER_CHECK_POLLS == 0 {
            launcher.end_if_launcher_gone();
        }
        let generation = reader.generation();
        if generation == applied {
            continue;
        }
        // Read without the GIL: the reader may wait for the launcher.
        let (generation, control) = match reader.read() {
            Ok(read) => read,
            Err(error) => {
                // Not applied: tried again at the next poll.
                say_once(
                    &READ_FAILURE_REPORTED,
                    &format!(
                        "cannot read the launcher's settings yet: {}; retrying",
                        chain(&error)
                    ),
                );
                continue;
            }
        };
        applied = Python::attach(|py| {
            if STOP.load(Ordering::Relaxed) {
                return applied;
            }
            apply(py, generation, &control).unwrap_or(applied)
        });
    }
}

static READ_FAILURE_REPORTED: AtomicBool = AtomicBool::new(false);

/// Applies the settings of `generation`; returns the generation now
/// applied (or refused, so that a bad one is reported once and not
/// retried), or `None` when the hook is gone.
fn apply(py: Python<'_>, generation: u64, control: &ControlSettings) -> Option<u64> {
    // SAFETY: GIL held (inside attach) and not inside a callback; a copy.
    let current = unsafe { HOOK.get() }.as_ref()?.control_generation;
    if generation == current {
        return Some(generation);
    }
    match Settings::from_control(generation, control) {
        Ok(settings) => {
            if let Err(error) = settings::apply(py, settings) {
                say(&format!(
                    "cannot apply settings generation {generation}: {error}"
                ));
            }
        }
        Err(error) => say(&format!(
            "settings generation {generation} refused ({error}); the previous settings stay"
        )),
    }
    Some(generation)
}
