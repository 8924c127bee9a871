"""Part "rtt" of benchmarks/run_e2e.py: across a real round-trip time (issue 16 §2).

This kernel has no netem: benchmarks/latency_proxy.cpp (smtp_latency_proxy)
stands between each client and its server on loopback and delays every byte
by D each way (RTT = 2 D), order kept, no bandwidth cap; it models the TCP
handshake by connecting to the server 3 D after it accepts (the greeting
reaches the client 2 RTT after its connect(), as across a network). Every
process (servers, proxy, clients) is pinned to the CPU the other parts use.

1. The proxy's own cost: a one-line ping-pong (e2e_bench rtt) to an echo
   server directly and through the proxy at D = 0, alternated 3 times: the
   difference of the medians is what the proxy adds to a round trip.
2. At 10 ms RTT, smtp-sink behind the proxy, 1 KiB messages, R = 1 and 10:
   every client of run_e2e.py's CLIENTS (the library's modes, the raw
   floors, smtplib and every peer), in rounds (order rotated), each ratio
   within a round, the median over the rounds. The RTT is measured through
   the proxy in each round (e2e_bench rtt). Messages per measurement: enough
   for RUN_BUDGET seconds at the client's expected pace (2 RTT a message for
   sendmail each, R+3 for the rest), between MIN_COUNT and MAX_COUNT;
   send_all and the pipelined floor MAX_COUNT (200).
3. The plot: R = 1, every client, at 0 (loopback, no proxy), 1, 5, 10 and
   50 ms RTT, one measurement at each but 10 ms (the rounds of 2), sized for
   SWEEP_BUDGET seconds (send_all included; 10 to 200 messages, 1,000 on
   loopback): messages per second against the RTT, with the one-RTT and the
   four-RTT bounds.
4. Connection set-up at 10 ms: TCP connect, greeting, EHLO, STARTTLS, the
   TLS 1.3 handshake, EHLO, AUTH PLAIN against smtp_tls_sink (certificate
   verified), each phase timed, in RTTs, for the library (e2e_bench setup),
   smtplib and aiosmtplib (e2e_setup_peers.py) and the curl command line
   (its --trace-time log: connect() to the 235 reply), against the
   protocol's minimum of 7 RTT (SETUP_MINIMUM says why).
5. The pool at 10 ms: smtp::pool with 1, 4, 16 and 64 sessions to
   smtp-sink behind the proxy: messages per second, 4,000 messages through
   each (POOL_MESSAGES; about 40 s through one session, at a round trip a
   message).
6. The window (windowed BDAT: send_all with transactions.window = W, e2e_bench
   lib --mode window) at 10 ms, W = 8 and 32, R = 1, against smtp_chunk_sink
   (benchmarks/chunk_sink.cpp: CHUNKING and PIPELINING, cheap) in the same
   rounds as 2 (WINDOW_MESSAGES_PER_W x W messages), and in the sweep; then,
   once, against Postfix's smtpd (tests/servers/postfix_server.py: CHUNKING
   on as Postfix ships it, a discard transport), directly and at 10 ms, with
   send_all, W = 8 and 32 and smtplib: what Postfix allows.
"""

import os
import re
import shutil
import subprocess

import e2e_plot

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SYSTEM_PYTHON = "/usr/bin/python3"

RTT_MS = 10
RECIPIENTS = (1, 10)
SWEEP_MS = (0, 1, 5, 10, 50)
RUN_BUDGET = 1.0   # seconds of sending a measurement at 10 ms is sized for
SWEEP_BUDGET = 1.0  # the same for the other points of the plot (one measurement each)
MIN_COUNT, MAX_COUNT, MAX_COUNT_LOOPBACK = 10, 200, 1000
WINDOWS = (8, 32)
WINDOW_MESSAGES_PER_W = 25
POSTFIX_SERVER = os.path.join(ROOT, "tests", "servers", "postfix_server.py")
POOL_SESSIONS = (1, 4, 16, 64)
POOL_MESSAGES = {1: 4000, 4: 4000, 16: 4000, 64: 4000}  # the 4,000 through each
SETUP_CONNECTIONS = 5
SETUP_MINIMUM = 7
SETUP_MINIMUM_WHY = (
    "2 RTT to the greeting (the SYN and SYN-ACK: 1 RTT; the server accepts when the ACK arrives, half an RTT "
    "later, and its greeting takes another half), EHLO 1 (RFC 2920: EHLO ends a pipelined group, and the "
    "client must see STARTTLS offered), STARTTLS 1 (RFC 3207: the TLS handshake starts only after the 220), "
    "the TLS 1.3 handshake 1 (ClientHello, then the server's flight to Finished; the client's Finished "
    "travels with the next command), EHLO 1 (RFC 3207: the client must discard what it knew and ask again), "
    "AUTH PLAIN with its initial response 1 (RFC 4954): 7 RTT from connect() to the 235")

# name -> (comparison, target); None: reported. run_e2e.py adds them to its TARGETS.
TARGETS = {
    "rtt10_pipelined_vs_bound_r1": (">=", 0.95),
    "rtt10_pipelined_vs_bound_r10": (">=", 0.95),
    "rtt10_vs_smtplib_r1": None,
    "rtt10_vs_smtplib_r10": None,
    "rtt10_lockstep_vs_bound_r1": None,
    "rtt10_lockstep_vs_bound_r10": None,
    "rtt10_smtplib_vs_bound_r1": None,
    "rtt10_pool16_vs_pool1": (">=", 12.0),
    "rtt10_window8_msgs_per_rtt": (">=", 6.4),
    "rtt10_window32_msgs_per_rtt": (">=", 24.0),
    "rtt10_window8_vs_smtplib_r1": (">=", 25.0),
    "rtt10_postfix_window8_msgs_per_rtt": None,
    "rtt10_postfix_window32_msgs_per_rtt": None,
    "rtt10_postfix_window8_vs_smtplib_r1": None,
    "rtt10_setup_lib_rtts": None,
    "proxy_overhead_us": None,
}


def peer_key(client):
    """rtt10_vs_<peer>_r10's <peer>: the client's name without "-nodelay", with "_" for "-"."""
    return re.sub(r"-nodelay$", "", client).replace("-", "_")


def peers(clients):
    return [c for c in clients if not c.startswith(("lib-", "raw-"))]


def round_trips_per_message(client, R):
    """The pace a measurement is sized for (not a claim about the client)."""
    if client.startswith("lib-window"):
        return 1.0 / int(client[len("lib-window"):])
    if client in ("lib-pipelined", "raw-pipelined"):
        return 1
    if client == "lib-each":
        return 2
    return R + 3


def count_for(client, R, rtt, budget, loopback=False):
    if client.startswith("lib-window"):
        return WINDOW_MESSAGES_PER_W * int(client[len("lib-window"):]) * (4 if loopback else 1)
    n = int(budget / (round_trips_per_message(client, R) * max(rtt, 1e-6)))
    return max(MIN_COUNT, min(MAX_COUNT_LOOPBACK if loopback else MAX_COUNT, n))


def argv_for(core, a, client, port, R, count, msg):
    if client.startswith("lib-window"):
        return [os.path.join(a.build, "benchmarks", "smtp_e2e_bench"), "lib", "--mode", "window", "--window",
                client[len("lib-window"):], "--port", str(port), "--rcpt", str(R), "--count", str(count),
                "--message", msg]
    return core.client_argv(client, a.build, port, R, count, msg)


class Net:
    """Servers and proxies of this part, stopped together."""

    def __init__(self, core, a, pin, work):
        self.core, self.a, self.pin, self.work = core, a, pin, work
        self.bench = os.path.join(a.build, "benchmarks", "smtp_e2e_bench")
        self.proxy_bin = os.path.join(a.build, "benchmarks", "smtp_latency_proxy")
        self.servers = []

    def start(self, name, argv, **kw):
        s = self.core.Server(name, argv, self.work, self.pin, **kw)
        self.servers.append(s)
        return s

    def sink(self):
        port = self.core.free_port()
        return self.start("smtp-sink-rtt", [self.core.SMTP_SINK, "%s:%d" % (self.core.HOST, port), "256"],
                          port=port, as_nobody=True)

    def proxy(self, target_port, rtt_ms):
        d = int(rtt_ms * 1000 / 2)
        return self.start("latency-proxy-%gms" % rtt_ms, [self.proxy_bin, "--target", str(target_port),
                                                          "--port", "0", "--delay-us", str(d)])

    def rtt(self, port, count, warmup):
        r = self.core.run_json([self.bench, "rtt", "--port", str(port), "--count", str(count),
                                "--warmup", str(warmup)], self.pin, "rtt")
        return r["rtt_seconds"]

    def stop(self):
        for s in reversed(self.servers):
            s.stop()
        self.servers = []


def part_rtt(core, a, pin, work):
    if not os.access(os.path.join(a.build, "benchmarks", "smtp_latency_proxy"), os.X_OK):
        raise core.BenchError("%s/benchmarks/smtp_latency_proxy is missing: build it (./run bench e2e)" % a.build)
    msg = os.path.join(work, "message-1k.eml")
    if not os.path.exists(msg):
        core.make_1k_message(msg)
    quick = a.quick
    budget = 0.3 if quick else RUN_BUDGET
    rounds = 1 if quick else min(a.rounds, 3)
    cpu = getattr(core, "e2e_cpu", None)  # the peers' availability (benchmarks/e2e_cpu.py)
    missing = {c: why for c in core.CLIENTS for why in [cpu and c in cpu.PEERS and cpu.available(c, a.build)] if why}
    for c, why in missing.items():
        core.log("rtt: %s left out: %s" % (c, why))
    clients = [c for c in core.CLIENTS if c not in missing]
    windows = ["lib-window%d" % w for w in WINDOWS]
    has_chunk_sink = os.access(os.path.join(a.build, "benchmarks", "smtp_chunk_sink"), os.X_OK)
    if not has_chunk_sink:
        core.log("rtt: no smtp_chunk_sink in %s: no window figures" % a.build)
        windows = []
    net = Net(core, a, pin, work)
    labels = {c: core.CLIENT_LABELS.get(c, c) for c in clients}
    labels.update({w: "smtp send_all, BDAT window %s (chunk sink)" % w[len("lib-window"):] for w in windows})
    res = {"rtt_ms": RTT_MS, "rounds": rounds, "recipients": list(RECIPIENTS), "message_octets": 1024,
           "run_budget_seconds": budget, "clients": clients, "windows": windows, "labels": labels,
           "peers_missing": missing}
    try:
        echo = net.start("echo-rtt", [net.bench, "echo-server", "--port", "0"])
        sink = net.sink()
        chunk = net.start("chunk-sink", [os.path.join(a.build, "benchmarks", "smtp_chunk_sink"), "--port", "0"]) \
            if windows else None

        # 1. The proxy's own cost.
        core.log("rtt: the proxy's overhead (ping-pong direct and through it at 0 ms added)")
        p0 = net.proxy(echo.port, 0)
        n = 2000 if quick else 5000
        direct, proxied = [], []
        for _ in range(1 if quick else 3):
            direct.append(net.rtt(echo.port, n, 1000))
            proxied.append(net.rtt(p0.port, n, 1000))
        res["proxy"] = {"direct_rtt_us": core.med(direct) * 1e6, "proxied_rtt_us": core.med(proxied) * 1e6,
                        "overhead_us": (core.med(proxied) - core.med(direct)) * 1e6,
                        "direct_rounds_us": [x * 1e6 for x in direct],
                        "proxied_rounds_us": [x * 1e6 for x in proxied]}

        # 2. At 10 ms, R = 1 and 10, in rounds.
        proxy_sink = net.proxy(sink.port, RTT_MS)
        proxy_echo = net.proxy(echo.port, RTT_MS)
        proxy_chunk = net.proxy(chunk.port, RTT_MS) if windows else None
        runs = {c: {R: [] for R in RECIPIENTS} for c in clients}
        wruns = {w: [] for w in windows}
        rtts = []
        for rnd in range(rounds):
            core.log("rtt: %d ms, round %d of %d" % (RTT_MS, rnd + 1, rounds))
            rtt = net.rtt(proxy_echo.port, 40, 5)
            rtts.append(rtt)
            for R in RECIPIENTS:
                k = rnd % len(clients)
                order = clients[k:] + clients[:k]
                if rnd % 2:
                    order.reverse()
                for c in order:
                    # send_all and its floor: 200 messages, as the issue has it; the rest by the budget.
                    count = MAX_COUNT if round_trips_per_message(c, R) == 1 else count_for(c, R, rtt, budget)
                    r = core.run_json(core.client_argv(c, a.build, proxy_sink.port, R, count, msg), pin,
                                      "%s R=%d at %d ms" % (c, R, RTT_MS))
                    runs[c][R].append(r)
            for w in (windows if rnd % 2 == 0 else list(reversed(windows))):
                wruns[w].append(core.run_json(argv_for(core, a, w, proxy_chunk.port, 1, count_for(w, 1, rtt, budget),
                                                       msg), pin, "%s at %d ms" % (w, RTT_MS)))
        res["rtt"] = {"seconds": core.med(rtts), "rounds": rtts}
        res["window"] = {w: {
            "messages": wruns[w][0]["messages"],
            "messages_per_second": core.med([x["messages_per_second"] for x in wruns[w]]),
            "rounds": [x["messages_per_second"] for x in wruns[w]],
            "messages_per_rtt": core.med([x["messages_per_second"] * rtts[i] for i, x in enumerate(wruns[w])]),
            "server_offers_chunking": wruns[w][0].get("server_offers_chunking"),
        } for w in windows}
        res["results"] = {c: {str(R): {
            "messages": [x["messages"] for x in runs[c][R]],
            "messages_per_second": core.med([x["messages_per_second"] for x in runs[c][R]]),
            "rounds": [x["messages_per_second"] for x in runs[c][R]],
            "rtts_per_message": core.med([rtts[i] and 1 / (x["messages_per_second"] * rtts[i])
                                          for i, x in enumerate(runs[c][R])]),
        } for R in RECIPIENTS} for c in clients}

        # 3. The sweep for the plot (R = 1); 10 ms from the rounds above.
        sweep = {str(RTT_MS): {"rtt_seconds": core.med(rtts),
                               "clients": dict({c: res["results"][c]["1"]["messages_per_second"] for c in clients},
                                               **{w: res["window"][w]["messages_per_second"] for w in windows})}}
        for ms in SWEEP_MS:
            if ms == RTT_MS:
                continue
            core.log("rtt: the sweep, %g ms" % ms)
            if ms == 0:
                port, rtt = sink.port, net.rtt(echo.port, 2000, 100)
                wport = chunk.port if windows else None
            else:
                port = net.proxy(sink.port, ms).port
                wport = net.proxy(chunk.port, ms).port if windows else None
                rtt = net.rtt(net.proxy(echo.port, ms).port, 20 if ms >= 10 else 100, 3)
            point = {"rtt_seconds": rtt, "clients": {}, "messages": {}}
            for c in clients + windows:
                count = count_for(c, 1, rtt, min(budget, SWEEP_BUDGET), loopback=(ms == 0))
                r = core.run_json(argv_for(core, a, c, wport if c in windows else port, 1, count, msg), pin,
                                  "%s R=1 at %g ms" % (c, ms))
                point["clients"][c] = r["messages_per_second"]
                point["messages"][c] = r["messages"]
            sweep[str(ms)] = point
        res["sweep"] = {k: sweep[k] for k in sorted(sweep, key=float)}

        # 5. The pool at 10 ms.
        pool_runs = {k: [] for k in POOL_SESSIONS}
        pool_rounds = 1 if quick else 2
        for rnd in range(pool_rounds):
            core.log("rtt: the pool at %d ms, round %d of %d" % (RTT_MS, rnd + 1, pool_rounds))
            for k in (POOL_SESSIONS if rnd % 2 == 0 else tuple(reversed(POOL_SESSIONS))):
                count = POOL_MESSAGES[k] // (10 if quick else 1)
                pool_runs[k].append(core.run_json(
                    [net.bench, "pool", "--port", str(proxy_sink.port), "--sessions", str(k), "--count", str(count),
                     "--rcpt", "1", "--message", msg], pin, "pool %d at %d ms" % (k, RTT_MS)))
        res["pool"] = {"rounds": pool_rounds, "sessions": {str(k): {
            "messages": pool_runs[k][0]["messages"],
            "messages_per_second": core.med([r["messages_per_second"] for r in pool_runs[k]]),
            "rounds": [r["messages_per_second"] for r in pool_runs[k]],
            "sessions_opened": core.med([r["sessions_opened"] for r in pool_runs[k]]),
            "most_sessions_open": core.med([r["most_sessions_open"] for r in pool_runs[k]]),
            "maxrss_kib": core.med([r["maxrss_kib"] for r in pool_runs[k]]),
        } for k in POOL_SESSIONS}}
    finally:
        net.stop()

    # 4. Connection set-up at 10 ms (its own servers: the TLS sink).
    res["setup"] = part_setup(core, a, pin, work, net)
    # 6. Postfix, once.
    if windows:
        try:
            res["postfix"] = part_postfix(core, a, pin, work, net, msg, budget)
        except core.BenchError as e:
            core.log("rtt: Postfix: %s" % e)
            res["postfix"] = {"error": str(e)}

    # Ratios, each within a round.
    def rate(c, R, k=None):
        xs = [x["messages_per_second"] for x in runs[c][R]]
        return core.med(xs) if k is None else xs[k]

    def wrate(w, k=None):
        xs = [x["messages_per_second"] for x in wruns[w]]
        return core.med(xs) if k is None else xs[k]

    def rtt_of(k=None):
        return core.med(rtts) if k is None else rtts[k]

    ratios = {}

    def add(name, fn, n=rounds):
        core.TARGETS.setdefault(name, TARGETS.get(name))
        ratios[name] = core.ratio_entry(name, [fn(k) for k in range(n)], fn(None))

    for R in RECIPIENTS:
        add("rtt10_pipelined_vs_bound_r%d" % R, lambda k, R=R: rate("lib-pipelined", R, k) * rtt_of(k))
        add("rtt10_lockstep_vs_bound_r%d" % R, lambda k, R=R: rate("lib-lockstep", R, k) * (R + 3) * rtt_of(k))
        add("rtt10_vs_smtplib_r%d" % R, lambda k, R=R: rate("lib-pipelined", R, k) / rate("smtplib", R, k))
    add("rtt10_smtplib_vs_bound_r1", lambda k: rate("smtplib", 1, k) * 4 * rtt_of(k))
    for c in peers(clients):
        if c != "smtplib":
            add("rtt10_vs_%s_r10" % peer_key(c), lambda k, c=c: rate("lib-pipelined", 10, k) / rate(c, 10, k))
    for w in windows:
        W = w[len("lib-window"):]
        add("rtt10_window%s_msgs_per_rtt" % W, lambda k, w=w: wrate(w, k) * rtt_of(k))
        if W == "8":
            add("rtt10_window8_vs_smtplib_r1", lambda k, w=w: wrate(w, k) / rate("smtplib", 1, k))
    pf = res.get("postfix", {})
    for key, (num, den) in (("rtt10_postfix_window8_msgs_per_rtt", ("lib-window8", None)),
                            ("rtt10_postfix_window32_msgs_per_rtt", ("lib-window32", None)),
                            ("rtt10_postfix_window8_vs_smtplib_r1", ("lib-window8", "smtplib"))):
        if "10" in pf.get("rates", {}):
            at = pf["rates"]["10"]
            v = at[num] / at[den] if den else at[num] * pf["rtt_seconds"]
            add(key, lambda k, v=v: v, 1)
    pr = {k: [r["messages_per_second"] for r in pool_runs[k]] for k in POOL_SESSIONS}
    add("rtt10_pool16_vs_pool1",
        lambda k: (core.med(pr[16]) / core.med(pr[1])) if k is None else pr[16][k] / pr[1][k], pool_rounds)
    add("proxy_overhead_us", lambda k: res["proxy"]["overhead_us"] if k is None else
        proxied[k] * 1e6 - direct[k] * 1e6, len(direct))
    lib = res["setup"]["clients"].get("lib")
    if lib:
        add("rtt10_setup_lib_rtts", lambda k: lib["rtts"] if k is None else lib["rtts_each"][k], len(lib["rtts_each"]))
    for c, e in res["setup"]["clients"].items():
        if c != "lib":
            add("rtt10_setup_%s_rtts" % peer_key(c), lambda k, e=e: e["rtts"] if k is None else e["rtts_each"][k],
                len(e["rtts_each"]))
    res["ratios"] = ratios
    return res


# --- Postfix ---------------------------------------------------------------------------

def part_postfix(core, a, pin, work, net, msg, budget):
    """Postfix's smtpd with CHUNKING (as shipped) and a discard transport:
    send_all (BDAT, the default window), W = 8 and 32, smtplib; directly and
    at 10 ms; once (one measurement each)."""
    if os.geteuid() != 0:
        raise core.BenchError("a private Postfix needs root (tests/servers/postfix_server.py)")
    d = os.path.join(work, "postfix-rtt")
    shutil.rmtree(d, ignore_errors=True)
    core.log("rtt: Postfix's smtpd (CHUNKING, discard), directly and at %d ms" % RTT_MS)
    clients = ("lib-pipelined", "lib-window8", "lib-window32", "smtplib")
    out = {"server": "Postfix smtpd, CHUNKING and PIPELINING as shipped, virtual_transport = discard:",
           "rates": {}, "messages": {}}
    try:
        pf = net.start("postfix-rtt", [SYSTEM_PYTHON, POSTFIX_SERVER, "--dir", d, "--domain", "example.com",
                                       "-o", "virtual_transport=discard:"])
        echo = net.start("echo-postfix", [net.bench, "echo-server", "--port", "0"])
        for ms in (0, RTT_MS):
            port = pf.port if ms == 0 else net.proxy(pf.port, ms).port
            rtt = net.rtt(echo.port if ms == 0 else net.proxy(echo.port, ms).port, 40, 5)
            at, n = {}, {}
            for c in clients:
                count = 200 if c != "smtplib" else count_for(c, 1, rtt, budget)
                r = core.run_json(argv_for(core, a, c, port, 1, count, msg), pin, "%s to Postfix at %d ms" % (c, ms))
                at[c], n[c] = r["messages_per_second"], r["messages"]
            out["rates"][str(ms)], out["messages"][str(ms)] = at, n
            if ms == RTT_MS:
                out["rtt_seconds"] = rtt
    finally:
        net.stop()
    return out


# --- connection set-up ---------------------------------------------------------------

PHASES = ("connect_greeting_seconds", "ehlo_seconds", "starttls_handshake_seconds", "ehlo_tls_seconds",
          "auth_seconds")


def curl_setup(port, ca, count):
    """The curl command line: connect(), greeting, EHLO, STARTTLS, handshake,
    EHLO, AUTH PLAIN (as shipped: without an initial response, so two round
    trips; --sasl-ir makes it one), then NOOP; timed from its --trace-time
    log (the connect attempt to the 235), the phases from the replies' times."""
    totals, phases = [], {p: [] for p in PHASES}
    for _ in range(count):
        p = subprocess.run(["curl", "-v", "--trace-time", "-sS", "--ssl-reqd", "--cacert", ca, "-u",
                            "user:password", "-X", "NOOP", "smtp://127.0.0.1:%d" % port],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=30)
        if p.returncode != 0:
            return None
        stamps = []  # (seconds since midnight, text)
        for line in p.stderr.splitlines():
            m = re.match(r"(\d\d):(\d\d):(\d\d\.\d+) (.*)", line)
            if m:
                stamps.append((int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)), m.group(4)))

        def at(pattern, after=0.0):
            for t, text in stamps:
                if t >= after and re.match(pattern, text):
                    return t
            raise ValueError(pattern)
        try:
            t0 = at(r"\*\s+Trying")
            g = at(r"< 220 ")
            e1 = at(r"< 250 ", g)
            st = at(r"< 220 ", e1)
            hs = at(r"\* SSL connection using", st)
            e2 = at(r"< 250 ", hs)
            au = at(r"< 235 ", e2)
        except ValueError:
            return None
        if au < t0:  # past midnight
            return None
        for name, (x, y) in zip(PHASES, ((t0, g), (g, e1), (e1, hs), (hs, e2), (e2, au))):
            phases[name].append(y - x)
        totals.append(au - t0)
    return dict(phases, seconds=totals)


def part_setup(core, a, pin, work, net):
    certs = os.path.join(work, "certs")
    if not os.path.exists(os.path.join(certs, "ca.pem")):
        made = subprocess.run(["bash", core.MAKE_CERTS, certs], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if made.returncode != 0:
            raise core.BenchError("make_certs.sh failed: %s" % made.stdout.decode("utf-8", "replace"))
    ca = os.path.join(certs, "ca.pem")
    n = 2 if a.quick else SETUP_CONNECTIONS
    out = {"minimum_rtts": SETUP_MINIMUM, "minimum_why": SETUP_MINIMUM_WHY, "connections": n, "clients": {},
           "server": "smtp_tls_sink (OpenSSL, TLS 1.3, a 2048-bit RSA certificate from tests/servers/make_certs.sh)"}
    try:
        sink = net.start("tls-sink-setup", [os.path.join(a.build, "benchmarks", "smtp_tls_sink"), "--cert",
                                            os.path.join(certs, "server.pem"), "--key",
                                            os.path.join(certs, "server.key"), "--port", "0"])
        echo = net.start("echo-setup", [net.bench, "echo-server", "--port", "0"])
        proxy = net.proxy(sink.port, RTT_MS)
        rtt = net.rtt(net.proxy(echo.port, RTT_MS).port, 40, 5)
        out["rtt_seconds"] = rtt
        core.log("rtt: connection set-up at %d ms" % RTT_MS)
        runs = {"lib": lambda: core.run_json([net.bench, "setup", "--port", str(proxy.port), "--ca", ca,
                                              "--count", str(n)], pin, "lib set-up"),
                "smtplib": lambda: core.run_json([SYSTEM_PYTHON, os.path.join(HERE, "e2e_setup_peers.py"), "smtplib",
                                                  "--port", str(proxy.port), "--ca", ca, "--count", str(n)], pin,
                                                 "smtplib set-up")}
        if subprocess.run([SYSTEM_PYTHON, "-c", "import aiosmtplib"], stderr=subprocess.DEVNULL).returncode == 0:
            runs["aiosmtplib"] = lambda: core.run_json(
                [SYSTEM_PYTHON, os.path.join(HERE, "e2e_setup_peers.py"), "aiosmtplib", "--port", str(proxy.port),
                 "--ca", ca, "--count", str(n)], pin, "aiosmtplib set-up")
        if shutil.which("curl"):
            runs["curl-cli"] = lambda: curl_setup(proxy.port, ca, n)
        for c, fn in runs.items():
            r = fn()
            if r is None:
                out.setdefault("failed", []).append(c)
                continue
            out["clients"][c] = {
                "seconds": core.med(r["seconds"]),
                "rtts": core.med(r["seconds"]) / rtt,
                "rtts_each": [x / rtt for x in r["seconds"]],
                "phases_rtts": {p: core.med(r[p]) / rtt for p in PHASES},
            }
        out["tls"] = sorted(set(sink.stderr().split("\n")) - {""})[:2]
    finally:
        net.stop()
    return out


# --- report and plot --------------------------------------------------------------------

def print_rtt(doc, p=print):
    r = doc.get("rtt")
    if not r:
        return
    px = r["proxy"]
    p("\nAcross a round-trip time: smtp-sink behind benchmarks/latency_proxy.cpp, every process on CPU %s." % doc["cpu"])
    p("  the proxy's own cost: ping-pong %.1f us direct, %.1f us through it at 0 ms added: +%.1f us a round trip"
      % (px["direct_rtt_us"], px["proxied_rtt_us"], px["overhead_us"]))
    p("  at %d ms (measured %.2f ms), 1 KiB messages, medians of %d rounds (messages per measurement: %.1f s "
      "at the client's pace, %d..%d):" % (r["rtt_ms"], r["rtt"]["seconds"] * 1e3, r["rounds"], r["run_budget_seconds"],
                                          MIN_COUNT, MAX_COUNT))
    p("  %-38s %4s %12s %14s %8s" % ("client", "R", "messages/s", "RTTs a message", "messages"))
    for c in r["clients"]:
        for R in r["recipients"]:
            e = r["results"][c][str(R)]
            p("  %-38s %4d %12.1f %14.2f %8d" % (r["labels"][c], R, e["messages_per_second"], e["rtts_per_message"],
                                                e["messages"][0]))
    p("  bound, one round trip a message: %.1f/s" % (1 / r["rtt"]["seconds"]))
    p("\n  R = 1, messages per second against the RTT:")
    ms = list(r["sweep"])
    p("  %-38s " % "client" + " ".join("%9s" % ("%s ms" % m) for m in ms))
    for c in r["clients"]:
        p("  %-38s " % r["labels"][c] + " ".join("%9.1f" % r["sweep"][m]["clients"][c] for m in ms))
    for w in r.get("windows", []):
        p("  %-38s " % r["labels"][w] + " ".join("%9.1f" % r["sweep"][m]["clients"][w] for m in ms))
    p("  %-38s " % "measured RTT (ms)" + " ".join("%9.3f" % (r["sweep"][m]["rtt_seconds"] * 1e3) for m in ms))
    for w in r.get("windows", []):
        e = r["window"][w]
        p("  %-38s %4d %12.1f %14s %8d   %.2f messages a round trip" % (
            r["labels"][w], 1, e["messages_per_second"], "-", e["messages"], e["messages_per_rtt"]))
    pf = r.get("postfix")
    if pf and pf.get("rates"):
        p("\n  Postfix smtpd (CHUNKING, discard transport), messages/s, R = 1:")
        for ms, at in pf["rates"].items():
            p("    %s ms: " % ms + "; ".join("%s %.0f" % (c, v) for c, v in at.items()))
    elif pf:
        p("\n  Postfix: %s" % pf.get("error"))
    pl = r["pool"]
    p("\n  smtp::pool at %d ms: " % r["rtt_ms"] + "; ".join(
        "%s sessions %.0f/s (%d messages)" % (k, e["messages_per_second"], e["messages"])
        for k, e in pl["sessions"].items()))
    s = r.get("setup")
    if s and s.get("clients"):
        p("\n  connection set-up at %d ms (measured %.2f ms), in RTTs; the protocol's minimum is %d:" % (
            r["rtt_ms"], s["rtt_seconds"] * 1e3, s["minimum_rtts"]))
        p("  %-12s %7s %9s %6s %10s %6s %6s" % ("client", "total", "greeting", "EHLO", "STARTTLS+", "EHLO", "AUTH"))
        for c, e in s["clients"].items():
            ph = e["phases_rtts"]
            p("  %-12s %7.2f %9.2f %6.2f %10.2f %6.2f %6.2f" % (c, e["rtts"], *(ph[x] for x in PHASES)))
        if s.get("failed"):
            p("  (could not run: %s)" % ", ".join(s["failed"]))


STYLES = {"lib-pipelined": ("o-", "C0"), "lib-each": ("s-", "C9"), "lib-lockstep": ("^-", "C2"),
          "smtplib": ("v-", "C3"), "poco-nodelay": ("D-", "C4"), "curl": ("x-", "C1"),
          "raw-pipelined": ("o--", "black"), "raw-lockstep": ("^--", "black"),
          "lib-window8": ("*-", "navy"), "lib-window32": ("*-", "magenta")}


def plot_rtt(doc, paths):
    r = doc.get("rtt")
    if not r:
        return []
    plt = e2e_plot.pyplot()
    if plt is None:
        return []
    ms = list(r["sweep"])
    xs = [r["sweep"][m]["rtt_seconds"] * 1e3 for m in ms]
    fig, ax = plt.subplots(figsize=(10.5, 5.6), dpi=100)
    styles = dict(STYLES)
    try:
        import e2e_cpu  # the peers' styles
        styles.update(e2e_cpu.STYLES)
    except ImportError:
        pass
    extra = iter(["C5", "C6", "C7", "C8", "olive", "teal", "maroon", "gold"])
    for c in r["clients"] + r.get("windows", []):
        st, col = styles.get(c) or ("P-", next(extra, "grey"))
        ax.plot(xs, [r["sweep"][m]["clients"][c] for m in ms], st, color=col, label=r["labels"][c],
                markerfacecolor="none" if c.startswith("raw-") else col)
    line = [x for x in xs if x > 0.5]
    ax.plot(line, [1e3 / x for x in line], ":", color="grey", label="bound: 1 round trip a message")
    ax.plot(line, [1e3 / (4 * x) for x in line], ":", color="grey", linewidth=2,
            label="bound: 4 round trips a message (lockstep, R = 1)")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_yscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels(["%.3g" % x for x in xs])
    ax.set_xlabel("round-trip time, ms (measured; the first point: loopback, no proxy)")
    ax.set_ylabel("messages per second (1 KiB, R = 1, one connection)")
    ax.set_title("smtp-sink behind a latency-injecting proxy, every process on one CPU (%s)" % doc["date"][:10],
                 fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return e2e_plot.save(plt, fig, paths)
