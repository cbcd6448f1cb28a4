//! The syscall layer: one thin, safe wrapper per system call, over the
//! `syscalls` crate's raw `svc #0` / `syscall`. Nothing here allocates or
//! decides policy; every raw pointer and `as usize` cast stays in this folder.
#![allow(unsafe_code)]

pub mod env;
pub mod epoll;
pub mod fd;
pub mod fs;
#[cfg(feature = "tls")]
pub mod heap;
pub mod inotify;
pub mod io;
pub mod mem;
pub mod net;
pub mod poll;
pub mod process;
pub mod signal;
pub mod staticbuf;
pub mod time;

pub use fd::{BorrowedFd, OwnedFd};
pub use staticbuf::StaticCell;
pub use syscalls::Errno;

/// The result of a system call: a value, or the kernel's errno.
pub type Result<T> = core::result::Result<T, Errno>;
