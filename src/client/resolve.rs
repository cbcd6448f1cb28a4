//! Host names to addresses for `driftd get` and `check`: the hosts file,
//! then one question at a time to the first nameserver in resolv.conf over
//! UDP (A, then AAAA if the name has no A), with a retry. No search domains,
//! no TCP fallback, no cache. The bytes are parsed by `content::dns`; this
//! file only reads the files and does the socket calls.
//!
//! For tests, `DRIFTD_HOSTS` and `DRIFTD_RESOLV_CONF` name other files and
//! `DRIFTD_DNS_PORT` another port than 53.

use super::{peer, wait};
use crate::content::dns::{self, DnsError, QType};
use crate::content::url::Ip;
use crate::diag::tell;
use crate::sys::env::ProcEnv;
use crate::sys::net::{self, SocketAddrV6};
use crate::sys::{Errno, fs, io, poll, time};

/// Sends of one question before giving up (glibc's default `attempts:2`).
const TRIES: u64 = 2;
/// The longest wait for one answer (glibc waits 5 s; a health check cannot).
const TRY_MS: u64 = 2_000;

/// The address `name` has, asked of the hosts file and then DNS, giving up
/// at `deadline` (monotonic ms). `None` once the reason it has none is
/// printed: `driftd: resolve NAME: ...`.
pub fn resolve(env: &ProcEnv, name: &[u8], deadline: u64) -> Option<Ip> {
    let hosts = env.var(b"DRIFTD_HOSTS").unwrap_or(b"/etc/hosts");
    if let Some(ip) = scan(hosts, name, dns::lookup_hosts) {
        return Some(ip);
    }
    let conf = env.var(b"DRIFTD_RESOLV_CONF").unwrap_or(b"/etc/resolv.conf");
    // No nameserver line: the local one, as glibc does.
    let ip = scan(conf, b"", |text, _| dns::nameserver_from_resolv_conf(text)).unwrap_or(Ip::V4([127, 0, 0, 1]));
    let port = match env.var(b"DRIFTD_DNS_PORT").and_then(crate::fmt::parse_u32) {
        Some(p @ 1..=65535) => p as u16,
        _ => 53,
    };
    let server = SocketAddrV6 { ip: ip.to_v6_mapped(), port };
    let mut r = ask(server, name, QType::A, deadline);
    if r == Err(Ok(DnsError::NoAddress)) {
        r = ask(server, name, QType::Aaaa, deadline);
    }
    let what: &[u8] = match r {
        Ok(ip) => return Some(ip),
        Err(Err(e)) => {
            let mut b = [0u8; 64];
            tell(&[b"resolve ", name, b": DNS server ", peer(server, &mut b)], Some(e));
            return None;
        }
        Err(Ok(DnsError::NoSuchName)) => b"no such host (NXDOMAIN)",
        Err(Ok(DnsError::NoAddress)) => b"no A or AAAA record",
        Err(Ok(DnsError::ServerError(2))) => b"DNS server failure (SERVFAIL)",
        Err(Ok(DnsError::ServerError(5))) => b"DNS query refused (REFUSED)",
        Err(Ok(DnsError::Truncated)) => b"DNS reply too long for UDP",
        Err(Ok(_)) => b"bad DNS reply",
    };
    tell(&[b"resolve ", name, b": ", what], None);
    None
}

/// One question to `server`, sent again if no answer comes in its share of
/// the time left. Replies with another id (late, or forged) are passed over.
/// `Err(Ok(..))`: the server's answer holds no address; `Err(Err(..))`:
/// asking it failed (ETIMEDOUT: no answer).
fn ask(server: SocketAddrV6, name: &[u8], qtype: QType, deadline: u64) -> Result<Ip, Result<DnsError, Errno>> {
    let sock = net::socket_nonblocking(server.family(), net::SOCK_DGRAM).map_err(Err)?;
    let s = sock.as_fd();
    // Connected: the kernel drops datagrams from anyone else, and an ICMP
    // "port unreachable" comes back as ECONNREFUSED.
    net::connect(s, server).map_err(Err)?;
    let id = net::random_u16();
    let mut q = [0u8; dns::QUERY_MAX];
    let query = dns::build_query(name, id, qtype, &mut q).map_err(Ok)?;
    let mut reply = [0u8; dns::REPLY_MAX];
    for tries_left in (1..=TRIES).rev() {
        io::write(s, query).map_err(Err)?;
        let now = time::monotonic_ms();
        let until = now + (deadline.saturating_sub(now) / tries_left).min(TRY_MS);
        loop {
            match wait(s, poll::POLLIN, until) {
                Err(Errno::ETIMEDOUT) => break,
                r => r.map_err(Err)?,
            }
            let n = match io::read(s, &mut reply) {
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                r => r.map_err(Err)?,
            };
            match dns::parse_response(reply.get(..n).unwrap_or_default(), id, name, qtype) {
                Err(DnsError::WrongId) => continue,
                r => return r.map_err(Ok),
            }
        }
    }
    Err(Err(Errno::ETIMEDOUT))
}

/// Runs `find` over the file at `path`, a block of whole lines at a time,
/// until it finds an address. A file that cannot be read finds nothing; a
/// line longer than a block is skipped.
fn scan(path: &[u8], name: &[u8], find: fn(&[u8], &[u8]) -> Option<Ip>) -> Option<Ip> {
    let mut found = None;
    fs::scan_lines(path, &mut |lines| {
        found = find(lines, name);
        found.is_some()
    })?;
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_reads_block_by_block() {
        let path = std::env::temp_dir().join(format!("drift-scan-{}", std::process::id()));
        let mut text = String::new();
        for i in 0..400 {
            text += &format!("10.0.{}.{}\thost{i} alias{i}\n", i / 200, i % 200);
        }
        // A line longer than a block: its tail must not be read as a line.
        // (Each block starts at a line; this one's second block starts at
        // "1.2.3.4".)
        text += &format!("#{}1.2.3.4 tail\n10.9.9.9 after\n10.9.9.10 last", "a".repeat(fs::SCAN_BLOCK - 1));
        std::fs::write(&path, &text).unwrap();
        let p = path.to_str().unwrap().as_bytes();
        let rows: &[(&[u8], Option<Ip>)] = &[
            (b"host0", Some(Ip::V4([10, 0, 0, 0]))),
            (b"alias150", Some(Ip::V4([10, 0, 0, 150]))),
            (b"host399", Some(Ip::V4([10, 0, 1, 199]))),
            (b"after", Some(Ip::V4([10, 9, 9, 9]))),
            (b"last", Some(Ip::V4([10, 9, 9, 10]))),
            // Reject rows.
            (b"tail", None),
            (b"host400", None),
        ];
        for &(name, want) in rows {
            assert_eq!(scan(p, name, dns::lookup_hosts), want, "{:?}", String::from_utf8_lossy(name));
        }
        // Every line straddling a block boundary is whole: all 400 are found.
        for i in 0..400 {
            assert!(scan(p, format!("host{i}").as_bytes(), dns::lookup_hosts).is_some(), "host{i}");
        }
        assert_eq!(scan(b"/nonexistent/hosts", b"host0", dns::lookup_hosts), None);
        std::fs::write(&path, "nameserver 10.0.0.53\n").unwrap();
        assert_eq!(scan(p, b"", |t, _| dns::nameserver_from_resolv_conf(t)), Some(Ip::V4([10, 0, 0, 53])));
        std::fs::remove_file(&path).unwrap();
    }
}
