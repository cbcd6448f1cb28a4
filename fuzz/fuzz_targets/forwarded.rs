//! CIDR lists and the client behind trusted proxies. Input: a flags byte
//! (1: Forwarded given, 2: X-Forwarded-For given, 4: the peer is the list's
//! first address), then list NUL Forwarded NUL X-Forwarded-For.
//! Properties: an untrusted peer is the answer; any other answer is an
//! address written in the headers (a run of hex digits, dots and colons,
//! or such a run without its `:port`), never one made up.
#![no_main]
use drift::content::forwarded::{check_cidrs, client_from, in_cidrs};
use drift::content::url::parse_ip;
use libfuzzer_sys::fuzz_target;

/// Whether `ip` is written in `h` as a whole address.
fn written(ip: &[u8; 16], h: &[u8]) -> bool {
    let is = |s: &[u8]| parse_ip(s).is_some_and(|a| a.to_v6_mapped() == *ip);
    h.split(|&c| !(c.is_ascii_hexdigit() || c == b'.' || c == b':'))
        .any(|run| is(run) || run.iter().rposition(|&c| c == b':').is_some_and(|i| is(&run[..i])))
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let mut parts = rest.splitn(3, |&b| b == 0);
    let trusted = parts.next().unwrap_or_default();
    let fwd = parts.next().filter(|_| flags & 1 != 0);
    let xff = parts.next().filter(|_| flags & 2 != 0);
    let _ = check_cidrs(trusted);
    let first = trusted.split(|&c| matches!(c, b' ' | b'\t' | b',' | b'/')).find(|w| !w.is_empty());
    let peer = match first.and_then(parse_ip) {
        Some(a) if flags & 4 != 0 => a.to_v6_mapped(),
        _ => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 7],
    };
    let got = client_from(&peer, trusted, fwd, xff);
    if !in_cidrs(trusted, &peer) {
        assert_eq!(got, peer);
    }
    if got != peer {
        let h = if fwd.is_some() { fwd } else { xff };
        assert!(h.is_some_and(|h| written(&got, h)), "{got:?} from {fwd:?} {xff:?}");
    }
});
