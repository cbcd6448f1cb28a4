//! The seam between a connection and its socket. A connection reads and
//! writes plaintext through these five calls and never learns whether the
//! bytes cross the wire as they are or as TLS records: a plain transport is
//! read(2), write(2) and sendfile(2); a TLS transport feeds records to its
//! session and sends the records it seals. The HTTP states stay in `conn`.
use crate::http::date::Stamp;
use crate::sys::{BorrowedFd, Errno, fs, io, net};

#[cfg(feature = "tls")]
use crate::sys::mem::Pool;
#[cfg(feature = "tls")]
use crate::tls::session::{self, Failure, Session};
#[cfg(feature = "tls")]
use alloc::{boxed::Box, sync::Arc};

/// How a connection's bytes travel.
pub struct Transport {
    #[cfg(feature = "tls")]
    tls: Option<Box<Session>>,
}

impl Transport {
    pub const PLAIN: Transport = Transport {
        #[cfg(feature = "tls")]
        tls: None,
    };

    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// The TLS version negotiated, for the access log; None over plain TCP.
    pub fn version(&self) -> Option<&'static str> {
        #[cfg(feature = "tls")]
        return self.tls.as_ref().and_then(|s| s.version());
        #[cfg(not(feature = "tls"))]
        None
    }
}

/// A worker's TLS state: the configuration new handshakes use, the record
/// blocks connections borrow, and the cap on handshakes in flight.
#[cfg(feature = "tls")]
pub struct Shared {
    pub config: Option<Arc<rustls::ServerConfig>>,
    /// The session-ticket secret, for a configuration made again at a reload.
    pub secret: [u8; 32],
    /// Where relative certificate paths are read from at a reload.
    pub start_dir: Option<crate::sys::OwnedFd>,
    pub pool: Pool,
    /// Handshakes this worker carries at once; a client past it is closed.
    pub max_handshakes: usize,
}

#[cfg(not(feature = "tls"))]
pub struct Shared;

/// Heap a connection may need at its peak (a TLS 1.3 handshake, ~7 KiB
/// measured, plus a record rustls decrypts into a vector of its own; a
/// ClientHello rustls parses is at most 64 KiB): a handshake starts only
/// while this much is left for each in flight.
#[cfg(feature = "tls")]
pub const HANDSHAKE_HEAP: usize = 64 * 1024;

/// A transport for a client accepted on the TLS listener, or None when
/// this worker is at its cap of handshakes or short of heap (the client is
/// then closed: an abort inside rustls would take every connection down).
#[cfg(feature = "tls")]
pub fn accept_tls(sh: &Shared) -> Option<Transport> {
    let config = sh.config.as_ref()?;
    let in_flight = session::handshakes_in_flight();
    if in_flight >= sh.max_handshakes || crate::sys::heap::room() < (in_flight + 2) * HANDSHAKE_HEAP {
        return None;
    }
    Some(Transport { tls: Some(Session::new(config.clone())?) })
}

#[cfg(feature = "tls")]
/// The answer to a plain HTTP request on the TLS port (nginx sends one
/// too): what went wrong, in words, then a close.
const PLAIN_ON_TLS: &[u8] = b"This port speaks HTTPS: the plain HTTP request was sent to the HTTPS port; use an https:// URL.\n";

/// Plaintext from the client into `buf`: `Ok(0)` at its end, EAGAIN when
/// nothing is here yet (a handshake may have moved on), any other errno
/// when the connection is done for (a TLS alert has then been sent).
pub fn read(t: &mut Transport, sh: &mut Shared, sock: BorrowedFd<'_>, buf: &mut [u8], now: &Stamp) -> Result<usize, Errno> {
    #[cfg(feature = "tls")]
    if let Some(s) = t.tls.as_deref_mut() {
        return read_tls(s, &mut sh.pool, sock, buf, now);
    }
    let _ = (t, sh, now);
    io::read(sock, buf)
}

#[cfg(feature = "tls")]
fn read_tls(s: &mut Session, pool: &mut Pool, sock: BorrowedFd<'_>, buf: &mut [u8], now: &Stamp) -> Result<usize, Errno> {
    if !s.lend(pool) {
        return Err(Errno::ENOBUFS);
    }
    let mut n = s.read(buf).map_err(|f| refuse(s, f, sock, now))?;
    if n == 0 && !s.peer_closed() {
        let space = s.space();
        if space.is_empty() {
            return Err(Errno::EPROTO); // a record larger than TLS allows
        }
        match io::read(sock, space) {
            Ok(0) => return Ok(0),
            Ok(k) => s.filled(k),
            Err(e) => return Err(e),
        }
        n = s.read(buf).map_err(|f| refuse(s, f, sock, now))?;
    }
    // Handshake messages (or a ticket) to answer with. A flight is a few
    // KiB and a new socket's send buffer is larger; one that does not fit
    // waits for the next read (the head timeout bounds a client that does
    // not read at all).
    match send_all(s, sock) {
        Ok(()) => {}
        Err(Errno::EAGAIN) if !s.is_handshaking() => {}
        Err(e) => return Err(e),
    }
    match n {
        0 if s.peer_closed() => Ok(0),
        0 => Err(Errno::EAGAIN),
        n => Ok(n),
    }
}

/// A session that failed: the client is told why (the 400 for plain HTTP,
/// or the alert queued), and the connection is done for.
#[cfg(feature = "tls")]
fn refuse(s: &mut Session, f: Failure, sock: BorrowedFd<'_>, now: &Stamp) -> Errno {
    match f {
        Failure::PlainHttp => plain_http_400(sock, now),
        _ => {
            let _ = send_all(s, sock);
        }
    }
    Errno::EPROTO
}

/// Whether the handshake finished since this was last asked (once).
pub fn handshake_finished(t: &mut Transport) -> bool {
    #[cfg(feature = "tls")]
    if let Some(s) = t.tls.as_deref_mut() {
        return s.take_handshake_done();
    }
    let _ = t;
    false
}

/// After a burst: free record blocks beyond `keep` go back to the kernel.
pub fn trim(sh: &mut Shared, keep: usize) {
    #[cfg(feature = "tls")]
    sh.pool.trim(keep);
    let _ = (sh, keep);
}

/// Whether `trim(keep)` has anything to release.
pub fn can_trim(sh: &Shared, keep: usize) -> bool {
    #[cfg(feature = "tls")]
    return sh.pool.can_trim(keep);
    #[cfg(not(feature = "tls"))]
    {
        let _ = (sh, keep);
        false
    }
}

#[cfg(feature = "tls")]
fn plain_http_400(sock: BorrowedFd<'_>, now: &Stamp) {
    let mut out = [0u8; 512];
    let mut r = crate::http::response::Response::start(&mut out, 400, now);
    r.header(b"Content-Type", b"text/plain");
    if let Ok(n) = r.finish(PLAIN_ON_TLS.len() as u64, crate::http::response::Conn::CLOSE) {
        let end = (n + PLAIN_ON_TLS.len()).min(out.len());
        out[n..end].copy_from_slice(&PLAIN_ON_TLS[..end - n]);
        let _ = io::write_all(sock, &out[..end]);
        let _ = net::shutdown_write(sock);
    }
}

/// Sends the session's sealed records; EAGAIN if the socket filled first.
#[cfg(feature = "tls")]
fn send_all(s: &mut Session, sock: BorrowedFd<'_>) -> Result<(), Errno> {
    while !s.output().is_empty() {
        match io::write(sock, s.output()) {
            Ok(n) => s.sent(n),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes plaintext; returns how much of `buf` has gone out. `more`: more
/// follows at once (a file after its head). Over TLS a count is returned
/// only once its records are all on the socket, so "written" means the
/// same on both transports.
pub fn write(t: &mut Transport, sh: &mut Shared, sock: BorrowedFd<'_>, buf: &[u8], more: bool) -> Result<usize, Errno> {
    #[cfg(feature = "tls")]
    if let Some(s) = t.tls.as_deref_mut() {
        return write_tls(s, &mut sh.pool, sock, buf);
    }
    let _ = (t, sh);
    if more { net::send_more(sock, buf) } else { io::write(sock, buf) }
}

#[cfg(feature = "tls")]
fn write_tls(s: &mut Session, pool: &mut Pool, sock: BorrowedFd<'_>, buf: &[u8]) -> Result<usize, Errno> {
    if !s.lend(pool) {
        return Err(Errno::ENOBUFS);
    }
    send_all(s, sock)?;
    let mut done = s.take_owed();
    while done < buf.len() {
        if s.seal(&buf[done..]).map_err(|_| Errno::EPROTO)? == 0 {
            break;
        }
        match send_all(s, sock) {
            Ok(()) => done += s.take_owed(),
            Err(Errno::EAGAIN) if done > 0 => break, // the rest is owed next time
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Sends up to `want` bytes of `file` from `*off`, advancing it by what
/// went out; `Ok(0)` if the file ended there. sendfile(2) when plain; over
/// TLS the bytes are read (pread) and sealed a record at a time.
pub fn send_file(
    t: &mut Transport,
    sh: &mut Shared,
    sock: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    off: &mut u64,
    want: usize,
) -> Result<usize, Errno> {
    #[cfg(feature = "tls")]
    if let Some(s) = t.tls.as_deref_mut() {
        return send_file_tls(s, &mut sh.pool, sock, file, off, want);
    }
    let _ = (t, sh);
    fs::sendfile(sock, file, off, want)
}

#[cfg(feature = "tls")]
fn send_file_tls(s: &mut Session, pool: &mut Pool, sock: BorrowedFd<'_>, file: BorrowedFd<'_>, off: &mut u64, want: usize) -> Result<usize, Errno> {
    if !s.lend(pool) {
        return Err(Errno::ENOBUFS);
    }
    send_all(s, sock)?;
    let mut done = s.take_owed();
    *off += done as u64;
    while done < want {
        let take = (want - done).min(session::SCRATCH);
        let got = fs::pread(file, &mut s.scratch()[..take], *off)?;
        if got == 0 {
            return Ok(done);
        }
        s.seal_scratch(got).map_err(|_| Errno::EPROTO)?;
        match send_all(s, sock) {
            Ok(()) => {
                let n = s.take_owed();
                *off += n as u64;
                done += n;
            }
            Err(Errno::EAGAIN) if done > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Input the transport holds that no socket event will announce: call
/// `read` again while the connection can take it.
pub fn buffered(t: &Transport) -> bool {
    #[cfg(feature = "tls")]
    if let Some(s) = t.tls.as_deref() {
        return s.buffered();
    }
    let _ = t;
    false
}

/// Between requests: record buffers with nothing in them go back.
pub fn settle(t: &mut Transport, sh: &mut Shared) {
    #[cfg(feature = "tls")]
    if let Some(s) = t.tls.as_deref_mut() {
        s.settle(&mut sh.pool);
    }
    let _ = (t, sh);
}

/// The connection is closing: over TLS a close_notify goes out if the
/// socket takes it at once, and the session and its buffers are freed.
pub fn close(t: &mut Transport, sh: &mut Shared, sock: Option<BorrowedFd<'_>>) {
    #[cfg(feature = "tls")]
    if let Some(mut s) = t.tls.take() {
        if let Some(sock) = sock
            && !s.is_handshaking()
            && s.lend(&mut sh.pool)
        {
            let _ = send_all(&mut s, sock);
            s.close_notify();
            let _ = send_all(&mut s, sock);
        }
        s.release(&mut sh.pool);
    }
    let _ = (t, sh, sock);
}
