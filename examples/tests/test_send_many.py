"""examples/send_many.cpp against aiosmtpd: three messages over one session,
then 20 through the pool; every message recorded once, each result printed."""

import sys

from common import check, finish, port, records, run, show

rc, out, err = run([sys.argv[1], "127.0.0.1", port("plain")])
check(rc == 0, "exit status 0", show(rc, out, err))
lines = out.splitlines()
check(lines[:3] == ["queued a@example.com=250 b@example.com=250"] * 3, "three batch results", show(rc, out, err))
check(len(lines) == 4 and lines[3].startswith("pool: 20 of 20 queued over "), "the pool line", show(rc, out, err))
subjects = sorted(r["data"].split(b"\r\n")[0].decode() for r in records("plain"))
expected = sorted(["Subject: batch %d" % i for i in range(3)] + ["Subject: pooled %d" % i for i in range(20)])
check(subjects == expected, "each message recorded once", "\n".join(subjects))
finish()
