//! What every end-to-end test needs: the release binaries for both arches
//! (built here, so `cargo test` needs nothing built by hand), a way to run an
//! aarch64 binary on this host, free ports, and a server handle that kills
//! its process when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `for_both_arches!(a, b)` makes tests `x86_64::a`, `aarch64::a`, ... that
/// call `a(Arch::X86_64)` and `a(Arch::Aarch64)` (the caller imports `Arch`).
#[allow(unused_macros)] // static_files.rs has its own, with a third run
macro_rules! for_both_arches {
    ($($name:ident),* $(,)?) => {
        mod x86_64 { $( #[test] fn $name() { super::$name(super::Arch::X86_64) } )* }
        mod aarch64 { $( #[test] fn $name() { super::$name(super::Arch::Aarch64) } )* }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    pub fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Aarch64 => "aarch64-unknown-linux-gnu",
        }
    }
    fn is_host(self) -> bool {
        match self {
            Arch::X86_64 => cfg!(target_arch = "x86_64"),
            Arch::Aarch64 => cfg!(target_arch = "aarch64"),
        }
    }
}

/// Whether rustup has the standard library for `arch` (a fresh machine has
/// only the host's: rust-toolchain.toml's `targets` are added only when
/// rustup installs the toolchain itself). When it is missing, the first
/// caller in this test process fails with the one line that fixes it; later
/// callers skip, so `cargo test` reports one failure instead of a compiler
/// error per test. DRIFT_REQUIRE_AARCH64=1 makes every caller fail.
pub fn target_ready(arch: Arch) -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    static REPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if arch.is_host() {
        return true;
    }
    let ready = *READY.get_or_init(|| {
        // Run where rust-toolchain.toml picks the toolchain cargo test uses.
        let out = Command::new("rustc")
            .args(["--print", "target-libdir", "--target", arch.triple()])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output();
        let Ok(out) = out else { return false };
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
        // The directory is printed even when absent; libcore-*.rlib is the proof.
        std::fs::read_dir(&dir).is_ok_and(|mut d| {
            d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libcore-")))
        })
    });
    if ready {
        return true;
    }
    let msg = format!(
        "the {} target is not installed; run: rustup target add {} (or run tests/run.sh, which does)",
        arch.triple(),
        arch.triple()
    );
    let first = !REPORTED.swap(true, std::sync::atomic::Ordering::SeqCst);
    if first || std::env::var("DRIFT_REQUIRE_AARCH64").as_deref() == Ok("1") {
        panic!("{msg}");
    }
    skipped(&msg);
    false
}

/// Builds (once per test process) the release binaries for `arch` and
/// returns the path of `bin`.
pub fn binary(arch: Arch, bin: &str) -> PathBuf {
    assert!(target_ready(arch), "{} is not installed", arch.triple());
    static X86: OnceLock<()> = OnceLock::new();
    static ARM: OnceLock<()> = OnceLock::new();
    let cell = if arch == Arch::X86_64 { &X86 } else { &ARM };
    cell.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "--bins", "--target", arch.triple()])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("RUSTFLAGS")
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build --release --target {} failed", arch.triple());
    });
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(arch.triple())
        .join("release")
        .join(bin)
}

/// Every driftd these tests start keeps root workers (`allow-root`), as
/// before `user` existed: the suites run as root here and in CI, and serve
/// temp dirs and KV stores that root made (the store's directory is
/// writable by root only). Set on each command (`command`, `wrap` and
/// `DriftdServer::start` call this) unless the test set or removed it
/// itself, as tests/privileges.rs does where it tests the refusal and the
/// switch of user.
pub fn allow_root(cmd: &mut Command) -> &mut Command {
    if !cmd.get_envs().any(|(k, _)| k == "DRIFTD_ALLOW_ROOT") {
        cmd.env("DRIFTD_ALLOW_ROOT", "1");
    }
    cmd
}

/// Builds (once per test process) the release binaries for `arch` without
/// default features (no TLS: the plain server) into `target/plain`, and
/// returns the path of `bin`.
pub fn binary_plain(arch: Arch, bin: &str) -> PathBuf {
    assert!(target_ready(arch), "{} is not installed", arch.triple());
    static X86: OnceLock<()> = OnceLock::new();
    static ARM: OnceLock<()> = OnceLock::new();
    let cell = if arch == Arch::X86_64 { &X86 } else { &ARM };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("plain");
    cell.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "--bins", "--no-default-features", "--target", arch.triple(), "--target-dir"])
            .arg(&dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("RUSTFLAGS")
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build --release --no-default-features --target {} failed", arch.triple());
    });
    dir.join(arch.triple()).join("release").join(bin)
}

/// How to run a binary of `arch` here: directly, or under qemu-aarch64.
/// `None` (after saying so loudly) when this host cannot run it; with
/// DRIFT_REQUIRE_AARCH64=1 that is a failure instead.
pub fn runner(arch: Arch) -> Option<Vec<String>> {
    if arch.is_host() {
        return Some(vec![]);
    }
    if !target_ready(arch) {
        return None;
    }
    if which("qemu-aarch64") {
        return Some(vec!["qemu-aarch64".into()]);
    }
    let msg = "aarch64 tests need qemu-aarch64 on a non-arm64 host \
               (Debian/Ubuntu: sudo apt-get install qemu-user)";
    if std::env::var("DRIFT_REQUIRE_AARCH64").as_deref() == Ok("1") {
        panic!("SKIPPED: {msg}, and DRIFT_REQUIRE_AARCH64=1 makes that a failure");
    }
    skipped(msg);
    None
}

pub fn which(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// A command that runs `bin` of `arch` with `args`, or None if it cannot run here.
pub fn command(arch: Arch, bin: &str, args: &[&str]) -> Option<Command> {
    let prefix = runner(arch)?;
    let path = binary(arch, bin);
    let mut cmd = match prefix.split_first() {
        None => Command::new(&path),
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(&path);
            c
        }
    };
    // A cgroup limit on the machine running the tests must not size the
    // servers under test; the cgroup tests take this away (Cgroup::run_in_child).
    // Every client of a test comes from one loopback address, and some hold
    // thousands of connections: no per-client limit unless a test sets one
    // (a flag beats this; tests/fairness.rs removes it to see the default).
    cmd.args(args).env_remove("PORT").env("DRIFTD_NO_CGROUP", "1").env("DRIFTD_MAX_CONNS_PER_CLIENT", "0");
    allow_root(&mut cmd);
    Some(cmd)
}

/// A port that is free on both 0.0.0.0 and [::] right now, below the
/// kernel's ephemeral range (so the thousands of client sockets some tests
/// open cannot take it before the server binds it), and never handed out
/// twice in one test process.
pub fn free_port() -> u16 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::Mutex;
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    let (base, span) = if low >= 21000 { (20000, low - 20000) } else { (1024, low.max(2048) - 1024) };
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for i in 0..500u32 {
        let mut h = RandomState::new().build_hasher();
        h.write_u32(i);
        let port = (base + (h.finish() % span as u64) as u32) as u16;
        if given.contains(&port) {
            continue;
        }
        // One at a time: a dual-stack [::] listener also holds 0.0.0.0.
        let v6 = TcpListener::bind(("::", port)).is_ok();
        if v6 && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free port found below {low}");
}

/// A running server; killed (SIGKILL) when dropped unless already reaped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub banner: String,
}

impl Server {
    /// Starts `cmd` (which must print one banner line on stdout once it is
    /// listening) and waits up to 10 s for that line.
    pub fn start(mut cmd: Command, port: u16) -> Server {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
        let mut child = cmd.spawn().expect("spawn server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the server never blocks on a full pipe.
            let mut sink = Vec::new();
            let _ = r.read_to_end(&mut sink);
        });
        let banner = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
        assert!(!banner.is_empty(), "server printed no banner within 10 s");
        Server { child, port, banner }
    }

    /// Sends SIGTERM (or another signal) and waits up to `limit` for the exit.
    pub fn signal_and_wait(&mut self, sig: &str, limit: Duration) -> (Option<i32>, Duration) {
        send_signal(&self.child, sig);
        wait_child(&mut self.child, limit)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends signal `sig` (by name, e.g. "TERM") to `child`.
pub fn send_signal(child: &Child, sig: &str) {
    let ok = Command::new("kill").args([&format!("-{sig}"), &child.id().to_string()]).status();
    assert!(ok.unwrap().success());
}

/// Waits up to `limit` for `child` to exit: `(exit code, time taken)`,
/// the code `None` if it is still running (or died by a signal).
pub fn wait_child(child: &mut Child, limit: Duration) -> (Option<i32>, Duration) {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return (st.code(), t.elapsed());
        }
        if t.elapsed() > limit {
            return (None, t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Connects, sends `request`, reads until the server closes (10 s limit).
pub fn exchange(addr: &str, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap_or_else(|e| panic!("read from {addr}: {e}"));
    out
}

/// The ELF facts the tests check.
pub struct Elf {
    pub machine: u16,
    pub etype: u16,
    pub shnum: u16,
    /// (p_type, p_flags, p_filesz, p_memsz)
    pub phdrs: Vec<(u32, u32, u64, u64)>,
    pub size: u64,
}

pub const PT_LOAD: u32 = 1;
pub const PT_GNU_STACK: u32 = 0x6474e551;
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;

/// Reads `path` and checks what every binary of ours must be: an ELF for
/// `arch`, ET_EXEC (static, not PIE), no INTERP or DYNAMIC, no segment both
/// writable and executable, a stack (if declared) not executable, and at
/// most `budget` bytes. Returns the ELF for further checks.
pub fn assert_static_elf(path: &Path, arch: Arch, budget: u64) -> Elf {
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    let elf = read_elf(path);
    let machine = match arch {
        Arch::Aarch64 => 183, // EM_AARCH64
        Arch::X86_64 => 62,   // EM_X86_64
    };
    assert_eq!(elf.machine, machine);
    assert_eq!(elf.etype, 2, "ET_EXEC: static, not PIE");
    assert!(!elf.phdrs.iter().any(|p| p.0 == PT_INTERP || p.0 == PT_DYNAMIC), "no INTERP/DYNAMIC");
    let loads: Vec<_> = elf.phdrs.iter().filter(|p| p.0 == PT_LOAD).collect();
    assert!(!loads.is_empty());
    assert!(loads.iter().all(|p| p.1 & (PF_X | PF_W) != (PF_X | PF_W)), "W^X: {:?}", loads);
    if let Some(stack) = elf.phdrs.iter().find(|p| p.0 == PT_GNU_STACK) {
        assert_eq!(stack.1 & PF_X, 0, "non-executable stack");
    }
    assert!(elf.size <= budget, "{} is {} bytes, budget {budget}", path.display(), elf.size);
    eprintln!("{}: {} bytes (budget {budget})", path.display(), elf.size);
    elf
}

pub fn read_elf(path: &Path) -> Elf {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "{} is not an ELF file", path.display());
    assert_eq!(b[4], 2, "not ELF64");
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let phoff = u64_at(0x20) as usize;
    let phentsize = u16_at(0x36) as usize;
    let phnum = u16_at(0x38) as usize;
    let phdrs = (0..phnum)
        .map(|i| {
            let o = phoff + i * phentsize;
            (u32_at(o), u32_at(o + 4), u64_at(o + 0x20), u64_at(o + 0x28))
        })
        .collect();
    Elf { machine: u16_at(0x12), etype: u16_at(0x10), shnum: u16_at(0x3c), phdrs, size: b.len() as u64 }
}

/// A running `driftd`: its start-up line comes on stderr, its access log on
/// stdout. Both pipes are drained into shared line lists for the tests.
/// Killed (SIGKILL) when dropped unless already reaped.
pub struct DriftdServer {
    pub child: Child,
    pub port: u16,
    pub banner: String,
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl DriftdServer {
    /// Starts `cmd` and waits up to 10 s for `driftd: listening on ...` on stderr.
    pub fn start(mut cmd: Command, port: u16) -> DriftdServer {
        use std::sync::{Arc, Mutex};
        allow_root(&mut cmd);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
        let mut child = cmd.spawn().expect("spawn driftd");
        let out_lines = Arc::new(Mutex::new(Vec::new()));
        let err_lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let o = out_lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                o.lock().unwrap().push(line);
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let e = err_lines.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("listening on") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(line.clone());
                    }
                }
                e.lock().unwrap().push(line);
            }
        });
        let banner = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
        assert!(
            !banner.is_empty(),
            "driftd printed no `listening on` line within 10 s; stderr: {:?}",
            err_lines.lock().unwrap()
        );
        DriftdServer { child, port, banner, stdout: out_lines, stderr: err_lines }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sends a signal (by name, e.g. "TERM") to the driftd process.
    pub fn signal(&self, sig: &str) {
        send_signal(&self.child, sig);
    }

    /// Waits up to `limit` for the exit; `(exit code, time taken)`.
    pub fn wait_exit(&mut self, limit: Duration) -> (Option<i32>, Duration) {
        wait_child(&mut self.child, limit)
    }

    /// Waits up to `limit` until some stdout line satisfies `pred`.
    pub fn wait_stdout(&self, limit: Duration, pred: impl Fn(&[String]) -> bool) -> bool {
        wait_lines(&self.stdout, limit, pred)
    }

    /// Waits up to `limit` until the stderr lines satisfy `pred`.
    pub fn wait_stderr(&self, limit: Duration, pred: impl Fn(&[String]) -> bool) -> bool {
        wait_lines(&self.stderr, limit, pred)
    }

    /// The pids of the supervisor's children (its workers).
    /// The workers once there are `n` (up to 5 s), or the last list seen.
    pub fn wait_workers(&self, n: usize) -> Vec<u32> {
        let t = Instant::now();
        loop {
            let w = self.workers();
            if w.len() == n || t.elapsed() >= Duration::from_secs(5) {
                return w;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn workers(&self) -> Vec<u32> {
        let pid = self.child.id();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

fn wait_lines(
    lines: &std::sync::Mutex<Vec<String>>,
    limit: Duration,
    pred: impl Fn(&[String]) -> bool,
) -> bool {
    let t = Instant::now();
    loop {
        if pred(&lines.lock().unwrap()) {
            return true;
        }
        if t.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for DriftdServer {
    fn drop(&mut self) {
        // Killing only the supervisor would orphan its workers, and killing
        // a worker first makes the supervisor start another: stop the
        // supervisor, kill its workers, then kill it.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill").args(["-STOP", &self.child.id().to_string()]).status();
            for pid in self.workers() {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory under the system temp dir, removed (with everything in
/// it) when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("drift-{tag}-{}-{}-{nanos:x}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Make anything a test chmod-ed unreadable removable again.
        let _ = Command::new("chmod").args(["-R", "u+rwx"]).arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A driftd of `arch` on a free port with `args` and extra environment;
/// None if this arch cannot run here.
pub fn start_driftd(arch: Arch, args: &[&str], env: &[(&str, &str)]) -> Option<DriftdServer> {
    let port = free_port();
    let p = port.to_string();
    let mut all = vec!["--port", &p];
    all.extend_from_slice(args);
    let mut cmd = command(arch, "driftd", &all)?;
    cmd.envs(env.iter().copied());
    Some(DriftdServer::start(cmd, port))
}

/// A loopback connection with 10 s read and write timeouts.
pub fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// One parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn status(&self) -> u16 {
        self.status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
    }
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// How many headers are called `name` (any case).
    pub fn count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count()
    }
}

/// `read`, retried when a signal interrupts it (EINTR): the test process
/// reaps and signals children on other threads.
pub fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match s.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Reads one response head from `s` into `buf`; returns it parsed (body
/// empty) and the length of the head in `buf`.
pub fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> (Resp, usize) {
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = read_some(s, &mut chunk).expect("read response head");
        assert!(n > 0, "EOF before a complete response head; got {:?}", String::from_utf8_lossy(buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end - 4].to_vec()).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap().to_string();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap_or_else(|| panic!("bad header line {l:?}"));
            (n.to_string(), v.to_string())
        })
        .collect();
    (Resp { status_line, headers, body: Vec::new() }, head_end)
}

/// Reads one response from `s`; `buf` keeps bytes read past it (pipelining).
/// `head_only`: a response to HEAD (Content-Length but no body). 1xx, 204
/// and 304 responses have no body whatever their headers say.
pub fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>, head_only: bool) -> Resp {
    let (mut r, head_end) = read_head(s, buf);
    let len: usize = if head_only || r.status() < 200 || r.status() == 204 || r.status() == 304 {
        0
    } else {
        r.header("Content-Length").expect("Content-Length").parse().unwrap()
    };
    let mut chunk = vec![0u8; 65536];
    while buf.len() < head_end + len {
        let n = read_some(s, &mut chunk).expect("read response body");
        assert!(n > 0, "EOF inside a response body ({} of {len} bytes)", buf.len() - head_end);
        buf.extend_from_slice(&chunk[..n]);
    }
    r.body = buf[head_end..head_end + len].to_vec();
    buf.drain(..head_end + len);
    r
}

/// Sends `raw` on a new connection and reads one response (HEAD: no body).
pub fn request(addr: &str, raw: &[u8]) -> Resp {
    let mut c = connect(addr);
    c.write_all(raw).unwrap();
    read_response(&mut c, &mut Vec::new(), raw.starts_with(b"HEAD "))
}

/// True when the peer has closed: read returns EOF (or a reset) within 5 s.
pub fn closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 4096];
    loop {
        match read_some(s, &mut b) {
            Ok(0) => return true,
            Ok(_) => continue, // trailing bytes; keep reading to the end
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

pub fn skip_without(tool: &str) -> bool {
    if which(tool) {
        return false;
    }
    skipped(&format!("{tool} is not installed"));
    true
}

/// Says a test is skipped, and why, on this process's stderr itself: the
/// harness captures `eprintln!` of passing tests, and a skip must be seen.
pub fn skipped(why: &str) {
    let line = format!("\n*** SKIPPED: {why} ***\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Whether this test process runs as root (which reads chmod 000 files).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        .unwrap_or(false)
}

/// Reads the interim `100 Continue` a server owes an `Expect: 100-continue`.
pub fn expect_100_continue(c: &mut TcpStream) {
    let mut interim = [0u8; 25];
    c.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
}

/// A loopback client with a 16 KiB receive buffer, so that a server's
/// sends fill it and block often; 10 s timeouts.
pub fn small_window_client(addr: &str) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(16 * 1024).unwrap();
    let sa: std::net::SocketAddr = addr.parse().unwrap();
    sock.connect(&sa.into()).unwrap();
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads from `c` onto `got` until it holds at least `n` bytes; EOF first
/// is a failure.
pub fn read_at_least(c: &mut TcpStream, got: &mut Vec<u8>, n: usize) {
    let mut chunk = vec![0u8; 65536];
    while got.len() < n {
        let k = read_some(c, &mut chunk).unwrap_or_else(|e| panic!("read after {} bytes: {e}", got.len()));
        assert!(k > 0, "EOF after {} of {n} bytes", got.len());
        got.extend_from_slice(&chunk[..k]);
    }
}

/// A client that stops reading: 4 KiB socket buffers, and keep-alive GETs
/// for `/stuck` pipelined (never reading) until the writes stall. Returns
/// the socket, how many requests went out whole, and when they stalled.
pub fn stall_a_reader(addr: &str) -> (TcpStream, usize, Instant) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.set_send_buffer_size(4096).unwrap();
    let sa: std::net::SocketAddr = addr.parse().unwrap();
    sock.connect(&sa.into()).unwrap();
    let mut stuck: TcpStream = sock.into();
    stuck.set_write_timeout(Some(Duration::from_millis(500))).unwrap();
    let req = format!("GET /stuck HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes();
    let mut sent = 0usize;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        match stuck.write(&req) {
            Ok(n) if n == req.len() => sent += 1,
            _ => break, // partial or timed out: the buffers are full
        }
    }
    assert!(t.elapsed() < Duration::from_secs(20), "writes never stalled");
    (stuck, sent, Instant::now())
}

/// Reads `s` to its end (5 s read timeout): the bytes read, and how it
/// ended (`"EOF"` or `"reset"`), or the error if it is still open.
pub fn drain_until_closed(s: &mut TcpStream) -> (usize, std::io::Result<&'static str>) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = 0usize;
    let mut b = vec![0u8; 65536];
    loop {
        match read_some(s, &mut b) {
            Ok(0) => return (got, Ok("EOF")),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (got, Ok("reset")),
            Err(e) => return (got, Err(e)),
        }
    }
}

/// `pre` (a program and its arguments, which exec `cmd` in the end:
/// prlimit, setpriv, a shell) followed by `cmd`'s program and arguments,
/// with `cmd`'s environment changes.
pub fn wrap(pre: &[&OsStr], cmd: &Command) -> Command {
    let mut w = Command::new(pre[0]);
    w.args(&pre[1..]).arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => w.env(k, v),
            None => w.env_remove(k),
        };
    }
    allow_root(&mut w);
    w
}

/// This process's hard RLIMIT_NOFILE (the children inherit it).
pub fn hard_nofile() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("Max open files in /proc/self/limits");
    line.split_whitespace().nth(4).and_then(|h| h.parse().ok()).expect("a numeric hard limit")
}

/// 1234567 → "1,234,567".
pub fn thousands(n: usize) -> String {
    let d = n.to_string();
    let mut out = String::new();
    for (i, ch) in d.chars().enumerate() {
        if i > 0 && (d.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// What a test cgroup limits.
#[derive(Clone, Copy, Debug)]
pub enum Limit {
    /// Microseconds of CPU time per 100 ms period.
    CpuQuota(u64),
    /// Bytes of memory.
    Memory(u64),
}

/// A cgroup of its own with a limit, and a child cgroup without one where
/// the server runs (so the limit is found on a parent, as a pod's is);
/// both removed when dropped. cgroup v1's hierarchy for the controller, or
/// v2's, whichever this machine has. Needs root: None (SKIPPED) otherwise.
pub struct Cgroup {
    dir: PathBuf,
    v2: bool,
}

impl Cgroup {
    pub fn new(limit: Limit) -> Option<Cgroup> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("drift-test-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let (controller, v1_files, v2_file, v1_probe): (&str, Vec<(&str, String)>, (&str, String), &str) = match limit {
            Limit::CpuQuota(q) => (
                "cpu",
                vec![("cpu.cfs_period_us", "100000".into()), ("cpu.cfs_quota_us", q.to_string())],
                ("cpu.max", format!("{q} 100000")),
                "cpu.cfs_quota_us",
            ),
            Limit::Memory(b) => ("memory", vec![("memory.limit_in_bytes", b.to_string())], ("memory.max", b.to_string()), "memory.limit_in_bytes"),
        };
        let v1 = Path::new("/sys/fs/cgroup").join(controller);
        let v2 = Path::new("/sys/fs/cgroup");
        let v2_has = std::fs::read_to_string(v2.join("cgroup.controllers")).is_ok_and(|c| c.split_whitespace().any(|w| w == controller));
        let made = if v1.join(v1_probe).exists() {
            let dir = v1.join(&name);
            std::fs::create_dir(&dir)
                .and_then(|()| v1_files.iter().try_for_each(|(f, v)| std::fs::write(dir.join(f), v)))
                .map(|()| (dir, false))
        } else if v2_has {
            let dir = v2.join(&name);
            std::fs::write(v2.join("cgroup.subtree_control"), format!("+{controller}"))
                .and_then(|()| std::fs::create_dir(&dir))
                .and_then(|()| std::fs::write(dir.join(v2_file.0), &v2_file.1))
                .map(|()| (dir, true))
        } else {
            Err(std::io::Error::other(format!("no {controller} controller mounted at /sys/fs/cgroup")))
        };
        match made.and_then(|(dir, v2)| std::fs::create_dir(dir.join("inner")).map(|()| (dir, v2))) {
            Ok((dir, v2)) => Some(Cgroup { dir, v2 }),
            Err(e) => {
                let _ = std::fs::remove_dir(v1.join(&name));
                let _ = std::fs::remove_dir(v2.join(&name));
                skipped(&format!("cannot make a cgroup with a {controller} limit here ({e}; needs root)"));
                None
            }
        }
    }

    /// `cmd`, started by a shell that first moves itself into the child cgroup.
    pub fn run_in_child(&self, cmd: Command) -> Command {
        let inner = self.dir.join("inner");
        let mut sh = wrap(&[OsStr::new("sh"), OsStr::new("-c"), OsStr::new(r#"echo $$ > "$0/cgroup.procs" && exec "$@""#), inner.as_os_str()], &cmd);
        sh.env_remove("DRIFTD_NO_CGROUP");
        sh
    }

    /// The most memory the cgroup has used, in bytes, where the kernel says.
    pub fn peak_memory(&self) -> Option<u64> {
        let file = if self.v2 { "memory.peak" } else { "memory.max_usage_in_bytes" };
        std::fs::read_to_string(self.dir.join(file)).ok()?.trim().parse().ok()
    }
}

impl Drop for Cgroup {
    /// The server has exited; its cgroups empty out as its processes are reaped.
    fn drop(&mut self) {
        let t = Instant::now();
        while std::fs::remove_dir(self.dir.join("inner")).is_err() && t.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}
