//! A request head, and the framing decided from it. Properties: a head
//! split at any point (the server re-parses the whole buffer after every
//! read) is incomplete until its last byte, then parses as it does in one
//! piece; a complete head has CRLF line endings only, a target of visible
//! ASCII, and exactly one framing, matching its Content-Length and
//! Transfer-Encoding lines.
#![no_main]
use drift::http::request::{Body, Head, Parsed, parse_head};
use drift_fuzz::{count, crlf_only, cuts, fields};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for max in [8192, 200] {
        let whole = parse_head(data, max);
        let head_len = match whole {
            Parsed::Complete(h) => h.head_len,
            _ => usize::MAX,
        };
        for cut in cuts(data.len()) {
            let part = parse_head(&data[..cut], max);
            if cut < head_len {
                // never complete early; and a partial whole has partial prefixes
                assert!(!matches!(part, Parsed::Complete(_)), "complete at {cut}: {part:?} vs {whole:?}");
                if whole == Parsed::Partial {
                    assert_eq!(part, Parsed::Partial, "cut {cut}");
                }
            } else {
                assert_eq!(part, whole, "cut {cut}");
            }
        }
        if let Parsed::Complete(h) = whole {
            check(&data[..h.head_len], &h);
        }
    }
});

fn check(head: &[u8], h: &Head) {
    assert!(crlf_only(head), "a bare CR or LF in {head:?}");
    let spans = [Some(h.line), Some(h.target), h.host, h.if_none_match, h.if_modified_since, h.range, h.if_range];
    for sp in spans.into_iter().flatten() {
        assert!(sp.start <= sp.end && sp.end as usize <= h.head_len);
    }
    let target = h.target.of(head);
    assert!(target.first() == Some(&b'/') || target == b"*", "target {target:?}");
    assert!(target.iter().all(u8::is_ascii_graphic), "target {target:?}");
    let f = fields(head);
    let (cl, te) = (count(&f, b"content-length"), count(&f, b"transfer-encoding"));
    match h.body {
        Body::None => assert_eq!((cl, te), (0, 0)),
        Body::Length(n) => {
            assert_eq!((cl, te), (1, 0));
            let v = f.iter().find(|(k, _)| k.eq_ignore_ascii_case(b"content-length")).unwrap().1;
            assert!(!v.is_empty() && v.iter().all(u8::is_ascii_digit), "{v:?}");
            assert_eq!(core::str::from_utf8(v).unwrap().parse::<u64>().ok(), Some(n));
        }
        Body::Chunked => {
            assert_eq!(cl, 0);
            assert_eq!(h.minor_version, 1);
            // all the codings of all the lines: exactly `chunked`
            let codings: Vec<&[u8]> = f
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(b"transfer-encoding"))
                .flat_map(|(_, v)| v.split(|&b| b == b',').map(<[u8]>::trim_ascii))
                .collect();
            assert!(codings.len() == 1 && codings[0].eq_ignore_ascii_case(b"chunked"), "{codings:?}");
        }
    }
    if h.minor_version == 1 {
        assert!(h.host.is_some());
    }
}
