//! driftd's TLS crypto, without libc: a rustls `CryptoProvider` over
//! RustCrypto (`provider`), the session-ticket sealer shared by forked
//! workers (`ticket`), the little DER driftd reads (`der`, keys here and
//! certificates in `drift::tls::certs`), and the two system calls they need
//! (`sys`). It is its own crate only to be built at opt-level 3 (see
//! Cargo.toml).
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod acme;
pub mod der;
pub mod provider;
pub mod sys;
pub mod ticket;
