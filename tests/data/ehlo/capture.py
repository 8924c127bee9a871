#!/usr/bin/python3
"""Regenerates the captured EHLO/LHLO replies in this directory.

Run with the system Python (it needs python3-aiosmtpd) on a machine with
Postfix's smtp-sink and openssl:

    /usr/bin/python3 tests/data/ehlo/capture.py

Each capture starts a local server on a free loopback port, connects, reads
the greeting, sends "EHLO test.example\\r\\n" (or LHLO) and saves the reply's
bytes exactly as received, CRLFs included. Then it sends QUIT and stops the
server. Nothing leaves the loopback interface. The hand-written files
(handwritten_*.txt) are not touched.
"""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def read_reply(sock):
    """Reads one whole SMTP reply (up to the line whose 4th byte is a space)."""
    buf = b""
    while True:
        while b"\r\n" in buf:
            # Look for a final line in what we have.
            lines = buf.split(b"\r\n")
            for i, line in enumerate(lines[:-1]):
                if len(line) == 3 or (len(line) >= 4 and line[3:4] == b" "):
                    end = sum(len(l) + 2 for l in lines[: i + 1])
                    return buf[:end]
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed mid-reply: %r" % buf)
        buf += chunk


def wait_for_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server on port %d did not come up" % port)


def hello(port, verb="EHLO"):
    """Connects, reads the greeting, sends VERB test.example, returns the reply."""
    with socket.create_connection((HOST, port), timeout=10) as s:
        greeting = read_reply(s)
        assert greeting.startswith(b"220"), greeting
        s.sendall(verb.encode() + b" test.example\r\n")
        reply = read_reply(s)
        s.sendall(b"QUIT\r\n")
        try:
            read_reply(s)
        except (RuntimeError, OSError):
            pass
        return reply


def save(name, data):
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        f.write(data)
    print("%-40s %5d bytes" % (name, len(data)))


def run_server(argv, port, verb="EHLO"):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        return hello(port, verb)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def capture_aiosmtpd_cli():
    # (a) aiosmtpd from the command line, defaults (SIZE 33554432, 8BITMIME, HELP).
    port = free_port()
    save("aiosmtpd_default.txt",
         run_server([sys.executable, "-m", "aiosmtpd", "-n", "-l", "%s:%d" % (HOST, port)], port))


def capture_aiosmtpd_starttls_smtputf8():
    # aiosmtpd from the command line with a throw-away self-signed certificate
    # (so it offers STARTTLS), SMTPUTF8 on and a 10 MiB SIZE.
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = free_port()
        save("aiosmtpd_starttls_smtputf8.txt",
             run_server([sys.executable, "-m", "aiosmtpd", "-n", "-u", "-s", "10485760",
                         "--tlscert", cert, "--tlskey", key, "-l", "%s:%d" % (HOST, port)], port))


def capture_aiosmtpd_auth():
    # aiosmtpd's Controller in-process, with an authenticator and AUTH allowed
    # without TLS, so that the EHLO reply lists AUTH. Fixed host name.
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=False)

    port = free_port()
    controller = Controller(Sink(), hostname=HOST, port=port, server_hostname="aiosmtpd.test",
                            authenticator=authenticator, auth_require_tls=False)
    controller.start()
    try:
        save("aiosmtpd_auth.txt", hello(port))
    finally:
        controller.stop()


def capture_smtp_sink():
    # (b) Postfix smtp-sink, defaults (PIPELINING, 8BITMIME, AUTH, XCLIENT, ...).
    # smtp-sink refuses to run as root without -u.
    sink = ["/usr/sbin/smtp-sink", "-h", "sink.test"] + (["-u", "nobody"] if os.geteuid() == 0 else [])
    port = free_port()
    save("smtp-sink_ehlo.txt", run_server(sink + ["%s:%d" % (HOST, port), "10"], port))
    # The same in LMTP mode, answering LHLO.
    port = free_port()
    save("smtp-sink_lhlo.txt", run_server(sink + ["-L", "%s:%d" % (HOST, port), "10"], port, "LHLO"))


if __name__ == "__main__":
    capture_aiosmtpd_cli()
    capture_aiosmtpd_starttls_smtputf8()
    capture_aiosmtpd_auth()
    capture_smtp_sink()
