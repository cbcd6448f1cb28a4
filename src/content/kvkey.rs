//! Names in the KV store's directory: which keys a client may use, and the
//! temporary files a store writes before rename(2) makes it visible. A valid
//! key must never name anything but a plain file in that directory, and a
//! temporary name must never be a valid key (so no GET can see a half-write).

use super::u64_digits;
use crate::fmt::Line;

/// Longest key: well under NAME_MAX (255) even with the temporary prefix.
pub const MAX_KEY: usize = 200;

/// What every temporary name starts with: a dot, so never a valid key.
const TEMP_PREFIX: &[u8] = b".tmp-";

/// Longest temporary name: prefix, 16 hex digits, `-`, a key.
pub const TEMP_NAME_MAX: usize = TEMP_PREFIX.len() + 16 + 1 + MAX_KEY;

/// Whether `k` may name a value: 1 to 200 bytes of `A-Z a-z 0-9 . _ -`,
/// not starting with `.` (so not `.`, `..`, a dotfile or a temporary name).
pub fn valid_key(k: &[u8]) -> bool {
    matches!(k.first(), Some(&c) if c != b'.')
        && k.len() <= MAX_KEY
        && k.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// `.tmp-<unique hex>-<key>` in `out`: the file a store of `key` is written
/// to before it is renamed over the key. `unique` tells concurrent writers
/// apart (pid and a counter, say). A key longer than `MAX_KEY` is cut short;
/// the name still starts with `.tmp-`, so it is still never a key.
pub fn temp_name<'a>(key: &[u8], unique: u64, out: &'a mut [u8; TEMP_NAME_MAX]) -> &'a [u8] {
    let mut d = [0; 20];
    let mut line = Line::new(&mut out[..]);
    line.push(TEMP_PREFIX)
        .push(u64_digits(unique, true, &mut d))
        .push(b"-")
        .push(key);
    let n = line.as_bytes().len();
    out.get(..n).unwrap_or_default()
}

/// Whether a directory entry is a temporary file left by a store that never
/// finished (a crash between write and rename): `.tmp-`, 1 to 16 lowercase
/// hex digits, `-`. Start-up removes these; nothing else is touched.
pub fn is_temp_name(name: &[u8]) -> bool {
    let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
        return false;
    };
    let hex = rest
        .iter()
        .take_while(|&&c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        .count();
    (1..=16).contains(&hex) && rest.get(hex) == Some(&b'-')
}

/// The `unique` a temporary name was made with (`temp_name`), if it is one.
pub fn temp_unique(name: &[u8]) -> Option<u64> {
    if !is_temp_name(name) {
        return None;
    }
    let hex = &name[TEMP_PREFIX.len()..];
    let mut v = 0u64;
    for &c in hex.iter().take_while(|&&c| c != b'-') {
        v = v << 4 | u64::from(crate::fmt::hex_value(c)?);
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temp_name_gives_its_unique_back() {
        let mut out = [0; TEMP_NAME_MAX];
        for u in [0, 1, 0xabc, 1234 << 32 | 7, u64::MAX] {
            assert_eq!(temp_unique(temp_name(b"k", u, &mut out)), Some(u));
        }
        assert_eq!(temp_unique(b"key"), None);
        assert_eq!(temp_unique(b".tmp-xyz-k"), None);
    }

    #[test]
    fn keys() {
        let max = "k".repeat(MAX_KEY);
        let over = "k".repeat(MAX_KEY + 1);
        let rows: &[(&[u8], bool)] = &[
            (b"key_abc", true),
            (b"12345", true),
            (b"a", true),
            (b"A-Z.a_z-0.9", true),
            (b"a..b", true),
            (b"a.", true),
            (b"-", true),
            (b"_", true),
            (max.as_bytes(), true),
            // Reject rows.
            (b"", false),
            (over.as_bytes(), false),
            (b".", false),
            (b"..", false),
            (b".hidden", false),
            (b".tmp-1-key", false),
            (b"/", false),
            (b"a/b", false),
            (b"../etc/passwd", false),
            (b"a\\b", false),
            (b"a b", false),
            (b"a%2e", false),
            (b"%2e%2e", false),
            (b"caf\xc3\xa9", false),
            (b"\xc0\xae", false),
            (b"a\0", false),
            (b"\0", false),
            (b"a\n", false),
            (b"a\r\n", false),
            (b"a\t", false),
            (b"a?b", false),
            (b"a#b", false),
            (b"a:b", false),
            (b"a*", false),
            (b"~", false),
            (b"a\x7f", false),
        ];
        for &(k, want) in rows {
            assert_eq!(valid_key(k), want, "{:?}", String::from_utf8_lossy(k));
        }
    }

    #[test]
    fn temp_names() {
        let long = "k".repeat(MAX_KEY);
        let rows: &[(&[u8], u64, String)] = &[
            (b"key_abc", 0, ".tmp-0-key_abc".into()),
            (b"12345", 0xbeef, ".tmp-beef-12345".into()),
            (b"x", u64::MAX, ".tmp-ffffffffffffffff-x".into()),
            (
                long.as_bytes(),
                u64::MAX,
                format!(".tmp-ffffffffffffffff-{long}"),
            ),
        ];
        for (key, unique, want) in rows {
            let mut out = [0; TEMP_NAME_MAX];
            let name = temp_name(key, *unique, &mut out);
            assert_eq!(name, want.as_bytes());
            assert!(is_temp_name(name));
            assert!(!valid_key(name));
        }
        // An over-long key is cut, and the result is still temporary.
        let huge = vec![b'k'; 1000];
        let mut out = [0; TEMP_NAME_MAX];
        let name = temp_name(&huge, 1, &mut out);
        assert_eq!(name.len(), TEMP_NAME_MAX);
        assert!(is_temp_name(name) && !valid_key(name));
        assert!(TEMP_NAME_MAX <= 255);
    }

    #[test]
    fn temp_name_recognition() {
        let rows: &[(&[u8], bool)] = &[
            (b".tmp-0-k", true),
            (b".tmp-0-", true),
            (b".tmp-ffffffffffffffff-k", true),
            // Reject rows: left alone at start-up.
            (b".tmp-10000000000000000-k", false),
            (b".tmp--k", false),
            (b".tmp-0", false),
            (b".tmp-FF-k", false),
            (b".tmp-g-k", false),
            (b".tmp", false),
            (b".tmp-", false),
            (b"tmp-0-k", false),
            (b".TMP-0-k", false),
            (b"key", false),
            (b"", false),
            (b".", false),
            (b"..", false),
        ];
        for &(name, want) in rows {
            assert_eq!(
                is_temp_name(name),
                want,
                "{:?}",
                String::from_utf8_lossy(name)
            );
        }
    }
}
