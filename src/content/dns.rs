//! A stub resolver's pure half: one DNS question out (RFC 1035 wire format,
//! over UDP), the first address back, and the two files that say where to
//! ask. It must never read outside a reply, follow a compression-pointer
//! loop, or accept an answer to a question it did not ask.
//!
//! CNAMEs are followed only through records in the same reply (what a
//! recursive server sends); no second query is made. Replies cut short (TC)
//! are used if they already hold the address; there is no TCP retry.

use super::url::{Ip, parse_ip, valid_name};
use super::{next_word, split_once};
use crate::fmt::Line;

/// Header 12 + the longest encoded name 255 + type and class 4.
pub const QUERY_MAX: usize = 12 + 255 + 4;

/// A reply without EDNS0 is at most 512 bytes (RFC 1035 §4.2.1), and we
/// send no EDNS0: a size for the receive buffer.
pub const REPLY_MAX: usize = 512;

/// Compression pointers followed per name: real names need one or two; a
/// loop would need infinitely many.
const MAX_HOPS: u32 = 16;

/// Labels per name: 255 bytes hold at most 127 one-byte labels and the root.
const MAX_LABELS: usize = 128;

const TYPE_CNAME: u16 = 5;
const CLASS_IN: u16 = 1;

/// The record type asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QType {
    /// IPv4 address, type 1.
    A = 1,
    /// IPv6 address, type 28.
    Aaaa = 28,
}

/// Why a lookup gave no address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// The name cannot be asked for: empty, a label empty or over 63 bytes,
    /// over 253 bytes, or a byte outside `A-Z a-z 0-9 - _`.
    BadName,
    /// The reply is cut short or garbled: a count past the end, a bad label
    /// type, a pointer loop, an address of the wrong length.
    Malformed,
    /// The reply's id is not ours: late, or forged.
    WrongId,
    /// A query, not a reply (QR clear), or an opcode other than QUERY.
    NotResponse,
    /// The reply answers another question (name, type or class).
    WrongQuestion,
    /// RCODE 3, NXDOMAIN: the name does not exist.
    NoSuchName,
    /// Another RCODE (2 SERVFAIL, 5 REFUSED, ...), carried as is.
    ServerError(u8),
    /// TC set and what arrived holds no address (a TCP retry would be needed).
    Truncated,
    /// The name exists but has no address of the asked type.
    NoAddress,
}

/// A standard query (RD set: the server recurses) with one question for
/// `name`, type `qtype`, class IN, in `out`.
pub fn build_query<'a>(
    name: &[u8],
    id: u16,
    qtype: QType,
    out: &'a mut [u8; QUERY_MAX],
) -> Result<&'a [u8], DnsError> {
    if !valid_name(name) {
        return Err(DnsError::BadName);
    }
    let [id_hi, id_lo] = id.to_be_bytes();
    let mut line = Line::new(&mut out[..]);
    // id, flags (RD), QDCOUNT 1, ANCOUNT, NSCOUNT, ARCOUNT 0.
    line.push(&[id_hi, id_lo, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    let mut rest = Some(name.strip_suffix(b".").unwrap_or(name));
    while let Some(r) = rest {
        let (label, next) = split_once(r, b'.');
        rest = next;
        line.push(&[label.len() as u8]).push(label); // valid_name: len <= 63
    }
    line.push(&[0, 0, qtype as u8, 0, CLASS_IN as u8]);
    let n = line.as_bytes().len();
    Ok(out.get(..n).unwrap_or_default())
}

/// The first address of type `qtype` for `name` in the reply `msg` to our
/// query `id`. Answers count only if their owner is `name` or, through
/// CNAME records earlier in the same answer section, an alias of it.
// Out of line: inlined into the resolver's loop it costs 200 bytes more.
#[inline(never)]
pub fn parse_response(msg: &[u8], id: u16, name: &[u8], qtype: QType) -> Result<Ip, DnsError> {
    let Some(&[id_hi, id_lo, f1, f2, qd_hi, qd_lo, an_hi, an_lo, ..]) = msg.get(..12) else {
        return Err(DnsError::Malformed);
    };
    if u16::from_be_bytes([id_hi, id_lo]) != id {
        return Err(DnsError::WrongId);
    }
    if f1 & 0x80 == 0 || f1 & 0x78 != 0 {
        return Err(DnsError::NotResponse);
    }
    match f2 & 0x0f {
        0 => {}
        3 => return Err(DnsError::NoSuchName),
        rcode => return Err(DnsError::ServerError(rcode)),
    }
    let truncated = f1 & 0x02 != 0;
    if u16::from_be_bytes([qd_hi, qd_lo]) != 1 || !name_is(msg, 12, name)? {
        return Err(DnsError::WrongQuestion);
    }
    let mut pos = skip_name(msg, 12)?;
    if be16(msg, pos)? != qtype as u16 || be16(msg, pos + 2)? != CLASS_IN {
        return Err(DnsError::WrongQuestion);
    }
    pos += 4;

    let mut target = 12; // the name being answered for: the question's, then aliases
    for _ in 0..u16::from_be_bytes([an_hi, an_lo]) {
        let owner = pos;
        pos = skip_name(msg, pos)?;
        let rtype = be16(msg, pos)?;
        let class = be16(msg, pos + 2)?;
        let rdlen = usize::from(be16(msg, pos + 8)?);
        let rdata_at = pos + 10;
        let rdata = msg
            .get(rdata_at..rdata_at + rdlen)
            .ok_or(DnsError::Malformed)?;
        pos = rdata_at + rdlen;
        if class != CLASS_IN || !same_name(msg, owner, target)? {
            continue;
        }
        if rtype == TYPE_CNAME {
            target = rdata_at;
        } else if rtype == qtype as u16 {
            return match (qtype, rdata) {
                (QType::A, &[a, b, c, d]) => Ok(Ip::V4([a, b, c, d])),
                (QType::Aaaa, r) => r.try_into().map(Ip::V6).map_err(|_| DnsError::Malformed),
                _ => Err(DnsError::Malformed),
            };
        }
    }
    Err(if truncated {
        DnsError::Truncated
    } else {
        DnsError::NoAddress
    })
}

/// The big-endian u16 at `at`.
fn be16(msg: &[u8], at: usize) -> Result<u16, DnsError> {
    match msg.get(at..at + 2) {
        Some(&[hi, lo]) => Ok(u16::from_be_bytes([hi, lo])),
        _ => Err(DnsError::Malformed),
    }
}

/// Where the encoded name at `pos` ends in place: after its root byte, or
/// after the pointer that finishes it (pointers are not followed here).
fn skip_name(msg: &[u8], mut pos: usize) -> Result<usize, DnsError> {
    loop {
        // Each step moves forward, so this ends at the buffer's end at worst.
        match msg.get(pos).copied() {
            Some(0) => return Ok(pos + 1),
            Some(len @ 1..=63) => pos += 1 + usize::from(len),
            Some(0xc0..=0xff) if pos + 1 < msg.len() => return Ok(pos + 2),
            _ => return Err(DnsError::Malformed),
        }
    }
}

/// The label at `*pos`, following compression pointers (at most
/// `MAX_HOPS` for the name `hops` counts); empty at the root. Moves `*pos`
/// past the label.
fn label<'m>(msg: &'m [u8], pos: &mut usize, hops: &mut u32) -> Result<&'m [u8], DnsError> {
    loop {
        match msg.get(*pos).copied() {
            Some(len @ 0..=63) => {
                let start = *pos + 1;
                let l = msg
                    .get(start..start + usize::from(len))
                    .ok_or(DnsError::Malformed)?;
                *pos = start + usize::from(len);
                return Ok(l);
            }
            Some(hi @ 0xc0..=0xff) if *hops < MAX_HOPS => {
                let lo = msg.get(*pos + 1).copied().ok_or(DnsError::Malformed)?;
                *hops += 1;
                *pos = usize::from(u16::from_be_bytes([hi & 0x3f, lo]));
            }
            _ => return Err(DnsError::Malformed),
        }
    }
}

/// Whether the encoded names at `a` and `b` are equal, ignoring ASCII case.
fn same_name(msg: &[u8], mut a: usize, mut b: usize) -> Result<bool, DnsError> {
    let (mut ha, mut hb) = (0, 0);
    for _ in 0..MAX_LABELS {
        let la = label(msg, &mut a, &mut ha)?;
        let lb = label(msg, &mut b, &mut hb)?;
        if !la.eq_ignore_ascii_case(lb) {
            return Ok(false);
        }
        if la.is_empty() {
            return Ok(true);
        }
    }
    Err(DnsError::Malformed)
}

/// Whether the encoded name at `pos` is the dotted `name`, ignoring case.
fn name_is(msg: &[u8], mut pos: usize, name: &[u8]) -> Result<bool, DnsError> {
    let mut hops = 0;
    let mut rest = Some(name.strip_suffix(b".").unwrap_or(name));
    while let Some(r) = rest {
        let (want, next) = split_once(r, b'.');
        rest = next;
        let got = label(msg, &mut pos, &mut hops)?;
        if got.is_empty() || !got.eq_ignore_ascii_case(want) {
            return Ok(false);
        }
    }
    Ok(label(msg, &mut pos, &mut hops)?.is_empty())
}

/// The first usable `nameserver` in resolv.conf text. Lines whose address
/// does not parse (a link-local one with `%zone`, say) are passed over.
/// `None` means the caller falls back to 127.0.0.1, as glibc does.
pub fn nameserver_from_resolv_conf(text: &[u8]) -> Option<Ip> {
    let mut rest = Some(text);
    while let Some(r) = rest {
        let (line, next) = split_once(r, b'\n');
        rest = next;
        let (keyword, args) = next_word(line);
        if keyword == b"nameserver"
            && let Some(ip) = parse_ip(next_word(args).0)
        {
            return Some(ip);
        }
    }
    None
}

/// The address /etc/hosts gives `name`: lines of `address name aliases..`,
/// `#` to the end of a line a comment, names compared without regard to
/// ASCII case, the first matching line winning whatever its family
/// (`localhost` is usually `127.0.0.1` before `::1`). Lines with an address
/// that does not parse are skipped.
pub fn lookup_hosts(text: &[u8], name: &[u8]) -> Option<Ip> {
    if name.is_empty() {
        return None;
    }
    let mut rest = Some(text);
    while let Some(r) = rest {
        let (line, next) = split_once(r, b'\n');
        rest = next;
        let (line, _comment) = split_once(line, b'#');
        let (addr, mut names) = next_word(line);
        let Some(ip) = parse_ip(addr) else { continue };
        loop {
            let (n, more) = next_word(names);
            if n.is_empty() {
                break;
            }
            if n.eq_ignore_ascii_case(name) {
                return Some(ip);
            }
            names = more;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> [u8; 16] {
        s.parse::<std::net::Ipv6Addr>().unwrap().octets()
    }

    #[test]
    fn names() {
        let l63 = "a".repeat(63);
        let l64 = "a".repeat(64);
        let n253 = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        let n254 = format!("{n253}e");
        let n253_dot = format!("{n253}.");
        let rows: &[(&[u8], bool)] = &[
            (b"example.com", true),
            (b"example.com.", true),
            (b"localhost", true),
            (b"a", true),
            (b"_srv._tcp.x", true),
            (b"xn--caf-dma.com", true),
            (b"1.2.3.4", true),
            (l63.as_bytes(), true),
            (n253.as_bytes(), true),
            (n253_dot.as_bytes(), true),
            (b"", false),
            (b".", false),
            (b"..", false),
            (b".a", false),
            (b"a..b", false),
            (b"a.b..", false),
            (l64.as_bytes(), false),
            (n254.as_bytes(), false),
            (b"a b", false),
            (b"a/b", false),
            (b"a\0", false),
            (b"caf\xc3\xa9", false),
            (b"a*", false),
            (b"a:1", false),
        ];
        for &(n, want) in rows {
            assert_eq!(valid_name(n), want, "{:?}", String::from_utf8_lossy(n));
        }
    }

    #[test]
    fn query_bytes() {
        let mut out = [0; QUERY_MAX];
        let q = build_query(b"Example.com.", 0xbeef, QType::A, &mut out).unwrap();
        let want: &[u8] = b"\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\
\x07Example\x03com\x00\x00\x01\x00\x01";
        assert_eq!(q, want);
        let q = build_query(b"a", 1, QType::Aaaa, &mut out).unwrap();
        assert_eq!(
            q,
            b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x1c\x00\x01"
        );
        let longest = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        assert_eq!(
            build_query(longest.as_bytes(), 1, QType::A, &mut out).map(<[u8]>::len),
            Ok(QUERY_MAX)
        );
        for bad in [&b""[..], b".", b"a..b", b"a b", b"a\0b"] {
            assert_eq!(
                build_query(bad, 1, QType::A, &mut out),
                Err(DnsError::BadName)
            );
        }
    }

    /// A reply to `build_query(name, id, qtype)`: the query with QR, RA and
    /// `rcode` set, `answers` appended and counted.
    fn reply(name: &str, id: u16, qtype: QType, rcode: u8, answers: &[&[u8]]) -> Vec<u8> {
        let mut out = [0; QUERY_MAX];
        let mut m = build_query(name.as_bytes(), id, qtype, &mut out)
            .unwrap()
            .to_vec();
        m[2] |= 0x80;
        m[3] |= 0x80 | rcode;
        m[7] = answers.len() as u8;
        for a in answers {
            m.extend_from_slice(a);
        }
        m
    }

    /// A resource record: `owner` is encoded name bytes (labels or a pointer).
    fn rr(owner: &[u8], rtype: u16, rdata: &[u8]) -> Vec<u8> {
        let mut r = owner.to_vec();
        r.extend_from_slice(&rtype.to_be_bytes());
        r.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]); // IN, TTL 3600
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(rdata);
        r
    }

    const Q: &[u8] = b"\xc0\x0c"; // pointer to the question's name

    #[test]
    fn replies() {
        use DnsError::*;
        let a = rr(Q, 1, &[93, 184, 216, 34]);
        let aaaa = rr(Q, 28, &v6("2606:2800::1"));
        // www.x.com CNAME x.net (at offset 12 + 11 + 4 + 12 = 39 for the owner).
        let cname = rr(Q, 5, b"\x01x\x03net\x00");
        let alias_a = rr(b"\xc0\x27", 1, &[1, 2, 3, 4]); // owner -> the CNAME's rdata
        let other_a = rr(b"\x05other\x00", 1, &[6, 6, 6, 6]);
        let chaos_a = {
            let mut r = rr(Q, 1, &[7, 7, 7, 7]);
            r[5] = 3; // class CH
            r
        };
        let cname_b = rr(Q, 5, b"\x01b\x00"); // its rdata, at 39, is the name b
        let name = "www.x.com";
        type Row = (Vec<u8>, QType, Result<Ip, DnsError>);
        let rows: Vec<Row> = vec![
            (
                reply(name, 7, QType::A, 0, &[&a]),
                QType::A,
                Ok(Ip::V4([93, 184, 216, 34])),
            ),
            (
                reply(name, 7, QType::Aaaa, 0, &[&aaaa]),
                QType::Aaaa,
                Ok(Ip::V6(v6("2606:2800::1"))),
            ),
            (
                reply(name, 7, QType::A, 0, &[&aaaa, &a]),
                QType::A,
                Ok(Ip::V4([93, 184, 216, 34])),
            ),
            (
                reply(name, 7, QType::A, 0, &[&cname, &alias_a]),
                QType::A,
                Ok(Ip::V4([1, 2, 3, 4])),
            ),
            (
                reply(name, 7, QType::A, 0, &[&other_a, &chaos_a, &a]),
                QType::A,
                Ok(Ip::V4([93, 184, 216, 34])),
            ),
            // Reject rows.
            (
                reply(name, 7, QType::A, 0, &[&other_a]),
                QType::A,
                Err(NoAddress),
            ),
            (
                reply(name, 7, QType::A, 0, &[&chaos_a]),
                QType::A,
                Err(NoAddress),
            ),
            (
                reply(name, 7, QType::A, 0, &[&alias_a]),
                QType::A,
                Err(NoAddress),
            ),
            (
                reply(name, 7, QType::A, 0, &[&cname]),
                QType::A,
                Err(NoAddress),
            ),
            (reply(name, 7, QType::A, 0, &[]), QType::A, Err(NoAddress)),
            (
                reply(name, 7, QType::A, 0, &[&aaaa]),
                QType::A,
                Err(NoAddress),
            ),
            (
                reply(name, 7, QType::Aaaa, 0, &[&a]),
                QType::Aaaa,
                Err(NoAddress),
            ),
            (reply(name, 7, QType::A, 3, &[]), QType::A, Err(NoSuchName)),
            (
                reply(name, 7, QType::A, 2, &[&a]),
                QType::A,
                Err(ServerError(2)),
            ),
            (
                reply(name, 7, QType::A, 5, &[]),
                QType::A,
                Err(ServerError(5)),
            ),
            (reply(name, 8, QType::A, 0, &[&a]), QType::A, Err(WrongId)),
            (
                reply("www.y.com", 7, QType::A, 0, &[&a]),
                QType::A,
                Err(WrongQuestion),
            ),
            (
                reply("x.com", 7, QType::A, 0, &[&a]),
                QType::A,
                Err(WrongQuestion),
            ),
            (
                reply("www.x.com.evil", 7, QType::A, 0, &[&a]),
                QType::A,
                Err(WrongQuestion),
            ),
            (
                reply(name, 7, QType::Aaaa, 0, &[&a]),
                QType::A,
                Err(WrongQuestion),
            ),
            (
                reply(name, 7, QType::A, 0, &[&rr(Q, 1, &[1, 2, 3])]),
                QType::A,
                Err(Malformed),
            ),
            (
                reply(name, 7, QType::A, 0, &[&rr(Q, 1, &[1, 2, 3, 4, 5])]),
                QType::A,
                Err(Malformed),
            ),
            (
                reply(name, 7, QType::Aaaa, 0, &[&rr(Q, 28, &[0; 15])]),
                QType::Aaaa,
                Err(Malformed),
            ),
            // Owner name is a pointer to itself: the hop bound stops it.
            (
                reply(name, 7, QType::A, 0, &[&rr(b"\xc0\x1b", 1, &[1, 2, 3, 4])]),
                QType::A,
                Err(Malformed),
            ),
            // Owner name points past the end.
            (
                reply(name, 7, QType::A, 0, &[&rr(b"\xc1\x00", 1, &[1, 2, 3, 4])]),
                QType::A,
                Err(Malformed),
            ),
            // A label type 0x40/0x80 (EDNS bitstring, reserved).
            (
                reply(name, 7, QType::A, 0, &[&rr(b"\x41", 1, &[1, 2, 3, 4])]),
                QType::A,
                Err(Malformed),
            ),
            // www.x.com CNAME b, b CNAME www.x.com: a loop, and no address.
            (
                reply(
                    name,
                    7,
                    QType::A,
                    0,
                    &[&cname_b, &rr(b"\xc0\x27", 5, Q), &other_a],
                ),
                QType::A,
                Err(NoAddress),
            ),
            // The same loop, then the address: each record is read once.
            (
                reply(
                    name,
                    7,
                    QType::A,
                    0,
                    &[&cname_b, &rr(b"\xc0\x27", 5, Q), &a],
                ),
                QType::A,
                Ok(Ip::V4([93, 184, 216, 34])),
            ),
        ];
        for (i, (msg, q, want)) in rows.iter().enumerate() {
            assert_eq!(
                parse_response(msg, 7, name.as_bytes(), *q),
                *want,
                "row {i}"
            );
        }
        // Case is ignored in the question and owner names.
        let m = reply("WWW.X.Com", 7, QType::A, 0, &[&a]);
        assert_eq!(
            parse_response(&m, 7, b"www.x.com.", QType::A),
            Ok(Ip::V4([93, 184, 216, 34]))
        );
    }

    #[test]
    fn hostile_headers() {
        use DnsError::*;
        let good = reply("a.b", 9, QType::A, 0, &[&rr(Q, 1, &[1, 2, 3, 4])]);
        let mut tc = reply("a.b", 9, QType::A, 0, &[]);
        tc[2] |= 0x02;
        let mut query = good.clone();
        query[2] &= !0x80;
        let mut opcode = good.clone();
        opcode[2] |= 0x10;
        let mut two_questions = good.clone();
        two_questions[5] = 2;
        let mut many_answers = reply(
            "a.b",
            9,
            QType::A,
            0,
            &[&rr(b"\x01c\x00", 1, &[1, 2, 3, 4])],
        );
        many_answers[6] = 0xff;
        many_answers[7] = 0xff;
        let rows: &[(&[u8], Result<Ip, DnsError>)] = &[
            (&good, Ok(Ip::V4([1, 2, 3, 4]))),
            (&tc, Err(Truncated)),
            (&query, Err(NotResponse)),
            (&opcode, Err(NotResponse)),
            (&two_questions, Err(WrongQuestion)),
            (&many_answers[..], Err(Malformed)),
            (&good[..good.len() - 1], Err(Malformed)),
            (&good[..12], Err(Malformed)),
            (&good[..11], Err(Malformed)),
            (b"", Err(Malformed)),
        ];
        for (i, &(msg, want)) in rows.iter().enumerate() {
            assert_eq!(parse_response(msg, 9, b"a.b", QType::A), want, "row {i}");
        }
        // Every truncation and every single-byte corruption is answered
        // without a panic or a hang.
        for n in 0..good.len() {
            let _ = parse_response(&good[..n], 9, b"a.b", QType::A);
            for v in [0x00, 0x01, 0x3f, 0x40, 0xc0, 0xc0 | 0x0c, 0xff] {
                let mut m = good.clone();
                m[n] = v;
                let _ = parse_response(&m, 9, b"a.b", QType::A);
            }
        }
        // A question whose name is a pointer to itself.
        let mut m = good.clone();
        m[12] = 0xc0;
        m[13] = 0x0c;
        assert_eq!(parse_response(&m, 9, b"a.b", QType::A), Err(Malformed));
    }

    #[test]
    fn resolv_conf() {
        let rows: &[(&[u8], Option<Ip>)] = &[
            (b"nameserver 1.1.1.1\n", Some(Ip::V4([1, 1, 1, 1]))),
            (
                b"# generated\nsearch lan\nnameserver 10.0.0.1\nnameserver 8.8.8.8\n",
                Some(Ip::V4([10, 0, 0, 1])),
            ),
            (b"nameserver ::1", Some(Ip::V6(v6("::1")))),
            (
                b"  nameserver\t2001:db8::53  # comment\r\n",
                Some(Ip::V6(v6("2001:db8::53"))),
            ),
            (
                b"nameserver fe80::1%eth0\nnameserver 9.9.9.9\n",
                Some(Ip::V4([9, 9, 9, 9])),
            ),
            (
                b"nameserver\nnameserver 1.2.3.4",
                Some(Ip::V4([1, 2, 3, 4])),
            ),
            // Reject rows.
            (b"", None),
            (b"# nameserver 1.1.1.1\n", None),
            (b"; nameserver 1.1.1.1\n", None),
            (b"nameservers 1.1.1.1\n", None),
            (b"NAMESERVER 1.1.1.1\n", None),
            (b"xnameserver 1.1.1.1\n", None),
            (b"nameserver 1.1.1\n", None),
            (b"nameserver 1.1.1.1#x\n", None),
            (b"nameserver\n", None),
            (b"search nameserver 1.1.1.1\n", None),
        ];
        for &(text, want) in rows {
            assert_eq!(
                nameserver_from_resolv_conf(text),
                want,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn hosts() {
        let hosts = b"# /etc/hosts\n\
127.0.0.1\tlocalhost\n\
::1 localhost ip6-localhost ip6-loopback\n\
\n\
   10.0.0.5   Web web.lan   # the box\n\
fe80::1%lo0 linklocal\n\
bogus shadowed\n\
10.0.0.6 shadowed\n\
2001:db8::2 six\n\
10.0.0.7 six\n\
10.0.0.8 #commented\n\
10.0.0.9 last";
        let rows: &[(&[u8], Option<Ip>)] = &[
            (b"localhost", Some(Ip::V4([127, 0, 0, 1]))),
            (b"LOCALHOST", Some(Ip::V4([127, 0, 0, 1]))),
            (b"ip6-localhost", Some(Ip::V6(v6("::1")))),
            (b"ip6-loopback", Some(Ip::V6(v6("::1")))),
            (b"web", Some(Ip::V4([10, 0, 0, 5]))),
            (b"WEB.LAN", Some(Ip::V4([10, 0, 0, 5]))),
            (b"shadowed", Some(Ip::V4([10, 0, 0, 6]))),
            (b"six", Some(Ip::V6(v6("2001:db8::2")))),
            (b"last", Some(Ip::V4([10, 0, 0, 9]))),
            // Reject rows.
            (b"", None),
            (b"local", None),
            (b"localhost.", None),
            (b"linklocal", None),
            (b"commented", None),
            (b"#commented", None),
            (b"the", None),
            (b"box", None),
            (b"bogus", None),
            (b"127.0.0.1", None),
            (b"web lan", None),
        ];
        for &(name, want) in rows {
            assert_eq!(
                lookup_hosts(hosts, name),
                want,
                "{:?}",
                String::from_utf8_lossy(name)
            );
        }
    }
}
