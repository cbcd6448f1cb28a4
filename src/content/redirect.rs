//! `redirect FROM TO [CODE]` rules: checked once at start, then matched
//! against a request target and turned into a `Location` value. It must
//! never build a Location that leaves the site when TO is a path (`//host`,
//! `/\host`), nor one holding a byte that could split the response.
//!
//! Matching is on the raw request path, byte for byte, without decoding:
//! `/ol%64` does not match `/old`. A rule names paths as clients send them,
//! and one comparison per rule keeps a request to one pass over the table.
//! A prefix rule `/old/*` matches `/old` itself and everything under
//! `/old/`; the part after `/old/` (leading slashes dropped, see
//! [`location`]) replaces the `*` of TO, or is dropped when TO has none.

use crate::fmt::{hex_value, parse_u32};
use crate::http::response::Out;

/// The status when a rule names none: permanent, as most moved pages are.
pub const DEFAULT_CODE: u16 = 301;

/// Enough for any Location built from a request that fits the head buffer:
/// every byte of an 8 KiB target may become three (`%XX`), plus TO.
pub const MAX_LOCATION: usize = 3 * crate::http::request::MAX_HEAD + 1024;

/// A checked rule. The slices point into the caller's configuration text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule<'a> {
    /// FROM without its `*`. INVARIANT: starts with `/`; if `prefix`, ends
    /// with `/`; only bytes 0x21..=0x7e, no `?`, `#` or `*`.
    from: &'a [u8],
    /// FROM ended in `/*`.
    prefix: bool,
    /// TO without its `*`. INVARIANT: a path not starting with `//` or `/\`,
    /// or `http(s)://` and a host; only bytes 0x21..=0x7e; no `*`; if
    /// `star`, ends with `/` and holds no `?` or `#`.
    to: &'a [u8],
    /// TO ended in `/*`: the rest of the request path goes there.
    star: bool,
    /// INVARIANT: one of 301, 302, 303, 307, 308.
    code: u16,
}

impl Rule<'_> {
    /// The status to answer a matching request with.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// TO is a path on this site, not an absolute URL.
    pub fn is_local(&self) -> bool {
        self.to.first() == Some(&b'/')
    }
}

/// Why a rule was refused at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectError {
    /// FROM does not start with `/`, or holds `?` or `#` (the query is
    /// never matched).
    BadFrom,
    /// TO is neither a path nor an `http://` / `https://` URL with a host.
    BadTo,
    /// TO starts with `//` or `/\`: a browser reads that as another host.
    OpenRedirect,
    /// A space, control byte, DEL or non-ASCII byte in FROM or TO (write
    /// it as `%XX`).
    BadByte,
    /// A `*` that is not the last byte after a `/`, or a `*` in TO when
    /// FROM has none (nothing to fill it with), or with a `?` or `#` in TO.
    Wildcard,
    /// CODE is not one of 301, 302, 303, 307, 308.
    BadCode,
}

impl RedirectError {
    /// The refusal as a config error says it.
    pub fn what(self) -> &'static str {
        match self {
            RedirectError::BadFrom => "FROM is a path (/old or /old/*), without ? or #",
            RedirectError::BadTo => "TO is a path (/new, /new/*) or an http(s):// URL with a host",
            RedirectError::OpenRedirect => "TO starts with // or /\\, which browsers read as another host",
            RedirectError::BadByte => "a space, control or non-ASCII byte in FROM or TO (write it as %XX)",
            RedirectError::Wildcard => "* only ends FROM after a /, and TO has one only if FROM does",
            RedirectError::BadCode => "the code must be 301 302 303 307 or 308",
        }
    }
}

/// Checks `redirect FROM TO [CODE]` (`code` is the word as written, `None`
/// for the default 301).
pub fn check<'a>(from: &'a [u8], to: &'a [u8], code: Option<&[u8]>) -> Result<Rule<'a>, RedirectError> {
    let code = match code {
        None => DEFAULT_CODE,
        Some(c) => match parse_u32(c) {
            Some(n @ (301 | 302 | 303 | 307 | 308)) if c.len() == 3 => n as u16,
            _ => return Err(RedirectError::BadCode),
        },
    };
    let visible = |s: &[u8]| s.iter().all(|&b| (0x21..0x7f).contains(&b));
    if !visible(from) || !visible(to) {
        return Err(RedirectError::BadByte);
    }
    let (from, prefix) = split_star(from)?;
    if from.first() != Some(&b'/') || from.iter().any(|&b| b == b'?' || b == b'#') {
        return Err(RedirectError::BadFrom);
    }
    let (to, star) = split_star(to)?;
    if star && (!prefix || to.iter().any(|&b| b == b'?' || b == b'#')) {
        return Err(RedirectError::Wildcard);
    }
    match to {
        [b'/', b'/' | b'\\', ..] => return Err(RedirectError::OpenRedirect),
        [b'/', ..] => {}
        _ => {
            if !absolute_with_host(to) {
                return Err(RedirectError::BadTo);
            }
        }
    }
    Ok(Rule { from, prefix, to, star, code })
}

/// `s` without a final `/*`, and whether it had one; any other `*` is an
/// error (one wildcard, at the end, standing for whole segments).
fn split_star(s: &[u8]) -> Result<(&[u8], bool), RedirectError> {
    let (s, star) = match s.strip_suffix(b"*") {
        Some(head) if head.last() == Some(&b'/') => (head, true),
        Some(_) => return Err(RedirectError::Wildcard),
        None => (s, false),
    };
    if s.contains(&b'*') {
        return Err(RedirectError::Wildcard);
    }
    Ok((s, star))
}

/// `http://` or `https://` (either case) and a non-empty authority with no
/// `\` (which browsers read as `/`, ending the host early).
fn absolute_with_host(to: &[u8]) -> bool {
    let Some(at) = to.iter().position(|&b| b == b':') else { return false };
    let (scheme, rest) = to.split_at(at);
    if !scheme.eq_ignore_ascii_case(b"http") && !scheme.eq_ignore_ascii_case(b"https") {
        return false;
    }
    let Some(rest) = rest.strip_prefix(b"://") else { return false };
    let host_end = rest.iter().position(|&b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let authority = rest.get(..host_end).unwrap_or_default();
    !authority.is_empty() && !authority.contains(&b'\\')
}

/// The request's path if the rule matches it, and the part a `*` stands
/// for (empty for an exact rule). The query is never part of the match.
fn matched<'t>(rule: &Rule<'_>, path: &'t [u8]) -> Option<&'t [u8]> {
    if !rule.prefix {
        return (path == rule.from).then_some(&[][..]);
    }
    if let Some(rest) = path.strip_prefix(rule.from) {
        return Some(rest);
    }
    // `/old/*` also takes `/old`, the folder named without its slash.
    let bare = rule.from.strip_suffix(b"/")?;
    (path == bare && !bare.is_empty()).then_some(&[][..])
}

/// Does `rule` apply to this request target (`/path?query`)?
pub fn matches(rule: &Rule<'_>, target: &[u8]) -> bool {
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    path.first() == Some(&b'/') && matched(rule, path).is_some()
}

/// Writes the Location for `target` (`/path?query`, as in the request
/// line) into `out` and returns its length; `None` when the rule does not
/// match or `out` is too small ([`MAX_LOCATION`] is always enough; tell the
/// two apart with [`matches`]).
///
/// The Location is TO (up to its `*`), then for a `*` the rest of the
/// request path with its leading slashes dropped (so `/old//evil.com`
/// under `/old/*` -> `/*` gives `/evil.com`, never `//evil.com`), then the
/// request's query unless TO has its own `?` (placed before TO's `#`
/// fragment, where a query belongs). Request bytes that may not appear in
/// a URL (controls, space, DEL, non-ASCII, `"<>\^`{|}#`, a `%` without two
/// hex digits) are written as `%XX`; a valid `%XX` is kept as it is.
pub fn location(rule: &Rule<'_>, target: &[u8], out: &mut [u8]) -> Option<usize> {
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(i) => (target.get(..i)?, target.get(i..)?),
        None => (target, &[][..]),
    };
    if path.first() != Some(&b'/') {
        return None;
    }
    let rest = matched(rule, path)?;
    let (to, fragment) = match rule.to.iter().position(|&b| b == b'#') {
        Some(i) => (rule.to.get(..i)?, rule.to.get(i..)?),
        None => (rule.to, &[][..]),
    };
    let mut w = Out::new(out);
    w.push(to);
    if rule.star {
        let start = rest.iter().position(|&b| b != b'/').unwrap_or(rest.len());
        push_encoded(&mut w, rest.get(start..)?);
    }
    if !rule.to.contains(&b'?') {
        push_encoded(&mut w, query);
    }
    w.push(fragment);
    (!w.is_full()).then_some(w.len())
}

/// Appends `s`, each byte that may not appear in a URL as `%XX`.
fn push_encoded(w: &mut Out<'_>, s: &[u8]) {
    for (i, &b) in s.iter().enumerate() {
        let escape = match b {
            b'%' => !matches!(s.get(i + 1..i + 3), Some(&[h, l]) if hex_value(h).is_some() && hex_value(l).is_some()),
            b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}' | b'#' => true,
            _ => !(0x21..0x7f).contains(&b),
        };
        if escape {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            w.push(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            w.byte(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_table() {
        use RedirectError::*;
        let ok = |from: &'static str, to: &'static str, code: Option<&'static str>, want: u16| {
            let r = check(from.as_bytes(), to.as_bytes(), code.map(str::as_bytes));
            assert_eq!(r.map(|r| r.code()), Ok(want), "{from} {to} {code:?}");
        };
        ok("/old", "/new", None, 301);
        ok("/old/*", "/new/*", Some("308"), 308);
        ok("/old/*", "/new", Some("302"), 302);
        ok("/*", "https://example.com/*", Some("307"), 307);
        ok("/a", "HTTPS://example.com", Some("303"), 303);
        ok("/a", "http://example.com:8080/x?y=1#z", None, 301);
        ok("/caf%C3%A9", "/cafe", None, 301);
        #[rustfmt::skip]
        let rejects: &[(&str, &str, Option<&str>, RedirectError)] = &[
            ("old", "/new", None, BadFrom),
            ("", "/new", None, BadFrom),
            ("*", "/new", None, Wildcard),
            ("/old?x=1", "/new", None, BadFrom),
            ("/old#x", "/new", None, BadFrom),
            ("/old*", "/new", None, Wildcard),
            ("/o*d/", "/new", None, Wildcard),
            ("/old/**", "/new", None, Wildcard),
            ("/old", "/new/*", None, Wildcard),
            ("/old/*", "/new*", None, Wildcard),
            ("/old/*", "/new/*?x", None, Wildcard),
            ("/old/*", "/new?x=/*", None, Wildcard),
            ("/old/*", "https://example.com*", None, Wildcard),
            ("/old", "//evil.com", None, OpenRedirect),
            ("/old", "/\\evil.com", None, OpenRedirect),
            ("/old/*", "//*", None, OpenRedirect),
            ("/old", "new", None, BadTo),
            ("/old", "", None, BadTo),
            ("/old", "javascript:alert(1)", None, BadTo),
            ("/old", "ftp://example.com/", None, BadTo),
            ("/old", "https://", None, BadTo),
            ("/old", "https:///x", None, BadTo),
            ("/old", "https:example.com", None, BadTo),
            ("/old", "https://evil.com\\@example.com", None, BadTo),
            ("/old", "/new\r\nSet-Cookie:x", None, BadByte),
            ("/o ld", "/new", None, BadByte),
            ("/old\0", "/new", None, BadByte),
            ("/old", "/n\x7few", None, BadByte),
            ("/old", "/caf\u{e9}", None, BadByte),
            ("/old", "/new", Some("200"), BadCode),
            ("/old", "/new", Some("300"), BadCode),
            ("/old", "/new", Some("304"), BadCode),
            ("/old", "/new", Some("0301"), BadCode),
            ("/old", "/new", Some(""), BadCode),
            ("/old", "/new", Some("permanent"), BadCode),
        ];
        for &(from, to, code, want) in rejects {
            assert_eq!(check(from.as_bytes(), to.as_bytes(), code.map(str::as_bytes)), Err(want), "{from:?} {to:?}");
        }
    }

    #[test]
    fn location_table() {
        #[rustfmt::skip]
        let rows: &[(&str, &str, &str, Option<&str>)] = &[
            // exact
            ("/old", "/new", "/old", Some("/new")),
            ("/old", "/new", "/old?a=1&b", Some("/new?a=1&b")),
            ("/old", "/new?lang=en", "/old?a=1", Some("/new?lang=en")),
            ("/old", "/new#top", "/old?a=1", Some("/new?a=1#top")),
            ("/old", "/new", "/old/", None),
            ("/old", "/new", "/older", None),
            ("/old", "/new", "/OLD", None),
            ("/old", "/new", "/ol%64", None),
            ("/old", "https://example.com", "/old?q", Some("https://example.com?q")),
            // prefix
            ("/old/*", "/new/*", "/old/a/b.html", Some("/new/a/b.html")),
            ("/old/*", "/new/*", "/old/a?x=1", Some("/new/a?x=1")),
            ("/old/*", "/new/*", "/old/", Some("/new/")),
            ("/old/*", "/new/*", "/old", Some("/new/")),
            ("/old/*", "/new/*", "/older", None),
            ("/old/*", "/new/*", "/ol", None),
            ("/old/*", "/new", "/old/a/b", Some("/new")),
            ("/old/*", "https://example.com/x/*", "/old/a b", Some("https://example.com/x/a%20b")),
            ("/*", "https://example.com/*", "/", Some("https://example.com/")),
            ("/*", "https://example.com/*", "/p?q", Some("https://example.com/p?q")),
            // no open redirect: leading slashes of the rest are dropped
            ("/old/*", "/*", "/old//evil.com", Some("/evil.com")),
            ("/old/*", "/*", "/old///evil.com/x", Some("/evil.com/x")),
            ("/old/*", "/*", "/old/\\evil.com", Some("/%5Cevil.com")),
            ("/*", "/*", "//evil.com", Some("/evil.com")),
            ("/*", "/*", "/\\evil.com", Some("/%5Cevil.com")),
            ("/old/*", "/*", "/old/", Some("/")),
            // bytes from the request are encoded
            ("/old/*", "/new/*", "/old/a\r\nSet-Cookie: x", Some("/new/a%0D%0ASet-Cookie:%20x")),
            ("/old/*", "/new/*", "/old/\0", Some("/new/%00")),
            ("/old/*", "/new/*", "/old/caf\u{e9}", Some("/new/caf%C3%A9")),
            ("/old/*", "/new/*", "/old/caf%C3%A9", Some("/new/caf%C3%A9")),
            ("/old/*", "/new/*", "/old/100%", Some("/new/100%25")),
            ("/old/*", "/new/*", "/old/%zz%4", Some("/new/%25zz%254")),
            ("/old/*", "/new/*", "/old/\"<>^`{|}#", Some("/new/%22%3C%3E%5E%60%7B%7C%7D%23")),
            ("/old/*", "/new/*", "/old/a?b c\r\n", Some("/new/a?b%20c%0D%0A")),
            // not origin-form
            ("/*", "/*", "", None),
            ("/*", "/*", "*", None),
            ("/*", "/*", "http://evil.com/", None),
            ("/*", "/*", "?x", None),
        ];
        for &(from, to, target, want) in rows {
            let rule = check(from.as_bytes(), to.as_bytes(), None).unwrap();
            let mut out = [0u8; 256];
            let got = location(&rule, target.as_bytes(), &mut out).map(|n| &out[..n]);
            assert_eq!(got, want.map(str::as_bytes), "{from} {to} {target:?}");
            assert_eq!(matches(&rule, target.as_bytes()), want.is_some(), "{from} {target:?}");
        }
    }

    #[test]
    fn location_too_long() {
        let rule = check(b"/old/*", b"/new/*", None).unwrap();
        let mut small = [0u8; 8];
        assert_eq!(location(&rule, b"/old/abcd", &mut small), None);
        assert!(matches(&rule, b"/old/abcd"));
        assert_eq!(location(&rule, b"/old/abc", &mut small), Some(8));
        // The worst case fits MAX_LOCATION.
        let target: Vec<u8> = [&b"/old/"[..], &[b' '; crate::http::request::MAX_HEAD]].concat();
        let mut out = vec![0u8; MAX_LOCATION];
        assert!(location(&rule, &target, &mut out).is_some());
    }
}
