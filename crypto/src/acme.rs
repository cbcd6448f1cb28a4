//! The cryptography of an ACME client (RFC 8555): P-256 keys for the
//! account and for each certificate, drawn from getrandom(2) and kept as
//! PKCS#8; the account's JWK and its thumbprint (RFC 7638); requests as
//! flattened JWS signed ES256 (RFC 7515); CSRs (RFC 2986); and TLS-ALPN-01's
//! acmeIdentifier (RFC 8737). Output goes into caller buffers. Nothing here
//! does I/O except drawing a new key's random bytes, and a key is never
//! printed (no `Debug` shows its secret).

use p256::ecdsa::signature::{DigestSigner, Signer};
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};

use crate::der::{self, EcPrivateKey, PrivateKeyInfo, BIT_STRING, INTEGER, OCTET_STRING, OID, OID_EC_PUBLIC_KEY, OID_P256, SEQUENCE, SET};
use crate::sys;

/// What went wrong making a key, a JWS or a CSR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// getrandom(2) failed (a kernel before 3.17).
    Random(sys::Errno),
    /// Not a P-256 key in PKCS#8, or its stored public key is not its own.
    BadKey,
    /// A name for a CSR that is not an ASCII DNS name (or `*.` wildcard).
    BadName,
    /// The output buffer is too small.
    NoRoom,
}

/// A PKCS#8 v1 P-256 key as written here: the private key wrapped as SEC1
/// with its public point, the form `openssl genpkey` writes.
pub const PKCS8_LEN: usize = 138;
/// `{"crv":"P-256","kty":"EC","x":"…","y":"…"}` with two 43-character
/// coordinates.
pub const JWK_LEN: usize = 31 + 43 + 7 + 43 + 2;
/// base64url of a SHA-256 digest.
pub const THUMBPRINT_LEN: usize = 43;
/// A JWS protected header is built on the stack before it is encoded: the
/// JWK (126 bytes) and the ACME URL and nonce fit many times over, and a
/// server's hostile 2 KB URL is refused rather than signed.
const MAX_PROTECTED: usize = 2048;

/// The DER before the secret scalar and between it and the public point.
const PKCS8_HEAD: &[u8] = &[
    0x30, 0x81, 0x87, 0x02, 0x01, 0x00, // SEQUENCE, version 0
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, // id-ecPublicKey
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, // prime256v1
    0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20, // OCTET STRING { ECPrivateKey { 1, d
];
const PKCS8_MID: &[u8] = &[0xa1, 0x44, 0x03, 0x42, 0x00, 0x04]; // [1] BIT STRING 04 x y

// OIDs a CSR names, as DER contents.
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03]; // 2.5.4.3
const OID_EXTENSION_REQUEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e]; // 1.2.840.113549.1.9.14
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11]; // 2.5.29.17
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]; // 1.2.840.10045.4.3.2
/// ub-common-name (RFC 5280 appendix A): a longer first name leaves the
/// subject empty; the names are in subjectAltName either way.
const MAX_COMMON_NAME: usize = 64;
/// The longest DNS name (RFC 1035 §2.3.4, without the root's dot).
const MAX_NAME: usize = 253;

/// A P-256 key pair. ECDSA signatures from it are deterministic (RFC 6979).
struct EcKey(SigningKey);

impl EcKey {
    /// A new key from getrandom(2): 32 random bytes, drawn again in the
    /// (2^-32 likely) case they are zero or not below the group order.
    fn generate() -> Result<Self, Error> {
        loop {
            let mut d = [0u8; 32];
            sys::fill(&mut d).map_err(Error::Random)?;
            if let Ok(k) = SigningKey::from_slice(&d) {
                return Ok(Self(k));
            }
        }
    }

    /// A P-256 key from PKCS#8 (v1 or v2, with or without the public
    /// point, which must be the key's own when there).
    fn from_pkcs8(der: &[u8]) -> Result<Self, Error> {
        let info = PrivateKeyInfo::parse(der).ok_or(Error::BadKey)?;
        if info.algorithm != OID_EC_PUBLIC_KEY || info.curve != Some(OID_P256) {
            return Err(Error::BadKey);
        }
        let ec = EcPrivateKey::parse(info.private_key).ok_or(Error::BadKey)?;
        if ec.curve.is_some_and(|c| c != OID_P256) || ec.secret.len() != 32 {
            return Err(Error::BadKey);
        }
        let key = Self(SigningKey::from_slice(ec.secret).map_err(|_| Error::BadKey)?);
        let ours = key.point();
        let own = |p: &[u8]| p.split_first().is_some_and(|(&tag, xy)| tag == 4 && xy == ours);
        if [ec.public_key, info.public_key].into_iter().flatten().all(own) {
            Ok(key)
        } else {
            Err(Error::BadKey)
        }
    }

    fn to_pkcs8(&self) -> [u8; PKCS8_LEN] {
        let mut out = [0u8; PKCS8_LEN];
        let secret = self.0.to_bytes();
        let parts: [&[u8]; 4] = [PKCS8_HEAD, &secret, PKCS8_MID, &self.point()];
        let mut at = 0;
        for p in parts {
            if let Some(slot) = out.get_mut(at..at + p.len()) {
                slot.copy_from_slice(p);
            }
            at += p.len();
        }
        out
    }

    /// The public point's coordinates, x ‖ y, big-endian.
    fn point(&self) -> [u8; 64] {
        let p = self.0.verifying_key().to_encoded_point(false);
        let mut xy = [0u8; 64];
        if let Some(bytes) = p.as_bytes().get(1..65) {
            xy.copy_from_slice(bytes);
        }
        xy
    }

    /// The DER SubjectPublicKeyInfo, for a CSR and for checking.
    fn spki(&self) -> [u8; 91] {
        let mut out = [0u8; 91];
        let head: &[u8] = &[
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
            0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
        ];
        let (h, rest) = out.split_at_mut(head.len());
        h.copy_from_slice(head);
        rest.copy_from_slice(&self.point());
        out
    }
}

/// The ACME account's key: signs every request (never a certificate's
/// key: RFC 8555 §11.1 forbids using one key for both).
pub struct AccountKey(EcKey);

/// A certificate's key: signs its CSR, then the TLS handshakes.
pub struct CertKey(EcKey);

macro_rules! key_common {
    ($t:ident) => {
        impl $t {
            /// A new P-256 key from getrandom(2).
            pub fn generate() -> Result<Self, Error> {
                EcKey::generate().map(Self)
            }

            /// The key stored as [`to_pkcs8`](Self::to_pkcs8) wrote it (or
            /// any PKCS#8 P-256 key).
            pub fn from_pkcs8(der: &[u8]) -> Result<Self, Error> {
                EcKey::from_pkcs8(der).map(Self)
            }

            /// The key as PKCS#8 DER, to keep in a `0600` file. It holds the
            /// secret: the caller overwrites it once written.
            pub fn to_pkcs8(&self) -> [u8; PKCS8_LEN] {
                self.0.to_pkcs8()
            }

            /// The public key as a DER SubjectPublicKeyInfo.
            pub fn spki(&self) -> [u8; 91] {
                self.0.spki()
            }
        }

        impl core::fmt::Debug for $t {
            // Never the secret.
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($t), "(P-256)"))
            }
        }
    };
}
key_common!(AccountKey);
key_common!(CertKey);

impl AccountKey {
    /// The public key as a JWK with exactly RFC 7638's members, in its
    /// order, without whitespace: the text the thumbprint hashes, and the
    /// `jwk` a newAccount request carries.
    pub fn jwk(&self) -> [u8; JWK_LEN] {
        let xy = self.0.point();
        let (x, y) = xy.split_at(32);
        let mut out = [0u8; JWK_LEN];
        let mut w = Cursor { buf: &mut out, len: 0 };
        // Cannot fail: JWK_LEN is exactly this long.
        let _ = w
            .put(b"{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"")
            .and_then(|()| w.b64(x))
            .and_then(|()| w.put(b"\",\"y\":\""))
            .and_then(|()| w.b64(y))
            .and_then(|()| w.put(b"\"}"));
        out
    }

    /// base64url(SHA-256(JWK)) (RFC 7638 §3), what key authorizations end
    /// with.
    pub fn thumbprint(&self) -> [u8; THUMBPRINT_LEN] {
        let digest = Sha256::digest(self.jwk());
        let mut out = [0u8; THUMBPRINT_LEN];
        b64url(&digest, &mut out);
        out
    }
}

/// A JWS protected header's ACME members (RFC 8555 §6.2).
#[derive(Clone, Copy, Debug)]
pub struct Protected<'a> {
    /// The last `Replay-Nonce`; `None` only for keyChange's inner JWS.
    pub nonce: Option<&'a str>,
    /// The URL the request is POSTed to.
    pub url: &'a str,
    /// The account URL once there is one; `None` sends the `jwk` instead
    /// (newAccount, revokeCert by certificate key, keyChange's inner JWS).
    pub kid: Option<&'a str>,
}

/// The flattened JWS JSON serialization of `payload` (RFC 7515 §7.2.2),
/// `{"protected":…,"payload":…,"signature":…}`, signed ES256 by `key`: the
/// signature is r ‖ s, 64 bytes, not DER (RFC 7518 §3.4). An empty
/// `payload` is POST-as-GET's `""`. Returns the length written into `out`.
pub fn jws(key: &AccountKey, protected: &Protected<'_>, payload: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let mut header = [0u8; MAX_PROTECTED];
    let mut h = Cursor { buf: &mut header, len: 0 };
    h.put(b"{\"alg\":\"ES256\",")?;
    match protected.kid {
        Some(kid) => {
            h.put(b"\"kid\":")?;
            h.json_str(kid)?;
        }
        None => {
            h.put(b"\"jwk\":")?;
            h.put(&key.jwk())?;
        }
    }
    if let Some(nonce) = protected.nonce {
        h.put(b",\"nonce\":")?;
        h.json_str(nonce)?;
    }
    h.put(b",\"url\":")?;
    h.json_str(protected.url)?;
    h.put(b"}")?;
    let header_len = h.len;

    let mut w = Cursor { buf: out, len: 0 };
    w.put(b"{\"protected\":\"")?;
    let protected_at = w.len;
    w.b64(header.get(..header_len).unwrap_or_default())?;
    let protected_end = w.len;
    w.put(b"\",\"payload\":\"")?;
    let payload_at = w.len;
    w.b64(payload)?;
    let payload_end = w.len;
    // The signing input is ASCII(b64(header)) "." ASCII(b64(payload)),
    // hashed from where both already sit in `out`.
    let mut hash = Sha256::new();
    hash.update(w.buf.get(protected_at..protected_end).unwrap_or_default());
    hash.update(b".");
    hash.update(w.buf.get(payload_at..payload_end).unwrap_or_default());
    let sig: Signature = key.0 .0.sign_digest(hash);
    w.put(b"\",\"signature\":\"")?;
    w.b64(&sig.to_bytes())?;
    w.put(b"\"}")?;
    Ok(w.len)
}

/// A PKCS#10 CertificationRequest (RFC 2986) in DER for `names`, signed
/// ECDSA with SHA-256 by `key`: the subject is `CN=` the first name (empty
/// if that is over 64 bytes), and every name is a dNSName in a
/// subjectAltName extension, requested with extensionRequest (RFC 2985
/// §5.4.2), as RFC 8555 §7.4 asks. Returns the length written into `out`.
pub fn csr(key: &CertKey, names: &[&str], out: &mut [u8]) -> Result<usize, Error> {
    let first = names.first().ok_or(Error::BadName)?;
    if !names.iter().all(|n| dns_name(n)) {
        return Err(Error::BadName);
    }
    let mut w = DerOut { buf: out, len: 0 };
    let request = w.open(SEQUENCE)?;
    let info_at = w.len;
    let info = w.open(SEQUENCE)?;
    w.tlv(INTEGER, &[0])?;
    let subject = w.open(SEQUENCE)?;
    if first.len() <= MAX_COMMON_NAME {
        let rdn = w.open(SET)?;
        let atv = w.open(SEQUENCE)?;
        w.tlv(OID, OID_COMMON_NAME)?;
        w.tlv(der::UTF8_STRING, first.as_bytes())?;
        w.close(atv)?;
        w.close(rdn)?;
    }
    w.close(subject)?;
    w.put(&key.0.spki())?;
    let attributes = w.open(der::CTX_0)?;
    let attribute = w.open(SEQUENCE)?;
    w.tlv(OID, OID_EXTENSION_REQUEST)?;
    let values = w.open(SET)?;
    let extensions = w.open(SEQUENCE)?;
    let extension = w.open(SEQUENCE)?;
    w.tlv(OID, OID_SUBJECT_ALT_NAME)?;
    let value = w.open(OCTET_STRING)?;
    let general_names = w.open(SEQUENCE)?;
    for name in names {
        w.tlv(der::CTX_2_PRIM, name.as_bytes())?;
    }
    for mark in [general_names, value, extension, extensions, values, attribute, attributes, info] {
        w.close(mark)?;
    }
    let info_end = w.len;
    let sig: Signature = key.0 .0.sign(w.buf.get(info_at..info_end).unwrap_or_default());
    let (r, s) = sig.split_bytes();
    let sig = der::ecdsa_signature(&r, &s);
    let algorithm = w.open(SEQUENCE)?;
    w.tlv(OID, OID_ECDSA_SHA256)?;
    w.close(algorithm)?;
    let bits = w.open(BIT_STRING)?;
    w.put(&[0])?;
    w.put(&sig)?;
    w.close(bits)?;
    w.close(request)?;
    Ok(w.len)
}

/// An ASCII DNS name a CA can issue for: labels of letters, digits and
/// `-`, the first label possibly `*`; IDNs come as their `xn--` A-labels.
fn dns_name(name: &str) -> bool {
    let body = name.strip_prefix("*.").unwrap_or(name);
    (1..=MAX_NAME).contains(&name.len())
        && body.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The value of TLS-ALPN-01's acmeIdentifier extension (RFC 8737 §3,
/// OID 1.3.6.1.5.5.7.1.31, critical): the DER OCTET STRING of the
/// SHA-256 of the key authorization.
pub fn acme_identifier(key_authorization: &[u8]) -> [u8; 34] {
    let mut out = [0u8; 34];
    out[0] = OCTET_STRING;
    out[1] = 32;
    out[2..].copy_from_slice(&Sha256::digest(key_authorization));
    out
}

/// The OID of the acmeIdentifier extension, as DER contents.
pub const OID_ACME_IDENTIFIER: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f]; // 1.3.6.1.5.5.7.1.31

/// SHA-256 of `data`, for callers that hash without a dependency of their
/// own (ARI's certificate identifiers, key authorizations for DNS-01).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Unpadded base64url of `input` into the front of `out` (which must hold
/// it); the length written.
fn b64url(input: &[u8], out: &mut [u8]) -> usize {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut w = 0;
    for group in input.chunks(3) {
        let mut v = [0u8; 3];
        v[..group.len()].copy_from_slice(group);
        let bits = u32::from(v[0]) << 16 | u32::from(v[1]) << 8 | u32::from(v[2]);
        for i in 0..=group.len() {
            if let Some(slot) = out.get_mut(w) {
                *slot = ALPHABET[((bits >> (18 - 6 * i)) & 63) as usize];
            }
            w += 1;
        }
    }
    w
}

/// Appends to a caller's buffer; a write that does not fit is `NoRoom`.
struct Cursor<'o> {
    buf: &'o mut [u8],
    len: usize,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self.len + bytes.len();
        self.buf.get_mut(self.len..end).ok_or(Error::NoRoom)?.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn b64(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let n = bytes.len() / 3 * 4 + (bytes.len() % 3 * 4).div_ceil(3);
        let slot = self.buf.get_mut(self.len..self.len + n).ok_or(Error::NoRoom)?;
        b64url(bytes, slot);
        self.len += n;
        Ok(())
    }

    /// `s` as a JSON string: quotes, `"` and `\` escaped, control bytes
    /// as `\u00XX`.
    fn json_str(&mut self, s: &str) -> Result<(), Error> {
        self.put(b"\"")?;
        for &b in s.as_bytes() {
            match b {
                b'"' | b'\\' => self.put(&[b'\\', b])?,
                0..=0x1f => self.put(&[b'\\', b'u', b'0', b'0', b'0' + (b >> 4), b"0123456789abcdef"[usize::from(b & 15)]])?,
                _ => self.put(&[b])?,
            }
        }
        self.put(b"\"")
    }
}

/// Writes DER with lengths filled in when each element closes: `open`
/// leaves three bytes for the length, `close` writes it in as few as it
/// needs and moves the contents back over the rest.
struct DerOut<'o> {
    buf: &'o mut [u8],
    len: usize,
}

impl DerOut<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self.len + bytes.len();
        self.buf.get_mut(self.len..end).ok_or(Error::NoRoom)?.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Starts an element; the mark `close` takes (where its contents start).
    fn open(&mut self, tag: u8) -> Result<usize, Error> {
        self.put(&[tag, 0, 0, 0])?;
        Ok(self.len)
    }

    fn close(&mut self, contents_at: usize) -> Result<(), Error> {
        let n = self.len - contents_at;
        let (length, used): ([u8; 3], usize) = match n {
            0..0x80 => ([n as u8, 0, 0], 1),
            0x80..0x100 => ([0x81, n as u8, 0], 2),
            0x100..0x10000 => ([0x82, (n >> 8) as u8, n as u8], 3),
            _ => return Err(Error::NoRoom),
        };
        let region = self.buf.get_mut(contents_at - 3..self.len).ok_or(Error::NoRoom)?;
        region[..used].copy_from_slice(&length[..used]);
        region.copy_within(3.., used);
        self.len -= 3 - used;
        Ok(())
    }

    fn tlv(&mut self, tag: u8, contents: &[u8]) -> Result<(), Error> {
        let at = self.open(tag)?;
        self.put(contents)?;
        self.close(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::Der;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;
    use std::process::Command;

    /// RFC 7515 appendix A.3's P-256 key: d, and the JWK's x and y.
    const D: &str = "8e9b109e719098bf980487df1f5d77e9cb29606ebed2263b5f57c213df84f4b2";
    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn unb64(s: &str) -> Vec<u8> {
        let v = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url: {s}"),
        };
        let mut out = Vec::new();
        let (mut bits, mut n) = (0u32, 0);
        for c in s.bytes() {
            bits = bits << 6 | u32::from(v(c));
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
            }
        }
        out
    }

    /// The RFC key as PKCS#8, built by hand from its parts.
    fn rfc_key_pkcs8() -> Vec<u8> {
        [PKCS8_HEAD, &hex(D), PKCS8_MID, &unb64(X), &unb64(Y)].concat()
    }

    fn rfc_key() -> AccountKey {
        AccountKey::from_pkcs8(&rfc_key_pkcs8()).unwrap()
    }

    fn openssl() -> bool {
        let ok = Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("SKIPPED: openssl not installed");
        }
        ok
    }

    fn temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("drift-acme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn jwk_and_thumbprint_by_hand() {
        let key = rfc_key();
        let want = format!(r#"{{"crv":"P-256","kty":"EC","x":"{X}","y":"{Y}"}}"#);
        assert_eq!(std::str::from_utf8(&key.jwk()).unwrap(), want);
        // RFC 7638 §3: base64url(SHA-256(the JWK's UTF-8)), computed here
        // from the text, and as Python's hashlib gave it.
        let mut by_hand = [0u8; 43];
        b64url(&Sha256::digest(want.as_bytes()), &mut by_hand);
        assert_eq!(key.thumbprint(), by_hand);
        assert_eq!(&key.thumbprint(), b"oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U");
    }

    #[test]
    fn pkcs8_round_trips_and_rejects() {
        let der = rfc_key_pkcs8();
        assert_eq!(der.len(), PKCS8_LEN);
        assert_eq!(rfc_key().to_pkcs8().as_slice(), der.as_slice());
        let fresh = CertKey::generate().unwrap();
        let other = CertKey::generate().unwrap();
        assert_ne!(fresh.to_pkcs8(), other.to_pkcs8());
        let back = CertKey::from_pkcs8(&fresh.to_pkcs8()).unwrap();
        assert_eq!(back.to_pkcs8(), fresh.to_pkcs8());
        // The provider loads it as a TLS key too.
        let tls = rustls::pki_types::PrivateKeyDer::Pkcs8(fresh.to_pkcs8().to_vec().into());
        assert!(crate::provider::load_key(&tls).is_ok());
        assert_eq!(format!("{fresh:?}"), "CertKey(P-256)");
        if openssl() {
            // openssl reads ours, and writes byte for byte what we write.
            let path = temp("key.der", &fresh.to_pkcs8());
            let check = Command::new("openssl").args(["pkey", "-inform", "DER", "-check", "-noout", "-in"]).arg(&path).output().unwrap();
            assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
            let theirs = Command::new("sh")
                .args(["-c", "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl pkcs8 -topk8 -nocrypt -outform DER"])
                .output().unwrap();
            assert!(theirs.status.success());
            let key = AccountKey::from_pkcs8(&theirs.stdout).unwrap();
            assert_eq!(key.to_pkcs8().as_slice(), theirs.stdout.as_slice());
        }

        let mut wrong_point = der.clone();
        *wrong_point.last_mut().unwrap() ^= 1;
        let mut zero = der.clone();
        zero[36..68].fill(0);
        let mut other_curve = der.clone();
        other_curve[26] = 0x08; // 1.2.840.10045.3.1.8, not prime256v1
        let rejects: &[(&str, Vec<u8>)] = &[
            ("empty", vec![]),
            ("public point not its own", wrong_point),
            ("zero secret", zero),
            ("another curve", other_curve),
            ("cut short", der[..der.len() - 1].to_vec()),
            ("bytes after", [der.clone(), vec![0]].concat()),
        ];
        for (name, bad) in rejects {
            assert_eq!(AccountKey::from_pkcs8(bad).err(), Some(Error::BadKey), "{name}");
        }
    }

    /// Splits a flattened JWS into its three base64url members.
    fn members(jws: &str) -> (String, String, String) {
        let v: Vec<&str> = jws.split('"').collect();
        assert_eq!((v[1], v[5], v[9]), ("protected", "payload", "signature"), "{jws}");
        assert_eq!(v.len(), 13, "{jws}");
        (v[3].into(), v[7].into(), v[11].into())
    }

    #[test]
    fn jws_verifies() {
        let key = rfc_key();
        let vk = VerifyingKey::from_sec1_bytes(&[&[4][..], &unb64(X), &unb64(Y)].concat()).unwrap();
        let new_account = Protected { nonce: Some("6S8IqOGY7eL2lsGoTZYifg"), url: "https://ca.example/acme/new-account", kid: None };
        let post_as_get = Protected { nonce: Some("n\"\\\u{1}"), url: "https://ca.example/acme/order/1", kid: Some("https://ca.example/acme/acct/7") };
        let inner = Protected { nonce: None, url: "https://ca.example/acme/key-change", kid: None };
        let rows: [(&Protected, &[u8], String); 3] = [
            (&new_account, br#"{"termsOfServiceAgreed":true}"#,
             format!(r#"{{"alg":"ES256","jwk":{{"crv":"P-256","kty":"EC","x":"{X}","y":"{Y}"}},"nonce":"6S8IqOGY7eL2lsGoTZYifg","url":"https://ca.example/acme/new-account"}}"#)),
            (&post_as_get, b"",
             r#"{"alg":"ES256","kid":"https://ca.example/acme/acct/7","nonce":"n\"\\\u0001","url":"https://ca.example/acme/order/1"}"#.into()),
            (&inner, br#"{"account":"x"}"#,
             format!(r#"{{"alg":"ES256","jwk":{{"crv":"P-256","kty":"EC","x":"{X}","y":"{Y}"}},"url":"https://ca.example/acme/key-change"}}"#)),
        ];
        for (protected, payload, header) in rows {
            let mut out = [0u8; 1024];
            let n = jws(&key, protected, payload, &mut out).unwrap();
            let text = std::str::from_utf8(&out[..n]).unwrap();
            let (p, b, s) = members(text);
            assert_eq!(String::from_utf8(unb64(&p)).unwrap(), header);
            assert_eq!(unb64(&b), payload);
            assert_eq!(b.is_empty(), payload.is_empty(), "POST-as-GET sends \"\"");
            let sig = unb64(&s);
            assert_eq!(sig.len(), 64, "r ‖ s, not DER");
            let sig = Signature::from_slice(&sig).unwrap();
            vk.verify(format!("{p}.{b}").as_bytes(), &sig).unwrap();
            assert!(vk.verify(format!("{p}.{b}x").as_bytes(), &sig).is_err());
            for short in [0, n - 1] {
                assert_eq!(jws(&key, protected, payload, &mut out[..short]), Err(Error::NoRoom));
            }

            if openssl() {
                let (r, s) = sig.split_bytes();
                let input = temp("input", format!("{p}.{b}").as_bytes());
                let sig = temp("sig.der", &der::ecdsa_signature(&r, &s));
                let public = temp("pub.der", &key.spki());
                let out = Command::new("openssl")
                    .args(["dgst", "-sha256", "-keyform", "DER", "-verify"])
                    .arg(&public).arg("-signature").arg(&sig).arg(&input)
                    .output().unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                assert_eq!(out.stdout, b"Verified OK\n");
            }
        }
        let long = "x".repeat(MAX_PROTECTED);
        let hostile = Protected { nonce: Some("n"), url: &long, kid: None };
        assert_eq!(jws(&key, &hostile, b"", &mut [0u8; 8192]), Err(Error::NoRoom));
    }

    #[test]
    fn csr_verifies() {
        let key = CertKey::generate().unwrap();
        let long = format!("{}.example.com", "a".repeat(60));
        let rows: &[&[&str]] = &[
            &["example.com"],
            &["example.com", "www.example.com", "*.example.org"],
            &[&long, "b.example"],
        ];
        for names in rows {
            let mut out = [0u8; 1024];
            let n = csr(&key, names, &mut out).unwrap();
            let der = &out[..n].to_vec()[..];
            // Our own reader: request, info, algorithm, signature.
            let mut req = Der(Der::only(der, SEQUENCE).unwrap());
            let info = req.take(SEQUENCE).unwrap();
            let alg = req.take(SEQUENCE).unwrap();
            let sig = req.take(BIT_STRING).unwrap();
            assert!(req.is_empty());
            assert_eq!(Der::only(alg, OID), Some(OID_ECDSA_SHA256));
            let mut i = Der(info);
            assert_eq!(i.take(INTEGER), Some(&[0][..]));
            let subject = i.take(SEQUENCE).unwrap();
            assert_eq!(subject.is_empty(), names[0].len() > 64);
            assert_eq!(i.take(SEQUENCE), Some(&key.spki()[2..]));
            // The signature is DER, over the info's whole element.
            let contents = Der::only(der, SEQUENCE).unwrap();
            let mut rest = Der(contents);
            rest.any().unwrap();
            let info_der = &contents[..contents.len() - rest.0.len()];
            let vk = VerifyingKey::from_sec1_bytes(&key.spki()[26..]).unwrap();
            let (zero, sig) = sig.split_first().unwrap();
            assert_eq!(*zero, 0, "no unused bits");
            let mut rs = Der(Der::only(sig, SEQUENCE).unwrap());
            let mut raw = [0u8; 64];
            for half in raw.chunks_mut(32) {
                let int = rs.take(INTEGER).unwrap();
                let int = &int[int.len().saturating_sub(32)..];
                half[32 - int.len()..].copy_from_slice(int);
            }
            vk.verify(info_der, &Signature::from_slice(&raw).unwrap()).unwrap();
            for short in [0, n / 2, n - 1] {
                assert_eq!(csr(&key, names, &mut out[..short]), Err(Error::NoRoom));
            }

            if openssl() {
                let path = temp("csr.der", der);
                let out = Command::new("openssl")
                    .args(["req", "-inform", "DER", "-verify", "-noout", "-text", "-in"])
                    .arg(&path)
                    .output().unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "{err}");
                assert!(err.contains("verify OK") || text.contains("verify OK"), "{err}");
                let sans: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
                assert!(text.contains(&sans.join(", ")), "{text}");
                assert!(text.contains("ecdsa-with-SHA256"), "{text}");
                assert!(text.contains("NIST CURVE: P-256") || text.contains("prime256v1"), "{text}");
                if names[0].len() <= 64 {
                    let cn = [format!("CN = {}", names[0]), format!("CN={}", names[0])];
                    assert!(cn.iter().any(|c| text.contains(c.as_str())), "{text}");
                }
            }
        }
        for bad in [&[][..], &[""], &["a..b"], &["a b"], &["ex\u{e9}.com"], &["x.*.com"], &["-"], &["a-.b"]] {
            assert_eq!(csr(&key, bad, &mut [0u8; 1024]), Err(Error::BadName), "{bad:?}");
        }
    }

    #[test]
    fn dns_names() {
        for (name, ok) in [
            ("example.com", true),
            ("*.example.com", true),
            ("xn--caf-dma.example", true),
            ("localhost", true),
            ("a-b.c", true),
            ("", false),
            ("*", false),
            ("a.*.b", false),
            ("a..b", false),
            (".a", false),
            ("a_b.c", false),
            ("a/b", false),
            ("-a.b", false),
            ("a.b-", false),
        ] {
            assert_eq!(dns_name(name), ok, "{name}");
        }
        assert!(dns_name(&format!("{}.b", "a".repeat(63))));
        assert!(!dns_name(&format!("{}.b", "a".repeat(64))));
    }

    #[test]
    fn acme_identifier_value() {
        // RFC 8737 §3: OCTET STRING (SIZE (32)) of SHA-256(key authorization).
        let ka = b"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U";
        let v = acme_identifier(ka);
        assert_eq!(Der::only(&v, OCTET_STRING), Some(&Sha256::digest(ka)[..]));
        assert_eq!(sha256(ka), v[2..]);
    }
}
