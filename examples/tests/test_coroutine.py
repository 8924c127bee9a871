"""examples/coroutine.cpp against aiosmtpd: one message sent with co_await,
recorded once with its envelope; the program prints the final reply."""

import sys

from common import check, finish, port, records, run, show

rc, out, err = run([sys.argv[1], "127.0.0.1", port("plain")])
check(rc == 0, "exit status 0", show(rc, out, err))
check(out.startswith("queued: 1, "), "the result line", show(rc, out, err))
got = records("plain")
check(len(got) == 1, "one message recorded", str(len(got)))
if got:
    check(got[0]["mail_from"] == "author@example.com" and got[0]["rcpt_tos"] == ["recipient@example.com"],
          "its envelope", str({k: got[0][k] for k in ("mail_from", "rcpt_tos")}))
    check(got[0]["data"].startswith(b"Subject: from a coroutine\r\n"), "its data", repr(got[0]["data"][:60]))
finish()
