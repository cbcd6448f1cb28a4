//! Path globs for config rules (`header /assets/* ...`, `auth /admin/** ...`):
//! checked once at start-up, matched per request against the decoded path.
//! Matching must never recurse, allocate, or take more than
//! O(len(pattern) · len(path)) steps, whatever the pattern or the path.
//!
//! `*` is any bytes within one segment (never `/`), `**` any bytes at all,
//! `?` one byte that is not `/`; everything else is itself, case and all.
//! A `**` that is a whole segment (`/a/**`, `/a/**/b`) takes its `/` with
//! it, so it may match nothing: `/a/**/b` matches `/a/b` (as in gitignore),
//! and `/a/**` matches `/a`, so `auth /admin/**` also guards the bare
//! `/admin` (its redirect to `/admin/` must not be the way around it).
//!
//! Why not backtracking: the classic "remember the last star" loop is
//! linear-ish only when every star can swallow what an earlier one could.
//! A `*` cannot swallow `/`, so after `**` a failed `*` must fall back to
//! the `**`, and `/**a*b` against `/aaaa…` then rescans the tail once per
//! fallback: O(len(path)²). Instead the pattern runs as an NFA whose
//! states are pattern offsets, held in a fixed bitset: each path byte
//! advances every live state once, so the bound holds by construction.

/// Longest pattern: plenty for a path rule, and it bounds the NFA's state
/// set to 17 words on the stack.
pub const MAX_PATTERN: usize = 1024;

/// Words of the state bitset: one bit per pattern offset, end included.
const WORDS: usize = (MAX_PATTERN + 1).div_ceil(64);

/// Why a pattern was refused at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobError {
    /// No bytes at all.
    Empty,
    /// Not starting with `/`: request paths always do, so it never matches.
    NotAbsolute,
    /// Longer than `MAX_PATTERN`.
    TooLong,
    /// NUL, another control byte or DEL: never in a decoded path that
    /// `content::path` lets through, and unprintable in a log line.
    ControlByte,
    /// `***`: neither `*` nor `**`, and most likely a typo for one of them.
    TripleStar,
    /// A `.` or `..` segment: paths are normalised before they are
    /// matched, so the rule could never apply.
    DotSegment,
    /// `%`: patterns match the decoded path, so `%20` would only ever
    /// match a literal `%20`, which `content::path` refuses anyway. An
    /// operator who wrote it meant the decoded byte, and a rule that
    /// silently never matches (an `auth` rule!) must not start.
    Percent,
    /// `\`: no escapes here, and paths with one are refused before rules.
    Backslash,
}

impl GlobError {
    /// What is wrong, for a `FILE:LINE: what` line.
    pub fn what(self) -> &'static str {
        match self {
            GlobError::Empty => "empty path pattern",
            GlobError::NotAbsolute => "a path pattern must start with /",
            GlobError::TooLong => "path pattern longer than 1024 bytes",
            GlobError::ControlByte => "control byte in path pattern",
            GlobError::TripleStar => "*** in path pattern: use * (one segment) or ** (any depth)",
            GlobError::DotSegment => ". or .. segment in path pattern: it would never match",
            GlobError::Percent => "% in path pattern: write the decoded byte (or ?), not %XX",
            GlobError::Backslash => "\\ in path pattern: there are no escapes",
        }
    }
}

/// Start-up validation: `Ok` if `pattern` is a pattern `matches` should be
/// given. (`matches` never panics on any input; this is for the operator.)
pub fn check(pattern: &[u8]) -> Result<(), GlobError> {
    match pattern.first() {
        None => return Err(GlobError::Empty),
        Some(&b'/') => {}
        Some(_) => return Err(GlobError::NotAbsolute),
    }
    if pattern.len() > MAX_PATTERN {
        return Err(GlobError::TooLong);
    }
    if pattern.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(GlobError::ControlByte);
    }
    if pattern.windows(3).any(|w| w == b"***") {
        return Err(GlobError::TripleStar);
    }
    if pattern.contains(&b'%') {
        return Err(GlobError::Percent);
    }
    if pattern.contains(&b'\\') {
        return Err(GlobError::Backslash);
    }
    if pattern
        .split(|&b| b == b'/')
        .any(|s| s == b"." || s == b"..")
    {
        return Err(GlobError::DotSegment);
    }
    Ok(())
}

/// Whether `path` (decoded, without the query) matches `pattern`. Never
/// panics; a pattern longer than `MAX_PATTERN` matches nothing.
pub fn matches(pattern: &[u8], path: &[u8]) -> bool {
    if !pattern.iter().any(|&b| b == b'*' || b == b'?') {
        return pattern == path;
    }
    // `/static/**` is the common rule: a prefix test, no NFA.
    if let Some(prefix) = pattern.strip_suffix(b"/**")
        && !prefix.iter().any(|&b| b == b'*' || b == b'?')
    {
        return match path.strip_prefix(prefix) {
            Some(rest) => rest.is_empty() || rest.first() == Some(&b'/'),
            None => false,
        };
    }
    run(pattern, path)
}

/// The NFA, one step per path byte: the states that survive a byte are
/// those whose token accepts it. False for a pattern over `MAX_PATTERN`.
fn run(pattern: &[u8], path: &[u8]) -> bool {
    if pattern.len() > MAX_PATTERN {
        return false;
    }
    let mut live = States::default();
    live.insert(0);
    for &c in path {
        let mut next = States::default();
        live.each_closed(pattern, |i, token| match token {
            Token::Byte(b) if b == c => next.insert(i + 1),
            Token::One if c != b'/' => next.insert(i + 1),
            Token::Star if c != b'/' => next.insert(i),
            Token::Globstar => next.insert(i),
            _ => {}
        });
        if next.is_empty() {
            return false;
        }
        live = next;
    }
    let mut end = false;
    live.each_closed(pattern, |i, _| end |= i == pattern.len());
    end
}

/// One step of a pattern, starting at some offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    /// A byte that matches itself.
    Byte(u8),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**`
    Globstar,
    /// The end of the pattern: the accepting state.
    End,
}

/// The token at `pattern[i..]` and its length. Tokens are read left to
/// right, so `***` is `**` then `*` (check refuses it; this just must not
/// panic).
fn token_at(pattern: &[u8], i: usize) -> (Token, usize) {
    match pattern.get(i..).unwrap_or_default() {
        [] => (Token::End, 0),
        [b'*', b'*', ..] => (Token::Globstar, 2),
        [b'*', ..] => (Token::Star, 1),
        [b'?', ..] => (Token::One, 1),
        [b, ..] => (Token::Byte(*b), 1),
    }
}

/// Whether the `/` at `pattern[i]` starts a whole-segment `**` (`/**` at
/// the end or before another `/`), which may match nothing at all.
fn optional_globstar(pattern: &[u8], i: usize) -> bool {
    matches!(
        pattern.get(i..).unwrap_or_default(),
        [b'/', b'*', b'*'] | [b'/', b'*', b'*', b'/', ..]
    )
}

/// A set of NFA states: bit `i` is "the pattern's first `i` bytes have
/// matched the path so far". INVARIANT: only token starts are ever set.
#[derive(Clone, Copy, Default)]
struct States([u64; WORDS]);

impl States {
    fn insert(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    /// Calls `f` on every state in the set and every state reachable from
    /// those without consuming a byte (past a `*` or `**`, or past a whole
    /// `/**`), in increasing order, adding those to the set as it goes.
    /// Such moves only go forward, so one ascending pass reaches them all.
    fn each_closed(&mut self, pattern: &[u8], mut f: impl FnMut(usize, Token)) {
        let words = (pattern.len() / 64 + 1).min(WORDS);
        for w in 0..words {
            let mut bits = self.0.get(w).copied().unwrap_or(0);
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let (token, len) = token_at(pattern, i);
                let mut skip = |to: usize| {
                    self.insert(to);
                    if to / 64 == w {
                        bits |= 1 << (to % 64);
                    }
                };
                if matches!(token, Token::Star | Token::Globstar) {
                    skip(i + len);
                }
                if optional_globstar(pattern, i) {
                    skip(i + 3);
                }
                f(i, token);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_table() {
        let long = format!("/{}", "a".repeat(MAX_PATTERN - 1));
        let over = format!("/{}", "a".repeat(MAX_PATTERN));
        let rows: &[(&[u8], Result<(), GlobError>)] = &[
            (b"/", Ok(())),
            (b"/index.html", Ok(())),
            (b"/assets/*", Ok(())),
            (b"/admin/**", Ok(())),
            (b"/**", Ok(())),
            (b"/a/**/b/*.css", Ok(())),
            (b"/img/??.png", Ok(())),
            (b"/.well-known/**", Ok(())),
            (b"/a/...", Ok(())),
            (b"/caf\xc3\xa9/*", Ok(())),
            (b"/a**b", Ok(())),
            (long.as_bytes(), Ok(())),
            // Reject rows.
            (b"", Err(GlobError::Empty)),
            (b"assets/*", Err(GlobError::NotAbsolute)),
            (b"*", Err(GlobError::NotAbsolute)),
            (b"**", Err(GlobError::NotAbsolute)),
            (over.as_bytes(), Err(GlobError::TooLong)),
            (b"/a\0b", Err(GlobError::ControlByte)),
            (b"/a\tb", Err(GlobError::ControlByte)),
            (b"/a\x7f", Err(GlobError::ControlByte)),
            (b"/a\n", Err(GlobError::ControlByte)),
            (b"/***", Err(GlobError::TripleStar)),
            (b"/a/****", Err(GlobError::TripleStar)),
            (b"/a%20b", Err(GlobError::Percent)),
            (b"/a\\*", Err(GlobError::Backslash)),
            (b"/a/../b", Err(GlobError::DotSegment)),
            (b"/./a", Err(GlobError::DotSegment)),
            (b"/a/.", Err(GlobError::DotSegment)),
            (b"/..", Err(GlobError::DotSegment)),
        ];
        for (p, want) in rows {
            assert_eq!(check(p), *want, "{}", String::from_utf8_lossy(p));
        }
        for e in [
            GlobError::Empty,
            GlobError::NotAbsolute,
            GlobError::TooLong,
            GlobError::ControlByte,
            GlobError::TripleStar,
            GlobError::DotSegment,
            GlobError::Percent,
            GlobError::Backslash,
        ] {
            assert!(!e.what().is_empty() && e.what().len() < 80, "{e:?}");
        }
    }

    #[test]
    fn match_table() {
        let rows: &[(&str, &str, bool)] = &[
            // No wildcards: equality, case-sensitive.
            ("/", "/", true),
            ("/a/b.html", "/a/b.html", true),
            ("/a/b.html", "/a/b.htm", false),
            ("/a/b.html", "/a/b.html/", false),
            ("/a/b.html", "/A/b.html", false),
            ("/a", "", false),
            // `*`: one segment, possibly empty.
            ("/assets/*", "/assets/app.js", true),
            ("/assets/*", "/assets/", true),
            ("/assets/*", "/assets", false),
            ("/assets/*", "/assets/js/app.js", false),
            ("/*.css", "/site.css", true),
            ("/*.css", "/.css", true),
            ("/*.css", "/a/site.css", false),
            ("/*.css", "/site.css.map", false),
            ("/*/index.html", "/docs/index.html", true),
            ("/*/index.html", "//index.html", true),
            ("/*/index.html", "/a/b/index.html", false),
            ("/a*b*c", "/abc", true),
            ("/a*b*c", "/axxbyyc", true),
            ("/a*b*c", "/axxbyyc/", false),
            ("/a*b*c", "/ax/bc", false),
            ("/a*", "/abc", true),
            ("/a*", "/", false),
            // `?`: one byte, not `/`.
            ("/img/??.png", "/img/ab.png", true),
            ("/img/??.png", "/img/a.png", false),
            ("/img/??.png", "/img/abc.png", false),
            ("/img/??.png", "/img/a/.png", false),
            ("/?", "/\u{e9}", false), // two bytes in UTF-8
            ("/??", "/\u{e9}", true),
            // `**` as a whole segment: any depth, including none.
            ("/admin/**", "/admin", true),
            ("/admin/**", "/admin/", true),
            ("/admin/**", "/admin/users/1", true),
            ("/admin/**", "/administrator", false),
            ("/admin/**", "/admi", false),
            ("/admin/**", "/ADMIN/x", false),
            ("/admin/**", "/x/admin/y", false),
            ("/**", "/", true),
            ("/**", "/anything/at/all", true),
            ("/**", "", true),
            ("/a/**/b", "/a/b", true),
            ("/a/**/b", "/a/x/b", true),
            ("/a/**/b", "/a/x/y/z/b", true),
            ("/a/**/b", "/a//b", true),
            ("/a/**/b", "/a/xb", false),
            ("/a/**/b", "/ab", false),
            ("/a/**/b", "/a/b/c", false),
            ("/**/*.php", "/index.php", true),
            ("/**/*.php", "/a/b/x.php", true),
            ("/**/*.php", "/a/b/x.php/y", false),
            ("/**/*.php", "/a/b/x.phps", false),
            ("/a/**/**/b", "/a/b", true),
            ("/a/**/**/b", "/a/x/y/b", true),
            // `**` inside a segment: any bytes, `/` included.
            ("/a**b", "/ab", true),
            ("/a**b", "/a/x/b", true),
            ("/a**b", "/a/x/c", false),
            ("/**.map", "/js/app.js.map", true),
            ("/**.map", "/js/app.js", false),
            ("/x/**z", "/x/z", true),
            ("/x/**z", "/xz", false),
            ("/**a**a**b", "/aab", true),
            ("/**a**a**b", "/a/a/b", true),
            ("/**a**a**b", "/ab", false),
            // Mixed: a `*` that fails must fall back to an earlier `**`.
            ("/**/a*/c", "/a/a/b/c", false),
            ("/**/a*/c", "/x/a/ab/c", true),
            ("/**/a*/c", "/ab/x/c", false),
            ("/**/a*/c", "/ab/ax/c", true),
            ("/**/a*/c", "/x/ab/c", true),
            ("/**a*b", "/ab/ab", true),
            ("/**a*b", "/ab/ba", false),
            ("/**a*b", "/aaaaaaaaaaaaab", true),
            // Unchecked patterns: any answer, no panic; these are just pinned.
            ("/***", "/a/b", true),
            ("", "", true),
            ("*", "", true),
        ];
        for (p, s, want) in rows {
            assert_eq!(matches(p.as_bytes(), s.as_bytes()), *want, "{p:?} vs {s:?}");
        }
    }

    #[test]
    fn fast_paths_agree_with_the_nfa() {
        let rows: &[(&str, &str)] = &[
            ("/admin/**", "/admin"),
            ("/admin/**", "/admin/"),
            ("/admin/**", "/admin/x/y"),
            ("/admin/**", "/administrator"),
            ("/admin/**", "/admi"),
            ("/a/b", "/a/b"),
            ("/a/b", "/a/bc"),
        ];
        for (p, s) in rows {
            let fast = matches(p.as_bytes(), s.as_bytes());
            let slow = run(p.as_bytes(), s.as_bytes());
            assert_eq!(fast, slow, "{p:?} vs {s:?}");
        }
    }

    #[test]
    fn hostile_patterns_finish_quickly() {
        // Each would take exponential (naive recursion) or quadratic
        // (two-kind backtracking) time; the NFA does len(path) steps over
        // at most len(pattern) states. Generous bounds: debug build, CI.
        let a4k = format!("/{}", "a".repeat(4096));
        let deep = "/a".repeat(2048);
        let worst = format!("/{}b", "**a".repeat(340));
        let rows: &[(&str, &str)] = &[
            ("/**a**a**a**a**b", &a4k),
            ("/*a*a*a*a*a*a*a*a*b", &a4k),
            ("/**a*b", &a4k),
            ("/**/a*/c", &deep),
            (&worst, &a4k),
        ];
        for (p, s) in rows {
            let start = std::time::Instant::now();
            assert!(!matches(p.as_bytes(), s.as_bytes()), "{p}");
            let took = start.elapsed();
            assert!(
                took.as_millis() < 2000,
                "{} bytes of pattern took {took:?}",
                p.len()
            );
        }
    }

    #[test]
    fn long_patterns_match_nothing_without_panicking() {
        let over = format!("/{}*", "a".repeat(MAX_PATTERN));
        assert!(!matches(over.as_bytes(), over.as_bytes()));
        let max = format!("/{}*", "a".repeat(MAX_PATTERN - 2));
        assert_eq!(max.len(), MAX_PATTERN);
        assert!(matches(max.as_bytes(), format!("{max}xyz").as_bytes()));
        // A `**` whose `/` is the last bit of one word and whose skip lands
        // in the next.
        let straddle = format!("/{}/**/b", "a".repeat(61)); // `/` at offset 62
        let base = format!("/{}", "a".repeat(61));
        assert!(matches(straddle.as_bytes(), format!("{base}/b").as_bytes()));
        assert!(matches(
            straddle.as_bytes(),
            format!("{base}/x/y/b").as_bytes()
        ));
        assert!(!matches(straddle.as_bytes(), format!("{base}b").as_bytes()));
        let words_edge = format!("/{}*", "a".repeat(62)); // `*` at offset 63
        assert!(matches(
            words_edge.as_bytes(),
            format!("{words_edge}z").as_bytes()
        ));
    }
}
