//! HTTPS at start: the heap, the certificates and the session-ticket
//! secret, made once in the supervisor so that every worker forks with
//! them; each worker's share (its record blocks and its cap on handshakes);
//! and reloading the certificates (SIGHUP, or their files changed).
use super::config::Config;
use super::transport::{self, Shared};
use crate::diag::say;
use crate::fmt::Line;
use crate::sys::mem::Pool;
use crate::sys::{BorrowedFd, OwnedFd, fs, heap, inotify, io, time};
use crate::tls::certs::{self, SniResolver};
use crate::tls::provider;
use crate::tls::session;
use crate::tls::ticket::Ticketer;
use alloc::sync::Arc;
use alloc::vec;

/// Heap for what is loaded at start and at a reload (the configuration,
/// and each pair's two files, read whole: up to 1 MiB each), per pair.
const START_HEAP: usize = 4 << 20;
/// Heap an established TLS connection keeps (rustls's state, 1-4 KiB
/// measured, with the allocator's own overhead).
const CONN_HEAP: usize = 8 << 10;
/// Handshakes a worker carries at once, at most.
const MAX_HANDSHAKES: usize = 4096;
/// Session tickets are sealed with a key that changes this often; a
/// ticket is accepted in its period and the next (so for 6 to 12 hours).
const TICKET_PERIOD_SECS: u32 = 6 * 3600;
/// TLS 1.3 tickets sent after a full handshake: one is enough for a
/// client's next connection (browsers use one at a time).
const TLS13_TICKETS: usize = 1;

/// What the supervisor made for HTTPS.
pub struct Start {
    pub config: Option<Arc<rustls::ServerConfig>>,
    /// The ticket secret: the same in every worker, so any of them resumes
    /// a session another began.
    secret: [u8; 32],
    /// inotify on the directories of the certificate and key files.
    watch: Option<OwnedFd>,
    /// The directory driftd started in: relative certificate paths are
    /// read from there at a reload, though a worker serving `--root` has
    /// moved into its root by then.
    start_dir: Option<OwnedFd>,
}

/// At most half the record blocks: a handshake holds one while a part of
/// its ClientHello is in, and established connections must still find one
/// for their next request.
fn max_handshakes(cfg: &Config) -> usize {
    (cfg.max_busy / 2).clamp(1, MAX_HANDSHAKES)
}

/// Heap to reserve: what start loads, plus every connection's state and
/// every handshake's peak. Address space only: pages are used as touched.
fn heap_bytes(cfg: &Config) -> usize {
    START_HEAP * (1 + cfg.tls_pairs) + cfg.max_conns * CONN_HEAP + max_handshakes(cfg) * transport::HANDSHAKE_HEAP
}

/// For the memory plan: the record block a busy TLS connection borrows,
/// and the heap each connection keeps (none without a certificate).
pub fn plan_costs(cfg: &Config) -> (usize, u64) {
    match cfg.tls_pairs {
        0 => (0, 0),
        _ => (crate::sys::mem::round_to_page(session::BLOCK), CONN_HEAP as u64),
    }
}

/// Reserves the heap, loads the certificates and makes the configuration
/// every handshake uses; Err(exit status) after saying why.
pub fn start(cfg: &Config) -> Result<Start, i32> {
    if cfg.tls_pairs == 0 {
        return Ok(Start { config: None, secret: [0; 32], watch: None, start_dir: None });
    }
    if let Err(e) = heap::reserve(heap_bytes(cfg)) {
        crate::diag::report(b"mmap", b"(the TLS heap)", e);
        return Err(1);
    }
    let secret = match Ticketer::new_secret() {
        Ok(s) => s,
        Err(e) => {
            crate::diag::report(b"getrandom", b"", e);
            return Err(1);
        }
    };
    let config = build(cfg, secret, true).ok_or(2)?;
    let start_dir = fs::openat(fs::CWD, b".\0", fs::O_PATH | fs::O_DIRECTORY, 0).ok();
    Ok(Start { config: Some(config), secret, watch: watch_files(cfg), start_dir })
}

/// Loads every pair and makes a configuration; None after saying why (the
/// first pair that fails, in one line). `warn`: say when a certificate
/// has expired or soon will.
fn build(cfg: &Config, secret: [u8; 32], warn: bool) -> Option<Arc<rustls::ServerConfig>> {
    let now = time::unix_secs();
    let mut resolver: Option<SniResolver> = None;
    for i in 0..cfg.tls_pairs {
        let mut buf = [0u8; 2400];
        let mut l = Line::new(&mut buf);
        match certs::load_pair(cfg.tls_certs[i], cfg.tls_keys[i], &provider::Keys, now) {
            Ok(pair) if pair.key.cert.iter().map(|c| c.as_ref().len()).sum::<usize>() > session::MAX_CHAIN => {
                l.push(b"--tls-cert ").push(cfg.tls_certs[i]).push(b": the chain is over ");
                l.push_grouped(session::MAX_CHAIN as u64).push(b" bytes; a handshake carries at most that");
                say(&[l.as_bytes()]);
                return None;
            }
            Ok(pair) => {
                if warn && certs::describe_expiry(cfg.tls_certs[i], &pair, &mut l) {
                    say(&[l.as_bytes()]);
                }
                match resolver.as_mut() {
                    Some(r) => r.add(pair),
                    None => resolver = Some(SniResolver::new(pair)),
                }
            }
            Err(e) => {
                certs::describe(&e, &mut l);
                say(&[l.as_bytes()]);
                return None;
            }
        }
    }
    let mut sc = provider::server_config_builder().with_no_client_auth().with_cert_resolver(Arc::new(resolver?));
    sc.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Stateless resumption only: a ticket any worker can open, no cache.
    sc.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    sc.ticketer = Arc::new(Ticketer::new(secret, TICKET_PERIOD_SECS));
    sc.send_tls13_tickets = TLS13_TICKETS;
    // Our order, not the client's: AES-128-GCM first. Most clients list
    // AES-256 first; its 14 rounds cost 40% more per byte than 10, and its
    // key schedule makes an idle connection larger, for no practical gain.
    sc.ignore_client_order = true;
    Some(Arc::new(sc))
}

/// The directory part of `path` (`.` for a bare name), NUL-terminated.
fn parent<'b>(path: &[u8], buf: &'b mut [u8; 1026]) -> &'b [u8] {
    let dir = match path.iter().rposition(|&b| b == b'/') {
        Some(0) => &b"/"[..],
        Some(i) => &path[..i],
        None => &b"."[..],
    };
    buf[..dir.len()].copy_from_slice(dir);
    buf[dir.len()] = 0;
    &buf[..=dir.len()]
}

/// inotify on the directories that hold the certificate and key files (a
/// renewal usually renames a new file over the old one, which a watch on
/// the file itself would miss). None without inotify: SIGHUP still works.
fn watch_files(cfg: &Config) -> Option<OwnedFd> {
    let fd = inotify::init().ok()?;
    let mask = inotify::IN_CLOSE_WRITE | inotify::IN_MOVED_TO | inotify::IN_CREATE | inotify::IN_DELETE;
    for path in cfg.tls_certs[..cfg.tls_pairs].iter().chain(&cfg.tls_keys[..cfg.tls_pairs]) {
        let mut buf = [0u8; 1026];
        let _ = inotify::add_dir_watch(fd.as_fd(), parent(path, &mut buf), mask);
    }
    Some(fd)
}

impl Start {
    /// In a worker just forked: its record blocks and handshake cap. The
    /// supervisor's inotify descriptor is not the worker's business.
    pub fn for_worker(&self, cfg: &Config) -> Option<Shared> {
        let pool = Pool::new(session::BLOCK, if self.config.is_some() { cfg.max_busy } else { 0 }).ok()?;
        let start_dir = self.start_dir.as_ref().map(|d| d.inherit_after_fork());
        Some(Shared { config: self.config.clone(), secret: self.secret, start_dir, pool, max_handshakes: max_handshakes(cfg) })
    }

    /// The inotify descriptor to wait on, if the files are watched.
    pub fn watcher(&self) -> Option<BorrowedFd<'_>> {
        self.watch.as_ref().map(|w| w.as_fd())
    }

    /// Whether a watched directory reported a change to one of the
    /// certificate or key files (reads every event waiting).
    pub fn files_changed(&mut self, cfg: &Config) -> bool {
        let Some(w) = &self.watch else { return false };
        let ours = |name: &[u8]| {
            let base = |p: &&[u8]| p.rsplit(|&b| b == b'/').next() == Some(name);
            cfg.tls_certs[..cfg.tls_pairs].iter().chain(&cfg.tls_keys[..cfg.tls_pairs]).any(|p| base(&p))
        };
        let mut changed = false;
        let mut buf = [0u8; 4096];
        while let Ok(n) = io::read(w.as_fd(), &mut buf) {
            if n == 0 {
                break;
            }
            changed |= inotify::events(&buf[..n]).any(|e| !e.name.is_empty() && ours(e.name));
        }
        changed
    }

    /// Loads the pairs again; on success new handshakes use them (and the
    /// workers, told by SIGHUP, do the same). True if it succeeded; on
    /// failure the line says why and the old pairs stay.
    pub fn reload(&mut self, cfg: &Config) -> bool {
        if self.config.is_none() {
            say(&[b"SIGHUP: nothing to reload (no --tls-cert)"]);
            return false;
        }
        match build(cfg, self.secret, true) {
            Some(c) => {
                self.config = Some(c);
                say(&[b"certificates reloaded"]);
                true
            }
            None => {
                say(&[b"certificates not reloaded; the ones loaded before stay"]);
                false
            }
        }
    }
}

/// A worker told to reload: the supervisor has just loaded the same files
/// successfully; a worker that fails now (they changed again between)
/// keeps its pairs, and the supervisor's next reload brings it level.
/// Relative paths are read from the directory driftd started in.
pub fn reload_worker(cfg: &Config, sh: &mut Shared) {
    if sh.config.is_none() {
        return;
    }
    // Only moved when the way back is held: a worker stays where it was
    // (the file cache moves into a root itself before it adds a watch).
    let here = fs::openat(fs::CWD, b".\0", fs::O_PATH | fs::O_DIRECTORY, 0).ok();
    let moved = match (&here, &sh.start_dir) {
        (Some(_), Some(d)) => fs::fchdir(d.as_fd()).is_ok(),
        _ => false,
    };
    if let Some(c) = build(cfg, sh.secret, false) {
        sh.config = Some(c);
    }
    if let (true, Some(h)) = (moved, &here) {
        let _ = fs::fchdir(h.as_fd());
    }
}
