#!/usr/bin/env python3
"""Holds many idle TLS keep-alive connections to one HTTPS server (bench/tls.sh).

    tls_hold.py HOST PORT N PATH [SECONDS [SOURCE]]

Opens N connections (at most $TLS_HOLD_WINDOW, default 64, being set up at once), completes a full
TLS handshake on each (no session resumption), sends one keep-alive
`GET PATH` and reads its response (Content-Length framed), then leaves the
connection idle. SOURCE, a loopback address such as 127.0.2.1, is where the
connections come from (a fresh one has no TIME_WAIT in its port range).
At most SECONDS (default 120) are spent; then one line:
    held K of N in T s: open=.. held=.. closed=.. failed=.. 200=..
Then, one line per command on stdin:
    status    the tallies now (closes by the server are noticed)
When stdin ends, every connection is closed and the script exits 0.
"""
import os
import resource
import selectors
import socket
import ssl
import sys
import time

WINDOW = int(os.environ.get("TLS_HOLD_WINDOW", "64"))  # handshakes in flight at once
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)

CONNECTING, HANDSHAKE, SENDING, READING, HELD, CLOSED = range(6)


class Conn:
    __slots__ = ("sock", "tls", "state", "out", "inp", "status")

    def __init__(self, sock):
        self.sock, self.tls, self.state = sock, None, CONNECTING
        self.out, self.inp, self.status = b"", b"", None


def main():
    host, port, n, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    limit = float(sys.argv[5]) if len(sys.argv) > 5 else 120.0
    source = sys.argv[6] if len(sys.argv) > 6 else None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # No resumption: every connection a full handshake (no session is passed in).
    request = b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path.encode(), host.encode())
    sel = selectors.DefaultSelector()
    tally = {"failed": 0, "closed": 0}
    statuses = {}
    conns = []
    started = 0
    in_flight = 0
    t0 = time.monotonic()

    def fail(c, closed=False):
        nonlocal in_flight
        if c.state not in (HELD, CLOSED):
            in_flight -= 1
        tally["closed" if closed else "failed"] += 1
        c.state = CLOSED
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()

    def step(c):
        nonlocal in_flight
        try:
            if c.state == CONNECTING:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    return fail(c)
                sel.unregister(c.sock)
                c.tls = ctx.wrap_socket(c.sock, server_hostname=host, do_handshake_on_connect=False)
                c.sock = c.tls
                sel.register(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
                c.state = HANDSHAKE
            if c.state == HANDSHAKE:
                c.tls.do_handshake()
                c.state, c.out = SENDING, request
                sel.modify(c.sock, selectors.EVENT_WRITE, c)
            if c.state == SENDING:
                while c.out:
                    k = c.tls.send(c.out)
                    c.out = c.out[k:]
                c.state = READING
                sel.modify(c.sock, selectors.EVENT_READ, c)
            if c.state == READING:
                while True:
                    data = c.tls.recv(65536)
                    if not data:
                        return fail(c, closed=True)
                    c.inp += data
                    head, sep, body = c.inp.partition(b"\r\n\r\n")
                    if not sep:
                        continue
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            length = int(v)
                    if len(body) >= length:
                        c.status = int(head.split(b" ", 2)[1])
                        statuses[c.status] = statuses.get(c.status, 0) + 1
                        c.state, c.inp = HELD, b""
                        in_flight -= 1
                        return
            if c.state == HELD:  # a read event on an idle connection: data or a close
                data = c.tls.recv(65536)
                if not data:
                    fail(c, closed=True)
        except (ssl.SSLWantReadError,):
            sel.modify(c.sock, selectors.EVENT_READ, c)
        except (ssl.SSLWantWriteError,):
            sel.modify(c.sock, selectors.EVENT_WRITE, c)
        except (OSError, ValueError, IndexError):
            fail(c, closed=c.state == HELD)

    while time.monotonic() - t0 < limit:
        while started < n and in_flight < WINDOW:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            if source:
                s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                s.bind((source, 0))
            c = Conn(s)
            conns.append(c)
            started += 1
            in_flight += 1
            try:
                s.connect((host, port))
            except BlockingIOError:
                pass
            except OSError:
                fail(c)
                continue
            sel.register(s, selectors.EVENT_WRITE, c)
        if started >= n and in_flight == 0:
            break
        for key, _ in sel.select(1.0):
            step(key.data)

    def line():
        held = sum(1 for c in conns if c.state == HELD)
        st = " ".join("%d=%d" % kv for kv in sorted(statuses.items()))
        return "held %d of %d in %.1f s: open=%d held=%d closed=%d failed=%d %s" % (
            held, n, time.monotonic() - t0, held + in_flight, held, tally["closed"], tally["failed"], st)

    print(line(), flush=True)
    # Held: watch for closes by the server while commands come on stdin.
    sel.register(sys.stdin, selectors.EVENT_READ, None)
    while True:
        for key, _ in sel.select(1.0):
            if key.data is None:
                cmd = sys.stdin.readline()
                if not cmd:
                    for c in conns:
                        if c.state != CLOSED:
                            c.sock.close()
                    return
                print(line(), flush=True)
            else:
                step(key.data)


if __name__ == "__main__":
    main()
