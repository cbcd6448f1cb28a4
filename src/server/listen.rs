//! The listening sockets: each `listen` bound (an address and port, or a
//! socket file), or taken over from systemd or from the driftd this one
//! upgrades from, and handed on at the next upgrade. It never accepts (the
//! workers do), and it removes a socket file only when nothing answers on
//! it: a stale one left by a crash, or its own at a clean stop.
use super::config::{Bind, Config, Listen, ListenAt, MAX_LISTEN};
use crate::diag::{push_addr, report, say};
use crate::fmt::Line;
use crate::sys::{Errno, OwnedFd, env::ProcEnv, fd, fs, net, process};

/// One listening socket and what arrives on it.
pub struct Bound {
    pub fd: OwnedFd,
    pub tls: bool,
    pub proxy: bool,
}

/// The listening sockets, at most one per `listen` line.
pub struct Sockets {
    pub list: [Option<Bound>; MAX_LISTEN],
    /// Given by systemd: its socket files are systemd's to remove.
    pub activated: bool,
}

impl Sockets {
    const NONE: [Option<Bound>; MAX_LISTEN] = [const { None }; MAX_LISTEN];

    /// In a worker just forked: its own copies.
    pub fn inherit_after_fork(&self) -> Sockets {
        let mut list = Sockets::NONE;
        for (mine, b) in list.iter_mut().zip(&self.list) {
            *mine = b.as_ref().map(|b| Bound { fd: b.fd.inherit_after_fork(), tls: b.tls, proxy: b.proxy });
        }
        Sockets { list, activated: self.activated }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Bound> {
        self.list.iter().flatten()
    }

    /// The socket files this driftd made (none when systemd gave them).
    pub fn files(&self) -> SocketFiles {
        let mut f = SocketFiles { paths: [[0; 128]; MAX_LISTEN], lens: [0; MAX_LISTEN] };
        if !self.activated {
            for (i, b) in self.list.iter().enumerate() {
                if let Some(b) = b {
                    f.lens[i] = net::unix_path(b.fd.as_fd(), &mut f.paths[i]).unwrap_or(0);
                }
            }
        }
        f
    }
}

/// Socket files to remove once their sockets are closed for good.
pub struct SocketFiles {
    paths: [[u8; 128]; MAX_LISTEN],
    lens: [usize; MAX_LISTEN],
}

impl SocketFiles {
    /// unlink(2)s each; a file already gone is no error.
    pub fn remove(&self, keep: Option<&Sockets>) {
        for (p, &n) in self.paths.iter().zip(&self.lens).filter(|(_, n)| **n > 0) {
            let path = &p[..n];
            if keep.is_some_and(|k| k.iter().any(|b| at_path(b, path))) {
                continue; // still served (a reload kept it)
            }
            let mut buf = [0u8; 130];
            if let Some(z) = fs::path_in(&mut buf, 0, path) {
                let _ = fs::unlink(fs::CWD, z);
            }
        }
    }
}

fn at_path(b: &Bound, path: &[u8]) -> bool {
    let mut buf = [0u8; 128];
    net::unix_path(b.fd.as_fd(), &mut buf).is_some_and(|n| &buf[..n] == path)
}

/// `[::]:8080`, `127.0.0.1:8080`, `unix:/run/driftd.sock` for messages.
fn at_text<'b>(buf: &'b mut [u8; 160], at: ListenAt<'_>) -> &'b [u8] {
    let mut l = Line::new(buf);
    match at {
        ListenAt::Tcp(bind, port) => {
            let ip = match bind {
                Bind::DualStack => [0; 16],
                Bind::V4(ip) => crate::content::url::Ip::V4(ip).to_v6_mapped(),
                Bind::V6(ip) => ip,
            };
            push_addr(&mut l, net::SocketAddrV6 { ip, port });
        }
        ListenAt::Unix(path) => {
            l.push(b"unix:").push(path);
        }
    }
    let n = l.as_bytes().len();
    &buf[..n]
}

/// socket → setsockopt → bind → listen, with `[::]` falling back to
/// 0.0.0.0 on hosts without IPv6.
fn tcp(bind: Bind, port: u16) -> Result<OwnedFd, ()> {
    let mut abuf = [0u8; 160];
    let at = ListenAt::Tcp(bind, port);
    let sock = match bind {
        Bind::V4(_) => net::socket_nonblocking(net::AF_INET, net::SOCK_STREAM),
        _ => net::socket_nonblocking(net::AF_INET6, net::SOCK_STREAM),
    };
    let sock = match (sock, bind) {
        (Ok(s), _) => s,
        (Err(Errno::EAFNOSUPPORT), Bind::DualStack) => {
            say(&[b"IPv6 is not available on this host; listening on 0.0.0.0 (IPv4 only)"]);
            return tcp(Bind::V4([0; 4]), port);
        }
        (Err(e), _) => {
            report(b"socket", at_text(&mut abuf, at), e);
            return Err(());
        }
    };
    let s = sock.as_fd();
    if matches!(bind, Bind::DualStack) {
        let _ = net::setsockopt_int(s, net::IPPROTO_IPV6, net::IPV6_V6ONLY, 0);
    }
    let _ = net::setsockopt_int(s, net::SOL_SOCKET, net::SO_REUSEADDR, 1);
    // A connection is handed to accept() once its first bytes are in, so a
    // worker wakes once per connection with the request ready to read; one
    // that stays silent is handed over after about a second (one SYN-ACK
    // retransmit) and then waits out the idle timeout. nginx's `listen ...
    // deferred` sets the same 1 s. An optimisation only: a refusal is ignored.
    let _ = net::setsockopt_int(s, net::IPPROTO_TCP, net::TCP_DEFER_ACCEPT, 1);
    // No Nagle: a response's last part-filled segment goes out at once
    // instead of waiting for the client's (delayed, up to 40 ms) ACK of the
    // one before. Accepted sockets inherit it: no call per connection.
    let _ = net::setsockopt_int(s, net::IPPROTO_TCP, net::TCP_NODELAY, 1);
    let bound = match bind {
        Bind::V4(ip) => net::bind_v4(s, ip, port),
        Bind::V6(ip) => net::bind_v6(s, net::SocketAddrV6 { ip, port }),
        Bind::DualStack => net::bind_v6(s, net::SocketAddrV6::any(port)),
    };
    if let Err(e) = bound {
        report(b"bind", at_text(&mut abuf, at), e);
        return Err(());
    }
    if let Err(e) = net::listen(s, 4096) {
        report(b"listen", at_text(&mut abuf, at), e);
        return Err(());
    }
    Ok(sock)
}

/// A socket file: bound, given its mode and owner, listening. A file left
/// at the path is replaced only if it is a socket nothing answers on.
fn unix(l: &Listen<'_>, path: &[u8]) -> Result<OwnedFd, ()> {
    let mut abuf = [0u8; 160];
    let text = at_text(&mut abuf, l.at);
    let sock = net::socket_nonblocking(net::AF_UNIX, net::SOCK_STREAM).map_err(|e| report(b"socket", text, e))?;
    let s = sock.as_fd();
    match net::bind_unix(s, path) {
        Ok(()) => {}
        Err(Errno::EADDRINUSE) if stale(path) => {
            let mut z = [0u8; 130];
            let gone = fs::path_in(&mut z, 0, path).map_or(Err(Errno::ENAMETOOLONG), |z| fs::unlink(fs::CWD, z));
            gone.and_then(|()| net::bind_unix(s, path)).map_err(|e| report(b"bind", text, e))?;
        }
        Err(e) => {
            report(b"bind", text, e);
            return Err(());
        }
    }
    // Before listen(): nobody can connect yet, so no one gets in under
    // the umask's mode.
    if let Some(mode) = l.mode {
        fs::chmod(path, mode).map_err(|e| report(b"chmod", text, e))?;
    }
    if l.uid.is_some() || l.gid.is_some() {
        fs::chown(path, l.uid, l.gid).map_err(|e| report(b"chown", text, e))?;
    }
    net::listen(s, 4096).map_err(|e| report(b"listen", text, e))?;
    Ok(sock)
}

/// Whether the file at `path` is a socket nobody listens on (a driftd
/// that crashed left it): a connect is refused.
fn stale(path: &[u8]) -> bool {
    let mut z = [0u8; 130];
    let Some(zp) = fs::path_in(&mut z, 0, path) else { return false };
    if !fs::fstatat(fs::CWD, zp, fs::AT_SYMLINK_NOFOLLOW).is_ok_and(|st| st.is_socket()) {
        return false;
    }
    let Ok(probe) = net::socket_nonblocking(net::AF_UNIX, net::SOCK_STREAM) else { return false };
    matches!(net::connect_unix(probe.as_fd(), path), Err(Errno::ECONNREFUSED))
}

/// Whether `fd` is bound where `at` says.
fn same_place(fd: &OwnedFd, at: ListenAt<'_>) -> bool {
    match at {
        ListenAt::Unix(path) => {
            let mut buf = [0u8; 128];
            net::unix_path(fd.as_fd(), &mut buf).is_some_and(|n| &buf[..n] == path)
        }
        ListenAt::Tcp(bind, port) => {
            let Ok(a) = net::local_addr(fd.as_fd()) else { return false };
            let mapped = |ip: [u8; 4]| crate::content::url::Ip::V4(ip).to_v6_mapped();
            a.port == port
                && match bind {
                    // (or the IPv4-only fallback on a host without IPv6)
                    Bind::DualStack => a.ip == [0; 16] || a.ip == mapped([0; 4]),
                    Bind::V4(ip) => a.ip == mapped(ip),
                    Bind::V6(ip) => a.ip == ip,
                }
        }
    }
}

/// Binds every listener `cfg` names. A socket of `old` (the generation
/// before a reload) bound to the same place is kept instead: taken out of
/// `old` only once everything else is bound, so a failure changes nothing.
pub fn bind_all(cfg: &Config, mut old: Option<&mut Sockets>) -> Result<Sockets, ()> {
    let mut out = Sockets { list: Sockets::NONE, activated: old.as_ref().is_some_and(|o| o.activated) };
    let mut reuse = [None; MAX_LISTEN];
    for (i, l) in cfg.listeners().enumerate() {
        let kept = old.as_ref().and_then(|o| o.list.iter().position(|b| b.as_ref().is_some_and(|b| same_place(&b.fd, l.at))));
        if kept.is_some() {
            reuse[i] = kept;
            continue;
        }
        let fd = match l.at {
            ListenAt::Tcp(bind, port) => tcp(bind, port)?,
            ListenAt::Unix(path) => unix(&l, path)?,
        };
        out.list[i] = Some(Bound { fd, tls: l.tls, proxy: l.proxy });
    }
    for (i, l) in cfg.listeners().enumerate() {
        if let (Some(j), Some(o)) = (reuse[i], old.as_deref_mut()) {
            out.list[i] = o.list[j].take().map(|b| Bound { tls: l.tls, proxy: l.proxy, ..b });
        }
    }
    Ok(out)
}

/// The variable a driftd sets for the one it upgrades to: its listening
/// sockets' descriptor numbers with their flags (`3,4:tls,5:proxy`).
pub const HANDED_OVER: &[u8] = b"DRIFTD_LISTEN_FDS";

/// `DRIFTD_LISTEN_FDS=...` for the driftd upgraded to; the descriptors are
/// left open across its exec.
pub fn hand_over(s: &Sockets, l: &mut Line<'_>) {
    l.push(HANDED_OVER).push(b"=");
    for (i, b) in s.iter().enumerate() {
        if i > 0 {
            l.push(b",");
        }
        l.push_u32(b.fd.raw() as u32);
        if b.tls {
            l.push(b":tls");
        }
        if b.proxy {
            l.push(b":proxy");
        }
        let _ = fd::set_cloexec(b.fd.as_fd(), false);
    }
    l.push(b"\0");
}

/// Sockets this process was given rather than binds: by the driftd it
/// upgrades from (`DRIFTD_LISTEN_FDS`), or by systemd's socket activation
/// (`LISTEN_FDS` for this pid; a name in `LISTEN_FDNAMES` of `https` or
/// `tls` serves HTTPS, `proxy` expects PROXY headers, joined with `+` for
/// both; two unnamed sockets with a certificate set: the second is HTTPS).
/// Ok(None): none.
pub fn given(env: &ProcEnv, cfg: &Config) -> Result<Option<Sockets>, ()> {
    let mut out = Sockets { list: Sockets::NONE, activated: false };
    let mut n = 0;
    let mut flagged = false;
    let mut add = |fd: i32, flags: &mut dyn Iterator<Item = &[u8]>| -> Result<(), ()> {
        let mut nb = [0u8; 16];
        let mut num = Line::new(&mut nb);
        num.push_u32(fd.max(0) as u32);
        let Some(slot) = out.list.get_mut(n) else {
            say(&[b"more than 8 listening sockets given; driftd serves at most 8"]);
            return Err(());
        };
        let s = net::adopt_listener(fd).map_err(|e| report(b"take over listening socket", num.as_bytes(), e))?;
        let mut b = Bound { fd: s, tls: false, proxy: false };
        for f in flags {
            b.tls |= f == b"tls" || f == b"https";
            b.proxy |= f == b"proxy";
        }
        flagged |= b.tls || b.proxy;
        *slot = Some(b);
        n += 1;
        Ok(())
    };
    if let Some(list) = env.var(HANDED_OVER) {
        for w in list.split(|&b| b == b',') {
            let mut parts = w.split(|&b| b == b':');
            let fd = crate::fmt::parse_u32(parts.next().unwrap_or_default()).map_or(-1, |v| v as i32);
            add(fd, &mut parts)?;
        }
    } else if env.var(b"LISTEN_PID").and_then(crate::fmt::parse_u32) == Some(process::pid() as u32) {
        let count = env.var(b"LISTEN_FDS").and_then(crate::fmt::parse_u32).unwrap_or(0) as usize;
        let mut names = env.var(b"LISTEN_FDNAMES").unwrap_or(b"").split(|&b| b == b':');
        for i in 0..count {
            let name = names.next().unwrap_or(b"");
            add(3 + i as i32, &mut name.split(|&b| b == b'+'))?;
        }
        out.activated = true;
    }
    if n == 0 {
        return Ok(None);
    }
    // As before lists: `3,4` (or two unnamed systemd sockets) with a
    // certificate is plain and HTTPS.
    if n == 2
        && !flagged
        && cfg.tls_pairs > 0
        && let Some(b) = out.list[1].as_mut()
    {
        b.tls = true;
    }
    if cfg.tls_pairs > 0 && !out.iter().any(|b| b.tls) {
        say(&[b"a certificate is set but no HTTPS socket was given (name it https in LISTEN_FDNAMES)"]);
        return Err(());
    }
    Ok(Some(out))
}

/// `[::]:8080 (http), [::]:8443 (https), unix:/run/d.sock (http, proxy)`:
/// where the sockets are bound (given ones included).
pub fn describe(s: &Sockets, a: &mut Line<'_>) {
    for (i, b) in s.iter().enumerate() {
        if i > 0 {
            a.push(if i + 1 == s.iter().count() { b" and " } else { b", " });
        }
        let mut p = [0u8; 128];
        if let Some(n) = net::unix_path(b.fd.as_fd(), &mut p) {
            a.push(b"unix:").push(&p[..n]);
        } else {
            match net::local_addr(b.fd.as_fd()) {
                Ok(addr) => push_addr(a, addr),
                Err(_) => {
                    a.push(b"descriptor ").push_u32(b.fd.raw() as u32);
                }
            }
        }
        // One plain socket is just its address, as before lists.
        if s.iter().count() > 1 || b.tls || b.proxy {
            a.push(if b.tls { b" (https" } else { b" (http" });
            a.push(if b.proxy { b", proxy)" } else { b")" });
        }
    }
}
