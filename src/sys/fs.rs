//! Files and directories: the calls static files, the KV store and the
//! client's `-o FILE` need. Paths are byte strings that must end in NUL
//! (callers build them in their own buffers); one without is EINVAL.
use super::{BorrowedFd, Errno, OwnedFd, Result};
use linux_raw_sys::general as g;
use syscalls::{Sysno, syscall};

pub use linux_raw_sys::general::{
    O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, O_TRUNC,
    O_WRONLY, RENAME_NOREPLACE, AT_SYMLINK_NOFOLLOW, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS,
};

/// The current directory, for `*at` calls with a relative path.
pub const CWD: BorrowedFd<'static> = BorrowedFd::from_const(g::AT_FDCWD);

/// What `fstat` tells the server about a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub mode: u32,
    pub size: u64,
    pub ino: u64,
    pub mtime: i64,
    pub mtime_nsec: u32,
}

impl Stat {
    // The kernel's field types differ per arch (u32/i64 here, u64/i32
    // there); these casts are the one place they meet ours, and some are
    // no-ops only on the arch clippy happens to run on.
    #[allow(clippy::unnecessary_cast)]
    fn from_raw(st: &g::stat) -> Stat {
        Stat {
            mode: st.st_mode as u32,
            size: st.st_size as u64,
            ino: st.st_ino as u64,
            mtime: st.st_mtime as i64,
            mtime_nsec: st.st_mtime_nsec as u32,
        }
    }
    pub fn is_dir(&self) -> bool {
        self.mode & g::S_IFMT == g::S_IFDIR
    }
    pub fn is_file(&self) -> bool {
        self.mode & g::S_IFMT == g::S_IFREG
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & g::S_IFMT == g::S_IFLNK
    }
    pub fn is_socket(&self) -> bool {
        self.mode & g::S_IFMT == g::S_IFSOCK
    }
}

/// `buf[..len]` + `suffix` + NUL, written in `buf`: a path for the calls
/// below. `None` if it does not fit. (With `len` 0 and the whole path as
/// `suffix`, it copies a path and terminates it.)
pub fn path_in<'a>(buf: &'a mut [u8], len: usize, suffix: &[u8]) -> Option<&'a [u8]> {
    let end = len.checked_add(suffix.len())?;
    buf.get_mut(len..end)?.copy_from_slice(suffix);
    *buf.get_mut(end)? = 0;
    buf.get(..=end)
}

/// Bytes of a file `scan_lines` holds at a time.
pub const SCAN_BLOCK: usize = 4096;

/// Reads the file at `path` (no NUL needed) and calls `f` with a block of
/// whole lines at a time, until `f` returns true or the file ends. A line
/// longer than a block is skipped. None if the file cannot be opened.
pub fn scan_lines(path: &[u8], f: &mut dyn FnMut(&[u8]) -> bool) -> Option<()> {
    let mut p = [0u8; 4096];
    let file = openat(CWD, path_in(&mut p, 0, path)?, O_RDONLY, 0).ok()?;
    let mut buf = [0u8; SCAN_BLOCK];
    let mut have = 0; // INVARIANT: have < SCAN_BLOCK between reads
    let mut skipping = false; // inside a line too long for the buffer
    loop {
        let n = super::io::read(file.as_fd(), buf.get_mut(have..)?).unwrap_or(0);
        have += n;
        // Whole lines only, unless the file has ended.
        let end = match buf.get(..have)?.iter().rposition(|&b| b == b'\n') {
            _ if n == 0 => have,
            Some(i) => i + 1,
            None if have == SCAN_BLOCK => {
                (skipping, have) = (true, 0);
                continue;
            }
            None => continue,
        };
        let mut lines = buf.get(..end)?;
        if skipping {
            // The rest of the over-long line, up to its newline, is dropped.
            let nl = lines.iter().position(|&b| b == b'\n').map_or(lines.len(), |i| i + 1);
            lines = lines.get(nl..)?;
            skipping = false;
        }
        if f(lines) || n == 0 {
            return Some(());
        }
        buf.copy_within(end..have, 0);
        have -= end;
    }
}

fn c_path(path: &[u8]) -> Result<*const u8> {
    match path.last() {
        Some(0) => Ok(path.as_ptr()),
        _ => Err(Errno::EINVAL),
    }
}

/// openat(dir, path, flags | O_CLOEXEC, mode) — [openat(2)].
pub fn openat(dir: BorrowedFd<'_>, path: &[u8], flags: u32, mode: u32) -> Result<OwnedFd> {
    let p = c_path(path)?;
    // SAFETY: p points at a NUL-terminated string that lives across the call.
    unsafe { syscall!(Sysno::openat, dir.arg(), p, flags | O_CLOEXEC, mode) }.map(OwnedFd::from_raw)
}

/// openat2(dir, path, {flags | O_CLOEXEC, 0, resolve}) — [openat2(2)].
/// ENOSYS on kernels before 5.6 and under qemu-user.
pub fn openat2(dir: BorrowedFd<'_>, path: &[u8], flags: u32, resolve: u32) -> Result<OwnedFd> {
    let p = c_path(path)?;
    let how = g::open_how { flags: u64::from(flags | O_CLOEXEC), mode: 0, resolve: u64::from(resolve) };
    let size = core::mem::size_of::<g::open_how>();
    // SAFETY: p is NUL-terminated and `how` is `size` readable bytes; both
    // live across the call.
    unsafe { syscall!(Sysno::openat2, dir.arg(), p, &how as *const g::open_how, size) }.map(OwnedFd::from_raw)
}

/// fchdir(fd) — [fchdir(2)]: calls that take a relative path and no
/// directory descriptor (inotify_add_watch) then resolve it from `dir`.
pub fn fchdir(dir: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::fchdir, dir.arg()) }.map(drop)
}

/// fstat(fd) — [fstat(2)].
pub fn fstat(fd: BorrowedFd<'_>) -> Result<Stat> {
    // SAFETY: stat is plain old data; all-zero is a valid value.
    let mut st: g::stat = unsafe { core::mem::zeroed() };
    // SAFETY: the kernel writes one `struct stat` into st, which we own.
    unsafe { syscall!(Sysno::fstat, fd.arg(), &mut st as *mut g::stat) }?;
    Ok(Stat::from_raw(&st))
}

/// The `*at` stat call: x86_64 kept the old number for a narrower struct
/// and named this one `newfstatat`; aarch64 only ever had this one.
#[cfg(target_arch = "x86_64")]
const FSTATAT: Sysno = Sysno::newfstatat;
#[cfg(target_arch = "aarch64")]
const FSTATAT: Sysno = Sysno::fstatat;

/// newfstatat(dir, path, &stat, flags) — [fstatat(2)]: a name's metadata
/// without opening it (a directory listing's sizes and times). With
/// `AT_SYMLINK_NOFOLLOW`, a link's own metadata rather than its target's.
pub fn fstatat(dir: BorrowedFd<'_>, path: &[u8], flags: u32) -> Result<Stat> {
    let p = c_path(path)?;
    // SAFETY: stat is plain old data; all-zero is a valid value.
    let mut st: g::stat = unsafe { core::mem::zeroed() };
    // SAFETY: p is NUL-terminated and lives across the call; the kernel
    // writes one `struct stat` (this arch's layout) into st, which we own.
    unsafe { syscall!(FSTATAT, dir.arg(), p, &mut st as *mut g::stat, flags) }?;
    Ok(Stat::from_raw(&st))
}

/// ftruncate(fd, len) — [ftruncate(2)]: the file is `len` bytes long,
/// cut or extended with zeros.
pub fn ftruncate(fd: BorrowedFd<'_>, len: u64) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::ftruncate, fd.arg(), len as usize) }.map(drop)
}

/// sendfile(out, in, &offset, count) — [sendfile(2)]. Sends from `*offset`
/// and advances it by what was sent; `Ok(0)` means the file ended there.
pub fn sendfile(out: BorrowedFd<'_>, file: BorrowedFd<'_>, offset: &mut u64, count: usize) -> Result<usize> {
    let mut off = *offset as i64;
    // SAFETY: the kernel reads and updates the i64 at &off, which we own.
    let n = unsafe { syscall!(Sysno::sendfile, out.arg(), file.arg(), &mut off as *mut i64, count) }?;
    *offset = off as u64;
    Ok(n)
}

/// pread64(fd, buf, len, offset) — [pread(2)]: file bytes at `offset`,
/// without moving the file's position; `Ok(0)` at its end.
pub fn pread(file: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> Result<usize> {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    unsafe { syscall!(Sysno::pread64, file.arg(), buf.as_mut_ptr(), buf.len(), offset as usize) }
}

/// readlinkat(dir, path, buf) — [readlink(2)]: the link's target, not
/// NUL-terminated; ENAMETOOLONG if it fills `buf` (it may be cut short).
pub fn readlink(dir: BorrowedFd<'_>, path: &[u8], buf: &mut [u8]) -> Result<usize> {
    let p = c_path(path)?;
    // SAFETY: p is NUL-terminated; the kernel writes at most buf.len() bytes.
    let n = unsafe { syscall!(Sysno::readlinkat, dir.arg(), p, buf.as_mut_ptr(), buf.len()) }?;
    if n >= buf.len() { Err(Errno::ENAMETOOLONG) } else { Ok(n) }
}

/// fsync(fd) — [fsync(2)]: the file's data and metadata reach the disk.
pub fn fsync(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::fsync, fd.arg()) }.map(drop)
}

/// renameat2(dir, from, dir, to, 0) — [rename(2)]: atomically replaces `to`.
pub fn rename(dir: BorrowedFd<'_>, from: &[u8], to: &[u8]) -> Result<()> {
    rename_flags(dir, from, to, 0)
}

/// renameat2 with flags: RENAME_NOREPLACE fails with EEXIST rather than
/// replace `to` (EINVAL where the file system cannot promise that).
pub fn rename_flags(dir: BorrowedFd<'_>, from: &[u8], to: &[u8], flags: u32) -> Result<()> {
    let (f, t) = (c_path(from)?, c_path(to)?);
    // SAFETY: both paths are NUL-terminated and live across the call.
    unsafe { syscall!(Sysno::renameat2, dir.arg(), f, dir.arg(), t, flags) }.map(drop)
}

/// unlinkat(dir, path, 0) — [unlink(2)].
pub fn unlink(dir: BorrowedFd<'_>, path: &[u8]) -> Result<()> {
    let p = c_path(path)?;
    // SAFETY: p is NUL-terminated and lives across the call.
    unsafe { syscall!(Sysno::unlinkat, dir.arg(), p, 0) }.map(drop)
}

/// getdents64(dir, buf) — [getdents64(2)]: fills `buf` with directory
/// entries; `Ok(0)` at the end. Walk them with [`dir_entries`].
pub fn getdents(dir: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    unsafe { syscall!(Sysno::getdents64, dir.arg(), buf.as_mut_ptr(), buf.len()) }
}

/// `d_type` of a directory entry that names a directory.
pub const DT_DIR: u8 = g::DT_DIR as u8;
/// `d_type` of a regular file.
pub const DT_REG: u8 = g::DT_REG as u8;
/// `d_type` of a symbolic link.
pub const DT_LNK: u8 = g::DT_LNK as u8;
/// `d_type` when the file system does not say (some do not): ask fstatat.
pub const DT_UNKNOWN: u8 = g::DT_UNKNOWN as u8;

/// One `linux_dirent64` record of a buffer `getdents` filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry<'a> {
    /// `d_name` without its NUL: never empty, never holds `/` or NUL.
    pub name: &'a [u8],
    /// `d_type`: [`DT_DIR`], [`DT_REG`], [`DT_LNK`], [`DT_UNKNOWN`], ...
    pub kind: u8,
}

/// Offsets in a `linux_dirent64`: `ino u64, off i64, reclen u16, type u8,
/// name..NUL`, padded to 8 bytes.
const RECLEN_AT: usize = 16;
const TYPE_AT: usize = 18;
const NAME_AT: usize = 19;

/// The records in a buffer `getdents` filled. Plain byte parsing, so it
/// takes any bytes: a record that claims to run past the buffer (or to be
/// shorter than its header) ends the walk instead of being read.
pub fn dir_records(buf: &[u8]) -> impl Iterator<Item = DirEntry<'_>> {
    let mut at = 0usize;
    core::iter::from_fn(move || loop {
        let rec = buf.get(at..)?;
        let reclen = usize::from(u16::from_ne_bytes([*rec.get(RECLEN_AT)?, *rec.get(RECLEN_AT + 1)?]));
        let name = rec.get(NAME_AT..reclen)?;
        let kind = *rec.get(TYPE_AT)?;
        at += reclen; // >= NAME_AT, since the name slice exists: progress
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        match name.get(..end) {
            Some(n) if !n.is_empty() => return Some(DirEntry { name: n, kind }),
            _ => continue, // no name: not something to list or open
        }
    })
}

/// The names in a buffer `getdents` filled (`d_name` without its NUL).
pub fn dir_entries(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    dir_records(buf).map(|e| e.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One record as the kernel lays it out, padded to 8 bytes.
    fn record(name: &[u8], kind: u8) -> Vec<u8> {
        let reclen = (NAME_AT + name.len() + 1).div_ceil(8) * 8;
        let mut r = vec![0u8; reclen];
        r[..8].copy_from_slice(&42u64.to_ne_bytes());
        r[RECLEN_AT..RECLEN_AT + 2].copy_from_slice(&(reclen as u16).to_ne_bytes());
        r[TYPE_AT] = kind;
        r[NAME_AT..NAME_AT + name.len()].copy_from_slice(name);
        r
    }

    #[test]
    fn records_parse() {
        let names: [&[u8]; 4] = [b".", b"a b.txt", b"a-name-that-spans-padding", b"caf\xc3\xa9"];
        let kinds = [DT_DIR, DT_REG, DT_LNK, DT_UNKNOWN];
        let buf: Vec<u8> = names.iter().zip(kinds).flat_map(|(n, k)| record(n, k)).collect();
        let got: Vec<_> = dir_records(&buf).map(|e| (e.name.to_vec(), e.kind)).collect();
        let want: Vec<_> = names.iter().zip(kinds).map(|(n, k)| (n.to_vec(), k)).collect();
        assert_eq!(got, want);
        assert_eq!(dir_entries(&buf).count(), 4);
    }

    #[test]
    fn records_reject() {
        let good = record(b"ok", DT_REG);
        // (bytes, names expected): cut records, lying lengths, empty names
        let mut long = record(b"x", DT_REG);
        long[RECLEN_AT] = 200; // runs past the buffer
        let mut short = record(b"x", DT_REG);
        short[RECLEN_AT] = 4; // shorter than its own header
        let mut zero = record(b"x", DT_REG);
        zero[RECLEN_AT] = 0;
        let rows: Vec<(Vec<u8>, usize)> = vec![
            (vec![], 0),
            (good[..10].to_vec(), 0),
            (good[..good.len() - 1].to_vec(), 0),
            ([good.clone(), long].concat(), 1),
            ([good.clone(), short].concat(), 1),
            ([good.clone(), zero].concat(), 1),
            ([record(b"", DT_REG), good.clone()].concat(), 1),
            ([good.clone(), good.clone()].concat(), 2),
        ];
        for (buf, n) in rows {
            assert_eq!(dir_records(&buf).count(), n, "{buf:?}");
        }
    }

    #[test]
    fn reads_a_directory() {
        let dir = std::env::temp_dir().join(format!("drift-getdents-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("f.txt"), b"12345").unwrap();
        let mut p = dir.as_os_str().as_encoded_bytes().to_vec();
        p.push(0);
        let fd = openat(CWD, &p, O_RDONLY | O_DIRECTORY, 0).unwrap();
        let mut buf = [0u8; 4096];
        let mut seen = vec![];
        loop {
            let n = getdents(fd.as_fd(), &mut buf).unwrap();
            if n == 0 {
                break;
            }
            seen.extend(dir_records(&buf[..n]).map(|e| (e.name.to_vec(), e.kind)));
        }
        seen.sort();
        let names: Vec<&[u8]> = seen.iter().map(|(n, _)| &n[..]).collect();
        assert_eq!(names, [&b"."[..], b"..", b"f.txt", b"sub"]);
        // d_type may be DT_UNKNOWN on some file systems; fstatat always knows.
        let st = fstatat(fd.as_fd(), b"f.txt\0", AT_SYMLINK_NOFOLLOW).unwrap();
        assert!(st.is_file() && st.size == 5);
        assert!(fstatat(fd.as_fd(), b"sub\0", 0).unwrap().is_dir());
        assert_eq!(fstatat(fd.as_fd(), b"missing\0", 0), Err(Errno::ENOENT));
        assert_eq!(fstatat(fd.as_fd(), b"f.txt", 0), Err(Errno::EINVAL));
        drop(fd);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// fchmodat(AT_FDCWD, path, mode, 0) — [chmod(2)].
pub fn chmod(path: &[u8], mode: u32) -> Result<()> {
    let mut buf = [0u8; 1025];
    let p = path_in(&mut buf, 0, path).ok_or(super::Errno::ENAMETOOLONG)?;
    // SAFETY: p is NUL-terminated and lives across the call.
    unsafe { syscall!(Sysno::fchmodat, CWD.arg(), p.as_ptr(), mode) }.map(drop)
}

/// fchownat(AT_FDCWD, path, uid, gid, 0) — [chown(2)]; -1 keeps one as it is.
pub fn chown(path: &[u8], uid: Option<u32>, gid: Option<u32>) -> Result<()> {
    let mut buf = [0u8; 1025];
    let p = path_in(&mut buf, 0, path).ok_or(super::Errno::ENAMETOOLONG)?;
    let (u, g) = (uid.unwrap_or(u32::MAX), gid.unwrap_or(u32::MAX));
    // SAFETY: p is NUL-terminated and lives across the call.
    unsafe { syscall!(Sysno::fchownat, CWD.arg(), p.as_ptr(), u, g, 0) }.map(drop)
}
