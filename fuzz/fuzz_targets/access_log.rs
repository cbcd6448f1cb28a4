//! Access-log lines. Properties: the request-line field (what the client
//! sent) never holds a raw `"`, CR, LF or control byte: every byte is
//! printable ASCII, `"` and `\` come escaped, the rest as `\xHH`, and
//! unescaping gives back the request line (or its start, before `...`);
//! the line is one line; the address text parses back to the address.
#![no_main]
use drift::http::log::{IP_MAX, LINE_MAX, clf, format_ip};
use libfuzzer_sys::fuzz_target;
use std::net::{Ipv4Addr, Ipv6Addr};

fuzz_target!(|data: &[u8]| {
    let Some((fixed, line)) = data.split_first_chunk::<34>() else { return };
    let ip: [u8; 16] = fixed[..16].try_into().unwrap();
    let secs = u64::from_le_bytes(fixed[16..24].try_into().unwrap()) % 253_402_300_800;
    let status = u16::from_le_bytes([fixed[24], fixed[25]]) % 1000;
    let bytes = u64::from_le_bytes(fixed[26..34].try_into().unwrap());

    let mut a = [0u8; IP_MAX];
    let n = format_ip(&ip, &mut a);
    let text = core::str::from_utf8(&a[..n]).unwrap();
    let back = match text.parse::<Ipv4Addr>() {
        Ok(v4) => v4.to_ipv6_mapped(),
        Err(_) => text.parse::<Ipv6Addr>().unwrap_or_else(|e| panic!("{text}: {e}")),
    };
    assert_eq!(back.octets(), ip, "{text}");

    let mut out = [0u8; LINE_MAX];
    let n = clf(&mut out, b"", &ip, b"", secs, line, status, bytes);
    let l = &out[..n];
    assert_eq!(l.iter().position(|&b| b == b'\n'), Some(n - 1), "one line");
    assert!(l[..n - 1].iter().all(|&b| (0x20..0x7f).contains(&b)), "{:?}", String::from_utf8_lossy(l));
    let open = l.windows(3).position(|w| w == b"] \"").unwrap() + 3;
    let close = l.iter().rposition(|&b| b == b'"').unwrap();
    let field = &l[open..close];
    // unescape; a raw `"` inside the field is a failure
    let mut got = Vec::new();
    let mut i = 0;
    while i < field.len() {
        match field[i] {
            b'\\' => match field.get(i + 1) {
                Some(&c @ (b'"' | b'\\')) => {
                    got.push(c);
                    i += 2;
                }
                Some(b'x') => {
                    let hex = core::str::from_utf8(&field[i + 2..i + 4]).unwrap();
                    got.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 4;
                }
                other => panic!("bad escape {other:?} in {field:?}"),
            },
            b'"' => panic!("raw quote in {field:?}"),
            c => {
                got.push(c);
                i += 1;
            }
        }
    }
    if line.is_empty() {
        assert_eq!(field, b"-");
    } else if let Some(cut) = got.strip_suffix(b"...").filter(|g| g.len() < line.len() && line.starts_with(g)) {
        assert!(line.starts_with(cut));
    } else {
        assert_eq!(got, line);
    }
    assert!(l.ends_with(format!("\" {status} {}\n", if bytes == 0 { "-".into() } else { bytes.to_string() }).as_bytes()));
});
