//! Path globs. Properties: no panic; a pattern without wildcards matches
//! exactly itself; `/**` matches every path starting with `/`; and on short
//! inputs `matches` agrees with the plain recursive definition below.
#![no_main]
use drift::content::glob::{check, matches};
use libfuzzer_sys::fuzz_target;

/// The definition, one token at a time, memoised on (pattern, path) offsets
/// so that a starry pattern stays polynomial here too.
fn reference(p: &[u8], s: &[u8]) -> bool {
    let mut memo = vec![None; (p.len() + 1) * (s.len() + 1)];
    go(p, s, 0, 0, &mut memo)
}

fn go(p: &[u8], s: &[u8], i: usize, j: usize, memo: &mut Vec<Option<bool>>) -> bool {
    let key = i * (s.len() + 1) + j;
    if let Some(r) = memo[key] {
        return r;
    }
    let (pat, path) = (&p[i..], &s[j..]);
    let r = match pat {
        [] => path.is_empty(),
        // A whole-segment `**` may take its `/` with it and match nothing.
        [b'/', b'*', b'*', rest @ ..] if matches!(rest.first(), None | Some(b'/')) => {
            go(p, s, i + 3, j, memo) || (path.first() == Some(&b'/') && go(p, s, i + 1, j + 1, memo))
        }
        [b'*', b'*', ..] => (j..=s.len()).any(|k| go(p, s, i + 2, k, memo)),
        [b'*', ..] => {
            let seg = path.iter().position(|&b| b == b'/').unwrap_or(path.len());
            (j..=j + seg).any(|k| go(p, s, i + 1, k, memo))
        }
        [b'?', ..] => matches!(path.first(), Some(&c) if c != b'/') && go(p, s, i + 1, j + 1, memo),
        [c, ..] => path.first() == Some(c) && go(p, s, i + 1, j + 1, memo),
    };
    memo[key] = Some(r);
    r
}

fuzz_target!(|data: &[u8]| {
    // pattern NUL path
    let Some(nul) = data.iter().position(|&b| b == 0) else { return };
    let (pattern, path) = (&data[..nul], &data[nul + 1..]);
    let _ = check(pattern);
    let got = matches(pattern, path);
    if !pattern.iter().any(|&b| b == b'*' || b == b'?') {
        assert_eq!(got, pattern == path);
        assert!(matches(pattern, pattern));
    }
    assert_eq!(matches(b"/**", path), path.is_empty() || path[0] == b'/', "{path:?}");
    if pattern.len() <= 64 && path.len() <= 64 {
        assert_eq!(got, reference(pattern, path), "{:?} vs {:?}",
            String::from_utf8_lossy(pattern), String::from_utf8_lossy(path));
    }
});
