//! HTTP dates (RFC 9110 §5.6.7) to and from seconds since the Unix epoch,
//! by calendar arithmetic alone: no libc, no time zones, no clock. The
//! caller brings the time; this module never reads one.

/// `9999-12-31T23:59:59Z`: the last second a four-digit year can show.
/// Later times are written as this one rather than overflow the field.
pub const MAX_SECS: u64 = 253_402_300_799;

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const IMF_LEN: usize = 29;

pub(crate) const DAY_NAMES: &[u8; 21] = b"SunMonTueWedThuFriSat";
pub(crate) const MONTH_NAMES: &[u8; 36] = b"JanFebMarAprMayJunJulAugSepOctNovDec";
/// RFC 850 spells the weekday out; each long name is its short name + this.
const DAY_TAILS: [&[u8]; 7] = [b"day", b"day", b"sday", b"nesday", b"rsday", b"day", b"urday"];
/// 1970-01-01 counted from 0000-03-01 in the proleptic Gregorian calendar.
const EPOCH_SHIFT: u64 = 719_468;
const DAYS_PER_ERA: u64 = 146_097; // 400 Gregorian years

/// A UTC calendar time, broken down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: u32,
    /// 1..=12
    pub month: u8,
    /// 1..=31
    pub day: u8,
    pub hour: u8,
    pub min: u8,
    pub sec: u8,
    /// 0 = Sunday ..= 6 = Saturday
    pub weekday: u8,
}

/// Breaks `unix_secs` (clamped to [`MAX_SECS`]) into a UTC calendar time,
/// with Howard Hinnant's `civil_from_days`, in unsigned arithmetic since
/// nothing here is before 1970.
pub fn civil(unix_secs: u64) -> Civil {
    let t = if unix_secs > MAX_SECS { MAX_SECS } else { unix_secs };
    let days = t / 86_400;
    let secs = t % 86_400;
    let z = days + EPOCH_SHIFT;
    let era = z / DAYS_PER_ERA;
    let doe = z - era * DAYS_PER_ERA; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1st
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    Civil {
        year: year as u32, // <= 9999 by the clamp
        month: month as u8,
        day: day as u8,
        hour: (secs / 3600) as u8,
        min: (secs / 60 % 60) as u8,
        sec: (secs % 60) as u8,
        weekday: ((days + 4) % 7) as u8, // 1970-01-01 was a Thursday
    }
}

/// Seconds since the epoch at the start of a (valid, >= 1970) calendar day:
/// Hinnant's `days_from_civil`, the inverse of [`civil`] (also for ACME's
/// RFC 3339 times).
pub fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * DAYS_PER_ERA + doe - EPOCH_SHIFT
}

fn days_in_month(year: u32, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Three letters of a name table, entry `i` (taken modulo the table).
pub(crate) fn name3(table: &'static [u8], i: u8) -> &'static [u8] {
    let at = usize::from(i) * 3;
    table.get(at..at + 3).unwrap_or(b"???")
}

/// Writes `n % 100` as two digits. Out of line: one call is smaller than
/// the divisions at each of the date and log fields.
#[inline(never)]
pub(crate) fn two_digits(out: &mut [u8], n: u8) {
    if let [a, b, ..] = out {
        *a = b'0' + n / 10 % 10;
        *b = b'0' + n % 10;
    }
}

/// Writes `unix_secs` as an IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`,
/// the only form an HTTP sender may generate. Times after [`MAX_SECS`]
/// are written as `MAX_SECS`.
pub fn format_imf(unix_secs: u64, out: &mut [u8; IMF_LEN]) {
    let c = civil(unix_secs);
    *out = *b"Sun, 00 Jan 0000 00:00:00 GMT";
    out[..3].copy_from_slice(name3(DAY_NAMES, c.weekday));
    two_digits(&mut out[5..], c.day);
    out[8..11].copy_from_slice(name3(MONTH_NAMES, c.month - 1));
    two_digits(&mut out[12..], (c.year / 100) as u8);
    two_digits(&mut out[14..], (c.year % 100) as u8);
    two_digits(&mut out[17..], c.hour);
    two_digits(&mut out[20..], c.min);
    two_digits(&mut out[23..], c.sec);
}

/// The time a response is stamped with: seconds since 1970 and their
/// IMF-fixdate, formatted once (a worker makes one a second, when its
/// clock passes into the next; every response in that second shares it).
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    pub secs: u64,
    pub text: [u8; IMF_LEN],
}

impl Stamp {
    pub fn at(secs: u64) -> Stamp {
        let mut text = [0; IMF_LEN];
        format_imf(secs, &mut text);
        Stamp { secs, text }
    }
}

/// A cursor over the text being parsed; every step is all-or-nothing.
struct Scan<'a>(&'a [u8]);

impl Scan<'_> {
    fn lit(&mut self, want: &[u8]) -> Option<()> {
        let rest = self.0.strip_prefix(want)?;
        self.0 = rest;
        Some(())
    }

    /// Exactly `n` ASCII digits.
    fn num(&mut self, n: usize) -> Option<u32> {
        let (digits, rest) = self.0.split_at_checked(n)?;
        let mut v = 0u32;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(d - b'0');
        }
        self.0 = rest;
        Some(v)
    }

    /// Index of the three-letter name (case-sensitive, as RFC 9110 says).
    fn name(&mut self, table: &[u8]) -> Option<u8> {
        let (word, rest) = self.0.split_at_checked(3)?;
        let i = table.chunks_exact(3).position(|n| n == word)?;
        self.0 = rest;
        Some(i as u8)
    }

    /// `HH:MM:SS` as seconds into the day.
    fn time(&mut self) -> Option<u64> {
        let h = self.num(2)?;
        self.lit(b":")?;
        let m = self.num(2)?;
        self.lit(b":")?;
        let s = self.num(2)?;
        (h < 24 && m < 60 && s < 60).then_some(u64::from(h * 3600 + m * 60 + s))
    }
}

/// Parses an HTTP date as RFC 9110 §5.6.7 says a recipient must: the
/// IMF-fixdate, the obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`,
/// two-digit years 70..=99 are 19xx, 00..=69 are 20xx) and asctime
/// (`Sun Nov  6 08:49:37 1994`). `None` for anything else, for dates
/// before 1970 or after 9999, for impossible days (`30 Feb`), and for
/// trailing bytes. The weekday must be a weekday name but need not match.
pub fn parse_imf(s: &[u8]) -> Option<u64> {
    let mut p = Scan(s);
    let wd = p.name(DAY_NAMES)?;
    let (year, month, day, time);
    if p.lit(b", ").is_some() {
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        day = p.num(2)?;
        p.lit(b" ")?;
        month = p.name(MONTH_NAMES)?;
        p.lit(b" ")?;
        year = p.num(4)?;
        p.lit(b" ")?;
        time = p.time()?;
        p.lit(b" GMT")?;
    } else if p.lit(b" ").is_some() {
        // asctime: Sun Nov  6 08:49:37 1994
        month = p.name(MONTH_NAMES)?;
        p.lit(b" ")?;
        day = if p.lit(b" ").is_some() { p.num(1)? } else { p.num(2)? };
        p.lit(b" ")?;
        time = p.time()?;
        p.lit(b" ")?;
        year = p.num(4)?;
    } else {
        // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        p.lit(DAY_TAILS.get(usize::from(wd))?)?;
        p.lit(b", ")?;
        day = p.num(2)?;
        p.lit(b"-")?;
        month = p.name(MONTH_NAMES)?;
        p.lit(b"-")?;
        let yy = p.num(2)?;
        year = if yy < 70 { 2000 + yy } else { 1900 + yy };
        p.lit(b" ")?;
        time = p.time()?;
        p.lit(b" GMT")?;
    }
    let month = month + 1;
    if !p.0.is_empty() || !(1970..=9999).contains(&year) || day == 0 || day > u32::from(days_in_month(year, month)) {
        return None;
    }
    Some(days_from_civil(u64::from(year), u64::from(month), u64::from(day)) * 86_400 + time)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (unix seconds, IMF-fixdate); the seconds were checked with GNU `date -u -d @N`.
    const KNOWN: &[(u64, &str)] = &[
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (59, "Thu, 01 Jan 1970 00:00:59 GMT"),
        (86_399, "Thu, 01 Jan 1970 23:59:59 GMT"),
        (86_400, "Fri, 02 Jan 1970 00:00:00 GMT"),
        (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (951_868_799, "Tue, 29 Feb 2000 23:59:59 GMT"),
        (951_868_800, "Wed, 01 Mar 2000 00:00:00 GMT"),
        (971_186_136, "Tue, 10 Oct 2000 13:55:36 GMT"),
        (1_078_012_800, "Sun, 29 Feb 2004 00:00:00 GMT"),
        (1_234_567_890, "Fri, 13 Feb 2009 23:31:30 GMT"),
        (2_147_483_647, "Tue, 19 Jan 2038 03:14:07 GMT"),
        (2_147_483_648, "Tue, 19 Jan 2038 03:14:08 GMT"),
        (4_102_444_800, "Fri, 01 Jan 2100 00:00:00 GMT"),
        (4_107_456_000, "Sun, 28 Feb 2100 00:00:00 GMT"),
        (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"), // 2100 is not a leap year
        (4_294_967_295, "Sun, 07 Feb 2106 06:28:15 GMT"),
        (13_574_563_200, "Tue, 29 Feb 2400 00:00:00 GMT"),
        (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
    ];

    fn fmt(t: u64) -> String {
        let mut b = [0; IMF_LEN];
        format_imf(t, &mut b);
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn formats_known_dates() {
        for &(t, want) in KNOWN {
            assert_eq!(fmt(t), want, "{t}");
        }
    }

    #[test]
    fn clamps_after_9999() {
        for t in [MAX_SECS + 1, 1 << 40, u64::MAX] {
            assert_eq!(fmt(t), "Fri, 31 Dec 9999 23:59:59 GMT", "{t}");
        }
    }

    #[test]
    fn parses_known_dates() {
        for &(t, s) in KNOWN {
            assert_eq!(parse_imf(s.as_bytes()), Some(t), "{s}");
        }
    }

    #[test]
    fn round_trips_every_day_for_centuries() {
        // every day from 1970 to past 2400, at a time that moves through the day
        let mut t = 0u64;
        while t < 13_700_000_000 {
            let mut b = [0; IMF_LEN];
            format_imf(t, &mut b);
            assert_eq!(parse_imf(&b), Some(t), "{}", String::from_utf8_lossy(&b));
            t += 86_400 + 3_607;
        }
    }

    #[test]
    fn civil_parts() {
        let c = civil(951_782_400 + 13 * 3600 + 5 * 60 + 9);
        assert_eq!(c, Civil { year: 2000, month: 2, day: 29, hour: 13, min: 5, sec: 9, weekday: 2 });
    }

    #[test]
    fn parses_obsolete_forms() {
        let rows: &[(&str, Option<u64>)] = &[
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(784_111_777)),
            ("Sun Nov  6 08:49:37 1994", Some(784_111_777)),
            ("Sun Nov 06 08:49:37 1994", Some(784_111_777)),
            ("Tuesday, 29-Feb-00 00:00:00 GMT", Some(951_782_400)),
            ("Wednesday, 01-Jan-70 00:00:00 GMT", Some(0)), // weekday not checked
            ("Thursday, 31-Dec-69 00:00:00 GMT", Some(3_155_673_600)), // 2069
            ("Tue Feb 29 00:00:00 2000", Some(951_782_400)),
        ];
        for &(s, want) in rows {
            assert_eq!(parse_imf(s.as_bytes()), want, "{s}");
        }
    }

    #[test]
    fn rejects() {
        let rows: &[&str] = &[
            "",
            "Sun",
            "Sun,",
            "garbage",
            "Sun, 06 Nov 1994 08:49:37 GMT ",   // trailing space
            "Sun, 06 Nov 1994 08:49:37 GMT; length=3",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37",
            "sun, 06 Nov 1994 08:49:37 GMT",    // names are case-sensitive
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun,  06 Nov 1994 08:49:37 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Tue, 29 Feb 2100 00:00:00 GMT",    // not a leap year
            "Sun, 29 Feb 1994 00:00:00 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1994 08:49:60 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 06 Nov 1994 08-49-37 GMT",
            "Sun, 06 Nov +994 08:49:37 GMT",
            "Wed, 31 Dec 1969 23:59:59 GMT",    // before the epoch
            "Sun, 06 Nov 1994 08:49:37 GMT\0",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sunday, 06 Nov 94 08:49:37 GMT",
            "Sunxday, 06-Nov-94 08:49:37 GMT",
            "Monday, 06-Nov-94 08:49:37",
            "Sun Nov 6 08:49:37 1994",
            "Sun Nov  6 08:49:37 1994 ",
            "Sun Nov  6 08:49:37 94",
            "Sun Nov 32 08:49:37 1994",
        ];
        for s in rows {
            assert_eq!(parse_imf(s.as_bytes()), None, "{s:?}");
        }
    }

    #[test]
    fn never_panics_on_prefixes() {
        let s = b"Sunday, 06-Nov-94 08:49:37 GMT";
        for n in 0..s.len() {
            assert_eq!(parse_imf(&s[..n]), None);
        }
        for b in 0..=255u8 {
            let mut v = *b"Sun, 06 Nov 1994 08:49:37 GMT";
            for i in 0..v.len() {
                let old = v[i];
                v[i] = b;
                let _ = parse_imf(&v);
                v[i] = old;
            }
        }
    }
}
