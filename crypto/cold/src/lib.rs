//! ECDSA P-384 signing for driftd's crypto provider, in a crate of its own
//! so that it is built for size ("z") while the provider is built for
//! speed: the curve's generic code is compiled where it is instantiated,
//! here. Nothing else lives here.
#![no_std]
#![deny(unsafe_code)]

/// A P-384 signing key.
pub struct P384(p384::ecdsa::SigningKey);

impl P384 {
    /// The key for the scalar `secret` (big-endian) and its public point,
    /// uncompressed (04 || x || y); None if `secret` is not a valid scalar.
    #[inline(never)]
    pub fn new(secret: &[u8]) -> Option<(P384, [u8; 97])> {
        let key = p384::ecdsa::SigningKey::from(p384::SecretKey::from_slice(secret).ok()?);
        let point = key.verifying_key().to_encoded_point(false);
        let mut public = [0u8; 97];
        public.copy_from_slice(point.as_bytes());
        Some((P384(key), public))
    }

    /// A deterministic (RFC 6979) ECDSA P-384 / SHA-384 signature of
    /// `message`: (r, s), each 48 bytes big-endian.
    #[inline(never)]
    pub fn sign(&self, message: &[u8]) -> Option<([u8; 48], [u8; 48])> {
        use p384::ecdsa::signature::Signer;
        let sig: p384::ecdsa::Signature = self.0.try_sign(message).ok()?;
        let (r, s) = sig.split_bytes();
        Some((r.into(), s.into()))
    }
}
