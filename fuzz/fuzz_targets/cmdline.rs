//! The command lines: `driftd [OPTION]...` and `driftd get|check ...`.
//! Words are the input split at NUL (as argv is). Properties: a parse
//! never panics; what it accepts is within the limits the server's tables
//! were sized for.
#![no_main]
use drift::client::cmdline::{self, Mode};
use drift::server::config::{self, Command, MAX_CONNS, MAX_FIXED_BODY, MAX_HEAD};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let words = || data.split(|&b| b == 0);
    match config::parse(words(), None) {
        Command::Serve(c) => {
            assert!(c.port != 0);
            // 0: as many as the descriptor limit allows, worked out at start.
            assert!(c.max_conns <= MAX_CONNS, "{}", c.max_conns);
            assert!(c.body.len() <= MAX_FIXED_BODY);
            assert!(c.max_head <= MAX_HEAD);
            assert!(!c.kv_prefix.is_empty() && c.kv_prefix[0] == b'/');
        }
        Command::Usage(why, _) => assert!(!why.is_empty()),
        Command::Help | Command::Version => {}
    }
    let (env_port, rest) = data.split_at(data.len().min(6));
    let _ = config::parse(words(), Some(env_port));
    let _ = rest;
    for mode in [Mode::Get, Mode::Check] {
        if let cmdline::Parsed::Run(a) = cmdline::parse(mode, words()) {
            assert!(!a.url.is_empty());
            assert!(a.timeout_ms >= 1000 && a.timeout_ms <= 86_400_000);
            assert!(mode == Mode::Get || a.output.is_none());
        }
    }
});
