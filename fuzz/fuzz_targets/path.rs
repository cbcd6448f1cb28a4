//! Request path -> path under the root, and a symlink's target joined for a
//! walk that resolves links itself. Properties: a resolved path never
//! leaves the root: no leading `/`, no `..` (or `.`, or empty) segment, no
//! NUL or other control byte, no `\` or `%`, no dotfile unless allowed.
#![no_main]
use drift::content::path::{MAX_PATH, join_link, resolve};
use libfuzzer_sys::fuzz_target;

fn safe(p: &[u8], dotfiles: bool) {
    assert!(p.first() != Some(&b'/') && p.last() != Some(&b'/'), "{p:?}");
    for seg in p.split(|&b| b == b'/') {
        if p.is_empty() {
            break;
        }
        assert!(!matches!(seg, [] | [b'.'] | [b'.', b'.']), "segment {seg:?} in {p:?}");
        assert!(dotfiles || seg[0] != b'.', "dotfile in {p:?}");
    }
    assert!(!p.iter().any(|&b| b < 0x20 || b == 0x7f || b == b'\\' || b == b'%'), "{p:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, target)) = data.split_first() else { return };
    let dotfiles = flags & 1 == 1;
    let mut small = [0u8; 64];
    let mut out = [0u8; MAX_PATH];
    for buf in [&mut small[..], &mut out[..]] {
        if let Ok(r) = resolve(target, buf, dotfiles) {
            safe(r.path, dotfiles);
        }
    }
    // join_link(dir, target, rest): dir is a resolved path, the rest raw
    let parts: Vec<&[u8]> = target.splitn(3, |&b| b == 0).collect();
    if let [dir, link, rest] = parts[..] {
        let mut dbuf = [0u8; MAX_PATH];
        let Ok(dir) = resolve(&[b"/", dir].concat(), &mut dbuf, true) else { return };
        let mut j = [0u8; MAX_PATH];
        if let Some(n) = join_link(dir.path, link, rest, &mut j) {
            let p = &j[..n];
            assert!(p.first() != Some(&b'/'), "{p:?}");
            assert!(!p.split(|&b| b == b'/').any(|s| s == b".."), "{p:?}");
        }
    }
});
