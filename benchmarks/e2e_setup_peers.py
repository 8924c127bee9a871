#!/usr/bin/python3
"""Connection set-up by Python's clients (benchmarks/e2e_rtt.py, the "setup" piece).

    e2e_setup_peers.py smtplib|aiosmtplib --port P --ca FILE --count N

N connections to 127.0.0.1:P (smtp_tls_sink behind the latency proxy), each
timed phase by phase as e2e_bench's `setup` times the library: connect and
the greeting, EHLO, STARTTLS and the TLS handshake (the certificate verified
against FILE), EHLO, AUTH PLAIN; QUIT untimed. One JSON line on stdout.
"""

import argparse
import asyncio
import json
import smtplib
import ssl
import sys
import time


def timed_smtplib(port, ctx):
    t = [time.perf_counter()]
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example")  # connect, greeting
    t.append(time.perf_counter())
    s.ehlo()
    t.append(time.perf_counter())
    s.starttls(context=ctx)
    t.append(time.perf_counter())
    s.ehlo()
    t.append(time.perf_counter())
    s.login("user", "password")  # PLAIN, the only mechanism offered: with an initial response
    t.append(time.perf_counter())
    s.quit()
    return t


async def timed_aiosmtplib(port, ctx):
    import aiosmtplib
    t = [time.perf_counter()]
    s = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, use_tls=False, start_tls=False,
                        local_hostname="client.example", tls_context=ctx)
    await s.connect()  # connect, greeting
    t.append(time.perf_counter())
    await s.ehlo()
    t.append(time.perf_counter())
    await s.starttls(tls_context=ctx)
    t.append(time.perf_counter())
    await s.ehlo()
    t.append(time.perf_counter())
    await s.login("user", "password")
    t.append(time.perf_counter())
    await s.quit()
    return t


def main():
    p = argparse.ArgumentParser()
    p.add_argument("client", choices=("smtplib", "aiosmtplib"))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--count", type=int, required=True)
    a = p.parse_args()
    ctx = ssl.create_default_context(cafile=a.ca)
    phases = {k: [] for k in ("connect_greeting_seconds", "ehlo_seconds", "starttls_handshake_seconds",
                              "ehlo_tls_seconds", "auth_seconds", "seconds")}
    for _ in range(a.count):
        if a.client == "smtplib":
            t = timed_smtplib(a.port, ctx)
        else:
            t = asyncio.run(timed_aiosmtplib(a.port, ctx))
        for k, i in zip(list(phases)[:5], range(5)):
            phases[k].append(t[i + 1] - t[i])
        phases["seconds"].append(t[5] - t[0])
    out = {"client": "%s-setup" % a.client, "connections": a.count}
    out.update(phases)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
