//! Access-log lines (Common Log Format, Apache/nginx combined, and one JSON
//! object a line), each built in a fixed buffer so a line goes out in one
//! write. Owns the escaping of what the client sent: a request line, a
//! user agent or a referer never puts a newline, a raw quote or a control
//! byte in the log, and a JSON line is valid JSON whatever the bytes.

use super::date::{civil, name3, two_digits, MAX_SECS, MONTH_NAMES};
use super::response::Out;

/// Longest address text: `ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff`.
pub const IP_MAX: usize = 39;

/// Room for the escaped request line; a longer one is cut and ends in `...`.
pub const REQUEST_MAX: usize = 1024;

/// Room for the site's name and the user's, escaped; longer ones are cut.
pub const SITE_MAX: usize = 128;
pub const USER_MAX: usize = 128;

/// Room for a whole line: site and space, address, ` - `, user, ` [`,
/// 26-byte time, `] "`, request, `" `, status (5 digits at most), space,
/// bytes (20), newline.
pub const LINE_MAX: usize = SITE_MAX + 1 + IP_MAX + 3 + USER_MAX + 2 + 26 + 3 + REQUEST_MAX + 2 + 5 + 1 + 20 + 1;

/// Writes `ip` as text and returns its length: an IPv4-mapped address
/// (`::ffff:a.b.c.d`, how a dual-stack socket reports IPv4 peers) as plain
/// `a.b.c.d`, any other in RFC 5952's canonical form (lowercase, no
/// leading zeros, the longest run of two or more zero groups as `::`).
/// A client's address for a log line: [`format_ip`], but `::`, which no
/// TCP peer can be, is a Unix socket's client: `unix` (one token, as the
/// field must stay).
pub fn format_client(ip: &[u8; 16], out: &mut [u8; IP_MAX]) -> usize {
    if *ip == [0; 16] {
        out[..4].copy_from_slice(b"unix");
        return 4;
    }
    format_ip(ip, out)
}

pub fn format_ip(ip: &[u8; 16], out: &mut [u8; IP_MAX]) -> usize {
    let mut o = Out::new(out);
    match ip {
        // One 12-byte comparison: a slice pattern of twelve literals
        // compiles to twelve compares.
        [.., a, b, c, d] if ip[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] => {
            o.u64(u64::from(*a)).byte(b'.').u64(u64::from(*b)).byte(b'.');
            o.u64(u64::from(*c)).byte(b'.').u64(u64::from(*d));
        }
        _ => {
            let mut groups = [0u16; 8];
            for (g, pair) in groups.iter_mut().zip(ip.chunks_exact(2)) {
                if let [hi, lo] = *pair {
                    *g = u16::from_be_bytes([hi, lo]);
                }
            }
            // the longest run of zero groups (the first of equals), if >= 2
            let (mut best, mut best_len, mut run) = (8, 0, 0);
            for (i, &g) in groups.iter().enumerate() {
                run = if g == 0 { run + 1 } else { 0 };
                if run > best_len {
                    best_len = run;
                    best = i + 1 - run;
                }
            }
            if best_len < 2 {
                best = 8;
            }
            let mut i = 0;
            while let Some(&g) = groups.get(i) {
                if i == best {
                    o.push(b"::");
                    i += best_len;
                    continue;
                }
                if i > 0 && i != best + best_len {
                    o.byte(b':');
                }
                hex(&mut o, g);
                i += 1;
            }
        }
    }
    o.len()
}

/// `g` in lowercase hex without leading zeros.
fn hex(o: &mut Out<'_>, g: u16) {
    let mut started = false;
    for shift in [12, 8, 4, 0] {
        let d = (g >> shift & 0xf) as u8;
        if started || d != 0 || shift == 0 {
            started = true;
            o.byte(b"0123456789abcdef"[usize::from(d)]);
        }
    }
}

/// Writes one access-log line and returns its length:
/// `1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 27\n`.
/// With site blocks, the line starts with the site's name (Apache's
/// `vhost_common`); a user let in by an `auth` rule takes the third field.
///
/// `request_line` is escaped: `"` and `\` get a backslash, bytes outside
/// printable ASCII become `\xHH`; an empty one logs as `-`. The user is
/// escaped the same way, its spaces too, so that fields stay apart. `bytes`
/// is the body length sent, `-` when none, as CLF (Apache's `%b`) has it.
/// The time is UTC: there is no time zone database here.
#[allow(clippy::too_many_arguments)]
pub fn clf(out: &mut [u8; LINE_MAX], site: &[u8], ip: &[u8; 16], user: &[u8], unix_secs: u64, request_line: &[u8], status: u16, bytes: u64) -> usize {
    let r = Record {
        site,
        ip: *ip,
        user,
        // past u64::MAX / 1000 seconds the date is clamped to year 9999 either way
        unix_ms: unix_secs.saturating_mul(1000),
        request_line,
        status,
        bytes,
        ..Record::default()
    };
    let mut o = Out::new(out);
    common(&mut o, &r);
    o.byte(b'\n');
    o.len()
}

/// What one request's access-log line says, whichever format writes it.
/// Bytes are as the client sent them; each format escapes them its way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Record<'a> {
    /// The site block's name; empty without site blocks.
    pub site: &'a [u8],
    /// The peer's address; IPv4 peers as IPv4-mapped (`::ffff:a.b.c.d`).
    pub ip: [u8; 16],
    /// The user an `auth` rule let in; empty when none.
    pub user: &'a [u8],
    /// When the request was answered, in milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// The request line as received, without its CRLF; empty when the
    /// connection closed before one came (a 408, say).
    pub request_line: &'a [u8],
    pub status: u16,
    /// Body bytes sent (the head not counted), as Apache's `%b`.
    pub bytes: u64,
    /// From the request line's arrival to the response's last byte queued.
    pub duration_us: u64,
    /// The `User-Agent` header's value; `None` when the request had none.
    pub user_agent: Option<&'a [u8]>,
    /// The `Referer` header's value; `None` when the request had none.
    pub referer: Option<&'a [u8]>,
    /// The TLS version, `"TLSv1.3"` or `"TLSv1.2"`; `None` over plain TCP.
    pub tls: Option<&'static str>,
}

/// Room for the escaped `Referer` and `User-Agent` in combined and JSON
/// lines; longer ones are cut and end in `...`. A referer is a URL, so it
/// gets a request line's room; real user agents stay under 300 bytes.
pub const REFERER_MAX: usize = REQUEST_MAX;
pub const AGENT_MAX: usize = 512;

/// Room for a whole combined line: a CLF line, then ` "`, the referer,
/// `" "`, the user agent and `"`.
pub const COMBINED_MAX: usize = LINE_MAX + 2 + REFERER_MAX + 3 + AGENT_MAX + 1;

/// Writes one line in the combined format (Apache's `combined`, nginx's
/// default `access_log` format) and returns its length:
/// `1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 27 "https://a.example/" "curl/8.5.0"\n`.
/// The first seven fields are [`clf`]'s (the site's name leads when there
/// is one, as in `vhost_combined`); the referer and the user agent are
/// escaped as the request line is, and an absent or empty one logs as `-`.
/// The milliseconds and the duration are not part of this format.
pub fn combined(out: &mut [u8; COMBINED_MAX], r: &Record<'_>) -> usize {
    let mut o = Out::new(out);
    common(&mut o, r);
    for (field, room) in [(r.referer, REFERER_MAX), (r.user_agent, AGENT_MAX)] {
        o.push(b" \"");
        let text = field.unwrap_or_default();
        if text.is_empty() {
            o.byte(b'-');
        }
        escaped(&mut o, text, room, false);
        o.byte(b'"');
    }
    o.byte(b'\n');
    o.len()
}

/// A CLF line without its newline: what [`clf`] and [`combined`] share.
fn common(o: &mut Out<'_>, r: &Record<'_>) {
    let mut addr = [0; IP_MAX];
    let addr_len = format_client(&r.ip, &mut addr);
    let c = civil(r.unix_ms / 1000);
    if !r.site.is_empty() {
        escaped(o, r.site, SITE_MAX, true);
        o.byte(b' ');
    }
    o.push(addr.get(..addr_len).unwrap_or_default()).push(b" - ");
    if r.user.is_empty() {
        o.byte(b'-');
    }
    escaped(o, r.user, USER_MAX, true);
    o.push(b" [");
    let mut two = [0; 2];
    two_digits(&mut two, c.day);
    o.push(&two).byte(b'/').push(name3(MONTH_NAMES, c.month - 1)).byte(b'/').u64(u64::from(c.year));
    for part in [c.hour, c.min, c.sec] {
        two_digits(&mut two, part);
        o.byte(b':').push(&two);
    }
    o.push(b" +0000] \"");
    if r.request_line.is_empty() {
        o.byte(b'-');
    }
    escaped(o, r.request_line, REQUEST_MAX, false);
    o.push(b"\" ").u64(u64::from(r.status)).byte(b' ');
    if r.bytes == 0 {
        o.byte(b'-');
    } else {
        o.u64(r.bytes);
    }
}

/// Room for each JSON string's escaped text (quotes not counted); a longer
/// one is cut at a character and ends in `...`. A control byte or a bad
/// UTF-8 byte takes 6 (`\u0001`, `\ufffd`), so fewer of them fit.
pub const METHOD_MAX: usize = 64;
pub const PATH_MAX: usize = REQUEST_MAX;
pub const PROTOCOL_MAX: usize = 32;
pub const TLS_MAX: usize = 16;

/// Every key with its quotes, colon and comma, and the braces.
const JSON_KEYS: &str = r#"{"time":,"client":,"user":,"method":,"path":,"protocol":,"status":,"bytes":,"duration_us":,"user_agent":,"referer":,"site":,"tls":}"#;

/// Room for a whole JSON line: the keys, the quoted 24-byte time and
/// address, each string at its room with its quotes (`null` is shorter),
/// the status (5 digits), two counts (20 each) and the newline.
pub const JSON_MAX: usize = JSON_KEYS.len() + (24 + 2) + (IP_MAX + 2) + (USER_MAX + 2) + (METHOD_MAX + 2) + (PATH_MAX + 2) + (PROTOCOL_MAX + 2) + 5 + 20 + 20
    + (AGENT_MAX + 2) + (REFERER_MAX + 2) + (SITE_MAX + 2) + (TLS_MAX + 2) + 1;

/// Writes one JSON object on one line and returns its length:
///
/// ```text
/// {"time":"2026-12-06T05:55:25.123Z","client":"1.2.3.4","user":null,"method":"GET","path":"/",
///  "protocol":"HTTP/1.1","status":200,"bytes":27,"duration_us":180,"user_agent":"curl/8.5.0",
///  "referer":null,"site":null,"tls":"TLSv1.3"}
/// ```
///
/// (one line in the log). Every key is always there, in this order, except
/// `tls`, which only a TLS connection's line has. A value that is absent is
/// `null`: `user` and `site` when empty, `user_agent` and `referer` when the
/// header was missing (a header sent empty is `""`). The time is UTC with
/// milliseconds (RFC 3339).
///
/// The request line is split by [`split_request_line`]; a part it cannot
/// find is `null`. Strings are the client's bytes made valid JSON: `"` and
/// `\` escaped, control bytes (and DEL) as `\u00XX`, valid UTF-8 as is,
/// and each invalid UTF-8 sequence as one `\ufffd` (as
/// `String::from_utf8_lossy` replaces them). Each string has a room
/// ([`USER_MAX`], [`METHOD_MAX`], ...); a longer one is cut between
/// characters and ends in `...`, so the line never passes [`JSON_MAX`] and
/// a cut line is still valid JSON.
pub fn json(out: &mut [u8; JSON_MAX], r: &Record<'_>) -> usize {
    let mut o = Out::new(out);
    o.push(b"{\"time\":\"");
    rfc3339_ms(&mut o, r.unix_ms);
    o.push(b"\",\"client\":\"");
    let mut addr = [0; IP_MAX];
    let addr_len = format_client(&r.ip, &mut addr);
    o.push(addr.get(..addr_len).unwrap_or_default());
    o.push(b"\",\"user\":");
    json_str(&mut o, Some(r.user).filter(|u| !u.is_empty()), USER_MAX);
    let parts = split_request_line(r.request_line);
    o.push(b",\"method\":");
    json_str(&mut o, parts.method, METHOD_MAX);
    o.push(b",\"path\":");
    json_str(&mut o, parts.path, PATH_MAX);
    o.push(b",\"protocol\":");
    json_str(&mut o, parts.protocol, PROTOCOL_MAX);
    o.push(b",\"status\":").u64(u64::from(r.status));
    o.push(b",\"bytes\":").u64(r.bytes);
    o.push(b",\"duration_us\":").u64(r.duration_us);
    o.push(b",\"user_agent\":");
    json_str(&mut o, r.user_agent, AGENT_MAX);
    o.push(b",\"referer\":");
    json_str(&mut o, r.referer, REFERER_MAX);
    o.push(b",\"site\":");
    json_str(&mut o, Some(r.site).filter(|s| !s.is_empty()), SITE_MAX);
    if let Some(tls) = r.tls {
        o.push(b",\"tls\":");
        json_str(&mut o, Some(tls.as_bytes()), TLS_MAX);
    }
    o.push(b"}\n");
    debug_assert!(!o.is_full(), "JSON_MAX counts every part");
    o.len()
}

/// A request line's three parts, those that [`split_request_line`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestParts<'a> {
    pub method: Option<&'a [u8]>,
    /// The request target: a path, `*`, or an absolute URL.
    pub path: Option<&'a [u8]>,
    pub protocol: Option<&'a [u8]>,
}

/// The request line's method, target and protocol, as well as they can be
/// told apart: the method is what comes before the first space; the
/// protocol is the last space-separated word if it starts with `HTTP/`;
/// the target is what lies between (spaces and all, if the client sent
/// some). So `GET /` (HTTP/0.9's form) has no protocol, a line without a
/// space is all method (a TLS hello on the plain port, say), and an empty
/// line has none of the three.
pub fn split_request_line(line: &[u8]) -> RequestParts<'_> {
    let Some(sp) = line.iter().position(|&b| b == b' ') else {
        return RequestParts { method: Some(line).filter(|l| !l.is_empty()), path: None, protocol: None };
    };
    let (method, rest) = (line.get(..sp).unwrap_or_default(), line.get(sp + 1..).unwrap_or_default());
    let (path, protocol) = match rest.iter().rposition(|&b| b == b' ') {
        Some(sp) if rest.get(sp + 1..).is_some_and(|p| p.starts_with(b"HTTP/")) => {
            (rest.get(..sp).unwrap_or_default(), rest.get(sp + 1..))
        }
        _ => (rest, None),
    };
    RequestParts { method: Some(method), path: Some(path), protocol }
}

/// `2026-12-06T05:55:25.123Z`; past year 9999, its last millisecond.
fn rfc3339_ms(o: &mut Out<'_>, unix_ms: u64) {
    let secs = unix_ms / 1000;
    let ms = if secs > MAX_SECS { 999 } else { unix_ms % 1000 };
    let c = civil(secs);
    let mut two = [0; 2];
    two_digits(&mut two, (c.year / 100) as u8);
    o.push(&two);
    two_digits(&mut two, (c.year % 100) as u8);
    o.push(&two);
    for (sep, part) in [(b'-', c.month), (b'-', c.day), (b'T', c.hour), (b':', c.min), (b':', c.sec)] {
        two_digits(&mut two, part);
        o.byte(sep).push(&two);
    }
    o.byte(b'.').push(&[b'0' + (ms / 100) as u8, b'0' + (ms / 10 % 10) as u8, b'0' + (ms % 10) as u8]).byte(b'Z');
}

/// `text` as a JSON string of at most `room` bytes between its quotes (cut
/// between characters, ending in `...`), or `null` when there is none.
fn json_str(o: &mut Out<'_>, text: Option<&[u8]>, room: usize) {
    let Some(text) = text else {
        o.push(b"null");
        return;
    };
    o.byte(b'"');
    let mut used = 0;
    'text: for chunk in text.utf8_chunks() {
        for ch in chunk.valid().chars() {
            let mut utf8 = [0; 4];
            let mut esc = *b"\\u0000";
            let piece: &[u8] = match ch {
                '"' | '\\' => {
                    esc[1] = ch as u8;
                    esc.get(..2).unwrap_or_default()
                }
                '\0'..='\x1f' | '\x7f' => {
                    let b = ch as u8;
                    esc[4] = b"0123456789abcdef"[usize::from(b >> 4)];
                    esc[5] = b"0123456789abcdef"[usize::from(b & 0xf)];
                    &esc
                }
                _ => ch.encode_utf8(&mut utf8).as_bytes(),
            };
            if !fits(o, &mut used, room, piece) {
                break 'text;
            }
        }
        // one replacement character for each invalid sequence
        if !chunk.invalid().is_empty() && !fits(o, &mut used, room, b"\\ufffd") {
            break;
        }
    }
    o.byte(b'"');
}

/// Appends `piece` if the text stays within `room` with `...` after it;
/// otherwise appends `...` and says no.
fn fits(o: &mut Out<'_>, used: &mut usize, room: usize, piece: &[u8]) -> bool {
    *used += piece.len();
    if *used > room - 3 {
        o.push(b"...");
        return false;
    }
    o.push(piece);
    true
}

/// `text` escaped into at most `room` bytes (cut short with `...`).
fn escaped(o: &mut Out<'_>, text: &[u8], room: usize, space: bool) {
    let mut used = 0;
    for &b in text {
        let mut esc = [b'\\', b, 0, 0];
        let piece: &[u8] = match b {
            b'"' | b'\\' => &esc[..2],
            b' ' if !space => &esc[1..2],
            0x21..=0x7e => &esc[1..2],
            _ => {
                esc[1] = b'x';
                esc[2] = b"0123456789ABCDEF"[usize::from(b >> 4)];
                esc[3] = b"0123456789ABCDEF"[usize::from(b & 0xf)];
                &esc
            }
        };
        used += piece.len();
        if used > room - 3 {
            o.push(b"...");
            break;
        }
        o.push(piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn ip_text(ip: [u8; 16]) -> String {
        let mut b = [0; IP_MAX];
        let n = format_ip(&ip, &mut b);
        String::from_utf8(b[..n].to_vec()).unwrap()
    }

    #[test]
    fn addresses() {
        let rows: &[(&str, &str)] = &[
            ("::ffff:1.2.3.4", "1.2.3.4"),
            ("::ffff:0.0.0.0", "0.0.0.0"),
            ("::ffff:255.255.255.255", "255.255.255.255"),
            ("::", "::"),
            ("::1", "::1"),
            ("1::", "1::"),
            ("2001:db8::1", "2001:db8::1"),
            ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), // first of equal runs
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"), // one zero group stays
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"), // the longest run
            ("fe80::abcd:ef01:2345:6789", "fe80::abcd:ef01:2345:6789"),
            ("FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("::1.2.3.4", "::102:304"),       // IPv4-compatible (deprecated): plain hex
            ("::fffe:1.2.3.4", "::fffe:102:304"),
            ("0:0:0:0:1:ffff:0:1", "::1:ffff:0:1"),
            ("1:0:0:0:0:0:0:0", "1::"),
            ("1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"),
        ];
        for &(input, want) in rows {
            let ip: Ipv6Addr = input.parse().unwrap();
            assert_eq!(ip_text(ip.octets()), want, "{input}");
        }
    }

    #[test]
    fn agrees_with_std_on_pure_ipv6() {
        // std's Display follows RFC 5952 too (but keeps ::ffff: for mapped)
        let mut x = 0x1234_5678_9abc_def1u64;
        for _ in 0..5_000 {
            let mut ip = [0u8; 16];
            for pair in ip.chunks_mut(2) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // mostly zero groups, to exercise the runs
                let g: u16 = if x.is_multiple_of(3) { (x >> 20) as u16 } else { 0 };
                pair.copy_from_slice(&g.to_be_bytes());
            }
            if ip[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
                continue;
            }
            assert_eq!(ip_text(ip), Ipv6Addr::from(ip).to_string());
        }
    }

    fn line(ip: &str, t: u64, req: &[u8], status: u16, bytes: u64) -> String {
        let mut b = [0; LINE_MAX];
        let ip: Ipv6Addr = ip.parse().unwrap();
        let n = clf(&mut b, b"", &ip.octets(), b"", t, req, status, bytes);
        String::from_utf8(b[..n].to_vec()).unwrap()
    }

    /// (address, time, request line, status, bytes, the line)
    type Row = (&'static str, u64, &'static [u8], u16, u64, &'static str);

    #[test]
    fn lines() {
        let rows: &[Row] = &[
            ("::ffff:127.0.0.1", 971_186_136, b"GET /x HTTP/1.1", 200, 27,
             "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /x HTTP/1.1\" 200 27\n"),
            ("::1", 0, b"HEAD / HTTP/1.0", 304, 0,
             "::1 - - [01/Jan/1970:00:00:00 +0000] \"HEAD / HTTP/1.0\" 304 -\n"),
            ("2001:db8::2", 951_782_400, b"", 408, 0,
             "2001:db8::2 - - [29/Feb/2000:00:00:00 +0000] \"-\" 408 -\n"),
            ("::ffff:10.0.0.1", 0, b"GET /a\"b\\c HTTP/1.1", 404, u64::MAX,
             "10.0.0.1 - - [01/Jan/1970:00:00:00 +0000] \"GET /a\\\"b\\\\c HTTP/1.1\" 404 18446744073709551615\n"),
            ("::ffff:10.0.0.1", 0, b"GET /\r\nX: 1\" 200 5\n\x00\x7f\xff", 400, 16,
             "10.0.0.1 - - [01/Jan/1970:00:00:00 +0000] \"GET /\\x0D\\x0AX: 1\\\" 200 5\\x0A\\x00\\x7F\\xFF\" 400 16\n"),
        ];
        for &(ip, t, req, status, bytes, want) in rows {
            assert_eq!(line(ip, t, req, status, bytes), want);
        }
    }

    #[test]
    fn site_and_user() {
        let mut b = [0; LINE_MAX];
        let ip: Ipv6Addr = "::ffff:10.0.0.1".parse().unwrap();
        let n = clf(&mut b, b"a.example", &ip.octets(), b"ann o\"n", 0, b"GET / HTTP/1.1", 200, 5);
        assert_eq!(
            String::from_utf8_lossy(&b[..n]),
            "a.example 10.0.0.1 - ann\\x20o\\\"n [01/Jan/1970:00:00:00 +0000] \"GET / HTTP/1.1\" 200 5\n"
        );
        let n = clf(&mut b, b"", &ip.octets(), &[b'u'; 300], 0, b"", 200, 0);
        let s = String::from_utf8_lossy(&b[..n]).into_owned();
        assert!(s.starts_with(&format!("10.0.0.1 - {}... [", "u".repeat(USER_MAX - 3))), "{s}");
    }

    #[test]
    fn long_lines_are_cut_and_still_end() {
        for fill in [b'a', b'"', 0x01] {
            let req = vec![fill; 5000];
            let s = line("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", u64::MAX, &req, 65535, u64::MAX);
            assert!(s.ends_with("...\" 65535 18446744073709551615\n"), "{s}");
            assert!(s.len() <= LINE_MAX);
            assert_eq!(s.matches('\n').count(), 1);
        }
        // just fits: no cut
        let req = vec![b'a'; REQUEST_MAX - 3];
        let s = line("::1", 0, &req, 200, 1);
        assert!(!s.contains("..."));
    }

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut ip = [0; 16];
        ip[10] = 0xff;
        ip[11] = 0xff;
        ip[12..].copy_from_slice(&a);
        ip
    }

    const BASE: Record<'static> = Record {
        site: b"",
        ip: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4],
        user: b"",
        unix_ms: 1_796_536_525_123,
        request_line: b"GET / HTTP/1.1",
        status: 200,
        bytes: 27,
        duration_us: 180,
        user_agent: None,
        referer: None,
        tls: None,
    };

    fn combined_text(r: &Record<'_>) -> String {
        let mut b = [0; COMBINED_MAX];
        let n = combined(&mut b, r);
        String::from_utf8(b[..n].to_vec()).unwrap()
    }

    fn json_text(r: &Record<'_>) -> String {
        let mut b = [0; JSON_MAX];
        let n = json(&mut b, r);
        String::from_utf8(b[..n].to_vec()).unwrap()
    }

    #[test]
    fn clf_is_combined_without_its_last_two_fields() {
        let mut b = [0; LINE_MAX];
        let n = clf(&mut b, b"a.example", &BASE.ip, b"ann", 1_796_536_525, BASE.request_line, 200, 27);
        let r = Record { site: b"a.example", user: b"ann", ..BASE };
        assert_eq!(format!("{} \"-\" \"-\"\n", String::from_utf8_lossy(&b[..n - 1])), combined_text(&r));
    }

    #[test]
    fn combined_lines() {
        let rows: &[(Record<'_>, &str)] = &[
            (BASE, "1.2.3.4 - - [06/Dec/2026:05:55:25 +0000] \"GET / HTTP/1.1\" 200 27 \"-\" \"-\"\n"),
            (
                Record { referer: Some(b"https://a.example/?q=a b"), user_agent: Some(b"curl/8.5.0"), ..BASE },
                "1.2.3.4 - - [06/Dec/2026:05:55:25 +0000] \"GET / HTTP/1.1\" 200 27 \"https://a.example/?q=a b\" \"curl/8.5.0\"\n",
            ),
            (
                Record { site: b"a.example", user: b"ann", referer: Some(b""), user_agent: Some(b"x\" \\y\r\n\x00\x7f\xc3\xa9"), bytes: 0, ..BASE },
                "a.example 1.2.3.4 - ann [06/Dec/2026:05:55:25 +0000] \"GET / HTTP/1.1\" 200 - \"-\" \"x\\\" \\\\y\\x0D\\x0A\\x00\\x7F\\xC3\\xA9\"\n",
            ),
            (
                Record { ip: [0; 16], unix_ms: 999, request_line: b"", status: 408, bytes: 0, ..BASE },
                "unix - - [01/Jan/1970:00:00:00 +0000] \"-\" 408 - \"-\" \"-\"\n",
            ),
        ];
        for (r, want) in rows {
            assert_eq!(combined_text(r), *want);
        }
    }

    #[test]
    fn combined_long_fields_are_cut() {
        for fill in [b'a', b'"', 0x01, 0xff] {
            let long = vec![fill; 5000];
            let r = Record { site: &long, user: &long, request_line: &long, user_agent: Some(&long), referer: Some(&long), ..BASE };
            let s = combined_text(&r);
            assert!(s.len() <= COMBINED_MAX, "{}", s.len());
            assert_eq!(s.matches("...").count(), 5, "{s}");
            assert!(s.ends_with("...\"\n"), "{s}");
            assert_eq!(s.matches('\n').count(), 1);
            assert!(s[..s.len() - 1].bytes().all(|b| (0x20..0x7f).contains(&b)));
        }
    }

    #[test]
    fn json_lines() {
        let rows: &[(Record<'_>, &str)] = &[
            (
                BASE,
                r#"{"time":"2026-12-06T05:55:25.123Z","client":"1.2.3.4","user":null,"method":"GET","path":"/","protocol":"HTTP/1.1","status":200,"bytes":27,"duration_us":180,"user_agent":null,"referer":null,"site":null}"#,
            ),
            (
                Record { site: b"a.example", user: b"ann", user_agent: Some(b"curl/8.5.0"), referer: Some(b""), tls: Some("TLSv1.3"), ..BASE },
                r#"{"time":"2026-12-06T05:55:25.123Z","client":"1.2.3.4","user":"ann","method":"GET","path":"/","protocol":"HTTP/1.1","status":200,"bytes":27,"duration_us":180,"user_agent":"curl/8.5.0","referer":"","site":"a.example","tls":"TLSv1.3"}"#,
            ),
            // quotes, backslashes, control bytes and DEL
            (
                Record { request_line: b"GET /a\"b\\c\x00\t\x1b[31m\x7f HTTP/1.1", user_agent: Some(b"\r\n\"}"), ..BASE },
                r#"{"time":"2026-12-06T05:55:25.123Z","client":"1.2.3.4","user":null,"method":"GET","path":"/a\"b\\c\u0000\u0009\u001b[31m\u007f","protocol":"HTTP/1.1","status":200,"bytes":27,"duration_us":180,"user_agent":"\u000d\u000a\"}","referer":null,"site":null}"#,
            ),
            // valid UTF-8 passes; each invalid sequence is one U+FFFD
            (
                Record { request_line: b"GET /caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80 HTTP/1.1", user: b"\xff\xfe", referer: Some(b"a\xe2\x82b\xc3"), user_agent: Some(b"\xed\xa0\x80\xc0\xaf"), ..BASE },
                "{\"time\":\"2026-12-06T05:55:25.123Z\",\"client\":\"1.2.3.4\",\"user\":\"\\ufffd\\ufffd\",\"method\":\"GET\",\"path\":\"/caf\u{e9}/\u{20ac}/\u{1f600}\",\"protocol\":\"HTTP/1.1\",\"status\":200,\"bytes\":27,\"duration_us\":180,\"user_agent\":\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\",\"referer\":\"a\\ufffdb\\ufffd\",\"site\":null}",
            ),
            // no request line; the epoch; an IPv6 peer; the largest numbers
            (
                Record { ip: [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], unix_ms: 0, request_line: b"", status: 408, bytes: 0, duration_us: u64::MAX, ..BASE },
                r#"{"time":"1970-01-01T00:00:00.000Z","client":"2001:db8::1","user":null,"method":null,"path":null,"protocol":null,"status":408,"bytes":0,"duration_us":18446744073709551615,"user_agent":null,"referer":null,"site":null}"#,
            ),
            // past year 9999: its last millisecond
            (
                Record { unix_ms: u64::MAX, request_line: b"\x16\x03\x01\x02", status: 400, ..BASE },
                r#"{"time":"9999-12-31T23:59:59.999Z","client":"1.2.3.4","user":null,"method":"\u0016\u0003\u0001\u0002","path":null,"protocol":null,"status":400,"bytes":27,"duration_us":180,"user_agent":null,"referer":null,"site":null}"#,
            ),
        ];
        for (r, want) in rows {
            let got = json_text(r);
            assert_eq!(got, format!("{want}\n"));
            check_json(r, &got);
        }
        assert_eq!(v4([1, 2, 3, 4]), BASE.ip);
    }

    #[test]
    fn request_line_parts() {
        type Parts = (Option<&'static str>, Option<&'static str>, Option<&'static str>);
        let rows: &[(&[u8], Parts)] = &[
            (b"GET / HTTP/1.1", (Some("GET"), Some("/"), Some("HTTP/1.1"))),
            (b"OPTIONS * HTTP/1.1", (Some("OPTIONS"), Some("*"), Some("HTTP/1.1"))),
            (b"GET /a b c HTTP/1.0", (Some("GET"), Some("/a b c"), Some("HTTP/1.0"))),
            (b"GET /", (Some("GET"), Some("/"), None)), // HTTP/0.9
            (b"GET /a b", (Some("GET"), Some("/a b"), None)),
            (b"GET / HTTP/1.1 x", (Some("GET"), Some("/ HTTP/1.1 x"), None)),
            (b"GET HTTP/1.1", (Some("GET"), Some("HTTP/1.1"), None)),
            (b"GET  HTTP/1.1", (Some("GET"), Some(""), Some("HTTP/1.1"))),
            (b"GET ", (Some("GET"), Some(""), None)),
            (b" / HTTP/1.1", (Some(""), Some("/"), Some("HTTP/1.1"))),
            (b"GARBAGE", (Some("GARBAGE"), None, None)),
            (b"", (None, None, None)),
        ];
        fn text(p: Option<&[u8]>) -> Option<&str> {
            p.map(|p| core::str::from_utf8(p).unwrap())
        }
        for &(line, want) in rows {
            let p = split_request_line(line);
            assert_eq!((text(p.method), text(p.path), text(p.protocol)), want, "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn json_long_fields_are_cut_and_stay_json() {
        let fills: &[&[u8]] = &[b"a", b"\"", b"\x01", b"\xff", "\u{e9}".as_bytes(), "\u{1f600}".as_bytes(), b"\xf0\x9f\x98"];
        for fill in fills {
            let long = fill.repeat(5000);
            let mut line = b"GET ".to_vec();
            line.extend_from_slice(&long);
            line.extend_from_slice(b" HTTP/1.1");
            for (req, tls) in [(&long, None), (&line, Some("TLSv1.3 and much more"))] {
                let r = Record {
                    site: &long,
                    ip: [0xff; 16],
                    user: &long,
                    unix_ms: u64::MAX,
                    request_line: req,
                    status: u16::MAX,
                    bytes: u64::MAX,
                    duration_us: u64::MAX,
                    user_agent: Some(&long),
                    referer: Some(&long),
                    tls,
                };
                let s = json_text(&r);
                assert!(s.len() <= JSON_MAX, "{} > {JSON_MAX}", s.len());
                assert!(s.ends_with("}\n"), "{s}");
                check_json(&r, &s);
            }
        }
        // just fits: no cut
        let fit = vec![b'u'; USER_MAX - 3];
        let s = json_text(&Record { user: &fit, ..BASE });
        assert!(!s.contains("..."), "{s}");
    }

    /// Parses `line` strictly and checks each value against the record:
    /// a string is the field made valid UTF-8, or a cut start of it + `...`.
    fn check_json(r: &Record<'_>, line: &str) {
        let body = line.strip_suffix('\n').unwrap();
        assert!(!body.contains('\n'));
        let mut p = Json { s: body.as_bytes(), i: 0 };
        let obj = p.object();
        assert_eq!(p.i, body.len(), "trailing bytes in {body}");
        let keys: Vec<&str> = obj.iter().map(|(k, _)| k.as_str()).collect();
        let mut want = vec!["time", "client", "user", "method", "path", "protocol", "status", "bytes", "duration_us", "user_agent", "referer", "site"];
        if r.tls.is_some() {
            want.push("tls");
        }
        assert_eq!(keys, want);
        let get = |k: &str| &obj.iter().find(|(key, _)| key == k).unwrap().1;
        let parts = split_request_line(r.request_line);
        for (k, field) in [
            ("user", Some(r.user).filter(|u| !u.is_empty())),
            ("method", parts.method),
            ("path", parts.path),
            ("protocol", parts.protocol),
            ("user_agent", r.user_agent),
            ("referer", r.referer),
            ("site", Some(r.site).filter(|s| !s.is_empty())),
            ("tls", r.tls.map(str::as_bytes)),
        ] {
            let Some(field) = field else {
                assert!(k == "tls" || *get(k) == Value::Null, "{k} in {body}");
                continue;
            };
            let Value::Str(got) = get(k) else { panic!("{k} in {body}") };
            let whole = String::from_utf8_lossy(field);
            match got.strip_suffix("...") {
                Some(cut) if *got != whole => assert!(whole.starts_with(cut), "{k} in {body}"),
                _ => assert_eq!(*got, whole, "{k}"),
            }
        }
        assert_eq!(*get("status"), Value::Num(u64::from(r.status)));
        assert_eq!(*get("bytes"), Value::Num(r.bytes));
        assert_eq!(*get("duration_us"), Value::Num(r.duration_us));
    }

    /// The JSON this module writes, parsed by a strict parser for just
    /// that subset (no floats, arrays or booleans): serde_json is not a
    /// dependency. Any departure from RFC 8259 panics.
    #[derive(Debug, PartialEq)]
    enum Value {
        Null,
        Num(u64),
        Str(String),
    }

    struct Json<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Json<'_> {
        fn next(&mut self) -> u8 {
            let c = *self.s.get(self.i).expect("JSON ends early");
            self.i += 1;
            c
        }

        fn object(&mut self) -> Vec<(String, Value)> {
            assert_eq!(self.next(), b'{');
            let mut members = Vec::new();
            loop {
                let key = self.string();
                assert_eq!(self.next(), b':');
                let value = match self.s[self.i] {
                    b'"' => Value::Str(self.string()),
                    b'n' => {
                        assert_eq!(&self.s[self.i..self.i + 4], b"null");
                        self.i += 4;
                        Value::Null
                    }
                    b'0'..=b'9' => self.number(),
                    c => panic!("unexpected {:?}", c as char),
                };
                assert!(!members.iter().any(|(k, _)| *k == key), "duplicate key {key}");
                members.push((key, value));
                match self.next() {
                    b',' => continue,
                    b'}' => return members,
                    c => panic!("unexpected {:?}", c as char),
                }
            }
        }

        fn number(&mut self) -> Value {
            let start = self.i;
            while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
            let digits = core::str::from_utf8(&self.s[start..self.i]).unwrap();
            assert!(digits == "0" || !digits.starts_with('0'), "leading zero: {digits}");
            Value::Num(digits.parse().unwrap())
        }

        fn string(&mut self) -> String {
            assert_eq!(self.next(), b'"');
            let mut out: Vec<u16> = Vec::new();
            loop {
                match self.next() {
                    b'"' => return String::from_utf16(&out).expect("lone surrogate"),
                    b'\\' => match self.next() {
                        c @ (b'"' | b'\\' | b'/') => out.push(u16::from(c)),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(10),
                        b'r' => out.push(13),
                        b't' => out.push(9),
                        b'u' => {
                            let hex = core::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                            assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()), "{hex}");
                            out.push(u16::from_str_radix(hex, 16).unwrap());
                            self.i += 4;
                        }
                        c => panic!("bad escape \\{}", c as char),
                    },
                    c if c < 0x20 => panic!("raw control byte {c:#x}"),
                    c => {
                        // the whole UTF-8 character (the line is a str)
                        let start = self.i - 1;
                        let len = match c {
                            0..0x80 => 1,
                            0xc0..0xe0 => 2,
                            0xe0..0xf0 => 3,
                            _ => 4,
                        };
                        self.i = start + len;
                        let ch = core::str::from_utf8(&self.s[start..self.i]).unwrap();
                        out.extend(ch.encode_utf16());
                    }
                }
            }
        }
    }

    #[test]
    fn the_json_checker_rejects() {
        for bad in [r#"{"a":1,}"#, r#"{"a":01}"#, "{\"a\":\"\x01\"}", r#"{"a":"\x"}"#, r#"{"a":"\ud800"}"#, r#"{"a":1,"a":2}"#, r#"{"a":1"#, r#"{"a" :1}"#] {
            let r = std::panic::catch_unwind(|| Json { s: bad.as_bytes(), i: 0 }.object());
            assert!(r.is_err(), "{bad}");
        }
        assert_eq!(Json { s: br#"{"a":"\u00e9\ud83d\ude00","b":null}"#, i: 0 }.object(), vec![("a".into(), Value::Str("\u{e9}\u{1f600}".into())), ("b".into(), Value::Null)]);
    }
}
