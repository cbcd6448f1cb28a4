//! base64url without padding (RFC 4648 §5), as JOSE writes every binary
//! field (RFC 7515 §2) and ACME its tokens. Into caller buffers; decoding
//! is strict, so each byte string has exactly one accepted encoding.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Why a text is not unpadded base64url.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A byte outside `A-Z a-z 0-9 - _` (padding `=` included).
    Alphabet,
    /// A length that leaves one character over (`len % 4 == 1`).
    Length,
    /// The last character carries bits that do not fit in a byte, so the
    /// text is not the canonical encoding of any bytes.
    TrailingBits,
    /// The output buffer is too small.
    NoRoom,
}

/// The encoded length of `n` bytes.
pub const fn encoded_len(n: usize) -> usize {
    n / 3 * 4 + (n % 3 * 4).div_ceil(3)
}

/// The decoded length of a valid text of `n` characters.
pub const fn decoded_len(n: usize) -> usize {
    n / 4 * 3 + (n % 4 * 3) / 4
}

/// Whether `c` is in the base64url alphabet.
pub fn is_alphabet(c: u8) -> bool {
    value(c).is_some()
}

fn value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// `input` as base64url without padding, written into `out`; `None` if
/// `out` is shorter than [`encoded_len`].
pub fn encode<'o>(input: &[u8], out: &'o mut [u8]) -> Option<&'o str> {
    let n = encoded_len(input.len());
    let out = out.get_mut(..n)?;
    for (group, chars) in input.chunks(3).zip(out.chunks_mut(4)) {
        let mut v = [0u8; 3];
        v.get_mut(..group.len())?.copy_from_slice(group);
        let bits = u32::from(v[0]) << 16 | u32::from(v[1]) << 8 | u32::from(v[2]);
        for (i, c) in chars.iter_mut().enumerate() {
            let six = (bits >> (18 - 6 * i)) & 63;
            *c = ALPHABET.get(six as usize).copied().unwrap_or(b'A');
        }
    }
    core::str::from_utf8(out).ok()
}

/// The bytes `input` encodes, written into `out`.
pub fn decode<'o>(input: &[u8], out: &'o mut [u8]) -> Result<&'o [u8], Error> {
    if input.len() % 4 == 1 {
        return Err(Error::Length);
    }
    let n = decoded_len(input.len());
    let out = out.get_mut(..n).ok_or(Error::NoRoom)?;
    let mut w = 0;
    for chars in input.chunks(4) {
        let mut bits = 0u32;
        for &c in chars {
            bits = bits << 6 | u32::from(value(c).ok_or(Error::Alphabet)?);
        }
        // A short last group: 2 chars carry 12 bits for 1 byte, 3 carry 18
        // for 2; the bits left over must be zero.
        let bytes = chars.len() * 3 / 4;
        let spare = chars.len() * 6 - bytes * 8;
        if bits & ((1 << spare) - 1) != 0 {
            return Err(Error::TrailingBits);
        }
        bits >>= spare;
        for i in (0..bytes).rev() {
            *out.get_mut(w).ok_or(Error::NoRoom)? = (bits >> (8 * i)) as u8;
            w += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        // RFC 4648 §10, with `=` dropped; and the bytes that differ from
        // standard base64 (`+/` become `-_`).
        let rows: &[(&[u8], &str)] = &[
            (b"", ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
            (&[0xfb, 0xff], "-_8"),
            (&[0xff, 0xff, 0xff], "____"),
            (&[0, 0, 0], "AAAA"),
            // RFC 7515 appendix C's example octets.
            (&[3, 236, 255, 224, 193], "A-z_4ME"),
        ];
        for &(bytes, text) in rows {
            let mut e = [0u8; 16];
            assert_eq!(encode(bytes, &mut e), Some(text));
            assert_eq!(encoded_len(bytes.len()), text.len());
            let mut d = [0u8; 16];
            assert_eq!(decode(text.as_bytes(), &mut d), Ok(bytes), "{text}");
            assert_eq!(decoded_len(text.len()), bytes.len());
            if !bytes.is_empty() {
                assert_eq!(encode(bytes, &mut e[..text.len() - 1]), None);
                assert_eq!(decode(text.as_bytes(), &mut d[..bytes.len() - 1]), Err(Error::NoRoom));
            }
        }
    }

    #[test]
    fn rejects() {
        let rows: &[(&str, Error)] = &[
            ("Zg==", Error::Alphabet),
            ("Zg=", Error::Alphabet),
            ("Zm9v+A", Error::Alphabet),
            ("Zm9v/A", Error::Alphabet),
            ("Zm 9", Error::Alphabet),
            ("Zm9\n", Error::Alphabet),
            ("Z", Error::Length),
            ("Zm9vY", Error::Length),
            ("Zh", Error::TrailingBits),   // 'h' leaves 4 bits set
            ("Zm9", Error::TrailingBits),  // '9' leaves 2 bits set
            ("-_9", Error::TrailingBits),
        ];
        for &(text, want) in rows {
            let mut d = [0u8; 16];
            assert_eq!(decode(text.as_bytes(), &mut d), Err(want), "{text}");
        }
    }

    #[test]
    fn round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        for n in 0..bytes.len() {
            let mut e = [0u8; 344];
            let text = encode(&bytes[..n], &mut e).unwrap().to_owned();
            assert!(text.bytes().all(is_alphabet));
            let mut d = [0u8; 256];
            assert_eq!(decode(text.as_bytes(), &mut d), Ok(&bytes[..n]));
        }
    }
}
