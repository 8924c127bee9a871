#!/usr/bin/python3
"""A real SMTP (or LMTP) server for the live tests, built on Debian's aiosmtpd.

Run it with the system Python (/usr/bin/python3, package python3-aiosmtpd).
It binds --host:--port (port 0 = a free port chosen by the kernel), prints
exactly one line "READY <port>" on stdout once it is listening, and exits with
status 0 on SIGTERM or SIGINT. Normally started by with_servers.py.

    smtp_server.py [--host 127.0.0.1] [--port 0] [--hostname localhost]
                   [--unix PATH]
                   [--tls none|starttls|implicit] [--cert PEM] [--key KEY]
                   [--client-ca PEM] [--tls-max 1|1.1|1.2] [--require-starttls]
                   [--auth none|LIST] [--user U] [--password P] [--oauth-token T]
                   [--auth-allow-plaintext]
                   [--lmtp] [--lmtp-data-refuse ADDR]...
                   [--record DIR] [--refuse ADDR]... [--vrfy USER=RESULT]... [--drop-after-data]
                   [--size N] [--smtputf8] [--dsn] [--mt-priority POLICY] [--debugging]

--record DIR writes every accepted message as DIR/<n>.json (n = 1, 2, ...),
atomically (a reader never sees a partial file) and before the final reply
to DATA goes out:
    {"mail_from": "a@x", "rcpt_tos": ["b@y", ...], "data_b64": "<the message
     bytes after dot-unstuffing, CRLFs as received>", "mail_options": [...],
     "rcpt_options": [[...], ...]  (one list per recipient, same order),
     "peer": ["127.0.0.1", 41234], "helo": "client.example",
     "tls": true|false, "auth_user": "user"|null, "auth_mechanism": "PLAIN"|null,
     "tls_version": "TLSv1.3"|null, "client_cert": "<subject CN>"|null,
     "lmtp_replies": ["250 ...", ...]  (LMTP only: the per-recipient replies)}
and appends to DIR/events.txt one line per command received ("EHLO tls=0",
"STARTTLS tls=0", "EHLO tls=1", ...) and one per completed TLS handshake
("TLS TLSv1.3 client=<subject CN, or -> resumed=<0|1>").

--client-ca PEM asks every TLS client for a certificate and refuses the
handshake without one signed by a CA in PEM. --unix PATH listens on a Unix
socket at PATH instead of TCP (it prints READY 0).
aiosmtpd upper-cases ESMTP parameters; it accepts only SIZE, BODY and SMTPUTF8
on MAIL and none on RCPT, unless --dsn adds RET/ENVID and NOTIFY/ORCPT, and
--mt-priority POLICY offers MT-PRIORITY (RFC 6710) and takes MT-PRIORITY=n on
MAIL for n in -9..9 (any other value gets 501, a syntax error).

--auth is "none" or a comma list of plain-login (aiosmtpd's PLAIN and LOGIN),
cram-md5, xoauth2 and oauthbearer. The first three check --user and
--password; the OAuth ones --user and --oauth-token (a wrong token gets the
JSON error challenge, then 535), and each of --oauth-tokens-once's tokens
once only (a token that expires after use, for tests of token refresh).
"""

import argparse
import asyncio
import base64
import hmac
import json
import logging
import os
import re
import signal
import ssl
import sys
import time

from aiosmtpd.handlers import Debugging
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword, TLSSetupException

DSN_PARAMS = ("RET", "ENVID", "NOTIFY", "ORCPT")
# --auth's names, and the AUTH mechanisms each offers.
AUTH_MECHANISMS = {"plain-login": ("PLAIN", "LOGIN"), "cram-md5": ("CRAM-MD5",),
                   "xoauth2": ("XOAUTH2",), "oauthbearer": ("OAUTHBEARER",)}


def log(msg):
    sys.stderr.write("smtp_server: %s\n" % msg)
    sys.stderr.flush()


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    p.add_argument("--unix", metavar="PATH", help="listen on a Unix socket at PATH instead of TCP")
    p.add_argument("--hostname", default="localhost",
                   help="the server's name in the greeting and the EHLO reply")
    p.add_argument("--tls", choices=("none", "starttls", "implicit"), default="none")
    p.add_argument("--cert", help="certificate chain (PEM), for --tls starttls|implicit")
    p.add_argument("--key", help="private key (PEM); default: --cert with .pem replaced by .key")
    p.add_argument("--client-ca", metavar="PEM",
                   help="require a client certificate signed by a CA in PEM (TLS handshakes without one fail)")
    p.add_argument("--require-starttls", action="store_true",
                   help="refuse everything but EHLO/NOOP/QUIT/STARTTLS before STARTTLS")
    p.add_argument("--auth", default="none",
                   help="none, or a comma list of %s" % ", ".join(AUTH_MECHANISMS))
    p.add_argument("--user", default="user")
    p.add_argument("--password", default="password")
    p.add_argument("--oauth-token", default="token", help="the bearer token XOAUTH2 and OAUTHBEARER accept")
    p.add_argument("--oauth-tokens-once", default="", metavar="T1,T2,...",
                   help="bearer tokens accepted once each, beside --oauth-token: a token that expires once used")
    p.add_argument("--auth-allow-plaintext", action="store_true",
                   help="offer and accept AUTH without TLS (aiosmtpd auth_require_tls=False)")
    p.add_argument("--lmtp", action="store_true", help="speak LMTP (LHLO, per-recipient DATA replies)")
    p.add_argument("--lmtp-data-refuse", action="append", default=[], metavar="ADDR",
                   help="LMTP: accept ADDR at RCPT, then fail it after DATA (550 5.2.1)")
    p.add_argument("--record", metavar="DIR", help="write each accepted message as DIR/<n>.json")
    p.add_argument("--drop-after-data", action="store_true",
                   help="record each message, then cut the connection instead of replying to the final dot")
    p.add_argument("--refuse", action="append", default=[], metavar="ADDR",
                   help="RCPT TO:<ADDR> gets 550 5.1.1 (repeatable)")
    p.add_argument("--vrfy", action="append", default=[], metavar="USER=RESULT",
                   help="VRFY USER answers '250 RESULT' (repeatable); others get 550 5.1.1")
    p.add_argument("--size", type=int, default=33554432,
                   help="SIZE advertised and enforced (0 = no SIZE); default 33554432")
    p.add_argument("--smtputf8", action="store_true", help="offer SMTPUTF8")
    p.add_argument("--dsn", action="store_true",
                   help="offer DSN and accept RET/ENVID on MAIL, NOTIFY/ORCPT on RCPT")
    p.add_argument("--mt-priority", metavar="POLICY",
                   help="offer MT-PRIORITY POLICY (RFC 6710) and accept MT-PRIORITY=-9..9 on MAIL")
    p.add_argument("--tls-max", choices=("1", "1.1", "1.2"),
                   help="offer no TLS version newer than this (1, 1.1: a modern client must refuse; 1.2)")
    p.add_argument("--debugging", action="store_true",
                   help="print each message to stdout (aiosmtpd.handlers.Debugging)")
    args = p.parse_args(argv)
    names = [] if args.auth == "none" else args.auth.split(",")
    for n in names:
        if n not in AUTH_MECHANISMS:
            p.error("--auth: none, or a comma list of %s; not %r" % (", ".join(AUTH_MECHANISMS), n))
    args.mechanisms = [m for n in names for m in AUTH_MECHANISMS[n]]
    if args.tls != "none":
        if not args.cert:
            p.error("--tls %s needs --cert" % args.tls)
        if not args.key:
            base, ext = os.path.splitext(args.cert)
            args.key = base + ".key" if ext == ".pem" else args.cert
    if args.client_ca and args.tls == "none":
        p.error("--client-ca needs --tls starttls|implicit")
    if args.require_starttls and args.tls != "starttls":
        p.error("--require-starttls needs --tls starttls")
    if args.lmtp_data_refuse and not args.lmtp:
        p.error("--lmtp-data-refuse needs --lmtp")
    for v in args.vrfy:
        if "=" not in v:
            p.error("--vrfy takes USER=RESULT, not %r" % v)
    return args


class Handler:
    def __init__(self, args):
        self.args = args
        self.refuse = {a.casefold() for a in args.refuse}
        self.lmtp_data_refuse = {a.casefold() for a in args.lmtp_data_refuse}
        self.vrfy = {}
        for v in args.vrfy:
            user, _, result = v.partition("=")
            self.vrfy[user.casefold()] = result
        self.debugging = Debugging(sys.stdout) if args.debugging else None
        self.counter = 0
        if args.record:
            os.makedirs(args.record, exist_ok=True)
            for name in os.listdir(args.record):
                stem, ext = os.path.splitext(name)
                if ext == ".json" and stem.isdigit():
                    self.counter = max(self.counter, int(stem))

    async def handle_exception(self, error):
        # A failed STARTTLS handshake (the client rejected our certificate) is
        # an expected event here: one line on stderr, not a traceback. The
        # connection is closed; the status is not sent.
        if isinstance(error, TLSSetupException):
            cause = error.__cause__ or error
            log("%s: TLS handshake failed: %s" % (type(cause).__name__, cause))
            return "421 4.7.0 TLS handshake failed"
        logging.getLogger("mail.log").error("SMTP session exception", exc_info=error)
        return "500 Error: (%s) %s" % (type(error).__name__, error)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if not self.args.mechanisms:
            responses = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        if self.args.dsn:
            responses.insert(-1, "250-DSN")
        if self.args.mt_priority is not None:
            responses.insert(-1, ("250-MT-PRIORITY " + self.args.mt_priority).rstrip())
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.casefold() in self.refuse:
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(list(rcpt_options))  # one list per recipient
        return "250 OK"

    async def handle_VRFY(self, server, session, envelope, address):
        result = self.vrfy.get(address.casefold())
        if result is None:
            return "550 5.1.1 <%s>... User unknown" % address
        return "250 " + result

    async def handle_DATA(self, server, session, envelope):
        lmtp_replies = None
        if self.args.lmtp:
            lmtp_replies = []
            for rcpt in envelope.rcpt_tos:
                if rcpt.casefold() in self.lmtp_data_refuse:
                    lmtp_replies.append("550 5.2.1 <%s>: mailbox unavailable" % rcpt)
                else:
                    lmtp_replies.append("250 2.1.5 <%s> delivered" % rcpt)
        if self.args.record:
            self.record(session, envelope, lmtp_replies)
        if self.args.drop_after_data:
            # The message is taken, and the reply never comes: the client
            # cannot know (RFC 5321 6.1's duplicate risk).
            server.transport.abort()
            return "250 OK (never sent)"
        if self.debugging is not None:
            await self.debugging.handle_DATA(server, session, envelope)
            sys.stdout.flush()
        if lmtp_replies is not None:
            return "\r\n".join(lmtp_replies)
        return "250 OK"

    def record(self, session, envelope, lmtp_replies):
        self.counter += 1
        auth = session.auth_data if session.authenticated else None
        login = getattr(auth, "login", None)
        entry = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data_b64": base64.b64encode(envelope.original_content).decode("ascii"),
            "mail_options": list(envelope.mail_options),
            "rcpt_options": list(envelope.rcpt_options),
            "peer": list(session.peer) if session.peer else None,
            "helo": session.host_name,
            "tls": self.args.tls == "implicit" or session.ssl is not None,
            "auth_user": login.decode("utf-8", "replace") if isinstance(login, bytes) else login,
            "auth_mechanism": getattr(session, "auth_mechanism", None) if session.authenticated else None,
            "tls_version": getattr(session, "tls_version", None),
            "client_cert": getattr(session, "client_cert", None),
        }
        if lmtp_replies is not None:
            entry["lmtp_replies"] = lmtp_replies
        path = os.path.join(self.args.record, "%d.json" % self.counter)
        tmp = os.path.join(self.args.record, ".%d.json.tmp" % self.counter)
        with open(tmp, "w") as f:
            json.dump(entry, f, indent=1)
        os.replace(tmp, path)

    def event(self, line):
        """One line in DIR/events.txt: a command received, a TLS handshake done."""
        if self.args.record:
            with open(os.path.join(self.args.record, "events.txt"), "a") as f:
                f.write(line + "\n")


def subject_cn(cert):
    """The commonName of a certificate as ssl.SSLSocket.getpeercert() gives it."""
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


def make_protocol_class(base, args):
    user, password, token = args.user.encode(), args.password.encode(), args.oauth_token.encode()
    once = {t.encode() for t in args.oauth_tokens_once.split(",") if t}  # shared by every connection

    class Protocol(base):
        def __init__(self, handler, *a, **kw):
            super().__init__(handler, *a, **kw)
            self._recorder = handler

            # Every command, as it arrives, into events.txt (with whether TLS was on).
            def logged(verb, method):
                async def run(arg):
                    tls = args.tls == "implicit" or self._tls_protocol is not None
                    self._recorder.event("%s tls=%d" % (verb, int(tls)))
                    return await method(arg)
                return run
            self._smtp_methods = {verb: logged(verb, m) for verb, m in self._smtp_methods.items()}

        def connection_made(self, transport):
            super().connection_made(transport)
            sslobj = transport.get_extra_info("ssl_object")
            if sslobj is not None:  # implicit TLS, or the end of a STARTTLS handshake
                self.session.tls_version = sslobj.version()
                self.session.client_cert = subject_cn(sslobj.getpeercert())
                self._recorder.event("TLS %s client=%s resumed=%d" % (
                    sslobj.version(), self.session.client_cert or "-", int(sslobj.session_reused)))
        def _getparams(self, params):
            # aiosmtpd refuses every RCPT parameter and all MAIL parameters but
            # SIZE/BODY/SMTPUTF8; with --dsn the DSN ones pass (they stay in
            # mail_options/rcpt_options).
            # aiosmtpd takes only alphanumeric keywords: MT-PRIORITY=n (with
            # --mt-priority, n = [+-]digit) is checked here and kept out of
            # its way; it stays in mail_options.
            rest = []
            for param in params:
                name, _, value = param.partition("=")
                if args.mt_priority is not None and name == "MT-PRIORITY":
                    if not re.fullmatch(r"[+-]?[0-9]", value):
                        return None
                    continue
                rest.append(param)
            result = super()._getparams(rest)
            if result is not None and args.dsn:
                for name in DSN_PARAMS:
                    result.pop(name, None)
            return result

        def _succeed(self, mechanism, login):
            self.session.auth_mechanism = mechanism
            return AuthResult(success=True, auth_data=LoginPassword(login, b""))

        async def _initial_response(self, args_):
            """The initial response, or (none given) the answer to an empty challenge; None after an error reply."""
            if len(args_) > 1:
                try:
                    return base64.b64decode(args_[1], validate=True)
                except ValueError:
                    await self.push("501 5.5.2 Can't decode base64")
                    return None
            response = await self.challenge_auth("")
            return None if response is MISSING else response

        async def auth_CRAM__MD5(self, _, args_):
            # RFC 2195: a unique challenge; the answer is "user hex(HMAC-MD5(password, challenge))".
            if len(args_) > 1:
                await self.push("501 5.5.2 CRAM-MD5 takes no initial response")
                return AuthResult(success=False, handled=True)
            challenge = "<%d.%d@%s>" % (os.getpid(), time.monotonic_ns(), self.hostname)
            response = await self.challenge_auth(challenge)
            if response is MISSING:  # challenge_auth has answered
                return AuthResult(success=False, handled=True)
            login, _, digest = response.partition(b" ")
            expected = hmac.new(password, challenge.encode(), "md5").hexdigest().encode()
            if login == user and hmac.compare_digest(digest, expected):
                return self._succeed("CRAM-MD5", login)
            return AuthResult(success=False, handled=False)

        async def _oauth(self, mechanism, args_, parse, error_answer):
            response = await self._initial_response(args_)
            if response is None:
                return AuthResult(success=False, handled=True)
            login, bearer = parse(response)
            if login == user and bearer in once:
                once.discard(bearer)  # used: it has expired
                return self._succeed(mechanism, login)
            if login == user and bearer == token:
                return self._succeed(mechanism, login)
            # The error challenge (a JSON document); the client's dummy answer;
            # then the failure (RFC 7628 3.2.3, Google's XOAUTH2 document).
            answer = await self.challenge_auth('{"status":"invalid_token","schemes":"bearer"}')
            if answer is MISSING:
                return AuthResult(success=False, handled=True)
            if answer != error_answer:
                await self.push("501 5.5.2 Expected the dummy response to the error challenge")
                return AuthResult(success=False, handled=True)
            return AuthResult(success=False, handled=False)

        async def auth_XOAUTH2(self, _, args_):
            # "user=" user ^A "auth=Bearer " token ^A ^A
            def parse(r):
                fields = dict(f.split(b"=", 1) for f in r.split(b"\x01") if b"=" in f)
                auth = fields.get(b"auth", b"")
                return fields.get(b"user"), auth[7:] if auth.startswith(b"Bearer ") else None
            return await self._oauth("XOAUTH2", args_, parse, b"")

        async def auth_OAUTHBEARER(self, _, args_):
            # "n,a=" user "," ^A ["host=" ... ^A] ["port=" ... ^A] "auth=Bearer " token ^A ^A
            def parse(r):
                gs2, _, rest = r.partition(b"\x01")
                parts = gs2.split(b",")
                login = parts[1][2:] if len(parts) > 1 and parts[1].startswith(b"a=") else None
                fields = dict(f.split(b"=", 1) for f in rest.split(b"\x01") if b"=" in f)
                auth = fields.get(b"auth", b"")
                return login, auth[7:] if auth.startswith(b"Bearer ") else None
            return await self._oauth("OAUTHBEARER", args_, parse, b"\x01")
    return Protocol


def make_authenticator(args):
    user, password = args.user.encode(), args.password.encode()

    def authenticator(server, session, envelope, mechanism, auth_data):
        if mechanism in ("PLAIN", "LOGIN") and auth_data.login == user \
                and auth_data.password == password:
            session.auth_mechanism = mechanism
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)
    return authenticator


async def serve(args):
    loop = asyncio.get_running_loop()
    handler = Handler(args)
    ctx = None
    if args.tls != "none":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        if args.tls_max:
            # Offer only old protocol versions (a client must refuse them).
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = getattr(ssl.TLSVersion, "TLSv" + args.tls_max.replace(".", "_"))
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        if args.record:
            # Record the name the client asked for (SNI), one line per handshake.
            sni_file = os.path.join(args.record, "sni.txt")

            def on_sni(sslobj, name, context):
                with open(sni_file, "a") as f:
                    f.write("%s\n" % (name if name is not None else "(none)"))
            ctx.sni_callback = on_sni
    kwargs = dict(
        hostname=args.hostname,
        data_size_limit=args.size or None,
        enable_SMTPUTF8=args.smtputf8,
        tls_context=ctx if args.tls == "starttls" else None,
        require_starttls=args.require_starttls,
        # Under implicit TLS the whole connection is encrypted, but aiosmtpd
        # only knows about STARTTLS: let it offer AUTH there.
        auth_require_tls=not (args.auth_allow_plaintext or args.tls == "implicit"),
        loop=loop,
    )
    kwargs["authenticator"] = make_authenticator(args)
    kwargs["auth_exclude_mechanism"] = [m for names in AUTH_MECHANISMS.values() for m in names
                                        if m not in args.mechanisms]
    protocol = make_protocol_class(LMTP if args.lmtp else SMTP, args)

    factory = lambda: protocol(handler, **kwargs)  # noqa: E731
    implicit_ctx = ctx if args.tls == "implicit" else None
    if args.unix:
        server = await loop.create_unix_server(factory, path=args.unix, ssl=implicit_ctx)
        port = 0
    else:
        server = await loop.create_server(factory, host=args.host, port=args.port, ssl=implicit_ctx,
                                          reuse_address=True)
        port = server.sockets[0].getsockname()[1]
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    sys.stdout.write("READY %d\n" % port)
    sys.stdout.flush()
    await stop
    server.close()
    try:  # from Python 3.12 on, wait_closed() also waits for open connections
        await asyncio.wait_for(server.wait_closed(), 1.0)
    except asyncio.TimeoutError:
        pass


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # aiosmtpd itself sets the deprecated Session.login_data on every AUTH and
    # warns about it on stderr; that is noise here.
    # With --client-ca, it warns that a required client certificate may trouble
    # clients: that is the point.
    logging.getLogger("mail.log").addFilter(
        lambda record: "login_data is deprecated" not in record.getMessage()
        and "verify_mode not in" not in record.getMessage())
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
