#!/usr/bin/env python3
"""Every name of the library that README.md and docs/*.md show in prose exists.

An inline code span (`...`, outside fenced blocks, which check_doc_code_blocks.py
checks) is read for qualified names: a run `a::b::c`, or `a::` before `...`.
A run is the library's when its first part is `smtp`, or a lower-case name
of a namespace, class, struct, union, enum, alias or concept that include/
declares (`tls`, `sasl`, `errc`, `connect_options`, `reply_parser`, ...); it
names smtp::a::b::c when it does not start with smtp:: itself, so a nested
name is written from smtp:: down (`reply_parser::cursor`, not `cursor`).
Template arguments and call arguments are not part of a run, but the names
in them are runs of their own, so
`smtp::connect<P>(options, smtp::log::transcript(std::cerr))` checks
smtp::connect and smtp::log::transcript. A member chain right after a run is
part of it: `connect_options::transactions.pipelining` checks that
smtp::connect_options::transactions has a member pipelining. Runs that start
with anything else (`std::`, `boost::`, a capitalised template parameter such
as `Log::` or `Crypto::`) are not checked, nor are unqualified names
(`has_extn`); spans in EXCEPTIONS are not C++.

The compiler is the judge. One generated translation unit includes every
public header and, for each name, declares on its own line each of:

    namespace pN { namespace a = smtp::tls; }                           a namespace
    namespace pN { using smtp::sasl::plain; }                           a namespace member:
                                                                        type, function, template,
                                                                        concept, variable, enumerator
    namespace pN { struct d : smtp::connect_options                     a class member: data,
                   { using smtp::connect_options::local_name; }; }      function, type, enumerator
    namespace pN { using t = decltype(std::declval<Q&>().m.a.b); }      a member chain

and compiles it with -fsyntax-only. A name passes when at least one of its
lines has no error. Most lines fail by design (a namespace is no member, a
type is no namespace), so the check proves it can fail: a few names that
exist and a few that do not (SELF_TEST) go through the same compile, and a
wrong verdict on any of them, or an error outside the probe lines, fails it.

    check_doc_names.py ROOT --cxx COMPILER [-I DIR]...   check (the ctest)
    check_doc_names.py ROOT ... --list                   also print every name checked
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile

# Namespaces include/ may reopen to specialise their traits: not the library's.
FOREIGN = {"std", "boost"}

# Spans that look like library names and are not C++.
EXCEPTIONS = {
    "smtp::smtp": "the CMake target (add_library(smtp::smtp ALIAS smtp))",
    "smtp::compiled": "the CMake target of separate mode (add_library(smtp::compiled ALIAS smtp_compiled))",
}

# The check's own twins: names that exist (each kind of probe must let one
# through) and invented or renamed ones (each must be refused).
SELF_TEST = {
    "smtp": True,                            # the namespace itself
    "smtp::tls": True,                       # a namespace
    "smtp::sasl::plain": True,               # a class
    "smtp::connect": True,                   # a function template
    "smtp::ehlo_done": True,                 # a concept
    "smtp::errc::need_more": True,           # an enumerator of a scoped enum
    "smtp::connect_options::local_name": True,  # a data member
    "smtp::reply_parser::put": True,         # an overloaded member function
    "smtp::connect_options::transactions.pipelining": True,  # a member chain
    "smtp::auth::plain": False,              # PLAIN is sasl::plain
    "smtp::tls::verify": False,              # a member of tls::verify_peer, not of tls
    "smtp::connect_options::cafile": False,  # renamed
    "smtp::errc::no_such_error": False,      # invented enumerator
    "smtp::connect_options::transactions.pipeline": False,  # a wrong member in a chain
    "smtp::nonexistent": False,              # invented
}

FENCE = re.compile(r"^```")
SPAN = re.compile(r"(?<!`)(`+)(?!`)((?:(?!\n[ \t]*\n).)+?)(?<!`)\1(?!`)", re.S)
RUN = re.compile(r"(?<![\w:.])([A-Za-z_]\w*(?:::[A-Za-z_]\w*)*)(::)?((?:\.[A-Za-z_]\w*)*)")
DECLARED = [
    re.compile(r"\bnamespace\s+([A-Za-z_]\w*)\s*\{"),
    # class/struct/union NAME followed by a base clause, a body, `final` or `;`
    # (not a template parameter `class T>` or `class T,`)
    re.compile(r"\b(?:class|struct|union)\s+(?:\[\[[^\]]*\]\]\s*)?([A-Za-z_]\w*)\s*(?:final\b|:(?!:)|[{;])"),
    re.compile(r"\benum\s+(?:class\s+|struct\s+)?([A-Za-z_]\w*)\s*[:{]"),
    re.compile(r"\busing\s+([A-Za-z_]\w*)\s*="),
    re.compile(r"\bconcept\s+([A-Za-z_]\w*)\s*="),
]


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//.*", "", text)


def declared_names(include):
    """The first parts that make a run the library's: the names include/
    declares, lower case as the library's own names are (template parameters
    and local aliases are capitalised: `Log::enabled`, `Crypto::random_bytes`
    and `M::name` name no declaration)."""
    names = set()
    for h in include.rglob("*.hpp"):
        code = strip_comments(h.read_text())
        for pattern in DECLARED:
            names.update(n for n in pattern.findall(code) if n[0].islower())
    return names - FOREIGN


def prose(doc):
    """The document with its fenced blocks blanked (line numbers kept)."""
    out, inside = [], False
    for line in doc.read_text().split("\n"):
        if FENCE.match(line):
            inside = not inside
            out.append("")
        else:
            out.append("" if inside else line)
    return "\n".join(out)


def names_in(root, roots):
    """[(where, span, full name or None, member chain)] for every library name in the docs."""
    found = []
    for doc in [root / "README.md"] + sorted((root / "docs").glob("*.md")):
        text = prose(doc)
        for m in SPAN.finditer(text):
            span = " ".join(m.group(2).split())
            if span in EXCEPTIONS:
                continue
            where = "%s:%d" % (doc.relative_to(root), text.count("\n", 0, m.start()) + 1)
            for r in RUN.finditer(span):
                run, trailing, chain = r.group(1), r.group(2), r.group(3)
                if "::" not in run and not trailing:
                    continue
                first = run.split("::")[0]
                if first != "smtp" and first not in roots:
                    continue
                full = run if first == "smtp" else "smtp::" + run
                found.append((where, span, full, chain if not trailing else ""))
    return found


def probes(full, chain):
    """The probe declarations for one name, each a line of C++."""
    if chain:
        q, _, n = full.rpartition("::")
        return ["using t = decltype(std::declval<%s&>().%s%s);" % (q, n, chain)]
    out = ["namespace a = %s;" % full]
    if full != "smtp":
        out.append("using %s;" % full)
        q = full.rpartition("::")[0]
        if q not in ("smtp", "smtp::v0"):
            out.append("struct d : %s { using %s; };" % (q, full))
    return out


def compile_probes(names, args, headers):
    """{(full, chain): True when some probe compiled}, and errors outside the probes."""
    lines = ["// generated by tests/check_doc_names.py"]
    lines += ["#include <%s>" % h for h in headers]
    lines += ["#include <utility>", ""]
    owner = {}
    for i, (full, chain) in enumerate(names):
        for p in probes(full, chain):
            lines.append("namespace p%d { %s }" % (i, p))
            owner[len(lines)] = (full, chain)
    with tempfile.TemporaryDirectory() as tmp:
        tu = pathlib.Path(tmp) / "doc_names.cpp"
        tu.write_text("\n".join(lines) + "\n")
        version = subprocess.run([args.cxx, "--version"], capture_output=True, text=True).stdout
        # Every error, not the first 20 (clang's default): a probe past the
        # limit would pass unjudged (the self-test catches that).
        no_limit = "-ferror-limit=0" if "clang" in version else "-fmax-errors=0"
        cmd = [args.cxx, "-std=c++20", "-fsyntax-only", no_limit, "-fno-diagnostics-color"]
        cmd += ["-I" + d for d in args.include] + [str(tu)]
        env = dict(os.environ, LC_ALL="C")
        run = subprocess.run(cmd, capture_output=True, text=True, env=env)
        failed, stray = set(), []
        for line in run.stderr.split("\n"):
            m = re.match(r"^(.*?):(\d+):(?:\d+:)? (?:fatal )?error: ", line)
            if not m:
                continue
            if m.group(1) == str(tu) and int(m.group(2)) in owner:
                failed.add(int(m.group(2)))
            else:
                stray.append(line)
        if run.returncode != 0 and not failed and not stray:
            stray.append("the compiler failed without an error line:\n" + run.stderr)
    verdict = {}
    for line, name in owner.items():
        verdict[name] = verdict.get(name, False) or line not in failed
    return verdict, stray


def split_chain(name):
    m = re.match(r"^([\w:]+?)((?:\.\w+)*)$", name)
    return m.group(1), m.group(2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--cxx", default="c++")
    ap.add_argument("-I", dest="include", action="append", default=[])
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    root = pathlib.Path(args.root).resolve()
    include = root / "include"
    args.include = [str(include)] + args.include
    # smtp/src.hpp is separate mode's one compiled file (an #error without its macro).
    headers = sorted(str(h.relative_to(include)) for h in include.rglob("*.hpp")
                     if "detail" not in h.parts and h.name != "src.hpp")

    found = names_in(root, declared_names(include))
    unique = sorted({(full, chain) for _, _, full, chain in found} | {split_chain(n) for n in SELF_TEST})
    verdict, stray = compile_probes(unique, args, headers)

    problems = []
    for line in stray:
        problems.append("an error outside the probes (the check cannot judge): %s" % line)
    for name, exists in SELF_TEST.items():
        if verdict[split_chain(name)] != exists:
            problems.append("self-test: %s %s, but the probes say otherwise: the check is broken"
                            % (name, "exists" if exists else "does not exist"))
    for where, span, full, chain in found:
        if args.list:
            print("%s: %s%s %s" % (where, full, chain, "ok" if verdict[(full, chain)] else "MISSING"))
        if not verdict[(full, chain)]:
            problems.append("%s: `%s` names %s%s, which include/ does not declare" % (where, span, full, chain))
    for p in problems:
        print(p)
    print("%d names (%d distinct) in the docs' code spans checked against include/ by %s; %d problems"
          % (len(found), len({(f, c) for _, _, f, c in found}), args.cxx, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
