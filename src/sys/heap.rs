//! The heap, for the one part of driftd that needs one: TLS (rustls keeps
//! its connection state in boxes and vectors). A free-list allocator
//! (talc) over one arena of address space reserved with mmap at start;
//! pages are touched as they are used. The supervisor reserves it before
//! it forks, so each worker starts with its own copy-on-write copy of the
//! certificates and keys loaded into it.
//!
//! An allocation that fails aborts the process (every connection of the
//! worker with it), so callers ask `room()` before they start something
//! that allocates (a handshake), and refuse when it is short.
use super::{Errno, Result};
use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use talc::source::Manual;
use talc::{TalcLock, lock_api};

/// A lock for a process with one thread (driftd's workers are processes):
/// taking it twice would be a bug in the allocator's caller, and is
/// caught rather than waited on. Plain loads and stores: no atomics library.
struct OneThread(AtomicBool);

// SAFETY: every process here has one thread, so `lock` can never race;
// a lock taken while held (re-entry) aborts instead of handing out a
// second guard, which keeps the exclusivity RawMutex promises.
unsafe impl lock_api::RawMutex for OneThread {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: OneThread = OneThread(AtomicBool::new(false));
    type GuardMarker = lock_api::GuardNoSend;

    fn lock(&self) {
        if !self.try_lock() {
            super::process::exit(70); // re-entered: never in one thread
        }
    }

    fn try_lock(&self) -> bool {
        if self.0.load(Ordering::Relaxed) {
            return false;
        }
        self.0.store(true, Ordering::Relaxed);
        true
    }

    unsafe fn unlock(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

static TALC: TalcLock<OneThread, Manual> = TalcLock::new(Manual);
/// Bytes reserved for the arena, and bytes handed out of it now.
static SIZE: AtomicUsize = AtomicUsize::new(0);
static IN_USE: AtomicUsize = AtomicUsize::new(0);

/// Reserves `bytes` of address space as the heap. Called once, before the
/// first allocation (a second call adds nothing and says EEXIST).
pub fn reserve(bytes: usize) -> Result<()> {
    if SIZE.load(Ordering::Relaxed) != 0 {
        return Err(Errno::EEXIST);
    }
    let (base, len) = super::mem::reserve_forever(bytes)?;
    // SAFETY: [base, base + len) is a fresh mapping that nothing else
    // refers to, and it is never unmapped.
    match unsafe { TALC.lock().claim(base.as_ptr(), len) } {
        Some(_) => {
            SIZE.store(len, Ordering::Relaxed);
            Ok(())
        }
        None => Err(Errno::ENOMEM),
    }
}

/// Bytes the heap can still hand out, as far as the count goes (the free
/// list may be fragmented: keep a margin).
pub fn room() -> usize {
    SIZE.load(Ordering::Relaxed).saturating_sub(IN_USE.load(Ordering::Relaxed))
}

/// The binaries' `#[global_allocator]` (declared in `rt`, so that the
/// library's own tests keep std's allocator).
pub struct Heap;

fn count(delta_in: usize, delta_out: usize) {
    let n = IN_USE.load(Ordering::Relaxed) + delta_in - delta_out;
    IN_USE.store(n, Ordering::Relaxed);
}

// SAFETY: every call is passed to talc, which upholds GlobalAlloc's
// contract over the arena; the counts beside it change nothing it returns.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { TALC.alloc(layout) };
        if !p.is_null() {
            count(layout.size(), 0);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { TALC.dealloc(ptr, layout) };
        count(0, layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { TALC.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size, layout.size());
        }
        p
    }
}
