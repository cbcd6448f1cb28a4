//! base64url without padding (`drift::content::base64url`). Properties:
//! any bytes encode to the alphabet, at encoded_len, and decode back to
//! themselves; a text that decodes is the encoding of what it decodes to
//! (one accepted spelling per byte string); nothing panics.
#![no_main]
use drift::content::base64url::{decode, decoded_len, encode, encoded_len, is_alphabet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut text = vec![0u8; encoded_len(data.len())];
    let t = encode(data, &mut text).unwrap();
    assert!(t.bytes().all(is_alphabet));
    let mut back = vec![0u8; data.len()];
    assert_eq!(decode(t.as_bytes(), &mut back), Ok(data));

    let mut out = vec![0u8; decoded_len(data.len())];
    if let Ok(bytes) = decode(data, &mut out) {
        let mut again = vec![0u8; data.len()];
        assert_eq!(encode(bytes, &mut again).map(str::as_bytes), Some(data));
    }
});
