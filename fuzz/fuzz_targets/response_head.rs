//! `driftd get`'s response head and body framing. Properties: a head the
//! client accepts has exactly one framing (no body, Content-Length values
//! that agree, or one `chunked`, never both; neither: until close); a
//! split head is incomplete until its last byte; a body fed in any split
//! gives the same bytes and end as in one piece.
#![no_main]
use drift::client::exchange::{Body, Framing, parse_reply};
use drift_fuzz::{count, cuts, fields};
use libfuzzer_sys::fuzz_target;

fn body(framing: Framing, data: &[u8], cut: Option<usize>) -> (Vec<u8>, bool, String) {
    let mut b = Body::new(framing);
    let mut out = Vec::new();
    let pieces: Vec<&[u8]> = match cut {
        Some(c) => vec![&data[..c], &data[c..]],
        None => vec![data],
    };
    for p in pieces {
        let mut buf = p.to_vec();
        match b.feed(&mut buf) {
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // what came before a broken chunk depends on the split; the error does not
            Err(e) => return (Vec::new(), false, format!("{e:?}")),
        }
        if b.is_done() {
            break;
        }
    }
    (out, b.is_done(), format!("{:?}", b.end()))
}

fuzz_target!(|data: &[u8]| {
    let whole = parse_reply(data);
    let Ok(Some(r)) = whole else {
        for cut in cuts(data.len()) {
            assert!(!matches!(parse_reply(&data[..cut]), Ok(Some(_))), "complete at {cut}");
        }
        return;
    };
    for cut in cuts(r.head_len) {
        assert_eq!(parse_reply(&data[..cut]), Ok(None), "cut {cut}");
    }
    let head = &data[..r.head_len];
    let f = fields(head);
    let (cl, te) = (count(&f, b"content-length"), count(&f, b"transfer-encoding"));
    match r.framing {
        Framing::Empty => assert!(matches!(r.status, 100..=199 | 204 | 304)),
        Framing::Length(n) => {
            assert_eq!(te, 0);
            assert!(cl >= 1);
            for (k, v) in &f {
                if k.eq_ignore_ascii_case(b"content-length") {
                    assert_eq!(core::str::from_utf8(v).unwrap().parse::<u64>().ok(), Some(n));
                }
            }
        }
        Framing::Chunked => assert_eq!((cl, te), (0, 1)),
        Framing::UntilClose => assert_eq!((cl, te), (0, 0)),
    }
    let rest = &data[r.head_len..];
    let one = body(r.framing, rest, None);
    for cut in cuts(rest.len()) {
        assert_eq!(body(r.framing, rest, Some(cut)), one, "body split at {cut}");
    }
});
