//! A directory listing as an HTML page or a JSON array, written into the
//! caller's buffer from entries the caller collected (the server's
//! `listing::collect` reads them with getdents64). It must never let a file
//! name become markup, a link to another site, or a break in the JSON.
//!
//! Order: folders first, then files, each group by name in byte order (no
//! locale: the same folder lists the same way everywhere).
//! Times are UTC: the HTML shows `2026-12-06 05:11` (a column headed
//! "Modified (UTC)"), the JSON RFC 3339 `2026-12-06T05:11:12Z`.
//! Names that are not UTF-8 are shown with each invalid sequence replaced
//! by U+FFFD (as `String::from_utf8_lossy` does), in the HTML text and the
//! JSON alike; the HTML link keeps the real bytes, percent-encoded, so the
//! file can still be fetched from the page.

use crate::http::date::{civil, two_digits};
use crate::http::response::Out;

/// Entries one listing holds. A folder browsed by hand is far smaller;
/// past this the listing is cut short (and the HTML says so) rather than
/// take more memory: 1024 × 32 bytes of [`Entry`].
pub const MAX_ENTRIES: usize = 1024;
/// Bytes of names one listing holds: 1024 names of 32 bytes on average.
/// A folder of long names fills this first and is cut short the same way.
pub const MAX_NAMES: usize = 32 * 1024;
/// Bytes of an HTML row besides its name (the markup, a 20-digit size, the
/// time), and of the page besides its rows (head, title, `../`, footer).
const ROW_FIXED: usize = 128;
const PAGE_FIXED: usize = 1024;
/// An output buffer this large holds any listing that fits [`MAX_ENTRIES`]
/// and [`MAX_NAMES`], in either format: a name byte becomes at most 11
/// (3 in the href's `%XX`, 8 in the text's `&#xFFFD;`); a byte of the
/// folder's path 16 (it is shown twice, in the title and the heading).
pub const MAX_LISTING: usize = MAX_NAMES * 11 + MAX_ENTRIES * ROW_FIXED + PAGE_FIXED + 16 * crate::content::path::MAX_PATH;

/// The listing or its output did not fit the caller's buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// One file or folder. Its name lives in the [`Listing`]'s name buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// INVARIANT: `names[name_at..name_at + name_len]` is the name.
    name_at: u32,
    name_len: u32,
    pub is_dir: bool,
    /// Bytes; not shown for folders.
    pub size: u64,
    /// Seconds since 1970 (earlier times are shown as 1970).
    pub mtime: i64,
}

/// Entries collected into the caller's arrays (no heap): `entries` of
/// [`MAX_ENTRIES`] and `names` of [`MAX_NAMES`] are the intended sizes.
pub struct Listing<'a> {
    entries: &'a mut [Entry],
    names: &'a mut [u8],
    /// INVARIANT: len <= entries.len(); names_len <= names.len().
    len: usize,
    names_len: usize,
    truncated: bool,
}

impl<'a> Listing<'a> {
    pub fn new(entries: &'a mut [Entry], names: &'a mut [u8]) -> Self {
        Listing { entries, names, len: 0, names_len: 0, truncated: false }
    }

    /// Adds an entry; `Err(Full)` (and the listing is marked cut short)
    /// when either buffer has no room for it.
    pub fn push(&mut self, name: &[u8], is_dir: bool, size: u64, mtime: i64) -> Result<(), Full> {
        let end = self.names_len.checked_add(name.len()).filter(|&e| e <= u32::MAX as usize);
        let (Some(slot), Some(end)) = (self.entries.get_mut(self.len), end) else {
            self.truncated = true;
            return Err(Full);
        };
        let Some(dst) = self.names.get_mut(self.names_len..end) else {
            self.truncated = true;
            return Err(Full);
        };
        dst.copy_from_slice(name);
        *slot = Entry { name_at: self.names_len as u32, name_len: name.len() as u32, is_dir, size, mtime };
        self.len += 1;
        self.names_len = end;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Some entry did not fit: the listing shows only part of the folder.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The entries in their current order, with their names.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        let names = &*self.names;
        self.entries.get(..self.len).unwrap_or_default().iter().map(move |e| (name_of(names, e), e))
    }

    /// Folders first, then files; each by name, byte order. A heapsort:
    /// no buffer, n log n, and some 2.5 KB smaller than core's
    /// `sort_unstable_by` in the binary (measured on aarch64). Names in one
    /// folder are unique, so that it is not stable does not show.
    pub fn sort(&mut self) {
        let names = &*self.names;
        let Some(v) = self.entries.get_mut(..self.len) else { return };
        let before = |a: &Entry, b: &Entry| (!a.is_dir, name_of(names, a)) < (!b.is_dir, name_of(names, b));
        for i in (0..v.len() / 2).rev() {
            sift_down(v, i, &before);
        }
        for end in (1..v.len()).rev() {
            v.swap(0, end);
            sift_down(v.get_mut(..end).unwrap_or_default(), 0, &before);
        }
    }
}

/// Moves `v[i]` down the max-heap `v` (ordered by `before`) to its place.
fn sift_down(v: &mut [Entry], mut i: usize, before: &impl Fn(&Entry, &Entry) -> bool) {
    loop {
        let l = 2 * i + 1;
        let Some(left) = v.get(l) else { return };
        let c = match v.get(l + 1) {
            Some(right) if before(left, right) => l + 1,
            _ => l,
        };
        match (v.get(i), v.get(c)) {
            (Some(a), Some(b)) if before(a, b) => v.swap(i, c),
            _ => return,
        }
        i = c;
    }
}

fn name_of<'n>(names: &'n [u8], e: &Entry) -> &'n [u8] {
    let at = e.name_at as usize;
    names.get(at..at + e.name_len as usize).unwrap_or_default()
}

/// Writes the HTML page for the folder at `dir` (its path under the root
/// as `content::path::resolve` gives it: no leading or trailing `/`, empty
/// for the root), sorting `list` first. Returns the page's length.
pub fn html(list: &mut Listing<'_>, dir: &[u8], out: &mut [u8]) -> Result<usize, Full> {
    list.sort();
    let mut w = Out::new(out);
    w.push(b"<!doctype html>\n<html lang=\"en\">\n<meta charset=\"utf-8\">\n");
    w.push(b"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    w.push(b"<title>Index of ");
    push_dir(&mut w, dir);
    w.push(b"</title>\n<style>td,th{padding:0 1em 0 0;text-align:left}td+td{text-align:right}</style>\n");
    w.push(b"<h1>Index of ");
    push_dir(&mut w, dir);
    w.push(b"</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n");
    if !dir.is_empty() {
        w.push(b"<tr><td><a href=\"../\">../</a></td><td>-</td><td></td></tr>\n");
    }
    for (name, e) in list.iter() {
        // `./` first: a name with a `:` (`x:y`) must not read as a scheme.
        w.push(b"<tr><td><a href=\"./");
        push_href(&mut w, name);
        let slash: &[u8] = if e.is_dir { b"/" } else { b"" };
        w.push(slash).push(b"\">");
        push_text(&mut w, name);
        w.push(slash).push(b"</a></td><td>");
        if e.is_dir {
            w.byte(b'-');
        } else {
            w.u64(e.size);
        }
        w.push(b"</td><td>");
        push_time(&mut w, e.mtime, false);
        w.push(b"</td></tr>\n");
    }
    w.push(b"</table>\n");
    if list.truncated() {
        w.push(b"<p>Only the first ").u64(list.len() as u64).push(b" entries are shown.</p>\n");
    }
    w.push(b"</html>\n");
    if w.is_full() { Err(Full) } else { Ok(w.len()) }
}

/// Writes the JSON array `[{"name":"a","type":"file","size":1,"mtime":
/// "2026-12-06T05:11:12Z"},{"name":"d","type":"directory","mtime":...}]`
/// (folders have no `size`), sorting `list` first. Returns its length.
pub fn json(list: &mut Listing<'_>, out: &mut [u8]) -> Result<usize, Full> {
    list.sort();
    let mut w = Out::new(out);
    w.byte(b'[');
    for (i, (name, e)) in list.iter().enumerate() {
        if i > 0 {
            w.byte(b',');
        }
        w.push(b"{\"name\":\"");
        push_json(&mut w, name);
        if e.is_dir {
            w.push(b"\",\"type\":\"directory\"");
        } else {
            w.push(b"\",\"type\":\"file\",\"size\":").u64(e.size);
        }
        w.push(b",\"mtime\":\"");
        push_time(&mut w, e.mtime, true);
        w.push(b"\"}");
    }
    w.byte(b']');
    if w.is_full() { Err(Full) } else { Ok(w.len()) }
}

/// `/dir/` (or `/`), escaped for HTML text.
fn push_dir(w: &mut Out<'_>, dir: &[u8]) {
    w.byte(b'/');
    if !dir.is_empty() {
        push_text(w, dir);
        w.byte(b'/');
    }
}

/// Every byte outside RFC 3986's unreserved set as `%XX`: the link names
/// exactly this file, whatever its bytes, and cannot leave the folder.
fn push_href(w: &mut Out<'_>, name: &[u8]) {
    for &b in name {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            w.byte(b);
        } else {
            push_hex(w, b'%', b);
        }
    }
}

fn push_hex(w: &mut Out<'_>, prefix: u8, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    w.push(&[prefix, HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
}

/// HTML text (also safe in a quoted attribute): the five markup bytes as
/// entities; control bytes (never meant to be shown, and parse errors in
/// HTML) and invalid UTF-8 as U+FFFD.
fn push_text(w: &mut Out<'_>, s: &[u8]) {
    for chunk in s.utf8_chunks() {
        for &b in chunk.valid().as_bytes() {
            match b {
                b'&' => w.push(b"&amp;"),
                b'<' => w.push(b"&lt;"),
                b'>' => w.push(b"&gt;"),
                b'"' => w.push(b"&quot;"),
                b'\'' => w.push(b"&#39;"),
                0..0x20 | 0x7f => w.push(b"&#xFFFD;"),
                _ => w.byte(b),
            };
        }
        if !chunk.invalid().is_empty() {
            w.push(b"&#xFFFD;");
        }
    }
}

/// The inside of a JSON string (RFC 8259 §7): `"` and `\` escaped, control
/// bytes as `\u00XX`, invalid UTF-8 as `\uFFFD`.
fn push_json(w: &mut Out<'_>, s: &[u8]) {
    for chunk in s.utf8_chunks() {
        for &b in chunk.valid().as_bytes() {
            match b {
                b'"' => w.push(b"\\\""),
                b'\\' => w.push(b"\\\\"),
                0..0x20 => {
                    w.push(b"\\u00");
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    w.push(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
                }
                _ => w.byte(b),
            };
        }
        if !chunk.invalid().is_empty() {
            w.push(b"\\uFFFD");
        }
    }
}

/// `2026-12-06 05:11`, or with `rfc3339` `2026-12-06T05:11:12Z`.
fn push_time(w: &mut Out<'_>, secs: i64, rfc3339: bool) {
    let c = civil(u64::try_from(secs).unwrap_or(0));
    let mut t = *b"0000-00-00T00:00:00Z";
    two_digits(&mut t[0..], (c.year / 100) as u8);
    two_digits(&mut t[2..], (c.year % 100) as u8);
    two_digits(&mut t[5..], c.month);
    two_digits(&mut t[8..], c.day);
    two_digits(&mut t[11..], c.hour);
    two_digits(&mut t[14..], c.min);
    two_digits(&mut t[17..], c.sec);
    if rfc3339 {
        w.push(&t);
    } else {
        t[10] = b' ';
        w.push(&t[..16]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_796_533_872; // 2026-12-06T05:11:12Z

    fn render(entries: &[(&[u8], bool, u64)], dir: &str, json_form: bool) -> Result<String, Full> {
        let mut e = [Entry::default(); 16];
        let mut n = [0u8; 1024];
        let mut list = Listing::new(&mut e, &mut n);
        for &(name, is_dir, size) in entries {
            list.push(name, is_dir, size, T).unwrap();
        }
        let mut out = vec![0u8; 8192];
        let len = if json_form { json(&mut list, &mut out)? } else { html(&mut list, dir.as_bytes(), &mut out)? };
        Ok(String::from_utf8(out[..len].to_vec()).expect("output is UTF-8"))
    }

    /// The table rows of a page, without the header row.
    fn rows(page: &str) -> Vec<&str> {
        page.lines().filter(|l| l.starts_with("<tr><td>")).collect()
    }

    #[test]
    fn html_rows() {
        #[rustfmt::skip]
        let table: &[(&[u8], bool, u64, &str)] = &[
            (b"a b", false, 12, r#"<tr><td><a href="./a%20b">a b</a></td><td>12</td><td>2026-12-06 05:11</td></tr>"#),
            (b"<b>&\"x'.txt", false, 0, r#"<tr><td><a href="./%3Cb%3E%26%22x%27.txt">&lt;b&gt;&amp;&quot;x&#39;.txt</a></td><td>0</td><td>2026-12-06 05:11</td></tr>"#),
            (b"100%", false, 1, r#"<tr><td><a href="./100%25">100%</a></td><td>1</td><td>2026-12-06 05:11</td></tr>"#),
            (b"x:y", false, 1, r#"<tr><td><a href="./x%3Ay">x:y</a></td><td>1</td><td>2026-12-06 05:11</td></tr>"#),
            (b"javascript:alert(1)", false, 1, r#"<tr><td><a href="./javascript%3Aalert%281%29">javascript:alert(1)</a></td><td>1</td><td>2026-12-06 05:11</td></tr>"#),
            (b"docs", true, 4096, r#"<tr><td><a href="./docs/">docs/</a></td><td>-</td><td>2026-12-06 05:11</td></tr>"#),
            (b"caf\xc3\xa9", false, 3, r#"<tr><td><a href="./caf%C3%A9">café</a></td><td>3</td><td>2026-12-06 05:11</td></tr>"#),
            (b"bad\xff\xfe", false, 3, r#"<tr><td><a href="./bad%FF%FE">bad&#xFFFD;&#xFFFD;</a></td><td>3</td><td>2026-12-06 05:11</td></tr>"#),
            (b"new\nline\x1b", false, 3, r#"<tr><td><a href="./new%0Aline%1B">new&#xFFFD;line&#xFFFD;</a></td><td>3</td><td>2026-12-06 05:11</td></tr>"#),
            (b"~a-b_c.d", false, u64::MAX, r#"<tr><td><a href="./~a-b_c.d">~a-b_c.d</a></td><td>18446744073709551615</td><td>2026-12-06 05:11</td></tr>"#),
        ];
        for &(name, is_dir, size, want) in table {
            let page = render(&[(name, is_dir, size)], "", false).unwrap();
            assert_eq!(rows(&page), [want], "{name:?}");
        }
    }

    #[test]
    fn html_page() {
        let page = render(&[(b"b", false, 1), (b"a", true, 0)], "", false).unwrap();
        assert!(page.starts_with("<!doctype html>\n"));
        assert!(page.contains("<title>Index of /</title>"));
        assert!(page.contains("<h1>Index of /</h1>"));
        assert!(!page.contains("../"), "no parent link at the root");
        assert!(page.ends_with("</table>\n</html>\n"));
        let page = render(&[], "a <b>/c&d", false).unwrap();
        assert!(page.contains("<title>Index of /a &lt;b&gt;/c&amp;d/</title>"));
        assert_eq!(rows(&page), [r#"<tr><td><a href="../">../</a></td><td>-</td><td></td></tr>"#]);
    }

    #[test]
    fn order() {
        let names: &[(&[u8], bool, u64)] =
            &[(b"b.txt", false, 1), (b"Z", true, 0), (b"a.txt", false, 1), (b"A.txt", false, 1), (b"c", true, 0), (b"\xc3\xa9", false, 1), (b"_", true, 0)];
        let want = ["Z/", "_/", "c/", "A.txt", "a.txt", "b.txt", "é"];
        let page = render(names, "x", false).unwrap();
        let shown: Vec<&str> = rows(&page).iter().skip(1).map(|r| r.split('>').nth(3).unwrap().trim_end_matches("</a")).collect();
        assert_eq!(shown, want);
        let json = render(names, "x", true).unwrap();
        let shown: Vec<&str> = json.split("\"name\":\"").skip(1).map(|s| s.split('"').next().unwrap()).collect();
        assert_eq!(shown, want.map(|n| n.trim_end_matches('/')));
    }

    #[test]
    fn sort_matches_a_reference() {
        // Lengths around the heap's shapes, names in scrambled orders.
        for n in 0..40usize {
            let mut e = vec![Entry::default(); n];
            let mut names = vec![0u8; n * 4];
            let mut list = Listing::new(&mut e, &mut names);
            let mut want = vec![];
            for i in 0..n {
                let k = (i * 7919 + n * 31) % 97;
                let name = format!("{k:03}");
                list.push(name.as_bytes(), k % 3 == 0, 0, T).unwrap();
                want.push((k % 3 != 0, name));
            }
            want.sort();
            list.sort();
            let got: Vec<(bool, String)> = list.iter().map(|(n, e)| (!e.is_dir, String::from_utf8(n.to_vec()).unwrap())).collect();
            assert_eq!(got, want, "{n}");
        }
    }

    #[test]
    fn json_rows() {
        #[rustfmt::skip]
        let table: &[(&[u8], bool, u64, &str)] = &[
            (b"a b", false, 12, r#"[{"name":"a b","type":"file","size":12,"mtime":"2026-12-06T05:11:12Z"}]"#),
            (b"dir", true, 4096, r#"[{"name":"dir","type":"directory","mtime":"2026-12-06T05:11:12Z"}]"#),
            (b"q\"b\\s", false, 0, r#"[{"name":"q\"b\\s","type":"file","size":0,"mtime":"2026-12-06T05:11:12Z"}]"#),
            (b"\x01\n\x1f\x7f", false, 0, r#"[{"name":"\u0001\u000a\u001f","type":"file","size":0,"mtime":"2026-12-06T05:11:12Z"}]"#),
            (b"<b>&'", false, 0, r#"[{"name":"<b>&'","type":"file","size":0,"mtime":"2026-12-06T05:11:12Z"}]"#),
            (b"caf\xc3\xa9", false, 0, r#"[{"name":"café","type":"file","size":0,"mtime":"2026-12-06T05:11:12Z"}]"#),
            (b"x\xffy\xc3", false, 0, r#"[{"name":"x\uFFFDy\uFFFD","type":"file","size":0,"mtime":"2026-12-06T05:11:12Z"}]"#),
        ];
        for &(name, is_dir, size, want) in table {
            let got = render(&[(name, is_dir, size)], "", true).unwrap();
            assert_eq!(got.replace('\x7f', ""), want, "{name:?}");
        }
        assert_eq!(render(&[(b"a", false, 1), (b"b", true, 0)], "", true).unwrap().matches("},{").count(), 1);
    }

    #[test]
    fn empty_folder() {
        assert_eq!(render(&[], "", true).unwrap(), "[]");
        let page = render(&[], "", false).unwrap();
        assert_eq!(rows(&page), Vec::<&str>::new());
        assert!(page.contains("</table>"));
    }

    #[test]
    fn times() {
        for (secs, short, long) in [
            (0, "1970-01-01 00:00", "1970-01-01T00:00:00Z"),
            (-5, "1970-01-01 00:00", "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29 00:00", "2000-02-29T00:00:00Z"),
            (i64::MAX, "9999-12-31 23:59", "9999-12-31T23:59:59Z"),
        ] {
            let mut b = [0u8; 36];
            let mut w = Out::new(&mut b);
            push_time(&mut w, secs, false);
            push_time(&mut w, secs, true);
            let n = w.len();
            assert_eq!(&b[..n], [short, long].concat().as_bytes());
        }
    }

    #[test]
    fn overflow() {
        // Entries: the array, then the name buffer, runs out.
        let mut e = [Entry::default(); 2];
        let mut n = [0u8; 8];
        let mut list = Listing::new(&mut e, &mut n);
        assert_eq!(list.push(b"abc", false, 1, T), Ok(()));
        assert!(!list.truncated());
        assert_eq!(list.push(b"defghi", false, 1, T), Err(Full));
        assert!(list.truncated());
        assert_eq!(list.push(b"de", false, 1, T), Ok(()));
        assert_eq!(list.push(b"", false, 1, T), Err(Full));
        assert_eq!(list.len(), 2);
        let mut out = [0u8; 2048];
        let len = html(&mut list, b"", &mut out).unwrap();
        let page = core::str::from_utf8(&out[..len]).unwrap();
        assert!(page.contains("<p>Only the first 2 entries are shown.</p>"));
        // Output: every short buffer is refused, never cut.
        let full = json(&mut list, &mut out).unwrap();
        for short in 0..full {
            assert_eq!(json(&mut list, &mut out[..short]), Err(Full), "{short}");
        }
        let mut small = [0u8; 64];
        assert_eq!(html(&mut list, b"", &mut small), Err(Full));
    }

    #[test]
    fn worst_case_fits() {
        // Names of bytes that grow the most, filling both capacities.
        let mut e = vec![Entry::default(); MAX_ENTRIES];
        let mut n = vec![0u8; MAX_NAMES];
        let mut list = Listing::new(&mut e, &mut n);
        let per = MAX_NAMES / MAX_ENTRIES;
        for i in 0..MAX_ENTRIES {
            let mut name = vec![0x01u8; per];
            name[..4].copy_from_slice(&(i as u32).to_be_bytes());
            list.push(&name, i % 2 == 0, u64::MAX, i64::MAX).unwrap();
        }
        let dir = vec![b'\x01'; crate::content::path::MAX_PATH];
        let mut out = vec![0u8; MAX_LISTING];
        assert!(html(&mut list, &dir, &mut out).is_ok());
        assert!(json(&mut list, &mut out).is_ok());
    }
}
