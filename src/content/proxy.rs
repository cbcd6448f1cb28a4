//! The PROXY protocol header (HAProxy's proxy-protocol.txt, v1 text and v2
//! binary) that a load balancer (HAProxy, AWS and OCI network load
//! balancers) puts before the first byte of a connection, so the server
//! learns the client's address. It owns the decision "header, not yet, or
//! refused" over the bytes read so far; it must never guess: a connection
//! either starts with a whole, valid header or is refused.
//!
//! Decisions:
//! - `Need` means what was read is a prefix of some valid header; every
//!   refusal is final (more bytes never turn it into a header). A v1 line
//!   is checked field by field as it arrives; an address still being
//!   typed is checked loosely (its characters and length) until the space
//!   or CRLF after it.
//! - A v2 header may be at most [`MAX_V2`] bytes in all (nginx's limit), so
//!   a reader knows how much to buffer; its TLVs (AWS's VPC endpoint id,
//!   HAProxy's TLS details, padding) are skipped unread, since the address
//!   does not depend on them.
//! - Only the source (the client) is returned: the destination is this
//!   server's own address as the balancer saw it.

use super::url::{parse_ipv4, parse_ipv6};

/// The longest v1 line, CRLF included: `PROXY UNKNOWN` with two full IPv6
/// addresses and ports, as the spec counts it.
pub const V1_MAX: usize = 107;

/// The longest v2 header accepted, its 16 fixed bytes included: nginx's
/// `NGX_PROXY_PROTOCOL_MAX_HEADER`. Real senders stay far below (addresses
/// and a few TLVs: AWS adds ~30 bytes, HAProxy's TLS details a few hundred).
pub const MAX_V2: usize = 4096;

/// v2's 12-byte signature: it cannot start an HTTP/1 request or a TLS
/// record, and has a NUL so text tools stop at it.
const SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// v2's address block sizes: two IPv4 addresses and ports, two IPv6, two
/// 108-byte `sun_path`s.
const INET_LEN: usize = 12;
const INET6_LEN: usize = 36;
const UNIX_LEN: usize = 216;

/// A client's address and port. IPv4 is IPv4-mapped (`::ffff:a.b.c.d`), as
/// an AF_INET6 socket reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addr {
    pub ip: [u8; 16],
    pub port: u16,
}

/// What the first bytes of a connection say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A prefix of a valid header: read more (at most [`V1_MAX`] or
    /// [`MAX_V2`] bytes in all).
    Need,
    /// A whole header. INVARIANT: `len <= buf.len()`; the request starts at
    /// `buf[len]`. `source` is `None` for `PROXY UNKNOWN`, v2's `LOCAL`
    /// command (the balancer's own health check) and v2's AF_UNSPEC and
    /// AF_UNIX families: the connection's own peer then stands.
    Done { len: usize, source: Option<Addr> },
}

/// Why the first bytes are not a PROXY header. The connection is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyError {
    /// Neither `PROXY ` nor v2's signature.
    NotProxy,
    /// v1: not `TCP4`, `TCP6` or `UNKNOWN`; v2: a family or transport byte
    /// the spec does not define.
    BadFamily,
    /// v1: an address not in its family's strict form (`010.0.0.1`,
    /// `1.2.3.256`, an IPv6 address after `TCP4`...).
    BadAddress,
    /// v1: a port above 65535, with a leading zero, or not digits.
    BadPort,
    /// v1: a field missing, extra, empty, or not separated by exactly one
    /// space.
    BadSpacing,
    /// v1: no CRLF within the first [`V1_MAX`] bytes.
    NoCrlf,
    /// v2: a version other than 2.
    BadVersion,
    /// v2: a command other than `LOCAL` or `PROXY`.
    BadCommand,
    /// v2: a length shorter than the family's addresses.
    TooShort,
    /// v2: a header longer than [`MAX_V2`].
    TooLong,
}

impl ProxyError {
    /// The refusal, one line, for the error log.
    pub fn what(self) -> &'static str {
        match self {
            ProxyError::NotProxy => "no PROXY protocol header where one is required",
            ProxyError::BadFamily => "PROXY header: unknown protocol or address family",
            ProxyError::BadAddress => "PROXY header: malformed address",
            ProxyError::BadPort => "PROXY header: malformed port",
            ProxyError::BadSpacing => "PROXY header: fields missing, extra or not one space apart",
            ProxyError::NoCrlf => "PROXY header: no CRLF within 107 bytes",
            ProxyError::BadVersion => "PROXY header: version other than 1 or 2",
            ProxyError::BadCommand => "PROXY header: command other than LOCAL or PROXY",
            ProxyError::TooShort => "PROXY header: length too short for its addresses",
            ProxyError::TooLong => "PROXY header: longer than 4096 bytes",
        }
    }
}

/// Reads a PROXY header, v1 or v2, from the first bytes of a connection.
pub fn parse(buf: &[u8]) -> Result<Parsed, ProxyError> {
    match buf.first() {
        None => Ok(Parsed::Need),
        Some(b'P') => v1(buf),
        Some(_) => v2(buf),
    }
}

/// `PROXY TCP4 src dst sport dport\r\n` (or `TCP6`), or `PROXY UNKNOWN`
/// and anything up to the CRLF.
fn v1(buf: &[u8]) -> Result<Parsed, ProxyError> {
    let head = buf.get(..V1_MAX).unwrap_or(buf);
    if let Some(end) = head.windows(2).position(|w| w == b"\r\n") {
        let source = v1_line(head.get(..end).unwrap_or_default(), false)?;
        return Ok(Parsed::Done { len: end + 2, source });
    }
    if buf.len() >= V1_MAX {
        return Err(ProxyError::NoCrlf);
    }
    // A trailing CR may be half of the CRLF: then the line must be whole.
    match buf.strip_suffix(b"\r") {
        Some(line) => v1_line(line, false)?,
        None => v1_line(buf, true)?,
    };
    Ok(Parsed::Need)
}

/// One v1 line without its CRLF: the source address, or `None` for
/// `UNKNOWN`. With `partial`, the line may stop anywhere (the answer is
/// then `None` and means only "no fault so far"), and its last field may
/// be cut short.
fn v1_line(line: &[u8], partial: bool) -> Result<Option<Addr>, ProxyError> {
    use ProxyError::*;
    let mut fields = line.split(|&b| b == b' ').peekable();
    let mut n = 0;
    let mut v6 = false;
    let mut source = None;
    let mut ip = [0u8; 16];
    while let Some(f) = fields.next() {
        // Cut short: the last field of a partial line.
        let cut = partial && fields.peek().is_none();
        match n {
            0 if f == b"PROXY" || (cut && b"PROXY".starts_with(f)) => {}
            0 => return Err(NotProxy),
            1 if f == b"UNKNOWN" => return Ok(None), // the rest is ignored
            1 if f == b"TCP4" => {}
            1 if f == b"TCP6" => v6 = true,
            1 if cut && [&b"UNKNOWN"[..], b"TCP4", b"TCP6"].iter().any(|w| w.starts_with(f)) => {}
            1 if f.is_empty() => return Err(BadSpacing),
            1 => return Err(BadFamily),
            _ if f.is_empty() && !cut => return Err(BadSpacing),
            2 | 3 if cut => {
                if !(if v6 { ipv6_prefix(f) } else { ipv4_prefix(f) }) {
                    return Err(BadAddress);
                }
            }
            2 | 3 => {
                let a = if v6 {
                    parse_ipv6(f)
                } else {
                    parse_ipv4(f).map(|[a, b, c, d]| [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d])
                };
                let a = a.ok_or(BadAddress)?;
                if n == 2 {
                    ip = a;
                }
            }
            4 | 5 if cut => {
                if port(f, true).is_none() {
                    return Err(BadPort);
                }
            }
            4 | 5 => {
                let p = port(f, false).ok_or(BadPort)?;
                if n == 4 {
                    source = Some(Addr { ip, port: p });
                }
            }
            _ => return Err(BadSpacing),
        }
        n += 1;
    }
    if n < 6 && !partial {
        return Err(BadSpacing);
    }
    Ok(source.filter(|_| !partial))
}

/// A v1 port: 0 to 65535 in decimal, no leading zero. With `cut`, a prefix
/// of one (`Some(0)` for the empty prefix).
fn port(f: &[u8], cut: bool) -> Option<u16> {
    if (f.is_empty() && !cut) || f.len() > 5 || (f.len() > 1 && f.first() == Some(&b'0')) {
        return None;
    }
    let mut n: u32 = 0;
    for &c in f {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    u16::try_from(n).ok()
}

/// Whether `f` can still become a dotted quad: at most four parts, each
/// whole one valid, the last one a prefix of a valid one.
fn ipv4_prefix(f: &[u8]) -> bool {
    let mut parts = 0;
    for part in f.split(|&b| b == b'.') {
        parts += 1;
        if parts > 4 || port(part, true).is_none_or(|v| v > 255) {
            return false;
        }
    }
    // Only the last part may be empty (the one being typed).
    let mut inner = f.split(|&b| b == b'.');
    inner.next_back();
    inner.all(|p| !p.is_empty())
}

/// Whether `f` can still become an IPv6 address, loosely: its characters,
/// and no longer than the longest form (`ffff:…:ffff:255.255.255.255`).
fn ipv6_prefix(f: &[u8]) -> bool {
    f.len() <= 45 && f.iter().all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
}

/// The binary header: signature, version and command, family and
/// transport, the length of what follows, then addresses and TLVs.
fn v2(buf: &[u8]) -> Result<Parsed, ProxyError> {
    use ProxyError::*;
    let sig = buf.get(..SIG.len()).unwrap_or(buf);
    if !SIG.starts_with(sig) {
        return Err(NotProxy);
    }
    let Some(&ver_cmd) = buf.get(12) else { return Ok(Parsed::Need) };
    if ver_cmd >> 4 != 2 {
        return Err(BadVersion);
    }
    let local = match ver_cmd & 0xf {
        0 => true,
        1 => false,
        _ => return Err(BadCommand),
    };
    let Some(&fam) = buf.get(13) else { return Ok(Parsed::Need) };
    // LOCAL: the family is ignored, as the spec says.
    let need = match fam {
        _ if local => 0,
        0x00 => 0,
        0x11 | 0x12 => INET_LEN,
        0x21 | 0x22 => INET6_LEN,
        0x31 | 0x32 => UNIX_LEN,
        _ => return Err(BadFamily),
    };
    let (Some(&hi), Some(&lo)) = (buf.get(14), buf.get(15)) else { return Ok(Parsed::Need) };
    let body = usize::from(u16::from_be_bytes([hi, lo]));
    if body < need {
        return Err(TooShort);
    }
    let len = 16 + body;
    if len > MAX_V2 {
        return Err(TooLong);
    }
    let Some(block) = buf.get(16..len) else { return Ok(Parsed::Need) };
    let source = match fam >> 4 {
        _ if local => None,
        1 => match block {
            [a, b, c, d, _, _, _, _, p0, p1, ..] => Some(Addr {
                ip: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, *a, *b, *c, *d],
                port: u16::from_be_bytes([*p0, *p1]),
            }),
            _ => None,
        },
        2 => match (block.get(..16), block.get(32..34)) {
            (Some(a), Some(&[p0, p1])) => {
                let mut ip = [0u8; 16];
                ip.copy_from_slice(a);
                Some(Addr { ip, port: u16::from_be_bytes([p0, p1]) })
            }
            _ => None,
        },
        _ => None,
    };
    Ok(Parsed::Done { len, source })
}

#[cfg(test)]
mod tests {
    use super::ProxyError::*;
    use super::*;

    fn v4(a: [u8; 4], port: u16) -> Option<Addr> {
        let [a, b, c, d] = a;
        Some(Addr { ip: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d], port })
    }

    fn v6(s: &str, port: u16) -> Option<Addr> {
        Some(Addr { ip: s.parse::<std::net::Ipv6Addr>().unwrap().octets(), port })
    }

    /// A v2 header: command, family byte, address block, TLVs.
    fn hdr2(cmd: u8, fam: u8, block: &[u8], tlvs: &[u8]) -> Vec<u8> {
        let mut h = SIG.to_vec();
        h.push(0x20 | cmd);
        h.push(fam);
        h.extend_from_slice(&((block.len() + tlvs.len()) as u16).to_be_bytes());
        h.extend_from_slice(block);
        h.extend_from_slice(tlvs);
        h
    }

    /// Valid headers with what they say; each also checked with a request
    /// after it and cut at every length.
    fn valid() -> Vec<(Vec<u8>, Option<Addr>)> {
        // AWS NLB: TCP4 and a PP2_TYPE_AWS TLV (VPC endpoint id).
        let aws_tlv = b"\xea\x00\x17\x01vpce-08d2bf15fac5001c9";
        let mut inet = vec![192, 0, 2, 10, 10, 0, 0, 5, 0xd4, 0x31, 0x00, 0x50];
        let mut inet6 = Vec::new();
        inet6.extend_from_slice(&"2001:db8::7".parse::<std::net::Ipv6Addr>().unwrap().octets());
        inet6.extend_from_slice(&"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        inet6.extend_from_slice(&[0xff, 0xff, 0x01, 0xbb]);
        let unix = [b'/'; UNIX_LEN];
        let rows = vec![
            (b"PROXY TCP4 192.0.2.10 10.0.0.5 54321 80\r\n".to_vec(), v4([192, 0, 2, 10], 54321)),
            (b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n".to_vec(), v4([255; 4], 65535)),
            (b"PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n".to_vec(), v4([0; 4], 0)),
            (b"PROXY TCP6 2001:db8::7 2001:db8::1 65535 443\r\n".to_vec(), v6("2001:db8::7", 65535)),
            (b"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n".to_vec(), v4([192, 0, 2, 1], 1)),
            (
                b"PROXY TCP6 FFFF:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
                    .to_vec(),
                v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535),
            ),
            (b"PROXY UNKNOWN\r\n".to_vec(), None),
            (b"PROXY UNKNOWN 1.2.3.4 whatever \r\n".to_vec(), None),
            // The spec's worst case: exactly 107 bytes.
            (
                b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
                    .to_vec(),
                None,
            ),
            (hdr2(1, 0x11, &inet, &[]), v4([192, 0, 2, 10], 54321)),
            (hdr2(1, 0x11, &inet, aws_tlv), v4([192, 0, 2, 10], 54321)),
            (hdr2(1, 0x12, &inet, &[]), v4([192, 0, 2, 10], 54321)),
            (hdr2(1, 0x21, &inet6, b"\x04\x00\x03\x00\x00\x00"), v6("2001:db8::7", 65535)),
            (hdr2(1, 0x00, &[], &[]), None),
            (hdr2(1, 0x31, &unix, &[]), None),
            // LOCAL: a health check; the family and addresses are ignored.
            (hdr2(0, 0x00, &[], &[]), None),
            (hdr2(0, 0x11, &inet, &[]), None),
            (hdr2(0, 0x77, &[], &[]), None),
            // A longer block than the family needs: the rest are TLVs.
            ({ inet.extend_from_slice(&[0; 40]); hdr2(1, 0x11, &inet, &[]) }, v4([192, 0, 2, 10], 54321)),
            (hdr2(1, 0x11, &inet, &vec![0; MAX_V2 - 16 - inet.len()]), v4([192, 0, 2, 10], 54321)),
        ];
        assert_eq!(rows[8].0.len(), V1_MAX);
        rows
    }

    #[test]
    fn valid_headers() {
        for (h, source) in valid() {
            let len = h.len();
            let mut with_request = h.clone();
            with_request.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            assert_eq!(parse(&h), Ok(Parsed::Done { len, source }), "{h:?}");
            assert_eq!(parse(&with_request), Ok(Parsed::Done { len, source }), "{h:?}");
            for cut in 0..len {
                assert_eq!(parse(&h[..cut]), Ok(Parsed::Need), "{:?}", &h[..cut]);
            }
        }
    }

    #[test]
    fn refused() {
        let inet = [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2];
        let mut long_v1 = b"PROXY UNKNOWN ".to_vec();
        long_v1.resize(V1_MAX, b'x');
        let mut long_v1_crlf = long_v1.clone();
        long_v1_crlf[V1_MAX - 1] = b'\r';
        long_v1_crlf.push(b'\n');
        let mut bad_version = hdr2(1, 0x11, &inet, &[]);
        bad_version[12] = 0x11;
        let mut v3 = hdr2(1, 0x11, &inet, &[]);
        v3[12] = 0x31;
        #[rustfmt::skip]
        let rows: Vec<(Vec<u8>, ProxyError)> = vec![
            (b"GET / HTTP/1.1\r\n".to_vec(), NotProxy),
            (b"PROXI".to_vec(), NotProxy),
            (b"proxy TCP4".to_vec(), NotProxy),
            (b"PROXY\r\n".to_vec(), BadSpacing),
            (b"\x16\x03\x01\x00".to_vec(), NotProxy),
            (b"\r\n\r\n\0\r\nQUIX".to_vec(), NotProxy),
            (b"\r\n\r\nGET".to_vec(), NotProxy),
            (b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(), BadFamily),
            (b"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(), BadFamily),
            (b"PROXY UNKNOWNX\r\n".to_vec(), BadFamily),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n".to_vec(), BadPort),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 80 99999".to_vec(), BadPort),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 080 80\r\n".to_vec(), BadPort),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 8x".to_vec(), BadPort),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 80\r\n".to_vec(), BadPort),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n".to_vec(), BadPort),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n".to_vec(), BadSpacing),
            (b"PROXY TCP4 010.0.0.1 5.6.7.8 1 2\r\n".to_vec(), BadAddress),
            (b"PROXY TCP4 010".to_vec(), BadAddress),
            (b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n".to_vec(), BadAddress),
            (b"PROXY TCP4 1.2.300".to_vec(), BadAddress),
            (b"PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n".to_vec(), BadAddress),
            (b"PROXY TCP4 1..".to_vec(), BadAddress),
            (b"PROXY TCP4 ::1 ::1 1 2\r\n".to_vec(), BadAddress),
            (b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(), BadAddress),
            (b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n".to_vec(), BadAddress),
            (b"PROXY TCP6 ::1 fe80::1%".to_vec(), BadAddress),
            (b"PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n".to_vec(), BadAddress),
            (b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(), BadSpacing),
            (b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n".to_vec(), BadSpacing),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n".to_vec(), BadSpacing),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n".to_vec(), BadSpacing),
            (b"PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n".to_vec(), BadAddress),
            (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r ".to_vec(), BadPort),
            (b"PROXY TCP4 1.2.3.4\r".to_vec(), BadSpacing),
            (long_v1.clone(), NoCrlf),
            (long_v1_crlf, NoCrlf),
            (bad_version, BadVersion),
            (v3, BadVersion),
            (hdr2(2, 0x11, &inet, &[]), BadCommand),
            (hdr2(0xf, 0x11, &inet, &[]), BadCommand),
            (hdr2(1, 0x13, &inet, &[]), BadFamily),
            (hdr2(1, 0x10, &inet, &[]), BadFamily),
            (hdr2(1, 0x41, &inet, &[]), BadFamily),
            (hdr2(1, 0x11, &inet[..11], &[]), TooShort),
            (hdr2(1, 0x21, &[0; 35], &[]), TooShort),
            (hdr2(1, 0x31, &[0; 215], &[]), TooShort),
            (hdr2(1, 0x11, &inet, &vec![0; MAX_V2 - 16 - 11]), TooLong),
            (hdr2(0, 0x00, &[], &vec![0; 0xffff])[..16].to_vec(), TooLong),
        ];
        for (h, want) in rows {
            assert_eq!(parse(&h), Err(want), "{:?}", String::from_utf8_lossy(&h));
            assert!(!want.what().is_empty());
        }
    }
}
