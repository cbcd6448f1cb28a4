//! End-to-end tests of driftd's HTTPS (issue 16) on both arches (aarch64
//! under qemu-aarch64 on other hosts): real TLS clients (curl, openssl
//! s_client, gnutls-cli, Python's ssl), every protocol, suite and group the
//! server offers, resumption (also across workers), SNI, refusals, a flood
//! of half-done handshakes, certificate reloads, content over TLS, start-up
//! refusals and testssl. Certificates are made with openssl at test time.
#[macro_use]
mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const HELLO: &[u8] = b"hello over tls\n";
/// What driftd answers a plain HTTP request sent to its HTTPS port.
const PLAIN_ON_TLS_BODY: &str =
    "This port speaks HTTPS: the plain HTTP request was sent to the HTTPS port; use an https:// URL.\n";

/// Emulated handshakes are slower, not different: waits scale by this.
fn slow(arch: Arch) -> u32 {
    match arch {
        Arch::X86_64 if cfg!(target_arch = "x86_64") => 1,
        Arch::Aarch64 if cfg!(target_arch = "aarch64") => 1,
        _ => 4,
    }
}

fn native(arch: Arch) -> bool {
    slow(arch) == 1
}

/// Runs `cmd` with `input` on its stdin, kept open `hold` longer, for at
/// most `limit` (then killed): (exit code, stdout, stderr).
fn run(mut cmd: Command, input: &[u8], hold: Duration, limit: Duration) -> (Option<i32>, Vec<u8>, String) {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let what = format!("{cmd:?}");
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
        std::thread::sleep(hold);
        drop(stdin);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let (code, _) = wait_child(&mut child, limit);
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{what} did not finish within {limit:?}");
    }
    let _ = feeder.join();
    (code, o.join().unwrap(), String::from_utf8_lossy(&e.join().unwrap()).into_owned())
}

fn openssl(args: &[&str]) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args(args);
    let (code, out, err) = run(cmd, b"", Duration::ZERO, Duration::from_secs(60));
    assert_eq!(code, Some(0), "openssl {args:?}: {err}");
    String::from_utf8_lossy(&out).into_owned()
}

/// Makes `NAME.pem` and `NAME.key` in `dir`: a self-signed ECDSA P-256
/// certificate for `cn` (and 127.0.0.1) valid `days` days.
fn make_pair(dir: &Path, name: &str, cn: &str, days: u32) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    openssl(&[
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key.to_str().unwrap(), "-out", cert.to_str().unwrap(), "-days", &days.to_string(),
        "-subj", &format!("/CN={cn}"), "-addext", &format!("subjectAltName=DNS:{cn},IP:127.0.0.1"),
    ]);
    (cert, key)
}

/// `serial=...` of a certificate file.
fn file_serial(cert: &Path) -> String {
    openssl(&["x509", "-noout", "-serial", "-in", cert.to_str().unwrap()]).trim().to_string()
}

/// A site: `root/` with hello.txt, and the pair cert.pem/key.pem for localhost.
struct Site {
    dir: TempDir,
}

impl Site {
    fn new(tag: &str) -> Site {
        let dir = TempDir::new(tag);
        std::fs::create_dir(dir.path().join("root")).unwrap();
        std::fs::write(dir.path().join("root/hello.txt"), HELLO).unwrap();
        let (_, key) = make_pair(dir.path(), "cert", "localhost", 30);
        std::fs::rename(key, dir.path().join("key.pem")).unwrap();
        Site { dir }
    }
    fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).to_str().unwrap().to_string()
    }
    fn cert(&self) -> String {
        self.path("cert.pem")
    }
    fn write(&self, rel: &str, bytes: &[u8]) {
        std::fs::write(self.dir.path().join(rel), bytes).unwrap();
    }
}

/// A driftd with HTTPS on `tls`, plain HTTP on `s.port`.
struct Tls {
    s: DriftdServer,
    tls: u16,
    arch: Arch,
}

/// Starts driftd for `site` (its root, cert.pem and key.pem) with `extra` args.
fn start_tls(arch: Arch, site: &Site, extra: &[&str]) -> Option<Tls> {
    let tls = free_port();
    let tp = tls.to_string();
    let (root, cert, key) = (site.path("root"), site.cert(), site.path("key.pem"));
    let mut args = vec!["--root", &root, "--tls-port", &tp, "--tls-cert", &cert, "--tls-key", &key];
    args.extend_from_slice(extra);
    let s = start_driftd(arch, &args, &[])?;
    assert!(
        s.banner.contains(&format!("(http) and [::]:{tls} (https)")),
        "start line: {}",
        s.banner
    );
    Some(Tls { s, tls, arch })
}

impl Tls {
    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.tls)
    }
    fn tls_addr(&self) -> String {
        format!("127.0.0.1:{}", self.tls)
    }
    fn limit(&self) -> Duration {
        Duration::from_secs(15 * slow(self.arch) as u64)
    }
    /// curl trusting `site`'s certificate (localhost is 127.0.0.1): exit code, stdout, stderr.
    fn curl(&self, site: &Site, args: &[&str]) -> (Option<i32>, Vec<u8>, String) {
        self.curl_in(site, args, b"")
    }
    fn curl_in(&self, site: &Site, args: &[&str], input: &[u8]) -> (Option<i32>, Vec<u8>, String) {
        let mut cmd = Command::new("curl");
        let resolve = format!("localhost:{}:127.0.0.1", self.tls);
        let max = (10 * slow(self.arch)).to_string();
        cmd.args(["-sS", "--max-time", &max, "--cacert", &site.cert(), "--resolve", &resolve]).args(args);
        run(cmd, input, Duration::ZERO, self.limit() + Duration::from_secs(5))
    }
    /// A fresh client gets 200 and hello.txt over HTTPS.
    fn assert_fresh_200(&self, site: &Site, after: &str) {
        let (code, out, err) = self.curl(site, &[&self.url("/hello.txt")]);
        assert_eq!(code, Some(0), "after {after}: curl: {err}");
        assert_eq!(out, HELLO, "after {after}");
    }
    /// openssl s_client to the TLS port with `args`; `input` on stdin,
    /// held open `hold` longer. stdout and stderr together.
    fn s_client(&self, args: &[&str], input: &[u8], hold: Duration) -> String {
        let mut cmd = Command::new("openssl");
        cmd.args(["s_client", "-connect", &self.tls_addr()]).args(args);
        let (_, out, err) = run(cmd, input, hold, self.limit());
        format!("{}{err}", String::from_utf8_lossy(&out))
    }
    /// The serial (`serial=...`) of the certificate a new handshake gets.
    fn serial(&self, servername: Option<&str>) -> String {
        let mut args = vec![];
        match servername {
            Some(n) => args.extend(["-servername", n]),
            None => args.push("-noservername"),
        }
        let out = self.s_client(&args, b"", Duration::ZERO);
        let begin = out.find("-----BEGIN CERTIFICATE-----").unwrap_or_else(|| panic!("no certificate: {out}"));
        let end = out.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----\n".len();
        let mut cmd = Command::new("openssl");
        cmd.args(["x509", "-noout", "-serial"]);
        let (code, out, err) = run(cmd, out[begin..end].as_bytes(), Duration::ZERO, Duration::from_secs(30));
        assert_eq!(code, Some(0), "{err}");
        String::from_utf8_lossy(&out).trim().to_string()
    }
    /// No worker died or was replaced since `workers` was read.
    fn assert_workers_unchanged(&self, workers: &[u32]) {
        let mut now = self.s.workers();
        now.sort();
        let mut before = workers.to_vec();
        before.sort();
        assert_eq!(now, before, "the workers changed; stderr: {:?}", self.s.stderr.lock().unwrap());
        let err = self.s.stderr.lock().unwrap();
        assert!(!err.iter().any(|l| l.contains("worker ")), "a worker died: {err:?}");
    }
}

/// `GET path` closing the connection after the response.
fn get_close(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes()
}

/// Runs a Python 3 script with `args`: (exit code, stdout, stderr).
fn python(script: &str, args: &[&str], limit: Duration) -> (Option<i32>, String, String) {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).args(args);
    let (code, out, err) = run(cmd, b"", Duration::ZERO, limit);
    (code, String::from_utf8_lossy(&out).into_owned(), err)
}

/// A real TLS 1.3 (and 1.2) ClientHello record, as Python's ssl writes it.
fn client_hello() -> Vec<u8> {
    const SCRIPT: &str = r#"
import ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
i, o = ssl.MemoryBIO(), ssl.MemoryBIO()
s = ctx.wrap_bio(i, o, server_hostname='localhost')
try:
    s.do_handshake()
except ssl.SSLWantReadError:
    pass
sys.stdout.buffer.write(o.read())
"#;
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(SCRIPT);
    let (code, out, err) = run(cmd, b"", Duration::ZERO, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(&out[..3], b"\x16\x03\x01", "a handshake record");
    assert_eq!(out.len(), 5 + u16::from_be_bytes([out[3], out[4]]) as usize, "one record");
    assert_eq!(out[5], 1, "a ClientHello");
    out
}

/// True if the tools a TLS test needs are all here (else SKIPPED).
fn have(tools: &[&str]) -> bool {
    tools.iter().all(|t| !skip_without(t))
}

// 1. curl (keep-alive reuse), Python ssl + http.client, gnutls-cli.
fn real_clients(arch: Arch) {
    if !have(&["curl", "python3"]) {
        return;
    }
    let site = Site::new("tls-clients");
    let Some(t) = start_tls(arch, &site, &["--workers", "2"]) else { return };

    // curl: two URLs on one connection (num_connects 1 then 0), HTTP/1.1.
    let u = t.url("/hello.txt");
    let (code, out, err) = t.curl(&site, &["-w", "[%{num_connects} %{http_version} %{ssl_verify_result}]\n", &u, &u]);
    assert_eq!(code, Some(0), "curl: {err}");
    let want = [HELLO, b"[1 1.1 0]\n", HELLO, b"[0 1.1 0]\n"].concat();
    assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&want));

    // Python: verified, ALPN http/1.1, two requests on one connection.
    const PY: &str = r#"
import ssl, sys, http.client
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.set_alpn_protocols(['http/1.1'])
c = http.client.HTTPSConnection('localhost', int(sys.argv[2]), context=ctx, timeout=30)
for i in range(2):
    c.request('GET', '/hello.txt')
    r = c.getresponse()
    body = r.read()
    sock = c.sock
    print(r.status, r.reason, repr(body), sock.version(), sock.selected_alpn_protocol(), i == 0 or sock is first)
    first = sock
"#;
    let (code, out, err) = python(PY, &[&site.cert(), &t.tls.to_string()], t.limit());
    assert_eq!(code, Some(0), "python: {err}");
    let line = "200 OK b'hello over tls\\n' TLSv1.3 http/1.1 True\n";
    assert_eq!(out, line.repeat(2));

    // gnutls-cli: verified against the certificate, gets the 200.
    if !skip_without("gnutls-cli") {
        let mut cmd = Command::new("gnutls-cli");
        cmd.args(["--x509cafile", &site.cert(), "-p", &t.tls.to_string(), "localhost"]);
        let (code, out, err) = run(cmd, &get_close("/hello.txt"), Duration::from_secs(2 * slow(arch) as u64), t.limit());
        let out = String::from_utf8_lossy(&out);
        assert_eq!(code, Some(0), "gnutls-cli: {out}{err}");
        assert!(out.contains("HTTP/1.1 200 OK\r\n") && out.contains("hello over tls"), "gnutls-cli: {out}{err}");
        assert!(err.contains("Handshake was completed") || out.contains("Handshake was completed"), "{out}{err}");
    }
    t.assert_fresh_200(&site, "the clients");
}

// 2. openssl s_client: each protocol, suite and group, negotiated as asked.
fn protocols_suites_groups(arch: Arch) {
    if !have(&["openssl"]) {
        return;
    }
    let site = Site::new("tls-suites");
    let Some(t) = start_tls(arch, &site, &[]) else { return };
    let check = |args: &[&str], proto: &str, suite: &str, key: &str| {
        let out = t.s_client(&[&["-ign_eof"], args].concat(), &get_close("/hello.txt"), Duration::ZERO);
        let what = format!("s_client {args:?}");
        assert!(out.contains(&format!("New, {proto}, Cipher is {suite}\n")), "{what}: {out}");
        assert!(out.contains(&format!("Server Temp Key: {key}\n")), "{what}: {out}");
        assert!(out.contains("HTTP/1.1 200 OK\r\n") && out.contains("hello over tls\n"), "{what}: {out}");
    };
    const X25519: &str = "X25519, 253 bits";
    const P256: &str = "ECDH, prime256v1, 256 bits";
    for suite in ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"] {
        for (group, key) in [("X25519", X25519), ("P-256", P256)] {
            check(&["-tls1_3", "-ciphersuites", suite, "-groups", group], "TLSv1.3", suite, key);
        }
    }
    // TLS 1.2: the client checks the certificate's curve against its own
    // groups, so P-256 is always offered; X25519 first picks X25519.
    for suite in ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"] {
        for (groups, key) in [("X25519:P-256", X25519), ("P-256", P256)] {
            check(&["-tls1_2", "-cipher", suite, "-groups", groups], "TLSv1.2", suite, key);
        }
    }
    // ALPN: http/1.1 is chosen; a client offering only h2 gets no ALPN.
    let out = t.s_client(&["-alpn", "h2,http/1.1"], b"", Duration::ZERO);
    assert!(out.contains("ALPN protocol: http/1.1\n"), "{out}");
    t.assert_fresh_200(&site, "every suite");
}

/// Connects with s_client `args` (a request answered, then a close), and
/// returns its output.
fn s_client_get(t: &Tls, args: &[&str]) -> String {
    t.s_client(&[&["-ign_eof"], args].concat(), &get_close("/hello.txt"), Duration::ZERO)
}

/// A session saved to `sess` by a full handshake at `version`.
fn new_session(t: &Tls, version: &str, sess: &str) -> String {
    let out = s_client_get(t, &[version, "-sess_out", sess]);
    assert!(out.contains("\nNew, TLSv1."), "{version} first handshake: {out}");
    assert!(out.contains("hello over tls\n"), "{out}");
    assert!(Path::new(sess).exists(), "{version}: no session saved: {out}");
    out
}

/// Resumes `sess` and asserts it was resumed (`Reused`) and served.
fn assert_resumes(t: &Tls, version: &str, sess: &str, what: &str) {
    let out = s_client_get(t, &[version, "-sess_in", sess]);
    let want = if version == "-tls1_3" { "\nReused, TLSv1.3, " } else { "\nReused, TLSv1.2, " };
    assert!(out.contains(want), "{what}: not resumed: {out}");
    assert!(out.contains("HTTP/1.1 200 OK\r\n") && out.contains("hello over tls\n"), "{what}: {out}");
}

// 3. Resumption with session tickets, TLS 1.3 and 1.2.
fn resumption(arch: Arch) {
    if !have(&["openssl"]) {
        return;
    }
    let site = Site::new("tls-resume");
    let Some(t) = start_tls(arch, &site, &["--workers", "2"]) else { return };
    for v in ["-tls1_3", "-tls1_2"] {
        let sess = site.path(&format!("sess{v}"));
        new_session(&t, v, &sess);
        for i in 0..3 {
            assert_resumes(&t, v, &sess, &format!("{v} resumption {i}"));
        }
    }
}

// 4. A session made on one worker resumes on the other: the other worker
// is stopped (SIGSTOP) while the session is made, then the first is.
fn resumption_across_workers(arch: Arch) {
    if !have(&["openssl"]) {
        return;
    }
    let site = Site::new("tls-resume-workers");
    let Some(t) = start_tls(arch, &site, &["--workers", "2"]) else { return };
    let w = t.s.wait_workers(2);
    assert_eq!(w.len(), 2, "two workers: {w:?}");
    let sig = |sig: &str, pid: u32| {
        assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
    };
    for v in ["-tls1_3", "-tls1_2"] {
        for (made_on, resumed_on) in [(w[0], w[1]), (w[1], w[0])] {
            let sess = site.path(&format!("sess{v}-{made_on}"));
            sig("-STOP", resumed_on);
            new_session(&t, v, &sess);
            sig("-CONT", resumed_on);
            sig("-STOP", made_on);
            let what = format!("{v}: made on worker {made_on}, resumed on {resumed_on}");
            let r = std::panic::catch_unwind(|| assert_resumes(&t, v, &sess, &what));
            sig("-CONT", made_on);
            if let Err(e) = r {
                std::panic::resume_unwind(e);
            }
        }
    }
    // And many resumptions on whichever worker takes them.
    let sess = site.path("sess-many");
    new_session(&t, "-tls1_3", &sess);
    let n = if native(arch) { 20 } else { 8 };
    for i in 0..n {
        assert_resumes(&t, "-tls1_3", &sess, &format!("resumption {i} of {n}"));
    }
    t.assert_workers_unchanged(&w);
}

// 5. SNI picks the pair for the name; an unknown name or none gets the first.
fn sni(arch: Arch) {
    if !have(&["openssl"]) {
        return;
    }
    let site = Site::new("tls-sni");
    let (ac, ak) = make_pair(site.dir.path(), "a", "a.test", 30);
    let (bc, bk) = make_pair(site.dir.path(), "b", "b.test", 30);
    let (a, b) = (file_serial(&ac), file_serial(&bc));
    assert_ne!(a, b);
    let tls = free_port().to_string();
    let root = site.path("root");
    let args = [
        "--root", &root, "--tls-port", &tls,
        "--tls-cert", ac.to_str().unwrap(), "--tls-key", ak.to_str().unwrap(),
        "--tls-cert", bc.to_str().unwrap(), "--tls-key", bk.to_str().unwrap(),
    ];
    let Some(s) = start_driftd(arch, &args, &[]) else { return };
    let t = Tls { s, tls: tls.parse().unwrap(), arch };
    assert_eq!(t.serial(Some("b.test")), b, "SNI b.test");
    assert_eq!(t.serial(Some("a.test")), a, "SNI a.test");
    assert_eq!(t.serial(Some("B.TEST")), b, "SNI is case-insensitive");
    assert_eq!(t.serial(Some("unknown.test")), a, "an unknown name gets the first pair");
    assert_eq!(t.serial(None), a, "no SNI gets the first pair");
    // And a verifying client for b.test gets served.
    if have(&["curl"]) {
        let mut cmd = Command::new("curl");
        let resolve = format!("b.test:{tls}:127.0.0.1");
        cmd.args(["-sS", "--max-time", "30", "--cacert", bc.to_str().unwrap(), "--resolve", &resolve]);
        cmd.arg(format!("https://b.test:{tls}/hello.txt"));
        let (code, out, err) = run(cmd, b"", Duration::ZERO, t.limit());
        assert_eq!(code, Some(0), "curl b.test: {err}");
        assert_eq!(out, HELLO);
    }
}

// 6. TLS 1.0 and 1.1 get protocol_version (alert 70), never a downgrade.
fn old_protocols_refused(arch: Arch) {
    if !have(&["openssl", "curl"]) {
        return;
    }
    let site = Site::new("tls-old");
    let Some(t) = start_tls(arch, &site, &[]) else { return };
    for v in ["-tls1", "-tls1_1"] {
        // SECLEVEL=0: OpenSSL 3 will not even offer these otherwise.
        let out = t.s_client(&[v, "-cipher", "DEFAULT:@SECLEVEL=0"], b"", Duration::ZERO);
        assert!(out.contains("Cipher is (NONE)"), "{v}: a handshake completed: {out}");
        assert!(out.contains("alert protocol version") && out.contains("SSL alert number 70"), "{v}: want alert 70 (protocol_version): {out}");
        t.assert_fresh_200(&site, v);
    }
}

// 7. No shared suite: handshake_failure (alert 40).
fn no_shared_suite(arch: Arch) {
    if !have(&["openssl", "curl"]) {
        return;
    }
    let site = Site::new("tls-nosuite");
    let Some(t) = start_tls(arch, &site, &[]) else { return };
    for args in [
        &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"][..], // RSA: not with our ECDSA key
        &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"],          // CBC
        &["-tls1_2", "-cipher", "AES128-GCM-SHA256"],               // no ECDHE
        &["-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256"],    // not offered
    ] {
        let out = t.s_client(args, b"", Duration::ZERO);
        assert!(out.contains("Cipher is (NONE)"), "{args:?}: a handshake completed: {out}");
        assert!(out.contains("alert handshake failure") && out.contains("SSL alert number 40"), "{args:?}: {out}");
        t.assert_fresh_200(&site, &format!("{args:?}"));
    }
}

// 8. Garbage, a truncated ClientHello then silence, plain HTTP, a ClientHello
// byte by byte, and a renegotiation attempt.
fn hostile_bytes(arch: Arch) {
    if !have(&["openssl", "curl", "python3"]) {
        return;
    }
    let site = Site::new("tls-hostile");
    let Some(t) = start_tls(arch, &site, &["--head-timeout", "2"]) else { return };
    let addr = t.tls_addr();

    // Garbage: closed (an alert may come first).
    let mut c = connect(&addr);
    c.write_all(&[0x5a; 300]).unwrap();
    assert!(closed(&mut c), "garbage: still open");
    let mut c = connect(&addr);
    c.write_all(b"\x16\x03\x01\xff\xff").unwrap(); // a record longer than TLS allows
    c.write_all(&[0u8; 64]).unwrap();
    assert!(closed(&mut c), "oversized record: still open");
    t.assert_fresh_200(&site, "garbage");

    // A truncated ClientHello, then silence: closed at the head timeout (2 s).
    let hello = client_hello();
    let mut c = connect(&addr);
    c.write_all(&hello[..60]).unwrap();
    let at = Instant::now();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut b = [0u8; 4096];
    let end = loop {
        match read_some(&mut c, &mut b) {
            Ok(0) => break "EOF",
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break "reset",
            Err(e) => panic!("truncated ClientHello: still open after {:?}: {e}", at.elapsed()),
        }
    };
    let took = at.elapsed();
    assert!(took >= Duration::from_millis(1500) && took < Duration::from_secs(6), "truncated ClientHello: {end} after {took:?}, want ~2 s");
    t.assert_fresh_200(&site, "a truncated ClientHello");

    // Plain HTTP on the TLS port: the 400 naming the mistake, then a close.
    let mut c = connect(&addr);
    c.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let r = read_response(&mut c, &mut Vec::new(), false);
    assert_eq!(r.status_line, "HTTP/1.1 400 Bad Request");
    let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["Server", "Date", "Content-Type", "Content-Length", "Connection"], "{r:?}");
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(String::from_utf8_lossy(&r.body), PLAIN_ON_TLS_BODY);
    assert!(closed(&mut c), "plain HTTP on the TLS port: not closed after the 400");
    t.assert_fresh_200(&site, "plain HTTP on the TLS port");

    // A ClientHello one byte at a time: the ServerHello comes back.
    let mut c = connect(&addr);
    for byte in &hello {
        c.write_all(std::slice::from_ref(byte)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut head = [0u8; 6];
    c.set_read_timeout(Some(Duration::from_secs(10 * slow(arch) as u64))).unwrap();
    c.read_exact(&mut head).expect("a ServerHello after a ClientHello sent byte by byte");
    assert_eq!((head[0], head[1], head[2], head[5]), (0x16, 0x03, 0x03, 0x02), "a ServerHello record: {head:?}");
    drop(c);
    t.assert_fresh_200(&site, "a ClientHello byte by byte");

    // Renegotiation (TLS 1.2, `R` on s_client's stdin, once the first
    // request is answered): refused with no_renegotiation, not performed.
    const RENEGOTIATE_PY: &str = r#"
import subprocess, sys, time
p = subprocess.Popen(['openssl', 's_client', '-connect', sys.argv[1], '-tls1_2'],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
req = b'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n'
for line in [req, b'R\n', req]:  # s_client acts on an R that starts a read
    try:
        p.stdin.write(line)
        p.stdin.flush()
    except Exception:
        pass
    time.sleep(float(sys.argv[2]))
try:
    p.stdin.close()
except Exception:
    pass
sys.stdout.buffer.write(p.stdout.read())
p.wait(timeout=30)
"#;
    let script = RENEGOTIATE_PY;
    let mut py = Command::new("python3");
    py.arg("-c").arg(script).args([&addr, &slow(arch).to_string()]);
    let (_, out, err) = run(py, b"", Duration::ZERO, Duration::from_secs(60));
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("HTTP/1.1 200 OK\r\n"), "renegotiation: the first request: {out}{err}");
    assert!(out.contains("RENEGOTIATING"), "renegotiation: s_client did not try: {out}{err}");
    let after = &out[out.find("RENEGOTIATING").unwrap()..];
    assert!(after.contains("no renegotiation"), "renegotiation not refused with no_renegotiation: {after}{err}");
    assert!(!after.contains("HTTP/1.1 200 OK"), "served after a renegotiation: {after}");
    t.assert_fresh_200(&site, "a renegotiation attempt");
}

// 9. A flood of half-done handshakes from one client, then fresh clients.
fn handshake_flood(arch: Arch) {
    if !have(&["curl", "python3", "prlimit"]) {
        return;
    }
    let n = if native(arch) { 2000 } else { 1000 };
    // Room for the flood's sockets in this process (children inherit it).
    let want = (n as u64 + 1000).min(hard_nofile());
    let st = Command::new("prlimit")
        .args(["--pid", &std::process::id().to_string(), &format!("--nofile={want}:{}", hard_nofile())])
        .status()
        .unwrap();
    assert!(st.success());
    let site = Site::new("tls-flood");
    let Some(t) = start_tls(arch, &site, &["--workers", "2"]) else { return };
    let workers = t.s.wait_workers(2);
    let hello = client_hello();
    let addr = t.tls_addr();
    let mut held = Vec::with_capacity(n);
    let t0 = Instant::now();
    for _ in 0..n {
        let Ok(c) = TcpStream::connect(&addr) else { continue };
        c.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = (&c).write_all(&hello); // refused ones may be reset already
        held.push(c);
    }
    let flooded = t0.elapsed();
    assert!(held.len() >= n * 9 / 10, "only {} of {n} connections were accepted", held.len());
    // Fresh clients get 200 (the cap closes the excess; give it time).
    let t1 = Instant::now();
    let limit = Duration::from_secs(30 * slow(arch) as u64);
    loop {
        let (code, out, err) = t.curl(&site, &[&t.url("/hello.txt")]);
        if code == Some(0) && out == HELLO {
            break;
        }
        assert!(t1.elapsed() < limit, "no 200 within {limit:?} of a {n}-handshake flood: curl {code:?} {err}");
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("{n} half-done handshakes sent in {flooded:?}; a fresh client got 200 after {:?}", t1.elapsed());
    // Several fresh clients, while the flood is still held open.
    for i in 0..5 {
        t.assert_fresh_200(&site, &format!("the flood (client {i})"));
    }
    drop(held);
    t.assert_fresh_200(&site, "the flood closed");
    t.assert_workers_unchanged(&workers);
}

/// Python: one verified keep-alive connection; prints the serial and the
/// first response, waits for a line on stdin, then does a second request
/// on the same connection and prints its status and body.
const KEEPALIVE_PY: &str = r#"
import ssl, sys, socket
ctx = ssl.create_default_context(cafile=sys.argv[1])
raw = socket.create_connection(('127.0.0.1', int(sys.argv[2])), timeout=60)
s = ctx.wrap_socket(raw, server_hostname='localhost')
def get():
    s.sendall(b'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n')
    buf = b''
    while b'\r\n\r\n' not in buf:
        d = s.recv(65536)
        if not d: return 'EOF'
        buf += d
    head, body = buf.split(b'\r\n\r\n', 1)
    n = int([l.split(b': ')[1] for l in head.split(b'\r\n') if l.lower().startswith(b'content-length')][0])
    while len(body) < n:
        d = s.recv(65536)
        if not d: return 'EOF'
        body += d
    return head.split(b'\r\n')[0].decode() + ' ' + repr(body)
print('serial=' + s.getpeercert()['serialNumber'], get(), flush=True)
sys.stdin.readline()
print(get(), flush=True)
"#;

/// The keep-alive client above, started; returns it and its first line.
fn keepalive_client(site: &Site, t: &Tls) -> (std::process::Child, std::io::BufReader<std::process::ChildStdout>, String) {
    use std::io::BufRead;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(KEEPALIVE_PY)
        .args([&site.cert(), &t.tls.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut r = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    (child, r, line)
}

fn keepalive_second(mut child: std::process::Child, mut r: std::io::BufReader<std::process::ChildStdout>) -> String {
    use std::io::BufRead;
    child.stdin.as_mut().unwrap().write_all(b"\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let (code, _) = wait_child(&mut child, Duration::from_secs(30));
    let _ = child.kill();
    assert_eq!(code, Some(0), "the keep-alive client failed: {line}");
    line
}

/// Replaces `site`'s cert.pem/key.pem by a new pair, each file renamed into place.
fn replace_pair(site: &Site) -> String {
    let fresh = TempDir::new("tls-newpair");
    let (c, k) = make_pair(fresh.path(), "n", "localhost", 30);
    // Same filesystem for rename: copy next to the target first.
    std::fs::copy(&k, site.dir.path().join(".key.new")).unwrap();
    std::fs::copy(&c, site.dir.path().join(".cert.new")).unwrap();
    std::fs::rename(site.dir.path().join(".key.new"), site.dir.path().join("key.pem")).unwrap();
    std::fs::rename(site.dir.path().join(".cert.new"), site.dir.path().join("cert.pem")).unwrap();
    file_serial(&site.dir.path().join("cert.pem"))
}

/// Waits up to `limit` for new handshakes to get certificate `serial`.
fn wait_serial(t: &Tls, serial: &str, limit: Duration) -> bool {
    let at = Instant::now();
    while at.elapsed() < limit {
        if t.serial(Some("localhost")) == serial {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

// 10. SIGHUP reloads: new handshakes get the new pair, an open keep-alive
// connection keeps working; a broken file keeps the old pair, and says so.
fn reload_on_sighup(arch: Arch) {
    if !have(&["openssl", "python3"]) {
        return;
    }
    let site = Site::new("tls-hup");
    let Some(t) = start_tls(arch, &site, &["--workers", "2"]) else { return };
    let old = file_serial(Path::new(&site.cert()));
    assert_eq!(t.serial(Some("localhost")), old);
    let (child, r, first) = keepalive_client(&site, &t);
    assert_eq!(first.trim_end(), format!("{old} HTTP/1.1 200 OK b'hello over tls\\n'"));

    let new = replace_pair(&site);
    assert_ne!(new, old);
    t.s.signal("HUP");
    assert!(t.s.wait_stderr(t.limit(), |l| l.iter().any(|l| l == "driftd: certificates reloaded")), "{:?}", t.s.stderr.lock().unwrap());
    assert!(wait_serial(&t, &new, Duration::from_secs(2)), "after SIGHUP new handshakes still get {}", t.serial(Some("localhost")));
    assert_eq!(keepalive_second(child, r).trim_end(), "HTTP/1.1 200 OK b'hello over tls\\n'", "the connection opened before the reload");

    // A broken certificate file: one line saying why, one saying the old stay.
    let lines_before = t.s.stderr.lock().unwrap().len();
    site.write("cert.pem", b"not a certificate\n");
    t.s.signal("HUP");
    let want = [
        format!("driftd: --tls-cert {}: no CERTIFICATE block in the file", site.cert()),
        "driftd: certificates not reloaded; the ones loaded before stay".to_string(),
    ];
    assert!(
        t.s.wait_stderr(t.limit(), |l| l.len() >= lines_before + 2 && l[lines_before..].windows(2).any(|w| w == want)),
        "want {want:?} after a SIGHUP with a broken file; stderr: {:?}",
        t.s.stderr.lock().unwrap()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(t.serial(Some("localhost")), new, "a broken file must keep the pair loaded before");
    t.assert_fresh_200_any_cert(&new);
    t.assert_workers_unchanged(&t.s.wait_workers(2));
}

impl Tls {
    /// A fresh client gets 200 (certificate not verified: it may not be `site`'s any more).
    fn assert_fresh_200_any_cert(&self, what: &str) {
        let out = self.s_client(&["-ign_eof"], &get_close("/hello.txt"), Duration::ZERO);
        assert!(out.contains("HTTP/1.1 200 OK\r\n") && out.contains("hello over tls\n"), "{what}: {out}");
    }
}

// 11. Replacing the files (no signal) switches new handshakes within ~2 s.
fn reload_on_file_change(arch: Arch) {
    if !have(&["openssl", "python3"]) {
        return;
    }
    let site = Site::new("tls-inotify");
    let Some(t) = start_tls(arch, &site, &[]) else { return };
    let old = file_serial(Path::new(&site.cert()));
    assert_eq!(t.serial(Some("localhost")), old);
    let (child, r, _) = keepalive_client(&site, &t);
    let new = replace_pair(&site);
    let at = Instant::now();
    assert!(wait_serial(&t, &new, Duration::from_secs(2 * slow(arch) as u64)), "new handshakes did not switch within 2 s of the files changing; stderr {:?}", t.s.stderr.lock().unwrap());
    eprintln!("switched after {:?}", at.elapsed());
    assert!(t.s.wait_stderr(Duration::from_secs(2), |l| l.iter().any(|l| l == "driftd: certificates reloaded")));
    assert_eq!(keepalive_second(child, r).trim_end(), "HTTP/1.1 200 OK b'hello over tls\\n'");

    // A broken key written in place: the pair stays, and the reason is said.
    let lines_before = t.s.stderr.lock().unwrap().len();
    site.write("key.pem", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    assert!(
        t.s.wait_stderr(Duration::from_secs(5), |l| l[lines_before..].iter().any(|l| l == "driftd: certificates not reloaded; the ones loaded before stay")),
        "stderr: {:?}",
        t.s.stderr.lock().unwrap()
    );
    assert_eq!(t.serial(Some("localhost")), new);
    t.assert_fresh_200_any_cert("a broken key file");
}

// 12. The same with the files named relative to driftd's directory, as the
// issue's example does (`--tls-cert cert.pem`).
fn reload_relative_paths(arch: Arch) {
    if !have(&["openssl"]) {
        return;
    }
    let site = Site::new("tls-relative");
    let tls = free_port();
    let port = free_port();
    let (p, tp) = (port.to_string(), tls.to_string());
    let args = ["--port", &p, "--root", "root", "--tls-port", &tp, "--tls-cert", "cert.pem", "--tls-key", "key.pem"];
    let Some(mut cmd) = command(arch, "driftd", &args) else { return };
    cmd.current_dir(site.dir.path());
    let t = Tls { s: DriftdServer::start(cmd, port), tls, arch };
    let old = file_serial(Path::new(&site.cert()));
    assert_eq!(t.serial(Some("localhost")), old);
    let new = replace_pair(&site);
    t.s.signal("HUP");
    assert!(
        wait_serial(&t, &new, Duration::from_secs(3 * slow(arch) as u64)),
        "after SIGHUP (relative paths) new handshakes still get the old certificate; stderr: {:?}",
        t.s.stderr.lock().unwrap()
    );
    let err = t.s.stderr.lock().unwrap();
    assert!(!err.iter().any(|l| l.contains("ENOENT")), "a reload could not find the files: {err:?}");
}

// 13. Content over TLS: a 1 MiB file, Range, 304, .gz, the access log, HSTS.
fn content(arch: Arch) {
    if !have(&["curl"]) {
        return;
    }
    let site = Site::new("tls-content");
    let mut big = Vec::with_capacity(1 << 20);
    let mut x: u32 = 2463534242;
    while big.len() < 1 << 20 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        big.extend_from_slice(&x.to_le_bytes());
    }
    site.write("root/big.bin", &big);
    site.write("root/style.css", b"body { color: red }\n");
    let gz: &[u8] = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03stands-in-for-gzip";
    site.write("root/style.css.gz", gz);
    let Some(t) = start_tls(arch, &site, &["--hsts", "600"]) else { return };

    // 1 MiB, byte for byte.
    let out_file = site.path("got.bin");
    let (code, _, err) = t.curl(&site, &["-o", &out_file, &t.url("/big.bin")]);
    assert_eq!(code, Some(0), "{err}");
    assert!(std::fs::read(&out_file).unwrap() == big, "1 MiB over TLS: the bytes differ");

    // Range.
    let (code, out, err) = t.curl(&site, &["-r", "0-99", "-D", "-", &t.url("/big.bin")]);
    assert_eq!(code, Some(0), "{err}");
    let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&out[..head_end]);
    assert!(head.starts_with("HTTP/1.1 206 Partial Content\r\n"), "{head}");
    assert!(head.contains("Content-Range: bytes 0-99/1048576\r\n"), "{head}");
    assert!(out[head_end..] == big[..100], "Range 0-99: the bytes differ");
    let (code, out, _) = t.curl(&site, &["-r", "1048000-", &t.url("/big.bin")]);
    assert_eq!(code, Some(0));
    assert!(out == big[1048000..], "Range 1048000-: the bytes differ");

    // 304 with the ETag a first response gave.
    let (_, out, _) = t.curl(&site, &["-D", "-", "-o", "/dev/null", &t.url("/hello.txt")]);
    let head = String::from_utf8_lossy(&out).into_owned();
    let etag = head.lines().find_map(|l| l.strip_prefix("ETag: ")).unwrap_or_else(|| panic!("no ETag: {head}")).trim();
    let inm = format!("If-None-Match: {etag}");
    let (code, out, err) = t.curl(&site, &["-H", &inm, "-w", "%{http_code}", &t.url("/hello.txt")]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(String::from_utf8_lossy(&out), "304");

    // .gz beside the file, for a client that accepts gzip.
    let (code, out, err) = t.curl(&site, &["-H", "Accept-Encoding: gzip", "-w", "%header{content-encoding}", &t.url("/style.css")]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, [gz, b"gzip"].concat());
    let (_, out, _) = t.curl(&site, &[&t.url("/style.css")]);
    assert_eq!(out, b"body { color: red }\n");

    // HSTS on https responses, not on plain ones.
    let (_, out, _) = t.curl(&site, &["-sSI", &t.url("/hello.txt")]);
    let head = String::from_utf8_lossy(&out).into_owned();
    assert!(head.contains("\r\nStrict-Transport-Security: max-age=600\r\n"), "https: {head}");
    let plain = request(&t.s.addr(), b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.header("Strict-Transport-Security"), None, "plain http must not send HSTS");

    // The access log line for an https request.
    let (code, _, _) = t.curl(&site, &[&t.url("/logged-over-tls")]);
    assert_eq!(code, Some(0));
    let ok = t.s.wait_stdout(Duration::from_secs(5), |l| {
        l.iter().any(|l| l.starts_with("127.0.0.1 - - [") && l.contains("] \"GET /logged-over-tls HTTP/1.1\" 404 "))
    });
    assert!(ok, "no access log line: {:?}", t.s.stdout.lock().unwrap());
}

// 14. A chunked PUT (and one with 100-continue) to the KV store over TLS.
fn kv_over_tls(arch: Arch) {
    if !have(&["curl"]) {
        return;
    }
    let site = Site::new("tls-kv");
    let kv = site.path("kv");
    std::fs::create_dir(&kv).unwrap();
    let tls = free_port();
    let tp = tls.to_string();
    let (cert, key) = (site.cert(), site.path("key.pem"));
    let args = ["--kv", &kv, "--tls-port", &tp, "--tls-cert", &cert, "--tls-key", &key];
    let Some(s) = start_driftd(arch, &args, &[]) else { return };
    let t = Tls { s, tls, arch };
    let value: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (code, out, err) = t.curl_in(
        &site,
        &["-T", "-", "-H", "Transfer-Encoding: chunked", "-w", "%{http_code}", &t.url("/chunked")],
        &value,
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(String::from_utf8_lossy(&out).ends_with("201"), "chunked PUT: {}", String::from_utf8_lossy(&out));
    let (code, out, _) = t.curl(&site, &[&t.url("/chunked")]);
    assert_eq!(code, Some(0));
    assert!(out == value, "the value read back differs ({} bytes)", out.len());

    let (code, out, err) = t.curl_in(
        &site,
        &["-T", "-", "-H", "Expect: 100-continue", "-w", "%{http_code}", "-v", &t.url("/continued")],
        &value[..5000],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(String::from_utf8_lossy(&out).ends_with("201"), "{err}");
    assert!(err.contains("HTTP/1.1 100 Continue"), "no 100 Continue: {err}");
    let (_, out, _) = t.curl(&site, &[&t.url("/continued")]);
    assert!(out == value[..5000]);
}

// 15. 16 pipelined requests in one TLS write: 16 responses, in order.
fn pipelined(arch: Arch) {
    if !have(&["python3"]) {
        return;
    }
    let site = Site::new("tls-pipe");
    for i in 0..16 {
        site.write(&format!("root/p{i}.txt"), format!("file {i}\n").as_bytes());
    }
    let Some(t) = start_tls(arch, &site, &[]) else { return };
    const PY: &str = r#"
import ssl, sys, socket
ctx = ssl.create_default_context(cafile=sys.argv[1])
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[2])), timeout=30), server_hostname='localhost')
reqs = b''.join(b'GET /p%d.txt HTTP/1.1\r\nHost: localhost\r\n%s\r\n' % (i, b'Connection: close\r\n' if i == 15 else b'') for i in range(16))
s.sendall(reqs)
buf = b''
while True:
    d = s.recv(65536)
    if not d: break
    buf += d
sys.stdout.buffer.write(buf)
"#;
    let (code, out, err) = python(PY, &[&site.cert(), &t.tls.to_string()], t.limit());
    assert_eq!(code, Some(0), "{err}");
    let mut rest = out.as_bytes();
    for i in 0..16 {
        let he = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("response {i} missing: {out}")) + 4;
        let head = std::str::from_utf8(&rest[..he]).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "response {i}: {head}");
        let body = format!("file {i}\n");
        assert_eq!(&rest[he..he + body.len()], body.as_bytes(), "response {i}");
        rest = &rest[he + body.len()..];
    }
    assert!(rest.is_empty(), "bytes after 16 responses: {rest:?}");
}

// 16. --https-redirect: the plain port answers 308 to the same path on https.
fn https_redirect(arch: Arch) {
    if !have(&["curl"]) {
        return;
    }
    let site = Site::new("tls-redirect");
    let Some(t) = start_tls(arch, &site, &["--https-redirect"]) else { return };
    let host = format!("localhost:{}", t.s.port);
    let r = request(&t.s.addr(), format!("GET /hello.txt?x=1 HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
    assert_eq!(r.status_line, "HTTP/1.1 308 Permanent Redirect", "{r:?}");
    assert_eq!(r.header("Location"), Some(format!("https://localhost:{}/hello.txt?x=1", t.tls).as_str()), "{r:?}");
    // curl follows it to https and gets the file.
    let resolve = format!("localhost:{}:127.0.0.1", t.s.port);
    let (code, out, err) = t.curl(&site, &["-L", "--resolve", &resolve, &format!("http://{host}/hello.txt")]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, HELLO);
}

/// Runs driftd of `arch` with `args` and expects it to exit 2 with exactly
/// `line` on stderr.
fn assert_refused(arch: Arch, args: &[&str], line: &str) {
    let port = free_port().to_string();
    let tls = free_port().to_string();
    let mut all = vec!["--port", &port, "--tls-port", &tls];
    all.extend_from_slice(args);
    let Some(cmd) = command(arch, "driftd", &all) else { return };
    let (code, out, err) = run(cmd, b"", Duration::ZERO, Duration::from_secs(20));
    assert_eq!((code, err.as_str(), out.len()), (Some(2), format!("{line}\n").as_str(), 0), "driftd {args:?}");
}

// 17. Start-up refusals, one line each, exit 2; and the expiry warning.
fn startup_refusals(arch: Arch) {
    if !have(&["openssl", "curl"]) {
        return;
    }
    let site = Site::new("tls-refuse");
    let d = site.dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let root = site.path("root");
    let (cert, key) = (site.cert(), site.path("key.pem"));
    // RSA.
    openssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &s(&d.join("rsa.key")), "-out", &s(&d.join("rsa.pem")), "-days", "30", "-subj", "/CN=localhost"]);
    let (rc, rk) = (s(&d.join("rsa.pem")), s(&d.join("rsa.key")));
    assert_refused(arch, &["--root", &root, "--tls-cert", &rc, "--tls-key", &rk], &format!(
        "driftd: --tls-key {rk}: RSA keys are not supported; make an ECDSA key: openssl ecparam -name prime256v1 -genkey -noout -out key.pem"
    ));
    // A key that does not match.
    let (_, other_key) = make_pair(d, "other", "localhost", 30);
    let ok_ = s(&other_key);
    assert_refused(arch, &["--root", &root, "--tls-cert", &cert, "--tls-key", &ok_], &format!(
        "driftd: --tls-key {ok_}: the key does not match the certificate in {cert}"
    ));
    // A missing file.
    let missing = s(&d.join("missing.pem"));
    assert_refused(arch, &["--root", &root, "--tls-cert", &missing, "--tls-key", &key], &format!(
        "driftd: --tls-cert {missing}: No such file or directory (ENOENT)"
    ));
    // No certificate in the file (a key file given as the certificate).
    assert_refused(arch, &["--root", &root, "--tls-cert", &key, "--tls-key", &key], &format!(
        "driftd: --tls-cert {key}: no CERTIFICATE block in the file"
    ));
    // --hsts without a certificate.
    assert_refused(arch, &["--root", &root, "--hsts", "600"], "driftd: https-redirect and hsts need tls-cert and tls-key\n(driftd --help lists the options)");

    // Keys in the other accepted forms start: SEC1 P-256, PKCS#8 P-384, Ed25519.
    for (name, keygen) in [
        ("sec1", vec!["ecparam", "-name", "prime256v1", "-genkey", "-noout"]),
        ("p384", vec!["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"]),
        ("ed25519", vec!["genpkey", "-algorithm", "ed25519"]),
    ] {
        let (k, c) = (s(&d.join(format!("{name}.key"))), s(&d.join(format!("{name}.pem"))));
        openssl(&[&keygen[..], &["-out", &k]].concat());
        openssl(&["req", "-x509", "-new", "-key", &k, "-out", &c, "-days", "30", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]);
        if name == "sec1" {
            assert!(std::fs::read_to_string(&k).unwrap().starts_with("-----BEGIN EC PRIVATE KEY-----"));
        }
        let tls = free_port();
        let tp = tls.to_string();
        let Some(srv) = start_driftd(arch, &["--root", &root, "--tls-port", &tp, "--tls-cert", &c, "--tls-key", &k], &[]) else { return };
        let t = Tls { s: srv, tls, arch };
        let (code, out, err) = {
            let mut cmd = Command::new("curl");
            let resolve = format!("localhost:{tls}:127.0.0.1");
            cmd.args(["-sS", "--max-time", "30", "--cacert", &c, "--resolve", &resolve, &t.url("/hello.txt")]);
            run(cmd, b"", Duration::ZERO, t.limit())
        };
        assert_eq!((code, out.as_slice()), (Some(0), HELLO), "{name} key: {err}");
    }

    // A certificate expiring within 14 days: a warning, and it serves.
    let (c5, k5) = make_pair(d, "soon", "localhost", 5);
    let end = openssl(&["x509", "-noout", "-enddate", "-dateopt", "iso_8601", "-in", &s(&c5)]);
    let day = end.trim().strip_prefix("notAfter=").unwrap()[..10].to_string();
    let tls = free_port();
    let tp = tls.to_string();
    let Some(srv) = start_driftd(arch, &["--root", &root, "--tls-port", &tp, "--tls-cert", &s(&c5), "--tls-key", &s(&k5)], &[]) else { return };
    // 5 whole days when driftd starts in the second the certificate was made.
    let want = [4, 5].map(|n| format!("driftd: warning: --tls-cert {} expires {day} (in {n} days)", s(&c5)));
    assert!(srv.stderr.lock().unwrap().iter().any(|l| want.contains(l)), "want {want:?} in {:?}", srv.stderr.lock().unwrap());
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "30", "--cacert", &s(&c5), "--resolve", &format!("localhost:{tls}:127.0.0.1"), &format!("https://localhost:{tls}/hello.txt")]);
    let (code, out, err) = run(cmd, b"", Duration::ZERO, Duration::from_secs(60));
    assert_eq!((code, out.as_slice()), (Some(0), HELLO), "{err}");
}

// 18. testssl: no vulnerability, no weak protocol or cipher. The host's
// arch only: it makes hundreds of handshakes (about 50 s natively).
#[test]
fn testssl_native_arch() {
    testssl(if cfg!(target_arch = "aarch64") { Arch::Aarch64 } else { Arch::X86_64 })
}

fn testssl(arch: Arch) {
    if !have(&["testssl"]) {
        return;
    }
    let site = Site::new("tls-testssl");
    let Some(t) = start_tls(arch, &site, &["--workers", "2"]) else { return };
    let mut cmd = Command::new("testssl");
    cmd.args(["--quiet", "--color", "0", "--warnings", "off", "-p", "-s", "-f", "-U", "--ip", "127.0.0.1"]);
    cmd.arg(format!("localhost:{}", t.tls));
    let (_, out, err) = run(cmd, b"", Duration::ZERO, Duration::from_secs(240));
    let out = String::from_utf8_lossy(&out);
    let bad: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("VULNERABLE") || l.contains("NOT ok") || l.contains("offered (NOT ok)"))
        .filter(|l| !l.contains("not vulnerable"))
        .collect();
    assert!(bad.is_empty(), "testssl found: {bad:#?}\n{out}{err}");
    for want in ["TLS 1.3    offered", "TLS 1.2    offered", "SSLv2      not offered", "SSLv3      not offered", "TLS 1      not offered", "TLS 1.1    not offered"] {
        assert!(out.contains(want), "testssl: no {want:?}:\n{out}");
    }
    t.assert_fresh_200(&site, "testssl");
}

// 17. Graceful stop over HTTPS: a download in flight finishes (a slow
// reader, 1 MiB), an idle keep-alive connection is closed once the drain's
// moment for a request on its way (500 ms) has passed, new connections are
// refused, and the server exits 0.
fn graceful_stop(arch: Arch) {
    if !have(&["curl", "python3"]) {
        return;
    }
    let site = Site::new("tls-graceful");
    let big: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    site.write("root/big.bin", &big);
    let Some(mut t) = start_tls(arch, &site, &["--workers", "1", "--grace", "30"]) else { return };
    // The idle one: a verified keep-alive connection that made one request.
    let (idle, idle_out, first) = keepalive_client(&site, &t);
    assert!(first.contains("200 OK"), "{first}");
    // The slow one: 1 MiB at 256 KiB/s, about 4 s.
    let out = site.path("got.bin");
    let resolve = format!("localhost:{}:127.0.0.1", t.tls);
    let mut slow_dl = Command::new("curl")
        .args(["-sS", "--limit-rate", "256k", "--cacert", &site.cert(), "--resolve", &resolve, "-o", &out, &t.url("/big.bin")])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    t.s.signal("TERM");
    // New connections are refused once the listeners are closed (the
    // worker has read the signal by then).
    let t0 = Instant::now();
    while TcpStream::connect(t.tls_addr()).is_ok() {
        assert!(t0.elapsed() < Duration::from_secs(5 * slow(arch) as u64), "the TLS port still accepts after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The idle connection was closed after its moment: a second request
    // sent later finds EOF.
    std::thread::sleep(Duration::from_millis(1000 * slow(arch) as u64));
    let second = keepalive_second(idle, idle_out);
    assert_eq!(second.trim(), "EOF", "the idle keep-alive connection after SIGTERM");
    let (code, _) = wait_child(&mut slow_dl, Duration::from_secs(30 * slow(arch) as u64));
    assert_eq!(code, Some(0), "the download in flight did not finish");
    assert_eq!(std::fs::read(&out).unwrap(), big, "the bytes of the download in flight");
    let (status, took) = t.s.wait_exit(Duration::from_secs(30 * slow(arch) as u64));
    assert_eq!(status, Some(0), "driftd exit after SIGTERM (took {took:?})");
}

for_both_arches!(
    real_clients,
    protocols_suites_groups,
    resumption,
    resumption_across_workers,
    sni,
    old_protocols_refused,
    no_shared_suite,
    hostile_bytes,
    handshake_flood,
    reload_on_sighup,
    reload_on_file_change,
    reload_relative_paths,
    content,
    kv_over_tls,
    pipelined,
    https_redirect,
    startup_refusals,
    graceful_stop,
);
