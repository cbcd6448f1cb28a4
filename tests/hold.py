#!/usr/bin/env python3
"""Holds many client connections to one HTTP server, in a process of its own.

The capacity tests and bench/capacity.sh need more sockets than a test
harness that runs other tests in parallel can spare (the hard RLIMIT_NOFILE
here is 20,000 per process), so the sockets live here.

    hold.py HOST PORT N MODE [SECONDS [SOURCE]]

MODE says what each connection sends once connected:
    get   one keep-alive GET; waits for every response (Content-Length framed)
    send  one keep-alive GET; does not wait for the responses
    half  the first line of a GET and nothing more (a half-sent head)
    none  nothing
SOURCE, a loopback address such as 127.0.1.1, is where the connections come
from: a fresh one has no TIME_WAIT left from earlier runs in its port range.
At most SECONDS (default 60) are spent opening the connections; then one line:
    held K of N in T s: open=.. held=.. closed=.. failed=.. 200=..
where open counts the connections not closed yet, held those that are done
(response read, or request sent) and still open, and the numbers the
statuses of the first responses. Then the connections are held (responses
still read, closes still seen) while commands come on stdin, one per line, each answered with one such line:
    status         the tallies now
    closed SECS    waits until every connection is closed or SECS pass
    probe K        K fresh clients, one after another, each a `Connection: close`
                   GET read to its end (5 s limit); answers
                   probe K: median_us=.. p99_us=.. max_us=.. 200=.. (none=: no response)
When stdin ends, everything is closed and the script exits 0.
"""
import errno
import resource
import selectors
import socket
import struct
import sys
import time

WINDOW = 500  # connections being set up at once: the listen queue holds 4,096
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # linux/in.h


def main():
    host, port, n, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    setup_limit = float(sys.argv[5]) if len(sys.argv) > 5 else 60.0
    source = sys.argv[6] if len(sys.argv) > 6 else None
    if mode not in ("get", "send", "half", "none"):
        sys.exit("hold.py: MODE is get, send, half or none")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    request = {
        "get": b"GET /held HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode(),
        "send": b"GET /held HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode(),
        "half": b"GET /half HTTP/1.1\r\n",
        "none": b"",
    }[mode]

    sel = selectors.DefaultSelector()
    conns = {}  # socket -> Conn
    tally = {"failed": 0}

    class Conn:
        __slots__ = ("sock", "state", "buf", "status", "need")

        def __init__(self, sock):
            self.sock, self.state, self.buf, self.status, self.need = sock, "connecting", b"", None, None

    def close(c, why):
        sel.unregister(c.sock)
        c.sock.close()
        c.state = why

    def on_ready(c, ev):
        if c.state == "connecting":
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                tally["failed"] += 1
                close(c, "failed")
                return
            if request:
                c.sock.send(request)  # a few dozen bytes into an empty buffer
            c.state = "waiting" if mode == "get" else "held"
            sel.modify(c.sock, selectors.EVENT_READ, c)
            return
        try:
            data = c.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        except BlockingIOError:
            return
        if not data:
            close(c, "closed")
            return
        c.buf += data
        if c.status is None and b"\r\n" in c.buf:
            c.status = c.buf.split(b" ", 2)[1].decode()
        if c.need is None and b"\r\n\r\n" in c.buf:
            head, _, _ = c.buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            c.need = len(head) + 4 + length
        if c.need is not None and len(c.buf) >= c.need:
            c.buf = c.buf[c.need:]
            c.need = None
            if c.state == "waiting":
                c.state = "held"

    def pump(timeout):  # serves the sockets; true if stdin is readable
        stdin = False
        for key, ev in sel.select(timeout):
            if key.data is None:
                stdin = True
            else:
                on_ready(key.data, ev)
        return stdin

    def report(prefix):
        states, statuses = {}, {}
        for c in conns.values():
            states[c.state] = states.get(c.state, 0) + 1
            if c.status is not None:
                statuses[c.status] = statuses.get(c.status, 0) + 1
        open_ = sum(v for k, v in states.items() if k not in ("closed", "failed"))
        parts = ["open=%d" % open_, "held=%d" % states.get("held", 0), "closed=%d" % states.get("closed", 0)]
        parts += ["failed=%d" % tally["failed"]]
        parts += ["%s=%d" % kv for kv in sorted(statuses.items())]
        print(prefix + " ".join(parts), flush=True)

    # Open the connections, WINDOW at a time.
    started, deadline = 0, time.monotonic() + setup_limit
    while time.monotonic() < deadline:
        busy = sum(1 for c in conns.values() if c.state in ("connecting", "waiting"))
        while started < n and busy < WINDOW:
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            if source:
                # The port is picked at connect, per destination: far quicker.
                s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                s.bind((source, 0))
            rc = s.connect_ex((host, port))
            if rc not in (0, errno.EINPROGRESS):
                s.close()
                tally["failed"] += 1
                started += 1
                continue
            c = Conn(s)
            conns[s] = c
            sel.register(s, selectors.EVENT_WRITE, c)
            started += 1
            busy += 1
        if started >= n and busy == 0:
            break
        pump(0.1)
    held = sum(1 for c in conns.values() if c.state == "held")
    report("held %d of %d in %.1f s: " % (held, n, setup_limit - (deadline - time.monotonic())))

    # Hold, answering commands, until stdin ends.
    sel.register(sys.stdin, selectors.EVENT_READ, None)
    while True:
        if not pump(1.0):
            continue
        line = sys.stdin.readline()
        if not line:
            break
        words = line.split()
        if words[:1] == ["probe"]:
            probe(host, port, int(words[1]))
            continue
        if words[:1] == ["closed"]:
            until = time.monotonic() + float(words[1])
            while time.monotonic() < until and any(c.state not in ("closed", "failed") for c in conns.values()):
                pump(0.05)
        report("")
    # Reset rather than close: thousands of clean closes from this side would
    # leave as many TIME_WAITs holding loopback ports for a minute, and the
    # tests that run next could find no free port to bind.
    linger = struct.pack("ii", 1, 0)
    for c in conns.values():
        if c.state not in ("closed", "failed"):
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            c.sock.close()


def probe(host, port, k):
    times, statuses = [], {}
    req = b"GET /probe HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode()
    for _ in range(k):
        t = time.monotonic()
        status = "none"
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                s.sendall(req)
                got = b""
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    got += b
            if b"\r\n" in got:
                status = got.split(b" ", 2)[1].decode()
        except OSError:
            pass
        times.append((time.monotonic() - t) * 1e6)
        statuses[status] = statuses.get(status, 0) + 1
    times.sort()
    pct = lambda p: times[min(len(times) - 1, int(len(times) * p))]
    parts = ["median_us=%.0f" % pct(0.5), "p99_us=%.0f" % pct(0.99), "max_us=%.0f" % times[-1]]
    parts += ["%s=%d" % kv for kv in sorted(statuses.items())]
    print("probe %d: %s" % (k, " ".join(parts)), flush=True)


if __name__ == "__main__":
    main()
