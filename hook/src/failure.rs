//! Reporting internal failures without harming the host program.
//!
//! The hook runs inside someone else's program: a failure is printed once on
//! stderr with what still works, and never raised into the program's code.

use std::any::Any;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::hot::HOT;

static PANIC_REPORTED: AtomicBool = AtomicBool::new(false);

/// Writes one `speedbump:` line to stderr, ignoring a closed stderr.
pub fn say(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "speedbump: {line}");
    let _ = stderr.flush();
}

/// Prints `line` the first time `flag` is raised.
pub fn say_once(flag: &AtomicBool, line: &str) {
    if !flag.swap(true, Ordering::Relaxed) {
        say(line);
    }
}

/// A panic inside a callback: report it once and switch the hook off so the
/// program runs on unslowed.
pub fn report_panic(context: &str, panic: &Box<dyn Any + Send>) {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    // SAFETY: callbacks run with the GIL held.
    unsafe { HOT.get().enabled = false };
    say_once(
        &PANIC_REPORTED,
        &format!(
            "internal error in the {context} ({detail}); delays are off for the rest of this process. Please report this bug."
        ),
    );
}
