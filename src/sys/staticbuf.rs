//! A fixed buffer in `.bss`, handed out once. The processes Drift runs never
//! share memory between threads (workers are forked), so a plain flag is
//! enough to make sure there is only ever one `&mut` to it.
use core::cell::UnsafeCell;

/// `N` zero bytes in `.bss` that `take` lends out exactly once.
pub struct StaticBuf<const N: usize> {
    taken: UnsafeCell<bool>,
    bytes: UnsafeCell<[u8; N]>,
}

// SAFETY: Drift's processes are single-threaded (no CLONE_VM anywhere), so no
// two threads can race on `taken`; `take` hands out the bytes at most once.
unsafe impl<const N: usize> Sync for StaticBuf<N> {}

impl<const N: usize> StaticBuf<N> {
    /// An all-zero buffer, so the static stays in `.bss` (no file bytes).
    pub const fn new() -> Self {
        StaticBuf { taken: UnsafeCell::new(false), bytes: UnsafeCell::new([0; N]) }
    }

    /// The buffer, the first time; `None` after that.
    pub fn take(&'static self) -> Option<&'static mut [u8; N]> {
        // SAFETY: single-threaded (see the Sync impl); the flag guarantees
        // that the &mut below is created once for the life of the process.
        unsafe {
            if *self.taken.get() {
                return None;
            }
            *self.taken.get() = true;
            Some(&mut *self.bytes.get())
        }
    }
}

impl<const N: usize> Default for StaticBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A `T` in `.bss` (give it an all-zero `const` value) that `take` lends
/// out exactly once: how a worker gets its connection table without a heap
/// and without a stack big enough to hold it.
pub struct StaticCell<T> {
    taken: UnsafeCell<bool>,
    value: UnsafeCell<T>,
}

// SAFETY: as for StaticBuf: single-threaded processes, one &mut ever.
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
