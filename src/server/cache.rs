//! The open-file cache: a worker's memory of the static files it served.
//! An entry maps a request path under one root to the open file, its
//! validators and type, the `NAME.br`, `NAME.zst` and `NAME.gz` beside it,
//! and (for small files) the bytes themselves, so a hit costs no open,
//! fstat or close, and a small file no read of the disk either.
//!
//! It never answers stale: the directories on the way to every cached file
//! are watched with inotify, and the worker reads those events before it
//! answers anything else in the same wake-up; a change drops the entries it
//! touches. It only remembers what `files::find` allowed, and only paths
//! with no symbolic link on the way (a link's target may live in a
//! directory nobody watches). Bounded by entries and by bytes, LRU first.
//!
//! Every site is served through it. A site with its own folder has its own
//! entries and watches (a `Scope`'s root number); sites sharing the default
//! root share them.
use super::files::{self, FileView, Found, Look, Reply, Req};
use crate::content::negotiate::{Coding, Codings};
use crate::content::path;
use crate::content::validators::ETAG_MAX;
use crate::sys::inotify;
use crate::sys::mem::{Block, Pool, Slab};
use crate::sys::{BorrowedFd, Errno, OwnedFd, fs, io};

/// Files up to this size keep their bytes in memory.
pub const SMALL_FILE: usize = 16 * 1024;
/// The longest request path (and file path) an entry remembers.
const KEY_MAX: usize = 200;
const NONE: u32 = u32::MAX;

/// Where a request path is looked up, part of every entry's key: a root
/// number (0 the default root, i + 1 site i's own, `Dirs::site_root`) and
/// whether names starting with '.' may be served there (a site that serves
/// them must not fill an entry that a site sharing its root, and not
/// serving them, then answers from). One word, `root << 1 | dotfiles`: an
/// entry keeps it in what was padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope(u32);

impl Scope {
    /// `root` < 2^31: sites come from a config file of at most 16 MiB.
    pub fn new(root: u32, dotfiles: bool) -> Scope {
        Scope(root << 1 | u32::from(dotfiles))
    }
    pub fn root(self) -> u32 {
        self.0 >> 1
    }
    pub fn dotfiles(self) -> bool {
        self.0 & 1 != 0
    }
}

/// One form of a cached file: as is, or a precompressed sibling.
pub struct Variant {
    fd: OwnedFd,
    pub size: u64,
    pub mtime: u64,
    /// `files::file_lines`, ready-made; the ETag is `lines[etag_at..][..etag_len]`
    /// (kept once: an entry holds four of these).
    lines: [u8; files::FILE_LINES_MAX],
    lines_len: u8,
    etag_at: u8,
    etag_len: u8,
    /// The whole file, for one no larger than `SMALL_FILE`.
    bytes: Option<Block>,
}

impl Variant {
    pub fn etag(&self) -> &[u8] {
        let at = usize::from(self.etag_at);
        self.lines.get(at..at + usize::from(self.etag_len)).unwrap_or_default()
    }
    pub fn lines(&self) -> &[u8] {
        &self.lines[..usize::from(self.lines_len)]
    }
    /// The file's bytes `[start, end)`, if they are in memory.
    pub fn bytes(&self, start: u64, end: u64) -> Option<&[u8]> {
        self.bytes.as_ref().and_then(|b| b.get(start as usize..end as usize))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Life {
    Free,
    /// Findable.
    Live,
    /// Dropped, but a connection still sends from it: released at unpin.
    Dead,
}

pub struct Entry {
    life: Life,
    /// Bumped when the slot is released: a pin names the entry it pinned.
    generation: u32,
    pins: u32,
    hash: u64,
    /// The key is (`scope`, `key`).
    scope: Scope,
    key_len: u8,
    key: [u8; KEY_MAX],
    /// The file's path under the root, to match inotify events against.
    path_len: u8,
    path: [u8; KEY_MAX],
    /// LRU links: `prev` is more recently used.
    prev: u32,
    next: u32,
    pub ctype: &'static [u8],
    /// Indexed by `Coding`: the file as it is, then its br, zstd and gzip
    /// siblings where they exist.
    forms: [Option<Variant>; 4],
    /// Which siblings exist (the forms past the first that are there).
    siblings: Codings,
}

impl Entry {
    /// The form of coding `c`, if the file has one.
    pub fn variant(&self, c: Coding) -> Option<&Variant> {
        self.forms.get(c as usize).and_then(Option::as_ref)
    }
}

impl Entry {
    const EMPTY: Entry = Entry {
        life: Life::Free,
        generation: 0,
        pins: 0,
        hash: 0,
        scope: Scope(0),
        key_len: 0,
        key: [0; KEY_MAX],
        path_len: 0,
        path: [0; KEY_MAX],
        prev: NONE,
        next: NONE,
        ctype: b"",
        forms: [None, None, None, None],
        siblings: Codings::NONE,
    };
}

/// An entry a connection is sending from: it stays open until unpinned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pin {
    entry: u32,
    generation: u32,
}

/// A watched directory: `dir` under root number `root`. A directory
/// reached from two roots (a site's folder inside the default root) has one
/// watch descriptor and a record for each.
struct Watch {
    wd: i32,
    root: u32,
    len: u8,
    dir: [u8; KEY_MAX],
}

/// What the cache made of a request.
pub enum Answer {
    /// Written to the output: the whole response (a small file's body came
    /// from memory), or an error page, a redirect, or a file opened for
    /// this request alone (its body attached).
    Done(Reply),
    /// Written to the output: the head. The body is `[start, end)` of the
    /// pinned entry's file (its form of that coding), to be sent with sendfile.
    Send { reply: Reply, pin: Pin, coding: Coding, start: u64, end: u64 },
    /// The body is in memory but does not fit after what is already queued:
    /// ask again once the output is flushed.
    NoRoom,
}

pub struct FileCache {
    /// INVARIANT: a Live entry is in `index` and on the LRU list; a Dead one
    /// is in neither and has pins; a Free one is on `free`.
    entries: Slab<Entry>,
    free: Slab<u32>,
    /// Open addressing (linear probing) over entry numbers; NONE is empty.
    index: Slab<u32>,
    mask: usize,
    most_recent: u32,
    least_recent: u32,
    bodies: Pool,
    inotify: OwnedFd,
    watches: Slab<Watch>,
    /// A watch could not be added, and the log said so.
    warned: bool,
    /// Lookups that found a live entry, that did not, and entries dropped
    /// for room (for `metrics`).
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

/// FNV-1a over the scope and the path: a key's slot in the index.
#[inline]
fn hash(scope: Scope, key: &[u8]) -> u64 {
    // The scope is one word: mixed in once, not a byte at a time (the key's
    // bytes are the request's; the scope is 0 on a server without sites).
    let start = (0xcbf2_9ce4_8422_2325 ^ u64::from(scope.0)).wrapping_mul(0x100_0000_01b3);
    key.iter().fold(start, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Whether an event about `name` in `dir` can change what `path` answers:
/// `path` is `dir/name` or lies under it, or `name` is its `.br`, `.zst`
/// or `.gz` sibling.
/// An empty `name` is an event on the directory itself.
fn touches(path: &[u8], dir: &[u8], name: &[u8]) -> bool {
    let rest = if dir.is_empty() {
        path
    } else {
        match path.strip_prefix(dir).and_then(|r| r.strip_prefix(b"/")) {
            Some(r) => r,
            None => return false,
        }
    };
    let under = |n: &[u8]| rest.strip_prefix(n).is_some_and(|a| a.is_empty() || a[0] == b'/');
    let sibling = |c: Coding| name.strip_suffix(c.suffix()).is_some_and(|stem| rest == stem);
    name.is_empty() || under(name) || Coding::SIBLINGS.into_iter().any(sibling)
}

impl FileCache {
    /// A cache of up to `entries` files and `bytes` of small-file contents,
    /// watching with `inotify`. None if memory cannot be reserved.
    pub fn new(entries: usize, bytes: usize, inotify: OwnedFd) -> Option<FileCache> {
        let slots = (entries * 2).next_power_of_two();
        let mut index = Slab::new(slots).ok()?;
        while index.push(NONE).is_ok() {}
        Some(FileCache {
            entries: Slab::new(entries).ok()?,
            free: Slab::new(entries).ok()?,
            index,
            mask: slots - 1,
            most_recent: NONE,
            least_recent: NONE,
            bodies: Pool::new(SMALL_FILE, (bytes / crate::sys::mem::round_to_page(SMALL_FILE)).max(1)).ok()?,
            inotify,
            watches: Slab::new(entries * 4).ok()?,
            warned: false,
            hits: 0,
            misses: 0,
            evictions: 0,
        })
    }

    /// GET or HEAD of a static file under `root` (root number
    /// `scope.root()`), from the cache or, on a miss, from the disk and then
    /// into the cache. `out` is the output room; `queued`: output is waiting
    /// in front of it.
    pub fn answer(&mut self, out: &mut [u8], req: &Req<'_>, root: BorrowedFd<'_>, scope: Scope, queued: bool) -> Answer {
        let cut = req.target.iter().position(|&b| b == b'?').unwrap_or(req.target.len());
        let key = &req.target[..cut];
        let i = match self.lookup(scope, key) {
            Some(i) => {
                self.hits += 1;
                i
            }
            None => match self.miss(out, req, root, scope, key) {
                Ok(i) => {
                    self.misses += 1;
                    i
                }
                Err(reply) => {
                    self.misses += 1;
                    return Answer::Done(reply);
                }
            },
        };
        let e = self.entry(i);
        let Some(coding) = req.accept_encoding.choose(e.siblings) else { return Answer::Done(files::not_acceptable(out, req)) };
        let Some(v) = e.variant(coding) else { return Answer::Done(files::plain(out, req, 500, files::Extra::None)) };
        let view = FileView {
            size: v.size,
            mtime: v.mtime,
            etag: v.etag(),
            ctype: e.ctype,
            coding,
            vary: !e.siblings.is_empty(),
            lines: Some(v.lines()),
        };
        let h = files::file_head(out, req, &view);
        if !h.send {
            return Answer::Done(h.reply);
        }
        let mut reply = h.reply;
        if let Some(bytes) = v.bytes(h.start, h.end) {
            match out.get_mut(reply.len..reply.len + bytes.len()) {
                Some(room) => {
                    room.copy_from_slice(bytes);
                    reply.len += bytes.len();
                    return Answer::Done(reply);
                }
                None if queued => return Answer::NoRoom,
                None => {}
            }
        }
        let pin = self.pin(i);
        Answer::Send { reply, pin, coding, start: h.start, end: h.end }
    }

    /// A miss: the directories on the way are watched first, so that no
    /// change after the open goes unseen; then the file is found as without
    /// a cache, and remembered if it can be.
    #[inline(never)]
    fn miss(&mut self, out: &mut [u8], req: &Req<'_>, root: BorrowedFd<'_>, scope: Scope, key: &[u8]) -> Result<u32, Reply> {
        let mut pbuf = [0u8; path::MAX_PATH + 16];
        let resolved = files::resolve(out, req, scope.dotfiles(), &mut pbuf)?;
        // With a trailing slash the path is a directory: its index.html is
        // what is served, and the directory is watched too.
        let n = resolved.len;
        let end = n + usize::from(resolved.slash && n > 0);
        let watched = end < KEY_MAX && {
            pbuf[n] = b'/'; // written over by `find`'s suffix
            match self.watch_dirs(scope.root(), root, &pbuf[..end]) {
                Ok(()) => true,
                // Not there, or not a directory: the request is a 404 anyway.
                Err(Errno::ENOENT | Errno::ENOTDIR | Errno::EACCES) => false,
                // The watch limit (fs.inotify.max_user_watches), or the
                // table here: served uncached from now on, and said once.
                Err(e) => {
                    if !self.warned {
                        self.warned = true;
                        crate::diag::report(b"inotify_add_watch", b"(files there are served without the cache)", e);
                    }
                    false
                }
            }
        };
        let look = Look { siblings: Codings::ALL, direct_only: watched };
        let f = files::find(out, req, root, look, &mut pbuf, resolved)?;
        let plen = f.path_len;
        if !watched || !f.direct || plen > KEY_MAX {
            return Err(files::reply_found(out, req, f));
        }
        self.insert(scope, key, &pbuf[..plen], f).map_err(|f| files::reply_found(out, req, f))
    }

    pub fn inotify(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }

    fn entry(&self, i: u32) -> &Entry {
        // Entry numbers come only from this table.
        self.entries.get(i as usize).expect("entry numbers come from the table")
    }

    fn entry_mut(&mut self, i: u32) -> &mut Entry {
        self.entries.get_mut(i as usize).expect("entry numbers come from the table")
    }

    /// The live entry for request path `key` in `scope`, made the most
    /// recently used.
    pub fn lookup(&mut self, scope: Scope, key: &[u8]) -> Option<u32> {
        let h = hash(scope, key);
        let mut at = h as usize & self.mask;
        loop {
            let i = *self.index.get(at)?;
            if i == NONE {
                return None;
            }
            let e = self.entry(i);
            if e.hash == h && e.scope == scope && &e.key[..usize::from(e.key_len)] == key {
                self.unlink(i);
                self.link_front(i);
                return Some(i);
            }
            at = (at + 1) & self.mask;
        }
    }

    pub fn pin(&mut self, i: u32) -> Pin {
        let e = self.entry_mut(i);
        e.pins += 1;
        Pin { entry: i, generation: e.generation }
    }

    /// The open file of a pinned entry's form of coding `c`.
    pub fn file(&self, p: Pin, c: Coding) -> Option<BorrowedFd<'_>> {
        let e = self.entries.get(p.entry as usize)?;
        if e.generation != p.generation || e.life == Life::Free {
            return None;
        }
        e.variant(c).map(|v| v.fd.as_fd())
    }

    pub fn unpin(&mut self, p: Pin) {
        let Some(e) = self.entries.get_mut(p.entry as usize) else { return };
        if e.generation != p.generation || e.pins == 0 {
            return;
        }
        e.pins -= 1;
        if e.pins == 0 && e.life == Life::Dead {
            self.release(p.entry);
        }
    }

    /// Remembers a file `files::find` just opened for request path `key` in
    /// `scope` (`path`: the file's path under that scope's root).
    /// The cache takes the descriptors; None (and they are closed) if the
    /// paths are too long for an entry or it cannot make room.
    // The refused `Found` (its open files) goes back to be answered from: a
    // move of some 200 bytes once per miss, where a Box would need the heap.
    #[allow(clippy::result_large_err)]
    pub fn insert(&mut self, scope: Scope, key: &[u8], path: &[u8], f: Found) -> Result<u32, Found> {
        if key.len() > KEY_MAX || path.len() > KEY_MAX || !f.direct {
            return Err(f);
        }
        if self.free.is_empty() && self.entries.len() == self.entries.capacity() {
            // Full: the least recently used goes (its slot waits for its
            // pins, if a connection still sends from it).
            let victim = self.least_recent;
            if victim != NONE {
                self.evictions += 1;
                self.drop_entry(victim);
            }
            if self.free.is_empty() {
                return Err(f);
            }
        }
        let siblings = f.siblings();
        let vary = !siblings.is_empty();
        let Found { file, st, sib, ctype, .. } = f;
        let mut forms = [Some(self.variant(file, st, ctype, Coding::Identity, vary)), None, None, None];
        for ((form, s), c) in forms[1..].iter_mut().zip(sib).zip(Coding::SIBLINGS) {
            *form = s.map(|(fd, st)| self.variant(fd, st, ctype, c, vary));
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => self.entries.push(Entry::EMPTY).unwrap_or(0) as u32, // room checked above
        };
        let h = hash(scope, key);
        let e = self.entry_mut(slot);
        e.scope = scope;
        e.forms = forms;
        e.siblings = siblings;
        e.life = Life::Live;
        e.pins = 0;
        e.hash = h;
        e.key[..key.len()].copy_from_slice(key);
        e.key_len = key.len() as u8;
        e.path[..path.len()].copy_from_slice(path);
        e.path_len = path.len() as u8;
        e.ctype = ctype;
        let mut at = h as usize & self.mask;
        while self.index.get(at).is_some_and(|&i| i != NONE) {
            at = (at + 1) & self.mask;
        }
        if let Some(x) = self.index.get_mut(at) {
            *x = slot;
        }
        self.link_front(slot);
        Ok(slot)
    }

    /// A variant from an open file: its validators, and its bytes if it is
    /// small and memory allows (the least recently used make room).
    fn variant(&mut self, fd: OwnedFd, st: fs::Stat, ctype: &[u8], coding: Coding, vary: bool) -> Variant {
        let mut etag = [0u8; ETAG_MAX];
        let etag_len = files::etag_of(&st, &mut etag).len();
        let mtime = st.mtime.max(0) as u64;
        let view = FileView { size: st.size, mtime, etag: &etag[..etag_len], ctype, coding, vary, lines: None };
        let mut lines = [0u8; files::FILE_LINES_MAX];
        let lines_len = files::file_lines(&view, &mut lines).len();
        // The tag is written just before the tail (FILE_LINES_MAX < 256).
        let etag_at = lines_len.saturating_sub(files::LINES_TAIL.len() + etag_len) as u8;
        let (lines_len, etag_len) = (lines_len as u8, etag_len as u8);
        let mut bytes = None;
        if st.size as usize <= SMALL_FILE {
            let mut block = self.bodies.lend();
            while block.is_none() && self.least_recent != NONE {
                let victim = self.least_recent;
                self.drop_entry(victim);
                block = self.bodies.lend();
            }
            if let Some(mut b) = block {
                if read_whole(fd.as_fd(), &mut b[..st.size as usize]) {
                    bytes = Some(b);
                } else {
                    self.bodies.give_back(b); // it changed as we read: sendfile it instead
                }
            }
        }
        Variant { fd, size: st.size, mtime, lines, lines_len, etag_at, etag_len, bytes }
    }

    /// Takes entry `i` out of the index and the LRU list; its resources go
    /// now, or when its last pin does.
    fn drop_entry(&mut self, i: u32) {
        if self.entry(i).life != Life::Live {
            return;
        }
        self.unindex(i);
        self.unlink(i);
        if self.entry(i).pins == 0 {
            self.release(i);
        } else {
            self.entry_mut(i).life = Life::Dead;
        }
    }

    /// Closes the entry's files and frees its memory and slot.
    fn release(&mut self, i: u32) {
        let e = self.entry_mut(i);
        e.life = Life::Free;
        e.generation = e.generation.wrapping_add(1);
        e.siblings = Codings::NONE;
        let forms = core::mem::take(&mut e.forms); // dropping them closes the files
        for b in forms.into_iter().flatten().filter_map(|mut v| v.bytes.take()) {
            self.bodies.give_back(b);
        }
        let _ = self.free.push(i);
    }

    fn unindex(&mut self, i: u32) {
        let h = self.entry(i).hash;
        let mut at = h as usize & self.mask;
        while self.index.get(at).is_some_and(|&x| x != i && x != NONE) {
            at = (at + 1) & self.mask;
        }
        if self.index.get(at) != Some(&i) {
            return;
        }
        // Backward-shift deletion: later entries of the probe run move up,
        // so no lookup ever stops early at the gap.
        let mut gap = at;
        let mut j = (at + 1) & self.mask;
        loop {
            let x = *self.index.get(j).unwrap_or(&NONE);
            if x == NONE {
                break;
            }
            let home = self.entry(x).hash as usize & self.mask;
            // x may fill the gap if its home is not in (gap, j].
            if (j.wrapping_sub(home) & self.mask) >= (j.wrapping_sub(gap) & self.mask) {
                if let Some(s) = self.index.get_mut(gap) {
                    *s = x;
                }
                gap = j;
            }
            j = (j + 1) & self.mask;
        }
        if let Some(s) = self.index.get_mut(gap) {
            *s = NONE;
        }
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let e = self.entry(i);
            (e.prev, e.next)
        };
        match prev {
            NONE => {
                if self.most_recent == i {
                    self.most_recent = next;
                }
            }
            p => self.entry_mut(p).next = next,
        }
        match next {
            NONE => {
                if self.least_recent == i {
                    self.least_recent = prev;
                }
            }
            n => self.entry_mut(n).prev = prev,
        }
        let e = self.entry_mut(i);
        e.prev = NONE;
        e.next = NONE;
    }

    fn link_front(&mut self, i: u32) {
        let old = self.most_recent;
        {
            let e = self.entry_mut(i);
            e.prev = NONE;
            e.next = old;
        }
        match old {
            NONE => self.least_recent = i,
            o => self.entry_mut(o).prev = i,
        }
        self.most_recent = i;
    }

    /// Makes sure every directory from root `root` (number `n`) down to
    /// the one holding `path` is watched. An error means the file must not
    /// be cached.
    ///
    /// inotify takes paths, not directory descriptors: the worker moves
    /// into the root (fchdir) before it adds a watch, and names the
    /// directory relative to it. Not the root's path as configured (made
    /// absolute at start): after a rename of that path it would name
    /// another folder than the one opened at start and served from, and
    /// changes there would go unseen. Not `/proc/self/fd/N/...` either: a
    /// `FROM scratch` container need not have /proc. fchdir needs nothing.
    /// Nothing else in a worker depends on its current directory.
    pub fn watch_dirs(&mut self, n: u32, root: BorrowedFd<'_>, path: &[u8]) -> Result<(), Errno> {
        let slashes = path.iter().enumerate().filter(|&(_, &b)| b == b'/').map(|(i, _)| i);
        let mut moved = false;
        for end in core::iter::once(0).chain(slashes) {
            let dir = &path[..end];
            if self.watch_of_dir(n, dir).is_some() {
                continue;
            }
            let mut p = [0u8; KEY_MAX + 2];
            let c = fs::path_in(&mut p, 0, if dir.is_empty() { b"." } else { dir }).ok_or(Errno::ENAMETOOLONG)?;
            if !moved {
                fs::fchdir(root)?;
                moved = true;
            }
            let wd = inotify::add_dir_watch(self.inotify.as_fd(), c, inotify::STALE_EVENTS)?;
            let mut w = Watch { wd, root: n, len: dir.len() as u8, dir: [0; KEY_MAX] };
            w.dir[..dir.len()].copy_from_slice(dir);
            // A record whose directory went is reused before a new one.
            let reuse = (0..self.watches.len()).find(|&i| self.watches.get(i).is_some_and(|w| w.wd < 0));
            match reuse.and_then(|i| self.watches.get_mut(i)) {
                Some(old) => *old = w,
                None => self.watches.push(w).map(drop).map_err(|_| Errno::ENOSPC)?,
            }
        }
        Ok(())
    }

    fn watch_of_dir(&self, n: u32, dir: &[u8]) -> Option<usize> {
        let at = |w: &Watch| w.wd >= 0 && w.root == n && &w.dir[..usize::from(w.len)] == dir;
        (0..self.watches.len()).find(|&i| self.watches.get(i).is_some_and(at))
    }

    /// Reads every queued inotify event and drops the entries each one
    /// touches. Called before anything else in a wake-up.
    pub fn read_events(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            let n = match io::read(self.inotify.as_fd(), &mut buf) {
                Ok(n) if n > 0 => n,
                _ => return,
            };
            for ev in inotify::events(&buf[..n]) {
                self.on_event(ev);
            }
        }
    }

    fn on_event(&mut self, ev: inotify::Event<'_>) {
        if ev.mask & inotify::IN_Q_OVERFLOW != 0 {
            self.drop_where(None, |_| true); // events were lost: forget everything
            self.forget_watches(None, |_| true);
            return;
        }
        // Every record of the directory: one for each root it is reached from.
        for i in 0..self.watches.len() {
            let Some(w) = self.watches.get(i).filter(|w| w.wd == ev.wd) else { continue };
            let (root, len) = (Some(w.root), usize::from(w.len));
            let mut dir = [0u8; KEY_MAX];
            dir[..len].copy_from_slice(&w.dir[..len]);
            let dir = &dir[..len];
            self.drop_where(root, |path| touches(path, dir, ev.name));
            // A directory renamed or gone: its watch record (and those below
            // it) no longer names what is at that path.
            let gone = inotify::IN_DELETE_SELF | inotify::IN_MOVE_SELF | inotify::IN_IGNORED;
            if ev.name.is_empty() && ev.mask & gone != 0 {
                self.forget_watches(root, |d| d == dir || d.starts_with(dir) && d.get(len) == Some(&b'/') || len == 0);
            } else if ev.mask & (inotify::IN_MOVED_FROM | inotify::IN_DELETE | inotify::IN_CREATE | inotify::IN_MOVED_TO) != 0 {
                self.forget_watches(root, |d| d.len() > len && touches(d, dir, ev.name));
            }
        }
    }

    /// Drops the live entries under root number `root` (None: any) whose
    /// path is `stale`.
    fn drop_where(&mut self, root: Option<u32>, mut stale: impl FnMut(&[u8]) -> bool) {
        for i in 0..self.entries.len() as u32 {
            let e = self.entry(i);
            if e.life == Life::Live && root.is_none_or(|r| e.scope.root() == r) && stale(&e.path[..usize::from(e.path_len)]) {
                self.drop_entry(i);
            }
        }
    }

    fn forget_watches(&mut self, root: Option<u32>, mut gone: impl FnMut(&[u8]) -> bool) {
        for w in self.watches.iter_mut() {
            if w.wd >= 0 && root.is_none_or(|r| w.root == r) && gone(&w.dir[..usize::from(w.len)]) {
                w.wd = -1; // re-added (for whatever is there now) on the next miss
            }
        }
    }
}

/// The whole file into `buf` (its size, from fstat); false if it was not
/// that long any more.
fn read_whole(fd: BorrowedFd<'_>, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        match io::read(fd, &mut buf[got..]) {
            Ok(0) => return false,
            Ok(n) => got += n,
            Err(Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::{Entry, Scope, Variant, hash, touches};

    /// Each entry of a 1,024-file cache is reserved up front, with room for
    /// all four forms: keep the record small. (1,056 bytes with two forms;
    /// the ETag kept only inside the header lines pays for part of the two
    /// more.)
    #[test]
    fn an_entry_record_is_small() {
        assert!(core::mem::size_of::<Variant>() <= 232, "{} bytes", core::mem::size_of::<Variant>());
        assert!(core::mem::size_of::<Entry>() <= 1408, "{} bytes", core::mem::size_of::<Entry>());
    }

    /// The same path in another root, or with the other dotfiles switch,
    /// is another key.
    #[test]
    fn a_scope_is_part_of_the_key() {
        let scopes = [(0, false), (0, true), (1, false), (1, true), (2, false), (0x7fff_ffff, true)];
        for &(root, dot) in &scopes {
            let s = Scope::new(root, dot);
            assert_eq!((s.root(), s.dotfiles()), (root, dot));
            for &(r2, d2) in &scopes {
                let same = (root, dot) == (r2, d2);
                assert_eq!(hash(s, b"/index.html") == hash(Scope::new(r2, d2), b"/index.html"), same, "{root} {dot} {r2} {d2}");
            }
        }
    }

    #[test]
    fn which_events_touch_which_paths() {
        let rows: &[(&[u8], &[u8], &[u8], bool)] = &[
            // path, watched dir, event name, touches
            (b"a.txt", b"", b"a.txt", true),
            (b"a.txt", b"", b"a.txt.gz", true), // its .gz appeared or went
            (b"a.txt", b"", b"a.txt.br", true),
            (b"a.txt", b"", b"a.txt.zst", true),
            (b"a.txt", b"", b"a.txt.zstd", false), // not a suffix driftd looks for
            (b"a.txt", b"", b"a.txt.bz2", false),
            (b"a.txt", b"", b"a.txt.gz.br", false),
            (b"a.txt", b"", b"a.br", false),
            (b"d/a.txt", b"d", b"a.txt.zst", true),
            (b"d/a.txt", b"", b"a.txt.br", false), // another directory's sibling
            (b"a.txt", b"", b"b.txt", false),
            (b"a.txt", b"", b"a.tx", false),
            (b"d/a.txt", b"", b"d", true), // the directory renamed or removed
            (b"d/a.txt", b"d", b"a.txt", true),
            (b"d/a.txt", b"d", b"", true), // the directory itself
            (b"d/a.txt", b"e", b"a.txt", false),
            (b"dd/a.txt", b"", b"d", false),
            (b"d/index.html", b"d", b"index.html", true),
            (b"x/y/z.css", b"x", b"y", true),
            (b"x/y/z.css", b"x/y", b"z.css.gz", true),
            (b"a.txt.gz", b"", b"a.txt.gz", true), // a .gz asked for by name
            (b"a.txt.gz", b"", b"a.txt", false),
            (b"a.txt.br", b"", b"a.txt.br", true),
            (b"a.txt.br", b"", b"a.txt", false),
        ];
        for &(path, dir, name, want) in rows {
            assert_eq!(touches(path, dir, name), want, "{:?} {:?} {:?}", path, dir, name);
        }
    }
}
