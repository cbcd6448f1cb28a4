//! End-to-end tests of `driftd`, the production server, on both arches
//! (aarch64 under qemu-aarch64 on other hosts): real clients (curl, Python's
//! http.client), raw sockets for exact bytes and error statuses, slow and
//! stuck clients, many connections, signals, dead workers, the access log,
//! and the ELF itself.
#[macro_use]
mod common;

use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::ffi::OsStr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The budget for the aarch64 binary without TLS. The aim is 96 KiB; the
/// config file, sites, rules, listings and bcrypt (issue 17) took it to 141
/// KiB, and reload, upgrade, socket activation, health, metrics, the log
/// formats, `user`, `listen` lists, the PROXY protocol and per-client
/// limits (issue 18) to 174 KiB (the issues' notes have the steps), so
/// this line holds today's size with a little room and shows
/// every further byte; the aim stays open. x86_64 code is about 9% larger
/// for the same source, so it gets its own, looser line.
const DRIFTD_AARCH64_BUDGET: u64 = 180_224;
const DRIFTD_X86_64_BUDGET: u64 = 200_704;
/// With TLS (the default build, and the image's): 512 KiB on aarch64, the
/// guide's line; x86_64's follows aarch64's growth.
const DRIFTD_TLS_AARCH64_BUDGET: u64 = 524_288;
const DRIFTD_TLS_X86_64_BUDGET: u64 = 688_128;
/// rustls's TLS 1.3 key-schedule label: in the binary exactly when TLS is.
const TLS_MARK: &[u8] = b"tls13 ";

fn body(arch: Arch) -> &'static str {
    match arch {
        Arch::Aarch64 => "Hello from Drift on ARM64!\n",
        Arch::X86_64 => "Hello from Drift on x86_64!\n",
    }
}

/// Starts driftd with `args` (plus `--port`); None if this arch cannot run here.
fn start(arch: Arch, args: &[&str]) -> Option<DriftdServer> {
    start_driftd(arch, args, &[])
}

fn get(host_port: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host_port}\r\n\r\n").into_bytes()
}


// 1. Keep-alive, HEAD, exact bytes.
fn keep_alive_head_and_exact_bytes(arch: Arch) {
    let Some(s) = start(arch, &["--workers", "2"]) else { return };
    let addr = s.addr();
    let want = body(arch);

    // Raw socket: the exact head and body, twice on one connection.
    let mut c = connect(&addr);
    let mut buf = Vec::new();
    for _ in 0..2 {
        c.write_all(&get(&addr, "/any/path?q=1")).unwrap();
        let r = read_response(&mut c, &mut buf, false);
        assert_eq!(r.status_line, "HTTP/1.1 200 OK");
        let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Server", "Date", "Content-Type", "Content-Length"], "{r:?}");
        assert_eq!(r.header("Server"), Some("driftd"));
        assert_eq!(r.header("Content-Type"), Some("text/plain"));
        assert_eq!(r.header("Content-Length"), Some(want.len().to_string().as_str()));
        let date = r.header("Date").unwrap();
        assert!(date.len() == 29 && date.ends_with(" GMT"), "Date: {date}");
        assert_eq!(r.body, want.as_bytes());
        assert!(buf.is_empty());
    }
    // HEAD on the same connection: headers, Content-Length, no body.
    c.write_all(format!("HEAD / HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).unwrap();
    let r = read_response(&mut c, &mut buf, true);
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("Content-Length"), Some(want.len().to_string().as_str()));
    // Nothing follows the HEAD response: the next GET's response comes next.
    c.write_all(&get(&addr, "/")).unwrap();
    let r = read_response(&mut c, &mut buf, false);
    assert_eq!(r.body, want.as_bytes());
    assert!(buf.is_empty());

    // Connection: close is honoured.
    c.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    let r = read_response(&mut c, &mut buf, false);
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(closed(&mut c), "server must close after Connection: close");

    // HTTP/1.0 closes by default, stays with Connection: keep-alive.
    let mut c = connect(&addr);
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let r = read_response(&mut c, &mut Vec::new(), false);
    assert_eq!(r.body, want.as_bytes());
    assert!(closed(&mut c), "HTTP/1.0 without keep-alive must close");
    let mut c = connect(&addr);
    let mut buf = Vec::new();
    for _ in 0..2 {
        c.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        let r = read_response(&mut c, &mut buf, false);
        assert_eq!(r.body, want.as_bytes());
        assert_eq!(r.header("Connection").map(str::to_ascii_lowercase).as_deref(), Some("keep-alive"));
    }

    // curl: several URLs on one command line reuse the connection.
    if skip_without("curl") {
        return;
    }
    let urls: Vec<String> = (1..=3).map(|i| format!("http://127.0.0.1:{}/u{i}", s.port)).collect();
    let out = std::process::Command::new("curl").args(["-sv", "--max-time", "20"]).args(&urls).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "curl: {err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), want.repeat(3));
    assert!(err.to_ascii_lowercase().contains("re-using existing"), "curl did not reuse the connection:\n{err}");
    // curl -I: HEAD.
    let out = std::process::Command::new("curl")
        .args(["-sSI", "--max-time", "20", &urls[0]])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains(&format!("Content-Length: {}\r\n", want.len())), "{text}");
    assert!(text.contains("Server: driftd\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "no body after HEAD: {text:?}");
}

// 2. POST with and without 100-continue.
fn post_gets_405_and_100_continue(arch: Arch) {
    let Some(s) = start(arch, &["--workers", "2"]) else { return };
    let addr = s.addr();

    // Raw: Expect: 100-continue → interim 100, then the body, then 405.
    let mut c = connect(&addr);
    let body = vec![b'x'; 2000];
    c.write_all(
        format!("POST /p HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n", body.len())
            .as_bytes(),
    )
    .unwrap();
    expect_100_continue(&mut c);
    c.write_all(&body).unwrap();
    let mut buf = Vec::new();
    let r = read_response(&mut c, &mut buf, false);
    assert_eq!(r.status(), 405, "{r:?}");
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    // A chunked body, then PUT/DELETE/OPTIONS, then GET still works on it.
    c.write_all(format!("POST / HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n").as_bytes())
        .unwrap();
    assert_eq!(read_response(&mut c, &mut buf, false).status(), 405);
    for m in ["PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"] {
        c.write_all(format!("{m} / HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 3\r\n\r\nabc").as_bytes()).unwrap();
        let r = read_response(&mut c, &mut buf, false);
        assert_eq!(r.status(), 405, "{m}");
        assert_eq!(r.header("Allow"), Some("GET, HEAD"), "{m}");
    }
    c.write_all(&get(&addr, "/")).unwrap();
    assert_eq!(read_response(&mut c, &mut buf, false).body, crate::body(arch).as_bytes());

    if skip_without("curl") {
        return;
    }
    let url = format!("http://127.0.0.1:{}/form", s.port);
    let big = "y".repeat(1500);
    for (extra, data) in [(None, "a=1"), (Some("Expect: 100-continue"), big.as_str())] {
        let mut cmd = std::process::Command::new("curl");
        cmd.args(["-sv", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}", "--data", data, &url]);
        if let Some(h) = extra {
            cmd.args(["-H", h]);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "curl {extra:?}: {err}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "405", "{err}");
        if extra.is_some() {
            assert!(err.contains("HTTP/1.1 100 Continue"), "curl saw no 100 Continue:\n{err}");
        }
    }
}

// 3. Python's http.client: several requests on one connection.
const PY_CLIENT: &str = r#"
import http.client, sys
port, want = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
socks = set()
for i in range(5):
    c.request("GET", "/py/%d" % i)
    r = c.getresponse()
    b = r.read().decode()
    assert r.status == 200, r.status
    assert b == want, repr(b)
    assert r.getheader("Server") == "driftd"
    socks.add(id(c.sock))
c.request("HEAD", "/")
r = c.getresponse()
assert r.status == 200 and r.read() == b"" and int(r.getheader("Content-Length")) == len(want)
c.request("POST", "/", body=b"k=v")
r = c.getresponse()
assert r.status == 405 and r.getheader("Allow") == "GET, HEAD", r.status
r.read()
socks.add(id(c.sock))
assert len(socks) == 1, "connection was not reused"
print("ok")
"#;

fn python_http_client(arch: Arch) {
    if skip_without("python3") {
        return;
    }
    let Some(s) = start(arch, &["--workers", "2"]) else { return };
    let out = std::process::Command::new("python3")
        .args(["-c", PY_CLIENT, &s.port.to_string(), body(arch)])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "python: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
}

// 4. Pipelining and a head in 1-byte writes.
fn pipelining_and_one_byte_writes(arch: Arch) {
    let Some(s) = start(arch, &["--workers", "2"]) else { return };
    let addr = s.addr();
    let mut c = connect(&addr);
    let mut all = Vec::new();
    for p in ["/a", "/b", "/c"] {
        all.extend(get(&addr, p));
    }
    c.write_all(&all).unwrap();
    let mut buf = Vec::new();
    for _ in 0..3 {
        let r = read_response(&mut c, &mut buf, false);
        assert_eq!(r.status(), 200);
        assert_eq!(r.body, body(arch).as_bytes());
    }
    assert!(s.wait_stdout(Duration::from_secs(5), |l| {
        let idx: Vec<_> = ["/a ", "/b ", "/c "].iter().map(|p| l.iter().position(|x| x.contains(p))).collect();
        matches!(idx[..], [Some(a), Some(b), Some(c)] if a < b && b < c)
    }), "log lines out of order: {:?}", s.stdout.lock().unwrap());

    let mut c = connect(&addr);
    for b in get(&addr, "/slow") {
        c.write_all(&[b]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut buf = Vec::new();
    let r = read_response(&mut c, &mut buf, false);
    assert_eq!(r.status(), 200);
    assert_eq!(r.body, body(arch).as_bytes());
    // Exactly one response.
    c.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut extra = [0u8; 64];
    assert!(matches!(c.read(&mut extra), Err(_)), "unexpected extra bytes");
}

// 5. Error statuses: exact code, then the connection closes.
fn error_statuses_close(arch: Arch) {
    let Some(s) = start(arch, &["--workers", "2", "--max-body", "100"]) else { return };
    let addr = s.addr();
    let h = format!("Host: {addr}\r\n");
    let cases: Vec<(&str, String, u16)> = vec![
        ("unknown method", format!("BREW / HTTP/1.1\r\n{h}\r\n"), 501),
        ("header without colon", format!("GET / HTTP/1.1\r\n{h}NoColonHere\r\n\r\n"), 400),
        ("HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n".into(), 400),
        ("HTTP/2.0", format!("GET / HTTP/2.0\r\n{h}\r\n"), 505),
        ("head over 8 KiB", format!("GET / HTTP/1.1\r\n{h}X-Big: {}\r\n\r\n", "a".repeat(9000)), 431),
        // (33 header lines are fine now: only the head's 8 KiB counts; see tests/hostile.rs)
        ("a bare LF in the head", format!("GET / HTTP/1.1\n{h}\r\n"), 400),
        ("body over --max-body", format!("POST / HTTP/1.1\r\n{h}Content-Length: 101\r\n\r\n"), 413),
        (
            "Content-Length and Transfer-Encoding",
            format!("POST / HTTP/1.1\r\n{h}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400,
        ),
        ("two Content-Lengths", format!("POST / HTTP/1.1\r\n{h}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"), 400),
        ("Transfer-Encoding: gzip", format!("POST / HTTP/1.1\r\n{h}Transfer-Encoding: gzip\r\n\r\n"), 501),
        (
            "chunked body over --max-body",
            format!("POST / HTTP/1.1\r\n{h}Transfer-Encoding: chunked\r\n\r\n80\r\n{}\r\n0\r\n\r\n", "z".repeat(128)),
            413,
        ),
    ];
    for (what, req, want) in &cases {
        let mut c = connect(&addr);
        c.write_all(req.as_bytes()).unwrap();
        let r = read_response(&mut c, &mut Vec::new(), false);
        assert_eq!(r.status(), *want, "{what}: {r:?}");
        assert_eq!(r.header("Connection"), Some("close"), "{what}");
        assert!(closed(&mut c), "{what}: connection not closed after {want}");
    }
    // An error on a connection that already served a request closes it too.
    let mut c = connect(&addr);
    let mut buf = Vec::new();
    c.write_all(&get(&addr, "/")).unwrap();
    assert_eq!(read_response(&mut c, &mut buf, false).status(), 200);
    c.write_all(format!("GET / HTTP/2.0\r\n{h}\r\n").as_bytes()).unwrap();
    assert_eq!(read_response(&mut c, &mut buf, false).status(), 505);
    assert!(closed(&mut c));
    // And the server still serves.
    let mut c = connect(&addr);
    c.write_all(&get(&addr, "/")).unwrap();
    assert_eq!(read_response(&mut c, &mut Vec::new(), false).status(), 200);
}

// 6. Slowloris: 408 after --head-timeout while others are served.
fn slowloris_gets_408(arch: Arch) {
    let Some(s) = start(arch, &["--workers", "1", "--head-timeout", "2"]) else { return };
    let addr = s.addr();
    let slow = connect(&addr);
    let mut reader = slow.try_clone().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let t0 = Instant::now();
    let writer = std::thread::spawn(move || {
        let mut w = slow;
        let trickle = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for &b in trickle.iter() {
            if d.load(Ordering::SeqCst) || w.write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    // Meanwhile another client is served at once, twice.
    std::thread::sleep(Duration::from_millis(600));
    for _ in 0..2 {
        let t = Instant::now();
        let mut c = connect(&addr);
        c.write_all(&get(&addr, "/fast")).unwrap();
        let r = read_response(&mut c, &mut Vec::new(), false);
        assert_eq!(r.status(), 200);
        assert!(t.elapsed() < Duration::from_secs(1), "normal client waited {:?}", t.elapsed());
    }
    reader.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let mut got = Vec::new();
    let res = reader.read_to_end(&mut got);
    let took = t0.elapsed();
    done.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    assert!(res.is_ok(), "slow client: {res:?} after {took:?}");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(text.contains("Connection: close\r\n"), "{text}");
    assert!(took >= Duration::from_millis(1800) && took <= Duration::from_millis(4500), "408 after {took:?}");
}

// 7. 500 concurrent connections.
fn five_hundred_connections(arch: Arch) {
    let Some(s) = start(arch, &["--quiet"]) else { return };
    let addr = s.addr();
    let req = get(&addr, "/c");
    let mut conns: Vec<TcpStream> = (0..500).map(|_| connect(&addr)).collect();
    for c in conns.iter_mut() {
        c.write_all(&req).unwrap();
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let r = read_response(c, &mut Vec::new(), false);
        assert_eq!(r.status(), 200, "connection {i}");
        assert_eq!(r.body, body(arch).as_bytes(), "connection {i}");
    }
    // All of them are still open (keep-alive): a second round.
    for c in conns.iter_mut() {
        c.write_all(&req).unwrap();
    }
    for (i, c) in conns.iter_mut().enumerate() {
        assert_eq!(read_response(c, &mut Vec::new(), false).status(), 200, "round 2, connection {i}");
    }
}

// 7b. A full connection table answers 503 and closes; a silent client is
// let in (TCP_DEFER_ACCEPT hands it over after about a second), may still
// send a late first request, and is closed after the idle timeout.
fn full_table_and_silent_clients(arch: Arch) {
    let Some(s) = start(arch, &["--workers", "1", "--max-conns", "2", "--idle-timeout", "2", "--quiet"]) else { return };
    let addr = s.addr();
    // Two clients each send half a head: both slots are taken.
    let mut held: Vec<TcpStream> = (0..2).map(|_| connect(&addr)).collect();
    for c in held.iter_mut() {
        c.write_all(b"GET /held HTTP/1.1\r\n").unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = connect(&addr);
    extra.write_all(&get(&addr, "/extra")).unwrap();
    let mut buf = Vec::new();
    let r = read_response(&mut extra, &mut buf, false);
    assert_eq!(r.status_line, "HTTP/1.1 503 Service Unavailable", "{r:?}");
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(buf.is_empty(), "nothing after the 503");
    // Closed with a FIN: the request was read, so no reset.
    let mut rest = Vec::new();
    assert_eq!(extra.read_to_end(&mut rest).map_err(|e| e.kind()), Ok(0), "the 503 connection ends cleanly");
    // The held clients finish their requests and are served.
    for c in held.iter_mut() {
        c.write_all(format!("Host: {addr}\r\n\r\n").as_bytes()).unwrap();
        let r = read_response(c, &mut Vec::new(), false);
        assert_eq!((r.status(), r.body.as_slice()), (200, body(arch).as_bytes()));
    }
    drop(held);
    std::thread::sleep(Duration::from_millis(300));

    // Silent for 1.5 s, then a request: served.
    let mut late = connect(&addr);
    std::thread::sleep(Duration::from_millis(1500));
    late.write_all(&get(&addr, "/late")).unwrap();
    assert_eq!(read_response(&mut late, &mut Vec::new(), false).status(), 200);
    drop(late);

    // Silent for good: closed once let in (after one SYN-ACK retransmit,
    // about 1 s; 3 s if that is lost too) plus the 2 s idle timeout. Without
    // the deferral it would be 2 s.
    let t0 = Instant::now();
    let mut silent = connect(&addr);
    silent.set_read_timeout(Some(Duration::from_secs(9))).unwrap();
    let mut b = [0u8; 64];
    let got = read_some(&mut silent, &mut b);
    let took = t0.elapsed();
    assert!(matches!(got, Ok(0)) || matches!(&got, Err(e) if e.kind() == ErrorKind::ConnectionReset), "silent client: {got:?} after {took:?}");
    assert!(took >= Duration::from_millis(2800) && took <= Duration::from_secs(8), "silent client closed after {took:?}");
}

// 8. A client that stops reading is cut off after --send-timeout.
fn client_that_stops_reading(arch: Arch) {
    let big = "B".repeat(2048);
    let Some(s) = start(arch, &["--workers", "1", "--send-timeout", "2", "--quiet", "--body", &big]) else { return };
    let addr = s.addr();
    // Pipeline requests, never reading, until the writes stall.
    let (mut stuck, sent, stalled_at) = stall_a_reader(&addr);
    // Other clients are served meanwhile.
    let mut c = connect(&addr);
    c.write_all(&get(&addr, "/other")).unwrap();
    let r = read_response(&mut c, &mut Vec::new(), false);
    assert_eq!(r.status(), 200);
    assert_eq!(r.body, big.as_bytes());
    // After the send timeout the stuck connection is closed: reading now
    // yields fewer responses than requests, then EOF or a reset.
    std::thread::sleep(Duration::from_secs(4).saturating_sub(stalled_at.elapsed()));
    let (got, end) = drain_until_closed(&mut stuck);
    let end = end.unwrap_or_else(|e| panic!("stuck connection still open after the send timeout ({e}); read {got} bytes"));
    let per = 2048 + 100;
    assert!(got / per < sent, "all {sent} responses arrived ({got} bytes, then {end}): not cut off");
    assert!(s.child.id() > 0);
}

// 9. SIGTERM: in-flight requests complete, idle connections do not hold the exit.
fn sigterm_finishes_in_flight(arch: Arch) {
    let Some(mut s) = start(arch, &["--workers", "2"]) else { return };
    let addr = s.addr();
    let mut c = connect(&addr);
    c.write_all(format!("GET /inflight HTTP/1.1\r\nHost: {addr}\r\n").as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s.signal("TERM");
    std::thread::sleep(Duration::from_millis(500));
    assert!(s.child.try_wait().unwrap().is_none(), "driftd exited with a request in flight");
    c.write_all(b"\r\n").unwrap();
    let r = read_response(&mut c, &mut Vec::new(), false);
    assert_eq!(r.status(), 200);
    assert_eq!(r.body, body(arch).as_bytes());
    assert_eq!(r.header("Connection"), Some("close"), "a stopping server closes");
    assert!(closed(&mut c));
    drop(c);
    let (code, took) = s.wait_exit(Duration::from_secs(8));
    assert_eq!(code, Some(0), "exit after in-flight request (waited {took:?}); stderr {:?}", s.stderr.lock().unwrap());

    // Idle keep-alive connection: exit within 2 s.
    let Some(mut s) = start(arch, &["--workers", "2"]) else { return };
    let addr = s.addr();
    let mut idle = connect(&addr);
    idle.write_all(&get(&addr, "/")).unwrap();
    assert_eq!(read_response(&mut idle, &mut Vec::new(), false).status(), 200);
    s.signal("TERM");
    let (code, took) = s.wait_exit(Duration::from_secs(5));
    assert_eq!(code, Some(0), "SIGTERM with an idle connection");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(closed(&mut idle));
}

// 10. A worker killed with SIGKILL is replaced.
fn killed_worker_is_replaced(arch: Arch) {
    let Some(s) = start(arch, &["--workers", "2"]) else { return };
    let addr = s.addr();
    let t = Instant::now();
    let before = loop {
        let w = s.workers();
        if w.len() == 2 || t.elapsed() > Duration::from_secs(5) {
            break w;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(before.len(), 2, "workers: {before:?}");
    let victim = before[0];
    assert!(std::process::Command::new("kill").args(["-KILL", &victim.to_string()]).status().unwrap().success());
    let t = Instant::now();
    let after = loop {
        let w = s.workers();
        if (w.len() == 2 && !w.contains(&victim)) || t.elapsed() > Duration::from_secs(5) {
            break w;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(after.len(), 2, "not replaced: {after:?}");
    assert!(!after.contains(&victim) && after.contains(&before[1]), "{before:?} -> {after:?}");
    let line = format!("driftd: worker {victim} was killed by signal 9; starting another");
    assert!(
        s.wait_stderr(Duration::from_secs(3), |l| l.iter().any(|x| *x == line)),
        "stderr: {:?}",
        s.stderr.lock().unwrap()
    );
    for i in 0..10 {
        let mut c = connect(&addr);
        c.write_all(&get(&addr, "/")).unwrap();
        assert_eq!(read_response(&mut c, &mut Vec::new(), false).status(), 200, "request {i}");
    }
}

// 11. Access log.
fn access_log_lines(arch: Arch) {
    let Some(s) = start(arch, &["--workers", "2"]) else { return };
    let addr = s.addr();
    let mut c = connect(&addr);
    let mut buf = Vec::new();
    for p in ["/x", "/y"] {
        c.write_all(&get(&addr, p)).unwrap();
        assert_eq!(read_response(&mut c, &mut buf, false).status(), 200);
    }
    c.write_all(format!("HEAD /h HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).unwrap();
    read_response(&mut c, &mut buf, true);
    let n = body(arch).len();
    assert!(s.wait_stdout(Duration::from_secs(5), |l| l.len() >= 3), "log: {:?}", s.stdout.lock().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    let lines = s.stdout.lock().unwrap().clone();
    assert_eq!(lines.len(), 3, "one line per request: {lines:?}");
    for (line, req, bytes) in [
        (&lines[0], "GET /x HTTP/1.1", n.to_string()),
        (&lines[1], "GET /y HTTP/1.1", n.to_string()),
        // CLF writes `-` for a response without body bytes.
        (&lines[2], "HEAD /h HTTP/1.1", "-".to_string()),
    ] {
        assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
        assert!(line.ends_with(&format!("] \"{req}\" 200 {bytes}")), "{line}");
        // [21/Nov/2026:22:09:41 +0000]
        let ts = &line[line.find('[').unwrap() + 1..line.find(']').unwrap()];
        assert_eq!(ts.len(), 26, "{ts}");
        assert!(ts.ends_with(" +0000"), "{ts}");
    }

    // --quiet: no access log.
    let Some(q) = start(arch, &["--workers", "2", "--quiet"]) else { return };
    let qaddr = q.addr();
    let mut c = connect(&qaddr);
    c.write_all(&get(&qaddr, "/q")).unwrap();
    assert_eq!(read_response(&mut c, &mut Vec::new(), false).status(), 200);
    std::thread::sleep(Duration::from_millis(500));
    assert!(q.stdout.lock().unwrap().is_empty(), "--quiet logged: {:?}", q.stdout.lock().unwrap());
}

// 12. Start-up failures.
fn port_taken_and_bad_port(arch: Arch) {
    let Some(s) = start(arch, &["--workers", "1"]) else { return };
    let out = command(arch, "driftd", &["--port", &s.port.to_string()]).unwrap().stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("driftd: bind [::]:{}: Address already in use (EADDRINUSE)\n", s.port)
    );
    assert!(out.stdout.is_empty());

    for args in [&["--port", "0"][..], &["--port", "65536"], &["--frobnicate"], &["--workers", "257"], &["--workers", "x"]] {
        let out = command(arch, "driftd", args).unwrap().stdin(Stdio::null()).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("driftd: "), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let mut cmd = command(arch, "driftd", &[]).unwrap();
    cmd.env("PORT", "0");
    assert_eq!(cmd.stdin(Stdio::null()).output().unwrap().status.code(), Some(2), "PORT=0");

    // PORT from the environment is honoured.
    let port = free_port();
    let mut cmd = command(arch, "driftd", &["--workers", "1"]).unwrap();
    cmd.env("PORT", port.to_string());
    let e = DriftdServer::start(cmd, port);
    // The capacity: the hard descriptor limit (driftd raises its soft limit
    // to it) less the 32 it keeps for itself, with thousands separators.
    let hard = hard_nofile();
    let cap = (hard - 32.min(hard / 2)).min(1 << 20) as usize;
    assert_eq!(e.banner, format!("driftd: listening on [::]:{port} with 1 worker, {} connections each", thousands(cap)));
    let mut c = connect(&e.addr());
    c.write_all(&get(&e.addr(), "/")).unwrap();
    assert_eq!(read_response(&mut c, &mut Vec::new(), false).status(), 200);
    // Over IPv6 as well.
    let mut c = connect(&format!("[::1]:{port}"));
    c.write_all(&get(&format!("[::1]:{port}"), "/")).unwrap();
    assert_eq!(read_response(&mut c, &mut Vec::new(), false).status(), 200);
    c.shutdown(Shutdown::Both).ok();

    // --help and --version exit 0 on stdout.
    for arg in ["--help", "--version"] {
        let out = command(arch, "driftd", &[arg]).unwrap().stdin(Stdio::null()).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{arg}");
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("driftd") || arg == "--help");
        assert!(String::from_utf8_lossy(&out.stdout).contains("driftd"), "{arg}");
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

// 13. The ELF: the default build (with TLS) within its budget.
fn elf_is_static_wx_and_in_budget(arch: Arch) {
    let budget = match arch {
        Arch::Aarch64 => DRIFTD_TLS_AARCH64_BUDGET,
        Arch::X86_64 => DRIFTD_TLS_X86_64_BUDGET,
    };
    if !target_ready(arch) {
        return;
    }
    let path = binary(arch, "driftd");
    assert_static_elf(&path, arch, budget);
    assert!(contains(&std::fs::read(&path).unwrap(), TLS_MARK), "the default build has TLS");
}

// 13b. The plain build (`--no-default-features`): the 96 KiB budget, no
// TLS code in it, serves plain HTTP, and says so when asked for HTTPS.
fn plain_build_has_no_tls_and_serves(arch: Arch) {
    let budget = match arch {
        Arch::Aarch64 => DRIFTD_AARCH64_BUDGET,
        Arch::X86_64 => DRIFTD_X86_64_BUDGET,
    };
    let Some(prefix) = runner(arch) else { return };
    let path = binary_plain(arch, "driftd");
    assert_static_elf(&path, arch, budget);
    assert!(!contains(&std::fs::read(&path).unwrap(), TLS_MARK), "no TLS code in the plain build");
    let run = |args: &[&str]| {
        let mut cmd = Command::new(prefix.first().map_or(path.as_os_str(), |q| OsStr::new(q)));
        if !prefix.is_empty() {
            cmd.arg(&path);
        }
        cmd.args(args).env("DRIFTD_NO_CGROUP", "1");
        allow_root(&mut cmd);
        cmd
    };
    let out = run(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "driftd: --tls-cert: this driftd was built without TLS (cargo feature `tls`)\n"
    );
    let port = free_port();
    let cmd = run(&["--port", &port.to_string(), "--workers", "1"]);
    let server = DriftdServer::start(cmd, port);
    let got = exchange(&server.addr(), b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"), "{}", String::from_utf8_lossy(&got));
    assert!(got.ends_with(body(arch).as_bytes()));
}

// 13c. Nothing that needs libc may come into the build: getrandom 0.2 (its
// `syscall` is libc's), libc itself, ring or aws-lc. The link would fail
// for some of them; this says which crate brought it in.
#[test]
fn no_libc_crate_in_the_dependency_tree() {
    for arch in [Arch::Aarch64, Arch::X86_64] {
        let out = Command::new(env!("CARGO"))
            .args(["tree", "--edges", "normal,build", "--prefix", "none", "--target", arch.triple()])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo tree");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let tree = String::from_utf8_lossy(&out.stdout);
        assert!(tree.contains("rustls v0.23"), "the tree is the TLS build's:\n{tree}");
        for bad in ["getrandom ", "ring ", "aws-lc"] {
            assert!(!tree.lines().any(|l| l.starts_with(bad)), "{bad}in the {} tree:\n{tree}", arch.triple());
        }
        // The libc crate only as cpufeatures' declaration of getauxval
        // (aarch64), which rt answers from the auxiliary vector: nothing
        // else may use it, or the link would need the C library.
        let out = Command::new(env!("CARGO"))
            .args(["tree", "--invert", "libc", "--edges", "normal,build", "--prefix", "none", "--depth", "1", "--target", arch.triple()])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo tree");
        let users = String::from_utf8_lossy(&out.stdout);
        for line in users.lines().filter(|l| !l.is_empty()) {
            assert!(line.starts_with("libc ") || line.starts_with("cpufeatures "), "libc used by {line}");
        }
    }
}

for_both_arches!(
    keep_alive_head_and_exact_bytes,
    workers_follow_the_cgroup_cpu_quota,
    post_gets_405_and_100_continue,
    python_http_client,
    pipelining_and_one_byte_writes,
    error_statuses_close,
    slowloris_gets_408,
    five_hundred_connections,
    full_table_and_silent_clients,
    client_that_stops_reading,
    sigterm_finishes_in_flight,
    killed_worker_is_replaced,
    access_log_lines,
    port_taken_and_bad_port,
    elf_is_static_wx_and_in_budget,
    plain_build_has_no_tls_and_serves,
);

// 14b. The default worker count follows the cgroup's CPU quota: one worker
// per CPU we may run on, capped by the quota rounded up, read from every
// level of the cgroup path (the limit sits on a parent here, as a pod's
// does). An explicit --workers wins. Needs root and a cpu controller.
fn workers_follow_the_cgroup_cpu_quota(arch: Arch) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        skipped("one CPU here, so a quota cannot lower the worker count");
        return;
    }
    let rows: [(u64, &[&str], usize); 3] = [
        (50_000, &[], 1),                 // half a CPU: one worker
        (150_000, &[], 2.min(cpus)),      // 1.5 CPUs: rounded up
        (50_000, &["--workers", "2"], 2), // asked for: as asked
    ];
    for (quota, args, want) in rows {
        let Some(cg) = Cgroup::new(Limit::CpuQuota(quota)) else { return };
        let port = free_port();
        let p = port.to_string();
        let mut all = vec!["--port", p.as_str()];
        all.extend_from_slice(args);
        let Some(cmd) = command(arch, "driftd", &all) else { return };
        let mut s = DriftdServer::start(cg.run_in_child(cmd), port);
        let words = if want == 1 { "1 worker, ".to_string() } else { format!("{want} workers, ") };
        assert!(s.banner.contains(&format!(" with {words}")), "quota {quota} µs per 100 ms, {args:?}: {}", s.banner);
        assert_eq!(s.wait_workers(want).len(), want, "worker processes under a quota of {quota} µs per 100 ms, {args:?}");
        let mut c = connect(&s.addr());
        c.write_all(&get(&s.addr(), "/")).unwrap();
        assert_eq!(read_response(&mut c, &mut Vec::new(), false).status_line, "HTTP/1.1 200 OK");
        drop(c);
        s.signal("TERM");
        assert_eq!(s.wait_exit(Duration::from_secs(10)).0, Some(0));
    }
}

// 15. The syscall cost, from strace on the x86_64 binary: a keep-alive
// request is one read and one write; a `Connection: close` request is
// accept4, read, write, close and never touches epoll (TCP_DEFER_ACCEPT hands
// the connection over with its request, and the first read is made at once).
#[test]
fn x86_64_syscalls_per_request() {
    if runner(Arch::X86_64).is_none_or(|r| !r.is_empty()) || skip_without("strace") {
        return;
    }
    let dir = TempDir::new("strace");
    let trace = dir.path().join("trace.txt");
    let port = free_port();
    let mut cmd = std::process::Command::new("strace");
    cmd.args(["-f", "-qq", "-e", "trace=accept4,read,write,close,epoll_ctl", "-o"]).arg(&trace);
    cmd.arg(binary(Arch::X86_64, "driftd")).args(["--port", &port.to_string(), "--workers", "1", "--quiet"]);
    cmd.env_remove("PORT");
    let mut s = DriftdServer::start(cmd, port);
    let addr = s.addr();
    const KEEP: usize = 100;
    const CLOSE: usize = 20;
    let mut c = connect(&addr);
    let mut buf = Vec::new();
    for i in 0..KEEP {
        c.write_all(&get(&addr, &format!("/k{i}"))).unwrap();
        assert_eq!(read_response(&mut c, &mut buf, false).status(), 200);
    }
    drop(c);
    for i in 0..CLOSE {
        let mut c = connect(&addr);
        c.write_all(format!("GET /c{i} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
        assert_eq!(read_response(&mut c, &mut Vec::new(), false).status(), 200);
        assert!(closed(&mut c));
    }
    let driftd = s.workers();
    assert_eq!(driftd.len(), 1, "strace's children: {driftd:?}");
    assert!(std::process::Command::new("kill").args(["-TERM", &driftd[0].to_string()]).status().unwrap().success());
    assert!(s.wait_exit(Duration::from_secs(10)).0.is_some(), "strace did not end");
    let text = std::fs::read_to_string(&trace).unwrap();

    // Each accepted connection's calls, in order, from accept4 to close.
    let mut conns: Vec<Vec<String>> = Vec::new();
    let mut open: Vec<(String, usize)> = Vec::new(); // (fd, index in conns)
    for line in text.lines() {
        let Some((_pid, call)) = line.trim_start().split_once(' ') else { continue };
        let call = call.trim_start();
        let Some((name, rest)) = call.split_once('(') else { continue };
        if name == "accept4" {
            if let Some(fd) = rest.rsplit("= ").next().filter(|r| r.chars().all(|ch| ch.is_ascii_digit())) {
                open.push((fd.to_string(), conns.len()));
                conns.push(Vec::new());
            }
            continue;
        }
        // epoll_ctl(ep, op, fd, ...): the connection is the third argument.
        let fd_arg = if name == "epoll_ctl" { rest.split(", ").nth(2) } else { rest.split([',', ')']).next() };
        let Some(fd) = fd_arg else { continue };
        if let Some(pos) = open.iter().position(|(f, _)| f == fd) {
            conns[open[pos].1].push(name.to_string());
            if name == "close" {
                open.remove(pos);
            }
        }
    }
    assert_eq!(conns.len(), 1 + CLOSE, "accepted connections in the trace:\n{text}");
    let count = |calls: &[String], n: &str| calls.iter().filter(|c| *c == n).count();
    let keep = &conns[0];
    // One read and one write a request, the EOF read, one epoll_ctl (ADD,
    // after the first request was answered) and the close.
    assert_eq!(count(keep, "read"), KEEP + 1, "{keep:?}");
    assert_eq!(count(keep, "write"), KEEP, "{keep:?}");
    assert_eq!(count(keep, "epoll_ctl"), 1, "{keep:?}");
    assert_eq!(keep.len(), 2 * KEEP + 3, "{keep:?}");
    for (i, calls) in conns[1..].iter().enumerate() {
        assert_eq!(calls, &["read", "write", "close"], "Connection: close request {i}");
    }
}
