//! HTTPS: rustls driven through its unbuffered API, over a crypto provider
//! of our own (RustCrypto, randomness from getrandom(2)). Nothing here does
//! I/O: the server's transport feeds records in and takes records out.
//! This is the only place that names rustls, so that a later move (rustls
//! 0.24 needs std) stays here.
pub mod certs;
pub mod session;

// The provider and the ticket sealer live in their own crate, built at opt-level 3.
pub use drift_crypto::{provider, ticket};
