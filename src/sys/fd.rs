//! File descriptors as types: `OwnedFd` closes on drop, `BorrowedFd` may not
//! outlive the descriptor it borrows. Signatures say who closes what.
use core::marker::PhantomData;
use syscalls::{Sysno, syscall};

/// A file descriptor this value owns; `close(fd)` runs when it is dropped.
#[derive(Debug)]
pub struct OwnedFd(i32);

/// A file descriptor borrowed from an owner that outlives `'a`.
#[derive(Debug, Clone, Copy)]
pub struct BorrowedFd<'a>(i32, PhantomData<&'a OwnedFd>);

/// Standard output, open for the life of the process.
pub const STDOUT: BorrowedFd<'static> = BorrowedFd(1, PhantomData);
/// Standard error, open for the life of the process.
pub const STDERR: BorrowedFd<'static> = BorrowedFd(2, PhantomData);

impl OwnedFd {
    /// Takes ownership of a descriptor a syscall just returned.
    pub(crate) fn from_raw(fd: usize) -> OwnedFd {
        OwnedFd(fd as i32)
    }
    /// In a child just forked: this process's own copy of the descriptor,
    /// which the child now owns (the parent keeps and closes its copy).
    pub fn inherit_after_fork(&self) -> OwnedFd {
        OwnedFd(self.0)
    }

    /// Borrows the descriptor for calls that do not close it.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        BorrowedFd(self.0, PhantomData)
    }
    /// The number, for logs and for tagging epoll events.
    pub fn raw(&self) -> i32 {
        self.0
    }
}

/// Descriptor `n`, borrowed without an owner's guarantee: for descriptors
/// inherited across exec, checked before they are adopted.
pub(crate) fn borrow_raw(n: i32) -> BorrowedFd<'static> {
    BorrowedFd(n, PhantomData)
}

/// fcntl(fd, F_SETFD, FD_CLOEXEC or 0) — [fcntl(2)]: whether the descriptor
/// closes at exec (a socket handed to a new driftd must not).
pub fn set_cloexec(fd: BorrowedFd<'_>, on: bool) -> super::Result<()> {
    let flag = if on { linux_raw_sys::general::FD_CLOEXEC as usize } else { 0 };
    // SAFETY: fcntl with integer arguments only.
    unsafe { syscall!(Sysno::fcntl, fd.arg(), linux_raw_sys::general::F_SETFD, flag) }.map(drop)
}

impl BorrowedFd<'static> {
    /// A descriptor number that is valid for the whole process (stdout,
    /// AT_FDCWD).
    pub(crate) const fn from_const(fd: i32) -> BorrowedFd<'static> {
        BorrowedFd(fd, PhantomData)
    }
}

impl BorrowedFd<'_> {
    /// The number, for logs and for tagging epoll events.
    pub fn raw(self) -> i32 {
        self.0
    }
    pub(crate) fn arg(self) -> usize {
        self.0 as usize
    }
}

impl Drop for OwnedFd {
    /// close(fd) — [close(2)]. Errors are ignored: the descriptor is gone
    /// either way, and Linux must not be asked to close it twice.
    fn drop(&mut self) {
        // SAFETY: we own this descriptor and nothing uses it after drop.
        let _ = unsafe { syscall!(Sysno::close, self.0) };
    }
}
