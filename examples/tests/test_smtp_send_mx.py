#!/usr/bin/python3
"""examples/smtp-send --mx: direct delivery over a DNSSEC test bed (knotd with
the records below), aiosmtpd MX hosts on 127.0.0.2 (server.pem, which the TLSA
records name), 127.0.0.3 (selfsigned.pem: a forged key) and 127.0.0.4 (no
STARTTLS: a stripped one), all on one port:

  dane.test: delivered by mx.dane.test [127.0.0.2], protection=dane_authenticated
    with the TLSA record 3.1.1 at depth 0; exit 0
  danefail.test: the forged first MX passed over, the second delivers
  daneall.test (forged, then stripped) with nullmx.test and expired.test:
    nothing delivered anywhere; deferred (each host tried, and why), refused
    (null MX), deferred (bogus); exit 2
  dane.test and daneall.test at once: exit 1
  --mx with --host, --port, --tls; a test-bed option without --mx: usage
    errors (exit 2, one line), nothing stored

    with_servers.py --dns "dns:..." --server "good:--tls=starttls --host 127.0.0.2 --port {mxport}"
                    --server "forged:... --cert selfsigned" --server "plain:--host 127.0.0.4 --port {mxport}"
                    -- test_smtp_send_mx.py SMTP_SEND
"""

import os
import sys

from common import check, finish, records, run, show

SMTP_SEND = sys.argv[1]
MESSAGE = "From: a@example.org\nTo: %s\nSubject: %s\n\ndirect\n"
BED = ["--dns-stub", "test.=127.0.0.1@" + os.environ["SMTP_TEST_DNS_PORT"],
       "--trust-anchor", os.environ["SMTP_TEST_DNS_ANCHOR"],
       "--mx-port", os.environ["SMTP_TEST_MXPORT"], "--timeout", "5"]


def counts():
    return {s: len(records(s)) for s in ("good", "forged", "plain")}


def smtp_send(to, subject, extra=()):
    argv = [SMTP_SEND, "--mx"] + BED + list(extra)
    for t in to:
        argv += ["--to", t]
    return run(argv, stdin=MESSAGE % (", ".join(to), subject))


def line_of(out, address):
    for l in out.splitlines():
        if l.startswith(address + ": "):
            return l
    return ""


# DANE-EE: delivered, and the line says by whom and how.
before = counts()
rc, out, err = smtp_send(["rcpt@dane.test"], "dane")
l = line_of(out, "rcpt@dane.test")
check(rc == 0, "dane.test: exit status", show(rc, out, err))
check(l.startswith("rcpt@dane.test: delivered mx=mx.dane.test [127.0.0.2] protection=dane_authenticated tlsa=3.1.1@depth0"),
      "dane.test: the line", show(rc, out, err))
check(' reply="250' in l, "dane.test: the reply", show(rc, out, err))
check(counts()["good"] == before["good"] + 1, "dane.test: stored once by 127.0.0.2")

# The forged first MX passed over.
before = counts()
rc, out, err = smtp_send(["rcpt@danefail.test"], "danefail")
check(rc == 0, "danefail.test: exit status", show(rc, out, err))
check(line_of(out, "rcpt@danefail.test").startswith("rcpt@danefail.test: delivered mx=mx2.danefail.test [127.0.0.2] "
                                                     "protection=dane_authenticated"), "danefail.test: the line",
      show(rc, out, err))
check(counts() == dict(before, good=before["good"] + 1), "danefail.test: the forger stored nothing")

# Downgrades and refusals: nothing delivered anywhere.
before = counts()
rc, out, err = smtp_send(["x@daneall.test", "y@nullmx.test", "z@expired.test"], "nothing")
check(rc == 2, "nothing delivered: exit status 2", show(rc, out, err))
l = line_of(out, "x@daneall.test")
check(l.startswith("x@daneall.test: deferred") and "tried=mx1.daneall.test[127.0.0.3]" in l and
      "tried=mx2.daneall.test[127.0.0.4]" in l and "STARTTLS" in l, "daneall.test: deferred, both hosts named",
      show(rc, out, err))
check(line_of(out, "y@nullmx.test").startswith("y@nullmx.test: refused") and "null MX" in out,
      "nullmx.test: refused", show(rc, out, err))
check(line_of(out, "z@expired.test").startswith("z@expired.test: deferred") and "bogus" in out,
      "expired.test: deferred, bogus", show(rc, out, err))
check(counts() == before, "nothing stored anywhere", str(counts()))

# Some delivered, some not: exit 1.
rc, out, err = smtp_send(["a@dane.test", "b@daneall.test"], "some")
check(rc == 1, "some delivered: exit status 1", show(rc, out, err))

# Usage errors, before any I/O.
before = counts()
for extra, what in ((["--host", "localhost"], "--host"), (["--port", "25"], "--port"), (["--tls", "none"], "--tls")):
    rc, out, err = smtp_send(["rcpt@dane.test"], "usage", extra)
    check(rc == 2 and err.startswith("smtp-send: --mx") and what in err and err.count("\n") == 1 and not out,
          "--mx with " + what + ": a usage error", show(rc, out, err))
rc, out, err = run([SMTP_SEND, "--host", "localhost", "--mx-port", "25", "--to", "a@dane.test"],
                   stdin=MESSAGE % ("a@dane.test", "usage"))
check(rc == 2 and "go with --mx" in err, "--mx-port without --mx: a usage error", show(rc, out, err))
check(counts() == before, "usage errors stored nothing")

finish()
