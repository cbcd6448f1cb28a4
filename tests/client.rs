//! End-to-end tests of `driftd get` and `driftd check`, the built-in HTTP
//! client, on both arches (aarch64 under qemu-aarch64 on other hosts),
//! against driftd itself, tiny canned servers (one per framing and failure),
//! a tiny DNS responder, and nginx. Loopback only; every socket, child and
//! thread is bounded in time. Exact bytes, exit codes, stderr lines and
//! files on disk.
#[macro_use]
mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest any one client run may take before the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(30);

fn body(arch: Arch) -> &'static str {
    match arch {
        Arch::Aarch64 => "Hello from Drift on ARM64!\n",
        Arch::X86_64 => "Hello from Drift on x86_64!\n",
    }
}

/// What one client run did.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    took: Duration,
}

/// Runs `driftd ARGS` with `env` added; None if this arch cannot run here.
fn driftd(arch: Arch, args: &[&str], env: &[(&str, &str)]) -> Option<Ran> {
    let mut cmd = command(arch, "driftd", args)?;
    // Never the host's resolver files, unless a test names them.
    cmd.env("DRIFTD_HOSTS", "/nonexistent/hosts").env("DRIFTD_RESOLV_CONF", "/nonexistent/resolv.conf");
    cmd.envs(env.iter().copied());
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let t = Instant::now();
    let mut child = cmd.spawn().expect("spawn driftd");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let (code, _) = wait_child(&mut child, RUN_LIMIT);
    let running = child.try_wait().unwrap().is_none();
    if running {
        let _ = child.kill();
        let _ = child.wait();
    }
    let ran = Ran {
        code,
        stdout: out.join().unwrap(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
        took: t.elapsed(),
    };
    assert!(!running, "driftd {args:?} still running after {RUN_LIMIT:?}: {ran:?}");
    Some(ran)
}

/// Asserts a run exited `code` with `stdout` and `stderr` exactly.
#[track_caller]
fn expect(ran: &Ran, code: i32, stdout: &[u8], stderr: &str) {
    assert_eq!(ran.code, Some(code), "{ran:?}");
    assert_eq!(ran.stderr, stderr, "{ran:?}");
    assert!(ran.stdout == stdout, "stdout {:?}, want {:?}", String::from_utf8_lossy(&ran.stdout), String::from_utf8_lossy(stdout));
}

/// A directory of its own under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("drift-client-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn file(&self, name: &str, text: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }
    /// The names in the directory, sorted.
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(&self.0).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------
// A canned HTTP server: each connection's request head is recorded, and the
// handler, given the request path, says what to do.

enum Act {
    /// Write these bytes (in pieces of `usize` with a pause between them,
    /// when given), then close.
    Send(Vec<u8>, Option<usize>),
    /// Accept and read, never answer (until the server is dropped).
    Hang,
    /// Write one byte of a status line every 200 ms, forever.
    Trickle,
}

struct Canned {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Canned {
    fn start(handler: impl Fn(&str, u16) -> Act + Send + Sync + 'static) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (s, r, handler) = (stop.clone(), requests.clone(), Arc::new(handler));
        std::thread::spawn(move || {
            let t = Instant::now();
            while !s.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(120) {
                match listener.accept() {
                    Ok((c, _)) => {
                        let (s, r, h) = (s.clone(), r.clone(), handler.clone());
                        std::thread::spawn(move || serve(c, &s, &r, &*h, port));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Canned { port, stop, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn paths(&self) -> Vec<String> {
        let reqs = self.requests.lock().unwrap();
        reqs.iter().map(|r| String::from_utf8_lossy(r).split(' ').nth(1).unwrap_or("").to_string()).collect()
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(mut c: TcpStream, stop: &AtomicBool, requests: &Mutex<Vec<Vec<u8>>>, handler: &dyn Fn(&str, u16) -> Act, port: u16) {
    c.set_nonblocking(false).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = Vec::new();
    let mut b = [0u8; 4096];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match c.read(&mut b) {
            Ok(n) if n > 0 => req.extend_from_slice(&b[..n]),
            _ => return,
        }
    }
    let target = String::from_utf8_lossy(&req).split(' ').nth(1).unwrap_or("").to_string();
    let path = target.split('?').next().unwrap_or("").to_string();
    requests.lock().unwrap().push(req);
    let until = Instant::now() + Duration::from_secs(20);
    match handler(&path, port) {
        Act::Send(bytes, piece) => {
            for part in bytes.chunks(piece.unwrap_or(bytes.len()).max(1)) {
                if c.write_all(part).is_err() {
                    return;
                }
                if piece.is_some() {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            let _ = c.shutdown(Shutdown::Write);
            // Let the client read to the end before the socket goes.
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = c.read(&mut b);
        }
        Act::Hang => {
            while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Act::Trickle => {
            for &byte in b"HTTP/1.1 200 OK\r\nX-Slow: ".iter().chain(std::iter::repeat(&b'a')) {
                if stop.load(Ordering::SeqCst) || Instant::now() > until || c.write_all(&[byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

fn response(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!("HTTP/1.1 {status}\r\n{headers}\r\n").into_bytes();
    v.extend_from_slice(body);
    v
}

fn with_length(status: &str, body: &[u8]) -> Act {
    Act::Send(response(status, &format!("Content-Length: {}\r\n", body.len()), body), None)
}

/// Every byte value, many times: a body no text handling would survive.
fn binary_body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
}

fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for c in body.chunks(size) {
        v.extend_from_slice(format!("{:x};ext=1\r\n", c.len()).as_bytes());
        v.extend_from_slice(c);
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
    v
}

/// The canned responses most tests share, by path.
fn framings() -> Canned {
    Canned::start(|path, port| match path {
        "/length" => with_length("200 OK", b"exactly these bytes\n"),
        "/binary" => with_length("200 OK", &binary_body(100_000)),
        "/chunked" => Act::Send(
            response("200 OK", "Transfer-Encoding: chunked\r\n", &chunked(&binary_body(70_000), 4000)),
            Some(999),
        ),
        "/close" => Act::Send(response("200 OK", "Connection: close\r\n", &binary_body(300_000)), Some(65_536)),
        "/http10" => Act::Send(b"HTTP/1.0 200 OK\r\n\r\nold style".to_vec(), None),
        "/empty" => with_length("200 OK", b""),
        "/nocontent" => Act::Send(response("204 No Content", "", b""), None),
        "/continue" => Act::Send(
            [&b"HTTP/1.1 100 Continue\r\n\r\n"[..], &response("200 OK", "Content-Length: 6\r\n", b"after\n")].concat(),
            Some(7),
        ),
        "/split-head" => Act::Send(response("200 OK", "Content-Length: 5\r\nX-A: b\r\n", b"split"), Some(3)),
        "/truncated" => Act::Send(response("200 OK", "Content-Length: 1000\r\n", &[b'x'; 412]), None),
        "/truncated-chunked" => Act::Send(response("200 OK", "Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n"), None),
        "/bad-chunked" => Act::Send(response("200 OK", "Transfer-Encoding: chunked\r\n", b"5\r\nhelloXX"), None),
        "/gzip" => Act::Send(response("200 OK", "Transfer-Encoding: gzip\r\n", b"zz"), None),
        "/no-response" => Act::Send(Vec::new(), None),
        "/not-http" => Act::Send(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec(), None),
        "/missing" => with_length("404 Not Found", b"no such page\n"),
        "/post-only" => with_length("405 Method Not Allowed", b""),
        "/broken" => with_length("500 Internal Server Error", b"oops\n"),
        "/r1" => Act::Send(response("302 Found", "Location: /r2\r\nContent-Length: 0\r\n", b""), None),
        "/r2" => Act::Send(
            response("307 Temporary Redirect", &format!("Location: http://127.0.0.1:{port}/length\r\n"), b""),
            None,
        ),
        "/loop" => Act::Send(response("301 Moved Permanently", "Location: /loop\r\nContent-Length: 0\r\n", b""), None),
        "/tls" => Act::Send(response("308 Permanent Redirect", "Location: https://example.com/\r\n", b""), None),
        "/not-modified" => Act::Send(response("304 Not Modified", "", b""), None),
        "/hang" => Act::Hang,
        "/trickle" => Act::Trickle,
        _ => with_length("404 Not Found", b""),
    })
}

// ---------------------------------------------------------------------------
// A DNS responder on loopback UDP: `web.drift.test` has an A record
// (127.0.0.1), `six.drift.test` only AAAA (::1), `silent.drift.test` is
// never answered, `fail.drift.test` gets SERVFAIL; other names NXDOMAIN.

struct Dns {
    port: u16,
    stop: Arc<AtomicBool>,
    queries: Arc<Mutex<Vec<(String, u16)>>>,
}

impl Dns {
    fn start() -> Dns {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let port = sock.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(Mutex::new(Vec::new()));
        let (s, q) = (stop.clone(), queries.clone());
        std::thread::spawn(move || {
            let t = Instant::now();
            let mut b = [0u8; 512];
            while !s.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(120) {
                let Ok((n, from)) = sock.recv_from(&mut b) else { continue };
                if let Some(reply) = dns_reply(&b[..n], &q) {
                    let _ = sock.send_to(&reply, from);
                }
            }
        });
        Dns { port, stop, queries }
    }

    /// Resolver files that point driftd at this responder, and a hosts file.
    fn env(&self, dir: &TempDir, hosts: &str) -> Vec<(&'static str, String)> {
        vec![
            ("DRIFTD_RESOLV_CONF", dir.file("resolv.conf", b"search example.invalid\nnameserver 127.0.0.1\n")),
            ("DRIFTD_DNS_PORT", self.port.to_string()),
            ("DRIFTD_HOSTS", dir.file("hosts", hosts.as_bytes())),
        ]
    }

    fn queries(&self) -> Vec<(String, u16)> {
        self.queries.lock().unwrap().clone()
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn dns_reply(q: &[u8], log: &Mutex<Vec<(String, u16)>>) -> Option<Vec<u8>> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = *q.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let name = labels.join(".");
    let qtype = u16::from_be_bytes([*q.get(at)?, *q.get(at + 1)?]);
    let question = q.get(12..at + 4)?;
    log.lock().unwrap().push((name.clone(), qtype));
    let (rcode, answer): (u8, Option<Vec<u8>>) = match (name.as_str(), qtype) {
        ("web.drift.test", 1) => (0, Some(vec![127, 0, 0, 1])),
        ("web.drift.test", _) => (0, None),
        ("six.drift.test", 28) => (0, Some([0u8; 15].iter().copied().chain([1]).collect())),
        ("six.drift.test", _) => (0, None),
        ("silent.drift.test", _) => return None,
        ("fail.drift.test", _) => (2, None),
        _ => (3, None),
    };
    let mut r = vec![q[0], q[1], 0x80 | (q[2] & 0x01), 0x80 | rcode, 0, 1, 0, answer.is_some() as u8, 0, 0, 0, 0];
    r.extend_from_slice(question);
    if let Some(rdata) = answer {
        r.extend_from_slice(&[0xc0, 0x0c]);
        r.extend_from_slice(&qtype.to_be_bytes());
        r.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(&rdata);
    }
    Some(r)
}

// ---------------------------------------------------------------------------

/// Starts driftd with `--port`; None if this arch cannot run here.
fn start_driftd(arch: Arch) -> Option<DriftdServer> {
    let port = free_port();
    let cmd = command(arch, "driftd", &["--port", &port.to_string(), "--workers", "1", "--quiet"])?;
    Some(DriftdServer::start(cmd, port))
}

// 1. Against driftd: the body to stdout and to -o FILE, exactly; check.
fn get_and_check_driftd(arch: Arch) {
    let Some(s) = start_driftd(arch) else { return };
    let want = body(arch).as_bytes();
    for url in [format!("http://127.0.0.1:{}/x?y=1", s.port), format!("http://[::1]:{}/", s.port)] {
        let Some(r) = driftd(arch, &["get", &url], &[]) else { return };
        expect(&r, 0, want, "");
    }
    let dir = TempDir::new("driftd");
    let out = dir.path("out.txt");
    let url = format!("http://127.0.0.1:{}/file", s.port);
    let r = driftd(arch, &["get", &url, "-o", out.to_str().unwrap()], &[]).unwrap();
    expect(&r, 0, b"", "");
    assert_eq!(std::fs::read(&out).unwrap(), want);
    assert_eq!(dir.names(), ["out.txt"], "no temporary file left behind");
    // An existing file is replaced whole; `-o -` is stdout.
    std::fs::write(&out, "old contents that are longer than the new ones\n").unwrap();
    let r = driftd(arch, &["get", "-o", out.to_str().unwrap(), &url], &[]).unwrap();
    expect(&r, 0, b"", "");
    assert_eq!(std::fs::read(&out).unwrap(), want);
    let r = driftd(arch, &["get", &url, "-o", "-"], &[]).unwrap();
    expect(&r, 0, want, "");
    // check: silent and 0; over IPv6 too.
    for url in [format!("http://127.0.0.1:{}/", s.port), format!("http://[::1]:{}/health", s.port)] {
        let r = driftd(arch, &["check", &url], &[]).unwrap();
        expect(&r, 0, b"", "");
    }
}

// 2. The request's exact bytes.
fn request_bytes(arch: Arch) {
    let c = framings();
    let url = c.url("/length?a=b&c=%20d#fragment");
    let Some(r) = driftd(arch, &["get", &url], &[]) else { return };
    expect(&r, 0, b"exactly these bytes\n", "");
    let reqs = c.requests.lock().unwrap().clone();
    let want = format!(
        "GET /length?a=b&c=%20d HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUser-Agent: driftd/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        c.port,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(reqs, [want.into_bytes()]);
}

// 3. Every framing, to stdout and to -o FILE, exactly.
fn framings_exact_bytes(arch: Arch) {
    let c = framings();
    let dir = TempDir::new("framings");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("/length", b"exactly these bytes\n".to_vec()),
        ("/binary", binary_body(100_000)),
        ("/chunked", binary_body(70_000)),
        ("/close", binary_body(300_000)),
        ("/http10", b"old style".to_vec()),
        ("/empty", Vec::new()),
        ("/nocontent", Vec::new()),
        ("/continue", b"after\n".to_vec()),
        ("/split-head", b"split".to_vec()),
    ];
    for (path, want) in &cases {
        let Some(r) = driftd(arch, &["get", &c.url(path)], &[]) else { return };
        assert_eq!(r.code, Some(0), "{path}: {r:?}");
        assert_eq!(r.stderr, "", "{path}");
        assert!(r.stdout == *want, "{path}: {} bytes, want {}", r.stdout.len(), want.len());
        let file = dir.path("f.bin");
        let r = driftd(arch, &["get", &c.url(path), "-o", file.to_str().unwrap()], &[]).unwrap();
        expect(&r, 0, b"", "");
        assert!(std::fs::read(&file).unwrap() == *want, "{path} -o");
        assert_eq!(dir.names(), ["f.bin"], "{path}");
        std::fs::remove_file(&file).unwrap();
    }
}

// 4. Cut-short and broken bodies: a clear line, non-zero, no -o file, and an
//    existing file left as it was.
fn truncated_and_broken_bodies(arch: Arch) {
    let c = framings();
    let dir = TempDir::new("truncated");
    let cases = [
        ("/truncated", "response truncated (412 of 1000 bytes)"),
        ("/truncated-chunked", "response truncated (5 bytes, before the last chunk)"),
        ("/bad-chunked", "bad chunked body"),
        ("/gzip", "unsupported Transfer-Encoding"),
        ("/no-response", "connection closed before a whole response head"),
        ("/not-http", "not an HTTP/1.x response"),
    ];
    for (path, what) in cases {
        let url = c.url(path);
        let line = format!("driftd: get {url}: {what}\n");
        let file = dir.path("new.bin");
        let Some(r) = driftd(arch, &["get", &url, "-o", file.to_str().unwrap()], &[]) else { return };
        expect(&r, 1, b"", &line);
        assert_eq!(dir.names(), Vec::<String>::new(), "{path}: nothing may be left behind");
        let old = dir.file("old.bin", b"the previous, complete download\n");
        let r = driftd(arch, &["get", &url, "-o", &old], &[]).unwrap();
        expect(&r, 1, b"", &line);
        assert_eq!(std::fs::read(&old).unwrap(), b"the previous, complete download\n", "{path}");
        assert_eq!(dir.names(), ["old.bin"], "{path}");
        std::fs::remove_file(&old).unwrap();
        // To stdout: what arrived may have been written, but the exit says it is not whole.
        let r = driftd(arch, &["get", &url], &[]).unwrap();
        assert_eq!((r.code, r.stderr.as_str()), (Some(1), line.as_str()), "{path}");
    }
    // A directory that does not exist.
    let url = c.url("/length");
    let missing = dir.path("no/such/dir/f");
    let r = driftd(arch, &["get", &url, "-o", missing.to_str().unwrap()], &[]).unwrap();
    expect(&r, 1, b"", &format!("driftd: open {}: No such file or directory (ENOENT)\n", missing.display()));
}

// 5. Error statuses: one line, exit 1, nothing on stdout or on disk.
fn error_statuses(arch: Arch) {
    let c = framings();
    let dir = TempDir::new("status");
    for (path, status) in
        [("/missing", "404 Not Found"), ("/post-only", "405 Method Not Allowed"), ("/broken", "500 Internal Server Error")]
    {
        let url = c.url(path);
        let file = dir.path("f");
        let Some(r) = driftd(arch, &["get", &url, "-o", file.to_str().unwrap()], &[]) else { return };
        expect(&r, 1, b"", &format!("driftd: get {url}: {status}\n"));
        assert_eq!(dir.names(), Vec::<String>::new());
        let r = driftd(arch, &["get", &url], &[]).unwrap();
        expect(&r, 1, b"", &format!("driftd: get {url}: {status}\n"));
        let r = driftd(arch, &["check", &url], &[]).unwrap();
        expect(&r, 1, b"", &format!("driftd: check {url}: {status}\n"));
    }
}

// 6. Redirects: followed (path-absolute and absolute), at most 5, http only.
fn redirects(arch: Arch) {
    let c = framings();
    let Some(r) = driftd(arch, &["get", &c.url("/r1")], &[]) else { return };
    expect(&r, 0, b"exactly these bytes\n", "");
    assert_eq!(c.paths(), ["/r1", "/r2", "/length"]);
    let url = c.url("/loop");
    let r = driftd(arch, &["get", &url], &[]).unwrap();
    expect(&r, 1, b"", &format!("driftd: get {url}: 301 Moved Permanently (after 5 redirects: no more)\n"));
    assert_eq!(c.paths().len(), 3 + 6);
    let url = c.url("/tls");
    let r = driftd(arch, &["get", &url], &[]).unwrap();
    expect(&r, 1, b"", &format!("driftd: get {url}: 308 Permanent Redirect (Location not followed: https://example.com/)\n"));
    // check takes a 3xx as healthy and does not follow it.
    let before = c.paths().len();
    for path in ["/r1", "/loop", "/not-modified"] {
        let r = driftd(arch, &["check", &c.url(path)], &[]).unwrap();
        expect(&r, 0, b"", "");
    }
    assert_eq!(c.paths().len(), before + 3);
}

// 7. Nothing listening: a clear line, non-zero.
fn connection_refused(arch: Arch) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let line = format!("driftd: connect 127.0.0.1:{port}: Connection refused (ECONNREFUSED)\n");
    let Some(r) = driftd(arch, &["get", &url], &[]) else { return };
    expect(&r, 1, b"", &line);
    let r = driftd(arch, &["check", &url], &[]).unwrap();
    expect(&r, 1, b"", &line);
    let r = driftd(arch, &["check", &format!("http://[::1]:{port}/")], &[]).unwrap();
    expect(&r, 1, b"", &format!("driftd: connect [::1]:{port}: Connection refused (ECONNREFUSED)\n"));
}

// 8. check is bounded: a server that never answers, or answers a byte at a
//    time, fails within the timeout (which covers the whole exchange).
fn check_is_bounded(arch: Arch) {
    let c = framings();
    let timed_out = format!("driftd: receive from 127.0.0.1:{}: Connection timed out (ETIMEDOUT)\n", c.port);
    for (path, args, min, max) in [
        ("/hang", &["--timeout", "1"][..], 900, 2_500),
        ("/trickle", &["--timeout", "1"][..], 900, 2_500),
        ("/hang", &[][..], 1_900, 3_500),
    ] {
        let url = c.url(path);
        let mut all = vec!["check", url.as_str()];
        all.extend_from_slice(args);
        let Some(r) = driftd(arch, &all, &[]) else { return };
        expect(&r, 1, b"", &timed_out);
        let ms = r.took.as_millis();
        assert!((min..=max).contains(&ms), "{path} {args:?}: took {ms} ms");
    }
    // get's timeout is per step: the same line after a second of silence.
    let r = driftd(arch, &["get", "--timeout", "1", &c.url("/hang")], &[]).unwrap();
    expect(&r, 1, b"", &timed_out);
    assert!(r.took < Duration::from_millis(2_500), "{r:?}");
}

// 9. Names: the hosts file first, then DNS (A, then AAAA), with clear lines
//    for names that do not resolve.
fn names_through_hosts_and_dns(arch: Arch) {
    let Some(s) = start_driftd(arch) else { return };
    let dns = Dns::start();
    let dir = TempDir::new("dns");
    let env = dns.env(&dir, "# test hosts\n127.0.0.1 localhost\n::1\tsix-hosted.drift.test\n127.0.0.1 hosted.drift.test other\n");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let want = body(arch).as_bytes();
    let p = s.port;

    // From the hosts file: DNS is never asked.
    for host in ["hosted.drift.test", "HOSTED.drift.test", "six-hosted.drift.test"] {
        let r = driftd(arch, &["get", &format!("http://{host}:{p}/")], &env).unwrap();
        expect(&r, 0, want, "");
    }
    assert_eq!(dns.queries(), []);
    // From DNS: an A record; an AAAA record after an empty A answer.
    let r = driftd(arch, &["get", &format!("http://web.drift.test:{p}/")], &env).unwrap();
    expect(&r, 0, want, "");
    let r = driftd(arch, &["check", &format!("http://six.drift.test:{p}/")], &env).unwrap();
    expect(&r, 0, b"", "");
    assert_eq!(
        dns.queries(),
        [("web.drift.test".into(), 1), ("six.drift.test".into(), 1), ("six.drift.test".into(), 28)]
    );
    // Names that do not resolve.
    let d = dns.port;
    for (host, args, what) in [
        ("nosuch.drift.test", &[][..], "no such host (NXDOMAIN)".to_string()),
        ("fail.drift.test", &[][..], "DNS server failure (SERVFAIL)".to_string()),
        ("silent.drift.test", &["--timeout", "1"][..], format!("DNS server 127.0.0.1:{d}: Connection timed out (ETIMEDOUT)")),
    ] {
        let before = dns.queries().len();
        let url = format!("http://{host}:{p}/");
        for cmd in ["get", "check"] {
            let mut all = vec![cmd, url.as_str()];
            all.extend_from_slice(args);
            let r = driftd(arch, &all, &env).unwrap();
            expect(&r, 1, b"", &format!("driftd: resolve {host}: {what}\n"));
            assert!(r.took < Duration::from_secs(4), "{r:?}");
        }
        let asked = dns.queries().len() - before;
        // The silent server is asked twice (a retry) per run.
        assert_eq!(asked, if host == "silent.drift.test" { 4 } else { 2 }, "{host}: {:?}", dns.queries());
    }
    // No DNS server listening there: ICMP says so at once.
    let closed = free_port().to_string();
    let mut env2 = env.clone();
    env2.retain(|(k, _)| *k != "DRIFTD_DNS_PORT");
    env2.push(("DRIFTD_DNS_PORT", closed.as_str()));
    let r = driftd(arch, &["check", &format!("http://web.drift.test:{p}/")], &env2).unwrap();
    expect(&r, 1, b"", &format!("driftd: resolve web.drift.test: DNS server 127.0.0.1:{closed}: Connection refused (ECONNREFUSED)\n"));
}

// 10. Usage: exit 2 for get (1 for check: Docker reserves 2), one line.
fn usage_errors(arch: Arch) {
    let rows: &[(&[&str], i32, &str)] = &[
        (&["get"], 2, "driftd: a URL is needed, e.g. http://127.0.0.1:8080/ (driftd --help lists the options)\n"),
        (&["check"], 1, "driftd: a URL is needed, e.g. http://127.0.0.1:8080/ (driftd --help lists the options)\n"),
        (&["get", "https://example.com/"], 2, "driftd: get https://example.com/: only http:// URLs are supported\n"),
        (&["check", "example.com"], 1, "driftd: check example.com: not an http:// URL\n"),
        (&["get", "http://x:0/"], 2, "driftd: get http://x:0/: bad port (1-65535)\n"),
        (&["get", "http://u@x/"], 2, "driftd: get http://u@x/: user@ in a URL is not supported\n"),
        (&["get", "http://1.2.3.256/"], 2, "driftd: get http://1.2.3.256/: bad host name or address\n"),
        (&["get", "http://x/", "--timeout", "0"], 2, "driftd: --timeout is whole seconds, 1-86400: 0 (driftd --help lists the options)\n"),
        (&["check", "http://x/", "-o", "f"], 1, "driftd: unknown argument: -o (driftd --help lists the options)\n"),
        (&["get", "http://x/", "http://y/"], 2, "driftd: one URL only: http://y/ (driftd --help lists the options)\n"),
    ];
    for (args, code, line) in rows {
        let Some(r) = driftd(arch, args, &[]) else { return };
        expect(&r, *code, b"", line);
    }
    for args in [&["--help"][..], &["get", "--help"], &["check", "-h"]] {
        let r = driftd(arch, args, &[]).unwrap();
        assert_eq!(r.code, Some(0), "{args:?}");
        let text = String::from_utf8_lossy(&r.stdout);
        assert!(text.contains("driftd get URL [-o FILE]") && text.contains("driftd check URL"), "{text}");
        assert!(text.contains("DRIFTD_RESOLV_CONF"), "{text}");
    }
}

// ---------------------------------------------------------------------------
// nginx as a real peer: static files, a 404, a redirect, a chunked body.

struct Nginx {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("nginx")).find(|f| f.is_file()));
    let found = on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()));
    if found.is_none() {
        let msg = "the nginx tests need nginx (Debian/Ubuntu: sudo apt-get install nginx-light)";
        if std::env::var("DRIFT_REQUIRE_NGINX").as_deref() == Ok("1") {
            panic!("SKIPPED: {msg}, and DRIFT_REQUIRE_NGINX=1 makes that a failure");
        }
        skipped(msg);
    }
    found
}

/// nginx on a free loopback port, as whatever user runs the tests: one
/// process (`master_process off`), every path in a temp dir, errors on stderr.
fn start_nginx() -> Option<Nginx> {
    let bin = nginx_binary()?;
    let dir = TempDir::new("nginx");
    let port = free_port();
    let d = dir.0.display().to_string();
    std::fs::create_dir_all(dir.path("www/sub")).unwrap();
    std::fs::write(dir.path("www/data.bin"), binary_body(200_000)).unwrap();
    std::fs::write(dir.path("www/index.html"), "<h1>nginx</h1>\n").unwrap();
    std::fs::write(dir.path("www/sub/page.txt"), "xx marks the spot, x times\n".repeat(2000)).unwrap();
    // Temp paths only for the modules this nginx has (nginx-light lacks some).
    let v = Command::new(&bin).arg("-V").output().unwrap();
    let build = String::from_utf8_lossy(&v.stderr).into_owned();
    let temps: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .iter()
        .filter(|m| **m == "client_body" || !build.contains(&format!("--without-http_{m}_module")))
        .map(|m| format!("    {m}_temp_path {d}/{m};\n"))
        .collect();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log stderr warn;\nevents {{ worker_connections 64; }}\n\
         http {{\n    access_log off;\n{temps}    default_type application/octet-stream;\n    server {{\n        \
         listen 127.0.0.1:{port};\n        root {d}/www;\n        location = /old {{ return 301 /data.bin; }}\n        \
         location /sub/ {{ sub_filter_types *; sub_filter 'x' 'y'; sub_filter_once off; }}\n    }}\n}}\n"
    );
    std::fs::write(dir.path("nginx.conf"), conf).unwrap();
    let mut child = Command::new(&bin)
        .args(["-p", &d, "-e", "stderr", "-c", &format!("{d}/nginx.conf")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(dir.path("stderr.log")).unwrap()))
        .spawn()
        .expect("spawn nginx");
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        let log = std::fs::read_to_string(dir.path("stderr.log")).unwrap_or_default();
        if child.try_wait().unwrap().is_some() || t.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("nginx did not start on port {port}: {log}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Nginx { child, port, dir })
}

fn get_and_check_nginx(arch: Arch) {
    if runner(arch).is_none() {
        return;
    }
    let Some(n) = start_nginx() else { return };
    let url = |p: &str| format!("http://127.0.0.1:{}{p}", n.port);
    let data = binary_body(200_000);
    let out = TempDir::new("nginx-out");
    let file = out.path("data.bin");
    let f = file.to_str().unwrap();

    let r = driftd(arch, &["get", &url("/data.bin")], &[]).unwrap();
    assert_eq!((r.code, r.stderr.as_str()), (Some(0), ""), "{r:?}");
    assert!(r.stdout == data, "{} bytes", r.stdout.len());
    let r = driftd(arch, &["get", &url("/data.bin"), "-o", f], &[]).unwrap();
    expect(&r, 0, b"", "");
    assert!(std::fs::read(&file).unwrap() == data);
    // A redirect nginx makes absolute.
    std::fs::remove_file(&file).unwrap();
    let r = driftd(arch, &["get", &url("/old"), "-o", f], &[]).unwrap();
    expect(&r, 0, b"", "");
    assert!(std::fs::read(&file).unwrap() == data);
    // A chunked body (sub_filter drops Content-Length); the raw response proves it.
    let raw = exchange(&format!("127.0.0.1:{}", n.port), b"GET /sub/page.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(String::from_utf8_lossy(&raw).contains("Transfer-Encoding: chunked\r\n"), "nginx did not chunk");
    let r = driftd(arch, &["get", &url("/sub/page.txt")], &[]).unwrap();
    expect(&r, 0, "yy marks the spot, y times\n".repeat(2000).as_bytes(), "");
    // 404.
    let r = driftd(arch, &["get", &url("/missing"), "-o", f], &[]).unwrap();
    expect(&r, 1, b"", &format!("driftd: get {}: 404 Not Found\n", url("/missing")));
    assert_eq!(out.names(), ["data.bin"]);
    // check.
    for (path, code, line) in [
        ("/", 0, String::new()),
        ("/old", 0, String::new()),
        ("/missing", 1, format!("driftd: check {}: 404 Not Found\n", url("/missing"))),
    ] {
        let r = driftd(arch, &["check", &url(path)], &[]).unwrap();
        expect(&r, code, b"", &line);
    }
    assert!(n.dir.path("nginx.pid").exists());
}

for_both_arches!(
    get_and_check_driftd,
    request_bytes,
    framings_exact_bytes,
    truncated_and_broken_bodies,
    error_statuses,
    redirects,
    connection_refused,
    check_is_bounded,
    names_through_hosts_and_dns,
    usage_errors,
    get_and_check_nginx,
);
