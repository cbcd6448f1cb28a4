//! driftd's content: static files, the KV store and the HTTP client, as pure
//! functions over bytes. Nothing here makes a system call, allocates, or can
//! panic on what a peer sends; `sys`, the server and the binaries do the I/O.

/// ACME (RFC 8555) objects, headers and times, read from what a CA sends.
pub mod acme;
/// `Accept` header: JSON or HTML, and is this a page navigation?
pub mod accept;
/// CORS: allowed origins checked at start; the headers for a request.
pub mod cors;
/// HTTP Basic credentials, htpasswd lines and bcrypt, for `auth` rules.
pub mod auth;
/// base64url without padding (RFC 4648 §5), for JOSE and ACME.
pub mod base64url;
/// DNS queries and replies over UDP; resolv.conf and /etc/hosts.
pub mod dns;
/// Trusted-proxy CIDR lists; the client behind `Forwarded` / `X-Forwarded-For`.
pub mod forwarded;
/// Path globs (`*`, `**`, `?`) for config rules.
pub mod glob;
/// A strict JSON reader over bytes, and JSON string escaping (for ACME).
pub mod json;
/// KV key names, and the temporary files a store goes through.
pub mod kvkey;
/// A directory listing as HTML or JSON, from entries the server read.
pub mod listing;
/// File name -> `Content-Type`, from a built-in table.
pub mod mime;
/// `Accept-Encoding` -> which precompressed sibling of a file to send.
pub mod negotiate;
/// URL path -> safe relative file path, or a rejection with its status.
pub mod path;
/// `user NAME|UID[:GROUP|GID]`; names -> ids from /etc/passwd and /etc/group text.
pub mod passwd;
/// PROXY protocol v1/v2 headers from a load balancer -> the client address.
pub mod proxy;
/// `redirect FROM TO [CODE]` rules -> a safe `Location`.
pub mod redirect;
/// `Range` header -> the byte span to send; `Content-Range` values.
pub mod range;
/// `http://` URLs and IP address literals, for `driftd get`.
pub mod url;
/// Strong ETags from file metadata; `If-None-Match` matching.
pub mod validators;

/// `s` up to the first `sep`, and what follows it (`None` when there is no
/// `sep`). One non-generic splitter instead of a `split` closure per caller.
fn split_once(s: &[u8], sep: u8) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == sep) {
        Some(i) => (s.get(..i).unwrap_or_default(), s.get(i + 1..)),
        None => (s, None),
    }
}

/// `s` without leading and trailing spaces and tabs (RFC 9110 OWS).
fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The first word of `s` and what follows it, for line-based config files:
/// any byte up to and including space (tabs, `\r`) separates words.
fn next_word(s: &[u8]) -> (&[u8], &[u8]) {
    let start = s.iter().position(|&b| b > b' ').unwrap_or(s.len());
    let s = s.get(start..).unwrap_or_default();
    let end = s.iter().position(|&b| b <= b' ').unwrap_or(s.len());
    (
        s.get(..end).unwrap_or_default(),
        s.get(end..).unwrap_or_default(),
    )
}

/// `n` in decimal, or lowercase hex without leading zeros, at the end of
/// `out` (20 digits hold any u64).
fn u64_digits(mut n: u64, hex: bool, out: &mut [u8; 20]) -> &[u8] {
    let radix = if hex { 16 } else { 10 };
    let mut i = out.len();
    while let Some(slot) = i.checked_sub(1).and_then(|j| out.get_mut(j)) {
        *slot = b"0123456789abcdef"
            .get((n % radix) as usize)
            .copied()
            .unwrap_or(b'0');
        i -= 1;
        n /= radix;
        if n == 0 {
            break;
        }
    }
    out.get(i..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(split_once(b"a?b?c", b'?'), (&b"a"[..], Some(&b"b?c"[..])));
        assert_eq!(split_once(b"abc", b'?'), (&b"abc"[..], None));
        assert_eq!(split_once(b"abc?", b'?'), (&b"abc"[..], Some(&b""[..])));
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"  "), b"");
        assert_eq!(
            next_word(b"  nameserver\t1.2.3.4 x"),
            (&b"nameserver"[..], &b"\t1.2.3.4 x"[..])
        );
        assert_eq!(next_word(b" \r\n"), (&b""[..], &b""[..]));
        for (n, dec, hex) in [
            (0u64, "0", "0"),
            (255, "255", "ff"),
            (u64::MAX, "18446744073709551615", "ffffffffffffffff"),
        ] {
            let mut d = [0; 20];
            assert_eq!(u64_digits(n, false, &mut d), dec.as_bytes());
            assert_eq!(u64_digits(n, true, &mut d), hex.as_bytes());
        }
    }
}
