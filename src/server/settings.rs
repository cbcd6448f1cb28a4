//! Every setting driftd has, declared once. A row of [`SETTINGS`] gives a
//! setting's name, which is its config-file line and, with `--`, its flag
//! and, upper-cased as `DRIFTD_NAME`, its environment variable; its value's
//! shape, default and help line; where it may appear; and the function that
//! checks and stores it. `--help`, `--check-config`, the flags, the
//! environment and the file all walk this one table.
//!
//! Pure: the caller reads the file and the environment; nothing here makes
//! a system call, so every row is host-tested.
use super::config::{Bind, Config, ERROR_CODES, Listen, ListenAt, LogFormat, MAX_CERTS, MAX_FIXED_BODY, RealIp, Rule, RuleKind, Site};
use crate::fmt::{Line, parse_u32};

/// Where a value came from, highest first: a flag beats the environment,
/// which beats the file, which beats the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Default,
    /// A line of the config file.
    File(u32),
    Env,
    Flag,
}

impl Origin {
    fn rank(self) -> u8 {
        match self {
            Origin::Default => 0,
            Origin::File(_) => 1,
            Origin::Env => 2,
            Origin::Flag => 3,
        }
    }
}

/// Where a row may be written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Anywhere but inside a `site { }` block.
    Server,
    /// At the top (the default of every site) or inside a site block.
    Site,
    /// On the command line or in the environment only (`--config` itself).
    Start,
}

/// A value's shape.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `--quiet`; `quiet` or `quiet on|off` in the file; `DRIFTD_QUIET=1|0`.
    Switch,
    /// One value, the last one given wins.
    One,
    /// A rule: every line adds one (from the highest source that has any).
    Many,
}

/// What a row's setter writes to: the server's settings and the site being
/// read (the defaults outside a block).
pub struct Target<'t, 'a> {
    pub cfg: &'t mut Config<'a>,
    pub site: &'t mut Site<'a>,
}

type Setter = for<'t, 'a> fn(&mut Target<'t, 'a>, &'a [u8]) -> Result<(), &'static str>;

/// One setting.
pub struct Setting {
    pub name: &'static str,
    /// A one-letter flag beside `--name`, or "".
    pub short: &'static str,
    /// What the value looks like in `--help` ("" for a switch).
    pub arg: &'static str,
    pub shape: Shape,
    pub scope: Scope,
    /// The value used when none is given, as `--check-config` shows it.
    pub default: &'static str,
    pub help: &'static str,
    set: Setter,
}

/// A whole number in `[min, max]`, or the refusal.
fn number(v: &[u8], min: u32, max: u32, refusal: &'static str) -> Result<u32, &'static str> {
    parse_u32(v).filter(|x| (min..=max).contains(x)).ok_or(refusal)
}

fn seconds(v: &[u8]) -> Result<u64, &'static str> {
    number(v, 1, 86_400, "must be whole seconds, 1-86400").map(|s| u64::from(s) * 1000)
}

/// `on`/`off` and their usual spellings, for switches in the file and the
/// environment.
fn switch(v: &[u8]) -> Result<bool, &'static str> {
    const ON: [&[u8]; 4] = [b"on", b"1", b"true", b"yes"];
    const OFF: [&[u8]; 4] = [b"off", b"0", b"false", b"no"];
    if ON.iter().any(|w| w.eq_ignore_ascii_case(v)) {
        Ok(true)
    } else if OFF.iter().any(|w| w.eq_ignore_ascii_case(v)) {
        Ok(false)
    } else {
        Err("must be on or off")
    }
}

/// A path to a file or directory: not empty, no NUL, under 1024 bytes.
fn path(v: &[u8]) -> Result<&[u8], &'static str> {
    if v.is_empty() || v.len() >= 1024 || v.contains(&0) {
        return Err("takes a path (1-1023 bytes)");
    }
    Ok(v)
}

/// A path under a site's root, as a request would name it: `/...`.
fn site_path(v: &[u8]) -> Result<&[u8], &'static str> {
    let mut buf = [0u8; crate::content::path::MAX_PATH];
    match crate::content::path::resolve(v, &mut buf, true) {
        Ok(r) if v.starts_with(b"/") && !r.path.is_empty() && !r.trailing_slash => Ok(v),
        _ => Err("takes a file under the root, written /like/this.html"),
    }
}

/// A path driftd answers itself (`health`, `metrics`): `/healthz`.
fn endpoint(v: &[u8]) -> Result<&[u8], &'static str> {
    if !v.starts_with(b"/") || v.len() > 256 || v.iter().any(|&b| b <= b' ' || b == b'?' || b == b'#' || b >= 0x7f) {
        return Err("takes a path such as /healthz (no query, no spaces)");
    }
    Ok(v)
}

/// The first word of `v` and the rest, spaces between them dropped.
pub fn word(v: &[u8]) -> (&[u8], &[u8]) {
    let v = v.trim_ascii();
    let end = v.iter().position(|b| b.is_ascii_whitespace()).unwrap_or(v.len());
    (&v[..end], v[end..].trim_ascii())
}


/// Bytes a header field value may hold (RFC 9110 field-vchar, SP, HTAB):
/// no CR, LF, NUL or other control byte, so a rule can never split a head.
fn header_value_ok(v: &[u8]) -> bool {
    v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

fn token_ok(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A path pattern: `/`, then path bytes, `*` and `**`.
fn pattern(v: &[u8]) -> Result<&[u8], &'static str> {
    crate::content::glob::check(v).map(|()| v).map_err(|e| e.what())
}

/// An IPv4 or IPv6 address as `bind` takes it (`::` is dual-stack).
fn bind_addr(v: &[u8]) -> Option<Bind> {
    let v6 = v.strip_prefix(b"[").and_then(|r| r.strip_suffix(b"]")).unwrap_or(v);
    if let Some(ip) = crate::content::url::parse_ipv4(v) {
        Some(Bind::V4(ip))
    } else {
        crate::content::url::parse_ipv6(v6).map(|ip| if ip == [0; 16] { Bind::DualStack } else { Bind::V6(ip) })
    }
}

/// `listen ADDR [tls] [proxy] [mode=0660] [user=N] [group=N]`: ADDR is
/// `[::]:8080`, `127.0.0.1:80`, a bare port (all addresses) or
/// `unix:/path`; mode, user and group only for a socket file.
pub fn listen_line(v: &[u8]) -> Result<Listen<'_>, &'static str> {
    let (addr, mut rest) = word(v);
    let at = if let Some(path) = addr.strip_prefix(b"unix:") {
        if !path.starts_with(b"/") || path.len() > crate::sys::net::UNIX_PATH_MAX {
            return Err("a socket file is unix:/absolute/path, at most 107 bytes");
        }
        ListenAt::Unix(path)
    } else {
        let colon = addr.iter().rposition(|&b| b == b':');
        let (host, port) = match colon {
            Some(c) => (&addr[..c], &addr[c + 1..]),
            None => (&b"[::]"[..], addr),
        };
        let port = number(port, 1, 65535, "takes [::]:8080, 127.0.0.1:8080, [::1]:8443, a port, or unix:/path")? as u16;
        let bind = match host {
            b"" | b"*" => Some(Bind::DualStack),
            h if h.starts_with(b"[") => bind_addr(h),
            h => crate::content::url::parse_ipv4(h).map(Bind::V4),
        };
        ListenAt::Tcp(bind.ok_or("takes [::]:8080, 127.0.0.1:8080, [::1]:8443, a port, or unix:/path")?, port)
    };
    let mut l = Listen { at, raw: v, ..Listen::EMPTY };
    let unix = matches!(at, ListenAt::Unix(_));
    while !rest.is_empty() {
        let (w, r) = word(rest);
        rest = r;
        let id = |v: &[u8]| number(v, 0, u32::MAX - 1, "user= and group= take numeric ids");
        match w {
            b"tls" => l.tls = true,
            b"proxy" => l.proxy = true,
            _ if unix && w.starts_with(b"mode=") => {
                let m = &w[5..];
                if m.is_empty() || m.len() > 4 || !m.iter().all(|b| (b'0'..=b'7').contains(b)) {
                    return Err("mode= takes octal permissions such as 0660");
                }
                l.mode = Some(m.iter().fold(0, |a, b| a * 8 + u32::from(b - b'0')) & 0o777);
            }
            _ if unix && w.starts_with(b"user=") => l.uid = Some(id(&w[5..])?),
            _ if unix && w.starts_with(b"group=") => l.gid = Some(id(&w[6..])?),
            _ => return Err("after the address: tls, proxy, and for unix: mode=, user=, group="),
        }
    }
    Ok(l)
}

macro_rules! row {
    ($name:literal, $short:literal, $arg:literal, $shape:ident, $scope:ident, $default:literal, $help:literal, $set:expr) => {
        Setting {
            name: $name,
            short: $short,
            arg: $arg,
            shape: Shape::$shape,
            scope: Scope::$scope,
            default: $default,
            help: $help,
            set: $set,
        }
    };
}

/// Every setting, in the order `--help` and `--check-config` show them.
pub const SETTINGS: &[Setting] = &[
    row!("config", "", "FILE", One, Start, "", "read settings from FILE, one a line (see README)",
        |t, v| path(v).map(|v| t.cfg.config = Some(v))),
    row!("check-config", "", "", Switch, Start, "off", "check every setting, print them with their source, exit 0 or 2",
        |t, v| switch(v).map(|on| t.cfg.check_only = on)),
    row!("bind", "", "ADDR", One, Server, "::", "listen address; :: is IPv4 and IPv6",
        |t, v| bind_addr(v).map(|b| t.cfg.bind = b).ok_or("takes an IPv4 or IPv6 address")),
    row!("port", "-p", "N", One, Server, "8080", "the HTTP port (also $PORT)",
        |t, v| number(v, 1, 65535, "must be 1-65535").map(|n| t.cfg.port = n as u16)),
    row!("listen", "", "ADDR [tls] [proxy]", Many, Server, "", "listen on ADDR ([::]:8080, 127.0.0.1:80, unix:/run/d.sock [mode=0660]); repeatable; replaces bind, port, tls-port",
        |t, v| {
            let l = listen_line(v)?;
            let slot = t.cfg.listen.get_mut(t.cfg.listen_count).ok_or("at most 8 listen lines")?;
            *slot = l;
            t.cfg.listen_count += 1;
            Ok(())
        }),
    row!("workers", "-w", "N", One, Server, "0", "worker processes; 0: one per CPU, within a cgroup CPU limit",
        |t, v| number(v, 0, 256, "must be 0-256").map(|n| t.cfg.workers = n as usize)),
    row!("max-conns-per-client", "", "N", One, Server, "256", "connections one client address (IPv6: its /64) may hold in a worker; past it 503 (0: no limit)",
        |t, v| number(v, 0, super::config::MAX_CONNS as u32, "must be 0-1048576").map(|n| t.cfg.max_conns_per_client = n)),
    row!("trusted-proxy", "", "CIDR...", One, Server, "", "peers whose real-ip-header names the client (for the log and max-conns-per-client)",
        |t, v| crate::content::forwarded::check_cidrs(v).map(|()| t.cfg.trusted_proxy = Some(v)).map_err(|e| e.what())),
    row!("real-ip-header", "", "NAME", One, Server, "x-forwarded-for", "the header the trusted proxies write: x-forwarded-for or forwarded",
        |t, v| {
            t.cfg.real_ip = if v.eq_ignore_ascii_case(b"x-forwarded-for") {
                RealIp::XForwardedFor
            } else if v.eq_ignore_ascii_case(b"forwarded") {
                RealIp::Forwarded
            } else {
                return Err("must be x-forwarded-for or forwarded");
            };
            Ok(())
        }),
    row!("user", "", "USER[:GROUP]", One, Server, "", "started as root: run the workers as USER (a name or uid), in its group or GROUP",
        |t, v| crate::content::passwd::parse(v).map(|_| t.cfg.user = Some(v)).map_err(|e| e.what())),
    row!("allow-root", "", "", Switch, Server, "off", "started as root without user: run the workers as root anyway",
        |t, v| switch(v).map(|on| t.cfg.allow_root = on)),
    row!("max-conns", "", "N", One, Server, "", "connections per worker, 1-1048576 (default: what the descriptor and memory limits allow)",
        |t, v| number(v, 1, super::config::MAX_CONNS as u32, "must be 1-1048576").map(|n| t.cfg.max_conns = n as usize)),
    row!("head-timeout", "", "S", One, Server, "10", "first byte of a request to the end of its head",
        |t, v| seconds(v).map(|ms| t.cfg.head_timeout = ms)),
    row!("idle-timeout", "", "S", One, Server, "15", "keep-alive idle time",
        |t, v| seconds(v).map(|ms| t.cfg.idle_timeout = ms)),
    row!("body-timeout", "", "S", One, Server, "10", "between reads of a request body",
        |t, v| seconds(v).map(|ms| t.cfg.body_timeout = ms)),
    row!("send-timeout", "", "S", One, Server, "10", "between writes to a client that stopped reading",
        |t, v| seconds(v).map(|ms| t.cfg.send_timeout = ms)),
    row!("grace", "", "S", One, Server, "10", "on SIGTERM/SIGINT, time to finish what is in flight",
        |t, v| seconds(v).map(|ms| t.cfg.grace = ms)),
    row!("drain-delay", "", "S", One, Server, "0", "on SIGTERM/SIGINT, go on serving S seconds with health at 503 first",
        |t, v| number(v, 0, 3600, "must be whole seconds, 0-3600").map(|s| t.cfg.drain_delay = u64::from(s) * 1000)),
    row!("health", "", "PATH", One, Server, "", "answer GET PATH with 200 while serving, 503 while draining",
        |t, v| endpoint(v).map(|v| t.cfg.health = Some(v))),
    row!("metrics", "", "PATH", One, Server, "", "answer GET PATH with Prometheus text: counts summed over the workers",
        |t, v| endpoint(v).map(|v| t.cfg.metrics = Some(v))),
    row!("log-health", "", "", Switch, Server, "off", "log health checks too",
        |t, v| switch(v).map(|on| t.cfg.log_health = on)),
    row!("max-body", "", "BYTES", One, Server, "1048576", "largest request body; larger: 413",
        |t, v| number(v, 0, 999_999_999, "must be 0-999999999").map(|n| t.cfg.max_body = u64::from(n))),
    row!("body", "", "TEXT", One, Server, "", "the body of every GET without --root or --kv (default: the Drift greeting)",
        |t, v| if v.len() <= MAX_FIXED_BODY { t.cfg.body = v; Ok(()) } else { Err("is at most 2048 bytes") }),
    row!("content-type", "", "TYPE", One, Server, "text/plain", "the Content-Type of --body",
        |t, v| {
            if v.is_empty() || v.len() > 128 || !v.iter().all(|&b| (0x20..0x7f).contains(&b)) {
                return Err("must be 1-128 printable ASCII bytes");
            }
            t.cfg.content_type = v;
            Ok(())
        }),
    row!("quiet", "-q", "", Switch, Server, "off", "no access log",
        |t, v| switch(v).map(|on| t.cfg.quiet = on)),
    row!("log-format", "", "FORMAT", One, Server, "common", "access log lines: common, combined or json",
        |t, v| {
            t.cfg.log_format = match v {
                b"common" => LogFormat::Common,
                b"combined" => LogFormat::Combined,
                b"json" => LogFormat::Json,
                _ => return Err("must be common, combined or json"),
            };
            Ok(())
        }),
    row!("access-log", "", "FILE", One, Server, "-", "append the access log to FILE (-: stdout); SIGUSR1 reopens it",
        |t, v| if v == b"-" { t.cfg.access_log = None; Ok(()) } else { path(v).map(|v| t.cfg.access_log = Some(v)) }),
    row!("root", "", "DIR", One, Site, "", "serve the files under DIR",
        |t, v| path(v).map(|v| t.site.root = Some(v))),
    row!("dotfiles", "", "", Switch, Site, "off", "serve names that start with '.' too",
        |t, v| switch(v).map(|on| t.site.dotfiles = on)),
    row!("list", "", "", Switch, Site, "off", "list a folder without index.html (HTML, or JSON when asked)",
        |t, v| switch(v).map(|on| t.site.list = on)),
    row!("fallback", "", "FILE", One, Site, "", "a GET for a missing path that accepts HTML gets FILE (single-page apps)",
        |t, v| site_path(v).map(|v| t.site.fallback = Some(v))),
    row!("error-page", "", "CODE FILE", Many, Site, "", "the body of a CODE (400 401 403 404 405 500 503) response",
        |t, v| {
            let (code, file) = word(v);
            let i = parse_u32(code).and_then(|c| ERROR_CODES.iter().position(|&e| u32::from(e) == c));
            let Some(i) = i else { return Err("takes a code (400 401 403 404 405 500 503) and a file") };
            t.site.error_pages[i] = Some(site_path(file)?);
            Ok(())
        }),
    row!("header", "", "PATTERN NAME: VALUE", Many, Site, "", "add or replace a response header for paths matching PATTERN; -NAME removes one",
        |_, _| Ok(())),
    row!("cors", "", "ORIGIN...", One, Site, "", "allow these origins (or *) to read responses across origins",
        |t, v| crate::content::cors::check_origins(v).map(|o| t.site.cors = Some(o)).map_err(|e| e.what())),
    row!("redirect", "", "FROM TO [CODE]", Many, Site, "", "redirect a path or /prefix/* (301; 302 303 307 308)",
        |_, _| Ok(())),
    row!("auth", "", "PATTERN FILE [REALM]", Many, Site, "", "Basic authentication for PATTERN against an htpasswd -B FILE",
        |_, _| Ok(())),
    row!("auth-over-http", "", "", Switch, Server, "off", "allow auth on plain HTTP (passwords cross the network in clear)",
        |t, v| switch(v).map(|on| t.cfg.auth_over_http = on)),
    row!("strict-host", "", "", Switch, Server, "off", "a Host no site names gets 421, not the first site",
        |t, v| switch(v).map(|on| t.cfg.strict_host = on)),
    row!("file-cache", "", "N", One, Server, "1024", "files kept open per worker (0: no cache)",
        |t, v| number(v, 0, 1_000_000, "must be 0-1000000").map(|n| t.cfg.file_cache = n as usize)),
    row!("file-cache-mem", "", "BYTES", One, Server, "16777216", "bytes of small files kept in memory per worker",
        |t, v| number(v, 0, 999_999_999, "must be 0-999999999").map(|n| t.cfg.file_cache_mem = n as usize)),
    row!("kv", "", "DIR", One, Server, "", "key-value store in DIR: POST/PUT/GET/HEAD/DELETE /KEY",
        |t, v| path(v).map(|v| t.cfg.kv = Some(v))),
    row!("kv-max-value", "", "BYTES", One, Server, "1048576", "largest stored value",
        |t, v| number(v, 0, 999_999_999, "must be 0-999999999").map(|n| t.cfg.kv_max_value = u64::from(n))),
    row!("kv-prefix", "", "/NAME/", One, Server, "/kv/", "where the store lives beside --root",
        |t, v| {
            let ok = v.len() >= 3
                && v.len() <= 64
                && v.starts_with(b"/")
                && v.ends_with(b"/")
                && v.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
            if !ok {
                return Err("must look like /name/");
            }
            t.cfg.kv_prefix = v;
            Ok(())
        }),
    row!("tls-cert", "", "FILE", Many, Server, "", "PEM chain (leaf first) for HTTPS, paired with tls-key; repeat for more names (SNI)",
        |t, v| cert_slot(&mut t.cfg.tls_certs, path(v)?)),
    row!("tls-key", "", "FILE", Many, Server, "", "its key: ECDSA P-256/P-384 or Ed25519",
        |t, v| cert_slot(&mut t.cfg.tls_keys, path(v)?)),
    row!("tls-port", "", "N", One, Server, "8443", "the HTTPS port",
        |t, v| number(v, 1, 65535, "must be 1-65535").map(|n| t.cfg.tls_port = n as u16)),
    row!("https-redirect", "", "", Switch, Server, "off", "the plain port answers 308 to the https URL",
        |t, v| switch(v).map(|on| t.cfg.https_redirect = on)),
    row!("hsts", "", "S", One, Server, "0", "Strict-Transport-Security max-age on https responses (0: none)",
        |t, v| number(v, 0, 999_999_999, "must be 0-999999999 seconds").map(|n| t.cfg.hsts = n)),
];

fn cert_slot<'a>(list: &mut [&'a [u8]; MAX_CERTS], v: &'a [u8]) -> Result<(), &'static str> {
    let slot = list.iter_mut().find(|p| p.is_empty()).ok_or("at most 8 certificates")?;
    *slot = v;
    Ok(())
}

/// The rule a `Many` row's value makes, checked.
fn rule<'a>(name: &str, v: &'a [u8]) -> Result<RuleKind<'a>, &'static str> {
    match name {
        "header" => {
            let (pat, rest) = word(v);
            let pat = pattern(pat)?;
            if let Some(field) = rest.strip_prefix(b"-") {
                if !token_ok(field) {
                    return Err("-NAME must be a header name");
                }
                return Ok(RuleKind::Header { pat, name: field, value: None });
            }
            let colon = rest.iter().position(|&b| b == b':').ok_or("takes PATTERN Name: value")?;
            let (field, value) = (rest[..colon].trim_ascii(), rest[colon + 1..].trim_ascii());
            if !token_ok(field) {
                return Err("the header name must be a token (letters, digits, -)");
            }
            if !header_value_ok(value) {
                return Err("the header value holds a control byte (CR, LF, NUL...)");
            }
            Ok(RuleKind::Header { pat, name: field, value: Some(value) })
        }
        "redirect" => {
            let (from, rest) = word(v);
            let (to, rest) = word(rest);
            let (code, extra) = word(rest);
            if !extra.is_empty() {
                return Err("takes FROM TO [CODE]");
            }
            let code = if code.is_empty() { None } else { Some(code) };
            crate::content::redirect::check(from, to, code).map(RuleKind::Redirect).map_err(|e| e.what())
        }
        "auth" => {
            let (pat, rest) = word(v);
            let (file, realm) = word(rest);
            let pat = pattern(pat)?;
            let file = path(file)?;
            let realm = if realm.is_empty() { &b"driftd"[..] } else { realm };
            if realm.len() > 128 || realm.iter().any(|&b| b < 0x20 || b == 0x7f || b == b'"' || b == b'\\') {
                return Err("the realm must be printable, without quotes or backslashes, at most 128 bytes");
            }
            Ok(RuleKind::Auth { pat, file, realm, users: b"" })
        }
        _ => Err("not a rule"),
    }
}

/// A setting refused: where, which, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal<'a> {
    pub origin: Origin,
    /// The setting's name, or the word that is not one.
    pub name: &'a [u8],
    pub value: &'a [u8],
    pub why: &'static str,
}

/// What the command line and environment ask for before anything is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Serve,
    Help,
    Version,
}

/// Room for the sites and rules a config may declare, given by the caller
/// (memory the server maps at start; a Vec in tests).
pub struct Room<'a> {
    pub sites: &'a mut [Site<'a>],
    pub rules: &'a mut [Rule<'a>],
}

/// Reads the settings: `flags`, then `env`, then `file`, each keeping
/// what a higher source already set. The caller reads the file named by
/// `config` (a flag or `DRIFTD_CONFIG`) between `env` and `file`.
pub struct Loader<'a> {
    pub cfg: Config<'a>,
    defaults: Site<'a>,
    origin: [Origin; SETTINGS.len()],
    /// The last top-level value of each row, as given.
    raw: [&'a [u8]; SETTINGS.len()],
    room: Room<'a>,
    sites: usize,
    rules: usize,
    /// `port` came from `$PORT` (a platform's), not from DRIFTD_PORT.
    platform_port: bool,
}

// A site records the rows it set in a u64.
const _: () = assert!(SETTINGS.len() <= 64);

/// The rows whose every value is a rule of its own (checked by `rule`).
fn is_rule(name: &str) -> bool {
    matches!(name, "header" | "redirect" | "auth")
}

fn row_of(name: &[u8]) -> Option<usize> {
    SETTINGS.iter().position(|s| s.name.as_bytes() == name)
}

impl<'a> Loader<'a> {
    pub fn new(room: Room<'a>) -> Self {
        Loader {
            cfg: Config::default(),
            defaults: Site::default(),
            origin: [Origin::Default; SETTINGS.len()],
            raw: [b""; SETTINGS.len()],
            room,
            sites: 0,
            rules: 0,
            platform_port: false,
        }
    }

    /// Applies row `i`'s value from `origin`, to the defaults (`site`
    /// None) or to site `site`. A value from a source below the one that
    /// set the row already is skipped; within one source the last wins (or,
    /// for rules, all are kept).
    fn apply(&mut self, i: usize, value: &'a [u8], origin: Origin, site: Option<usize>) -> Result<(), Refusal<'a>> {
        let s = &SETTINGS[i];
        let refuse = |why| Refusal { origin, name: s.name.as_bytes(), value, why };
        if site.is_none() {
            let had = self.origin[i];
            if had.rank() > origin.rank() {
                // A higher source set it: checked all the same (on copies),
                // so a bad line is found whatever overrides it today.
                let (mut cfg, mut site) = (self.cfg, self.defaults);
                if is_rule(s.name) {
                    rule(s.name, value).map_err(refuse)?;
                } else {
                    (s.set)(&mut Target { cfg: &mut cfg, site: &mut site }, value).map_err(refuse)?;
                }
                return Ok(());
            }
            if s.shape == Shape::Many && had.rank() < origin.rank() {
                self.forget(i); // a higher source's list replaces a lower one's
            }
            self.origin[i] = origin;
            self.raw[i] = value;
        }
        if is_rule(s.name) {
            let kind = rule(s.name, value).map_err(refuse)?;
            let at = site.map_or(0, |n| n + 1) as u16;
            // The room's second half is the grouping's scratch (see `finish`).
            let half = self.room.rules.len() / 2;
            let Some(slot) = self.room.rules[..half].get_mut(self.rules) else {
                return Err(refuse("too many rules for the room reserved"));
            };
            *slot = Rule { kind, site: at, seq: self.rules as u32, origin, raw: value };
            self.rules += 1;
            return Ok(());
        }
        let site = match site {
            None => &mut self.defaults,
            Some(n) => &mut self.room.sites[n],
        };
        (s.set)(&mut Target { cfg: &mut self.cfg, site }, value).map_err(refuse)
    }

    /// Drops what lower sources gave row `i` at the top level.
    fn forget(&mut self, i: usize) {
        let name = SETTINGS[i].name;
        match name {
            "tls-cert" => self.cfg.tls_certs = [b""; MAX_CERTS],
            "tls-key" => self.cfg.tls_keys = [b""; MAX_CERTS],
            "error-page" => self.defaults.error_pages = [None; ERROR_CODES.len()],
            "listen" => self.cfg.listen_count = 0,
            _ => {
                let mut keep = 0;
                for j in 0..self.rules {
                    let r = self.room.rules[j];
                    if !(r.site == 0 && r.kind.setting() == name) {
                        self.room.rules[keep] = r;
                        keep += 1;
                    }
                }
                self.rules = keep;
            }
        }
    }

    /// The command line (without the program name). `--help` and
    /// `--version` end it.
    pub fn flags(&mut self, mut args: impl Iterator<Item = &'a [u8]>) -> Result<Action, Refusal<'a>> {
        while let Some(arg) = args.next() {
            match arg {
                b"--help" | b"-h" => return Ok(Action::Help),
                b"--version" | b"-V" => return Ok(Action::Version),
                _ => {}
            }
            let refuse = |why| Refusal { origin: Origin::Flag, name: arg, value: b"", why };
            let i = match arg.strip_prefix(b"--") {
                Some(name) => row_of(name),
                None => SETTINGS.iter().position(|s| !s.short.is_empty() && s.short.as_bytes() == arg),
            };
            let Some(i) = i else { return Err(refuse("unknown argument")) };
            let value: &'a [u8] = if SETTINGS[i].shape == Shape::Switch {
                b"on"
            } else {
                args.next().ok_or(refuse("a value is missing after"))?
            };
            self.apply(i, value, Origin::Flag, None)?;
        }
        Ok(Action::Serve)
    }

    /// The environment: `DRIFTD_NAME` for every row (a rule row may hold
    /// several rules, one a line), and `$PORT` as platforms set it, below
    /// `DRIFTD_PORT`.
    pub fn env(&mut self, var: impl Fn(&[u8]) -> Option<&'a [u8]>) -> Result<(), Refusal<'a>> {
        let mut name = [0u8; 64];
        for (i, s) in SETTINGS.iter().enumerate() {
            let n = env_name(s.name.as_bytes(), &mut name);
            let Some(v) = var(&name[..n]) else { continue };
            if s.shape == Shape::Many {
                for line in v.split(|&b| b == b'\n').map(<[u8]>::trim_ascii).filter(|l| !l.is_empty()) {
                    self.apply(i, line, Origin::Env, None)?;
                }
            } else {
                self.apply(i, v, Origin::Env, None)?;
            }
        }
        if let Some(v) = var(b"PORT") {
            let i = row_of(b"port").unwrap_or(0);
            if self.origin[i] == Origin::Default {
                self.apply(i, v, Origin::Env, None).map_err(|r| Refusal { name: b"PORT", ..r })?;
                self.platform_port = true;
            }
        }
        Ok(())
    }

    /// The config file's text: a setting a line (`name value`), `#`
    /// comments, blank lines, and `site NAME... {` ... `}` blocks.
    pub fn file(&mut self, text: &'a [u8]) -> Result<(), Refusal<'a>> {
        let mut site: Option<usize> = None;
        let mut open_line = 0;
        for (n, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = (n + 1) as u32;
            let origin = Origin::File(line);
            let refuse = |name: &'a [u8], value: &'a [u8], why| Refusal { origin, name, value, why };
            let body = match raw.iter().position(|&b| b == b'#') {
                // `#` starts a comment at the start of a line or after a space,
                // so `header /x X-Tag: a#b` keeps its value.
                Some(0) => &raw[..0],
                Some(h) if raw[h - 1].is_ascii_whitespace() => &raw[..h],
                _ => raw,
            };
            let body = body.trim_ascii();
            if body.is_empty() {
                continue;
            }
            if body.iter().any(|&b| b < 0x20 && b != b'\t') {
                return Err(refuse(b"", b"", "a control byte in the line"));
            }
            let (name, value) = word(body);
            if name == b"}" {
                if site.is_none() || !value.is_empty() {
                    return Err(refuse(name, value, "a } without its site {"));
                }
                site = None;
                continue;
            }
            if name == b"site" {
                if site.is_some() {
                    return Err(refuse(name, value, "a site block inside another (close it with } first)"));
                }
                let Some(names) = value.strip_suffix(b"{").map(<[u8]>::trim_ascii) else {
                    return Err(refuse(name, value, "takes NAME... {"));
                };
                check_site_names(names).map_err(|why| refuse(name, names, why))?;
                let Some(slot) = self.room.sites.get_mut(self.sites) else {
                    return Err(refuse(name, names, "too many sites for the room reserved"));
                };
                *slot = Site { names, line, ..Site::default() };
                site = Some(self.sites);
                self.sites += 1;
                open_line = line;
                continue;
            }
            let Some(i) = row_of(name) else { return Err(refuse(name, b"", "unknown setting")) };
            let s = &SETTINGS[i];
            match (s.scope, site) {
                (Scope::Start, _) => return Err(refuse(name, b"", "is given on the command line or in the environment only")),
                (Scope::Server, Some(_)) => return Err(refuse(name, b"", "is a server setting: put it outside site blocks")),
                _ => {}
            }
            let value = match (s.shape, value) {
                (Shape::Switch, b"") => &b"on"[..],
                (_, b"") => return Err(refuse(name, b"", "a value is missing")),
                (_, v) => v,
            };
            self.apply(i, value, origin, site)?;
            if let Some(n) = site {
                self.room.sites[n].set |= 1 << i;
            }
        }
        if site.is_some() {
            let origin = Origin::File(open_line);
            return Err(Refusal { origin, name: b"site", value: b"", why: "this site block has no closing }" });
        }
        Ok(())
    }

    /// Reads the users file of every `auth` rule with `read` (None: it
    /// could not be read, and `read` has said why), and checks every line:
    /// only bcrypt hashes guard anything.
    pub fn users(&mut self, mut read: impl FnMut(&'a [u8]) -> Option<&'a [u8]>) -> Result<(), Refusal<'a>> {
        for r in self.room.rules[..self.rules].iter_mut() {
            let RuleKind::Auth { file, ref mut users, .. } = r.kind else { continue };
            let refuse = |name, value, why| Refusal { origin: r.origin, name, value, why };
            let text = read(file).ok_or(refuse(&b"auth"[..], r.raw, "its users file cannot be read"))?;
            let mut any = false;
            for line in text.split(|&b| b == b'\n') {
                match crate::content::auth::check_line(line) {
                    Ok(e) => any |= e.is_some(),
                    Err(e) => {
                        let user = line.split(|&b| b == b':').next().unwrap_or_default();
                        return Err(refuse(file, user, e.what()));
                    }
                }
            }
            if !any {
                return Err(refuse(file, b"", "has no users: make them with htpasswd -B"));
            }
            *users = text;
        }
        Ok(())
    }

    /// The settings checked as a whole: each site given what it did not set
    /// from the defaults, rules grouped by site in the order given.
    pub fn finish(&mut self) -> Result<Config<'a>, Refusal<'a>> {
        let refuse = |why| Refusal { origin: Origin::Default, name: b"", value: b"", why };
        let c = &mut self.cfg;
        let certs = c.tls_certs.iter().filter(|p| !p.is_empty()).count();
        if certs != c.tls_keys.iter().filter(|p| !p.is_empty()).count() {
            return Err(refuse("each tls-cert needs its tls-key, in the same order"));
        }
        c.tls_pairs = certs;
        if certs == 0 && (c.https_redirect || c.hsts != 0) {
            return Err(refuse("https-redirect and hsts need tls-cert and tls-key"));
        }
        if c.listen_count > 0 {
            let given = |name: &[u8]| row_of(name).is_some_and(|i| self.origin[i] != Origin::Default);
            // $PORT is the platform's, not the user's: `listen` wins over it.
            if given(b"bind") || (given(b"port") && !self.platform_port) || given(b"tls-port") {
                return Err(refuse("listen replaces bind, port and tls-port: give one or the other"));
            }
            let list = &c.listen[..c.listen_count];
            if certs == 0 && list.iter().any(|l| l.tls) {
                return Err(refuse("a listen with tls needs tls-cert and tls-key"));
            }
            if certs > 0 && !list.iter().any(|l| l.tls) {
                return Err(refuse("tls-cert is set but no listen line has tls"));
            }
            // https-redirect points at the first HTTPS port.
            if let Some(port) = list.iter().find_map(|l| match l.at {
                ListenAt::Tcp(_, p) if l.tls => Some(p),
                _ => None,
            }) {
                c.tls_port = port;
            }
        } else if certs > 0 && c.tls_port == c.port {
            return Err(refuse("tls-port must differ from port"));
        }
        // Rules grouped by site, each site's in the order written: counted
        // per site, then copied to their places in the room's second half
        // (a counting sort: linear, and no sorting code in the binary).
        let n = self.rules;
        let (rules, scratch) = self.room.rules.split_at_mut(self.room.rules.len() / 2);
        let sites = &mut self.room.sites[..self.sites];
        let d = &mut self.defaults;
        d.rules = (0, 0);
        sites.iter_mut().for_each(|s| s.rules = (0, 0));
        for r in &rules[..n] {
            range_of(d, sites, r.site).1 += 1; // the count, for now
        }
        let mut at = 0;
        for site in 0..=sites.len() {
            let r = range_of(d, sites, site as u16);
            let len = r.1;
            *r = (at, at);
            at += len;
        }
        for r in &rules[..n] {
            let range = range_of(d, sites, r.site);
            scratch[range.1 as usize] = *r;
            range.1 += 1;
        }
        rules[..n].copy_from_slice(&scratch[..n]);
        let d = self.defaults;
        for s in self.room.sites[..self.sites].iter_mut() {
            s.inherit(&d);
        }
        // Only a plain listener that redirects everything to https keeps
        // passwords off the wire.
        let safe = c.auth_over_http || (certs > 0 && c.https_redirect);
        if let Some(r) = rules.iter().find(|r| matches!(r.kind, RuleKind::Auth { .. })).filter(|_| !safe) {
            let why = "auth on plain HTTP sends passwords in clear: add tls-cert (with https-redirect) or auth-over-http";
            return Err(Refusal { origin: r.origin, name: b"auth", value: r.raw, why });
        }
        c.site = d;
        let (sites, _) = core::mem::take(&mut self.room.sites).split_at_mut(self.sites);
        let (rules, _) = core::mem::take(&mut self.room.rules).split_at_mut(self.rules);
        c.sites = sites;
        c.rules = rules;
        Ok(self.cfg)
    }

    /// `--check-config`'s report: every setting with its effective value
    /// and where it came from, a line each, as config lines (`# ` starts
    /// the source), then each site block with what it set itself.
    pub fn describe(&self, cfg: &Config<'a>, file: &[u8], out: &mut dyn FnMut(&[u8])) {
        let mut emit = |name: &[u8], value: &[u8], origin: Origin, indent: bool| {
            let mut buf = [0u8; 2048];
            let mut l = Line::new(&mut buf);
            l.push(if indent { b"  " } else { b"" }).push(name);
            if !value.is_empty() {
                l.push(b" ").push(value);
            }
            l.push(b"  # ");
            match origin {
                Origin::Default => l.push(b"default"),
                Origin::Flag => l.push(b"flag --").push(name),
                Origin::Env => {
                    let mut n = [0u8; 64];
                    let len = env_name(name, &mut n);
                    l.push(b"environment ").push(&n[..len])
                }
                Origin::File(line) => l.push_shown(file).push(b":").push_u32(line),
            };
            l.push(b"\n");
            out(l.as_bytes());
        };
        for (i, s) in SETTINGS.iter().enumerate() {
            let name = s.name.as_bytes();
            let origin = self.origin[i];
            match s.name {
                "config" | "check-config" => {}
                "tls-cert" | "tls-key" => {
                    let list = if s.name == "tls-cert" { &cfg.tls_certs } else { &cfg.tls_keys };
                    for v in list.iter().filter(|v| !v.is_empty()) {
                        emit(name, v, origin, false);
                    }
                }
                "error-page" => show_error_pages(&cfg.site, origin, &mut emit, false),
                "listen" => {
                    for l in &cfg.listen[..cfg.listen_count] {
                        emit(name, l.raw, origin, false);
                    }
                }
                n if is_rule(n) => {
                    for r in cfg.rules.iter().filter(|r| r.site == 0 && r.kind.setting() == n) {
                        emit(name, r.raw, r.origin, false);
                    }
                }
                _ if origin == Origin::Default => {
                    if !s.default.is_empty() {
                        emit(name, s.default.as_bytes(), origin, false);
                    }
                }
                _ if s.shape == Shape::Switch => emit(name, if switch(self.raw[i]) == Ok(true) { b"on" } else { b"off" }, origin, false),
                _ => emit(name, self.raw[i], origin, false),
            }
        }
        for (n, site) in cfg.sites.iter().enumerate() {
            let mut nb = [0u8; 1100];
            let mut nl = Line::new(&mut nb);
            nl.push(site.names).push(b" {");
            emit(b"site", nl.as_bytes(), Origin::File(site.line), false);
            let origin = Origin::File(site.line);
            let own = |row: &str| site.sets(row);
            if let (true, Some(root)) = (own("root"), site.root) {
                emit(b"root", root, origin, true);
            }
            for (row, on) in [("dotfiles", site.dotfiles), ("list", site.list)] {
                if own(row) {
                    emit(row.as_bytes(), if on { b"on" } else { b"off" }, origin, true);
                }
            }
            for (row, v) in [("fallback", site.fallback), ("cors", site.cors.map(|o| o.as_text()))] {
                if let (true, Some(v)) = (own(row), v) {
                    emit(row.as_bytes(), v, origin, true);
                }
            }
            if own("error-page") {
                show_error_pages(site, origin, &mut emit, true);
            }
            for r in cfg.rules.iter().filter(|r| usize::from(r.site) == n + 1) {
                emit(r.kind.setting().as_bytes(), r.raw, r.origin, true);
            }
            emit(b"}", b"", Origin::File(site.line), false);
        }
    }

    /// Where row `i`'s top-level value came from.
    pub fn origin(&self, i: usize) -> Origin {
        self.origin[i]
    }
}

/// The rule range of site `site` (0: the defaults).
fn range_of<'s>(d: &'s mut Site<'_>, sites: &'s mut [Site<'_>], site: u16) -> &'s mut (u32, u32) {
    match site {
        0 => &mut d.rules,
        n => &mut sites[usize::from(n) - 1].rules,
    }
}

/// `DRIFTD_` and the name upper-cased with `-` as `_`, into `buf`.
pub fn env_name(name: &[u8], buf: &mut [u8; 64]) -> usize {
    let mut l = Line::new(buf);
    l.push(b"DRIFTD_");
    for &b in name {
        l.push(&[if b == b'-' { b'_' } else { b.to_ascii_uppercase() }]);
    }
    l.as_bytes().len()
}

/// A site's names: host names (letters, digits, `-`, `.`), each may start
/// with `*.`, at most 253 bytes, at least one.
fn check_site_names(names: &[u8]) -> Result<(), &'static str> {
    let mut any = false;
    for name in names.split(|b| b.is_ascii_whitespace()).filter(|n| !n.is_empty()) {
        any = true;
        let host = name.strip_prefix(b"*.").unwrap_or(name);
        let ok = !host.is_empty()
            && name.len() <= 253
            && !host.starts_with(b".")
            && !host.ends_with(b".")
            && host.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !ok {
            return Err("a site name is a host name (letters, digits, - and .), optionally starting with *.");
        }
    }
    if any { Ok(()) } else { Err("takes one or more names, then {") }
}

/// Writes one `--check-config` line: name, value, source, indented or not.
type Emit<'e> = dyn FnMut(&[u8], &[u8], Origin, bool) + 'e;

fn show_error_pages(site: &Site<'_>, origin: Origin, emit: &mut Emit<'_>, indent: bool) {
    for (code, page) in ERROR_CODES.iter().zip(site.error_pages) {
        if let Some(page) = page {
            let mut b = [0u8; 1100];
            let mut l = Line::new(&mut b);
            l.push_u32(u32::from(*code)).push(b" ").push(page);
            emit(b"error-page", l.as_bytes(), origin, indent);
        }
    }
}

/// `--help`: how to run the client, then a line per setting.
pub fn help(out: &mut dyn FnMut(&[u8])) {
    out(b"usage: driftd [--NAME VALUE]...   serve HTTP with the settings below
       driftd get URL [-o FILE] [--timeout S]    exit 0 on 2xx; follows 5 redirects
       driftd check URL [--timeout S]            exit 0 on 2xx/3xx, else 1
Each setting is a flag, an environment variable DRIFTD_NAME (upper case,
- as _) and a config-file line `name value`; a flag beats the environment,
which beats the file. Rules and site blocks: see the README.
");
    let mut buf = [0u8; 256];
    for s in SETTINGS {
        let mut l = Line::new(&mut buf);
        l.push(b"  --").push(s.name.as_bytes());
        if !s.short.is_empty() {
            l.push(b", ").push(s.short.as_bytes());
        }
        if !s.arg.is_empty() {
            l.push(b" ").push(s.arg.as_bytes());
        }
        let pad = 30usize.saturating_sub(l.as_bytes().len()).max(1);
        for _ in 0..pad {
            l.push(b" ");
        }
        l.push(s.help.as_bytes());
        if !s.default.is_empty() && s.shape != Shape::Switch && s.default != "0" {
            l.push(b" (").push(s.default.as_bytes()).push(b")");
        }
        l.push(b"\n");
        out(l.as_bytes());
    }
    out(b"  --help, --version\n  get/check: --timeout S (get: per step, 30; check: the whole exchange, 2);
  they read DRIFTD_HOSTS, DRIFTD_RESOLV_CONF, DRIFTD_DNS_PORT if set\n");
}

/// The one line that says why settings were refused, into `buf`:
/// `--port 0: must be 1-65535` for a flag, `DRIFTD_PORT=0: ...` for the
/// environment, `FILE:LINE: port 0: ...` for the file (as `nginx -t`).
pub fn refusal_line<'b>(r: &Refusal<'_>, file: &[u8], buf: &'b mut [u8; 1024]) -> &'b [u8] {
    let n = {
        let mut l = Line::new(&mut buf[..1000]);
        l.push(b"driftd: ");
        let shown = |l: &mut Line<'_>| {
            if !r.value.is_empty() {
                l.push(b" ").push_shown(&r.value[..r.value.len().min(200)]);
            }
        };
        match r.origin {
            // the word itself was wrong (unknown, or its value missing)
            Origin::Flag if r.name.first() == Some(&b'-') || r.name.first().is_some_and(u8::is_ascii_digit) => {
                l.push(r.why.as_bytes()).push(b": ").push_shown(r.name);
            }
            Origin::Flag => {
                l.push(b"--").push_shown(r.name);
                shown(&mut l);
                l.push(b": ").push(r.why.as_bytes());
            }
            Origin::Env => {
                let mut n = [0u8; 64];
                let len = env_name(r.name, &mut n);
                l.push(if r.name == b"PORT" { r.name } else { &n[..len] }).push(b"=").push_shown(&r.value[..r.value.len().min(200)]);
                l.push(b": ").push(r.why.as_bytes());
            }
            Origin::File(line) => {
                l.push_shown(file).push(b":").push_u32(line).push(b": ");
                if !r.name.is_empty() {
                    l.push_shown(r.name);
                    shown(&mut l);
                    l.push(b": ");
                }
                l.push(r.why.as_bytes());
            }
            Origin::Default => {
                l.push(r.why.as_bytes());
            }
        }
        if !matches!(r.origin, Origin::File(_)) {
            l.push(b"\n(driftd --help lists the options)");
        }
        l.as_bytes().len()
    };
    buf[n] = b'\n';
    &buf[..=n]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::{Config, Rule, RuleKind, Site};

    fn room() -> Room<'static> {
        Room { sites: Vec::leak(vec![Site::default(); 64]), rules: Vec::leak(vec![Rule::EMPTY; 256]) }
    }

    fn leak(s: &str) -> &'static [u8] {
        Box::leak(s.to_owned().into_boxed_str()).as_bytes()
    }

    /// Loads flags, environment (`NAME=value` pairs) and a file, as main does.
    fn load(args: &[&str], env: &[(&str, &str)], file: &str) -> Result<Config<'static>, Refusal<'static>> {
        let mut ld = Loader::new(room());
        let args: Vec<&'static [u8]> = args.iter().map(|a| leak(a)).collect();
        assert_eq!(ld.flags(args.into_iter())?, Action::Serve);
        let env: Vec<(&'static [u8], &'static [u8])> = env.iter().map(|(k, v)| (leak(k), leak(v))).collect();
        ld.env(|n| env.iter().find(|(k, _)| *k == n).map(|(_, v)| *v))?;
        ld.file(leak(file))?;
        ld.finish()
    }

    #[test]
    fn nothing_given_is_the_defaults() {
        assert_eq!(load(&[], &[], "").unwrap(), Config::default());
        assert_eq!(load(&[], &[], "# only a comment\n\n   \n").unwrap(), Config::default());
    }

    #[test]
    fn every_default_as_written_gives_the_default() {
        for (i, s) in SETTINGS.iter().enumerate() {
            if s.default.is_empty() || s.scope == Scope::Start {
                continue;
            }
            let mut ld = Loader::new(room());
            ld.apply(i, leak(s.default), Origin::Flag, None).unwrap_or_else(|r| panic!("{}: {r:?}", s.name));
            let mut want = Config::default();
            want.tls_port = ld.cfg.tls_port; // (no certificate, so it is not checked)
            assert_eq!(ld.finish().unwrap(), want, "{}", s.name);
        }
    }

    #[test]
    fn every_row_has_a_flag_a_variable_and_a_line() {
        let mut names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SETTINGS.len(), "a name used twice");
        for s in SETTINGS {
            assert!(s.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{}", s.name);
            assert!(!s.help.is_empty(), "{}", s.name);
            let mut buf = [0u8; 64];
            let n = env_name(s.name.as_bytes(), &mut buf);
            assert!(buf[..n].starts_with(b"DRIFTD_") && !buf[..n].contains(&b'-'));
        }
    }

    #[test]
    fn a_flag_beats_the_environment_which_beats_the_file() {
        let file = "port 1001\nworkers 3\ngrace 7\n";
        let c = load(&["--port", "3003"], &[("DRIFTD_PORT", "2002"), ("DRIFTD_WORKERS", "2")], file).unwrap();
        assert_eq!((c.port, c.workers, c.grace), (3003, 2, 7000));
        let c = load(&[], &[("DRIFTD_PORT", "2002")], file).unwrap();
        assert_eq!(c.port, 2002);
        let c = load(&[], &[], file).unwrap();
        assert_eq!(c.port, 1001);
        // $PORT, as platforms set it, is below DRIFTD_PORT and above the file
        assert_eq!(load(&[], &[("PORT", "4004")], file).unwrap().port, 4004);
        assert_eq!(load(&[], &[("PORT", "4004"), ("DRIFTD_PORT", "2002")], "").unwrap().port, 2002);
        // within one source the last wins
        assert_eq!(load(&["-p", "1", "--port", "2"], &[], "").unwrap().port, 2);
        assert_eq!(load(&[], &[], "port 5\nport 6").unwrap().port, 6);
        // switches: a flag alone; on/off in the file and the environment
        assert!(load(&["-q"], &[], "quiet off").unwrap().quiet);
        assert!(!load(&[], &[("DRIFTD_QUIET", "0")], "quiet").unwrap().quiet);
        assert!(load(&[], &[("DRIFTD_QUIET", "yes")], "").unwrap().quiet);
    }

    #[test]
    fn rules_from_a_higher_source_replace_the_lower_ones() {
        let file = "header /a X-A: 1\nheader /b X-B: 2\nsite s.example {\n  header /c X-C: 3\n}\n";
        let names = |c: &Config<'static>| c.rules.iter().map(|r| (r.site, r.raw)).collect::<Vec<_>>();
        let c = load(&[], &[], file).unwrap();
        assert_eq!(names(&c), [(0, &b"/a X-A: 1"[..]), (0, b"/b X-B: 2"), (1, b"/c X-C: 3")]);
        assert_eq!((c.site.rules, c.sites[0].rules), ((0, 2), (2, 3)));
        // the environment's list (a rule a line) replaces the file's top-level one, not a site's
        let c = load(&[], &[("DRIFTD_HEADER", "/x X-X: 1\n/y X-Y: 2")], file).unwrap();
        assert_eq!(names(&c), [(0, &b"/x X-X: 1"[..]), (0, b"/y X-Y: 2"), (1, b"/c X-C: 3")]);
        let c = load(&["--header", "/z X-Z: 9"], &[("DRIFTD_HEADER", "/x X-X: 1")], file).unwrap();
        assert_eq!(names(&c), [(0, &b"/z X-Z: 9"[..]), (1, b"/c X-C: 3")]);
        let RuleKind::Header { pat, name, value } = c.rules[0].kind else { panic!() };
        assert_eq!((pat, name, value), (&b"/z"[..], &b"X-Z"[..], Some(&b"9"[..])));
    }

    #[test]
    fn sites_inherit_what_they_do_not_set() {
        let file = "root /srv/default\nlist\nerror-page 404 /404.html\n\
                    site a.example www.a.example {\n  root /srv/a\n  error-page 500 /oops.html\n}\n\
                    site *.b.example {\n  list off\n  fallback /index.html\n}\n";
        let c = load(&[], &[], file).unwrap();
        assert_eq!(c.sites.len(), 2);
        let (a, b) = (c.sites[0], c.sites[1]);
        assert_eq!((a.names, a.root, a.list, a.line), (&b"a.example www.a.example"[..], Some(&b"/srv/a"[..]), true, 4));
        assert_eq!((b.root, b.list, b.fallback), (Some(&b"/srv/default"[..]), false, Some(&b"/index.html"[..])));
        let page = |s: &Site<'static>, code: u16| s.error_pages[ERROR_CODES.iter().position(|&c| c == code).unwrap()];
        assert_eq!((page(&a, 404), page(&a, 500)), (Some(&b"/404.html"[..]), Some(&b"/oops.html"[..])));
        assert_eq!((page(&b, 404), page(&b, 500)), (Some(&b"/404.html"[..]), None));
        // a flag sets the default, and a site's own value still wins
        let c = load(&["--root", "/flag"], &[], file).unwrap();
        assert_eq!((c.site.root, c.sites[0].root, c.sites[1].root), (Some(&b"/flag"[..]), Some(&b"/srv/a"[..]), Some(&b"/flag"[..])));
    }

    #[test]
    fn a_bad_line_is_named_with_its_number() {
        let rows: &[(&str, u32, &str)] = &[
            ("frobnicate 1", 1, "unknown setting"),
            ("\nport", 2, "a value is missing"),
            ("port 0", 1, "must be 1-65535"),
            ("port 80 # the web\nworkers x", 2, "must be 0-256"),
            ("quiet maybe", 1, "must be on or off"),
            ("config /etc/x", 1, "is given on the command line or in the environment only"),
            ("site a.example {\n port 1\n}", 2, "is a server setting: put it outside site blocks"),
            ("site a.example {\n root /x\n", 1, "this site block has no closing }"),
            ("site a {\nsite b {\n}\n}", 2, "a site block inside another (close it with } first)"),
            ("}", 1, "a } without its site {"),
            ("site a.example", 1, "takes NAME... {"),
            ("site {", 1, "takes one or more names, then {"),
            ("site a_b.example {\n}", 1, "a site name is a host name (letters, digits, - and .), optionally starting with *."),
            ("header /a X-A\x01: 1", 1, "a control byte in the line"),
            ("header /a Bad Name: 1", 1, "the header name must be a token (letters, digits, -)"),
            ("header /a X-A 1", 1, "takes PATTERN Name: value"),
            ("header a X-A: 1", 1, "a path pattern must start with /"),
            ("error-page 418 /teapot.html", 1, "takes a code (400 401 403 404 405 500 503) and a file"),
            ("error-page 404 ../x", 1, "takes a file under the root, written /like/this.html"),
            ("fallback /", 1, "takes a file under the root, written /like/this.html"),
            ("redirect /a /b 200", 1, "the code must be 301 302 303 307 or 308"),
            ("redirect /a", 1, "TO is a path (/new, /new/*) or an http(s):// URL with a host"),
            ("auth /admin/** /etc/users", 1, "auth on plain HTTP sends passwords in clear: add tls-cert (with https-redirect) or auth-over-http"),
            ("auth-over-http\nauth /a /u Bad\"Realm", 2, "the realm must be printable, without quotes or backslashes, at most 128 bytes"),
            ("tls-cert a.pem", 0, "each tls-cert needs its tls-key, in the same order"),
            ("hsts 60", 0, "https-redirect and hsts need tls-cert and tls-key"),
        ];
        for &(file, line, why) in rows {
            let r = load(&[], &[], file).expect_err(file);
            assert_eq!((r.why, r.origin), (why, if line == 0 { Origin::Default } else { Origin::File(line) }), "{file:?}");
        }
        let r = load(&[], &[], "\n\nport 99999").unwrap_err();
        let mut buf = [0u8; 1024];
        assert_eq!(refusal_line(&r, b"/etc/driftd.conf", &mut buf), b"driftd: /etc/driftd.conf:3: port 99999: must be 1-65535\n");
    }

    #[test]
    fn flag_and_environment_refusals() {
        let rows: &[(&[&str], &[(&str, &str)], &str)] = &[
            (&["--port"], &[], "driftd: a value is missing after: --port"),
            (&["--port", "0"], &[], "driftd: --port 0: must be 1-65535"),
            (&["--port", "http"], &[], "driftd: --port http: must be 1-65535"),
            (&["--workers", "257"], &[], "driftd: --workers 257: must be 0-256"),
            (&["--max-conns", "1048577"], &[], "driftd: --max-conns 1048577: must be 1-1048576"),
            (&["--max-conns", "0"], &[], "driftd: --max-conns 0: must be 1-1048576"),
            (&["--head-timeout", "0"], &[], "driftd: --head-timeout 0: must be whole seconds, 1-86400"),
            (&["--bind", "localhost"], &[], "driftd: --bind localhost: takes an IPv4 or IPv6 address"),
            (&["--content-type", "text/html\r\nX: y"], &[], "driftd: --content-type text/html??X: y: must be 1-128 printable ASCII bytes"),
            (&["--frobnicate"], &[], "driftd: unknown argument: --frobnicate"),
            (&["8080"], &[], "driftd: unknown argument: 8080"),
            (&["--root", ""], &[], "driftd: --root: takes a path (1-1023 bytes)"),
            (&["--kv-prefix", "/a b/"], &[], "driftd: --kv-prefix /a b/: must look like /name/"),
            (&[], &[("PORT", "abc")], "driftd: PORT=abc: must be 1-65535"),
            (&[], &[("DRIFTD_FILE_CACHE", "-1")], "driftd: DRIFTD_FILE_CACHE=-1: must be 0-1000000"),
            (&[], &[("DRIFTD_HEADER", "/a X: 1\n/b Y")], "driftd: DRIFTD_HEADER=/b Y: takes PATTERN Name: value"),
            (&["--tls-cert", "a", "--tls-key", "b"], &[("DRIFTD_PORT", "8443")], "driftd: tls-port must differ from port"),
        ];
        for &(args, env, want) in rows {
            let r = load(args, env, "").expect_err(want);
            let mut buf = [0u8; 1024];
            let line = refusal_line(&r, b"", &mut buf);
            assert_eq!(String::from_utf8_lossy(line), format!("{want}\n(driftd --help lists the options)\n"), "{args:?}");
        }
        let long = "x".repeat(MAX_FIXED_BODY + 1);
        assert!(load(&["--body", &long], &[], "").is_err());
        let mut ld = Loader::new(room());
        assert_eq!(ld.flags([&b"--port"[..], b"1", b"--help", b"--frob"].into_iter()), Ok(Action::Help));
        assert_eq!(Loader::new(room()).flags([&b"-V"[..]].into_iter()), Ok(Action::Version));
    }

    #[test]
    fn accepted_values() {
        let c = load(
            &["--port", "3000", "--body", "<h1>Hello, World!</h1>", "--content-type", "text/html", "--quiet",
              "--workers", "2", "--max-conns", "10", "--head-timeout", "2", "--idle-timeout", "3",
              "--body-timeout", "4", "--send-timeout", "5", "--grace", "6", "--max-body", "100"],
            &[], "").unwrap();
        assert_eq!((c.port, c.body, c.content_type, c.quiet), (3000, &b"<h1>Hello, World!</h1>"[..], &b"text/html"[..], true));
        assert_eq!((c.workers, c.max_conns, c.max_body), (2, 10, 100));
        assert_eq!((c.head_timeout, c.idle_timeout, c.body_timeout, c.send_timeout, c.grace), (2000, 3000, 4000, 5000, 6000));
        for (arg, want) in [
            ("127.0.0.1", Bind::V4([127, 0, 0, 1])),
            ("::1", Bind::V6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
            ("[::1]", Bind::V6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
            ("::", Bind::DualStack),
            ("[::]", Bind::DualStack),
        ] {
            assert_eq!(load(&["--bind", arg], &[], "").unwrap().bind, want, "{arg}");
        }
        let c = load(&["--root", "/srv/www", "--dotfiles", "--kv", "data", "--kv-max-value", "10", "--kv-prefix", "/store/"], &[], "").unwrap();
        assert_eq!((c.site.root, c.kv, c.site.dotfiles), (Some(&b"/srv/www"[..]), Some(&b"data"[..]), true));
        assert_eq!((c.kv_max_value, c.kv_prefix), (10, &b"/store/"[..]));
        // a comment after a space; a '#' inside a value stays; CRLF lines
        let c = load(&[], &[], "port 81 # http\r\nheader /x X-Tag: a#b\r\n").unwrap();
        assert_eq!(c.port, 81);
        assert_eq!(c.rules[0].raw, b"/x X-Tag: a#b");
    }

    #[test]
    fn listen_lines() {
        use crate::server::config::{Listen, ListenAt};
        let l = |v: &'static str| listen_line(v.as_bytes());
        let at = |v: &'static str| l(v).map(|l| (l.at, l.tls, l.proxy, l.mode, l.uid, l.gid));
        let rows: &[(&str, Result<(ListenAt<'static>, bool, bool, Option<u32>, Option<u32>, Option<u32>), &str>)] = &[
            ("[::]:8080", Ok((ListenAt::Tcp(Bind::DualStack, 8080), false, false, None, None, None))),
            ("8080", Ok((ListenAt::Tcp(Bind::DualStack, 8080), false, false, None, None, None))),
            ("127.0.0.1:9000", Ok((ListenAt::Tcp(Bind::V4([127, 0, 0, 1]), 9000), false, false, None, None, None))),
            ("[::1]:8443 tls", Ok((ListenAt::Tcp(Bind::V6(core::net::Ipv6Addr::LOCALHOST.octets()), 8443), true, false, None, None, None))),
            ("0.0.0.0:80 proxy tls", Ok((ListenAt::Tcp(Bind::V4([0; 4]), 80), true, true, None, None, None))),
            ("unix:/run/d.sock mode=0660 user=0 group=33", Ok((ListenAt::Unix(b"/run/d.sock"), false, false, Some(0o660), Some(0), Some(33)))),
            ("unix:/run/d.sock proxy", Ok((ListenAt::Unix(b"/run/d.sock"), false, true, None, None, None))),
            ("unix:run/d.sock", Err("a socket file is unix:/absolute/path, at most 107 bytes")),
            ("[::1]:0", Err("takes [::]:8080, 127.0.0.1:8080, [::1]:8443, a port, or unix:/path")),
            ("::1:8080", Err("takes [::]:8080, 127.0.0.1:8080, [::1]:8443, a port, or unix:/path")),
            ("localhost:80", Err("takes [::]:8080, 127.0.0.1:8080, [::1]:8443, a port, or unix:/path")),
            ("8080 mode=0660", Err("after the address: tls, proxy, and for unix: mode=, user=, group=")),
            ("unix:/x mode=0999", Err("mode= takes octal permissions such as 0660")),
            ("unix:/x user=www", Err("user= and group= take numeric ids")),
            ("8080 http2", Err("after the address: tls, proxy, and for unix: mode=, user=, group=")),
        ];
        for (v, want) in rows {
            assert_eq!(at(v), *want, "{v}");
        }
        assert_eq!(Listen { raw: b"", ..l("8080").unwrap() }, Listen { at: ListenAt::Tcp(Bind::DualStack, 8080), ..Listen::EMPTY });
        let long = format!("unix:/{}", "x".repeat(107));
        assert!(listen_line(leak(&long)).is_err());
    }

    #[test]
    fn listen_replaces_bind_port_and_tls_port() {
        use crate::server::config::ListenAt;
        let c = load(&[], &[], "listen [::]:8080\nlisten unix:/run/d.sock\n").unwrap();
        let at: Vec<_> = c.listeners().map(|l| l.at).collect();
        assert_eq!(at, [ListenAt::Tcp(Bind::DualStack, 8080), ListenAt::Unix(b"/run/d.sock")]);
        // the short form as a list
        let c = load(&["--port", "81", "--tls-cert", "a", "--tls-key", "b"], &[], "").unwrap();
        let l: Vec<_> = c.listeners().map(|l| (l.at, l.tls)).collect();
        assert_eq!(l, [(ListenAt::Tcp(Bind::DualStack, 81), false), (ListenAt::Tcp(Bind::DualStack, 8443), true)]);
        // flags replace the file's list; $PORT does not get in the way
        let c = load(&["--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2"], &[("PORT", "5")], "listen 9").unwrap();
        assert_eq!(c.listeners().count(), 2);
        // https-redirect goes to the first tls listener's port
        let c = load(&["--tls-cert", "a", "--tls-key", "b", "--listen", "80", "--listen", "[::1]:444 tls"], &[], "").unwrap();
        assert_eq!(c.tls_port, 444);
        let rows: &[(&[&str], &str, &str)] = &[
            (&["--listen", "80", "--port", "81"], "", "listen replaces bind, port and tls-port: give one or the other"),
            (&["--bind", "::1"], "listen 80", "listen replaces bind, port and tls-port: give one or the other"),
            (&["--listen", "80 tls"], "", "a listen with tls needs tls-cert and tls-key"),
            (&["--listen", "80", "--tls-cert", "a", "--tls-key", "b"], "", "tls-cert is set but no listen line has tls"),
        ];
        for &(args, file, why) in rows {
            assert_eq!(load(args, &[], file).unwrap_err().why, why, "{args:?}");
        }
        let nine: Vec<String> = (1..=9).flat_map(|p| ["--listen".to_string(), p.to_string()]).collect();
        let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
        assert_eq!(load(&nine, &[], "").unwrap_err().why, "at most 8 listen lines");
    }

    #[test]
    fn client_address_settings() {
        use crate::server::config::RealIp;
        let c = load(&["--trusted-proxy", "10.0.0.0/8, ::1"], &[("DRIFTD_REAL_IP_HEADER", "Forwarded")], "max-conns-per-client 0").unwrap();
        assert_eq!((c.trusted_proxy, c.real_ip, c.max_conns_per_client), (Some(&b"10.0.0.0/8, ::1"[..]), RealIp::Forwarded, 0));
        assert_eq!(load(&[], &[], "").unwrap().max_conns_per_client, 256);
        assert_eq!(load(&["--trusted-proxy", "10.0.0.1/8"], &[], "").unwrap_err().why, "bits are set past the prefix length: write the network (10.0.0.0/8)");
        assert_eq!(load(&["--real-ip-header", "x-real-ip"], &[], "").unwrap_err().why, "must be x-forwarded-for or forwarded");
    }

    #[test]
    fn check_config_shows_each_value_and_its_source() {
        let mut ld = Loader::new(room());
        ld.flags([&b"--port"[..], b"9000"].into_iter()).unwrap();
        ld.env(|n| (n == b"DRIFTD_WORKERS").then_some(&b"2"[..])).unwrap();
        ld.file(b"root /srv\nsite a.example {\n  list\n  header /** X-A: 1\n}\n").unwrap();
        let c = ld.finish().unwrap();
        let mut out = Vec::new();
        ld.describe(&c, b"d.conf", &mut |l| out.extend_from_slice(l));
        let out = String::from_utf8(out).unwrap();
        for want in ["port 9000  # flag --port\n", "workers 2  # environment DRIFTD_WORKERS\n", "root /srv  # d.conf:1\n",
                     "grace 10  # default\n", "site a.example {  # d.conf:2\n", "  list on  # d.conf:2\n",
                     "  header /** X-A: 1  # d.conf:4\n", "}  # d.conf:2\n"] {
            assert!(out.contains(want), "{want:?} in\n{out}");
        }
    }
}
