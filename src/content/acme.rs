//! What an ACME server (RFC 8555) sends, read into small structs that
//! borrow its JSON: the directory, orders, authorizations and their
//! challenges, problem documents, ARI renewal windows (RFC 9773); and the
//! headers around them (`Retry-After`, `Link`), the key authorization and
//! RFC 3339 times. No I/O and no clock: the caller brings the bytes and
//! the time. It must never hand out a challenge token that could leave
//! `/.well-known/acme-challenge/` or a file name: tokens are base64url.

use super::base64url;
use super::json::{self, Str, Value};

/// The longest challenge token we accept: RFC 8555 §8.1 asks for at least
/// 128 bits (22 characters); Let's Encrypt and pebble send 43.
pub const MAX_TOKEN: usize = 256;

/// The prefix of every ACME problem type (RFC 8555 §6.7).
const ACME_ERROR: &str = "urn:ietf:params:acme:error:";

/// Why an ACME object was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The body is not JSON we accept.
    Json(json::Error),
    /// The body is JSON but not an object.
    NotObject,
    /// A member RFC 8555 requires is absent.
    Missing(&'static str),
    /// A member is there with the wrong type or an impossible value (an
    /// unknown status, a token outside base64url, a time that is not RFC
    /// 3339, a renewal window that ends before it starts).
    Invalid(&'static str),
}

impl From<json::Error> for Error {
    fn from(e: json::Error) -> Self {
        Error::Json(e)
    }
}

/// The status of an account, order, authorization or challenge (RFC 8555
/// §7.1.6); each object uses some of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Ready,
    Processing,
    Valid,
    Invalid,
    Revoked,
    Deactivated,
    Expired,
}

const STATUSES: [(&str, Status); 8] = [
    ("pending", Status::Pending),
    ("ready", Status::Ready),
    ("processing", Status::Processing),
    ("valid", Status::Valid),
    ("invalid", Status::Invalid),
    ("revoked", Status::Revoked),
    ("deactivated", Status::Deactivated),
    ("expired", Status::Expired),
];

impl Status {
    pub fn as_str(self) -> &'static str {
        STATUSES.iter().find(|(_, s)| *s == self).map_or("?", |(name, _)| name)
    }

    fn from_json(v: Option<Value<'_>>) -> Result<Status, Error> {
        let s = v.ok_or(Error::Missing("status"))?.as_str().ok_or(Error::Invalid("status"))?;
        STATUSES.iter().find(|(name, _)| s.is(name)).map(|&(_, st)| st).ok_or(Error::Invalid("status"))
    }
}

/// The JSON object in `body`.
fn object(body: &[u8]) -> Result<Value<'_>, Error> {
    let v = json::parse(body)?;
    if v.kind() != json::Kind::Object {
        return Err(Error::NotObject);
    }
    Ok(v)
}

/// A required string member.
fn string<'a>(obj: &Value<'a>, key: &'static str) -> Result<Str<'a>, Error> {
    opt_string(obj, key)?.ok_or(Error::Missing(key))
}

/// An optional string member (absent or `null` is `None`).
fn opt_string<'a>(obj: &Value<'a>, key: &'static str) -> Result<Option<Str<'a>>, Error> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or(Error::Invalid(key)),
    }
}

/// An optional RFC 3339 time member, in seconds since 1970.
fn opt_time(obj: &Value<'_>, key: &'static str) -> Result<Option<u64>, Error> {
    let Some(s) = opt_string(obj, key)? else { return Ok(None) };
    let mut buf = [0u8; 64];
    let text = s.decode(&mut buf).map_err(|_| Error::Invalid(key))?;
    rfc3339(text.as_bytes()).map(Some).ok_or(Error::Invalid(key))
}

/// A required array member whose every element passes `check`.
fn array<'a>(obj: &Value<'a>, key: &'static str, check: fn(&Value<'a>) -> bool) -> Result<Value<'a>, Error> {
    let v = obj.get(key).ok_or(Error::Missing(key))?;
    if v.kind() != json::Kind::Array || !v.elements().all(|e| check(&e)) {
        return Err(Error::Invalid(key));
    }
    Ok(v)
}

/// The directory (RFC 8555 §7.1.1): where each request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Directory<'a> {
    pub new_nonce: Str<'a>,
    pub new_account: Str<'a>,
    pub new_order: Str<'a>,
    pub revoke_cert: Option<Str<'a>>,
    pub key_change: Option<Str<'a>>,
    /// ARI (RFC 9773 §4), if the server offers it.
    pub renewal_info: Option<Str<'a>>,
    /// `meta.termsOfService`.
    pub terms_of_service: Option<Str<'a>>,
    /// `meta.externalAccountRequired`: the server wants EAB, which we do
    /// not have.
    pub external_account_required: bool,
}

impl<'a> Directory<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let d = object(body)?;
        let meta = d.get("meta").filter(|m| m.kind() == json::Kind::Object);
        Ok(Directory {
            new_nonce: string(&d, "newNonce")?,
            new_account: string(&d, "newAccount")?,
            new_order: string(&d, "newOrder")?,
            revoke_cert: opt_string(&d, "revokeCert")?,
            key_change: opt_string(&d, "keyChange")?,
            renewal_info: opt_string(&d, "renewalInfo")?,
            terms_of_service: match &meta {
                Some(m) => opt_string(m, "termsOfService")?,
                None => None,
            },
            external_account_required: meta
                .and_then(|m| m.get("externalAccountRequired"))
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
        })
    }
}

/// An account (RFC 8555 §7.1.2), as newAccount answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Account<'a> {
    pub status: Status,
    pub orders: Option<Str<'a>>,
}

impl<'a> Account<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let a = object(body)?;
        Ok(Account { status: Status::from_json(a.get("status"))?, orders: opt_string(&a, "orders")? })
    }
}

/// What a certificate is for: `{"type":"dns","value":"example.com"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identifier<'a> {
    /// `dns` (or `ip`, RFC 8738).
    pub kind: Str<'a>,
    pub value: Str<'a>,
}

impl<'a> Identifier<'a> {
    fn from_json(v: &Value<'a>) -> Option<Self> {
        let kind = v.get("type")?.as_str()?;
        let value = v.get("value")?.as_str()?;
        Some(Identifier { kind, value })
    }
}

/// An order (RFC 8555 §7.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order<'a> {
    pub status: Status,
    /// When a pending or valid order expires, seconds since 1970.
    pub expires: Option<u64>,
    /// INVARIANT: an array of identifier objects.
    identifiers: Value<'a>,
    /// INVARIANT: an array of strings.
    authorizations: Value<'a>,
    pub finalize: Str<'a>,
    /// Where to download the certificate, once `valid`.
    pub certificate: Option<Str<'a>>,
    /// Why the order is `invalid`.
    pub error: Option<Problem<'a>>,
}

impl<'a> Order<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let o = object(body)?;
        Ok(Order {
            status: Status::from_json(o.get("status"))?,
            expires: opt_time(&o, "expires")?,
            identifiers: array(&o, "identifiers", |v| Identifier::from_json(v).is_some())?,
            authorizations: array(&o, "authorizations", |v| v.as_str().is_some())?,
            finalize: string(&o, "finalize")?,
            certificate: opt_string(&o, "certificate")?,
            error: match o.get("error") {
                Some(e) => Some(Problem::from_json(&e)?),
                None => None,
            },
        })
    }

    pub fn identifiers(&self) -> impl Iterator<Item = Identifier<'a>> + use<'a> {
        self.identifiers.elements().filter_map(|v| Identifier::from_json(&v))
    }

    /// The authorization URLs, one per identifier.
    pub fn authorizations(&self) -> impl Iterator<Item = Str<'a>> + use<'a> {
        self.authorizations.elements().filter_map(|v| v.as_str())
    }
}

/// An authorization (RFC 8555 §7.1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authorization<'a> {
    pub status: Status,
    pub identifier: Identifier<'a>,
    pub expires: Option<u64>,
    /// For a `*.` name, sent without the `*.` (RFC 8555 §7.1.4).
    pub wildcard: bool,
    /// INVARIANT: an array of objects each of which `Challenge::from_json`
    /// accepts.
    challenges: Value<'a>,
}

impl<'a> Authorization<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let a = object(body)?;
        let identifier = a.get("identifier").ok_or(Error::Missing("identifier"))?;
        Ok(Authorization {
            status: Status::from_json(a.get("status"))?,
            identifier: Identifier::from_json(&identifier).ok_or(Error::Invalid("identifier"))?,
            expires: opt_time(&a, "expires")?,
            wildcard: a.get("wildcard").and_then(|v| v.as_bool()).unwrap_or(false),
            challenges: array(&a, "challenges", |v| Challenge::from_json(v).is_ok())?,
        })
    }

    /// The challenges, in the server's order.
    pub fn challenges(&self) -> impl Iterator<Item = Challenge<'a>> + use<'a> {
        self.challenges.elements().filter_map(|v| Challenge::from_json(&v).ok())
    }
}

/// The challenge types we know; we answer the first two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeType<'a> {
    Http01,
    TlsAlpn01,
    Dns01,
    Other(Str<'a>),
}

/// One challenge (RFC 8555 §7.1.5, §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Challenge<'a> {
    pub kind: ChallengeType<'a>,
    /// Where to POST `{}` once ready.
    pub url: Str<'a>,
    pub status: Status,
    /// For the three known types: 1 to [`MAX_TOKEN`] base64url characters,
    /// sent without escapes. Empty for other types.
    pub token: &'a str,
    /// Why the challenge is `invalid`.
    pub error: Option<Problem<'a>>,
}

impl<'a> Challenge<'a> {
    /// Parses one challenge object on its own (a challenge POST's answer).
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        Challenge::from_json(&object(body)?)
    }

    fn from_json(c: &Value<'a>) -> Result<Self, Error> {
        let kind = string(c, "type")?;
        let kind = match () {
            _ if kind.is("http-01") => ChallengeType::Http01,
            _ if kind.is("tls-alpn-01") => ChallengeType::TlsAlpn01,
            _ if kind.is("dns-01") => ChallengeType::Dns01,
            _ => ChallengeType::Other(kind),
        };
        let token = match kind {
            ChallengeType::Other(_) => "",
            _ => {
                let t = string(c, "token")?.as_plain().ok_or(Error::Invalid("token"))?;
                if !(1..=MAX_TOKEN).contains(&t.len()) || !t.bytes().all(base64url::is_alphabet) {
                    return Err(Error::Invalid("token"));
                }
                t
            }
        };
        Ok(Challenge {
            kind,
            url: string(c, "url")?,
            status: Status::from_json(c.get("status"))?,
            token,
            error: match c.get("error") {
                Some(e) => Some(Problem::from_json(&e)?),
                None => None,
            },
        })
    }
}

/// A problem document (RFC 7807, RFC 8555 §6.7): why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Problem<'a> {
    /// `type`; absent means `about:blank`.
    pub kind: Option<Str<'a>>,
    pub detail: Option<Str<'a>>,
    pub status: Option<u16>,
    /// INVARIANT: an array of objects, or null when there are none.
    subproblems: Value<'a>,
}

/// One subproblem (RFC 8555 §6.7.1): which identifier failed how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subproblem<'a> {
    pub kind: Option<Str<'a>>,
    pub detail: Option<Str<'a>>,
    pub identifier: Option<Identifier<'a>>,
}

const NO_SUBPROBLEMS: &[u8] = b"null";

impl<'a> Problem<'a> {
    /// A problem document body (`application/problem+json`).
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        Problem::from_json(&object(body)?)
    }

    fn from_json(p: &Value<'a>) -> Result<Self, Error> {
        if p.kind() != json::Kind::Object {
            return Err(Error::Invalid("error"));
        }
        let subproblems = match p.get("subproblems") {
            Some(s) if s.kind() == json::Kind::Array && s.elements().all(|e| e.kind() == json::Kind::Object) => s,
            Some(_) => return Err(Error::Invalid("subproblems")),
            None => json::parse(NO_SUBPROBLEMS)?,
        };
        let status = match p.get("status") {
            Some(v) => Some(v.as_u64().and_then(|n| u16::try_from(n).ok()).ok_or(Error::Invalid("status"))?),
            None => None,
        };
        Ok(Problem { kind: opt_string(p, "type")?, detail: opt_string(p, "detail")?, status, subproblems })
    }

    /// Whether the type is ACME's `urn:ietf:params:acme:error:<name>`
    /// (`badNonce`, `rateLimited`, ...).
    pub fn is(&self, name: &str) -> bool {
        self.kind.is_some_and(|k| k.bytes().eq(ACME_ERROR.bytes().chain(name.bytes())))
    }

    pub fn subproblems(&self) -> impl Iterator<Item = Subproblem<'a>> + use<'a> {
        self.subproblems.elements().map(|s| Subproblem {
            kind: s.get("type").and_then(|v| v.as_str()),
            detail: s.get("detail").and_then(|v| v.as_str()),
            identifier: s.get("identifier").and_then(|v| Identifier::from_json(&v)),
        })
    }
}

/// An ARI answer (RFC 9773 §4.2): when to renew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenewalInfo<'a> {
    /// `suggestedWindow.start`, seconds since 1970.
    pub start: u64,
    /// `suggestedWindow.end`; INVARIANT: `start < end`.
    pub end: u64,
    pub explanation_url: Option<Str<'a>>,
}

impl<'a> RenewalInfo<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        let r = object(body)?;
        let window = r.get("suggestedWindow").ok_or(Error::Missing("suggestedWindow"))?;
        if window.kind() != json::Kind::Object {
            return Err(Error::Invalid("suggestedWindow"));
        }
        let start = opt_time(&window, "start")?.ok_or(Error::Missing("start"))?;
        let end = opt_time(&window, "end")?.ok_or(Error::Missing("end"))?;
        // RFC 9773 §4.2: a window that ends before it starts is invalid.
        if end <= start {
            return Err(Error::Invalid("suggestedWindow"));
        }
        Ok(RenewalInfo { start, end, explanation_url: opt_string(&r, "explanationURL")? })
    }
}

/// `token.thumbprint` (RFC 8555 §8.1), what HTTP-01 serves and
/// TLS-ALPN-01 hashes, written into `out`.
pub fn key_authorization<'o>(token: &str, thumbprint: &str, out: &'o mut [u8]) -> Option<&'o str> {
    let n = token.len() + 1 + thumbprint.len();
    let out = out.get_mut(..n)?;
    let (t, rest) = out.split_at_mut(token.len());
    t.copy_from_slice(token.as_bytes());
    let (dot, p) = rest.split_first_mut()?;
    *dot = b'.';
    p.copy_from_slice(thumbprint.as_bytes());
    core::str::from_utf8(out).ok()
}

/// ARI's certificate identifier (RFC 9773 §4.1): base64url of the
/// Authority Key Identifier's keyIdentifier, `.`, base64url of the serial
/// number's DER contents bytes. Written into `out`.
pub fn ari_cert_id<'o>(key_id: &[u8], serial: &[u8], out: &'o mut [u8]) -> Option<&'o str> {
    let a = base64url::encoded_len(key_id.len());
    let n = a + 1 + base64url::encoded_len(serial.len());
    let out = out.get_mut(..n)?;
    let (first, rest) = out.split_at_mut(a);
    base64url::encode(key_id, first)?;
    let (dot, second) = rest.split_first_mut()?;
    *dot = b'.';
    base64url::encode(serial, second)?;
    core::str::from_utf8(out).ok()
}

/// How many seconds a `Retry-After` value (RFC 9110 §10.2.3) asks us to
/// wait at `now`: `delay-seconds`, or an HTTP-date (0 once it has passed).
pub fn retry_after(value: &[u8], now: u64) -> Option<u64> {
    let v = super::trim_ows(value);
    if !v.is_empty() && v.iter().all(u8::is_ascii_digit) {
        // Saturates: a huge delay is still "not soon".
        return Some(v.iter().fold(0u64, |n, &d| n.saturating_mul(10).saturating_add(u64::from(d - b'0'))));
    }
    crate::http::date::parse_imf(v).map(|at| at.saturating_sub(now))
}

/// One link of a `Link` header (RFC 8288 §3): its target, as sent
/// (ACME's are absolute), and its `rel` parameter's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link<'a> {
    pub url: &'a [u8],
    /// The first `rel` parameter, quotes removed; empty if none.
    pub rel: &'a [u8],
}

impl Link<'_> {
    /// Whether `rel` (one of the space-separated relation types, any case)
    /// is `name`: ACME's `up` (an authorization's order, an issuer chain)
    /// and `alternate` (other chains), `index` (the directory).
    pub fn has_rel(&self, name: &str) -> bool {
        self.rel.split(|&b| b == b' ').any(|r| r.eq_ignore_ascii_case(name.as_bytes()))
    }
}

/// The links in one `Link` header value, in order. Iteration stops at the
/// first link that does not parse.
pub fn links(value: &[u8]) -> Links<'_> {
    Links { rest: value }
}

#[derive(Clone, Debug)]
pub struct Links<'a> {
    rest: &'a [u8],
}

/// `s` without leading spaces, tabs and (between links) commas.
fn skip(s: &[u8], also: u8) -> &[u8] {
    let n = s.iter().position(|&b| !(b == b' ' || b == b'\t' || b == also)).unwrap_or(s.len());
    s.get(n..).unwrap_or_default()
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl<'a> Iterator for Links<'a> {
    type Item = Link<'a>;

    fn next(&mut self) -> Option<Link<'a>> {
        let link = self.parse();
        if link.is_none() {
            self.rest = &[];
        }
        link
    }
}

impl<'a> Links<'a> {
    fn parse(&mut self) -> Option<Link<'a>> {
        let s = skip(self.rest, b',').strip_prefix(b"<")?;
        let close = s.iter().position(|&b| b == b'>')?;
        let (url, s) = s.split_at(close);
        if url.iter().any(|&b| b <= b' ' || b == b'<' || b == 0x7f) {
            return None;
        }
        let mut s = s.get(1..)?;
        let mut rel: Option<&[u8]> = None;
        loop {
            s = skip(s, 0);
            let Some(after) = s.strip_prefix(b";") else { break };
            s = skip(after, 0);
            let n = s.iter().position(|&b| !is_tchar(b)).unwrap_or(s.len());
            if n == 0 {
                return None;
            }
            let (name, after) = s.split_at(n);
            s = skip(after, 0);
            let mut val: &[u8] = &[];
            if let Some(after) = s.strip_prefix(b"=") {
                s = skip(after, 0);
                if let Some(q) = s.strip_prefix(b"\"") {
                    // A quoted-string; a backslash escapes the next byte.
                    let mut i = 0;
                    loop {
                        match q.get(i)? {
                            b'"' => break,
                            b'\\' => i += 2,
                            _ => i += 1,
                        }
                    }
                    val = q.get(..i)?;
                    s = q.get(i + 1..)?;
                } else {
                    let n = s.iter().position(|&b| !is_tchar(b)).unwrap_or(s.len());
                    (val, s) = s.split_at(n);
                }
            }
            if rel.is_none() && name.eq_ignore_ascii_case(b"rel") {
                rel = Some(val);
            }
        }
        if !(s.is_empty() || s.first() == Some(&b',')) {
            return None;
        }
        self.rest = s;
        Some(Link { url, rel: rel.unwrap_or_default() })
    }
}

/// An RFC 3339 `date-time` (`2025-01-02T04:00:00.5+01:00`) in whole
/// seconds since 1970 (fractions dropped, the offset applied; a leap
/// second `:60` is the next minute's first). `None` for anything else,
/// for impossible dates, and for times before 1970 or after 9999.
pub fn rfc3339(s: &[u8]) -> Option<u64> {
    fn num(s: &[u8], at: usize, n: usize) -> Option<u64> {
        let digits = s.get(at..at + n)?;
        digits.iter().try_fold(0u64, |v, &d| d.is_ascii_digit().then(|| v * 10 + u64::from(d - b'0')))
    }
    let sep = |at: usize, c: &[u8]| s.get(at).is_some_and(|b| c.contains(b));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(s, 0, 4)?, num(s, 5, 2)?, num(s, 8, 2)?);
    let (hour, min, sec) = (num(s, 11, 2)?, num(s, 14, 2)?, num(s, 17, 2)?);
    let mut at = 19;
    if sep(at, b".") {
        let digits = s.get(at + 1..)?.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        at += 1 + digits;
    }
    let offset: i64 = match s.get(at..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(s, at + 1, 2)?, num(s, at + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let o = (h * 3600 + m * 60) as i64;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 60
    {
        return None;
    }
    let local = crate::http::date::days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec;
    let utc = (local as i64).checked_sub(offset)?;
    u64::try_from(utc).ok()
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: Str<'_>) -> String {
        let mut buf = [0u8; 256];
        s.decode(&mut buf).unwrap().to_owned()
    }

    // RFC 8555 §7.1.1's example, with pebble's renewalInfo and EAB flag.
    const DIRECTORY: &[u8] = br#"{
     "newNonce": "https://example.com/acme/new-nonce",
     "newAccount": "https://example.com/acme/new-account",
     "newOrder": "https://example.com/acme/new-order",
     "newAuthz": "https://example.com/acme/new-authz",
     "revokeCert": "https://example.com/acme/revoke-cert",
     "keyChange": "https://example.com/acme/key-change",
     "renewalInfo": "https://example.com/acme/renewal-info",
     "meta": {
       "termsOfService": "https://example.com/acme/terms/2017-5-30",
       "website": "https://www.example.com/",
       "caaIdentities": ["example.com"],
       "externalAccountRequired": false
     }
   }"#;

    #[test]
    fn directory() {
        let d = Directory::parse(DIRECTORY).unwrap();
        assert_eq!(text(d.new_nonce), "https://example.com/acme/new-nonce");
        assert_eq!(text(d.new_account), "https://example.com/acme/new-account");
        assert_eq!(text(d.new_order), "https://example.com/acme/new-order");
        assert_eq!(d.revoke_cert.map(text).as_deref(), Some("https://example.com/acme/revoke-cert"));
        assert_eq!(d.key_change.map(text).as_deref(), Some("https://example.com/acme/key-change"));
        assert_eq!(d.renewal_info.map(text).as_deref(), Some("https://example.com/acme/renewal-info"));
        assert_eq!(d.terms_of_service.map(text).as_deref(), Some("https://example.com/acme/terms/2017-5-30"));
        assert!(!d.external_account_required);

        let minimal = Directory::parse(br#"{"newNonce":"n","newAccount":"a","newOrder":"o","meta":{"externalAccountRequired":true}}"#).unwrap();
        assert_eq!((minimal.revoke_cert, minimal.renewal_info, minimal.terms_of_service), (None, None, None));
        assert!(minimal.external_account_required);
        // Go's encoder escapes & as \u0026: decoded, not refused.
        let escaped = Directory::parse(br#"{"newNonce":"https://ca/n?a=1\u0026b=2","newAccount":"a","newOrder":"o"}"#).unwrap();
        assert_eq!(text(escaped.new_nonce), "https://ca/n?a=1&b=2");

        let rejects: &[(&[u8], Error)] = &[
            (b"", Error::Json(json::Error::Syntax)),
            (b"[]", Error::NotObject),
            (br#"{"newNonce":"n","newAccount":"a"}"#, Error::Missing("newOrder")),
            (br#"{"newNonce":1,"newAccount":"a","newOrder":"o"}"#, Error::Invalid("newNonce")),
            (br#"{"newNonce":"n","newAccount":"a","newOrder":"o"} x"#, Error::Json(json::Error::Trailing)),
        ];
        for &(body, want) in rejects {
            assert_eq!(Directory::parse(body), Err(want), "{:?}", String::from_utf8_lossy(body));
        }
    }

    // RFC 8555 §7.1.3's example, and a valid one with its certificate.
    const ORDER: &[u8] = br#"{
     "status": "valid",
     "expires": "2016-01-20T14:09:07.99Z",
     "identifiers": [
       { "type": "dns", "value": "www.example.org" },
       { "type": "dns", "value": "example.org" }
     ],
     "notBefore": "2016-01-01T00:00:00Z",
     "notAfter": "2016-01-08T00:00:00Z",
     "authorizations": [
       "https://example.com/acme/authz/PAniVnsZcis",
       "https://example.com/acme/authz/r4HqLzrSrpI"
     ],
     "finalize": "https://example.com/acme/order/TOlocE8rfgo/finalize",
     "certificate": "https://example.com/acme/cert/mAt3xBGaobw"
   }"#;

    #[test]
    fn order() {
        let o = Order::parse(ORDER).unwrap();
        assert_eq!(o.status, Status::Valid);
        assert_eq!(o.expires, Some(1_453_298_947));
        let ids: Vec<(String, String)> = o.identifiers().map(|i| (text(i.kind), text(i.value))).collect();
        assert_eq!(ids, [("dns".into(), "www.example.org".into()), ("dns".into(), "example.org".into())]);
        let authz: Vec<String> = o.authorizations().map(text).collect();
        assert_eq!(authz, ["https://example.com/acme/authz/PAniVnsZcis", "https://example.com/acme/authz/r4HqLzrSrpI"]);
        assert_eq!(text(o.finalize), "https://example.com/acme/order/TOlocE8rfgo/finalize");
        assert_eq!(o.certificate.map(text).as_deref(), Some("https://example.com/acme/cert/mAt3xBGaobw"));
        assert_eq!(o.error, None);

        let failed = Order::parse(br#"{"status":"invalid","identifiers":[],"authorizations":[],"finalize":"f",
            "error":{"type":"urn:ietf:params:acme:error:unauthorized","detail":"no"}}"#).unwrap();
        assert_eq!(failed.status, Status::Invalid);
        assert!(failed.error.unwrap().is("unauthorized"));
        assert_eq!(failed.identifiers().count(), 0);

        let base = |extra: &str| format!(r#"{{"status":"pending","identifiers":[{{"type":"dns","value":"a"}}],"authorizations":["u"],"finalize":"f"{extra}}}"#);
        assert!(Order::parse(base("").as_bytes()).is_ok());
        let rejects: &[(String, Error)] = &[
            (r#"{"identifiers":[],"authorizations":[],"finalize":"f"}"#.into(), Error::Missing("status")),
            (r#"{"status":"done","identifiers":[],"authorizations":[],"finalize":"f"}"#.into(), Error::Invalid("status")),
            (r#"{"status":5,"identifiers":[],"authorizations":[],"finalize":"f"}"#.into(), Error::Invalid("status")),
            (r#"{"status":"ready","authorizations":[],"finalize":"f"}"#.into(), Error::Missing("identifiers")),
            (r#"{"status":"ready","identifiers":[{"type":"dns"}],"authorizations":[],"finalize":"f"}"#.into(), Error::Invalid("identifiers")),
            (r#"{"status":"ready","identifiers":{},"authorizations":[],"finalize":"f"}"#.into(), Error::Invalid("identifiers")),
            (r#"{"status":"ready","identifiers":[],"authorizations":[1],"finalize":"f"}"#.into(), Error::Invalid("authorizations")),
            (r#"{"status":"ready","identifiers":[],"authorizations":[]}"#.into(), Error::Missing("finalize")),
            (base(r#","expires":"2016-01-20""#), Error::Invalid("expires")),
            (base(r#","error":"bad""#), Error::Invalid("error")),
        ];
        for (body, want) in rejects {
            assert_eq!(Order::parse(body.as_bytes()), Err(*want), "{body}");
        }
        // Duplicate members: the first is the one read.
        assert_eq!(Order::parse(base(r#","status":"fine""#).as_bytes()).unwrap().status, Status::Pending);
    }

    // RFC 8555 §7.1.4's example (challenge tokens made base64url-long).
    const AUTHZ: &[u8] = br#"{
     "status": "pending",
     "expires": "2016-01-02T14:09:30Z",
     "identifier": { "type": "dns", "value": "www.example.org" },
     "challenges": [
       { "url": "https://example.com/acme/chall/prV_B7yEyA4", "type": "http-01",
         "status": "pending", "token": "DGyRejmCefe7v4NfDGDKfA" },
       { "url": "https://example.com/acme/chall/Rg5dV14Gh1Q", "type": "dns-01",
         "status": "pending", "token": "DGyRejmCefe7v4NfDGDKfA" },
       { "url": "https://example.com/acme/chall/tls", "type": "tls-alpn-01",
         "status": "invalid", "token": "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
         "error": { "type": "urn:ietf:params:acme:error:connection", "detail": "refused", "status": 400 } },
       { "url": "https://example.com/acme/chall/x", "type": "future-02", "status": "pending", "anything": [1] }
     ]
   }"#;

    #[test]
    fn authorization() {
        let a = Authorization::parse(AUTHZ).unwrap();
        assert_eq!(a.status, Status::Pending);
        assert_eq!(a.expires, Some(1_451_743_770));
        assert_eq!((text(a.identifier.kind), text(a.identifier.value)), ("dns".into(), "www.example.org".into()));
        assert!(!a.wildcard);
        let c: Vec<Challenge<'_>> = a.challenges().collect();
        assert_eq!(c.len(), 4);
        assert_eq!((c[0].kind, c[0].token, text(c[0].url).as_str()), (ChallengeType::Http01, "DGyRejmCefe7v4NfDGDKfA", "https://example.com/acme/chall/prV_B7yEyA4"));
        assert_eq!(c[1].kind, ChallengeType::Dns01);
        assert_eq!((c[2].kind, c[2].status), (ChallengeType::TlsAlpn01, Status::Invalid));
        let e = c[2].error.unwrap();
        assert!(e.is("connection") && !e.is("conn") && !e.is("connectionx"));
        assert_eq!((e.detail.map(text).as_deref(), e.status), (Some("refused"), Some(400)));
        assert!(matches!(c[3].kind, ChallengeType::Other(k) if k.is("future-02")));
        assert_eq!(c[3].token, "");

        let one = |ch: &str| format!(r#"{{"status":"pending","identifier":{{"type":"dns","value":"a"}},"challenges":[{ch}]}}"#);
        let ok = one(r#"{"type":"http-01","url":"u","status":"pending","token":"abc-_09"}"#);
        assert!(Authorization::parse(ok.as_bytes()).is_ok());
        assert_eq!(Challenge::parse(br#"{"type":"http-01","url":"u","status":"valid","token":"t"}"#).unwrap().status, Status::Valid);
        let rejects: &[&str] = &[
            r#"{"type":"http-01","url":"u","status":"pending","token":"../../etc/passwd"}"#,
            r#"{"type":"http-01","url":"u","status":"pending","token":"a/b"}"#,
            r#"{"type":"http-01","url":"u","status":"pending","token":"ab=="}"#,
            r#"{"type":"http-01","url":"u","status":"pending","token":""}"#,
            r#"{"type":"http-01","url":"u","status":"pending","token":"\u0061"}"#,
            r#"{"type":"tls-alpn-01","url":"u","status":"pending"}"#,
            r#"{"type":"http-01","status":"pending","token":"t"}"#,
            r#"{"type":"http-01","url":"u","token":"t"}"#,
            r#"{"url":"u","status":"pending","token":"t"}"#,
            r#""http-01""#,
        ];
        for ch in rejects {
            assert!(Authorization::parse(one(ch).as_bytes()).is_err(), "{ch}");
        }
        let long = format!(r#"{{"type":"http-01","url":"u","status":"pending","token":"{}"}}"#, "a".repeat(MAX_TOKEN + 1));
        assert_eq!(Authorization::parse(one(&long).as_bytes()), Err(Error::Invalid("challenges")));
        assert_eq!(Challenge::parse(long.as_bytes()), Err(Error::Invalid("token")));
        let wild = br#"{"status":"valid","identifier":{"type":"dns","value":"example.org"},"wildcard":true,"challenges":[]}"#;
        assert!(Authorization::parse(wild).unwrap().wildcard);
        assert_eq!(Authorization::parse(br#"{"status":"valid","challenges":[]}"#), Err(Error::Missing("identifier")));
    }

    #[test]
    fn problem() {
        // RFC 8555 §6.7.1's example.
        let body = br#"{
       "type": "urn:ietf:params:acme:error:malformed",
       "detail": "Some of the identifiers requested were rejected",
       "subproblems": [
         { "type": "urn:ietf:params:acme:error:malformed",
           "detail": "Invalid underscore in DNS name \"_example.org\"",
           "identifier": { "type": "dns", "value": "_example.org" } },
         { "type": "urn:ietf:params:acme:error:rejectedIdentifier",
           "detail": "This CA will not issue for \"example.net\"",
           "identifier": { "type": "dns", "value": "example.net" } }
       ]
     }"#;
        let p = Problem::parse(body).unwrap();
        assert!(p.is("malformed"));
        assert_eq!(p.detail.map(text).as_deref(), Some("Some of the identifiers requested were rejected"));
        assert_eq!(p.status, None);
        let subs: Vec<Subproblem<'_>> = p.subproblems().collect();
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[0].detail.map(text).as_deref(), Some("Invalid underscore in DNS name \"_example.org\""));
        assert_eq!(subs[1].identifier.map(|i| text(i.value)).as_deref(), Some("example.net"));
        assert!(subs[1].kind.is_some_and(|k| k.is("urn:ietf:params:acme:error:rejectedIdentifier")));

        let nonce = Problem::parse(br#"{"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce","status":400}"#).unwrap();
        assert!(nonce.is("badNonce") && !nonce.is("badnonce"));
        assert_eq!((nonce.status, nonce.subproblems().count()), (Some(400), 0));
        let blank = Problem::parse(b"{}").unwrap();
        assert_eq!((blank.kind, blank.detail, blank.status), (None, None, None));
        assert!(!blank.is("badNonce"));
        for (body, want) in [
            (&br#"{"status":70000}"#[..], Error::Invalid("status")),
            (br#"{"status":"400"}"#, Error::Invalid("status")),
            (br#"{"subproblems":{}}"#, Error::Invalid("subproblems")),
            (br#"{"subproblems":[1]}"#, Error::Invalid("subproblems")),
            (br#"{"type":7}"#, Error::Invalid("type")),
        ] {
            assert_eq!(Problem::parse(body), Err(want));
        }
    }

    #[test]
    fn renewal_info() {
        // RFC 9773 §4.2's example.
        let body = br#"{
       "suggestedWindow": {
         "start": "2025-01-02T04:00:00Z",
         "end": "2025-01-03T04:00:00Z"
       },
       "explanationURL": "https://acme.example.com/docs/ari"
     }"#;
        let r = RenewalInfo::parse(body).unwrap();
        assert_eq!((r.start, r.end), (1_735_790_400, 1_735_876_800));
        assert_eq!(r.explanation_url.map(text).as_deref(), Some("https://acme.example.com/docs/ari"));
        for (body, want) in [
            (&br#"{}"#[..], Error::Missing("suggestedWindow")),
            (br#"{"suggestedWindow":[]}"#, Error::Invalid("suggestedWindow")),
            (br#"{"suggestedWindow":{"end":"2025-01-03T04:00:00Z"}}"#, Error::Missing("start")),
            (br#"{"suggestedWindow":{"start":"2025-01-03T04:00:00Z","end":"2025-01-03T04:00:00Z"}}"#, Error::Invalid("suggestedWindow")),
            (br#"{"suggestedWindow":{"start":"2025-01-03T04:00:00Z","end":"2025-01-03"}}"#, Error::Invalid("end")),
        ] {
            assert_eq!(RenewalInfo::parse(body), Err(want));
        }
    }

    #[test]
    fn account() {
        let a = Account::parse(br#"{"status":"valid","contact":["mailto:a@example.org"],"orders":"https://ca/orders/1"}"#).unwrap();
        assert_eq!((a.status, a.orders.map(text).as_deref()), (Status::Valid, Some("https://ca/orders/1")));
        assert_eq!(Account::parse(br#"{"status":"deactivated"}"#).unwrap().status, Status::Deactivated);
        for (name, st) in STATUSES {
            assert_eq!(st.as_str(), name);
        }
    }

    #[test]
    fn rfc3339_times() {
        // Seconds checked with GNU `date -u -d ... +%s`.
        let rows: &[(&str, Option<u64>)] = &[
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2025-01-02T04:00:00Z", Some(1_735_790_400)),
            ("2016-01-20T14:09:07.99Z", Some(1_453_298_947)),
            ("2016-01-20t14:09:07z", Some(1_453_298_947)),
            ("2016-01-20T15:09:07+01:00", Some(1_453_298_947)),
            ("2016-01-20T08:39:07.123456789-05:30", Some(1_453_298_947)),
            ("2000-02-29T23:59:59Z", Some(951_868_799)),
            ("1990-12-31T23:59:60Z", Some(662_688_000)), // a leap second
            ("9999-12-31T23:59:59Z", Some(253_402_300_799)),
            ("1970-01-01T00:59:59+01:00", None), // before 1970
            ("1970-01-01T01:00:00+01:00", Some(0)),
            ("2001-02-29T00:00:00Z", None),
            ("2016-13-01T00:00:00Z", None),
            ("2016-00-01T00:00:00Z", None),
            ("2016-01-00T00:00:00Z", None),
            ("2016-01-01T24:00:00Z", None),
            ("2016-01-01T00:60:00Z", None),
            ("2016-01-01T00:00:61Z", None),
            ("2016-01-01T00:00:00", None),
            ("2016-01-01T00:00:00.Z", None),
            ("2016-01-01T00:00:00+0100", None),
            ("2016-01-01T00:00:00+24:00", None),
            ("2016-01-01 00:00:00Z", None),
            ("2016-1-01T00:00:00Z", None),
            ("2016-01-01T00:00:00Zx", None),
            ("+016-01-01T00:00:00Z", None),
            ("1969-12-31T23:59:59Z", None),
            ("", None),
        ];
        for &(s, want) in rows {
            assert_eq!(rfc3339(s.as_bytes()), want, "{s}");
        }
    }

    #[test]
    fn key_authorizations() {
        // RFC 8555 §8.3's token, with the thumbprint of RFC 7515 A.3's key.
        let mut out = [0u8; 128];
        let ka = key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U", &mut out);
        assert_eq!(ka, Some("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"));
        assert_eq!(key_authorization("t", "p", &mut out[..2]), None);
        assert_eq!(key_authorization("t", "p", &mut out[..3]), Some("t.p"));
        // RFC 9773 §4.1's example: keyIdentifier 69:88:5B:6B:87:46:40:41:
        // E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4, serial 00:87:65:43:21.
        let aki = [0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4];
        let id = ari_cert_id(&aki, &[0x00, 0x87, 0x65, 0x43, 0x21], &mut out);
        assert_eq!(id, Some("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"));
        assert_eq!(ari_cert_id(&aki, &[1], &mut out[..29]), None);
    }

    #[test]
    fn retry_after_values() {
        let now = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
        let rows: &[(&str, Option<u64>)] = &[
            ("120", Some(120)),
            (" 0 ", Some(0)),
            ("99999999999999999999999", Some(u64::MAX)),
            ("Sun, 06 Nov 1994 08:50:37 GMT", Some(60)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(0)),
            ("Sat, 05 Nov 1994 08:49:37 GMT", Some(0)), // already passed
            ("Sunday, 06-Nov-94 08:51:37 GMT", Some(120)),
            ("-1", None),
            ("1.5", None),
            ("", None),
            ("soon", None),
        ];
        for &(v, want) in rows {
            assert_eq!(retry_after(v.as_bytes(), now), want, "{v}");
        }
    }

    #[test]
    fn link_headers() {
        let rows: &[(&str, &[(&str, &str)])] = &[
            (r#"<https://example.com/acme/directory>;rel="index""#, &[("https://example.com/acme/directory", "index")]),
            (r#"<https://example.com/acme/cert/alt/1>;rel="alternate", <https://example.com/acme/cert/alt/2>; rel=alternate"#,
             &[("https://example.com/acme/cert/alt/1", "alternate"), ("https://example.com/acme/cert/alt/2", "alternate")]),
            (r#" <https://ca/order/1> ; title="a;b,c" ; REL = "up" "#, &[("https://ca/order/1", "up")]),
            (r#"<https://ca/x>"#, &[("https://ca/x", "")]),
            (r#"<https://ca/x>;rel="up";rel="index""#, &[("https://ca/x", "up")]),
            (r#"<https://ca/x>;rel="up alternate""#, &[("https://ca/x", "up alternate")]),
            (r#",,<a>;rel=up,,<b>;rel=index,"#, &[("a", "up"), ("b", "index")]),
            (r#"<a>;rel="q\"x""#, &[("a", r#"q\"x"#)]),
            (r#"<a>;rel=up, https://b"#, &[("a", "up")]),   // stops at a link that does not parse
            (r#"<a b>;rel=up"#, &[]),
            (r#"<a>;rel="up"#, &[]),
            (r#"<a>;=up"#, &[]),
            (r#"<a>x"#, &[]),
            (r#"<a"#, &[]),
            ("", &[]),
        ];
        for &(value, want) in rows {
            let got: Vec<(&str, &str)> = links(value.as_bytes())
                .map(|l| (std::str::from_utf8(l.url).unwrap(), std::str::from_utf8(l.rel).unwrap()))
                .collect();
            assert_eq!(got, want, "{value}");
        }
        let l = links(br#"<https://ca/x>;rel="up Alternate""#).next().unwrap();
        assert!(l.has_rel("up") && l.has_rel("alternate") && !l.has_rel("index") && !l.has_rel("up alternate"));
    }
}
