//! driftd: the production sibling of drift. All of it lives in
//! `drift::server`; this file only starts the process.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

#[path = "../rt/mod.rs"]
mod rt;

fn main(env: drift::sys::env::ProcEnv) -> i32 {
    drift::server::main(env)
}
