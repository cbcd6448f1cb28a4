//! Response heads written into the caller's buffer: status line, headers,
//! framing. Owns the rule that a response is framed (Content-Length on
//! every status that has a body); never writes a byte past the buffer and
//! never lets a CR or LF from a header value split the response.

use super::date::Stamp;
use super::status::reason;

/// The interim response to `Expect: 100-continue`; nothing else goes on it.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Why a head was not written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadError {
    /// The buffer is too small for the head (and body, for error pages).
    BufferFull,
    /// A header name or value holds CR, LF or NUL (response splitting).
    BadByte,
}

/// What the end of this response does to the connection, and how to say
/// so to this client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conn {
    pub keep_alive: bool,
    /// The request's `HTTP/1.x` minor version: a 1.0 client hears
    /// `Connection: keep-alive`, a 1.1 client assumes it.
    pub minor_version: u8,
    /// `Strict-Transport-Security: max-age=` this many seconds (0: none):
    /// set on responses that go over HTTPS when `--hsts` is given.
    pub sts: u32,
}

impl Conn {
    /// For answers to requests that could not be parsed: say close, then close.
    pub const CLOSE: Conn = Conn { keep_alive: false, minor_version: 1, sts: 0 };
}

/// `false` for the statuses that never carry a body or Content-Length:
/// 1xx, 204 and 304 (RFC 9110 §8.6, RFC 9112 §6.3).
pub fn has_body(status: u16) -> bool {
    !(status < 200 || status == 204 || status == 304)
}

/// Appends into a borrowed buffer and remembers whether anything did not
/// fit, so a chain of pushes is checked once at the end. Non-generic, so
/// one copy of this code serves every buffer.
pub(crate) struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
    /// INVARIANT: once set, nothing more is written.
    full: bool,
}

impl<'a> Out<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Out { buf, len: 0, full: false }
    }

    /// Appends `s` whole, or nothing and marks the buffer full.
    #[inline(never)]
    pub(crate) fn push(&mut self, s: &[u8]) -> &mut Self {
        let end = self.len.saturating_add(s.len());
        match self.buf.get_mut(self.len..end) {
            Some(dst) if !self.full => {
                dst.copy_from_slice(s);
                self.len = end;
            }
            _ => self.full = true,
        }
        self
    }

    pub(crate) fn byte(&mut self, b: u8) -> &mut Self {
        self.push(&[b])
    }

    /// Appends `n` in decimal.
    #[inline(never)]
    pub(crate) fn u64(&mut self, mut n: u64) -> &mut Self {
        let mut digits = [0u8; 20]; // u64::MAX has 20 digits
        let mut i = digits.len();
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(digits.get(i..).unwrap_or_default())
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_full(&self) -> bool {
        self.full
    }
}

/// A response head being written. `start` writes the status line, `Server`
/// and `Date`; add headers; `finish` (or `error_page`) writes the framing
/// and the blank line and returns the length.
///
/// ```text
/// let n = Response::start(&mut buf, 200, now)
///     .header(b"Content-Type", b"text/html")
///     .finish(len, conn)?;
/// ```
pub struct Response<'a> {
    out: Out<'a>,
    status: u16,
    bad: bool,
}

impl<'a> Response<'a> {
    /// Writes `HTTP/1.1 <status> <reason>`, `Server: driftd` and `Date`.
    /// A server answers with the highest version it speaks, even to a 1.0
    /// client (RFC 9110 §6.2).
    pub fn start(buf: &'a mut [u8], status: u16, now: &Stamp) -> Self {
        let mut out = Out::new(buf);
        out.push(b"HTTP/1.1 ").u64(u64::from(status)).byte(b' ').push(reason(status).as_bytes());
        out.push(b"\r\nServer: driftd\r\n");
        out.push(b"Date: ").push(&now.text).push(b"\r\n");
        Response { out, status, bad: false }
    }

    /// Writes header lines that are already `name: value\r\n` and checked
    /// (a cached file's, made by `header` calls when it was cached).
    pub fn lines(&mut self, lines: &[u8]) -> &mut Self {
        self.out.push(lines);
        self
    }

    /// Writes `name: value`. A name or value holding CR, LF or NUL is not
    /// written, and `finish` then fails with [`HeadError::BadByte`].
    pub fn header(&mut self, name: &[u8], value: &[u8]) -> &mut Self {
        let splits = |s: &[u8]| s.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0));
        if splits(name) || splits(value) || name.is_empty() {
            self.bad = true;
        } else {
            self.out.push(name).push(b": ").push(value).push(b"\r\n");
        }
        self
    }

    /// Writes `Content-Range: bytes first-last/total` (a 206's range,
    /// `last` inclusive).
    pub fn content_range(&mut self, first: u64, last: u64, total: u64) -> &mut Self {
        self.out.push(b"Content-Range: bytes ").u64(first).byte(b'-').u64(last);
        self.out.byte(b'/').u64(total).push(b"\r\n");
        self
    }

    /// Writes `Content-Range: bytes */total`, which a 416 must carry.
    pub fn unsatisfied_range(&mut self, total: u64) -> &mut Self {
        self.out.push(b"Content-Range: bytes */").u64(total).push(b"\r\n");
        self
    }

    /// Writes `Content-Length: length` (unless the status has no body, see
    /// [`has_body`]), the `Connection` header `conn` calls for, and the
    /// blank line. Returns the head's length. Call once.
    pub fn finish(&mut self, length: u64, conn: Conn) -> Result<usize, HeadError> {
        if has_body(self.status) {
            self.out.push(b"Content-Length: ").u64(length).push(b"\r\n");
        }
        if conn.sts != 0 {
            self.out.push(b"Strict-Transport-Security: max-age=").u64(u64::from(conn.sts)).push(b"\r\n");
        }
        if !conn.keep_alive {
            self.out.push(b"Connection: close\r\n");
        } else if conn.minor_version == 0 {
            self.out.push(b"Connection: keep-alive\r\n");
        }
        self.out.push(b"\r\n");
        if self.bad {
            Err(HeadError::BadByte)
        } else if self.out.is_full() {
            Err(HeadError::BufferFull)
        } else {
            Ok(self.out.len())
        }
    }

    /// Finishes the head as a short text page, `404 Not Found\n`, and
    /// writes that body too unless `with_body` is false (an answer to
    /// HEAD). Returns the length of head and body.
    pub fn error_page(&mut self, conn: Conn, with_body: bool) -> Result<usize, HeadError> {
        let why = reason(self.status).as_bytes();
        let body_len = if has_body(self.status) { decimal_len(self.status) + 1 + why.len() + 1 } else { 0 };
        if body_len > 0 {
            self.header(b"Content-Type", b"text/plain");
        }
        let len = self.finish(body_len as u64, conn)?;
        if with_body && body_len > 0 {
            self.out.u64(u64::from(self.status)).byte(b' ').push(why).byte(b'\n');
            if self.out.is_full() {
                return Err(HeadError::BufferFull);
            }
        }
        Ok(if with_body { self.out.len() } else { len })
    }
}

fn decimal_len(n: u16) -> usize {
    match n {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1000..=9999 => 4,
        _ => 5,
    }
}

/// A whole error response with no extra headers, e.g. `400 Bad Request`
/// with [`Conn::CLOSE`]. For 405 (`Allow`) or 416 (`Content-Range`), use
/// [`Response::start`], add the header, then [`Response::error_page`].
pub fn error(buf: &mut [u8], status: u16, now: &Stamp, conn: Conn, with_body: bool) -> Result<usize, HeadError> {
    Response::start(buf, status, now).error_page(conn, with_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Stamp {
        Stamp::at(784_111_777) // Sun, 06 Nov 1994 08:49:37 GMT
    }
    const KEEP11: Conn = Conn { keep_alive: true, minor_version: 1, sts: 0 };
    const KEEP10: Conn = Conn { keep_alive: true, minor_version: 0, sts: 0 };

    fn text(b: &[u8]) -> &str {
        core::str::from_utf8(b).unwrap()
    }

    #[test]
    fn ok_head() {
        let mut b = [0; 512];
        let n = Response::start(&mut b, 200, &now())
            .header(b"Content-Type", b"text/html")
            .header(b"Last-Modified", b"Thu, 01 Jan 1970 00:00:00 GMT")
            .header(b"ETag", b"\"5e-2a\"")
            .finish(42, KEEP11)
            .unwrap();
        assert_eq!(
            text(&b[..n]),
            "HTTP/1.1 200 OK\r\nServer: driftd\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
             Content-Type: text/html\r\nLast-Modified: Thu, 01 Jan 1970 00:00:00 GMT\r\n\
             ETag: \"5e-2a\"\r\nContent-Length: 42\r\n\r\n"
        );
    }

    #[test]
    fn framing_rows() {
        // (status, length, conn, expected tail after Date)
        let rows: &[(u16, u64, Conn, &str)] = &[
            (200, 0, KEEP11, "Content-Length: 0\r\n\r\n"),
            (200, u64::MAX, KEEP11, "Content-Length: 18446744073709551615\r\n\r\n"),
            (200, 7, KEEP10, "Content-Length: 7\r\nConnection: keep-alive\r\n\r\n"),
            (200, 7, Conn::CLOSE, "Content-Length: 7\r\nConnection: close\r\n\r\n"),
            (404, 7, Conn { keep_alive: false, minor_version: 0, sts: 0 }, "Content-Length: 7\r\nConnection: close\r\n\r\n"),
            (204, 7, KEEP11, "\r\n"),
            (304, 7, KEEP11, "\r\n"),
            (304, 7, Conn::CLOSE, "Connection: close\r\n\r\n"),
            (101, 7, KEEP11, "\r\n"),
            (206, 3, KEEP11, "Content-Length: 3\r\n\r\n"),
        ];
        for &(status, len, conn, tail) in rows {
            let mut b = [0; 256];
            let n = Response::start(&mut b, status, &now()).finish(len, conn).unwrap();
            let s = text(&b[..n]);
            let head = format!("HTTP/1.1 {status} {}\r\nServer: driftd\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n", reason(status));
            assert_eq!(s, head + tail, "{status}");
        }
    }

    #[test]
    fn ranges() {
        let mut b = [0; 256];
        let n = Response::start(&mut b, 206, &now()).content_range(0, 99, 1000).finish(100, KEEP11).unwrap();
        assert!(text(&b[..n]).ends_with("Content-Range: bytes 0-99/1000\r\nContent-Length: 100\r\n\r\n"));
        let n = Response::start(&mut b, 416, &now()).unsatisfied_range(1000).error_page(KEEP11, true).unwrap();
        assert!(text(&b[..n]).ends_with(
            "Content-Range: bytes */1000\r\nContent-Type: text/plain\r\nContent-Length: 26\r\n\r\n416 Range Not Satisfiable\n"
        ));
    }

    #[test]
    fn error_pages() {
        let mut b = [0; 256];
        let n = error(&mut b, 404, &now(), KEEP11, true).unwrap();
        assert_eq!(
            text(&b[..n]),
            "HTTP/1.1 404 Not Found\r\nServer: driftd\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
             Content-Type: text/plain\r\nContent-Length: 14\r\n\r\n404 Not Found\n"
        );
        // HEAD: same head, no body
        let m = error(&mut b, 404, &now(), KEEP11, false).unwrap();
        assert_eq!(m, n - 14);
        let n = error(&mut b, 400, &now(), Conn::CLOSE, true).unwrap();
        assert!(text(&b[..n]).ends_with("Content-Length: 16\r\nConnection: close\r\n\r\n400 Bad Request\n"));
        let n = Response::start(&mut b, 405, &now()).header(b"Allow", b"GET, HEAD").error_page(KEEP11, true).unwrap();
        assert!(text(&b[..n]).contains("\r\nAllow: GET, HEAD\r\n"));
        assert!(text(&b[..n]).ends_with("Content-Length: 23\r\n\r\n405 Method Not Allowed\n"));
        // a status with no body gets none, whatever with_body says
        let n = error(&mut b, 304, &now(), KEEP11, true).unwrap();
        assert!(text(&b[..n]).ends_with("GMT\r\n\r\n"));
        // a status with no reason: empty phrase, body is just the number
        let n = error(&mut b, 299, &now(), KEEP11, true).unwrap();
        assert!(text(&b[..n]).starts_with("HTTP/1.1 299 \r\n"));
        assert!(text(&b[..n]).ends_with("Content-Length: 5\r\n\r\n299 \n"));
    }

    #[test]
    fn continue_is_bare() {
        assert_eq!(CONTINUE, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn rejects() {
        let mut b = [0; 256];
        let rows: &[(&[u8], &[u8])] = &[
            (b"Location", b"/x\r\nSet-Cookie: a=b"),
            (b"Location", b"/x\nX: y"),
            (b"Location", b"/x\r"),
            (b"Location", b"/\0"),
            (b"X\r\nY", b"z"),
            (b"", b"z"),
        ];
        for &(name, value) in rows {
            let r = Response::start(&mut b, 301, &now()).header(name, value).finish(0, KEEP11);
            assert_eq!(r, Err(HeadError::BadByte), "{value:?}");
        }
    }

    #[test]
    fn never_overflows() {
        let mut big = [0; 512];
        let full = error(&mut big, 404, &now(), Conn::CLOSE, true).unwrap();
        for size in 0..full {
            let mut b = vec![0xAA; size + 8];
            assert_eq!(error(&mut b[..size], 404, &now(), Conn::CLOSE, true), Err(HeadError::BufferFull), "{size}");
            assert!(b[size..].iter().all(|&x| x == 0xAA));
        }
        for size in 0..full {
            let mut b = vec![0; size];
            let r = Response::start(&mut b, 200, &now()).content_range(1, 2, 3).finish(1, KEEP11);
            assert!(r.is_err() || r.unwrap() <= size);
        }
        let mut b = vec![0; full];
        assert_eq!(error(&mut b, 404, &now(), Conn::CLOSE, true), Ok(full));
    }
}
