//! One worker process: the event loop. It accepts connections into a table
//! that grows in reserved address space up to the worker's capacity, hands
//! each epoll event to the connection's state handler (`conn`), fires the
//! deadlines that passed (`timers`), and gives idle buffer memory back to
//! the kernel after a burst (`pool`). It never blocks on one client and
//! never allocates; a full table or an exhausted descriptor table is
//! answered 503, never a spin.
use super::config::Config;
use super::cache::FileCache;
use super::conn::{self, Conn, Ctx, State};
use super::pool;
use super::timers::Timers;
use super::transport::{self, Transport};
use super::{Dirs, Sockets};
use crate::diag::report;
use crate::fmt::Line;
use crate::http::date::Stamp;
use crate::sys::epoll::{self, Event};
use crate::sys::mem::{Pool, Slab};
use crate::sys::{BorrowedFd, Errno, OwnedFd, StaticCell, inotify, net, process, signal, time};

/// Listener `i` is tagged `TAG_LISTENER + i` (a connection's tag, its
/// generation and slot, never reaches these: slots stay below 2^20).
const TAG_LISTENER: u64 = u64::MAX - 16;
const TAG_SIGNALS: u64 = u64::MAX - 1;
const TAG_INOTIFY: u64 = u64::MAX - 2;
/// Out of descriptors: how long the listener is left unwatched before
/// accept is tried again (unless a connection closes first).
const EXHAUSTED_PAUSE_MS: u64 = 100;
/// Out of descriptors: clients turned away with 503 per try, through the
/// spare descriptor.
const TURN_AWAY_PER_TRY: u32 = 8;
/// Deadlines handled per wake-up; the rest on the next (at once).
const EXPIRIES_PER_WAKE: u32 = 1024;
/// Connection records kept however quiet the worker gets.
const WARM_SLOTS: usize = 64;
/// A compaction that freed nothing waits twice as long for the next, up to this.
const COMPACT_WAIT_MAX_MS: u64 = 64_000;

static LOG: StaticCell<[u8; conn::LOG_BUF]> = StaticCell::new([0; conn::LOG_BUF]);

/// The table: records in use or free, and the free ones' numbers (a
/// stack: recently used records are warm).
struct Table {
    conns: Slab<Conn>,
    free: Slab<u32>,
}

impl Table {
    /// A free slot: a recycled one, else a new record (touching its memory
    /// for the first time); None when the table is at capacity.
    fn take(&mut self) -> Option<u32> {
        if let Some(s) = self.free.pop() {
            return Some(s);
        }
        self.conns.push(Conn::EMPTY).ok().map(|s| s as u32)
    }

    /// Runs `f` on the connection in `slot` if it holds one, and takes the
    /// slot back if `f` closed it; true then.
    fn run(&mut self, slot: u32, f: impl FnOnce(&mut Conn)) -> bool {
        let Some(c) = self.conns.get_mut(slot as usize) else { return false };
        if c.state == State::Free {
            return false;
        }
        f(c);
        let closed = c.state == State::Free;
        if closed {
            let _ = self.free.push(slot);
        }
        closed
    }

    fn active(&self) -> usize {
        self.conns.len() - self.free.len()
    }

    /// Whether `compact` may have memory to give back.
    fn can_compact(&self) -> bool {
        self.free.len() > WARM_SLOTS
    }

    /// After a burst: the free records at the top of the table go, and
    /// their memory (and their timer links') back to the kernel; the free
    /// list is rebuilt lowest slot first, so new connections fill the
    /// bottom of the table and its top keeps draining. True if it shrank.
    fn compact(&mut self, timers: &mut Timers) -> bool {
        let before = self.conns.len();
        let mut len = before;
        while len > WARM_SLOTS && self.conns.get(len - 1).is_some_and(|c| c.state == State::Free) {
            len -= 1;
        }
        if len < before && !timers.truncate(len) {
            len = before; // a free slot with a timer armed: never, but keep it whole
        }
        self.conns.truncate(len);
        while self.free.pop().is_some() {}
        for slot in (0..len as u32).rev() {
            if self.conns.get(slot as usize).is_some_and(|c| c.state == State::Free) {
                let _ = self.free.push(slot);
            }
        }
        self.free.truncate(self.free.len()); // the pages past the shorter list
        len < before
    }
}

/// A listening socket, and whether it is being watched.
struct Listener {
    fd: Option<OwnedFd>,
    tag: u64,
    /// Out of descriptors: unwatched until this time (or a close).
    paused_until: Option<u64>,
    /// A descriptor held back for the moment the table of descriptors is
    /// full: closing it lets one waiting client be accepted and told 503.
    spare: Option<OwnedFd>,
    tls: bool,
    /// Connections start with a PROXY protocol header.
    proxy: bool,
}

impl Listener {
    /// EPOLLEXCLUSIVE: one worker is woken per new connection, not all.
    fn watch(&mut self, ep: BorrowedFd<'_>) -> Result<(), Errno> {
        self.paused_until = None;
        match &self.fd {
            Some(l) => epoll::ctl(ep, epoll::EPOLL_CTL_ADD, l.as_fd(), epoll::EPOLLIN | epoll::EPOLLEXCLUSIVE, self.tag),
            None => Ok(()),
        }
    }

    /// Stops watching until `until` (an EPOLLEXCLUSIVE registration cannot
    /// be modified, only removed and added again).
    fn pause(&mut self, ep: BorrowedFd<'_>, until: u64) {
        if let Some(l) = &self.fd {
            let _ = epoll::ctl(ep, epoll::EPOLL_CTL_DEL, l.as_fd(), 0, 0);
        }
        self.paused_until = Some(until);
    }

    /// Stops watching for good and closes this worker's copy.
    fn close(&mut self, ep: BorrowedFd<'_>) {
        self.pause(ep, 0);
        self.fd = None;
        self.paused_until = None;
    }
}

/// Runs one worker until it is told to stop; returns its exit status.
/// It holds at most `cfg.max_conns` connections at once.
pub fn run(
    cfg: &Config,
    sockets: Sockets,
    dirs: &Dirs,
    mut tls: transport::Shared,
    board: Option<(&super::stats::Board, usize)>,
    log_to: BorrowedFd<'_>,
) -> i32 {
    let cap = cfg.max_conns;
    let fatal = |what: &[u8], e: Errno| -> i32 {
        report(what, b"", e);
        1
    };
    let Some(logbuf) = LOG.take() else { return 70 };
    // Address space only: pages are touched as connections arrive.
    let (mut t, mut pool, mut timers) = match (Slab::new(cap), Slab::new(cap), Pool::new(pool::block_size(), cfg.max_busy), Timers::new(cap)) {
        (Ok(conns), Ok(free), Ok(pool), Ok(timers)) => (Table { conns, free }, pool, timers),
        _ => return fatal(b"mmap", Errno::ENOMEM),
    };
    let ep = match epoll::create() {
        Ok(ep) => ep,
        Err(e) => return fatal(b"epoll_create1", e),
    };
    let sigs = match signal::signalfd(super::WORKER_SIGNALS) {
        Ok(s) => s,
        Err(e) => return fatal(b"signalfd", e),
    };
    let mut ls = sockets.list.map(|b| {
        let (tls, proxy) = b.as_ref().map_or((false, false), |b| (b.tls, b.proxy));
        let spare = b.as_ref().and_then(|_| epoll::create().ok());
        Listener { fd: b.map(|b| b.fd), tag: 0, paused_until: None, spare, tls, proxy }
    });
    for (i, l) in ls.iter_mut().enumerate() {
        l.tag = TAG_LISTENER + i as u64;
    }
    for l in &mut ls {
        if let Err(e) = l.watch(ep.as_fd()) {
            return fatal(b"epoll_ctl", e);
        }
    }
    if let Err(e) = epoll::ctl(ep.as_fd(), epoll::EPOLL_CTL_ADD, sigs.as_fd(), epoll::EPOLLIN, TAG_SIGNALS) {
        return fatal(b"epoll_ctl", e);
    }
    let Some(mut clients) = conn::Clients::new(cap, cfg.max_conns_per_client) else {
        return fatal(b"mmap", Errno::ENOMEM);
    };
    let mut cache = open_cache(cfg, ep.as_fd());
    let uploads = u64::from(process::pid() as u32) << 32;
    let mut proven = super::site::Proven::new();
    let mut cx = Ctx {
        cfg,
        root: dirs.root.as_ref().map(|d| d.as_fd()),
        kv: dirs.kv.as_ref().map(|d| d.as_fd()),
        dirs,
        uploads,
        ep: ep.as_fd(),
        now: time::monotonic_ms(),
        unix: Stamp::at(time::unix_secs()),
        unix_ms: (time::unix_ms(), time::monotonic_ms()),
        stopping: false,
        draining: false,
        log: Line::new(logbuf),
        cache: cache.as_mut(),
        pool: &mut pool,
        timers: &mut timers,
        tls: &mut tls,
        proven: &mut proven,
        who: None,
        counters: Default::default(),
        board,
        log_to,
        log_failed: false,
        clients: &mut clients,
    };
    let mut last_unix_at = cx.now;
    let mut stop_by = u64::MAX;
    // SIGTERM with `drain-delay`: when the listeners close.
    let mut drain_until: Option<u64> = None;
    let mut trim_at: Option<u64> = None;
    // Compaction has its own deadline: its back-off must never hold up the pool's trim.
    let mut compact_at: Option<u64> = None;
    let mut compact_wait = pool::TRIM_AFTER_MS;
    let mut events = [Event::default(); 64];
    loop {
        if cx.stopping && t.active() == 0 {
            conn::flush_log(&mut cx);
            conn::publish(&cx);
            return 0;
        }
        let paused = ls.iter().filter_map(|l| l.paused_until).min();
        let wake_at = [cx.timers.next_deadline(), paused, trim_at, compact_at, cx.stopping.then_some(stop_by), drain_until]
            .into_iter()
            .flatten()
            .min();
        let timeout = match wake_at {
            Some(at) => at.saturating_sub(cx.now).min(60_000) as i32,
            None => -1,
        };
        let n = match epoll::wait(ep.as_fd(), &mut events, timeout) {
            Ok(n) => n,
            Err(Errno::EINTR) => 0,
            Err(e) => return fatal(b"epoll_pwait", e),
        };
        cx.now = time::monotonic_ms();
        // CLOCK_REALTIME only when a second may have passed: Date and log times.
        if cx.now >= last_unix_at + 1000 || cx.now < last_unix_at {
            let ms = time::unix_ms();
            cx.unix = Stamp::at(ms / 1000);
            cx.unix_ms = (ms, cx.now);
            last_unix_at = cx.now;
        }
        let mut freed = false;
        // File changes first: no answer in this wake-up may come from an
        // entry they made stale (the change happened before the request
        // that follows it was sent, so its event is already queued).
        if events[..n].iter().any(|e| e.tag == TAG_INOTIFY)
            && let Some(c) = cx.cache.as_deref_mut()
        {
            c.read_events();
        }
        for ev in &events[..n] {
            match ev.tag {
                TAG_INOTIFY => {}
                tag if (TAG_LISTENER..TAG_LISTENER + ls.len() as u64).contains(&tag) => {
                    accept_all(&mut cx, &mut t, &mut ls[(tag - TAG_LISTENER) as usize])
                }
                TAG_SIGNALS => {
                    while let Some(sig) = signal::next_signal(sigs.as_fd()) {
                        if sig == signal::SIGHUP {
                            // The supervisor has checked the new certificates.
                            #[cfg(feature = "tls")]
                            super::tls::reload_worker(cfg, cx.tls);
                            continue;
                        }
                        if cx.stopping {
                            conn::flush_log(&mut cx);
                            return 0; // a second signal: stop now
                        }
                        // SIGTERM/SIGINT with a drain delay: serve on (health
                        // says 503) until it is over. SIGQUIT (a reload, an
                        // upgrade: another generation serves) or a second
                        // signal: close the listeners now.
                        if sig != signal::SIGQUIT && cfg.drain_delay > 0 && !cx.draining {
                            cx.draining = true;
                            drain_until = Some(cx.now + cfg.drain_delay);
                            continue;
                        }
                        drain_until = Some(cx.now);
                    }
                }
                tag => {
                    // An event for a connection already gone (its slot Free,
                    // or reused under a newer generation) is dropped.
                    freed |= t.run(tag as u32, |c| {
                        if c.generation() == (tag >> 32) as u32 {
                            conn::on_event(&mut cx, c, ev.events);
                        }
                    });
                }
            }
        }
        if drain_until.is_some_and(|at| cx.now >= at) && !cx.stopping {
            drain_until = None;
            cx.stopping = true;
            stop_by = cx.now + cfg.grace;
            for l in &mut ls {
                l.close(ep.as_fd()); // new connections are refused from here on
            }
            // The one walk over the table: an idle connection gets a moment
            // for a request on its way (one that goes idle later gets it
            // from `settle`).
            for slot in 0..t.conns.len() as u32 {
                t.run(slot, |c| {
                    if c.state == State::Idle {
                        conn::drain_idle(&mut cx, c);
                    }
                });
            }
        }
        for _ in 0..EXPIRIES_PER_WAKE {
            let Some((slot, timer)) = cx.timers.pop_expired(cx.now) else { break };
            freed |= t.run(slot, |c| conn::expire(&mut cx, c, timer));
        }
        // Out of descriptors: try again once one is free, or after a pause.
        for l in &mut ls {
            if l.paused_until.is_some_and(|until| freed || cx.now >= until) {
                let _ = l.watch(ep.as_fd());
            }
        }
        // After a burst: free blocks beyond the warm reserve, and the free
        // records at the top of the table, go back to the kernel once they
        // have been free a while. A compaction that shrank nothing (the
        // top record still busy) waits longer each time before the next.
        match trim_at {
            Some(at) if cx.now >= at => {
                cx.pool.trim(pool::WARM);
                transport::trim(cx.tls, pool::WARM);
                trim_at = None;
            }
            None if cx.pool.can_trim(pool::WARM) || transport::can_trim(cx.tls, pool::WARM) => {
                trim_at = Some(cx.now + pool::TRIM_AFTER_MS)
            }
            _ => {}
        }
        match compact_at {
            Some(at) if cx.now >= at => {
                let stuck = t.can_compact() && !t.compact(cx.timers);
                compact_wait = if stuck { (compact_wait * 2).min(COMPACT_WAIT_MAX_MS) } else { pool::TRIM_AFTER_MS };
                compact_at = None;
            }
            None if t.can_compact() => compact_at = Some(cx.now + compact_wait),
            _ => {}
        }
        if cx.stopping && cx.now >= stop_by {
            conn::flush_log(&mut cx);
            conn::publish(&cx);
            return 0; // grace is over: what is left is cut off
        }
        conn::flush_log(&mut cx);
        conn::publish(&cx);
    }
}

/// The open-file cache for every root (the default one and each site's
/// own). Without inotify (ENOSYS, a limit) files are served uncached, and
/// the log says so once.
fn open_cache(cfg: &Config, ep: BorrowedFd<'_>) -> Option<FileCache> {
    if cfg.file_cache == 0 {
        return None; // no root at all, or asked for none
    }
    let watcher = match inotify::init() {
        Ok(fd) => fd,
        Err(e) => {
            report(b"inotify_init1", b"(static files are served without the open-file cache)", e);
            return None;
        }
    };
    let cache = FileCache::new(cfg.file_cache, cfg.file_cache_mem, watcher)?;
    epoll::ctl(ep, epoll::EPOLL_CTL_ADD, cache.inotify(), epoll::EPOLLIN, TAG_INOTIFY).ok()?;
    Some(cache)
}

/// Accepts every waiting connection on listener `l`.
/// A full table answers 503; so does a full descriptor table, through the
/// spare descriptor, after which the listener rests (level-triggered, it
/// would otherwise wake us at once, again and again, for a connection we
/// cannot take). A TLS client past the handshake cap is closed.
fn accept_all(cx: &mut Ctx<'_>, t: &mut Table, l: &mut Listener) {
    let tls = l.tls;
    let Some(lfd) = l.fd.as_ref().map(|f| f.as_fd()) else { return };
    for i in 0..64 {
        let (sock, peer) = match net::accept_nonblocking(lfd) {
            Ok(x) => x,
            Err(Errno::EMFILE | Errno::ENFILE) => {
                for _ in 0..TURN_AWAY_PER_TRY {
                    l.spare = None; // close(spare): room for one
                    let turned = match net::accept_nonblocking(lfd) {
                        Ok((sock, _)) => {
                            cx.counters.rejected_descriptors += 1;
                            refuse(cx, sock, tls);
                            true
                        }
                        Err(_) => false,
                    };
                    l.spare = epoll::create().ok();
                    if !turned {
                        break;
                    }
                }
                let until = cx.now + EXHAUSTED_PAUSE_MS;
                l.pause(cx.ep, until);
                return;
            }
            Err(_) => return, // EAGAIN (another worker took it), or a transient error
        };
        // A connection past the first may have arrived after this wake-up's
        // epoll_wait, and its request after a file change that wait saw no
        // event for: now that it is accepted, the event is queued if there
        // is one, so read the events again before answering it.
        if i > 0
            && let Some(cache) = cx.cache.as_deref_mut()
        {
            cache.read_events();
        }
        // The slot first: a client turned away for a full table costs no
        // TLS session.
        let Some(slot) = t.take() else {
            cx.counters.rejected_full += 1;
            refuse(cx, sock, tls);
            continue;
        };
        let Some(transport) = transport_for(cx, tls) else {
            let _ = t.free.push(slot); // past the handshake cap: `sock` is dropped, closed
            continue;
        };
        let Some(c) = t.conns.get_mut(slot as usize) else { continue };
        c.open(cx, slot, sock, peer, transport, l.proxy);
        if c.state == State::Free {
            let _ = t.free.push(slot);
        }
    }
}

/// Plain, or a TLS session if this worker can take another handshake.
fn transport_for(cx: &Ctx<'_>, tls: bool) -> Option<Transport> {
    if !tls {
        return Some(Transport::PLAIN);
    }
    #[cfg(feature = "tls")]
    return transport::accept_tls(cx.tls);
    #[cfg(not(feature = "tls"))]
    {
        let _ = cx;
        None
    }
}

/// 503 and close, for a client there is no room for (over TLS, only the
/// close: there is no session to say it in).
fn refuse(cx: &Ctx<'_>, sock: OwnedFd, tls: bool) {
    if !tls {
        conn::answer_503(&cx.unix, sock.as_fd(), true);
    }
} // dropping `sock` closes it
