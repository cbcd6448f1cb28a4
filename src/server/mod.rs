//! driftd: the supervisor. It owns the listening socket, forks one worker
//! per CPU (within the cgroup's CPU quota), restarts a worker that dies,
//! and turns SIGTERM/SIGINT into a graceful stop. It serves no clients
//! itself.
mod cache;
pub mod config;
pub mod settings;
pub mod site;
pub mod rules;
mod conn;
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
use crate::sys::{Errno, OwnedFd, env::ProcEnv, epoll, fd, fs, io, net, process, signal, time};
use crate::diag::{push_addr, report, say};
use config::{Bind, Config, Rule, Site};
use settings::{Action, Loader, Refusal, Room};

/// The signals that stop driftd; blocked everywhere and read from signalfds.
pub const STOP_SIGNALS: signal::SigSet = signal::SigSet::of(&[signal::SIGTERM, signal::SIGINT]);
/// What a worker reads from its signalfd: a stop, or SIGHUP (reload the certificates).
pub const WORKER_SIGNALS: signal::SigSet = signal::SigSet::of(&[signal::SIGTERM, signal::SIGINT, signal::SIGHUP]);
const SUPERVISED: signal::SigSet = signal::SigSet::of(&[signal::SIGTERM, signal::SIGINT, signal::SIGCHLD, signal::SIGHUP]);
/// Certificate files changed: reload once they have been quiet this long
/// (a renewal writes the chain and the key one after the other).
#[cfg(feature = "tls")]
const RELOAD_SETTLE_MS: u64 = 300;
/// Workers that die this many times in a row within a second of starting
/// mean something is wrong with every worker: stop instead of spinning.
const MAX_QUICK_DEATHS: u32 = 5;
const MAX_WORKERS: usize = 256;

/// `[::]:8080`, `127.0.0.1:8080`, `[::1]:8080` for messages.
fn addr_text(buf: &mut [u8], bind: Bind, port: u16) -> &[u8] {
    let ip = match bind {
        Bind::DualStack => [0; 16],
        Bind::V4(ip) => crate::content::url::Ip::V4(ip).to_v6_mapped(),
        Bind::V6(ip) => ip,
    };
    let mut l = Line::new(buf);
    push_addr(&mut l, net::SocketAddrV6 { ip, port });
    let n = l.as_bytes().len();
    &buf[..n]
}

/// The listening sockets: plain HTTP, and HTTPS when a certificate is given.
pub struct Sockets {
    pub plain: OwnedFd,
    pub tls: Option<OwnedFd>,
}

impl Sockets {
    /// In a worker just forked: its own copies.
    fn inherit_after_fork(&self) -> Sockets {
        Sockets { plain: self.plain.inherit_after_fork(), tls: self.tls.as_ref().map(|t| t.inherit_after_fork()) }
    }
}

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

/// socket → setsockopt → bind → listen, with `[::]` falling back to
/// 0.0.0.0 on hosts without IPv6.
fn listen(cfg: &mut Config, port: u16) -> Result<OwnedFd, ()> {
    let mut abuf = [0u8; 64];
    let sock = match cfg.bind {
        Bind::V4(_) => net::socket_nonblocking(net::AF_INET, net::SOCK_STREAM),
        _ => net::socket_nonblocking(net::AF_INET6, net::SOCK_STREAM),
    };
    let sock = match (sock, cfg.bind) {
        (Ok(s), _) => s,
        (Err(Errno::EAFNOSUPPORT), Bind::DualStack) => {
            say(&[b"IPv6 is not available on this host; listening on 0.0.0.0 (IPv4 only)"]);
            cfg.bind = Bind::V4([0; 4]);
            return listen(cfg, port);
        }
        (Err(e), b) => {
            report(b"socket", addr_text(&mut abuf, b, port), e);
            return Err(());
        }
    };
    let s = sock.as_fd();
    if matches!(cfg.bind, Bind::DualStack) {
        let _ = net::setsockopt_int(s, net::IPPROTO_IPV6, net::IPV6_V6ONLY, 0);
    }
    let _ = net::setsockopt_int(s, net::SOL_SOCKET, net::SO_REUSEADDR, 1);
    // A connection is handed to accept() once its first bytes are in, so a
    // worker wakes once per connection with the request ready to read; one
    // that stays silent is handed over after about a second (one SYN-ACK
    // retransmit) and then waits out the idle timeout. nginx's `listen ...
    // deferred` sets the same 1 s. An optimisation only: a refusal is ignored.
    let _ = net::setsockopt_int(s, net::IPPROTO_TCP, net::TCP_DEFER_ACCEPT, 1);
    // No Nagle: a response's last part-filled segment goes out at once
    // instead of waiting for the client's (delayed, up to 40 ms) ACK of the
    // one before. Accepted sockets inherit it: no call per connection.
    let _ = net::setsockopt_int(s, net::IPPROTO_TCP, net::TCP_NODELAY, 1);
    let bound = match cfg.bind {
        Bind::V4(ip) => net::bind_v4(s, ip, port),
        Bind::V6(ip) => net::bind_v6(s, net::SocketAddrV6 { ip, port: port }),
        Bind::DualStack => net::bind_v6(s, net::SocketAddrV6::any(port)),
    };
    if let Err(e) = bound {
        report(b"bind", addr_text(&mut abuf, cfg.bind, port), e);
        return Err(());
    }
    if let Err(e) = net::listen(s, 4096) {
        report(b"listen", addr_text(&mut abuf, cfg.bind, port), e);
        return Err(());
    }
    Ok(sock)
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
    // Read and checked, but not yet answered: refused rather than ignored,
    // so nobody believes a folder listed.
    if cfg.sites.iter().chain([&cfg.site]).any(|s| s.list) {
        say(&[b"list is checked but not served by this build yet; remove it to start"]);
        return Err(2);
    }
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
    let mut cfg = match load(&env) {
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
    #[cfg(not(feature = "tls"))]
    if cfg.tls_pairs > 0 {
        say(&[b"--tls-cert: this driftd was built without TLS (cargo feature `tls`)"]);
        return 2;
    }
    let Ok(dirs) = open_dirs(&cfg) else { return 1 };
    let port = cfg.port;
    let Ok(plain) = listen(&mut cfg, port) else { return 1 };

    // One worker per CPU we may run on, but no more than the cgroup's CPU
    // quota allows (a container's `--cpus`, a pod's CPU limit).
    let limits = if env.var(b"DRIFTD_NO_CGROUP").is_some() { cgroup::Limits::default() } else { cgroup::limits() };
    let workers = match cfg.workers {
        0 => process::cpu_count().min(limits.cpus.unwrap_or(usize::MAX)),
        n => n,
    }
    .min(MAX_WORKERS);
    // Containers often start with a soft limit of 1,024 under a far higher
    // hard one: take the hard one, and size the tables to it.
    let fd_limit = process::raise_fd_limit().unwrap_or(1024);
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
    let tls = match tls::start(&cfg) {
        Ok(t) => t,
        Err(status) => return status,
    };
    let tls_port = cfg.tls_port;
    let tls_sock = match cfg.tls_pairs {
        0 => None,
        _ => match listen(&mut cfg, tls_port) {
            Ok(s) => Some(s),
            Err(()) => return 1,
        },
    };
    let sockets = Sockets { plain, tls: tls_sock };

    let mut abuf = [0u8; 64];
    let mut nbuf = [0u8; 64];
    let mut n = Line::new(&mut nbuf);
    n.push_u32(workers as u32).push(if workers == 1 { b" worker, " } else { b" workers, " });
    n.push_grouped(cfg.max_conns as u64).push(b" connections each");
    let mut tbuf = [0u8; 80];
    let mut tl = Line::new(&mut tbuf);
    if sockets.tls.is_some() {
        tl.push(b" (http) and ").push(addr_text(&mut abuf, cfg.bind, cfg.tls_port)).push(b" (https)");
    }
    say(&[b"listening on ", addr_text(&mut abuf, cfg.bind, cfg.port), tl.as_bytes(), b" with ", n.as_bytes()]);
    #[cfg(feature = "tls")]
    return supervise(&cfg, sockets, &dirs, workers, tls);
    #[cfg(not(feature = "tls"))]
    supervise(&cfg, sockets, &dirs, workers, ())
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
fn reload(cfg: &Config, tls: &mut TlsStart, pids: &[i32]) {
    if !tls.reload(cfg) {
        return;
    }
    for &pid in pids.iter().filter(|&&p| p > 0) {
        let _ = signal::kill(pid, signal::SIGHUP);
    }
}

/// Starts one worker; in the child this never returns.
fn spawn(cfg: &Config, sockets: &Sockets, dirs: &Dirs, tls: &TlsStart) -> Option<i32> {
    match process::fork() {
        Ok(Some(pid)) => Some(pid),
        Ok(None) => {
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
            process::exit(worker::run(cfg, own, dirs, shared))
        }
        Err(e) => {
            report(b"fork", b"", e);
            None
        }
    }
}

#[allow(unused_mut)] // `tls` changes only with the feature
fn supervise(cfg: &Config, sockets: Sockets, dirs: &Dirs, count: usize, mut tls: TlsStart) -> i32 {
    let mut pids = [0i32; MAX_WORKERS];
    for slot in pids.iter_mut().take(count) {
        match spawn(cfg, &sockets, dirs, &tls) {
            Some(pid) => *slot = pid,
            None => return 1,
        }
    }
    let mut listener = Some(sockets);
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
    if let Some(w) = tls.watcher() {
        let _ = epoll::ctl(ep.as_fd(), epoll::EPOLL_CTL_ADD, w, epoll::EPOLLIN, 1);
    }
    #[cfg(feature = "tls")]
    let mut reload_at: Option<u64> = None;
    let mut stopping = false;
    let mut force_at = u64::MAX;
    let mut quick_deaths = 0u32;
    let mut started_at = [time::monotonic_ms(); MAX_WORKERS];
    let mut status = 0;
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
            if tls.files_changed(cfg) {
                reload_at = Some(time::monotonic_ms() + RELOAD_SETTLE_MS);
            }
            if reload_at.is_some_and(|at| time::monotonic_ms() >= at) {
                reload_at = None;
                reload(cfg, &mut tls, &pids);
            }
        }
        while let Some(sig) = signal::next_signal(sfd.as_fd()) {
            if sig == signal::SIGCHLD {
                continue; // reaped below
            }
            if sig == signal::SIGHUP {
                #[cfg(feature = "tls")]
                reload(cfg, &mut tls, &pids);
                #[cfg(not(feature = "tls"))]
                say(&[b"SIGHUP: nothing to reload"]);
                continue;
            }
            if stopping {
                // A second signal: stop now.
                for &pid in pids.iter().filter(|&&p| p > 0) {
                    let _ = signal::kill(pid, signal::SIGKILL);
                }
                say(&[b"stopping now (second signal)"]);
                status = 1;
            } else {
                stopping = true;
                force_at = time::monotonic_ms() + cfg.grace + 1000;
                listener = None; // new connections are refused from here on
                for &pid in pids.iter().filter(|&&p| p > 0) {
                    let _ = signal::kill(pid, signal::SIGTERM);
                }
                say(&[b"stopping: finishing the requests in flight"]);
            }
        }
        // Reap every exited child: workers, and as PID 1 any orphan.
        while let Some((pid, how)) = process::reap() {
            let Some(i) = pids.iter().position(|&p| p == pid) else { continue };
            pids[i] = 0;
            if stopping {
                continue;
            }
            let mut pbuf = [0u8; 16];
            let mut p = Line::new(&mut pbuf);
            p.push_u32(pid as u32);
            let mut cbuf = [0u8; 16];
            let mut c = Line::new(&mut cbuf);
            let what: &[u8] = match how {
                process::Exit::Code(code) => {
                    c.push_u32(code as u32);
                    b" exited with status "
                }
                process::Exit::Signal(sig) => {
                    c.push_u32(sig as u32);
                    b" was killed by signal "
                }
            };
            say(&[b"worker ", p.as_bytes(), what, c.as_bytes(), b"; starting another"]);
            let now = time::monotonic_ms();
            quick_deaths = if now < started_at[i] + 1000 { quick_deaths + 1 } else { 0 };
            if quick_deaths >= MAX_QUICK_DEATHS {
                say(&[b"workers keep dying at start; giving up"]);
                for &pid in pids.iter().filter(|&&p| p > 0) {
                    let _ = signal::kill(pid, signal::SIGKILL);
                }
                return 1;
            }
            if let Some(l) = &listener {
                if let Some(pid) = spawn(cfg, l, dirs, &tls) {
                    pids[i] = pid;
                    started_at[i] = now;
                }
            }
        }
        if stopping {
            if pids.iter().all(|&p| p == 0) {
                say(&[b"stopped"]);
                return status;
            }
            if time::monotonic_ms() >= force_at {
                for &pid in pids.iter().filter(|&&p| p > 0) {
                    let _ = signal::kill(pid, signal::SIGKILL);
                }
            }
        }
    }
}
