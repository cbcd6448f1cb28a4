//! End-to-end tests of `driftd --kv DIR`, the durable key-value store, on
//! both arches (aarch64 under qemu-aarch64): the seed's curl session
//! verbatim, every method and status over raw sockets, key rules, value
//! limits, chunked and 100-continue bodies, the files on disk, restarts,
//! stale temporaries, a SIGKILL in the middle of many concurrent writes,
//! and the store beside static files.
#[macro_use]
mod common;

use common::*;
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ALLOW: &str = "GET, HEAD, POST, PUT, DELETE";
const MIB: usize = 1 << 20;

/// Starts driftd serving a store in `dir`, with `args` besides.
fn start(arch: Arch, dir: &Path, args: &[&str]) -> Option<DriftdServer> {
    let mut all = vec!["--kv", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    start_driftd(arch, &all, &[])
}

/// `METHOD target HTTP/1.1` with a Content-Length body (none for GET,
/// HEAD and DELETE without one).
fn raw(method: &str, target: &str, body: Option<&[u8]>) -> Vec<u8> {
    let mut r = format!("{method} {target} HTTP/1.1\r\nHost: x\r\n").into_bytes();
    if let Some(b) = body {
        r.extend_from_slice(format!("Content-Length: {}\r\n\r\n", b.len()).as_bytes());
        r.extend_from_slice(b);
    } else {
        r.extend_from_slice(b"\r\n");
    }
    r
}

fn send(addr: &str, method: &str, target: &str, body: Option<&[u8]>) -> Resp {
    request(addr, &raw(method, target, body))
}

/// A request body in chunks of the given sizes, filled from `value`.
fn chunked(method: &str, target: &str, value: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut r = format!("{method} {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
    let mut at = 0;
    for &n in sizes {
        r.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        r.extend_from_slice(&value[at..at + n]);
        r.extend_from_slice(b"\r\n");
        at += n;
    }
    assert_eq!(at, value.len(), "chunk sizes must add up to the value");
    r.extend_from_slice(b"0\r\n\r\n");
    r
}

/// Asserts the exact status line and (for 200/201 on a store) an empty body.
fn assert_line(r: &Resp, line: &str, what: &str) {
    assert_eq!(r.status_line, line, "{what}: {r:?} body {:?}", String::from_utf8_lossy(&r.body));
}

/// Asserts that `target` reads back as `value`, by GET and by HEAD.
fn assert_value(addr: &str, target: &str, value: &[u8]) {
    let r = send(addr, "GET", target, None);
    assert_line(&r, "HTTP/1.1 200 OK", &format!("GET {target}"));
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"), "GET {target}");
    assert_eq!(r.header("Content-Length"), Some(value.len().to_string().as_str()), "GET {target}");
    assert!(r.body == value, "GET {target}: {} bytes, want {}", r.body.len(), value.len());
    let h = send(addr, "HEAD", target, None);
    assert_line(&h, "HTTP/1.1 200 OK", &format!("HEAD {target}"));
    assert_eq!(h.header("Content-Length"), Some(value.len().to_string().as_str()), "HEAD {target}");
    assert_eq!(h.header("Content-Type"), Some("application/octet-stream"), "HEAD {target}");
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Runs `curl -sS -i --max-time 20 ARGS`: (status line, body).
fn curl(args: &[&str]) -> (String, Vec<u8>) {
    let out = Command::new("curl").args(["-sS", "-i", "--max-time", "20"]).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let text = out.stdout;
    // With Expect: 100-continue curl -i prints the interim response first.
    let mut rest = &text[..];
    loop {
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head from curl") + 4;
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end..];
        if !head.starts_with("HTTP/1.1 100") {
            return (head.lines().next().unwrap().to_string(), rest.to_vec());
        }
    }
}

// 1. The seed's curl session, verbatim.
fn seed_curl_session(arch: Arch) {
    if skip_without("curl") {
        return;
    }
    let dir = TempDir::new("kv");
    let Some(s) = start(arch, dir.path(), &["--workers", "2"]) else { return };
    let base = format!("http://127.0.0.1:{}", s.port);
    let url = |k: &str| format!("{base}/{k}");
    let steps: &[(&[&str], &str, Option<&[u8]>)] = &[
        (&[&url("key_abc"), "--data", "value_abc"], "HTTP/1.1 200 OK", Some(b"")),
        (&[&url("12345")], "HTTP/1.1 404 Not Found", None),
        (&[&url("12345"), "--data", "abcdef"], "HTTP/1.1 200 OK", Some(b"")),
        (&[&url("12345")], "HTTP/1.1 200 OK", Some(b"abcdef")),
        (&[&url("12345"), "--data", "new_value"], "HTTP/1.1 200 OK", Some(b"")),
        (&[&url("12345")], "HTTP/1.1 200 OK", Some(b"new_value")),
        (&[&url("key_abc")], "HTTP/1.1 200 OK", Some(b"value_abc")),
    ];
    for (args, line, body) in steps {
        let (got_line, got_body) = curl(args);
        assert_eq!(got_line, *line, "curl -i {args:?}");
        if let Some(b) = body {
            assert_eq!(got_body, *b, "curl -i {args:?}: {:?}", String::from_utf8_lossy(&got_body));
        }
    }
    assert_eq!(fs::read(dir.path().join("12345")).unwrap(), b"new_value");
    assert_eq!(fs::read(dir.path().join("key_abc")).unwrap(), b"value_abc");
    assert_eq!(listing(dir.path()), ["12345", "key_abc"]);
}

// 2. Every method: statuses, headers, bodies, and the files on disk.
fn methods_and_statuses(arch: Arch) {
    let dir = TempDir::new("kv");
    let Some(s) = start(arch, dir.path(), &["--workers", "2"]) else { return };
    let addr = s.addr();
    let on_disk = |k: &str| fs::read(dir.path().join(k)).ok();

    let r = send(&addr, "POST", "/k1", Some(b"one"));
    assert_line(&r, "HTTP/1.1 200 OK", "POST new");
    assert_eq!((r.header("Content-Length"), r.body.as_slice()), (Some("0"), &b""[..]), "POST answers with no body");
    assert_value(&addr, "/k1", b"one");
    assert_eq!(on_disk("k1").as_deref(), Some(&b"one"[..]));

    let r = send(&addr, "PUT", "/k2", Some(b"two"));
    assert_line(&r, "HTTP/1.1 201 Created", "PUT new");
    assert!(r.body.is_empty(), "PUT 201 body {:?}", r.body);
    let r = send(&addr, "PUT", "/k2", Some(b"TWO!"));
    assert_line(&r, "HTTP/1.1 200 OK", "PUT replacing");
    assert!(r.body.is_empty());
    assert_value(&addr, "/k2", b"TWO!");
    // PUT over a key POST made: it exists, so 200.
    assert_line(&send(&addr, "PUT", "/k1", Some(b"uno")), "HTTP/1.1 200 OK", "PUT over POST");
    assert_value(&addr, "/k1", b"uno");

    // An empty value is a value.
    assert_line(&send(&addr, "POST", "/empty", Some(b"")), "HTTP/1.1 200 OK", "POST empty");
    assert_value(&addr, "/empty", b"");
    assert_eq!(on_disk("empty").as_deref(), Some(&b""[..]));

    let r = send(&addr, "DELETE", "/k1", None);
    assert_line(&r, "HTTP/1.1 204 No Content", "DELETE");
    assert!(on_disk("k1").is_none(), "k1 still on disk after DELETE");
    assert_line(&send(&addr, "DELETE", "/k1", None), "HTTP/1.1 404 Not Found", "DELETE again");
    assert_line(&send(&addr, "GET", "/k1", None), "HTTP/1.1 404 Not Found", "GET deleted");
    assert_line(&send(&addr, "HEAD", "/k1", None), "HTTP/1.1 404 Not Found", "HEAD deleted");
    assert_line(&send(&addr, "GET", "/never", None), "HTTP/1.1 404 Not Found", "GET missing");
    // A deleted key can be created again: PUT says so.
    assert_line(&send(&addr, "PUT", "/k1", Some(b"back")), "HTTP/1.1 201 Created", "PUT after DELETE");
    assert_value(&addr, "/k1", b"back");

    let r = send(&addr, "OPTIONS", "/k2", Some(b"x"));
    assert_line(&r, "HTTP/1.1 405 Method Not Allowed", "OPTIONS");
    assert_eq!(r.header("Allow"), Some(ALLOW), "OPTIONS");
    // PATCH is a standard method the store does not allow: 405 too. A
    // method driftd does not know at all is 501, as everywhere else.
    let r = send(&addr, "PATCH", "/k2", Some(b"x"));
    assert_line(&r, "HTTP/1.1 405 Method Not Allowed", "PATCH");
    assert_eq!(r.header("Allow"), Some(ALLOW), "PATCH");
    assert_line(&send(&addr, "BREW", "/k2", Some(b"x")), "HTTP/1.1 501 Not Implemented", "BREW");
    assert_value(&addr, "/k2", b"TWO!");
    assert_eq!(listing(dir.path()), ["empty", "k1", "k2"]);
}

// 3. Keys: 1-200 of [A-Za-z0-9._-], not starting with `.`; else 400.
fn key_rules(arch: Arch) {
    let dir = TempDir::new("kv");
    let Some(s) = start(arch, dir.path(), &["--workers", "2"]) else { return };
    let addr = s.addr();
    let k200 = "k".repeat(200);
    let k201 = "k".repeat(201);
    let good = ["a", "A-Z.a_z-0.9", "a..b", "a.", "-", "_", "0", k200.as_str()];
    for k in good {
        let target = format!("/{k}");
        assert_line(&send(&addr, "POST", &target, Some(k.as_bytes())), "HTTP/1.1 200 OK", &target);
        assert_value(&addr, &target, k.as_bytes());
    }
    let bad = [
        "/", "/.hidden", "/.", "/..", "/.tmp-1f-a", "/a/b", "/a%2fb", "/%61", "/a%2Eb", "/%2e%2e", "/a%20b",
        "/caf%C3%A9", "/a:b", "/a~b", "/a+b", "/a@b", "/a,b", "/a;b", "/a=b", "/a!b", "/a*b", "/a'b", "/a$b",
        "/../etc/passwd", "/a/../b", "/a\\b", "/caf\u{e9}", &format!("/{k201}"), "//a",
    ];
    for target in bad {
        for (m, body) in [("POST", Some(&b"v"[..])), ("PUT", Some(&b"v"[..])), ("GET", None), ("HEAD", None), ("DELETE", None)] {
            let r = send(&addr, m, target, body);
            assert_line(&r, "HTTP/1.1 400 Bad Request", &format!("{m} {target}"));
        }
    }
    let mut want: Vec<String> = good.iter().map(|k| k.to_string()).collect();
    want.sort();
    assert_eq!(listing(dir.path()), want, "only the good keys are on disk");
}

// 4. Value limits: 1 MiB by default, --kv-max-value, Content-Length or chunked.
fn value_limits(arch: Arch) {
    let dir = TempDir::new("kv");
    let Some(s) = start(arch, dir.path(), &["--workers", "2"]) else { return };
    let addr = s.addr();
    let mib: Vec<u8> = (0..MIB).map(|i| (i * 31 % 251) as u8).collect();
    assert_line(&send(&addr, "POST", "/big", Some(&mib)), "HTTP/1.1 200 OK", "exactly 1 MiB");
    assert_value(&addr, "/big", &mib);
    assert!(fs::read(dir.path().join("big")).unwrap() == mib, "1 MiB on disk");
    // One byte more, announced up front: 413 without sending the body.
    let r = request(&addr, format!("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", MIB + 1).as_bytes());
    assert_line(&r, "HTTP/1.1 413 Content Too Large", "Content-Length 1 MiB + 1");
    let r = request(&addr, b"PUT /new HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n");
    assert_line(&r, "HTTP/1.1 413 Content Too Large", "Content-Length 99999999");
    // Chunked, growing past 1 MiB: 64 KiB chunks then one byte.
    let over: Vec<u8> = vec![b'o'; MIB + 1];
    let mut sizes = vec![64 * 1024; 16];
    sizes.push(1);
    let r = request(&addr, &chunked("POST", "/big", &over, &sizes));
    assert_line(&r, "HTTP/1.1 413 Content Too Large", "chunked 1 MiB + 1");
    // Chunked, exactly 1 MiB: stored.
    let r = request(&addr, &chunked("PUT", "/big2", &mib, &[1, MIB - 2, 1]));
    assert_line(&r, "HTTP/1.1 201 Created", "chunked exactly 1 MiB");
    assert_value(&addr, "/big2", &mib);
    // The refused values changed nothing and left nothing behind.
    assert_value(&addr, "/big", &mib);
    assert_line(&send(&addr, "GET", "/new", None), "HTTP/1.1 404 Not Found", "413 created nothing");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(listing(dir.path()), ["big", "big2"], "no temporaries after a 413");
    drop(s);

    // --kv-max-value 100.
    let Some(s) = start(arch, dir.path(), &["--workers", "1", "--kv-max-value", "100"]) else { return };
    let addr = s.addr();
    let v100 = vec![b'h'; 100];
    assert_line(&send(&addr, "POST", "/small", Some(&v100)), "HTTP/1.1 200 OK", "100 of 100");
    assert_line(&send(&addr, "POST", "/small", Some(&[b'x'; 101])), "HTTP/1.1 413 Content Too Large", "101 of 100");
    let r = request(&addr, &chunked("POST", "/small", &[b'y'; 101], &[50, 50, 1]));
    assert_line(&r, "HTTP/1.1 413 Content Too Large", "chunked 101 of 100");
    assert_line(&request(&addr, &chunked("POST", "/c100", &v100, &[30, 70])), "HTTP/1.1 200 OK", "chunked 100");
    assert_value(&addr, "/small", &v100);
    assert_value(&addr, "/c100", &v100);
    // A 1 MiB value stored under the default limit is still served.
    assert_value(&addr, "/big", &mib);
}

// 5. Chunked bodies, Expect: 100-continue, binary values, curl uploads.
fn bodies_chunked_continue_binary(arch: Arch) {
    let dir = TempDir::new("kv");
    let Some(s) = start(arch, dir.path(), &["--workers", "2"]) else { return };
    let addr = s.addr();

    // Every byte value, several times, in uneven chunks.
    let all: Vec<u8> = (0..4096).map(|i| (i % 256) as u8).collect();
    let r = request(&addr, &chunked("POST", "/bin", &all, &[1, 255, 256, 1000, 2584]));
    assert_line(&r, "HTTP/1.1 200 OK", "chunked binary");
    assert_value(&addr, "/bin", &all);
    assert!(fs::read(dir.path().join("bin")).unwrap() == all, "binary value on disk");
    // By Content-Length as well; chunk extensions and trailers are allowed.
    let rev: Vec<u8> = all.iter().rev().copied().collect();
    assert_line(&send(&addr, "PUT", "/bin", Some(&rev)), "HTTP/1.1 200 OK", "PUT binary");
    assert_value(&addr, "/bin", &rev);
    let r = request(
        &addr,
        b"POST /ext HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;name=v\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n",
    );
    assert_line(&r, "HTTP/1.1 200 OK", "chunk extension and trailer");
    assert_value(&addr, "/ext", b"abcde");

    // Expect: 100-continue: the interim response, then the body, then 200.
    let mut c = connect(&addr);
    let value = vec![b'c'; 5000];
    c.write_all(
        format!("POST /cont HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n", value.len())
            .as_bytes(),
    )
    .unwrap();
    expect_100_continue(&mut c);
    c.write_all(&value).unwrap();
    let mut buf = Vec::new();
    assert_line(&read_response(&mut c, &mut buf, false), "HTTP/1.1 200 OK", "after 100 Continue");
    // Same connection, chunked with 100-continue.
    c.write_all(b"PUT /cont2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n").unwrap();
    expect_100_continue(&mut c);
    c.write_all(b"4\r\nwxyz\r\n0\r\n\r\n").unwrap();
    assert_line(&read_response(&mut c, &mut buf, false), "HTTP/1.1 201 Created", "chunked after 100 Continue");
    assert_value(&addr, "/cont", &value);
    assert_value(&addr, "/cont2", b"wxyz");
    // Too large with Expect: 413 at once, no 100.
    let r = request(&addr, format!("POST /cont HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n", MIB + 1).as_bytes());
    assert_line(&r, "HTTP/1.1 413 Content Too Large", "Expect with an oversized Content-Length");

    // Pipelined on one connection: each request sees the one before.
    let mut c = connect(&addr);
    let mut batch = raw("POST", "/pipe", Some(b"first"));
    batch.extend(raw("GET", "/pipe", None));
    batch.extend(raw("PUT", "/pipe", Some(b"second")));
    batch.extend(raw("GET", "/pipe", None));
    batch.extend(raw("DELETE", "/pipe", None));
    batch.extend(raw("GET", "/pipe", None));
    c.write_all(&batch).unwrap();
    let mut buf = Vec::new();
    let want: [(&str, &[u8]); 6] = [
        ("HTTP/1.1 200 OK", b""),
        ("HTTP/1.1 200 OK", b"first"),
        ("HTTP/1.1 200 OK", b""),
        ("HTTP/1.1 200 OK", b"second"),
        ("HTTP/1.1 204 No Content", b""),
        ("HTTP/1.1 404 Not Found", b""),
    ];
    for (i, (line, body)) in want.iter().enumerate() {
        let r = read_response(&mut c, &mut buf, false);
        assert_line(&r, line, &format!("pipelined #{i}"));
        if !body.is_empty() {
            assert_eq!(r.body, *body, "pipelined #{i}");
        }
    }

    if skip_without("curl") {
        return;
    }
    let file = dir.path().join("..").join(format!("{}-upload.bin", dir.path().file_name().unwrap().to_string_lossy()));
    let upload: Vec<u8> = (0..300_000).map(|i| (i * 7 % 256) as u8).collect();
    fs::write(&file, &upload).unwrap();
    let f = file.to_str().unwrap();
    let url = format!("http://127.0.0.1:{}/curl_up", s.port);
    let (line, _) = curl(&["-T", f, &url]);
    assert_eq!(line, "HTTP/1.1 201 Created", "curl -T (PUT, Expect: 100-continue)");
    let (line, _) = curl(&["--data-binary", &format!("@{f}"), "-H", "Expect: 100-continue", &url]);
    assert_eq!(line, "HTTP/1.1 200 OK", "curl --data-binary @file");
    let (line, _) = curl(&["-H", "Transfer-Encoding: chunked", "--data-binary", &format!("@{f}"), &url]);
    assert_eq!(line, "HTTP/1.1 200 OK", "curl chunked upload");
    let (line, body) = curl(&[&url]);
    assert_eq!(line, "HTTP/1.1 200 OK");
    assert!(body == upload, "curl download: {} bytes", body.len());
    fs::remove_file(&file).unwrap();
}

// 6. A shorter value replaces a longer one exactly; values survive restarts.
fn shorter_values_and_restart(arch: Arch) {
    let dir = TempDir::new("kv");
    let keys: Vec<(String, Vec<u8>)> = (0..20).map(|i| (format!("key-{i}"), format!("value {i} ").repeat(i + 1).into_bytes())).collect();
    {
        let Some(s) = start(arch, dir.path(), &["--workers", "2"]) else { return };
        let addr = s.addr();
        assert_line(&send(&addr, "POST", "/12345", Some(b"abcdef")), "HTTP/1.1 200 OK", "abcdef");
        assert_line(&send(&addr, "POST", "/12345", Some(b"xyz")), "HTTP/1.1 200 OK", "xyz");
        assert_value(&addr, "/12345", b"xyz");
        assert_eq!(fs::read(dir.path().join("12345")).unwrap(), b"xyz", "the file holds exactly the new value");
        for (k, v) in &keys {
            assert_line(&send(&addr, "PUT", &format!("/{k}"), Some(v)), "HTTP/1.1 201 Created", k);
        }
        assert_line(&send(&addr, "DELETE", "/key-0", None), "HTTP/1.1 204 No Content", "DELETE key-0");
    } // SIGKILL
    for round in 0..2 {
        let Some(mut s) = start(arch, dir.path(), &["--workers", "1"]) else { return };
        let addr = s.addr();
        assert_value(&addr, "/12345", b"xyz");
        assert_line(&send(&addr, "GET", "/key-0", None), "HTTP/1.1 404 Not Found", "deleted stays deleted");
        for (k, v) in &keys[1..] {
            assert_value(&addr, &format!("/{k}"), v);
        }
        if round == 0 {
            // A clean stop this time.
            s.signal("TERM");
            assert_eq!(s.wait_exit(Duration::from_secs(10)).0, Some(0), "SIGTERM");
        }
    }
    assert_eq!(listing(dir.path()).len(), 20, "{:?}", listing(dir.path()));
}

// 7. Stale temporaries are removed at start-up, and never served.
fn stale_temporaries_removed(arch: Arch) {
    let dir = TempDir::new("kv");
    let d = dir.path();
    fs::write(d.join("keep"), b"kept value").unwrap();
    let stale = [".tmp-1f-keep", ".tmp-deadbeef-12345", ".tmp-0-", ".tmp-ffffffffffffffff-x"];
    for t in stale {
        fs::write(d.join(t), b"half a val").unwrap();
    }
    // Not temporaries by the naming rule: left alone.
    let others = [".tmp-FF-x", ".tmpx", "notes.txt"];
    for o in others {
        fs::write(d.join(o), b"other").unwrap();
    }
    let Some(s) = start(arch, d, &["--workers", "2"]) else { return };
    let addr = s.addr();
    let mut want = vec!["keep".to_string()];
    want.extend(others.iter().map(|s| s.to_string()));
    want.sort();
    assert_eq!(listing(d), want, "after the banner");
    for t in stale {
        assert_line(&send(&addr, "GET", &format!("/{t}"), None), "HTTP/1.1 400 Bad Request", t);
    }
    assert_value(&addr, "/keep", b"kept value");
    assert_value(&addr, "/notes.txt", b"other");
}

/// A value a crash-test client sends: self-describing, so a torn or mixed
/// file shows. `client{c}-seq{n}-len{len}-` then one filler byte to `len`
/// (up to 8 KiB: many writes, not many bytes, are the point).
fn crash_value(client: usize, seq: usize) -> Vec<u8> {
    let len = 1 + (client * 7919 + seq * 104_729) % (8 * 1024);
    let mut v = format!("client{client:02}-seq{seq:05}-len{len:05}-").into_bytes();
    let fill = b'a' + ((client + seq) % 26) as u8;
    v.resize(len.max(v.len()), fill);
    v
}

/// (client, seq) of a well-formed crash-test value, or None.
fn parse_crash_value(v: &[u8]) -> Option<(usize, usize)> {
    // client12-seq00020-len26921-
    let text = std::str::from_utf8(v.get(..27)?).ok()?;
    let mut fields = text.split('-');
    let client = fields.next()?.strip_prefix("client")?.parse().ok()?;
    let seq = fields.next()?.strip_prefix("seq")?.parse().ok()?;
    (crash_value(client, seq) == v).then_some((client, seq))
}

/// Sends `req` on `c` and reads the response: its status and body, or None
/// if the connection fails or ends first (as every one does at the kill).
fn exchange_status(c: &mut std::net::TcpStream, req: &[u8]) -> Option<(u16, Vec<u8>)> {
    c.write_all(req).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match read_some(c, &mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let len: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().to_string()))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match read_some(c, &mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some((status, buf[head_end..head_end + len].to_vec()))
}

/// One write of the crash test: where it went, when it was sent, and when
/// (if ever) it was acknowledged.
struct Sent {
    key: usize,
    sent: Instant,
    acked: Option<Instant>,
}

// 8. SIGKILL of the whole process group (supervisor and workers at once)
// in the middle of 10,000 writes over 32 connections to 64 keys, with
// readers alongside: every file holds exactly one whole value sent to that
// key; every acknowledged key holds that value or one not finished before
// it was sent; no reader ever sees a part of a value; a restart removes
// the temporaries.
fn crash_mid_write(arch: Arch) {
    const CLIENTS: usize = 32;
    const READERS: usize = 4;
    const KEYS: usize = 64;
    const TARGET: usize = 10_000; // acknowledged writes before the kill
    const LIMIT: Duration = Duration::from_secs(14); // ...or this long
    let dir = TempDir::new("kvcrash");
    let port = free_port();
    let p = port.to_string();
    let args = ["--port", &p, "--kv", dir.path().to_str().unwrap(), "--workers", "4", "--quiet"];
    let Some(mut cmd) = command(arch, "driftd", &args) else { return };
    cmd.process_group(0); // one kill reaches the supervisor and its workers
    let s = DriftdServer::start(cmd, port);
    let addr = s.addr();
    let acks = Arc::new(AtomicUsize::new(0));
    let sends = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let connect_to = |addr: &str| {
        let c = std::net::TcpStream::connect(addr).ok()?;
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        Some(c)
    };
    let writers: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (addr, acks, sends, stop) = (addr.clone(), acks.clone(), sends.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut log = Vec::new();
                let mut conn = None;
                let mut errors = 0;
                for seq in 0..100_000 {
                    if stop.load(Ordering::SeqCst) || errors > 3 {
                        break;
                    }
                    let key = (client * 31 + seq * 17) % KEYS;
                    let method = if seq % 2 == 0 { "POST" } else { "PUT" };
                    let req = raw(method, &format!("/crash-{key}"), Some(&crash_value(client, seq)));
                    if conn.is_none() {
                        conn = connect_to(&addr);
                    }
                    let Some(c) = conn.as_mut() else {
                        errors += 1;
                        continue;
                    };
                    let sent = Instant::now();
                    sends.fetch_add(1, Ordering::SeqCst);
                    let status = exchange_status(c, &req).map(|r| r.0);
                    let acked = matches!(status, Some(200 | 201)).then(Instant::now);
                    log.push((seq, Sent { key, sent, acked }));
                    match status {
                        Some(200 | 201) => {
                            acks.fetch_add(1, Ordering::SeqCst);
                        }
                        Some(other) => panic!("client {client}: {method} /crash-{key} got {other}"),
                        // After the kill, reads fail or hit EOF: drop the connection.
                        None => {
                            conn = None;
                            errors += 1;
                        }
                    }
                }
                log
            })
        })
        .collect();
    // Readers: a GET sees a whole value or a 404, never a part of one.
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let (addr, stop) = (addr.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seen = 0;
                let mut conn = None;
                for i in 0..1_000_000usize {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if conn.is_none() {
                        conn = connect_to(&addr);
                    }
                    let Some(c) = conn.as_mut() else { break };
                    let key = (r * 13 + i * 7) % KEYS;
                    match exchange_status(c, &raw("GET", &format!("/crash-{key}"), None)) {
                        Some((200, v)) => {
                            assert!(parse_crash_value(&v).is_some(), "GET /crash-{key}: a torn value ({} bytes)", v.len());
                            seen += 1;
                        }
                        Some((404, _)) => {}
                        Some((other, _)) => panic!("GET /crash-{key} got {other}"),
                        None => conn = None,
                    }
                }
                seen
            })
        })
        .collect();
    // Let the writes run, then kill everything mid-stream.
    let t = Instant::now();
    while acks.load(Ordering::SeqCst) < TARGET && t.elapsed() < LIMIT {
        std::thread::sleep(Duration::from_millis(10));
    }
    let workers = s.workers();
    assert!(!workers.is_empty(), "no workers found");
    let pgid = s.child.id();
    assert!(Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).status().unwrap().success());
    let (killed_after, sent_before) = (acks.load(Ordering::SeqCst), sends.load(Ordering::SeqCst));
    let took = t.elapsed();
    stop.store(true, Ordering::SeqCst);
    let mut writes = HashMap::new();
    for (client, th) in writers.into_iter().enumerate() {
        for (seq, w) in th.join().expect("writer panicked") {
            writes.insert((client, seq), w);
        }
    }
    let reads: usize = readers.into_iter().map(|th| th.join().expect("reader panicked")).sum();
    let t = Instant::now();
    while workers.iter().any(|w| Path::new(&format!("/proc/{w}")).exists()) && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(s);
    eprintln!(
        "crash test: killed after {killed_after} acknowledged writes ({sent_before} sent) in {:.1}s; {reads} whole values read",
        took.as_secs_f64()
    );
    // Bounded by time on a slow host (qemu), but never trivially small.
    assert!(killed_after >= TARGET.min(1000), "only {killed_after} writes acknowledged before the kill");

    let names = listing(dir.path());
    let temps = names.iter().filter(|n| n.starts_with(".tmp-")).count();
    eprintln!("crash test: {temps} temporaries left by the kill");
    let mut on_disk = HashMap::new();
    for name in &names {
        if name.starts_with(".tmp-") {
            continue; // a write the kill interrupted; never a valid key, removed at the next start
        }
        let key: usize = name
            .strip_prefix("crash-")
            .and_then(|k| k.parse().ok())
            .filter(|&k| k < KEYS)
            .unwrap_or_else(|| panic!("unexpected file {name:?} in the store"));
        let v = fs::read(dir.path().join(name)).unwrap();
        let Some(who) = parse_crash_value(&v) else {
            panic!("{name}: torn or mixed value ({} bytes): {:?}", v.len(), String::from_utf8_lossy(&v[..v.len().min(64)]));
        };
        let w = writes.get(&who).unwrap_or_else(|| panic!("{name} holds {who:?}, which was never sent"));
        assert_eq!(w.key, key, "{name} holds {who:?}, which was sent to crash-{}", w.key);
        on_disk.insert(key, (who, v));
    }
    // Acknowledged means durable: the key holds that value, or one whose
    // write had not finished before the acknowledged one was sent.
    for (who, w) in &writes {
        if w.acked.is_none() {
            continue;
        }
        let Some((held, _)) = on_disk.get(&w.key) else {
            panic!("crash-{} was acknowledged ({who:?}) but is not on disk", w.key);
        };
        let h = &writes[held];
        assert!(
            held == who || h.acked.is_none_or(|done| done > w.sent),
            "crash-{}: holds {held:?}, finished before the acknowledged {who:?} was sent",
            w.key
        );
    }

    // A restart removes the temporaries and serves what is on disk.
    let Some(s) = start(arch, dir.path(), &["--workers", "1"]) else { return };
    assert!(!listing(dir.path()).iter().any(|n| n.starts_with(".tmp-")), "temporaries left: {:?}", listing(dir.path()));
    for (key, (_, v)) in &on_disk {
        assert_value(&s.addr(), &format!("/crash-{key}"), v);
    }
}

// 9. --root and --kv together: the store under /kv/ (or --kv-prefix).
fn with_static_root(arch: Arch) {
    let dir = TempDir::new("kv");
    let root = TempDir::new("kvroot");
    fs::write(root.path().join("hello.txt"), b"static hello\n").unwrap();
    fs::create_dir(root.path().join("kv")).unwrap();
    fs::write(root.path().join("kv").join("file.txt"), b"a static file named like a key\n").unwrap();
    let r = root.path().to_str().unwrap();
    {
        let Some(s) = start(arch, dir.path(), &["--root", r, "--workers", "2"]) else { return };
        let addr = s.addr();
        assert_line(&send(&addr, "POST", "/kv/key", Some(b"stored")), "HTTP/1.1 200 OK", "POST /kv/key");
        assert_value(&addr, "/kv/key", b"stored");
        assert_eq!(fs::read(dir.path().join("key")).unwrap(), b"stored");
        assert_line(&send(&addr, "PUT", "/kv/other", Some(b"o")), "HTTP/1.1 201 Created", "PUT /kv/other");
        assert_line(&send(&addr, "DELETE", "/kv/other", None), "HTTP/1.1 204 No Content", "DELETE /kv/other");
        assert_line(&send(&addr, "GET", "/kv/missing", None), "HTTP/1.1 404 Not Found", "GET /kv/missing");
        // Under the prefix everything is the store, even a file's name.
        assert_line(&send(&addr, "GET", "/kv/file.txt", None), "HTTP/1.1 404 Not Found", "/kv/file.txt is a key");
        for target in ["/kv/a/b", "/kv/.hidden", "/kv/%61", "/kv/../hello.txt"] {
            assert_line(&send(&addr, "GET", target, None), "HTTP/1.1 400 Bad Request", target);
        }
        let r = send(&addr, "OPTIONS", "/kv/key", Some(b"x"));
        assert_eq!((r.status(), r.header("Allow")), (405, Some(ALLOW)), "OPTIONS /kv/key");
        // Everything else is static files.
        let g = send(&addr, "GET", "/hello.txt", None);
        assert_eq!((g.status(), g.body.as_slice()), (200, &b"static hello\n"[..]), "GET /hello.txt");
        assert_eq!(g.header("Content-Type"), Some("text/plain; charset=utf-8"));
        let p = send(&addr, "POST", "/hello.txt", Some(b"x"));
        assert_eq!((p.status(), p.header("Allow")), (405, Some("GET, HEAD")), "POST /hello.txt");
        assert_line(&send(&addr, "GET", "/key", None), "HTTP/1.1 404 Not Found", "the key is not a file");
        assert_eq!(fs::read(root.path().join("hello.txt")).unwrap(), b"static hello\n");
        assert_eq!(listing(dir.path()), ["key"]);
    }
    let Some(s) = start(arch, dir.path(), &["--root", r, "--kv-prefix", "/store/", "--workers", "1"]) else { return };
    let addr = s.addr();
    assert_value(&addr, "/store/key", b"stored");
    assert_line(&send(&addr, "PUT", "/store/k2", Some(b"v2")), "HTTP/1.1 201 Created", "PUT /store/k2");
    assert_value(&addr, "/store/k2", b"v2");
    // /kv/ is an ordinary directory of the root now.
    let r = send(&addr, "GET", "/kv/file.txt", None);
    assert_eq!((r.status(), r.body.as_slice()), (200, &b"a static file named like a key\n"[..]), "/kv/file.txt");
    assert_line(&send(&addr, "GET", "/kv/key", None), "HTTP/1.1 404 Not Found", "/kv/key without the store");
    let r = send(&addr, "POST", "/kv/key", Some(b"x"));
    assert_eq!((r.status(), r.header("Allow")), (405, Some("GET, HEAD")), "POST /kv/key is static now");
    assert_eq!(listing(dir.path()), ["k2", "key"]);
}

// 10. Uploads that stop half-way (timeout, hang-up, cut chunk) change
// nothing and leave no temporary behind.
fn interrupted_uploads(arch: Arch) {
    let dir = TempDir::new("kv");
    let Some(s) = start(arch, dir.path(), &["--workers", "2", "--body-timeout", "1"]) else { return };
    let addr = s.addr();
    assert_line(&send(&addr, "POST", "/keep", Some(b"old")), "HTTP/1.1 200 OK", "POST /keep");
    // Half a body, then silence: 408 after --body-timeout.
    for key in ["partial", "keep"] {
        let mut c = connect(&addr);
        c.write_all(format!("POST /{key} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n").as_bytes()).unwrap();
        c.write_all(&[b'p'; 50]).unwrap();
        let t = Instant::now();
        let r = read_response(&mut c, &mut Vec::new(), false);
        assert_line(&r, "HTTP/1.1 408 Request Timeout", &format!("stalled body for /{key}"));
        assert!(t.elapsed() < Duration::from_secs(5), "408 after {:?}", t.elapsed());
        assert!(closed(&mut c));
    }
    // Hang-ups: mid Content-Length body, mid chunk.
    let mut c = connect(&addr);
    c.write_all(b"PUT /gone HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n").unwrap();
    c.write_all(&[b'g'; 30000]).unwrap();
    drop(c);
    let mut c = connect(&addr);
    c.write_all(b"POST /keep HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nnew new").unwrap();
    drop(c);
    std::thread::sleep(Duration::from_millis(500));
    assert_line(&send(&addr, "GET", "/partial", None), "HTTP/1.1 404 Not Found", "stalled upload stored nothing");
    assert_line(&send(&addr, "GET", "/gone", None), "HTTP/1.1 404 Not Found", "abandoned upload stored nothing");
    assert_value(&addr, "/keep", b"old");
    assert_eq!(listing(dir.path()), ["keep"], "no temporaries after interrupted uploads");
}

// 11. A reader of a value being replaced gets one whole value, never a mix.
fn reader_sees_one_whole_value(arch: Arch) {
    let dir = TempDir::new("kv");
    let Some(s) = start(arch, dir.path(), &["--workers", "2"]) else { return };
    let addr = s.addr();
    let a = vec![b'A'; MIB];
    let b = vec![b'B'; MIB];
    assert_line(&send(&addr, "POST", "/swap", Some(&a)), "HTTP/1.1 200 OK", "value A");
    // A slow reader: small window, reads a little, then the value changes.
    let mut slow = small_window_client(&addr);
    slow.write_all(&raw("GET", "/swap", None)).unwrap();
    let mut buf = Vec::new();
    let (r, head_end) = read_head(&mut slow, &mut buf);
    assert_eq!(r.header("Content-Length"), Some(MIB.to_string().as_str()));
    let mut body = buf.split_off(head_end);
    read_at_least(&mut slow, &mut body, 64 * 1024);
    assert_line(&send(&addr, "POST", "/swap", Some(&b)), "HTTP/1.1 200 OK", "value B, during the read");
    read_at_least(&mut slow, &mut body, MIB);
    let bs = body.iter().filter(|&&x| x == b'B').count();
    assert!(body == a, "the reader got a mix: {bs} bytes of B in {} bytes", body.len());
    assert_value(&addr, "/swap", &b);
}

// 12. Concurrent PUTs creating one key: exactly one hears 201.
fn racing_puts_create_once(arch: Arch) {
    const RACERS: usize = 8;
    let dir = TempDir::new("kv");
    let Some(s) = start(arch, dir.path(), &["--workers", "2", "--quiet"]) else { return };
    let addr = s.addr();
    for round in 0..10 {
        let key = format!("/race-{round}");
        let barrier = Arc::new(std::sync::Barrier::new(RACERS));
        let threads: Vec<_> = (0..RACERS)
            .map(|i| {
                let (addr, key, barrier) = (addr.clone(), key.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let req = raw("PUT", &key, Some(format!("racer {i}").as_bytes()));
                    let mut c = connect(&addr);
                    barrier.wait();
                    c.write_all(&req).unwrap();
                    read_response(&mut c, &mut Vec::new(), false).status()
                })
            })
            .collect();
        let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let created = statuses.iter().filter(|&&st| st == 201).count();
        assert!(statuses.iter().all(|&st| st == 200 || st == 201), "{key}: {statuses:?}");
        assert_eq!(created, 1, "{key}: {created} PUTs were told they created it: {statuses:?}");
        let v = send(&addr, "GET", &key, None).body;
        assert!(v.starts_with(b"racer "), "{key}: {v:?}");
    }
}

for_both_arches!(
    seed_curl_session,
    methods_and_statuses,
    key_rules,
    value_limits,
    bodies_chunked_continue_binary,
    shorter_values_and_restart,
    stale_temporaries_removed,
    crash_mid_write,
    with_static_root,
    interrupted_uploads,
    reader_sees_one_whole_value,
    racing_puts_create_once,
);
