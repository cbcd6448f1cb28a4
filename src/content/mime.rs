//! File name -> `Content-Type`, from a built-in table keyed by extension.
//! It must never sniff content or guess: an unknown type is
//! `application/octet-stream`, which browsers download instead of render.
//!
//! Text types carry `; charset=utf-8` so a browser never guesses an encoding
//! (the guess is how UTF-7 XSS worked). JavaScript is `text/javascript`, the
//! one type RFC 9239 keeps; JSON has no charset parameter (RFC 8259 defines
//! none: it is always UTF-8).

/// What is sent for anything the table does not know.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// `extension type` lines, lowercase, packed in one string: about half the
/// size of a table of `(&str, &str)` pairs, whose pointers take 32 bytes a row.
const TABLE: &str = "\
html text/html; charset=utf-8
htm text/html; charset=utf-8
css text/css; charset=utf-8
js text/javascript; charset=utf-8
mjs text/javascript; charset=utf-8
json application/json
map application/json
txt text/plain; charset=utf-8
md text/markdown; charset=utf-8
csv text/csv; charset=utf-8
xml text/xml; charset=utf-8
ics text/calendar; charset=utf-8
vtt text/vtt; charset=utf-8
xhtml application/xhtml+xml
rss application/rss+xml
atom application/atom+xml
webmanifest application/manifest+json
wasm application/wasm
pdf application/pdf
svg image/svg+xml
png image/png
jpg image/jpeg
jpeg image/jpeg
gif image/gif
webp image/webp
avif image/avif
ico image/x-icon
bmp image/bmp
woff font/woff
woff2 font/woff2
ttf font/ttf
otf font/otf
mp4 video/mp4
webm video/webm
ogv video/ogg
mp3 audio/mpeg
m4a audio/mp4
ogg audio/ogg
opus audio/ogg
wav audio/wav
flac audio/flac
zip application/zip
gz application/gzip
tar application/x-tar
bz2 application/x-bzip2
xz application/x-xz
zst application/zstd
";

/// The `Content-Type` for `path`, from the extension of its last segment,
/// compared without regard to ASCII case. A name whose only dot is its
/// first byte (`.bashrc`) has no extension.
pub fn content_type(path: &[u8]) -> &'static str {
    let name = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => path.get(i + 1..).unwrap_or_default(),
        None => path,
    };
    let ext = match name.iter().rposition(|&b| b == b'.') {
        Some(0) | None => return OCTET_STREAM,
        Some(i) => name.get(i + 1..).unwrap_or_default(),
    };
    let table = TABLE.as_bytes();
    let mut line = 0;
    while let Some(rest) = table.get(line..) {
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            break;
        };
        let Some(space) = rest.iter().position(|&b| b == b' ') else {
            break;
        };
        if rest
            .get(..space)
            .is_some_and(|e| e.eq_ignore_ascii_case(ext))
        {
            return TABLE
                .get(line + space + 1..line + end)
                .unwrap_or(OCTET_STREAM);
        }
        line += end + 1;
    }
    OCTET_STREAM
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let rows: &[(&[u8], &str)] = &[
            (b"index.html", "text/html; charset=utf-8"),
            (b"a/b/INDEX.HTM", "text/html; charset=utf-8"),
            (b"style.css", "text/css; charset=utf-8"),
            (b"app.js", "text/javascript; charset=utf-8"),
            (b"mod.mjs", "text/javascript; charset=utf-8"),
            (b"data.json", "application/json"),
            (b"app.js.map", "application/json"),
            (b"notes.txt", "text/plain; charset=utf-8"),
            (b"README.md", "text/markdown; charset=utf-8"),
            (b"t.csv", "text/csv; charset=utf-8"),
            (b"feed.xml", "text/xml; charset=utf-8"),
            (b"logo.svg", "image/svg+xml"),
            (b"a.png", "image/png"),
            (b"a.PNG", "image/png"),
            (b"a.jpg", "image/jpeg"),
            (b"a.JpEg", "image/jpeg"),
            (b"a.gif", "image/gif"),
            (b"a.webp", "image/webp"),
            (b"a.avif", "image/avif"),
            (b"favicon.ico", "image/x-icon"),
            (b"m.wasm", "application/wasm"),
            (b"doc.pdf", "application/pdf"),
            (b"a.zip", "application/zip"),
            (b"a.tar.gz", "application/gzip"),
            (b"a.tar", "application/x-tar"),
            (b"v.mp4", "video/mp4"),
            (b"v.webm", "video/webm"),
            (b"s.mp3", "audio/mpeg"),
            (b"s.ogg", "audio/ogg"),
            (b"s.wav", "audio/wav"),
            (b"f.woff", "font/woff"),
            (b"f.woff2", "font/woff2"),
            (b"f.ttf", "font/ttf"),
            (b"f.otf", "font/otf"),
            (b"x.zst", "application/zstd"),
            (b"style.css.zst", "application/zstd"),
            (b"style.css.gz", "application/gzip"),
            (b"site.webmanifest", "application/manifest+json"),
            // Reject rows: no match, nothing guessed.
            (b"", OCTET_STREAM),
            (b"Makefile", OCTET_STREAM),
            (b".bashrc", OCTET_STREAM),
            (b"dir/.htaccess", OCTET_STREAM),
            (b"dir.html/file", OCTET_STREAM),
            (b"a.", OCTET_STREAM),
            (b"a.exe", OCTET_STREAM),
            // Brotli has a content coding but no registered media type
            // (RFC 7932 defines none): a `.br` file asked for by name is
            // bytes, like any other unknown type.
            (b"style.css.br", OCTET_STREAM),
            (b"a.htmlx", OCTET_STREAM),
            (b"a.htm l", OCTET_STREAM),
            (b"a.ht", OCTET_STREAM),
            (b"a.h", OCTET_STREAM),
            (b"a.html\0", OCTET_STREAM),
            (b"a.html ", OCTET_STREAM),
            (b"a.js\n", OCTET_STREAM),
            (b"a.js\nx", OCTET_STREAM),
            (b"a.html text/html", OCTET_STREAM),
            (b"a.\xc3\xa9", OCTET_STREAM),
            (b"/", OCTET_STREAM),
        ];
        for &(path, want) in rows {
            assert_eq!(
                content_type(path),
                want,
                "{:?}",
                String::from_utf8_lossy(path)
            );
        }
    }

    #[test]
    fn every_row_is_reachable_and_well_formed() {
        for line in TABLE.lines() {
            let (ext, ty) = line.split_once(' ').unwrap();
            assert_eq!(ext, ext.to_ascii_lowercase());
            assert!(
                !ty.contains(' ') || ty.ends_with("; charset=utf-8"),
                "{line}"
            );
            assert_eq!(content_type(format!("x.{ext}").as_bytes()), ty);
            assert_eq!(
                content_type(format!("X.{}", ext.to_uppercase()).as_bytes()),
                ty
            );
        }
    }
}
