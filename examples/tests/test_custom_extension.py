#!/usr/bin/python3
"""examples/custom_extension against aiosmtpd: MT-PRIORITY (RFC 6710), an
extension written outside the library, on MAIL FROM when the server offers
it; refused before a byte when it is required and not offered.

    with_servers.py --server "prio:--mt-priority MIXER" --server plain: -- test_custom_extension.py PROGRAM
"""

import sys

from common import check, finish, port, records, run, show

prog = sys.argv[1]

# Offered and required: MT-PRIORITY=-3 on MAIL FROM, as the server recorded it.
rc, out, err = run([prog, "127.0.0.1", port("prio"), "-3", "required"])
check(rc == 0, "required, offered: exit 0", show(rc, out, err))
check("the server offers MT-PRIORITY, policy 'MIXER'" in out, "the EHLO keyword's policy", show(rc, out, err))
got = records("prio")
check(len(got) == 1 and "MT-PRIORITY=-3" in got[0]["mail_options"], "MT-PRIORITY=-3 recorded",
      repr([r["mail_options"] for r in got]))

# A priority the extension refuses (out of -9..9): nothing is sent.
rc, out, err = run([prog, "127.0.0.1", port("prio"), "12", "if-offered"])
check(rc == 1 and "MT-PRIORITY" in err, "priority 12 refused", show(rc, out, err))
check(len(records("prio")) == 1, "nothing more recorded after the refusal")

# Required and not offered: a clear error naming the extension, no message.
rc, out, err = run([prog, "127.0.0.1", port("plain"), "5", "required"])
check(rc == 1, "required, not offered: exit 1", show(rc, out, err))
check("MT-PRIORITY" in err and "does not offer" in err, "the error names MT-PRIORITY", show(rc, out, err))
check(records("plain") == [], "nothing recorded by the server without MT-PRIORITY")

# Used if offered: the same server takes the message, without the parameter.
rc, out, err = run([prog, "127.0.0.1", port("plain"), "5", "if-offered"])
check(rc == 0, "if-offered, not offered: exit 0", show(rc, out, err))
got = records("plain")
check(len(got) == 1 and not any(o.startswith("MT-PRIORITY") for o in got[0]["mail_options"]),
      "sent without MT-PRIORITY", repr([r["mail_options"] for r in got]))
finish()
