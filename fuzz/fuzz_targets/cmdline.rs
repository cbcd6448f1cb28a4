//! The settings as a user gives them, and `driftd get|check ...`.
//! The input is command-line words split at NUL (as argv is), then, after
//! a 0xFF byte, a config file's text. Properties: loading never panics;
//! what it accepts is within the limits the server's tables were sized
//! for; a refusal is one line; `--check-config` can describe what loaded.
#![no_main]
use drift::client::cmdline::{self, Mode};
use drift::server::config::{Rule, Site, MAX_CONNS, MAX_FIXED_BODY, MAX_HEAD};
use drift::server::settings::{refusal_line, Action, Loader, Room};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (args, file) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    let words = || args.split(|&b| b == 0);
    let mut sites = vec![Site::default(); 8];
    let mut rules = vec![Rule::EMPTY; 2 * (file.split(|&b| b == b'\n').count() + words().count() + 1)];
    let mut ld = Loader::new(Room { sites: &mut sites, rules: &mut rules });
    let loaded = ld
        .flags(words())
        .and_then(|a| ld.env(|n| (n == b"DRIFTD_GRACE").then_some(&args[..args.len().min(3)])).map(|_| a))
        .and_then(|a| ld.file(file).map(|_| a))
        .and_then(|a| ld.finish().map(|c| (a, c)));
    match loaded {
        Ok((Action::Serve, c)) => {
            assert!(c.port != 0);
            assert!(c.max_conns <= MAX_CONNS, "{}", c.max_conns);
            assert!(c.body.len() <= MAX_FIXED_BODY);
            assert!(c.max_head <= MAX_HEAD);
            assert!(!c.kv_prefix.is_empty() && c.kv_prefix[0] == b'/');
            for s in c.sites {
                let (from, to) = s.rules;
                assert!(from <= to && to as usize <= c.rules.len());
            }
            let mut out = 0usize;
            ld.describe(&c, b"drift.conf", &mut |b| out += b.len());
            assert!(out > 0);
        }
        Ok(_) => {}
        Err(r) => {
            let mut buf = [0u8; 1024];
            let line = refusal_line(&r, b"drift.conf", &mut buf);
            // one line, and for a flag or variable a second that points to --help
            let shown = String::from_utf8_lossy(line);
            assert!(line.starts_with(b"driftd: ") && line.ends_with(b"\n"), "{shown:?}");
            let controls = line.iter().filter(|&&b| b < 0x20 || b == 0x7f).count();
            assert!(controls == 1 || (controls == 2 && shown.ends_with("\n(driftd --help lists the options)\n")), "{shown:?}");
        }
    }
    for mode in [Mode::Get, Mode::Check] {
        if let cmdline::Parsed::Run(a) = cmdline::parse(mode, words()) {
            assert!(!a.url.is_empty());
            assert!(a.timeout_ms >= 1000 && a.timeout_ms <= 86_400_000);
            assert!(mode == Mode::Get || a.output.is_none());
        }
    }
});
