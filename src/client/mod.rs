//! `driftd get URL` and `driftd check URL`: an HTTP/1.1 client inside the
//! server's binary, so a FROM-scratch image can fetch a file or answer a
//! HEALTHCHECK without curl. This file does the I/O, every wait bounded by
//! a deadline; `cmdline` and `exchange` are pure, `resolve` finds addresses.
//! It must never leave a cut-short `-o FILE` in place, nor exit 0 on a body
//! it could not prove whole.

pub mod cmdline;
pub mod exchange;
mod resolve;

use crate::content::dns::DnsError;
use crate::content::url::{self, Host, Url, UrlError};
use crate::fmt::Line;
use crate::server::{push_addr, tell};
use crate::sys::net::{self, SocketAddrV6};
use crate::sys::{BorrowedFd, Errno, OwnedFd, env::ProcEnv, fd, fs, io, poll, process, signal, time};
use cmdline::{Args, Mode, Parsed};
use exchange::{Body, BodyError, ReplyError};

/// The longest URL, as given or as a redirect makes it.
const URL_MAX: usize = 2048;
/// The receive buffer; a response head must fit in it (twice nginx's
/// default large header buffer).
const BUF: usize = 16 * 1024;
/// Redirects `get` follows before giving up.
const MAX_REDIRECTS: u32 = 5;
/// Room for a file path and its NUL.
const PATH_MAX: usize = 4096;

/// Where one exchange leads.
enum Step {
    Exit(i32),
    /// To the URL now at the start of `next`, this long.
    Redirect(usize),
}

/// `driftd get ...` or `driftd check ...`; returns the exit status.
pub fn main(env: ProcEnv, mode: Mode) -> i32 {
    // Docker reserves HEALTHCHECK status 2: `check` fails with 1, whatever failed.
    let usage = if mode == Mode::Check { 1 } else { 2 };
    let args = match cmdline::parse(mode, (2..env.arg_count()).filter_map(|i| env.arg(i))) {
        Parsed::Run(a) => a,
        Parsed::Help => {
            let _ = io::write_all(fd::STDOUT, crate::server::config::USAGE.as_bytes());
            return 0;
        }
        Parsed::Usage(why, arg) => {
            let sep: &[u8] = if arg.is_empty() { b"" } else { b": " };
            tell(&[why.as_bytes(), sep, arg, b" (driftd --help lists the options)"], None);
            return usage;
        }
    };
    // A peer that closes early is an error to report, not a reason to die.
    let _ = signal::ignore(signal::SIGPIPE);
    let mut cur = [0u8; URL_MAX];
    let mut next = [0u8; URL_MAX];
    let mut buf = [0u8; BUF];
    let Some(slot) = cur.get_mut(..args.url.len()) else {
        return fail(mode, b"", b"URL over 2048 bytes", usage);
    };
    slot.copy_from_slice(args.url);
    let mut len = args.url.len();
    let mut hops = 0;
    loop {
        let text = cur.get(..len).unwrap_or_default();
        let url = match url::parse(text) {
            Ok(u) => u,
            Err(e) => return fail(mode, text, url_error(e), usage),
        };
        match fetch(&env, &args, &url, text, &mut buf, &mut next, hops) {
            Step::Exit(code) => return code,
            Step::Redirect(n) => {
                cur[..n].copy_from_slice(&next[..n]);
                len = n;
                hops += 1;
            }
        }
    }
}

/// One exchange with the server `url` names: resolve, connect, send, read
/// the head, then (for `get` and 2xx) the body into the output.
fn fetch(env: &ProcEnv, args: &Args, url: &Url<'_>, text: &[u8], buf: &mut [u8; BUF], next: &mut [u8; URL_MAX], hops: u32) -> Step {
    let mode = args.mode;
    let mut clock = Clock::start(args);
    // Resolve, connect, send.
    let ip = match url.host {
        Host::Ip(ip) => ip,
        Host::Name(name) => match resolve::resolve(env, name, clock.at) {
            Ok(ip) => ip,
            Err(f) => return Step::Exit(resolve_failed(name, f)),
        },
    };
    clock.progress();
    let addr = SocketAddrV6 { ip: ip.to_v6_mapped(), port: url.port };
    let mut abuf = [0u8; 64];
    let mut a = Line::new(&mut abuf);
    push_addr(&mut a, addr);
    let at = a.as_bytes();
    let sock = match connect(addr, clock.at) {
        Ok(s) => s,
        Err(e) => return Step::Exit(report(b"connect ", at, e)),
    };
    let s = sock.as_fd();
    clock.progress();
    let Some(req) = exchange::request(url, buf) else {
        return Step::Exit(fail(mode, text, b"URL too long for the request buffer", 1));
    };
    if let Err(e) = send(s, req, clock.at) {
        return Step::Exit(report(b"send ", at, e));
    }

    // The head, after any 1xx interim responses.
    let mut filled = 0;
    let (head_len, framing) = loop {
        match exchange::parse_reply(buf.get(..filled).unwrap_or_default()) {
            Ok(None) => {}
            Ok(Some(r)) if r.status < 200 => {
                let n = r.head_len;
                buf.copy_within(n..filled, 0);
                filled -= n;
                continue;
            }
            Ok(Some(r)) => {
                let ok = match mode {
                    Mode::Check => r.status < 400,
                    Mode::Get => r.status < 300,
                };
                if ok && mode == Mode::Check {
                    return Step::Exit(0);
                }
                if ok {
                    break (r.head_len, r.framing);
                }
                let mut sbuf = [0u8; 160];
                let mut l = Line::new(&mut sbuf);
                l.push_u32(u32::from(r.status)).push(b" ").push(r.reason.get(..100).unwrap_or(r.reason));
                if mode == Mode::Get && exchange::is_redirect(r.status) {
                    let target = r.location.and_then(|loc| exchange::redirect_target(url, loc, next));
                    match target {
                        _ if hops == MAX_REDIRECTS => {
                            l.push(b" (after ").push_u32(MAX_REDIRECTS).push(b" redirects: no more)");
                        }
                        Some(t) if url::parse(t).is_ok() => return Step::Redirect(t.len()),
                        _ => {
                            l.push(b" (Location not followed: ").push(r.location.unwrap_or(b"none")).push(b")");
                        }
                    }
                }
                return Step::Exit(fail(mode, text, l.as_bytes(), 1));
            }
            Err(e) => return Step::Exit(fail(mode, text, reply_error(e), 1)),
        }
        let Some(room) = buf.get_mut(filled..).filter(|r| !r.is_empty()) else {
            return Step::Exit(fail(mode, text, b"response head over 16384 bytes", 1));
        };
        match recv(s, room, &mut clock) {
            Ok(0) if filled == 0 => return Step::Exit(fail(mode, text, b"connection closed without a response", 1)),
            Ok(0) => return Step::Exit(fail(mode, text, b"connection closed inside the response head", 1)),
            Ok(n) => filled += n,
            Err(e) => return Step::Exit(report(b"receive from ", at, e)),
        }
    };

    // The body: decoded in place, written out as it comes.
    let name = args.output.unwrap_or(b"stdout");
    let out = match Output::open(args.output) {
        Ok(o) => o,
        Err(e) => return Step::Exit(report(b"open ", name, e)),
    };
    let mut body = Body::new(framing);
    let mut start = head_len;
    loop {
        let piece = buf.get_mut(start..filled).unwrap_or_default();
        let n = match body.feed(piece) {
            Ok(n) => n,
            Err(_) => return Step::Exit(fail(mode, text, b"bad chunked body", 1)),
        };
        if let Err(e) = io::write_all(out.fd(), piece.get(..n).unwrap_or_default()) {
            return Step::Exit(report(b"write ", name, e));
        }
        if body.is_done() {
            break;
        }
        match recv(s, buf, &mut clock) {
            Ok(0) => match body.end() {
                Ok(_) => break,
                Err(e) => return Step::Exit(truncated(mode, text, e)),
            },
            Ok(n) => (start, filled) = (0, n),
            Err(e) => return Step::Exit(report(b"receive from ", at, e)),
        }
    }
    match out.commit() {
        Ok(()) => Step::Exit(0),
        Err(e) => Step::Exit(report(b"save ", name, e)),
    }
}

/// The deadline for the next step, in monotonic ms. `check`'s is fixed at
/// the start; `get`'s moves on with each step that makes progress.
struct Clock {
    at: u64,
    /// 0 for a fixed deadline.
    step_ms: u64,
}

impl Clock {
    fn start(args: &Args) -> Clock {
        let step_ms = if args.mode == Mode::Get { args.timeout_ms } else { 0 };
        Clock { at: time::monotonic_ms() + args.timeout_ms, step_ms }
    }

    fn progress(&mut self) {
        if self.step_ms > 0 {
            self.at = time::monotonic_ms() + self.step_ms;
        }
    }
}

/// Waits until `fd` is ready for `events` (or has an error or hang-up to
/// report); ETIMEDOUT once `deadline` (monotonic ms) has passed.
fn wait(fd: BorrowedFd<'_>, events: u32, deadline: u64) -> Result<(), Errno> {
    loop {
        let left = deadline.saturating_sub(time::monotonic_ms());
        if left == 0 {
            return Err(Errno::ETIMEDOUT);
        }
        match poll::wait(fd, events, left) {
            Ok(0) | Err(Errno::EINTR) => {}
            Ok(_) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// A non-blocking TCP connection to `addr`, established by `deadline`.
fn connect(addr: SocketAddrV6, deadline: u64) -> Result<OwnedFd, Errno> {
    let sock = net::socket_nonblocking(addr.family(), net::SOCK_STREAM)?;
    match net::connect(sock.as_fd(), addr) {
        Ok(()) => {}
        Err(Errno::EINPROGRESS) => {
            wait(sock.as_fd(), poll::POLLOUT, deadline)?;
            net::take_error(sock.as_fd())?;
        }
        Err(e) => return Err(e),
    }
    Ok(sock)
}

/// Writes all of `b` to the socket by `deadline`.
fn send(s: BorrowedFd<'_>, mut b: &[u8], deadline: u64) -> Result<(), Errno> {
    while !b.is_empty() {
        wait(s, poll::POLLOUT, deadline)?;
        match io::write(s, b) {
            Ok(n) => b = b.get(n..).unwrap_or_default(),
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One read from the socket, waiting for it until the clock's deadline;
/// `Ok(0)` is the server's close.
fn recv(s: BorrowedFd<'_>, buf: &mut [u8], clock: &mut Clock) -> Result<usize, Errno> {
    loop {
        wait(s, poll::POLLIN, clock.at)?;
        match io::read(s, buf) {
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            r => {
                clock.progress();
                return r;
            }
        }
    }
}

/// Where the body goes: stdout, or a temporary file beside `-o FILE` that
/// is renamed over FILE once the body is whole, and removed otherwise.
struct Output {
    file: Option<OwnedFd>,
    /// `FILE.PID.part` and `FILE`, NUL-terminated.
    temp: [u8; PATH_MAX],
    dest: [u8; PATH_MAX],
}

impl Output {
    fn open(path: Option<&[u8]>) -> Result<Output, Errno> {
        let mut o = Output { file: None, temp: [0; PATH_MAX], dest: [0; PATH_MAX] };
        let Some(path) = path else { return Ok(o) };
        let mut t = Line::new(&mut o.temp);
        t.push(path).push(b".").push_u32(process::pid() as u32).push(b".part\0");
        let long = t.as_bytes().len() >= PATH_MAX || with_nul(path, &mut o.dest).is_none();
        if long {
            return Err(Errno::ENAMETOOLONG);
        }
        // O_EXCL: never write through a link someone planted at that name.
        let flags = fs::O_WRONLY | fs::O_CREAT | fs::O_EXCL;
        o.file = Some(fs::openat(fs::CWD, &o.temp, flags, 0o666)?);
        Ok(o)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_ref().map_or(fd::STDOUT, OwnedFd::as_fd)
    }

    /// The body is whole: onto the disk, then into place.
    fn commit(mut self) -> Result<(), Errno> {
        if let Some(f) = self.file.take() {
            fs::fsync(f.as_fd())?;
            fs::rename(fs::CWD, &self.temp, &self.dest)?;
        }
        Ok(())
    }
}

impl Drop for Output {
    /// Not committed: the temporary file goes.
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::unlink(fs::CWD, &self.temp);
        }
    }
}

/// `path` with a NUL after it, in `out`; `None` if it does not fit.
fn with_nul<'a>(path: &[u8], out: &'a mut [u8; PATH_MAX]) -> Option<&'a [u8]> {
    let n = path.len();
    out.get_mut(..n)?.copy_from_slice(path);
    *out.get_mut(n)? = 0;
    out.get(..=n)
}

/// `driftd: get URL: what` (or `check`); returns `status`.
fn fail(mode: Mode, url: &[u8], what: &[u8], status: i32) -> i32 {
    let cmd: &[u8] = if mode == Mode::Get { b"get " } else { b"check " };
    tell(&[cmd, url, b": ", what], None);
    status
}

/// `driftd: CALL ADDR: Message (ENAME)`; returns 1.
fn report(call: &[u8], at: &[u8], e: Errno) -> i32 {
    tell(&[call, at], Some(e));
    1
}

fn truncated(mode: Mode, url: &[u8], e: BodyError) -> i32 {
    let mut b = [0u8; 96];
    let mut l = Line::new(&mut b);
    l.push(b"response truncated (");
    match e {
        BodyError::Truncated { got, want: Some(want) } => l.push_u64(got).push(b" of ").push_u64(want).push(b" bytes)"),
        BodyError::Truncated { got, want: None } => l.push_u64(got).push(b" bytes, before the last chunk)"),
        BodyError::BadChunks => l.push(b"bad chunked body)"),
    };
    fail(mode, url, l.as_bytes(), 1)
}

fn resolve_failed(name: &[u8], f: resolve::Failure) -> i32 {
    let what: &[u8] = match f {
        resolve::Failure::Server(addr, e) => {
            let mut abuf = [0u8; 64];
            let mut a = Line::new(&mut abuf);
            push_addr(&mut a, addr);
            tell(&[b"resolve ", name, b": DNS server ", a.as_bytes()], Some(e));
            return 1;
        }
        resolve::Failure::Dns(DnsError::NoSuchName) => b"no such host (NXDOMAIN)",
        resolve::Failure::Dns(DnsError::NoAddress) => b"no address (no A or AAAA record)",
        resolve::Failure::Dns(DnsError::ServerError(2)) => b"DNS server failure (SERVFAIL)",
        resolve::Failure::Dns(DnsError::ServerError(5)) => b"DNS query refused (REFUSED)",
        resolve::Failure::Dns(DnsError::Truncated) => b"DNS reply too long for UDP",
        resolve::Failure::Dns(_) => b"bad DNS reply",
    };
    tell(&[b"resolve ", name, b": ", what], None);
    1
}

fn url_error(e: UrlError) -> &'static [u8] {
    match e {
        UrlError::MissingScheme => b"not an http:// URL",
        UrlError::UnsupportedScheme => b"only http:// URLs are supported",
        UrlError::Userinfo => b"user@ in a URL is not supported",
        UrlError::EmptyHost => b"no host in the URL",
        UrlError::BadHost => b"bad host name or address",
        UrlError::BadPort => b"bad port (1-65535)",
        UrlError::BadPath => b"a space or control byte in the URL",
    }
}

fn reply_error(e: ReplyError) -> &'static [u8] {
    match e {
        ReplyError::NotHttp => b"not an HTTP/1.x response",
        ReplyError::TooManyHeaders => b"over 32 header lines in the response",
        ReplyError::BadLength => b"bad Content-Length in the response",
        ReplyError::UnsupportedCoding => b"unsupported Transfer-Encoding in the response",
    }
}
