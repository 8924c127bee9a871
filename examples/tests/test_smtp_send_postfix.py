#!/usr/bin/python3
"""examples/smtp-send against a private Postfix (PIPELINING, CHUNKING, DSN):

  --dsn-notify=success --envid: NOTIFY and ENVID (xtext) sent, the commands
    and the one BDAT chunk in one write; the message in the recipient's
    maildir, and Postfix's success DSN, quoting the ENVID, in the sender's
  --no-chunking: DATA instead of BDAT, still pipelined
  --no-pipelining: MAIL, RCPT and the BDAT chunk each in a write of its own

    with_servers.py --postfix "mta" -- test_smtp_send_postfix.py SMTP_SEND
"""

import os
import sys
import time

from common import check, finish, run, show

SMTP_SEND = sys.argv[1]
PORT = os.environ["SMTP_TEST_MTA_PORT"]
MAILDIR = os.environ["SMTP_TEST_MTA_MAILDIR"]
DOMAIN = os.environ["SMTP_TEST_MTA_DOMAIN"]  # example.test
SENDER = "alice@" + DOMAIN


def message(to, subject):
    return "From: %s\nTo: %s\nSubject: %s\n\nBody.\n" % (SENDER, to, subject)


def smtp_send(to, subject, *args):
    argv = [SMTP_SEND, "--host", "localhost", "--port", PORT, "--tls", "none", "--debug"] + list(args)
    return run(argv, stdin=message(to, subject))


def writes(err):
    """The transcript's writes after EHLO, before QUIT."""
    return [l for l in err.splitlines()
            if l.startswith("send: ") and not l.startswith(("send: 'EHLO ", "send: 'QUIT"))]


def delivered(local, needle, deadline):
    """The text of the first message in local's maildir that contains needle, waiting until deadline."""
    new = os.path.join(MAILDIR, local, "new")
    while True:
        if os.path.isdir(new):
            for name in sorted(os.listdir(new)):
                with open(os.path.join(new, name), errors="replace") as fh:
                    text = fh.read()
                if needle in text:
                    return text
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


# A success DSN with an ENVID that needs xtext ('+' is "+2B").
BOB = "bob@" + DOMAIN
rc, out, err = smtp_send(BOB, "smtp-send DSN", "--dsn-notify=success", "--envid", "smtp-send+42")
check(rc == 0 and out == "", "DSN: failed", show(rc, out, err))
w = writes(err)
check(len(w) == 1 and "MAIL FROM:<%s> SIZE=" % SENDER in w[0] and " ENVID=smtp-send+2B42\\r\\n" in w[0] and
      "RCPT TO:<%s> NOTIFY=SUCCESS\\r\\nBDAT " % BOB in w[0] and "Subject: smtp-send DSN" in w[0],
      "DSN: not MAIL, RCPT and the BDAT chunk in one write with NOTIFY and ENVID", err)

# --no-chunking: DATA, pipelined with MAIL and RCPT.
CAROL = "carol@" + DOMAIN
rc, out, err = smtp_send(CAROL, "smtp-send no chunking", "--no-chunking")
check(rc == 0 and out == "", "--no-chunking: failed", show(rc, out, err))
w = writes(err)
check(len(w) == 2 and w[0].startswith("send: 'MAIL FROM:<%s> SIZE=" % SENDER) and
      w[0].endswith("\\r\\nRCPT TO:<%s>\\r\\nDATA\\r\\n'" % CAROL) and "BDAT" not in err,
      "--no-chunking: not MAIL, RCPT and DATA in one write, then the data", err)

# --no-pipelining: lockstep, BDAT.
DAVE = "dave@" + DOMAIN
rc, out, err = smtp_send(DAVE, "smtp-send no pipelining", "--no-pipelining")
check(rc == 0 and out == "", "--no-pipelining: failed", show(rc, out, err))
w = writes(err)
check(len(w) == 3 and w[0].startswith("send: 'MAIL FROM:<%s> SIZE=" % SENDER) and w[0].endswith("\\r\\n'") and
      w[1] == "send: 'RCPT TO:<%s>\\r\\n'" % DAVE and w[2].startswith("send: b'BDAT "),
      "--no-pipelining: not MAIL, RCPT and BDAT in a write each", err)

# Postfix delivers after its reply: poll the maildirs.
deadline = time.monotonic() + 10
for local, subject in [("bob", "smtp-send DSN"), ("carol", "smtp-send no chunking"),
                       ("dave", "smtp-send no pipelining")]:
    check(delivered(local, "Subject: " + subject, deadline) is not None, "%s: not delivered in 10 s" % local)
dsn = delivered("alice", "Successful Mail Delivery Report", deadline)
check(dsn is not None, "no success DSN in the sender's maildir in 10 s")
if dsn is not None:
    check("Original-Envelope-Id: smtp-send+42\n" in dsn and "Final-Recipient: rfc822; %s\n" % BOB in dsn and
          "Action: delivered\n" in dsn, "the DSN does not quote the ENVID and the recipient", dsn)
finish()
