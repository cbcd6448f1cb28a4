//! driftd: the production sibling of drift. The server lives in
//! `drift::server` and the `get`/`check` client in `drift::client`; this
//! file only starts the process and picks between them.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

#[path = "../rt/mod.rs"]
mod rt;

/// `driftd get|check ...` is the client; anything else runs the server.
fn main(env: drift::sys::env::ProcEnv) -> i32 {
    use drift::client::{self, cmdline::Mode};
    #[cfg(feature = "tls")]
    rt::keep_hwcap(&env);
    match env.arg(1) {
        Some(b"get") => client::main(env, Mode::Get),
        Some(b"check") => client::main(env, Mode::Check),
        _ => drift::server::main(env),
    }
}
