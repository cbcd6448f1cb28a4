//! ppoll: waiting, with a timeout, for one descriptor to become ready. The
//! client's connect, send and receive go through it. aarch64 has no poll(2)
//! (nor does qemu-user's table for it), so ppoll it is, on both arches.
use super::{BorrowedFd, Result};
use linux_raw_sys::general::{__kernel_timespec, pollfd};
use syscalls::{Sysno, syscall};

pub use linux_raw_sys::general::{POLLIN, POLLOUT};

/// ppoll({fd, events}, 1, {timeout_ms}, NULL, 0) — [ppoll(2)]: the events
/// ready on `fd` (POLLERR and POLLHUP included, asked or not), or 0 if the
/// time ran out first.
pub fn wait(fd: BorrowedFd<'_>, events: u32, timeout_ms: u64) -> Result<u32> {
    let mut p = pollfd { fd: fd.raw(), events: events as i16, revents: 0 };
    let ts = __kernel_timespec { tv_sec: (timeout_ms / 1000) as _, tv_nsec: (timeout_ms % 1000 * 1_000_000) as _ };
    // SAFETY: the kernel reads ts and reads and writes the one pollfd at p
    // during the call; a NULL signal mask leaves the mask alone.
    let n = unsafe { syscall!(Sysno::ppoll, &mut p as *mut pollfd, 1, &ts as *const __kernel_timespec, 0, 0) }?;
    Ok(if n == 0 { 0 } else { u32::from(p.revents as u16) })
}
