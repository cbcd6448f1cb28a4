//! `user NAME|UID[:GROUP|GID]`: the setting's words, and the lookups in
//! `/etc/passwd` and `/etc/group` text that turn names into ids. Pure: the
//! server reads the files; nothing here reads, allocates or panics.
//!
//! Only the local files count, as a `FROM scratch` image or a small host
//! has them: NIS `+`/`-` lines are skipped, and a name they would have
//! brought in is "no such user". Numeric ids need no file at all.

/// One side of `user`: a name to look up, or an id as given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who<'a> {
    Name(&'a [u8]),
    Id(u32),
}

/// `user` as written: the user, and the group if one follows a `:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec<'a> {
    pub user: Who<'a>,
    pub group: Option<Who<'a>>,
}

/// Why a `user` value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecError {
    /// Empty, or an empty side of the `:`.
    Empty,
    /// A byte no user or group name has (space, `:`, control, non-ASCII).
    BadName,
    /// An id of 4294967295: to setresuid(2) that means "leave unchanged".
    BadId,
}

impl SpecError {
    /// The refusal as a config error says it.
    pub fn what(self) -> &'static str {
        match self {
            SpecError::Empty => "takes NAME or UID, optionally :GROUP or :GID",
            SpecError::BadName => "a name is letters, digits, '.', '_', '-' (and a final '$'), at most 32 bytes",
            SpecError::BadId => "an id is 0-4294967294",
        }
    }
}

/// Longest name accepted: useradd's limit (`LOGIN_NAME_MAX` is 256, but
/// shadow-utils refuses more than 32).
const MAX_NAME: usize = 32;

/// An id the kernel takes: all digits, below `u32::MAX` (which is `-1`,
/// "unchanged", to setresuid(2) and setresgid(2)).
fn id(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 10 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = v.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    u32::try_from(n).ok().filter(|&n| n != u32::MAX)
}

fn who(v: &[u8]) -> Result<Who<'_>, SpecError> {
    if v.is_empty() {
        return Err(SpecError::Empty);
    }
    if v.iter().all(u8::is_ascii_digit) {
        return id(v).map(Who::Id).ok_or(SpecError::BadId);
    }
    // POSIX's portable names, plus the `$` Samba machine accounts end with.
    let body = v.strip_suffix(b"$").unwrap_or(v);
    let ok = v.len() <= MAX_NAME
        && !body.is_empty()
        && !body.starts_with(b"-")
        && body.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok { Ok(Who::Name(v)) } else { Err(SpecError::BadName) }
}

/// Reads `NAME|UID[:GROUP|GID]`.
pub fn parse(v: &[u8]) -> Result<Spec<'_>, SpecError> {
    let (user, group) = super::split_once(v, b':');
    Ok(Spec { user: who(user)?, group: group.map(who).transpose()? })
}

/// The fields of each line of a colon-separated database that is neither
/// a comment, blank, nor a NIS `+`/`-` line, as (name, third field, fourth
/// field if any). Lines without a third field are skipped.
fn entries(text: &[u8]) -> impl Iterator<Item = (&[u8], &[u8], Option<&[u8]>)> {
    text.split(|&b| b == b'\n').filter_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || matches!(line[0], b'#' | b'+' | b'-') {
            return None;
        }
        let mut f = line.split(|&b| b == b':');
        let name = f.next()?;
        let _password = f.next()?;
        Some((name, f.next()?, f.next()))
    })
}

/// `name:password:UID:GID:gecos:home:shell` — the uid and primary gid of
/// `name` in `/etc/passwd` text. The first line that names it wins, as in
/// glibc's `files` lookup; a line whose ids are not numbers is skipped.
pub fn user(passwd: &[u8], name: &[u8]) -> Option<(u32, u32)> {
    entries(passwd).filter(|e| e.0 == name).find_map(|(_, uid, gid)| Some((id(uid)?, id(gid?)?)))
}

/// `name:password:GID:members` — the gid of `name` in `/etc/group` text.
pub fn group(group: &[u8], name: &[u8]) -> Option<u32> {
    entries(group).filter(|e| e.0 == name).find_map(|(_, gid, _)| id(gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"# local accounts\n\
root:x:0:0:root:/root:/bin/bash\n\
\n\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\
www:x:1001:1002::/home/www:/bin/sh\r\n\
broken:x:12\n\
badid:x:twelve:12::/:/bin/sh\n\
badid:x:13:13::/:/bin/sh\n\
+nisuser::::::\n\
-blocked::::::\n\
+\n\
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
dup:x:2000:2000::/:/bin/sh\n\
dup:x:3000:3000::/:/bin/sh\n\
huge:x:4294967295:1::/:/bin/sh\n\
\x20 indented:x:5:5::/:/bin/sh\n";

    const GROUP: &[u8] = b"root:x:0:\n\
# comment:x:9:\n\
www-data:x:33:\n\
www:x:1002:alice,bob\n\
staff:x:50\n\
+:::\n\
-wheel:::\n\
nogroup:x:65534:\n\
short:x\n";

    #[test]
    fn users() {
        let rows: &[(&[u8], Option<(u32, u32)>)] = &[
            (b"root", Some((0, 0))),
            (b"www-data", Some((33, 33))),
            (b"www", Some((1001, 1002))), // CRLF line ending
            (b"nobody", Some((65534, 65534))),
            (b"ww", None),                // a prefix of www and www-data
            (b"www-", None),
            (b"www-data2", None),
            (b"broken", None),            // too few fields
            (b"badid", Some((13, 13))),   // the malformed line is skipped
            (b"nisuser", None),           // NIS lines are not ours
            (b"+nisuser", None),
            (b"blocked", None),
            (b"-blocked", None),
            (b"+", None),
            (b"dup", Some((2000, 2000))), // the first line wins
            (b"huge", None),              // -1 is "unchanged" to setresuid
            (b"indented", None),          // "   indented" is another name
            (b"", None),
            (b"x", None),
            (b"0", None),
        ];
        for &(name, want) in rows {
            assert_eq!(user(PASSWD, name), want, "{:?}", core::str::from_utf8(name));
        }
        assert_eq!(user(b"", b"root"), None);
        assert_eq!(user(b"root:x:0:0:root:/root:/bin/bash", b"root"), Some((0, 0))); // no final newline
    }

    #[test]
    fn groups() {
        let rows: &[(&[u8], Option<u32>)] = &[
            (b"root", Some(0)),
            (b"www", Some(1002)),
            (b"www-data", Some(33)),
            (b"staff", Some(50)), // no members field: the gid is all that is read
            (b"nogroup", Some(65534)),
            (b"ww", None),
            (b"wheel", None),
            (b"-wheel", None),
            (b"+", None),
            (b"", None),
            (b"short", None),
            (b"# comment", None),
            (b"alice", None), // a member is not a group
        ];
        for &(name, want) in rows {
            assert_eq!(group(GROUP, name), want, "{:?}", core::str::from_utf8(name));
        }
    }

    #[test]
    fn specs() {
        use Who::{Id, Name};
        let ok = |user, group| Ok(Spec { user, group });
        let rows: &[(&[u8], Result<Spec, SpecError>)] = &[
            (b"www", ok(Name(b"www"), None)),
            (b"www-data:www", ok(Name(b"www-data"), Some(Name(b"www")))),
            (b"65534", ok(Id(65534), None)),
            (b"65534:65534", ok(Id(65534), Some(Id(65534)))),
            (b"0", ok(Id(0), None)),
            (b"www:100", ok(Name(b"www"), Some(Id(100)))),
            (b"1000:staff", ok(Id(1000), Some(Name(b"staff")))),
            (b"host$", ok(Name(b"host$"), None)),
            (b"a.b_c-d", ok(Name(b"a.b_c-d"), None)),
            (b"4294967294", ok(Id(4_294_967_294), None)),
            (b"4294967295", Err(SpecError::BadId)),
            (b"99999999999", Err(SpecError::BadId)),
            (b"1000:4294967295", Err(SpecError::BadId)),
            (b"", Err(SpecError::Empty)),
            (b":www", Err(SpecError::Empty)),
            (b"www:", Err(SpecError::Empty)),
            (b"www:a:b", Err(SpecError::BadName)),
            (b"w w", Err(SpecError::BadName)),
            (b"-rf", Err(SpecError::BadName)),
            (b"$", Err(SpecError::BadName)),
            (b"a$b", Err(SpecError::BadName)),
            (b"+nis", Err(SpecError::BadName)),
            (b"caf\xc3\xa9", Err(SpecError::BadName)),
            (b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Err(SpecError::BadName)), // 33 bytes
            (b"-1", Err(SpecError::BadName)),
        ];
        for (v, want) in rows {
            assert_eq!(&parse(v), want, "{:?}", core::str::from_utf8(v));
        }
    }
}
