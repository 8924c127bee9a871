#!/usr/bin/env python3
"""expect_output.py PROGRAM EXPECTED: runs PROGRAM (no arguments, no input) and
checks that it exits with 0 and that its stdout is EXPECTED's bytes exactly.
The examples that need no server (their output is shown in docs/) use it."""
import difflib
import subprocess
import sys

program, expected_file = sys.argv[1], sys.argv[2]
run = subprocess.run([program], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
expected = open(expected_file, "rb").read()
status = 0
if run.returncode != 0:
    print("%s exited with %d; stderr:\n%s" % (program, run.returncode, run.stderr.decode(errors="replace")))
    status = 1
if run.stdout != expected:
    got = run.stdout.decode(errors="replace").splitlines(keepends=True)
    want = expected.decode(errors="replace").splitlines(keepends=True)
    sys.stdout.writelines(difflib.unified_diff(want, got, expected_file, program))
    status = 1
print("%s: %s" % (program, "output as expected" if status == 0 else "FAILED"))
sys.exit(status)
