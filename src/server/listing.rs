//! Reading a folder for its listing: getdents64 for the names, fstatat for
//! each one's type, size and time, into a `content::listing::Listing` the
//! pure renderer turns into HTML or JSON. It lists only what the server
//! would serve: regular files and folders, hidden names only with
//! `dotfiles`, links only when they resolve beneath the folder. `answer`
//! turns it into a response whose body is a memfd, sent like a file.
use super::files::{Body, Reply, Req, open_beneath};
use crate::content::accept::prefers_json;
use crate::content::listing::{self, Entry, Listing, MAX_ENTRIES, MAX_LISTING, MAX_NAMES};
use crate::content::path;
use crate::http::response::Response;
use crate::sys::fs::{self, AT_SYMLINK_NOFOLLOW, O_DIRECTORY, O_PATH, O_RDONLY};
use crate::sys::mem::Scratch;
use crate::sys::{BorrowedFd, Errno};

/// Bytes read per getdents64 call: a page, some 100 typical records.
const DENTS_BUF: usize = 4096;

/// The listing of the folder a GET or HEAD (the caller asks only for
/// those) names with a trailing slash, when it has no `index.html`: 200,
/// HTML or (when `accept` prefers it) JSON, the page in a memfd as the
/// body. `dir` in the page is the request's decoded path.
///
/// None, with `out` untouched, when the path is refused, is not a folder
/// (or lacks its slash: the caller's 301 stands), has an index, or cannot
/// be read: the caller's own answer (404, 403) then stands. Opened as
/// files are, with `open_beneath`: no link leads a listing out of `root`.
// Out of line: its path buffer and the listing's frame stay off the
// worker's request loop, as `files::find` does.
#[inline(never)]
pub fn answer(out: &mut [u8], req: &Req<'_>, root: BorrowedFd<'_>, dotfiles: bool, accept: Option<&[u8]>) -> Option<Reply> {
    let mut pbuf = [0u8; path::MAX_PATH + 16];
    let r = path::resolve(req.target, &mut pbuf[..path::MAX_PATH], dotfiles).ok().filter(|r| r.trailing_slash)?;
    let len = r.path.len();
    let index: &[u8] = if len == 0 { b"index.html" } else { b"/index.html" };
    let has_index = fs::path_in(&mut pbuf, len, index)
        .and_then(|p| open_beneath(root, p, O_PATH, false).ok())
        .and_then(|f| fs::fstat(f.as_fd()).ok())
        .is_some_and(|st| st.is_file());
    if has_index {
        return None;
    }
    let p = fs::path_in(&mut pbuf, len, if len == 0 { b"." } else { b"" })?;
    let dir = open_beneath(root, p, O_RDONLY | O_DIRECTORY, false).ok()?;

    let mut scratch = Scratch::new(Scratch::size_for::<Entry>(MAX_LISTING, MAX_ENTRIES, MAX_NAMES)?).ok()?;
    let (page, entries, names) = scratch.split::<Entry>(MAX_LISTING, MAX_ENTRIES, MAX_NAMES)?;
    let mut list = Listing::new(entries, names);
    collect(dir.as_fd(), dotfiles, &mut list).ok()?;
    let json = prefers_json(accept);
    let n = if json { listing::json(&mut list, page) } else { listing::html(&mut list, pbuf.get(..len)?, page) }.ok()?;
    let file = scratch.into_file(n).ok()?;

    let ctype: &[u8] = if json { b"application/json" } else { b"text/html; charset=utf-8" };
    let mut h = Response::start(out, 200, &req.now);
    h.header(b"Content-Type", ctype).header(b"Vary", b"Accept").header(b"Cache-Control", b"no-cache");
    let head = h.finish(n as u64, req.framing).unwrap_or(0); // 0: the caller answers 500
    let body = (!req.head_only).then_some(Body { file, start: 0, end: n as u64 });
    Some(Reply { len: head, status: 200, bytes: if body.is_some() { n as u64 } else { 0 }, body })
}

/// Adds the entries of `dir` to `list`, in the order the file system
/// returns them (the renderer sorts). `dir` must be open for reading
/// (`O_RDONLY | O_DIRECTORY`; an `O_PATH` descriptor cannot be read) and
/// freshly opened: getdents64 continues from the descriptor's position.
///
/// Skipped: `.` and `..`; names starting with `.` unless `dotfiles`;
/// anything neither a regular file nor a folder (devices, sockets, FIFOs:
/// the server does not serve them); names that vanish between the two
/// calls. A symbolic link is listed as what it points to, if that lies
/// beneath `dir` (checked as the server opens files, with `open_beneath`),
/// and skipped otherwise: a link climbing out of the listed folder is
/// left out even when its target is inside the root, so that no listing
/// shows the size or time of a file outside it.
///
/// When `list` fills, reading stops and `list.truncated()` says so; that is
/// not an error. Errors are those of getdents64 on `dir`.
pub fn collect(dir: BorrowedFd<'_>, dotfiles: bool, list: &mut Listing<'_>) -> Result<(), Errno> {
    let mut buf = [0u8; DENTS_BUF];
    loop {
        let n = fs::getdents(dir, &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        for e in fs::dir_records(buf.get(..n).unwrap_or_default()) {
            if e.name == b"." || e.name == b".." || (!dotfiles && e.name.first() == Some(&b'.')) {
                continue;
            }
            let Some(st) = stat(dir, e.name) else { continue };
            if !st.is_dir() && !st.is_file() {
                continue;
            }
            if list.push(e.name, st.is_dir(), st.size, st.mtime).is_err() {
                return Ok(());
            }
        }
    }
}

/// What `name` in `dir` is, a link followed only while it stays beneath.
fn stat(dir: BorrowedFd<'_>, name: &[u8]) -> Option<fs::Stat> {
    let mut path = [0u8; 256]; // NAME_MAX + NUL
    let p = fs::path_in(&mut path, 0, name)?;
    let st = fs::fstatat(dir, p, AT_SYMLINK_NOFOLLOW).ok()?;
    if !st.is_symlink() {
        return Some(st);
    }
    let target = open_beneath(dir, p, O_PATH, false).ok()?;
    fs::fstat(target.as_fd()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::listing::{Entry, json};
    use std::os::unix::fs::symlink;

    #[test]
    fn collects_a_folder() {
        let root = std::env::temp_dir().join(format!("drift-listing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("d");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("b.txt"), b"12345").unwrap();
        std::fs::write(dir.join(".hidden"), b"x").unwrap();
        std::fs::write(root.join("outside"), b"secret").unwrap();
        symlink("b.txt", dir.join("link-in")).unwrap();
        symlink("sub", dir.join("link-dir")).unwrap();
        symlink("../outside", dir.join("link-out")).unwrap();
        symlink("/etc/passwd", dir.join("link-abs")).unwrap();
        symlink("missing", dir.join("link-dangling")).unwrap();
        let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();

        for (dotfiles, want) in [
            (false, &["link-dir/", "sub/", "b.txt 5", "link-in 5"][..]),
            (true, &["link-dir/", "sub/", ".hidden 1", "b.txt 5", "link-in 5"]),
        ] {
            let fd = fs::openat(fs::CWD, c.as_bytes_with_nul(), fs::O_RDONLY | fs::O_DIRECTORY, 0).unwrap();
            let mut e = [Entry::default(); 16];
            let mut n = [0u8; 512];
            let mut list = Listing::new(&mut e, &mut n);
            collect(fd.as_fd(), dotfiles, &mut list).unwrap();
            list.sort();
            let got: Vec<String> = list
                .iter()
                .map(|(name, e)| {
                    let name = String::from_utf8_lossy(name);
                    if e.is_dir { format!("{name}/") } else { format!("{name} {}", e.size) }
                })
                .collect();
            assert_eq!(got, want);
            let mut out = [0u8; 2048];
            assert!(json(&mut list, &mut out).is_ok());
        }

        // A full list stops the walk and says so.
        let fd = fs::openat(fs::CWD, c.as_bytes_with_nul(), fs::O_RDONLY | fs::O_DIRECTORY, 0).unwrap();
        let mut e = [Entry::default(); 2];
        let mut n = [0u8; 512];
        let mut list = Listing::new(&mut e, &mut n);
        collect(fd.as_fd(), false, &mut list).unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.truncated());

        // An O_PATH descriptor cannot be read: the error is getdents64's.
        let fd = fs::openat(fs::CWD, c.as_bytes_with_nul(), fs::O_PATH | fs::O_DIRECTORY, 0).unwrap();
        let mut list = Listing::new(&mut e, &mut n);
        assert_eq!(collect(fd.as_fd(), false, &mut list), Err(Errno::EBADF));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
