//! driftd's command line: flags in, a `Config` out, or the one-line reason
//! it was refused. Pure: no syscalls, so every row is host-tested.

/// An access-log line's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// NCSA Common Log Format (with the site first when there are sites).
    Common,
    /// Common, then `"Referer" "User-Agent"` (Apache's and nginx's combined).
    Combined,
    /// One JSON object a line.
    Json,
}

/// Where to listen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bind {
    /// `[::]` with IPV6_V6ONLY off: IPv4 and IPv6 (falls back to 0.0.0.0
    /// on hosts without IPv6).
    DualStack,
    V6([u8; 16]),
    V4([u8; 4]),
}

/// The most `listen` lines: a few addresses, a socket file, HTTPS beside
/// each; more is a sign of a mistake, and the worker's tables are fixed.
pub const MAX_LISTEN: usize = 8;

/// One `listen` line: where, and what arrives there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listen<'a> {
    pub at: ListenAt<'a>,
    /// Connections speak TLS (a certificate must be set).
    pub tls: bool,
    /// Connections start with a PROXY protocol header (v1 or v2).
    pub proxy: bool,
    /// A socket file's permissions (`mode=0660`); None: as the umask leaves them.
    pub mode: Option<u32>,
    /// A socket file's owner and group (`user=`, `group=`, numeric ids).
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// The line as written, for `--check-config`.
    pub raw: &'a [u8],
}

/// A TCP address and port, or a Unix socket file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenAt<'a> {
    Tcp(Bind, u16),
    Unix(&'a [u8]),
}

impl Listen<'_> {
    pub const EMPTY: Listen<'static> = Listen { at: ListenAt::Tcp(Bind::DualStack, 0), tls: false, proxy: false, mode: None, uid: None, gid: None, raw: b"" };
}

/// Which header a trusted proxy writes the client's address in.
pub use crate::http::request::RealIp;

/// Everything driftd is told. Times are milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config<'a> {
    pub bind: Bind,
    pub port: u16,
    /// 0: one per CPU this process may run on, within the cgroup CPU quota.
    pub workers: usize,
    /// `user NAME|UID[:GROUP|GID]` as written: who the workers run as when
    /// driftd starts as root (resolved at start and at each reload).
    pub user: Option<&'a [u8]>,
    /// Started as root without `user`: the workers stay root (with a warning).
    pub allow_root: bool,
    /// Connections per worker, at most `MAX_CONNS`; 0: as many as the
    /// descriptor limit allows, less a reserve (worked out at start).
    pub max_conns: usize,
    pub head_timeout: u64,
    pub idle_timeout: u64,
    pub body_timeout: u64,
    pub send_timeout: u64,
    pub grace: u64,
    /// On SIGTERM/SIGINT, how long to go on serving (with `health`
    /// answering 503) before the listeners close, so that a load balancer
    /// stops sending first.
    pub drain_delay: u64,
    /// `health PATH`: 200 while serving, 503 once draining.
    pub health: Option<&'a [u8]>,
    /// Health checks go into the access log too.
    pub log_health: bool,
    /// `metrics PATH`: the Prometheus text of every worker's counts.
    pub metrics: Option<&'a [u8]>,
    /// The access log's line format.
    pub log_format: LogFormat,
    /// `access-log FILE`: where the access log goes (None: stdout).
    pub access_log: Option<&'a [u8]>,
    pub max_head: usize,
    pub max_body: u64,
    pub body: &'a [u8],
    pub content_type: &'a [u8],
    pub quiet: bool,
    /// The file the settings were read from, if any.
    pub config: Option<&'a [u8]>,
    /// `--check-config`: check, show, exit.
    pub check_only: bool,
    /// The settings outside any `site` block: the site that answers when
    /// there are no blocks, and what each block inherits.
    pub site: Site<'a>,
    /// The `site NAME... { }` blocks, in the order written.
    pub sites: &'a [Site<'a>],
    /// Every rule, grouped by site (`Site::rules` is each one's range).
    pub rules: &'a [Rule<'a>],
    /// A `Host` no site names gets 421 instead of the first site.
    pub strict_host: bool,
    /// `auth` rules are allowed on a plain-HTTP listener.
    pub auth_over_http: bool,
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
    /// `listen ADDR [tls] [proxy]` lines; when there are none, `bind`,
    /// `port` and `tls-port` say where (see [`Config::listeners`]).
    pub listen: [Listen<'a>; MAX_LISTEN],
    pub listen_count: usize,
    /// `trusted-proxy CIDR...` as written (checked at start).
    pub trusted_proxy: Option<&'a [u8]>,
    /// The header those proxies write the client's address in.
    pub real_ip: RealIp,
    /// Connections one client (an IPv4 address, an IPv6 /64) may hold at
    /// once in one worker; 0: no limit.
    pub max_conns_per_client: u32,
}

impl<'a> Config<'a> {
    /// Where driftd listens: the `listen` lines, or else `bind` with
    /// `port`, and `tls-port` for HTTPS when a certificate is set.
    pub fn listeners(&self) -> impl Iterator<Item = Listen<'a>> + '_ {
        let short = [
            Listen { at: ListenAt::Tcp(self.bind, self.port), ..Listen::EMPTY },
            Listen { at: ListenAt::Tcp(self.bind, self.tls_port), tls: true, ..Listen::EMPTY },
        ];
        let n = if self.tls_pairs > 0 { 2 } else { 1 };
        let (list, n) = if self.listen_count > 0 { (&self.listen[..], self.listen_count) } else { (&short[..], n) };
        let mut out = [Listen::EMPTY; MAX_LISTEN];
        out[..n].copy_from_slice(&list[..n]);
        out.into_iter().take(n)
    }

    /// Some site serves files.
    pub fn has_root(&self) -> bool {
        self.site.root.is_some() || self.sites.iter().any(|s| s.root.is_some())
    }
}

/// The statuses an `error-page` may give a body to.
pub const ERROR_CODES: [u16; 7] = [400, 401, 403, 404, 405, 500, 503];

/// One site: its names and what it serves how. The defaults (outside any
/// block) are a site without names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Site<'a> {
    /// `site NAME... {`: the names as written, space-separated.
    pub names: &'a [u8],
    pub root: Option<&'a [u8]>,
    /// Names starting with `.` are served.
    pub dotfiles: bool,
    /// A folder without `index.html` is listed.
    pub list: bool,
    /// `fallback /index.html`: what a navigation to a missing path gets.
    pub fallback: Option<&'a [u8]>,
    /// The body of each status in `ERROR_CODES`, a path under the root.
    pub error_pages: [Option<&'a [u8]>; ERROR_CODES.len()],
    /// `cors ORIGIN...`, checked once at start.
    pub cors: Option<crate::content::cors::Origins<'a>>,
    /// This site's rules: `Config::rules[from..to]`.
    pub rules: (u32, u32),
    /// The config line the block starts on (0: the defaults).
    pub line: u32,
    /// Which settings rows the block set itself (the rest are inherited).
    pub set: u64,
}

impl<'a> Site<'a> {
    /// Whether the block set settings row `name` itself.
    pub fn sets(&self, name: &str) -> bool {
        super::settings::SETTINGS.iter().position(|s| s.name == name).is_some_and(|i| self.set & (1 << i) != 0)
    }

    /// Takes from the defaults `d` every value this site did not set.
    pub fn inherit(&mut self, d: &Site<'a>) {
        let set = *self;
        let own = |name: &str| set.sets(name);
        if !own("root") {
            self.root = d.root;
        }
        if !own("dotfiles") {
            self.dotfiles = d.dotfiles;
        }
        if !own("list") {
            self.list = d.list;
        }
        if !own("fallback") {
            self.fallback = d.fallback;
        }
        if !own("cors") {
            self.cors = d.cors;
        }
        for (mine, theirs) in self.error_pages.iter_mut().zip(d.error_pages) {
            *mine = mine.or(theirs);
        }
    }
}

/// A rule from the config, checked at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule<'a> {
    pub kind: RuleKind<'a>,
    /// 0: the defaults' (every site's); n: the nth site block's.
    pub site: u16,
    /// The order it was given in.
    pub seq: u32,
    pub origin: super::settings::Origin,
    /// The value as written, for `--check-config`.
    pub raw: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKind<'a> {
    /// `header PATTERN Name: value` (value None: `-Name`, removed).
    Header { pat: &'a [u8], name: &'a [u8], value: Option<&'a [u8]> },
    /// `redirect FROM TO [CODE]`.
    Redirect(crate::content::redirect::Rule<'a>),
    /// `auth PATTERN FILE [REALM]`; `users` is the file's text, read at start.
    Auth { pat: &'a [u8], file: &'a [u8], realm: &'a [u8], users: &'a [u8] },
}

impl RuleKind<'_> {
    /// The settings row it comes from.
    pub fn setting(&self) -> &'static str {
        match self {
            RuleKind::Header { .. } => "header",
            RuleKind::Redirect(_) => "redirect",
            RuleKind::Auth { .. } => "auth",
        }
    }
}

impl Rule<'_> {
    /// A free slot in the room reserved for rules.
    pub const EMPTY: Rule<'static> = Rule {
        kind: RuleKind::Header { pat: b"", name: b"", value: None },
        site: 0,
        seq: 0,
        origin: super::settings::Origin::Default,
        raw: b"",
    };
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
    let cached = cfg.has_root() && cfg.file_cache != 0;
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
            user: None,
            allow_root: false,
            max_conns: 0,
            head_timeout: 10_000,
            idle_timeout: 15_000,
            body_timeout: 10_000,
            send_timeout: 10_000,
            grace: 10_000,
            drain_delay: 0,
            health: None,
            log_health: false,
            metrics: None,
            log_format: LogFormat::Common,
            access_log: None,
            max_head: MAX_HEAD,
            max_body: 1 << 20,
            body: DEFAULT_BODY,
            content_type: b"text/plain",
            quiet: false,
            config: None,
            check_only: false,
            site: Site::default(),
            sites: &[],
            rules: &[],
            strict_host: false,
            auth_over_http: false,
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
            listen: [Listen::EMPTY; MAX_LISTEN],
            listen_count: 0,
            trusted_proxy: None,
            real_ip: RealIp::XForwardedFor,
            // Browsers open 6 connections per host; many tabs, several
            // browsers behind one NAT, or a download manager go past 6 but
            // not past a few dozen. 256 is far beyond that and still stops
            // one address from holding a worker's whole table.
            max_conns_per_client: 256,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_plan_rows() {
        const K: usize = 32 << 10; // a block
        let plain = Config { max_conns: 19_968, ..Config::default() };
        let files = Config { max_conns: 9_000, site: Site { root: Some(b"/srv"), ..Site::default() }, file_cache: 1024, ..Config::default() };
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
}
