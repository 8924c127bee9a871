#!/usr/bin/python3
"""A private Postfix MTA on a loopback port that delivers into maildirs.

    postfix_server.py --dir DIR [--port 0] [--domain example.test]
                      [--owner UID:GID] [--certs DIR [--starttls] [--cert NAME]]
                      [-o NAME=VALUE]... [--keep]

Runs as root (Postfix's master(8) must). It creates DIR (which must not exist)
and under it:
    etc/      main.cf, master.cf (the instance's whole configuration)
    spool/    queue_directory; also mailbox.sock and mailboxes (see below)
    data/     data_directory
    maildir/  virtual_mailbox_base: mail for <local>@DOMAIN is delivered by
              virtual(8) into maildir/<local>/new/, owned by --owner
              (default nobody); <local> is case-folded, as Postfix looks it up
then runs master(8) in the foreground with "-c DIR/etc". The only listener is
smtpd(8) on 127.0.0.1:PORT (--host: another loopback address; 0 = a free port, another one if some program takes
it before master binds it). Other domains are refused at RCPT (554 5.7.1 Relay
access denied); nothing ever leaves the host (all other transports are
error:). Postfix's log goes to this program's stderr.

Any local part of DOMAIN has a maildir, which Postfix's tables cannot say:
virtual(8) refuses computed lookups ($1 in a regexp result, socketmap) for the
maildir path. So smtpd(8) looks recipients (and, with reject_unlisted_sender,
senders) up in a socketmap(5) table that this program serves on
spool/mailbox.sock; each address it accepts there is added to spool/mailboxes,
the texthash table virtual(8) reads (every virtual(8) process serves one
delivery, so it always has the current table). Refused as unknown (550 5.1.1
for a recipient, 550 5.1.0 at RCPT for a sender): local parts that are empty,
start with "." or "#", are over 200 bytes, or have "/", "\\", '"', white
space or control characters in them. postmaster@DOMAIN is always there
(Postfix's notices go to it).

It prints "READY <port>" on stdout once smtpd answers a connection with 220,
and on SIGTERM, SIGINT or SIGHUP, or when stdin (a pipe) reaches end of file,
stops Postfix (SIGTERM to master as "postfix stop" does, SIGKILL to whatever
is left of the instance after 3 s), removes DIR (unless --keep) and exits 0.
with_servers.py holds stdin's other end, so its exit, however it happens,
stops the instance even when it cannot signal this process (root under sudo).
Should this process be killed, a watchdog it forks at start (see
start_watchdog) kills the instance and removes DIR.

--starttls offers STARTTLS with --certs DIR's server.pem/server.key (--cert
NAME: NAME.pem/NAME.key). -o NAME=VALUE sets or overrides a main.cf parameter.
"""

import argparse
import grp
import os
import pwd
import re
import selectors
import shutil
import signal
import socket
import socketserver
import stat
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"
POSTCONF = "/usr/sbin/postconf"
# Relative to queue_directory, the working directory of Postfix's daemons (and
# of this program): the length of DIR does not matter for the socket's name.
MAP_SOCKET = "mailbox.sock"
MAP_FILE = "mailboxes"
START_TIMEOUT = 9.0  # with_servers.py gives up after 10 s
STOP_GRACE = 3.0  # with_servers.py's is 5 s
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Stop(Exception):
    pass


class StartFailed(Exception):
    pass


def log(msg):
    sys.stderr.write("postfix_server: %s\n" % msg)
    sys.stderr.flush()


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", required=True, help="the instance directory (created)")
    p.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    p.add_argument("--host", default=HOST,
                   help="the loopback address to listen on (an MX host of a delivery test bed: 127.0.0.N)")
    p.add_argument("--domain", default="example.test", help="the domain delivered locally")
    p.add_argument("--owner", help="UID:GID owning the maildirs (default: nobody)")
    p.add_argument("--certs", help="the make_certs.sh directory (for --starttls)")
    p.add_argument("--starttls", action="store_true", help="offer STARTTLS")
    p.add_argument("--cert", default="server", help="certificate name in --certs")
    p.add_argument("-o", dest="params", action="append", default=[], metavar="NAME=VALUE",
                   help="set a main.cf parameter (repeatable)")
    p.add_argument("--keep", action="store_true", help="do not remove --dir at exit")
    args = p.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", args.domain):
        p.error("bad --domain %r" % args.domain)
    for kv in args.params:
        if not re.fullmatch(r"[a-z0-9_]+=[^\n]*", kv):
            p.error("-o wants NAME=VALUE on one line, got %r" % kv)
    if args.starttls and not args.certs:
        p.error("--starttls needs --certs")
    if re.search(r"[\s,]", os.path.abspath(args.dir)):
        p.error("--dir %r: no white space or commas (Postfix's lists)" % args.dir)
    return args


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_taken(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
            return False
        except OSError:
            return True


def daemon_directory():
    try:
        out = subprocess.run([POSTCONF, "-d", "-h", "daemon_directory"], capture_output=True,
                             text=True, check=True).stdout.strip()
        return out or "/usr/lib/postfix/sbin"
    except (OSError, subprocess.CalledProcessError):
        return "/usr/lib/postfix/sbin"


class Instance:
    def __init__(self, args):
        self.args = args
        self.dir = os.path.abspath(args.dir)
        self.etc = os.path.join(self.dir, "etc")
        self.spool = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "data")
        self.maildir = os.path.join(self.dir, "maildir")
        self.master = None
        self.port = None
        self.map = None
        self.created = False
        if args.owner:
            uid, _, gid = args.owner.partition(":")
            self.uid, self.gid = int(uid), int(gid or uid)
        else:
            nobody = pwd.getpwnam("nobody")
            self.uid, self.gid = nobody.pw_uid, nobody.pw_gid
        if self.uid == 0:
            raise StartFailed("virtual(8) does not deliver as root: --owner must not be uid 0")
        try:
            self.postfix_uid = pwd.getpwnam("postfix").pw_uid
            self.postfix_gid = pwd.getpwnam("postfix").pw_gid
            self.postdrop_gid = grp.getgrnam("postdrop").gr_gid
        except KeyError as e:
            raise StartFailed("no Postfix user or group %s: is postfix installed?" % e)

    # --- the files ---------------------------------------------------------
    def make_dirs(self):
        os.mkdir(self.dir)
        self.created = True
        os.chmod(self.dir, 0o755)
        for d in (self.etc, self.spool):
            self._mkdir(d, 0o755, 0, 0)
        # The queue as "postfix set-permissions" makes it.
        for name in ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold",
                     "incoming", "private", "saved", "trace"):
            self._mkdir(os.path.join(self.spool, name), 0o700, self.postfix_uid, 0)
        self._mkdir(os.path.join(self.spool, "maildrop"), 0o1730, self.postfix_uid,
                    self.postdrop_gid)
        self._mkdir(os.path.join(self.spool, "public"), 0o2710, self.postfix_uid, self.postdrop_gid)
        self._mkdir(os.path.join(self.spool, "pid"), 0o755, 0, 0)
        self._mkdir(self.data, 0o700, self.postfix_uid, self.postfix_gid)
        self._mkdir(self.maildir, 0o755, self.uid, self.gid)

    @staticmethod
    def _mkdir(path, mode, uid, gid):
        os.mkdir(path)
        os.chown(path, uid, gid)
        os.chmod(path, mode)

    def main_cf(self):
        a = self.args
        domain = a.domain
        nowhere = "error:5.7.1 this test MTA delivers to %s only" % domain
        p = {
            "compatibility_level": "3.6",
            "queue_directory": self.spool,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            # The log: master's stdout (master -s), which is our stderr.
            "maillog_file": "/dev/stdout",
            "myhostname": "mta." + domain,
            "mydomain": domain,
            "myorigin": domain,
            "mydestination": "",
            # An interface Postfix finds (127.0.0.N with --host is no
            # interface of its own); master.cf binds HOST:PORT itself.
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": "",
            "relayhost": "",
            "default_transport": nowhere,
            "relay_transport": nowhere,
            "local_transport": "error:5.1.1 local delivery is disabled",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "append_dot_mydomain": "no",
            "recipient_delimiter": "",
            "smtpd_banner": "$myhostname ESMTP $mail_name",
            "smtpd_peername_lookup": "no",
            # Store what the client sent: no From:, Date:, Message-ID: added
            # for it (only Received:, as any MTA).
            "local_header_rewrite_clients": "",
            # RCPT: the test domain only; not even 127.0.0.1 may relay.
            "smtpd_relay_restrictions": "reject_unauth_destination",
            "smtpd_recipient_restrictions": "",
            # A sender in the domain must have a maildir (for its DSNs).
            "smtpd_reject_unlisted_sender": "yes",
            "message_size_limit": "10485760",
            "smtputf8_enable": "yes",
            "virtual_mailbox_domains": domain,
            "virtual_mailbox_base": self.maildir,
            # smtpd(8) asks this program; virtual(8) reads MAP_FILE (master.cf).
            "virtual_mailbox_maps": "socketmap:unix:%s:mailbox" % MAP_SOCKET,
            "virtual_uid_maps": "static:%d" % self.uid,
            "virtual_gid_maps": "static:%d" % self.gid,
            "virtual_minimum_uid": str(min(self.uid, 100)),
            "virtual_transport": "virtual",
            # Nothing waits minutes: retries within seconds, no throttling.
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "in_flow_delay": "0",
            "delay_warning_time": "0",
            "smtpd_error_sleep_time": "0",
            "smtpd_soft_error_limit": "1000",
            "smtpd_hard_error_limit": "1000",
            "smtpd_client_connection_count_limit": "0",
            "smtpd_client_connection_rate_limit": "0",
        }
        if a.starttls:
            certs = os.path.abspath(a.certs)
            p.update({
                "smtpd_tls_security_level": "may",
                "smtpd_tls_cert_file": os.path.join(certs, a.cert + ".pem"),
                "smtpd_tls_key_file": os.path.join(certs, a.cert + ".key"),
            })
        for kv in a.params:
            name, _, value = kv.partition("=")
            p[name] = value
        return "".join("%s = %s\n" % (k, v) for k, v in p.items())

    def master_cf(self):
        # No pickup, no smtp client, no port but one: the services that
        # receiving, queueing, delivering and notifying need.
        # service type private unpriv chroot wakeup maxproc command
        rows = [
            ("%s:%d" % (HOST, self.port), "inet", "n", "-", "n", "-", "-", "smtpd"),
            ("cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"),
            ("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"),
            ("rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"),
            ("bounce", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("defer", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("trace", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("verify", "unix", "-", "-", "n", "-", "1", "verify"),
            ("flush", "unix", "n", "-", "n", "1000?", "0", "flush"),
            ("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"),
            ("anvil", "unix", "-", "-", "n", "-", "1", "anvil"),
            ("error", "unix", "-", "-", "n", "-", "-", "error"),
            ("retry", "unix", "-", "-", "n", "-", "-", "error"),
            ("discard", "unix", "-", "-", "n", "-", "-", "discard"),
            # max_use=1: each process opens MAP_FILE anew for its one delivery.
            ("virtual", "unix", "-", "n", "n", "-", "-",
             "virtual -o max_use=1 -o virtual_mailbox_maps=texthash:%s/%s"
             % (self.spool, MAP_FILE)),
            ("showq", "unix", "n", "-", "n", "-", "-", "showq"),
            ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
        ]
        if self.args.starttls:
            rows.append(("tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr"))
        return "".join("%-16s %-10s %-3s %-3s %-3s %-6s %-3s %s\n" % r for r in rows)

    def write_config(self):
        for name, text in (("main.cf", self.main_cf()), ("master.cf", self.master_cf())):
            path = os.path.join(self.etc, name)
            with open(path, "w") as f:
                f.write(text)
            # Postfix re-reads a file changed within the last second every
            # 0.3 s until it is that old ("let it cool down"): 1.5 s lost.
            past = time.time() - 3600
            os.utime(path, (past, past))

    # --- life cycle --------------------------------------------------------
    def start(self, stdin_sel):
        os.chdir(self.spool)  # MAP_SOCKET is relative to it
        self.map = MailboxMap(MAP_SOCKET, MAP_FILE, self.args.domain)
        threading.Thread(target=self.map.serve_forever, args=(0.05,), daemon=True).start()
        master = os.path.join(daemon_directory(), "master")
        for attempt in range(3):
            self.port = self.args.port or free_port()
            self.write_config()
            # -s: master keeps its stdout (our stderr), maillog_file's
            # /dev/stdout. master makes itself a session leader: its children
            # share its process group. MAIL_CONFIG marks them all (sweep()).
            # No parent-death signal: master's uid changes would clear it (the
            # watchdog covers our death).
            self.master = subprocess.Popen(
                [master, "-s", "-c", self.etc], stdin=subprocess.DEVNULL,
                stdout=sys.stderr.fileno(), stderr=sys.stderr.fileno(),
                env={"MAIL_CONFIG": self.etc, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
            if self.wait_ready(stdin_sel):
                return
            self.sweep()
            if port_taken(self.port):
                if self.args.port or attempt == 2:
                    raise StartFailed("master(8) exited: %s:%d is taken" % (HOST, self.port))
                log("port %d was taken before master bound it; trying another" % self.port)
                continue
            raise StartFailed("master(8) exited with status %s\n%s"
                              % (self.master.returncode, self.diagnose()))

    def diagnose(self):
        """Why master(8) failed, if the configuration says: master logs its
        start-up errors to syslog only; postfix(1) checks main.cf too and
        writes to a terminal."""
        main, sub = os.openpty()
        try:
            subprocess.run(["/usr/sbin/postfix", "-c", self.etc, "status"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=sub,
                           env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        os.close(sub)
        out = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: no writer left
                break
            if not chunk:
                break
            out += chunk
        os.close(main)
        text = "\n".join(line for line in out.decode("utf-8", "replace").splitlines()
                         if "is not running" not in line).strip()
        return text or ("postfix(1) finds main.cf fine; master(8) logged why it stopped to "
                        "syslog, if there is one")

    def wait_ready(self, stdin_sel):
        """True once smtpd greets with 220; False when master exited."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            check_stdin(stdin_sel, 0)
            if self.master.poll() is not None:
                return False
            try:
                with socket.create_connection((HOST, self.port), timeout=2) as s:
                    f = s.makefile("rb")
                    line = f.readline()
                    while line.startswith(b"220-"):
                        line = f.readline()
                    if not line.startswith(b"220 "):
                        raise StartFailed("smtpd greeted with %r" % line)
                    s.sendall(b"QUIT\r\n")
                    f.readline()
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        raise StartFailed("Postfix did not answer on %s:%d within %g s"
                          % (HOST, self.port, START_TIMEOUT))

    def stop(self):
        """What "postfix stop" does (SIGTERM to master, which stops its
        children), then SIGKILL to anything of this instance still alive."""
        m = self.master
        if m is not None and m.poll() is None:
            m.send_signal(signal.SIGTERM)
            try:
                m.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                log("master did not stop within %g s; killing the instance" % STOP_GRACE)
                try:
                    os.killpg(m.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                m.kill()
                m.wait()
        self.sweep()
        if self.map is not None:
            self.map.shutdown()
            self.map.server_close()

    def sweep(self):
        sweep(self.etc)

    def remove(self):
        if self.created and not self.args.keep:
            os.chdir("/")
            shutil.rmtree(self.dir, ignore_errors=True)


def sweep(etc):
    """SIGKILL to every process of the instance: master(8) and its children
    have MAIL_CONFIG=<its etc> in their environment."""
    mark = b"\0MAIL_CONFIG=" + os.fsencode(etc) + b"\0"
    for _ in range(50):
        found = False
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open("/proc/%s/environ" % pid, "rb") as f:
                    env = b"\0" + f.read() + b"\0"
            except OSError:
                continue
            if mark in env:
                found = True
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if not found:
            return
        time.sleep(0.02)
    log("warning: processes of the instance survived SIGKILL")


def start_watchdog(inst):
    """A process of its own session that outlives this one and then kills
    what is left of the instance and removes it: master(8) changes its
    effective uid now and then, which clears a parent-death signal, so were
    this process killed (SIGKILL), nothing else would stop Postfix."""
    r, w = os.pipe()
    if os.fork() != 0:
        os.close(r)
        return w  # kept open, never written: end of file when we are gone
    try:
        os.setsid()  # not in our process group, which may get SIGKILL
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)  # not the runner's READY pipe
        os.closerange(3, r)
        os.closerange(r + 1, 1 << 16)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        while os.read(r, 1):
            pass
        sweep(inst.etc)
        inst.remove()
    finally:
        os._exit(0)


class MailboxMap(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """smtpd(8)'s virtual_mailbox_maps, a socketmap(5) server: the key
    <local>@DOMAIN has the value "<local>/" (a maildir under
    virtual_mailbox_base), unless <local> cannot be a texthash key and a
    directory name of its own; every other key is NOTFOUND. Each address
    found is added to the texthash file that virtual(8) reads, before the
    answer goes out."""

    daemon_threads = True
    BAD_LOCAL = re.compile(r'^[.#]|[/\\"\s\x00-\x1f\x7f]')

    def __init__(self, path, table, domain):
        self.domain = domain.lower()
        self.table = table
        self.known = {}
        self.lock = threading.Lock()
        super().__init__(path, _MapHandler)
        os.chmod(path, 0o666)  # smtpd(8) runs as postfix
        self.lookup("postmaster@" + self.domain)  # Postfix's own notices go there

    def lookup(self, key):
        local, at, domain = key.rpartition("@")
        if not at or domain.lower() != self.domain:
            return None
        if not local or self.BAD_LOCAL.search(local) or len(local.encode()) > 200:
            return None
        value = local + "/"
        with self.lock:
            if key not in self.known:
                self.known[key] = value
                tmp = self.table + ".tmp"
                with open(tmp, "w", encoding="utf-8") as f:
                    f.writelines("%s\t%s\n" % kv for kv in self.known.items())
                os.chmod(tmp, 0o644)
                # An hour old: Postfix waits for a table file changed within
                # the last second to "cool down" (up to 2 s).
                past = time.time() - 3600
                os.utime(tmp, (past, past))
                os.replace(tmp, self.table)
        return value


class _MapHandler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            request = _read_netstring(self.rfile)
            if request is None:
                return
            name, _, key = request.decode("utf-8", "surrogateescape").partition(" ")
            try:
                value = self.server.lookup(key) if name == "mailbox" else None
                reply = ("OK " + value) if value is not None else "NOTFOUND "
            except (OSError, UnicodeError) as e:
                reply = "TEMP %s" % e
            data = reply.encode("utf-8", "surrogateescape")
            self.wfile.write(b"%d:%s," % (len(data), data))
            self.wfile.flush()


def _read_netstring(f):
    size = b""
    while True:
        c = f.read(1)
        if not c:
            return None
        if c == b":":
            break
        if not c.isdigit() or len(size) > 6:
            return None
        size += c
    data = f.read(int(size))
    if len(data) != int(size) or f.read(1) != b",":
        return None
    return data


def check_stdin(sel, timeout):
    """Raises Stop when stdin reached end of file (the runner is gone)."""
    for key, _ in sel.select(timeout):
        try:
            data = os.read(key.fd, 4096)
        except OSError:
            data = b""
        if not data:
            raise Stop()


def main(argv):
    global HOST
    args = parse_args(argv)
    HOST = args.host
    os.umask(0o022)
    if os.geteuid() != 0:
        log("Postfix's master(8) must run as root (with_servers.py uses sudo -n when not root)")
        return 2

    def on_signal(signum, frame):
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Stop()

    for sig in SIGNALS:
        signal.signal(sig, on_signal)
    sel = selectors.DefaultSelector()
    try:
        if stat.S_ISFIFO(os.fstat(0).st_mode):  # not /dev/null, a file or a terminal
            sel.register(0, selectors.EVENT_READ)
    except OSError:
        pass
    inst = None
    try:
        inst = Instance(args)
        inst.make_dirs()
        start_watchdog(inst)  # before any thread exists
        inst.start(sel)
        sys.stdout.write("READY %d\n" % inst.port)
        sys.stdout.flush()
        while True:
            check_stdin(sel, 0.5)
            if inst.master.poll() is not None:
                log("master exited with status %s" % inst.master.returncode)
                return 1
    except Stop:
        return 0
    except (StartFailed, OSError) as e:
        log(str(e))
        return 1
    finally:
        # No signal may interrupt the clean-up (in any thread: not a mask).
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        if inst is not None:
            inst.stop()
            inst.remove()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
