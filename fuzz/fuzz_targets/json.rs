//! The JSON reader (`drift::content::json`), over any bytes. Properties:
//! nothing panics; what it accepts, serde_json accepts (bar numbers past
//! f64's range), and what serde_json accepts we accept unless it nests
//! past MAX_DEPTH or starts with a BOM; nothing accepted nests deeper than
//! MAX_DEPTH; an accepted text written back out (strings decoded, then
//! escaped again) is accepted, means the same to serde_json, and writes
//! back out to itself.
#![no_main]
use drift::content::json::{self, Kind, MAX_DEPTH, Value};
use libfuzzer_sys::fuzz_target;

/// `v` without whitespace, strings re-escaped; returns its depth.
fn write(v: Value<'_>, out: &mut Vec<u8>) -> usize {
    match v.kind() {
        Kind::Object | Kind::Array => {
            let obj = v.kind() == Kind::Object;
            out.push(if obj { b'{' } else { b'[' });
            let mut depth = 0;
            let mut first = true;
            let mut sep = |out: &mut Vec<u8>| {
                if !std::mem::replace(&mut first, false) {
                    out.push(b',');
                }
            };
            if obj {
                for (k, m) in v.members() {
                    sep(out);
                    string(k, out);
                    out.push(b':');
                    depth = depth.max(write(m, out));
                }
            } else {
                for e in v.elements() {
                    sep(out);
                    depth = depth.max(write(e, out));
                }
            }
            out.push(if obj { b'}' } else { b']' });
            depth + 1
        }
        Kind::String => {
            string(v.as_str().unwrap(), out);
            0
        }
        _ => {
            out.extend_from_slice(v.raw());
            0
        }
    }
}

fn string(s: json::Str<'_>, out: &mut Vec<u8>) {
    let mut buf = vec![0u8; s.decoded_len()];
    let text = s.decode(&mut buf).expect("an accepted string decodes");
    assert!(s.is(text));
    if let Some(plain) = s.as_plain() {
        assert_eq!(plain, text);
    }
    let mut esc = vec![0u8; 2 + 6 * text.len()];
    let n = json::write_str(text, &mut esc).unwrap();
    out.extend_from_slice(&esc[..n]);
}

fuzz_target!(|data: &[u8]| {
    let ours = json::parse(data);
    let theirs = serde_json::from_slice::<serde_json::Value>(data);
    match (&ours, &theirs) {
        (Ok(_), Err(e)) => assert!(e.to_string().contains("number out of range"), "we accept, serde_json: {e}"),
        (Err(e), Ok(_)) => assert!(*e == json::Error::TooDeep || data.starts_with(b"\xef\xbb\xbf"), "{e:?}"),
        _ => {}
    }
    let Ok(v) = ours else { return };
    let mut canon = Vec::new();
    let depth = write(v, &mut canon);
    assert!(depth <= MAX_DEPTH);
    let again = json::parse(&canon).expect("what we write back is JSON");
    let mut twice = Vec::new();
    write(again, &mut twice);
    assert_eq!(canon, twice);
    if let (Ok(a), Ok(b)) = (theirs, serde_json::from_slice::<serde_json::Value>(&canon)) {
        assert_eq!(a, b);
    }
});
