//! argv and the environment, read from the initial stack the kernel built:
//! `argc, argv[0..argc], NULL, envp[..], NULL, auxv pairs`.

/// The process's arguments and environment, as the kernel passed them.
#[derive(Clone, Copy)]
pub struct ProcEnv {
    argc: usize,
    argv: *const *const u8,
    envp: *const *const u8,
}

impl ProcEnv {
    /// Reads argc/argv/envp from the stack pointer `_start` was entered with.
    ///
    /// # Safety
    /// `sp` must be the initial process stack pointer, untouched since exec.
    pub unsafe fn from_stack(sp: *const usize) -> ProcEnv {
        // SAFETY: the caller promises the kernel's layout at sp.
        unsafe {
            let argc = *sp;
            let argv = sp.add(1) as *const *const u8;
            ProcEnv { argc, argv, envp: argv.add(argc + 1) }
        }
    }

    /// Argument `i` (0 is the program name), without its NUL.
    pub fn arg(&self, i: usize) -> Option<&'static [u8]> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: i < argc, and argv[i] is a NUL-terminated string that
        // lives, unmodified, as long as the process.
        Some(unsafe { cstr(*self.argv.add(i)) })
    }

    /// How many arguments there are, the program name included.
    pub fn arg_count(&self) -> usize {
        self.argc
    }

    /// The auxiliary vector's value for `key` (`AT_PAGESZ`, ...), which the
    /// kernel puts after the environment's NULL as (key, value) pairs.
    pub fn aux(&self, key: usize) -> Option<usize> {
        let mut p = self.envp;
        // SAFETY: envp is NULL-terminated (see `var`); the auxv pairs follow
        // it and end with an AT_NULL (0) key.
        unsafe {
            while !(*p).is_null() {
                p = p.add(1);
            }
            let mut a = p.add(1) as *const usize;
            while *a != 0 {
                if *a == key {
                    return Some(*a.add(1));
                }
                a = a.add(2);
            }
        }
        None
    }

    /// The value of environment variable `name`, if set.
    pub fn var(&self, name: &[u8]) -> Option<&'static [u8]> {
        let mut p = self.envp;
        loop {
            // SAFETY: envp is a NULL-terminated array of NUL-terminated
            // strings that live as long as the process.
            let entry = unsafe { *p };
            if entry.is_null() {
                return None;
            }
            // SAFETY: compare byte by byte: `name` holds no NUL and stops at
            // the first difference, so we never read past the string's NUL.
            if unsafe { has_prefix(entry, name) && *entry.add(name.len()) == b'=' } {
                // SAFETY: the bytes up to '=' exist (checked above).
                return Some(unsafe { cstr(entry.add(name.len() + 1)) });
            }
            // SAFETY: not past the NULL terminator, checked above.
            p = unsafe { p.add(1) };
        }
    }
}

impl ProcEnv {
    /// execve — [execve(2)]: this program again (a binary upgrade), from
    /// the path it was started by (`argv[0]`, looked up in `$PATH` if it has
    /// no `/`), with the same arguments, and the environment less every
    /// variable whose `NAME=` starts an entry of `drop`, plus `add` (each
    /// `NAME=value` followed by a NUL). Returns only on failure. Meant for a
    /// child just forked: the arrays it builds are never freed.
    pub fn exec_self(&self, drop: &[&[u8]], add: &[&[u8]]) -> super::Errno {
        let mut n = 0;
        // SAFETY: envp is NULL-terminated (see `var`).
        while !unsafe { *self.envp.add(n) }.is_null() {
            n += 1;
        }
        let Ok(envp) = super::mem::forever::<*const u8>(n + add.len() + 1, core::ptr::null()) else { return super::Errno::ENOMEM };
        let mut k = 0;
        for i in 0..n {
            // SAFETY: i < n, the count of non-NULL entries.
            let e = unsafe { *self.envp.add(i) };
            // SAFETY: each entry is a NUL-terminated string.
            if !drop.iter().any(|d| unsafe { has_prefix(e, d) }) {
                envp[k] = e;
                k += 1;
            }
        }
        for a in add {
            if a.last() == Some(&0) {
                envp[k] = a.as_ptr();
                k += 1;
            }
        }
        let Some(name) = self.arg(0) else { return super::Errno::ENOENT };
        let mut path = [0u8; 4096];
        let mut last = super::Errno::ENOENT;
        let dirs: &[u8] = if name.contains(&b'/') { b"" } else { self.var(b"PATH").unwrap_or(b"/usr/local/bin:/usr/bin:/bin") };
        for dir in dirs.split(|&b| b == b':') {
            let len = if dir.is_empty() { 0 } else { dir.len() + 1 };
            let Some(p) = path.get_mut(..len + name.len() + 1) else { continue };
            if len > 0 {
                p[..dir.len()].copy_from_slice(dir);
                p[dir.len()] = b'/';
            }
            p[len..len + name.len()].copy_from_slice(name);
            p[len + name.len()] = 0;
            // SAFETY: path is NUL-terminated; argv is the kernel's
            // NULL-terminated array; envp is NULL-terminated (the slot after
            // the last one set is still null). On success nothing returns.
            let r = unsafe { syscalls::syscall!(syscalls::Sysno::execve, p.as_ptr(), self.argv, envp.as_ptr()) };
            if let Err(e) = r {
                last = e;
            }
        }
        last
    }
}

/// Whether the NUL-terminated string at `p` starts with `prefix` (no NULs).
///
/// # Safety
/// `p` must point at a NUL-terminated string.
unsafe fn has_prefix(p: *const u8, prefix: &[u8]) -> bool {
    let mut i = 0;
    while i < prefix.len() {
        // SAFETY: every earlier byte matched a non-NUL byte of prefix, so
        // the string has not ended before index i.
        if unsafe { *p.add(i) } != prefix[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The bytes of a NUL-terminated string, without the NUL.
///
/// # Safety
/// `p` must point at a NUL-terminated string that lives for `'static`.
unsafe fn cstr(p: *const u8) -> &'static [u8] {
    let mut n = 0;
    // SAFETY: the caller promises a terminating NUL, so every read is in bounds.
    unsafe {
        while *p.add(n) != 0 {
            n += 1;
        }
        core::slice::from_raw_parts(p, n)
    }
}
