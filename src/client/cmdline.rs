//! `driftd get` and `driftd check` command lines: words in, `Args` out, or
//! the one-line reason they were refused. Pure, so every row is host-tested.
//! The URL itself is checked later, by `content::url::parse`.
use crate::fmt::parse_u32;

/// Which client command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Download the body (stdout or `-o FILE`); exit 0 on 2xx.
    Get,
    /// Health check: exit 0 on 2xx or 3xx, 1 otherwise, silent on success.
    Check,
}

/// What the command line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Args<'a> {
    pub mode: Mode,
    pub url: &'a [u8],
    /// `-o FILE`; `None` (or `-o -`) is stdout. Only for `get`.
    pub output: Option<&'a [u8]>,
    /// Milliseconds. `check`: the whole exchange, name lookup included.
    /// `get`: the longest wait for any one step (lookup, connect, each read).
    pub timeout_ms: u64,
}

/// `check`'s default: a health check that answers late has failed.
pub const CHECK_TIMEOUT_MS: u64 = 2_000;
/// `get`'s default wait for progress: a slow server still finishes.
pub const GET_TIMEOUT_MS: u64 = 30_000;

/// The outcome of parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    Run(Args<'a>),
    Help,
    /// Refused: `(what is wrong, the argument)`.
    Usage(&'static str, &'a [u8]),
}

/// Parses the words after `get` or `check`.
pub fn parse<'a>(mode: Mode, mut words: impl Iterator<Item = &'a [u8]>) -> Parsed<'a> {
    let mut a = Args {
        mode,
        url: b"",
        output: None,
        timeout_ms: if mode == Mode::Check { CHECK_TIMEOUT_MS } else { GET_TIMEOUT_MS },
    };
    while let Some(w) = words.next() {
        let is = |names: &[&[u8]]| names.contains(&w);
        if is(&[b"--help", b"-h"]) {
            return Parsed::Help;
        } else if mode == Mode::Get && is(&[b"-o", b"--output"]) {
            match words.next() {
                Some(b"-") => a.output = None,
                Some(f) if !f.is_empty() => a.output = Some(f),
                _ => return Parsed::Usage("-o needs a file name", w),
            }
        } else if is(&[b"--timeout"]) {
            let Some(v) = words.next() else { return Parsed::Usage("--timeout needs a number", w) };
            match parse_u32(v) {
                Some(s @ 1..=86_400) => a.timeout_ms = u64::from(s) * 1000,
                _ => return Parsed::Usage("--timeout is whole seconds, 1-86400", v),
            }
        } else if w.len() > 1 && w.first() == Some(&b'-') {
            return Parsed::Usage("unknown argument", w);
        } else if !a.url.is_empty() {
            return Parsed::Usage("one URL only", w);
        } else {
            a.url = w;
        }
    }
    if a.url.is_empty() {
        return Parsed::Usage("a URL is needed, e.g. http://127.0.0.1:8080/", b"");
    }
    Parsed::Run(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mode: Mode, words: &[&'static str]) -> Parsed<'static> {
        parse(mode, words.iter().map(|w| w.as_bytes()))
    }

    #[test]
    fn accepted_rows() {
        let get = |url: &'static str, output, timeout_ms| Parsed::Run(Args { mode: Mode::Get, url: url.as_bytes(), output, timeout_ms });
        let rows: &[(Mode, &[&'static str], Parsed<'static>)] = &[
            (Mode::Get, &["http://x/"], get("http://x/", None, GET_TIMEOUT_MS)),
            (Mode::Get, &["http://x/", "-o", "f"], get("http://x/", Some(b"f"), GET_TIMEOUT_MS)),
            (Mode::Get, &["--output", "d/f", "http://x/"], get("http://x/", Some(b"d/f"), GET_TIMEOUT_MS)),
            (Mode::Get, &["-o", "f", "-o", "-", "http://x/"], get("http://x/", None, GET_TIMEOUT_MS)),
            (Mode::Get, &["--timeout", "5", "http://x/"], get("http://x/", None, 5000)),
            // The URL is checked later: any word that is not a flag.
            (Mode::Get, &["x"], get("x", None, GET_TIMEOUT_MS)),
            (
                Mode::Check,
                &["http://web:8080/"],
                Parsed::Run(Args { mode: Mode::Check, url: b"http://web:8080/", output: None, timeout_ms: 2000 }),
            ),
            (
                Mode::Check,
                &["--timeout", "86400", "http://x/"],
                Parsed::Run(Args { mode: Mode::Check, url: b"http://x/", output: None, timeout_ms: 86_400_000 }),
            ),
            (Mode::Check, &["--help"], Parsed::Help),
            (Mode::Get, &["http://x/", "-h"], Parsed::Help),
        ];
        for (mode, words, want) in rows {
            assert_eq!(run(*mode, words), *want, "{words:?}");
        }
    }

    #[test]
    fn rejected_rows() {
        let rows: &[(Mode, &[&'static str])] = &[
            (Mode::Get, &[]),
            (Mode::Check, &[]),
            (Mode::Get, &["-o"]),
            (Mode::Get, &["http://x/", "-o"]),
            (Mode::Get, &["http://x/", "-o", ""]),
            (Mode::Check, &["http://x/", "-o", "f"]),
            (Mode::Get, &["http://x/", "http://y/"]),
            (Mode::Get, &["http://x/", "--timeout"]),
            (Mode::Check, &["http://x/", "--timeout", "0"]),
            (Mode::Check, &["http://x/", "--timeout", "86401"]),
            (Mode::Check, &["http://x/", "--timeout", "1.5"]),
            (Mode::Check, &["http://x/", "--timeout", "-1"]),
            (Mode::Get, &["--frobnicate", "http://x/"]),
            (Mode::Get, &["-O", "f", "http://x/"]),
        ];
        for (mode, words) in rows {
            assert!(matches!(run(*mode, words), Parsed::Usage(..)), "{words:?}");
        }
    }
}
