//! Request smuggling shapes against `driftd` on both arches: each case sends
//! a suspect message and a second request on one connection, then checks
//! exactly which responses came back (status by status, then the close),
//! and that no hidden request reached the access log. The shapes come from
//! an external corpus (llhttp's strict fixtures, with nginx as reference).
#[macro_use]
mod common;

use common::*;
use std::io::{Read, Write};
use std::time::Duration;

const SECOND: &[u8] = b"GET /second HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

/// Sends `raw` then [`SECOND`] in one write and reads until the server
/// closes: the statuses of every response, in order, and whether bytes
/// that are not a whole response were left over.
fn answers(addr: &str, raw: &[u8]) -> (Vec<u16>, Vec<u8>) {
    let mut c = connect(addr);
    let mut all = raw.to_vec();
    all.extend_from_slice(SECOND);
    c.write_all(&all).unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        match read_some(&mut c, &mut chunk) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            // a reset after the answer (the server closed with input unread)
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e} after {:?}", String::from_utf8_lossy(&got)),
        }
    }
    let mut statuses = Vec::new();
    let mut rest = &got[..];
    while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if rest.len() < end + 4 + len {
            break;
        }
        statuses.push(status);
        rest = &rest[end + 4 + len..];
    }
    (statuses, rest.to_vec())
}

fn smuggling_refused_and_closed(arch: Arch) {
    let Some(s) = start_driftd(arch, &["--workers", "1"], &[]) else { return };
    let addr = s.addr();
    let cases: &[(&str, &[u8], &[u16])] = &[
        // 1. llhttp's fixture: two headers to a bare-LF reader, one to a
        // proxy that splits at CRLF, which then forwards `GET /admin`
        (
            "bare LF in a header line",
            b"GET / HTTP/1.1\r\nHost: a\r\nDummy: x\nContent-Length: 23\r\n\r\nGET /admin HTTP/1.1\r\n\r\n",
            &[400],
        ),
        ("bare LF after the request line", b"GET / HTTP/1.1\nHost: a\r\n\r\n", &[400]),
        ("bare LF ends the head", b"GET / HTTP/1.1\r\nHost: a\r\n\n", &[400]),
        ("bare CR in a header line", b"GET / HTTP/1.1\r\nHost: a\r\nX: y\rContent-Length: 0\r\n\r\n", &[400]),
        // 2. an empty list element: not plain `chunked` (nginx: 501)
        (
            "Transfer-Encoding: chunked,",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
            &[501],
        ),
        (
            "Transfer-Encoding: , chunked",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n",
            &[501],
        ),
        // 3. a request line where a trailer should be
        (
            "request line as a trailer",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n",
            &[400],
        ),
        (
            "folded trailer",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n z\r\n\r\n",
            &[400],
        ),
        // 4. chunk-line and target leniencies
        (
            "blank after the chunk size",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n",
            &[400],
        ),
        (
            "empty chunk extension",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;\r\nx\r\n0\r\n\r\n",
            &[400],
        ),
        ("UTF-8 in the target", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", &[400]),
        ("DEL in the target", b"GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", &[400]),
    ];
    expect_answers(&addr, cases);
    // Nothing hidden was answered: one log line per refusal, none for
    // `/admin` or `/second`.
    assert!(s.wait_stdout(Duration::from_secs(5), |l| l.len() >= cases.len()), "{:?}", s.stdout.lock().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    let log = s.stdout.lock().unwrap().clone();
    assert_eq!(log.len(), cases.len(), "{log:#?}");
    assert!(!log.iter().any(|l| l.contains("/admin") || l.contains("/second")), "{log:#?}");
}

/// Each case sent on a connection of its own: the statuses of what came
/// back, and nothing after the last.
fn expect_answers(addr: &str, cases: &[(&str, &[u8], &[u16])]) {
    for &(what, raw, want) in cases {
        let (got, left) = answers(addr, raw);
        assert_eq!(got, want, "{what}");
        assert!(left.is_empty(), "{what}: trailing bytes {:?}", String::from_utf8_lossy(&left));
    }
}

fn interoperable_shapes_accepted(arch: Arch) {
    let Some(s) = start_driftd(arch, &["--workers", "1"], &[]) else { return };
    let addr = s.addr();
    let many: String = (0..100).map(|i| format!("X-Header-{i}: value {i}\r\n")).collect();
    let many = format!("GET /many HTTP/1.1\r\nHost: a\r\n{many}\r\n");
    assert!(many.len() < 8192);
    let cases: &[(&str, &[u8], &[u16])] = &[
        // 5. absolute-form with an empty path: the path is `/`
        ("absolute-form with a query only", b"GET http://example.com?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", &[200, 200]),
        ("absolute-form without a path", b"GET http://example.com HTTP/1.1\r\nHost: a\r\n\r\n", &[200, 200]),
        // leading zeros past 16 digits, a value that fits
        (
            "chunk size with 24 digits",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n000000000000000000000001\r\nx\r\n0\r\n\r\n",
            &[405, 200],
        ),
        // trailers that are fields are read and dropped
        (
            "valid trailers",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a=\"b;c\"\r\nx\r\n0\r\nX-T: v\r\nY:\r\n\r\n",
            &[405, 200],
        ),
        ("100 header lines", many.as_bytes(), &[200, 200]),
    ];
    expect_answers(&addr, cases);
    assert!(s.wait_stdout(Duration::from_secs(5), |l| l.len() >= 2 * cases.len()), "{:?}", s.stdout.lock().unwrap());
    let log = s.stdout.lock().unwrap().clone();
    assert!(log.iter().any(|l| l.contains("\"GET http://example.com?x=1 HTTP/1.1\" 200")), "{log:#?}");
    // The head limit still holds: 8 KiB of short header lines are fine, one more is 431.
    let fill = |n: usize| format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", "a:\r\n".repeat(n));
    let most = (8192 - fill(0).len()) / 4;
    assert_eq!(request(&addr, fill(most).as_bytes()).status(), 200);
    let mut c = connect(&addr);
    c.write_all(fill(most + 1).as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    assert!(out.starts_with(b"HTTP/1.1 431 "), "{:?}", String::from_utf8_lossy(&out));
}

for_both_arches!(smuggling_refused_and_closed, interoperable_shapes_accepted);
