#!/usr/bin/env python3
"""Runs smtp_dkim_bench and dkim_bench.py (dkimpy) and reports DKIM signing
throughput: each (key, canonicalisation) on 1 KiB and 1 MiB messages, over
a plain SHA-256 of the same bytes (the ceiling: any signer hashes the body at
least once) and over dkimpy on the same bytes.

    python3 benchmarks/dkim_report.py --build build --out build/bench [--rounds 3] [--repetitions 5]

As run_benchmarks.py does, each ratio is computed within a round (the C++
median of the round over the round's reference median) and the value shown is
the median of the per-round ratios. Writes OUT/dkim.json. A report: no targets.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = (1024, 1024 * 1024)
SIGNERS = ("dkim_rsa_relaxed", "dkim_rsa_simple", "dkim_ed25519_relaxed", "dkim_ed25519_simple")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default="build/bench")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repetitions", type=int, default=5)
    args = ap.parse_args()
    binary = os.path.join(args.build, "benchmarks", "smtp_dkim_bench")
    inputs = os.path.join(args.out, "dkim_inputs")
    os.makedirs(args.out, exist_ok=True)
    subprocess.run([binary, "--dump", inputs], check=True)
    pin = ["taskset", "-c", str(os.cpu_count() - 1)] if os.path.exists("/usr/bin/taskset") else []
    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    rounds = []  # [(cpp {name: [rates]}, py {name: [rates]})]
    for k in range(args.rounds):
        print(f"dkim_report: round {k + 1}/{args.rounds}", file=sys.stderr)
        out = subprocess.run(pin + [binary, "--benchmark_format=json", "--benchmark_enable_random_interleaving=true",
                                    f"--benchmark_repetitions={args.repetitions}", "--benchmark_min_time=0.2",
                                    "--benchmark_report_aggregates_only=false"],
                             check=True, capture_output=True, text=True).stdout
        cpp = {}
        for b in json.loads(out)["benchmarks"]:
            if b.get("run_type") != "aggregate":
                cpp.setdefault(b["run_name"], []).append(b["bytes_per_second"])
        py = json.loads(subprocess.run(pin + [python, os.path.join(HERE, "dkim_bench.py"), "--inputs", inputs,
                                              "--repetitions", str(args.repetitions)],
                                       check=True, capture_output=True, text=True).stdout)
        rounds.append((cpp, py))

    def med(side, name):
        return statistics.median(v for r in rounds for v in r[side][name])

    def ratio(name, ref, ref_side):
        return statistics.median(statistics.median(r[0][name]) / statistics.median(r[ref_side][ref]) for r in rounds)

    summary = {"MB_per_s": {}, "vs_sha256": {}, "vs_dkimpy": {}}
    print(f"\nDKIM signing, medians of {args.rounds} rounds x {args.repetitions} repetitions (MB = 10^6 bytes); "
          "ratios: median of the per-round ratios")
    print(f"  {'signer':<24} {'size':>8} {'MB/s':>9} {'dkimpy MB/s':>12} {'vs SHA-256':>11} {'vs dkimpy':>10}")
    for size in SIZES:
        sha = f"sha256/{size}"
        summary["MB_per_s"][sha] = med(0, sha) / 1e6
        print(f"  {'SHA-256 (ceiling)':<24} {size:>8} {med(0, sha) / 1e6:9.1f}")
        for s in SIGNERS:
            name = f"{s}/{size}"
            summary["MB_per_s"][name] = med(0, name) / 1e6
            summary["MB_per_s"]["dkimpy " + name] = med(1, name) / 1e6
            summary["vs_sha256"][name] = ratio(name, sha, 0)
            summary["vs_dkimpy"][name] = ratio(name, name, 1)
            print(f"  {s.removeprefix('dkim_'):<24} {size:>8} {med(0, name) / 1e6:9.1f} {med(1, name) / 1e6:12.2f} "
                  f"{summary['vs_sha256'][name]:11.3f} {summary['vs_dkimpy'][name]:9.1f}x")
    with open(os.path.join(args.out, "dkim.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
