//! Randomness for keys, nonces and tickets: the kernel's CSPRNG, no libc.
use super::{Errno, Result};
use syscalls::{Sysno, syscall};

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
