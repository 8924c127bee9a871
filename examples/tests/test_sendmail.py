#!/usr/bin/python3
"""examples/sendmail against aiosmtpd: the transcript, and the message as recorded.

    with_servers.py --server plain: -- test_sendmail.py SENDMAIL
"""

import sys

from common import check, finish, port, records, run, show

MESSAGE = (b'Content-Type: text/plain; charset="us-ascii"\r\n'
           b"MIME-Version: 1.0\r\n"
           b"Content-Transfer-Encoding: 7bit\r\n"
           b"To: Recipient <recipient@example.com>\r\n"
           b"From: Author <author@example.com>\r\n"
           b"Subject: Simple test message\r\n"
           b"\r\n"
           b"This is the body of the message.\r\n")

rc, out, err = run([sys.argv[1], "localhost", port("plain")])
check(rc == 0, "sendmail failed", show(rc, out, err))
check(out == "", "sendmail printed on stdout", show(rc, out, err))
for line in ["send: 'MAIL FROM:<author@example.com> SIZE=%d\\r\\n'" % len(MESSAGE),
             "send: 'RCPT TO:<recipient@example.com>\\r\\n'",
             "data: (354, b'End data with <CR><LF>.<CR><LF>')",
             "send: b'Content-Type: text/plain; charset=\"us-ascii\"\\r\\nMIME-Version: 1.0\\r\\n",
             "Subject: Simple test message\\r\\n\\r\\nThis is the body of the message.\\r\\n.\\r\\n'",
             "data: (250, b'OK')",
             "send: 'QUIT\\r\\n'",
             "reply: retcode (221); Msg: b'Bye'"]:
    check(line in err, "not in the transcript: " + line, show(rc, out, err))

recs = records("plain")
check(len(recs) == 1, "%d messages recorded, want 1" % len(recs))
if recs:
    check(recs[0]["mail_from"] == "author@example.com", "MAIL FROM: %r" % recs[0]["mail_from"])
    check(recs[0]["rcpt_tos"] == ["recipient@example.com"], "RCPT TO: %r" % recs[0]["rcpt_tos"])
    check(recs[0]["data"] == MESSAGE, "recorded data", repr(recs[0]["data"]))
finish()
