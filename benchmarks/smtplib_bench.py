#!/usr/bin/env python3
"""CPython's smtplib as the baseline, on the bytes that smtp_core_bench dumped.

    python3 smtplib_bench.py --inputs DIR [--out FILE] [--repetitions N]

DIR is what `smtp_core_bench --dump-inputs DIR` wrote (meta.json and the files
it names). Measured, each N times after one untimed warm-up run:

  encoder/{lf,crlf}     what SMTP.sendmail() and SMTP.data() do to a str
                        message: _fix_eols(msg).encode('ascii'), then
                        _quote_periods(), then CRLF if the data does not end
                        with one, then b'.' CRLF. Its output must equal the
                        C++ encoder's (encoded_*.bin), or this script fails.
  quotedata/{lf,crlf}   smtplib.quotedata(msg), for reference (str to str).
  getreply/{ehlo,mix}   SMTP.getreply() called once per reply, reading from an
                        io.BytesIO over the reply buffer instead of a socket.

Rates are input bytes per second (and replies per second for getreply). Each
result has the median ("seconds", "bytes_per_second", "replies_per_second")
and every sample: "times" (seconds) and "samples_bytes_per_second" (and
"samples_replies_per_second"), in the order they ran, so that a caller can
pool them with other runs. JSON goes to FILE, or to stdout.
"""

import argparse
import io
import json
import os
import smtplib
import statistics
import sys
import time

CRLF = b"\r\n"


def sendmail_data(msg):
    """What sendmail() and then data() make of a str message (Lib/smtplib.py)."""
    msg = smtplib._fix_eols(msg).encode("ascii")  # sendmail(): str -> bytes
    q = smtplib._quote_periods(msg)  # data()
    if q[-2:] != CRLF:
        q = q + CRLF
    q = q + b"." + CRLF
    return q


def median_time(fn, repetitions):
    """Median wall time of fn() over the repetitions, after one untimed warm-up run."""
    result = fn()
    times = []
    for _ in range(repetitions):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def getreply_all(data, replies):
    # Not connected: local_hostname avoids __init__'s socket.getfqdn() lookup,
    # which plays no part in getreply().
    s = smtplib.SMTP(local_hostname="localhost")
    s.file = io.BytesIO(data)

    def run():
        s.file.seek(0)
        getreply = s.getreply
        for _ in range(replies):
            getreply()
        return s.file.tell()

    def check():
        """Untimed: the replies' lines, and how far they reach."""
        s.file.seek(0)
        lines = sum(s.getreply()[1].count(b"\n") + 1 for _ in range(replies))
        return s.file.tell(), lines

    return run, check


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", required=True, help="directory written by smtp_core_bench --dump-inputs")
    ap.add_argument("--out", help="JSON output file (default: stdout)")
    ap.add_argument("--repetitions", type=int, default=5)
    args = ap.parse_args()

    with open(os.path.join(args.inputs, "meta.json")) as f:
        meta = json.load(f)

    def read(name):
        with open(os.path.join(args.inputs, name), "rb") as f:
            return f.read()

    results = {}
    for key in ("body_lf", "body_crlf"):
        m = meta[key]
        raw = read(m["file"])
        text = raw.decode("ascii")
        expected = read(m["encoded_file"])
        name = key.split("_", 1)[1]

        t, times, out = median_time(lambda: sendmail_data(text), args.repetitions)
        if out != expected:
            sys.exit(f"smtplib_bench: smtplib's output for {key} differs from the C++ encoder's "
                     f"({len(out)} vs {len(expected)} bytes)")
        results[f"encoder/{name}"] = {
            "bytes": len(raw), "seconds": t, "times": times,
            "bytes_per_second": len(raw) / t, "samples_bytes_per_second": [len(raw) / x for x in times],
            "output_bytes": len(out), "output_matches_cpp": True,
        }

        t, times, out = median_time(lambda: smtplib.quotedata(text), args.repetitions)
        results[f"quotedata/{name}"] = {
            "bytes": len(raw), "seconds": t, "times": times,
            "bytes_per_second": len(raw) / t, "samples_bytes_per_second": [len(raw) / x for x in times],
            "output_matches_cpp": out.encode("ascii") + b".\r\n" == expected,
        }

    for key in ("replies_ehlo", "replies_mix"):
        m = meta[key]
        data = read(m["file"])
        name = key.split("_", 1)[1]
        run, check = getreply_all(data, m["replies"])
        consumed, lines = check()
        t, times, _ = median_time(run, args.repetitions)
        if consumed != len(data) or lines != m["lines"]:
            sys.exit(f"smtplib_bench: getreply on {key} read {consumed} of {len(data)} bytes, "
                     f"{lines} of {m['lines']} lines")
        results[f"getreply/{name}"] = {
            "bytes": len(data), "replies": m["replies"], "seconds": t, "times": times,
            "bytes_per_second": len(data) / t, "replies_per_second": m["replies"] / t,
            "samples_bytes_per_second": [len(data) / x for x in times],
            "samples_replies_per_second": [m["replies"] / x for x in times],
        }

    doc = {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "repetitions": args.repetitions,
        "statistic": "median",
        "results": results,
    }
    text = json.dumps(doc, indent=2) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
