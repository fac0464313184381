//! Activation at interpreter start-up, and the fork and exit handlers.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use speedbump_core::error::chain;
use speedbump_core::ipc::{
    ControlReader, ProcessInfo, clean_stale_sessions, control_path, new_session_path, session_owner,
};
use speedbump_core::pattern::{PatternSet, parse_pattern, targets_file_warning};

use crate::config::Config;
use crate::control;
use crate::exit;
use crate::failure::say;
use crate::hot::HOT;
use crate::mechanism;
use crate::seen::SeenFunctions;
use crate::segment::Stats;
use crate::settings::{self, Settings};
use crate::state::{HOOK, Hook};
use crate::window::{ProcessStart, delay_window};

/// A problem that must stop the program before its code runs (exit 2).
struct Fatal(String);

impl From<PyErr> for Fatal {
    fn from(e: PyErr) -> Self {
        Fatal(format!("could not start the hook: {e}"))
    }
}

pub fn activate(py: Python<'_>) -> PyResult<()> {
    // SAFETY: GIL held.
    if unsafe { HOOK.get() }.is_some() {
        return Ok(());
    }
    match try_activate(py) {
        Ok(()) => Ok(()),
        Err(Fatal(message)) => {
            say(&message);
            // Nothing of the program has run yet; leave without its atexit
            // handlers or a traceback.
            let os = py.import("os")?;
            os.call_method1("_exit", (2,))?;
            Err(PyRuntimeError::new_err(message))
        }
    }
}

fn environment() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with("SPEED_BUMP_"))
        .collect()
}

/// This process's command line, for telling processes apart in reports.
fn command_label() -> String {
    let raw = std::fs::read("/proc/self/cmdline").unwrap_or_default();
    let text: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    text.join(" ")
}

fn process_info(start: &ProcessStart) -> ProcessInfo {
    ProcessInfo {
        pid: std::process::id(),
        parent_pid: rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32),
        uid: rustix::process::getuid().as_raw(),
        process_start_boottime_ns: start.boottime_ns,
        label: command_label(),
    }
}

fn try_activate(py: Python<'_>) -> Result<(), Fatal> {
    let sys = py.import("sys")?;
    if let Ok(is_gil_enabled) = sys.getattr("_is_gil_enabled")
        && !is_gil_enabled.call0()?.is_truthy()?
    {
        return Err(Fatal(
            "free-threaded Python (GIL disabled) is not supported; use a regular CPython build"
                .into(),
        ));
    }
    let cwd = std::env::current_dir().ok();
    let config = Config::from_vars(environment(), cwd).map_err(|e| Fatal(e.to_string()))?;
    // Under a launcher, its control block rules instead of the variables.
    let uid = rustix::process::getuid().as_raw();
    let control_file = config
        .session
        .as_ref()
        .map(|dir| control_path(dir))
        .filter(|path| path.exists());
    let patterns = match (&config.targets, &control_file) {
        (Some(path), None) => {
            // Name the variable: the user may not know where the path came from.
            let set = PatternSet::load(path)
                .map_err(|e| Fatal(format!("SPEED_BUMP_TARGETS={}", e.one_line())))?;
            if config.session.is_none()
                && let Some(warning) = targets_file_warning(path)
            {
                say(&format!("warning: {warning}")); // once per run: the root only
            }
            if set.is_empty() {
                return Err(Fatal(format!(
                    "{}: no include pattern in this file, so nothing would be slowed; add one, e.g. '*:*'",
                    path.display()
                )));
            }
            set
        }
        _ => PatternSet::from_patterns(Vec::new()),
    };

    let start = ProcessStart::of_this_process(config.start_at);
    let os = py.import("os")?;
    let environ = os.getattr("environ")?;
    let (root, session_dir) = match &config.session {
        // A root that exec'd itself (same pid and start time as the
        // session's owner) is still the root: it summarises and cleans up.
        Some(dir) => {
            let owner = session_owner(dir) == Some((std::process::id(), start.ticks));
            (owner && control_file.is_none(), dir.clone())
        }
        None => {
            let (dir, note) = new_session_path(std::process::id(), start.ticks)
                .map_err(|e| Fatal(format!("cannot choose a session directory: {}", chain(&e))))?;
            if let Some(note) = note {
                say(&note);
            }
            // Runs killed before their clean-up (SIGTERM, SIGKILL, a crash)
            // left their session directories behind: the root of each new
            // run removes those whose processes are all gone, as a launcher
            // does. Best effort: a failure leaves them for the next run.
            if let Some(base) = dir.parent() {
                let _ = clean_stale_sessions(base);
            }
            // Children (spawned workers, subprocesses) join this run.
            environ.set_item("SPEED_BUMP_SESSION", dir.to_string_lossy().as_ref())?;
            (true, dir)
        }
    };
    if let Some(targets) = &config.targets {
        // Children may run in another directory.
        environ.set_item("SPEED_BUMP_TARGETS", targets.to_string_lossy().as_ref())?;
    }
    if let Some(report) = &config.report {
        environ.set_item("SPEED_BUMP_REPORT", report.to_string_lossy().as_ref())?;
    }

    let control = match &control_file {
        Some(path) => Some(ControlReader::open(path, uid).map_err(|e| {
            Fatal(format!(
                "cannot follow the launcher's control block: {}",
                chain(&e)
            ))
        })?),
        None => None,
    };
    let settings = match &control {
        // A launcher that stays mid-update past the reader's patience does
        // not stop the program: it starts with nothing slowed, and the
        // control thread applies the settings once they can be read.
        Some(reader) => match reader.read() {
            Ok((generation, control_settings)) => {
                Settings::from_control(generation, &control_settings)
                    .map_err(|e| Fatal(format!("the launcher's settings are invalid: {e}")))?
            }
            Err(_) => Settings::from_config(&config, PatternSet::from_patterns(Vec::new())),
        },
        None => Settings::from_config(&config, patterns),
    };

    // SAFETY: GIL held.
    let extra_index = unsafe { ffi::PyUnstable_Eval_RequestCodeExtraIndex(keep_word) };
    if extra_index < 0 {
        return Err(Fatal(
            "could not start the hook: no code-object extra slot left".into(),
        ));
    }

    // SAFETY: GIL held; no callback is registered yet.
    let hot = unsafe { HOT.get() };
    hot.extra_index = extra_index;
    hot.set_generation(0);
    hot.window = delay_window(&start, config.start_ms, config.duration_ms);

    // From here on the mechanism sees calls; no Python code runs before the
    // state below is in place.
    let mechanism = mechanism::install(py).map_err(Fatal)?;
    // SAFETY: GIL held (activation runs from Python); the reference ends with this statement.
    unsafe { HOT.get() }.enabled = true;

    let latency_points = config
        .latency
        .iter()
        .map(|text| parse_pattern("SPEED_BUMP_LATENCY", text).map_err(|e| Fatal(e.one_line())))
        .collect::<Result<Vec<_>, _>>()?;
    if !latency_points.is_empty() {
        crate::latency::init_clock();
    }
    let info = process_info(&start);
    let has_control = control.is_some();
    // SAFETY: GIL held.
    *unsafe { HOOK.get() } = Some(Hook {
        config,
        patterns: PatternSet::from_patterns(Vec::new()),
        progress_points: Vec::new(),
        latency_points,
        latency_blocks: std::collections::HashMap::new(),
        generation: 0,
        control_generation: 0,
        delay_ns: 0,
        frequency: 1,
        stats: Stats::new(session_dir.clone(), info, start.ticks),
        seen: SeenFunctions::default(),
        start,
        fixed_cost_ns: 0,
        calibrated_for: None,
        root,
        session_dir,
        mechanism,
        control,
    });

    // SAFETY: GIL held; no Python code runs while `hook` is used.
    if let Some(hook) = unsafe { HOOK.get() }.as_mut() {
        if has_control {
            hook.stats.set_launcher_owns_dir();
        }
    }
    settings::apply(py, settings)?;

    let module = py.import("speedbump._speedbump")?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("before", module.getattr("_before_fork")?)?;
    kwargs.set_item("after_in_parent", module.getattr("_after_fork_in_parent")?)?;
    kwargs.set_item("after_in_child", module.getattr("_after_fork_in_child")?)?;
    os.call_method("register_at_fork", (), Some(&kwargs))?;
    register_c_fork_handler();
    py.import("atexit")?
        .call_method1("register", (module.getattr("_at_exit")?,))?;
    if has_control {
        control::start_polling();
    }
    Ok(())
}

/// Decisions stored in `co_extra` are plain words: nothing to free.
unsafe extern "C" fn keep_word(_: *mut std::ffi::c_void) {}

/// os.register_at_fork(before=...): no thread of ours at the fork (see
/// `control.rs`).
#[pyfunction]
#[pyo3(name = "_before_fork")]
pub fn before_fork(py: Python<'_>) {
    control::pause_for_fork(py);
}

/// os.register_at_fork(after_in_parent=...).
#[pyfunction]
#[pyo3(name = "_after_fork_in_parent")]
pub fn after_fork_in_parent() {
    control::resume_after_fork_in_parent();
}

/// os.register_at_fork(after_in_child=...): the child counts in its own
/// segment, measures its window from its own start, and is never the root.
#[pyfunction]
#[pyo3(name = "_after_fork_in_child")]
pub fn after_fork_in_child() {
    // Python's fork ran the C-level handler too (`c_fork_child`); this one
    // does the work now, unless a call in an earlier after-fork handler of
    // the program's already did (`catch_up_after_c_fork`).
    C_FORK_CHILD.store(false, Ordering::Relaxed);
    // SAFETY: fork handlers run with the GIL held.
    let Some(hook) = (unsafe { HOOK.get() }).as_mut() else {
        return;
    };
    if hook.stats.info.pid != std::process::id() {
        become_fork_child(hook);
    }
}

/// What a fork child does once, with the GIL held: count in its own
/// segment, measure its window from its own start, never be the root, and
/// follow the launcher with a thread of its own.
fn become_fork_child(hook: &mut Hook) {
    hook.root = false;
    hook.start = ProcessStart::of_this_process(None);
    let info = process_info(&hook.start);
    hook.stats.reattach_after_fork(info, hook.start.ticks);
    // SAFETY: GIL held (a fork handler, or a hook entry point that holds no
    // other reference to the hot state); no Python code runs while `hot` is used.
    let hot = unsafe { HOT.get() };
    hot.calls_since_delay = 0;
    hot.debt_ns = 0;
    hot.window = delay_window(&hook.start, hook.config.start_ms, hook.config.duration_ms);
    if hook.control.is_some() {
        // The parent's polling thread does not exist in the child.
        control::restart_polling_after_fork();
    }
}

/// Set in a fork child by `c_fork_child` until the child has its own
/// segment. A `fork()` called from C (a C extension, `ctypes`) skips
/// Python's after-fork handlers, so nothing else tells the child that the
/// segment it inherited is its parent's.
static C_FORK_CHILD: AtomicBool = AtomicBool::new(false);

/// Registers `c_fork_child` with `pthread_atfork` (once per process image;
/// registrations survive `fork`, and `exec` starts a new image).
fn register_c_fork_handler() {
    // SAFETY: `c_fork_child` is a plain function that lives as long as the
    // process; pthread_atfork only records the pointers.
    let status = unsafe { libc::pthread_atfork(None, None, Some(c_fork_child)) };
    if status != 0 {
        say(&format!(
            "cannot watch for fork() calls made from C (pthread_atfork: error {status}); \
             calls counted in such children are counted under their parent"
        ));
    }
}

/// The `pthread_atfork` child handler: runs in the child of every fork,
/// from C or from Python, on the only thread there, before anything else.
/// Async-signal-safe: plain stores, no lock, no allocation, no system call.
/// It empties the tables the fast path counts into (the parent's), so the
/// child's next matched call or progress point takes the fast path's
/// out-of-range branch, which catches up (`matched_call_after_c_fork`);
/// every other way to the segment goes through `catch_up_after_c_fork`
/// first.
// `c_fork_child` replaces the ring without running any drop code.
const _: () = assert!(!std::mem::needs_drop::<speedbump_core::ipc::RingProducer>());

extern "C" fn c_fork_child() {
    C_FORK_CHILD.store(true, Ordering::Relaxed);
    // SAFETY: the child has one thread, this one, and it is inside fork():
    // no reference to the hot state is live (the hook never forks from a
    // callback), so this is the only one.
    let hot = unsafe { HOT.get() };
    hot.function_capacity = 0;
    hot.pattern_capacity = 0;
    hot.progress_capacity = 0;
    // The parent's ring (a plain view of its mapping: no drop code runs,
    // which the assertion below keeps true).
    hot.latency_ring = None;
}

/// In a child of a fork made from C: moves counting to the child's own
/// segment (as `after_fork_in_child` does for `os.fork`). Returns true when
/// it did. Costs one relaxed load otherwise.
///
/// Call with the GIL held, holding no reference to `HOOK` or `HOT`.
pub fn catch_up_after_c_fork() -> bool {
    if !C_FORK_CHILD.load(Ordering::Relaxed) {
        return false;
    }
    C_FORK_CHILD.store(false, Ordering::Relaxed);
    // SAFETY: GIL held and no other reference to the state (caller's contract).
    let Some(hook) = (unsafe { HOOK.get() }).as_mut() else {
        return false;
    };
    if hook.stats.info.pid == std::process::id() {
        return false;
    }
    become_fork_child(hook);
    true
}

/// The fast path found its tables empty (see `c_fork_child`): catches up
/// and counts the call in the child's own segment. Cold: never reached in
/// a process that did not fork from C.
///
/// # Safety
/// GIL held, inside a callback, and the caller uses no reference to `HOT`
/// after this.
#[cold]
#[inline(never)]
pub unsafe fn matched_call_after_c_fork(function_id: u32) {
    if catch_up_after_c_fork() {
        // SAFETY: GIL held; the state now points at the child's segment.
        unsafe { crate::hot::on_matched_call(HOT.get(), function_id) };
    }
}

/// As `matched_call_after_c_fork`, for a completed call of a progress point.
///
/// # Safety
/// As `matched_call_after_c_fork`.
#[cold]
#[inline(never)]
pub unsafe fn progress_point_after_c_fork(slot: u32) {
    if catch_up_after_c_fork() {
        // SAFETY: GIL held; the state now points at the child's segment.
        unsafe { crate::hot::on_progress_point(HOT.get(), slot) };
    }
}

/// atexit: summary and clean-up (root), or only "exited" (others).
#[pyfunction]
#[pyo3(name = "_at_exit")]
pub fn at_exit(py: Python<'_>) {
    // The polling thread takes the GIL to apply settings: stop it while the
    // interpreter can still hand the GIL over.
    // A child of a fork made from C is not the root, must not mark its
    // parent's segment exited, and must not join its parent's thread.
    catch_up_after_c_fork();
    control::stop_polling(py);
    // SAFETY: atexit handlers run with the GIL held; the check may run
    // Python code, so no reference to the state is held across it.
    if unsafe { HOOK.get() }.is_some()
        && let Some(warning) = mechanism::check_at_exit(py)
    {
        say(&format!("warning: {warning}"));
    }
    // SAFETY: GIL held (atexit); `exit::at_exit` runs no Python code.
    if let Some(hook) = unsafe { HOOK.get() }.as_mut() {
        exit::at_exit(hook);
    }
}
