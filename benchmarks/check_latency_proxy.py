#!/usr/bin/env python3
"""Checks benchmarks/latency_proxy.cpp (the bench_latency_proxy ctest):

    check_latency_proxy.py PROXY_BINARY

An echo server here; the proxy in front of it with a one-way delay of 20 ms
(and the connection to the target after 0 ms, so that the ping-pong alone is
timed); then:
- a ping-pong of one line takes at least 40 ms (2 x 20) and not much more;
- the greeting-like first bytes of a server, with the default connect delay
  (3 D), reach the client no sooner than 4 D after its connect();
- 2 MiB sent in many small writes come back whole and in order, with an end
  of stream passed on (shutdown, then EOF back);
- 16 connections at once, each its own bytes back.
Under three seconds. Exit 0 when all hold, 1 with the reason otherwise.
"""

import socket
import subprocess
import sys
import threading
import time

D = 0.020


def echo_server():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)

    def serve(c):
        with c:
            while True:
                b = c.recv(65536)
                if not b:
                    c.shutdown(socket.SHUT_WR)
                    return
                c.sendall(b)

    def loop():
        while True:
            c, _ = ls.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return ls.getsockname()[1]


def greeting_server():
    """Sends a greeting as soon as it accepts, like an SMTP server."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)

    def loop():
        while True:
            c, _ = ls.accept()
            c.sendall(b"220 hello\r\n")
            c.close()

    threading.Thread(target=loop, daemon=True).start()
    return ls.getsockname()[1]


def start_proxy(binary, target, *extra):
    p = subprocess.Popen([binary, "--target", str(target), "--delay-us", str(int(D * 1e6))] + list(extra),
                         stdout=subprocess.PIPE)
    line = p.stdout.readline().decode()
    if not line.startswith("READY "):
        raise SystemExit("proxy did not start: %r" % line)
    return p, int(line.split()[1])


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def recv_exactly(s, n):
    got = b""
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            fail("connection closed after %d of %d bytes" % (len(got), n))
        got += b
    return got


def main():
    binary = sys.argv[1]
    echo = echo_server()
    proxy, port = start_proxy(binary, echo, "--connect-delay-us", "0")
    greet_proxy = None
    try:
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"warm\n")
        recv_exactly(s, 5)
        times = []
        for i in range(5):
            line = b"PING %d\r\n" % i
            t0 = time.monotonic()
            s.sendall(line)
            if recv_exactly(s, len(line)) != line:
                fail("ping-pong: other bytes came back")
            times.append(time.monotonic() - t0)
        best = min(times)
        if best < 2 * D:
            fail("a round trip took %.1f ms, less than 2 x %.0f ms" % (best * 1e3, D * 1e3))
        if best > 2 * D + 0.015:
            fail("a round trip took %.1f ms, far more than 2 x %.0f ms" % (best * 1e3, D * 1e3))
        print("ping-pong through the proxy at %.0f ms one way: %s ms" % (
            D * 1e3, ", ".join("%.1f" % (t * 1e3) for t in times)))

        # Order and the end of the stream: 2 MiB in 4 KiB writes, then shutdown.
        data = bytes((i * 7 + i // 4096) % 251 for i in range(2 << 20))
        back = bytearray()

        def reader():
            while True:
                b = s.recv(65536)
                if not b:
                    return
                back.extend(b)

        t = threading.Thread(target=reader)
        t.start()
        for i in range(0, len(data), 4096):
            s.sendall(data[i:i + 4096])
        s.shutdown(socket.SHUT_WR)
        t.join(5)
        if t.is_alive():
            fail("no end of stream came back within 5 s")
        if bytes(back) != data:
            fail("2 MiB came back %s" % ("reordered or altered" if len(back) == len(data)
                                         else "with %d bytes" % len(back)))
        s.close()
        print("2 MiB in 4 KiB writes: back whole and in order, then EOF")

        # Many connections at once.
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        for i, c in enumerate(conns):
            c.sendall(b"connection %02d\n" % i)
        for i, c in enumerate(conns):
            if recv_exactly(c, 14) != b"connection %02d\n" % i:
                fail("connection %d got another's bytes" % i)
            c.close()
        print("16 connections at once: each its own bytes")

        # The modelled TCP handshake: the greeting 2 RTT after connect().
        greet_proxy, gport = start_proxy(binary, greeting_server())
        t0 = time.monotonic()
        g = socket.create_connection(("127.0.0.1", gport))
        if recv_exactly(g, 11) != b"220 hello\r\n":
            fail("greeting altered")
        took = time.monotonic() - t0
        g.close()
        if took < 4 * D:
            fail("the greeting came %.1f ms after connect(), less than 2 RTT (%.0f ms)" % (took * 1e3, 4 * D * 1e3))
        print("greeting %.1f ms after connect() (2 RTT = %.0f ms)" % (took * 1e3, 4 * D * 1e3))
    finally:
        for p in (proxy, greet_proxy):
            if p:
                p.kill()
                p.wait()
    print("OK")


if __name__ == "__main__":
    main()
