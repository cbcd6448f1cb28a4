//! driftd's counters and their Prometheus text (exposition format 0.0.4),
//! written into a caller's buffer. Owns the metric names, their help
//! lines and labels; never reads a clock or a counter it was not handed.

use super::response::Out;

/// The `Content-Type` of what [`render`] writes.
pub const CONTENT_TYPE: &[u8] = b"text/plain; version=0.0.4; charset=utf-8";

/// Room for [`render`]'s text with every count at `u64::MAX`, TLS on, and a
/// version and an arch of up to [`LABEL_MAX`] bytes each (checked by a test).
pub const TEXT_MAX: usize = 4096;

/// The longest version or arch string that [`TEXT_MAX`] has room for.
pub const LABEL_MAX: usize = 64;

/// The text did not fit the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// Declares [`Counters`] and [`Counters::add`] from one list of fields, so
/// a new counter cannot be left out of the sum.
macro_rules! counters {
    ($($(#[$doc:meta])* $field:ident,)*) => {
        /// One worker's counts since start. Plain `u64`s: each worker bumps
        /// its own copy, with no atomics; the alignment keeps two workers'
        /// copies off each other's cache lines. Counts wrap rather than
        /// trap (a Prometheus counter that goes down reads as a restart).
        #[repr(C, align(64))]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Counters {
            $($(#[$doc])* pub $field: u64,)*
        }

        impl Counters {
            /// How many counts there are (the words [`Counters::words`] gives).
            pub const WORDS: usize = [$(stringify!($field)),*].len();

            /// Adds `other`'s counts to these.
            pub fn add(&mut self, other: &Counters) {
                $(self.$field = self.$field.wrapping_add(other.$field);)*
            }

            /// The counts in declaration order, for memory other processes read.
            pub fn words(&self) -> [u64; Self::WORDS] {
                [$(self.$field),*]
            }

            /// Counts from [`Counters::words`]' order (missing words are 0).
            pub fn from_words(w: &[u64]) -> Counters {
                let mut it = w.iter().copied();
                Counters { $($field: it.next().unwrap_or(0),)* }
            }
        }
    };
}

counters! {
    /// Responses by status class, 1xx to 5xx.
    class_1xx,
    class_2xx,
    class_3xx,
    class_4xx,
    class_5xx,
    /// Requests by method; `method_other` is any other token.
    method_get,
    method_head,
    method_post,
    method_put,
    method_delete,
    method_options,
    method_other,
    /// Bytes read from clients and written to them (heads and bodies; with
    /// TLS, the plaintext).
    bytes_in,
    bytes_out,
    /// Connections accepted.
    accepted,
    /// Connections open now: a gauge, up on accept, down on close.
    open,
    /// Connections answered 503 and closed: every slot taken, the memory
    /// budget spent, or no descriptor left.
    rejected_full,
    rejected_memory,
    rejected_descriptors,
    /// ... and connections past `max-conns-per-client`.
    rejected_client,
    /// File cache lookups that found the file, that did not, and files
    /// dropped to make room.
    cache_hits,
    cache_misses,
    cache_evictions,
    /// Key-value store operations.
    kv_gets,
    kv_puts,
    kv_deletes,
    /// TLS handshakes completed in full, resumed from a ticket, or failed.
    tls_full,
    tls_resumed,
    tls_failed,
}

impl Counters {
    /// Counts a request by its parsed method (the cheap way, on the request
    /// path: no bytes compared).
    pub fn method(&mut self, m: crate::http::request::Method) {
        use crate::http::request::Method;
        let n = match m {
            Method::Get => &mut self.method_get,
            Method::Head => &mut self.method_head,
            Method::Post => &mut self.method_post,
            Method::Put => &mut self.method_put,
            Method::Delete => &mut self.method_delete,
            Method::Options => &mut self.method_options,
            _ => &mut self.method_other,
        };
        *n = n.wrapping_add(1);
    }

    /// Counts a response by its status's class (a status outside 100..=599
    /// counts in none).
    pub fn status(&mut self, status: u16) {
        let class = match status / 100 {
            1 => &mut self.class_1xx,
            2 => &mut self.class_2xx,
            3 => &mut self.class_3xx,
            4 => &mut self.class_4xx,
            5 => &mut self.class_5xx,
            _ => return,
        };
        *class = class.wrapping_add(1);
    }

    /// Counts one response: its status's class (a status outside 100..=599
    /// counts in none) and its request's method.
    pub fn request(&mut self, method: &[u8], status: u16) {
        let class = match status / 100 {
            1 => Some(&mut self.class_1xx),
            2 => Some(&mut self.class_2xx),
            3 => Some(&mut self.class_3xx),
            4 => Some(&mut self.class_4xx),
            5 => Some(&mut self.class_5xx),
            _ => None,
        };
        if let Some(n) = class {
            *n = n.wrapping_add(1);
        }
        let m = match method {
            b"GET" => &mut self.method_get,
            b"HEAD" => &mut self.method_head,
            b"POST" => &mut self.method_post,
            b"PUT" => &mut self.method_put,
            b"DELETE" => &mut self.method_delete,
            b"OPTIONS" => &mut self.method_options,
            _ => &mut self.method_other,
        };
        *m = m.wrapping_add(1);
    }

    /// A connection accepted: counted, and open.
    pub fn opened(&mut self) {
        self.accepted = self.accepted.wrapping_add(1);
        self.open = self.open.wrapping_add(1);
    }

    /// A connection closed.
    pub fn closed(&mut self) {
        self.open = self.open.saturating_sub(1);
    }
}

/// All workers' counts added up.
pub fn sum(parts: &[Counters]) -> Counters {
    let mut total = Counters::default();
    for p in parts {
        total.add(p);
    }
    total
}

/// One metric family: its name, type, help line, and its samples as
/// (label value, count); a family without a label has one sample, `""`.
struct Family<'a> {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    label: &'static str,
    samples: &'a [(&'static str, u64)],
}

/// Writes the families in the text exposition format 0.0.4, each with its
/// `# HELP` and `# TYPE` lines, and returns the length:
///
/// ```text
/// # HELP driftd_requests_total Responses sent, by status class.
/// # TYPE driftd_requests_total counter
/// driftd_requests_total{class="1xx"} 0
/// driftd_requests_total{class="2xx"} 1027
/// ...
/// driftd_build_info{version="0.1.0",arch="aarch64"} 1
/// ```
///
/// The TLS handshake counts are written only when `tls` (a build or a
/// server without HTTPS has none to show). `version` and `arch` are label
/// values, escaped as the format asks (`\\`, `\"`, `\n`).
pub fn render(out: &mut [u8], c: &Counters, tls: bool, version: &str, arch: &str) -> Result<usize, Full> {
    let families = [
        Family {
            name: "driftd_requests_total",
            kind: "counter",
            help: "Responses sent, by status class.",
            label: "class",
            samples: &[("1xx", c.class_1xx), ("2xx", c.class_2xx), ("3xx", c.class_3xx), ("4xx", c.class_4xx), ("5xx", c.class_5xx)],
        },
        Family {
            name: "driftd_requests_by_method_total",
            kind: "counter",
            help: "Responses sent, by request method.",
            label: "method",
            samples: &[
                ("GET", c.method_get),
                ("HEAD", c.method_head),
                ("POST", c.method_post),
                ("PUT", c.method_put),
                ("DELETE", c.method_delete),
                ("OPTIONS", c.method_options),
                ("other", c.method_other),
            ],
        },
        Family {
            name: "driftd_bytes_received_total",
            kind: "counter",
            help: "Bytes read from clients.",
            label: "",
            samples: &[("", c.bytes_in)],
        },
        Family {
            name: "driftd_bytes_sent_total",
            kind: "counter",
            help: "Bytes written to clients.",
            label: "",
            samples: &[("", c.bytes_out)],
        },
        Family {
            name: "driftd_connections_accepted_total",
            kind: "counter",
            help: "Connections accepted.",
            label: "",
            samples: &[("", c.accepted)],
        },
        Family {
            name: "driftd_connections_open",
            kind: "gauge",
            help: "Connections open now.",
            label: "",
            samples: &[("", c.open)],
        },
        Family {
            name: "driftd_rejected_total",
            kind: "counter",
            help: "Connections answered 503 and closed, by what ran out.",
            label: "cause",
            samples: &[
                ("full", c.rejected_full),
                ("memory", c.rejected_memory),
                ("descriptors", c.rejected_descriptors),
                ("client", c.rejected_client),
            ],
        },
        // evictions are not lookups: a family of their own keeps
        // sum(driftd_file_cache_total) the number of lookups
        Family {
            name: "driftd_file_cache_total",
            kind: "counter",
            help: "File cache lookups, by result.",
            label: "result",
            samples: &[("hit", c.cache_hits), ("miss", c.cache_misses)],
        },
        Family {
            name: "driftd_file_cache_evictions_total",
            kind: "counter",
            help: "Files dropped from the file cache to make room.",
            label: "",
            samples: &[("", c.cache_evictions)],
        },
        Family {
            name: "driftd_kv_operations_total",
            kind: "counter",
            help: "Key-value store operations, by kind.",
            label: "op",
            samples: &[("get", c.kv_gets), ("put", c.kv_puts), ("delete", c.kv_deletes)],
        },
        Family {
            name: "driftd_tls_handshakes_total",
            kind: "counter",
            help: "TLS handshakes, by outcome.",
            label: "kind",
            samples: &[("full", c.tls_full), ("resumed", c.tls_resumed), ("failed", c.tls_failed)],
        },
    ];
    let mut o = Out::new(out);
    for f in &families {
        if f.name == "driftd_tls_handshakes_total" && !tls {
            continue;
        }
        head(&mut o, f.name, f.kind, f.help);
        for &(value, n) in f.samples {
            o.push(f.name.as_bytes());
            if !f.label.is_empty() {
                o.byte(b'{').push(f.label.as_bytes()).push(b"=\"").push(value.as_bytes()).push(b"\"}");
            }
            o.byte(b' ').u64(n).byte(b'\n');
        }
    }
    head(&mut o, "driftd_build_info", "gauge", "The running build; always 1.");
    o.push(b"driftd_build_info{version=\"");
    label_value(&mut o, version);
    o.push(b"\",arch=\"");
    label_value(&mut o, arch);
    o.push(b"\"} 1\n");
    if o.is_full() { Err(Full) } else { Ok(o.len()) }
}

fn head(o: &mut Out<'_>, name: &str, kind: &str, help: &str) {
    o.push(b"# HELP ").push(name.as_bytes()).byte(b' ').push(help.as_bytes()).byte(b'\n');
    o.push(b"# TYPE ").push(name.as_bytes()).byte(b' ').push(kind.as_bytes()).byte(b'\n');
}

/// A label value escaped as the text format asks: `\\`, `\"` and `\n`.
fn label_value(o: &mut Out<'_>, s: &str) {
    for &b in s.as_bytes() {
        match b {
            b'\\' => o.push(b"\\\\"),
            b'"' => o.push(b"\\\""),
            b'\n' => o.push(b"\\n"),
            _ => o.byte(b),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(c: &Counters, tls: bool, version: &str, arch: &str) -> String {
        let mut b = vec![0; TEXT_MAX];
        let n = render(&mut b, c, tls, version, arch).unwrap();
        String::from_utf8(b[..n].to_vec()).unwrap()
    }

    fn small() -> Counters {
        let mut c = Counters::default();
        c.request(b"GET", 200);
        c.request(b"GET", 304);
        c.request(b"HEAD", 404);
        c.request(b"PATCH", 501);
        c.request(b"OPTIONS", 204);
        c.request(b"BREW", 999); // no class
        c.opened();
        c.opened();
        c.closed();
        c.bytes_in = 1234;
        c.bytes_out = 56_789;
        c.rejected_memory = 2;
        c.cache_hits = 10;
        c.cache_misses = 3;
        c.cache_evictions = 1;
        c.kv_puts = 4;
        c.tls_resumed = 5;
        c
    }

    const SMALL: &str = "\
# HELP driftd_requests_total Responses sent, by status class.
# TYPE driftd_requests_total counter
driftd_requests_total{class=\"1xx\"} 0
driftd_requests_total{class=\"2xx\"} 2
driftd_requests_total{class=\"3xx\"} 1
driftd_requests_total{class=\"4xx\"} 1
driftd_requests_total{class=\"5xx\"} 1
# HELP driftd_requests_by_method_total Responses sent, by request method.
# TYPE driftd_requests_by_method_total counter
driftd_requests_by_method_total{method=\"GET\"} 2
driftd_requests_by_method_total{method=\"HEAD\"} 1
driftd_requests_by_method_total{method=\"POST\"} 0
driftd_requests_by_method_total{method=\"PUT\"} 0
driftd_requests_by_method_total{method=\"DELETE\"} 0
driftd_requests_by_method_total{method=\"OPTIONS\"} 1
driftd_requests_by_method_total{method=\"other\"} 2
# HELP driftd_bytes_received_total Bytes read from clients.
# TYPE driftd_bytes_received_total counter
driftd_bytes_received_total 1234
# HELP driftd_bytes_sent_total Bytes written to clients.
# TYPE driftd_bytes_sent_total counter
driftd_bytes_sent_total 56789
# HELP driftd_connections_accepted_total Connections accepted.
# TYPE driftd_connections_accepted_total counter
driftd_connections_accepted_total 2
# HELP driftd_connections_open Connections open now.
# TYPE driftd_connections_open gauge
driftd_connections_open 1
# HELP driftd_rejected_total Connections answered 503 and closed, by what ran out.
# TYPE driftd_rejected_total counter
driftd_rejected_total{cause=\"full\"} 0
driftd_rejected_total{cause=\"memory\"} 2
driftd_rejected_total{cause=\"descriptors\"} 0
driftd_rejected_total{cause=\"client\"} 0
# HELP driftd_file_cache_total File cache lookups, by result.
# TYPE driftd_file_cache_total counter
driftd_file_cache_total{result=\"hit\"} 10
driftd_file_cache_total{result=\"miss\"} 3
# HELP driftd_file_cache_evictions_total Files dropped from the file cache to make room.
# TYPE driftd_file_cache_evictions_total counter
driftd_file_cache_evictions_total 1
# HELP driftd_kv_operations_total Key-value store operations, by kind.
# TYPE driftd_kv_operations_total counter
driftd_kv_operations_total{op=\"get\"} 0
driftd_kv_operations_total{op=\"put\"} 4
driftd_kv_operations_total{op=\"delete\"} 0
";

    const TLS: &str = "\
# HELP driftd_tls_handshakes_total TLS handshakes, by outcome.
# TYPE driftd_tls_handshakes_total counter
driftd_tls_handshakes_total{kind=\"full\"} 0
driftd_tls_handshakes_total{kind=\"resumed\"} 5
driftd_tls_handshakes_total{kind=\"failed\"} 0
";

    const BUILD: &str = "\
# HELP driftd_build_info The running build; always 1.
# TYPE driftd_build_info gauge
driftd_build_info{version=\"0.1.0\",arch=\"x86_64\"} 1
";

    #[test]
    fn exact_text() {
        assert_eq!(text(&small(), false, "0.1.0", "x86_64"), format!("{SMALL}{BUILD}"));
        assert_eq!(text(&small(), true, "0.1.0", "x86_64"), format!("{SMALL}{TLS}{BUILD}"));
    }

    #[test]
    fn label_values_are_escaped() {
        let t = text(&Counters::default(), false, "1.0 \"x\"\\\n", "arm");
        assert!(t.ends_with("driftd_build_info{version=\"1.0 \\\"x\\\"\\\\\\n\",arch=\"arm\"} 1\n"), "{t}");
    }

    #[test]
    fn sum_adds_every_field() {
        let a = small();
        let s = sum(&[a, a, Counters::default()]);
        let mut twice = small();
        twice.add(&a);
        assert_eq!(s, twice);
        assert_eq!(s.class_2xx, 4);
        assert_eq!(s.open, 2);
        assert_eq!(sum(&[]), Counters::default());
        // every field: a Counters of all ones sums to all twos
        let ones = all(1);
        assert_eq!(sum(&[ones, ones]), all(2));
        assert_eq!(sum(&[all(u64::MAX), ones]), all(0)); // wraps
    }

    /// A Counters with every field `n` (a literal without `..`: the
    /// compiler checks that it names them all).
    fn all(n: u64) -> Counters {
        Counters {
            class_1xx: n,
            class_2xx: n,
            class_3xx: n,
            class_4xx: n,
            class_5xx: n,
            method_get: n,
            method_head: n,
            method_post: n,
            method_put: n,
            method_delete: n,
            method_options: n,
            method_other: n,
            bytes_in: n,
            bytes_out: n,
            accepted: n,
            open: n,
            rejected_full: n,
            rejected_memory: n,
            rejected_descriptors: n,
            rejected_client: n,
            cache_hits: n,
            cache_misses: n,
            cache_evictions: n,
            kv_gets: n,
            kv_puts: n,
            kv_deletes: n,
            tls_full: n,
            tls_resumed: n,
            tls_failed: n,
        }
    }

    #[test]
    fn layout() {
        assert_eq!(align_of::<Counters>(), 64);
        assert_eq!(size_of::<Counters>() % 64, 0);
        // 29 counters: every one is shown, once
        let t = text(&all(7), true, "v", "a");
        assert_eq!(t.lines().filter(|l| l.ends_with(" 7")).count(), 29, "{t}");
    }

    #[test]
    fn the_largest_text_fits() {
        let long = "v".repeat(LABEL_MAX);
        let t = text(&all(u64::MAX), true, &long, &long);
        assert!(t.len() <= TEXT_MAX);
        // one byte short of the text: Full, not a cut text
        let n = t.len();
        let mut b = vec![0; n - 1];
        assert_eq!(render(&mut b, &all(u64::MAX), true, &long, &long), Err(Full));
        let mut b = vec![0; n];
        assert_eq!(render(&mut b, &all(u64::MAX), true, &long, &long), Ok(n));
    }

    /// The official Python client's parser reads the text back, when it is
    /// installed (`pip install prometheus_client`); otherwise this test
    /// only says so.
    #[test]
    fn prometheus_client_parses_it() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let have = Command::new("python3").args(["-c", "import prometheus_client"]).stderr(Stdio::null()).status();
        if !have.is_ok_and(|s| s.success()) {
            eprintln!("skipped: python3 with prometheus_client not found");
            return;
        }
        let script = "\
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        labels = ','.join('%s=\"%s\"' % kv for kv in sorted(s.labels.items()))
        print('%s %s %s{%s} %d' % (f.type, f.name, s.name, labels, s.value))
";
        let t = text(&small(), true, "0.1.0 \"q\"", "aarch64");
        let mut child = Command::new("python3").args(["-c", script]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(t.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let got = String::from_utf8(out.stdout).unwrap();
        // each sample as the parser saw it: the family's type and name
        // (a counter's without `_total`), the sample's name, labels, value
        let mut want = String::new();
        let mut kind = "";
        for line in t.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                kind = rest.split(' ').nth(1).unwrap();
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = series.split_once('{').map_or((series, "}"), |(n, l)| (n, l));
            let family = if kind == "counter" { name.strip_suffix("_total").unwrap() } else { name };
            let mut labels: Vec<&str> = labels.strip_suffix('}').unwrap().split(',').filter(|l| !l.is_empty()).collect();
            labels.sort();
            want += &format!("{kind} {family} {name}{{{}}} {value}\n", labels.join(","));
        }
        // the parser unescapes label values; ours was `0.1.0 "q"`
        let want = want.replace("0.1.0 \\\"q\\\"", "0.1.0 \"q\"");
        assert_eq!(got, want);
        assert_eq!(got.lines().count(), 30); // 29 counters and the build info
    }
}
