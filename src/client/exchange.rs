//! One HTTP/1.1 exchange from the client's side, as pure functions: the
//! request's bytes, the response head (status, and how its body is framed),
//! the body decoded from any split of the bytes, and where a redirect leads.
//! It must never take a cut-short body for a whole one, nor guess at a
//! framing it cannot decode.

use crate::content::url::Url;
use crate::fmt::Line;
use crate::http::chunked::ChunkedDecoder;
use crate::http::request::parse_length;

/// Header lines read from a response; one more is
/// [`ReplyError::TooManyHeaders`]. Servers send about 10; the array is
/// initialised on every parse, so it stays small (the server's own limit
/// is only its head size).
const MAX_HEADERS: usize = 32;

/// How the response body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// 1xx, 204 and 304 carry no body, whatever their headers say.
    Empty,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body is everything until the server closes.
    UntilClose,
}

/// A parsed response head; slices borrow the buffer it was parsed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply<'a> {
    pub status: u16,
    /// As the server wrote it (possibly empty).
    pub reason: &'a [u8],
    /// Bytes of head, blank line included: the body starts here.
    pub head_len: usize,
    pub framing: Framing,
    /// The first `Location` value, trimmed.
    pub location: Option<&'a [u8]>,
}

/// Why a response head cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// Not an HTTP/1.x status line and header lines.
    NotHttp,
    /// More than [`MAX_HEADERS`] header lines.
    TooManyHeaders,
    /// A Content-Length that is not digits, or two that differ.
    BadLength,
    /// A transfer coding other than a single `chunked` (we asked for none).
    UnsupportedCoding,
    /// Both Content-Length and Transfer-Encoding on a response that has a
    /// body: RFC 9112 §6.3 lets the coding win, but says such a message
    /// "ought to be handled as an error" (it is how responses are split).
    ConflictingFraming,
}

/// Why a body is not whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The server closed first: `got` bytes of `want` (`None`: chunked).
    Truncated { got: u64, want: Option<u64> },
    /// The chunked framing is broken.
    BadChunks,
}

/// `GET path?query HTTP/1.1` with Host, User-Agent, Accept and
/// `Connection: close` (one request per connection), in `out`. `None` if
/// it does not fit.
pub fn request<'a>(url: &Url<'_>, out: &'a mut [u8]) -> Option<&'a [u8]> {
    let cap = out.len();
    let mut l = Line::new(out);
    l.push(b"GET ").push(url.path).push(url.query);
    l.push(b" HTTP/1.1\r\nHost: ").push(url.authority);
    l.push(concat!("\r\nUser-Agent: driftd/", env!("CARGO_PKG_VERSION"), "\r\nAccept: */*\r\nConnection: close\r\n\r\n").as_bytes());
    let n = l.as_bytes().len();
    // A full buffer may have dropped bytes: refuse rather than send half.
    if n < cap { out.get(..n) } else { None }
}

/// The response head at the start of `buf`; `Ok(None)` until it has ended
/// (read more, then parse the whole buffer again). The status line is
/// matched here (`HTTP/1.0` or `HTTP/1.1`, three digits, a reason of
/// visible bytes, SP and HTAB); the header lines by `httparse`, as the
/// server's are.
// Out of line, like the other large steps of `fetch`: a function on its own
// frame is smaller than the same code inside the caller's 40 KB one.
#[inline(never)]
pub fn parse_reply(buf: &[u8]) -> Result<Option<Reply<'_>>, ReplyError> {
    // Blank lines before a status line are passed over (RFC 9112 §2.2).
    let skip = buf.iter().take_while(|&&c| c == b'\r' || c == b'\n').count();
    let buf = buf.get(skip..).unwrap_or_default();
    let Some(nl) = buf.iter().position(|&c| c == b'\n') else {
        // No whole line yet: wait, unless it cannot become a status line.
        let n = buf.len().min(7);
        return if buf.get(..n) == b"HTTP/1.".get(..n) { Ok(None) } else { Err(ReplyError::NotHttp) };
    };
    let line = buf.get(..nl).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (code, reason) = match line.strip_prefix(b"HTTP/1.") {
        Some([b'0' | b'1', b' ', code @ ..]) if code.len() >= 3 => code.split_at(3),
        _ => return Err(ReplyError::NotHttp),
    };
    let reason = match reason {
        [] => reason,
        [b' ', r @ ..] if r.iter().all(|&c| c == b'\t' || (c >= b' ' && c != 0x7f)) => r,
        _ => return Err(ReplyError::NotHttp),
    };
    let mut status: u16 = 0;
    for &c in code {
        if !c.is_ascii_digit() {
            return Err(ReplyError::NotHttp);
        }
        status = status * 10 + u16::from(c - b'0');
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let (head_len, headers) = match httparse::parse_headers(buf.get(nl + 1..).unwrap_or_default(), &mut headers) {
        Ok(httparse::Status::Complete((n, h))) => (skip + nl + 1 + n, h),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(ReplyError::TooManyHeaders),
        Err(_) => return Err(ReplyError::NotHttp),
    };
    let mut length = None;
    let mut chunked = false;
    let mut location = None;
    for h in headers {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_length(h.value).ok_or(ReplyError::BadLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(ReplyError::BadLength);
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Only one header, holding only `chunked`: we sent no TE.
            if chunked || !h.value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(ReplyError::UnsupportedCoding);
            }
            chunked = true;
        } else if location.is_none() && name.eq_ignore_ascii_case(b"location") {
            location = Some(h.value.trim_ascii());
        }
    }
    let framing = match (status, length) {
        (100..=199 | 204 | 304, _) => Framing::Empty,
        _ if chunked && length.is_some() => return Err(ReplyError::ConflictingFraming),
        _ if chunked => Framing::Chunked,
        (_, Some(n)) => Framing::Length(n),
        (_, None) => Framing::UntilClose,
    };
    Ok(Some(Reply { status, reason, head_len, framing, location }))
}

/// A response body being received: fed the bytes after the head in any
/// split, it says how many of them are body and when it is whole.
#[derive(Clone, Debug)]
pub struct Body {
    framing: Framing,
    /// Body bytes so far (decoded, for chunked).
    got: u64,
    done: bool,
    chunks: ChunkedDecoder,
}

impl Body {
    pub fn new(framing: Framing) -> Body {
        let done = matches!(framing, Framing::Empty | Framing::Length(0));
        Body { framing, got: 0, done, chunks: ChunkedDecoder::new() }
    }

    /// Decodes `input` in place; returns how many body bytes are now at its
    /// front. Bytes past the end of a framed body are ignored.
    pub fn feed(&mut self, input: &mut [u8]) -> Result<usize, BodyError> {
        let n = match self.framing {
            Framing::Empty => 0,
            Framing::Length(len) => {
                let n = (len - self.got).min(input.len() as u64);
                self.done = self.got + n == len;
                n as usize
            }
            Framing::Chunked => {
                let p = self.chunks.decode(input).map_err(|_| BodyError::BadChunks)?;
                self.done = p.done;
                p.written
            }
            Framing::UntilClose => input.len(),
        };
        self.got += n as u64;
        Ok(n)
    }

    /// Whether the body is whole and nothing more need be read.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The server closed the connection: the body's length if it is whole.
    pub fn end(&self) -> Result<u64, BodyError> {
        match self.framing {
            _ if self.done => Ok(self.got),
            Framing::UntilClose => Ok(self.got),
            Framing::Length(n) => Err(BodyError::Truncated { got: self.got, want: Some(n) }),
            _ => Err(BodyError::Truncated { got: self.got, want: None }),
        }
    }
}

/// Statuses whose Location `get` follows (with another GET).
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Where a redirect from `url` to `location` leads, as URL text in `out`:
/// an absolute URL as it is (`content::url::parse` then refuses anything
/// but `http://`), `//host/path` with `http:` in front, `/path` on `url`'s
/// authority. `None` for a relative reference (`a/b`, `?q`, empty) or when
/// it does not fit.
pub fn redirect_target<'a>(url: &Url<'_>, location: &[u8], out: &'a mut [u8]) -> Option<&'a [u8]> {
    let cap = out.len();
    let (scheme, authority): (&[u8], &[u8]) = match location {
        [b'/', b'/', ..] => (b"http:", b""),
        [b'/', ..] => (b"http://", url.authority),
        _ if location.windows(3).any(|w| w == b"://") => (b"", b""),
        _ => return None,
    };
    let mut l = Line::new(out);
    l.push(scheme).push(authority).push(location);
    let n = l.as_bytes().len();
    if n < cap { out.get(..n) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::url;

    #[test]
    fn request_bytes() {
        let mut out = [0u8; 512];
        let u = url::parse(b"http://127.0.0.1:8080/a/b?c=d#frag").unwrap();
        let want = format!(
            "GET /a/b?c=d HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: driftd/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(request(&u, &mut out), Some(want.as_bytes()));
        let u = url::parse(b"http://[::1]").unwrap();
        assert!(request(&u, &mut out).unwrap().starts_with(b"GET / HTTP/1.1\r\nHost: [::1]\r\n"));
        // Exactly full is refused too: it cannot be told from cut short.
        let n = want.len();
        let u = url::parse(b"http://127.0.0.1:8080/a/b?c=d").unwrap();
        assert_eq!(request(&u, &mut out[..n + 1]).map(<[u8]>::len), Some(n));
        assert_eq!(request(&u, &mut out[..n]), None);
        assert_eq!(request(&u, &mut out[..10]), None);
    }

    #[test]
    fn reply_heads() {
        use Framing::*;
        type Row = (&'static [u8], Result<Option<(u16, &'static [u8], Framing, Option<&'static [u8]>)>, ReplyError>);
        let rows: &[Row] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", Ok(Some((200, b"OK", Length(5), None)))),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", Ok(Some((200, b"OK", Length(0), None)))),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nContent-Length: 5\r\n\r\n", Ok(Some((200, b"OK", Length(5), None)))),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Ok(Some((200, b"OK", Chunked, None)))),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked \r\n\r\n", Ok(Some((200, b"OK", Chunked, None)))),
            // one framing only: both is how a response gets split
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked \r\nContent-Length: 3\r\n\r\n", Err(ReplyError::ConflictingFraming)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", Err(ReplyError::ConflictingFraming)),
            (b"HTTP/1.1 304 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", Ok(Some((304, b"OK", Empty, None)))),
            (b"HTTP/1.0 200 OK\r\n\r\nabc", Ok(Some((200, b"OK", UntilClose, None)))),
            (b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", Ok(Some((204, b"No Content", Empty, None)))),
            (b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", Ok(Some((304, b"Not Modified", Empty, None)))),
            (b"HTTP/1.1 100 Continue\r\n\r\n", Ok(Some((100, b"Continue", Empty, None)))),
            (b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n", Ok(Some((404, b"Not Found", Length(3), None)))),
            (b"HTTP/1.1 599 \r\n\r\n", Ok(Some((599, b"", UntilClose, None)))),
            (
                b"HTTP/1.1 302 Found\r\nLocation:  /next \r\nLocation: /other\r\nContent-Length: 0\r\n\r\n",
                Ok(Some((302, b"Found", Length(0), Some(b"/next")))),
            ),
            (b"HTTP/1.1 200 OK\n\n", Ok(Some((200, b"OK", UntilClose, None)))),
            (b"\r\nHTTP/1.1 200 OK\r\n\r\n", Ok(Some((200, b"OK", UntilClose, None)))),
            (b"HTTP/1.0 301\r\n\r\n", Ok(Some((301, b"", UntilClose, None)))),
            (b"HTTP/1.1 200 \tOK \xff\r\n\r\n", Ok(Some((200, b"\tOK \xff", UntilClose, None)))),
            // Not yet.
            (b"", Ok(None)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", Ok(None)),
            (b"HTTP/1.1 200 OK\r\n\r", Ok(None)),
            (b"HTTP/1.", Ok(None)),
            (b"HTTP/1.1 200 OK", Ok(None)),
            (b"\r\n", Ok(None)),
            // Reject rows.
            (b"SSH-2.0-OpenSSH_9.2\r\n", Err(ReplyError::NotHttp)),
            (b"HTTP/2 200\r\n\r\n", Err(ReplyError::NotHttp)),
            (b"HTTP/1.1 2000 OK\r\n\r\n", Err(ReplyError::NotHttp)),
            (b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", Err(ReplyError::NotHttp)),
            (b"<html>hello</html>", Err(ReplyError::NotHttp)),
            (b"HTTP/1.2 200 OK\r\n\r\n", Err(ReplyError::NotHttp)),
            (b"HTTP/1.1 20 OK\r\n\r\n", Err(ReplyError::NotHttp)),
            (b"HTTP/1.1 2x0 OK\r\n\r\n", Err(ReplyError::NotHttp)),
            (b"HTTP/1.1 200OK\r\n\r\n", Err(ReplyError::NotHttp)),
            (b"HTTP/1.1  200 OK\r\n\r\n", Err(ReplyError::NotHttp)),
            (b"HTTP/1.1 200 O\x01K\r\n\r\n", Err(ReplyError::NotHttp)),
            (b"HTTP/1.1 200 OK\r\r\n\r\n", Err(ReplyError::NotHttp)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", Err(ReplyError::BadLength)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", Err(ReplyError::BadLength)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", Err(ReplyError::BadLength)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", Err(ReplyError::BadLength)),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Err(ReplyError::UnsupportedCoding)),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", Err(ReplyError::UnsupportedCoding)),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err(ReplyError::UnsupportedCoding),
            ),
        ];
        for &(input, want) in rows {
            let got = parse_reply(input).map(|o| o.map(|r| (r.status, r.reason, r.framing, r.location)));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(input));
        }
        let r = parse_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").unwrap().unwrap();
        assert_eq!(r.head_len, 38);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        let head = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
        assert_eq!(parse_reply(head.as_bytes()), Err(ReplyError::TooManyHeaders));
    }

    /// Feeds `input` in pieces of `step`: (body, done, end()).
    fn body(framing: Framing, input: &[u8], step: usize) -> (Vec<u8>, bool, Result<u64, BodyError>) {
        let mut b = Body::new(framing);
        let mut out = Vec::new();
        for piece in input.chunks(step) {
            let mut buf = piece.to_vec();
            match b.feed(&mut buf) {
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, false, Err(e)),
            }
        }
        (out, b.is_done(), b.end())
    }

    #[test]
    fn bodies() {
        use BodyError::*;
        use Framing::*;
        type Row = (Framing, &'static [u8], &'static [u8], bool, Result<u64, BodyError>);
        let rows: &[Row] = &[
            (Length(5), b"hello", b"hello", true, Ok(5)),
            (Length(5), b"hello, and more", b"hello", true, Ok(5)),
            (Length(0), b"", b"", true, Ok(0)),
            (Empty, b"ignored", b"", true, Ok(0)),
            (UntilClose, b"all of it", b"all of it", false, Ok(9)),
            (UntilClose, b"", b"", false, Ok(0)),
            (Chunked, b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world", true, Ok(11)),
            (Chunked, b"0\r\n\r\ntrailing", b"", true, Ok(0)),
            // Cut short.
            (Length(1000), b"hello", b"hello", false, Err(Truncated { got: 5, want: Some(1000) })),
            (Length(5), b"", b"", false, Err(Truncated { got: 0, want: Some(5) })),
            (Chunked, b"5\r\nhello\r\n", b"hello", false, Err(Truncated { got: 5, want: None })),
            (Chunked, b"5\r\nhel", b"hel", false, Err(Truncated { got: 3, want: None })),
            (Chunked, b"5\r\nhello\r\n0\r\n\r", b"hello", false, Err(Truncated { got: 5, want: None })),
            (Chunked, b"", b"", false, Err(Truncated { got: 0, want: None })),
            // Broken framing.
            (Chunked, b"zz\r\n", b"", false, Err(BadChunks)),
            (Chunked, b"5\r\nhelloX\r\n", b"hello", false, Err(BadChunks)),
        ];
        for &(framing, input, want, done, end) in rows {
            for step in 1..=input.len().max(1) {
                let what = format!("{framing:?} {:?} step {step}", String::from_utf8_lossy(input));
                let (got, got_done, got_end) = body(framing, input, step);
                assert_eq!((got_done, got_end), (done, end), "{what}");
                if end == Err(BadChunks) {
                    // What came before the error may be cut anywhere.
                    assert!(want.starts_with(&got), "{what}: {got:?}");
                } else {
                    assert_eq!(got, want, "{what}");
                }
            }
        }
    }

    #[test]
    fn redirects() {
        for s in [301, 302, 303, 307, 308] {
            assert!(is_redirect(s));
        }
        for s in [200, 300, 304, 305, 306, 309, 404] {
            assert!(!is_redirect(s));
        }
        let u = url::parse(b"http://127.0.0.1:8080/a/b?q").unwrap();
        let rows: &[(&[u8], Option<&[u8]>)] = &[
            (b"/c?d=1", Some(b"http://127.0.0.1:8080/c?d=1")),
            (b"/", Some(b"http://127.0.0.1:8080/")),
            (b"//web:81/x", Some(b"http://web:81/x")),
            (b"http://other/", Some(b"http://other/")),
            (b"HTTP://other/", Some(b"HTTP://other/")),
            (b"https://secure/", Some(b"https://secure/")),
            // Reject rows.
            (b"", None),
            (b"c", None),
            (b"../c", None),
            (b"?q=2", None),
            (b"#f", None),
        ];
        let mut out = [0u8; 64];
        for &(loc, want) in rows {
            assert_eq!(redirect_target(&u, loc, &mut out), want, "{:?}", String::from_utf8_lossy(loc));
        }
        let long = [b'/'; 64];
        assert_eq!(redirect_target(&u, &long, &mut out), None);
    }
}
