//! KV keys from request paths, and the temporary names a store writes.
//! Properties: a key taken from a path is a valid key (a plain name, never
//! `.`/`..`, never a temporary name); a temporary name is never a key and
//! is always recognised as temporary.
#![no_main]
use drift::content::kvkey::{MAX_KEY, TEMP_NAME_MAX, is_temp_name, temp_name, valid_key};
use drift::server::files::key_path;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = [0u8; MAX_KEY + 1];
    if let Some(k) = key_path(data, &mut buf) {
        let (&nul, key) = k.split_last().unwrap();
        assert_eq!(nul, 0);
        assert!(valid_key(key) && !key.contains(&0) && !key.contains(&b'/'));
        assert!(!is_temp_name(key) && key != b"." && key != b"..");
        assert!(data.starts_with(key));
    }
    if valid_key(data) {
        assert!(!is_temp_name(data));
        assert!(data.len() <= MAX_KEY && data[0] != b'.');
    }
    let unique = data.iter().fold(0u64, |a, &b| a.rotate_left(5) ^ u64::from(b));
    let mut out = [0u8; TEMP_NAME_MAX];
    let t = temp_name(data, unique, &mut out);
    assert!(!valid_key(t), "{t:?}");
    if valid_key(data) {
        assert!(is_temp_name(t), "{t:?}");
        assert!(t.ends_with(data));
    }
});
