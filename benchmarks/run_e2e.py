#!/usr/bin/python3
"""The end-to-end benchmark: the library against real servers on loopback.

    /usr/bin/python3 benchmarks/run_e2e.py --build build/e2e --out build/bench
        [--rounds 5] [--messages 2000] [--recipients 1,10,50] [--cpu 0]
        [--compile-runs 3] [--parts throughput,tls,pool,compile,rtt] [--quick]
        [--full] [--update-docs]

`./run bench e2e` builds build/e2e (smtp_e2e_bench, smtp_e2e_peers,
smtp_tls_sink, smtp_latency_proxy) and runs this. It writes OUT/e2e.json,
OUT/e2e.png, OUT/e2e-rtt.png and OUT/e2e-cpu.png and nothing outside OUT and BUILD (the
checkout stays clean), prints a table with each target's PASS/FAIL, and exits
0 whatever the figures (a report, not a test); 1 when something could not
run. --update-docs alone copies OUT's plots (e2e.png, e2e-rtt.png, e2e-cpu.png) into docs/:
the explicit step that updates the documentation's figures from a run
(`./run bench e2e --update-docs`).

1. Throughput (part "throughput"). Postfix's smtp-sink on a free loopback
   port, started here; it and every client pinned to the same CPU
   (taskset -c CPU). For each number of recipients R, MESSAGES messages of
   1 KiB over one connection, after one untimed warm-up message (the
   clients that take R+3 round trips a message fewer at R > 1, the slowest
   peers at most 500: e2e_cpu.messages_for), by:
     lib-pipelined  smtp: session.send_all() over all of them (PIPELINING:
                    the end of one message's data travels with the next
                    one's MAIL, RCPTs and DATA: one round trip a message)
     lib-each       smtp: PIPELINING, one sendmail() per message (2 round trips)
     lib-lockstep   smtp: connect_options.transactions.pipelining = false,
                    one sendmail() per message (R+3 round trips)
     smtplib        CPython's smtplib (/usr/bin/python3), sendmail() per message
     poco-nodelay   Poco::Net::SMTPClientSession: sendAddresses, sendData,
                    sendMessage(istream), with TCP_NODELAY (as shipped, Nagle's
                    algorithm holds the final dot for the server's delayed ACK:
                    ~40 ms a message; measured once as "poco", for information)
     curl           libcurl, one easy handle reused, CURLOPT_UPLOAD + read callback
     raw-pipelined, raw-lockstep
                    the floor for this server: the same bytes written by hand on a
                    blocking socket, replies only counted (e2e_bench raw)
     aiosmtplib, nodemailer, libesmtp
                    the peers of benchmarks/e2e_cpu.py (left out, with a note,
                    where their runtime is missing); that module also reports
                    each client's CPU time per message beside the floors
                    (cpu_vs_floor_r1, ...) and checks every client's sent
                    bytes against the library's (a capturing server)
   and the round-trip time of a one-line TCP ping-pong (an echo server pinned
   the same way): the bound of one round trip a message is 1/RTT, of
   lockstep 1/((R+3) RTT). ROUNDS rounds; each round measures every client
   once, in an order rotated from round to round; every ratio is computed
   within a round, and the figure is the median over the rounds (the ratio of
   the pooled medians and the rounds' min..max are shown beside it). The CPU
   time of the client (its timed part) and of smtp-sink (from /proc) per
   message says where the time goes.
2. TLS (part "tls"). A 20 MiB message over STARTTLS (certificate verified
   against a CA made here with openssl, tests/servers/make_certs.sh) to
   smtp_tls_sink (OpenSSL, benchmarks/tls_sink.cpp): the library's sendmail()
   against the same dot-stuffed bytes pushed by an SSL_write loop; per round
   4 messages on one connection each, the first dropped; and the same from a
   file through smtp::message_source (smtp::file_message), when the library
   has it. Peak RSS (VmHWM of the child; ru_maxrss beside it) for 2 MiB and
   20 MiB messages: held in memory, from a file, from a callback source. A
   100 KiB message shows what Nagle's algorithm costs (the library sets
   TCP_NODELAY; the raw loop is run without and with it), with the sink in
   its own session (scheduler autogroup,
   as every server here) and in the clients' session. Then (e2e_tls_resume.py)
   connection set-up CPU with and without TLS session resumption, and the
   heap per open STARTTLS session (tls_session_bytes).
3. Concurrency (part "pool"). smtp::pool sending 20,000 messages through 1, 4,
   16 and 64 sessions to smtp-sink: messages/s and peak RSS. Library-owned
   bytes per idle session: the heap in use (mallinfo2) and the RSS with 1 and
   with 64 sessions open after EHLO, (64 - 1) sessions apart, async sessions
   on one io_context and synchronous ones (each with its own io_context).
4. Compile time (part "compile"). benchmarks/compile/{core,client,asio}_tu.cpp
   and user_tu.cpp (header-only, and in separate mode with
   -DSMTP_SEPARATE_COMPILATION), each compiled COMPILE_RUNS times with
   $CXX_E2E (g++) -std=c++20 -O2, interleaved: median wall and CPU time
   (wait4's rusage of the compiler driver, cc1plus included) and peak memory
   (its ru_maxrss); <smtp/src.hpp> once. With --full (5 runs) or with
   $COMPILE_SECOND_CXX set, the same again with that compiler (clang++
   under --full), reported without targets: it doubled the part's time.
5. Across a round-trip time (part "rtt", benchmarks/e2e_rtt.py): every client
   above through a latency-injecting proxy (benchmarks/latency_proxy.cpp) at
   10 ms RTT, R = 1 and 10; messages per second at 0, 1, 5, 10 and 50 ms
   (OUT/e2e-rtt.png); connection set-up with STARTTLS and AUTH PLAIN in RTTs;
   smtp::pool with 1 to 64 sessions at 10 ms; the proxy's own cost.
"""

import argparse
import ctypes
import json
import os
import platform
import pwd
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import e2e_cpu
import e2e_plot
import e2e_rtt
import e2e_tls_resume

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SMTP_SINK = "/usr/sbin/smtp-sink"
SYSTEM_PYTHON = "/usr/bin/python3"
MAKE_CERTS = os.path.join(ROOT, "tests", "servers", "make_certs.sh")
TRANSACTION_HPP = os.path.join(ROOT, "include", "smtp", "protocol", "transaction.hpp")
HOST = "127.0.0.1"
MIB = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")

CLIENTS = ("lib-pipelined", "lib-each", "lib-lockstep", "smtplib", "poco-nodelay", "curl", "raw-pipelined",
           "raw-lockstep")
CLIENT_LABELS = {
    "lib-pipelined": "smtp send_all (pipelined)",
    "lib-each": "smtp sendmail each (pipelined)",
    "lib-lockstep": "smtp sendmail each (lockstep)",
    "smtplib": "CPython smtplib",
    "poco-nodelay": "Poco SMTPClientSession (TCP_NODELAY)",
    "curl": "libcurl",
    "raw-pipelined": "floor: raw socket, pipelined",
    "raw-lockstep": "floor: raw socket, lockstep",
}
# The peers of issue 16 (aiosmtplib, Nodemailer, libESMTP): benchmarks/e2e_cpu.py.
CLIENTS += tuple(e2e_cpu.PEERS)
CLIENT_LABELS.update({k: v[0] for k, v in e2e_cpu.PEERS.items()})
POOL_SESSIONS = (1, 4, 16, 64)

# name -> (comparison, target); None: reported, no target.
TARGETS = {
    "pipelined_vs_smtplib_r1": (">=", 5.0),
    "pipelined_vs_smtplib_r50": (">=", 30.0),
    "pipelined_vs_lockstep_r1": (">=", 2.5),
    "pipelined_vs_lockstep_r50": (">=", 15.0),
    "pipelined_vs_rtt_bound_r1": (">=", 0.5),
    "lockstep_vs_rtt_bound_r1": (">=", 0.7),
    "pipelined_vs_poco_r1": None,
    "pipelined_vs_curl_r1": None,
    "pipelined_vs_poco_r50": None,
    "pipelined_vs_curl_r50": None,
    "lockstep_vs_rtt_bound_r50": None,
    "pipelined_vs_raw_pipelined_r1": None,
    "pipelined_vs_raw_pipelined_r50": None,
    "lockstep_vs_raw_lockstep_r1": None,
    "lockstep_vs_raw_lockstep_r50": None,
    "raw_pipelined_vs_smtplib_r1": None,
    "raw_pipelined_vs_smtplib_r50": None,
    "each_vs_rtt_bound_r1": None,
    "tls_lib_vs_raw_20mib": (">=", 0.7),
    "tls_lib_vs_raw_nodelay_20mib": None,
    "tls_file_source_vs_raw_20mib": None,
    # Peak RSS with a 20 MiB message less with a 2 MiB one, streamed from a
    # message_source: "does not grow with the message" (within 1 MiB).
    "streaming_peak_rss_growth_kib": ("<=", 1024),
    "idle_session_heap_bytes_async": ("<=", 16384),
    "idle_session_heap_bytes_sync": None,
    "compile_core_vs_asio": ("<", 0.5),
    "compile_client_vs_asio": ("<", 1.5),
    # Issue 14: the user TU (benchmarks/compile/user_tu.cpp), CPU time beside
    # the Asio TU's, and the compiler's peak memory in separate mode.
    "compile_user_header_only_vs_asio": ("<=", 1.5),
    "compile_user_separate_vs_asio": ("<=", 0.5),
    "compile_user_separate_peak_mib": ("<=", 250),
    "compile_user_header_only_peak_mib": None,
}
TARGETS.update(e2e_cpu.TARGETS)
TARGETS.update(e2e_rtt.TARGETS)
TARGETS.update(e2e_tls_resume.TARGETS)
PLOTS = ("e2e.png", "e2e-rtt.png", "e2e-cpu.png")  # OUT's plots; --update-docs copies them into docs/

class BenchError(Exception):
    pass


def log(msg):
    print("==> e2e: %s" % msg, file=sys.stderr, flush=True)


# --- processes -------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_us():
    """preexec_fn: SIGKILL this child when the benchmark dies."""
    parent = os.getpid()  # this script: the child's parent

    def preexec():
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)
    return preexec


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """A server process pinned like the clients; stopped by stop() (SIGTERM,
    then SIGKILL), and by the kernel if this script dies (PDEATHSIG)."""

    def __init__(self, name, argv, workdir, pin, port=None, as_nobody=False, new_session=True):
        self.name, self.port, self.new_session = name, port, new_session
        self.err_path = os.path.join(workdir, "%s.stderr" % name)
        kw = {}
        if as_nobody and os.geteuid() == 0:
            # smtp-sink refuses to run as root without -u, and -u would clear
            # the parent-death signal: drop privileges before exec instead.
            nobody = pwd.getpwnam("nobody")
            kw = dict(user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[])
        self.err = open(self.err_path, "wb")
        # Its own session (so its own scheduler autogroup, like a daemon), unless
        # new_session is False: then it shares this script's, as the clients do.
        self.proc = subprocess.Popen(pin + argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.err, start_new_session=new_session,
                                     preexec_fn=_die_with_us(), **kw)
        deadline = time.monotonic() + 10
        if port is None:  # it prints READY <port>
            line = self.proc.stdout.readline().decode("utf-8", "replace")
            m = re.fullmatch(r"READY (\d+)\s*", line)
            if not m:
                self.stop()
                raise BenchError("%s did not start: %r; stderr: %s" % (name, line, self.stderr()))
            self.port = int(m.group(1))
        else:
            while True:
                if self.proc.poll() is not None:
                    raise BenchError("%s exited with %s: %s" % (name, self.proc.returncode, self.stderr()))
                try:
                    with socket.create_connection((HOST, port), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise BenchError("%s is not listening on %d after 10 s" % (name, port))
                    time.sleep(0.02)

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-2000:]
        except OSError:
            return ""

    def cpu_seconds(self):
        """CPU time of the server so far: /proc/PID/schedstat (nanoseconds),
        else utime + stime from /proc/PID/stat (clock ticks)."""
        try:
            with open("/proc/%d/schedstat" % self.proc.pid) as f:
                return int(f.read().split()[0]) * 1e-9
        except (OSError, ValueError, IndexError):
            with open("/proc/%d/stat" % self.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            try:
                if self.new_session:
                    os.killpg(self.proc.pid, signal.SIGTERM)
                else:
                    self.proc.terminate()
            except (ProcessLookupError, PermissionError):
                self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.err.close()


def run_json(argv, pin, what, timeout=300):
    """Runs a client pinned, returns the JSON object it printed last."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(pin + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, text=True, timeout=timeout,
                           preexec_fn=_die_with_us())
    except subprocess.TimeoutExpired:
        raise BenchError("%s timed out after %d s: %s" % (what, timeout, " ".join(argv)))
    if p.returncode != 0:
        raise BenchError("%s failed (exit %d): %s\n%s" % (what, p.returncode, " ".join(argv),
                                                          (p.stdout[-1500:] + p.stderr[-1500:]).strip()))
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise BenchError("%s printed no result: %s" % (what, p.stdout[-500:]))
    r = json.loads(lines[-1])
    r["wall_process_seconds"] = time.monotonic() - t0
    return r


# --- statistics -------------------------------------------------------------------

def med(values):
    return statistics.median(values) if values else None


def verdict(name, value):
    t = TARGETS.get(name)
    if t is None or value is None:
        return "-"
    op, target = t
    ok = {">=": value >= target, "<=": value <= target, "<": value < target}[op]
    return "PASS" if ok else "FAIL"


def target_text(name):
    t = TARGETS.get(name)
    return "(none)" if t is None else "%s %g" % t


def ratio_entry(name, per_round, pooled, unit=""):
    value = med(per_round)
    return {
        "value": value,
        "pooled": pooled,
        "rounds": per_round,
        "min": min(per_round) if per_round else None,
        "max": max(per_round) if per_round else None,
        "target": None if TARGETS.get(name) is None else {"op": TARGETS[name][0], "value": TARGETS[name][1]},
        "result": verdict(name, value),
    }


# --- part 1: throughput --------------------------------------------------------------

def make_1k_message(path):
    """1024 octets, CRLF line ends, one line in five starting with a dot."""
    head = ["From: Author <author@example.com>", "To: Recipient <rcpt0@example.com>",
            "Subject: e2e benchmark message", "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=us-ascii", ""]
    body = []
    i = 0
    while True:
        line = ("." if i % 5 == 2 else "") + "line %d of the body, " % i + "x" * 40
        if len("\r\n".join(head + body + [line, "p"]) + "\r\n") > 1024:
            break
        body.append(line)
        i += 1
    pad = 1024 - len("\r\n".join(head + body) + "\r\n") - 2
    text = "\r\n".join(head + body + ["p" * pad]) + "\r\n"
    assert len(text.encode()) == 1024
    with open(path, "w", newline="") as f:
        f.write(text)


def client_argv(client, build, port, rcpt, count, message):
    common = ["--port", str(port), "--rcpt", str(rcpt), "--count", str(count), "--message", message]
    bench = os.path.join(build, "benchmarks", "smtp_e2e_bench")
    peers = os.path.join(build, "benchmarks", "smtp_e2e_peers")
    if client.startswith("lib-"):
        return [bench, "lib", "--mode", client[4:]] + common
    if client.startswith("raw-"):
        return [bench, "raw", "--mode", client[4:]] + common
    if client == "smtplib":
        return [SYSTEM_PYTHON, os.path.join(HERE, "e2e_smtplib.py")] + common
    if client == "poco-nodelay":
        return [peers, "poco", "--nodelay", "1"] + common
    if client == "poco":
        return [peers, "poco"] + common
    if client == "curl":
        return [peers, "curl"] + common
    argv = e2e_cpu.peer_argv(client, build, common)
    if argv:
        return argv
    raise ValueError(client)


def part_throughput(a, pin, work):
    msg = os.path.join(work, "message-1k.eml")
    make_1k_message(msg)
    bench = os.path.join(a.build, "benchmarks", "smtp_e2e_bench")
    port = free_port()
    sink = Server("smtp-sink", [SMTP_SINK, "%s:%d" % (HOST, port), "256"], work, pin, port=port,
                  as_nobody=True)
    echo = Server("echo", [bench, "echo-server", "--port", "0"], work, pin)
    missing = {c: why for c in e2e_cpu.PEERS for why in [e2e_cpu.available(c, a.build)] if why}
    for c, why in missing.items():
        log("throughput: %s left out: %s" % (c, why))
    clients = tuple(c for c in CLIENTS if c not in missing)
    runs = {c: {r: [] for r in a.recipients} for c in clients}
    rtts = []
    try:
        for rnd in range(a.rounds):
            log("throughput: round %d of %d" % (rnd + 1, a.rounds))
            rtts.append(run_json([bench, "rtt", "--port", str(echo.port), "--count", str(a.rtt_count)],
                                 pin, "rtt"))
            for R in a.recipients:
                order = clients[rnd % len(clients):] + clients[:rnd % len(clients)]
                if rnd % 2:
                    order = tuple(reversed(order))
                for c in order:
                    if not sink.alive():
                        raise BenchError("smtp-sink died: %s" % sink.stderr())
                    s0 = sink.cpu_seconds()
                    n = e2e_cpu.messages_for(c, R, a.messages)
                    r = run_json(client_argv(c, a.build, sink.port, R, n, msg), pin, "%s R=%d" % (c, R))
                    r["sink_cpu_seconds"] = sink.cpu_seconds() - s0
                    r["round"] = rnd
                    runs[c][R].append(r)
        # Poco as shipped (Nagle): ~40 ms a message, so a few messages only, once.
        log("throughput: Poco as shipped (without TCP_NODELAY), %d messages" % a.poco_nagle_messages)
        poco_nagle = run_json(client_argv("poco", a.build, sink.port, 1, a.poco_nagle_messages, msg),
                              pin, "poco (Nagle)")
        profile = syscall_profile(a, pin, sink.port, msg) if a.profile else None
        log("throughput: the sent bytes of each client (capture)")
        capture = e2e_cpu.capture_check(clients, lambda c, p: client_argv(c, a.build, p, 2, 1, msg), run_json,
                                        pin, log)
    finally:
        sink.stop()
        echo.stop()

    # Figures.
    res = {"message_octets": 1024, "messages": a.messages, "recipients": a.recipients,
           "rounds": a.rounds, "clients": {}, "rtt": {}}
    rtt_round = [r["rtt_seconds"] for r in rtts]
    res["rtt"] = {"seconds": med(rtt_round), "rounds": rtt_round,
                  "round_trips_per_round": rtts[0]["round_trips"]}
    for c in clients:
        res["clients"][c] = {}
        for R in a.recipients:
            rs = runs[c][R]
            n = rs[0]["messages"]
            res["clients"][c][str(R)] = {
                "messages_per_second": med([x["messages_per_second"] for x in rs]),
                "rounds": [x["messages_per_second"] for x in rs],
                "client_cpu_us_per_message": med([x["cpu_seconds"] * 1e6 / n for x in rs]),
                "sink_cpu_us_per_message": med([x["sink_cpu_seconds"] * 1e6 / (n + 1) for x in rs]),
                "wall_us_per_message": med([x["seconds"] * 1e6 / n for x in rs]),
                "client_maxrss_kib": med([x["maxrss_kib"] for x in rs]),
                "messages": n,
            }
    res["poco_without_nodelay_r1"] = {"messages": poco_nagle["messages"],
                                      "messages_per_second": poco_nagle["messages_per_second"]}
    if profile:
        res["syscall_profile"] = profile

    def rate(c, R, rnd=None):
        rs = runs[c][R]
        if rnd is None:
            return med([x["messages_per_second"] for x in rs])
        return rs[rnd]["messages_per_second"]

    ratios = {}

    def add(name, fn):
        per_round = [fn(rnd) for rnd in range(a.rounds)]
        ratios[name] = ratio_entry(name, per_round, fn(None))

    for R in (1, 50):
        if R not in a.recipients:
            continue
        add("pipelined_vs_smtplib_r%d" % R, lambda k, R=R: rate("lib-pipelined", R, k) / rate("smtplib", R, k))
        add("pipelined_vs_lockstep_r%d" % R, lambda k, R=R: rate("lib-pipelined", R, k) / rate("lib-lockstep", R, k))
        add("pipelined_vs_poco_r%d" % R, lambda k, R=R: rate("lib-pipelined", R, k) / rate("poco-nodelay", R, k))
        add("pipelined_vs_curl_r%d" % R, lambda k, R=R: rate("lib-pipelined", R, k) / rate("curl", R, k))
        add("pipelined_vs_raw_pipelined_r%d" % R,
            lambda k, R=R: rate("lib-pipelined", R, k) / rate("raw-pipelined", R, k))
        add("lockstep_vs_raw_lockstep_r%d" % R,
            lambda k, R=R: rate("lib-lockstep", R, k) / rate("raw-lockstep", R, k))
        add("raw_pipelined_vs_smtplib_r%d" % R, lambda k, R=R: rate("raw-pipelined", R, k) / rate("smtplib", R, k))

    def rtt(k):
        return med(rtt_round) if k is None else rtt_round[k]

    if 1 in a.recipients:
        add("pipelined_vs_rtt_bound_r1", lambda k: rate("lib-pipelined", 1, k) * rtt(k))
        add("lockstep_vs_rtt_bound_r1", lambda k: rate("lib-lockstep", 1, k) * 4 * rtt(k))
        add("each_vs_rtt_bound_r1", lambda k: rate("lib-each", 1, k) * 2 * rtt(k))
    if 50 in a.recipients:
        add("lockstep_vs_rtt_bound_r50", lambda k: rate("lib-lockstep", 50, k) * 53 * rtt(k))
    cpu, res["cpu_us_per_message"] = e2e_cpu.cpu_ratios(runs, a.recipients, a.rounds, ratio_entry, med)
    ratios.update(cpu)
    res["capture"], res["peers_missing"] = capture, missing
    res["ratios"] = ratios
    return res


def syscall_profile(a, pin, port, msg):
    """System calls per message of each library mode (strace -c), R=1."""
    if not shutil.which("strace"):
        return None
    prof = {}
    for c in ("lib-pipelined", "lib-each", "lib-lockstep"):
        n = 500
        path = os.path.join(a.work, "strace-%s.txt" % c)
        argv = ["strace", "-f", "-c", "-o", path] + client_argv(c, a.build, port, 1, n, msg)
        run_json(argv, pin, "strace %s" % c)
        calls = {}
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] not in ("total",):
                    try:
                        calls[parts[-1]] = int(parts[3])
                    except ValueError:
                        pass
        per = {k: round(v / (n + 1), 2) for k, v in calls.items()
               if k in ("sendto", "recvfrom", "epoll_wait", "timerfd_settime", "write", "read", "sendmsg",
                        "recvmsg", "writev")}
        prof[c] = per
    return prof


# --- part 2: TLS ---------------------------------------------------------------------------

def part_tls(a, pin, work):
    certs = os.path.join(work, "certs")
    made = subprocess.run(["bash", MAKE_CERTS, certs], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if made.returncode != 0:
        raise BenchError("make_certs.sh failed: %s" % made.stdout.decode("utf-8", "replace"))
    ca = os.path.join(certs, "ca.pem")
    bench = os.path.join(a.build, "benchmarks", "smtp_e2e_bench")
    sink_argv = [os.path.join(a.build, "benchmarks", "smtp_tls_sink"), "--cert", os.path.join(certs, "server.pem"),
                 "--key", os.path.join(certs, "server.key"), "--port", "0"]
    sink = Server("tls-sink", sink_argv, work, pin)
    size = a.tls_size
    source_ok = streaming_status()["status"] != "pending"
    kinds = ("tls-lib", "tls-raw", "tls-raw-nodelay") + (("tls-src-file",) if source_ok else ())
    per = {k: [] for k in kinds}
    info = {}
    mem = {}
    nagle = {}
    files = []
    try:
        def one(kind, size, count, port=None):
            tool = {"tls-lib": "tls-lib", "tls-raw": "tls-raw", "tls-raw-nodelay": "tls-raw"}.get(kind, "tls-src")
            argv = [bench, tool, "--port", str(port or sink.port), "--ca", ca, "--size", str(size),
                    "--count", str(count)]
            if kind == "tls-raw-nodelay":
                argv += ["--nodelay", "1"]
            if kind == "tls-src-file":
                path = os.path.join(work, "message-%d.eml" % size)
                files.append(path)
                argv += ["--source", "file", "--file", path]
            if kind == "tls-src-callback":
                argv += ["--source", "callback"]
            r = run_json(argv, pin, "%s %d" % (kind, size))
            if r.get("unsupported"):
                raise BenchError("%s: this build has no message_source" % kind)
            return r

        for rnd in range(a.rounds):
            log("tls: round %d of %d (%d MiB messages)" % (rnd + 1, a.rounds, size // MIB))
            order = kinds if rnd % 2 == 0 else tuple(reversed(kinds))
            for k in order:
                r = one(k, size, a.tls_messages + 1)
                per[k].append(r["seconds"][1:])  # the first message of a connection: dropped
                if k == "tls-raw":
                    info = {"tls_version": r["tls_version"], "cipher": r["cipher"],
                            "encoded_octets": r["encoded_size"]}
        mem_kinds = ("tls-lib",) + (("tls-src-file", "tls-src-callback") if source_ok else ())
        log("tls: peak RSS, 2 MiB and %d MiB messages (%s; %d runs each)" % (size // MIB, ", ".join(mem_kinds),
                                                                            a.mem_runs))
        for k in mem_kinds:
            mem[k] = {}
            for sz in (2 * MIB, size):
                rs = [one(k, sz, 1) for _ in range(a.mem_runs)]
                mem[k][str(sz)] = {f: med([r[f] for r in rs]) for f in
                                   ("rss_start_kib", "rss_message_kib", "rss_connected_kib", "maxrss_kib",
                                    "ru_maxrss_kib")}
        log("tls: a 100 KiB message, with and without TCP_NODELAY, the sink in its own session and in ours")
        same = Server("tls-sink-same-session", sink_argv, work, pin, new_session=False)
        try:
            for group, port in (("separate_sessions", sink.port), ("same_session", same.port)):
                nagle[group] = {}
                for k in ("tls-lib", "tls-raw", "tls-raw-nodelay"):
                    r = one(k, 100 * 1024, 9, port=port)
                    nagle[group][k] = {"seconds_median": med(r["seconds"][1:]), "seconds": r["seconds"][1:]}
        finally:
            same.stop()
    finally:
        sink.stop()
        for path in set(files):
            try:
                os.unlink(path)
            except OSError:
                pass

    res = {"message_octets": size, "messages_per_round": a.tls_messages, "rounds": a.rounds,
           "connection": info, "sink_log": sorted(set(sink.stderr().split("\n")) - {""})[:4]}
    for k in kinds:
        secs = [x for r in per[k] for x in r]
        res[k] = {"seconds_median": med(secs),
                  "mib_per_second": size / MIB / med(secs),
                  "round_medians_seconds": [med(r) for r in per[k]]}

    def tls_ratio(name, ref, k="tls-lib"):
        per_round = [med(per[ref][i]) / med(per[k][i]) for i in range(a.rounds)]
        return ratio_entry(name, per_round, res[ref]["seconds_median"] / res[k]["seconds_median"])

    res["ratios"] = {"tls_lib_vs_raw_20mib": tls_ratio("tls_lib_vs_raw_20mib", "tls-raw"),
                     "tls_lib_vs_raw_nodelay_20mib": tls_ratio("tls_lib_vs_raw_nodelay_20mib", "tls-raw-nodelay")}
    if source_ok:
        res["ratios"]["tls_file_source_vs_raw_20mib"] = tls_ratio("tls_file_source_vs_raw_20mib", "tls-raw",
                                                                  "tls-src-file")
    growth = {k: v[str(size)]["maxrss_kib"] - v[str(2 * MIB)]["maxrss_kib"] for k, v in mem.items()}
    res["memory"] = {
        "method": "peak RSS = VmHWM of the client process (one child process per measurement, median of %d); "
                  "ru_maxrss beside it (Linux carries it over execve from the forking parent, so it is not used); "
                  "tls-lib: the message is a std::string held by the caller; tls-src-file: smtp::file_message "
                  "of a file written beforehand a piece at a time; tls-src-callback: a message_source whose "
                  "read() generates the message (rewind() restarts it)" % a.mem_runs,
        "by_kind": mem,
        "peak_growth_kib_2_to_%dmib" % (size // MIB): growth,
        "message_growth_kib": (size - 2 * MIB) // 1024,
        "streaming_source": streaming_status(),
    }
    if source_ok:
        worst = max(growth.get("tls-src-file", 0), growth.get("tls-src-callback", 0))
        res["ratios"]["streaming_peak_rss_growth_kib"] = ratio_entry("streaming_peak_rss_growth_kib", [worst],
                                                                     float(worst))
    res["nagle_100k"] = nagle
    res["resume"] = e2e_tls_resume.measure(a, pin, work, certs, sys.modules[__name__])
    res["ratios"].update(res["resume"]["ratios"])
    return res


def streaming_status():
    try:
        with open(TRANSACTION_HPP) as f:
            present = "message_source" in f.read()
    except OSError:
        present = False
    if present:
        return {"status": "measured", "note": "smtp::message_source (include/smtp/protocol/transaction.hpp): "
                                              "smtp::file_message and a callback source"}
    return {"status": "pending", "note": "no message_source API in include/smtp/protocol/transaction.hpp yet"}


# --- part 3: pool and idle sessions -------------------------------------------------------

def part_pool(a, pin, work):
    bench = os.path.join(a.build, "benchmarks", "smtp_e2e_bench")
    msg = os.path.join(work, "message-1k.eml")
    if not os.path.exists(msg):
        make_1k_message(msg)
    port = free_port()
    sink = Server("smtp-sink-pool", [SMTP_SINK, "%s:%d" % (HOST, port), "256"], work, pin, port=port,
                  as_nobody=True)
    runs = {k: [] for k in POOL_SESSIONS}
    idle = {}
    try:
        for rnd in range(a.pool_rounds):
            log("pool: round %d of %d (%d messages)" % (rnd + 1, a.pool_rounds, a.pool_messages))
            order = POOL_SESSIONS if rnd % 2 == 0 else tuple(reversed(POOL_SESSIONS))
            for k in order:
                s0 = sink.cpu_seconds()
                r = run_json([bench, "pool", "--port", str(port), "--sessions", str(k), "--count",
                              str(a.pool_messages), "--rcpt", "1", "--message", msg], pin, "pool %d" % k)
                r["sink_cpu_seconds"] = sink.cpu_seconds() - s0
                runs[k].append(r)
        log("pool: idle sessions (1 and 64), async and sync")
        for mode in ("async", "sync"):
            rs = [run_json([bench, "idle", "--port", str(port), "--sessions", "64", "--mode", mode], pin,
                           "idle %s" % mode) for _ in range(3)]
            idle[mode] = {k: med([r[k] for r in rs]) for k in rs[0] if isinstance(rs[0][k], (int, float))}
    finally:
        sink.stop()
    res = {"messages": a.pool_messages, "rounds": a.pool_rounds, "pool_options": "max_sessions = K, "
           "the rest pool_options' defaults (max_batch 16, max_messages_per_session 1000)", "sessions": {}}
    for k in POOL_SESSIONS:
        rs = runs[k]
        res["sessions"][str(k)] = {
            "messages_per_second": med([r["messages_per_second"] for r in rs]),
            "rounds": [r["messages_per_second"] for r in rs],
            "maxrss_kib": med([r["maxrss_kib"] for r in rs]),
            "rss_with_messages_kib": med([r["rss_with_messages_kib"] for r in rs]),
            "rss_start_kib": med([r["rss_start_kib"] for r in rs]),
            "peak_over_queued_messages_kib": med([r["maxrss_kib"] - r["rss_with_messages_kib"] for r in rs]),
            "sessions_opened": med([r["sessions_opened"] for r in rs]),
            "most_sessions_open": med([r["most_sessions_open"] for r in rs]),
            "client_cpu_us_per_message": med([r["cpu_seconds"] * 1e6 / r["messages"] for r in rs]),
            "sink_cpu_us_per_message": med([r["sink_cpu_seconds"] * 1e6 / r["messages"] for r in rs]),
        }
    res["idle"] = idle
    res["idle"]["method"] = (
        "one process per mode: open 1 session (connect + EHLO to smtp-sink), then 63 more; library-owned "
        "bytes per session = (heap in use with 64 - with 1) / 63, heap = mallinfo2 uordblks + hblkhd "
        "(every operator new and OpenSSL allocation goes through malloc); RSS (/proc/self/statm) the same "
        "way as a cross-check; kernel socket buffers are not counted. async: async_connect/async_ehlo on "
        "one shared io_context (what the pool does); sync: smtp::connect, each session with its own "
        "io_context. Median of 3 processes.")
    res["ratios"] = {
        "idle_session_heap_bytes_async": ratio_entry("idle_session_heap_bytes_async",
                                                     [idle["async"]["heap_bytes_per_session"]],
                                                     idle["async"]["heap_bytes_per_session"]),
        "idle_session_heap_bytes_sync": ratio_entry("idle_session_heap_bytes_sync",
                                                    [idle["sync"]["heap_bytes_per_session"]],
                                                    idle["sync"]["heap_bytes_per_session"]),
    }
    return res


# --- part 4: compile time ---------------------------------------------------------------------

COMPILE_TUS = (
    # name, file, extra flags
    ("core", "core_tu.cpp", []),
    ("client", "client_tu.cpp", []),
    ("asio", "asio_tu.cpp", []),
    ("user_header_only", "user_tu.cpp", []),
    ("user_separate", "user_tu.cpp", ["-DSMTP_SEPARATE_COMPILATION"]),
)


def compile_once(argv):
    """Wall seconds, CPU seconds and peak RSS (MiB) of one compiler run: the
    driver's rusage from wait4, which includes cc1plus's (waited for by it);
    ru_maxrss is the largest of the processes."""
    with tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        w = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise BenchError("compiling failed: %s\n%s" % (" ".join(argv), err.read().decode("utf-8", "replace")[-3000:]))
    return w, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0


def compile_column(a, cxx):
    """Every TU of COMPILE_TUS, a.compile_runs times, interleaved (each run
    starts with a different one); and <smtp/src.hpp> once (separate mode's
    compiled part, paid once per program)."""
    names = [t[0] for t in COMPILE_TUS]
    wall = {t: [] for t in names}
    cpu = {t: [] for t in names}
    peak = {t: [] for t in names}

    def argv(path, extra):
        return [cxx, "-std=c++20", "-O2", "-I", os.path.join(ROOT, "include")] + extra + ["-c", path, "-o", os.devnull]

    for run in range(a.compile_runs):
        log("compile (%s): run %d of %d" % (cxx, run + 1, a.compile_runs))
        k = run % len(COMPILE_TUS)
        for name, f, extra in COMPILE_TUS[k:] + COMPILE_TUS[:k]:
            w, c, m = compile_once(argv(os.path.join(HERE, "compile", f), extra))
            wall[name].append(w)
            cpu[name].append(c)
            peak[name].append(m)
    src = os.path.join(a.work, "smtp_src.cpp")
    os.makedirs(a.work, exist_ok=True)
    with open(src, "w") as f:
        f.write("#include <smtp/src.hpp>\n")
    sw, sc, sm = compile_once(argv(src, ["-DSMTP_SEPARATE_COMPILATION"]))
    ver = subprocess.run([cxx, "--version"], stdout=subprocess.PIPE, text=True).stdout.splitlines()[0]
    res = {"compiler": ver, "flags": "-std=c++20 -O2 -c", "runs": a.compile_runs, "tus": {},
           "src_once": {"file": "#include <smtp/src.hpp> (-DSMTP_SEPARATE_COMPILATION)", "wall_seconds": sw,
                        "cpu_seconds": sc, "peak_mib": sm}}
    for name, f, extra in COMPILE_TUS:
        res["tus"][name] = {"file": "benchmarks/compile/%s" % f, "flags": extra,
                            "wall_seconds_median": med(wall[name]), "wall_seconds": wall[name],
                            "cpu_seconds_median": med(cpu[name]), "cpu_seconds": cpu[name],
                            "peak_mib_median": med(peak[name]), "peak_mib": peak[name]}
    res["cpu_ratios"] = {"%s_vs_asio" % n: med(cpu[n]) / med(cpu["asio"]) for n in names if n != "asio"}
    return res, wall, cpu, peak


def part_compile(a):
    cxx = os.environ.get("CXX_E2E", "g++")
    res, wall, cpu, peak = compile_column(a, cxx)
    n = a.compile_runs

    def per_round(d, t):
        return [d[t][k] / d["asio"][k] for k in range(n)]

    res["ratios"] = {
        # wall-time ratios, as before
        "compile_core_vs_asio": ratio_entry("compile_core_vs_asio", per_round(wall, "core"),
                                            med(wall["core"]) / med(wall["asio"])),
        "compile_client_vs_asio": ratio_entry("compile_client_vs_asio", per_round(wall, "client"),
                                              med(wall["client"]) / med(wall["asio"])),
        # issue 14: CPU-time ratios and peak compiler memory of the user TU
        "compile_user_header_only_vs_asio": ratio_entry("compile_user_header_only_vs_asio",
                                                        per_round(cpu, "user_header_only"),
                                                        med(cpu["user_header_only"]) / med(cpu["asio"])),
        "compile_user_separate_vs_asio": ratio_entry("compile_user_separate_vs_asio", per_round(cpu, "user_separate"),
                                                     med(cpu["user_separate"]) / med(cpu["asio"])),
        "compile_user_separate_peak_mib": ratio_entry("compile_user_separate_peak_mib", peak["user_separate"],
                                                      med(peak["user_separate"])),
        "compile_user_header_only_peak_mib": ratio_entry("compile_user_header_only_peak_mib",
                                                         peak["user_header_only"], med(peak["user_header_only"])),
    }
    # A second compiler column (clang++ with --full, or COMPILE_SECOND_CXX): reported, no targets.
    second = os.environ.get("COMPILE_SECOND_CXX", ("clang++" if cxx != "clang++" else "g++") if a.full else "")
    if second and shutil.which(second):
        r2, w2, c2, p2 = compile_column(a, second)
        res["second"] = r2
        tag = "clang" if "clang" in second else re.sub(r"[^a-z0-9]+", "_", os.path.basename(second))
        for t in ("user_header_only", "user_separate"):
            name = "compile_%s_vs_asio_%s" % (t, tag)
            TARGETS.setdefault(name, None)
            res["ratios"][name] = ratio_entry(name, [c2[t][k] / c2["asio"][k] for k in range(n)],
                                              med(c2[t]) / med(c2["asio"]))
            name = "compile_%s_peak_mib_%s" % (t, tag)
            TARGETS.setdefault(name, None)
            res["ratios"][name] = ratio_entry(name, p2[t], med(p2[t]))
    return res


# --- report ------------------------------------------------------------------------------------

def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 100:
            return "%.0f%s" % (v, unit)
        if abs(v) >= 10:
            return "%.1f%s" % (v, unit)
        return "%.3g%s" % (v, unit)
    return "%s%s" % (v, unit)


def print_report(doc):
    p = print
    tp = doc.get("throughput")
    if tp:
        p("\nThroughput: %d messages of 1 KiB over one connection to smtp-sink, client and sink on CPU %s; "
          "medians of %d rounds (fewer messages, the same per-message figures: lockstep clients at R > 1, "
          "%s; aiosmtplib and Nodemailer at most %d)." % (tp["messages"], doc["cpu"], tp["rounds"],
                                                          "as many round trips as at R = 1, at least %d"
                                                          % e2e_cpu.LOCKSTEP_MIN, e2e_cpu.MESSAGES_CAP["aiosmtplib"]))
        p("RTT (one-line TCP ping-pong, same pinning): %.1f us (rounds %s)" % (
            tp["rtt"]["seconds"] * 1e6, ", ".join("%.1f" % (x * 1e6) for x in tp["rtt"]["rounds"])))
        p("  (per message, us: wall time; the client's CPU time in its timed part; smtp-sink's CPU time)")
        p("  %-38s %4s %12s %16s %9s %9s %9s" % ("client", "R", "messages/s", "rounds min..max",
                                                "wall", "client", "sink"))
        for c in tp["clients"]:
            for R in tp["recipients"]:
                e = tp["clients"][c][str(R)]
                p("  %-38s %4d %12.0f %16s %9.1f %9.1f %9.1f" % (
                    CLIENT_LABELS[c], R, e["messages_per_second"],
                    "%.0f..%.0f" % (min(e["rounds"]), max(e["rounds"])), e["wall_us_per_message"],
                    e["client_cpu_us_per_message"], e["sink_cpu_us_per_message"]))
        for R in tp["recipients"]:
            p("  %-38s %4d %12.0f" % ("bound: %s round trips a message" % ("R+3" if R != 1 else "4 (lockstep)"),
                                      R, 1 / ((R + 3) * tp["rtt"]["seconds"])))
        p("  %-38s %4s %12.0f" % ("bound: one round trip a message", "any", 1 / tp["rtt"]["seconds"]))
        p("  %-38s %4d %12.1f   (%d messages: Nagle's algorithm and the delayed ACK)" % (
            "Poco SMTPClientSession as shipped", 1, tp["poco_without_nodelay_r1"]["messages_per_second"],
            tp["poco_without_nodelay_r1"]["messages"]))
        for line in e2e_cpu.report_lines(tp, CLIENT_LABELS):
            p(line)
        if tp.get("syscall_profile"):
            p("  system calls per message (strace -c, R=1): " + "; ".join(
                "%s: %s" % (c, ", ".join("%s %.2f" % kv for kv in sorted(v.items())))
                for c, v in tp["syscall_profile"].items()))
    t = doc.get("tls")
    if t:
        p("\nTLS: %d MiB message over STARTTLS (%s %s) to smtp_tls_sink; %d rounds x %d messages." % (
            t["message_octets"] // MIB, t["connection"].get("tls_version", "?"), t["connection"].get("cipher", "?"),
            t["rounds"], t["messages_per_round"]))
        for k, label in (("tls-lib", "smtp sendmail (message in memory)"),
                         ("tls-src-file", "smtp sendmail (smtp::file_message)"),
                         ("tls-raw", "raw SSL_write loop"),
                         ("tls-raw-nodelay", "raw SSL_write loop, TCP_NODELAY")):
            if k in t:
                p("  %-38s %8.1f ms %8.1f MiB/s   round medians %s ms" % (
                    label, t[k]["seconds_median"] * 1e3, t[k]["mib_per_second"],
                    ", ".join("%.1f" % (x * 1e3) for x in t[k]["round_medians_seconds"])))
        m = t["memory"]
        for k, by in m["by_kind"].items():
            for sz, v in sorted(by.items(), key=lambda kv: int(kv[0])):
                p("  peak RSS %-17s %2d MiB: %6d KiB (start %d, message ready %d, connected %d; ru_maxrss %d)" % (
                    k, int(sz) // MIB, v["maxrss_kib"], v["rss_start_kib"], v["rss_message_kib"],
                    v["rss_connected_kib"], v["ru_maxrss_kib"]))
        growth = m["peak_growth_kib_2_to_%dmib" % (t["message_octets"] // MIB)]
        p("  peak RSS growth 2 -> %d MiB (message +%d KiB): %s; streaming source: %s" % (
            t["message_octets"] // MIB, m["message_growth_kib"],
            ", ".join("%s %+d KiB" % kv for kv in growth.items()), m["streaming_source"]["status"]))
        for group, n in t["nagle_100k"].items():
            p("  100 KiB message, sink in %s: smtp %.2f ms, raw %.2f ms, raw with TCP_NODELAY %.2f ms" % (
                group.replace("_", " "), n["tls-lib"]["seconds_median"] * 1e3,
                n["tls-raw"]["seconds_median"] * 1e3, n["tls-raw-nodelay"]["seconds_median"] * 1e3))
        for line in e2e_tls_resume.report_lines(t.get("resume")):
            p("  " + line)
    pl = doc.get("pool")
    if pl:
        p("\nPool: %d messages of 1 KiB through smtp::pool to smtp-sink; medians of %d rounds." % (
            pl["messages"], pl["rounds"]))
        p("  %8s %12s %14s %12s %16s %10s" % ("sessions", "messages/s", "peak RSS KiB", "queued KiB",
                                              "peak - queued", "opened"))
        for k in POOL_SESSIONS:
            e = pl["sessions"][str(k)]
            p("  %8d %12.0f %14d %12d %16d %10d" % (k, e["messages_per_second"], e["maxrss_kib"],
                                                    e["rss_with_messages_kib"] - e["rss_start_kib"],
                                                    e["peak_over_queued_messages_kib"], e["sessions_opened"]))
        for mode in ("async", "sync"):
            e = pl["idle"][mode]
            p("  idle %-5s sessions: %6.0f heap bytes and %6.0f RSS bytes per session (64 vs 1), "
              "%d threads with 64 open" % (mode, e["heap_bytes_per_session"], e["rss_bytes_per_session"],
                                            e["threads_with_k_sessions"]))
        e = pl["idle"]["async"]
        p("  sizeof: connection %d (transport %d, connect_options %d, capabilities %d, reply_parser %d, "
          "steady_timer %d, diagnostics %d)" % (e["sizeof_connection"], e["sizeof_transport"],
                                                e["sizeof_connect_options"], e["sizeof_capabilities"],
                                                e["sizeof_reply_parser"], e["sizeof_steady_timer"],
                                                e["sizeof_diagnostics"]))
    cp = doc.get("compile")
    if cp:
        for col in [cp] + ([cp["second"]] if cp.get("second") else []):
            p("\nCompile time: %s %s, %d runs each, interleaved." % (col["compiler"], col["flags"], col["runs"]))
            for tname, e in col["tus"].items():
                p("  %-17s %6.2f s median wall (%s)  %6.2f s median CPU  %5.0f MiB peak" % (
                    tname, e["wall_seconds_median"], ", ".join("%.2f" % x for x in e["wall_seconds"]),
                    e["cpu_seconds_median"], e["peak_mib_median"]))
            so = col["src_once"]
            p("  %-17s %6.2f s wall (once)          %6.2f s CPU         %5.0f MiB peak" % (
                "src.hpp", so["wall_seconds"], so["cpu_seconds"], so["peak_mib"]))
            p("  CPU-time ratios: " + ", ".join("%s %.2f" % kv for kv in col["cpu_ratios"].items()))
    e2e_rtt.print_rtt(doc, p)
    p("\nRatios: value = median over rounds of each round's ratio; pooled = ratio of the medians.")
    p("  %-34s %10s %10s %20s %10s %6s" % ("ratio", "value", "pooled", "rounds min..max", "target", "result"))
    missed = []
    for name, e in doc["ratios"].items():
        p("  %-34s %10s %10s %20s %10s %6s" % (name, fmt(e["value"]), fmt(e["pooled"]),
                                               "%s..%s" % (fmt(e["min"]), fmt(e["max"])), target_text(name),
                                               e["result"]))
        if e["result"] == "FAIL":
            missed.append(name)
    p("\nTargets: %s" % ("all met" if not missed else "MISSED: " + ", ".join(missed)))
    return missed


def plot(doc, paths):
    tp = doc.get("throughput")
    if not tp:
        return []
    plt = e2e_plot.pyplot()
    if plt is None:
        log("no matplotlib (python3-matplotlib): no plot")
        return []
    Rs = tp["recipients"]
    fig, ax = plt.subplots(figsize=(10.5, 5.6), dpi=100)
    styles = {"lib-pipelined": ("o-", "C0"), "lib-each": ("s-", "C9"), "lib-lockstep": ("^-", "C2"),
              "smtplib": ("v-", "C3"), "poco-nodelay": ("D-", "C4"), "curl": ("x-", "C1"),
              "raw-pipelined": ("o--", "black"), "raw-lockstep": ("^--", "black")}
    styles.update(e2e_cpu.STYLES)
    for c in tp["clients"]:
        ys = [tp["clients"][c][str(R)]["messages_per_second"] for R in Rs]
        st, col = styles[c]
        ax.plot(Rs, ys, st, color=col, label=CLIENT_LABELS[c],
                markerfacecolor="none" if c.startswith("raw-") else col)
    rtt = tp["rtt"]["seconds"]
    ax.axhline(1 / rtt, color="grey", linestyle=":", label="bound: 1 round trip a message (RTT %.1f us)" % (rtt * 1e6))
    xs = list(range(min(Rs), max(Rs) + 1))
    ax.plot(xs, [1 / ((R + 3) * rtt) for R in xs], ":", color="grey", linewidth=2,
            label="bound: R+3 round trips a message")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(Rs)
    ax.set_xticklabels([str(R) for R in Rs])
    ax.set_xlabel("recipients per message (R)")
    ax.set_ylabel("messages per second (1 KiB each, one connection)")
    ax.set_title("%d messages to smtp-sink on loopback, client and sink on one CPU; medians of %d rounds (%s)"
                 % (tp["messages"], tp["rounds"], doc["date"][:10]), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return e2e_plot.save(plt, fig, paths)


def checkout_status():
    """`git status --porcelain` of the checkout (ignored files, build/ among
    them, not listed); None outside a git checkout."""
    try:
        p = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=all"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout.splitlines() if p.returncode == 0 else None


def update_docs(out):
    """Copies OUT's plots into docs/, the one step that writes to the checkout."""
    copied = 0
    for name in PLOTS:
        src = os.path.join(out, name)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(ROOT, "docs", name))
            print("copied %s -> docs/%s" % (os.path.relpath(src, ROOT), name))
            copied += 1
    if not copied:
        print("run_e2e: no plot in %s: run ./run bench e2e first" % os.path.relpath(out, ROOT), file=sys.stderr)
        return 1
    return 0


def machine():
    info = {"nproc": os.cpu_count(), "kernel": platform.release()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                if line.startswith("cpu MHz"):
                    info["mhz"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    for key, argv in (("python", [SYSTEM_PYTHON, "-c", "import sys; print(sys.version.split()[0])"]),
                      ("postfix", ["/usr/sbin/postconf", "-h", "mail_version"]),
                      ("openssl", ["openssl", "version"]),
                      ("curl", ["curl-config", "--version"])):
        try:
            info[key] = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                       text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:
        with open("/usr/include/Poco/Version.h") as f:
            m = re.search(r"#define POCO_VERSION 0x([0-9A-Fa-f]{8})", f.read())
            if m:
                v = int(m.group(1), 16)
                info["poco"] = "%d.%d.%d" % (v >> 24, (v >> 16) & 0xFF, (v >> 8) & 0xFF)
    except OSError:
        pass
    try:
        info["loadavg_at_start"] = open("/proc/loadavg").read().split()[:3]
    except OSError:
        pass
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build/e2e")
    ap.add_argument("--out", default="build/bench")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--recipients", default="1,10,50")
    ap.add_argument("--cpu", default="0", help="CPU for every server and client (taskset -c); 'none': unpinned")
    ap.add_argument("--compile-runs", type=int, default=3)
    ap.add_argument("--parts", default="throughput,tls,pool,compile,rtt")
    ap.add_argument("--update-docs", action="store_true",
                    help="measure nothing: copy OUT's plots (%s) into docs/" % ", ".join(PLOTS))
    ap.add_argument("--profile", action="store_true", help="also count system calls per message (strace)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 1 round, few messages")
    ap.add_argument("--full", action="store_true",
                    help="the compile part as before: 5 runs, and a second compiler's column (clang++)")
    a = ap.parse_args()
    if a.update_docs:
        return update_docs(os.path.abspath(a.out))
    a.recipients = [int(x) for x in a.recipients.split(",")]
    a.rtt_count = 20000
    a.poco_nagle_messages = 20
    a.tls_size = 20 * MIB
    a.tls_messages = 3
    a.mem_runs = 3
    a.pool_messages = 20000
    a.pool_rounds = min(a.rounds, 3)
    if a.full:
        a.compile_runs = max(a.compile_runs, 5)
    if a.quick:
        a.rounds, a.messages, a.rtt_count, a.poco_nagle_messages = 1, 200, 2000, 3
        a.tls_messages, a.mem_runs, a.pool_messages, a.pool_rounds = 1, 1, 2000, 1
        a.compile_runs = 1
    parts = set(a.parts.split(","))
    a.build = os.path.abspath(a.build)
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    a.work = work = os.path.join(a.build, "run")
    os.makedirs(work, exist_ok=True)

    # The compile part compiles its own files: no binary needed.
    for b in (("smtp_e2e_bench", "smtp_e2e_peers", "smtp_tls_sink") if parts - {"compile"} else ()) + \
            (("smtp_latency_proxy",) if "rtt" in parts else ()):
        if not os.access(os.path.join(a.build, "benchmarks", b), os.X_OK):
            sys.exit("run_e2e: %s/benchmarks/%s is missing: build it first (./run bench e2e)" % (a.build, b))
    if ({"throughput", "pool", "rtt"} & parts) and not os.access(SMTP_SINK, os.X_OK):
        sys.exit("run_e2e: %s is missing: install postfix (./run deps)" % SMTP_SINK)
    if a.cpu != "none" and shutil.which("taskset"):
        pin = ["taskset", "-c", a.cpu]
    else:
        pin, a.cpu = [], "none"

    doc = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpu": a.cpu, "machine": machine(),
           "method": ("every server and client pinned to CPU %s with taskset; one process per measurement; "
                      "ratios computed within each round, the value is their median over the rounds" % a.cpu)}
    started = time.monotonic()
    checkout_before = checkout_status()
    ok = True
    for part, fn in (("throughput", lambda: part_throughput(a, pin, work)),
                     ("tls", lambda: part_tls(a, pin, work)),
                     ("pool", lambda: part_pool(a, pin, work)),
                     ("compile", lambda: part_compile(a)),
                     ("rtt", lambda: e2e_rtt.part_rtt(sys.modules[__name__], a, pin, work))):
        if part not in parts:
            continue
        t0 = time.monotonic()
        try:
            doc[part] = fn()
            doc[part]["elapsed_seconds"] = time.monotonic() - t0
        except BenchError as e:
            ok = False
            log("%s: %s" % (part, e))
            doc[part + "_error"] = str(e)
    doc["elapsed_seconds"] = time.monotonic() - started

    # The flat figures the issue asks for, beside the structured sections.
    ratios = {}
    for part in ("throughput", "tls", "pool", "compile", "rtt"):
        ratios.update(doc.get(part, {}).get("ratios", {}))
    doc["ratios"] = ratios
    for name, e in ratios.items():
        doc[name] = e["value"]
    tp = doc.get("throughput")
    if tp:
        doc["rtt_seconds"] = tp["rtt"]["seconds"]
        doc["messages_per_second"] = {c: {R: tp["clients"][c][R]["messages_per_second"] for R in tp["clients"][c]}
                                      for c in tp["clients"]}
        doc["cpu_us_per_message"] = tp["cpu_us_per_message"]
    doc["targets_missed"] = [n for n, e in ratios.items() if e["result"] == "FAIL"]
    # A run writes under build/ only: say so if the checkout changed meanwhile
    # (a file of ours, or someone editing the tree during the run).
    changed = sorted(set(checkout_status() or []) - set(checkout_before or []))
    doc["checkout_changed_during_run"] = changed
    if changed:
        log("the checkout changed during the run (a run should write under build/ only): %s" % ", ".join(changed))

    doc["plots"] = [os.path.relpath(p, ROOT) for p in plot(doc, [os.path.join(out, PLOTS[0])]) +
                    e2e_rtt.plot_rtt(doc, [os.path.join(out, PLOTS[1])]) +
                    e2e_cpu.plot_cpu(doc, [os.path.join(out, PLOTS[2])], CLIENT_LABELS)]
    with open(os.path.join(out, "e2e.json"), "w") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")
    print_report(doc)
    print("\nWrote %s%s (%.0f s)." % (os.path.relpath(os.path.join(out, "e2e.json"), ROOT),
                                      "".join(", " + p for p in doc["plots"]), doc["elapsed_seconds"]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
