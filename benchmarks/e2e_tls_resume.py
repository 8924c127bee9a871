"""benchmarks/e2e_tls_resume.py: TLS connection set-up CPU with and without
session resumption, and the memory of an open TLS session (issue 16 section
2). run_e2e.py's "tls" part calls measure(); it is not run on its own.

Both run smtp_e2e_bench against smtp_tls_sink --fork 1 (OpenSSL's server:
TLS 1.3 with two session tickets a handshake, the children sharing the
parent's ticket keys), the certificate verified against the test CA:

1. tls-connect: N connections, each connect + EHLO + STARTTLS + EHLO + QUIT
   after one untimed warm-up; the client process's CPU time per connection.
   "full": tls_options::resume_sessions off (every handshake a full one, and
   each connection its own OpenSSL context, as before resumption existed);
   "full-shared": a tls_session_cache whose sessions expire at once (full
   handshakes, one shared context); "resumed": a tls_session_cache (every
   handshake after the warm-up resumes, one shared context). Rotated, a.rounds
   rounds; the ratio resumed / full-shared per round (lower is better): what
   resumption alone saves.
2. tls-idle: 1, then 64 open STARTTLS sessions after the second EHLO, async
   on one io_context as a pool keeps them; (heap with 64 - heap with 1) / 63,
   heap = mallinfo2 (OpenSSL allocates through malloc, so its share is in it);
   the RSS the same way as a cross-check. Median of 3 processes ->
   tls_session_bytes.
"""

CONNECTIONS = 60
IDLE_SESSIONS = 64
IDLE_RUNS = 3

TARGETS = {
    # Issue 16: memory per open TLS session, OpenSSL's included.
    "tls_session_bytes": ("<=", 65536),
    "tls_resumed_vs_full_handshake_cpu": None,
}


def measure(a, pin, work, certs, h):
    """h: run_e2e (Server, run_json, med, ratio_entry, log)."""
    import os

    bench = os.path.join(a.build, "benchmarks", "smtp_e2e_bench")
    ca = os.path.join(certs, "ca.pem")
    sink = h.Server("tls-sink-fork", [os.path.join(a.build, "benchmarks", "smtp_tls_sink"),
                                      "--cert", os.path.join(certs, "server.pem"),
                                      "--key", os.path.join(certs, "server.key"), "--port", "0", "--fork", "1"],
                    work, pin)
    n = 20 if a.quick else CONNECTIONS
    rounds = max(1, a.rounds)
    kinds = ("full", "full-shared", "resumed")
    flag = {"full": "0", "resumed": "1", "full-shared": "2"}
    per = {k: [] for k in kinds}
    idle = []
    try:
        for rnd in range(rounds):
            h.log("tls resumption: round %d of %d (%d connections each way)" % (rnd + 1, rounds, n))
            order = kinds[rnd % 3:] + kinds[:rnd % 3]
            for kind in order:
                r = h.run_json([bench, "tls-connect", "--port", str(sink.port), "--ca", ca, "--count", str(n),
                                "--resume", flag[kind]], pin, "tls-connect " + kind)
                per[kind].append(r)
        h.log("tls: memory of 1 and %d open STARTTLS sessions (%d processes)" % (IDLE_SESSIONS, IDLE_RUNS))
        for _ in range(IDLE_RUNS):
            idle.append(h.run_json([bench, "tls-idle", "--port", str(sink.port), "--ca", ca,
                                    "--sessions", str(IDLE_SESSIONS)], pin, "tls-idle"))
    finally:
        sink.stop()

    cpu = {k: [r["cpu_us_per_connection"] for r in v] for k, v in per.items()}
    res = {
        "connections_per_run": n,
        "rounds": rounds,
        "method": __doc__.split("\n\n", 1)[1].strip(),
        "handshake": {k: {"cpu_us_per_connection_median": h.med(cpu[k]),
                          "cpu_us_per_connection_rounds": cpu[k],
                          "wall_ms_per_connection_median": h.med([r["seconds"] * 1e3 / r["connections"]
                                                                  for r in per[k]])}
                      for k in per},
        "idle": {k: h.med([r[k] for r in idle]) for k in idle[0] if isinstance(idle[0][k], (int, float))},
    }
    full, shared, resumed = (res["handshake"][k] for k in kinds)
    res["handshake"]["cpu_us_saved_by_resumption"] = (shared["cpu_us_per_connection_median"]
                                                      - resumed["cpu_us_per_connection_median"])
    res["handshake"]["cpu_us_saved_by_shared_context"] = (full["cpu_us_per_connection_median"]
                                                          - shared["cpu_us_per_connection_median"])
    ratio_rounds = [r / f for r, f in zip(cpu["resumed"], cpu["full-shared"])]
    per_session = [r["heap_bytes_per_session"] for r in idle]
    res["ratios"] = {
        "tls_resumed_vs_full_handshake_cpu": h.ratio_entry(
            "tls_resumed_vs_full_handshake_cpu", ratio_rounds,
            resumed["cpu_us_per_connection_median"] / shared["cpu_us_per_connection_median"]),
        "tls_session_bytes": h.ratio_entry("tls_session_bytes", per_session, h.med(per_session)),
    }
    return res


def report_lines(t):
    """The report's lines for res["resume"] (run_e2e.py's print_report)."""
    if not t:
        return []
    hs, idle = t["handshake"], t["idle"]
    return [
        "TLS set-up (connect + EHLO + STARTTLS + EHLO + QUIT to smtp_tls_sink, %d connections x %d rounds), "
        "client CPU per connection: full handshake %.0f us with a context per connection, %.0f us with a "
        "shared one; resumed %.0f us (resumption saves %.0f us, ratio %.2f); wall %.1f / %.1f / %.1f ms" % (
            t["connections_per_run"], t["rounds"], hs["full"]["cpu_us_per_connection_median"],
            hs["full-shared"]["cpu_us_per_connection_median"], hs["resumed"]["cpu_us_per_connection_median"],
            hs["cpu_us_saved_by_resumption"], t["ratios"]["tls_resumed_vs_full_handshake_cpu"]["value"],
            hs["full"]["wall_ms_per_connection_median"], hs["full-shared"]["wall_ms_per_connection_median"],
            hs["resumed"]["wall_ms_per_connection_median"]),
        "Open STARTTLS session: %.0f heap bytes and %.0f RSS bytes per session (%d vs 1), target <= 65536 "
        "heap bytes: %s" % (idle["heap_bytes_per_session"], idle["rss_bytes_per_session"], idle["sessions"],
                            t["ratios"]["tls_session_bytes"]["result"]),
    ]
