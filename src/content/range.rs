//! `Range: bytes=...` -> which bytes of a file to send, and the matching
//! `Content-Range` value. It must never yield a span outside the file, and
//! never turn a Range it does not understand into an error: RFC 9110 §14.2
//! lets a server ignore Range, so anything unsupported is a plain 200.

use super::{split_once, trim_ows, u64_digits};
// A number past u64 saturates, which is still past any file's end and so
// means the same thing.
use crate::fmt::{Line, parse_u64};

/// What to answer a request for a file of length `len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeReq {
    /// No usable range (malformed, another unit, several ranges): 200 with
    /// the whole file.
    Full,
    /// 206 with these bytes.
    /// INVARIANT: start <= end_inclusive < len.
    Partial { start: u64, end_inclusive: u64 },
    /// 416 with `Content-Range: bytes */len`: the range starts at or past
    /// the end, or asks for the last 0 bytes.
    Unsatisfiable,
}

/// Parses the value of a `Range` header for a representation of `len`
/// bytes. One `bytes=` range is served (`0-99`, `100-`, `-500`; an end past
/// the file is clamped); several ranges would need multipart/byteranges, so
/// they get the whole file. A range-spec whose last-pos is below its
/// first-pos is invalid, so the header is ignored.
pub fn parse_range(h: &[u8], len: u64) -> RangeReq {
    let (unit, Some(set)) = split_once(trim_ows(h), b'=') else {
        return RangeReq::Full;
    };
    if !unit.eq_ignore_ascii_case(b"bytes") {
        return RangeReq::Full;
    }
    // A list may hold empty elements (RFC 9110 §5.6.1); exactly one other.
    let mut spec = None;
    let mut rest = Some(set);
    while let Some(r) = rest {
        let (element, next) = split_once(r, b',');
        rest = next;
        let element = trim_ows(element);
        if element.is_empty() {
            continue;
        }
        if spec.is_some() {
            return RangeReq::Full;
        }
        spec = Some(element);
    }
    let Some((first, Some(last))) = spec.map(|s| split_once(s, b'-')) else {
        return RangeReq::Full;
    };
    if first.is_empty() {
        // Suffix: the last n bytes, or the whole file if it is shorter.
        let Some(n) = parse_u64(last) else {
            return RangeReq::Full;
        };
        if n == 0 {
            return RangeReq::Unsatisfiable;
        }
        if len == 0 {
            // "The entire representation is used", and it is empty: 200.
            return RangeReq::Full;
        }
        return RangeReq::Partial {
            start: len - n.min(len),
            end_inclusive: len - 1,
        };
    }
    let Some(start) = parse_u64(first) else {
        return RangeReq::Full;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match parse_u64(last) {
            Some(end) => end,
            None => return RangeReq::Full,
        }
    };
    if end < start {
        return RangeReq::Full;
    }
    if start >= len {
        return RangeReq::Unsatisfiable;
    }
    RangeReq::Partial {
        start,
        end_inclusive: end.min(len - 1),
    }
}

/// Longest `Content-Range` value: `bytes ` and three 20-digit numbers.
pub const CONTENT_RANGE_MAX: usize = 6 + 20 + 1 + 20 + 1 + 20;

/// The `Content-Range` value for `req` on a file of `len` bytes:
/// `bytes 0-99/1234` for a 206, `bytes */1234` for a 416, empty for `Full`
/// (a 200 sends no Content-Range).
pub fn format_content_range(req: RangeReq, len: u64, out: &mut [u8; CONTENT_RANGE_MAX]) -> &[u8] {
    let mut d = [0; 20];
    let mut line = Line::new(&mut out[..]);
    match req {
        RangeReq::Full => return &[],
        RangeReq::Partial {
            start,
            end_inclusive,
        } => {
            line.push(b"bytes ").push(u64_digits(start, false, &mut d));
            line.push(b"-")
                .push(u64_digits(end_inclusive, false, &mut d));
        }
        RangeReq::Unsatisfiable => {
            line.push(b"bytes *");
        }
    }
    line.push(b"/").push(u64_digits(len, false, &mut d));
    let n = line.as_bytes().len();
    out.get(..n).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::RangeReq::*;
    use super::*;

    fn p(start: u64, end_inclusive: u64) -> RangeReq {
        Partial {
            start,
            end_inclusive,
        }
    }

    #[test]
    fn table() {
        let rows: &[(&[u8], u64, RangeReq)] = &[
            (b"bytes=0-99", 1234, p(0, 99)),
            (b"bytes=0-0", 1234, p(0, 0)),
            (b"bytes=100-", 1234, p(100, 1233)),
            (b"bytes=-500", 1234, p(734, 1233)),
            (b"bytes=-1", 1234, p(1233, 1233)),
            (b"bytes=1233-", 1234, p(1233, 1233)),
            (b"bytes=1233-1233", 1234, p(1233, 1233)),
            (b"bytes=0-99999", 1234, p(0, 1233)),
            (b"bytes=0-", 1234, p(0, 1233)),
            (b"bytes=-5000", 1234, p(0, 1233)),
            (b"bytes=-1234", 1234, p(0, 1233)),
            (b"bytes=0-99999999999999999999999", 1234, p(0, 1233)),
            (b"bytes=-99999999999999999999999", 1234, p(0, 1233)),
            (b"Bytes=0-1", 10, p(0, 1)),
            (b"BYTES=0-1", 10, p(0, 1)),
            (b" bytes=0-1 ", 10, p(0, 1)),
            (b"bytes= 0-1", 10, p(0, 1)),
            (b"bytes=0-1,", 10, p(0, 1)),
            (b"bytes=, 0-1 ,,", 10, p(0, 1)),
            (b"bytes=000-001", 10, p(0, 1)),
            (
                b"bytes=0-18446744073709551615",
                u64::MAX,
                p(0, u64::MAX - 1),
            ),
            // Unsatisfiable: 416.
            (b"bytes=1234-", 1234, Unsatisfiable),
            (b"bytes=1234-2000", 1234, Unsatisfiable),
            (b"bytes=5000-6000", 1234, Unsatisfiable),
            (b"bytes=-0", 1234, Unsatisfiable),
            (b"bytes=-000", 1234, Unsatisfiable),
            (b"bytes=99999999999999999999999-", 1234, Unsatisfiable),
            (b"bytes=0-", 0, Unsatisfiable),
            (b"bytes=0-0", 0, Unsatisfiable),
            (b"bytes=-0", 0, Unsatisfiable),
            // Empty file, suffix: the whole (empty) file.
            (b"bytes=-1", 0, Full),
            // Several ranges: the whole file.
            (b"bytes=0-1,2-3", 10, Full),
            (b"bytes=0-1, 5-", 10, Full),
            (b"bytes=0-1,0-1", 10, Full),
            (b"bytes=50-60,0-1", 10, Full),
            // Malformed or unsupported: ignored.
            (b"", 10, Full),
            (b"bytes", 10, Full),
            (b"bytes=", 10, Full),
            (b"bytes=,", 10, Full),
            (b"bytes=-", 10, Full),
            (b"bytes=--1", 10, Full),
            (b"bytes=1", 10, Full),
            (b"bytes=1--2", 10, Full),
            (b"bytes=5-1", 10, Full),
            (b"bytes=5-1", 0, Full),
            (b"bytes=a-1", 10, Full),
            (b"bytes=0-b", 10, Full),
            (b"bytes=+1-2", 10, Full),
            (b"bytes=0x1-2", 10, Full),
            (b"bytes=0 -1", 10, Full),
            (b"bytes=0- 1", 10, Full),
            (b"bytes=1-2-3", 10, Full),
            (b"bytes =0-1", 10, Full),
            (b"bits=0-1", 10, Full),
            (b"items=0-1", 10, Full),
            (b"bytes:0-1", 10, Full),
            (b"0-1", 10, Full),
            (b"bytes=0-1;x", 10, Full),
            (b"bytes=\x000-1", 10, Full),
            (b"bytes=\xd9\xa1-2", 10, Full),
        ];
        for &(h, len, want) in rows {
            assert_eq!(
                parse_range(h, len),
                want,
                "{:?} len {len}",
                String::from_utf8_lossy(h)
            );
        }
    }

    #[test]
    fn content_range() {
        let rows: &[(RangeReq, u64, &str)] = &[
            (p(0, 99), 1234, "bytes 0-99/1234"),
            (p(1233, 1233), 1234, "bytes 1233-1233/1234"),
            (Unsatisfiable, 1234, "bytes */1234"),
            (Unsatisfiable, 0, "bytes */0"),
            (Full, 1234, ""),
            (
                p(u64::MAX - 1, u64::MAX - 1),
                u64::MAX,
                "bytes 18446744073709551614-18446744073709551614/18446744073709551615",
            ),
        ];
        for &(req, len, want) in rows {
            let mut out = [0; CONTENT_RANGE_MAX];
            assert_eq!(format_content_range(req, len, &mut out), want.as_bytes());
        }
    }
}
