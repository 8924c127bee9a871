#!/usr/bin/env python3
"""Runs the core benchmarks and reports them against their targets.

    python3 benchmarks/run_benchmarks.py --build build --out build/bench [--check]
        [--rounds 3] [--repetitions 5]

1. BUILD/benchmarks/smtp_core_bench --dump-inputs OUT/inputs: the generated
   inputs, the encoder's output and meta.json, for the Python baseline.
2. ROUNDS rounds, alternating the two programs, each round:
   a. smtp_core_bench --benchmark_format=json, its repetitions interleaved at
      random, every repetition kept: the C++ library, memchr, memcpy and Poco
      (OUT/core_bench.rK.json);
   b. smtplib_bench.py on the same files with /usr/bin/python3, every sample
      kept (OUT/smtplib.rK.json).
3. A table of every measurement (the median of all its samples, pooled over
   the rounds), the ratios with their targets and PASS/FAIL, and
   OUT/summary.json.

Why rounds: on a shared machine the speed of a CPU drifts by tens of percent
from one minute to the next. A ratio of one program's median to another's,
measured a minute later, carries that drift; the C++ repetitions interleaved at
random share a slow spell, but the Python baseline runs in its own process
afterwards. So each ratio is computed within each round (that round's C++
median over that round's reference median), and the ratio judged against its
target is the median of those per-round ratios; the ratio of the pooled medians
is reported beside it, and the spread of the per-round ratios shows how much a
single run could be trusted.

Both programs run pinned to one CPU with taskset when it is there. The exit
status is 0 when everything ran, whatever the ratios: this is a report. With
--check, a missed target exits 1.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# ratio -> (comparison, target); every input must meet it, so the headline is the worst input.
TARGETS = {
    # The encoder on the loop it picks for this CPU (encoder/*: AVX-512 or AVX2
    # where the CPU has it, else SSE2); each loop is reported beside it
    # (encoder_sse2/*, encoder_avx2/*, encoder_avx512/*), measured in the same run.
    "encoder_vs_memcpy": (">=", 0.5),
    "encoder_sse2_vs_memcpy": None,
    "encoder_avx2_vs_memcpy": None,
    "encoder_avx512_vs_memcpy": None,
    "encoder_vs_smtplib": (">=", 70.0),
    "encoder_vs_poco": None,  # reported, no target
    # The parser as a pipelining client uses it on a burst of replies: put_many
    # over the whole buffer (parser_batch/*).
    "parser_vs_memchr": (">=", 0.6),
    "parser_vs_smtplib": (">=", 60.0),
    # The same parser one put() per reply (parser/*), and through
    # reply_parser::cursor (parser_cursor/*): reported, no target.
    "parser_single_put_vs_memchr": None,
    "parser_single_put_vs_smtplib": None,
    "parser_cursor_vs_memchr": None,
    "parser_cursor_vs_smtplib": None,
    # Every way of calling the parser: the worst of the three.
    "parser_allocations_per_reply": ("==", 0.0),
}

ENCODER_INPUTS = ("lf", "crlf")
PARSER_INPUTS = ("ehlo", "mix")
ENCODER_RATIOS = ("encoder_vs_memcpy", "encoder_vs_smtplib", "encoder_vs_poco")
# loop -> its benchmark; a loop the CPU lacks is not measured, and not reported
ENCODER_LOOPS = {"sse2": "encoder_sse2", "avx2": "encoder_avx2", "avx512": "encoder_avx512"}
LOOP_NAMES = {1: "SSE2", 2: "AVX2", 3: "AVX-512"}  # core_bench's "loop" counter
PARSER_RATIOS = ("parser_vs_memchr", "parser_vs_smtplib", "parser_single_put_vs_memchr",
                 "parser_single_put_vs_smtplib", "parser_cursor_vs_memchr", "parser_cursor_vs_smtplib")
# ratio prefix -> the C++ benchmark it measures
PARSER_BENCHMARKS = {"parser": "parser_batch", "parser_single_put": "parser", "parser_cursor": "parser_cursor"}

METHOD = ("each ratio (value, verdict) = median over the rounds of that round's ratio of medians "
          "(C++ median over the round's repetitions / reference median over the round's samples); "
          "'pooled' = ratio of the medians of all samples pooled over the rounds; "
          "headline = worst input; allocations = worst repetition of any round and of any parser API; "
          "parser_vs_* = reply_parser::put_many over the whole buffer (parser_batch/*), "
          "parser_single_put_vs_* = one put() per reply (parser/*), "
          "parser_cursor_vs_* = reply_parser::cursor (parser_cursor/*); "
          "encoder_vs_* = the encoder on the loop it picks for this CPU (encoder/*), "
          "encoder_sse2_vs_memcpy / encoder_avx2_vs_memcpy / encoder_avx512_vs_memcpy = each loop forced "
          "(encoder_sse2/*, encoder_avx2/*, encoder_avx512/*)")


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


def cpp_samples(doc):
    """{name: [per-repetition entries]} from Google Benchmark's JSON (aggregates ignored)."""
    out = {}
    for b in doc["benchmarks"]:
        name = b["run_name"].removesuffix("/real_time")
        if b.get("error_occurred"):
            sys.exit(f"run_benchmarks: {name}: {b.get('error_message', 'error')}")
        if b.get("run_type") != "aggregate":
            out.setdefault(name, []).append(b)
    return out


def py_samples(doc):
    """{name: {"bytes_per_second": [...], "replies_per_second": [...]}} from smtplib_bench.py's JSON."""
    out = {}
    for name, r in doc["results"].items():
        s = {"bytes_per_second": r["samples_bytes_per_second"]}
        if "samples_replies_per_second" in r:
            s["replies_per_second"] = r["samples_replies_per_second"]
        out[name] = s
    return out


class Samples:
    """Rates per measurement, by round: cpp[name][field] and py[name][field] -> [round][sample]."""

    def __init__(self):
        self.cpp, self.py = {}, {}

    def add_round(self, cpp, py):
        for name, runs in cpp.items():
            d = self.cpp.setdefault(name, {})
            for field in ("bytes_per_second", "items_per_second", "allocs_per_reply", "loop"):
                if field in runs[0]:
                    d.setdefault(field, []).append([r[field] for r in runs])
        for name, fields in py.items():
            d = self.py.setdefault(name, {})
            for field, values in fields.items():
                d.setdefault(field, []).append(values)

    @staticmethod
    def get(table, name, field, rnd):
        """The median of one round (rnd = index), or of all rounds pooled (rnd = None)."""
        rounds = table[name][field]
        values = rounds[rnd] if rnd is not None else [v for r in rounds for v in r]
        return statistics.median(values)

    def c(self, name, field="bytes_per_second", rnd=None):
        return self.get(self.cpp, name, field, rnd)

    def p(self, name, field="bytes_per_second", rnd=None):
        return self.get(self.py, name, field, rnd)

    def round_medians(self, side, name, field="bytes_per_second"):
        table = self.cpp if side == "cpp" else self.py
        return [statistics.median(r) for r in table[name][field]]


def ratios_of(s, rnd):
    """Every per-input ratio, from the medians of one round (or of all samples pooled)."""
    r = {}
    for i in ENCODER_INPUTS:
        enc = s.c(f"encoder/{i}", rnd=rnd)
        r[f"encoder_vs_memcpy_{i}"] = enc / s.c(f"memcpy/{i}", rnd=rnd)
        r[f"encoder_vs_smtplib_{i}"] = enc / s.p(f"encoder/{i}", rnd=rnd)
        r[f"encoder_vs_poco_{i}"] = enc / s.c(f"poco_mail_stream/{i}", rnd=rnd)
        for loop, bench in ENCODER_LOOPS.items():
            if f"{bench}/{i}" in s.cpp:
                r[f"encoder_{loop}_vs_memcpy_{i}"] = s.c(f"{bench}/{i}", rnd=rnd) / s.c(f"memcpy/{i}", rnd=rnd)
    for i in PARSER_INPUTS:
        for prefix, bench in PARSER_BENCHMARKS.items():
            r[f"{prefix}_vs_memchr_{i}"] = s.c(f"{bench}/{i}", rnd=rnd) / s.c(f"memchr_lines/{i}", rnd=rnd)
            r[f"{prefix}_vs_smtplib_{i}"] = (s.c(f"{bench}/{i}", "items_per_second", rnd=rnd)
                                             / s.p(f"getreply/{i}", "replies_per_second", rnd=rnd))
        # the worst repetition, not the median, of every parser API
        worst = 0.0
        for bench in PARSER_BENCHMARKS.values():
            allocs = s.cpp[f"{bench}/{i}"]["allocs_per_reply"]
            worst = max(worst, max(allocs[rnd] if rnd is not None else [v for x in allocs for v in x]))
        r[f"parser_allocations_per_reply_{i}"] = worst
    return r


def with_headlines(r):
    """Adds each headline (the worst input) to a dict of per-input ratios."""
    for key in ENCODER_RATIOS + tuple(f"encoder_{loop}_vs_memcpy" for loop in ENCODER_LOOPS):
        if all(f"{key}_{i}" in r for i in ENCODER_INPUTS):
            r[key] = min(r[f"{key}_{i}"] for i in ENCODER_INPUTS)
    for key in PARSER_RATIOS:
        r[key] = min(r[f"{key}_{i}"] for i in PARSER_INPUTS)
    r["parser_allocations_per_reply"] = max(r[f"parser_allocations_per_reply_{i}"] for i in PARSER_INPUTS)
    return r


def judge(key, value):
    t = TARGETS[key]
    if t is None:
        return None, "-"
    op, target = t
    ok = value >= target if op == ">=" else value == target
    return f"{op} {target:g}", "PASS" if ok else "FAIL"


def fmt_ratio(key, v):
    if key == "parser_allocations_per_reply":
        return f"{v:g}"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}x"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="the CMake build directory")
    ap.add_argument("--out", default="build/bench", help="where to write the results")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--rounds", type=int, default=3, help="rounds, each running the C++ benchmarks then smtplib")
    ap.add_argument("--repetitions", type=int, default=5, help="repetitions of each measurement per round")
    ap.add_argument("--min-time", type=float, default=0.25, help="Google Benchmark's minimum time per repetition, s")
    ap.add_argument("--cpu", default=None, help="CPU to pin to (default: the last one allowed; 'none': no pinning)")
    args = ap.parse_args()
    if args.rounds < 1 or args.repetitions < 1:
        sys.exit("run_benchmarks: --rounds and --repetitions must be at least 1")

    binary = os.path.join(args.build, "benchmarks", "smtp_core_bench")
    if not os.access(binary, os.X_OK):
        sys.exit(f"run_benchmarks: {binary} not found; build first (./run build)")
    os.makedirs(args.out, exist_ok=True)
    for stale in ("core_bench.json", "smtplib.json"):  # the single-run files of earlier versions
        if os.path.exists(os.path.join(args.out, stale)):
            os.remove(os.path.join(args.out, stale))
    inputs = os.path.join(args.out, "inputs")
    pin, cpu = pin_prefix(args.cpu)
    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    started = time.monotonic()

    log(f"inputs -> {inputs}")
    run([binary, "--dump-inputs", inputs], "smtp_core_bench --dump-inputs")
    with open(os.path.join(inputs, "meta.json")) as f:
        meta = json.load(f)

    samples = Samples()
    contexts, raw_files = [], []
    cpp_seconds = py_seconds = 0.0
    py = None
    for k in range(1, args.rounds + 1):
        log(f"round {k}/{args.rounds}: C++ benchmarks, {args.repetitions} repetitions of >= {args.min_time:g} s each"
            + (f", pinned to CPU {cpu}" if cpu is not None else ""))
        # Repetitions interleaved at random: a slow spell on this shared machine
        # then hits the library and its references alike, not one of them.
        stdout, secs = run(pin + [binary, "--benchmark_format=json",
                                  "--benchmark_enable_random_interleaving=true",
                                  f"--benchmark_repetitions={args.repetitions}",
                                  "--benchmark_report_aggregates_only=false",
                                  f"--benchmark_min_time={args.min_time:g}"], "smtp_core_bench")
        cpp_seconds += secs
        cpp_json = os.path.join(args.out, f"core_bench.r{k}.json")
        with open(cpp_json, "w") as f:
            f.write(stdout)
        doc = json.loads(stdout)
        contexts.append(doc.get("context", {}))

        log(f"round {k}/{args.rounds}: smtplib baseline, {python} smtplib_bench.py, {args.repetitions} repetitions")
        py_json = os.path.join(args.out, f"smtplib.r{k}.json")
        _, secs = run(pin + [python, os.path.join(HERE, "smtplib_bench.py"), "--inputs", inputs,
                             "--out", py_json, "--repetitions", str(args.repetitions)], "smtplib_bench.py")
        py_seconds += secs
        with open(py_json) as f:
            py = json.load(f)
        samples.add_round(cpp_samples(doc), py_samples(py))
        raw_files += [cpp_json, py_json]

    # ---- ratios -----------------------------------------------------------------
    per_round = [with_headlines(ratios_of(samples, r)) for r in range(args.rounds)]
    pooled = with_headlines(ratios_of(samples, None))
    ratio_keys = list(per_round[0])
    # The judged value: per input, the median of the per-round ratios; the headline, the worst input of those.
    # Allocations are not a ratio: the worst repetition of any round counts.
    ratios = {k: (max if k.startswith("parser_allocations") else statistics.median)(r[k] for r in per_round)
              for k in ratio_keys if k not in TARGETS}
    headline = {k: v for k, v in with_headlines(dict(ratios)).items() if k in TARGETS}
    spread = {k: [min(r[k] for r in per_round), max(r[k] for r in per_round)] for k in ratio_keys}

    # ---- measurements -----------------------------------------------------------
    rows = []  # (what, input, side, name, MB/s, M replies/s or None)
    for i in PARSER_INPUTS:
        for what, bench in (("smtp::reply_parser::put_many (batch)", "parser_batch"),
                            ("smtp::reply_parser::cursor", "parser_cursor"),
                            ("smtp::reply_parser::put (one call a reply)", "parser")):
            rows.append((what, i, "cpp", f"{bench}/{i}",
                         samples.c(f"{bench}/{i}"), samples.c(f"{bench}/{i}", "items_per_second")))
        rows.append(("memchr line scan (reference)", i, "cpp", f"memchr_lines/{i}",
                     samples.c(f"memchr_lines/{i}"), None))
        rows.append((f"smtplib SMTP.getreply (CPython {py['python']})", i, "py", f"getreply/{i}",
                     samples.p(f"getreply/{i}"), samples.p(f"getreply/{i}", "replies_per_second")))
    for i in ENCODER_INPUTS:
        loop = LOOP_NAMES.get(int(samples.c(f"encoder/{i}", "loop")), "?")
        rows.append((f"smtp::data_encoder encode+finish ({loop})", i, "cpp", f"encoder/{i}",
                     samples.c(f"encoder/{i}"), None))
        for number, bench in enumerate(ENCODER_LOOPS.values(), start=1):  # numbered as the "loop" counter
            if f"{bench}/{i}" in samples.cpp:
                rows.append((f"  the same, {LOOP_NAMES[number]} loop forced", i, "cpp", f"{bench}/{i}",
                             samples.c(f"{bench}/{i}"), None))
        rows.append(("memcpy (ceiling)", i, "cpp", f"memcpy/{i}", samples.c(f"memcpy/{i}"), None))
        rows.append(("Poco::Net::MailOutputStream" + ("" if meta[f"body_{i}"]["poco_matches_encoder"]
                                                      else " [differs, *]"),
                     i, "cpp", f"poco_mail_stream/{i}", samples.c(f"poco_mail_stream/{i}"), None))
        rows.append(("smtplib sendmail/data path", i, "py", f"encoder/{i}", samples.p(f"encoder/{i}"), None))
        rows.append(("smtplib.quotedata (reference only)", i, "py", f"quotedata/{i}",
                     samples.p(f"quotedata/{i}"), None))

    # ---- table ------------------------------------------------------------------
    pinned = f"pinned to CPU {cpu}" if cpu is not None else "not pinned"
    n = args.rounds * args.repetitions
    print()
    print(f"Measurements: medians of {n} samples ({args.rounds} rounds x {args.repetitions} repetitions, "
          f"C++ then smtplib in each round), {pinned}. Replies: 1 MiB buffers; bodies: 10 MiB. MB = 10^6 bytes.")
    print(f"  {'what':<46} {'input':<6} {'MB/s':>10} {'replies/s':>12}   {'round medians MB/s':>20}")
    for what, inp, side, name, b, r in rows:
        rs = f"{r / 1e6:9.3f} M" if r is not None else f"{'':>12}"
        rm = samples.round_medians(side, name)
        span = f"{min(rm) / 1e6:.1f}..{max(rm) / 1e6:.1f}"
        print(f"  {what:<46} {inp:<6} {b / 1e6:10.1f} {rs}   {span:>20}")
    print()
    print(f"Ratios (headline = worst input): value = median of the {args.rounds} per-round ratios, each a round's "
          f"C++ median over that round's reference median; the verdict is on it.")
    print(f"  pooled = ratio of the medians of all {n} samples; rounds = min..max of the per-round ratios.")
    print(f"  {'ratio':<40} {'value':>10} {'pooled':>10} {'rounds min..max':>17}   {'target':<8} result")
    results = {}
    for key in TARGETS:
        if key not in headline:  # a loop this CPU does not have
            continue
        inputs_of = PARSER_INPUTS if key.startswith("parser") else ENCODER_INPUTS
        for k in [f"{key}_{i}" for i in inputs_of] + [key]:
            v = headline[key] if k == key else ratios[k]
            target, verdict = judge(key, v)
            results[k] = verdict
            label = k if k != key else f"{key} (headline)"
            lo, hi = spread[k]
            span = f"{fmt_ratio(key, lo)}..{fmt_ratio(key, hi)}"
            print(f"  {label:<40} {fmt_ratio(key, v):>10} {fmt_ratio(key, pooled[k]):>10} {span:>17}   "
                  f"{target or '(none)':<8} {verdict}")
    notes = []
    for i in ENCODER_INPUTS:
        m = meta[f"body_{i}"]
        if not m["poco_matches_encoder"]:
            notes.append(f"* Poco on {i}: its output ({m['poco_bytes']} bytes) differs from the encoder's and "
                         f"smtplib's ({m['encoded_bytes']} bytes): MailOutputStream neither turns a bare LF into "
                         f"CRLF nor dot-stuffs a line that follows one, so it does less work on this input.")
    for note in notes:
        print(note)
    missed = sorted(k for k in TARGETS if TARGETS[k] and results.get(k) == "FAIL")
    print()
    print("Targets: " + ("all met" if not missed else "MISSED: " + ", ".join(missed)))
    elapsed = time.monotonic() - started
    print(f"(C++ {cpp_seconds:.0f} s, Python {py_seconds:.0f} s, total {elapsed:.0f} s; "
          f"raw results in {args.out}/core_bench.r*.json and {args.out}/smtplib.r*.json)")

    summary = dict(headline)
    summary.update(ratios)
    summary["method"] = METHOD
    summary["targets"] = {k: {"op": t[0], "value": t[1]} for k, t in TARGETS.items() if t}
    summary["results"] = results
    summary["targets_missed"] = missed
    summary["all_targets_met"] = not missed
    summary["pooled_median_ratios"] = pooled
    summary["ratio_spread_over_rounds"] = {k: {"min": lo, "max": hi} for k, (lo, hi) in spread.items()}
    summary["rounds"] = [
        {"round": r + 1, "ratios": per_round[r],
         "cpp_median_bytes_per_second": {nm: samples.c(nm, rnd=r) for nm in samples.cpp
                                         if "bytes_per_second" in samples.cpp[nm]},  # not the transaction/* timings
         "smtplib_median_bytes_per_second": {nm: samples.p(nm, rnd=r) for nm in samples.py},
         "load_avg": contexts[r].get("load_avg")}
        for r in range(args.rounds)
    ]
    pyr = py["results"]  # the last round's, for the fields that do not vary (sizes, output checks)
    smtplib_pooled = {}
    for nm, r in pyr.items():
        d = {k: v for k, v in r.items() if k not in ("times",) and not k.startswith("samples_")}
        d["bytes_per_second"] = samples.p(nm)
        d["seconds"] = r["bytes"] / d["bytes_per_second"]
        if "replies_per_second" in r:
            d["replies_per_second"] = samples.p(nm, "replies_per_second")
        d["samples"] = n
        smtplib_pooled[nm] = d
    summary["measurements"] = {
        "cpp_median_bytes_per_second": {nm: samples.c(nm) for nm in samples.cpp if "bytes_per_second" in samples.cpp[nm]},
        "cpp_median_items_per_second": {nm: samples.c(nm, "items_per_second") for nm in samples.cpp
                                        if "items_per_second" in samples.cpp[nm]},
        "smtplib": smtplib_pooled,
        "inputs": meta,
    }
    summary["encoder_loop"] = LOOP_NAMES.get(int(samples.c("encoder/lf", "loop")), "?")
    summary["environment"] = {
        "rounds": args.rounds, "repetitions": args.repetitions, "samples_per_measurement": n,
        "statistic": "median", "min_time_s": args.min_time,
        "pinned_cpu": cpu, "python": py["python"], "benchmark_context": contexts[0],
        "raw_results": raw_files,
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
