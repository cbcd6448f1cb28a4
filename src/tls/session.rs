//! One TLS connection as the server's transport sees it: records in,
//! plaintext out; plaintext in, records out. It owns rustls's state (on the
//! heap) and, while records are moving, a block of record buffers lent from
//! the worker's pool. It never touches a socket: `server::transport` reads
//! and writes the bytes it names.
//!
//! The record block: ciphertext in | plaintext decrypted but not yet taken |
//! ciphertext out | file bytes to seal.
use alloc::boxed::Box;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicUsize, Ordering};
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError};
use rustls::ServerConfig;

use crate::sys::mem::{Block, Pool};

/// A whole record of ciphertext: 16 KiB of plaintext plus the most a TLS
/// 1.2 or 1.3 AEAD record adds (RFC 8446 §5.2 allows 2 KiB of expansion).
pub const CIN: usize = 16384 + 2048 + 5;
/// Plaintext decrypted but not yet taken: the rest of a record that did not
/// fit the connection's input (16 KiB at most), and, while a response is
/// sealed, the records rustls decrypts from the input on the way (no more
/// than the ciphertext the input holds: no read happens while this is not
/// empty).
const PEND: usize = 16384 + CIN;
/// One full record out (16 KiB of plaintext sealed), or a handshake flight.
const COUT: usize = 16384 + 1024;
/// The largest certificate chain a handshake flight can carry: the whole
/// flight (ServerHello to Finished) is encoded into the output before any
/// of it is sent.
pub const MAX_CHAIN: usize = COUT - 2048;
/// File bytes read for one record.
pub const SCRATCH: usize = 16384;
const PEND_AT: usize = CIN;
const COUT_AT: usize = PEND_AT + PEND;
const SCRATCH_AT: usize = COUT_AT + COUT;
/// Bytes in one record block (the pool rounds it up to whole pages).
pub const BLOCK: usize = SCRATCH_AT + SCRATCH;
/// Plaintext sealed per call: one full record.
const MAX_PLAIN: usize = 16384;
/// Rounds of rustls's state machine per call: each round makes progress
/// (a record, a message), so this only bounds a bug.
const MAX_ROUNDS: u32 = 64;

/// Handshakes begun and not yet finished or dropped, in this process.
static HANDSHAKING: AtomicUsize = AtomicUsize::new(0);

/// Handshakes in flight in this worker.
pub fn handshakes_in_flight() -> usize {
    HANDSHAKING.load(Ordering::Relaxed)
}

/// Handshakes this worker finished in full, resumed from a ticket, or
/// dropped unfinished (a failure or an abandoned client): for `metrics`.
static FINISHED_FULL: AtomicUsize = AtomicUsize::new(0);
static FINISHED_RESUMED: AtomicUsize = AtomicUsize::new(0);
static UNFINISHED: AtomicUsize = AtomicUsize::new(0);

/// (full, resumed, failed) handshakes in this worker so far.
pub fn handshake_counts() -> (u64, u64, u64) {
    let n = |a: &AtomicUsize| a.load(Ordering::Relaxed) as u64;
    (n(&FINISHED_FULL), n(&FINISHED_RESUMED), n(&UNFINISHED))
}

fn bump(a: &AtomicUsize) {
    a.store(a.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

fn count_handshake(up: bool) {
    let n = HANDSHAKING.load(Ordering::Relaxed);
    HANDSHAKING.store(if up { n + 1 } else { n.saturating_sub(1) }, Ordering::Relaxed);
}

/// Why a session can go no further.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The peer broke the protocol or the handshake failed; an alert may be
    /// queued in the output (send it, then close).
    Protocol,
    /// The first bytes were a plain HTTP request, not a ClientHello.
    PlainHttp,
    /// No record block could be had (the worker is at its memory share).
    NoBuffer,
    /// A ClientHello from a client that speaks only TLS 1.1 or older: a
    /// `protocol_version` alert is queued in the output.
    OldVersion,
}

/// A ClientHello's `legacy_version` below TLS 1.2's (0x0303) means the
/// client can speak nothing newer (TLS 1.3 clients send 0x0303 there):
/// RFC 8446 §E.2 answers it with a protocol_version alert. rustls would
/// first find no common cipher suite and say handshake_failure instead.
fn offers_only_old_versions(rec: &[u8]) -> bool {
    // record: type 22, version (2), length (2, at least the 6 bytes read
    // here); handshake: type 1 (ClientHello), length (3), legacy_version (2).
    rec.len() >= 11
        && rec[0] == 0x16
        && u16::from_be_bytes([rec[3], rec[4]]) >= 6
        && rec[5] == 1
        && u16::from_be_bytes([rec[9], rec[10]]) < 0x0303
}

/// A fatal protocol_version alert (RFC 8446 §6), in a record of the
/// version the client's own record used.
fn protocol_version_alert(record_version: [u8; 2]) -> [u8; 7] {
    [0x15, record_version[0], record_version[1], 0, 2, 2, 70]
}

pub struct Session {
    tls: UnbufferedServerConnection,
    rec: Option<Block>,
    /// INVARIANT: cin <= CIN; ciphertext [0, cin) is not yet processed.
    cin: u32,
    /// INVARIANT: pend_off <= pend_len <= PEND.
    pend_off: u32,
    pend_len: u32,
    /// INVARIANT: cout_sent <= cout <= COUT; [cout_sent, cout) is unsent.
    cout: u32,
    cout_sent: u32,
    /// Plaintext already sealed into the output whose records are not all
    /// sent yet: reported as written once they are.
    owed: u32,
    /// Counted in HANDSHAKING.
    handshaking: bool,
    /// The handshake finished and nobody has asked yet (`take_handshake_done`).
    done_unasked: bool,
    /// Any byte arrived (the plain-HTTP check looks at the very first).
    started: bool,
    peer_closed: bool,
}

impl Session {
    /// A server connection for a client just accepted; counted as a
    /// handshake in flight until it finishes or is dropped.
    pub fn new(config: Arc<ServerConfig>) -> Option<Box<Session>> {
        let tls = UnbufferedServerConnection::new(config).ok()?;
        count_handshake(true);
        Some(Box::new(Session {
            tls,
            rec: None,
            cin: 0,
            pend_off: 0,
            pend_len: 0,
            cout: 0,
            cout_sent: 0,
            owed: 0,
            handshaking: true,
            done_unasked: false,
            started: false,
            peer_closed: false,
        }))
    }

    /// `TLSv1.3` or `TLSv1.2`, once negotiated (for the access log).
    pub fn version(&self) -> Option<&'static str> {
        match self.tls.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => Some("TLSv1.3"),
            rustls::ProtocolVersion::TLSv1_2 => Some("TLSv1.2"),
            _ => Some("TLS"),
        }
    }

    pub fn is_handshaking(&self) -> bool {
        self.handshaking
    }

    /// True once, after the handshake finishes: the connection then waits
    /// for its first request under the idle timeout, not the handshake's.
    pub fn take_handshake_done(&mut self) -> bool {
        core::mem::take(&mut self.done_unasked)
    }

    /// Makes sure a record block is held; false if the pool has none.
    pub fn lend(&mut self, pool: &mut Pool) -> bool {
        if self.rec.is_none() {
            self.rec = pool.lend();
        }
        self.rec.is_some()
    }

    /// Gives the record block back if nothing is in it.
    pub fn settle(&mut self, pool: &mut Pool) {
        if self.cin == 0 && self.pend_len == 0 && self.cout == 0 {
            if let Some(b) = self.rec.take() {
                pool.give_back(b);
            }
        }
    }

    /// Gives the record block back whatever it holds (the connection is closing).
    pub fn release(&mut self, pool: &mut Pool) {
        if let Some(b) = self.rec.take() {
            pool.give_back(b);
        }
    }

    /// Plaintext or ciphertext is held that the socket will not signal.
    pub fn buffered(&self) -> bool {
        self.pend_len > self.pend_off || self.cin > 0
    }

    /// Room to read ciphertext into (empty without a block or when full).
    pub fn space(&mut self) -> &mut [u8] {
        let at = self.cin as usize;
        match self.rec.as_mut() {
            Some(b) => &mut b[at..CIN],
            None => &mut [],
        }
    }

    /// `n` bytes were read into `space()`.
    pub fn filled(&mut self, n: usize) {
        self.cin = (self.cin as usize + n).min(CIN) as u32;
    }

    /// The peer's close_notify has been read: no more plaintext will come.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// Ciphertext waiting to be sent.
    pub fn output(&self) -> &[u8] {
        match self.rec.as_ref() {
            Some(b) => &b[COUT_AT + self.cout_sent as usize..COUT_AT + self.cout as usize],
            None => &[],
        }
    }

    /// `n` bytes of `output()` went out.
    pub fn sent(&mut self, n: usize) {
        self.cout_sent = (self.cout_sent as usize + n).min(self.cout as usize) as u32;
        if self.cout_sent == self.cout {
            self.cout = 0;
            self.cout_sent = 0;
        }
    }

    /// Once the output is all sent: the plaintext it carried, now
    /// delivered (0 if none was owed).
    pub fn take_owed(&mut self) -> usize {
        if self.cout != 0 {
            return 0;
        }
        core::mem::take(&mut self.owed) as usize
    }

    /// Runs the records received so far through rustls: handshake messages
    /// are answered into the output, and application data is copied into
    /// `out` (what does not fit waits in the block for the next call).
    /// Returns the plaintext bytes copied.
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, Failure> {
        let mut got = self.take_pending(out);
        // The very first record is looked at before rustls sees it: a
        // request line starts with a method's capital letter, not a TLS
        // content type (22); and an old client's ClientHello says so in
        // its first bytes (wait for 11 of them, or the record's end).
        if !self.started && self.cin > 0 {
            let Some(rec) = self.rec.as_mut() else { return Ok(got) };
            if rec[0].is_ascii_uppercase() {
                self.started = true;
                return Err(Failure::PlainHttp);
            }
            let whole = self.cin >= 5 && self.cin as usize >= 5 + usize::from(u16::from_be_bytes([rec[3], rec[4]]));
            if self.cin < 11 && !whole {
                return Ok(got); // not enough to tell yet
            }
            self.started = true;
            if offers_only_old_versions(&rec[..self.cin as usize]) {
                let alert = protocol_version_alert([rec[1], rec[2]]);
                rec[COUT_AT..COUT_AT + alert.len()].copy_from_slice(&alert);
                self.cout = alert.len() as u32;
                return Err(Failure::OldVersion);
            }
        }
        // Out of `self` while its areas are borrowed; put back below.
        let Some(mut rec) = self.rec.take() else { return Ok(got) };
        let result = self.read_records(&mut rec, out, &mut got);
        self.rec = Some(rec);
        if self.handshaking && !self.tls.is_handshaking() {
            self.handshaking = false;
            self.done_unasked = true;
            count_handshake(false);
            let resumed = matches!(self.tls.handshake_kind(), Some(rustls::HandshakeKind::Resumed));
            bump(if resumed { &FINISHED_RESUMED } else { &FINISHED_FULL });
        }
        result.map(|()| got)
    }

    fn read_records(&mut self, rec: &mut [u8], out: &mut [u8], got: &mut usize) -> Result<(), Failure> {
        let (cin, rest) = rec.split_at_mut(CIN);
        let (pend, rest) = rest.split_at_mut(PEND);
        let cout = &mut rest[..COUT];
        for _ in 0..MAX_ROUNDS {
            if self.pend_len > 0 || (*got == out.len() && !out.is_empty()) {
                return Ok(()); // the caller's input is full: the rest waits as records
            }
            let status = self.tls.process_tls_records(&mut cin[..self.cin as usize]);
            let discard = status.discard;
            let mut stop = false;
            let mut failed = false;
            match status.state {
                Ok(ConnectionState::ReadTraffic(mut r)) => {
                    while let Some(record) = r.next_record() {
                        let Ok(record) = record else {
                            failed = true;
                            break;
                        };
                        let p = record.payload;
                        let n = p.len().min(out.len() - *got);
                        out[*got..*got + n].copy_from_slice(&p[..n]);
                        *got += n;
                        let rest = &p[n..];
                        if !rest.is_empty() {
                            pend[..rest.len()].copy_from_slice(rest);
                            self.pend_off = 0;
                            self.pend_len = rest.len() as u32;
                            break;
                        }
                    }
                }
                Ok(ConnectionState::EncodeTlsData(mut e)) => {
                    let at = self.cout as usize;
                    match e.encode(&mut cout[at..]) {
                        Ok(n) => self.cout += n as u32,
                        Err(EncodeError::InsufficientSize(_) | EncodeError::AlreadyEncoded) => failed = true,
                    }
                }
                Ok(ConnectionState::TransmitTlsData(t)) => t.done(), // the caller sends `output()`
                Ok(ConnectionState::PeerClosed | ConnectionState::Closed) => {
                    self.peer_closed = true;
                    stop = true;
                }
                Ok(ConnectionState::BlockedHandshake | ConnectionState::WriteTraffic(_)) => stop = true,
                Ok(_) => stop = true, // early data: never offered, so never here
                Err(_) => failed = true,
            }
            let len = self.cin as usize;
            let d = discard.min(len);
            if d > 0 {
                cin.copy_within(d..len, 0);
                self.cin = (len - d) as u32;
            }
            if failed {
                self.queue_alert(cin, cout);
                return Err(Failure::Protocol);
            }
            if stop {
                return Ok(());
            }
        }
        Ok(())
    }

    /// After a fatal error rustls has queued its alert: encode it into the
    /// output so the peer learns why (handshake_failure, bad_record_mac).
    /// The queued alert comes before any input is looked at, and nothing
    /// is asked after it (the input still holds the bad record). The input
    /// is passed whole: rustls may be holding part of a handshake message
    /// in it, and indexes it.
    fn queue_alert(&mut self, cin: &mut [u8], cout: &mut [u8]) {
        let status = self.tls.process_tls_records(&mut cin[..self.cin as usize]);
        if let Ok(ConnectionState::EncodeTlsData(mut e)) = status.state {
            let at = self.cout as usize;
            if let Ok(n) = e.encode(&mut cout[at..]) {
                self.cout += n as u32;
            }
        }
    }

    /// Seals as much of `plain` as the output has room for into records;
    /// returns how much was sealed (0 while earlier records wait to go out:
    /// send `output()` first).
    pub fn seal(&mut self, plain: &[u8]) -> Result<usize, Failure> {
        let Some(mut rec) = self.rec.take() else { return Err(Failure::NoBuffer) };
        let r = self.seal_with(&mut rec, Some(plain));
        self.rec = Some(rec);
        r
    }

    /// Reads a file's bytes into `scratch()` first, then seals `n` of them.
    pub fn seal_scratch(&mut self, n: usize) -> Result<usize, Failure> {
        let Some(mut rec) = self.rec.take() else { return Err(Failure::NoBuffer) };
        let (head, scratch) = rec.split_at_mut(SCRATCH_AT);
        let r = self.seal_with(head, Some(&scratch[..n.min(SCRATCH)]));
        self.rec = Some(rec);
        r
    }

    /// Where file bytes are read before `seal_scratch`.
    pub fn scratch(&mut self) -> &mut [u8] {
        match self.rec.as_mut() {
            Some(b) => &mut b[SCRATCH_AT..SCRATCH_AT + SCRATCH],
            None => &mut [],
        }
    }

    /// Queues a close_notify alert (best effort: without room it is skipped).
    pub fn close_notify(&mut self) {
        let Some(mut rec) = self.rec.take() else { return };
        let _ = self.seal_with(&mut rec, None);
        self.rec = Some(rec);
    }

    /// Gets rustls to where it may write (sending first what it queued: a
    /// session ticket, a key update), then seals `plain`, or a close_notify
    /// when there is none. `rec` is the block up to the scratch area.
    fn seal_with(&mut self, rec: &mut [u8], plain: Option<&[u8]>) -> Result<usize, Failure> {
        if self.cout != 0 || plain.is_some_and(|p| p.is_empty()) {
            return Ok(0);
        }
        let (cin, rest) = rec.split_at_mut(CIN);
        let (pend, rest) = rest.split_at_mut(PEND);
        let cout = &mut rest[..COUT];
        // A round per record decrypted on the way: the input may hold many
        // small ones (22 bytes is the smallest TLS 1.3 record).
        for _ in 0..MAX_ROUNDS + (CIN / 22) as u32 {
            // The input is passed as it is: rustls may hold part of a
            // handshake message in it. Records it decrypts on the way are
            // kept for `read`.
            let status = self.tls.process_tls_records(&mut cin[..self.cin as usize]);
            let discard = status.discard;
            let at = self.cout as usize;
            let result = match status.state {
                Ok(ConnectionState::WriteTraffic(mut w)) => Some(match plain {
                    Some(plain) => {
                        let take = plain.len().min(MAX_PLAIN);
                        match w.encrypt(&plain[..take], &mut cout[at..]) {
                            Ok(n) => {
                                self.cout += n as u32;
                                self.owed = take as u32;
                                Ok(take)
                            }
                            Err(EncryptError::InsufficientSize(_)) if at > 0 => Ok(0),
                            Err(_) => Err(Failure::Protocol),
                        }
                    }
                    None => {
                        if let Ok(n) = w.queue_close_notify(&mut cout[at..]) {
                            self.cout += n as u32;
                        }
                        Ok(0)
                    }
                }),
                Ok(ConnectionState::ReadTraffic(mut r)) => {
                    let mut stashed = Ok(());
                    while let Some(record) = r.next_record() {
                        stashed = match record {
                            Ok(record) => stash(pend, &mut self.pend_off, &mut self.pend_len, record.payload),
                            Err(_) => Err(Failure::Protocol),
                        };
                        if stashed.is_err() {
                            break;
                        }
                    }
                    stashed.err().map(Err)
                }
                Ok(ConnectionState::EncodeTlsData(mut e)) => match e.encode(&mut cout[at..]) {
                    Ok(n) => {
                        self.cout += n as u32;
                        None
                    }
                    Err(_) => Some(Err(Failure::Protocol)),
                },
                Ok(ConnectionState::TransmitTlsData(t)) => {
                    t.done();
                    None
                }
                Ok(ConnectionState::PeerClosed) => {
                    self.peer_closed = true;
                    None
                }
                _ => Some(Err(Failure::Protocol)),
            };
            let len = self.cin as usize;
            let d = discard.min(len);
            if d > 0 {
                cin.copy_within(d..len, 0);
                self.cin = (len - d) as u32;
            }
            if let Some(r) = result {
                return r;
            }
        }
        Err(Failure::Protocol)
    }

    /// Plaintext left over from a record that did not fit last time.
    fn take_pending(&mut self, out: &mut [u8]) -> usize {
        let Some(rec) = self.rec.as_ref() else { return 0 };
        let (off, len) = (self.pend_off as usize, self.pend_len as usize);
        let n = (len - off).min(out.len());
        out[..n].copy_from_slice(&rec[PEND_AT + off..PEND_AT + off + n]);
        self.pend_off += n as u32;
        if self.pend_off == self.pend_len {
            (self.pend_off, self.pend_len) = (0, 0);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_client_hellos_are_told_protocol_version() {
        let hello = |v: [u8; 2]| [0x16, 0x03, 0x01, 0x00, 0x30, 0x01, 0x00, 0x00, 0x2c, v[0], v[1]];
        for (version, old) in [([3, 0], true), ([3, 1], true), ([3, 2], true), ([3, 3], false), ([3, 4], false)] {
            assert_eq!(offers_only_old_versions(&hello(version)), old, "{version:?}");
        }
        assert!(!offers_only_old_versions(&[0x16, 3, 1, 0, 0x30, 1, 0, 0]), "too short to tell");
        assert!(!offers_only_old_versions(&[0x17, 3, 1, 0, 0x30, 1, 0, 0, 0x2c, 3, 1]), "not a handshake");
        assert_eq!(protocol_version_alert([3, 1]), [0x15, 3, 1, 0, 2, 2, 70]);
    }
}

/// Appends a decrypted record to the plaintext kept for `read`, moving
/// what is left of it to the front first.
fn stash(pend: &mut [u8], off: &mut u32, len: &mut u32, bytes: &[u8]) -> Result<(), Failure> {
    let (o, l) = (*off as usize, *len as usize);
    if l - o + bytes.len() > pend.len() {
        return Err(Failure::Protocol);
    }
    pend.copy_within(o..l, 0);
    let l = l - o;
    let Some(dst) = pend.get_mut(l..l + bytes.len()) else { return Err(Failure::Protocol) };
    dst.copy_from_slice(bytes);
    (*off, *len) = (0, (l + bytes.len()) as u32);
    Ok(())
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.handshaking {
            count_handshake(false);
            if self.started {
                bump(&UNFINISHED);
            }
        }
    }
}
