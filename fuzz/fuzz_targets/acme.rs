//! What an ACME server sends (`drift::content::acme`): each object parser,
//! RFC 3339 times, Retry-After and Link, over the same bytes. Properties:
//! nothing panics; a challenge we would answer has a token of 1 to
//! MAX_TOKEN base64url characters (so it can name no other path); an
//! order's or authorization's lists hand out every element; a renewal
//! window ends after it starts; an accepted UTC time reads back as its
//! own digits; a link's URL holds no space or angle bracket.
#![no_main]
use drift::content::acme::{self, Account, Authorization, ChallengeType, Directory, MAX_TOKEN, Order, Problem, RenewalInfo};
use drift::content::base64url::is_alphabet;
use drift::content::json;
use drift::http::date::civil;
use libfuzzer_sys::fuzz_target;

fn count(body: &[u8], key: &str) -> usize {
    json::parse(body).unwrap().get(key).unwrap().elements().count()
}

fuzz_target!(|data: &[u8]| {
    let _ = Directory::parse(data);
    let _ = Account::parse(data);
    if let Ok(o) = Order::parse(data) {
        assert_eq!(o.identifiers().count(), count(data, "identifiers"));
        assert_eq!(o.authorizations().count(), count(data, "authorizations"));
    }
    if let Ok(a) = Authorization::parse(data) {
        assert_eq!(a.challenges().count(), count(data, "challenges"));
        for c in a.challenges() {
            if !matches!(c.kind, ChallengeType::Other(_)) {
                assert!((1..=MAX_TOKEN).contains(&c.token.len()) && c.token.bytes().all(is_alphabet), "{c:?}");
            }
        }
    }
    if let Ok(p) = Problem::parse(data) {
        let _ = p.subproblems().count();
        let _ = p.is("badNonce");
    }
    if let Ok(r) = RenewalInfo::parse(data) {
        assert!(r.start < r.end);
    }
    if let Some(t) = acme::rfc3339(data) {
        if data.len() == 20 && data[19] | 0x20 == b'z' && &data[17..19] != b"60" {
            let c = civil(t);
            let want = format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", c.year, c.month, c.day, c.hour, c.min, c.sec);
            assert!(data[..19].eq_ignore_ascii_case(want.as_bytes()), "{t}");
        }
    }
    let _ = acme::retry_after(data, 1_700_000_000);
    for l in acme::links(data) {
        assert!(!l.url.iter().any(|&b| b <= b' ' || b == b'<' || b == b'>'), "{l:?}");
    }
});
