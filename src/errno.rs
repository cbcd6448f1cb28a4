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

/// The ways driftd's other calls usually fail, looked up after [`NET`] (a
/// separate table keeps them out of `drift`, which has a tight budget):
/// for `get` and `check`, nothing listens, no route, a reset, a timeout, no
/// such directory or no room for `-o FILE`; for `--root` and `--kv`, a
/// path that is missing or not a directory; for a socket handed over
/// (socket activation, an upgrade), one that is not a socket or not open.
pub const CLIENT: &[u8] = b"\x14\x19Not a directory (ENOTDIR)\
\x6f\x21Connection refused (ECONNREFUSED)\
\x6e\x20Connection timed out (ETIMEDOUT)\
\x68\x25Connection reset by peer (ECONNRESET)\
\x65\x24Network is unreachable (ENETUNREACH)\
\x71\x1fNo route to host (EHOSTUNREACH)\
\x02\x22No such file or directory (ENOENT)\
\x1c\x20No space left on device (ENOSPC)\
\x58\x29Socket operation on non-socket (ENOTSOCK)\
\x09\x1bBad file descriptor (EBADF)";

/// The ways reading a named file fails beyond [`CLIENT`]'s: a directory
/// where a file was meant, a path over PATH_MAX (`--tls-cert`, `--tls-key`).
pub const FILES: &[u8] = b"\x15\x17Is a directory (EISDIR)\
\x24\x21File name too long (ENAMETOOLONG)";

/// Appends `Message (NAME)` for `e`, or `errno N` for one [`NET`] does not list.
pub fn push_text(l: &mut crate::fmt::Line<'_>, e: crate::sys::Errno) {
    let code = e.into_raw();
    match describe(NET, code) {
        Some(text) => l.push(text),
        None => l.push(b"errno ").push_u32(code as u32),
    };
}

/// [`push_text`] for driftd, which knows [`CLIENT`]'s errnos as well.
pub fn push_text_all(l: &mut crate::fmt::Line<'_>, e: crate::sys::Errno) {
    match describe(CLIENT, e.into_raw()) {
        Some(text) => {
            l.push(text);
        }
        None => push_text(l, e),
    }
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
        let rows: &[(i32, Option<&str>, Option<&str>)] = &[
            (98, Some("Address already in use (EADDRINUSE)"), None),
            (13, Some("Permission denied (EACCES)"), None),
            (97, Some("Address family not supported by protocol (EAFNOSUPPORT)"), None),
            (111, None, Some("Connection refused (ECONNREFUSED)")),
            (110, None, Some("Connection timed out (ETIMEDOUT)")),
            (104, None, Some("Connection reset by peer (ECONNRESET)")),
            (101, None, Some("Network is unreachable (ENETUNREACH)")),
            (113, None, Some("No route to host (EHOSTUNREACH)")),
            (2, None, Some("No such file or directory (ENOENT)")),
            (28, None, Some("No space left on device (ENOSPC)")),
            (20, None, Some("Not a directory (ENOTDIR)")),
            (3, None, None),
            (0, None, None),
            (-1, None, None),
            (4095, None, None),
        ];
        for &(code, net, client) in rows {
            let text = |t| describe(t, code).map(|t| core::str::from_utf8(t).unwrap());
            assert_eq!((text(NET), text(CLIENT)), (net, client), "errno {code}");
            let mut b = [0u8; 80];
            let mut l = crate::fmt::Line::new(&mut b);
            push_text_all(&mut l, crate::sys::Errno::new(code));
            let want = net.or(client).map_or(format!("errno {}", code as u32), str::to_string);
            assert_eq!(core::str::from_utf8(l.as_bytes()).unwrap(), want);
        }
    }

    #[test]
    fn file_errnos() {
        assert_eq!(describe(FILES, 21), Some(&b"Is a directory (EISDIR)"[..]));
        assert_eq!(describe(FILES, 36), Some(&b"File name too long (ENAMETOOLONG)"[..]));
        assert_eq!(describe(FILES, 2), None);
    }

    #[test]
    fn lengths_cover_the_table_exactly() {
        // A wrong length byte would make every later entry unreachable.
        for (table, entries) in [(NET, 3), (CLIENT, 10), (FILES, 2)] {
            let mut rest = table;
            while let [_, len, tail @ ..] = rest {
                rest = &tail[*len as usize..];
            }
            assert!(rest.is_empty());
            let seen = (0..200).filter(|&code| describe(table, code).is_some()).count();
            assert_eq!(seen, entries);
        }
    }
}
