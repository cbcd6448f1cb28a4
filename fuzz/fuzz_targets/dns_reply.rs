//! DNS replies for the stub resolver. Properties: never a read past the
//! reply or a loop (no panic, bounded time); an address is of the asked
//! family; a reply to another id is never accepted; our own query parses
//! back to no address (QR clear), not to garbage.
#![no_main]
use drift::content::dns::{DnsError, QType, QUERY_MAX, build_query, parse_response};
use drift::content::url::Ip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, msg)) = data.split_first() else { return };
    let qtype = if sel & 1 == 0 { QType::A } else { QType::Aaaa };
    let names: [&[u8]; 3] = [b"example.com", b"a.b", b"localhost"];
    let name = names[usize::from(sel >> 1) % 3];
    let id = msg.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    match parse_response(msg, id, name, qtype) {
        Ok(Ip::V4(_)) => assert_eq!(qtype, QType::A),
        Ok(Ip::V6(_)) => assert_eq!(qtype, QType::Aaaa),
        Err(_) => {}
    }
    assert!(parse_response(msg, id.wrapping_add(1), name, qtype).is_err());
    let mut q = [0u8; QUERY_MAX];
    let query = build_query(name, id, qtype, &mut q).unwrap();
    assert_eq!(parse_response(query, id, name, qtype), Err(DnsError::NotResponse));
    // the message's own bytes as a name to ask for
    let mut q2 = [0u8; QUERY_MAX];
    if let Ok(query) = build_query(msg, id, qtype, &mut q2) {
        assert!(query.len() <= QUERY_MAX);
    }
});
