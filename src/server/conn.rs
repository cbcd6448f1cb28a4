//! One connection: a state machine with a handler per state, in the manner
//! of darkhttpd's. The record holds state only (a few hundred bytes at
//! most); the buffers are borrowed from the worker's pool while a request
//! is in hand. Nothing here blocks, allocates, or looks at other connections.
//!
//! ```text
//!  accept ─▶ Idle ──byte──▶ RecvHead ──head──▶ (answered) ─▶ Idle | RecvHead
//!             ▲                 │ body                          │
//!             │                 ▼                               │ socket full
//!             │             RecvBody ──body in──▶ (answered)    ▼
//!             └──────────────────────────────────────────────  Send
//!   a closing error ─▶ Linger (our side shut, drained) ─▶ Free
//! ```
#[path = "proxied.rs"]
mod proxied;
pub use proxied::Clients;

use super::cache::{Answer, FileCache, Pin, Scope};
use crate::content::negotiate::Coding;
use super::config::{Config, LogFormat, MAX_FIXED_BODY};
use super::files::{self, Extra, Req, Upload};
use super::{pool, rules, site};
use super::timers::{Timer, Timers};
use super::transport::{self, Transport};
use crate::fmt::Line;
use crate::http::chunked::ChunkedDecoder;
use crate::http::date::Stamp;
use crate::http::log;
use crate::http::request::{self, Body, Method, Parsed};
use crate::http::response::{self, Conn as Framing, Response};
use crate::sys::epoll;
use crate::sys::mem::{Block, Pool};
use crate::sys::net::SocketAddrV6;
use crate::sys::{BorrowedFd, Errno, OwnedFd, io, net};

/// Room a response needs before another pipelined request is answered.
const OUT_RESERVE: usize = 512 + MAX_FIXED_BODY;
/// How long a closing connection may keep sending us bytes we drain, so
/// that our response is not destroyed by a reset.
const LINGER_MS: u64 = 2_000;
/// Draining (SIGTERM, a reload, an upgrade): how long an idle keep-alive
/// connection stays open for a request already on its way (answered with
/// `Connection: close`) before our side is shut. Closing it at once would
/// reset such a request; a client that sends nothing meanwhile sees a FIN
/// and opens a new connection, which the new workers take.
const DRAIN_IDLE_MS: u64 = 500;
/// File bytes sent per sendfile call, and calls per wake-up: a big file to
/// a fast client still lets the other connections have their turn.
const SEND_CHUNK: usize = 1 << 20;
const SENDS_PER_WAKE: u32 = 4;
/// The access log is written once per wake-up, from this much buffer.
pub const LOG_BUF: usize = 8192;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The slot holds no connection.
    Free,
    /// Open between requests, with no byte of the next one: holds no
    /// buffer; the idle timeout runs.
    Idle,
    /// Part of a request head is in (the head timeout runs from its first
    /// byte and is not extended).
    RecvHead,
    /// Reading a request body; `pending` answers it once it is in.
    RecvBody,
    /// Output is queued that the socket would not take: waiting for
    /// EPOLLOUT, reading nothing; the send timeout runs.
    Send,
    /// A closing error went out: our side is shut and the client's bytes
    /// are read and dropped until it closes, so no reset destroys the reply.
    Linger,
    /// On a `proxy` listener, before the PROXY header is in (`proxied`);
    /// the head timeout runs.
    Proxy,
}

/// What happens once everything queued is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// Keep-alive: on to the next request.
    Open,
    /// Close (after draining, if unread input is left).
    Close,
    /// An error cut the request short: shut our side and drain first.
    Linger,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyLeft {
    None,
    Length(u64),
    Chunked,
}

/// What answers a request once its body is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `--body`: 200 with the fixed body.
    Fixed,
    /// An error page naming the methods allowed.
    Refuse(&'static [u8]),
    /// A KV value: commit the upload, then 200 (201 for a new PUT).
    Store { put: bool },
}

/// Where a file body comes from once the head is out.
#[derive(Debug)]
enum Sending {
    None,
    /// A file opened for this response alone.
    Own(OwnedFd),
    /// A cached file (its form of that coding), pinned open.
    Cached(Pin, Coding),
}

/// A response decided on before its request's body was read.
#[derive(Clone, Copy, Debug)]
struct Pending {
    status: u16,
    head_only: bool,
    framing: Framing,
    kind: Kind,
}

pub struct Conn {
    fd: Option<OwnedFd>,
    /// Bumped on every reuse: events tagged with an older generation are stale.
    generation: u32,
    /// This record's index in the worker's table (and timer lists).
    slot: u32,
    pub state: State,
    /// Added to epoll: not until its first read found the request incomplete.
    registered: bool,
    ending: Ending,
    peer: SocketAddrV6,
    /// The lent block (`pool::parts`); None while Idle, Linger or Free.
    buf: Option<Block>,
    /// INVARIANT: in_len <= IN_BUF; input bytes [0, in_len) are unprocessed.
    in_len: u32,
    /// INVARIANT: out_sent <= out_len <= the output area's length.
    out_len: u32,
    out_sent: u32,
    /// Bytes of the request line kept in the block, for the access log.
    line_len: u16,
    body: BodyLeft,
    chunked: ChunkedDecoder,
    pending: Pending,
    /// A file body to send once the output is flushed: [send_off, send_end).
    send: Sending,
    send_off: u64,
    send_end: u64,
    /// A KV value being received into its temporary file (named in the block).
    upload: Option<Upload>,
    /// Plain, or TLS records: how bytes cross the socket (`transport`).
    transport: Transport,
    /// Who the connection is from before any forwarding header: the peer,
    /// or the PROXY header's source. `peer` is the client as logged.
    origin: [u8; 16],
    /// `origin` is a trusted proxy; `peer` is counted in `Ctx::clients`.
    trusted: bool,
    counted: bool,
}

impl Conn {
    pub const EMPTY: Conn = Conn {
        fd: None,
        generation: 0,
        slot: 0,
        state: State::Free,
        registered: false,
        ending: Ending::Open,
        peer: SocketAddrV6 { ip: [0; 16], port: 0 },
        buf: None,
        in_len: 0,
        out_len: 0,
        out_sent: 0,
        line_len: 0,
        body: BodyLeft::None,
        chunked: ChunkedDecoder::new(),
        pending: Pending { status: 0, head_only: false, framing: Framing::CLOSE, kind: Kind::Fixed },
        send: Sending::None,
        send_off: 0,
        send_end: 0,
        upload: None,
        transport: Transport::PLAIN,
        origin: [0; 16],
        trusted: false,
        counted: false,
    };

    /// What epoll hands back for this connection: `generation << 32 | slot`.
    pub fn tag(&self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.slot)
    }

    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Puts a just-accepted socket in this free slot, waiting for its first
    /// request, and reads that request at once: a client usually sends it
    /// right behind the handshake (TCP_DEFER_ACCEPT waits for it), so a
    /// `Connection: close` request is answered and closed without ever
    /// entering epoll; an empty socket costs one EAGAIN read.
    /// A TLS handshake is held to the head timeout, as a request head is.
    pub fn open(&mut self, cx: &mut Ctx<'_>, slot: u32, sock: OwnedFd, peer: SocketAddrV6, transport: Transport, proxy: bool) {
        debug_assert!(self.state == State::Free);
        let (timer, wait) = if transport.is_tls() { (Timer::Head, cx.cfg.head_timeout) } else { (Timer::Idle, cx.cfg.idle_timeout) };
        *self = Conn { fd: Some(sock), generation: self.generation.wrapping_add(1), slot, state: State::Idle, peer, transport, ..Conn::EMPTY };
        cx.counters.opened();
        cx.timers.arm(slot, timer, cx.now + wait);
        if proxy || !proxied::admit(cx, self) {
            return proxied::start(cx, self, proxy);
        }
        recv(cx, self);
        if self.state != State::Free && !self.registered {
            watch(cx, self);
        }
    }
}

/// What the handlers need besides the connection.
pub struct Ctx<'a> {
    pub cfg: &'a Config<'a>,
    pub root: Option<BorrowedFd<'a>>,
    pub kv: Option<BorrowedFd<'a>>,
    /// Every folder served, the sites' own included.
    pub dirs: &'a super::Dirs,
    /// `pid << 32 | count`: tells this worker's temporary files apart.
    pub uploads: u64,
    pub ep: BorrowedFd<'a>,
    /// Monotonic milliseconds, read once per wake-up.
    pub now: u64,
    /// Seconds since 1970 and their `Date` text, for responses and the log.
    pub unix: Stamp,
    /// Milliseconds since 1970 when the monotonic clock read `.1` (for
    /// the JSON log's times).
    pub unix_ms: (u64, u64),
    pub stopping: bool,
    /// A drain has begun (SIGTERM with `drain-delay`): still serving, but
    /// `health` answers 503.
    pub draining: bool,
    pub log: Line<'static>,
    /// The open-file cache for `--root`, if it is on.
    pub cache: Option<&'a mut FileCache>,
    pub pool: &'a mut Pool,
    pub timers: &'a mut Timers,
    /// TLS: the configuration, record blocks and handshake cap.
    pub tls: &'a mut transport::Shared,
    /// Credentials `auth` rules accepted lately.
    pub proven: &'a mut site::Proven,
    /// This worker's counts (`metrics`), published to the shared slot
    /// once a wake-up.
    pub counters: crate::http::metrics::Counters,
    /// Where they are published, and this worker's slot there.
    pub board: Option<(&'a super::stats::Board, usize)>,
    /// Where the access log goes (stdout, or `access-log FILE`).
    pub log_to: BorrowedFd<'a>,
    /// A write of the log failed, and that was said (once, until one works).
    pub log_failed: bool,
    /// The connection, site and user of the request being answered, for
    /// its log line.
    pub who: Option<(u32, &'a [u8], site::Who)>,
    /// Connections per client address (`max-conns-per-client`).
    pub clients: &'a mut proxied::Clients,
}

/// An epoll event for `c`: the handler of its state runs.
pub fn on_event(cx: &mut Ctx<'_>, c: &mut Conn, events: u32) {
    match c.state {
        State::Free => {}
        State::Idle | State::RecvHead | State::RecvBody => recv(cx, c),
        State::Send if events & (epoll::EPOLLOUT | epoll::EPOLLERR | epoll::EPOLLHUP) != 0 => send_reply(cx, c),
        State::Send => {}
        State::Linger => linger(cx, c),
        State::Proxy => proxied::recv(cx, c),
    }
}

/// A deadline passed. A request still arriving is answered 408; anything
/// else (idle, a client that stopped reading, a linger) is closed.
pub fn expire(cx: &mut Ctx<'_>, c: &mut Conn, timer: Timer) {
    match (timer, c.state) {
        (Timer::Idle, State::Idle) if cx.stopping && !c.transport.is_tls() => {
            if let Some(f) = &c.fd {
                let _ = net::shutdown_write(f.as_fd());
            }
            c.state = State::Linger;
            cx.timers.arm(c.slot, Timer::Linger, cx.now + DRAIN_IDLE_MS);
        }
        (Timer::Head, State::Proxy) => proxied::refuse(cx, c),
        (Timer::Head, State::RecvHead) | (Timer::Body, State::RecvBody) => {
            c.in_len = 0;
            c.line_len = 0;
            queue_error(cx, c, 408);
            flush(cx, c);
        }
        _ => free(cx, c),
    }
}

/// Closes the connection and gives back all it holds; the slot is Free.
pub fn free(cx: &mut Ctx<'_>, c: &mut Conn) {
    proxied::release(cx, c);
    abort_upload(cx, c);
    transport::close(&mut c.transport, cx.tls, c.fd.as_ref().map(|f| f.as_fd()));
    c.fd = None; // close(fd); epoll forgets it with the last reference
    end_send(cx, c);
    give_back(cx, c);
    cx.timers.cancel(c.slot);
    if c.state != State::Free {
        cx.counters.closed();
    }
    c.state = State::Free;
}

/// Idle, RecvHead, RecvBody: the socket has bytes. One read per wake-up
/// (level-triggered epoll calls again if more wait), so a keep-alive
/// request costs one read and one write. A transport that holds more
/// input than one read handed over (TLS records) is read again while the
/// connection has room for it: no socket event will announce it.
fn recv(cx: &mut Ctx<'_>, c: &mut Conn) {
    debug_assert!(matches!(c.state, State::Idle | State::RecvHead | State::RecvBody));
    loop {
        if !lend(cx, c) {
            return busy(cx, c);
        }
        let (Some(f), Some(b)) = (&c.fd, c.buf.as_mut()) else { return };
        let inb = pool::parts(b).inb;
        match transport::read(&mut c.transport, cx.tls, f.as_fd(), &mut inb[c.in_len as usize..], &cx.unix) {
            Ok(0) => return free(cx, c), // the client closed (mid-request or between requests)
            Ok(n) => {
                c.in_len += n as u32;
                cx.counters.bytes_in += n as u64;
                match c.state {
                    State::Idle => {
                        c.state = State::RecvHead;
                        cx.timers.arm(c.slot, Timer::Head, cx.now + cx.cfg.head_timeout);
                    }
                    State::RecvBody => cx.timers.arm(c.slot, Timer::Body, cx.now + cx.cfg.body_timeout),
                    _ => {}
                }
            }
            Err(Errno::EAGAIN | Errno::EINTR) => {
                // A TLS handshake held to the head timeout is done: the
                // first request is awaited as any next one is.
                if c.state == State::Idle && transport::handshake_finished(&mut c.transport) {
                    cx.timers.arm(c.slot, Timer::Idle, cx.now + cx.cfg.idle_timeout);
                }
                return settle(cx, c);
            }
            Err(_) => return free(cx, c),
        }
        answer(cx, c);
        let more = matches!(c.state, State::Idle | State::RecvHead | State::RecvBody)
            && transport::buffered(&c.transport)
            && (c.in_len as usize) < pool::IN_BUF;
        if !more {
            break;
        }
    }
    settle(cx, c);
}

/// Send: the socket has room again. Flush, then answer the requests that
/// waited behind the output.
fn send_reply(cx: &mut Ctx<'_>, c: &mut Conn) {
    debug_assert!(c.state == State::Send);
    flush(cx, c);
    answer(cx, c);
    if matches!(c.state, State::Idle | State::RecvHead | State::RecvBody) && transport::buffered(&c.transport) {
        return recv(cx, c);
    }
    settle(cx, c);
}

/// Linger: read and drop what the client still sends; close at its EOF.
fn linger(cx: &mut Ctx<'_>, c: &mut Conn) {
    debug_assert!(c.state == State::Linger);
    let Some(f) = &c.fd else { return };
    let mut sink = [0u8; 512];
    match io::read(f.as_fd(), &mut sink) {
        Ok(n) if n > 0 => {}
        Err(Errno::EAGAIN) => {}
        _ => free(cx, c),
    }
}

/// Makes sure `c` holds a block; false if the pool has none left.
fn lend(cx: &mut Ctx<'_>, c: &mut Conn) -> bool {
    if c.buf.is_none() {
        c.buf = cx.pool.lend();
    }
    c.buf.is_some()
}

/// 503, for a client there is no room for: the table is full, or every
/// buffer the worker's memory share allows is in use. The request is read
/// first (TCP_DEFER_ACCEPT: it is there), so that a close that follows is a
/// FIN after the 503, not a reset that could destroy it. From the stack:
/// nothing is lent. Nothing is written to a client that has closed, nor,
/// unless `unasked`, to one that has sent nothing; true if it was written.
pub fn answer_503(now: &Stamp, sock: BorrowedFd<'_>, unasked: bool) -> bool {
    let mut buf = [0u8; 4096];
    let read = io::read(sock, &mut buf);
    let asked = matches!(read, Ok(n) if n > 0);
    if !asked && !(unasked && read.is_err()) {
        return false;
    }
    if let Ok(n) = response::error(&mut buf, 503, now, Framing::CLOSE, true) {
        let _ = io::write(sock, &buf[..n]);
    }
    true
}

/// Every block is lent (the worker is at its memory share): the request
/// that came is answered 503, then our side is shut and the rest drained
/// (Linger) as after any closing error, so that no reset destroys the 503.
/// An EOF, or a wake-up with nothing to read, just closes.
fn busy(cx: &mut Ctx<'_>, c: &mut Conn) {
    cx.counters.rejected_memory += 1;
    // Over TLS a plaintext 503 would be garbage to the client: just close.
    let Some(f) = c.fd.as_ref().filter(|_| !c.transport.is_tls()) else { return free(cx, c) };
    if !answer_503(&cx.unix, f.as_fd(), false) {
        return free(cx, c);
    }
    let _ = net::shutdown_write(f.as_fd());
    c.state = State::Linger;
    cx.timers.arm(c.slot, Timer::Linger, cx.now + LINGER_MS);
}

/// Returns the lent block, if `c` holds one, to the pool.
fn give_back(cx: &mut Ctx<'_>, c: &mut Conn) {
    if let Some(b) = c.buf.take() {
        cx.pool.give_back(b);
    }
}

/// After a handler: an idle connection gives its block back (or, while
/// stopping, is closed).
fn settle(cx: &mut Ctx<'_>, c: &mut Conn) {
    if c.state == State::Idle && c.in_len == 0 && c.out_len == 0 {
        give_back(cx, c);
        transport::settle(&mut c.transport, cx.tls);
        if cx.stopping {
            drain_idle(cx, c);
        }
    }
}

/// Draining: an idle connection gets `DRAIN_IDLE_MS` for a last request.
pub fn drain_idle(cx: &mut Ctx<'_>, c: &mut Conn) {
    cx.timers.arm(c.slot, Timer::Idle, cx.now + DRAIN_IDLE_MS.min(cx.cfg.idle_timeout));
}

/// Answers what the input holds and writes it out, round after round while
/// each round queues something: a burst of pipelined requests can need
/// more than one output area, and the client will send nothing more
/// until it has its answers.
fn answer(cx: &mut Ctx<'_>, c: &mut Conn) {
    while matches!(c.state, State::RecvHead | State::RecvBody) {
        let queued = c.out_len;
        process(cx, c);
        let progressed = c.out_len != queued;
        flush(cx, c);
        if !progressed {
            return;
        }
    }
}

/// Room left in the output area.
fn out_room(c: &Conn) -> usize {
    c.buf.as_ref().map_or(0, |b| b.len() - pool::OUT_START) - c.out_len as usize
}

/// Answers every complete request in the input, in order, while there is
/// room in the output.
fn process(cx: &mut Ctx<'_>, c: &mut Conn) {
    loop {
        if c.ending != Ending::Open || !matches!(c.send, Sending::None) || out_room(c) < OUT_RESERVE {
            return;
        }
        match c.state {
            State::RecvHead => {
                let Some(b) = c.buf.as_mut() else { return };
                let p = pool::parts(b);
                if c.in_len == 0 {
                    return;
                }
                match request::parse_head_with(&p.inb[..c.in_len as usize], cx.cfg.max_head, proxied::real_ip(cx.cfg)) {
                    Parsed::Partial => return,
                    Parsed::Error(r) => {
                        c.line_len = 0;
                        queue_error(cx, c, r.status());
                        return;
                    }
                    Parsed::Complete(h) => {
                        let line = h.line.of(p.inb);
                        cx.counters.method(h.method);
                        let keep = line.len().min(pool::LINE_KEEP);
                        p.line[..keep].copy_from_slice(&line[..keep]);
                        c.line_len = keep as u16;
                        if cx.cfg.log_format != LogFormat::Common && !cx.cfg.quiet {
                            keep_for_log(p.line, &h, p.inb, cx.now);
                        }
                        // (out of line: it keeps a head-sized buffer on its stack)
                        if c.trusted && !proxied::forwarded(cx, c, &h) {
                            return;
                        }
                        let Some(b) = c.buf.as_mut() else { return };
                        let p = pool::parts(b);
                        let sts = if c.transport.is_tls() { cx.cfg.hsts } else { 0 };
                        let framing = Framing { keep_alive: h.keep_alive && !cx.stopping, minor_version: h.minor_version, sts };
                        if cx.cfg.metrics.is_some_and(|path| rules::path_of(h.target.of(p.inb)) == path) {
                            if metrics_scrape(cx, c, &h, framing) {
                                continue;
                            }
                            return;
                        }
                        if cx.cfg.health.is_some_and(|path| rules::path_of(h.target.of(p.inb)) == path) {
                            if health_check(cx, c, &h, framing) {
                                continue;
                            }
                            return;
                        }
                        if cx.cfg.https_redirect && !c.transport.is_tls() {
                            if redirect_to_https(cx, c, &h, framing) {
                                continue;
                            }
                            return;
                        }
                        if cx.root.is_some() || cx.kv.is_some() || !cx.cfg.sites.is_empty() {
                            if content_request(cx, c, &h, framing) {
                                continue;
                            }
                            return;
                        }
                        let (status, head_only) = match h.method {
                            Method::Get => (200, false),
                            Method::Head => (200, true),
                            Method::Other => (501, false),
                            _ => (405, false),
                        };
                        consume(c, h.head_len);
                        if status == 501 {
                            queue_error(cx, c, 501);
                            return;
                        }
                        let kind = if status == 200 { Kind::Fixed } else { Kind::Refuse(files::ALLOW_READ) };
                        c.pending = Pending { status, head_only, framing, kind };
                        if !take_body(cx, c, h.body, h.expect_continue, cx.cfg.max_body) {
                            return;
                        }
                    }
                }
            }
            State::RecvBody => {
                if !read_body(cx, c) {
                    return;
                }
                respond(cx, c);
            }
            _ => return,
        }
    }
}

/// A request for the files under `--root` or the `--kv` store. True when
/// it was answered (or refused) and the next may be looked at; false to
/// wait for more input (a body to buffer) or after an error that closes.
// Out of line: the fixed-body path in `process` then keeps a small frame.
#[inline(never)]
fn content_request(cx: &mut Ctx<'_>, c: &mut Conn, h: &request::Head, framing: Framing) -> bool {
    let cfg = cx.cfg;
    let Some(b) = c.buf.as_mut() else { return false };
    let Some((si, site)) = rules::pick(cfg, h.host.map(|s| s.of(pool::parts(b).inb))) else {
        queue_error(cx, c, 421); // strict-host: no site has this name
        return false;
    };
    // The site and user for the log line: only when there is a site name to
    // log or a rule that may let a user in (a plain root needs neither).
    cx.who = (!cfg.sites.is_empty() || guarded_any(cfg, site))
        .then(|| (c.slot, site.names.split(|&b| b == b' ').next().unwrap_or_default(), site::Who::default()));
    let guarded = guarded_any(cfg, site);
    let mut denied = false;
    if guarded {
        match site_early(cx, c, h, framing, site) {
            Ok(done) => return done,
            Err(d) => denied = d,
        }
    }
    let Some(b) = c.buf.as_mut() else { return false };
    let p = pool::parts(b);
    // A request for the store: its directory, and the key (None: not a
    // valid key), copied out of the input.
    let mut kbuf = [0u8; crate::content::kvkey::MAX_KEY + 1];
    let target = h.target.of(p.inb);
    let store = match (cx.kv, cx.root) {
        (Some(dir), None) => Some((dir, 1)),
        (Some(dir), Some(_)) if target.starts_with(cx.cfg.kv_prefix) => Some((dir, cx.cfg.kv_prefix.len())),
        _ => None,
    }
    .map(|(dir, from)| (dir, files::key_path(&target[from..], &mut kbuf)));
    let allow = match (store, h.method) {
        (_, Method::Other) => {
            queue_error(cx, c, 501);
            return false;
        }
        (Some((dir, key)), Method::Post | Method::Put) => return store_request(cx, c, h, framing, dir, key),
        (_, Method::Get | Method::Head) | (Some(_), Method::Delete) => None,
        (Some(_), _) => Some(files::ALLOW_KV),
        _ => Some(files::ALLOW_READ),
    };
    // A 405 the site has an error page for, asked without a body: answered
    // below with the page, as the files answer.
    let bodiless = matches!(h.body, Body::None | Body::Length(0));
    let refused = allow.filter(|_| store.is_none() && bodiless && rules::page_for(site, 405, None).is_some());
    if let Some(allow) = allow.filter(|_| refused.is_none()) {
        // 405 whatever the body holds: it is read and dropped, as the
        // fixed response's 405 does, and the connection stays open.
        consume(c, h.head_len);
        c.pending = Pending { status: 405, head_only: false, framing, kind: Kind::Refuse(allow) };
        return take_body(cx, c, h.body, h.expect_continue, cx.cfg.max_body);
    }
    // Everything else is answered at once; a body (rare on these methods)
    // is read into the buffer first, and dropped.
    let body = match h.body {
        Body::None => 0,
        Body::Length(n) if n <= (pool::IN_BUF - h.head_len) as u64 => n as usize,
        Body::Length(_) => {
            queue_error(cx, c, 413);
            return false;
        }
        Body::Chunked => {
            queue_error(cx, c, 411);
            return false;
        }
    };
    if (c.in_len as usize) < h.head_len + body {
        return false;
    }
    let Some(b) = c.buf.as_mut() else { return false };
    let p = pool::parts(b);
    let req = Req {
        head_only: h.method == Method::Head,
        target: h.target.of(p.inb),
        if_none_match: h.if_none_match.map(|s| s.of(p.inb)),
        if_modified_since: h.if_modified_since.map(|s| s.of(p.inb)),
        range: h.range.map(|s| s.of(p.inb)),
        if_range: h.if_range.map(|s| s.of(p.inb)),
        accept_encoding: h.accept_encoding,
        framing,
        now: cx.unix,
    };
    let queued = c.out_len > 0;
    let out = &mut p.out[c.out_len as usize..];
    let mut pinned = None;
    // The site's own folder (its own cache entries), or the default root.
    let root = match cx.dirs.site_root(si) {
        Some(own) => Some((own, si as u32 + 1)),
        None => cx.root.map(|r| (r, 0)),
    };
    let mut reply = match (store, root) {
        (Some(_), _) if denied => files::plain(out, &req, 401, Extra::None),
        (Some((_, None)), _) => files::plain(out, &req, 400, Extra::None),
        (Some((dir, Some(key))), _) if h.method == Method::Delete => {
            cx.counters.kv_deletes += 1;
            files::plain(out, &req, files::kv_delete(dir, key), Extra::None)
        }
        (Some((dir, Some(key))), _) => {
            cx.counters.kv_gets += 1;
            files::kv_get(out, &req, dir, key)
        }
        (None, Some((root, n))) => {
            let scope = Scope::new(n, site.dotfiles);
            let first = match (denied, refused) {
                (true, _) => Some(files::plain(out, &req, 401, Extra::None)),
                (_, Some(allow)) => Some(files::plain(out, &req, 405, Extra::Header(b"Allow", allow))),
                _ => file_reply(out, &req, root, cx.cache.as_deref_mut(), scope, queued, &mut pinned),
            };
            let Some(mut reply) = first else { return false };
            let accept = h.accept.map(|s| s.of(p.inb));
            // A folder without index.html: its listing, where the site lists.
            if reply.status == 404 && site.list && let Some(r) = super::listing::answer(out, &req, root, site.dotfiles, accept) {
                reply = r;
            }
            // A miss: a page the site gives instead, when it has one.
            let page = if reply.status < 400 { None } else { rules::page_for(site, reply.status, accept) };
            if let Some(page) = page {
                let status = reply.status;
                let mut preq = req;
                preq.target = page.target;
                if page.plain {
                    (preq.if_none_match, preq.if_modified_since, preq.range, preq.if_range) = (None, None, None, None);
                }
                let mut again = None;
                if let Some(r) = file_reply(out, &preq, root, cx.cache.as_deref_mut(), scope, queued, &mut again) {
                    match (r.status, page.plain) {
                        (200, false) => (reply, pinned) = (r, again),
                        (200, true) => match rules::as_status(out, r.len, status) {
                            // a 405's page still says which methods would do
                            Some(len) => match refused.map_or(Some(len), |allow| rules::add_field(out, len, b"Allow", allow)) {
                                Some(len) => (reply, pinned) = (files::Reply { len, status, ..r }, again),
                                None => reply = files::plain(out, &req, status, Extra::None),
                            },
                            None => reply = files::plain(out, &req, status, Extra::None),
                        },
                        // the page itself is missing: the plain answer stands
                        _ => reply = files::plain(out, &req, status, Extra::None),
                    }
                } else {
                    return false;
                }
            }
            reply
        }
        (None, None) => files::plain(out, &req, if denied { 401 } else { 404 }, Extra::None), // a site without a root
    };
    if guarded {
        match site::finish(out, reply.len, reply.status, cfg, site, &asked(h, p.inb)) {
            Some(len) => reply.len = len,
            None => reply = files::plain(out, &req, 500, Extra::None), // the headers do not fit
        }
    }
    consume(c, h.head_len + body);
    to_input_state(cx, c);
    queue_reply(cx, c, reply, framing);
    if let Some((pin, coding, start, end)) = pinned {
        c.send = Sending::Cached(pin, coding);
        c.send_off = start;
        c.send_end = end;
    }
    true
}

/// A static file's response from the cache or the disk; None when it must
/// wait for the output to drain (`Answer::NoRoom`). Inlined: it is the
/// request path of every cached file.
#[inline(always)]
fn file_reply(
    out: &mut [u8],
    req: &Req<'_>,
    root: BorrowedFd<'_>,
    cache: Option<&mut FileCache>,
    scope: Scope,
    queued: bool,
    pinned: &mut Option<(Pin, Coding, u64, u64)>,
) -> Option<files::Reply> {
    match cache {
        Some(cache) => match cache.answer(out, req, root, scope, queued) {
            Answer::Done(reply) => Some(reply),
            Answer::Send { reply, pin, coding, start, end } => {
                *pinned = Some((pin, coding, start, end));
                Some(reply)
            }
            // Answered once what is queued has gone out (`answer` flushes
            // and comes back: this round queued something).
            Answer::NoRoom => None,
        },
        None => Some(files::static_file(out, req, root, scope.dotfiles())),
    }
}

/// The answer a site gives before the body is read: a `redirect`, a CORS
/// preflight, or an `auth` rule's 401 (Ok(true): go on; Ok(false): a body
/// made it close). Err(denied): the request goes on to the files, turned
/// down if `denied` (a GET or HEAD, whose 401 may be an error page).
#[inline(never)]
fn site_early(cx: &mut Ctx<'_>, c: &mut Conn, h: &request::Head, framing: Framing, site: &super::config::Site<'_>) -> Result<bool, bool> {
    let Some(b) = c.buf.as_mut() else { return Ok(false) };
    let p = pool::parts(b);
    let a = asked(h, p.inb);
    let (framing, body) = before_body(h, framing);
    let req = Req::bare(framing, cx.unix);
    let out = &mut p.out[c.out_len as usize..];
    let mut who = site::Who::default();
    let early = site::early(out, &req, cx.cfg, site, &a, cx.proven, &mut who);
    if let Some(w) = cx.who.as_mut() {
        w.2 = who;
    }
    let mut reply = match early {
        site::Early::Go => return Err(false),
        site::Early::Denied if !body && matches!(h.method, Method::Get | Method::Head) => return Err(true),
        site::Early::Denied => files::plain(out, &req, 401, Extra::None),
        site::Early::Answer(reply) => reply,
    };
    match site::finish(out, reply.len, reply.status, cx.cfg, site, &a) {
        Some(len) => reply.len = len,
        None => reply = files::plain(out, &req, 500, Extra::None), // the headers do not fit
    }
    Ok(answered_before_body(cx, c, h, reply, framing, body, true))
}

/// Whether `site` has any rule or `cors` (what makes a request look at them).
fn guarded_any(cfg: &Config<'_>, site: &super::config::Site<'_>) -> bool {
    rules::any(cfg, site) || site.cors.is_some()
}

/// How an answer given before a request's body is read goes out: a body
/// it will not read makes the connection close after it. Also whether
/// there is such a body.
fn before_body(h: &request::Head, framing: Framing) -> (Framing, bool) {
    let body = !matches!(h.body, Body::None | Body::Length(0));
    (if body { Framing::CLOSE } else { framing }, body)
}

/// Queues `reply`, given before the body was read, and drops the request
/// (with a body, all the input: the connection closes after the reply).
/// Logged unless `log` is false (a health check). True: the next request
/// may be looked at.
fn answered_before_body(cx: &mut Ctx<'_>, c: &mut Conn, h: &request::Head, reply: files::Reply, framing: Framing, body: bool, log: bool) -> bool {
    consume(c, if body { c.in_len as usize } else { h.head_len });
    to_input_state(cx, c);
    if log {
        queue_reply(cx, c, reply, framing);
    } else {
        c.out_len += reply.len as u32;
        if !framing.keep_alive {
            c.ending = Ending::Close;
        }
    }
    !body
}

/// What a site's rules read from a request's head.
fn asked<'r>(h: &request::Head, inb: &'r [u8]) -> site::Asked<'r> {
    let head = inb.get(..h.head_len).unwrap_or_default();
    let field = |name: &[u8]| request::field(head, name);
    site::Asked {
        method: Some(h.method),
        target: h.target.of(inb),
        authorization: field(b"authorization"),
        origin: field(b"origin"),
        cors_method: field(b"access-control-request-method"),
        cors_headers: field(b"access-control-request-headers"),
    }
}

/// `health PATH`, on plain HTTP and HTTPS alike: 200, or 503 from the
/// moment a drain starts. Logged only with `log-health`. A body (odd on a
/// health check) is not read: the connection closes after the answer.
#[inline(never)]
fn health_check(cx: &mut Ctx<'_>, c: &mut Conn, h: &request::Head, framing: Framing) -> bool {
    let Some(b) = c.buf.as_mut() else { return false };
    let p = pool::parts(b);
    let (framing, body) = before_body(h, framing);
    let mut req = Req::bare(framing, cx.unix);
    req.head_only = h.method == Method::Head;
    let reply = match h.method {
        Method::Get | Method::Head => files::health(&mut p.out[c.out_len as usize..], &req, cx.draining || cx.stopping),
        _ => files::plain(&mut p.out[c.out_len as usize..], &req, 405, Extra::Header(b"Allow", b"GET, HEAD")),
    };
    let log = cx.cfg.log_health;
    answered_before_body(cx, c, h, reply, framing, body, log)
}

/// `metrics PATH`: every worker's counts added up (this one's as they are
/// now, the others' as of their last wake-up), as Prometheus text.
#[inline(never)]
fn metrics_scrape(cx: &mut Ctx<'_>, c: &mut Conn, h: &request::Head, framing: Framing) -> bool {
    let mut total = counts(cx);
    if let Some((board, slot)) = cx.board {
        total = board.total(slot, &total);
    }
    let mut text = [0u8; crate::http::metrics::TEXT_MAX];
    let arch = if cfg!(target_arch = "aarch64") { "aarch64" } else { "x86_64" };
    let n = crate::http::metrics::render(&mut text, &total, cfg!(feature = "tls"), env!("CARGO_PKG_VERSION"), arch).unwrap_or(0);
    let Some(b) = c.buf.as_mut() else { return false };
    let p = pool::parts(b);
    let (framing, body) = before_body(h, framing);
    let mut req = Req::bare(framing, cx.unix);
    req.head_only = h.method == Method::Head;
    let out = &mut p.out[c.out_len as usize..];
    let reply = match h.method {
        Method::Get | Method::Head => files::metrics(out, &req, &text[..n]),
        _ => files::plain(out, &req, 405, Extra::Header(b"Allow", b"GET, HEAD")),
    };
    answered_before_body(cx, c, h, reply, framing, body, true)
}

/// `--https-redirect`: every plain request is sent to the same path on the
/// TLS port with 308 (which keeps the method and body). A request with a
/// body is answered before it is read, so the connection closes after.
#[inline(never)]
fn redirect_to_https(cx: &mut Ctx<'_>, c: &mut Conn, h: &request::Head, framing: Framing) -> bool {
    let Some(b) = c.buf.as_mut() else { return false };
    let p = pool::parts(b);
    let Some(host) = h.host.map(|s| s.of(p.inb)) else {
        queue_error(cx, c, 400); // HTTP/1.0 without Host: no name to send it to
        return false;
    };
    let (framing, body) = before_body(h, framing);
    let req = Req::bare(framing, cx.unix);
    let reply = files::https_redirect(&mut p.out[c.out_len as usize..], &req, host, cx.cfg.tls_port, h.target.of(p.inb));
    answered_before_body(cx, c, h, reply, framing, body, true)
}

/// A POST or PUT of a KV value: opens its temporary file and starts taking
/// the body into it. Refusals close the connection (the body is not read).
fn store_request(
    cx: &mut Ctx<'_>,
    c: &mut Conn,
    h: &request::Head,
    framing: Framing,
    dir: BorrowedFd<'_>,
    key: Option<&[u8]>,
) -> bool {
    let Some(key) = key else {
        queue_error(cx, c, 400);
        return false;
    };
    if matches!(h.body, Body::Length(n) if n > cx.cfg.kv_max_value) {
        queue_error(cx, c, 413); // before a temporary file is made for it
        return false;
    }
    cx.uploads += 1;
    let Some(b) = c.buf.as_mut() else { return false };
    match files::kv_begin(dir, key, cx.uploads, pool::parts(b).name) {
        Ok(up) => {
            cx.counters.kv_puts += 1;
            c.upload = Some(up)
        }
        Err(status) => {
            queue_error(cx, c, status);
            return false;
        }
    }
    consume(c, h.head_len);
    c.pending = Pending { status: 200, head_only: false, framing, kind: Kind::Store { put: h.method == Method::Put } };
    take_body(cx, c, h.body, h.expect_continue, cx.cfg.kv_max_value)
}

/// After a head whose answer waits for its body: answers now if there is
/// none, else starts taking it. False if the body is refused (413 queued).
fn take_body(cx: &mut Ctx<'_>, c: &mut Conn, body: Body, expect_continue: bool, limit: u64) -> bool {
    match body {
        Body::None | Body::Length(0) => respond(cx, c),
        Body::Length(n) if n > limit => {
            queue_error(cx, c, 413);
            return false;
        }
        Body::Length(n) => start_body(cx, c, BodyLeft::Length(n), expect_continue),
        Body::Chunked => {
            c.chunked = ChunkedDecoder::new();
            start_body(cx, c, BodyLeft::Chunked, expect_continue)
        }
    }
    true
}

/// Queues a reply the files module wrote into the output area, with the
/// file to send after it.
fn queue_reply(cx: &mut Ctx<'_>, c: &mut Conn, reply: files::Reply, framing: Framing) {
    if reply.len == 0 {
        queue_error(cx, c, 500);
        return;
    }
    c.out_len += reply.len as u32;
    if let Some(b) = reply.body {
        c.send = Sending::Own(b.file);
        c.send_off = b.start;
        c.send_end = b.end;
    }
    log_request(cx, c, reply.status, reply.bytes);
    if !framing.keep_alive {
        c.ending = Ending::Close;
    }
}

fn start_body(cx: &mut Ctx<'_>, c: &mut Conn, left: BodyLeft, expect_continue: bool) {
    c.state = State::RecvBody;
    c.body = left;
    cx.timers.arm(c.slot, Timer::Body, cx.now + cx.cfg.body_timeout);
    if expect_continue && c.in_len == 0 {
        push_out(c, response::CONTINUE);
    }
}

/// Takes body bytes from the input; true once the whole body is in.
fn read_body(cx: &mut Ctx<'_>, c: &mut Conn) -> bool {
    match c.body {
        BodyLeft::None => true,
        BodyLeft::Length(left) => {
            let take = u64::from(c.in_len).min(left) as usize;
            if !keep_body(cx, c, take) {
                return false;
            }
            consume(c, take);
            c.body = BodyLeft::Length(left - take as u64);
            left == take as u64
        }
        BodyLeft::Chunked => {
            let Some(b) = c.buf.as_mut() else { return false };
            let inb = pool::parts(b).inb;
            match c.chunked.decode(&mut inb[..c.in_len as usize]) {
                Ok(p) => {
                    let limit = if c.upload.is_some() { cx.cfg.kv_max_value } else { cx.cfg.max_body };
                    if c.chunked.total() > limit {
                        queue_error(cx, c, 413);
                        return false;
                    }
                    if !keep_body(cx, c, p.written) {
                        return false;
                    }
                    consume(c, p.consumed);
                    p.done
                }
                Err(_) => {
                    queue_error(cx, c, 400);
                    false
                }
            }
        }
    }
}

/// Writes the first `n` body bytes of the input to the upload's file, if
/// the body is a value being stored; false (and an error queued) if the
/// disk refused them.
fn keep_body(cx: &mut Ctx<'_>, c: &mut Conn, n: usize) -> bool {
    let (Some(up), Some(b)) = (&c.upload, c.buf.as_mut()) else { return true };
    match io::write_all(up.file.as_fd(), &pool::parts(b).inb[..n]) {
        Ok(()) => true,
        Err(e) => {
            queue_error(cx, c, if e == Errno::ENOSPC || e == Errno::EDQUOT { 507 } else { 500 });
            false
        }
    }
}

/// The request is complete: waiting for the next one (its first bytes
/// may already be in), and queues the pending response.
fn respond(cx: &mut Ctx<'_>, c: &mut Conn) {
    let p = c.pending;
    c.body = BodyLeft::None;
    to_input_state(cx, c);
    let Some(b) = c.buf.as_mut() else { return };
    let parts = pool::parts(b);
    if let Kind::Store { put } = p.kind {
        let status = match (c.upload.take(), cx.kv) {
            (Some(up), Some(dir)) => files::kv_commit(dir, up, parts.name, put),
            _ => 500,
        };
        let reply = files::plain(&mut parts.out[c.out_len as usize..], &Req::bare(p.framing, cx.unix), status, Extra::None);
        queue_reply(cx, c, reply, p.framing);
        return;
    }
    let out = &mut parts.out[c.out_len as usize..];
    let n = if p.kind == Kind::Fixed {
        let mut r = Response::start(out, 200, &cx.unix);
        r.header(b"Content-Type", cx.cfg.content_type);
        match r.finish(cx.cfg.body.len() as u64, p.framing) {
            Ok(n) => {
                let body = if p.head_only { &b""[..] } else { cx.cfg.body };
                if n + body.len() <= out.len() {
                    out[n..n + body.len()].copy_from_slice(body);
                    n + body.len()
                } else {
                    0
                }
            }
            Err(_) => 0,
        }
    } else {
        let allow = if let Kind::Refuse(a) = p.kind { a } else { files::ALLOW_READ };
        let mut r = Response::start(out, p.status, &cx.unix);
        r.header(b"Allow", allow);
        r.error_page(p.framing, !p.head_only).unwrap_or(0)
    };
    if n == 0 {
        queue_error(cx, c, 500);
        return;
    }
    c.out_len += n as u32;
    let body_len = if p.status == 200 && !p.head_only { cx.cfg.body.len() as u64 } else { 0 };
    log_request(cx, c, p.status, body_len);
    if !p.framing.keep_alive {
        c.ending = Ending::Close;
    }
}

/// Back to reading requests, in the state the input says: a body still
/// coming, a next head begun, or nothing (Idle); with that state's timer.
fn to_input_state(cx: &mut Ctx<'_>, c: &mut Conn) {
    let (state, timer, timeout) = if c.body != BodyLeft::None {
        (State::RecvBody, Timer::Body, cx.cfg.body_timeout)
    } else if c.in_len > 0 {
        (State::RecvHead, Timer::Head, cx.cfg.head_timeout)
    } else {
        (State::Idle, Timer::Idle, cx.cfg.idle_timeout)
    };
    c.state = state;
    cx.timers.arm(c.slot, timer, cx.now + timeout);
}

/// Queues an error response that closes the connection; input is dropped.
fn queue_error(cx: &mut Ctx<'_>, c: &mut Conn, status: u16) {
    abort_upload(cx, c);
    if !lend(cx, c) {
        return free(cx, c);
    }
    let Some(b) = c.buf.as_mut() else { return };
    let out = &mut pool::parts(b).out[c.out_len as usize..];
    let n = response::error(out, status, &cx.unix, Framing::CLOSE, true).unwrap_or(0);
    let body = n.saturating_sub(files::head_len(&out[..n]));
    c.out_len += n as u32;
    c.in_len = 0;
    c.body = BodyLeft::None;
    c.state = State::RecvHead;
    c.ending = Ending::Linger;
    log_request(cx, c, status, body as u64);
}

/// A value that will not be stored: its temporary file goes.
fn abort_upload(cx: &Ctx<'_>, c: &mut Conn) {
    if let (Some(up), Some(dir), Some(b)) = (c.upload.take(), cx.kv, c.buf.as_ref()) {
        files::kv_abort(dir, up, pool::name(b));
    }
}

fn log_request(cx: &mut Ctx<'_>, c: &mut Conn, status: u16, bytes: u64) {
    // (the method was counted when the head was parsed)
    cx.counters.status(status);
    if cx.cfg.quiet {
        return;
    }
    if LOG_BUF - cx.log.as_bytes().len() < LOG_LINE_MAX {
        flush_log(cx);
    }
    let area: &[u8] = match c.buf.as_mut() {
        Some(b) => pool::parts(b).line,
        None => b"",
    };
    let line = area.get(..usize::from(c.line_len)).unwrap_or_default();
    // The site and user, if this connection's request set them.
    let who = match cx.who {
        Some((slot, name, w)) if slot == c.slot => {
            cx.who = None;
            Some((name, w))
        }
        _ => None,
    };
    let (name, user) = match &who {
        Some((name, w)) => (if cx.cfg.sites.is_empty() { &b""[..] } else { name }, w.user()),
        None => (&b""[..], &b""[..]),
    };
    let mut text = [0u8; LOG_LINE_MAX];
    let n = match cx.cfg.log_format {
        LogFormat::Common => {
            let Some(t) = text.first_chunk_mut::<{ log::LINE_MAX }>() else { return };
            log::clf(t, name, &c.peer.ip, user, cx.unix.secs, line, status, bytes)
        }
        format => {
            // Kept with the request line, and as valid as it is.
            let extra = if line.is_empty() { &[][..] } else { area.get(pool::LINE_KEEP..).unwrap_or_default() };
            let (started, user_agent, referer) = kept_for_log(extra);
            // The real-time clock is read about once a second; the
            // monotonic one, once a wake-up, gives the milliseconds since.
            let unix_ms = cx.unix_ms.0 + cx.now.saturating_sub(cx.unix_ms.1);
            let r = log::Record {
                site: name,
                ip: c.peer.ip,
                user,
                unix_ms,
                request_line: line,
                status,
                bytes,
                duration_us: started.map_or(0, |t| cx.now.saturating_sub(t) * 1000),
                user_agent,
                referer,
                tls: c.transport.version(),
            };
            match format {
                LogFormat::Json => text.first_chunk_mut::<{ log::JSON_MAX }>().map_or(0, |t| log::json(t, &r)),
                _ => text.first_chunk_mut::<{ log::COMBINED_MAX }>().map_or(0, |t| log::combined(t, &r)),
            }
        }
    };
    cx.log.push(&text[..n.min(text.len())]);
}

/// The longest access-log line of any format.
const LOG_LINE_MAX: usize = {
    let m = if log::JSON_MAX > log::COMBINED_MAX { log::JSON_MAX } else { log::COMBINED_MAX };
    if m > log::LINE_MAX { m } else { log::LINE_MAX }
};

/// Keeps what the combined and JSON lines need beyond the request line,
/// after it in the block's line area (`extra`: from `pool::LINE_KEEP`):
/// when the head was complete (8 bytes), then the `User-Agent` and
/// `Referer` lengths (2 bytes each; `u16::MAX`: absent) and bytes.
fn keep_for_log(line: &mut [u8], h: &request::Head, inb: &[u8], now: u64) {
    let extra = &mut line[pool::LINE_KEEP..];
    extra[..8].copy_from_slice(&now.to_le_bytes());
    let room = extra.len() - 12;
    let mut at = 12;
    let head = inb.get(..h.head_len).unwrap_or_default();
    for (i, name) in [&b"user-agent"[..], b"referer"].into_iter().enumerate() {
        let len = match request::field(head, name) {
            Some(v) => {
                let n = v.len().min(room / 2);
                extra[at..at + n].copy_from_slice(&v[..n]);
                at += n;
                n as u16
            }
            None => u16::MAX,
        };
        extra[8 + 2 * i..10 + 2 * i].copy_from_slice(&len.to_le_bytes());
    }
}

/// What `keep_for_log` kept: (when, User-Agent, Referer).
fn kept_for_log(extra: &[u8]) -> (Option<u64>, Option<&[u8]>, Option<&[u8]>) {
    let Some((when, rest)) = extra.split_first_chunk::<8>() else { return (None, None, None) };
    let Some((lens, mut bytes)) = rest.split_first_chunk::<4>() else { return (None, None, None) };
    let mut take = |len: u16| {
        if len == u16::MAX {
            return None;
        }
        let (v, after) = bytes.split_at_checked(usize::from(len))?;
        bytes = after;
        Some(v)
    };
    let ua = take(u16::from_le_bytes([lens[0], lens[1]]));
    let referer = take(u16::from_le_bytes([lens[2], lens[3]]));
    (Some(u64::from_le_bytes(*when)), ua, referer)
}

/// This worker's counts, the file cache's included, as a scrape sees them.
fn counts(cx: &Ctx<'_>) -> crate::http::metrics::Counters {
    let mut c = cx.counters;
    if let Some(k) = cx.cache.as_deref() {
        (c.cache_hits, c.cache_misses, c.cache_evictions) = (k.hits, k.misses, k.evictions);
    }
    #[cfg(feature = "tls")]
    {
        (c.tls_full, c.tls_resumed, c.tls_failed) = crate::tls::session::handshake_counts();
    }
    c
}

/// Publishes this worker's counts for scrapes (once a wake-up).
pub fn publish(cx: &Ctx<'_>) {
    if let Some((board, slot)) = cx.board {
        board.publish(slot, &counts(cx));
    }
}

/// Writes the access log lines gathered so far.
pub fn flush_log(cx: &mut Ctx<'_>) {
    if !cx.log.as_bytes().is_empty() {
        // A full disk (or a closed pipe) costs the lines, never the
        // serving: it is said once, and again only after a write works.
        match io::write_all(cx.log_to, cx.log.as_bytes()) {
            Ok(()) => cx.log_failed = false,
            Err(e) if !cx.log_failed => {
                cx.log_failed = true;
                crate::diag::report(b"write access log", b"(lines are dropped until it works again)", e);
            }
            Err(_) => {}
        }
        cx.log.clear();
    }
}

fn push_out(c: &mut Conn, bytes: &[u8]) {
    let Some(b) = c.buf.as_mut() else { return };
    let out = &mut pool::parts(b).out[c.out_len as usize..];
    let n = bytes.len().min(out.len());
    out[..n].copy_from_slice(&bytes[..n]);
    c.out_len += n as u32;
}

/// Drops `n` processed bytes from the front of the input.
fn consume(c: &mut Conn, n: usize) {
    let len = c.in_len as usize;
    let n = n.min(len);
    if let Some(b) = c.buf.as_mut() {
        pool::parts(b).inb.copy_within(n..len, 0);
    }
    c.in_len = (len - n) as u32;
}

/// Writes what is queued. Moves to Send if the socket is full; after a
/// closing response, closes, or shuts the write side and lingers.
fn flush(cx: &mut Ctx<'_>, c: &mut Conn) {
    let Some(sock) = c.fd.as_ref().map(|f| f.as_fd()) else { return };
    if let Some(b) = c.buf.as_mut() {
        let out = pool::parts(b).out;
        while c.out_sent < c.out_len {
            let queued = &out[c.out_sent as usize..c.out_len as usize];
            // A file follows the head: MSG_MORE lets sendfile fill the same
            // segment, so a small file goes out as one packet, not two.
            let more = !matches!(c.send, Sending::None);
            let sent = transport::write(&mut c.transport, cx.tls, sock, queued, more);
            match sent {
                Ok(n) => {
                    c.out_sent += n as u32;
                    cx.counters.bytes_out += n as u64;
                    if c.state == State::Send {
                        cx.timers.arm(c.slot, Timer::Send, cx.now + cx.cfg.send_timeout); // progress
                    }
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return block(cx, c),
                Err(_) => return free(cx, c),
            }
        }
    }
    c.out_len = 0;
    c.out_sent = 0;
    let file = match &c.send {
        Sending::None => None,
        Sending::Own(f) => Some(f.as_fd()),
        // Pinned: the cache cannot have closed it.
        Sending::Cached(pin, coding) => cx.cache.as_deref().and_then(|k| k.file(*pin, *coding)),
    };
    if !matches!(c.send, Sending::None) {
        let Some(file) = file else { return free(cx, c) };
        let mut sends = 0;
        while c.send_off < c.send_end {
            if sends == SENDS_PER_WAKE {
                return block(cx, c); // the socket is still writable: back soon
            }
            sends += 1;
            let want = (c.send_end - c.send_off).min(SEND_CHUNK as u64) as usize;
            match transport::send_file(&mut c.transport, cx.tls, sock, file, &mut c.send_off, want) {
                // The file shrank under us: the promised length cannot be
                // kept, and closing is how the client learns the body is short.
                Ok(0) => return free(cx, c),
                Ok(n) => {
                    cx.counters.bytes_out += n as u64;
                    if c.state == State::Send {
                        cx.timers.arm(c.slot, Timer::Send, cx.now + cx.cfg.send_timeout);
                    }
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return block(cx, c),
                Err(_) => return free(cx, c),
            }
        }
        end_send(cx, c);
    }
    if c.state == State::Send {
        to_input_state(cx, c);
        watch(cx, c); // a MOD: block() added it
    }
    match c.ending {
        Ending::Open => {}
        // The request was read to its end and nothing followed it: close
        // now (no reset can destroy the response), as nginx does.
        Ending::Close if c.in_len == 0 => free(cx, c),
        // The client may still be sending (an error cut its request short):
        // close only our side, and drain until it is done.
        _ => {
            if let Some(f) = &c.fd {
                let _ = net::shutdown_write(f.as_fd());
            }
            c.state = State::Linger;
            c.in_len = 0;
            give_back(cx, c);
            cx.timers.arm(c.slot, Timer::Linger, cx.now + LINGER_MS);
        }
    }
}

/// The file body is sent (or abandoned): close it, or unpin it.
fn end_send(cx: &mut Ctx<'_>, c: &mut Conn) {
    if let Sending::Cached(pin, _) = core::mem::replace(&mut c.send, Sending::None)
        && let Some(cache) = cx.cache.as_deref_mut()
    {
        cache.unpin(pin);
    }
}

/// Waits for EPOLLOUT before writing more (the send timeout starts on the
/// first wait, and moves with every write that makes progress).
fn block(cx: &mut Ctx<'_>, c: &mut Conn) {
    if c.state != State::Send {
        c.state = State::Send;
        cx.timers.arm(c.slot, Timer::Send, cx.now + cx.cfg.send_timeout);
        watch(cx, c);
    }
}

/// Tells epoll what the connection waits for: room for output in Send,
/// else input. The first call adds it (a connection enters epoll only once
/// its first read left it open); if that fails it is closed.
fn watch(cx: &mut Ctx<'_>, c: &mut Conn) {
    let Some(f) = &c.fd else { return };
    let events = if c.state == State::Send { epoll::EPOLLOUT } else { epoll::EPOLLIN | epoll::EPOLLRDHUP };
    let op = if c.registered { epoll::EPOLL_CTL_MOD } else { epoll::EPOLL_CTL_ADD };
    match epoll::ctl(cx.ep, op, f.as_fd(), events, c.tag()) {
        Ok(()) => c.registered = true,
        Err(_) if !c.registered => free(cx, c),
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle keep-alive connection costs its record: keep it small.
    #[test]
    fn a_connection_record_is_at_most_256_bytes() {
        assert!(core::mem::size_of::<Conn>() <= 256, "{} bytes", core::mem::size_of::<Conn>());
    }
}
