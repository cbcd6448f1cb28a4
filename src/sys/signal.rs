//! Signal dispositions for the mirror: SIGPIPE ignored, SIGTERM/SIGINT exit 0.
use super::Result;
use linux_raw_sys::general::{SA_RESTORER, kernel_sigaction};
use syscalls::{Sysno, syscall};

pub use linux_raw_sys::general::{SIGINT, SIGPIPE, SIGTERM};

const SIG_IGN: usize = 1;

/// rt_sigaction(sig, {SIG_IGN}, NULL, 8) — [sigaction(2)]: ignore `sig`.
pub fn ignore(sig: u32) -> Result<()> {
    set(sig, SIG_IGN)
}

/// rt_sigaction(sig, {exit_zero}, NULL, 8): `sig` ends the process at once
/// with status 0. A PID 1 in a container needs this: there the kernel drops
/// SIGTERM/SIGINT that have no handler, and `docker stop` waits 10 s.
pub fn exit_zero_on(sig: u32) -> Result<()> {
    set(sig, exit_zero as *const () as usize)
}

extern "C" fn exit_zero(_sig: i32) {
    super::process::exit(0)
}

fn set(sig: u32, handler: usize) -> Result<()> {
    // SAFETY: kernel_sigaction is plain old data; all-zero is a valid value.
    let mut act: kernel_sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: handler is SIG_IGN or an `extern "C" fn(i32)` that never returns.
    act.sa_handler_kernel = unsafe { core::mem::transmute::<usize, _>(handler) };
    if handler != SIG_IGN {
        // x86_64 refuses to deliver a signal without SA_RESTORER; our handler
        // never returns, so the restorer is never run and may be the handler.
        act.sa_flags = SA_RESTORER as _;
        // SAFETY: as above, a valid code address that is never jumped to.
        act.sa_restorer = unsafe { core::mem::transmute::<usize, _>(handler) };
    }
    // SAFETY: the kernel reads the sigaction from &act and a sigset of 8 bytes.
    unsafe { syscall!(Sysno::rt_sigaction, sig, &act as *const kernel_sigaction, 0, 8) }.map(drop)
}
