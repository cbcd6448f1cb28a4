//! A strict JSON reader (RFC 8259) for what an ACME server sends, and the
//! string escaping its requests need. One validating pass over the whole
//! text, then navigation over text known to be valid, with nothing
//! allocated: strings are decoded into the caller's buffer. It must never
//! accept what RFC 8259 rejects, nor nest deeper than [`MAX_DEPTH`].

/// Objects and arrays nested deeper than this are refused. ACME's objects
/// nest three deep (a problem's subproblems' identifiers); the validator
/// recurses once per level, so this bounds its stack too.
pub const MAX_DEPTH: usize = 32;

/// Why a text is not JSON we accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A byte the grammar does not allow where it is: a missing `,` or
    /// `:`, a leading zero, a bare control byte in a string, a literal
    /// other than `true`, `false`, `null`, or the text cut short.
    Syntax,
    /// The text is not UTF-8 (RFC 8259 §8.1), or starts with a BOM.
    Utf8,
    /// A backslash escape other than RFC 8259's, or a `\u` surrogate
    /// without its other half.
    Escape,
    /// More than [`MAX_DEPTH`] objects and arrays inside each other.
    TooDeep,
    /// Bytes other than whitespace after the value.
    Trailing,
    /// A decoded string is longer than the caller's buffer.
    NoRoom,
}

/// What a value is, by its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

/// One JSON value, borrowed from a text that [`parse`] accepted.
/// INVARIANT: `text` is exactly one valid value, without surrounding
/// whitespace; only `parse` and the iterators below make one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Value<'a> {
    text: &'a [u8],
}

/// A JSON string's contents as sent: between the quotes, escapes not yet
/// decoded. INVARIANT: valid string contents (from a validated text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Str<'a> {
    raw: &'a [u8],
}

/// Checks that `text` is one JSON value (with optional whitespace around
/// it) and returns it. Everything the reader later hands out is inside
/// text this has accepted.
pub fn parse(text: &[u8]) -> Result<Value<'_>, Error> {
    if core::str::from_utf8(text).is_err() || text.starts_with(b"\xef\xbb\xbf") {
        return Err(Error::Utf8);
    }
    let mut c = Check { s: text, at: 0 };
    c.ws();
    let start = c.at;
    c.value(0)?;
    let end = c.at;
    c.ws();
    if c.at != text.len() {
        return Err(Error::Trailing);
    }
    Ok(Value { text: text.get(start..end).unwrap_or_default() })
}

/// The validating pass. Every method leaves `at` just past what it read.
struct Check<'a> {
    s: &'a [u8],
    at: usize,
}

impl Check<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn expect(&mut self, want: u8) -> Result<(), Error> {
        match self.bump() {
            Some(b) if b == want => Ok(()),
            _ => Err(Error::Syntax),
        }
    }

    /// One value starting at `at`, inside `depth` objects and arrays.
    fn value(&mut self, depth: usize) -> Result<(), Error> {
        match self.peek() {
            Some(open @ (b'{' | b'[')) => {
                if depth >= MAX_DEPTH {
                    return Err(Error::TooDeep);
                }
                self.at += 1;
                let close = if open == b'{' { b'}' } else { b']' };
                self.ws();
                if self.peek() == Some(close) {
                    self.at += 1;
                    return Ok(());
                }
                loop {
                    if open == b'{' {
                        self.string()?;
                        self.ws();
                        self.expect(b':')?;
                        self.ws();
                    }
                    self.value(depth + 1)?;
                    self.ws();
                    match self.bump() {
                        Some(b',') => self.ws(),
                        Some(b) if b == close => return Ok(()),
                        _ => return Err(Error::Syntax),
                    }
                }
            }
            Some(b'"') => self.string(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => Err(Error::Syntax),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Error> {
        let rest = self.s.get(self.at..).unwrap_or_default();
        if !rest.starts_with(word) {
            return Err(Error::Syntax);
        }
        self.at += word.len();
        Ok(())
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<(), Error> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.at += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(Error::Syntax); // a leading zero
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Error::Syntax),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(Error::Syntax);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(Error::Syntax);
            }
        }
        Ok(())
    }

    /// A string from its opening quote; the bytes in it are already known
    /// to be UTF-8.
    fn string(&mut self) -> Result<(), Error> {
        self.expect(b'"')?;
        loop {
            match self.bump().ok_or(Error::Syntax)? {
                b'"' => return Ok(()),
                b'\\' => match self.bump().ok_or(Error::Syntax)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        let rest = self.s.get(self.at..).unwrap_or_default();
                        let (_, used) = unicode_escape(rest).ok_or(Error::Escape)?;
                        self.at += used;
                    }
                    _ => return Err(Error::Escape),
                },
                0..=0x1f => return Err(Error::Syntax),
                _ => {}
            }
        }
    }
}

fn hex4(s: &[u8]) -> Option<u32> {
    let digits = s.get(..4)?;
    let mut n = 0;
    for &d in digits {
        n = n * 16 + u32::from(crate::fmt::hex_value(d)?);
    }
    Some(n)
}

/// The character of a `\u` escape whose four hex digits start `s` (a
/// high surrogate takes the `\uDC00`-`\uDFFF` that must follow it), and
/// how many bytes of `s` that was. `None` for a lone surrogate.
fn unicode_escape(s: &[u8]) -> Option<(char, usize)> {
    let hi = hex4(s)?;
    match hi {
        0xd800..=0xdbff => {
            let low = s.get(4..)?.strip_prefix(b"\\u").and_then(hex4)?;
            if !(0xdc00..=0xdfff).contains(&low) {
                return None;
            }
            let c = 0x10000 + ((hi - 0xd800) << 10) + (low - 0xdc00);
            Some((char::from_u32(c)?, 10))
        }
        0xdc00..=0xdfff => None,
        _ => Some((char::from_u32(hi)?, 4)),
    }
}

/// Where the value starting at `text[at]` ends, in a validated text.
fn skip(text: &[u8], at: usize) -> usize {
    match text.get(at) {
        Some(b'"') => string_end(text, at + 1) + 1,
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = at;
            while let Some(&b) = text.get(i) {
                match b {
                    b'"' => i = string_end(text, i + 1),
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            text.len()
        }
        _ => {
            let rest = text.get(at..).unwrap_or_default();
            at + rest
                .iter()
                .position(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'z' | b'E' | b'.' | b'+' | b'-'))
                .unwrap_or(rest.len())
        }
    }
}

/// The index of the quote that closes a string whose contents start at
/// `at`, in a validated text.
fn string_end(text: &[u8], mut at: usize) -> usize {
    while let Some(&b) = text.get(at) {
        match b {
            b'"' => return at,
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
    text.len()
}

fn skip_ws(text: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = text.get(at) {
        at += 1;
    }
    at
}

impl<'a> Value<'a> {
    /// The value's text as it was sent.
    pub fn raw(&self) -> &'a [u8] {
        self.text
    }

    pub fn kind(&self) -> Kind {
        match self.text.first() {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            _ => Kind::Number,
        }
    }

    /// An object's members in the order sent; nothing for other kinds.
    pub fn members(&self) -> Members<'a> {
        let at = if self.kind() == Kind::Object { 1 } else { self.text.len() };
        Members { text: self.text, at }
    }

    /// An array's elements in order; nothing for other kinds.
    pub fn elements(&self) -> Elements<'a> {
        let at = if self.kind() == Kind::Array { 1 } else { self.text.len() };
        Elements { text: self.text, at }
    }

    /// The member called `key` (compared after decoding escapes), if this
    /// is an object that has one. With duplicate names, the first.
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.members().find(|(k, _)| k.is(key)).map(|(_, v)| v)
    }

    pub fn as_str(&self) -> Option<Str<'a>> {
        let raw = self.text.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        Some(Str { raw })
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.text {
            b"true" => Some(true),
            b"false" => Some(false),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        self.text == b"null"
    }

    /// A number written as a non-negative integer (no fraction or
    /// exponent) that fits in a u64.
    pub fn as_u64(&self) -> Option<u64> {
        if !matches!(self.text.first(), Some(b'0'..=b'9')) {
            return None;
        }
        let mut n: u64 = 0;
        for &d in self.text {
            if !d.is_ascii_digit() {
                return None;
            }
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        Some(n)
    }

    /// A number written as an integer (no fraction or exponent) that fits
    /// in an i64.
    pub fn as_i64(&self) -> Option<i64> {
        let (neg, digits) = match self.text.strip_prefix(b"-") {
            Some(d) => (true, d),
            None => (false, self.text),
        };
        if digits.is_empty() {
            return None;
        }
        // Accumulated negatively: i64::MIN has no positive twin.
        let mut n: i64 = 0;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            n = n.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
        }
        if neg { Some(n) } else { n.checked_neg() }
    }
}

/// An object's `(name, value)` pairs.
#[derive(Clone, Debug)]
pub struct Members<'a> {
    text: &'a [u8],
    /// Past the `{` or the previous member's value.
    at: usize,
}

impl<'a> Iterator for Members<'a> {
    type Item = (Str<'a>, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let mut at = skip_ws(self.text, self.at);
        if self.text.get(at) == Some(&b',') {
            at = skip_ws(self.text, at + 1);
        }
        if self.text.get(at) != Some(&b'"') {
            self.at = self.text.len();
            return None;
        }
        let key_end = string_end(self.text, at + 1);
        let key = Str { raw: self.text.get(at + 1..key_end).unwrap_or_default() };
        let colon = skip_ws(self.text, key_end + 1);
        let start = skip_ws(self.text, colon + 1);
        let end = skip(self.text, start);
        self.at = end;
        Some((key, Value { text: self.text.get(start..end)? }))
    }
}

/// An array's elements.
#[derive(Clone, Debug)]
pub struct Elements<'a> {
    text: &'a [u8],
    /// Past the `[` or the previous element.
    at: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut at = skip_ws(self.text, self.at);
        if self.text.get(at) == Some(&b',') {
            at = skip_ws(self.text, at + 1);
        }
        if matches!(self.text.get(at), None | Some(b']')) {
            self.at = self.text.len();
            return None;
        }
        let end = skip(self.text, at);
        self.at = end;
        Some(Value { text: self.text.get(at..end)? })
    }
}

impl<'a> Str<'a> {
    /// The contents as sent, escapes and all.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The contents borrowed from the text, when there is no escape in
    /// them (nothing to decode).
    pub fn as_plain(&self) -> Option<&'a str> {
        if self.raw.contains(&b'\\') {
            return None;
        }
        core::str::from_utf8(self.raw).ok()
    }

    /// The decoded bytes, one at a time.
    pub fn bytes(&self) -> Decoded<'a> {
        Decoded { raw: self.raw, pending: [0; 4], next: 0, len: 0 }
    }

    /// Whether the decoded string is `s`.
    pub fn is(&self, s: &str) -> bool {
        match self.as_plain() {
            Some(plain) => plain == s,
            None => self.bytes().eq(s.bytes()),
        }
    }

    /// The decoded string, written into `out`.
    pub fn decode<'o>(&self, out: &'o mut [u8]) -> Result<&'o str, Error> {
        let mut n = 0;
        for b in self.bytes() {
            *out.get_mut(n).ok_or(Error::NoRoom)? = b;
            n += 1;
        }
        let done = out.get(..n).unwrap_or_default();
        // Always UTF-8: the text was, and every escape decodes to a char.
        core::str::from_utf8(done).map_err(|_| Error::Utf8)
    }

    /// The decoded length in bytes.
    pub fn decoded_len(&self) -> usize {
        self.bytes().count()
    }
}

/// A string's decoded bytes (see [`Str::bytes`]).
#[derive(Clone, Debug)]
pub struct Decoded<'a> {
    raw: &'a [u8],
    /// An escape's UTF-8, `next..len` of it still to hand out.
    pending: [u8; 4],
    next: u8,
    len: u8,
}

impl Iterator for Decoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.next < self.len {
            let b = self.pending.get(usize::from(self.next)).copied();
            self.next += 1;
            return b;
        }
        let (&b, rest) = self.raw.split_first()?;
        if b != b'\\' {
            self.raw = rest;
            return Some(b);
        }
        let (&e, rest) = rest.split_first()?;
        self.raw = rest;
        let c = match e {
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let (c, used) = unicode_escape(rest)?;
                self.raw = rest.get(used..).unwrap_or_default();
                c
            }
            other => char::from(other), // `"`, `\` and `/` stand for themselves
        };
        let len = c.encode_utf8(&mut self.pending).len();
        self.len = len as u8; // at most 4
        self.next = 1;
        self.pending.first().copied()
    }
}

/// Writes `s` as a JSON string, quotes included, into `out`: `"` and `\`
/// escaped, control bytes as `\n`-style or `\u00XX` escapes, the rest as
/// is. The byte count, or `None` if `out` is too small.
pub fn write_str(s: &str, out: &mut [u8]) -> Option<usize> {
    let mut w = 0;
    let mut put = |bytes: &[u8]| -> Option<()> {
        out.get_mut(w..w + bytes.len())?.copy_from_slice(bytes);
        w += bytes.len();
        Some(())
    };
    put(b"\"")?;
    for &b in s.as_bytes() {
        match b {
            b'"' => put(b"\\\"")?,
            b'\\' => put(b"\\\\")?,
            b'\n' => put(b"\\n")?,
            b'\r' => put(b"\\r")?,
            b'\t' => put(b"\\t")?,
            0x08 => put(b"\\b")?,
            0x0c => put(b"\\f")?,
            0..=0x1f => {
                let hex = b"0123456789abcdef";
                let lo = hex.get(usize::from(b & 0xf)).copied().unwrap_or(b'0');
                put(&[b'\\', b'u', b'0', b'0', b'0' + (b >> 4), lo])?
            }
            _ => put(&[b])?,
        }
    }
    put(b"\"")?;
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, accepted?): `y_` rows must parse, `n_` rows must not, in the
    /// manner of JSONTestSuite.
    const CASES: &[(&str, &[u8], Result<(), Error>)] = &[
        ("y_rfc8259_object", br#"{"Image":{"Width":800,"Height":600,"Title":"View from 15th Floor","Thumbnail":{"Url":"http://www.example.com/image/481989943","Height":125,"Width":100},"Animated":false,"IDs":[116,943,234,38793]}}"#, Ok(())),
        ("y_rfc8259_array", br#"[{"precision":"zip","Latitude":37.7668,"Longitude":-122.3959,"Address":"","City":"SAN FRANCISCO","State":"CA","Zip":"94107","Country":"US"}]"#, Ok(())),
        ("y_rfc8259_scalars", b"\"Hello world!\"", Ok(())),
        ("y_number", b"42", Ok(())),
        ("y_true", b"true", Ok(())),
        ("y_null_ws", b" \t\r\nnull \n", Ok(())),
        ("y_empty_object", b"{}", Ok(())),
        ("y_empty_array_ws", b"[ \n ]", Ok(())),
        ("y_neg_zero", b"-0", Ok(())),
        ("y_exp", b"[1E22, 1e-2, 0.5e+3, -1.25]", Ok(())),
        ("y_escapes", br#""\"\\\/\b\f\n\r\t\u0000\u20AC""#, Ok(())),
        ("y_surrogate_pair", br#""\uD834\uDD1E""#, Ok(())),
        ("y_utf8", "\"caf\u{e9} \u{1d11e}\"".as_bytes(), Ok(())),
        ("y_del_in_string", b"\"\x7f\"", Ok(())),
        ("y_duplicate_keys", br#"{"a":1,"a":2}"#, Ok(())),
        ("y_nested_32", b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", Ok(())),
        ("n_empty", b"", Err(Error::Syntax)),
        ("n_ws_only", b"  ", Err(Error::Syntax)),
        ("n_nested_33", b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", Err(Error::TooDeep)),
        ("n_trailing", b"{} x", Err(Error::Trailing)),
        ("n_two_values", b"1 2", Err(Error::Trailing)),
        ("n_trailing_comma_array", b"[1,]", Err(Error::Syntax)),
        ("n_trailing_comma_object", br#"{"a":1,}"#, Err(Error::Syntax)),
        ("n_leading_comma", b"[,1]", Err(Error::Syntax)),
        ("n_missing_colon", br#"{"a" 1}"#, Err(Error::Syntax)),
        ("n_unquoted_key", b"{a:1}", Err(Error::Syntax)),
        ("n_single_quotes", b"['a']", Err(Error::Syntax)),
        ("n_leading_zero", b"01", Err(Error::Syntax)),
        ("n_neg_leading_zero", b"-012", Err(Error::Syntax)),
        ("n_plus", b"+1", Err(Error::Syntax)),
        ("n_dot_only", b"1.", Err(Error::Syntax)),
        ("n_leading_dot", b".5", Err(Error::Syntax)),
        ("n_exp_no_digits", b"1e+", Err(Error::Syntax)),
        ("n_hex", b"0x1", Err(Error::Trailing)),
        ("n_minus_only", b"-", Err(Error::Syntax)),
        ("n_nan", b"NaN", Err(Error::Syntax)),
        ("n_infinity", b"-Infinity", Err(Error::Syntax)),
        ("n_True", b"True", Err(Error::Syntax)),
        ("n_tru", b"tru", Err(Error::Syntax)),
        ("n_nulll", b"nulll", Err(Error::Trailing)),
        ("n_unterminated_string", b"\"abc", Err(Error::Syntax)),
        ("n_unterminated_array", b"[1", Err(Error::Syntax)),
        ("n_unterminated_object", br#"{"a":1"#, Err(Error::Syntax)),
        ("n_close_mismatch", b"[}", Err(Error::Syntax)),
        ("n_raw_newline_in_string", b"\"a\nb\"", Err(Error::Syntax)),
        ("n_raw_tab_in_string", b"\"a\tb\"", Err(Error::Syntax)),
        ("n_nul_in_string", b"\"\x00\"", Err(Error::Syntax)),
        ("n_bad_escape", br#""\x41""#, Err(Error::Escape)),
        ("n_escape_apostrophe", br#""\'""#, Err(Error::Escape)),
        ("n_short_u", br#""\u12""#, Err(Error::Escape)),
        ("n_u_not_hex", br#""\u12G4""#, Err(Error::Escape)),
        ("n_lone_high", br#""\uD834""#, Err(Error::Escape)),
        ("n_lone_high_then_char", br#""\uD834x""#, Err(Error::Escape)),
        ("n_high_high", br#""\uD834\uD834""#, Err(Error::Escape)),
        ("n_lone_low", br#""\uDD1E""#, Err(Error::Escape)),
        ("n_invalid_utf8", b"\"\xff\"", Err(Error::Utf8)),
        ("n_overlong_utf8", b"\"\xc0\xaf\"", Err(Error::Utf8)),
        ("n_utf8_surrogate", b"\"\xed\xa0\x80\"", Err(Error::Utf8)),
        ("n_bom", b"\xef\xbb\xbf{}", Err(Error::Utf8)),
        ("n_comment", b"[1 /* x */]", Err(Error::Syntax)),
        ("n_vertical_tab_ws", b"\x0b1", Err(Error::Syntax)),
        ("n_nbsp_ws", "\u{a0}1".as_bytes(), Err(Error::Syntax)),
    ];

    #[test]
    fn accepts_and_rejects() {
        for (name, text, want) in CASES {
            assert_eq!(parse(text).map(|_| ()), *want, "{name}");
        }
    }

    #[test]
    fn navigates() {
        let doc = parse(CASES[0].1).unwrap();
        let image = doc.get("Image").unwrap();
        assert_eq!(image.kind(), Kind::Object);
        assert_eq!(image.get("Width").and_then(|v| v.as_u64()), Some(800));
        assert_eq!(image.get("Animated").and_then(|v| v.as_bool()), Some(false));
        assert_eq!(image.get("Title").and_then(|v| v.as_str()).and_then(|s| s.as_plain()), Some("View from 15th Floor"));
        let thumb = image.get("Thumbnail").unwrap();
        assert_eq!(thumb.get("Height").and_then(|v| v.as_i64()), Some(125));
        let ids: Vec<u64> = image.get("IDs").unwrap().elements().map(|v| v.as_u64().unwrap()).collect();
        assert_eq!(ids, [116, 943, 234, 38793]);
        assert_eq!(image.get("Missing"), None);
        assert_eq!(image.members().count(), 6);
        let keys: Vec<&str> = image.members().map(|(k, _)| k.as_plain().unwrap()).collect();
        assert_eq!(keys, ["Width", "Height", "Title", "Thumbnail", "Animated", "IDs"]);
        // Scalars have no members or elements; arrays no members.
        assert_eq!(parse(b"3").unwrap().members().count(), 0);
        assert_eq!(parse(b"[1]").unwrap().members().count(), 0);
        assert_eq!(parse(br#"{"a":1}"#).unwrap().elements().count(), 0);

        let arr = parse(CASES[1].1).unwrap();
        let first = arr.elements().next().unwrap();
        assert_eq!(first.get("Latitude").unwrap().raw(), b"37.7668");
        assert_eq!(first.get("Latitude").unwrap().as_u64(), None);
        assert_eq!(first.get("Longitude").unwrap().as_i64(), None);
        assert_eq!(first.get("Address").unwrap().as_str().unwrap().as_plain(), Some(""));

        // Whitespace everywhere the grammar allows it; nested empties.
        let spaced = parse(b" { \"a\" : [ 1 , { } , [ ] , \"x,]}\" ] , \"b\" : null } ").unwrap();
        let a: Vec<&[u8]> = spaced.get("a").unwrap().elements().map(|v| v.raw()).collect();
        assert_eq!(a, [&b"1"[..], b"{ }", b"[ ]", b"\"x,]}\""]);
        assert!(spaced.get("b").unwrap().is_null());
        assert_eq!(parse(br#"{"a":1,"a":2}"#).unwrap().get("a").unwrap().as_u64(), Some(1));
        // Keys match after decoding.
        assert_eq!(parse(br#"{"\u0061b":7}"#).unwrap().get("ab").unwrap().as_u64(), Some(7));
        assert_eq!(parse(br#"{"ab":7}"#).unwrap().get("a"), None);
    }

    #[test]
    fn numbers() {
        let rows: &[(&[u8], Option<u64>, Option<i64>)] = &[
            (b"0", Some(0), Some(0)),
            (b"-0", None, Some(0)),
            (b"18446744073709551615", Some(u64::MAX), None),
            (b"18446744073709551616", None, None),
            (b"9223372036854775807", Some(i64::MAX as u64), Some(i64::MAX)),
            (b"-9223372036854775808", None, Some(i64::MIN)),
            (b"-9223372036854775809", None, None),
            (b"1.0", None, None),
            (b"1e2", None, None),
            (b"-5", None, Some(-5)),
            (b"\"5\"", None, None),
            (b"true", None, None),
        ];
        for &(text, u, i) in rows {
            let v = parse(text).unwrap();
            assert_eq!((v.as_u64(), v.as_i64()), (u, i), "{:?}", core::str::from_utf8(text));
        }
    }

    #[test]
    fn strings_decode() {
        let rows: &[(&[u8], &str)] = &[
            (br#""plain""#, "plain"),
            (br#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{8}\u{c}\n\r\t"),
            (br#""\u0000\u001f""#, "\0\u{1f}"),
            (br#""\u00e9\u20AC""#, "\u{e9}\u{20ac}"),
            (br#""\uD834\uDD1E""#, "\u{1d11e}"),
            (br#""\uDBFF\uDFFF""#, "\u{10ffff}"),
            (br#""https://ca.example/x?a=1\u0026b=2""#, "https://ca.example/x?a=1&b=2"),
            ("\"caf\u{e9}\\n\"".as_bytes(), "caf\u{e9}\n"),
        ];
        for &(text, want) in rows {
            let s = parse(text).unwrap().as_str().unwrap();
            let mut buf = [0u8; 64];
            assert_eq!(s.decode(&mut buf), Ok(want));
            assert!(s.is(want));
            assert_eq!(s.decoded_len(), want.len());
            assert_eq!(s.as_plain().is_some(), !s.raw().contains(&b'\\'));
            let mut small = [0u8; 64];
            let fits = &mut small[..want.len()];
            assert_eq!(s.decode(fits), Ok(want));
            if !want.is_empty() {
                assert_eq!(s.decode(&mut small[..want.len() - 1]), Err(Error::NoRoom));
            }
        }
        assert!(!parse(br#""ab""#).unwrap().as_str().unwrap().is("abc"));
        assert_eq!(parse(b"1").unwrap().as_str(), None);
    }

    #[test]
    fn writes_strings() {
        let rows: &[(&str, &str)] = &[
            ("", "\"\""),
            ("plain", "\"plain\""),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("\n\r\t\u{8}\u{c}", r#""\n\r\t\b\f""#),
            ("\0\u{1}\u{1f}\u{7f}", "\"\\u0000\\u0001\\u001f\u{7f}\""),
            ("/caf\u{e9}", "\"/caf\u{e9}\""),
        ];
        for &(s, want) in rows {
            let mut out = [0u8; 64];
            let n = write_str(s, &mut out).unwrap();
            assert_eq!(&out[..n], want.as_bytes());
            // What we write, we read back as the same string.
            let mut back = [0u8; 64];
            assert_eq!(parse(&out[..n]).unwrap().as_str().unwrap().decode(&mut back), Ok(s));
            assert_eq!(write_str(s, &mut out[..n - 1]), None);
        }
    }
}
