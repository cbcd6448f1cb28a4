//! JSON and combined access-log lines. Properties: a JSON line is exactly
//! one line, parses as one JSON object (serde_json), has every key but
//! `tls` (that one only with TLS), and each string is the field made valid
//! UTF-8 or a start of it ending in `...`; the numbers come back exact; the
//! line fits JSON_MAX. A combined line is one line of printable ASCII and
//! fits COMBINED_MAX.
#![no_main]
use drift::http::log::{COMBINED_MAX, JSON_MAX, Record, combined, json, split_request_line};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // ip 16, ms 8, status 2, bytes 8, duration 8, flags 1; then
    // site \0 user \0 request line \0 user agent \0 referer (a missing
    // part is an absent header)
    let Some((fixed, rest)) = data.split_first_chunk::<43>() else { return };
    let mut parts = rest.split(|&b| b == 0);
    let r = Record {
        ip: fixed[..16].try_into().unwrap(),
        unix_ms: u64::from_le_bytes(fixed[16..24].try_into().unwrap()),
        status: u16::from_le_bytes([fixed[24], fixed[25]]),
        bytes: u64::from_le_bytes(fixed[26..34].try_into().unwrap()),
        duration_us: u64::from_le_bytes(fixed[34..42].try_into().unwrap()),
        tls: [None, Some("TLSv1.2"), Some("TLSv1.3")][usize::from(fixed[42] % 3)],
        site: parts.next().unwrap_or_default(),
        user: parts.next().unwrap_or_default(),
        request_line: parts.next().unwrap_or_default(),
        user_agent: parts.next(),
        referer: parts.next(),
    };

    let mut out = [0u8; JSON_MAX];
    let n = json(&mut out, &r);
    let l = &out[..n];
    assert_eq!(l.iter().position(|&b| b == b'\n'), Some(n - 1), "one line");
    let v: Value = serde_json::from_slice(l).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(l)));
    let obj = v.as_object().unwrap();
    let keys = ["time", "client", "user", "method", "path", "protocol", "status", "bytes", "duration_us", "user_agent", "referer", "site"];
    assert_eq!(obj.len(), keys.len() + usize::from(r.tls.is_some()));
    let parts = split_request_line(r.request_line);
    for (k, field) in [
        ("user", Some(r.user).filter(|u| !u.is_empty())),
        ("method", parts.method),
        ("path", parts.path),
        ("protocol", parts.protocol),
        ("user_agent", r.user_agent),
        ("referer", r.referer),
        ("site", Some(r.site).filter(|s| !s.is_empty())),
        ("tls", r.tls.map(str::as_bytes)),
    ] {
        let got = &obj.get(k).unwrap_or(&Value::Null);
        let Some(field) = field else {
            assert!(got.is_null(), "{k}");
            continue;
        };
        let got = got.as_str().unwrap_or_else(|| panic!("{k} not a string"));
        let whole = String::from_utf8_lossy(field);
        match got.strip_suffix("...") {
            Some(cut) if got != whole => assert!(whole.starts_with(cut), "{k}"),
            _ => assert_eq!(got, whole, "{k}"),
        }
    }
    assert_eq!(obj["status"].as_u64(), Some(u64::from(r.status)));
    assert_eq!(obj["bytes"].as_u64(), Some(r.bytes));
    assert_eq!(obj["duration_us"].as_u64(), Some(r.duration_us));
    assert_eq!(obj["time"].as_str().unwrap().len(), 24);

    let mut out = [0u8; COMBINED_MAX];
    let n = combined(&mut out, &r);
    let l = &out[..n];
    assert_eq!(l.iter().position(|&b| b == b'\n'), Some(n - 1), "one line");
    assert!(l[..n - 1].iter().all(|&b| (0x20..0x7f).contains(&b)), "{:?}", String::from_utf8_lossy(l));
});
