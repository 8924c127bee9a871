#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target under tests/fuzz/corpus/<target>/.

The seeds are the inputs of the unit tests (tests/test_*.cpp) and the EHLO
captures (tests/data/ehlo/), each behind the header its target reads (see
the comment at the top of each tests/fuzz/fuzz_*.cpp). Run it after changing
a target's input layout:

    python3 tests/fuzz/make_corpus.py

It replaces every file it writes and removes the other files of the corpus
directories: the committed corpus is exactly what this script makes. (What a
fuzzing run finds goes to build/fuzz/corpus/, a copy; see ./run fuzz.)
"""
import base64
import hashlib
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
EHLO_DATA = HERE.parent / "data" / "ehlo"


def counted(b):
    b = b if isinstance(b, bytes) else b.encode()
    assert len(b) < 256, b
    return bytes([len(b)]) + b


def u16(n):
    return struct.pack("<H", n)


def pieces(lengths):
    """The k byte and the piece lengths of the reply parser's and encoder's headers."""
    assert len(lengths) < 32
    return bytes([len(lengths)]) + bytes(lengths)


corpus = {}


def seed(target, name, data):
    data = data if isinstance(data, bytes) else data.encode()
    corpus.setdefault(target, {})[name] = data


# --- fuzz_reply_parser: [flags][l1][l2][l3][k][lengths...] bytes ------------------

def reply(name, text, flags=0, l1=0, l2=0, l3=0, cuts=()):
    text = text if isinstance(text, bytes) else text.encode("latin-1")
    seed("fuzz_reply_parser", name, bytes([flags, l1, l2, l3]) + pieces(list(cuts)) + text)


LEAD = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n" \
       "250-mail.example.org\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n"
TRANSCRIPT = ("220 mail.example.org ESMTP ready\r\n"
              "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
              "250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
              "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
              "550-5.1.1 <nobody@example.org>: Recipient address rejected:\r\n"
              "550-5.1.1 User unknown in virtual mailbox table\r\n"
              "550 5.1.1 \tsee https://example.org/help\r\n"
              "354 End data with <CR><LF>.<CR><LF>\r\n"
              "250 2.0.0 Ok: queued as 4F3A2B1C0D\r\n250\r\n221 2.0.0 Bye \xc3\xa9\r\n")

reply("single", "250 OK\r\n")
reply("multi", "250-mail.example.org\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250 HELP\r\n")
reply("empty-text", "250\r\n250 \r\n250-\r\n250-x\r\n250\r\n")
reply("transcript", TRANSCRIPT)
reply("transcript-cut", TRANSCRIPT, cuts=[1, 33, 2, 64, 0, 7, 100, 3])
reply("lead-then-partial", LEAD + "250-first\r\n250-second\r\n250 la")
reply("status-codes", "250 2.1.0 Ok\r\n550-5.1.1 The email account\r\n550 5.1.1 does not exist\r\n"
      "451 4.7.1 Try again later\r\n250 2.0.0\r\n554 5.123.999 x\r\n250 5.1.1 class differs\r\n"
      "250 2.1000.0 too many digits\r\n250 2.1.0x glued\r\n250 2..0 empty\r\n250 2.1\r\n")
for i, bad in enumerate(["199 x\r\n", "600 x\r\n", "2a0 x\r\n", "25\r\n", "\r\n", " 250 x\r\n", "2500\r\n",
                         "250x\r\n", "250\tOK\r\n"]):
    reply(f"bad-code-{i}", LEAD + bad)
reply("code-mismatch", "250-a\r\n250-b\r\n550 c\r\n")
reply("control-nul", LEAD + "250 a\0b\r\n")
reply("control-esc-del", "250 \x1b[31mred\r\n250 del\x7f\r\n")
reply("eight-bit", "250 caf\xc3\xa9 \xe2\x9c\x93 ok\r\n" + "x" * 80)
reply("bare-cr", "250 a\rb\r\n")
reply("bare-cr-lenient", "250 a\r\r\n", flags=4)
reply("bare-lf", "250-mail.example.org\n250-SIZE 100\r\n250 HELP\n")
reply("bare-lf-lenient", "250-mail.example.org\n250-SIZE 100\r\n250 HELP\n" + LEAD, flags=4)
reply("line64-exact", "250 " + "x" * 58 + "\r\n" + LEAD, flags=2, l1=64, l2=255, l3=11)
reply("line64-over", "250 " + "x" * 59 + "\r\n", flags=2, l1=64, l2=255, l3=11)
reply("line-endless", "250 " + "y" * 300, flags=2, l1=64, l2=255, l3=11, cuts=[10, 60, 4])
reply("strict-ok", "250 " + "z" * 506 + "\r\n", flags=1)
reply("strict-over", "250 " + "z" * 507 + "\r\n", flags=1)
reply("many-lines", "250-x\r\n" * 12 + "250 x\r\n", flags=2, l1=100, l2=255, l3=10)
reply("endless-multi", "250-this reply never ends\r\n" * 40, flags=3, l1=20, l2=40, l3=255)
reply("limits-both", "250-" + "f" * 30 + "\r\n550 " + "a" * 40 + "\r\n", flags=3, l1=10, l2=3, l3=3)
for text in (54, 61, 62, 63, 64):
    reply(f"block-edge-{text}", "250 " + "x" * text + "\r\n250-x\r\n250 y\r\n")
reply("burst", LEAD * 3 + "250 2.0.0 Ok: queued as 4F3A2B1C0D\r\n221 2.0.0 Bye\r\n", cuts=[200, 1, 1, 1])

# --- fuzz_ehlo: [flags][q][counted queries...] bytes --------------------------------------

def ehlo(name, text, flags=0, queries=()):
    text = text if isinstance(text, bytes) else text.encode("latin-1")
    seed("fuzz_ehlo", name, bytes([flags, len(queries)]) + b"".join(counted(q) for q in queries) + text)


for f in sorted(EHLO_DATA.glob("*.txt")):
    ehlo(f.stem, f.read_bytes(), queries=["size", "Auth", "XCLIENT"])
ehlo("one-line", "250 mx.example.org Hello client [192.0.2.1]\r\n")
ehlo("unknown-keywords", "250-x.test\r\n250-XFOO a b\r\n250-x-bar\r\n250-ZZZ 1\r\n250-PIPELINING\r\n250 AAA\r\n",
     queries=["xfoo", "X-BAR", "zzz", "x"])
ehlo("mixed-case", "250-x.test\r\n250-Size 1000\r\n250-8bitmime\r\n250 StartTLS\r\n")
ehlo("auth-equals", "250-x.test\r\n250-AUTH LOGIN\r\n250-AUTH=PLAIN LOGIN XOAUTH2\r\n250 HELP\r\n")
ehlo("auth-equals-lower", "250-x.test\r\n250 auth=plain login\r\n")
ehlo("auth-repeats", "250-x.test\r\n250 AUTH plain PLAIN Login cram-md5 LOGIN\r\n")
ehlo("auth-empty", "250-x.test\r\n250 AUTH\r\n250 AUTH  PLAIN   LOGIN  \r\n")
ehlo("auth-junk", "250-mx.example\r\n250 AUTH PLAIN X=Y login CRAM-MD5 ABCDEFGHIJKLMNOPQRSTU\r\n")
ehlo("size-max", "250-x.test\r\n250 SIZE 18446744073709551615\r\n")
ehlo("size-overflow", "250-x.test\r\n250-SIZE 18446744073709551616\r\n250 SIZE 1000\r\n")
ehlo("size-spaces", "250-x.test\r\n250 SIZE   35882577  \r\n")
ehlo("not-keywords", "250-x.test\r\n250- PIPELINING\r\n250--X\r\n250-=Y\r\n250-\r\n250 DSN\r\n")
ehlo("merged-params", "250-x.test\r\n250-XFORWARD NAME ADDR\r\n250-XFORWARD PROTO HELO\r\n250 XCLIENT name\r\n")
ehlo("every-known", "250-all.test\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-STARTTLS\r\n"
     "250-AUTH SCRAM-SHA-256 PLAIN LOGIN\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-BINARYMIME\r\n"
     "250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-REQUIRETLS\r\n250 HELP\r\n")
ehlo("not-250", "502 5.5.2 Error: command not recognized\r\n")
ehlo("bare-lf-lenient", "250-lf.test\n250-SIZE 100\n250 PIPELINING\n", flags=1)
ehlo("raw-view", "250-x.test\r\n250-AUTH=\r\n\0 SIZE\r\n", flags=2)

# --- fuzz_data_encoder: [flags][max_line u16][room][k][lengths...] message -------------

def data(name, message, max_line=0, flags=0, room=0, cuts=()):
    message = message if isinstance(message, bytes) else message.encode("latin-1")
    seed("fuzz_data_encoder", name, bytes([flags]) + u16(max_line) + bytes([room]) + pieces(list(cuts)) + message)


data("smtplib", "Subject: Simple test message\r\n\r\nThis is the body of the message.", max_line=998)
data("empty", "")
data("crlf-only", "\r\n")
data("dots", ".\r\n.", cuts=[1, 2])
data("dots-lines", "a\r\n.b\r\n..c\r\na.b\r\n")
data("bare-ends", "a\nb\rc\r\nd", cuts=[2])
data("bare-dots", "\n.\n\r.\r\r\r\n\n\r")
for i, s in enumerate(["a\n.\nMAIL FROM:<x@y>\n", "a\r.\rMAIL FROM:<x@y>\r", "a\r\n.\nMAIL FROM:<x@y>\r\n",
                       "a\n.\r\nMAIL FROM:<x@y>\r\n", "a\r\n.\rMAIL FROM:<x@y>\r\n", "a\r\n.\r\nMAIL FROM:<x@y>\r\n",
                       "a\r\n.\0\r\nb"]):
    data(f"smuggling-{i}", s, cuts=[len(s) // 2])
data("cr-then-lf-next-piece", "x\r\ny\r\n", cuts=[2, 3])
data("ends-with-cr", "ends with CR\r", max_line=10)
data("line-limit-exact", "x" * 998 + "\r\n", max_line=998, cuts=[200, 200, 200])
data("line-limit-over", "x" * 999 + "\r\n", max_line=998)
data("line-limit-small", "0123456789A\n" + ".x\r\n" * 5, max_line=10, flags=2, room=13)
data("long-line-bare-lf", "y" * 40 + "\n" + "z" * 8, max_line=20)
data("block-path", ("a longer line of text that spans more than sixteen bytes\r\n.line\n" * 6) + "\r.\n",
     flags=3, room=5, cuts=[130, 1, 64, 65])
data("low-controls", "\x01\x0b\x0c\x0e\x00\x7f\r\n" * 20 + "\xc3\xa9\r\n", flags=1)
data("headers-8bit", "Subject: caf\xc3\xa9\r\n\r\nbody \xe2\x9c\x93\r\n")
data("body-8bit", "Subject: x\r\n\r\nbody \xe2\x9c\x93\r\n")

# --- fuzz_sasl: [mech|honest][flags] counted user, secret, authzid, host; port u16;
#     [counted nonce]; [honest: counted snonce, salt, count byte, suffixes]; counted challenges

def sasl(name, mech, flags, user="user", secret="pencil", authzid="", host="", port=0, nonce=None,
         honest=None, challenges=()):
    b = bytes([mech, flags]) + counted(user) + counted(secret) + counted(authzid) + counted(host) + u16(port)
    if flags & 4:
        b += counted(nonce or "")
    if honest is not None:
        snonce, salt, count, s1, s2 = honest
        b += counted(snonce) + counted(salt) + bytes([count]) + counted(s1) + counted(s2)
    b += b"".join(counted(c) for c in challenges)
    seed("fuzz_sasl", name, b)


B64 = 2
INIT = 1
RFC5802_FIRST = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
SALT = base64.b64decode("QSXCR+Q6sek8bf92")
ITER_241 = 15 << 4  # max_iterations 241

sasl("plain-initial", 0, INIT, authzid="admin")
sasl("plain-asked", 0, 0, challenges=["", "x"])
sasl("plain-nul", 0, INIT, user="us\0er")
sasl("login", 1, 0, challenges=["Username:", "Password:", "More?"])
sasl("login-base64", 1, B64, challenges=["VXNlcm5hbWU6", "UGFzc3dvcmQ6", "bad!"])
sasl("login-crlf", 1, INIT, secret="pa\r\nss")
sasl("cram-md5-rfc2195", 2, 0, user="tim", secret="tanstaaftanstaaf",
     challenges=["<1896.697170952@postoffice.reston.mci.net>", "again"])
sasl("cram-md5-empty", 2, 0, user="tim", challenges=[""])
sasl("xoauth2", 3, INIT, user="someuser@example.com", secret="ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
     challenges=['{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}', ""])
sasl("xoauth2-asked-b64", 3, B64, user="u@example.com", secret="tok",
     challenges=["", "eyJzdGF0dXMiOiI0MDEifQ=="])
sasl("oauthbearer", 4, INIT | 8, user="user@example.com", secret="vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==",
     host="server.example.com", port=587, challenges=['{"status":"invalid_token"}', "x"])
sasl("oauthbearer-escape", 4, 0, user="a,b=c", secret="t", challenges=[""])
sasl("scram-sha1-rfc5802", 5, INIT | ITER_241, challenges=[RFC5802_FIRST, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="])
sasl("scram-sha1-small", 5, INIT | ITER_241,
     challenges=["r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=16",
                 "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=,x=y"])
sasl("scram-sha256-server-error", 6, INIT | ITER_241,
     challenges=["r=fyko+d2lbbFgONRv9qkxdawLsnonce,s=QSXCR+Q6sek8bf92,i=1,x=ext", "e=invalid-proof", ""])
sasl("scram-sha256-mandatory-ext", 6, INIT | ITER_241,
     challenges=["m=mandatory,r=fyko+d2lbbFgONRv9qkxdawLs,s=QSXCR+Q6sek8bf92,i=1"])
sasl("scram-sha256-own-nonce", 6, INIT | 4 | ITER_241, nonce="rOprNGfwEbeRWgbNEkqO",
     challenges=["r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=200"])
sasl("scram-bad-nonce", 6, INIT | 4, nonce="a,b")
for mech, name in ((5, "sha1"), (6, "sha256")):
    sasl(f"scram-{name}-honest", 0x80 | mech, INIT | ITER_241, user="user", secret="pencil",
         honest=("3rfcNHYJY1ZVvWVs7j", SALT, 15, "", ""))
    sasl(f"scram-{name}-honest-asked-b64", 0x80 | mech, B64 | ITER_241, user="u,s=er", secret="p\xc3\xa9",
         authzid="admin=1", honest=("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", b"salt", 3, ",e=x,f=", ",ext=1"),
         challenges=["dg=="])
sasl("scram-sha256-honest-bad-suffix", 0x86, INIT | ITER_241,
     honest=("snonce", b"\x00\x01", 0, ",1=x", ","))

# --- fuzz_transaction -----------------------------------------------------------------------

def transaction(name, offers, flags, m, message="Subject: x\r\n\r\nhi\r\n", piece=0, size_limit=0, max_line=0,
                rcpts=(0, 1), replies=(), source=0, most=1):
    message = message if isinstance(message, bytes) else message.encode("latin-1")
    src = source | (((most - 1) // 4) << 2)
    b = bytes([offers, flags, m, piece]) + u16(size_limit) + bytes([max_line, src]) + u16(len(message)) + message
    b += bytes(rcpts) + bytes(replies)
    seed("fuzz_transaction", name, b)


PIPE, CHUNK, BINARY, EIGHT, UTF8, DSN, REQTLS, SIZE = 1, 2, 4, 8, 16, 32, 64, 128
LIMIT, LMTP, TLS, NOPIPE, NOCHUNK, BODYBIN, ASKTLS, REJECT = 1, 2, 4, 8, 16, 32, 64, 128
R250, R354, R421, R452, R550, R554 = 0, 3, 4, 7, 11, 15
FAIL = 0xFF

transaction("pipelined", PIPE, 0, 2, replies=[R250, R250, R550, R354, R250])
transaction("lockstep", 0, 0, 2, replies=[R250, R250, R250, R354, R250])
transaction("all-refused-pipelined", PIPE, 0, 2, replies=[R250, R550, R550, R354, R250])
transaction("mail-refused", PIPE, 0, 2, replies=[R550, R550, R550, R554])
transaction("421-in-the-middle", PIPE, 0, 3, rcpts=(0, 1, 7), replies=[R250, R421])
transaction("failure-after-data", 0, 0, 1, rcpts=(0,), replies=[R250, R250, R354, FAIL])
transaction("bdat-pipelined", PIPE | CHUNK, 0, 2, piece=4, replies=[R250, R250, R250] + [R250] * 8)
transaction("bdat-lockstep-chunk-refused", CHUNK, 0, 1, piece=3, rcpts=(0,), replies=[R250, R250, R250, R554])
transaction("binarymime", PIPE | CHUNK | BINARY, BODYBIN, 1, message=b"\x00\xff\r\r\n", rcpts=(0,),
            replies=[R250, R250, R250])
transaction("size-limit", SIZE, LIMIT, 1, size_limit=10, rcpts=(0,))
transaction("size-declared", SIZE | PIPE, 0, 1, rcpts=(0,), replies=[R250, R250, R354, R250])
transaction("eightbit", EIGHT, 0, 1, message="Subject: x\r\n\r\ncaf\xc3\xa9\r\n", rcpts=(0,),
            replies=[R250, R250, R354, R250])
transaction("eightbit-missing", 0, 0, 1, message="Subject: x\r\n\r\ncaf\xc3\xa9\r\n", rcpts=(0,))
transaction("smtputf8", UTF8 | EIGHT | PIPE, 0, 2, message="Subject: caf\xc3\xa9\r\n\r\nx\r\n", rcpts=(2, 0),
            replies=[R250, R250, R250, R354, R250])
transaction("dsn", DSN | PIPE, 0, 2 | (1 << 3) | 32, rcpts=(0 | (2 << 3) | 128, 1 | (1 << 3) | 128),
            replies=[R250, R250, R250, R354, R250])
transaction("dsn-missing", 0, 0, 1 | (2 << 3), rcpts=(0,))
transaction("requiretls", REQTLS | PIPE, TLS | ASKTLS, 1, rcpts=(0,), replies=[R250, R250, R354, R250])
transaction("requiretls-cleartext", REQTLS, ASKTLS, 1, rcpts=(0,))
transaction("reject-bare-lf", 0, REJECT, 1, message="a\nb\r\n", rcpts=(0,))
transaction("line-too-long", 0, 0, 1, message="x" * 40 + "\r\n", max_line=20, rcpts=(0,))
transaction("bad-addresses", PIPE, 0, 3 | (3 << 6), rcpts=(4, 5, 6))
transaction("no-recipients", PIPE, 0, 0)
transaction("lmtp-data", PIPE, LMTP, 3, rcpts=(0, 1, 2), replies=[R250, R250, R550, R250, R354, R250, R452])
transaction("lmtp-bdat", PIPE | CHUNK, LMTP, 2, replies=[R250, R250, R250, R250, R550])
transaction("settings-off", PIPE | CHUNK, NOPIPE | NOCHUNK, 1, rcpts=(0,), replies=[R250, R250, R354, R250])
transaction("write-pieces", 0, 0, 1, message="line one\r\n.line two\r\n" * 4, piece=5, rcpts=(0,),
            replies=[R250, R250, R354, R250])
REWIND, STREAM, REWIND_FAILS = 1, 2, 3
transaction("source-whole-pieces", PIPE, 0, 1, message="line\r\n.dot\r\n" * 3, piece=5, rcpts=(0,),
            replies=[R250, R250, R354, R250], source=REWIND, most=253)
transaction("source-bdat-whole-pieces", PIPE | CHUNK, 0, 1, message="a\rb\nc\r\n" * 3, piece=4, rcpts=(0,),
            replies=[R250, R250] + [R250] * 8, source=REWIND, most=5)
transaction("source-short-reads", CHUNK, 0, 1, message="x" * 30 + "\r\n", piece=16, rcpts=(0,),
            replies=[R250, R250] + [R250] * 12, source=REWIND, most=1)
transaction("source-stream", PIPE | EIGHT, 0, 1, message="Subject: x\r\n\r\nbody\r\n", rcpts=(0,),
            replies=[R250, R250, R354, R250], source=STREAM, most=9)
transaction("source-stream-8bit-abort", PIPE, 0, 1, message="Subject: x\r\n\r\n" + "ok\r\n" * 4 + "caf\xc3\xa9\r\n",
            piece=8, rcpts=(0,), replies=[R250, R250, R354], source=STREAM, most=5)
transaction("source-stream-long-line-bdat", PIPE | CHUNK, 0, 1, message="short\r\n" + "y" * 30 + "\r\n", piece=6,
            max_line=20, rcpts=(0,), replies=[R250, R250, R250], source=STREAM, most=6)
transaction("source-stream-utf8-headers", PIPE | EIGHT, 0, 1, message="Subject: caf\xc3\xa9\r\n\r\nx\r\n", rcpts=(0,),
            replies=[R250, R250, R354], source=STREAM, most=4)
transaction("source-rewind-fails", PIPE, 0, 1, rcpts=(0,), source=REWIND_FAILS, most=5)
transaction("arbitrary-codes", PIPE, 0, 1, rcpts=(0,), replies=[0xF0, 0x31, 0x00, 0xF5, 0x99, 0x01, R354, R250])


def main():
    for target, seeds in corpus.items():
        d = CORPUS / target
        d.mkdir(parents=True, exist_ok=True)
        keep = set()
        for name, content in seeds.items():
            (d / name).write_bytes(content)
            keep.add(name)
        for old in d.iterdir():
            if old.name not in keep:
                old.unlink()
        print(f"{target}: {len(seeds)} seeds, {sum(len(c) for c in seeds.values())} bytes")


if __name__ == "__main__":
    main()
