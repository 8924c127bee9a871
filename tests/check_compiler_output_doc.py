#!/usr/bin/env python3
"""The compilers' messages quoted in docs/ are what the compilers say today.

A text block preceded by `<!-- output: COMMAND -->` quotes the first lines of
what COMMAND (run in the source tree, LC_ALL=C.UTF-8) prints on stdout and
stderr. This runs each COMMAND whose compiler is the version the docs quote
(g++ 12, clang++ 14) and compares; a block for another compiler version is
skipped, and when every block is skipped the exit status is 77 (ctest: skipped).

    check_compiler_output_doc.py ROOT            check (the ctest)
    check_compiler_output_doc.py ROOT --write    rewrite the blocks from the compilers
"""
import os
import pathlib
import re
import shlex
import subprocess
import sys

QUOTED = {"g++": "12", "clang++": "14"}
DIRECTIVE = re.compile(r"^<!-- output: (.+) -->$")


def major(compiler):
    try:
        out = subprocess.run([compiler, "-dumpversion"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return None
    return out.split(".")[0] if out else None


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    write = "--write" in sys.argv[2:]
    env = dict(os.environ, LC_ALL="C.UTF-8")
    env.pop("GCC_COLORS", None)
    problems, checked, skipped = [], 0, 0
    for doc in [root / "README.md"] + sorted((root / "docs").glob("*.md")):
        lines = doc.read_text().split("\n")
        changed = False
        for i, line in enumerate(lines):
            d = DIRECTIVE.match(line)
            if not d:
                continue
            where = "%s:%d" % (doc.relative_to(root), i + 1)
            if i + 1 >= len(lines) or lines[i + 1] != "```text":
                problems.append("%s: an output directive must precede a ```text block" % where)
                continue
            if "```" not in lines[i + 2:]:
                problems.append("%s: the block is never closed" % where)
                continue
            end = lines.index("```", i + 2)
            block = lines[i + 2:end]
            if not any(line.strip() for line in block) and not write:
                problems.append("%s: an empty block quotes nothing (--write fills it)" % where)
                continue
            cmd = shlex.split(d.group(1))
            want = QUOTED.get(cmd[0])
            have = major(cmd[0])
            if want is None:
                problems.append("%s: %s is not a compiler the docs quote (%s)" % (where, cmd[0], ", ".join(QUOTED)))
                continue
            if have != want:
                print("%s: skipped, %s is version %s here, the docs quote %s" % (where, cmd[0], have, want))
                skipped += 1
                continue
            run = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
            said = (run.stdout + run.stderr).split("\n")[:len(block)]
            checked += 1
            if said != block:
                if write:
                    lines[i + 2:end] = said
                    changed = True
                else:
                    diff = next(k for k in range(len(block)) if k >= len(said) or said[k] != block[k])
                    problems.append("%s: %s now says, at line %d of the block:\n  %s\ninstead of\n  %s\n"
                                    "(check_compiler_output_doc.py . --write rewrites it)"
                                    % (where, cmd[0], diff + 1, said[diff] if diff < len(said) else "(nothing)",
                                       block[diff]))
        if changed:
            doc.write_text("\n".join(lines))
    for p in problems:
        print(p)
    print("%d compiler messages checked, %d skipped; %d problems" % (checked, skipped, len(problems)))
    if problems:
        return 1
    return 77 if checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
