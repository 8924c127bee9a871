#!/usr/bin/python3
"""examples/smtp-send against aiosmtpd:

  success: exit 0; the Bcc recipient gets the message, which has no Bcc field
  one refused recipient: exit 1, listed on stderr with the reply
  CR/LF in --to: exit 2, one "smtp-send: " line, nothing sent
  a certificate that fails verification (STARTTLS and implicit): exit 2
  --debug: the transcript, with AUTH masked
  --lmtp: LHLO, one recipient delivered and one refused after the data (exit 1),
    every recipient refused after the data (exit 2)
  --dsn-notify, --dsn-ret, --envid: NOTIFY on every RCPT, RET and ENVID (xtext)
    on MAIL; a server without DSN: exit 2, one line, nothing sent
  --requiretls: in clear (a usage error, before connecting), and over TLS to
    a server without REQUIRETLS: exit 2, one line, nothing sent
  --no-pipelining against smtp-sink (PIPELINING): one command per write,
    where MAIL, RCPT and DATA go in one write without it
  bad values of the new options: usage errors (exit 2, one line)
  UTF-8 addresses (a local part, a domain): to a server with SMTPUTF8,
    delivered with SMTPUTF8 on MAIL; to one without: exit 2, one line, no
    MAIL sent; invalid UTF-8: refused before connecting
  a line over 998 octets: exit 2, one line with its number and length, and
    no connection made (to a socket that listens and never accepts)
  --timeout 1 to a server that never greets: exit 2 after about 1 s, the line
    naming the timeout; bad values: usage errors
  --auth: CRAM-MD5 when asked for; the list's order, not the default's; a
    server that offers none of the list: exit 2, naming both lists; unknown
    names and a mechanism without its secret: usage errors
  --oauth-token-env: OAUTHBEARER by default, XOAUTH2 with --auth; the token
    masked in --debug; a wrong token: exit 2 with the server's reply
  --cert, --key, --key-passphrase-env against a server that requires a client
    certificate (recorded), a wrong passphrase, none, another CA's; --pin-sha256
    that matches (base64 and hex) and that does not (no command sent); their
    usage errors
  --dkim-key, --dkim-domain, --dkim-selector (RSA and Ed25519 keys), with and
    without --dkim-headers: what the server stored verifies with dkimpy (Bcc
    removed before signing), and a tampered copy does not; an incomplete set
    of the options, a key that is not one, a message without From: exit 2,
    one line, nothing sent
  the messages: each fact once, with its numbers (thousands separated): a
    message over the server's SIZE limit (nothing sent), MAIL refused,
    STARTTLS not offered, an address part too long, --envid too long, --port
    out of range, several authors and no Sender

    with_servers.py --server "main:--tls starttls --require-starttls AUTH --refuse bad@example.com"
                    (AUTH: --auth plain-login,cram-md5,xoauth2,oauthbearer, with user, password and token)
                    --server "expired:--tls implicit --cert expired"
                    --server "wronghost:--tls starttls --cert wronghost"
                    --server "lmtp:--lmtp --lmtp-data-refuse=full@example.com"
                    --server "dsn:--dsn"
                    --server "plain:"
                    --server "utf8:--smtputf8"
                    --server "small:--size 10000"
                    --server "clientcert:--tls implicit --client-ca ca"
                    --sink "sink"
                    --sink "refusing:-f mail"
                    -- test_smtp_send.py SMTP_SEND
"""

import base64
import hashlib
import os
import socket
import subprocess
import sys
import time

from common import PASSWORD, USER, ca, check, finish, port, records, run, show

SMTP_SEND = sys.argv[1]
TOKEN = "ya29.t0ken"  # examples/CMakeLists.txt gives it to the server "main"

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
    return run(argv, stdin=stdin, env={"SMTP_PASSWORD": PASSWORD, "SMTP_TOKEN": TOKEN})


def one_line_failure(what, rc, out, err):
    check(rc == 2, what + ": exit status %s, want 2" % rc, show(rc, out, err))
    check(err.startswith("smtp-send: ") and err.count("\n") == 1 and err.endswith("\n"),
          what + ": stderr is not one 'smtp-send: ' line", show(rc, out, err))


def new_records(name, before):
    return records(name)[before:]


def silent_listener():
    """A socket that listens and never accepts: the kernel completes a client's
    connection into its backlog, and no greeting ever comes."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    s.setblocking(False)
    return s


def connections(listener):
    """How many connections were made to the listener since the last call."""
    n = 0
    while True:
        try:
            c, _ = listener.accept()
        except BlockingIOError:
            return n
        c.close()
        n += 1


def grouped(n):
    return "{:,}".format(n)


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

# --lmtp: LHLO (aiosmtpd's LMTP server answers EHLO with 500), then one reply
# per recipient after the data; the one refused there is listed, exit 1.
rc, out, err = smtp_send("--lmtp", "--tls", "none", "--from", "sender@example.com",
                         "--to", "ok@example.com", "--to", "full@example.com", server="lmtp")
check(rc == 1, "--lmtp: exit status %d, want 1" % rc, show(rc, out, err))
check(out == "" and err == "smtp-send: refused full@example.com after the data: "
                            "550 5.2.1 <full@example.com>: mailbox unavailable\n",
      "--lmtp: output", show(rc, out, err))
recs = records("lmtp")
check(len(recs) == 1, "--lmtp: %d messages recorded, want 1" % len(recs))
if recs:
    r = recs[0]
    check(r["rcpt_tos"] == ["ok@example.com", "full@example.com"], "--lmtp: RCPT TO %r" % r["rcpt_tos"])
    check(r["lmtp_replies"] == ["250 2.1.5 <ok@example.com> delivered",
                                "550 5.2.1 <full@example.com>: mailbox unavailable"],
          "--lmtp: lmtp_replies %r" % r.get("lmtp_replies"))
    check(r["data"] == SENT, "--lmtp: recorded data", repr(r["data"]))
# Every recipient refused after the data: exit 2, one line listing them.
rc, out, err = smtp_send("--lmtp", "--tls", "none", "--to", "full@example.com", server="lmtp")
one_line_failure("--lmtp, every recipient refused", rc, out, err)
check("every recipient was refused: full@example.com after the data: 550 5.2.1" in err,
      "--lmtp, every recipient refused: reason", err)
# Without --lmtp, the LMTP server refuses EHLO: nothing sent.
n = len(records("lmtp"))
rc, out, err = smtp_send("--tls", "none", server="lmtp")
one_line_failure("SMTP to an LMTP server", rc, out, err)
check(len(records("lmtp")) == n, "SMTP to an LMTP server: something was recorded")

# DSN: NOTIFY on every RCPT, RET and ENVID (xtext; aiosmtpd upper-cases
# the parameters it accepts) on MAIL.
rc, out, err = smtp_send("--tls", "none", "--dsn-notify=success,Delay", "--dsn-ret", "full",
                         "--envid", "ID 42+X=Y", "--to", "a@example.com", "--to", "b@example.com", server="dsn")
check(rc == 0 and out == "" and err == "", "DSN: exit 0 and silence", show(rc, out, err))
recs = records("dsn")
check(len(recs) == 1, "DSN: %d messages recorded, want 1" % len(recs))
if recs:
    r = recs[0]
    check(r["rcpt_tos"] == ["a@example.com", "b@example.com"], "DSN: RCPT TO %r" % r["rcpt_tos"])
    check(r["rcpt_options"] == [["NOTIFY=SUCCESS,DELAY"], ["NOTIFY=SUCCESS,DELAY"]],
          "DSN: rcpt_options %r" % r["rcpt_options"])
    check("RET=FULL" in r["mail_options"] and "ENVID=ID+2042+2BX+3DY" in r["mail_options"],
          "DSN: mail_options %r" % r["mail_options"])
rc, out, err = smtp_send("--tls", "none", "--dsn-notify", "NEVER", "--dsn-ret=hdrs", "--to", "a@example.com",
                         server="dsn")
check(rc == 0, "DSN NEVER: failed", show(rc, out, err))
recs = records("dsn")[1:]
if len(recs) == 1:
    check(recs[0]["rcpt_options"] == [["NOTIFY=NEVER"]] and "RET=HDRS" in recs[0]["mail_options"] and
          not any(o.startswith("ENVID=") for o in recs[0]["mail_options"]),
          "DSN NEVER: options %r %r" % (recs[0]["mail_options"], recs[0]["rcpt_options"]))
else:
    check(False, "DSN NEVER: %d messages recorded, want 1" % len(recs))
# A server without DSN: refused before MAIL, one clear line.
for args in (["--dsn-notify", "failure"], ["--dsn-ret", "HDRS"], ["--envid", "x"]):
    rc, out, err = smtp_send("--tls", "none", *args, server="plain")
    one_line_failure("%s without DSN" % args[0], rc, out, err)
    check("does not offer DSN" in err, "%s without DSN: reason" % args[0], err)
check(not records("plain"), "DSN options without DSN: something was sent")

# --requiretls: in clear; over TLS to a server without REQUIRETLS.
n = len(records("plain"))
rc, out, err = smtp_send("--tls", "none", "--requiretls", "--debug", server="plain")
one_line_failure("--requiretls in clear", rc, out, err)
check("--requiretls needs an encrypted session" in err, "--requiretls in clear: reason", err)
check("reply:" not in err, "--requiretls in clear: a usage error, found before connecting", err)
check(len(records("plain")) == n, "--requiretls in clear: something was sent")
n = len(records("main"))
rc, out, err = smtp_send("--user", USER, "--password-env", "SMTP_PASSWORD", "--requiretls")
one_line_failure("--requiretls without REQUIRETLS", rc, out, err)
check("does not offer REQUIRETLS" in err, "--requiretls without REQUIRETLS: reason", err)
check(len(records("main")) == n, "--requiretls without REQUIRETLS: something was sent")


# Pipelining against smtp-sink, which offers it: MAIL, RCPTs and DATA in one
# write (one "send:" line of the transcript); --no-pipelining: one each.
def commands_sent(err):
    """The transcript's writes of commands after EHLO, before QUIT (message data shows as b'...')."""
    return [l for l in err.splitlines()
            if l.startswith("send: '") and not l.startswith(("send: 'EHLO ", "send: 'QUIT"))]


TWO = ["--to", "x@example.com", "--to", "y@example.com"]
rc, out, err = smtp_send("--tls", "none", "--debug", *TWO, server="sink")
check(rc == 0 and "reply: b'250-PIPELINING\\r\\n'" in err, "smtp-sink with PIPELINING: failed", show(rc, out, err))
check(commands_sent(err) == ["send: 'MAIL FROM:<author@example.com>\\r\\nRCPT TO:<x@example.com>\\r\\n"
                             "RCPT TO:<y@example.com>\\r\\nDATA\\r\\n'"],
      "pipelining: not one write", err)
rc, out, err = smtp_send("--tls", "none", "--debug", "--no-pipelining", *TWO, server="sink")
check(rc == 0, "--no-pipelining: failed", show(rc, out, err))
check(commands_sent(err) == ["send: 'MAIL FROM:<author@example.com>\\r\\n'", "send: 'RCPT TO:<x@example.com>\\r\\n'",
                             "send: 'RCPT TO:<y@example.com>\\r\\n'", "send: 'DATA\\r\\n'"],
      "--no-pipelining: not one command per write", err)

# UTF-8 addresses (RFC 6531): checked before connecting like any other, and
# SMTPUTF8 left to the engine, which declares it on MAIL when the server
# offers it and sends nothing when it does not.
UTF8_TO = ["\u00fcnicode@example.org", "user@b\u00fccher.example"]
UTF8_ARGS = ["--tls", "none", "--from", "sender@example.com", "--to", UTF8_TO[0], "--to", UTF8_TO[1]]
rc, out, err = smtp_send(*UTF8_ARGS, server="utf8")
check(rc == 0 and out == "" and err == "", "UTF-8 addresses with SMTPUTF8: exit 0 and silence", show(rc, out, err))
recs = records("utf8")
check(len(recs) == 1, "UTF-8 addresses with SMTPUTF8: %d messages recorded, want 1" % len(recs))
if recs:
    check(recs[0]["rcpt_tos"] == UTF8_TO, "UTF-8 addresses with SMTPUTF8: RCPT TO %r" % recs[0]["rcpt_tos"])
    check("SMTPUTF8" in recs[0]["mail_options"],
          "UTF-8 addresses with SMTPUTF8: SMTPUTF8 not declared on MAIL: %r" % recs[0]["mail_options"])
n = len(records("plain"))
rc, out, err = smtp_send(*UTF8_ARGS, server="plain")
one_line_failure("UTF-8 addresses without SMTPUTF8", rc, out, err)
check("SMTPUTF8" in err and UTF8_TO[0] in err, "UTF-8 addresses without SMTPUTF8: reason", err)
rc, out, err = smtp_send(*UTF8_ARGS, "--debug", server="plain")
check(rc == 2 and "send: 'EHLO " in err and "send: 'MAIL" not in err and "send: 'RCPT" not in err,
      "UTF-8 addresses without SMTPUTF8: MAIL or RCPT sent", show(rc, out, err))
check(len(records("plain")) == n, "UTF-8 addresses without SMTPUTF8: something was recorded")
# Not UTF-8 at all (Latin-1 bytes): refused before connecting.
n = len(records("utf8"))
rc, out, err = smtp_send("--tls", "none", "--to", b"caf\xe9@example.org", server="utf8")
one_line_failure("--to in Latin-1", rc, out, err)
check("is not valid UTF-8" in err and "caf\ufffd@example.org" in err, "--to in Latin-1: reason", err)
check(len(records("utf8")) == n, "--to in Latin-1: something was sent")

# A line over 998 octets (RFC 5321 4.5.3.1.6): found before connecting, its
# line number counted in the input as given (the Bcc field included).
silent = silent_listener()
LONG = ("From: author@example.com\nTo: to@example.com\nBcc: hidden@example.com\nSubject: long\n\n"
        "short\n" + "x" * 1200 + "\nend\n")
rc, out, err = run([SMTP_SEND, "--host", "127.0.0.1", "--port", str(silent.getsockname()[1]), "--tls", "none"],
                   stdin=LONG, timeout=10)
one_line_failure("a line over 998 octets", rc, out, err)
check(err == "smtp-send: message line 7 is 1,200 octets; the limit is 998 (RFC 5321 4.5.3.1.6)\n",
      "a line over 998 octets: reason", show(rc, out, err))
check(connections(silent) == 0, "a line over 998 octets: a connection was made")

# --timeout: every phase's limit. A server that never greets: the greeting's
# limit ends it.
start = time.monotonic()
rc, out, err = run([SMTP_SEND, "--host", "127.0.0.1", "--port", str(silent.getsockname()[1]), "--timeout", "1"],
                   stdin=MESSAGE, timeout=10)
elapsed = time.monotonic() - start
one_line_failure("--timeout 1, no greeting", rc, out, err)
check(0.9 <= elapsed < 3, "--timeout 1, no greeting: took %.2f s" % elapsed)
check(err == "smtp-send: connecting to 127.0.0.1 port %d: the server sent no greeting: if it expects TLS at once, "
      "use tls::implicit, usually port 465: no greeting within 1 s (--timeout 1 s)\n"
      % silent.getsockname()[1], "--timeout 1, no greeting: reason", show(rc, out, err))
check(connections(silent) == 1, "--timeout 1, no greeting: not one connection")

# --auth: an ordered list among the mechanisms smtp-send knows. The server
# offers PLAIN, LOGIN, CRAM-MD5, XOAUTH2 and OAUTHBEARER.
LOGIN = ["--user", USER, "--password-env", "SMTP_PASSWORD", "--to", "auth@example.com"]


def last_mechanism(what):
    recs = records("main")
    check(recs and recs[-1]["auth_user"] == USER, what + ": not logged in as " + USER)
    return recs[-1]["auth_mechanism"] if recs else None


rc, out, err = smtp_send(*LOGIN, "--auth", "CRAM-MD5", "--debug")
check(rc == 0, "--auth CRAM-MD5: failed", show(rc, out, err))
check("send: 'AUTH CRAM-MD5\\r\\n'" in err and PASSWORD not in err, "--auth CRAM-MD5: transcript", err)
check(last_mechanism("--auth CRAM-MD5") == "CRAM-MD5", "--auth CRAM-MD5: another mechanism used")
# In the list's order: LOGIN before PLAIN (by default PLAIN comes first).
rc, out, err = smtp_send(*LOGIN, "--auth", "scram-sha-256,LOGIN,PLAIN")
check(rc == 0, "--auth SCRAM-SHA-256,LOGIN,PLAIN: failed", show(rc, out, err))
check(last_mechanism("--auth SCRAM-SHA-256,LOGIN,PLAIN") == "LOGIN", "--auth SCRAM-SHA-256,LOGIN,PLAIN: not LOGIN")
rc, out, err = smtp_send(*LOGIN)
check(rc == 0 and last_mechanism("default mechanisms") == "PLAIN", "default mechanisms: not PLAIN",
      show(rc, out, err))
# None of the list offered: nothing sent, both lists named once.
n = len(records("main"))
rc, out, err = smtp_send(*LOGIN, "--auth", "SCRAM-SHA-1,SCRAM-SHA-256")
one_line_failure("--auth with none offered", rc, out, err)
check(err == "smtp-send: --auth SCRAM-SHA-1,SCRAM-SHA-256: the server offers none of these; "
             "it offers CRAM-MD5, LOGIN, OAUTHBEARER, PLAIN, XOAUTH2\n", "--auth with none offered: reason", err)
check(len(records("main")) == n, "--auth with none offered: something was sent")

# --oauth-token-env: the token from the environment, OAUTHBEARER (RFC 7628)
# by default, XOAUTH2 when asked for.
OAUTH = ["--user", USER, "--oauth-token-env", "SMTP_TOKEN", "--to", "oauth@example.com"]
rc, out, err = smtp_send(*OAUTH, "--debug")
check(rc == 0, "--oauth-token-env: failed", show(rc, out, err))
check(last_mechanism("--oauth-token-env") == "OAUTHBEARER", "--oauth-token-env: not OAUTHBEARER")
check("send: 'AUTH OAUTHBEARER ********\\r\\n'" in err and TOKEN not in err and
      base64.b64encode(TOKEN.encode()).decode()[:8] not in err, "--oauth-token-env: the token in the transcript", err)
rc, out, err = smtp_send(*OAUTH, "--auth", "xoauth2")
check(rc == 0 and last_mechanism("--auth XOAUTH2") == "XOAUTH2", "--auth XOAUTH2: failed", show(rc, out, err))
n = len(records("main"))
for mech in ("OAUTHBEARER", "XOAUTH2"):
    rc, out, err = run([SMTP_SEND, "--host", "localhost", "--port", port("main"), "--cafile", ca(), "--auth", mech]
                       + OAUTH, stdin=MESSAGE, env={"SMTP_TOKEN": "expired"})
    one_line_failure("%s with a wrong token" % mech, rc, out, err)
    check(err == "smtp-send: logging in as %s with %s: the server replied 535 5.7.8 Authentication credentials "
                 "invalid\n" % (USER, mech), "%s with a wrong token: reason" % mech, err)
check(len(records("main")) == n, "a wrong token: something was sent")

# The messages: each fact once, with the numbers. Over the server's SIZE
# limit (RFC 1870): the message's size as declared (CRLF line ends), nothing
# sent.
BIG = "From: author@example.com\nTo: to@example.com\nSubject: big\n\n" + ("y" * 98 + "\n") * 120
BIG_SIZE = len(BIG.replace("\n", "\r\n"))
rc, out, err = smtp_send("--tls", "none", "--debug", stdin=BIG, server="small")
check(rc == 2 and err.endswith("\nsmtp-send: message is %s octets; the server's SIZE limit is 10,000\n"
                               % grouped(BIG_SIZE)), "over the SIZE limit: reason", show(rc, out, err))
check("reply: b'250-SIZE 10000\\r\\n'" in err and "send: 'MAIL" not in err, "over the SIZE limit: MAIL sent", err)
check(not records("small"), "over the SIZE limit: something was recorded")
# Just under it: sent.
FITS = "From: author@example.com\nTo: to@example.com\nSubject: fits\n\nhi\n"
rc, out, err = smtp_send("--tls", "none", stdin=FITS, server="small")
check(rc == 0 and len(records("small")) == 1, "under the SIZE limit: not sent", show(rc, out, err))
# Refusals: the command the server refused, and its reply.
rc, out, err = smtp_send("--tls", "none", server="refusing")
check(rc == 2 and err == "smtp-send: the server refused MAIL FROM:<author@example.com>: 500 5.3.0 Error: command "
                         "failed\n", "MAIL refused: reason", show(rc, out, err))
rc, out, err = smtp_send(server="plain")
check(rc == 2 and err == "smtp-send: the server does not offer STARTTLS, and --tls starttls (the default) sends "
                         "nothing in clear\n", "STARTTLS not offered: reason", show(rc, out, err))
for args, line in [
        (["--to", "x" * 70 + "@example.com"],
         "recipient %s@example.com: the local part is 70 octets; the limit is 64 (RFC 5321 4.5.3.1.1)" % ("x" * 70)),
        (["--from", "a@example.com>"], "sender a@example.com>: contains '<' or '>'"),
        (["--envid", "x" * 101], "--envid is 101 characters; the limit is 100 (RFC 3461 4.4)"),
        (["--port", "70000"], "--port: a number from 1 to 65,535, not \"70000\""),
        (["--timeout", "100000"], "--timeout: seconds from 0.001 to 86,400, not \"100000\"")]:
    rc, out, err = smtp_send(*args)
    check(rc == 2 and err == "smtp-send: " + line + "\n", "%s: reason" % args[0], show(rc, out, err))
rc, out, err = smtp_send(stdin="From: a@example.com, b@example.com\nTo: to@example.com\n\nhi\n")
check(rc == 2 and err == "smtp-send: no --from, and From has 2 addresses and no Sender field names the one who "
                         "sent it (RFC 5322 3.6.2)\n", "several authors, no Sender: reason", show(rc, out, err))

# Usage errors: one line, exit 2.
for args, what in [(["--tls", "none", "--user", USER, "--password-env", "SMTP_PASSWORD"], "--user with --tls none"),
                   (["--user", USER], "--user without --password-env"),
                   (["--tls", "ssl"], "bad --tls"),
                   (["--port", "0"], "bad --port"),
                   (["--dsn-notify", "sometimes"], "bad --dsn-notify"),
                   (["--dsn-notify=never,success"], "--dsn-notify NEVER with others"),
                   (["--dsn-notify=success,"], "--dsn-notify with an empty element"),
                   (["--dsn-notify="], "empty --dsn-notify"),
                   (["--dsn-ret", "headers"], "bad --dsn-ret"),
                   (["--envid", ""], "empty --envid"),
                   (["--envid", "x" * 101], "--envid over 100 characters"),
                   (["--envid", "a\x01b"], "--envid with a control character"),
                   (["--envid", "caf\u00e9"], "--envid not ASCII"),
                   (["--lmtp=yes"], "--lmtp with a value"),
                   (["--no-pipelining=1"], "--no-pipelining with a value"),
                   (["--dsn-ret"], "--dsn-ret without a value"),
                   (["--timeout", "0"], "--timeout 0"),
                   (["--timeout", "-1"], "negative --timeout"),
                   (["--timeout", "1s"], "--timeout with a unit"),
                   (["--timeout", "1e9"], "--timeout over a day"),
                   (LOGIN + ["--auth", "GSSAPI"], "--auth with an unknown mechanism"),
                   (LOGIN + ["--auth", "PLAIN,,LOGIN"], "--auth with an empty element"),
                   (LOGIN + ["--auth", ""], "empty --auth"),
                   (LOGIN + ["--auth", "PLAIN,XOAUTH2"], "--auth XOAUTH2 with a password"),
                   (OAUTH + ["--auth", "CRAM-MD5"], "--auth CRAM-MD5 with a token"),
                   (["--auth", "PLAIN"], "--auth without --user"),
                   (["--user", USER], "--user without a secret"),
                   (["--user", USER, "--password-env", "SMTP_PASSWORD", "--oauth-token-env", "SMTP_TOKEN"],
                    "--password-env and --oauth-token-env"),
                   (["--user", USER, "--oauth-token-env", "NO_SUCH_VARIABLE"], "--oauth-token-env not set")]:
    rc, out, err = smtp_send(*args)
    one_line_failure(what, rc, out, err)
rc, out, err = smtp_send(stdin="Subject: no addresses\n\nbody\n")
one_line_failure("no From, no recipients", rc, out, err)

# --- Client certificates and pins: server "clientcert" (implicit TLS) asks for a
# certificate the test CA signed, and records whose it saw.
CERTS = os.environ["SMTP_TEST_CERTS"]


def cert(name, ext="pem"):
    return os.path.join(CERTS, "%s.%s" % (name, ext))


def spki_pin(pem):
    """The base64 SHA-256 of a certificate's SubjectPublicKeyInfo (openssl does the PEM)."""
    pub = subprocess.run(["openssl", "x509", "-in", pem, "-pubkey", "-noout"], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    der = base64.b64decode("".join(l for l in pub.splitlines() if not l.startswith("-----")))
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def events(name):
    path = os.path.join(os.environ["SMTP_TEST_%s_RECORD" % name.upper()], "events.txt")
    return open(path).read().splitlines() if os.path.exists(path) else []


TO_ONE = ["--from", "author@example.com", "--to", "to@example.com"]
CC = ["--tls", "implicit", "--port", port("clientcert")]
before = len(records("clientcert"))
rc, out, err = smtp_send(*CC, "--cert", cert("client"), "--key", cert("client", "key"), *TO_ONE)
got = new_records("clientcert", before)
check(rc == 0 and len(got) == 1 and got[0]["client_cert"] == "smtp test client",
      "--cert/--key: the server saw the client certificate", show(rc, out, err))
rc, out, err = run([SMTP_SEND, "--host", "localhost", "--cafile", ca(), *CC, "--cert", cert("client_enc"),
                    "--key", cert("client_enc", "key"), "--key-passphrase-env", "KEY_PASS", *TO_ONE],
                   stdin=MESSAGE, env={"KEY_PASS": "client-pass"})
got = new_records("clientcert", before + 1)
check(rc == 0 and len(got) == 1 and got[0]["client_cert"] == "smtp test client enc",
      "--key-passphrase-env: the encrypted key opened", show(rc, out, err))
rc, out, err = run([SMTP_SEND, "--host", "localhost", "--cafile", ca(), *CC, "--cert", cert("client_enc"),
                    "--key", cert("client_enc", "key"), "--key-passphrase-env", "KEY_PASS", *TO_ONE],
                   stdin=MESSAGE, env={"KEY_PASS": "wrong"})
one_line_failure("a wrong key passphrase", rc, out, err)
check("key_passphrase" in err, "a wrong key passphrase is named", show(rc, out, err))
rc, out, err = smtp_send(*CC, *TO_ONE)
check(rc == 2 and err.startswith("smtp-send: "), "no client certificate: refused", show(rc, out, err))
rc, out, err = smtp_send(*CC, "--cert", cert("otherclient"), "--key", cert("otherclient", "key"), *TO_ONE)
check(rc == 2 and err.startswith("smtp-send: "), "a client certificate of another CA: refused",
      show(rc, out, err))
check(len(records("clientcert")) == before + 2, "nothing accepted without the right certificate")

# A pin: the server's key (base64, as curl writes it, and hex), or not.
pin = spki_pin(cert("server"))
rc, out, err = smtp_send(*CC, "--cert", cert("client"), "--key", cert("client", "key"),
                         "--pin-sha256", "sha256//" + pin, *TO_ONE)
check(rc == 0, "--pin-sha256 with the server's key", show(rc, out, err))
rc, out, err = smtp_send("--pin-sha256", base64.b64decode(pin).hex(), *TO_ONE)
check(rc == 0, "--pin-sha256 in hex, over STARTTLS", show(rc, out, err))
seen = len(events("clientcert"))
rc, out, err = smtp_send(*CC, "--cert", cert("client"), "--key", cert("client", "key"),
                         "--pin-sha256", spki_pin(cert("otherca")), *TO_ONE)
one_line_failure("--pin-sha256 of another key", rc, out, err)
check("pin" in err, "a pin mismatch is named", show(rc, out, err))
check(events("clientcert")[seen:] == [], "no command after a pin mismatch", "\n".join(events("clientcert")))
for args, what in [(["--key", cert("client", "key")], "--key without --cert"),
                   (["--cert", cert("client"), "--key-passphrase-env", "NO_SUCH_VARIABLE"],
                    "--key-passphrase-env not set"),
                   (["--tls", "none", "--cert", cert("client")], "--cert with --tls none"),
                   (["--tls", "none", "--pin-sha256", pin], "--pin-sha256 with --tls none"),
                   (["--pin-sha256", "not-a-pin"], "a --pin-sha256 that is no pin"),
                   (["--cert", "/nonexistent/client.pem"], "a --cert that is not there")]:
    rc, out, err = smtp_send(*args, *TO_ONE)
    one_line_failure(what, rc, out, err)
# DKIM: what the server stored verifies with dkimpy (an independent verifier;
# tests/live_dkim_test.cpp runs OpenDKIM too), and a tampered copy does not.
import dkim  # noqa: E402 (Debian's python3-dkim)

DKIM_KEYS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "dkim")


def dkim_record(key_file, kind):
    der = subprocess.run(["openssl", "pkey", "-in", os.path.join(DKIM_KEYS, key_file), "-pubout", "-outform", "DER"],
                         capture_output=True, check=True).stdout
    p = der[-32:] if kind == "ed25519" else der
    return ("v=DKIM1; k=%s; p=%s" % (kind, base64.b64encode(p).decode())).encode()


DKIM_DNS = {"ed._domainkey.example.com.": dkim_record("ed25519-rfc8463.pem", "ed25519"),
            "rsa._domainkey.example.com.": dkim_record("rsa2048.pem", "rsa")}


def dkim_verifies(data):
    try:
        return dkim.verify(data, dnsfunc=lambda name, timeout=5: DKIM_DNS.get(
            name.decode() if isinstance(name, bytes) else name))
    except dkim.DKIMException:
        return False


for key, sel, extra in (("ed25519-rfc8463.pem", "ed", []), ("rsa2048.pem", "rsa", ["--dkim-headers", "From,To,Cc,Subject"])):
    n = len(records("plain"))
    rc, out, err = smtp_send("--tls", "none", "--dkim-key", os.path.join(DKIM_KEYS, key), "--dkim-domain", "example.com",
                             "--dkim-selector", sel, *extra, server="plain")
    check(rc == 0, "--dkim-key %s: failed" % key, show(rc, out, err))
    recs = new_records("plain", n)
    check(len(recs) == 1, "--dkim-key %s: %d messages recorded, want 1" % (key, len(recs)))
    if recs:
        data = recs[0]["data"]
        check(data.startswith(b"DKIM-Signature: v=1; a=%s-sha256;" % (b"ed25519" if sel == "ed" else b"rsa")),
              "--dkim-key %s: no signature in front" % key, repr(data[:200]))
        check(data.endswith(SENT) and b"Bcc" not in data, "--dkim-key %s: the message after the signature" % key)
        check(dkim_verifies(data), "--dkim-key %s: dkimpy does not verify what the server stored" % key, repr(data))
        check(not dkim_verifies(data.replace(b"Body.", b"B0dy.")), "--dkim-key %s: a tampered copy verifies" % key)
        if extra:
            flat = data.replace(b"\r\n\t", b" ")
            check(b"h=From:From:To:To:Cc:Subject:Subject;" in flat, "--dkim-headers: h= is not the list asked for"
                  " with From, To and Subject over-signed", repr(flat[:300]))

# DKIM's usage errors and a key that cannot sign: one line, nothing sent.
n = len(records("plain"))
for args, words in ((["--dkim-key", os.path.join(DKIM_KEYS, "rsa2048.pem"), "--dkim-domain", "example.com"],
                     "--dkim-key, --dkim-domain and --dkim-selector together"),
                    (["--dkim-headers", "From"], "--dkim-headers goes with --dkim-key"),
                    (["--dkim-key", os.path.join(DKIM_KEYS, "p256.pem"), "--dkim-domain", "example.com",
                      "--dkim-selector", "s"], "DKIM signs with RSA (rsa-sha256) or Ed25519"),
                    (["--dkim-key", os.path.join(DKIM_KEYS, "rsa512.pem"), "--dkim-domain", "example.com",
                      "--dkim-selector", "s"], "at least 1024 are required"),
                    (["--dkim-key", os.path.join(DKIM_KEYS, "rsa2048.pem"), "--dkim-domain", "example.com",
                      "--dkim-selector", "a;b"], "selector (s=)"),
                    (["--dkim-key", os.path.join(DKIM_KEYS, "rsa2048.pem"), "--dkim-domain", "example.com",
                      "--dkim-selector", "s", "--dkim-headers", "From,,To"], "--dkim-headers: a comma list")):
    rc, out, err = smtp_send("--tls", "none", *args, server="plain")
    one_line_failure(" ".join(args[:1]) + " (%s)" % words, rc, out, err)
    check(words in err, "DKIM usage error: want %r" % words, err)
rc, out, err = smtp_send("--tls", "none", "--from", "a@example.com", "--to", "b@example.com", "--dkim-key",
                         os.path.join(DKIM_KEYS, "rsa2048.pem"), "--dkim-domain", "example.com", "--dkim-selector", "s",
                         stdin="Subject: no From\n\nbody\n", server="plain")
one_line_failure("--dkim-key, a message without From", rc, out, err)
check("cannot sign this message" in err and "no From header" in err, "DKIM without From: reason", err)
check(len(records("plain")) == n, "DKIM usage errors: something was sent")

finish()
