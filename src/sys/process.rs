//! Ending the process.
use syscalls::{Sysno, syscall};

/// exit_group(code) — [exit_group(2)]: ends every thread of the process.
pub fn exit(code: i32) -> ! {
    // SAFETY: exit_group takes no pointers and does not return.
    unsafe {
        let _ = syscall!(Sysno::exit_group, code);
        core::hint::unreachable_unchecked()
    }
}
