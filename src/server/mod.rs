//! driftd: the supervisor. It owns the listening socket, forks one worker
//! per CPU (within the cgroup's CPU quota), restarts a worker that dies,
//! and turns SIGTERM/SIGINT into a graceful stop. It serves no clients
//! itself.
mod cache;
pub mod config;
pub mod settings;
pub mod site;
mod stats;
pub mod rules;
mod conn;
mod listen;
pub mod cgroup;
pub mod files;
pub mod listing;
mod pool;
mod timers;
mod transport;
#[cfg(feature = "tls")]
mod tls;
pub mod worker;

use crate::fmt::Line;
use crate::sys::{Errno, OwnedFd, env::ProcEnv, epoll, fd, fs, io, process, signal, time};
use crate::diag::{report, say, tell};
use config::{Config, Rule, Site};
use settings::{Action, Loader, Refusal, Room};

/// The signals that stop driftd; blocked everywhere and read from signalfds.
pub const STOP_SIGNALS: signal::SigSet = signal::SigSet::of(&[signal::SIGTERM, signal::SIGINT]);
/// What a worker reads from its signalfd: a stop (SIGQUIT: at once, another
/// generation serves; SIGTERM/SIGINT: after `drain-delay`), or SIGHUP
/// (reload the certificates).
pub const WORKER_SIGNALS: signal::SigSet =
    signal::SigSet::of(&[signal::SIGTERM, signal::SIGINT, signal::SIGQUIT, signal::SIGHUP]);
const SUPERVISED: signal::SigSet =
    signal::SigSet::of(&[signal::SIGTERM, signal::SIGINT, signal::SIGQUIT, signal::SIGCHLD, signal::SIGHUP, signal::SIGUSR1, signal::SIGUSR2]);
/// Certificate files changed: reload once they have been quiet this long
/// (a renewal writes the chain and the key one after the other).
#[cfg(feature = "tls")]
const RELOAD_SETTLE_MS: u64 = 300;
/// Workers that die this many times in a row within a second of starting
/// mean something is wrong with every worker: stop instead of spinning.
const MAX_QUICK_DEATHS: u32 = 5;
const MAX_WORKERS: usize = 256;

pub use listen::Sockets;

/// The directories driftd serves from, opened once before the workers
/// start (so a bad path is reported at once, and a later rename of the
/// path cannot move what is served).
pub struct Dirs {
    pub root: Option<OwnedFd>,
    pub kv: Option<OwnedFd>,
    /// Each site block's root, where it differs from the defaults' (None:
    /// the same folder, and the same file-cache entries).
    pub sites: Option<crate::sys::mem::Slab<Option<OwnedFd>>>,
}

impl Dirs {
    /// The folder site `i` serves from when it is not the default root.
    pub fn site_root(&self, i: usize) -> Option<crate::sys::BorrowedFd<'_>> {
        self.sites.as_ref()?.get(i)?.as_ref().map(|d| d.as_fd())
    }
}

/// Opens a directory named by a setting, or says why it cannot.
fn open_dir(what: &[u8], dir: Option<&[u8]>) -> Result<Option<OwnedFd>, ()> {
    let Some(dir) = dir else { return Ok(None) };
    let mut p = [0u8; 1025]; // settings cap a path at 1023 bytes
    let opened = fs::path_in(&mut p, 0, dir).ok_or(Errno::ENAMETOOLONG);
    match opened.and_then(|p| fs::openat(fs::CWD, p, fs::O_RDONLY | fs::O_DIRECTORY, 0)) {
        Ok(d) => Ok(Some(d)),
        Err(e) => {
            report(what, dir, e);
            Err(())
        }
    }
}

/// Opens `--root` and `--kv`, removes the store's stale temporary files,
/// and checks the store can be written.
fn open_dirs(cfg: &Config) -> Result<Dirs, ()> {
    let mut dirs = Dirs { root: open_dir(b"open root", cfg.site.root)?, kv: open_dir(b"open kv", cfg.kv)?, sites: None };
    if !cfg.sites.is_empty() {
        let Ok(mut slab) = crate::sys::mem::Slab::new(cfg.sites.len()) else {
            report(b"mmap", b"(the sites' folders)", Errno::ENOMEM);
            return Err(());
        };
        for s in cfg.sites {
            let own = if s.root == cfg.site.root { None } else { open_dir(b"open root", s.root)? };
            let _ = slab.push(own);
        }
        dirs.sites = Some(slab);
    }
    if let (Some(kv), Some(path)) = (&dirs.kv, cfg.kv) {
        if let Err(e) = files::kv_clean(kv.as_fd()) {
            report(b"read --kv", path, e);
            return Err(());
        }
        // A store that cannot create files fails now, not at the first POST.
        if let Err(e) = files::kv_probe(kv.as_fd(), u64::from(process::pid() as u32)) {
            report(b"create a file in --kv", path, e);
            return Err(());
        }
    }
    Ok(dirs)
}

/// The largest config file read: 10,000 rules of a few dozen bytes each
/// fit many times over.
const MAX_CONFIG: usize = 16 << 20;

/// The settings from the flags, the environment and the config file, or
/// the exit status after saying what is wrong (`--help` and `--version`
/// exit 0 here too).
fn load(env: &ProcEnv) -> Result<Config<'static>, i32> {
    let args = || (1..env.arg_count()).filter_map(|i| env.arg(i));
    // The file is read first, so the room for its sites and rules can be
    // sized to it: one per line at most.
    let named = args().zip(args().skip(1)).filter(|(f, _)| *f == b"--config").map(|(_, v)| v).last();
    let path = named.or_else(|| env.var(b"DRIFTD_CONFIG"));
    let text = match path {
        Some(p) => match crate::sys::mem::read_forever(p, MAX_CONFIG) {
            Ok(t) => Some(t),
            Err(e) => {
                report(b"read config", p, e);
                return Err(2);
            }
        },
        None => None,
    };
    let lines = text.map_or(0, |t| t.iter().filter(|&&b| b == b'\n').count() + 1);
    // A variable of a rule row may hold a rule a line.
    let env_lines: usize = settings::SETTINGS
        .iter()
        .filter(|s| s.shape == settings::Shape::Many)
        .filter_map(|s| {
            let mut name = [0u8; 64];
            let n = settings::env_name(s.name.as_bytes(), &mut name);
            env.var(&name[..n])
        })
        .map(|v| v.iter().filter(|&&b| b == b'\n').count() + 1)
        .sum();
    let room = crate::sys::mem::forever(lines / 2 + 1, Site::default())
        .and_then(|sites| Ok(Room { sites, rules: crate::sys::mem::forever(2 * (lines + env.arg_count() + env_lines + 1), Rule::EMPTY)? }));
    let room = match room {
        Ok(r) => r,
        Err(e) => {
            report(b"mmap", b"(the settings' room)", e);
            return Err(1);
        }
    };
    let mut ld = Loader::new(room);
    let file = path.unwrap_or(b"");
    let refused = |r: Refusal<'_>| {
        let mut buf = [0u8; 1024];
        let _ = io::write_all(fd::STDERR, settings::refusal_line(&r, file, &mut buf));
        Err(2)
    };
    match ld.flags(args()) {
        Ok(Action::Serve) => {}
        Ok(Action::Help) => {
            settings::help(&mut |l| {
                let _ = io::write_all(fd::STDOUT, l);
            });
            return Err(0);
        }
        Ok(Action::Version) => {
            let _ = io::write_all(fd::STDOUT, concat!("driftd ", env!("CARGO_PKG_VERSION"), "\n").as_bytes());
            return Err(0);
        }
        Err(r) => return refused(r),
    }
    if let Err(r) = ld.env(|n| env.var(n)) {
        return refused(r);
    }
    if let Some(t) = text {
        if let Err(r) = ld.file(t) {
            return refused(r);
        }
    }
    let read_users = |p: &[u8]| match crate::sys::mem::read_forever(p, MAX_CONFIG) {
        Ok(t) => Some(t),
        Err(e) => {
            report(b"read users file", p, e);
            None
        }
    };
    if let Err(r) = ld.users(read_users) {
        return refused(r);
    }
    let cfg = match ld.finish() {
        Ok(c) => c,
        Err(r) => return refused(r),
    };
    if cfg.check_only {
        ld.describe(&cfg, file, &mut |l| {
            let _ = io::write_all(fd::STDOUT, l);
        });
    }
    Ok(cfg)
}

/// `--check-config`: the settings parsed (and shown); now what only the
/// machine can tell: the folders open, the certificates load.
fn check_config(cfg: &Config) -> i32 {
    let mut ok = cfg.sites.iter().chain([&cfg.site]).all(|s| open_dir(b"open root", s.root).is_ok());
    ok &= open_dir(b"open kv", cfg.kv).is_ok();
    ok &= workers_as(cfg, true).is_ok();
    #[cfg(feature = "tls")]
    if cfg.tls_pairs > 0 {
        ok &= tls::start(cfg).is_ok();
    }
    if ok {
        say(&[b"configuration OK"]);
        0
    } else {
        2
    }
}

/// driftd's whole life; returns the exit status.
pub fn main(env: ProcEnv) -> i32 {
    crate::sys::mem::set_page_size(env.aux(linux_raw_sys::auxvec::AT_PAGESZ as usize).unwrap_or(4096));
    let cfg = match load(&env) {
        Ok(c) => c,
        Err(status) => return status,
    };
    if cfg.check_only {
        return check_config(&cfg);
    }
    let _ = signal::ignore(signal::SIGPIPE);
    // Blocked before any fork, so no worker can miss a signal sent early.
    if let Err(e) = signal::mask(true, SUPERVISED) {
        report(b"rt_sigprocmask", b"", e);
        return 1;
    }
    if env.var(b"DRIFTD_NO_OPENAT2").is_some() {
        files::disable_openat2();
    }
    let host = Host {
        // One worker per CPU we may run on, but no more than the cgroup's
        // CPU quota allows (a container's `--cpus`, a pod's CPU limit).
        limits: if env.var(b"DRIFTD_NO_CGROUP").is_some() { cgroup::Limits::default() } else { cgroup::limits() },
        // Containers often start with a soft limit of 1,024 under a far
        // higher hard one: take the hard one, and size the tables to it.
        fd_limit: process::raise_fd_limit().unwrap_or(1024),
        env,
    };
    let mut g = match prepare(&host, cfg) {
        Ok(g) => g,
        Err(status) => return status,
    };
    match listen::given(&host.env, &g.cfg) {
        Ok(Some(s)) => g.sockets = Some(s),
        Ok(None) => match listen::bind_all(&g.cfg, None) {
            Ok(s) => g.sockets = Some(s),
            Err(()) => return 1,
        },
        Err(()) => return 2,
    }
    say_listening(b"listening on ", &g);
    supervise(&host, g)
}

/// What stays the same across reloads: the process's arguments and
/// environment, and what the host allows.
struct Host {
    env: ProcEnv,
    limits: cgroup::Limits,
    fd_limit: u64,
}

/// What one generation of workers runs with: the settings, the folders,
/// the listening sockets and the certificates. A reload makes a new one
/// while the old one's workers finish their requests.
struct Generation {
    cfg: Config<'static>,
    /// `user`, resolved: who the workers become (None: they stay who the
    /// supervisor is).
    as_user: Option<Ids>,
    /// Root workers by `allow-root`: said once as the generation starts.
    root_warning: bool,
    dirs: Dirs,
    sockets: Option<Sockets>,
    tls: TlsStart,
    workers: usize,
    /// `access-log FILE`, opened by the supervisor (so a worker that drops
    /// its privileges still writes it); None: stdout.
    log: Option<OwnedFd>,
}

/// Opens and sizes everything a generation needs but its sockets: the
/// folders, the worker count, the tables (to the descriptor and memory
/// limits), the certificates. Says what is wrong, and gives the exit status.
fn prepare(host: &Host, mut cfg: Config<'static>) -> Result<Generation, i32> {
    let (as_user, root_warning) = workers_as(&cfg, false)?;
    #[cfg(not(feature = "tls"))]
    if cfg.tls_pairs > 0 {
        say(&[b"--tls-cert: this driftd was built without TLS (cargo feature `tls`)"]);
        return Err(2);
    }
    let Ok(dirs) = open_dirs(&cfg) else { return Err(1) };
    let limits = &host.limits;
    let fd_limit = host.fd_limit;
    let workers = match cfg.workers {
        0 => process::cpu_count().min(limits.cpus.unwrap_or(usize::MAX)),
        n => n,
    }
    .min(MAX_WORKERS);
    // The cache's descriptors come out of the same limit: at most a
    // quarter, each entry counted with all the siblings it may hold.
    let most = fd_limit / 4 / config::DESCRIPTORS_PER_CACHED_FILE;
    cfg.file_cache = if cfg.has_root() { cfg.file_cache.min(most as usize) } else { 0 };
    let asked = cfg.max_conns;
    cfg.max_conns = config::capacity(asked, fd_limit, cfg.has_root() || cfg.kv.is_some(), cfg.file_cache);
    cfg.max_busy = cfg.max_conns;
    if asked as u64 + config::FD_RESERVE > fd_limit {
        let mut b = [0u8; 64];
        let mut lim = Line::new(&mut b);
        lim.push_grouped(fd_limit);
        say(&[b"--max-conns is more than the descriptor limit (", lim.as_bytes(), b") allows; past it clients get 503"]);
    }
    // Under a memory limit the kernel kills a worker that goes past it: size
    // the tables and buffers to fit, and say so.
    if let Some(limit) = limits.memory {
        // With HTTPS a busy connection borrows record buffers too, and every
        // connection keeps its TLS state on the heap.
        #[cfg(feature = "tls")]
        let (block, heap) = tls::plan_costs(&cfg);
        #[cfg(not(feature = "tls"))]
        let (block, heap) = (0, 0);
        let plan = config::memory_plan(limit, workers, &cfg, asked != 0, pool::block_size() + block, heap);
        (cfg.max_conns, cfg.max_busy, cfg.file_cache_mem) = (plan.max_conns, plan.max_busy, plan.file_cache_mem);
        let mut b = [0u8; 96];
        let mut l = Line::new(&mut b);
        l.push_grouped(limit >> 20).push(b" MiB: ").push_grouped(plan.max_busy as u64);
        l.push(b" requests in progress at once per worker, past that 503");
        say(&[b"memory limit ", l.as_bytes()]);
    }
    // HTTPS: certificates are loaded (and refused, with the reason) before
    // the TLS port is bound, and before the workers fork, so they share them.
    #[cfg(feature = "tls")]
    let tls = tls::start(&cfg)?;
    #[cfg(not(feature = "tls"))]
    let tls = ();
    let log = match cfg.access_log {
        Some(path) => Some(open_log(path).ok_or(1)?),
        None => None,
    };
    Ok(Generation { cfg, as_user, root_warning, dirs, sockets: None, tls, workers, log })
}

/// `access-log FILE` opened for appending (created 0640), or says why not.
fn open_log(path: &[u8]) -> Option<OwnedFd> {
    let mut p = [0u8; 1025];
    let opened = fs::path_in(&mut p, 0, path).ok_or(Errno::ENAMETOOLONG);
    match opened.and_then(|p| fs::openat(fs::CWD, p, fs::O_WRONLY | fs::O_APPEND | fs::O_CREAT | fs::O_CLOEXEC, 0o640)) {
        Ok(f) => Some(f),
        Err(e) => {
            report(b"open access-log", path, e);
            None
        }
    }
}

/// And its own pid, which the new one tells to drain once it serves.
const UPGRADED_FROM: &[u8] = b"DRIFTD_UPGRADE_FROM";

/// `listening on [::]:8080 (http) and [::]:8443 (https) with 2 workers, ...`:
/// the addresses the sockets are bound to (given ones included).
fn say_listening(what: &[u8], g: &Generation) {
    let Some(s) = g.sockets.as_ref() else { return };
    // Here, not in `prepare`: only once workers are about to serve.
    if g.root_warning {
        say(&[b"warning: workers run as root (allow-root)"]);
    }
    let mut nbuf = [0u8; 64];
    let mut n = Line::new(&mut nbuf);
    n.push_u32(g.workers as u32).push(if g.workers == 1 { b" worker, " } else { b" workers, " });
    n.push_grouped(g.cfg.max_conns as u64).push(b" connections each");
    let mut abuf = [0u8; 800];
    let mut a = Line::new(&mut abuf);
    listen::describe(s, &mut a);
    say(&[what, a.as_bytes(), b" with ", n.as_bytes()]);
}

/// What the workers are started with for HTTPS (nothing without the feature).
#[cfg(feature = "tls")]
type TlsStart = tls::Start;
#[cfg(not(feature = "tls"))]
type TlsStart = ();

/// SIGHUP, or certificate files changed: the supervisor loads the new
/// pair first (a failure is said once, and nothing changes), then tells
/// each worker to load it too. New handshakes use it; open connections keep
/// the one they began with.
#[cfg(feature = "tls")]
fn reload_certificates(cfg: &Config, tls: &mut TlsStart, pids: &[i32]) {
    if !tls.reload(cfg) {
        return;
    }
    for &pid in pids.iter().filter(|&&p| p > 0) {
        let _ = signal::kill(pid, signal::SIGHUP);
    }
}

/// A user and group id the workers switch to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ids {
    uid: u32,
    gid: u32,
}

/// The largest /etc/passwd or /etc/group read (a big directory's files are
/// a few MB; past that the lookup belongs to NSS, which driftd has not).
const MAX_ACCOUNTS: usize = 16 << 20;

/// Who the workers run as, from `user` (names looked up in /etc/passwd and
/// /etc/group, read again at each reload), and whether root workers are
/// to be warned of. A supervisor started as root needs `user`, or
/// `allow-root` to keep root workers on purpose. Says what is wrong, and
/// gives the exit status. `checking` (`--check-config`): the names are
/// looked up, but a config meant for root may be checked by anyone.
fn workers_as(cfg: &Config, checking: bool) -> Result<(Option<Ids>, bool), i32> {
    use crate::content::passwd::{self, Who};
    let euid = process::euid();
    let Some(v) = cfg.user else {
        return match (euid, cfg.allow_root) {
            (0, true) => Ok((None, true)),
            (0, false) => {
                say(&[b"running workers as root: set user NAME (or allow-root to mean it)"]);
                Err(2)
            }
            _ => Ok((None, false)),
        };
    };
    let spec = passwd::parse(v).map_err(|_| 2)?; // checked by its settings row
    let read = |path: &[u8]| {
        crate::sys::mem::read_forever(path, MAX_ACCOUNTS).map_err(|e| {
            tell(&[b"user ", v, b": read ", path], Some(e));
            2
        })
    };
    let missing = |what: &[u8]| {
        say(&[b"user ", v, what]);
        2
    };
    let (uid, primary) = match spec.user {
        // Without a group, a number's group is the same number (65534:
        // nogroup on Debian), as numbers need no file.
        Who::Id(id) => (id, id),
        Who::Name(name) => passwd::user(read(b"/etc/passwd")?, name).ok_or_else(|| missing(b": no such user in /etc/passwd"))?,
    };
    let gid = match spec.group {
        None => primary,
        Some(Who::Id(id)) => id,
        Some(Who::Name(name)) => passwd::group(read(b"/etc/group")?, name).ok_or_else(|| missing(b": no such group in /etc/group"))?,
    };
    let ids = Ids { uid, gid };
    if euid != 0 && !checking {
        if (uid, gid) == (euid, process::egid()) {
            return Ok((None, false)); // already them
        }
        say(&[b"user ", v, b": switching users needs root"]);
        return Err(2);
    }
    Ok((Some(ids), false))
}

/// In a worker just forked, before it serves anything: becomes `ids` for
/// good. The supplementary groups go first (root's would outlive the
/// switch), then the group, then the user: once the user is not root,
/// the groups can no longer be changed. Checked after; any failure ends
/// the worker with one line.
///
/// What the worker opened as root it keeps: the listening sockets, the
/// roots' and the store's directories (files under them must still be
/// readable, and the store's directory writable, by `ids`: the kernel
/// checks each file against the uid that opens it), the certificates the
/// supervisor loaded. What it can no longer do: bind a port below 1024 (a
/// worker never binds), read a file only root may (a root-only key is
/// therefore never re-read by a worker: see the certificate watch in
/// `supervise`), signal processes of other users, raise its hard limits,
/// or gain privileges again through execve (no_new_privs).
fn become_user(ids: Ids) {
    let switched = process::clear_groups()
        .map_err(|e| (&b"setgroups"[..], e))
        .and_then(|()| process::set_gids(ids.gid).map_err(|e| (&b"setresgid"[..], e)))
        .and_then(|()| process::set_uids(ids.uid).map_err(|e| (&b"setresuid"[..], e)))
        .and_then(|()| match (process::uid(), process::euid(), process::gid(), process::egid()) {
            ids_now if ids_now == (ids.uid, ids.uid, ids.gid, ids.gid) => Ok(()),
            _ => Err((&b"setresuid (ids unchanged)"[..], Errno::EPERM)),
        });
    if let Err((call, e)) = switched {
        report(b"worker:", call, e);
        process::exit(1)
    }
    let _ = process::no_new_privs();
}

/// Starts one worker; in the child this never returns.
fn spawn(g: &Generation, seats: &mut stats::Seats) -> Option<i32> {
    let (cfg, dirs, tls) = (&g.cfg, &g.dirs, &g.tls);
    let sockets = g.sockets.as_ref()?;
    let slot = seats.free();
    match process::fork() {
        Ok(Some(pid)) => {
            seats.seat(slot, pid);
            Some(pid)
        }
        Ok(None) => {
            if let Some(ids) = g.as_user {
                become_user(ids);
            }
            let own = sockets.inherit_after_fork();
            #[cfg(feature = "tls")]
            let shared = match tls.for_worker(cfg) {
                Some(s) => s,
                None => {
                    report(b"mmap", b"(TLS record buffers)", Errno::ENOMEM);
                    process::exit(1)
                }
            };
            #[cfg(not(feature = "tls"))]
            let shared = {
                let () = *tls;
                transport::Shared
            };
            let log = g.log.as_ref().map(|f| f.as_fd()).unwrap_or(fd::STDOUT);
            process::exit(worker::run(cfg, own, dirs, shared, seats.board().map(|b| (b, slot)), log))
        }
        Err(e) => {
            report(b"fork", b"", e);
            None
        }
    }
}

/// The supervisor's loop: starts the workers, restarts one that dies,
/// reloads on SIGHUP, hands over to a new binary on SIGUSR2, and stops
/// gracefully on SIGTERM or SIGINT.
fn supervise(host: &Host, mut g: Generation) -> i32 {
    let mut pids = [0i32; MAX_WORKERS];
    // The workers of earlier generations, finishing their requests.
    let mut draining = [0i32; MAX_WORKERS];
    let mut started_at = [time::monotonic_ms(); MAX_WORKERS];
    let mut seats = stats::Seats::new();
    if !start_workers(&g, &mut seats, &mut pids, &mut started_at) {
        return 1;
    }
    // A driftd that started this one to upgrade: it drains now.
    if let Some(old) = host.env.var(UPGRADED_FROM).and_then(crate::fmt::parse_u32) {
        if old as i32 == process::parent() {
            let _ = signal::kill(old as i32, signal::SIGQUIT);
        }
    }
    let sfd = match signal::signalfd(SUPERVISED) {
        Ok(s) => s,
        Err(e) => {
            report(b"signalfd", b"", e);
            return 1;
        }
    };
    let ep = match epoll::create() {
        Ok(e) => e,
        Err(e) => {
            report(b"epoll_create1", b"", e);
            return 1;
        }
    };
    let _ = epoll::ctl(ep.as_fd(), epoll::EPOLL_CTL_ADD, sfd.as_fd(), epoll::EPOLLIN, 0);
    // Certificate files are watched: a renewal written in place is picked up.
    #[cfg(feature = "tls")]
    if let Some(w) = g.tls.watcher() {
        let _ = epoll::ctl(ep.as_fd(), epoll::EPOLL_CTL_ADD, w, epoll::EPOLLIN, 1);
    }
    #[cfg(feature = "tls")]
    let mut reload_at: Option<u64> = None;
    let mut stopping = false;
    let mut force_at = u64::MAX;
    let mut quick_deaths = 0u32;
    // The new driftd of an upgrade, until it tells this one to stop.
    let mut successor: Option<i32> = None;
    let mut status = 0;
    let mut files = None;
    let mut events = [epoll::Event::default(); 4];
    loop {
        let now = time::monotonic_ms();
        let timeout = if stopping { force_at.saturating_sub(now).min(1000) as i32 } else { -1 };
        #[cfg(feature = "tls")]
        let timeout = match reload_at {
            Some(at) => at.saturating_sub(now).min(timeout as u64) as i32,
            None => timeout,
        };
        let _ = epoll::wait(ep.as_fd(), &mut events, timeout);
        #[cfg(feature = "tls")]
        {
            if g.tls.files_changed(&g.cfg) {
                reload_at = Some(time::monotonic_ms() + RELOAD_SETTLE_MS);
            }
            if reload_at.is_some_and(|at| time::monotonic_ms() >= at) {
                reload_at = None;
                if g.as_user.is_none() {
                    reload_certificates(&g.cfg, &mut g.tls, &pids);
                } else if g.tls.reload(&g.cfg) {
                    // Workers that gave up root may not read a root-only key
                    // again: new ones, forked with the pair just loaded, replace them.
                    roll(&g, &mut seats, &mut pids, &mut draining, &mut started_at);
                }
            }
        }
        while let Some(sig) = signal::next_signal(sfd.as_fd()) {
            if sig == signal::SIGCHLD {
                continue; // reaped below
            }
            if sig == signal::SIGHUP && !stopping {
                #[cfg(feature = "tls")]
                let watched = g.tls.watcher().map(|w| w.raw());
                if reload(host, &mut g, &mut seats, &mut pids, &mut draining, &mut started_at) {
                    #[cfg(feature = "tls")]
                    if let Some(w) = g.tls.watcher() {
                        if Some(w.raw()) != watched {
                            let _ = epoll::ctl(ep.as_fd(), epoll::EPOLL_CTL_ADD, w, epoll::EPOLLIN, 1);
                        }
                    }
                }
                continue;
            }
            if sig == signal::SIGUSR1 && !stopping {
                reopen_log(&mut g, &mut seats, &mut pids, &mut draining, &mut started_at);
                continue;
            }
            if sig == signal::SIGUSR2 && !stopping {
                match successor {
                    Some(_) => say(&[b"SIGUSR2: an upgrade is already under way"]),
                    None => successor = upgrade(host, &g),
                }
                continue;
            }
            if sig == signal::SIGHUP || sig == signal::SIGUSR1 || sig == signal::SIGUSR2 {
                continue;
            }
            if stopping {
                // A second signal: stop now.
                for &pid in pids.iter().chain(&draining).filter(|&&p| p > 0) {
                    let _ = signal::kill(pid, signal::SIGKILL);
                }
                say(&[b"stopping now (second signal)"]);
                status = 1;
            } else {
                // SIGQUIT: a successor serves (an upgrade), so no drain delay.
                let now = sig == signal::SIGQUIT || g.cfg.drain_delay == 0;
                stopping = true;
                force_at = time::monotonic_ms() + g.cfg.grace + if now { 0 } else { g.cfg.drain_delay } + 1000;
                // Socket files go at the end of a stop, but stay for the
                // driftd an upgrade handed them to.
                if !(successor.is_some() && sig == signal::SIGQUIT) {
                    files = g.sockets.as_ref().map(|s| s.files());
                }
                g.sockets = None; // the workers' copies close when they stop accepting
                for &pid in pids.iter().chain(&draining).filter(|&&p| p > 0) {
                    let _ = signal::kill(pid, if now { signal::SIGQUIT } else { signal::SIGTERM });
                }
                match (successor.is_some() && sig == signal::SIGQUIT, now) {
                    (true, _) => say(&[b"upgraded: the new driftd serves; finishing the requests in flight"]),
                    (false, true) => say(&[b"stopping: finishing the requests in flight"]),
                    (false, false) => say(&[b"draining: health answers 503; stopping after the drain delay"]),
                }
            }
        }
        // Reap every exited child: workers, and as PID 1 any orphan.
        while let Some((pid, how)) = process::reap() {
            seats.gone(pid);
            if successor == Some(pid) {
                successor = None;
                if !stopping {
                    say_exit(b"upgrade failed: the new driftd ", pid, how, b"; this one goes on serving");
                }
                continue;
            }
            if let Some(d) = draining.iter_mut().find(|p| **p == pid) {
                *d = 0;
                continue;
            }
            let Some(i) = pids.iter().position(|&p| p == pid) else { continue };
            pids[i] = 0;
            if stopping {
                continue;
            }
            say_exit(b"worker ", pid, how, b"; starting another");
            let now = time::monotonic_ms();
            quick_deaths = if now < started_at[i] + 1000 { quick_deaths + 1 } else { 0 };
            if quick_deaths >= MAX_QUICK_DEATHS {
                say(&[b"workers keep dying at start; giving up"]);
                for &pid in pids.iter().chain(&draining).filter(|&&p| p > 0) {
                    let _ = signal::kill(pid, signal::SIGKILL);
                }
                return 1;
            }
            if let Some(pid) = spawn(&g, &mut seats) {
                pids[i] = pid;
                started_at[i] = now;
            }
        }
        if stopping {
            if pids.iter().chain(&draining).all(|&p| p == 0) {
                if let Some(f) = &files {
                    f.remove(None);
                }
                say(&[b"stopped"]);
                return status;
            }
            if time::monotonic_ms() >= force_at {
                for &pid in pids.iter().chain(&draining).filter(|&&p| p > 0) {
                    let _ = signal::kill(pid, signal::SIGKILL);
                }
            }
        }
    }
}

/// `worker 123 exited with status 1; starting another`.
fn say_exit(what: &[u8], pid: i32, how: process::Exit, then: &[u8]) {
    let mut pbuf = [0u8; 16];
    let mut p = Line::new(&mut pbuf);
    p.push_u32(pid as u32);
    let mut cbuf = [0u8; 16];
    let mut c = Line::new(&mut cbuf);
    let verb: &[u8] = match how {
        process::Exit::Code(code) => {
            c.push_u32(code as u32);
            b" exited with status "
        }
        process::Exit::Signal(sig) => {
            c.push_u32(sig as u32);
            b" was killed by signal "
        }
    };
    say(&[what, p.as_bytes(), verb, c.as_bytes(), then]);
}

/// Starts a generation's workers into the free slots of `pids`.
fn start_workers(g: &Generation, seats: &mut stats::Seats, pids: &mut [i32; MAX_WORKERS], started_at: &mut [u64; MAX_WORKERS]) -> bool {
    let now = time::monotonic_ms();
    for (slot, at) in pids.iter_mut().zip(started_at.iter_mut()).take(g.workers) {
        match spawn(g, seats) {
            Some(pid) => (*slot, *at) = (pid, now),
            None => return false,
        }
    }
    true
}

/// SIGHUP: the settings are read again from where they came from (the
/// same flags and environment, the config file as it is now), the folders
/// opened and the certificates loaded; only if all of that works do new
/// workers start, on the same listening sockets (new ones if the address
/// changed), and the old ones finish their requests as on SIGTERM. On any
/// error, one line says why and nothing changes.
fn reload(
    host: &Host,
    g: &mut Generation,
    seats: &mut stats::Seats,
    pids: &mut [i32; MAX_WORKERS],
    draining: &mut [i32; MAX_WORKERS],
    started_at: &mut [u64; MAX_WORKERS],
) -> bool {
    let kept = || say(&[b"reload refused; still serving with the settings before"]);
    let cfg = match load(&host.env) {
        Ok(c) => c,
        Err(_) => {
            kept();
            return false;
        }
    };
    let mut new = match prepare(host, cfg) {
        Ok(n) => n,
        Err(_) => {
            kept();
            return false;
        }
    };
    // The sockets already bound where the new settings listen are kept;
    // the others are bound now, and the files of those left go.
    new.sockets = match listen::bind_all(&new.cfg, g.sockets.as_mut()) {
        Ok(s) => Some(s),
        Err(()) => {
            kept();
            return false;
        }
    };
    if let Some(old) = &g.sockets {
        old.files().remove(new.sockets.as_ref());
    }
    roll(&new, seats, pids, draining, started_at);
    *g = new;
    say_listening(b"reloaded: serving on ", g);
    true
}

/// New workers for `new` take the slots of the ones serving, which move to
/// the draining list and are told to stop accepting (each once: a second
/// signal would cut them short).
fn roll(new: &Generation, seats: &mut stats::Seats, pids: &mut [i32; MAX_WORKERS], draining: &mut [i32; MAX_WORKERS], started_at: &mut [u64; MAX_WORKERS]) {
    for p in pids.iter_mut().filter(|p| **p > 0) {
        let _ = signal::kill(*p, signal::SIGQUIT);
        if let Some(d) = draining.iter_mut().find(|d| **d == 0) {
            *d = *p;
        }
        *p = 0;
    }
    if !start_workers(new, seats, pids, started_at) {
        say(&[b"a new worker did not start; the ones that did serve"]);
    }
}

/// SIGUSR1 (logrotate's signal): `access-log FILE` is opened again (a
/// rotation moved the old one away), and new workers write to it while
/// the ones writing the old file finish their requests, as on a reload.
/// If it cannot be opened, that is said and the workers keep the old one.
fn reopen_log(g: &mut Generation, seats: &mut stats::Seats, pids: &mut [i32; MAX_WORKERS], draining: &mut [i32; MAX_WORKERS], started_at: &mut [u64; MAX_WORKERS]) {
    let Some(path) = g.cfg.access_log else { return };
    let Some(f) = open_log(path) else { return };
    g.log = Some(f);
    roll(g, seats, pids, draining, started_at);
}

/// SIGUSR2: starts the binary at driftd's path again (a new version put in
/// its place), handing it the listening sockets. Once its workers serve it
/// tells this driftd to drain (SIGTERM); if it fails to start, this one
/// says so and goes on serving. Returns the new driftd's pid.
fn upgrade(host: &Host, g: &Generation) -> Option<i32> {
    let s = g.sockets.as_ref()?;
    match process::fork() {
        Ok(Some(pid)) => {
            let mut b = [0u8; 16];
            let mut l = Line::new(&mut b);
            l.push_u32(pid as u32);
            say(&[b"SIGUSR2: upgrading: started ", l.as_bytes()]);
            Some(pid)
        }
        Ok(None) => {
            let mut fds = [0u8; 256];
            let mut l = Line::new(&mut fds);
            listen::hand_over(s, &mut l);
            let mut from = [0u8; 48];
            let mut f = Line::new(&mut from);
            f.push(UPGRADED_FROM).push(b"=").push_u32(process::parent() as u32).push(b"\0");
            let drop: [&[u8]; 5] = [b"DRIFTD_LISTEN_FDS=", b"DRIFTD_UPGRADE_FROM=", b"LISTEN_FDS=", b"LISTEN_PID=", b"LISTEN_FDNAMES="];
            let e = host.env.exec_self(&drop, &[l.as_bytes(), f.as_bytes()]);
            report(b"execve", host.env.arg(0).unwrap_or(b"driftd"), e);
            process::exit(127)
        }
        Err(e) => {
            report(b"fork", b"(upgrade)", e);
            None
        }
    }
}
