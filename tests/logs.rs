//! The access log as an operator keeps it: common, combined and JSON
//! lines, a file that logrotate moves away (SIGUSR1 reopens it), and a
//! full disk that costs log lines but never a request.
#[macro_use]
mod common;

use common::*;
use std::fs;
use std::time::{Duration, Instant};

fn site(tmp: &TempDir) -> String {
    fs::write(tmp.path().join("index.html"), "hello\n").unwrap();
    tmp.path().display().to_string()
}

fn get(addr: &str, path: &str, extra: &str) -> Resp {
    request(addr, format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n").as_bytes())
}

/// Lines of `path` once it has `n` of them (up to 5 s).
fn lines(path: &std::path::Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = fs::read_to_string(path).unwrap_or_default();
        let l: Vec<String> = text.lines().map(str::to_string).collect();
        if l.len() >= n || Instant::now() > deadline {
            return l;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Combined and JSON lines, exactly, with what a client can put in them.
fn formats(arch: Arch) {
    let tmp = TempDir::new("logfmt");
    let root = site(&tmp);
    let log = tmp.path().join("access.log");
    let Some(s) = start_driftd(arch, &["--root", &root, "--workers", "1", "--log-format", "combined", "--access-log", log.to_str().unwrap()], &[]) else { return };
    let addr = s.addr();
    assert_eq!(get(&addr, "/index.html", "User-Agent: curl/8 \"q\"\r\nReferer: https://r.example/?a=1\r\n").status(), 200);
    assert_eq!(get(&addr, "/missing", "").status(), 404);
    let l = lines(&log, 2);
    assert_eq!(l.len(), 2, "{l:?}");
    assert!(l[0].starts_with("127.0.0.1 - - ["), "{}", l[0]);
    assert!(l[0].ends_with("] \"GET /index.html HTTP/1.1\" 200 6 \"https://r.example/?a=1\" \"curl/8 \\\"q\\\"\""), "{}", l[0]);
    assert!(l[1].ends_with("] \"GET /missing HTTP/1.1\" 404 14 \"-\" \"-\""), "{}", l[1]);
    assert!(s.stdout.lock().unwrap().is_empty(), "nothing on stdout with access-log");
    drop(s);

    let log = tmp.path().join("json.log");
    let Some(s) = start_driftd(arch, &["--root", &root, "--workers", "1", "--log-format", "json", "--access-log", log.to_str().unwrap()], &[]) else { return };
    let addr = s.addr();
    let r = request(&addr, b"GET /index.html HTTP/1.1\r\nHost: x\r\nUser-Agent: bad\"\xff\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status(), 200);
    let l = lines(&log, 1);
    assert_eq!(l.len(), 1, "{l:?}");
    let j = &l[0];
    assert!(j.starts_with("{\"time\":\"20") && j.contains("Z\",\"client\":\"127.0.0.1\",\"user\":null,\"method\":\"GET\",\"path\":\"/index.html\",\"protocol\":\"HTTP/1.1\",\"status\":200,\"bytes\":6,\"duration_us\":"), "{j}");
    assert!(j.ends_with(",\"user_agent\":\"bad\\\"\\ufffd\",\"referer\":null,\"site\":null}"), "{j}");
    // RFC 3339 with milliseconds, near now
    let t = &j[9..33];
    assert!(t.len() == 24 && t.as_bytes()[19] == b'.' && t.ends_with('Z'), "{t}");
}

/// logrotate: the file is moved away, SIGUSR1 makes driftd write a new one
/// at the same path, and no request is refused meanwhile.
fn reopen_on_sigusr1(arch: Arch) {
    let tmp = TempDir::new("logrot");
    let root = site(&tmp);
    let log = tmp.path().join("access.log");
    let Some(s) = start_driftd(arch, &["--root", &root, "--workers", "2", "--access-log", log.to_str().unwrap()], &[]) else { return };
    let addr = s.addr();
    assert_eq!(get(&addr, "/index.html", "").status(), 200);
    assert_eq!(lines(&log, 1).len(), 1);
    let rotated = tmp.path().join("access.log.1");
    fs::rename(&log, &rotated).unwrap();
    s.signal("USR1");
    // the new workers open the new file; requests go on meanwhile
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log.exists() && Instant::now() < deadline {
        assert_eq!(get(&addr, "/index.html", "").status(), 200);
    }
    assert!(log.exists(), "a new file at the path");
    std::thread::sleep(Duration::from_millis(1500)); // the old workers drain
    assert_eq!(get(&addr, "/after", "").status(), 404);
    let l = lines(&log, 1);
    assert!(l.iter().any(|l| l.contains("\"GET /after HTTP/1.1\" 404")), "{l:?}");
    assert!(!fs::read_to_string(&rotated).unwrap().contains("/after"), "nothing new in the rotated file");
}

/// A log that cannot be written (a full disk: /dev/full) is said once, and
/// every request is still answered.
fn full_disk(arch: Arch) {
    let tmp = TempDir::new("logfull");
    let root = site(&tmp);
    let Some(s) = start_driftd(arch, &["--root", &root, "--workers", "1", "--access-log", "/dev/full"], &[]) else { return };
    let addr = s.addr();
    for _ in 0..20 {
        assert_eq!(get(&addr, "/index.html", "").status(), 200);
    }
    assert!(s.wait_stderr(Duration::from_secs(5), |l| l.iter().any(|l| l.starts_with("driftd: write access log (lines are dropped until it works again): No space left on device (ENOSPC)"))));
    std::thread::sleep(Duration::from_millis(200));
    let said = s.stderr.lock().unwrap().iter().filter(|l| l.contains("write access log")).count();
    assert_eq!(said, 1, "said once");
}

for_both_arches!(formats, reopen_on_sigusr1, full_disk);
