#!/usr/bin/python3
"""examples/proxy through microsocks and tinyproxy to a STARTTLS aiosmtpd:

  socks5 and http, with and without the proxy's credentials: exit 0, the
    message recorded over TLS, and the SNI the server saw is the mail
    server's name (localhost), not the proxy's (127.0.0.1)
  a wrong proxy password: exit 1, the error names the proxy and never the
    password
  a server whose certificate names another host, through the proxy: exit 1,
    hostname mismatch

    with_servers.py --server "tls:--tls starttls --require-starttls"
                    --server "wronghost:--tls starttls --cert wronghost"
                    --socks "socks:" --socks "socks_auth:-u alice -P s3cret"
                    --httpproxy "web:" --httpproxy "web_auth:--user alice --password s3cret"
                    -- test_proxy.py PROXY
"""

import os
import sys

for var in ("SMTP_PROXY_USER", "SMTP_PROXY_PASSWORD"):  # only what each run gives
    os.environ.pop(var, None)

from common import ca, check, finish, port, records, run, show

PROXY = sys.argv[1]


def proxy(kind, proxy_name, server="tls", env=None):
    argv = [PROXY, kind, "127.0.0.1", port(proxy_name), "localhost", port(server), ca()]
    return run(argv, env=env)


sent = 0
for kind, name, env in [("socks5", "socks", {}),
                        ("socks5", "socks_auth", {"SMTP_PROXY_USER": "alice", "SMTP_PROXY_PASSWORD": "s3cret"}),
                        ("http", "web", {}),
                        ("http", "web_auth", {"SMTP_PROXY_USER": "alice", "SMTP_PROXY_PASSWORD": "s3cret"})]:
    rc, out, err = proxy(kind, name, env=env)
    check(rc == 0 and "sent through the" in out, "%s through %s: exit %s" % (kind, name, rc), show(rc, out, err))
    sent += rc == 0
recs = records("tls")
check(len(recs) == sent and all(r["tls"] for r in recs), "every message recorded over TLS", repr(recs))
with open(os.path.join(os.environ["SMTP_TEST_TLS_RECORD"], "sni.txt")) as f:
    sni = f.read().split()
check(sni and all(n == "localhost" for n in sni), "SNI is the mail server's name", repr(sni))

for kind, name in [("socks5", "socks_auth"), ("http", "web_auth")]:
    rc, out, err = proxy(kind, name, env={"SMTP_PROXY_USER": "alice", "SMTP_PROXY_PASSWORD": "wr0ng-pa55"})
    check(rc == 1 and "proxy 127.0.0.1:%s" % port(name) in err and "refused" in err,
          "%s: a wrong proxy password is an error naming the proxy" % kind, show(rc, out, err))
    check("wr0ng-pa55" not in out + err, "%s: the password is in no message" % kind, show(rc, out, err))

rc, out, err = proxy("socks5", "socks", server="wronghost")
check(rc == 1 and "hostname mismatch" in err, "a wrong certificate through the proxy", show(rc, out, err))

finish()
