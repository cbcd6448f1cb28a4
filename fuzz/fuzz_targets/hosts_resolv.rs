//! /etc/hosts and resolv.conf text. Properties: a hosts match comes from a
//! line that names the host (any case) before any `#`; the nameserver
//! found is on a `nameserver` line.
#![no_main]
use drift::content::dns::{lookup_hosts, nameserver_from_resolv_conf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nameserver_from_resolv_conf(data);
    if nameserver_from_resolv_conf(data).is_some() {
        assert!(data.windows(10).any(|w| w == b"nameserver"));
    }
    // names to look for: some fixed, and the first words of the first line
    // (a few: each lookup reads all of the text)
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let words = first.split(|&b| b <= b' ').filter(|w| !w.is_empty()).take(4);
    for name in [&b"localhost"[..], b"LocalHost", b"x"].into_iter().chain(words) {
        if lookup_hosts(data, name).is_some() {
            let lower = name.to_ascii_lowercase();
            let named = data.split(|&b| b == b'\n').any(|line| {
                let line = line.split(|&b| b == b'#').next().unwrap_or_default();
                line.to_ascii_lowercase().windows(lower.len()).any(|w| w == lower.as_slice())
            });
            assert!(named, "{name:?}");
        }
    }
});
