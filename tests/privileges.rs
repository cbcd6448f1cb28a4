//! `user` and `allow-root`, end to end on both arches (qemu-user passes
//! setgroups/setresgid/setresuid through): the workers' ids as the kernel
//! shows them in /proc/PID/status, the supervisor still root, files served
//! (or refused) as the new user sees them, the exact refusal lines and
//! exit statuses, and a reload that changes the user. Needs root: skipped,
//! with a SKIPPED line, otherwise.
#[macro_use]
mod common;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NOBODY: u32 = 65534;

fn root_or_skip() -> bool {
    if is_root() {
        return true;
    }
    skipped("privileges tests switch users: they need root");
    false
}

/// driftd of `arch` with `args`, without the harness's allow-root (see
/// common::allow_root_workers) unless `keep_allow_root`.
fn driftd(arch: Arch, args: &[&str]) -> Option<Command> {
    let mut cmd = command(arch, "driftd", args)?;
    cmd.env_remove("DRIFTD_ALLOW_ROOT").stdin(Stdio::null());
    Some(cmd)
}

/// (real, effective, saved, fs) uid, the same for gid, and the groups of
/// process `pid`.
fn ids(pid: u32) -> ([u32; 4], [u32; 4], Vec<u32>) {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    let field = |name: &str| -> Vec<u32> {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in {status}"));
        line[name.len()..].split_whitespace().map(|n| n.parse().unwrap()).collect()
    };
    let four = |v: Vec<u32>| -> [u32; 4] { v.try_into().unwrap() };
    (four(field("Uid:")), four(field("Gid:")), field("Groups:"))
}

/// The workers once there are `n` and each has switched to `uid` (the
/// switch happens just after fork), or a panic after 5 s.
fn workers_as(s: &DriftdServer, n: usize, uid: u32) -> Vec<u32> {
    let t = Instant::now();
    loop {
        let w = s.workers();
        if w.len() == n && w.iter().all(|&p| ids(p).0 == [uid; 4]) {
            return w;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "workers {w:?} not {n} as uid {uid}: {:?}", s.stderr.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A root with a file anyone may read and one only root may.
fn tree(tmp: &TempDir) -> String {
    let dir = tmp.path().join("www");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(dir.join("index.html"), "for everyone\n").unwrap();
    fs::write(dir.join("secret.txt"), "root only\n").unwrap();
    fs::set_permissions(dir.join("index.html"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(dir.join("secret.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    dir.display().to_string()
}

fn get(addr: &str, path: &str) -> Resp {
    request(addr, format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
}

/// `--user nobody`: workers are nobody/nogroup with no supplementary
/// groups, the supervisor stays root, and files are read as nobody.
fn user_nobody(arch: Arch) {
    if !root_or_skip() {
        return;
    }
    let tmp = TempDir::new("priv-nobody");
    let root = tree(&tmp);
    let port = free_port();
    let p = port.to_string();
    let Some(cmd) = driftd(arch, &["--port", &p, "--workers", "2", "--quiet", "--user", "nobody", "--root", &root]) else { return };
    let s = DriftdServer::start(cmd, port);
    for pid in workers_as(&s, 2, NOBODY) {
        assert_eq!(ids(pid), ([NOBODY; 4], [NOBODY; 4], vec![]), "worker {pid}");
    }
    let (uid, _, _) = ids(s.child.id());
    assert_eq!(uid, [0; 4], "the supervisor stays root");
    let r = get(&s.addr(), "/index.html");
    assert_eq!((r.status(), r.body.as_slice()), (200, &b"for everyone\n"[..]), "{r:?}");
    // Root could read it; nobody cannot: the switch is real.
    assert_eq!(get(&s.addr(), "/secret.txt").status(), 403);
    let err = s.stderr.lock().unwrap().clone();
    assert!(err.iter().all(|l| !l.contains("warning")), "{err:?}");
}

/// Numbers need no file: `65534:65534`, and a UID alone takes its own
/// number as the group; the environment works like the flag.
fn numeric_ids(arch: Arch) {
    if !root_or_skip() {
        return;
    }
    for (how, want_gid) in [("flag 65534:65534", NOBODY), ("env 65534", NOBODY), ("flag 65534:0", 0)] {
        let port = free_port();
        let p = port.to_string();
        let (kind, value) = how.split_once(' ').unwrap();
        let mut args = vec!["--port", &p, "--workers", "1", "--quiet"];
        if kind == "flag" {
            args.extend(["--user", value]);
        }
        let Some(mut cmd) = driftd(arch, &args) else { return };
        if kind == "env" {
            cmd.env("DRIFTD_USER", value);
        }
        let s = DriftdServer::start(cmd, port);
        let w = workers_as(&s, 1, NOBODY);
        assert_eq!(ids(w[0]), ([NOBODY; 4], [want_gid; 4], vec![]), "{how}");
        assert_eq!(get(&s.addr(), "/").status(), 200, "{how}");
    }
}

/// The exact lines and exit status 2, when serving and with --check-config.
fn refusals(arch: Arch) {
    if !root_or_skip() {
        return;
    }
    let rows: [(&[&str], &str); 4] = [
        (&["--user", "nosuchuser"], "driftd: user nosuchuser: no such user in /etc/passwd\n"),
        (&["--user", "nobody:nosuchgroup"], "driftd: user nobody:nosuchgroup: no such group in /etc/group\n"),
        (&[], "driftd: running workers as root: set user NAME (or allow-root to mean it)\n"),
        (&["--user", "4294967295"], "driftd: --user 4294967295: an id is 0-4294967294\n(driftd --help lists the options)\n"),
    ];
    for (args, want) in rows {
        for check in [false, true] {
            let mut all = args.to_vec();
            all.extend(["--port", "1"]); // refused before any bind
            if check {
                all.push("--check-config");
            }
            let Some(mut cmd) = driftd(arch, &all) else { return };
            let out = cmd.output().unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stderr), want, "{all:?}");
            assert_eq!(out.status.code(), Some(2), "{all:?}");
            if !check {
                assert!(out.stdout.is_empty(), "{all:?}");
            }
        }
    }
}

/// `--allow-root`: root workers, said once, before the listening line.
fn allow_root(arch: Arch) {
    if !root_or_skip() {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let Some(cmd) = driftd(arch, &["--port", &p, "--workers", "1", "--quiet", "--allow-root"]) else { return };
    let s = DriftdServer::start(cmd, port);
    let w = workers_as(&s, 1, 0);
    assert_eq!(ids(w[0]).0, [0; 4]);
    s.wait_stderr(Duration::from_secs(5), |l| l.len() >= 2); // the banner is handed over before it is stored
    let err = s.stderr.lock().unwrap().clone();
    assert_eq!(err[0], "driftd: warning: workers run as root (allow-root)", "{err:?}");
    assert!(err[1].starts_with("driftd: listening on "), "{err:?}");
    assert_eq!(get(&s.addr(), "/").status(), 200);
}

/// A reload reads `user` again: the new workers run as the new user; an
/// unknown one refuses the reload and the workers stay as they were.
fn reload_changes_user(arch: Arch) {
    if !root_or_skip() {
        return;
    }
    let tmp = TempDir::new("priv-reload");
    let conf = tmp.path().join("d.conf");
    fs::write(&conf, "quiet\nworkers 1\nuser nobody\n").unwrap();
    let port = free_port();
    let p = port.to_string();
    let c = conf.display().to_string();
    let Some(cmd) = driftd(arch, &["--port", &p, "--config", &c]) else { return };
    let s = DriftdServer::start(cmd, port);
    let before = workers_as(&s, 1, NOBODY);

    fs::write(&conf, "quiet\nworkers 1\nuser daemon\n").unwrap(); // daemon: uid 1, gid 1 on Debian
    let (uid, gid) = (1, 1);
    s.signal("HUP");
    assert!(s.wait_stderr(Duration::from_secs(5), |l| l.iter().any(|l| l.starts_with("driftd: reloaded: serving on "))), "{:?}", s.stderr.lock().unwrap());
    let after = workers_as(&s, 1, uid);
    assert_ne!(before, after);
    assert_eq!(ids(after[0]), ([uid; 4], [gid; 4], vec![]));
    assert_eq!(get(&s.addr(), "/").status(), 200);

    fs::write(&conf, "quiet\nworkers 1\nuser nosuchuser\n").unwrap();
    s.signal("HUP");
    let refused = |l: &[String]| {
        l.iter().any(|l| l == "driftd: user nosuchuser: no such user in /etc/passwd")
            && l.iter().any(|l| l == "driftd: reload refused; still serving with the settings before")
    };
    assert!(s.wait_stderr(Duration::from_secs(5), refused), "{:?}", s.stderr.lock().unwrap());
    assert_eq!(workers_as(&s, 1, uid), after);
    assert_eq!(get(&s.addr(), "/").status(), 200);
}

for_both_arches!(user_nobody, numeric_ids, refusals, allow_root, reload_changes_user);
