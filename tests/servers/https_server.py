#!/usr/bin/python3
"""An HTTPS server for the MTA-STS policy fetch (RFC 8461 3.3): it answers
every request with one configured response, and records what it was asked.

    https_server.py --cert PEM [--key KEY] [--host H] [--port P]
                    [--status N] [--content-type T] [--header 'K: V']...
                    [--body TEXT | --size N] [--framing length|close|chunked]
                    [--delay SECONDS] [--no-close-notify] [--record DIR]

It prints READY <port> once listening. --body is decoded like a Python
string literal's escapes (\\r, \\n); --size N sends N bytes of 'x' instead.
--framing says how the body ends: Content-Length (default), the end of the
connection, or chunked transfer coding (in pieces of 7 bytes). --delay waits
that long after the request before answering (a slow server).
--no-close-notify ends the connection after the response without a TLS
close_notify (as a man in the middle who cuts it would). With --record,
each request is appended to DIR/requests.jsonl as {"sni": name or null,
"head": the request line and headers}.
"""
import argparse
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cert", required=True)
    p.add_argument("--key")
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--content-type", default="text/plain")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--body", default="")
    p.add_argument("--size", type=int)
    p.add_argument("--framing", choices=["length", "close", "chunked"], default="length")
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--no-close-notify", action="store_true")
    p.add_argument("--record")
    return p.parse_args()


ARGS = parse_args()
BODY = (b"x" * ARGS.size if ARGS.size is not None
        else ARGS.body.encode("latin-1").decode("unicode_escape").encode("latin-1"))
REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found", 500: "Internal Server Error"}
LOCK = threading.Lock()


def response():
    head = ["HTTP/1.1 %d %s" % (ARGS.status, REASONS.get(ARGS.status, "Status"))]
    if ARGS.content_type:
        head.append("Content-Type: " + ARGS.content_type)
    head += ARGS.header
    if ARGS.framing == "length":
        head.append("Content-Length: %d" % len(BODY))
        body = BODY
    elif ARGS.framing == "chunked":
        head.append("Transfer-Encoding: chunked")
        pieces = [BODY[i:i + 7] for i in range(0, len(BODY), 7)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in pieces) + b"0\r\n\r\n"
    else:
        body = BODY
    head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        raw = self.request
        raw.settimeout(60)
        try:
            conn = CONTEXT.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that refused the certificate
        try:
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            if ARGS.record:
                entry = {"sni": getattr(conn, "sni_name", None),
                         "head": data.split(b"\r\n\r\n", 1)[0].decode("latin-1")}
                with LOCK, open(os.path.join(ARGS.record, "requests.jsonl"), "a") as f:
                    f.write(json.dumps(entry) + "\n")
            if ARGS.delay:
                time.sleep(ARGS.delay)
            conn.sendall(response())
            if ARGS.no_close_notify:  # the connection cut, as by someone in the middle
                raw.shutdown(socket.SHUT_RDWR)
                return
            try:
                conn.unwrap()  # close_notify: the end of a close-delimited body
            except (ssl.SSLError, OSError):
                pass
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass


def remember_sni(sslsock, name, ctx):
    try:
        sslsock.sni_name = name
    except AttributeError:
        pass
    return None


CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
CONTEXT.load_cert_chain(ARGS.cert, ARGS.key or os.path.splitext(ARGS.cert)[0] + ".key")
CONTEXT.sni_callback = remember_sni


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    server = Server((ARGS.host, ARGS.port), Handler)
    print("READY %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main())
