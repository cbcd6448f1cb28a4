//! Certificate and key files (`--tls-cert FILE --tls-key FILE`, given once
//! per site): read, checked against each other, and chosen by SNI. It owns
//! the few X.509 fields driftd shows or matches on; it never signs, never
//! validates a chain, and never allocates during a handshake.
use alloc::sync::Arc;
use alloc::vec::Vec;

use rustls::crypto::KeyProvider;
use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{Error as TlsError, InconsistentKeys};

use drift_crypto::der::{
    BOOLEAN, CTX_0, CTX_1_PRIM, CTX_2_PRIM, CTX_3, Der, EcPrivateKey, GENERALIZED_TIME, IA5_STRING,
    INTEGER, OCTET_STRING, OID, OID_EC_PUBLIC_KEY, OID_ED448, OID_ED25519, OID_P256, OID_P384,
    OID_P521, OID_RSA, OID_RSA_PSS, PRINTABLE_STRING, PrivateKeyInfo, SEQUENCE, SET, UTC_TIME,
    UTF8_STRING,
};

use crate::fmt::Line;
use crate::http::date;
use crate::sys::{Errno, fs, io};

/// Largest certificate or key file read. A leaf with a few intermediates is
/// under 10 KB; a file near this size is not what the flag wants.
pub const MAX_FILE: usize = 1 << 20;

/// Warn when fewer days than this are left. certbot and lego renew at 30
/// days, so a certificate this close to its end has missed two weeks of
/// renewals.
pub const WARN_DAYS: u64 = 14;

const CERT_FLAG: &[u8] = b"--tls-cert";
const KEY_FLAG: &[u8] = b"--tls-key";
const MAKE_KEY: &[u8] = b"make an ECDSA key: openssl ecparam -name prime256v1 -genkey -noout -out key.pem";

/// One of the two files of a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Cert,
    Key,
}

/// A private key's algorithm, as far as its DER says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    P256,
    P384,
    P521,
    Ed25519,
    Ed448,
    Rsa,
    /// An algorithm or curve not listed here.
    Other,
}

impl KeyKind {
    /// The kinds the server can sign with; the others fail at start.
    pub fn supported(self) -> bool {
        matches!(self, KeyKind::P256 | KeyKind::P384 | KeyKind::Ed25519)
    }

    fn name(self) -> &'static [u8] {
        match self {
            KeyKind::P256 => b"P-256",
            KeyKind::P384 => b"P-384",
            KeyKind::P521 => b"P-521",
            KeyKind::Ed25519 => b"Ed25519",
            KeyKind::Ed448 => b"Ed448",
            KeyKind::Rsa => b"RSA",
            KeyKind::Other => b"other",
        }
    }
}

/// Why a pair could not be loaded; each names the file it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// open(2) or read(2) failed.
    Unreadable(Which, Errno),
    /// Over [`MAX_FILE`] bytes.
    TooLarge(Which),
    /// A BEGIN line without its END, or base64 that does not decode.
    BadPem(Which),
    NoCertificate,
    /// The leaf is not an X.509 certificate this module (or rustls) can read.
    BadCertificate,
    NoKey,
    /// Two private keys: which one is meant cannot be guessed.
    ManyKeys,
    /// The key block is not the DER its label promises.
    BadKey,
    Unsupported(KeyKind),
    /// The key provider refused a key of a supported kind.
    KeyRefused,
    /// The key provider cannot give the key's public half to compare.
    KeyUncheckable,
    KeyMismatch,
}

/// A [`Problem`] and the paths it is reported with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadError<'a> {
    pub problem: Problem,
    pub cert_path: &'a [u8],
    pub key_path: &'a [u8],
}

/// How close a certificate is to its notAfter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    Valid,
    /// Fewer than [`WARN_DAYS`] whole days left.
    Soon { days: u64 },
    Expired,
}

/// A pair that loaded: the chain and key for rustls, and what the leaf says.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub key: Arc<CertifiedKey>,
    /// The leaf's subjectAltName dNSNames, or its subject CN if it has none;
    /// as written in the certificate (`*.example.com` included).
    pub names: Vec<Vec<u8>>,
    /// notAfter, in seconds since 1970.
    pub not_after: u64,
    /// The serial number's bytes, without the sign byte DER may add.
    pub serial: Vec<u8>,
    /// [`expiry`] at the time given to [`load_pair`].
    pub expiry: Expiry,
}

/// Reads `cert_path` (the leaf, then any intermediates, as CERTIFICATE
/// blocks) and `key_path` (one PRIVATE KEY, or EC PRIVATE KEY, block), turns
/// the key into a signer with `keys`, and checks that it is the leaf's key.
pub fn load_pair<'a>(
    cert_path: &'a [u8],
    key_path: &'a [u8],
    keys: &dyn KeyProvider,
    now_unix: u64,
) -> Result<Loaded, LoadError<'a>> {
    let fail = |problem| LoadError { problem, cert_path, key_path };
    let chain = read_chain(cert_path).map_err(fail)?;
    let leaf = chain.first().ok_or(fail(Problem::NoCertificate))?;
    let info = parse_leaf(leaf.as_ref()).ok_or(fail(Problem::BadCertificate))?;
    let (names, serial) = (info.names(), unsigned(info.serial).to_vec());
    let not_after = info.not_after;

    let key = read_key(key_path).map_err(fail)?;
    let signer = keys.load_private_key(key).map_err(|_| fail(Problem::KeyRefused))?;
    let certified = CertifiedKey::new(chain, signer);
    match certified.keys_match() {
        Ok(()) => {}
        Err(TlsError::InconsistentKeys(InconsistentKeys::KeyMismatch)) => return Err(fail(Problem::KeyMismatch)),
        Err(TlsError::InconsistentKeys(_)) => return Err(fail(Problem::KeyUncheckable)),
        // webpki could not parse the leaf where our reader could.
        Err(_) => return Err(fail(Problem::BadCertificate)),
    }
    Ok(Loaded { key: Arc::new(certified), names, not_after, serial, expiry: expiry(not_after, now_unix) })
}

/// Writes `--tls-key key.pem: the reason`; the caller adds `driftd: `.
pub fn describe(e: &LoadError<'_>, out: &mut Line<'_>) {
    let which = match e.problem {
        Problem::Unreadable(w, _) | Problem::TooLarge(w) | Problem::BadPem(w) => w,
        Problem::NoCertificate | Problem::BadCertificate => Which::Cert,
        _ => Which::Key,
    };
    match which {
        Which::Cert => out.push(CERT_FLAG).push(b" ").push(e.cert_path),
        Which::Key => out.push(KEY_FLAG).push(b" ").push(e.key_path),
    };
    out.push(b": ");
    match e.problem {
        Problem::Unreadable(_, errno) => push_errno(out, errno),
        Problem::TooLarge(_) => {
            out.push(b"larger than 1 MiB; not a PEM file");
        }
        Problem::BadPem(_) => {
            out.push(b"not valid PEM (a BEGIN line without its END, or bad base64)");
        }
        Problem::NoCertificate => {
            out.push(b"no CERTIFICATE block in the file");
        }
        Problem::BadCertificate => {
            out.push(b"the first CERTIFICATE block is not an X.509 certificate");
        }
        Problem::NoKey => {
            out.push(b"no private key in the file");
        }
        Problem::ManyKeys => {
            out.push(b"more than one private key in the file");
        }
        Problem::BadKey => {
            out.push(b"the private key is not valid DER");
        }
        Problem::Unsupported(KeyKind::Other) => {
            out.push(b"this type of key is not supported; ").push(MAKE_KEY);
        }
        Problem::Unsupported(kind) => {
            out.push(kind.name()).push(b" keys are not supported; ").push(MAKE_KEY);
        }
        Problem::KeyRefused => {
            out.push(b"the key could not be loaded");
        }
        Problem::KeyUncheckable => {
            out.push(b"the key cannot be checked against the certificate in ").push(e.cert_path);
        }
        Problem::KeyMismatch => {
            out.push(b"the key does not match the certificate in ").push(e.cert_path);
        }
    }
}

/// `Message (ENAME)`, knowing two more errnos than driftd's other messages:
/// a directory given for a file, and a path over PATH_MAX.
fn push_errno(out: &mut Line<'_>, e: Errno) {
    match crate::errno::describe(crate::errno::FILES, e.into_raw()) {
        Some(text) => {
            out.push(text);
        }
        None => crate::errno::push_text_all(out, e),
    }
}

/// Where `not_after` stands at `now_unix`. A certificate is valid through
/// its notAfter second (RFC 5280 §4.1.2.5).
pub fn expiry(not_after: u64, now_unix: u64) -> Expiry {
    match not_after.checked_sub(now_unix) {
        None => Expiry::Expired,
        Some(left) if left / 86_400 < WARN_DAYS => Expiry::Soon { days: left / 86_400 },
        Some(_) => Expiry::Valid,
    }
}

/// Writes `warning: --tls-cert cert.pem expires 2026-12-10 (in 4 days)` or
/// `... expired 2026-11-01` and returns true, or returns false (and writes
/// nothing) when more than [`WARN_DAYS`] are left. The caller adds `driftd: `.
pub fn describe_expiry(cert_path: &[u8], loaded: &Loaded, out: &mut Line<'_>) -> bool {
    let days = match loaded.expiry {
        Expiry::Valid => return false,
        Expiry::Soon { days } => Some(days),
        Expiry::Expired => None,
    };
    out.push(b"warning: ").push(CERT_FLAG).push(b" ").push(cert_path);
    out.push(if days.is_some() { b" expires " } else { b" expired " });
    push_day(out, loaded.not_after);
    match days {
        Some(0) => out.push(b" (in less than a day)"),
        Some(1) => out.push(b" (in 1 day)"),
        Some(n) => out.push(b" (in ").push_u64(n).push(b" days)"),
        None => out,
    };
    true
}

/// `YYYY-MM-DD`, the day `unix_secs` falls on in UTC.
fn push_day(out: &mut Line<'_>, unix_secs: u64) {
    let c = date::civil(unix_secs);
    let mut md = *b"-00-00";
    date::two_digits(&mut md[1..], c.month);
    date::two_digits(&mut md[4..], c.day);
    out.push_u32(c.year).push(&md);
}

/// Why a file could not be read.
enum ReadFailure {
    Errno(Errno),
    TooLarge,
}

/// The whole file at `path` (no NUL needed), up to [`MAX_FILE`] bytes. A
/// regular file is read into one allocation sized by fstat, so no copy of a
/// key is left behind by a reallocation.
fn read_file(path: &[u8]) -> Result<Vec<u8>, ReadFailure> {
    let mut p = [0u8; 4096]; // PATH_MAX
    let c_path = fs::path_in(&mut p, 0, path).ok_or(ReadFailure::Errno(Errno::ENAMETOOLONG))?;
    let file = fs::openat(fs::CWD, c_path, fs::O_RDONLY, 0).map_err(ReadFailure::Errno)?;
    let size = fs::fstat(file.as_fd()).map_or(0, |st| st.size);
    if size > MAX_FILE as u64 {
        return Err(ReadFailure::TooLarge);
    }
    // One byte over the file's size (or the cap) lets the read that
    // returns 0 land without a reallocation, and tells a file of exactly
    // MAX_FILE bytes from a larger one.
    let cap = MAX_FILE + 1;
    let mut buf = alloc::vec![0; usize::try_from(size).unwrap_or(cap).saturating_add(1).clamp(4096, cap)];
    let mut have = 0; // INVARIANT: have <= buf.len()
    loop {
        if have == buf.len() {
            // The file grew after fstat, or is not a regular file.
            if have >= cap {
                return Err(ReadFailure::TooLarge);
            }
            buf.resize(have.saturating_mul(2).min(cap), 0);
        }
        match io::read(file.as_fd(), buf.get_mut(have..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e == Errno::EINTR => {}
            Err(e) => return Err(ReadFailure::Errno(e)),
        }
    }
    buf.truncate(have);
    Ok(buf)
}

fn read_as(which: Which, path: &[u8]) -> Result<Vec<u8>, Problem> {
    read_file(path).map_err(|f| match f {
        ReadFailure::Errno(e) => Problem::Unreadable(which, e),
        ReadFailure::TooLarge => Problem::TooLarge(which),
    })
}

/// Every CERTIFICATE block in the file, in order (the leaf first); blocks
/// with other labels are skipped, so a file holding the key as well works.
fn read_chain(path: &[u8]) -> Result<Vec<CertificateDer<'static>>, Problem> {
    let text = read_as(Which::Cert, path)?;
    let mut chain = Vec::new();
    for block in <(SectionKind, Vec<u8>)>::pem_slice_iter(&text) {
        if let (SectionKind::Certificate, der) = block.map_err(|_| Problem::BadPem(Which::Cert))? {
            chain.push(CertificateDer::from(der));
        }
    }
    Ok(chain)
}

/// The one private key in the file, if its kind is one the server signs with.
fn read_key(path: &[u8]) -> Result<PrivateKeyDer<'static>, Problem> {
    let mut text = read_as(Which::Key, path)?;
    let found = only_key(&text);
    // The text is the key: do not leave it in freed heap. black_box keeps
    // the stores from being dropped as dead before the free.
    text.fill(0);
    core::hint::black_box(&text);
    let key = found?;
    let kind = match &key {
        PrivateKeyDer::Pkcs8(k) => pkcs8_kind(k.secret_pkcs8_der()),
        PrivateKeyDer::Sec1(k) => sec1_kind(k.secret_sec1_der()),
        _ => Some(KeyKind::Rsa),
    };
    match kind {
        None => Err(Problem::BadKey),
        Some(k) if k.supported() => Ok(key),
        Some(k) => Err(Problem::Unsupported(k)),
    }
}

fn only_key(text: &[u8]) -> Result<PrivateKeyDer<'static>, Problem> {
    let mut key = None;
    for block in <(SectionKind, Vec<u8>)>::pem_slice_iter(text) {
        let this = match block.map_err(|_| Problem::BadPem(Which::Key))? {
            (SectionKind::PrivateKey, der) => PrivateKeyDer::Pkcs8(der.into()),
            (SectionKind::EcPrivateKey, der) => PrivateKeyDer::Sec1(der.into()),
            (SectionKind::RsaPrivateKey, _) => return Err(Problem::Unsupported(KeyKind::Rsa)),
            _ => continue,
        };
        if key.replace(this).is_some() {
            return Err(Problem::ManyKeys);
        }
    }
    key.ok_or(Problem::NoKey)
}

// The certificate fields' identifiers, as their DER contents bytes; the
// tags and the key algorithms' are the shared reader's.
const OID_CN: &[u8] = &[0x55, 0x04, 0x03]; // 2.5.4.3
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11]; // 2.5.29.17

/// What the server keeps from a leaf certificate, borrowed from its DER.
#[derive(Debug, PartialEq, Eq)]
struct Leaf<'a> {
    serial: &'a [u8],
    not_after: u64,
    /// The SEQUENCE OF GeneralName's contents, if the extension is there.
    san: Option<&'a [u8]>,
    /// The last CN in the subject (the most specific one).
    cn: Option<&'a [u8]>,
}

impl Leaf<'_> {
    fn dns_names(&self) -> impl Iterator<Item = &[u8]> {
        let mut names = Der(self.san.unwrap_or_default());
        core::iter::from_fn(move || {
            loop {
                match names.any()? {
                    (CTX_2_PRIM, name) => return Some(name),
                    _ => continue, // IP addresses, emails, URIs: SNI carries none
                }
            }
        })
    }

    fn names(&self) -> Vec<Vec<u8>> {
        let mut names: Vec<Vec<u8>> = self.dns_names().map(<[u8]>::to_vec).collect();
        if names.is_empty() {
            names.extend(self.cn.map(<[u8]>::to_vec));
        }
        names
    }
}

/// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
/// (RFC 5280 §4.1); only the to-be-signed part is read, and only as far as
/// its extensions.
fn parse_leaf(der: &[u8]) -> Option<Leaf<'_>> {
    let mut cert = Der(Der(der).take(SEQUENCE)?);
    let mut tbs = Der(cert.take(SEQUENCE)?);
    let _version = tbs.take(CTX_0);
    let serial = tbs.take(INTEGER)?;
    let _signature = tbs.take(SEQUENCE)?;
    let _issuer = tbs.take(SEQUENCE)?;
    let mut validity = Der(tbs.take(SEQUENCE)?);
    let _not_before = validity.any()?;
    let (tag, text) = validity.any()?;
    let not_after = parse_time(tag, text)?;
    let cn = last_cn(tbs.take(SEQUENCE)?)?;
    let _spki = tbs.take(SEQUENCE)?;
    let _issuer_id = tbs.take(CTX_1_PRIM);
    let _subject_id = tbs.take(CTX_2_PRIM);
    let mut san = None;
    if let Some(ext) = tbs.take(CTX_3) {
        let mut list = Der(Der(ext).take(SEQUENCE)?);
        while !list.is_empty() {
            let mut e = Der(list.take(SEQUENCE)?);
            let id = e.take(OID)?;
            let _critical = e.take(BOOLEAN);
            let value = e.take(OCTET_STRING)?;
            if id == OID_SAN {
                san = Some(Der(value).take(SEQUENCE)?);
            }
        }
    }
    (!serial.is_empty()).then_some(Leaf { serial, not_after, san, cn })
}

/// Name ::= SEQUENCE OF SET OF { type OID, value }: the last commonName, if
/// it is text a host name could be (ASCII in one of the usual string types).
/// `None` only when the Name is malformed.
fn last_cn(name: &[u8]) -> Option<Option<&[u8]>> {
    let mut rdns = Der(name);
    let mut cn = None;
    while !rdns.is_empty() {
        let mut set = Der(rdns.take(SET)?);
        while !set.is_empty() {
            let mut atv = Der(set.take(SEQUENCE)?);
            let id = atv.take(OID)?;
            let (tag, value) = atv.any()?;
            let text = matches!(tag, UTF8_STRING | PRINTABLE_STRING | IA5_STRING);
            if id == OID_CN && text && value.is_ascii() {
                cn = Some(value);
            }
        }
    }
    Some(cn)
}

/// UTCTime `YYMMDDHHMMSSZ` (years 50-99 are 19xx, RFC 5280 §4.1.2.5.1) or
/// GeneralizedTime `YYYYMMDDHHMMSSZ`, as seconds since 1970. RFC 5280 allows
/// no other forms (no fractions, no offsets). date.rs owns the calendar, so
/// the time is re-spelled as an IMF-fixdate and checked there: the same day
/// of month, leap year and 1970..=9999 rules as HTTP dates.
fn parse_time(tag: u8, t: &[u8]) -> Option<u64> {
    let mut imf = *b"Sun, DD Mon YYYY HH:MM:SS GMT";
    let rest = match tag {
        UTC_TIME => {
            let (yy, rest) = t.split_at_checked(2)?;
            imf[12..14].copy_from_slice(if yy < b"50".as_slice() { b"20" } else { b"19" });
            imf[14..16].copy_from_slice(yy);
            rest
        }
        GENERALIZED_TIME => {
            let (yyyy, rest) = t.split_at_checked(4)?;
            imf[12..16].copy_from_slice(yyyy);
            rest
        }
        _ => return None,
    };
    let [m1, m2, d1, d2, h1, h2, n1, n2, s1, s2, b'Z'] = *rest else { return None };
    let month = crate::fmt::parse_u32(&[m1, m2])?.checked_sub(1).filter(|&m| m < 12)?;
    imf[8..11].copy_from_slice(date::name3(date::MONTH_NAMES, month as u8));
    imf[5..7].copy_from_slice(&[d1, d2]);
    imf[17..19].copy_from_slice(&[h1, h2]);
    imf[20..22].copy_from_slice(&[n1, n2]);
    imf[23..25].copy_from_slice(&[s1, s2]);
    date::parse_imf(&imf)
}

/// An INTEGER's contents without the 0x00 DER puts before a high bit, so a
/// serial reads as `openssl x509 -serial` prints it.
fn unsigned(n: &[u8]) -> &[u8] {
    match n {
        [0, next, ..] if next & 0x80 != 0 => &n[1..],
        _ => n,
    }
}

/// The algorithm of a PKCS#8 PrivateKeyInfo (RFC 5958 §2); `None` if it
/// is not one, or is an EC key without its curve.
fn pkcs8_kind(der: &[u8]) -> Option<KeyKind> {
    let info = PrivateKeyInfo::parse(der)?;
    Some(match info.algorithm {
        OID_RSA | OID_RSA_PSS => KeyKind::Rsa,
        OID_ED25519 => KeyKind::Ed25519,
        OID_ED448 => KeyKind::Ed448,
        OID_EC_PUBLIC_KEY => curve(info.curve?),
        _ => KeyKind::Other,
    })
}

/// The curve of a SEC1 ECPrivateKey (RFC 5915 §3). Without the curve, the
/// key's length tells the three NIST curves apart.
fn sec1_kind(der: &[u8]) -> Option<KeyKind> {
    let key = EcPrivateKey::parse(der)?;
    if let Some(id) = key.curve {
        return Some(curve(id));
    }
    Some(match key.secret.len() {
        32 => KeyKind::P256,
        48 => KeyKind::P384,
        66 => KeyKind::P521,
        _ => KeyKind::Other,
    })
}

fn curve(id: &[u8]) -> KeyKind {
    match id {
        OID_P256 => KeyKind::P256,
        OID_P384 => KeyKind::P384,
        OID_P521 => KeyKind::P521,
        _ => KeyKind::Other,
    }
}

/// One pair's names and key.
struct Site {
    names: Vec<Vec<u8>>,
    key: Arc<CertifiedKey>,
}

impl From<Loaded> for Site {
    fn from(pair: Loaded) -> Site {
        Site { names: pair.names, key: pair.key }
    }
}

/// Chooses a pair by the client's SNI: an exact name first (any case), then
/// a wildcard `*.example.com`, which stands for exactly one label; no SNI,
/// or no match, gets the first pair. Nothing is allocated per handshake.
pub struct SniResolver {
    first: Site,
    rest: Vec<Site>,
}

impl SniResolver {
    /// A resolver whose default is `first`.
    pub fn new(first: Loaded) -> SniResolver {
        SniResolver { first: first.into(), rest: Vec::new() }
    }

    /// Adds a pair, consulted after those added before it.
    pub fn add(&mut self, pair: Loaded) {
        self.rest.push(pair.into());
    }

    /// The pair for a ClientHello's server name (a trailing dot ignored).
    pub fn pick(&self, sni: Option<&str>) -> &Arc<CertifiedKey> {
        let Some(host) = sni.map(|s| s.as_bytes()) else { return &self.first.key };
        let host = host.strip_suffix(b".").unwrap_or(host);
        let names = || {
            let sites = core::iter::once(&self.first).chain(&self.rest);
            sites.flat_map(|s| s.names.iter().map(move |n| (n.as_slice(), &s.key)))
        };
        let exact = names().find(|(n, _)| n.eq_ignore_ascii_case(host));
        match exact.or_else(|| names().find(|(n, _)| wildcard_match(n, host))) {
            Some((_, key)) => key,
            None => &self.first.key,
        }
    }
}

/// `*.example.com` against `www.example.com`: the wildcard is a whole
/// first label and stands for one non-empty label.
fn wildcard_match(name: &[u8], host: &[u8]) -> bool {
    let Some(suffix) = name.strip_prefix(b"*") else { return false };
    match host.iter().position(|&b| b == b'.') {
        Some(dot) if dot > 0 && suffix.first() == Some(&b'.') => host.get(dot..).is_some_and(|h| h.eq_ignore_ascii_case(suffix)),
        _ => false,
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(self.pick(hello.server_name())))
    }
}

impl core::fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Certificates and keys are noise in a log line; the count is enough.
        f.debug_struct("SniResolver").field("sites", &(1 + self.rest.len())).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::alg_id;
    use rustls::pki_types::SubjectPublicKeyInfoDer;
    use rustls::sign::{Signer, SigningKey};
    use rustls::{SignatureAlgorithm, SignatureScheme};
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::OnceLock;

    /// A key that knows only its public half: enough for `keys_match`,
    /// which is all these tests ask of a key. The real provider signs.
    #[derive(Debug)]
    struct PublicOnly {
        spki: SubjectPublicKeyInfoDer<'static>,
        alg: SignatureAlgorithm,
    }

    impl SigningKey for PublicOnly {
        fn choose_scheme(&self, _offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
            None
        }
        fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
            Some(SubjectPublicKeyInfoDer::from(self.spki.as_ref()))
        }
        fn algorithm(&self) -> SignatureAlgorithm {
            self.alg
        }
    }

    /// The real key provider: these tests load keys as driftd does.
    const TEST_KEYS: &crate::tls::provider::Keys = &crate::tls::provider::Keys;

    /// A provider that refuses everything, as the real one does a key it
    /// cannot use.
    #[derive(Debug)]
    struct NoKeys;

    impl KeyProvider for NoKeys {
        fn load_private_key(&self, _der: PrivateKeyDer<'static>) -> Result<Arc<dyn SigningKey>, TlsError> {
            Err(TlsError::General("no".into()))
        }
    }

    fn openssl(dir: &Path, args: &[&str]) {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl on PATH");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn openssl_out(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl on PATH");
        assert!(out.status.success(), "openssl {args:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A self-signed certificate and its PKCS#8 key as NAME.pem, NAME.key.
    fn self_signed(dir: &Path, name: &str, newkey: &[&str], extra: &[&str]) {
        let (pem, key) = (format!("{name}.pem"), format!("{name}.key"));
        let mut args = vec!["req", "-x509", "-nodes", "-subj", "/O=Drift tests/CN=cn.test", "-keyout", &key, "-out", &pem];
        args.extend(newkey);
        args.extend(extra);
        openssl(dir, &args);
    }

    const P256: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

    /// Every certificate and key the file tests use, made once per run.
    fn fixtures() -> &'static Path {
        static DIR: OnceLock<PathBuf> = OnceLock::new();
        DIR.get_or_init(|| {
            let tmp = std::env::temp_dir();
            // Runs that were stopped leave their directories; an hour-old one is no one's.
            for old in std::fs::read_dir(&tmp).unwrap().flatten() {
                let stale = old.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|e| e.as_secs() > 3600));
                if old.file_name().to_string_lossy().starts_with("drift-certs-test-") && stale {
                    let _ = std::fs::remove_dir_all(old.path());
                }
            }
            let dir = tmp.join(format!("drift-certs-test-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            let d = dir.as_path();
            let san = ["-addext", "subjectAltName=DNS:p256.test,DNS:*.p256.test,IP:192.0.2.1"];
            self_signed(d, "p256", P256, &[&["-days", "30", "-set_serial", "0x1234abcd"], &san[..]].concat());
            openssl(d, &["ec", "-in", "p256.key", "-out", "p256-sec1.key"]);
            // SEC1 straight from ecparam, and its PKCS#8 form; no SAN, so the CN names it.
            openssl(d, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ecp.key"]);
            openssl(d, &["req", "-x509", "-key", "ecp.key", "-out", "ecp.pem", "-subj", "/CN=only-cn.test", "-days", "30"]);
            openssl(d, &["pkcs8", "-topk8", "-nocrypt", "-in", "ecp.key", "-out", "ecp-pk8.key"]);
            let p384 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1"];
            // 100 years: past 2049, so notAfter is a GeneralizedTime.
            self_signed(d, "p384", &p384, &["-days", "36500", "-set_serial", "0x8000000001"]);
            self_signed(d, "ed25519", &["-newkey", "ed25519"], &["-days", "30"]);
            self_signed(d, "ed448", &["-newkey", "ed448"], &["-days", "30"]);
            self_signed(d, "rsa", &["-newkey", "rsa:2048"], &["-days", "30"]);
            openssl(d, &["rsa", "-in", "rsa.key", "-traditional", "-out", "rsa-pkcs1.key"]);
            self_signed(d, "p521", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp521r1"], &["-days", "30"]);
            // A CA and a leaf it signed, good for 5 days.
            self_signed(d, "ca", P256, &["-days", "30"]);
            let leaf = ["req", "-new", "-nodes", "-subj", "/CN=leaf.test", "-keyout", "leaf.key", "-out", "leaf.csr"];
            openssl(d, &[&leaf[..], P256].concat());
            std::fs::write(dir.join("san.cnf"), "subjectAltName=DNS:leaf.test,DNS:www.leaf.test\n").unwrap();
            openssl(d, &["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "7", "-days", "5", "-extfile", "san.cnf", "-out", "leaf.pem"]);
            let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
            std::fs::write(dir.join("chain.pem"), read("leaf.pem") + &read("ca.pem")).unwrap();
            std::fs::write(dir.join("reversed.pem"), read("ca.pem") + &read("leaf.pem")).unwrap();
            std::fs::write(dir.join("both.pem"), read("p256.key") + &read("p256.pem")).unwrap();
            std::fs::write(dir.join("two-keys.key"), read("p256.key") + &read("ecp.key")).unwrap();
            std::fs::write(dir.join("text.txt"), "not a certificate\n").unwrap();
            std::fs::write(dir.join("bad-base64.pem"), "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n").unwrap();
            std::fs::write(dir.join("no-end.pem"), read("p256.pem").replace("-----END CERTIFICATE-----", "")).unwrap();
            std::fs::write(dir.join("huge.pem"), vec![b'a'; MAX_FILE + 1]).unwrap();
            std::fs::write(dir.join("exactly-max.pem"), read("p256.pem") + &"\n".repeat(MAX_FILE - read("p256.pem").len())).unwrap();
            std::fs::create_dir(dir.join("a-dir")).unwrap();
            dir
        })
    }

    fn path(name: &str) -> Vec<u8> {
        fixtures().join(name).into_os_string().into_encoded_bytes()
    }

    fn load(cert: &str, key: &str) -> Result<Loaded, (Problem, String)> {
        let (c, k) = (path(cert), path(key));
        load_pair(&c, &k, TEST_KEYS, now()).map_err(|e| (e.problem, line(|l| describe(&e, l))))
    }

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    fn line(f: impl FnOnce(&mut Line<'_>)) -> String {
        let mut b = [0u8; 8192];
        let mut l = Line::new(&mut b);
        f(&mut l);
        String::from_utf8(l.as_bytes().to_vec()).unwrap()
    }

    fn names(l: &Loaded) -> Vec<&str> {
        l.names.iter().map(|n| std::str::from_utf8(n).unwrap()).collect()
    }

    /// What openssl says the certificate's notAfter is, in seconds.
    fn openssl_not_after(pem: &str) -> u64 {
        let end = openssl_out(fixtures(), &["x509", "-in", pem, "-noout", "-enddate"]);
        // notAfter=Jan  5 02:40:00 2027 GMT: asctime once a weekday is added.
        let asctime = format!("Sun {}", end.strip_prefix("notAfter=").unwrap().strip_suffix(" GMT").unwrap());
        date::parse_imf(asctime.as_bytes()).unwrap()
    }

    fn openssl_serial(pem: &str) -> String {
        openssl_out(fixtures(), &["x509", "-in", pem, "-noout", "-serial"]).strip_prefix("serial=").unwrap().to_string()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02X}")).collect()
    }

    #[test]
    fn loads_each_supported_kind() {
        // (cert, key, names, chain length)
        let rows: &[(&str, &str, &[&str], usize)] = &[
            ("p256.pem", "p256.key", &["p256.test", "*.p256.test"], 1),
            ("p256.pem", "p256-sec1.key", &["p256.test", "*.p256.test"], 1),
            ("ecp.pem", "ecp.key", &["only-cn.test"], 1),
            ("ecp.pem", "ecp-pk8.key", &["only-cn.test"], 1),
            ("p384.pem", "p384.key", &["cn.test"], 1),
            ("ed25519.pem", "ed25519.key", &["cn.test"], 1),
            ("chain.pem", "leaf.key", &["leaf.test", "www.leaf.test"], 2),
            ("both.pem", "both.pem", &["p256.test", "*.p256.test"], 1),
            ("exactly-max.pem", "p256.key", &["p256.test", "*.p256.test"], 1),
        ];
        for &(cert, key, want, chain) in rows {
            let l = load(cert, key).unwrap_or_else(|e| panic!("{cert} {key}: {e:?}"));
            assert_eq!(names(&l), want, "{cert}");
            assert_eq!(l.key.cert.len(), chain, "{cert}");
            let pem = if cert == "chain.pem" { "leaf.pem" } else { cert };
            assert_eq!(l.not_after, openssl_not_after(pem), "{cert}");
            assert_eq!(hex(&l.serial), openssl_serial(pem), "{cert}");
        }
    }

    #[test]
    fn serials_and_dates() {
        let l = load("p256.pem", "p256.key").unwrap();
        assert_eq!(l.serial, [0x12, 0x34, 0xab, 0xcd]);
        assert_eq!(l.expiry, Expiry::Valid);
        let l = load("p384.pem", "p384.key").unwrap();
        assert_eq!(l.serial, [0x80, 0, 0, 0, 1]); // DER's sign byte dropped
        assert!(l.not_after > 4_102_444_800, "a GeneralizedTime after 2100");
        let l = load("chain.pem", "leaf.key").unwrap();
        assert_eq!(l.serial, [7]);
        // 5 days from the second openssl signed it: 4 days and some, or 5 if within that second.
        assert!(matches!(l.expiry, Expiry::Soon { days: 4 | 5 }), "{:?}", l.expiry);
    }

    #[test]
    fn refuses_with_one_line() {
        let p = |n: &str| fixtures().join(n).display().to_string();
        let make = "make an ECDSA key: openssl ecparam -name prime256v1 -genkey -noout -out key.pem";
        let rows: &[(&str, &str, Problem, String)] = &[
            ("missing.pem", "p256.key", Problem::Unreadable(Which::Cert, Errno::ENOENT), format!("--tls-cert {}: No such file or directory (ENOENT)", p("missing.pem"))),
            ("p256.pem", "missing.key", Problem::Unreadable(Which::Key, Errno::ENOENT), format!("--tls-key {}: No such file or directory (ENOENT)", p("missing.key"))),
            ("a-dir", "p256.key", Problem::Unreadable(Which::Cert, Errno::EISDIR), format!("--tls-cert {}: Is a directory (EISDIR)", p("a-dir"))),
            ("text.txt", "p256.key", Problem::NoCertificate, format!("--tls-cert {}: no CERTIFICATE block in the file", p("text.txt"))),
            ("p256.key", "p256.key", Problem::NoCertificate, format!("--tls-cert {}: no CERTIFICATE block in the file", p("p256.key"))),
            ("huge.pem", "p256.key", Problem::TooLarge(Which::Cert), format!("--tls-cert {}: larger than 1 MiB; not a PEM file", p("huge.pem"))),
            ("bad-base64.pem", "p256.key", Problem::BadPem(Which::Cert), format!("--tls-cert {}: not valid PEM (a BEGIN line without its END, or bad base64)", p("bad-base64.pem"))),
            ("no-end.pem", "p256.key", Problem::BadPem(Which::Cert), format!("--tls-cert {}: not valid PEM (a BEGIN line without its END, or bad base64)", p("no-end.pem"))),
            ("p256.pem", "p256.pem", Problem::NoKey, format!("--tls-key {}: no private key in the file", p("p256.pem"))),
            ("p256.pem", "text.txt", Problem::NoKey, format!("--tls-key {}: no private key in the file", p("text.txt"))),
            ("p256.pem", "huge.pem", Problem::TooLarge(Which::Key), format!("--tls-key {}: larger than 1 MiB; not a PEM file", p("huge.pem"))),
            ("p256.pem", "two-keys.key", Problem::ManyKeys, format!("--tls-key {}: more than one private key in the file", p("two-keys.key"))),
            ("rsa.pem", "rsa.key", Problem::Unsupported(KeyKind::Rsa), format!("--tls-key {}: RSA keys are not supported; {make}", p("rsa.key"))),
            ("rsa.pem", "rsa-pkcs1.key", Problem::Unsupported(KeyKind::Rsa), format!("--tls-key {}: RSA keys are not supported; {make}", p("rsa-pkcs1.key"))),
            ("p521.pem", "p521.key", Problem::Unsupported(KeyKind::P521), format!("--tls-key {}: P-521 keys are not supported; {make}", p("p521.key"))),
            ("ed448.pem", "ed448.key", Problem::Unsupported(KeyKind::Ed448), format!("--tls-key {}: Ed448 keys are not supported; {make}", p("ed448.key"))),
            ("p256.pem", "ecp.key", Problem::KeyMismatch, format!("--tls-key {}: the key does not match the certificate in {}", p("ecp.key"), p("p256.pem"))),
            ("p256.pem", "p384.key", Problem::KeyMismatch, format!("--tls-key {}: the key does not match the certificate in {}", p("p384.key"), p("p256.pem"))),
            ("reversed.pem", "leaf.key", Problem::KeyMismatch, format!("--tls-key {}: the key does not match the certificate in {}", p("leaf.key"), p("reversed.pem"))),
        ];
        for (cert, key, problem, text) in rows {
            let got = load(cert, key).map(|l| l.names).unwrap_err();
            assert_eq!(got, (*problem, text.clone()), "{cert} {key}");
        }
    }

    #[test]
    fn odd_files_and_paths() {
        let (c, k) = (path("p256.pem"), path("p256.key"));
        let e = load_pair(&c, &k, &NoKeys, 0).unwrap_err();
        assert_eq!(e.problem, Problem::KeyRefused);
        assert_eq!(line(|l| describe(&e, l)), format!("--tls-key {}: the key could not be loaded", String::from_utf8_lossy(&k)));
        let long = vec![b'a'; 5000];
        let e = load_pair(&long, &k, TEST_KEYS, 0).unwrap_err();
        assert_eq!(e.problem, Problem::Unreadable(Which::Cert, Errno::ENAMETOOLONG));
        assert!(line(|l| describe(&e, l)).ends_with("aaa: File name too long (ENAMETOOLONG)"));
        // Files fstat cannot size: an endless one stops at the cap, an empty one is empty.
        let e = load_pair(b"/dev/zero", &k, TEST_KEYS, 0).unwrap_err();
        assert_eq!(e.problem, Problem::TooLarge(Which::Cert));
        let e = load_pair(b"/dev/null", &k, TEST_KEYS, 0).unwrap_err();
        assert_eq!(e.problem, Problem::NoCertificate);
    }

    #[test]
    fn describes_every_problem() {
        let rows: &[(Problem, &str)] = &[
            (Problem::Unreadable(Which::Key, Errno::EACCES), "--tls-key k.pem: Permission denied (EACCES)"),
            (Problem::Unreadable(Which::Cert, Errno::new(5)), "--tls-cert c.pem: errno 5"),
            (Problem::BadCertificate, "--tls-cert c.pem: the first CERTIFICATE block is not an X.509 certificate"),
            (Problem::BadKey, "--tls-key k.pem: the private key is not valid DER"),
            (Problem::Unsupported(KeyKind::Other), "--tls-key k.pem: this type of key is not supported; make an ECDSA key: openssl ecparam -name prime256v1 -genkey -noout -out key.pem"),
            (Problem::KeyUncheckable, "--tls-key k.pem: the key cannot be checked against the certificate in c.pem"),
        ];
        for &(problem, want) in rows {
            let e = LoadError { problem, cert_path: b"c.pem", key_path: b"k.pem" };
            assert_eq!(line(|l| describe(&e, l)), want);
        }
    }

    #[test]
    fn expiry_warnings() {
        let at = 1_796_860_800; // 2026-12-10T00:00:00Z
        let rows: &[(u64, Expiry, Option<&str>)] = &[
            (at - 30 * 86_400, Expiry::Valid, None),
            (at - 14 * 86_400, Expiry::Valid, None),
            (at - 14 * 86_400 + 1, Expiry::Soon { days: 13 }, Some("expires 2026-12-10 (in 13 days)")),
            (at - 4 * 86_400 - 100, Expiry::Soon { days: 4 }, Some("expires 2026-12-10 (in 4 days)")),
            (at - 86_400, Expiry::Soon { days: 1 }, Some("expires 2026-12-10 (in 1 day)")),
            (at - 5, Expiry::Soon { days: 0 }, Some("expires 2026-12-10 (in less than a day)")),
            (at, Expiry::Soon { days: 0 }, Some("expires 2026-12-10 (in less than a day)")),
            (at + 1, Expiry::Expired, Some("expired 2026-12-10")),
            (at + 40 * 86_400, Expiry::Expired, Some("expired 2026-12-10")),
        ];
        let mut l = load("p256.pem", "p256.key").unwrap();
        l.not_after = at;
        for &(now, want, text) in rows {
            l.expiry = expiry(at, now);
            assert_eq!(l.expiry, want, "{now}");
            let mut wrote = false;
            let got = line(|out| wrote = describe_expiry(b"cert.pem", &l, out));
            assert_eq!(wrote, text.is_some());
            assert_eq!(got, text.map_or(String::new(), |t| format!("warning: --tls-cert cert.pem {t}")));
        }
        // Loading with a clock past notAfter says so.
        let (c, k) = (path("p256.pem"), path("p256.key"));
        let later = load_pair(&c, &k, TEST_KEYS, openssl_not_after("p256.pem") + 1).unwrap();
        assert_eq!(later.expiry, Expiry::Expired);
    }

    #[test]
    fn cert_times() {
        let rows: &[(u8, &str, Option<u64>)] = &[
            (UTC_TIME, "700101000000Z", Some(0)),
            (UTC_TIME, "261210000000Z", Some(1_796_860_800)),
            (UTC_TIME, "491231235959Z", Some(2_524_607_999)), // 49 is 2049
            (UTC_TIME, "380119031408Z", Some(2_147_483_648)),
            (GENERALIZED_TIME, "20261210000000Z", Some(1_796_860_800)),
            (GENERALIZED_TIME, "20240229120000Z", Some(1_709_208_000)),
            (GENERALIZED_TIME, "99991231235959Z", Some(253_402_300_799)),
            (UTC_TIME, "500101000000Z", None), // 1950: before what date.rs counts
            (UTC_TIME, "690101000000Z", None),
            (UTC_TIME, "260230000000Z", None), // 30 February
            (GENERALIZED_TIME, "21000229000000Z", None),
            (UTC_TIME, "261310000000Z", None), // month 13
            (UTC_TIME, "260010000000Z", None), // month 0
            (UTC_TIME, "261200000000Z", None), // day 0
            (UTC_TIME, "261210240000Z", None),
            (UTC_TIME, "261210006000Z", None),
            (UTC_TIME, "261210000060Z", None),
            (UTC_TIME, "2612100000Z", None), // no seconds
            (UTC_TIME, "261210000000", None), // no Z
            (UTC_TIME, "261210000000+0100", None),
            (UTC_TIME, "26121000000Z0", None),
            (UTC_TIME, "2612 0000000Z", None),
            (UTC_TIME, "+61210000000Z", None),
            (UTC_TIME, "", None),
            (GENERALIZED_TIME, "20261210000000.5Z", None),
            (GENERALIZED_TIME, "2026121000000Z", None),
            (GENERALIZED_TIME, "261210000000Z", None),
            (UTC_TIME, "20261210000000Z", None),
            (OCTET_STRING, "261210000000Z", None),
        ];
        for &(tag, text, want) in rows {
            assert_eq!(parse_time(tag, text.as_bytes()), want, "{text:?}");
        }
    }

    #[test]
    fn key_kinds() {
        let rows: &[(&str, Option<KeyKind>)] = &[
            ("p256.key", Some(KeyKind::P256)),
            ("p384.key", Some(KeyKind::P384)),
            ("p521.key", Some(KeyKind::P521)),
            ("ed25519.key", Some(KeyKind::Ed25519)),
            ("ed448.key", Some(KeyKind::Ed448)),
            ("rsa.key", Some(KeyKind::Rsa)),
            ("ecp-pk8.key", Some(KeyKind::P256)),
        ];
        for &(file, want) in rows {
            let text = std::fs::read(fixtures().join(file)).unwrap();
            let der = rustls::pki_types::PrivatePkcs8KeyDer::from_pem_slice(&text).unwrap();
            assert_eq!(pkcs8_kind(der.secret_pkcs8_der()), want, "{file}");
        }
        for (file, want) in [("ecp.key", KeyKind::P256), ("p256-sec1.key", KeyKind::P256)] {
            let text = std::fs::read(fixtures().join(file)).unwrap();
            let der = rustls::pki_types::PrivateSec1KeyDer::from_pem_slice(&text).unwrap();
            assert_eq!(sec1_kind(der.secret_sec1_der()), Some(want), "{file}");
        }
        // SEC1 without its curve: the secret's length tells.
        let bare = |n: u8| [&[0x30, n + 5, 0x02, 0x01, 0x01, 0x04, n][..], &vec![1; usize::from(n)]].concat();
        assert_eq!(sec1_kind(&bare(32)), Some(KeyKind::P256));
        assert_eq!(sec1_kind(&bare(48)), Some(KeyKind::P384));
        assert_eq!(sec1_kind(&bare(66)), Some(KeyKind::P521));
        assert_eq!(sec1_kind(&bare(20)), Some(KeyKind::Other));
        let rejects: &[&[u8]] = &[&[], &[0x30, 0x00], &[0x30, 0x03, 0x02, 0x01, 0x00], &[0x04, 0x00], &[0x30, 0x05, 0x02, 0x01, 0x00, 0x30, 0x00]];
        for r in rejects {
            assert_eq!((pkcs8_kind(r), sec1_kind(r)), (None, None), "{r:02x?}");
        }
        // SEC1 version 2 is not SEC1.
        let mut v2 = bare(32);
        v2[4] = 2;
        assert_eq!(sec1_kind(&v2), None);
    }

    #[test]
    fn leaf_rejects_truncation() {
        let text = std::fs::read(fixtures().join("p256.pem")).unwrap();
        let der = CertificateDer::from_pem_slice(&text).unwrap();
        let leaf = parse_leaf(der.as_ref()).unwrap();
        assert_eq!(leaf.cn, Some(&b"cn.test"[..]));
        assert_eq!(leaf.dns_names().collect::<Vec<_>>(), [&b"p256.test"[..], b"*.p256.test"]);
        for n in 0..der.as_ref().len() {
            assert_eq!(parse_leaf(&der.as_ref()[..n]), None, "{n}");
        }
        // The same bytes under a wrong outer tag.
        let mut bad = der.as_ref().to_vec();
        bad[0] = 0x31;
        assert_eq!(parse_leaf(&bad), None);
    }

    /// A pair whose certificate is the single byte `id`, named `names`.
    fn site(id: u8, names: &[&str]) -> Loaded {
        let spki = rustls::sign::public_key_to_spki(&alg_id::ED25519, [id]);
        let key = Arc::new(PublicOnly { spki, alg: SignatureAlgorithm::ED25519 });
        Loaded {
            key: Arc::new(CertifiedKey::new(vec![CertificateDer::from(vec![id])], key)),
            names: names.iter().map(|n| n.as_bytes().to_vec()).collect(),
            not_after: 0,
            serial: vec![id],
            expiry: Expiry::Valid,
        }
    }

    #[test]
    fn sni_picks() {
        let mut r = SniResolver::new(site(b'A', &["a.test"]));
        r.add(site(b'B', &["www.example.com"]));
        r.add(site(b'C', &["*.example.com", "c.test"]));
        r.add(site(b'D', &["*.d.test"]));
        r.add(site(b'E', &["x.d.test"]));
        let rows: &[(Option<&str>, u8)] = &[
            (Some("a.test"), b'A'),
            (Some("www.example.com"), b'B'),
            (Some("WWW.Example.COM"), b'B'),       // any case
            (Some("www.example.com."), b'B'),      // a trailing dot
            (Some("api.example.com"), b'C'),       // wildcard, one label
            (Some("API.EXAMPLE.com"), b'C'),
            (Some("c.test"), b'C'),
            (Some("a.b.example.com"), b'A'),       // not two labels
            (Some("example.com"), b'A'),           // not zero labels
            (Some(".example.com"), b'A'),
            (Some("x.d.test"), b'E'),              // exact beats an earlier wildcard
            (Some("y.d.test"), b'D'),
            (Some("unknown.test"), b'A'),
            (Some(""), b'A'),
            (None, b'A'),                          // no SNI: the first pair
        ];
        for &(sni, want) in rows {
            let got = r.pick(sni).cert[0].as_ref()[0];
            assert_eq!(got as char, want as char, "{sni:?}");
        }
        assert_eq!(format!("{r:?}"), "SniResolver { sites: 5 }");
    }

    #[test]
    fn wildcards() {
        let rows: &[(&str, &str, bool)] = &[
            ("*.example.com", "a.example.com", true),
            ("*.example.com", "A.EXAMPLE.COM", true),
            ("*.example.com", "a.b.example.com", false),
            ("*.example.com", "example.com", false),
            ("*.example.com", ".example.com", false),
            ("*.example.com", "aexample.com", false),
            ("*example.com", "aexample.com", false), // the wildcard must be a whole label
            ("*", "a", false),
            ("a.example.com", "a.example.com", false), // exact names are not wildcards
        ];
        for &(name, host, want) in rows {
            assert_eq!(wildcard_match(name.as_bytes(), host.as_bytes()), want, "{name} {host}");
        }
    }

    #[test]
    fn resolver_fits_rustls() {
        fn resolver<T: ResolvesServerCert + Send + Sync + core::fmt::Debug + 'static>() {}
        resolver::<SniResolver>();
        let _: Arc<dyn ResolvesServerCert> = Arc::new(SniResolver::new(site(1, &[])));
    }
}
