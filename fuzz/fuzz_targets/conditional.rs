//! Conditional headers: If-None-Match against a file's ETag, and the HTTP
//! dates of If-Modified-Since and If-Range. Properties: `*` and the tag
//! itself match; a list that holds the tag matches; a date that parses
//! lies in 1970..=9999 and formats back to a date that parses to itself.
#![no_main]
use drift::content::validators::{ETAG_MAX, etag, if_none_match_matches};
use drift::http::date::{IMF_LEN, MAX_SECS, format_imf, parse_imf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((meta, header)) = data.split_first_chunk::<16>() else { return };
    let ino = u64::from_le_bytes(meta[..8].try_into().unwrap());
    let mtime = i64::from_le_bytes(meta[8..].try_into().unwrap());
    let mut tag = [0u8; ETAG_MAX];
    let tag = etag(ino, mtime as u64 >> 3, mtime, (ino >> 34) as u32, &mut tag);
    assert!(tag.len() >= 2 && tag[0] == b'"' && tag[tag.len() - 1] == b'"');
    assert!(!tag[1..tag.len() - 1].contains(&b'"'));
    // If-None-Match
    let _ = if_none_match_matches(header, tag);
    assert!(if_none_match_matches(b"*", tag));
    assert!(if_none_match_matches(tag, tag));
    assert!(if_none_match_matches(&[b"W/", tag].concat(), tag));
    // a well-formed list that holds the tag matches wherever it is
    if header.iter().all(|&b| b.is_ascii_graphic() && b != b'"' && b != b',') {
        let other = [b"\"", header, b"\""].concat();
        assert!(if_none_match_matches(&[&other[..], b", ", tag].concat(), tag));
        assert!(if_none_match_matches(&[tag, b" ,", &other[..]].concat(), tag));
        assert_eq!(if_none_match_matches(&other, tag), other == tag);
    }
    // If-Modified-Since and If-Range dates
    if let Some(t) = parse_imf(header) {
        assert!(t <= MAX_SECS, "{t}");
        let mut out = [0u8; IMF_LEN];
        format_imf(t, &mut out);
        assert_eq!(parse_imf(&out), Some(t));
    }
    let t = u64::from_le_bytes(meta[..8].try_into().unwrap()) % (MAX_SECS + 1);
    let mut out = [0u8; IMF_LEN];
    format_imf(t, &mut out);
    assert_eq!(parse_imf(&out), Some(t));
});
