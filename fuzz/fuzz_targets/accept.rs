//! `Accept` header questions. Properties: never panics; JSON is preferred
//! only if some range names `application/`, or HTML is refused by a
//! `text/` range at q=0 while `*/*` takes the rest; and a navigation is
//! seen only if some range names `text/`.
#![no_main]
use drift::content::accept::{allows_html, prefers_json};
use libfuzzer_sys::fuzz_target;

fn mentions(h: &[u8], what: &[u8]) -> bool {
    h.windows(what.len()).any(|w| w.eq_ignore_ascii_case(what))
}

fuzz_target!(|data: &[u8]| {
    if prefers_json(Some(data)) {
        let html_refused = mentions(data, b"text/") && !allows_html(Some(data));
        assert!(mentions(data, b"application/") || html_refused, "{data:?}");
    }
    if allows_html(Some(data)) {
        assert!(mentions(data, b"text/"), "{data:?}");
        assert!(allows_html(Some(&[data, b",*/*"].concat())));
    }
});
