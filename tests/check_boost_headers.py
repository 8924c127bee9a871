#!/usr/bin/env python3
"""Every Boost header that the build's objects read is under the Boost include
directory CMake found (ctest boost_headers_are_the_configured_ones).

A build against Boost 1.81 unpacked beside the system's 1.74 (./run test181)
is one -isystem away from reading /usr/include/boost: a target that does not
get Boost's include directory, or a flag that puts /usr/include first, and the
program mixes two Boosts without a word. Ninja records, for every object it
compiled, the headers the compiler read (`ninja -t deps`); this reads them all
and fails on any Boost header from elsewhere, naming the object and the
header. It also fails when no object read a Boost header at all (nothing
built yet, or a generator without a deps log), so it cannot pass unchecked.

    check_boost_headers.py BUILD_DIR NINJA BOOST_INCLUDE_DIR...
"""

import os
import subprocess
import sys


_boost_dirs = {}


def is_boost_header(path):
    """Under a directory named boost that holds boost/version.hpp (so that a
    checkout in ~/src/boost/smtp does not make the project's headers Boost's)."""
    parts = path.split(os.sep)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] != "boost":
            continue
        d = os.sep.join(parts[: i + 1])
        if d not in _boost_dirs:
            _boost_dirs[d] = os.path.isfile(os.path.join(d, "version.hpp"))
        if _boost_dirs[d]:
            return True
    return False


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    build, ninja, includes = argv[1], argv[2], argv[3:]
    roots = [os.path.realpath(os.path.join(d, "boost")) + os.sep for d in includes]
    deps = subprocess.run([ninja, "-C", build, "-t", "deps"], capture_output=True, text=True)
    if deps.returncode != 0:
        print(f"ninja -t deps failed:\n{deps.stderr}", file=sys.stderr)
        return 1
    objects = 0  # objects that read at least one Boost header
    headers = 0
    wrong = {}  # object -> first foreign Boost header
    target = None
    read_boost = False
    for line in deps.stdout.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):  # "<object>: #deps N, deps mtime ..."
            if read_boost:
                objects += 1
            target, read_boost = line.split(": #deps", 1)[0], False
            continue
        full = os.path.realpath(os.path.join(build, line.strip()))
        if not is_boost_header(full):
            continue
        read_boost = True
        headers += 1
        if not any(full.startswith(r) for r in roots):
            wrong.setdefault(target, full)
    if read_boost:
        objects += 1
    if wrong:
        print(f"{len(wrong)} objects read Boost headers from outside {', '.join(includes)}:", file=sys.stderr)
        for obj, header in sorted(wrong.items())[:20]:
            print(f"  {obj}: {header}", file=sys.stderr)
        return 1
    if objects == 0:
        print("no object of this build read a Boost header: nothing to check (build it first)", file=sys.stderr)
        return 1
    print(f"{objects} objects, {headers} Boost header reads, all under {', '.join(includes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
