//! What a site's settings do to a request besides picking its files: the
//! answers given before the body is read (a `redirect`, a CORS preflight,
//! a `401` from an `auth` rule), and the lines added to every response of
//! the site (CORS, `WWW-Authenticate`, the `header` rules). The connection
//! hands the request's parts in and queues what comes back.
use super::config::{Config, Rule, RuleKind, Site};
use super::files::{self, Extra, Reply, Req};
use super::rules;
use crate::content::{auth, cors, redirect};
use crate::http::request::Method;

/// The parts of a request a site's rules look at, borrowed from its head.
#[derive(Clone, Copy, Default)]
pub struct Asked<'r> {
    pub method: Option<Method>,
    pub target: &'r [u8],
    pub authorization: Option<&'r [u8]>,
    pub origin: Option<&'r [u8]>,
    pub cors_method: Option<&'r [u8]>,
    pub cors_headers: Option<&'r [u8]>,
}

/// Who a request was let in as, for the access log (`-` when no rule asked).
#[derive(Clone, Copy)]
pub struct Who {
    pub user: [u8; 64],
    pub len: u8,
}

impl Default for Who {
    fn default() -> Self {
        Who { user: [0; 64], len: 0 }
    }
}

impl Who {
    pub fn user(&self) -> &[u8] {
        &self.user[..usize::from(self.len)]
    }
}

/// Credentials a bcrypt check accepted lately, so that a browser, which
/// sends them with every request, pays the check once and not per image.
/// Kept whole and compared in constant time (a hash of them would let a
/// collision in); only this worker's memory holds them, as it holds the
/// request that carried them.
pub struct Proven {
    slots: [Slot; PROVEN],
    next: usize,
}

const PROVEN: usize = 8;
/// Longest `user:password` remembered; longer ones are checked every time.
const PROVEN_MAX: usize = 96;

#[derive(Clone, Copy)]
struct Slot {
    /// Which users file said yes (its text's address; never 0).
    file: usize,
    len: u8,
    creds: [u8; PROVEN_MAX],
}

impl Proven {
    pub const fn new() -> Self {
        Proven { slots: [Slot { file: 0, len: 0, creds: [0; PROVEN_MAX] }; PROVEN], next: 0 }
    }

    fn knows(&self, file: usize, user: &[u8], password: &[u8]) -> bool {
        let Some((padded, len)) = pad(user, password) else { return false };
        let mut found = 0u8;
        for s in &self.slots {
            let mut diff = u8::from(s.file != file) | u8::from(usize::from(s.len) != len);
            for (a, b) in s.creds.iter().zip(&padded) {
                diff |= a ^ b;
            }
            found |= u8::from(diff == 0);
        }
        found != 0
    }

    fn learn(&mut self, file: usize, user: &[u8], password: &[u8]) {
        if let Some((padded, len)) = pad(user, password) {
            self.slots[self.next % PROVEN] = Slot { file, len: len as u8, creds: padded };
            self.next = (self.next + 1) % PROVEN;
        }
    }
}

/// `user:password`, zero-padded, and its length; None if too long to keep.
fn pad(user: &[u8], password: &[u8]) -> Option<([u8; PROVEN_MAX], usize)> {
    let len = user.len() + 1 + password.len();
    let mut p = [0u8; PROVEN_MAX];
    p.get_mut(..user.len())?.copy_from_slice(user);
    *p.get_mut(user.len())? = b':';
    p.get_mut(user.len() + 1..len)?.copy_from_slice(password);
    Some((p, len))
}

/// The `auth` rule that guards `path`: the last one that matches, so that
/// a site's own rule overrides the defaults'.
pub fn auth_rule<'c>(cfg: &'c Config<'c>, site: &Site<'_>, path: &[u8]) -> Option<&'c Rule<'c>> {
    let mut found = None;
    for r in rules::of(cfg, site) {
        if let RuleKind::Auth { pat, .. } = r.kind {
            if crate::content::glob::matches(pat, path) {
                found = Some(r);
            }
        }
    }
    found
}

/// Whether `authorization` names a user of the rule's file with the right
/// password; the user goes into `who`.
pub fn allowed(rule: &Rule<'_>, authorization: Option<&[u8]>, proven: &mut Proven, who: &mut Who) -> bool {
    let RuleKind::Auth { users, .. } = rule.kind else { return false };
    let Some(value) = authorization else { return false };
    let mut buf = [0u8; auth::MAX_CREDENTIALS];
    let Ok((user, password)) = auth::parse_basic(value, &mut buf) else { return false };
    let file = users.as_ptr() as usize;
    let ok = proven.knows(file, user, password)
        || match auth::find_user(users, user) {
            Some(e) if auth::bcrypt_verify(password, e.hash) => {
                proven.learn(file, user, password);
                true
            }
            Some(_) => false,
            // An unknown user costs a check too (against the file's first
            // hash, so as long as a real one), so that timing does not tell
            // which names exist.
            None => {
                let first = users.split(|&b| b == b'\n').find_map(|l| auth::check_line(l).ok().flatten());
                if let Some(e) = first {
                    auth::bcrypt_verify(password, e.hash);
                }
                false
            }
        };
    if ok {
        let n = user.len().min(who.user.len());
        who.user[..n].copy_from_slice(&user[..n]);
        who.len = n as u8;
    }
    ok
}

/// What a site's rules say before a request's body is read.
pub enum Early {
    /// Nothing: on to the files.
    Go,
    /// An `auth` rule turned it down: `401` (with the site's error page
    /// for it, if any).
    Denied,
    /// A `redirect` rule's answer, or a CORS preflight's `204`.
    Answer(Reply),
}

/// The answer given before a request's body is read, if its site has one:
/// a `redirect` rule's, a CORS preflight's, or an `auth` rule's refusal.
pub fn early(out: &mut [u8], req: &Req<'_>, cfg: &Config<'_>, site: &Site<'_>, a: &Asked<'_>, proven: &mut Proven, who: &mut Who) -> Early {
    let path = rules::path_of(a.target);
    for r in rules::of(cfg, site) {
        if let RuleKind::Redirect(rule) = &r.kind {
            if redirect::matches(rule, a.target) {
                let mut loc = [0u8; 2048];
                return Early::Answer(match redirect::location(rule, a.target, &mut loc) {
                    Some(n) => files::plain(out, req, rule.code(), Extra::Header(b"Location", &loc[..n])),
                    None => files::plain(out, req, 414, Extra::None), // too long to send anyone to
                });
            }
        }
    }
    if a.method == Some(Method::Options) {
        let origins = site.cors;
        if let Some(origins) = origins {
            let ask = cors::Request { method: b"OPTIONS", origin: a.origin, request_method: a.cors_method, request_headers: a.cors_headers };
            if let cors::Answer::Preflight(h) = cors::answer(&origins, cors::STATIC_METHODS, &ask) {
                let mut reply = files::plain(out, req, 204, Extra::None);
                for (name, value) in h.as_slice() {
                    reply.len = rules::add_field(out, reply.len, name, value).unwrap_or(0);
                }
                return Early::Answer(reply);
            }
        }
    }
    match auth_rule(cfg, site, path) {
        Some(rule) if !allowed(rule, a.authorization, proven, who) => Early::Denied,
        _ => Early::Go,
    }
}

/// The lines a site adds to a response in `out[..len]`: the CORS headers,
/// the challenge of a `401`, then the `header` rules. None when they do
/// not fit.
pub fn finish(out: &mut [u8], len: usize, status: u16, cfg: &Config<'_>, site: &Site<'_>, a: &Asked<'_>) -> Option<usize> {
    let mut len = len;
    let path = rules::path_of(a.target);
    let preflight = status == 204 && a.method == Some(Method::Options);
    if let Some(origins) = site.cors.filter(|_| !preflight) {
        let ask = cors::Request { method: b"GET", origin: a.origin, request_method: None, request_headers: None };
        if let cors::Answer::Actual(h) = cors::answer(&origins, cors::STATIC_METHODS, &ask) {
            for (name, value) in h.as_slice() {
                len = rules::add_field(out, len, name, value)?;
            }
        }
    }
    if status == 401 {
        if let Some(RuleKind::Auth { realm, .. }) = auth_rule(cfg, site, path).map(|r| r.kind) {
            let mut v = [0u8; 160];
            let mut l = crate::fmt::Line::new(&mut v);
            l.push(b"Basic realm=\"").push(realm).push(b"\", charset=\"UTF-8\"");
            len = rules::add_field(out, len, b"WWW-Authenticate", l.as_bytes())?;
        }
    }
    if rules::any(cfg, site) {
        len = rules::edit_head(out, len, rules::of(cfg, site), path)?;
    }
    Some(len)
}
