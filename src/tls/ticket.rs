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

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use hmac::Mac;
use rustls::server::ProducesTickets;
use sha2::Sha256;

use crate::sys::Errno;
use crate::sys;

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
        sys::random::fill(&mut secret)?;
        Ok(secret)
    }

    /// A ticketer over `master`, rotating every `period_secs` (at least 1),
    /// on the wall clock.
    pub fn new(master: [u8; 32], period_secs: u32) -> Self {
        Self::with_clock(master, period_secs, sys::time::unix_secs)
    }

    /// As `new`, reading the time from `clock`.
    pub fn with_clock(master: [u8; 32], period_secs: u32, clock: ClockFn) -> Self {
        Self { master, period: period_secs.max(1), clock }
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
        ChaCha20Poly1305::new(Key::from_slice(&key))
    }

    fn key_id(period: u64) -> [u8; ID_LEN] {
        // Only two periods are ever live, so the low 32 bits name one.
        (period as u32).to_be_bytes()
    }
}

impl fmt::Debug for Ticketer {
    // Never the master secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticketer").field("period", &self.period).finish_non_exhaustive()
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
        sys::random::fill(&mut nonce).ok()?;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let tag = self
            .key(period)
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &id, &mut out[ID_LEN + NONCE_LEN..])
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
            .decrypt_in_place_detached(Nonce::from_slice(nonce), id, &mut plain, Tag::from_slice(tag))
            .ok()?;
        Some(plain)
    }
}
