//! `Authorization: Basic` values and htpasswd lines. Properties: neither
//! parser panics; `user:pass` encoded here (padded or not) parses back to
//! the same user and password unless the user is empty, holds a `:` or a
//! control byte; an accepted htpasswd line's user and hash are in the line.
#![no_main]
use drift::content::auth::{MAX_CREDENTIALS, bcrypt_verify, check_line, parse_basic};
use libfuzzer_sys::fuzz_target;

fn base64(s: &[u8], pad: bool) -> Vec<u8> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = Vec::new();
    for c in s.chunks(3) {
        let n = c.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= c.len() {
                o.push(A[(n >> (18 - 6 * i) & 63) as usize]);
            } else if pad {
                o.push(b'=');
            }
        }
    }
    o
}

fuzz_target!(|data: &[u8]| {
    let mut buf = [0u8; MAX_CREDENTIALS];
    let _ = parse_basic(data, &mut buf);

    if let Ok(Some(e)) = check_line(data) {
        assert!(!e.user.is_empty() && !e.user.contains(&b':'));
        assert!(data.windows(e.hash.len()).any(|w| w == e.hash));
        assert_eq!(e.hash.len(), 60);
        assert!((4..=31).contains(&e.cost));
        // Cheap enough only at the lowest costs; a fuzzer finds those.
        if e.cost <= 5 {
            let _ = bcrypt_verify(data, e.hash);
        }
    }

    // data = user NUL password
    let Some(nul) = data.iter().position(|&b| b == 0) else { return };
    let (user, pass) = (&data[..nul], &data[nul + 1..]);
    let plain = [user, b":", pass].concat();
    for pad in [true, false] {
        let mut header = b"Basic ".to_vec();
        header.extend(base64(&plain, pad));
        let got = parse_basic(&header, &mut buf);
        let valid = !user.is_empty()
            && !user.contains(&b':')
            && !user.iter().any(|&b| b < 0x20 || b == 0x7f)
            && plain.len() <= MAX_CREDENTIALS;
        if valid {
            assert_eq!(got, Ok((user, pass)), "{header:?}");
        } else {
            assert!(got.is_err() || user.contains(&b':'), "{header:?} {got:?}");
        }
    }
});
