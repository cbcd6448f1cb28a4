//! The chunked body decoder. Properties: any split of the input (in two at
//! every point, and one byte at a time) decodes to the same body, stops at
//! the same byte and fails the same way as the whole in one piece; a call
//! never writes more than it reads, and stops early only when done.
#![no_main]
use drift::http::chunked::{ChunkError, ChunkedDecoder};
use drift_fuzz::cuts;
use libfuzzer_sys::fuzz_target;

/// (body, bytes consumed, done) or the error; `pieces` are the split points.
fn run(data: &[u8], pieces: &[usize]) -> Result<(Vec<u8>, usize, bool), ChunkError> {
    let mut d = ChunkedDecoder::new();
    let mut body = Vec::new();
    let mut used = 0;
    let mut from = 0;
    for &to in pieces.iter().chain([data.len()].iter()) {
        let mut buf = data[from..to].to_vec();
        from = to;
        let p = d.decode(&mut buf)?;
        assert!(p.written <= p.consumed && p.consumed <= buf.len());
        assert!(p.done || p.consumed == buf.len(), "stopped early without being done");
        assert_eq!(p.done, d.is_done());
        body.extend_from_slice(&buf[..p.written]);
        used += p.consumed;
        assert!(d.total() >= body.len() as u64);
        if p.done {
            // done is sticky: nothing more is taken
            let mut more = data[to..].to_vec();
            let again = d.decode(&mut more).unwrap();
            assert_eq!((again.consumed, again.written, again.done), (0, 0, true));
            return Ok((body, used, true));
        }
    }
    Ok((body, used, false))
}

fuzz_target!(|data: &[u8]| {
    let whole = run(data, &[]);
    for cut in cuts(data.len()) {
        assert_eq!(run(data, &[cut]), whole, "split at {cut}");
    }
    if data.len() <= 512 {
        let bytes: Vec<usize> = (1..data.len()).collect();
        assert_eq!(run(data, &bytes), whole, "one byte at a time");
    }
    // an error is sticky
    let mut d = ChunkedDecoder::new();
    let mut buf = data.to_vec();
    if let Err(e) = d.decode(&mut buf) {
        assert_eq!(d.decode(&mut [b'0', b'\r', b'\n']), Err(e));
    }
});
