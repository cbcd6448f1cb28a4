//! Text built in a caller's fixed buffer, for messages sent with one write(2)
//! so that lines never interleave. One non-generic type keeps the tiny
//! binaries from carrying a copy of this code per buffer size.

/// Appends into a borrowed buffer; what does not fit is dropped (a message
/// is cut short, never overflows).
pub struct Line<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Line<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Line { buf, len: 0 }
    }

    /// Appends bytes, as many as fit.
    #[inline(never)]
    pub fn push(&mut self, s: &[u8]) -> &mut Self {
        for &b in s {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
        self
    }

    /// Appends text a user gave, as many bytes as fit, with control bytes
    /// shown as `?` so that a message stays one line on a terminal.
    pub fn push_shown(&mut self, s: &[u8]) -> &mut Self {
        for &b in s {
            self.push(&[if b < 0x20 || b == 0x7f { b'?' } else { b }]);
        }
        self
    }

    /// Appends `n` in decimal.
    pub fn push_u32(&mut self, n: u32) -> &mut Self {
        self.push_u64(u64::from(n))
    }

    /// Appends `n` in decimal (most significant digit first, by recursion:
    /// no digit buffer, no index to check).
    pub fn push_u64(&mut self, n: u64) -> &mut Self {
        if n >= 10 {
            self.push_u64(n / 10);
        }
        self.push(&[b'0' + (n % 10) as u8])
    }

    /// Appends `n` in decimal with a comma between groups of three digits
    /// (`262,144`), for counts a person reads.
    pub fn push_grouped(&mut self, n: u64) -> &mut Self {
        if n >= 1000 {
            self.push_grouped(n / 1000);
            let r = n % 1000;
            self.push(&[b',', b'0' + (r / 100) as u8, b'0' + (r / 10 % 10) as u8, b'0' + (r % 10) as u8])
        } else {
            self.push_u64(n)
        }
    }

    /// Empties the line, keeping the buffer.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// Parses a decimal number of 1 to 9 ASCII digits, nothing else (no sign,
/// no spaces): enough for ports, counts and seconds, and it cannot overflow.
pub fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    let mut n: u32 = 0;
    for &c in s {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u32::from(d);
    }
    Some(n)
}

/// One or more ASCII digits, nothing else; a value past u64 saturates to
/// `u64::MAX` (byte offsets, cgroup limits: past anything real either way).
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.saturating_mul(10).saturating_add(u64::from(c - b'0'));
    }
    Some(n)
}

/// The value of one hex digit, either case: chunk sizes, `%XX` escapes,
/// IPv6 groups.
pub fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_round_trip() {
        for n in [0u32, 7, 10, 8080, 65535, 999_999_999] {
            let mut b = [0; 10];
            let mut l = Line::new(&mut b);
            l.push_u32(n);
            assert_eq!(l.as_bytes(), n.to_string().as_bytes());
            assert_eq!(parse_u32(l.as_bytes()), Some(n));
        }
        let mut b = [0; 10];
        let mut l = Line::new(&mut b);
        l.push_u32(u32::MAX);
        assert_eq!(l.as_bytes(), b"4294967295");
        let mut b = [0; 20];
        let mut l = Line::new(&mut b);
        l.push_u64(u64::MAX);
        assert_eq!(l.as_bytes(), b"18446744073709551615");
    }

    #[test]
    fn parse_rejects() {
        for bad in [&b""[..], b"-1", b"+1", b" 1", b"1 ", b"0x10", b"1000000000", b"12345678901", b"1e3", b"/", b":"] {
            assert_eq!(parse_u32(bad), None, "{:?}", core::str::from_utf8(bad));
        }
    }

    #[test]
    fn hex_digits() {
        assert_eq!([b'0', b'9', b'a', b'f', b'A', b'F'].map(hex_value), [0, 9, 10, 15, 10, 15].map(Some));
        assert_eq!([b'g', b'G', b'/', b':', b' '].map(hex_value), [None; 5]);
    }

    #[test]
    fn line_truncates() {
        let mut b = [0; 8];
        let mut l = Line::new(&mut b);
        l.push(b"drift: ").push_u32(8080);
        assert_eq!(l.as_bytes(), b"drift: 8");
    }
}
