#!/usr/bin/python3
"""examples/counting_stream (a stream transport of one's own, under the
session's TLS layer) against a STARTTLS server: the message arrives over TLS,
and the program counted the bytes in clear (EHLO) and in all.

    with_servers.py --server tls:--tls starttls --require-starttls -- test_counting_stream.py COUNTING_STREAM
"""

import re
import sys

from common import HOST, ca, check, finish, port, records, run, show

rc, out, err = run([sys.argv[1], HOST, port("tls"), ca()])
check(rc == 0, "failed", show(rc, out, err))
m = re.fullmatch(r"in clear: (\d+) bytes out; in all: (\d+) out, (\d+) in, TLS included\n", out)
check(m is not None, "stdout", show(rc, out, err))
if m:
    check(int(m.group(1)) > 0, "bytes in clear", out)
    check(int(m.group(2)) > int(m.group(1)) and int(m.group(3)) > 0, "bytes in all", out)
recs = records("tls")
check(len(recs) == 1 and recs[0]["tls"] is True, "one message, over TLS", repr(recs))
finish()
