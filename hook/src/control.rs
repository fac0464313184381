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

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use pyo3::prelude::*;
use speedbump_core::ipc::{ControlReader, control_path};

use crate::failure::say;
use crate::settings::{self, Settings};
use crate::state::HOOK;

const POLL_INTERVAL: Duration = Duration::from_millis(5);

static STOP: AtomicBool = AtomicBool::new(false);
static POLLER: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);

/// Starts the polling thread (GIL held by the caller).
pub fn start_polling() {
    // SAFETY: GIL held.
    let Some(hook) = (unsafe { HOOK.get() }).as_ref() else {
        return;
    };
    let path = control_path(&hook.session_dir);
    let applied = hook.control_generation;
    let uid = rustix::process::getuid().as_raw();
    let reader = match ControlReader::open(&path, uid) {
        Ok(reader) => reader,
        Err(error) => {
            say(&format!(
                "cannot follow the launcher's settings: {error}; current settings stay"
            ));
            return;
        }
    };
    STOP.store(false, Ordering::Relaxed);
    let spawned = std::thread::Builder::new()
        .name("speedbump-control".into())
        .spawn(move || poll(reader, applied));
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

/// In a fork child: the parent's thread is not here; start our own.
pub fn restart_polling_after_fork() {
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
        py.detach(|| {
            let _ = handle.join();
        });
    }
}

fn poll(reader: ControlReader, mut applied: u64) {
    while !STOP.load(Ordering::Relaxed) {
        std::thread::sleep(POLL_INTERVAL);
        let generation = reader.generation();
        if generation == applied {
            continue;
        }
        applied = Python::attach(|py| {
            if STOP.load(Ordering::Relaxed) {
                return applied;
            }
            apply_latest(py, &reader).unwrap_or(generation)
        });
    }
}

/// Reads and applies the latest settings; returns the generation applied
/// (or refused, so that a bad one is reported once and not retried).
fn apply_latest(py: Python<'_>, reader: &ControlReader) -> Option<u64> {
    let (generation, control) = match reader.read() {
        Ok(read) => read,
        Err(error) => {
            say(&format!("cannot read the launcher's settings: {error}"));
            return None;
        }
    };
    // SAFETY: GIL held (inside attach) and not inside a callback.
    let hook = unsafe { HOOK.get() }.as_mut()?;
    if generation == hook.control_generation {
        return Some(generation);
    }
    match Settings::from_control(generation, &control) {
        Ok(settings) => {
            if let Err(error) = settings::apply(py, hook, settings) {
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
