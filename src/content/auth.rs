//! HTTP Basic authentication (RFC 7617) against an htpasswd file of bcrypt
//! hashes: the `Authorization` header's credentials, the file's lines, and
//! bcrypt itself. A request's bytes must never panic or allocate here, and
//! a hash comparison must never stop at the first differing byte.
//!
//! Only bcrypt is accepted in the file: Apache's other formats (`{SHA}`,
//! `$apr1$` MD5, crypt, plain text) are refused at start-up with a message
//! saying to re-create the entry with `htpasswd -B`, so a weak hash never
//! silently guards anything.

use super::{split_once, trim_ows};
use blowfish::Blowfish;

/// Longest decoded `user:password` a `parse_basic` buffer holds. Browsers
/// send far less; nginx has no limit of its own short of its 8 KiB header
/// buffers, but nothing real needs more.
pub const MAX_CREDENTIALS: usize = 512;

/// Why an `Authorization` value gave no credentials. Each is answered with
/// 401 and a fresh challenge, never 400: nginx does the same (its
/// `ngx_http_auth_basic_user` declines a wrong scheme, empty credentials,
/// bad base64 or a missing `:` exactly as it declines a missing header),
/// and a browser then asks its user again instead of showing an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// Not `Basic` followed by a space (`Bearer ...`, `Digest ...`).
    Scheme,
    /// `Basic` and nothing after it.
    NoCredentials,
    /// Not base64: a byte outside the standard alphabet, `=` anywhere but
    /// the end, or a length no encoding has.
    Base64,
    /// Decodes to more than `MAX_CREDENTIALS` bytes.
    TooLong,
    /// No `:` between user and password.
    NoColon,
    /// Nothing before the `:`. (An empty password is allowed: curl sends
    /// `-u user:` as `user:`.)
    EmptyUser,
    /// A control byte in the user name, which RFC 7617 forbids and which
    /// must not reach an access log.
    ControlByte,
}

impl AuthError {
    /// What was wrong, for a debug log line.
    pub fn what(self) -> &'static str {
        match self {
            AuthError::Scheme => "not Basic credentials",
            AuthError::NoCredentials => "Basic without credentials",
            AuthError::Base64 => "credentials are not base64",
            AuthError::TooLong => "credentials longer than 512 bytes",
            AuthError::NoColon => "no ':' in credentials",
            AuthError::EmptyUser => "empty user name in credentials",
            AuthError::ControlByte => "control byte in user name",
        }
    }
}

/// `Authorization: Basic <base64 of user:password>` -> (user, password),
/// decoded into `buf`. The scheme is case-insensitive; padding may be
/// left off (some clients do), but the alphabet is the standard one.
pub fn parse_basic<'b>(
    header_value: &[u8],
    buf: &'b mut [u8; MAX_CREDENTIALS],
) -> Result<(&'b [u8], &'b [u8]), AuthError> {
    let value = trim_ows(header_value);
    let (scheme, token) = value.split_at_checked(5).ok_or(AuthError::Scheme)?;
    if !scheme.eq_ignore_ascii_case(b"Basic") {
        return Err(AuthError::Scheme);
    }
    let token = match token {
        [] => return Err(AuthError::NoCredentials),
        // RFC 9110's `1*SP`, and all nginx skips: a tab is no separator.
        [b' ', ..] => {
            let spaces = token.iter().take_while(|&&b| b == b' ').count();
            token.get(spaces..).unwrap_or_default()
        }
        _ => return Err(AuthError::Scheme),
    };
    if token.is_empty() {
        return Err(AuthError::NoCredentials);
    }
    let n = decode_base64(token, buf)?;
    let decoded = buf.get(..n).unwrap_or_default();
    let (user, password) = split_once(decoded, b':');
    let password = password.ok_or(AuthError::NoColon)?;
    if user.is_empty() {
        return Err(AuthError::EmptyUser);
    }
    if user.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(AuthError::ControlByte);
    }
    Ok((user, password))
}

/// Standard base64 (RFC 4648 §4) in `token` -> bytes in `out`, their count.
/// `=` padding is optional but, if present, must complete the last quad.
fn decode_base64(token: &[u8], out: &mut [u8; MAX_CREDENTIALS]) -> Result<usize, AuthError> {
    let data = token
        .strip_suffix(b"==")
        .or_else(|| token.strip_suffix(b"="))
        .unwrap_or(token);
    let padded = data.len() != token.len();
    if (padded && !token.len().is_multiple_of(4)) || data.len() % 4 == 1 {
        return Err(AuthError::Base64);
    }
    if data.len() / 4 * 3 + (data.len() % 4).saturating_sub(1) > out.len() {
        return Err(AuthError::TooLong);
    }
    decode_sextets(data, standard_value, out).ok_or(AuthError::Base64)
}

/// A standard base64 character's value.
fn standard_value(c: u8) -> Option<u8> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    })
}

/// bcrypt's own base64 alphabet (`./A-Za-z0-9`, in that order).
fn bcrypt_value(c: u8) -> Option<u8> {
    Some(match c {
        b'.' => 0,
        b'/' => 1,
        b'A'..=b'Z' => c - b'A' + 2,
        b'a'..=b'z' => c - b'a' + 28,
        b'0'..=b'9' => c - b'0' + 54,
        _ => return None,
    })
}

/// Six bits a character, most significant first, into whole bytes of
/// `out`; the bits left over at the end are dropped, as every decoder
/// does. `None` for a character outside the alphabet or too little room.
fn decode_sextets(input: &[u8], value: fn(u8) -> Option<u8>, out: &mut [u8]) -> Option<usize> {
    let (mut acc, mut bits, mut n) = (0u32, 0u32, 0usize);
    for &c in input {
        acc = (acc << 6 | u32::from(value(c)?)) & 0xfff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = (acc >> bits) as u8;
            n += 1;
        }
    }
    Some(n)
}

/// One user of an htpasswd file. Borrowed from the line it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// INVARIANT: not empty; no `:` and no control byte.
    pub user: &'a [u8],
    /// INVARIANT: a well-formed bcrypt hash (`$2y$NN$` + 53 characters)
    /// with a cost from 4 to 31; give it to `bcrypt_verify`.
    pub hash: &'a [u8],
    /// The hash's cost: 2^cost key expansions per check, so the time one
    /// request costs (each step up doubles it).
    pub cost: u8,
}

/// Why an htpasswd line was refused at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HtpasswdError {
    /// No `:` between the user name and the hash.
    NoColon,
    /// Nothing before the `:`.
    EmptyUser,
    /// A control byte in the user name.
    ControlByte,
    /// `{SHA}`: unsalted SHA-1, one GPU-second per million guesses.
    Sha1,
    /// `$apr1$`: Apache's MD5 crypt, 1,000 MD5 rounds.
    Md5,
    /// Anything else that is not bcrypt: DES crypt, plain text, `$5$`...
    NotBcrypt,
    /// A bcrypt cost outside 4..=31 (the range bcrypt defines).
    Cost,
    /// Starts like bcrypt but is not: a variant other than `2a`, `2b` or
    /// `2y`, a wrong length, or a character outside bcrypt's alphabet.
    Malformed,
}

impl HtpasswdError {
    /// What is wrong, for a `FILE:LINE: what` line.
    pub fn what(self) -> &'static str {
        match self {
            HtpasswdError::NoColon => "no ':' between user name and password hash",
            HtpasswdError::EmptyUser => "empty user name",
            HtpasswdError::ControlByte => "control byte in user name",
            HtpasswdError::Sha1 => "{SHA} is unsalted SHA-1: re-create the entry with htpasswd -B",
            HtpasswdError::Md5 => "$apr1$ is MD5: re-create the entry with htpasswd -B",
            HtpasswdError::NotBcrypt => {
                "not a bcrypt hash (crypt or plain text?): re-create the entry with htpasswd -B"
            }
            HtpasswdError::Cost => "bcrypt cost must be from 04 to 31",
            HtpasswdError::Malformed => "malformed bcrypt hash: want $2y$NN$ and 53 characters",
        }
    }
}

/// One line of an htpasswd file (without or with its `\n`, or `\r\n`):
/// `Ok(None)` for a blank line or a `#` comment, `Ok(Some)` for a
/// `user:bcrypt-hash` line. As in Apache, anything after a second `:` is
/// ignored (some tools keep a comment there).
pub fn check_line(line: &[u8]) -> Result<Option<Entry<'_>>, HtpasswdError> {
    let line = trim_ows(line.strip_suffix(b"\n").unwrap_or(line));
    let line = trim_ows(line.strip_suffix(b"\r").unwrap_or(line));
    if line.is_empty() || line.first() == Some(&b'#') {
        return Ok(None);
    }
    let (user, rest) = split_once(line, b':');
    let rest = rest.ok_or(HtpasswdError::NoColon)?;
    if user.is_empty() {
        return Err(HtpasswdError::EmptyUser);
    }
    if user.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(HtpasswdError::ControlByte);
    }
    let hash = trim_ows(split_once(rest, b':').0);
    let cost = parse_hash(hash)?.cost;
    Ok(Some(Entry { user, hash, cost }))
}

/// The entry for `user` in the htpasswd file `file`: the first line that
/// names them. Lines `check_line` refuses are skipped (start-up has
/// refused the file already if any was there).
pub fn find_user<'a>(file: &'a [u8], user: &[u8]) -> Option<Entry<'a>> {
    file.split(|&b| b == b'\n')
        .filter_map(|line| check_line(line).ok().flatten())
        .find(|e| e.user == user)
}

/// A bcrypt hash's parts: `$2y$` cost `$` salt (22 chars) digest (31).
struct Parsed {
    cost: u8,
    salt: [u8; 16],
    digest: [u8; DIGEST],
}

/// Bytes of the 24-byte ciphertext a bcrypt hash keeps: 31 characters hold
/// 186 bits, so the last byte was always dropped (OpenBSD's choice).
const DIGEST: usize = 23;

fn parse_hash(hash: &[u8]) -> Result<Parsed, HtpasswdError> {
    if hash.starts_with(b"{SHA}") {
        return Err(HtpasswdError::Sha1);
    }
    if hash.starts_with(b"$apr1$") {
        return Err(HtpasswdError::Md5);
    }
    if !hash.starts_with(b"$2") {
        return Err(HtpasswdError::NotBcrypt);
    }
    let [b'$', b'2', variant, b'$', c1, c2, b'$', rest @ ..] = hash else {
        return Err(HtpasswdError::Malformed);
    };
    // `2a`, `2b` and `2y` hash alike here (see `bcrypt_digest`). `2x` is
    // crypt_blowfish's marker for hashes made by its sign-extension bug,
    // which we do not reproduce.
    if !matches!(variant, b'a' | b'b' | b'y') || !c1.is_ascii_digit() || !c2.is_ascii_digit() {
        return Err(HtpasswdError::Malformed);
    }
    let cost = (c1 - b'0') * 10 + (c2 - b'0');
    if !(4..=31).contains(&cost) {
        return Err(HtpasswdError::Cost);
    }
    let (salt_text, digest_text) = rest.split_at_checked(22).ok_or(HtpasswdError::Malformed)?;
    let mut salt = [0; 16];
    let mut digest = [0; DIGEST];
    if digest_text.len() != 31
        || decode_sextets(salt_text, bcrypt_value, &mut salt) != Some(16)
        || decode_sextets(digest_text, bcrypt_value, &mut digest) != Some(DIGEST)
    {
        return Err(HtpasswdError::Malformed);
    }
    Ok(Parsed { cost, salt, digest })
}

/// Whether `password` is the one `hash` (`$2y$`, `$2b$` or `$2a$`) was
/// made from. False for a malformed hash. Takes 2^cost key expansions
/// whatever the answer, and compares every digest byte.
pub fn bcrypt_verify(password: &[u8], hash: &[u8]) -> bool {
    // bcrypt repeats the key to fill 72 bytes, so with NULs in it many
    // passwords share one key ("\0" is ""): refuse them all. No htpasswd
    // can make such a password (it takes C strings), and knowing that a NUL
    // was refused tells a guesser nothing about the hash.
    if password.contains(&0) {
        return false;
    }
    let Ok(parsed) = parse_hash(hash) else {
        return false;
    };
    let digest = bcrypt_digest(parsed.cost, &parsed.salt, password);
    // No early exit: how many leading bytes matched must not show in the
    // time taken. black_box keeps the optimiser from adding one back.
    let diff = digest
        .iter()
        .zip(&parsed.digest)
        .fold(0u8, |d, (a, b)| d | (a ^ b));
    core::hint::black_box(diff) == 0
}

/// The key bcrypt expands: the password and its C string's NUL, cut at 72
/// bytes (Blowfish's longest key, 18 words). This is `$2b$`/`$2y$`; the
/// original OpenBSD `$2a$` kept the length in a byte, so only passwords of
/// 255 bytes or more hash differently there, and every `$2a$` that Apache,
/// PHP or passlib wrote hashes as here. (`bcrypt_verify` has refused a
/// password with a NUL in it before this.)
fn bcrypt_digest(cost: u8, salt: &[u8; 16], password: &[u8]) -> [u8; DIGEST] {
    let mut key = [0u8; 72];
    let n = password.len().min(key.len());
    for (k, p) in key.iter_mut().zip(password) {
        *k = *p;
    }
    let key = key.get(..(n + 1).min(72)).unwrap_or_default();

    // EksBlowfishSetup: expensive key schedule, 2^cost rounds.
    let mut state = Blowfish::bc_init_state();
    state.salted_expand_key(salt, key);
    for _ in 0..1u64 << cost {
        state.bc_expand_key(key);
        state.bc_expand_key(salt);
    }

    // Encrypt "OrpheanBeholderScryDoubt" 64 times, its three 64-bit blocks
    // in ECB mode, as big-endian words.
    let mut text = [0u8; 24];
    for (block, out) in b"OrpheanBeholderScryDoubt"
        .chunks_exact(8)
        .zip(text.chunks_exact_mut(8))
    {
        let word = |i: usize| {
            u32::from_be_bytes([0, 1, 2, 3].map(|j| block.get(i + j).copied().unwrap_or(0)))
        };
        let mut lr = [word(0), word(4)];
        for _ in 0..64 {
            lr = state.bc_encrypt(lr);
        }
        for (o, b) in out
            .iter_mut()
            .zip(lr[0].to_be_bytes().into_iter().chain(lr[1].to_be_bytes()))
        {
            *o = b;
        }
    }
    let mut digest = [0; DIGEST];
    for (d, t) in digest.iter_mut().zip(text) {
        *d = t;
    }
    digest
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test-side standard base64 with padding, for rows built from text.
    fn b64(s: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut o = String::new();
        for c in s.chunks(3) {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for i in 0..4 {
                o.push(if i <= c.len() {
                    A[(n >> (18 - 6 * i) & 63) as usize] as char
                } else {
                    '='
                });
            }
        }
        o
    }

    #[test]
    fn basic_table() {
        type Row<'a> = (&'a str, Result<(&'a [u8], &'a [u8]), AuthError>);
        let max_ok = format!("Basic {}", b64(&[&b"u:"[..], &[b'p'; 510]].concat()));
        let over = format!("Basic {}", b64(&[&b"u:"[..], &[b'p'; 511]].concat()));
        let rows: &[Row] = &[
            ("Basic dXNlcjpwYXNz", Ok((b"user", b"pass"))),
            ("basic dXNlcjpwYXNz", Ok((b"user", b"pass"))),
            ("BASIC    dXNlcjpwYXNz", Ok((b"user", b"pass"))),
            (" Basic dXNlcjpwYXNz \t", Ok((b"user", b"pass"))),
            (
                "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
                Ok((b"Aladdin", b"open sesame")),
            ),
            (
                "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ",
                Ok((b"Aladdin", b"open sesame")),
            ),
            ("Basic dXNlcjpwYXNzMQ==", Ok((b"user", b"pass1"))),
            ("Basic dXNlcjpwYXNzMQ", Ok((b"user", b"pass1"))),
            ("Basic dXNlcjo=", Ok((b"user", b""))),
            ("Basic dXNlcjo", Ok((b"user", b""))),
            ("Basic dXNlcjpwYTpzcw==", Ok((b"user", b"pa:ss"))),
            (
                "Basic asO2cmc6cMOkc3N3w7ZyZA==",
                Ok(("jörg".as_bytes(), "pässwörd".as_bytes())),
            ),
            ("Basic dXNlcjpwdwB4", Ok((b"user", b"pw\0x"))), // bcrypt_verify refuses it
            (&max_ok, Ok((b"u", &[b'p'; 510]))),
            // Reject rows.
            ("", Err(AuthError::Scheme)),
            ("Bearer dXNlcjpwYXNz", Err(AuthError::Scheme)),
            ("Digest username=\"u\"", Err(AuthError::Scheme)),
            ("Basi", Err(AuthError::Scheme)),
            ("Basicx dXNlcjpwYXNz", Err(AuthError::Scheme)),
            ("BasicdXNlcjpwYXNz", Err(AuthError::Scheme)),
            ("Basic\tdXNlcjpwYXNz", Err(AuthError::Scheme)),
            ("Basic \tdXNlcjpwYXNz", Err(AuthError::Base64)),
            ("dXNlcjpwYXNz", Err(AuthError::Scheme)),
            ("Basic", Err(AuthError::NoCredentials)),
            ("basic ", Err(AuthError::NoCredentials)),
            ("Basic    ", Err(AuthError::NoCredentials)),
            ("Basic dXNl*jpwYXNz", Err(AuthError::Base64)),
            ("Basic dXNlcjpwYXNz=", Err(AuthError::Base64)),
            ("Basic dXNlcjpwYXNz====", Err(AuthError::Base64)),
            ("Basic dXNlcjpwYXNzMQ=", Err(AuthError::Base64)),
            ("Basic dX=lcjpwYXNz", Err(AuthError::Base64)),
            ("Basic dXNlcjpwYXNz x", Err(AuthError::Base64)),
            ("Basic dXNlcjpwYXN-", Err(AuthError::Base64)), // URL-safe alphabet
            ("Basic d", Err(AuthError::Base64)),
            ("Basic =", Err(AuthError::Base64)),
            ("Basic ====", Err(AuthError::Base64)),
            (&over, Err(AuthError::TooLong)),
            ("Basic dXNlcg==", Err(AuthError::NoColon)),
            ("Basic ====", Err(AuthError::Base64)),
            ("Basic OnBhc3M=", Err(AuthError::EmptyUser)),
            ("Basic Og==", Err(AuthError::EmptyUser)),
            ("Basic dXMBZXI6cHc=", Err(AuthError::ControlByte)),
        ];
        for (value, want) in rows {
            let mut buf = [0; MAX_CREDENTIALS];
            assert_eq!(parse_basic(value.as_bytes(), &mut buf), *want, "{value:?}");
        }
        // The padding-free `====` row aside, an empty token after `Basic `
        // decodes to nothing, which has no `:`.
        let mut buf = [0; MAX_CREDENTIALS];
        assert_eq!(parse_basic(b"Basic ==", &mut buf), Err(AuthError::Base64));
        for e in [
            AuthError::Scheme,
            AuthError::NoCredentials,
            AuthError::Base64,
            AuthError::TooLong,
            AuthError::NoColon,
            AuthError::EmptyUser,
            AuthError::ControlByte,
        ] {
            assert!(!e.what().is_empty(), "{e:?}");
        }
    }

    #[test]
    fn basic_round_trips() {
        for (user, pass) in [
            (&b"a"[..], &b""[..]),
            (b"ab", b"c"),
            (b"abc", b"de"),
            (b"user", b"p:a:s:s"),
            (b"\xff\xfe", b"\x00\x01\x02"),
        ] {
            let header = format!("Basic {}", b64(&[user, b":", pass].concat()));
            let mut buf = [0; MAX_CREDENTIALS];
            assert_eq!(
                parse_basic(header.as_bytes(), &mut buf),
                Ok((user, pass)),
                "{header}"
            );
            let bare = header.trim_end_matches('=');
            assert_eq!(
                parse_basic(bare.as_bytes(), &mut buf),
                Ok((user, pass)),
                "{bare}"
            );
        }
    }

    // Made here with `htpasswd -nbB -C COST USER PASSWORD` (Apache 2.4).
    const ALICE: &str = "$2y$04$QwPXC2SBvbsKj69bp8PRquL2abbIBx.um71jbRtjaOfednxIefgNO";
    const BOB: &str = "$2y$05$GDd.Pg.uqZp2RVl1yIsKvelkD8.nK8BQe3XdF0hNKIvw1EI/EXBam";
    const CAROL: &str = "$2y$10$a4dB8UxciluZnI7mkw57jOU2ARrgRec9SnuwiIi5wj1L1fyPQKZpe";
    const DAVE: &str = "$2y$04$etGoXkJuw79aQY1mmmNaeOF2qnPiuRU6KBqA7CnSMfI8iQ979a/py";
    const ERIN: &str = "$2y$04$5TFicI70sgaDV3qLdTJOSu2LVOqPcjtMvIAolCMSaznKKJ86QF10a";
    const FRANK: &str = "$2y$04$I00zGdJmK82VCFiMUVn52OY1XM6RG8W0mepHL1fwZz15OQIlNFLnm";
    const GINA: &str = "$2y$04$6HsyFnLdlR8kPhpPOzIX2.Akvm7YWeDneA7QyOIC9Iqbs8Pi5JnrC";
    const HAL: &str = "$2y$06$OoSy5q8X0fyc005H6Butp./RlFFkOlLBoszwc/KoPAut7ffv.BcLy";

    #[test]
    fn bcrypt_vectors() {
        let eighty = "0123456789".repeat(8);
        let x71 = "x".repeat(71);
        let x72 = "x".repeat(72);
        let rows: &[(&str, &str, bool)] = &[
            ("correct horse", ALICE, true),
            ("p@ss:w0rd", BOB, true),
            ("hunter2", CAROL, true),
            ("", DAVE, true),
            (&eighty, ERIN, true),
            ("pässwörd ✓", FRANK, true),
            (&x71, GINA, true),
            ("a", HAL, true),
            // jBCrypt's published `$2a$` vectors (also checked with htpasswd -v).
            (
                "",
                "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.",
                true,
            ),
            (
                "abc",
                "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i",
                true,
            ),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "$2a$06$.rCVZVOThsIa97pEDOxvGuRRgzG64bvtJ0938xuqzv18d3ZpQhstC",
                true,
            ),
            // 72 bytes is the most bcrypt reads: the 80-byte password's
            // first 72 bytes are the same password; its first 71 are not.
            (&eighty[..72], ERIN, true),
            (&eighty[..71], ERIN, false),
            // 71 bytes still has its NUL in the key, so 72 differs.
            (&x72, GINA, false),
            // Reject rows: near misses.
            ("correct horse ", ALICE, false),
            ("Correct horse", ALICE, false),
            ("correct horse\0", ALICE, false),
            ("hunter3", CAROL, false),
            ("x", DAVE, false),
            ("\0", DAVE, false), // bcrypt alone would say yes: its key is all zeros either way
            ("\0\0\0", DAVE, false),
            ("passwörd ✓", FRANK, false),
            ("pässwörd ✓", ALICE, false),
            // Malformed hashes never verify.
            ("correct horse", &ALICE[..59], false),
            ("correct horse", "", false),
            ("correct horse", "{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=", false),
            (
                "correct horse",
                "$2x$04$QwPXC2SBvbsKj69bp8PRquL2abbIBx.um71jbRtjaOfednxIefgNO",
                false,
            ),
            (
                "correct horse",
                "$2y$03$QwPXC2SBvbsKj69bp8PRquL2abbIBx.um71jbRtjaOfednxIefgNO",
                false,
            ),
            (
                "correct horse",
                "$2y$04$QwPXC2SBvbsKj69bp8PRquL2abbIBx.um71jbRtjaOfednxIefgN!",
                false,
            ),
        ];
        for (password, hash, want) in rows {
            assert_eq!(
                bcrypt_verify(password.as_bytes(), hash.as_bytes()),
                *want,
                "{password:?} {hash}"
            );
        }
        // `$2a$` and `$2b$` hash as `$2y$` does.
        for variant in ["$2a$", "$2b$"] {
            let hash = format!("{variant}{}", &ALICE[4..]);
            assert!(bcrypt_verify(b"correct horse", hash.as_bytes()), "{hash}");
        }
    }

    #[test]
    fn htpasswd_lines() {
        let alice = format!("alice:{ALICE}");
        let rows: &[(String, Result<Option<(&str, &str, u8)>, HtpasswdError>)] = &[
            (alice.clone(), Ok(Some(("alice", ALICE, 4)))),
            (format!("{alice}\n"), Ok(Some(("alice", ALICE, 4)))),
            (format!("{alice}\r\n"), Ok(Some(("alice", ALICE, 4)))),
            (format!("  {alice}  "), Ok(Some(("alice", ALICE, 4)))),
            (
                format!("{alice}:Alice Liddell"),
                Ok(Some(("alice", ALICE, 4))),
            ),
            (format!("carol:{CAROL}"), Ok(Some(("carol", CAROL, 10)))),
            (format!("a b:{ALICE}"), Ok(Some(("a b", ALICE, 4)))),
            (format!("jörg:{ALICE}"), Ok(Some(("jörg", ALICE, 4)))),
            (format!("x:$2b${}", &ALICE[4..]), Ok(Some(("x", "", 4)))),
            (format!("x:$2a$31${}", &ALICE[7..]), Ok(Some(("x", "", 31)))),
            (String::new(), Ok(None)),
            ("\n".into(), Ok(None)),
            (" \t\r\n".into(), Ok(None)),
            ("# alice:{SHA}x".into(), Ok(None)),
            ("  # indented comment".into(), Ok(None)),
            // Reject rows.
            (ALICE.replace(':', ""), Err(HtpasswdError::NoColon)),
            ("alice".into(), Err(HtpasswdError::NoColon)),
            (format!(":{ALICE}"), Err(HtpasswdError::EmptyUser)),
            (
                format!("al\x01ice:{ALICE}"),
                Err(HtpasswdError::ControlByte),
            ),
            (
                "alice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=".into(),
                Err(HtpasswdError::Sha1),
            ),
            (
                "alice:$apr1$f0XKXmNF$KCcd.7yF7DFG/rf44LHr3.".into(),
                Err(HtpasswdError::Md5),
            ),
            ("alice:rqXexS6ZhobKA".into(), Err(HtpasswdError::NotBcrypt)),
            ("alice:secret".into(), Err(HtpasswdError::NotBcrypt)),
            ("alice:".into(), Err(HtpasswdError::NotBcrypt)),
            ("alice:$6$salt$hash".into(), Err(HtpasswdError::NotBcrypt)),
            (
                format!("x:$2y$03${}", &ALICE[7..]),
                Err(HtpasswdError::Cost),
            ),
            (
                format!("x:$2y$32${}", &ALICE[7..]),
                Err(HtpasswdError::Cost),
            ),
            (
                format!("x:$2y$00${}", &ALICE[7..]),
                Err(HtpasswdError::Cost),
            ),
            (
                format!("x:$2y$99${}", &ALICE[7..]),
                Err(HtpasswdError::Cost),
            ),
            (
                format!("x:$2x${}", &ALICE[4..]),
                Err(HtpasswdError::Malformed),
            ),
            (
                format!("x:$2${}", &ALICE[4..]),
                Err(HtpasswdError::Malformed),
            ),
            (
                format!("x:$2y$1a${}", &ALICE[7..]),
                Err(HtpasswdError::Malformed),
            ),
            (
                format!("x:$2y$4${}", &ALICE[7..]),
                Err(HtpasswdError::Malformed),
            ),
            (format!("x:{}", &ALICE[..59]), Err(HtpasswdError::Malformed)),
            (format!("x:{ALICE}O"), Err(HtpasswdError::Malformed)),
            (format!("x:{ALICE} O"), Err(HtpasswdError::Malformed)),
            (
                format!("x:{}+{}", &ALICE[..20], &ALICE[21..]),
                Err(HtpasswdError::Malformed),
            ),
        ];
        for (line, want) in rows {
            let got = check_line(line.as_bytes());
            match (got, want) {
                (Ok(Some(e)), Ok(Some((user, hash, cost)))) => {
                    assert_eq!(e.user, user.as_bytes(), "{line:?}");
                    assert!(hash.is_empty() || e.hash == hash.as_bytes(), "{line:?}");
                    assert_eq!(e.cost, *cost, "{line:?}");
                }
                (got, want) => assert_eq!(
                    got.map(|e| e.map(|_| ())),
                    want.map(|e| e.map(|_| ())),
                    "{line:?}"
                ),
            }
        }
        for e in [
            HtpasswdError::NoColon,
            HtpasswdError::EmptyUser,
            HtpasswdError::ControlByte,
            HtpasswdError::Sha1,
            HtpasswdError::Md5,
            HtpasswdError::NotBcrypt,
            HtpasswdError::Cost,
            HtpasswdError::Malformed,
        ] {
            assert!(e.what().len() < 90, "{e:?}");
        }
    }

    #[test]
    fn find_user_in_a_file() {
        let file = format!(
            "# users\nalice:{ALICE}\n\nbad line\nbob:{{SHA}}x\ncarol:{CAROL}\r\nalice:{DAVE}\n"
        );
        assert_eq!(
            find_user(file.as_bytes(), b"alice").map(|e| e.hash),
            Some(ALICE.as_bytes())
        );
        assert_eq!(
            find_user(file.as_bytes(), b"carol").map(|e| e.cost),
            Some(10)
        );
        assert_eq!(find_user(file.as_bytes(), b"bob"), None);
        assert_eq!(find_user(file.as_bytes(), b"Alice"), None);
        assert_eq!(find_user(file.as_bytes(), b""), None);
        assert_eq!(find_user(b"", b"alice"), None);
    }

    /// One cost-10 verify (`htpasswd -B` defaults to 5; PHP's
    /// password_hash and many guides use 10). Run with
    /// `cargo test --release --lib bcrypt_timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bcrypt_timing() {
        let best = (0..5)
            .map(|_| {
                let start = std::time::Instant::now();
                assert!(bcrypt_verify(b"hunter2", CAROL.as_bytes()));
                start.elapsed()
            })
            .min();
        println!("bcrypt cost 10: {best:?} (best of 5)");
    }
}
