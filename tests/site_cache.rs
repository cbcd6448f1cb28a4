//! The open-file cache serves every site, each site with a folder of its
//! own from its own entries: the same path on two sites is two files, a
//! change on disk in one site's folder is seen there at once and leaves the
//! other's answers alone. End to end on both arches, one worker (so a
//! second request is answered from the cache), keep-alive and new
//! connections; on x86_64 the watches themselves are checked with strace.
#[macro_use]
mod common;

use common::*;
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const GZ: &[u8] = b"\x1f\x8b\x08\x00GZ";

/// The default root and two sites' own folders, each file's body naming
/// where it lives, and a config: `a.test` and `b.test` with their own
/// roots, `c.test` and `d.test` (with `dotfiles`) on the default one.
fn tree(tmp: &TempDir) -> String {
    let p = tmp.path();
    for (f, body) in [
        ("def/index.html", &b"default home\n"[..]),
        ("def/.hidden.txt", b"hidden in the default root\n"),
        ("a/index.html", b"A home\n"),
        ("a/sub/page.txt", b"A page\n"),
        ("a/sib.txt", b"A plain\n"),
        ("a/sib.txt.gz", GZ),
        ("b/index.html", b"B home\n"),
        ("b/sub/page.txt", b"B page\n"),
        ("b/sib.txt", b"B plain\n"),
        ("b/sib.txt.gz", GZ),
    ] {
        let path = p.join(f);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
    }
    let conf = format!(
        "quiet\n\
         workers 1\n\
         root {def}\n\
         site a.test {{\n\x20 root {a}\n}}\n\
         site b.test {{\n\x20 root {b}\n}}\n\
         site c.test {{\n}}\n\
         site d.test {{\n\x20 dotfiles\n}}\n",
        def = p.join("def").display(),
        a = p.join("a").display(),
        b = p.join("b").display(),
    );
    let path = p.join("driftd.conf");
    fs::write(&path, conf).unwrap();
    path.display().to_string()
}

fn raw_get(host: &str, path: &str, close: bool) -> Vec<u8> {
    let conn = if close { "Connection: close\r\n" } else { "" };
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{conn}\r\n").into_bytes()
}

/// Asks on the keep-alive connection and on a new one: both answers.
struct Asker {
    addr: String,
    ka: std::net::TcpStream,
    buf: Vec<u8>,
}

impl Asker {
    fn new(addr: &str) -> Asker {
        Asker { addr: addr.to_string(), ka: connect(addr), buf: Vec::new() }
    }

    fn ask(&mut self, host: &str, path: &str) -> [Resp; 2] {
        self.ka.write_all(&raw_get(host, path, false)).unwrap();
        let kept = read_response(&mut self.ka, &mut self.buf, false);
        [kept, request(&self.addr, &raw_get(host, path, true))]
    }

    /// Both answers are 200 with `body`.
    fn expect(&mut self, host: &str, path: &str, body: &[u8], when: &str) {
        for (r, how) in self.ask(host, path).iter().zip(["keep-alive", "new connection"]) {
            assert_eq!(r.status(), 200, "{host}{path} {when} ({how}): {r:?}");
            assert_eq!(r.body, body, "{host}{path} {when} ({how}): {:?}", String::from_utf8_lossy(&r.body));
        }
    }

    /// Both answers have `status`.
    fn expect_status(&mut self, host: &str, path: &str, status: u16, when: &str) {
        for (r, how) in self.ask(host, path).iter().zip(["keep-alive", "new connection"]) {
            assert_eq!(r.status(), status, "{host}{path} {when} ({how}): {r:?}");
        }
    }
}

fn replace_by_rename(dir: &Path, name: &str, body: &[u8]) {
    fs::write(dir.join(".swap"), body).unwrap();
    fs::rename(dir.join(".swap"), dir.join(name)).unwrap();
}

fn each_site_its_own_entries(arch: Arch) {
    let tmp = TempDir::new("site-cache");
    let conf = tree(&tmp);
    let Some(s) = start_driftd(arch, &["--config", &conf], &[]) else { return };
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let mut k = Asker::new(&s.addr());
    // Each site its own file, asked for again and again: the first answer
    // fills an entry, the rest come from it, and never from the other's.
    for round in 0..3 {
        let when = format!("round {round}");
        k.expect("a.test", "/", b"A home\n", &when);
        k.expect("b.test", "/", b"B home\n", &when);
        k.expect("c.test", "/", b"default home\n", &when);
        k.expect("a.test", "/index.html", b"A home\n", &when);
        k.expect("b.test", "/index.html", b"B home\n", &when);
        k.expect("b.test", "/sub/page.txt", b"B page\n", &when);
        k.expect("a.test", "/sub/page.txt", b"A page\n", &when);
    }
    // Served through the cache: only the cache looks for a sibling the
    // client did not ask for, so only its answer carries Vary.
    for (host, body) in [("a.test", &b"A plain\n"[..]), ("b.test", b"B plain\n")] {
        for r in k.ask(host, "/sib.txt") {
            assert_eq!((r.status(), r.body.as_slice()), (200, body), "{host}/sib.txt: {r:?}");
            assert_eq!(r.header("Vary"), Some("Accept-Encoding"), "{host}/sib.txt from the cache: {r:?}");
        }
    }

    // B's file written in place: B's new bytes at once, A's unchanged.
    fs::write(b.join("index.html"), b"B home, written\n").unwrap();
    k.expect("b.test", "/", b"B home, written\n", "after a write");
    k.expect("b.test", "/index.html", b"B home, written\n", "after a write");
    k.expect("a.test", "/", b"A home\n", "after B's write");
    k.expect("a.test", "/index.html", b"A home\n", "after B's write");
    // Replaced by a rename, as deploy tools do.
    replace_by_rename(&b, "index.html", b"B home, renamed in\n");
    k.expect("b.test", "/", b"B home, renamed in\n", "after a rename");
    k.expect("b.test", "/index.html", b"B home, renamed in\n", "after a rename");
    k.expect("a.test", "/index.html", b"A home\n", "after B's rename");
    // In a folder below the root too.
    replace_by_rename(&b.join("sub"), "page.txt", b"B page, renamed in\n");
    k.expect("b.test", "/sub/page.txt", b"B page, renamed in\n", "after a rename below");
    k.expect("a.test", "/sub/page.txt", b"A page\n", "after B's rename below");
    // Deleted in B: B's answer is 404, A still serves its own.
    fs::remove_file(b.join("index.html")).unwrap();
    k.expect_status("b.test", "/index.html", 404, "after the delete");
    for r in k.ask("b.test", "/") {
        assert_ne!(r.status(), 200, "b.test/ after the delete: {r:?}");
    }
    k.expect("a.test", "/", b"A home\n", "after B's delete");
    k.expect("a.test", "/index.html", b"A home\n", "after B's delete");
    // And the other way round: A's change leaves B's answer alone.
    fs::write(a.join("index.html"), b"A home, written\n").unwrap();
    k.expect("a.test", "/index.html", b"A home, written\n", "after A's write");
    k.expect_status("b.test", "/index.html", 404, "after A's write");
    k.expect("b.test", "/sub/page.txt", b"B page, renamed in\n", "after A's write");
    // B's file back: found again, from a fresh entry.
    fs::write(b.join("index.html"), b"B home, back\n").unwrap();
    k.expect("b.test", "/index.html", b"B home, back\n", "recreated");
    k.expect("b.test", "/index.html", b"B home, back\n", "recreated, again");
    // The default root was never touched.
    k.expect("c.test", "/", b"default home\n", "at the end");
}

/// Sites sharing a root share entries, but not with a site that serves
/// names starting with '.': what it finds is not another site's answer.
fn dotfiles_stay_with_their_site(arch: Arch) {
    let tmp = TempDir::new("site-cache-dot");
    let conf = tree(&tmp);
    let Some(s) = start_driftd(arch, &["--config", &conf], &[]) else { return };
    let mut k = Asker::new(&s.addr());
    let refused = k.ask("c.test", "/.hidden.txt")[0].status();
    assert!(refused >= 400, "c.test/.hidden.txt without dotfiles: {refused}");
    for round in 0..2 {
        let when = format!("round {round}");
        k.expect("d.test", "/.hidden.txt", b"hidden in the default root\n", &when);
        k.expect_status("c.test", "/.hidden.txt", refused, &when);
        // What both may serve is served to both.
        k.expect("d.test", "/index.html", b"default home\n", &when);
        k.expect("c.test", "/index.html", b"default home\n", &when);
    }
}

/// No top-level root, only the sites' own: the cache still serves them.
fn only_sites_have_roots(arch: Arch) {
    let tmp = TempDir::new("site-cache-own");
    let conf = tree(&tmp);
    let text = fs::read_to_string(&conf).unwrap();
    let def = format!("root {}\n", tmp.path().join("def").display());
    fs::write(&conf, text.replace(&def, "")).unwrap();
    let Some(s) = start_driftd(arch, &["--config", &conf], &[]) else { return };
    let b = tmp.path().join("b");
    let mut k = Asker::new(&s.addr());
    for round in 0..2 {
        let when = format!("round {round}");
        k.expect("a.test", "/index.html", b"A home\n", &when);
        k.expect("b.test", "/index.html", b"B home\n", &when);
        k.expect_status("c.test", "/index.html", 404, &when);
    }
    for r in k.ask("b.test", "/sib.txt") {
        assert_eq!(r.header("Vary"), Some("Accept-Encoding"), "b.test/sib.txt from the cache: {r:?}");
    }
    replace_by_rename(&b, "index.html", b"B home, renamed in\n");
    k.expect("b.test", "/index.html", b"B home, renamed in\n", "after a rename");
    k.expect("a.test", "/index.html", b"A home\n", "after B's rename");
}

for_both_arches!(each_site_its_own_entries, dotfiles_stay_with_their_site, only_sites_have_roots);

/// The directories an x86_64 driftd watched while serving each site once:
/// each `inotify_add_watch` path joined to the folder the worker last
/// moved into (strace -y shows a descriptor's path). None without strace.
fn watched_dirs() -> Option<(BTreeSet<String>, String)> {
    if runner(Arch::X86_64).is_none_or(|r| !r.is_empty()) || skip_without("strace") {
        return None;
    }
    let tmp = TempDir::new("site-cache-trace");
    let conf = tree(&tmp);
    let trace = tmp.path().join("trace.txt");
    let port = free_port();
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-y", "-e", "trace=fchdir,inotify_add_watch", "-o"]).arg(&trace).arg(binary(Arch::X86_64, "driftd"));
    cmd.args(["--port", &port.to_string(), "--config", &conf]);
    cmd.env_remove("PORT");
    let mut s = DriftdServer::start(cmd, port);
    let addr = s.addr();
    for (host, path) in [("a.test", "/sub/page.txt"), ("b.test", "/sub/page.txt"), ("c.test", "/index.html"), ("b.test", "/")] {
        let r = request(&addr, &raw_get(host, path, true));
        assert_eq!(r.status(), 200, "{host}{path} under strace: {r:?}");
    }
    let driftd = s.workers();
    assert_eq!(driftd.len(), 1, "strace's children: {driftd:?}");
    assert!(Command::new("kill").args(["-TERM", &driftd[0].to_string()]).status().unwrap().success());
    assert!(s.wait_exit(Duration::from_secs(10)).0.is_some(), "strace did not end");
    let text = fs::read_to_string(&trace).unwrap();
    let base = tmp.path().canonicalize().unwrap().display().to_string();
    let mut cwd = None;
    let mut dirs = BTreeSet::new();
    for line in text.lines() {
        // `PID  fchdir(5</tmp/x/b>) = 0`
        if let Some(rest) = line.split_once("fchdir(").map(|(_, r)| r) {
            let path = rest.split_once('<').and_then(|(_, r)| r.split_once(">)")).map(|(p, _)| p);
            cwd = path.filter(|_| line.ends_with("= 0")).map(str::to_string);
        }
        // `PID  inotify_add_watch(7<anon_inode:inotify>, "sub", IN_MODIFY|...) = 2`
        if let Some(rest) = line.split_once("inotify_add_watch(").map(|(_, r)| r) {
            let path = rest.split_once(", \"").and_then(|(_, r)| r.split_once('"')).map(|(p, _)| p).unwrap();
            assert!(!line.contains("= -1"), "a watch failed: {line}");
            let from = cwd.clone().unwrap_or_else(|| panic!("a watch before any fchdir: {line}\n{text}"));
            let full = if path == "." { from } else { format!("{from}/{path}") };
            dirs.insert(full.strip_prefix(&base).unwrap_or(&full).to_string());
        }
    }
    Some((dirs, text))
}

// Each root's directories are watched, and nothing else: the worker moves
// into a site's folder before adding that site's watches.
#[test]
fn x86_64_watches_are_on_each_roots_directories() {
    let Some((dirs, text)) = watched_dirs() else { return };
    let want: BTreeSet<String> = ["/def", "/a", "/a/sub", "/b", "/b/sub"].iter().map(|s| s.to_string()).collect();
    assert_eq!(dirs, want, "trace:\n{text}");
}
