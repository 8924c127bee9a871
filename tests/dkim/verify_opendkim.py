#!/usr/bin/python3
"""Verifies DKIM signatures with OpenDKIM's opendkim-testmsg (opendkim-tools).

opendkim-testmsg reads the message on stdin and looks the key up in the DNS
through the C library's resolver (/etc/resolv.conf): it has no option for a
key file. So this script re-runs itself in new user, mount and network
namespaces (unshare -rmn: no root needed, nothing of the machine changes),
where the loopback interface is the only one, /etc/resolv.conf is a bind
mount of a file naming 127.0.0.1, and a small DNS server (dnspython, UDP and
TCP on 127.0.0.1:53) answers TXT queries from DIR/dns.txt ("NAME RECORD" per
line). Each DIR/*.eml is then given to opendkim-testmsg; exit status 0 and
no output is a verified signature (a few processes at a time). Prints
"NAME.eml pass" or "NAME.eml fail OUTPUT" per message, in name order."""
import concurrent.futures
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading

INSIDE = "SMTP_DKIM_IN_NAMESPACE"


def serve(records):
    import dns.message
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset

    def answer(wire):
        q = dns.message.from_wire(wire)
        r = dns.message.make_response(q)
        for question in q.question:
            name = question.name.to_text().rstrip(".").lower()
            txt = records.get(name)
            if question.rdtype == dns.rdatatype.TXT and txt is not None:
                chunks = " ".join('"%s"' % txt[i:i + 255] for i in range(0, len(txt), 255))
                r.answer.append(dns.rrset.from_text(question.name, 60, "IN", "TXT", chunks))
            else:
                r.set_rcode(3)  # NXDOMAIN
        return r.to_wire(max_size=65535)

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 53))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", 53))
    tcp.listen(8)

    def udp_loop():
        while True:
            wire, peer = udp.recvfrom(4096)
            udp.sendto(answer(wire), peer)

    def recv_exact(c, n):
        b = b""
        while len(b) < n:
            more = c.recv(n - len(b))
            if not more:
                raise EOFError
            b += more
        return b

    def tcp_loop():
        while True:
            c, _ = tcp.accept()
            with c:
                try:
                    while True:
                        (n,) = struct.unpack("!H", recv_exact(c, 2))
                        out = answer(recv_exact(c, n))
                        c.sendall(struct.pack("!H", len(out)) + out)
                except (EOFError, OSError):
                    pass

    threading.Thread(target=udp_loop, daemon=True).start()
    threading.Thread(target=tcp_loop, daemon=True).start()


def inside(d):
    records = {}
    with open(os.path.join(d, "dns.txt")) as f:
        for line in f:
            name, _, txt = line.strip().partition(" ")
            records[name.rstrip(".").lower()] = txt
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with tempfile.NamedTemporaryFile("w", suffix=".resolv.conf", delete=False) as f:
        f.write("nameserver 127.0.0.1\noptions edns0\n")
        resolv = f.name
    subprocess.run(["mount", "--bind", resolv, "/etc/resolv.conf"], check=True)
    serve(records)

    def verify(name):
        with open(os.path.join(d, name), "rb") as f:
            p = subprocess.run(["/usr/sbin/opendkim-testmsg"], stdin=f, capture_output=True, timeout=30)
        out = (p.stdout + p.stderr).decode(errors="replace").strip().replace("\n", " ")
        ok = p.returncode == 0 and not out
        return "%s %s%s" % (name, "pass" if ok else "fail", "" if ok else " (exit %d) %s" % (p.returncode, out))

    # A process per message (opendkim-testmsg reads one on stdin), a few at a time.
    names = sorted(n for n in os.listdir(d) if n.endswith(".eml"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for line in pool.map(verify, names):
            print(line)
    sys.stdout.flush()
    os.unlink(resolv)


def main():
    d = os.path.abspath(sys.argv[1])
    if os.environ.get(INSIDE):
        inside(d)
        return
    env = dict(os.environ, **{INSIDE: "1"})
    sys.exit(subprocess.run(["unshare", "-rmn", sys.executable, os.path.abspath(__file__), d], env=env).returncode)


if __name__ == "__main__":
    main()
