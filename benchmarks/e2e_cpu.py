"""Issue 16 section 1 for benchmarks/run_e2e.py: the client CPU time per message
against the raw-socket floor, and the peers that take part in the throughput
part (and in every part that runs the throughput client list).

- PEERS: the clients added here, each with its label, how it is run and what
  it does per message. run_e2e.py's CLIENTS, CLIENT_LABELS and client_argv
  take them from here: one place, so every part that runs the client list
  runs them too. A peer whose runtime is missing (no node, no npm module, no
  python3-aiosmtplib, a smtp_e2e_peers built without libESMTP) is left out
  with a note (available()).
- cpu_ratios(): the e2e.json keys cpu_vs_floor_r1, cpu_vs_floor_r10,
  cpu_vs_floor_r50, cpu_lockstep_vs_floor_r1, cpu_lockstep_vs_floor_r50 (the
  library's CPU time per message over the floor's, each the median of the
  per-round ratios) and cpu_us_per_message (every client, every R).
- capture_check(): each client sends one warm-up and one timed message to a
  capturing server here (PIPELINING and 8BITMIME offered, as smtp-sink does)
  that records every transaction's envelope and data octets: the data must be
  the library's, octet for octet, or the difference is reported.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import threading

import e2e_plot

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_PYTHON = "/usr/bin/python3"

# name -> label, per-message behaviour (for the table's fairness note)
PEERS = {
    "aiosmtplib": ("aiosmtplib (asyncio)", "MAIL, each RCPT, DATA in lockstep (R+3 round trips)"),
    "nodemailer": ("Nodemailer (pool, 1 connection)",
                   "MAIL, the RCPTs and DATA in one write with PIPELINING, the data after the 354 (2 round trips)"),
    "libesmtp": ("libESMTP", "MAIL, the RCPTs and DATA pipelined, the data after the 354 (2 round trips); "
                             "adds Date and Message-Id headers"),
}
# What the clients run_e2e.py had before do per message (for the same note).
PER_MESSAGE = {
    "lib-pipelined": "send_all: one message's end of data with the next one's MAIL, RCPTs, DATA (1 round trip)",
    "lib-each": "one sendmail() each: MAIL, RCPTs, DATA in one write, then the data (2 round trips)",
    "lib-lockstep": "one sendmail() each, PIPELINING not used (R+3 round trips)",
    "smtplib": "MAIL, each RCPT, DATA in lockstep (R+3 round trips)",
    "poco-nodelay": "MAIL, each RCPT, DATA in lockstep (R+3 round trips), TCP_NODELAY set",
    "curl": "MAIL, each RCPT, DATA in lockstep (R+3 round trips)",
    "raw-pipelined": "what send_all writes, by hand, replies only counted (1 round trip)",
    "raw-lockstep": "one command, one reply, by hand (R+3 round trips)",
}
PER_MESSAGE.update({k: v[1] for k, v in PEERS.items()})
# The slowest peers (1 to 8 ms of CPU a message here) send at most this many
# messages a run, so that ./run bench e2e keeps to its time: their figures are
# per message all the same.
MESSAGES_CAP = {"aiosmtplib": 500, "nodemailer": 500}
# The clients that take R+3 round trips a message. At R > 1 they send fewer
# messages (as many round trips as MESSAGES at R = 1, at least LOCKSTEP_MIN
# messages): at R = 50 each of them took 4 to 6 s a run, most of the
# throughput part's time, while 500 messages are still 26,500 round trips.
LOCKSTEP = ("lib-lockstep", "raw-lockstep", "smtplib", "poco-nodelay", "curl", "aiosmtplib")
LOCKSTEP_MIN = 500
STYLES = {"aiosmtplib": ("<-", "C5"), "nodemailer": (">-", "C6"), "libesmtp": ("P-", "C7")}

# name -> (comparison, target); merged into run_e2e.TARGETS.
TARGETS = {
    "cpu_vs_floor_r1": ("<=", 1.15),
    "cpu_vs_floor_r10": None,
    "cpu_vs_floor_r50": ("<=", 1.5),
    "cpu_lockstep_vs_floor_r1": ("<=", 1.15),
    "cpu_lockstep_vs_floor_r50": None,
}


def messages_for(client, R, messages):
    """How many messages `client` sends a run at R recipients (MESSAGES_CAP,
    and LOCKSTEP's scaling); every figure is per message all the same."""
    n = messages
    if client in LOCKSTEP and R > 1:
        n = max(min(n, LOCKSTEP_MIN), n * 4 // (R + 3))
    return min(n, MESSAGES_CAP.get(client, n))


def node_modules(build):
    return os.path.join(build, "node")


def peer_argv(client, build, common):
    """The command line of a peer of PEERS; None for another client."""
    if client in MESSAGES_CAP:
        at = common.index("--count") + 1
        common = common[:at] + [str(min(int(common[at]), MESSAGES_CAP[client]))] + common[at + 1:]
    if client == "aiosmtplib":
        return [SYSTEM_PYTHON, os.path.join(HERE, "e2e_aiosmtplib.py")] + common
    if client == "nodemailer":
        return ["node", os.path.join(HERE, "e2e_nodemailer.js"), "--modules", node_modules(build)] + common
    if client == "libesmtp":
        return [os.path.join(build, "benchmarks", "smtp_e2e_peers"), "libesmtp"] + common
    return None


def available(client, build):
    """None when the peer can run here, else why not."""
    if client == "aiosmtplib":
        ok = subprocess.run([SYSTEM_PYTHON, "-c", "import aiosmtplib"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode == 0
        return None if ok else "no python3-aiosmtplib"
    if client == "nodemailer":
        if not shutil.which("node"):
            return "no node"
        if not os.path.isdir(os.path.join(node_modules(build), "node_modules", "nodemailer")):
            return "no nodemailer under %s (npm install --prefix %s nodemailer)" % (
                node_modules(build), node_modules(build))
        return None
    if client == "libesmtp":
        peers = os.path.join(build, "benchmarks", "smtp_e2e_peers")
        p = subprocess.run([peers, "libesmtp"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        return "smtp_e2e_peers built without libESMTP (libesmtp-dev)" if "unknown command" in p.stderr else None
    return None


def cpu_ratios(runs, recipients, rounds, ratio_entry, med):
    """The CPU-per-message ratios (library over floor) and the per-client
    figures. runs[client][R]: the rounds' JSON results."""

    def cpu(c, R, k=None):
        rs = runs[c][R]
        if k is None:
            return med([x["cpu_seconds"] / x["messages"] for x in rs])
        return rs[k]["cpu_seconds"] / rs[k]["messages"]

    ratios = {}
    for R in (1, 10, 50):
        if R not in recipients:
            continue
        pairs = [("cpu_vs_floor_r%d" % R, "lib-pipelined", "raw-pipelined")]
        if R != 10:
            pairs.append(("cpu_lockstep_vs_floor_r%d" % R, "lib-lockstep", "raw-lockstep"))
        for name, ours, floor in pairs:
            per_round = [cpu(ours, R, k) / cpu(floor, R, k) for k in range(rounds)]
            ratios[name] = ratio_entry(name, per_round, cpu(ours, R) / cpu(floor, R))
    per_client = {c: {str(R): cpu(c, R) * 1e6 for R in recipients} for c in runs}
    return ratios, per_client


# --- the capture check ---------------------------------------------------------------

class CaptureServer:
    """A minimal SMTP server on loopback that records what each transaction
    carried: {"mail": line, "rcpt": [lines], "data": octets as sent (dot-stuffed,
    with the final dot)}. Replies as each line comes, so pipelining clients work."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.transactions = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        f = conn.makefile("rb")

        def say(text):
            conn.sendall(text.encode())

        try:
            say("220 capture ESMTP\r\n")
            t = None
            while True:
                line = f.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    say("250-capture\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10240000\r\n")
                elif verb == b"MAIL":
                    t = {"mail": line.decode("ascii", "replace").rstrip(), "rcpt": [], "data": b""}
                    say("250 2.1.0 Ok\r\n")
                elif verb == b"RCPT":
                    t["rcpt"].append(line.decode("ascii", "replace").rstrip())
                    say("250 2.1.5 Ok\r\n")
                elif verb == b"DATA":
                    say("354 End data with <CR><LF>.<CR><LF>\r\n")
                    data = []
                    while True:
                        d = f.readline()
                        if not d:
                            return
                        data.append(d)
                        if d == b".\r\n":
                            break
                    t["data"] = b"".join(data)
                    with self.lock:
                        self.transactions.append(t)
                    say("250 2.0.0 Ok: queued\r\n")
                elif verb == b"QUIT":
                    say("221 2.0.0 Bye\r\n")
                    return
                else:  # RSET, NOOP
                    say("250 2.0.0 Ok\r\n")
        except OSError:
            return
        finally:
            conn.close()

    def take(self):
        with self.lock:
            t, self.transactions = self.transactions, []
        return t

    def stop(self):
        self.sock.close()


def capture_check(clients, argv_of, run_json, pin, log):
    """Each client sends a warm-up and one message of R=2 to the capturing
    server; its data octets are compared with the library's (lib-each)."""
    cap = CaptureServer()
    out = {}
    reference = None
    try:
        for c in ["lib-each"] + [c for c in clients if c != "lib-each"]:
            try:
                run_json(argv_of(c, cap.port), pin, "capture %s" % c, timeout=60)
            except Exception as e:  # a report, not a test: say what failed
                out[c] = {"error": str(e)[:300]}
                continue
            ts = cap.take()
            if not ts:
                out[c] = {"error": "no transaction captured"}
                continue
            t = ts[-1]
            if reference is None:
                reference = t["data"]
            e = {"transactions": len(ts), "data_octets": len(t["data"]),
                 "data_sha256": hashlib.sha256(t["data"]).hexdigest()[:16],
                 "same_data_as_library": t["data"] == reference,
                 "octets_over_library": len(t["data"]) - len(reference),
                 "mail": t["mail"], "rcpt": t["rcpt"]}
            if not e["same_data_as_library"]:
                extra = [l for l in t["data"].split(b"\r\n") if l not in reference.split(b"\r\n")]
                e["lines_not_in_library"] = [l.decode("utf-8", "replace") for l in extra][:5]
            out[c] = e
            log("capture %-14s %4d octets of data%s" % (c, e["data_octets"], "" if e["same_data_as_library"]
                                                           else " (differs: %+d octets)" % e["octets_over_library"]))
    finally:
        cap.stop()
    return out


def report_lines(tp, labels):
    """The CPU-per-message table for run_e2e.py's report."""
    cpu = tp.get("cpu_us_per_message")
    if not cpu:
        return []
    Rs = tp["recipients"]
    lines = ["  CPU time per message, the client's timed part (us), beside the floors:",
             "  %-38s" % "client" + "".join("%10s" % ("R=%d" % R) for R in Rs) + "   per message"]
    for c, by in cpu.items():
        lines.append("  %-38s" % labels.get(c, c) + "".join("%10.1f" % by[str(R)] for R in Rs)
                     + "   " + PER_MESSAGE.get(c, ""))
    cap = tp.get("capture")
    if cap:
        lines.append("  sent bytes (capture, one message, R=2): " + "; ".join(
            "%s %s" % (c, ("error" if "error" in e else "same" if e["same_data_as_library"]
                           else "%+d octets" % e["octets_over_library"])) for c, e in cap.items()))
    for c, why in tp.get("peers_missing", {}).items():
        lines.append("  (%s not run: %s)" % (c, why))
    return lines


# --- the plot ------------------------------------------------------------------

def plot_cpu(doc, paths, labels):
    """OUT/e2e-cpu.png: each client's CPU time per message (its timed part),
    one bar per R, the floors drawn hatched; log scale. Returns the paths
    written (none without the figures or without matplotlib)."""
    tp = doc.get("throughput") or {}
    cpu = tp.get("cpu_us_per_message")
    if not cpu:
        return []
    plt = e2e_plot.pyplot()
    if plt is None:
        return []
    Rs = tp["recipients"]
    # The library first, then the floors, then the peers, each in the table's order.
    clients = sorted(cpu, key=lambda c: (0 if c.startswith("lib-") else 1 if c.startswith("raw-") else 2))
    fig, ax = plt.subplots(figsize=(10.5, 5.6), dpi=100)
    width = 0.8 / max(1, len(Rs))
    for i, R in enumerate(Rs):
        xs = [k + (i - (len(Rs) - 1) / 2) * width for k in range(len(clients))]
        ys = [cpu[c][str(R)] for c in clients]
        bars = ax.bar(xs, ys, width, label="R = %d" % R, color="C%d" % i)
        for b, c in zip(bars, clients):
            if c.startswith("raw-"):
                b.set_hatch("//")
    ax.set_yscale("log")
    ax.set_xticks(range(len(clients)))
    ax.set_xticklabels([labels.get(c, c) for c in clients], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("client CPU time per message (us, log scale)")
    ax.set_title("CPU per message, %d x 1 KiB to smtp-sink on loopback, one connection; medians of %d rounds (%s)"
                 % (tp["messages"], tp["rounds"], doc["date"][:10]), fontsize=10)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return e2e_plot.save(plt, fig, paths)
