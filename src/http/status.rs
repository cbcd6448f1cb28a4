//! Reason phrases for the status codes driftd sends. Owns only the words;
//! it never decides which status a request earns.

/// The reason phrase for `code`, or `""` for a code driftd never sends
/// (an empty reason phrase is valid on the status line, RFC 9112 §4).
pub fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
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
            (413, "Content Too Large"),
            (431, "Request Header Fields Too Large"),
            (505, "HTTP Version Not Supported"),
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
