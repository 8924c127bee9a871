#!/usr/bin/python3
"""CPython's smtplib on e2e_bench's `lib` workload (benchmarks/run_e2e.py).

    e2e_smtplib.py --port P --rcpt R --count N --message FILE

One connection to 127.0.0.1:P, EHLO, one untimed warm-up message, then N
messages with SMTP.sendmail() (MAIL, each RCPT, DATA in lockstep: smtplib
does not pipeline); one JSON line on stdout.
"""

import argparse
import json
import resource
import smtplib
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rcpt", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--message", required=True)
    a = p.parse_args()
    with open(a.message, "rb") as f:
        message = f.read()  # bytes: sent as they are, after smtplib's dot-stuffing
    to = ["rcpt%d@example.com" % i for i in range(a.rcpt)]
    s = smtplib.SMTP("127.0.0.1", a.port, local_hostname="client.example")
    s.ehlo()
    s.sendmail("author@example.com", to, message)  # warm-up
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(a.count):
        refused = s.sendmail("author@example.com", to, message)
        if refused:
            sys.exit("e2e_smtplib: refused: %r" % refused)
    t1 = time.perf_counter()
    c1 = time.process_time()
    s.quit()
    print(json.dumps({
        "client": "smtplib",
        "python": sys.version.split()[0],
        "messages": a.count,
        "recipients": a.rcpt,
        "seconds": t1 - t0,
        "messages_per_second": a.count / (t1 - t0),
        "cpu_seconds": c1 - c0,
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }), flush=True)


if __name__ == "__main__":
    main()
