#!/usr/bin/python3
"""examples/smtp-send --proxy and --unix. --proxy through microsocks and tinyproxy to a STARTTLS
aiosmtpd (the certificate checked against --host):

  socks5:// and http://, with and without USER@ (the password from
    SMTP_PROXY_PASSWORD): exit 0, the message recorded over TLS
  a wrong proxy password: exit 2, one line naming the proxy, never the password
  USER@ without SMTP_PROXY_PASSWORD, a password in the URL, another scheme,
    a bad port: usage errors (exit 2, one line), nothing connected
  a proxy that refuses the destination (tinyproxy's ConnectPort: 403), a
    proxy that is not there: exit 2, one line naming the proxy
  --debug through a proxy with credentials: the transcript has no trace of them
  --unix to aiosmtpd's LMTP server on a Unix socket: exit 0, recorded; a path
    where nothing listens: exit 2, the line names it; --unix with --proxy or
    --port: usage errors

    with_servers.py --server "tls:--tls starttls --require-starttls"
                    --socks "socks:" --socks "socks_auth:-u alice -P s3cret"
                    --httpproxy "web:" --httpproxy "web_auth:--user alice --password s3cret"
                    --httpproxy "web_ports:--connect-port 1"
                    --server "local:--lmtp --unix"
                    -- test_smtp_send_proxy.py SMTP_SEND
"""

import os
import socket
import sys

from common import ca, check, finish, port, records, run, show

SMTP_SEND = sys.argv[1]
os.environ.pop("SMTP_PROXY_PASSWORD", None)  # only what each run gives

MESSAGE = "From: a@example.com\nTo: b@example.com\nSubject: %s\n\nthrough a proxy\n"


def smtp_send(proxy, subject="x", env=None, extra=()):
    argv = [SMTP_SEND, "--host", "localhost", "--port", port("tls"), "--cafile", ca(), "--proxy", proxy] + list(extra)
    return run(argv, stdin=MESSAGE % subject, env=env)


def one_line_failure(what, rc, out, err):
    check(rc == 2, what + ": exit status %s, want 2" % rc, show(rc, out, err))
    check(err.startswith("smtp-send: ") and err.count("\n") == 1, what + ": stderr is not one 'smtp-send: ' line",
          show(rc, out, err))


def delivered(subject):
    for r in records("tls"):
        if ("Subject: %s\r\n" % subject).encode() in r["data"]:
            return r["tls"]
    return False


PASSWORD = {"SMTP_PROXY_PASSWORD": "s3cret"}
for url, env, subject in [("socks5://127.0.0.1:%s" % port("socks"), None, "socks5"),
                          ("socks5://alice@127.0.0.1:%s" % port("socks_auth"), PASSWORD, "socks5 with credentials"),
                          ("http://127.0.0.1:%s/" % port("web"), None, "http"),
                          ("http://alice@127.0.0.1:%s" % port("web_auth"), PASSWORD, "http with credentials")]:
    rc, out, err = smtp_send(url, subject, env)
    check(rc == 0, "%s: exit status %s" % (url, rc), show(rc, out, err))
    check(delivered(subject), "%s: recorded over TLS" % url, show(rc, out, err))

for name, scheme, kind in [("socks_auth", "socks5", "SOCKS5"), ("web_auth", "http", "HTTP")]:
    rc, out, err = smtp_send("%s://alice@127.0.0.1:%s" % (scheme, port(name)), env={"SMTP_PROXY_PASSWORD": "wr0ng-pa55"})
    one_line_failure(scheme + ": a wrong password", rc, out, err)
    check("%s proxy 127.0.0.1:%s" % (kind, port(name)) in err and "refused" in err,
          scheme + ": the line names the proxy and its refusal", err)
    check("wr0ng-pa55" not in out + err, scheme + ": the password is in no message", err)

# Usage errors: before any connection (the proxy named is not there).
for url, env, says in [("socks5://alice@127.0.0.1:1", None, "SMTP_PROXY_PASSWORD, which is not set"),
                       ("socks5://alice:s3cret@127.0.0.1:1", None, "no password in the URL"),
                       ("ftp://127.0.0.1:1", None, "socks5://[USER@]HOST[:PORT] or http://"),
                       ("http://127.0.0.1:0", None, "the proxy's port is a number from 1 to 65,535"),
                       ("http://127.0.0.1:1/path", None, "a proxy's address has no path"),
                       ("socks5://@127.0.0.1:1", None, "an empty user name")]:
    rc, out, err = smtp_send(url, env=env)
    one_line_failure(url, rc, out, err)
    check(says in err and "connecting" not in err, url + ": " + says, err)
    check("s3cret" not in err, url + ": the password is not repeated", err)

rc, out, err = smtp_send("http://127.0.0.1:%s" % port("web_ports"))
one_line_failure("a proxy refusing the destination", rc, out, err)
check("HTTP proxy 127.0.0.1:%s refused CONNECT to localhost:%s: HTTP/1.1 403" % (port("web_ports"), port("tls")) in err,
      "the refusal names the proxy and its status line", err)

with socket.socket() as s:  # a port nobody listens on
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
rc, out, err = smtp_send("socks5://127.0.0.1:%d" % dead)
one_line_failure("a dead proxy", rc, out, err)
check("cannot reach the SOCKS5 proxy 127.0.0.1:%d" % dead in err, "a dead proxy is named", err)

rc, out, err = smtp_send("socks5://alice@127.0.0.1:%s" % port("socks_auth"), "debug", PASSWORD, ["--debug"])
check(rc == 0 and "send: 'MAIL FROM:<a@example.com>" in err, "--debug through the proxy", show(rc, out, err))
check("s3cret" not in err and "alice" not in err, "--debug: no trace of the proxy's credentials", err)

# --unix: LMTP over a local socket.
local = os.environ["SMTP_TEST_LOCAL_SOCKET"]
rc, out, err = run([SMTP_SEND, "--unix", local, "--lmtp", "--tls", "none"], stdin=MESSAGE % "over a unix socket")
check(rc == 0, "--unix: exit status %s" % rc, show(rc, out, err))
check(any(b"Subject: over a unix socket\r\n" in r["data"] for r in records("local")), "--unix: recorded", err)
nowhere = os.path.join(os.path.dirname(local), "nobody-listens.sock")
rc, out, err = run([SMTP_SEND, "--unix", nowhere, "--lmtp", "--tls", "none"], stdin=MESSAGE % "nowhere")
one_line_failure("--unix to nothing", rc, out, err)
check("connect to the Unix socket " + nowhere + ": " in err, "--unix: the line names the socket", err)
check(err.count(nowhere) == 1 and " port " not in err, "--unix: named once, and no host and port", err)
for extra, says in [(["--proxy", "socks5://127.0.0.1:1"], "--unix or --proxy, not both"),
                    (["--port", "25"], "--port goes with a host, not with --unix")]:
    rc, out, err = run([SMTP_SEND, "--unix", local] + extra, stdin=MESSAGE % "usage")
    one_line_failure("--unix " + " ".join(extra), rc, out, err)
    check(says in err, says, err)

finish()
