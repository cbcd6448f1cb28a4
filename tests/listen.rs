//! How driftd listens: several `listen` lines at once (TCP and a socket
//! file), the socket file's mode, a stale file replaced and a live one
//! refused, the file removed at a clean stop; the PROXY protocol (v1, v2,
//! split, garbage); trusted proxies' X-Forwarded-For; and a SIGHUP reload
//! with a listen list. Loopback only.
#[macro_use]
mod common;

use common::*;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

/// A driftd of `arch` with exactly `args` (no `--port`: `listen` lines
/// say where); `port` is the one the handle's `addr()` names.
fn start_listening(arch: Arch, port: u16, args: &[&str]) -> Option<DriftdServer> {
    let cmd = command(arch, "driftd", args)?;
    Some(DriftdServer::start(cmd, port))
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
}

/// Pieces sent on a fresh connection to `addr` (20 ms apart); what comes
/// back until the close (a reset counts as the close).
fn send_pieces(addr: &str, pieces: &[&[u8]]) -> Vec<u8> {
    let mut s = connect(addr);
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        if s.write_all(p).is_err() {
            break; // closed already (refused)
        }
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn unix_get(path: &std::path::Path, target: &str) -> String {
    let mut s = UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(get(target).as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn status_line(resp: &[u8]) -> String {
    String::from_utf8_lossy(resp).lines().next().unwrap_or("").to_string()
}

fn ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

/// Two TCP listeners and a socket file serve at once; the file has its
/// mode; a stale file was replaced; a second driftd on the same file is
/// refused with the exact line; SIGTERM removes the file.
fn tcp_and_unix(arch: Arch) {
    let tmp = TempDir::new("listen");
    let sock = tmp.path().join("d.sock");
    // A stale socket file: bound, then its listener gone.
    drop(UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let (p1, p2) = (free_port(), free_port());
    let second = if ipv6_loopback() { format!("[::1]:{p2}") } else { format!("127.0.0.2:{p2}") };
    let l1 = format!("127.0.0.1:{p1}");
    let l3 = format!("unix:{} mode=0660", sock.display());
    let Some(mut s) = start_listening(arch, p1, &["--workers", "1", "--listen", &l1, "--listen", &second, "--listen", &l3]) else { return };
    assert!(s.banner.contains(&format!("127.0.0.1:{p1} (http), ")), "{}", s.banner);
    assert!(s.banner.contains(&format!(" and unix:{} (http) with 1 worker", sock.display())), "{}", s.banner);

    assert_eq!(status_line(&send_pieces(&l1, &[get("/one").as_bytes()])), "HTTP/1.1 200 OK");
    assert_eq!(status_line(&send_pieces(&second, &[get("/two").as_bytes()])), "HTTP/1.1 200 OK");
    assert!(unix_get(&sock, "/three").starts_with("HTTP/1.1 200 OK\r\n"));
    let meta = std::fs::metadata(&sock).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert!(s.wait_stdout(Duration::from_secs(5), |l| l.iter().any(|l| l.starts_with("unix - - [") && l.contains("\"GET /three HTTP/1.1\" 200 "))),
        "the Unix client is logged as `unix`: {:?}", s.stdout.lock().unwrap());

    // A live socket is not taken over.
    let p3 = free_port();
    let other = format!("127.0.0.1:{p3}");
    let live = command(arch, "driftd", &["--listen", &other, "--listen", &format!("unix:{}", sock.display())]).unwrap().output().unwrap();
    assert_eq!(live.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&live.stderr), format!("driftd: bind unix:{}: Address already in use (EADDRINUSE)\n", sock.display()));
    assert!(unix_get(&sock, "/still").starts_with("HTTP/1.1 200 OK\r\n"), "the refused driftd left the file alone");

    s.signal("TERM");
    let (code, _) = s.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(!sock.exists(), "the socket file is removed at a clean stop");
}

/// PROXY v1 and v2 set the client's address in the log; a header split
/// over two writes works; garbage gets no response at all.
fn proxy_protocol(arch: Arch) {
    let p = free_port();
    let l = format!("127.0.0.1:{p}");
    let Some(s) = start_listening(arch, p, &["--workers", "1", "--listen", &format!("{l} proxy"), "--head-timeout", "2"]) else { return };
    assert!(s.banner.contains(&format!("127.0.0.1:{p} (http, proxy) with")), "{}", s.banner);

    let v1 = format!("PROXY TCP4 203.0.113.7 127.0.0.1 5555 {p}\r\n{}", get("/v1"));
    assert_eq!(status_line(&send_pieces(&l, &[v1.as_bytes()])), "HTTP/1.1 200 OK");

    // v2, IPv6, sent in two writes that cut the fixed part.
    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x21\x00\x24".to_vec();
    v2.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42]);
    v2.extend_from_slice(&[0; 15]);
    v2.push(1);
    v2.extend_from_slice(&[0x04, 0xd2, 0x00, 0x50]);
    v2.extend_from_slice(get("/v2").as_bytes());
    assert_eq!(status_line(&send_pieces(&l, &[&v2[..7], &v2[7..]])), "HTTP/1.1 200 OK");

    // v1 cut inside an address.
    let v1b = format!("PROXY TCP4 198.51.100.20 127.0.0.1 6666 {p}\r\n{}", get("/v1split"));
    assert_eq!(status_line(&send_pieces(&l, &[&v1b.as_bytes()[..15], &v1b.as_bytes()[15..]])), "HTTP/1.1 200 OK");

    // No header: closed, nothing said.
    assert_eq!(send_pieces(&l, &[get("/garbage").as_bytes()]), b"");
    assert_eq!(send_pieces(&l, &[b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", get("/x").as_bytes()]), b"");
    // A header that never ends: closed at the head timeout, nothing said.
    let t = std::time::Instant::now();
    assert_eq!(send_pieces(&l, &[b"PROXY TCP4 1.2.3.4"]), b"");
    assert!(t.elapsed() >= Duration::from_millis(1500), "closed after {:?}", t.elapsed());

    let want = ["203.0.113.7 - - [", "2001:db8::42 - - [", "198.51.100.20 - - ["];
    let paths = ["/v1 ", "/v2 ", "/v1split "];
    assert!(
        s.wait_stdout(Duration::from_secs(5), |lines| want.iter().zip(paths).all(|(w, p)| lines.iter().any(|l| l.starts_with(w) && l.contains(p)))),
        "{:?}",
        s.stdout.lock().unwrap()
    );
    // The refused ones are logged as bad requests, from the peer.
    assert!(s.wait_stdout(Duration::from_secs(5), |l| l.iter().filter(|l| l.starts_with("127.0.0.1 - - [") && l.contains("\" 400 ")).count() == 3),
        "{:?}", s.stdout.lock().unwrap());
}

/// X-Forwarded-For names the client only when the peer is trusted, and
/// then only the hops the trusted proxies wrote.
fn trusted_proxy(arch: Arch) {
    let req = |path: &str, xff: &str| format!("GET {path} HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: {xff}\r\nConnection: close\r\n\r\n");
    for (trusted, path, xff, want) in [
        ("127.0.0.1", "/trusted", "198.51.100.9", "198.51.100.9"),
        ("127.0.0.0/8", "/forged", "6.6.6.6, 198.51.100.10", "198.51.100.10"),
        ("10.0.0.0/8", "/untrusted", "198.51.100.11", "127.0.0.1"),
    ] {
        let p = free_port();
        let l = format!("127.0.0.1:{p}");
        let Some(s) = start_listening(arch, p, &["--workers", "1", "--listen", &l, "--trusted-proxy", trusted]) else { return };
        assert_eq!(status_line(&send_pieces(&l, &[req(path, xff).as_bytes()])), "HTTP/1.1 200 OK");
        let prefix = format!("{want} - - [");
        assert!(s.wait_stdout(Duration::from_secs(5), |l| l.iter().any(|l| l.starts_with(&prefix) && l.contains(path))),
            "trusted-proxy {trusted}, X-Forwarded-For {xff}: {:?}", s.stdout.lock().unwrap());
    }
}

/// A SIGHUP reload with a listen list: every listener serves on, a socket
/// file too, and a listener added to the file starts serving.
fn reload_with_a_list(arch: Arch) {
    let tmp = TempDir::new("listen-reload");
    let sock = tmp.path().join("r.sock");
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let conf = tmp.path().join("d.conf");
    let list = format!("listen 127.0.0.1:{p1}\nlisten 127.0.0.1:{p2}\nlisten unix:{}\n", sock.display());
    std::fs::write(&conf, &list).unwrap();
    let Some(s) = start_listening(arch, p1, &["--workers", "1", "--config", conf.to_str().unwrap()]) else { return };
    let all_serve = |ports: &[u16]| {
        for p in ports {
            assert_eq!(status_line(&send_pieces(&format!("127.0.0.1:{p}"), &[get("/r").as_bytes()])), "HTTP/1.1 200 OK", "port {p}");
        }
        assert!(unix_get(&sock, "/r").starts_with("HTTP/1.1 200 OK\r\n"));
    };
    all_serve(&[p1, p2]);
    s.signal("HUP");
    assert!(s.wait_stderr(Duration::from_secs(10), |l| l.iter().filter(|l| l.contains("reloaded: serving on")).count() == 1), "{:?}", s.stderr.lock().unwrap());
    all_serve(&[p1, p2]);
    std::fs::write(&conf, format!("{list}listen 127.0.0.1:{p3}\n")).unwrap();
    s.signal("HUP");
    assert!(s.wait_stderr(Duration::from_secs(10), |l| l.iter().filter(|l| l.contains("reloaded: serving on")).count() == 2), "{:?}", s.stderr.lock().unwrap());
    all_serve(&[p1, p2, p3]);
    assert!(sock.exists());
}

/// SIGUSR2 hands every socket on with its kind (`DRIFTD_LISTEN_FDS`
/// with flags): the new driftd serves the TCP, proxy and Unix listeners;
/// the old one's stop leaves the socket file, the new one's removes it.
fn upgrade_with_a_list(arch: Arch) {
    if arch != Arch::X86_64 {
        return; // the new binary is exec'd by the old one: under qemu-user that takes binfmt_misc
    }
    let tmp = TempDir::new("listen-upgrade");
    let sock = tmp.path().join("u.sock");
    let bin = tmp.path().join("driftd");
    std::fs::copy(binary(arch, "driftd"), &bin).unwrap();
    let (p1, p2) = (free_port(), free_port());
    let mut cmd = std::process::Command::new(&bin);
    let (l1, l2, l3) = (format!("127.0.0.1:{p1}"), format!("127.0.0.1:{p2} proxy"), format!("unix:{}", sock.display()));
    cmd.args(["--workers", "1", "--listen", &l1, "--listen", &l2, "--listen", &l3]).env("DRIFTD_MAX_CONNS_PER_CLIENT", "0");
    let mut s = DriftdServer::start(cmd, p1);
    s.signal("USR2");
    let (code, _) = s.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "the old driftd drains and exits: {:?}", s.stderr.lock().unwrap());
    let lines = s.stderr.lock().unwrap().clone();
    let new_pid: u32 = lines.iter().find_map(|l| l.strip_prefix("driftd: SIGUSR2: upgrading: started ")).and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{lines:?}"));
    let banner = lines.iter().filter(|l| l.contains("listening on")).nth(1).unwrap_or_else(|| panic!("{lines:?}"));
    assert!(banner.contains(&format!("127.0.0.1:{p2} (http, proxy)")), "{banner}");
    assert!(sock.exists(), "the old driftd leaves the file to the new one");
    assert_eq!(status_line(&send_pieces(&l1, &[get("/plain").as_bytes()])), "HTTP/1.1 200 OK");
    let v1 = format!("PROXY TCP4 203.0.113.8 127.0.0.1 5555 {p2}\r\n{}", get("/proxied"));
    assert_eq!(status_line(&send_pieces(&format!("127.0.0.1:{p2}"), &[v1.as_bytes()])), "HTTP/1.1 200 OK");
    assert_eq!(send_pieces(&format!("127.0.0.1:{p2}"), &[get("/no-header").as_bytes()]), b"", "still a proxy listener");
    assert!(unix_get(&sock, "/unix").starts_with("HTTP/1.1 200 OK\r\n"));
    let _ = std::process::Command::new("kill").args(["-TERM", &new_pid.to_string()]).status();
    let t = std::time::Instant::now();
    while sock.exists() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!sock.exists(), "the new driftd removes the file at its stop");
}

for_both_arches!(tcp_and_unix, proxy_protocol, trusted_proxy, reload_with_a_list, upgrade_with_a_list);
