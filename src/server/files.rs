//! Static files (`--root`) and stored values (`--kv`): from a request to a
//! response head in the connection's output buffer and, when there is a
//! body, the open file and span the worker hands to sendfile. Every path
//! comes from `content::path::resolve` or a valid KV key and is opened
//! beneath its directory: no byte from outside it is ever served.
use crate::content::negotiate::{Accept, Coding, Codings};
use crate::content::{kvkey, mime, path, range, validators};
use crate::fmt::Line;
use crate::http::date::{self, Stamp};
use crate::http::response::{Conn as Framing, Response};
use crate::sys::fs::{self, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY};
use crate::sys::{BorrowedFd, Errno, OwnedFd};
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// Set once openat2 turned out to be missing (ENOSYS: kernels before 5.6,
/// qemu-user; EPERM: old container seccomp profiles), or by
/// `DRIFTD_NO_OPENAT2`: from then on paths are walked one name at a time.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Symbolic links followed per path, as the kernel's own limit.
const MAX_LINKS: u32 = 40;

/// `Allow` for routes that only read.
pub const ALLOW_READ: &[u8] = b"GET, HEAD";
/// `Allow` for the KV store.
pub const ALLOW_KV: &[u8] = b"GET, HEAD, POST, PUT, DELETE";
const OCTET_STREAM: &[u8] = b"application/octet-stream";

/// Use the component walk even where openat2 exists (tests, odd kernels).
pub fn disable_openat2() {
    NO_OPENAT2.store(true, Relaxed);
}

/// What the response depends on, taken from the request head.
#[derive(Clone, Copy)]
pub struct Req<'a> {
    pub head_only: bool,
    /// The request-target's path part, from its `/`, query included.
    pub target: &'a [u8],
    pub if_none_match: Option<&'a [u8]>,
    pub if_modified_since: Option<&'a [u8]>,
    pub range: Option<&'a [u8]>,
    pub if_range: Option<&'a [u8]>,
    pub accept_encoding: Accept,
    pub framing: Framing,
    pub now: Stamp,
}

impl Req<'static> {
    /// For a response that depends on nothing in the request but how the
    /// connection is framed (a stored value's 200/201).
    pub fn bare(framing: Framing, now: Stamp) -> Self {
        Req {
            head_only: false,
            target: b"",
            if_none_match: None,
            if_modified_since: None,
            range: None,
            if_range: None,
            accept_encoding: Accept::NONE,
            framing,
            now,
        }
    }
}

/// File bytes `[start, end)` to send after the head.
pub struct Body {
    pub file: OwnedFd,
    pub start: u64,
    pub end: u64,
}

/// A response: `len` head (or whole small response) bytes written to the
/// output buffer (0: it did not fit), its status, the body bytes for the
/// access log, and the file to send, if any.
pub struct Reply {
    pub len: usize,
    pub status: u16,
    pub bytes: u64,
    pub body: Option<Body>,
}

/// One more header for a [`plain`] response.
#[derive(Clone, Copy)]
pub enum Extra<'a> {
    None,
    Header(&'a [u8], &'a [u8]),
    /// 416's `Content-Range: bytes */total`.
    UnsatisfiedRange(u64),
}

/// A response without a file: an error page, a redirect, 204, or a KV
/// store's 200/201 (an empty body, like the seed's).
pub fn plain(out: &mut [u8], req: &Req<'_>, status: u16, extra: Extra<'_>) -> Reply {
    let mut r = Response::start(out, status, &req.now);
    match extra {
        Extra::None => {}
        Extra::Header(name, value) => {
            r.header(name, value);
        }
        Extra::UnsatisfiedRange(total) => {
            r.unsatisfied_range(total);
        }
    }
    let len = match status {
        200 | 201 => r.finish(0, req.framing),
        _ => r.error_page(req.framing, !req.head_only),
    };
    let len = len.unwrap_or(0);
    let bytes = (len - head_len(&out[..len])) as u64;
    Reply { len, status, bytes, body: None }
}

/// `health PATH`: `200 OK` while serving, `503` once draining; a short
/// text body, never cached.
pub fn health(out: &mut [u8], req: &Req<'_>, draining: bool) -> Reply {
    let status = if draining { 503 } else { 200 };
    let mut r = Response::start(out, status, &req.now);
    r.header(b"Cache-Control", b"no-store");
    let len = r.error_page(req.framing, !req.head_only).unwrap_or(0);
    let bytes = (len - head_len(&out[..len])) as u64;
    Reply { len, status, bytes, body: None }
}

/// `metrics PATH`: 200 with the Prometheus text `body` (500 if it does
/// not fit), never cached.
pub fn metrics(out: &mut [u8], req: &Req<'_>, body: &[u8]) -> Reply {
    let mut r = Response::start(out, 200, &req.now);
    r.header(b"Content-Type", crate::http::metrics::CONTENT_TYPE).header(b"Cache-Control", b"no-store");
    let Ok(head) = r.finish(body.len() as u64, req.framing) else { return plain(out, req, 500, Extra::None) };
    let send = if req.head_only { 0 } else { body.len() };
    match out.get_mut(head..head + send) {
        Some(room) => {
            room.copy_from_slice(&body[..send]);
            Reply { len: head + send, status: 200, bytes: send as u64, body: None }
        }
        None => plain(out, req, 500, Extra::None),
    }
}

/// 308 to `https://HOST[:PORT]TARGET`: the request's host without its
/// port, the TLS port unless it is 443, and the target as it came.
pub fn https_redirect(out: &mut [u8], req: &Req<'_>, host: &[u8], port: u16, target: &[u8]) -> Reply {
    let name = crate::content::url::host_without_port(host);
    let mut buf = [0u8; 2048];
    let mut l = crate::fmt::Line::new(&mut buf);
    l.push(b"https://").push(name);
    if port != 443 {
        l.push(b":").push_u32(u32::from(port));
    }
    l.push(target);
    let n = l.as_bytes().len();
    if n >= 2047 {
        return plain(out, req, 414, Extra::None); // cut short: not a URL to send anyone to
    }
    plain(out, req, 308, Extra::Header(b"Location", &buf[..n]))
}

/// Bytes of a response head, up to and including its blank line.
pub fn head_len(resp: &[u8]) -> usize {
    resp.windows(4).position(|w| w == b"\r\n\r\n").map_or(resp.len(), |i| i + 4)
}

/// The status for an open that failed. Out of line: it is asked at three
/// places, and its errno match is larger than a call.
#[inline(never)]
fn open_status(e: Errno) -> u16 {
    match e {
        Errno::EACCES | Errno::EPERM => 403,
        Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP | Errno::EXDEV | Errno::ENAMETOOLONG => 404,
        _ => 500,
    }
}

/// `path` (NUL-terminated, relative) opened beneath `root`: with openat2's
/// RESOLVE_BENEATH where the kernel has it, else by [`walk`]. Either way a
/// link may lead anywhere inside the root and nowhere outside it.
/// With `direct`, a path with a link anywhere in it is refused (ELOOP).
pub fn open_beneath(root: BorrowedFd<'_>, path: &[u8], flags: u32, direct: bool) -> Result<OwnedFd, Errno> {
    if !NO_OPENAT2.load(Relaxed) {
        let links = if direct { fs::RESOLVE_NO_SYMLINKS } else { 0 };
        match fs::openat2(root, path, flags, fs::RESOLVE_BENEATH | fs::RESOLVE_NO_MAGICLINKS | links) {
            Err(Errno::ENOSYS | Errno::EPERM) => disable_openat2(),
            r => return r,
        }
    }
    walk(root, path.strip_suffix(b"\0").unwrap_or(path), flags, direct)
}

/// RESOLVE_BENEATH by hand: each name is opened with O_NOFOLLOW relative to
/// the directory before it; a link is read and spliced into the path
/// (`path::join_link` refuses one that climbs out), and the walk starts
/// again from the root. The last name is opened with `flags | O_NOFOLLOW`,
/// so a link swapped in after it was checked is refused, not followed.
fn walk(root: BorrowedFd<'_>, start: &[u8], flags: u32, direct: bool) -> Result<OwnedFd, Errno> {
    let mut buf = [0u8; path::MAX_PATH];
    let mut len = start.len();
    buf.get_mut(..len).ok_or(Errno::ENAMETOOLONG)?.copy_from_slice(start);
    let mut links = 0;
    'from_root: loop {
        let mut dir: Option<OwnedFd> = None;
        let mut at = 0;
        while at < len {
            let end = buf[at..len].iter().position(|&b| b == b'/').map_or(len, |i| at + i);
            let seg = &buf[at..end];
            if seg.is_empty() || seg == b"." {
                at = end + 1;
                continue;
            }
            let mut name = [0u8; 256];
            name.get_mut(..seg.len()).ok_or(Errno::ENAMETOOLONG)?.copy_from_slice(seg);
            let name = &name[..=seg.len()];
            let parent = dir.as_ref().map_or(root, |d| d.as_fd());
            let node = fs::openat(parent, name, O_PATH | O_NOFOLLOW, 0)?;
            let st = fs::fstat(node.as_fd())?;
            if st.is_symlink() {
                if direct {
                    return Err(Errno::ELOOP);
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(Errno::ELOOP);
                }
                let mut target = [0u8; path::MAX_PATH];
                let n = fs::readlink(parent, name, &mut target)?;
                let mut next = [0u8; path::MAX_PATH];
                let prefix = &buf[..at.saturating_sub(1)];
                len = path::join_link(prefix, &target[..n], &buf[end..len], &mut next).ok_or(Errno::EXDEV)?;
                buf = next;
                continue 'from_root;
            }
            if end >= len {
                return fs::openat(parent, name, flags | O_NOFOLLOW, 0);
            }
            if !st.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            dir = Some(node);
            at = end + 1;
        }
        // The path named the root, or a link led to a directory's `.`.
        return fs::openat(dir.as_ref().map_or(root, |d| d.as_fd()), b".\0", flags, 0);
    }
}

/// `buf[..len]` + `suffix` + NUL opened beneath `root` for reading, and
/// what fstat says of it.
#[inline(never)]
/// With `*direct`, a path through a link is opened all the same, and
/// `*direct` turns false.
fn open_stat(root: BorrowedFd<'_>, buf: &mut [u8], len: usize, suffix: &[u8], direct: &mut bool) -> Result<(OwnedFd, fs::Stat), Errno> {
    let p = fs::path_in(buf, len, suffix).ok_or(Errno::ENAMETOOLONG)?;
    let f = match open_beneath(root, p, O_RDONLY | O_NONBLOCK, *direct) {
        Err(Errno::ELOOP) if *direct => {
            *direct = false;
            open_beneath(root, p, O_RDONLY | O_NONBLOCK, false)?
        }
        r => r?,
    };
    let st = fs::fstat(f.as_fd())?;
    Ok((f, st))
}

/// A precompressed sibling, open, and what fstat says of it.
pub type Sibling = Option<(OwnedFd, fs::Stat)>;

/// A static file found for a request: the file (or the directory's
/// index) open for reading, what fstat says of it, its `NAME.br`,
/// `NAME.zst` and `NAME.gz` siblings that were looked for and found, and
/// its path under the root.
pub struct Found {
    pub file: OwnedFd,
    pub st: fs::Stat,
    /// In `Coding::SIBLINGS` order: `[br, zstd, gzip]`.
    pub sib: [Sibling; 3],
    pub ctype: &'static [u8],
    /// The file's path under the root, in the caller's buffer: `[..path_len]`.
    pub path_len: usize,
    /// No symbolic link on the way: the path names the file itself, so a
    /// cache may remember it and watch its directories.
    pub direct: bool,
}

impl Found {
    /// Which siblings are there.
    pub fn siblings(&self) -> Codings {
        let mut have = Codings::NONE;
        for (s, c) in self.sib.iter().zip(Coding::SIBLINGS) {
            if s.is_some() {
                have = have.with(c);
            }
        }
        have
    }
}

/// How `find` looks: which siblings matter (those the client takes, or
/// all of them for a cache), and whether only a path without links will do.
#[derive(Clone, Copy)]
pub struct Look {
    pub siblings: Codings,
    pub direct_only: bool,
}

/// The file a GET or HEAD under `root` asks for, or the response that
/// answers it instead (400/403/404, or a 301 to the directory's slash
/// form). `pbuf` receives the resolved path.
// Out of line (and `redirect_to_slash` too): inside the worker's request
// loop its path buffer and registers cost more than the call (measured).
#[inline(never)]
pub fn find(
    out: &mut [u8],
    req: &Req<'_>,
    root: BorrowedFd<'_>,
    look: Look,
    pbuf: &mut [u8; path::MAX_PATH + 16],
    resolved: Resolved,
) -> Result<Found, Reply> {
    let Resolved { mut len, slash } = resolved;
    let mut direct = look.direct_only;
    let (mut file, mut st) = match open_stat(root, pbuf, len, if len == 0 { b"." } else { b"" }, &mut direct) {
        Ok(x) => x,
        Err(e) => return Err(plain(out, req, open_status(e), Extra::None)),
    };
    if st.is_dir() {
        if !slash {
            return Err(redirect_to_slash(out, req));
        }
        let index: &[u8] = if len == 0 { b"index.html" } else { b"/index.html" };
        match open_stat(root, pbuf, len, index, &mut direct) {
            Ok((f, s)) if s.is_file() => (file, st) = (f, s),
            Ok(_) => return Err(plain(out, req, 404, Extra::None)), // no listings
            Err(e) => return Err(plain(out, req, open_status(e), Extra::None)),
        }
        len += index.len();
    } else if !st.is_file() {
        return Err(plain(out, req, 403, Extra::None)); // a FIFO, a socket, a device
    } else if slash {
        return Err(plain(out, req, 404, Extra::None)); // `/file.html/`
    }
    let ctype = mime::content_type(&pbuf[..len]).as_bytes();
    // NAME.br, NAME.zst, NAME.gz beside NAME: sent to clients that take
    // that coding; any of them makes the response vary with
    // Accept-Encoding. A coding the client does not take costs no probe.
    // A compressed file asked for by name is served as it is, and has no
    // siblings of its own (no `x.gz.br`).
    let mut sib = [None, None, None];
    let named = Coding::SIBLINGS.iter().any(|c| pbuf[..len].ends_with(c.suffix()));
    for (s, c) in sib.iter_mut().zip(Coding::SIBLINGS) {
        if look.siblings.has(c) && !named {
            *s = open_stat(root, pbuf, len, c.suffix(), &mut direct).ok().filter(|(_, st)| st.is_file());
        }
    }
    Ok(Found { file, st, sib, ctype, path_len: len, direct })
}

/// The request's path, decoded and checked (`path::resolve`): `pbuf[..len]`.
#[derive(Clone, Copy)]
pub struct Resolved {
    pub len: usize,
    /// The target ended in `/`.
    pub slash: bool,
}

/// The request's path into `pbuf`, or the 400/404 that refuses it.
pub fn resolve(out: &mut [u8], req: &Req<'_>, dotfiles: bool, pbuf: &mut [u8; path::MAX_PATH + 16]) -> Result<Resolved, Reply> {
    match path::resolve(req.target, &mut pbuf[..path::MAX_PATH], dotfiles) {
        Ok(r) => Ok(Resolved { len: r.path.len(), slash: r.trailing_slash }),
        Err(e) => Err(plain(out, req, e.status(), Extra::None)),
    }
}

/// GET or HEAD of a static file under `root`, opened for this request alone.
pub fn static_file(out: &mut [u8], req: &Req<'_>, root: BorrowedFd<'_>, dotfiles: bool) -> Reply {
    let mut pbuf = [0u8; path::MAX_PATH + 16];
    let look = Look { siblings: req.accept_encoding.acceptable(), direct_only: false };
    match resolve(out, req, dotfiles, &mut pbuf).and_then(|r| find(out, req, root, look, &mut pbuf, r)) {
        Ok(f) => reply_found(out, req, f),
        Err(reply) => reply,
    }
}

/// The response for a file `find` found, which goes with it as the body:
/// the form `Accept-Encoding` chooses, or 406 when it refuses them all.
pub fn reply_found(out: &mut [u8], req: &Req<'_>, f: Found) -> Reply {
    let have = f.siblings();
    let Found { file, st, mut sib, ctype, .. } = f;
    let Some(c) = req.accept_encoding.choose(have) else { return not_acceptable(out, req) };
    // A sibling's slot is its discriminant less one; identity's is none.
    let (fd, st, c) = match sib.get_mut((c as usize).wrapping_sub(1)).and_then(Option::take) {
        Some((fd, sst)) => (fd, sst, c),
        None => (file, st, Coding::Identity),
    };
    send_file(out, req, fd, st, ctype, c, !have.is_empty())
}

/// 406: the client refused the file as it is and every sibling there is.
/// `Vary` too: another Accept-Encoding gets another answer.
#[inline(never)]
pub fn not_acceptable(out: &mut [u8], req: &Req<'_>) -> Reply {
    plain(out, req, 406, Extra::Header(b"Vary", b"Accept-Encoding"))
}

/// 301 to the same path with a `/` added (query kept), as nginx does for a
/// directory asked for without one.
#[inline(never)]
fn redirect_to_slash(out: &mut [u8], req: &Req<'_>) -> Reply {
    let cut = req.target.iter().position(|&b| b == b'?').unwrap_or(req.target.len());
    let (p, query) = req.target.split_at(cut);
    let mut loc = [0u8; 2048];
    let n = p.len() + 1 + query.len();
    let Some(dst) = loc.get_mut(..n) else { return plain(out, req, 414, Extra::None) };
    dst[..p.len()].copy_from_slice(p);
    dst[p.len()] = b'/';
    dst[p.len() + 1..].copy_from_slice(query);
    plain(out, req, 301, Extra::Header(b"Location", &loc[..n]))
}

/// What a file's response head is made from.
pub struct FileView<'a> {
    pub size: u64,
    pub mtime: u64,
    pub etag: &'a [u8],
    pub ctype: &'a [u8],
    /// Which form this is: a sibling's coding goes in `Content-Encoding`.
    pub coding: Coding,
    /// A sibling exists: the answer varies with Accept-Encoding.
    pub vary: bool,
    /// [`file_lines`] made already (the open-file cache keeps them).
    pub lines: Option<&'a [u8]>,
}

/// The most [`file_lines`] writes.
pub const FILE_LINES_MAX: usize = 192;
/// What [`file_lines`] ends with, right after the ETag: a cache finds the
/// tag in the lines it keeps instead of keeping it twice.
pub const LINES_TAIL: &[u8] = b"\r\nAccept-Ranges: bytes\r\n";

/// The header lines every answer about this file carries, 304 included:
/// `Content-Encoding`, `Vary`, `Last-Modified`, `ETag`, `Accept-Ranges`.
pub fn file_lines<'b>(v: &FileView<'_>, buf: &'b mut [u8; FILE_LINES_MAX]) -> &'b [u8] {
    let mut d = [0u8; date::IMF_LEN];
    date::format_imf(v.mtime, &mut d);
    let mut l = Line::new(buf);
    if v.coding != Coding::Identity {
        l.push(b"Content-Encoding: ").push(v.coding.token()).push(b"\r\n");
    }
    if v.vary {
        l.push(b"Vary: Accept-Encoding\r\n");
    }
    l.push(b"Last-Modified: ").push(&d).push(b"\r\nETag: ").push(v.etag);
    l.push(LINES_TAIL);
    let n = l.as_bytes().len();
    &buf[..n]
}

/// A file response's head, written: the reply (no body attached) and the
/// byte span of the file that follows it, if any.
pub struct FileHead {
    pub reply: Reply,
    pub start: u64,
    pub end: u64,
    pub send: bool,
}

/// The head for a regular file, after the conditionals and Range. An
/// unsatisfiable range is the whole answer (416, no span).
pub fn file_head(out: &mut [u8], req: &Req<'_>, v: &FileView<'_>) -> FileHead {
    let (etag, mtime, size) = (v.etag, v.mtime, v.size);
    // RFC 9110 §13.2.2: If-None-Match, when present, decides alone.
    let not_modified = match (req.if_none_match, req.if_modified_since) {
        (Some(h), _) => validators::if_none_match_matches(h, etag),
        (None, Some(h)) => date::parse_imf(h).is_some_and(|since| mtime <= since),
        _ => false,
    };
    // If-Range (RFC 9110 §13.1.5): the range is for the representation the
    // client already has part of; if that changed, it gets the whole file.
    // An ETag must match strongly, a date exactly.
    let range_holds = match req.if_range {
        None => true,
        Some(r) if r.starts_with(b"\"") => r == etag,
        Some(r) => date::parse_imf(r) == Some(mtime),
    };
    let (status, start, end) = match req.range.filter(|_| range_holds).map(|h| range::parse_range(h, size)) {
        _ if not_modified => (304, 0, 0),
        Some(range::RangeReq::Partial { start, end_inclusive }) => (206, start, end_inclusive + 1),
        Some(range::RangeReq::Unsatisfiable) => {
            let reply = plain(out, req, 416, Extra::UnsatisfiedRange(size));
            return FileHead { reply, start: 0, end: 0, send: false };
        }
        _ => (200, 0, size),
    };
    let mut r = Response::start(out, status, &req.now);
    if status != 304 {
        r.header(b"Content-Type", v.ctype);
    }
    let mut buf = [0u8; FILE_LINES_MAX];
    r.lines(match v.lines {
        Some(lines) => lines,
        None => file_lines(v, &mut buf),
    });
    if status == 206 {
        r.content_range(start, end - 1, size);
    }
    let len = r.finish(end - start, req.framing).unwrap_or(0);
    let send = status != 304 && !req.head_only && end > start;
    let reply = Reply { len, status, bytes: if send { end - start } else { 0 }, body: None };
    FileHead { reply, start, end, send }
}

/// The ETag of what fstat says, in `buf`.
pub fn etag_of<'a>(st: &fs::Stat, buf: &'a mut [u8; validators::ETAG_MAX]) -> &'a [u8] {
    validators::etag(st.ino, st.size, st.mtime, st.mtime_nsec, buf)
}

/// The response for an open regular file, which goes with it as the body.
fn send_file(out: &mut [u8], req: &Req<'_>, file: OwnedFd, st: fs::Stat, ctype: &[u8], coding: Coding, vary: bool) -> Reply {
    let mut tag = [0; validators::ETAG_MAX];
    let etag = etag_of(&st, &mut tag);
    let v = FileView { size: st.size, mtime: st.mtime.max(0) as u64, etag, ctype, coding, vary, lines: None };
    let h = file_head(out, req, &v);
    let mut reply = h.reply;
    if h.send {
        reply.body = Some(Body { file, start: h.start, end: h.end });
    }
    reply
}

/// A KV key (and a NUL after it) from the path after the store's prefix,
/// in `buf`; `None` if it is not a valid key.
pub fn key_path<'a>(rest: &[u8], buf: &'a mut [u8; kvkey::MAX_KEY + 1]) -> Option<&'a [u8]> {
    let cut = rest.iter().position(|&b| b == b'?').unwrap_or(rest.len());
    let key = &rest[..cut];
    if !kvkey::valid_key(key) {
        return None;
    }
    buf[..key.len()].copy_from_slice(key);
    buf[key.len()] = 0;
    Some(&buf[..=key.len()])
}

/// GET or HEAD of a stored value (`key` NUL-terminated and valid).
pub fn kv_get(out: &mut [u8], req: &Req<'_>, dir: BorrowedFd<'_>, key: &[u8]) -> Reply {
    let opened = fs::openat(dir, key, O_RDONLY | O_NONBLOCK | O_NOFOLLOW, 0);
    match opened.and_then(|f| fs::fstat(f.as_fd()).map(|st| (f, st))) {
        Ok((f, st)) if st.is_file() => send_file(out, req, f, st, OCTET_STREAM, Coding::Identity, false),
        Ok(_) => plain(out, req, 404, Extra::None),
        Err(e) => plain(out, req, open_status(e), Extra::None),
    }
}

/// DELETE of a stored value: 204, or 404. The directory is synced so the
/// removal outlives a crash.
pub fn kv_delete(dir: BorrowedFd<'_>, key: &[u8]) -> u16 {
    match fs::unlink(dir, key) {
        Ok(()) => {
            let _ = fs::fsync(dir);
            204
        }
        Err(e) => store_status(e),
    }
}

/// The status for a failed store or delete.
fn store_status(e: Errno) -> u16 {
    match e {
        Errno::ENOENT => 404,
        Errno::ENOSPC | Errno::EDQUOT => 507,
        Errno::EACCES | Errno::EPERM | Errno::EROFS => 403,
        _ => 500,
    }
}

/// A value being received: its temporary file, and where its name is in
/// the name buffer the caller keeps for it (the connection's lent block:
/// the record itself stays small).
pub struct Upload {
    pub file: OwnedFd,
    name_len: u16,
    key_len: u16,
}

/// Room for a temporary name and its NUL.
pub const NAME_BUF: usize = kvkey::TEMP_NAME_MAX + 1;

impl Upload {
    /// The temporary file's name, NUL-terminated, from `buf`.
    fn temp<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[..=usize::from(self.name_len)]
    }
    /// The key the value goes to, NUL-terminated: the name's tail.
    fn key<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[usize::from(self.name_len - self.key_len)..=usize::from(self.name_len)]
    }
}

/// Writes the temporary name for a value of `key`, NUL-terminated, into
/// `name`; returns its length without the NUL.
fn temp_for(key: &[u8], unique: u64, name: &mut [u8]) -> usize {
    let mut tmp = [0u8; kvkey::TEMP_NAME_MAX];
    let t = kvkey::temp_name(key, unique, &mut tmp);
    name[..t.len()].copy_from_slice(t);
    name[t.len()] = 0;
    t.len()
}

fn create(dir: BorrowedFd<'_>, name: &[u8]) -> Result<OwnedFd, Errno> {
    fs::openat(dir, name, fs::O_WRONLY | fs::O_CREAT | fs::O_EXCL | O_NOFOLLOW, 0o644)
}

/// Opens a fresh temporary file for a value of `key` (NUL-terminated),
/// keeping its name in `name` (`NAME_BUF` bytes or more).
pub fn kv_begin(dir: BorrowedFd<'_>, key: &[u8], unique: u64, name: &mut [u8]) -> Result<Upload, u16> {
    let key = key.strip_suffix(b"\0").unwrap_or(key);
    let name_len = temp_for(key, unique, name);
    match create(dir, &name[..=name_len]) {
        Ok(file) => Ok(Upload { file, name_len: name_len as u16, key_len: key.len() as u16 }),
        Err(e) => Err(store_status(e)),
    }
}

/// At start-up: whether the store's directory takes new files.
pub fn kv_probe(dir: BorrowedFd<'_>, unique: u64) -> Result<(), Errno> {
    let mut name = [0u8; NAME_BUF];
    let n = temp_for(b"probe", unique, &mut name);
    create(dir, &name[..=n])?;
    fs::unlink(dir, &name[..=n])
}

/// Makes a complete value durable and visible: fsync the file, rename it
/// over the key, fsync the directory. 201 for a PUT that created the key,
/// else 200; on failure the temporary file is removed. Of PUTs racing to
/// create one key, exactly one is told 201: the one whose RENAME_NOREPLACE
/// found no key (a file system without it falls back to a looser check).
pub fn kv_commit(dir: BorrowedFd<'_>, up: Upload, name: &[u8], put: bool) -> u16 {
    let mut created = false;
    let done = fs::fsync(up.file.as_fd())
        .and_then(|()| {
            if put {
                match fs::rename_flags(dir, up.temp(name), up.key(name), fs::RENAME_NOREPLACE) {
                    Ok(()) => {
                        created = true;
                        return Ok(());
                    }
                    Err(Errno::EEXIST) => {}
                    Err(Errno::EINVAL | Errno::ENOSYS) => {
                        created = fs::openat(dir, up.key(name), O_PATH | O_NOFOLLOW, 0).is_err();
                    }
                    Err(e) => return Err(e),
                }
            }
            fs::rename(dir, up.temp(name), up.key(name))
        })
        .and_then(|()| fs::fsync(dir));
    match done {
        Ok(()) if created => 201,
        Ok(()) => 200,
        Err(e) => {
            kv_abort(dir, up, name);
            store_status(e)
        }
    }
}

/// Drops a value that will not be stored (the client left, the body was
/// too large or malformed): the temporary file goes.
pub fn kv_abort(dir: BorrowedFd<'_>, up: Upload, name: &[u8]) {
    let _ = fs::unlink(dir, up.temp(name));
}

/// At start-up (and at a reload or an upgrade): removes temporary files a
/// crash left behind. Only names `kvkey::is_temp_name` recognises are
/// touched, and only those of a process that is gone: a temporary name
/// carries its worker's pid, and a live worker (of another generation, in
/// the middle of an upload) keeps its file. Returns how many went. `dir`
/// is read from its start: it was just opened.
pub fn kv_clean(dir: BorrowedFd<'_>) -> Result<u32, Errno> {
    let mut removed = 0;
    let mut buf = [0u8; 4096];
    loop {
        let n = fs::getdents(dir, &mut buf)?;
        if n == 0 {
            return Ok(removed);
        }
        for name in fs::dir_entries(&buf[..n]) {
            let mut c = [0u8; 256];
            let writer = kvkey::temp_unique(name).map(|u| (u >> 32) as i32);
            let gone = writer.is_some_and(|pid| pid <= 0 || crate::sys::signal::kill(pid, 0) == Err(Errno::ESRCH));
            if gone && name.len() < c.len() {
                c[..name.len()].copy_from_slice(name);
                if fs::unlink(dir, &c[..=name.len()]).is_ok() {
                    removed += 1;
                }
            }
        }
    }
}
