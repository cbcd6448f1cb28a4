//! The `Transfer-Encoding: chunked` body decoder (RFC 9112 §7.1): a state
//! machine fed any split of the bytes, decoding in place. It owns chunk
//! framing only; it never reads past the body's last CRLF (those bytes are
//! the next request's) and never guesses at a malformed frame.
//!
//! Every line ending must be CRLF. RFC 9112 lets a recipient take a bare LF
//! for a line ending, and nginx does, but a proxy in front that reads the
//! frame differently is how requests get smuggled, so a bare LF is rejected.
//! For the same reason chunk extensions and trailer fields must have their
//! grammar's shape (a trailer "line" `GET /x HTTP/1.1` is refused, not
//! dropped), though their contents are read and dropped.

use crate::fmt::hex_value;

/// Bytes allowed on one chunk-size line (digits, leading zeros included,
/// and extensions): they are read and dropped, so without a cap a client
/// could stream them forever without the body growing (hyper, too, caps
/// extensions).
pub const MAX_EXTRA: u32 = 4096;

/// Trailer bytes in all: trailers are header fields, so they get a head's
/// limit.
pub const MAX_TRAILERS: u32 = super::request::MAX_HEAD as u32;

/// Why a chunked body is malformed. Answer 400 and close: the framing is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkError {
    /// A chunk-size line that does not start with a hex digit, has
    /// something other than `;`, blanks or CRLF after its digits, or blanks
    /// not followed by `;` (`1 \r\n`).
    BadSize,
    /// A chunk size or chunk sizes summing past u64.
    SizeOverflow,
    /// A `;` not followed by an extension name (`1;\r\n`, `1;;a`).
    BadExtension,
    /// A trailer line that is not `name:value` (no colon, a blank in or
    /// before the name, a folded line).
    BadTrailer,
    /// A CR not followed by LF, a bare LF, or chunk data longer than its size.
    BadLineEnding,
    /// A control byte in a chunk extension or trailer.
    BadByte,
    /// A size line over [`MAX_EXTRA`] bytes, or trailers over [`MAX_TRAILERS`].
    TooLong,
}

/// What one call to [`ChunkedDecoder::decode`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes used. Less than the input only when `done`: the rest
    /// belongs to the next request.
    pub consumed: usize,
    /// Decoded body bytes now at the front of the input buffer.
    pub written: usize,
    /// The last chunk, the trailers and the final CRLF have been read.
    pub done: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)] // Size = 0, so a decoder in a static table is all zeros (.bss)
enum State {
    /// In the hex digits of a chunk size.
    Size,
    /// Blanks after the digits, before `;`.
    SizeBlank,
    /// After a `;` (and blanks): an extension name must follow.
    ExtStart,
    /// In a chunk extension, outside quotes; it is dropped.
    Ext,
    /// In a quoted extension value, and just after a `\` in one.
    ExtQuoted,
    ExtEscape,
    /// CR seen at the end of a chunk-size line.
    SizeLf,
    /// In chunk data; `size` bytes to go (never 0 here).
    Data,
    DataCr,
    DataLf,
    /// At the start of a trailer line, or of the final CRLF.
    TrailerStart,
    /// In a trailer field's name, then its value (which is dropped).
    TrailerName,
    TrailerValue,
    TrailerLf,
    FinalLf,
    Done,
    /// Sticky: every later call fails the same way.
    Failed(ChunkError),
}

/// Decodes one chunked body. Create one per request.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    /// The size being read (in `Size`), then the data left (in `Data`).
    size: u64,
    /// Bytes of this size line (digits included), or trailer bytes so far.
    extra: u32,
    total: u64,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Control bytes other than HTAB: never part of an extension or a field.
fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// `tchar` (RFC 9110 §5.6.2): the bytes of a field or extension name.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl ChunkedDecoder {
    pub const fn new() -> Self {
        ChunkedDecoder { state: State::Size, size: 0, extra: 0, total: 0 }
    }

    /// Body bytes announced so far: the sum of every chunk size read,
    /// including data not yet received, so a body limit checked against it
    /// rejects a huge chunk as soon as its size line arrives.
    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `input` in place: the body bytes it holds are moved to its
    /// front. Any split of the body may be fed, down to one byte per call.
    /// Consumes all of `input` unless the body ends inside it. After an
    /// error, every later call returns the same error.
    pub fn decode(&mut self, input: &mut [u8]) -> Result<Progress, ChunkError> {
        let mut read = 0;
        let mut written = 0;
        loop {
            match self.state {
                State::Failed(e) => return Err(e),
                State::Done => break,
                State::Data => {
                    let avail = input.len().saturating_sub(read);
                    // INVARIANT: n <= avail, so read + n <= input.len(), and written <= read.
                    let n = usize::try_from(self.size).map_or(avail, |s| s.min(avail));
                    if n == 0 {
                        break;
                    }
                    input.copy_within(read..read + n, written);
                    read += n;
                    written += n;
                    self.size -= n as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                }
                _ => {
                    let Some(&b) = input.get(read) else { break };
                    read += 1;
                    match self.step(b) {
                        Ok(next) => self.state = next,
                        Err(e) => {
                            self.state = State::Failed(e);
                            return Err(e);
                        }
                    }
                }
            }
        }
        Ok(Progress { consumed: read, written, done: self.state == State::Done })
    }

    /// The state after framing byte `b`.
    fn step(&mut self, b: u8) -> Result<State, ChunkError> {
        use ChunkError::*;
        use State::*;
        if b == b'\n' && !matches!(self.state, SizeLf | DataLf | TrailerLf | FinalLf) {
            return Err(BadLineEnding); // a bare LF, wherever it is
        }
        // Size lines and trailers are counted against their caps, CR included.
        let cap = match self.state {
            Size | SizeBlank | ExtStart | Ext | ExtQuoted | ExtEscape => MAX_EXTRA,
            TrailerStart | TrailerName | TrailerValue => MAX_TRAILERS,
            _ => u32::MAX,
        };
        if cap != u32::MAX {
            self.extra += 1;
            if self.extra > cap {
                return Err(TooLong);
            }
        }
        let dropped = matches!(self.state, Ext | ExtQuoted | ExtEscape | TrailerValue);
        if dropped && is_ctl(b) && b != b'\r' {
            return Err(BadByte);
        }
        Ok(match (self.state, b) {
            (Size, _) if hex_value(b).is_some() => {
                // leading zeros are fine; a value past u64 is not
                if self.size >> 60 != 0 {
                    return Err(SizeOverflow);
                }
                self.size = self.size << 4 | u64::from(hex_value(b).unwrap_or(0));
                Size
            }
            (Size, _) if self.extra == 1 => return Err(BadSize), // no digit
            (Size | SizeBlank, b' ' | b'\t') => SizeBlank,
            (Size | SizeBlank, b';') | (Ext, b';') => ExtStart,
            (Size | Ext, b'\r') => SizeLf,
            (Size | SizeBlank, _) => return Err(BadSize),
            (ExtStart, b' ' | b'\t') => ExtStart,
            (ExtStart, _) if is_tchar(b) => Ext,
            (ExtStart, _) => return Err(BadExtension),
            (ExtQuoted | ExtEscape, b'\r') => return Err(BadByte),
            (ExtEscape, _) | (Ext, b'"') => ExtQuoted,
            (Ext, _) => Ext,
            (ExtQuoted, b'"') => Ext,
            (ExtQuoted, b'\\') => ExtEscape,
            (ExtQuoted, _) => ExtQuoted,
            (SizeLf, b'\n') if self.size == 0 => {
                self.extra = 0;
                TrailerStart
            }
            (SizeLf, b'\n') => {
                self.total = self.total.checked_add(self.size).ok_or(SizeOverflow)?;
                Data
            }
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => {
                self.size = 0;
                self.extra = 0;
                Size
            }
            (TrailerStart, b'\r') => FinalLf,
            (TrailerStart | TrailerName, _) if is_tchar(b) => TrailerName,
            (TrailerName, b':') => TrailerValue,
            (TrailerStart | TrailerName, _) => return Err(BadTrailer),
            (TrailerValue, b'\r') => TrailerLf,
            (TrailerValue, _) => TrailerValue,
            (TrailerLf, b'\n') => TrailerStart,
            (FinalLf, b'\n') => Done,
            // A missing CR or LF; Data, Done and Failed never reach here.
            _ => return Err(BadLineEnding),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes the way a server would:
    /// each piece is decoded in place, its output appended to the body.
    /// Returns (body, bytes consumed) or the error.
    fn run(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut d = ChunkedDecoder::new();
        let mut body = Vec::new();
        let mut used = 0;
        for piece in input.chunks(step.max(1)) {
            let mut buf = piece.to_vec();
            let p = d.decode(&mut buf)?;
            assert!(p.written <= p.consumed && p.consumed <= piece.len());
            assert!(p.done || p.consumed == piece.len(), "stopped early without being done");
            body.extend_from_slice(&buf[..p.written]);
            used += p.consumed;
            if p.done {
                assert!(d.is_done());
                return Ok((body, used));
            }
        }
        assert!(!d.is_done());
        Ok((body, usize::MAX)) // incomplete
    }

    const INCOMPLETE: usize = usize::MAX;

    #[test]
    fn decodes_any_split() {
        // (input, body, bytes consumed: the rest is the next request)
        let rows: &[(&[u8], &[u8], usize)] = &[
            (b"0\r\n\r\n", b"", 5),
            (b"5\r\nhello\r\n0\r\n\r\n", b"hello", 15),
            (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world", 26),
            (b"5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", b"hello", 15),
            (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789", 20),
            (b"a\r\n0123456789\r\n0\r\n\r\n", b"0123456789", 20),
            (b"000A\r\n0123456789\r\n00\r\n\r\n", b"0123456789", 24),
            (b"1;ext=val\r\nx\r\n0;a;b=\"q s\"\r\n\r\n", b"x", 29),
            (b"1 ;ext\r\nx\r\n0 \t; e\r\n\r\n", b"x", 21),
            (b"1;a=\"x;\\\"y\"\r\nx\r\n0\r\n\r\n", b"x", 21), // `;` and `\"` quoted
            (b"1\r\nx\r\n0\r\nX:\r\nY-1:\tv w\t\r\n\r\n", b"x", 26),
            (b"1\r\nx\r\n0\r\nExpires: never\r\nX-A: b\r\n\r\n", b"x", 35),
            (b"2\r\n\r\n\r\n0\r\n\r\n", b"\r\n", 12), // data may hold CRLF
            (b"1\r\n\xff\r\n0\r\n\r\n", b"\xff", 11),
            (b"0000000000000001\r\nz\r\n0\r\n\r\n", b"z", 26),
            // leading zeros past 16 digits: the value fits (llhttp, nginx agree)
            (b"000000000000000000000001\r\nz\r\n0\r\n\r\n", b"z", 34),
            (b"00000000000000000000000000\r\n\r\n", b"", 30),
            (b"5\r\nhel", b"hel", INCOMPLETE),
            (b"5\r\nhello\r\n0\r\n\r", b"hello", INCOMPLETE),
            (b"", b"", INCOMPLETE),
        ];
        for &(input, body, used) in rows {
            for step in 1..=input.len().max(1) {
                let got = run(input, step);
                assert_eq!(got, Ok((body.to_vec(), used)), "{:?} step {step}", String::from_utf8_lossy(input));
            }
        }
    }

    #[test]
    fn rejects() {
        let rows: &[(&[u8], ChunkError)] = &[
            (b"\r\n", ChunkError::BadSize),
            (b"x\r\n", ChunkError::BadSize),
            (b";ext\r\n", ChunkError::BadSize),
            (b" 5\r\nhello\r\n", ChunkError::BadSize),
            (b"-5\r\n", ChunkError::BadSize),
            (b"+5\r\n", ChunkError::BadSize),
            (b"0x5\r\n", ChunkError::BadSize),
            (b"5g\r\n", ChunkError::BadSize),
            (b"5 5\r\n", ChunkError::BadSize),
            (b"10000000000000000\r\n", ChunkError::SizeOverflow),
            (b"000000000000000000010000000000000000\r\n", ChunkError::SizeOverflow),
            // blanks not followed by an extension; empty extensions
            (b"1 \r\nx\r\n0\r\n\r\n", ChunkError::BadSize),
            (b"1\t\r\nx\r\n", ChunkError::BadSize),
            (b"5\r\nhello\r\n0 \r\n\r\n", ChunkError::BadSize),
            (b"1;\r\nx\r\n0\r\n\r\n", ChunkError::BadExtension),
            (b"1; \r\nx\r\n", ChunkError::BadExtension),
            (b"1 ;\r\nx\r\n", ChunkError::BadExtension),
            (b"1;a;\r\nx\r\n", ChunkError::BadExtension),
            (b"1;;a\r\nx\r\n", ChunkError::BadExtension),
            (b"1;=x\r\nx\r\n", ChunkError::BadExtension),
            (b"1;a=\"x\r\nx\r\n", ChunkError::BadByte),
            // trailers must be fields: a request line is not dropped
            (b"0\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", ChunkError::BadTrailer),
            (b"0\r\nNoColon\r\n\r\n", ChunkError::BadTrailer),
            (b"0\r\nX : v\r\n\r\n", ChunkError::BadTrailer),
            (b"0\r\n: v\r\n\r\n", ChunkError::BadTrailer),
            (b"0\r\nX y: v\r\n\r\n", ChunkError::BadTrailer),
            (b"0\r\nX: y\r\n folded\r\n\r\n", ChunkError::BadTrailer),
            (b"0\r\n\tX: y\r\n\r\n", ChunkError::BadTrailer),
            (b"0\r\nX\xff: y\r\n\r\n", ChunkError::BadTrailer),
            (b"5\nhello\r\n", ChunkError::BadLineEnding),
            (b"5\rhello\r\n", ChunkError::BadLineEnding),
            (b"5\r\nhelloX\r\n", ChunkError::BadLineEnding),
            (b"5\r\nhello\n0\r\n\r\n", ChunkError::BadLineEnding),
            (b"5\r\nhello\r0\r\n\r\n", ChunkError::BadLineEnding),
            (b"5\r\nhello\r\n0\r\n\n", ChunkError::BadLineEnding),
            (b"5\r\nhello\r\n0\n\r\n", ChunkError::BadLineEnding),
            (b"0\r\n\rX", ChunkError::BadLineEnding),
            (b"1;a\nx", ChunkError::BadLineEnding),
            (b"0\r\nX: y\n\r\n", ChunkError::BadLineEnding),
            (b"0\r\nX: y\rZ", ChunkError::BadLineEnding),
            (b"1;a\0b\r\nx\r\n", ChunkError::BadByte),
            (b"1;a\x7f\r\nx\r\n", ChunkError::BadByte),
            (b"0\r\nX: \x01\r\n\r\n", ChunkError::BadByte),
        ];
        for &(input, want) in rows {
            for step in [1, 2, 3, input.len()] {
                assert_eq!(run(input, step), Err(want), "{:?} step {step}", String::from_utf8_lossy(input));
            }
        }
    }

    #[test]
    fn total_overflow() {
        let mut d = ChunkedDecoder::new();
        let mut a = *b"ffffffffffffffff\r\n";
        assert!(d.decode(&mut a).is_ok());
        assert_eq!(d.total(), u64::MAX);
        // pretend the data arrived: skip to the next size line
        d.state = State::DataCr;
        let mut b = *b"\r\n1\r\n";
        assert_eq!(d.decode(&mut b), Err(ChunkError::SizeOverflow));
        assert_eq!(d.decode(&mut []), Err(ChunkError::SizeOverflow), "errors are sticky");
    }

    #[test]
    fn total_counts_announced_sizes() {
        let mut d = ChunkedDecoder::new();
        let mut a = *b"3\r\nab";
        assert_eq!(d.decode(&mut a), Ok(Progress { consumed: 5, written: 2, done: false }));
        assert_eq!(d.total(), 3);
        let mut b = *b"c\r\n10\r\n";
        assert_eq!(d.decode(&mut b), Ok(Progress { consumed: 7, written: 1, done: false }));
        assert_eq!(d.total(), 19);
    }

    #[test]
    fn caps_extensions_and_trailers() {
        // `1;` + a's + CR: the whole size line counts
        let at_cap = MAX_EXTRA as usize - 3;
        let mut ext = b"1;".to_vec();
        ext.extend(std::iter::repeat_n(b'a', at_cap));
        ext.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
        assert_eq!(run(&ext, 7).map(|r| r.0), Ok(b"x".to_vec())); // exactly at the cap
        ext.insert(2, b'a');
        assert_eq!(run(&ext, 7), Err(ChunkError::TooLong));
        // leading zeros count too: they cannot go on for ever
        let zeros = format!("{}1\r\nx\r\n0\r\n\r\n", "0".repeat(MAX_EXTRA as usize - 2));
        assert_eq!(run(zeros.as_bytes(), 100).map(|r| r.0), Ok(b"x".to_vec()));
        let zeros = format!("{}1\r\nx\r\n0\r\n\r\n", "0".repeat(MAX_EXTRA as usize - 1));
        assert_eq!(run(zeros.as_bytes(), 100), Err(ChunkError::TooLong));
        // the cap is per size line for extensions...
        let line = format!("1;{}\r\nx\r\n", "a".repeat(at_cap));
        let many = format!("{}0\r\n\r\n", line.repeat(4));
        assert_eq!(run(many.as_bytes(), 100).map(|r| r.0), Ok(b"xxxx".to_vec()));
        // ...and for all trailers together, which get a head's 8 KiB
        // (each line counts but its LF, and the final CR counts)
        let lines = (MAX_TRAILERS as usize - 1) / 5;
        let fits = format!("0\r\n{}\r\n", "X: y\r\n".repeat(lines));
        assert!(run(fits.as_bytes(), 100).is_ok());
        let t = format!("0\r\n{}\r\n", "X: y\r\n".repeat(lines + 1));
        assert_eq!(run(t.as_bytes(), 100), Err(ChunkError::TooLong));
    }

    #[test]
    fn done_stops() {
        let mut d = ChunkedDecoder::new();
        let mut a = *b"0\r\n\r\n";
        assert!(d.decode(&mut a).unwrap().done);
        let mut b = *b"5\r\nhello";
        assert_eq!(d.decode(&mut b), Ok(Progress { consumed: 0, written: 0, done: true }));
    }

    #[test]
    fn never_panics_on_noise() {
        // a cheap xorshift: every byte value, every split
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut v = Vec::new();
            let len = (x % 40) as usize;
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let alphabet = b"0123456789abcdefAF;\r\n \tzX:\0";
                v.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let _ = run(&v, 1 + (x % 5) as usize);
        }
    }
}
