//! End-to-end tests of `driftd --root DIR`: static files over raw sockets
//! (curl would normalise the attack paths away), on x86_64 with openat2,
//! on x86_64 with the component-by-component fallback forced
//! (DRIFTD_NO_OPENAT2=1), and on aarch64 under qemu-aarch64, which has no
//! openat2 and so takes the fallback by itself. Every check is exact: status
//! line, header values, body bytes.
mod common;

use common::*;
use std::ffi::OsStr;
use std::fs;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, UNIX_EPOCH};

/// Which binary, and whether to force the openat2-less path lookup.
#[derive(Clone, Copy, Debug)]
struct Run {
    arch: Arch,
    no_openat2: bool,
}

/// hello.txt's mtime: the RFC 9110 example date.
const HELLO_MTIME: u64 = 784_111_777;
const HELLO_DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const HELLO: &[u8] = b"hello, world\n";
const INDEX: &[u8] = b"<h1>root index</h1>\n";
const DIR_INDEX: &[u8] = b"<p>dir index</p>\n";
const CSS: &[u8] = b"body { color: red; }\n";
/// Stands in for style.css.gz: the server must send it as it is.
const CSS_GZ: &[u8] = b"\x1f\x8b\x08\x00GZIPPED-CSS-BYTES";
/// What must never come back: the contents of files outside the root.
const SECRET: &str = "TOP-SECRET-MARKER-8c1f";
const PASSWD: &str = "root:x:0:0";

/// A document root with everything the tests ask for, next to files it
/// must never serve:
///
/// ```text
/// base/secret.txt              SECRET (outside the root)
/// base/rootx/secret.txt        SECRET (shares the root's name as a prefix)
/// base/root/                   the document root
///   index.html hello.txt style.css style.css.gz ranges.bin ns.txt
///   my file.txt café.txt noext types/... dir/ dir/sub/ empty_dir/
///   my dir/ sub/ .env .git/config .well-known/acme.txt
///   link_in -> hello.txt       link_in_dir -> dir
///   sub/link_up_in -> ../hello.txt
///   link_out -> ../secret.txt  link_abs -> /abs/.../secret.txt
///   link_out_dir -> ..         sub/up -> ../..
///   link_pfx -> ../rootx/secret.txt   link_loop -> link_loop
///   link_chain -> link_in      sub/parent -> ..   sub/deep -> ../dir/sub
///   link_via_out -> ../root/hello.txt (leaves the root to come back)
/// ```
struct Site {
    _tmp: TempDir,
    root: PathBuf,
}

impl Site {
    fn new() -> Site {
        let tmp = TempDir::new("static");
        let base = tmp.path().to_path_buf();
        let root = base.join("root");
        let w = |rel: &str, data: &[u8]| put(&base, rel, data);
        w("secret.txt", SECRET.as_bytes());
        w("rootx/secret.txt", SECRET.as_bytes());
        w("root/index.html", INDEX);
        w("root/hello.txt", HELLO);
        w("root/style.css", CSS);
        w("root/style.css.gz", CSS_GZ);
        w("root/ranges.bin", &pattern(1000, 7));
        w("root/ns.txt", b"nanoseconds\n");
        w("root/my file.txt", b"spaced\n");
        w("root/caf\u{e9}.txt", b"accented\n");
        w("root/noext", b"no extension\n");
        w("root/dir/index.html", DIR_INDEX);
        w("root/dir/page.html", b"<p>page</p>\n");
        w("root/dir/sub/index.html", b"<p>sub index</p>\n");
        w("root/empty_dir/listed.txt", b"in a directory without index\n");
        w("root/my dir/index.html", b"<p>my dir</p>\n");
        w("root/sub/file.txt", b"sub file\n");
        w("root/.env", b"SECRET_ENV=do-not-serve\n");
        w("root/.git/config", b"[core]\n\tbare = false\n");
        w("root/.well-known/acme.txt", b"acme token\n");
        for (name, _) in CONTENT_TYPES {
            w(&format!("root/types/{name}"), name.as_bytes());
        }
        set_mtime(&root.join("hello.txt"), UNIX_EPOCH + Duration::from_secs(HELLO_MTIME));
        set_mtime(&root.join("ns.txt"), UNIX_EPOCH + Duration::new(1_700_000_000, 5));
        symlink("hello.txt", root.join("link_in")).unwrap();
        symlink("dir", root.join("link_in_dir")).unwrap();
        symlink("../hello.txt", root.join("sub/link_up_in")).unwrap();
        symlink("../secret.txt", root.join("link_out")).unwrap();
        symlink(base.join("secret.txt"), root.join("link_abs")).unwrap();
        symlink("..", root.join("link_out_dir")).unwrap();
        symlink("../..", root.join("sub/up")).unwrap();
        symlink("../rootx/secret.txt", root.join("link_pfx")).unwrap();
        symlink("link_loop", root.join("link_loop")).unwrap();
        symlink("link_in", root.join("link_chain")).unwrap();
        symlink("..", root.join("sub/parent")).unwrap();
        symlink("../dir/sub", root.join("sub/deep")).unwrap();
        symlink("../root/hello.txt", root.join("link_via_out")).unwrap();
        Site { _tmp: tmp, root }
    }

    fn arg(&self) -> &str {
        self.root.to_str().unwrap()
    }
}

/// Writes `data` to `dir/rel`, making the directories on the way.
fn put(dir: &Path, rel: &str, data: &[u8]) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, data).unwrap();
}

fn set_mtime(p: &Path, t: std::time::SystemTime) {
    fs::File::options().write(true).open(p).unwrap().set_modified(t).unwrap();
}

/// `n` bytes that differ from any shifted copy of themselves (xorshift).
fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The strong ETag the spec gives: `"<mtime>.<nsec>-<size>-<ino>"` in hex.
fn etag_of(p: &Path) -> String {
    let m = fs::metadata(p).unwrap();
    format!("\"{:x}.{:x}-{:x}-{:x}\"", m.mtime() as u64, m.mtime_nsec() as u32, m.size(), m.ino())
}

/// Starts driftd with `args` (plus `--port`), forcing the fallback if asked.
fn start(run: Run, args: &[&str]) -> Option<DriftdServer> {
    let env: &[(&str, &str)] = if run.no_openat2 { &[("DRIFTD_NO_OPENAT2", "1")] } else { &[] };
    start_driftd(run.arch, args, env)
}

/// A fresh `Site` and a driftd serving it, with `args` besides `--root`.
fn serve(run: Run, args: &[&str]) -> Option<(DriftdServer, Site)> {
    let site = Site::new();
    let mut all = vec!["--root", site.arg()];
    all.extend_from_slice(args);
    Some((start(run, &all)?, site))
}

/// `METHOD target HTTP/1.1` with Host and `headers`, as raw bytes (the
/// target goes out exactly as given).
fn raw(method: &str, target: &[u8], headers: &[(&str, &str)]) -> Vec<u8> {
    let mut r = format!("{method} ").into_bytes();
    r.extend_from_slice(target);
    r.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n");
    for (n, v) in headers {
        r.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    r.extend_from_slice(b"\r\n");
    r
}

fn get(addr: &str, target: &str, headers: &[(&str, &str)]) -> Resp {
    request(addr, &raw("GET", target.as_bytes(), headers))
}

fn head(addr: &str, target: &str, headers: &[(&str, &str)]) -> Resp {
    request(addr, &raw("HEAD", target.as_bytes(), headers))
}

/// Asserts a 200 with exactly `body` and `Content-Type: ctype`.
fn assert_ok(r: &Resp, body: &[u8], ctype: &str, what: &str) {
    assert_eq!(r.status_line, "HTTP/1.1 200 OK", "{what}: {r:?}");
    assert_eq!(r.header("Content-Type"), Some(ctype), "{what}");
    assert_eq!(r.header("Content-Length"), Some(body.len().to_string().as_str()), "{what}");
    assert_eq!(r.body, body, "{what}: body {:?}", String::from_utf8_lossy(&r.body));
}

fn assert_status(r: &Resp, status: u16, what: &str) {
    assert_eq!(r.status(), status, "{what}: {} {:?}", r.status_line, String::from_utf8_lossy(&r.body));
}

/// The headers of a response other than `Date`, for comparing GET with HEAD.
fn headers_but_date(r: &Resp) -> Vec<(String, String)> {
    r.headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("Date")).cloned().collect()
}

// 1. A file: exact headers and body, HEAD, keep-alive, decoding of the path.
fn serves_files_with_headers(run: Run) {
    let Some((s, site)) = serve(run, &["--workers", "2"]) else { return };
    let addr = s.addr();
    let hello = site.root.join("hello.txt");

    let r = get(&addr, "/hello.txt", &[]);
    assert_ok(&r, HELLO, "text/plain; charset=utf-8", "GET /hello.txt");
    assert_eq!(r.header("Last-Modified"), Some(HELLO_DATE));
    assert_eq!(r.header("ETag"), Some(etag_of(&hello).as_str()));
    assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(r.header("Server"), Some("driftd"));
    let date = r.header("Date").expect("Date");
    assert!(date.len() == 29 && date.ends_with(" GMT"), "Date: {date}");
    for h in ["Content-Type", "Content-Length", "Last-Modified", "ETag", "Accept-Ranges", "Date", "Server"] {
        assert_eq!(r.count(h), 1, "{h} once: {r:?}");
    }
    // The ETag carries the nanoseconds of the mtime.
    let r = get(&addr, "/ns.txt", &[]);
    assert_eq!(r.header("ETag"), Some(etag_of(&site.root.join("ns.txt")).as_str()));
    assert!(r.header("ETag").unwrap().starts_with("\"6553f100.5-"), "{r:?}");
    assert_eq!(r.header("Last-Modified"), Some("Tue, 14 Nov 2023 22:13:20 GMT"));

    // HEAD: the same headers, no body; keep-alive: the next response on the
    // same connection parses, so nothing followed the HEAD response.
    let mut c = connect(&addr);
    let mut buf = Vec::new();
    c.write_all(&raw("GET", b"/hello.txt", &[])).unwrap();
    let g = read_response(&mut c, &mut buf, false);
    c.write_all(&raw("HEAD", b"/hello.txt", &[])).unwrap();
    let h = read_response(&mut c, &mut buf, true);
    assert_eq!(h.status_line, "HTTP/1.1 200 OK");
    assert_eq!(headers_but_date(&h), headers_but_date(&g));
    for (target, body) in [("/index.html", INDEX), ("/", INDEX), ("/hello.txt", HELLO)] {
        c.write_all(&raw("GET", target.as_bytes(), &[])).unwrap();
        let r = read_response(&mut c, &mut buf, false);
        assert_eq!(r.body, body, "{target} after HEAD on one connection");
    }
    c.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    assert!(c.read(&mut [0u8; 64]).is_err(), "bytes after the last response");

    // Decoding: percent escapes, `.` and `//` collapse, query strings ignored.
    let ok: &[(&str, &[u8])] = &[
        ("/", INDEX),
        ("/index.html", INDEX),
        ("/%68ello.txt", HELLO),
        ("/hello%2Etxt", HELLO),
        ("//hello.txt", HELLO),
        ("/./hello.txt", HELLO),
        ("/hello.txt?x=1&y=../../secret.txt", HELLO),
        ("/hello.txt?%00", HELLO),
        ("/dir//index.html", DIR_INDEX),
        ("/dir/./index.html", DIR_INDEX),
        ("/dir%2findex.html", DIR_INDEX),
        ("/my%20file.txt", b"spaced\n"),
        ("/caf%C3%A9.txt", b"accented\n"),
        ("/caf%c3%a9.txt", b"accented\n"),
        ("/sub/file.txt", b"sub file\n"),
        ("/dir/page.html?v=2#frag", b"<p>page</p>\n"),
    ];
    for &(target, body) in ok {
        let r = get(&addr, target, &[]);
        assert_status(&r, 200, target);
        assert_eq!(r.body, body, "{target}");
    }
    // Raw UTF-8 in the target is refused (RFC 9112: visible ASCII only, as
    // llhttp); its escapes name the file.
    let r = request(&addr, &raw("GET", "/caf\u{e9}.txt".as_bytes(), &[]));
    assert_eq!(r.status(), 400);

    // Missing things.
    for target in ["/nope.txt", "/dir/nope.html", "/nope/", "/hello.txt/", "/hello.txt/x", "/index.htm"] {
        let r = get(&addr, target, &[]);
        assert_status(&r, 404, target);
        assert!(r.header("ETag").is_none(), "{target}: ETag on a 404");
    }
    let r = head(&addr, "/nope.txt", &[]);
    assert_status(&r, 404, "HEAD missing");
}

/// (file name under types/, Content-Type)
const CONTENT_TYPES: &[(&str, &str)] = &[
    ("a.html", "text/html; charset=utf-8"),
    ("b.htm", "text/html; charset=utf-8"),
    ("UPPER.HTML", "text/html; charset=utf-8"),
    ("c.css", "text/css; charset=utf-8"),
    ("d.js", "text/javascript; charset=utf-8"),
    ("e.mjs", "text/javascript; charset=utf-8"),
    ("f.json", "application/json"),
    ("g.js.map", "application/json"),
    ("h.txt", "text/plain; charset=utf-8"),
    ("i.TxT", "text/plain; charset=utf-8"),
    ("README.md", "text/markdown; charset=utf-8"),
    ("j.csv", "text/csv; charset=utf-8"),
    ("k.xml", "text/xml; charset=utf-8"),
    ("l.svg", "image/svg+xml"),
    ("m.png", "image/png"),
    ("n.PNG", "image/png"),
    ("o.jpg", "image/jpeg"),
    ("p.JpEg", "image/jpeg"),
    ("q.gif", "image/gif"),
    ("r.webp", "image/webp"),
    ("s.avif", "image/avif"),
    ("favicon.ico", "image/x-icon"),
    ("t.wasm", "application/wasm"),
    ("u.pdf", "application/pdf"),
    ("v.woff", "font/woff"),
    ("w.woff2", "font/woff2"),
    ("x.ttf", "font/ttf"),
    ("y.mp4", "video/mp4"),
    ("z.webm", "video/webm"),
    ("aa.mp3", "audio/mpeg"),
    ("ab.ogg", "audio/ogg"),
    ("ac.wav", "audio/wav"),
    ("ad.zip", "application/zip"),
    ("ae.tar.gz", "application/gzip"),
    ("af.tar", "application/x-tar"),
    ("ag.zst", "application/zstd"),
    ("site.webmanifest", "application/manifest+json"),
    ("ah.xhtml", "application/xhtml+xml"),
    // Nothing guessed: unknown or no extension.
    ("ai.exe", "application/octet-stream"),
    ("aj.htmlx", "application/octet-stream"),
    ("Makefile", "application/octet-stream"),
    ("trailing.", "application/octet-stream"),
    ("ak.bin", "application/octet-stream"),
];

// 2. Content-Type from the built-in table.
// 1b. A small file on a keep-alive connection is not held back: its head and
// body must not wait for the client's delayed ACK (Nagle's algorithm would
// hold the body about 40 ms, every request).
fn small_files_keep_alive_without_delay(run: Run) {
    let Some((s, _site)) = serve(run, &["--workers", "1", "--quiet"]) else { return };
    let addr = s.addr();
    let mut c = connect(&addr);
    let mut buf = Vec::new();
    let mut took = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        c.write_all(&raw("GET", b"/hello.txt", &[])).unwrap();
        let r = read_response(&mut c, &mut buf, false);
        took.push(t.elapsed());
        assert_ok(&r, HELLO, "text/plain; charset=utf-8", "keep-alive GET /hello.txt");
    }
    took.sort();
    assert!(took[7] < Duration::from_millis(20), "median request took {:?}: {took:?}", took[7]);
}

fn content_types(run: Run) {
    let Some((s, _site)) = serve(run, &["--workers", "2"]) else { return };
    let addr = s.addr();
    let mut c = connect(&addr);
    let mut buf = Vec::new();
    for (name, ctype) in CONTENT_TYPES {
        c.write_all(&raw("GET", format!("/types/{name}").as_bytes(), &[])).unwrap();
        let r = read_response(&mut c, &mut buf, false);
        assert_ok(&r, name.as_bytes(), ctype, name);
    }
    assert_ok(&get(&addr, "/noext", &[]), b"no extension\n", "application/octet-stream", "/noext");
}

// 3. Directories: index.html, 301 to the slash form, 404 without an index.
fn directories(run: Run) {
    let Some((s, _site)) = serve(run, &["--workers", "2"]) else { return };
    let addr = s.addr();
    let html = "text/html; charset=utf-8";
    for target in ["/", "/dir/", "/dir//", "/dir/.", "/link_in_dir/", "/dir/?x=1"] {
        let want = if target == "/" { INDEX } else { DIR_INDEX };
        assert_ok(&get(&addr, target, &[]), want, html, target);
    }
    assert_ok(&get(&addr, "/dir/sub/", &[]), b"<p>sub index</p>\n", html, "/dir/sub/");
    assert_ok(&get(&addr, "/my%20dir/", &[]), b"<p>my dir</p>\n", html, "/my%20dir/");
    for (target, location) in [
        ("/dir", "/dir/"),
        ("/dir?x=1", "/dir/?x=1"),
        ("/dir?a=1&b=%2F", "/dir/?a=1&b=%2F"),
        ("/dir/sub", "/dir/sub/"),
        ("/empty_dir", "/empty_dir/"),
        ("/link_in_dir", "/link_in_dir/"),
        ("/my%20dir", "/my%20dir/"),
    ] {
        for method in ["GET", "HEAD"] {
            let r = request(&addr, &raw(method, target.as_bytes(), &[]));
            let what = format!("{method} {target}");
            assert_eq!(r.status_line, "HTTP/1.1 301 Moved Permanently", "{what}: {r:?}");
            assert_eq!(r.header("Location"), Some(location), "{what}");
        }
    }
    // A directory without index.html: no listing.
    for target in ["/empty_dir/", "/empty_dir/?x"] {
        let r = get(&addr, target, &[]);
        assert_status(&r, 404, target);
        assert!(!String::from_utf8_lossy(&r.body).contains("listed.txt"), "{target} listed the directory");
    }
    assert_ok(
        &get(&addr, "/empty_dir/listed.txt", &[]),
        b"in a directory without index\n",
        "text/plain; charset=utf-8",
        "/empty_dir/listed.txt",
    );
}

// 4. Dotfiles: 404 unless --dotfiles.
fn dotfiles(run: Run) {
    let site = Site::new();
    let hidden = ["/.env", "/.git/config", "/%2eenv", "/%2Egit/config", "/.git/", "/.git", "/.well-known/acme.txt"];
    {
        let Some(s) = start(run, &["--root", site.arg(), "--workers", "1"]) else { return };
        for target in hidden {
            let r = get(&s.addr(), target, &[]);
            assert_status(&r, 404, target);
            assert!(!String::from_utf8_lossy(&r.body).contains("SECRET_ENV"), "{target}");
        }
    }
    let Some(s) = start(run, &["--root", site.arg(), "--workers", "1", "--dotfiles"]) else { return };
    let addr = s.addr();
    let plain = "application/octet-stream";
    assert_ok(&get(&addr, "/.env", &[]), b"SECRET_ENV=do-not-serve\n", plain, "--dotfiles /.env");
    assert_ok(&get(&addr, "/%2eenv", &[]), b"SECRET_ENV=do-not-serve\n", plain, "--dotfiles /%2eenv");
    assert_ok(&get(&addr, "/.git/config", &[]), b"[core]\n\tbare = false\n", plain, "--dotfiles /.git/config");
    assert_ok(&get(&addr, "/.well-known/acme.txt", &[]), b"acme token\n", "text/plain; charset=utf-8", "acme");
    // --dotfiles never lets `..` through.
    for target in ["/..", "/../secret.txt", "/.well-known/../../secret.txt", "/%2e%2e/secret.txt", "/.%2e/secret.txt"] {
        let r = get(&addr, target, &[]);
        assert_status(&r, 404, target);
        assert!(!String::from_utf8_lossy(&r.body).contains(SECRET), "{target}");
    }
}

// 5. Methods other than GET and HEAD, and a too-long path.
fn methods_and_long_paths(run: Run) {
    let Some((s, site)) = serve(run, &["--workers", "2"]) else { return };
    let addr = s.addr();
    // All on one connection: a 405 reads and drops the body and keeps it.
    let mut c = connect(&addr);
    let mut buf = Vec::new();
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        for target in ["/hello.txt", "/", "/dir/", "/nope.txt"] {
            let req = format!("{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
            c.write_all(req.as_bytes()).unwrap();
            let r = read_response(&mut c, &mut buf, false);
            let what = format!("{method} {target}");
            assert_eq!(r.status_line, "HTTP/1.1 405 Method Not Allowed", "{what}: {r:?}");
            assert_eq!(r.header("Allow"), Some("GET, HEAD"), "{what}");
        }
    }
    c.write_all(&raw("GET", b"/hello.txt", &[])).unwrap();
    assert_eq!(read_response(&mut c, &mut buf, false).body, HELLO, "GET after the 405s");
    // The file is untouched by all of that.
    assert_eq!(fs::read(site.root.join("hello.txt")).unwrap(), HELLO);
    // Decoded path over PATH_MAX (4096): 414; the request line stays under
    // the 8 KiB head limit.
    let long = format!("/{}", "a/".repeat(2100));
    assert_status(&get(&addr, &long, &[]), 414, "4200-byte path");
    // Just under: a missing file, not a 414.
    let fits = format!("/{}", "b/".repeat(2000));
    assert_status(&get(&addr, &fits, &[]), 404, "4000-byte path");
}

/// driftd serving `args` as an ordinary user: as root, the tests run it
/// as nobody (root reads a mode-000 file anyway); None if that cannot run
/// it here (said loudly), or the arch cannot run.
fn start_unprivileged(run: Run, args: &[&str]) -> Option<DriftdServer> {
    let port = free_port();
    let p = port.to_string();
    let mut all = vec!["--port", p.as_str()];
    all.extend_from_slice(args);
    let cmd = command(run.arch, "driftd", &all)?;
    let mut cmd = if is_root() {
        let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];
        let runnable = which("setpriv")
            && Command::new("setpriv")
                .args(nobody)
                .args(["test", "-r"])
                .arg(binary(run.arch, "driftd"))
                .status()
                .is_ok_and(|s| s.success());
        if !runnable {
            skipped("running as root, and nobody cannot run driftd here: 403 untestable");
            return None;
        }
        let mut pre = vec![OsStr::new("setpriv")];
        pre.extend(nobody.iter().map(OsStr::new));
        wrap(&pre, &cmd)
    } else {
        cmd
    };
    if run.no_openat2 {
        cmd.env("DRIFTD_NO_OPENAT2", "1");
    }
    Some(DriftdServer::start(cmd, port))
}

// 6. An unreadable file is 403. Root reads anything, so as root the server
// runs as nobody (setpriv), or the check is skipped.
fn unreadable_file_is_403(run: Run) {
    let site = Site::new();
    let locked = site.root.join("locked.txt");
    fs::write(&locked, b"you may not").unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(site.root.parent().unwrap(), fs::Permissions::from_mode(0o755)).unwrap();
    let Some(s) = start_unprivileged(run, &["--root", site.arg(), "--workers", "1"]) else { return };
    let addr = s.addr();
    let r = get(&addr, "/locked.txt", &[]);
    assert_eq!(r.status_line, "HTTP/1.1 403 Forbidden", "{r:?}");
    assert!(!String::from_utf8_lossy(&r.body).contains("you may not"));
    assert_status(&head(&addr, "/locked.txt", &[]), 403, "HEAD unreadable");
    assert_ok(&get(&addr, "/hello.txt", &[]), HELLO, "text/plain; charset=utf-8", "readable file beside it");
}

// 7. Conditional GET: If-None-Match, If-Modified-Since, and which wins.
fn conditional_requests(run: Run) {
    let Some((s, site)) = serve(run, &["--workers", "2"]) else { return };
    let addr = s.addr();
    let tag = etag_of(&site.root.join("hello.txt"));
    let weak = format!("W/{tag}");
    let list = format!("\"nope\", {tag}, \"other\"");
    let cases: &[(&[(&str, &str)], u16)] = &[
        (&[("If-None-Match", &tag)], 304),
        (&[("If-None-Match", &weak)], 304),
        (&[("If-None-Match", &list)], 304),
        (&[("If-None-Match", "*")], 304),
        (&[("If-None-Match", "\"nope\"")], 200),
        (&[("If-None-Match", "\"nope\", W/\"other\"")], 200),
        (&[("If-Modified-Since", HELLO_DATE)], 304),
        (&[("If-Modified-Since", "Sun, 06 Nov 1994 08:49:38 GMT")], 304),
        (&[("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")], 304),
        (&[("If-Modified-Since", "Sunday, 06-Nov-94 08:49:37 GMT")], 304),
        (&[("If-Modified-Since", "Sun Nov  6 08:49:37 1994")], 304),
        (&[("If-Modified-Since", "Sun, 06 Nov 1994 08:49:36 GMT")], 200),
        (&[("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")], 200),
        (&[("If-Modified-Since", "yesterday")], 200),
        // If-None-Match decides whenever it is present (RFC 9110 §13.2.2).
        (&[("If-None-Match", "\"nope\""), ("If-Modified-Since", HELLO_DATE)], 200),
        (&[("If-None-Match", &tag), ("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")], 304),
    ];
    let mut c = connect(&addr);
    let mut buf = Vec::new();
    for (headers, want) in cases {
        for method in ["GET", "HEAD"] {
            let what = format!("{method} {headers:?}");
            c.write_all(&raw(method, b"/hello.txt", headers)).unwrap();
            let r = read_response(&mut c, &mut buf, method == "HEAD");
            if *want == 304 {
                assert_eq!(r.status_line, "HTTP/1.1 304 Not Modified", "{what}: {r:?}");
                assert_eq!(r.header("ETag"), Some(tag.as_str()), "{what}");
            } else {
                assert_eq!(r.status_line, "HTTP/1.1 200 OK", "{what}: {r:?}");
                assert_eq!(r.header("Content-Length"), Some("13"), "{what}");
                if method == "GET" {
                    assert_eq!(r.body, HELLO, "{what}");
                }
            }
        }
    }
    // Nothing stray on the connection: the 304s carried no body.
    c.write_all(&raw("GET", b"/index.html", &[])).unwrap();
    assert_eq!(read_response(&mut c, &mut buf, false).body, INDEX);
    assert!(buf.is_empty(), "bytes after the last response: {:?}", String::from_utf8_lossy(&buf));
    // A new file content (same size, new mtime) gets a new tag.
    let hello = site.root.join("hello.txt");
    fs::write(&hello, b"HELLO, WORLD\n").unwrap();
    set_mtime(&hello, UNIX_EPOCH + Duration::from_secs(HELLO_MTIME + 60));
    let r = get(&addr, "/hello.txt", &[("If-None-Match", &tag)]);
    assert_eq!((r.status(), r.body.as_slice()), (200, &b"HELLO, WORLD\n"[..]), "stale tag must not match");
    assert_ne!(r.header("ETag"), Some(tag.as_str()));
    assert_eq!(r.header("Last-Modified"), Some("Sun, 06 Nov 1994 08:50:37 GMT"));
}

// 8. Range requests.
fn ranges(run: Run) {
    let Some((s, site)) = serve(run, &["--workers", "2"]) else { return };
    let addr = s.addr();
    let data = pattern(1000, 7);
    // (Range, first byte, last byte): each a 206 with exactly those bytes.
    let partial: &[(&str, usize, usize)] = &[
        ("bytes=0-0", 0, 0),
        ("bytes=0-", 0, 999),
        ("bytes=-1", 999, 999),
        ("bytes=-10", 990, 999),
        ("bytes=-5000", 0, 999),
        ("bytes=990-5000", 990, 999),
        ("bytes=999-999", 999, 999),
        ("bytes=999-", 999, 999),
        ("bytes=100-199", 100, 199),
        ("bytes=0-99999999999999999999999", 0, 999),
        ("Bytes=5-9", 5, 9),
        ("bytes=5-9,", 5, 9),
    ];
    let mut c = connect(&addr);
    let mut buf = Vec::new();
    for &(range, a, b) in partial {
        for method in ["GET", "HEAD"] {
            let what = format!("{method} Range: {range}");
            c.write_all(&raw(method, b"/ranges.bin", &[("Range", range)])).unwrap();
            let r = read_response(&mut c, &mut buf, method == "HEAD");
            assert_eq!(r.status_line, "HTTP/1.1 206 Partial Content", "{what}: {r:?}");
            assert_eq!(r.header("Content-Range"), Some(format!("bytes {a}-{b}/1000").as_str()), "{what}");
            assert_eq!(r.header("Content-Length"), Some((b - a + 1).to_string().as_str()), "{what}");
            assert_eq!(r.header("Content-Type"), Some("application/octet-stream"), "{what}");
            if method == "GET" {
                assert_eq!(r.body, &data[a..=b], "{what}");
            }
        }
    }
    for range in ["bytes=1000-", "bytes=1000-2000", "bytes=5000-6000", "bytes=-0", "bytes=99999999999999999999999-"] {
        for method in ["GET", "HEAD"] {
            let what = format!("{method} Range: {range}");
            c.write_all(&raw(method, b"/ranges.bin", &[("Range", range)])).unwrap();
            let r = read_response(&mut c, &mut buf, method == "HEAD");
            assert_eq!(r.status_line, "HTTP/1.1 416 Range Not Satisfiable", "{what}: {r:?}");
            assert_eq!(r.header("Content-Range"), Some("bytes */1000"), "{what}");
            assert!(!r.body.windows(16).any(|w| w == &data[..16]), "{what}: file bytes in a 416");
        }
    }
    for range in ["bytes=0-1,5-6", "bytes=0-1, 5-", "bytes=5-1", "items=0-1", "bytes=abc", "bytes=", "0-1", "bytes=1-2-3"] {
        let what = format!("Range: {range}");
        c.write_all(&raw("GET", b"/ranges.bin", &[("Range", range)])).unwrap();
        let r = read_response(&mut c, &mut buf, false);
        assert_eq!(r.status_line, "HTTP/1.1 200 OK", "{what}: {r:?}");
        assert!(r.header("Content-Range").is_none(), "{what}");
        assert_eq!(r.body, data, "{what}");
    }
    // A matching If-None-Match wins over Range.
    let tag = etag_of(&site.root.join("ranges.bin"));
    c.write_all(&raw("GET", b"/ranges.bin", &[("Range", "bytes=0-9"), ("If-None-Match", &tag)])).unwrap();
    assert_eq!(read_response(&mut c, &mut buf, false).status(), 304);
    // If-Range: the Range applies only while the file is the one named.
    let date = fs::metadata(site.root.join("ranges.bin")).unwrap().mtime();
    set_mtime(&site.root.join("ranges.bin"), UNIX_EPOCH + Duration::from_secs(HELLO_MTIME));
    let tag = etag_of(&site.root.join("ranges.bin"));
    let weak = format!("W/{tag}");
    assert_ne!(date as u64, HELLO_MTIME);
    for (if_range, partial) in [
        (tag.as_str(), true),
        (HELLO_DATE, true),
        ("\"stale\"", false),
        (weak.as_str(), false),
        ("Sun, 06 Nov 1994 08:49:38 GMT", false),
        ("Sun, 06 Nov 1994 08:49:36 GMT", false),
    ] {
        let what = format!("If-Range: {if_range}");
        c.write_all(&raw("GET", b"/ranges.bin", &[("Range", "bytes=10-19"), ("If-Range", if_range)])).unwrap();
        let r = read_response(&mut c, &mut buf, false);
        if partial {
            assert_eq!((r.status(), r.header("Content-Range")), (206, Some("bytes 10-19/1000")), "{what}: {r:?}");
            assert_eq!(r.body, &data[10..20], "{what}");
        } else {
            assert_eq!((r.status(), r.header("Content-Range")), (200, None), "{what}: {r:?}");
            assert_eq!(r.body, data, "{what}");
        }
    }
    // An empty file: a suffix range is the whole (empty) file; 0- is 416.
    fs::write(site.root.join("empty.bin"), b"").unwrap();
    let r = get(&addr, "/empty.bin", &[]);
    assert_eq!((r.status(), r.header("Content-Length")), (200, Some("0")));
    let r = get(&addr, "/empty.bin", &[("Range", "bytes=0-")]);
    assert_eq!((r.status(), r.header("Content-Range")), (416, Some("bytes */0")), "{r:?}");
}

// 9. Precompressed NAME.gz beside NAME.
fn gzip_variants(run: Run) {
    let Some((s, _site)) = serve(run, &["--workers", "2"]) else { return };
    let addr = s.addr();
    let css = "text/css; charset=utf-8";
    for ae in ["gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8", "deflate, gzip;q=1"] {
        for method in ["GET", "HEAD"] {
            let what = format!("{method} Accept-Encoding: {ae}");
            let r = request(&addr, &raw(method, b"/style.css", &[("Accept-Encoding", ae)]));
            assert_eq!(r.status_line, "HTTP/1.1 200 OK", "{what}: {r:?}");
            assert_eq!(r.header("Content-Encoding"), Some("gzip"), "{what}");
            assert_eq!(r.header("Vary"), Some("Accept-Encoding"), "{what}");
            assert_eq!(r.header("Content-Type"), Some(css), "{what}");
            assert_eq!(r.header("Content-Length"), Some(CSS_GZ.len().to_string().as_str()), "{what}");
            if method == "GET" {
                assert_eq!(r.body, CSS_GZ, "{what}");
            }
        }
    }
    let gz_tag = get(&addr, "/style.css", &[("Accept-Encoding", "gzip")]).header("ETag").map(str::to_owned);
    let plain: &[&[(&str, &str)]] = &[
        &[],
        &[("Accept-Encoding", "gzip;q=0")],
        &[("Accept-Encoding", "gzip; q=0")],
        &[("Accept-Encoding", "deflate, br")],
        &[("Accept-Encoding", "identity")],
    ];
    for headers in plain {
        let what = format!("{headers:?}");
        let r = get(&addr, "/style.css", headers);
        assert_ok(&r, CSS, css, &what);
        assert!(r.header("Content-Encoding").is_none(), "{what}: {r:?}");
        assert_eq!(r.header("Vary"), Some("Accept-Encoding"), "{what}");
        // Two encodings of one resource are two representations: a strong
        // tag must tell them apart (RFC 9110 §8.8.3).
        assert_ne!(r.header("ETag").map(str::to_owned), gz_tag, "{what}: same ETag for gzip and identity");
    }
    // Without a NAME.gz: the file as it is, whatever the client accepts.
    let r = get(&addr, "/hello.txt", &[("Accept-Encoding", "gzip")]);
    assert_ok(&r, HELLO, "text/plain; charset=utf-8", "no .gz sibling");
    assert!(r.header("Content-Encoding").is_none());
    // The .gz itself, asked for by name: an ordinary gzip file.
    let r = get(&addr, "/style.css.gz", &[("Accept-Encoding", "gzip")]);
    assert_ok(&r, CSS_GZ, "application/gzip", "/style.css.gz");
    assert!(r.header("Content-Encoding").is_none(), "{r:?}");
}

/// Stand-ins for app.js and its precompressed siblings: distinct bytes,
/// so a body says which file it came from.
const JS: &[u8] = b"console.log('identity');\n";
const JS_BR: &[u8] = b"\x8b\x0bBROTLI-JS-BYTES-0123456789";
const JS_ZST: &[u8] = b"\x28\xb5\x2f\xfdZSTD-JS";
const JS_GZ: &[u8] = b"\x1f\x8b\x08\x00GZIP-JS-BYTES";

/// Whether a row's answer carries `Vary: Accept-Encoding`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Vary {
    Yes,
    No,
    /// Only with the cache, which looks for every sibling; without it, a
    /// client that takes no coding costs no look, and learns of none.
    Cached,
}

// 9b. Precompressed NAME.br, NAME.zst and NAME.gz, chosen by the weights in
// Accept-Encoding, with and without the open-file cache: the exact status,
// Content-Encoding, Vary and body of each; ranges and ETags per form.
fn precompressed_variants(run: Run) {
    let site = Site::new();
    let root = site.root.clone();
    let w = |rel: &str, data: &[u8]| put(&root, rel, data);
    w("pc/app.js", JS);
    w("pc/app.js.br", JS_BR);
    w("pc/app.js.zst", JS_ZST);
    w("pc/app.js.gz", JS_GZ);
    w("pc/plain.txt", HELLO);
    // past the in-memory size: a cached form is sent from its descriptor
    let (big, big_br, big_zst) = (pattern(50_000, 21), pattern(40_000, 22), pattern(30_000, 23));
    w("pc/big.bin", &big);
    w("pc/big.bin.br", &big_br);
    w("pc/big.bin.zst", &big_zst);
    let js = "text/javascript; charset=utf-8";
    // (Accept-Encoding, status, Content-Encoding, Vary, body)
    type Row<'a> = (Option<&'a str>, u16, Option<&'a str>, Vary, &'a [u8]);
    let app: &[Row] = &[
        (None, 200, None, Vary::Cached, JS),
        (Some(""), 200, None, Vary::Cached, JS),
        (Some("gzip, deflate, br, zstd"), 200, Some("br"), Vary::Yes, JS_BR),
        (Some("gzip, deflate, zstd"), 200, Some("zstd"), Vary::Yes, JS_ZST),
        (Some("gzip, deflate"), 200, Some("gzip"), Vary::Yes, JS_GZ),
        (Some("x-gzip"), 200, Some("gzip"), Vary::Yes, JS_GZ),
        (Some("BR"), 200, Some("br"), Vary::Yes, JS_BR),
        (Some("br;q=1, gzip;q=0.5"), 200, Some("br"), Vary::Yes, JS_BR),
        (Some("br;q=0.5, gzip;q=0.8"), 200, Some("gzip"), Vary::Yes, JS_GZ),
        (Some("gzip;q=0.5, br;q=0.5, zstd;q=0.5"), 200, Some("br"), Vary::Yes, JS_BR),
        (Some("gzip;q=0.5, zstd;q=0.5"), 200, Some("zstd"), Vary::Yes, JS_ZST),
        (Some("zstd;q=1, br;q=0.9"), 200, Some("zstd"), Vary::Yes, JS_ZST),
        (Some(" br ; q=0.2 ,\tgzip;Q=0.3 "), 200, Some("gzip"), Vary::Yes, JS_GZ),
        (Some("br;q=1.0001, gzip"), 200, Some("gzip"), Vary::Yes, JS_GZ), // the malformed element is skipped
        (Some("*"), 200, Some("br"), Vary::Yes, JS_BR),
        (Some("*;q=0.5, br;q=0"), 200, Some("zstd"), Vary::Yes, JS_ZST),
        (Some("br;q=0.5, identity"), 200, None, Vary::Yes, JS),
        (Some("identity"), 200, None, Vary::Cached, JS),
        (Some("deflate, compress"), 200, None, Vary::Cached, JS),
        (Some("gzip;q=0, br;q=0, zstd;q=0"), 200, None, Vary::Cached, JS),
        (Some("identity;q=0, gzip"), 200, Some("gzip"), Vary::Yes, JS_GZ),
        (Some("identity;q=0"), 406, None, Vary::Yes, b"406 Not Acceptable\n"),
        (Some("*;q=0"), 406, None, Vary::Yes, b"406 Not Acceptable\n"),
        (Some("*;q=0, identity"), 200, None, Vary::Cached, JS),
    ];
    let plain: &[Row] = &[
        (None, 200, None, Vary::No, HELLO),
        (Some("br, zstd, gzip"), 200, None, Vary::No, HELLO),
        (Some("identity;q=0"), 406, None, Vary::Yes, b"406 Not Acceptable\n"),
        (Some("*;q=0"), 406, None, Vary::Yes, b"406 Not Acceptable\n"),
        (Some("identity;q=0, br"), 406, None, Vary::Yes, b"406 Not Acceptable\n"),
    ];
    fn ae(h: Option<&str>) -> Vec<(&'static str, &str)> {
        h.map(|v| vec![("Accept-Encoding", v)]).unwrap_or_default()
    }
    for cache in [None, Some("0")] {
        let mut args = vec!["--root", site.arg(), "--workers", "1"];
        args.extend(cache.map(|c| ["--file-cache", c]).into_iter().flatten());
        let Some(s) = start(run, &args) else { return };
        let addr = s.addr();
        let cached = cache.is_none();
        for (target, rows, ctype) in [("/pc/app.js", app, js), ("/pc/plain.txt", plain, "text/plain; charset=utf-8")] {
            for &(h, status, enc, vary, body) in rows {
                // twice: a miss, then (with the cache) a hit
                for (round, method) in ["GET", "GET", "HEAD"].into_iter().enumerate() {
                    let what = format!("{method} {target} Accept-Encoding {h:?}, cache {cache:?}, round {round}");
                    let r = request(&addr, &raw(method, target.as_bytes(), &ae(h)));
                    assert_eq!(r.status(), status, "{what}: {r:?}");
                    assert_eq!(r.header("Content-Encoding"), enc, "{what}: {r:?}");
                    let want_vary = vary == Vary::Yes || (vary == Vary::Cached && cached);
                    assert_eq!(r.header("Vary"), want_vary.then_some("Accept-Encoding"), "{what}: {r:?}");
                    assert_eq!(r.count("Vary"), usize::from(want_vary), "{what}");
                    assert_eq!(r.header("Content-Length"), Some(body.len().to_string().as_str()), "{what}");
                    if status == 200 {
                        assert_eq!(r.header("Content-Type"), Some(ctype), "{what}");
                    }
                    let want: &[u8] = if method == "HEAD" { b"" } else { body };
                    assert_eq!(r.body, want, "{what}: {:?}", String::from_utf8_lossy(&r.body));
                }
            }
        }

        // Each form has its own ETag: the one its own file's metadata makes.
        let pc = root.join("pc");
        let forms = [("identity", JS, "app.js"), ("br", JS_BR, "app.js.br"), ("zstd", JS_ZST, "app.js.zst"), ("gzip", JS_GZ, "app.js.gz")];
        let mut tags = Vec::new();
        for (coding, body, file) in forms {
            let r = get(&addr, "/pc/app.js", &[("Accept-Encoding", coding)]);
            assert_eq!(r.body, body, "{coding}");
            let tag = r.header("ETag").unwrap().to_owned();
            assert_eq!(tag, etag_of(&pc.join(file)), "{coding}");
            assert!(!tags.contains(&tag), "{coding}: an ETag shared with another form");
            tags.push(tag);
        }
        // If-None-Match with the br tag: 304 for br alone; every other
        // form is another representation, sent whole.
        let br_tag = tags[1].as_str();
        for (coding, body, _) in forms {
            let what = format!("If-None-Match br tag, Accept-Encoding {coding}, cache {cache:?}");
            let r = get(&addr, "/pc/app.js", &[("Accept-Encoding", coding), ("If-None-Match", br_tag)]);
            if coding == "br" {
                assert_eq!(r.status(), 304, "{what}: {r:?}");
                assert_eq!((r.header("Content-Encoding"), r.header("ETag")), (Some("br"), Some(br_tag)), "{what}");
                assert_eq!(r.header("Vary"), Some("Accept-Encoding"), "{what}");
                assert!(r.body.is_empty(), "{what}");
            } else {
                assert_eq!(r.status(), 200, "{what}: {r:?}");
                assert_eq!(r.body, body, "{what}");
            }
        }
        // A Range applies to the form sent.
        let r = get(&addr, "/pc/app.js", &[("Accept-Encoding", "br"), ("Range", "bytes=2-9")]);
        assert_eq!(r.status(), 206, "{r:?}");
        assert_eq!(r.header("Content-Encoding"), Some("br"));
        assert_eq!(r.header("Content-Range"), Some(format!("bytes 2-9/{}", JS_BR.len()).as_str()));
        assert_eq!(r.body, &JS_BR[2..10]);
        // If-Range with the br tag: the range holds for br, not for gzip.
        let r = get(&addr, "/pc/app.js", &[("Accept-Encoding", "br"), ("Range", "bytes=0-3"), ("If-Range", br_tag)]);
        assert_eq!((r.status(), &r.body[..]), (206, &JS_BR[..4]), "{r:?}");
        let r = get(&addr, "/pc/app.js", &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-3"), ("If-Range", br_tag)]);
        assert_eq!((r.status(), &r.body[..]), (200, JS_GZ), "{r:?}");
        // Past the in-memory size: the cached form's own descriptor.
        for _ in 0..2 {
            for (h, enc, body) in [(None, None, &big), (Some("br, zstd"), Some("br"), &big_br), (Some("zstd"), Some("zstd"), &big_zst), (Some("gzip"), None, &big)] {
                let r = get(&addr, "/pc/big.bin", &ae(h));
                assert_eq!((r.status(), r.header("Content-Encoding")), (200, enc), "big.bin {h:?}: {r:?}");
                assert!(r.body == *body, "big.bin {h:?}: differs at {:?}", first_difference(&r.body, body));
            }
            let r = get(&addr, "/pc/big.bin", &[("Accept-Encoding", "br"), ("Range", "bytes=20000-20099")]);
            assert_eq!((r.status(), r.header("Content-Encoding")), (206, Some("br")), "{r:?}");
            assert!(r.body == big_br[20_000..20_100], "big.bin.br range");
        }
        // A sibling asked for by name is a file like any other.
        for (target, body, ctype) in [
            ("/pc/app.js.br", JS_BR, "application/octet-stream"),
            ("/pc/app.js.zst", JS_ZST, "application/zstd"),
            ("/pc/app.js.gz", JS_GZ, "application/gzip"),
        ] {
            let r = get(&addr, target, &[("Accept-Encoding", "br, zstd, gzip")]);
            assert_ok(&r, body, ctype, target);
            assert_eq!((r.header("Content-Encoding"), r.header("Vary")), (None, None), "{target}: {r:?}");
        }
    }
}

/// Where a traversal attempt must end: this status, or (for targets whose
/// handling is the server's choice) either of 400 and 404.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    S(u16),
    Refused,
}

/// Attack strings, sent byte for byte. `..` is refused (404), never
/// resolved; non-origin targets and malformed escapes are 400.
const ATTACKS: &[(&[u8], Want)] = &[
    (b"/..", Want::S(404)),
    (b"/../", Want::S(404)),
    (b"/../secret.txt", Want::S(404)),
    (b"/../../../../../../etc/passwd", Want::S(404)),
    (b"/dir/../../secret.txt", Want::S(404)),
    (b"/dir/..", Want::S(404)),
    (b"/dir/..?x=1", Want::S(404)),
    (b"/./../secret.txt", Want::S(404)),
    (b"//../secret.txt", Want::S(404)),
    (b"//127.0.0.1/../secret.txt", Want::S(404)),
    (b"/%2e%2e/secret.txt", Want::S(404)),
    (b"/%2E%2E%2Fsecret.txt", Want::S(404)),
    (b"/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", Want::S(404)),
    (b"/%2E%2e/secret.txt", Want::S(404)),
    (b"/.%2e/secret.txt", Want::S(404)),
    (b"/%2e./secret.txt", Want::S(404)),
    (b"/..%2fsecret.txt", Want::S(404)),
    (b"/..%2f..%2f..%2fetc%2fpasswd", Want::S(404)),
    (b"/dir/%2e%2e/%2e%2e/secret.txt", Want::S(404)),
    (b"/dir%2f..%2f..%2fsecret.txt", Want::S(404)),
    (b"/%252e%252e/secret.txt", Want::S(404)),
    (b"/%252e%252e%252fsecret.txt", Want::S(404)),
    (b"/..%252fsecret.txt", Want::S(404)),
    (b"/%25%32%65%25%32%65/secret.txt", Want::S(404)),
    (b"/..%5csecret.txt", Want::S(404)),
    (b"/..%5C..%5Csecret.txt", Want::S(404)),
    (b"/%5c..%5csecret.txt", Want::S(404)),
    (b"/..\\secret.txt", Want::S(404)),
    (b"/\\..\\secret.txt", Want::S(404)),
    (b"/dir\\..\\..\\secret.txt", Want::S(404)),
    (b"/..;/secret.txt", Want::S(404)),
    (b"/....//secret.txt", Want::S(404)),
    (b"/..../secret.txt", Want::S(404)),
    (b"/.../secret.txt", Want::S(404)),
    (b"/%00", Want::S(400)),
    (b"/a%00.html", Want::S(400)),
    (b"/hello.txt%00.html", Want::S(400)),
    (b"/..%00/secret.txt", Want::S(400)),
    (b"/a%0d%0aSet-Cookie:%20x", Want::S(400)),
    (b"/%u002e%u002e/secret.txt", Want::S(400)),
    (b"/%%32%65%%32%65/secret.txt", Want::S(400)),
    (b"/%2", Want::S(400)),
    (b"/%zz", Want::S(400)),
    (b"../secret.txt", Want::S(400)),
    (b"*", Want::S(400)),
    (b"http://x/../secret.txt", Want::Refused),
    (b"http://127.0.0.1/%2e%2e/secret.txt", Want::Refused),
    (b"HTTP://x/..%2f..%2fetc/passwd", Want::Refused),
    // Overlong UTF-8 for `.` is two bytes to Linux, never `.`: no such file.
    (b"/%c0%ae%c0%ae/secret.txt", Want::S(404)),
    (b"/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", Want::S(404)),
    (b"/%e0%80%ae%e0%80%ae/secret.txt", Want::S(404)),
    (b"/%c0%2e%c0%2e/secret.txt", Want::S(404)),
    // Raw bytes that are not UTF-8 are not a URI (RFC 3986: ASCII only).
    (b"/\xc0\xae\xc0\xae/secret.txt", Want::Refused),
    // Symbolic links that lead out of the root.
    (b"/link_out", Want::S(404)),
    (b"/link_abs", Want::S(404)),
    (b"/link_out_dir/secret.txt", Want::S(404)),
    (b"/link_out_dir/root/hello.txt", Want::S(404)),
    (b"/sub/up/secret.txt", Want::S(404)),
    (b"/sub/up/root/link_out", Want::S(404)),
    (b"/link_pfx", Want::S(404)),
    (b"/link_out_dir/", Want::S(404)),
    // Out and back in is still out: RESOLVE_BENEATH refuses it, and the
    // fallback must agree.
    (b"/link_via_out", Want::S(404)),
    (b"/sub/parent/../secret.txt", Want::S(404)),
    (b"/sub/parent/link_out", Want::S(404)),
    // Hidden files.
    (b"/.env", Want::S(404)),
    (b"/.git/config", Want::S(404)),
    (b"/%2egit/config", Want::S(404)),
];

/// Links that stay inside the root are followed.
const INSIDE: &[(&[u8], &[u8])] = &[
    (b"/link_in", HELLO),
    (b"/link_in_dir/", DIR_INDEX),
    (b"/link_in_dir/index.html", DIR_INDEX),
    (b"/sub/link_up_in", HELLO),
    (b"/link_chain", HELLO),
    (b"/sub/parent/hello.txt", HELLO),
    (b"/sub/parent/", INDEX),
    (b"/sub/parent/sub/parent/link_in", HELLO),
    (b"/sub/deep/", b"<p>sub index</p>\n"),
    (b"/?/../secret.txt", INDEX),
    (b"/#/../secret.txt", INDEX),
];

fn leaks(body: &[u8]) -> bool {
    let b = String::from_utf8_lossy(body);
    b.contains(SECRET) || b.contains(PASSWD) || b.contains("SECRET_ENV")
}

// 10. The traversal table, with and without --dotfiles.
fn traversal_table(run: Run) {
    assert!(ATTACKS.len() >= 40);
    let site = Site::new();
    // With the cache (one worker: the second pass is answered from it) and without.
    for (dotfiles, cache) in [(false, "1024"), (true, "1024"), (false, "0"), (true, "0")] {
        let mut args = vec!["--root", site.arg(), "--workers", "1", "--file-cache", cache];
        if dotfiles {
            args.push("--dotfiles");
        }
        let Some(s) = start(run, &args) else { return };
        let addr = s.addr();
        let mut failures = Vec::new();
        for &(target, want) in ATTACKS.iter().chain(ATTACKS) {
            let what = String::from_utf8_lossy(target).into_owned();
            let hidden = target.starts_with(b"/.env") || target.starts_with(b"/.git") || target.starts_with(b"/%2egit");
            if dotfiles && hidden {
                continue; // served then: see `dotfiles`
            }
            let r = request(&addr, &raw("GET", target, &[]));
            assert!(!leaks(&r.body), "{what}: LEAKED {:?}", String::from_utf8_lossy(&r.body));
            let ok = match want {
                Want::S(st) => r.status() == st,
                Want::Refused => matches!(r.status(), 400 | 404),
            };
            if !ok {
                failures.push(format!("{what}: want {want:?}, got {}", r.status_line));
            }
            // The loop link must not hang or kill the worker either.
        }
        let r = get(&addr, "/link_loop", &[]);
        assert!((400..600).contains(&r.status()) && !leaks(&r.body), "/link_loop: {r:?}");
        for &(target, body) in INSIDE.iter().chain(INSIDE) {
            let r = request(&addr, &raw("GET", target, &[]));
            let what = String::from_utf8_lossy(target);
            assert_eq!((r.status(), r.body.as_slice()), (200, body), "{what} (dotfiles {dotfiles})");
        }
        assert!(failures.is_empty(), "dotfiles {dotfiles} cache {cache}: {} wrong statuses:\n{}", failures.len(), failures.join("\n"));
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y).or((a.len() != b.len()).then(|| a.len().min(b.len())))
}

// 11. A multi-MB file read slowly: every byte, while others are served.
fn big_file_slow_client(run: Run) {
    let site = Site::new();
    let data = pattern(8 << 20, 11);
    fs::write(site.root.join("big.bin"), &data).unwrap();
    let Some(s) = start(run, &["--root", site.arg(), "--workers", "1"]) else { return };
    let addr = s.addr();
    let mut c = small_window_client(&addr);
    c.write_all(&raw("GET", b"/big.bin", &[])).unwrap();
    let mut buf = Vec::new();
    let (r, head_end) = read_head(&mut c, &mut buf);
    assert_eq!(r.status_line, "HTTP/1.1 200 OK", "{r:?}");
    assert_eq!(r.header("Content-Length"), Some("8388608"));
    let mut body = buf.split_off(head_end);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut checked_other = false;
    let t = Instant::now();
    while body.len() < data.len() {
        assert!(t.elapsed() < Duration::from_secs(120), "slow read stalled at {} bytes", body.len());
        let n = read_some(&mut c, &mut chunk).unwrap_or_else(|e| panic!("read at {} bytes: {e}", body.len()));
        assert!(n > 0, "EOF after {} of {} bytes", body.len(), data.len());
        body.extend_from_slice(&chunk[..n]);
        if body.len() < 4 << 20 {
            std::thread::sleep(Duration::from_millis(2));
        }
        if !checked_other && body.len() >= 1 << 20 {
            // The one worker is mid-transfer; another client is not kept waiting.
            checked_other = true;
            let t = Instant::now();
            assert_ok(&get(&addr, "/hello.txt", &[]), HELLO, "text/plain; charset=utf-8", "during the big file");
            assert!(t.elapsed() < Duration::from_secs(3), "second client waited {:?}", t.elapsed());
        }
    }
    assert_eq!(body.len(), data.len(), "bytes past Content-Length");
    assert!(body == data, "body differs from the file at byte {:?}", first_difference(&body, &data));
    // The connection is still usable afterwards.
    c.write_all(&raw("GET", b"/hello.txt", &[])).unwrap();
    assert_eq!(read_response(&mut c, &mut Vec::new(), false).body, HELLO);
    assert!(
        s.wait_stdout(Duration::from_secs(5), |l| l.iter().any(|x| x.ends_with("\"GET /big.bin HTTP/1.1\" 200 8388608"))),
        "access log: {:?}",
        s.stdout.lock().unwrap()
    );
}

// 12. A file that shrinks under a slow reader: the server closes, no hang.
fn shrinking_file_closes(run: Run) {
    let site = Site::new();
    let path = site.root.join("shrink.bin");
    let data = pattern(32 << 20, 13);
    fs::write(&path, &data).unwrap();
    let Some(s) = start(run, &["--root", site.arg(), "--workers", "1"]) else { return };
    let addr = s.addr();
    let mut c = small_window_client(&addr);
    c.write_all(&raw("GET", b"/shrink.bin", &[])).unwrap();
    let mut buf = Vec::new();
    let (r, head_end) = read_head(&mut c, &mut buf);
    assert_eq!(r.header("Content-Length"), Some((32u32 << 20).to_string().as_str()), "{r:?}");
    let mut body = buf.split_off(head_end);
    read_at_least(&mut c, &mut body, 64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    fs::File::options().write(true).open(&path).unwrap().set_len(1 << 20).unwrap();
    let truncated = Instant::now();
    c.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let end = loop {
        match read_some(&mut c, &mut chunk) {
            Ok(0) => break "EOF",
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break "reset",
            Err(e) => panic!(
                "connection still open {:?} after the file shrank ({e}); got {} of {} bytes",
                truncated.elapsed(),
                body.len(),
                data.len()
            ),
        }
    };
    let took = truncated.elapsed();
    assert!(took < Duration::from_secs(5), "closed only after {took:?}");
    assert!(body.len() < data.len(), "all {} bytes arrived (then {end})", body.len());
    eprintln!("shrinking file: {} bytes, then {end} after {took:?}", body.len());
    // What is still in the file arrives as it is. Past the new end, bytes
    // sent before the truncation may arrive as they were or as zeros:
    // sendfile is zero-copy, and truncating zeroes the pages a queued
    // segment still points at (seen here on ext4, with large folios).
    let kept = body.len().min(1 << 20);
    assert_eq!(first_difference(&body[..kept], &data[..kept]), None, "bytes sent are not the file's");
    for (i, page) in body[kept..].chunks(4096).enumerate() {
        let at = kept + i * 4096;
        assert!(
            page == &data[at..at + page.len()] || page.iter().all(|&b| b == 0),
            "bytes {at}.. are neither the file's nor zeros"
        );
    }
    // The worker is fine.
    assert_ok(&get(&addr, "/hello.txt", &[]), HELLO, "text/plain; charset=utf-8", "after the shrink");
}

// 13. Offsets past 4 GiB in a sparse file.
fn over_4gib_sparse_file(run: Run) {
    const LEN: u64 = 5 << 30;
    let site = Site::new();
    let path = site.root.join("huge.bin");
    let marks: &[(u64, &[u8])] = &[(4_294_967_295, b"XY"), (4_294_967_312, b"MARK-4G+16"), (5_368_709_000, b"MARK-5G")];
    let made = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(&path)?;
        f.set_len(LEN)?;
        for &(at, m) in marks {
            f.seek(SeekFrom::Start(at))?;
            f.write_all(m)?;
        }
        f.sync_all()
    })();
    if let Err(e) = made {
        skipped(&format!("this filesystem will not hold a 5 GiB sparse file: {e}"));
        return;
    }
    let Some(s) = start(run, &["--root", site.arg(), "--workers", "1"]) else { return };
    let addr = s.addr();
    let r = head(&addr, "/huge.bin", &[]);
    assert_eq!(r.status_line, "HTTP/1.1 200 OK", "{r:?}");
    assert_eq!(r.header("Content-Length"), Some("5368709120"));
    assert_eq!(r.header("ETag"), Some(etag_of(&path).as_str()));
    let mut tail = b"MARK-5G".to_vec();
    tail.resize(120, 0);
    let cases: &[(&str, u64, u64, Vec<u8>)] = &[
        ("bytes=5368709000-", 5_368_709_000, 5_368_709_119, tail),
        ("bytes=4294967295-4294967296", 4_294_967_295, 4_294_967_296, b"XY".to_vec()),
        ("bytes=4294967312-4294967321", 4_294_967_312, 4_294_967_321, b"MARK-4G+16".to_vec()),
        ("bytes=4294967296-4294967296", 4_294_967_296, 4_294_967_296, b"Y".to_vec()),
        ("bytes=-10", 5_368_709_110, 5_368_709_119, vec![0; 10]),
    ];
    for (range, a, b, want) in cases {
        let r = get(&addr, "/huge.bin", &[("Range", range)]);
        assert_eq!(r.status_line, "HTTP/1.1 206 Partial Content", "{range}: {r:?}");
        assert_eq!(r.header("Content-Range"), Some(format!("bytes {a}-{b}/{LEN}").as_str()), "{range}");
        assert_eq!(r.body, *want, "{range}");
    }
    let r = get(&addr, "/huge.bin", &[("Range", "bytes=5368709120-")]);
    assert_eq!((r.status(), r.header("Content-Range")), (416, Some("bytes */5368709120")), "{r:?}");
    // A plain GET starts at byte 0 with the right length (read 1 MiB of it).
    let mut c = connect(&addr);
    c.write_all(&raw("GET", b"/huge.bin", &[])).unwrap();
    let mut buf = Vec::new();
    let (r, head_end) = read_head(&mut c, &mut buf);
    assert_eq!((r.status(), r.header("Content-Length")), (200, Some("5368709120")));
    let mut got = buf.split_off(head_end);
    read_at_least(&mut c, &mut got, 1 << 20);
    assert!(got.iter().all(|&b| b == 0), "the first MiB is a hole: zeros");
}

/// The trace of `openat`/`openat2` calls of an x86_64 driftd serving one
/// file, with `env`; None when strace cannot run here.
fn open_calls(env: &[(&str, &str)]) -> Option<String> {
    if skip_without("strace") {
        return None;
    }
    let site = Site::new();
    let trace = site.root.parent().unwrap().join("trace.txt");
    let port = free_port();
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-e", "trace=openat,openat2", "-o"]).arg(&trace).arg(binary(Arch::X86_64, "driftd"));
    cmd.args(["--port", &port.to_string(), "--workers", "1", "--root", site.arg()]);
    cmd.env_remove("PORT").envs(env.iter().copied());
    let mut s = DriftdServer::start(cmd, port);
    assert_ok(&get(&s.addr(), "/sub/parent/hello.txt", &[]), HELLO, "text/plain; charset=utf-8", "under strace");
    // Stop driftd itself (strace's child) so that its workers exit too.
    let driftd = s.workers();
    assert_eq!(driftd.len(), 1, "strace's children: {driftd:?}");
    assert!(Command::new("kill").args(["-TERM", &driftd[0].to_string()]).status().unwrap().success());
    assert!(s.wait_exit(Duration::from_secs(10)).0.is_some(), "strace did not end");
    Some(fs::read_to_string(&trace).unwrap())
}

// 14. The fallback is what runs under DRIFTD_NO_OPENAT2=1, and openat2
// otherwise (x86_64 natively, seen with strace).
#[test]
fn x86_64_fallback_is_forced_by_the_environment() {
    if runner(Arch::X86_64).is_none_or(|r| !r.is_empty()) {
        return;
    }
    let Some(with) = open_calls(&[]) else { return };
    assert!(with.contains("openat2(") && with.contains("RESOLVE_BENEATH"), "no openat2 call:\n{with}");
    let Some(without) = open_calls(&[("DRIFTD_NO_OPENAT2", "1")]) else { return };
    assert!(!without.contains("openat2("), "openat2 called despite DRIFTD_NO_OPENAT2=1:\n{without}");
    assert!(without.contains("O_NOFOLLOW"), "the walk opens with O_NOFOLLOW:\n{without}");
}

// 15. The open-file cache never answers stale. Each row: a file is asked
// for (twice, so the second answer comes from the cache), changed on disk,
// and asked for again at once, on the same keep-alive connection and on a
// new one, with no sleep: the answer must show the change.
fn stale_cache_table(run: Run) {
    let site = Site::new();
    let root = site.root.clone();
    fs::set_permissions(root.parent().unwrap(), fs::Permissions::from_mode(0o755)).unwrap();
    let big = pattern(40_000, 3); // past the in-memory size: sent from the cached descriptor
    let w = |rel: &str, data: &[u8]| put(&root, rel, data);
    w("s/inplace.txt", b"AAAA");
    w("s/trunc.txt", b"long contents here\n");
    w("s/renamed.txt", b"old\n");
    w("s/deleted.txt", b"soon gone\n");
    w("s/locked.txt", b"readable for now\n");
    w("s/swapped.txt", b"inside\n");
    w("s/gz.txt", b"plain text\n");
    w("s/ungz.txt", b"plain again\n");
    w("s/ungz.txt.gz", b"\x1f\x8bGZ");
    w("s/br.txt", b"plain before br\n");
    w("s/unzst.txt", b"plain after zstd\n");
    w("s/unzst.txt.zst", b"\x28\xb5\x2f\xfdZ");
    w("s/big.bin", &big);
    w("moved/f.txt", b"in moved\n");
    w("removed/f.txt", b"in removed\n");
    w("idx/index.html", b"<p>old index</p>\n");
    w("deep/a/b/c.txt", b"deep\n");
    let Some(s) = start_unprivileged(run, &["--root", site.arg(), "--workers", "1"]) else { return };
    let addr = s.addr();
    let mut ka = connect(&addr);
    let mut buf = Vec::new();
    let mut ask = |target: &str, headers: &[(&str, &str)]| -> (Resp, Resp) {
        ka.write_all(&raw("GET", target.as_bytes(), headers)).unwrap();
        let kept = read_response(&mut ka, &mut buf, false);
        (kept, get(&addr, target, headers))
    };
    type Change<'a> = Box<dyn Fn() + 'a>;
    let gzip = [("Accept-Encoding", "gzip")];
    let br_zstd = [("Accept-Encoding", "br, zstd, gzip")];
    let p = |rel: &str| root.join(rel);
    let rows: Vec<(&str, &[(&str, &str)], Change, u16, &[u8])> = vec![
        ("/s/inplace.txt", &[], Box::new(|| fs::write(p("s/inplace.txt"), b"BBBB").unwrap()), 200, b"BBBB"),
        ("/s/trunc.txt", &[], Box::new(|| fs::OpenOptions::new().write(true).open(p("s/trunc.txt")).unwrap().set_len(4).unwrap()), 200, b"long"),
        ("/s/renamed.txt", &[], Box::new(|| {
            fs::write(p("s/.tmp"), b"new contents\n").unwrap();
            fs::rename(p("s/.tmp"), p("s/renamed.txt")).unwrap();
        }), 200, b"new contents\n"),
        ("/s/deleted.txt", &[], Box::new(|| fs::remove_file(p("s/deleted.txt")).unwrap()), 404, b""),
        ("/s/locked.txt", &[], Box::new(|| fs::set_permissions(p("s/locked.txt"), fs::Permissions::from_mode(0o000)).unwrap()), 403, b""),
        ("/s/swapped.txt", &[], Box::new(|| {
            fs::remove_file(p("s/swapped.txt")).unwrap();
            symlink(root.parent().unwrap().join("secret.txt"), p("s/swapped.txt")).unwrap();
        }), 404, b""),
        ("/s/gz.txt", &gzip, Box::new(|| fs::write(p("s/gz.txt.gz"), b"\x1f\x8bNEW").unwrap()), 200, b"\x1f\x8bNEW"),
        ("/s/ungz.txt", &gzip, Box::new(|| fs::remove_file(p("s/ungz.txt.gz")).unwrap()), 200, b"plain again\n"),
        ("/s/br.txt", &br_zstd, Box::new(|| fs::write(p("s/br.txt.br"), b"BR-NEW").unwrap()), 200, b"BR-NEW"),
        ("/s/unzst.txt", &br_zstd, Box::new(|| fs::remove_file(p("s/unzst.txt.zst")).unwrap()), 200, b"plain after zstd\n"),
        ("/s/big.bin", &[], Box::new(|| {
            let mut f = fs::OpenOptions::new().write(true).open(p("s/big.bin")).unwrap();
            f.seek(SeekFrom::Start(30_000)).unwrap();
            f.write_all(b"CHANGED").unwrap();
        }), 200, b""),
        ("/moved/f.txt", &[], Box::new(|| fs::rename(p("moved"), p("moved2")).unwrap()), 404, b""),
        ("/removed/f.txt", &[], Box::new(|| fs::remove_dir_all(p("removed")).unwrap()), 404, b""),
        ("/idx/", &[], Box::new(|| fs::write(p("idx/index.html"), b"<p>new index</p>\n").unwrap()), 200, b"<p>new index</p>\n"),
        ("/deep/a/b/c.txt", &[], Box::new(|| fs::rename(p("deep/a"), p("deep/z")).unwrap()), 404, b""),
    ];
    for (target, headers, change, status, body) in rows {
        let (first, _) = ask(target, headers);
        assert_eq!(first.status(), 200, "{target} before the change: {first:?}");
        let (again, _) = ask(target, headers);
        assert_eq!(again.body, first.body, "{target}: a second answer (from the cache)");
        change();
        let (kept, fresh) = ask(target, headers);
        for (r, how) in [(&kept, "same connection"), (&fresh, "new connection")] {
            assert_eq!(r.status(), status, "{target} after the change ({how}): {r:?}");
            assert!(!leaks(&r.body), "{target}: LEAKED");
            if target == "/s/big.bin" {
                let mut want = big.clone();
                want[30_000..30_007].copy_from_slice(b"CHANGED");
                assert!(r.body == want, "{target}: stale bytes at {:?} ({how})", first_difference(&r.body, &want));
            } else if status == 200 {
                assert_eq!(r.body, body, "{target} ({how}): {:?}", String::from_utf8_lossy(&r.body));
            }
        }
    }
    // What the renames and the gz sibling left behind is served as it is now.
    assert_ok(&get(&addr, "/moved2/f.txt", &[]), b"in moved\n", "text/plain; charset=utf-8", "the renamed directory");
    assert_ok(&get(&addr, "/deep/z/b/c.txt", &[]), b"deep\n", "text/plain; charset=utf-8", "the renamed parent");
    let r = get(&addr, "/s/gz.txt", &gzip);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    let r = get(&addr, "/s/ungz.txt", &gzip);
    assert_eq!((r.header("Content-Encoding"), r.header("Vary")), (None, None), "{r:?}");
    // A directory recreated where a watched one was renamed away is watched anew.
    w("moved/f.txt", b"recreated\n");
    assert_ok(&get(&addr, "/moved/f.txt", &[]), b"recreated\n", "text/plain; charset=utf-8", "recreated dir");
    fs::write(p("moved/f.txt"), b"recreated, changed\n").unwrap();
    assert_ok(&get(&addr, "/moved/f.txt", &[]), b"recreated, changed\n", "text/plain; charset=utf-8", "recreated dir, changed");
    // Quick `Connection: close` clients, one after another: the server may
    // accept the one that follows a change in the same wake-up as the ones
    // before it (this found a stale answer in one try out of three).
    let close = [("Connection", "close")];
    for i in 0..60 {
        let dir = format!("q{}", i % 3);
        w(&format!("{dir}/f.txt"), format!("v1 {i}\n").as_bytes());
        for _ in 0..2 {
            assert_eq!(get(&addr, &format!("/{dir}/f.txt"), &close).body, format!("v1 {i}\n").as_bytes());
        }
        fs::write(p(&format!("{dir}/f.txt")), format!("v2 {i}, longer\n")).unwrap();
        let r = get(&addr, &format!("/{dir}/f.txt"), &close);
        assert_eq!(r.body, format!("v2 {i}, longer\n").as_bytes(), "round {i}: stale after a quick change");
        fs::rename(p(&dir), p(&format!("gone{i}"))).unwrap();
        assert_status(&get(&addr, &format!("/{dir}/f.txt"), &close), 404, &format!("round {i}: after the rename"));
    }
}

// 16. A small cache evicts the least recently used and answers every file
// right, and with the cache off the same requests get the same answers.
fn cache_eviction(run: Run) {
    let site = Site::new();
    for i in 0..12 {
        fs::write(site.root.join(format!("e{i}.txt")), format!("file {i}\n").repeat(i + 1)).unwrap();
    }
    fs::write(site.root.join("big.bin"), pattern(100_000, 9)).unwrap();
    for args in [["--file-cache", "3", "--file-cache-mem", "40000"], ["--file-cache", "0", "--file-cache-mem", "0"]] {
        let mut all = vec!["--root", site.arg(), "--workers", "1"];
        all.extend_from_slice(&args);
        let Some(s) = start(run, &all) else { return };
        let addr = s.addr();
        let mut c = connect(&addr);
        let mut buf = Vec::new();
        // Round-robin over more files than fit, twice, with the big file and
        // ranges of it in between: every answer must be the file's own.
        for round in 0..2 {
            for i in 0..12 {
                c.write_all(&raw("GET", format!("/e{i}.txt").as_bytes(), &[])).unwrap();
                let r = read_response(&mut c, &mut buf, false);
                assert_eq!(r.body, format!("file {i}\n").repeat(i + 1).as_bytes(), "{args:?} round {round} e{i}");
                if i % 4 == 0 {
                    c.write_all(&raw("GET", b"/big.bin", &[("Range", "bytes=99990-")])).unwrap();
                    let r = read_response(&mut c, &mut buf, false);
                    assert_eq!((r.status(), r.body.as_slice()), (206, &pattern(100_000, 9)[99_990..]), "{args:?}");
                }
            }
        }
        // Pipelined: 16 requests in one write, answered in order.
        let mut burst = Vec::new();
        for i in 0..16 {
            burst.extend_from_slice(&raw("GET", format!("/e{}.txt", i % 12).as_bytes(), &[]));
        }
        c.write_all(&burst).unwrap();
        for i in 0..16 {
            let r = read_response(&mut c, &mut buf, false);
            assert_eq!(r.body, format!("file {}\n", i % 12).repeat(i % 12 + 1).as_bytes(), "{args:?} pipelined {i}");
        }
        let r = get(&addr, "/big.bin", &[]);
        assert!(r.body == pattern(100_000, 9), "{args:?} big.bin");
    }
}

/// The syscalls of a driftd of `run` serving `requests` for a 1 KiB file
/// already cached, on one connection (pipelined: in one write), from the
/// first of them on: `strace -f` on x86_64, `qemu-aarch64 -strace` (into a
/// log file, so the banner on stderr stays apart) for aarch64. None when the
/// tracer cannot run here.
fn cached_trace(run: Run, requests: usize, pipelined: bool) -> Option<String> {
    let site = Site::new();
    fs::write(site.root.join("1k.bin"), pattern(1024, 5)).unwrap();
    let trace = site.root.parent().unwrap().join("trace.txt");
    let port = free_port();
    let mut cmd = match run.arch {
        Arch::X86_64 => {
            if runner(Arch::X86_64).is_none_or(|r| !r.is_empty()) || skip_without("strace") {
                return None;
            }
            let mut c = Command::new("strace");
            c.args(["-f", "-o"]).arg(&trace).arg(binary(Arch::X86_64, "driftd"));
            c
        }
        Arch::Aarch64 => {
            if runner(Arch::Aarch64)? != ["qemu-aarch64"] {
                return None; // a native arm64 host: the x86_64 rows cover strace
            }
            let mut c = Command::new("qemu-aarch64");
            c.args(["-strace", "-D"]).arg(&trace).arg(binary(Arch::Aarch64, "driftd"));
            c
        }
    };
    cmd.args(["--port", &port.to_string(), "--workers", "1", "--quiet", "--root", site.arg()]);
    cmd.env_remove("PORT");
    if run.no_openat2 {
        cmd.env("DRIFTD_NO_OPENAT2", "1");
    }
    let mut s = DriftdServer::start(cmd, port);
    let mut c = connect(&s.addr());
    let mut buf = Vec::new();
    let one = raw("GET", b"/1k.bin", &[]);
    c.write_all(&one).unwrap(); // the miss that fills the cache
    assert_eq!(read_response(&mut c, &mut buf, false).body, pattern(1024, 5));
    std::thread::sleep(Duration::from_millis(200));
    let mark = fs::read_to_string(&trace).unwrap().lines().count();
    if pipelined {
        c.write_all(&one.repeat(requests)).unwrap();
        for _ in 0..requests {
            assert_eq!(read_response(&mut c, &mut buf, false).body, pattern(1024, 5));
        }
    } else {
        for _ in 0..requests {
            c.write_all(&one).unwrap();
            assert_eq!(read_response(&mut c, &mut buf, false).body, pattern(1024, 5));
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let all = fs::read_to_string(&trace).unwrap();
    // Under strace the supervisor is strace's child; under qemu it is ours.
    let supervisor = match run.arch {
        Arch::X86_64 => s.workers()[0],
        Arch::Aarch64 => s.child.id(),
    };
    assert!(Command::new("kill").args(["-TERM", &supervisor.to_string()]).status().unwrap().success());
    assert!(s.wait_exit(Duration::from_secs(10)).0.is_some(), "the traced driftd did not end");
    // Complete lines only: the tracer may be in the middle of one.
    let lines: Vec<&str> = all.lines().skip(mark).collect();
    Some(lines[..lines.len().saturating_sub(usize::from(!all.ends_with('\n')))].join("\n"))
}

fn count_calls(trace: &str, call: &str) -> usize {
    let call = format!("{call}(");
    trace.lines().filter(|l| l.split_once(' ').is_some_and(|(_, rest)| rest.trim_start().starts_with(&call))).count()
}

// 17. A cached 1 KiB file costs one read and one write a request: no
// openat2, fstat or close; 16 pipelined requests cost one read and one write.
fn cached_file_syscalls(run: Run) {
    let Some(t) = cached_trace(run, 50, false) else { return };
    for call in ["openat2", "openat", "fstat", "newfstatat", "close", "sendfile", "sendto"] {
        assert_eq!(count_calls(&t, call), 0, "{call} on a cache hit:\n{t}");
    }
    assert_eq!(count_calls(&t, "read"), 50, "reads:\n{t}");
    assert_eq!(count_calls(&t, "write"), 50, "writes:\n{t}");
    let Some(t) = cached_trace(run, 16, true) else { return };
    assert_eq!((count_calls(&t, "read"), count_calls(&t, "write")), (1, 1), "pipelined x16:\n{t}");
    assert_eq!(count_calls(&t, "openat2") + count_calls(&t, "fstat") + count_calls(&t, "close"), 0, "{t}");
}

// 18. After a file, a keep-alive connection is idle, not mid-request: the
// idle timeout closes it quietly (no 408 at the head timeout), and SIGTERM
// closes it at once.
fn idle_after_a_file(run: Run) {
    let site = Site::new();
    let args = ["--root", site.arg(), "--workers", "1", "--idle-timeout", "1", "--head-timeout", "4"];
    let Some(s) = start(run, &args) else { return };
    let mut c = connect(&s.addr());
    let mut buf = Vec::new();
    c.write_all(&raw("GET", b"/hello.txt", &[])).unwrap();
    assert_eq!(read_response(&mut c, &mut buf, false).body, HELLO);
    let t = Instant::now();
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert!(rest.is_empty(), "an idle connection was sent {:?}", String::from_utf8_lossy(&rest));
    assert!(t.elapsed() < Duration::from_millis(3500), "closed after {:?}, not at the 1 s idle timeout", t.elapsed());
    let Some(mut s) = start(run, &args[..4]) else { return };
    let mut c = connect(&s.addr());
    c.write_all(&raw("GET", b"/dir/", &[])).unwrap();
    assert_eq!(read_response(&mut c, &mut buf, false).body, DIR_INDEX);
    s.signal("TERM");
    let (code, took) = s.wait_exit(Duration::from_secs(8));
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(2), "SIGTERM with an idle keep-alive connection took {took:?}");
}

macro_rules! for_each_run {
    ($($name:ident),* $(,)?) => {
        mod x86_64 { $( #[test] fn $name() { super::$name(super::Run { arch: super::Arch::X86_64, no_openat2: false }) } )* }
        mod x86_64_no_openat2 { $( #[test] fn $name() { super::$name(super::Run { arch: super::Arch::X86_64, no_openat2: true }) } )* }
        mod aarch64 { $( #[test] fn $name() { super::$name(super::Run { arch: super::Arch::Aarch64, no_openat2: false }) } )* }
    };
}

for_each_run!(
    serves_files_with_headers,
    small_files_keep_alive_without_delay,
    content_types,
    directories,
    dotfiles,
    methods_and_long_paths,
    unreadable_file_is_403,
    conditional_requests,
    ranges,
    gzip_variants,
    precompressed_variants,
    traversal_table,
    big_file_slow_client,
    shrinking_file_closes,
    over_4gib_sparse_file,
    stale_cache_table,
    cache_eviction,
    idle_after_a_file,
    cached_file_syscalls,
);
