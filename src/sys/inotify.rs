//! inotify: the kernel says when a watched directory's entries change, so a
//! cache of open files can drop what went stale before it answers again.
use super::{BorrowedFd, Errno, OwnedFd, Result};
use linux_raw_sys::general as g;
use syscalls::{Sysno, syscall};

pub use linux_raw_sys::general::{
    IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_IGNORED, IN_MOVE_SELF, IN_MOVED_FROM, IN_MOVED_TO, IN_Q_OVERFLOW,
};

/// Everything that can make a cached file's answer different: its bytes
/// (write, truncate), its mode (chmod), its name (rename over, delete), a
/// sibling appearing or going (`NAME.br`, `NAME.zst`, `NAME.gz`), the directory itself going.
pub const STALE_EVENTS: u32 = g::IN_MODIFY
    | g::IN_ATTRIB
    | g::IN_CLOSE_WRITE
    | g::IN_CREATE
    | g::IN_DELETE
    | g::IN_MOVED_FROM
    | g::IN_MOVED_TO
    | g::IN_DELETE_SELF
    | g::IN_MOVE_SELF;

/// inotify_init1(IN_NONBLOCK | IN_CLOEXEC) — [inotify_init1(2)].
pub fn init() -> Result<OwnedFd> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::inotify_init1, g::IN_NONBLOCK | g::IN_CLOEXEC) }.map(OwnedFd::from_raw)
}

/// inotify_add_watch(fd, path, mask | IN_ONLYDIR | IN_DONT_FOLLOW) —
/// [inotify_add_watch(2)]: watches the directory `path` (NUL-terminated,
/// relative to the current directory) without following a link; returns
/// its watch descriptor (the same one again for a directory already watched).
pub fn add_dir_watch(fd: BorrowedFd<'_>, path: &[u8], mask: u32) -> Result<i32> {
    if path.last() != Some(&0) {
        return Err(Errno::EINVAL);
    }
    let mask = mask | g::IN_ONLYDIR | g::IN_DONT_FOLLOW;
    // SAFETY: path is NUL-terminated and lives across the call.
    unsafe { syscall!(Sysno::inotify_add_watch, fd.arg(), path.as_ptr(), mask) }.map(|wd| wd as i32)
}

/// One event read from an inotify descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    pub wd: i32,
    pub mask: u32,
    /// The entry's name inside the watched directory (empty for events on
    /// the directory itself), without the NUL padding.
    pub name: &'a [u8],
}

/// The events in `buf` (what one read returned): `struct inotify_event`
/// headers of 16 bytes, each followed by `len` bytes of NUL-padded name.
/// A record cut short ends the walk.
pub fn events(buf: &[u8]) -> impl Iterator<Item = Event<'_>> {
    let mut at = 0;
    core::iter::from_fn(move || {
        let h = buf.get(at..at + 16)?;
        let word = |i: usize| u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let len = word(12) as usize;
        let name = buf.get(at + 16..at + 16 + len)?;
        at += 16 + len;
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        Some(Event { wd: word(0) as i32, mask: word(4), name: &name[..end] })
    })
}
