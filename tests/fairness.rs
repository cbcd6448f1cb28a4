//! Fairness between clients: `max-conns-per-client` holds one address (an
//! IPv6 /64) to its share of a worker's connections, answers the rest 503
//! and closes them, and never touches another address's; behind a trusted
//! proxy the count follows the client the proxy names. Loopback only: a
//! second client address is 127.0.0.2, bound before connecting.
#[macro_use]
mod common;

use common::*;
use socket2::{Domain, Socket, Type};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
}

/// A connection from `source` (a loopback address) to `port`.
fn connect_from(source: &str, port: u16) -> TcpStream {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.bind(&format!("{source}:0").parse::<SocketAddr>().unwrap().into()).unwrap();
    s.connect(&format!("127.0.0.1:{port}").parse::<SocketAddr>().unwrap().into()).unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// A `Connection: close` GET from `source`: its status, 0 if none came.
fn status_from(source: &str, port: u16, path: &str) -> u16 {
    let mut s = connect_from(source, port);
    s.write_all(get(path).as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// `n` connections from 127.0.0.1, each with a half-sent head (so each is
/// accepted, TCP_DEFER_ACCEPT or not); after `settle`, how many have been
/// answered 503 (and closed), and how many are held without a word.
fn half_heads(port: u16, n: usize, settle: Duration) -> (Vec<TcpStream>, usize, usize) {
    let mut conns: Vec<TcpStream> = (0..n)
        .map(|_| {
            let mut c = connect(&format!("127.0.0.1:{port}"));
            c.write_all(b"GET /held HTTP/1.1\r\n").unwrap();
            c
        })
        .collect();
    std::thread::sleep(settle);
    let (mut refused, mut held) = (0, 0);
    for c in conns.iter_mut() {
        c.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        match c.read(&mut buf) {
            Ok(k) if buf[..k].starts_with(b"HTTP/1.1 503 ") => refused += 1,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => held += 1,
            other => panic!("neither held nor 503: {other:?}"),
        }
        c.set_nonblocking(false).unwrap();
    }
    (conns, refused, held)
}

fn settle(arch: Arch) -> Duration {
    Duration::from_millis(if arch == Arch::Aarch64 { 1500 } else { 500 })
}

/// 60 connections from one address with a limit of 50: 50 held, 10 told
/// 503; another address is served all the while; once they close, the
/// first address is served again.
fn per_client_limit(arch: Arch) {
    let Some(s) = start_driftd(arch, &["--workers", "1", "--max-conns-per-client", "50", "--quiet", "--metrics", "/metrics"], &[]) else { return };
    let (conns, refused, held) = half_heads(s.port, 60, settle(arch));
    assert_eq!((held, refused), (50, 10));
    assert_eq!(status_from("127.0.0.2", s.port, "/other"), 200, "another address is not held back");
    assert_eq!(status_from("127.0.0.1", s.port, "/more"), 503, "still at its limit");
    // the refusals are counted, by their cause
    let mut m = connect_from("127.0.0.2", s.port);
    m.write_all(get("/metrics").as_bytes()).unwrap();
    let mut scrape = Vec::new();
    let _ = m.read_to_end(&mut scrape);
    let text = String::from_utf8_lossy(&scrape).into_owned();
    assert!(text.contains("driftd_rejected_total{cause=\"client\"} 11\n"), "{text}");
    drop(conns);
    let t = Instant::now();
    while status_from("127.0.0.1", s.port, "/again") != 200 {
        assert!(t.elapsed() < Duration::from_secs(5), "127.0.0.1 never served again after its connections closed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Without the setting: 256 a worker.
fn default_limit(arch: Arch) {
    let port = free_port();
    let p = port.to_string();
    let Some(mut cmd) = command(arch, "driftd", &["--port", &p, "--workers", "1", "--quiet"]) else { return };
    cmd.env_remove("DRIFTD_MAX_CONNS_PER_CLIENT");
    let s = DriftdServer::start(cmd, port);
    let (_conns, refused, held) = half_heads(s.port, 260, settle(arch));
    assert_eq!((held, refused), (256, 4));
    assert_eq!(status_from("127.0.0.2", s.port, "/other"), 200);
}

/// Behind a trusted proxy, the count is per client the proxy names: the
/// proxy's own connections are not counted.
fn behind_a_trusted_proxy(arch: Arch) {
    let Some(s) = start_driftd(arch, &["--workers", "1", "--max-conns-per-client", "2", "--trusted-proxy", "127.0.0.1", "--quiet"], &[]) else { return };
    let addr = s.addr();
    let ask = |c: &mut TcpStream, client: &str| -> u16 {
        c.write_all(format!("GET /p HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: {client}\r\n\r\n").as_bytes()).unwrap();
        read_response(c, &mut Vec::new(), false).status()
    };
    let mut a: Vec<TcpStream> = (0..3).map(|_| connect(&addr)).collect();
    assert_eq!(ask(&mut a[0], "198.51.100.1"), 200);
    assert_eq!(ask(&mut a[1], "198.51.100.1"), 200);
    assert_eq!(ask(&mut a[2], "198.51.100.1"), 503, "a third connection for the same client");
    let mut b: Vec<TcpStream> = (0..4).map(|_| connect(&addr)).collect();
    assert_eq!(ask(&mut b[0], "198.51.100.2"), 200, "another client");
    for c in &mut b[1..] {
        c.write_all(get("/proxy-itself").as_bytes()).unwrap();
        assert_eq!(read_response(c, &mut Vec::new(), false).status(), 200, "the proxy itself is not limited");
    }
    // A keep-alive connection that moves to another client frees its place.
    assert_eq!(ask(&mut a[1], "198.51.100.3"), 200);
    let mut c = connect(&addr);
    assert_eq!(ask(&mut c, "198.51.100.1"), 200);
}

/// tests/hold.py holding `n` connections from `source`; each line it says
/// as `name=count` pairs.
struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Holder {
    fn start(port: u16, n: usize, mode: &str, source: &str) -> Holder {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hold.py");
        let mut child = Command::new("python3")
            .args([script, "127.0.0.1", &port.to_string(), &n.to_string(), mode, "60", source])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
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
        Holder { child, stdin, lines }
    }

    fn next(&self, limit: Duration) -> String {
        self.lines.recv_timeout(limit).unwrap_or_else(|e| panic!("hold.py said nothing within {limit:?}: {e}"))
    }

    fn status(&mut self) -> String {
        writeln!(self.stdin.as_mut().unwrap(), "status").unwrap();
        self.next(Duration::from_secs(20))
    }

    fn count(line: &str, key: &str) -> usize {
        line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{key}="))).and_then(|v| v.parse().ok()).unwrap_or(0)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.wait();
    }
}

/// Under a cgroup memory limit, a flood of half-sent heads from one
/// address takes its share and no more: the rest get 503, the worker is
/// not killed, and a client at another address is served throughout.
fn flood_from_one_address_under_a_memory_limit(arch: Arch) {
    if skip_without("python3") {
        return;
    }
    const LIMIT_MIB: u64 = 32;
    const SHARE: usize = 100;
    let n = if arch == Arch::Aarch64 { 1_000 } else { 4_000 };
    let Some(cg) = Cgroup::new(Limit::Memory(LIMIT_MIB << 20)) else { return };
    let port = free_port();
    let (p, share) = (port.to_string(), SHARE.to_string());
    let args = ["--port", &p, "--workers", "1", "--head-timeout", "20", "--max-conns-per-client", &share, "--quiet"];
    let Some(cmd) = command(arch, "driftd", &args) else { return };
    let s = DriftdServer::start(cg.run_in_child(cmd), port);
    let worker = s.wait_workers(1);
    // A fresh source address: no TIME_WAIT left in its port range.
    let mut h = Holder::start(port, n, "half", "127.0.0.3");
    let first = h.next(Duration::from_secs(60));
    let t = Instant::now();
    let mut line = first.clone();
    while Holder::count(&line, "503") < n - SHARE && t.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(250));
        line = h.status();
    }
    let peak = cg.peak_memory().map_or("?".into(), |b| format!("{} KiB", b >> 10));
    eprintln!("{arch:?}: {n} half-sent heads from one address, {SHARE} allowed: {line}; cgroup peak {peak}");
    assert_eq!((Holder::count(&line, "open"), Holder::count(&line, "503")), (SHARE, n - SHARE), "{first} / {line}");
    assert_eq!(status_from("127.0.0.2", port, "/other"), 200, "another address during the flood");
    assert_eq!(s.workers(), worker, "the worker was replaced (killed at the memory limit?): {:?}", s.stderr.lock().unwrap());
    drop(h);
    drop(s);
}

for_both_arches!(per_client_limit, default_limit, behind_a_trusted_proxy, flood_from_one_address_under_a_memory_limit);
