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
