#!/usr/bin/python3
"""examples/verify against aiosmtpd with VRFY answers: smtplib's result lines.

    with_servers.py --server "plain:--vrfy 'dhellmann=2.1.5 Doug Hellmann <dhellmann@mail>'" \
                    -- test_verify.py VERIFY
"""

import sys

from common import check, finish, port, run, show

rc, out, err = run([sys.argv[1], "localhost", port("plain")])
check(rc == 0, "verify failed", show(rc, out, err))
check(out == "dhellmann: (250, '2.1.5 Doug Hellmann <dhellmann@mail>')\n"
             "notthere : (550, '5.1.1 <notthere>... User unknown')\n", "stdout", show(rc, out, err))
for line in ["send: 'VRFY dhellmann\\r\\n'",
             "reply: b'250 2.1.5 Doug Hellmann <dhellmann@mail>\\r\\n'",
             "send: 'VRFY notthere\\r\\n'",
             "reply: retcode (550); Msg: b'5.1.1 <notthere>... User unknown'",
             "send: 'QUIT\\r\\n'"]:
    check(line in err, "not in the transcript: " + line, show(rc, out, err))
finish()
