//! The Range header against a file of some length. Properties: a partial
//! answer lies inside the file; its Content-Range names the same bytes.
#![no_main]
use drift::content::range::{CONTENT_RANGE_MAX, RangeReq, format_content_range, parse_range};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((len, h)) = data.split_first_chunk::<8>() else { return };
    // small lengths are where the edges are; big ones find overflow
    let raw = u64::from_le_bytes(*len);
    for len in [raw, raw % 1000, 0, 1, u64::MAX] {
        let r = parse_range(h, len);
        let mut out = [0u8; CONTENT_RANGE_MAX];
        let text = format_content_range(r, len, &mut out).to_vec();
        match r {
            RangeReq::Partial { start, end_inclusive } => {
                assert!(start <= end_inclusive && end_inclusive < len, "{r:?} of {len}");
                assert_eq!(text, format!("bytes {start}-{end_inclusive}/{len}").into_bytes());
            }
            RangeReq::Unsatisfiable => assert_eq!(text, format!("bytes */{len}").into_bytes()),
            RangeReq::Full => {}
        }
    }
});
