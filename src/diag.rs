//! What driftd says to the person running it: one line on stderr per event
//! (`driftd: bind [::]:8080: Address already in use (EADDRINUSE)`), and the
//! usage text. The server and the client both use it; it uses neither.
use crate::fmt::Line;
use crate::sys::{Errno, fd, io, net};

/// One line on stderr: `driftd: CALL ADDR: Message (ENAME)`.
pub fn report(call: &[u8], addr: &[u8], e: Errno) {
    let sep: &[u8] = if addr.is_empty() { b"" } else { b" " };
    tell(&[call, sep, addr], Some(e));
}

pub fn say(parts: &[&[u8]]) {
    tell(parts, None);
}

/// One line on stderr, written at once: `driftd: `, the parts, and
/// `: Message (ENAME)` when there is an errno. Cut short if it is very long,
/// but always ended by its newline.
pub fn tell(parts: &[&[u8]], e: Option<Errno>) {
    let mut buf = [0u8; 1024];
    let n = {
        let (text, _newline) = buf.split_at_mut(1023);
        let mut l = Line::new(text);
        l.push(b"driftd: ");
        for p in parts {
            l.push(p);
        }
        if let Some(e) = e {
            l.push(b": ");
            crate::errno::push_text_all(&mut l, e);
        }
        l.as_bytes().len()
    };
    buf[n] = b'\n';
    let _ = io::write_all(fd::STDERR, &buf[..=n]);
}

/// `a.b.c.d:port` for an IPv4(-mapped) address, `[v6]:port` for others.
pub fn push_addr(l: &mut Line<'_>, addr: net::SocketAddrV6) {
    let mut t = [0u8; crate::http::log::IP_MAX];
    let n = crate::http::log::format_ip(&addr.ip, &mut t);
    let v6 = addr.family() != net::AF_INET;
    l.push(if v6 { b"[" } else { b"" });
    l.push(&t[..n.min(t.len())]);
    l.push(if v6 { b"]:" } else { b":" }).push_u32(u32::from(addr.port));
}


/// `driftd --help`, for the server and the client alike.
pub const USAGE: &str = "usage: driftd [OPTION]...     serve HTTP; options below (README has more)
       driftd get URL [-o FILE] [--timeout S]    exit 0 on 2xx; follows 5 redirects
       driftd check URL [--timeout S]            exit 0 on 2xx/3xx, else 1
  --bind ADDR        listen address (default [::], IPv4 and IPv6)
  --port N           1-65535 (default $PORT, else 8080)
  --workers N        worker processes (default one per CPU, within a cgroup CPU limit)
  --max-conns N      connections per worker, 1-1048576 (default: what the
                     descriptor and cgroup memory limits allow); beyond: 503
  --head-timeout S   first byte of a request to the end of its head (10)
  --idle-timeout S   keep-alive idle time (15)
  --body-timeout S   between reads of a request body (10)
  --send-timeout S   between writes to a client that stopped reading (10)
  --grace S          on SIGTERM/SIGINT, time to finish what is in flight (10)
  --max-body BYTES   largest request body (1048576); larger: 413
  --body TEXT        the GET/HEAD body (the Drift greeting); --content-type T
  --root DIR         serve the files under DIR; --dotfiles: '.' names too
  --file-cache N      files kept open per worker for --root (1024; 0: off);
  --file-cache-mem B  bytes of small files (16 KiB and less) kept in memory (16 MiB)
  --kv DIR           key-value store: POST/PUT/GET/HEAD/DELETE /KEY
  --kv-max-value N   largest value (1048576); --kv-prefix /P/ beside --root (/kv/)
  --tls-cert FILE    PEM chain (leaf first) for HTTPS; with --tls-key FILE (ECDSA
                     P-256/P-384 or Ed25519); repeat both for more names (SNI)
  --tls-port N       the HTTPS port (8443); --https-redirect: plain port answers 308
  --hsts S           Strict-Transport-Security max-age on https responses
  --quiet            no access log
  --timeout S        get: per step (30); check: the whole exchange (2)
  get/check read DRIFTD_HOSTS, DRIFTD_RESOLV_CONF, DRIFTD_DNS_PORT if set
";
