//! drift: the walkthrough's ARM64 assembly server, in Rust with no libc.
//! All of it lives in `drift::mirror`; this file only starts the process.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

#[path = "../rt/mod.rs"]
mod rt;

fn main(env: drift::sys::env::ProcEnv) -> i32 {
    drift::mirror::main(env)
}
