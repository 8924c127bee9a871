#!/usr/bin/env python3
"""Runs a test command with real SMTP servers on free loopback ports.

    with_servers.py [--certs DIR] [--keep] [--timeout SECONDS]
                    [--server NAME[:ARGS]]... [--sink NAME[:ARGS]]...
                    [--postfix NAME[:ARGS]]... [--banner NAME[:ARGS]]...
                    [--http NAME]... [--socks NAME[:ARGS]]...
                    [--httpproxy NAME[:ARGS]]... [--https NAME[:ARGS]]...
                    [--dns NAME[:ARGS]]...
                    -- TEST-COMMAND [ARG...]

  --server NAME:ARGS  start tests/servers/smtp_server.py ARGS (aiosmtpd, run with
                      /usr/bin/python3) on a free port. ARGS is split like a shell
                      line. "{certs}" in ARGS becomes the certificate directory;
                      "{mxport}" one port, the same for the whole run (in
                      SMTP_TEST_MXPORT): servers given "--host 127.0.0.N --port
                      {mxport}" are MX hosts on distinct loopback addresses and
                      one port, as a delivery to port 25 sees them.
                      With --tls starttls|implicit and no --cert, the server uses
                      server.pem/server.key; "--cert NAME" (a bare name such as
                      wronghost) means {certs}/NAME.pem with {certs}/NAME.key;
                      "--client-ca NAME" means {certs}/NAME.pem. "--unix" alone
                      makes it listen on a Unix socket (<tmp>/NAME.sock, in
                      SMTP_TEST_<NAME>_SOCKET) instead of a TCP port.
                      Unless ARGS has --record DIR, the server records into a
                      fresh temporary directory.
  --sink NAME:ARGS    start Postfix's /usr/sbin/smtp-sink ARGS 127.0.0.1:PORT 16
                      (as root it runs as nobody).
  --postfix NAME:ARGS start a private Postfix MTA (tests/servers/postfix_server.py
                      ARGS) on a free port: it delivers mail for any local part
                      of example.test (--domain D: of D) into maildirs, refuses
                      other domains at RCPT. Needs root: when not root, it runs
                      under "sudo -n" (exit status 2 if that does not work).
  --banner NAME:ARGS  start tests/servers/banner_server.py ARGS, a server that is
                      not SMTP: it sends --banner TEXT (an SSH server's, say;
                      \\r, \\n, \\xNN decoded), or nothing, to each client, and
                      with --close closes the connection right after.
  --http NAME         start Python's http.server (python3 -m http.server) on a
                      free port, serving an empty directory.
  --socks NAME:ARGS   start a SOCKS5 proxy, microsocks (-u USER -P PASSWORD: it
                      asks for RFC 1929 credentials), on a free port.
  --httpproxy NAME:ARGS  start an HTTP proxy, tinyproxy, on a free port, with a
                      configuration of its own: --user U --password P (it asks
                      for Basic credentials, 407 without), --connect-port N
                      (repeatable: CONNECT only to these ports, 403 to others).
  --https NAME:ARGS   start tests/servers/https_server.py ARGS, an HTTPS server
                      that answers every request with one configured response
                      (an MTA-STS policy host): by default with mtasts.pem (SAN
                      mta-sts.example.test); "--cert NAME" as for --server. It
                      records each request into SMTP_TEST_<NAME>_RECORD.
  --dns NAME:ARGS     start tests/servers/dns_server.py ARGS: knotd serving the
                      DNSSEC-signed zone tree under test. (with an unsigned and
                      an expired child) on a free port, UDP and TCP; ARGS adds
                      records (--record "OWNER TYPE RDATA", --tlsa "OWNER U S M
                      CERTNAME"). The trust anchor is in SMTP_TEST_<NAME>_ANCHOR.
  --certs DIR         make (or reuse) the test PKI in DIR instead of a temp dir.
  --keep              keep the temporary directory (records, logs); print its path.
  --timeout SECONDS   kill the test command after SECONDS (exit status 124).

The test command gets these environment variables (NAME upper-cased):
  SMTP_TEST_HOST=127.0.0.1   SMTP_TEST_CERTS=<dir with the make_certs.sh PKI>
  SMTP_TEST_MXPORT=<port>    the port "{mxport}" stood for in ARGS
  SMTP_TEST_<NAME>_PORT=<port>    SMTP_TEST_<NAME>_RECORD=<dir> (--server, --https)
  SMTP_TEST_<NAME>_SOCKET=<path>  (smtp_server.py with --unix; its PORT is 0)
  SMTP_TEST_<NAME>_MAILDIR=<dir>  SMTP_TEST_<NAME>_DOMAIN=<domain> (--postfix only):
                      mail to <local>@<domain> lands in <dir>/<local>/new/
  SMTP_TEST_<NAME>_ANCHOR=<file>  SMTP_TEST_<NAME>_WRONG_ANCHOR=<file> (--dns only):
                      the DS record of test.'s key, and of a key that signs nothing

Exit status: the test command's (128+N if a signal N ended it); 2 when a server
does not start within 10 s, when --postfix has no root (not root, no sudo -n),
or on a usage error. All servers are stopped (SIGTERM, then SIGKILL after 5 s)
and temporary files removed on every path: normal exit, test crash,
SIGTERM/SIGINT/SIGHUP to this process. The servers and the test also get a
parent-death SIGKILL (postfix_server.py: SIGTERM, and the end of its stdin,
so that it can stop Postfix), so not even a SIGKILL of this process (a CTest
timeout) leaves them behind; the temporary directory such a runner leaves is
removed by the next run.
"""

import argparse
import ctypes
import os
import pwd
import re
import selectors
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"
SERVER_PY = os.path.join(HERE, "smtp_server.py")
MAKE_CERTS = os.path.join(HERE, "make_certs.sh")
SYSTEM_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
SMTP_SINK = "/usr/sbin/smtp-sink"
POSTCONF = "/usr/sbin/postconf"
POSTFIX_PY = os.path.join(HERE, "postfix_server.py")
BANNER_PY = os.path.join(HERE, "banner_server.py")
HTTPS_PY = os.path.join(HERE, "https_server.py")
DNS_PY = os.path.join(HERE, "dns_server.py")
POSTFIX_DOMAIN = "example.test"
MICROSOCKS = "/usr/bin/microsocks"
TINYPROXY = "/usr/bin/tinyproxy"
START_TIMEOUT = 10.0
STOP_GRACE = 5.0
TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
TEMP_PREFIX = "smtp-servers-"

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid, sig=signal.SIGKILL):
    """preexec_fn: send sig (SIGKILL) to this child when with_servers.py dies
    (runs after any uid change, which would clear the setting)."""
    def preexec():
        _libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl
            os._exit(1)
    return preexec


class Terminated(Exception):
    def __init__(self, signum):
        super().__init__("signal %d" % signum)
        self.signum = signum


class StartError(Exception):
    pass


def log(msg):
    sys.stderr.write("with_servers: %s\n" % msg)
    sys.stderr.flush()


def _proc_start_time(pid):
    """The process's start time in clock ticks since boot (tells a reused pid
    from the original), or None if there is no such process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def make_temp_dir():
    """A fresh temporary directory that names its owner, after removing those
    that runners killed with SIGKILL (which could not clean up) left behind."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        path = os.path.join(base, name)
        if not name.startswith(TEMP_PREFIX):
            continue
        try:
            if os.lstat(path).st_uid != os.geteuid():
                continue
            with open(os.path.join(path, "owner")) as f:
                pid, start = f.read().split()
        except (OSError, ValueError):
            continue  # not ours, or still being created
        if _proc_start_time(int(pid)) != start:
            shutil.rmtree(path, ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix=TEMP_PREFIX)
    with open(os.path.join(tmp, "owner.tmp"), "w") as f:
        f.write("%d %s\n" % (os.getpid(), _proc_start_time(os.getpid())))
    os.replace(os.path.join(tmp, "owner.tmp"), os.path.join(tmp, "owner"))
    return tmp


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def listening_on(pid, port):
    """True when process pid owns a socket listening on HOST:port; None when
    /proc cannot tell (then the caller connects instead)."""
    try:
        inodes = set()
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        want = "0100007F:%04X" % port
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[1] == want and fields[3] == "0A" and fields[9] in inodes:
                    return True
        return False
    except (OSError, StopIteration, IndexError):
        return None


class Server:
    """One server process: smtp_server.py (kind "server"), smtp-sink ("sink"),
    postfix_server.py ("postfix"), banner_server.py ("banner") or Python's
    http.server ("http"), microsocks ("socks") or tinyproxy ("httpproxy").
    "server", "postfix" and "banner" print READY <port>; the others get a free
    port and are ready when they listen on it."""

    def __init__(self, kind, name, args, tmp, certs, keep=False):
        self.kind, self.name, self.args = kind, name, args
        self.env_name = name.upper()
        self.tmp, self.certs, self.keep = tmp, certs, keep
        self.proc = None
        self.port = None
        self.record = None
        self.socket = None
        self.maildir = None
        self.domain = None
        self.anchor = None
        self.reports_ready = kind in ("server", "postfix", "banner", "https", "dns")
        self.buf = b""
        self.attempts = 0
        self.started_at = None
        self.stderr_path = os.path.join(tmp, "%s.stderr" % name)
        self.stdout_path = os.path.join(tmp, "%s.stdout" % name)

    # --- command lines ---------------------------------------------------
    def server_argv(self):
        args = [a.replace("{certs}", self.certs) for a in self.args]
        out, tls, cert, record = [], "none", None, None
        i = 0
        while i < len(args):
            a = args[i]
            opt, eq, val = a.partition("=")
            if opt == "--unix" and not eq:  # the runner picks the path
                self.socket = os.path.join(self.tmp, "%s.sock" % self.name)
                out += ["--unix", self.socket]
                i += 1
                continue
            if opt == "--unix":
                self.socket = os.path.abspath(val)
            if opt == "--client-ca" and not eq and i + 1 < len(args):
                val = args[i + 1]
                i += 1
            if opt == "--client-ca":
                if "/" not in val and not val.endswith(".pem"):  # a bare name
                    val = os.path.join(self.certs, val + ".pem")
                out += ["--client-ca", val]
                i += 1
                continue
            if opt in ("--tls", "--cert", "--record") and not eq and i + 1 < len(args):
                val = args[i + 1]
                i += 1
            if opt == "--tls":
                tls = val
            if opt == "--cert":
                if "/" not in val and not val.endswith(".pem"):  # a bare name
                    out += ["--cert", os.path.join(self.certs, val + ".pem"),
                            "--key", os.path.join(self.certs, val + ".key")]
                    cert = val
                    i += 1
                    continue
                cert = val
            if opt == "--record":
                record = val
            out += [opt, val] if opt in ("--tls", "--cert", "--record") else [a]
            i += 1
        if tls in ("starttls", "implicit") and cert is None:
            out += ["--cert", os.path.join(self.certs, "server.pem"),
                    "--key", os.path.join(self.certs, "server.key")]
        if record is None:
            record = os.path.join(self.tmp, "record-%s" % self.name)
            os.mkdir(record)
            out += ["--record", record]
        self.record = os.path.abspath(record)
        return [SYSTEM_PYTHON, SERVER_PY, "--host", HOST, "--port", "0"] + out

    def dns_argv(self):
        args = [a.replace("{certs}", self.certs) for a in self.args]
        d = os.path.join(self.tmp, "dns-%s" % self.name)
        self.anchor = os.path.join(d, "anchor.ds")
        return [SYSTEM_PYTHON, DNS_PY, "--host", HOST, "--port", "0", "--dir", d,
                "--certs", self.certs] + args

    def sink_argv(self):
        self.port = free_port()
        return [SMTP_SINK] + self.args + ["%s:%d" % (HOST, self.port), "16"]

    def banner_argv(self):
        return [SYSTEM_PYTHON, BANNER_PY, "--host", HOST, "--port", "0"] + self.args

    def http_argv(self):
        self.port = free_port()
        root = os.path.join(self.tmp, "http-%s" % self.name)  # empty: nothing to serve
        os.makedirs(root, exist_ok=True)
        return [SYSTEM_PYTHON, "-m", "http.server", "--bind", HOST, "--directory", root,
                str(self.port)]

    def https_argv(self):
        args = [a.replace("{certs}", self.certs) for a in self.args]
        cert = os.path.join(self.certs, "mtasts.pem")
        out = []
        i = 0
        while i < len(args):
            opt, eq, val = args[i].partition("=")
            if opt == "--cert":
                if not eq and i + 1 < len(args):
                    val = args[i + 1]
                    i += 1
                cert = val if "/" in val or val.endswith(".pem") else os.path.join(self.certs, val + ".pem")
            else:
                out.append(args[i])
            i += 1
        self.record = os.path.join(self.tmp, "record-%s" % self.name)
        os.mkdir(self.record)
        return [SYSTEM_PYTHON, HTTPS_PY, "--host", HOST, "--port", "0", "--cert", cert,
                "--record", self.record] + out

    def socks_argv(self):
        self.port = free_port()
        return [MICROSOCKS, "-i", HOST, "-p", str(self.port)] + self.args

    def httpproxy_argv(self):
        """tinyproxy in the foreground with a configuration written here:
        loopback only, its log in the temporary directory."""
        p = argparse.ArgumentParser(prog="--httpproxy")
        p.add_argument("--user")
        p.add_argument("--password")
        p.add_argument("--connect-port", type=int, action="append", default=[])
        try:
            a = p.parse_args(self.args)
        except SystemExit:
            raise StartError("--httpproxy %s: bad arguments %s" % (self.name, shlex.join(self.args)))
        self.port = free_port()
        conf = os.path.join(self.tmp, "tinyproxy-%s.conf" % self.name)
        lines = ["Port %d" % self.port, "Listen %s" % HOST, "Timeout 60", "MaxClients 32",
                 "Allow %s" % HOST, "LogLevel Info",
                 'LogFile "%s"' % os.path.join(self.tmp, "tinyproxy-%s.log" % self.name)]
        if a.user is not None:
            lines.append("BasicAuth %s %s" % (a.user, a.password or ""))
        lines += ["ConnectPort %d" % n for n in a.connect_port]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        return [TINYPROXY, "-d", "-c", conf]

    def postfix_argv(self):
        args = [a.replace("{certs}", self.certs) for a in self.args]
        self.domain = POSTFIX_DOMAIN
        for i, a in enumerate(args):
            if a == "--domain" and i + 1 < len(args):
                self.domain = args[i + 1]
            elif a.startswith("--domain="):
                self.domain = a.split("=", 1)[1]
        instance = os.path.join(self.tmp, "postfix-%s" % self.name)  # made by postfix_server.py
        self.maildir = os.path.join(instance, "maildir")
        argv = [SYSTEM_PYTHON, POSTFIX_PY, "--dir", instance, "--certs", self.certs]
        if os.geteuid() != 0:  # the maildirs belong to the user who reads them
            argv = ["sudo", "-n"] + argv + ["--owner", "%d:%d" % (os.getuid(), os.getgid())]
        if self.keep:
            argv.append("--keep")
        return argv + args

    # --- life cycle --------------------------------------------------------
    def start(self):
        self.attempts += 1
        self.buf = b""
        argv = {"server": self.server_argv, "sink": self.sink_argv,
                "postfix": self.postfix_argv, "banner": self.banner_argv,
                "http": self.http_argv, "socks": self.socks_argv,
                "httpproxy": self.httpproxy_argv, "https": self.https_argv,
                "dns": self.dns_argv}[self.kind]()
        self.argv = argv
        kw = {}
        if self.kind == "sink" and os.geteuid() == 0:
            # smtp-sink refuses to run as root without -u; "-u nobody" would make
            # it drop privileges itself, which clears the parent-death signal.
            # So drop them before exec instead.
            nobody = pwd.getpwnam("nobody")
            kw = dict(user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[])
        with open(self.stderr_path, "ab") as err:
            # postfix_server.py must outlive this process to stop Postfix (whose
            # master(8) keeps no parent-death signal): it gets SIGTERM rather
            # than SIGKILL, and stops when its stdin, a pipe whose only writer
            # is this process, reaches end of file (this covers sudo, whose
            # set-uid clears the parent-death signal).
            postfix = self.kind == "postfix"
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if postfix else subprocess.DEVNULL,
                stdout=subprocess.PIPE if self.reports_ready else subprocess.DEVNULL,
                stderr=err, start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid(),
                                            signal.SIGTERM if postfix else signal.SIGKILL),
                **kw)
        self.started_at = time.monotonic()
        if self.proc.stdout is not None:
            os.set_blocking(self.proc.stdout.fileno(), False)

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def fail(self, why):
        text = self.stderr_text().rstrip()
        raise StartError("server %r (%s) %s\n  command: %s\n  stderr:%s" % (
            self.name, self.kind, why, shlex.join(self.argv),
            ("\n" + "\n".join("    " + l for l in text.splitlines())) if text else " (empty)"))

    def read_stdout(self):
        """Reads what the server printed; returns False at end of file."""
        try:
            chunk = os.read(self.proc.stdout.fileno(), 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        if self.port is None:
            self.buf += chunk
            if b"\n" in self.buf:
                line, _, rest = self.buf.partition(b"\n")
                m = re.fullmatch(rb"READY (\d+)", line.strip())
                if not m:
                    self.fail("printed %r instead of READY <port>" % line)
                self.port = int(m.group(1))
                self.buf = b""
                if rest:
                    self.forward(rest)
        else:
            self.forward(chunk)
        return True

    def forward(self, data):
        with open(self.stdout_path, "ab") as f:
            f.write(data)
        for line in data.decode("utf-8", "replace").splitlines():
            sys.stdout.write("[%s] %s\n" % (self.name, line))
        sys.stdout.flush()

    def listening(self):
        """For kinds that get their port (sink, http, the proxies): listening on it yet?
        None when the process has exited."""
        if self.proc.poll() is not None:
            return None
        ok = listening_on(self.proc.pid, self.port)
        if ok is None:  # no /proc: connect
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return True
            except OSError:
                return False
        return ok

    def stop(self):
        """SIGTERM to the server's process group (it leads its own session);
        postfix_server.py also stops at the end of its stdin."""
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):  # PermissionError: root under sudo
                pass

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            except PermissionError:  # sudo: it stops by itself (end of stdin)
                try:
                    self.proc.wait(STOP_GRACE)
                except subprocess.TimeoutExpired:
                    log("server %r (under sudo) is still running" % self.name)
                    return
            self.proc.wait()


def check_postfix_possible(tmp):
    """--postfix needs Postfix, and root for its master(8): here or by sudo -n."""
    if not os.path.exists(POSTCONF):
        raise StartError("--postfix: %s not found; install the package postfix (./run deps)"
                         % POSTCONF)
    if os.geteuid() != 0:
        try:
            ok = subprocess.run(["sudo", "-n", "true"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if not ok:
            raise StartError("--postfix: Postfix's master(8) must run as root; run the tests as "
                             "root, or allow this user password-less sudo (sudo -n) for %s %s"
                             % (SYSTEM_PYTHON, POSTFIX_PY))
    # Postfix's daemons (user postfix) and virtual(8) (the maildirs' owner)
    # reach the instance through the temporary directory and its parents.
    os.chmod(tmp, 0o711)
    d = os.path.dirname(tmp)
    while True:
        if not os.stat(d).st_mode & stat.S_IXOTH:
            raise StartError("--postfix: Postfix's daemons cannot reach %s: %s is not searchable "
                             "by other users (chmod o+x, or another TMPDIR)" % (tmp, d))
        if d == os.path.dirname(d):
            break
        d = os.path.dirname(d)


def start_all(servers):
    """Starts every server at once and waits until each listens (10 s each)."""
    sel = selectors.DefaultSelector()
    for s in servers:
        s.start()
        if s.reports_ready:
            sel.register(s.proc.stdout, selectors.EVENT_READ, s)
    pending = list(servers)
    while pending:
        now = time.monotonic()
        for s in list(pending):
            if s.kind in ("sink", "http", "socks", "httpproxy"):
                ready = s.listening()
                if ready:
                    pending.remove(s)
                    continue
                if ready is None:  # exited: bind race with another process? retry
                    err = s.stderr_text().lower()
                    if s.attempts < 3 and ("bind" in err or "address already in use" in err):
                        s.start()
                        continue
                    s.fail("exited with status %s before listening" % s.proc.returncode)
            if now - s.started_at > START_TIMEOUT:
                s.fail("did not start within %g s" % START_TIMEOUT)
        if not pending:
            break
        sinks = any(s.kind in ("sink", "http", "socks", "httpproxy") for s in pending)
        deadline = min(s.started_at for s in pending) + START_TIMEOUT
        timeout = 0.005 if sinks else max(0.0, deadline - time.monotonic())
        for key, _ in sel.select(timeout):
            s = key.data
            if not s.read_stdout():
                sel.unregister(s.proc.stdout)
                if s.port is None:
                    s.proc.wait()
                    s.fail("exited with status %s before READY" % s.proc.returncode)
            elif s.port is not None and s in pending:
                pending.remove(s)
    sel.close()


def run_test(cmd, env, servers, timeout):
    """Runs the test command, forwarding server output meanwhile; returns its
    exit status."""
    try:
        test = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent(os.getpid()))
    except OSError as e:
        log("cannot run the test command %s: %s" % (shlex.join(cmd), e))
        return 127
    try:
        sel = selectors.DefaultSelector()
        for s in servers:
            if s.reports_ready and s.proc.poll() is None:
                sel.register(s.proc.stdout, selectors.EVENT_READ, s)
        try:
            pidfd = os.pidfd_open(test.pid)
            sel.register(pidfd, selectors.EVENT_READ, None)
        except (AttributeError, OSError):
            pidfd = None
        deadline = time.monotonic() + timeout if timeout else None
        while test.poll() is None:
            wait = 0.05 if pidfd is None else None
            if deadline is not None:
                left = max(0.0, deadline - time.monotonic())
                wait = left if wait is None else min(wait, left)
                if left == 0.0:
                    log("test command timed out after %g s; killing it" % timeout)
                    terminate(test)
                    return 124
            for key, _ in sel.select(wait):
                if key.data is not None and not key.data.read_stdout():
                    sel.unregister(key.fileobj)
        for key in list(sel.get_map().values()):  # what is left in the pipes
            if key.data is not None:
                while key.data.read_stdout() and _more(key.fileobj):
                    pass
        sel.close()
        if pidfd is not None:
            os.close(pidfd)
        rc = test.returncode
        return 128 - rc if rc < 0 else rc
    finally:
        terminate(test)


def _more(f):
    sel = selectors.DefaultSelector()
    sel.register(f, selectors.EVENT_READ)
    try:
        return bool(sel.select(0))
    finally:
        sel.close()


def terminate(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_all(servers):
    for s in servers:
        s.stop()
    deadline = time.monotonic() + STOP_GRACE
    for s in servers:
        if s.proc is None:
            continue
        try:
            s.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log("server %r did not stop on SIGTERM within %g s; killing it" % (s.name, STOP_GRACE))
        s.kill()
        if s.proc.stdout is not None:
            s.proc.stdout.close()


def parse_spec(spec, kind, seen):
    name, _, args = spec.partition(":")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        log("bad server name %r in %s %r (letters, digits, _)" % (name, "--" + kind, spec))
        raise SystemExit(2)
    if name.upper() in seen:
        log("server name %r used twice" % name)
        raise SystemExit(2)
    seen.add(name.upper())
    return kind, name, shlex.split(args)


def parse_args(argv):
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        raise SystemExit(2)
    i = argv.index("--")
    own, cmd = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(prog="with_servers.py", usage=__doc__.split("\n\n")[1])
    p.add_argument("--server", action="append", default=[])
    p.add_argument("--sink", action="append", default=[])
    p.add_argument("--postfix", action="append", default=[])
    p.add_argument("--banner", action="append", default=[])
    p.add_argument("--http", action="append", default=[])
    p.add_argument("--socks", action="append", default=[])
    p.add_argument("--httpproxy", action="append", default=[])
    p.add_argument("--https", action="append", default=[])
    p.add_argument("--dns", action="append", default=[])
    p.add_argument("--certs")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--timeout", type=float)
    args = p.parse_args(own)
    if not cmd:
        p.error("no test command after --")
    seen = set()
    # Keep the order of the command line: servers and sinks interleaved.
    specs, it = [], iter(own)
    for a in it:
        for kind in ("server", "sink", "postfix", "banner", "http", "socks", "httpproxy", "https",
                     "dns"):
            if a == "--" + kind:
                specs.append(parse_spec(next(it), kind, seen))
            elif a.startswith("--%s=" % kind):
                specs.append(parse_spec(a.split("=", 1)[1], kind, seen))
    return args, specs, cmd


def main(argv):
    args, specs, cmd = parse_args(argv)

    def on_signal(signum, frame):
        for sig in TERMINATING_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Terminated(signum)

    for sig in TERMINATING_SIGNALS:
        signal.signal(sig, on_signal)

    servers = []
    tmp = None
    rc = 2
    try:
        tmp = make_temp_dir()
        certs = os.path.abspath(args.certs) if args.certs else os.path.join(tmp, "certs")
        made = subprocess.run(["bash", MAKE_CERTS, certs], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
        if made.returncode != 0:
            log("make_certs.sh %s failed:\n%s" % (certs, made.stdout.decode("utf-8", "replace")))
            return 2
        mxport = free_port()
        servers = [Server(kind, name, [a.replace("{mxport}", str(mxport)) for a in sargs], tmp, certs,
                          args.keep)
                   for kind, name, sargs in specs]
        try:
            if any(s.kind == "postfix" for s in servers):
                check_postfix_possible(tmp)
            start_all(servers)
        except StartError as e:
            log(str(e))
            return 2
        env = dict(os.environ)
        env["SMTP_TEST_HOST"] = HOST
        env["SMTP_TEST_CERTS"] = certs
        env["SMTP_TEST_MXPORT"] = str(mxport)
        for s in servers:
            env["SMTP_TEST_%s_PORT" % s.env_name] = str(s.port)
            if s.record:
                env["SMTP_TEST_%s_RECORD" % s.env_name] = s.record
            if s.socket:
                env["SMTP_TEST_%s_SOCKET" % s.env_name] = s.socket
            if s.maildir:
                env["SMTP_TEST_%s_MAILDIR" % s.env_name] = s.maildir
                env["SMTP_TEST_%s_DOMAIN" % s.env_name] = s.domain
            if s.anchor:
                env["SMTP_TEST_%s_ANCHOR" % s.env_name] = s.anchor
                env["SMTP_TEST_%s_WRONG_ANCHOR" % s.env_name] = os.path.join(
                    os.path.dirname(s.anchor), "wrong-anchor.ds")
        rc = run_test(cmd, env, servers, args.timeout)
        for s in servers:
            if s.proc.poll() is not None:
                log("warning: server %r exited during the test with status %s"
                    % (s.name, s.proc.returncode))
        if rc != 0:
            for s in servers:
                text = s.stderr_text().rstrip()
                if text:
                    log("stderr of server %r:\n%s" % (s.name, text))
        return rc
    except Terminated as e:
        log("stopped by signal %d" % e.signum)
        rc = 128 + e.signum
        return rc
    finally:
        # No signal may interrupt the clean-up.
        signal.pthread_sigmask(signal.SIG_BLOCK, TERMINATING_SIGNALS)
        stop_all(servers)
        if tmp is not None:
            if args.keep:
                os.unlink(os.path.join(tmp, "owner"))  # never removed as stale
                log("kept %s" % tmp)
            else:
                shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
