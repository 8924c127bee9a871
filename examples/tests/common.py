"""Shared by the example tests: run a program, read what the servers recorded.

Each test script runs under tests/servers/with_servers.py (see
examples/CMakeLists.txt), which puts SMTP_TEST_* in the environment.
"""

import base64
import json
import os
import subprocess
import sys

HOST = "localhost"  # the test certificates name localhost and 127.0.0.1
USER, PASSWORD = "alice", "s3cret"
AUTH = "--auth plain-login --user %s --password %s" % (USER, PASSWORD)

failures = []


def check(cond, what, detail=""):
    if not cond:
        failures.append(what + (("\n" + detail) if detail else ""))


def port(name):
    return os.environ["SMTP_TEST_%s_PORT" % name.upper()]


def ca():
    return os.path.join(os.environ["SMTP_TEST_CERTS"], "ca.pem")


def records(name):
    d = os.environ["SMTP_TEST_%s_RECORD" % name.upper()]
    out = []
    messages = [n for n in os.listdir(d) if n.endswith(".json")]  # not sni.txt
    for f in sorted(messages, key=lambda n: int(n.split(".")[0])):
        with open(os.path.join(d, f)) as fh:
            r = json.load(fh)
        r["data"] = base64.b64decode(r["data_b64"])
        out.append(r)
    return out


def run(argv, stdin="", env=None, timeout=20):
    """Runs a program; returns (exit status, stdout, stderr) as text. After
    `timeout` seconds it is killed: exit status None, and a last line on
    stderr says so."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    try:
        p = subprocess.run(argv, input=stdin.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=full_env, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        text = lambda b: (b or b"").decode(errors="replace")
        return None, text(e.stdout), text(e.stderr) + "(killed after %s s)\n" % timeout
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def show(rc, out, err):
    return "exit status %s\n--- stdout\n%s--- stderr\n%s" % (rc, out, err)


def finish():
    for f in failures:
        sys.stderr.write("FAIL: %s\n" % f)
    sys.exit(1 if failures else 0)
