//! Access-log lines in Common Log Format, built in a fixed buffer so a
//! line goes out in one write. Owns the escaping of what the client sent:
//! a request line never puts a newline, a quote or a control byte in the log.

use super::date::{civil, name3, two_digits, MONTH_NAMES};
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
    let mut addr = [0; IP_MAX];
    let addr_len = format_ip(ip, &mut addr);
    let c = civil(unix_secs);
    let mut o = Out::new(out);
    if !site.is_empty() {
        escaped(&mut o, site, SITE_MAX, true);
        o.byte(b' ');
    }
    o.push(addr.get(..addr_len).unwrap_or_default()).push(b" - ");
    if user.is_empty() {
        o.byte(b'-');
    }
    escaped(&mut o, user, USER_MAX, true);
    o.push(b" [");
    let mut two = [0; 2];
    two_digits(&mut two, c.day);
    o.push(&two).byte(b'/').push(name3(MONTH_NAMES, c.month - 1)).byte(b'/').u64(u64::from(c.year));
    for part in [c.hour, c.min, c.sec] {
        two_digits(&mut two, part);
        o.byte(b':').push(&two);
    }
    o.push(b" +0000] \"");
    if request_line.is_empty() {
        o.byte(b'-');
    }
    escaped(&mut o, request_line, REQUEST_MAX, false);
    o.push(b"\" ").u64(u64::from(status)).byte(b' ');
    if bytes == 0 {
        o.byte(b'-');
    } else {
        o.u64(bytes);
    }
    o.byte(b'\n');
    o.len()
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
}
