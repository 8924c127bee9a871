#!/usr/bin/env python3
"""Runs smtp_session_bench and reports what logging costs a session.

Writes build/bench/session.json with the medians, the pool's messages per
second unthrottled and throttled (pool_messages_per_second), and
session_log_none_vs_empty_hooks (time with log::none over time with hooks
that do nothing: 1.0 when both compile to nothing; the verdict allows the
noise of this machine, 5%) and session_log_none_vs_callback_unset.
"""
import argparse
import json
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default="build/bench")
    args = ap.parse_args()
    binary = os.path.join(args.build, "benchmarks", "smtp_session_bench")
    pin = ["taskset", "-c", str(os.cpu_count() - 1)] if os.path.exists("/usr/bin/taskset") else []
    out = subprocess.run(pin + [binary, "--benchmark_format=json", "--benchmark_enable_random_interleaving=true",
                                "--benchmark_repetitions=9", "--benchmark_report_aggregates_only=true"],
                         check=True, capture_output=True, text=True).stdout
    runs = json.loads(out)["benchmarks"]
    medians = {b["run_name"]: b["real_time"] for b in runs
               if b.get("aggregate_name") == "median" and not b["run_name"].startswith("pool/")}
    # The pool's messages per second, unthrottled and against a throttling server.
    rates = {b["run_name"].split("/")[1]: b.get("items_per_second", 0.0) for b in runs
             if b.get("aggregate_name") == "median" and b["run_name"].startswith("pool/")}
    none, hooks, cb = (medians["session/log_none"], medians["session/empty_hooks"],
                       medians["session/log_callback_unset"])
    summary = {
        "median_ns_per_session": medians,
        "session_log_none_vs_empty_hooks": none / hooks,
        "session_log_none_vs_callback_unset": none / cb,
        "what": "time per scripted session (connect, EHLO, sendmail to 2, QUIT); lower is faster",
        "pool_messages_per_second": rates,
        "pool_what": "200 messages through smtp::pool (8 sessions) to an in-memory server; throttled: it serves "
                     "2 connections (421 to more) and answers 1 in 20 with 451 4.7.1; pauses of 1-8 ms",
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "session.json"), "w") as f:
        json.dump(summary, f, indent=1)
    ok = summary["session_log_none_vs_empty_hooks"] <= 1.05
    print("\nLogging cost per session (medians of 9, ns): "
          f"log::none {none:.0f}, empty hooks {hooks:.0f}, log::callback unset {cb:.0f}")
    print(f"  session_log_none_vs_empty_hooks      {summary['session_log_none_vs_empty_hooks']:.3f}"
          f"   <= 1.05   {'PASS' if ok else 'FAIL'}")
    print(f"  session_log_none_vs_callback_unset   {summary['session_log_none_vs_callback_unset']:.3f}")
    if rates:
        print("\nThe pool's messages per second (medians of 9; in-memory server, 8 sessions): "
              + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(rates.items(), reverse=True)))
    return 0  # a report, like run_benchmarks.py without --check


if __name__ == "__main__":
    sys.exit(main())
