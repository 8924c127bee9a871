"""examples/deadline.cpp: `connect || timer` with Asio's awaitable operators.
Against aiosmtpd the connect wins and the message is sent (recorded once);
against a server that accepts and never greets the timer wins after 300 ms,
the connect is cancelled, and the program ends at once (the session's own
greeting timeout is 5 minutes: nothing of the cancelled connect is left)."""

import sys
import time

from common import check, finish, port, records, run, show

rc, out, err = run([sys.argv[1], "127.0.0.1", port("plain"), "5000"])
if "needs per-operation cancellation" in out:
    sys.exit(77)  # ctest: skipped (SKIP_RETURN_CODE), not passed
check(rc == 0 and out == "queued: 1\n", "in time: sent", show(rc, out, err))
got = records("plain")
check(len(got) == 1, "one message recorded", str(len(got)))

start = time.monotonic()
rc, out, err = run([sys.argv[1], "127.0.0.1", port("silent"), "300"])
took = time.monotonic() - start
check(rc == 1 and out == "no greeting within 300 ms: gave up\n", "too late: given up", show(rc, out, err))
check(took < 10, "ended right after the deadline", "%.1f s" % took)
finish()
