//! The `Accept` header (RFC 9110 §12.5.1), asked two questions: does the
//! client want JSON rather than HTML (a directory listing's format), and is
//! this a page navigation (a single-page app's fallback to its index)?
//! It never fails: a malformed element is skipped, as if it were not sent.
//!
//! A media type's weight comes from the most specific range that matches
//! it: `text/html` over `text/*` over `*/*`; between equally specific
//! ranges the higher q wins. Parameters other than `q` are ignored: the
//! server has one HTML and one JSON form, no variants for them to choose.
//! A `q` that is not a valid qvalue (`q=2`, `q=0.1234`, `q=x`) makes its
//! element be skipped rather than guessed at.

use super::trim_ows;

/// q-values in thousandths, the precision RFC 9110 allows.
const Q_ONE: u16 = 1000;

/// `true` when `application/json` gets a higher weight than `text/html`.
/// A tie (`*/*`, or both listed at the same q) and no header at all are
/// `false`: HTML is the default, what a browser and curl's `*/*` get.
pub fn prefers_json(accept: Option<&[u8]>) -> bool {
    let Some(h) = accept else { return false };
    weight(h, b"application", b"json", true) > weight(h, b"text", b"html", true)
}

/// `true` when `text/html` (or `text/*`) is listed with a q above 0: a
/// browser navigating to a page. `*/*` alone does not count: curl and a
/// browser's `<img>` or `fetch()` send it for things that are not pages,
/// and a missing asset should be a 404, not the app's index.html with 200.
/// No header: `false`, for the same reason.
pub fn allows_html(accept: Option<&[u8]>) -> bool {
    accept.is_some_and(|h| weight(h, b"text", b"html", false) > 0)
}

/// The weight `h` gives `ty/sub` (0 when nothing matches), counting `*/*`
/// only if `any` is set.
fn weight(h: &[u8], ty: &[u8], sub: &[u8], any: bool) -> u16 {
    // (specificity, q): 3 = exact, 2 = `type/*`, 1 = `*/*`, 0 = no match
    let mut best = (0u8, 0u16);
    let mut rest = Some(h);
    while let Some(r) = rest {
        let (element, next) = split_unquoted(r, b',');
        rest = next;
        let Some((rt, rs, q)) = media_range(element) else { continue };
        let specific = match (rt, rs) {
            (b"*", b"*") if any => 1,
            (t, b"*") if t.eq_ignore_ascii_case(ty) => 2,
            (t, s) if t.eq_ignore_ascii_case(ty) && s.eq_ignore_ascii_case(sub) => 3,
            _ => continue,
        };
        if (specific, q) > best {
            best = (specific, q);
        }
    }
    best.1
}

/// `type/subtype` and q (1 when absent) of one list element, or `None` if
/// it is empty or malformed.
fn media_range(element: &[u8]) -> Option<(&[u8], &[u8], u16)> {
    let (range, mut params) = split_unquoted(element, b';');
    let (ty, sub) = match super::split_once(trim_ows(range), b'/') {
        (t, Some(s)) if is_token(t) && is_token(s) => (t, s),
        _ => return None,
    };
    if ty == b"*" && sub != b"*" {
        return None;
    }
    let mut q = None;
    while let Some(p) = params {
        let (param, next) = split_unquoted(p, b';');
        params = next;
        let param = trim_ows(param);
        if param.is_empty() {
            continue;
        }
        let (name, value) = match super::split_once(param, b'=') {
            (n, Some(v)) if is_token(n) => (n, v),
            _ => return None,
        };
        if name.eq_ignore_ascii_case(b"q") && q.is_none() {
            q = Some(qvalue(value)?);
        }
    }
    Some((ty, sub, q.unwrap_or(Q_ONE)))
}

/// `0`, `0.5`, `0.125`, `1`, `1.000` -> thousandths; anything else `None`.
fn qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match super::split_once(v, b'.') {
        (i, Some(f)) => (i, f),
        (i, None) => (i, &[][..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for i in 0..3 {
        let d = frac.get(i).map_or(0, |&c| u16::from(c - b'0'));
        thousandths = thousandths * 10 + d;
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(Q_ONE),
        _ => None,
    }
}

/// RFC 9110 token: one or more tchar.
fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `s` up to the first `sep` outside a quoted string, and what follows it.
/// A parameter value may be quoted and hold `,` or `;` (`a;x="1,2"`).
fn split_unquoted(s: &[u8], sep: u8) -> (&[u8], Option<&[u8]>) {
    let (mut quoted, mut escaped) = (false, false);
    for (i, &b) in s.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            _ if b == sep && !quoted => return (s.get(..i).unwrap_or_default(), s.get(i + 1..)),
            _ => {}
        }
    }
    (s, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREFOX: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    const CHROME: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,\
        image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
    const IMG: &str = "image/avif,image/webp,*/*";

    #[test]
    fn prefers_json_table() {
        #[rustfmt::skip]
        let rows: &[(Option<&str>, bool)] = &[
            (None, false),
            (Some(""), false),
            (Some("*/*"), false),
            (Some(FIREFOX), false),
            (Some(CHROME), false),
            (Some("application/json"), true),
            (Some("APPLICATION/JSON"), true),
            (Some("application/json, text/html;q=0.9"), true),
            (Some("text/html;q=0.9, application/json"), true),
            (Some("text/html, application/json"), false),
            (Some("application/json;q=0.5, text/html;q=0.5"), false),
            (Some("application/*"), true),
            (Some("application/*, text/*;q=0.5"), true),
            (Some("application/json;q=0.5, */*;q=0.9"), false),
            (Some("application/json;q=0.5, text/*;q=0.1"), true),
            (Some("*/*;q=0.1, application/json"), true),
            (Some("application/json;q=0, */*"), false),
            // HTML refused, anything else taken: the other form (a fuzz find)
            (Some("text/html;q=0, */*"), true),
            (Some("text/*;q=0.59, */*;q=0.8"), true),
            (Some("application/json;charset=utf-8"), true),
            (Some("application/json; q=0.9 , text/html ; Q=0.8"), true),
            (Some("application/json;x=\"a,text/html\";q=0.6, text/html;q=0.5"), true),
            (Some("text/html;q=0.4, application/json;q=1.000"), true),
            // reject rows: a malformed element counts as not sent
            (Some("application/json;q=2"), false),
            (Some("application/json;q=1.5"), false),
            (Some("application/json;q=0.1234"), false),
            (Some("application/json;q="), false),
            (Some("application/json;q=x"), false),
            (Some("application/json;;q"), false),
            (Some("application json"), false),
            (Some("*/json"), false),
            (Some("json"), false),
            (Some("application/json\"q=1"), false),
            (Some(",,,"), false),
        ];
        for &(h, want) in rows {
            assert_eq!(prefers_json(h.map(str::as_bytes)), want, "{h:?}");
        }
    }

    #[test]
    fn allows_html_table() {
        #[rustfmt::skip]
        let rows: &[(Option<&str>, bool)] = &[
            (Some(FIREFOX), true),
            (Some(CHROME), true),
            (Some("text/html"), true),
            (Some("Text/HTML;q=0.001"), true),
            (Some("text/*"), true),
            (Some("text/plain, text/*;q=0.2"), true),
            (Some("application/xhtml+xml, text/html;level=1"), true),
            // not a navigation
            (None, false),
            (Some(""), false),
            (Some("*/*"), false),
            (Some(IMG), false),
            (Some("application/json"), false),
            (Some("text/plain"), false),
            (Some("text/css,*/*;q=0.1"), false),
            (Some("text/html;q=0"), false),
            (Some("text/html;q=0.000"), false),
            (Some("text/html;q=0, text/*"), false),
            (Some("text/*;q=0, */*"), false),
            (Some("text/html;q=1.1"), false),
            (Some("texthtml"), false),
            (Some("text/ html"), false),
        ];
        for &(h, want) in rows {
            assert_eq!(allows_html(h.map(str::as_bytes)), want, "{h:?}");
        }
    }

    #[test]
    fn qvalues() {
        let rows: &[(&str, Option<u16>)] = &[
            ("0", Some(0)),
            ("0.", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.125", Some(125)),
            ("1", Some(1000)),
            ("1.0", Some(1000)),
            ("1.000", Some(1000)),
            ("1.001", None),
            ("2", None),
            ("", None),
            (".5", None),
            ("0.1234", None),
            ("-0", None),
            ("0.5x", None),
        ];
        for &(v, want) in rows {
            assert_eq!(qvalue(v.as_bytes()), want, "{v:?}");
        }
    }
}
