//! `driftd get`'s URL parser, the request it builds, and redirects.
//! Properties: an accepted URL's pieces cannot change the request line or
//! the Host header (no CR, LF, space or control byte); the request is one
//! line, the fixed headers and one blank line; a redirect target is either
//! refused or itself parses as what it says.
#![no_main]
use drift::client::exchange::{redirect_target, request};
use drift::content::url::{Host, parse};
use libfuzzer_sys::fuzz_target;

fn clean(s: &[u8]) -> bool {
    s.iter().all(|&b| b > b' ' && b != 0x7f)
}

fuzz_target!(|data: &[u8]| {
    let (url, location) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(u) = parse(url) else { return };
    assert!(u.port != 0);
    assert!(u.path.first() == Some(&b'/'), "{u:?}");
    assert!(u.query.is_empty() || u.query[0] == b'?');
    assert!(clean(u.authority) && clean(u.path) && clean(u.query), "{u:?}");
    if let Host::Name(n) = u.host {
        assert!(drift::content::url::valid_name(n), "{n:?}");
    }
    let mut out = [0u8; 1024];
    if let Some(req) = request(&u, &mut out) {
        let end = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        assert_eq!(end + 4, req.len(), "one blank line, at the end");
        let line_end = req.windows(2).position(|w| w == b"\r\n").unwrap();
        let line = &req[..line_end];
        assert_eq!(line, [b"GET ", u.path, u.query, b" HTTP/1.1"].concat().as_slice());
        assert!(req.iter().enumerate().all(|(i, &b)| b != b'\n' || req[i - 1] == b'\r'));
    }
    let mut r = [0u8; 2048];
    if let Some(t) = redirect_target(&u, location, &mut r) {
        if let Ok(v) = parse(t) {
            assert!(clean(v.path) && clean(v.authority));
        }
    }
});
