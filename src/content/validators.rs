//! Validators for conditional GETs: a strong ETag made from file metadata,
//! and the `If-None-Match` test that turns a GET into a 304. It must never
//! report a match for a header it cannot parse: a false match serves a
//! stale copy, a false miss only costs one full response.
//!
//! The tag holds mtime (seconds and nanoseconds), size and inode, in hex:
//! the inode changes when a file is replaced by rename, even by one with the
//! same size and a preserved mtime (`cp -p`, `rsync -t`). Dates for
//! `If-Modified-Since` are `http::date`'s business, not this module's.

use super::{trim_ows, u64_digits};
use crate::fmt::Line;

/// Longest tag: two quotes, 16 hex digits each for mtime, size and inode,
/// 8 for the nanoseconds, and three separators.
pub const ETAG_MAX: usize = 2 + 16 + 1 + 8 + 1 + 16 + 1 + 16;

/// The strong ETag `"<mtime>.<nsec>-<size>-<ino>"` (lowercase hex, no
/// leading zeros; a pre-1970 mtime is written as its two's complement
/// bits, still distinct) in `out`, quotes included.
pub fn etag(ino: u64, size: u64, mtime: i64, mtime_nsec: u32, out: &mut [u8; ETAG_MAX]) -> &[u8] {
    let mut d = [0; 20];
    let mut line = Line::new(&mut out[..]);
    line.push(b"\"")
        .push(u64_digits(mtime as u64, true, &mut d));
    line.push(b".")
        .push(u64_digits(u64::from(mtime_nsec), true, &mut d));
    line.push(b"-").push(u64_digits(size, true, &mut d));
    line.push(b"-").push(u64_digits(ino, true, &mut d));
    line.push(b"\"");
    let n = line.as_bytes().len();
    out.get(..n).unwrap_or_default()
}

/// Whether an `If-None-Match` value matches `etag` (RFC 9110 §13.1.2): `*`
/// matches any existing file (call only when it exists); otherwise a comma
/// list of entity tags compared weakly, so `W/"x"` matches `"x"`. A value
/// that is not a well-formed list matches nothing.
pub fn if_none_match_matches(header: &[u8], etag: &[u8]) -> bool {
    let header = trim_ows(header);
    if header == b"*" {
        return true;
    }
    let want = weak_stripped(etag);
    let mut found = false;
    let mut rest = header;
    loop {
        // Skip separators (the list may hold empty elements).
        while let [b' ' | b'\t' | b',', r @ ..] = rest {
            rest = r;
        }
        if rest.is_empty() {
            return found;
        }
        let tag = weak_stripped(rest);
        // opaque-tag = DQUOTE *etagc DQUOTE; etagc excludes DQUOTE, so the
        // next quote closes it (a comma inside belongs to the tag).
        let Some(body) = tag.strip_prefix(b"\"") else {
            return false;
        };
        let Some(close) = body.iter().position(|&b| b == b'"') else {
            return false;
        };
        found |= tag.get(..close + 2) == Some(want);
        rest = body.get(close + 1..).unwrap_or_default();
        while let [b' ' | b'\t', r @ ..] = rest {
            rest = r;
        }
        match rest {
            [] => return found,
            [b',', r @ ..] => rest = r,
            _ => return false,
        }
    }
}

/// `t` without a leading `W/` (weak comparison ignores it).
fn weak_stripped(t: &[u8]) -> &[u8] {
    t.strip_prefix(b"W/").unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_format() {
        let rows: &[(u64, u64, i64, u32, &str)] = &[
            (0, 0, 0, 0, "\"0.0-0-0\""),
            (0x1234, 1000, 1_700_000_000, 5, "\"6553f100.5-3e8-1234\""),
            (1, 1, -1, 999_999_999, "\"ffffffffffffffff.3b9ac9ff-1-1\""),
            (
                u64::MAX,
                u64::MAX,
                i64::MIN,
                u32::MAX,
                "\"8000000000000000.ffffffff-ffffffffffffffff-ffffffffffffffff\"",
            ),
        ];
        for &(ino, size, mtime, nsec, want) in rows {
            let mut out = [0; ETAG_MAX];
            assert_eq!(etag(ino, size, mtime, nsec, &mut out), want.as_bytes());
        }
        // Each field changes the tag.
        let mut a = [0; ETAG_MAX];
        let mut b = [0; ETAG_MAX];
        let base = etag(1, 2, 3, 4, &mut a).to_vec();
        for other in [
            etag(9, 2, 3, 4, &mut b).to_vec(),
            etag(1, 9, 3, 4, &mut b).to_vec(),
        ] {
            assert_ne!(base, other);
        }
        assert_ne!(base, etag(1, 2, 9, 4, &mut b));
        assert_ne!(base, etag(1, 2, 3, 9, &mut b));
    }

    #[test]
    fn if_none_match() {
        let tag = b"\"abc-1\"";
        let rows: &[(&[u8], bool)] = &[
            (b"\"abc-1\"", true),
            (b"W/\"abc-1\"", true),
            (b"*", true),
            (b"  *  ", true),
            (b"\"x\", \"abc-1\"", true),
            (b"\"x\",\"abc-1\"", true),
            (b"\"x\" ,\t W/\"abc-1\" , \"y\"", true),
            (b", ,\"abc-1\",", true),
            (b"\"a,b\", \"abc-1\"", true),
            (b" \"abc-1\" ", true),
            // Reject rows.
            (b"", false),
            (b" ", false),
            (b",", false),
            (b"\"abc-2\"", false),
            (b"\"ABC-1\"", false),
            (b"abc-1", false),
            (b"\"abc-1", false),
            (b"abc-1\"", false),
            (b"\"abc-1\"x", false),
            (b"\"x\"\"abc-1\"", false),
            (b"\"x\" \"abc-1\"", false),
            (b"w/\"abc-1\"", false),
            (b"W/ \"abc-1\"", false),
            (b"W/W/\"abc-1\"", false),
            (b"\"abc-1 \"", false),
            (b"\"x\", *", false),
            (b"**", false),
            (b"\"", false),
            (b"\"\"", false),
            (b"\"a,b\"", false),
            (b"junk, \"abc-1\"", false),
            (b"\"abc-1\", junk", false),
            (b"\"abc-1\", *", false),
        ];
        for &(h, want) in rows {
            assert_eq!(
                if_none_match_matches(h, tag),
                want,
                "{:?}",
                String::from_utf8_lossy(h)
            );
        }
        // A weak tag of ours matches its strong form too.
        assert!(if_none_match_matches(b"\"abc-1\"", b"W/\"abc-1\""));
        assert!(!if_none_match_matches(b"\"\"", b""));
    }
}
