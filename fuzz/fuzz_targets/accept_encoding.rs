//! Accept-Encoding against the siblings a file has (the first byte's low
//! bits: br, zstd, gzip). Properties: the form chosen exists and is
//! acceptable, no available form weighs more, a tie went to the earlier of
//! br, zstd, gzip, identity; no choice only when nothing available is
//! acceptable; a value cut at a comma and read as two header lines weighs
//! the same as the whole.
#![no_main]
use drift::content::negotiate::{Accept, Coding, Codings};
use libfuzzer_sys::fuzz_target;

/// Tie order: the earlier wins.
const ORDER: [Coding; 4] = [Coding::Br, Coding::Zstd, Coding::Gzip, Coding::Identity];

fuzz_target!(|data: &[u8]| {
    let Some((&bits, value)) = data.split_first() else { return };
    let mut have = Codings::NONE;
    for (i, c) in Coding::SIBLINGS.into_iter().enumerate() {
        if bits & 1 << i != 0 {
            have = have.with(c);
        }
    }
    let a = Accept::parse(value);
    let available = |c: Coding| c == Coding::Identity || have.has(c);
    for c in ORDER {
        assert!(a.weight(c) <= 1000, "{c:?}: {}", a.weight(c));
    }
    for c in Coding::SIBLINGS {
        assert_eq!(a.acceptable().has(c), a.weight(c) > 0, "{c:?}");
    }
    match a.choose(have) {
        Some(c) => {
            assert!(available(c) && a.weight(c) > 0, "{c:?} chosen from {have:?}");
            let rank = ORDER.iter().position(|&o| o == c).unwrap_or(usize::MAX);
            for (i, o) in ORDER.into_iter().enumerate().filter(|&(_, o)| available(o)) {
                assert!(a.weight(o) <= a.weight(c), "{o:?} outweighs {c:?}");
                assert!(i >= rank || a.weight(o) < a.weight(c), "{o:?} ties {c:?} and comes first");
            }
        }
        None => {
            assert!(ORDER.into_iter().filter(|&o| available(o)).all(|o| a.weight(o) == 0));
        }
    }
    // Two header lines add up as one list.
    if let Some(i) = value.iter().position(|&b| b == b',') {
        let mut two = Accept::parse(&value[..i]);
        two.add(&value[i + 1..]);
        assert_eq!(two, a);
    }
});
