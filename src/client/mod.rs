//! `driftd get URL` and `driftd check URL`: an HTTP/1.1 client inside the
//! server's binary, so a FROM-scratch image can fetch a file or answer a
//! HEALTHCHECK without curl. This file does the I/O, every wait bounded by
//! a deadline; `cmdline` and `exchange` are pure, `resolve` finds addresses.
//! It must never leave a cut-short `-o FILE` in place, nor exit 0 on a body
//! it could not prove whole.

pub mod cmdline;
pub mod exchange;
mod resolve;

use crate::content::url::{self, Host, Url, UrlError};
use crate::fmt::Line;
use crate::diag::{push_addr, tell};
use crate::sys::net::{self, SocketAddrV6};
use crate::sys::{BorrowedFd, Errno, OwnedFd, env::ProcEnv, fd, fs, io, poll, process, signal, time};
use cmdline::{Args, Mode, Parsed};
use exchange::{Body, BodyError, ReplyError};

/// The longest URL a redirect may lead to.
const URL_MAX: usize = 2048;
/// The receive buffer; a response head must fit in it (twice nginx's
/// default large header buffer).
const BUF: usize = 16 * 1024;
/// Redirects `get` follows before giving up.
const MAX_REDIRECTS: u32 = 5;
/// Room for a file path and its NUL.
const PATH_MAX: usize = 4096;

/// How an exchange ended: `Ok(None)` done, `Ok(Some(n))` redirected to the
/// `n` bytes of URL it wrote, `Err(())` failed (the line is printed).
type Step = Result<Option<usize>, ()>;

/// `driftd get ...` or `driftd check ...`; returns the exit status.
pub fn main(env: ProcEnv, mode: Mode) -> i32 {
    // Docker reserves HEALTHCHECK status 2: `check` fails with 1, whatever failed.
    let usage = if mode == Mode::Check { 1 } else { 2 };
    let args = match cmdline::parse(mode, (2..env.arg_count()).filter_map(|i| env.arg(i))) {
        Parsed::Run(a) => a,
        Parsed::Help => {
            let _ = io::write_all(fd::STDOUT, crate::diag::USAGE.as_bytes());
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
    let mut text = args.url;
    let mut hops = 0;
    loop {
        let url = match url::parse(text) {
            Ok(u) => u,
            Err(e) => {
                fail(mode, text, &[url_error(e)]);
                return usage;
            }
        };
        match fetch(&env, &args, &url, text, &mut buf, &mut next, hops) {
            Ok(None) => return 0,
            Ok(Some(n)) => {
                cur[..n].copy_from_slice(&next[..n]);
                text = &cur[..n];
                hops += 1;
            }
            Err(()) => return 1,
        }
    }
}

/// One exchange with the server `url` names: resolve, connect, send, read
/// the head, then (for `get` and 2xx) the body into the output.
// Out of line: `main`'s frame holds two URL buffers; a separate frame for
// the exchange makes both smaller (measured: 240 bytes).
#[inline(never)]
fn fetch(env: &ProcEnv, args: &Args, url: &Url<'_>, text: &[u8], buf: &mut [u8; BUF], next: &mut [u8; URL_MAX], hops: u32) -> Step {
    let mode = args.mode;
    let bad = |what: &[&[u8]]| Err(fail(mode, text, what));
    // `check`'s deadline is fixed at the start; `get`'s moves on with each
    // step that makes progress.
    let step_ms = if mode == Mode::Get { args.timeout_ms } else { 0 };
    let mut clock = Clock { at: time::monotonic_ms() + args.timeout_ms, step_ms };
    let ip = match url.host {
        Host::Ip(ip) => ip,
        Host::Name(name) => resolve::resolve(env, name, clock.at).ok_or(())?,
    };
    clock.progress();
    let addr = SocketAddrV6 { ip: ip.to_v6_mapped(), port: url.port };
    let mut abuf = [0u8; 64];
    let at = peer(addr, &mut abuf);
    let sock = connect(addr, clock.at).map_err(|e| report(b"connect ", at, e))?;
    let s = sock.as_fd();
    clock.progress();
    let Some(req) = exchange::request(url, buf) else {
        return bad(&[b"URL too long"]);
    };
    send(s, req, clock.at).map_err(|e| report(b"send ", at, e))?;

    // The head, after any 1xx interim responses.
    let mut filled = 0;
    let (head_len, framing) = loop {
        match exchange::parse_reply(buf.get(..filled).unwrap_or_default()) {
            Ok(Some(r)) if r.status < 200 => {
                let n = r.head_len;
                buf.copy_within(n..filled, 0);
                filled -= n;
                continue;
            }
            Ok(Some(r)) if mode == Mode::Check && r.status < 400 => return Ok(None),
            Ok(Some(r)) if r.status < 300 => break (r.head_len, r.framing),
            Ok(Some(r)) => {
                let st = r.status;
                let code = [b'0' + (st / 100 % 10) as u8, b'0' + (st / 10 % 10) as u8, b'0' + (st % 10) as u8, b' '];
                let (a, b, c): (&[u8], &[u8], &[u8]) = match r.location {
                    _ if mode == Mode::Check || !exchange::is_redirect(st) => (b"", b"", b""),
                    _ if hops == MAX_REDIRECTS => (b" (after 5 redirects: no more)", b"", b""),
                    Some(loc) => match exchange::redirect_target(url, loc, next) {
                        Some(t) if url::parse(t).is_ok() => return Ok(Some(t.len())),
                        _ => (b" (Location not followed: ", loc, b")"),
                    },
                    None => (b" (Location not followed: none)", b"", b""),
                };
                return bad(&[&code, r.reason, a, b, c]);
            }
            Ok(None) => {}
            Err(e) => return bad(&[reply_error(e)]),
        }
        let Some(room) = buf.get_mut(filled..).filter(|r| !r.is_empty()) else {
            return bad(&[b"response head over 16384 bytes"]);
        };
        match recv(s, room, &mut clock).map_err(|e| report(b"receive from ", at, e))? {
            0 => return bad(&[b"connection closed before a whole response head"]),
            n => filled += n,
        }
    };

    // The body: decoded in place, written out as it comes.
    let name = args.output.unwrap_or(b"stdout");
    let mut out = Output::open(args.output).map_err(|e| report(b"open ", name, e))?;
    let mut body = Body::new(framing);
    let mut start = head_len;
    loop {
        let piece = buf.get_mut(start..filled).unwrap_or_default();
        let Ok(n) = body.feed(piece) else {
            return bad(&[b"bad chunked body"]);
        };
        io::write_all(out.fd(), piece.get(..n).unwrap_or_default()).map_err(|e| report(b"write ", name, e))?;
        if body.is_done() {
            break;
        }
        match recv(s, buf, &mut clock).map_err(|e| report(b"receive from ", at, e))? {
            0 => match body.end() {
                Ok(_) => break,
                Err(e) => return truncated(mode, text, e),
            },
            n => (start, filled) = (0, n),
        }
    }
    out.commit().map_err(|e| report(b"save ", name, e))?;
    Ok(None)
}

/// The deadline for the next step, in monotonic ms.
struct Clock {
    at: u64,
    /// How far `progress` moves the deadline; 0 for a fixed one.
    step_ms: u64,
}

impl Clock {
    fn progress(&mut self) {
        if self.step_ms > 0 {
            self.at = time::monotonic_ms() + self.step_ms;
        }
    }
}

/// `addr` as text (`127.0.0.1:80`, `[::1]:80`) in `buf`.
fn peer(addr: SocketAddrV6, buf: &mut [u8; 64]) -> &[u8] {
    let mut l = Line::new(buf);
    push_addr(&mut l, addr);
    let n = l.as_bytes().len();
    buf.get(..n).unwrap_or_default()
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
    /// `FILE` and `FILE.PID.part`, each NUL-terminated, one after the other.
    names: [u8; 2 * PATH_MAX],
    /// Where `FILE.PID.part` starts in `names`.
    temp_at: usize,
    /// Where it ends, its NUL included.
    end: usize,
}

impl Output {
    fn open(path: Option<&[u8]>) -> Result<Output, Errno> {
        let mut o = Output { file: None, names: [0; 2 * PATH_MAX], temp_at: 0, end: 0 };
        let Some(path) = path else { return Ok(o) };
        let mut l = Line::new(&mut o.names);
        l.push(path).push(b"\0").push(path).push(b".").push_u32(process::pid() as u32).push(b".part\0");
        o.end = l.as_bytes().len();
        o.temp_at = path.len() + 1;
        if o.end >= 2 * PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        // O_EXCL: never write through a link someone planted at that name.
        let flags = fs::O_WRONLY | fs::O_CREAT | fs::O_EXCL;
        o.file = Some(fs::openat(fs::CWD, o.temp(), flags, 0o666)?);
        Ok(o)
    }

    fn temp(&self) -> &[u8] {
        self.names.get(self.temp_at..self.end).unwrap_or_default()
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_ref().map_or(fd::STDOUT, OwnedFd::as_fd)
    }

    /// The body is whole: onto the disk, then into place.
    fn commit(&mut self) -> Result<(), Errno> {
        if let Some(f) = self.file.take() {
            fs::fsync(f.as_fd())?;
            fs::rename(fs::CWD, self.temp(), self.names.get(..self.temp_at).unwrap_or_default())?;
        }
        Ok(())
    }
}

impl Drop for Output {
    /// Not committed: the temporary file goes.
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::unlink(fs::CWD, self.temp());
        }
    }
}

/// `driftd: get URL: what..` (or `check`).
#[inline(never)]
fn fail(mode: Mode, url: &[u8], what: &[&[u8]]) {
    let mut b = [0u8; 512];
    let mut l = Line::new(&mut b);
    l.push(if mode == Mode::Get { b"get " } else { b"check " }).push(url).push(b": ");
    for w in what {
        l.push(w);
    }
    tell(&[l.as_bytes()], None);
}

/// `driftd: CALL WHERE: Message (ENAME)`.
#[inline(never)]
fn report(call: &[u8], at: &[u8], e: Errno) {
    tell(&[call, at], Some(e));
}

fn truncated(mode: Mode, url: &[u8], e: BodyError) -> Step {
    let mut b = [0u8; 96];
    let mut l = Line::new(&mut b);
    l.push(b"response truncated (");
    match e {
        BodyError::Truncated { got, want: Some(want) } => l.push_u64(got).push(b" of ").push_u64(want).push(b" bytes)"),
        BodyError::Truncated { got, want: None } => l.push_u64(got).push(b" bytes, before the last chunk)"),
        BodyError::BadChunks => l.push(b"bad chunked body)"),
    };
    Err(fail(mode, url, &[l.as_bytes()]))
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
        ReplyError::TooManyHeaders => b"over 32 header lines",
        ReplyError::BadLength => b"bad Content-Length",
        ReplyError::UnsupportedCoding => b"unsupported Transfer-Encoding",
        ReplyError::ConflictingFraming => b"both Content-Length and Transfer-Encoding",
    }
}
