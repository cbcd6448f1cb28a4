//! The site a request is for, and the rules its settings compiled to, as a
//! request consults them: once, in order, never re-read from text. Pure:
//! host-tested with tables.
use super::config::{Config, ERROR_CODES, Rule, RuleKind, Site};
use crate::content::glob;

/// The site that answers `host` (the request's `Host`, port and all), and
/// its number (0 with no site blocks: the defaults serve everything). None:
/// no site names it and `strict-host` is on (421).
pub fn pick<'c>(cfg: &'c Config<'c>, host: Option<&[u8]>) -> Option<(usize, &'c Site<'c>)> {
    if cfg.sites.is_empty() {
        return Some((0, &cfg.site));
    }
    let name = host.map_or(&b""[..], crate::content::url::host_without_port);
    let name = name.strip_suffix(b".").unwrap_or(name); // `example.com.` is the same name
    let found = cfg.sites.iter().position(|s| names(s).any(|n| n.eq_ignore_ascii_case(name)));
    let found = found.or_else(|| cfg.sites.iter().position(|s| names(s).any(|n| wildcard(n, name))));
    match found {
        Some(i) => Some((i, &cfg.sites[i])),
        None if cfg.strict_host => None,
        None => Some((0, &cfg.sites[0])),
    }
}

fn names<'a>(s: &Site<'a>) -> impl Iterator<Item = &'a [u8]> {
    s.names.split(|b| b.is_ascii_whitespace()).filter(|n| !n.is_empty())
}

/// `*.example.com` matches `a.example.com`, not `example.com` or `a.b.example.com`.
fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    let Some(suffix) = pattern.strip_prefix(b"*") else { return false };
    name.len() > suffix.len()
        && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        && !name[..name.len() - suffix.len()].contains(&b'.')
}


/// Whether any rule (the defaults' or the site's own) can touch a request
/// for `site`: without one, a request costs what it did before rules.
pub fn any(cfg: &Config<'_>, site: &Site<'_>) -> bool {
    site.rules.1 > site.rules.0 || cfg.site.rules.1 > cfg.site.rules.0
}

/// A site's rules, the defaults' first (they apply to every site).
pub fn of<'c>(cfg: &'c Config<'c>, site: &Site<'_>) -> impl Iterator<Item = &'c Rule<'c>> {
    let own = if core::ptr::eq(site, &cfg.site) { (0, 0) } else { site.rules };
    let (a, b) = cfg.site.rules;
    cfg.rules[a as usize..b as usize].iter().chain(&cfg.rules[own.0 as usize..own.1 as usize])
}

/// The request path without its query.
pub fn path_of(target: &[u8]) -> &[u8] {
    &target[..target.iter().position(|&b| b == b'?').unwrap_or(target.len())]
}

/// Applies the `header` rules that match `path` to the response head at
/// the start of `out[..len]` (its body, if any, follows the head and moves
/// with it): each rule, in order, removes every field of its name and,
/// unless it is a `-Name` rule, adds its own. Returns the new length, or
/// None when the edited response would not fit in `out`.
pub fn edit_head<'r>(out: &mut [u8], len: usize, rules: impl Iterator<Item = &'r Rule<'r>>, path: &[u8]) -> Option<usize> {
    let mut len = len;
    for r in rules {
        let RuleKind::Header { pat, name, value } = r.kind else { continue };
        if !glob::matches(pat, path) {
            continue;
        }
        len = remove_field(out, len, name);
        if let Some(value) = value {
            len = add_field(out, len, name, value)?;
        }
    }
    Some(len)
}

/// A page a site answers with instead: its fallback (a 200 for a missing
/// page a browser navigates to) or one of its error pages.
pub struct Page<'a> {
    /// The page's path under the root, as a request would name it.
    pub target: &'a [u8],
    /// An error page: sent whole, with the status it stands for.
    pub plain: bool,
}

/// The page that answers a request whose file lookup gave `status`.
pub fn page_for<'a>(site: &Site<'a>, status: u16, accept: Option<&[u8]>) -> Option<Page<'a>> {
    if let (404, Some(target)) = (status, site.fallback) {
        if crate::content::accept::allows_html(accept) {
            return Some(Page { target, plain: false });
        }
    }
    let i = ERROR_CODES.iter().position(|&c| c == status)?;
    site.error_pages[i].map(|target| Page { target, plain: true })
}

/// Turns the 200 response of an error page into `status`: the status line
/// rewritten, and the validators dropped (an error page is not a resource
/// a client may revalidate or ask ranges of).
pub fn as_status(out: &mut [u8], len: usize, status: u16) -> Option<usize> {
    let line_end = out[..len].windows(2).position(|w| w == b"\r\n")?;
    let mut line = [0u8; 64];
    let mut l = crate::fmt::Line::new(&mut line);
    l.push(b"HTTP/1.1 ").push_u32(u32::from(status)).push(b" ").push(crate::http::status::reason(status).as_bytes());
    let new = l.as_bytes();
    let new_len = len - line_end + new.len();
    if new_len > out.len() {
        return None;
    }
    out.copy_within(line_end..len, new.len());
    out[..new.len()].copy_from_slice(new);
    let mut len = new_len;
    for name in [&b"ETag"[..], b"Last-Modified", b"Accept-Ranges"] {
        len = remove_field(out, len, name);
    }
    Some(len)
}

/// The length of the head in `out[..len]`, its blank line included.
fn head_end(out: &[u8], len: usize) -> usize {
    super::files::head_len(&out[..len])
}

/// Drops every `name:` field line from the head.
fn remove_field(out: &mut [u8], mut len: usize, name: &[u8]) -> usize {
    let mut at = match out[..len].windows(2).position(|w| w == b"\r\n") {
        Some(i) => i + 2, // past the status line
        None => return len,
    };
    loop {
        let end = head_end(out, len);
        if at + 2 > end || &out[at..at + 2] == b"\r\n" {
            return len;
        }
        let line_end = out[at..end].windows(2).position(|w| w == b"\r\n").map_or(end, |i| at + i + 2);
        let line = &out[at..line_end];
        let is = line.len() > name.len() && line[name.len()] == b':' && line[..name.len()].eq_ignore_ascii_case(name);
        if is {
            out.copy_within(line_end..len, at);
            len -= line_end - at;
        } else {
            at = line_end;
        }
    }
}

/// Inserts `name: value` before the head's blank line.
pub fn add_field(out: &mut [u8], len: usize, name: &[u8], value: &[u8]) -> Option<usize> {
    let at = head_end(out, len).checked_sub(2)?;
    let add = name.len() + 2 + value.len() + 2;
    if len + add > out.len() {
        return None;
    }
    out.copy_within(at..len, at + add);
    let line = &mut out[at..at + add];
    line[..name.len()].copy_from_slice(name);
    line[name.len()..name.len() + 2].copy_from_slice(b": ");
    line[name.len() + 2..add - 2].copy_from_slice(value);
    line[add - 2..].copy_from_slice(b"\r\n");
    Some(len + add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::settings::Origin;

    fn header(pat: &'static str, name: &'static str, value: Option<&'static str>) -> Rule<'static> {
        let kind = RuleKind::Header { pat: pat.as_bytes(), name: name.as_bytes(), value: value.map(str::as_bytes) };
        Rule { kind, site: 0, seq: 0, origin: Origin::Default, raw: b"" }
    }

    #[test]
    fn header_rules_add_replace_and_remove() {
        let head = "HTTP/1.1 200 OK\r\nServer: driftd\r\nContent-Length: 5\r\nCache-Control: no-cache\r\n\r\nhello";
        let rules = [
            header("/assets/*", "Cache-Control", Some("public, max-age=31536000, immutable")),
            header("/**", "X-Frame-Options", Some("DENY")),
            header("/assets/*.css", "server", None),
        ];
        // (path, the response after the rules)
        let rows = [
            ("/index.html", "HTTP/1.1 200 OK\r\nServer: driftd\r\nContent-Length: 5\r\nCache-Control: no-cache\r\nX-Frame-Options: DENY\r\n\r\nhello"),
            ("/assets/a.js", "HTTP/1.1 200 OK\r\nServer: driftd\r\nContent-Length: 5\r\nCache-Control: public, max-age=31536000, immutable\r\nX-Frame-Options: DENY\r\n\r\nhello"),
            ("/assets/a.css", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCache-Control: public, max-age=31536000, immutable\r\nX-Frame-Options: DENY\r\n\r\nhello"),
            ("/assets/x/a.css", "HTTP/1.1 200 OK\r\nServer: driftd\r\nContent-Length: 5\r\nCache-Control: no-cache\r\nX-Frame-Options: DENY\r\n\r\nhello"),
        ];
        for (path, want) in rows {
            let mut out = [0u8; 512];
            out[..head.len()].copy_from_slice(head.as_bytes());
            let n = edit_head(&mut out, head.len(), rules.iter(), path.as_bytes()).unwrap();
            assert_eq!(String::from_utf8_lossy(&out[..n]), want, "{path}");
        }
        // no room: None, never a cut head
        let mut out = [0u8; 90];
        out[..head.len()].copy_from_slice(head.as_bytes());
        assert_eq!(edit_head(&mut out, head.len(), rules.iter(), b"/assets/a.js"), None);
    }

    #[test]
    fn hosts_pick_their_site() {
        let sites = [
            Site { names: b"example.com www.example.com", line: 1, ..Site::default() },
            Site { names: b"*.example.org", line: 2, ..Site::default() },
            Site { names: b"docs.example.org", line: 3, ..Site::default() },
        ];
        let cfg = Config { sites: &sites, ..Config::default() };
        let rows: [(Option<&str>, Option<u32>); 11] = [
            (Some("example.com"), Some(1)),
            (Some("WWW.Example.COM:8080"), Some(1)),
            (Some("example.com."), Some(1)),
            (Some("a.example.org"), Some(2)),
            (Some("docs.example.org"), Some(3)), // an exact name beats a wildcard
            (Some("a.b.example.org"), Some(1)),  // one label only: the first site
            (Some("example.org"), Some(1)),
            (Some("[::1]:8080"), Some(1)),
            (Some("other.net"), Some(1)),
            (None, Some(1)),
            (Some(""), Some(1)),
        ];
        for (host, want) in rows {
            assert_eq!(pick(&cfg, host.map(str::as_bytes)).map(|(_, s)| s.line), want, "{host:?}");
        }
        let strict = Config { strict_host: true, ..cfg };
        assert_eq!(pick(&strict, Some(b"other.net")).map(|(_, s)| s.line), None);
        assert_eq!(pick(&strict, Some(b"a.example.org:80")).map(|(_, s)| s.line), Some(2));
        let none = Config::default();
        assert!(pick(&none, Some(b"anything")).is_some_and(|(i, s)| i == 0 && core::ptr::eq(s, &none.site)));
    }
}
