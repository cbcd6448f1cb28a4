//! Drift: a libc-free HTTP server for Linux.
//!
//! The tree says where things happen: `sys` is the only place that issues
//! system calls (and the only place, with the binaries' `rt`, that may use
//! `unsafe`); `fmt` and `errno` turn numbers into bytes; `mirror` is the
//! walkthrough's server. Everything outside `sys` is plain, host-testable Rust.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

// rustls and its provider need a heap; only HTTPS uses one.
#[cfg(feature = "tls")]
extern crate alloc;

pub mod client;
pub mod content;
pub mod diag;
pub mod errno;
pub mod fmt;
pub mod http;
pub mod mirror;
pub mod server;
pub mod sys;
#[cfg(feature = "tls")]
pub mod tls;
