//! `http://host[:port]/path?query` for `driftd get`, and IP address text.
//! Owns the split into what the client connects to and what it sends; it
//! must never accept a URL whose pieces would change the request line or the
//! Host header (a CR, LF or space), or guess at an ambiguous address.

use super::split_once;

/// An IP address, as the socket calls need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ip {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl Ip {
    /// The 16 bytes an AF_INET6 socket takes: IPv4 as `::ffff:a.b.c.d`.
    /// Out of line: inlined, each caller built the array byte by byte.
    #[inline(never)]
    pub fn to_v6_mapped(self) -> [u8; 16] {
        match self {
            Ip::V6(a) => a,
            Ip::V4([a, b, c, d]) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d],
        }
    }
}

/// Where to connect: a name still to resolve, or an address literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host<'a> {
    /// A DNS name, checked by `valid_name`.
    Name(&'a [u8]),
    Ip(Ip),
}

/// A parsed `http://` URL; every slice borrows from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Url<'a> {
    pub host: Host<'a>,
    /// 80 unless the URL says otherwise. INVARIANT: not 0.
    pub port: u16,
    /// `host[:port]` as written: the Host header's value.
    pub authority: &'a [u8],
    /// Starts with `/`; `/` when the URL has no path.
    pub path: &'a [u8],
    /// `?` and the query, or empty. The request-target is `path` + `query`;
    /// a `#fragment` is never sent.
    pub query: &'a [u8],
}

/// Why a URL was refused; `driftd get` prints the noun and exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// No `scheme://` in front.
    MissingScheme,
    /// A scheme other than `http` (`https`, `ftp`): plain HTTP only.
    UnsupportedScheme,
    /// `user[:password]@`: credentials would go out in clear text.
    Userinfo,
    /// Nothing between `//` and the port or path.
    EmptyHost,
    /// Not a host name, an IPv4 literal or a bracketed IPv6 literal (this
    /// includes `1.2.3.256`, `010.0.0.1`, `[::1%eth0]` and bare `::1`).
    BadHost,
    /// Not 1 to 5 digits, or 0, or above 65535 (an empty port too).
    BadPort,
    /// A space, control byte or DEL in the path or query.
    BadPath,
}

/// Splits an `http://` URL. The scheme is matched without regard to case;
/// the rest is taken as written (no percent-decoding: it is sent as is).
pub fn parse(url: &[u8]) -> Result<Url<'_>, UrlError> {
    let sep = url
        .windows(3)
        .position(|w| w == b"://")
        .ok_or(UrlError::MissingScheme)?;
    let scheme = url.get(..sep).unwrap_or_default();
    if scheme.is_empty()
        || !scheme
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return Err(UrlError::MissingScheme);
    }
    if !scheme.eq_ignore_ascii_case(b"http") {
        return Err(UrlError::UnsupportedScheme);
    }
    let rest = url.get(sep + 3..).unwrap_or_default();
    let end = rest
        .iter()
        .position(|&c| matches!(c, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = rest.get(..end).unwrap_or_default();
    let (target, _fragment) = split_once(rest.get(end..).unwrap_or_default(), b'#');
    if split_once(authority, b'@').1.is_some() {
        return Err(UrlError::Userinfo);
    }
    if target.iter().any(|&c| c <= b' ' || c == 0x7f) {
        return Err(UrlError::BadPath);
    }
    let q = target
        .iter()
        .position(|&c| c == b'?')
        .unwrap_or(target.len());
    let (path, query) = (
        target.get(..q).unwrap_or_default(),
        target.get(q..).unwrap_or_default(),
    );
    let path = if path.is_empty() { b"/" } else { path };

    let (host, port) = if let Some(inner) = authority.strip_prefix(b"[") {
        let (literal, after) = split_once(inner, b']');
        let ip = parse_ipv6(literal).ok_or(UrlError::BadHost)?;
        let port = match after {
            Some([]) => None,
            Some([b':', p @ ..]) => Some(p),
            _ => return Err(UrlError::BadHost),
        };
        (Host::Ip(Ip::V6(ip)), port)
    } else {
        let (name, port) = split_once(authority, b':');
        if name.is_empty() {
            return Err(UrlError::EmptyHost);
        }
        (classify_host(name)?, port)
    };
    let port = match port {
        None => 80,
        Some(p) if p.len() <= 5 => match crate::fmt::parse_u32(p) {
            Some(n @ 1..=65535) => n as u16,
            _ => return Err(UrlError::BadPort),
        },
        Some(_) => return Err(UrlError::BadPort),
    };
    Ok(Url {
        host,
        port,
        authority,
        path,
        query,
    })
}

/// An IPv4 literal, or a name. A name ending in an all-digit label is a
/// broken IPv4 literal (`1.2.3.256`, `127.1`), never looked up: browsers
/// read some of those as addresses, and a lookup would guess differently.
fn classify_host(name: &[u8]) -> Result<Host<'_>, UrlError> {
    if let Some(a) = parse_ipv4(name) {
        return Ok(Host::Ip(Ip::V4(a)));
    }
    let bare = name.strip_suffix(b".").unwrap_or(name);
    let last = bare.rsplit(|&c| c == b'.').next().unwrap_or_default();
    if !valid_name(name) || last.iter().all(u8::is_ascii_digit) {
        return Err(UrlError::BadHost);
    }
    Ok(Host::Name(name))
}

/// Whether `name` is a host name: one a URL may carry and a DNS query may
/// ask for (here, not in `dns`, so that `dns` uses `url` and not both ways): 1 to 253 bytes
/// (not counting one trailing `.`) of labels of 1 to 63 bytes of
/// `A-Z a-z 0-9 - _` (`_` for service names some hosts carry).
pub fn valid_name(name: &[u8]) -> bool {
    let name = name.strip_suffix(b".").unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let mut rest = Some(name);
    while let Some(r) = rest {
        let (label, next) = split_once(r, b'.');
        rest = next;
        let ok = |c: &u8| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_';
        if label.is_empty() || label.len() > 63 || !label.iter().all(ok) {
            return false;
        }
    }
    true
}

/// Dotted-quad IPv4, strictly: four decimal parts of 1 to 3 digits, each at
/// most 255, no leading zeros (`010` is octal to inet_aton, ten to others).
/// A `Host` value without its port: `example.com:8080` → `example.com`,
/// `[::1]:8080` → `[::1]` (an IPv6 literal keeps its brackets).
pub fn host_without_port(host: &[u8]) -> &[u8] {
    match host.iter().rposition(|&b| b == b':') {
        Some(i) if !host[i..].contains(&b']') => &host[..i],
        _ => host,
    }
}

pub fn parse_ipv4(s: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut rest = Some(s);
    for slot in &mut out {
        let (part, next) = split_once(rest?, b'.');
        rest = next;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part.first() == Some(&b'0')) {
            return None;
        }
        let mut n: u32 = 0;
        for &c in part {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u32::from(c - b'0');
        }
        *slot = u8::try_from(n).ok()?;
    }
    if rest.is_some() {
        return None;
    }
    Some(out)
}

/// IPv6 text (RFC 4291 §2.2): eight groups of 1 to 4 hex digits, one `::`
/// standing for one or more zero groups, and optionally a dotted-quad IPv4
/// as the last 32 bits. No brackets, zone (`%eth0`) or prefix length.
pub fn parse_ipv6(s: &[u8]) -> Option<[u8; 16]> {
    let mut groups = [0u16; 8];
    let mut n = 0; // groups parsed
    let mut gap = None; // where `::` stands, in groups
    let mut rest = s;
    if let Some(r) = rest.strip_prefix(b"::") {
        gap = Some(0);
        rest = r;
    }
    while !rest.is_empty() {
        let end = rest.iter().position(|&c| c == b':').unwrap_or(rest.len());
        let token = rest.get(..end).unwrap_or_default();
        if split_once(token, b'.').1.is_some() {
            // The IPv4 tail: last, and worth two groups.
            let [a, b, c, d] = parse_ipv4(token)?;
            if end != rest.len() || n > 6 {
                return None;
            }
            *groups.get_mut(n)? = u16::from_be_bytes([a, b]);
            *groups.get_mut(n + 1)? = u16::from_be_bytes([c, d]);
            n += 2;
            break;
        }
        if token.is_empty() || token.len() > 4 || n == 8 {
            return None;
        }
        let mut g: u16 = 0;
        for &c in token {
            g = g << 4 | u16::from(crate::fmt::hex_value(c)?);
        }
        *groups.get_mut(n)? = g;
        n += 1;
        rest = match rest.get(end..).unwrap_or_default() {
            [] => break,
            [b':', b':', r @ ..] if gap.is_none() => {
                gap = Some(n);
                r
            }
            [b':', r @ ..] if !r.is_empty() && !r.starts_with(b":") => r,
            _ => return None,
        };
    }
    match gap {
        None if n == 8 => {}
        Some(g) if n < 8 => {
            // Slide the groups after `::` to the end; zeros fill the gap.
            let mut i = n;
            while i > g {
                i -= 1;
                let v = core::mem::take(groups.get_mut(i)?);
                *groups.get_mut(i + 8 - n)? = v;
            }
        }
        _ => return None,
    }
    let mut out = [0u8; 16];
    for (pair, g) in out.chunks_exact_mut(2).zip(groups) {
        pair.copy_from_slice(&g.to_be_bytes());
    }
    Some(out)
}

/// An IPv4 or IPv6 literal (no brackets), as config files write them.
pub fn parse_ip(s: &[u8]) -> Option<Ip> {
    match parse_ipv4(s) {
        Some(a) => Some(Ip::V4(a)),
        None => parse_ipv6(s).map(Ip::V6),
    }
}

#[cfg(test)]
mod tests {
    use super::UrlError::*;
    use super::*;

    fn v6(s: &str) -> [u8; 16] {
        s.parse::<std::net::Ipv6Addr>().unwrap().octets()
    }

    #[test]
    fn ipv4() {
        let rows: &[(&[u8], Option<[u8; 4]>)] = &[
            (b"0.0.0.0", Some([0, 0, 0, 0])),
            (b"127.0.0.1", Some([127, 0, 0, 1])),
            (b"255.255.255.255", Some([255; 4])),
            (b"10.20.30.40", Some([10, 20, 30, 40])),
            (b"", None),
            (b"1", None),
            (b"1.2.3", None),
            (b"1.2.3.4.5", None),
            (b"1.2.3.4.", None),
            (b".1.2.3.4", None),
            (b"1..2.3", None),
            (b"256.0.0.1", None),
            (b"1.2.3.999", None),
            (b"1.2.3.1000", None),
            (b"01.2.3.4", None),
            (b"1.2.3.00", None),
            (b"0x7f.0.0.1", None),
            (b"1.2.3.-4", None),
            (b"1.2.3.+4", None),
            (b" 1.2.3.4", None),
            (b"1.2.3.4 ", None),
            (b"1.2.3.4\0", None),
            (b"\xd9\xa1.2.3.4", None),
            (b"2130706433", None),
        ];
        for &(s, want) in rows {
            assert_eq!(parse_ipv4(s), want, "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn ipv6() {
        let good = [
            "::",
            "::1",
            "1::",
            "1::2",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6::8",
            "1::3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "fe80::1:2",
            "2001:DB8::Ab:cD",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "::ffff:1.2.3.4",
            "::1.2.3.4",
            "64:ff9b::192.0.2.33",
            "1:2:3:4:5:6:1.2.3.4",
            "1::5:6:1.2.3.4",
            "0000:0000::0001",
        ];
        for s in good {
            assert_eq!(parse_ipv6(s.as_bytes()), Some(v6(s)), "{s}");
        }
        let bad: &[&[u8]] = &[
            b"",
            b":",
            b":::",
            b"::::",
            b"1:::2",
            b"1::2::3",
            b":1::2",
            b"1::2:",
            b"1:2:3:4:5:6:7",
            b"1:2:3:4:5:6:7:8:9",
            b"1:2:3:4:5:6:7:8::",
            b"::1:2:3:4:5:6:7:8",
            b"1:2:3:4::5:6:7:8",
            b"12345::",
            b"g::",
            b"1:2:3:4:5:6:7:1.2.3.4",
            b"1:2:3:4:5:6:7:8:1.2.3.4",
            b"::1.2.3.4:1",
            b"::1.2.3",
            b"::1.2.3.256",
            b"::01.2.3.4",
            b"1.2.3.4",
            b"1.2.3.4::",
            b"[::1]",
            b"fe80::1%eth0",
            b"::1/128",
            b" ::1",
            b"::1 ",
            b"::-1",
            b"::+1",
            b"1:2:3:4:5:6:7:8\0",
        ];
        for &s in bad {
            assert_eq!(parse_ipv6(s), None, "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn urls() {
        type Row = (
            &'static [u8],
            Result<
                (
                    Host<'static>,
                    u16,
                    &'static [u8],
                    &'static [u8],
                    &'static [u8],
                ),
                UrlError,
            >,
        );
        let name = |n: &'static [u8]| Host::Name(n);
        let rows: &[Row] = &[
            (
                b"http://example.com/",
                Ok((name(b"example.com"), 80, b"example.com", b"/", b"")),
            ),
            (
                b"http://example.com",
                Ok((name(b"example.com"), 80, b"example.com", b"/", b"")),
            ),
            (
                b"HTTP://Example.COM:8080/a/b?c=d#frag",
                Ok((
                    name(b"Example.COM"),
                    8080,
                    b"Example.COM:8080",
                    b"/a/b",
                    b"?c=d",
                )),
            ),
            (b"http://x?q=1", Ok((name(b"x"), 80, b"x", b"/", b"?q=1"))),
            (b"http://x#f", Ok((name(b"x"), 80, b"x", b"/", b""))),
            (b"http://x/a#f?g", Ok((name(b"x"), 80, b"x", b"/a", b""))),
            (b"http://x./", Ok((name(b"x."), 80, b"x.", b"/", b""))),
            (
                b"http://a-b_c.d9/",
                Ok((name(b"a-b_c.d9"), 80, b"a-b_c.d9", b"/", b"")),
            ),
            (
                b"http://127.0.0.1:8080/data.json",
                Ok((
                    Host::Ip(Ip::V4([127, 0, 0, 1])),
                    8080,
                    b"127.0.0.1:8080",
                    b"/data.json",
                    b"",
                )),
            ),
            (
                b"http://[::1]/",
                Ok((Host::Ip(Ip::V6(v6("::1"))), 80, b"[::1]", b"/", b"")),
            ),
            (
                b"http://[::1]:1/x",
                Ok((Host::Ip(Ip::V6(v6("::1"))), 1, b"[::1]:1", b"/x", b"")),
            ),
            (
                b"http://[::ffff:1.2.3.4]:65535",
                Ok((
                    Host::Ip(Ip::V6(v6("::ffff:1.2.3.4"))),
                    65535,
                    b"[::ffff:1.2.3.4]:65535",
                    b"/",
                    b"",
                )),
            ),
            (b"http://x:080/", Ok((name(b"x"), 80, b"x:080", b"/", b""))),
            (
                b"http://x/%2e%2e/a%20b",
                Ok((name(b"x"), 80, b"x", b"/%2e%2e/a%20b", b"")),
            ),
            // Reject rows.
            (b"", Err(MissingScheme)),
            (b"example.com/", Err(MissingScheme)),
            (b"//example.com/", Err(MissingScheme)),
            (b"http:/x/", Err(MissingScheme)),
            (b"http:x", Err(MissingScheme)),
            (b"ht tp://x/", Err(MissingScheme)),
            (b"https://example.com/", Err(UnsupportedScheme)),
            (b"HTTPS://example.com/", Err(UnsupportedScheme)),
            (b"ftp://x/", Err(UnsupportedScheme)),
            (b"httpx://x/", Err(UnsupportedScheme)),
            (b"http://user@x/", Err(Userinfo)),
            (b"http://user:pw@x/", Err(Userinfo)),
            (b"http://@x/", Err(Userinfo)),
            (b"http://x@evil.com:80@good.com/", Err(Userinfo)),
            (b"http:///path", Err(EmptyHost)),
            (b"http://", Err(EmptyHost)),
            (b"http://:80/", Err(EmptyHost)),
            (b"http://?x", Err(EmptyHost)),
            (b"http://::1/", Err(EmptyHost)),
            (b"http://[::1/", Err(BadHost)),
            (b"http://[]/", Err(BadHost)),
            (b"http://[1.2.3.4]/", Err(BadHost)),
            (b"http://[::1%25eth0]/", Err(BadHost)),
            (b"http://[::1]x/", Err(BadHost)),
            (b"http://[::1]]/", Err(BadHost)),
            (b"http://1.2.3.256/", Err(BadHost)),
            (b"http://010.0.0.1/", Err(BadHost)),
            (b"http://127.1/", Err(BadHost)),
            (b"http://2130706433/", Err(BadHost)),
            (b"http://1.2.3.4./", Err(BadHost)),
            (b"http://a..b/", Err(BadHost)),
            (b"http://.a/", Err(BadHost)),
            (b"http://a b/", Err(BadHost)),
            (b"http://a%2eb/", Err(BadHost)),
            (b"http://a\\b/", Err(BadHost)),
            (b"http://\xc3\xa9.com/", Err(BadHost)),
            (b"http://x\r\nHost: y/", Err(BadHost)),
            (b"http://x:0/", Err(BadPort)),
            (b"http://x:65536/", Err(BadPort)),
            (b"http://x:99999/", Err(BadPort)),
            (b"http://x:000080/", Err(BadPort)),
            (b"http://x:/", Err(BadPort)),
            (b"http://x:8o/", Err(BadPort)),
            (b"http://x:-1/", Err(BadPort)),
            (b"http://x:+80/", Err(BadPort)),
            (b"http://x:80:80/", Err(BadPort)),
            (b"http://[::1]:/", Err(BadPort)),
            (b"http://[::1]:0/", Err(BadPort)),
            (b"http://x/a b", Err(BadPath)),
            (b"http://x/a\r\nHost: evil", Err(BadPath)),
            (b"http://x/?a\nb", Err(BadPath)),
            (b"http://x/a\x7f", Err(BadPath)),
            (b"http://x/a\0", Err(BadPath)),
        ];
        for &(url, want) in rows {
            let got = parse(url).map(|u| (u.host, u.port, u.authority, u.path, u.query));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(url));
        }
    }

    #[test]
    fn mapped() {
        assert_eq!(Ip::V4([1, 2, 3, 4]).to_v6_mapped(), v6("::ffff:1.2.3.4"));
        assert_eq!(Ip::V6(v6("::1")).to_v6_mapped(), v6("::1"));
        assert_eq!(parse_ip(b"1.2.3.4"), Some(Ip::V4([1, 2, 3, 4])));
        assert_eq!(parse_ip(b"::1"), Some(Ip::V6(v6("::1"))));
        assert_eq!(parse_ip(b"localhost"), None);
    }
}
