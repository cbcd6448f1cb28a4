//! Reading a folder for its listing: getdents64 for the names, fstatat for
//! each one's type, size and time, into a `content::listing::Listing` the
//! pure renderer turns into HTML or JSON. It lists only what the server
//! would serve: regular files and folders, hidden names only with
//! `dotfiles`, links only when they resolve beneath the folder.
use super::files::open_beneath;
use crate::content::listing::Listing;
use crate::sys::fs::{self, AT_SYMLINK_NOFOLLOW, O_PATH};
use crate::sys::{BorrowedFd, Errno};

/// Bytes read per getdents64 call: a page, some 100 typical records.
const DENTS_BUF: usize = 4096;

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
