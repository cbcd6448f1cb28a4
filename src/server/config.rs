//! driftd's command line: flags in, a `Config` out, or the one-line reason
//! it was refused. Pure: no syscalls, so every row is host-tested.
use crate::fmt::parse_u32;

/// Where to listen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bind {
    /// `[::]` with IPV6_V6ONLY off: IPv4 and IPv6 (falls back to 0.0.0.0
    /// on hosts without IPv6).
    DualStack,
    V6([u8; 16]),
    V4([u8; 4]),
}

/// Everything driftd is told. Times are milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config<'a> {
    pub bind: Bind,
    pub port: u16,
    /// 0: one per CPU this process may run on, within the cgroup CPU quota.
    pub workers: usize,
    /// Connections per worker, at most `MAX_CONNS`; 0: as many as the
    /// descriptor limit allows, less a reserve (worked out at start).
    pub max_conns: usize,
    pub head_timeout: u64,
    pub idle_timeout: u64,
    pub body_timeout: u64,
    pub send_timeout: u64,
    pub grace: u64,
    pub max_head: usize,
    pub max_body: u64,
    pub body: &'a [u8],
    pub content_type: &'a [u8],
    pub quiet: bool,
    /// `--root DIR`: serve the files under DIR instead of `body`.
    pub root: Option<&'a [u8]>,
    /// `--dotfiles`: serve names starting with `.` under the root.
    pub dotfiles: bool,
    /// `--kv DIR`: the key-value store's directory.
    pub kv: Option<&'a [u8]>,
    /// Largest stored value, in bytes.
    pub kv_max_value: u64,
    /// Where the store lives when a root is served too: `/name/`.
    pub kv_prefix: &'a [u8],
    /// Files the open-file cache remembers per worker (0: no cache).
    pub file_cache: usize,
    /// Bytes of small files the cache keeps in memory per worker.
    pub file_cache_mem: usize,
    /// Connections a worker serves at once with a request in hand (each
    /// holds a buffer block); past it, 503. Set at start: `max_conns`, or
    /// less under a cgroup memory limit (`memory_plan`).
    pub max_busy: usize,
    /// `--tls-cert FILE` / `--tls-key FILE`, paired in the order given;
    /// the first pair is the default certificate (SNI picks among them).
    pub tls_certs: [&'a [u8]; MAX_CERTS],
    pub tls_keys: [&'a [u8]; MAX_CERTS],
    pub tls_pairs: usize,
    /// `--tls-port`: where HTTPS listens when a certificate is given.
    pub tls_port: u16,
    /// `--https-redirect`: the plain port answers 308 to the https URL.
    pub https_redirect: bool,
    /// `--hsts SECONDS`: Strict-Transport-Security on https responses (0: none).
    pub hsts: u32,
}

/// Certificates one server may hold (names chosen by SNI).
pub const MAX_CERTS: usize = 8;

pub const DEFAULT_BODY: &[u8] = crate::mirror::BODY.as_bytes();
/// The largest `--body`: it is sent from each connection's output buffer.
pub const MAX_FIXED_BODY: usize = 2048;
/// The most connections `--max-conns` may ask one worker to hold: the
/// kernel's default `fs.nr_open`, the most descriptors a process can have.
pub const MAX_CONNS: usize = 1 << 20;
/// Descriptors a worker keeps for things other than clients: stdio, the
/// listener, epoll, the signalfd, the spare, the served directories.
pub const FD_RESERVE: u64 = 32;

/// The most descriptors one open-file cache entry holds: the file and its
/// three precompressed siblings.
pub const DESCRIPTORS_PER_CACHED_FILE: u64 = 4;

/// Connections per worker: `max_conns` if it was given, else what the
/// descriptor limit allows less the reserve. A connection to the file
/// server or the store may hold a second descriptor (the file it sends or
/// writes), so with content each counts twice, as nginx's advice to give
/// `worker_rlimit_nofile` twice `worker_connections` has it.
pub fn capacity(max_conns: usize, fd_limit: u64, content: bool, cached_files: usize) -> usize {
    if max_conns != 0 {
        return max_conns;
    }
    // A cached file holds its descriptor, and those of its `.br`, `.zst`
    // and `.gz` siblings.
    let reserve = FD_RESERVE + DESCRIPTORS_PER_CACHED_FILE * cached_files as u64;
    let room = fd_limit.saturating_sub(reserve.min(fd_limit / 2));
    let per = if content { room / 2 } else { room };
    (per.min(MAX_CONNS as u64) as usize).max(1)
}

/// What one connection costs a worker's tables, for planning: its record,
/// its free-list entry and its timer link, rounded up.
pub const RECORD_BYTES: u64 = 256;
/// What one open connection costs the kernel, charged to the same cgroup:
/// the socket, its file and epoll entry, and (cgroup v2) its buffers when
/// nearly empty. Measured about 1.7 KiB an idle connection on v1; rounded
/// up for v2 and a little data in flight.
pub const KERNEL_CONN_BYTES: u64 = 4096;
/// Buffer blocks a worker has however small its memory share.
pub const MIN_BUSY: usize = 16;

/// How a worker fits in a cgroup memory limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryPlan {
    pub max_conns: usize,
    pub max_busy: usize,
    pub file_cache_mem: usize,
}

/// Sizes the workers to fit under a memory limit of `limit` bytes, shared
/// equally by the workers. Half of a worker's share is the kernel's: its
/// sockets (`KERNEL_CONN_BYTES` a connection) and the page cache are
/// charged to the same cgroup. That half bounds the connections (an
/// explicit `--max-conns` is kept as asked); their records come out of the
/// other half, which is 16 times as much as they need. Then the file cache
/// gets at most a quarter, and buffer blocks of `block` bytes what is left:
/// that many connections can have a request in hand at once, and the next
/// is answered 503, instead of the kernel killing the worker mid-flood.
///
/// With HTTPS, `conn_heap` is what a connection keeps on the heap (its
/// TLS state) and `block` includes its record buffers; the records and
/// heaps of all connections then take at most half the user half.
pub fn memory_plan(limit: u64, workers: usize, cfg: &Config, explicit_conns: bool, block: usize, conn_heap: u64) -> MemoryPlan {
    let share = limit / 2 / workers.max(1) as u64;
    let per_conn = RECORD_BYTES + conn_heap;
    let fits = (share / KERNEL_CONN_BYTES).min(share / 2 / per_conn) as usize;
    let max_conns = if explicit_conns { cfg.max_conns } else { cfg.max_conns.min(fits).max(1) };
    let cached = cfg.root.is_some() && cfg.file_cache != 0;
    let file_cache_mem = if cached { cfg.file_cache_mem.min((share / 4) as usize) } else { cfg.file_cache_mem };
    let cache = if cached { file_cache_mem as u64 } else { 0 };
    let rest = share.saturating_sub(max_conns as u64 * per_conn + cache);
    let max_busy = ((rest / block.max(1) as u64) as usize).max(MIN_BUSY).min(max_conns);
    MemoryPlan { max_conns, max_busy, file_cache_mem }
}

/// The request-head limit, also each connection's input buffer.
pub use crate::http::request::MAX_HEAD;

impl Default for Config<'_> {
    fn default() -> Self {
        Config {
            bind: Bind::DualStack,
            port: 8080,
            workers: 0,
            max_conns: 0,
            head_timeout: 10_000,
            idle_timeout: 15_000,
            body_timeout: 10_000,
            send_timeout: 10_000,
            grace: 10_000,
            max_head: MAX_HEAD,
            max_body: 1 << 20,
            body: DEFAULT_BODY,
            content_type: b"text/plain",
            quiet: false,
            root: None,
            dotfiles: false,
            kv: None,
            kv_max_value: 1 << 20,
            kv_prefix: b"/kv/",
            file_cache: 1024,       // nginx's examples use open_file_cache max=1000
            file_cache_mem: 16 << 20,
            max_busy: 0,
            tls_certs: [b""; MAX_CERTS],
            tls_keys: [b""; MAX_CERTS],
            tls_pairs: 0,
            tls_port: 8443,
            https_redirect: false,
            hsts: 0,
        }
    }
}

/// What the command line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    Serve(Config<'a>),
    Help,
    Version,
    /// Refused: `(what is wrong, the argument)`; exit 2.
    Usage(&'static str, &'a [u8]),
}


/// Every flag, as the table [`parse`] looks names up in: one loop over a
/// table is a fraction of the code a `match` on byte strings compiles to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Opt {
    Help,
    Version,
    Quiet,
    Dotfiles,
    Bind,
    Body,
    ContentType,
    Root,
    Kv,
    KvPrefix,
    TlsCert,
    TlsKey,
    HttpsRedirect,
    /// A number: `(field, smallest, largest, refusal)` from [`NUMBERS`].
    Number(Num),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Num {
    Port,
    Workers,
    MaxConns,
    MaxBody,
    KvMaxValue,
    FileCache,
    FileCacheMem,
    HeadTimeout,
    IdleTimeout,
    BodyTimeout,
    SendTimeout,
    Grace,
    TlsPort,
    Hsts,
}

const OPTS: &[(&str, Opt)] = &[
    ("--help", Opt::Help),
    ("-h", Opt::Help),
    ("--version", Opt::Version),
    ("-V", Opt::Version),
    ("--quiet", Opt::Quiet),
    ("-q", Opt::Quiet),
    ("--dotfiles", Opt::Dotfiles),
    ("--bind", Opt::Bind),
    ("--body", Opt::Body),
    ("--content-type", Opt::ContentType),
    ("--root", Opt::Root),
    ("--kv", Opt::Kv),
    ("--kv-prefix", Opt::KvPrefix),
    ("--port", Opt::Number(Num::Port)),
    ("-p", Opt::Number(Num::Port)),
    ("--workers", Opt::Number(Num::Workers)),
    ("-w", Opt::Number(Num::Workers)),
    ("--max-conns", Opt::Number(Num::MaxConns)),
    ("--max-body", Opt::Number(Num::MaxBody)),
    ("--kv-max-value", Opt::Number(Num::KvMaxValue)),
    ("--file-cache", Opt::Number(Num::FileCache)),
    ("--file-cache-mem", Opt::Number(Num::FileCacheMem)),
    ("--head-timeout", Opt::Number(Num::HeadTimeout)),
    ("--idle-timeout", Opt::Number(Num::IdleTimeout)),
    ("--body-timeout", Opt::Number(Num::BodyTimeout)),
    ("--send-timeout", Opt::Number(Num::SendTimeout)),
    ("--grace", Opt::Number(Num::Grace)),
    ("--tls-cert", Opt::TlsCert),
    ("--tls-key", Opt::TlsKey),
    ("--tls-port", Opt::Number(Num::TlsPort)),
    ("--https-redirect", Opt::HttpsRedirect),
    ("--hsts", Opt::Number(Num::Hsts)),
];

/// The range of each number, and what a value outside it is told.
fn range(n: Num) -> (u32, u32, &'static str) {
    match n {
        Num::Port => (1, 65535, "--port must be 1-65535"),
        Num::Workers => (1, 256, "--workers must be 1-256"),
        Num::MaxConns => (1, MAX_CONNS as u32, "--max-conns must be 1-1048576"),
        Num::MaxBody => (0, 999_999_999, "--max-body must be 0-999999999"),
        Num::KvMaxValue => (0, 999_999_999, "--kv-max-value must be 0-999999999"),
        Num::FileCache => (0, 1_000_000, "--file-cache must be 0-1000000"),
        Num::FileCacheMem => (0, 999_999_999, "--file-cache-mem must be 0-999999999"),
        Num::TlsPort => (1, 65535, "--tls-port must be 1-65535"),
        Num::Hsts => (0, 999_999_999, "--hsts must be 0-999999999 seconds"),
        _ => (1, 86_400, "timeouts are whole seconds, 1-86400"),
    }
}

/// Parses `args` (without the program name); `env_port` is `$PORT`.
pub fn parse<'a>(mut args: impl Iterator<Item = &'a [u8]>, env_port: Option<&[u8]>) -> Command<'a> {
    let mut c = Config::default();
    if let Some(p) = env_port {
        match parse_u32(p) {
            Some(n @ 1..=65535) => c.port = n as u16,
            _ => return Command::Usage("PORT must be 1-65535", b""),
        }
    }
    while let Some(flag) = args.next() {
        let Some(&(_, opt)) = OPTS.iter().find(|(name, _)| name.as_bytes() == flag) else {
            return Command::Usage("unknown argument", flag);
        };
        match opt {
            Opt::Help => return Command::Help,
            Opt::Version => return Command::Version,
            Opt::Quiet => {
                c.quiet = true;
                continue;
            }
            Opt::Dotfiles => {
                c.dotfiles = true;
                continue;
            }
            Opt::HttpsRedirect => {
                c.https_redirect = true;
                continue;
            }
            _ => {}
        }
        let Some(v) = args.next() else { return Command::Usage("a value is missing after", flag) };
        match opt {
            Opt::Number(n) => {
                let (min, max, refusal) = range(n);
                let Some(x) = parse_u32(v).filter(|x| (min..=max).contains(x)) else {
                    return Command::Usage(refusal, v);
                };
                let ms = u64::from(x) * 1000;
                match n {
                    Num::Port => c.port = x as u16,
                    Num::Workers => c.workers = x as usize,
                    Num::MaxConns => c.max_conns = x as usize,
                    Num::MaxBody => c.max_body = u64::from(x),
                    Num::KvMaxValue => c.kv_max_value = u64::from(x),
                    Num::FileCache => c.file_cache = x as usize,
                    Num::FileCacheMem => c.file_cache_mem = x as usize,
                    Num::HeadTimeout => c.head_timeout = ms,
                    Num::IdleTimeout => c.idle_timeout = ms,
                    Num::BodyTimeout => c.body_timeout = ms,
                    Num::SendTimeout => c.send_timeout = ms,
                    Num::Grace => c.grace = ms,
                    Num::TlsPort => c.tls_port = x as u16,
                    Num::Hsts => c.hsts = x,
                }
            }
            Opt::Bind => {
                let v6 = v.strip_prefix(b"[").and_then(|r| r.strip_suffix(b"]")).unwrap_or(v);
                c.bind = if let Some(ip) = crate::content::url::parse_ipv4(v) {
                    Bind::V4(ip)
                } else if let Some(ip) = crate::content::url::parse_ipv6(v6) {
                    if ip == [0; 16] { Bind::DualStack } else { Bind::V6(ip) }
                } else {
                    return Command::Usage("--bind takes an IPv4 or IPv6 address", v);
                };
            }
            Opt::Body if v.len() <= MAX_FIXED_BODY => c.body = v,
            Opt::Body => return Command::Usage("--body is at most 2048 bytes", &v[..16]),
            Opt::ContentType if !v.is_empty() && v.len() <= 128 && v.iter().all(|&b| (0x20..0x7f).contains(&b)) => {
                c.content_type = v
            }
            Opt::ContentType => return Command::Usage("--content-type must be 1-128 printable ASCII bytes", v),
            Opt::Root | Opt::Kv if v.is_empty() || v.len() >= 1024 => {
                return Command::Usage("--root and --kv take a directory (under 1024 bytes)", flag);
            }
            Opt::Root => c.root = Some(v),
            Opt::Kv => c.kv = Some(v),
            Opt::KvPrefix
                if v.len() >= 3
                    && v.len() <= 64
                    && v.starts_with(b"/")
                    && v.ends_with(b"/")
                    && v.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.')) =>
            {
                c.kv_prefix = v
            }
            Opt::KvPrefix => return Command::Usage("--kv-prefix must look like /name/", v),
            Opt::TlsCert | Opt::TlsKey if v.is_empty() || v.len() >= 1024 => {
                return Command::Usage("--tls-cert and --tls-key take a file (under 1024 bytes)", flag);
            }
            Opt::TlsCert | Opt::TlsKey => {
                let list = if opt == Opt::TlsCert { &mut c.tls_certs } else { &mut c.tls_keys };
                let Some(slot) = list.iter_mut().find(|p| p.is_empty()) else {
                    return Command::Usage("at most 8 certificates", flag);
                };
                *slot = v;
            }
            _ => {}
        }
    }
    let certs = c.tls_certs.iter().filter(|p| !p.is_empty()).count();
    if certs != c.tls_keys.iter().filter(|p| !p.is_empty()).count() {
        return Command::Usage("each --tls-cert needs its --tls-key, in the same order", b"");
    }
    c.tls_pairs = certs;
    if certs == 0 && (c.https_redirect || c.hsts != 0) {
        return Command::Usage("--https-redirect and --hsts need --tls-cert and --tls-key", b"");
    }
    if certs > 0 && c.tls_port == c.port {
        return Command::Usage("--tls-port must differ from --port", b"");
    }
    Command::Serve(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&'static str], env: Option<&'static str>) -> Command<'static> {
        parse(args.iter().map(|a| a.as_bytes()), env.map(str::as_bytes))
    }

    #[test]
    fn memory_plan_rows() {
        const K: usize = 32 << 10; // a block
        let plain = Config { max_conns: 19_968, ..Config::default() };
        let files = Config { max_conns: 9_000, root: Some(b"/srv"), file_cache: 1024, ..Config::default() };
        // (limit, workers, config, explicit --max-conns) -> (conns, busy, cache bytes)
        let rows: [(u64, usize, &Config, bool, (usize, usize, usize)); 6] = [
            // 64 MiB, one worker: a 32 MiB share holds the sockets of 8,192
            // connections; their records take 2 MiB of the other 32, blocks the rest
            (64 << 20, 1, &plain, false, (8_192, 960, 16 << 20)),
            // two workers halve it
            (64 << 20, 2, &plain, false, (4_096, 480, 16 << 20)),
            (16 << 20, 1, &plain, false, (2_048, 240, 16 << 20)),
            // an explicit --max-conns is kept; blocks never fall under MIN_BUSY
            (8 << 20, 1, &plain, true, (19_968, MIN_BUSY, 16 << 20)),
            // with files the cache takes at most a quarter of the share
            (64 << 20, 1, &files, false, (8_192, 704, 8 << 20)),
            // plenty of memory: the descriptor limit binds, and blocks are capped by connections
            (64 << 30, 1, &plain, false, (19_968, 19_968, 16 << 20)),
        ];
        for (limit, workers, cfg, explicit, want) in rows {
            let p = memory_plan(limit, workers, cfg, explicit, K, 0);
            assert_eq!((p.max_conns, p.max_busy, p.file_cache_mem), want, "{limit} bytes, {workers} workers");
        }
    }

    #[test]
    fn capacity_follows_the_descriptor_limit() {
        assert_eq!(capacity(0, 20_000, false, 0), 19_968);
        assert_eq!(capacity(0, 20_000, true, 0), 9_984);
        assert_eq!(capacity(0, 20_000, true, 1024), 7_936); // (20,000 - 32 - 4 * 1,024) / 2
        assert_eq!(capacity(0, 20_000, false, 1024), 15_872);
        assert_eq!(capacity(0, 20_000, true, 2500), 5_000); // the reserve stops at half the limit
        assert_eq!(capacity(0, 1024, true, 64), 368); // the most entries a 1,024 limit allows: (1024 - 32 - 4 * 64) / 2
        assert_eq!(capacity(0, 1024, false, 0), 992);
        assert_eq!(capacity(0, 64, false, 0), 32);
        assert_eq!(capacity(0, 8, false, 0), 4);
        assert_eq!(capacity(0, 0, false, 0), 1);
        assert_eq!(capacity(0, u64::MAX, false, 0), MAX_CONNS);
        assert_eq!(capacity(500, 64, false, 0), 500); // asked for: kept, and 503/EMFILE handle the rest
    }

    #[test]
    fn defaults() {
        let Command::Serve(c) = run(&[], None) else { panic!() };
        assert_eq!(c, Config::default());
        assert_eq!((c.port, c.head_timeout, c.idle_timeout, c.grace), (8080, 10_000, 15_000, 10_000));
        assert_eq!(c.bind, Bind::DualStack);
    }

    #[test]
    fn accepted_rows() {
        let Command::Serve(c) = run(
            &["--port", "3000", "--body", "<h1>Hello, World!</h1>", "--content-type", "text/html", "--quiet",
              "--workers", "2", "--max-conns", "10", "--head-timeout", "2", "--idle-timeout", "3",
              "--body-timeout", "4", "--send-timeout", "5", "--grace", "6", "--max-body", "100"],
            Some("9000"),
        ) else {
            panic!()
        };
        assert_eq!(c.port, 3000);
        assert_eq!(c.body, b"<h1>Hello, World!</h1>");
        assert_eq!(c.content_type, b"text/html");
        assert!(c.quiet);
        assert_eq!((c.workers, c.max_conns, c.max_body), (2, 10, 100));
        assert_eq!((c.head_timeout, c.idle_timeout, c.body_timeout, c.send_timeout, c.grace), (2000, 3000, 4000, 5000, 6000));
        let Command::Serve(c) = run(&[], Some("9000")) else { panic!() };
        assert_eq!(c.port, 9000);
        let Command::Serve(c) = run(&["--max-conns", "1048576"], None) else { panic!() };
        assert_eq!(c.max_conns, 1 << 20);
        for (arg, want) in [
            ("127.0.0.1", Bind::V4([127, 0, 0, 1])),
            ("::1", Bind::V6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
            ("[::1]", Bind::V6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
            ("::", Bind::DualStack),
            ("[::]", Bind::DualStack),
        ] {
            let Command::Serve(c) = run(&["--bind", arg], None) else { panic!("{arg}") };
            assert_eq!(c.bind, want, "{arg}");
        }
        let Command::Serve(c) = run(
            &["--root", "/srv/www", "--dotfiles", "--kv", "data", "--kv-max-value", "10", "--kv-prefix", "/store/"],
            None,
        ) else {
            panic!()
        };
        assert_eq!((c.root, c.kv), (Some(&b"/srv/www"[..]), Some(&b"data"[..])));
        assert_eq!((c.dotfiles, c.kv_max_value, c.kv_prefix), (true, 10, &b"/store/"[..]));
        assert_eq!(run(&["--help"], None), Command::Help);
        assert_eq!(run(&["--version"], None), Command::Version);
    }

    #[test]
    fn rejected_rows() {
        let rows: &[(&[&'static str], Option<&'static str>)] = &[
            (&["--port"], None),
            (&["--port", "0"], None),
            (&["--port", "65536"], None),
            (&["--port", "http"], None),
            (&["--workers", "0"], None),
            (&["--workers", "x"], None),
            (&["--max-conns", "1048577"], None),
            (&["--max-conns", "0"], None),
            (&["--head-timeout", "0"], None),
            (&["--grace", "-1"], None),
            (&["--bind", "localhost"], None),
            (&["--bind", "1.2.3"], None),
            (&["--bind"], None),
            (&["--content-type", "text/html\r\nX: y"], None),
            (&["--content-type", ""], None),
            (&["--body"], None),
            (&["--frobnicate"], None),
            (&["--root"], None),
            (&["--root", ""], None),
            (&["--kv"], None),
            (&["--kv-max-value", "-1"], None),
            (&["--kv-prefix", "kv"], None),
            (&["--kv-prefix", "/"], None),
            (&["--kv-prefix", "/kv"], None),
            (&["--kv-prefix", "/a b/"], None),
            (&["8080"], None),
            (&[], Some("0")),
            (&[], Some("abc")),
        ];
        for (args, env) in rows {
            assert!(matches!(run(args, *env), Command::Usage(..)), "{args:?} {env:?}");
        }
        let long: &'static str = Box::leak("x".repeat(MAX_FIXED_BODY + 1).into_boxed_str());
        assert!(matches!(run(&["--body", long], None), Command::Usage(..)));
    }
}
