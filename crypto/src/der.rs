//! The little DER driftd reads and writes: private keys (PKCS#8 and SEC1)
//! for the provider, certificate fields for `drift::tls::certs`, and ECDSA
//! signatures. One bounds-checked reader serves all of them; the `der`
//! crate's generic decoders cost ~27 KB of driftd for the same few fields.

// DER tags (X.690 §8; X.509 and the key formats use only one-byte tags).
pub const BOOLEAN: u8 = 0x01;
pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const OID: u8 = 0x06;
pub const UTF8_STRING: u8 = 0x0c;
pub const PRINTABLE_STRING: u8 = 0x13;
pub const IA5_STRING: u8 = 0x16;
pub const UTC_TIME: u8 = 0x17;
pub const GENERALIZED_TIME: u8 = 0x18;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
/// `[0]`, `[1]` and `[3]` EXPLICIT, constructed: X.509's version and
/// extensions, SEC1's curve and public key, PKCS#8's attributes.
pub const CTX_0: u8 = 0xa0;
pub const CTX_1: u8 = 0xa1;
pub const CTX_3: u8 = 0xa3;
/// `[1]` and `[2]` IMPLICIT, primitive: X.509's unique IDs and dNSName,
/// PKCS#8 v2's public key (a BIT STRING).
pub const CTX_1_PRIM: u8 = 0x81;
pub const CTX_2_PRIM: u8 = 0x82;

// Key algorithm and curve identifiers, as their DER contents bytes.
pub const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]; // 1.2.840.113549.1.1.1
pub const OID_RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a]; // 1.2.840.113549.1.1.10
pub const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]; // 1.2.840.10045.2.1
pub const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]; // 1.2.840.10045.3.1.7
pub const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22]; // 1.3.132.0.34
pub const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23]; // 1.3.132.0.35
pub const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70]; // 1.3.101.112
pub const OID_ED448: &[u8] = &[0x2b, 0x65, 0x71]; // 1.3.101.113

/// A cursor over DER. Every read is all-or-nothing: on `None` the cursor
/// has not moved, so an optional field is a read that may fail.
#[derive(Clone, Copy, Debug)]
pub struct Der<'a>(pub &'a [u8]);

impl<'a> Der<'a> {
    /// The next element's tag and contents. Rejects what DER forbids and
    /// X.509 never needs: multi-byte tags, indefinite or non-minimal lengths,
    /// lengths over four bytes, and lengths past the end of the input.
    pub fn any(&mut self) -> Option<(u8, &'a [u8])> {
        let [tag, first, rest @ ..] = self.0 else { return None };
        if tag & 0x1f == 0x1f {
            return None;
        }
        let (len, rest) = match *first {
            n @ 0..=0x7f => (usize::from(n), rest),
            0x81..=0x84 => {
                let (digits, rest) = rest.split_at_checked(usize::from(first & 0x7f))?;
                if digits.first() == Some(&0) {
                    return None;
                }
                let mut n: usize = 0;
                for &d in digits {
                    n = n.checked_mul(256)?.checked_add(usize::from(d))?;
                }
                if n < 0x80 {
                    return None;
                }
                (n, rest)
            }
            _ => return None,
        };
        let (body, rest) = rest.split_at_checked(len)?;
        self.0 = rest;
        Some((*tag, body))
    }

    /// The next element's contents if its tag is `tag`.
    pub fn take(&mut self, tag: u8) -> Option<&'a [u8]> {
        let mut next = *self;
        match next.any()? {
            (t, body) if t == tag => {
                *self = next;
                Some(body)
            }
            _ => None,
        }
    }

    /// The contents of `input` if it is exactly one element tagged `tag`.
    pub fn only(input: &'a [u8], tag: u8) -> Option<&'a [u8]> {
        let mut d = Der(input);
        let body = d.take(tag)?;
        d.is_empty().then_some(body)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A BIT STRING's bits, if they are whole bytes (no unused bits): what a
/// public key is.
fn whole_bytes(bits: &[u8]) -> Option<&[u8]> {
    match bits {
        [0, bytes @ ..] => Some(bytes),
        _ => None,
    }
}

/// A PKCS#8 PrivateKeyInfo, v1 or v2 (RFC 5958 §2), borrowed from its DER.
#[derive(Debug, PartialEq, Eq)]
pub struct PrivateKeyInfo<'a> {
    /// The AlgorithmIdentifier's OID.
    pub algorithm: &'a [u8],
    /// Its parameters if they are an OID (an EC key's curve); other
    /// parameters (RSA's) are skipped.
    pub curve: Option<&'a [u8]>,
    /// The privateKey OCTET STRING's contents: the algorithm's own encoding
    /// (a SEC1 ECPrivateKey; for Ed25519, an OCTET STRING of the seed).
    pub private_key: &'a [u8],
    /// v2's publicKey, if there.
    pub public_key: Option<&'a [u8]>,
}

impl<'a> PrivateKeyInfo<'a> {
    /// SEQUENCE { version 0 or 1, AlgorithmIdentifier { OID, parameters
    /// OPTIONAL }, privateKey OCTET STRING, [0] attributes OPTIONAL,
    /// [1] publicKey OPTIONAL (v2 only) }, and nothing after it.
    pub fn parse(der: &'a [u8]) -> Option<Self> {
        let mut info = Der(Der::only(der, SEQUENCE)?);
        let version = info.take(INTEGER)?;
        let mut alg = Der(info.take(SEQUENCE)?);
        let private_key = info.take(OCTET_STRING)?;
        let _attributes = info.take(CTX_0);
        let public_key = match info.take(CTX_1_PRIM) {
            Some(bits) => Some(whole_bytes(bits)?),
            None => None,
        };
        match (version, public_key) {
            ([0], None) | ([1], _) => {}
            _ => return None,
        }
        let algorithm = alg.take(OID)?;
        let curve = alg.take(OID);
        if curve.is_none() {
            let _other = alg.any(); // RSA's NULL, RSA-PSS's parameters
        }
        (info.is_empty() && alg.is_empty()).then_some(Self { algorithm, curve, private_key, public_key })
    }
}

/// A SEC1 ECPrivateKey (RFC 5915 §3), borrowed from its DER.
#[derive(Debug, PartialEq, Eq)]
pub struct EcPrivateKey<'a> {
    /// The secret scalar, big-endian.
    pub secret: &'a [u8],
    /// `[0]`: the named curve's OID, if there.
    pub curve: Option<&'a [u8]>,
    /// `[1]`: the public key as an encoded point, if there.
    pub public_key: Option<&'a [u8]>,
}

impl<'a> EcPrivateKey<'a> {
    /// SEQUENCE { version 1, privateKey OCTET STRING, [0] curve OID
    /// OPTIONAL, [1] publicKey BIT STRING OPTIONAL }, and nothing after it.
    pub fn parse(der: &'a [u8]) -> Option<Self> {
        let mut key = Der(Der::only(der, SEQUENCE)?);
        if key.take(INTEGER)? != [1] {
            return None;
        }
        let secret = key.take(OCTET_STRING)?;
        let curve = match key.take(CTX_0) {
            Some(params) => Some(Der::only(params, OID)?),
            None => None,
        };
        let public_key = match key.take(CTX_1) {
            Some(bits) => Some(whole_bytes(Der::only(bits, BIT_STRING)?)?),
            None => None,
        };
        key.is_empty().then_some(Self { secret, curve, public_key })
    }
}

/// An Ed25519 private key, the privateKey of its PKCS#8 (RFC 8410 §7):
/// CurvePrivateKey ::= OCTET STRING, the 32-byte seed.
pub fn ed25519_seed(private_key: &[u8]) -> Option<&[u8; 32]> {
    Der::only(private_key, OCTET_STRING)?.try_into().ok()
}

/// Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279
/// §2.2.3) from the fixed-size big-endian `r` and `s`, as TLS carries an
/// ECDSA signature. At most 2 + 2 × (2 + 49) bytes for P-384.
pub fn ecdsa_signature(r: &[u8], s: &[u8]) -> alloc::vec::Vec<u8> {
    // An INTEGER's contents: no leading zero bytes, then one 0x00 back if
    // the high bit is set (the value is positive).
    fn int(n: &[u8]) -> (bool, &[u8]) {
        let start = n.iter().position(|&b| b != 0).unwrap_or(n.len().saturating_sub(1));
        let n = n.get(start..).unwrap_or_default();
        (n.first().is_some_and(|&b| b & 0x80 != 0), n)
    }
    let (r_pad, r) = int(r);
    let (s_pad, s) = int(s);
    let r_len = r.len() + usize::from(r_pad);
    let s_len = s.len() + usize::from(s_pad);
    let body = 4 + r_len + s_len; // both lengths are under 0x80
    let mut out = alloc::vec::Vec::with_capacity(3 + body);
    out.push(SEQUENCE);
    if body >= 0x80 {
        out.push(0x81);
    }
    // Never over 0xff: each INTEGER is at most 67 bytes (P-521).
    out.push(body as u8);
    for (pad, n, len) in [(r_pad, r, r_len), (s_pad, s, s_len)] {
        out.extend_from_slice(&[INTEGER, len as u8]);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(n);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn der_elements() {
        let long: Vec<u8> = [&[0x04, 0x81, 0x80][..], &[7; 0x80]].concat();
        let long2: Vec<u8> = [&[0x04, 0x82, 0x01, 0x00][..], &[7; 0x100]].concat();
        // Input, and the tag and contents length read from it.
        type Row<'a> = (&'a [u8], Option<(u8, usize)>);
        let rows: &[Row<'_>] = &[
            (&[0x02, 0x01, 0x05], Some((0x02, 1))),
            (&[0x05, 0x00], Some((0x05, 0))),
            (&[0x30, 0x03, 0x02, 0x01, 0x05, 0xff], Some((0x30, 3))), // what follows is the next element's
            (&long, Some((0x04, 0x80))),
            (&long2, Some((0x04, 0x100))),
            (&[], None),
            (&[0x02], None),                                  // no length
            (&[0x02, 0x02, 0x05], None),                      // contents cut short
            (&long[..long.len() - 1], None),
            (&[0x04, 0x81], None),                            // long form without its byte
            (&[0x04, 0x82, 0x01], None),
            (&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5], None),       // long form for a short length
            (&[0x04, 0x82, 0x00, 0x80], None),                // leading zero in the length
            (&[0x04, 0x80, 0x00, 0x00], None),                // indefinite length
            (&[0x04, 0x85, 0x01, 0, 0, 0, 0], None),          // five length bytes
            (&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00], None), // far past the end
            (&[0x04, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], None),
            (&[0x1f, 0x01, 0x00], None),                      // multi-byte tag
            (&[0x3f, 0x81, 0x01, 0x00], None),
        ];
        for &(input, want) in rows {
            let mut d = Der(input);
            let got = d.any();
            assert_eq!(got.map(|(t, b)| (t, b.len())), want, "{input:02x?}");
            if got.is_none() {
                assert_eq!(d.0, input, "a failed read must not move the cursor");
            }
        }
        // A wrong tag is not taken, and leaves the cursor where it was.
        let mut d = Der(&[0x02, 0x01, 0x05, 0x04, 0x00]);
        assert_eq!(d.take(0x04), None);
        assert_eq!(d.take(0x02), Some(&[5u8][..]));
        assert_eq!(d.take(0x04), Some(&[][..]));
        assert!(d.is_empty());
        // `only`: one element, nothing after it.
        assert_eq!(Der::only(&[0x04, 0x01, 0x07], 0x04), Some(&[7u8][..]));
        assert_eq!(Der::only(&[0x04, 0x01, 0x07, 0x00], 0x04), None);
        assert_eq!(Der::only(&[0x04, 0x01, 0x07], 0x02), None);
        assert_eq!(Der::only(&[], 0x04), None);
    }

    /// DER of `tag` around `parts`, short or long form length.
    pub(crate) fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        let body = parts.concat();
        let mut out = vec![tag];
        match body.len() {
            n @ 0..0x80 => out.push(n as u8),
            n @ 0x80..0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend(body);
        out
    }

    fn sec1(parts: &[&[u8]]) -> Vec<u8> {
        tlv(SEQUENCE, parts)
    }

    #[test]
    fn ec_private_keys() {
        let v1 = tlv(INTEGER, &[&[1]]);
        let d = tlv(OCTET_STRING, &[&[9; 32]]);
        let curve = tlv(CTX_0, &[&tlv(OID, &[OID_P256])]);
        let point = [&[4u8][..], &[5; 64]].concat();
        let public = tlv(CTX_1, &[&tlv(BIT_STRING, &[&[0], &point])]);

        let full = sec1(&[&v1, &d, &curve, &public]);
        let want = EcPrivateKey { secret: &[9; 32], curve: Some(OID_P256), public_key: Some(&point) };
        assert_eq!(EcPrivateKey::parse(&full), Some(want));
        let bare = sec1(&[&v1, &d]);
        let want = EcPrivateKey { secret: &[9; 32], curve: None, public_key: None };
        assert_eq!(EcPrivateKey::parse(&bare), Some(want));
        let no_curve = sec1(&[&v1, &d, &public]);
        assert_eq!(EcPrivateKey::parse(&no_curve).unwrap().public_key, Some(&point[..]));

        let rejects: &[(&str, Vec<u8>)] = &[
            ("empty", vec![]),
            ("empty sequence", sec1(&[])),
            ("version 0", sec1(&[&tlv(INTEGER, &[&[0]]), &d])),
            ("version 2", sec1(&[&tlv(INTEGER, &[&[2]]), &d])),
            ("version 01 00", sec1(&[&tlv(INTEGER, &[&[1, 0]]), &d])),
            ("no secret", sec1(&[&v1])),
            ("secret not an octet string", sec1(&[&v1, &tlv(INTEGER, &[&[9; 32]])])),
            ("fields out of order", sec1(&[&v1, &d, &public, &curve])),
            ("curve not an OID", sec1(&[&v1, &d, &tlv(CTX_0, &[&tlv(NULL, &[])])])),
            ("curve OID then more", sec1(&[&v1, &d, &tlv(CTX_0, &[&tlv(OID, &[OID_P256]), &[5, 0]])])),
            ("public key not a bit string", sec1(&[&v1, &d, &tlv(CTX_1, &[&tlv(OCTET_STRING, &[&point])])])),
            ("public key with unused bits", sec1(&[&v1, &d, &tlv(CTX_1, &[&tlv(BIT_STRING, &[&[1], &point])])])),
            ("public key empty bit string", sec1(&[&v1, &d, &tlv(CTX_1, &[&tlv(BIT_STRING, &[])])])),
            ("an extra field", sec1(&[&v1, &d, &curve, &public, &tlv(NULL, &[])])),
            ("bytes after the sequence", [full.clone(), vec![0]].concat()),
            ("wrong outer tag", tlv(SET, &[&v1, &d])),
            ("cut short", full[..full.len() - 1].to_vec()),
        ];
        for (name, der) in rejects {
            assert_eq!(EcPrivateKey::parse(der), None, "{name}");
        }
        for n in 0..full.len() {
            assert_eq!(EcPrivateKey::parse(&full[..n]), None, "{n}");
        }
    }

    #[test]
    fn private_key_infos() {
        let alg = tlv(SEQUENCE, &[&tlv(OID, &[OID_EC_PUBLIC_KEY]), &tlv(OID, &[OID_P384])]);
        let key = tlv(OCTET_STRING, &[&[3; 20]]);
        let v0 = tlv(INTEGER, &[&[0]]);
        let v1 = tlv(INTEGER, &[&[1]]);
        let attrs = tlv(CTX_0, &[&tlv(SEQUENCE, &[])]);
        let public = tlv(CTX_1_PRIM, &[&[0], &[6; 32]]);

        let plain = tlv(SEQUENCE, &[&v0, &alg, &key]);
        let want = PrivateKeyInfo { algorithm: OID_EC_PUBLIC_KEY, curve: Some(OID_P384), private_key: &[3; 20], public_key: None };
        assert_eq!(PrivateKeyInfo::parse(&plain), Some(want));
        let v2 = tlv(SEQUENCE, &[&v1, &alg, &key, &attrs, &public]);
        assert_eq!(PrivateKeyInfo::parse(&v2).unwrap().public_key, Some(&[6u8; 32][..]));
        assert!(PrivateKeyInfo::parse(&tlv(SEQUENCE, &[&v1, &alg, &key])).is_some());
        assert!(PrivateKeyInfo::parse(&tlv(SEQUENCE, &[&v0, &alg, &key, &attrs])).is_some());
        let ed = tlv(SEQUENCE, &[&v0, &tlv(SEQUENCE, &[&tlv(OID, &[OID_ED25519])]), &key]);
        let want = PrivateKeyInfo { algorithm: OID_ED25519, curve: None, private_key: &[3; 20], public_key: None };
        assert_eq!(PrivateKeyInfo::parse(&ed), Some(want));
        let rsa = tlv(SEQUENCE, &[&v0, &tlv(SEQUENCE, &[&tlv(OID, &[OID_RSA]), &tlv(NULL, &[])]), &key]);
        assert_eq!(PrivateKeyInfo::parse(&rsa).unwrap().algorithm, OID_RSA);
        let pss = tlv(SEQUENCE, &[&v0, &tlv(SEQUENCE, &[&tlv(OID, &[OID_RSA_PSS]), &tlv(SEQUENCE, &[])]), &key]);
        let pss = PrivateKeyInfo::parse(&pss).unwrap();
        assert_eq!((pss.algorithm, pss.curve), (OID_RSA_PSS, None));

        let rejects: &[(&str, Vec<u8>)] = &[
            ("empty", vec![]),
            ("empty sequence", tlv(SEQUENCE, &[])),
            ("version 2", tlv(SEQUENCE, &[&tlv(INTEGER, &[&[2]]), &alg, &key])),
            ("version 0 with a public key", tlv(SEQUENCE, &[&v0, &alg, &key, &public])),
            ("no algorithm", tlv(SEQUENCE, &[&v0, &key])),
            ("no key", tlv(SEQUENCE, &[&v0, &alg])),
            ("key not an octet string", tlv(SEQUENCE, &[&v0, &alg, &tlv(BIT_STRING, &[&[0, 3]])])),
            ("algorithm without its OID", tlv(SEQUENCE, &[&v0, &tlv(SEQUENCE, &[&tlv(NULL, &[])]), &key])),
            ("algorithm with two parameters", tlv(SEQUENCE, &[&v0, &tlv(SEQUENCE, &[&tlv(OID, &[OID_EC_PUBLIC_KEY]), &tlv(OID, &[OID_P256]), &tlv(OID, &[OID_P256])]), &key])),
            ("algorithm with two other parameters", tlv(SEQUENCE, &[&v0, &tlv(SEQUENCE, &[&tlv(OID, &[OID_RSA]), &tlv(NULL, &[]), &tlv(NULL, &[])]), &key])),
            ("public key with unused bits", tlv(SEQUENCE, &[&v1, &alg, &key, &tlv(CTX_1_PRIM, &[&[2], &[6; 32]])])),
            ("public key before attributes", tlv(SEQUENCE, &[&v1, &alg, &key, &public, &attrs])),
            ("an extra field", tlv(SEQUENCE, &[&v0, &alg, &key, &tlv(NULL, &[])])),
            ("bytes after the sequence", [plain.clone(), vec![0, 0]].concat()),
        ];
        for (name, der) in rejects {
            assert_eq!(PrivateKeyInfo::parse(der), None, "{name}");
        }
        for n in 0..v2.len() {
            assert_eq!(PrivateKeyInfo::parse(&v2[..n]), None, "{n}");
        }
    }

    #[test]
    fn ed25519_seeds() {
        let seed = tlv(OCTET_STRING, &[&[8; 32]]);
        assert_eq!(ed25519_seed(&seed), Some(&[8; 32]));
        for bad in [tlv(OCTET_STRING, &[&[8; 31]]), tlv(OCTET_STRING, &[&[8; 33]]), tlv(BIT_STRING, &[&[8; 32]]), [seed.clone(), vec![0]].concat(), vec![8; 32], vec![]] {
            assert_eq!(ed25519_seed(&bad), None, "{bad:02x?}");
        }
    }

    #[test]
    fn ecdsa_signatures() {
        let rows: &[(&[u8], &[u8], &[u8])] = &[
            (&[1, 2], &[3, 4], &[0x30, 8, 2, 2, 1, 2, 2, 2, 3, 4]),
            (&[0, 0, 5], &[0, 0x80], &[0x30, 7, 2, 1, 5, 2, 2, 0, 0x80]), // leading zeros go, a sign byte comes
            (&[0, 0], &[0xff], &[0x30, 7, 2, 1, 0, 2, 2, 0, 0xff]),       // zero is one byte
        ];
        for &(r, s, want) in rows {
            assert_eq!(ecdsa_signature(r, s), want);
        }
        // P-384's largest: 2 × (2 + 49) = 102 contents bytes, still short form.
        let big = ecdsa_signature(&[0xff; 48], &[0x80; 48]);
        assert_eq!(&big[..6], &[0x30, 102, 2, 49, 0, 0xff]);
        let mut d = Der(Der::only(&big, SEQUENCE).unwrap());
        assert_eq!(d.take(INTEGER).unwrap(), [&[0][..], &[0xff; 48]].concat());
        assert_eq!(d.take(INTEGER).unwrap(), [&[0][..], &[0x80; 48]].concat());
        assert!(d.is_empty());
        // P-521-sized values need the long form.
        let long = ecdsa_signature(&[0xff; 66], &[0x01; 66]);
        assert_eq!(&long[..6], &[0x30, 0x81, 2 + 67 + 2 + 66, 2, 67, 0]);
        assert_eq!(Der::only(&long, SEQUENCE).map(<[u8]>::len), Some(137));
    }
}
