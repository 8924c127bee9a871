#!/usr/bin/python3
"""aiosmtplib (Debian's python3-aiosmtplib) on e2e_bench's `lib` workload
(benchmarks/run_e2e.py, benchmarks/e2e_cpu.py).

    e2e_aiosmtplib.py --port P --rcpt R --count N --message FILE

One connection to 127.0.0.1:P, EHLO, one untimed warm-up message, then N
messages with SMTP.sendmail() on one asyncio event loop (MAIL, each RCPT,
DATA in lockstep: aiosmtplib does not pipeline); one JSON line on stdout.
"""

import argparse
import asyncio
import json
import resource
import sys
import time

import aiosmtplib


async def run(a, message):
    to = ["rcpt%d@example.com" % i for i in range(a.rcpt)]
    s = aiosmtplib.SMTP(hostname="127.0.0.1", port=a.port, local_hostname="client.example",
                        use_tls=False, start_tls=False)
    await s.connect()
    await s.ehlo()
    await s.sendmail("author@example.com", to, message)  # warm-up
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(a.count):
        refused, _reply = await s.sendmail("author@example.com", to, message)
        if refused:
            sys.exit("e2e_aiosmtplib: refused: %r" % refused)
    t1 = time.perf_counter()
    c1 = time.process_time()
    await s.quit()
    return t1 - t0, c1 - c0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rcpt", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--message", required=True)
    a = p.parse_args()
    with open(a.message, "rb") as f:
        message = f.read()  # bytes: sent as they are, after aiosmtplib's dot-stuffing
    secs, cpu = asyncio.run(run(a, message))
    print(json.dumps({
        "client": "aiosmtplib",
        "version": aiosmtplib.__version__,
        "messages": a.count,
        "recipients": a.rcpt,
        "seconds": secs,
        "messages_per_second": a.count / secs,
        "cpu_seconds": cpu,
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }), flush=True)


if __name__ == "__main__":
    main()
