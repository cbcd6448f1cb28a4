//! Process start for the no_std binaries, compiled into each one with
//! `#[path]`: `_start` (assembly), the hand-off to `main`, the panic handler
//! and the mem* functions the compiler expects. No policy lives here.
#![allow(unsafe_code)]

use drift::sys::{env::ProcEnv, process};

// The kernel enters _start with sp at argc. Clear the frame pointer and link
// register (or rbp) so backtraces end here, then call entry(sp).
#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".pushsection .text._start,\"ax\",%progbits",
    ".globl _start",
    ".type _start,%function",
    "_start:",
    "mov x29, xzr",
    "mov x30, xzr",
    "mov x0, sp",
    "bl {entry}",
    ".popsection",
    entry = sym entry,
);

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".pushsection .text._start,\"ax\",@progbits",
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {entry}",
    ".popsection",
    entry = sym entry,
);

/// Reads argv/envp off the initial stack, runs the binary's `main`, exits.
unsafe extern "C" fn entry(sp: *const usize) -> ! {
    // SAFETY: _start passes the untouched initial stack pointer.
    let env = unsafe { ProcEnv::from_stack(sp) };
    process::exit(crate::main(env))
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    let _ = drift::sys::io::write(drift::sys::fd::STDERR, b"panic\n");
    process::exit(101)
}

/// The heap TLS needs (rustls's state); `drift::sys::heap` owns it.
#[cfg(feature = "tls")]
#[global_allocator]
static HEAP: drift::sys::heap::Heap = drift::sys::heap::Heap;

/// AT_HWCAP from the auxiliary vector, for `getauxval`.
#[cfg(feature = "tls")]
static AT_HWCAP: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Keeps AT_HWCAP for `getauxval`; a binary that uses TLS calls it first
/// thing (drift does not, and stays as small as it was).
#[cfg(feature = "tls")]
#[allow(dead_code)]
pub fn keep_hwcap(env: &ProcEnv) {
    AT_HWCAP.store(env.aux(linux_raw_sys::auxvec::AT_HWCAP as usize).unwrap_or(0), core::sync::atomic::Ordering::Relaxed);
}

/// getauxval(type): RustCrypto's `cpufeatures` asks for AT_HWCAP on aarch64
/// to choose the AES/PMULL/SHA instructions. Only that key is kept.
#[cfg(feature = "tls")]
#[unsafe(no_mangle)]
extern "C" fn getauxval(key: usize) -> usize {
    if key == linux_raw_sys::auxvec::AT_HWCAP as usize { AT_HWCAP.load(core::sync::atomic::Ordering::Relaxed) } else { 0 }
}

/// The prebuilt liballoc names this even with panic=abort; nothing unwinds,
/// so it is never called.
#[cfg(feature = "tls")]
#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    process::exit(134)
}

/// The prebuilt `core` was compiled with unwinding; non-LTO builds reference
/// this even though panic=abort never unwinds.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

// The compiler lowers copies and fills to these. LLVM does not turn loops
// inside functions with these names back into calls to themselves.

/// memcpy(dst, src, n) for non-overlapping buffers.
#[unsafe(no_mangle)]
unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees n valid, non-overlapping bytes each side.
    unsafe { memmove(dst, src, n) }
}

/// memmove(dst, src, n), overlap allowed. A word at a time: a cached
/// file's bytes are copied into each response, and a byte loop was a third
/// of a pipelined request's CPU time (measured with perf).
#[unsafe(no_mangle)]
unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    const W: usize = core::mem::size_of::<u64>();
    // x86_64: a large forward copy is `rep movsb`, which the CPU runs a
    // cache line at a time (ERMS): TLS copies each 16 KiB record twice, and
    // the word loop below was 15% of a large file's CPU time over HTTPS.
    // Below 4 KiB its start-up cost loses (pipelined requests: 0.84 µs of
    // user time each with a 64-byte threshold, 0.65 with this one).
    #[cfg(target_arch = "x86_64")]
    if (dst as usize).wrapping_sub(src as usize) >= n && n >= 4096 {
        // SAFETY: the caller guarantees n valid bytes at both pointers, and
        // dst is below src or past the end of the source, so a forward copy
        // reads every byte before it is overwritten.
        unsafe {
            core::arch::asm!(
                "rep movsb",
                inout("rcx") n => _,
                inout("rdi") dst => _,
                inout("rsi") src => _,
                options(nostack, preserves_flags)
            );
        }
        return dst;
    }
    // SAFETY: the caller guarantees n valid bytes at both pointers. Each
    // word is read whole before it is written, and the copy runs away from
    // the overlap, so every byte is read before it is overwritten.
    unsafe {
        if (dst as usize) < (src as usize) {
            let mut i = 0;
            while i + W <= n {
                (dst.add(i) as *mut u64).write_unaligned((src.add(i) as *const u64).read_unaligned());
                i += W;
            }
            while i < n {
                *dst.add(i) = *src.add(i);
                i += 1;
            }
        } else {
            let mut i = n;
            while i >= W {
                i -= W;
                (dst.add(i) as *mut u64).write_unaligned((src.add(i) as *const u64).read_unaligned());
            }
            while i > 0 {
                i -= 1;
                *dst.add(i) = *src.add(i);
            }
        }
    }
    dst
}

/// memset(dst, c, n), a word at a time (zeroed buffers on every request).
#[unsafe(no_mangle)]
unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let word = u64::from_ne_bytes([c as u8; 8]);
    // SAFETY: the caller guarantees n writable bytes at dst.
    unsafe {
        let mut i = 0;
        while i + 8 <= n {
            (dst.add(i) as *mut u64).write_unaligned(word);
            i += 8;
        }
        while i < n {
            *dst.add(i) = c as u8;
            i += 1;
        }
    }
    dst
}

/// memcmp(a, b, n): <0, 0 or >0 as the first differing byte compares.
#[unsafe(no_mangle)]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller guarantees n readable bytes at both pointers.
    unsafe {
        let mut i = 0;
        while i < n {
            let (x, y) = (*a.add(i), *b.add(i));
            if x != y {
                return i32::from(x) - i32::from(y);
            }
            i += 1;
        }
    }
    0
}

/// bcmp(a, b, n): zero if equal.
#[unsafe(no_mangle)]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: as memcmp.
    unsafe { memcmp(a, b, n) }
}

/// strlen(s): LLVM turns the NUL scan in `ProcEnv` into a call to this.
#[unsafe(no_mangle)]
unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller guarantees a NUL-terminated string at s.
    unsafe {
        while *s.add(n) != 0 {
            n += 1;
        }
    }
    n
}
