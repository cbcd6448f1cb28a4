//! CORS (the Fetch standard's CORS protocol): which origins a route lets
//! read its responses, checked once at start, and per request the headers
//! that say so. It must never echo a byte a peer chose unless that byte
//! was checked: an origin only when it equals a configured one, requested
//! header names only when they are a valid token list.
//!
//! Decisions:
//! - A preflight from an origin that is not allowed still gets its 204,
//!   just without the `Access-Control-Allow-*` headers: that is how a
//!   browser learns "no" (a 403 tells it nothing more, and shows up as a
//!   server error in its console).
//! - With a list of origins, every response carries `Vary: Origin`, even
//!   to a request with no `Origin` or an origin not allowed: the answer
//!   depends on the header, and a shared cache must not hand one origin's
//!   response (with or without `Access-Control-Allow-Origin`) to another.
//!   With `*` nothing depends on it, so no `Vary`.
//! - Credentials are not offered (no `Access-Control-Allow-Credentials`):
//!   a static site has no cookies to protect, and `*` forbids them anyway.

use super::url::{parse_ipv4, parse_ipv6, valid_name};
use super::{split_once, trim_ows};

/// The methods a static site answers, for `Access-Control-Allow-Methods`.
/// A route that takes more (the KV store) passes its own list.
pub const STATIC_METHODS: &[u8] = b"GET, HEAD, OPTIONS";

/// How long a browser may cache a preflight's answer: one day, Firefox's
/// cap (Chrome stops at two hours whatever we say).
pub const MAX_AGE: &[u8] = b"86400";

const ALLOW_ORIGIN: &[u8] = b"Access-Control-Allow-Origin";
const VARY: &[u8] = b"Vary";

/// A route's allowed origins, checked at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origins<'a> {
    /// `*`: any origin may read; the answer is the same for all.
    any: bool,
    /// INVARIANT: unless `any`, words (separated by spaces, tabs or commas)
    /// that each passed [`check_origin`]; at least one.
    list: &'a [u8],
}

impl<'a> Origins<'a> {
    /// The list as it was written (for `--check-config`).
    pub fn as_text(&self) -> &'a [u8] {
        self.list
    }
}

/// Why a configured origin list was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorsError {
    /// No origin at all.
    Empty,
    /// `*` together with other origins: it already allows them.
    StarInList,
    /// Not `http://` or `https://`, a host and an optional port: a path
    /// (even a lone `/`), a query, user info, a bad host or byte.
    BadOrigin,
    /// `:443` on https or `:80` on http: browsers never send the default
    /// port, so this origin would never match.
    DefaultPort,
}

impl CorsError {
    /// The refusal as a config error says it.
    pub fn what(self) -> &'static str {
        match self {
            CorsError::Empty => "takes * or one or more origins",
            CorsError::StarInList => "* already allows every origin: give it alone",
            CorsError::BadOrigin => "an origin is http(s)://host[:port], without a path",
            CorsError::DefaultPort => "browsers never send :443 on https or :80 on http: leave the port out",
        }
    }
}

/// Checks a configured list: `*`, or origins such as `https://a.example`
/// and `http://localhost:3000` separated by spaces, tabs or commas.
pub fn check_origins(list: &[u8]) -> Result<Origins<'_>, CorsError> {
    let mut count = 0;
    let mut star = false;
    for word in words(list) {
        count += 1;
        if word == b"*" {
            star = true;
        } else {
            check_origin(word)?;
        }
    }
    match (count, star) {
        (0, _) => Err(CorsError::Empty),
        (1, true) => Ok(Origins { any: true, list }),
        (_, true) => Err(CorsError::StarInList),
        _ => Ok(Origins { any: false, list }),
    }
}

/// One serialized origin (RFC 6454 §6.2) as a browser sends it in `Origin`.
pub fn check_origin(o: &[u8]) -> Result<(), CorsError> {
    let bad = Err(CorsError::BadOrigin);
    let (scheme, rest) = match split_once(o, b':') {
        (s, Some(r)) => (s, r),
        _ => return bad,
    };
    let https = scheme.eq_ignore_ascii_case(b"https");
    if !https && !scheme.eq_ignore_ascii_case(b"http") {
        return bad;
    }
    let Some(authority) = rest.strip_prefix(b"//") else { return bad };
    // The host ends at `]` for an IPv6 literal, else at the port's `:`.
    let (host, port) = match authority.strip_prefix(b"[") {
        Some(v6) => match split_once(v6, b']') {
            (addr, Some(after)) if parse_ipv6(addr).is_some() => match after {
                [] => (None, None),
                [b':', digits @ ..] => (None, Some(digits)),
                _ => return bad,
            },
            _ => return bad,
        },
        None => {
            let (h, p) = split_once(authority, b':');
            (Some(h), p)
        }
    };
    if let Some(h) = host
        && parse_ipv4(h).is_none()
        && !valid_name(h)
    {
        return bad;
    }
    let Some(digits) = port else { return Ok(()) };
    match crate::fmt::parse_u32(digits) {
        Some(n) if digits.first() != Some(&b'0') && n <= 65535 => {
            if (https && n == 443) || (!https && n == 80) { Err(CorsError::DefaultPort) } else { Ok(()) }
        }
        _ => bad,
    }
}

/// The words of a configured list.
fn words(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&b| matches!(b, b' ' | b'\t' | b',')).filter(|w| !w.is_empty())
}

impl Origins<'_> {
    /// Whether a request's `Origin` may read the response. With a list:
    /// equal to one of them, ignoring ASCII case (scheme and host are case
    /// insensitive; the port is digits). `null` (a sandboxed frame, a
    /// file:// page, a redirect across origins) is never in a list.
    pub fn allows(&self, origin: &[u8]) -> bool {
        self.any || (origin != b"null" && words(self.list).any(|w| w.eq_ignore_ascii_case(origin)))
    }
}

/// The request's CORS-related parts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request<'a> {
    pub method: &'a [u8],
    pub origin: Option<&'a [u8]>,
    /// `Access-Control-Request-Method`
    pub request_method: Option<&'a [u8]>,
    /// `Access-Control-Request-Headers`
    pub request_headers: Option<&'a [u8]>,
}

impl Request<'_> {
    /// `OPTIONS` with `Origin` and `Access-Control-Request-Method`: a
    /// browser asking before the real request, not a request of its own.
    pub fn is_preflight(&self) -> bool {
        self.method == b"OPTIONS" && self.origin.is_some() && self.request_method.is_some()
    }
}

/// Header lines to add, as (name, value) pairs; values borrow the checked
/// request or are constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Headers<'a> {
    pairs: [(&'static [u8], &'a [u8]); 5],
    /// INVARIANT: len <= pairs.len()
    len: usize,
}

impl<'a> Headers<'a> {
    const EMPTY: Headers<'static> = Headers { pairs: [(b"", b""); 5], len: 0 };

    fn add(&mut self, name: &'static [u8], value: &'a [u8]) {
        if let Some(slot) = self.pairs.get_mut(self.len) {
            *slot = (name, value);
            self.len += 1;
        }
    }

    pub fn as_slice(&self) -> &[(&'static [u8], &'a [u8])] {
        self.pairs.get(..self.len).unwrap_or_default()
    }
}

/// What to do with a request on a route with CORS rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer<'a> {
    /// Serve it as usual and add these headers (none, or only `Vary`, when
    /// the origin may not read it).
    Actual(Headers<'a>),
    /// A preflight: answer `204 No Content` with these headers.
    Preflight(Headers<'a>),
}

/// Decides for `req` on a route allowing `origins`, whose methods are
/// `methods` (for a preflight's `Access-Control-Allow-Methods`; usually
/// [`STATIC_METHODS`]).
pub fn answer<'a>(origins: &Origins<'_>, methods: &'static [u8], req: &Request<'a>) -> Answer<'a> {
    let mut h = Headers::EMPTY;
    let allowed = req.origin.filter(|o| origins.allows(o));
    let allow_origin: &'a [u8] = if origins.any { b"*" } else { allowed.unwrap_or_default() };
    if !req.is_preflight() {
        if allowed.is_some() {
            h.add(ALLOW_ORIGIN, allow_origin);
        }
        if !origins.any {
            h.add(VARY, b"Origin");
        }
        return Answer::Actual(h);
    }
    if allowed.is_some() {
        h.add(ALLOW_ORIGIN, allow_origin);
        h.add(b"Access-Control-Allow-Methods", methods);
        if let Some(names) = req.request_headers.map(trim_ows).filter(|v| is_token_list(v)) {
            h.add(b"Access-Control-Allow-Headers", names);
        }
        h.add(b"Access-Control-Max-Age", MAX_AGE);
    }
    h.add(VARY, b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    Answer::Preflight(h)
}

/// `#field-name` (RFC 9110 §5.6.1): tokens separated by commas and
/// optional spaces, at least one. Nothing else, so no CR or LF.
fn is_token_list(v: &[u8]) -> bool {
    let tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    let mut any = false;
    for element in v.split(|&b| b == b',') {
        let name = trim_ows(element);
        if name.is_empty() {
            continue;
        }
        if !name.iter().all(tchar) {
            return false;
        }
        any = true;
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_table() {
        use CorsError::*;
        for ok in [
            "*",
            " * ",
            "https://a.example",
            "http://localhost:3000",
            "HTTPS://A.Example",
            "https://a.example, http://localhost:3000\thttp://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://[2001:db8::1]",
            "https://a.example:8443",
        ] {
            assert!(check_origins(ok.as_bytes()).is_ok(), "{ok:?}");
        }
        #[rustfmt::skip]
        let rejects: &[(&str, CorsError)] = &[
            ("", Empty),
            (" , ", Empty),
            ("* https://a.example", StarInList),
            ("* *", StarInList),
            ("https://a.example/", BadOrigin),
            ("https://a.example/path", BadOrigin),
            ("https://a.example?x", BadOrigin),
            ("https://a.example#x", BadOrigin),
            ("https://user@a.example", BadOrigin),
            ("a.example", BadOrigin),
            ("//a.example", BadOrigin),
            ("ftp://a.example", BadOrigin),
            ("null", BadOrigin),
            ("https://", BadOrigin),
            ("https://:8080", BadOrigin),
            ("https:a.example", BadOrigin),
            ("https://a.example:", BadOrigin),
            ("https://a.example:0", BadOrigin),
            ("https://a.example:08080", BadOrigin),
            ("https://a.example:65536", BadOrigin),
            ("https://a.example:80x", BadOrigin),
            ("https://a..example", BadOrigin),
            ("https://a.example\r\nX: y", BadOrigin),
            ("https://a.exa\0mple", BadOrigin),
            ("http://[::1", BadOrigin),
            ("http://[::g]", BadOrigin),
            ("http://[::1]x", BadOrigin),
            ("https://a.example:443", DefaultPort),
            ("http://a.example:80", DefaultPort),
            ("https://ok.example https://bad.example/", BadOrigin),
        ];
        for &(list, want) in rejects {
            assert_eq!(check_origins(list.as_bytes()), Err(want), "{list:?}");
        }
    }

    #[test]
    fn origin_matching() {
        let list = check_origins(b"https://a.example http://localhost:3000").unwrap();
        let any = check_origins(b"*").unwrap();
        #[rustfmt::skip]
        let rows: &[(&str, bool)] = &[
            ("https://a.example", true),
            ("HTTPS://A.EXAMPLE", true),
            ("http://localhost:3000", true),
            ("http://a.example", false),
            ("https://a.example:8443", false),
            ("https://a.example.evil.com", false),
            ("https://evil-a.example", false),
            ("https://a.exampl", false),
            ("http://localhost:30000", false),
            ("http://localhost", false),
            ("https://a.example/", false),
            ("https://a.example http://localhost:3000", false),
            ("null", false),
            ("", false),
        ];
        for &(o, want) in rows {
            assert_eq!(list.allows(o.as_bytes()), want, "{o:?}");
            assert!(any.allows(o.as_bytes()));
        }
    }

    type Pairs = &'static [(&'static str, &'static str)];

    fn run(origins: &str, req: Request<'static>) -> (bool, Vec<(String, String)>) {
        let o = check_origins(origins.as_bytes()).unwrap();
        let (pre, h) = match answer(&o, STATIC_METHODS, &req) {
            Answer::Actual(h) => (false, h),
            Answer::Preflight(h) => (true, h),
        };
        let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        (pre, h.as_slice().iter().map(|(n, v)| (s(n), s(v))).collect())
    }

    fn want(p: Pairs) -> Vec<(String, String)> {
        p.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    const LIST: &str = "https://a.example";
    const PRE_VARY: (&str, &str) = ("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");

    #[test]
    fn actual_requests() {
        let get = |origin: Option<&'static str>| Request { method: b"GET", origin: origin.map(str::as_bytes), ..Request::default() };
        #[rustfmt::skip]
        let rows: &[(&str, Request<'static>, Pairs)] = &[
            (LIST, get(Some("https://a.example")), &[("Access-Control-Allow-Origin", "https://a.example"), ("Vary", "Origin")]),
            (LIST, get(Some("https://b.example")), &[("Vary", "Origin")]),
            (LIST, get(Some("null")), &[("Vary", "Origin")]),
            (LIST, get(None), &[("Vary", "Origin")]),
            ("*", get(Some("https://b.example")), &[("Access-Control-Allow-Origin", "*")]),
            ("*", get(Some("null")), &[("Access-Control-Allow-Origin", "*")]),
            ("*", get(None), &[]),
            // OPTIONS without Access-Control-Request-Method is a request of its own
            (LIST, Request { method: b"OPTIONS", origin: Some(b"https://a.example"), ..Request::default() },
                &[("Access-Control-Allow-Origin", "https://a.example"), ("Vary", "Origin")]),
        ];
        for (origins, req, pairs) in rows {
            assert_eq!(run(origins, *req), (false, want(pairs)), "{origins} {req:?}");
        }
    }

    #[test]
    fn preflights() {
        let pre = |origin: &'static str, headers: Option<&'static str>| Request {
            method: b"OPTIONS",
            origin: Some(origin.as_bytes()),
            request_method: Some(b"PUT"),
            request_headers: headers.map(str::as_bytes),
        };
        let allowed = |o: &'static str, h: Option<&'static str>| -> Vec<(&'static str, &'static str)> {
            let mut v = vec![("Access-Control-Allow-Origin", o), ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")];
            if let Some(h) = h {
                v.push(("Access-Control-Allow-Headers", h));
            }
            v.extend([("Access-Control-Max-Age", "86400"), PRE_VARY]);
            v
        };
        type Row = (&'static str, Request<'static>, Vec<(&'static str, &'static str)>);
        let rows: Vec<Row> = vec![
            (LIST, pre("https://a.example", None), allowed("https://a.example", None)),
            (LIST, pre("https://a.example", Some("content-type, x-token")), allowed("https://a.example", Some("content-type, x-token"))),
            (LIST, pre("https://a.example", Some(" a,,b ")), allowed("https://a.example", Some("a,,b"))),
            ("*", pre("https://z.example", Some("x-a")), allowed("*", Some("x-a"))),
            // requested headers that are not a token list are not echoed
            (LIST, pre("https://a.example", Some("x-a\r\nSet-Cookie: a=b")), allowed("https://a.example", None)),
            (LIST, pre("https://a.example", Some("x a")), allowed("https://a.example", None)),
            (LIST, pre("https://a.example", Some("x:a")), allowed("https://a.example", None)),
            (LIST, pre("https://a.example", Some("\"x\"")), allowed("https://a.example", None)),
            (LIST, pre("https://a.example", Some("")), allowed("https://a.example", None)),
            (LIST, pre("https://a.example", Some(" , ")), allowed("https://a.example", None)),
            // an origin not allowed: 204 without the Allow headers
            (LIST, pre("https://b.example", Some("x-a")), vec![PRE_VARY]),
            (LIST, pre("null", None), vec![PRE_VARY]),
        ];
        for (origins, req, pairs) in rows {
            let p: Vec<(String, String)> = pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            assert_eq!(run(origins, req), (true, p), "{origins} {req:?}");
        }
    }
}
