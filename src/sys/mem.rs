//! Anonymous memory without an allocator: address space reserved with
//! `mmap`, touched only as it is used, handed back with `madvise`. On top of
//! it, two fixed-capacity containers: `Slab<T>` (an array that grows in
//! place) and `Pool` (equal byte blocks lent out and given back).
//! Nothing here frees a mapping while something points into it: regions
//! live as long as the process. `Scratch` is the one exception, unmapped
//! when it is dropped, and it hands out only borrows of itself.
use super::{OwnedFd, Result};
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};
use linux_raw_sys::general as g;
use syscalls::{Sysno, syscall};

/// The kernel's page size; 4 KiB until `set_page_size` says otherwise.
static PAGE: AtomicUsize = AtomicUsize::new(4096);

/// mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)
/// — address space for the heap (`heap::reserve`): never unmapped, and
/// copied on write into each worker that forks after it.
#[cfg(feature = "tls")]
pub(super) fn reserve_forever(len: usize) -> Result<(NonNull<u8>, usize)> {
    let r = Region::reserve(len)?;
    Ok((r.base, r.len))
}

/// Records the page size from the auxiliary vector's `AT_PAGESZ` (arm64
/// kernels run with 4, 16 or 64 KiB pages). Called once at start.
pub fn set_page_size(bytes: usize) {
    if bytes.is_power_of_two() && bytes >= 4096 {
        PAGE.store(bytes, Ordering::Relaxed); // a plain store: no atomics library
    }
}

/// The page size `set_page_size` recorded.
pub fn page_size() -> usize {
    PAGE.load(Ordering::Relaxed)
}

/// `n` rounded up to whole pages.
pub fn round_to_page(n: usize) -> usize {
    let p = page_size();
    n.div_ceil(p) * p
}

/// `n` copies of `fill`, in memory of their own that lives as long as the
/// process: the settings' sites and rules, made once at start and read by
/// every worker (forked after, so shared until written).
pub fn forever<T: Copy>(n: usize, fill: T) -> Result<&'static mut [T]> {
    let bytes = n.checked_mul(core::mem::size_of::<T>()).ok_or(super::Errno::ENOMEM)?;
    let r = Region::reserve(bytes)?;
    let base = r.base.as_ptr() as *mut T;
    for i in 0..n {
        // SAFETY: slot i lies inside the fresh region, which holds n values
        // and is aligned to a page, so to T.
        unsafe { base.add(i).write(fill) };
    }
    // SAFETY: all n slots were written above; the region is never unmapped
    // and nothing else refers to it.
    Ok(unsafe { core::slice::from_raw_parts_mut(base, n) })
}

/// `n` arrays of `W` zero words in fresh address space that lives as long
/// as the process: an open-addressing table whose empty slots are zero, so
/// its pages are touched only where entries land.
pub fn zeroed_forever<const W: usize>(n: usize) -> Result<&'static mut [[u32; W]]> {
    let bytes = n.checked_mul(core::mem::size_of::<[u32; W]>()).ok_or(super::Errno::ENOMEM)?;
    let r = Region::reserve(bytes)?;
    // SAFETY: a fresh anonymous mapping reads as zero, and all-zero is a
    // valid [u32; W]; the region holds n of them, is aligned to a page,
    // is never unmapped, and nothing else refers to it.
    Ok(unsafe { core::slice::from_raw_parts_mut(r.base.as_ptr() as *mut [u32; W], n) })
}

/// The whole file at `path` (relative to the working directory), at most
/// `max` bytes (else EFBIG), in memory that lives as long as the process:
/// the config file, whose values the settings point into.
pub fn read_forever(path: &[u8], max: usize) -> Result<&'static [u8]> {
    let mut p = [0u8; 1025];
    let name = super::fs::path_in(&mut p, 0, path).ok_or(super::Errno::ENAMETOOLONG)?;
    let f = super::fs::openat(super::fs::CWD, name, super::fs::O_RDONLY, 0)?;
    let st = super::fs::fstat(f.as_fd())?;
    if st.is_dir() {
        return Err(super::Errno::EISDIR);
    }
    let size = st.size as usize;
    if size > max {
        return Err(super::Errno::EFBIG);
    }
    let r = Region::reserve(size + 1)?;
    // SAFETY: the region is ours alone, `size + 1` bytes long, never unmapped.
    let buf = unsafe { core::slice::from_raw_parts_mut(r.base.as_ptr(), size + 1) };
    let mut len = 0;
    // Read to the end (a file that grew meanwhile stops at the room left).
    while len < buf.len() {
        match super::io::read(f.as_fd(), &mut buf[len..])? {
            0 => break,
            n => len += n,
        }
    }
    if len > size {
        return Err(super::Errno::EFBIG);
    }
    Ok(&buf[..len])
}

/// Address space of our own: `len` bytes, readable and writable, zero until
/// first written, never unmapped (nothing here knows when the last user of
/// it is gone, and a worker keeps its tables for its whole life).
struct Region {
    base: NonNull<u8>,
    len: usize,
}

impl Region {
    /// mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0)
    /// — [mmap(2)]: reserves `len` bytes; no memory is used until a page is touched.
    fn reserve(len: usize) -> Result<Region> {
        let len = round_to_page(len.max(1));
        let prot = g::PROT_READ | g::PROT_WRITE;
        let flags = g::MAP_PRIVATE | g::MAP_ANONYMOUS | g::MAP_NORESERVE;
        // SAFETY: a fresh anonymous mapping at an address the kernel picks
        // cannot overlap anything we already use.
        let addr = unsafe { syscall!(Sysno::mmap, 0, len, prot, flags, -1isize as usize, 0) }?;
        match NonNull::new(addr as *mut u8) {
            Some(base) => Ok(Region { base, len }),
            None => Err(super::Errno::ENOMEM),
        }
    }

    /// madvise(addr, len, MADV_DONTNEED) — [madvise(2)] over the whole pages
    /// inside `[off, off + len)`: their memory goes back to the kernel and
    /// they read as zero when next touched.
    fn release(&self, off: usize, len: usize) {
        let page = page_size();
        let start = off.div_ceil(page) * page;
        let end = ((off + len).min(self.len) / page) * page;
        if start < end {
            // SAFETY: [start, end) lies inside our mapping; callers release
            // only bytes nothing refers to any more (a block given back, or
            // a slab's slots past its length).
            let _ = unsafe { syscall!(Sysno::madvise, self.base.as_ptr().add(start), end - start, g::MADV_DONTNEED) };
        }
    }
}

/// An array of up to `cap` values in reserved address space: `push`
/// writes the next one in place, so pages are touched only as it grows.
/// A connection table, and the free lists beside it.
pub struct Slab<T> {
    region: Region,
    /// INVARIANT: elements [0, len) are initialised; len <= cap.
    len: usize,
    /// The highest `len` since pages were last released: the pages below
    /// `touched` values may hold memory.
    touched: usize,
    cap: usize,
    _owns: PhantomData<T>,
}

impl<T> Slab<T> {
    /// Reserves room for `cap` values (address space only).
    pub fn new(cap: usize) -> Result<Slab<T>> {
        let bytes = cap.checked_mul(core::mem::size_of::<T>()).ok_or(super::Errno::ENOMEM)?;
        Ok(Slab { region: Region::reserve(bytes)?, len: 0, touched: 0, cap, _owns: PhantomData })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.cap
    }

    fn at(&self, i: usize) -> *mut T {
        // SAFETY (of the add): i <= cap, and the region holds cap values.
        unsafe { (self.region.base.as_ptr() as *mut T).add(i) }
    }

    /// Appends `v`; gives it back when the slab is full.
    pub fn push(&mut self, v: T) -> core::result::Result<usize, T> {
        if self.len == self.cap {
            return Err(v);
        }
        // SAFETY: slot `len` is inside the region and not yet initialised;
        // the mapping is aligned to a page, so to T.
        unsafe { self.at(self.len).write(v) };
        self.len += 1;
        self.touched = self.touched.max(self.len);
        Ok(self.len - 1)
    }

    /// Drops the values from `len` on, and hands the whole pages past the
    /// last value kept back to the kernel (they read as zero if touched
    /// again): after a burst, a table's memory follows what is still in it.
    pub fn truncate(&mut self, len: usize) {
        while self.len > len {
            drop(self.pop());
        }
        // The page holding the last value touched has nothing past it in use.
        let size = core::mem::size_of::<T>();
        let (from, to) = (self.len * size, round_to_page(self.touched * size));
        self.region.release(from, to.saturating_sub(from));
        self.touched = self.len;
    }

    /// Removes and returns the last value.
    pub fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: slot `len` was initialised and is now outside [0, len),
        // so it is read out exactly once.
        Some(unsafe { self.at(self.len).read() })
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        // SAFETY: i < len, so the slot is initialised; &self keeps it alive.
        (i < self.len).then(|| unsafe { &*self.at(i) })
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        // SAFETY: as `get`, and &mut self makes the reference unique.
        (i < self.len).then(|| unsafe { &mut *self.at(i) })
    }

    /// Every value, in order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        let base = self.at(0);
        // SAFETY: [0, len) are initialised and &mut self is unique.
        unsafe { core::slice::from_raw_parts_mut(base, self.len) }.iter_mut()
    }
}

/// One block lent by a `Pool`: `len` bytes that only its holder can reach.
/// Give it back with `Pool::give_back`; a block that is dropped instead is
/// only lost to the pool, never reused while held.
pub struct Block {
    ptr: NonNull<u8>,
    len: u32,
    index: u32,
}

impl core::ops::Deref for Block {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the pool lent these bytes to this block alone, and the
        // region lives as long as the process.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len as usize) }
    }
}

impl core::ops::DerefMut for Block {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as `deref`; &mut self makes the slice unique.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len as usize) }
    }
}

/// Blocks of `size` bytes, up to `cap` of them, each on its own whole
/// pages so that a free one can go back to the kernel. The free list is a
/// stack: the block lent next is the one given back last (its pages are
/// warm); the ones at the bottom are cold and are the first released.
pub struct Pool {
    region: Region,
    size: usize,
    /// Bytes from one block's start to the next: `size` in whole pages.
    stride: usize,
    cap: u32,
    /// Blocks never lent yet are [fresh, cap): no free-list entry needed.
    fresh: u32,
    free: Slab<u32>,
    /// INVARIANT: free[0..released] are blocks whose pages went back to the
    /// kernel since they were last given back.
    released: usize,
}

impl Pool {
    pub fn new(size: usize, cap: usize) -> Result<Pool> {
        let stride = round_to_page(size);
        let cap = cap.min(u32::MAX as usize);
        let bytes = stride.checked_mul(cap).ok_or(super::Errno::ENOMEM)?;
        Ok(Pool { region: Region::reserve(bytes)?, size, stride, cap: cap as u32, fresh: 0, free: Slab::new(cap)?, released: 0 })
    }

    /// A block, or None when all `cap` are lent. Its bytes are whatever
    /// its last holder (or nobody: zeros) left in them.
    pub fn lend(&mut self) -> Option<Block> {
        let index = match self.free.pop() {
            Some(i) => {
                self.released = self.released.min(self.free.len());
                i
            }
            None if self.fresh < self.cap => {
                self.fresh += 1;
                self.fresh - 1
            }
            None => return None,
        };
        // SAFETY: index < cap, so the block lies inside the region; it was
        // free, so no other Block points at it.
        let ptr = unsafe { NonNull::new_unchecked(self.region.base.as_ptr().add(index as usize * self.stride)) };
        Some(Block { ptr, len: self.size as u32, index })
    }

    /// Takes a block back.
    pub fn give_back(&mut self, b: Block) {
        let _ = self.free.push(b.index); // room for every block: cannot fail
    }

    /// Whether `trim(keep)` has anything to release.
    pub fn can_trim(&self, keep: usize) -> bool {
        self.free.len() > self.released + keep
    }

    /// Hands the memory of free blocks back to the kernel, all but the
    /// `keep` most recently used: after a burst, memory follows the
    /// connections still active, not the high-water mark.
    pub fn trim(&mut self, keep: usize) {
        let upto = self.free.len().saturating_sub(keep);
        for i in self.released..upto {
            if let Some(&b) = self.free.get(i) {
                self.region.release(b as usize * self.stride, self.stride);
            }
        }
        self.released = self.released.max(upto);
    }
}

/// Working memory that becomes a file: a memfd mapped shared, split into a
/// byte area, an array of `T` and another byte area (a directory listing's
/// output, entries and names). Only pages that are touched cost memory.
/// `into_file` keeps the first area's first `len` bytes as the file's whole
/// content, for sendfile to send as a response body.
pub struct Scratch {
    map: Shared,
    file: OwnedFd,
}

/// A shared mapping of `len` bytes (whole pages), unmapped on drop.
struct Shared {
    base: NonNull<u8>,
    len: usize,
}

impl Drop for Shared {
    /// munmap(base, len) — [munmap(2)].
    fn drop(&mut self) {
        // SAFETY: the mapping is ours; every borrow `Scratch::split` handed
        // out borrowed the Scratch that owns this, so none is left.
        let _ = unsafe { syscall!(Sysno::munmap, self.base.as_ptr(), self.len) };
    }
}

/// Where `Scratch::split` puts its parts: the array of `n` `T` after `a`
/// bytes (aligned for `T`), then `b` bytes; and the bytes all three need.
fn split_at<T>(a: usize, n: usize, b: usize) -> Option<(usize, usize, usize)> {
    let t_at = a.checked_next_multiple_of(core::mem::align_of::<T>())?;
    let b_at = t_at.checked_add(n.checked_mul(core::mem::size_of::<T>())?)?;
    Some((t_at, b_at, b_at.checked_add(b)?))
}

impl Scratch {
    /// The bytes a `Scratch` needs for `split::<T>(a, n, b)`.
    pub fn size_for<T>(a: usize, n: usize, b: usize) -> Option<usize> {
        split_at::<T>(a, n, b).map(|(_, _, end)| end)
    }

    /// memfd_create("driftd-scratch", MFD_CLOEXEC) — [memfd_create(2)],
    /// ftruncate to `len` (rounded up to whole pages), and
    /// mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0): `len` bytes
    /// that read as zero, backed by nothing until written.
    pub fn new(len: usize) -> Result<Scratch> {
        let len = round_to_page(len.max(1));
        // SAFETY: the name is a NUL-terminated string that lives across the call.
        let fd = unsafe { syscall!(Sysno::memfd_create, c"driftd-scratch".as_ptr(), g::MFD_CLOEXEC) }?;
        let file = OwnedFd::from_raw(fd);
        super::fs::ftruncate(file.as_fd(), len as u64)?;
        let prot = g::PROT_READ | g::PROT_WRITE;
        // SAFETY: a fresh shared mapping of our own memfd, at an address the
        // kernel picks, cannot overlap anything we already use.
        let addr = unsafe { syscall!(Sysno::mmap, 0, len, prot, g::MAP_SHARED, file.as_fd().arg(), 0) }?;
        match NonNull::new(addr as *mut u8) {
            Some(base) => Ok(Scratch { map: Shared { base, len }, file }),
            None => Err(super::Errno::ENOMEM),
        }
    }

    /// The mapping as `a` bytes, `n` values of `T` (each `T::default()`),
    /// and `b` bytes, in that order; None when they do not fit. The byte
    /// areas hold what was last written there (zeros at first).
    pub fn split<T: Copy + Default>(&mut self, a: usize, n: usize, b: usize) -> Option<(&mut [u8], &mut [T], &mut [u8])> {
        let (t_at, b_at, end) = split_at::<T>(a, n, b).filter(|&(_, _, end)| end <= self.map.len)?;
        let base = self.map.base.as_ptr();
        // SAFETY: [t_at, b_at) lies inside the mapping (end <= len) and is
        // aligned for T (the mapping starts on a page; t_at is a multiple of
        // T's alignment); each slot is written before the slice is made.
        let items = unsafe {
            let t = base.add(t_at) as *mut T;
            for i in 0..n {
                t.add(i).write(T::default());
            }
            core::slice::from_raw_parts_mut(t, n)
        };
        // SAFETY: [0, a) and [b_at, end) lie inside the mapping, apart from
        // each other and from the items; file bytes are always initialised;
        // &mut self keeps anyone else from the mapping while they live.
        let (first, last) = unsafe {
            (core::slice::from_raw_parts_mut(base, a), core::slice::from_raw_parts_mut(base.add(b_at), end - b_at))
        };
        Some((first, items, last))
    }

    /// The memfd, cut to its first `len` bytes (ftruncate frees the pages
    /// past them), after the mapping is gone: a file of exactly what was
    /// written there, to send.
    pub fn into_file(self, len: usize) -> Result<OwnedFd> {
        let Scratch { map, file } = self;
        let len = len.min(map.len);
        drop(map);
        super::fs::ftruncate(file.as_fd(), len as u64)?;
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many of the slab's first `pages` pages are in memory: mincore(2).
    fn resident<T>(s: &Slab<T>, pages: usize) -> usize {
        let mut vec = [0u8; 64];
        assert!(pages <= vec.len());
        // SAFETY: the range is inside the slab's mapping; the kernel writes
        // one byte a page into `vec`, which has room for `pages`.
        unsafe { syscall!(Sysno::mincore, s.region.base.as_ptr(), pages * page_size(), vec.as_mut_ptr()) }.expect("mincore");
        vec[..pages].iter().filter(|&&b| b & 1 == 1).count()
    }

    #[test]
    fn truncate_gives_whole_pages_back_and_keeps_the_rest() {
        let per_page = page_size() / 8;
        let mut s: Slab<u64> = Slab::new(40 * per_page).unwrap();
        for i in 0..(20 * per_page) as u64 {
            s.push(i).unwrap();
        }
        assert_eq!(resident(&s, 24), 20, "20 pages of values are in memory");
        // Keep a page and a half: the page holding the last value stays.
        s.truncate(per_page + per_page / 2);
        assert_eq!(resident(&s, 24), 2);
        assert_eq!(s.len(), per_page + per_page / 2);
        assert!((0..s.len()).all(|i| s.get(i) == Some(&(i as u64))), "kept values unchanged");
        assert_eq!(s.get(s.len()), None);
        // It grows again from there, and truncating to where it is frees nothing more.
        s.push(7).unwrap();
        assert_eq!(s.get(per_page + per_page / 2), Some(&7));
        s.truncate(s.len());
        assert_eq!(resident(&s, 24), 2);
        s.truncate(0);
        assert_eq!((s.len(), resident(&s, 24)), (0, 0));
    }

    #[test]
    fn scratch_splits_and_becomes_a_file() {
        let size = Scratch::size_for::<u64>(3, 5, 7).unwrap();
        assert_eq!(size, 8 + 40 + 7, "the array starts at the next multiple of 8");
        let mut s = Scratch::new(size).unwrap();
        assert!(s.split::<u64>(3, 5, page_size()).is_none(), "more than the mapping holds");
        let (a, items, b) = s.split::<u64>(3, 5, 7).unwrap();
        assert_eq!((a.len(), items.len(), b.len()), (3, 5, 7));
        assert_eq!(items.as_ptr() as usize % 8, 0);
        assert!(items.iter().all(|&v| v == 0) && a.iter().all(|&v| v == 0));
        a.copy_from_slice(b"abc");
        items.fill(u64::MAX);
        b.fill(b'z');
        // Filled again with T::default() on each split; the bytes stay.
        let (a, items, _) = s.split::<u64>(3, 5, 7).unwrap();
        assert_eq!((&a[..], items[0]), (&b"abc"[..], 0));
        let f = s.into_file(2).unwrap();
        let st = super::super::fs::fstat(f.as_fd()).unwrap();
        assert_eq!(st.size, 2);
        let mut buf = [0u8; 8];
        assert_eq!(super::super::fs::pread(f.as_fd(), &mut buf, 0), Ok(2));
        assert_eq!(&buf[..2], b"ab");
        // What the server does with it: sendfile from offset 0.
        let mut p = [0i32; 2];
        // SAFETY: the kernel writes two descriptors into p.
        unsafe { syscall!(Sysno::pipe2, p.as_mut_ptr(), g::O_CLOEXEC) }.unwrap();
        let (r, w) = (OwnedFd::from_raw(p[0] as usize), OwnedFd::from_raw(p[1] as usize));
        let mut off = 0;
        assert_eq!(super::super::fs::sendfile(w.as_fd(), f.as_fd(), &mut off, 100), Ok(2));
        assert_eq!(off, 2);
        assert_eq!(super::super::io::read(r.as_fd(), &mut buf), Ok(2));
        assert_eq!(&buf[..2], b"ab");
    }
}

/// Words shared between the supervisor and the workers it forks: `slots`
/// records of `words` u64s each, in a `MAP_SHARED` anonymous mapping made
/// before the forks (so every process sees the same pages). Each slot has
/// one writer (a worker publishing its counts); anyone may read any slot.
/// Every access is one aligned 64-bit volatile load or store: a reader
/// sees each word whole, never torn, and no lock is taken.
pub struct SharedWords {
    base: NonNull<u64>,
    slots: usize,
    words: usize,
}

impl SharedWords {
    /// mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0)
    /// — [mmap(2)], zero-filled. Never unmapped: it lives as long as the
    /// process (and the workers that inherit it).
    pub fn new(slots: usize, words: usize) -> Result<SharedWords> {
        let len = round_to_page((slots * words * 8).max(1));
        let prot = g::PROT_READ | g::PROT_WRITE;
        let flags = g::MAP_SHARED | g::MAP_ANONYMOUS;
        // SAFETY: a fresh anonymous mapping at an address the kernel picks
        // cannot overlap anything we already use.
        let addr = unsafe { syscall!(Sysno::mmap, 0, len, prot, flags, -1isize as usize, 0) }?;
        match NonNull::new(addr as *mut u64) {
            Some(base) => Ok(SharedWords { base, slots, words }),
            None => Err(super::Errno::ENOMEM),
        }
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Stores `from` (at most `words` of it) into slot `i`.
    pub fn store(&self, i: usize, from: &[u64]) {
        if i >= self.slots {
            return;
        }
        for (k, &w) in from.iter().take(self.words).enumerate() {
            // SAFETY: i < slots and k < words keep the word inside the
            // mapping, which is aligned and lives as long as the process.
            unsafe { self.base.as_ptr().add(i * self.words + k).write_volatile(w) };
        }
    }

    /// Loads slot `i` into `to` (at most `words` of it).
    pub fn load(&self, i: usize, to: &mut [u64]) {
        if i >= self.slots {
            return;
        }
        for (k, w) in to.iter_mut().take(self.words).enumerate() {
            // SAFETY: as in `store`.
            *w = unsafe { self.base.as_ptr().add(i * self.words + k).read_volatile() };
        }
    }
}
