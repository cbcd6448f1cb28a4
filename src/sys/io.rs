//! Reading and writing descriptors.
use super::{BorrowedFd, Errno, Result};
use syscalls::{Sysno, syscall};

/// read(fd, buf, len) — [read(2)]. `Ok(0)` is end of file.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    unsafe { syscall!(Sysno::read, fd.arg(), buf.as_mut_ptr(), buf.len()) }
}

/// write(fd, buf, len) — [write(2)]. May write less than asked.
pub fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> Result<usize> {
    // SAFETY: the kernel reads at most buf.len() bytes from buf.
    unsafe { syscall!(Sysno::write, fd.arg(), buf.as_ptr(), buf.len()) }
}

/// write(2) until every byte is out: short writes continue where they
/// stopped and EINTR is retried. Any other errno ends it.
pub fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> Result<()> {
    while !buf.is_empty() {
        match write(fd, buf) {
            Ok(n) => buf = buf.get(n..).unwrap_or_default(),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
