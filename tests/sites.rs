//! A config file with site blocks and rules, end to end on both arches: the
//! request, then the status, headers and body a client sees. And the ways
//! settings are given: file, environment, flags, `--check-config`.
#[macro_use]
mod common;

use common::*;
use std::fs;
use std::process::Stdio;
use std::time::Duration;

/// Two sites' folders and a config naming them.
fn site_tree(tmp: &TempDir) -> String {
    let p = tmp.path();
    for (f, body) in [
        ("a/index.html", "A home\n"),
        ("a/assets/app.css", "body{}\n"),
        ("a/assets/deep/x.js", "x()\n"),
        ("a/404.html", "<h1>A: not here</h1>\n"),
        ("a/400.html", "<h1>A: bad request</h1>\n"),
        ("a/403.html", "<h1>A: forbidden</h1>\n"),
        ("a/405.html", "<h1>A: not that method</h1>\n"),
        ("b/index.html", "<div id=app></div>\n"),
        ("b/logo.png", "PNG"),
    ] {
        let path = p.join(f);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
    }
    let conf = format!(
        "# two sites on one port\n\
         quiet\n\
         workers 1\n\
         header /** X-Frame-Options: DENY\n\
         \n\
         site a.example www.a.example {{\n\
         \x20 root {a}\n\
         \x20 error-page 404 /404.html\n\
         \x20 error-page 400 /400.html\n\
         \x20 error-page 403 /403.html\n\
         \x20 error-page 405 /405.html\n\
         \x20 redirect /see /other 303\n\
         \x20 redirect /tmp/* /elsewhere/* 307\n\
         \x20 redirect /perm/* https://new.example/* 308\n\
         \x20 header /assets/* Cache-Control: public, max-age=31536000, immutable\n\
         \x20 header /assets/** -X-Frame-Options\n\
         \x20 redirect /old/* /new/*\n\
         \x20 redirect /blog https://blog.example/ 302\n\
         }}\n\
         site *.b.example b.example {{\n\
         \x20 root {b}\n\
         \x20 fallback /index.html\n\
         \x20 header /** X-Site: b\n\
         }}\n",
        a = p.join("a").display(),
        b = p.join("b").display()
    );
    let path = p.join("driftd.conf");
    fs::write(&path, conf).unwrap();
    path.display().to_string()
}

fn get(addr: &str, host: &str, path: &str, extra: &str) -> Resp {
    request(addr, format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n").as_bytes())
}

fn sites_and_rules(arch: Arch) {
    let tmp = TempDir::new("sites");
    let conf = site_tree(&tmp);
    let fifo = tmp.path().join("a/pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let Some(s) = start_driftd(arch, &["--config", &conf], &[]) else { return };
    let addr = s.addr();
    let r = request(&addr, b"POST /index.html HTTP/1.1\r\nHost: a.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status(), String::from_utf8_lossy(&r.body).as_ref()), (405, "<h1>A: not that method</h1>\n"));
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    const HTML: &str = "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n";
    // (host, path, extra request headers) -> (status, [(header, value or "" for absent)], body or None)
    type Row = (&'static str, &'static str, &'static str, u16, &'static [(&'static str, &'static str)], Option<&'static str>);
    let rows: &[Row] = &[
        // by Host, case and port ignored
        ("a.example", "/", "", 200, &[("X-Frame-Options", "DENY")], Some("A home\n")),
        ("WWW.A.EXAMPLE:8080", "/", "", 200, &[], Some("A home\n")),
        ("b.example", "/", "", 200, &[("X-Site", "b")], Some("<div id=app></div>\n")),
        ("x.b.example", "/logo.png", "", 200, &[("X-Site", "b")], Some("PNG")),
        // a name no block lists: the first site
        ("unknown.example", "/", "", 200, &[], Some("A home\n")),
        ("y.x.b.example", "/", "", 200, &[], Some("A home\n")),
        // header add, replace (after the defaults' rule), remove, by glob
        ("a.example", "/assets/app.css", "", 200,
            &[("Cache-Control", "public, max-age=31536000, immutable"), ("X-Frame-Options", "")], Some("body{}\n")),
        ("a.example", "/assets/deep/x.js", "", 200, &[("Cache-Control", ""), ("X-Frame-Options", "")], Some("x()\n")),
        // an error page keeps its status and loses its validators
        ("a.example", "/missing", "", 404, &[("ETag", ""), ("Accept-Ranges", ""), ("Content-Type", "text/html; charset=utf-8")],
            Some("<h1>A: not here</h1>\n")),
        ("a.example", "/missing", "If-None-Match: *\r\n", 404, &[], Some("<h1>A: not here</h1>\n")),
        // redirects: prefix with the rest and the query carried, exact with its code, no open redirect
        ("a.example", "/old/x/y?z=1", "", 301, &[("Location", "/new/x/y?z=1")], None),
        ("a.example", "/old", "", 301, &[("Location", "/new/")], None),
        ("a.example", "/old//evil.example/x", "", 301, &[("Location", "/new/evil.example/x")], None),
        ("a.example", "/blog", "", 302, &[("Location", "https://blog.example/")], None),
        ("a.example", "/blog/post", "", 404, &[], None),
        ("a.example", "/see?x=1", "", 303, &[("Location", "/other?x=1")], None),
        ("a.example", "/tmp/a/b", "", 307, &[("Location", "/elsewhere/a/b")], None),
        ("a.example", "/perm/x%20y", "", 308, &[("Location", "https://new.example/x%20y")], None),
        // each error page with its own status: a path that is no path (400),
        // a FIFO (403), a method files do not take (405)
        ("a.example", "/%00", "", 400, &[("ETag", "")], Some("<h1>A: bad request</h1>\n")),
        ("a.example", "/pipe", "", 403, &[], Some("<h1>A: forbidden</h1>\n")),
        // single-page app: an HTML navigation gets the app, an image stays 404
        ("b.example", "/route/deep", HTML, 200, &[("X-Site", "b")], Some("<div id=app></div>\n")),
        ("b.example", "/img/missing.png", "Accept: image/avif,image/webp,*/*\r\n", 404, &[("X-Site", "b")], None),
        ("b.example", "/route/deep", "", 404, &[], None),
    ];
    for &(host, path, extra, status, headers, body) in rows {
        let r = get(&addr, host, path, extra);
        assert_eq!(r.status(), status, "{host} {path} {extra:?}: {}", r.status_line);
        for &(name, want) in headers {
            match want {
                "" => assert_eq!(r.header(name), None, "{host} {path}: {name}"),
                _ => assert_eq!(r.header(name), Some(want), "{host} {path}: {name}"),
            }
        }
        if let Some(b) = body {
            assert_eq!(String::from_utf8_lossy(&r.body), b, "{host} {path}");
        }
    }
    // a Host with odd bytes is refused before any site is chosen
    let r = request(&addr, b"GET / HTTP/1.1\r\nHost: a.example\x01\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status(), 400);
}

fn strict_host_gets_421(arch: Arch) {
    let tmp = TempDir::new("strict");
    let conf = site_tree(&tmp);
    let Some(s) = start_driftd(arch, &["--config", &conf, "--strict-host"], &[]) else { return };
    assert_eq!(get(&s.addr(), "unknown.example", "/", "").status(), 421);
    assert_eq!(get(&s.addr(), "a.example", "/", "").status(), 200);
}

/// `driftd --check-config` with the same flags and environment: the
/// effective settings and their sources, exit 0; or `FILE:LINE: what`, exit 2.
fn check_config(arch: Arch) {
    let tmp = TempDir::new("check");
    let conf = site_tree(&tmp);
    let Some(mut cmd) = command(arch, "driftd", &["--config", &conf, "--check-config", "--grace", "3"]) else { return };
    let out = cmd.env("DRIFTD_IDLE_TIMEOUT", "20").stdin(Stdio::null()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "driftd: configuration OK\n");
    for want in [
        "grace 3  # flag --grace\n".to_string(),
        "idle-timeout 20  # environment DRIFTD_IDLE_TIMEOUT\n".to_string(),
        format!("workers 1  # {conf}:3\n"),
        "port 8080  # default\n".to_string(),
        format!("header /** X-Frame-Options: DENY  # {conf}:4\n"),
        format!("site a.example www.a.example {{  # {conf}:6\n"),
        format!("  redirect /blog https://blog.example/ 302  # {conf}:18\n"),
    ] {
        assert!(stdout.contains(&want), "{want:?} in\n{stdout}");
    }
    // one bad line of each kind: the line, exit 2, and the server refuses the same way
    let rows: &[(&str, &str)] = &[
        ("port 80\nfrobnicate on\n", "2: frobnicate: unknown setting"),
        ("port 0\n", "1: port 0: must be 1-65535"),
        ("site a.example {\n  port 1\n}\n", "2: port: is a server setting: put it outside site blocks"),
        ("site a.example {\n", "1: site: this site block has no closing }"),
        ("}\n", "1: }: a } without its site {"),
        ("header /x Bad Name: v\n", "1: header /x Bad Name: v: the header name must be a token (letters, digits, -)"),
        ("header x X-A: v\n", "1: header x X-A: v: a path pattern must start with /"),
        ("redirect /a //evil.example\n", "1: redirect /a //evil.example: TO starts with // or /\\, which browsers read as another host"),
        ("error-page 418 /x.html\n", "1: error-page 418 /x.html: takes a code (400 401 403 404 405 500 503) and a file"),
        ("cors https://a.example/path\n", "1: cors https://a.example/path: an origin is http(s)://host[:port], without a path"),
        ("quiet sometimes\n", "1: quiet sometimes: must be on or off"),
    ];
    for (i, (text, want)) in rows.iter().enumerate() {
        let bad = tmp.path().join(format!("bad{i}.conf"));
        fs::write(&bad, text).unwrap();
        let bad = bad.display().to_string();
        for extra in [&["--check-config"][..], &[]] {
            let mut args = vec!["--config", bad.as_str(), "--port", "1"];
            args.extend_from_slice(extra);
            let out = command(arch, "driftd", &args).unwrap().stdin(Stdio::null()).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{text:?}");
            assert_eq!(String::from_utf8_lossy(&out.stderr), format!("driftd: {bad}:{want}\n"), "{text:?}");
        }
    }
    let out = command(arch, "driftd", &["--config", "/nonexistent/driftd.conf"]).unwrap().stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "driftd: read config /nonexistent/driftd.conf: No such file or directory (ENOENT)\n"
    );
}

/// A flag beats the environment, which beats the file; DRIFTD_CONFIG names the file.
fn precedence(arch: Arch) {
    let tmp = TempDir::new("prec");
    fs::write(tmp.path().join("index.html"), "file root\n").unwrap();
    let conf = tmp.path().join("d.conf");
    fs::write(&conf, format!("root {}\nbody from the file\nworkers 1\n", tmp.path().display())).unwrap();
    let conf = conf.display().to_string();
    let show = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = command(arch, "driftd", args).unwrap();
        cmd.envs(env.iter().copied()).env("DRIFTD_CONFIG", &conf).arg("--check-config");
        String::from_utf8_lossy(&cmd.stdin(Stdio::null()).output().unwrap().stdout).into_owned()
    };
    assert!(show(&[], &[]).contains(&format!("workers 1  # {conf}:3\n")));
    assert!(show(&[], &[("DRIFTD_WORKERS", "2")]).contains("workers 2  # environment DRIFTD_WORKERS\n"));
    assert!(show(&["--workers", "3"], &[("DRIFTD_WORKERS", "2")]).contains("workers 3  # flag --workers\n"));
    // and the server does as it says: the file's root, the environment's header rule
    let Some(s) = start_driftd(arch, &[], &[("DRIFTD_CONFIG", &conf), ("DRIFTD_HEADER", "/** X-From: env")]) else { return };
    let r = get(&s.addr(), "localhost", "/", "");
    assert_eq!((r.status(), r.header("X-From"), String::from_utf8_lossy(&r.body).as_ref()), (200, Some("env"), "file root\n"));
}

/// `htpasswd -nbB -C 4 alice 'correct horse'` (Apache 2.4).
const ALICE: &str = "alice:$2y$04$QwPXC2SBvbsKj69bp8PRquL2abbIBx.um71jbRtjaOfednxIefgNO\n";

/// CORS (preflight and simple requests, allowed and not) and basic auth
/// (right, wrong, none, malformed), with the user in the access log.
fn cors_and_auth(arch: Arch) {
    let tmp = TempDir::new("auth");
    let p = tmp.path();
    for (f, body) in [("www/index.html", "home\n"), ("www/admin/index.html", "staff only\n"), ("www/401.html", "who are you?\n")] {
        fs::create_dir_all(p.join(f).parent().unwrap()).unwrap();
        fs::write(p.join(f), body).unwrap();
    }
    fs::write(p.join("users"), format!("# staff\n{ALICE}")).unwrap();
    let conf = p.join("d.conf");
    fs::write(
        &conf,
        format!(
            "workers 1\nauth-over-http\nsite a.example {{\n  root {www}\n  cors https://app.example http://localhost:3000\n  \
             auth /admin/** {users} Staff area\n  error-page 401 /401.html\n}}\nsite open.example {{\n  root {www}\n  cors *\n}}\n",
            www = p.join("www").display(),
            users = p.join("users").display()
        ),
    )
    .unwrap();
    let Some(s) = start_driftd(arch, &["--config", conf.to_str().unwrap()], &[]) else { return };
    let addr = s.addr();
    let basic = |creds: &str| format!("Authorization: Basic {}\r\n", b64(creds.as_bytes()));
    let right = basic("alice:correct horse");
    let wrong = basic("alice:Correct horse");
    let nobody = basic("mallory:correct horse");
    const PRE: &str = "Origin: https://app.example\r\nAccess-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: x-token, content-type\r\n";
    const PRE_EVIL: &str = "Origin: https://evil.example\r\nAccess-Control-Request-Method: GET\r\n";
    const VARY_PRE: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
    const CHALLENGE: &str = "Basic realm=\"Staff area\", charset=\"UTF-8\"";
    // (method, host, path, extra headers) -> (status, [(header, value or "" for absent)], body or None)
    type Row<'a> = (&'a str, &'a str, &'a str, &'a str, u16, &'a [(&'a str, &'a str)], Option<&'a str>);
    let rows: &[Row] = &[
        // preflight: allowed origin gets methods, the asked headers, max-age; another gets only Vary
        ("OPTIONS", "a.example", "/", PRE, 204,
            &[("Access-Control-Allow-Origin", "https://app.example"), ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),
              ("Access-Control-Allow-Headers", "x-token, content-type"), ("Access-Control-Max-Age", "86400"), ("Vary", VARY_PRE)], Some("")),
        ("OPTIONS", "a.example", "/", PRE_EVIL, 204, &[("Access-Control-Allow-Origin", ""), ("Access-Control-Allow-Methods", ""), ("Vary", VARY_PRE)], Some("")),
        ("OPTIONS", "open.example", "/", PRE_EVIL, 204, &[("Access-Control-Allow-Origin", "*")], Some("")),
        // OPTIONS that is no preflight: a method files do not allow
        ("OPTIONS", "a.example", "/", "", 405, &[("Allow", "GET, HEAD")], None),
        // simple requests: the origin echoed (with Vary) when allowed, only Vary when not, * for any
        ("GET", "a.example", "/", "Origin: http://localhost:3000\r\n", 200,
            &[("Access-Control-Allow-Origin", "http://localhost:3000"), ("Vary", "Origin")], Some("home\n")),
        ("GET", "a.example", "/", "Origin: https://evil.example\r\n", 200, &[("Access-Control-Allow-Origin", ""), ("Vary", "Origin")], Some("home\n")),
        ("GET", "open.example", "/", "Origin: https://evil.example\r\n", 200, &[("Access-Control-Allow-Origin", "*"), ("Vary", "")], Some("home\n")),
        // basic auth: none, right, wrong, unknown user, malformed, another scheme
        ("GET", "a.example", "/admin/", "", 401, &[("WWW-Authenticate", CHALLENGE), ("ETag", "")], Some("who are you?\n")),
        ("GET", "a.example", "/admin/", &right, 200, &[("WWW-Authenticate", "")], Some("staff only\n")),
        ("GET", "a.example", "/admin/index.html", &right, 200, &[], Some("staff only\n")),
        ("GET", "a.example", "/admin/", &wrong, 401, &[("WWW-Authenticate", CHALLENGE)], Some("who are you?\n")),
        ("GET", "a.example", "/admin/", &nobody, 401, &[("WWW-Authenticate", CHALLENGE)], None),
        ("GET", "a.example", "/admin/", "Authorization: Basic !!!not-base64\r\n", 401, &[("WWW-Authenticate", CHALLENGE)], None),
        ("GET", "a.example", "/admin/", "Authorization: Basic YWxpY2U=\r\n", 401, &[], None), // `alice`, no colon
        ("GET", "a.example", "/admin/", "Authorization: Bearer abc\r\n", 401, &[], None),
        // the bare folder is guarded too (its redirect to the slash form is no way around)
        ("GET", "a.example", "/admin", "", 401, &[("Location", "")], None),
        ("HEAD", "a.example", "/admin/", "", 401, &[("WWW-Authenticate", CHALLENGE)], Some("")),
        // a body is not read: refused, and the connection closes
        ("POST", "a.example", "/admin/x", "Content-Length: 3\r\n", 401, &[("Connection", "close")], None),
        ("GET", "a.example", "/index.html", "", 200, &[], Some("home\n")),
    ];
    for &(method, host, path, extra, status, headers, body) in rows {
        let r = request(&addr, format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n").as_bytes());
        assert_eq!(r.status(), status, "{method} {host} {path} {extra:?}: {}", r.status_line);
        for &(name, want) in headers {
            match want {
                "" => assert_eq!(r.header(name), None, "{method} {host} {path} {extra:?}: {name}"),
                _ => assert_eq!(r.header(name), Some(want), "{method} {host} {path} {extra:?}: {name}"),
            }
        }
        if let Some(b) = body {
            assert_eq!(String::from_utf8_lossy(&r.body), b, "{method} {host} {path}");
        }
    }
    // the site and the user in the log (Apache's vhost_common)
    assert!(
        s.wait_stdout(Duration::from_secs(5), |l| l.iter().any(|l| l.starts_with("a.example 127.0.0.1 - alice [") && l.ends_with("\"GET /admin/ HTTP/1.1\" 200 11"))),
        "no log line with the user"
    );
    assert!(s.wait_stdout(Duration::from_secs(5), |l| l.iter().any(|l| l.starts_with("a.example 127.0.0.1 - - [") && l.ends_with("\"GET /admin/ HTTP/1.1\" 401 13"))));
}

/// Standard base64, for Authorization headers.
fn b64(data: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() { T[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// An `auth` rule is refused at start: on plain HTTP without
/// `auth-over-http`, with a users file that is missing, empty, or holds a
/// hash that is not bcrypt.
fn auth_refusals(arch: Arch) {
    let tmp = TempDir::new("authbad");
    let p = tmp.path();
    let file = |name: &str, text: &str| {
        fs::write(p.join(name), text).unwrap();
        p.join(name).display().to_string()
    };
    let good = file("good", ALICE);
    let sha = file("sha", "alice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n");
    let md5 = file("md5", "bob:$apr1$x9yv1ZAM$aHPbJkJGUsMKVjTn.gvxr/\n");
    let empty = file("empty", "# nobody yet\n");
    let rows: Vec<(String, String)> = vec![
        (format!("auth /admin/** {good}\n"), "1: auth /admin/** GOOD: auth on plain HTTP sends passwords in clear: add tls-cert (with https-redirect) or auth-over-http".replace("GOOD", &good)),
        (format!("auth-over-http\nauth /** {sha}\n"), format!("2: {sha} alice: {{SHA}} is unsalted SHA-1: re-create the entry with htpasswd -B")),
        (format!("auth-over-http\nauth /** {md5}\n"), format!("2: {md5} bob: $apr1$ is MD5: re-create the entry with htpasswd -B")),
        (format!("auth-over-http\nauth /** {empty}\n"), format!("2: {empty}: has no users: make them with htpasswd -B")),
    ];
    for (i, (text, want)) in rows.iter().enumerate() {
        let conf = file(&format!("c{i}.conf"), text);
        let out = command(arch, "driftd", &["--config", &conf, "--check-config"]).unwrap().stdin(Stdio::null()).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{text:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), format!("driftd: {conf}:{want}\n"), "{text:?}");
    }
    let conf = file("missing.conf", "auth-over-http\nauth /** /nonexistent/users\n");
    let out = command(arch, "driftd", &["--config", &conf]).unwrap().stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("driftd: read users file /nonexistent/users: No such file or directory (ENOENT)\ndriftd: {conf}:2: auth /** /nonexistent/users: its users file cannot be read\n")
    );
}

/// The README's complete example config passes `--check-config` as written,
/// its folders and files made under a temporary directory.
fn readme_example(arch: Arch) {
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("# /etc/driftd.conf\n").expect("the README's example config");
    let text = &readme[start..start + readme[start..].find("```").unwrap()];
    let tmp = TempDir::new("readme");
    let t = tmp.path().display().to_string();
    let conf = text.replace(" /srv/", &format!(" {t}/srv/")).replace(" /etc/", &format!(" {t}/etc/"));
    for dir in ["srv/www", "srv/example", "srv/docs", "srv/staging", "etc/driftd"] {
        fs::create_dir_all(tmp.path().join(dir)).unwrap();
    }
    fs::write(tmp.path().join("etc/driftd.users"), ALICE).unwrap();
    let (cert, key) = (format!("{t}/etc/driftd/cert.pem"), format!("{t}/etc/driftd/key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", &key, "-out", &cert])
        .args(["-days", "90", "-subj", "/CN=example.com"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let path = tmp.path().join("driftd.conf");
    fs::write(&path, &conf).unwrap();
    let out = command(arch, "driftd", &["--config", path.to_str().unwrap(), "--check-config"]).unwrap().stdin(Stdio::null()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "driftd: configuration OK\n", "{conf}");
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.contains("site staging.example.com {"), "{stdout}");
}

for_both_arches!(sites_and_rules, strict_host_gets_421, check_config, precedence, cors_and_auth, auth_refusals, readme_example);
