#!/usr/bin/python3
"""Verifies DKIM signatures with dkimpy (Debian's python3-dkim), one process
for a whole directory: DIR/dns.txt holds the TXT records ("NAME RECORD" per
line, NAME like sel._domainkey.example.com), and each DIR/*.eml is verified
with a dnsfunc that answers from it (no real DNS). Prints one line per
message: "NAME.eml pass" or "NAME.eml fail REASON"."""
import os
import sys

import dkim


def main():
    d = sys.argv[1]
    records = {}
    with open(os.path.join(d, "dns.txt")) as f:
        for line in f:
            name, _, txt = line.strip().partition(" ")
            records[name.rstrip(".").lower()] = txt.encode()

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        return records.get(name.rstrip(".").lower())

    for name in sorted(os.listdir(d)):
        if not name.endswith(".eml"):
            continue
        with open(os.path.join(d, name), "rb") as f:
            msg = f.read()
        try:
            ok = dkim.DKIM(msg).verify(dnsfunc=dnsfunc)
            reason = "" if ok else "signature did not verify"
        except Exception as e:  # a malformed signature: a failure, said why
            ok, reason = False, "%s: %s" % (type(e).__name__, e)
        print("%s %s%s" % (name, "pass" if ok else "fail", "" if ok else " " + reason.replace("\n", " ")))


if __name__ == "__main__":
    main()
