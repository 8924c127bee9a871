#!/usr/bin/env python3
"""Every code block in README.md and docs/*.md comes from a file under examples/.

A fenced block of C++ or CMake is preceded by a line naming where it comes from:

    <!-- code: examples/send_many.cpp#send_all -->
    ```cpp
    ...
    ```

`examples/FILE` is the whole file; `examples/FILE#NAME` is the region between
two marker lines `//! [NAME]` (CMake: `#! [NAME]`) in it, the markers of
Doxygen's \\snippet, without its common indentation and without other marker
lines inside it. The block must equal that text, and the file must be built by
the tests (named in a CMakeLists.txt under examples/ or tests/).

Other blocks must say what they are: `sh` (commands to type) or `text`
(output, a transcript, a diagram). They may name a source too, and are then
checked the same way.

    check_doc_code_blocks.py ROOT            check (the ctest)
    check_doc_code_blocks.py ROOT --write    rewrite the blocks from their sources
"""
import pathlib
import re
import sys

CODE = {"cpp", "cmake"}
OTHER = {"sh", "text"}
DIRECTIVE = re.compile(r"^<!-- code: (\S+?)(?:#([\w-]+))? -->$")
FENCE = re.compile(r"^```(.*)$")


def marker(line):
    m = re.match(r"^\s*(?://!|#!) \[([\w-]+)\]\s*$", line)
    return m.group(1) if m else None


def region(path, name):
    lines = path.read_text().split("\n")
    if name is None:
        text = "\n".join(l for l in lines if marker(l) is None)
        return text, None
    bounds = [i for i, l in enumerate(lines) if marker(l) == name]
    if len(bounds) != 2:
        return None, "%s has %d marker lines '[%s]', not 2" % (path, len(bounds), name)
    body = [l for l in lines[bounds[0] + 1:bounds[1]] if marker(l) is None]
    indents = [len(l) - len(l.lstrip(" ")) for l in body if l.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(l[cut:] for l in body) + "\n", None


def cmake_code(path):
    """A CMake file without its comments: a name in a comment builds nothing."""
    return "\n".join(re.sub(r"#.*$", "", line) for line in path.read_text().split("\n"))


def built_by_tests(root, rel, seen=()):
    """A CMakeLists.txt or .cmake script under examples/ or tests/ names the
    file, its directory (a project the tests build, examples/consumer), or
    its stem as a target (examples/CMakeLists.txt's list, a compile-fail
    case), outside comments; or the file is a header that such a file under
    examples/ includes."""
    path = pathlib.PurePosixPath(rel)
    names = [rel, path.stem] + ([str(path.parent)] if str(path.parent) != "examples" else [])
    for d in ("examples", "tests"):
        for script in list((root / d).rglob("CMakeLists.txt")) + list((root / d).rglob("*.cmake")):
            text = cmake_code(script)
            if any(re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(n), text) for n in names):
                return True
    if path.suffix == ".hpp":
        include = re.compile(r'^\s*#\s*include\s+"%s"' % re.escape(path.name), re.M)
        for src in sorted((root / "examples").rglob("*.cpp")):
            other = str(src.relative_to(root))
            if other not in seen and include.search(src.read_text()) and built_by_tests(root, other, seen + (rel,)):
                return True
    return False


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    write = "--write" in sys.argv[2:]
    errors, checked = [], 0
    docs = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    for doc in docs:
        lines = doc.read_text().split("\n")
        out, i, changed = [], 0, False
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m:
                if re.match(r"^\s+```", lines[i]):
                    errors.append("%s:%d: an indented fence is not checked: put the block at column 0"
                                  % (doc.relative_to(root), i + 1))
                out.append(lines[i])
                i += 1
                continue
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            where = "%s:%d" % (doc.relative_to(root), i + 1)
            if j == len(lines):
                errors.append("%s: a block that is never closed" % where)
            lang = m.group(1).strip()
            block = "\n".join(lines[i + 1:j]) + "\n"
            d = DIRECTIVE.match(lines[i - 1]) if i > 0 else None
            if lang not in CODE | OTHER:
                errors.append("%s: a block must say what it is (```cpp, cmake, sh or text), not '```%s'"
                              % (where, lang))
            elif lang in CODE and d is None:
                errors.append("%s: a %s block without '<!-- code: examples/FILE#NAME -->' on the line before"
                              % (where, lang))
            if d:
                rel, name = d.group(1), d.group(2)
                src = root / rel
                if not rel.startswith("examples/") or not src.is_file():
                    errors.append("%s: %s is not a file under examples/" % (where, rel))
                elif not built_by_tests(root, rel):
                    errors.append("%s: %s is not built by the tests (no CMakeLists.txt names it)" % (where, rel))
                else:
                    text, problem = region(src, name)
                    if problem:
                        errors.append("%s: %s" % (where, problem))
                    elif text != block:
                        if write:
                            block, changed = text, True
                        else:
                            errors.append("%s: differs from %s%s (check_doc_code_blocks.py . --write rewrites it)"
                                          % (where, rel, "#" + name if name else ""))
                    checked += 1
            out.append(lines[i])
            out.extend(block.rstrip("\n").split("\n") if block.strip() else [])
            out.append(lines[j] if j < len(lines) else "```")
            i = j + 1
        if write and changed:
            doc.write_text("\n".join(out))
    for e in errors:
        print(e)
    print("%d blocks checked against their sources in %d files; %d problems" % (checked, len(docs), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
