//! The client's address behind trusted proxies: CIDR lists (checked at
//! start, matched per request), and `Forwarded` (RFC 7239) or
//! `X-Forwarded-For` read from the right. It owns the rule that a client
//! cannot choose its own address: a header counts only when the peer is a
//! trusted proxy, and only the hops trusted proxies wrote are believed.
//!
//! Decisions:
//! - The walk starts at the peer and goes right to left, past every
//!   address that is itself trusted (nginx's `real_ip_recursive on`). The
//!   first untrusted address is the client. What a client wrote itself sits
//!   to the left of that, so it is never read: neither its forged addresses
//!   nor its junk can move the answer.
//! - An entry that names no address (`unknown`, an `_obfuscated` node, a
//!   `Forwarded` element without `for=`) or cannot be read stops the walk:
//!   the last hop known for certain stands (the peer, when it is the
//!   rightmost entry). When every address is trusted, the leftmost does.
//! - More than [`MAX_HOPS`] entries walked gives the peer. The header's
//!   size is not capped here: the request head already is, and a cap would
//!   let a client pad its own part to push the answer back to the proxy.
//! - Elements are split at every comma, quotes or not: no proxy writes a
//!   comma inside a `for=` value, and a client's quoted comma only garbles
//!   its own part.

use super::url::{parse_ipv4, parse_ipv6};
use super::{split_once, trim_ows};

/// The most entries walked: a chain of 64 trusted proxies is a loop or an
/// attack, not a deployment.
pub const MAX_HOPS: usize = 64;

/// Why a configured address list was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CidrError {
    /// No address at all.
    Empty,
    /// Not an IPv4 dotted quad or IPv6 text (`010.0.0.1` and `fe80::1%eth0`
    /// included).
    BadAddress,
    /// A prefix length that is not 0 to 32 (IPv4) or 0 to 128 (IPv6) in
    /// decimal without a leading zero.
    BadPrefix,
    /// Bits set past the prefix (`10.0.0.1/8`): a typo for an address or
    /// for a shorter prefix, so neither is guessed.
    HostBits,
}

impl CidrError {
    /// The refusal as a config error says it.
    pub fn what(self) -> &'static str {
        match self {
            CidrError::Empty => "takes one or more addresses or CIDR ranges",
            CidrError::BadAddress => "an address is IPv4 (10.0.0.1) or IPv6 (fd00::1), without a zone",
            CidrError::BadPrefix => "a prefix length is /0 to /32 for IPv4, /0 to /128 for IPv6",
            CidrError::HostBits => "bits are set past the prefix length: write the network (10.0.0.0/8)",
        }
    }
}

/// A range, IPv4 ones as their IPv4-mapped IPv6 equivalent (`/8` is `/104`).
struct Cidr {
    net: [u8; 16],
    /// INVARIANT: at most 128; `net` has no bit set past it.
    bits: u32,
}

fn words(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&b| matches!(b, b' ' | b'\t' | b',')).filter(|w| !w.is_empty())
}

fn mapped([a, b, c, d]: [u8; 4]) -> [u8; 16] {
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d]
}

fn cidr(word: &[u8]) -> Result<Cidr, CidrError> {
    let (addr, len) = split_once(word, b'/');
    let (net, max, base) = match (parse_ipv4(addr), parse_ipv6(addr)) {
        (Some(a), _) => (mapped(a), 32, 96),
        (None, Some(a)) => (a, 128, 0),
        (None, None) => return Err(CidrError::BadAddress),
    };
    let bits = match len {
        None => max,
        Some(l) => {
            if l.is_empty() || l.len() > 3 || (l.len() > 1 && l.first() == Some(&b'0')) {
                return Err(CidrError::BadPrefix);
            }
            let mut n = 0u32;
            for &c in l {
                if !c.is_ascii_digit() {
                    return Err(CidrError::BadPrefix);
                }
                n = n * 10 + u32::from(c - b'0');
            }
            if n > max {
                return Err(CidrError::BadPrefix);
            }
            n
        }
    };
    let bits = base + bits;
    if masked(&net, bits) != net {
        return Err(CidrError::HostBits);
    }
    Ok(Cidr { net, bits })
}

/// `a` with every bit past the first `bits` cleared.
fn masked(a: &[u8; 16], bits: u32) -> [u8; 16] {
    let mut out = *a;
    for (i, b) in out.iter_mut().enumerate() {
        let keep = bits.saturating_sub(8 * i as u32).min(8);
        *b &= (0xff00u16 >> keep) as u8;
    }
    out
}

/// Checks a configured list: addresses and CIDR ranges separated by
/// spaces, tabs or commas (`10.0.0.0/8 192.168.1.5, ::1/128 fd00::/8`). A
/// bare address is a /32 or /128.
pub fn check_cidrs(list: &[u8]) -> Result<(), CidrError> {
    let mut count = 0;
    for w in words(list) {
        cidr(w)?;
        count += 1;
    }
    if count == 0 { Err(CidrError::Empty) } else { Ok(()) }
}

/// Whether `ip` (IPv4 as IPv4-mapped) is in a list [`check_cidrs`]
/// accepted. An IPv4 range matches mapped addresses only; words the check
/// would refuse match nothing.
pub fn in_cidrs(list: &[u8], ip: &[u8; 16]) -> bool {
    words(list).any(|w| cidr(w).is_ok_and(|c| masked(ip, c.bits) == c.net))
}

/// The client's address (IPv4 as IPv4-mapped) for a connection from
/// `peer`. Unless the peer is in `trusted` (a list [`check_cidrs`]
/// accepted), the peer. Otherwise the walk over `Forwarded` when given,
/// else over `X-Forwarded-For`, as the module doc says.
///
/// Each header is all of its field lines joined by commas (RFC 9110
/// §5.3). Pass only the header the trusted proxies write: a proxy that
/// appends to `X-Forwarded-For` passes a client's own `Forwarded` through
/// untouched, and that one would be believed.
pub fn client_from(
    peer: &[u8; 16],
    trusted: &[u8],
    forwarded: Option<&[u8]>,
    x_forwarded_for: Option<&[u8]>,
) -> [u8; 16] {
    if !in_cidrs(trusted, peer) {
        return *peer;
    }
    let (list, rfc7239) = match (forwarded, x_forwarded_for) {
        (Some(f), _) => (f, true),
        (None, Some(x)) => (x, false),
        (None, None) => return *peer,
    };
    let mut known = *peer;
    let mut hops = 0;
    for entry in list.rsplit(|&b| b == b',').map(trim_ows) {
        if entry.is_empty() {
            continue; // an empty list element (RFC 9110 §5.6.1)
        }
        hops += 1;
        if hops > MAX_HOPS {
            return *peer;
        }
        let hop = if rfc7239 { element_for(entry) } else { node(entry) };
        let Some(ip) = hop else { return known };
        if !in_cidrs(trusted, &ip) {
            return ip;
        }
        known = ip;
    }
    known
}

/// The address in one `Forwarded` element's `for=` value (`for=192.0.2.60;
/// proto=http`, `For="[2001:db8:cafe::17]:4711"`), or `None`: no `for`,
/// two of them, a malformed pair, or a node that names no address.
fn element_for(element: &[u8]) -> Option<[u8; 16]> {
    let mut found = None;
    for pair in element.split(|&b| b == b';').map(trim_ows) {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = split_once(pair, b'=');
        let value = value?;
        if name.is_empty() || !name.iter().all(|&c| is_tchar(c)) {
            return None;
        }
        // Quoted or not, the same bytes: a node never needs an escape.
        let value = match value {
            [b'"', inner @ .., b'"'] => inner,
            v => v,
        };
        if value.is_empty() || !value.iter().all(|&c| c.is_ascii_graphic() && c != b'"' && c != b'\\') {
            return None;
        }
        if name.eq_ignore_ascii_case(b"for") {
            if found.is_some() {
                return None; // RFC 7239 §4: at most one per element
            }
            found = Some(value);
        }
    }
    node(found?)
}

/// A token character (RFC 9110 §5.6.2), for parameter names.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// A node (RFC 7239 §6: `192.0.2.43`, `[2001:db8::1]:4711`, `unknown`,
/// `_hidden:_port`), as `X-Forwarded-For` entries are written too, plus
/// bare IPv6 as nginx's `$remote_addr` writes it. `None` for a node that
/// names no address and for anything else.
fn node(s: &[u8]) -> Option<[u8; 16]> {
    let (host, port) = match s {
        [b'[', rest @ ..] => {
            let (inside, after) = split_once(rest, b']');
            return match after? {
                [] => parse_ipv6(inside),
                [b':', p @ ..] if valid_port(p) => parse_ipv6(inside),
                _ => None,
            };
        }
        // Two colons or more: bare IPv6, no port.
        _ if s.iter().filter(|&&c| c == b':').count() > 1 => return parse_ipv6(s),
        _ => split_once(s, b':'),
    };
    if port.is_some_and(|p| !valid_port(p)) {
        return None;
    }
    parse_ipv4(host).map(mapped)
}

/// `1*5DIGIT` or an obfuscated port (`_` and letters, digits, `._-`).
fn valid_port(p: &[u8]) -> bool {
    match p {
        [b'_', rest @ ..] => {
            !rest.is_empty() && rest.iter().all(|&c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
        }
        _ => !p.is_empty() && p.len() <= 5 && p.iter().all(u8::is_ascii_digit),
    }
}

#[cfg(test)]
mod tests {
    use super::CidrError::*;
    use super::*;

    fn ip(s: &str) -> [u8; 16] {
        match s.parse::<std::net::IpAddr>().unwrap() {
            std::net::IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            std::net::IpAddr::V6(a) => a.octets(),
        }
    }

    #[test]
    fn check_table() {
        for ok in [
            "10.0.0.0/8",
            "10.0.0.0/8 192.168.1.5 ::1/128 fd00::/8",
            " 10.0.0.0/8,192.168.0.0/16,\t2001:db8::/32 ",
            "0.0.0.0/0",
            "::/0",
            "1.2.3.4/32",
            "192.168.1.128/25",
            "::ffff:10.0.0.0/104",
            "fe80::1",
        ] {
            assert_eq!(check_cidrs(ok.as_bytes()), Ok(()), "{ok:?}");
        }
        #[rustfmt::skip]
        let rejects: &[(&str, CidrError)] = &[
            ("", Empty),
            (" , \t", Empty),
            ("10.0.0.0/8 x", BadAddress),
            ("010.0.0.0/8", BadAddress),
            ("10.0.0/8", BadAddress),
            ("fe80::1%eth0", BadAddress),
            ("[::1]", BadAddress),
            ("/8", BadAddress),
            ("10.0.0.0/33", BadPrefix),
            ("::/129", BadPrefix),
            ("10.0.0.0/", BadPrefix),
            ("10.0.0.0/08", BadPrefix),
            ("10.0.0.0/8/8", BadPrefix),
            ("10.0.0.0/-1", BadPrefix),
            ("10.0.0.0/1000", BadPrefix),
            ("10.0.0.1/8", HostBits),
            ("192.168.1.5/24", HostBits),
            ("fd00::1/8", HostBits),
            ("1.0.0.0/0", HostBits),
        ];
        for &(list, want) in rejects {
            assert_eq!(check_cidrs(list.as_bytes()), Err(want), "{list:?}");
            assert!(!want.what().is_empty());
        }
    }

    #[test]
    fn match_table() {
        #[rustfmt::skip]
        let rows: &[(&str, &str, bool)] = &[
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.0", false),
            ("10.0.0.0/8", "::a00:1", false), // IPv4-compatible, not mapped
            ("192.168.1.5", "192.168.1.5", true),
            ("192.168.1.5", "192.168.1.4", false),
            ("192.168.1.128/25", "192.168.1.255", true),
            ("192.168.1.128/25", "192.168.1.127", false),
            ("172.16.0.0/12", "172.31.255.255", true),
            ("172.16.0.0/12", "172.32.0.0", false),
            ("0.0.0.0/0", "203.0.113.5", true),
            ("0.0.0.0/0", "2001:db8::1", false),
            ("::/0", "203.0.113.5", true),
            ("::/0", "2001:db8::1", true),
            ("::1/128", "::1", true),
            ("::1", "::2", false),
            ("fd00::/8", "fdff:1::1", true),
            ("fd00::/8", "fe00::", false),
            ("2001:db8::/127", "2001:db8::1", true),
            ("2001:db8::/127", "2001:db8::2", false),
            ("::ffff:10.0.0.0/104", "10.1.2.3", true),
            ("1.2.3.4 10.0.0.0/8, fd00::/8", "fd12::5", true),
            ("junk 10.0.0.0/8", "10.0.0.1", true),
            ("junk 10.0.0.1/8", "10.0.0.1", false),
            ("", "10.0.0.1", false),
        ];
        for &(list, addr, want) in rows {
            assert_eq!(in_cidrs(list.as_bytes(), &ip(addr)), want, "{list:?} {addr:?}");
        }
    }

    #[test]
    fn client_table() {
        const T: &str = "10.0.0.0/8 fd00::/8";
        #[rustfmt::skip]
        let rows: &[(&str, Option<&str>, Option<&str>, &str)] = &[
            // peer 10.0.0.1 (trusted) unless the row says otherwise, below
            (T, None, None, "10.0.0.1"),
            (T, None, Some("203.0.113.5"), "203.0.113.5"),
            (T, None, Some(" 203.0.113.5 "), "203.0.113.5"),
            (T, None, Some("203.0.113.5, 10.0.0.7"), "203.0.113.5"),
            (T, None, Some("203.0.113.5,10.0.0.7 , 10.9.9.9"), "203.0.113.5"),
            (T, None, Some("10.0.0.9, 10.0.0.7"), "10.0.0.9"),
            (T, None, Some("203.0.113.5:4711"), "203.0.113.5"),
            (T, None, Some("[2001:db8::5]:443"), "2001:db8::5"),
            (T, None, Some("[2001:db8::5]"), "2001:db8::5"),
            (T, None, Some("2001:db8::5"), "2001:db8::5"),
            (T, None, Some("::ffff:203.0.113.5"), "203.0.113.5"),
            (T, None, Some("203.0.113.5, , "), "203.0.113.5"),
            // forged: the client's own header is to the left, never read
            (T, None, Some("6.6.6.6, 203.0.113.5"), "203.0.113.5"),
            (T, None, Some("10.0.0.2, 203.0.113.5"), "203.0.113.5"),
            (T, None, Some("junk, 203.0.113.5"), "203.0.113.5"),
            (T, None, Some("\"6.6.6.6, 203.0.113.5"), "203.0.113.5"),
            // junk, or no address, where a trusted proxy wrote: the last known hop
            (T, None, Some("junk"), "10.0.0.1"),
            (T, None, Some(""), "10.0.0.1"),
            (T, None, Some("unknown"), "10.0.0.1"),
            (T, None, Some("203.0.113.5, unknown"), "10.0.0.1"),
            (T, None, Some("203.0.113.5, junk, 10.0.0.7"), "10.0.0.7"),
            (T, None, Some("010.0.0.5"), "10.0.0.1"),
            (T, None, Some("203.0.113.5:65536x"), "10.0.0.1"),
            (T, None, Some("203.0.113.5:"), "10.0.0.1"),
            (T, None, Some("[203.0.113.5]"), "10.0.0.1"),
            (T, None, Some("[2001:db8::5]x"), "10.0.0.1"),
            (T, None, Some("fe80::1%eth0"), "10.0.0.1"),
            // Forwarded, RFC 7239's examples
            (T, Some("for=\"_gazonk\""), None, "10.0.0.1"),
            (T, Some("For=\"[2001:db8:cafe::17]:4711\""), None, "2001:db8:cafe::17"),
            (T, Some("for=192.0.2.60;proto=http;by=203.0.113.43"), None, "192.0.2.60"),
            (T, Some("for=192.0.2.43, for=198.51.100.17"), None, "198.51.100.17"),
            (T, Some("for=192.0.2.43, for=10.0.0.3"), None, "192.0.2.43"),
            (T, Some("for=unknown"), None, "10.0.0.1"),
            (T, Some("for=\"unknown:_p\", for=10.0.0.3"), None, "10.0.0.3"),
            (T, Some("for=\"192.0.2.43:_hidden\""), None, "192.0.2.43"),
            (T, Some("proto=https;for=192.0.2.60 ; host=a"), None, "192.0.2.60"),
            (T, Some("for=[2001:db8::1]"), None, "2001:db8::1"),
            (T, Some("for=2001:db8::1"), None, "2001:db8::1"),
            // Forwarded wins over X-Forwarded-For when both are given
            (T, Some("for=192.0.2.60"), Some("198.51.100.1"), "192.0.2.60"),
            (T, Some(""), Some("198.51.100.1"), "10.0.0.1"),
            // forged Forwarded, and junk in it
            (T, Some("for=6.6.6.6, for=192.0.2.60"), None, "192.0.2.60"),
            (T, Some("for=\"6.6.6.6, for=1.1.1.1\", for=192.0.2.60"), None, "192.0.2.60"),
            (T, Some("for=\"1.2.3.4"), None, "10.0.0.1"),
            (T, Some("for=\"1.2.3\\.4\""), None, "10.0.0.1"),
            (T, Some("for=1.2.3.4;for=5.6.7.8"), None, "10.0.0.1"),
            (T, Some("proto=https"), None, "10.0.0.1"),
            (T, Some("for"), None, "10.0.0.1"),
            (T, Some("=1.2.3.4"), None, "10.0.0.1"),
            (T, Some("f r=1;for=1.2.3.4"), None, "10.0.0.1"),
            (T, Some("for="), None, "10.0.0.1"),
            (T, Some("for=\"\""), None, "10.0.0.1"),
            (T, Some("for=1.2.3.4 5"), None, "10.0.0.1"),
            // not trusted: the headers are the client's own
            ("192.168.0.0/16", None, Some("203.0.113.5"), "10.0.0.1"),
            ("", Some("for=203.0.113.5"), Some("203.0.113.5"), "10.0.0.1"),
        ];
        let peer = ip("10.0.0.1");
        for &(trusted, fwd, xff, want) in rows {
            let got = client_from(&peer, trusted.as_bytes(), fwd.map(str::as_bytes), xff.map(str::as_bytes));
            assert_eq!(got, ip(want), "{trusted:?} {fwd:?} {xff:?}");
        }
        // An IPv6 peer, trusted by its own range.
        let p6 = ip("fd00::9");
        assert_eq!(client_from(&p6, T.as_bytes(), None, Some(b"203.0.113.5")), ip("203.0.113.5"));
        assert_eq!(client_from(&p6, b"10.0.0.0/8", None, Some(b"203.0.113.5")), p6);
        // Walks of 64 trusted hops end at the leftmost; of 65, at the peer.
        let chain = |n: usize| (0..n).map(|i| format!("10.0.1.{i}")).collect::<Vec<_>>().join(", ");
        let c64 = chain(MAX_HOPS);
        assert_eq!(client_from(&peer, T.as_bytes(), None, Some(c64.as_bytes())), ip("10.0.1.0"));
        let c65 = chain(MAX_HOPS + 1);
        assert_eq!(client_from(&peer, T.as_bytes(), None, Some(c65.as_bytes())), peer);
        // A client's long header on the left changes nothing.
        let padded = format!("{}, 203.0.113.5", "6.6.6.6, ".repeat(1000));
        assert_eq!(client_from(&peer, T.as_bytes(), None, Some(padded.as_bytes())), ip("203.0.113.5"));
    }
}
