//! One worker process: an epoll loop over non-blocking sockets and a fixed
//! table of connections, each a small state machine (`RecvHead` → maybe
//! `RecvBody` → response queued → flushed → `RecvHead` or `Linger`). It
//! never blocks on one client and never allocates.
use super::config::Config;
use super::files::{self, Extra, Req, Upload};
use super::Dirs;
use crate::http::log;
use crate::fmt::Line;
use crate::http::chunked::ChunkedDecoder;
use crate::http::request::{self, Body, Method, Parsed};
use crate::http::response::{self, Conn as Framing, Response};
use crate::sys::epoll::{self, Event};
use crate::sys::net::SocketAddrV6;
use crate::sys::{BorrowedFd, Errno, OwnedFd, StaticCell, fd, fs, io, net, process, signal, time};
use heapless::Vec;

/// Connection slots per worker (the `--max-conns` ceiling).
pub const SLOTS: usize = super::config::MAX_CONNS;
/// Input buffer per connection: the request-head limit.
const IN_BUF: usize = super::config::MAX_HEAD;
/// Output buffer per connection: pipelined response heads and fixed bodies.
const OUT_BUF: usize = 4096;
/// Room a response needs before another pipelined request is answered.
const OUT_RESERVE: usize = 512 + super::config::MAX_FIXED_BODY;
/// How long a closing connection may keep sending us bytes we drain, so
/// that our response is not destroyed by a reset.
const LINGER_MS: u64 = 2_000;
/// Timers are checked at most this often.
const SWEEP_MS: u64 = 250;
const LOG_BUF: usize = 8192;
const TAG_LISTENER: u64 = u64::MAX;
const TAG_SIGNALS: u64 = u64::MAX - 1;
/// File bytes sent per sendfile call, and calls per wake-up: a big file to
/// a fast client still lets the other connections have their turn.
const SEND_CHUNK: usize = 1 << 20;
const SENDS_PER_WAKE: u32 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    /// Reading a request head (or idle between requests).
    RecvHead,
    /// Reading (and discarding) a request body; the response waits in `pending`.
    RecvBody,
    /// Response sent with `Connection: close`; write side shut, draining.
    Linger,
}

#[derive(Clone, Copy, Debug)]
enum BodyLeft {
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

/// A response decided on before its request's body was read.
#[derive(Clone, Copy, Debug)]
struct Pending {
    status: u16,
    head_only: bool,
    framing: Framing,
    kind: Kind,
}

struct Conn {
    fd: Option<OwnedFd>,
    /// Bumped on every reuse: events tagged with an older generation are stale.
    generation: u32,
    /// `generation << 32 | slot`: what epoll hands back for this connection.
    tag: u64,
    /// Added to epoll: not until its first read found the request incomplete.
    registered: bool,
    state: State,
    peer: SocketAddrV6,
    /// INVARIANT: in_len <= IN_BUF; bytes [0, in_len) are unprocessed input.
    inb: [u8; IN_BUF],
    in_len: usize,
    /// INVARIANT: out_sent <= out_len <= OUT_BUF.
    out: [u8; OUT_BUF],
    out_len: usize,
    out_sent: usize,
    /// Waiting for EPOLLOUT (EPOLLIN is off meanwhile).
    blocked: bool,
    /// Close once `out` is flushed.
    close_after: bool,
    /// ...after shutting our side and draining the client's (error responses).
    lingers: bool,
    /// The first byte of the current request has arrived.
    head_started: bool,
    deadline: u64,
    body: BodyLeft,
    body_seen: u64,
    chunked: ChunkedDecoder,
    pending: Pending,
    /// A file body to send once `out` is flushed: bytes [send_off, send_end).
    send: Option<OwnedFd>,
    send_off: u64,
    send_end: u64,
    /// A KV value being received into its temporary file.
    upload: Option<Upload>,
    /// The request line, for the access log of a response sent after its body.
    line: [u8; 256],
    line_len: usize,
}

impl Conn {
    const EMPTY: Conn = Conn {
        fd: None,
        generation: 0,
        tag: 0,
        registered: false,
        state: State::Free,
        peer: SocketAddrV6 { ip: [0; 16], port: 0 },
        inb: [0; IN_BUF],
        in_len: 0,
        out: [0; OUT_BUF],
        out_len: 0,
        out_sent: 0,
        blocked: false,
        close_after: false,
        lingers: false,
        head_started: false,
        deadline: 0,
        body: BodyLeft::Length(0),
        body_seen: 0,
        chunked: ChunkedDecoder::new(),
        pending: Pending { status: 0, head_only: false, framing: Framing { keep_alive: false, minor_version: 0 }, kind: Kind::Fixed },
        send: None,
        send_off: 0,
        send_end: 0,
        upload: None,
        line: [0; 256],
        line_len: 0,
    };
}

struct Table {
    conns: [Conn; SLOTS],
    /// Indexes of free slots (a stack: recently used slots are warm).
    free: Vec<u16, SLOTS>,
}

static TABLE: StaticCell<Table> = StaticCell::new(Table { conns: [const { Conn::EMPTY }; SLOTS], free: Vec::new() });
static LOG: StaticCell<[u8; LOG_BUF]> = StaticCell::new([0; LOG_BUF]);

/// What the loop needs besides the table.
struct Ctx<'a> {
    cfg: &'a Config,
    root: Option<BorrowedFd<'a>>,
    kv: Option<BorrowedFd<'a>>,
    /// `pid << 32 | count`: tells this worker's temporary files apart.
    uploads: u64,
    ep: BorrowedFd<'a>,
    now: u64,
    unix: u64,
    stopping: bool,
    log: Line<'static>,
}

/// Runs one worker until it is told to stop; returns its exit status.
pub fn run(cfg: &Config, listener: OwnedFd, dirs: &Dirs) -> i32 {
    let (Some(t), Some(logbuf)) = (TABLE.take(), LOG.take()) else { return 70 };
    for i in (0..cfg.max_conns.min(SLOTS)).rev() {
        let _ = t.free.push(i as u16);
    }
    let fatal = |what: &[u8], e: Errno| -> i32 {
        super::report(what, b"", e);
        1
    };
    let ep = match epoll::create() {
        Ok(ep) => ep,
        Err(e) => return fatal(b"epoll_create1", e),
    };
    let sigs = match signal::signalfd(super::STOP_SIGNALS) {
        Ok(s) => s,
        Err(e) => return fatal(b"signalfd", e),
    };
    let mut listener = Some(listener);
    if let Some(l) = &listener {
        // EPOLLEXCLUSIVE: one worker is woken per new connection, not all.
        if let Err(e) = epoll::ctl(ep.as_fd(), epoll::EPOLL_CTL_ADD, l.as_fd(), epoll::EPOLLIN | epoll::EPOLLEXCLUSIVE, TAG_LISTENER) {
            return fatal(b"epoll_ctl", e);
        }
    }
    if let Err(e) = epoll::ctl(ep.as_fd(), epoll::EPOLL_CTL_ADD, sigs.as_fd(), epoll::EPOLLIN, TAG_SIGNALS) {
        return fatal(b"epoll_ctl", e);
    }
    let root = dirs.root.as_ref().map(|d| d.as_fd());
    let kv = dirs.kv.as_ref().map(|d| d.as_fd());
    let uploads = u64::from(process::pid() as u32) << 32;
    let mut cx = Ctx { cfg, root, kv, uploads, ep: ep.as_fd(), now: time::monotonic_ms(), unix: time::unix_secs(), stopping: false, log: Line::new(logbuf) };
    let mut last_unix_at = cx.now;
    let mut next_sweep = cx.now + SWEEP_MS;
    let mut stop_by = u64::MAX;
    let mut events = [Event::default(); 64];
    loop {
        let active = cfg.max_conns.min(SLOTS) - t.free.len();
        if cx.stopping && active == 0 {
            return 0;
        }
        let timeout = if active == 0 && !cx.stopping { -1 } else { next_sweep.saturating_sub(cx.now).min(1000) as i32 };
        let n = match epoll::wait(ep.as_fd(), &mut events, timeout) {
            Ok(n) => n,
            Err(Errno::EINTR) => 0,
            Err(e) => return fatal(b"epoll_pwait", e),
        };
        cx.now = time::monotonic_ms();
        // CLOCK_REALTIME only when a second may have passed: Date and log times.
        if cx.now >= last_unix_at + 1000 || cx.now < last_unix_at {
            cx.unix = time::unix_secs();
            last_unix_at = cx.now;
        }
        for ev in &events[..n] {
            match ev.tag {
                TAG_LISTENER => {
                    if let Some(l) = &listener {
                        accept_all(&mut cx, t, l.as_fd());
                    }
                }
                TAG_SIGNALS => {
                    while let Some(_sig) = signal::next_signal(sigs.as_fd()) {
                        if cx.stopping {
                            flush_log(&mut cx);
                            return 0; // a second signal: stop now
                        }
                        cx.stopping = true;
                        stop_by = cx.now + cfg.grace;
                        if let Some(l) = listener.take() {
                            let _ = epoll::ctl(ep.as_fd(), epoll::EPOLL_CTL_DEL, l.as_fd(), 0, 0);
                        }
                        close_idle(&cx, t);
                    }
                }
                tag => {
                    let slot = (tag & 0xffff_ffff) as usize;
                    let generation = (tag >> 32) as u32;
                    let Some(c) = t.conns.get_mut(slot) else { continue };
                    if c.state == State::Free || c.generation != generation {
                        continue; // an event for a connection already gone
                    }
                    on_event(&mut cx, c, ev.events);
                    if c.state == State::Free {
                        let _ = t.free.push(slot as u16);
                    }
                }
            }
        }
        if cx.now >= next_sweep {
            next_sweep = cx.now + SWEEP_MS;
            sweep(&mut cx, t);
            if cx.stopping {
                close_idle(&cx, t);
                if cx.now >= stop_by {
                    flush_log(&mut cx);
                    return 0; // grace is over: what is left is cut off
                }
            }
        }
        flush_log(&mut cx);
    }
}

fn flush_log(cx: &mut Ctx<'_>) {
    if !cx.log.as_bytes().is_empty() {
        let _ = io::write_all(fd::STDOUT, cx.log.as_bytes());
        cx.log.clear();
    }
}

/// Accepts every waiting connection; when the table is full, answers 503.
fn accept_all(cx: &mut Ctx<'_>, t: &mut Table, l: BorrowedFd<'_>) {
    for _ in 0..64 {
        let (sock, peer) = match net::accept_nonblocking(l) {
            Ok(x) => x,
            Err(_) => return, // EAGAIN (another worker took it), or a transient error
        };
        let Some(slot) = t.free.pop() else {
            // Read the request (TCP_DEFER_ACCEPT: it is there) so that the
            // close is a FIN after the 503, not a reset that could destroy it.
            let mut buf = [0u8; 4096];
            let _ = io::read(sock.as_fd(), &mut buf);
            if let Ok(n) = response::error(&mut buf, 503, cx.unix, Framing::CLOSE, true) {
                let _ = io::write(sock.as_fd(), &buf[..n]);
            }
            continue; // dropping `sock` closes it
        };
        let c = &mut t.conns[usize::from(slot)];
        c.generation = c.generation.wrapping_add(1);
        c.tag = (u64::from(c.generation) << 32) | u64::from(slot);
        c.registered = false;
        c.fd = Some(sock);
        c.peer = peer;
        c.state = State::RecvHead;
        c.in_len = 0;
        c.out_len = 0;
        c.out_sent = 0;
        c.blocked = false;
        c.close_after = false;
        c.lingers = false;
        c.head_started = false;
        c.deadline = cx.now + cx.cfg.idle_timeout;
        // A client usually sends its request right behind the handshake: read
        // it now, as if epoll had said so. A `Connection: close` request is
        // then answered and closed without ever entering epoll (nginx's
        // `listen ... deferred` gets this from TCP_DEFER_ACCEPT); an empty
        // socket costs one EAGAIN read.
        on_event(cx, c, epoll::EPOLLIN);
        if c.state != State::Free && !c.registered {
            watch(cx, c);
        }
        if c.state == State::Free {
            let _ = t.free.push(slot);
        }
    }
}

/// On stop: connections waiting for a request are closed now.
fn close_idle(cx: &Ctx<'_>, t: &mut Table) {
    for (i, c) in t.conns.iter_mut().enumerate() {
        if c.state == State::RecvHead && c.in_len == 0 && c.out_len == 0 && c.send.is_none() {
            free(cx, c);
            let _ = t.free.push(i as u16);
        }
    }
}

/// Cuts connections whose deadline passed: 408 for a request still arriving.
fn sweep(cx: &mut Ctx<'_>, t: &mut Table) {
    for (i, c) in t.conns.iter_mut().enumerate() {
        if c.state == State::Free || cx.now < c.deadline {
            continue;
        }
        let mid_request = (c.state == State::RecvHead && c.head_started) || c.state == State::RecvBody;
        if mid_request && !c.blocked {
            c.in_len = 0;
            c.line_len = 0;
            queue_error(cx, c, 408);
            flush(cx, c);
        } else {
            free(cx, c);
        }
        if c.state == State::Free {
            let _ = t.free.push(i as u16);
        }
    }
}

fn free(cx: &Ctx<'_>, c: &mut Conn) {
    c.fd = None; // close(fd); epoll forgets it with the last reference
    c.send = None;
    abort_upload(cx, c);
    c.state = State::Free;
}

/// A value that will not be stored: its temporary file goes.
fn abort_upload(cx: &Ctx<'_>, c: &mut Conn) {
    if let (Some(up), Some(dir)) = (c.upload.take(), cx.kv) {
        files::kv_abort(dir, up);
    }
}

fn on_event(cx: &mut Ctx<'_>, c: &mut Conn, events: u32) {
    if c.blocked {
        if events & (epoll::EPOLLOUT | epoll::EPOLLERR | epoll::EPOLLHUP) != 0 {
            flush(cx, c);
            answer(cx, c); // requests that were waiting behind the output
        }
        return;
    }
    let Some(sock) = c.fd.as_ref().map(|f| f.as_fd()) else { return };
    if c.state == State::Linger {
        let mut sink = [0u8; 512];
        match io::read(sock, &mut sink) {
            Ok(n) if n > 0 => {}
            Err(Errno::EAGAIN) => {}
            _ => free(cx, c),
        }
        return;
    }
    // One read per wake-up: level-triggered epoll calls again if more waits,
    // and a keep-alive request costs one read and one write.
    match io::read(sock, &mut c.inb[c.in_len..]) {
        Ok(0) => {
            free(cx, c); // the client closed (mid-request or between requests)
            return;
        }
        Ok(n) => {
            if !c.head_started && c.state == State::RecvHead {
                c.head_started = true;
                c.deadline = cx.now + cx.cfg.head_timeout; // not extended by later bytes
            }
            if c.state == State::RecvBody {
                c.deadline = cx.now + cx.cfg.body_timeout;
            }
            c.in_len += n;
        }
        Err(Errno::EAGAIN | Errno::EINTR) => return,
        Err(_) => {
            free(cx, c);
            return;
        }
    }
    answer(cx, c);
}

/// Answers what the input holds and writes it out, round after round while
/// each round queues something: a burst of pipelined requests can need
/// more than one output buffer, and the client will send nothing more
/// until it has its answers.
fn answer(cx: &mut Ctx<'_>, c: &mut Conn) {
    while matches!(c.state, State::RecvHead | State::RecvBody) && !c.blocked {
        let queued = c.out_len;
        process(cx, c);
        let progressed = c.out_len != queued;
        flush(cx, c);
        if !progressed {
            return;
        }
    }
}

/// Answers every complete request in the input, in order, while there is
/// room in the output.
fn process(cx: &mut Ctx<'_>, c: &mut Conn) {
    loop {
        if c.close_after || c.send.is_some() || OUT_BUF - c.out_len < OUT_RESERVE {
            return;
        }
        match c.state {
            State::RecvHead => {
                if c.in_len == 0 {
                    return;
                }
                match request::parse_head(&c.inb[..c.in_len], cx.cfg.max_head) {
                    Parsed::Partial => return,
                    Parsed::Error(r) => {
                        c.line_len = 0;
                        queue_error(cx, c, r.status());
                        return;
                    }
                    Parsed::Complete(h) => {
                        let line = h.line.of(&c.inb);
                        let keep = line.len().min(c.line.len());
                        c.line[..keep].copy_from_slice(&line[..keep]);
                        c.line_len = keep;
                        let framing = Framing { keep_alive: h.keep_alive && !cx.stopping, minor_version: h.minor_version };
                        if cx.root.is_some() || cx.kv.is_some() {
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
    // A request for the store: its directory, and the key (None: not a
    // valid key), copied out of the input.
    let mut kbuf = [0u8; crate::content::kvkey::MAX_KEY + 1];
    let target = h.target.of(&c.inb);
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
    if let Some(allow) = allow {
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
        Body::Length(n) if n <= (IN_BUF - h.head_len) as u64 => n as usize,
        Body::Length(_) => {
            queue_error(cx, c, 413);
            return false;
        }
        Body::Chunked => {
            queue_error(cx, c, 411);
            return false;
        }
    };
    if c.in_len < h.head_len + body {
        return false;
    }
    let target = h.target.of(&c.inb);
    let req = Req {
        head_only: h.method == Method::Head,
        target,
        if_none_match: h.if_none_match.map(|s| s.of(&c.inb)),
        if_modified_since: h.if_modified_since.map(|s| s.of(&c.inb)),
        range: h.range.map(|s| s.of(&c.inb)),
        if_range: h.if_range.map(|s| s.of(&c.inb)),
        accepts_gzip: h.accepts_gzip,
        framing,
        now: cx.unix,
    };
    let out = &mut c.out[c.out_len..];
    let reply = match (store, cx.root) {
        (Some((_, None)), _) => files::plain(out, &req, 400, Extra::None),
        (Some((dir, Some(key))), _) if h.method == Method::Delete => {
            files::plain(out, &req, files::kv_delete(dir, key), Extra::None)
        }
        (Some((dir, Some(key))), _) => files::kv_get(out, &req, dir, key),
        (None, Some(root)) => files::static_file(out, &req, root, cx.cfg.dotfiles),
        (None, None) => files::plain(out, &req, 404, Extra::None), // unreachable: one of the two is set
    };
    consume(c, h.head_len + body);
    queue_reply(cx, c, reply, framing);
    true
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
    match files::kv_begin(dir, key, cx.uploads) {
        Ok(up) => c.upload = Some(up),
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

/// Queues a reply the files module wrote into the output buffer, with the
/// file to send after it.
fn queue_reply(cx: &mut Ctx<'_>, c: &mut Conn, reply: files::Reply, framing: Framing) {
    if reply.len == 0 {
        queue_error(cx, c, 500);
        return;
    }
    c.out_len += reply.len;
    if let Some(b) = reply.body {
        c.send = Some(b.file);
        c.send_off = b.start;
        c.send_end = b.end;
    }
    log_request(cx, c, reply.status, reply.bytes);
    if !framing.keep_alive {
        c.close_after = true;
    }
}

fn start_body(cx: &mut Ctx<'_>, c: &mut Conn, left: BodyLeft, expect_continue: bool) {
    c.state = State::RecvBody;
    c.body = left;
    c.body_seen = 0;
    c.deadline = cx.now + cx.cfg.body_timeout;
    if expect_continue && c.in_len == 0 {
        push_out(c, response::CONTINUE);
    }
}

/// Takes body bytes from the input; true once the whole body is in.
fn read_body(cx: &mut Ctx<'_>, c: &mut Conn) -> bool {
    match c.body {
        BodyLeft::Length(left) => {
            let take = (c.in_len as u64).min(left) as usize;
            if !keep_body(cx, c, take) {
                return false;
            }
            consume(c, take);
            c.body = BodyLeft::Length(left - take as u64);
            left == take as u64
        }
        BodyLeft::Chunked => match c.chunked.decode(&mut c.inb[..c.in_len]) {
            Ok(p) => {
                c.body_seen = c.chunked.total();
                let limit = if c.upload.is_some() { cx.cfg.kv_max_value } else { cx.cfg.max_body };
                if c.body_seen > limit {
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
        },
    }
}

/// Writes the first `n` body bytes of the input to the upload's file, if
/// the body is a value being stored; false (and an error queued) if the
/// disk refused them.
fn keep_body(cx: &mut Ctx<'_>, c: &mut Conn, n: usize) -> bool {
    let Some(up) = &c.upload else { return true };
    match io::write_all(up.file.as_fd(), &c.inb[..n]) {
        Ok(()) => true,
        Err(e) => {
            queue_error(cx, c, if e == Errno::ENOSPC || e == Errno::EDQUOT { 507 } else { 500 });
            false
        }
    }
}

/// Queues the pending response (the request and its body are complete).
fn respond(cx: &mut Ctx<'_>, c: &mut Conn) {
    let p = c.pending;
    c.state = State::RecvHead;
    c.head_started = c.in_len > 0;
    c.deadline = cx.now + if c.head_started { cx.cfg.head_timeout } else { cx.cfg.idle_timeout };
    if let Kind::Store { put } = p.kind {
        let status = match (c.upload.take(), cx.kv) {
            (Some(up), Some(dir)) => files::kv_commit(dir, up, put),
            _ => 500,
        };
        let reply = files::plain(&mut c.out[c.out_len..], &Req::bare(p.framing, cx.unix), status, Extra::None);
        queue_reply(cx, c, reply, p.framing);
        return;
    }
    let start = c.out_len;
    let n = if p.kind == Kind::Fixed {
        let mut r = Response::start(&mut c.out[start..], 200, cx.unix);
        r.header(b"Content-Type", cx.cfg.content_type);
        match r.finish(cx.cfg.body.len() as u64, p.framing) {
            Ok(n) => {
                let body = if p.head_only { &b""[..] } else { cx.cfg.body };
                if start + n + body.len() <= OUT_BUF {
                    c.out[start + n..start + n + body.len()].copy_from_slice(body);
                    n + body.len()
                } else {
                    0
                }
            }
            Err(_) => 0,
        }
    } else {
        let allow = if let Kind::Refuse(a) = p.kind { a } else { files::ALLOW_READ };
        let mut r = Response::start(&mut c.out[start..], p.status, cx.unix);
        r.header(b"Allow", allow);
        r.error_page(p.framing, !p.head_only).unwrap_or(0)
    };
    if n == 0 {
        queue_error(cx, c, 500);
        return;
    }
    c.out_len += n;
    let body_len = if p.status == 200 && !p.head_only { cx.cfg.body.len() as u64 } else { 0 };
    log_request(cx, c, p.status, body_len);
    if !p.framing.keep_alive {
        c.close_after = true;
    }
}

/// Queues an error response that closes the connection; input is dropped.
fn queue_error(cx: &mut Ctx<'_>, c: &mut Conn, status: u16) {
    abort_upload(cx, c);
    let start = c.out_len;
    let n = response::error(&mut c.out[start..], status, cx.unix, Framing::CLOSE, true).unwrap_or(0);
    c.out_len += n;
    c.in_len = 0;
    c.state = State::RecvHead;
    c.close_after = true;
    c.lingers = true;
    let body = n.saturating_sub(files::head_len(&c.out[start..start + n]));
    log_request(cx, c, status, body as u64);
}

fn log_request(cx: &mut Ctx<'_>, c: &Conn, status: u16, bytes: u64) {
    if cx.cfg.quiet {
        return;
    }
    if LOG_BUF - cx.log.as_bytes().len() < log::LINE_MAX {
        flush_log(cx);
    }
    let mut text = [0u8; log::LINE_MAX];
    let n = log::clf(&mut text, &c.peer.ip, cx.unix, &c.line[..c.line_len], status, bytes);
    cx.log.push(&text[..n.min(text.len())]);
}

fn push_out(c: &mut Conn, bytes: &[u8]) {
    let end = (c.out_len + bytes.len()).min(OUT_BUF);
    let n = end - c.out_len;
    c.out[c.out_len..end].copy_from_slice(&bytes[..n]);
    c.out_len = end;
}

/// Drops `n` processed bytes from the front of the input.
fn consume(c: &mut Conn, n: usize) {
    let n = n.min(c.in_len);
    c.inb.copy_within(n..c.in_len, 0);
    c.in_len -= n;
}

/// Writes what is queued. Blocks on EPOLLOUT if the socket is full; after a
/// closing response, shuts the write side and lingers.
fn flush(cx: &mut Ctx<'_>, c: &mut Conn) {
    let Some(sock) = c.fd.as_ref().map(|f| f.as_fd()) else { return };
    while c.out_sent < c.out_len {
        let queued = &c.out[c.out_sent..c.out_len];
        // A file follows the head: MSG_MORE lets sendfile fill the same
        // segment, so a small file goes out as one packet, not two.
        let sent = if c.send.is_some() { net::send_more(sock, queued) } else { io::write(sock, queued) };
        match sent {
            Ok(n) => {
                c.out_sent += n;
                if c.blocked {
                    c.deadline = cx.now + cx.cfg.send_timeout; // progress
                }
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return block(cx, c),
            Err(_) => return free(cx, c),
        }
    }
    c.out_len = 0;
    c.out_sent = 0;
    if let Some(file) = &c.send {
        let mut sends = 0;
        while c.send_off < c.send_end {
            if sends == SENDS_PER_WAKE {
                return block(cx, c); // the socket is still writable: back soon
            }
            sends += 1;
            let want = (c.send_end - c.send_off).min(SEND_CHUNK as u64) as usize;
            match fs::sendfile(sock, file.as_fd(), &mut c.send_off, want) {
                // The file shrank under us: the promised length cannot be
                // kept, and closing is how the client learns the body is short.
                Ok(0) => return free(cx, c),
                Ok(_) if c.blocked => c.deadline = cx.now + cx.cfg.send_timeout,
                Ok(_) | Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return block(cx, c),
                Err(_) => return free(cx, c),
            }
        }
        c.send = None;
    }
    if c.blocked {
        c.blocked = false;
        watch(cx, c); // a MOD: block() added it
    }
    if c.close_after && c.state != State::Linger {
        if c.in_len == 0 && !c.lingers {
            // The request was read to its end and nothing followed it: close
            // now (no reset can destroy the response), as nginx does.
            free(cx, c);
            return;
        }
        // The client may still be sending (an error cut its request short):
        // close only our side, and drain until it is done, so that our
        // response is not destroyed by a reset.
        if let Some(f) = &c.fd {
            let _ = net::shutdown_write(f.as_fd());
        }
        c.state = State::Linger;
        c.in_len = 0;
        c.deadline = cx.now + LINGER_MS;
    }
}

/// Waits for EPOLLOUT before writing more (the deadline starts on the
/// first wait, and moves with every write that makes progress).
fn block(cx: &Ctx<'_>, c: &mut Conn) {
    if !c.blocked {
        c.blocked = true;
        c.deadline = cx.now + cx.cfg.send_timeout;
        watch(cx, c);
    }
}

/// Tells epoll what the connection waits for: room for output while
/// blocked, else input. The first call adds it (a connection enters epoll
/// only once its first read left it open); if that fails it is closed.
fn watch(cx: &Ctx<'_>, c: &mut Conn) {
    let Some(f) = &c.fd else { return };
    let events = if c.blocked { epoll::EPOLLOUT } else { epoll::EPOLLIN | epoll::EPOLLRDHUP };
    let op = if c.registered { epoll::EPOLL_CTL_MOD } else { epoll::EPOLL_CTL_ADD };
    match epoll::ctl(cx.ep, op, f.as_fd(), events, c.tag) {
        Ok(()) => c.registered = true,
        Err(_) if !c.registered => free(cx, c),
        Err(_) => {}
    }
}
