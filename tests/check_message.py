#!/usr/bin/python3
"""Checks a message that smtp::message wrote, independently, with Python's
email package (tests/test_message.cpp runs it on every message it builds).

    check_message.py MESSAGE.eml EXPECTED.json

The message is parsed with email.message_from_bytes(policy=email.policy.default)
and compared with what the C++ test built:

  headers     {"subject": "...", "date": "...", "x-custom": "..."}: decoded values
  addresses   {"from": [[name, address]], "to": [...], ...}: display names decoded
  message_id_re  a regular expression the Message-ID must match
  structure   "multipart/mixed(multipart/alternative(text/plain,text/html),image/png)"
  parts       the leaf parts in order: type, cte, charset, text (compared with
              line ends normalised), bytes_hex or bytes_file (the decoded
              payload), filename, content_id, disposition
  max_header_line  longest header line allowed (default 78)

and, for every message: CRLF line ends only, no line over 998 octets, no
encoded-word over 75 characters, quoted-printable and base64 lines of at most
76, no defects found by the parser. Exit status 0 when all hold, 1 otherwise
(with what differs on stderr).
"""
import email
import email.policy
import json
import re
import sys

failures = []


def fail(what):
    failures.append(what)


def norm(text):
    return text.replace("\r\n", "\n").replace("\r", "\n")


def structure(part):
    if part.is_multipart():
        return part.get_content_type() + "(" + ",".join(structure(p) for p in part.iter_parts()) + ")"
    return part.get_content_type()


def main():
    raw = open(sys.argv[1], "rb").read()
    expected = json.load(open(sys.argv[2], encoding="utf-8"))
    msg = email.message_from_bytes(raw, policy=email.policy.default)

    # --- The octets -------------------------------------------------------
    if re.search(rb"(?<!\r)\n", raw) or re.search(rb"\r(?!\n)", raw):
        fail("a bare CR or LF")
    if not raw.endswith(b"\r\n"):
        fail("the message does not end with CRLF")
    lines = raw.split(b"\r\n")
    longest = max(len(line) for line in lines)
    if longest > 998:
        fail(f"a line of {longest} octets")

    boundaries = {b"--" + p.get_boundary().encode() for p in msg.walk() if p.is_multipart()}
    max_header = expected.get("max_header_line", 78)
    in_headers = True
    for line in lines:
        if in_headers:
            if line == b"":
                in_headers = False
                continue
            if len(line) > max_header:
                fail(f"header line of {len(line)} octets: {line[:60]!r}...")
            for word in re.findall(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=", line):
                if len(word) > 75:
                    fail(f"encoded-word of {len(word)} characters: {word!r}")
        elif line in boundaries:
            in_headers = True

    for part in msg.walk():
        if part.defects:
            fail(f"{part.get_content_type()}: defects {part.defects}")
        if part.is_multipart():
            continue
        cte = part.get("content-transfer-encoding", "7bit").lower()
        if cte in ("quoted-printable", "base64"):
            for line in part.get_payload().splitlines():
                if len(line) > 76:
                    fail(f"{cte} line of {len(line)} characters")
                    break

    # --- Headers ----------------------------------------------------------
    for name, value in expected.get("headers", {}).items():
        got = msg[name]
        if got is None or str(got) != value:
            fail(f"header {name}: got {str(got)!r}, expected {value!r}")
    for name, boxes in expected.get("addresses", {}).items():
        header = msg[name]
        got = [[a.display_name, a.addr_spec] for a in header.addresses] if header is not None else None
        if got != boxes:
            fail(f"addresses {name}: got {got!r}, expected {boxes!r}")
    if "message_id_re" in expected:
        mid = str(msg["message-id"])
        if not re.fullmatch(expected["message_id_re"], mid):
            fail(f"Message-ID {mid!r} does not match {expected['message_id_re']!r}")
    if msg["mime-version"] != "1.0":
        fail(f"MIME-Version {msg['mime-version']!r}")
    if msg["date"] is None or msg["date"].datetime is None:
        fail("no Date, or one Python cannot read")

    # --- Structure and payloads ----------------------------------------------
    if "structure" in expected and structure(msg) != expected["structure"]:
        fail(f"structure {structure(msg)!r}, expected {expected['structure']!r}")
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    want = expected.get("parts", [])
    if len(leaves) != len(want):
        fail(f"{len(leaves)} leaf parts, expected {len(want)}")
    for i, (part, exp) in enumerate(zip(leaves, want)):
        where = f"part {i} ({part.get_content_type()})"
        if "type" in exp and part.get_content_type() != exp["type"]:
            fail(f"{where}: type, expected {exp['type']}")
        if "cte" in exp and part.get("content-transfer-encoding", "7bit").lower() != exp["cte"]:
            fail(f"{where}: Content-Transfer-Encoding {part.get('content-transfer-encoding')!r}, expected {exp['cte']!r}")
        if "charset" in exp and part.get_content_charset() != exp["charset"]:
            fail(f"{where}: charset {part.get_content_charset()!r}, expected {exp['charset']!r}")
        if "text" in exp:
            got, exp_text = norm(part.get_content()), norm(exp["text"])
            if got != exp_text and not (not exp_text.endswith("\n") and got == exp_text + "\n"):
                fail(f"{where}: text {got[:200]!r}, expected {exp_text[:200]!r}")
        data = None
        if "bytes_hex" in exp:
            data = bytes.fromhex(exp["bytes_hex"])
        if "bytes_file" in exp:
            data = open(exp["bytes_file"], "rb").read()
        if data is not None:
            got = part.get_payload(decode=True)
            if got != data:
                fail(f"{where}: payload of {len(got)} bytes differs from the expected {len(data)}")
            if not isinstance(part.get_content(), bytes if part.get_content_maintype() != "text" else str):
                fail(f"{where}: get_content() gives the wrong kind of value")
        if "filename" in exp and part.get_filename() != exp["filename"]:
            fail(f"{where}: filename {part.get_filename()!r}, expected {exp['filename']!r}")
        if "content_id" in exp and str(part.get("content-id")) != exp["content_id"]:
            fail(f"{where}: Content-ID {part.get('content-id')!r}, expected {exp['content_id']!r}")
        if "disposition" in exp and part.get_content_disposition() != exp["disposition"]:
            fail(f"{where}: disposition {part.get_content_disposition()!r}, expected {exp['disposition']!r}")

    for f in failures:
        print(f"{sys.argv[1]}: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
