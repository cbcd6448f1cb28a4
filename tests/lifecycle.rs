//! Changing a running driftd without dropping a request: SIGHUP reloads
//! the settings, SIGUSR2 upgrades the binary, and systemd-style socket
//! activation hands it its sockets. Under load: 50 keep-alive clients and a
//! fresh connection every millisecond, each request checked whole.
#[macro_use]
mod common;

use common::*;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the clients saw.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    /// Any failure: refused, reset, cut short, a status other than 200.
    errors: AtomicU64,
    /// The first few failures, for the message.
    what: Mutex<Vec<String>>,
    /// Responses that carried `X-Gen: new`.
    new_gen: AtomicU64,
}

impl Tally {
    fn fail(&self, why: String) {
        self.errors.fetch_add(1, Relaxed);
        let mut w = self.what.lock().unwrap();
        if w.len() < 8 {
            w.push(why);
        }
    }
}

/// One request on `c`, read whole (Content-Length framing). Ok(keep):
/// whether the server keeps the connection.
fn one(c: &mut TcpStream, addr: &str, t: &Tally) -> Result<bool, String> {
    c.write_all(format!("GET /index.html HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match c.read(&mut chunk) {
            Ok(0) => return Err(format!("closed after {} bytes", buf.len())),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("read: {e}")),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    if !head.starts_with("http/1.1 200 ") {
        return Err(head.lines().next().unwrap_or("").to_string());
    }
    let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length: ")).and_then(|v| v.trim().parse().ok()).ok_or("no length")?;
    while buf.len() < head_end + len {
        match c.read(&mut chunk) {
            Ok(0) => return Err("body cut short".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("read body: {e}")),
        }
    }
    if head.contains("x-gen: new\r\n") {
        t.new_gen.fetch_add(1, Relaxed);
    }
    Ok(!head.contains("connection: close\r\n"))
}

/// Load on `addr` until `stop`: 50 keep-alive clients (reconnecting when
/// the server closes, as wrk does) and a fresh connection every millisecond.
fn load(addr: String, stop: Arc<AtomicBool>, t: Arc<Tally>) -> Vec<std::thread::JoinHandle<()>> {
    let mut hs = Vec::new();
    for _ in 0..50 {
        let (addr, stop, t) = (addr.clone(), stop.clone(), t.clone());
        hs.push(std::thread::spawn(move || {
            let mut conn: Option<TcpStream> = None;
            while !stop.load(Relaxed) {
                let c = match conn.as_mut() {
                    Some(c) => c,
                    None => match TcpStream::connect(&addr) {
                        Ok(c) => {
                            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                            conn.insert(c)
                        }
                        Err(e) => {
                            t.fail(format!("connect: {e}"));
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                    },
                };
                match one(c, &addr, &t) {
                    Ok(keep) => {
                        t.ok.fetch_add(1, Relaxed);
                        if !keep {
                            conn = None;
                        }
                    }
                    Err(e) => {
                        t.fail(e);
                        conn = None;
                    }
                }
            }
        }));
    }
    hs.push(std::thread::spawn(move || {
        while !stop.load(Relaxed) {
            let started = Instant::now();
            match TcpStream::connect(&addr) {
                Ok(mut c) => {
                    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    match one(&mut c, &addr, &t) {
                        Ok(_) => {
                            t.ok.fetch_add(1, Relaxed);
                        }
                        Err(e) => t.fail(format!("fresh: {e}")),
                    }
                }
                Err(e) => t.fail(format!("fresh connect: {e}")),
            }
            std::thread::sleep(Duration::from_millis(1).saturating_sub(started.elapsed()));
        }
    }));
    hs
}

fn site(tmp: &TempDir, header: &str) -> String {
    fs::write(tmp.path().join("index.html"), "hello\n").unwrap();
    let conf = tmp.path().join("d.conf");
    fs::write(&conf, format!("root {}\nworkers 2\nquiet\nheader /** X-Gen: {header}\n", tmp.path().display())).unwrap();
    conf.display().to_string()
}

/// Runs `change` with load before and after, and checks that nothing
/// failed and that the new settings answered in the end.
fn under_load(addr: &str, change: impl FnOnce()) -> Arc<Tally> {
    let stop = Arc::new(AtomicBool::new(false));
    let t = Arc::new(Tally::default());
    let hs = load(addr.to_string(), stop.clone(), t.clone());
    std::thread::sleep(Duration::from_millis(700));
    let before = t.ok.load(Relaxed);
    change();
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Relaxed);
    for h in hs {
        h.join().unwrap();
    }
    let errors = t.errors.load(Relaxed);
    assert_eq!(errors, 0, "{errors} failed requests: {:?}", t.what.lock().unwrap());
    assert!(before > 100, "the load ran: {before} requests before the change");
    t
}

/// The worker pids of supervisor `pid`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(text) = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) else { return vec![] };
    text.split_whitespace().filter_map(|w| w.parse().ok()).collect()
}

fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

/// SIGHUP under load: new workers with the new settings, the old ones
/// gone once drained, not one request lost; a bad file changes nothing.
fn reload_under_load(arch: Arch) {
    let tmp = TempDir::new("reload");
    let conf = site(&tmp, "old");
    let Some(s) = start_driftd(arch, &["--config", &conf], &[]) else { return };
    let addr = s.addr();
    let pid = s.child.id();
    let old = s.wait_workers(2);
    assert_eq!(old.len(), 2);
    let t = under_load(&addr, || {
        fs::write(&conf, fs::read_to_string(&conf).unwrap().replace("X-Gen: old", "X-Gen: new").replace("workers 2", "workers 1")).unwrap();
        s.signal("HUP");
    });
    assert!(t.new_gen.load(Relaxed) > 0, "no response came from the new settings");
    assert!(s.wait_stderr(Duration::from_secs(5), |l| l.iter().any(|l| l.starts_with("driftd: reloaded: serving on [::]:") && l.contains("with 1 worker,"))));
    let deadline = Instant::now() + Duration::from_secs(5);
    while old.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!old.iter().any(|&p| alive(p)), "the old workers finished");
    assert_eq!(children(pid).len(), 1, "one new worker");
    let r = request(&addr, format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!((r.status(), r.header("X-Gen")), (200, Some("new")));

    // A file that does not load: one line says why, nothing changes.
    fs::write(&conf, fs::read_to_string(&conf).unwrap().replace("X-Gen: new", "X-Gen: bad\nport 0")).unwrap();
    let workers = children(pid);
    s.signal("HUP");
    assert!(s.wait_stderr(Duration::from_secs(5), |l| l.iter().any(|l| l == "driftd: reload refused; still serving with the settings before")));
    assert!(s.stderr.lock().unwrap().iter().any(|l| l.ends_with("d.conf:5: port 0: must be 1-65535")), "{:?}", s.stderr.lock().unwrap());
    assert_eq!(children(pid), workers);
    let r = request(&addr, format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!((r.status(), r.header("X-Gen")), (200, Some("new")));
}

/// driftd started from a copy of its binary in `tmp`, so that the copy can
/// be replaced (as an upgrade does); the copy's path and the server.
fn from_a_copy(arch: Arch, tmp: &TempDir, args: &[&str]) -> (std::path::PathBuf, DriftdServer) {
    let bin = tmp.path().join("driftd");
    fs::copy(binary(arch, "driftd"), &bin).unwrap();
    let port = free_port();
    let mut cmd = Command::new(&bin);
    cmd.arg("--port").arg(port.to_string()).args(args);
    (bin, DriftdServer::start(cmd, port))
}

/// SIGUSR2 under load: the binary at driftd's path starts with the
/// listening sockets, the old driftd drains and exits 0; a binary that
/// fails to start leaves the old one serving, saying why.
fn upgrade_under_load(arch: Arch) {
    if arch != Arch::X86_64 {
        // The new binary is exec'd by the old one: under qemu-user that
        // takes binfmt_misc, which this test does not assume.
        return;
    }
    let tmp = TempDir::new("upgrade");
    let conf = site(&tmp, "old");
    let (_, mut s) = from_a_copy(arch, &tmp, &["--config", &conf]);
    let addr = s.addr();
    let old_pid = s.child.id();
    let t = under_load(&addr, || {
        fs::write(&conf, fs::read_to_string(&conf).unwrap().replace("X-Gen: old", "X-Gen: new")).unwrap();
        s.signal("USR2");
    });
    assert!(t.new_gen.load(Relaxed) > 0, "no response came from the new driftd");
    let (code, _) = s.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "the old driftd drains and exits: {:?}", s.stderr.lock().unwrap());
    let lines = s.stderr.lock().unwrap().clone();
    let new_pid: u32 = lines
        .iter()
        .find_map(|l| l.strip_prefix("driftd: SIGUSR2: upgrading: started "))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(alive(new_pid) && new_pid != old_pid);
    let r = request(&addr, format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!((r.status(), r.header("X-Gen")), (200, Some("new")));
    let _ = Command::new("kill").args(["-TERM", &new_pid.to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(new_pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(new_pid), "the new driftd stops on SIGTERM");

    // A new binary that fails: the old one says so and goes on serving.
    let tmp = TempDir::new("upgrade-bad");
    let conf = site(&tmp, "old");
    let (bin, mut s) = from_a_copy(arch, &tmp, &["--config", &conf]);
    fs::remove_file(&bin).unwrap();
    fs::write(&bin, "#!/bin/sh\necho 'driftd: broken build' >&2\nexit 3\n").unwrap();
    let _ = Command::new("chmod").args(["+x", bin.to_str().unwrap()]).status();
    s.signal("USR2");
    assert!(
        s.wait_stderr(Duration::from_secs(5), |l| l.iter().any(|l| l.starts_with("driftd: upgrade failed: the new driftd ")
            && l.ends_with(" exited with status 3; this one goes on serving"))),
        "{:?}",
        s.stderr.lock().unwrap()
    );
    let addr = s.addr();
    let r = request(&addr, format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!(r.status(), 200);
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(10)).0, Some(0));
}

/// systemd's socket activation: `LISTEN_FDS`/`LISTEN_PID` (here set by a
/// Python stand-in for systemd, which also execs the binary so the pid
/// stays), and driftd binds nothing itself.
fn socket_activation(arch: Arch) {
    let Some(runner) = runner(arch) else { return };
    let tmp = TempDir::new("activate");
    let conf = site(&tmp, "activated");
    let port = free_port();
    let mut argv: Vec<String> = runner;
    argv.push(binary(arch, "driftd").display().to_string());
    // a port that is not the socket's: it must not be bound
    argv.extend(["--config".into(), conf.clone(), "--port".into(), free_port().to_string()]);
    let script = r#"
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(128)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="http")
os.execvp(sys.argv[2], sys.argv[2:])
"#;
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).arg(port.to_string()).args(&argv);
    let mut s = DriftdServer::start(cmd, port);
    let addr = s.addr();
    let r = request(&addr, format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!((r.status(), r.header("X-Gen")), (200, Some("activated")));
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(10)).0, Some(0));

    // A descriptor that is no listening socket: refused with the reason.
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg("import os,sys; os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid())); fd=os.open('/dev/null', os.O_RDONLY); os.dup2(fd, 3); os.set_inheritable(3, True); os.execvp(sys.argv[1], sys.argv[1:])");
    cmd.args(&argv).stdin(Stdio::null());
    allow_root(&mut cmd);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "driftd: take over listening socket 3: Socket operation on non-socket (ENOTSOCK)\n");
}

/// `health PATH` and `drain-delay`: 200 while serving (not logged), then on
/// SIGTERM 503 while everything else is still served, then the listener
/// closes and driftd exits 0.
fn health_and_drain(arch: Arch) {
    let tmp = TempDir::new("health");
    fs::write(tmp.path().join("index.html"), "hello\n").unwrap();
    let root = tmp.path().display().to_string();
    let Some(mut s) = start_driftd(arch, &["--root", &root, "--workers", "1", "--health", "/healthz", "--drain-delay", "2"], &[]) else { return };
    let addr = s.addr();
    let get = |path: &str| request(&addr, format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
    let r = get("/healthz");
    assert_eq!((r.status(), r.header("Cache-Control"), String::from_utf8_lossy(&r.body).as_ref()), (200, Some("no-store"), "200 OK\n"));
    let r = request(&addr, b"HEAD /healthz?probe=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status(), r.body.len()), (200, 0));
    assert_eq!(get("/index.html").status(), 200);
    assert!(s.wait_stdout(Duration::from_secs(5), |l| l.iter().any(|l| l.contains("\"GET /index.html HTTP/1.1\" 200"))));
    assert!(!s.stdout.lock().unwrap().iter().any(|l| l.contains("/healthz")), "health checks are not logged");
    // a keep-alive connection a load balancer holds
    let mut lb = connect(&addr);
    s.signal("TERM");
    assert!(s.wait_stderr(Duration::from_secs(5), |l| l.iter().any(|l| l == "driftd: draining: health answers 503; stopping after the drain delay")));
    std::thread::sleep(Duration::from_millis(300));
    lb.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut lb, &mut Vec::new(), false).status(), 503);
    assert_eq!(get("/healthz").status(), 503, "a new connection is still accepted, and told 503");
    assert_eq!(get("/index.html").status(), 200, "and other requests are still served");
    let (code, took) = s.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(took >= Duration::from_millis(1000), "stopped only after the delay: {took:?}");
    assert!(TcpStream::connect(&addr).is_err(), "the listener is closed");
}

/// Prometheus text of driftd's counters, parsed by Prometheus's own Python
/// parser (prometheus_client) into `name{labels} value` lines.
fn parse_metrics(text: &str) -> Option<Vec<String>> {
    let script = "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as f\n\
                  for fam in f(sys.stdin.read()):\n    for s in fam.samples:\n        \
                  print(s.name + '{' + ','.join(k + '=' + v for k, v in sorted(s.labels.items())) + '} ' + repr(float(s.value)))\n";
    let mut child = Command::new("python3").arg("-c").arg(script).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().ok()?;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    if String::from_utf8_lossy(&out.stderr).contains("No module named 'prometheus_client'") {
        skipped("prometheus_client (pip install prometheus_client) is not installed: the text is checked by hand only");
        return None;
    }
    assert!(out.status.success(), "prometheus_client refused the text: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect())
}

/// The value of sample `name{labels}` in the scrape's text.
fn sample(text: &str, name: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' '))).and_then(|v| v.parse().ok()).unwrap_or(-1.0)
}

/// `metrics PATH`: counts summed over the workers, right after requests
/// and after a reload retired the workers that made them (totals never go
/// down), and valid for Prometheus's parser.
fn metrics(arch: Arch) {
    let tmp = TempDir::new("metrics");
    fs::write(tmp.path().join("index.html"), "hello\n").unwrap();
    let root = tmp.path().display().to_string();
    let Some(s) = start_driftd(arch, &["--root", &root, "--workers", "2", "--metrics", "/metrics", "--quiet"], &[]) else { return };
    let addr = s.addr();
    let get = |path: &str| request(&addr, format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
    for _ in 0..10 {
        assert_eq!(get("/index.html").status(), 200);
        assert_eq!(get("/missing").status(), 404);
    }
    let r = request(&addr, format!("HEAD /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!(r.status(), 200);
    std::thread::sleep(Duration::from_millis(100)); // each worker publishes once a wake-up
    let r = get("/metrics");
    assert_eq!((r.status(), r.header("Content-Type")), (200, Some("text/plain; version=0.0.4; charset=utf-8")));
    let text = String::from_utf8(r.body.clone()).unwrap();
    assert_eq!(sample(&text, "driftd_requests_total{class=\"2xx\"}"), 11.0, "{text}");
    assert_eq!(sample(&text, "driftd_requests_total{class=\"4xx\"}"), 10.0);
    // (a method is counted as its head is parsed: the scrape's own GET too)
    assert_eq!(sample(&text, "driftd_requests_by_method_total{method=\"GET\"}"), 21.0);
    assert_eq!(sample(&text, "driftd_requests_by_method_total{method=\"HEAD\"}"), 1.0);
    assert_eq!(sample(&text, "driftd_connections_accepted_total"), 22.0);
    assert_eq!(sample(&text, "driftd_connections_open"), 1.0, "the scrape's own");
    assert!(sample(&text, "driftd_bytes_sent_total") > 0.0 && sample(&text, "driftd_bytes_received_total") > 0.0);
    assert!(text.contains(&format!("driftd_build_info{{version=\"{}\",arch=\"{}\"}} 1", env!("CARGO_PKG_VERSION"), if arch == Arch::X86_64 { "x86_64" } else { "aarch64" })));
    if let Some(samples) = parse_metrics(&text) {
        assert!(samples.contains(&"driftd_requests_total{class=2xx} 11.0".to_string()), "{samples:?}");
        assert!(samples.iter().any(|l| l.starts_with("driftd_build_info{arch=")));
    }
    // A reload: the old workers drain and exit; their counts stay.
    let old = s.wait_workers(2);
    s.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while old.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!old.iter().any(|&p| alive(p)));
    let text = String::from_utf8(get("/metrics").body).unwrap();
    assert_eq!(sample(&text, "driftd_requests_total{class=\"2xx\"}"), 12.0, "the first scrape counts too: {text}");
    assert_eq!(sample(&text, "driftd_requests_total{class=\"4xx\"}"), 10.0);
    assert_eq!(sample(&text, "driftd_connections_open"), 1.0);
}

/// A KV PUT whose body is still coming when driftd reloads (and, on
/// x86_64, upgrades): acknowledged when it ends, and on disk.
fn put_in_flight(arch: Arch) {
    let tmp = TempDir::new("kvflight");
    let kv = tmp.path().join("kv");
    fs::create_dir(&kv).unwrap();
    let kv = kv.display().to_string();
    let (mut s, upgrade) = if arch == Arch::X86_64 {
        (from_a_copy(arch, &tmp, &["--kv", &kv, "--workers", "1", "--quiet"]).1, true)
    } else {
        match start_driftd(arch, &["--kv", &kv, "--workers", "1", "--quiet"], &[]) {
            Some(s) => (s, false),
            None => return,
        }
    };
    let addr = s.addr();
    for (sig, key) in [("HUP", "reload"), ("USR2", "upgrade")] {
        if sig == "USR2" && !upgrade {
            continue;
        }
        let mut c = connect(&addr);
        let body = format!("{key}: {}", "x".repeat(50_000));
        c.write_all(format!("PUT /{key} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes()).unwrap();
        c.write_all(&body.as_bytes()[..20_000]).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        s.signal(sig);
        std::thread::sleep(Duration::from_millis(500));
        c.write_all(&body.as_bytes()[20_000..]).unwrap();
        let r = read_response(&mut c, &mut Vec::new(), false);
        assert_eq!(r.status(), 201, "PUT across {sig}: {}", r.status_line);
        assert_eq!(fs::read_to_string(format!("{kv}/{key}")).unwrap(), body, "stored whole across {sig}");
        let r = request(&addr, format!("GET /{key} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
        assert_eq!((r.status(), r.body.len()), (200, body.len()));
    }
    if upgrade {
        let new_pid: Option<u32> = s.stderr.lock().unwrap().iter().find_map(|l| l.strip_prefix("driftd: SIGUSR2: upgrading: started ").and_then(|p| p.parse().ok()));
        assert_eq!(s.wait_exit(Duration::from_secs(10)).0, Some(0));
        if let Some(p) = new_pid {
            let _ = Command::new("kill").args(["-TERM", &p.to_string()]).status();
        }
    }
}

for_both_arches!(reload_under_load, upgrade_under_load, socket_activation, health_and_drain, metrics, put_in_flight);
