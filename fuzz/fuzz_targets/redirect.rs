//! Redirect rules and the Location they build. Properties: a Location
//! holds no CR, LF, space, NUL or other control byte; it starts with TO
//! up to its `*` or `#`; when TO is a path it never starts with `//` or
//! `/\` (another host to a browser).
#![no_main]
use drift::content::redirect::{MAX_LOCATION, check, location, matches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // FROM \0 TO \0 target: the rule's words, then the request target.
    let mut parts = data.splitn(3, |&b| b == 0);
    let (Some(from), Some(to), Some(target)) = (parts.next(), parts.next(), parts.next()) else { return };
    let Ok(rule) = check(from, to, None) else { return };
    let mut out = vec![0u8; MAX_LOCATION];
    let Some(n) = location(&rule, target, &mut out) else {
        assert!(!matches(&rule, target) || target.len() > drift::http::request::MAX_HEAD);
        return;
    };
    assert!(matches(&rule, target));
    let loc = &out[..n];
    assert!(loc.iter().all(|&b| b > b' ' && b != 0x7f), "{loc:?}");
    let lit = to.iter().position(|&b| b == b'*' || b == b'#').unwrap_or(to.len());
    assert!(loc.starts_with(&to[..lit]), "{loc:?} from {to:?}");
    if rule.is_local() {
        assert!(!loc.starts_with(b"//") && !loc.starts_with(b"/\\"), "{loc:?}");
    }
    let mut small = [0u8; 16];
    if let Some(m) = location(&rule, target, &mut small) {
        assert_eq!(&small[..m], loc);
    }
});
