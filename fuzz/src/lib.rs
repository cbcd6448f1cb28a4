//! What the targets share: where to split an input when checking that a
//! split decodes as the whole does.

/// Cut points in `1..n`: all of them for short inputs, else 48 spread
/// evenly plus the last few (where "almost complete" lives), so a target
/// stays fast on long inputs.
pub fn cuts(n: usize) -> Vec<usize> {
    if n <= 128 {
        return (1..n).collect();
    }
    let mut v: Vec<usize> = (1..48).map(|i| i * n / 48).collect();
    v.extend(n.saturating_sub(4)..n);
    v.dedup();
    v
}

/// Every `\n` has a `\r` before it and every `\r` a `\n` after it.
pub fn crlf_only(b: &[u8]) -> bool {
    b.iter().enumerate().all(|(i, &c)| match c {
        b'\n' => i > 0 && b[i - 1] == b'\r',
        b'\r' => b.get(i + 1) == Some(&b'\n'),
        _ => true,
    })
}

/// The header lines of a head that is CRLF-only: (name, value) pairs,
/// after the first line, up to the blank line.
pub fn fields(head: &[u8]) -> Vec<(&[u8], &[u8])> {
    let start = head.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(head.len());
    let mut out = Vec::new();
    for line in head[start..].split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|&b| b == b':').expect("a field line has a colon");
        out.push((&line[..colon], line[colon + 1..].trim_ascii()));
    }
    out
}

/// How many fields are called `name` (any case).
pub fn count(fields: &[(&[u8], &[u8])], name: &[u8]) -> usize {
    fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count()
}
