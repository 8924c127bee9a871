#!/usr/bin/env python3
"""Runs the core benchmarks and reports them against their targets.

    python3 benchmarks/run_benchmarks.py --build build --out build/bench [--check]

1. BUILD/benchmarks/smtp_core_bench --dump-inputs OUT/inputs: the generated
   inputs, the encoder's output and meta.json, for the Python baseline.
2. smtp_core_bench --benchmark_format=json with repetitions: the C++ library,
   memchr, memcpy and Poco (OUT/core_bench.json).
3. smtplib_bench.py on the same files with /usr/bin/python3 (OUT/smtplib.json).
4. A table of every measurement (medians), the ratios with their targets and
   PASS/FAIL, and OUT/summary.json.

Both programs run pinned to one CPU with taskset when it is there. The exit
status is 0 when everything ran, whatever the ratios: this is a report. With
--check, a missed target exits 1.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# ratio -> (comparison, target); every input must meet it, so the headline is the worst input.
TARGETS = {
    "encoder_vs_memcpy": (">=", 0.3),
    "encoder_vs_smtplib": (">=", 70.0),
    "encoder_vs_poco": None,  # reported, no target
    "parser_vs_memchr": (">=", 0.6),
    "parser_vs_smtplib": (">=", 60.0),
    "parser_allocations_per_reply": ("==", 0.0),
}

ENCODER_INPUTS = ("lf", "crlf")
PARSER_INPUTS = ("ehlo", "mix")


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


def pin_prefix(cpu_arg):
    """taskset -c CPU, on the last CPU this process may use, when taskset exists."""
    if cpu_arg == "none" or not shutil.which("taskset") or not hasattr(os, "sched_getaffinity"):
        return [], None
    cpu = int(cpu_arg) if cpu_arg is not None else max(os.sched_getaffinity(0))
    return ["taskset", "-c", str(cpu)], cpu


def run(cmd, what):
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-4000:] + p.stderr[-4000:])
        sys.exit(f"run_benchmarks: {what} failed (exit {p.returncode}): {' '.join(cmd)}")
    return p.stdout, time.monotonic() - t0


def cpp_results(doc):
    """{name: {"median": entry, "runs": [entries]}} from Google Benchmark's JSON."""
    out = {}
    for b in doc["benchmarks"]:
        name = b["run_name"].removesuffix("/real_time")
        if b.get("error_occurred"):
            sys.exit(f"run_benchmarks: {name}: {b.get('error_message', 'error')}")
        r = out.setdefault(name, {"median": None, "runs": []})
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                r["median"] = b
        else:
            r["runs"].append(b)
    for name, r in out.items():
        if r["median"] is None:  # one repetition: no aggregates
            r["median"] = r["runs"][0]
    return out


def judge(key, value):
    t = TARGETS[key]
    if t is None:
        return None, "-"
    op, target = t
    ok = value >= target if op == ">=" else value == target
    return f"{op} {target:g}", "PASS" if ok else "FAIL"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="the CMake build directory")
    ap.add_argument("--out", default="build/bench", help="where to write the results")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--repetitions", type=int, default=9, help="repetitions of each measurement (median taken)")
    ap.add_argument("--min-time", type=float, default=0.25, help="Google Benchmark's minimum time per repetition, s")
    ap.add_argument("--cpu", default=None, help="CPU to pin to (default: the last one allowed; 'none': no pinning)")
    args = ap.parse_args()

    binary = os.path.join(args.build, "benchmarks", "smtp_core_bench")
    if not os.access(binary, os.X_OK):
        sys.exit(f"run_benchmarks: {binary} not found; build first (./run build)")
    os.makedirs(args.out, exist_ok=True)
    inputs = os.path.join(args.out, "inputs")
    pin, cpu = pin_prefix(args.cpu)
    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    started = time.monotonic()

    log(f"inputs -> {inputs}")
    run([binary, "--dump-inputs", inputs], "smtp_core_bench --dump-inputs")
    with open(os.path.join(inputs, "meta.json")) as f:
        meta = json.load(f)

    log(f"C++ benchmarks: {args.repetitions} repetitions of >= {args.min_time:g} s each"
        + (f", pinned to CPU {cpu}" if cpu is not None else ""))
    # Repetitions interleaved at random: a slow spell on this shared machine
    # then hits the library and its references alike, not one of them.
    stdout, cpp_seconds = run(pin + [binary, "--benchmark_format=json",
                                     "--benchmark_enable_random_interleaving=true",
                                     f"--benchmark_repetitions={args.repetitions}",
                                     f"--benchmark_min_time={args.min_time:g}"], "smtp_core_bench")
    cpp_json = os.path.join(args.out, "core_bench.json")
    with open(cpp_json, "w") as f:
        f.write(stdout)
    cpp = cpp_results(json.loads(stdout))

    log(f"smtplib baseline: {python} smtplib_bench.py, {args.repetitions} repetitions")
    py_json = os.path.join(args.out, "smtplib.json")
    _, py_seconds = run(pin + [python, os.path.join(HERE, "smtplib_bench.py"), "--inputs", inputs,
                               "--out", py_json, "--repetitions", str(args.repetitions)], "smtplib_bench.py")
    with open(py_json) as f:
        py = json.load(f)
    pyr = py["results"]

    def bps(name):
        return cpp[name]["median"]["bytes_per_second"]

    def ips(name):
        return cpp[name]["median"]["items_per_second"]

    # ---- measurements -----------------------------------------------------------
    rows = []  # (what, input, MB/s, M replies/s or None)
    for i in PARSER_INPUTS:
        rows.append(("smtp::reply_parser::put", i, bps(f"parser/{i}"), ips(f"parser/{i}")))
        rows.append(("memchr line scan (reference)", i, bps(f"memchr_lines/{i}"), None))
        rows.append((f"smtplib SMTP.getreply (CPython {py['python']})", i,
                     pyr[f"getreply/{i}"]["bytes_per_second"], pyr[f"getreply/{i}"]["replies_per_second"]))
    for i in ENCODER_INPUTS:
        rows.append(("smtp::data_encoder encode+finish", i, bps(f"encoder/{i}"), None))
        rows.append(("memcpy (ceiling)", i, bps(f"memcpy/{i}"), None))
        rows.append(("Poco::Net::MailOutputStream" + ("" if meta[f"body_{i}"]["poco_matches_encoder"]
                                                      else " [differs, *]"),
                     i, bps(f"poco_mail_stream/{i}"), None))
        rows.append(("smtplib sendmail/data path", i, pyr[f"encoder/{i}"]["bytes_per_second"], None))
        rows.append(("smtplib.quotedata (reference only)", i, pyr[f"quotedata/{i}"]["bytes_per_second"], None))

    # ---- ratios -----------------------------------------------------------------
    ratios = {}
    for i in ENCODER_INPUTS:
        enc = bps(f"encoder/{i}")
        ratios[f"encoder_vs_memcpy_{i}"] = enc / bps(f"memcpy/{i}")
        ratios[f"encoder_vs_smtplib_{i}"] = enc / pyr[f"encoder/{i}"]["bytes_per_second"]
        ratios[f"encoder_vs_poco_{i}"] = enc / bps(f"poco_mail_stream/{i}")
    allocs = {}
    for i in PARSER_INPUTS:
        ratios[f"parser_vs_memchr_{i}"] = bps(f"parser/{i}") / bps(f"memchr_lines/{i}")
        ratios[f"parser_vs_smtplib_{i}"] = ips(f"parser/{i}") / pyr[f"getreply/{i}"]["replies_per_second"]
        # the worst repetition, not the median
        allocs[i] = max(r["allocs_per_reply"] for r in cpp[f"parser/{i}"]["runs"])
        ratios[f"parser_allocations_per_reply_{i}"] = allocs[i]
    headline = {}
    for key in ("encoder_vs_memcpy", "encoder_vs_smtplib", "encoder_vs_poco"):
        headline[key] = min(ratios[f"{key}_{i}"] for i in ENCODER_INPUTS)
    for key in ("parser_vs_memchr", "parser_vs_smtplib"):
        headline[key] = min(ratios[f"{key}_{i}"] for i in PARSER_INPUTS)
    headline["parser_allocations_per_reply"] = max(allocs.values())

    # ---- table ------------------------------------------------------------------
    pinned = f"pinned to CPU {cpu}" if cpu is not None else "not pinned"
    print()
    print(f"Measurements: medians of {args.repetitions} repetitions, {pinned}. "
          f"Replies: 1 MiB buffers; bodies: 10 MiB. MB = 10^6 bytes.")
    print(f"  {'what':<46} {'input':<6} {'MB/s':>10} {'replies/s':>12}")
    for what, inp, b, r in rows:
        rs = f"{r / 1e6:9.3f} M" if r is not None else f"{'':>12}"
        print(f"  {what:<46} {inp:<6} {b / 1e6:10.1f} {rs}")
    print()
    print("Ratios (headline = worst input):")
    print(f"  {'ratio':<40} {'value':>10}   {'target':<8} result")
    results = {}
    for key in ("encoder_vs_memcpy", "encoder_vs_smtplib", "encoder_vs_poco",
                "parser_vs_memchr", "parser_vs_smtplib", "parser_allocations_per_reply"):
        inputs_of = PARSER_INPUTS if key.startswith("parser") else ENCODER_INPUTS
        for k in [f"{key}_{i}" for i in inputs_of] + [key]:
            v = headline[key] if k == key else ratios[k]
            target, verdict = judge(key, v)
            results[k] = verdict
            label = k if k != key else f"{key} (headline)"
            fmt = f"{v:10.3f}" if v < 10 else f"{v:9.1f}x"
            if key == "parser_allocations_per_reply":
                fmt = f"{v:10g}"
            print(f"  {label:<40} {fmt}   {target or '(none)':<8} {verdict}")
    notes = []
    for i in ENCODER_INPUTS:
        m = meta[f"body_{i}"]
        if not m["poco_matches_encoder"]:
            notes.append(f"* Poco on {i}: its output ({m['poco_bytes']} bytes) differs from the encoder's and "
                         f"smtplib's ({m['encoded_bytes']} bytes): MailOutputStream neither turns a bare LF into "
                         f"CRLF nor dot-stuffs a line that follows one, so it does less work on this input.")
    for n in notes:
        print(n)
    missed = sorted(k for k in TARGETS if TARGETS[k] and results[k] == "FAIL")
    print()
    print("Targets: " + ("all met" if not missed else "MISSED: " + ", ".join(missed)))
    elapsed = time.monotonic() - started
    print(f"(C++ {cpp_seconds:.0f} s, Python {py_seconds:.0f} s, total {elapsed:.0f} s; "
          f"raw results in {cpp_json} and {py_json})")

    summary = dict(headline)
    summary.update(ratios)
    summary["targets"] = {k: {"op": t[0], "value": t[1]} for k, t in TARGETS.items() if t}
    summary["results"] = results
    summary["targets_missed"] = missed
    summary["all_targets_met"] = not missed
    summary["measurements"] = {
        "cpp_median_bytes_per_second": {n: r["median"]["bytes_per_second"] for n, r in cpp.items()},
        "cpp_median_items_per_second": {n: r["median"]["items_per_second"] for n, r in cpp.items()
                                        if "items_per_second" in r["median"]},
        "smtplib": {n: {k: v for k, v in r.items() if k != "times"} for n, r in pyr.items()},
        "inputs": meta,
    }
    summary["environment"] = {
        "repetitions": args.repetitions, "statistic": "median", "min_time_s": args.min_time,
        "pinned_cpu": cpu, "python": py["python"], "benchmark_context": json.loads(stdout).get("context", {}),
    }
    summary["notes"] = notes
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(f"Summary: {os.path.join(args.out, 'summary.json')}")
    if args.check and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
