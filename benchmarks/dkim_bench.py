#!/usr/bin/env python3
"""dkimpy (Debian's python3-dkim) signing the messages smtp_dkim_bench dumped.

    /usr/bin/python3 dkim_bench.py --inputs DIR [--repetitions N]

DIR is what `smtp_dkim_bench --dump DIR` wrote: message_1024.eml,
message_1048576.eml and keys.txt (the RSA key's path, then the Ed25519 key's).
Each (key, canonicalisation, size) is signed N times after one untimed run,
as the C++ benchmark signs it: relaxed/relaxed or simple/simple, d=example.com,
s=bench, dkimpy's default headers. Prints JSON: {name: [bytes per second, ...]}
with the names of the C++ benchmark (dkim_rsa_relaxed/1024, ...).
"""
import argparse
import json
import os
import statistics
import time

import dkim


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--repetitions", type=int, default=5)
    args = ap.parse_args()
    with open(os.path.join(args.inputs, "keys.txt")) as f:
        rsa_path, ed_path = f.read().split()
    with open(rsa_path, "rb") as f:
        rsa_key = f.read()
    # dkimpy takes an Ed25519 key as the base64 of its 32-octet seed: the last
    # 32 octets of the PKCS#8 DER inside the PEM.
    import base64
    with open(ed_path) as f:
        der = base64.b64decode("".join(line for line in f if not line.startswith("-----")))
    ed_key = base64.b64encode(der[-32:])
    out = {}
    for size in (1024, 1024 * 1024):
        with open(os.path.join(args.inputs, "message_%d.eml" % size), "rb") as f:
            msg = f.read()
        for alg, key, sig in (("rsa", rsa_key, b"rsa-sha256"), ("ed25519", ed_key, b"ed25519-sha256")):
            for canon in ("relaxed", "simple"):
                c = canon.encode()

                def run():
                    return dkim.sign(msg, b"bench", b"example.com", key, canonicalize=(c, c), signature_algorithm=sig)

                run()
                # Enough calls per sample for a measurable time on 1 KiB.
                calls = 50 if size == 1024 else 1
                rates = []
                for _ in range(args.repetitions):
                    t0 = time.perf_counter()
                    for _ in range(calls):
                        run()
                    rates.append(calls * len(msg) / (time.perf_counter() - t0))
                out["dkim_%s_%s/%d" % (alg, canon, size)] = rates
    print(json.dumps(out))


if __name__ == "__main__":
    main()
