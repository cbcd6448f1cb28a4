#!/usr/bin/env python3
"""Writes the seed corpora in seeds/<target>/: a few rows of each parser's
unit-test table, so every run starts from inputs that reach deep. Run it
after changing a table; the files are committed (small by design)."""
import hashlib, os, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
seeds = {}

def add(target, *items):
    seeds.setdefault(target, []).extend(x if isinstance(x, bytes) else x.encode() for x in items)

H = b"Host: a\r\n"
add("request_head",
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"HEAD /x?y=1 HTTP/1.0\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://h.example/a/b HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET http://h?x HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nDummy: x\nContent-Length: 23\r\n\r\nGET /admin HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n",
    b"GET /f HTTP/1.1\r\nhost: example.com:8080\r\nIf-None-Match: \"a\", \"b\"\r\n"
    b"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nRange: bytes=0-99\r\nIf-Range: \"x\"\r\n"
    b"Accept-Encoding: gzip;q=0.5, *;q=0\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: a\r\n\r\n")
add("chunked",
    b"0\r\n\r\n", b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"1;ext=val\r\nx\r\n0;a;b=\"q s\"\r\n\r\n", b"1 ;ext\r\nx\r\n0\r\n\r\n",
    b"1\r\nx\r\n0\r\nExpires: never\r\nX-A: b\r\n\r\n",
    b"000000000000000000000001\r\nz\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
    b"0\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", b"1 \r\nx\r\n", b"1;\r\nx\r\n",
    b"ffffffffffffffff\r\n", b"1;a=\"x;\\\"y\"\r\nx\r\n0\r\n\r\n")
for t in ["/", "/a/b%20c.html?x=1", "/dir/./index.html", "/%2e%2e/x", "/a/..%2f/b", "/.hidden",
          "/caf%C3%A9.txt", "/a%00b", "/a\\b", "/%252e", "//x//y/", "/a/b\0/c/../d"]:
    add("path", b"\x00" + t.encode(), b"\x01" + t.encode())
add("path", b"\x01/a/b\x00../c\x00d/e", b"\x00/x\x00../../y\x00z")
for h in ["bytes=0-99", "bytes=100-", "bytes=-500", "bytes=5-1", "bytes=0-0,5-6", "Bytes = 1-2",
          "items=0-1", "bytes=18446744073709551615-", "bytes=-0", "bytes=,,1-2,"]:
    add("range", struct.pack("<Q", 1000) + h.encode())
for h in ["*", "\"a\", \"b\"", "W/\"x\"", "\"unterminated", "Sun, 06 Nov 1994 08:49:37 GMT",
          "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Fri, 31 Dec 9999 23:59:59 GMT"]:
    add("conditional", struct.pack("<Qq", 1234, 1_700_000_000) + h.encode())
# accept_encoding: the first byte is which siblings exist (1 br, 2 zstd, 4 gzip)
for h in ["gzip, deflate, br, zstd", "br;q=1, gzip;q=0.5", "gzip;q=0.5, br;q=0.5", "identity;q=0",
          "*;q=0", "*", "", " \tbr \t; \tq=0.7 , gzip;q=0.6\t", "Br;Q=0.5, X-GZIP;q=0.4",
          "br;q=1.0001, gzip", "*;q=0, identity;q=0.5", "gzip;q=0, *", "br;q=0.5;q=0.6"]:
    add("accept_encoding", b"\x07" + h.encode(), b"\x04" + h.encode())
add("kvkey", "a", "A-Z.a_z-0.9", "a..b", ".tmp-1f-a", "..", "a/b", "a?x=1", "caf\u00e9", "x" * 201)
add("url", "http://127.0.0.1:8080/a/b?c=d#frag", "http://[::1]:80/", "HTTP://Example.com",
    "http://u@h/", "http://h:0/", "https://h/", "http://1.2.3.256/",
    b"http://h/a\x00/b?c", b"http://h/\x00//other:81/x", b"http://h/\x00https://x/")

def query(name, ident, qtype):
    q = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", qtype, 1)

def reply(name, ident, qtype, answers, rcode=0):
    m = bytearray(query(name, ident, qtype))
    m[2] |= 0x80
    m[3] |= 0x80 | rcode
    m[7] = len(answers)
    for a in answers:
        m += a
    return bytes(m)

def rr(owner, rtype, rdata):
    return owner + struct.pack(">HHIH", rtype, 1, 3600, len(rdata)) + rdata

Q = b"\xc0\x0c"
add("dns_reply",
    b"\x00" + reply("example.com", 0x1234, 1, [rr(Q, 1, bytes([93, 184, 216, 34]))]),
    b"\x01" + reply("example.com", 0x1234, 28, [rr(Q, 28, bytes(15) + b"\x01")]),
    b"\x00" + reply("example.com", 7, 1, [rr(Q, 5, b"\x01x\x03net\x00"), rr(b"\xc0\x29", 1, bytes([1, 2, 3, 4]))]),
    b"\x00" + reply("example.com", 7, 1, [], rcode=3),
    b"\x00" + reply("example.com", 7, 1, [rr(b"\xc0\x0c", 1, b"\x01\x02")]),
    b"\x02" + reply("a.b", 9, 1, [rr(b"\xc0\x1d", 1, bytes(4))]))
add("hosts_resolv", "127.0.0.1 localhost\n::1 localhost ip6-localhost\n",
    "# comment\n10.0.0.1 web Web.example # x\n", "nameserver 1.1.1.1\nsearch x\n",
    "nameserver fe80::1%eth0\nnameserver ::1\n", "\tnameserver\t8.8.8.8\r\n")
add("response_head",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\nuntil close",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
    b"\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
add("cmdline", b"--port\x008080\x00--workers\x002", b"--root\x00/srv\x00--kv\x00/kv\x00--kv-prefix\x00/store/",
    b"--body\x00hi\x00--content-type\x00text/html\x00--quiet", b"--max-conns\x000", b"--bind\x00::1\x00--port\x0065536",
    b"http://x/\x00-o\x00f\x00--timeout\x005", b"--timeout\x0086401\x00http://x/", b"--help",
    # words, 0xFF, then a config file
    b"--port\x009090\xffworkers 2\nheader /* X-A: b\nsite a.test *.b.test {\n  root /srv\n  redirect /o /n 301\n}\n",
    b"\xffsite a {\n  error-page 404 /404.html\n  fallback /index.html\n}\nsite b {\n", b"\xffport 0\n",
    b"--grace\x00x\n\x1b[1m\xffgrace 3 # comment\nstrict-host\n")
add("access_log",
    bytes(10) + b"\xff\xff" + bytes([1, 2, 3, 4]) + struct.pack("<QHQ", 1_700_000_000, 200, 27) + b"GET / HTTP/1.1",
    bytes(15) + b"\x01" + struct.pack("<QHQ", 0, 400, 0) + b"GET /\"\\\x00\x1b[31m\xff HTTP/1.1",
    b"\x20\x01\x0d\xb8" + bytes(12) + struct.pack("<QHQ", 86399, 404, 1) + b"")
# log_json: ip, ms, status, bytes, duration, tls (0 none, 1 1.2, 2 1.3), then
# site \0 user \0 request line \0 user agent \0 referer
V4 = bytes(10) + b"\xff\xff" + bytes([1, 2, 3, 4])
add("log_json",
    V4 + struct.pack("<QHQQB", 1_796_536_525_123, 200, 27, 180, 2) + b"\0\0GET / HTTP/1.1\0curl/8.5.0\0https://a.example/",
    V4 + struct.pack("<QHQQB", 0, 400, 0, 0, 0) + b"a.example\0ann\0GET /a\"b\\c\x01\x7f HTTP/1.1",
    bytes(15) + b"\x01" + struct.pack("<QHQQB", 2**64 - 1, 408, 2**64 - 1, 5, 1) + b"\0\xff\xfe\0GET /caf\xc3\xa9/\xf0\x9f\x98\x80 x\0\xed\xa0\x80\xc0\xaf\0",
    V4 + struct.pack("<QHQQB", 1, 505, 1, 1, 0) + b"\0\0\x16\x03\x01\x02\x00",
    V4 + struct.pack("<QHQQB", 1, 200, 1, 1, 2) + b"s" * 200 + b"\0" + b"\xe2\x82\xac" * 60 + b"\0GET /"
    + b"a\x01\xc3\xa9\xff" * 300 + b" HTTP/1.1\0" + b"\"\\" * 400 + b"\0" + b"\xf0\x9f\x98\x80" * 300)

# redirect: FROM \0 TO \0 request target
for r in [b"/old\0/new\0/old?a=1", b"/old/*\0/new/*\0/old/a b?x", b"/old/*\0/*\0/old//evil.com",
          b"/*\0https://example.com/*\0/p%zz\\q", b"/old\0/new#top\0/old?q", b"/old/*\0/new?x\0/old"]:
    add("redirect", r)

add("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "image/avif,image/webp,*/*",
    "application/json;q=0.9, text/*;q=0.5", "application/json;x=\"a,b;c\\\"\";q=0.6", "text/html;q=1.000, */*;q=0")

# tls_session: the first byte picks the read sizes; then what a client
# sends. ClientHellos openssl s_client sent (TLS 1.3, then 1.2 only), whole
# and cut; an old version's; a plain HTTP request on the TLS port.
HELLO13 = bytes.fromhex("16030100dc010000d80303eef2e144584c4e9d573b44f9fda41384b9ce42feebbd1fc5f2d19d094654fd6a20975f51527cf8bed3918d9d013ca1ab70df580df8d35ab59a10120352ccf1502a000813021303130100ff01000087000b000403000102000a00160014001d0017001e0019001801000101010201030104002300000016000000170000000d001e001c040305030603080708080809080a080b080408050806040105010601002b0003020304002d00020101003300260024001d002066133d90d542ab54990d49b0214a94ce8ab980f8bf963e741f94b22276910f51")
HELLO12 = bytes.fromhex("16030100b7010000b30303df3a7abc865a1bb27a3d9d1f0ed1fb6124ee005146f97016b781be7a58f453e3000038c02cc030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff01000052000b000403000102000a000c000a001d0017001e00190018002300000016000000170000000d002a0028040305030603080708080809080a080b080408050806040105010601030303010302040205020602")
add("tls_session", b"\x00" + HELLO13, b"\x07" + HELLO12, b"\x01" + HELLO13[:40], b"\x03" + HELLO13 + HELLO12,
    b"\x00" + HELLO12[:9] + b"\x03\x01" + HELLO12[11:], b"\x00GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"\x05\x17\x03\x03\x00\x05hello")

# glob: pattern NUL path, from the unit table.
for pat, path in [("/assets/*", "/assets/app.js"), ("/admin/**", "/admin"), ("/a/**/b", "/a/x/y/b"),
                  ("/**/*.php", "/a/b/x.php"), ("/img/??.png", "/img/ab.png"), ("/a**b", "/a/x/b"),
                  ("/**/a*/c", "/ab/ax/c"), ("/**a**a**b", "/a/a/b"), ("/*a*a*b", "/aaaaaaaaab"),
                  ("/index.html", "/index.html"), ("/***", "/a/b"), ("/a%20b", "/a b")]:
    add("glob", pat.encode() + b"\x00" + path.encode())

# basic_auth: a header value, an htpasswd line, or user NUL password.
add("basic_auth", "Basic dXNlcjpwYXNz", "basic   QWxhZGRpbjpvcGVuIHNlc2FtZQ", "Basic dXNlcjo=",
    "Basic OnBhc3M=", "Bearer x", "Basic dX=lcjpwYXNz",
    "alice:$2y$04$QwPXC2SBvbsKj69bp8PRquL2abbIBx.um71jbRtjaOfednxIefgNO\r\n",
    "bob:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=", "carol:$apr1$f0XKXmNF$KCcd.7yF7DFG/rf44LHr3.",
    "# comment", b"user\x00pass", b"j\xc3\xb6rg\x00p:a:ss", b"\x00", b"a\x00")

# proxy_header: PROXY protocol v1 lines and v2 headers (TCP4 with AWS's
# VPC endpoint TLV, TCP6, LOCAL, UNSPEC), some with a request after them.
SIG2 = b"\r\n\r\n\x00\r\nQUIT\n"
def pp2(cmd, fam, block):
    return SIG2 + bytes([0x20 | cmd, fam]) + struct.pack(">H", len(block)) + block
INET = bytes([192, 0, 2, 10, 10, 0, 0, 5]) + struct.pack(">HH", 54321, 80)
INET6 = bytes.fromhex("20010db8000000000000000000000007" "20010db8000000000000000000000001") + struct.pack(">HH", 65535, 443)
add("proxy_header", "PROXY TCP4 192.0.2.10 10.0.0.5 54321 80\r\nGET / HTTP/1.1\r\n\r\n",
    "PROXY TCP6 2001:db8::7 2001:db8::1 65535 443\r\n", "PROXY UNKNOWN\r\n", "PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n",
    "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
    "PROXY TCP4 010.0.0.1 1.2.3.4 1 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 080\r\n",
    pp2(1, 0x11, INET + b"\xea\x00\x17\x01vpce-08d2bf15fac5001c9") + b"GET / HTTP/1.1\r\n\r\n",
    pp2(1, 0x21, INET6 + b"\x04\x00\x03\x00\x00\x00"), pp2(0, 0x00, b""), pp2(1, 0x00, b""),
    pp2(1, 0x31, bytes(216)), pp2(1, 0x11, INET[:11]), pp2(2, 0x11, INET))
# forwarded: flags (1 Forwarded, 2 X-Forwarded-For, 4 the peer is the
# list's first address), then list NUL Forwarded NUL X-Forwarded-For.
T = b"10.0.0.0/8 fd00::/8"
add("forwarded", b"\x06" + T + b"\x00\x006.6.6.6, 203.0.113.5, 10.0.0.7",
    b"\x06" + T + b"\x00\x00[2001:db8::5]:443, 203.0.113.5:4711, unknown",
    b"\x05" + T + b"\x00for=192.0.2.43, For=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.3\x00",
    b"\x07" + T + b"\x00for=\"_gazonk\"\x00203.0.113.5",
    b"\x05" + T + b"\x00for=\"6.6.6.6, for=1.1.1.1\", for=192.0.2.60;by=10.0.0.1\x00",
    b"\x06::ffff:10.0.0.0/104, 192.168.1.128/25\x00\x00::ffff:203.0.113.5, 192.168.1.200",
    b"\x06" + T + b"\x00\x00" + b", ".join(b"10.0.1.%d" % i for i in range(70)),
    b"\x02" + T + b"\x00\x00203.0.113.5", b"\x06 10.0.0.1/8 \x00\x001.2.3.4")

# json: RFC 8259's examples and the edges of the grammar
add("json", b'{"Image":{"Width":800,"Title":"View","IDs":[116,943],"Animated":false,"x":null}}',
    b'[{"Latitude":37.7668,"Longitude":-122.3959,"Zip":"94107"}]', b'"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u20AC"',
    b'"\\uD834\\uDD1E"', b'"\\uD834"', b'[1E22,1e-2,-0,0.5e+3]', b'01', b'[1,]', b'{"a" 1}', b"\xef\xbb\xbf{}",
    b"[" * 32 + b"]" * 32, b"[" * 33 + b"]" * 33, "\"caf\u00e9\"", b'"\xff"', b'{"a":1,"a":2}', b" \t\r\n true ")
add("base64url", "", "Zg", "Zm9v", "Zm9vYmFy", "-_8", "Zh", "Zg==", "Z", b"\x00\xff\xfe")
# acme: the RFCs' example objects, times and headers
add("acme",
    b'{"newNonce":"https://example.com/acme/new-nonce","newAccount":"https://example.com/acme/new-account",'
    b'"newOrder":"https://example.com/acme/new-order","revokeCert":"r","keyChange":"k","renewalInfo":"ri",'
    b'"meta":{"termsOfService":"https://example.com/acme/terms","externalAccountRequired":false}}',
    b'{"status":"valid","expires":"2016-01-20T14:09:07.99Z","identifiers":[{"type":"dns","value":"www.example.org"},'
    b'{"type":"dns","value":"example.org"}],"authorizations":["https://example.com/acme/authz/PAniVnsZcis"],'
    b'"finalize":"https://example.com/acme/order/TOlocE8rfgo/finalize","certificate":"https://example.com/acme/cert/x"}',
    b'{"status":"pending","expires":"2016-01-02T14:09:30Z","identifier":{"type":"dns","value":"www.example.org"},'
    b'"challenges":[{"url":"https://example.com/acme/chall/prV_B7yEyA4","type":"http-01","status":"pending",'
    b'"token":"DGyRejmCefe7v4NfDGDKfA"},{"url":"u","type":"tls-alpn-01","status":"invalid","token":"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",'
    b'"error":{"type":"urn:ietf:params:acme:error:connection","detail":"refused","status":400}},{"url":"x","type":"future-02","status":"pending"}]}',
    b'{"type":"urn:ietf:params:acme:error:malformed","detail":"d","subproblems":[{"type":"urn:ietf:params:acme:error:rejectedIdentifier",'
    b'"detail":"no","identifier":{"type":"dns","value":"example.net"}}]}',
    b'{"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-03T04:00:00Z"},"explanationURL":"https://acme.example.com/docs/ari"}',
    b'{"status":"valid","orders":"https://ca/orders/1"}',
    "2016-01-20T08:39:07.123456789-05:30", "1990-12-31T23:59:60Z", "2000-02-29T23:59:59z", "120",
    "Sun, 06 Nov 1994 08:49:37 GMT", '<https://ca/cert/alt/1>;rel="alternate", <https://ca/order/1>; title="a;b" ;REL=up')

for target, items in seeds.items():
    d = os.path.join(here, "seeds", target)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        os.remove(os.path.join(d, old))
    for item in items:
        with open(os.path.join(d, hashlib.sha1(item).hexdigest()[:16]), "wb") as f:
            f.write(item)
print(" ".join(f"{t}:{len(v)}" for t, v in seeds.items()))
