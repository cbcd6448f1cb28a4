//! The two system calls the crypto makes, the only `unsafe` in this
//! crate: randomness for keys, nonces and tickets (the kernel's CSPRNG),
//! and the wall clock for certificate times and ticket periods.
#![allow(unsafe_code)]
use linux_raw_sys::general::{CLOCK_REALTIME, __kernel_timespec};
pub use syscalls::Errno;
use syscalls::{Sysno, syscall};

pub type Result<T> = core::result::Result<T, Errno>;

/// getrandom(buf, len, 0) — [getrandom(2)] until `buf` is full. Blocks only
/// before the kernel's pool is first seeded (early boot); EINTR is retried.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    let mut at = 0;
    while at < buf.len() {
        let rest = &mut buf[at..];
        // SAFETY: the kernel writes at most rest.len() bytes into rest.
        match unsafe { syscall!(Sysno::getrandom, rest.as_mut_ptr(), rest.len(), 0) } {
            Ok(n) => at += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// clock_gettime(CLOCK_REALTIME) in whole seconds since 1970.
pub fn unix_secs() -> u64 {
    let mut ts = __kernel_timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: the kernel writes one timespec into ts.
    let _ = unsafe { syscall!(Sysno::clock_gettime, CLOCK_REALTIME, &mut ts as *mut __kernel_timespec) };
    ts.tv_sec as u64
}
