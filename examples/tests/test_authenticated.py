#!/usr/bin/python3
"""examples/authenticated, its prompts answered on stdin, against four servers:

  starttls   STARTTLS required, then AUTH    "no"  -> (starting TLS) (logging in)
  plain      no TLS, no AUTH                 "no"  -> (no STARTTLS) (no AUTH)
  implicit   TLS from the start, AUTH        "yes" -> (no STARTTLS) (logging in)
  plainauth  AUTH offered in clear           "no"  -> (no STARTTLS) (logging in), with a warning

    with_servers.py --server starttls:... --server plain: --server implicit:... \
                    --server plainauth:... -- test_authenticated.py AUTHENTICATED
"""

import sys

from common import PASSWORD, USER, ca, check, finish, port, records, run, show

PROMPTS = "Recipient: Mail server name: Server port: Use TLS? (yes/no): Mail username: %s's password: " % USER


def message(to):
    return ('Content-Type: text/plain; charset="us-ascii"\r\n'
            "MIME-Version: 1.0\r\n"
            "Content-Transfer-Encoding: 7bit\r\n"
            "To: Recipient <%s>\r\n"
            "From: Author <author@example.com>\r\n"
            "Subject: Test from PyMOTW\r\n"
            "\r\n"
            "Test message from PyMOTW.\r\n" % to).encode()


def case(server, use_tls, want_lines, tls, auth_user):
    to = "%s@example.com" % server
    answers = "%s\nlocalhost\n%s\n%s\n%s\n%s\n" % (to, port(server), use_tls, USER, PASSWORD)
    rc, out, err = run([sys.argv[1]], stdin=answers, env={"SMTP_CAFILE": ca()})
    what = "%s (%s): " % (server, use_tls)
    check(rc == 0, what + "failed", show(rc, out, err))
    # stdin is not a terminal: the password is read as a plain line, and the
    # prompts (Python's input() and getpass() alike) run on without newlines.
    check(out == PROMPTS + "".join(l + "\n" for l in want_lines), what + "stdout", show(rc, out, err))
    check(PASSWORD not in err, what + "the password is in the transcript", err)
    recs = records(server)
    check(len(recs) == 1, what + "%d messages recorded, want 1" % len(recs))
    if recs:
        r = recs[0]
        check(r["rcpt_tos"] == [to], what + "RCPT TO %r" % r["rcpt_tos"])
        check(r["data"] == message(to), what + "recorded data", repr(r["data"]))
        check((r["tls"], r["auth_user"]) == (tls, auth_user),
              what + "tls, auth_user: %r, want %r" % ((r["tls"], r["auth_user"]), (tls, auth_user)))
    return err


err = case("starttls", "no", ["starting with an insecure connection", "(starting TLS)", "(logging in)"],
           True, USER)
check("send: 'AUTH PLAIN ********\\r\\n'" in err, "masked AUTH line not in the transcript", err)
case("plain", "no", ["starting with an insecure connection", "(no STARTTLS)", "(no AUTH)"], False, None)
case("implicit", "YES", ["starting with a secure connection", "(no STARTTLS)", "(logging in)"], True, USER)
err = case("plainauth", "no", ["starting with an insecure connection", "(no STARTTLS)", "(logging in)"],
           False, USER)
check("warning: no TLS: the password crosses the network in clear" in err, "no warning for AUTH in clear", err)
finish()
