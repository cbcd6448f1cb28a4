//! Processes: ending this one, forking workers, reaping them.
use super::Result;
use syscalls::{Sysno, syscall};

/// exit_group(code) — [exit_group(2)]: ends every thread of the process.
pub fn exit(code: i32) -> ! {
    // SAFETY: exit_group takes no pointers and does not return.
    unsafe {
        let _ = syscall!(Sysno::exit_group, code);
        core::hint::unreachable_unchecked()
    }
}

/// clone(SIGCHLD, 0, 0, 0, 0) — [fork(2)]: `Some(pid)` in the parent,
/// `None` in the child. The child shares no memory with the parent.
pub fn fork() -> Result<Option<i32>> {
    let sigchld = linux_raw_sys::general::SIGCHLD;
    // SAFETY: without CLONE_VM the child gets a copy of our memory and
    // stack, so both return here as ordinary single-threaded processes.
    let pid = unsafe { syscall!(Sysno::clone, sigchld, 0, 0, 0, 0) }?;
    Ok(if pid == 0 { None } else { Some(pid as i32) })
}

/// How a reaped child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// wait4(-1, &status, WNOHANG, NULL) — [wait4(2)]: one exited child, if any.
pub fn reap() -> Option<(i32, Exit)> {
    let mut status: i32 = 0;
    let wnohang = linux_raw_sys::general::WNOHANG;
    // SAFETY: the kernel writes one int into status.
    let pid = unsafe { syscall!(Sysno::wait4, -1isize as usize, &mut status as *mut i32, wnohang, 0) }.ok()?;
    if pid == 0 {
        return None;
    }
    let exit = if status & 0x7f == 0 { Exit::Code((status >> 8) & 0xff) } else { Exit::Signal(status & 0x7f) };
    Some((pid as i32, exit))
}

/// getpid() — [getpid(2)].
pub fn pid() -> i32 {
    // SAFETY: no arguments.
    unsafe { syscall!(Sysno::getpid) }.unwrap_or(0) as i32
}

/// getppid() — [getppid(2)].
pub fn parent() -> i32 {
    // SAFETY: no arguments.
    unsafe { syscall!(Sysno::getppid) }.unwrap_or(0) as i32
}

/// sched_getaffinity(0, 128, mask) — [sched_getaffinity(2)]: how many CPUs
/// this process may run on (at least 1).
pub fn cpu_count() -> usize {
    let mut mask = [0u64; 16]; // 1024 CPUs
    // SAFETY: the kernel writes at most 128 bytes into mask.
    let r = unsafe { syscall!(Sysno::sched_getaffinity, 0, 128, mask.as_mut_ptr()) };
    let n: u32 = if r.is_ok() { mask.iter().map(|w| w.count_ones()).sum() } else { 1 };
    n.max(1) as usize
}

/// prlimit64(0, RLIMIT_NOFILE, &new, &old) — [prlimit(2)]: raises the soft
/// limit on open descriptors to the hard limit (containers often start with
/// a soft 1,024 under a far higher hard limit). Returns the limit now in
/// force.
pub fn raise_fd_limit() -> Result<u64> {
    let mut old = linux_raw_sys::general::rlimit64 { rlim_cur: 0, rlim_max: 0 };
    let none = core::ptr::null::<linux_raw_sys::general::rlimit64>();
    let res = linux_raw_sys::general::RLIMIT_NOFILE;
    // SAFETY: with no new limit the kernel only writes `old`.
    unsafe { syscall!(Sysno::prlimit64, 0, res, none, &mut old as *mut _) }?;
    if old.rlim_cur >= old.rlim_max {
        return Ok(old.rlim_cur);
    }
    // An unlimited hard limit still cannot pass fs.nr_open (1,048,576 by default).
    let want = old.rlim_max.min(1 << 20);
    let new = linux_raw_sys::general::rlimit64 { rlim_cur: want, rlim_max: old.rlim_max };
    // SAFETY: the kernel reads `new` and writes nothing back (old is NULL).
    match unsafe { syscall!(Sysno::prlimit64, 0, res, &new as *const _, 0) } {
        Ok(_) => Ok(new.rlim_cur),
        Err(_) => Ok(old.rlim_cur), // not allowed: keep the soft limit we have
    }
}

/// getuid() — [getuid(2)]: the real user id.
pub fn uid() -> u32 {
    // SAFETY: no arguments; getuid cannot fail.
    unsafe { syscall!(Sysno::getuid) }.unwrap_or(u32::MAX as usize) as u32
}

/// geteuid() — [geteuid(2)]: the effective user id, the one permission
/// checks use.
pub fn euid() -> u32 {
    // SAFETY: no arguments; geteuid cannot fail.
    unsafe { syscall!(Sysno::geteuid) }.unwrap_or(u32::MAX as usize) as u32
}

/// getgid() — [getgid(2)]: the real group id.
pub fn gid() -> u32 {
    // SAFETY: no arguments; getgid cannot fail.
    unsafe { syscall!(Sysno::getgid) }.unwrap_or(u32::MAX as usize) as u32
}

/// getegid() — [getegid(2)]: the effective group id.
pub fn egid() -> u32 {
    // SAFETY: no arguments; getegid cannot fail.
    unsafe { syscall!(Sysno::getegid) }.unwrap_or(u32::MAX as usize) as u32
}

/// setgroups(0, NULL) — [setgroups(2)]: drops every supplementary group
/// (root's `Groups: 0 ...` would otherwise outlive the switch of user).
pub fn clear_groups() -> Result<()> {
    // SAFETY: with a size of 0 the kernel reads nothing through the NULL list.
    unsafe { syscall!(Sysno::setgroups, 0, 0) }.map(|_| ())
}

/// setresgid(gid, gid, gid) — [setresgid(2)]: real, effective and saved
/// group id all `gid`, so none is left to switch back to.
pub fn set_gids(gid: u32) -> Result<()> {
    // SAFETY: plain integers; u32::MAX (-1, "unchanged") is refused by the callers' parser.
    unsafe { syscall!(Sysno::setresgid, gid, gid, gid) }.map(|_| ())
}

/// setresuid(uid, uid, uid) — [setresuid(2)]: real, effective and saved
/// user id all `uid`; from root to another user this cannot be undone.
pub fn set_uids(uid: u32) -> Result<()> {
    // SAFETY: plain integers; u32::MAX (-1, "unchanged") is refused by the callers' parser.
    unsafe { syscall!(Sysno::setresuid, uid, uid, uid) }.map(|_| ())
}

/// prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) — [prctl(2)]: no execve from
/// here on can gain privileges (set-user-id bits, file capabilities).
pub fn no_new_privs() -> Result<()> {
    const PR_SET_NO_NEW_PRIVS: usize = 38; // <linux/prctl.h>, the same on every arch
    // SAFETY: integer arguments only; the kernel reads no memory.
    unsafe { syscall!(Sysno::prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }.map(|_| ())
}
