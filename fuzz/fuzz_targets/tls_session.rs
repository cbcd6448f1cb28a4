//! One TLS connection's records (`drift::tls::session`, what the server's
//! transport feeds from the socket), given whatever a client sends, in the
//! pieces a socket may hand over. The first byte picks the piece sizes and
//! how much plaintext the caller has room for. Properties: nothing panics;
//! a read never hands over more plaintext than there was room for, nor
//! says the peer closed and then hands over more; the records to send
//! never pass what the output can hold; after a failure the caller closes,
//! and the session's memory goes back whole.
#![no_main]
use drift::sys::mem::Pool;
use drift::tls::provider;
use drift::tls::session::{Failure, Session, BLOCK, CIN};
use libfuzzer_sys::fuzz_target;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

fn config() -> Arc<rustls::ServerConfig> {
    static CONFIG: OnceLock<Arc<rustls::ServerConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let cert = CertificateDer::from(include_bytes!("../data/tls-cert.der").to_vec());
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(include_bytes!("../data/tls-key.der").to_vec()));
            let mut c = provider::server_config_builder().with_no_client_auth().with_single_cert(vec![cert], key).unwrap();
            c.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(c)
        })
        .clone()
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::new(BLOCK, 1).unwrap());
}

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, mut input)) = data.split_first() else { return };
    let piece = 1 + usize::from(knobs & 0x0f) * 97; // 1 .. 1456 bytes a read
    let room = [0, 1, 7, 512, 8192, 16384, 20000, 3][usize::from(knobs >> 4) & 7];
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let mut s = Session::new(config()).unwrap();
        assert!(s.lend(&mut pool));
        let mut plain = vec![0u8; room];
        let mut closed = false;
        for _ in 0..256 {
            let space = s.space();
            let n = space.len().min(piece).min(input.len());
            space[..n].copy_from_slice(&input[..n]);
            input = &input[n..];
            s.filled(n);
            match s.read(&mut plain) {
                Ok(got) => {
                    assert!(got <= plain.len(), "handed over {got} into {}", plain.len());
                    assert!(!(closed && got > 0), "plaintext after the peer closed");
                    closed |= s.peer_closed();
                }
                Err(Failure::PlainHttp | Failure::OldVersion | Failure::Protocol | Failure::NoBuffer) => break,
            }
            assert!(s.output().len() <= BLOCK - CIN);
            let out = s.output().len();
            s.sent(out); // the socket took all of it
            if input.is_empty() && n == 0 {
                break;
            }
        }
        s.release(&mut pool);
        drop(s);
        assert!(pool.lend().map(|b| pool.give_back(b)).is_some(), "the block went back");
    });
});
