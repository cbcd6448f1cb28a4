//! The rustls `CryptoProvider` driftd runs on: RustCrypto's AEADs, hashes,
//! curves and signatures, with every random byte from getrandom(2). It owns
//! which suites, groups and key types we offer; it must never fall back to
//! anything that needs libc or std (ring, aws-lc-rs, getrandom 0.2).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;
use core::time::Duration;

use aes_gcm::aead::array::Array;
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{AeadCore, AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::Mac;
use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv, KeyBlockShape, MessageDecrypter,
    MessageEncrypter, NONCE_LEN, Nonce, OutboundOpaqueMessage, OutboundPlainMessage,
    PrefixedPayload, Tls12AeadAlgorithm, Tls13AeadAlgorithm, UnsupportedOperationError,
    make_tls12_aad, make_tls13_aad,
};
use rustls::crypto::tls12::PrfUsingHmac;
use rustls::crypto::tls13::HkdfUsingHmac;
use rustls::crypto::{
    ActiveKeyExchange, CipherSuiteCommon, CryptoProvider, GetRandomFailed, KeyExchangeAlgorithm,
    KeyProvider, SecureRandom, SharedSecret, SupportedKxGroup, WebPkiSupportedAlgorithms, hash,
    hmac as rhmac,
};
use rustls::ffdhe_groups::FfdheGroup;
use rustls::pki_types::{
    AlgorithmIdentifier, InvalidSignature, PrivateKeyDer, SignatureVerificationAlgorithm,
    SubjectPublicKeyInfoDer, UnixTime, alg_id,
};
use rustls::sign::{Signer, SigningKey, public_key_to_spki};
use rustls::time_provider::TimeProvider;
use rustls::version::{TLS12, TLS13};
use rustls::{
    CipherSuite, ClientConfig, ConfigBuilder, ConnectionTrafficSecrets, ContentType, Error,
    NamedGroup, ProtocolVersion, ServerConfig, SignatureAlgorithm, SignatureScheme,
    SupportedCipherSuite, Tls12CipherSuite, Tls13CipherSuite, WantsVerifier,
};
use sha2::{Digest, Sha256, Sha384};

use crate::der::{
    self, EcPrivateKey, OID_EC_PUBLIC_KEY, OID_ED25519, OID_P256, OID_P384, OID_RSA, OID_RSA_PSS,
    PrivateKeyInfo,
};
use crate::sys;
use drift_crypto_cold::P384;

/// Our provider: the suites, groups and algorithms below, nothing else.
pub fn provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: ALL_CIPHER_SUITES.to_vec(),
        kx_groups: ALL_KX_GROUPS.to_vec(),
        signature_verification_algorithms: SUPPORTED_SIG_ALGS,
        secure_random: &Getrandom,
        key_provider: &Keys,
    }
}

/// What a server that asks for no client certificate verifies: nothing.
/// Leaving the verifiers out of the server's provider keeps their code
/// (and the point decompression only they use) out of a server binary.
const NO_VERIFICATION: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms { all: &[], mapping: &[] };

/// The provider for servers: the same suites, groups and keys, no verifiers.
pub fn server_provider() -> CryptoProvider {
    CryptoProvider { signature_verification_algorithms: NO_VERIFICATION, ..provider() }
}

/// A server config builder over our server provider and clock, TLS 1.3
/// and 1.2, still wanting its client-auth choice (driftd asks for none).
pub fn server_config_builder() -> ConfigBuilder<ServerConfig, WantsVerifier> {
    ServerConfig::builder_with_details(Arc::new(server_provider()), Arc::new(Clock))
        .with_protocol_versions(&[&TLS13, &TLS12])
        .expect("our provider offers suites and groups for both versions")
}

/// A client config builder over our provider and clock (for the ACME client).
pub fn client_config_builder() -> ConfigBuilder<ClientConfig, WantsVerifier> {
    ClientConfig::builder_with_details(Arc::new(provider()), Arc::new(Clock))
        .with_protocol_versions(&[&TLS13, &TLS12])
        .expect("our provider offers suites and groups for both versions")
}

/// Wall-clock time for certificate validity and ticket ages.
#[derive(Debug)]
pub struct Clock;

impl TimeProvider for Clock {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(Duration::from_secs(
            sys::unix_secs(),
        )))
    }
}

// ---------------------------------------------------------------------------
// Randomness

/// getrandom(2) as both rustls's `SecureRandom` and rand_core's RNG (what
/// the curve crates take for ephemeral secrets).
#[derive(Debug, Clone, Copy, Default)]
pub struct Getrandom;

impl SecureRandom for Getrandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        sys::fill(buf).map_err(|_| GetRandomFailed)
    }
}

impl rand_core::RngCore for Getrandom {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // getrandom(2) fails only without the syscall (Linux < 3.17), and
        // the server draws its ticket secret before serving, so that is
        // caught at start; a panic here would need a kernel change mid-run.
        if sys::fill(dest).is_err() {
            panic!("getrandom failed");
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        sys::fill(dest).map_err(|e| {
            let code = core::num::NonZeroU32::new(e.into_raw() as u32)
                .unwrap_or(core::num::NonZeroU32::MIN);
            rand_core::Error::from(code)
        })
    }
}

impl rand_core::CryptoRng for Getrandom {}

// ---------------------------------------------------------------------------
// Cipher suites

/// Preference order: TLS 1.3 first, AES-GCM before ChaCha (both arches have
/// AES instructions), and for TLS 1.2 only ECDHE with ECDSA/Ed25519
/// certificates: we never hold an RSA key, and CBC and static RSA are gone.
pub static ALL_CIPHER_SUITES: &[SupportedCipherSuite] = &[
    TLS13_AES_128_GCM_SHA256,
    TLS13_AES_256_GCM_SHA384,
    TLS13_CHACHA20_POLY1305_SHA256,
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
];

// RFC 9147 / the AEAD limits draft: about 2^24.5 full records per AES-GCM
// key; rustls then updates keys (1.3) or closes (1.2) in time.
const GCM_LIMIT: u64 = 1 << 24;

pub static TLS13_AES_128_GCM_SHA256: SupportedCipherSuite =
    SupportedCipherSuite::Tls13(&Tls13CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS13_AES_128_GCM_SHA256,
            hash_provider: &SHA256,
            confidentiality_limit: GCM_LIMIT,
        },
        hkdf_provider: &HkdfUsingHmac(&HMAC_SHA256),
        aead_alg: &Aead13(Aead::Aes128Gcm),
        quic: None,
    });

pub static TLS13_AES_256_GCM_SHA384: SupportedCipherSuite =
    SupportedCipherSuite::Tls13(&Tls13CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS13_AES_256_GCM_SHA384,
            hash_provider: &SHA384,
            confidentiality_limit: GCM_LIMIT,
        },
        hkdf_provider: &HkdfUsingHmac(&HMAC_SHA384),
        aead_alg: &Aead13(Aead::Aes256Gcm),
        quic: None,
    });

pub static TLS13_CHACHA20_POLY1305_SHA256: SupportedCipherSuite =
    SupportedCipherSuite::Tls13(&Tls13CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
            hash_provider: &SHA256,
            confidentiality_limit: u64::MAX,
        },
        hkdf_provider: &HkdfUsingHmac(&HMAC_SHA256),
        aead_alg: &Aead13(Aead::ChaCha20Poly1305),
        quic: None,
    });

pub static TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: SupportedCipherSuite =
    SupportedCipherSuite::Tls12(&Tls12CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            hash_provider: &SHA256,
            confidentiality_limit: GCM_LIMIT,
        },
        prf_provider: &PrfUsingHmac(&HMAC_SHA256),
        kx: KeyExchangeAlgorithm::ECDHE,
        sign: TLS12_ECDSA_SCHEMES,
        aead_alg: &Aead12(Aead::Aes128Gcm),
    });

pub static TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: SupportedCipherSuite =
    SupportedCipherSuite::Tls12(&Tls12CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            hash_provider: &SHA384,
            confidentiality_limit: GCM_LIMIT,
        },
        prf_provider: &PrfUsingHmac(&HMAC_SHA384),
        kx: KeyExchangeAlgorithm::ECDHE,
        sign: TLS12_ECDSA_SCHEMES,
        aead_alg: &Aead12(Aead::Aes256Gcm),
    });

pub static TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: SupportedCipherSuite =
    SupportedCipherSuite::Tls12(&Tls12CipherSuite {
        common: CipherSuiteCommon {
            suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            hash_provider: &SHA256,
            confidentiality_limit: u64::MAX,
        },
        prf_provider: &PrfUsingHmac(&HMAC_SHA256),
        kx: KeyExchangeAlgorithm::ECDHE,
        sign: TLS12_ECDSA_SCHEMES,
        aead_alg: &Aead12(Aead::ChaCha20Poly1305),
    });

// The schemes a TLS 1.2 "ECDSA" suite may be signed with (RFC 8422 lets
// Ed25519 certificates use the ECDSA suites).
static TLS12_ECDSA_SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::ED25519,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ECDSA_NISTP256_SHA256,
];

// ---------------------------------------------------------------------------
// Hashes and HMAC

static SHA256: Sha<Sha256> = Sha(hash::HashAlgorithm::SHA256, PhantomData);
static SHA384: Sha<Sha384> = Sha(hash::HashAlgorithm::SHA384, PhantomData);

// `fn() -> D` keeps the marker Send + Sync whatever D is.
struct Sha<D>(hash::HashAlgorithm, PhantomData<fn() -> D>);

impl<D> hash::Hash for Sha<D>
where
    D: Digest + Clone + Send + Sync + 'static,
{
    fn start(&self) -> Box<dyn hash::Context> {
        Box::new(ShaContext(D::new()))
    }

    fn hash(&self, data: &[u8]) -> hash::Output {
        hash::Output::new(&D::digest(data))
    }

    fn output_len(&self) -> usize {
        <D as Digest>::output_size()
    }

    fn algorithm(&self) -> hash::HashAlgorithm {
        self.0
    }
}

struct ShaContext<D>(D);

impl<D> hash::Context for ShaContext<D>
where
    D: Digest + Clone + Send + Sync + 'static,
{
    fn fork_finish(&self) -> hash::Output {
        hash::Output::new(&self.0.clone().finalize())
    }

    fn fork(&self) -> Box<dyn hash::Context> {
        Box::new(ShaContext(self.0.clone()))
    }

    fn finish(self: Box<Self>) -> hash::Output {
        hash::Output::new(&self.0.finalize())
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
}

static HMAC_SHA256: HmacSha = HmacSha::Sha256;
static HMAC_SHA384: HmacSha = HmacSha::Sha384;

enum HmacSha {
    Sha256,
    Sha384,
}

// A keyed HMAC keeps the hashed inner and outer pads, so each tag clones
// that state instead of hashing the key again.
enum HmacKey {
    Sha256(hmac::Hmac<Sha256>),
    Sha384(hmac::Hmac<Sha384>),
}

impl rhmac::Hmac for HmacSha {
    fn with_key(&self, key: &[u8]) -> Box<dyn rhmac::Key> {
        // HMAC takes keys of any length, so these cannot fail.
        Box::new(match self {
            Self::Sha256 => HmacKey::Sha256(
                <hmac::Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length"),
            ),
            Self::Sha384 => HmacKey::Sha384(
                <hmac::Hmac<Sha384> as Mac>::new_from_slice(key).expect("any key length"),
            ),
        })
    }

    fn hash_output_len(&self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
        }
    }
}

fn hmac_tag<M: Mac + Clone>(mac: &M, first: &[u8], middle: &[&[u8]], last: &[u8]) -> rhmac::Tag {
    let mut mac = mac.clone();
    mac.update(first);
    for part in middle {
        mac.update(part);
    }
    mac.update(last);
    rhmac::Tag::new(&mac.finalize().into_bytes())
}

impl rhmac::Key for HmacKey {
    fn sign_concat(&self, first: &[u8], middle: &[&[u8]], last: &[u8]) -> rhmac::Tag {
        match self {
            Self::Sha256(m) => hmac_tag(m, first, middle, last),
            Self::Sha384(m) => hmac_tag(m, first, middle, last),
        }
    }

    fn tag_len(&self) -> usize {
        match self {
            Self::Sha256(_) => 32,
            Self::Sha384(_) => 48,
        }
    }
}

// ---------------------------------------------------------------------------
// Record protection

const TAG_LEN: usize = 16;
// TLS 1.2 GCM: 4 bytes of the nonce come from the key block, 8 travel in
// each record (RFC 5288).
const GCM_SALT_LEN: usize = 4;
const GCM_EXPLICIT_LEN: usize = 8;
// The largest plaintext a record may carry (RFC 8446 5.1, RFC 5246 6.2.1).
const MAX_FRAGMENT_LEN: usize = 16384;

#[derive(Clone, Copy)]
enum Aead {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

impl Aead {
    fn key_len(self) -> usize {
        match self {
            Self::Aes128Gcm => 16,
            Self::Aes256Gcm | Self::ChaCha20Poly1305 => 32,
        }
    }

    fn secrets(self, key: AeadKey, iv: Iv) -> ConnectionTrafficSecrets {
        match self {
            Self::Aes128Gcm => ConnectionTrafficSecrets::Aes128Gcm { key, iv },
            Self::Aes256Gcm => ConnectionTrafficSecrets::Aes256Gcm { key, iv },
            Self::ChaCha20Poly1305 => ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv },
        }
    }

    /// The record protector `R` around the keyed cipher, with `nonce`
    /// telling how a record's nonce is made. Each is boxed at its own
    /// cipher's size: an AES-256 key schedule is several times a ChaCha20
    /// key, and an idle connection keeps two of them.
    fn keyed<R: Records>(self, key: &[u8], nonce: NonceRule) -> Box<R::Dyn> {
        // rustls trims keys to key_len(); an `AeadKey` made through its one
        // public constructor is 32 bytes, so trim here too.
        let key = &key[..self.key_len().min(key.len())];
        match self {
            Self::Aes128Gcm => R::boxed(keyed::<Aes128Gcm>(key, nonce)),
            Self::Aes256Gcm => R::boxed(keyed::<Aes256Gcm>(key, nonce)),
            Self::ChaCha20Poly1305 => R::boxed(keyed::<ChaCha20Poly1305>(key, nonce)),
        }
    }
}

/// An AEAD as the record protectors use it.
trait Cipher: AeadInOut + AeadCore<NonceSize = U12, TagSize = U16> + KeyInit + Send + Sync + 'static {}
impl<A: AeadInOut + AeadCore<NonceSize = U12, TagSize = U16> + KeyInit + Send + Sync + 'static> Cipher for A {}

/// A kind of record protector (TLS 1.3 or 1.2, sealing or opening), boxed
/// as the trait object rustls takes.
trait Records {
    type Dyn: ?Sized;
    fn boxed<A: Cipher>(k: Keyed<A>) -> Box<Self::Dyn>;
}

struct Seal13;
struct Open13;
struct Seal12;
struct Open12;

impl Records for Seal13 {
    type Dyn = dyn MessageEncrypter;
    fn boxed<A: Cipher>(k: Keyed<A>) -> Box<dyn MessageEncrypter> {
        Box::new(Tls13Records(k))
    }
}
impl Records for Open13 {
    type Dyn = dyn MessageDecrypter;
    fn boxed<A: Cipher>(k: Keyed<A>) -> Box<dyn MessageDecrypter> {
        Box::new(Tls13Records(k))
    }
}
impl Records for Seal12 {
    type Dyn = dyn MessageEncrypter;
    fn boxed<A: Cipher>(k: Keyed<A>) -> Box<dyn MessageEncrypter> {
        Box::new(Tls12Records(k))
    }
}
impl Records for Open12 {
    type Dyn = dyn MessageDecrypter;
    fn boxed<A: Cipher>(k: Keyed<A>) -> Box<dyn MessageDecrypter> {
        Box::new(Tls12Records(k))
    }
}

fn keyed<A: Cipher>(key: &[u8], nonce: NonceRule) -> Keyed<A> {
    // rustls sizes the key from key_len()/key_block_shape(), so a wrong
    // length is a bug in this file, not bad input.
    let cipher = A::new_from_slice(key).expect("key length matches the suite");
    Keyed { cipher, nonce }
}

/// How a record's 12-byte nonce is formed.
enum NonceRule {
    /// TLS 1.3 and TLS 1.2 ChaCha (RFC 8446 5.3, RFC 7905): the IV XOR
    /// the sequence number; nothing is sent.
    XorSeq(Iv),
    /// TLS 1.2 GCM (RFC 5288): salt || explicit; the explicit part rides
    /// at the front of each record. Sending, it is the IV XOR the sequence
    /// number (unique without a counter of our own).
    Explicit(Iv),
    /// Receiving TLS 1.2 GCM: the salt; the rest comes from the record.
    ExplicitFromPeer([u8; GCM_SALT_LEN]),
}

struct Keyed<A> {
    cipher: A,
    nonce: NonceRule,
}

#[inline(never)]
fn seal<A>(
    a: &A,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], Error>
where
    A: AeadInOut + AeadCore<NonceSize = U12, TagSize = U16>,
{
    a.encrypt_inout_detached(<&Array<u8, U12>>::from(nonce), aad, buf.into())
        .map(Into::into)
        .map_err(|_| Error::EncryptError)
}

#[inline(never)]
fn open<A>(
    a: &A,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8],
) -> Result<(), Error>
where
    A: AeadInOut + AeadCore<NonceSize = U12, TagSize = U16>,
{
    let tag = <&Array<u8, U16>>::try_from(tag).map_err(|_| Error::DecryptError)?;
    a.decrypt_inout_detached(<&Array<u8, U12>>::from(nonce), aad, buf.into(), tag)
        .map_err(|_| Error::DecryptError)
}

impl<A: Cipher> Keyed<A> {
    fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<[u8; TAG_LEN], Error> {
        seal(&self.cipher, nonce, aad, buf)
    }

    fn open(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), Error> {
        open(&self.cipher, nonce, aad, buf, tag)
    }
}

fn xor_nonce(iv: &Iv, seq: u64) -> [u8; NONCE_LEN] {
    Nonce::new(iv, seq).0
}

struct Aead13(Aead);

impl Tls13AeadAlgorithm for Aead13 {
    fn encrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageEncrypter> {
        self.0.keyed::<Seal13>(key.as_ref(), NonceRule::XorSeq(iv))
    }

    fn decrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageDecrypter> {
        self.0.keyed::<Open13>(key.as_ref(), NonceRule::XorSeq(iv))
    }

    fn key_len(&self) -> usize {
        self.0.key_len()
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: Iv,
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        Ok(self.0.secrets(key, iv))
    }
}

struct Tls13Records<A>(Keyed<A>);

impl<A: Cipher> Tls13Records<A> {
    fn nonce(&self, seq: u64) -> [u8; NONCE_LEN] {
        match &self.0.nonce {
            NonceRule::XorSeq(iv) => xor_nonce(iv, seq),
            _ => unreachable!("TLS 1.3 records use XorSeq"),
        }
    }
}

impl<A: Cipher> MessageEncrypter for Tls13Records<A> {
    fn encrypt(
        &mut self,
        msg: OutboundPlainMessage<'_>,
        seq: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        // TLSInnerPlaintext: content || real type, then the tag (RFC 8446 5.2).
        let total = self.encrypted_payload_len(msg.payload.len());
        let mut payload = PrefixedPayload::with_capacity(total);
        payload.extend_from_chunks(&msg.payload);
        payload.extend_from_slice(&msg.typ.to_array());
        let tag = self
            .0
            .seal(&self.nonce(seq), &make_tls13_aad(total), payload.as_mut())?;
        payload.extend_from_slice(&tag);
        Ok(OutboundOpaqueMessage::new(
            ContentType::ApplicationData,
            // The legacy record version every TLS 1.3 record carries.
            ProtocolVersion::TLSv1_2,
            payload,
        ))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + 1 + TAG_LEN
    }
}

impl<A: Cipher> MessageDecrypter for Tls13Records<A> {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        let payload = &mut msg.payload;
        let Some(body_len) = payload.len().checked_sub(TAG_LEN) else {
            return Err(Error::DecryptError);
        };
        let aad = make_tls13_aad(payload.len());
        let (body, tag) = payload.split_at_mut(body_len);
        self.0.open(&self.nonce(seq), &aad, body, tag)?;
        payload.truncate(body_len);
        msg.into_tls13_unpadded_message()
    }
}

struct Aead12(Aead);

impl Tls12AeadAlgorithm for Aead12 {
    fn encrypter(&self, key: AeadKey, iv: &[u8], extra: &[u8]) -> Box<dyn MessageEncrypter> {
        let rule = match self.0 {
            Aead::ChaCha20Poly1305 => NonceRule::XorSeq(Iv::copy(iv)),
            _ => NonceRule::Explicit(gcm_iv(iv, extra)),
        };
        self.0.keyed::<Seal12>(key.as_ref(), rule)
    }

    fn decrypter(&self, key: AeadKey, iv: &[u8]) -> Box<dyn MessageDecrypter> {
        let rule = match self.0 {
            Aead::ChaCha20Poly1305 => NonceRule::XorSeq(Iv::copy(iv)),
            _ => {
                let mut salt = [0u8; GCM_SALT_LEN];
                salt.copy_from_slice(iv);
                NonceRule::ExplicitFromPeer(salt)
            }
        };
        self.0.keyed::<Open12>(key.as_ref(), rule)
    }

    fn key_block_shape(&self) -> KeyBlockShape {
        match self.0 {
            Aead::ChaCha20Poly1305 => KeyBlockShape {
                enc_key_len: 32,
                fixed_iv_len: NONCE_LEN,
                explicit_nonce_len: 0,
            },
            gcm => KeyBlockShape {
                enc_key_len: gcm.key_len(),
                fixed_iv_len: GCM_SALT_LEN,
                explicit_nonce_len: GCM_EXPLICIT_LEN,
            },
        }
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: &[u8],
        explicit: &[u8],
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        let iv = match self.0 {
            Aead::ChaCha20Poly1305 => Iv::copy(iv),
            _ => gcm_iv(iv, explicit),
        };
        Ok(self.0.secrets(key, iv))
    }
}

fn gcm_iv(salt: &[u8], explicit: &[u8]) -> Iv {
    let mut iv = [0u8; NONCE_LEN];
    iv[..GCM_SALT_LEN].copy_from_slice(salt);
    iv[GCM_SALT_LEN..].copy_from_slice(explicit);
    Iv::new(iv)
}

struct Tls12Records<A>(Keyed<A>);

impl<A: Cipher> MessageEncrypter for Tls12Records<A> {
    fn encrypt(
        &mut self,
        msg: OutboundPlainMessage<'_>,
        seq: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        let len = msg.payload.len();
        let aad = make_tls12_aad(seq, msg.typ, msg.version, len);
        let mut payload = PrefixedPayload::with_capacity(self.encrypted_payload_len(len));
        let tag = match &self.0.nonce {
            NonceRule::XorSeq(iv) => {
                payload.extend_from_chunks(&msg.payload);
                self.0
                    .seal(&xor_nonce(iv, seq), &aad, payload.as_mut())?
            }
            NonceRule::Explicit(iv) => {
                let nonce = xor_nonce(iv, seq);
                payload.extend_from_slice(&nonce[GCM_SALT_LEN..]);
                payload.extend_from_chunks(&msg.payload);
                self.0
                    .seal(&nonce, &aad, &mut payload.as_mut()[GCM_EXPLICIT_LEN..])?
            }
            NonceRule::ExplicitFromPeer(_) => unreachable!("a decrypter's rule"),
        };
        payload.extend_from_slice(&tag);
        Ok(OutboundOpaqueMessage::new(msg.typ, msg.version, payload))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        match self.0.nonce {
            NonceRule::XorSeq(_) => payload_len + TAG_LEN,
            _ => GCM_EXPLICIT_LEN + payload_len + TAG_LEN,
        }
    }
}

impl<A: Cipher> MessageDecrypter for Tls12Records<A> {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        let (typ, version) = (msg.typ, msg.version);
        let payload = &mut msg.payload;
        let (nonce, start) = match &self.0.nonce {
            NonceRule::XorSeq(iv) => (xor_nonce(iv, seq), 0),
            NonceRule::ExplicitFromPeer(salt) => {
                if payload.len() < GCM_EXPLICIT_LEN {
                    return Err(Error::DecryptError);
                }
                let mut nonce = [0u8; NONCE_LEN];
                nonce[..GCM_SALT_LEN].copy_from_slice(salt);
                nonce[GCM_SALT_LEN..].copy_from_slice(&payload[..GCM_EXPLICIT_LEN]);
                (nonce, GCM_EXPLICIT_LEN)
            }
            NonceRule::Explicit(_) => unreachable!("an encrypter's rule"),
        };
        let Some(plain_len) = payload.len().checked_sub(start + TAG_LEN) else {
            return Err(Error::DecryptError);
        };
        let aad = make_tls12_aad(seq, typ, version, plain_len);
        let (body, tag) = payload[start..].split_at_mut(plain_len);
        self.0.open(&nonce, &aad, body, tag)?;
        if plain_len > MAX_FRAGMENT_LEN {
            return Err(Error::PeerSentOversizedRecord);
        }
        // The plaintext stays where it was decrypted: no copy to the front.
        Ok(msg.into_plain_message_range(start..start + plain_len))
    }
}

// ---------------------------------------------------------------------------
// Key exchange

/// X25519 first: cheapest, and what every current client sends a share for.
pub static ALL_KX_GROUPS: &[&dyn SupportedKxGroup] = &[&X25519, &SECP256R1];

#[derive(Debug)]
pub struct X25519Group;
pub static X25519: X25519Group = X25519Group;

#[derive(Debug)]
pub struct Secp256r1Group;
pub static SECP256R1: Secp256r1Group = Secp256r1Group;

impl SupportedKxGroup for X25519Group {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let secret = x25519_dalek::EphemeralSecret::random_from_rng(Getrandom);
        let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
        Ok(Box::new(X25519Share { secret, public }))
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        None
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

struct X25519Share {
    secret: x25519_dalek::EphemeralSecret,
    public: [u8; 32],
}

impl ActiveKeyExchange for X25519Share {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
        let peer: [u8; 32] = peer
            .try_into()
            .map_err(|_| Error::from(rustls::PeerMisbehaved::InvalidKeyShare))?;
        let shared = self
            .secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        // A low-order peer point gives an all-zero secret (RFC 7748 6.1).
        if !shared.was_contributory() {
            return Err(rustls::PeerMisbehaved::InvalidKeyShare.into());
        }
        Ok(SharedSecret::from(&shared.as_bytes()[..]))
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        None
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

impl SupportedKxGroup for Secp256r1Group {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let secret = p256::ecdh::EphemeralSecret::random(&mut Getrandom);
        let point = secret.public_key().to_encoded_point(false);
        let mut public = [0u8; 65];
        public.copy_from_slice(point.as_bytes());
        Ok(Box::new(P256Share { secret, public }))
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        None
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::secp256r1
    }
}

struct P256Share {
    secret: p256::ecdh::EphemeralSecret,
    public: [u8; 65],
}

impl ActiveKeyExchange for P256Share {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
        // TLS sends only the uncompressed form (RFC 8446 4.2.8.2).
        if peer.len() != 65 || peer[0] != 4 {
            return Err(rustls::PeerMisbehaved::InvalidKeyShare.into());
        }
        let peer = p256::PublicKey::from_sec1_bytes(peer)
            .map_err(|_| Error::from(rustls::PeerMisbehaved::InvalidKeyShare))?;
        let shared = self.secret.diffie_hellman(&peer);
        Ok(SharedSecret::from(&shared.raw_secret_bytes()[..]))
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        None
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::secp256r1
    }
}

// ---------------------------------------------------------------------------
// Private keys and signing

/// What a private key is, told apart before loading so that the caller can
/// say something useful about an RSA key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    EcdsaP256,
    EcdsaP384,
    Ed25519,
    /// RSA (PKCS#1, or PKCS#8 with rsaEncryption or RSASSA-PSS): refused.
    Rsa,
    /// Not DER we can read, or an algorithm we do not sign with (P-521, Ed448).
    Unsupported,
}

/// What to tell someone who gave us an RSA key.
pub const RSA_HINT: &str = "RSA keys are not supported; make an ECDSA key: openssl ecparam -name prime256v1 -genkey -noout -out key.pem";

/// Classify a private key by its encoding and algorithm identifier.
pub fn key_kind(der: &PrivateKeyDer<'_>) -> KeyKind {
    match der {
        PrivateKeyDer::Pkcs1(_) => KeyKind::Rsa,
        // SEC1 may omit the curve: then the secret's length tells (a
        // secret may have lost leading zero bytes, down to 24).
        PrivateKeyDer::Sec1(k) => match EcPrivateKey::parse(k.secret_sec1_der()) {
            Some(EcPrivateKey { curve: Some(OID_P256), .. }) => KeyKind::EcdsaP256,
            Some(EcPrivateKey { curve: Some(OID_P384), .. }) => KeyKind::EcdsaP384,
            Some(EcPrivateKey { curve: None, secret, .. }) => match secret.len() {
                24..=32 => KeyKind::EcdsaP256,
                33..=48 => KeyKind::EcdsaP384,
                _ => KeyKind::Unsupported,
            },
            _ => KeyKind::Unsupported,
        },
        PrivateKeyDer::Pkcs8(k) => {
            let Some(info) = PrivateKeyInfo::parse(k.secret_pkcs8_der()) else {
                return KeyKind::Unsupported;
            };
            match (info.algorithm, info.curve) {
                (OID_RSA | OID_RSA_PSS, _) => KeyKind::Rsa,
                (OID_ED25519, None) => KeyKind::Ed25519,
                (OID_EC_PUBLIC_KEY, Some(OID_P256)) => KeyKind::EcdsaP256,
                (OID_EC_PUBLIC_KEY, Some(OID_P384)) => KeyKind::EcdsaP384,
                _ => KeyKind::Unsupported,
            }
        }
        _ => KeyKind::Unsupported,
    }
}

/// The `KeyProvider`: ECDSA P-256/P-384 (PKCS#8 or SEC1) and Ed25519 (PKCS#8).
#[derive(Debug)]
pub struct Keys;

impl KeyProvider for Keys {
    fn load_private_key(&self, der: PrivateKeyDer<'static>) -> Result<Arc<dyn SigningKey>, Error> {
        Ok(Arc::new(load_key(&der)?))
    }
}

/// Load a private key as a signing key (what `Keys` hands rustls).
pub fn load_key(der: &PrivateKeyDer<'_>) -> Result<KeyPair, Error> {
    match key_kind(der) {
        KeyKind::Rsa => Err(Error::General(RSA_HINT.into())),
        KeyKind::Unsupported => Err(Error::General(
            "private key: not an ECDSA P-256/P-384 or Ed25519 key".into(),
        )),
        kind => pair(kind, der)
            .map(KeyPair::new)
            .ok_or_else(|| Error::General("private key: not valid DER for its algorithm".into())),
    }
}

/// The key of `kind` in `der`; `None` if the DER is not that key's, the
/// secret is not a valid one for it, or a public key stored with it is
/// not its own.
fn pair(kind: KeyKind, der: &PrivateKeyDer<'_>) -> Option<Pair> {
    // PKCS#8 wraps the algorithm's own encoding (SEC1's for EC keys), and
    // its v2 may add the public key.
    let (key, public) = match der {
        PrivateKeyDer::Pkcs8(k) => {
            let info = PrivateKeyInfo::parse(k.secret_pkcs8_der())?;
            (info.private_key, info.public_key)
        }
        PrivateKeyDer::Sec1(k) => (k.secret_sec1_der(), None),
        _ => return None,
    };
    if kind == KeyKind::Ed25519 {
        let k = ed25519_dalek::SigningKey::from_bytes(der::ed25519_seed(key)?);
        let ok = public.is_none_or(|p| p == k.verifying_key().as_bytes());
        return ok.then_some(Pair::Ed25519(k));
    }
    let ec = EcPrivateKey::parse(key)?;
    let (pair, ours) = match (kind, ec.curve) {
        (KeyKind::EcdsaP256, None | Some(OID_P256)) => {
            let k = p256::ecdsa::SigningKey::from(p256::SecretKey::from_slice(ec.secret).ok()?);
            let point = k.verifying_key().to_encoded_point(false);
            (Pair::P256(k), Vec::from(point.as_bytes()))
        }
        (KeyKind::EcdsaP384, None | Some(OID_P384)) => {
            let (k, point) = P384::new(ec.secret)?;
            (Pair::P384(k, point), Vec::from(&point[..]))
        }
        _ => return None,
    };
    let given = [ec.public_key, public].into_iter().flatten();
    given.into_iter().all(|p| same_point(p, &ours)).then_some(pair)
}

/// Whether `given`, a public key stored with a private key, is `ours`
/// (04 || x || y), uncompressed or compressed (02 or 03 by y's parity || x).
fn same_point(given: &[u8], ours: &[u8]) -> bool {
    let x = ours.get(1..=ours.len() / 2).unwrap_or_default();
    let parity = ours.last().map_or(0, |y| y & 1);
    match given.split_first() {
        Some((&tag, rest)) if rest.len() == x.len() => tag == 2 | parity && rest == x,
        _ => given == ours,
    }
}

enum Pair {
    P256(p256::ecdsa::SigningKey),
    /// Signed by the size-built crate; with its public point.
    P384(P384, [u8; 97]),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A loaded private key with its SubjectPublicKeyInfo, which rustls compares
/// against the certificate (`CertifiedKey::keys_match`).
pub struct KeyPair {
    inner: Arc<(Pair, Vec<u8>)>,
}

impl KeyPair {
    fn new(pair: Pair) -> Self {
        let spki = match &pair {
            Pair::P256(k) => public_key_to_spki(
                &alg_id::ECDSA_P256,
                k.verifying_key().to_encoded_point(false).as_bytes(),
            ),
            Pair::P384(_, point) => public_key_to_spki(&alg_id::ECDSA_P384, &point[..]),
            Pair::Ed25519(k) => public_key_to_spki(&alg_id::ED25519, k.verifying_key().as_bytes()),
        };
        Self {
            inner: Arc::new((pair, spki.as_ref().to_vec())),
        }
    }

    fn scheme(&self) -> SignatureScheme {
        match self.inner.0 {
            Pair::P256(_) => SignatureScheme::ECDSA_NISTP256_SHA256,
            Pair::P384(..) => SignatureScheme::ECDSA_NISTP384_SHA384,
            Pair::Ed25519(_) => SignatureScheme::ED25519,
        }
    }
}

impl fmt::Debug for KeyPair {
    // Never the secret: only which kind of key this is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyPair").field(&self.scheme()).finish()
    }
}

impl SigningKey for KeyPair {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let ours = self.scheme();
        offered.contains(&ours).then(|| {
            Box::new(KeyPair {
                inner: self.inner.clone(),
            }) as Box<dyn Signer>
        })
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(SubjectPublicKeyInfoDer::from(&self.inner.1[..]))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        match self.inner.0 {
            Pair::P256(_) | Pair::P384(..) => SignatureAlgorithm::ECDSA,
            Pair::Ed25519(_) => SignatureAlgorithm::ED25519,
        }
    }
}

impl Signer for KeyPair {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        // ed25519-dalek re-exports the same `signature::Signer` trait.
        use p256::ecdsa::signature::Signer as _;
        let failed = |_| Error::General("signing failed".into());
        // ECDSA is deterministic here (RFC 6979) and goes out as DER, the
        // form TLS carries.
        Ok(match &self.inner.0 {
            Pair::P256(k) => {
                let sig: p256::ecdsa::Signature = k.try_sign(message).map_err(failed)?;
                let (r, s) = sig.split_bytes();
                der::ecdsa_signature(&r, &s)
            }
            Pair::P384(k, _) => {
                let (r, s) = k.sign(message).ok_or(Error::General("signing failed".into()))?;
                der::ecdsa_signature(&r, &s)
            }
            Pair::Ed25519(k) => k.try_sign(message).map_err(failed)?.to_bytes().to_vec(),
        })
    }

    fn scheme(&self) -> SignatureScheme {
        KeyPair::scheme(self)
    }
}

// ---------------------------------------------------------------------------
// Signature verification (certificates and handshake signatures)

/// What our client (ACME) accepts from servers and CAs. For TLS 1.3 only the
/// first algorithm of a scheme's row is tried, and it matches the scheme's
/// curve; TLS 1.2 and certificate chains may mix curve and hash.
pub static SUPPORTED_SIG_ALGS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        ECDSA_P256_SHA256,
        ECDSA_P256_SHA384,
        ECDSA_P384_SHA384,
        ECDSA_P384_SHA256,
        ED25519,
    ],
    mapping: &[
        (
            SignatureScheme::ECDSA_NISTP384_SHA384,
            &[ECDSA_P384_SHA384, ECDSA_P256_SHA384],
        ),
        (
            SignatureScheme::ECDSA_NISTP256_SHA256,
            &[ECDSA_P256_SHA256, ECDSA_P384_SHA256],
        ),
        (SignatureScheme::ED25519, &[ED25519]),
    ],
};

pub static ECDSA_P256_SHA256: &dyn SignatureVerificationAlgorithm = &EcdsaVerify {
    curve: Curve::P256,
    hash: HashKind::Sha256,
};
pub static ECDSA_P256_SHA384: &dyn SignatureVerificationAlgorithm = &EcdsaVerify {
    curve: Curve::P256,
    hash: HashKind::Sha384,
};
pub static ECDSA_P384_SHA384: &dyn SignatureVerificationAlgorithm = &EcdsaVerify {
    curve: Curve::P384,
    hash: HashKind::Sha384,
};
pub static ECDSA_P384_SHA256: &dyn SignatureVerificationAlgorithm = &EcdsaVerify {
    curve: Curve::P384,
    hash: HashKind::Sha256,
};
pub static ED25519: &dyn SignatureVerificationAlgorithm = &Ed25519Verify;

#[derive(Debug, Clone, Copy)]
enum Curve {
    P256,
    P384,
}

#[derive(Debug, Clone, Copy)]
enum HashKind {
    Sha256,
    Sha384,
}

#[derive(Debug)]
struct EcdsaVerify {
    curve: Curve,
    hash: HashKind,
}

impl SignatureVerificationAlgorithm for EcdsaVerify {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        // The prehash form lets any curve take either hash (FIPS 186-4
        // truncates or pads the digest to the curve's size).
        let mut digest = [0u8; 48];
        let digest = match self.hash {
            HashKind::Sha256 => {
                digest[..32].copy_from_slice(&Sha256::digest(message));
                &digest[..32]
            }
            HashKind::Sha384 => {
                digest.copy_from_slice(&Sha384::digest(message));
                &digest[..]
            }
        };
        let ok = match self.curve {
            Curve::P256 => {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
                    .map_err(|_| InvalidSignature)?;
                let sig =
                    p256::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
                key.verify_prehash(digest, &sig).is_ok()
            }
            Curve::P384 => {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
                    .map_err(|_| InvalidSignature)?;
                let sig =
                    p384::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
                key.verify_prehash(digest, &sig).is_ok()
            }
        };
        if ok { Ok(()) } else { Err(InvalidSignature) }
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        match self.curve {
            Curve::P256 => alg_id::ECDSA_P256,
            Curve::P384 => alg_id::ECDSA_P384,
        }
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        match self.hash {
            HashKind::Sha256 => alg_id::ECDSA_SHA256,
            HashKind::Sha384 => alg_id::ECDSA_SHA384,
        }
    }
}

#[derive(Debug)]
struct Ed25519Verify;

impl SignatureVerificationAlgorithm for Ed25519Verify {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let key =
            ed25519_dalek::VerifyingKey::try_from(public_key).map_err(|_| InvalidSignature)?;
        let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| InvalidSignature)?;
        // Strict: no small-order keys, no malleable signatures.
        key.verify_strict(message, &sig)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ED25519
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ED25519
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Our provider on both ends of rustls's unbuffered client and server,
    //! bytes passed between two Vecs; keys and certificates come from the
    //! `openssl` command, made once per test run.
    use super::*;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::{Resumption, UnbufferedClientConnection};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::server::{ProducesTickets, UnbufferedServerConnection};
    use rustls::unbuffered::{ConnectionState, UnbufferedStatus};
    use rustls::{DigitallySignedStruct, HandshakeKind, SupportedProtocolVersion};
    use std::path::PathBuf;
    use std::process::Command;
    use std::string::String;
    use std::sync::{Mutex, OnceLock};
    use std::vec;

    /// One certificate and its key, as PEM.
    pub(crate) struct Cred {
        pub cert: Vec<u8>,
        pub key: Vec<u8>,
    }

    /// Every key and certificate the tests use.
    pub(crate) struct Material {
        pub p256: Cred,
        pub p384: Cred,
        pub ed25519: Cred,
        pub p256_sec1: Vec<u8>,
        pub p384_sec1: Vec<u8>,
        pub rsa_pkcs1: Vec<u8>,
        pub rsa_pkcs8: Vec<u8>,
        pub dir: PathBuf,
    }

    fn openssl(dir: &PathBuf, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command (Debian package openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn self_signed(dir: &PathBuf, name: &str, newkey: &[&str]) -> Cred {
        let (k, c) = (std::format!("{name}.key"), std::format!("{name}.crt"));
        let mut args = vec![
            "req",
            "-x509",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=localhost",
        ];
        args.extend_from_slice(&["-addext", "subjectAltName=DNS:localhost"]);
        args.extend_from_slice(newkey);
        args.extend_from_slice(&["-keyout", &k, "-out", &c]);
        openssl(dir, &args);
        Cred {
            cert: std::fs::read(dir.join(&c)).unwrap(),
            key: std::fs::read(dir.join(&k)).unwrap(),
        }
    }

    pub(crate) fn material() -> &'static Material {
        static M: OnceLock<Material> = OnceLock::new();
        M.get_or_init(|| {
            let dir = std::env::temp_dir()
                .join(std::format!("drift-tls-provider-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let p256 = self_signed(
                &dir,
                "p256",
                &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
            );
            let p384 = self_signed(
                &dir,
                "p384",
                &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1"],
            );
            let ed25519 = self_signed(&dir, "ed25519", &["-newkey", "ed25519"]);
            openssl(&dir, &["ec", "-in", "p256.key", "-out", "p256.sec1"]);
            openssl(&dir, &["ec", "-in", "p384.key", "-out", "p384.sec1"]);
            openssl(
                &dir,
                &["genrsa", "-traditional", "-out", "rsa1.key", "1024"],
            );
            openssl(
                &dir,
                &[
                    "pkcs8", "-topk8", "-nocrypt", "-in", "rsa1.key", "-out", "rsa8.key",
                ],
            );
            let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
            Material {
                p256_sec1: read("p256.sec1"),
                p384_sec1: read("p384.sec1"),
                rsa_pkcs1: read("rsa1.key"),
                rsa_pkcs8: read("rsa8.key"),
                p256,
                p384,
                ed25519,
                dir,
            }
        })
    }

    pub(crate) fn key_der(pem: &[u8]) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(pem).expect("a PEM private key")
    }

    fn certs(pem: &[u8]) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Accepts exactly the test certificate, and checks the handshake
    /// signature with our verification algorithms.
    #[derive(Debug)]
    pub(crate) struct PinnedCert {
        cert: CertificateDer<'static>,
        /// The schemes of the handshake signatures it checked.
        seen: Mutex<Vec<SignatureScheme>>,
    }

    impl PinnedCert {
        pub(crate) fn new(cred: &Cred) -> Arc<Self> {
            Arc::new(Self {
                cert: certs(&cred.cert).remove(0),
                seen: Mutex::default(),
            })
        }
    }

    impl ServerCertVerifier for PinnedCert {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            if end_entity.as_ref() == self.cert.as_ref() {
                Ok(ServerCertVerified::assertion())
            } else {
                Err(Error::General("not the test certificate".into()))
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.seen.lock().unwrap().push(dss.scheme);
            verify_tls12_signature(message, cert, dss, &SUPPORTED_SIG_ALGS)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.seen.lock().unwrap().push(dss.scheme);
            verify_tls13_signature(message, cert, dss, &SUPPORTED_SIG_ALGS)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            SUPPORTED_SIG_ALGS.supported_schemes()
        }
    }

    /// The client's session store (rustls has none without std): the last
    /// TLS 1.2 session and the TLS 1.3 tickets, for one server.
    #[derive(Debug, Default)]
    pub(crate) struct Sessions {
        tls12: Mutex<Option<rustls::client::Tls12ClientSessionValue>>,
        tls13: Mutex<Vec<rustls::client::Tls13ClientSessionValue>>,
    }

    impl rustls::client::ClientSessionStore for Sessions {
        fn set_kx_hint(&self, _: ServerName<'static>, _: NamedGroup) {}
        fn kx_hint(&self, _: &ServerName<'_>) -> Option<NamedGroup> {
            None
        }
        fn set_tls12_session(
            &self,
            _: ServerName<'static>,
            v: rustls::client::Tls12ClientSessionValue,
        ) {
            *self.tls12.lock().unwrap() = Some(v);
        }
        fn tls12_session(
            &self,
            _: &ServerName<'_>,
        ) -> Option<rustls::client::Tls12ClientSessionValue> {
            self.tls12.lock().unwrap().clone()
        }
        fn remove_tls12_session(&self, _: &ServerName<'static>) {
            *self.tls12.lock().unwrap() = None;
        }
        fn insert_tls13_ticket(
            &self,
            _: ServerName<'static>,
            v: rustls::client::Tls13ClientSessionValue,
        ) {
            self.tls13.lock().unwrap().push(v);
        }
        fn take_tls13_ticket(
            &self,
            _: &ServerName<'static>,
        ) -> Option<rustls::client::Tls13ClientSessionValue> {
            self.tls13.lock().unwrap().pop()
        }
    }

    fn version_of(suite: SupportedCipherSuite) -> &'static SupportedProtocolVersion {
        match suite {
            SupportedCipherSuite::Tls13(_) => &TLS13,
            SupportedCipherSuite::Tls12(_) => &TLS12,
        }
    }

    fn narrowed(
        suite: SupportedCipherSuite,
        groups: &[&'static dyn SupportedKxGroup],
    ) -> Arc<CryptoProvider> {
        Arc::new(CryptoProvider {
            cipher_suites: vec![suite],
            kx_groups: groups.to_vec(),
            ..provider()
        })
    }

    /// A client offering only `suite` and `groups`, trusting `verifier`.
    pub(crate) fn client_config(
        suite: SupportedCipherSuite,
        groups: &[&'static dyn SupportedKxGroup],
        verifier: Arc<PinnedCert>,
        sessions: Arc<Sessions>,
    ) -> Arc<ClientConfig> {
        let mut c = ClientConfig::builder_with_details(narrowed(suite, groups), Arc::new(Clock))
            .with_protocol_versions(&[version_of(suite)])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        c.resumption = Resumption::store(sessions);
        Arc::new(c)
    }

    /// A server with our whole provider, `cred`, and `ticketer`.
    pub(crate) fn server_config(
        cred: &Cred,
        ticketer: Arc<dyn ProducesTickets>,
    ) -> Arc<ServerConfig> {
        let mut s = server_config_builder()
            .with_no_client_auth()
            .with_single_cert(certs(&cred.cert), key_der(&cred.key))
            .unwrap();
        s.ticketer = ticketer;
        Arc::new(s)
    }

    /// What `step` stopped at.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub(crate) enum Stop {
        Blocked,
        Idle,
        Closed,
    }

    /// One end: bytes that arrived for it, plaintext to send once it may,
    /// and plaintext received.
    #[derive(Default)]
    pub(crate) struct End {
        pub inbox: Vec<u8>,
        pub to_send: Vec<u8>,
        pub received: Vec<u8>,
    }

    // The client and server connections have the same unbuffered API but
    // distinct types; one body serves both.
    macro_rules! step_fn {
        ($name:ident, $conn:ty) => {
            /// Run `conn` until it waits for bytes (or is done), appending
            /// what it sends to `out`.
            pub(crate) fn $name(
                conn: &mut $conn,
                me: &mut End,
                out: &mut Vec<u8>,
            ) -> Result<Stop, Error> {
                loop {
                    let UnbufferedStatus { mut discard, state } =
                        conn.process_tls_records(&mut me.inbox);
                    let stop = match state {
                        Err(e) => {
                            me.inbox.drain(..discard);
                            return Err(e);
                        }
                        Ok(ConnectionState::ReadTraffic(mut r)) => {
                            while let Some(rec) = r.next_record() {
                                let rec = rec?;
                                discard += rec.discard;
                                me.received.extend_from_slice(rec.payload);
                            }
                            None
                        }
                        Ok(ConnectionState::EncodeTlsData(mut e)) => {
                            let at = out.len();
                            out.resize(at + 20_000, 0);
                            let n = e.encode(&mut out[at..]).unwrap();
                            out.truncate(at + n);
                            None
                        }
                        Ok(ConnectionState::TransmitTlsData(t)) => {
                            // `out` is the peer's inbox: already "sent".
                            t.done();
                            None
                        }
                        Ok(ConnectionState::WriteTraffic(mut w)) => {
                            if me.to_send.is_empty() {
                                Some(Stop::Idle)
                            } else {
                                let at = out.len();
                                out.resize(at + me.to_send.len() + 4096, 0);
                                let n = w.encrypt(&me.to_send, &mut out[at..]).unwrap();
                                out.truncate(at + n);
                                me.to_send.clear();
                                None
                            }
                        }
                        Ok(ConnectionState::BlockedHandshake) => Some(Stop::Blocked),
                        Ok(ConnectionState::PeerClosed) => None,
                        Ok(ConnectionState::Closed) => Some(Stop::Closed),
                        Ok(other) => panic!("unexpected state {other:?}"),
                    };
                    me.inbox.drain(..discard);
                    if let Some(stop) = stop {
                        return Ok(stop);
                    }
                }
            }
        };
    }
    step_fn!(step_client, UnbufferedClientConnection);
    step_fn!(step_server, UnbufferedServerConnection);

    pub(crate) struct Pair {
        pub client: UnbufferedClientConnection,
        pub server: UnbufferedServerConnection,
        pub c: End,
        pub s: End,
    }

    impl Pair {
        pub(crate) fn new(client: &Arc<ClientConfig>, server: &Arc<ServerConfig>) -> Self {
            Self {
                client: UnbufferedClientConnection::new(
                    client.clone(),
                    ServerName::try_from("localhost").unwrap(),
                )
                .unwrap(),
                server: UnbufferedServerConnection::new(server.clone()).unwrap(),
                c: End::default(),
                s: End::default(),
            }
        }

        /// Pass bytes back and forth until neither side has anything to do.
        pub(crate) fn run(&mut self) -> Result<(), Error> {
            for _ in 0..50 {
                let cs = step_client(&mut self.client, &mut self.c, &mut self.s.inbox)?;
                let ss = step_server(&mut self.server, &mut self.s, &mut self.c.inbox)?;
                if cs == Stop::Idle
                    && ss == Stop::Idle
                    && self.c.inbox.is_empty()
                    && self.s.inbox.is_empty()
                {
                    return Ok(());
                }
            }
            panic!("no quiescence after 50 rounds");
        }

        /// Handshake, then one message each way; checks what arrived.
        pub(crate) fn talk(&mut self) {
            let up: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
            let down = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec();
            self.c.to_send = up.clone();
            self.s.to_send = down.clone();
            self.run().unwrap();
            assert_eq!(self.s.received, up);
            assert_eq!(self.c.received, down);
        }
    }

    pub(crate) fn no_tickets() -> Arc<dyn ProducesTickets> {
        #[derive(Debug)]
        struct Off;
        impl ProducesTickets for Off {
            fn enabled(&self) -> bool {
                false
            }
            fn lifetime(&self) -> u32 {
                0
            }
            fn encrypt(&self, _: &[u8]) -> Option<Vec<u8>> {
                None
            }
            fn decrypt(&self, _: &[u8]) -> Option<Vec<u8>> {
                None
            }
        }
        Arc::new(Off)
    }

    #[test]
    fn every_suite_group_and_key_interoperates() {
        let m = material();
        let creds: [(&str, &Cred, SignatureScheme); 3] = [
            ("p256", &m.p256, SignatureScheme::ECDSA_NISTP256_SHA256),
            ("p384", &m.p384, SignatureScheme::ECDSA_NISTP384_SHA384),
            ("ed25519", &m.ed25519, SignatureScheme::ED25519),
        ];
        let mut cases = 0;
        for &suite in ALL_CIPHER_SUITES {
            for &group in ALL_KX_GROUPS {
                for (name, cred, scheme) in creds {
                    let server = server_config(cred, no_tickets());
                    let verifier = PinnedCert::new(cred);
                    let client = client_config(suite, &[group], verifier.clone(), Arc::default());
                    let mut p = Pair::new(&client, &server);
                    p.talk();
                    let what = std::format!("{:?} {:?} {name}", suite.suite(), group.name());
                    assert_eq!(p.client.negotiated_cipher_suite(), Some(suite), "{what}");
                    assert_eq!(p.server.negotiated_cipher_suite(), Some(suite), "{what}");
                    assert_eq!(
                        p.server.negotiated_key_exchange_group().map(|g| g.name()),
                        Some(group.name()),
                        "{what}"
                    );
                    assert_eq!(
                        p.client.handshake_kind(),
                        Some(HandshakeKind::Full),
                        "{what}"
                    );
                    assert_eq!(*verifier.seen.lock().unwrap(), [scheme], "{what}");
                    cases += 1;
                }
            }
        }
        assert_eq!(cases, 6 * 2 * 3);
    }

    #[test]
    fn keys_load_or_are_refused_by_kind() {
        let m = material();
        let rows: [(&str, &[u8], KeyKind, Option<&Cred>); 7] = [
            ("p256 pkcs8", &m.p256.key, KeyKind::EcdsaP256, Some(&m.p256)),
            ("p256 sec1", &m.p256_sec1, KeyKind::EcdsaP256, Some(&m.p256)),
            ("p384 pkcs8", &m.p384.key, KeyKind::EcdsaP384, Some(&m.p384)),
            ("p384 sec1", &m.p384_sec1, KeyKind::EcdsaP384, Some(&m.p384)),
            (
                "ed25519 pkcs8",
                &m.ed25519.key,
                KeyKind::Ed25519,
                Some(&m.ed25519),
            ),
            ("rsa pkcs1", &m.rsa_pkcs1, KeyKind::Rsa, None),
            ("rsa pkcs8", &m.rsa_pkcs8, KeyKind::Rsa, None),
        ];
        for (name, pem, kind, cred) in rows {
            let der = key_der(pem);
            assert_eq!(key_kind(&der), kind, "{name}");
            let loaded = provider().key_provider.load_private_key(der);
            match cred {
                Some(cred) => {
                    // The public key we derive is the one in the certificate.
                    let ck = rustls::sign::CertifiedKey::new(certs(&cred.cert), loaded.unwrap());
                    assert_eq!(ck.keys_match(), Ok(()), "{name}");
                }
                None => match loaded {
                    Err(Error::General(msg)) => assert_eq!(msg, RSA_HINT, "{name}"),
                    other => panic!("{name}: {other:?}"),
                },
            }
        }
        // A key that loads but is not the certificate's.
        let other = provider()
            .key_provider
            .load_private_key(key_der(&m.p384.key))
            .unwrap();
        let ck = rustls::sign::CertifiedKey::new(certs(&m.p256.cert), other);
        assert!(matches!(ck.keys_match(), Err(Error::InconsistentKeys(_))));

        let garbage: [PrivateKeyDer<'static>; 4] = [
            PrivateKeyDer::Pkcs8(b"garbage".to_vec().into()),
            PrivateKeyDer::Sec1(b"garbage".to_vec().into()),
            PrivateKeyDer::Pkcs8(Vec::new().into()),
            // A P-256 key relabelled as SEC1: the right bytes in the wrong wrapper.
            PrivateKeyDer::Sec1(key_der(&m.p256.key).secret_der().to_vec().into()),
        ];
        for der in garbage {
            assert_eq!(key_kind(&der), KeyKind::Unsupported, "{der:?}");
            assert!(provider().key_provider.load_private_key(der).is_err());
        }
    }

    #[test]
    fn key_der_is_checked_before_it_is_trusted() {
        use crate::der::tests::tlv;
        use crate::der::{BIT_STRING, CTX_0, CTX_1, CTX_1_PRIM, INTEGER, OCTET_STRING, OID, SEQUENCE};
        let m = material();
        let load = |der: PrivateKeyDer<'static>| provider().key_provider.load_private_key(der);
        let matches = |loaded: Result<Arc<dyn SigningKey>, Error>, cred: &Cred| {
            rustls::sign::CertifiedKey::new(certs(&cred.cert), loaded.unwrap()).keys_match()
        };

        // The pieces of the P-256 key, to put together again in other ways.
        let sec1 = key_der(&m.p256_sec1).secret_der().to_vec();
        let ec = EcPrivateKey::parse(&sec1).unwrap();
        let point = ec.public_key.unwrap().to_vec();
        assert_eq!((ec.secret.len(), ec.curve, point.len()), (32, Some(OID_P256), 65));
        let v1 = tlv(INTEGER, &[&[1]]);
        let secret = tlv(OCTET_STRING, &[ec.secret]);
        let curve = |oid: &[u8]| tlv(CTX_0, &[&tlv(OID, &[oid])]);
        let public = |p: &[u8]| tlv(CTX_1, &[&tlv(BIT_STRING, &[&[0], p])]);
        let sec1_of = |parts: &[&[u8]]| PrivateKeyDer::Sec1(tlv(SEQUENCE, parts).into());
        let pkcs8_of = |curve_oid: &[u8], inner: &[u8], extra: &[&[u8]]| {
            let alg = tlv(SEQUENCE, &[&tlv(OID, &[OID_EC_PUBLIC_KEY]), &tlv(OID, &[curve_oid])]);
            let head: [&[u8]; 3] = [&tlv(INTEGER, &[&[u8::from(!extra.is_empty())]]), &alg, &tlv(OCTET_STRING, &[inner])];
            PrivateKeyDer::Pkcs8(tlv(SEQUENCE, &[&head[..], extra].concat()).into())
        };
        let mut compressed = point[..33].to_vec();
        compressed[0] = 2 | (point[64] & 1);
        let mut wrong_parity = compressed.clone();
        wrong_parity[0] ^= 1;
        let mut other_point = point.clone();
        other_point[64] ^= 1;

        // What loads: without the curve, without the public key, with the
        // public key compressed, and in PKCS#8 v2 with the public key twice.
        let bare = tlv(SEQUENCE, &[&v1, &secret]);
        let good: [(&str, PrivateKeyDer<'static>); 5] = [
            ("no curve", sec1_of(&[&v1, &secret, &public(&point)])),
            ("no public key", sec1_of(&[&v1, &secret, &curve(OID_P256)])),
            ("nothing but the secret", PrivateKeyDer::Sec1(bare.clone().into())),
            ("compressed public key", sec1_of(&[&v1, &secret, &curve(OID_P256), &public(&compressed)])),
            ("pkcs8 v2", pkcs8_of(OID_P256, &sec1, &[&tlv(CTX_1_PRIM, &[&[0], &point])])),
        ];
        for (name, der) in good {
            assert_eq!(matches(load(der), &m.p256), Ok(()), "{name}");
        }

        let zero = tlv(OCTET_STRING, &[&[0; 32]]);
        let too_big = tlv(OCTET_STRING, &[&[0xff; 32]]); // over the group order
        let short = tlv(OCTET_STRING, &[&ec.secret[..20]]);
        let bad: [(&str, PrivateKeyDer<'static>); 12] = [
            ("someone else's public key", sec1_of(&[&v1, &secret, &curve(OID_P256), &public(&other_point)])),
            ("compressed with the wrong parity", sec1_of(&[&v1, &secret, &curve(OID_P256), &public(&wrong_parity)])),
            ("public key cut short", sec1_of(&[&v1, &secret, &curve(OID_P256), &public(&point[..64])])),
            ("P-384 curve, P-256 point", sec1_of(&[&v1, &secret, &curve(OID_P384), &public(&point)])),
            ("zero secret", sec1_of(&[&v1, &zero, &curve(OID_P256)])),
            ("secret over the order", sec1_of(&[&v1, &too_big, &curve(OID_P256)])),
            ("secret of 20 bytes", sec1_of(&[&v1, &short])),
            ("trailing bytes", PrivateKeyDer::Sec1([sec1.clone(), vec![0]].concat().into())),
            ("pkcs8 saying P-256 around SEC1 saying P-384", pkcs8_of(OID_P256, &tlv(SEQUENCE, &[&v1, &secret, &curve(OID_P384)]), &[])),
            ("pkcs8 saying P-384 around SEC1 saying P-256", pkcs8_of(OID_P384, &sec1, &[])),
            ("pkcs8 v2 with another public key", pkcs8_of(OID_P256, &bare, &[&tlv(CTX_1_PRIM, &[&[0], &other_point])])),
            ("pkcs8 around what is not SEC1", pkcs8_of(OID_P256, &secret, &[])),
        ];
        for (name, der) in bad {
            assert!(load(der).is_err(), "{name}");
        }

        // Ed25519: the seed in an OCTET STRING, and v2's public key checked.
        let ed = key_der(&m.ed25519.key).secret_der().to_vec();
        let info = PrivateKeyInfo::parse(&ed).unwrap();
        let seed = crate::der::ed25519_seed(info.private_key).unwrap();
        let ours = ed25519_dalek::SigningKey::from_bytes(seed).verifying_key().to_bytes();
        let ed_of = |inner: &[u8], extra: &[&[u8]]| {
            let alg = tlv(SEQUENCE, &[&tlv(OID, &[OID_ED25519])]);
            let head: [&[u8]; 3] = [&tlv(INTEGER, &[&[u8::from(!extra.is_empty())]]), &alg, &tlv(OCTET_STRING, &[inner])];
            PrivateKeyDer::Pkcs8(tlv(SEQUENCE, &[&head[..], extra].concat()).into())
        };
        let seed_der = tlv(OCTET_STRING, &[seed]);
        let mut theirs = ours;
        theirs[0] ^= 1;
        assert_eq!(matches(load(ed_of(&seed_der, &[])), &m.ed25519), Ok(()));
        let v2 = ed_of(&seed_der, &[&tlv(CTX_1_PRIM, &[&[0], &ours])]);
        assert_eq!(matches(load(v2), &m.ed25519), Ok(()));
        let bad: [(&str, PrivateKeyDer<'static>); 5] = [
            ("another public key", ed_of(&seed_der, &[&tlv(CTX_1_PRIM, &[&[0], &theirs])])),
            ("31-byte seed", ed_of(&tlv(OCTET_STRING, &[&seed[..31]]), &[])),
            ("bare seed", ed_of(seed, &[])),
            ("seed then more", ed_of(&[&seed_der[..], &[5, 0]].concat(), &[])),
            ("with curve parameters", pkcs8_of(OID_ED25519, &seed_der, &[]).clone_key()),
        ];
        for (name, der) in bad {
            assert!(load(der).is_err(), "{name}");
        }
    }

    /// What the server yields after a fatal error when called again with
    /// no input (the bytes that failed are not counted in `discard`, so
    /// feeding the same buffer again would process them again), as names;
    /// the bytes it hands out are appended to `out`.
    fn after_error(server: &mut UnbufferedServerConnection, out: &mut Vec<u8>) -> Vec<String> {
        let mut seen = Vec::new();
        for _ in 0..4 {
            let UnbufferedStatus { discard, state } = server.process_tls_records(&mut []);
            assert_eq!(discard, 0);
            seen.push(match state {
                Ok(ConnectionState::EncodeTlsData(mut e)) => {
                    let at = out.len();
                    out.resize(at + 1000, 0);
                    let n = e.encode(&mut out[at..]).unwrap();
                    out.truncate(at + n);
                    std::format!("EncodeTlsData({n})")
                }
                Ok(ConnectionState::TransmitTlsData(t)) => {
                    t.done();
                    "TransmitTlsData".into()
                }
                Ok(other) => std::format!("{other:?}"),
                Err(e) => std::format!("Err({e:?})"),
            });
        }
        seen
    }

    #[test]
    fn fatal_errors_leave_an_alert_to_send() {
        let m = material();
        // No common suite: the server fails on the ClientHello.
        let server = {
            let mut s = ServerConfig::builder_with_details(
                narrowed(TLS13_AES_128_GCM_SHA256, &[&X25519]),
                Arc::new(Clock),
            )
            .with_protocol_versions(&[&TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs(&m.p256.cert), key_der(&m.p256.key))
            .unwrap();
            s.ticketer = no_tickets();
            Arc::new(s)
        };
        let client = client_config(
            TLS13_CHACHA20_POLY1305_SHA256,
            &[&X25519],
            PinnedCert::new(&m.p256),
            Arc::default(),
        );
        let mut p = Pair::new(&client, &server);
        assert_eq!(
            step_client(&mut p.client, &mut p.c, &mut p.s.inbox).unwrap(),
            Stop::Blocked
        );
        let err = step_server(&mut p.server, &mut p.s, &mut p.c.inbox).unwrap_err();
        assert_eq!(
            err,
            Error::PeerIncompatible(rustls::PeerIncompatible::NoCipherSuitesInCommon)
        );
        assert!(p.s.inbox.is_empty(), "the ClientHello was consumed");
        let mut out = Vec::new();
        let seen = after_error(&mut p.server, &mut out);
        // A plaintext handshake_failure alert, then the handshake state is
        // dead (process_msg stored the error) but reports BlockedHandshake.
        assert_eq!(
            seen,
            [
                "EncodeTlsData(7)",
                "TransmitTlsData",
                "BlockedHandshake",
                "BlockedHandshake"
            ]
        );
        assert_eq!(out, [21, 3, 3, 0, 2, 2, 40]);
        p.c.inbox.extend_from_slice(&out);
        let cerr = step_client(&mut p.client, &mut p.c, &mut p.s.inbox).unwrap_err();
        assert_eq!(
            cerr,
            Error::AlertReceived(rustls::AlertDescription::HandshakeFailure)
        );

        // A tampered record after the handshake.
        let server = server_config(&m.p256, no_tickets());
        let client = client_config(
            TLS13_AES_128_GCM_SHA256,
            &[&X25519],
            PinnedCert::new(&m.p256),
            Arc::default(),
        );
        let mut p = Pair::new(&client, &server);
        p.talk();
        p.c.to_send = b"GET / HTTP/1.1\r\n\r\n".to_vec();
        step_client(&mut p.client, &mut p.c, &mut p.s.inbox).unwrap();
        let last = p.s.inbox.len() - 1;
        p.s.inbox[last] ^= 1;
        let err = step_server(&mut p.server, &mut p.s, &mut p.c.inbox).unwrap_err();
        assert_eq!(err, Error::DecryptError);
        // 18 bytes + type + tag + header: the bad record is still there.
        assert_eq!(p.s.inbox.len(), 40);
        let mut out = Vec::new();
        let seen = after_error(&mut p.server, &mut out);
        // An encrypted bad_record_mac alert (5 + 2 + 1 + 16 bytes); a
        // record-layer error is not stored in the state machine, so rustls
        // would go on to WriteTraffic: the caller must stop by itself.
        assert_eq!(
            seen,
            [
                "EncodeTlsData(24)",
                "TransmitTlsData",
                "WriteTraffic",
                "WriteTraffic"
            ]
        );
        assert_eq!(out[..5], [23, 3, 3, 0, 19]);
        p.c.inbox.extend_from_slice(&out);
        let cerr = step_client(&mut p.client, &mut p.c, &mut p.s.inbox).unwrap_err();
        assert_eq!(
            cerr,
            Error::AlertReceived(rustls::AlertDescription::BadRecordMac)
        );
    }

    // Interop with OpenSSL: a bug that our encrypter and decrypter (or
    // signer and verifier) share would pass the tests above; these catch it.

    fn openssl_names(suite: SupportedCipherSuite) -> [&'static str; 3] {
        // [version flag, cipher option, name]
        match suite.suite() {
            CipherSuite::TLS13_AES_128_GCM_SHA256 => {
                ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"]
            }
            CipherSuite::TLS13_AES_256_GCM_SHA384 => {
                ["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"]
            }
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => {
                ["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"]
            }
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => {
                ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"]
            }
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => {
                ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"]
            }
            CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
                ["-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"]
            }
            other => panic!("{other:?}"),
        }
    }

    /// The groups to offer so that `group` is chosen. OpenSSL's TLS 1.2
    /// client also wants the certificate's curve among them (RFC 4492), so
    /// it always lists P-256 and P-384; our server prefers X25519.
    fn openssl_groups(group: &dyn SupportedKxGroup) -> &'static str {
        match group.name() {
            NamedGroup::X25519 => "X25519:P-256:P-384",
            _ => "P-256:P-384",
        }
    }

    fn write_pem(name: &str, bytes: &[u8]) -> String {
        let path = material().dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().into()
    }

    #[test]
    fn openssl_client_talks_to_our_server() {
        use std::io::{Read, Write};
        let m = material();
        let rows: Vec<(
            SupportedCipherSuite,
            &'static dyn SupportedKxGroup,
            &str,
            &Cred,
        )> = ALL_CIPHER_SUITES
            .iter()
            .flat_map(|&s| ALL_KX_GROUPS.iter().map(move |&g| (s, g, "p256", &m.p256)))
            .chain([
                (
                    TLS13_AES_128_GCM_SHA256,
                    &X25519 as &dyn SupportedKxGroup,
                    "p384",
                    &m.p384,
                ),
                (TLS13_AES_128_GCM_SHA256, &X25519, "ed25519", &m.ed25519),
                (
                    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                    &X25519,
                    "p384",
                    &m.p384,
                ),
            ])
            .collect();
        for (suite, group, name, cred) in rows {
            let what = std::format!("{:?} {:?} {name}", suite.suite(), group.name());
            let ca = write_pem(&std::format!("{name}.crt"), &cred.cert);
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let [version, option, cipher] = openssl_names(suite);
            let mut child = Command::new("openssl")
                .args([
                    "s_client",
                    "-connect",
                    &std::format!("127.0.0.1:{port}"),
                    "-servername",
                    "localhost",
                ])
                .args([version, option, cipher, "-groups", openssl_groups(group)])
                .args([
                    "-CAfile",
                    &ca,
                    "-verify_return_error",
                    "-verify_hostname",
                    "localhost",
                    "-ign_eof",
                ])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(b"ping\n").unwrap();
            let (mut sock, _) = listener.accept().unwrap();
            let mut conn =
                UnbufferedServerConnection::new(server_config(cred, no_tickets())).unwrap();
            let (mut end, mut out) = (End::default(), Vec::new());
            let mut replied = false;
            loop {
                step_server(&mut conn, &mut end, &mut out)
                    .unwrap_or_else(|e| panic!("{what}: {e:?}"));
                sock.write_all(&out).unwrap();
                out.clear();
                if replied {
                    break;
                }
                if end.received.ends_with(b"ping\n") {
                    end.to_send = b"pong\n".to_vec();
                    replied = true;
                    continue;
                }
                let mut buf = [0u8; 16384];
                let n = sock.read(&mut buf).unwrap();
                assert!(n > 0, "{what}: openssl closed early");
                end.inbox.extend_from_slice(&buf[..n]);
            }
            assert_eq!(conn.negotiated_cipher_suite(), Some(suite), "{what}");
            let kx = conn.negotiated_key_exchange_group().map(|g| g.name());
            assert_eq!(kx, Some(group.name()), "{what}");
            drop(sock);
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.contains("pong\n"), "{what}: {stdout}");
            assert!(
                stdout.contains("Verify return code: 0 (ok)"),
                "{what}: {stdout}"
            );
            assert!(
                stdout.contains(cipher.trim_start_matches("TLS_").split('-').last().unwrap()),
                "{what}"
            );
        }
    }

    #[test]
    fn our_client_talks_to_openssl_server() {
        use std::io::{Read, Write};
        let m = material();
        let cred = &m.p256;
        let (cert, key) = (
            write_pem("s.crt", &cred.cert),
            write_pem("s.key", &cred.key),
        );
        for &suite in ALL_CIPHER_SUITES {
            for &group in ALL_KX_GROUPS {
                let what = std::format!("{:?} {:?}", suite.suite(), group.name());
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port();
                let mut child = Command::new("openssl")
                    .args([
                        "s_server",
                        "-accept",
                        &port.to_string(),
                        "-cert",
                        &cert,
                        "-key",
                        &key,
                        "-www",
                    ])
                    .args(["-naccept", "1"])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap();
                let mut sock = None;
                for _ in 0..100 {
                    if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                        sock = Some(s);
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                let mut sock = sock.unwrap_or_else(|| panic!("{what}: s_server did not listen"));
                sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                    .unwrap();
                // OpenSSL's TLS 1.2 server signs with a P-256 certificate only
                // for a client that lists P-256 (RFC 4492): so does our
                // full provider, and so must this narrowed one.
                let groups = match (suite, group.name()) {
                    (SupportedCipherSuite::Tls12(_), NamedGroup::X25519) => vec![group, &SECP256R1],
                    _ => vec![group],
                };
                let client = client_config(suite, &groups, PinnedCert::new(cred), Arc::default());
                let mut conn = UnbufferedClientConnection::new(
                    client,
                    ServerName::try_from("localhost").unwrap(),
                )
                .unwrap();
                let (mut end, mut out) = (End::default(), Vec::new());
                end.to_send = b"GET / HTTP/1.0\r\n\r\n".to_vec();
                loop {
                    let stop = step_client(&mut conn, &mut end, &mut out)
                        .unwrap_or_else(|e| panic!("{what}: {e:?}"));
                    sock.write_all(&out).unwrap();
                    out.clear();
                    // s_server -www neither closes nor sends close_notify.
                    if stop == Stop::Closed || end.received.ends_with(b"</HTML>\r\n\r\n") {
                        break;
                    }
                    let mut buf = [0u8; 16384];
                    let n = sock.read(&mut buf).unwrap_or_else(|e| {
                        panic!(
                            "{what}: {e} {stop:?} {:?}",
                            String::from_utf8_lossy(&end.received)
                        )
                    });
                    if n == 0 {
                        break;
                    }
                    end.inbox.extend_from_slice(&buf[..n]);
                }
                let _ = child.kill();
                let _ = child.wait();
                let kx = conn.negotiated_key_exchange_group().map(|g| g.name());
                assert_eq!(kx, Some(group.name()), "{what}");
                let page = String::from_utf8_lossy(&end.received);
                assert!(page.starts_with("HTTP/1.0 200 ok"), "{what}: {page}");
                let [_, _, cipher] = openssl_names(suite);
                assert!(
                    page.contains(&std::format!("Cipher is {cipher}")),
                    "{what}: {page}"
                );
            }
        }
    }

    /// Record throughput and handshake cost, for `cargo test --release --lib
    /// tls_speed -- --ignored --nocapture` (numbers, no assertions). The
    /// generic AEAD/HMAC/ECDSA code is instantiated in this crate, so its
    /// opt-level decides: measured on x86_64 at "z", AES-128-GCM 82 MB/s and
    /// 3.8 ms a P-256 handshake pair; with `--config
    /// 'profile.release.package.drift.opt-level=3'`, 1014 MB/s and 1.1 ms.
    #[test]
    #[ignore]
    fn tls_speed() {
        use std::time::Instant;
        std::eprintln!(
            "size_of: Aes128Gcm {} B, Aes256Gcm {} B, ChaCha20Poly1305 {} B",
            size_of::<Aes128Gcm>(),
            size_of::<Aes256Gcm>(),
            size_of::<ChaCha20Poly1305>()
        );
        let record = vec![0x5a_u8; 16384];
        for (name, suite) in [
            ("TLS13_AES_128_GCM", TLS13_AES_128_GCM_SHA256),
            ("TLS13_AES_256_GCM", TLS13_AES_256_GCM_SHA384),
            ("TLS13_CHACHA20", TLS13_CHACHA20_POLY1305_SHA256),
            ("TLS12_AES_128_GCM", TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
        ] {
            let mut enc = match suite {
                SupportedCipherSuite::Tls13(s) => s
                    .aead_alg
                    .encrypter(AeadKey::from([7; 32]), Iv::from([1; 12])),
                SupportedCipherSuite::Tls12(s) => {
                    s.aead_alg
                        .encrypter(AeadKey::from([7; 32]), &[1; 4], &[2; 8])
                }
            };
            let n = 2000u64;
            let t = Instant::now();
            for seq in 0..n {
                let chunks = [&record[..]];
                let msg = OutboundPlainMessage {
                    typ: ContentType::ApplicationData,
                    version: ProtocolVersion::TLSv1_2,
                    payload: rustls::crypto::cipher::OutboundChunks::new(&chunks),
                };
                std::hint::black_box(enc.encrypt(msg, seq).unwrap());
            }
            let secs = t.elapsed().as_secs_f64();
            std::eprintln!("{name}: {:.0} MB/s", (n as f64 * 16384.0) / secs / 1e6);
        }
        let m = material();
        for (name, cred) in [("p256", &m.p256), ("ed25519", &m.ed25519)] {
            let server = server_config(cred, no_tickets());
            let client = client_config(
                TLS13_AES_128_GCM_SHA256,
                &[&X25519],
                PinnedCert::new(cred),
                Arc::default(),
            );
            let t = Instant::now();
            let n = 50;
            for _ in 0..n {
                Pair::new(&client, &server).talk();
            }
            std::eprintln!(
                "handshake pair (client+server) with {name}: {:.2} ms",
                t.elapsed().as_secs_f64() * 1e3 / n as f64
            );
        }
    }
}
