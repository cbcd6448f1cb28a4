//! Who a connection is from: the PROXY protocol header a `proxy` listener
//! requires before the request (state `Proxy`), a trusted proxy's
//! `X-Forwarded-For` or `Forwarded`, and the count of connections each
//! client holds in this worker (`max-conns-per-client`). A child of `conn`:
//! it moves a connection between states but never answers a request, and
//! it never believes an address a client could choose (see
//! `content::forwarded`).
use super::{Conn, Ctx, State, free, give_back, log_request, recv as recv_http, watch};
use super::super::config::Config;
use super::super::pool;
use super::super::timers::Timer;
use crate::content::{forwarded, proxy};
use crate::http::request::{Head, MAX_HEAD, REAL_IP_LINES, RealIp};
use crate::sys::{Errno, io, net};

/// Connections per client in one worker: an open-addressing table (linear
/// probing, backward-shift deletion, so no tombstones) of `[key; 4 words,
/// count]`, at most half full, since each connection counts once. A slot
/// with count 0 is empty.
pub struct Clients {
    slots: &'static mut [[u32; 5]],
    /// INVARIANT: slots.len() is 0 or a power of two; mask = len - 1.
    mask: usize,
    /// Keys are hashed with it, so no client can pick addresses that
    /// collide in every worker.
    seed: u64,
    limit: u32,
}

impl Clients {
    /// A table for `conns` connections (none when `limit` is 0, no limit).
    pub fn new(conns: usize, limit: u32) -> Option<Clients> {
        let seed = u64::from(net::random_u16()) << 16 | u64::from(net::random_u16()) | 1 << 40;
        if limit == 0 {
            return Some(Clients { slots: &mut [], mask: 0, seed, limit });
        }
        let n = conns.saturating_mul(2).max(16).next_power_of_two();
        let slots = crate::sys::mem::zeroed_forever::<5>(n).ok()?;
        Some(Clients { slots, mask: n - 1, seed, limit })
    }

    /// IPv4 whole, IPv6 by its /64 (what one host, or one customer, gets).
    fn key(ip: &[u8; 16]) -> [u32; 4] {
        let w = |i: usize| u32::from_be_bytes([ip[i], ip[i + 1], ip[i + 2], ip[i + 3]]);
        let mapped = ip[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
        if mapped { [w(0), w(4), w(8), w(12)] } else { [w(0), w(4), 0, 0] }
    }

    fn home(&self, k: &[u32; 4]) -> usize {
        let mut h = self.seed;
        for &w in k {
            h = (h ^ u64::from(w)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            h ^= h >> 29;
        }
        h as usize & self.mask
    }

    /// The slot holding `k`, or the empty one where it would go.
    fn find(&self, k: &[u32; 4]) -> usize {
        let mut i = self.home(k);
        while self.slots[i][4] != 0 && self.slots[i][..4] != k[..] {
            i = (i + 1) & self.mask;
        }
        i
    }

    /// One more connection from `ip`; false (and nothing counted) if it
    /// holds `limit` already.
    pub fn add(&mut self, ip: &[u8; 16]) -> bool {
        let k = Self::key(ip);
        let i = self.find(&k);
        let s = &mut self.slots[i];
        if s[4] >= self.limit {
            return false;
        }
        *s = [k[0], k[1], k[2], k[3], s[4] + 1];
        true
    }

    /// One connection from `ip` fewer.
    pub fn remove(&mut self, ip: &[u8; 16]) {
        let k = Self::key(ip);
        let mut i = self.find(&k);
        match self.slots[i][4] {
            0 => return,
            1 => self.slots[i] = [0; 5],
            n => {
                self.slots[i][4] = n - 1;
                return;
            }
        }
        // Backward shift: an entry after the hole moves into it unless its
        // home lies cyclically within (hole, entry].
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            if self.slots[j][4] == 0 {
                return;
            }
            let e = self.slots[j];
            let home = self.home(&[e[0], e[1], e[2], e[3]]);
            let stays = if i <= j { i < home && home <= j } else { i < home || home <= j };
            if !stays {
                self.slots[i] = e;
                self.slots[j] = [0; 5];
                i = j;
            }
        }
    }

    #[cfg(test)]
    fn count(&self, ip: &[u8; 16]) -> u32 {
        if self.slots.is_empty() {
            return 0;
        }
        self.slots[self.find(&Self::key(ip))][4]
    }
}

/// The header to keep while parsing heads: only behind trusted proxies.
pub fn real_ip(cfg: &Config<'_>) -> Option<RealIp> {
    cfg.trusted_proxy.map(|_| cfg.real_ip)
}

/// The connection's peer is known (accepted, or its PROXY header read):
/// note whether it is a trusted proxy, and count it. False: it holds
/// `max-conns-per-client` already. A trusted proxy is counted per request,
/// under the client it names; a Unix socket's peers not at all.
pub fn admit(cx: &mut Ctx<'_>, c: &mut Conn) -> bool {
    c.origin = c.peer.ip;
    c.trusted = cx.cfg.trusted_proxy.is_some_and(|t| forwarded::in_cidrs(t, &c.origin));
    if c.trusted || c.peer == net::SocketAddrV6::UNIX || cx.cfg.max_conns_per_client == 0 {
        return true;
    }
    c.counted = cx.clients.add(&c.peer.ip);
    c.counted
}

/// A connection is opened: on a `proxy` listener, it waits for the
/// header; otherwise it was not admitted, and is answered 503 (nothing
/// over TLS: there is no session to say it in) and closed at once.
pub fn start(cx: &mut Ctx<'_>, c: &mut Conn, proxy: bool) {
    if proxy {
        c.state = State::Proxy;
        cx.timers.arm(c.slot, Timer::Head, cx.now + cx.cfg.head_timeout);
        return recv(cx, c);
    }
    cx.counters.rejected_client += 1;
    if let Some(f) = c.fd.as_ref().filter(|_| !c.transport.is_tls()) {
        super::answer_503(&cx.unix, f.as_fd(), true);
    }
    free(cx, c);
}

/// Proxy: the socket has bytes. They are peeked, and only those that
/// belong to the header are read, so a TLS transport after it finds its
/// records untouched. A header split over reads is kept in the block.
pub fn recv(cx: &mut Ctx<'_>, c: &mut Conn) {
    debug_assert!(c.state == State::Proxy);
    if !super::lend(cx, c) {
        return free(cx, c);
    }
    let (Some(f), Some(b)) = (&c.fd, c.buf.as_mut()) else { return };
    let inb = pool::parts(b).inb;
    let have = c.in_len as usize;
    let room = inb.len().min(proxy::MAX_V2);
    let n = match net::peek(f.as_fd(), &mut inb[have..room]) {
        Ok(0) => return free(cx, c),
        Ok(n) => n,
        Err(Errno::EAGAIN | Errno::EINTR) => {
            if c.in_len == 0 {
                give_back(cx, c); // a silent client holds no buffer
            }
            if !c.registered {
                watch(cx, c);
            }
            return;
        }
        Err(_) => return free(cx, c),
    };
    let (take, source) = match proxy::parse(&inb[..have + n]) {
        Ok(proxy::Parsed::Need) => (n, None),
        Ok(proxy::Parsed::Done { len, source }) => (len - have, Some(source)),
        Err(_) => return refuse(cx, c),
    };
    // The same bytes again, this time taken out of the socket.
    if !matches!(io::read(f.as_fd(), &mut inb[have..have + take]), Ok(got) if got == take) {
        return free(cx, c);
    }
    let Some(source) = source else {
        c.in_len += take as u32;
        if !c.registered {
            watch(cx, c);
        }
        return;
    };
    c.in_len = 0;
    if let Some(s) = source {
        c.peer = net::SocketAddrV6 { ip: s.ip, port: s.port };
    }
    // Now as any new connection: a TLS handshake under the head timeout
    // still running, a plain one idle until its request.
    c.state = State::Idle;
    if !c.transport.is_tls() {
        cx.timers.arm(c.slot, Timer::Idle, cx.now + cx.cfg.idle_timeout);
    }
    if !admit(cx, c) {
        return start(cx, c, false);
    }
    recv_http(cx, c);
    if c.state != State::Free && !c.registered {
        watch(cx, c);
    }
}

/// No valid PROXY header (garbage, or none within the head timeout): the
/// connection is closed without a word, and logged as a bad request.
pub fn refuse(cx: &mut Ctx<'_>, c: &mut Conn) {
    c.line_len = 0;
    log_request(cx, c, 400, 0);
    free(cx, c);
}

/// The connection closes: its client counts one fewer.
pub fn release(cx: &mut Ctx<'_>, c: &mut Conn) {
    if c.counted {
        cx.clients.remove(&c.peer.ip);
        c.counted = false;
    }
}

/// A request head from a trusted proxy: the client it names becomes the
/// peer (for the log and the count). False if that client holds
/// `max-conns-per-client` already: 503 is queued.
#[inline(never)]
pub fn forwarded(cx: &mut Ctx<'_>, c: &mut Conn, h: &Head) -> bool {
    let (true, Some(trusted), Some(b)) = (c.trusted, cx.cfg.trusted_proxy, c.buf.as_mut()) else { return true };
    let inb = pool::parts(b).inb;
    let lines = usize::from(h.real_ip_lines);
    // Several field lines are one list, joined by commas (RFC 9110 §5.3).
    let mut joined = [0u8; MAX_HEAD];
    let value: Option<&[u8]> = match lines {
        0 => None,
        1 => Some(h.real_ip[0].of(inb)),
        n if n <= REAL_IP_LINES => {
            let mut at = 0;
            for (i, s) in h.real_ip[..n].iter().enumerate() {
                let v = s.of(inb);
                let sep = usize::from(i > 0);
                if let Some(dst) = joined.get_mut(at..at + sep + v.len()) {
                    dst[..sep].copy_from_slice(&b","[..sep]);
                    dst[sep..].copy_from_slice(v);
                    at += sep + v.len();
                }
            }
            Some(&joined[..at])
        }
        _ => None, // too many lines to be a proxy's doing: the peer stands
    };
    let (fwd, xff) = match cx.cfg.real_ip {
        RealIp::Forwarded => (value, None),
        RealIp::XForwardedFor => (None, value),
    };
    let client = forwarded::client_from(&c.origin, trusted, fwd, xff);
    if client == c.peer.ip {
        return true;
    }
    release(cx, c);
    c.peer.ip = client;
    if client == c.origin || cx.cfg.max_conns_per_client == 0 {
        return true; // the proxy itself is not counted
    }
    c.counted = cx.clients.add(&client);
    if !c.counted {
        cx.counters.rejected_client += 1;
        super::queue_error(cx, c, 503);
    }
    c.counted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> [u8; 16] {
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d]
    }

    #[test]
    fn clients_are_counted_to_the_limit_and_ipv6_by_its_64() {
        crate::sys::mem::set_page_size(4096);
        let mut t = Clients::new(8, 3).unwrap();
        let a = v4(10, 0, 0, 1);
        assert!(t.add(&a) && t.add(&a) && t.add(&a));
        assert!(!t.add(&a), "the fourth is refused");
        assert!(t.add(&v4(10, 0, 0, 2)));
        let mut six = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        assert!(t.add(&six));
        six[15] = 2; // same /64
        assert!(t.add(&six) && t.add(&six) && !t.add(&six));
        six[7] = 2; // another /64
        assert!(t.add(&six));
        t.remove(&a);
        assert_eq!(t.count(&a), 2);
        assert!(t.add(&a));
    }

    #[test]
    fn removal_keeps_every_other_key_findable() {
        crate::sys::mem::set_page_size(4096);
        // 16 slots, 8 keys: clusters and wrap-around on every seed.
        for round in 0..200u8 {
            let mut t = Clients::new(8, 100).unwrap();
            let keys: Vec<[u8; 16]> = (0..8).map(|i| v4(round, i, 7, i)).collect();
            for (n, k) in keys.iter().enumerate() {
                for _ in 0..=n {
                    assert!(t.add(k));
                }
            }
            for (gone, k) in keys.iter().enumerate().step_by(3) {
                for _ in 0..=gone {
                    t.remove(k);
                }
            }
            for (n, k) in keys.iter().enumerate() {
                let want = if n % 3 == 0 { 0 } else { n as u32 + 1 };
                assert_eq!(t.count(k), want, "round {round} key {n}");
            }
        }
    }

    #[test]
    fn no_limit_keeps_no_table() {
        let t = Clients::new(1 << 20, 0).unwrap();
        assert!(t.slots.is_empty());
    }
}
