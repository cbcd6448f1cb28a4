//! `Accept` header questions. Properties: never panics; JSON is preferred
//! only if some range names `application/`, or a `text/` range gives HTML
//! less than `*/*` gives the rest (`text/html;q=0, */*` or `text/*;q=0.5,
//! */*;q=0.8`: the most specific range sets a type's weight); and a
//! navigation is seen only if some range names `text/`.
#![no_main]
use drift::content::accept::{allows_html, prefers_json};
use libfuzzer_sys::fuzz_target;

fn mentions(h: &[u8], what: &[u8]) -> bool {
    h.windows(what.len()).any(|w| w.eq_ignore_ascii_case(what))
}

fuzz_target!(|data: &[u8]| {
    if prefers_json(Some(data)) {
        let html_outweighed = mentions(data, b"text/") && mentions(data, b"*/*");
        assert!(mentions(data, b"application/") || html_outweighed, "{data:?}");
    }
    if allows_html(Some(data)) {
        assert!(mentions(data, b"text/"), "{data:?}");
        assert!(allows_html(Some(&[data, b",*/*"].concat())));
    }
});
