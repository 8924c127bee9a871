#!/usr/bin/env python3
"""A DNSSEC-signed zone tree under test. (RFC 6761), served by knotd on loopback.

    dns_server.py --dir DIR --certs DIR [--host 127.0.0.1] [--port 0]
                  [--record "OWNER [TTL] TYPE RDATA"]...
                  [--tlsa "OWNER USAGE SELECTOR MTYPE CERTNAME"]...

Makes the keys (ldns-keygen, ECDSA P-256) and signs the zones (ldns-signzone)
in DIR, writes knotd's configuration there, runs knotd in the foreground on
HOST:PORT (UDP and TCP; PORT 0: a free one), and prints "READY <port>" once
knotd answers a query. Files it leaves in DIR for the test:

  anchor.ds        the trust anchor: the DS record of the test. apex key
  wrong-anchor.ds  a DS of another key for test. (validation must fail)
  zones/*.signed   the zones as served

The zone data is ZONES below (a Python structure other tests extend with
--record and --tlsa); each extra record goes into the zone whose origin is the
longest suffix of its owner. --tlsa computes the association data from
CERTS/CERTNAME.pem (selector 0: the certificate, 1: its SubjectPublicKeyInfo;
matching type 0: exact, 1: SHA2-256, 2: SHA2-512).

The zones:
  test.           signed (inception a day ago, expiry 7 days ahead); its DS is
                  the trust anchor
  insecure.test.  unsigned, delegated without DS: answers are insecure
  expired.test.   signed, with DS in test., but its signatures expired in 2020:
                  answers are bogus

Stops knotd on SIGTERM/SIGINT; knotd also gets SIGKILL when this process dies.
"""

import argparse
import ctypes
import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KNOTD = "/usr/sbin/knotd"
KEYGEN = "/usr/bin/ldns-keygen"
SIGNZONE = "/usr/bin/ldns-signzone"

# owner names relative to nothing: all absolute. "@" is not used.
ZONES = {
    "test.": {
        "sign": "valid",
        "records": [
            "ns.test. A 127.0.0.1",
            # several preferences, two equal ones
            "multi.test. MX 20 mx3.multi.test.",
            "multi.test. MX 10 mx1.multi.test.",
            "multi.test. MX 10 mx2.multi.test.",
            "multi.test. MX 30 mx4.multi.test.",
            "mx1.multi.test. A 127.0.0.2",
            "mx2.multi.test. A 127.0.0.3",
            "mx3.multi.test. A 127.0.0.4",
            "mx4.multi.test. A 127.0.0.5",
            "mx1.multi.test. AAAA ::1",
            # a null MX (RFC 7505)
            "nullmx.test. MX 0 .",
            # no MX, an A record: the implicit MX
            "implicit.test. A 127.0.0.6",
            # one MX, a TLSA (from --tlsa) for its host, an MTA-STS TXT
            "mail.test. MX 10 mx.mail.test.",
            "mx.mail.test. A 127.0.0.7",
            '_mta-sts.mail.test. TXT "v=STSv1; id=20261207T000000;"',
            # one TXT record of two strings (concatenated by a reader), and a second TXT
            'txt.test. TXT "v=STSv1; " "id=two-strings;"',
            'txt.test. TXT "second record"',
            # an MX whose exchange is an alias
            "alias.test. MX 10 cname.alias.test.",
            "cname.alias.test. CNAME mx1.multi.test.",
            # the unsigned child, delegated without DS
            "insecure.test. NS ns.insecure.test.",
            "ns.insecure.test. A 127.0.0.1",
            # the child whose signatures expired (its DS is added at signing)
            "expired.test. NS ns.expired.test.",
            "ns.expired.test. A 127.0.0.1",
        ],
    },
    "insecure.test.": {
        "sign": None,
        "records": [
            "insecure.test. MX 10 mx.insecure.test.",
            "mx.insecure.test. A 127.0.0.8",
            '_mta-sts.insecure.test. TXT "v=STSv1; id=insecure;"',
        ],
    },
    "expired.test.": {
        "sign": "expired",
        "records": [
            "expired.test. MX 10 mx.expired.test.",
            "mx.expired.test. A 127.0.0.9",
        ],
    },
}

_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def utc(offset_days):
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() + offset_days * 86400))


def run(argv, cwd):
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        sys.stderr.write("dns_server: %s failed:\n%s" % (" ".join(argv), p.stdout.decode("utf-8", "replace")))
        raise SystemExit(1)
    return p.stdout.decode()


def keygen(zone, d):
    """A KSK (SEP flag) for zone, used alone (as a CSK); returns its file base."""
    return run([KEYGEN, "-a", "ECDSAP256SHA256", "-k", zone], d).strip()


def cert_data(certs, name, selector, mtype):
    pem = os.path.join(certs, name + ".pem")
    der = subprocess.run(["openssl", "x509", "-in", pem, "-outform", "DER"],
                         stdout=subprocess.PIPE, check=True).stdout
    if selector == 1:
        pub = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-pubkey"],
                             stdout=subprocess.PIPE, check=True).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                             stdout=subprocess.PIPE, check=True).stdout
    if mtype == 1:
        return hashlib.sha256(der).hexdigest()
    if mtype == 2:
        return hashlib.sha512(der).hexdigest()
    return der.hex()


def zone_of(owner, zones):
    if not owner.endswith("."):
        sys.stderr.write("dns_server: owner %r is not absolute: end it with a dot\n" % owner)
        raise SystemExit(2)
    owner = owner.lower()
    best = None
    for z in zones:
        if owner == z or owner.endswith("." + z):
            if best is None or len(z) > len(best):
                best = z
    if best is None:
        sys.stderr.write("dns_server: %s is in none of the zones %s\n" % (owner, ", ".join(zones)))
        raise SystemExit(2)
    return best


def write_zone(zone, records, path):
    lines = ["$ORIGIN %s" % zone, "$TTL 300",
             "%s SOA ns.test. hostmaster.test. 1 3600 600 86400 300" % zone,
             "%s NS ns.%s" % (zone, zone if zone == "test." else zone)]
    if zone != "test.":
        lines.append("ns.%s A 127.0.0.1" % zone)
    lines += records
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def sign(zone, path, key, how, d):
    if how == "expired":
        inception, expiry = "20200101000000", "20200108000000"
    else:
        inception, expiry = utc(-1), utc(7)
    run([SIGNZONE, "-i", inception, "-e", expiry, "-o", zone, "-f", path + ".signed", path,
         os.path.join(d, key)], d)
    return path + ".signed"


def query_soa(host, port):
    """True when a SOA query for test. gets an answer over UDP."""
    q = struct.pack(">HHHHHH", 0x5353, 0, 1, 0, 0, 0) + b"\x04test\x00" + struct.pack(">HH", 6, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.1)
        try:
            s.sendto(q, (host, port))
            data, _ = s.recvfrom(512)
        except OSError:
            return False
    return len(data) >= 12 and data[:2] == b"\x53\x53" and data[3] & 0x0F == 0


def free_port(host):
    """A port free for TCP and UDP alike (knotd binds both)."""
    while True:
        with socket.socket() as t:
            t.bind((host, 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((host, port))
                except OSError:
                    continue
            return port


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--certs", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--record", action="append", default=[])
    p.add_argument("--tlsa", action="append", default=[])
    a = p.parse_args()

    d = os.path.abspath(a.dir)
    zdir = os.path.join(d, "zones")
    os.makedirs(zdir, exist_ok=True)
    zones = {z: list(v["records"]) for z, v in ZONES.items()}
    for r in a.record:
        zones[zone_of(r.split()[0], zones)].append(r)
    for t in a.tlsa:
        owner, usage, selector, mtype, cert = t.split()
        data = cert_data(a.certs, cert, int(selector), int(mtype))
        zones[zone_of(owner, zones)].append("%s TLSA %s %s %s %s" % (owner, usage, selector, mtype, data))

    keys = {z: keygen(z, zdir) for z, v in ZONES.items() if v["sign"]}
    wrong = keygen("test.", zdir)
    # children first: the parent carries their DS records
    files = {}
    for z in sorted(zones, key=lambda z: -len(z)):
        if z == "test.":
            for child, key in keys.items():
                if child != "test.":
                    with open(os.path.join(zdir, key + ".ds")) as f:
                        zones[z].append(f.read().strip())
        path = os.path.join(zdir, z.rstrip(".") + ".zone")
        write_zone(z, zones[z], path)
        files[z] = sign(z, path, keys[z], ZONES[z]["sign"], zdir) if z in keys else path
    os.replace(os.path.join(zdir, keys["test."] + ".ds"), os.path.join(d, "anchor.ds"))
    os.replace(os.path.join(zdir, wrong + ".ds"), os.path.join(d, "wrong-anchor.ds"))

    for attempt in range(3):
        port = a.port or free_port(a.host)
        conf = os.path.join(d, "knot.conf")
        with open(conf, "w") as f:
            f.write("server:\n  rundir: %s\n  listen: %s@%d\n" % (d, a.host, port))
            f.write("  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\n")
            f.write("database:\n  storage: %s\n" % d)
            f.write("log:\n  - target: stderr\n    any: warning\n")
            f.write("template:\n  - id: default\n    storage: %s\n    zonefile-sync: -1\n"
                    "    zonefile-load: whole\n    journal-content: none\n    semantic-checks: off\n" % zdir)
            f.write("zone:\n")
            for z, path in files.items():
                f.write("  - domain: %s\n    file: %s\n" % (z, path))
        knot = subprocess.Popen([KNOTD, "-c", conf], stdin=subprocess.DEVNULL,
                                preexec_fn=die_with_parent)

        stopping = []

        def stop(signum, frame):
            # Only signal here: the wait below (in progress) sees knotd exit;
            # a wait() in the handler would spin on the lock that one holds.
            stopping.append(signum)
            knot.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        deadline = time.monotonic() + 8
        while knot.poll() is None and time.monotonic() < deadline:
            if query_soa(a.host, port):
                print("READY %d" % port, flush=True)
                knot.wait()
                if stopping:
                    return 0
                sys.stderr.write("dns_server: knotd exited with status %s\n" % knot.returncode)
                return 1
            time.sleep(0.01)
        if knot.poll() is None:
            knot.kill()
            sys.stderr.write("dns_server: knotd did not answer within 8 s\n")
            return 1
        if a.port:
            break
    sys.stderr.write("dns_server: knotd exited with status %s\n" % knot.returncode)
    return 1


if __name__ == "__main__":
    sys.exit(main())
