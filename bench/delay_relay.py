#!/usr/bin/python3
"""A TCP relay that adds a fixed one-way delay in each direction.

netem is not available on our machines, so added round-trip time comes
from here: every chunk read on one side is written to the other side
`one_way_ms` after it was read.  Bandwidth is shaped elsewhere (tc tbf on
the veth pair, see shaping.py); the relay itself never limits throughput,
so a chunk waits for its due time and then for the link, in that order,
like a long wire in front of a slow one.

Usage: delay_relay.py --to HOST:PORT --one-way-ms MS [--listen HOST:PORT]
Prints "listening on PORT" once ready, then relays until killed.  A line
"one-way-ms MS" on stdin changes the delay of every chunk read from then
on (the adaptation evaluation's RTT steps); chunks stay in order.
"""
import argparse
import asyncio
import socket
import sys
import threading

# Seconds added to each chunk; changed from stdin while running.
delay = {"s": 0.0}


async def pump(reader, writer):
    """Copies reader to writer, each chunk the current delay after it
    arrived."""
    loop = asyncio.get_running_loop()
    chunks = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await chunks.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    delivering = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(65536)
            chunks.put_nowait((loop.time() + delay["s"], data))
            if not data:
                break
        await delivering
    except (ConnectionError, OSError):
        delivering.cancel()
        writer.close()


async def serve(listen_host, listen_port, to_host, to_port):
    async def on_client(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(to_host, to_port)
        except OSError:
            client_writer.close()
            return
        for w in (client_writer, server_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(pump(client_reader, server_writer),
                             pump(server_reader, client_writer),
                             return_exceptions=True)

    server = await asyncio.start_server(on_client, listen_host, listen_port)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    async with server:
        await server.serve_forever()


def read_commands():
    for line in sys.stdin:
        words = line.split()
        if len(words) == 2 and words[0] == "one-way-ms":
            delay["s"] = float(words[1]) / 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--to", required=True)
    ap.add_argument("--one-way-ms", type=float, required=True)
    args = ap.parse_args()
    lhost, lport = args.listen.rsplit(":", 1)
    thost, tport = args.to.rsplit(":", 1)
    delay["s"] = args.one_way_ms / 1000
    threading.Thread(target=read_commands, daemon=True).start()
    try:
        asyncio.run(serve(lhost, int(lport), thost, int(tport)))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
