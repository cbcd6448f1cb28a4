//! Request path -> file path relative to the document root, or a rejection.
//! This is the only place a static-file path is decoded; it must never yield
//! a path that climbs out of the root, names a hidden file unless allowed,
//! or holds a byte that means something else to the kernel than to us.
//!
//! Decoding happens exactly once. A `%` that survives decoding (`%25`, so
//! `%252e%252e` -> `%2e%2e`) is rejected rather than served as a literal
//! name: no legitimate link double-encodes, and refusing it means no later
//! layer (a log viewer, a proxy, a second decoder) can ever turn it into
//! `..`. The price: files whose names contain `%` cannot be served.
//! A decoded `/` (`%2f`) separates segments like a raw one, so `..%2f` is a
//! `..` segment. Bytes >= 0x80 pass through as they are: Linux names are
//! bytes, so the overlong UTF-8 `%c0%ae` is a two-byte name, never `.`.

use crate::fmt::hex_value;

/// Longest relative path worth producing: Linux's PATH_MAX, beyond which
/// openat(2) fails with ENAMETOOLONG anyway. A size for `out`.
pub const MAX_PATH: usize = 4096;

/// A request path made safe to open relative to the document root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// INVARIANT: segments joined by single `/`; no leading or trailing `/`,
    /// no empty, `.` or `..` segment, no NUL, control byte, `\` or `%`.
    /// Empty for the root.
    pub path: &'a [u8],
    /// The URL path ended in `/` (or `/.`): it asked for a directory as one.
    /// A directory reached without it gets a redirect to the `/` form.
    pub trailing_slash: bool,
}

/// Why a request path was refused. 400: not a path at all; 404: a valid
/// path naming something Drift never serves (a 404 tells a scanner nothing
/// about whether the file exists); 414: too long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// Not origin-form: empty, `*`, `http://host/...`, `../x`. 400.
    /// (A server that accepts absolute-form strips scheme and host first.)
    NotOrigin,
    /// `%` not followed by two hex digits (`%zz`, `%2`, `%u002e`). 400.
    BadEscape,
    /// NUL, another control byte or DEL, raw or decoded. 400.
    ControlByte,
    /// A `..` segment, raw or encoded (`%2e%2e`, `.%2e`, `..%2f`). 404.
    Traversal,
    /// A backslash, raw or `%5c`: a separator on other systems. 404.
    Backslash,
    /// A `%` left after decoding (`%25`): a double-encoded name. 404.
    EncodedPercent,
    /// A segment starting with `.` while dotfiles are hidden. 404.
    Hidden,
    /// The decoded path does not fit `out` (a `.` or `..` segment that
    /// starts past its end included). 414.
    TooLong,
}

impl PathError {
    /// The status code the server answers with.
    pub fn status(self) -> u16 {
        match self {
            PathError::NotOrigin | PathError::BadEscape | PathError::ControlByte => 400,
            PathError::TooLong => 414,
            _ => 404,
        }
    }
}

/// Maps a request-target (`/a/b%20c.html?x=1`) to a relative path
/// (`a/b c.html`) in `out`. The query and fragment are dropped undecoded;
/// empty and `.` segments collapse; `..` is refused, never resolved.
pub fn resolve<'a>(
    target: &[u8],
    out: &'a mut [u8],
    allow_dotfiles: bool,
) -> Result<Resolved<'a>, PathError> {
    let raw = match target {
        [b'/', rest @ ..] => rest,
        _ => return Err(PathError::NotOrigin),
    };
    let end = raw
        .iter()
        .position(|&c| c == b'?' || c == b'#')
        .unwrap_or(raw.len());
    let raw = raw.get(..end).unwrap_or_default();

    let mut i = 0; // next byte of `raw` to decode
    let mut w = 0; // bytes written to `out`
    // INVARIANT: mark <= w; out[..mark] is the finished segments. The current
    // segment starts after the `/` written at `mark` (at 0 for the first).
    let mut mark = 0;
    let mut trailing_slash;
    loop {
        let b = match raw.get(i) {
            None => None,
            Some(&b'%') => {
                let hi = raw.get(i + 1).copied().and_then(hex_value);
                let lo = raw.get(i + 2).copied().and_then(hex_value);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(PathError::BadEscape);
                };
                i += 3;
                Some(hi << 4 | lo)
            }
            Some(&c) => {
                i += 1;
                Some(c)
            }
        };
        match b {
            Some(b'/') | None => {
                let start = if mark == 0 { 0 } else { mark + 1 };
                let segment = out.get(start..w).unwrap_or_default();
                trailing_slash = matches!(segment, [] | [b'.']);
                match segment {
                    [] | [b'.'] => w = mark,
                    [b'.', b'.'] => return Err(PathError::Traversal),
                    [b'.', ..] if !allow_dotfiles => return Err(PathError::Hidden),
                    _ => mark = w,
                }
                if b.is_none() {
                    break;
                }
            }
            Some(c) => {
                match c {
                    0..=0x1f | 0x7f => return Err(PathError::ControlByte),
                    b'\\' => return Err(PathError::Backslash),
                    b'%' => return Err(PathError::EncodedPercent),
                    _ => {}
                }
                if w == mark && mark > 0 {
                    *out.get_mut(w).ok_or(PathError::TooLong)? = b'/';
                    w += 1;
                }
                *out.get_mut(w).ok_or(PathError::TooLong)? = c;
                w += 1;
            }
        }
    }
    Ok(Resolved {
        path: out.get(..w).unwrap_or_default(),
        trailing_slash,
    })
}

/// Where a symbolic link leads, for a walk that resolves links itself (when
/// the kernel has no `openat2`): `dir` (the real directories walked so
/// far, joined by `/`), then the link's `target`, then `rest` (what the
/// path still had after the link), joined and normalised in `out`. `None`
/// when the result would leave the root (an absolute target, or more `..`
/// than there are directories to climb; `RESOLVE_BENEATH` refuses both) or
/// does not fit. `..` may be resolved by name here because every directory
/// in `dir` is real: none of them is a link.
pub fn join_link(dir: &[u8], target: &[u8], rest: &[u8], out: &mut [u8]) -> Option<usize> {
    if target.first() == Some(&b'/') {
        return None;
    }
    let mut w = 0;
    for part in [dir, target, rest] {
        for seg in part.split(|&b| b == b'/') {
            match seg {
                [] | [b'.'] => {}
                [b'.', b'.'] => {
                    // Drop the last segment (and its `/`); none left: escape.
                    let last = out.get(..w)?.iter().rposition(|&b| b == b'/');
                    w = match (w, last) {
                        (0, _) => return None,
                        (_, Some(i)) => i,
                        (_, None) => 0,
                    };
                }
                _ => {
                    if w > 0 {
                        *out.get_mut(w)? = b'/';
                        w += 1;
                    }
                    out.get_mut(w..w + seg.len())?.copy_from_slice(seg);
                    w += seg.len();
                }
            }
        }
    }
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::PathError::*;
    use super::*;

    type Want = Result<(&'static [u8], bool), PathError>;

    fn run(target: &[u8], out: &mut [u8], dot: bool) -> Result<(Vec<u8>, bool), PathError> {
        resolve(target, out, dot).map(|r| (r.path.to_vec(), r.trailing_slash))
    }

    fn check(rows: &[(&[u8], Want)], dot: bool) {
        for &(target, want) in rows {
            let mut out = [0u8; MAX_PATH];
            let got = run(target, &mut out, dot);
            let want = want.map(|(p, t)| (p.to_vec(), t));
            assert_eq!(
                got,
                want,
                "{:?} (dotfiles {dot})",
                String::from_utf8_lossy(target)
            );
        }
    }

    #[test]
    fn attacks() {
        let rows: &[(&[u8], Want)] = &[
            (b"../", Err(NotOrigin)),
            (b"..", Err(NotOrigin)),
            (b"/..", Err(Traversal)),
            (b"/../", Err(Traversal)),
            (b"/../etc/passwd", Err(Traversal)),
            (b"/a/../../b", Err(Traversal)),
            (b"/a/../b", Err(Traversal)),
            (b"/a/..", Err(Traversal)),
            (b"/a/..?x=1", Err(Traversal)),
            (b"/%2e%2e/", Err(Traversal)),
            (b"/%2E%2E%2F", Err(Traversal)),
            (b"/%2e%2e", Err(Traversal)),
            (b"/a/%2e%2e", Err(Traversal)),
            (b"/..%2f", Err(Traversal)),
            (b"/..%2fetc%2fpasswd", Err(Traversal)),
            (b"/a%2f..%2fb", Err(Traversal)),
            (b"/.%2e/", Err(Traversal)),
            (b"/%2e./", Err(Traversal)),
            (b"/%252e%252e/", Err(EncodedPercent)),
            (b"/%252e%252e%252fetc", Err(EncodedPercent)),
            (b"/%25", Err(EncodedPercent)),
            (b"/%00", Err(ControlByte)),
            (b"/a%00.html", Err(ControlByte)),
            (b"/%00/", Err(ControlByte)),
            (b"/a%0d%0aSet-Cookie:x", Err(ControlByte)),
            (b"/a\r", Err(ControlByte)),
            (b"/a\0b", Err(ControlByte)),
            (b"/a%7f", Err(ControlByte)),
            (b"/a%09b", Err(ControlByte)),
            (b"/\\..\\", Err(Backslash)),
            (b"/..\\..\\etc", Err(Backslash)),
            (b"/%5c", Err(Backslash)),
            (b"/%5C..%5C", Err(Backslash)),
            (b"/%2e%2e%5c", Err(Backslash)),
            (b"/%", Err(BadEscape)),
            (b"/%2", Err(BadEscape)),
            (b"/%zz", Err(BadEscape)),
            (b"/%%32%65", Err(BadEscape)),
            (b"/%2%65", Err(BadEscape)),
            (b"/%u002e%u002e/", Err(BadEscape)),
            (b"/.git/config", Err(Hidden)),
            (b"/.env", Err(Hidden)),
            (b"/a/.htaccess", Err(Hidden)),
            (b"/%2egit/HEAD", Err(Hidden)),
            (b"/...", Err(Hidden)),
            (b"/..;/etc", Err(Hidden)),
            (b"/.. /", Err(Hidden)),
            (b"/....//", Err(Hidden)),
            (b"http://x/", Err(NotOrigin)),
            (b"HTTP://x/../", Err(NotOrigin)),
            (b"", Err(NotOrigin)),
            (b"*", Err(NotOrigin)),
            (b"a/b", Err(NotOrigin)),
            (b"?/x", Err(NotOrigin)),
            // Safe after normalisation: stays under the root.
            (b"/./././", Ok((b"", true))),
            (b"//etc/passwd", Ok((b"etc/passwd", false))),
            (b"/%2f%2fetc", Ok((b"etc", false))),
            (b"/?../..", Ok((b"", true))),
            (b"/#/../", Ok((b"", true))),
            (b"/index.html?x=%00", Ok((b"index.html", false))),
            // Overlong UTF-8 for `.`: bytes to Linux, a literal name.
            (b"/%c0%ae%c0%ae/etc", Ok((b"\xc0\xae\xc0\xae/etc", false))),
            (b"/%c0%2e", Ok((b"\xc0.", false))),
        ];
        assert!(rows.len() >= 40);
        check(rows, false);
    }

    #[test]
    fn ordinary() {
        let rows: &[(&[u8], Want)] = &[
            (b"/", Ok((b"", true))),
            (b"/index.html", Ok((b"index.html", false))),
            (b"/dir/", Ok((b"dir", true))),
            (b"/dir", Ok((b"dir", false))),
            (b"/dir/.", Ok((b"dir", true))),
            (b"/a/./b", Ok((b"a/b", false))),
            (b"/a//b///c", Ok((b"a/b/c", false))),
            (b"/a/b/%2e", Ok((b"a/b", true))),
            (b"/ok%20name.txt", Ok((b"ok name.txt", false))),
            (b"/caf%C3%A9.html", Ok((b"caf\xc3\xa9.html", false))),
            (b"/caf\xc3\xa9", Ok((b"caf\xc3\xa9", false))),
            (b"/a%3fb%23c", Ok((b"a?b#c", false))),
            (b"/a.b.c/d-e_f~g", Ok((b"a.b.c/d-e_f~g", false))),
            (b"/a.", Ok((b"a.", false))),
            (b"/a..", Ok((b"a..", false))),
        ];
        check(rows, false);
    }

    #[test]
    fn dotfiles_allowed() {
        let rows: &[(&[u8], Want)] = &[
            (
                b"/.well-known/acme-challenge/x",
                Ok((b".well-known/acme-challenge/x", false)),
            ),
            (b"/.env", Ok((b".env", false))),
            (b"/...", Ok((b"...", false))),
            (b"/%2egit/", Ok((b".git", true))),
            (b"/./x", Ok((b"x", false))),
            (b"/..", Err(Traversal)),
            (b"/a/../b", Err(Traversal)),
            (b"/%2e%2e", Err(Traversal)),
            (b"/.%2e%2f", Err(Traversal)),
            (b"/%252e%252e", Err(EncodedPercent)),
        ];
        check(rows, true);
    }

    #[test]
    fn capacity() {
        let rows: &[(&[u8], Result<(&[u8], bool), PathError>)] = &[
            (b"/abc", Ok((b"abc", false))),
            (b"/abc/", Ok((b"abc", true))),
            (b"/a/b", Ok((b"a/b", false))),
            (b"/%61%62%63", Ok((b"abc", false))),
            (b"/abcd", Err(TooLong)),
            (b"/ab/c", Err(TooLong)),
            (b"/abc/d", Err(TooLong)),
            // Segments are checked once written, so one past the end is
            // TooLong before it can be seen to be `.` or `..`.
            (b"/abc/.", Err(TooLong)),
            (b"/abc/./..", Err(TooLong)),
            (b"/ab/..", Err(TooLong)),
            (b"/a/..", Err(TooLong)),
            (b"/a/.", Ok((b"a", true))),
            (b"/../", Err(Traversal)),
        ];
        for &(target, want) in rows {
            let mut out = [0u8; 3];
            let got = run(target, &mut out, false);
            assert_eq!(
                got,
                want.map(|(p, t)| (p.to_vec(), t)),
                "{:?}",
                String::from_utf8_lossy(target)
            );
        }
        let mut long = vec![b'/'];
        long.extend(std::iter::repeat_n(b'a', MAX_PATH + 1));
        assert_eq!(run(&long, &mut [0; MAX_PATH], false), Err(TooLong));
        long.pop();
        assert_eq!(
            run(&long, &mut [0; MAX_PATH], false).map(|r| r.0.len()),
            Ok(MAX_PATH)
        );
        assert_eq!(run(b"/a", &mut [], false), Err(TooLong));
        assert_eq!(run(b"/", &mut [], false), Ok((vec![], true)));
    }

    #[test]
    fn statuses() {
        for (e, s) in [
            (NotOrigin, 400),
            (BadEscape, 400),
            (ControlByte, 400),
            (Traversal, 404),
            (Backslash, 404),
            (EncodedPercent, 404),
            (Hidden, 404),
            (TooLong, 414),
        ] {
            assert_eq!(e.status(), s, "{e:?}");
        }
    }

    /// Every output obeys the invariant, whatever the input.
    #[test]
    fn invariant_holds_for_all_short_inputs() {
        let alphabet: &[&[u8]] = &[b"/", b".", b"a", b"%2e", b"%2f", b"%25", b"\\", b"?", b"%"];
        let mut stack: Vec<Vec<u8>> = vec![b"/".to_vec()];
        while let Some(t) = stack.pop() {
            let mut out = [0u8; 64];
            if let Ok(r) = resolve(&t, &mut out, true) {
                let p = r.path;
                if p.is_empty() {
                    continue;
                }
                assert!(!p.starts_with(b"/") && !p.ends_with(b"/"), "{t:?}");
                for seg in p.split(|&b| b == b'/') {
                    assert!(
                        !seg.is_empty() && seg != b"." && seg != b"..",
                        "{t:?} -> {p:?}"
                    );
                }
                assert!(!p.iter().any(|&b| b == b'\\' || b == b'%' || b < 0x20));
            }
            if t.len() < 7 {
                for a in alphabet {
                    let mut n = t.clone();
                    n.extend_from_slice(a);
                    stack.push(n);
                }
            }
        }
    }

    #[test]
    fn link_targets() {
        let rows: &[(&str, &str, &str, Option<&str>)] = &[
            ("", "b.html", "", Some("b.html")),
            ("a", "b.html", "", Some("a/b.html")),
            ("a/b", "../c", "/d.txt", Some("a/c/d.txt")),
            ("a/b", "../../c", "", Some("c")),
            ("a", "..", "x", Some("x")),
            ("a/b", "./././c//d/", "", Some("a/b/c/d")),
            ("", "..", "", None),
            ("a", "../../etc/passwd", "", None),
            ("a/b", "../../../x", "", None),
            ("a", "/etc/passwd", "", None),
            ("", "x/../../y", "", None),
            ("a", "x", "/../../..", None),
        ];
        for &(dir, target, rest, want) in rows {
            let mut out = [0u8; 64];
            let got = join_link(dir.as_bytes(), target.as_bytes(), rest.as_bytes(), &mut out)
                .map(|n| std::str::from_utf8(&out[..n]).unwrap().to_string());
            assert_eq!(got.as_deref(), want, "{dir} + {target} + {rest}");
        }
        let mut small = [0u8; 4];
        assert_eq!(join_link(b"abc", b"def", b"", &mut small), None);
    }
}
