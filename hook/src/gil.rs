//! State shared by the sys.monitoring callbacks, guarded by the GIL.
//!
//! Every callback, `progress()` and the fork/exit handlers run with the GIL
//! held, so the GIL already serialises all access: a mutex here would only add
//! cost to the hot path (and could be left locked across `fork`). Free-threaded
//! builds (3.13t) are refused at activation for this reason.

use std::cell::UnsafeCell;

pub struct GilCell<T>(UnsafeCell<T>);

// SAFETY: all access goes through `get`, whose callers hold the GIL.
unsafe impl<T> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    pub const fn new(value: T) -> Self {
        GilCell(UnsafeCell::new(value))
    }

    /// # Safety
    /// The caller holds the GIL and does not keep the reference across a point
    /// where Python code can run (which could re-enter the hook).
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get(&self) -> &mut T {
        // SAFETY: the GIL, which the caller holds, serialises every access to
        // the cell, and the caller keeps no reference across Python code (which
        // could re-enter the hook): no other reference to the value is live.
        unsafe { &mut *self.0.get() }
    }
}
