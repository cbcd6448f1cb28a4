//! Clocks. qemu-user gives aarch64 guests no vDSO, so these are real
//! syscalls; the event loop reads the clock once per wake-up.
use linux_raw_sys::general::{CLOCK_MONOTONIC, CLOCK_REALTIME, __kernel_timespec};
use syscalls::{Sysno, syscall};

fn clock(id: u32) -> __kernel_timespec {
    let mut ts = __kernel_timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: the kernel writes one timespec into ts.
    let _ = unsafe { syscall!(Sysno::clock_gettime, id, &mut ts as *mut __kernel_timespec) };
    ts
}

/// clock_gettime(CLOCK_MONOTONIC) in milliseconds — for deadlines.
pub fn monotonic_ms() -> u64 {
    let ts = clock(CLOCK_MONOTONIC);
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// clock_gettime(CLOCK_REALTIME) in whole seconds since 1970 — for Date.
pub fn unix_secs() -> u64 {
    clock(CLOCK_REALTIME).tv_sec as u64
}

/// clock_gettime(CLOCK_REALTIME) in milliseconds since 1970 — for log times.
pub fn unix_ms() -> u64 {
    let ts = clock(CLOCK_REALTIME);
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}
