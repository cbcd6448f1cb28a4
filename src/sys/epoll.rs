//! epoll: the readiness queue each worker's event loop waits on.
use super::{BorrowedFd, OwnedFd, Result};
use linux_raw_sys::general::{EPOLL_CLOEXEC, epoll_event};
use syscalls::{Sysno, syscall};

pub use linux_raw_sys::general::{
    EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLLERR, EPOLLET, EPOLLEXCLUSIVE, EPOLLHUP, EPOLLIN,
    EPOLLOUT, EPOLLRDHUP,
};

/// One ready descriptor: its event bits and the tag it was registered with.
#[derive(Clone, Copy, Debug, Default)]
pub struct Event {
    pub events: u32,
    pub tag: u64,
}

/// epoll_create1(EPOLL_CLOEXEC) — [epoll_create1(2)].
pub fn create() -> Result<OwnedFd> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::epoll_create1, EPOLL_CLOEXEC) }.map(OwnedFd::from_raw)
}

/// epoll_ctl(ep, op, fd, {events, tag}) — [epoll_ctl(2)].
pub fn ctl(ep: BorrowedFd<'_>, op: u32, fd: BorrowedFd<'_>, events: u32, tag: u64) -> Result<()> {
    let ev = epoll_event { events, data: tag };
    // SAFETY: the kernel reads one epoll_event from &ev during the call.
    unsafe { syscall!(Sysno::epoll_ctl, ep.arg(), op, fd.arg(), &ev as *const epoll_event) }.map(drop)
}

/// epoll_pwait(ep, events, n, timeout_ms, NULL) — [epoll_wait(2)]: fills
/// `out` with up to 64 ready events; returns how many.
pub fn wait(ep: BorrowedFd<'_>, out: &mut [Event], timeout_ms: i32) -> Result<usize> {
    // SAFETY: epoll_event is plain old data; all-zero is a valid value.
    let mut raw: [epoll_event; 64] = unsafe { core::mem::zeroed() };
    let max = out.len().min(raw.len());
    // SAFETY: the kernel writes at most max events into raw.
    let n = unsafe { syscall!(Sysno::epoll_pwait, ep.arg(), raw.as_mut_ptr(), max, timeout_ms, 0, 8) }?;
    for (o, r) in out.iter_mut().zip(raw.iter()).take(n) {
        let (events, tag) = (r.events, r.data); // copies: the struct is packed on x86_64
        *o = Event { events, tag };
    }
    Ok(n)
}
