#!/usr/bin/python3
"""Self-test of the live-server harness, with Python's smtplib as the client.

    /usr/bin/python3 tests/servers/selftest.py

Run directly, it re-runs itself through with_servers.py with the servers in
SERVERS below (ctest: harness_selftest). Every check runs; the exit status is
1 when any failed.
"""

import base64
import json
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
WITH_SERVERS = os.path.join(HERE, "with_servers.py")
USER, PASSWORD = "alice", "s3cret"
AUTH = "--auth plain-login --user %s --password %s" % (USER, PASSWORD)
DOUG = "2.1.5 Doug Hellmann <dhellmann@mail>"
BAD_CERTS = ("wronghost", "expired", "selfsigned", "unknownroot")

SERVERS = [
    ("server", "plain:--refuse bad@example.com --vrfy 'dhellmann=%s' --dsn --size 100000" % DOUG),
    ("server", "starttls:--tls starttls --require-starttls " + AUTH),
    ("server", "implicit:--tls implicit " + AUTH),
    ("server", "plainauth:--auth-allow-plaintext " + AUTH),
    ("server", "lmtp:--lmtp --lmtp-data-refuse full@example.com"),
    ("sink", "sink:"),
    ("sink", "lmtpsink:-L"),
    ("server", "oldtls:--tls implicit --tls-max 1.1"),
    ("banner", "ssh:--banner 'SSH-2.0-OpenSSH_9.2p1 Debian-2\\r\\n'"),
    ("banner", "silent:"),
    ("banner", "closer:--close"),
    ("http", "web"),
    ("https", "policy:--body 'version: STSv1\\r\\n' --header 'X-Test: 1'"),
    ("postfix", "mta:"),
] + [("server", "%s_%s:--tls %s --cert %s" % (c, m, m, c))
     for c in BAD_CERTS for m in ("starttls", "implicit")]

# X509_V_ERR_* codes and OpenSSL's texts for them.
EXPECTED_VERIFY = {
    "wronghost": (62, "Hostname mismatch, certificate is not valid for 'localhost'."),
    "expired": (10, "certificate has expired"),
    "selfsigned": (18, "self-signed certificate"),
    "unknownroot": (20, "unable to get local issuer certificate"),
}

MESSAGE = (b"From: Author <author@example.com>\r\n"
           b"To: Recipient <to@example.com>\r\n"
           b"Subject: harness self-test\r\n"
           b"\r\n"
           b"First line.\r\n"
           b".a line that starts with a dot\r\n"
           b"..two dots\r\n"
           b".\r\n"
           b"last line\r\n")


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def eq(got, want, what):
    if got != want:
        raise Failure("%s: got %r, want %r" % (what, got, want))


def port(name):
    return int(os.environ["SMTP_TEST_%s_PORT" % name.upper()])


def record_dir(name):
    return os.environ["SMTP_TEST_%s_RECORD" % name.upper()]


def records(name):
    d = record_dir(name)
    out = []
    messages = [n for n in os.listdir(d) if n.endswith(".json")]  # not sni.txt
    for f in sorted(messages, key=lambda n: int(n.split(".")[0])):
        with open(os.path.join(d, f)) as fh:
            out.append(json.load(fh))
    return out


def ca_context(cafile="ca.pem"):
    return ssl.create_default_context(cafile=os.path.join(os.environ["SMTP_TEST_CERTS"], cafile))


# --- the checks ------------------------------------------------------------

def test_plain_refused_and_bcc():
    with smtplib.SMTP("localhost", port("plain"), timeout=10) as s:
        code, text = s.ehlo()
        eq(code, 250, "EHLO")
        check(not s.has_extn("auth"), "AUTH offered by an --auth none server: %r" % text)
        check(not s.has_extn("starttls"), "STARTTLS offered without TLS: %r" % text)
        eq(s.esmtp_features.get("size"), "100000", "SIZE")
        check(s.has_extn("dsn"), "DSN not offered with --dsn")
        # to@ is in the header, bcc@ only in the envelope, bad@ refused.
        refused = s.sendmail("author@example.com",
                             ["to@example.com", "bcc@example.com", "bad@example.com"], MESSAGE)
        eq(refused, {"bad@example.com": (550, b"5.1.1 <bad@example.com>: Recipient address rejected")},
           "sendmail's refused dict")
        # A DSN request: per-recipient options are recorded per recipient.
        refused = s.sendmail("author@example.com", ["a@example.com", "b@example.com"], MESSAGE,
                             mail_options=["RET=HDRS"], rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
        eq(refused, {}, "refused (DSN message)")
        eq(s.mail("author@example.com", ["SIZE=100001"])[0], 552, "MAIL SIZE over the limit")
        s.rset()
    recs = records("plain")
    eq(len(recs), 2, "recorded messages")
    r = recs[0]
    eq(r["mail_from"], "author@example.com", "mail_from")
    eq(r["rcpt_tos"], ["to@example.com", "bcc@example.com"], "rcpt_tos (BCC recipient included)")
    eq(base64.b64decode(r["data_b64"]), MESSAGE, "recorded data")
    check(b"bcc@example.com" not in base64.b64decode(r["data_b64"]), "BCC address in the data")
    eq(r["mail_options"], ["SIZE=%d" % len(MESSAGE)], "mail_options")
    eq(r["rcpt_options"], [[], []], "rcpt_options")
    eq(r["peer"][0], "127.0.0.1", "peer")
    eq((r["tls"], r["auth_user"]), (False, None), "tls, auth_user")
    r = recs[1]
    eq(r["rcpt_tos"], ["a@example.com", "b@example.com"], "rcpt_tos (DSN)")
    eq(r["mail_options"], ["SIZE=%d" % len(MESSAGE), "RET=HDRS"], "mail_options (DSN)")
    eq(r["rcpt_options"], [["NOTIFY=SUCCESS,FAILURE"]] * 2, "rcpt_options (DSN)")


def _send_and_check(s, name, rcpt):
    eq(s.sendmail("author@example.com", [rcpt], MESSAGE), {}, "refused")
    r = records(name)[-1]
    eq(r["rcpt_tos"], [rcpt], "recorded rcpt_tos")
    eq(base64.b64decode(r["data_b64"]), MESSAGE, "recorded data")
    eq((r["tls"], r["auth_user"]), (True, USER), "recorded tls, auth_user")


def test_starttls_auth():
    ctx = ca_context()
    for how in ("login", "PLAIN", "LOGIN", "wrong-password"):
        with smtplib.SMTP("localhost", port("starttls"), timeout=10) as s:
            s.ehlo()
            check(s.has_extn("starttls"), "no STARTTLS in %r" % s.ehlo_resp)
            check(not s.has_extn("auth"), "AUTH offered before TLS")
            eq(s.mail("author@example.com")[0], 530, "MAIL before STARTTLS (--require-starttls)")
            eq(s.starttls(context=ctx)[0], 220, "STARTTLS")
            s.ehlo()
            check(not s.has_extn("starttls"), "STARTTLS offered again after TLS")
            eq(s.esmtp_features.get("auth", "").split(), ["LOGIN", "PLAIN"], "AUTH after TLS")
            if how == "login":
                eq(s.login(USER, PASSWORD)[0], 235, "login()")
            elif how == "wrong-password":
                s.user, s.password = USER, "nope"
                try:
                    s.auth("PLAIN", s.auth_plain)
                    raise Failure("wrong password accepted")
                except smtplib.SMTPAuthenticationError as e:
                    eq(e.smtp_code, 535, "wrong password")
                continue
            else:
                s.user, s.password = USER, PASSWORD
                auth_fn = s.auth_plain if how == "PLAIN" else s.auth_login
                eq(s.auth(how, auth_fn)[0], 235, "AUTH %s" % how)
            _send_and_check(s, "starttls", "%s@example.com" % how.lower())


def test_implicit_tls():
    with smtplib.SMTP_SSL("localhost", port("implicit"), context=ca_context(), timeout=10) as s:
        s.ehlo()
        check(not s.has_extn("starttls"), "STARTTLS offered under implicit TLS")
        check(s.has_extn("auth"), "no AUTH under implicit TLS: %r" % s.ehlo_resp)
        eq(s.login(USER, PASSWORD)[0], 235, "login()")
        _send_and_check(s, "implicit", "to@example.com")


def test_auth_plaintext_allowed():
    with smtplib.SMTP("localhost", port("plainauth"), timeout=10) as s:
        s.ehlo()
        check(s.has_extn("auth"), "no AUTH with --auth-allow-plaintext")
        try:
            s.login(USER, "nope")
            raise Failure("wrong password accepted")
        except smtplib.SMTPAuthenticationError as e:
            eq(e.smtp_code, 535, "wrong password")
        eq(s.login(USER, PASSWORD)[0], 235, "login()")
        eq(s.sendmail("author@example.com", ["to@example.com"], MESSAGE), {}, "refused")
    eq((records("plainauth")[-1]["tls"], records("plainauth")[-1]["auth_user"]), (False, USER),
       "recorded tls, auth_user")


def _expect_verify_failure(cert, connect):
    code, text = EXPECTED_VERIFY[cert]
    try:
        connect()
    except ssl.SSLCertVerificationError as e:
        eq((e.verify_code, e.verify_message), (code, text), "%s: verification error" % cert)
        return
    raise Failure("%s: the handshake succeeded" % cert)


def test_certificate_failures():
    ctx = ca_context()
    for cert in BAD_CERTS:
        name = "%s_starttls" % cert

        def starttls():
            with smtplib.SMTP("localhost", port(name), timeout=10) as s:
                s.ehlo()
                s.starttls(context=ctx)
        _expect_verify_failure(cert, starttls)
        # The server survived the failed handshake.
        with smtplib.SMTP("localhost", port(name), timeout=10) as s:
            eq(s.noop()[0], 250, "%s: NOOP after a failed handshake" % name)

        name = "%s_implicit" % cert
        _expect_verify_failure(
            cert, lambda: smtplib.SMTP_SSL("localhost", port(name), context=ctx, timeout=10).close())
    # Controls: each certificate is wrong for that one reason only.
    for cert, cafile, hostname in (("wronghost", "ca.pem", "wrong.example"),
                                   ("unknownroot", "otherca.pem", "localhost")):
        with socket.create_connection(("127.0.0.1", port("%s_implicit" % cert)), timeout=10) as raw:
            with ca_context(cafile).wrap_socket(raw, server_hostname=hostname) as tls:
                check(tls.recv(3) == b"220", "%s: no greeting with %s" % (cert, cafile))


def test_smtp_sink():
    with smtplib.SMTP("127.0.0.1", port("sink"), timeout=10) as s:
        s.ehlo()
        check(s.has_extn("pipelining"), "no PIPELINING from smtp-sink: %r" % s.ehlo_resp)
        eq(s.sendmail("author@example.com", ["to@example.com", "cc@example.com"], MESSAGE), {},
           "refused")


def test_vrfy():
    with smtplib.SMTP("localhost", port("plain"), timeout=10) as s:
        eq(s.verify("dhellmann"), (250, DOUG.encode()), "VRFY dhellmann")
        eq(s.verify("notthere"), (550, b"5.1.1 <notthere>... User unknown"), "VRFY notthere")


def test_lmtp():
    with smtplib.LMTP("127.0.0.1", port("lmtp"), timeout=10) as s:
        eq(s.docmd("EHLO", "client.example")[0], 500, "EHLO to an LMTP server")
        eq(s.docmd("HELO", "client.example")[0], 500, "HELO to an LMTP server")
        eq(s.ehlo()[0], 250, "LHLO")  # smtplib.LMTP's ehlo() sends LHLO
        eq(s.ehlo_resp.split(b"\n")[0], b"localhost", "LHLO reply")
        eq(s.mail("author@example.com")[0], 250, "MAIL")
        rcpts = ["one@example.com", "full@example.com", "two@example.com"]
        for r in rcpts:
            eq(s.rcpt(r)[0], 250, "RCPT %s" % r)
        # smtplib's data() reads one reply; LMTP sends one per recipient.
        s.putcmd("data")
        eq(s.getreply()[0], 354, "DATA")
        s.send(re.sub(rb"(?m)^\.", b"..", MESSAGE) + b".\r\n")  # dot-stuffed
        replies = [s.getreply() for _ in rcpts]
        eq(replies, [(250, b"2.1.5 <one@example.com> delivered"),
                     (550, b"5.2.1 <full@example.com>: mailbox unavailable"),
                     (250, b"2.1.5 <two@example.com> delivered")], "per-recipient replies")
    r = records("lmtp")[-1]
    eq(r["rcpt_tos"], rcpts, "recorded rcpt_tos")
    eq(len(r["lmtp_replies"]), 3, "recorded lmtp_replies")
    eq(base64.b64decode(r["data_b64"]), MESSAGE, "recorded data")


# --- the private Postfix (--postfix mta) -------------------------------------

def _mta():
    return (int(os.environ["SMTP_TEST_MTA_PORT"]), os.environ["SMTP_TEST_MTA_MAILDIR"],
            os.environ["SMTP_TEST_MTA_DOMAIN"])


def _maildir_wait(local, count, within=10.0):
    """The messages in the maildir of <local>, once there are count of them
    (delivery is asynchronous); fails after `within` seconds."""
    new = os.path.join(_mta()[1], local, "new")
    deadline = time.monotonic() + within
    while True:
        names = sorted(os.listdir(new)) if os.path.isdir(new) else []
        if len(names) >= count:
            out = []
            for n in names:
                with open(os.path.join(new, n), "rb") as f:
                    out.append(f.read())
            return out
        if time.monotonic() > deadline:
            raise Failure("%d message(s) in %s after %g s, want %d"
                          % (len(names), new, within, count))
        time.sleep(0.05)


def test_postfix_ehlo():
    port, _, _ = _mta()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        eq(s.ehlo()[0], 250, "EHLO")
        for ext in ("pipelining", "8bitmime", "smtputf8", "dsn", "chunking", "enhancedstatuscodes"):
            check(s.has_extn(ext), "Postfix does not offer %s: %r" % (ext.upper(), s.ehlo_resp))
        eq(s.esmtp_features.get("size"), "10485760", "SIZE")
        check(not s.has_extn("starttls"), "STARTTLS offered without --starttls")
        eq(s.mail("author@example.test", ["SIZE=10485761"]),
           (552, b"5.3.4 Message size exceeds fixed limit"), "MAIL SIZE over message_size_limit")


def test_postfix_delivery_and_dsn():
    port, _, domain = _mta()
    sender = "author@" + domain
    utf8_rcpt, rcpt = "jörg@" + domain, "bob@" + domain
    envid = "selftest-" + uuid.uuid4().hex
    orcpt = "bob.original@" + domain
    message = ("From: Author <%s>\r\nTo: Jörg <%s>, <%s>\r\nSubject: Grüße %s\r\n"
               "Message-ID: <%s@selftest.example>\r\n\r\nÄrger? Nein.\r\n.dot line\r\n"
               % (sender, utf8_rcpt, rcpt, envid, envid)).encode()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo()
        eq(s.mail(sender, ["BODY=8BITMIME", "SMTPUTF8", "ENVID=" + envid, "RET=HDRS"])[0], 250,
           "MAIL")
        eq(s.rcpt(utf8_rcpt)[0], 250, "RCPT with a UTF-8 local part")
        eq(s.rcpt(rcpt, ["NOTIFY=SUCCESS", "ORCPT=rfc822;" + orcpt])[0], 250,
           "RCPT NOTIFY=SUCCESS ORCPT")
        eq(s.rcpt("someone@example.com"),
           (554, b"5.7.1 <someone@example.com>: Relay access denied"),
           "RCPT to another domain")
        eq(s.rcpt("a/b@" + domain)[0], 550, "RCPT to a local part that cannot be a maildir")
        eq(s.data(message)[0], 250, "DATA")
        # smtplib's sendmail(): the refused recipient in its result.
        refused = s.sendmail(sender, ["carol@" + domain, "dave@example.net"],
                             b"Subject: s\r\n\r\nx\r\n")
        eq(refused, {"dave@example.net": (554, b"5.7.1 <dave@example.net>: Relay access denied")},
           "sendmail's refused dict")
    stored_as = message.replace(b"\r\n", b"\n")  # a maildir file has LF line ends
    for local in ("jörg", "bob"):
        (m,) = _maildir_wait(local, 1)
        check(m.endswith(b"\n" + stored_as),
              "%s: the message as sent after Postfix's own headers: %r" % (local, m))
        check(m.startswith(b"Return-Path: <%s>\n" % sender.encode()), "%s: Return-Path" % local)
        check(b"\nDelivered-To: %s@%s\n" % (local.encode(), domain.encode()) in m,
              "%s: Delivered-To" % local)
    _maildir_wait("carol", 1)
    # The success DSN, from Postfix's bounce daemon to the sender's maildir.
    (dsn,) = _maildir_wait("author", 1)
    for want in (b"Subject: Successful Mail Delivery Report", b"Action: delivered",
                 b"Original-Envelope-Id: " + envid.encode(),
                 b"Original-Recipient: rfc822;" + orcpt.encode(),
                 b"Final-Recipient: rfc822; " + rcpt.encode()):
        check(want in dsn, "the DSN has no %r: %r" % (want, dsn))
    check(b"j\xc3\xb6rg" not in dsn.split(b"Message Headers")[0],
          "a DSN for the recipient without NOTIFY=SUCCESS: %r" % dsn)


def test_postfix_chunking():
    port, _, domain = _mta()
    parts = [b"Subject: BDAT\r\n\r\nfirst chunk, ", b"second chunk\r\n.\r\n"]
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo()
        # Pipelined: MAIL, RCPT and both chunks in one write.
        s.send(b"MAIL FROM:<author@%s>\r\nRCPT TO:<chunky@%s>\r\n" % ((domain.encode(),) * 2)
               + b"BDAT %d\r\n%s" % (len(parts[0]), parts[0])
               + b"BDAT %d LAST\r\n%s" % (len(parts[1]), parts[1]))
        replies = [s.getreply()[0] for _ in range(4)]
        eq(replies, [250] * 4, "replies to MAIL, RCPT, BDAT, BDAT LAST")
    (m,) = _maildir_wait("chunky", 1)
    check(m.endswith(b"".join(parts).replace(b"\r\n", b"\n")), "BDAT message as sent: %r" % m)


def test_lmtp_sink():
    # Postfix's smtp-sink -L: another LMTP server, one reply per recipient.
    with smtplib.LMTP("127.0.0.1", port("lmtpsink"), timeout=10) as s:
        eq(s.ehlo()[0], 250, "LHLO")
        check(s.has_extn("pipelining"), "no PIPELINING from smtp-sink -L: %r" % s.ehlo_resp)
        eq(s.mail("author@example.com")[0], 250, "MAIL")
        rcpts = ["one@example.com", "two@example.com"]
        for r in rcpts:
            eq(s.rcpt(r)[0], 250, "RCPT %s" % r)
        s.putcmd("data")
        eq(s.getreply()[0], 354, "DATA")
        s.send(re.sub(rb"(?m)^\.", b"..", MESSAGE) + b".\r\n")
        eq([s.getreply()[0] for _ in rcpts], [250, 250], "per-recipient replies")
        eq(s.noop()[0], 250, "NOOP after the replies (none left over)")


# --- with_servers.py itself (nested runs) -----------------------------------

def _nested(servers, cmd, kind="server"):
    argv = [sys.executable, WITH_SERVERS, "--certs", os.environ["SMTP_TEST_CERTS"]]
    for s in servers:
        argv += ["--" + kind, s]
    return argv + ["--"] + cmd


def _nested_env(tmpdir):
    return dict(os.environ, TMPDIR=tmpdir)


def _port_closed(p, within=3.0):
    deadline = time.monotonic() + within
    while True:
        try:
            socket.create_connection(("127.0.0.1", p), timeout=1).close()
        except OSError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def _pid_gone(pid, within=3.0):
    deadline = time.monotonic() + within
    while True:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True  # killed; waiting for init to reap it
        except FileNotFoundError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def test_runner_start_failure():
    p = subprocess.run(_nested(["broken:--tls starttls --cert /nonexistent/x.pem"], ["true"]),
                       capture_output=True, text=True, timeout=30)
    eq(p.returncode, 2, "exit status when a server does not start")
    check("'broken'" in p.stderr and "No such file" in p.stderr,
          "the message names the server and shows its stderr: %r" % p.stderr)


def test_runner_crash_and_signals():
    show = 'echo $SMTP_TEST_X_PORT $$; '
    with tempfile.TemporaryDirectory() as tmpdir:
        # SIGKILL (as on a CTest timeout), then SIGTERM to with_servers.py
        # while the test runs: no server, no test left; the SIGTERM run also
        # removes the directory the killed one could not.
        for sig in (signal.SIGKILL, signal.SIGTERM):
            runner = subprocess.Popen(_nested(["x"], ["sh", "-c", show + "exec sleep 30"]),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=_nested_env(tmpdir))
            test_port, test_pid = map(int, runner.stdout.readline().split())
            runner.send_signal(sig)
            rc = runner.wait(timeout=15)
            runner.stdout.close()
            runner.stderr.close()
            if sig == signal.SIGTERM:
                eq(rc, 128 + signal.SIGTERM, "exit status after SIGTERM")
            check(_port_closed(test_port), "server still listening after %s" % sig.name)
            check(_pid_gone(test_pid), "test command still running after %s" % sig.name)
        # The test crashes: its signal becomes 128+N; the server is gone.
        p = subprocess.run(_nested(["x"], ["sh", "-c", show + "kill -SEGV $$"]),
                           capture_output=True, text=True, timeout=30, env=_nested_env(tmpdir))
        eq(p.returncode, 128 + signal.SIGSEGV, "exit status of a crashed test")
        check(_port_closed(int(p.stdout.split()[0])), "server still listening after the crash")
        eq(os.listdir(tmpdir), [], "temporary directories left behind")


def _instance_processes(under):
    """Pids of Postfix processes whose configuration is below `under`."""
    mark = b"\0MAIL_CONFIG=" + os.fsencode(under)
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                if mark in b"\0" + f.read():
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


def test_runner_postfix_cleanup():
    show = 'echo $SMTP_TEST_X_PORT; '
    with tempfile.TemporaryDirectory() as tmpdir:
        os.chmod(tmpdir, 0o711)  # Postfix's daemons pass through it
        for sig in (signal.SIGKILL, signal.SIGTERM):
            runner = subprocess.Popen(
                _nested(["x"], ["sh", "-c", show + "exec sleep 30"], "postfix"),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_nested_env(tmpdir))
            line = runner.stdout.readline()
            if not line:
                runner.wait(timeout=15)
                raise Failure("the nested run failed (%s): %s"
                              % (runner.returncode, runner.stderr.read()))
            test_port = int(line)
            check(_instance_processes(tmpdir), "no Postfix processes of the nested run found")
            runner.send_signal(sig)
            runner.wait(timeout=15)
            runner.stdout.close()
            runner.stderr.close()
            check(_port_closed(test_port), "Postfix still listening after %s" % sig.name)
            deadline = time.monotonic() + 5
            while _instance_processes(tmpdir) and time.monotonic() < deadline:
                time.sleep(0.05)
            eq(_instance_processes(tmpdir), [], "Postfix processes left after %s" % sig.name)
        eq(os.listdir(tmpdir), [], "temporary directories left behind")


TESTS = [
    ("a plain: refused recipient, BCC, record, DSN, SIZE", test_plain_refused_and_bcc),
    ("b STARTTLS + AUTH PLAIN/LOGIN", test_starttls_auth),
    ("c implicit TLS + AUTH", test_implicit_tls),
    ("b' AUTH without TLS (--auth-allow-plaintext)", test_auth_plaintext_allowed),
    ("d certificate failures (STARTTLS and implicit)", test_certificate_failures),
    ("e smtp-sink", test_smtp_sink),
    ("f VRFY", test_vrfy),
    ("g LMTP per-recipient replies", test_lmtp),
    ("g' LMTP: Postfix's smtp-sink -L", test_lmtp_sink),
    ("h runner: server that fails to start", test_runner_start_failure),
    ("i runner: crash, SIGTERM, SIGKILL leave nothing behind", test_runner_crash_and_signals),
    ("j Postfix: EHLO extensions, SIZE limit", test_postfix_ehlo),
    ("k Postfix: UTF-8 + DSN delivery to maildirs, relay refused", test_postfix_delivery_and_dsn),
    ("l Postfix: pipelined BDAT (CHUNKING) delivery", test_postfix_chunking),
    ("m runner: --postfix leaves nothing (SIGKILL, SIGTERM)", test_runner_postfix_cleanup),
]


def test_old_tls_server():
    # The --tls-max 1.1 server really speaks TLS 1.1 (so that a client that
    # refuses it is refusing the version, not a broken server), and not 1.2.
    ctx = ca_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with smtplib.SMTP_SSL("localhost", port("oldtls"), context=ctx, timeout=10) as s:
        eq(s.sock.version(), "TLSv1.1", "negotiated version")
        eq(s.noop()[0], 250, "NOOP over TLS 1.1")
    try:
        smtplib.SMTP_SSL("localhost", port("oldtls"), context=ca_context(), timeout=10).quit()
        raise Failure("a TLS 1.2+ client completed a handshake with the TLS 1.1 server")
    except ssl.SSLError:
        pass


def test_not_smtp_servers():
    # --banner: the banner, and the connection stays open; nothing, or a
    # close at once. --http: Python's http.server answers GET.
    with socket.create_connection(("127.0.0.1", port("ssh")), timeout=10) as c:
        eq(c.recv(100), b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "--banner: the banner")
        c.sendall(b"SSH-2.0-client\r\n")
        c.settimeout(0.2)
        try:
            eq(c.recv(100), b"", "--banner: nothing more")
            raise Failure("--banner: closed after the banner")
        except socket.timeout:
            pass
    with socket.create_connection(("127.0.0.1", port("silent")), timeout=10) as c:
        c.settimeout(0.2)
        try:
            data = c.recv(100)
            raise Failure("silent banner server sent %r" % data)
        except socket.timeout:
            pass
    with socket.create_connection(("127.0.0.1", port("closer")), timeout=10) as c:
        eq(c.recv(100), b"", "--close: closed without a word")
    with socket.create_connection(("127.0.0.1", port("web")), timeout=10) as c:
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        check(c.recv(100).startswith(b"HTTP/1.0 200 "), "--http: GET / answered")
    # --https: its configured answer over TLS, the certificate valid for
    # mta-sts.example.test under the test CA, the request and SNI recorded.
    ctx = ssl.create_default_context(cafile=os.path.join(os.environ["SMTP_TEST_CERTS"], "ca.pem"))
    with socket.create_connection(("127.0.0.1", port("policy")), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="mta-sts.example.test") as c:
            c.sendall(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.test\r\n\r\n")
            data = b""
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
    eq(data, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Test: 1\r\nContent-Length: 16\r\n"
       b"Connection: close\r\n\r\nversion: STSv1\r\n", "--https: the configured answer")
    with open(os.path.join(os.environ["SMTP_TEST_POLICY_RECORD"], "requests.jsonl")) as f:
        rec = json.loads(f.readline())
    eq(rec["sni"], "mta-sts.example.test", "--https: SNI recorded")
    check(rec["head"].startswith("GET /.well-known/mta-sts.txt HTTP/1.1\r\n"), "--https: request recorded")


TESTS_EXTRA = [("old TLS server speaks TLS 1.1 only", test_old_tls_server),
               ("not-SMTP servers: banner, silence, close, HTTP, HTTPS", test_not_smtp_servers)]
POSTFIX_TESTS = (test_postfix_ehlo, test_postfix_delivery_and_dsn, test_postfix_chunking,
                 test_runner_postfix_cleanup)


def postfix_possible():
    """Root, or password-less sudo: what --postfix needs."""
    if os.geteuid() == 0:
        return True
    try:
        return subprocess.run(["sudo", "-n", "true"], stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def main():
    if "SMTP_TEST_PLAIN_PORT" not in os.environ:
        argv = [sys.executable, WITH_SERVERS]
        # Without root (or sudo -n) no Postfix: its checks are skipped.
        for kind, spec in SERVERS:
            if kind != "postfix" or postfix_possible():
                argv += ["--" + kind, spec]
        argv += ["--", sys.executable, os.path.abspath(__file__)]
        os.execv(argv[0], argv)
    failed = skipped = 0
    for name, fn in TESTS + TESTS_EXTRA:
        if fn in POSTFIX_TESTS and "SMTP_TEST_MTA_PORT" not in os.environ:
            print("skip %-58s (Postfix needs root or sudo -n)" % name, flush=True)
            skipped += 1
            continue
        t0 = time.monotonic()
        try:
            fn()
            status = "ok  "
        except Exception as e:  # noqa: BLE001 - report every failure, run every check
            failed += 1
            status = "FAIL"
            detail = e if isinstance(e, Failure) else "%s: %s" % (type(e).__name__, e)
        print("%s %-58s %6.3f s" % (status, name, time.monotonic() - t0), flush=True)
        if status == "FAIL":
            print("     %s" % detail, flush=True)
    total = len(TESTS) + len(TESTS_EXTRA) - skipped
    print(("%d of %d checks failed" % (failed, total) if failed else "all %d checks passed" % total)
          + (" (%d skipped)" % skipped if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
