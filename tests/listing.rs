//! Folder listings (`list`) end to end on both arches: a folder without
//! index.html answers with its listing, HTML or JSON by Accept, with the
//! exact bytes a client sees; what the server would not serve (hidden
//! names, links out of the folder) is not listed; a folder with an index,
//! a folder without its slash, and a site with `list` off answer as before.
//! Sites that share the default root go through the open-file cache; a site
//! with a root of its own does not: both are asked.
#[macro_use]
mod common;

use common::*;
use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

/// Every file's and folder's mtime: 2026-12-06T05:11:12Z.
const MTIME: u64 = 1_796_533_872;
const PAGE_HEAD: &str = "<!doctype html>\n<html lang=\"en\">\n<meta charset=\"utf-8\">\n\
    <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
const STYLE: &str = "<style>td,th{padding:0 1em 0 0;text-align:left}td+td{text-align:right}</style>\n";
const TH: &str = "<table>\n<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n";

fn set_mtime(p: &Path) {
    let f = fs::File::open(p).unwrap_or_else(|e| panic!("open {}: {e}", p.display()));
    f.set_modified(UNIX_EPOCH + Duration::from_secs(MTIME)).unwrap();
}

/// `www/`: `b.txt` (3 bytes), `a&<x>.html`, `sub/` (holding `c d.txt`),
/// `home/` (with an index.html), a hidden `.secret`, a link `out` to a
/// folder outside, and no index.html. Then a config file listing it.
fn tree(tmp: &TempDir) -> String {
    let p = tmp.path();
    let www = p.join("www");
    for (f, body) in [
        ("www/b.txt", "abc"),
        ("www/a&<x>.html", "<p>x</p>\n"),
        ("www/.secret", "hidden\n"),
        ("www/sub/c d.txt", "hello"),
        ("www/home/index.html", "<h1>home</h1>\n"),
        ("outside/passwd", "root:x:0:0\n"),
    ] {
        let path = p.join(f);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, body).unwrap();
    }
    symlink("../outside", www.join("out")).unwrap();
    // Folders last: adding to a folder moves its mtime.
    for f in ["b.txt", "a&<x>.html", ".secret", "sub/c d.txt", "home/index.html", "sub", "home", "."] {
        set_mtime(&www.join(f));
    }
    let own = www.display();
    let conf = format!(
        "quiet\nworkers 1\nroot {own}\nlist\n\
         site list.example {{\n}}\n\
         site own.example {{\n  root {own}\n}}\n\
         site dots.example {{\n  dotfiles\n}}\n\
         site nolist.example {{\n  list off\n}}\n"
    );
    let path = p.join("driftd.conf");
    fs::write(&path, conf).unwrap();
    path.display().to_string()
}

fn get(addr: &str, host: &str, path: &str, extra: &str) -> Resp {
    request(addr, format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n").as_bytes())
}

fn row(href: &str, text: &str, size: &str) -> String {
    format!("<tr><td><a href=\"{href}\">{text}</a></td><td>{size}</td><td>2026-12-06 05:11</td></tr>\n")
}

fn page(dir: &str, rows: &[String]) -> String {
    let parent = if dir == "/" { "" } else { "<tr><td><a href=\"../\">../</a></td><td>-</td><td></td></tr>\n" };
    format!(
        "{PAGE_HEAD}<title>Index of {dir}</title>\n{STYLE}<h1>Index of {dir}</h1>\n{TH}{parent}{}</table>\n</html>\n",
        rows.concat()
    )
}

fn root_page() -> String {
    page(
        "/",
        &[
            row("./home/", "home/", "-"),
            row("./sub/", "sub/", "-"),
            row("./a%26%3Cx%3E.html", "a&amp;&lt;x&gt;.html", "9"),
            row("./b.txt", "b.txt", "3"),
        ],
    )
}

fn json_entry(name: &str, size: Option<u64>) -> String {
    match size {
        None => format!("{{\"name\":\"{name}\",\"type\":\"directory\",\"mtime\":\"2026-12-06T05:11:12Z\"}}"),
        Some(n) => format!("{{\"name\":\"{name}\",\"type\":\"file\",\"size\":{n},\"mtime\":\"2026-12-06T05:11:12Z\"}}"),
    }
}

fn assert_listing(r: &Resp, ctype: &str, body: &str, what: &str) {
    assert_eq!(r.status_line, "HTTP/1.1 200 OK", "{what}");
    let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["Server", "Date", "Content-Type", "Vary", "Cache-Control", "Content-Length", "Connection"],
        "{what}"
    );
    assert_eq!(r.header("Content-Type"), Some(ctype), "{what}");
    assert_eq!(r.header("Vary"), Some("Accept"), "{what}");
    assert_eq!(r.header("Cache-Control"), Some("no-cache"), "{what}");
    assert_eq!(r.header("Content-Length"), Some(body.len().to_string().as_str()), "{what}");
    assert_eq!(String::from_utf8_lossy(&r.body), body, "{what}");
}

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";

fn lists_folders(arch: Arch) {
    let tmp = TempDir::new("listing");
    let conf = tree(&tmp);
    let Some(s) = start_driftd(arch, &["--config", &conf], &[]) else { return };
    let addr = s.addr();
    let dirs = [json_entry("home", None), json_entry("sub", None)];
    let files = [json_entry("a&<x>.html", Some(9)), json_entry("b.txt", Some(3))];
    let json = format!("[{}]", [&dirs[..], &files[..]].concat().join(","));

    // The cached default root and a site's own root answer alike.
    for host in ["list.example", "own.example"] {
        let r = get(&addr, host, "/", "");
        assert_listing(&r, HTML, &root_page(), host);
        // a browser's Accept still gets HTML; JSON only when it is preferred
        let r = get(&addr, host, "/", "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n");
        assert_listing(&r, HTML, &root_page(), host);
        let r = get(&addr, host, "/", "Accept: application/json\r\n");
        assert_listing(&r, JSON, &json, host);
        let r = get(&addr, host, "/?q=1", "Accept: text/html;q=0.5, application/json\r\n");
        assert_listing(&r, JSON, &json, host);
        // a subfolder: its parent link, a name with a space
        let r = get(&addr, host, "/sub/", "");
        assert_listing(&r, HTML, &page("/sub/", &[row("./c%20d.txt", "c d.txt", "5")]), host);
        let r = get(&addr, host, "/sub/", "Accept: application/json\r\n");
        assert_listing(&r, JSON, &format!("[{}]", json_entry("c d.txt", Some(5))), host);
        // the folder without its slash: 301, as before
        let r = get(&addr, host, "/sub", "");
        assert_eq!((r.status(), r.header("Location")), (301, Some("/sub/")), "{host}");
        let r = get(&addr, host, "/sub?x=1", "");
        assert_eq!((r.status(), r.header("Location")), (301, Some("/sub/?x=1")), "{host}");
        // a folder with an index serves it
        let r = get(&addr, host, "/home/", "");
        assert_eq!((r.status(), r.header("Content-Type")), (200, Some(HTML)), "{host}");
        assert_eq!(r.header("Vary"), None);
        assert_eq!(String::from_utf8_lossy(&r.body), "<h1>home</h1>\n", "{host}");
        // files as before; what is not there, hidden or out of the root: 404
        let r = get(&addr, host, "/b.txt", "");
        assert_eq!((r.status(), String::from_utf8_lossy(&r.body).as_ref()), (200, "abc"), "{host}");
        for path in ["/missing/", "/b.txt/", "/.secret", "/out/", "/out/passwd", "/sub/c%20d.txt/"] {
            let r = get(&addr, host, path, "");
            assert_eq!((r.status(), String::from_utf8_lossy(&r.body).as_ref()), (404, "404 Not Found\n"), "{host} {path}");
        }
    }

    // dotfiles: hidden names are listed too (and sort first: `.` < `a`)
    let r = get(&addr, "dots.example", "/", "Accept: application/json\r\n");
    let dotted = format!("[{},{}]", dirs.join(","), [json_entry(".secret", Some(7)), files.join(",")].join(","));
    assert_listing(&r, JSON, &dotted, "dotfiles");
    let r = get(&addr, "dots.example", "/", "");
    assert!(String::from_utf8_lossy(&r.body).contains(&row("./.secret", ".secret", "7")));

    // list off: a folder without an index is a 404, as it always was
    for path in ["/", "/sub/"] {
        let r = get(&addr, "nolist.example", path, "");
        assert_eq!((r.status(), String::from_utf8_lossy(&r.body).as_ref()), (404, "404 Not Found\n"), "list off {path}");
    }
}

/// HEAD: the same head as GET (its Content-Length the page's), no body.
/// The exact bytes on the wire: the connection closes right after the head.
fn head_has_no_body(arch: Arch) {
    let tmp = TempDir::new("listing-head");
    let conf = tree(&tmp);
    let Some(s) = start_driftd(arch, &["--config", &conf], &[]) else { return };
    let addr = s.addr();
    for (accept, ctype, len) in [("", HTML, root_page().len()), ("Accept: application/json\r\n", JSON, 0)] {
        let get_r = get(&addr, "own.example", "/", accept);
        let len = if len == 0 { get_r.body.len() } else { len };
        let raw = exchange(&addr, format!("HEAD / HTTP/1.1\r\nHost: own.example\r\n{accept}Connection: close\r\n\r\n").as_bytes());
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
        assert_eq!(body, "", "HEAD sends no body");
        let lines: Vec<&str> = head.split("\r\n").filter(|l| !l.starts_with("Date: ")).collect();
        assert_eq!(
            lines,
            [
                "HTTP/1.1 200 OK",
                "Server: driftd",
                &format!("Content-Type: {ctype}"),
                "Vary: Accept",
                "Cache-Control: no-cache",
                &format!("Content-Length: {len}"),
                "Connection: close",
            ]
        );
        let get_lines: Vec<String> =
            get_r.headers.iter().filter(|(n, _)| n != "Date").map(|(n, v)| format!("{n}: {v}")).collect();
        assert_eq!(lines[1..], get_lines, "HEAD and GET heads match");
    }
}

/// Keep-alive: listings pipelined on one connection, each body whole, and
/// the connection still answers after them.
fn keep_alive(arch: Arch) {
    let tmp = TempDir::new("listing-keep");
    let conf = tree(&tmp);
    let Some(s) = start_driftd(arch, &["--config", &conf], &[]) else { return };
    let mut c = connect(&s.addr());
    let mut reqs = String::new();
    for path in ["/", "/sub/", "/", "/b.txt"] {
        reqs += &format!("GET {path} HTTP/1.1\r\nHost: list.example\r\n\r\n");
    }
    reqs += "HEAD / HTTP/1.1\r\nHost: list.example\r\n\r\nGET /sub/ HTTP/1.1\r\nHost: own.example\r\n\r\n";
    c.write_all(reqs.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let bodies: Vec<(u16, String)> = [false, false, false, false, true, false]
        .iter()
        .map(|&head| {
            let r = read_response(&mut c, &mut buf, head);
            (r.status(), String::from_utf8_lossy(&r.body).into_owned())
        })
        .collect();
    let sub = page("/sub/", &[row("./c%20d.txt", "c d.txt", "5")]);
    let want = [root_page(), sub.clone(), root_page(), "abc".into(), String::new(), sub];
    for (i, (got, want)) in bodies.iter().zip(want).enumerate() {
        assert_eq!(got, &(200, want), "response {i}");
    }
    assert!(buf.is_empty(), "nothing past the last response: {buf:?}");
}

for_both_arches!(lists_folders, head_has_no_body, keep_alive);
