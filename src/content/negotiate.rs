//! `Accept-Encoding` -> which stored form of a file to send: as it is, or a
//! precompressed `NAME.br`, `NAME.zst` or `NAME.gz` beside it (RFC 9110
//! §12.5.3). It only weighs what the client said against what exists; it
//! never compresses, and never fails on what a client sends: an element it
//! cannot read is skipped, as if it were not there.

/// A form of a file. The discriminant indexes a cached entry's forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Coding {
    /// The file as it is.
    Identity = 0,
    Br = 1,
    Zstd = 2,
    Gzip = 3,
}

impl Coding {
    /// The precompressed forms, in the order a tie prefers them: for the
    /// same text, brotli's output is usually the smallest, then zstd's,
    /// then gzip's.
    pub const SIBLINGS: [Coding; 3] = [Coding::Br, Coding::Zstd, Coding::Gzip];

    /// What the sibling's file name adds to `NAME` (`.zst`, not `.zstd`:
    /// the suffix the zstd tool writes).
    pub fn suffix(self) -> &'static [u8] {
        match self {
            Coding::Identity => b"",
            Coding::Br => b".br",
            Coding::Zstd => b".zst",
            Coding::Gzip => b".gz",
        }
    }

    /// The `Content-Encoding` value (IANA's content coding registry).
    pub fn token(self) -> &'static [u8] {
        match self {
            Coding::Identity => b"identity",
            Coding::Br => b"br",
            Coding::Zstd => b"zstd",
            Coding::Gzip => b"gzip",
        }
    }
}

/// A set of codings: which siblings exist, or which a client takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Codings(u8);

impl Codings {
    pub const NONE: Codings = Codings(0);
    /// Every sibling: what a cache, which answers every client, looks for.
    pub const ALL: Codings = Codings(0b1110);

    pub fn with(self, c: Coding) -> Codings {
        Codings(self.0 | 1 << c as u8)
    }
    pub fn has(self, c: Coding) -> bool {
        self.0 & 1 << c as u8 != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Where `*`'s weight is kept, after the codings'.
const ANY: usize = 4;
/// A coding the header did not name.
const UNSET: u16 = u16::MAX;
/// The weight of `identity` when the header does not name it: acceptable,
/// but below any coding the client named (RFC 9110 §12.5.3 makes it
/// acceptable "by default", without a weight; ranking it last means
/// `gzip;q=0.5` alone still gets gzip).
const IDENTITY_DEFAULT: u16 = 1;

/// What a request's `Accept-Encoding` says, read once with the head: the
/// weight, in thousandths, of each coding driftd can send and of `*`.
/// Ten bytes, so the request head stays small; codings driftd has no
/// files for (`deflate`, `compress`) are not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accept {
    /// INVARIANT: each is 0..=1000, or UNSET. Indexed by `Coding`, then ANY.
    q: [u16; 5],
}

impl Default for Accept {
    fn default() -> Self {
        Accept::NONE
    }
}

impl Accept {
    /// No `Accept-Encoding`: the file as it is. RFC 9110 lets a server send
    /// any coding then; like nginx, driftd sends none, since a client that
    /// sends no header (curl without `--compressed`, scripts) expects the
    /// bytes on disk.
    pub const NONE: Accept = Accept { q: [UNSET; 5] };

    /// Reads one `Accept-Encoding` value into `self`. Several header lines
    /// add up as one list; a coding named twice keeps its later weight.
    // Out of line: the head parser is inlined into the connection's loop,
    // and only heads that carry the header need this (112 bytes less on
    // x86_64, whose budget is the tightest).
    #[inline(never)]
    pub fn add(&mut self, value: &[u8]) {
        for e in value.split(|&b| b == b',') {
            if let Some((i, q)) = element(e)
                && let Some(slot) = self.q.get_mut(i)
            {
                *slot = q;
            }
        }
    }

    /// The header value `value` read on its own.
    pub fn parse(value: &[u8]) -> Accept {
        let mut a = Accept::NONE;
        a.add(value);
        a
    }

    /// How much the client wants `c`, in thousandths; 0: not acceptable.
    /// A coding not named takes `*`'s weight, or 0 without `*`. `identity`
    /// not named is acceptable unless `*;q=0` refuses it.
    pub fn weight(&self, c: Coding) -> u16 {
        let q = |i: usize| self.q.get(i).copied().unwrap_or(UNSET);
        match (q(c as usize), q(ANY)) {
            (UNSET, 0) => 0,
            (UNSET, _) if c == Coding::Identity => IDENTITY_DEFAULT,
            (UNSET, UNSET) => 0,
            (UNSET, any) => any,
            (named, _) => named,
        }
    }

    /// The siblings worth looking for: those the client takes at all.
    pub fn acceptable(&self) -> Codings {
        let mut set = Codings::NONE;
        for c in Coding::SIBLINGS {
            if self.weight(c) > 0 {
                set = set.with(c);
            }
        }
        set
    }

    /// The form to send, given the siblings that exist: the highest weight
    /// wins, a tie goes to br, then zstd, then gzip, then the file as it is.
    /// `None` when nothing that exists is acceptable, which can only be when
    /// the client refused identity (`identity;q=0`, or `*;q=0` without
    /// naming identity): the answer is then 406. nginx sends the file as it
    /// is anyway; RFC 9110 §12.5.3 allows either, and driftd takes the 406
    /// because the client said, in so many words, that it cannot use that.
    pub fn choose(&self, have: Codings) -> Option<Coding> {
        let mut best = None;
        let mut best_q = 0;
        for c in [Coding::Br, Coding::Zstd, Coding::Gzip, Coding::Identity] {
            let q = self.weight(c);
            if q > best_q && (c == Coding::Identity || have.has(c)) {
                best = Some(c);
                best_q = q;
            }
        }
        best
    }
}

/// One list element, `coding [ OWS ";" OWS "q=" qvalue ]`: where its weight
/// goes and the weight. `None` for a coding not kept, and for an element
/// that is malformed (a parameter other than one `q`, a bad qvalue).
fn element(e: &[u8]) -> Option<(usize, u16)> {
    let mut parts = e.split(|&b| b == b';');
    let name = parts.next().unwrap_or_default().trim_ascii();
    let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
    let i = if is(b"br") {
        Coding::Br as usize
    } else if is(b"zstd") {
        Coding::Zstd as usize
    } else if is(b"gzip") || is(b"x-gzip") {
        // x-gzip: RFC 9110 §8.4.1.3 asks recipients to take it as gzip
        Coding::Gzip as usize
    } else if is(b"identity") {
        Coding::Identity as usize
    } else if name == b"*" {
        ANY
    } else {
        return None;
    };
    let q = match (parts.next(), parts.next()) {
        (None, _) => 1000,
        (Some(p), None) => match p.trim_ascii() {
            [b'q' | b'Q', b'=', v @ ..] => qvalue(v)?,
            _ => return None,
        },
        (Some(_), Some(_)) => return None,
    };
    Some((i, q))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in
/// thousandths.
fn qvalue(v: &[u8]) -> Option<u16> {
    let (&int, rest) = v.split_first()?;
    let frac = match rest {
        [] => &[][..],
        [b'.', f @ ..] if f.len() <= 3 => f,
        _ => return None,
    };
    let mut q = match int {
        b'0' => 0u16,
        b'1' => 1000,
        _ => return None,
    };
    for (&d, scale) in frac.iter().zip([100, 10, 1]) {
        if !d.is_ascii_digit() {
            return None;
        }
        q += u16::from(d - b'0') * scale;
    }
    (q <= 1000).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Coding::*;

    const ALL3: Codings = Codings::ALL;

    fn set(cs: &[Coding]) -> Codings {
        cs.iter().fold(Codings::NONE, |s, &c| s.with(c))
    }

    #[test]
    fn qvalues() {
        let rows: &[(&str, Option<u16>)] = &[
            ("0", Some(0)),
            ("1", Some(1000)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.001", Some(1)),
            ("0.999", Some(999)),
            ("0.", Some(0)),
            ("1.", Some(1000)),
            ("1.0", Some(1000)),
            ("1.000", Some(1000)),
            ("0.000", Some(0)),
            // reject rows
            ("", None),
            ("1.0001", None),
            ("0.0001", None),
            ("1.001", None),
            ("1.5", None),
            ("2", None),
            (".5", None),
            ("0,5", None),
            ("0.5 ", None),
            (" 0.5", None),
            ("-0", None),
            ("+1", None),
            ("0.a", None),
            ("01", None),
            ("1e0", None),
        ];
        for &(v, want) in rows {
            assert_eq!(qvalue(v.as_bytes()), want, "{v:?}");
        }
    }

    /// (header, which siblings exist, what is sent; None: 406)
    #[test]
    fn choices() {
        let rows: &[(&str, Codings, Option<Coding>)] = &[
            // what a browser sends
            ("gzip, deflate, br, zstd", ALL3, Some(Br)),
            ("gzip, deflate, br, zstd", set(&[Zstd, Gzip]), Some(Zstd)),
            ("gzip, deflate, br, zstd", set(&[Gzip]), Some(Gzip)),
            ("gzip, deflate, br, zstd", Codings::NONE, Some(Identity)),
            ("gzip, deflate, br", set(&[Zstd]), Some(Identity)),
            // weights
            ("br;q=1, gzip;q=0.5", ALL3, Some(Br)),
            ("br;q=0.5, gzip;q=1", ALL3, Some(Gzip)),
            ("br;q=0.5, gzip", ALL3, Some(Gzip)),
            ("gzip;q=0.5, br;q=0.5", ALL3, Some(Br)), // a tie: br first
            ("gzip;q=0.5, zstd;q=0.5", ALL3, Some(Zstd)),
            ("zstd;q=0.9, br;q=0.8, gzip", ALL3, Some(Gzip)),
            ("zstd;q=0.9, br;q=0.8", ALL3, Some(Zstd)),
            ("br;q=0.001", set(&[Br]), Some(Br)), // beats identity not named
            ("br;q=0.5, identity", set(&[Br]), Some(Identity)),
            ("br;q=0.5, identity;q=0.5", set(&[Br]), Some(Br)), // a tie: identity last
            ("identity;q=0.9, gzip", set(&[Gzip]), Some(Gzip)),
            ("gzip;q=0.5", Codings::NONE, Some(Identity)),
            // `*` covers what is not named
            ("*", ALL3, Some(Br)),
            ("*", set(&[Gzip]), Some(Gzip)),
            ("*", Codings::NONE, Some(Identity)),
            ("*;q=0.5, gzip", ALL3, Some(Gzip)),
            ("*;q=0.5, br;q=0.1", set(&[Br, Zstd]), Some(Zstd)),
            ("br;q=0, *", ALL3, Some(Zstd)),
            ("*, br;q=0", set(&[Br]), Some(Identity)),
            ("gzip;q=0, *", set(&[Gzip]), Some(Identity)), // a named refusal beats `*`
            // refusals
            ("gzip;q=0", ALL3, Some(Identity)),
            ("br;q=0, zstd;q=0.000, gzip;q=0.", ALL3, Some(Identity)),
            ("identity;q=0", Codings::NONE, None),
            ("identity;q=0", set(&[Br]), None),
            ("identity;q=0, br", set(&[Br]), Some(Br)),
            ("identity;q=0, br", set(&[Gzip]), None),
            ("*;q=0", Codings::NONE, None),
            ("*;q=0", ALL3, None),
            ("*;q=0, gzip", ALL3, Some(Gzip)),
            ("*;q=0, identity", ALL3, Some(Identity)),
            ("*;q=0, identity;q=0.5", set(&[Br]), Some(Identity)),
            ("*;q=0, identity;q=0", ALL3, None),
            ("identity;q=0, *", set(&[Zstd]), Some(Zstd)),
            // no codings said: the file as it is
            ("", ALL3, Some(Identity)),
            ("  ", ALL3, Some(Identity)),
            (",,", ALL3, Some(Identity)),
            ("identity", ALL3, Some(Identity)),
            ("deflate, compress", ALL3, Some(Identity)),
            // spelling: case, whitespace, aliases
            ("GZIP", ALL3, Some(Gzip)),
            ("Br;Q=0.5, X-GZIP;q=0.4", ALL3, Some(Br)),
            ("x-gzip", set(&[Gzip]), Some(Gzip)),
            (" \tbr \t; \tq=0.7 , gzip;q=0.6\t", ALL3, Some(Br)),
            ("zstd ;q=1", set(&[Zstd]), Some(Zstd)),
            (",br,,", set(&[Br]), Some(Br)),
            ("gzip, gzip;q=0", set(&[Gzip]), Some(Identity)), // the later one counts
            ("gzip;q=0, gzip", set(&[Gzip]), Some(Gzip)),
            // malformed elements are skipped, the rest still counts
            ("br;q=1.0001, gzip", ALL3, Some(Gzip)),
            ("br;q=2", set(&[Br]), Some(Identity)),
            ("br;q=, gzip;q=0.5", ALL3, Some(Gzip)),
            ("br;q = 0.5", set(&[Br]), Some(Identity)),
            ("br;level=5", set(&[Br]), Some(Identity)),
            ("br;q=0.5;q=0.6", set(&[Br]), Some(Identity)),
            ("br;", set(&[Br]), Some(Identity)),
            ("identity;q=x", Codings::NONE, Some(Identity)), // a refusal that does not parse refuses nothing
            ("*;q=0.", set(&[Br]), None),
            ("brotli, zst, gz, gzipx", ALL3, Some(Identity)),
            ("\"br\"", set(&[Br]), Some(Identity)),
            ("br gzip", ALL3, Some(Identity)),
        ];
        for &(h, have, want) in rows {
            let a = Accept::parse(h.as_bytes());
            assert_eq!(a.choose(have), want, "{h:?} with {have:?}");
            if let Some(c) = want {
                assert!(a.weight(c) > 0 && (c == Identity || have.has(c)), "{h:?}");
            }
        }
    }

    #[test]
    fn acceptable_and_weights() {
        // (header, the siblings worth a look, identity's weight)
        let rows: &[(&str, Codings, u16)] = &[
            ("", Codings::NONE, IDENTITY_DEFAULT),
            ("gzip", set(&[Gzip]), IDENTITY_DEFAULT),
            ("br;q=0.2, zstd;q=0.1", set(&[Br, Zstd]), IDENTITY_DEFAULT),
            ("*", ALL3, IDENTITY_DEFAULT),
            ("*;q=0.3", ALL3, IDENTITY_DEFAULT),
            ("*, gzip;q=0", set(&[Br, Zstd]), IDENTITY_DEFAULT),
            ("*;q=0", Codings::NONE, 0),
            ("identity;q=0.25", Codings::NONE, 250),
            ("identity;q=0, x-gzip;q=0.1", set(&[Gzip]), 0),
            ("deflate", Codings::NONE, IDENTITY_DEFAULT),
        ];
        for &(h, want, id) in rows {
            let a = Accept::parse(h.as_bytes());
            assert_eq!((a.acceptable(), a.weight(Identity)), (want, id), "{h:?}");
        }
    }

    #[test]
    fn several_header_lines_add_up() {
        let mut a = Accept::NONE;
        a.add(b"gzip;q=0.5");
        a.add(b"br;q=0.4");
        assert_eq!(a.choose(ALL3), Some(Gzip));
        a.add(b"gzip;q=0");
        assert_eq!(a.choose(ALL3), Some(Br));
        assert_eq!(Accept::default(), Accept::NONE);
    }

    #[test]
    fn names_and_sets() {
        for (c, suffix, token) in [(Identity, "", "identity"), (Br, ".br", "br"), (Zstd, ".zst", "zstd"), (Gzip, ".gz", "gzip")] {
            assert_eq!((c.suffix(), c.token()), (suffix.as_bytes(), token.as_bytes()));
        }
        assert_eq!(set(&Coding::SIBLINGS), Codings::ALL);
        assert!(Codings::NONE.is_empty() && !Codings::NONE.with(Br).is_empty());
        assert!(!Codings::ALL.has(Identity));
    }

    #[test]
    fn never_panics_on_noise() {
        let seed = b"br;q=0.5, zstd;Q=1.000, x-gzip;q=0.001, identity;q=0, *;q=0.";
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut v = seed.to_vec();
            for _ in 0..(x % 5) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % v.len();
                v[i] = b",;= .01qQ*brz"[(x >> 40) as usize % 13];
            }
            let a = Accept::parse(&v[..(x >> 20) as usize % (v.len() + 1)]);
            let have = Codings((x >> 8) as u8 & 0b1110);
            if let Some(c) = a.choose(have) {
                assert!(a.weight(c) > 0 && a.weight(c) <= 1000 && (c == Identity || have.has(c)));
            }
        }
    }
}
