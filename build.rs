//! Link flags for the no_std binaries. They reach only the `[[bin]]` targets
//! (`rustc-link-arg-bins`); the library and the test harnesses link normally.

fn main() {
    // Cargo does not relink when only the linker script changes.
    println!("cargo:rerun-if-changed=linker.ld");
    println!("cargo:rerun-if-changed=build.rs");

    let script = format!("{}/linker.ld", std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap();

    // aarch64 links with rust-lld (ld flags); x86_64 through cc (flags behind -Wl,).
    let ld_flags: &[&str] = &[
        "--no-pie",            // a static PIE would need self-relocation code; we have none
        "-static",             // no INTERP, no DYNAMIC: the kernel runs us directly
        "--build-id=none",     // a .note section we do not need (bytes)
        "-z", "noexecstack",   // PT_GNU_STACK without X
        "-z", "norelro",       // no PT_GNU_RELRO segment: nothing is relocated at run time
        "-e", "_start",        // our entry, from rt's global_asm!
        "-T", &script,         // two PT_LOADs (R+X, RW) and no padding between them
    ];
    if arch == "aarch64" {
        for f in ld_flags {
            println!("cargo:rustc-link-arg-bins={f}");
        }
        // RustCrypto's `cpufeatures` asks `libc::getauxval` which CPU
        // features (AES, PMULL) there are, and linking the `libc` crate
        // adds -lc -lm -lrt -lpthread to the link. rt defines getauxval
        // itself; empty archives of those names satisfy the linker and
        // bring nothing in (the C library never is).
        let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("no-libc");
        std::fs::create_dir_all(&out).unwrap();
        for lib in ["c", "m", "rt", "pthread", "dl", "util", "gcc_s"] {
            std::fs::write(out.join(format!("lib{lib}.a")), b"!<arch>\n").unwrap(); // an ar archive with no members
        }
        println!("cargo:rustc-link-search=native={}", out.display());
    } else {
        // cc would add crt1.o and libc: we bring our own _start and no libc.
        for f in ["-nostartfiles", "-nostdlib", "-static", "-no-pie"] {
            println!("cargo:rustc-link-arg-bins={f}");
        }
        let mut rest = ld_flags.iter().skip(2); // -static/--no-pie already given to cc
        while let Some(f) = rest.next() {
            match *f {
                "-z" | "-e" | "-T" => {
                    let v = rest.next().unwrap();
                    println!("cargo:rustc-link-arg-bins=-Wl,{f},{v}");
                }
                _ => println!("cargo:rustc-link-arg-bins=-Wl,{f}"),
            }
        }
    }
}
