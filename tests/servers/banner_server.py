#!/usr/bin/python3
"""A server that is not an SMTP server, for the live tests of a client that
reached the wrong one: it sends a fixed banner (an SSH server's, say) to each
client, then reads and discards what the client sends until it closes.

    banner_server.py [--host 127.0.0.1] [--port 0] [--banner TEXT] [--close]

--banner TEXT   what to send on accepting a connection; backslash escapes
                (\\r, \\n, \\xNN) are decoded. Empty (the default): say nothing,
                like a server that waits for the client to speak first.
--close         close the connection right after the banner (with an empty
                banner: accept, then close without a word).

It prints "READY <port>" on stdout once it is listening and exits with status
0 on SIGTERM or SIGINT. Normally started by with_servers.py (--banner).
"""

import argparse
import asyncio
import codecs
import signal
import sys


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    p.add_argument("--banner", default="", help="sent on accept; \\r, \\n, \\xNN decoded")
    p.add_argument("--close", action="store_true", help="close right after the banner")
    return p.parse_args(argv)


async def serve(args):
    banner = codecs.escape_decode(args.banner.encode("utf-8"))[0]

    async def client(reader, writer):
        try:
            if banner:
                writer.write(banner)
                await writer.drain()
            if not args.close:
                while await reader.read(65536):
                    pass
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(client, args.host, args.port)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write("READY %d\n" % port)
    sys.stdout.flush()
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with server:
        await stop


def main(argv):
    asyncio.run(serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
