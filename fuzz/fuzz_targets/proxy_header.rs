//! PROXY protocol v1/v2 headers. Properties: a header's length is within
//! what was read, and the header alone parses the same; every shorter
//! prefix of a header, or of what still needs more, is `Need` (so reading
//! a byte at a time never stops early); `Need` never outgrows the longest
//! header; a refusal stays a refusal whatever follows.
#![no_main]
use drift::content::proxy::{MAX_V2, Parsed, V1_MAX, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let r = parse(data);
    let end = match r {
        Err(e) => {
            assert!(!e.what().is_empty());
            let more = [data, b"\r\n"].concat();
            assert!(parse(&more).is_err(), "{e:?} then Ok for {more:?}");
            return;
        }
        Ok(Parsed::Need) => {
            let max = if data.first() == Some(&b'P') { V1_MAX } else { MAX_V2 };
            assert!(data.len() < max, "Need after {} bytes", data.len());
            data.len()
        }
        Ok(Parsed::Done { len, .. }) => {
            assert!(len <= data.len());
            assert_eq!(parse(&data[..len]), r);
            len
        }
    };
    for k in 0..end {
        assert_eq!(parse(&data[..k]), Ok(Parsed::Need), "prefix of {k} bytes of {:?}", &data[..end]);
    }
});
