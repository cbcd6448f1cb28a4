//! How many clients one driftd worker holds, and what it costs: thousands of
//! idle keep-alive connections, a flood of half-sent heads, running out of
//! descriptors, timers with many connections open, and the capacity on the
//! start-up line. The client sockets live in tests/hold.py, a process of
//! their own: the hard RLIMIT_NOFILE here is 20,000 per process, and this
//! harness runs other tests in parallel.
#[macro_use]
mod common;

use common::*;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// Connections a test holds: qemu-aarch64 runs the server about ten times
/// slower, so it gets fewer.
fn count(arch: Arch, x86_64: usize, aarch64: usize) -> usize {
    match arch {
        Arch::X86_64 => x86_64,
        Arch::Aarch64 => aarch64,
    }
}

fn get(addr: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()
}

/// A driftd of `arch` on a free port, started through `prlimit
/// --nofile=SOFT:HARD` when `nofile` is given.
fn start_limited(arch: Arch, args: &[&str], nofile: Option<(u64, u64)>) -> Option<DriftdServer> {
    let port = free_port();
    let p = port.to_string();
    let mut all = vec!["--port", p.as_str()];
    all.extend_from_slice(args);
    let cmd = command(arch, "driftd", &all)?;
    let Some((soft, hard)) = nofile else { return Some(DriftdServer::start(cmd, port)) };
    // prlimit execs the server: the pid, and so its workers, stay the same.
    let nofile = format!("--nofile={soft}:{hard}");
    let limited = wrap(&[OsStr::new("prlimit"), OsStr::new(&nofile), OsStr::new("--")], &cmd);
    Some(DriftdServer::start(limited, port))
}

/// The one worker of a `--workers 1` driftd, once the supervisor has started it.
fn worker(s: &DriftdServer) -> u32 {
    let w = s.wait_workers(1);
    assert_eq!(w.len(), 1, "driftd's workers: {w:?}");
    w[0]
}

/// VmRSS of `pid`, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmRSS in KiB")
}

/// utime + stime of `pid`, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields 14 and 15 of proc(5), counted after the `(comm)` that may hold spaces.
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    ticks as f64 / clk_tck()
}

fn clk_tck() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().expect("getconf CLK_TCK");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("CLK_TCK")
}

/// `driftd: listening on [::]:PORT with 1 worker, 19,936 connections each` → 19936.
fn capacity(banner: &str) -> usize {
    let (_, tail) = banner.rsplit_once(", ").unwrap_or_else(|| panic!("no capacity on the start-up line: {banner:?}"));
    let n = tail.strip_suffix(" connections each").unwrap_or_else(|| panic!("start-up line: {banner:?}"));
    assert!(n.split(',').skip(1).all(|g| g.len() == 3), "thousands separators in {banner:?}");
    n.replace(',', "").parse().unwrap_or_else(|_| panic!("capacity in {banner:?}"))
}

/// tests/hold.py holding `n` connections to `port` in `mode`; its first line
/// (and each answer) parsed into counts. Killed when dropped.
struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// `held K of N in T s` with its counts: open, closed, failed and one per status.
    held: usize,
    counts: BTreeMap<String, usize>,
}

impl Holder {
    fn start(port: u16, n: usize, mode: &str) -> Holder {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hold.py");
        let mut child = Command::new("python3")
            .args([script, "127.0.0.1", &port.to_string(), &n.to_string(), mode, "30"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run python3 tests/hold.py");
        let stdin = child.stdin.take();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in out.lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut h = Holder { child, stdin, lines, held: 0, counts: BTreeMap::new() };
        let first = h.line(Duration::from_secs(45));
        eprintln!("hold.py {n} {mode}: {first}");
        let rest = first.strip_prefix("held ").unwrap_or_else(|| panic!("hold.py: {first:?}"));
        h.held = rest.split(' ').next().unwrap().parse().unwrap();
        h.counts = parse_counts(&first);
        h
    }

    fn line(&self, limit: Duration) -> String {
        self.lines.recv_timeout(limit).unwrap_or_else(|e| panic!("hold.py said nothing within {limit:?}: {e}"))
    }

    /// Sends one command and returns the counts it answers with.
    fn ask(&mut self, cmd: &str, limit: Duration) -> BTreeMap<String, usize> {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(format!("{cmd}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
        let l = self.line(limit);
        eprintln!("hold.py {cmd}: {l}");
        parse_counts(&l)
    }

    fn get(counts: &BTreeMap<String, usize>, key: &str) -> usize {
        counts.get(key).copied().unwrap_or(0)
    }

    /// Closes stdin: hold.py closes every connection and exits; waits for that.
    fn release(&mut self) {
        drop(self.stdin.take());
        let (code, _) = wait_child(&mut self.child, Duration::from_secs(10));
        assert_eq!(code, Some(0), "hold.py did not exit cleanly");
    }
}

impl Drop for Holder {
    /// Closing stdin lets hold.py reset its connections (a kill would close
    /// them cleanly, and leave thousands of TIME_WAITs holding the loopback
    /// ports the tests after this one bind); it is killed if it lingers.
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = wait_child(&mut self.child, Duration::from_secs(5));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `... open=3 closed=0 failed=0 200=3` → {open: 3, closed: 0, failed: 0, 200: 3}.
fn parse_counts(line: &str) -> BTreeMap<String, usize> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap_or_else(|_| panic!("hold.py: {line:?}"))))
        .collect()
}

/// One GET on a fresh connection: the status, or None if nothing came
/// within `limit` (or the connection was closed without a response).
fn try_get(addr: &str, limit: Duration) -> Option<u16> {
    let mut c = TcpStream::connect(addr).ok()?;
    c.set_read_timeout(Some(limit)).unwrap();
    c.write_all(&get(addr, "/fresh")).ok()?;
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match read_some(&mut c, &mut b) {
            Ok(n) if n > 0 => got.extend_from_slice(&b[..n]),
            _ => return None,
        }
    }
    String::from_utf8_lossy(&got).split(' ').nth(1)?.parse().ok()
}

/// A fresh client is served 200 within 1 s.
fn assert_fresh_client_served(addr: &str, when: &str) {
    let t = Instant::now();
    let mut c = connect(addr);
    c.write_all(&get(addr, "/fresh")).unwrap();
    let r = read_response(&mut c, &mut Vec::new(), false);
    assert_eq!(r.status_line, "HTTP/1.1 200 OK", "fresh client {when}");
    assert!(t.elapsed() < Duration::from_secs(1), "fresh client {when} waited {:?}", t.elapsed());
}

// 1. Idle keep-alive connections: all held by one worker, a fresh client is
// served, and each costs at most 1 KiB of the worker's RSS. The server starts
// with a soft limit of 1,024 and must raise it to the hard limit itself.
// When they close, the memory goes back, and a second burst is served.
fn idle_connections(arch: Arch) {
    if skip_without("python3") || skip_without("prlimit") {
        return;
    }
    let n = count(arch, 15_000, 3_000);
    let hard = hard_nofile();
    assert!(hard as usize > n + 100, "this test needs a hard RLIMIT_NOFILE above {n}; it is {hard}");
    let Some(s) = start_limited(arch, &["--workers", "1", "--quiet"], Some((1024, hard))) else { return };
    let addr = s.addr();
    let cap = capacity(&s.banner);
    assert!(cap >= n && (cap as u64) < hard, "default capacity {cap} with a hard limit of {hard}: {}", s.banner);
    let pid = worker(&s);
    // Warm: the first requests touch the code and the buffers once.
    for _ in 0..10 {
        assert_fresh_client_served(&addr, "before the idle connections");
    }
    let before = rss_kib(pid);

    let mut h = Holder::start(s.port, n, "get");
    let answered = Holder::get(&h.counts, "200");
    assert_eq!((h.held, answered), (n, n), "idle keep-alive connections held and answered 200: {:?}", h.counts);
    assert_fresh_client_served(&addr, &format!("with {n} idle connections"));
    std::thread::sleep(Duration::from_millis(300));
    let after = rss_kib(pid);
    let still = h.ask("status", Duration::from_secs(10));
    assert_eq!(Holder::get(&still, "open"), n, "idle connections closed while held: {still:?}");
    let per = after.saturating_sub(before) as f64 / n as f64;
    eprintln!("{arch:?}: worker RSS {before} KiB -> {after} KiB with {n} idle connections: {per:.3} KiB each");
    assert!(per <= 1.0, "{per:.3} KiB of RSS per idle connection ({before} -> {after} KiB for {n}); at most 1 KiB");

    // The burst ends: within a few seconds the worker gives the memory back
    // (buffer blocks beyond a warm reserve, and the records at the top of
    // its table), keeping at most a tenth of what the burst added.
    h.release();
    let grew = after.saturating_sub(before);
    let t = Instant::now();
    let mut now = rss_kib(pid);
    while now.saturating_sub(before) > grew / 10 && t.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(200));
        now = rss_kib(pid);
    }
    eprintln!("{arch:?}: worker RSS {now} KiB {:?} after the {n} connections closed", t.elapsed());
    assert!(
        now.saturating_sub(before) <= grew / 10,
        "after the burst the worker keeps {} of the {grew} KiB it added ({before} -> {after} -> {now} KiB)",
        now - before
    );
    // The table grows again from there: a second burst is held and answered.
    let m = n / 5;
    let h = Holder::start(s.port, m, "get");
    assert_eq!((h.held, Holder::get(&h.counts, "200")), (m, m), "a second burst after the table shrank: {:?}", h.counts);
    assert_fresh_client_served(&addr, &format!("with {m} idle connections after the table shrank"));
}

// 2. A flood of half-sent heads: fresh clients are still served while it
// lasts, and every flood connection is cut at the head timeout.
fn flood_of_half_heads(arch: Arch) {
    if skip_without("python3") {
        return;
    }
    let n = count(arch, 10_000, 2_000);
    const HEAD_TIMEOUT: u64 = 3;
    let t = HEAD_TIMEOUT.to_string();
    let Some(s) = start_limited(arch, &["--workers", "1", "--head-timeout", &t, "--quiet"], None) else { return };
    let addr = s.addr();
    let mut h = Holder::start(s.port, n, "half");
    let held_at = Instant::now();
    assert_eq!(h.held, n, "flood connections opened: {:?}", h.counts);
    assert_eq!(Holder::get(&h.counts, "503"), 0, "the flood filled the table: {:?}", h.counts);
    for i in 0..5 {
        assert_fresh_client_served(&addr, &format!("{i} during a flood of {n} half-sent heads"));
    }
    // Cut at the head timeout: each flood connection gets a 408 or is closed.
    let limit = Duration::from_secs(HEAD_TIMEOUT + 5);
    let c = h.ask(&format!("closed {}", limit.as_secs()), limit + Duration::from_secs(10));
    let took = held_at.elapsed();
    let (open, r408) = (Holder::get(&c, "open"), Holder::get(&c, "408"));
    assert_eq!(open, 0, "{open} flood connections still open {took:?} after the flood began ({c:?})");
    let other: usize = c.iter().filter(|(k, _)| k.parse::<u16>().is_ok() && *k != "408").map(|(_, v)| v).sum();
    assert_eq!(other, 0, "flood connections must get 408 or nothing: {c:?}");
    eprintln!("{arch:?}: {n} half-sent heads cut within {took:?}, {r408} with a 408");
    assert_fresh_client_served(&addr, "after the flood");
}

// 3. Out of descriptors: the worker waits instead of spinning while clients
// keep arriving, and serves again once they leave.
fn descriptor_exhaustion(arch: Arch) {
    if skip_without("python3") || skip_without("prlimit") {
        return;
    }
    let Some(s) = start_limited(arch, &["--workers", "1", "--idle-timeout", "60", "--quiet"], Some((64, 64))) else {
        return;
    };
    let addr = s.addr();
    let pid = worker(&s);
    assert_fresh_client_served(&addr, "before the descriptors run out");
    // 300 clients each send a whole keep-alive GET: about 60 take every
    // descriptor the worker has, the rest wait in the listen queue.
    let mut h = Holder::start(s.port, 300, "send");
    assert_eq!(Holder::get(&h.counts, "failed"), 0, "{:?}", h.counts);
    std::thread::sleep(Duration::from_millis(500));

    // Over 2 s, with a new client arriving every 20 ms, the worker idles.
    let cpu0 = cpu_seconds(pid);
    let t = Instant::now();
    let mut arriving = Vec::new();
    while t.elapsed() < Duration::from_secs(2) {
        if let Ok(mut c) = TcpStream::connect(&addr) {
            let _ = c.write_all(&get(&addr, "/arriving"));
            arriving.push(c);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let spent = cpu_seconds(pid) - cpu0;
    // What a waiting client sees: a 503 and a close, or nothing yet (queued).
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for c in arriving.iter_mut() {
        c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut b = [0u8; 512];
        let what = match read_some(c, &mut b) {
            Ok(0) => "closed".to_string(),
            Ok(n) => String::from_utf8_lossy(&b[..n]).lines().next().unwrap_or("").to_string(),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => "reset".to_string(),
            Err(_) => "nothing yet (queued)".to_string(),
        };
        *seen.entry(what).or_default() += 1;
    }
    let status = h.ask("status", Duration::from_secs(5));
    eprintln!("{arch:?}: out of descriptors: worker CPU {spent:.2} s over 2 s; {} arriving clients saw {seen:?}", arriving.len());
    assert!(spent < 0.1, "the worker used {spent:.2} s of CPU over 2 s while out of descriptors (hold.py: {status:?})");
    for what in seen.keys() {
        assert!(
            what.starts_with("HTTP/1.1 503 ") || what == "nothing yet (queued)",
            "while out of descriptors a new client gets a 503 or waits: {seen:?}"
        );
    }

    // Once the clients leave, a fresh client is served within 1 s.
    drop(arriving);
    h.release();
    let left = Instant::now();
    let mut last = None;
    while left.elapsed() < Duration::from_secs(1) {
        last = try_get(&addr, Duration::from_secs(1).saturating_sub(left.elapsed()).max(Duration::from_millis(50)));
        if last == Some(200) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(last, Some(200), "no 200 within 1 s of the clients leaving (took {:?})", left.elapsed());
    eprintln!("{arch:?}: served again {:?} after the clients left", left.elapsed());
}

// 3b. A cgroup memory limit: the worker sizes its buffers to fit under it
// and says so; a flood of half-sent heads that would need more memory than
// that gets 503s instead of the kernel killing the worker (which drops every
// connection it holds); once the flood is cut, clients are served again.
fn memory_limit_flood(arch: Arch) {
    if skip_without("python3") {
        return;
    }
    const LIMIT_MIB: u64 = 32;
    const HEAD_TIMEOUT: u64 = 10;
    // Without the plan, 12,000 half-sent heads take about 50 MB (a 4 KiB
    // input page each) on x86_64: past the limit.
    let n = count(arch, 12_000, 3_000);
    let Some(cg) = Cgroup::new(Limit::Memory(LIMIT_MIB << 20)) else { return };
    let port = free_port();
    let (p, t) = (port.to_string(), HEAD_TIMEOUT.to_string());
    let Some(cmd) = command(arch, "driftd", &["--port", &p, "--workers", "1", "--head-timeout", &t, "--quiet"]) else { return };
    let s = DriftdServer::start(cg.run_in_child(cmd), port);
    let addr = s.addr();
    let pid = worker(&s);
    let said = s.stderr.lock().unwrap().iter().find(|l| l.contains("memory limit")).cloned().unwrap_or_default();
    let prefix = format!("driftd: memory limit {LIMIT_MIB} MiB: ");
    let busy: usize = said
        .strip_prefix(&prefix)
        .and_then(|r| r.strip_suffix(" requests in progress at once per worker, past that 503"))
        .and_then(|r| r.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("start-up lines: {:?}", s.stderr.lock().unwrap()));
    assert!((16..n).contains(&busy), "{said}");
    assert_fresh_client_served(&addr, "under a memory limit");
    // Two keep-alive clients served before the flood, idle (holding no
    // buffer) while it lasts.
    let mut idle = [connect(&addr), connect(&addr)];
    for c in idle.iter_mut() {
        c.write_all(&get(&addr, "/before")).unwrap();
        assert_eq!(read_response(c, &mut Vec::new(), false).status_line, "HTTP/1.1 200 OK");
    }

    // The head timeout runs from each connection's first bytes, sent while
    // hold.py opens them: everything below must happen well before it.
    let t = Instant::now();
    let mut h = Holder::start(s.port, n, "half");
    // Under qemu the 503s take a while: ask until every connection is held or answered.
    let mut c = h.ask("status", Duration::from_secs(10));
    while (Holder::get(&c, "open"), Holder::get(&c, "503")) != (busy, n - busy) && t.elapsed() < Duration::from_secs(HEAD_TIMEOUT - 4) {
        std::thread::sleep(Duration::from_millis(250));
        c = h.ask("status", Duration::from_secs(10));
    }
    let (open, r503) = (Holder::get(&c, "open"), Holder::get(&c, "503"));
    let peak = cg.peak_memory().map_or("?".into(), |b| format!("{} KiB", b >> 10));
    eprintln!("{arch:?}: {said}; {n} half-sent heads: {open} held, {r503} answered 503; cgroup peak {peak}");
    assert_eq!(s.workers(), [pid], "the worker was replaced (killed at the memory limit?): {:?}", s.stderr.lock().unwrap());
    assert_eq!((open, r503), (busy, n - busy), "half-sent heads held and turned away: {c:?}");
    assert_eq!(try_get(&addr, Duration::from_secs(1)), Some(503), "a fresh client while every buffer is in use");
    // An idle client's next request gets the whole 503, then the close; an
    // idle client that only closes its side gets nothing but the close.
    let [mut asks, mut leaves] = idle;
    asks.write_all(&get(&addr, "/during")).unwrap();
    let mut got = Vec::new();
    let _ = asks.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503 ") && text.contains("Connection: close\r\n"), "{text:?}");
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let len: usize = head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).unwrap().parse().unwrap();
    assert_eq!(body.len(), len, "the whole 503 before the close: {text:?}");
    leaves.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = Vec::new();
    let _ = leaves.read_to_end(&mut got);
    assert_eq!(String::from_utf8_lossy(&got), "", "a client that closed is sent nothing");
    assert!(t.elapsed() < Duration::from_secs(HEAD_TIMEOUT - 1), "too slow to check before the head timeout: {:?}", t.elapsed());

    // The flood is cut at the head timeout; then a fresh client is served.
    let c = h.ask(&format!("closed {}", HEAD_TIMEOUT + 5), Duration::from_secs(HEAD_TIMEOUT + 15));
    assert_eq!(Holder::get(&c, "open"), 0, "{c:?}");
    assert_fresh_client_served(&addr, "after the flood");
    assert_eq!(s.workers(), [pid]);
    assert!(!s.stderr.lock().unwrap().iter().any(|l| l.contains("killed")), "{:?}", s.stderr.lock().unwrap());
    drop(h);
    drop(s);
}

// 3c. Idle connections under a memory limit: each costs the kernel about
// 1.7 KiB in the same cgroup, so the worker takes no more than half its
// share allows (the start-up line says how many) and turns the rest away
// with 503; it is never killed. 19,000 held would pass 32 MiB.
fn memory_limit_idle_connections(arch: Arch) {
    if skip_without("python3") {
        return;
    }
    const LIMIT_MIB: u64 = 32;
    let n = count(arch, 19_000, 3_000);
    if (hard_nofile() as usize) < n + 100 {
        skipped(&format!("this test needs a hard RLIMIT_NOFILE above {n}"));
        return;
    }
    let Some(cg) = Cgroup::new(Limit::Memory(LIMIT_MIB << 20)) else { return };
    let port = free_port();
    let p = port.to_string();
    let Some(cmd) = command(arch, "driftd", &["--port", &p, "--workers", "1", "--quiet"]) else { return };
    let s = DriftdServer::start(cg.run_in_child(cmd), port);
    let cap = capacity(&s.banner);
    // 16 MiB of the worker's 32 MiB share is the kernel's, 4 KiB a connection.
    assert_eq!(cap, 4_096, "{}", s.banner);
    let pid = worker(&s);
    let h = Holder::start(s.port, n, "get");
    let held = n.min(cap);
    let peak = cg.peak_memory().map_or("?".into(), |b| format!("{} KiB", b >> 10));
    eprintln!("{arch:?}: {n} idle keep-alive clients under {LIMIT_MIB} MiB: {:?}; cgroup peak {peak}", h.counts);
    assert_eq!((Holder::get(&h.counts, "200"), Holder::get(&h.counts, "503")), (held, n - held), "{:?}", h.counts);
    assert_eq!(s.workers(), [pid], "the worker was replaced (killed at the memory limit?): {:?}", s.stderr.lock().unwrap());
    drop(h);
    assert_fresh_client_served(&s.addr(), "after the idle clients left");
    assert_eq!(s.workers(), [pid]);
    drop(s);
}

// 4. Timers still fire with many keep-alive connections open (more than the
// 1,024 slots of the old fixed table): head 408, body timeout, send timeout,
// idle close, and the SIGTERM drain.
fn timers_with_many_connections(arch: Arch) {
    if skip_without("python3") {
        return;
    }
    let n = count(arch, 2_000, 1_100);
    const IDLE: u64 = 8;
    let big = "B".repeat(2048);
    let idle = IDLE.to_string();
    let args = [
        "--workers", "1", "--quiet", "--body", &big, "--head-timeout", "2", "--body-timeout", "2",
        "--send-timeout", "2", "--idle-timeout", &idle,
    ];
    let Some(mut s) = start_limited(arch, &args, None) else { return };
    let addr = s.addr();
    let mut h = Holder::start(s.port, n, "get");
    let held_at = Instant::now();
    assert_eq!((h.held, Holder::get(&h.counts, "200")), (n, n), "{:?}", h.counts);

    // Head, body and send timeouts at once, each on its own connection.
    let a = addr.clone();
    let head = std::thread::spawn(move || {
        let mut c = connect(&a);
        c.write_all(b"GET /half HTTP/1.1\r\nHost: x\r\n").unwrap();
        let t = Instant::now();
        let r = read_response(&mut c, &mut Vec::new(), false);
        (r.status_line, closed(&mut c), t.elapsed())
    });
    let a = addr.clone();
    let body = std::thread::spawn(move || {
        let mut c = connect(&a);
        c.write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n").unwrap();
        c.write_all(&[b'p'; 50]).unwrap();
        let t = Instant::now();
        let r = read_response(&mut c, &mut Vec::new(), false);
        (r.status_line, closed(&mut c), t.elapsed())
    });
    let a = addr.clone();
    let send = std::thread::spawn(move || {
        let (mut stuck, sent, stalled_at) = stall_a_reader(&a);
        std::thread::sleep(Duration::from_secs(4).saturating_sub(stalled_at.elapsed()));
        let (got, end) = drain_until_closed(&mut stuck);
        (sent, got, end)
    });
    for (what, t) in [("head", head), ("body", body)] {
        let (line, was_closed, took) = t.join().unwrap();
        assert_eq!(line, "HTTP/1.1 408 Request Timeout", "{what} timeout with {n} idle connections");
        assert!(was_closed, "{what} timeout: the connection stays open after the 408");
        assert!(took >= Duration::from_millis(1500) && took <= Duration::from_millis(4500), "{what} 408 after {took:?}");
    }
    let (sent, got, end) = send.join().unwrap();
    let end = end.unwrap_or_else(|e| panic!("send timeout with {n} idle connections: still open ({e}), {got} bytes read"));
    assert!(got / (big.len() + 100) < sent, "all {sent} responses arrived ({got} bytes, then {end}): not cut off");

    // Idle: none is closed before the idle timeout, all are soon after.
    let early = Duration::from_secs(IDLE - 2).saturating_sub(held_at.elapsed());
    std::thread::sleep(early);
    let c = h.ask("status", Duration::from_secs(5));
    assert_eq!(Holder::get(&c, "open"), n, "idle connections closed before --idle-timeout {IDLE}: {c:?}");
    let c = h.ask("closed 8", Duration::from_secs(20));
    let took = held_at.elapsed();
    assert_eq!(Holder::get(&c, "open"), 0, "idle connections still open {took:?} after they went idle: {c:?}");
    assert!(took <= Duration::from_secs(IDLE + 4), "idle connections closed after {took:?}");
    h.release();

    // SIGTERM with many idle connections and one request in flight: the idle
    // ones are closed at once, the request is answered, and driftd exits 0.
    let mut h = Holder::start(s.port, n, "get");
    assert_eq!((h.held, Holder::get(&h.counts, "200")), (n, n), "{:?}", h.counts);
    let mut c = connect(&addr);
    c.write_all(format!("GET /inflight HTTP/1.1\r\nHost: {addr}\r\n").as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s.signal("TERM");
    let idle_closed = h.ask("closed 3", Duration::from_secs(10));
    assert_eq!(Holder::get(&idle_closed, "open"), 0, "SIGTERM left idle connections open: {idle_closed:?}");
    assert!(s.child.try_wait().unwrap().is_none(), "driftd exited with a request in flight");
    c.write_all(b"\r\n").unwrap();
    let r = read_response(&mut c, &mut Vec::new(), false);
    assert_eq!((r.status_line.as_str(), r.header("Connection")), ("HTTP/1.1 200 OK", Some("close")));
    assert!(closed(&mut c));
    let (code, took) = s.wait_exit(Duration::from_secs(8));
    assert_eq!(code, Some(0), "exit after the drain (waited {took:?}); stderr {:?}", s.stderr.lock().unwrap());
}

// 5. The start-up line names the capacity; --max-conns takes 1 to 1,048,576;
// a table of more than 1,024 fills up and answers 503 beyond.
fn capacity_on_the_start_up_line(arch: Arch) {
    let Some(s) = start_limited(arch, &["--workers", "2", "--max-conns", "1048576", "--quiet"], None) else { return };
    // The whole table, or (if driftd holds it to what the descriptors allow) less.
    let cap = capacity(&s.banner);
    assert!(cap == 1_048_576 || cap as u64 <= hard_nofile(), "--max-conns 1048576: {}", s.banner);
    assert_eq!(s.banner, format!("driftd: listening on [::]:{} with 2 workers, {} connections each", s.port, thousands(cap)));
    assert_fresh_client_served(&s.addr(), "with --max-conns 1048576");
    drop(s);

    for bad in ["0", "1048577", "-1", "1e6"] {
        let out = command(arch, "driftd", &["--max-conns", bad]).unwrap().stdin(Stdio::null()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--max-conns {bad}: {err}");
        let first = err.lines().next().unwrap_or("");
        assert!(first.starts_with("driftd: ") && first.contains("--max-conns"), "--max-conns {bad}: {err}");
        assert!(out.stdout.is_empty(), "--max-conns {bad}");
    }

    // Default: what the descriptor limit allows, less a small reserve; the
    // soft limit is raised to the hard one first.
    if !skip_without("prlimit") {
        let Some(s) = start_limited(arch, &["--workers", "1", "--quiet"], Some((256, 4096))) else { return };
        let cap = capacity(&s.banner);
        assert!((3072..4096).contains(&cap), "default capacity with RLIMIT_NOFILE 256:4096: {}", s.banner);
        assert_eq!(s.banner, format!("driftd: listening on [::]:{} with 1 worker, {} connections each", s.port, thousands(cap)));
    }

    // More than today's 1,024 slots fill up, then 503.
    if skip_without("python3") {
        return;
    }
    let max = count(arch, 1_500, 1_100);
    let m = max.to_string();
    let Some(s) = start_limited(arch, &["--workers", "1", "--max-conns", &m, "--quiet"], None) else { return };
    assert_eq!(s.banner, format!("driftd: listening on [::]:{} with 1 worker, {} connections each", s.port, thousands(max)));
    let h = Holder::start(s.port, max + 100, "get");
    let (ok, full) = (Holder::get(&h.counts, "200"), Holder::get(&h.counts, "503"));
    assert_eq!((ok, full), (max, 100), "--max-conns {max} with {} clients: {:?}", max + 100, h.counts);
}

for_both_arches!(
    idle_connections,
    flood_of_half_heads,
    descriptor_exhaustion,
    memory_limit_flood,
    memory_limit_idle_connections,
    timers_with_many_connections,
    capacity_on_the_start_up_line,
);
