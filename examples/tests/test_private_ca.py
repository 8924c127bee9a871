#!/usr/bin/python3
"""examples/private_ca against a STARTTLS server whose certificate the test CA
signed: with the CA's file (connect_options::tls.ca_file) the message goes over
TLS; with the system's trust store, which does not hold that CA, the
handshake fails and nothing is sent.

    with_servers.py --server tls:--tls starttls --require-starttls -- test_private_ca.py PRIVATE_CA
"""

import sys

from common import HOST, ca, check, finish, port, records, run, show

rc, out, err = run([sys.argv[1], HOST, port("tls"), ca()])
check(rc == 0, "with the CA file: failed", show(rc, out, err))
check(out == "sent over TLS, the certificate verified against %s\n" % ca(), "with the CA file: stdout",
      show(rc, out, err))
recs = records("tls")
check(len(recs) == 1, "%d messages recorded, want 1" % len(recs))
if recs:
    check(recs[0]["tls"] is True, "the message was not sent over TLS")
    check(recs[0]["rcpt_tos"] == ["recipient@example.com"], "RCPT TO: %r" % recs[0]["rcpt_tos"])
    check(recs[0]["data"] == b"Subject: over a private CA\r\n\r\nHello.\r\n", "recorded data", repr(recs[0]["data"]))

rc, out, err = run([sys.argv[1], HOST, port("tls")])
check(rc == 1, "without the CA file: exit status %d, want 1" % rc, show(rc, out, err))
check("unable to get local issuer certificate" in err, "without the CA file: not refused for its issuer",
      show(rc, out, err))
check(len(records("tls")) == 1, "without the CA file: a message was recorded")
finish()
