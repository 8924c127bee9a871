#!/usr/bin/python3
"""examples/dkim_sign: a file signed with the RSA and the Ed25519 test keys
verifies with dkimpy (Debian's python3-dkim), the key served from the TXT
record the program prints; a tampered copy does not; a message without From
is an error (exit 1, nothing on stdout).

    test_dkim_sign.py DKIM_SIGN KEYS_DIR
"""
import os
import subprocess
import sys
import tempfile

import dkim

DKIM_SIGN, KEYS = sys.argv[1], sys.argv[2]
failures = []
MESSAGE = (b"From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: signed, not sent\r\n"
           b"Date: Mon, 07 Dec 2026 12:00:00 +0000\r\n\r\nHello,\r\n.a dot line\r\n\r\n")


def sign(key, message):
    with tempfile.NamedTemporaryFile(suffix=".eml") as f:
        f.write(message)
        f.flush()
        return subprocess.run([DKIM_SIGN, os.path.join(KEYS, key), "example.com", "sel", f.name],
                              capture_output=True, timeout=20)


for key in ("rsa2048.pem", "ed25519-rfc8463.pem"):
    p = sign(key, MESSAGE)
    if p.returncode != 0:
        failures.append("%s: exit %d: %s" % (key, p.returncode, p.stderr.decode(errors="replace")))
        continue
    name, _, txt = p.stderr.decode().strip().partition(" TXT ")
    record = txt.strip('"').encode()

    def dnsfunc(n, timeout=5):
        n = n.decode() if isinstance(n, bytes) else n
        return record if n.rstrip(".") == name else None

    if not p.stdout.endswith(MESSAGE) or not p.stdout.startswith(b"DKIM-Signature: v=1; "):
        failures.append("%s: the output is not the signature then the message: %r" % (key, p.stdout[:200]))
    if not dkim.verify(p.stdout, dnsfunc=dnsfunc):
        failures.append("%s: dkimpy does not verify the signed message" % key)
    if dkim.verify(p.stdout.replace(b"Hello,", b"Hello!"), dnsfunc=dnsfunc):
        failures.append("%s: a tampered copy verifies" % key)

p = sign("rsa2048.pem", b"Subject: no From\r\n\r\nbody\r\n")
if p.returncode != 1 or p.stdout or b"dkim_sign: " not in p.stderr:
    failures.append("no From: exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout, p.stderr))

for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
