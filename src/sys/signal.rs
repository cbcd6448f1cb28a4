//! Signals: the mirror's dispositions (SIGPIPE ignored, SIGTERM/SIGINT exit
//! 0), and for driftd blocked signals read from a signalfd in the event loop.
use super::{BorrowedFd, OwnedFd, Result};
use linux_raw_sys::general::{SA_RESTORER, kernel_sigaction};
use syscalls::{Sysno, syscall};

pub use linux_raw_sys::general::{SIGCHLD, SIGHUP, SIGINT, SIGKILL, SIGPIPE, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

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

/// A set of signals, as the kernel's 64-bit mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigSet(u64);

impl SigSet {
    pub const fn of(sigs: &[u32]) -> SigSet {
        let mut m = 0u64;
        let mut i = 0;
        while i < sigs.len() {
            m |= 1 << (sigs[i] - 1);
            i += 1;
        }
        SigSet(m)
    }
}

/// rt_sigprocmask(SIG_BLOCK or SIG_UNBLOCK, set, NULL, 8) — [sigprocmask(2)].
pub fn mask(block: bool, set: SigSet) -> Result<()> {
    let how = if block { linux_raw_sys::general::SIG_BLOCK } else { linux_raw_sys::general::SIG_UNBLOCK };
    // SAFETY: the kernel reads 8 bytes of mask from &set.0.
    unsafe { syscall!(Sysno::rt_sigprocmask, how, &set.0 as *const u64, 0, 8) }.map(drop)
}

/// signalfd4(-1, set, 8, SFD_NONBLOCK | SFD_CLOEXEC) — [signalfd(2)]: the
/// (blocked) signals in `set` become readable records on a descriptor.
pub fn signalfd(set: SigSet) -> Result<OwnedFd> {
    let flags = linux_raw_sys::general::O_NONBLOCK | linux_raw_sys::general::O_CLOEXEC;
    // SAFETY: the kernel reads 8 bytes of mask from &set.0.
    unsafe { syscall!(Sysno::signalfd4, -1isize as usize, &set.0 as *const u64, 8, flags) }
        .map(OwnedFd::from_raw)
}

/// read(sfd, signalfd_siginfo) — the next pending signal's number, if any.
pub fn next_signal(sfd: BorrowedFd<'_>) -> Option<u32> {
    let mut info = [0u8; 128]; // sizeof(struct signalfd_siginfo)
    match super::io::read(sfd, &mut info) {
        Ok(128) => Some(u32::from_ne_bytes([info[0], info[1], info[2], info[3]])),
        _ => None,
    }
}

/// kill(pid, sig) — [kill(2)].
pub fn kill(pid: i32, sig: u32) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::kill, pid, sig) }.map(drop)
}
