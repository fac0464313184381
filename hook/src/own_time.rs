//! Own time of matched code (docs/ranking.md, "Own time per unit").
//!
//! While the settings ask for it (control flag `OWN_TIME`, set by a
//! census), every entry into matched code opens an interval and every exit
//! closes it: PY_START / PY_RESUME / PY_THROW and PY_RETURN / PY_YIELD /
//! PY_UNWIND under `sys.monitoring` (enabled as local events on matched
//! code objects only, see `monitoring::own_time_events`), or the call of
//! the previous evaluation function under PEP 523 (a generator's frame
//! returns from evaluation at each yield). Intervals are kept per thread
//! and per pattern slot: entering code of a pattern that is already open on
//! this thread (recursion, or one function of the candidate calling
//! another) only deepens it, so nested time counts once. The outermost
//! interval's time goes to the pattern's `own_ns` and to the `own_ns` of
//! the function that opened it. A suspended generator or coroutine has
//! left (PY_YIELD), so its suspended time is not counted.
//!
//! An exit with no open interval (code entered before own time was asked
//! for) is ignored; intervals still open when the settings generation
//! changes are dropped. Both undercount a little, never overcount.

use std::cell::RefCell;

use crate::clock::monotonic_ns;
use crate::hot::{Hot, bump};

/// One open pattern on a thread.
struct Open {
    pattern: u32,
    function: u32,
    depth: u32,
    start_ns: u64,
}

/// A thread's open patterns (few: only matched code nested on its stack).
struct Thread {
    generation: u32,
    open: Vec<Open>,
}

/// More open patterns than this on one thread means exits were missed
/// (a bug or an interpreter quirk): start over rather than grow.
const MAX_OPEN: usize = 256;

thread_local! {
    static THREAD: RefCell<Thread> = const {
        RefCell::new(Thread { generation: 0, open: Vec::new() })
    };
}

/// The pattern slot a function counts under, when the id is in range.
#[inline(always)]
fn pattern_of(hot: &Hot, function_id: u32) -> Option<u32> {
    if function_id >= hot.function_capacity || hot.functions.is_null() {
        return None;
    }
    // SAFETY: bounds checked; the mapping lives as long as the writer, which
    // is only replaced with the GIL held outside any callback.
    let function = unsafe { &*hot.functions.add(function_id as usize) };
    Some(
        function
            .pattern_slot
            .load(std::sync::atomic::Ordering::Relaxed),
    )
}

/// Matched code of `function_id` starts or resumes on this thread.
pub fn enter(hot: &Hot, function_id: u32) {
    let Some(pattern) = pattern_of(hot, function_id) else {
        return;
    };
    let generation = hot.current_generation();
    // `try_with`: nothing during thread teardown; `try_borrow_mut`: never
    // re-entered (no Python code runs in here), but never panic either.
    let _ = THREAD.try_with(|thread| {
        let Ok(mut thread) = thread.try_borrow_mut() else {
            return;
        };
        if thread.generation != generation || thread.open.len() >= MAX_OPEN {
            thread.generation = generation;
            thread.open.clear();
        }
        if let Some(open) = thread.open.iter_mut().find(|o| o.pattern == pattern) {
            open.depth += 1;
        } else {
            thread.open.push(Open {
                pattern,
                function: function_id,
                depth: 1,
                start_ns: monotonic_ns(),
            });
        }
    });
}

/// Matched code of `function_id` returns, yields or unwinds on this thread.
pub fn exit(hot: &Hot, function_id: u32) {
    let Some(pattern) = pattern_of(hot, function_id) else {
        return;
    };
    let generation = hot.current_generation();
    let _ = THREAD.try_with(|thread| {
        let Ok(mut thread) = thread.try_borrow_mut() else {
            return;
        };
        if thread.generation != generation {
            return;
        }
        let Some(index) = thread.open.iter().position(|o| o.pattern == pattern) else {
            return;
        };
        let open = &mut thread.open[index];
        open.depth -= 1;
        if open.depth > 0 {
            return;
        }
        let elapsed = monotonic_ns().saturating_sub(open.start_ns);
        let (opener, pattern) = (open.function, open.pattern);
        thread.open.swap_remove(index);
        record(hot, opener, pattern, elapsed);
    });
}

fn record(hot: &Hot, function_id: u32, pattern: u32, elapsed_ns: u64) {
    if function_id < hot.function_capacity && !hot.functions.is_null() {
        // SAFETY: bounds checked; see `pattern_of`.
        bump(
            unsafe { &(*hot.functions.add(function_id as usize)).own_ns },
            elapsed_ns,
        );
    }
    if pattern < hot.pattern_capacity && !hot.patterns.is_null() {
        // SAFETY: bounds checked; the pattern table lives as the function table.
        bump(
            unsafe { &(*hot.patterns.add(pattern as usize)).own_ns },
            elapsed_ns,
        );
    }
}
