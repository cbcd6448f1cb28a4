//! Reason phrases for the status codes driftd sends. Owns only the words;
//! it never decides which status a request earns.

/// One line per status: three digits, then the phrase. A packed string
/// instead of a `match`, whose jump table and string pointers cost more.
const TABLE: &str = "100Continue\n\
200OK\n\
201Created\n\
204No Content\n\
206Partial Content\n\
301Moved Permanently\n\
302Found\n\
304Not Modified\n\
307Temporary Redirect\n\
308Permanent Redirect\n\
400Bad Request\n\
401Unauthorized\n\
403Forbidden\n\
404Not Found\n\
405Method Not Allowed\n\
406Not Acceptable\n\
408Request Timeout\n\
411Length Required\n\
413Content Too Large\n\
414URI Too Long\n\
416Range Not Satisfiable\n\
417Expectation Failed\n\
421Misdirected Request\n\
431Request Header Fields Too Large\n\
500Internal Server Error\n\
501Not Implemented\n\
503Service Unavailable\n\
505HTTP Version Not Supported\n\
507Insufficient Storage\n";

/// The reason phrase for `code`, or `""` for a code driftd never sends
/// (an empty reason phrase is valid on the status line, RFC 9112 §4).
pub fn reason(code: u16) -> &'static str {
    let mut digits = [b'0'; 3];
    let mut n = code;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    if n != 0 {
        return "";
    }
    TABLE
        .split('\n')
        .find(|line| line.as_bytes().get(..3) == Some(&digits[..]))
        .and_then(|line| line.get(3..))
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases() {
        let rows: &[(u16, &str)] = &[
            (100, "Continue"),
            (200, "OK"),
            (206, "Partial Content"),
            (304, "Not Modified"),
            (404, "Not Found"),
            (406, "Not Acceptable"),
            (413, "Content Too Large"),
            (431, "Request Header Fields Too Large"),
            (505, "HTTP Version Not Supported"),
            (507, "Insufficient Storage"),
            (201, "Created"),
            (302, "Found"),
            (307, "Temporary Redirect"),
            (401, "Unauthorized"),
            (421, "Misdirected Request"),
            // never sent: empty
            (0, ""),
            (299, ""),
            (418, ""),
            (999, ""),
            (u16::MAX, ""),
        ];
        for &(code, want) in rows {
            assert_eq!(reason(code), want, "{code}");
        }
    }
}
