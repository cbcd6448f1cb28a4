//! Fixed storage in `.bss` (buffers, the connection table), handed out
//! once. The processes Drift runs never share memory between threads
//! (workers are forked), so a plain flag ensures a single `&mut`.
use core::cell::UnsafeCell;

/// A `T` in `.bss` (give it an all-zero `const` value) that `take` lends
/// out exactly once: the mirror's request buffer, a worker's connection
/// table and log buffer, without a heap or a stack big enough to hold them.
pub struct StaticCell<T> {
    taken: UnsafeCell<bool>,
    value: UnsafeCell<T>,
}

// SAFETY: Drift's processes are single-threaded (no CLONE_VM anywhere), so no
// two threads can race on `taken`; `take` hands out the value at most once.
unsafe impl<T> Sync for StaticCell<T> {}

impl<T> StaticCell<T> {
    pub const fn new(value: T) -> Self {
        StaticCell { taken: UnsafeCell::new(false), value: UnsafeCell::new(value) }
    }

    /// The value, the first time; `None` after that.
    pub fn take(&'static self) -> Option<&'static mut T> {
        // SAFETY: single-threaded (see the Sync impl); the flag guarantees
        // that the &mut below is created once for the life of the process.
        unsafe {
            if *self.taken.get() {
                return None;
            }
            *self.taken.get() = true;
            Some(&mut *self.value.get())
        }
    }
}
