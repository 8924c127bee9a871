#!/usr/bin/python3
"""examples/smtp-send against aiosmtpd:

  success: exit 0; the Bcc recipient gets the message, which has no Bcc field
  one refused recipient: exit 1, listed on stderr with the reply
  CR/LF in --to: exit 2, one "smtp-send: " line, nothing sent
  a certificate that fails verification (STARTTLS and implicit): exit 2
  --debug: the transcript, with AUTH masked

    with_servers.py --server "main:--tls starttls --require-starttls AUTH --refuse bad@example.com"
                    --server "expired:--tls implicit --cert expired"
                    --server "wronghost:--tls starttls --cert wronghost"
                    -- test_smtp_send.py SMTP_SEND
"""

import base64
import sys

from common import PASSWORD, USER, ca, check, finish, port, records, run, show

SMTP_SEND = sys.argv[1]

MESSAGE = ('From: "Author, The" <author@example.com>\n'
           'To: Recipient <to@example.com>, "Doe, Jane" <jane@example.com>,\n'
           "  bare@example.com (a comment)\n"
           "Cc: Team: carol@example.com;\n"
           "Bcc: hidden@example.com\n"
           "Subject: smtp-send test\n"
           "\n"
           "Body.\n"
           ".a line that starts with a dot\n")
SENT = MESSAGE.replace("Bcc: hidden@example.com\n", "").replace("\n", "\r\n").encode()
ALL = ["to@example.com", "jane@example.com", "bare@example.com", "carol@example.com", "hidden@example.com"]


def smtp_send(*args, stdin=MESSAGE, server="main"):
    argv = [SMTP_SEND, "--host", "localhost", "--port", port(server), "--cafile", ca()] + list(args)
    return run(argv, stdin=stdin, env={"SMTP_PASSWORD": PASSWORD})


def one_line_failure(what, rc, out, err):
    check(rc == 2, what + ": exit status %d, want 2" % rc, show(rc, out, err))
    check(err.startswith("smtp-send: ") and err.count("\n") == 1 and err.endswith("\n"),
          what + ": stderr is not one 'smtp-send: ' line", show(rc, out, err))


def new_records(name, before):
    return records(name)[before:]


# Success: From and To/Cc/Bcc from the header; AUTH after STARTTLS.
rc, out, err = smtp_send("--user", USER, "--password-env", "SMTP_PASSWORD")
check(rc == 0 and out == "" and err == "", "success: exit 0 and silence", show(rc, out, err))
recs = records("main")
check(len(recs) == 1, "success: %d messages recorded, want 1" % len(recs))
if recs:
    r = recs[0]
    check(r["mail_from"] == "author@example.com", "success: MAIL FROM %r" % r["mail_from"])
    check(r["rcpt_tos"] == ALL, "success: RCPT TO %r" % r["rcpt_tos"])
    check(r["data"] == SENT, "success: recorded data", repr(r["data"]))
    check(b"hidden@" not in r["data"] and b"Bcc" not in r["data"], "success: Bcc in the data")
    check((r["tls"], r["auth_user"]) == (True, USER), "success: tls, auth_user")

# One refused recipient: exit 1, the refusal listed; the others get it.
n = len(records("main"))
rc, out, err = smtp_send("--from", "sender@example.com", "--to", "ok@example.com", "--to", "bad@example.com")
check(rc == 1, "refused: exit status %d, want 1" % rc, show(rc, out, err))
check(err == "smtp-send: refused bad@example.com: 550 5.1.1 <bad@example.com>: Recipient address rejected\n",
      "refused: stderr", show(rc, out, err))
recs = new_records("main", n)
check(len(recs) == 1 and recs[0]["rcpt_tos"] == ["ok@example.com"] and recs[0]["mail_from"] == "sender@example.com",
      "refused: recorded %r" % [(r["mail_from"], r["rcpt_tos"]) for r in recs])

# CR/LF in --to: refused before connecting.
n = len(records("main"))
rc, out, err = smtp_send("--to", "a@example.com\r\nRCPT TO:<victim@example.com>")
one_line_failure("CR/LF in --to", rc, out, err)
check("\\r\\n" in err, "CR/LF in --to: the address is not shown escaped", err)
check(len(records("main")) == n, "CR/LF in --to: something was sent")

# Certificates that fail verification, on both TLS paths.
rc, out, err = smtp_send("--tls", "implicit", server="expired")
one_line_failure("expired certificate (implicit TLS)", rc, out, err)
check("certificate has expired" in err, "expired certificate: reason", err)
check(not records("expired"), "expired certificate: something was sent")
rc, out, err = smtp_send(server="wronghost")
one_line_failure("wrong host certificate (STARTTLS)", rc, out, err)
check("STARTTLS" in err and "hostname mismatch" in err.lower(), "wrong host certificate: reason", err)
check(not records("wronghost"), "wrong host certificate: something was sent")

# --debug: smtplib's transcript on stderr, the AUTH secret masked.
rc, out, err = smtp_send("--user", USER, "--password-env", "SMTP_PASSWORD", "--debug", "--to", "dbg@example.com")
check(rc == 0, "--debug: failed", show(rc, out, err))
check("send: 'STARTTLS\\r\\n'" in err and "send: 'RCPT TO:<dbg@example.com>\\r\\n'" in err,
      "--debug: no transcript", err)
check("send: 'AUTH PLAIN ********\\r\\n'" in err, "--debug: no masked AUTH line", err)
secret = base64.b64encode(("\0%s\0%s" % (USER, PASSWORD)).encode()).decode()
check(PASSWORD not in err and secret not in err, "--debug: the password is in the transcript", err)

# Usage errors: one line, exit 2.
for args, what in [(["--tls", "none", "--user", USER, "--password-env", "SMTP_PASSWORD"], "--user with --tls none"),
                   (["--user", USER], "--user without --password-env"),
                   (["--tls", "ssl"], "bad --tls"),
                   (["--port", "0"], "bad --port")]:
    rc, out, err = smtp_send(*args)
    one_line_failure(what, rc, out, err)
rc, out, err = smtp_send(stdin="Subject: no addresses\n\nbody\n")
one_line_failure("no From, no recipients", rc, out, err)
finish()
