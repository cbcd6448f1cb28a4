//! Session tickets that every forked worker can open: the ticket key is a
//! function of a master secret (drawn once, before the fork) and the current
//! period, so no worker has to share state with another. Owns the ticket
//! format; it must never accept a ticket older than the previous period.
//!
//! A ticket is `key id (4 bytes: the period, big-endian, low 32 bits)
//! || nonce (12 random bytes) || ChaCha20-Poly1305(state)`, with the key id
//! as the associated data.

use alloc::vec::Vec;
use core::fmt;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce, Tag};
use hmac::Mac;
use rustls::server::ProducesTickets;
use sha2::Sha256;

use crate::sys;
use crate::sys::Errno;

/// How long one ticket key is the current one: six hours. A ticket is
/// accepted for one to two periods after it was made.
pub const DEFAULT_PERIOD_SECS: u32 = 6 * 60 * 60;

const ID_LEN: usize = 4;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const OVERHEAD: usize = ID_LEN + NONCE_LEN + TAG_LEN;
// Keys for different uses of one master secret must never coincide.
const LABEL: &[u8] = b"driftd ticket";

/// Seconds since the Unix epoch; a plain fn so tests can move time.
pub type ClockFn = fn() -> u64;

/// A `ProducesTickets` whose keys rotate every `period` seconds and are
/// derived, never stored: each call derives the one key it needs (a single
/// HMAC-SHA256), which keeps `&self` free of locks and caches.
pub struct Ticketer {
    master: [u8; 32],
    period: u32,
    clock: ClockFn,
}

impl Ticketer {
    /// A fresh master secret from getrandom(2); make it before forking.
    pub fn new_secret() -> Result<[u8; 32], Errno> {
        let mut secret = [0u8; 32];
        sys::fill(&mut secret)?;
        Ok(secret)
    }

    /// A ticketer over `master`, rotating every `period_secs` (at least 1),
    /// on the wall clock.
    pub fn new(master: [u8; 32], period_secs: u32) -> Self {
        Self::with_clock(master, period_secs, sys::unix_secs)
    }

    /// As `new`, reading the time from `clock`.
    pub fn with_clock(master: [u8; 32], period_secs: u32, clock: ClockFn) -> Self {
        Self {
            master,
            period: period_secs.max(1),
            clock,
        }
    }

    fn period_now(&self) -> u64 {
        (self.clock)() / u64::from(self.period)
    }

    /// key(k) = HMAC-SHA256(master, "driftd ticket" || k as u64 BE).
    fn key(&self, period: u64) -> ChaCha20Poly1305 {
        let mut mac = <hmac::Hmac<Sha256> as Mac>::new_from_slice(&self.master)
            .expect("HMAC takes any key length");
        mac.update(LABEL);
        mac.update(&period.to_be_bytes());
        let key = mac.finalize().into_bytes();
        ChaCha20Poly1305::new_from_slice(&key).expect("a 32-byte key")
    }

    fn key_id(period: u64) -> [u8; ID_LEN] {
        // Only two periods are ever live, so the low 32 bits name one.
        (period as u32).to_be_bytes()
    }
}

impl fmt::Debug for Ticketer {
    // Never the master secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticketer")
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

impl ProducesTickets for Ticketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        self.period
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let period = self.period_now();
        let id = Self::key_id(period);
        let mut out = Vec::with_capacity(plain.len() + OVERHEAD);
        out.extend_from_slice(&id);
        let mut nonce = [0u8; NONCE_LEN];
        // No randomness, no ticket: the handshake still completes.
        sys::fill(&mut nonce).ok()?;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let tag = self
            .key(period)
            .encrypt_inout_detached(
                &Nonce::from(nonce),
                &id,
                (&mut out[ID_LEN + NONCE_LEN..]).into(),
            )
            .ok()?;
        out.extend_from_slice(&tag);
        Some(out)
    }

    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        if ticket.len() < OVERHEAD {
            return None;
        }
        let (id, rest) = ticket.split_at(ID_LEN);
        let (nonce, rest) = rest.split_at(NONCE_LEN);
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let now = self.period_now();
        let period = [now, now.wrapping_sub(1)]
            .into_iter()
            .find(|&p| Self::key_id(p) == id)?;
        let mut plain = body.to_vec();
        self.key(period)
            .decrypt_inout_detached(
                &Nonce::try_from(nonce).ok()?,
                id,
                plain.as_mut_slice().into(),
                &Tag::try_from(tag).ok()?,
            )
            .ok()?;
        Some(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::tests::{
        Pair, PinnedCert, Sessions, client_config, material, server_config,
    };
    use crate::provider::{
        SECP256R1, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS13_AES_128_GCM_SHA256, X25519,
    };
    use alloc::sync::Arc;
    use core::cell::Cell;
    use rustls::HandshakeKind;

    // Each test runs on its own thread, so a thread-local clock lets a
    // plain `fn` pointer read a time the test sets.
    std::thread_local! {
        static NOW: Cell<u64> = const { Cell::new(0) };
    }

    fn now() -> u64 {
        NOW.with(Cell::get)
    }

    fn at(t: u64) {
        NOW.with(|n| n.set(t));
    }

    const P: u64 = DEFAULT_PERIOD_SECS as u64;
    const SECRET: [u8; 32] = [7; 32];

    #[test]
    fn tickets_open_in_their_period_and_the_next_only() {
        let t = Ticketer::with_clock(SECRET, DEFAULT_PERIOD_SECS, now);
        assert!(t.enabled());
        assert_eq!(t.lifetime(), 6 * 3600);
        let plain = b"resumption state".as_slice();
        let start = 1_000 * P; // the first second of period 1000
        // (made at, opened at, opens?)
        let rows: [(u64, u64, bool); 8] = [
            (start, start, true),
            (start, start + P - 1, true),
            (start, start + P, true), // previous period
            (start + P - 1, start + 2 * P - 1, true),
            (start, start + 2 * P - 1, true),
            (start, start + 2 * P, false), // two periods old
            (start, start + 5 * P, false),
            (start + P, start, false), // from the future
        ];
        for (made, opened, ok) in rows {
            at(made);
            let ticket = t.encrypt(plain).unwrap();
            assert_eq!(ticket.len(), plain.len() + OVERHEAD);
            at(opened);
            let got = t.decrypt(&ticket);
            assert_eq!(
                got.as_deref(),
                ok.then_some(plain),
                "made {made}, opened {opened}"
            );
        }
    }

    #[test]
    fn tampered_foreign_or_short_tickets_do_not_open() {
        at(77 * P);
        let t = Ticketer::with_clock(SECRET, DEFAULT_PERIOD_SECS, now);
        let ticket = t.encrypt(b"state").unwrap();
        assert_eq!(t.decrypt(&ticket).as_deref(), Some(&b"state"[..]));
        // Every byte matters: key id, nonce, body and tag.
        for i in 0..ticket.len() {
            let mut bad = ticket.clone();
            bad[i] ^= 0x01;
            assert_eq!(t.decrypt(&bad), None, "byte {i} flipped");
        }
        let other = Ticketer::with_clock([8; 32], DEFAULT_PERIOD_SECS, now);
        assert_eq!(other.decrypt(&ticket), None, "another master secret");
        for len in [0, 1, ID_LEN, ID_LEN + NONCE_LEN, OVERHEAD - 1] {
            assert_eq!(t.decrypt(&ticket[..len]), None, "{len} bytes");
        }
        assert_eq!(t.decrypt(&ticket[..ticket.len() - 1]), None, "truncated");
        // An empty state still makes a ticket that opens.
        let empty = t.encrypt(b"").unwrap();
        assert_eq!(t.decrypt(&empty).as_deref(), Some(&b""[..]));
        // Same secret, another instance (another worker): opens.
        let twin = Ticketer::with_clock(SECRET, DEFAULT_PERIOD_SECS, now);
        assert_eq!(twin.decrypt(&ticket).as_deref(), Some(&b"state"[..]));
    }

    #[test]
    fn two_tickets_never_share_a_nonce() {
        at(5 * P);
        let t = Ticketer::with_clock(SECRET, DEFAULT_PERIOD_SECS, now);
        let (a, b) = (t.encrypt(b"x").unwrap(), t.encrypt(b"x").unwrap());
        assert_eq!(a[..ID_LEN], b[..ID_LEN]);
        assert_ne!(a[ID_LEN..ID_LEN + NONCE_LEN], b[ID_LEN..ID_LEN + NONCE_LEN]);
    }

    #[test]
    fn wall_clock_ticketer_works() {
        let secret = Ticketer::new_secret().unwrap();
        assert_ne!(secret, [0; 32]);
        let t = Ticketer::new(secret, DEFAULT_PERIOD_SECS);
        let ticket = t.encrypt(b"abc").unwrap();
        assert_eq!(t.decrypt(&ticket).as_deref(), Some(&b"abc"[..]));
        assert_eq!(
            alloc::format!("{t:?}"),
            "Ticketer { period: 21600, .. }",
            "no secret"
        );
    }

    /// A full handshake against one worker's ticketer, then a second
    /// against another worker's (same secret): the second resumes. With a
    /// different secret it falls back to a full handshake.
    fn resumes_across_workers(suite: rustls::SupportedCipherSuite) {
        let m = material();
        let secret = Ticketer::new_secret().unwrap();
        let sessions = Arc::new(Sessions::default());
        let client = client_config(
            suite,
            &[&X25519, &SECP256R1],
            PinnedCert::new(&m.p256),
            sessions,
        );
        let worker = |secret| {
            server_config(
                &m.p256,
                Arc::new(Ticketer::new(secret, DEFAULT_PERIOD_SECS)),
            )
        };

        let mut first = Pair::new(&client, &worker(secret));
        first.talk();
        assert_eq!(first.client.handshake_kind(), Some(HandshakeKind::Full));

        let mut second = Pair::new(&client, &worker(secret));
        second.talk();
        assert_eq!(
            second.client.handshake_kind(),
            Some(HandshakeKind::Resumed),
            "{:?}",
            suite.suite()
        );
        assert_eq!(second.server.handshake_kind(), Some(HandshakeKind::Resumed));

        let mut stranger = Pair::new(&client, &worker([0x55; 32]));
        stranger.talk();
        assert_eq!(stranger.client.handshake_kind(), Some(HandshakeKind::Full));
    }

    #[test]
    fn tls13_resumes_on_another_worker() {
        resumes_across_workers(TLS13_AES_128_GCM_SHA256);
    }

    #[test]
    fn tls12_resumes_on_another_worker() {
        resumes_across_workers(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
    }
}
