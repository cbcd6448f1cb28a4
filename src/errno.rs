//! Errno numbers as the words people search for: "Address already in use
//! (EADDRINUSE)". A packed table instead of `Errno`'s Display, which costs
//! about 6 KB; only the errnos a caller can expect to meet are listed.

/// Entries are `[errno, length, text..]`, one after the other, the text
/// being strerror's message and the symbolic name in parentheses. These are
/// the ways a listener's set-up usually fails: the port is taken, the port
/// is privileged, the host has no IPv6. Others print as `errno N`.
pub const NET: &[u8] = b"\x62\x23Address already in use (EADDRINUSE)\
\x0d\x1aPermission denied (EACCES)\
\x61\x37Address family not supported by protocol (EAFNOSUPPORT)";

/// What else driftd may meet: files and directories it was told to serve.
/// Kept apart from [`NET`] so that drift does not carry it.
pub const MORE: &[u8] = b"\x02\x22No such file or directory (ENOENT)\
\x14\x19Not a directory (ENOTDIR)";

/// Appends `Message (NAME)` for `e`, or `errno N` for one [`NET`] does not list.
pub fn push_text(l: &mut crate::fmt::Line<'_>, e: crate::sys::Errno) {
    push_found(l, describe(NET, e.into_raw()), e);
}

/// [`push_text`] that also looks in `more` (driftd passes [`MORE`]).
pub fn push_text_from(l: &mut crate::fmt::Line<'_>, e: crate::sys::Errno, more: &'static [u8]) {
    let code = e.into_raw();
    push_found(l, describe(NET, code).or_else(|| describe(more, code)), e);
}

fn push_found(l: &mut crate::fmt::Line<'_>, text: Option<&[u8]>, e: crate::sys::Errno) {
    match text {
        Some(text) => l.push(text),
        None => l.push(b"errno ").push_u32(e.into_raw() as u32),
    };
}

/// `Message (NAME)` for `code`, if `table` lists it.
pub fn describe(table: &'static [u8], code: i32) -> Option<&'static [u8]> {
    let mut rest = table;
    while let [n, len, tail @ ..] = rest {
        let (text, next) = tail.split_at_checked(usize::from(*len))?;
        if i32::from(*n) == code {
            return Some(text);
        }
        rest = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown() {
        let rows: &[(i32, Option<&str>)] = &[
            (98, Some("Address already in use (EADDRINUSE)")),
            (13, Some("Permission denied (EACCES)")),
            (97, Some("Address family not supported by protocol (EAFNOSUPPORT)")),
            (2, Some("No such file or directory (ENOENT)")),
            (20, Some("Not a directory (ENOTDIR)")),
            (3, None),
            (0, None),
            (-1, None),
            (4095, None),
        ];
        for &(code, want) in rows {
            let got = describe(NET, code).or_else(|| describe(MORE, code)).map(|t| core::str::from_utf8(t).unwrap());
            assert_eq!(got, want, "errno {code}");
        }
    }

    #[test]
    fn lengths_cover_the_table_exactly() {
        // A wrong length byte would make every later entry unreachable.
        for (table, count) in [(NET, 3), (MORE, 2)] {
            let mut rest = table;
            while let [_, len, tail @ ..] = rest {
                rest = &tail[*len as usize..];
            }
            assert!(rest.is_empty());
            let mut seen = 0;
            for code in 0..200 {
                seen += describe(table, code).is_some() as usize;
            }
            assert_eq!(seen, count);
        }
    }
}
